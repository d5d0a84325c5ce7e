//! Pool mode on the virtual clock: workers started up to `procs_min`, one
//! more when every worker is full, idle ones interrupted back down to
//! `procs_min`, a failing pool throttled.

mod common;

use common::{Act, Sim};
use vigild_engine::machine::{Reason, State};
use vigild_engine::unix::ExitStatus;

const POOL: &str = "[imap]\nexec = /bin/imap\nmode = pool\nlisten = tcp:127.0.0.1:143\n";

fn pool(extra: &str) -> Sim {
    Sim::new(&format!("{POOL}{extra}"))
}

fn sigint(pid: i32) -> Act {
    Act::Kill {
        pid,
        signal: 2,
        group: false,
    }
}

#[test]
fn procs_min_start_at_most_ten_per_turn() {
    let mut t = pool("procs_min = 15\nprocs_max = 20\n");
    assert_eq!(t.spawns("imap").len(), 10);
    assert_eq!(t.state("imap"), State::Up { pid: None });
    assert_eq!(t.advance_to_next_deadline(), 0, "the rest follow at once");
    assert_eq!(t.spawns("imap").len(), 5);
    assert_eq!(t.pool("imap"), (15, 0));
    assert!(t.sv.next_deadline(&t.cfg).is_none(), "nothing more to do");
}

#[test]
fn grows_by_one_when_every_worker_is_full_up_to_procs_max() {
    let mut t = pool("procs_min = 2\nprocs_max = 3\n");
    let w = t.spawns("imap");
    t.available("imap", w[0], 4);
    t.available("imap", w[0], 0);
    assert!(
        t.spawns("imap").is_empty(),
        "one worker has not reported yet"
    );
    t.available("imap", w[1], 4);
    assert_eq!(t.pool("imap"), (2, 4));
    t.available("imap", w[1], 0);
    let third = t.spawns("imap");
    assert_eq!(third.len(), 1, "both full: one more");
    assert_eq!(t.pool("imap"), (3, 0));
    t.available("imap", third[0], 0);
    assert!(t.spawns("imap").is_empty(), "procs_max reached");
}

#[test]
fn idle_workers_beyond_procs_min_get_sigint_after_idle_kill() {
    let mut t = pool("procs_min = 1\nprocs_max = 3\nidle_kill = 10s\n");
    let first = t.spawns("imap")[0];
    t.available("imap", first, 0);
    let second = t.spawns("imap")[0];
    t.available("imap", second, 0);
    let third = t.spawns("imap")[0];
    t.available("imap", third, 2);
    t.take();
    // Every worker is idle from now on.
    t.available("imap", first, 2);
    t.available("imap", second, 2);
    t.available("imap", third, 2);
    let waited = t.advance_to_next_deadline();
    assert!((10_000..=11_000).contains(&waited), "waited {waited} ms");
    let first_kill = t.take();
    assert_eq!(first_kill.len(), 1, "{first_kill:?}");
    let waited = t.advance_to_next_deadline();
    assert!(
        waited <= 1000,
        "the next one goes within the jitter: {waited} ms"
    );
    let second_kill = t.take();
    assert_eq!(second_kill.len(), 1, "{second_kill:?}");
    let killed: Vec<i32> = [&first_kill[0], &second_kill[0]]
        .iter()
        .map(|a| match a {
            Act::Kill { pid, .. } => *pid,
            other => panic!("{other:?}"),
        })
        .collect();
    for &pid in &killed {
        assert!([first, second, third].contains(&pid));
        assert_eq!(
            [&first_kill[0], &second_kill[0]]
                .iter()
                .filter(|a| ***a == sigint(pid))
                .count(),
            1
        );
        t.exit(pid, ExitStatus::Signal(2));
    }
    assert_eq!(t.pool("imap").0, 1);
    assert!(
        t.spawns("imap").is_empty(),
        "an asked-for exit is no failure"
    );
    assert!(
        t.sv.next_deadline(&t.cfg).is_none(),
        "procs_min = 1 stays: {:?}",
        t.sv.next_deadline(&t.cfg)
    );
    assert_eq!(t.state("imap"), State::Up { pid: None });
}

#[test]
fn a_busy_worker_is_not_idle() {
    let mut t = pool("procs_min = 1\nprocs_max = 2\nidle_kill = 1s\n");
    let first = t.spawns("imap")[0];
    t.available("imap", first, 2);
    t.available("imap", first, 0);
    let second = t.spawns("imap")[0];
    t.available("imap", second, 3);
    // One of its two slots is taken: busy, though it has room.
    t.available("imap", first, 1);
    t.advance(5000);
    let acts = t.take();
    assert_eq!(
        acts,
        [sigint(second)],
        "only the worker with every slot free"
    );
}

#[test]
fn failures_at_start_up_throttle_with_doubling_delays() {
    let mut t = pool("procs_min = 1\nbackoff = 100ms 300ms\n");
    let mut delays = vec![];
    for _ in 0..4 {
        let pid = t.spawns("imap")[0];
        t.exit(pid, ExitStatus::Code(1));
        assert!(matches!(t.state("imap"), State::Backoff { .. }));
        assert_eq!(t.slot("imap").reason, Reason::Throttled);
        delays.push(t.advance_to_next_deadline());
    }
    assert_eq!(delays, [100, 200, 300, 300]);
    // A worker that got going and then exits cleanly lifts the throttle.
    let pid = t.spawns("imap")[0];
    t.available("imap", pid, 1);
    t.exit(pid, ExitStatus::Code(0));
    assert_eq!(t.state("imap"), State::Up { pid: None });
    let pid = t.spawns("imap")[0];
    t.exit(pid, ExitStatus::Code(1));
    assert_eq!(t.advance_to_next_deadline(), 100, "the delay starts over");
}

#[test]
fn more_than_ten_failed_exits_in_a_second_throttle_too() {
    let mut t = pool("procs_min = 12\nprocs_max = 12\n");
    t.advance_to_next_deadline();
    let pids = {
        let mut all = t.world.live.keys().copied().collect::<Vec<_>>();
        all.sort();
        all
    };
    assert_eq!(pids.len(), 12);
    for &pid in &pids {
        t.available("imap", pid, 1);
    }
    t.take();
    for (i, &pid) in pids.iter().enumerate() {
        t.exit(pid, ExitStatus::Code(3));
        let throttled = matches!(t.state("imap"), State::Backoff { .. });
        assert_eq!(throttled, i >= 10, "after {} failures", i + 1);
    }
}

#[test]
fn stop_signals_every_worker_and_is_down_after_the_last() {
    let mut t = pool("procs_min = 3\n");
    let pids = t.spawns("imap");
    t.stop("imap");
    let acts = t.take();
    for &pid in &pids {
        assert!(
            acts.contains(&Act::Kill {
                pid,
                signal: 15,
                group: true
            }),
            "{acts:?}"
        );
    }
    for &pid in &pids {
        assert!(matches!(t.state("imap"), State::Stopping { .. }));
        t.exit(pid, ExitStatus::Signal(15));
    }
    assert_eq!(t.state("imap"), State::Down);
    assert!(t.spawns("imap").is_empty());
}

#[test]
fn a_worker_that_ignores_its_sigint_is_killed_after_stop_timeout() {
    let mut t = pool("procs_min = 1\nprocs_max = 2\nidle_kill = 1s\nstop_timeout = 3s\n");
    let first = t.spawns("imap")[0];
    t.available("imap", first, 0);
    let second = t.spawns("imap")[0];
    t.available("imap", first, 1);
    t.available("imap", second, 1);
    t.take();
    t.advance_to_next_deadline();
    let interrupted = match t.take()[..] {
        [
            Act::Kill {
                pid,
                signal: 2,
                group: false,
            },
        ] => pid,
        ref other => panic!("{other:?}"),
    };
    assert_eq!(t.advance_to_next_deadline(), 3000);
    assert_eq!(
        t.take(),
        [Act::Kill {
            pid: interrupted,
            signal: 9,
            group: true
        }]
    );
    t.exit(interrupted, ExitStatus::Signal(9));
    assert_eq!(t.pool("imap").0, 1);
    assert_eq!(t.state("imap"), State::Up { pid: None });
}

#[test]
fn a_pool_that_cannot_spawn_fails_its_start_like_any_service() {
    let mut t = Sim::new(&format!("{POOL}autostart = no\nbackoff = 100ms 1s\n"));
    t.world.failing.insert("imap".into(), 2);
    t.start("imap");
    assert!(
        matches!(t.state("imap"), State::Backoff { .. }),
        "{:?}",
        t.state("imap")
    );
    assert_eq!(t.slot("imap").reason, Reason::SpawnFailed(2));
}

#[test]
fn a_throttled_pool_resumes_and_never_goes_down_with_workers_running() {
    let mut t = Sim::new(&format!(
        "[db]\nexec = /bin/db\nbackoff = 5s 5s\n{POOL}procs_min = 2\nafter = db\nbackoff = 100ms 1s\n"
    ));
    let db = t.pid("db");
    let w = t.spawns("imap");
    assert_eq!(w.len(), 2);
    t.available("imap", w[0], 1);
    // One worker fails before it reported: throttled, the other runs on.
    t.exit(w[1], ExitStatus::Code(1));
    assert!(matches!(t.state("imap"), State::Backoff { .. }));
    // Its dependency restarts meanwhile: the running pool is left alone
    // and resumes when the throttle ends.
    t.exit(db, ExitStatus::Code(1));
    t.advance_to_next_deadline();
    assert_eq!(t.state("imap"), State::Up { pid: None });
    assert_eq!(t.pool("imap").0, 2, "refilled to procs_min");
    // A start request while throttled resumes it at once, without `down`.
    let w2 = t.spawns("imap");
    t.exit(w2[0], ExitStatus::Code(1));
    assert!(matches!(t.state("imap"), State::Backoff { .. }));
    t.take();
    t.start("imap");
    assert_eq!(t.state("imap"), State::Up { pid: None });
    assert!(
        !t.take()
            .iter()
            .any(|a| matches!(a, Act::Changed(_, _, "down")))
    );
}

/// Workers that exit 0 at once, before they ever reported, are counted
/// like an activate service's activations: past 20 within 2 s the pool is
/// throttled (`trigger-limit`), its delay doubling (part 7's trial: 700 to
/// 1,200 forks a second). A reported worker's clean exit is normal life.
#[test]
fn workers_that_exit_0_at_once_are_throttled() {
    let mut t = pool("procs_min = 2\nprocs_max = 4\nbackoff = 100ms 1s\n");
    let (mut spawned, mut throttled) = (0, 0);
    for _ in 0..100 {
        let acts = t.take();
        throttled += acts
            .iter()
            .filter(|a| matches!(a, Act::Changed(_, "up", "backoff")))
            .count();
        for a in acts {
            if let Act::Spawn(_, pid) = a {
                spawned += 1;
                t.exit(pid, ExitStatus::Code(0));
            }
        }
        if t.slot("imap").reason == Reason::TriggerLimit {
            assert!(matches!(t.state("imap"), State::Backoff { .. }));
        }
        t.advance(10);
    }
    // Without the limit: two a turn, 200 in 1 s.
    assert!(spawned <= 50, "{spawned} workers in 1 s");
    assert!(throttled >= 1, "never throttled");
    // A worker that reported and exits 0 later is not counted.
    let mut t = pool("procs_min = 1\nprocs_max = 1\n");
    for _ in 0..40 {
        let pid = t.spawns("imap")[0];
        t.available("imap", pid, 1);
        t.exit(pid, ExitStatus::Code(0));
    }
    assert_eq!(t.state("imap"), State::Up { pid: None });
}

//! Engine timelines on a virtual clock, grouped by the state they start in.

mod common;

use common::{Act, Sim};
use vigild_engine::machine::{Answer, Command, Reason, State, StopCause};
use vigild_engine::time::Instant;
use vigild_engine::unix::{ExitStatus, Pid};

const CODE1: ExitStatus = ExitStatus::Code(1);
const CODE0: ExitStatus = ExitStatus::Code(0);
const KILLED: ExitStatus = ExitStatus::Signal(9);

/// A signal sent to a service's process group.
fn group_kill(pid: i32, signal: u8) -> Act {
    Act::Kill {
        pid,
        signal,
        group: true,
    }
}

fn changed(name: &str, from: &'static str, to: &'static str) -> Act {
    Act::Changed(name.into(), from, to)
}

// ---- down ---------------------------------------------------------------

#[test]
fn down_boot_starts_autostart_daemon_and_it_is_up_at_once() {
    let mut t = Sim::new("[web]\nexec = /bin/web\n");
    let pid = t.world.live.keys().copied().next().unwrap();
    assert_eq!(
        t.take(),
        [
            Act::Spawn("web".into(), pid),
            changed("web", "down", "starting"),
            changed("web", "starting", "up")
        ]
    );
    assert_eq!(
        t.state("web"),
        State::Up {
            pid: Some(Pid(pid))
        }
    );
    assert_eq!(
        t.sv.next_deadline(&t.cfg),
        None,
        "an up daemon needs no timer"
    );
}

#[test]
fn down_autostart_no_stays_down_until_started() {
    let mut t = Sim::new("[web]\nexec = /bin/web\nautostart = no\n");
    assert!(t.take().is_empty());
    assert_eq!(t.start("web"), Answer::Starting);
    t.spawned("web");
    assert!(matches!(t.state("web"), State::Up { .. }));
    assert_eq!(t.start("web"), Answer::StartedAlready);
}

#[test]
fn down_start_pulls_up_what_it_waits_for_first() {
    let mut t = Sim::new(
        "[db]\nexec = /bin/db\nautostart = no\n[web]\nexec = /bin/web\nautostart = no\nafter = db\n",
    );
    t.start("web");
    let spawns: Vec<_> = t
        .take()
        .into_iter()
        .filter(|a| matches!(a, Act::Spawn(..)))
        .collect();
    assert_eq!(
        spawns,
        [Act::Spawn("db".into(), 101), Act::Spawn("web".into(), 102)]
    );
}

#[test]
fn down_stop_is_stopped_already() {
    let mut t = Sim::new("[web]\nexec = /bin/web\nautostart = no\n");
    assert_eq!(t.stop("web"), Answer::StoppedAlready);
}

#[test]
fn down_dependent_waits_for_oneshot_success() {
    let mut t = Sim::new(
        "[setup]\nmode = oneshot\nexec = /bin/setup\n[web]\nexec = /bin/web\nafter = setup\n",
    );
    let setup = t.spawned("setup");
    assert_eq!(t.state("web"), State::Down, "web waits while setup runs");
    t.exit(setup, CODE0);
    assert_eq!(t.state("setup"), State::Up { pid: None });
    t.spawned("web");
}

#[test]
fn down_dependent_of_failed_oneshot_fails_too() {
    let mut t = Sim::new(
        "[setup]\nmode = oneshot\nexec = /bin/setup\n[web]\nexec = /bin/web\nafter = setup\n",
    );
    let setup = t.spawned("setup");
    t.exit(setup, CODE1);
    assert_eq!(t.state("setup"), State::Down);
    assert_eq!(t.state("web"), State::Down);
    assert_eq!(t.slot("web").reason, Reason::Dependency);
    assert!(!t.slot("web").wanted_up());
}

// ---- starting -----------------------------------------------------------

#[test]
fn starting_oneshot_exit_0_is_up_without_pid() {
    let mut t = Sim::new("[setup]\nmode = oneshot\nexec = /bin/setup\n");
    let pid = t.spawned("setup");
    assert!(matches!(t.state("setup"), State::Starting { .. }));
    t.exit(pid, CODE0);
    assert_eq!(t.state("setup"), State::Up { pid: None });
    assert_eq!(t.slot("setup").last(), Some(CODE0));
}

#[test]
fn starting_oneshot_failure_is_down_with_no_restart_by_default() {
    let mut t = Sim::new("[setup]\nmode = oneshot\nexec = /bin/setup\n");
    let pid = t.spawned("setup");
    t.exit(pid, CODE1);
    assert_eq!(t.state("setup"), State::Down);
    assert_eq!(t.sv.next_deadline(&t.cfg), None);
}

#[test]
fn starting_oneshot_on_failure_retries_with_backoff() {
    let mut t = Sim::new(
        "[setup]\nmode = oneshot\nexec = /bin/setup\nrestart = on-failure\nbackoff = 1s 5s\n",
    );
    let pid = t.spawned("setup");
    t.exit(pid, CODE1);
    assert!(matches!(t.state("setup"), State::Backoff { .. }));
    assert_eq!(t.advance_to_next_deadline(), 1000);
    let pid = t.spawned("setup");
    t.exit(pid, CODE0);
    assert_eq!(t.state("setup"), State::Up { pid: None });
}

#[test]
fn starting_timeout_stops_with_escalation_and_counts_a_failure() {
    let mut t = Sim::new(
        "[slow]\nmode = oneshot\nexec = /bin/slow\nstart_timeout = 2s\nstop_timeout = 1s\nrestart = on-failure\n",
    );
    let pid = t.spawned("slow");
    assert_eq!(t.advance_to_next_deadline(), 2000);
    assert_eq!(t.take()[0], group_kill(pid, 15));
    assert_eq!(t.slot("slow").reason, Reason::StartTimeout);
    assert_eq!(t.advance_to_next_deadline(), 1000);
    assert_eq!(t.take(), [group_kill(pid, 9)]);
    t.exit(pid, KILLED);
    assert!(
        matches!(t.state("slow"), State::Backoff { .. }),
        "a start timeout is a failure"
    );
    assert_eq!(t.slot("slow").reason, Reason::StartTimeout);
}

#[test]
fn starting_with_readiness_waits_for_ready_then_is_up() {
    let mut t =
        Sim::new("[db]\nexec = /bin/db\nready = notify\n[web]\nexec = /bin/web\nafter = db\n");
    let pid = t.spawned("db");
    assert!(matches!(t.state("db"), State::Starting { .. }));
    t.advance(500);
    assert!(t.take().is_empty(), "web waits for db to be really ready");
    assert!(
        !t.ready("db", pid + 1),
        "READY=1 from another pid changes nothing"
    );
    assert!(t.ready("db", pid));
    assert_eq!(
        t.state("db"),
        State::Up {
            pid: Some(Pid(pid))
        }
    );
    t.spawned("web");
    assert!(!t.ready("db", pid), "a second READY=1 changes nothing");
}

#[test]
fn starting_exit_0_before_ready_is_a_failure() {
    let mut t = Sim::new("[db]\nexec = /bin/db\nready = fd:5\nrestart = on-failure\n");
    let pid = t.spawned("db");
    t.exit(pid, CODE0);
    assert!(matches!(t.state("db"), State::Backoff { .. }));
}

#[test]
fn starting_without_ready_hits_start_timeout_and_backs_off() {
    let mut t = Sim::new("[db]\nexec = /bin/db\nready = notify\nstart_timeout = 3s\n");
    let pid = t.spawned("db");
    assert_eq!(t.advance_to_next_deadline(), 3000);
    assert_eq!(t.take()[0], group_kill(pid, 15));
    assert_eq!(t.slot("db").reason, Reason::StartTimeout);
    t.exit(pid, ExitStatus::Signal(15));
    assert!(matches!(t.state("db"), State::Backoff { .. }));
    assert_eq!(t.slot("db").reason, Reason::StartTimeout);
    t.advance_to_next_deadline();
    let again = t.spawned("db");
    assert!(t.ready("db", again));
    assert_eq!(t.slot("db").reason, Reason::None);
}

#[test]
fn up_stopping_itself_is_stopping_then_restarted_by_policy() {
    let mut t = Sim::new("[db]\nexec = /bin/db\nready = notify\nstop_timeout = 2s\n");
    let pid = t.spawned("db");
    t.ready("db", pid);
    t.take();
    t.stopping_itself("db", pid);
    assert!(matches!(t.state("db"), State::Stopping { .. }));
    assert_eq!(
        t.take(),
        [changed("db", "up", "stopping")],
        "no signal is sent"
    );
    t.exit(pid, CODE0);
    // restart = always: a short run waits out the first backoff delay.
    assert!(
        matches!(t.state("db"), State::Backoff { .. }),
        "{:?}",
        t.state("db")
    );
    assert_eq!(t.advance_to_next_deadline(), 100);
    t.spawned("db");
}

#[test]
fn starting_stopping_notice_before_ready_is_ignored_and_its_exit_fails() {
    let mut t = Sim::new("[db]\nexec = /bin/db\nready = notify\nrestart = on-failure\n");
    let pid = t.spawned("db");
    t.stopping_itself("db", pid);
    assert!(matches!(t.state("db"), State::Starting { .. }));
    t.exit(pid, CODE0);
    assert!(
        matches!(t.state("db"), State::Backoff { .. }),
        "exit before ready is a failure: {:?}",
        t.state("db")
    );
}

#[test]
fn up_stopping_itself_that_hangs_is_killed_after_stop_timeout() {
    let mut t =
        Sim::new("[db]\nexec = /bin/db\nready = notify\nstop_timeout = 2s\nrestart = on-failure\n");
    let pid = t.spawned("db");
    t.ready("db", pid);
    t.stopping_itself("db", pid);
    t.take();
    assert_eq!(t.advance_to_next_deadline(), 2000);
    assert_eq!(t.take(), [group_kill(pid, 9)]);
    t.exit(pid, KILLED);
    assert!(
        matches!(t.state("db"), State::Backoff { .. }),
        "killed is a failure"
    );
}

#[test]
fn up_stopping_itself_then_asked_to_stop_gets_its_stop_signal() {
    let mut t = Sim::new("[db]\nexec = /bin/db\nready = notify\nstop_timeout = 0\n");
    let pid = t.spawned("db");
    t.ready("db", pid);
    t.stopping_itself("db", pid);
    t.take();
    assert!(
        t.sv.next_deadline(&t.cfg).is_none(),
        "stop_timeout = 0: no deadline"
    );
    assert_eq!(t.stop("db"), Answer::Stopping);
    assert_eq!(t.take()[..2], [group_kill(pid, 15), group_kill(pid, 9)]);
    t.exit(pid, KILLED);
    assert_eq!(t.state("db"), State::Down);
}

// ---- up -----------------------------------------------------------------

#[test]
fn up_crash_backs_off_with_doubling_delays_up_to_the_cap() {
    let mut t = Sim::new("[web]\nexec = /bin/web\nbackoff = 100ms 1s\n");
    let mut delays = vec![];
    for _ in 0..6 {
        let pid = t.spawned("web");
        t.exit(pid, CODE1);
        assert!(matches!(t.state("web"), State::Backoff { .. }));
        let restarts = t.slot("web").restarts;
        delays.push(t.advance_to_next_deadline());
        assert_eq!(
            t.slot("web").restarts,
            restarts + 1,
            "counted when it happens"
        );
    }
    assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
    assert_eq!(t.slot("web").restarts, 6);
}

#[test]
fn up_long_run_resets_backoff_and_restarts_at_once() {
    let mut t = Sim::new("[web]\nexec = /bin/web\nbackoff = 100ms 1s\nbackoff_reset = 10s\n");
    for _ in 0..3 {
        let pid = t.spawned("web");
        t.exit(pid, CODE1);
        t.advance_to_next_deadline();
    }
    let pid = t.spawned("web");
    t.advance(10_000);
    t.exit(pid, KILLED);
    assert!(
        matches!(t.state("web"), State::Up { .. }),
        "restarted in the same turn"
    );
    let pid = t.spawned("web");
    t.exit(pid, CODE1);
    assert_eq!(t.advance_to_next_deadline(), 100, "the delay starts over");
}

#[test]
fn up_restart_max_gives_up_loudly_within_the_window() {
    let mut t = Sim::new(
        "[web]\nexec = /bin/web\nbackoff = 100ms 100ms\nrestart_max = 3\nrestart_window = 60s\n",
    );
    for _ in 0..2 {
        let pid = t.spawned("web");
        t.exit(pid, CODE1);
        t.advance_to_next_deadline();
    }
    let pid = t.spawned("web");
    t.exit(pid, CODE1);
    assert_eq!(t.state("web"), State::Down);
    assert_eq!(t.slot("web").reason, Reason::GaveUp);
    assert_eq!(t.sv.next_deadline(&t.cfg), None, "no more restarts");
    assert_eq!(t.start("web"), Answer::Starting, "a person may try again");
    t.spawned("web");
}

#[test]
fn up_failures_outside_the_window_do_not_add_up() {
    let mut t = Sim::new(
        "[web]\nexec = /bin/web\nbackoff = 100ms 100ms\nrestart_max = 2\nrestart_window = 1s\n",
    );
    for _ in 0..5 {
        let pid = t.spawned("web");
        t.advance(1500);
        t.exit(pid, CODE1);
        assert!(matches!(t.state("web"), State::Backoff { .. }));
        t.advance_to_next_deadline();
    }
}

#[test]
fn up_restart_on_failure_leaves_a_clean_exit_down() {
    let mut t = Sim::new("[web]\nexec = /bin/web\nrestart = on-failure\n");
    let pid = t.spawned("web");
    t.exit(pid, CODE0);
    assert_eq!(t.state("web"), State::Down);
}

#[test]
fn up_restart_no_stays_down_after_a_crash() {
    let mut t = Sim::new("[web]\nexec = /bin/web\nrestart = no\n");
    let pid = t.spawned("web");
    t.exit(pid, KILLED);
    assert_eq!(t.state("web"), State::Down);
    assert_eq!(t.slot("web").last(), Some(KILLED));
}

#[test]
fn up_stop_sends_stop_signal_to_the_group_then_kill() {
    let mut t = Sim::new("[web]\nexec = /bin/web\nstop_signal = INT\nstop_timeout = 3s\n");
    let pid = t.spawned("web");
    assert_eq!(t.stop("web"), Answer::Stopping);
    assert_eq!(t.take()[0], group_kill(pid, 2));
    assert_eq!(t.advance_to_next_deadline(), 3000);
    assert_eq!(t.take(), [group_kill(pid, 9)]);
    // Again every second while it is not gone (part 7's review: a process
    // listed only after the KILL round kept a stop waiting forever).
    assert_eq!(t.advance_to_next_deadline(), 1000);
    assert_eq!(t.take(), [group_kill(pid, 9)]);
    t.exit(pid, KILLED);
    assert_eq!(t.state("web"), State::Down);
    assert_eq!(t.sv.next_deadline(&t.cfg), None);
}

/// A process that KILL does not end at once (listed too late, or out of
/// reach for a while): KILL goes again every second until nothing of the
/// service is left, then it is down.
#[test]
fn kill_goes_again_while_leftovers_remain() {
    let mut t = Sim::new("[web]\nexec = /bin/web\nstop_timeout = 2s\n");
    let pid = t.spawned("web");
    t.world.remnants.insert("web".into());
    t.world.unkillable.insert("web".into());
    assert_eq!(t.stop("web"), Answer::Stopping);
    t.exit(pid, ExitStatus::Signal(15));
    t.take();
    for _ in 0..3 {
        t.advance_to_next_deadline();
        assert_eq!(t.take(), [group_kill(pid, 9)]);
        assert!(matches!(t.state("web"), State::Stopping { pid: None, .. }));
    }
    t.world.unkillable.clear();
    assert_eq!(t.advance_to_next_deadline(), 1000);
    assert_eq!(t.take()[0], group_kill(pid, 9));
    t.tick();
    assert_eq!(t.state("web"), State::Down);
}

/// `stop` while a start timeout's KILL is under way: the end is the stop's,
/// not one more failed run (it could have made the service give up).
#[test]
fn a_stop_during_a_start_timeout_is_not_a_failure() {
    let mut t = Sim::new(
        "[web]\nexec = /bin/web\nready = notify\nstart_timeout = 1s\nstop_timeout = 5s\nrestart_max = 1\n",
    );
    let pid = t.spawned("web");
    t.advance_to_next_deadline();
    assert!(matches!(t.state("web"), State::Stopping { .. }));
    assert_eq!(t.stop("web"), Answer::StoppingAlready);
    t.exit(pid, ExitStatus::Signal(15));
    assert_eq!(t.state("web"), State::Down);
    assert_ne!(t.slot("web").reason, Reason::GaveUp);
    assert!(!t.slot("web").wanted_up());
}

#[test]
fn up_signal_goes_to_the_process_only() {
    let mut t = Sim::new("[web]\nexec = /bin/web\n");
    let pid = t.spawned("web");
    assert_eq!(
        t.command(Command::Signal(t.id("web"), 1)),
        Answer::Signalled
    );
    assert_eq!(
        t.take(),
        [Act::Kill {
            pid,
            signal: 1,
            group: false
        }]
    );
}

#[test]
fn up_restart_stops_then_starts_without_backoff() {
    let mut t = Sim::new("[web]\nexec = /bin/web\n");
    let pid = t.spawned("web");
    assert_eq!(t.command(Command::Restart(t.id("web"))), Answer::Stopping);
    t.take();
    t.exit(pid, ExitStatus::Signal(15));
    let new = t.spawned("web");
    assert_ne!(new, pid);
    assert_eq!(
        t.slot("web").restarts,
        0,
        "a requested restart is not counted"
    );
}

// ---- stopping -----------------------------------------------------------

/// A restart whose main process exits while others of it live on (they
/// got the stop signal too): it stays `stopping` until they are gone, KILL
/// at `stop_timeout`, and only then starts again, so nothing of it runs
/// beside the next instance (part 7: nginx's old workers kept the port).
#[test]
fn stopping_main_exit_waits_for_what_is_left() {
    let mut t = Sim::new("[web]\nexec = /bin/web\nstop_timeout = 10s\n");
    let pid = t.spawned("web");
    t.command(Command::Restart(t.id("web")));
    assert_eq!(t.take()[0], group_kill(pid, 15));
    t.world.remnants.insert("web".into());
    t.advance(1000);
    t.exit(pid, ExitStatus::Signal(15));
    assert_eq!(
        t.state("web"),
        State::Stopping {
            pid: None,
            kill_at: Some(Instant::from_ms(10_000)),
            cause: StopCause::Asked,
        }
    );
    assert!(
        !t.take().iter().any(|a| matches!(a, Act::Spawn(..))),
        "started beside its leftovers"
    );
    t.advance(5000);
    assert_eq!(t.pid("web"), 0, "waits until they are gone");
    assert_eq!(t.advance_to_next_deadline(), 4000);
    // KILL at stop_timeout ends them (the fake world's KILL always does);
    // their end wakes vigild (SIGCHLD), then the restart.
    assert_eq!(t.take(), [group_kill(pid, 9)]);
    t.tick();
    assert_ne!(t.spawned("web"), pid);
}

/// A main process that dies (crash) with others of it still running: they
/// get the stop signal, KILL after `stop_timeout`, and the restart policy
/// judges the run only once they are gone.
#[test]
fn up_main_crash_stops_what_it_left_before_the_restart() {
    let mut t = Sim::new("[web]\nexec = /bin/web\nstop_timeout = 2s\nbackoff = 100ms 1s\n");
    let pid = t.spawned("web");
    t.world.remnants.insert("web".into());
    t.exit(pid, ExitStatus::Signal(9));
    let acts = t.take();
    assert_eq!(acts[0], group_kill(pid, 15), "{acts:?}");
    assert!(matches!(t.state("web"), State::Stopping { pid: None, .. }));
    t.advance_to_next_deadline();
    assert_eq!(t.take(), [group_kill(pid, 9)]);
    t.world.remnants.clear();
    t.tick();
    assert!(
        matches!(t.state("web"), State::Backoff { .. }),
        "{:?}",
        t.state("web")
    );
    assert_eq!(t.slot("web").last(), Some(ExitStatus::Signal(9)));
    t.advance_to_next_deadline();
    assert_ne!(t.spawned("web"), pid);
}

/// Without leftovers a crash restarts at once, as before: no KILL.
#[test]
fn up_main_crash_without_leftovers_goes_on_at_once() {
    let mut t = Sim::new("[web]\nexec = /bin/web\nbackoff = 100ms 1s\n");
    let pid = t.spawned("web");
    t.exit(pid, ExitStatus::Code(1));
    let acts = t.take();
    assert!(
        !acts.iter().any(|a| matches!(a, Act::Kill { .. })),
        "{acts:?}"
    );
    assert!(matches!(t.state("web"), State::Backoff { .. }));
}

/// A oneshot that succeeded stays up with what it started (a daemon in its
/// cgroup); stopping it stops those, and it is down once they are gone.
#[test]
fn a_finished_oneshots_leftovers_are_stopped_with_it() {
    let mut t = Sim::new("[mounts]\nmode = oneshot\nexec = /bin/mounts\nstop_timeout = 1s\n");
    let pid = t.spawned("mounts");
    t.world.remnants.insert("mounts".into());
    t.exit(pid, ExitStatus::Code(0));
    assert_eq!(t.state("mounts"), State::Up { pid: None });
    t.take();
    assert_eq!(t.stop("mounts"), Answer::Stopping);
    assert!(matches!(
        t.state("mounts"),
        State::Stopping { pid: None, .. }
    ));
    t.world.remnants.clear();
    t.tick();
    assert_eq!(t.state("mounts"), State::Down);
    // Without leftovers, as before: down at once.
    let mut t = Sim::new("[mounts]\nmode = oneshot\nexec = /bin/mounts\n");
    let pid = t.spawned("mounts");
    t.exit(pid, ExitStatus::Code(0));
    assert_eq!(t.stop("mounts"), Answer::Stopped);
}

#[test]
fn stopping_start_request_restarts_after_the_exit() {
    let mut t = Sim::new("[web]\nexec = /bin/web\n");
    let pid = t.spawned("web");
    t.stop("web");
    assert_eq!(t.start("web"), Answer::Starting);
    assert!(matches!(t.state("web"), State::Stopping { .. }));
    t.take();
    t.exit(pid, ExitStatus::Signal(15));
    t.spawned("web");
}

#[test]
fn stopping_second_stop_is_stopping_already() {
    let mut t = Sim::new("[web]\nexec = /bin/web\n");
    t.spawned("web");
    t.stop("web");
    assert_eq!(t.stop("web"), Answer::StoppingAlready);
}

// ---- backoff ------------------------------------------------------------

#[test]
fn backoff_start_request_goes_now() {
    let mut t = Sim::new("[web]\nexec = /bin/web\nbackoff = 10s 10s\n");
    let pid = t.spawned("web");
    t.exit(pid, CODE1);
    assert!(matches!(t.state("web"), State::Backoff { .. }));
    assert_eq!(t.start("web"), Answer::Starting);
    t.spawned("web");
}

#[test]
fn backoff_stop_is_immediately_down() {
    let mut t = Sim::new("[web]\nexec = /bin/web\n");
    let pid = t.spawned("web");
    t.exit(pid, CODE1);
    assert_eq!(t.stop("web"), Answer::Stopped);
    assert_eq!(t.state("web"), State::Down);
    assert_eq!(t.sv.next_deadline(&t.cfg), None);
}

#[test]
fn backoff_spawn_failure_is_backed_off_with_its_errno() {
    let mut t = Sim::new("[web]\nexec = /bin/web\nautostart = no\nbackoff = 50ms 1s\n");
    t.world.failing.insert("web".into(), 2);
    t.start("web");
    assert_eq!(t.slot("web").reason, Reason::SpawnFailed(2));
    assert!(matches!(t.state("web"), State::Backoff { .. }), "not up");
    assert_eq!(t.advance_to_next_deadline(), 50);
    assert_eq!(t.advance_to_next_deadline(), 100);
    t.world.failing.clear();
    t.advance_to_next_deadline();
    assert!(matches!(t.state("web"), State::Up { .. }));
    assert_eq!(t.slot("web").reason, Reason::None);
}

#[test]
fn backoff_expiry_while_dependency_is_down_waits_without_a_deadline() {
    let mut t = Sim::new(
        "[db]\nexec = /bin/db\nbackoff = 5s 5s\n[web]\nexec = /bin/web\nafter = db\nbackoff = 1s 1s\n",
    );
    let (db, web) = (t.pid("db"), t.pid("web"));
    t.exit(web, CODE1);
    t.exit(db, CODE1);
    assert_eq!(t.advance_to_next_deadline(), 1000);
    assert_eq!(
        t.state("web"),
        State::Down,
        "waits for db, without a deadline of its own"
    );
    assert_eq!(
        t.sv.next_deadline(&t.cfg),
        Some(vigild_engine::time::Instant::from_ms(5000)),
        "only db's"
    );
    t.advance_to_next_deadline();
    assert!(matches!(t.state("db"), State::Up { .. }));
    assert!(
        matches!(t.state("web"), State::Up { .. }),
        "starts once db is up"
    );
}

#[test]
fn stopped_dependency_fails_a_waiting_dependent() {
    let mut t = Sim::new(
        "[db]\nexec = /bin/db\nautostart = no\n[web]\nexec = /bin/web\nafter = db\nautostart = no\n",
    );
    t.stop("db");
    t.command(Command::Start(t.id("web")));
    assert!(
        matches!(t.state("web"), State::Up { .. }),
        "start pulls db up again"
    );
    let db = t.pid("db");
    t.stop("db");
    t.exit(db, ExitStatus::Signal(15));
    let web = t.pid("web");
    assert_ne!(web, 0, "a running dependent is left alone (ordering only)");
}

// ---- shutdown -----------------------------------------------------------

#[test]
fn shutdown_stops_dependents_before_their_dependencies() {
    let mut t = Sim::new(
        "[db]\nexec = /bin/db\n[app]\nexec = /bin/app\nafter = db\n[web]\nexec = /bin/web\nafter = app\n",
    );
    let (db, app, web) = (t.pid("db"), t.pid("app"), t.pid("web"));
    t.take();
    t.sv.shutdown(&t.cfg, false);
    t.tick();
    assert_eq!(t.take()[0], group_kill(web, 15));
    assert!(
        matches!(t.state("app"), State::Up { .. }),
        "app waits for web"
    );
    t.exit(web, ExitStatus::Signal(15));
    let acts = t.take();
    assert!(acts.contains(&group_kill(app, 15)), "then app: {acts:?}");
    t.exit(app, ExitStatus::Signal(15));
    t.exit(db, ExitStatus::Signal(15));
    assert!(t.sv.halted(&t.cfg));
    assert_eq!(t.start("db"), Answer::InShutdown);
}

#[test]
fn shutdown_does_not_restart_what_exits() {
    let mut t = Sim::new("[web]\nexec = /bin/web\n[setup]\nmode = oneshot\nexec = /bin/true\n");
    let web = t.pid("web");
    let setup = t.pid("setup");
    t.sv.shutdown(&t.cfg, false);
    t.tick();
    t.exit(web, CODE1);
    t.exit(setup, CODE0);
    assert!(
        t.sv.halted(&t.cfg),
        "{:?} {:?}",
        t.state("web"),
        t.state("setup")
    );
}

#[test]
fn fast_shutdown_terms_everything_at_once_and_kills_after_a_second() {
    let mut t = Sim::new(
        "[db]\nexec = /bin/db\nstop_signal = INT\nstop_timeout = 30s\n[web]\nexec = /bin/web\nafter = db\nstop_timeout = 30s\n",
    );
    let (db, web) = (t.pid("db"), t.pid("web"));
    t.take();
    t.sv.shutdown(&t.cfg, false);
    t.tick();
    assert_eq!(
        t.take()[0],
        group_kill(web, 15),
        "orderly: web first, db waits"
    );
    t.sv.shutdown(&t.cfg, true);
    t.tick();
    assert_eq!(
        t.take()[0],
        group_kill(db, 15),
        "fast: db too, with TERM, at once"
    );
    assert_eq!(
        t.advance_to_next_deadline(),
        1000,
        "web's 30 s were cut to 1 s"
    );
    let kills = t.take();
    assert!(kills.contains(&group_kill(web, 9)) && kills.contains(&group_kill(db, 9)));
    t.exit(web, KILLED);
    t.exit(db, KILLED);
    assert!(t.sv.halted(&t.cfg));
}

// ---- reload -------------------------------------------------------------

#[test]
fn reload_removed_then_added_back_starts_afresh() {
    let mut t = Sim::new("[x]\nexec = /bin/x\n[y]\nexec = /bin/y\n");
    let x = t.pid("x");
    t.reload("[y]\nexec = /bin/y\n");
    t.exit(x, ExitStatus::Signal(15));
    assert_eq!(t.state("x"), State::Down);
    t.reload("[x]\nexec = /bin/x\n[y]\nexec = /bin/y\n");
    assert!(
        matches!(t.state("x"), State::Up { .. }),
        "added back: started"
    );
    assert_eq!(t.slot("x").last(), None, "with a fresh record");
}

#[test]
fn reload_added_back_while_still_stopping_starts_after_the_stop() {
    let mut t = Sim::new("[x]\nexec = /bin/x\nstop_timeout = 30s\n");
    let x = t.pid("x");
    t.reload("");
    assert!(matches!(t.state("x"), State::Stopping { .. }));
    t.reload("[x]\nexec = /bin/x\nstop_timeout = 30s\n");
    t.take();
    t.exit(x, ExitStatus::Signal(15));
    assert!(matches!(t.state("x"), State::Up { .. }));
    assert_ne!(t.pid("x"), x);
}

#[test]
fn reload_restarts_only_changed_sections() {
    let mut t = Sim::new("[a]\nexec = /bin/a\n[b]\nexec = /bin/b\n[c]\nexec = /bin/c\n");
    let (a, b, c) = (t.pid("a"), t.pid("b"), t.pid("c"));
    t.take();
    t.reload("[new]\nexec = /bin/new\n[c]\nexec = /bin/c --changed\n[a]\nexec = /bin/a\n");
    assert_eq!(t.pid("a"), a, "unchanged a keeps its process");
    assert!(
        t.world.acts.contains(&group_kill(c, 15)),
        "changed c is stopped"
    );
    assert!(
        t.world.acts.contains(&group_kill(b, 15)),
        "removed b is stopped"
    );
    assert!(
        matches!(t.state("new"), State::Up { .. }),
        "added new starts"
    );
    t.exit(c, ExitStatus::Signal(15));
    assert!(matches!(t.state("c"), State::Up { .. }), "c runs again");
    assert_ne!(t.pid("c"), c);
    t.exit(b, ExitStatus::Signal(15));
    assert_eq!(t.state("b"), State::Down);
    assert!(t.cfg.spec(t.id("b")).removed);
}

/// `start` while a service stops itself (STOPPING=1) is honoured: it starts
/// again once it has exited, whatever its restart policy (part 7: it was
/// answered `start-failed` with `restart = no`).
#[test]
fn start_while_stopping_itself_starts_it_again() {
    let mut t = Sim::new("[db]\nexec = /bin/db\nrestart = no\n");
    let pid = t.spawned("db");
    t.stopping_itself("db", pid);
    assert_eq!(t.start("db"), Answer::Starting);
    t.exit(pid, ExitStatus::Code(0));
    let new = t.spawned("db");
    assert_ne!(new, pid);
    assert!(matches!(t.state("db"), State::Up { .. }));
}

/// A restart at once (after a long run) waits for what the service needs
/// (`after`) to be up, as every start does (part 7's trial: it did not).
#[test]
fn an_immediate_restart_respects_after() {
    let mut t = Sim::new(
        "[db]\nexec = /bin/db\nbackoff = 5s 5s\n[web]\nexec = /bin/web\nafter = db\nbackoff_reset = 1s\n",
    );
    let (db, web) = (t.pid("db"), t.pid("web"));
    t.advance(2000);
    t.exit(db, ExitStatus::Code(1));
    assert!(matches!(t.state("db"), State::Backoff { .. }));
    t.take();
    t.exit(web, ExitStatus::Code(1));
    assert_eq!(t.pid("web"), 0, "web started while db is down");
    assert_eq!(t.state("web"), State::Down);
    assert_eq!(t.slot("web").restarts, 1, "the restart is counted");
    t.advance_to_next_deadline();
    let acts = t.take();
    let order: Vec<&str> = acts
        .iter()
        .filter_map(|a| match a {
            Act::Spawn(name, _) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(order, ["db", "web"]);
}

/// A service never waits for its logger's backoff: the pipe is held, so it
/// starts and writes while the logger is down (part 7's trial: it waited
/// down, with no reason, up to 30 s). Its restart is counted.
#[test]
fn a_service_does_not_wait_for_its_loggers_backoff() {
    let mut t = Sim::new("[app]\nexec = /bin/app\nlog = /var/log/app\nbackoff = 100ms 100ms\n");
    let app = t.pid("app");
    let logger = t.pid("app/log");
    t.exit(logger, ExitStatus::Code(1));
    assert!(matches!(t.state("app/log"), State::Backoff { .. }));
    t.exit(app, ExitStatus::Code(1));
    // The logger was in backoff when its service's process ended: it
    // starts at once, to read what the service left in the pipe.
    assert_ne!(t.pid("app/log"), 0, "the logger starts to drain the pipe");
    t.world.failing.insert("app/log".into(), 2);
    let logger = t.pid("app/log");
    t.exit(logger, ExitStatus::Code(1));
    t.take();
    t.advance_to_next_deadline();
    let app_spawned = t
        .take()
        .iter()
        .any(|a| matches!(a, Act::Spawn(n, _) if n == "app"));
    assert!(app_spawned, "app waited for its logger");
    assert_eq!(t.slot("app").restarts, 1);
}

/// A removed service's logger that waits out a backoff is started once
/// its service is down, to drain the pipe, however the loop is woken
/// meanwhile (part 7's review: a wake-up after its backoff took it down
/// undrained).
#[test]
fn a_removed_logger_in_backoff_drains_the_pipe() {
    let mut t = Sim::new(
        "[app]\nexec = /bin/app\nlog = /var/log/app\nbackoff = 100ms 100ms\nstop_timeout = 10s\n",
    );
    let app = t.pid("app");
    let logger = t.pid("app/log");
    t.exit(logger, ExitStatus::Code(1));
    assert!(matches!(t.state("app/log"), State::Backoff { .. }));
    t.reload("[other]\nexec = /bin/other\n");
    t.advance(200);
    assert!(
        matches!(t.state("app/log"), State::Backoff { .. }),
        "{:?}",
        t.state("app/log")
    );
    t.take();
    t.exit(app, ExitStatus::Signal(15));
    let acts = t.take();
    assert!(
        acts.iter()
            .any(|a| matches!(a, Act::Spawn(n, _) if n == "app/log")),
        "the removed logger did not drain: {acts:?}"
    );
}

/// A service removed by a reload while what its main process left is
/// being stopped, and added back by the next reload: once the leftovers
/// are gone it starts, as any added service (part 7's review: the old
/// run's clean end was judged, and `restart = on-failure` kept it down).
#[test]
fn a_service_added_back_while_its_leftovers_stop_starts() {
    let conf = "[a]\nexec = /bin/a\nrestart = on-failure\nstop_timeout = 10s\n";
    let mut t = Sim::new(conf);
    let a = t.pid("a");
    t.world.remnants.insert("a".into());
    t.exit(a, CODE0);
    assert!(matches!(t.state("a"), State::Stopping { pid: None, .. }));
    t.reload("[b]\nexec = /bin/b\n");
    t.reload(&format!("{conf}[b]\nexec = /bin/b\n"));
    t.world.remnants.clear();
    t.advance(1);
    assert_ne!(t.pid("a"), 0, "{:?}", t.state("a"));
}

/// At shutdown a logger that waits out a backoff is started once, after
/// its service is down, and stopped: it drains what the service wrote
/// (part 7's trial: 400 to 1,301 lines were lost).
#[test]
fn at_shutdown_a_logger_in_backoff_drains_the_pipe() {
    let mut t = Sim::new("[app]\nexec = /bin/app\nlog = /var/log/app\nbackoff = 5s 5s\n");
    let app = t.pid("app");
    let logger = t.pid("app/log");
    t.exit(logger, ExitStatus::Code(1));
    assert!(matches!(t.state("app/log"), State::Backoff { .. }));
    t.take();
    t.sv.shutdown(&t.cfg, false);
    t.tick();
    assert_eq!(
        t.take(),
        [
            group_kill(app, 15),
            Act::Changed("app".into(), "up", "stopping")
        ]
    );
    t.exit(app, ExitStatus::Signal(15));
    let acts = t.take();
    let drain = acts
        .iter()
        .find_map(|a| match a {
            Act::Spawn(n, pid) if n == "app/log" => Some(*pid),
            _ => None,
        })
        .unwrap_or_else(|| panic!("the logger did not drain: {acts:?}"));
    assert!(acts.contains(&group_kill(drain, 15)), "{acts:?}");
    t.exit(drain, ExitStatus::Code(0));
    assert!(t.sv.halted(&t.cfg));
}

/// The slot table lives in `.bss` and every service's slot is touched each
/// loop turn: a slot that grows costs pages at 100 services (the memory
/// benchmark's budget). A stopping state's cause sits beside its tag.
#[test]
fn a_slot_stays_80_bytes() {
    assert_eq!(std::mem::size_of::<vigild_engine::machine::Slot>(), 80);
}

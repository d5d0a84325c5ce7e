//! Engine timelines of the socket modes (`mode = activate` and `accept` in vigild.conf(5))
//! on the virtual clock: what the driver is told to poll, when services and
//! workers start, and how limits, stops and reloads treat them.

mod common;

use common::{Act, Sim};
use vigild_engine::machine::{Admit, Answer, Command, Reason, State};
use vigild_engine::unix::ExitStatus;

const CODE0: ExitStatus = ExitStatus::Code(0);
const CODE1: ExitStatus = ExitStatus::Code(1);

const ACTIVATE: &str = "[dns]\nexec = /bin/dns\nmode = activate\nlisten = tcp:127.0.0.1:53\n";

fn accept_conf(extra: &str) -> String {
    format!("[ftp]\nexec = /bin/ftp\nmode = accept\nlisten = tcp:127.0.0.1:21\n{extra}")
}

// ---- activate -----------------------------------------------------------

#[test]
fn activate_listens_first_and_starts_on_the_first_connection() {
    let mut t = Sim::new(ACTIVATE);
    assert_eq!(
        t.take(),
        [Act::Changed("dns".into(), "down", "listening")],
        "nothing is spawned before a connection"
    );
    assert!(t.polls("dns"));
    assert_eq!(t.sv.next_deadline(&t.cfg), None, "listening needs no timer");
    t.connect("dns");
    let pid = t.spawned("dns");
    assert!(matches!(t.state("dns"), State::Up { .. }));
    assert!(!t.polls("dns"), "the service has the sockets now");
    // A second wake-up before the service took the connection starts nothing.
    t.connect("dns");
    assert!(t.take().is_empty());
    t.exit(pid, CODE0);
    assert_eq!(t.state("dns"), State::Listening, "exit 0: listening again");
    assert!(t.polls("dns"));
    assert_eq!(t.slot("dns").restarts, 0);
    t.connect("dns");
    t.spawned("dns");
}

#[test]
fn activate_failure_backs_off_then_listens() {
    let mut t = Sim::new(ACTIVATE);
    t.connect("dns");
    let pid = t.spawned("dns");
    t.exit(pid, CODE1);
    assert!(matches!(t.state("dns"), State::Backoff { .. }));
    assert!(
        !t.polls("dns"),
        "connections wait in the backlog during backoff"
    );
    assert_eq!(t.advance_to_next_deadline(), 100);
    assert_eq!(t.state("dns"), State::Listening);
    assert!(t.polls("dns"));
    assert!(
        t.take().iter().all(|a| !matches!(a, Act::Spawn(..))),
        "no spawn without a connection"
    );
}

#[test]
fn activate_that_never_takes_its_connection_is_slowed_down() {
    // A program that exits 0 without accepting leaves the connection
    // pending: without a limit it would be started again and again at once.
    let mut t = Sim::new(ACTIVATE);
    for _ in 0..20 {
        t.connect("dns");
        let pid = t.spawned("dns");
        t.advance(1);
        t.exit(pid, CODE0);
        assert_eq!(t.state("dns"), State::Listening);
    }
    t.connect("dns");
    let pid = t.spawned("dns");
    t.exit(pid, CODE0);
    assert!(matches!(t.state("dns"), State::Backoff { .. }));
    assert_eq!(t.slot("dns").reason, Reason::TriggerLimit);
    assert_eq!(t.advance_to_next_deadline(), 100);
    assert_eq!(t.state("dns"), State::Listening);
    assert_eq!(t.slot("dns").reason, Reason::None);
    // Over two seconds later the count starts again.
    t.advance(2000);
    t.connect("dns");
    let pid = t.spawned("dns");
    t.exit(pid, CODE0);
    assert_eq!(t.state("dns"), State::Listening);
}

#[test]
fn activate_stop_and_start() {
    let mut t = Sim::new(ACTIVATE);
    assert_eq!(t.stop("dns"), Answer::Stopped, "listening, nothing runs");
    assert_eq!(t.state("dns"), State::Down);
    assert!(!t.polls("dns"));
    assert_eq!(t.start("dns"), Answer::Starting);
    assert_eq!(t.state("dns"), State::Listening);
    t.connect("dns");
    let pid = t.spawned("dns");
    assert_eq!(t.stop("dns"), Answer::Stopping);
    t.exit(pid, ExitStatus::Signal(15));
    assert_eq!(t.state("dns"), State::Down);
}

#[test]
fn dependents_of_a_socket_service_start_once_it_listens() {
    let t = Sim::new(&format!("{ACTIVATE}[web]\nexec = /bin/web\nafter = dns\n"));
    assert_eq!(t.state("dns"), State::Listening);
    assert!(matches!(t.state("web"), State::Up { .. }));
    assert!(t.sv.all_autostart_up(&t.cfg));
}

// ---- accept -------------------------------------------------------------

#[test]
fn accept_spawns_a_worker_per_connection_and_counts_them() {
    let mut t = Sim::new(&accept_conf(""));
    assert_eq!(t.state("ftp"), State::Listening);
    let (admit, a) = t.accept("ftp", 1);
    assert_eq!(admit, Admit::Spawn);
    let (_, b) = t.accept("ftp", 2);
    assert_eq!((t.stats("ftp").workers, t.stats("ftp").accepted), (2, 2));
    t.exit(a.unwrap(), CODE0);
    t.exit(b.unwrap(), CODE1);
    let st = t.stats("ftp");
    assert_eq!((st.workers, st.accepted, st.dropped), (0, 2, 0));
    assert_eq!(
        t.state("ftp"),
        State::Listening,
        "workers are counted, not supervised"
    );
    assert_eq!(t.slot("ftp").restarts, 0);
}

#[test]
fn accept_at_max_workers_stops_polling_then_drops_after_drop_timeout() {
    let mut t = Sim::new(&accept_conf("max_workers = 2\ndrop_timeout = 5s\n"));
    let (_, a) = t.accept("ftp", 1);
    t.accept("ftp", 2);
    assert!(!t.polls("ftp"), "at the limit clients wait in the backlog");
    assert_eq!(
        t.advance_to_next_deadline(),
        5000,
        "drop_timeout is a deadline"
    );
    assert!(
        t.polls("ftp"),
        "still full after drop_timeout: accept and close"
    );
    assert_eq!(t.accept("ftp", 3).0, Admit::Full { warn: true });
    assert_eq!(
        t.accept("ftp", 4).0,
        Admit::Full { warn: false },
        "one warning a second"
    );
    t.advance(1000);
    assert_eq!(t.accept("ftp", 5).0, Admit::Full { warn: true });
    assert_eq!(t.stats("ftp").dropped, 3);
    t.exit(a.unwrap(), CODE0);
    assert!(t.polls("ftp"));
    assert_eq!(
        t.accept("ftp", 6).0,
        Admit::Spawn,
        "a free worker slot: served again"
    );
    assert!(!t.polls("ftp"));
    assert_eq!(
        t.sv.next_deadline(&t.cfg).map(|d| d.ms_since(t.now)),
        Some(5000),
        "full again: a new drop_timeout"
    );
}

#[test]
fn accept_max_per_ip() {
    let mut t = Sim::new(&accept_conf("max_per_ip = 1\n"));
    let (_, a) = t.accept("ftp", 1);
    assert_eq!(t.accept("ftp", 1).0, Admit::PerIpLimit);
    assert_eq!(
        t.accept("ftp", 2).0,
        Admit::Spawn,
        "another address is served"
    );
    assert_eq!(t.stats("ftp").dropped, 1);
    t.exit(a.unwrap(), CODE0);
    assert_eq!(t.accept("ftp", 1).0, Admit::Spawn);
}

#[test]
fn accept_out_of_fds_pauses_the_listener_briefly() {
    let mut t = Sim::new(&accept_conf(""));
    let id = t.id("ftp");
    assert!(t.sv.accept_failed(id, t.now), "the first one is logged");
    assert!(!t.polls("ftp"));
    assert_eq!(t.advance_to_next_deadline(), 100);
    assert!(t.polls("ftp"));
    assert!(!t.sv.accept_failed(id, t.now), "not again within a second");
    t.advance(1000);
    assert!(t.sv.accept_failed(id, t.now));
    t.advance(100);
    assert_eq!(t.sv.next_deadline(&t.cfg), None, "no timer left behind");
}

#[test]
fn accept_stop_signals_every_worker_and_waits_for_them() {
    let mut t = Sim::new(&accept_conf("stop_signal = HUP\nstop_timeout = 2s\n"));
    let (_, a) = t.accept("ftp", 1);
    let (_, b) = t.accept("ftp", 2);
    let (a, b) = (a.unwrap(), b.unwrap());
    t.take();
    assert_eq!(t.stop("ftp"), Answer::Stopping);
    assert!(!t.polls("ftp"), "a stopping service accepts nothing");
    let acts = t.take();
    for pid in [a, b] {
        assert!(
            acts.contains(&Act::Kill {
                pid,
                signal: 1,
                group: true
            }),
            "{acts:?}"
        );
    }
    t.exit(a, ExitStatus::Signal(1));
    assert!(matches!(t.state("ftp"), State::Stopping { pid: None, .. }));
    assert_eq!(t.advance_to_next_deadline(), 2000);
    assert!(t.take().contains(&Act::Kill {
        pid: b,
        signal: 9,
        group: true
    }));
    t.exit(b, ExitStatus::Signal(9));
    assert_eq!(t.state("ftp"), State::Down);
    assert_eq!(t.stats("ftp").workers, 0);
}

#[test]
fn accept_stop_without_workers_is_immediate_and_restart_listens_again() {
    let mut t = Sim::new(&accept_conf(""));
    assert_eq!(t.stop("ftp"), Answer::Stopped);
    assert_eq!(t.command(Command::Restart(t.id("ftp"))), Answer::Starting);
    assert_eq!(t.state("ftp"), State::Listening);
    let (_, a) = t.accept("ftp", 1);
    assert_eq!(t.command(Command::Restart(t.id("ftp"))), Answer::Stopping);
    t.exit(a.unwrap(), ExitStatus::Signal(15));
    assert_eq!(
        t.state("ftp"),
        State::Listening,
        "restarted: listening again"
    );
}

#[test]
fn accept_signal_reaches_every_worker() {
    let mut t = Sim::new(&accept_conf(""));
    let id = t.id("ftp");
    assert_eq!(t.command(Command::Signal(id, 10)), Answer::NotRunning);
    let (_, a) = t.accept("ftp", 1);
    t.take();
    assert_eq!(t.command(Command::Signal(id, 10)), Answer::Signalled);
    assert_eq!(
        t.take(),
        [Act::Kill {
            pid: a.unwrap(),
            signal: 10,
            group: false
        }]
    );
}

#[test]
fn shutdown_stops_listening_and_waits_for_workers() {
    let mut t = Sim::new(&accept_conf(""));
    let (_, a) = t.accept("ftp", 1);
    t.sv.shutdown(&t.cfg, false);
    t.tick();
    assert!(!t.polls("ftp"));
    assert!(!t.sv.halted(&t.cfg), "a worker still runs");
    assert_eq!(t.accept("ftp", 2).0, Admit::Stopping);
    t.exit(a.unwrap(), ExitStatus::Signal(15));
    assert!(t.sv.halted(&t.cfg));
}

#[test]
fn reload_keeps_counting_workers_under_new_ids() {
    let mut t = Sim::new(&accept_conf(""));
    let (_, a) = t.accept("ftp", 1);
    // A service added before it moves it to another index.
    t.reload(&format!("[first]\nexec = /bin/first\n{}", accept_conf("")));
    assert_eq!(t.stats("ftp").workers, 1);
    assert_eq!(t.state("ftp"), State::Listening, "unchanged: untouched");
    t.exit(a.unwrap(), CODE0);
    assert_eq!(t.stats("ftp").workers, 0);
    assert_eq!(t.stats("ftp").accepted, 1);
}

#[test]
fn reload_of_a_changed_accept_service_restarts_its_workers() {
    let mut t = Sim::new(&accept_conf(""));
    let (_, a) = t.accept("ftp", 1);
    t.reload(&accept_conf("max_workers = 5\n"));
    assert!(matches!(t.state("ftp"), State::Stopping { pid: None, .. }));
    t.exit(a.unwrap(), ExitStatus::Signal(15));
    assert_eq!(t.state("ftp"), State::Listening);
}

#[test]
fn graceful_shutdown_lets_workers_finish_then_stops_the_rest() {
    let mut t = Sim::new(&format!(
        "[db]\nexec = /bin/db\n{}after = db\n",
        accept_conf("")
    ));
    let db = t.pid("db");
    let (_, a) = t.accept("ftp", 1);
    t.take();
    t.sv.shutdown_gracefully(&t.cfg);
    t.advance(60_000);
    assert!(!t.polls("ftp"), "no new connections");
    assert!(
        t.take().iter().all(|a| !matches!(a, Act::Kill { .. })),
        "nothing is signalled while a worker runs (and db is still needed)"
    );
    t.exit(a.unwrap(), CODE0);
    assert_eq!(t.state("ftp"), State::Down);
    assert!(
        t.take().contains(&Act::Kill {
            pid: db,
            signal: 15,
            group: true
        }),
        "then the rest stops"
    );
    // A TERM during a graceful shutdown makes it an orderly one.
    let mut t = Sim::new(&accept_conf(""));
    let (_, a) = t.accept("ftp", 1);
    t.sv.shutdown_gracefully(&t.cfg);
    t.tick();
    t.take();
    t.sv.shutdown(&t.cfg, false);
    t.tick();
    assert!(t.take().contains(&Act::Kill {
        pid: a.unwrap(),
        signal: 15,
        group: true
    }));
}

#[test]
fn a_removed_accept_service_added_back_starts_with_fresh_counters() {
    let mut t = Sim::new(&accept_conf(""));
    let (_, a) = t.accept("ftp", 1);
    t.reload("[other]\nexec = /bin/other\n");
    assert!(matches!(t.state("ftp"), State::Stopping { pid: None, .. }));
    t.reload(&format!("[other]\nexec = /bin/other\n{}", accept_conf("")));
    let st = t.stats("ftp");
    assert_eq!(
        (st.workers, st.accepted),
        (1, 0),
        "its predecessor's worker still counts"
    );
    t.exit(a.unwrap(), ExitStatus::Signal(15));
    assert_eq!(t.stats("ftp").workers, 0);
    assert_eq!(t.state("ftp"), State::Listening);
}

//! Seeded random operations on random configurations; after every step the
//! invariants must hold. A failure prints its seed (rerun one with
//! `VIGILD_SEED=N cargo test --test random`).

mod common;

use common::{Act, Sim};
use std::collections::HashMap;
use vigild_engine::config::Mode;
use vigild_engine::machine::{Command, State};
use vigild_engine::unix::ExitStatus;

/// PCG32 (as smoltcp's tests use): small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        let old = self.0;
        self.0 = old
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        xorshifted.rotate_right((old >> 59) as u32)
    }

    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u32) as usize]
    }
}

fn random_config(rng: &mut Rng) -> String {
    let count = 2 + rng.below(6);
    let mut text = String::new();
    // Services that may read another's output (not accept services).
    let mut readers = Vec::new();
    for i in 0..count {
        text += &format!("[s{i}]\nexec = /bin/s{i}\n");
        let kind = rng.below(7);
        match kind {
            0 => text += "mode = oneshot\n",
            3 => text += "ready = notify\n",
            4 => {
                text += &format!("mode = pool\nlisten = tcp:127.0.0.1:{}\n", 1000 + i);
                let min = 1 + rng.below(3);
                text += &format!("procs_min = {min}\nprocs_max = {}\n", min + rng.below(3));
                text += rng.pick::<&str>(&["", "idle_kill = 500ms\n"]);
            }
            1 => text += &format!("mode = activate\nlisten = tcp:127.0.0.1:{}\n", 1000 + i),
            2 => {
                text += &format!("mode = accept\nlisten = tcp:127.0.0.1:{}\n", 1000 + i);
                text += &format!("max_workers = {}\n", 1 + rng.below(3));
                text += rng.pick::<&str>(&["", "max_per_ip = 1\n"]);
                text += rng.pick::<&str>(&["", "drop_timeout = 100ms\n", "drop_timeout = 1s\n"]);
            }
            _ => {}
        }
        text += rng.pick::<&str>(&[
            "",
            "restart = on-failure\n",
            "restart = no\n",
            "restart = always\n",
        ]);
        text += rng.pick::<&str>(&["", "autostart = no\n"]);
        text += rng.pick::<&str>(&["", "backoff = 1ms 100ms\n", "backoff = 100ms 1s\n"]);
        text += rng.pick::<&str>(&["", "restart_max = 3\nrestart_window = 1s\n"]);
        text += rng.pick::<&str>(&["", "start_timeout = 300ms\n"]);
        text += rng.pick::<&str>(&["", "stop_timeout = 0\n", "stop_timeout = 200ms\n"]);
        if i > 0 && rng.below(2) == 0 {
            text += &format!("after = s{}\n", rng.below(i));
        }
        // Loggers are services of their own (`sN/log`); readers start first.
        text += &match rng.below(5) {
            0 => format!("log = /var/log/s{i}\n"),
            1 => "log = ring:1k\n".to_string(),
            2 if !readers.is_empty() => format!("log = service:s{}\n", rng.pick(&readers)),
            _ => String::new(),
        };
        if kind != 2 {
            readers.push(i);
        }
    }
    text
}

/// Processes that got SIGKILL die for sure; they are tracked here.
fn killed_pids(acts: &[Act], doomed: &mut HashMap<i32, bool>) {
    for act in acts {
        if let Act::Kill {
            pid,
            signal,
            group: true,
        } = act
        {
            doomed.insert(*pid, *signal == 9);
        }
    }
}

#[track_caller]
fn check_invariants(t: &Sim, seed: u64, step: usize) {
    let ctx = || format!("seed {seed}, step {step}");
    let mut owners: HashMap<i32, usize> = HashMap::new();
    for id in t.cfg.ids() {
        if let Some(pid) = t.sv.slot(id).state.pid() {
            *owners.entry(pid.0).or_default() += 1;
            assert!(
                t.world.live.contains_key(&pid.0),
                "{}: state names dead pid {}",
                ctx(),
                pid.0
            );
        }
    }
    assert!(
        owners.values().all(|&n| n == 1),
        "{}: a pid owned twice",
        ctx()
    );
    for id in t.cfg.ids() {
        let spec = t.cfg.spec(id);
        let name = String::from_utf8(t.cfg.name(id).to_vec()).unwrap();
        // Every live process of a service is its main process or a counted
        // worker (also across reloads that changed its mode).
        let live = t.world.live.values().filter(|n| **n == name).count() as u32;
        let known = u32::from(t.sv.slot(id).state.pid().is_some()) + t.sv.accept_stats(id).workers;
        assert_eq!(live, known, "{}: processes of {name}", ctx());
        for (pid, n) in &t.world.live {
            if *n == name {
                owners.entry(*pid).or_insert(1);
            }
        }
        if matches!(spec.mode, Mode::Accept | Mode::Pool) {
            let st = t.sv.accept_stats(id);
            let max = match spec.mode {
                Mode::Pool => spec.procs_max,
                _ => spec.max_workers,
            };
            // (A reload may lower the limit: the old workers are being
            // stopped then.)
            let stopping = matches!(t.sv.slot(id).state, State::Stopping { .. });
            assert!(
                stopping || st.workers <= max,
                "{}: {name} over its limit",
                ctx()
            );
            for (pid, n) in &t.world.live {
                if *n == name {
                    owners.insert(*pid, 1);
                }
            }
        }
        if t.sv.polls(&t.cfg, id) {
            assert_eq!(
                t.sv.slot(id).state,
                State::Listening,
                "{}: {name} polled",
                ctx()
            );
        }
    }
    for pid in t.world.live.keys() {
        assert!(
            owners.contains_key(pid),
            "{}: live pid {pid} forgotten by the engine",
            ctx()
        );
    }
    // "At once" is allowed only for pools still short of procs_min (ten
    // forks a turn): each turn starts more of them, so the loop cannot spin.
    let pool_short = t.cfg.ids().any(|id| {
        let spec = t.cfg.spec(id);
        spec.mode == Mode::Pool
            && t.sv.slot(id).state == (State::Up { pid: None })
            && t.sv.accept_stats(id).workers < spec.procs_min
    });
    if let Some(at) = t.sv.next_deadline(&t.cfg)
        && !pool_short
    {
        assert!(
            at > t.now,
            "{}: deadline {at:?} not after now {:?}; states {:?}",
            ctx(),
            t.now,
            t.cfg
                .ids()
                .map(|id| t.sv.slot(id).state)
                .collect::<Vec<_>>()
        );
    }
    for id in t.cfg.ids() {
        let state = t.sv.slot(id).state;
        let acts_on_down = matches!(state, State::Down | State::Backoff { .. });
        assert!(!acts_on_down || state.pid().is_none(), "{}", ctx());
        // Down means nothing of it runs (no process, no worker).
        let name = String::from_utf8(t.cfg.name(id).to_vec()).unwrap();
        let live = t.world.live.values().filter(|n| **n == name).count();
        assert!(
            state != State::Down || live == 0,
            "{}: {name} is down with {live} processes running",
            ctx()
        );
        // Nor anything it started.
        assert!(
            state != State::Down || !t.world.remnants.contains(&name),
            "{}: {name} is down with processes it started still running",
            ctx()
        );
    }
}

fn run(seed: u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let text = random_config(&mut rng);
    let mut t = Sim::new(&text);
    // Replaying one seed: show its configuration.
    if std::env::var("VIGILD_SEED").is_ok() {
        eprintln!("{text}");
    }
    let mut doomed = HashMap::new();
    // `VIGILD_TRACE=1` with a seed: every step's actions too.
    let trace = std::env::var("VIGILD_TRACE").is_ok();
    for step in 0..300 {
        let acts = t.take();
        if trace {
            eprintln!("{step}: {acts:?} remnants {:?}", t.world.remnants);
        }
        killed_pids(&acts, &mut doomed);
        let n = t.cfg.len() as u32;
        let id = vigild_engine::fixed::ServiceId(rng.below(n) as u16);
        // A reload (14) in one step of about 140.
        let ops = if rng.below(10) == 0 { 15 } else { 14 };
        match rng.below(ops) {
            13 => {
                // Processes of the service besides its main one or its
                // workers appear (a double fork, a oneshot's daemon) or
                // end by themselves.
                let name = String::from_utf8(t.cfg.name(id).to_vec()).unwrap();
                // Only a process that was not sent KILL can start one.
                let alive = t
                    .world
                    .live
                    .iter()
                    .any(|(pid, n)| *n == name && doomed.get(pid) != Some(&true));
                if !t.world.remnants.remove(&name) && alive {
                    t.world.remnants.insert(name);
                }
                t.tick();
            }
            10 | 11 => {
                // A connection, where the driver would be polling.
                let name = String::from_utf8(t.cfg.name(id).to_vec()).unwrap();
                if t.sv.polls(&t.cfg, id) {
                    match t.cfg.spec(id).mode {
                        Mode::Activate => t.connect(&name),
                        Mode::Accept => drop(t.accept(&name, rng.below(3) as u8)),
                        _ => unreachable!("only socket services are polled"),
                    }
                }
            }
            12 => {
                // What a service's processes may say on their notify socket.
                let name = String::from_utf8(t.cfg.name(id).to_vec()).unwrap();
                let mut mine: Vec<i32> = t
                    .world
                    .live
                    .iter()
                    .filter(|(_, n)| **n == name)
                    .map(|(p, _)| *p)
                    .collect();
                mine.sort();
                if !mine.is_empty() {
                    let pid = rng.pick(&mine);
                    match (t.cfg.spec(id).mode, rng.below(4)) {
                        (Mode::Pool, n) => t.available(&name, pid, n),
                        (_, 0) => t.stopping_itself(&name, pid),
                        _ => drop(t.ready(&name, pid)),
                    }
                }
            }
            14 => {
                // A reload with another random configuration: services
                // change, appear and go (removed ones are carried until
                // they are down), and every id may move.
                let text = random_config(&mut rng);
                if std::env::var("VIGILD_SEED").is_ok() {
                    eprintln!("step {step}: reload\n{text}");
                }
                t.reload(&text);
            }
            0 => drop(t.command(Command::Start(id))),
            1 => drop(t.command(Command::Stop(id))),
            2 => drop(t.command(Command::Restart(id))),
            3 => drop(t.command(Command::Signal(id, 1))),
            4 | 5 => {
                let mut live: Vec<i32> = t.world.live.keys().copied().collect();
                live.sort();
                if !live.is_empty() {
                    let pid = rng.pick(&live);
                    let status = rng.pick(&[
                        ExitStatus::Code(0),
                        ExitStatus::Code(1),
                        ExitStatus::Signal(15),
                    ]);
                    t.exit(pid, status);
                }
            }
            6 | 7 => {
                if t.sv.next_deadline(&t.cfg).is_some() {
                    t.advance_to_next_deadline();
                }
            }
            8 => t.advance(u64::from(rng.below(2000))),
            _ => {
                // A KILL always ends the process.
                let mut dead: Vec<i32> = doomed
                    .iter()
                    .filter(|(p, k)| **k && t.world.live.contains_key(p))
                    .map(|(p, _)| *p)
                    .collect();
                // In a fixed order: a seed replays the same run.
                dead.sort();
                for pid in dead {
                    t.exit(pid, ExitStatus::Signal(9));
                }
            }
        }
        check_invariants(&t, seed, step);
    }
    // Shutdown always ends with every service down: processes die on KILL
    // (and on their stop signal half the time), deadlines pass.
    t.sv.shutdown(&t.cfg, false);
    t.tick();
    for round in 0..200 {
        let acts = t.take();
        if trace {
            eprintln!("shutdown {round}: {acts:?} remnants {:?}", t.world.remnants);
        }
        killed_pids(&acts, &mut doomed);
        if t.sv.halted(&t.cfg) {
            return;
        }
        let mut live: Vec<(i32, bool)> = doomed
            .iter()
            .filter(|(p, _)| t.world.live.contains_key(p))
            .map(|(p, k)| (*p, *k))
            .collect();
        live.sort();
        for (pid, killed) in live {
            if killed || rng.below(2) == 0 {
                t.exit(pid, ExitStatus::Signal(if killed { 9 } else { 15 }));
            }
        }
        match t.sv.next_deadline(&t.cfg) {
            Some(_) => drop(t.advance_to_next_deadline()),
            // What a KILL ended (remnants) wakes vigild too (SIGCHLD).
            None => t.tick(),
        }
        check_invariants(&t, seed, 1000 + round);
    }
    let states: Vec<String> = t
        .cfg
        .ids()
        .map(|id| {
            let slot = t.sv.slot(id);
            format!(
                "{} {:?} workers={}",
                String::from_utf8_lossy(t.cfg.name(id)),
                slot.state,
                t.sv.accept_stats(id).workers
            )
        })
        .collect();
    panic!("seed {seed}: shutdown did not end: {states:#?}; config:\n{text}");
}

#[test]
fn random_operations_keep_the_invariants() {
    if let Ok(seed) = std::env::var("VIGILD_SEED") {
        return run(seed.parse().expect("VIGILD_SEED is a number"));
    }
    // `VIGILD_SEEDS=N`: N seeds instead of 1000 (a longer search).
    let seeds = std::env::var("VIGILD_SEEDS").map_or(1000, |n| n.parse().expect("a number"));
    for seed in 0..seeds {
        run(seed);
    }
}

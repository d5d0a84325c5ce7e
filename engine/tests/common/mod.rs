//! `Sim`: the engine on a virtual clock with fake processes, so that tests
//! read like timelines (quinn-proto's `Pair`, smoltcp's `time N` steps).

#![allow(dead_code)] // each test file uses a different part

use std::collections::{HashMap, HashSet};
use vigild_engine::config::{Config, Errors, parse};
use vigild_engine::fixed::ServiceId;
use vigild_engine::machine::{
    AcceptStats, Admit, Answer, Command, Effects, Slot, State, Supervisor,
};
use vigild_engine::time::Instant;
use vigild_engine::unix::{ExitStatus, Pid};

/// What the engine did, as the fake world saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Act {
    Spawn(String, i32),
    SpawnFailed(String, u16),
    Kill { pid: i32, signal: u8, group: bool },
    Changed(String, &'static str, &'static str),
}

/// The fake world: pids from a counter, spawn failures on request.
pub struct World {
    names: Vec<String>,
    pub next_pid: i32,
    pub acts: Vec<Act>,
    /// Services whose next spawns fail with this errno.
    pub failing: HashMap<String, u16>,
    /// Pids spawned and not yet exited, with their service.
    pub live: HashMap<i32, String>,
    /// Services with processes left besides their main process or
    /// workers (a child that left its group, a daemon a oneshot started).
    pub remnants: HashSet<String>,
    /// Services whose leftovers KILL does not end (yet).
    pub unkillable: HashSet<String>,
}

impl World {
    /// Service names by id, after a reload changed the ids.
    pub fn rename(&mut self, cfg: &Config) {
        self.names = cfg
            .ids()
            .map(|id| String::from_utf8(cfg.name(id).to_vec()).unwrap())
            .collect();
    }
}

impl Effects for World {
    fn spawn(&mut self, id: ServiceId) -> Result<Pid, u16> {
        let name = self.names[id.index()].clone();
        if let Some(&errno) = self.failing.get(&name) {
            self.acts.push(Act::SpawnFailed(name, errno));
            return Err(errno);
        }
        self.next_pid += 1;
        self.live.insert(self.next_pid, name.clone());
        self.acts.push(Act::Spawn(name, self.next_pid));
        Ok(Pid(self.next_pid))
    }

    fn kill(&mut self, pid: Pid, signal: u8, group: bool) {
        self.acts.push(Act::Kill {
            pid: pid.0,
            signal,
            group,
        });
    }

    fn kill_all(&mut self, id: ServiceId, groups: &mut dyn Iterator<Item = Pid>, signal: u8) {
        for group in groups {
            self.kill(group, signal, true);
        }
        // KILL ends every process of the service (its cgroup's).
        if signal == 9 && !self.unkillable.contains(&self.names[id.index()]) {
            self.remnants.remove(&self.names[id.index()]);
        }
    }

    fn populated(&mut self, id: ServiceId, _group: Option<Pid>) -> bool {
        self.remnants.contains(&self.names[id.index()])
    }

    fn changed(&mut self, id: ServiceId, from: State, slot: &Slot) {
        self.acts.push(Act::Changed(
            self.names[id.index()].clone(),
            from.name(),
            slot.state.name(),
        ));
    }
}

pub struct Sim {
    pub cfg: Box<Config>,
    pub sv: Box<Supervisor>,
    pub now: Instant,
    pub world: World,
}

/// Parse `text`, panicking with every error if it has any.
pub fn config(text: &str) -> Box<Config> {
    let mut cfg = Box::new(Config::new());
    let mut errors = Errors::new();
    parse(text.as_bytes(), &mut cfg, &mut errors);
    let list: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.line, e.msg))
        .collect();
    assert!(list.is_empty(), "config errors: {list:?}");
    cfg
}

impl Sim {
    /// Boot `text` at time 0 and run the first tick.
    pub fn new(text: &str) -> Sim {
        let cfg = config(text);
        let names = cfg
            .ids()
            .map(|id| String::from_utf8(cfg.name(id).to_vec()).unwrap())
            .collect();
        let mut sim = Sim {
            cfg,
            sv: Box::new(Supervisor::new()),
            now: Instant::from_ms(0),
            world: World {
                names,
                next_pid: 100,
                acts: vec![],
                failing: HashMap::new(),
                live: HashMap::new(),
                remnants: HashSet::new(),
                unkillable: HashSet::new(),
            },
        };
        sim.sv.boot(&sim.cfg, sim.now);
        sim.tick();
        sim
    }

    pub fn id(&self, name: &str) -> ServiceId {
        self.cfg
            .find(name.as_bytes())
            .unwrap_or_else(|| panic!("no service {name}"))
    }

    pub fn tick(&mut self) {
        self.sv.tick(&self.cfg, self.now, &mut self.world);
    }

    pub fn command(&mut self, cmd: Command) -> Answer {
        let answer = self.sv.command(&self.cfg, self.now, cmd, &mut self.world);
        self.tick();
        answer
    }

    pub fn start(&mut self, name: &str) -> Answer {
        self.command(Command::Start(self.id(name)))
    }

    pub fn stop(&mut self, name: &str) -> Answer {
        self.command(Command::Stop(self.id(name)))
    }

    /// Process `pid` ends with `status`; then a tick, as the driver does.
    #[track_caller]
    pub fn exit(&mut self, pid: i32, status: ExitStatus) {
        assert!(
            self.world.live.remove(&pid).is_some(),
            "pid {pid} is not alive"
        );
        let owner = self
            .sv
            .exited(&self.cfg, self.now, Pid(pid), status, &mut self.world);
        assert!(owner.is_some(), "pid {pid} belonged to no service");
        self.tick();
    }

    pub fn advance(&mut self, ms: u64) {
        self.now = self.now.plus_ms(ms);
        self.tick();
    }

    /// Jump to the next deadline (there must be one) and tick.
    #[track_caller]
    pub fn advance_to_next_deadline(&mut self) -> u64 {
        let at = self.sv.next_deadline(&self.cfg).expect("a deadline");
        let waited = at.ms_since(self.now);
        self.now = at;
        self.tick();
        waited
    }

    /// Everything the engine did since the last call.
    pub fn take(&mut self) -> Vec<Act> {
        std::mem::take(&mut self.world.acts)
    }

    /// The last spawn of `name` since the last `take`, which must exist.
    #[track_caller]
    pub fn spawned(&mut self, name: &str) -> i32 {
        let acts = self.take();
        acts.iter()
            .rev()
            .find_map(|a| match a {
                Act::Spawn(n, pid) if n == name => Some(*pid),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name} was not spawned; acts: {acts:?}"))
    }

    pub fn state(&self, name: &str) -> State {
        self.sv.slot(self.id(name)).state
    }

    pub fn slot(&self, name: &str) -> Slot {
        *self.sv.slot(self.id(name))
    }

    pub fn pid(&self, name: &str) -> i32 {
        self.state(name).pid().map_or(0, |p| p.0)
    }
}

impl Sim {
    /// True if the driver would poll `name`'s sockets now.
    pub fn polls(&self, name: &str) -> bool {
        self.sv.polls(&self.cfg, self.id(name))
    }

    /// A connection waits on activate service `name`'s sockets.
    pub fn connect(&mut self, name: &str) {
        let id = self.id(name);
        self.sv.activate(&self.cfg, id, self.now, &mut self.world);
        self.tick();
    }

    /// Accept service `name` got a connection from `peer`: the engine's
    /// answer, and the worker's pid if one was spawned (as the driver does).
    pub fn accept(&mut self, name: &str, peer: u8) -> (Admit, Option<i32>) {
        let id = self.id(name);
        let mut key = [0u8; 16];
        key[15] = peer;
        let admit = self.sv.admit(&self.cfg, id, self.now, &key);
        let mut pid = None;
        if admit == Admit::Spawn {
            self.world.next_pid += 1;
            let p = self.world.next_pid;
            self.world.live.insert(p, name.to_string());
            self.sv
                .worker_spawned(&self.cfg, id, self.now, Pid(p), &key);
            pid = Some(p);
        }
        self.tick();
        (admit, pid)
    }

    /// Reload with `text` the way the driver does (removed services carried
    /// until they stop), then tick.
    pub fn reload(&mut self, text: &str) {
        let mut new = config(text);
        self.sv.carry_removed(&self.cfg, &mut new).unwrap();
        // The engine acts on the new ids from here on (a reload may start
        // a service).
        self.world.rename(&new);
        self.sv.reload(&self.cfg, &new, self.now, &mut self.world);
        self.cfg = new;
        self.tick();
    }

    /// Process `pid` of `name` says READY=1 (as the driver passes it on);
    /// whether that changed the state.
    pub fn ready(&mut self, name: &str, pid: i32) -> bool {
        let id = self.id(name);
        let changed = self
            .sv
            .ready(&self.cfg, id, Pid(pid), self.now, &mut self.world);
        self.tick();
        changed
    }

    /// Worker `pid` of pool `name` says X_AVAILABLE=n.
    pub fn available(&mut self, name: &str, pid: i32, n: u32) {
        let id = self.id(name);
        self.sv
            .available(&self.cfg, id, Pid(pid), n, self.now, &mut self.world);
        self.tick();
    }

    /// Every pid spawned for `name` since the last `take`.
    pub fn spawns(&mut self, name: &str) -> Vec<i32> {
        self.take()
            .iter()
            .filter_map(|a| match a {
                Act::Spawn(n, pid) if n == name => Some(*pid),
                _ => None,
            })
            .collect()
    }

    /// (procs, available) of pool `name`.
    pub fn pool(&self, name: &str) -> (u32, u32) {
        self.sv.pool_counts(self.id(name))
    }

    /// Process `pid` of `name` says STOPPING=1.
    pub fn stopping_itself(&mut self, name: &str, pid: i32) {
        let id = self.id(name);
        self.sv
            .stopping_itself(&self.cfg, id, Pid(pid), self.now, &mut self.world);
        self.tick();
    }

    pub fn stats(&self, name: &str) -> AcceptStats {
        *self.sv.accept_stats(self.id(name))
    }
}

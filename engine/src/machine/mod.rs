//! The supervisor state machine: one `Slot` per service, driven by events
//! (commands, exits, readiness, the passage of time) and acting through
//! `Effects`.
//!
//! No syscalls, no clock, no allocation: time comes in as `now`, processes
//! are started and signalled by the driver's `Effects`, and `next_deadline`
//! tells the driver exactly how long it may sleep.
//!
//! The files, in the order an event travels:
//! - `state.rs`: what a service is (`State`, `StopCause`, `Reason`, `Slot`);
//! - this one: the table (`Supervisor`), what it asks of the world
//!   (`Effects`), and the entry points the driver calls, each of which
//!   becomes an `Input`;
//! - `step.rs`: every (state, input) decision of one service, in one
//!   `match`, and the one door state changes go through (`set_state`);
//! - `order.rs`: what `after =` orders: who may start, who must stop first;
//!   `wanted.rs`: a start wants what the service waits for up too;
//!   `halt.rs`: what a shutdown or removal stops, dependents first;
//! - `reload.rs`: a new configuration taken over by the running table;
//! - `accept.rs`, `pool.rs`, `workers.rs`: the services with many
//!   processes (a worker per connection, a preforked pool);
//! - `verdict.rs`: what a request waiting for a service is told.

mod accept;
mod halt;
mod order;
mod pool;
mod reload;
mod state;
mod step;
mod verdict;
mod wanted;
mod workers;

pub use state::{Reason, Slot, State, StopCause};
pub use step::{Deps, Input};

pub use verdict::{Awaited, Verdict, verdict};
pub use workers::{AcceptStats, Peer};

use crate::config::{Config, Mode};
use crate::fixed::ServiceId;
use crate::limits::MAX_SERVICES;
use crate::time::{Instant, earliest};
use crate::unix::{ExitStatus, Pid};
use workers::Workers;

/// What the engine asks of the world. The driver implements it with real
/// processes; the tests with a recording fake.
pub trait Effects {
    /// Start the service's process; the pid, or the errno of the failed exec.
    fn spawn(&mut self, id: ServiceId) -> Result<Pid, u16>;
    /// Send `signal` to the process `pid`, or to its whole process group.
    fn kill(&mut self, pid: Pid, signal: u8, group: bool);
    /// Send `signal` to every process of `id`: every one in its cgroup,
    /// or, where containment is by process group, every one in the groups
    /// `groups` names (its main process's, or each worker's).
    fn kill_all(&mut self, id: ServiceId, groups: &mut dyn Iterator<Item = Pid>, signal: u8);
    /// True while some process of `id` is left: in its cgroup, or in the
    /// process group `group` (without one, process-group containment
    /// knows of none).
    fn populated(&mut self, id: ServiceId, group: Option<Pid>) -> bool;
    /// The state or reason of `id` changed from `from` to `slot.state`.
    fn changed(&mut self, id: ServiceId, from: State, slot: &Slot);
}

/// A control request about one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Start it (and what it waits for).
    Start(ServiceId),
    /// Stop it.
    Stop(ServiceId),
    /// Stop it if running, then start it.
    Restart(ServiceId),
    /// Send a signal to its process.
    Signal(ServiceId, u8),
}

/// The immediate answer to a `Command` (the control FIFO's result words).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// On the way up; `up` or `start-failed` follows.
    Starting,
    /// Already up or starting.
    StartedAlready,
    /// On the way down; `stopped` follows (for restart: then `up`).
    Stopping,
    /// It was not running and now is down for good.
    Stopped,
    /// Already stopping.
    StoppingAlready,
    /// Already down.
    StoppedAlready,
    /// vigild is shutting down.
    InShutdown,
    /// The signal was sent.
    Signalled,
    /// No process to signal.
    NotRunning,
}

impl Answer {
    /// The result word of the control FIFO.
    pub fn word(self) -> &'static str {
        match self {
            Answer::Starting => "starting",
            Answer::StartedAlready => "started-already",
            Answer::Stopping => "stopping",
            Answer::Stopped => "stopped",
            Answer::StoppingAlready => "stopping-already",
            Answer::StoppedAlready => "stopped-already",
            Answer::InShutdown => "in-shutdown",
            Answer::Signalled => "signalled",
            Answer::NotRunning => "error",
        }
    }
}

/// Whether vigild is shutting down, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Halt {
    /// Not shutting down.
    No = 0,
    /// Every service stops, dependents first, each with its stop signal
    /// and `stop_timeout`.
    Orderly,
    /// TERM to everything at once, KILL one second later (SIGQUIT).
    Fast,
    /// Accept services stop accepting and their workers finish
    /// undisturbed; everything else stops as in an orderly shutdown, once
    /// nothing that runs needs it (SIGUSR2).
    Graceful,
}

/// Every service's runtime state, in a table parallel to the `Config`.
/// In this order (`repr(C)`): the fields written every loop turn sit on the
/// first page of the slots, which is in use anyway, not on a page of their
/// own after the large tables (all of it lives in `.bss`, where only the
/// pages written cost memory).
#[repr(C)]
pub struct Supervisor {
    halt: Halt,
    /// Some accept counter changed since `take_counters_changed`.
    counters_changed: bool,
    /// Pool workers forked in this loop turn (`pool::SPAWNS_PER_TURN`).
    pool_spawns: u32,
    slots: [Slot; MAX_SERVICES],
    /// Accept mode's counters, parallel to `slots`.
    accepts: [AcceptStats; MAX_SERVICES],
    workers: Workers,
}

/// The answer of `admit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Spawn a worker for it.
    Spawn,
    /// `max_workers` running for `drop_timeout` already: close it; `warn`
    /// says to log it (once a second at most).
    Full {
        /// Log a warning now.
        warn: bool,
    },
    /// Its address already has `max_per_ip` workers: close it.
    PerIpLimit,
    /// The service is no longer listening: close it.
    Stopping,
}

/// Activations of an activate service (clean exits) allowed within
/// `TRIGGER_WINDOW_MS` before the next one is delayed (systemd: 20 in 2 s).
const TRIGGER_BURST: u32 = 20;
const TRIGGER_WINDOW_MS: u64 = 2000;

/// How long a fast shutdown waits between TERM and KILL (SIGQUIT).
const FAST_KILL_MS: u64 = 1000;

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    /// An empty table (all zero bytes, so a `static` of it costs no file size).
    pub const fn new() -> Self {
        Supervisor {
            slots: [Slot::EMPTY; MAX_SERVICES],
            accepts: [AcceptStats::EMPTY; MAX_SERVICES],
            workers: Workers::new(),
            halt: Halt::No,
            counters_changed: false,
            pool_spawns: 0,
        }
    }

    /// Take `cfg` as the configuration and want every autostart service (and
    /// what it waits for) up. Nothing starts before the next `tick`.
    pub fn boot(&mut self, cfg: &Config, now: Instant) {
        self.halt = Halt::No;
        for id in cfg.ids() {
            self.slots[id.index()] = Slot {
                since: now,
                ..Slot::EMPTY
            };
            // Only socket services use theirs (the rest stay untouched
            // zero pages).
            if cfg.spec(id).mode.listens() {
                self.accepts[id.index()] = AcceptStats::EMPTY;
            }
        }
        self.want_up_with_deps(cfg, &|id| cfg.spec(id).autostart);
    }

    /// The runtime record of `id`.
    pub fn slot(&self, id: ServiceId) -> &Slot {
        &self.slots[id.index()]
    }

    /// True (once) if some accept counter changed since the last call: the
    /// status file shows them, less urgently than states.
    pub fn take_counters_changed(&mut self) -> bool {
        core::mem::take(&mut self.counters_changed)
    }

    /// The counters of `id` (accept mode; zero for other modes).
    pub fn accept_stats(&self, id: ServiceId) -> &AcceptStats {
        &self.accepts[id.index()]
    }

    /// True once `shutdown` was called.
    pub fn is_halting(&self) -> bool {
        self.halt != Halt::No
    }

    /// True during a graceful shutdown.
    pub fn is_graceful(&self) -> bool {
        self.halt == Halt::Graceful
    }

    /// True when shutting down and every service is down.
    pub fn halted(&self, cfg: &Config) -> bool {
        self.is_halting()
            && cfg
                .ids()
                .all(|id| matches!(self.slots[id.index()].state, State::Down))
    }

    /// True once `id` has ended for good: it ran (or failed to start) and
    /// will not start again by itself (container mode's `main`).
    pub fn has_ended(&self, id: ServiceId) -> bool {
        let slot = &self.slots[id.index()];
        let ran = slot.last().is_some() || matches!(slot.reason, Reason::SpawnFailed(_));
        match slot.state {
            State::Down => ran && !slot.want_up,
            State::Up { pid: None } => true,
            State::Listening
            | State::Starting { .. }
            | State::Up { pid: Some(_) }
            | State::Stopping { .. }
            | State::Backoff { .. } => false,
        }
    }

    /// True once `id` has run, or runs, or listens (daemon mode's verdict:
    /// every autostart service has at least been started).
    pub fn has_started(&self, id: ServiceId) -> bool {
        let slot = &self.slots[id.index()];
        slot.last().is_some()
            || matches!(
                slot.state,
                State::Starting { .. }
                    | State::Up { .. }
                    | State::Listening
                    | State::Stopping { .. }
            )
    }

    /// True when every autostart service is up (vigild's own readiness).
    pub fn all_autostart_up(&self, cfg: &Config) -> bool {
        cfg.ids()
            .filter(|&id| cfg.spec(id).autostart && !cfg.spec(id).removed)
            .all(|id| self.slots[id.index()].state.is_ready())
    }

    /// The next end of `id`'s process is final: it is not started again,
    /// whatever its `restart` (container mode's main service, to which
    /// vigild passed on the INT, TERM or QUIT meant to end the container).
    pub fn let_end(&mut self, id: ServiceId) {
        self.slots[id.index()].want_up = false;
    }

    /// Stop everything, dependents before what they depend on, each with
    /// its stop signal and `stop_timeout`. A `fast` shutdown (SIGQUIT) sends
    /// TERM to every service at once and KILL one second later; it can also
    /// hurry an orderly shutdown already under way.
    pub fn shutdown(&mut self, cfg: &Config, fast: bool) {
        self.halt = match (fast, self.halt) {
            (true, _) | (false, Halt::Fast) => Halt::Fast,
            (false, Halt::No | Halt::Orderly | Halt::Graceful) => Halt::Orderly,
        };
        for id in cfg.ids() {
            self.slots[id.index()].want_up = false;
        }
    }

    /// A graceful shutdown (SIGUSR2): accept services stop accepting at once
    /// but their workers run to their end; everything else stops as in an
    /// orderly shutdown, once nothing that runs needs it. A later `shutdown`
    /// turns it into an orderly (or fast) one.
    pub fn shutdown_gracefully(&mut self, cfg: &Config) {
        if !self.is_halting() {
            self.shutdown(cfg, false);
            self.halt = Halt::Graceful;
        }
    }

    /// The earliest deadline of any service: how long the driver may sleep.
    pub fn next_deadline(&self, cfg: &Config) -> Option<Instant> {
        cfg.ids()
            .filter_map(|id| {
                let slot = &self.slots[id.index()];
                let state = match slot.state {
                    // Nothing happens at its end unless it is to start
                    // again (a throttled pool no longer wanted waits for
                    // its workers to be stopped, not for the clock).
                    State::Backoff { .. } if !slot.want_up || self.is_halting() => None,
                    state => state.deadline(),
                };
                match cfg.spec(id).mode {
                    Mode::Accept => earliest(state, self.accept_deadline(cfg, id)),
                    Mode::Pool => earliest(state, self.pool_deadline(cfg, id)),
                    Mode::Daemon | Mode::Oneshot | Mode::Activate => state,
                }
            })
            .min()
    }

    /// Act on a control request.
    pub fn command(
        &mut self,
        cfg: &Config,
        now: Instant,
        cmd: Command,
        fx: &mut impl Effects,
    ) -> Answer {
        if self.is_halting() {
            return Answer::InShutdown;
        }
        let (id, input) = match cmd {
            Command::Start(id) => (id, Input::Start),
            Command::Stop(id) => (id, Input::Stop),
            Command::Restart(id) => (id, Input::Restart),
            Command::Signal(id, signal) => (id, Input::Signal(signal)),
        };
        self.step(cfg, id, input, now, fx)
            .expect("a command is always answered")
    }

    /// SIGUSR1: restart every service that runs a process and is wanted up
    /// (not one being stopped on request, nor one removed by a reload).
    pub fn restart_running(&mut self, cfg: &Config, now: Instant, fx: &mut impl Effects) {
        for id in cfg.ids() {
            let slot = &self.slots[id.index()];
            let running =
                slot.state.pid().is_some() && !matches!(slot.state, State::Stopping { .. });
            if running && slot.want_up && !cfg.spec(id).removed {
                self.command(cfg, now, Command::Restart(id), fx);
            }
        }
    }

    /// A child process ended. Returns the service it belonged to, or `None`
    /// for a pid that is not a service's (an orphan vigild reaped).
    pub fn exited(
        &mut self,
        cfg: &Config,
        now: Instant,
        pid: Pid,
        status: ExitStatus,
        fx: &mut impl Effects,
    ) -> Option<ServiceId> {
        let main = cfg
            .ids()
            .find(|&id| self.slots[id.index()].state.pid() == Some(pid));
        let id = match main {
            Some(id) => {
                self.step(cfg, id, Input::Exited { pid, status }, now, fx);
                id
            }
            None => {
                let worker = self.workers.remove(pid)?;
                let id = worker.service;
                if cfg.spec(id).mode == Mode::Pool {
                    self.pool_worker_ended(cfg, id, &worker, status, now, fx);
                }
                self.worker_exited(cfg, id);
                self.step(cfg, id, Input::WorkerEnded, now, fx);
                id
            }
        };
        Some(id)
    }

    /// The service's process `pid` said it is ready (`READY=1`, or a
    /// newline on its readiness fd): `starting` becomes `up`. False if
    /// that changed nothing (already up, or a process of an earlier run).
    pub fn ready(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        pid: Pid,
        now: Instant,
        fx: &mut impl Effects,
    ) -> bool {
        let before = self.slots[id.index()].state;
        self.step(cfg, id, Input::Ready { pid }, now, fx);
        self.slots[id.index()].state != before
    }

    /// The service's process `pid` said it is shutting down (`STOPPING=1`):
    /// `stopping`, with KILL after `stop_timeout` (none if 0). No signal is
    /// sent; when it ends, the restart policy decides as for any other end.
    /// Before it was ready this is ignored: its end is a failed start
    /// whatever it says.
    pub fn stopping_itself(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        pid: Pid,
        now: Instant,
        fx: &mut impl Effects,
    ) {
        self.step(cfg, id, Input::StoppingItself { pid }, now, fx);
    }

    /// A connection waits on an activate service's sockets: start it,
    /// handing it the sockets (the driver does, in `Effects::spawn`).
    pub fn activate(&mut self, cfg: &Config, id: ServiceId, now: Instant, fx: &mut impl Effects) {
        self.step(cfg, id, Input::Connection, now, fx);
    }

    /// Handle every deadline that is due, then start and stop whatever the
    /// targets and the dependency order allow. Call once per loop turn.
    pub fn tick(&mut self, cfg: &Config, now: Instant, fx: &mut impl Effects) {
        self.pool_spawns = 0;
        for id in cfg.ids() {
            if cfg.spec(id).mode == Mode::Accept {
                self.accept_timers(cfg, id, now);
            }
            self.step(cfg, id, Input::Tick, now, fx);
        }
        if self.is_halting() || cfg.has_removed() {
            self.stop_in_order(cfg, now, fx);
        }
        self.start_in_order(cfg, now, fx);
        self.pool_tick(cfg, now, fx);
    }

    /// True if `id` has a process (or workers) and was not asked to stop
    /// yet (one stopping by itself was not).
    fn running(&self, id: ServiceId) -> bool {
        let slot = &self.slots[id.index()];
        let asked = match slot.state {
            State::Stopping { cause, .. } => !cause.by_itself(),
            State::Down
            | State::Listening
            | State::Starting { .. }
            | State::Up { .. }
            | State::Backoff { .. } => false,
        };
        !asked && (slot.state.pid().is_some() || self.accepts[id.index()].workers > 0)
    }

    /// `running`, or some process it started is left (a finished oneshot's
    /// daemon, in its cgroup): a stop has something to do.
    fn has_processes(&self, id: ServiceId, fx: &mut impl Effects) -> bool {
        self.running(id) || fx.populated(id, None)
    }

    /// The process group of `id`'s main process, while it is followed
    /// (`Slot::group`).
    fn group(&self, id: ServiceId) -> Option<Pid> {
        Some(Pid(self.slots[id.index()].group)).filter(|g| g.0 != 0)
    }

    /// Signal every process of the service (`Effects::kill_all`): its
    /// cgroup, or its main process's group, or every worker's.
    fn kill_group(&mut self, id: ServiceId, signal: u8, fx: &mut impl Effects) {
        match self.group(id) {
            None => fx.kill_all(id, &mut self.workers.of(id), signal),
            Some(group) => fx.kill_all(id, &mut core::iter::once(group), signal),
        }
    }
}

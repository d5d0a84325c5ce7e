//! The supervisor state machine: one `Slot` per service, driven by events
//! (commands, exits, the passage of time) and acting through `Effects`.
//!
//! No syscalls, no clock, no allocation: time comes in as `now`, processes
//! are started and signalled by the driver's `Effects`, and `next_deadline`
//! tells the driver exactly how long it may sleep.
//!
//! Imports `config`, `event`, `fixed`, `limits`, `time`; never the driver.

mod pool;
mod workers;

pub use workers::{AcceptStats, Peer};

use crate::config::{Config, Log, Mode, Ready, Restart};
use crate::fixed::{Full, ServiceId};
use crate::limits::MAX_SERVICES;
use crate::time::Instant;
use crate::unix::{ErrnoName, ExitStatus, Pid, SIGKILL};
use core::fmt;
use workers::Workers;

/// The six states of SPEC §3. Data that belongs to a state lives in it: a
/// pid exists only where a process does, a deadline only where one runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// Not running (and not wanted, or waiting for its dependencies).
    Down = 0,
    /// Waiting for a connection on its sockets (socket modes).
    Listening,
    /// Spawned, not yet ready; `deadline` is the start timeout.
    Starting {
        /// The service's process.
        pid: Pid,
        /// When `start_timeout` runs out.
        deadline: Option<Instant>,
    },
    /// Ready. A oneshot that exited 0 is up without a process.
    Up {
        /// The service's process, if it still runs.
        pid: Option<Pid>,
    },
    /// Sent its stop signal; `kill_at` is when KILL follows.
    Stopping {
        /// The service's process (None: an accept service's workers).
        pid: Option<Pid>,
        /// When `stop_timeout` runs out (None once KILL was sent).
        kill_at: Option<Instant>,
    },
    /// Waiting to be restarted.
    Backoff {
        /// When the next start is due.
        until: Instant,
    },
}

impl State {
    /// The state's name as the status file and logs show it.
    pub fn name(&self) -> &'static str {
        match self {
            State::Down => "down",
            State::Listening => "listening",
            State::Starting { .. } => "starting",
            State::Up { .. } => "up",
            State::Stopping { .. } => "stopping",
            State::Backoff { .. } => "backoff",
        }
    }

    /// The live process of this state, if any.
    pub fn pid(&self) -> Option<Pid> {
        match *self {
            State::Starting { pid, .. } => Some(pid),
            State::Up { pid } | State::Stopping { pid, .. } => pid,
            State::Down | State::Listening | State::Backoff { .. } => None,
        }
    }

    /// Up, or listening: what a dependent waits for and `start` answers `up` to.
    pub fn is_ready(&self) -> bool {
        matches!(self, State::Up { .. } | State::Listening)
    }

    /// The deadline this state carries, if any.
    fn deadline(&self) -> Option<Instant> {
        match *self {
            State::Starting { deadline, .. } => deadline,
            State::Stopping { kill_at, .. } => kill_at,
            State::Backoff { until } => Some(until),
            State::Down | State::Listening | State::Up { .. } => None,
        }
    }
}

/// Why a service is down or backing off (the status file's `reason=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Reason {
    /// Nothing to say.
    None = 0,
    /// `restart_max` failed runs within `restart_window`.
    GaveUp,
    /// Still starting after `start_timeout`.
    StartTimeout,
    /// The program could not be executed (errno).
    SpawnFailed(u16),
    /// A service it waits for (`after`) failed for good.
    Dependency,
    /// An activate service exited 0 too often in a row (the connection it
    /// was started for stays unaccepted?): it waits before listening again.
    TriggerLimit,
    /// A pool's workers keep failing: no new ones for a while.
    Throttled,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Reason::None => f.write_str("-"),
            Reason::GaveUp => f.write_str("gave-up"),
            Reason::StartTimeout => f.write_str("start-timeout"),
            Reason::SpawnFailed(errno) => write!(f, "spawn-failed:{}", ErrnoName(errno)),
            Reason::Dependency => f.write_str("dependency-failed"),
            Reason::TriggerLimit => f.write_str("trigger-limit"),
            Reason::Throttled => f.write_str("throttled"),
        }
    }
}

/// One service's runtime record.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    /// Current state.
    pub state: State,
    /// When the state was entered.
    pub since: Instant,
    /// Automatic restarts so far.
    pub restarts: u32,
    /// How the last run ended, packed so that "none" is zero bytes and the
    /// table stays in `.bss` (see `last()`).
    last: u16,
    /// Why it is down or backing off.
    pub reason: Reason,
    /// The target, separate from the state (s6's "want up").
    want_up: bool,
    /// While stopping: what happens once nothing of the service is left.
    then: Then,
    /// The process group of its main process (its pid), 0 for none: what
    /// process-group containment signals, kept from the spawn until the
    /// group is seen empty (after that its number may belong to another).
    group: i32,
    /// The next backoff delay.
    delay_ms: u32,
    /// When the current (or last) run began.
    run_start: Instant,
    /// Start of the `restart_window` and failures counted in it.
    window_start: Instant,
    window_failures: u32,
}

impl Slot {
    const EMPTY: Slot = Slot {
        state: State::Down,
        since: Instant::from_ms(0),
        restarts: 0,
        last: 0,
        reason: Reason::None,
        want_up: false,
        then: Then::Stop,
        group: 0,
        delay_ms: 0,
        run_start: Instant::from_ms(0),
        window_start: Instant::from_ms(0),
        window_failures: 0,
    };

    /// How the last run ended, if one did.
    pub fn last(&self) -> Option<ExitStatus> {
        let value = (self.last & 0xff) as u8;
        match self.last >> 8 {
            1 => Some(ExitStatus::Code(value)),
            2 => Some(ExitStatus::Signal(value)),
            _ => None,
        }
    }

    fn set_last(&mut self, status: Option<ExitStatus>) {
        self.last = match status {
            None => 0,
            Some(ExitStatus::Code(code)) => 0x100 | u16::from(code),
            Some(ExitStatus::Signal(sig)) => 0x200 | u16::from(sig),
        };
    }

    /// True if the service should be running (or done, for a oneshot).
    pub fn wanted_up(&self) -> bool {
        self.want_up
    }

    /// True while what its main process left running is being stopped,
    /// the main process having exited 0 by itself: what a daemon that
    /// forks into the background does.
    pub fn stopping_what_a_clean_exit_left(&self) -> bool {
        matches!(self.state, State::Stopping { pid: None, .. }) && self.then == Then::EndedClean
    }
}

/// What a stopping service does once nothing of it is left (SPEC §3:
/// everything a service started ends with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Then {
    /// Stopped on purpose: down, or started again if it is wanted (a
    /// restart, or a start asked for while it stopped).
    Stop = 0,
    /// Stopping by itself (`STOPPING=1`): its exit status is judged by the
    /// restart policy like any end.
    Judge,
    /// Stopping by itself, and a start was asked for meanwhile: it starts
    /// again once it has exited.
    Again,
    /// Stopped for its start timeout: a failed run.
    Fail,
    /// Its main process ended in a successful run while other processes of
    /// it lived on; they are being stopped first.
    EndedClean,
    /// The same after a failed run. (Two words, not one with a flag: a
    /// byte less per slot keeps the slot at 80 bytes.)
    EndedFailed,
}

impl Then {
    /// The main process ended, `clean` or not, leaving others.
    fn ended(clean: bool) -> Then {
        match clean {
            true => Then::EndedClean,
            false => Then::EndedFailed,
        }
    }

    /// Stopping by itself, not asked to (its stop signal is still to come
    /// if a stop is asked for).
    fn by_itself(self) -> bool {
        matches!(self, Then::Judge | Then::Again)
    }
}

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

/// The immediate answer to a `Command` (SPEC §4's result words).
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
    /// The result word of SPEC §4.
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

/// Every service's runtime state, in a table parallel to the `Config`.
/// In this order (`repr(C)`): the fields written every loop turn sit on the
/// first page of the slots, which is in use anyway, not on a page of their
/// own after the large tables (all of it lives in `.bss`, where only the
/// pages written cost memory).
#[repr(C)]
pub struct Supervisor {
    halting: bool,
    /// A fast shutdown: TERM to everything at once, KILL one second later.
    fast: bool,
    /// A graceful shutdown: accept services' workers finish undisturbed.
    graceful: bool,
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

/// How long an accept service's listener rests after accept(2) ran out of
/// fds or memory.
const ACCEPT_PAUSE_MS: u64 = 100;

/// How long a fast shutdown waits between TERM and KILL (SPEC §8, QUIT).
const FAST_KILL_MS: u64 = 1000;
/// How often KILL goes again to a service whose processes outlive it.
const KILL_AGAIN_MS: u64 = 1000;
/// SIGTERM.
const SIGTERM: u8 = 15;

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
            halting: false,
            fast: false,
            graceful: false,
            counters_changed: false,
            pool_spawns: 0,
        }
    }

    /// Take `cfg` as the configuration and want every autostart service (and
    /// what it waits for) up. Nothing starts before the next `tick`.
    pub fn boot(&mut self, cfg: &Config, now: Instant) {
        self.halting = false;
        self.fast = false;
        self.graceful = false;
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
        self.want_up_with_deps(cfg, |id| cfg.spec(id).autostart);
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
        self.halting
    }

    /// True when shutting down and every service is down.
    pub fn halted(&self, cfg: &Config) -> bool {
        self.halting
            && cfg
                .ids()
                .all(|id| self.slots[id.index()].state == State::Down)
    }

    /// True once `id` has ended for good: it ran (or failed to start) and
    /// will not start again by itself (container mode's `main`).
    pub fn has_ended(&self, id: ServiceId) -> bool {
        let slot = &self.slots[id.index()];
        let ran = slot.last().is_some() || matches!(slot.reason, Reason::SpawnFailed(_));
        match slot.state {
            State::Down => ran && !slot.want_up,
            State::Up { pid: None } => true,
            _ => false,
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

    /// Stop everything, dependents before what they depend on, each with
    /// its stop signal and `stop_timeout`. A `fast` shutdown (SIGQUIT) sends
    /// TERM to every service at once and KILL one second later; it can also
    /// hurry an orderly shutdown already under way.
    pub fn shutdown(&mut self, cfg: &Config, fast: bool) {
        self.halting = true;
        self.fast |= fast;
        self.graceful = false;
        for id in cfg.ids() {
            self.slots[id.index()].want_up = false;
        }
    }

    /// A graceful shutdown (SIGUSR2): accept services stop accepting at once
    /// but their workers run to their end; everything else stops as in an
    /// orderly shutdown, once nothing that runs needs it. A later `shutdown`
    /// turns it into an orderly (or fast) one.
    pub fn shutdown_gracefully(&mut self, cfg: &Config) {
        if !self.halting {
            self.shutdown(cfg, false);
            self.graceful = true;
        }
    }

    /// True during a graceful shutdown.
    pub fn is_graceful(&self) -> bool {
        self.halting && self.graceful
    }

    /// The earliest deadline of any service: how long the driver may sleep.
    pub fn next_deadline(&self, cfg: &Config) -> Option<Instant> {
        let accept = |id: ServiceId| {
            let st = &self.accepts[id.index()];
            let drop_at = match st.full_since {
                Some(at) if !st.dropping => {
                    Some(at.plus_ms(u64::from(cfg.spec(id).drop_timeout_ms)))
                }
                _ => None,
            };
            [st.paused_until, drop_at].into_iter().flatten().min()
        };
        cfg.ids()
            .filter_map(|id| {
                let slot = &self.slots[id.index()];
                let state = match slot.state {
                    // Nothing happens at its end unless it is to start
                    // again (a throttled pool no longer wanted waits for
                    // its workers to be stopped, not for the clock).
                    State::Backoff { .. } if !slot.want_up || self.halting => None,
                    state => state.deadline(),
                };
                match cfg.spec(id).mode {
                    Mode::Accept => [state, accept(id)].into_iter().flatten().min(),
                    Mode::Pool => [state, self.pool_deadline(cfg, id)]
                        .into_iter()
                        .flatten()
                        .min(),
                    _ => state,
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
        if self.halting {
            return Answer::InShutdown;
        }
        match cmd {
            Command::Start(id) => {
                let slot = &self.slots[id.index()];
                match slot.state {
                    State::Up { .. } | State::Starting { .. } | State::Listening => {
                        Answer::StartedAlready
                    }
                    State::Stopping { .. } | State::Down | State::Backoff { .. } => {
                        self.want_up_with_deps(cfg, |x| x == id);
                        self.fresh_start(cfg, id, now, fx);
                        Answer::Starting
                    }
                }
            }
            Command::Stop(id) => {
                self.slots[id.index()].want_up = false;
                let slot = self.slots[id.index()];
                match slot.state {
                    State::Down => Answer::StoppedAlready,
                    // Asked to stop: its end is no longer a failure to judge
                    // (a start timeout's, or a run's whose leftovers stop).
                    State::Stopping { .. } if !slot.then.by_itself() => {
                        self.slots[id.index()].then = Then::Stop;
                        Answer::StoppingAlready
                    }
                    _ if self.has_processes(id, fx) => {
                        self.stop(cfg, id, slot.state.pid(), now, Then::Stop, fx);
                        Answer::Stopping
                    }
                    // Nothing runs (a finished oneshot, a backoff, an idle socket service).
                    _ => {
                        self.set_state(id, now, State::Down, fx);
                        Answer::Stopped
                    }
                }
            }
            Command::Restart(id) => {
                self.want_up_with_deps(cfg, |x| x == id);
                let slot = self.slots[id.index()];
                match slot.state {
                    // Once it is gone, it starts again (whatever ended it).
                    State::Stopping { .. } if !slot.then.by_itself() => {
                        self.slots[id.index()].then = Then::Stop;
                        Answer::Stopping
                    }
                    _ if self.has_processes(id, fx) => {
                        self.stop(cfg, id, slot.state.pid(), now, Then::Stop, fx);
                        Answer::Stopping
                    }
                    _ => {
                        self.fresh_start(cfg, id, now, fx);
                        Answer::Starting
                    }
                }
            }
            Command::Signal(id, signal) => match self.slots[id.index()].state.pid() {
                Some(pid) => {
                    fx.kill(pid, signal, false);
                    Answer::Signalled
                }
                // An accept service's workers.
                None if self.accepts[id.index()].workers > 0 => {
                    self.workers
                        .of(id)
                        .for_each(|pid| fx.kill(pid, signal, false));
                    Answer::Signalled
                }
                None => Answer::NotRunning,
            },
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
        let Some(id) = cfg
            .ids()
            .find(|&id| self.slots[id.index()].state.pid() == Some(pid))
        else {
            let worker = self.workers.remove(pid)?;
            let id = worker.service;
            if cfg.spec(id).mode == Mode::Pool {
                self.pool_worker_ended(cfg, id, &worker, status, now, fx);
            }
            self.worker_exited(cfg, id, now, fx);
            return Some(id);
        };
        let oneshot = cfg.spec(id).mode == Mode::Oneshot;
        let slot = &mut self.slots[id.index()];
        slot.set_last(Some(status));
        let then = match (slot.state, slot.then) {
            (State::Stopping { .. }, Then::Judge) => Then::ended(status.success()),
            (State::Stopping { .. }, Then::Fail) => Then::EndedFailed,
            (State::Stopping { .. }, Then::Again) => Then::Stop,
            (State::Stopping { .. }, then) => then,
            // Exiting before it said it was ready is a failure, even with 0.
            (State::Starting { .. }, _) if !oneshot => Then::EndedFailed,
            (State::Starting { .. } | State::Up { .. }, _) => Then::ended(status.success()),
            (State::Down | State::Listening | State::Backoff { .. }, _) => {
                // No pid in these states.
                unreachable!()
            }
        };
        let group = self.group(id);
        self.logger_drains(cfg, id, now);
        let slot = &mut self.slots[id.index()];
        // A oneshot that succeeded is up with what it started (a mount
        // helper's daemon, say), until it is stopped. Only its cgroup can
        // be followed that long: a process group's number may be another's
        // by then.
        if oneshot && then == Then::EndedClean {
            slot.group = 0;
            self.ended(cfg, id, now, true, fx);
        } else if fx.populated(id, group) {
            // What it started lives on: it ends too before anything else
            // happens (stop signal, KILL after stop_timeout, as for a
            // stop; `tick` sees the end).
            match slot.state {
                // Its stop signal went to all of it already: their KILL
                // is due when its was.
                State::Stopping { kill_at, .. } if !slot.then.by_itself() => {
                    slot.then = then;
                    self.set_state(id, now, State::Stopping { pid: None, kill_at }, fx);
                }
                _ => self.stop(cfg, id, None, now, then, fx),
            }
        } else {
            slot.group = 0;
            self.finish(cfg, id, now, then, fx);
        }
        Some(id)
    }

    /// The service's process `pid` said it is ready (`READY=1`, or a
    /// newline on its readiness fd): `starting` becomes `up`. False if
    /// that changed nothing (already up, or a process of an earlier run).
    pub fn ready(&mut self, id: ServiceId, pid: Pid, now: Instant, fx: &mut impl Effects) -> bool {
        match self.slots[id.index()].state {
            State::Starting { pid: p, .. } if p == pid => {
                self.set_state(id, now, State::Up { pid: Some(pid) }, fx);
                true
            }
            _ => false,
        }
    }

    /// The service's process `pid` said it is shutting down (`STOPPING=1`):
    /// `stopping`, with KILL after `stop_timeout` (none if 0). No signal is
    /// sent; when it ends, the restart policy decides as for any other end.
    /// A stop asked for meanwhile is carried out as usual (`running`). Only
    /// an `up` service stops itself: before it was ready, its end is a
    /// failed start whatever it says.
    pub fn stopping_itself(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        pid: Pid,
        now: Instant,
        fx: &mut impl Effects,
    ) {
        let slot = &mut self.slots[id.index()];
        // Before it was ready it is ignored: its exit is a failure all the
        // same ("exit before ready").
        if slot.state != (State::Up { pid: Some(pid) }) {
            return;
        }
        slot.then = Then::Judge;
        let kill_at = match cfg.spec(id).stop_timeout_ms {
            0 => None,
            ms => Some(now.plus_ms(u64::from(ms))),
        };
        let next = State::Stopping {
            pid: Some(pid),
            kill_at,
        };
        self.set_state(id, now, next, fx);
    }

    /// Handle every deadline that is due, then start and stop whatever the
    /// targets and the dependency order allow. Call once per loop turn.
    pub fn tick(&mut self, cfg: &Config, now: Instant, fx: &mut impl Effects) {
        self.pool_spawns = 0;
        for id in cfg.ids() {
            if cfg.spec(id).mode == Mode::Accept {
                self.accept_timers(cfg, id, now);
            }
            match self.slots[id.index()].state {
                State::Starting {
                    pid,
                    deadline: Some(at),
                } if at <= now => {
                    self.slots[id.index()].reason = Reason::StartTimeout;
                    self.stop(cfg, id, Some(pid), now, Then::Fail, fx);
                }
                // Its main process (or last worker) is gone, and what it
                // started may be gone by now too.
                State::Stopping { pid: None, .. } => self.finish_when_empty(cfg, id, now, fx),
                _ => {}
            }
            // KILL at stop_timeout, and again every second while anything
            // of it is left: a process can be listed only after a KILL
            // round (a fork in flight), or be out of reach for a while.
            if let State::Stopping {
                pid,
                kill_at: Some(at),
            } = self.slots[id.index()].state
                && at <= now
            {
                self.kill_group(id, SIGKILL, fx);
                let kill_at = Some(now.plus_ms(KILL_AGAIN_MS));
                self.slots[id.index()].state = State::Stopping { pid, kill_at };
            }
        }
        if self.halting || cfg.has_removed() {
            self.stop_in_order(cfg, now, fx);
        }
        self.start_in_order(cfg, now, fx);
        self.pool_tick(cfg, now, fx);
    }

    /// First step of a reload: carry every removed service that has not
    /// stopped yet into `new`, where it stays until it is down. On `Err` the
    /// caller discards `new`; nothing else changed.
    pub fn carry_removed(&self, old: &Config, new: &mut Config) -> Result<(), Full> {
        // In start order: a removed service's removed logger is carried
        // before it (see `Config::adopt_removed`).
        for id in old.start_order() {
            let removed = new.find(old.name(id)).is_none();
            if removed && self.slots[id.index()].state != State::Down {
                new.adopt_removed(old, id)?;
            }
        }
        Ok(())
    }

    /// Second step: take `new` (prepared by `carry_removed`) as the
    /// configuration. Unchanged services keep running untouched, changed
    /// ones restart, added ones start if autostart, removed ones stop.
    pub fn reload(&mut self, old: &Config, new: &Config, now: Instant, fx: &mut impl Effects) {
        // Move every kept slot to its new index: swaps only, so no slot is
        // lost before it has reached its place; then fill the new ones.
        let mut pos_of_old = [0u16; MAX_SERVICES];
        let mut old_at = [0u16; MAX_SERVICES];
        for i in 0..MAX_SERVICES {
            (pos_of_old[i], old_at[i]) = (i as u16, i as u16); // fits: MAX_SERVICES <= 65535
        }
        let mut kept = [false; MAX_SERVICES];
        // A service added back while its removed predecessor still stops:
        // a new service that inherits only the process being stopped.
        let mut readded = [false; MAX_SERVICES];
        for j in new.ids() {
            let Some(i) = old.find(new.name(j)) else {
                continue;
            };
            kept[j.index()] = true;
            readded[j.index()] = old.spec(i).removed && !new.spec(j).removed;
            let p = pos_of_old[i.index()] as usize;
            if p != j.index() {
                self.slots.swap(p, j.index());
                self.accepts.swap(p, j.index());
                let displaced = old_at[j.index()];
                pos_of_old[displaced as usize] = p as u16;
                old_at[p] = displaced;
                old_at[j.index()] = i.0;
                pos_of_old[i.index()] = j.0;
            }
            if new.spec(j).removed {
                self.slots[j.index()].want_up = false;
            }
        }
        self.workers
            .remap(|old_id| ServiceId(pos_of_old[old_id.index()]));
        for j in new.ids() {
            if !kept[j.index()] {
                self.accepts[j.index()] = AcceptStats::EMPTY;
            } else if readded[j.index()] {
                // A new service: fresh counters, but the workers of its
                // predecessor still run and are still counted.
                let workers = self.accepts[j.index()].workers;
                self.accepts[j.index()] = AcceptStats {
                    workers,
                    ..AcceptStats::EMPTY
                };
            }
            let slot = &mut self.slots[j.index()];
            let fresh = Slot {
                since: now,
                delay_ms: new.spec(j).backoff_first_ms,
                ..Slot::EMPTY
            };
            if readded[j.index()] {
                // Its predecessor's end is not judged: once it is gone, the
                // new service starts as any added one.
                *slot = Slot {
                    state: slot.state,
                    since: slot.since,
                    then: Then::Stop,
                    group: slot.group,
                    ..fresh
                };
            } else if !kept[j.index()] {
                *slot = fresh;
            }
        }
        let added = |j: ServiceId| !kept[j.index()] || readded[j.index()];
        self.want_up_with_deps(new, |j| added(j) && new.spec(j).autostart);
        // Restart the services whose section changed: a running one is
        // stopped and, still wanted up, started again with its new spec.
        for j in new.ids() {
            let Some(i) = old.find(new.name(j)).filter(|_| !added(j)) else {
                continue;
            };
            if old.spec(i).digest == new.spec(j).digest || new.spec(j).removed {
                continue;
            }
            self.slots[j.index()].delay_ms = new.spec(j).backoff_first_ms;
            match self.slots[j.index()].state {
                state if self.running(j) => self.stop(new, j, state.pid(), now, Then::Stop, fx),
                // Listen again, with the new settings.
                State::Backoff { .. } | State::Listening => self.down_unless_left(new, j, now, fx),
                State::Down
                | State::Up { .. }
                | State::Starting { .. }
                | State::Stopping { .. } => {}
            }
        }
    }

    // ---- socket modes ------------------------------------------------------

    /// True if the driver should poll the listening sockets of `id` now:
    /// an activate service waiting for its first connection, or an accept
    /// service below its limits (or past `drop_timeout` at them).
    pub fn polls(&self, cfg: &Config, id: ServiceId) -> bool {
        if self.slots[id.index()].state != State::Listening || self.halting {
            return false;
        }
        match cfg.spec(id).mode {
            Mode::Activate => true,
            Mode::Accept => {
                // A full worker table (all services together) keeps clients
                // waiting as `max_workers` does, without a drop_timeout.
                let st = &self.accepts[id.index()];
                st.paused_until.is_none()
                    && (st.dropping || (st.full_since.is_none() && self.workers.has_room()))
            }
            Mode::Daemon | Mode::Oneshot | Mode::Pool => false,
        }
    }

    /// A connection waits on an activate service's sockets: start it,
    /// handing it the sockets (the driver does, in `Effects::spawn`).
    pub fn activate(&mut self, cfg: &Config, id: ServiceId, now: Instant, fx: &mut impl Effects) {
        if self.slots[id.index()].state == State::Listening && !self.halting {
            self.spawn(cfg, id, now, fx);
        }
    }

    /// An accept service's listener gave a connection from `peer`: may a
    /// worker serve it? Counts it, and the drop if not.
    pub fn admit(&mut self, cfg: &Config, id: ServiceId, now: Instant, peer: &Peer) -> Admit {
        let spec = cfg.spec(id);
        let full = self.accepts[id.index()].full_since.is_some() || !self.workers.has_room();
        let same_peer = match spec.max_per_ip {
            0 => 0,
            _ => self.workers.count_peer(id, peer),
        };
        self.counters_changed = true;
        let st = &mut self.accepts[id.index()];
        st.accepted += 1;
        if self.halting || self.slots[id.index()].state != State::Listening {
            st.dropped += 1;
            return Admit::Stopping;
        }
        if full {
            st.dropped += 1;
            let warn = st.warned_at.is_none_or(|at| now.ms_since(at) >= 1000);
            if warn {
                st.warned_at = Some(now);
            }
            return Admit::Full { warn };
        }
        if spec.max_per_ip > 0 && same_peer >= spec.max_per_ip {
            st.dropped += 1;
            return Admit::PerIpLimit;
        }
        Admit::Spawn
    }

    /// The driver spawned `pid` for a connection `admit` let in.
    pub fn worker_spawned(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        now: Instant,
        pid: Pid,
        peer: &Peer,
    ) {
        // `admit` checked that the table has room.
        if !self.workers.add(pid, id, *peer) {
            return;
        }
        self.counters_changed = true;
        let st = &mut self.accepts[id.index()];
        st.workers += 1;
        if st.workers >= cfg.spec(id).max_workers {
            st.full_since.get_or_insert(now);
        }
    }

    /// The worker for an admitted connection could not be spawned.
    pub fn worker_failed(&mut self, id: ServiceId) {
        self.counters_changed = true;
        self.accepts[id.index()].dropped += 1;
    }

    /// accept(2) failed for want of fds or memory: stop polling `id` for a
    /// moment instead of spinning on a listener that stays readable. True
    /// if this is worth a log line (one a second at most, as for drops).
    pub fn accept_failed(&mut self, id: ServiceId, now: Instant) -> bool {
        let st = &mut self.accepts[id.index()];
        st.paused_until = Some(now.plus_ms(ACCEPT_PAUSE_MS));
        let warn = st.warned_at.is_none_or(|at| now.ms_since(at) >= 1000);
        if warn {
            st.warned_at = Some(now);
        }
        warn
    }

    // ---- private -------------------------------------------------------

    /// Expire an accept service's pause, and notice `drop_timeout` at the limit.
    fn accept_timers(&mut self, cfg: &Config, id: ServiceId, now: Instant) {
        let st = &mut self.accepts[id.index()];
        if st.paused_until.is_some_and(|at| at <= now) {
            st.paused_until = None;
        }
        if let Some(at) = st.full_since
            && now.ms_since(at) >= u64::from(cfg.spec(id).drop_timeout_ms)
        {
            st.dropping = true;
        }
    }

    /// A worker of accept service `id` ended.
    fn worker_exited(&mut self, cfg: &Config, id: ServiceId, now: Instant, fx: &mut impl Effects) {
        self.counters_changed = true;
        let st = &mut self.accepts[id.index()];
        st.workers = st.workers.saturating_sub(1);
        if st.workers < cfg.spec(id).max_workers {
            st.full_since = None;
            st.dropping = false;
        }
        if let State::Stopping { pid: None, .. } = self.slots[id.index()].state {
            self.finish_when_empty(cfg, id, now, fx);
        }
    }

    /// True if `id` has a process (or workers) and was not asked to stop
    /// yet (one stopping by itself was not).
    fn running(&self, id: ServiceId) -> bool {
        let slot = &self.slots[id.index()];
        let asked = matches!(slot.state, State::Stopping { .. }) && !slot.then.by_itself();
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

    /// A stopping service without a main process (and no worker left):
    /// once nothing it started is left either, what its `then` says.
    fn finish_when_empty(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        now: Instant,
        fx: &mut impl Effects,
    ) {
        if self.accepts[id.index()].workers > 0 || fx.populated(id, self.group(id)) {
            return;
        }
        let then = self.slots[id.index()].then;
        self.slots[id.index()].group = 0;
        self.finish(cfg, id, now, then, fx);
    }

    /// Nothing of a stopping (or ended) service is left: down, started
    /// again, or judged by the restart policy, as `then` says.
    fn finish(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        now: Instant,
        then: Then,
        fx: &mut impl Effects,
    ) {
        self.slots[id.index()].then = Then::Stop;
        match then {
            Then::Stop | Then::Again => {
                let wanted =
                    self.slots[id.index()].want_up && !self.halting && !cfg.spec(id).removed;
                // Started again at once if what it needs is up, else once
                // it is (`start_in_order`).
                match wanted && self.deps_ready(cfg, id) {
                    true => self.start(cfg, id, now, fx),
                    false => self.set_state(id, now, State::Down, fx),
                }
            }
            Then::EndedClean => self.ended(cfg, id, now, true, fx),
            Then::EndedFailed => self.ended(cfg, id, now, false, fx),
            Then::Judge => self.ended(cfg, id, now, true, fx),
            Then::Fail => self.ended(cfg, id, now, false, fx),
        }
    }

    /// The main process of `id` has ended: its logger, if it waits out a
    /// backoff, starts now, to read what the service left in the pipe
    /// (SPEC §7: a logger that is down when its service stops is started
    /// to drain the pipe).
    fn logger_drains(&mut self, cfg: &Config, id: ServiceId, now: Instant) {
        if let Log::Pipe(reader) = cfg.spec(id).log
            && cfg.is_logger(reader)
            && let State::Backoff { until } = self.slots[reader.index()].state
            && until > now
        {
            self.slots[reader.index()].state = State::Backoff { until: now };
        }
    }

    /// One door for state changes: every change is announced.
    fn set_state(&mut self, id: ServiceId, now: Instant, next: State, fx: &mut impl Effects) {
        let slot = &mut self.slots[id.index()];
        let from = slot.state;
        slot.state = next;
        if from.name() != next.name() || from.pid() != next.pid() {
            slot.since = now;
        }
        if next.is_ready() {
            slot.reason = Reason::None;
        }
        fx.changed(id, from, slot);
    }

    /// Set `want_up` on every service `pick` selects and on everything they
    /// wait for, transitively (walking dependents before dependencies).
    fn want_up_with_deps(&mut self, cfg: &Config, pick: impl Fn(ServiceId) -> bool) {
        let mut marked = [false; MAX_SERVICES];
        for id in cfg.start_order().rev() {
            if pick(id) && !cfg.spec(id).removed {
                marked[id.index()] = true;
            }
            if marked[id.index()] {
                for dep in cfg.after(id) {
                    marked[dep.index()] = true;
                }
            }
        }
        for id in cfg.ids() {
            let slot = &mut self.slots[id.index()];
            if marked[id.index()] && !slot.want_up {
                slot.want_up = true;
                slot.reason = Reason::None;
                slot.window_failures = 0;
                slot.delay_ms = cfg.spec(id).backoff_first_ms;
            }
        }
    }

    /// A start asked for by a person: forget past failures, and if it waits
    /// in backoff, go now.
    fn fresh_start(&mut self, cfg: &Config, id: ServiceId, now: Instant, fx: &mut impl Effects) {
        let slot = &mut self.slots[id.index()];
        slot.want_up = true;
        slot.reason = Reason::None;
        slot.window_failures = 0;
        slot.delay_ms = cfg.spec(id).backoff_first_ms;
        // One that is stopping (by itself, or after its main process ended)
        // starts again once it is gone.
        if matches!(slot.state, State::Stopping { .. }) {
            slot.then = match slot.then.by_itself() {
                true => Then::Again,
                false => Then::Stop,
            };
        }
        let idle = matches!(
            slot.state,
            State::Backoff { .. } | State::Up { pid: None } | State::Listening
        );
        match idle {
            // A throttled pool whose workers run resumes at once.
            true if self.running(id) => self.start(cfg, id, now, fx),
            true => self.down_unless_left(cfg, id, now, fx),
            false => {}
        }
    }

    /// Spawn the service's process; a socket service starts listening; a
    /// pool starts its first worker (`start_pool`).
    fn start(&mut self, cfg: &Config, id: ServiceId, now: Instant, fx: &mut impl Effects) {
        let spec = cfg.spec(id);
        if spec.mode == Mode::Pool {
            return self.start_pool(cfg, id, now, fx);
        }
        if spec.mode.listens() {
            return self.set_state(id, now, State::Listening, fx);
        }
        self.spawn(cfg, id, now, fx);
    }

    /// Spawn the service's process: `Starting`, or for a daemon `Up`.
    fn spawn(&mut self, cfg: &Config, id: ServiceId, now: Instant, fx: &mut impl Effects) {
        let spec = cfg.spec(id);
        match fx.spawn(id) {
            Ok(pid) => {
                let slot = &mut self.slots[id.index()];
                slot.run_start = now;
                // Every service's process leads a process group of its own.
                slot.group = pid.0;
                let deadline = match spec.start_timeout_ms {
                    0 => None,
                    ms => Some(now.plus_ms(u64::from(ms))),
                };
                self.set_state(id, now, State::Starting { pid, deadline }, fx);
                if matches!(spec.mode, Mode::Daemon | Mode::Activate) && spec.ready == Ready::None {
                    // Without a readiness protocol a daemon is ready once exec succeeded.
                    self.set_state(id, now, State::Up { pid: Some(pid) }, fx);
                }
            }
            Err(errno) => {
                let slot = &mut self.slots[id.index()];
                slot.reason = Reason::SpawnFailed(errno);
                slot.set_last(None);
                slot.run_start = now;
                self.ended(cfg, id, now, false, fx);
            }
        }
    }

    /// Stop the service: its stop signal to every process of it (the main
    /// one is `pid`, if it still runs), KILL after `stop_timeout`; once
    /// nothing of it is left, what `then` says.
    fn stop(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        pid: Option<Pid>,
        now: Instant,
        then: Then,
        fx: &mut impl Effects,
    ) {
        let spec = cfg.spec(id);
        // A stop asked for now overrides a service's own (its end is no
        // longer judged by the restart policy).
        self.slots[id.index()].then = then;
        let (signal, timeout_ms) = match self.fast {
            true => (SIGTERM, FAST_KILL_MS),
            false => (spec.stop_signal, u64::from(spec.stop_timeout_ms)),
        };
        self.kill_group(id, signal, fx);
        let kill_at = match timeout_ms {
            // `stop_timeout = 0`: no grace at all.
            0 => {
                self.kill_group(id, SIGKILL, fx);
                None
            }
            ms => Some(now.plus_ms(ms)),
        };
        self.set_state(id, now, State::Stopping { pid, kill_at }, fx);
    }

    /// A run ended on its own (or failed to begin): decide by policy between
    /// up (a oneshot's success), restart now, backoff, down, or giving up.
    fn ended(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        now: Instant,
        clean: bool,
        fx: &mut impl Effects,
    ) {
        let spec = cfg.spec(id);
        let halting = self.halting;
        let slot = &mut self.slots[id.index()];
        if spec.mode == Mode::Oneshot && clean {
            slot.delay_ms = spec.backoff_first_ms;
            return self.set_state(id, now, State::Up { pid: None }, fx);
        }
        if spec.mode == Mode::Activate && clean && slot.want_up && !halting && !spec.removed {
            // Done with the connections it had: wait for the next one. But a
            // program that exits 0 without taking the connection would be
            // started again at once, forever: past a burst of activations
            // (systemd's trigger limit) the next one waits out a backoff.
            let st = &mut self.accepts[id.index()];
            if now.ms_since(st.triggers_since) >= TRIGGER_WINDOW_MS {
                (st.triggers, st.triggers_since) = (0, now);
            }
            st.triggers += 1;
            if st.triggers <= TRIGGER_BURST {
                slot.delay_ms = spec.backoff_first_ms;
                return self.set_state(id, now, State::Listening, fx);
            }
            slot.reason = Reason::TriggerLimit;
            let delay = slot.delay_ms.max(1);
            slot.delay_ms = delay.saturating_mul(2).min(spec.backoff_cap_ms.max(1));
            let until = now.plus_ms(u64::from(delay));
            return self.set_state(id, now, State::Backoff { until }, fx);
        }
        if !clean {
            if now.ms_since(slot.window_start) >= u64::from(spec.restart_window_ms)
                || slot.window_failures == 0
            {
                slot.window_start = now;
                slot.window_failures = 0;
            }
            slot.window_failures += 1;
            if spec.restart_max > 0 && slot.window_failures >= spec.restart_max {
                slot.want_up = false;
                slot.reason = Reason::GaveUp;
                return self.down_unless_left(cfg, id, now, fx);
            }
        }
        let restart = match spec.restart {
            Restart::Always => true,
            Restart::OnFailure => !clean,
            Restart::No => false,
        };
        if halting || !slot.want_up || !restart || spec.removed {
            slot.want_up = false;
            return self.down_unless_left(cfg, id, now, fx);
        }
        let ran_long = slot.last().is_some()
            && now.ms_since(slot.run_start) >= u64::from(spec.backoff_reset_ms);
        let delay = if ran_long {
            slot.delay_ms = spec.backoff_first_ms;
            0
        } else {
            let delay = slot.delay_ms;
            slot.delay_ms = delay
                .saturating_mul(2)
                .max(1)
                .min(spec.backoff_cap_ms.max(1));
            delay
        };
        match delay {
            0 => {
                slot.restarts = slot.restarts.saturating_add(1);
                // At once, if what it waits for (`after`) is up; else once
                // it is (`start_in_order`).
                match self.deps_ready(cfg, id) {
                    true => self.start(cfg, id, now, fx),
                    false => self.down_unless_left(cfg, id, now, fx),
                }
            }
            // Counted when the restart happens, in `start_in_order`.
            ms => self.set_state(
                id,
                now,
                State::Backoff {
                    until: now.plus_ms(u64::from(ms)),
                },
                fx,
            ),
        }
    }

    /// Start every wanted service whose dependencies are up, in dependency
    /// order, so a chain of instantly-ready services comes up in one pass.
    fn start_in_order(&mut self, cfg: &Config, now: Instant, fx: &mut impl Effects) {
        if self.halting {
            return;
        }
        for id in cfg.start_order() {
            // Removed services are `stop_in_order`'s: a removed logger in
            // backoff waits there until its writers are gone, to drain.
            if cfg.spec(id).removed {
                continue;
            }
            let slot = &self.slots[id.index()];
            let startable = match slot.state {
                State::Down => true,
                State::Backoff { until } => until <= now,
                State::Listening
                | State::Starting { .. }
                | State::Up { .. }
                | State::Stopping { .. } => false,
            };
            if !startable {
                continue;
            }
            if self.running(id) {
                // A throttled pool whose workers still run: it was started
                // already (and a running dependent is left alone when its
                // dependencies change), so it resumes, its dependencies
                // unchecked; if it is no longer wanted, `stop_in_order`
                // stops its workers.
                if slot.want_up {
                    self.start(cfg, id, now, fx);
                }
                continue;
            }
            if !slot.want_up {
                if slot.state != State::Down {
                    self.down_unless_left(cfg, id, now, fx);
                }
                continue;
            }
            let failed = cfg.after(id).any(|dep| {
                let d = &self.slots[dep.index()];
                d.state == State::Down && !d.want_up
            });
            let backoff = matches!(slot.state, State::Backoff { .. });
            if failed {
                let slot = &mut self.slots[id.index()];
                slot.want_up = false;
                slot.reason = Reason::Dependency;
                self.down_unless_left(cfg, id, now, fx);
            } else if self.deps_ready(cfg, id) {
                if backoff {
                    self.slots[id.index()].restarts += 1;
                }
                self.start(cfg, id, now, fx);
            } else if backoff {
                // Its delay is over but what it waits for is not up: wait
                // down, without a deadline (one in the past would spin the
                // loop). The restart is counted now: it is under way.
                self.slots[id.index()].restarts += 1;
                self.down_unless_left(cfg, id, now, fx);
            }
        }
    }

    /// Stop `id`, which has no main process (`state`): what it left in its
    /// cgroup is stopped, else it goes down. A logger that waits out a
    /// backoff is first started once (when nothing that writes into its
    /// pipe runs any more: `unblocked`), to drain the pipe (SPEC §7).
    fn stop_idle(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        state: State,
        now: Instant,
        unblocked: bool,
        fx: &mut impl Effects,
    ) {
        if cfg.is_logger(id) && matches!(state, State::Backoff { .. }) {
            if !unblocked {
                return;
            }
            self.spawn(cfg, id, now, fx);
            if self.slots[id.index()].state == State::Down {
                return;
            }
        }
        match self.slots[id.index()].state.pid() {
            Some(pid) => self.stop(cfg, id, Some(pid), now, Then::Stop, fx),
            None => self.down_unless_left(cfg, id, now, fx),
        }
    }

    /// `id` has no main process nor worker: down, unless some process it
    /// started is left (in its cgroup), which is stopped first.
    fn down_unless_left(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        now: Instant,
        fx: &mut impl Effects,
    ) {
        match fx.populated(id, None) {
            true => self.stop(cfg, id, None, now, Then::Stop, fx),
            false => self.set_state(id, now, State::Down, fx),
        }
    }

    /// True if what `id` waits for (`after`) is up. Its log pipe's reader
    /// need not be: vigild holds the pipe, so the service may start and
    /// write while its logger waits out a backoff (SPEC §7).
    fn deps_ready(&self, cfg: &Config, id: ServiceId) -> bool {
        let log = cfg.spec(id).log;
        cfg.after(id).all(|dep| {
            let state = self.slots[dep.index()].state;
            state.is_ready() || (log == Log::Pipe(dep) && state != State::Down)
        })
    }

    /// Stop what must stop (everything when halting, removed services after a
    /// reload), each only once every service that waits for it is down.
    fn stop_in_order(&mut self, cfg: &Config, now: Instant, fx: &mut impl Effects) {
        let mut blocked = [false; MAX_SERVICES];
        for id in cfg.start_order().rev() {
            if self.halting || cfg.spec(id).removed {
                self.slots[id.index()].want_up = false;
                match self.slots[id.index()].state {
                    // A process waits until every service that needs it is
                    // down. An accept service stops listening at once
                    // (`polls`); in a graceful shutdown its workers finish
                    // undisturbed.
                    state if self.running(id) => {
                        // A graceful shutdown lets a oneshot that runs finish.
                        let oneshot = cfg.spec(id).mode == Mode::Oneshot;
                        let graceful = self.graceful
                            && (state == State::Listening
                                || oneshot && matches!(state, State::Starting { .. }));
                        if (self.fast || !blocked[id.index()]) && !graceful {
                            self.stop(cfg, id, state.pid(), now, Then::Stop, fx);
                        }
                    }
                    // Hurrying an orderly stop: KILL at most a second from now.
                    State::Stopping {
                        pid,
                        kill_at: Some(at),
                    } if self.fast && at > now.plus_ms(FAST_KILL_MS) => {
                        let kill_at = Some(now.plus_ms(FAST_KILL_MS));
                        self.slots[id.index()].state = State::Stopping { pid, kill_at };
                    }
                    // Without a process there is nothing to stop (but what a
                    // finished oneshot left in its cgroup); in a shutdown it
                    // still goes down after what needs it, so that the log
                    // shows every stop in order.
                    state
                    @ (State::Up { pid: None } | State::Backoff { .. } | State::Listening)
                        if self.fast || !self.halting || !blocked[id.index()] =>
                    {
                        let unblocked = self.fast || !blocked[id.index()];
                        self.stop_idle(cfg, id, state, now, unblocked, fx);
                    }
                    _ => {}
                }
            }
            if self.slots[id.index()].state != State::Down {
                for dep in cfg.after(id) {
                    blocked[dep.index()] = true;
                }
            }
        }
    }
}

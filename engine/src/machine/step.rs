//! Every decision about one service: what each `Input` does in each
//! `State`, in one `match` with no catch-all arm (a new state or input does
//! not compile until every pair is decided), then the steps those
//! decisions are made of: spawn, stop, finish (what a stop's cause says),
//! judge a run's end (the restart policy). State changes go through one
//! door, `set_state`.
//!
//! Besides the match, three things change a state, each a consequence
//! rather than an input: a pool's first worker and its throttling
//! (`pool.rs`, where a pool's workers are counted), a logger in backoff
//! started at once when its service's main process ends (to drain the
//! pipe, `logger_drains`), and a reload's new slots (`reload.rs`).

use super::{
    Answer, Effects, FAST_KILL_MS, Halt, Reason, State, StopCause, Supervisor, TRIGGER_BURST,
    TRIGGER_WINDOW_MS,
};
use crate::config::{Config, Log, Mode, Ready, Restart};
use crate::fixed::ServiceId;
use crate::time::Instant;
use crate::unix::{ExitStatus, Pid, SIGKILL};

/// How often KILL goes again to a service whose processes outlive it.
const KILL_AGAIN_MS: u64 = 1000;
/// SIGTERM.
const SIGTERM: u8 = 15;

/// Something that happens to one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// `start`: a person's, so past failures are forgotten.
    Start,
    /// `stop`.
    Stop,
    /// `restart`.
    Restart,
    /// `signal NAME SIG`.
    Signal(u8),
    /// Its main process `pid` ended.
    Exited {
        /// The process.
        pid: Pid,
        /// How it ended.
        status: ExitStatus,
    },
    /// `pid` said it is ready (`READY=1`, a newline on its readiness fd).
    Ready {
        /// The sender.
        pid: Pid,
    },
    /// `pid` said it is shutting down (`STOPPING=1`).
    StoppingItself {
        /// The sender.
        pid: Pid,
    },
    /// A connection waits on its sockets (activate mode).
    Connection,
    /// A loop turn: time passed (a start timeout, a KILL due), and what a
    /// stopping service left may be gone.
    Tick,
    /// One of its workers ended (accept and pool modes).
    WorkerEnded,
    /// Its turn in the start order, every loop turn (`order.rs`): what
    /// it waits for (`after`) is as `Deps` says. Only a wanted service
    /// down, or in a backoff that is over, starts.
    Due(Deps),
    /// A shutdown, or a reload that removed it, wants it down; `blocked`
    /// while a service that waits for it still runs (`order.rs`).
    Halt {
        /// Some service that needs it is not down yet.
        blocked: bool,
    },
    /// A reload changed its section: it restarts with the new one.
    Changed,
}

/// What a service waits for (`after`), as far as its start goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deps {
    /// All up (or listening): it may start.
    Ready,
    /// Some not up yet.
    Waiting,
    /// Some down for good: it will not start.
    Failed,
}

/// Whether what is left of a service whose main process ended already got
/// its stop signal.
#[derive(Clone, Copy)]
enum Signalled {
    /// Not stopping on request: it gets its stop signal now.
    No,
    /// Being stopped: the signal went to all of it, and KILL is due then.
    KillAt(Option<Instant>),
}

/// Whether a state change is told to the world (`Effects::changed`: the
/// log, monitors, waiting requests, the status file).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Told {
    /// A transition.
    Yes,
    /// A deadline moved or the end of a stop was redecided: the same state
    /// as far as anyone outside sees.
    No,
}

/// What the end of the main process (with `status`) of a service in
/// `state` leads to once nothing of the service is left, and whether the
/// rest of it got its stop signal already.
fn exit_leads_to(state: State, status: ExitStatus, mode: Mode) -> (StopCause, Signalled) {
    match state {
        State::Stopping { kill_at, cause, .. } => {
            let then = match cause {
                StopCause::ByItself => StopCause::left_after(status.success()),
                StopCause::StartTimeout => StopCause::LeftAfterFailure,
                StopCause::ByItselfThenStart => StopCause::Asked,
                StopCause::Asked | StopCause::LeftAfterSuccess | StopCause::LeftAfterFailure => {
                    cause
                }
            };
            // Its stop signal went to all of it already: their KILL is
            // due when its was.
            let signalled = match cause.by_itself() {
                true => Signalled::No,
                false => Signalled::KillAt(kill_at),
            };
            (then, signalled)
        }
        // Exiting before it said it was ready is a failure, even with 0
        // (but a oneshot's whole run is its start).
        State::Starting { .. } => {
            let oneshot = mode == Mode::Oneshot;
            let then = StopCause::left_after(oneshot && status.success());
            (then, Signalled::No)
        }
        State::Down | State::Listening | State::Up { .. } | State::Backoff { .. } => {
            (StopCause::left_after(status.success()), Signalled::No)
        }
    }
}

impl Supervisor {
    /// The one place where an input meets a state. Commands get their
    /// answer; other inputs `None`. (The driver's commands come through
    /// `command`, which refuses them in a shutdown; the ordering inputs
    /// `Due` and `Halt` through `tick`.)
    pub fn step(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        input: Input,
        now: Instant,
        fx: &mut impl Effects,
    ) -> Option<Answer> {
        use State::{Backoff, Down, Listening, Starting, Stopping, Up};
        let state = self.slots[id.index()].state;
        // A stop, a shutdown and a removal want it down, whatever its state.
        if matches!(input, Input::Stop | Input::Halt { .. }) {
            self.slots[id.index()].want_up = false;
        }
        match (state, input) {
            // ---- start ------------------------------------------------
            (Up { .. } | Starting { .. } | Listening, Input::Start) => {
                return Some(Answer::StartedAlready);
            }
            // One that is stopping (by itself, or after its main process
            // ended) starts again once it is gone.
            (Stopping { cause, .. }, Input::Start) => {
                self.start_wanted(cfg, id);
                let then = match cause.by_itself() {
                    true => StopCause::ByItselfThenStart,
                    false => StopCause::Asked,
                };
                self.redecide_stop(id, now, then, fx);
                return Some(Answer::Starting);
            }
            // The start order starts it in this turn, once `after` is up.
            (Down, Input::Start) => {
                self.start_wanted(cfg, id);
                return Some(Answer::Starting);
            }
            // At once, not at the end of its delay. A throttled pool whose
            // workers run resumes.
            (Backoff { .. }, Input::Start) => {
                self.start_wanted(cfg, id);
                match self.running(id) {
                    true => self.start(cfg, id, now, fx),
                    false => self.down_unless_left(cfg, id, now, fx),
                }
                return Some(Answer::Starting);
            }

            // ---- stop -------------------------------------------------
            (Down, Input::Stop) => return Some(Answer::StoppedAlready),
            // Asked to stop: its end is no longer a failure to judge (a
            // start timeout's, or a run's whose leftovers stop).
            (Stopping { cause, .. }, Input::Stop) if !cause.by_itself() => {
                self.redecide_stop(id, now, StopCause::Asked, fx);
                return Some(Answer::StoppingAlready);
            }
            (
                Listening | Starting { .. } | Up { .. } | Stopping { .. } | Backoff { .. },
                Input::Stop,
            ) if self.has_processes(id, fx) => {
                self.stop_asked(cfg, id, now, fx);
                return Some(Answer::Stopping);
            }
            // Nothing runs (a finished oneshot, a backoff, an idle socket
            // service).
            (
                Listening | Starting { .. } | Up { .. } | Stopping { .. } | Backoff { .. },
                Input::Stop,
            ) => {
                self.set_state(id, now, Down, Told::Yes, fx);
                return Some(Answer::Stopped);
            }

            // ---- restart ----------------------------------------------
            // Once it is gone, it starts again (whatever ended it).
            (Stopping { cause, .. }, Input::Restart) if !cause.by_itself() => {
                self.want_up_with_deps(cfg, &|x| x == id);
                self.redecide_stop(id, now, StopCause::Asked, fx);
                return Some(Answer::Stopping);
            }
            (
                Down | Listening | Starting { .. } | Up { .. } | Stopping { .. } | Backoff { .. },
                Input::Restart,
            ) if self.has_processes(id, fx) => {
                self.want_up_with_deps(cfg, &|x| x == id);
                self.stop_asked(cfg, id, now, fx);
                return Some(Answer::Stopping);
            }
            // Nothing runs: a start, at once.
            (Listening | Up { pid: None } | Backoff { .. }, Input::Restart) => {
                self.start_wanted(cfg, id);
                self.down_unless_left(cfg, id, now, fx);
                return Some(Answer::Starting);
            }
            // Down: the start order starts it in this turn. (The others
            // have a process: the arm above.)
            (Down | Starting { .. } | Up { pid: Some(_) } | Stopping { .. }, Input::Restart) => {
                self.start_wanted(cfg, id);
                return Some(Answer::Starting);
            }

            // ---- signal -----------------------------------------------
            (
                Starting { pid, .. } | Up { pid: Some(pid) } | Stopping { pid: Some(pid), .. },
                Input::Signal(signal),
            ) => {
                fx.kill(pid, signal, false);
                return Some(Answer::Signalled);
            }
            // An accept service's workers (or a pool's).
            (
                Down | Listening | Up { pid: None } | Stopping { pid: None, .. } | Backoff { .. },
                Input::Signal(signal),
            ) => {
                if self.accepts[id.index()].workers == 0 {
                    return Some(Answer::NotRunning);
                }
                self.signal_workers(id, signal, fx);
                return Some(Answer::Signalled);
            }

            // ---- its main process ended -----------------------------
            (
                Starting { pid: p, .. } | Up { pid: Some(p) } | Stopping { pid: Some(p), .. },
                Input::Exited { pid, status },
            ) if p == pid => {
                let (then, signalled) = exit_leads_to(state, status, cfg.spec(id).mode);
                self.main_ended(cfg, id, status, then, signalled, now, fx);
            }
            // Not its main process (`exited` sends only a main pid here).
            (
                Down | Listening | Starting { .. } | Up { .. } | Stopping { .. } | Backoff { .. },
                Input::Exited { .. },
            ) => {}

            // ---- what its processes say ---------------------------------
            (Starting { pid: p, .. }, Input::Ready { pid }) if p == pid => {
                self.set_state(id, now, Up { pid: Some(pid) }, Told::Yes, fx);
            }
            // Already up, or a process of an earlier run.
            (
                Down | Listening | Starting { .. } | Up { .. } | Stopping { .. } | Backoff { .. },
                Input::Ready { .. },
            ) => {}
            // No signal is sent; when it ends, the restart policy decides
            // as for any other end. A stop asked for meanwhile is carried
            // out as usual.
            (Up { pid: Some(p) }, Input::StoppingItself { pid }) if p == pid => {
                let kill_at = match cfg.spec(id).stop_timeout_ms {
                    0 => None,
                    ms => Some(now.plus_ms(u64::from(ms))),
                };
                let next = Stopping {
                    pid: Some(pid),
                    kill_at,
                    cause: StopCause::ByItself,
                };
                self.set_state(id, now, next, Told::Yes, fx);
            }
            // Before it was ready its end is a failed start whatever it
            // says ("exit before ready").
            (
                Down | Listening | Starting { .. } | Up { .. } | Stopping { .. } | Backoff { .. },
                Input::StoppingItself { .. },
            ) => {}

            // ---- a connection (activate) ----------------------------------
            (Listening, Input::Connection)
                if cfg.spec(id).mode == Mode::Activate && self.halt == Halt::No =>
            {
                self.spawn(cfg, id, now, fx);
            }
            (
                Down | Listening | Starting { .. } | Up { .. } | Stopping { .. } | Backoff { .. },
                Input::Connection,
            ) => {}

            // ---- time passes ------------------------------------------
            (
                Starting {
                    pid,
                    deadline: Some(at),
                },
                Input::Tick,
            ) if at <= now => {
                self.slots[id.index()].reason = Reason::StartTimeout;
                self.stop(cfg, id, Some(pid), now, StopCause::StartTimeout, fx);
            }
            // Its main process (or last worker) is gone, and what it
            // started may be gone by now too.
            (Stopping { pid: None, .. }, Input::Tick) => {
                self.finish_when_empty(cfg, id, now, fx);
                self.kill_when_due(id, now, fx);
            }
            (Stopping { pid: Some(_), .. }, Input::Tick) => self.kill_when_due(id, now, fx),
            (Down | Listening | Starting { .. } | Up { .. } | Backoff { .. }, Input::Tick) => {}

            // ---- one of its workers ended (its counters are `accept.rs`'s)
            // The last one of a stopping service: it may be done.
            (Stopping { pid: None, .. }, Input::WorkerEnded) => {
                self.finish_when_empty(cfg, id, now, fx);
            }
            (
                Down
                | Listening
                | Starting { .. }
                | Up { .. }
                | Stopping { pid: Some(_), .. }
                | Backoff { .. },
                Input::WorkerEnded,
            ) => {}

            // ---- its turn in the start order (`order.rs`) ----------------
            (Backoff { until }, Input::Due(_)) if until > now => {}
            (Down | Backoff { .. }, Input::Due(deps)) => {
                let backoff = !matches!(state, Down);
                let want_up = self.slots[id.index()].want_up;
                if self.running(id) {
                    // A throttled pool whose workers still run: it was
                    // started already (and a running dependent is left
                    // alone when its dependencies change), so it resumes,
                    // its dependencies unchecked; if it is no longer
                    // wanted, the stop order stops its workers.
                    if want_up {
                        self.start(cfg, id, now, fx);
                    }
                } else if !want_up {
                    if backoff {
                        self.down_unless_left(cfg, id, now, fx);
                    }
                } else {
                    let slot = &mut self.slots[id.index()];
                    match deps {
                        Deps::Failed => {
                            slot.want_up = false;
                            slot.reason = Reason::Dependency;
                            self.down_unless_left(cfg, id, now, fx);
                        }
                        Deps::Ready => {
                            if backoff {
                                slot.restarts += 1;
                            }
                            self.start(cfg, id, now, fx);
                        }
                        // Its delay is over but what it waits for is not
                        // up: wait down, without a deadline (one in the
                        // past would spin the loop). The restart is
                        // counted now: it is under way.
                        Deps::Waiting if backoff => {
                            slot.restarts += 1;
                            self.down_unless_left(cfg, id, now, fx);
                        }
                        Deps::Waiting => {}
                    }
                }
            }
            (Listening | Starting { .. } | Up { .. } | Stopping { .. }, Input::Due(_)) => {}

            // ---- shutdown, or removed (`order.rs`) ------------------------
            // A process waits until every service that needs it is down.
            // An accept service stops listening at once (`polls`); in a
            // graceful shutdown its workers finish undisturbed, and a
            // oneshot that runs finishes.
            (
                Down | Listening | Starting { .. } | Up { .. } | Stopping { .. } | Backoff { .. },
                Input::Halt { blocked },
            ) if self.running(id) => {
                let fast = self.halt == Halt::Fast;
                let oneshot = cfg.spec(id).mode == Mode::Oneshot;
                let graceful = self.halt == Halt::Graceful
                    && (matches!(state, Listening) || oneshot && matches!(state, Starting { .. }));
                if (fast || !blocked) && !graceful {
                    self.stop_asked(cfg, id, now, fx);
                }
            }
            // Hurrying an orderly stop: KILL at most a second from now.
            (
                Stopping {
                    kill_at: Some(at), ..
                },
                Input::Halt { .. },
            ) if self.halt == Halt::Fast && at > now.plus_ms(FAST_KILL_MS) => {
                self.set_kill_at(id, now, Some(now.plus_ms(FAST_KILL_MS)), fx);
            }
            // Without a process there is nothing to stop (but what a
            // finished oneshot left in its cgroup); in a shutdown it still
            // goes down after what needs it, so that the log shows every
            // stop in order.
            (Up { pid: None } | Backoff { .. } | Listening, Input::Halt { blocked })
                if self.halt != Halt::Orderly && self.halt != Halt::Graceful || !blocked =>
            {
                let unblocked = self.halt == Halt::Fast || !blocked;
                self.stop_idle(cfg, id, state, now, unblocked, fx);
            }
            (
                Down | Listening | Starting { .. } | Up { .. } | Stopping { .. } | Backoff { .. },
                Input::Halt { .. },
            ) => {}

            // ---- a reload changed it (`reload.rs`) ------------------------
            (
                Down | Listening | Starting { .. } | Up { .. } | Stopping { .. } | Backoff { .. },
                Input::Changed,
            ) if self.running(id) => {
                self.stop_asked(cfg, id, now, fx);
            }
            // Listen again, with the new settings.
            (Backoff { .. } | Listening, Input::Changed) => self.down_unless_left(cfg, id, now, fx),
            (Down | Up { .. } | Starting { .. } | Stopping { .. }, Input::Changed) => {}
        }
        None
    }

    // ---- the steps decisions are made of ----------------------------------

    /// Spawn the service's process; a socket service starts listening; a
    /// pool starts its first worker (`start_pool`).
    pub(super) fn start(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        now: Instant,
        fx: &mut impl Effects,
    ) {
        let spec = cfg.spec(id);
        if spec.mode == Mode::Pool {
            return self.start_pool(cfg, id, now, fx);
        }
        if spec.mode.listens() {
            return self.set_state(id, now, State::Listening, Told::Yes, fx);
        }
        self.spawn(cfg, id, now, fx);
    }

    /// Spawn the service's process: `Starting`, or for a daemon `Up`.
    pub(super) fn spawn(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        now: Instant,
        fx: &mut impl Effects,
    ) {
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
                self.set_state(id, now, State::Starting { pid, deadline }, Told::Yes, fx);
                if matches!(spec.mode, Mode::Daemon | Mode::Activate) && spec.ready == Ready::None {
                    // Without a readiness protocol a daemon is ready once exec succeeded.
                    self.set_state(id, now, State::Up { pid: Some(pid) }, Told::Yes, fx);
                }
            }
            Err(errno) => {
                self.spawn_failed(id, errno, now);
                self.judge(cfg, id, now, false, fx);
            }
        }
    }

    /// The program of `id` could not be started: a failed run of no time.
    pub(super) fn spawn_failed(&mut self, id: ServiceId, errno: u16, now: Instant) {
        let slot = &mut self.slots[id.index()];
        slot.reason = Reason::SpawnFailed(errno);
        slot.set_last(None);
        slot.run_start = now;
    }

    /// Stop the service: its stop signal to every process of it (the main
    /// one is `pid`, if it still runs), KILL after `stop_timeout`; once
    /// nothing of it is left, what `cause` says.
    pub(super) fn stop(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        pid: Option<Pid>,
        now: Instant,
        cause: StopCause,
        fx: &mut impl Effects,
    ) {
        let spec = cfg.spec(id);
        let (signal, timeout_ms) = match self.halt {
            Halt::Fast => (SIGTERM, FAST_KILL_MS),
            Halt::No | Halt::Orderly | Halt::Graceful => {
                (spec.stop_signal, u64::from(spec.stop_timeout_ms))
            }
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
        // A stop asked for now overrides a service's own (its end is no
        // longer judged by the restart policy): a transition, even from
        // stopping by itself.
        self.set_state(
            id,
            now,
            State::Stopping {
                pid,
                kill_at,
                cause,
            },
            Told::Yes,
            fx,
        );
    }

    /// `stop` as asked for (a stop, restart, reload, removal or shutdown),
    /// its main process whatever its state has.
    pub(super) fn stop_asked(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        now: Instant,
        fx: &mut impl Effects,
    ) {
        let pid = self.slots[id.index()].state.pid();
        self.stop(cfg, id, pid, now, StopCause::Asked, fx);
    }

    /// KILL at `stop_timeout`, and again every second while anything of it
    /// is left: a process can be listed only after a KILL round (a fork in
    /// flight), or be out of reach for a while.
    fn kill_when_due(&mut self, id: ServiceId, now: Instant, fx: &mut impl Effects) {
        if let State::Stopping {
            kill_at: Some(at), ..
        } = self.slots[id.index()].state
            && at <= now
        {
            self.kill_group(id, SIGKILL, fx);
            self.set_kill_at(id, now, Some(now.plus_ms(KILL_AGAIN_MS)), fx);
        }
    }

    /// A stopping service's KILL is due at `kill_at` from now on: the same
    /// state for anyone outside.
    fn set_kill_at(
        &mut self,
        id: ServiceId,
        now: Instant,
        kill_at: Option<Instant>,
        fx: &mut impl Effects,
    ) {
        if let State::Stopping { pid, cause, .. } = self.slots[id.index()].state {
            self.set_state(
                id,
                now,
                State::Stopping {
                    pid,
                    kill_at,
                    cause,
                },
                Told::No,
                fx,
            );
        }
    }

    /// What follows a stopping service's stop is `cause` from now on (a
    /// start or stop asked for meanwhile): the same state for anyone
    /// outside.
    pub(super) fn redecide_stop(
        &mut self,
        id: ServiceId,
        now: Instant,
        cause: StopCause,
        fx: &mut impl Effects,
    ) {
        if let State::Stopping { pid, kill_at, .. } = self.slots[id.index()].state {
            self.set_state(
                id,
                now,
                State::Stopping {
                    pid,
                    kill_at,
                    cause,
                },
                Told::No,
                fx,
            );
        }
    }

    /// The main process ended; `then` is what follows once nothing of the
    /// service is left. `signalled`: it was being stopped, its stop signal
    /// sent to all of it, KILL due at that time.
    #[allow(clippy::too_many_arguments)]
    fn main_ended(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        status: ExitStatus,
        then: StopCause,
        signalled: Signalled,
        now: Instant,
        fx: &mut impl Effects,
    ) {
        self.slots[id.index()].set_last(Some(status));
        let group = self.group(id);
        self.logger_drains(cfg, id, now, fx);
        let oneshot = cfg.spec(id).mode == Mode::Oneshot;
        // A oneshot that succeeded is up with what it started (a mount
        // helper's daemon, say), until it is stopped. Only its cgroup can
        // be followed that long: a process group's number may be another's
        // by then.
        if oneshot && then == StopCause::LeftAfterSuccess {
            self.slots[id.index()].group = 0;
            self.judge(cfg, id, now, true, fx);
        } else if fx.populated(id, group) {
            // What it started lives on: it ends too before anything else
            // happens (stop signal, KILL after stop_timeout, as for a
            // stop; a tick sees the end).
            match signalled {
                Signalled::KillAt(kill_at) => {
                    let next = State::Stopping {
                        pid: None,
                        kill_at,
                        cause: then,
                    };
                    self.set_state(id, now, next, Told::Yes, fx);
                }
                Signalled::No => self.stop(cfg, id, None, now, then, fx),
            }
        } else {
            self.slots[id.index()].group = 0;
            self.finish(cfg, id, now, then, fx);
        }
    }

    /// A stopping service without a main process (and no worker left):
    /// once nothing it started is left either, what its stop cause says.
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
        if let State::Stopping { cause, .. } = self.slots[id.index()].state {
            self.slots[id.index()].group = 0;
            self.finish(cfg, id, now, cause, fx);
        }
    }

    /// Nothing of a stopping (or ended) service is left: down, started
    /// again, or judged by the restart policy, as `cause` says. (A cause
    /// "by itself" never gets here: the exit of its main process turns it
    /// into what the exit means.)
    fn finish(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        now: Instant,
        cause: StopCause,
        fx: &mut impl Effects,
    ) {
        match cause {
            StopCause::Asked | StopCause::ByItselfThenStart => {
                let wanted = self.slots[id.index()].want_up
                    && self.halt == Halt::No
                    && !cfg.spec(id).removed;
                // Started again at once if what it needs is up, else once
                // it is (the start order).
                match wanted && self.deps_ready(cfg, id) {
                    true => self.start(cfg, id, now, fx),
                    false => self.set_state(id, now, State::Down, Told::Yes, fx),
                }
            }
            StopCause::LeftAfterSuccess | StopCause::ByItself => self.judge(cfg, id, now, true, fx),
            StopCause::LeftAfterFailure | StopCause::StartTimeout => {
                self.judge(cfg, id, now, false, fx)
            }
        }
    }

    /// The main process of `id` has ended: its logger, if it waits out a
    /// backoff, starts now, to read what the service left in the pipe (a
    /// logger that is down when its service stops is started to drain the
    /// pipe).
    fn logger_drains(&mut self, cfg: &Config, id: ServiceId, now: Instant, fx: &mut impl Effects) {
        if let Log::Pipe(reader) = cfg.spec(id).log
            && cfg.is_logger(reader)
            && let State::Backoff { until } = self.slots[reader.index()].state
            && until > now
        {
            self.set_state(reader, now, State::Backoff { until: now }, Told::No, fx);
        }
    }

    /// A run ended on its own (or failed to begin): decide by policy between
    /// up (a oneshot's success), restart now, backoff, down, or giving up.
    pub(super) fn judge(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        now: Instant,
        clean: bool,
        fx: &mut impl Effects,
    ) {
        let spec = cfg.spec(id);
        let halting = self.halt != Halt::No;
        let slot = &mut self.slots[id.index()];
        if spec.mode == Mode::Oneshot && clean {
            slot.delay_ms = spec.backoff_first_ms;
            return self.set_state(id, now, State::Up { pid: None }, Told::Yes, fx);
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
                return self.set_state(id, now, State::Listening, Told::Yes, fx);
            }
            slot.reason = Reason::TriggerLimit;
            let delay = slot.delay_ms.max(1);
            slot.delay_ms = delay.saturating_mul(2).min(spec.backoff_cap_ms.max(1));
            let until = now.plus_ms(u64::from(delay));
            return self.set_state(id, now, State::Backoff { until }, Told::Yes, fx);
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
                // it is (the start order).
                match self.deps_ready(cfg, id) {
                    true => self.start(cfg, id, now, fx),
                    false => self.down_unless_left(cfg, id, now, fx),
                }
            }
            // Counted when the restart happens, in the start order.
            ms => {
                let until = now.plus_ms(u64::from(ms));
                self.set_state(id, now, State::Backoff { until }, Told::Yes, fx)
            }
        }
    }

    /// `id` has no main process nor worker: down, unless some process it
    /// started is left (in its cgroup), which is stopped first.
    pub(super) fn down_unless_left(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        now: Instant,
        fx: &mut impl Effects,
    ) {
        match fx.populated(id, None) {
            true => self.stop(cfg, id, None, now, StopCause::Asked, fx),
            false => self.set_state(id, now, State::Down, Told::Yes, fx),
        }
    }

    /// The one door for state changes: `since` follows a new state or
    /// process, a ready state clears the reason, and a transition is told.
    pub(super) fn set_state(
        &mut self,
        id: ServiceId,
        now: Instant,
        next: State,
        told: Told,
        fx: &mut impl Effects,
    ) {
        let slot = &mut self.slots[id.index()];
        let from = slot.state;
        slot.state = next;
        if !from.is_same_state(&next) || from.pid() != next.pid() {
            slot.since = now;
        }
        if next.is_ready() {
            slot.reason = Reason::None;
        }
        if told == Told::Yes {
            fx.changed(id, from, slot);
        }
    }
}

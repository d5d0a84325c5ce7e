//! What a service is at any moment: its `State` (with the data that
//! belongs to it), why it stops (`StopCause`) or is down (`Reason`), and
//! its runtime record (`Slot`), one per service in the `Supervisor`'s
//! table.

use crate::time::Instant;
use crate::unix::{ErrnoName, ExitStatus, Pid};
use core::fmt;

/// The six states of a service. Data that belongs to a state lives in it:
/// a pid exists only where a process does, a deadline only where one runs,
/// the reason for a stop only while stopping.
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
    /// Sent its stop signal, or stopping by itself; `kill_at` is when KILL
    /// follows.
    Stopping {
        /// Why it stops: what happens once nothing of it is left. (First:
        /// with `repr(u8)` fields are laid out in this order, and here the
        /// byte fits beside the tag, keeping a slot at 80 bytes.)
        cause: StopCause,
        /// The service's process (None: only what it started is left, or
        /// an accept service's workers).
        pid: Option<Pid>,
        /// When `stop_timeout` runs out (then again every second while
        /// anything of it is left); None without a timeout.
        kill_at: Option<Instant>,
    },
    /// Waiting to be restarted.
    Backoff {
        /// When the next start is due.
        until: Instant,
    },
}

/// Why a service is stopping, which decides what follows once nothing of
/// it is left (everything a service started ends with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum StopCause {
    /// Stopped on purpose (a stop, restart, reload, removal or shutdown):
    /// down, or started again if it is wanted.
    Asked = 0,
    /// Stopping by itself (`STOPPING=1`): its exit is judged by the restart
    /// policy like any end.
    ByItself,
    /// Stopping by itself, and a start was asked for meanwhile: it starts
    /// again once it has exited.
    ByItselfThenStart,
    /// Stopped for its start timeout: a failed run.
    StartTimeout,
    /// Its main process ended a successful run while other processes of it
    /// lived on; they are being stopped first.
    LeftAfterSuccess,
    /// The same after a failed run.
    LeftAfterFailure,
}

impl StopCause {
    /// The main process ended, `clean` or not, leaving others.
    pub(super) fn left_after(clean: bool) -> StopCause {
        match clean {
            true => StopCause::LeftAfterSuccess,
            false => StopCause::LeftAfterFailure,
        }
    }

    /// Stopping by itself, not asked to (its stop signal is still to come
    /// if a stop is asked for).
    pub(super) fn by_itself(self) -> bool {
        matches!(self, StopCause::ByItself | StopCause::ByItselfThenStart)
    }
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

    /// The same state as `other`, whatever the data in either (what
    /// their names tell apart).
    pub fn is_same_state(&self, other: &State) -> bool {
        core::mem::discriminant(self) == core::mem::discriminant(other)
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
    pub(super) fn deadline(&self) -> Option<Instant> {
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
        f.write_str(match *self {
            Reason::None => "-",
            Reason::GaveUp => "gave-up",
            Reason::StartTimeout => "start-timeout",
            Reason::SpawnFailed(_) => "spawn-failed:",
            Reason::Dependency => "dependency-failed",
            Reason::TriggerLimit => "trigger-limit",
            Reason::Throttled => "throttled",
        })?;
        if let Reason::SpawnFailed(errno) = *self {
            fmt::Display::fmt(&ErrnoName(errno), f)?;
        }
        Ok(())
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
    pub(super) last: u16,
    /// Why it is down or backing off.
    pub reason: Reason,
    /// The target, apart from the state (s6's "want up"): every state may
    /// be wanted or not (up and no longer wanted in a shutdown, down and
    /// wanted while what it waits for starts).
    pub(super) want_up: bool,
    /// The process group of its main process (its pid), 0 for none: what
    /// process-group containment signals, kept from the spawn until the
    /// group is seen empty (after that its number may belong to another).
    pub(super) group: i32,
    /// The next backoff delay.
    pub(super) delay_ms: u32,
    /// When the current (or last) run began.
    pub(super) run_start: Instant,
    /// Start of the `restart_window` and failures counted in it.
    pub(super) window_start: Instant,
    pub(super) window_failures: u32,
}

impl Slot {
    pub(super) const EMPTY: Slot = Slot {
        state: State::Down,
        since: Instant::from_ms(0),
        restarts: 0,
        last: 0,
        reason: Reason::None,
        want_up: false,
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

    pub(super) fn set_last(&mut self, status: Option<ExitStatus>) {
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
        matches!(
            self.state,
            State::Stopping {
                pid: None,
                cause: StopCause::LeftAfterSuccess,
                ..
            }
        )
    }
}

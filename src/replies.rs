//! Requests waiting for their result (`start` until `up`, `stop` until
//! `stopped`, `shutdown` until vigild exits) and `monitor` streams. Each
//! holds the write end of the asker's reply FIFO, opened non-blocking: a
//! reader that does not keep up loses lines, it never blocks vigild.

use crate::sys::Errno;
use crate::sys::fs::write_all;
use core::fmt::{self, Write};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use vigild_engine::config::Config;
use vigild_engine::fixed::{ArrayStr, Lossy, ServiceId};
use vigild_engine::limits::{MONITORS_MAX, REPLIES_MAX};
use vigild_engine::machine::{Reason, Slot, State};
use vigild_engine::unix::ExitStatus;

/// What a waiting request waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// `up`, or `start-failed` when the service ends up down or in backoff.
    Up(ServiceId),
    /// `stopped`.
    Down(ServiceId),
    /// vigild's exit.
    Shutdown,
}

impl Wait {
    fn service(self) -> Option<ServiceId> {
        match self {
            Wait::Up(id) | Wait::Down(id) => Some(id),
            Wait::Shutdown => None,
        }
    }

    /// The same wait, for the service's id in a new configuration.
    fn for_service(self, id: ServiceId) -> Wait {
        match self {
            Wait::Up(_) => Wait::Up(id),
            Wait::Down(_) => Wait::Down(id),
            Wait::Shutdown => Wait::Shutdown,
        }
    }
}

struct Waiter {
    fd: OwnedFd,
    wait: Wait,
    /// Resolved, answer not sent yet: answers go out only once the status
    /// file shows the state they report (`flush`), so that a script may read
    /// it as soon as `vigilctl` returns.
    outcome: Option<Outcome>,
}

/// How a waiting request was resolved.
#[derive(Clone, Copy)]
enum Outcome {
    Up,
    /// Its last exit, and why it is down or backing off.
    StartFailed(Option<ExitStatus>, Reason),
    Stopped,
    StartedAgain,
}

struct Monitor {
    fd: OwnedFd,
    lost: u32,
}

/// Every open reply FIFO.
pub struct Replies {
    waiters: [Option<Waiter>; REPLIES_MAX],
    monitors: [Option<Monitor>; MONITORS_MAX],
}

/// Write one result line; false if the reader is gone.
pub fn send(fd: BorrowedFd<'_>, line: fmt::Arguments<'_>) -> bool {
    let mut text = ArrayStr::<511>::new();
    let _ = text.write_fmt(line); // ArrayStr cuts, never fails
    let _ = text.write_str("\n");
    // Under PIPE_BUF, so the line arrives whole or not at all.
    !matches!(write_all(fd, text.as_str().as_bytes()), Err(Errno::PIPE))
}

impl Replies {
    /// None open.
    pub const fn new() -> Self {
        Replies {
            waiters: [const { None }; REPLIES_MAX],
            monitors: [const { None }; MONITORS_MAX],
        }
    }

    /// Keep `fd` until what `wait` waits for happens. Gives `fd` back when full.
    pub fn wait(&mut self, fd: OwnedFd, wait: Wait) -> Result<(), OwnedFd> {
        match self.waiters.iter_mut().find(|w| w.is_none()) {
            Some(free) => {
                *free = Some(Waiter {
                    fd,
                    wait,
                    outcome: None,
                });
                Ok(())
            }
            None => Err(fd),
        }
    }

    /// Stream every transition to `fd`. Gives `fd` back when full.
    pub fn monitor(&mut self, fd: OwnedFd) -> Result<(), OwnedFd> {
        match self.monitors.iter_mut().find(|m| m.is_none()) {
            Some(free) => {
                *free = Some(Monitor { fd, lost: 0 });
                Ok(())
            }
            None => Err(fd),
        }
    }

    /// A service changed: tell the monitors, resolve what waited for it
    /// (answered by `flush`).
    /// `line` is the transition as `status::write_transition` words it.
    pub fn changed(&mut self, id: ServiceId, line: &str, slot: &Slot) {
        for entry in self.monitors.iter_mut() {
            if let Some(m) = entry
                && !monitor_line_to(m.fd.as_fd(), &mut m.lost, format_args!("{line}"))
            {
                *entry = None;
            }
        }
        for w in self.waiters.iter_mut().flatten() {
            if w.wait.service() != Some(id) || w.outcome.is_some() {
                continue;
            }
            w.outcome = match (w.wait, slot.state) {
                (Wait::Up(_), State::Up { .. } | State::Listening) => Some(Outcome::Up),
                (Wait::Up(_), State::Down | State::Backoff { .. }) => {
                    Some(Outcome::StartFailed(slot.last(), slot.reason))
                }
                (Wait::Down(_), State::Down) => Some(Outcome::Stopped),
                (
                    Wait::Down(_),
                    State::Starting { .. }
                    | State::Up { .. }
                    | State::Backoff { .. }
                    | State::Listening,
                ) => Some(Outcome::StartedAgain),
                _ => None,
            };
        }
    }

    /// True if some request is resolved and waits for `flush`.
    pub fn has_outcomes(&self) -> bool {
        self.waiters.iter().flatten().any(|w| w.outcome.is_some())
    }

    /// Answer every resolved request (the status file is up to date).
    pub fn flush(&mut self, cfg: &Config) {
        for entry in self.waiters.iter_mut() {
            let Some(Waiter {
                fd,
                wait,
                outcome: Some(outcome),
            }) = entry
            else {
                continue;
            };
            let name = Lossy(wait.service().map_or(&b"-"[..], |id| cfg.name(id)));
            let fd = fd.as_fd();
            // The request is resolved whether or not its reader is still there.
            let _sent = match *outcome {
                Outcome::Up => send(fd, format_args!("up {name}")),
                Outcome::StartFailed(Some(last), Reason::None) => {
                    send(fd, format_args!("start-failed {name} {last}"))
                }
                Outcome::StartFailed(_, reason) => {
                    send(fd, format_args!("start-failed {name} {reason}"))
                }
                Outcome::Stopped => send(fd, format_args!("stopped {name}")),
                Outcome::StartedAgain => send(
                    fd,
                    format_args!("error {name} started again before it stopped"),
                ),
            };
            *entry = None;
        }
    }

    /// The fds to watch for a vanished reader (poll reports POLLERR on a
    /// FIFO's write end once its reader has closed it).
    pub fn fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        let waiters = self.waiters.iter().flatten().map(|w| w.fd.as_fd());
        waiters.chain(self.monitors.iter().flatten().map(|m| m.fd.as_fd()))
    }

    /// Drop the entries whose reader is gone, by their order in `fds`.
    pub fn drop_gone(&mut self, gone: &[bool]) {
        let mut i = 0;
        for entry in self.waiters.iter_mut().filter(|w| w.is_some()) {
            if gone.get(i) == Some(&true) {
                *entry = None;
            }
            i += 1;
        }
        for entry in self.monitors.iter_mut().filter(|m| m.is_some()) {
            if gone.get(i) == Some(&true) {
                *entry = None;
            }
            i += 1;
        }
    }

    /// After a reload the same service may have another id.
    pub fn remap(&mut self, new_id: impl Fn(ServiceId) -> Option<ServiceId>) {
        for entry in self.waiters.iter_mut() {
            let Some(w) = entry else { continue };
            let Some(old) = w.wait.service() else {
                continue;
            };
            match new_id(old) {
                Some(id) => w.wait = w.wait.for_service(id),
                None => *entry = None,
            }
        }
    }

    /// vigild is about to exit: answer the shutdown requests, close everything.
    pub fn finish(&mut self) {
        for w in self.waiters.iter_mut().filter_map(Option::take) {
            let word = if w.wait == Wait::Shutdown {
                "stopped vigild"
            } else {
                "error - vigild exited"
            };
            send(w.fd.as_fd(), format_args!("{word}"));
        }
        for m in self.monitors.iter_mut() {
            *m = None;
        }
    }
}

/// Write a monitor line, first saying how many were lost if any; false once
/// the reader is gone.
pub fn monitor_line_to(fd: BorrowedFd<'_>, lost: &mut u32, line: fmt::Arguments<'_>) -> bool {
    let mut text = ArrayStr::<511>::new();
    if *lost > 0 {
        let _ = writeln!(text, "lost {} lines", *lost);
    }
    let _ = text.write_fmt(line);
    let _ = text.write_str("\n");
    match write_all(fd, text.as_str().as_bytes()) {
        Ok(()) => *lost = 0,
        Err(Errno::PIPE) => return false,
        Err(_) => *lost += 1,
    }
    true
}

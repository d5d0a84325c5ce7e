//! Requests waiting for their result (`start` until `up`, `stop` until
//! `stopped`, `shutdown` until vigild exits) and `monitor` streams. Each
//! holds the write end of the asker's reply FIFO, opened non-blocking: a
//! reader that does not keep up loses lines, it never blocks vigild.
//!
//! Here the table and what a change of state does to it (every transition
//! runs it); taking a request in and sending its answer are `answers`.

use crate::sys::Errno;
use crate::sys::fs::write_all;
use core::fmt::{self, Write};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use vigild_engine::fixed::{ArrayStr, Plain, ServiceId};
use vigild_engine::limits::{MONITORS_MAX, REPLIES_MAX};
use vigild_engine::machine::{Awaited, Slot, Verdict, verdict};

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
    pub fn service(self) -> Option<ServiceId> {
        match self {
            Wait::Up(id) | Wait::Down(id) => Some(id),
            Wait::Shutdown => None,
        }
    }

    /// The same wait, for the service's id in a new configuration.
    pub fn for_service(self, id: ServiceId) -> Wait {
        match self {
            Wait::Up(_) => Wait::Up(id),
            Wait::Down(_) => Wait::Down(id),
            Wait::Shutdown => Wait::Shutdown,
        }
    }
}

pub struct Waiter {
    pub fd: OwnedFd,
    pub wait: Wait,
    /// Resolved, answer not sent yet: answers go out only once the status
    /// file shows the state they report (`flush`), so that a script may read
    /// it as soon as `vigilctl` returns.
    pub outcome: Option<Verdict>,
}

pub struct Monitor {
    pub fd: OwnedFd,
    pub lost: u32,
}

/// Every open reply FIFO.
pub struct Replies {
    pub waiters: [Option<Waiter>; REPLIES_MAX],
    pub monitors: [Option<Monitor>; MONITORS_MAX],
}

impl Replies {
    /// None open.
    pub const fn new() -> Self {
        Replies {
            waiters: [const { None }; REPLIES_MAX],
            monitors: [const { None }; MONITORS_MAX],
        }
    }

    /// A service changed: tell the monitors, resolve what waited for it
    /// (answered by `flush`).
    /// `line` is the transition as `status::write_transition` words it.
    // Not inlined into its one caller: there it costs more code than the call.
    #[inline(never)]
    pub fn changed(&mut self, id: ServiceId, line: &str, slot: &Slot) {
        for entry in self.monitors.iter_mut().filter(|_| !line.is_empty()) {
            if let Some(m) = entry
                && !monitor_line_to(m.fd.as_fd(), &mut m.lost, format_args!("{}", Plain(line)))
            {
                *entry = None;
            }
        }
        for w in self.waiters.iter_mut().flatten() {
            if w.wait.service() != Some(id) || w.outcome.is_some() {
                continue;
            }
            let awaited = match w.wait {
                Wait::Up(_) => Awaited::Up,
                Wait::Down(_) => Awaited::Down,
                Wait::Shutdown => continue,
            };
            w.outcome = verdict(awaited, slot);
        }
    }

    /// True if some request is resolved and waits for `flush`.
    pub fn has_outcomes(&self) -> bool {
        self.waiters.iter().flatten().any(|w| w.outcome.is_some())
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
}

/// Write a monitor line, first saying how many were lost if any; false once
/// the reader is gone. (Under PIPE_BUF, so the line arrives whole or not
/// at all.)
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

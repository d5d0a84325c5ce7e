//! Answering requests: a result line, a request taken in to wait for its
//! result or to monitor, the answers of resolved requests (once the status
//! file shows them, `status_file::write_then_answer`), requests followed to
//! their services' new ids after a reload, and the last answers at exit.

use super::replies::{Monitor, Replies, Wait, Waiter, monitor_line_to};
use core::fmt;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use vigild_engine::config::Config;
use vigild_engine::fixed::{Lossy, Plain, ServiceId};
use vigild_engine::machine::{Reason, Verdict};

/// Write one result line; false if the reader is gone.
pub fn send(fd: BorrowedFd<'_>, line: fmt::Arguments<'_>) -> bool {
    monitor_line_to(fd, &mut 0, line)
}

impl Replies {
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

    /// Answer every resolved request (the status file is up to date).
    // Not inlined into the hot caller: cold code, as all of this file.
    #[inline(never)]
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
                Verdict::Up => send(fd, format_args!("up {name}")),
                Verdict::StartFailed(Some(last), Reason::None) => {
                    send(fd, format_args!("start-failed {name} {last}"))
                }
                Verdict::StartFailed(_, reason) => {
                    send(fd, format_args!("start-failed {name} {reason}"))
                }
                Verdict::Stopped => send(fd, format_args!("stopped {name}")),
                Verdict::StartedAgain => send(
                    fd,
                    format_args!("error {name} started again before it stopped"),
                ),
            };
            *entry = None;
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
    // Not inlined into the hot caller: cold code, as all of this file.
    #[inline(never)]
    pub fn finish(&mut self) {
        for w in self.waiters.iter_mut().filter_map(Option::take) {
            let word = if w.wait == Wait::Shutdown {
                "stopped vigild"
            } else {
                "error - vigild exited"
            };
            send(w.fd.as_fd(), format_args!("{}", Plain(word)));
        }
        for m in self.monitors.iter_mut() {
            *m = None;
        }
    }
}

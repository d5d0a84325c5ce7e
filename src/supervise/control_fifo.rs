//! The control FIFO's read end, what was read from it cut into lines, and
//! the warnings about it, throttled (anyone who may write the FIFO could
//! flood them). Acting on the lines is `requests`.

use crate::sys::message::say;
use rustix::fd::OwnedFd;
use vigild_engine::control::LineReader;
use vigild_engine::time::Instant;

/// The control FIFO.
pub struct Control {
    /// Its read end.
    pub fd: OwnedFd,
    /// A write end held so the read end never sees end-of-file.
    pub _keep: OwnedFd,
    /// What was read, cut into lines.
    pub lines: &'static mut LineReader,
    /// Warnings about control lines.
    pub warnings: Throttle,
}

/// At most `WARNINGS_PER_SECOND` warnings of one kind a second; the next
/// one after a pause says how many were left out.
#[derive(Default)]
pub struct Throttle {
    since: Instant,
    count: u32,
    dropped: u32,
}

const WARNINGS_PER_SECOND: u32 = 5;

impl Throttle {
    /// May a warning be logged now?
    pub fn allow(&mut self, now: Instant) -> bool {
        if now.ms_since(self.since) >= 1000 {
            if self.dropped > 0 {
                say!("control: {} more errors not logged", self.dropped);
            }
            *self = Throttle {
                since: now,
                ..Throttle::default()
            };
        }
        self.count += 1;
        self.dropped += u32::from(self.count > WARNINGS_PER_SECOND);
        self.count <= WARNINGS_PER_SECOND
    }
}

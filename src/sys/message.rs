//! Messages of vigild and its tools: one line each, one write(2) each, to
//! stderr (and, while a daemon starts, to its foreground process too),
//! prefixed with the program's name (`vigild: web: up -> backoff ...`).

use super::fs::{stderr, write_all};
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicI32, Ordering::Relaxed};
use rustix::fd::BorrowedFd;
use vigild_engine::fixed::ArrayStr;

/// A second place for messages (-1: none): a daemon's start-up messages
/// also go to its foreground process.
static TEE: AtomicI32 = AtomicI32::new(-1);

/// Copy every message to `fd` as well, until `tee_messages(-1)`; the
/// caller keeps `fd` open until then.
pub fn tee_messages(fd: i32) {
    TEE.store(fd, Relaxed);
}

/// Write `prog: message` as one line to stderr (and the tee). Long lines
/// are cut, never split.
pub fn line(prog: &str, msg: fmt::Arguments<'_>) {
    let mut text = ArrayStr::<1024>::new();
    let _ = write!(text, "{prog}: {msg}"); // ArrayStr cuts, never fails
    let line = text.end_line();
    let _ = write_all(stderr(), line);
    let tee = TEE.load(Relaxed);
    if tee >= 0 {
        // SAFETY: `tee_messages`' caller keeps the fd open while it is set.
        let _ = write_all(unsafe { BorrowedFd::borrow_raw(tee) }, line);
    }
}

/// A line from vigild.
macro_rules! say {
    ($($arg:tt)*) => { $crate::sys::message::line("vigild", format_args!($($arg)*)) };
}
pub(crate) use say;

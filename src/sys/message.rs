//! Messages of vigild and its tools: one line each, one write(2) each, to
//! stderr (and, while a daemon starts, to its foreground process too),
//! prefixed with the program's name (`vigild: web: up -> backoff ...`).

use super::clock;
use super::fs::{stderr, write_all};
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering::Relaxed};
use rustix::fd::BorrowedFd;
use vigild_engine::fixed::{ArrayStr, text_of};
use vigild_engine::time::{STAMP_MAX, rfc3339};

/// `-q`: `note`s are not written.
static QUIET: AtomicBool = AtomicBool::new(false);
/// `-l FILE`: lines start with the time (a terminal or another
/// supervisor's log would add its own).
static STAMPED: AtomicBool = AtomicBool::new(false);

/// True once `stamp_lines` was called.
pub fn stamped() -> bool {
    STAMPED.load(Relaxed)
}

/// `-q`: only errors and warnings from now on.
pub fn quiet() {
    QUIET.store(true, Relaxed);
}

/// Start every line written to stderr with an RFC 3339 UTC time, as
/// `vigil-log -t rfc3339` does (the tee gets the line without it).
pub fn stamp_lines() {
    STAMPED.store(true, Relaxed);
}

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
    let mut at = 0;
    if STAMPED.load(Relaxed) {
        let (secs, nanos) = clock::wall();
        let mut stamp = [0; STAMP_MAX];
        let n = rfc3339(secs, nanos / 1_000_000, &mut stamp);
        let _ = text.write_str(text_of(&stamp[..n]));
        let _ = text.write_str(" ");
        at = n + 1;
    }
    // ArrayStr cuts, never fails.
    let _ = text.write_str(prog);
    let _ = text.write_str(": ");
    let _ = text.write_fmt(msg);
    let line = text.end_line();
    let _ = write_all(stderr(), line);
    let tee = TEE.load(Relaxed);
    if tee >= 0 {
        // SAFETY: `tee_messages`' caller keeps the fd open while it is set.
        let fd = unsafe { BorrowedFd::borrow_raw(tee) };
        let _ = write_all(fd, line.get(at..).unwrap_or_default());
    }
}

/// A line from vigild (`say!`). Not inlined: each of the many `say!`
/// then passes only its message, not the program's name too.
#[inline(never)]
pub fn said(msg: fmt::Arguments<'_>) {
    line("vigild", msg);
}

/// A line of vigild's that is neither an error nor a warning (a
/// transition, what it does): not written with `-q`.
pub fn noted(msg: fmt::Arguments<'_>) {
    if !QUIET.load(Relaxed) {
        line("vigild", msg);
    }
}

/// A note from vigild.
macro_rules! note {
    ($($arg:tt)*) => { $crate::sys::message::noted(format_args!($($arg)*)) };
}
pub(crate) use note;

/// A line from vigild.
macro_rules! say {
    ($($arg:tt)*) => { $crate::sys::message::said(format_args!($($arg)*)) };
}
pub(crate) use say;

//! vigild's own messages: one line each, one write(2) each, to stderr,
//! prefixed with the program's name (`vigild: web: up -> backoff ...`).

use crate::sys::fs::{stderr, write_all};
use core::fmt::{self, Write};
use vigild::fixed::ArrayStr;

/// Write `prog: message` as one line to stderr. Long lines are cut, never split.
pub fn line(prog: &str, msg: fmt::Arguments<'_>) {
    let mut text = ArrayStr::<1023>::new();
    let _ = write!(text, "{prog}: {msg}"); // ArrayStr cuts, never fails
    let mut out = [0u8; 1024];
    let len = text.as_str().len();
    out[..len].copy_from_slice(text.as_str().as_bytes());
    out[len] = b'\n';
    let _ = write_all(stderr(), &out[..=len]);
}

/// A line from vigild.
macro_rules! say {
    ($($arg:tt)*) => { $crate::log::line("vigild", format_args!($($arg)*)) };
}
pub(crate) use say;

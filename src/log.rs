//! vigild's own messages: one line each, one write(2) each, to stderr,
//! prefixed with the program's name (`vigild: web: up -> backoff ...`).

use crate::sys::fs::write_message;
use core::fmt::{self, Write};
use vigild_engine::fixed::ArrayStr;

/// Write `prog: message` as one line to stderr. Long lines are cut, never split.
pub fn line(prog: &str, msg: fmt::Arguments<'_>) {
    let mut text = ArrayStr::<1024>::new();
    let _ = write!(text, "{prog}: {msg}"); // ArrayStr cuts, never fails
    write_message(text.end_line());
}

/// A line from vigild.
macro_rules! say {
    ($($arg:tt)*) => { $crate::log::line("vigild", format_args!($($arg)*)) };
}
pub(crate) use say;

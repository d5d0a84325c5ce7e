//! The vocabulary shared by the engine and the driver: process ids, exit
//! statuses, signal numbers and error numbers, as plain data.

use crate::fixed::{word, word_index};
use core::fmt;

/// A process id handed out by the driver (always > 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pid(pub i32);

/// How a process ended, as `waitpid` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// `exit(code)`.
    Code(u8),
    /// Killed by this signal.
    Signal(u8),
}

impl ExitStatus {
    /// Exit code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Code(0)
    }

    /// As a shell reports it: the code, or 128+N for signal N.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Code(code) => code.into(),
            ExitStatus::Signal(sig) => 128 + i32::from(sig),
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written piece by piece: no format string to interpret. Small
        // numbers go through u32's formatter: one fewer in the binary.
        match *self {
            ExitStatus::Code(code) => {
                f.write_str("exit:")?;
                fmt::Display::fmt(&u32::from(code), f)
            }
            ExitStatus::Signal(sig) => {
                f.write_str("signal:")?;
                fmt::Display::fmt(&SignalName(sig), f)
            }
        }
    }
}

/// Linux signal names (the generic table, x86 and arm alike), signal 1
/// first. One string, not a table of (number, name) pairs: a quarter of the
/// bytes in the binary.
const SIGNALS: &str = "HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS";

/// The name of signal `n`, if it has one.
fn signal_name(n: u8) -> Option<&'static str> {
    word(SIGNALS, usize::from(n).checked_sub(1)?)
}

/// `SIGKILL`.
pub const SIGKILL: u8 = 9;

/// `TERM`, `SIGTERM` or a number 1..=64 → the signal number.
pub fn parse_signal(text: &[u8]) -> Option<u8> {
    let name = text.strip_prefix(b"SIG").unwrap_or(text);
    if let Some(i) = word_index(SIGNALS, name) {
        return Some(i as u8 + 1);
    }
    match parse_u64(text) {
        Some(n @ 1..=64) => Some(n as u8),
        _ => None,
    }
}

/// Displays a signal number by name (`TERM`), or the number if it has none.
pub struct SignalName(pub u8);

impl fmt::Display for SignalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match signal_name(self.0) {
            Some(name) => f.write_str(name),
            None => fmt::Display::fmt(&u32::from(self.0), f),
        }
    }
}

/// Displays an errno value by its symbolic name (`ENOENT`), as `reason=` shows it.
pub struct ErrnoName(pub u16);

/// The errno names vigild may show, errno 1 first, an empty name for the
/// numbers it never meets (shown as `E` and the number). One string: a
/// table of (number, name) pairs would take twice the bytes.
const ERRNOS: &str = concat!(
    // 1 to 10
    "EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD ",
    // 11 to 20
    "EAGAIN ENOMEM EACCES EFAULT ENOTBLK EBUSY EEXIST EXDEV ENODEV ENOTDIR ",
    // 21 to 30
    "EISDIR EINVAL ENFILE EMFILE ENOTTY ETXTBSY EFBIG ENOSPC ESPIPE EROFS ",
    // 31 to 40
    "EMLINK EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK ENOSYS ENOTEMPTY ELOOP ",
    // 41 to 50
    "          ",
    // 51 to 60
    "          ",
    // 61 to 70
    "ENODATA          ",
    // 71 to 80
    "EPROTO   EBADMSG EOVERFLOW      ",
    // 81 to 90
    "   EILSEQ    ENOTSOCK  EMSGSIZE ",
    // 91 to 100
    "  EPROTONOSUPPORT  EOPNOTSUPP  EAFNOSUPPORT EADDRINUSE EADDRNOTAVAIL ENETDOWN ",
    // 101 to 110
    "ENETUNREACH  ECONNABORTED ECONNRESET ENOBUFS     ETIMEDOUT ",
    // 111 to 120
    "ECONNREFUSED  EHOSTUNREACH        ",
    // 121 to 122
    " EDQUOT",
);

/// The name of errno `n`, if vigild knows it (`ErrnoName` shows others
/// as `E` and the number).
pub fn errno_name(n: u16) -> Option<&'static str> {
    word(ERRNOS, usize::from(n).wrapping_sub(1)).filter(|n| !n.is_empty())
}

impl fmt::Display for ErrnoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match errno_name(self.0) {
            Some(name) => f.write_str(name),
            None => {
                f.write_str("E")?;
                fmt::Display::fmt(&u32::from(self.0), f)
            }
        }
    }
}

/// A decimal number without sign, or `None` (also on overflow).
pub fn parse_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in text {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// ` (pid N)` after the name of a lock's holder; nothing if its pid is not
/// known yet (0: it took the lock and has not written its pid).
pub struct HolderPid(pub u32);

impl core::fmt::Display for HolderPid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            0 => Ok(()),
            pid => write!(f, " (pid {pid})"),
        }
    }
}

/// True if `path` has a `..` part: the one test of every path root opens
/// or walks (a log directory, a console's terminal, `sys::path`), kept
/// out of line so that the binary holds it once.
#[inline(never)]
pub fn climbs(path: &[u8]) -> bool {
    path.split(|&b| b == b'/').any(|p| p == b"..")
}

//! The vocabulary shared by the engine and the driver: process ids, exit
//! statuses, signal numbers and error numbers, as plain data.

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
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            // Small numbers go through u32's formatter: one fewer in the binary.
            ExitStatus::Code(code) => write!(f, "exit:{}", u32::from(code)),
            ExitStatus::Signal(sig) => write!(f, "signal:{}", SignalName(sig)),
        }
    }
}

/// Linux signal numbers (the generic table, x86 and arm alike) and their names.
const SIGNALS: &[(u8, &str)] = &[
    (1, "HUP"),
    (2, "INT"),
    (3, "QUIT"),
    (4, "ILL"),
    (5, "TRAP"),
    (6, "ABRT"),
    (7, "BUS"),
    (8, "FPE"),
    (9, "KILL"),
    (10, "USR1"),
    (11, "SEGV"),
    (12, "USR2"),
    (13, "PIPE"),
    (14, "ALRM"),
    (15, "TERM"),
    (16, "STKFLT"),
    (17, "CHLD"),
    (18, "CONT"),
    (19, "STOP"),
    (20, "TSTP"),
    (21, "TTIN"),
    (22, "TTOU"),
    (23, "URG"),
    (24, "XCPU"),
    (25, "XFSZ"),
    (26, "VTALRM"),
    (27, "PROF"),
    (28, "WINCH"),
    (29, "IO"),
    (30, "PWR"),
    (31, "SYS"),
];

/// `SIGKILL`.
pub const SIGKILL: u8 = 9;

/// `TERM`, `SIGTERM` or a number 1..=64 → the signal number.
pub fn parse_signal(text: &[u8]) -> Option<u8> {
    let name = text.strip_prefix(b"SIG").unwrap_or(text);
    if let Some(&(num, _)) = SIGNALS.iter().find(|(_, n)| n.as_bytes() == name) {
        return Some(num);
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
        match SIGNALS.iter().find(|(n, _)| *n == self.0) {
            Some((_, name)) => f.write_str(name),
            None => write!(f, "{}", u32::from(self.0)),
        }
    }
}

/// Displays an errno value by its symbolic name (`ENOENT`), as `reason=` shows it.
pub struct ErrnoName(pub u16);

const ERRNOS: &[(u16, &str)] = &[
    (1, "EPERM"),
    (2, "ENOENT"),
    (3, "ESRCH"),
    (4, "EINTR"),
    (5, "EIO"),
    (6, "ENXIO"),
    (7, "E2BIG"),
    (8, "ENOEXEC"),
    (9, "EBADF"),
    (11, "EAGAIN"),
    (12, "ENOMEM"),
    (13, "EACCES"),
    (14, "EFAULT"),
    (16, "EBUSY"),
    (17, "EEXIST"),
    (20, "ENOTDIR"),
    (21, "EISDIR"),
    (22, "EINVAL"),
    (23, "ENFILE"),
    (24, "EMFILE"),
    (26, "ETXTBSY"),
    (28, "ENOSPC"),
    (36, "ENAMETOOLONG"),
    (38, "ENOSYS"),
    (32, "EPIPE"),
    (40, "ELOOP"),
    (71, "EPROTO"),
    (95, "EOPNOTSUPP"),
    (97, "EAFNOSUPPORT"),
    (98, "EADDRINUSE"),
    (99, "EADDRNOTAVAIL"),
    (103, "ECONNABORTED"),
    (105, "ENOBUFS"),
    (111, "ECONNREFUSED"),
];

impl fmt::Display for ErrnoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match ERRNOS.iter().find(|(n, _)| *n == self.0) {
            Some((_, name)) => f.write_str(name),
            None => write!(f, "E{}", u32::from(self.0)),
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

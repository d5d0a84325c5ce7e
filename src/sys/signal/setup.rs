//! Signals set up: blocked and read from a signalfd (at start-up), every
//! disposition back at its default (at start-up, and before `crash` is
//! executed), SIGPIPE ignored.

use super::{Signals, disposition};
use crate::sys::Errno;
use crate::sys::process::errno;
use core::ffi::c_int;
use rustix::fd::{FromRawFd, OwnedFd};

impl Signals {
    /// Block every signal of `signals` (vigild's are `HANDLED`) and open a non-blocking, close-on-exec
    /// signalfd for them; SIGPIPE is ignored so that a vanished reply reader
    /// is an EPIPE, not vigild's death.
    pub fn install(signals: &[c_int]) -> Result<Signals, Errno> {
        let blocked = Signals::block(signals)?;
        set_disposition(libc::SIGPIPE, libc::SIG_IGN)?;
        Ok(blocked)
    }

    /// `install` without touching SIGPIPE (vigilctl: `monitor | head` ends
    /// it by SIGPIPE, as any filter).
    pub fn block(signals: &[c_int]) -> Result<Signals, Errno> {
        let set = super::mask(libc::SIG_BLOCK, signals);
        // signalfd4 itself: libc's wrapper adds a fallback for kernels
        // older than vigild's minimum, and costs 100 bytes more.
        let flags = libc::SFD_NONBLOCK | libc::SFD_CLOEXEC;
        // SAFETY: signalfd4 only reads the local set (the kernel's sigset
        // size); the fd it returns is ours alone.
        let fd = unsafe {
            let fd = libc::syscall(libc::SYS_signalfd4, -1, &raw const set, 8usize, flags) as c_int;
            if fd < 0 {
                return Err(Errno::from_raw_os_error(errno()));
            }
            OwnedFd::from_raw_fd(fd)
        };
        Ok(Signals { fd })
    }
}

/// Give every signal its default disposition and unblock them all, once at
/// start-up: an ignored signal survives exec, so one vigild inherited ignored
/// (SIGHUP from nohup, SIGINT from a shell's `&`) would otherwise reach every
/// service, and an inherited blocked SIGCHLD or SIGTERM would deafen vigild.
pub fn reset_inherited() {
    super::mask(libc::SIG_SETMASK, &[]);
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // Raw, because libc's wrapper refuses the signals it reserves
            // for itself.
            disposition(sig, libc::SIG_DFL);
        }
    }
}

/// Ignore SIGPIPE: a write to a vanished reader is an EPIPE.
pub fn ignore_sigpipe() {
    let _ = set_disposition(libc::SIGPIPE, libc::SIG_IGN);
}

fn set_disposition(sig: c_int, handler: libc::sighandler_t) -> Result<(), Errno> {
    match disposition(sig, handler) {
        0 => Ok(()),
        _ => Err(Errno::from_raw_os_error(errno())),
    }
}

//! Signals set up: blocked and read from a signalfd (at start-up), every
//! disposition back at its default (at start-up, and before `crash` is
//! executed), SIGPIPE ignored.

use super::Signals;
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
        // SAFETY: sigset operations on a local set; sigprocmask and
        // signalfd only read it; the fd signalfd returns is ours alone.
        let fd = unsafe {
            let mut set: libc::sigset_t = core::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &sig in signals {
                libc::sigaddset(&mut set, sig);
            }
            libc::sigprocmask(libc::SIG_BLOCK, &set, core::ptr::null_mut());
            let fd = libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
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
    // SAFETY: an empty set built by sigemptyset; no old set is requested.
    unsafe {
        let mut empty: libc::sigset_t = core::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, core::ptr::null_mut());
    }
    /// The kernel's `struct sigaction` (x86_64 and arm64 share this layout).
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let default = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: rt_sigaction with a valid struct and the kernel's
            // sigset size; SIG_DFL needs no restorer. Raw, because libc's
            // wrapper refuses the signals it reserves for itself.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    &raw const default,
                    core::ptr::null_mut::<u8>(),
                    8usize,
                )
            };
        }
    }
}

/// Ignore SIGPIPE: a write to a vanished reader is an EPIPE.
pub fn ignore_sigpipe() {
    let _ = set_disposition(libc::SIGPIPE, libc::SIG_IGN);
}

fn set_disposition(sig: c_int, handler: libc::sighandler_t) -> Result<(), Errno> {
    // SAFETY: a zeroed sigaction is valid (empty mask, no flags); the handler
    // is SIG_IGN or SIG_DFL.
    let rc = unsafe {
        let mut action: libc::sigaction = core::mem::zeroed();
        action.sa_sigaction = handler;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(sig, &action, core::ptr::null_mut())
    };
    match rc {
        0 => Ok(()),
        _ => Err(Errno::from_raw_os_error(errno())),
    }
}

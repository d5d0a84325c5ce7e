//! Signals as readable events: the signals vigild acts on are blocked and
//! read from a signalfd in the poll set. No handler ever runs, so nothing
//! runs asynchronously, and a spawn needs no signal juggling around its
//! clone (a handler would otherwise run in the child, which shares our
//! memory until it execs).

use super::Errno;
use core::ffi::c_int;
use rustix::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};

/// The signals vigild acts on. A spawned child unblocks them (and gets
/// SIGPIPE, which vigild ignores, back at its default).
pub const HANDLED: [c_int; 7] = [
    libc::SIGCHLD,
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// The signalfd.
pub struct Signals {
    fd: OwnedFd,
}

impl Signals {
    /// Block every signal of `signals` (vigild's are `HANDLED`) and open a non-blocking, close-on-exec
    /// signalfd for them; SIGPIPE is ignored so that a vanished reply reader
    /// is an EPIPE, not vigild's death.
    pub fn install(signals: &[c_int]) -> Result<Signals, Errno> {
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
                return Err(Errno::from_raw_os_error(super::process::errno()));
            }
            OwnedFd::from_raw_fd(fd)
        };
        set_disposition(libc::SIGPIPE, libc::SIG_IGN)?;
        Ok(Signals { fd })
    }

    /// The fd to poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The signals received since the last call, each once, in number order
    /// (the iterator does not borrow: acting on a signal may need all of vigild).
    pub fn drain(&self) -> impl Iterator<Item = c_int> + use<> {
        const INFO: usize = core::mem::size_of::<libc::signalfd_siginfo>();
        let mut pending = 0u64;
        let mut buf = [0u8; INFO * 8];
        while let Ok(n @ 1..) = rustix::io::read(&self.fd, &mut buf) {
            for info in buf[..n].chunks_exact(INFO) {
                // ssi_signo: the first field, a u32.
                let sig = u32::from_ne_bytes([info[0], info[1], info[2], info[3]]);
                if (1..=64).contains(&sig) {
                    pending |= 1 << (sig - 1);
                }
            }
            if n < buf.len() {
                break; // drained: no need for the read that says EAGAIN
            }
        }
        (1..65).filter(move |sig| pending & (1 << (sig - 1)) != 0)
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
        _ => Err(Errno::from_raw_os_error(super::process::errno())),
    }
}

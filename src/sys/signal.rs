//! Signals as bytes (the self-pipe trick of skalibs and nitro): the handler
//! records the signal and writes one byte to wake poll(2); the loop does the
//! real work. errno is saved and restored around the write.

use super::Errno;
use core::ffi::c_int;
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering::Relaxed};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::pipe::{PipeFlags, pipe_with};

/// The signals vigild catches. A spawned child resets exactly these (and
/// SIGPIPE, which vigild ignores) to their default dispositions.
pub const HANDLED: [c_int; 7] = [
    libc::SIGCHLD,
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
static PENDING: [AtomicBool; 65] = [const { AtomicBool::new(false) }; 65];

extern "C" fn on_signal(sig: c_int) {
    if let Some(flag) = PENDING.get(sig as usize) {
        flag.store(true, Relaxed);
    }
    let byte = sig as u8;
    // SAFETY: write(2) is async-signal-safe; WAKE_FD is set before any
    // handler is installed; errno is the thread's own and is restored so the
    // interrupted code never sees it change.
    unsafe {
        let saved = *libc::__errno_location();
        libc::write(WAKE_FD.load(Relaxed), (&raw const byte).cast(), 1);
        *libc::__errno_location() = saved;
    }
}

/// The read end of the self-pipe.
pub struct SelfPipe {
    read: OwnedFd,
    _write: OwnedFd,
}

impl SelfPipe {
    /// `pipe2(O_NONBLOCK | O_CLOEXEC)`, then `sigaction` for every signal of
    /// `HANDLED` (with SA_RESTART), and SIGPIPE ignored so that a vanished
    /// reply reader is an EPIPE, not vigild's death.
    pub fn install() -> Result<SelfPipe, Errno> {
        let (read, write) = pipe_with(PipeFlags::NONBLOCK | PipeFlags::CLOEXEC)?;
        WAKE_FD.store(rustix::fd::AsRawFd::as_raw_fd(&write), Relaxed);
        for sig in HANDLED {
            set_disposition(sig, on_signal as *const () as libc::sighandler_t)?;
        }
        set_disposition(libc::SIGPIPE, libc::SIG_IGN)?;
        Ok(SelfPipe {
            read,
            _write: write,
        })
    }

    /// The fd to poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// Empty the pipe and return the signals received since the last call
    /// (the iterator does not borrow the pipe: acting on a signal may need
    /// all of vigild).
    pub fn drain(&self) -> impl Iterator<Item = c_int> + use<> {
        let mut buf = [0u8; 256];
        while let Ok(1..) = rustix::io::read(&self.read, &mut buf) {}
        (1..65).filter(|&sig| PENDING[sig as usize].swap(false, Relaxed))
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

fn set_disposition(sig: c_int, handler: libc::sighandler_t) -> Result<(), Errno> {
    // SAFETY: a zeroed sigaction is valid (empty mask, no flags); the handler
    // is either SIG_IGN/SIG_DFL or `on_signal`, which is async-signal-safe.
    let rc = unsafe {
        let mut action: libc::sigaction = core::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(sig, &action, core::ptr::null_mut())
    };
    match rc {
        0 => Ok(()),
        _ => Err(Errno::from_raw_os_error(super::process::errno())),
    }
}

//! Signals as readable events: the signals vigild acts on are blocked and
//! read from a signalfd in the poll set. No handler ever runs, so nothing
//! runs asynchronously, and a spawn needs no signal juggling around its
//! clone (a handler would otherwise run in the child, which shares our
//! memory until it execs).
//!
//! Here what the loop runs; the set-up at start (blocking, the signalfd,
//! dispositions) is `setup`.

pub mod setup;

use core::ffi::c_int;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};

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

/// The kernel's `struct sigaction` (x86_64 and arm64 share this layout).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Set the disposition of `sig` to `handler`, SIG_DFL or SIG_IGN (no
/// handler function: it would need a restorer), with rt_sigaction itself:
/// libc's `sigaction`, with what it does for handler functions, costs the
/// binary 500 bytes more. Its result (-1 with errno set on failure). Here,
/// not in the cold `setup`: the spawned child calls it at every start.
pub fn disposition(sig: c_int, handler: libc::sighandler_t) -> libc::c_long {
    let action = KernelSigaction {
        handler,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: rt_sigaction with a valid struct and the kernel's sigset
    // size; SIG_DFL and SIG_IGN need no restorer.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            &raw const action,
            core::ptr::null_mut::<u8>(),
            8usize,
        )
    }
}

/// `how` (SIG_BLOCK, SIG_SETMASK) the signals of `signals` in the calling
/// thread's mask, with rt_sigprocmask itself (libc's sigset functions and
/// wrappers cost the binary 150 bytes more); the kernel's mask of them,
/// for a signalfd. Here for the spawned child, as `disposition`.
pub fn mask(how: c_int, signals: &[c_int]) -> u64 {
    // Signal N is bit N - 1 of the kernel's 64-bit set.
    let set = signals.iter().fold(0u64, |set, &sig| {
        set | 1u64.checked_shl(sig.wrapping_sub(1) as u32).unwrap_or(0)
    });
    // SAFETY: rt_sigprocmask reads the local set (the kernel's sigset
    // size, 8 bytes); no old set is asked for.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            how,
            &raw const set,
            core::ptr::null_mut::<u64>(),
            8usize,
        )
    };
    set
}

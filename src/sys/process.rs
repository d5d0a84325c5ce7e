//! Process-level calls: reaping, signalling, the subreaper flag, exit.

use super::Errno;
use core::ffi::{c_int, c_long};
use rustix::process::{Pid as RPid, WaitOptions, wait, waitpid};
use vigild_engine::unix::{ExitStatus, Pid};

/// `waitpid(-1, WNOHANG)`: one exited child, or `None` when none is left.
/// (Not rustix's `waitpid(None)`, which is pid 0: only our own process
/// group, and every service has a group of its own.)
pub fn reap() -> Option<(Pid, ExitStatus)> {
    loop {
        match wait(WaitOptions::NOHANG) {
            Ok(Some((pid, status))) => {
                // Stopped/continued are not reported without WUNTRACED.
                let Some(status) = ended(status) else {
                    continue;
                };
                return Some((Pid(pid.as_raw_nonzero().get()), status));
            }
            Ok(None) | Err(Errno::CHILD) => return None,
            Err(Errno::INTR) => continue,
            Err(_) => return None,
        }
    }
}

/// How a child ended, if it did (not only stopped or continued).
fn ended(status: rustix::process::WaitStatus) -> Option<ExitStatus> {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => Some(ExitStatus::Code(code as u8)),
        (None, Some(sig)) => Some(ExitStatus::Signal(sig as u8)),
        (None, None) => None,
    }
}

/// `waitpid(pid, 0)`: wait for one child (used only for a child known to be
/// exiting already).
pub fn wait_for(pid: i32) {
    if let Some(pid) = RPid::from_raw(pid) {
        while let Err(Errno::INTR) = waitpid(Some(pid), WaitOptions::empty()) {}
    }
}

/// Wait for any child to end and reap it; `Err` when there is none.
pub fn wait_any() -> Result<(), Errno> {
    wait(WaitOptions::empty()).map(drop)
}

/// `kill(pid, sig)`, or `kill(-pid, sig)` for the whole process group.
pub fn kill(pid: i32, signal: u8, group: bool) -> Result<(), Errno> {
    let target = if group { -pid } else { pid };
    let (target, signal) = (c_long::from(target), c_long::from(signal));
    // SAFETY: kill(2) takes plain integers and touches no memory of ours
    // (the system call itself, as `fcntl`: libc's wrapper costs more).
    match unsafe { libc::syscall(libc::SYS_kill, target, signal) } {
        0 => Ok(()),
        _ => Err(Errno::from_raw_os_error(errno())),
    }
}

/// True while the process group `pgid` has a member (kill with signal 0:
/// EPERM means one exists that vigild may not signal).
pub fn group_exists(pgid: i32) -> bool {
    matches!(kill(pgid, 0, true), Ok(()) | Err(Errno::PERM))
}

/// The calling thread's errno.
pub fn errno() -> i32 {
    // SAFETY: __errno_location returns the calling thread's errno slot,
    // valid for the thread's lifetime (the same on glibc and musl).
    unsafe { *libc::__errno_location() }
}

/// fcntl(2) with an integer argument, as the system call itself (-1 with
/// errno set on failure): libc's wrapper, with what it does for the
/// commands that take a pointer, costs the binary 341 bytes more. Fit for
/// the spawned child: it takes no lock.
pub fn fcntl(fd: c_int, cmd: c_int, arg: c_int) -> c_int {
    let (fd, cmd, arg) = (c_long::from(fd), c_long::from(cmd), c_long::from(arg));
    // SAFETY: only integers are passed (no command used takes a pointer);
    // an fd that is not open fails with EBADF.
    unsafe { libc::syscall(libc::SYS_fcntl, fd, cmd, arg) as c_int }
}

/// Become the reaper of orphaned descendants (when not PID 1), so that a
/// daemon's grandchildren are reaped here and never linger as zombies.
pub fn set_subreaper() -> Result<(), Errno> {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
}

/// `fork()`: `Some(child pid)` in the parent, `None` in the child. Only
/// before the loop runs (daemon mode): nothing else is going on then.
pub fn fork() -> Result<Option<i32>, Errno> {
    // fork(2) as the system call itself (clone with only the exit signal:
    // arm64 has no fork call), not libc's fork or _Fork, whose locking and
    // bookkeeping around it (the atfork handlers, the C library's locks and
    // thread list, the thread's id) cost the binary 2.5 KiB: vigild is one
    // thread, holds none of those locks, and calls nothing that reads the
    // thread's id (no raise, abort, stdio or pthread functions are linked).
    let sigchld = libc::c_long::from(libc::SIGCHLD);
    // SAFETY: the child gets a copy of our memory and returns here with 0;
    // vigild is single-threaded, so that copy is whole, and the child goes
    // on with vigild's own code.
    match unsafe { libc::syscall(libc::SYS_clone, sigchld, 0usize, 0usize, 0usize, 0usize) } {
        -1 => Err(Errno::from_raw_os_error(errno())),
        0 => Ok(None),
        pid => Ok(Some(pid as i32)),
    }
}

/// Start a new session (and leave the terminal's).
pub fn setsid() {
    let _ = rustix::process::setsid();
}

/// Wait for the child `pid` to end; its exit code (128+N for signal N).
pub fn exit_code_of(pid: i32) -> i32 {
    let Some(pid) = RPid::from_raw(pid) else {
        return 1;
    };
    loop {
        match waitpid(Some(pid), WaitOptions::empty()) {
            Err(Errno::INTR) => continue,
            Ok(Some((_, status))) => return ended(status).map_or(1, ExitStatus::shell_code),
            _ => return 1,
        }
    }
}

/// This process's id.
pub fn getpid() -> i32 {
    rustix::process::getpid().as_raw_nonzero().get()
}

/// `_exit(code)`: leave without running anything else.
pub fn exit(code: i32) -> ! {
    // SAFETY: _exit never returns and needs nothing from us.
    unsafe { libc::_exit(code) }
}

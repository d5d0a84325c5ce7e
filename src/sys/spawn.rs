//! Starting a service's process the way posix_spawn does inside musl and
//! glibc: `clone(CLONE_VM | CLONE_VFORK)` onto a small stack of our own. The
//! parent sleeps until the child has exec'd (or failed), so there is no page
//! table to copy, no pipe for the exec error (the child writes errno into
//! memory we share), and the pid we return belongs to a process that really
//! runs the program.
//!
//! Everything the child needs (argv, envp, credentials, paths) is prepared
//! by the caller before the clone; the child only makes system calls.

use super::Errno;
use super::cgroup::procs_file;
use super::user::Creds;
use core::cell::Cell;
use core::ffi::{c_char, c_int, c_void};
use core::sync::atomic::{
    AtomicBool, AtomicI32, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use vigild_engine::fixed::SliceWriter;

/// Fds a service may get beyond 0, 1 and 2: every listening socket.
pub const FDS_MAX: usize = vigild_engine::limits::LISTENERS_MAX;

/// Everything the child does between clone and exec.
pub struct Plan<'a> {
    /// NULL-terminated argument pointers; argv[0] is the program.
    pub argv: &'a [*const c_char],
    /// NULL-terminated `KEY=VALUE` pointers.
    pub envp: &'a [*const c_char],
    /// Directories searched when argv[0] has no slash (PATH).
    pub path: &'a [u8],
    /// The program to run instead (NUL-terminated), argv[0] only naming it.
    pub exe: Option<&'a [u8]>,
    /// Fds to become 0, 1 and 2.
    pub stdio: [c_int; 3],
    /// Fds to become 3, 4, ... (the listening sockets of socket activation).
    pub fds: &'a [c_int],
    /// An environment entry `LISTEN_PID=` followed by room for the digits:
    /// the child writes its own pid there (and a NUL) before exec.
    pub listen_pid: Option<&'a [Cell<u8>]>,
    /// `ready = fd:N`: (our write end of the readiness pipe, N). N is above
    /// every fd of `stdio` and `fds`.
    pub ready_fd: Option<(c_int, c_int)>,
    /// A terminal (NUL-terminated path; `"\0"`: none) to make the
    /// controlling terminal of the child's new session and its fds 0, 1
    /// and 2 (`console`).
    pub console: &'a [u8],
    /// Working directory (NUL-terminated).
    pub dir: &'a [u8],
    /// File mode creation mask.
    pub umask: u32,
    /// RLIMIT_NOFILE, 0 = unchanged.
    pub nofile: u32,
    /// Drop to this identity, if set.
    pub creds: Option<&'a Creds>,
    /// The cgroup to start it in (a directory fd), if any: the child is
    /// born there (clone3 with CLONE_INTO_CGROUP, Linux 5.7), or moves
    /// itself there before anything else (`cgroup.procs`).
    pub cgroup: Option<c_int>,
    /// Start with SIGTERM blocked (vigild's own logger, which reads it
    /// from a signalfd: a TERM that comes before it got there waits for it
    /// instead of killing it with what it still has to write).
    pub block_term: bool,
}

/// The child's memory: its stack (it runs only the code below and libc's
/// syscall wrappers, well under one page of the 16 KiB; there is no guard
/// page, so that margin is the guard) and, apart from it, the
/// buffer for PATH candidates, which only a program named without a `/`
/// touches. It lives in `.bss`, not on vigild's stack: there only the pages
/// the child really touches become resident (stack probes would touch every
/// page of a local), and the stack's one or two stay small without the
/// buffer in its frame.
#[repr(C, align(4096))]
struct ChildMemory {
    path: [u8; PATH_BUF],
    stack: [u8; CHILD_STACK],
}

/// Longest PATH candidate (PATH_MAX).
const PATH_BUF: usize = 4096;
const CHILD_STACK: usize = 16384;

static mut CHILD: ChildMemory = ChildMemory {
    path: [0; PATH_BUF],
    stack: [0; CHILD_STACK],
};
/// Clear while `CHILD` is in use. vigild is single-threaded, so it is never
/// contended there; the multi-threaded unit tests take turns on it. (True
/// when free, so that it starts out in `.data`, a page resident anyway,
/// not on a page of `.bss` of its own; `CHILD` is page-aligned so that the
/// child's few frames touch only the top page of its stack.)
static STACK_FREE: AtomicBool = AtomicBool::new(true);

struct Shared<'a> {
    plan: &'a Plan<'a>,
    /// `CHILD.path`, the child's alone while it runs.
    path: *mut [u8; PATH_BUF],
    errno: AtomicI32,
    /// The cgroup's `cgroup.procs`, written by the child to move into it
    /// (-1: none, or it is born there).
    procs: c_int,
}

/// clone3 can start a child in a cgroup (cleared once the kernel, or a
/// seccomp profile, says it cannot: then the child moves itself, which
/// costs a write to `cgroup.procs`, several ms each when they come one at
/// a time, as the kernel then waits for an RCU grace period).
static CLONE3: AtomicBool = AtomicBool::new(true);

/// The step of a start that failed, which says what its errno is about.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Step {
    /// The fork, the cgroup, the descriptors, the limits, the user.
    Setup = 0,
    /// Opening `console`.
    Console = 1,
    /// Changing to `dir`.
    Dir = 2,
    /// Executing the program.
    Exec = 3,
}

/// Start the process `plan` describes; its pid, or the errno of the step that
/// failed (exec's ENOENT, setuid's EPERM, ...) and that step. A failed child
/// has been reaped.
pub fn spawn(plan: &Plan<'_>) -> Result<i32, (Errno, Step)> {
    debug_assert!(
        plan.argv.last() == Some(&core::ptr::null())
            && plan.envp.last() == Some(&core::ptr::null())
            && plan.fds.len() <= FDS_MAX
    );
    while !STACK_FREE.swap(false, Acquire) {
        core::hint::spin_loop();
    }
    let memory = &raw mut CHILD;
    let mut shared = Shared {
        plan,
        // SAFETY: only a place is computed, nothing is read or written.
        path: unsafe { &raw mut (*memory).path },
        errno: AtomicI32::new(0),
        procs: -1,
    };
    // SAFETY: only a place is computed, nothing is read or written.
    let stack = unsafe { &raw mut (*memory).stack }.cast::<u8>();
    let pid = clone_child(plan, stack, &mut shared);
    STACK_FREE.store(true, Release);
    let pid = pid.map_err(|e| (e, Step::Setup))?;
    // The child's errno, its step in the bits above.
    match shared.errno.load(Relaxed) {
        0 => Ok(pid),
        failed => {
            super::process::wait_for(pid);
            let step =
                [Step::Setup, Step::Console, Step::Dir, Step::Exec][(failed >> 16) as usize & 3];
            Err((Errno::from_raw_os_error(failed & 0xffff), step))
        }
    }
}

/// Clone the child onto `stack` (`CHILD.stack`) to run `shared.plan`, in
/// the plan's cgroup if it has one: born there where clone3 can, else it
/// moves itself there first thing. Its pid.
fn clone_child(plan: &Plan<'_>, stack: *mut u8, shared: &mut Shared<'_>) -> Result<i32, Errno> {
    if let Some(dir) = plan.cgroup.filter(|_| CLONE3.load(Relaxed)) {
        let arg = (&raw const *shared).cast_mut().cast();
        // SAFETY: as for the clone below.
        match unsafe { clone3_into(dir, stack, arg) } {
            pid @ 0.. => return Ok(pid as i32),
            // No clone3 (before Linux 5.3, or a seccomp profile refuses
            // it: ENOSYS, or EPERM as older container runtimes answer), or
            // none that knows cgroups (before 5.7): the child moves itself
            // from now on (a real refusal to enter the cgroup is then
            // that write's).
            e if matches!(
                -e as c_int,
                libc::ENOSYS | libc::E2BIG | libc::EINVAL | libc::EPERM
            ) =>
            {
                CLONE3.store(false, Relaxed)
            }
            e => return Err(Errno::from_raw_os_error(-e as c_int)),
        }
    }
    // Open until the child has moved (CLONE_VFORK: until it has exec'd).
    let procs = plan.cgroup.map(procs_file).transpose()?;
    shared.procs = procs.as_ref().map_or(-1, rustix::fd::AsRawFd::as_raw_fd);
    let arg = (&raw const *shared).cast_mut().cast();
    // SAFETY: vigild installs no signal handler (signals arrive through a
    // signalfd), so nothing of ours can run in the child, which shares our
    // memory. CLONE_VFORK suspends us until the child has exec'd or exited,
    // so `shared` and `CHILD` (ours alone while STACK_FREE is cleared) outlive
    // every use the child makes of them; the child only makes system calls
    // and writes `shared.errno` and `CHILD.path`.
    let pid = unsafe { clone_vfork(stack, arg) };
    match pid {
        0.. => Ok(pid as i32),
        e => Err(Errno::from_raw_os_error(-e as c_int)),
    }
}

/// clone(CLONE_VM | CLONE_VFORK) onto `stack`, the child running
/// `child(arg)` there: what `libc::clone` does, with the code that runs
/// clone3 (the C library's wrapper costs the binary 450 bytes more). The
/// pid, or the negated errno.
///
/// # Safety
/// As for `clone3_into`.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
unsafe fn clone_vfork(stack: *mut u8, arg: *mut c_void) -> isize {
    let flags = (libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD) as usize;
    // SAFETY: (the caller's contract) the stack's top is inside `CHILD`.
    let top = unsafe { stack.add(CHILD_STACK) } as usize;
    // SAFETY: as in `clone3_into`: clone's first arguments are the flags
    // and the child's stack pointer (no TID or TLS flag: the others are
    // not read).
    unsafe { raw_clone(libc::SYS_clone, flags, top, child, arg) }
}

/// Elsewhere: the C library's clone.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn clone_vfork(stack: *mut u8, arg: *mut c_void) -> isize {
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
    // SAFETY: (the caller's contract) as `clone_child` says.
    match unsafe { libc::clone(child, stack.add(CHILD_STACK).cast(), flags, arg) } {
        pid @ 0.. => pid as isize,
        _ => -(super::process::errno() as isize),
    }
}

/// The argument of clone3(2).
#[repr(C)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// CLONE_INTO_CGROUP (Linux 5.7).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// clone3(CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP) onto `stack`, the
/// child running `child(arg)` there, born in the cgroup `dir`: what
/// `clone_vfork` does, but with clone3, which libc does not offer. The
/// pid, or the negated errno.
///
/// # Safety
/// As for `clone_vfork` in `clone_child`: `stack` is `CHILD.stack`, ours
/// alone, and `arg` the `Shared` that `child` reads.
unsafe fn clone3_into(dir: c_int, stack: *mut u8, arg: *mut c_void) -> isize {
    let args = CloneArgs {
        flags: (libc::CLONE_VM | libc::CLONE_VFORK) as u64 | CLONE_INTO_CGROUP,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: stack as u64,
        stack_size: CHILD_STACK as u64,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: dir as u64,
    };
    let func: extern "C" fn(*mut c_void) -> c_int = child;
    // SAFETY: (the caller's contract) the kernel starts the child on
    // `stack`'s top with our registers; it calls `child(arg)` there and
    // exits with its result (it never returns here: `child` execs or
    // `_exit`s, the exit is a last guard). The parent, suspended until the
    // child has exec'd or exited, goes on with the pid in the result
    // register; the other registers are as they were.
    unsafe {
        let args = (&raw const args) as usize;
        raw_clone(
            libc::SYS_clone3,
            args,
            core::mem::size_of::<CloneArgs>(),
            func,
            arg,
        )
    }
}

/// The system call `nr` (clone or clone3) with its first two arguments,
/// the child calling `func(arg)` on the stack it starts with and exiting
/// with its result; in the parent, the result.
#[cfg(target_arch = "x86_64")]
unsafe fn raw_clone(
    nr: libc::c_long,
    a0: usize,
    a1: usize,
    func: extern "C" fn(*mut c_void) -> c_int,
    arg: *mut c_void,
) -> isize {
    let ret: isize;
    // SAFETY: see `clone3_into`. The child's stack top is page-aligned,
    // so `call` leaves it as the ABI wants it.
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r13",
            "call r12",
            "mov edi, eax",
            "mov eax, 60",
            "syscall",
            "ud2",
            "2:",
            inlateout("rax") nr as isize => ret,
            in("rdi") a0,
            in("rsi") a1,
            in("r12") func,
            in("r13") arg,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

#[cfg(target_arch = "aarch64")]
unsafe fn raw_clone(
    nr: libc::c_long,
    a0: usize,
    a1: usize,
    func: extern "C" fn(*mut c_void) -> c_int,
    arg: *mut c_void,
) -> isize {
    let ret: isize;
    // SAFETY: see `clone3_into`. The child's stack top is page-aligned.
    unsafe {
        core::arch::asm!(
            "svc 0",
            "cbnz x0, 2f",
            "mov x29, xzr",
            "mov x0, x21",
            "blr x20",
            "mov x8, 93",
            "svc 0",
            "brk 0",
            "2:",
            inlateout("x0") a0 as isize => ret,
            in("x1") a1,
            in("x8") nr,
            in("x20") func,
            in("x21") arg,
            options(nostack),
        );
    }
    ret
}

/// Elsewhere: no clone3 here, the child moves itself.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn raw_clone(
    _nr: libc::c_long,
    _a0: usize,
    _a1: usize,
    _func: extern "C" fn(*mut c_void) -> c_int,
    _arg: *mut c_void,
) -> isize {
    -(libc::ENOSYS as isize)
}

extern "C" fn child(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Shared` of `spawn`, alive while the parent is
    // suspended by CLONE_VFORK.
    let shared = unsafe { &*arg.cast::<Shared<'_>>() };
    // SAFETY: `path` is CHILD.path, which nothing else uses while STACK_FREE
    // is cleared and the parent is suspended.
    let path = unsafe { &mut *shared.path };
    let (errno, step) = prepare_and_exec(shared.plan, shared.procs, path);
    shared
        .errno
        .store(errno.max(1) | (step as c_int) << 16, Relaxed);
    // SAFETY: _exit ends the child without touching shared libc state.
    unsafe { libc::_exit(127) }
}

/// Write `pid` in decimal and a NUL after the `LISTEN_PID=` in `entry`.
fn write_pid(entry: &[Cell<u8>], pid: c_int) {
    // The digits end before `text[10]`, the NUL (a u32 has at most 10).
    let mut text = [0u8; 11];
    let mut n = pid.unsigned_abs();
    let mut first = 10;
    for (i, digit) in text.iter_mut().enumerate().take(10).rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
        first = i;
        if n == 0 {
            break;
        }
    }
    // The parent sized `entry` for any pid (zip: no panic path).
    let cells = entry.iter().skip(b"LISTEN_PID=".len());
    for (cell, &b) in cells.zip(text.iter().skip(first)) {
        cell.set(b);
    }
}

/// Runs in the child; returns only on failure, with the errno and its step.
fn prepare_and_exec(plan: &Plan<'_>, procs: c_int, path: &mut [u8; PATH_BUF]) -> (c_int, Step) {
    let err = || (super::process::errno(), Step::Setup);
    // SAFETY: each call below is a plain system call on integers, on a
    // local buffer (the console's stat) or on memory prepared by the
    // parent (NUL-terminated paths, NULL-terminated pointer arrays) that
    // stays valid while the parent is suspended. The
    // set*id calls go through syscall(2) directly: libc's wrappers would try
    // to synchronise with other threads of a process we only share memory with.
    unsafe {
        // Into its cgroup before anything else ("0": the writer itself).
        if procs >= 0 && libc::syscall(libc::SYS_write, procs, b"0".as_ptr(), 1usize) < 0 {
            return err();
        }
        if libc::syscall(libc::SYS_setsid) < 0 {
            return err();
        }
        // vigild blocks `HANDLED` and ignores SIGPIPE; every other signal is
        // at its default already (`reset_inherited`).
        super::signal::disposition(libc::SIGPIPE, libc::SIG_DFL);
        let blocked: &[c_int] = match plan.block_term {
            true => &[libc::SIGTERM],
            false => &[],
        };
        super::signal::mask(libc::SIG_SETMASK, blocked);
        // Targets 0, 1, 2, 3, ...: a source that sits on another entry's
        // target is first moved above them all, so no dup2 clobbers it.
        let first_free = 3 + plan.fds.len() as c_int;
        // The readiness pipe first goes above its target, out of the way of
        // the moves below; it lands on N last.
        let ready = match plan.ready_fd {
            Some((source, target)) => {
                match super::process::fcntl(source, libc::F_DUPFD_CLOEXEC, target + 1) {
                    moved if moved >= 0 => Some((moved, target)),
                    _ => return err(),
                }
            }
            None => None,
        };
        let mut sources = [0; 3 + FDS_MAX];
        let entries = plan.stdio.iter().chain(plan.fds).enumerate();
        // `fds` has at most FDS_MAX entries (the contract of `spawn`).
        for (slot, (target, &source)) in sources.iter_mut().zip(entries) {
            let target = target as c_int;
            *slot = match source {
                _ if source == target || source >= first_free => source,
                _ => match super::process::fcntl(source, libc::F_DUPFD_CLOEXEC, first_free) {
                    moved if moved >= 0 => moved,
                    _ => return err(),
                },
            };
        }
        for (target, &source) in sources.iter().take(first_free as usize).enumerate() {
            let target = target as c_int;
            let placed = match source == target {
                // vigild never sets close-on-exec on 0, 1 and 2.
                true if target < 3 => 0,
                // Already in place; it must survive exec.
                true => super::process::fcntl(target, libc::F_SETFD, 0),
                false => dup_to(source, target),
            };
            if placed < 0 {
                return err();
            }
        }
        // A console service's terminal replaces 0, 1 and 2. Opened after
        // the moves above, it lands on no target; close-on-exec, it goes
        // at exec (or the readiness pipe takes its number below). Opened
        // without waiting for a modem's carrier (vigild waits for this
        // child), then blocking again for the service. The child leads a
        // new session without a terminal (setsid above), so TIOCSCTTY
        // makes this one its controlling terminal, and the kernel makes
        // the child's group (the service's) its foreground group: Ctrl-C
        // reaches what runs there. /dev/console works too: only open(2)
        // refuses to make it a controlling terminal. (Raw system calls:
        // libc's open and ioctl would add their wrappers to the binary.)
        // Only a terminal itself, never through a symlink anywhere on its
        // path, is opened (as root, before the service's user is taken): a
        // link in a directory others may write (/dev/shm) could name
        // another user's terminal, and opening some devices does something
        // (a watchdog arms). openat2 refuses every symlink on the way;
        // before Linux 5.6 only the last component is checked.
        if plan.console.len() > 1 {
            use libc::c_long;
            let flags = libc::O_RDWR
                | libc::O_NOCTTY
                | libc::O_CLOEXEC
                | libc::O_NONBLOCK
                | libc::O_NOFOLLOW;
            let (at, path) = (libc::AT_FDCWD as c_long, plan.console.as_ptr());
            let mut st: libc::stat = core::mem::zeroed();
            let nofollow = libc::AT_SYMLINK_NOFOLLOW as c_long;
            let stat = libc::syscall(libc::SYS_newfstatat, at, path, &mut st, nofollow);
            if stat < 0 || st.st_mode & libc::S_IFMT != libc::S_IFCHR {
                let errno = if stat < 0 {
                    super::process::errno()
                } else {
                    libc::ENOTTY
                };
                return (errno, Step::Console);
            }
            let mut how: libc::open_how = core::mem::zeroed();
            how.flags = flags as u64;
            how.resolve = libc::RESOLVE_NO_SYMLINKS;
            let size = core::mem::size_of::<libc::open_how>();
            let mut fd = libc::syscall(libc::SYS_openat2, at, path, &how, size) as c_int;
            if fd < 0 && super::process::errno() == libc::ENOSYS {
                fd = libc::syscall(libc::SYS_openat, at, path, flags as c_long) as c_int;
            }
            let (tty, make_controlling) = (fd as c_long, libc::TIOCSCTTY as c_long);
            if fd < 0
                || super::process::fcntl(fd, libc::F_SETFL, 0) < 0
                || libc::syscall(libc::SYS_ioctl, tty, make_controlling, 0 as c_long) < 0
                || (0..3).any(|target| dup_to(fd, target) < 0)
            {
                return (super::process::errno(), Step::Console);
            }
        }
        // Only these go to the service. close_range is a second line: every
        // other fd of vigild is close-on-exec (start-up marks the inherited
        // ones, `fs::cloexec_inherited`), so where it fails (Linux before
        // 5.9, a seccomp profile that refuses it) nothing leaks either.
        let close_from = match ready {
            Some((moved, target)) => {
                if dup_to(moved, target) < 0 {
                    return err();
                }
                if target > first_free {
                    let last = (target - 1) as u32;
                    libc::syscall(libc::SYS_close_range, first_free as u32, last, 0u32);
                }
                target + 1
            }
            None => first_free,
        };
        libc::syscall(libc::SYS_close_range, close_from as u32, u32::MAX, 0u32);
        if let Some(entry) = plan.listen_pid {
            write_pid(entry, libc::getpid());
        }
        libc::syscall(libc::SYS_umask, plan.umask as libc::mode_t);
        if plan.nofile != 0 {
            let limit = libc::rlimit {
                rlim_cur: plan.nofile.into(),
                rlim_max: plan.nofile.into(),
            };
            // prlimit64 directly: musl's setrlimit would synchronise threads.
            let resource = libc::RLIMIT_NOFILE as c_int;
            if libc::syscall(libc::SYS_prlimit64, 0, resource, &limit, 0usize) < 0 {
                return err();
            }
        }
        if let Some(c) = plan.creds
            && (libc::syscall(libc::SYS_setgroups, c.ngroups, c.groups.as_ptr()) < 0
                || libc::syscall(libc::SYS_setgid, c.gid) < 0
                || libc::syscall(libc::SYS_setuid, c.uid) < 0)
        {
            return err();
        }
        if libc::syscall(libc::SYS_chdir, plan.dir.as_ptr()) < 0 {
            return (super::process::errno(), Step::Dir);
        }
        (exec_search(plan, path), Step::Exec)
    }
}

/// dup2(2) of `source` onto `target`, a different fd (as every one of the
/// child's is), as the system call dup3 itself: libc's wrapper costs the
/// binary more, and arm64 has no dup2 call.
fn dup_to(source: c_int, target: c_int) -> c_int {
    // SAFETY: integers only; dup3 refuses equal fds, which are never asked.
    unsafe { libc::syscall(libc::SYS_dup3, source, target, 0) as c_int }
}

/// execve argv[0], searching `plan.path` when it has no slash (as execvp
/// does, but without allocating); the errno that best explains a failure.
///
/// # Safety
/// Only in the spawned child, with `plan`'s pointers valid.
unsafe fn exec_search(plan: &Plan<'_>, buf: &mut [u8; PATH_BUF]) -> c_int {
    let argv = plan.argv.as_ptr();
    let envp = plan.envp.as_ptr();
    let Some(&arg0) = plan.argv.first() else {
        return libc::ENOENT;
    };
    // SAFETY: argv[0] is a valid C string (the caller's contract).
    let program = unsafe { core::ffi::CStr::from_ptr(arg0) }.to_bytes_with_nul();
    let program = plan.exe.unwrap_or(program);
    if program.contains(&b'/') {
        // SAFETY: NUL-terminated program and NULL-terminated arrays.
        unsafe { libc::execve(program.as_ptr().cast(), argv, envp) };
        return super::process::errno();
    }
    let mut denied = false;
    for dir in plan.path.split(|&b| b == b':') {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let mut w = SliceWriter::new(&mut buf[..]);
        if w.push(dir).is_err() || w.push(b"/").is_err() || w.push(program).is_err() {
            continue; // too long for the buffer
        }
        // SAFETY: `buf` holds a NUL-terminated path (program ends in NUL).
        unsafe { libc::execve(buf.as_ptr().cast(), argv, envp) };
        match super::process::errno() {
            libc::EACCES => denied = true,
            libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG | libc::ELOOP => {}
            other => return other,
        }
    }
    if denied { libc::EACCES } else { libc::ENOENT }
}

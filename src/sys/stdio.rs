//! vigild's own fds: stdio made sure of at start, or replaced (daemon
//! mode, `-l FILE`), `/dev/null`, inherited fds closed on exec, `-d FD`
//! adopted.

use super::Errno;
use super::at::{mknodat, openat};
use super::run_dir::single_file;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};

/// `/dev/null`, close-on-exec, for the stdin (and `log = null` output) of services.
/// An initramfs has no /dev/null before devtmpfs is mounted: PID 1 makes
/// one (the open fd stays good when a mount covers /dev).
pub fn devnull() -> Result<OwnedFd, Errno> {
    let open = || {
        openat(
            CWD,
            b"/dev/null",
            OFlags::RDWR | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    match open() {
        Err(Errno::NOENT) if super::process::getpid() == 1 => {
            let dev = rustix::fs::makedev(1, 3);
            mknodat(
                CWD,
                b"/dev/null",
                FileType::CharacterDevice,
                Mode::from_raw_mode(0o666),
                dev,
            )?;
            // The umask (022 for init) took the write bits of others.
            rustix::fs::chmodat(
                CWD,
                c"/dev/null",
                Mode::from_raw_mode(0o666),
                AtFlags::empty(),
            )?;
            open()
        }
        opened => opened,
    }
}

/// Make sure fds 0, 1 and 2 are open (a closed one would be taken by the
/// next file vigild opens and leak into every service as its stdio): the
/// console for PID 1, else /dev/null. An initramfs may have neither yet;
/// then `/`, read-only, holds the place (writes to it fail harmlessly).
pub fn ensure_stdio() {
    let console = if super::process::getpid() == 1 {
        b"/dev/console" as &[u8]
    } else {
        b"/dev/null"
    };
    for fd in 0..3 {
        // SAFETY: fds 0..3 are only probed here; a BorrowedFd never closes.
        let probe = unsafe { BorrowedFd::borrow_raw(fd) };
        if rustix::io::fcntl_getfd(probe) == Err(Errno::BADF) {
            // The lowest free fd is `fd` itself; keep it open for good.
            let opened = [
                (console, OFlags::RDWR),
                (b"/dev/null", OFlags::RDWR),
                (b"/", OFlags::RDONLY),
            ]
            .into_iter()
            .find_map(|(path, flags)| {
                openat(CWD, path, flags | OFlags::NOCTTY, Mode::empty()).ok()
            });
            core::mem::forget(opened);
        }
    }
}

/// Make `fd` vigild's stdin, or its stdout and stderr.
pub fn replace_stdio(fd: BorrowedFd<'_>, input: bool) {
    let _ = match input {
        true => rustix::stdio::dup2_stdin(fd),
        false => rustix::stdio::dup2_stdout(fd).and(rustix::stdio::dup2_stderr(fd)),
    };
}

/// `-l FILE`: where a daemon's stdout and stderr go (appended, created
/// 0600, never through a symlink root does not own, `path::open_file`:
/// vigild runs as root, the file's directory may not be root's alone). It
/// must be a regular file with no other name (`single_file`); a FIFO is
/// refused, not waited on.
pub fn open_log_file(path: &[u8]) -> Result<OwnedFd, Errno> {
    let flags =
        OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let fd = super::path::open_file(path, flags, Mode::from_raw_mode(0o600))?;
    single_file(fd.as_fd())?;
    rustix::fs::fcntl_setfl(&fd, OFlags::WRONLY | OFlags::APPEND)?;
    Ok(fd)
}

/// Mark every fd above 2 close-on-exec, so nothing vigild inherited leaks
/// into services: close_range(CLOSE_RANGE_CLOEXEC) (Linux 5.11), else
/// (an older kernel, or a seccomp profile that refuses it) each fd listed
/// in /proc/self/fd, else each fd below the fd limit. False if
/// close_range was refused (said once at start-up).
pub fn cloexec_inherited() -> bool {
    // SAFETY: close_range only changes fd flags; no memory is involved.
    let done = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    } == 0;
    if !done && !cloexec_listed() {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(1 << 20)
            .min(1 << 20) as i32;
        (3..limit).for_each(set_cloexec);
    }
    done
}

/// Mark each fd above 2 that /proc/self/fd lists; false without /proc.
fn cloexec_listed() -> bool {
    each_open_fd(&mut set_cloexec)
}

/// Call `each` with every fd above 2 that /proc/self/fd lists (and the
/// listing's own); false without /proc.
pub fn each_open_fd(each: &mut dyn FnMut(i32)) -> bool {
    let Ok(list) = openat(
        CWD,
        b"/proc/self/fd",
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return false;
    };
    let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 1024];
    let mut entries = rustix::fs::RawDir::new(&list, &mut buf);
    while let Some(Ok(entry)) = entries.next() {
        if let Some(fd @ 3..=0x7fff_ffff) =
            vigild_engine::unix::parse_u64(entry.file_name().to_bytes())
        {
            each(fd as i32);
        }
    }
    true
}

/// Set FD_CLOEXEC on `fd` if it is open.
fn set_cloexec(fd: i32) {
    super::process::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
}

/// Take ownership of a raw fd handed to vigild (`-d FD`), if it is open.
pub fn adopt(fd: i32) -> Option<OwnedFd> {
    if fd < 0 {
        return None;
    }
    // SAFETY: only probed with fcntl(F_GETFD); nothing is closed (a
    // negative number is no fd: refused above).
    let probe = unsafe { BorrowedFd::borrow_raw(fd) };
    rustix::io::fcntl_getfd(probe).ok()?;
    // SAFETY: the fd is open, was given to vigild for this use (by -d), and
    // nothing else in vigild owns it.
    Some(unsafe { <OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(fd) })
}

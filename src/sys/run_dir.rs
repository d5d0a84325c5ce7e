//! The run directory and the files vigild and its tools make where others
//! may reach: the directory itself, its lock (and vigil-log's), the control
//! FIFO, reply FIFOs (vigild's end and vigilctl's). Nothing here follows a
//! symlink where vigild creates or opens its own files (the README's Security).

use super::Errno;
use super::at::{mkdirat, mknodat, openat, statat};
use super::fs::write_all;
use core::ffi::CStr;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, fchmod, fstat};
use rustix::io::read;

/// Why the run directory or its FIFO cannot be used.
#[derive(Debug)]
pub enum RunDirError {
    /// A system call failed.
    Sys(&'static str, Errno),
    /// The path exists but is not what vigild would have made.
    Foreign(&'static str),
    /// Another vigild reads the control FIFO.
    InUse,
}

/// The run directory: made (mode 0700) if missing; an existing one is used
/// only if it is a real directory (no symlink) owned by vigild's user that
/// no one else may write to. Its mode is never changed: `-r /tmp` must not
/// turn /tmp into a private directory.
pub fn open_run_dir(path: &[u8]) -> Result<OwnedFd, RunDirError> {
    match mkdirat(CWD, path, Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(RunDirError::Sys("create", e)),
    }
    let dir = openat(
        CWD,
        path,
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::LOOP | Errno::NOTDIR => RunDirError::Foreign("not a directory (or a symlink)"),
        e => RunDirError::Sys("open", e),
    })?;
    let st = fstat(&dir).map_err(|e| RunDirError::Sys("stat", e))?;
    if st.st_uid != rustix::process::geteuid().as_raw() {
        return Err(RunDirError::Foreign("not owned by vigild's user"));
    }
    if st.st_mode & 0o022 != 0 {
        return Err(RunDirError::Foreign(
            "others may write to it (make it 0700, or use another)",
        ));
    }
    Ok(dir)
}

/// The device and inode of the open file `fd` ((0, 0) if fstat fails).
pub fn identity(fd: BorrowedFd<'_>) -> (u64, u64) {
    fstat(fd).map_or((0, 0), |st| (st.st_dev, st.st_ino))
}

/// Remove a private run directory (container mode) at exit: vigild's
/// files in it, then the directory if nothing else is left.
///
/// Not inlined: the path's conversion takes a page of stack, which would
/// be in the frame of the caller, whose frame lives as long as the loop.
#[inline(never)]
pub fn remove_run_dir(dir: BorrowedFd<'_>, path: &[u8]) {
    for name in [b"control" as &[u8], b"status", b"status.tmp", b"lock"] {
        let _ = super::at::unlinkat(dir, name, AtFlags::empty());
    }
    let _ = super::at::unlinkat(CWD, path, AtFlags::REMOVEDIR);
}

/// Remove the reply FIFOs (`reply.PID`) of vigilctls that are gone: one
/// killed by KILL leaves its FIFO behind. At start-up, under the lock.
pub fn remove_stale_replies(dir: BorrowedFd<'_>) {
    let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC;
    let Ok(list) = openat(dir, b".", flags, Mode::empty()) else {
        return;
    };
    let _ = super::dir::each_entry(list, &mut |name| {
        let pid = name.strip_prefix(b"reply.");
        if let Some(pid @ 1..=0x7fff_ffff) = pid.and_then(vigild_engine::unix::parse_u64)
            && super::process::kill(pid as i32, 0, false) == Err(Errno::SRCH)
        {
            let _ = super::at::unlinkat(dir, name, AtFlags::empty());
        }
    });
}

/// The control FIFO: created 0600, or reused if it is a FIFO of ours that no
/// other vigild reads. Returns the read end and a write end vigild holds so
/// that the read end never reports end-of-file between writers.
pub fn open_control(dir: BorrowedFd<'_>) -> Result<(OwnedFd, OwnedFd), RunDirError> {
    match mknodat(
        dir,
        b"control",
        FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    ) {
        Ok(()) => {}
        Err(Errno::EXIST) => {
            let st = statat(dir, b"control", AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| RunDirError::Sys("stat the control FIFO", e))?;
            if FileType::from_raw_mode(st.st_mode) != FileType::Fifo
                || st.st_uid != rustix::process::geteuid().as_raw()
            {
                return Err(RunDirError::Foreign(
                    "the control path exists and is not a FIFO owned by vigild's user",
                ));
            }
            // A writer can open a FIFO without blocking only if it has a reader.
            if openat(
                dir,
                b"control",
                OFlags::WRONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .is_ok()
            {
                return Err(RunDirError::InUse);
            }
        }
        Err(e) => return Err(RunDirError::Sys("create the control FIFO", e)),
    }
    let flags = OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let read_end = openat(dir, b"control", flags | OFlags::RDONLY, Mode::empty())
        .map_err(|e| RunDirError::Sys("open the control FIFO", e))?;
    if FileType::from_raw_mode(
        fstat(&read_end)
            .map_err(|e| RunDirError::Sys("stat the control FIFO", e))?
            .st_mode,
    ) != FileType::Fifo
    {
        return Err(RunDirError::Foreign("the control path is not a FIFO"));
    }
    fchmod(&read_end, Mode::from_raw_mode(0o600))
        .map_err(|e| RunDirError::Sys("chmod the control FIFO", e))?;
    let write_end = openat(dir, b"control", flags | OFlags::WRONLY, Mode::empty())
        .map_err(|e| RunDirError::Sys("open the control FIFO", e))?;
    Ok((read_end, write_end))
}

/// Open a reply FIFO for writing without blocking: its directory walked
/// as `path::open_dir` walks it (no symlink a user owns on the way), the
/// FIFO itself never a symlink. It must be a FIFO with a reader, and not
/// vigild's own `control` (what went there would be read as requests: a
/// service's ring by `log NAME`), EPERM for that. It is looked at before
/// it is opened for writing, through an `O_PATH` handle reopened by
/// /proc/self/fd, so that nothing else is ever opened for writing (a
/// device swapped in for the FIFO: opening one can act). Without /proc
/// (PID 1 early) it is opened by name, then looked at.
pub fn open_reply(path: &[u8], control: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    let (dir, name) = super::path::open_parent(path)?;
    let write = OFlags::WRONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let handle = openat(
        dir.as_fd(),
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let own = fstat(control)?;
    let is_fifo = |fd: BorrowedFd<'_>| -> Result<(), Errno> {
        let st = fstat(fd)?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Fifo if (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino) => {
                Err(Errno::PERM)
            }
            FileType::Fifo => Ok(()),
            _ => Err(Errno::NOTSUP),
        }
    };
    is_fifo(handle.as_fd())?;
    let mut proc_path = vigild_engine::fixed::ArrayStr::<32>::new();
    // An open fd is not negative: u32 spares the binary i32's formatter.
    let raw = rustix::fd::AsRawFd::as_raw_fd(&handle) as u32;
    let _ = core::fmt::Write::write_fmt(&mut *proc_path, format_args!("/proc/self/fd/{raw}"));
    let fd = match openat(CWD, proc_path.as_str().as_bytes(), write, Mode::empty()) {
        Err(Errno::NOENT) => openat(dir.as_fd(), name, write | OFlags::NOFOLLOW, Mode::empty())?,
        opened => opened?,
    };
    is_fifo(fd.as_fd())?;
    Ok(fd)
}

/// Ok if `fd` is a regular file with one name: not a FIFO or device (EINVAL),
/// nor a hard link someone made in a directory they may write to, to a file
/// of root's (EMLINK).
pub fn single_file(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let st = fstat(fd)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(Errno::INVAL);
    }
    match st.st_nlink {
        1 => Ok(()),
        _ => Err(Errno::MLINK),
    }
}

/// Why a lock was not taken.
pub enum LockError {
    /// A system call failed.
    Sys(Errno),
    /// Another process holds it: its pid (0 if unknown).
    Held(u32),
}

/// Take `lock` in the run directory and write our pid into it. Another
/// vigild's lock is refused before anything of the run directory is
/// touched. Taken, the status file goes: one that a killed vigild left
/// shows its services `up` with pids that nobody supervises any more (and
/// that start-up ends), and readers would take them for this vigild's
/// until its first status is written.
pub fn lock_run_dir(dir: BorrowedFd<'_>) -> Result<OwnedFd, LockError> {
    let fd = lock_file(dir, c"lock", 0o600)?;
    write_pid(fd.as_fd()).map_err(LockError::Sys)?;
    let _ = super::at::unlinkat(dir, b"status", AtFlags::empty());
    Ok(fd)
}

/// Take an fcntl write lock on the file `name` of `dir` (made with `mode`
/// if missing; never a symlink, nor a hard link to another file), held as
/// long as the fd is open. The holder of a lock taken already is named by
/// the pid it wrote there (`write_pid`).
pub fn lock_file(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> Result<OwnedFd, LockError> {
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let fd =
        rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(mode)).map_err(LockError::Sys)?;
    // Written to: not a hard link to another file.
    single_file(fd.as_fd()).map_err(LockError::Sys)?;
    if let Err(e) =
        rustix::fs::fcntl_lock(&fd, rustix::fs::FlockOperation::NonBlockingLockExclusive)
    {
        if e != Errno::AGAIN && e != Errno::ACCESS {
            return Err(LockError::Sys(e));
        }
        let mut buf = [0u8; 16];
        let n = read(&fd, &mut buf).unwrap_or(0);
        let text = buf.get(..n).unwrap_or_default();
        let digits = text.split(|&b| b == b'\n').next().unwrap_or_default();
        return Err(LockError::Held(
            vigild_engine::unix::parse_u64(digits).unwrap_or(0) as u32,
        ));
    }
    Ok(fd)
}

/// Replace what the lock file `fd` holds with our pid.
pub fn write_pid(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let mut pid = vigild_engine::fixed::ArrayStr::<16>::new();
    let _ = core::fmt::Write::write_fmt(
        &mut *pid,
        format_args!("{}\n", super::process::getpid() as u32),
    );
    let _ = rustix::fs::ftruncate(fd, 0);
    write_all(fd, pid.as_str().as_bytes())
}

/// Create a FIFO at `path`, mode 0600 (vigilctl's reply FIFO).
pub fn mkfifo(path: &[u8]) -> Result<(), Errno> {
    mknodat(CWD, path, FileType::Fifo, Mode::from_raw_mode(0o600), 0)
}

/// Remove `path`.
pub fn unlink(path: &[u8]) {
    let _ = super::at::unlinkat(CWD, path, AtFlags::empty());
}

/// Open a FIFO for reading without blocking (vigilctl's end of a reply).
pub fn open_fifo_read(path: &[u8]) -> Result<OwnedFd, Errno> {
    openat(
        CWD,
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Open a FIFO for writing without blocking: `NXIO` means nobody reads it.
pub fn open_fifo_write(path: &[u8]) -> Result<OwnedFd, Errno> {
    openat(
        CWD,
        path,
        OFlags::WRONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

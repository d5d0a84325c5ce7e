//! Files of the run directory and friends. Nothing here follows a symlink
//! where vigild creates or opens its own files (SPEC §9).

use super::Errno;
use core::ffi::CStr;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{
    AtFlags, CWD, FileType, Mode, OFlags, fchmod, fstat, mkdirat, mknodat, openat, renameat, statat,
};
use rustix::io::{read, retry_on_intr, write};

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
    for name in ["control", "status", "status.tmp", "lock"] {
        let _ = rustix::fs::unlinkat(dir, name, AtFlags::empty());
    }
    let _ = rustix::fs::unlinkat(CWD, path, AtFlags::REMOVEDIR);
}

/// The control FIFO: created 0600, or reused if it is a FIFO of ours that no
/// other vigild reads. Returns the read end and a write end vigild holds so
/// that the read end never reports end-of-file between writers.
pub fn open_control(dir: BorrowedFd<'_>) -> Result<(OwnedFd, OwnedFd), RunDirError> {
    match mknodat(
        dir,
        "control",
        FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    ) {
        Ok(()) => {}
        Err(Errno::EXIST) => {
            let st = statat(dir, "control", AtFlags::SYMLINK_NOFOLLOW)
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
                "control",
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
    let read_end = openat(dir, "control", flags | OFlags::RDONLY, Mode::empty())
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
    let write_end = openat(dir, "control", flags | OFlags::WRONLY, Mode::empty())
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
        &dir,
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
    let raw = rustix::fd::AsRawFd::as_raw_fd(&handle);
    let _ = core::fmt::Write::write_fmt(&mut proc_path, format_args!("/proc/self/fd/{raw}"));
    let fd = match openat(CWD, proc_path.as_str(), write, Mode::empty()) {
        Err(Errno::NOENT) => openat(&dir, name, write | OFlags::NOFOLLOW, Mode::empty())?,
        opened => opened?,
    };
    is_fifo(fd.as_fd())?;
    Ok(fd)
}

/// Open `path` for reading (close-on-exec).
pub fn open_read(path: &[u8]) -> Result<OwnedFd, Errno> {
    openat(CWD, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
}

/// Read the whole file at `path` into `buf`; its length, or `FBIG` if it
/// does not fit. A FIFO is read until its writers close it; one without
/// a writer is empty (the open does not wait for one).
pub fn read_file(path: &[u8], buf: &mut [u8]) -> Result<usize, Errno> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let fd = openat(CWD, path, flags, Mode::empty())?;
    rustix::fs::fcntl_setfl(&fd, OFlags::empty())?;
    let mut len = 0;
    loop {
        if len == buf.len() {
            return Err(Errno::FBIG);
        }
        match retry_on_intr(|| read(&fd, &mut buf[len..]))? {
            0 => return Ok(len),
            n => len += n,
        }
    }
}

/// Write all of `bytes`, retrying short writes; `EAGAIN` is returned as is.
pub fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> Result<(), Errno> {
    while !bytes.is_empty() {
        let n = retry_on_intr(|| write(fd, bytes))?;
        bytes = &bytes[n..];
    }
    Ok(())
}

/// A file written under a temporary name and renamed into place, so readers
/// see the old or the new content, never a mix.
pub struct AtomicFile<'a> {
    dir: BorrowedFd<'a>,
    fd: Option<OwnedFd>,
    /// The caller's buffer (not ours, so that it is not copied around).
    buf: &'a mut [u8],
    len: usize,
    failed: Option<Errno>,
}

impl<'a> AtomicFile<'a> {
    /// Create (truncate) `tmp` in `dir`, mode 0644, never through a link.
    /// (Names as `CStr`: rustix would copy a `&str` into a 4 KiB buffer on
    /// the stack, pages that would then stay resident.)
    pub fn create(dir: BorrowedFd<'a>, tmp: &CStr, buf: &'a mut [u8]) -> Result<Self, Errno> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = openat(dir, tmp, flags, Mode::from_raw_mode(0o644))?;
        Ok(AtomicFile {
            dir,
            fd: Some(fd),
            buf,
            len: 0,
            failed: None,
        })
    }

    /// Append bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > self.buf.len() {
            self.flush();
        }
        if bytes.len() > self.buf.len() {
            self.write(bytes);
        } else {
            self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        }
    }

    /// Write what is left and rename `tmp` to `name`.
    pub fn commit(mut self, tmp: &CStr, name: &CStr) -> Result<(), Errno> {
        self.flush();
        self.fd = None;
        if let Some(e) = self.failed {
            return Err(e);
        }
        renameat(self.dir, tmp, self.dir, name)
    }

    fn flush(&mut self) {
        let failed = write_once(&self.fd, self.failed, &self.buf[..self.len]);
        self.failed = failed;
        self.len = 0;
    }

    fn write(&mut self, bytes: &[u8]) {
        self.failed = write_once(&self.fd, self.failed, bytes);
    }
}

/// Write `bytes` unless an earlier write failed; the first failure.
fn write_once(fd: &Option<OwnedFd>, failed: Option<Errno>, bytes: &[u8]) -> Option<Errno> {
    match (fd, failed) {
        (Some(fd), None) => write_all(fd.as_fd(), bytes).err(),
        _ => failed,
    }
}

impl core::fmt::Write for AtomicFile<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

/// `/dev/null`, close-on-exec, for the stdin (and `log = null` output) of services.
/// An initramfs has no /dev/null before devtmpfs is mounted: PID 1 makes
/// one (the open fd stays good when a mount covers /dev).
pub fn devnull() -> Result<OwnedFd, Errno> {
    let open = || {
        openat(
            CWD,
            "/dev/null",
            OFlags::RDWR | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    match open() {
        Err(Errno::NOENT) if super::process::getpid() == 1 => {
            let dev = rustix::fs::makedev(1, 3);
            mknodat(
                CWD,
                "/dev/null",
                FileType::CharacterDevice,
                Mode::from_raw_mode(0o666),
                dev,
            )?;
            // The umask (022 for init) took the write bits of others.
            rustix::fs::chmodat(
                CWD,
                "/dev/null",
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
        "/dev/console"
    } else {
        "/dev/null"
    };
    for fd in 0..3 {
        // SAFETY: fds 0..3 are only probed here; a BorrowedFd never closes.
        let probe = unsafe { BorrowedFd::borrow_raw(fd) };
        if rustix::io::fcntl_getfd(probe) == Err(Errno::BADF) {
            // The lowest free fd is `fd` itself; keep it open for good.
            let opened = [
                (console, OFlags::RDWR),
                ("/dev/null", OFlags::RDWR),
                ("/", OFlags::RDONLY),
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

/// A second place for vigild's messages (-1: none): a daemon's start-up
/// messages also go to its foreground process.
static TEE: core::sync::atomic::AtomicI32 = core::sync::atomic::AtomicI32::new(-1);

/// Copy every message to `fd` as well, until `tee_messages(-1)`; the
/// caller keeps `fd` open until then.
pub fn tee_messages(fd: i32) {
    TEE.store(fd, core::sync::atomic::Ordering::Relaxed);
}

/// Write one message line to stderr (and the tee).
pub fn write_message(line: &[u8]) {
    let _ = write_all(stderr(), line);
    let tee = TEE.load(core::sync::atomic::Ordering::Relaxed);
    if tee >= 0 {
        // SAFETY: `tee_messages`' caller keeps the fd open while it is set.
        let _ = write_all(unsafe { BorrowedFd::borrow_raw(tee) }, line);
    }
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
/// touched.
pub fn lock_run_dir(dir: BorrowedFd<'_>) -> Result<OwnedFd, LockError> {
    let fd = lock_file(dir, c"lock", 0o600)?;
    write_pid(fd.as_fd()).map_err(LockError::Sys)?;
    Ok(fd)
}

/// Take an fcntl write lock on the file `name` of `dir` (made with `mode`
/// if missing; never a symlink, nor a hard link to another file), held as
/// long as the fd is open. The holder of a lock taken already is named by
/// the pid it wrote there (`write_pid`).
pub fn lock_file(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> Result<OwnedFd, LockError> {
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let fd = openat(dir, name, flags, Mode::from_raw_mode(mode)).map_err(LockError::Sys)?;
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
        &mut pid,
        format_args!("{}\n", super::process::getpid() as u32),
    );
    let _ = rustix::fs::ftruncate(fd, 0);
    write_all(fd, pid.as_str().as_bytes())
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
    let Ok(list) = openat(
        CWD,
        "/proc/self/fd",
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
            set_cloexec(fd as i32);
        }
    }
    true
}

/// Set FD_CLOEXEC on `fd` if it is open.
fn set_cloexec(fd: i32) {
    // SAFETY: fcntl on an integer; an fd that is not open fails with EBADF.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
}

/// Create a FIFO at `path`, mode 0600 (vigilctl's reply FIFO).
pub fn mkfifo(path: &[u8]) -> Result<(), Errno> {
    mknodat(CWD, path, FileType::Fifo, Mode::from_raw_mode(0o600), 0)
}

/// Remove `path`.
pub fn unlink(path: &[u8]) {
    let _ = rustix::fs::unlinkat(CWD, path, AtFlags::empty());
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

/// Standard error (kept open for the whole run by `ensure_stdio`).
pub fn stderr() -> BorrowedFd<'static> {
    // SAFETY: fd 2 is open from `ensure_stdio` on and never closed.
    unsafe { BorrowedFd::borrow_raw(2) }
}

/// Standard input.
pub fn stdin() -> BorrowedFd<'static> {
    // SAFETY: fd 0 is open from `ensure_stdio` on and never closed.
    unsafe { BorrowedFd::borrow_raw(0) }
}

/// Standard output.
pub fn stdout() -> BorrowedFd<'static> {
    // SAFETY: fd 1 is open from `ensure_stdio` on and never closed.
    unsafe { BorrowedFd::borrow_raw(1) }
}

/// Take ownership of a raw fd handed to vigild (`-d FD`), if it is open.
pub fn adopt(fd: i32) -> Option<OwnedFd> {
    // SAFETY: only probed with fcntl(F_GETFD); nothing is closed.
    let probe = unsafe { BorrowedFd::borrow_raw(fd) };
    rustix::io::fcntl_getfd(probe).ok()?;
    // SAFETY: the fd is open, was given to vigild for this use (by -d), and
    // nothing else in vigild owns it.
    Some(unsafe { <OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(fd) })
}

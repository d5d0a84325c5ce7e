//! Reading and writing files: a whole file, a file line by line, a file
//! replaced whole under its name (the status file), and the standard fds.

use super::Errno;
use super::at::openat;
use core::ffi::CStr;
use core::ops::ControlFlow;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{CWD, Mode, OFlags, renameat};
use rustix::io::{read, retry_on_intr, write};
use vigild_engine::fixed::{SliceWriter, move_to_start, without_nul};

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
    read_all(fd.as_fd(), buf)
}

/// Open `name` (in `dir`) to read, only if it is a plain file: regular,
/// with one link, not reached through a symlink (else `PERM`, `LOOP`),
/// without waiting for a FIFO's writer or taking a terminal. For files in
/// a directory others may write (a service's log directory, one being
/// imported): what is read is what the directory holds, nothing it
/// points to, and nothing can make the reader hang.
pub fn open_plain(dir: BorrowedFd<'_>, name: &[u8]) -> Result<OwnedFd, Errno> {
    let flags =
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::NOCTTY;
    let file = super::at::openat(dir, name, flags, Mode::empty())?;
    let st = rustix::fs::fstat(&file)?;
    match rustix::fs::FileType::from_raw_mode(st.st_mode).is_file() && st.st_nlink == 1 {
        true => Ok(file),
        false => Err(Errno::PERM),
    }
}

/// Read `fd` to its end into `buf`; the length, or `FBIG` if it does not
/// fit.
pub fn read_all(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut len = 0;
    loop {
        if len == buf.len() {
            return Err(Errno::FBIG);
        }
        match retry_on_intr(|| read(fd, &mut buf[len..]))? {
            0 => return Ok(len),
            n => len += n,
        }
    }
}

/// Call `each` on every line of the file at `path` until
/// it breaks. A missing file has no lines; lines longer than the buffer are
/// skipped whole.
pub fn each_line(path: &[u8], each: &mut dyn FnMut(&[u8]) -> ControlFlow<()>) -> Result<(), Errno> {
    match open_read(path) {
        Ok(fd) => each_line_of(fd.as_fd(), each),
        Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `each_line` on the open file `fd`.
// Several callers: one copy (a `dyn` callback: a generic one would be
// copied for each, and the binary has a size budget).
#[inline(never)]
pub fn each_line_of(
    fd: BorrowedFd<'_>,
    each: &mut dyn FnMut(&[u8]) -> ControlFlow<()>,
) -> Result<(), Errno> {
    let mut buf = [0u8; 2048];
    let (mut len, mut skipping) = (0, false);
    loop {
        let n = match rustix::io::read(fd, &mut buf[len..]) {
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        };
        let end = len + n;
        let mut start = 0;
        while let Some(nl) = buf[start..end].iter().position(|&b| b == b'\n') {
            let line = &buf[start..start + nl];
            start += nl + 1;
            if !core::mem::take(&mut skipping) && each(line).is_break() {
                return Ok(());
            }
        }
        if n == 0 {
            // The last line may lack its newline.
            if !skipping && start < end {
                let _ = each(&buf[start..end]);
            }
            return Ok(());
        }
        if start == 0 && end == buf.len() {
            (len, skipping) = (0, true);
        } else {
            move_to_start(&mut buf, start, end);
            len = end - start;
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
        let fd = rustix::fs::openat(dir, tmp, flags, Mode::from_raw_mode(0o644))?;
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

/// Is `fd` a terminal? (vigilctl colours only what a person reads.)
pub fn is_terminal(fd: BorrowedFd<'_>) -> bool {
    // As isatty(3) asks (its wrapper costs the binary more than this).
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let fd = rustix::fd::AsRawFd::as_raw_fd(&fd);
    // SAFETY: TIOCGWINSZ writes a `winsize`, the local one.
    unsafe { libc::syscall(libc::SYS_ioctl, fd, libc::TIOCGWINSZ, &raw mut size) == 0 }
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

/// Whether `program` (with its NUL) can be executed: a path, or a name
/// searched in `path` (`PATH`) as execvp does. `NOENT`: not found;
/// `ACCESS`: found, not executable.
pub fn find_program(program: &[u8], path: &[u8]) -> Result<(), Errno> {
    use rustix::fs::{Access, AtFlags};
    // A directory passes access(X_OK), but exec refuses it (EACCES).
    let executable = |path: &[u8]| {
        super::at::accessat(CWD, path, Access::EXEC_OK, AtFlags::empty())?;
        match super::at::statat(CWD, path, AtFlags::empty()) {
            Ok(st) if rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir() => {
                Err(Errno::ACCESS)
            }
            _ => Ok(()),
        }
    };
    let name = without_nul(program);
    if name.contains(&b'/') {
        return executable(name);
    }
    let mut result = Err(Errno::NOENT);
    for dir in path.split(|&b| b == b':') {
        let mut buf = [0u8; 512];
        let mut w = SliceWriter::new(&mut buf);
        let joined = w.push(dir).and(w.push(b"/")).and(w.push(name));
        match joined.map(|()| executable(w.bytes())) {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(Errno::ACCESS)) => result = Err(Errno::ACCESS),
            _ => {}
        }
    }
    result
}

//! The hand-off file of `reexec` (vigild(8) UPGRADING): a memfd (or an
//! unlinked file of the run directory where memfd_create is missing) that
//! holds vigild's state as images of its tables, byte for byte, written by
//! one image and read back by the next. Only the pages the writer had in
//! memory are written (`mincore`); the others are holes, which the reader
//! skips (`SEEK_DATA`): the new image has in memory what the old one had.
//!
//! An image is only ever read by a build whose hand-off layout (version,
//! and the size of every type that travels) is the writer's: the header
//! that says so is checked first, by the new image run as a check before
//! the exec (`run_check`) and again when it resumes.

use super::{Errno, PAGE, process};
use core::ffi::{CStr, c_void};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::fs::{MemfdFlags, Mode, OFlags, memfd_create};

/// A new hand-off file, close-on-exec until `keep_across_exec`.
pub fn create(run_dir: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    memfd_create(c"vigild-handoff", MemfdFlags::CLOEXEC).or_else(|_| {
        let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
        rustix::fs::openat(run_dir, c".", flags, Mode::from_raw_mode(0o600))
    })
}

/// Let `fd` survive the exec (`keep`), or close with it again.
pub fn keep_across_exec(fd: BorrowedFd<'_>, keep: bool) {
    let flags = match keep {
        true => rustix::io::FdFlags::empty(),
        false => rustix::io::FdFlags::CLOEXEC,
    };
    let _ = rustix::io::fcntl_setfd(fd, flags);
}

/// Write the image of `value` at `offset` of `file`: the pages of it that
/// are in memory (the rest, never written, reads as zeros); the offset
/// after it, rounded up to a page.
pub fn write_image<T: ?Sized>(file: BorrowedFd<'_>, offset: u64, value: &T) -> Result<u64, Errno> {
    let (at, len) = (value as *const T as *const u8 as usize, size_of_val(value));
    let mut resident = [0u8; 64];
    let mut done = 0;
    while done < len {
        // Whole pages where the value has them, asked of mincore 64 at a
        // time; a value's first or last page shared with another is
        // written as resident.
        let page_start = (at + done) & !(PAGE - 1);
        let pages = ((at + len - page_start).div_ceil(PAGE)).min(resident.len());
        // SAFETY: mincore reads nothing of the memory, only whether each
        // page of `page_start..+pages*PAGE` (mapped: it holds `value`,
        // rounded to pages of the same mapping) is resident; `resident`
        // holds `pages` bytes.
        let r = unsafe {
            libc::mincore(
                page_start as *mut c_void,
                pages * PAGE,
                resident.as_mut_ptr(),
            )
        };
        for (k, &flag) in resident[..pages].iter().enumerate() {
            let from = (page_start + k * PAGE).max(at);
            let to = (page_start + (k + 1) * PAGE).min(at + len);
            if r != 0 || flag & 1 != 0 {
                write_at(file, offset + (from - at) as u64, from, to - from)?;
            }
        }
        done = page_start + pages * PAGE - at;
    }
    Ok(offset + (len as u64).div_ceil(PAGE as u64) * PAGE as u64)
}

/// `len` bytes from address `from` into `file` at `offset`.
fn write_at(file: BorrowedFd<'_>, offset: u64, from: usize, len: usize) -> Result<(), Errno> {
    let mut done = 0;
    while done < len {
        // SAFETY: the kernel reads `len - done` bytes at `from + done`,
        // inside the value `write_image` was given (no Rust reference to
        // its bytes is made, so its padding is never read as a value).
        let n = unsafe {
            libc::pwrite(
                file.as_raw_fd(),
                (from + done) as *const c_void,
                len - done,
                (offset + done as u64) as i64,
            )
        };
        match n {
            n if n > 0 => done += n as usize,
            0 => return Err(Errno::NOSPC),
            _ if process::errno() == libc::EINTR => {}
            _ => return Err(Errno::from_raw_os_error(process::errno())),
        }
    }
    Ok(())
}

/// Read the image `write_image` wrote at `offset` back into `value`
/// (holes: its zeros are already there, or written as zeros); the offset
/// after it.
///
/// The caller has checked that the writer's hand-off layout is this
/// build's (`value`'s type is the very type, of the same size and layout,
/// that was written there), which is what makes the bytes a valid `T`.
pub fn read_image<T: ?Sized>(
    file: BorrowedFd<'_>,
    offset: u64,
    value: &mut T,
) -> Result<u64, Errno> {
    let (at, len) = (value as *mut T as *mut u8 as usize, size_of_val(value));
    let end = offset + len as u64;
    let mut pos = offset;
    while pos < end {
        let data = match seek(file, pos, libc::SEEK_DATA) {
            Ok(data) if data < end => data,
            // Only holes to the end (ENXIO: no data after `pos`).
            Ok(_) | Err(Errno::NXIO) => break,
            Err(e) => return Err(e),
        };
        let hole = seek(file, data, libc::SEEK_HOLE)?.min(end);
        read_at(
            file,
            data,
            at + (data - offset) as usize,
            (hole - data) as usize,
        )?;
        pos = hole;
    }
    Ok(offset + (len as u64).div_ceil(PAGE as u64) * PAGE as u64)
}

fn seek(file: BorrowedFd<'_>, pos: u64, whence: i32) -> Result<u64, Errno> {
    // SAFETY: lseek takes an fd and numbers; it touches no memory of ours.
    match unsafe { libc::lseek(file.as_raw_fd(), pos as i64, whence) } {
        -1 => Err(Errno::from_raw_os_error(process::errno())),
        at => Ok(at as u64),
    }
}

/// `len` bytes of `file` at `offset` into address `to`.
fn read_at(file: BorrowedFd<'_>, offset: u64, to: usize, len: usize) -> Result<(), Errno> {
    let mut done = 0;
    while done < len {
        // SAFETY: the kernel writes `len - done` bytes at `to + done`,
        // inside the value `read_image` was given (exclusively borrowed),
        // with the bytes of a value of its type (see `read_image`).
        let n = unsafe {
            libc::pread(
                file.as_raw_fd(),
                (to + done) as *mut c_void,
                len - done,
                (offset + done as u64) as i64,
            )
        };
        match n {
            n if n > 0 => done += n as usize,
            0 => return Err(Errno::NODATA),
            _ if process::errno() == libc::EINTR => {}
            _ => return Err(Errno::from_raw_os_error(process::errno())),
        }
    }
    Ok(())
}

/// The program `path` names, opened to be executed (`run_check`, `exec`)
/// by its descriptor: only a regular file that root or vigild's own user
/// owns and nobody else may write (a symlink to one is followed): a
/// `reexec` runs it as vigild (`PERM` otherwise).
pub fn open_binary(path: &CStr) -> Result<OwnedFd, Errno> {
    use rustix::fs::{FileType, fstat};
    let binary = rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())?;
    let st = fstat(&binary)?;
    let trusted = FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
        && (st.st_uid == 0 || st.st_uid == rustix::process::geteuid().as_raw())
        && st.st_mode & 0o022 == 0;
    trusted.then_some(binary).ok_or(Errno::PERM)
}

/// execveat(2) of the open `binary` itself with `argv` (NULL-terminated)
/// and vigild's environment; returns only on failure.
fn execute(binary: BorrowedFd<'_>, argv: &[*const core::ffi::c_char]) -> Errno {
    // SAFETY: execveat of an open file (AT_EMPTY_PATH, an empty
    // NUL-terminated path); `argv` is NULL-terminated (its callers end it
    // with a NULL), each entry a C string that outlives the call; the
    // environment is vigild's own, unchanged.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            binary.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            super::args::environ_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Errno::from_raw_os_error(process::errno())
}

/// Run `path --handoff-check` with `file` as its stdin, the new image's
/// judgement of the hand-off's header: what it wrote on its stdout (`ok`
/// when it can resume from it) in `answer`, its length. A program that
/// does not answer within `limit_ms` is killed.
pub fn run_check(
    binary: BorrowedFd<'_>,
    path: &CStr,
    file: BorrowedFd<'_>,
    answer: &mut [u8],
    limit_ms: i32,
) -> Result<usize, Errno> {
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let Some(pid) = process::fork()? else {
        // The child: stdin the hand-off, stdout the pipe, then the check.
        let _ = rustix::stdio::dup2_stdin(file);
        let _ = rustix::stdio::dup2_stdout(&write);
        let argv = [
            path.as_ptr(),
            c"--handoff-check".as_ptr(),
            core::ptr::null(),
        ];
        let e = execute(binary, &argv).raw_os_error() as u16;
        let _ = super::fs::write_all(super::fs::stdout(), b"exec ");
        let _ = super::fs::write_all(
            super::fs::stdout(),
            vigild_engine::unix::errno_name(e)
                .unwrap_or("failed")
                .as_bytes(),
        );
        process::exit(127);
    };
    drop(write);
    let mut len = 0;
    let mut fds = [rustix::event::PollFd::new(
        &read,
        rustix::event::PollFlags::IN,
    )];
    while len < answer.len() {
        let timeout = super::clock::timespec(limit_ms as u64);
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(0) => {
                let _ = process::kill(pid, 9, false);
                len = 0;
                break;
            }
            Ok(_) => match rustix::io::read(&read, &mut answer[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(Errno::INTR) => {}
                Err(_) => break,
            },
            Err(Errno::INTR) => {}
            Err(e) => {
                let _ = process::kill(pid, 9, false);
                process::wait_for(pid);
                return Err(e);
            }
        }
    }
    process::wait_for(pid);
    Ok(len)
}

/// Execute `path` with the command line `front` then `args` from `first`
/// on (argv[0] is `path`): the hand-off. Returns only on failure.
pub fn exec(
    binary: BorrowedFd<'_>,
    path: &CStr,
    front: &[&CStr],
    args: super::args::Args,
    first: usize,
) -> Errno {
    let mut argv = [core::ptr::null::<core::ffi::c_char>(); 256];
    argv[0] = path.as_ptr();
    let mut n = 1;
    for word in front {
        argv[n] = word.as_ptr();
        n += 1;
    }
    let mut i = first;
    while let Some(ptr) = args.raw(i) {
        if n + 1 >= argv.len() {
            return Errno::TOOBIG;
        }
        argv[n] = ptr;
        (n, i) = (n + 1, i + 1);
    }
    // NULL-terminated: n + 1 < its length.
    execute(binary, &argv)
}

/// Keep `fd` (an fd number of the hand-off) as an owned fd, if it is open.
pub fn adopt(fd: i32) -> Option<OwnedFd> {
    super::stdio::adopt(fd)
}

/// The fd's number, as the hand-off records it.
pub fn number(fd: impl AsFd) -> i32 {
    fd.as_fd().as_raw_fd()
}

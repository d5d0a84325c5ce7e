//! Reading directories: the entries of a directory (vigild's sweep of
//! stale reply FIFOs too), and for `vigild import` whether a path is a
//! file, a file read only if it is a plain one, the working directory.

use super::Errno;
use super::at::{openat, statat};
use core::mem::MaybeUninit;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, RawDir};

/// The directory at `path`, opened for `each_entry`.
pub fn open_dir(path: &[u8]) -> Result<OwnedFd, Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    openat(CWD, path, flags, Mode::empty())
}

/// Call `each` with the name of every entry of the directory `fd` but
/// `.` and `..`, in the directory's order.
pub fn each_entry(fd: OwnedFd, each: &mut dyn FnMut(&[u8])) -> Result<(), Errno> {
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    let mut entries = RawDir::new(&fd, &mut buf);
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            each(name);
        }
    }
    Ok(())
}

/// A regular file is at `path` (a symlink: its target).
pub fn is_file(path: &[u8]) -> bool {
    statat(CWD, path, AtFlags::empty())
        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile)
}

/// Read the file at `path` into `buf` if it is a plain one (see
/// `fs::open_plain`): its length, or `FBIG` if it does not fit.
pub fn read_plain_file(path: &[u8], buf: &mut [u8]) -> Result<usize, Errno> {
    let fd = super::fs::open_plain(CWD, path)?;
    super::fs::read_all(fd.as_fd(), buf)
}

/// The working directory, written into `buf`.
pub fn cwd(buf: &mut [u8]) -> Option<&[u8]> {
    // The system call: libc's getcwd brings malloc along (for a call
    // without a buffer).
    // SAFETY: getcwd(2) writes at most `buf.len()` bytes, its NUL
    // included, into `buf`, which is ours for the call.
    let ok = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) } > 0;
    let len = buf.iter().position(|&b| b == 0).filter(|_| ok)?;
    Some(&buf[..len])
}

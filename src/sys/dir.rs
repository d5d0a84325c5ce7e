//! Reading directories by name, for `vigild import`: the entries of a
//! directory, whether a path exists, the working directory.

use super::Errno;
use core::mem::MaybeUninit;
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, CWD, Mode, OFlags, RawDir, openat, statat};

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

/// Something is at `path` (a symlink: its target).
pub fn exists(path: &[u8]) -> bool {
    statat(CWD, path, AtFlags::empty()).is_ok()
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

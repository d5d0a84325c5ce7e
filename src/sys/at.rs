//! The `*at` system calls on a path given as bytes, one copy of each:
//! rustix's are generic over the path's type and the directory's, and
//! would be compiled once for every combination callers use (a `&str`, a
//! `&[u8]`; a `BorrowedFd`, an `&OwnedFd`), some hundreds of bytes each,
//! where the binary has a size budget. The path is copied onto the stack
//! with its NUL by one function (`c_path`, as rustix would, which inlines
//! that copy twice into each call: a short path's and a long one's); what
//! the loop opens often (the status file) names it as a `&CStr` and calls
//! rustix itself, with no copy.

use super::Errno;
use core::ffi::CStr;
use core::mem::MaybeUninit;
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::fs::{Access, AtFlags, FileType, Mode, OFlags, Stat};

/// openat(2).
#[inline(never)]
pub fn openat(
    dir: BorrowedFd<'_>,
    path: &[u8],
    flags: OFlags,
    mode: Mode,
) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        dir,
        c_path(path, &mut [MaybeUninit::uninit(); PATH_MAX])?,
        flags,
        mode,
    )
}

/// fstatat(2).
#[inline(never)]
pub fn statat(dir: BorrowedFd<'_>, path: &[u8], flags: AtFlags) -> Result<Stat, Errno> {
    rustix::fs::statat(
        dir,
        c_path(path, &mut [MaybeUninit::uninit(); PATH_MAX])?,
        flags,
    )
}

/// unlinkat(2).
#[inline(never)]
pub fn unlinkat(dir: BorrowedFd<'_>, path: &[u8], flags: AtFlags) -> Result<(), Errno> {
    rustix::fs::unlinkat(
        dir,
        c_path(path, &mut [MaybeUninit::uninit(); PATH_MAX])?,
        flags,
    )
}

/// mkdirat(2).
#[inline(never)]
pub fn mkdirat(dir: BorrowedFd<'_>, path: &[u8], mode: Mode) -> Result<(), Errno> {
    rustix::fs::mkdirat(
        dir,
        c_path(path, &mut [MaybeUninit::uninit(); PATH_MAX])?,
        mode,
    )
}

/// mknodat(2).
#[inline(never)]
pub fn mknodat(
    dir: BorrowedFd<'_>,
    path: &[u8],
    kind: FileType,
    mode: Mode,
    dev: u64,
) -> Result<(), Errno> {
    rustix::fs::mknodat(
        dir,
        c_path(path, &mut [MaybeUninit::uninit(); PATH_MAX])?,
        kind,
        mode,
        dev,
    )
}

/// readlinkat(2): the target's length in `buf` (cut if it does not fit).
#[inline(never)]
pub fn readlinkat(dir: BorrowedFd<'_>, path: &[u8], buf: &mut [u8]) -> Result<usize, Errno> {
    rustix::fs::readlinkat_raw(
        dir,
        c_path(path, &mut [MaybeUninit::uninit(); PATH_MAX])?,
        buf,
    )
}

/// faccessat(2).
#[inline(never)]
pub fn accessat(
    dir: BorrowedFd<'_>,
    path: &[u8],
    access: Access,
    flags: AtFlags,
) -> Result<(), Errno> {
    rustix::fs::accessat(
        dir,
        c_path(path, &mut [MaybeUninit::uninit(); PATH_MAX])?,
        access,
        flags,
    )
}

/// The longest path the kernel takes, its NUL included.
const PATH_MAX: usize = 4096;

/// `path` and a NUL in `buf`, as rustix makes it: ENAMETOOLONG if that
/// does not fit, EINVAL if `path` holds a NUL. (Only those bytes are
/// written: zeroing the whole buffer would cost each call a page.)
#[inline(never)]
fn c_path<'b>(path: &[u8], buf: &'b mut [MaybeUninit<u8>; PATH_MAX]) -> Result<&'b CStr, Errno> {
    let (head, rest) = buf
        .split_at_mut_checked(path.len())
        .ok_or(Errno::NAMETOOLONG)?;
    rest.first_mut().ok_or(Errno::NAMETOOLONG)?.write(0);
    head.write_copy_of_slice(path);
    // SAFETY: the first `path.len() + 1` bytes of `buf` were written just above.
    let bytes = unsafe { core::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), path.len() + 1) };
    CStr::from_bytes_with_nul(bytes).map_err(|_| Errno::INVAL)
}

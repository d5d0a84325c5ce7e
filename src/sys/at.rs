//! The `*at` system calls on a path given as bytes, one copy of each:
//! rustix's are generic over the path's type and the directory's, and
//! would be compiled once for every combination callers use (a `&str`, a
//! `&[u8]`; a `BorrowedFd`, an `&OwnedFd`), some hundreds of bytes each,
//! where the binary has a size budget. rustix copies such a path onto the
//! stack to add its NUL (a frame of over 4 KiB, for long paths); what the
//! loop opens often (the status file) names it as a `&CStr` and calls
//! rustix itself, with no copy.

use super::Errno;
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};

/// openat(2).
#[inline(never)]
pub fn openat(
    dir: BorrowedFd<'_>,
    path: &[u8],
    flags: OFlags,
    mode: Mode,
) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(dir, path, flags, mode)
}

/// fstatat(2).
#[inline(never)]
pub fn statat(dir: BorrowedFd<'_>, path: &[u8], flags: AtFlags) -> Result<Stat, Errno> {
    rustix::fs::statat(dir, path, flags)
}

/// unlinkat(2).
#[inline(never)]
pub fn unlinkat(dir: BorrowedFd<'_>, path: &[u8], flags: AtFlags) -> Result<(), Errno> {
    rustix::fs::unlinkat(dir, path, flags)
}

/// mkdirat(2).
#[inline(never)]
pub fn mkdirat(dir: BorrowedFd<'_>, path: &[u8], mode: Mode) -> Result<(), Errno> {
    rustix::fs::mkdirat(dir, path, mode)
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
    rustix::fs::mknodat(dir, path, kind, mode, dev)
}

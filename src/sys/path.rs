//! Opening a path as root without being led elsewhere: each component is
//! opened relative to the one before, and a symlink is followed only if
//! root (or the user we run as) owns it. Its target is walked the same
//! way, so a root-owned link (`/var/run` -> `/run`) works, while a link a
//! user planted anywhere on the way, even behind a root-owned one, does
//! not lead root into making, handing over or appending to a file
//! elsewhere.

use super::Errno;
use super::at::{mkdirat, openat, readlinkat, statat};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};

/// Longest path walked (what is left of it, a symlink's target spliced in).
const WALK_MAX: usize = 1024;

/// At most this many symlinks followed in one walk (the kernel's limit).
const LINKS_MAX: u32 = 40;

/// What to do about a missing directory on the way.
#[derive(Clone, Copy)]
pub enum Missing {
    /// It is an error (ENOENT).
    Refuse,
    /// Make it (0755); the last component, if made, goes to `owner`.
    Make { owner: Option<(u32, u32)> },
}

/// The directory `path` names (relative paths from the working
/// directory), walked as the module says. A `..` in `path` is refused
/// (EINVAL): after a directory another user may move it would lead
/// elsewhere (in a root-owned symlink's target it is followed).
#[inline(never)]
pub fn open_dir(path: &[u8], missing: Missing) -> Result<OwnedFd, Errno> {
    if vigild_engine::unix::climbs(path) {
        return Err(Errno::INVAL);
    }
    let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC;
    let mut rest = [0u8; WALK_MAX];
    let mut len = copy_into(&mut rest, path).ok_or(Errno::NAMETOOLONG)?;
    let mut at = start(&rest[..len])?;
    let mut links = 0;
    let mut pos = 0;
    loop {
        while rest.get(pos) == Some(&b'/') {
            pos += 1;
        }
        if pos >= len {
            return Ok(at);
        }
        let end = rest[pos..len]
            .iter()
            .position(|&b| b == b'/')
            .map_or(len, |i| pos + i);
        // A name longer than NAME_MAX (255) no directory holds.
        let name = rest.get(pos..end).filter(|n| n.len() <= 256);
        let name = name.ok_or(Errno::NAMETOOLONG)?;
        pos = end;
        let last = rest[pos..len].iter().all(|&b| b == b'/');
        if name == b"." {
            continue;
        }
        let made = match missing {
            Missing::Make { .. } => match mkdirat(at.as_fd(), name, Mode::from_raw_mode(0o755)) {
                Ok(()) => true,
                Err(Errno::EXIST) => false,
                Err(e) => return Err(e),
            },
            Missing::Refuse => false,
        };
        match openat(at.as_fd(), name, flags | OFlags::NOFOLLOW, Mode::empty()) {
            Ok(next) => {
                if let (
                    true,
                    true,
                    Missing::Make {
                        owner: Some((uid, gid)),
                    },
                ) = (made, last, missing)
                {
                    rustix::fs::fchown(
                        &next,
                        Some(rustix::process::Uid::from_raw(uid)),
                        Some(rustix::process::Gid::from_raw(gid)),
                    )?;
                }
                at = next;
            }
            Err(Errno::LOOP | Errno::NOTDIR) => {
                links += 1;
                if links > LINKS_MAX {
                    return Err(Errno::LOOP);
                }
                // The target, then what was left after the link.
                let mut spliced = [0u8; WALK_MAX];
                let target = trusted_link(at.as_fd(), name, &mut spliced)?;
                let whole = target + (len - pos);
                let tail = spliced.get_mut(target..whole).ok_or(Errno::NAMETOOLONG)?;
                tail.copy_from_slice(&rest[pos..len]);
                if spliced[0] == b'/' {
                    at = start(b"/")?;
                }
                rest[..whole].copy_from_slice(&spliced[..whole]);
                (len, pos) = (whole, 0);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Open the file `path` with `flags` (and `mode`, if created): its
/// directory walked as `open_dir` walks it (missing ones refused), the file
/// itself never through a symlink.
pub fn open_file(path: &[u8], flags: OFlags, mode: Mode) -> Result<OwnedFd, Errno> {
    let (dir, name) = open_parent(path)?;
    openat(dir.as_fd(), name, flags | OFlags::NOFOLLOW, mode)
}

/// The directory that holds the file `path`, walked as `open_dir` walks
/// it (missing ones refused), and the file's name in it.
#[inline(never)]
pub fn open_parent(path: &[u8]) -> Result<(OwnedFd, &[u8]), Errno> {
    let (dir, name) = match path.iter().rposition(|&b| b == b'/') {
        Some(0) => (&b"/"[..], &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&b"."[..], path),
    };
    Ok((open_dir(dir, Missing::Refuse)?, name))
}

/// The directory a walk of `path` starts from: `/`, or the working one.
fn start(path: &[u8]) -> Result<OwnedFd, Errno> {
    let from = if path.first() == Some(&b'/') {
        b"/"
    } else {
        b"."
    };
    openat(
        CWD,
        from,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// If `name` in `dir` is a symlink root or we own, its target into `out`;
/// its length. ELOOP for another's symlink (or a target that does not
/// fit), ENOTDIR for a file that is no symlink.
fn trusted_link(
    dir: BorrowedFd<'_>,
    name: &[u8],
    out: &mut [u8; WALK_MAX],
) -> Result<usize, Errno> {
    let st = statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
        return Err(Errno::NOTDIR);
    }
    let owner = st.st_uid;
    if owner != 0 && owner != rustix::process::geteuid().as_raw() {
        return Err(Errno::LOOP);
    }
    let len = readlinkat(dir, name, &mut out[..])?;
    // A full buffer may be a cut target; an empty one is no path.
    match len {
        1..WALK_MAX => Ok(len),
        _ => Err(Errno::LOOP),
    }
}

/// Copy `bytes` to the start of `out`; its length, if it fits.
fn copy_into(out: &mut [u8], bytes: &[u8]) -> Option<usize> {
    out.get_mut(..bytes.len())?.copy_from_slice(bytes);
    Some(bytes.len())
}

//! Finding cgroup2 (mounting it as PID 1 if need be), vigild's own cgroup
//! and making vigild's directory there, named after the run directory:
//! once, at start-up.

use super::end::end_leftovers;
use super::{Cgroups, NAME_MAX, PATH_MAX, Unavailable};
use crate::sys::Errno;
use crate::sys::at::{mkdirat, openat, statat, unlinkat};
use crate::sys::fs::each_line;
use core::ops::ControlFlow;
use rustix::fd::AsFd;
use rustix::fs::{AtFlags, CWD, Mode, OFlags};
use vigild_engine::fixed::{SliceWriter, digest, hex_digit, push_hex};

impl Cgroups {
    /// Find the cgroup2 mount and vigild's own cgroup, and make (or take
    /// over) vigild's directory there for the run directory `run_dir`,
    /// whose device and inode are `run_id`. As PID 1 (`mount`), cgroup2 is
    /// mounted at /sys/fs/cgroup if it is not mounted yet and /sys is.
    /// `path` gets the directory's path; the number of processes a previous
    /// vigild on this run directory left there (under whatever name it
    /// gave the directory), killed now, comes back too: `(cgroups, path
    /// length, processes ended)`.
    pub fn open(
        run_dir: &[u8],
        run_id: (u64, u64),
        mount: bool,
        path: &mut [u8; PATH_MAX],
    ) -> Result<(Cgroups, usize, usize), Unavailable> {
        let mut found = find(path).map_err(Unavailable::Refused)?;
        if found.is_none() && mount && mount_cgroup2() {
            found = find(path).map_err(Unavailable::Refused)?;
        }
        let len = found.ok_or(Unavailable::NotMounted)?;
        let len = own_cgroup(path, len)
            .map_err(Unavailable::Refused)?
            .ok_or(Unavailable::NoOwnCgroup)?;
        let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC;
        let own = openat(
            CWD,
            path.get(..len).unwrap_or_default(),
            flags,
            Mode::empty(),
        )
        .map_err(Unavailable::Refused)?;
        let mut id = [0u8; ID_MAX];
        let id_len = identity(run_id, &mut id);
        let id = id.get(..id_len).unwrap_or_default();
        let mut name = [0u8; NAME_MAX];
        let name_len = dir_name(run_dir, id, &mut name);
        let bytes = name.get(..name_len).unwrap_or_default();
        // What a vigild killed on this run directory left, whatever it
        // called it (`/var/run/x` for `/run/x`, a bind mount).
        let left = end_leftovers(own.as_fd(), id);
        let mut w = SliceWriter::new(&mut path[len..]);
        let _ = w.push(b"/");
        let _ = w.push(bytes);
        let len = len + w.len();
        match mkdirat(own.as_fd(), bytes, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(Unavailable::Refused(e)),
        }
        let root =
            openat(own.as_fd(), bytes, flags | OFlags::NOFOLLOW, Mode::empty()).map_err(|e| {
                // Not left behind (it is empty).
                let _ = unlinkat(own.as_fd(), bytes, AtFlags::REMOVEDIR);
                Unavailable::Refused(e)
            })?;
        let cgroups = Cgroups {
            own,
            root,
            name,
            name_len,
        };
        Ok((cgroups, len, left))
    }
}

/// The path of the cgroup2 mount (from /proc/self/mountinfo) into `path`,
/// and its root (the part of the cgroup tree it shows) after it, NUL
/// separated: `MOUNTPOINT\0ROOT`. The length of the mount point (`None`:
/// no cgroup2 mounted; an error if mountinfo could not be read).
fn find(path: &mut [u8; PATH_MAX]) -> Result<Option<usize>, Errno> {
    let mut found = None;
    each_line(b"/proc/self/mountinfo", &mut |line| {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - TYPE SOURCE ...
        let Some(dash) = line.windows(3).position(|w| w == b" - ") else {
            return ControlFlow::Continue(());
        };
        let fstype = line[dash + 3..].split(|&b| b == b' ').next();
        if fstype != Some(b"cgroup2") {
            return ControlFlow::Continue(());
        }
        let mut fields = line[..dash].split(|&b| b == b' ');
        let (root, point) = (fields.nth(3), fields.next());
        if let (Some(root), Some(point)) = (root, point) {
            let mut w = SliceWriter::new(&mut path[..]);
            let point_len = unescape(point, &mut w);
            let ok = w.push(b"\0").is_ok() && unescape(root, &mut w) > 0 && w.push(b"\0").is_ok();
            if ok && point_len > 0 {
                found = Some(point_len);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    })?;
    Ok(found)
}

/// Append the mountinfo field `field` (`\040` for a space, octal) to `w`;
/// the bytes appended (0 if it does not fit).
fn unescape(field: &[u8], w: &mut SliceWriter<'_>) -> usize {
    let start = w.len();
    let mut i = 0;
    while let Some(&b) = field.get(i) {
        let octal = field
            .get(i + 1..i + 4)
            .filter(|d| b == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        let byte = match octal {
            Some(d) => {
                i += 4;
                (d[0] - b'0') << 6 | (d[1] - b'0') << 3 | (d[2] - b'0')
            }
            None => {
                i += 1;
                b
            }
        };
        if w.push(&[byte]).is_err() {
            return 0;
        }
    }
    w.len() - start
}

/// With `path` as `find` left it (`MOUNTPOINT\0ROOT\0`): vigild's own
/// cgroup (from /proc/self/cgroup, `0::PATH`), as the path of its directory
/// below the mount point, into `path`; its length (`None` if it is not
/// there; an error if /proc/self/cgroup could not be read).
fn own_cgroup(path: &mut [u8; PATH_MAX], point_len: usize) -> Result<Option<usize>, Errno> {
    let mut own = [0u8; 512];
    let mut own_len = None;
    each_line(
        b"/proc/self/cgroup",
        &mut |line| match line.strip_prefix(b"0::") {
            Some(p) if p.len() <= own.len() => {
                own[..p.len()].copy_from_slice(p);
                own_len = Some(p.len());
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        },
    )?;
    Ok(own_len.and_then(|len| place_own(path, point_len, own.get(..len)?)))
}

/// `path`'s mount point followed by vigild's cgroup `own` (as
/// /proc/self/cgroup names it) below the mount's root; its length.
fn place_own(path: &mut [u8; PATH_MAX], point_len: usize, own: &[u8]) -> Option<usize> {
    let rest = path.get(point_len + 1..)?;
    let root_len = rest.iter().position(|&b| b == 0)?;
    let mut root = [0u8; 256];
    let root = root.get_mut(..root_len)?;
    root.copy_from_slice(rest.get(..root_len)?);
    // The mount shows the tree from its root on: vigild's cgroup must be in it.
    let below = match &root[..] {
        b"/" => own,
        // At a `/` (a root of /foo does not hold /foobar).
        root => own
            .strip_prefix(root)
            .filter(|b| b.is_empty() || b[0] == b'/')?,
    };
    let below = below.strip_suffix(b"/").unwrap_or(below);
    let mut w = SliceWriter::new(path.get_mut(point_len..)?);
    if !below.is_empty() && below[0] != b'/' {
        w.push(b"/").ok()?;
    }
    w.push(below).ok()?;
    Some(point_len + w.len())
}

/// The longest identity suffix: `@` and two 16-digit hex numbers.
const ID_MAX: usize = 34;

/// `@DEV.INO` of the run directory, in hex: what names it whatever path
/// led to it. The length written.
fn identity((dev, ino): (u64, u64), out: &mut [u8; ID_MAX]) -> usize {
    let mut w = SliceWriter::new(&mut out[..]);
    let _ = core::fmt::Write::write_fmt(&mut w, format_args!("@{dev:x}.{ino:x}"));
    w.len()
}

/// vigild's directory for the run directory `run_dir`: `vigild` and the
/// path with `/` as `-` and every byte but letters, digits and `.` as
/// `_HH` (`/run/vigild`: `vigild-run-vigild`), then its identity `id`. A
/// path too long for a name gives `vigild_` and its digest instead (`_`,
/// which an absolute path never gives there). The length written.
fn dir_name(run_dir: &[u8], id: &[u8], out: &mut [u8; NAME_MAX]) -> usize {
    let room = NAME_MAX - id.len();
    let mut w = SliceWriter::new(&mut out[..room]);
    let mut fits = w.push(b"vigild").is_ok();
    for &b in run_dir {
        fits &= match b {
            b'/' => w.push(b"-"),
            b'.' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => w.push(&[b]),
            _ => w.push(&[b'_', hex_digit(u64::from(b >> 4)), hex_digit(u64::from(b))]),
        }
        .is_ok();
    }
    let mut len = w.len();
    if !fits {
        let mut w = SliceWriter::new(&mut out[..room]);
        let _ = w.push(b"vigild_");
        let _ = push_hex(&mut w, digest(run_dir));
        len = w.len();
    }
    out[len..len + id.len()].copy_from_slice(id);
    len + id.len()
}

/// PID 1 on a system where nothing mounted cgroup2: mount it at
/// /sys/fs/cgroup (a directory only once sysfs is mounted); true if done.
/// Not over something mounted there already (cgroup v1's hierarchies,
/// which others use).
fn mount_cgroup2() -> bool {
    let (Ok(dir), Ok(sysfs)) = (
        statat(CWD, b"/sys/fs/cgroup", AtFlags::empty()),
        statat(CWD, b"/sys/fs", AtFlags::empty()),
    ) else {
        return false;
    };
    if dir.st_dev != sysfs.st_dev {
        return false;
    }
    // SAFETY: mount(2) with NUL-terminated strings and no data.
    unsafe {
        libc::mount(
            c"cgroup2".as_ptr(),
            c"/sys/fs/cgroup".as_ptr(),
            c"cgroup2".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            core::ptr::null(),
        ) == 0
    }
}

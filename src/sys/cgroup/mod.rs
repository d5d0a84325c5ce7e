//! cgroup v2 containment (vigild.conf(5) `contain`): one cgroup per service, under a
//! directory of vigild's own below the cgroup vigild runs in, so that every
//! process a service started, even one that left its process group (setsid,
//! a double fork), is found and ended with it.
//!
//! The directory is named after the run directory (one vigild per run
//! directory), so a vigild that starts where another one was killed finds
//! what that one left running, and ends it first.
//!
//! Here what runs at each start and end of a service: its cgroup made,
//! `populated` read. Finding cgroup2 and vigild's directory at start-up is
//! in `open`; killing and removing cgroups (a stop, vigild's exit, what a
//! killed vigild left) in `end`.

mod end;
mod open;

use super::Errno;
use super::at::{self, mkdirat};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags, openat};
use rustix::io::{read, retry_on_intr};
use vigild_engine::fixed::SliceWriter;

/// Longest path of a cgroup directory vigild builds.
const PATH_MAX: usize = 1024;

/// The service cgroups of one vigild.
pub struct Cgroups {
    /// vigild's own cgroup (`MOUNT/OWN`).
    own: OwnedFd,
    /// `vigild-RUNDIR` in it: where the services' cgroups are.
    root: OwnedFd,
    /// Its name.
    name: [u8; NAME_MAX],
    name_len: usize,
}

/// Longest name of vigild's directory.
const NAME_MAX: usize = 240;

/// Why cgroup containment is not in force.
pub enum Unavailable {
    /// No cgroup2 file system is mounted (a hybrid or v1-only system).
    NotMounted,
    /// /proc/self/cgroup names no cgroup v2 (or one outside the mount).
    NoOwnCgroup,
    /// Making vigild's directory failed (permission, a read-only mount).
    Refused(Errno),
}

/// Where a service's cgroup directory is, relative to the root: its name,
/// with the `/` of a logger's `NAME/log` as `@` (a character no service
/// name has, so no two services share one), and `.service` after it, so
/// that no name is one of the cgroup's own files (`cgroup.procs`,
/// `cpu.stat`: a service may be named so).
pub struct Name {
    buf: [u8; 80],
    len: usize,
}

impl Name {
    /// The cgroup name of service `name`.
    pub fn of(name: &[u8]) -> Name {
        let mut n = Name {
            buf: [0; 80],
            len: 0,
        };
        let mut w = SliceWriter::new(&mut n.buf);
        for &b in name {
            let _ = w.push(&[if b == b'/' { b'@' } else { b }]);
        }
        let _ = w.push(b".service");
        n.len = w.len();
        n
    }

    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// `NAME/file`, for the files of the cgroup.
    fn file(&self, file: &str, out: &mut [u8; 96]) -> usize {
        let mut w = SliceWriter::new(out);
        let _ = w.push(self.bytes());
        let _ = w.push(b"/");
        let _ = w.push(file.as_bytes());
        w.len()
    }
}

impl Cgroups {
    /// The cgroup of service `name`, made if missing: what its processes
    /// are started in.
    pub fn service(&self, name: &Name) -> Result<OwnedFd, Errno> {
        match mkdirat(self.root.as_fd(), name.bytes(), Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e),
        }
        self.existing(name)
    }

    /// The cgroup of service `name` if it has one (it was started in it).
    fn existing(&self, name: &Name) -> Result<OwnedFd, Errno> {
        open_dir(self.root.as_fd(), name.bytes())
    }

    /// True while a process is left in the cgroup of `name`
    /// (`cgroup.events`: `populated 1`); `None` if the service has no
    /// cgroup (one started before cgroups were there, as by PID 1 before
    /// /sys was mounted, is contained by its process group).
    pub fn populated(&self, name: &Name) -> Option<bool> {
        let mut path = [0u8; 96];
        let len = name.file("cgroup.events", &mut path);
        populated_at(&self.root, path.get(..len).unwrap_or_default())
    }
}

/// The `cgroup.procs` of the cgroup `dir`, for a child to write itself
/// into (where clone3 cannot start it there).
pub fn procs_file(dir: core::ffi::c_int) -> Result<OwnedFd, Errno> {
    // SAFETY: `dir` is the caller's open cgroup directory, borrowed for
    // this call only.
    let dir = unsafe { BorrowedFd::borrow_raw(dir) };
    openat(
        dir,
        c"cgroup.procs",
        OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// `populated 1` in the `cgroup.events` file at `path` (relative to `dir`);
/// `None` if there is no such file.
fn populated_at(dir: &OwnedFd, path: &[u8]) -> Option<bool> {
    let fd = at::openat(
        dir.as_fd(),
        path,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut buf = [0u8; 128];
    let n = retry_on_intr(|| read(&fd, &mut buf)).unwrap_or(0);
    let text = buf.get(..n).unwrap_or_default();
    Some(
        text.split(|&b| b == b'\n')
            .any(|line| line == b"populated 1"),
    )
}

/// The cgroup directory `name` of `dir`.
fn open_dir(dir: BorrowedFd<'_>, name: &[u8]) -> Result<OwnedFd, Errno> {
    let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    at::openat(dir, name, flags, Mode::empty())
}

//! cgroup v2 containment (SPEC §3): one cgroup per service, under a
//! directory of vigild's own below the cgroup vigild runs in, so that every
//! process a service started, even one that left its process group (setsid,
//! a double fork), is found and ended with it.
//!
//! The directory is named after the run directory (one vigild per run
//! directory), so a vigild that starts where another one was killed finds
//! what that one left running, and ends it first.

use super::Errno;
use super::user::{each_line, each_line_of};
use core::ops::ControlFlow;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, mkdirat, openat, statat};
use rustix::io::{read, retry_on_intr, write};
use vigild_engine::fixed::{SliceWriter, digest, hex_digit, push_hex};

/// SIGKILL.
const SIGKILL: u8 = 9;

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
        match mkdirat(&own, bytes, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(Unavailable::Refused(e)),
        }
        let root = openat(&own, bytes, flags | OFlags::NOFOLLOW, Mode::empty()).map_err(|e| {
            // Not left behind (it is empty).
            let _ = rustix::fs::unlinkat(&own, bytes, AtFlags::REMOVEDIR);
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

    /// The cgroup of service `name`, made if missing: what its processes
    /// are started in.
    pub fn service(&self, name: &Name) -> Result<OwnedFd, Errno> {
        match mkdirat(&self.root, name.bytes(), Mode::from_raw_mode(0o755)) {
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

    /// Send `signal` to every process in the cgroup of `name`, if it has
    /// one (see `kill_in`).
    pub fn kill(&self, name: &Name, signal: u8) {
        if let Ok(dir) = self.existing(name) {
            kill_in(dir.as_fd(), signal);
        }
    }
}

/// A previous vigild on this run directory was killed and its services
/// live on: in each of vigild's directories in `own` whose name ends in
/// the run directory's `id`, end them (KILL to all, waited for up to a
/// second), and remove the directory with their cgroups (fresh ones are
/// made). The number of processes that were left (those within
/// `DEPTH_MAX` levels).
fn end_leftovers(own: BorrowedFd<'_>, id: &[u8]) -> usize {
    let mut count = 0;
    each_child(own, &mut |name| {
        let bytes = name.to_bytes();
        if !bytes.starts_with(b"vigild") || !bytes.ends_with(id) {
            return;
        }
        let Ok(dir) = open_dir(own, name) else {
            return;
        };
        count += end_in(&dir);
        remove_tree(dir.as_fd());
        let _ = rustix::fs::unlinkat(own, name, AtFlags::REMOVEDIR);
    });
    count
}

/// End every process in vigild's directory `dir` (see `end_leftovers`);
/// how many were listed.
fn end_in(dir: &OwnedFd) -> usize {
    let mut count = 0;
    each_pid_in(dir.as_fd(), DEPTH_MAX, &mut |_| count += 1);
    if populated_at(dir, b"cgroup.events") == Some(true) {
        // Each service's cgroup as a stop kills it (its own never through
        // cgroup.kill, though it is removed and made anew).
        signal_pids_in(dir.as_fd(), 0, SIGKILL);
        each_child(dir.as_fd(), &mut |name| {
            if let Ok(service) = open_dir(dir.as_fd(), name) {
                kill_in(service.as_fd(), SIGKILL);
            }
        });
        for _ in 0..100 {
            if populated_at(dir, b"cgroup.events") != Some(true) {
                break;
            }
            sleep_ms(10);
        }
    }
    count
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

impl Drop for Cgroups {
    /// vigild exits (every service is down): its cgroups go. Not inlined:
    /// its buffers would be in the frame of the caller, whose frame lives
    /// as long as the loop does.
    #[inline(never)]
    fn drop(&mut self) {
        remove_tree(self.root.as_fd());
        let name = self.name.get(..self.name_len).unwrap_or_default();
        let _ = rustix::fs::unlinkat(&self.own, name, AtFlags::REMOVEDIR);
    }
}

/// `populated 1` in the `cgroup.events` file at `path` (relative to `dir`);
/// `None` if there is no such file.
fn populated_at(dir: &OwnedFd, path: &[u8]) -> Option<bool> {
    let fd = openat(dir, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let mut buf = [0u8; 128];
    let n = retry_on_intr(|| read(&fd, &mut buf)).unwrap_or(0);
    let text = buf.get(..n).unwrap_or_default();
    Some(
        text.split(|&b| b == b'\n')
            .any(|line| line == b"populated 1"),
    )
}

/// Signal every process of the cgroup `dir` and of the cgroups below it.
/// Other signals go to each pid listed within `DEPTH_MAX` levels. KILL is
/// sent with `dir` frozen (Linux 5.2), so that its processes stop forking,
/// to each pid it lists itself, again to what a fork added while the list
/// was read, until nothing new is listed (a process that got KILL can fork
/// no more); and every cgroup below it is killed whole through its
/// `cgroup.kill` (Linux 5.14; before that, its pids are walked as for the
/// other signals).
///
/// Not `cgroup.kill` for `dir` itself: on Linux 6.x up to at least 6.18 a
/// cgroup killed through it kills every process born in it afterwards by
/// clone3's CLONE_INTO_CGROUP, which is how vigild starts a service's next
/// run (the cgroups a service made below its own are never started in).
fn kill_in(dir: BorrowedFd<'_>, signal: u8) {
    if signal != SIGKILL {
        return signal_pids_in(dir, DEPTH_MAX, signal);
    }
    let frozen = write_file(dir, c"cgroup.freeze", b"1").is_ok();
    // Those listed before (dying) are listed again: only more is news.
    let mut before = 0;
    for _ in 0..KILL_ROUNDS {
        let mut listed = 0;
        each_listed_pid(dir, &mut |pid| {
            let _ = super::process::kill(pid, signal, false);
            listed += 1;
        });
        if listed <= before {
            break;
        }
        before = listed;
    }
    each_child(dir, &mut |name| {
        if let Ok(child) = open_dir(dir, name)
            && write_file(child.as_fd(), c"cgroup.kill", b"1").is_err()
        {
            signal_pids_in(child.as_fd(), DEPTH_MAX, signal);
        }
    });
    if frozen {
        let _ = write_file(dir, c"cgroup.freeze", b"0");
    }
}

/// How often KILL goes to what a cgroup lists (what forks between two
/// readings is caught by the next).
const KILL_ROUNDS: usize = 16;

/// How many levels of cgroups below a service's vigild walks to signal
/// (and count) their processes: a service may make cgroups of its own (a
/// vigild, a container runtime run as a service), and their processes are
/// the service's too. KILL reaches every level (`kill_in`).
const DEPTH_MAX: u32 = 16;

/// Call `each` with every pid in the cgroup `dir` and in the cgroups below
/// it, `depth` levels down.
fn each_pid_in(dir: BorrowedFd<'_>, depth: u32, each: &mut dyn FnMut(i32)) {
    each_listed_pid(dir, each);
    if let Some(depth) = depth.checked_sub(1) {
        each_child(dir, &mut |name| {
            if let Ok(child) = open_dir(dir, name) {
                each_pid_in(child.as_fd(), depth, each);
            }
        });
    }
}

/// Remove every (empty) cgroup below `dir`, however deep, the deepest
/// first: down the first child each time to one without children, which
/// is removed (no recursion, so no depth costs stack). Stops at the first
/// that cannot be removed (one still populated), or after `REMOVE_MAX`.
fn remove_tree(dir: BorrowedFd<'_>) {
    for _ in 0..REMOVE_MAX {
        let mut name = [0u8; 256];
        let Some(mut len) = first_child(dir, &mut name) else {
            return;
        };
        let Ok(mut parent) = open_dir(dir, c".") else {
            return;
        };
        loop {
            let Ok(child) = open_dir(parent.as_fd(), &name[..len]) else {
                return;
            };
            let mut below = [0u8; 256];
            match first_child(child.as_fd(), &mut below) {
                Some(below_len) => {
                    (parent, name, len) = (child, below, below_len);
                }
                None => {
                    if rustix::fs::unlinkat(&parent, &name[..len], AtFlags::REMOVEDIR).is_err() {
                        return;
                    }
                    break;
                }
            }
        }
    }
}

/// Most cgroups `remove_tree` removes in one call.
const REMOVE_MAX: usize = 4096;

/// The name of a cgroup right below `dir` into `out`, its length; `None`
/// if there is none.
fn first_child(dir: BorrowedFd<'_>, out: &mut [u8; 256]) -> Option<usize> {
    let mut found = None;
    each_child(dir, &mut |name| {
        let bytes = name.to_bytes();
        if found.is_none()
            && let Some(slot) = out.get_mut(..bytes.len())
        {
            slot.copy_from_slice(bytes);
            found = Some(bytes.len());
        }
    });
    found
}

/// The cgroup directory `name` of `dir`.
fn open_dir(dir: BorrowedFd<'_>, name: impl rustix::path::Arg) -> Result<OwnedFd, Errno> {
    let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    openat(dir, name, flags, Mode::empty())
}

/// Call `each` with every pid the cgroup `dir` lists (`cgroup.procs`).
/// A process outside vigild's PID namespace is listed as 0: skipped
/// (kill(0) would signal vigild's own process group).
fn each_listed_pid(dir: BorrowedFd<'_>, each: &mut dyn FnMut(i32)) {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC;
    if let Ok(procs) = openat(dir, c"cgroup.procs", flags, Mode::empty()) {
        let _ = each_line_of(procs.as_fd(), &mut |line| {
            let pid = vigild_engine::unix::parse_u64(line)
                .and_then(|pid| i32::try_from(pid).ok())
                .filter(|&pid| pid > 0);
            if let Some(pid) = pid {
                each(pid);
            }
            ControlFlow::Continue(())
        });
    }
}

/// Send `signal` to every pid in the cgroup `dir` and in the cgroups
/// below it, `depth` levels down.
fn signal_pids_in(dir: BorrowedFd<'_>, depth: u32, signal: u8) {
    each_pid_in(dir, depth, &mut |pid| {
        let _ = super::process::kill(pid, signal, false);
    });
}

/// Call `each` with the name of every cgroup right below the cgroup `dir`.
fn each_child(dir: BorrowedFd<'_>, each: &mut dyn FnMut(&core::ffi::CStr)) {
    let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC;
    let Ok(list) = openat(dir, c".", flags, Mode::empty()) else {
        return;
    };
    let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 1024];
    let mut entries = rustix::fs::RawDir::new(&list, &mut buf);
    while let Some(Ok(entry)) = entries.next() {
        let name = entry.file_name();
        // Every name but `.` and `..` (a service may be named `.web`).
        let dots = matches!(name.to_bytes(), b"." | b"..");
        if entry.file_type() == FileType::Directory && !dots {
            each(name);
        }
    }
}

/// Write `bytes` to the file `name` of `dir`.
fn write_file(dir: BorrowedFd<'_>, name: &core::ffi::CStr, bytes: &[u8]) -> Result<(), Errno> {
    let fd = openat(dir, name, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    retry_on_intr(|| write(&fd, bytes)).map(drop)
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
        statat(CWD, "/sys/fs/cgroup", AtFlags::empty()),
        statat(CWD, "/sys/fs", AtFlags::empty()),
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

/// Sleep `ms` milliseconds (only while start-up ends a predecessor's
/// leftovers).
fn sleep_ms(ms: u64) {
    let _ = rustix::event::poll(&mut [], Some(&super::clock::timespec(ms)));
}

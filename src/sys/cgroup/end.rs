//! Ending a service's processes by its cgroup and removing cgroups: at a
//! stop, at vigild's exit, and what a killed vigild left on its run
//! directory (found at start-up).

use super::{Cgroups, Name, open_dir, populated_at};
use crate::sys::Errno;
use crate::sys::at::unlinkat;
use crate::sys::fs::each_line_of;
use crate::sys::process;
use core::ops::ControlFlow;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, openat};
use rustix::io::{retry_on_intr, write};

/// SIGKILL.
const SIGKILL: u8 = 9;

impl Cgroups {
    /// Send `signal` to every process in the cgroup of `name`, if it has
    /// one (see `kill_in`); whether it listed any.
    pub fn kill(&self, name: &Name, signal: u8) -> bool {
        self.existing(name)
            .is_ok_and(|dir| kill_in(dir.as_fd(), signal) > 0)
    }
}

/// A previous vigild on this run directory was killed and its services
/// live on: in each of vigild's directories in `own` whose name ends in
/// the run directory's `id`, end them (KILL to all, waited for up to a
/// second), and remove the directory with their cgroups (fresh ones are
/// made). The number of processes that were left (those within
/// `DEPTH_MAX` levels).
pub(super) fn end_leftovers(own: BorrowedFd<'_>, id: &[u8]) -> usize {
    let mut count = 0;
    each_child(own, &mut |name| {
        let bytes = name.to_bytes();
        if !bytes.starts_with(b"vigild") || !bytes.ends_with(id) {
            return;
        }
        let Ok(dir) = open_dir(own, name.to_bytes()) else {
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
            if let Ok(service) = open_dir(dir.as_fd(), name.to_bytes()) {
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

impl Drop for Cgroups {
    /// vigild exits (every service is down): its cgroups go. Not inlined:
    /// its buffers would be in the frame of the caller, whose frame lives
    /// as long as the loop does.
    #[inline(never)]
    fn drop(&mut self) {
        remove_tree(self.root.as_fd());
        let name = self.name.get(..self.name_len).unwrap_or_default();
        let _ = unlinkat(self.own.as_fd(), name, AtFlags::REMOVEDIR);
    }
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
fn kill_in(dir: BorrowedFd<'_>, signal: u8) -> usize {
    if signal != SIGKILL {
        return signal_pids_in(dir, DEPTH_MAX, signal);
    }
    let frozen = write_file(dir, c"cgroup.freeze", b"1").is_ok();
    // Those listed before (dying) are listed again: only more is news.
    let mut before = 0;
    for _ in 0..KILL_ROUNDS {
        let mut listed = 0;
        each_listed_pid(dir, &mut |pid| {
            let _ = process::kill(pid, signal, false);
            listed += 1;
        });
        if listed <= before {
            break;
        }
        before = listed;
    }
    each_child(dir, &mut |name| {
        if let Ok(child) = open_dir(dir, name.to_bytes())
            && write_file(child.as_fd(), c"cgroup.kill", b"1").is_err()
        {
            signal_pids_in(child.as_fd(), DEPTH_MAX, signal);
        }
    });
    if frozen {
        let _ = write_file(dir, c"cgroup.freeze", b"0");
    }
    before
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
            if let Ok(child) = open_dir(dir, name.to_bytes()) {
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
        let Ok(mut parent) = open_dir(dir, b".") else {
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
                    if unlinkat(parent.as_fd(), &name[..len], AtFlags::REMOVEDIR).is_err() {
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
fn signal_pids_in(dir: BorrowedFd<'_>, depth: u32, signal: u8) -> usize {
    let mut count = 0;
    each_pid_in(dir, depth, &mut |pid| {
        let _ = process::kill(pid, signal, false);
        count += 1;
    });
    count
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

/// Sleep `ms` milliseconds (only while start-up ends a predecessor's
/// leftovers).
fn sleep_ms(ms: u64) {
    let _ = rustix::event::poll(&mut [], Some(&crate::sys::clock::timespec(ms)));
}

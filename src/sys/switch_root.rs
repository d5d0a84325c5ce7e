//! PID 1 leaves the initramfs for the real root file system, as BusyBox's
//! and util-linux's `switch_root` do: the kernel's file systems move into
//! the new root, the initramfs's files are deleted (its memory is freed
//! only so: it cannot be unmounted), the new root is moved over `/` and
//! becomes the root, and the new init is executed in vigild's place.
//! Cold code (link/layout.ld): it runs once, at the end.

use super::Errno;
use super::message::say;
use core::ffi::{CStr, c_char};
use core::mem::MaybeUninit;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, RawDir, ResolveFlags, Stat};
use vigild_engine::fixed::Lossy;
use vigild_engine::limits::LINE_MAX;

/// The file systems the new root takes along; one not mounted is skipped
/// (cgroup2, mounted under /sys, moves with it).
const MOVED: [&CStr; 4] = [c"/dev", c"/proc", c"/sys", c"/run"];

/// The file systems an initramfs is (statfs(2)'s f_type).
const RAMFS_MAGIC: u64 = 0x8584_58f6;
const TMPFS_MAGIC: u64 = 0x0102_1994;

/// How deep the deletion goes: an initramfs is shallow, and what lies
/// deeper only stays in memory.
const DEPTH_MAX: u32 = 64;

/// NEWROOT, INIT and INIT's arguments, each NUL-terminated, back to back
/// (from one control line: they fit), kept from the request to the end of
/// the shutdown it began.
const PLAN_BYTES: usize = LINE_MAX + 8;
static mut PLAN: [u8; PLAN_BYTES] = [0; PLAN_BYTES];

/// The refusals of `switch_root NEWROOT INIT`, checked before anything
/// changes: NEWROOT is no mount point (it has the device of `/`, or is no
/// directory), INIT is no executable file in NEWROOT (its symlinks
/// resolved inside NEWROOT), `/` is no initramfs (ramfs or tmpfs: the
/// files of any other root must not be deleted).
#[inline(never)]
pub fn check(newroot: &[u8], init: &[u8]) -> Result<(), &'static str> {
    let dev =
        |path: &[u8]| super::at::statat(CWD, path, AtFlags::empty()).map_or(0, |st| st.st_dev);
    let new = open_path(CWD, newroot).map_err(|_| "not-a-mount-point")?;
    if dev(b"/") == dev(newroot) {
        return Err("not-a-mount-point");
    }
    let flags = OFlags::PATH | OFlags::CLOEXEC;
    match rustix::fs::openat2(&new, init, flags, Mode::empty(), ResolveFlags::IN_ROOT) {
        Ok(file)
            if stat_of(file.as_fd())
                .is_ok_and(|st| st.st_mode & 0o170000 == 0o100000 && st.st_mode & 0o111 != 0) => {}
        // A kernel older than 5.6 cannot resolve INIT inside NEWROOT: the
        // exec will tell.
        Err(Errno::NOSYS) => {}
        _ => return Err("no-init"),
    }
    let magic = rustix::fs::statfs(c"/").map_or(0, |fs| fs.f_type as u64);
    if magic != RAMFS_MAGIC && magic != TMPFS_MAGIC {
        return Err("root-not-initramfs");
    }
    Ok(())
}

/// Enter `newroot`, everything of the switch but the exec: /dev, /proc,
/// /sys and /run move into it (one that cannot, because NEWROOT lacks the
/// directory, is detached), the initramfs's files are deleted without
/// crossing into another file system or following a symlink, `newroot` is
/// moved over `/`, and it becomes the root and working directory. An
/// error names the step that failed (`/`, `newroot`: opening them, or
/// NEWROOT is no mount point; `mount`: the move over `/`; `chroot`); there
/// is no way back after the deletion.
#[inline(never)]
pub fn enter_new_root(newroot: &[u8]) -> Result<(), (&'static str, Errno)> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let root = super::at::openat(CWD, b"/", flags, Mode::empty()).map_err(|e| ("/", e))?;
    let root_dev = stat_of(root.as_fd()).map_err(|e| ("/", e))?.st_dev;
    let new = open_path(CWD, newroot).map_err(|e| ("newroot", e))?;
    if stat_of(new.as_fd()).map_err(|e| ("newroot", e))?.st_dev == root_dev {
        return Err(("newroot", Errno::INVAL));
    }
    // In NEWROOT, each mount's target is its path without the leading `/`.
    rustix::process::fchdir(&new).map_err(|e| ("newroot", e))?;
    for mount in MOVED {
        let path = mount.to_bytes_with_nul();
        // Not a mount point: the move fails, and so does the detach.
        if move_mount(path, &path[1..]).is_err()
            // SAFETY: umount2(2) of a NUL-terminated path.
            && unsafe { libc::umount2(mount.as_ptr(), libc::MNT_DETACH) } == 0
        {
            say!(
                "switch_root: {} not moved, detached",
                Lossy(mount.to_bytes())
            );
        }
    }
    delete_contents(root, root_dev, 0);
    move_mount(b".\0", b"/\0").map_err(|e| ("mount", e))?;
    rustix::process::chroot(c".").map_err(|e| ("chroot", e))?;
    rustix::process::chdir(c"/").map_err(|e| ("chroot", e))
}

/// Keep NEWROOT, INIT and its arguments (`words`, from one control line:
/// they fit) for `switch`.
#[inline(never)]
pub fn remember(words: &[&[u8]]) {
    let mut at = 0;
    for word in words {
        if at + word.len() < PLAN_BYTES {
            // SAFETY: within PLAN (the NUL after the word too, a zero
            // still), not overlapping `word`; vigild is single-threaded:
            // nothing reads PLAN meanwhile.
            unsafe {
                let to = (&raw mut PLAN).cast::<u8>().add(at);
                core::ptr::copy_nonoverlapping(word.as_ptr(), to, word.len());
            }
        }
        at += word.len() + 1;
    }
}

/// The NEWROOT that `remember` kept.
pub fn planned_root() -> &'static [u8] {
    let plan = plan();
    &plan[..plan.iter().position(|&b| b == 0).unwrap_or(0)]
}

/// Switch to what `remember` kept: enter NEWROOT, then execute INIT with
/// its arguments (argv[0] INIT), every signal as at boot, the environment
/// vigild's own. Returns only on failure: the step, and why.
#[inline(never)]
pub fn switch() -> (&'static str, Errno) {
    if let Err(failed) = enter_new_root(planned_root()) {
        return failed;
    }
    let plan = plan();
    let mut argv = [core::ptr::null::<c_char>(); 4];
    let words = plan[planned_root().len() + 1..].split_inclusive(|&b| b == 0);
    for (slot, word) in argv[..3].iter_mut().zip(words.filter(|w| w.len() > 1)) {
        *slot = word.as_ptr().cast();
    }
    // What vigild blocked or ignored would stay so in INIT.
    super::signal::setup::reset_inherited();
    // SAFETY: argv is NULL-terminated (4 slots, at most 3 filled) and points
    // at NUL-terminated words in PLAN, which outlives exec; the
    // environment is the one vigild was started with.
    unsafe { libc::execve(argv[0], argv.as_ptr(), super::args::environ_ptr()) };
    ("exec", Errno::from_raw_os_error(super::process::errno()))
}

fn plan() -> &'static [u8] {
    // SAFETY: only `remember` writes PLAN, on the same (single) thread,
    // never while this borrow is used: the switch comes after it.
    unsafe { core::slice::from_raw_parts((&raw const PLAN).cast::<u8>(), PLAN_BYTES) }
}

/// O_PATH of a directory (whatever its permissions).
fn open_path(dir: BorrowedFd<'_>, path: &[u8]) -> Result<OwnedFd, Errno> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    super::at::openat(dir, path, flags, Mode::empty())
}

fn stat_of(fd: BorrowedFd<'_>) -> Result<Stat, Errno> {
    rustix::fs::fstat(fd)
}

/// mount(2) with MS_MOVE, from and to NUL-terminated paths.
fn move_mount(from: &[u8], to: &[u8]) -> Result<(), Errno> {
    // SAFETY: both paths are NUL-terminated (the callers' buffers and
    // literals); no file system type nor data for a move.
    let r = unsafe {
        libc::mount(
            from.as_ptr().cast(),
            to.as_ptr().cast(),
            core::ptr::null(),
            libc::MS_MOVE,
            core::ptr::null(),
        )
    };
    match r {
        0 => Ok(()),
        _ => Err(Errno::from_raw_os_error(super::process::errno())),
    }
}

/// Delete what the directory `dir` holds on the device `dev`: files, and
/// directories after their contents; never a symlink's target, nor what
/// another file system mounted here holds (NEWROOT, a mount that could
/// not move). What cannot go stays.
fn delete_contents(dir: OwnedFd, dev: u64, depth: u32) {
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    let mut entries = RawDir::new(&dir, &mut buf);
    while let Some(Ok(entry)) = entries.next() {
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let Ok(st) = super::at::statat(dir.as_fd(), name, AtFlags::SYMLINK_NOFOLLOW) else {
            continue;
        };
        if st.st_dev != dev {
            continue;
        }
        let mut unlink = AtFlags::empty();
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            if let Ok(sub) = super::at::openat(dir.as_fd(), name, flags, Mode::empty())
                && depth < DEPTH_MAX
            {
                delete_contents(sub, dev, depth + 1);
            }
            unlink = AtFlags::REMOVEDIR;
        }
        let _ = super::at::unlinkat(dir.as_fd(), name, unlink);
    }
}

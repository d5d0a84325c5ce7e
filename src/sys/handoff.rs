//! The hand-off file of `reexec` (vigild(8) UPGRADING): a memfd (or an
//! unlinked file of the run directory where memfd_create is missing) that
//! holds vigild's state as images of its tables, byte for byte, written by
//! one image and read back by the next. The reader leaves a table's pages
//! of zeros unwritten: the new image has in memory what the old one used.
//!
//! An image is only ever read by a build whose hand-off layout (version,
//! sizes and capacities, and a fingerprint of the types' definitions) is
//! the writer's: the header that says so is checked first, by the new
//! image run as a check before the exec (`run_check`, which then reads it
//! all) and again when it resumes.

use super::{Errno, PAGE, process};
use core::ffi::{CStr, c_void};
use core::marker::PhantomData;
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::fs::{MemfdFlags, Mode, OFlags, memfd_create};

/// A new hand-off file, close-on-exec until `keep_open_fds`.
#[inline(never)]
pub fn create(run_dir: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    memfd_create(c"vigild-handoff", MemfdFlags::CLOEXEC).or_else(|_| {
        let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
        rustix::fs::openat(run_dir, c".", flags, Mode::from_raw_mode(0o600))
    })
}

/// Let every open fd above 2 but those of `except` survive the exec
/// (without /proc, every number below 1024: the others fail, EBADF).
pub fn keep_open_fds(except: [i32; 2]) {
    let mut keep = |fd: i32| {
        if !except.contains(&fd) {
            process::fcntl(fd, libc::F_SETFD, 0);
        }
    };
    if !super::stdio::each_open_fd(&mut keep) {
        (3..1024).for_each(keep);
    }
}

/// The bytes of a value, to be written as an image (`write_images`).
pub struct Image<'a> {
    at: usize,
    len: usize,
    _value: PhantomData<&'a ()>,
}

impl<'a> Image<'a> {
    pub fn of<T: ?Sized>(value: &'a T) -> Self {
        let at = value as *const T as *const u8 as usize;
        Image {
            at,
            len: size_of_val(value),
            _value: PhantomData,
        }
    }
}

/// The bytes of a value to be read back from its image (`read_images`).
pub struct Place<'a> {
    at: usize,
    len: usize,
    /// All zeros now, and only its pages that are not left so are
    /// written (they alone then cost memory).
    zeroed: bool,
    _value: PhantomData<&'a mut ()>,
}

impl<'a> Place<'a> {
    /// `value`'s bytes, to be overwritten by those of an image of a value
    /// of its type (see `read_images`).
    pub fn of<T: ?Sized>(value: &'a mut T) -> Self {
        let at = value as *mut T as *mut u8 as usize;
        Place {
            at,
            len: size_of_val(value),
            zeroed: false,
            _value: PhantomData,
        }
    }

    /// As `of`, for a value that is all zero bytes now (a table in
    /// `.bss` not used yet): the image's pages of zeros are not written.
    pub fn zeroed<T: ?Sized>(value: &'a mut T) -> Self {
        Place {
            zeroed: true,
            ..Place::of(value)
        }
    }
}

/// Write `images` into `file`, each from a page boundary on, the first at
/// offset 0.
#[inline(never)]
pub fn write_images(file: BorrowedFd<'_>, images: &[Image<'_>]) -> Result<(), Errno> {
    let mut offset = 0;
    for image in images {
        transfer(file, offset, image.at, image.len, true)?;
        offset += page_round(image.len);
    }
    Ok(())
}

fn page_round(len: usize) -> u64 {
    len.div_ceil(PAGE) as u64 * PAGE as u64
}

/// `len` bytes between address `at` and `file` at `offset`: into the file
/// (`write`), or out of it.
fn transfer(
    file: BorrowedFd<'_>,
    offset: u64,
    at: usize,
    len: usize,
    write: bool,
) -> Result<(), Errno> {
    let mut done = 0;
    while done < len {
        let (fd, pos, count) = (file.as_raw_fd(), (offset + done as u64) as i64, len - done);
        let n = match write {
            // SAFETY: the kernel reads `count` bytes at `at + done`, inside
            // the value of an `Image` (no Rust reference to its bytes is
            // made, so its padding is never read as a value).
            true => unsafe { libc::pwrite(fd, (at + done) as *const c_void, count, pos) },
            // SAFETY: the kernel writes `count` bytes at `at + done`, inside
            // the value of a `Place` (exclusively borrowed), with the bytes
            // of a value of its type (see `read_images`), or inside
            // `read_place`'s own chunk buffer.
            false => unsafe { libc::pread(fd, (at + done) as *mut c_void, count, pos) },
        };
        match n {
            n if n > 0 => done += n as usize,
            // The end of the file: cut short.
            0 => return Err(Errno::NODATA),
            _ if process::errno() == libc::EINTR => {}
            _ => return Err(Errno::from_raw_os_error(process::errno())),
        }
    }
    Ok(())
}

/// Read the images `write_images` wrote back into `places`, in the same
/// order.
///
/// The caller has checked that the writer's hand-off layout is this
/// build's: each place is a value of the very type, of the same size and
/// layout, that was written there, which is what makes the bytes a valid
/// value of it.
pub fn read_images(file: BorrowedFd<'_>, places: &mut [Place<'_>]) -> Result<(), Errno> {
    let mut offset = 0;
    for place in places {
        read_place(file, offset, place)?;
        offset += page_round(place.len);
    }
    Ok(())
}

/// The `len` bytes of `file` at `offset` into `place`; unless it was
/// zeroed, only its chunks that hold something else than zeros.
fn read_place(file: BorrowedFd<'_>, offset: u64, place: &Place<'_>) -> Result<(), Errno> {
    if !place.zeroed {
        return transfer(file, offset, place.at, place.len, false);
    }
    let mut chunk = [0u8; PAGE];
    let mut done = 0;
    while done < place.len {
        let n = (place.len - done).min(PAGE);
        transfer(
            file,
            offset + done as u64,
            chunk.as_mut_ptr() as usize,
            n,
            false,
        )?;
        if chunk[..n].iter().any(|&b| b != 0) {
            copy(&chunk[..n], place.at + done);
        }
        done += n;
    }
    Ok(())
}

/// `bytes` to address `to`, inside a `Place`.
fn copy(bytes: &[u8], to: usize) {
    // SAFETY: `to..to + bytes.len()` lies in the value of a `Place`
    // (exclusively borrowed), given the bytes its type's image has there
    // (see `read_images`); `bytes` is a buffer of our own, apart from it.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), to as *mut u8, bytes.len()) };
}

/// The program `path` names, opened to be executed (`run_check`, `exec`)
/// by its descriptor: only a regular file (`ISDIR` otherwise) that root or
/// vigild's own user owns and nobody else may write (`PERM` otherwise): a
/// `reexec` runs it as vigild. Reached through no symlink at all (`LOOP`
/// otherwise: a user who may write a directory on the way could plant a
/// link to another program), or, inside `root` (a `switch_root`'s new
/// root, root's own file system), with its symlinks resolved there.
#[inline(never)]
pub fn open_binary(root: Option<&CStr>, path: &CStr) -> Result<OwnedFd, Errno> {
    use rustix::fs::ResolveFlags;
    let flags = OFlags::PATH | OFlags::CLOEXEC;
    let dir = match root {
        Some(root) => Some(rustix::fs::open(
            root,
            flags | OFlags::DIRECTORY,
            Mode::empty(),
        )?),
        None => None,
    };
    let (at, how) = match &dir {
        Some(dir) => (dir.as_fd(), ResolveFlags::IN_ROOT),
        None => (rustix::fs::CWD, ResolveFlags::NO_SYMLINKS),
    };
    let binary = rustix::fs::openat2(at, path, flags, Mode::empty(), how)?;
    super::args::trusted(binary.as_fd())?;
    Ok(binary)
}

/// Run `path --handoff-check` with `file` as its stdin, the new image's
/// judgement of the hand-off: what it wrote on its stdout (`ok` when it
/// can resume from it) in `answer`, its length (`TIMEDOUT`: nothing came,
/// not even its end, within the limit). Within `limit_ms` in all:
/// then, answered or not, its process group (it leads one) is killed, so
/// that neither a check that never ends nor one that hangs after its
/// answer can hold vigild longer.
#[inline(never)]
pub fn run_check(
    binary: BorrowedFd<'_>,
    path: &CStr,
    file: BorrowedFd<'_>,
    answer: &mut [u8],
    limit_ms: u64,
) -> Result<usize, Errno> {
    // Not blocking: the answer is read once, after one wait, and a
    // vigild's answer (`ok\n`, one write into an empty pipe) is there whole.
    let flags = rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK;
    let (read, write) = rustix::pipe::pipe_with(flags)?;
    let Some(pid) = process::fork()? else {
        // The child: a group of its own (killed whole), every signal at
        // its default (vigild's blocked ones would make it deaf), stdin
        // the hand-off, stdout the pipe, then the check.
        process::setsid();
        super::signal::setup::reset_inherited();
        let _ = rustix::stdio::dup2_stdin(file);
        let _ = rustix::stdio::dup2_stdout(&write);
        // Its complaints are its answer too (an older vigild's `unknown
        // option`), and read as far as an answer is: never a flood on
        // vigild's own stderr.
        let _ = rustix::stdio::dup2_stderr(&write);
        let argv = [
            path.as_ptr(),
            c"--handoff-check".as_ptr(),
            core::ptr::null(),
        ];
        let e = super::args::execveat(binary, &argv).raw_os_error() as u16;
        // One write, as a check's answer is read.
        let name = vigild_engine::unix::errno_name(e).unwrap_or("failed");
        let mut said = [0u8; 40];
        said[..5].copy_from_slice(b"exec ");
        let len = 5 + vigild_engine::fixed::copy_cut(&mut said[5..], name.as_bytes());
        let _ = super::fs::write_all(super::fs::stdout(), &said[..len]);
        process::exit(127);
    };
    drop(write);
    // Its answer, its end (EOF), or the deadline: then whatever it wrote.
    let mut fds = [rustix::event::PollFd::new(
        &read,
        rustix::event::PollFlags::IN,
    )];
    let waited = rustix::event::poll(&mut fds, Some(&super::clock::timespec(limit_ms)));
    let len = rustix::io::read(&read, answer).unwrap_or(0);
    // Its answer is all that was wanted of it.
    let _ = process::kill(pid, 9, true);
    process::wait_for(pid);
    match waited {
        Ok(0) => Err(Errno::TIMEDOUT),
        _ => Ok(len),
    }
}

/// Execute `path` with the command line `front` then `args` from `first`
/// on (argv[0] is `path`): the hand-off. Returns only on failure.
#[inline(never)]
pub fn exec(
    binary: BorrowedFd<'_>,
    path: &CStr,
    front: &[&CStr],
    args: super::args::Args,
    first: usize,
) -> Errno {
    let mut argv = [core::ptr::null::<core::ffi::c_char>(); 256];
    argv[0] = path.as_ptr();
    let mut n = 1;
    for word in front {
        argv[n] = word.as_ptr();
        n += 1;
    }
    let mut i = first;
    while let Some(ptr) = args.raw(i) {
        if n + 1 >= argv.len() {
            return Errno::TOOBIG;
        }
        argv[n] = ptr;
        (n, i) = (n + 1, i + 1);
    }
    // NULL-terminated: n + 1 < its length.
    super::args::execveat(binary, &argv)
}

/// The fd's number, as the hand-off records it.
pub fn number(fd: impl AsFd) -> i32 {
    fd.as_fd().as_raw_fd()
}

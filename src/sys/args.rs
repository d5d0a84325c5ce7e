//! The C entry point's `argv` and the process environment, as byte slices
//! that live as long as the process.

use core::ffi::{CStr, c_char, c_int};
use rustix::fd::BorrowedFd;

/// The command line given to `main`.
#[derive(Clone, Copy)]
pub struct Args {
    argc: usize,
    argv: *const *const c_char,
}

/// The C runtime's `argv` as it hands it to `main`: a NULL-terminated
/// array of C strings that live until exit. Its field is private, so no
/// other value of this type can be made: every `Argv` is the C runtime's,
/// which is what makes `enter` (and so `Args::get`) sound.
#[repr(transparent)]
pub struct Argv(*const *const c_char);

/// Run `program` with the command line of `argv`: the C entry point
/// (`main`, in the crate root) calls this.
pub fn enter(argv: Argv, program: fn(Args) -> c_int) -> c_int {
    let mut argc = 0;
    // SAFETY: `argv` is the C runtime's (see `Argv`): its entries up to
    // the NULL that ends it may be read; we stop there.
    while !argv.0.is_null() && !unsafe { *argv.0.add(argc) }.is_null() {
        argc += 1;
    }
    program(Args { argc, argv: argv.0 })
}

impl Args {
    /// Argument `i`, without its NUL.
    pub fn get(&self, i: usize) -> Option<&'static [u8]> {
        if i >= self.argc {
            return None;
        }
        // SAFETY: i < argc, the entries `enter` counted before the NULL of
        // the C runtime's argv (only `enter` makes an `Args`): valid C
        // strings that live for the whole process.
        Some(unsafe { CStr::from_ptr(*self.argv.add(i)) }.to_bytes())
    }

    /// Argument `i` as the C string pointer `execve` takes.
    pub fn raw(&self, i: usize) -> Option<*const c_char> {
        // SAFETY: i < argc: an entry of the C runtime's argv (see `get`).
        (i < self.argc).then(|| unsafe { *self.argv.add(i) })
    }

    /// The command line from argument `n` on (argument `n` its argv[0]).
    pub fn skip(self, n: usize) -> Args {
        let n = n.min(self.argc);
        Args {
            argc: self.argc - n,
            // SAFETY: n <= argc: at most one past the last entry, the
            // array's NULL, still inside it.
            argv: unsafe { self.argv.add(n) },
        }
    }
}

unsafe extern "C" {
    static environ: *const *const c_char;
}

/// The environment as `execve` takes it.
pub fn environ_ptr() -> *const *const c_char {
    // SAFETY: reading the pointer; vigild never changes its environment.
    unsafe { environ }
}

/// Every `KEY=VALUE` entry of the environment vigild was started with, as
/// (the C pointer to hand to `execve`, its bytes).
pub fn environment() -> impl Iterator<Item = (*const c_char, &'static [u8])> {
    // SAFETY: vigild never changes its environment (no setenv/putenv), so
    // `environ` is a NULL-terminated array of C strings for the whole run.
    let mut at = unsafe { environ };
    core::iter::from_fn(move || {
        if at.is_null() {
            return None;
        }
        // SAFETY: `at` points into the NULL-terminated `environ` array; we
        // stop at the NULL entry and never step past it.
        let entry = unsafe { *at };
        if entry.is_null() {
            return None;
        }
        // SAFETY: as above; each entry is a valid C string.
        at = unsafe { at.add(1) };
        // SAFETY: `entry` is a valid C string of the unchanged environment.
        Some((entry, unsafe { CStr::from_ptr(entry) }.to_bytes()))
    })
}

/// The value of `name` in the environment.
pub fn getenv(name: &[u8]) -> Option<&'static [u8]> {
    environment().find_map(|(_, entry)| entry.strip_prefix(name)?.strip_prefix(b"="))
}

/// The path of this program's file, as /proc/self/exe names it.
pub fn own_path(buf: &mut [u8]) -> Option<&[u8]> {
    let len = rustix::fs::readlinkat_raw(rustix::fs::CWD, c"/proc/self/exe", &mut buf[..]).ok()?;
    buf.get(..len)
}

/// Execute the program `name` that lies in the directory of this one
/// (`/proc/self/exe`'s), its command line the arguments from `first` on
/// (argument `first` as its argv[0]). Only a regular file that root or
/// our own user owns and nobody else may write is executed, and the very
/// file checked (by its descriptor): vigild may run as root from a
/// directory others can write. Returns only on failure.
pub fn exec_beside(name: &[u8], args: Args, first: usize) -> super::Errno {
    use rustix::fd::AsFd;
    use rustix::fs::{CWD, Mode, OFlags, readlinkat_raw};
    let mut path = [0u8; 4096];
    let len = match readlinkat_raw(CWD, c"/proc/self/exe", &mut path[..]) {
        Ok(len) => len,
        Err(e) => return e,
    };
    let dir = path[..len].iter().rposition(|&b| b == b'/').unwrap_or(0);
    let end = dir + 1 + name.len();
    if first >= args.argc || end >= path.len() {
        return super::Errno::NAMETOOLONG;
    }
    path[dir] = b'/';
    path[dir + 1..end].copy_from_slice(name);
    let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let file = match super::at::openat(CWD, &path[..end], flags, Mode::empty()) {
        Ok(file) => file,
        Err(e) => return e,
    };
    if trusted(file.as_fd()).is_err() {
        return super::Errno::PERM;
    }
    // SAFETY: the C runtime's argv from `first` (< argc) to its NULL:
    // argc - first entries and the NULL, all valid for the whole process.
    let argv = unsafe { core::slice::from_raw_parts(args.argv.add(first), args.argc - first + 1) };
    execveat(file.as_fd(), argv)
}

/// Whether the open program `file` may be executed by vigild: a regular
/// file (`ISDIR` otherwise) that root or vigild's own user owns and nobody
/// else may write (`PERM` otherwise).
pub fn trusted(file: BorrowedFd<'_>) -> Result<(), super::Errno> {
    use rustix::fs::{FileType, fstat};
    let st = fstat(file)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(super::Errno::ISDIR);
    }
    let mine = st.st_uid == 0 || st.st_uid == rustix::process::geteuid().as_raw();
    (mine && st.st_mode & 0o022 == 0)
        .then_some(())
        .ok_or(super::Errno::PERM)
}

/// execveat(2) of the open program `file` itself (the very file checked)
/// with `argv`, which ends with its NULL (`INVAL` otherwise), and the
/// environment vigild was started with. Returns only on failure.
pub fn execveat(file: BorrowedFd<'_>, argv: &[*const c_char]) -> super::Errno {
    if argv.last().is_none_or(|last| !last.is_null()) {
        return super::Errno::INVAL;
    }
    // SAFETY: execveat of an open file (AT_EMPTY_PATH, an empty
    // NUL-terminated path); `argv` ends with a NULL (checked), and its
    // entries are C strings that outlive the call (its callers': the C
    // runtime's argv, literals, buffers they hold); the environment is
    // vigild's own, unchanged.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            rustix::fd::AsRawFd::as_raw_fd(&file),
            c"".as_ptr(),
            argv.as_ptr(),
            environ_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    super::Errno::from_raw_os_error(super::process::errno())
}

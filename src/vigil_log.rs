//! `vigil-log [-s SIZE] [-n N] [-t rfc3339|tai64n] DIR` (also `vigild log`):
//! reads stdin, writes `DIR/current` with a stamp on every line, rotates it
//! to `DIR/@TAI64N.s` before it would pass SIZE, keeps N old files (vigil-log(8)).
//!
//! It holds at most one read of input at a time and writes it out before
//! reading more, so a slow or full disk stops the reading (and, once the
//! pipe is full, the service), never loses what was read. TERM: write what
//! the pipe still holds, then exit 0; ALRM: rotate now.

use crate::sys::Errno;
use crate::sys::args::Args;
use crate::sys::clock;
use crate::sys::fs::stdin;
use crate::sys::run_dir::{LockError, lock_file, single_file, write_pid};
use crate::sys::signal::Signals;
use core::ffi::{CStr, c_int};
use core::mem::MaybeUninit;
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, Mode, OFlags, RawDir, fstat, fsync, openat, renameat, unlinkat};
use vigild_engine::fixed::{Lossy, Plain, copy_cut, move_to_start, word_index};
use vigild_engine::log_rules::{
    Options, STAMP_MAX, USAGE, is_old_file, next_line, parse_options, rotation_label, stamp,
};
use vigild_engine::unix::ErrnoName;

/// Input read at once (the pipe's default capacity is 64 KiB).
const IN: usize = 16 * 1024;
/// Output gathered before a write: a whole read's lines with their stamps
/// (26 bytes more each) in one write(2) unless they are shorter than about
/// 40 bytes.
const OUT: usize = 28 * 1024;
/// The longest a write failure waits before it is tried again.
const RETRY_MAX_MS: u64 = 2000;

/// `-h`.
const HELP: &str = "\
usage: vigil-log [-s SIZE] [-n N] [-t rfc3339|tai64n] DIR
  -s SIZE  rotate current before it passes SIZE (default 1M; k, M, G)
  -n N     old files kept (default 10)
  -t KIND  line stamps: rfc3339 (UTC, the default) or tai64n
  DIR      where current and the rotated files are (stdin is logged)
  -h, -V   this help; the version
";

macro_rules! say {
    ($($arg:tt)*) => { said(format_args!($($arg)*)) };
}

/// A line from vigil-log (`say!`). Not inlined: each `say!` then passes
/// only its message, not the program's name too.
#[inline(never)]
fn said(msg: core::fmt::Arguments<'_>) {
    crate::sys::message::line("vigil-log", msg);
}

/// `vigil-log ARGS`, the arguments starting at `first`: the exit code.
pub fn main(args: Args, first: usize) -> c_int {
    let mut words = (first..).map_while(|i| args.get(i));
    for word in words.clone() {
        let text = match word_index("-h --help -V --version", word) {
            Some(0 | 1) => HELP,
            Some(_) => concat!("vigil-log ", env!("CARGO_PKG_VERSION"), "\n"),
            None => continue,
        };
        let _ = crate::sys::fs::write_all(crate::sys::fs::stdout(), text.as_bytes());
        return 0;
    }
    let o = match parse_options(&mut words) {
        Ok(o) => o,
        Err(why) => {
            // The option not understood, by name.
            let unknown = (first..)
                .map_while(|i| args.get(i))
                .find(|w| w.starts_with(b"-") && word_index("-s -n -t", w).is_none())
                .filter(|_| why == "unknown option");
            match unknown {
                Some(option) => say!("unknown option: {}", Lossy(option)),
                None => say!("{}", Plain(why)),
            }
            say!("usage: vigil-log {}", Plain(USAGE));
            return 2;
        }
    };
    // DIR is made and opened never through a symlink that neither root nor
    // we own, and everything in it relative to it, never through a
    // symlink: the directory may be writable by the service whose output
    // this is, which must not make the logger write anywhere else.
    let failed = |file| move |e| Failed(file, e);
    let opened = (|| -> Result<_, OpenError> {
        let make = crate::sys::path::Missing::Make { owner: None };
        let dir = crate::sys::path::open_dir(o.dir, make).map_err(failed(""))?;
        let lock = lock(dir.as_fd())?;
        let current = open_current(dir.as_fd()).map_err(failed("/current"))?;
        Ok((dir, lock, current))
    })();
    let (dir, _lock, current) = match opened {
        Ok(files) => files,
        Err(Locked(pid)) => {
            say!(
                "{}: refused: another vigil-log{} writes there (one logger per directory)",
                Lossy(o.dir),
                vigild_engine::unix::HolderPid(pid)
            );
            return 1;
        }
        Err(Failed(file, e)) => {
            say!(
                "{}{}: {}",
                Lossy(o.dir),
                Plain(file),
                ErrnoName(e.raw_os_error() as u16)
            );
            return 1;
        }
    };
    let signals = match Signals::install(&[libc::SIGTERM, libc::SIGALRM]) {
        Ok(s) => s,
        Err(_) => return 1,
    };
    let size = fstat(&current).map_or(0, |st| st.st_size as u64);
    let mut log = Log {
        o,
        dir,
        current,
        size,
        out: [0; OUT],
        len: 0,
        failing: false,
        signals,
        left: None,
        rotate_due: false,
    };
    log.run()
}

struct Log<'a> {
    o: Options<'a>,
    dir: OwnedFd,
    current: OwnedFd,
    /// Bytes in `current`.
    size: u64,
    out: [u8; OUT],
    len: usize,
    /// The last write failed (warned about once).
    failing: bool,
    signals: Signals,
    /// After TERM: the bytes still to read (what the pipe held then), so
    /// that a writer faster than the disk cannot keep the logger from ending.
    left: Option<usize>,
    /// ALRM asked for a rotation.
    rotate_due: bool,
}

impl Log<'_> {
    fn run(&mut self) -> c_int {
        let mut input = [0u8; IN];
        let mut held = 0;
        loop {
            let mut fds = [
                PollFd::from_borrowed_fd(stdin(), PollFlags::IN),
                PollFd::from_borrowed_fd(self.signals.fd(), PollFlags::IN),
            ];
            // Once TERM arrived: no waiting.
            let timeout = rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            let _ = poll(&mut fds, self.left.is_some().then_some(&timeout));
            let readable = !fds[0].revents().is_empty();
            if !fds[1].revents().is_empty() {
                self.on_signals();
            }
            let room = self.left.unwrap_or(IN).min(IN - held);
            let mut end = self.left.is_some() && (!readable || room == 0);
            if readable && !end {
                match rustix::io::read(stdin(), &mut input[held..held + room]) {
                    Ok(0) => end = true,
                    Ok(n) => {
                        held += n;
                        self.left = self.left.map(|left| left - n);
                    }
                    Err(Errno::INTR | Errno::AGAIN) => {}
                    // Not a pipe or file any more: nothing more will come.
                    Err(_) => end = true,
                }
            }
            let taken = self.lines(&input[..held], end);
            move_to_start(&mut input, taken, held);
            held -= taken;
            self.flush();
            if self.rotate_due {
                self.rotate();
            }
            if end {
                return 0;
            }
        }
    }

    fn on_signals(&mut self) {
        for sig in self.signals.drain() {
            match sig {
                libc::SIGTERM if self.left.is_none() => {
                    self.left = Some(rustix::io::ioctl_fionread(stdin()).unwrap_or(0) as usize);
                }
                libc::SIGTERM => {}
                // Rotated by the loop, after its write (this may run in the
                // middle of one).
                _ => self.rotate_due = true,
            }
        }
    }

    /// Stamp every whole line of `input` into the output (all of it at the
    /// `end`), rotating where a line would overfill `current`; the bytes taken.
    fn lines(&mut self, input: &[u8], end: bool) -> usize {
        let mut buf = [0u8; STAMP_MAX];
        let (secs, nanos) = clock::wall();
        let len = stamp(self.o.stamp, secs, nanos, &mut buf);
        let label = &buf[..len];
        let mut at = 0;
        while let Some((text, take)) = next_line(&input[at..], end) {
            let line = label.len() + 1 + text + 1;
            if self.len + line > OUT {
                self.flush();
            }
            let filled = self.size + self.len as u64;
            if filled > 0 && filled + line as u64 > self.o.size {
                self.flush();
                self.rotate();
            }
            let text = input.get(at..at + text).unwrap_or_default();
            for part in [label, b" ", text, b"\n"] {
                // The flush above made room for the whole line (copy_cut
                // only spares the binary the panic paths of indexing).
                let free = self.out.get_mut(self.len..).unwrap_or_default();
                self.len += copy_cut(free, part);
            }
            at += take;
        }
        at
    }

    /// Write the output to `current`. A failure (a full disk) is retried,
    /// with growing pauses, until it succeeds, TERM or not (vigild's KILL
    /// after `stop_timeout` ends a logger that cannot write).
    fn flush(&mut self) {
        let mut done = 0;
        let mut pause = 100;
        while done < self.len {
            match rustix::io::write(&self.current, &self.out[done..self.len]) {
                Ok(n) => {
                    done += n;
                    self.size += n as u64;
                    if self.failing {
                        self.failing = false;
                        say!("{}/current: writing again", Lossy(self.o.dir));
                    }
                    continue;
                }
                Err(Errno::INTR) => continue,
                Err(e) if !self.failing => {
                    self.failing = true;
                    say!(
                        "{}/current: {}; holding {} bytes, trying again",
                        Lossy(self.o.dir),
                        ErrnoName(e.raw_os_error() as u16),
                        self.len - done
                    );
                }
                Err(_) => {}
            }
            // Sleep, but wake for TERM.
            let mut fds = [PollFd::from_borrowed_fd(self.signals.fd(), PollFlags::IN)];
            if poll(&mut fds, Some(&clock::timespec(pause))).unwrap_or(0) > 0 {
                self.on_signals();
            }
            pause = (pause * 2).min(RETRY_MAX_MS);
        }
        self.len = 0;
    }

    /// `current` becomes `@TAI64N.s`, a new `current` is started, and old
    /// files beyond `-n` are removed, oldest first.
    /// A failed rotation is said, and writing goes on in `current`, which
    /// then passes SIZE (rotation is tried again after another SIZE).
    fn rotate(&mut self) {
        self.rotate_due = false;
        let _ = fsync(&self.current);
        let mut label = [0u8; STAMP_MAX];
        let (secs, nanos) = clock::wall();
        let newest = old_files(self.dir.as_fd()).newest;
        let newest = (newest[0] != 0).then_some(&newest[..STAMP_MAX]);
        rotation_label(secs, nanos, newest, &mut label);
        // `LABEL.s` and its NUL: a `CStr` made once for both renames.
        let mut name = [0u8; STAMP_MAX + 3];
        name[..STAMP_MAX].copy_from_slice(&label);
        name[STAMP_MAX..STAMP_MAX + 2].copy_from_slice(b".s");
        let dir = self.dir.as_fd();
        let name = CStr::from_bytes_with_nul(&name).map_err(|_| Errno::INVAL);
        let rotated = name.and_then(|name| {
            renameat(dir, c"current", dir, name)?;
            // Without a new `current`, the old one goes back: the lines
            // must go on into `current`, never into an old file.
            open_current(dir).inspect_err(|_| {
                let _ = renameat(dir, name, dir, c"current");
            })
        });
        self.size = 0;
        match rotated {
            Ok(fd) => self.current = fd,
            Err(e) => say!(
                "{}: unable to rotate: {}",
                Lossy(self.o.dir),
                ErrnoName(e.raw_os_error() as u16)
            ),
        }
        let _ = fsync(&self.dir);
        while remove_oldest(dir, self.o.keep) {}
    }
}

/// Why the directory could not be used.
enum OpenError {
    /// Another vigil-log holds its lock: that one's pid (0 if unknown).
    Locked(u32),
    /// Opening DIR and this file of it (empty: DIR itself) failed.
    Failed(&'static str, Errno),
}
use OpenError::{Failed, Locked};

/// `current`, for appending: a regular file with one name (never a
/// symlink, a hard link to another file, nor a FIFO that would block the
/// logger).
fn open_current(dir: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    let flags = OFlags::WRONLY
        | OFlags::APPEND
        | OFlags::CREATE
        | OFlags::CLOEXEC
        | OFlags::NOFOLLOW
        | OFlags::NONBLOCK;
    let fd = openat(dir, c"current", flags, Mode::from_raw_mode(0o644))?;
    single_file(fd.as_fd())?;
    Ok(fd)
}

/// Take `DIR/lock` (held until exit) and write our pid into it: one
/// logger per directory.
fn lock(dir: BorrowedFd<'_>) -> Result<OwnedFd, OpenError> {
    let fd = lock_file(dir, c"lock", 0o644).map_err(|e| match e {
        LockError::Held(pid) => Locked(pid),
        LockError::Sys(e) => Failed("/lock", e),
    })?;
    // (A full disk must not keep the logger from starting: the pid only
    // names the holder to a second logger.)
    let _ = write_pid(fd.as_fd());
    Ok(fd)
}

/// The rotated files in a directory: how many, the oldest and the newest
/// name (NUL-terminated; all zero when there is none). Their names sort in
/// rotation order (`rotation_label`).
pub(crate) struct OldFiles {
    count: u32,
    oldest: [u8; 28],
    pub newest: [u8; 28],
}

/// (vigilctl reads the newest for `status NAME`.)
pub(crate) fn old_files(dir: BorrowedFd<'_>) -> OldFiles {
    let mut found = OldFiles {
        count: 0,
        oldest: [0; 28],
        newest: [0; 28],
    };
    let Ok(list) = openat(
        dir,
        c".",
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return found;
    };
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    let mut entries = RawDir::new(&list, &mut buf);
    while let Some(Ok(entry)) = entries.next() {
        let name = entry.file_name().to_bytes();
        if is_old_file(name) {
            found.count += 1;
            if found.oldest[0] == 0 || name < &found.oldest[..27] {
                found.oldest[..27].copy_from_slice(name);
            }
            if name > &found.newest[..27] {
                found.newest[..27].copy_from_slice(name);
            }
        }
    }
    found
}

/// If more than `keep` old files exist, remove the oldest one; true if one was.
fn remove_oldest(dir: BorrowedFd<'_>, keep: u32) -> bool {
    let found = old_files(dir);
    let Ok(name) = CStr::from_bytes_until_nul(&found.oldest) else {
        return false;
    };
    found.count > keep && unlinkat(dir, name, AtFlags::empty()).is_ok()
}

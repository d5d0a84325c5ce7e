//! A service that writes numbered lines, and one that appends its stdin to a
//! file, for the logging tests (`cargo build --example logwriter`):
//!
//! ```text
//! logwriter write [--tag T] [--runs FILE] [--progress DIR] [--count N]
//!                 [--width W] [--pace-us N] [--wait FILE] [--exit]
//! logwriter sink FILE
//! ```
//!
//! `write` writes lines `PREFIX SEQ` (SEQ from 000000 on, padded with `x`
//! to W bytes with the newline) to stdout, one write(2) per line, so that
//! every line is atomic on a pipe. PREFIX is T (default `r`), followed by
//! the run number if `--runs FILE` is given: FILE holds the number of runs
//! so far, read and incremented at start. `--progress DIR` keeps
//! `DIR/progress.RUN` (16 bytes, mapped: lines completely written, then the
//! pid, little endian) up to date after every write, so that a test can
//! tell how far a run got even after a SIGKILL. After N lines (default:
//! never) it waits for FILE to exist (`--wait`), writes `PREFIX END`, and
//! then exits 0 (`--exit`) or sleeps until killed.
//!
//! `sink` appends what it reads to FILE; on TERM it finishes the write in
//! hand and exits 0, so that it never drops what it read.

use std::ffi::{CString, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::exit;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

fn main() {
    let mut args = std::env::args_os().skip(1);
    match args.next().as_deref().and_then(|a| a.to_str()) {
        Some("write") => write(args),
        Some("sink") => match args.next() {
            Some(file) => sink(Path::new(&file)),
            None => usage(),
        },
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: logwriter write [OPTIONS] | logwriter sink FILE");
    exit(2)
}

fn write(mut args: impl Iterator<Item = OsString>) {
    let mut tag = String::from("r");
    let (mut runs, mut progress, mut wait) = (None, None, None);
    let (mut count, mut width, mut pace_us, mut then_exit) = (u64::MAX, 0usize, 0u64, false);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.to_str() {
            Some("--tag") => tag = value().to_string_lossy().into_owned(),
            Some("--runs") => runs = Some(PathBuf::from(value())),
            Some("--progress") => progress = Some(PathBuf::from(value())),
            Some("--count") => count = number(value()),
            Some("--width") => width = number(value()) as usize,
            Some("--pace-us") => pace_us = number(value()),
            Some("--wait") => wait = Some(PathBuf::from(value())),
            Some("--exit") => then_exit = true,
            _ => usage(),
        }
    }
    let run = runs.as_deref().map(next_run);
    let prefix = match run {
        Some(run) => format!("{tag}{run}"),
        None => tag,
    };
    let counter = match (&progress, run) {
        (Some(dir), Some(run)) => Some(map_progress(&dir.join(format!("progress.{run}")))),
        (Some(_), None) => usage(),
        _ => None,
    };
    let mut line = Vec::with_capacity(width.max(64));
    for seq in 0..count {
        line.clear();
        write!(line, "{prefix} {seq:06}").unwrap();
        while line.len() + 1 < width {
            line.push(b'x');
        }
        line.push(b'\n');
        write_line(&line);
        if let Some(c) = counter {
            c.store(seq + 1, Ordering::SeqCst);
        }
        if pace_us > 0 {
            std::thread::sleep(Duration::from_micros(pace_us));
        }
    }
    if let Some(file) = wait {
        while !file.exists() {
            std::thread::sleep(Duration::from_millis(10));
        }
        write_line(format!("{prefix} END\n").as_bytes());
    }
    if then_exit {
        exit(0);
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// The run number from `file` (0 if it is missing), stored back plus one.
fn next_run(file: &Path) -> u64 {
    let run = std::fs::read_to_string(file)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, format!("{}\n", run + 1)).expect("write the runs file");
    std::fs::rename(&tmp, file).expect("rename the runs file");
    run
}

/// `path` created with 16 zero bytes and mapped shared; our pid stored in
/// the second 8 bytes; the first 8 are the counter.
fn map_progress(path: &Path) -> &'static AtomicU64 {
    std::fs::write(path, [0u8; 16]).expect("create the progress file");
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: open a file we just created; map 16 bytes of it shared (the
    // mapping outlives the descriptor and the process never unmaps it, so
    // the 'static references are valid); page-aligned, so the two u64 are
    // aligned for AtomicU64.
    unsafe {
        let fd = libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        assert!(fd >= 0, "open {}", path.display());
        let at = libc::mmap(
            std::ptr::null_mut(),
            16,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        );
        assert!(at != libc::MAP_FAILED, "mmap {}", path.display());
        libc::close(fd);
        let words = at.cast::<AtomicU64>();
        (*words.add(1)).store(u64::from(std::process::id()), Ordering::SeqCst);
        &*words
    }
}

/// One write(2) of the whole line (retried only on EINTR).
fn write_line(line: &[u8]) {
    loop {
        // SAFETY: write from a live slice.
        let n = unsafe { libc::write(1, line.as_ptr().cast(), line.len()) };
        if n == line.len() as isize {
            return;
        }
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        eprintln!(
            "logwriter: write returned {n}: {}",
            std::io::Error::last_os_error()
        );
        exit(1);
    }
}

static TERM: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    TERM.store(true, Ordering::SeqCst);
}

fn sink(file: &Path) {
    // SAFETY: a handler that only stores an atomic; TERM stays blocked but
    // in ppoll, so it cannot come between the check and the wait, nor
    // between a read and its write.
    let unblocked = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_term as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
        let mut term: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut term);
        libc::sigaddset(&mut term, libc::SIGTERM);
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigprocmask(libc::SIG_BLOCK, &term, &mut old);
        libc::sigdelset(&mut old, libc::SIGTERM);
        old
    };
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .expect("open the sink file");
    let mut buf = vec![0u8; 65536];
    while !TERM.load(Ordering::SeqCst) {
        let mut pfd = libc::pollfd {
            fd: 0,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: ppoll on one live pollfd with a valid mask.
        if unsafe { libc::ppoll(&mut pfd, 1, std::ptr::null(), &unblocked) } < 1 {
            continue; // EINTR: TERM
        }
        // SAFETY: read into a live buffer.
        let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => break,
            n if n > 0 => out.write_all(&buf[..n as usize]).expect("append"),
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => {
                eprintln!("logwriter: read: {}", std::io::Error::last_os_error());
                exit(1);
            }
        }
    }
}

fn number(arg: OsString) -> u64 {
    arg.to_str()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| usage())
}

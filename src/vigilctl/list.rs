//! `list [--json]` (a table of every service) and `status [--json] NAME`
//! (one service: its fields and its last lines of output), read from the
//! status file: a user who may read it needs no more.

use super::{Out, fetch_ring, json, open_status};
use crate::sys::args::getenv;
use crate::sys::clock::wall_ms;
use crate::sys::fs::{each_line_of, is_terminal, stdout};
use core::ffi::c_int;
use core::ops::ControlFlow;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{CWD, Mode, OFlags, SeekFrom, openat, seek};
use vigild_engine::fixed::Lossy;
use vigild_engine::status::{Fields, parse_line};

/// The table's columns.
const HEADS: [&str; 8] = [
    "NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST", "REASON", "READY",
];

/// Lines of output `status NAME` shows.
const LOG_LINES: usize = 10;

/// `list [--json]`: every service of the status file.
#[inline(never)]
pub fn list(dir: &[u8], as_json: bool) -> c_int {
    // Without vigild the file is stale (leave to write the FIFO is not
    // needed).
    if let Err(code) = super::probe(dir) {
        return code;
    }
    let file = match open_status(dir) {
        Ok(file) => file,
        Err(code) => return code,
    };
    let now = wall_ms();
    let mut out = Out::new();
    if as_json {
        out.push(b"[");
        let mut first = true;
        each_service(file.as_fd(), &mut |line, f| {
            out.push(if first { b"\n" } else { b",\n" });
            first = false;
            json::fields(&mut out, line, f, now);
            out.push(b"}");
        });
        out.push(b"\n]\n");
        return out.flush();
    }
    // Two passes over the one open file (replaced by rename, never
    // rewritten): the widths of the columns, then the rows.
    let mut widths = HEADS.map(str::len);
    let mut scratch = Out::new();
    each_service(file.as_fd(), &mut |_, f| {
        row(&mut scratch, false, false, &mut widths, f, now)
    });
    let colour = is_terminal(stdout()) && getenv(b"NO_COLOR").is_none();
    for (col, head) in HEADS.iter().enumerate() {
        out.push(head.as_bytes());
        pad(&mut out, &widths, col, head.len());
    }
    let _ = seek(&file, SeekFrom::Start(0));
    each_service(file.as_fd(), &mut |_, f| {
        row(&mut out, true, colour, &mut widths, f, now)
    });
    out.flush()
}

/// One row of the table: printed to `out` (in colour or not), or only
/// measured into `widths` (`out` a scratch buffer then).
fn row(
    out: &mut Out,
    print: bool,
    colour: bool,
    widths: &mut [usize; 8],
    f: &Fields<'_>,
    now: u64,
) {
    for col in 0..HEADS.len() {
        // Green: up; yellow: on its way; red: failed or waiting to retry.
        // (By the first letter of vigild's state names.)
        let paint: &[u8] = match (col, f.state.first(), colour) {
            (1, Some(b'u' | b'l'), true) => b"\x1b[32m",
            (1, Some(b's'), true) => b"\x1b[33m",
            (1, Some(b'b'), true) => b"\x1b[31m",
            (1, Some(b'd'), true) if !f.reason.is_empty() => b"\x1b[31m",
            _ => b"",
        };
        out.room(300);
        out.push(paint);
        let start = out.len;
        cell(out, f, col, now);
        let len = out.len - start;
        if !print {
            widths[col] = widths[col].max(len);
            out.len = 0;
            continue;
        }
        if !paint.is_empty() {
            out.push(b"\x1b[0m");
        }
        pad(out, widths, col, len);
    }
}

/// Spaces after a cell of `len` bytes in column `col`: to the column's
/// width and two more; after the last one, the end of the line.
fn pad(out: &mut Out, widths: &[usize; 8], col: usize, len: usize) {
    const SPACES: &[u8] = b"                                                                ";
    match col {
        7 => out.push(b"\n"),
        _ => out.push(&SPACES[..(widths[col] + 2 - len).min(SPACES.len())]),
    }
}

/// Column `col` of the table for the service `f`.
#[inline(never)]
fn cell(out: &mut Out, f: &Fields<'_>, col: usize, now_ms: u64) {
    let text: &[u8] = match col {
        0 => f.name,
        1 => f.state,
        5 => f.last,
        6 => f.reason,
        7 if f.ready => b"yes",
        7 => b"no",
        _ => b"",
    };
    match col {
        3 => uptime(out, now_ms.saturating_sub(f.since_ms) / 1000),
        2 if f.pid != 0 => out.num(f.pid),
        4 => out.num(f.restarts),
        _ if text.is_empty() => out.push(b"-"),
        _ => out.lossy(text),
    }
}

/// A duration for people: `45s`, `3m 12s`, `4h 5m`, `3d 4h`.
fn uptime(out: &mut Out, s: u64) {
    const UNITS: [(u64, &[u8]); 4] = [(86400, b"d"), (3600, b"h"), (60, b"m"), (1, b"s")];
    let i = UNITS.iter().position(|&(unit, _)| s >= unit).unwrap_or(3);
    let (unit, name) = UNITS[i];
    out.num(s / unit);
    out.push(name);
    if let Some(&(next, name)) = UNITS.get(i + 1) {
        out.push(b" ");
        out.num(s % unit / next);
        out.push(name);
    }
}

/// Call `each` with every service of the open status file.
pub fn each_service(file: BorrowedFd<'_>, each: &mut dyn FnMut(&[u8], &Fields<'_>)) {
    let _ = each_line_of(file, &mut |line| {
        if let Some(f) = parse_line(line) {
            each(line, &f);
        }
        ControlFlow::Continue(())
    });
}

/// `status [--json] NAME`: the runit line, then each field of the status
/// file (`  key: value`), then the last lines of its output (`  log:`):
/// from the files of its vigil-log, else from its ring if vigild has one
/// (asked on `control`, if we may write it).
#[inline(never)]
pub fn show_one(dir: &[u8], control: Option<&OwnedFd>, name: &[u8], as_json: bool) -> c_int {
    let file = match open_status(dir) {
        Ok(file) => file,
        Err(code) => return code,
    };
    let now = wall_ms();
    let mut out = Out::new();
    let mut log_dir = None;
    let mut found = false;
    each_service(file.as_fd(), &mut |line, f| {
        if f.name != name || found {
            return;
        }
        found = true;
        if !f.log_dir.is_empty() {
            let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC;
            log_dir = openat(CWD, f.log_dir, flags, Mode::empty()).ok();
        }
        if as_json {
            return json::fields(&mut out, line, f, now);
        }
        out.sv(f, now);
        let (head, text) = json::split_text(line);
        for word in head.split(|&b| b == b' ').skip(1) {
            let eq = word.iter().position(|&b| b == b'=').unwrap_or(0);
            out.push(b"  ");
            out.lossy(&word[..eq]);
            out.push(b": ");
            out.lossy(word.get(eq + 1..).unwrap_or_default());
            out.push(b"\n");
        }
        if let Some(text) = text {
            out.push(b"  status: \"");
            out.lossy(text);
            out.push(b"\"\n");
        }
    });
    if !found {
        say!("{}: not known", Lossy(name));
        return 4;
    }
    let mut tail = Tail::new();
    let has_log = match (log_dir, control) {
        (Some(log_dir), _) => read_log_dir(log_dir.as_fd(), &mut tail),
        (_, Some(control)) => fetch_ring(control, dir, name, &mut |bytes| tail.push(bytes)) == 0,
        _ => false,
    };
    let lines = tail.last_lines(LOG_LINES);
    if as_json {
        out.push(b",\"log\":[");
        for (i, line) in lines.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                out.push(b",");
            }
            if !lines.is_empty() {
                json::string(&mut out, line);
            }
        }
        out.push(b"]}\n");
    } else if has_log {
        out.push(b"  log:\n");
        if !lines.is_empty() {
            for line in lines.split(|&b| b == b'\n') {
                out.push(b"    ");
                out.lossy(line);
                out.push(b"\n");
            }
        }
    }
    out.flush()
}

/// The end of a vigil-log directory's output into `tail`: its newest
/// rotated file, then `current`. False if neither could be read.
fn read_log_dir(dir: BorrowedFd<'_>, tail: &mut Tail) -> bool {
    // The rotated files' names sort in rotation order (`@TAI64N.s`).
    let newest = crate::vigil_log::old_files(dir).newest;
    let mut read_any = false;
    let rotated = newest.split(|&b| b == 0).next().unwrap_or_default();
    for name in [rotated, b"current"] {
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        if let Ok(file) = openat(dir, name, flags, Mode::empty()) {
            read_any = true;
            tail.read_all(file.as_fd());
        }
    }
    read_any
}

/// The last bytes of a stream: enough for its last lines.
struct Tail {
    buf: [u8; 8192],
    len: usize,
    /// Bytes before `buf` were dropped (its first line may lack its start).
    cut: bool,
}

impl Tail {
    fn new() -> Tail {
        Tail {
            buf: [0; 8192],
            len: 0,
            cut: false,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let size = self.buf.len();
        let bytes = match bytes.len().checked_sub(size) {
            Some(skip) => {
                self.cut |= skip > 0 || self.len > 0;
                self.len = 0;
                &bytes[skip..]
            }
            None => bytes,
        };
        let over = (self.len + bytes.len()).saturating_sub(size);
        if over > 0 {
            self.buf.copy_within(over..self.len, 0);
            self.len -= over;
            self.cut = true;
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn read_all(&mut self, fd: BorrowedFd<'_>) {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = rustix::io::read(fd, &mut chunk) {
            self.push(&chunk[..n]);
        }
    }

    /// The last `n` whole lines, without the last newline.
    fn last_lines(&self, n: usize) -> &[u8] {
        let mut text = &self.buf[..self.len];
        text = text.strip_suffix(b"\n").unwrap_or(text);
        if self.cut {
            // A line that lost its start is not shown.
            let nl = text.iter().position(|&b| b == b'\n');
            text = &text[nl.map_or(text.len(), |nl| nl + 1)..];
        }
        let mut start = text.len();
        for _ in 0..n {
            match text[..start].iter().rposition(|&b| b == b'\n') {
                Some(nl) => start = nl,
                None => return text,
            }
        }
        &text[start + 1..]
    }
}

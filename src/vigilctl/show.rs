//! What the status file shows (a user who may read it needs no more):
//! `status [--raw] [NAME...]` (runit's lines), `status [--json] NAME` (one
//! service: its fields and its last lines of output), `list [--json]` (a
//! table of every service). The JSON keys are the README's stable ones;
//! its strings are escaped for any byte: a status file is read as it is.

use super::{Out, fetch_ring, probe, say, say_errno, usage_because};
use crate::sys::args::{Args, getenv};
use crate::sys::at::openat;
use crate::sys::clock::wall_ms;
use crate::sys::fs::{each_line_of, is_terminal, open_plain, stdout};
use core::ffi::c_int;
use core::ops::ControlFlow;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{CWD, Mode, OFlags, SeekFrom, seek};
use vigild_engine::fixed::{hex_digit, lookup, word, word_index};
use vigild_engine::status::{Fields, SvPiece, parse_line, sv_pieces};
use vigild_engine::unix::parse_u64;

/// The table's columns.
const HEADS: &str = "NAME STATE PID UPTIME RESTARTS LAST REASON READY";

/// Lines of output `status NAME` shows.
const LOG_LINES: usize = 10;

/// Open the status file (or say why not: exit 1).
fn open_status(dir: &[u8]) -> Result<OwnedFd, c_int> {
    let path = Out::path(dir, b"status");
    open_plain(CWD, path.bytes()).map_err(|e| say_errno(path.bytes(), e))
}

/// Call `each` with every service of the open status file (from its
/// start: the file is replaced by rename, never rewritten), its line and
/// its fields.
fn each_service(file: BorrowedFd<'_>, each: &mut dyn FnMut(&[u8], &Fields<'_>)) {
    let _ = seek(file, SeekFrom::Start(0));
    let _ = each_line_of(file, &mut |line| {
        if let Some(f) = parse_line(line) {
            each(line, &f);
        }
        ControlFlow::Continue(())
    });
}

/// For `wait`: whether the status file names `name` (exit 4 if not).
pub fn known(dir: &[u8], name: &[u8]) -> Result<(), c_int> {
    let mut known = false;
    each_service(open_status(dir)?.as_fd(), &mut |_, f| {
        known |= f.name == name
    });
    match known {
        true => Ok(()),
        false => Err(not_known(name)),
    }
}

fn not_known(name: &[u8]) -> c_int {
    say(&[name, b": not known"], 4)
}

/// `list [--json]` (`list`) or `status [--raw|--json] [NAME...]`: the
/// table, or one runit line each, in the order named (all services
/// without a name); one service in detail (`show_one`). `count` words
/// from `at`.
#[inline(never)]
pub fn show(dir: &[u8], args: Args, at: usize, count: usize, list: bool) -> c_int {
    // 0: none, 1: --json, 2: --raw.
    let flag = match args.get(at).filter(|w| w.starts_with(b"--")) {
        None => 0,
        Some(f) => match word_index("--json --raw", f) {
            Some(k) => k + 1,
            None => return usage_because(&[b"unknown option: ", f]),
        },
    };
    let (at, names) = (at + (flag > 0) as usize, count - (flag > 0) as usize);
    if (list && (names > 0 || flag == 2)) || (!list && flag == 1 && names != 1) {
        return usage_because(&[b"list takes --json only; status --json one NAME"]);
    }
    // Without vigild the file is stale; without leave to write the
    // control FIFO it is still ours to read.
    let (control, file) = match probe(dir).and_then(|c| Ok((c, open_status(dir)?))) {
        Ok(both) => both,
        Err(code) => return code,
    };
    let file = file.as_fd();
    let now = wall_ms();
    let mut out = Out::new(Some(stdout()));
    if list {
        table(&mut out, file, flag == 1, now);
        return out.flush();
    }
    // One name: in detail.
    let detail = names == 1 && flag < 2;
    let mut code = 0;
    for k in 0..names.max(1) {
        let name = args.get(at + k).filter(|_| names > 0);
        let (mut found, mut log_dir) = (false, None);
        each_service(file, &mut |line, f| {
            if name.is_some_and(|n| n != f.name) || (detail && found) {
                return;
            }
            found = true;
            match flag {
                // As vigild wrote it, but what a hostile file could hold
                // (the run directory may be another's) reaches no terminal.
                2 => {
                    out.lossy(line);
                    out.push(b"\n");
                }
                1 => {}
                _ => sv(&mut out, f, now),
            }
            if detail {
                if !f.log_dir.is_empty() {
                    let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC;
                    log_dir = openat(CWD, f.log_dir, flags, Mode::empty()).ok();
                }
                fields(&mut out, line, f, now, flag == 1);
            }
        });
        match name {
            Some(name) if !found => code = not_known(name),
            Some(name) if detail => log(&mut out, dir, control.as_ref(), name, log_dir, flag == 1),
            _ => {}
        }
        code = code.max(out.flush());
    }
    code
}

/// `f` as runit's `sv status` would (`status::sv_pieces`).
fn sv(out: &mut Out, f: &Fields<'_>, now_ms: u64) {
    sv_pieces(f, now_ms, &mut |piece| match piece {
        SvPiece::Text(text) => out.lossy(text),
        SvPiece::Number(n) => out.num(n),
    });
    out.push(b"\n");
}

/// After the fields of `status [--json] NAME`, the last lines of its
/// output (`  log:`): from the files of its vigil-log (`log_dir`), else
/// from its ring if vigild has one (asked on `control`, if we may write
/// it).
fn log(
    out: &mut Out,
    dir: &[u8],
    control: Option<&OwnedFd>,
    name: &[u8],
    log_dir: Option<OwnedFd>,
    json: bool,
) {
    let mut tail = Out::new(None);
    let has_log = match (log_dir, control) {
        (Some(log_dir), _) => read_log_dir(log_dir.as_fd(), &mut tail),
        (_, Some(control)) => {
            fetch_ring(control, dir, name, false, &mut |bytes| tail.push(bytes)) == 0
        }
        _ => false,
    };
    let lines = last_lines(&tail);
    match json {
        true => out.push(b",\"log\":["),
        false if has_log => out.push(b"  log:\n"),
        false => {}
    }
    if !lines.is_empty() {
        for (i, line) in lines.split(|&b| b == b'\n').enumerate() {
            match json {
                true if i > 0 => out.push(b","),
                true => {}
                false => out.push(b"    "),
            }
            match json {
                true => string(out, line),
                false => {
                    // A CRLF line end is an end, not a byte to show.
                    out.lossy(line.strip_suffix(b"\r").unwrap_or(line));
                    out.push(b"\n");
                }
            }
        }
    }
    if json {
        out.push(b"]}\n");
    }
}

/// How `--json` shows the value of a key of the status file.
#[derive(Clone, Copy)]
enum Kind {
    String,
    Number,
    /// A number, `null` for 0.
    Pid,
    /// A string, `null` for `-`.
    Last,
    /// `yes`: true.
    Bool,
    /// Seconds with 3 decimals, then the `uptime` key.
    Since,
}

/// The fields of `line` (parsed as `f`) after its name: as `  key: value`
/// lines, or (`json`) the object of the README's keys without its closing
/// brace, so that `status --json NAME` can add its `log`.
fn fields(out: &mut Out, line: &[u8], f: &Fields<'_>, now_ms: u64, json: bool) {
    use Kind::*;
    const KEYS: &str =
        "state pid since mode contain restarts last ready workers accepted dropped procs available";
    const KINDS: [Kind; 13] = [
        String, Pid, Since, String, String, Number, Last, Bool, Number, Number, Number, Number,
        Number,
    ];
    // Only the last field, `status="TEXT"`, may hold spaces.
    const TEXT: &[u8] = b" status=\"";
    let (head, text) = match line.windows(TEXT.len()).position(|w| w == TEXT) {
        Some(at) => (&line[..at], Some(&line[at + TEXT.len()..])),
        None => (line, None),
    };
    let text = text.map(|t| t.strip_suffix(b"\"").unwrap_or(t));
    if json {
        out.push(b"{\"name\":");
        string(out, f.name);
    }
    for word in head.split(|&b| b == b' ').skip(1) {
        let Some(eq) = word.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (key, value) = (&word[..eq], &word[eq + 1..]);
        if !json {
            out.push(b"  ");
            out.lossy(key);
            out.push(b": ");
            out.lossy(value);
            out.push(b"\n");
            continue;
        }
        // Other keys (`reason`, `log_dir`) are not shown as they are.
        let Some(kind) = lookup(KEYS, &KINDS, key) else {
            continue;
        };
        out.push(b",\"");
        out.push(key);
        out.push(b"\":");
        match (kind, parse_u64(value)) {
            (Pid, Some(0)) | (Number | Pid, None) => out.push(b"null"),
            (Number | Pid, Some(n)) => out.num(n),
            (Last, _) if value == b"-" => out.push(b"null"),
            (Bool, _) => out.push(if f.ready { b"true" } else { b"false" }),
            (Since, _) => {
                out.num(f.since_ms / 1000);
                let ms = f.since_ms % 1000;
                out.push(&[
                    b'.',
                    b'0' + (ms / 100) as u8,
                    b'0' + (ms / 10 % 10) as u8,
                    b'0' + (ms % 10) as u8,
                ]);
                out.push(b",\"uptime\":");
                out.num(now_ms.saturating_sub(f.since_ms) / 1000);
            }
            _ => string(out, value),
        }
    }
    match (json, text) {
        (false, Some(text)) => {
            out.push(b"  status: \"");
            out.lossy(text);
            out.push(b"\"\n");
        }
        (false, None) => {}
        (true, _) => {
            out.push(b",\"reason\":");
            match f.reason {
                b"" => out.push(b"null"),
                reason => string(out, reason),
            }
            out.push(b",\"status\":");
            match text {
                // Unquoted back into the service's bytes (`\"`, `\\`,
                // `\xHH`), which are at most as long as the line.
                Some(text) => {
                    let mut buf = [0u8; 2048];
                    let len = unquote(text, &mut buf);
                    string(out, &buf[..len]);
                }
                None => out.push(b"null"),
            }
        }
    }
}

/// The status file's quoting undone: `\"` and `\\` are the byte after
/// the backslash, `\xHH` the byte HH. The length written to `buf`.
fn unquote(text: &[u8], buf: &mut [u8]) -> usize {
    let mut len = 0;
    let mut i = 0;
    while i < text.len() && len < buf.len() {
        let hex = |at: usize| match text.get(at) {
            Some(&d @ b'0'..=b'9') => Some(d - b'0'),
            Some(&d @ b'a'..=b'f') => Some(d - b'a' + 10),
            _ => None,
        };
        buf[len] = match (text[i], text.get(i + 1), hex(i + 2), hex(i + 3)) {
            (b'\\', Some(b'x'), Some(high), Some(low)) => {
                i += 3;
                high << 4 | low
            }
            (b'\\', Some(&b), _, _) => {
                i += 1;
                b
            }
            (b, ..) => b,
        };
        len += 1;
        i += 1;
    }
    len
}

/// `bytes` as a JSON string: UTF-8 as it is, `"` and `\` behind a
/// backslash, control characters (C0 and C1), U+2028, U+2029 and bytes
/// that are not UTF-8 as `\uXXXX` (a byte B that is not UTF-8 as
/// `\u00BB`).
fn string(out: &mut Out, bytes: &[u8]) {
    out.push(b"\"");
    let mut rest = bytes;
    loop {
        let valid = match core::str::from_utf8(rest) {
            Ok(_) => rest.len(),
            Err(e) => e.valid_up_to(),
        };
        let (text, bad) = rest.split_at(valid);
        let mut i = 0;
        while let Some(&b) = text.get(i) {
            // The C1 controls (U+0080 to U+009F: a terminal may act on
            // them) and the line and paragraph separators (which end a
            // line for JavaScript) are escaped too.
            let next = text.get(i + 1).copied().unwrap_or(0);
            let third = text.get(i + 2).copied().unwrap_or(0);
            i += match b {
                b'"' | b'\\' => {
                    out.push(&[b'\\', b]);
                    1
                }
                0xc2 if next < 0xa0 => {
                    escape(out, next);
                    2
                }
                0xe2 if next == 0x80 && (third == 0xa8 || third == 0xa9) => {
                    out.push(if third == 0xa8 {
                        b"\\u2028"
                    } else {
                        b"\\u2029"
                    });
                    3
                }
                b' '..=b'~' | 0x80.. => {
                    out.push(&[b]);
                    1
                }
                _ => {
                    escape(out, b);
                    1
                }
            };
        }
        match bad.split_first() {
            Some((&b, after)) => {
                escape(out, b);
                rest = after;
            }
            None => break,
        }
    }
    out.push(b"\"");
}

/// `b` as `\u00XX`.
fn escape(out: &mut Out, b: u8) {
    let b = u64::from(b);
    out.push(&[b'\\', b'u', b'0', b'0', hex_digit(b >> 4), hex_digit(b)]);
}

/// `list [--json]`: every service of the status file.
fn table(out: &mut Out, file: BorrowedFd<'_>, json: bool, now: u64) {
    if json {
        let mut sep: &[u8] = b"[\n";
        each_service(file, &mut |line, f| {
            out.push(sep);
            sep = b",\n";
            fields(out, line, f, now, true);
            out.push(b"}");
        });
        out.push(if sep == b"[\n" { b"[\n]\n" } else { b"\n]\n" });
        return;
    }
    // Two passes: the widths of the columns (the headings' too), then the
    // rows.
    let mut widths = [0; 8];
    let mut measure = Out::new(None);
    row(&mut measure, &mut widths, None, false, now);
    each_service(file, &mut |_, f| {
        row(&mut measure, &mut widths, Some(f), false, now)
    });
    let colour = is_terminal(stdout()) && getenv(b"NO_COLOR").is_none_or(<[u8]>::is_empty);
    row(out, &mut widths, None, false, now);
    each_service(file, &mut |_, f| {
        row(out, &mut widths, Some(f), colour, now)
    });
}

/// One row of the table (the headings without a service `f`), in colour
/// or not; `out` measured into `widths` if it has no fd, else padded to
/// them.
fn row(out: &mut Out, widths: &mut [usize; 8], f: Option<&Fields<'_>>, colour: bool, now: u64) {
    const SPACES: &[u8] = b"                                                                ";
    for (col, width) in widths.iter_mut().enumerate() {
        // Green: up; yellow: on its way; red: failed or waiting to retry.
        // (By the first letter of vigild's state names.)
        let paint: &[u8] = match (col, f.filter(|_| colour)) {
            (1, Some(f)) => match f.state.first() {
                Some(b'u' | b'l') => b"\x1b[32m",
                Some(b's') => b"\x1b[33m",
                Some(b'b') => b"\x1b[31m",
                Some(b'd') if !f.reason.is_empty() => b"\x1b[31m",
                _ => b"",
            },
            _ => b"",
        };
        out.push(paint);
        let start = out.count;
        match f {
            Some(f) => cell(out, f, col, now),
            None => out.push(word(HEADS, col).unwrap_or_default().as_bytes()),
        }
        let len = out.count - start;
        if !paint.is_empty() {
            out.push(b"\x1b[0m");
        }
        match (col, out.fd) {
            (_, None) => *width = len.max(*width),
            (7, _) => out.push(b"\n"),
            _ => out.push(&SPACES[..(*width + 2).saturating_sub(len).min(SPACES.len())]),
        }
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

/// The end of a vigil-log directory's output into `tail`: its newest
/// rotated file, then `current`. False if neither could be read.
fn read_log_dir(dir: BorrowedFd<'_>, tail: &mut Out) -> bool {
    // The rotated files' names sort in rotation order (`@TAI64N.s`).
    let newest = crate::vigil_log::old_files(dir).newest;
    let mut read_any = false;
    let rotated = newest.split(|&b| b == 0).next().unwrap_or_default();
    for name in [rotated, b"current"] {
        if let Ok(file) = open_plain(dir, name) {
            read_any = true;
            // Only its end: the lines shown fit in what `tail` keeps.
            let _ = seek(&file, SeekFrom::End(-4096));
            let mut chunk = [0u8; 4096];
            if let Ok(n) = rustix::io::read(&file, &mut chunk) {
                tail.push(&chunk[..n]);
            }
        }
    }
    read_any
}

/// The last `LOG_LINES` whole lines of `tail`, without the last newline.
fn last_lines(tail: &Out) -> &[u8] {
    let mut text = tail.bytes();
    text = text.strip_suffix(b"\n").unwrap_or(text);
    if tail.count > tail.len {
        // A line that lost its start is not shown.
        let nl = text.iter().position(|&b| b == b'\n');
        text = &text[nl.map_or(text.len(), |nl| nl + 1)..];
    }
    let mut start = text.len();
    for _ in 0..LOG_LINES {
        match text[..start].iter().rposition(|&b| b == b'\n') {
            Some(nl) => start = nl,
            None => return text,
        }
    }
    &text[start + 1..]
}

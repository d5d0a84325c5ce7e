//! `--json`: a status-file line as a JSON object with the stable keys of
//! the README (`name`, `state`, `pid`, `since`, `uptime`, `mode`,
//! `contain`, `restarts`, `last`, `reason`, `ready`, `status`, and the
//! counters of accept services and pools). Strings are escaped for any
//! byte: a status file is read as it is.

use super::Out;
use vigild_engine::fixed::{hex_digit, lookup};
use vigild_engine::status::Fields;
use vigild_engine::unix::parse_u64;

/// Write the object of `line` (parsed as `f`) without its closing brace,
/// so that `status --json NAME` can add its `log`. `now_ms`: wall clock.
pub fn fields(out: &mut Out, line: &[u8], f: &Fields<'_>, now_ms: u64) {
    out.push(b"{\"name\":");
    string(out, f.name);
    out.push(b",\"state\":");
    string(out, f.state);
    out.push(b",\"pid\":");
    number(out, (f.pid != 0).then_some(f.pid));
    out.push(b",\"since\":");
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
    out.push(b",\"restarts\":");
    out.num(f.restarts);
    out.push(b",\"last\":");
    string_or_null(out, f.last, b"-");
    out.push(b",\"reason\":");
    string_or_null(out, f.reason, b"");
    out.push(if f.ready {
        b",\"ready\":true"
    } else {
        b",\"ready\":false"
    });
    // The other keys as the line has them: strings, or the counters.
    let (head, text) = split_text(line);
    for word in head.split(|&b| b == b' ').skip(1) {
        let Some(eq) = word.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (key, value) = (&word[..eq], &word[eq + 1..]);
        const COUNTER: [bool; 7] = [false, false, true, true, true, true, true];
        let keys = "mode contain workers accepted dropped procs available";
        if let Some(counter) = lookup(keys, &COUNTER, key) {
            out.push(b",\"");
            out.push(key);
            out.push(b"\":");
            match counter {
                true => number(out, parse_u64(value)),
                false => string(out, value),
            }
        }
    }
    out.push(b",\"status\":");
    if let Some(text) = text {
        // Unquoted back into the service's bytes (`\"`, `\\`, `\xHH`),
        // which are at most as long as the line.
        let mut buf = [0u8; 2048];
        let len = unquote(text, &mut buf);
        string(out, &buf[..len]);
    } else {
        out.push(b"null");
    }
}

/// A status-file line cut before its `status="TEXT"`, and TEXT (as
/// quoted there), if it has one. Only the last field may hold spaces, so
/// the first ` status="` is where it begins.
pub fn split_text(line: &[u8]) -> (&[u8], Option<&[u8]>) {
    const KEY: &[u8] = b" status=\"";
    match line.windows(KEY.len()).position(|w| w == KEY) {
        Some(at) => {
            let text = &line[at + KEY.len()..];
            (&line[..at], Some(text.strip_suffix(b"\"").unwrap_or(text)))
        }
        None => (line, None),
    }
}

/// The status file's quoting undone: `\"` and `\\` are the byte after
/// the backslash, `\xHH` the byte HH. The length written to `buf`.
fn unquote(text: &[u8], buf: &mut [u8]) -> usize {
    let mut len = 0;
    let mut i = 0;
    while i < text.len() && len < buf.len() {
        let hex = |at: usize| text.get(at).and_then(|&d| (d as char).to_digit(16));
        buf[len] = match (text[i], text.get(i + 1)) {
            (b'\\', Some(b'x')) if hex(i + 2).is_some() && hex(i + 3).is_some() => {
                i += 3;
                (hex(i - 1).unwrap_or(0) * 16 + hex(i).unwrap_or(0)) as u8
            }
            (b'\\', Some(&b)) => {
                i += 1;
                b
            }
            (b, _) => b,
        };
        len += 1;
        i += 1;
    }
    len
}

/// A JSON number, or `null`.
fn number(out: &mut Out, n: Option<u64>) {
    match n {
        Some(n) => out.num(n),
        None => out.push(b"null"),
    }
}

/// `text` as a JSON string, or `null` if it is `none`.
fn string_or_null(out: &mut Out, text: &[u8], none: &[u8]) {
    match text == none {
        true => out.push(b"null"),
        false => string(out, text),
    }
}

/// `bytes` as a JSON string: UTF-8 as it is, `"` and `\` behind a
/// backslash, control bytes and bytes that are not UTF-8 as `\u00XX`.
pub fn string(out: &mut Out, bytes: &[u8]) {
    out.push(b"\"");
    let mut rest = bytes;
    while !rest.is_empty() {
        let (valid, bad) = match core::str::from_utf8(rest) {
            Ok(_) => (rest.len(), 0),
            Err(e) => (
                e.valid_up_to(),
                e.error_len().unwrap_or(rest.len() - e.valid_up_to()),
            ),
        };
        for &b in &rest[..valid] {
            match b {
                b'"' | b'\\' => out.push(&[b'\\', b]),
                0..=0x1f | 0x7f => escape(out, b),
                _ => out.push(&[b]),
            }
        }
        for &b in &rest[valid..valid + bad] {
            escape(out, b);
        }
        rest = &rest[valid + bad..];
    }
    out.push(b"\"");
}

fn escape(out: &mut Out, b: u8) {
    let b = u64::from(b);
    out.push(&[b'\\', b'u', b'0', b'0', hex_digit(b >> 4), hex_digit(b)]);
}

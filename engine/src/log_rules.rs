//! vigil-log's decisions, free of I/O (vigil-log(8)): its options, the line
//! stamps, and where the input is cut into lines. The binary's `vigil_log`
//! reads, writes and rotates.

use crate::fixed::{hex_digit, lookup};
use crate::unix::{climbs, parse_u64};
// The time's text, which vigild's own log lines share.
pub use crate::time::{STAMP_MAX, rfc3339};

/// `-s` by default: `current` is rotated before it passes 1 MiB.
pub const SIZE_DEFAULT: u64 = 1 << 20;
/// The smallest `-s`: room for a few whole lines.
pub const SIZE_MIN: u64 = 4096;
/// `-n` by default: old files kept.
pub const KEEP_DEFAULT: u32 = 10;
/// The longest line written whole; a longer one is cut here and its rest
/// goes on as a line of its own, with its own stamp.
pub const LINE_MAX: usize = 2000;

/// How each line is stamped (`-t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StampKind {
    /// `2026-11-21T19:01:44.123Z`, UTC with milliseconds (the default).
    Rfc3339,
    /// `@4000000069...`: TAI64N, as daemontools, runit and s6 write it.
    Tai64n,
}

/// vigil-log's command line, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options<'a> {
    /// `-s`: rotate `current` before it would grow past this many bytes.
    pub size: u64,
    /// `-n`: old files kept; the oldest beyond are removed.
    pub keep: u32,
    /// `-t`.
    pub stamp: StampKind,
    /// The log directory.
    pub dir: &'a [u8],
}

/// The usage line, shared by vigil-log and the config's `log` errors.
pub const USAGE: &str = "[-s SIZE] [-n N] [-t rfc3339|tai64n] DIR";

/// Parse `[-s SIZE] [-n N] [-t KIND] DIR`; the reason if that fails.
/// (`dyn`: one copy for vigil-log and the config parser.)
pub fn parse_options<'a>(
    words: &mut dyn Iterator<Item = &'a [u8]>,
) -> Result<Options<'a>, &'static str> {
    let mut o = Options {
        size: SIZE_DEFAULT,
        keep: KEEP_DEFAULT,
        stamp: StampKind::Rfc3339,
        dir: b"",
    };
    while let Some(word) = words.next() {
        let mut value = || words.next().ok_or("option needs a value");
        match word {
            b"-s" => {
                o.size = parse_size(value()?)
                    .filter(|&n| n >= SIZE_MIN)
                    .ok_or("-s needs a size of at least 4k")?
            }
            b"-n" => {
                o.keep = parse_u64(value()?)
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|&n| n <= 1000)
                    .ok_or("-n needs a number from 0 to 1000")?
            }
            b"-t" => {
                let kinds = [StampKind::Rfc3339, StampKind::Tai64n];
                o.stamp =
                    lookup("rfc3339 tai64n", &kinds, value()?).ok_or("-t is rfc3339 or tai64n")?
            }
            _ if word.starts_with(b"-") => return Err("unknown option"),
            _ if !o.dir.is_empty() => return Err("one directory only"),
            _ => o.dir = word,
        }
    }
    match o.dir.is_empty() {
        true => Err("no directory given"),
        // Root walks there: a `..` after a directory another user may
        // move would lead it elsewhere.
        false if climbs(o.dir) => Err("DIR must not hold `..`"),
        false => Ok(o),
    }
}

/// A size: bytes, or with a suffix `k`, `M` or `G` (powers of 1024).
pub fn parse_size(text: &[u8]) -> Option<u64> {
    let (&last, head) = text.split_last()?;
    // (Only `k` and `K` are `k` with the bit of lowercase set; so for M, G.)
    let (digits, shift) = match last | 0x20 {
        b'k' => (head, 10),
        b'm' => (head, 20),
        b'g' => (head, 30),
        _ => (text, 0),
    };
    parse_u64(digits)?.checked_mul(1 << shift)
}

/// Write the stamp of the wall-clock time `secs`.`nanos` (since the Unix
/// epoch) into `out`; its length.
pub fn stamp(kind: StampKind, secs: u64, nanos: u32, out: &mut [u8; STAMP_MAX]) -> usize {
    match kind {
        StampKind::Tai64n => tai64n(secs, nanos, out),
        StampKind::Rfc3339 => rfc3339(secs, nanos / 1_000_000, out),
    }
}

/// TAI64N: `@`, 16 hex digits of 2^62 + 10 + seconds, 8 of nanoseconds
/// (daemontools' label: TAI runs 10 s ahead of 1970's UTC; leap seconds
/// since are not counted, as `tai64nlocal` expects).
pub fn tai64n(secs: u64, nanos: u32, out: &mut [u8; STAMP_MAX]) -> usize {
    out[0] = b'@';
    let tai = (1u64 << 62) + 10 + secs;
    for i in 0..16 {
        out[1 + i] = hex_digit(tai >> (60 - 4 * i));
    }
    for i in 0..8 {
        out[17 + i] = hex_digit(u64::from(nanos) >> (28 - 4 * i));
    }
    STAMP_MAX
}

/// The label of the file a rotation makes: now's TAI64N, or, if the clock
/// stepped back, one nanosecond after `newest` (the label of the newest
/// rotated file there): names must sort in rotation order, since the
/// oldest name is the one removed.
pub fn rotation_label(secs: u64, nanos: u32, newest: Option<&[u8]>, out: &mut [u8; STAMP_MAX]) {
    tai64n(secs, nanos, out);
    let Some(newest) = newest.filter(|n| n.len() >= STAMP_MAX && *n >= &out[..]) else {
        return;
    };
    let hex = |digits: &[u8]| {
        digits.iter().try_fold(0u64, |n, &d| {
            Some(n << 4 | u64::from(char::from(d).to_digit(16)?))
        })
    };
    let (Some(tai), Some(ns)) = (hex(&newest[1..17]), hex(&newest[17..25])) else {
        return;
    };
    let (tai, ns) = match ns + 1 {
        1_000_000_000.. => (tai + 1, 0),
        ns => (tai, ns),
    };
    tai64n(tai.wrapping_sub((1u64 << 62) + 10), ns as u32, out);
}

/// The next line at the start of `input`: (bytes of its text, bytes it
/// takes from `input`). A line ends at a newline (taken, not part of the
/// text) or after `LINE_MAX` bytes when more follow (a newline right after
/// them still ends that line); at the end of the input (`last`) what is
/// left is a line too. `None`: wait for more input.
pub fn next_line(input: &[u8], last: bool) -> Option<(usize, usize)> {
    let window = &input[..input.len().min(LINE_MAX + 1)];
    match window.iter().position(|&b| b == b'\n') {
        Some(nl) => Some((nl, nl + 1)),
        None if input.len() > LINE_MAX => Some((LINE_MAX, LINE_MAX)),
        None if last && !input.is_empty() => Some((input.len(), input.len())),
        None => None,
    }
}

/// True if `name` is a file vigil-log rotated (`@` + 24 hex digits + `.s`).
pub fn is_old_file(name: &[u8]) -> bool {
    name.len() == 27
        && name[0] == b'@'
        && name.ends_with(b".s")
        && name[1..25].iter().all(u8::is_ascii_hexdigit)
}

//! Value syntax of vigild.conf(5): durations, booleans, names, paths, and `exec`
//! splitting (whitespace, `'single'` and `"double quotes"`, `\` escapes, no shell).

use crate::fixed::{Arena, Words, lookup, word_index};
use crate::limits::NAME_MAX;
use crate::unix::parse_u64;

/// Why `split_words` refused a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SplitError {
    /// The value cannot be split: why, in words (an unclosed quote, a `\`
    /// at the very end, a word longer than the scratch buffer, a NUL byte,
    /// which no argument can carry).
    Bad(&'static str),
    /// The configuration's string storage is full.
    Full,
}

/// `250ms`, `5s`, `2m`, `1h` or a bare number of seconds → milliseconds.
pub fn parse_duration(text: &[u8]) -> Option<u32> {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    let (number, unit) = text.split_at_checked(digits)?;
    let n = parse_u64(number)?;
    let unit = match unit {
        b"" => 1_000,
        _ => lookup("ms s m h", &[1u32, 1_000, 60_000, 3_600_000], unit)?,
    };
    u32::try_from(n.checked_mul(u64::from(unit))?).ok()
}

/// A duration in milliseconds as a user writes one (`parse_duration`
/// reads it back): `30s`, `2m`, `1h`, `1500ms`.
pub struct DurationText(pub u64);

impl core::fmt::Display for DurationText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let ms = self.0;
        let units = [(3_600_000, "h"), (60_000, "m"), (1000, "s")];
        let (n, unit) = match units
            .into_iter()
            .find(|&(d, _)| ms > 0 && ms.is_multiple_of(d))
        {
            Some((d, unit)) => (ms / d, unit),
            None => (ms, "ms"),
        };
        write!(f, "{n}")?;
        f.write_str(unit)
    }
}

/// `yes/no/true/false/1/0`.
pub(crate) fn parse_bool(text: &[u8]) -> Option<bool> {
    let table = [true, true, true, false, false, false];
    lookup("yes true 1 no false 0", &table, text)
}

/// An octal mode up to `max` (`022`, `0o022`).
pub(crate) fn parse_octal(text: &[u8], max: u32) -> Option<u16> {
    let digits = text.strip_prefix(b"0o").unwrap_or(text);
    if digits.is_empty() || digits.len() > 6 {
        return None;
    }
    let mut n: u32 = 0;
    for &b in digits {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        n = n * 8 + u32::from(b - b'0');
    }
    (n <= max).then_some(n as u16)
}

/// Service names: `[A-Za-z0-9_.-]{1,63}`, but not `.` or `..` (a name
/// is also a file name: a cgroup, a notify socket).
pub(crate) fn is_service_name(text: &[u8]) -> bool {
    (1..=NAME_MAX).contains(&text.len())
        && text != b"."
        && text != b".."
        && text
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// User and group names as useradd accepts them, or a number.
pub(crate) fn is_account_name(text: &[u8]) -> bool {
    (1..=32).contains(&text.len())
        && text[0] != b'-'
        && text
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"_.-$".contains(&b))
}

/// An absolute path without NUL.
pub(crate) fn is_abs_path(text: &[u8]) -> bool {
    text.first() == Some(&b'/') && !text.contains(&0)
}

/// An environment entry `KEY=VALUE` with a shell-style key.
pub(crate) fn is_env_entry(text: &[u8]) -> bool {
    let Some(eq) = text.iter().position(|&b| b == b'=') else {
        return false;
    };
    let key = &text[..eq];
    !key.is_empty()
        && !key[0].is_ascii_digit()
        && key.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
        && !text.contains(&0)
}

/// A word longer than the scratch buffer (or more words than `Words` counts).
const TOO_LONG: SplitError = SplitError::Bad("word too long");

/// Split `text` into words as `exec` does (vigild.conf(5), POSIX sh's word
/// splitting without expansion): whitespace separates words; `'single
/// quotes'` keep everything up to the next `'` literally; `"double
/// quotes"` keep everything but `\"`, `\\`, `\$` and `` \` ``, which stand
/// for the byte after the `\`; a `\` outside quotes takes the next byte
/// literally. The words are stored in `arena`.
pub(crate) fn split_words(text: &[u8], arena: &mut Arena) -> Result<Words, SplitError> {
    let mark = arena.mark();
    let mut count: u16 = 0;
    let mut word = [0u8; 1024];
    let mut i = 0;
    loop {
        while i < text.len() && text[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == text.len() {
            return Ok(arena.words_since(mark, count));
        }
        let mut len = 0;
        let mut quote = Quote::None;
        while i < text.len() && (quote != Quote::None || !text[i].is_ascii_whitespace()) {
            let (byte, next) = match (quote, text[i]) {
                (_, 0) => return Err(SplitError::Bad("NUL byte")),
                (Quote::None, b'\\') => (
                    *text
                        .get(i + 1)
                        .ok_or(SplitError::Bad("backslash at the end"))?,
                    i + 2,
                ),
                (Quote::Double, b'\\') if escapes_in_double_quotes(text.get(i + 1)) => {
                    (text[i + 1], i + 2)
                }
                (Quote::None, b'\'') => {
                    (quote, i) = (Quote::Single, i + 1);
                    continue;
                }
                (Quote::None, b'"') => {
                    (quote, i) = (Quote::Double, i + 1);
                    continue;
                }
                (Quote::Single, b'\'') | (Quote::Double, b'"') => {
                    (quote, i) = (Quote::None, i + 1);
                    continue;
                }
                (_, b) => (b, i + 1),
            };
            *word.get_mut(len).ok_or(TOO_LONG)? = byte;
            len += 1;
            i = next;
        }
        match quote {
            Quote::None => {}
            Quote::Single => return Err(SplitError::Bad("unclosed single quote")),
            Quote::Double => return Err(SplitError::Bad("unclosed double quote")),
        }
        arena
            .push(word.get(..len).unwrap_or_default())
            .map_err(|_| SplitError::Full)?;
        count = count.checked_add(1).ok_or(TOO_LONG)?;
    }
}

/// True if a `\` before `next` inside double quotes stands for `next`
/// alone (sh: `"`, `\`, `$`, `` ` ``; before any other byte it is kept).
fn escapes_in_double_quotes(next: Option<&u8>) -> bool {
    matches!(next, Some(b'"' | b'\\' | b'$' | b'`'))
}

/// Inside which quotes the splitter is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

/// Cut a line at its comment: `#` where a word would begin; and the blanks
/// before it. In the value of a key split into words (`exec`, `log`...),
/// outside quotes and not escaped, with the rules of `split_words` (so
/// `exec = sh -c "echo #1"` keeps its argument); elsewhere quotes and
/// backslashes are plain bytes (`env = A=don't # note` ends at `don't`).
pub(crate) fn strip_comment(line: &[u8]) -> &[u8] {
    let key = line.split(|&b| b == b'=').next().unwrap_or_default();
    let quoting = word_index(WORD_KEYS, trim(key)).is_some() && line.contains(&b'=');
    let mut quote = Quote::None;
    // `#` begins a comment only where a word would begin (as in sh).
    let mut word_start = true;
    // Just past the last byte that is not a blank separating words (an
    // escaped or quoted blank at the end is kept).
    let mut end = 0;
    let mut i = 0;
    while i < line.len() {
        let byte = line[i];
        if quote == Quote::None && byte == b'#' && word_start {
            break;
        }
        if !quoting {
            if !byte.is_ascii_whitespace() {
                end = i + 1;
            }
            word_start = byte.is_ascii_whitespace();
            i += 1;
            continue;
        }
        if quote != Quote::None || !byte.is_ascii_whitespace() {
            end = (i + 1 + usize::from(quote == Quote::None && byte == b'\\')).min(line.len());
        }
        match (quote, byte) {
            (Quote::None, b'\\') => i += 1,
            (Quote::Double, b'\\') if escapes_in_double_quotes(line.get(i + 1)) => i += 1,
            (Quote::None, b'\'') => quote = Quote::Single,
            (Quote::None, b'"') => quote = Quote::Double,
            (Quote::Single, b'\'') | (Quote::Double, b'"') => quote = Quote::None,
            _ => {}
        }
        word_start = quote == Quote::None && byte.is_ascii_whitespace();
        i += 1;
    }
    &line[..end]
}

/// The keys whose values are split into words as sh splits them.
const WORD_KEYS: &str = "exec prefix log finish crash";

/// `text` without leading and trailing ASCII whitespace.
pub(crate) fn trim(text: &[u8]) -> &[u8] {
    text.trim_ascii()
}

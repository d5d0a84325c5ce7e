//! Fixed-capacity storage: the string arena a configuration lives in, short
//! inline strings for messages, and a `fmt::Write` over a byte slice.
//! Nothing here allocates; a full buffer is a value (`Full`), never a panic.

use crate::limits::{ARENA_BYTES, MAX_SERVICES};
use core::fmt;

/// A table or buffer is full (smoltcp's `storage::Full`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// Index of a service in the configuration and in the engine's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceId(pub u16);

impl ServiceId {
    /// The table index. Ids are below `MAX_SERVICES` (a table hands them
    /// out); the modulo tells the compiler so, which drops the bounds check
    /// (and its panic path) at every `table[id.index()]`: a mask or
    /// nothing for the default power-of-two capacity.
    pub const fn index(self) -> usize {
        self.0 as usize % MAX_SERVICES
    }
}

/// A string in an `Arena`: `len` bytes at `off`, followed by a NUL byte so the
/// driver can hand it to `execve` without copying.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Str {
    off: u32,
    len: u32,
}

impl Str {
    /// The empty string.
    pub const EMPTY: Str = Str { off: 0, len: 0 };

    /// True for the empty string (also the "not set" value).
    pub const fn is_empty(self) -> bool {
        self.len == 0
    }
}

/// `count` NUL-terminated words stored back to back in an `Arena`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Words {
    off: u32,
    count: u16,
}

impl Words {
    /// No words.
    pub const EMPTY: Words = Words { off: 0, count: 0 };

    /// Number of words.
    pub const fn len(self) -> usize {
        self.count as usize
    }

    /// True if there are no words.
    pub const fn is_empty(self) -> bool {
        self.count == 0
    }
}

/// Append-only byte storage for one configuration's strings. Strings are
/// stored once, compactly, instead of in worst-case fixed buffers per service.
/// The length first (`repr(C)`): it shares a page with the first strings,
/// not one with the unused end of the buffer.
#[repr(C)]
pub struct Arena {
    len: u32,
    buf: [u8; ARENA_BYTES],
}

impl Default for Arena {
    fn default() -> Self {
        Self::new()
    }
}

impl Arena {
    /// An empty arena (all zero bytes, so a `static` of it lands in `.bss`).
    pub const fn new() -> Self {
        Arena {
            len: 0,
            buf: [0; ARENA_BYTES],
        }
    }

    /// Forget every string.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Bytes in use.
    pub fn used(&self) -> usize {
        self.len as usize
    }

    /// Store `bytes` followed by a NUL byte.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Str, Full> {
        let off = self.len as usize;
        let end = self.push_raw(bytes).map(|()| self.len as usize)?;
        *self.buf.get_mut(end).ok_or(Full)? = 0;
        self.len = (end + 1) as u32; // fits: ARENA_BYTES < u32::MAX (limits.rs)
        Ok(Str {
            off: off as u32,
            len: bytes.len() as u32,
        })
    }

    /// Start a run of words; push each with `push`, then close it with `words_since`.
    pub fn mark(&self) -> u32 {
        self.len
    }

    /// The `count` words pushed since `mark`.
    pub fn words_since(&self, mark: u32, count: u16) -> Words {
        Words { off: mark, count }
    }

    /// Store `bytes` as they are (no NUL); read back with `str_since`.
    /// (At least one byte stays free, as `push` needs for its NUL.)
    pub fn push_raw(&mut self, bytes: &[u8]) -> Result<(), Full> {
        let free = self.buf.get_mut(self.len as usize..).unwrap_or_default();
        match free.split_at_mut_checked(bytes.len()) {
            Some((dst, [_, ..])) => dst.copy_from_slice(bytes),
            _ => return Err(Full),
        }
        self.len += bytes.len() as u32; // fits: ARENA_BYTES < u32::MAX (limits.rs)
        Ok(())
    }

    /// Everything stored since `mark`, as one string.
    pub fn str_since(&self, mark: u32) -> Str {
        Str {
            off: mark,
            len: self.len - mark,
        }
    }

    /// All bytes of `w` (words and their NULs), e.g. to compare or digest them.
    pub fn words_bytes(&self, w: Words) -> &[u8] {
        let len: usize = self.words(w).map(<[u8]>::len).sum();
        &self.buf[w.off as usize..w.off as usize + len]
    }

    /// The bytes of `s`, without the NUL.
    pub fn get(&self, s: Str) -> &[u8] {
        &self.buf[s.off as usize..(s.off + s.len) as usize]
    }

    /// The bytes of `s` with the terminating NUL (`"\0"` for the empty or
    /// unset string, which has no storage of its own).
    pub fn get_with_nul(&self, s: Str) -> &[u8] {
        match s.len {
            0 => b"\0",
            // A `Str` of this arena is in it.
            len => (self.buf.get(s.off as usize..=(s.off + len) as usize)).unwrap_or(b"\0"),
        }
    }

    /// The words of `w`, each with its terminating NUL.
    pub fn words(&self, w: Words) -> WordIter<'_> {
        WordIter {
            rest: &self.buf[w.off as usize..self.len as usize],
            left: w.count,
        }
    }
}

/// Iterator over `Words`, yielding each word with its NUL.
#[derive(Clone)]
pub struct WordIter<'a> {
    rest: &'a [u8],
    left: u16,
}

impl<'a> Iterator for WordIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let nul = self.rest.iter().position(|&b| b == 0)?;
        let (word, rest) = self.rest.split_at(nul + 1);
        self.rest = rest;
        self.left -= 1;
        Some(word)
    }
}

/// Move `buf[from..to]` to the start of `buf`, as `copy_within` does, but
/// without its range checks and their panics in the binary (a part out of
/// range is not moved).
#[inline(never)]
pub fn move_to_start(buf: &mut [u8], from: usize, to: usize) {
    let mut k = 0;
    while from + k < to {
        let Some(&b) = buf.get(from + k) else {
            break;
        };
        if let Some(slot) = buf.get_mut(k) {
            *slot = b;
        }
        k += 1;
    }
}

/// Strip the trailing NUL of a word from `Arena::words`.
pub fn without_nul(word: &[u8]) -> &[u8] {
    word.strip_suffix(&[0]).unwrap_or(word)
}

/// A short inline string for messages; writes past the end are cut off.
pub type ArrayStr<const N: usize> = Text<[u8; N]>;

/// The storage of an `ArrayStr`: its code is written for `Text<[u8]>`, which
/// every size derefs to, so that `write!` and its `fmt::Write` methods exist
/// once instead of once for every size.
#[derive(Clone, Copy)]
pub struct Text<B: ?Sized> {
    len: usize,
    buf: B,
}

impl<const N: usize> Default for ArrayStr<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ArrayStr<N> {
    /// An empty string.
    pub const fn new() -> Self {
        Text {
            len: 0,
            buf: [0; N],
        }
    }
}

impl<const N: usize> core::ops::Deref for ArrayStr<N> {
    type Target = Text<[u8]>;
    fn deref(&self) -> &Text<[u8]> {
        self
    }
}

impl<const N: usize> core::ops::DerefMut for ArrayStr<N> {
    fn deref_mut(&mut self) -> &mut Text<[u8]> {
        self
    }
}

impl Text<[u8]> {
    /// The text written so far.
    pub fn as_str(&self) -> &str {
        text_of(self.buf.get(..self.len).unwrap_or_default())
    }

    /// End the text with a newline: appended, or in place of its last byte
    /// when it is full (the line is cut, never split). The result is bytes:
    /// the cut may fall inside a character.
    pub fn end_line(&mut self) -> &[u8] {
        let at = self.len.min(self.buf.len() - 1);
        self.buf[at] = b'\n';
        &self.buf[..=at]
    }
}

/// `bytes` as text (`?` if they are not UTF-8).
pub fn text_of(bytes: &[u8]) -> &str {
    core::str::from_utf8(bytes).unwrap_or("?")
}

/// Only whole `str` pieces are written, cut at a char boundary, so the text
/// is always UTF-8.
impl fmt::Write for Text<[u8]> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let free = self.buf.get_mut(self.len..).unwrap_or_default();
        let mut take = s.len().min(free.len());
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        if let (Some(dst), Some(src)) = (free.get_mut(..take), s.as_bytes().get(..take)) {
            dst.copy_from_slice(src);
            self.len += take;
        }
        Ok(())
    }
}

impl<const N: usize> fmt::Debug for ArrayStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text<[u8]> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Display for ArrayStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// `fmt::Write` into a borrowed byte slice; fails (without writing) when full.
pub struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceWriter<'a> {
    /// A writer over `buf`, starting empty.
    pub fn new(buf: &'a mut [u8]) -> Self {
        SliceWriter { buf, len: 0 }
    }

    /// Bytes written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written.
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// Forget what was written after the first `len` bytes.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Append raw bytes (not necessarily UTF-8).
    pub fn push(&mut self, bytes: &[u8]) -> fmt::Result {
        let free = self.buf.get_mut(self.len..).unwrap_or_default();
        let (dst, _) = free.split_at_mut_checked(bytes.len()).ok_or(fmt::Error)?;
        dst.copy_from_slice(bytes);
        self.len += bytes.len();
        Ok(())
    }
}

impl fmt::Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes())
    }
}

/// Copy as much of `src` as fits at the start of `dst`; the bytes copied.
pub fn copy_cut(dst: &mut [u8], src: &[u8]) -> usize {
    let n = dst.len().min(src.len());
    dst[..n].copy_from_slice(&src[..n]); // n fits both: no panic path
    n
}

/// A `str` in a message, written as it is. `{}` of a bare `&str` goes
/// through core's padding code (widths, precisions, fill: a kilobyte the
/// binary needs for nothing else, as no message here pads); this does not.
pub struct Plain<'a>(pub &'a str);

impl fmt::Display for Plain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Shows bytes that may not be text (names, paths, config values) without
/// allocating: printable ASCII as is, every other byte as `\xHH` — so no
/// control sequence ever reaches a console or a log, and a console that
/// is not UTF-8 (a serial line) shows the same as any other.
pub struct Lossy<'a>(pub &'a [u8]);

impl fmt::Display for Lossy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some((&b, after)) = rest.split_first() {
            // A run of printable bytes, else one byte as `\xHH`: either
            // is ASCII, so always UTF-8 (one write for both).
            let plain = rest.iter().take_while(|b| matches!(b, b' '..=b'~')).count();
            let escape = [
                b'\\',
                b'x',
                hex_digit(u64::from(b >> 4)),
                hex_digit(u64::from(b)),
            ];
            let (text, next) = match rest.split_at_checked(plain) {
                Some((run, next)) if plain > 0 => (run, next),
                _ => (&escape[..], after),
            };
            f.write_str(core::str::from_utf8(text).unwrap_or_default())?;
            rest = next;
        }
        Ok(())
    }
}

/// A value quoted in a message: as `Lossy`, cut after `QUOTED_MAX` bytes
/// with `...` (the rest of the message says more than a long value).
pub struct Quoted<'a>(pub &'a [u8]);

/// Bytes of a value `Quoted` shows.
const QUOTED_MAX: usize = 48;

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cut = self.0.len() > QUOTED_MAX;
        let head = self.0.get(..QUOTED_MAX).filter(|_| cut);
        fmt::Display::fmt(&Lossy(head.unwrap_or(self.0)), f)?;
        match cut {
            true => f.write_str("..."),
            false => Ok(()),
        }
    }
}

/// The lowercase hex digit of the low four bits of `n`.
pub fn hex_digit(n: u64) -> u8 {
    b"0123456789abcdef"[(n & 15) as usize]
}

/// A 64-bit digest of `bytes` (FNV-1a): a short stand-in for a name too
/// long for where it goes.
pub fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Push the 16 lowercase hex digits of `n` to `w`.
pub fn push_hex(w: &mut SliceWriter<'_>, n: u64) -> fmt::Result {
    let mut digits = [0u8; 16];
    for (i, d) in digits.iter_mut().enumerate() {
        *d = hex_digit(n >> (60 - 4 * i));
    }
    w.push(&digits)
}

/// `\xHH`, lowercase.
pub fn write_hex_escape(w: &mut impl fmt::Write, b: u8) -> fmt::Result {
    let b = u64::from(b);
    let text = [b'\\', b'x', hex_digit(b >> 4), hex_digit(b)];
    // Four ASCII bytes.
    w.write_str(core::str::from_utf8(&text).unwrap_or("?"))
}

/// Word `n` (from 0) of a space-separated `list`. The name tables (signals,
/// errnos, config keys) are such strings: a quarter of the bytes of
/// `&[&str]` tables, and one lookup for all of them.
#[inline(never)]
pub fn word(list: &'static str, n: usize) -> Option<&'static str> {
    let (_, start, end) = scan_words(list.as_bytes(), Some(n), b"")?;
    list.get(start..end)
}

/// The position of `w` in a space-separated `list`.
#[inline(never)]
pub fn word_index(list: &str, w: &[u8]) -> Option<usize> {
    scan_words(list.as_bytes(), None, w).map(|(index, ..)| index)
}

/// The word of a space-separated `list` at index `n`, else (`None`) the
/// one that is `w`: its index, start and end. (One byte loop for `word`
/// and `word_index`: `str::split` brings a searcher of its own.)
fn scan_words(list: &[u8], n: Option<usize>, w: &[u8]) -> Option<(usize, usize, usize)> {
    let (mut index, mut start) = (0, 0);
    for end in 0..=list.len() {
        if end < list.len() && list.get(end) != Some(&b' ') {
            continue;
        }
        let hit = match n {
            Some(n) => index == n,
            None => list.get(start..end) == Some(w),
        };
        if hit {
            return Some((index, start, end));
        }
        (index, start) = (index + 1, end + 1);
    }
    None
}

/// The entry of `table` named `w`, where `names` spells the names of the
/// entries, space-separated, in the order of `table`. A `match` on byte
/// strings compiles to a byte-by-byte comparison per arm instead, which
/// over the whole program costs kilobytes.
pub fn lookup<T: Copy>(names: &str, table: &[T], w: &[u8]) -> Option<T> {
    table.get(word_index(names, w)?).copied()
}

/// Memory the binary may give back to the system (its pages then read as
/// zero bytes) while the engine still holds it: only the engine makes one
/// (`pub(crate)`), and only for a table whose every field is valid as zero
/// bytes and unused once made so (`Config::scratch`). The binary's unsafe
/// code relies on exactly that, so a new one needs the same care.
pub struct ZeroablePart<'a> {
    start: *mut u8,
    len: usize,
    _borrow: core::marker::PhantomData<&'a mut [u8]>,
}

impl<'a> ZeroablePart<'a> {
    /// All of `part`, borrowed for as long as the binary holds it. For a
    /// `T` whose all-zero bytes are a valid value only (see above).
    pub(crate) fn new<T>(part: &'a mut T) -> Self {
        ZeroablePart {
            start: (part as *mut T).cast(),
            len: core::mem::size_of::<T>(),
            _borrow: core::marker::PhantomData,
        }
    }

    /// Where it begins.
    pub fn start(&self) -> *mut u8 {
        self.start
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if it has no byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

//! The control FIFO's language (vigild(8) CONTROL FIFO): lines of words, at most 512 bytes,
//! each optionally ending in `reply=PATH`. Turning bytes into requests lives
//! here; acting on them is the driver's.

use crate::fixed::lookup;
use crate::limits::LINE_MAX;
use crate::time::Instant;
use crate::unix::parse_signal;
use core::fmt;

/// What a line asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// `start NAME`.
    Start,
    /// `stop NAME`.
    Stop,
    /// `restart NAME`.
    Restart,
    /// `signal NAME SIG`.
    Signal,
    /// `reload`.
    Reload,
    /// `shutdown`.
    Shutdown,
    /// `poweroff` (PID 1; elsewhere a shutdown).
    Poweroff,
    /// `reboot` (PID 1; elsewhere a shutdown).
    Reboot,
    /// `halt` (PID 1; elsewhere a shutdown).
    Halt,
    /// `log NAME`.
    Log,
    /// `monitor`.
    Monitor,
    /// `reexec [PATH]`.
    Reexec,
    /// `switch_root NEWROOT [INIT [ARGS...]]`.
    SwitchRoot,
}

/// The verbs, in the order of `Verb` (see `lookup`).
const VERBS: &str =
    "start stop restart signal reload shutdown poweroff reboot halt log monitor reexec switch_root";

impl Verb {
    /// The verb spelled `word`.
    pub fn from_word(word: &[u8]) -> Option<Verb> {
        use Verb::*;
        const TABLE: [Verb; 13] = [
            Start, Stop, Restart, Signal, Reload, Shutdown, Poweroff, Reboot, Halt, Log, Monitor,
            Reexec, SwitchRoot,
        ];
        lookup(VERBS, &TABLE, word)
    }

    /// The words after it: the service's name, and for `signal` the signal
    /// (the most, for the verbs that take paths: see `paths`).
    pub fn takes(self) -> usize {
        match self {
            Verb::Start | Verb::Stop | Verb::Restart | Verb::Log | Verb::Reexec => 1,
            Verb::Signal => 2,
            Verb::SwitchRoot => 4,
            Verb::Reload
            | Verb::Shutdown
            | Verb::Poweroff
            | Verb::Reboot
            | Verb::Halt
            | Verb::Monitor => 0,
        }
    }
}

impl Verb {
    /// For a verb that takes paths, the fewest words it takes: its first
    /// two words are absolute paths (`switch_root`'s others are INIT's
    /// arguments), and they are one request.
    pub fn paths(self) -> Option<usize> {
        match self {
            Verb::Reexec => Some(0),
            Verb::SwitchRoot => Some(1),
            _ => None,
        }
    }
}

/// A well-formed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The command.
    pub verb: Verb,
    /// The service named, or empty.
    pub name: &'a [u8],
    /// The signal of `signal NAME SIG`.
    pub signal: u8,
    /// The words after `name` of `switch_root` (empty words for none).
    pub more: [&'a [u8]; 3],
}

/// Why a line was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineError {
    /// Nothing but spaces.
    Empty,
    /// Bytes other than printable ASCII.
    NotText,
    /// Longer than 512 bytes.
    TooLong,
    /// The first word is no command.
    UnknownCommand,
    /// The command needs a service name.
    MissingName,
    /// Not a valid service name.
    BadName,
    /// `signal` without a known signal.
    BadSignal,
    /// More words than the command takes.
    ExtraWords,
    /// A path that is not absolute (`reexec`, `switch_root`).
    BadPath,
    /// `reply=` without an absolute path.
    BadReply,
    /// More than one `reply=`.
    TwoReplies,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineError::Empty => "empty line",
            LineError::NotText => "line is not printable text",
            LineError::TooLong => "line longer than 512 bytes",
            LineError::UnknownCommand => "unknown command",
            LineError::MissingName => "service name missing",
            LineError::BadName => "bad service name",
            LineError::BadSignal => "unknown signal",
            LineError::ExtraWords => "too many words",
            LineError::BadPath => "needs an absolute path",
            LineError::BadReply => "reply= needs an absolute path",
            LineError::TwoReplies => "more than one reply=",
        })
    }
}

/// A parsed line: where to answer, and the request or why it was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// The `reply=PATH` FIFO, if given (even when the request is bad, so the
    /// error reaches the asker).
    pub reply: Option<&'a [u8]>,
    /// The request.
    pub request: Result<Request<'a>, LineError>,
}

/// Parse one control line (without its newline).
pub fn parse_line(line: &[u8]) -> Line<'_> {
    let mut words: [&[u8]; 5] = [b""; 5];
    let mut count = 0;
    let mut reply = None;
    let mut extra = false;
    let mut replies = 0;
    for word in line
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty())
    {
        if let Some(path) = word.strip_prefix(b"reply=") {
            // The first is where the error goes.
            replies += 1;
            reply = reply.or(Some(path));
        } else if count < words.len() {
            words[count] = word;
            count += 1;
        } else {
            extra = true;
        }
    }
    let valid_reply = reply.filter(|p| p.first() == Some(&b'/'));
    let request = if !line
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        // A reply path found in junk is not trusted either.
        return Line {
            reply: None,
            request: Err(LineError::NotText),
        };
    } else if reply.is_some() && valid_reply.is_none() {
        Err(LineError::BadReply)
    } else if replies > 1 {
        Err(LineError::TwoReplies)
    } else if extra {
        Err(LineError::ExtraWords)
    } else {
        request(&words[..count])
    };
    Line {
        reply: valid_reply,
        request,
    }
}

fn request<'a>(words: &[&'a [u8]]) -> Result<Request<'a>, LineError> {
    let (&verb, args) = words.split_first().ok_or(LineError::Empty)?;
    let verb = Verb::from_word(verb).ok_or(LineError::UnknownCommand)?;
    let takes = verb.takes();
    if args.len() > takes {
        return Err(LineError::ExtraWords);
    }
    if let Some(fewest) = verb.paths() {
        let absolute = |w: &[u8]| w.first() == Some(&b'/');
        if args.len() < fewest || !args.iter().take(2).all(|w| absolute(w)) {
            return Err(LineError::BadPath);
        }
        let word = |k: usize| args.get(k).copied().unwrap_or_default();
        return Ok(Request {
            verb,
            name: word(0),
            signal: 0,
            more: [word(1), word(2), word(3)],
        });
    }
    let name = match takes {
        0 => &b""[..],
        _ => *args.first().ok_or(LineError::MissingName)?,
    };
    if takes > 0 && !is_name(name) {
        return Err(LineError::BadName);
    }
    let signal = match verb {
        Verb::Signal => {
            parse_signal(args.get(1).ok_or(LineError::BadSignal)?).ok_or(LineError::BadSignal)?
        }
        _ => 0,
    };
    Ok(Request {
        verb,
        name,
        signal,
        more: [b""; 3],
    })
}

/// A service name, or the logger `NAME/log` that `log = DIR` adds.
fn is_name(text: &[u8]) -> bool {
    crate::config::is_service_name(text.strip_suffix(b"/log").unwrap_or(text))
}

/// vigilctl's exit code for the last result line of a request (vigilctl(8) EXIT STATUS):
/// 0 for a success word, 4 for a failure, 1 when vigild closed the reply
/// before the request was resolved (no line, or only `starting` or
/// `stopping`).
pub fn exit_code_of_reply(last_line: &[u8]) -> u8 {
    const SUCCESS: &str = "up stopped started-already stopped-already stopping-already reloaded signalled reexecuted switched-root";
    const UNRESOLVED: &str = "starting stopping";
    let word = last_line.split(|&b| b == b' ').next().unwrap_or_default();
    if crate::fixed::word_index(SUCCESS, word).is_some() {
        0
    } else if word.is_empty() || crate::fixed::word_index(UNRESOLVED, word).is_some() {
        1
    } else {
        4
    }
}

/// A piece of input cut into lines.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A complete line, newline removed.
    Line(&'a [u8]),
    /// A line longer than `LINE_MAX` was dropped.
    TooLong,
}

/// Bytes of control input read at once (the most one turn of the loop
/// takes is `INPUT_MAX` times the driver's reads per turn).
pub const INPUT_MAX: usize = 1024;

/// How long a line may stay incomplete before it is dropped: a writer that
/// left a line without its newline must not take the next writer's line
/// with it.
pub const PARTIAL_MS: u64 = 1000;

/// Cuts the FIFO's byte stream into lines (vigild(8) CONTROL FIFO): a line acts only when
/// its newline arrives; an oversized one is dropped whole, up to its
/// newline; one left incomplete for `PARTIAL_MS` is dropped. Input is read
/// into it and cut one line at a time, so that the loop can stop after a
/// bounded number of lines and keep the rest for its next turn.
pub struct LineReader {
    /// Read and not yet cut: `input[start..end]`.
    input: [u8; INPUT_MAX],
    start: usize,
    end: usize,
    /// The line being gathered.
    line: [u8; LINE_MAX],
    len: usize,
    /// The line being gathered is too long: its bytes are dropped.
    discarding: bool,
    /// When the line being gathered began (None: no line is pending).
    since: Option<Instant>,
}

impl Default for LineReader {
    fn default() -> Self {
        Self::new()
    }
}

impl LineReader {
    /// Empty.
    pub const fn new() -> Self {
        LineReader {
            input: [0; INPUT_MAX],
            start: 0,
            end: 0,
            line: [0; LINE_MAX],
            len: 0,
            discarding: false,
            since: None,
        }
    }

    /// Where to read more input (empty while input waits to be cut).
    pub fn room(&mut self) -> &mut [u8] {
        // (Not written when already 0: an idle vigild's reader stays on
        // pages it never wrote, which cost no memory.)
        if self.start == self.end && self.end != 0 {
            (self.start, self.end) = (0, 0);
        }
        self.input.get_mut(self.end..).unwrap_or_default()
    }

    /// `n` bytes were read into `room()`.
    pub fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(INPUT_MAX);
    }

    /// True while read input waits to be cut.
    pub fn has_input(&self) -> bool {
        self.start < self.end
    }

    /// The next complete line (copied into `out`), or an oversized one
    /// dropped; `None` once the input read so far is used up (a line may
    /// be pending without its newline).
    pub fn next<'b>(&mut self, now: Instant, out: &'b mut [u8; LINE_MAX]) -> Option<Piece<'b>> {
        let input = self.input.get(self.start..self.end).unwrap_or_default();
        if input.is_empty() {
            return None;
        }
        self.since.get_or_insert(now);
        let newline = input.iter().position(|&b| b == b'\n');
        let chunk = input
            .get(..newline.unwrap_or(input.len()))
            .unwrap_or_default();
        if !self.discarding {
            match self.line.get_mut(self.len..self.len + chunk.len()) {
                Some(dst) => {
                    dst.copy_from_slice(chunk);
                    self.len += chunk.len();
                }
                None => (self.discarding, self.len) = (true, 0),
            }
        }
        self.start += chunk.len();
        newline?;
        self.start += 1;
        self.since = None;
        let len = core::mem::take(&mut self.len);
        if core::mem::take(&mut self.discarding) {
            return Some(Piece::TooLong);
        }
        let line = out.get_mut(..len)?;
        line.copy_from_slice(self.line.get(..len)?);
        Some(Piece::Line(line))
    }

    /// When the pending line will have been incomplete for `PARTIAL_MS`.
    pub fn deadline(&self) -> Option<Instant> {
        Some(self.since?.plus_ms(PARTIAL_MS))
    }

    /// Drop the pending line if it has been incomplete for `PARTIAL_MS`;
    /// true if one was (worth one warning).
    pub fn expire(&mut self, now: Instant) -> bool {
        let stale = self.deadline().is_some_and(|at| at <= now) && !self.has_input();
        if stale {
            (self.len, self.discarding, self.since) = (0, false, None);
        }
        stale
    }
}

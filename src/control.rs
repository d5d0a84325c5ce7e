//! The control FIFO's language (SPEC §4): lines of words, at most 512 bytes,
//! each optionally ending in `reply=PATH`. Turning bytes into requests lives
//! here; acting on them is the driver's.

use crate::event::parse_signal;
use crate::fixed::lookup;
use crate::limits::LINE_MAX;
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
}

/// The verbs, in the order of `Verb` (see `lookup`).
const VERBS: &str = "start stop restart signal reload shutdown poweroff reboot halt log monitor";

impl Verb {
    /// The verb spelled `word`.
    pub fn from_word(word: &[u8]) -> Option<Verb> {
        use Verb::*;
        const TABLE: [Verb; 11] = [
            Start, Stop, Restart, Signal, Reload, Shutdown, Poweroff, Reboot, Halt, Log, Monitor,
        ];
        lookup(VERBS, &TABLE, word)
    }

    /// The words after it: the service's name, and for `signal` the signal.
    fn takes(self) -> usize {
        match self {
            Verb::Start | Verb::Stop | Verb::Restart | Verb::Log => 1,
            Verb::Signal => 2,
            Verb::Reload
            | Verb::Shutdown
            | Verb::Poweroff
            | Verb::Reboot
            | Verb::Halt
            | Verb::Monitor => 0,
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
    /// `reply=` without an absolute path.
    BadReply,
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
            LineError::BadReply => "reply= needs an absolute path",
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
    for word in line
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty())
    {
        if let Some(path) = word.strip_prefix(b"reply=") {
            reply = Some(path);
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
    Ok(Request { verb, name, signal })
}

/// A service name, or the logger `NAME/log` that `log = DIR` adds.
fn is_name(text: &[u8]) -> bool {
    crate::config::is_service_name(text.strip_suffix(b"/log").unwrap_or(text))
}

/// A piece of input cut into lines.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A complete line, newline removed.
    Line(&'a [u8]),
    /// A line longer than `LINE_MAX` was dropped.
    TooLong,
}

/// Cuts the FIFO's byte stream into lines, dropping oversized ones whole.
pub struct LineReader {
    buf: [u8; LINE_MAX],
    len: usize,
    discarding: bool,
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
            buf: [0; LINE_MAX],
            len: 0,
            discarding: false,
        }
    }

    /// Feed bytes read from the FIFO; `each` gets every complete line.
    pub fn feed(&mut self, mut data: &[u8], each: &mut impl FnMut(Piece<'_>)) {
        while !data.is_empty() {
            let newline = data.iter().position(|&b| b == b'\n');
            let chunk = &data[..newline.unwrap_or(data.len())];
            if !self.discarding {
                if self.len + chunk.len() > LINE_MAX {
                    self.discarding = true;
                    self.len = 0;
                } else {
                    self.buf[self.len..self.len + chunk.len()].copy_from_slice(chunk);
                    self.len += chunk.len();
                }
            }
            let Some(nl) = newline else { return };
            self.complete(each);
            data = &data[nl + 1..];
        }
    }

    /// The FIFO is empty for now. Each writer's line is one `write(2)` of at
    /// most `PIPE_BUF` bytes, which arrives whole, so a pending line without
    /// its newline (`printf 'reload' > control`) is complete too. An
    /// oversized line is different: a write above `PIPE_BUF` may arrive in
    /// pieces, so it is dropped up to its newline, whatever comes between.
    pub fn end_of_burst(&mut self, each: &mut impl FnMut(Piece<'_>)) {
        if self.len > 0 && !self.discarding {
            self.complete(each);
        }
    }

    fn complete(&mut self, each: &mut impl FnMut(Piece<'_>)) {
        match self.discarding {
            true => each(Piece::TooLong),
            false => each(Piece::Line(&self.buf[..self.len])),
        }
        self.len = 0;
        self.discarding = false;
    }
}

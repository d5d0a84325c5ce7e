//! The status formats of vigild(8) STATUS FILE: the status file's `key=value` lines, the
//! transition lines of the log and `monitor`, and vigilctl's runit-style view.

use crate::config::Config;
use crate::fixed::{Lossy, Plain, ServiceId, lookup, write_hex_escape};
use crate::machine::{AcceptStats, Reason, Slot, State};
use crate::unix::parse_u64;
use core::fmt::{self, Write};

/// The counters a status line shows besides the state.
#[derive(Clone, Copy, Debug)]
pub enum Counters<'a> {
    /// Nothing more.
    None,
    /// An accept service's `workers`, `accepted`, `dropped`.
    Accept(&'a AcceptStats),
    /// A pool's workers and the client slots they report free.
    Pool {
        /// Workers running.
        procs: u32,
        /// Sum of their last `X_AVAILABLE`.
        available: u32,
    },
}

/// What the status line of a service shows besides its slot.
#[derive(Clone, Copy, Debug)]
pub struct Shown<'a> {
    /// An accept service's or a pool's counters.
    pub counters: Counters<'a>,
    /// The text of its last `STATUS=` (empty: none).
    pub text: &'a [u8],
    /// It is contained by a cgroup (else by its process group).
    pub cgroup: bool,
}

/// True if the change from `from` is worth no line: the same state
/// entered again with nothing new to say (a stopping service whose main
/// process is gone while others of it live on).
pub fn is_quiet(from: State, slot: &Slot) -> bool {
    from.is_same_state(&slot.state) && slot.reason == Reason::None
}

/// Write the status-file line of `id` (with its newline). `wall_offset_ms`
/// turns the engine's monotonic instants into wall-clock milliseconds.
/// The `STATUS=` text comes last because it may hold spaces.
pub fn write_line(
    w: &mut impl Write,
    cfg: &Config,
    id: ServiceId,
    slot: &Slot,
    shown: Shown<'_>,
    wall_offset_ms: i64,
) -> fmt::Result {
    let Shown {
        counters,
        text: status,
        cgroup,
    } = shown;
    // Unsigned: one integer formatter fewer in the binary.
    let since = (slot.since.as_ms() as i64)
        .saturating_add(wall_offset_ms)
        .max(0) as u64;
    write!(
        w,
        "{} state={} pid={} since={}.{:03} mode={} contain={}",
        Lossy(cfg.name(id)),
        Plain(slot.state.name()),
        // Pids are positive; u32 spares the binary i32's formatter.
        slot.state.pid().map_or(0, |p| p.0 as u32),
        since / 1000,
        since % 1000,
        Plain(cfg.spec(id).mode.as_str()),
        Plain(if cgroup { "cgroup" } else { "group" }),
    )?;
    match counters {
        Counters::None => {}
        Counters::Accept(st) => write!(
            w,
            " workers={} accepted={} dropped={}",
            st.workers, st.accepted, st.dropped
        )?,
        Counters::Pool { procs, available } => write!(w, " procs={procs} available={available}")?,
    }
    write!(w, " restarts={} last=", slot.restarts)?;
    match slot.last() {
        Some(status) => write!(w, "{status}")?,
        None => w.write_str("-")?,
    }
    let ready = matches!(slot.state, State::Up { .. });
    w.write_str(if ready { " ready=yes" } else { " ready=no" })?;
    if slot.reason != Reason::None {
        write!(w, " reason={}", slot.reason)?;
    }
    // Where vigilctl finds the service's output; a path a space would cut
    // (or a byte a terminal would act on) is left out.
    if let Some(dir) = cfg.log_dir(id)
        && dir.iter().all(|b| matches!(b, b'!'..=b'~'))
    {
        w.write_str(" log_dir=")?;
        // Printable ASCII: always UTF-8.
        w.write_str(core::str::from_utf8(dir).unwrap_or_default())?;
    }
    if !status.is_empty() {
        w.write_str(" status=\"")?;
        write_escaped(w, status)?;
        w.write_str("\"")?;
    }
    w.write_str("\n")
}

/// `text` between double quotes: printable ASCII as is, `"` and `\\`
/// behind a backslash, every other byte as `\\xHH`.
fn write_escaped(w: &mut impl Write, text: &[u8]) -> fmt::Result {
    for &b in text {
        match b {
            b'"' => w.write_str("\\\"")?,
            b'\\' => w.write_str("\\\\")?,
            b' '..=b'~' => w.write_char(b.into())?,
            _ => write_hex_escape(w, b)?,
        }
    }
    Ok(())
}

/// Write the one-line account of a transition, as logged and monitored:
/// `web: starting -> up (pid 412)`, `web: up -> backoff (last exit:1)`,
/// `web: down (dependency-failed)` for a new reason in the same state.
pub fn write_transition(
    w: &mut (impl Write + ?Sized),
    cfg: &Config,
    id: ServiceId,
    from: State,
    slot: &Slot,
) -> fmt::Result {
    // The same state again (another reason, no pid): no arrow.
    write!(w, "{}: ", Lossy(cfg.name(id)))?;
    if !from.is_same_state(&slot.state) {
        w.write_str(from.name())?;
        w.write_str(" -> ")?;
    }
    w.write_str(slot.state.name())?;
    match (slot.state, slot.last(), slot.reason) {
        (_, _, reason) if reason != Reason::None => write!(w, " ({reason})"),
        (
            State::Starting { pid, .. }
            | State::Up { pid: Some(pid) }
            | State::Stopping { pid: Some(pid), .. },
            _,
            _,
        ) => {
            write!(w, " (pid {})", pid.0 as u32)
        }
        (State::Backoff { .. } | State::Down | State::Up { pid: None }, Some(last), _) => {
            write!(w, " (last {last})")
        }
        _ => Ok(()),
    }
}

/// One status-file line, read back (by vigilctl).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fields<'a> {
    /// Service name.
    pub name: &'a [u8],
    /// State name.
    pub state: &'a [u8],
    /// Process id (0: none).
    pub pid: u64,
    /// Wall-clock milliseconds of the last state change.
    pub since_ms: u64,
    /// Automatic restarts.
    pub restarts: u64,
    /// `exit:N`, `signal:NAME` or `-`.
    pub last: &'a [u8],
    /// `reason=` or empty.
    pub reason: &'a [u8],
    /// `ready=yes`.
    pub ready: bool,
    /// `log_dir=`: the directory of its vigil-log, or empty.
    pub log_dir: &'a [u8],
}

/// Parse a status-file line; `None` if it is not one.
pub fn parse_line(line: &[u8]) -> Option<Fields<'_>> {
    /// The keys read (others are skipped).
    #[derive(Clone, Copy)]
    enum Key {
        State,
        Pid,
        Since,
        Restarts,
        Last,
        Reason,
        Ready,
        LogDir,
    }
    use Key::*;
    let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let mut f = Fields {
        name: words.next()?,
        state: b"",
        pid: 0,
        since_ms: 0,
        restarts: 0,
        last: b"-",
        reason: b"",
        ready: false,
        log_dir: b"",
    };
    for word in words {
        // The last field, free text that may hold spaces (and `key=`).
        if word.starts_with(b"status=\"") {
            break;
        }
        let eq = word.iter().position(|&b| b == b'=')?;
        let (key, value) = (&word[..eq], &word[eq + 1..]);
        let keys = [State, Pid, Since, Restarts, Last, Reason, Ready, LogDir];
        let names = "state pid since restarts last reason ready log_dir";
        match lookup(names, &keys, key) {
            Some(State) => f.state = value,
            Some(Pid) => f.pid = parse_u64(value)?,
            Some(Since) => {
                let dot = value.iter().position(|&b| b == b'.').unwrap_or(value.len());
                let ms = value.get(dot + 1..).map_or(Some(0), parse_u64)?;
                f.since_ms = parse_u64(&value[..dot])?
                    .checked_mul(1000)?
                    .checked_add(ms)?;
            }
            Some(Restarts) => f.restarts = parse_u64(value)?,
            Some(Last) => f.last = value,
            Some(Reason) => f.reason = value,
            Some(Ready) => f.ready = value == b"yes",
            Some(LogDir) => f.log_dir = value,
            None => {}
        }
    }
    (!f.state.is_empty()).then_some(f)
}

/// A piece of a runit-style line: text, shown as `Lossy` shows it (a
/// status file is read as it is; no byte of it may reach a terminal as a
/// control sequence), or a number.
pub enum SvPiece<'a> {
    /// Words of the line or of the file.
    Text(&'a [u8]),
    /// In decimal.
    Number(u64),
}

/// The pieces of `f` as runit's `sv status` shows it (without a newline):
/// `run: web: (pid 412) 133s, restarts 2`, `down: web: 12s, gave-up`.
/// Pieces, not a `fmt::Write`: vigilctl writes them without a formatter.
pub fn sv_pieces<'a>(f: &Fields<'a>, now_ms: u64, each: &mut dyn FnMut(SvPiece<'a>)) {
    use SvPiece::{Number, Text};
    each(Text(if f.state == b"up" { b"run" } else { f.state }));
    each(Text(b": "));
    each(Text(f.name));
    each(Text(b": "));
    if f.pid != 0 {
        each(Text(b"(pid "));
        each(Number(f.pid));
        each(Text(b") "));
    }
    each(Number(now_ms.saturating_sub(f.since_ms) / 1000));
    each(Text(b"s"));
    if !f.reason.is_empty() {
        each(Text(b", "));
        each(Text(f.reason));
    } else if f.state != b"up" && f.last != b"-" {
        each(Text(b", last "));
        each(Text(f.last));
    }
    if f.restarts > 0 {
        each(Text(b", restarts "));
        each(Number(f.restarts));
    }
}

/// `sv_pieces` written to `w`, with a newline.
pub fn write_sv(w: &mut impl Write, f: &Fields<'_>, now_ms: u64) -> fmt::Result {
    let mut result = Ok(());
    sv_pieces(f, now_ms, &mut |piece| {
        if result.is_ok() {
            result = match piece {
                SvPiece::Text(text) => write!(w, "{}", Lossy(text)),
                SvPiece::Number(n) => write!(w, "{n}"),
            };
        }
    });
    result?;
    w.write_str("\n")
}

//! The parser: configuration text → `Config`, or every error it contains as
//! `ParseError { line, msg }`. Parse, don't validate: nothing downstream
//! checks a value again.

use super::value::{
    SplitError, is_abs_path, is_account_name, is_env_entry, is_service_name, parse_bool,
    parse_duration, parse_octal, split_words, strip_comment, trim,
};
use super::{
    Config, Contain, Listen, Log, Mode, Ready, Restart, RingPlace, ServiceSpec, parse_listen,
};
use crate::fixed::{
    ArrayStr, Lossy, Plain, Quoted, ServiceId, SliceWriter, Str, Words, lookup, without_nul, word,
    word_index,
};
use crate::limits::{
    ARGV_MAX, ENV_MAX, ERRORS_MAX, LISTENERS_MAX, MAX_SERVICES, PIPES_MAX, RING_BYTES, WORKERS_MAX,
};
use crate::log_rules::{USAGE, parse_options, parse_size};
use crate::unix::climbs;
use crate::unix::{parse_signal, parse_u64};

const WORKERS_MAX_U64: u64 = WORKERS_MAX as u64;
use core::fmt::{self, Write};

/// One error: the line it is on and what is wrong.
#[derive(Clone, Copy, Debug)]
pub struct ParseError {
    /// 1-based line number.
    pub line: u32,
    /// The message, without file or line.
    pub msg: ArrayStr<200>,
}

impl ParseError {
    /// Become `msg` at `line` (errors and warnings are written in place).
    #[inline(never)]
    fn set(&mut self, line: u32, msg: fmt::Arguments<'_>) {
        self.line = line;
        self.msg = ArrayStr::new();
        let _ = self.msg.write_fmt(msg); // ArrayStr cuts, never fails
    }
}

/// Every error of one parse (in line order once `sort`ed); past `ERRORS_MAX`
/// they are only counted. Beside them, warnings: what works but is
/// probably not meant (`vigild -t` shows them, and nothing is refused).
pub struct Errors {
    list: [ParseError; ERRORS_MAX],
    len: usize,
    dropped: usize,
    warnings: [ParseError; WARNINGS_MAX],
    n_warnings: usize,
    dropped_warnings: usize,
}

/// Warnings kept from one parse (more are not shown).
const WARNINGS_MAX: usize = 16;

impl Default for Errors {
    fn default() -> Self {
        Self::new()
    }
}

impl Errors {
    /// No errors.
    pub const fn new() -> Self {
        Errors {
            list: [ParseError {
                line: 0,
                msg: ArrayStr::new(),
            }; ERRORS_MAX],
            len: 0,
            dropped: 0,
            warnings: [ParseError {
                line: 0,
                msg: ArrayStr::new(),
            }; WARNINGS_MAX],
            n_warnings: 0,
            dropped_warnings: 0,
        }
    }

    /// The recorded errors.
    pub fn iter(&self) -> impl Iterator<Item = &ParseError> {
        self.list.iter().take(self.len)
    }

    /// True if the parse succeeded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of errors found (recorded or not).
    pub fn count(&self) -> usize {
        self.len + self.dropped
    }

    /// Errors found beyond `ERRORS_MAX`.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Forget every error (before a new parse).
    pub fn clear(&mut self) {
        // Only when needed: writing zeros over zeros would make its page
        // of `.bss` resident for nothing.
        if self.len != 0 || self.dropped != 0 || self.n_warnings != 0 {
            self.len = 0;
            self.dropped = 0;
            self.n_warnings = 0;
            self.dropped_warnings = 0;
        }
    }

    /// The recorded warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &ParseError> {
        self.warnings.iter().take(self.n_warnings)
    }

    /// Record a warning (past `WARNINGS_MAX` it is not kept).
    pub fn warn(&mut self, line: u32, msg: fmt::Arguments<'_>) {
        match self.warnings.get_mut(self.n_warnings) {
            Some(slot) => {
                slot.set(line, msg);
                self.n_warnings += 1;
            }
            None => self.dropped_warnings += 1,
        }
    }

    /// Warnings past `WARNINGS_MAX`, not kept.
    pub fn dropped_warnings(&self) -> usize {
        self.dropped_warnings
    }

    /// Put the errors and the warnings in line order (each check runs
    /// in its own pass, so they are found out of order); stable.
    pub fn sort(&mut self) {
        let lists = [
            self.list.get_mut(..self.len),
            self.warnings.get_mut(..self.n_warnings),
        ];
        for list in lists.into_iter().flatten() {
            for i in 1..list.len() {
                let mut j = i;
                while j > 0 && list[j - 1].line > list[j].line {
                    list.swap(j - 1, j);
                    j -= 1;
                }
            }
        }
    }

    /// Record an error; also used by the driver for errors it finds itself
    /// (an unknown user), so that all of them are listed together.
    pub fn push(&mut self, line: u32, msg: fmt::Arguments<'_>) {
        let Some(slot) = self.list.get_mut(self.len) else {
            self.dropped += 1;
            return;
        };
        slot.set(line, msg);
        self.len += 1;
    }
}

/// Parse `text` into `cfg` (both it and `errors` cleared first). On return
/// `errors` holds every problem found; `cfg` is usable only if there are
/// none.
pub fn parse(text: &[u8], cfg: &mut Config, errors: &mut Errors) {
    parse_with_main(text, cfg, errors, None)
}

/// `parse`, plus the service `main` made of `cmd` (`vigild -- CMD ARGS`):
/// a daemon that is not restarted, and the main service of the file.
pub fn parse_with_main(
    text: &[u8],
    cfg: &mut Config,
    errors: &mut Errors,
    cmd: Option<&mut dyn Iterator<Item = &[u8]>>,
) {
    cfg.clear();
    errors.clear();
    let mut p = Parser {
        cfg,
        errors,
        section: Section::None,
        state: SectionState::NEW,
        global_seen: 0,
        global_line: 0,
        listen_total: 0,
        max_services_line: 0,
        global_log: None,
        global_log_digest: 0,
        pipes: 0,
        main: (Str::EMPTY, 0),
    };
    let mut lines = Lines::new(text, 1);
    loop {
        let line_start = lines.next_start();
        let Some((line_no, line)) = lines.next_line() else {
            break;
        };
        if line.is_empty() {
            continue;
        }
        if line[0] == b'[' {
            p.close_section(line_start);
            p.open_section(line, line_no, lines.next_start());
            continue;
        }
        let Some((key, value)) = key_and_value(line) else {
            p.error(
                line_no,
                format_args!("expected \"key = value\" or \"[section]\""),
            );
            continue;
        };
        p.key_value(line_no, key, value);
    }
    p.close_section(text.len());
    if let Some(cmd) = cmd {
        p.add_main(cmd, text.len());
    }
    p.finish(text);
    errors.sort();
}

/// The section the parser is in.
#[derive(Clone, Copy)]
enum Section {
    None,
    Global,
    /// A service section, or a broken header whose keys are skipped
    /// (what the parser tracks in it is the parser's `state`).
    Service(Option<ServiceId>),
}

/// What the parser tracks while inside one service section.
#[derive(Clone, Copy)]
struct SectionState {
    seen: u64,
    digest: u64,
    restart: Option<Restart>,
    prefix_set: bool,
    log: Option<(LogText, u32)>,
    /// The line of `restart_window` (0: not given).
    window_line: u32,
    /// `log_user`, `log_group` and their lines.
    log_user: (Str, u32),
    log_group: (Str, u32),
}

impl SectionState {
    /// At the header of a section.
    const NEW: SectionState = SectionState {
        seen: 0,
        digest: FNV_OFFSET,
        restart: None,
        prefix_set: false,
        log: None,
        window_line: 0,
        log_user: (Str::EMPTY, 0),
        log_group: (Str::EMPTY, 0),
    };
}

/// A `log` value as written, checked; resolved to a `Log` once every
/// service is known.
#[derive(Clone, Copy)]
#[repr(u8)] // the tag first, as a byte: zero bytes are `Unset`
enum LogText {
    /// No `log` key (tag 0: a `Body` of zero bytes has it, so `Config`
    /// stays in `.bss`, and the parser's notes may be given back to the
    /// system as zero pages, see `Config::scratch`).
    Unset,
    Inherit,
    Null,
    Ring(u32),
    /// `service:NAME`.
    Service(Str),
    /// `[options] DIR`: the words of vigil-log's command line.
    Dir(Words),
}

/// Where a service's body is in the text, for the passes over list keys.
/// Kept in the `Config` (not on the stack) so that only the entries of real
/// services are ever touched.
#[derive(Clone, Copy)]
pub(super) struct Body {
    start: u32,
    end: u32,
    first_line: u32,
    prefix_set: bool,
    /// Its own `log` and the line of it.
    log: (LogText, u32),
    /// Some service's output goes into its stdin.
    consumer: bool,
    /// `log_user` and `log_group` with their lines (for the logger of
    /// `log = DIR`).
    log_user: (Str, u32),
    log_group: (Str, u32),
    /// The line of its first `after`.
    after_line: u32,
    /// The keys it has that its mode does not use (bits of `seen`).
    foreign: u64,
}

impl Body {
    pub(super) const EMPTY: Body = Body {
        start: 0,
        end: 0,
        first_line: 0,
        prefix_set: false,
        log: (LogText::Unset, 0),
        consumer: false,
        log_user: (Str::EMPTY, 0),
        log_group: (Str::EMPTY, 0),
        after_line: 0,
        foreign: 0,
    };
}

/// Every key of a service section, space-separated (its position is its bit
/// in a section's `seen` mask). One string, not a table of `&str`: less
/// than half the bytes in the binary.
const SERVICE_KEYS: &str = concat!(
    "exec mode autostart restart backoff backoff_reset ",
    "restart_max restart_window after ready start_timeout ",
    "stop_signal stop_timeout user group dir env umask nofile ",
    "prefix log listen listen_mode backlog max_workers ",
    "max_per_ip drop_timeout procs_min procs_max idle_kill ",
    "log_user log_group contain console",
);

/// The keys of a service section, in the order of `SERVICE_KEYS` (a key's
/// position there is its index in `KEYS`): one jump on a number, not a
/// string comparison per key.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
enum Key {
    Exec,
    Mode,
    Autostart,
    Restart,
    Backoff,
    BackoffReset,
    RestartMax,
    RestartWindow,
    After,
    Ready,
    StartTimeout,
    StopSignal,
    StopTimeout,
    User,
    Group,
    Dir,
    Env,
    Umask,
    Nofile,
    Prefix,
    Log,
    Listen,
    ListenMode,
    Backlog,
    MaxWorkers,
    MaxPerIp,
    DropTimeout,
    ProcsMin,
    ProcsMax,
    IdleKill,
    LogUser,
    LogGroup,
    Contain,
    Console,
}

impl Key {
    /// Its bit in a section's `seen` mask.
    const fn bit(self) -> u64 {
        1 << self as u32
    }
}

const _: () = assert!(word_count(SERVICE_KEYS) == KEYS.len());

const fn word_count(list: &str) -> usize {
    let (bytes, mut i, mut n) = (list.as_bytes(), 0, 1);
    while i < bytes.len() {
        n += (bytes[i] == b' ') as usize;
        i += 1;
    }
    n
}

const KEYS: [Key; 34] = [
    Key::Exec,
    Key::Mode,
    Key::Autostart,
    Key::Restart,
    Key::Backoff,
    Key::BackoffReset,
    Key::RestartMax,
    Key::RestartWindow,
    Key::After,
    Key::Ready,
    Key::StartTimeout,
    Key::StopSignal,
    Key::StopTimeout,
    Key::User,
    Key::Group,
    Key::Dir,
    Key::Env,
    Key::Umask,
    Key::Nofile,
    Key::Prefix,
    Key::Log,
    Key::Listen,
    Key::ListenMode,
    Key::Backlog,
    Key::MaxWorkers,
    Key::MaxPerIp,
    Key::DropTimeout,
    Key::ProcsMin,
    Key::ProcsMax,
    Key::IdleKill,
    Key::LogUser,
    Key::LogGroup,
    Key::Contain,
    Key::Console,
];

/// Why a key's value was refused: `KEY: "VALUE" why`, or `KEY: why`.
enum Refused {
    Value(&'static str),
    Plain(&'static str),
}

fn duration(value: &[u8]) -> Result<u32, Refused> {
    parse_duration(value).ok_or(Refused::Value("is not a duration (use 250ms, 5s, 2m, 1h)"))
}

/// The value of a key that sets one field of the spec and nothing else
/// (found once for all of them: each arm that finds it costs bytes).
fn set_field(spec: &mut ServiceSpec, key: Key, value: &[u8]) -> Result<(), Refused> {
    match key {
        Key::Mode => {
            spec.mode = Mode::from_word(value).ok_or(Refused::Value(
                "is not daemon, activate, accept, pool or oneshot",
            ))?
        }
        Key::Contain => {
            let table = [Contain::Cgroup, Contain::Group];
            spec.contain = lookup("cgroup group", &table, value)
                .ok_or(Refused::Value("is not cgroup or group"))?;
        }
        Key::Autostart => {
            spec.autostart =
                parse_bool(value).ok_or(Refused::Value("is not yes/no/true/false/1/0"))?;
        }
        // The durations: one parse, then the field.
        Key::BackoffReset
        | Key::StartTimeout
        | Key::StopTimeout
        | Key::IdleKill
        | Key::DropTimeout => {
            let ms = duration(value)?;
            // A run this long restarts at once: it must not be nearly zero.
            if key == Key::BackoffReset && ms < MIN_PAUSE_MS {
                return Err(Refused::Plain("must be at least 100ms"));
            }
            *match key {
                Key::BackoffReset => &mut spec.backoff_reset_ms,
                Key::StartTimeout => &mut spec.start_timeout_ms,
                Key::StopTimeout => &mut spec.stop_timeout_ms,
                Key::IdleKill => &mut spec.idle_kill_ms,
                _ => &mut spec.drop_timeout_ms,
            } = ms;
        }
        // The counts, each in its range: one parse, then the field.
        Key::RestartMax
        | Key::MaxPerIp
        | Key::Nofile
        | Key::Backlog
        | Key::MaxWorkers
        | Key::ProcsMin
        | Key::ProcsMax => {
            let (low, high, why) = match key {
                Key::RestartMax | Key::MaxPerIp => (0, u64::from(u32::MAX), "is not a number"),
                Key::Nofile => (1, 0x7fff_ffff, "is not a number of files"),
                Key::Backlog => (1, 65535, "is not a number from 1 to 65535"),
                _ => (
                    1,
                    WORKERS_MAX_U64,
                    "is not a number from 1 to the compiled capacity",
                ),
            };
            let n = parse_u64(value).filter(|n| (low..=high).contains(n));
            *match key {
                Key::RestartMax => &mut spec.restart_max,
                Key::MaxPerIp => &mut spec.max_per_ip,
                Key::Nofile => &mut spec.nofile,
                Key::Backlog => &mut spec.backlog,
                Key::MaxWorkers => &mut spec.max_workers,
                Key::ProcsMin => &mut spec.procs_min,
                _ => &mut spec.procs_max,
            } = n.ok_or(Refused::Value(why))? as u32;
        }
        Key::StopSignal => {
            spec.stop_signal = parse_signal(value).ok_or(Refused::Value("is not a signal"))?;
        }
        Key::Ready => {
            let table = [Ready::None, Ready::Notify];
            let ready = match value.strip_prefix(b"fd:").and_then(parse_u64) {
                Some(n @ (1 | 3..=255)) => Some(Ready::Fd(n as u8)),
                _ => lookup("none notify", &table, value),
            };
            spec.ready = ready.ok_or(Refused::Value(
                "is not none, notify or fd:N (N is 1, stdout, or from 3 to 255)",
            ))?;
        }
        Key::Umask | Key::ListenMode => {
            let mode = parse_octal(value, 0o777)
                .ok_or(Refused::Value("is not an octal mode (e.g. 022 or 0660)"))?;
            match key {
                Key::Umask => spec.umask = mode,
                _ => spec.listen_mode = mode,
            }
        }
        // Keys that the parser stores itself (`service_value`).
        Key::Exec
        | Key::Restart
        | Key::Backoff
        | Key::RestartWindow
        | Key::After
        | Key::User
        | Key::Group
        | Key::Dir
        | Key::Env
        | Key::Prefix
        | Key::Log
        | Key::Listen
        | Key::LogUser
        | Key::LogGroup
        | Key::Console => {}
    }
    Ok(())
}

/// `backoff = FIRST [CAP]`: the first delay and the cap, in ms.
fn backoff(value: &[u8]) -> Result<(u32, u32), Refused> {
    let mut parts = value
        .split(|b| b.is_ascii_whitespace())
        .filter(|p| !p.is_empty());
    let first = parts.next().and_then(parse_duration);
    let cap = match parts.next() {
        Some(text) => parse_duration(text),
        None => Some(30_000),
    };
    let (Some(first), Some(cap), None) = (first, cap, parts.next()) else {
        return Err(Refused::Value(
            "is not \"FIRST CAP\" (two durations, e.g. 100ms 30s)",
        ));
    };
    if first == 0 {
        return Err(Refused::Plain("the delays must be at least 1ms"));
    }
    if first > cap {
        return Err(Refused::Plain("the first delay is longer than the cap"));
    }
    Ok((first, cap))
}

/// The shortest `backoff_reset` (a run this long restarts at once), and
/// the backoff cap below which `vigild -t` warns: with them, a service that
/// crashes at once is restarted at most ten times a second. (The messages
/// that name it say 100ms.)
const MIN_PAUSE_MS: u32 = 100;

/// Environment entries vigild may add to a service's (an accept worker's
/// seven connection variables, socket activation's four).
pub const MODE_ENV_MAX: usize = 8;
/// `env` entries one service may have: the rest of `ENV_MAX` is for
/// vigild's own environment.
const ENV_OWN_MAX: usize = ENV_MAX.saturating_sub(MODE_ENV_MAX);

/// The keys of accept services, of pools, and of every mode that listens.
const ACCEPT_KEYS: u64 = Key::MaxWorkers.bit() | Key::MaxPerIp.bit() | Key::DropTimeout.bit();
const POOL_KEYS: u64 = Key::ProcsMin.bit() | Key::ProcsMax.bit() | Key::IdleKill.bit();
const SOCKET_KEYS: u64 = Key::Backlog.bit() | Key::ListenMode.bit();

/// The keys `mode` does not use (bits of `seen`): a forgotten `mode =
/// accept` shows as a warning at them.
fn foreign_keys(mode: Mode) -> u64 {
    match mode {
        Mode::Accept => POOL_KEYS,
        Mode::Pool => ACCEPT_KEYS,
        Mode::Activate => ACCEPT_KEYS | POOL_KEYS,
        Mode::Daemon | Mode::Oneshot => ACCEPT_KEYS | POOL_KEYS | SOCKET_KEYS,
    }
}

/// The keys of a service section that may repeat, as bits of `seen`.
const LIST_KEYS: u64 = Key::Env.bit() | Key::After.bit() | Key::Listen.bit();

/// Every key of `[vigild]`, as `SERVICE_KEYS`.
const GLOBAL_KEYS: &str = "run_dir prefix log max_services finish crash main";

/// The keys of `[vigild]`, in the order of `GLOBAL_KEYS` (as `Key`).
#[derive(Clone, Copy)]
enum GlobalKey {
    RunDir,
    Prefix,
    Log,
    MaxServices,
    Finish,
    Crash,
    Main,
}

const GLOBALS: [GlobalKey; 7] = [
    GlobalKey::RunDir,
    GlobalKey::Prefix,
    GlobalKey::Log,
    GlobalKey::MaxServices,
    GlobalKey::Finish,
    GlobalKey::Crash,
    GlobalKey::Main,
];

const _: () = assert!(word_count(GLOBAL_KEYS) == GLOBALS.len());

struct Parser<'a> {
    cfg: &'a mut Config,
    errors: &'a mut Errors,
    section: Section,
    /// What is tracked in the service section the parser is in (kept
    /// here, not in `Section`: the parser updates it in place).
    state: SectionState,
    global_seen: u64,
    /// The line of the `[vigild]` header (0: none yet).
    global_line: u32,
    /// `listen` lines of every service so far.
    listen_total: usize,
    max_services_line: u32,
    /// The global `log`, its line, and a digest of its text.
    global_log: Option<(LogText, u32)>,
    global_log_digest: u64,
    /// Pipes and rings counted so far (at most `PIPES_MAX`).
    pipes: usize,
    /// The global `main`: the name and its line (0: none).
    main: (Str, u32),
}

impl Parser<'_> {
    fn error(&mut self, line: u32, msg: fmt::Arguments<'_>) {
        self.errors.push(line, msg);
    }

    /// The arena is full. (Not inlined: it is said in nine places.)
    #[inline(never)]
    fn too_large(&mut self, line: u32) {
        self.error(line, format_args!("configuration too large"));
    }

    /// A `[name]` line: the section it opens.
    #[inline(never)] // See `finish`.
    fn open_section(&mut self, header: &[u8], line: u32, body_start: usize) {
        self.state = SectionState::NEW;
        let Some(name) = header.strip_prefix(b"[").and_then(|h| h.strip_suffix(b"]")) else {
            self.error(line, format_args!("bad section header (expected [name])"));
            self.section = Section::Service(None);
            return;
        };
        let name = trim(name);
        if name == b"vigild" {
            if self.global_line != 0 {
                let first = self.global_line;
                self.error(
                    line,
                    format_args!("duplicate section [vigild] (first on line {first})"),
                );
            }
            self.global_line = line;
            self.section = Section::Global;
            return;
        }
        self.section = Section::Service(None);
        if !is_service_name(name) {
            self.error(
                line,
                format_args!(
                    "bad service name \"{}\" (use A-Z a-z 0-9 _ . -, at most 63)",
                    Lossy(name)
                ),
            );
            return;
        }
        if let Some(first) = self.cfg.find(name) {
            let at = self.cfg.spec(first).line;
            self.error(
                line,
                format_args!(
                    "duplicate service \"{}\" (first defined on line {at})",
                    Lossy(name)
                ),
            );
            return;
        }
        let Ok(name) = self.cfg.arena.push(name) else {
            return self.too_large(line);
        };
        match self.cfg.push_spec(name, line) {
            Ok(id) => {
                self.cfg.bodies.0[id.index()] = Body {
                    start: body_start as u32,
                    end: body_start as u32,
                    first_line: line + 1,
                    ..Body::EMPTY
                };
                self.section = Section::Service(Some(id));
            }
            Err(_) => self.error(
                line,
                format_args!("too many services (compiled capacity {MAX_SERVICES})"),
            ),
        }
    }

    fn close_section(&mut self, end: usize) {
        let (Section::Service(Some(id)), state) = (self.section, self.state) else {
            return;
        };
        let spec = self.cfg.spec_mut(id);
        spec.digest = state.digest;
        spec.restart = state.restart.unwrap_or(match spec.mode {
            Mode::Daemon | Mode::Activate | Mode::Accept | Mode::Pool => Restart::Always,
            Mode::Oneshot => Restart::No,
        });
        let line = spec.line;
        let missing_exec = spec.exec.is_empty();
        // A console service's output is its terminal: the global `log`
        // does not apply (as if it said `inherit`; see `finish`).
        let unset = match spec.console.is_empty() {
            true => LogText::Unset,
            false => LogText::Inherit,
        };
        let foreign = state.seen & foreign_keys(spec.mode);
        let body = &mut self.cfg.bodies.0[id.index()];
        body.end = end as u32;
        body.foreign = foreign;
        body.prefix_set = state.prefix_set;
        body.log = state.log.unwrap_or((unset, 0));
        (body.log_user, body.log_group) = (state.log_user, state.log_group);
        if missing_exec && state.seen & Key::Exec.bit() == 0 {
            self.error(line, format_args!("service has no exec"));
        }
        let spec = self.cfg.spec(id);
        if spec.restart_max > 0 && spec.restart_window_ms == 0 {
            self.error(
                state.window_line,
                format_args!(
                    "restart_window: 0 with restart_max counts no failure (give a window, e.g. 60s)"
                ),
            );
        }
        self.section = Section::None;
    }

    /// One `key = value` line, in the section the parser is in.
    #[inline(never)] // See `finish`.
    fn key_value(&mut self, line: u32, key: &[u8], value: &[u8]) {
        match self.section {
            Section::None => self.error(
                line,
                format_args!("\"{}\" outside of a section", Lossy(key)),
            ),
            Section::Global => {
                let Some(bit) = self.check_key(line, key, GLOBAL_KEYS, (self.global_seen, 0))
                else {
                    return;
                };
                self.global_seen |= bit;
                // check_key gives the bit of a key of GLOBAL_KEYS.
                if let Some(&which) = GLOBALS.get(bit.trailing_zeros() as usize) {
                    self.global_key(line, which, value);
                }
            }
            Section::Service(id) => {
                let Some(bit) =
                    self.check_key(line, key, SERVICE_KEYS, (self.state.seen, LIST_KEYS))
                else {
                    return;
                };
                let state = &mut self.state;
                state.seen |= bit;
                state.digest = fnv(fnv(fnv(state.digest, key), b"="), value);
                // check_key gives the bit of a key of SERVICE_KEYS.
                if let (Some(id), Some(&which)) = (id, KEYS.get(bit.trailing_zeros() as usize)) {
                    self.service_key(line, id, (which, key), value);
                }
            }
        }
    }

    /// Known key, not a duplicate (unless `repeatable`) → its bit.
    fn check_key(
        &mut self,
        line: u32,
        key: &[u8],
        keys: &'static str,
        (seen, repeatable): (u64, u64),
    ) -> Option<u64> {
        let Some(index) = word_index(keys, key) else {
            self.error(line, format_args!("unknown key \"{}\"", Lossy(key)));
            return None;
        };
        let bit = 1u64 << index;
        if seen & bit & !repeatable != 0 {
            self.error(line, format_args!("{}: duplicate key", Lossy(key)));
            return None;
        }
        Some(bit)
    }

    fn global_key(&mut self, line: u32, key: GlobalKey, value: &[u8]) {
        match key {
            GlobalKey::RunDir => match is_abs_path(value) {
                true => self.cfg.global.run_dir = self.store(line, value),
                false => self.refuse(line, b"run_dir", value, "is not an absolute path"),
            },
            GlobalKey::Prefix => self.cfg.global.prefix = self.words(line, "prefix", value).unwrap_or_default(),
            GlobalKey::Log => match self.log(line, value) {
                Some(LogText::Dir(_)) => self.error(
                    line,
                    format_args!("log: a DIR is set per service (each has its own logger)"),
                ),
                text => {
                    self.global_log = text.map(|text| (text, line));
                    self.global_log_digest = fnv(FNV_OFFSET, value);
                }
            },
            GlobalKey::MaxServices => match parse_u64(value) {
                Some(n @ 1..) if n <= MAX_SERVICES as u64 => {
                    self.cfg.global.max_services = n as u32;
                    self.max_services_line = line;
                }
                _ => self.error(
                    line,
                    format_args!("max_services: \"{}\" is not a number from 1 to the compiled capacity {MAX_SERVICES}", Quoted(value)),
                ),
            },
            GlobalKey::Finish | GlobalKey::Crash => {
                let crash = matches!(key, GlobalKey::Crash);
                let name = if crash { "crash" } else { "finish" };
                let words = self.words(line, name, value).unwrap_or_default();
                // `finish` gets one more word, the action; `crash` is
                // executed without a PATH search.
                let why = match () {
                    _ if words.len() >= ARGV_MAX => "has too many words",
                    _ if crash && !value.starts_with(b"/") => "is not an absolute path",
                    _ => "",
                };
                if !why.is_empty() {
                    return self.refuse(line, name.as_bytes(), value, why);
                }
                match crash {
                    true => self.cfg.global.crash = words,
                    false => self.cfg.global.finish = words,
                }
            }
            GlobalKey::Main => self.main = (self.store(line, value), line),
        }
    }

    fn service_key(&mut self, line: u32, id: ServiceId, (which, key): (Key, &[u8]), value: &[u8]) {
        // One place formats every refusal (each its own `format_args!`
        // would cost the binary kilobytes).
        match self.service_value(line, id, which, value) {
            Ok(()) => {}
            Err(Refused::Value(why)) => self.refuse(line, key, value, why),
            Err(Refused::Plain(why)) => {
                self.error(line, format_args!("{}: {}", Lossy(key), Plain(why)))
            }
        }
    }

    /// `KEY: "VALUE" why`, the form of most refusals.
    #[inline(never)]
    fn refuse(&mut self, line: u32, key: &[u8], value: &[u8], why: &str) {
        self.error(
            line,
            format_args!("{}: \"{}\" {}", Lossy(key), Quoted(value), Plain(why)),
        );
    }

    fn service_value(
        &mut self,
        line: u32,
        id: ServiceId,
        key: Key,
        value: &[u8],
    ) -> Result<(), Refused> {
        match key {
            Key::Exec => match self.words(line, "exec", value) {
                Some(words) if words.is_empty() => return Err(Refused::Plain("no program given")),
                Some(words) => {
                    let spec = self.cfg.spec_mut(id);
                    (spec.exec, spec.exec_line) = (words, line);
                }
                None => {}
            },
            Key::Restart => {
                let table = [Restart::Always, Restart::OnFailure, Restart::No];
                self.state.restart = Some(
                    lookup("always on-failure no", &table, value)
                        .ok_or(Refused::Value("is not always, on-failure or no"))?,
                );
            }
            Key::Backoff => {
                let (first, cap) = backoff(value)?;
                if cap < MIN_PAUSE_MS {
                    self.errors.warn(
                        line,
                        format_args!("backoff: a cap below 100ms restarts a crashing service up to {} times a second", 1000 / cap),
                    );
                }
                let spec = self.cfg.spec_mut(id);
                (spec.backoff_first_ms, spec.backoff_cap_ms) = (first, cap);
            }
            Key::RestartWindow => {
                self.state.window_line = line;
                self.cfg.spec_mut(id).restart_window_ms = duration(value)?
            }
            Key::User | Key::Group | Key::LogUser | Key::LogGroup => {
                if !is_account_name(value) {
                    return Err(Refused::Value("is not a user or group name"));
                }
                let s = self.store(line, value);
                let spec = self.cfg.spec_mut(id);
                match key {
                    Key::User => (spec.user, spec.user_line) = (s, line),
                    Key::Group => (spec.group, spec.group_line) = (s, line),
                    Key::LogUser => self.state.log_user = (s, line),
                    _ => self.state.log_group = (s, line),
                }
            }
            Key::Dir | Key::Console => {
                let (path, why) = match key {
                    Key::Dir => (
                        is_abs_path(value).then_some(value),
                        "is not an absolute path",
                    ),
                    _ => (tty_path(value), "is not yes, no or /dev/PATH"),
                };
                let path = self.store(line, path.ok_or(Refused::Value(why))?);
                let spec = self.cfg.spec_mut(id);
                match key {
                    Key::Dir => spec.dir = path,
                    _ => spec.console = path,
                }
            }
            Key::Prefix => {
                self.state.prefix_set = true;
                self.cfg.spec_mut(id).prefix =
                    self.words(line, "prefix", value).unwrap_or_default();
            }
            Key::Log => {
                let text = self.log(line, value).unwrap_or(LogText::Null);
                self.state.log = Some((text, line));
            }
            // Stored contiguously when the section closes, checked then.
            Key::Env | Key::After | Key::Listen => {}
            _ => set_field(self.cfg.spec_mut(id), key, value)?,
        }
        Ok(())
    }

    fn log(&mut self, line: u32, value: &[u8]) -> Option<LogText> {
        let why = if let Some(size) = value.strip_prefix(b"ring:") {
            match parse_size(size) {
                Some(n @ 1..) if n < RING_BYTES as u64 => return Some(LogText::Ring(n as u32)),
                _ => "ring:SIZE needs a size from 1 to the compiled RING_BYTES",
            }
        } else if let Some(name) = value.strip_prefix(b"service:") {
            match is_service_name(name) {
                true => return Some(LogText::Service(self.store(line, name))),
                false => "service:NAME needs a service name",
            }
        } else {
            if let Some(text) = lookup("inherit null", &[LogText::Inherit, LogText::Null], value) {
                return Some(text);
            }
            // The logger's command line, stored as its exec will use it.
            let mark = self.cfg.arena.mark();
            if self.cfg.arena.push(b"vigil-log").is_err() {
                self.too_large(line);
                return None;
            }
            let words = self.words(line, "log", value)?;
            let arena = &self.cfg.arena;
            match parse_options(&mut arena.words(words).map(without_nul)) {
                Ok(o) if is_abs_path(o.dir) => {
                    return Some(LogText::Dir(
                        arena.words_since(mark, words.len() as u16 + 1),
                    ));
                }
                Ok(_) => "DIR must be an absolute path",
                Err(why) => why,
            }
        };
        self.error(
            line,
            format_args!(
                "log: \"{}\": {} (inherit, null, ring:SIZE, service:NAME or {})",
                Quoted(value),
                Plain(why),
                Plain(USAGE)
            ),
        );
        None
    }

    fn store(&mut self, line: u32, value: &[u8]) -> Str {
        match self.cfg.arena.push(value) {
            Ok(s) => s,
            Err(_) => {
                self.too_large(line);
                Str::EMPTY
            }
        }
    }

    /// The words of `value`, or `None` after reporting why not.
    fn words(&mut self, line: u32, key: &str, value: &[u8]) -> Option<Words> {
        match split_words(value, &mut self.cfg.arena) {
            Ok(words) => return Some(words),
            Err(SplitError::Bad(why)) => {
                self.error(line, format_args!("{}: {}", Plain(key), Plain(why)))
            }
            Err(SplitError::Full) => self.too_large(line),
        }
        None
    }

    /// The passes that need every service: list keys, inherited globals,
    /// `max_services`, `after` resolution and the start order.
    // Not inlined (nor are resolve_log, order, key_value, open_section):
    // in the one function the whole parse would be, each keeps its
    // registers and stack to itself, which costs the binary hundreds of
    // bytes less.
    #[inline(never)]
    fn finish(&mut self, text: &[u8]) {
        let (main, line) = self.main;
        if line != 0 && self.cfg.global.main == 0 {
            match self.cfg.find(self.cfg.arena.get(main)) {
                Some(id) => self.cfg.global.main = id.0 + 1,
                None => self.error(line, format_args!("main: unknown service")),
            }
        }
        let global = self.cfg.global;
        if global.max_services != 0 && self.cfg.len() > global.max_services as usize {
            let first_over = self.cfg.spec(ServiceId(global.max_services as u16)).line;
            let (max, at) = (global.max_services, self.max_services_line);
            self.error(
                first_over,
                format_args!("more services than max_services = {max} (line {at})"),
            );
        }
        let global_prefix = fnv(FNV_OFFSET, self.cfg.arena.words_bytes(global.prefix));
        for id in self.cfg.ids() {
            let body = self.cfg.bodies.0[id.index()];
            let mut entries = 0;
            let env = self.list_pass(text, body, b"env", |p, line, value| {
                entries += 1;
                if entries == ENV_OWN_MAX + 1 {
                    p.error(
                        line,
                        format_args!("env: more than {ENV_OWN_MAX} entries (the compiled ENV_MAX less {MODE_ENV_MAX} for what vigild sets)"),
                    );
                }
                if entries > ENV_OWN_MAX {
                    return 0;
                }
                if !is_env_entry(value) {
                    p.refuse(line, b"env", value, "is not KEY=VALUE");
                } else if p.cfg.arena.push(value).is_err() {
                    p.too_large(line);
                } else {
                    return 1;
                }
                0
            });
            let mark = self.cfg.arena.mark();
            let mut count = 0;
            let mut lines = [0u32; LISTENERS_MAX];
            // A section with a `listen` that was refused has its error at
            // that line already: no second one saying it has none.
            let mut written = false;
            let listen = self.list_pass(text, body, b"listen", |p, line, value| {
                written = true;
                let addr = parse_listen(value);
                // Two lines for one address could never both be bound.
                let taken = |a: &Listen<'_>| {
                    let mine = p.cfg.arena.words(p.cfg.arena.words_since(mark, count));
                    p.cfg
                        .ids()
                        .take(id.index())
                        .any(|o| p.cfg.listens(o).any(|b| b == *a))
                        || mine
                            .filter_map(|w| parse_listen(without_nul(w)).ok())
                            .any(|b| b == *a)
                };
                if let Err(why) = addr {
                    p.error(
                        line,
                        format_args!("listen: \"{}\": {}", Quoted(value), Plain(why)),
                    );
                    return 0;
                }
                // Past the capacity nothing more is stored (nor compared:
                // parsing stays linear however many lines there are).
                p.listen_total += 1;
                if p.listen_total > LISTENERS_MAX {
                    p.error(
                        line,
                        format_args!("listen: more than {LISTENERS_MAX} sockets in all (the compiled LISTENERS_MAX)"),
                    );
                    return 0;
                }
                if addr.as_ref().is_ok_and(taken) {
                    // Kept all the same: the section has its listen.
                    p.refuse(line, b"listen", value, "is used twice");
                }
                if p.cfg.arena.push(value).is_err() {
                    p.too_large(line);
                } else {
                    // At most LISTENERS_MAX get here (above).
                    if let Some(slot) = lines.get_mut(usize::from(count)) {
                        *slot = line;
                    }
                    count += 1;
                    return 1;
                }
                0
            });
            let lines_mark = self.cfg.arena.mark();
            for line in lines.iter().take(usize::from(count)) {
                if self.cfg.arena.push_raw(&line.to_le_bytes()).is_err() {
                    self.too_large(*line);
                }
            }
            let listen_lines = self.cfg.arena.str_since(lines_mark);
            let spec = self.cfg.spec_mut(id);
            spec.env = env;
            spec.listen = listen;
            spec.listen_lines = listen_lines;
            let (mode, line, has_listen) = (spec.mode, spec.line, !listen.is_empty());
            match (mode.listens(), has_listen) {
                (true, false) if !written => self.error(
                    line,
                    format_args!(
                        "mode {} needs at least one listen address",
                        Plain(mode.as_str())
                    ),
                ),
                // At its first `listen` line.
                (false, true) => self.error(
                    lines[0],
                    format_args!(
                        "listen: only activate, accept and pool services listen (mode is {})",
                        Plain(mode.as_str())
                    ),
                ),
                _ => {}
            }
            let spec = *self.cfg.spec(id);
            if mode == Mode::Pool && spec.procs_min > spec.procs_max {
                let (min, max) = (spec.procs_min, spec.procs_max);
                self.error(
                    line,
                    format_args!("procs_min = {min} is more than procs_max = {max}"),
                );
            }
            // Its errors are told at the `ready` line.
            let ready_line = KeyLines::new(text, &body, b"ready")
                .next_value()
                .map_or(line, |(at, _)| at);
            match (mode, spec.ready) {
                (_, Ready::None) | (Mode::Daemon, _) => {}
                (Mode::Activate, Ready::Notify) => {}
                (Mode::Activate, Ready::Fd(n)) if n == 1 || usize::from(n) >= 3 + listen.len() => {}
                (Mode::Activate, Ready::Fd(n)) => self.error(
                    ready_line,
                    format_args!(
                        "ready: fd:{} is taken by a listening socket (fds from 3)",
                        u32::from(n)
                    ),
                ),
                (Mode::Accept | Mode::Oneshot, _) => self.error(
                    ready_line,
                    format_args!("ready: {} services have no readiness", Plain(mode.as_str())),
                ),
                (Mode::Pool, _) => self.error(
                    ready_line,
                    format_args!("ready: a pool is up while its workers run; they report X_AVAILABLE on NOTIFY_SOCKET"),
                ),
            }
            // Keys of another mode: said at their lines, not refused (they
            // change nothing here).
            let mut foreign = body.foreign;
            while foreign != 0 {
                let index = foreign.trailing_zeros() as usize;
                foreign &= foreign - 1;
                let key = word(SERVICE_KEYS, index).unwrap_or_default();
                let at = KeyLines::new(text, &body, key.as_bytes())
                    .next_value()
                    .map_or(line, |(at, _)| at);
                self.errors.warn(
                    at,
                    format_args!("{}: not used by mode {}", Plain(key), Plain(mode.as_str())),
                );
            }
            // A console service's terminal is its stdin, stdout and
            // stderr: a `log` of its own, or its stdout as the readiness
            // pipe, could not be, and a mode with sockets has other stdio.
            if !spec.console.is_empty()
                && (body.log.1 != 0
                    || spec.ready == Ready::Fd(1)
                    || !matches!(mode, Mode::Daemon | Mode::Oneshot))
            {
                // At the `log` line, else at the section's.
                self.error(
                    body.log.1.max(line),
                    format_args!("console: for a daemon or oneshot without log or ready = fd:1"),
                );
            }
            let spec = self.cfg.spec_mut(id);
            if !body.prefix_set {
                spec.prefix = global.prefix;
            }
            // What a service inherits is part of its section, as far as a
            // reload is concerned.
            if !body.prefix_set {
                spec.digest = fnv(spec.digest, &global_prefix.to_le_bytes());
            }
            if matches!(body.log.0, LogText::Unset) {
                spec.digest = fnv(spec.digest, &self.global_log_digest.to_le_bytes());
            }
            if spec.prefix.len() + spec.exec.len() > ARGV_MAX {
                let line = spec.line;
                self.error(
                    line,
                    format_args!("exec: more than {ARGV_MAX} words with the prefix"),
                );
            }
            self.resolve_log(id, body);
        }
        self.one_logger_per_directory();
        // A reader's stdin is a log pipe or /dev/null: a reload that changes
        // which restarts it.
        for id in self.cfg.ids() {
            if self.cfg.bodies.0[id.index()].consumer {
                let spec = self.cfg.spec_mut(id);
                spec.digest = fnv(spec.digest, b"stdin=log");
            }
        }
        for id in self.cfg.ids() {
            let body = self.cfg.bodies.0[id.index()];
            let mark = self.cfg.arena.mark();
            self.list_pass(text, body, b"after", |p, line, value| {
                let mut count = 0;
                let first = &mut p.cfg.bodies.0[id.index()].after_line;
                if *first == 0 {
                    *first = line;
                }
                for name in value
                    .split(|&b| b.is_ascii_whitespace() || b == b',')
                    .filter(|n| !n.is_empty())
                {
                    match p.cfg.find(name) {
                        Some(dep) if dep == id => p.error(
                            line,
                            format_args!("after: a service cannot wait for itself"),
                        ),
                        Some(dep) => match p.cfg.arena.push_raw(&dep.0.to_le_bytes()) {
                            Ok(()) => count += 1,
                            Err(_) => p.too_large(line),
                        },
                        None => p.error(
                            line,
                            format_args!("after: unknown service \"{}\"", Lossy(name)),
                        ),
                    }
                }
                count
            });
            // A service's reader (its logger, the service of
            // `service:NAME`) starts before it and stops after it.
            if let Log::Pipe(reader) = self.cfg.spec(id).log
                && self.cfg.arena.push_raw(&reader.0.to_le_bytes()).is_err()
            {
                let line = self.cfg.spec(id).line;
                self.too_large(line);
            }
            self.cfg.spec_mut(id).after = self.cfg.arena.str_since(mark);
        }
        self.order();
    }

    /// Resolve `id`'s `log` (its own, else the global one): the logger that
    /// `DIR` adds, the service of `service:NAME`, the place of a ring.
    #[inline(never)] // See `finish`.
    fn resolve_log(&mut self, id: ServiceId, body: Body) {
        let own = body.log;
        let inherited = matches!(own.0, LogText::Unset);
        if !matches!(own.0, LogText::Dir(_)) {
            for (key, (_, line)) in [("log_user", body.log_user), ("log_group", body.log_group)] {
                if line != 0 {
                    self.error(
                        line,
                        format_args!("{}: only for log = DIR (a logger of its own)", Plain(key)),
                    );
                }
            }
        }
        let (text, line) = match inherited {
            true => self.global_log.unwrap_or(own),
            false => own,
        };
        // One place formats the refusals (each its own `format_args!`
        // would cost the binary more).
        match self.resolved_log(id, (text, line), inherited, body) {
            Ok(Some(log)) => self.cfg.spec_mut(id).log = log,
            Ok(None) => {}
            Err(why) => self.error(line, format_args!("log: {}", Plain(why))),
        }
    }

    fn resolved_log(
        &mut self,
        id: ServiceId,
        (text, line): (LogText, u32),
        inherited: bool,
        body: Body,
    ) -> Result<Option<Log>, &'static str> {
        let log = match text {
            LogText::Unset | LogText::Inherit => Log::Inherit,
            LogText::Null => Log::Null,
            LogText::Ring(size) => {
                // SIZE and a spare byte (see the driver's `ring_span`).
                let offset = self.cfg.ring_bytes;
                if u64::from(offset) + u64::from(size) + 1 > RING_BYTES as u64 {
                    return Err("the rings take more than the compiled RING_BYTES");
                }
                self.count_pipe(line);
                let n = self.cfg.ring_count;
                // count_pipe refused more than PIPES_MAX rings.
                let Some(place) = self.cfg.rings.get_mut(usize::from(n)) else {
                    return Ok(None);
                };
                *place = RingPlace { offset, size };
                self.cfg.ring_bytes += size + 1;
                self.cfg.ring_count += 1;
                Log::Ring(n)
            }
            LogText::Service(name) => match self.cfg.find(self.cfg.arena.get(name)) {
                // The reader of everyone's output (a global `service:NAME`)
                // keeps its own where it was.
                Some(reader) if reader == id && inherited => return Ok(None),
                Some(reader) if reader == id => {
                    return Err("a service cannot read its own output");
                }
                Some(reader)
                    if self.cfg.spec(reader).mode == Mode::Accept
                        || !self.cfg.spec(reader).console.is_empty() =>
                {
                    return Err(
                        "accept workers read their connection, a console service its terminal: no log",
                    );
                }
                Some(reader) => {
                    if !self.cfg.bodies.0[reader.index()].consumer {
                        self.cfg.bodies.0[reader.index()].consumer = true;
                        self.count_pipe(line);
                    }
                    Log::Pipe(reader)
                }
                None => {
                    let name = Lossy(self.cfg.arena.get(name));
                    self.errors
                        .push(line, format_args!("log: unknown service \"{name}\""));
                    return Ok(None);
                }
            },
            LogText::Dir(exec) => match self.add_logger(id, exec, line, body) {
                Some(logger) => Log::Pipe(logger),
                None => return Ok(None),
            },
        };
        Ok(Some(log))
    }

    /// Two loggers in one directory would rotate each other's files away
    /// (vigil-log locks its directory; this says so before anything runs).
    fn one_logger_per_directory(&mut self) {
        let cfg = &*self.cfg;
        let dir_of = |id: ServiceId| cfg.arena.words(cfg.spec(id).exec).last().map(without_nul);
        // `/a//b/./c/` is `/a/b/c` (a symlink's other name is caught by
        // vigil-log's lock when it runs).
        let same = |a: &[u8], b: &[u8]| path_parts(a).eq(path_parts(b));
        let loggers = || cfg.ids().filter(|&id| cfg.is_logger(id));
        for (n, id) in loggers().enumerate() {
            let Some(dir) = dir_of(id) else { continue };
            let shared = |o| dir_of(o).is_some_and(|other| same(dir, other));
            if let Some(first) = loggers().take(n).find(|&o| shared(o)) {
                let (line, at) = (cfg.spec(id).line, cfg.spec(first).line);
                let name = Lossy(cfg.name(first));
                self.errors.push(
                    line,
                    format_args!("log: {} is the log directory of \"{name}\" (line {at}) too: one logger per directory", Lossy(dir)),
                );
            }
        }
    }

    /// One more pipe for vigild to hold.
    fn count_pipe(&mut self, line: u32) {
        self.pipes += 1;
        if self.pipes == PIPES_MAX + 1 {
            self.error(
                line,
                format_args!(
                    "log: more than {PIPES_MAX} log pipes and rings (the compiled PIPES_MAX)"
                ),
            );
        }
    }

    /// Add the service `NAME/log` that runs `exec` (vigil-log) for `id`.
    /// It runs as `log_user` and `log_group` if given, else as the service's
    /// `user` and `group`: never as root for a service that is not.
    fn add_logger(
        &mut self,
        id: ServiceId,
        exec: Words,
        line: u32,
        body: Body,
    ) -> Option<ServiceId> {
        let mut buf = [0u8; 72];
        let mut name = SliceWriter::new(&mut buf);
        // A service name has at most 63 bytes: both fit.
        let _ = name.push(self.cfg.name(id));
        let _ = name.push(b"/log");
        let name = self.store(line, name.bytes());
        let digest = fnv(FNV_OFFSET, self.cfg.arena.words_bytes(exec));
        let Ok(logger) = self.cfg.push_spec(name, line) else {
            self.error(
                line,
                format_args!(
                    "too many services with the loggers (compiled capacity {MAX_SERVICES})"
                ),
            );
            return None;
        };
        let of = *self.cfg.spec(id);
        let (user, group) = match (body.log_user, body.log_group) {
            ((_, 0), (_, 0)) => ((of.user, of.user_line), (of.group, of.group_line)),
            ((_, 0), group) => ((of.user, of.user_line), group),
            (user, group) => (user, group),
        };
        let arena = &self.cfg.arena;
        let digest = fnv(fnv(digest, arena.get(user.0)), arena.get(group.0));
        let spec = self.cfg.spec_mut(logger);
        (spec.exec, spec.digest) = (exec, digest);
        (spec.user, spec.user_line) = user;
        (spec.group, spec.group_line) = group;
        self.cfg.bodies.0[logger.index()] = Body {
            consumer: true,
            ..Body::EMPTY
        };
        self.count_pipe(line);
        Some(logger)
    }

    /// Add the service `main` of `vigild -- CMD ARGS` (its errors have no
    /// line: they are about the command line).
    fn add_main(&mut self, cmd: &mut dyn Iterator<Item = &[u8]>, end: usize) {
        if let Some(id) = self.cfg.find(b"main") {
            let at = self.cfg.spec(id).line;
            return self.error(
                0,
                format_args!("-- CMD is the service \"main\", also defined on line {at}"),
            );
        }
        let name = self.store(0, b"main");
        let mark = self.cfg.arena.mark();
        let mut count = 0;
        let mut digest = FNV_OFFSET;
        for word in cmd {
            digest = fnv(digest, word);
            if self.cfg.arena.push(word).is_err() {
                return self.too_large(0);
            }
            count += 1;
        }
        let exec = self.cfg.arena.words_since(mark, count);
        let Ok(id) = self.cfg.push_spec(name, 0) else {
            return self.error(
                0,
                format_args!("too many services (compiled capacity {MAX_SERVICES})"),
            );
        };
        let spec = self.cfg.spec_mut(id);
        (spec.exec, spec.restart, spec.digest) = (exec, Restart::No, digest);
        if self.main.1 != 0 {
            return self.error(
                self.main.1,
                format_args!("main: -- CMD is the main service"),
            );
        }
        self.cfg.bodies.0[id.index()] = Body {
            start: end as u32,
            end: end as u32,
            ..Body::EMPTY
        };
        self.cfg.global.main = id.0 + 1;
    }

    /// Run `each` on every `key = value` line of a body; the words it pushes
    /// form one contiguous run.
    fn list_pass(
        &mut self,
        text: &[u8],
        body: Body,
        key: &[u8],
        mut each: impl FnMut(&mut Self, u32, &[u8]) -> u16,
    ) -> Words {
        let mark = self.cfg.arena.mark();
        let mut count: u16 = 0;
        let mut lines = KeyLines::new(text, &body, key);
        while let Some((line, value)) = lines.next_value() {
            count = count.saturating_add(each(self, line, value));
        }
        self.cfg.arena.words_since(mark, count)
    }

    /// Order services so that each comes after its dependencies; what cannot
    /// be placed is on a cycle.
    #[inline(never)] // See `finish`.
    fn order(&mut self) {
        let n = self.cfg.len();
        let mut placed = [false; MAX_SERVICES];
        let mut done = 0;
        loop {
            let before = done;
            for id in self.cfg.ids() {
                if !placed[id.index()] && self.cfg.after(id).all(|dep| placed[dep.index()]) {
                    placed[id.index()] = true;
                    // At most one place per service.
                    if let Some(slot) = self.cfg.order.get_mut(done) {
                        *slot = id.0;
                    }
                    done += 1;
                }
            }
            if done == n || done == before {
                break;
            }
        }
        // Each cycle once, with its path, at the line of the first
        // service's `after` (else `log`: a reader starts first).
        let mut told = [false; MAX_SERVICES];
        let next = |id: ServiceId| {
            self.cfg
                .after(id)
                .find(|d| !placed[d.index()])
                .unwrap_or(id)
        };
        for start in self.cfg.ids().filter(|id| !placed[id.index()]) {
            // Every service left waits for one left: after n steps the
            // walk is on a cycle.
            let on = (0..n).fold(start, |at, _| next(at));
            // Told from its first service in the file.
            let mut first = on;
            let mut at = next(on);
            while at != on {
                first = if at.0 < first.0 { at } else { first };
                at = next(at);
            }
            if told[first.index()] {
                continue;
            }
            let mut path = ArrayStr::<200>::new();
            let mut at = first;
            loop {
                told[at.index()] = true;
                let _ = write!(path, "{} -> ", Lossy(self.cfg.name(at)));
                at = next(at);
                if at == first {
                    break;
                }
            }
            let body = &self.cfg.bodies.0[first.index()];
            let line = [body.after_line, body.log.1, self.cfg.spec(first).line];
            let line = line.into_iter().find(|&l| l != 0).unwrap_or_default();
            let name = Lossy(self.cfg.name(first));
            self.errors.push(
                line,
                format_args!("dependency cycle: {}{name}", Plain(path.as_str())),
            );
        }
    }
}

/// The lines of a text, numbered, each without its comment and the
/// blanks it begins with. (Not inlined: one copy of this loop serves the
/// parse and every list pass.)
struct Lines<'a> {
    text: &'a [u8],
    /// Where the next line begins (past the end: no more lines).
    next: usize,
    /// The number of the next line.
    number: u32,
}

impl<'a> Lines<'a> {
    fn new(text: &'a [u8], first_number: u32) -> Self {
        Lines {
            text,
            next: 0,
            number: first_number,
        }
    }

    /// The next line and its number.
    #[inline(never)]
    fn next_line(&mut self) -> Option<(u32, &'a [u8])> {
        let rest = self.text.get(self.next..)?;
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let number = self.number;
        (self.next, self.number) = (self.next + end + 1, number + 1);
        let line = strip_comment(&rest[..end]).trim_ascii_start();
        Some((number, line))
    }

    /// Where the next line begins (the end of the text after the last).
    fn next_start(&self) -> usize {
        self.next.min(self.text.len())
    }
}

/// The `key = value` lines of one key in a service's body: the line and
/// the value of each. (Not inlined: one copy serves every list pass.)
struct KeyLines<'a> {
    lines: Lines<'a>,
    key: &'a [u8],
}

impl<'a> KeyLines<'a> {
    #[inline(never)]
    fn new(text: &'a [u8], body: &Body, key: &'a [u8]) -> Self {
        let text = text.get(body.start as usize..body.end as usize);
        let lines = Lines::new(text.unwrap_or_default(), body.first_line);
        KeyLines { lines, key }
    }

    /// The next line of the key and its value.
    #[inline(never)]
    fn next_value(&mut self) -> Option<(u32, &'a [u8])> {
        while let Some((line, text)) = self.lines.next_line() {
            if let Some((key, value)) = key_and_value(text)
                && key == self.key
            {
                return Some((line, value));
            }
        }
        None
    }
}

/// The key and the value of a `key = value` line, trimmed.
fn key_and_value(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let eq = line.iter().position(|&b| b == b'=')?;
    Some((trim(&line[..eq]), line[eq + 1..].trim_ascii_start()))
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, enough to tell whether a section changed between two loads.
fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash ^ 0xff).wrapping_mul(0x0000_0100_0000_01b3)
}

/// The terminal `console = VALUE` names (empty: none), if it is one:
/// only a device, since a path elsewhere (or climbing out of /dev) would
/// have root open whatever file it names as the service's terminal.
#[inline(never)]
fn tty_path(value: &[u8]) -> Option<&[u8]> {
    match parse_bool(value) {
        Some(false) => Some(b""),
        Some(true) => Some(b"/dev/console"),
        None => (value.starts_with(b"/dev/") && !climbs(value)).then_some(value),
    }
}

/// The components of the path `dir`, without empty ones and `.`.
fn path_parts(dir: &[u8]) -> impl Iterator<Item = &[u8]> {
    dir.split(|&b| b == b'/')
        .filter(|p| !p.is_empty() && *p != b".")
}

#[cfg(test)]
mod tests {
    use super::{KEYS, SERVICE_KEYS};
    use crate::fixed::{ArrayStr, word};
    use core::fmt::Write;

    /// `KEYS[i]` is the key spelled as word `i` of `SERVICE_KEYS`, and
    /// its bit is bit `i`.
    #[test]
    fn keys_follow_service_keys() {
        for (i, key) in KEYS.iter().enumerate() {
            let name = word(SERVICE_KEYS, i).unwrap();
            let mut camel = ArrayStr::<32>::new();
            for part in name.split('_') {
                let (first, rest) = part.split_at(1);
                let _ = write!(camel, "{}{rest}", first.to_ascii_uppercase());
            }
            let mut debug = ArrayStr::<32>::new();
            let _ = write!(debug, "{key:?}");
            assert_eq!(debug.as_str(), camel.as_str());
            // Its bit in `seen` is the one of its word.
            assert_eq!(key.bit(), 1 << i);
        }
        assert_eq!(word(SERVICE_KEYS, KEYS.len()), None);
    }
}

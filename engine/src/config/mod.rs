//! The configuration: a tiny line-based INI file (vigild.conf(5)) parsed into fixed
//! tables. Strings live once in the configuration's `Arena`, so a service costs
//! its spec plus the bytes it really uses, never a worst-case buffer.
//!
//! Imports only `limits`, `fixed`, `event`; no I/O: the driver reads the file.

mod listen;
mod parse;
mod tables;
mod value;

pub use listen::{Listen, ListenText, UNIX_PATH_MAX, parse_listen};
pub use parse::{Errors, MODE_ENV_MAX, ParseError, parse, parse_with_main};
pub(crate) use value::is_service_name;
pub use value::{DurationText, parse_duration};

use crate::fixed::{Arena, ServiceId, Str, Words, ZeroablePart, lookup};
use crate::limits::{MAX_SERVICES, PIPES_MAX};

/// How a service is run (`mode` in vigild.conf(5)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Long-running; restarted by policy.
    Daemon = 0,
    /// Runs once; `up` after exit 0.
    Oneshot,
    /// Started on the first connection, with the listening sockets.
    Activate,
    /// vigild accepts; one worker per connection.
    Accept,
    /// Preforked workers that accept by themselves (dovecot's master).
    Pool,
}

impl Mode {
    /// The words of the modes, in the order of their numbers.
    const WORDS: &str = "daemon oneshot activate accept pool";

    /// The mode spelled `word` in the config.
    pub(crate) fn from_word(word: &[u8]) -> Option<Mode> {
        use Mode::*;
        lookup(
            Mode::WORDS,
            &[Daemon, Oneshot, Activate, Accept, Pool],
            word,
        )
    }

    /// The word used in the config and the status file.
    pub fn as_str(self) -> &'static str {
        crate::fixed::word(Mode::WORDS, self as usize).unwrap_or_default()
    }

    /// True for the modes that have listening sockets.
    pub fn listens(self) -> bool {
        matches!(self, Mode::Activate | Mode::Accept | Mode::Pool)
    }
}

/// When a service that ended is started again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Restart {
    /// After every end (for a oneshot: like `OnFailure`).
    Always = 0,
    /// After a non-zero exit, a signal, a spawn failure or a start timeout.
    OnFailure,
    /// Never.
    No,
}

/// Where a service's stdout and stderr go (`log` in vigild.conf(5)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Log {
    /// vigild's own stdout and stderr.
    Inherit,
    /// `/dev/null`.
    Null,
    /// A pipe vigild holds, read by this service's stdin: the logger
    /// `NAME/log` that `log = DIR` adds, or the service of `service:NAME`.
    Pipe(ServiceId),
    /// `ring:SIZE`: the last SIZE bytes, kept by vigild in its ring memory
    /// (`RING_BYTES`, shared by every ring), at the place `Config::ring`
    /// gives for this number.
    Ring(u16),
}

/// Where a ring is in the ring memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingPlace {
    /// Its first byte.
    pub offset: u32,
    /// Its size (SIZE of `ring:SIZE`).
    pub size: u32,
}

/// How vigild finds every process of a service (`contain` in vigild.conf(5)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Contain {
    /// A cgroup of its own where the kernel offers cgroup v2, else its
    /// process group.
    Cgroup = 0,
    /// Its process group (what leaves it is not found).
    Group,
}

/// How a service says it is ready (`ready`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ready {
    /// Ready once exec succeeded.
    None,
    /// sd_notify: `READY=1` on the datagram socket in `NOTIFY_SOCKET`.
    Notify,
    /// s6 style: a newline written to this fd.
    Fd(u8),
}

/// One `[NAME]` section, fully parsed and validated.
#[derive(Clone, Copy, Debug)]
pub struct ServiceSpec {
    /// The section name.
    pub name: Str,
    /// Line of the `[NAME]` header.
    pub line: u32,
    /// Digest of the section's effective settings; a reload restarts a
    /// service only when this changed.
    pub digest: u64,
    /// Program and arguments.
    pub exec: Words,
    /// Line of `exec` (0: none, or `-- CMD`).
    pub exec_line: u32,
    /// Words run before `exec` (the service's own `prefix`, else the global one).
    pub prefix: Words,
    /// `mode`.
    pub mode: Mode,
    /// `autostart`.
    pub autostart: bool,
    /// `restart`, with the per-mode default applied.
    pub restart: Restart,
    /// First restart delay (`backoff`), in ms.
    pub backoff_first_ms: u32,
    /// Cap of the restart delay, in ms.
    pub backoff_cap_ms: u32,
    /// A run at least this long resets the delay (`backoff_reset`), in ms.
    pub backoff_reset_ms: u32,
    /// Give up after this many failed runs in the window; 0 = never.
    pub restart_max: u32,
    /// `restart_window`, in ms.
    pub restart_window_ms: u32,
    /// `ready`.
    pub ready: Ready,
    /// `start_timeout` in ms; 0 = none.
    pub start_timeout_ms: u32,
    /// `stop_signal`.
    pub stop_signal: u8,
    /// `stop_timeout` in ms, then KILL.
    pub stop_timeout_ms: u32,
    /// `contain`.
    pub contain: Contain,
    /// `user` (empty: unchanged).
    pub user: Str,
    /// Line of `user` (for errors found when it is looked up).
    pub user_line: u32,
    /// `group` (empty: the user's, or unchanged).
    pub group: Str,
    /// Line of `group`.
    pub group_line: u32,
    /// `dir` (empty: `/`).
    pub dir: Str,
    /// `env` entries, `KEY=VALUE`.
    pub env: Words,
    /// `umask`.
    pub umask: u16,
    /// `nofile`; 0 = unchanged.
    pub nofile: u32,
    /// `log`.
    pub log: Log,
    /// `console`: the terminal that is its controlling terminal and fds 0,
    /// 1 and 2 (empty: none, the default).
    pub console: Str,
    /// `listen` addresses, as written (each valid for `parse_listen`).
    pub listen: Words,
    /// The line of each `listen` (u32 LE each), for errors found when
    /// it is bound.
    listen_lines: Str,
    /// `listen_mode` of unix sockets.
    pub listen_mode: u16,
    /// `backlog`.
    pub backlog: u32,
    /// `max_workers` (accept).
    pub max_workers: u32,
    /// `max_per_ip` (accept); 0 = no limit.
    pub max_per_ip: u32,
    /// `drop_timeout` in ms (accept).
    pub drop_timeout_ms: u32,
    /// `procs_min` (pool): workers kept running.
    pub procs_min: u32,
    /// `procs_max` (pool): workers at most.
    pub procs_max: u32,
    /// `idle_kill` in ms (pool): an idle worker beyond `procs_min` is
    /// interrupted after this long.
    pub idle_kill_ms: u32,
    /// Dependencies (`after`), resolved to ids, as little-endian u16 pairs.
    after: Str,
    /// A service removed by a reload, kept only until it has stopped.
    pub removed: bool,
}

impl ServiceSpec {
    /// An empty spec (all zero bits).
    pub const EMPTY: ServiceSpec = ServiceSpec {
        name: Str::EMPTY,
        line: 0,
        digest: 0,
        exec: Words::EMPTY,
        exec_line: 0,
        prefix: Words::EMPTY,
        mode: Mode::Daemon,
        autostart: false,
        restart: Restart::Always,
        backoff_first_ms: 0,
        backoff_cap_ms: 0,
        backoff_reset_ms: 0,
        restart_max: 0,
        restart_window_ms: 0,
        ready: Ready::None,
        start_timeout_ms: 0,
        stop_signal: 0,
        stop_timeout_ms: 0,
        contain: Contain::Cgroup,
        user: Str::EMPTY,
        user_line: 0,
        group: Str::EMPTY,
        group_line: 0,
        dir: Str::EMPTY,
        env: Words::EMPTY,
        umask: 0,
        nofile: 0,
        log: Log::Inherit,
        console: Str::EMPTY,
        listen: Words::EMPTY,
        listen_lines: Str::EMPTY,
        listen_mode: 0,
        backlog: 0,
        max_workers: 0,
        max_per_ip: 0,
        drop_timeout_ms: 0,
        procs_min: 0,
        procs_max: 0,
        idle_kill_ms: 0,
        after: Str::EMPTY,
        removed: false,
    };

    /// The defaults of vigild.conf(5) for a new section.
    fn with_defaults(name: Str, line: u32) -> Self {
        ServiceSpec {
            name,
            line,
            autostart: true,
            backoff_first_ms: 100,
            backoff_cap_ms: 30_000,
            backoff_reset_ms: 10_000,
            restart_window_ms: 60_000,
            start_timeout_ms: 30_000,
            stop_signal: 15,
            stop_timeout_ms: 10_000,
            umask: 0o022,
            listen_mode: 0o666,
            backlog: 128,
            max_workers: 64,
            drop_timeout_ms: 10_000,
            procs_min: 1,
            procs_max: 16,
            idle_kill_ms: 60_000,
            ..Self::EMPTY
        }
    }
}

/// The `[vigild]` section.
#[derive(Clone, Copy, Debug)]
pub struct Global {
    /// `run_dir` (empty: `/run/vigild`).
    pub run_dir: Str,
    /// `prefix` for services without their own.
    pub prefix: Words,
    /// `max_services` (0: the compiled capacity).
    pub max_services: u32,
    /// `finish`: run by PID 1 once every service is down (the action added).
    pub finish: Words,
    /// `crash`: executed by PID 1 on an unrecoverable error.
    pub crash: Words,
    /// `main` (container mode): its index + 1, 0 for none.
    pub main: u16,
}

impl Global {
    const EMPTY: Global = Global {
        run_dir: Str::EMPTY,
        prefix: Words::EMPTY,
        max_services: 0,
        finish: Words::EMPTY,
        crash: Words::EMPTY,
        main: 0,
    };
}

/// The parser's notes, on pages of their own: once they are given back
/// (`Config::scratch`), no page of them stays shared with a table in use.
#[repr(C, align(4096))]
struct Scratch([parse::Body; MAX_SERVICES]);

/// A whole configuration: the global section and every service, in file order.
/// In this order (`repr(C)`): each table is filled from its start, so the
/// small fields and the start of every table share as few pages as they
/// can (a `Config` lives in `.bss`, where only the pages written cost memory).
#[repr(C)]
pub struct Config {
    /// The `[vigild]` section.
    pub global: Global,
    count: u16,
    /// Some service is a removed one kept until it stops (`adopt_removed`).
    has_removed: bool,
    /// Bytes of ring memory the rings take.
    ring_bytes: u32,
    /// The rings, by their number in `Log::Ring`.
    rings: [RingPlace; PIPES_MAX],
    ring_count: u16,
    /// Service indexes with every service after its dependencies.
    order: [u16; MAX_SERVICES],
    specs: [ServiceSpec; MAX_SERVICES],
    /// The parser's notes on each section (scratch while parsing).
    bodies: Scratch,
    /// Where every string of this configuration lives.
    pub arena: Arena,
    /// The file it was read from (empty: none), for messages.
    pub file: Str,
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    /// An empty configuration (all zero bytes: a `static` of it costs no file size).
    pub const fn new() -> Self {
        Config {
            global: Global::EMPTY,
            specs: [ServiceSpec::EMPTY; MAX_SERVICES],
            count: 0,
            has_removed: false,
            ring_bytes: 0,
            rings: [RingPlace { offset: 0, size: 0 }; PIPES_MAX],
            ring_count: 0,
            order: [0; MAX_SERVICES],
            arena: Arena::new(),
            file: Str::EMPTY,
            bodies: Scratch([parse::Body::EMPTY; MAX_SERVICES]),
        }
    }

    /// Forget everything, keeping the storage.
    pub fn clear(&mut self) {
        self.global = Global::EMPTY;
        self.count = 0;
        self.has_removed = false;
        self.ring_bytes = 0;
        self.ring_count = 0;
        self.arena.clear();
        self.file = Str::EMPTY;
    }

    /// True if some service was carried over by a reload only to stop.
    pub fn has_removed(&self) -> bool {
        self.has_removed
    }

    /// Number of services.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True if there are no services.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every service id, in file order.
    pub fn ids(&self) -> impl DoubleEndedIterator<Item = ServiceId> + use<> {
        (0..self.count).map(ServiceId)
    }

    /// Service ids ordered so that each comes after its dependencies.
    pub fn start_order(&self) -> impl DoubleEndedIterator<Item = ServiceId> + '_ {
        self.order.iter().take(self.len()).map(|&i| ServiceId(i))
    }

    /// The spec of `id`.
    pub fn spec(&self, id: ServiceId) -> &ServiceSpec {
        &self.specs[id.index()]
    }

    /// The name of `id`.
    pub fn name(&self, id: ServiceId) -> &[u8] {
        self.arena.get(self.specs[id.index()].name)
    }

    /// The `listen` addresses of `id`, in config order.
    pub fn listens(&self, id: ServiceId) -> impl Iterator<Item = Listen<'_>> + '_ {
        let words = self.arena.words(self.specs[id.index()].listen);
        // Every word was checked by the parser.
        words.filter_map(|w| parse_listen(crate::fixed::without_nul(w)).ok())
    }

    /// The line of `id`'s `index`th `listen` (its section's if unknown).
    pub fn listen_line(&self, id: ServiceId, index: usize) -> u32 {
        let spec = &self.specs[id.index()];
        let lines = self.arena.get(spec.listen_lines).as_chunks::<4>().0;
        lines
            .get(index)
            .map_or(spec.line, |&b| u32::from_le_bytes(b))
    }

    /// The services `id` must wait for (`after`).
    pub fn after(&self, id: ServiceId) -> impl Iterator<Item = ServiceId> + '_ {
        self.arena
            .get(self.specs[id.index()].after)
            .as_chunks()
            .0
            .iter()
            .map(|&pair| ServiceId(u16::from_le_bytes(pair)))
    }

    /// True if `id` runs vigild's own logger (the program, prefix included,
    /// is `vigil-log`, as for the loggers of `log = DIR`): it is started
    /// from vigild's binary.
    pub fn is_logger(&self, id: ServiceId) -> bool {
        let spec = &self.specs[id.index()];
        spec.prefix.is_empty() && self.arena.words(spec.exec).next() == Some(b"vigil-log\0")
    }

    /// The directory of the vigil-log that reads `id`'s output (`log =
    /// DIR`, or `service:NAME` of a vigil-log), if one does: its last word.
    pub fn log_dir(&self, id: ServiceId) -> Option<&[u8]> {
        match self.specs[id.index()].log {
            Log::Pipe(reader) if self.is_logger(reader) => {
                let words = self.arena.words(self.specs[reader.index()].exec);
                words.last().map(crate::fixed::without_nul)
            }
            _ => None,
        }
    }

    /// Where `id`'s ring is, if it has one.
    pub fn ring(&self, id: ServiceId) -> Option<RingPlace> {
        match self.specs[id.index()].log {
            Log::Ring(n) => self.rings.get(usize::from(n)).copied(),
            _ => None,
        }
    }

    /// The parser's notes on each section, as memory that may be given
    /// back to the system once a file is parsed: they are of no use then,
    /// and a `Body` of zero bytes is a valid one, `Body::EMPTY` (every
    /// field an integer, a bool or a `Str`, and `LogText::Unset` tag 0),
    /// which is what pages given back read as.
    pub fn scratch(&mut self) -> ZeroablePart<'_> {
        ZeroablePart::new(&mut self.bodies)
    }

    /// The `main` service (container mode), if there is one.
    pub fn main(&self) -> Option<ServiceId> {
        self.global.main.checked_sub(1).map(ServiceId)
    }

    /// The run directory: `run_dir`, else `/run/vigild`.
    pub fn run_dir(&self) -> &[u8] {
        match self.global.run_dir.is_empty() {
            true => b"/run/vigild",
            false => self.arena.get(self.global.run_dir),
        }
    }

    fn spec_mut(&mut self, id: ServiceId) -> &mut ServiceSpec {
        &mut self.specs[id.index()]
    }
}

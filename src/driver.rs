//! The loop: one poll(2) over the signalfd, the control FIFO, the listening sockets and the
//! reply FIFOs; every wake-up reaps every child, turns signals and control
//! lines into engine calls, and lets the engine act through `Fx`. When no
//! deadline exists it sleeps with no timeout: no system call while idle.

use crate::containment::Containment;
use crate::launch::{self, EnvBuf, Launch};
use crate::listeners::Listeners;
use crate::log::say;
use crate::pid1::Meaning;
use crate::pipes::Pipes;
use crate::readiness::{self, Channels};
use crate::replies::{Replies, Wait, monitor_line_to, send};
use crate::sys::fs::{AtomicFile, write_all};
use crate::sys::init::Action;
use crate::sys::signal::Signals;
use crate::sys::spawn::{Creds, FDS_MAX};
use crate::sys::{Errno, clock, listen, notify, process};
use core::cell::Cell;
use core::net::SocketAddr;
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use vigild_engine::config::{Config, Errors, Mode, RingPlace};
use vigild_engine::control::{LineError, LineReader, Piece, Verb, parse_line};
use vigild_engine::fixed::{ArrayStr, Lossy, ServiceId, SliceWriter};
use vigild_engine::ip::IpText;
use vigild_engine::limits::{
    LINE_MAX, LISTENERS_MAX, MONITORS_MAX, PIPES_MAX, READY_MAX, REPLIES_MAX,
};
use vigild_engine::machine::{Admit, Answer, Command, Effects, Peer, Slot, State, Supervisor};
use vigild_engine::sd_notify::{Notice, notices};
use vigild_engine::status::{Counters, Shown, write_line};
use vigild_engine::time::Instant;
use vigild_engine::unix::{ErrnoName, ExitStatus, Pid};

/// How long a status change waits before the file is rewritten when the
/// turn spawned a process. Writing it (a rename, hundreds of µs on some
/// file systems) right after a spawn would keep the new service off the CPU
/// it is about to run on; waiting a moment lets the service go first and
/// coalesces bursts of changes. Other changes (a READY=1, an exit without
/// restart) are written at the end of their turn.
const STATUS_DELAY_MS: u64 = 1;

/// How long a change of the accept or pool counters waits before the status
/// file is rewritten: they may change thousands of times a second.
const COUNTERS_DELAY_MS: u64 = 1000;

/// A changed `STATUS=` text is shown at once, but a flood of them rewrites
/// the status file at most once per this interval.
const TEXT_INTERVAL_MS: u64 = 100;

/// Connections accepted from one listener per loop turn, so that one busy
/// listener cannot starve the others, the control FIFO or reaping.
const ACCEPT_BATCH: usize = 16;

/// Reads from one ring's pipe per loop turn.
const RING_READS_PER_TURN: usize = 4;

/// Control lines acted on per loop turn, and reads of the FIFO
/// (`control::INPUT_MAX` bytes each: 16 KiB).
const LINES_PER_TURN: usize = 64;
const READS_PER_TURN: usize = 16;

/// Datagrams read from one notify socket per loop turn.
const NOTICES_PER_TURN: usize = 16;

/// How many generations up a notification may come from.
const OWNER_DEPTH: usize = 8;

/// Everything the loop owns.
pub struct Driver {
    /// The configuration in force, and the spare a reload parses into.
    pub configs: Configs,
    /// The state machine.
    pub sv: &'static mut Supervisor,
    /// Buffer the configuration file is read into.
    pub text: &'static mut [u8],
    /// The errors of a failed reload.
    pub errors: &'static mut Errors,
    /// Where the configuration comes from.
    pub source: crate::supervisor::Source,
    /// vigild is PID 1.
    pub pid1: bool,
    /// What PID 1 does once every service is down.
    pub halt: crate::sys::init::Action,
    /// Daemon mode: the foreground process waits for this verdict.
    pub verdict: Option<crate::daemon::Verdict>,
    /// Daemon mode: an autostart service could not be started.
    pub start_failed: bool,
    /// The run directory's lock, held while vigild runs.
    pub _lock: OwnedFd,
    /// Container mode's own run directory, removed at exit.
    pub private_run_dir: Option<ArrayStr<{ crate::supervisor::PRIVATE_MAX }>>,
    /// The run directory.
    pub dir: OwnedFd,
    /// Read end of the control FIFO.
    pub control: OwnedFd,
    /// Write end held so the read end never sees end-of-file.
    pub _control_keep: OwnedFd,
    /// The signalfd.
    pub signals: Signals,
    /// `/dev/null`.
    pub devnull: OwnedFd,
    /// `-d FD`: told once every autostart service is up.
    pub ready_fd: Option<OwnedFd>,
    /// Open reply FIFOs.
    pub replies: Replies,
    /// Control input cut into lines.
    pub lines: &'static mut LineReader,
    /// The listening sockets.
    pub listeners: Listeners,
    /// The log pipes.
    pub pipes: Pipes,
    /// The memory of every `ring:SIZE` log.
    pub rings: &'static mut [u8],
    /// The readiness channels of running services.
    pub channels: Channels,
    /// Where a notification datagram is read into (lent out while it is).
    pub notice: Option<&'static mut [u8; readiness::NOTICE_MAX]>,
    /// What the accept service that last spawned a worker starts it with.
    pub worker_setup: Option<WorkerSetup>,
    /// How every process of a service is found.
    pub containment: Containment,
    /// A state changed since the status file was written.
    pub dirty: bool,
    /// A process was spawned since the status file was written.
    pub spawned: bool,
    /// A `STATUS=` text changed since the status file was written.
    pub texts_changed: bool,
    /// Cold code ran (start-up, control lines and answers, signals other
    /// than SIGCHLD): give its pages back before the loop sleeps
    /// (`sys::cold`).
    pub cold_due: bool,
    /// A shutdown has mapped the cold code back.
    pub cold_mapped_back: bool,
    /// When it will be rewritten.
    pub status_due: Option<Instant>,
    /// When it was last written.
    pub status_written: Instant,
    /// Last status write failed (warn once, not every turn).
    pub status_failed: bool,
    /// Warnings about control lines, which anyone who may write the FIFO
    /// could flood.
    pub control_warnings: Throttle,
}

/// The two configurations: the one in force, and the spare that a reload
/// parses into and makes the one in force if it has no error.
pub struct Configs {
    both: &'static mut [Config; 2],
    second: bool,
}

impl Configs {
    /// The first one is in force.
    pub fn new(both: &'static mut [Config; 2]) -> Self {
        Configs {
            both,
            second: false,
        }
    }

    /// The configuration in force.
    pub fn active(&self) -> &Config {
        &self.both[usize::from(self.second)]
    }

    /// The one in force and the spare, to be written.
    fn split(&mut self) -> (&Config, &mut Config) {
        let [first, second] = &mut *self.both;
        match self.second {
            false => (first, second),
            true => (second, first),
        }
    }

    /// The one in force and the spare.
    fn both(&self) -> (&Config, &Config) {
        let [first, second] = &*self.both;
        match self.second {
            false => (first, second),
            true => (second, first),
        }
    }

    /// Put the spare in force.
    fn flip(&mut self) {
        self.second = !self.second;
    }
}

/// At most `WARNINGS_PER_SECOND` warnings of one kind a second; the next
/// one after a pause says how many were left out.
#[derive(Default)]
pub struct Throttle {
    since: Instant,
    count: u32,
    dropped: u32,
}

const WARNINGS_PER_SECOND: u32 = 5;

impl Throttle {
    /// May a warning be logged now?
    fn allow(&mut self, now: Instant) -> bool {
        if now.ms_since(self.since) >= 1000 {
            if self.dropped > 0 {
                say!("control: {} more errors not logged", self.dropped);
            }
            *self = Throttle {
                since: now,
                ..Throttle::default()
            };
        }
        self.count += 1;
        self.dropped += u32::from(self.count > WARNINGS_PER_SECOND);
        self.count <= WARNINGS_PER_SECOND
    }
}

/// What a poll(2) reported.
struct Woke {
    signals: bool,
    control: bool,
    /// Listeners with a connection waiting.
    listeners: usize,
    /// Readiness channels with something to read.
    channels: [u16; READY_MAX],
    n_channels: usize,
    /// Rings (positions in `Pipes`) with output to keep.
    rings: [u16; PIPES_MAX],
    n_rings: usize,
}

/// What a polled fd is (listeners, channels and rings by their position).
#[derive(Clone, Copy)]
enum Polled {
    Signals,
    Control,
    Listener(u16),
    Channel(u16),
    Ring(u16),
    Reply,
}

/// The credentials and cgroup an accept service's workers start with.
pub struct WorkerSetup {
    id: ServiceId,
    creds: Option<Creds>,
    cgroup: Option<OwnedFd>,
}

/// The engine's hands: spawning, signalling, announcing.
struct Fx<'a> {
    cfg: &'a Config,
    containment: &'a mut Containment,
    devnull: BorrowedFd<'a>,
    listeners: &'a Listeners,
    pipes: &'a Pipes,
    channels: &'a mut Channels,
    replies: &'a mut Replies,
    dirty: &'a mut bool,
    spawned: &'a mut bool,
}

impl Effects for Fx<'_> {
    fn spawn(&mut self, id: ServiceId) -> Result<Pid, u16> {
        let (cfg, devnull) = (self.cfg, raw(self.devnull));
        let creds = launch::credentials(cfg, id)?;
        let name = Lossy(cfg.name(id));
        if let Some(creds) = &creds
            && cfg.is_logger(id)
        {
            launch::make_log_dir(cfg, id, creds);
        }
        let channel = self.channels.open(cfg, id).map_err(|e| {
            let errno = e.raw_os_error() as u16;
            say!(
                "{name}: unable to open its readiness channel: {}",
                ErrnoName(errno)
            );
            errno
        })?;
        let mut buf = [0u8; 1024];
        let mut env = EnvBuf(SliceWriter::new(&mut buf));
        let mut ready_fd = None;
        if let Some(opened) = &channel {
            if opened.socket_path_len > 0 {
                let path = Lossy(&opened.socket_path[..opened.socket_path_len]);
                env.entry(format_args!("NOTIFY_SOCKET={path}"));
            }
            ready_fd = opened
                .pipe_end
                .as_ref()
                .map(|(fd, n)| (raw(fd.as_fd()), *n));
        }
        self.containment.look_again();
        let cgroup = self.containment.cgroup_for(cfg, id);
        let mode = cfg.spec(id).mode;
        // Socket activation (and a pool's workers): the sockets as fds 3..
        // and systemd's variables.
        let mut fds = [0; FDS_MAX];
        let mut n = 0;
        let mut pid_entry = *b"LISTEN_PID=\0\0\0\0\0\0\0\0\0\0\0\0";
        let mut listen_pid = None;
        if matches!(mode, Mode::Activate | Mode::Pool) {
            for (slot, fd) in fds.iter_mut().zip(self.listeners.of(id)) {
                *slot = raw(fd);
                n += 1;
            }
            env.entry(format_args!("LISTEN_FDS={n}"));
            if !env.entry(format_args!(
                "LISTEN_FDNAMES={}",
                FdNames {
                    name: Lossy(cfg.name(id)),
                    n
                }
            )) {
                say!("{name}: warning: LISTEN_FDNAMES too long, not set");
            }
            listen_pid = Some(Cell::from_mut(&mut pid_entry[..]).as_slice_of_cells());
        }
        let launch = Launch {
            // Container mode's main service reads what vigild reads (tini's way).
            stdin: self
                .pipes
                .input_of(id)
                .map_or(if cfg.main() == Some(id) { 0 } else { devnull }, raw),
            conn: false,
            out: self.pipes.output_of(cfg, id, self.devnull),
            fds: fds.get(..n).unwrap_or_default(),
            env: env.0.bytes(),
            listen_pid,
            creds: creds.as_ref(),
            ready_fd,
            cgroup: cgroup.as_ref().map(|fd| raw(fd.as_fd())),
        };
        let pid = launch::start(cfg, id, &launch);
        *self.spawned |= pid.is_ok();
        if let Some(opened) = channel {
            self.channels.started(id, opened, pid.ok());
        }
        pid
    }

    fn kill(&mut self, pid: Pid, signal: u8, group: bool) {
        // ESRCH: it is already gone, and its exit is on the way.
        let _ = process::kill(pid.0, signal, group);
    }

    fn kill_all(&mut self, id: ServiceId, groups: &mut dyn Iterator<Item = Pid>, signal: u8) {
        self.containment.kill_all(self.cfg, id, groups, signal);
    }

    fn populated(&mut self, id: ServiceId, group: Option<Pid>) -> bool {
        self.containment.populated(self.cfg, id, group)
    }

    fn changed(&mut self, id: ServiceId, from: State, slot: &Slot) {
        let mut line = ArrayStr::<480>::new();
        let _ = vigild_engine::status::write_transition(&mut line, self.cfg, id, from, slot);
        say!("{line}");
        if from.pid().is_some() && slot.stopping_what_a_clean_exit_left() {
            say!(
                "{}: its main process exited 0 and left processes running: stopping them (a daemon that forks into the background must be run in the foreground)",
                Lossy(self.cfg.name(id))
            );
        }
        if slot.reason == vigild_engine::machine::Reason::GaveUp && slot.state == State::Down {
            let spec = self.cfg.spec(id);
            say!(
                "{}: gave up: {} failed runs within {}ms (restart_max = {}, restart_window); `vigilctl start {}` tries again",
                Lossy(self.cfg.name(id)),
                spec.restart_max,
                spec.restart_window_ms,
                spec.restart_max,
                Lossy(self.cfg.name(id)),
            );
        }
        self.replies.changed(id, line.as_str(), slot);
        self.channels.state_changed(self.cfg, id, slot.state);
        *self.dirty = true;
    }
}

fn raw(fd: BorrowedFd<'_>) -> i32 {
    rustix::fd::AsRawFd::as_raw_fd(&fd)
}

/// Where a ring is in the ring memory: its SIZE bytes and one spare, which
/// keeps the byte before the last SIZE (so that they are known to begin a
/// line, or not).
fn ring_span(place: RingPlace) -> core::ops::Range<usize> {
    let start = place.offset as usize;
    start..start + place.size as usize + 1
}

/// The first of `sender` and its ancestors that `is_sender` accepts (a
/// daemon may notify from a worker). Each step reads `/proc`; the walk
/// stops at a bounded depth, at init, and at vigild itself (an orphan
/// vigild adopted is no service's descendant, nor are vigild's parents).
fn ancestor(sender: i32, is_sender: impl Fn(i32) -> bool) -> Option<i32> {
    let me = process::getpid();
    let mut at = sender;
    for _ in 0..OWNER_DEPTH {
        if is_sender(at) {
            return Some(at);
        }
        match notify::parent_of(at) {
            Some(parent) if parent > 1 && parent != me => at = parent,
            _ => return None,
        }
    }
    None
}

/// `max_per_ip` compares IPv6 bytes; IPv4 is mapped (`::ffff:a.b.c.d`).
fn peer_key(remote: Option<SocketAddr>) -> Peer {
    match remote {
        Some(SocketAddr::V4(a)) => a.ip().to_ipv6_mapped().octets(),
        Some(SocketAddr::V6(a)) => a.ip().octets(),
        None => [0; 16],
    }
}

/// A worker's variables: ucspi-tcp's and systemd's for TCP, `PROTO=UNIX`
/// for a unix socket.
fn connection_env(env: &mut EnvBuf<'_>, remote: Option<SocketAddr>, local: Option<SocketAddr>) {
    let Some(remote) = remote else {
        env.entry(format_args!("PROTO=UNIX"));
        return;
    };
    env.entry(format_args!("PROTO=TCP"));
    env.entry(format_args!("TCPREMOTEIP={}", IpText(remote.ip())));
    env.entry(format_args!("TCPREMOTEPORT={}", u32::from(remote.port())));
    if let Some(local) = local {
        env.entry(format_args!("TCPLOCALIP={}", IpText(local.ip())));
        env.entry(format_args!("TCPLOCALPORT={}", u32::from(local.port())));
    }
    env.entry(format_args!("REMOTE_ADDR={}", IpText(remote.ip())));
    env.entry(format_args!("REMOTE_PORT={}", u32::from(remote.port())));
}

/// `LISTEN_FDNAMES`: the service name for one socket, `NAME.0:NAME.1:...`
/// (in config order) for several.
struct FdNames<'a> {
    name: Lossy<'a>,
    n: usize,
}

impl core::fmt::Display for FdNames<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.n == 1 {
            return write!(f, "{}", self.name);
        }
        for i in 0..self.n {
            let sep = if i == 0 { "" } else { ":" };
            write!(f, "{sep}{}.{i}", self.name)?;
        }
        Ok(())
    }
}

impl Driver {
    fn parts(&mut self) -> (&mut Supervisor, Fx<'_>) {
        let fx = Fx {
            cfg: self.configs.active(),
            containment: &mut self.containment,
            devnull: self.devnull.as_fd(),
            listeners: &self.listeners,
            pipes: &self.pipes,
            channels: &mut self.channels,
            replies: &mut self.replies,
            dirty: &mut self.dirty,
            spawned: &mut self.spawned,
        };
        (&mut *self.sv, fx)
    }

    /// Supervise until a shutdown completes; the exit code.
    // Not inlined into start-up: the loop is hot code, start-up cold (link/layout.ld).
    #[inline(never)]
    pub fn run(&mut self) -> i32 {
        self.sv.boot(self.configs.active(), clock::now());
        loop {
            let now = clock::now();
            // Main may have ended by a child's exit or by a request; the
            // tick that follows begins the shutdown.
            self.check_main();
            let (sv, mut fx) = self.parts();
            let cfg = fx.cfg;
            sv.tick(cfg, now, &mut fx);
            // Main may have ended in the tick (what it left is gone).
            if self.check_main() {
                continue;
            }
            let (sv, cfg) = (&mut *self.sv, self.configs.active());
            let (halted, deadline) = (sv.halted(cfg), sv.next_deadline(cfg));
            let since_written = now.ms_since(self.status_written);
            let delay = match (self.dirty, self.sv.take_counters_changed()) {
                (true, _) if self.spawned => Some(STATUS_DELAY_MS),
                (true, _) => Some(0),
                _ if self.texts_changed => Some(TEXT_INTERVAL_MS.saturating_sub(since_written)),
                (false, true) => Some(COUNTERS_DELAY_MS),
                (false, false) => None,
            };
            if let Some(ms) = delay {
                let due = now.plus_ms(ms);
                self.status_due = Some(self.status_due.map_or(due, |d| d.min(due)));
            }
            let answers = self.replies.has_outcomes();
            if self.status_due.is_some_and(|due| due <= now) || halted || answers {
                self.write_status();
            }
            if answers {
                self.replies.flush(self.configs.active());
                // Answers are cold code (link/layout.ld).
                self.cold_due = true;
            }
            self.tell_ready();
            // A failed start-up stops everything: at once, not at -T.
            if self.verdict.is_some() && self.judge_start_up() {
                continue;
            }
            if halted {
                break;
            }
            // Control input left for this turn, or a line without its
            // newline that will be dropped.
            let control_due = match self.lines.has_input() {
                true => Some(now),
                false => self.lines.deadline(),
            };
            let deadline = [deadline, self.status_due, control_due]
                .into_iter()
                .flatten()
                .min();
            // A shutdown runs cold code to its end: it is mapped back while
            // every service still runs (`sys::cold::map_back`). Otherwise
            // cold code that ran is given back once start-up is over (the
            // daemon's verdict given).
            if self.sv.is_halting() {
                if !self.cold_mapped_back {
                    crate::sys::cold::map_back();
                    self.cold_mapped_back = true;
                }
            } else if self.cold_due && self.verdict.is_none() {
                crate::sys::cold::release();
                self.cold_due = false;
            }
            let mut ready = [0u16; LISTENERS_MAX];
            let woke = self.wait(deadline.map(|at| at.ms_since(now)), &mut ready);
            let (table, pipes) = (self.listeners.generation, self.pipes.generation);
            let now = clock::now();
            if woke.signals {
                for sig in self.signals.drain() {
                    self.on_signal(sig, now);
                }
            }
            // Every wake-up reaps every child that ended (part 1's promise;
            // one wait4 when there is none).
            while let Some((pid, status)) = process::reap() {
                self.on_exit(pid, status, now);
            }
            // Before control lines: a `start` that waits for `up` sees a
            // READY=1 that arrived in the same turn.
            for &i in woke.channels.iter().take(woke.n_channels) {
                self.on_channel(i.into(), now);
            }
            // A reload just now renumbered the pipes: the rings wait too.
            if pipes == self.pipes.generation {
                for &i in woke.rings.iter().take(woke.n_rings) {
                    self.read_ring(i.into());
                }
            }
            if woke.control || self.lines.has_input() {
                self.read_control(now);
            }
            if self.lines.deadline().is_some_and(|at| at <= now) {
                self.expire_control(now);
            }
            // A reload just now renumbered the listeners: their connections
            // wait for the next turn.
            if table == self.listeners.generation {
                for &i in ready.iter().take(woke.listeners) {
                    self.on_connection(i.into(), now);
                }
            }
        }
        say!("all services stopped");
        self.listeners.close_all(self.configs.active());
        self.replies.finish();
        self.exit_code()
    }

    /// poll(2) until something happens or `timeout_ms` passes. The
    /// listeners with a connection waiting go into `ready` (by their
    /// position in `Listeners`).
    // Not inlined: its tables (a few KiB) then take stack only while it
    // runs, not under every other call of the loop.
    #[inline(never)]
    fn wait(&mut self, timeout_ms: Option<u64>, ready: &mut [u16; LISTENERS_MAX]) -> Woke {
        let mut gone = [false; REPLIES_MAX + MONITORS_MAX];
        let (mut count, mut n_ready) = (0, 0);
        let mut woke = Woke {
            signals: false,
            control: false,
            listeners: 0,
            channels: [0; READY_MAX],
            n_channels: 0,
            rings: [0; PIPES_MAX],
            n_rings: 0,
        };
        {
            const SIZE: usize =
                2 + LISTENERS_MAX + READY_MAX + PIPES_MAX + REPLIES_MAX + MONITORS_MAX;
            let mut fds: [PollFd<'_>; SIZE] = core::array::from_fn(|_| {
                PollFd::from_borrowed_fd(self.signals.fd(), PollFlags::empty())
            });
            // What each polled fd is, to sort out poll's answers.
            let mut what = [Polled::Reply; SIZE];
            let mut n = 0;
            let mut add = |fd, flags, kind| {
                // Never full: SIZE counts every table at its capacity.
                if let (Some(slot), Some(w)) = (fds.get_mut(n), what.get_mut(n)) {
                    (*slot, *w) = (PollFd::from_borrowed_fd(fd, flags), kind);
                    n += 1;
                }
            };
            add(self.signals.fd(), PollFlags::IN, Polled::Signals);
            add(self.control.as_fd(), PollFlags::IN, Polled::Control);
            let cfg = self.configs.active();
            for (i, l) in self.listeners.iter().enumerate() {
                if self.sv.polls(cfg, l.service) {
                    add(l.fd.as_fd(), PollFlags::IN, Polled::Listener(i as u16));
                }
            }
            for (i, c) in self.channels.iter() {
                add(c.fd(), PollFlags::IN, Polled::Channel(i as u16));
            }
            for (i, p) in self.pipes.iter().filter(|(_, p)| p.ring) {
                add(p.read_end(), PollFlags::IN, Polled::Ring(i as u16));
            }
            for fd in self.replies.fds() {
                add(fd, PollFlags::empty(), Polled::Reply);
            }
            let fds = &mut fds[..n.min(SIZE)];
            let timeout = timeout_ms.map(clock::timespec);
            if poll(fds, timeout.as_ref()).is_ok() {
                for (fd, &kind) in fds.iter().zip(&what) {
                    let hit = !fd.revents().is_empty();
                    let (list, len, i) = match kind {
                        Polled::Signals => {
                            woke.signals = hit;
                            continue;
                        }
                        Polled::Control => {
                            woke.control = hit;
                            continue;
                        }
                        Polled::Reply => {
                            if let Some(flag) = gone.get_mut(count) {
                                *flag = fd.revents().intersects(PollFlags::ERR | PollFlags::HUP);
                                count += 1;
                            }
                            continue;
                        }
                        _ if !hit => continue,
                        Polled::Listener(i) => (&mut ready[..], &mut n_ready, i),
                        Polled::Channel(i) => (&mut woke.channels[..], &mut woke.n_channels, i),
                        Polled::Ring(i) => (&mut woke.rings[..], &mut woke.n_rings, i),
                    };
                    if let Some(slot) = list.get_mut(*len) {
                        *slot = i;
                        *len += 1;
                    }
                }
            }
        }
        let gone = &gone[..count.min(gone.len())];
        if gone.contains(&true) {
            self.replies.drop_gone(gone);
        }
        woke.listeners = n_ready;
        woke
    }

    /// A listener has a connection waiting: start an activate service, or
    /// accept and hand the connections to workers.
    fn on_connection(&mut self, i: usize, now: Instant) {
        let Some(id) = self.listeners.get(i).map(|l| l.service) else {
            return;
        };
        let (sv, mut fx) = self.parts();
        let cfg = fx.cfg;
        match cfg.spec(id).mode {
            Mode::Activate => sv.activate(cfg, id, now, &mut fx),
            Mode::Accept => self.accept(i, id, now),
            Mode::Daemon | Mode::Oneshot | Mode::Pool => {}
        }
    }

    /// Accept up to `ACCEPT_BATCH` connections of listener `i`.
    // One copy, not inlined into the loop: it is most of the accept path
    // and the binary has a size budget.
    #[inline(never)]
    fn accept(&mut self, i: usize, id: ServiceId, now: Instant) {
        let cfg = self.configs.active();
        let Some(listener) = self.listeners.get(i) else {
            return;
        };
        let addr = cfg.listens(id).nth(listener.index.into());
        for _ in 0..ACCEPT_BATCH {
            if !self.sv.polls(cfg, id) {
                break;
            }
            let (conn, remote) = match listen::accept(listener.fd.as_fd()) {
                Ok(pair) => pair,
                Err(Errno::AGAIN) => break,
                // The client gave up before we got to it, or a network error
                // of that connection (accept(2): treat these like EAGAIN).
                Err(
                    Errno::CONNABORTED
                    | Errno::INTR
                    | Errno::PROTO
                    | Errno::NETDOWN
                    | Errno::NOPROTOOPT
                    | Errno::HOSTDOWN
                    | Errno::NONET
                    | Errno::HOSTUNREACH
                    | Errno::OPNOTSUPP
                    | Errno::NETUNREACH,
                ) => continue,
                Err(e) => {
                    if self.sv.accept_failed(id, now) {
                        say!(
                            "{}: accept: {}; pausing the listener",
                            Lossy(cfg.name(id)),
                            ErrnoName(e.raw_os_error() as u16)
                        );
                    }
                    break;
                }
            };
            let peer = peer_key(remote);
            match self.sv.admit(cfg, id, now, &peer) {
                Admit::Spawn => {
                    // Looked up for the first worker, then kept until the
                    // configuration changes: not two file reads (and a
                    // cgroup opened) per connection.
                    let WorkerSetup { creds, cgroup, .. } = match &mut self.worker_setup {
                        Some(setup) if setup.id == id => setup,
                        setup => {
                            let Ok(creds) = launch::credentials(cfg, id) else {
                                self.sv.worker_failed(id);
                                continue;
                            };
                            let cgroup = self.containment.cgroup_for(cfg, id);
                            setup.insert(WorkerSetup { id, creds, cgroup })
                        }
                    };
                    let local = addr
                        .and_then(listen::bound_ip)
                        .or_else(|| listen::local_address(conn.as_fd()));
                    let mut buf = [0u8; 320];
                    let mut env = EnvBuf(SliceWriter::new(&mut buf));
                    connection_env(&mut env, remote, local);
                    let launch = Launch {
                        stdin: raw(conn.as_fd()),
                        conn: true,
                        out: self.pipes.output_of(cfg, id, self.devnull.as_fd()),
                        fds: &[],
                        env: env.0.bytes(),
                        listen_pid: None,
                        creds: creds.as_ref(),
                        ready_fd: None,
                        cgroup: cgroup.as_ref().map(|fd| raw(fd.as_fd())),
                    };
                    match launch::start(cfg, id, &launch) {
                        Ok(pid) => self.sv.worker_spawned(cfg, id, now, pid, &peer),
                        Err(_) => self.sv.worker_failed(id),
                    }
                }
                Admit::Full { warn: true } => say!(
                    "{}: warning: max_workers = {} busy for drop_timeout ({} ms): dropping new connections",
                    Lossy(cfg.name(id)),
                    cfg.spec(id).max_workers,
                    cfg.spec(id).drop_timeout_ms
                ),
                Admit::Full { warn: false } | Admit::PerIpLimit | Admit::Stopping => {}
            }
            // The worker has its own copy; ours closes here.
            drop(conn);
        }
    }

    fn on_signal(&mut self, sig: i32, now: Instant) {
        match self.meaning(sig) {
            Meaning::Forwarded => return,
            Meaning::Halt(action) => return self.halt_with(action),
            Meaning::Usual => {}
        }
        // Every other signal but SIGCHLD runs cold code (a reload, commands,
        // a shutdown: link/layout.ld).
        self.cold_due |= sig != libc::SIGCHLD;
        match sig {
            libc::SIGHUP => {
                self.reload(now, None);
            }
            libc::SIGINT | libc::SIGTERM | libc::SIGQUIT => self.shutdown(sig),
            libc::SIGUSR2 if !self.sv.is_halting() => {
                say!(
                    "got SIGUSR2, graceful shutdown: no new connections, workers finish, then every service stops"
                );
                self.sv.shutdown_gracefully(self.configs.active());
                // Nothing is accepted any more: new clients are refused,
                // not left waiting in a backlog.
                self.listeners.close_all(self.configs.active());
            }
            libc::SIGUSR2 => {}
            libc::SIGUSR1 => {
                say!("got SIGUSR1, restarting every running service");
                let (sv, mut fx) = self.parts();
                let cfg = fx.cfg;
                for id in cfg.ids() {
                    // Not one that is being stopped on request.
                    let slot = sv.slot(id);
                    let running =
                        slot.state.pid().is_some() && !matches!(slot.state, State::Stopping { .. });
                    if running && slot.wanted_up() && !cfg.spec(id).removed {
                        sv.command(cfg, now, Command::Restart(id), &mut fx);
                    }
                }
            }
            _ => {} // SIGCHLD only wakes the loop; reaping follows.
        }
    }

    /// Shutdown by a request (`sig` 0) or a signal; SIGQUIT is the fast
    /// kind and may also hurry an orderly shutdown already under way.
    fn shutdown(&mut self, sig: i32) {
        let fast = sig == libc::SIGQUIT;
        if self.sv.is_halting() && !fast && !self.sv.is_graceful() {
            return;
        }
        match sig {
            0 => say!("shutdown requested, stopping every service"),
            libc::SIGQUIT => {
                say!("got SIGQUIT, fast shutdown: TERM to every service, KILL after 1s")
            }
            _ => say!(
                "got SIG{}, stopping every service",
                vigild_engine::unix::SignalName(sig as u8)
            ),
        }
        self.sv.shutdown(self.configs.active(), fast);
    }

    fn on_exit(&mut self, pid: Pid, status: ExitStatus, now: Instant) {
        // What it said before it ended comes first: a READY=1 (or
        // STOPPING=1, STATUS=) still queued on its channel when the exit is
        // seen in the same turn would otherwise go with the channel (systemd
        // reads its notify socket before SIGCHLD for the same reason).
        // (A pool's channel has no pid of its own; the worker table is only
        // searched when one exists, not on every accept worker's exit.)
        let cfg = self.configs.active();
        let mine = |c: &readiness::Channel| match c.pid {
            Pid(0) => self.sv.pool_of(cfg, pid) == Some(c.service),
            own => own == pid,
        };
        let channel = self.channels.iter().find(|(_, c)| mine(c));
        if let Some((i, _)) = channel {
            self.on_channel(i, now);
        }
        let (sv, mut fx) = self.parts();
        let cfg = fx.cfg;
        // Not a service: an orphan vigild adopted as subreaper. Reaped, done.
        let _ = sv.exited(cfg, now, pid, status, &mut fx);
    }

    /// Channel `i` has something to read: at most `NOTICES_PER_TURN`
    /// datagrams, so a flood cannot starve the loop.
    fn on_channel(&mut self, i: usize, now: Instant) {
        // Lent out while the channel is read (that needs all of `self`).
        if let Some(buf) = self.notice.take() {
            self.read_channel(i, now, buf);
            self.notice = Some(buf);
        }
    }

    fn read_channel(&mut self, i: usize, now: Instant, buf: &mut [u8; readiness::NOTICE_MAX]) {
        for _ in 0..NOTICES_PER_TURN {
            let Some(c) = self.channels.get(i) else {
                return;
            };
            let (id, pid) = (c.service, c.pid);
            if !c.notify {
                // s6 style: the first newline means ready; then the pipe
                // has done its job.
                match notify::read_pipe(c.fd(), &mut *buf) {
                    None => return,
                    Some(n) if buf[..n].contains(&b'\n') => {
                        let (sv, mut fx) = self.parts();
                        sv.ready(fx.cfg, id, pid, now, &mut fx);
                    }
                    Some(0) => {}
                    Some(_) => continue,
                }
                return self.channels.close_at(i);
            }
            let Some((len, sender, passed)) = notify::receive(c.fd(), &mut *buf) else {
                return;
            };
            let cfg = self.configs.active();
            let pool = cfg.spec(id).mode == Mode::Pool;
            // A pool's socket takes any of its workers (and their children).
            let is_sender = |p: i32| match pool {
                true => self.sv.pool_of(cfg, Pid(p)) == Some(id),
                false => p == pid.0,
            };
            let from = ancestor(sender, is_sender);
            drop(passed);
            let Some(from) = from else {
                continue;
            };
            for notice in notices(&buf[..len]) {
                let (sv, mut fx) = self.parts();
                let cfg = fx.cfg;
                match notice {
                    Notice::Ready if !pool => {
                        sv.ready(cfg, id, pid, now, &mut fx);
                    }
                    Notice::Stopping if !pool => sv.stopping_itself(cfg, id, pid, now, &mut fx),
                    Notice::Status(text) => {
                        self.channels.set_status(i, text);
                        self.texts_changed = true;
                    }
                    Notice::Available(n) if pool => {
                        sv.available(cfg, id, Pid(from), n, now, &mut fx)
                    }
                    Notice::Ready | Notice::Stopping | Notice::Available(_) => {}
                }
            }
        }
    }

    /// Keep what ring `i`'s service wrote: read straight into its place in
    /// the ring memory, a few reads per turn.
    fn read_ring(&mut self, i: usize) {
        let cfg = self.configs.active();
        let Some(pipe) = self.pipes.get_mut(i).filter(|p| p.ring) else {
            return;
        };
        let Some(place) = cfg.ring(pipe.service) else {
            return;
        };
        let ring = &mut self.rings[ring_span(place)];
        for _ in 0..RING_READS_PER_TURN {
            let at = (pipe.written % ring.len() as u64) as usize;
            match rustix::io::read(pipe.read_end(), &mut ring[at..]) {
                Ok(n @ 1..) => pipe.written += n as u64,
                _ => break,
            }
        }
    }

    /// `log NAME`: the ring's last SIZE bytes, oldest first, from the first
    /// whole line once some were lost: `log NAME BYTES`, then the bytes.
    fn send_ring(&self, fd: BorrowedFd<'_>, id: ServiceId) {
        let cfg = self.configs.active();
        let name = Lossy(cfg.name(id));
        let (Some(place), Some(pipe)) = (cfg.ring(id), self.pipes.ring_of(id)) else {
            send(
                fd,
                format_args!("error {name} has no ring (log = ring:SIZE)"),
            );
            return;
        };
        let (written, size) = (pipe.written, place.size);
        let ring = &self.rings[ring_span(place)];
        let at = (written % ring.len() as u64) as usize;
        let (mut older, mut newer) = match written >= ring.len() as u64 {
            true => (&ring[at..], &ring[..at]),
            false => (&ring[..at], &ring[..0]),
        };
        if written > u64::from(size) {
            // The spare byte before the last SIZE says whether they begin
            // a line; if not, begin after the line that lost its start.
            let starts_line = older[0] == b'\n';
            older = &older[1..];
            if !starts_line {
                match older.iter().position(|&b| b == b'\n') {
                    Some(nl) => older = &older[nl + 1..],
                    None => {
                        let nl = newer.iter().position(|&b| b == b'\n');
                        newer = &newer[nl.map_or(newer.len(), |nl| nl + 1)..];
                        older = &older[..0];
                    }
                }
            }
        }
        let len = older.len() + newer.len();
        // Room for all of it, so that the reply needs no waiting.
        let _ = rustix::pipe::fcntl_setpipe_size(fd, len + 256);
        send(fd, format_args!("log {name} {len}"));
        // If the reader's pipe could not grow (pipe-max-size), the output
        // ends where it was full; the byte count above tells.
        let _ = write_all(fd, older).and_then(|()| write_all(fd, newer));
    }

    /// Act on control lines: at most `LINES_PER_TURN` lines and
    /// `READS_PER_TURN` reads of the FIFO, so that a writer that never
    /// stops cannot delay signals, reaping, timers or the status file;
    /// what is left waits for the next turn (which does not sleep).
    #[inline(never)] // its buffer takes stack only while it runs
    fn read_control(&mut self, now: Instant) {
        let mut line = [0u8; LINE_MAX];
        let (mut lines, mut reads) = (0, 0);
        while lines < LINES_PER_TURN {
            if let Some(piece) = self.lines.next(now, &mut line) {
                lines += 1;
                self.on_piece(piece, now);
                continue;
            }
            if reads == READS_PER_TURN {
                break;
            }
            reads += 1;
            match rustix::io::read(&self.control, self.lines.room()) {
                Ok(n @ 1..) => self.lines.filled(n),
                Err(Errno::INTR) => continue,
                Ok(0) | Err(_) => break,
            }
        }
        // Control lines run cold code (link/layout.ld).
        self.cold_due = true;
    }

    /// A line left without its newline for a second is dropped (once).
    // Cold code (link/layout.ld): not inlined into the hot caller.
    #[inline(never)]
    fn expire_control(&mut self, now: Instant) {
        if self.lines.expire(now) && self.control_warnings.allow(now) {
            say!("control: error: a line without its newline for 1s was dropped");
        }
    }

    fn on_piece(&mut self, piece: Piece<'_>, now: Instant) {
        match piece {
            Piece::TooLong if self.control_warnings.allow(now) => {
                say!("control: error: {}", LineError::TooLong)
            }
            Piece::TooLong => {}
            Piece::Line(line) => self.on_line(line, now),
        }
    }

    /// One control line: parse, act, answer.
    fn on_line(&mut self, text: &[u8], now: Instant) {
        let line = parse_line(text);
        let warnings = &mut self.control_warnings;
        let control = self.control.as_fd();
        let reply = line
            .reply
            .and_then(|path| match crate::sys::fs::open_reply(path, control) {
                Ok(fd) => Some(fd),
                Err(_) if !warnings.allow(now) => None,
                Err(Errno::PERM) => {
                    say!(
                        "warning: reply {}: that is vigild's control FIFO: refused",
                        Lossy(path)
                    );
                    None
                }
                Err(e) => {
                    say!(
                        "warning: reply {}: not a FIFO with a reader ({})",
                        Lossy(path),
                        vigild_engine::unix::ErrnoName(e.raw_os_error() as u16)
                    );
                    None
                }
            });
        let answer = |words: core::fmt::Arguments<'_>| {
            if let Some(fd) = &reply {
                send(fd.as_fd(), words);
            }
        };
        let request = match line.request {
            Ok(request) => request,
            Err(e) => {
                if self.control_warnings.allow(now) {
                    say!("control: error: {e}: \"{}\"", Lossy(text));
                }
                return answer(format_args!("error - {e}"));
            }
        };
        let name = Lossy(request.name);
        let cfg = self.configs.active();
        let id = match request.verb {
            Verb::Start | Verb::Stop | Verb::Restart | Verb::Signal | Verb::Log => {
                match cfg.find(request.name).filter(|&id| !cfg.spec(id).removed) {
                    Some(id) => Some(id),
                    None => return answer(format_args!("not-known {name}")),
                }
            }
            _ => None,
        };
        match (request.verb, id) {
            (Verb::Start | Verb::Stop | Verb::Restart | Verb::Signal, Some(id)) => {
                let cmd = match request.verb {
                    Verb::Start => Command::Start(id),
                    Verb::Stop => Command::Stop(id),
                    Verb::Restart => Command::Restart(id),
                    _ => Command::Signal(id, request.signal),
                };
                let (sv, mut fx) = self.parts();
                let result = sv.command(fx.cfg, now, cmd, &mut fx);
                let wait = match (result, request.verb) {
                    (Answer::Starting, _) | (Answer::Stopping, Verb::Restart) => Some(Wait::Up(id)),
                    (Answer::Stopping, _) => Some(Wait::Down(id)),
                    _ => None,
                };
                // A final answer (`stopped` of a listening service) goes out
                // once the status file shows it, as a waited-for one does.
                if wait.is_none() && self.dirty {
                    self.write_status();
                }
                match result {
                    Answer::NotRunning => answer(format_args!("error {name} not running")),
                    other => answer(format_args!("{} {name}", other.word())),
                }
                if let (Some(wait), Some(fd)) = (wait, reply)
                    && let Err(fd) = self.replies.wait(fd, wait)
                {
                    send(
                        fd.as_fd(),
                        format_args!("error {name} too many requests waiting"),
                    );
                }
            }
            (Verb::Log, Some(id)) => {
                if let Some(fd) = &reply {
                    self.send_ring(fd.as_fd(), id);
                }
            }
            (Verb::Reload, _) => {
                self.reload(now, reply.as_ref().map(|fd| fd.as_fd()));
            }
            (Verb::Shutdown | Verb::Poweroff | Verb::Reboot | Verb::Halt, _) => {
                if self.sv.is_halting() {
                    return answer(format_args!("in-shutdown vigild"));
                }
                answer(format_args!("stopping vigild"));
                match request.verb {
                    _ if !self.pid1 || cfg.main().is_some() => self.shutdown(0),
                    Verb::Reboot => self.halt_with(Action::Reboot),
                    Verb::Halt => self.halt_with(Action::Halt),
                    _ => self.halt_with(Action::Poweroff),
                }
                if let Some(fd) = reply {
                    // Answered with `stopped vigild` when vigild exits.
                    let _ = self.replies.wait(fd, Wait::Shutdown);
                }
            }
            (Verb::Monitor, _) => {
                let Some(fd) = reply else {
                    if self.control_warnings.allow(now) {
                        say!("control: monitor without reply= ignored");
                    }
                    return;
                };
                let mut lost = 0;
                for id in cfg.ids().filter(|&id| !cfg.spec(id).removed) {
                    let slot = self.sv.slot(id);
                    let pid = slot.state.pid().map_or(0, |p| p.0 as u32);
                    monitor_line_to(
                        fd.as_fd(),
                        &mut lost,
                        format_args!("{}: {} (pid {pid})", Lossy(cfg.name(id)), slot.state.name()),
                    );
                }
                if let Err(fd) = self.replies.monitor(fd) {
                    send(fd.as_fd(), format_args!("error - too many monitors"));
                }
            }
            (Verb::Start | Verb::Stop | Verb::Restart | Verb::Signal | Verb::Log, None) => {
                // The name was resolved above.
                unreachable!()
            }
        }
    }

    /// Re-read the configuration; adopt it only if it has no error.
    fn reload(&mut self, now: Instant, reply: Option<BorrowedFd<'_>>) {
        if self.sv.is_halting() {
            if let Some(fd) = reply {
                send(fd, format_args!("in-shutdown vigild"));
            }
            return;
        }
        let errors = &mut *self.errors;
        let mut next = None;
        let mut pipes = None;
        {
            let (old, new) = self.configs.split();
            crate::supervisor::load(self.source, self.text, new, errors);
            if errors.is_empty() && self.sv.carry_removed(old, new).is_err() {
                errors.push(
                    0,
                    format_args!("too many services while removed ones are still stopping"),
                );
            }
            // The pipes first: on failure they leave nothing behind (new
            // listeners may have made socket files).
            if errors.is_empty() {
                match self.pipes.prepare(Some(old), new) {
                    Ok(p) => pipes = Some(p),
                    Err(e) => errors.push(
                        0,
                        format_args!(
                            "unable to make the log pipes: {}",
                            ErrnoName(e.raw_os_error() as u16)
                        ),
                    ),
                }
            }
            if errors.is_empty() {
                next = self.listeners.prepare(Some(old), new, errors);
            }
        }
        crate::supervisor::print_warnings(self.source.path, errors, |line| say!("{line}"));
        if !errors.is_empty() {
            say!("reload failed, keeping the running configuration:");
            crate::supervisor::print_errors(self.source.path, errors, |line| {
                say!("{line}");
                if let Some(fd) = reply {
                    send(fd, format_args!("reload-failed vigild {line}"));
                }
            });
            return;
        }
        // Requests resolved this turn are answered under their old names
        // first (the status file is brought up to date for them).
        if self.replies.has_outcomes() {
            self.write_status();
            self.replies.flush(self.configs.active());
        }
        self.worker_setup = None;
        let (old, new) = self.configs.both();
        if let Some(next) = next {
            self.listeners.commit(Some(old), next, new);
        }
        if let Some(pipes) = pipes {
            self.pipes = pipes;
        }
        // Waiting requests name services by id: move them to the new ids
        // before the engine announces changes in those ids.
        self.replies.remap(|id| new.find(old.name(id)));
        self.channels.renumber(old, new);
        let mut fx = Fx {
            cfg: new,
            containment: &mut self.containment,
            devnull: self.devnull.as_fd(),
            listeners: &self.listeners,
            pipes: &self.pipes,
            channels: &mut self.channels,
            replies: &mut self.replies,
            dirty: &mut self.dirty,
            spawned: &mut self.spawned,
        };
        self.sv.reload(old, new, now, &mut fx);
        self.configs.flip();
        crate::supervisor::in_force(self.configs.active());
        self.write_status();
        say!("reloaded {}", Lossy(self.source.path));
        if let Some(fd) = reply {
            send(fd, format_args!("reloaded vigild"));
        }
    }

    /// Rewrite the status file (write, then rename).
    pub fn write_status(&mut self) {
        self.dirty = false;
        self.spawned = false;
        self.texts_changed = false;
        self.status_due = None;
        self.status_written = clock::now();
        let cfg = self.configs.active();
        let offset = clock::wall_offset_ms();
        // Small: the loop's deepest stack pages stay resident.
        let mut buf = [0u8; 1024];
        let result =
            AtomicFile::create(self.dir.as_fd(), c"status.tmp", &mut buf).and_then(|mut file| {
                for id in cfg.ids() {
                    let slot = self.sv.slot(id);
                    if !(cfg.spec(id).removed && slot.state == State::Down) {
                        let counters = match cfg.spec(id).mode {
                            Mode::Accept => Counters::Accept(self.sv.accept_stats(id)),
                            Mode::Pool => {
                                let (procs, available) = self.sv.pool_counts(id);
                                Counters::Pool { procs, available }
                            }
                            _ => Counters::None,
                        };
                        let shown = Shown {
                            counters,
                            text: self.channels.status(id),
                            cgroup: self.containment.by_cgroup(cfg, id),
                        };
                        let _ = write_line(&mut file, cfg, id, slot, shown, offset);
                    }
                }
                file.commit(c"status.tmp", c"status")
            });
        match result {
            Ok(()) => self.status_failed = false,
            Err(e) if !self.status_failed => {
                self.status_failed = true;
                say!(
                    "warning: unable to write the status file: {}",
                    vigild_engine::unix::ErrnoName(e.raw_os_error() as u16)
                );
            }
            Err(_) => {}
        }
    }

    /// `-d FD`: one newline once every autostart service is up, then close.
    /// The status file is brought up to date first: whoever waited for the
    /// newline may read it at once.
    fn tell_ready(&mut self) {
        if self.ready_fd.is_some()
            && self.sv.all_autostart_up(self.configs.active())
            && let Some(fd) = self.ready_fd.take()
        {
            if self.dirty {
                self.write_status();
            }
            let _ = write_all(fd.as_fd(), b"\n");
        }
    }
}

//! The loop: one poll(2) over the signalfd, the control FIFO, the listening
//! sockets, the readiness channels, the rings and the reply FIFOs; every
//! wake-up reaps every child, turns signals, control lines and connections
//! into engine calls, and lets the engine act through `Fx`. When no
//! deadline exists it sleeps with no timeout: no system call while idle.

use super::accept::accept;
use super::effects::Fx;
use super::notices::on_channel;
use super::parts::Vigild;
use super::pid1::{self, Meaning};
use super::pipes::ring_span;
use super::readiness::Channel;
use super::reload::reload;
use super::requests::{expire_control, read_control, restart_running};
use super::shutdown::{halt_with, shutdown, shutdown_gracefully};
use super::status_file::{tell_ready, write_then_answer};
use crate::sys::message::note;
use crate::sys::{clock, cold, process};
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fd::AsFd;
use vigild_engine::config::Mode;
use vigild_engine::limits::{LISTENERS_MAX, MONITORS_MAX, PIPES_MAX, READY_MAX, REPLIES_MAX};
use vigild_engine::time::Instant;
use vigild_engine::unix::{ExitStatus, Pid};

/// Reads from one ring's pipe per loop turn.
const RING_READS_PER_TURN: usize = 4;

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

/// Supervise until a shutdown completes; the exit code.
// Not inlined into start-up: the loop is hot code, start-up cold (link/layout.ld).
#[inline(never)]
pub fn run(v: &mut Vigild) -> i32 {
    match v.resumed.take() {
        None => v.engine.boot(v.configs.active(), clock::now()),
        Some(resumed) => super::reexec::resumed(v, resumed),
    }
    // Cold code ran (start-up, control lines and answers, signals other
    // than SIGCHLD): give its pages back before the loop sleeps
    // (`sys::cold`).
    let mut cold_due = true;
    // A shutdown has mapped the cold code back.
    let mut cold_mapped_back = false;
    loop {
        let now = clock::now();
        // Main may have ended by a child's exit or by a request; the
        // tick that follows begins the shutdown.
        pid1::check_main(v.configs.active(), v.engine);
        let (engine, mut fx) = Fx::of(v);
        let cfg = fx.cfg;
        engine.tick(cfg, now, &mut fx);
        // Main may have ended in the tick (what it left is gone).
        if pid1::check_main(v.configs.active(), v.engine) {
            continue;
        }
        let (engine, cfg) = (&mut *v.engine, v.configs.active());
        let (halted, deadline) = (engine.halted(cfg), engine.next_deadline(cfg));
        let due = v.status.schedule(now, engine.take_counters_changed());
        if due || halted || v.world.replies.has_outcomes() {
            cold_due |= write_then_answer(&mut v.status, cfg, engine, &mut v.world, true);
        }
        tell_ready(&mut v.role, &mut v.status, cfg, engine, &mut v.world);
        // A failed start-up stops everything: at once, not at -T.
        if v.role.verdict.is_some()
            && super::daemonize::judge_start_up(
                &mut v.role,
                &mut v.status,
                cfg,
                engine,
                &mut v.world,
            )
        {
            continue;
        }
        if halted {
            break;
        }
        // Control input left for this turn, or a line without its
        // newline that will be dropped.
        let lines = &v.control.lines;
        let control_due = match lines.has_input() {
            true => Some(now),
            false => lines.deadline(),
        };
        let deadline = earliest(earliest(deadline, v.status.due()), control_due);
        // A shutdown runs cold code to its end: it is mapped back while
        // every service still runs (`sys::cold::map_back`). Otherwise
        // cold code that ran is given back once start-up is over (the
        // daemon's verdict given).
        if v.engine.is_halting() {
            if !cold_mapped_back {
                cold::map_back();
                cold_mapped_back = true;
            }
        } else if cold_due && v.role.verdict.is_none() {
            cold::release();
            cold_due = false;
        }
        let mut ready = [0u16; LISTENERS_MAX];
        let woke = wait(v, deadline.map(|at| at.ms_since(now)), &mut ready);
        let (table, pipes) = (v.world.listeners.generation, v.world.pipes.generation);
        let now = clock::now();
        if woke.signals {
            for sig in v.world.signals.drain() {
                cold_due |= on_signal(v, sig, now);
            }
        }
        // Every wake-up reaps every child that ended (part 1's promise;
        // one wait4 when there is none).
        while let Some((pid, status)) = process::reap() {
            on_exit(v, pid, status, now);
        }
        // Before control lines: a `start` that waits for `up` sees a
        // READY=1 that arrived in the same turn.
        for &i in woke.channels.iter().take(woke.n_channels) {
            on_channel(v, i.into(), now);
        }
        // A reload just now renumbered the pipes: the rings wait too.
        if pipes == v.world.pipes.generation {
            for &i in woke.rings.iter().take(woke.n_rings) {
                read_ring(v, i.into());
            }
        }
        if woke.control || v.control.lines.has_input() {
            read_control(v, now);
            // Control lines run cold code (link/layout.ld).
            cold_due = true;
        }
        if v.control.lines.deadline().is_some_and(|at| at <= now) {
            expire_control(v, now);
        }
        // A reload just now renumbered the listeners: their connections
        // wait for the next turn.
        if table == v.world.listeners.generation {
            for &i in ready.iter().take(woke.listeners) {
                on_connection(v, i.into(), now);
            }
        }
    }
    note!("all services stopped");
    v.world.listeners.close_all(v.configs.active());
    v.world.replies.finish();
    pid1::exit_code(&v.role, v.configs.active(), v.engine)
}

/// The earlier of two deadlines, either of which may be none (what
/// `[a, b].into_iter().flatten().min()` says, without the iterator
/// machinery that compiles to four times the code).
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        _ => a.or(b),
    }
}

/// poll(2) until something happens or `timeout_ms` passes. The
/// listeners with a connection waiting go into `ready` (by their
/// position in `Listeners`).
// Not inlined: its tables (a few KiB) then take stack only while it
// runs, not under every other call of the loop.
#[inline(never)]
fn wait(v: &mut Vigild, timeout_ms: Option<u64>, ready: &mut [u16; LISTENERS_MAX]) -> Woke {
    let world = &mut v.world;
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
        const SIZE: usize = 2 + LISTENERS_MAX + READY_MAX + PIPES_MAX + REPLIES_MAX + MONITORS_MAX;
        let mut fds: [PollFd<'_>; SIZE] = core::array::from_fn(|_| {
            PollFd::from_borrowed_fd(world.signals.fd(), PollFlags::empty())
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
        add(world.signals.fd(), PollFlags::IN, Polled::Signals);
        add(v.control.fd.as_fd(), PollFlags::IN, Polled::Control);
        let cfg = v.configs.active();
        for (i, l) in world.listeners.iter().enumerate() {
            if v.engine.polls(cfg, l.service) {
                add(l.fd.as_fd(), PollFlags::IN, Polled::Listener(i as u16));
            }
        }
        for (i, c) in world.channels.iter() {
            add(c.fd(), PollFlags::IN, Polled::Channel(i as u16));
        }
        for (i, p) in world.pipes.iter().filter(|(_, p)| p.ring) {
            add(p.read_end(), PollFlags::IN, Polled::Ring(i as u16));
        }
        for fd in world.replies.fds() {
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
        world.replies.drop_gone(gone);
    }
    woke.listeners = n_ready;
    woke
}

/// A listener has a connection waiting: start an activate service, or
/// accept and hand the connections to workers.
// Not inlined into the loop: there it costs more code than the call.
#[inline(never)]
fn on_connection(v: &mut Vigild, i: usize, now: Instant) {
    let Some(id) = v.world.listeners.get(i).map(|l| l.service) else {
        return;
    };
    let (engine, mut fx) = Fx::of(v);
    let cfg = fx.cfg;
    match cfg.spec(id).mode {
        Mode::Activate => engine.activate(cfg, id, now, &mut fx),
        Mode::Accept => accept(v, i, id, now),
        Mode::Daemon | Mode::Oneshot | Mode::Pool => {}
    }
}

/// Act on signal `sig`; true if that ran cold code.
fn on_signal(v: &mut Vigild, sig: i32, now: Instant) -> bool {
    let cfg = v.configs.active();
    match pid1::meaning(sig, &v.role, cfg, v.engine) {
        Meaning::Forwarded => return false,
        Meaning::Halt(action) => {
            halt_with(action, &mut v.role, cfg, v.engine);
            return false;
        }
        Meaning::Usual => {}
    }
    match sig {
        libc::SIGHUP => reload(v, now, None),
        libc::SIGINT | libc::SIGTERM | libc::SIGQUIT => shutdown(sig, cfg, v.engine),
        libc::SIGUSR2 => shutdown_gracefully(v),
        libc::SIGUSR1 => restart_running(v, now),
        _ => {} // SIGCHLD only wakes the loop; reaping follows.
    }
    // Every other signal but SIGCHLD runs cold code (a reload, commands,
    // a shutdown: link/layout.ld).
    sig != libc::SIGCHLD
}

fn on_exit(v: &mut Vigild, pid: Pid, status: ExitStatus, now: Instant) {
    // What it said before it ended comes first: a READY=1 (or
    // STOPPING=1, STATUS=) still queued on its channel when the exit is
    // seen in the same turn would otherwise go with the channel (systemd
    // reads its notify socket before SIGCHLD for the same reason).
    // (A pool's channel has no pid of its own; the worker table is only
    // searched when one exists, not on every accept worker's exit.)
    let cfg = v.configs.active();
    let engine = &*v.engine;
    let mine = |c: &Channel| match c.pid {
        Pid(0) => engine.pool_of(cfg, pid) == Some(c.service),
        own => own == pid,
    };
    let channel = v.world.channels.iter().find(|(_, c)| mine(c));
    if let Some((i, _)) = channel {
        on_channel(v, i, now);
    }
    let (engine, mut fx) = Fx::of(v);
    let cfg = fx.cfg;
    // Not a service: an orphan vigild adopted as subreaper. Reaped, done.
    let _ = engine.exited(cfg, now, pid, status, &mut fx);
}

/// Keep what ring `i`'s service wrote: read straight into its place in
/// the ring memory, a few reads per turn.
// Not inlined into the loop: there it costs more code than the call.
#[inline(never)]
fn read_ring(v: &mut Vigild, i: usize) {
    let cfg = v.configs.active();
    let world = &mut v.world;
    let Some(pipe) = world.pipes.get_mut(i).filter(|p| p.ring) else {
        return;
    };
    let Some(place) = cfg.ring(pipe.service) else {
        return;
    };
    let ring = &mut world.rings[ring_span(place)];
    for _ in 0..RING_READS_PER_TURN {
        let at = (pipe.written % ring.len() as u64) as usize;
        match rustix::io::read(pipe.read_end(), &mut ring[at..]) {
            Ok(n @ 1..) => pipe.written += n as u64,
            _ => break,
        }
    }
}

//! Requests on the control FIFO (vigild(8) CONTROL FIFO): lines read (a bounded number a
//! turn), parsed, acted on, answered on the asker's reply FIFO: start,
//! stop, restart, signal, log, reload, shutdown and its kinds, monitor.

use super::answers::send;
use super::effects::Fx;
use super::parts::Vigild;
use super::pipes::ring_span;
use super::reload::reload;
use super::replies::{Wait, monitor_line_to};
use super::shutdown::{halt_with, shutdown};
use super::status_file::write_then_answer;
use crate::sys::Errno;
use crate::sys::fs::write_all;
use crate::sys::message::{note, say};
use crate::sys::power::Action;
use crate::sys::run_dir::open_reply;
use rustix::fd::{AsFd, BorrowedFd};
use vigild_engine::control::{LineError, Piece, Verb, parse_line};
use vigild_engine::fixed::{Lossy, Plain, ServiceId};
use vigild_engine::limits::LINE_MAX;
use vigild_engine::machine::{Answer, Command};
use vigild_engine::time::Instant;
use vigild_engine::unix::{ErrnoName, HolderPid};

/// Control lines acted on per loop turn, and reads of the FIFO
/// (`control_fifo::INPUT_MAX` bytes each: 16 KiB).
const LINES_PER_TURN: usize = 64;
const READS_PER_TURN: usize = 16;

/// Act on control lines: at most `LINES_PER_TURN` lines and
/// `READS_PER_TURN` reads of the FIFO, so that a writer that never
/// stops cannot delay signals, reaping, timers or the status file;
/// what is left waits for the next turn (which does not sleep).
#[inline(never)] // its buffer takes stack only while it runs
pub fn read_control(v: &mut Vigild, now: Instant) {
    let mut line = [0u8; LINE_MAX];
    let (mut lines, mut reads) = (0, 0);
    while lines < LINES_PER_TURN {
        if let Some(piece) = v.control.lines.next(now, &mut line) {
            lines += 1;
            on_piece(v, piece, now);
            continue;
        }
        if reads == READS_PER_TURN {
            break;
        }
        reads += 1;
        match rustix::io::read(&v.control.fd, v.control.lines.room()) {
            Ok(n @ 1..) => v.control.lines.filled(n),
            Err(Errno::INTR) => continue,
            Ok(0) | Err(_) => break,
        }
    }
}

/// A line left without its newline for a second is dropped (once).
// Not inlined into the hot caller: cold code, as all of this file.
#[inline(never)]
pub fn expire_control(v: &mut Vigild, now: Instant) {
    if v.control.lines.expire(now) && v.control.warnings.allow(now) {
        say!("control: error: a line without its newline for 1s was dropped");
    }
}

fn on_piece(v: &mut Vigild, piece: Piece<'_>, now: Instant) {
    match piece {
        Piece::TooLong if v.control.warnings.allow(now) => {
            say!("control: error: {}", LineError::TooLong)
        }
        Piece::TooLong => {}
        Piece::Line(line) => on_line(v, line, now),
    }
}

/// One control line: parse, act, answer. Not inlined into the loop over
/// the lines: there its code grows by a sixth (values kept across the
/// loop's turns).
#[inline(never)]
fn on_line(v: &mut Vigild, text: &[u8], now: Instant) {
    let line = parse_line(text);
    let warnings = &mut v.control.warnings;
    let control = v.control.fd.as_fd();
    let reply = line.reply.and_then(|path| match open_reply(path, control) {
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
                ErrnoName(e.raw_os_error() as u16)
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
            if v.control.warnings.allow(now) {
                say!("control: error: {e}: \"{}\"", Lossy(text));
            }
            return answer(format_args!("error - {e}"));
        }
    };
    let name = Lossy(request.name);
    let cfg = v.configs.active();
    let warnings = &mut v.control.warnings;
    // Without reply= nobody would hear of it.
    let mut not_known = || {
        if reply.is_none() && warnings.allow(now) {
            say!("control: error: not-known {name}");
        }
        answer(format_args!("not-known {name}"))
    };
    // The service a verb about one names, if it is in force.
    let service = || cfg.find(request.name).filter(|&id| !cfg.spec(id).removed);
    match request.verb {
        Verb::Start | Verb::Stop | Verb::Restart | Verb::Signal => {
            let Some(id) = service() else {
                return not_known();
            };
            let cmd = match request.verb {
                Verb::Start => Command::Start(id),
                Verb::Stop => Command::Stop(id),
                Verb::Restart => Command::Restart(id),
                _ => Command::Signal(id, request.signal),
            };
            let (engine, mut fx) = Fx::of(v);
            let result = engine.command(fx.cfg, now, cmd, &mut fx);
            let wait = match (result, request.verb) {
                (Answer::Starting, _) | (Answer::Stopping, Verb::Restart) => Some(Wait::Up(id)),
                (Answer::Stopping, _) => Some(Wait::Down(id)),
                _ => None,
            };
            // A final answer (`stopped` of a listening service) goes out
            // once the status file shows it, as a waited-for one does.
            if wait.is_none() {
                let cfg = v.configs.active();
                write_then_answer(&mut v.status, cfg, v.engine, &mut v.world, false);
            }
            match result {
                Answer::NotRunning => answer(format_args!("error {name} not running")),
                other => answer(format_args!("{} {name}", Plain(other.word()))),
            }
            if let (Some(wait), Some(fd)) = (wait, reply)
                && let Err(fd) = v.world.replies.wait(fd, wait)
            {
                send(
                    fd.as_fd(),
                    format_args!("error {name} too many requests waiting"),
                );
            }
        }
        Verb::Log => {
            let Some(id) = service() else {
                return not_known();
            };
            if let Some(fd) = &reply {
                send_ring(v, fd.as_fd(), id);
            }
        }
        Verb::Reload => {
            reload(v, now, reply.as_ref().map(|fd| fd.as_fd()));
        }
        Verb::Shutdown | Verb::Poweroff | Verb::Reboot | Verb::Halt => {
            if v.engine.is_halting() {
                return answer(format_args!("in-shutdown vigild"));
            }
            answer(format_args!("stopping vigild"));
            let (role, engine) = (&mut v.role, &mut *v.engine);
            match request.verb {
                _ if !role.ends_machine(cfg) => shutdown(0, cfg, engine),
                Verb::Reboot => halt_with(Action::Reboot, role, cfg, engine),
                Verb::Halt => halt_with(Action::Halt, role, cfg, engine),
                _ => halt_with(Action::Poweroff, role, cfg, engine),
            }
            if let Some(fd) = reply {
                // Answered with `stopped vigild` when vigild exits.
                let _ = v.world.replies.wait(fd, Wait::Shutdown);
            }
        }
        Verb::Monitor => {
            let Some(fd) = reply else {
                if v.control.warnings.allow(now) {
                    say!("control: monitor without reply= ignored");
                }
                return;
            };
            let mut lost = 0;
            for id in cfg.ids().filter(|&id| !cfg.spec(id).removed) {
                let slot = v.engine.slot(id);
                // ` (pid N)`, as after a lock's holder: a service without
                // a process shows none (0: no process has pid 0).
                let pid = HolderPid(slot.state.pid().map_or(0, |p| p.0 as u32));
                let (name, state) = (Lossy(cfg.name(id)), Plain(slot.state.name()));
                monitor_line_to(fd.as_fd(), &mut lost, format_args!("{name}: {state}{pid}"));
            }
            if let Err(fd) = v.world.replies.monitor(fd) {
                send(fd.as_fd(), format_args!("error - too many monitors"));
            }
        }
        Verb::Reexec => super::reexec::on_reexec(v, request, reply, now),
        Verb::SwitchRoot => super::switch_root::on_switch_root(v, request, reply, now),
    }
}

/// SIGUSR1: restart every running service (the engine chooses which).
// Not inlined into the hot caller: cold code, as all of this file.
#[inline(never)]
pub fn restart_running(v: &mut Vigild, now: Instant) {
    note!("got SIGUSR1, restarting every running service");
    let (engine, mut fx) = Fx::of(v);
    engine.restart_running(fx.cfg, now, &mut fx);
}

/// `log NAME`: the ring's last SIZE bytes, oldest first, from the first
/// whole line once some were lost: `log NAME BYTES`, then the bytes.
fn send_ring(v: &Vigild, fd: BorrowedFd<'_>, id: ServiceId) {
    let cfg = v.configs.active();
    let name = Lossy(cfg.name(id));
    let (Some(place), Some(pipe)) = (cfg.ring(id), v.world.pipes.ring_of(id)) else {
        send(
            fd,
            format_args!("error {name} has no ring (log = ring:SIZE)"),
        );
        return;
    };
    let (written, size) = (pipe.written, place.size);
    let ring = &v.world.rings[ring_span(place)];
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

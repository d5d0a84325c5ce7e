//! Daemon mode (vigild(8)): started from a shell (not PID 1, no `-f`), vigild
//! forks. The child starts a session of its own, leaves the terminal and
//! supervises; the foreground process relays every start-up message to the
//! terminal and exits with the verdict: 0 once the child says start-up is
//! done (the control FIFO open, every autostart service started), else the
//! child's own exit code (2 configuration, 1 everything else), or 1 if
//! start-up takes longer than `-T`.

use super::role::{Role, Verdict};
use super::status_file::{StatusFile, write_then_answer};
use super::world::World;
use crate::sys::fs::{stderr, write_all};
use crate::sys::message::{say, tee_messages};
use crate::sys::signal::setup::ignore_sigpipe;
use crate::sys::stdio::{devnull, open_log_file, replace_stdio};
use crate::sys::{Errno, clock, notify, process};
use core::ffi::c_int;
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fd::{AsFd, AsRawFd, OwnedFd};
use vigild_engine::config::{Config, DurationText};
use vigild_engine::fixed::Lossy;
use vigild_engine::machine::{Reason, State, Supervisor};
use vigild_engine::unix::ErrnoName;

/// The byte that says "start-up is done" (never part of a message line,
/// which is text ending in a newline).
const DONE: u8 = 0x06;

/// How long the foreground process keeps relaying a daemon's messages
/// after it told it to stop (start-up too slow).
const STOP_RELAY_MS: u64 = 10_000;

/// Fork. The foreground process relays and exits (this never returns
/// there); the daemon gets its verdict pipe, its stdio moved to /dev/null
/// (stdout and stderr to `log_file` if given), and a session of its own.
/// `Err(code)` if it could not even fork.
// Not inlined into start-up: there it costs more code than the call.
#[inline(never)]
pub fn detach(log_file: Option<&[u8]>, timeout_ms: u64) -> Result<Verdict, c_int> {
    let failed = |what: &[u8], e: Errno| {
        say!(
            "fatal: {}: {}",
            Lossy(what),
            ErrnoName(e.raw_os_error() as u16)
        );
        1
    };
    let null = devnull().map_err(|e| failed(b"/dev/null", e))?;
    let out = match log_file {
        // Named as the option it came from (ENXIO: a FIFO, ELOOP: a link
        // -l does not take; vigild(8) says which files it takes).
        Some(path) => open_log_file(path).map_err(|e| {
            say!("-l {}: {}", Lossy(path), ErrnoName(e.raw_os_error() as u16));
            1
        })?,
        None => null.try_clone().map_err(|e| failed(b"/dev/null", e))?,
    };
    let (read_end, write_end) = notify::pipe().map_err(|e| failed(b"pipe", e))?;
    match process::fork() {
        Err(e) => Err(failed(b"fork", e)),
        Ok(Some(child)) => {
            drop(write_end);
            process::exit(relay(read_end, child, timeout_ms))
        }
        Ok(None) => {
            drop(read_end);
            // A foreground process gone (Ctrl-C) must not take the daemon
            // with it at its next message (vigild ignores SIGPIPE for good
            // a little later, with its signals).
            ignore_sigpipe();
            process::setsid();
            replace_stdio(null.as_fd(), true);
            replace_stdio(out.as_fd(), false);
            tee_messages(write_end.as_raw_fd());
            Ok(Verdict { fd: write_end })
        }
    }
}

/// The foreground process: copy the daemon's messages to stderr until it
/// says start-up is done (0), or closes the pipe by exiting (its code), or
/// `timeout_ms` passes (then it is told to stop: 1).
fn relay(from: OwnedFd, child: i32, timeout_ms: u64) -> i32 {
    let mut deadline = clock::now().plus_ms(timeout_ms);
    let mut timed_out = false;
    let mut buf = [0u8; 1024];
    loop {
        // What is in the pipe first: a DONE that came just in time counts.
        let now = clock::now();
        let mut fds = [PollFd::new(&from, PollFlags::IN)];
        let _ = poll(&mut fds, Some(&clock::timespec(deadline.ms_since(now))));
        if !fds[0].revents().is_empty() {
            match rustix::io::read(&from, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let bytes = buf.get(..n).unwrap_or_default();
                    let text = bytes.strip_suffix(&[DONE]);
                    let _ = write_all(stderr(), text.unwrap_or(bytes));
                    if text.is_some() && !timed_out {
                        return 0;
                    }
                    continue;
                }
                Err(Errno::INTR | Errno::AGAIN) => continue,
                Err(_) => break,
            }
        }
        if clock::now() < deadline {
            continue;
        }
        if timed_out {
            break;
        }
        say!(
            "start-up did not finish within {}, stopping",
            DurationText(timeout_ms)
        );
        let _ = process::kill(child, libc::SIGTERM as u8, false);
        timed_out = true;
        deadline = clock::now().plus_ms(STOP_RELAY_MS);
    }
    // Ended before start-up was done: a failure, whatever the code.
    match timed_out {
        true => 1,
        false => process::exit_code_of(child).max(1),
    }
}

/// Daemon mode, while the foreground process waits: done once every
/// autostart service has been started (the status file written first: it
/// is there before the command returns); failed (every service stops,
/// vigild exits 1) if one of them could not be. True if that shutdown
/// begins now.
// Not inlined into the hot caller: cold code, as all of this file.
#[inline(never)]
pub fn judge_start_up(
    role: &mut Role,
    status: &mut StatusFile,
    cfg: &Config,
    engine: &mut Supervisor,
    world: &mut World,
) -> bool {
    if role.start_failed {
        return false;
    }
    let autostart = || {
        cfg.ids()
            .filter(|&id| cfg.spec(id).autostart && !cfg.spec(id).removed)
    };
    // Never to be started: its program could not be, or what it
    // waits for failed for good, or it gave up. Said at once, not at -T.
    let never = |id| {
        let slot = engine.slot(id);
        matches!(slot.reason, Reason::SpawnFailed(_))
            || slot.state == State::Down && !slot.wanted_up() && slot.reason != Reason::None
    };
    if let Some(id) = autostart().find(|&id| never(id)) {
        say!(
            "start-up failed: {} could not be started ({}), stopping every service",
            Lossy(cfg.name(id)),
            engine.slot(id).reason
        );
        role.start_failed = true;
        engine.shutdown(cfg, false);
        return true;
    } else if autostart().all(|id| engine.has_started(id))
        && let Some(verdict) = role.verdict.take()
    {
        write_then_answer(status, cfg, engine, world, true);
        tee_messages(-1);
        let _ = write_all(verdict.fd.as_fd(), &[DONE]);
    }
    false
}

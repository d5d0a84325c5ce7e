//! vigild as PID 1 and in container mode (vigild(8) PID 1, CONTAINER MODE): what a signal
//! means there, the end of the `main` service, and the exit code. How the
//! machine ends is `shutdown`.

use super::role::Role;
use crate::sys::message::note;
use crate::sys::power::Action;
use crate::sys::process;
use vigild_engine::config::Config;
use vigild_engine::fixed::Lossy;
use vigild_engine::machine::{Reason, Supervisor};
use vigild_engine::unix::SignalName;

/// Signals container mode passes on to the main service's process group.
const FORWARDED: [i32; 6] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// How the signal is taken.
pub enum Meaning {
    /// Passed on to the main service (container mode).
    Forwarded,
    /// PID 1's shutdown with this end.
    Halt(Action),
    /// What it means outside PID 1 (vigild(8) SIGNALS).
    Usual,
}

/// Container mode: the main service, if it has a process now.
fn main_pid(cfg: &Config, engine: &Supervisor) -> Option<i32> {
    Some(engine.slot(cfg.main()?).state.pid()?.0)
}

/// What `sig` means here, and what was done about it if it was
/// forwarded. Container mode forwards while main runs; PID 1 follows
/// BusyBox init: USR2 poweroff, TERM and INT (Ctrl-Alt-Del) reboot,
/// USR1 halt.
pub fn meaning(sig: i32, role: &Role, cfg: &Config, engine: &mut Supervisor) -> Meaning {
    if FORWARDED.contains(&sig)
        && let (Some(main), Some(pid)) = (cfg.main(), main_pid(cfg, engine))
    {
        note!("forwarding SIG{} to main", SignalName(sig as u8));
        let _ = process::kill(pid, sig as u8, true);
        // INT, TERM and QUIT end the container (`docker stop`): main's end
        // is its last, even with `restart = always`, and vigild then exits
        // with its status, as tini does.
        if matches!(sig, libc::SIGINT | libc::SIGTERM | libc::SIGQUIT) {
            engine.let_end(main);
        }
        return Meaning::Forwarded;
    }
    if !role.ends_machine(cfg) {
        return Meaning::Usual;
    }
    match sig {
        libc::SIGUSR2 => Meaning::Halt(Action::Poweroff),
        libc::SIGTERM | libc::SIGINT => Meaning::Halt(Action::Reboot),
        libc::SIGUSR1 => Meaning::Halt(Action::Halt),
        _ => Meaning::Usual,
    }
}

/// Container mode: once the main service has ended for good, every
/// other service stops and vigild exits with main's status. True if
/// that shutdown begins now.
pub fn check_main(cfg: &Config, engine: &mut Supervisor) -> bool {
    let ended = cfg
        .main()
        .filter(|&main| !engine.is_halting() && engine.has_ended(main));
    if let Some(main) = ended {
        note!(
            "{}: the main service ended, stopping every service",
            Lossy(cfg.name(main))
        );
        engine.shutdown(cfg, false);
    }
    ended.is_some()
}

/// vigild's exit code: in container mode main's status (128+N for
/// signal N; 127 and 126 as a shell says it could not run a program),
/// else 0.
pub fn exit_code(role: &Role, cfg: &Config, engine: &Supervisor) -> i32 {
    if role.start_failed {
        return 1;
    }
    let Some(main) = cfg.main() else { return 0 };
    let slot = engine.slot(main);
    match (slot.last(), slot.reason) {
        (Some(status), _) => status.shell_code(),
        (None, Reason::SpawnFailed(errno)) if i32::from(errno) == libc::ENOENT => 127,
        (None, Reason::SpawnFailed(_)) => 126,
        (None, _) => 0,
    }
}

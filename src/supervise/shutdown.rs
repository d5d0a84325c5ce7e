//! The end: a shutdown asked for (a request, a signal), PID 1's end of the
//! machine once every service is down (TERM and KILL to what is left,
//! sync, `finish`, reboot(2)), and what vigild leaves behind at exit.
//! Cold code (link/layout.ld), mapped back when a shutdown begins.

use super::containment::Containment;
use super::launch::DEFAULT_PATH;
use super::parts::Vigild;
use super::role::Role;
use crate::sys::message::{note, say};
use crate::sys::power::{self, Action};
use crate::sys::run_dir::remove_run_dir;
use crate::sys::signal::Signals;
use crate::sys::spawn::{Plan, spawn};
use crate::sys::{args, clock, process};
use core::ffi::c_char;
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fd::AsFd;
use vigild_engine::config::Config;
use vigild_engine::fixed::Plain;
use vigild_engine::limits::{ARGV_MAX, ENV_MAX};
use vigild_engine::machine::Supervisor;
use vigild_engine::unix::{ErrnoName, SignalName};

/// How long the processes left after the services get between TERM and
/// KILL (vigild(8) SIGNALS), and how long they get to be gone after KILL.
const TERM_GRACE_MS: u64 = 2000;
const KILL_GRACE_MS: u64 = 1000;

/// How long `finish` may run before it is killed and the machine ends anyway.
const FINISH_TIMEOUT_MS: u64 = 30_000;

/// Shutdown by a request (`sig` 0) or a signal; SIGQUIT is the fast
/// kind and may also hurry an orderly shutdown already under way.
// Not inlined into the hot caller: cold code, as all of this file.
#[inline(never)]
pub fn shutdown(sig: i32, cfg: &Config, engine: &mut Supervisor) {
    let fast = sig == libc::SIGQUIT;
    if engine.is_halting() && !fast && !engine.is_graceful() {
        return;
    }
    match sig {
        0 => note!("shutdown requested, stopping every service"),
        libc::SIGQUIT => {
            note!("got SIGQUIT, fast shutdown: TERM to every service, KILL after 1s")
        }
        _ => note!("got SIG{}, stopping every service", SignalName(sig as u8)),
    }
    engine.shutdown(cfg, fast);
}

/// SIGUSR2: a graceful shutdown, no new connections, workers finish, then
/// every service stops.
// Not inlined into the hot caller: cold code, as all of this file.
#[inline(never)]
pub fn shutdown_gracefully(v: &mut Vigild) {
    if v.engine.is_halting() {
        return;
    }
    note!(
        "got SIGUSR2, graceful shutdown: no new connections, workers finish, then every service stops"
    );
    let cfg = v.configs.active();
    v.engine.shutdown_gracefully(cfg);
    // Nothing is accepted any more: new clients are refused, not left
    // waiting in a backlog.
    v.world.listeners.close_all(cfg);
}

/// PID 1: the end `action` once every service is down (the first
/// request decides).
// Not inlined into the hot caller: cold code, as all of this file.
#[inline(never)]
pub fn halt_with(action: Action, role: &mut Role, cfg: &Config, engine: &mut Supervisor) {
    if engine.is_halting() && !engine.is_graceful() {
        return;
    }
    role.halt = action;
    note!("{}: stopping every service", Plain(action.word()));
    engine.shutdown(cfg, false);
}

/// The loop is over: container mode's private run directory goes, and PID
/// 1 (but in container mode) ends the machine.
pub fn leave(v: &mut Vigild) {
    if let Some(path) = &v.world.private_run_dir {
        remove_run_dir(v.world.dir.as_fd(), path.as_str().as_bytes());
    }
    // The configuration in force decides: a reload may have added or
    // dropped `main`.
    if v.role.ends_machine(v.configs.active()) {
        power_down(v);
    }
}

/// PID 1, every service down: TERM to every process left, KILL 2 s
/// later, sync, `finish ACTION`, reboot(2); or for `switch_root`, after
/// the KILL, the new root and its init. If the kernel refuses
/// (a container without CAP_SYS_BOOT) vigild exits, which ends the
/// container.
fn power_down(v: &mut Vigild) -> ! {
    let signals = &v.world.signals;
    // Not only vigild's children: also what entered from outside (a
    // `docker exec`, a kernel helper). The waits end early once no
    // child of vigild is left.
    for (sig, grace) in [
        (libc::SIGTERM, TERM_GRACE_MS),
        (libc::SIGKILL, KILL_GRACE_MS),
    ] {
        note!("sending SIG{} to every process", SignalName(sig as u8));
        power::kill_every_process(sig as u8);
        wait_children(signals, None, grace);
    }
    // The services' cgroups go (exit does not run destructors).
    v.world.containment = Containment::Groups;
    let halt = v.role.halt;
    if halt == Action::SwitchRoot {
        super::switch_root::enter();
    }
    power::sync();
    run_finish(v.configs.active(), halt, &v.world.signals);
    note!("{}", Plain(halt.word()));
    let e = power::reboot(halt);
    say!(
        "reboot(2) refused: {}, exiting",
        ErrnoName(e.raw_os_error() as u16)
    );
    process::exit(0)
}

/// Run `finish ACTION` and wait for it (at most `FINISH_TIMEOUT_MS`).
fn run_finish(cfg: &Config, halt: Action, signals: &Signals) {
    let words = cfg.arena.words(cfg.global.finish);
    if cfg.global.finish.is_empty() {
        return;
    }
    let action = match halt {
        Action::Poweroff => b"poweroff\0".as_slice(),
        Action::Reboot => b"reboot\0",
        Action::Halt | Action::SwitchRoot => b"halt\0",
    };
    let mut argv = [core::ptr::null::<c_char>(); ARGV_MAX + 2];
    // The last slot stays NULL (`finish` has at most ARGV_MAX words).
    for (slot, word) in argv[..=ARGV_MAX].iter_mut().zip(words.chain([action])) {
        *slot = word.as_ptr().cast();
    }
    let mut envp = [core::ptr::null::<c_char>(); ENV_MAX + 1];
    for (slot, (ptr, _)) in envp[..ENV_MAX].iter_mut().zip(args::environment()) {
        *slot = ptr;
    }
    let plan = Plan {
        argv: &argv,
        envp: &envp,
        path: args::getenv(b"PATH").unwrap_or(DEFAULT_PATH),
        exe: None,
        stdio: [0, 1, 2],
        fds: &[],
        listen_pid: None,
        ready_fd: None,
        console: b"\0",
        dir: b"/\0",
        umask: 0o022,
        nofile: 0,
        creds: None,
        cgroup: None,
        block_term: false,
    };
    note!("running finish {}", Plain(halt.word()));
    match spawn(&plan) {
        Ok(pid) => {
            if !wait_children(signals, Some(pid), FINISH_TIMEOUT_MS) {
                say!("finish: still running after 30s, killed");
                let _ = process::kill(pid, libc::SIGKILL as u8, true);
                wait_children(signals, Some(pid), KILL_GRACE_MS);
            }
        }
        Err((e, _)) => say!(
            "finish: unable to spawn: {}",
            ErrnoName(e.raw_os_error() as u16)
        ),
    }
}

/// Reap children until `pid` has ended (or, for `None`, none is left),
/// at most `ms`; true if that happened in time.
fn wait_children(signals: &Signals, pid: Option<i32>, ms: u64) -> bool {
    let deadline = clock::now().plus_ms(ms);
    loop {
        while let Some((reaped, _)) = process::reap() {
            if Some(reaped.0) == pid {
                return true;
            }
        }
        if pid.is_none() && !power::has_children() {
            return true;
        }
        let now = clock::now();
        if now >= deadline {
            return false;
        }
        // SIGCHLD (blocked, read from the signalfd) says when to look again.
        let mut fds = [PollFd::from_borrowed_fd(signals.fd(), PollFlags::IN)];
        let _ = poll(&mut fds, Some(&clock::timespec(deadline.ms_since(now))));
        let _ = signals.drain().count();
    }
}

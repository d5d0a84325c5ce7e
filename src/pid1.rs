//! vigild as PID 1 and in container mode (SPEC §1, §8): what a signal or a
//! shutdown request means there, the end of the `main` service, and the
//! end of the machine.

use crate::containment::Containment;
use crate::driver::Driver;
use crate::log::say;
use crate::sys::init::{self, Action};
use crate::sys::spawn::{Plan, spawn};
use crate::sys::{args, clock, process};
use core::ffi::c_char;
use rustix::event::{PollFd, PollFlags, poll};
use vigild_engine::fixed::Lossy;
use vigild_engine::limits::ARGV_MAX;
use vigild_engine::machine::Reason;
use vigild_engine::unix::{ErrnoName, SignalName};

/// Signals container mode passes on to the main service's process group.
const FORWARDED: [i32; 6] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// How long the processes left after the services get between TERM and
/// KILL (SPEC §8), and how long they get to be gone after KILL.
const TERM_GRACE_MS: u64 = 2000;
const KILL_GRACE_MS: u64 = 1000;

/// How long `finish` may run before it is killed and the machine ends anyway.
const FINISH_TIMEOUT_MS: u64 = 30_000;

/// How the signal is taken.
pub enum Meaning {
    /// Passed on to the main service (container mode).
    Forwarded,
    /// PID 1's shutdown with this end.
    Halt(Action),
    /// What it means outside PID 1 (SPEC §8's table).
    Usual,
}

impl Driver {
    /// Container mode: the main service, if it has a process now.
    fn main_pid(&self) -> Option<i32> {
        let cfg = self.configs.active();
        Some(self.sv.slot(cfg.main()?).state.pid()?.0)
    }

    /// What `sig` means here, and what was done about it if it was
    /// forwarded. Container mode forwards while main runs; PID 1 follows
    /// BusyBox init: USR2 poweroff, TERM and INT (Ctrl-Alt-Del) reboot,
    /// USR1 halt.
    pub fn meaning(&mut self, sig: i32) -> Meaning {
        if FORWARDED.contains(&sig)
            && let Some(pid) = self.main_pid()
        {
            say!("forwarding SIG{} to main", SignalName(sig as u8));
            let _ = process::kill(pid, sig as u8, true);
            return Meaning::Forwarded;
        }
        if !self.pid1 || self.configs.active().main().is_some() {
            return Meaning::Usual;
        }
        match sig {
            libc::SIGUSR2 => Meaning::Halt(Action::Poweroff),
            libc::SIGTERM | libc::SIGINT => Meaning::Halt(Action::Reboot),
            libc::SIGUSR1 => Meaning::Halt(Action::Halt),
            _ => Meaning::Usual,
        }
    }

    /// PID 1: the end `action` once every service is down (the first
    /// request decides).
    pub fn halt_with(&mut self, action: Action) {
        if self.sv.is_halting() && !self.sv.is_graceful() {
            return;
        }
        self.halt = action;
        say!("{}: stopping every service", action.word());
        self.sv.shutdown(self.configs.active(), false);
    }

    /// Container mode: once the main service has ended for good, every
    /// other service stops and vigild exits with main's status. True if
    /// that shutdown begins now.
    pub fn check_main(&mut self) -> bool {
        let cfg = self.configs.active();
        let ended = cfg
            .main()
            .filter(|&main| !self.sv.is_halting() && self.sv.has_ended(main));
        if let Some(main) = ended {
            say!(
                "{}: the main service ended, stopping every service",
                Lossy(cfg.name(main))
            );
            self.sv.shutdown(cfg, false);
        }
        ended.is_some()
    }

    /// vigild's exit code: in container mode main's status (128+N for
    /// signal N; 127 and 126 as a shell says it could not run a program),
    /// else 0.
    pub fn exit_code(&self) -> i32 {
        if self.start_failed {
            return 1;
        }
        let cfg = self.configs.active();
        let Some(main) = cfg.main() else { return 0 };
        let slot = self.sv.slot(main);
        match (slot.last(), slot.reason) {
            (Some(status), _) => status.shell_code(),
            (None, Reason::SpawnFailed(errno)) if i32::from(errno) == libc::ENOENT => 127,
            (None, Reason::SpawnFailed(_)) => 126,
            (None, _) => 0,
        }
    }

    /// PID 1, every service down: TERM to every process left, KILL 2 s
    /// later, sync, `finish ACTION`, reboot(2). If the kernel refuses
    /// (a container without CAP_SYS_BOOT) vigild exits, which ends the
    /// container.
    pub fn power_down(&mut self) -> ! {
        // Not only vigild's children: also what entered from outside (a
        // `docker exec`, a kernel helper). The waits end early once no
        // child of vigild is left.
        for (sig, grace) in [
            (libc::SIGTERM, TERM_GRACE_MS),
            (libc::SIGKILL, KILL_GRACE_MS),
        ] {
            say!("sending SIG{} to every process", SignalName(sig as u8));
            init::kill_every_process(sig as u8);
            self.wait_children(None, grace);
        }
        // The services' cgroups go (exit does not run destructors).
        self.containment = Containment::Groups;
        init::sync();
        self.run_finish();
        say!("{}", self.halt.word());
        let e = init::reboot(self.halt);
        say!(
            "reboot(2) refused: {}, exiting",
            ErrnoName(e.raw_os_error() as u16)
        );
        process::exit(0)
    }

    /// Run `finish ACTION` and wait for it (at most `FINISH_TIMEOUT_MS`).
    fn run_finish(&mut self) {
        let cfg = self.configs.active();
        let words = cfg.arena.words(cfg.global.finish);
        if cfg.global.finish.is_empty() {
            return;
        }
        let action = match self.halt {
            Action::Poweroff => b"poweroff\0".as_slice(),
            Action::Reboot => b"reboot\0",
            Action::Halt => b"halt\0",
        };
        let mut argv = [core::ptr::null::<c_char>(); ARGV_MAX + 2];
        // The last slot stays NULL (`finish` has at most ARGV_MAX words).
        for (slot, word) in argv[..=ARGV_MAX].iter_mut().zip(words.chain([action])) {
            *slot = word.as_ptr().cast();
        }
        let mut envp = [core::ptr::null::<c_char>(); vigild_engine::limits::ENV_MAX + 1];
        for (slot, (ptr, _)) in envp[..vigild_engine::limits::ENV_MAX]
            .iter_mut()
            .zip(args::environment())
        {
            *slot = ptr;
        }
        let plan = Plan {
            argv: &argv,
            envp: &envp,
            path: args::getenv(b"PATH").unwrap_or(crate::launch::DEFAULT_PATH),
            exe: None,
            stdio: [0, 1, 2],
            fds: &[],
            listen_pid: None,
            ready_fd: None,
            dir: b"/\0",
            umask: 0o022,
            nofile: 0,
            creds: None,
            cgroup: None,
            block_term: false,
        };
        say!("running finish {}", self.halt.word());
        match spawn(&plan) {
            Ok(pid) => {
                if !self.wait_children(Some(pid), FINISH_TIMEOUT_MS) {
                    say!("finish: still running after 30s, killed");
                    let _ = process::kill(pid, libc::SIGKILL as u8, true);
                    self.wait_children(Some(pid), KILL_GRACE_MS);
                }
            }
            Err(e) => say!(
                "finish: unable to spawn: {}",
                ErrnoName(e.raw_os_error() as u16)
            ),
        }
    }

    /// Reap children until `pid` has ended (or, for `None`, none is left),
    /// at most `ms`; true if that happened in time.
    fn wait_children(&mut self, pid: Option<i32>, ms: u64) -> bool {
        let deadline = clock::now().plus_ms(ms);
        loop {
            while let Some((reaped, _)) = process::reap() {
                if Some(reaped.0) == pid {
                    return true;
                }
            }
            if pid.is_none() && !init::has_children() {
                return true;
            }
            let now = clock::now();
            if now >= deadline {
                return false;
            }
            // SIGCHLD (blocked, read from the signalfd) says when to look again.
            let mut fds = [PollFd::from_borrowed_fd(self.signals.fd(), PollFlags::IN)];
            let _ = poll(&mut fds, Some(&clock::timespec(deadline.ms_since(now))));
            let _ = self.signals.drain().count();
        }
    }
}

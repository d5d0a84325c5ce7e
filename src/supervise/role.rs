//! How this vigild runs, which decides how it tells and how it ends: as
//! PID 1 (a power-down), in daemon mode (a foreground process waits for the
//! verdict of its start-up), with `-d FD` (told once everything is up).

use crate::sys::power::Action;
use rustix::fd::OwnedFd;
use vigild_engine::config::Config;

/// How this vigild runs.
pub struct Role {
    /// vigild is PID 1.
    pub pid1: bool,
    /// What PID 1 does once every service is down.
    pub halt: Action,
    /// Daemon mode: the foreground process waits for this verdict.
    pub verdict: Option<Verdict>,
    /// Daemon mode: an autostart service could not be started.
    pub start_failed: bool,
    /// `-d FD`: told once every autostart service is up.
    pub ready_fd: Option<OwnedFd>,
}

impl Role {
    /// True if vigild's end is the machine's: PID 1 without a main service
    /// (in container mode, main's end is vigild's, the machine goes on).
    pub fn ends_machine(&self, cfg: &Config) -> bool {
        self.pid1 && cfg.main().is_none()
    }
}

/// The daemon's end of the verdict pipe (`daemonize`).
pub struct Verdict {
    pub fd: OwnedFd,
}

//! What vigild holds in the world for its services: the run directory, the
//! signalfd, `/dev/null`, the listening sockets, the log pipes and rings,
//! the readiness channels, the requests waiting for an answer, and how
//! every process of a service is found.

use super::containment::Containment;
use super::launch::WorkerSetup;
use super::listeners::Listeners;
use super::pipes::{Pipe, Pipes};
use super::readiness::{Channels, NOTICE_MAX};
use super::replies::Replies;
use crate::sys::signal::Signals;
use rustix::fd::{AsFd, OwnedFd};
use vigild_engine::config::Config;
use vigild_engine::fixed::{ArrayStr, ServiceId};

/// Longest private run directory (`$XDG_RUNTIME_DIR/vigild.PID`).
pub const PRIVATE_MAX: usize = 96;

/// Everything vigild holds open for its services.
pub struct World {
    /// The run directory.
    pub dir: OwnedFd,
    /// The run directory's lock, held while vigild runs.
    pub _lock: OwnedFd,
    /// Container mode's own run directory, removed at exit.
    pub private_run_dir: Option<ArrayStr<PRIVATE_MAX>>,
    /// The signalfd.
    pub signals: Signals,
    /// `/dev/null`.
    pub devnull: OwnedFd,
    /// The listening sockets.
    pub listeners: Listeners,
    /// The log pipes.
    pub pipes: Pipes,
    /// The memory of every `ring:SIZE` log.
    pub rings: &'static mut [u8],
    /// The readiness channels of running services.
    pub channels: Channels,
    /// Where a notification datagram is read into (lent out while it is).
    pub notice: Option<&'static mut [u8; NOTICE_MAX]>,
    /// Open reply FIFOs.
    pub replies: Replies,
    /// What the accept service that last spawned a worker starts it with.
    pub worker_setup: Option<WorkerSetup>,
    /// How every process of a service is found.
    pub containment: Containment,
}

/// The fd for `id`'s stdout and stderr (`Pipes::output_of`): one copy
/// for a spawn and an accept worker, here in hot code (the pipes' module
/// is cold, link/layout.ld).
#[inline(never)]
pub fn output_of(pipes: &Pipes, devnull: &OwnedFd, cfg: &Config, id: ServiceId) -> Option<i32> {
    pipes.output_of(cfg, id, devnull.as_fd())
}

/// The cgroup to start `id` in (`Containment::cgroup_for`): one copy for
/// a spawn and an accept worker, as `output_of`.
#[inline(never)]
pub fn cgroup_for(containment: &Containment, cfg: &Config, id: ServiceId) -> Option<OwnedFd> {
    containment.cgroup_for(cfg, id)
}

impl Pipes {
    /// The pipe `service` reads (or its ring): one copy for every search,
    /// a spawn's among them. Here, not in `pipes`, whose code is cold
    /// (link/layout.ld names an inherent method after the module of its
    /// impl block).
    #[inline(never)]
    pub fn find(&self, service: ServiceId, ring: bool) -> Option<&Pipe> {
        self.iter()
            .map(|(_, p)| p)
            .find(|p| p.service == service && p.ring == ring)
    }
}

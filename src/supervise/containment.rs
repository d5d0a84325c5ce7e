//! How vigild finds every process of a service (vigild.conf(5) `contain`): one
//! cgroup v2 per service where the kernel offers it, the service's process
//! group otherwise (or with `contain = group`). Decided once at start-up
//! and said then; PID 1 started before /sys is mounted looks again before
//! each start until it is. Cold code (link/layout.ld) but for what each
//! start and end of a service asks, inlined into it.

use crate::sys::cgroup::{Cgroups, Name, Unavailable};
use crate::sys::message::{note, say};
use crate::sys::{Errno, process};
use rustix::fd::OwnedFd;
use vigild_engine::config::{Config, Contain};
use vigild_engine::fixed::{Lossy, Plain, ServiceId, copy_cut};
use vigild_engine::unix::{ErrnoName, Pid};

/// Longest run directory (a notify socket's name holds it too).
const RUN_MAX: usize = 108;

/// What is in force.
pub enum Containment {
    /// A cgroup per service.
    Cgroups(Cgroups),
    /// PID 1 before /sys was mounted: looked for again before each start
    /// (a oneshot usually mounts /sys), for this run directory (its path,
    /// cut, and its device and inode).
    Later([u8; RUN_MAX], usize, (u64, u64)),
    /// Process groups only.
    Groups,
}

impl Containment {
    /// Find cgroup v2 and take vigild's directory there for `run_dir`,
    /// whose device and inode are `run_id` (as PID 1, mount cgroup2 if
    /// /sys is there and nothing mounted it); say once which containment
    /// is in force.
    // Not inlined into the hot caller: cold code, as all of this file.
    #[inline(never)]
    pub fn new(run_dir: &[u8], run_id: (u64, u64), pid1: bool) -> Containment {
        let mut path = [0u8; 1024];
        match Cgroups::open(run_dir, run_id, pid1, &mut path) {
            Ok((cgroups, len, left)) => {
                let path = Lossy(path.get(..len).unwrap_or_default());
                note!("containment: a cgroup per service, in {path}");
                if left > 0 {
                    say!(
                        "ended {left} processes that a vigild killed before on this run directory had left running"
                    );
                }
                Containment::Cgroups(cgroups)
            }
            Err(Unavailable::NotMounted) if pid1 => {
                note!(
                    "containment: process groups until /sys is mounted (then a cgroup per service)"
                );
                let mut run = [0; RUN_MAX];
                let len = copy_cut(&mut run, run_dir);
                Containment::Later(run, len, run_id)
            }
            Err(why) => {
                // Formatted straight into the line (no buffer of its own).
                let why: &dyn core::fmt::Display = match why {
                    Unavailable::NotMounted => &Plain("no cgroup2 mounted"),
                    Unavailable::NoOwnCgroup => {
                        &Plain("vigild's own cgroup is not in the cgroup2 mount")
                    }
                    Unavailable::Refused(e) => &ErrnoName(e.raw_os_error() as u16),
                };
                note!("containment: process groups (cgroup v2: {why})");
                Containment::Groups
            }
        }
    }

    /// PID 1 before /sys was mounted: look again now (before a start).
    #[inline(always)]
    pub fn look_again(&mut self) {
        if let Containment::Later(run, len, run_id) = self {
            let (run, run_id) = (*run, *run_id);
            let run = run.get(..*len).unwrap_or_default();
            if crate::sys::at::statat(
                rustix::fs::CWD,
                b"/sys/fs/cgroup",
                rustix::fs::AtFlags::empty(),
            )
            .is_ok()
            {
                *self = Containment::new(run, run_id, true);
                if let Containment::Later(..) = self {
                    *self = Containment::Groups;
                }
            }
        }
    }

    /// True if `id` is contained by a cgroup (as the status file says).
    #[inline(always)]
    pub fn by_cgroup(&self, cfg: &Config, id: ServiceId) -> bool {
        self.cgroups(cfg, id).is_some()
    }

    /// The cgroup to start `id` in, if it is contained by one (made if
    /// missing; a failure is said, and it starts in no cgroup).
    #[inline(always)]
    pub fn cgroup_for(&self, cfg: &Config, id: ServiceId) -> Option<OwnedFd> {
        let cgroups = self.cgroups(cfg, id)?;
        cgroups
            .service(&Name::of(cfg.name(id)))
            .inspect_err(|e: &Errno| {
                say!(
                    "{}: unable to make its cgroup ({}): started in its process group only",
                    Lossy(cfg.name(id)),
                    ErrnoName(e.raw_os_error() as u16)
                )
            })
            .ok()
    }

    /// Send `signal` to every process of `id`: its cgroup's or, when that
    /// lists none, those of the process groups `groups`, whatever its
    /// `contain` says now: the processes of a run started before a reload
    /// changed it are where that run was started.
    // Not inlined into the hot caller: cold code, as all of this file.
    #[inline(never)]
    pub fn kill_all(
        &self,
        cfg: &Config,
        id: ServiceId,
        groups: &mut dyn Iterator<Item = Pid>,
        signal: u8,
    ) {
        // Not both: a process signalled twice may take the second as
        // fatal (a soft stop's USR1 that restored its default action).
        if let Containment::Cgroups(c) = self
            && c.kill(&Name::of(cfg.name(id)), signal)
        {
            return;
        }
        for group in groups {
            // ESRCH: every process of the group is gone already.
            let _ = process::kill(group.0, signal, true);
        }
    }

    /// True while a process of `id` is left: in its cgroup, or in the
    /// process group `group` (as for `kill_all`, both).
    #[inline(always)]
    pub fn populated(&self, cfg: &Config, id: ServiceId, group: Option<Pid>) -> bool {
        let in_cgroup = match self {
            Containment::Cgroups(c) => c.populated(&Name::of(cfg.name(id))),
            _ => None,
        };
        in_cgroup == Some(true) || group.is_some_and(|g| process::group_exists(g.0))
    }

    /// vigild's cgroups, if `id` is to be contained by one.
    #[inline(always)]
    fn cgroups(&self, cfg: &Config, id: ServiceId) -> Option<&Cgroups> {
        match self {
            Containment::Cgroups(c) if cfg.spec(id).contain == Contain::Cgroup => Some(c),
            _ => None,
        }
    }
}

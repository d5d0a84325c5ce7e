//! The socket modes' admission: when vigild polls a service's listening
//! sockets (activate: until its first connection; accept: while below its
//! limits), and whether an accept service's new connection gets a worker
//! (`max_workers`, `max_per_ip`, `drop_timeout`).

use super::{Admit, Effects, Halt, Peer, State, Supervisor};
use crate::config::{Config, Mode};
use crate::fixed::ServiceId;
use crate::time::{Instant, earliest};
use crate::unix::Pid;

/// How long an accept service's listener rests after accept(2) ran out of
/// fds or memory.
const ACCEPT_PAUSE_MS: u64 = 100;

impl Supervisor {
    /// True if the driver should poll the listening sockets of `id` now:
    /// an activate service waiting for its first connection, or an accept
    /// service below its limits (or past `drop_timeout` at them).
    pub fn polls(&self, cfg: &Config, id: ServiceId) -> bool {
        if !matches!(self.slots[id.index()].state, State::Listening) || self.halt != Halt::No {
            return false;
        }
        match cfg.spec(id).mode {
            Mode::Activate => true,
            Mode::Accept => {
                // A full worker table (all services together) keeps clients
                // waiting as `max_workers` does, without a drop_timeout.
                let st = &self.accepts[id.index()];
                st.paused_until.is_none()
                    && (st.dropping || (st.full_since.is_none() && self.workers.has_room()))
            }
            Mode::Daemon | Mode::Oneshot | Mode::Pool => false,
        }
    }

    /// An accept service's listener gave a connection from `peer`: may a
    /// worker serve it? Counts it, and the drop if not.
    pub fn admit(&mut self, cfg: &Config, id: ServiceId, now: Instant, peer: &Peer) -> Admit {
        let spec = cfg.spec(id);
        let full = self.accepts[id.index()].full_since.is_some() || !self.workers.has_room();
        let same_peer = match spec.max_per_ip {
            0 => 0,
            _ => self.workers.count_peer(id, peer),
        };
        self.counters_changed = true;
        let listening =
            self.halt == Halt::No && matches!(self.slots[id.index()].state, State::Listening);
        let st = &mut self.accepts[id.index()];
        st.accepted += 1;
        if !listening {
            st.dropped += 1;
            return Admit::Stopping;
        }
        if full {
            st.dropped += 1;
            let warn = st.warned_at.is_none_or(|at| now.ms_since(at) >= 1000);
            if warn {
                st.warned_at = Some(now);
            }
            return Admit::Full { warn };
        }
        if spec.max_per_ip > 0 && same_peer >= spec.max_per_ip {
            st.dropped += 1;
            return Admit::PerIpLimit;
        }
        Admit::Spawn
    }

    /// The driver spawned `pid` for a connection `admit` let in.
    pub fn worker_spawned(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        now: Instant,
        pid: Pid,
        peer: &Peer,
    ) {
        // `admit` checked that the table has room.
        if !self.workers.add(pid, id, *peer) {
            return;
        }
        self.counters_changed = true;
        let st = &mut self.accepts[id.index()];
        st.workers += 1;
        if st.workers >= cfg.spec(id).max_workers {
            st.full_since.get_or_insert(now);
        }
    }

    /// The worker for an admitted connection could not be spawned.
    pub fn worker_failed(&mut self, id: ServiceId) {
        self.counters_changed = true;
        self.accepts[id.index()].dropped += 1;
    }

    /// accept(2) failed for want of fds or memory: stop polling `id` for a
    /// moment instead of spinning on a listener that stays readable. True
    /// if this is worth a log line (one a second at most, as for drops).
    pub fn accept_failed(&mut self, id: ServiceId, now: Instant) -> bool {
        let st = &mut self.accepts[id.index()];
        st.paused_until = Some(now.plus_ms(ACCEPT_PAUSE_MS));
        let warn = st.warned_at.is_none_or(|at| now.ms_since(at) >= 1000);
        if warn {
            st.warned_at = Some(now);
        }
        warn
    }

    /// Expire an accept service's pause, and notice `drop_timeout` at the limit.
    pub(super) fn accept_timers(&mut self, cfg: &Config, id: ServiceId, now: Instant) {
        let st = &mut self.accepts[id.index()];
        if st.paused_until.is_some_and(|at| at <= now) {
            st.paused_until = None;
        }
        if let Some(at) = st.full_since
            && now.ms_since(at) >= u64::from(cfg.spec(id).drop_timeout_ms)
        {
            st.dropping = true;
        }
    }

    /// When accept service `id` next needs the loop: its pause's end, or
    /// `drop_timeout` after it became full.
    pub(super) fn accept_deadline(&self, cfg: &Config, id: ServiceId) -> Option<Instant> {
        let st = &self.accepts[id.index()];
        let drop_at = match st.full_since {
            Some(at) if !st.dropping => Some(at.plus_ms(u64::from(cfg.spec(id).drop_timeout_ms))),
            Some(_) | None => None,
        };
        earliest(st.paused_until, drop_at)
    }

    /// A worker of `id` ended: its counters (the state's part follows as
    /// `Input::WorkerEnded`).
    pub(super) fn worker_exited(&mut self, cfg: &Config, id: ServiceId) {
        self.counters_changed = true;
        let st = &mut self.accepts[id.index()];
        st.workers = st.workers.saturating_sub(1);
        if st.workers < cfg.spec(id).max_workers {
            st.full_since = None;
            st.dropping = false;
        }
    }

    /// `signal NAME SIG` to a service whose processes are its workers.
    #[inline(never)]
    pub(super) fn signal_workers(&mut self, id: ServiceId, signal: u8, fx: &mut impl Effects) {
        self.workers
            .of(id)
            .for_each(|pid| fx.kill(pid, signal, false));
    }
}

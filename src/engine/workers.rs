//! Accept mode's bookkeeping: the table of running workers (one per
//! connection, counted rather than supervised) and each service's counters.

use crate::event::Pid;
use crate::fixed::ServiceId;
use crate::limits::WORKERS_MAX;
use crate::time::Instant;

/// A connection's remote address, as compared by `max_per_ip`: IPv6 bytes
/// (an IPv4 address is mapped, `::ffff:a.b.c.d`); all zero for unix sockets.
pub type Peer = [u8; 16];

/// One running worker.
#[derive(Clone, Copy)]
struct Worker {
    /// 0 for a free entry.
    pid: i32,
    service: ServiceId,
    peer: Peer,
}

/// Every running worker of every accept service.
pub(super) struct Workers {
    table: [Worker; WORKERS_MAX],
    /// Entries in use are all below this index.
    high: usize,
    used: usize,
}

impl Workers {
    pub(super) const fn new() -> Self {
        Workers {
            table: [Worker {
                pid: 0,
                service: ServiceId(0),
                peer: [0; 16],
            }; WORKERS_MAX],
            high: 0,
            used: 0,
        }
    }

    /// True if another worker fits.
    pub(super) fn has_room(&self) -> bool {
        self.used < WORKERS_MAX
    }

    /// Record a new worker; false if the table is full.
    pub(super) fn add(&mut self, pid: Pid, service: ServiceId, peer: Peer) -> bool {
        let Some(i) = self.table[..WORKERS_MAX].iter().position(|w| w.pid == 0) else {
            return false;
        };
        self.table[i] = Worker {
            pid: pid.0,
            service,
            peer,
        };
        self.high = self.high.max(i + 1);
        self.used += 1;
        true
    }

    /// Forget the worker `pid`; the service it served, if it was one.
    pub(super) fn remove(&mut self, pid: Pid) -> Option<ServiceId> {
        let w = self.table[..self.high]
            .iter_mut()
            .find(|w| w.pid == pid.0)?;
        w.pid = 0;
        let service = w.service;
        self.used -= 1;
        while self.high > 0 && self.table[self.high - 1].pid == 0 {
            self.high -= 1;
        }
        Some(service)
    }

    /// The workers of `service`.
    pub(super) fn of(&self, service: ServiceId) -> impl Iterator<Item = Pid> + '_ {
        self.table[..self.high]
            .iter()
            .filter(move |w| w.pid != 0 && w.service == service)
            .map(|w| Pid(w.pid))
    }

    /// How many workers of `service` serve `peer`.
    pub(super) fn count_peer(&self, service: ServiceId, peer: &Peer) -> u32 {
        let same = |w: &&Worker| w.pid != 0 && w.service == service && w.peer == *peer;
        self.table[..self.high].iter().filter(same).count() as u32
    }

    /// After a reload: every worker's service under its new id.
    pub(super) fn remap(&mut self, new_index: impl Fn(ServiceId) -> ServiceId) {
        for w in self.table[..self.high].iter_mut().filter(|w| w.pid != 0) {
            w.service = new_index(w.service);
        }
    }
}

/// An accept service's counters (the status file's `workers`, `accepted`,
/// `dropped`) and the times its admission policy runs on; an activate
/// service's trigger count.
#[derive(Clone, Copy, Debug)]
pub struct AcceptStats {
    /// Workers running now.
    pub workers: u32,
    /// Connections accepted since vigild started it.
    pub accepted: u64,
    /// Connections closed without a worker (`max_per_ip`, `drop_timeout`,
    /// a failed spawn).
    pub dropped: u64,
    /// Since when `max_workers` are running (None when below).
    pub(super) full_since: Option<Instant>,
    /// Full for `drop_timeout` already: new connections are accepted and closed.
    pub(super) dropping: bool,
    /// accept(2) ran out of fds or memory: not polled until then.
    pub(super) paused_until: Option<Instant>,
    /// The last warning about dropped connections (one per second at most).
    pub(super) warned_at: Option<Instant>,
    /// Activate mode: clean runs in the current trigger window, and its start.
    pub(super) triggers: u32,
    pub(super) triggers_since: Instant,
}

impl AcceptStats {
    pub(super) const EMPTY: AcceptStats = AcceptStats {
        workers: 0,
        accepted: 0,
        dropped: 0,
        full_since: None,
        dropping: false,
        paused_until: None,
        warned_at: None,
        triggers: 0,
        triggers_since: Instant::from_ms(0),
    };
}

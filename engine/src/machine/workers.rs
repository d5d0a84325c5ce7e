//! The bookkeeping of services with many processes: the table of running
//! workers (accept mode's, one per connection; pool mode's, preforked) and
//! each service's counters.

use crate::fixed::ServiceId;
use crate::limits::WORKERS_MAX;
use crate::time::Instant;
use crate::unix::Pid;

/// A connection's remote address, as compared by `max_per_ip`: IPv6 bytes
/// (an IPv4 address is mapped, `::ffff:a.b.c.d`); all zero for unix sockets.
pub type Peer = [u8; 16];

/// One running worker.
#[derive(Clone, Copy)]
pub(super) struct Worker {
    /// 0 for a free entry.
    pub(super) pid: i32,
    pub(super) service: ServiceId,
    /// Accept mode: the client's address.
    peer: Peer,
    /// Pool mode: the last `X_AVAILABLE` (slots it can still take) and the
    /// most it ever reported (taken as its capacity).
    pub(super) available: u32,
    pub(super) capacity: u32,
    /// Pool mode: it reported at least once (it finished starting up).
    pub(super) reported: bool,
    /// Pool mode: vigild sent it SIGINT for being idle.
    pub(super) interrupted: bool,
    /// Pool mode: when KILL follows the SIGINT (`stop_timeout` after it,
    /// a second at least).
    pub(super) kill_at: Option<Instant>,
    /// Pool mode: since when all its slots are free.
    pub(super) idle_since: Option<Instant>,
}

impl Worker {
    const FREE: Worker = Worker {
        pid: 0,
        service: ServiceId(0),
        peer: [0; 16],
        available: 0,
        capacity: 0,
        reported: false,
        interrupted: false,
        kill_at: None,
        idle_since: None,
    };
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
            table: [Worker::FREE; WORKERS_MAX],
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
            ..Worker::FREE
        };
        self.high = self.high.max(i + 1);
        self.used += 1;
        true
    }

    /// Forget the worker `pid`; its record, if it was one.
    pub(super) fn remove(&mut self, pid: Pid) -> Option<Worker> {
        let w = self.table[..self.high]
            .iter_mut()
            .find(|w| w.pid == pid.0)?;
        let gone = *w;
        w.pid = 0;
        self.used -= 1;
        while self.high > 0 && self.table[self.high - 1].pid == 0 {
            self.high -= 1;
        }
        Some(gone)
    }

    /// The worker `pid`, if it is one.
    pub(super) fn get_mut(&mut self, pid: Pid) -> Option<&mut Worker> {
        self.table[..self.high].iter_mut().find(|w| w.pid == pid.0)
    }

    /// Every worker's record.
    pub(super) fn records_any(&self) -> impl Iterator<Item = &Worker> + '_ {
        self.table[..self.high].iter().filter(|w| w.pid != 0)
    }

    /// The records of `service`'s workers.
    pub(super) fn records(&self, service: ServiceId) -> impl Iterator<Item = &Worker> + '_ {
        self.table[..self.high]
            .iter()
            .filter(move |w| w.pid != 0 && w.service == service)
    }

    /// The records of `service`'s workers, to change.
    pub(super) fn records_mut(
        &mut self,
        service: ServiceId,
    ) -> impl Iterator<Item = &mut Worker> + '_ {
        self.table[..self.high]
            .iter_mut()
            .filter(move |w| w.pid != 0 && w.service == service)
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
    /// Pool mode: failed worker exits in the current second, and its start.
    pub(super) exit_failures: u32,
    pub(super) exit_failures_since: Instant,
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
        exit_failures: 0,
        exit_failures_since: Instant::from_ms(0),
    };
}

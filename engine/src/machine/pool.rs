//! Pool mode (dovecot's master): preforked workers that accept on the
//! service's sockets by themselves and report `X_AVAILABLE=n` (client slots
//! they can still take). The pool grows when every worker is full, shrinks
//! back to `procs_min` when workers sit idle, and is throttled when its
//! workers keep failing.

use super::step::Told;
use super::workers::Worker;
use super::{Effects, Halt, Reason, State, Supervisor, TRIGGER_BURST, TRIGGER_WINDOW_MS};
use crate::config::{Config, Mode};
use crate::fixed::ServiceId;
use crate::time::{Instant, earliest};
use crate::unix::{ExitStatus, Pid, SIGKILL};

/// Workers forked per loop turn, over all pools (the rest follow next turn).
const SPAWNS_PER_TURN: u32 = 10;

/// More failed exits than this within a second throttle a pool (dovecot's
/// limit), even from workers that had started up fine.
const FAILURES_PER_SECOND: u32 = 10;

/// SIGINT: how an idle worker is asked to go (dovecot's choice too).
const SIGINT: u8 = 2;

/// The worker table is full.
const EAGAIN: u16 = 11;

impl Supervisor {
    /// The workers of pool `id` and the client slots they report free
    /// (the status file's `procs` and `available`).
    pub fn pool_counts(&self, id: ServiceId) -> (u32, u32) {
        let workers = self.workers.records(id);
        let available = workers.map(|w| w.available).fold(0u32, u32::saturating_add);
        (self.accepts[id.index()].workers, available)
    }

    /// The pool whose worker `pid` is, if it is one.
    pub fn pool_of(&self, cfg: &Config, pid: Pid) -> Option<ServiceId> {
        let w = self.workers.records_any().find(|w| w.pid == pid.0)?;
        (cfg.spec(w.service).mode == Mode::Pool).then_some(w.service)
    }

    /// Worker `pid` of pool `id` reported `X_AVAILABLE=n`. When no worker
    /// has a free slot left, one more is started (up to `procs_max`).
    pub fn available(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        pid: Pid,
        n: u32,
        now: Instant,
        fx: &mut impl Effects,
    ) {
        let Some(w) = self.workers.get_mut(pid).filter(|w| w.service == id) else {
            return;
        };
        w.reported = true;
        w.capacity = w.capacity.max(n);
        w.available = n;
        w.idle_since = match n > 0 && n == w.capacity {
            true => w.idle_since.or(Some(now)),
            false => None,
        };
        self.counters_changed = true;
        let all_busy = self
            .workers
            .records(id)
            .filter(|w| !w.interrupted)
            .all(|w| w.reported && w.available == 0);
        let room = self.accepts[id.index()].workers < cfg.spec(id).procs_max;
        if all_busy && room && self.pool_running(cfg, id) {
            self.spawn_worker(cfg, id, now, fx);
        }
    }

    /// Once per loop turn, for every pool: start workers up to `procs_min`
    /// (at most `SPAWNS_PER_TURN` in all), and interrupt the ones idle
    /// for longer than `idle_kill` while more than `procs_min` run.
    pub(super) fn pool_tick(&mut self, cfg: &Config, now: Instant, fx: &mut impl Effects) {
        let mut budget = SPAWNS_PER_TURN.saturating_sub(self.pool_spawns);
        for id in cfg.ids().filter(|&id| cfg.spec(id).mode == Mode::Pool) {
            // An interrupted worker that ignored its SIGINT.
            for w in self.workers.records_mut(id) {
                if w.kill_at.is_some_and(|at| at <= now) {
                    fx.kill(Pid(w.pid), SIGKILL, true);
                    w.kill_at = None;
                }
            }
            if !self.pool_running(cfg, id) {
                continue;
            }
            let spec = cfg.spec(id);
            while budget > 0 && self.accepts[id.index()].workers < spec.procs_min {
                budget -= 1;
                if !self.spawn_worker(cfg, id, now, fx) {
                    break;
                }
            }
            let mut staying = self.workers.records(id).filter(|w| !w.interrupted).count();
            for w in self.workers.records_mut(id) {
                if staying <= spec.procs_min as usize {
                    break;
                }
                if !w.interrupted && idle_kill_at(w, spec.idle_kill_ms).is_some_and(|at| at <= now)
                {
                    fx.kill(Pid(w.pid), SIGINT, false);
                    w.interrupted = true;
                    // The SIGINT asks for a clean exit: even with
                    // `stop_timeout = 0` it gets a second.
                    let grace = u64::from(spec.stop_timeout_ms).max(1000);
                    w.kill_at = Some(now.plus_ms(grace));
                    staying -= 1;
                }
            }
        }
    }

    /// When pool `id` next needs the loop: now while it is short of
    /// `procs_min`, else when its first idle worker is due to go or an
    /// interrupted one to be killed.
    pub(super) fn pool_deadline(&self, cfg: &Config, id: ServiceId) -> Option<Instant> {
        // In one pass over its workers: the first kill due (`kill_at`);
        // of those that stay (not interrupted), how many, and the first
        // idle kill.
        let spec = cfg.spec(id);
        let (mut kill, mut staying, mut idle) = (None, 0, None);
        for w in self.workers.records(id) {
            kill = earliest(kill, w.kill_at);
            if !w.interrupted {
                staying += 1;
                idle = earliest(idle, idle_kill_at(w, spec.idle_kill_ms));
            }
        }
        if !self.pool_running(cfg, id) {
            return kill;
        }
        if self.accepts[id.index()].workers < spec.procs_min && self.workers.has_room() {
            return Some(Instant::from_ms(0));
        }
        earliest(kill, idle.filter(|_| staying > spec.procs_min as usize))
    }

    /// A worker of pool `id` ended. A failure before it ever reported (it
    /// never got going), or too many failures in a second, throttle the
    /// pool: no new workers for a delay that doubles up to the backoff cap,
    /// until a worker exits cleanly. Clean exits of workers that never
    /// reported are counted like an activate service's activations: past
    /// `TRIGGER_BURST` within `TRIGGER_WINDOW_MS` the pool is throttled
    /// too (a worker that exits 0 at once would otherwise be replaced at
    /// once, forever).
    pub(super) fn pool_worker_ended(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        worker: &Worker,
        status: ExitStatus,
        now: Instant,
        fx: &mut impl Effects,
    ) {
        let spec = cfg.spec(id);
        let st = &mut self.accepts[id.index()];
        let slot = &mut self.slots[id.index()];
        if worker.interrupted || (status.success() && worker.reported) {
            st.exit_failures = 0;
            slot.delay_ms = spec.backoff_first_ms;
            return;
        }
        if status.success() {
            if now.ms_since(st.triggers_since) >= TRIGGER_WINDOW_MS {
                (st.triggers, st.triggers_since) = (0, now);
            }
            st.triggers += 1;
            if st.triggers > TRIGGER_BURST {
                self.throttle(cfg, id, Reason::TriggerLimit, now, fx);
            }
            return;
        }
        slot.set_last(Some(status));
        if now.ms_since(st.exit_failures_since) >= 1000 {
            (st.exit_failures, st.exit_failures_since) = (0, now);
        }
        st.exit_failures += 1;
        if !worker.reported || st.exit_failures > FAILURES_PER_SECOND {
            self.throttle(cfg, id, Reason::Throttled, now, fx);
        }
    }

    /// Start pool `id`: `up` once a worker runs. Its first worker is
    /// started here, so that a pool whose program cannot be spawned fails
    /// like any service (and `start` answers `start-failed`); one still
    /// running (after a throttle) is enough. (Past the turn's fork budget,
    /// the first worker too is left to `pool_tick`.)
    pub(super) fn start_pool(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        now: Instant,
        fx: &mut impl Effects,
    ) {
        if self.accepts[id.index()].workers == 0 && self.pool_spawns < SPAWNS_PER_TURN {
            self.pool_spawns += 1;
            let spawned = match self.workers.has_room() {
                true => fx.spawn(id),
                false => Err(EAGAIN),
            };
            match spawned {
                Ok(pid) => self.worker_started(id, pid),
                Err(errno) => {
                    self.spawn_failed(id, errno, now);
                    return self.judge(cfg, id, now, false, fx);
                }
            }
            self.slots[id.index()].run_start = now;
        }
        self.set_state(id, now, State::Up { pid: None }, Told::Yes, fx);
    }

    fn worker_started(&mut self, id: ServiceId, pid: Pid) {
        self.workers.add(pid, id, [0; 16]);
        self.accepts[id.index()].workers += 1;
        self.counters_changed = true;
    }

    /// Start one worker of pool `id`; false if it could not be.
    fn spawn_worker(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        now: Instant,
        fx: &mut impl Effects,
    ) -> bool {
        if !self.workers.has_room() {
            return false;
        }
        match fx.spawn(id) {
            Ok(pid) => {
                self.worker_started(id, pid);
                true
            }
            Err(errno) => {
                self.throttle(cfg, id, Reason::SpawnFailed(errno), now, fx);
                false
            }
        }
    }

    /// No new workers for a while: `backoff` (the running workers go on).
    fn throttle(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        why: Reason,
        now: Instant,
        fx: &mut impl Effects,
    ) {
        if !self.pool_running(cfg, id) {
            return;
        }
        let spec = cfg.spec(id);
        let slot = &mut self.slots[id.index()];
        let delay = slot.delay_ms.max(1);
        slot.delay_ms = delay.saturating_mul(2).min(spec.backoff_cap_ms.max(1));
        slot.reason = why;
        let until = now.plus_ms(u64::from(delay));
        self.set_state(id, now, State::Backoff { until }, Told::Yes, fx);
    }

    /// True while pool `id` is wanted and may start workers.
    fn pool_running(&self, cfg: &Config, id: ServiceId) -> bool {
        let slot = &self.slots[id.index()];
        matches!(slot.state, State::Up { pid: None })
            && slot.want_up
            && self.halt == Halt::No
            && !cfg.spec(id).removed
    }
}

/// When an idle worker is due to be interrupted: `idle_kill` after it
/// became idle, plus up to a tenth more, by pid, so that idle workers do
/// not all go at once.
fn idle_kill_at(w: &Worker, idle_kill_ms: u32) -> Option<Instant> {
    let jitter = u64::from(idle_kill_ms) / 10 * (w.pid.unsigned_abs() as u64 % 97) / 97;
    Some(w.idle_since?.plus_ms(u64::from(idle_kill_ms) + jitter))
}

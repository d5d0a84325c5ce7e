//! What `after =` orders at start: a service starts once what it waits
//! for is up. Each loop turn walks the services in that order and gives
//! each its turn as `Input::Due` (the stop order is `halt.rs`).

use super::{Deps, Effects, Input, State, Supervisor};
use crate::config::{Config, Log};
use crate::fixed::ServiceId;
use crate::time::Instant;

impl Supervisor {
    /// True if what `id` waits for (`after`) is up. Its log pipe's reader
    /// need not be: vigild holds the pipe, so the service may start and
    /// write while its logger waits out a backoff.
    pub(super) fn deps_ready(&self, cfg: &Config, id: ServiceId) -> bool {
        let log = cfg.spec(id).log;
        cfg.after(id).all(|dep| {
            let state = self.slots[dep.index()].state;
            state.is_ready() || (log == Log::Pipe(dep) && !matches!(state, State::Down))
        })
    }

    /// What `id` waits for, as far as its start goes: a dependency that is
    /// down and no longer wanted failed for good.
    fn deps(&self, cfg: &Config, id: ServiceId) -> Deps {
        let failed = cfg.after(id).any(|dep| {
            let d = &self.slots[dep.index()];
            matches!(d.state, State::Down) && !d.want_up
        });
        match (failed, self.deps_ready(cfg, id)) {
            (true, _) => Deps::Failed,
            (false, true) => Deps::Ready,
            (false, false) => Deps::Waiting,
        }
    }

    /// Give every service its turn to start, in dependency order, so that
    /// a chain of instantly-ready services comes up in one pass.
    pub(super) fn start_in_order(&mut self, cfg: &Config, now: Instant, fx: &mut impl Effects) {
        if self.is_halting() {
            return;
        }
        for id in cfg.start_order() {
            // Removed services are the stop order's: a removed logger in
            // backoff waits there until its writers are gone, to drain.
            // Only one down or in backoff can start: what the others wait
            // for is not looked at, every loop turn.
            let idle = matches!(
                self.slots[id.index()].state,
                State::Down | State::Backoff { .. }
            );
            if idle && !cfg.spec(id).removed {
                let deps = self.deps(cfg, id);
                self.step(cfg, id, Input::Due(deps), now, fx);
            }
        }
    }
}

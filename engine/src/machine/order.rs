//! What `after =` orders: a service starts once what it waits for is up,
//! and stops (in a shutdown, or removed by a reload) once every service
//! that waits for it is down. Each loop turn walks the services in that
//! order and gives each its turn as an `Input` (`Due`, `Halt`).

use super::{Deps, Effects, Input, State, Supervisor};
use crate::config::{Config, Log};
use crate::fixed::ServiceId;
use crate::limits::MAX_SERVICES;
use crate::time::Instant;

impl Supervisor {
    /// Set `want_up` on every service `pick` selects and on everything they
    /// wait for, transitively (walking dependents before dependencies).
    pub(super) fn want_up_with_deps(&mut self, cfg: &Config, pick: impl Fn(ServiceId) -> bool) {
        let mut marked = [false; MAX_SERVICES];
        for id in cfg.start_order().rev() {
            if pick(id) && !cfg.spec(id).removed {
                marked[id.index()] = true;
            }
            if marked[id.index()] {
                for dep in cfg.after(id) {
                    marked[dep.index()] = true;
                }
            }
        }
        for id in cfg.ids() {
            let slot = &mut self.slots[id.index()];
            if marked[id.index()] && !slot.want_up {
                slot.want_up = true;
                slot.reason = super::Reason::None;
                slot.window_failures = 0;
                slot.delay_ms = cfg.spec(id).backoff_first_ms;
            }
        }
    }

    /// True if what `id` waits for (`after`) is up. Its log pipe's reader
    /// need not be: vigild holds the pipe, so the service may start and
    /// write while its logger waits out a backoff.
    pub(super) fn deps_ready(&self, cfg: &Config, id: ServiceId) -> bool {
        let log = cfg.spec(id).log;
        cfg.after(id).all(|dep| {
            let state = self.slots[dep.index()].state;
            state.is_ready() || (log == Log::Pipe(dep) && state != State::Down)
        })
    }

    /// What `id` waits for, as far as its start goes: a dependency that is
    /// down and no longer wanted failed for good.
    fn deps(&self, cfg: &Config, id: ServiceId) -> Deps {
        let failed = cfg.after(id).any(|dep| {
            let d = &self.slots[dep.index()];
            d.state == State::Down && !d.want_up
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
            if !cfg.spec(id).removed {
                let deps = self.deps(cfg, id);
                self.step(cfg, id, Input::Due(deps), now, fx);
            }
        }
    }

    /// Give what must stop its turn (everything when halting, removed
    /// services after a reload), dependents first: each is `blocked` while
    /// a service that waits for it is not down.
    pub(super) fn stop_in_order(&mut self, cfg: &Config, now: Instant, fx: &mut impl Effects) {
        let mut blocked = [false; MAX_SERVICES];
        for id in cfg.start_order().rev() {
            if self.is_halting() || cfg.spec(id).removed {
                let blocked = blocked[id.index()];
                self.step(cfg, id, Input::Halt { blocked }, now, fx);
            }
            if self.slots[id.index()].state != State::Down {
                for dep in cfg.after(id) {
                    blocked[dep.index()] = true;
                }
            }
        }
    }
}

//! What a shutdown or a reload's removal stops, in order: every service
//! once each service that waits for it (`after`) is down, each given its
//! turn as `Input::Halt`. Runs only while vigild halts or a removed service
//! is left (cold code: link/layout.ld).

use super::{Effects, Input, State, Supervisor};
use crate::config::Config;
use crate::fixed::ServiceId;
use crate::limits::MAX_SERVICES;
use crate::time::Instant;

impl Supervisor {
    /// Give what must stop its turn (everything when halting, removed
    /// services after a reload), dependents first: each is `blocked` while
    /// a service that waits for it is not down.
    // Out of line, so that it lies with the cold code, not in the loop's.
    #[inline(never)]
    pub(super) fn stop_in_order(&mut self, cfg: &Config, now: Instant, fx: &mut impl Effects) {
        let mut blocked = [false; MAX_SERVICES];
        for id in cfg.start_order().rev() {
            if self.is_halting() || cfg.spec(id).removed {
                let blocked = blocked[id.index()];
                self.step(cfg, id, Input::Halt { blocked }, now, fx);
            }
            if !matches!(self.slots[id.index()].state, State::Down) {
                for dep in cfg.after(id) {
                    blocked[dep.index()] = true;
                }
            }
        }
    }

    /// Stop `id`, which has no main process (`state`): what it left in its
    /// cgroup is stopped, else it goes down. A logger that waits out a
    /// backoff is first started once (when nothing that writes into its
    /// pipe runs any more: `unblocked`), to drain the pipe.
    #[inline(never)]
    pub(super) fn stop_idle(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        state: State,
        now: Instant,
        unblocked: bool,
        fx: &mut impl Effects,
    ) {
        if cfg.is_logger(id) && matches!(state, State::Backoff { .. }) {
            if !unblocked {
                return;
            }
            self.spawn(cfg, id, now, fx);
            if matches!(self.slots[id.index()].state, State::Down) {
                return;
            }
        }
        match self.slots[id.index()].state.pid() {
            Some(_) => self.stop_asked(cfg, id, now, fx),
            None => self.down_unless_left(cfg, id, now, fx),
        }
    }
}

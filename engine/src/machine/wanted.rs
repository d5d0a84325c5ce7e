//! Who is wanted up: a start wants what the service waits for (`after`)
//! up too, transitively. Runs at boot, on `start` and `restart`, and at a
//! reload (cold code: link/layout.ld).

use super::{Reason, Slot, Supervisor};
use crate::config::Config;
use crate::fixed::ServiceId;
use crate::limits::MAX_SERVICES;

impl Supervisor {
    /// Set `want_up` on every service `pick` selects and on everything they
    /// wait for, transitively (walking dependents before dependencies).
    /// (Out of line, and one copy for every `pick`: cold code.)
    #[inline(never)]
    pub(super) fn want_up_with_deps(&mut self, cfg: &Config, pick: &dyn Fn(ServiceId) -> bool) {
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
                wanted_afresh(slot, cfg.spec(id).backoff_first_ms);
            }
        }
    }

    /// A start asked for by a person: it and what it waits for are wanted
    /// up, and its past failures are forgotten (`restart_max` counts
    /// anew, the backoff starts from its first delay).
    #[inline(never)]
    pub(super) fn start_wanted(&mut self, cfg: &Config, id: ServiceId) {
        self.want_up_with_deps(cfg, &|x| x == id);
        wanted_afresh(&mut self.slots[id.index()], cfg.spec(id).backoff_first_ms);
    }
}

/// `slot` is wanted up, its past failures forgotten.
fn wanted_afresh(slot: &mut Slot, backoff_first_ms: u32) {
    slot.want_up = true;
    slot.reason = Reason::None;
    slot.window_failures = 0;
    slot.delay_ms = backoff_first_ms;
}

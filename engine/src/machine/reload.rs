//! A reload: the running table takes over a new configuration. Unchanged
//! services keep running untouched, changed ones restart, added ones start
//! if autostart, removed ones stop (carried in the new configuration until
//! they are down).

use super::{AcceptStats, Effects, Input, Slot, State, StopCause, Supervisor};
use crate::config::Config;
use crate::fixed::{Full, ServiceId};
use crate::limits::MAX_SERVICES;
use crate::time::Instant;

impl Supervisor {
    /// First step of a reload: carry every removed service that has not
    /// stopped yet into `new`, where it stays until it is down. On `Err` the
    /// caller discards `new`; nothing else changed.
    pub fn carry_removed(&self, old: &Config, new: &mut Config) -> Result<(), Full> {
        // In start order: a removed service's removed logger is carried
        // before it (see `Config::adopt_removed`).
        for id in old.start_order() {
            let removed = new.find(old.name(id)).is_none();
            if removed && !matches!(self.slots[id.index()].state, State::Down) {
                new.adopt_removed(old, id)?;
            }
        }
        Ok(())
    }

    /// Second step: take `new` (prepared by `carry_removed`) as the
    /// configuration.
    pub fn reload(&mut self, old: &Config, new: &Config, now: Instant, fx: &mut impl Effects) {
        // Move every kept slot to its new index: swaps only, so no slot is
        // lost before it has reached its place; then fill the new ones.
        let mut pos_of_old = [0u16; MAX_SERVICES];
        let mut old_at = [0u16; MAX_SERVICES];
        for i in 0..MAX_SERVICES {
            (pos_of_old[i], old_at[i]) = (i as u16, i as u16); // fits: MAX_SERVICES <= 65535
        }
        let mut kept = [false; MAX_SERVICES];
        // A service added back while its removed predecessor still stops:
        // a new service that inherits only the process being stopped.
        let mut readded = [false; MAX_SERVICES];
        for j in new.ids() {
            let Some(i) = old.find(new.name(j)) else {
                continue;
            };
            kept[j.index()] = true;
            readded[j.index()] = old.spec(i).removed && !new.spec(j).removed;
            let p = pos_of_old[i.index()] as usize;
            if p != j.index() {
                self.slots.swap(p, j.index());
                self.accepts.swap(p, j.index());
                let displaced = old_at[j.index()];
                pos_of_old[displaced as usize] = p as u16;
                old_at[p] = displaced;
                old_at[j.index()] = i.0;
                pos_of_old[i.index()] = j.0;
            }
            if new.spec(j).removed {
                self.slots[j.index()].want_up = false;
            }
        }
        self.workers
            .remap(|old_id| ServiceId(pos_of_old[old_id.index()]));
        for j in new.ids() {
            if !kept[j.index()] {
                self.accepts[j.index()] = AcceptStats::EMPTY;
            } else if readded[j.index()] {
                // A new service: fresh counters, but the workers of its
                // predecessor still run and are still counted.
                let workers = self.accepts[j.index()].workers;
                self.accepts[j.index()] = AcceptStats {
                    workers,
                    ..AcceptStats::EMPTY
                };
            }
            let slot = &mut self.slots[j.index()];
            let fresh = Slot {
                since: now,
                delay_ms: new.spec(j).backoff_first_ms,
                ..Slot::EMPTY
            };
            if readded[j.index()] {
                // Its predecessor's end is not judged: once it is gone, the
                // new service starts as any added one.
                *slot = Slot {
                    state: slot.state,
                    since: slot.since,
                    group: slot.group,
                    ..fresh
                };
                self.redecide_stop(j, now, StopCause::Asked, fx);
            } else if !kept[j.index()] {
                *slot = fresh;
            }
        }
        let added = |j: ServiceId| !kept[j.index()] || readded[j.index()];
        self.want_up_with_deps(new, &|j| added(j) && new.spec(j).autostart);
        // Restart the services whose section changed: a running one is
        // stopped and, still wanted up, started again with its new spec.
        for j in new.ids() {
            let Some(i) = old.find(new.name(j)).filter(|_| !added(j)) else {
                continue;
            };
            if old.spec(i).digest == new.spec(j).digest || new.spec(j).removed {
                continue;
            }
            self.slots[j.index()].delay_ms = new.spec(j).backoff_first_ms;
            self.step(new, j, Input::Changed, now, fx);
        }
    }
}

//! Growing a configuration's tables (a new service: the parser's
//! `push_spec`; a removed one carried through a reload: `adopt_removed`)
//! and finding a service by name (control lines, reloads). None of it runs
//! while vigild is at rest: cold code (link/layout.ld).

use super::{Config, MAX_SERVICES, ServiceSpec};
use crate::fixed::{Full, ServiceId, Str, Words};

impl Config {
    /// The service called `name`.
    pub fn find(&self, name: &[u8]) -> Option<ServiceId> {
        self.ids().find(|&id| self.name(id) == name)
    }

    /// Keep a service that a reload removed, until it has stopped: its name
    /// and how to stop it are copied from `old`.
    pub fn adopt_removed(&mut self, old: &Config, id: ServiceId) -> Result<ServiceId, Full> {
        if self.len() >= MAX_SERVICES {
            return Err(Full);
        }
        let from = old.spec(id);
        let name = self.arena.push(old.name(id))?;
        // It keeps waiting for its removed logger (carried before it), so
        // that the logger stops after it and reads its last lines. Nothing
        // else: a removed service has no other dependencies and nothing but
        // its service depends on a removed logger (a daemon of one process).
        let mark = self.arena.mark();
        for dep in old.after(id).filter(|&dep| old.is_logger(dep)) {
            if let Some(dep) = self.find(old.name(dep)).filter(|&d| self.spec(d).removed) {
                self.arena.push_raw(&dep.0.to_le_bytes())?;
            }
        }
        let after = self.arena.str_since(mark);
        // A logger may have to run once more, to drain its pipe (vigild.conf(5) `log`):
        // it keeps its command line and identity.
        let (mut exec, mut user, mut group) = (Words::EMPTY, Str::EMPTY, Str::EMPTY);
        if old.is_logger(id) {
            let mark = self.arena.mark();
            for word in old.arena.words(from.exec) {
                self.arena.push(crate::fixed::without_nul(word))?;
            }
            exec = self.arena.words_since(mark, from.exec.len() as u16);
            user = self.arena.push(old.arena.get(from.user))?;
            group = self.arena.push(old.arena.get(from.group))?;
        }
        let new = ServiceId(self.count);
        self.specs[new.index()] = ServiceSpec {
            name,
            mode: from.mode,
            contain: from.contain,
            exec,
            user,
            group,
            stop_signal: from.stop_signal,
            stop_timeout_ms: from.stop_timeout_ms,
            after,
            removed: true,
            ..ServiceSpec::EMPTY
        };
        self.order[new.index()] = new.0;
        self.count += 1;
        self.has_removed = true;
        Ok(new)
    }

    /// Add a service with the default settings. (One place builds a spec:
    /// each copy of that code costs hundreds of bytes.)
    pub(super) fn push_spec(&mut self, name: Str, line: u32) -> Result<ServiceId, Full> {
        if self.len() >= MAX_SERVICES {
            return Err(Full);
        }
        let id = ServiceId(self.count);
        self.specs[id.index()] = ServiceSpec::with_defaults(name, line);
        self.count += 1;
        Ok(id)
    }
}

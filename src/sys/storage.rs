//! The big tables, allocated once in `.bss` (s6-svscan's "all storage at
//! start"). They are zero bytes, so they cost nothing in the file and only
//! the pages really used count in memory.

use core::sync::atomic::{AtomicBool, Ordering};
use vigild::config::Config;
use vigild::engine::Supervisor;
use vigild::limits::CONFIG_BYTES;

/// All of vigild's large state.
pub struct Storage {
    /// The configuration in force and the one a reload parses into; they
    /// trade places when a reload succeeds.
    pub configs: [Config; 2],
    /// The supervisor's table.
    pub supervisor: Supervisor,
    /// The configuration file's text while it is parsed.
    pub text: [u8; CONFIG_BYTES],
}

static mut STORAGE: Storage = Storage {
    configs: [Config::new(), Config::new()],
    supervisor: Supervisor::new(),
    text: [0; CONFIG_BYTES],
};
static TAKEN: AtomicBool = AtomicBool::new(false);

/// The storage; `None` after the first call, so only one owner ever exists.
pub fn take() -> Option<&'static mut Storage> {
    if TAKEN.swap(true, Ordering::AcqRel) {
        return None;
    }
    let storage = &raw mut STORAGE;
    // SAFETY: the flag above makes this the only reference ever created to
    // STORAGE, and nothing else names the static.
    Some(unsafe { &mut *storage })
}

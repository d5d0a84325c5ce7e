//! The big tables, declared here and taken once at start-up
//! (`sys::storage::Once`): zero bytes in `.bss`, placed after the rest of
//! it by `link/layout.ld` (`.bss.tables`), so only their pages really used
//! count in memory.

use super::readiness::{NOTICE_MAX, StatusText};
use crate::sys::storage::{Once, Paged};
use vigild_engine::config::{Config, Errors};
use vigild_engine::control::LineReader;
use vigild_engine::limits::{CONFIG_BYTES, READY_MAX, RING_BYTES};
use vigild_engine::machine::Supervisor;

/// All of vigild's large state, in this order (`repr(C)`), each table on
/// pages of its own: the start of a table is used first, and a page shared
/// by the end of one table and the start of the next would be made
/// resident by whichever is used.
#[repr(C)]
pub struct Tables {
    /// The configuration in force and the one a reload parses into; they
    /// trade places when a reload succeeds.
    pub configs: [Config; 2],
    /// The supervisor's table.
    pub supervisor: Paged<Supervisor>,
    /// The configuration file's text while it is parsed.
    pub text: Paged<[u8; CONFIG_BYTES]>,
    /// The errors of the last parse.
    pub errors: Errors,
    /// The `STATUS=` texts of the readiness channels.
    pub status_texts: [StatusText; READY_MAX],
    /// One notification datagram while it is read.
    pub notice: [u8; NOTICE_MAX],
    /// The memory of every `ring:SIZE` log.
    pub rings: [u8; RING_BYTES],
}

/// The tables, and after them the control input's line reader. It is
/// here, not in the small `.bss` that ends the file's last page: every
/// byte there is one less for code before link/layout.ld pads the code to
/// a page. An idle vigild only reads it, which costs no memory
/// (`LineReader::room`); the first control line costs a page.
#[repr(C)]
struct Storage {
    tables: Tables,
    lines: LineReader,
}

static STORAGE: Once<Storage> = Once::new(Storage {
    tables: Tables {
        configs: [Config::new(), Config::new()],
        supervisor: Paged(Supervisor::new()),
        text: Paged([0; CONFIG_BYTES]),
        errors: Errors::new(),
        status_texts: [StatusText::EMPTY; READY_MAX],
        notice: [0; NOTICE_MAX],
        rings: [0; RING_BYTES],
    },
    lines: LineReader::new(),
});

/// The tables and the control line reader; `None` after the first call.
pub fn take() -> Option<(&'static mut Tables, &'static mut LineReader)> {
    let all = STORAGE.take()?;
    Some((&mut all.tables, &mut all.lines))
}

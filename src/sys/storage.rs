//! The big tables, allocated once in `.bss` (s6-svscan's "all storage at
//! start"). They are zero bytes, so they cost nothing in the file and only
//! the pages really used count in memory.

use super::PAGE;
use crate::readiness::{NOTICE_MAX, StatusText};
use core::sync::atomic::{AtomicBool, Ordering};
use vigild_engine::config::{Config, Errors};
use vigild_engine::control::LineReader;
use vigild_engine::limits::{CONFIG_BYTES, READY_MAX, RING_BYTES};
use vigild_engine::machine::Supervisor;

/// All of vigild's large state, in this order (`repr(C)`), each table on
/// pages of its own: the start of a table is used first, and a page shared
/// by the end of one table and the start of the next would be made
/// resident by whichever is used.
#[repr(C)]
pub struct Storage {
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

static mut STORAGE: Storage = Storage {
    configs: [Config::new(), Config::new()],
    supervisor: Paged(Supervisor::new()),
    text: Paged([0; CONFIG_BYTES]),
    errors: Errors::new(),
    status_texts: [StatusText::EMPTY; READY_MAX],
    notice: [0; NOTICE_MAX],
    rings: [0; RING_BYTES],
};
/// Control input, cut into lines: read at every loop turn, so not in the
/// tables (a page of its own there) but in the small `.bss`, on the page
/// that holds `.data`'s end, resident anyway.
static mut CONTROL: LineReader = LineReader::new();
/// True until the storage is taken (true, not false, so that it lives in
/// `.data`, a page resident anyway, not on a page of `.bss` of its own).
static UNTAKEN: AtomicBool = AtomicBool::new(true);

/// The storage and the control line reader; `None` after the first call,
/// so only one owner of each ever exists.
pub fn take() -> Option<(&'static mut Storage, &'static mut LineReader)> {
    if !UNTAKEN.swap(false, Ordering::AcqRel) {
        return None;
    }
    let (storage, control) = (&raw mut STORAGE, &raw mut CONTROL);
    // SAFETY: the flag above makes these the only references ever created
    // to STORAGE and CONTROL, and nothing else names the statics.
    Some(unsafe { (&mut *storage, &mut *control) })
}

/// A table on page boundaries (so that `release` can also give back every
/// page the configuration text touched, the last one included).
#[repr(C, align(4096))]
pub struct Paged<T>(pub T);

/// Give the pages of `buf[..used]` back to the system
/// (`madvise(MADV_DONTNEED)`): every page that lies wholly in `buf`, the
/// one holding the end of `used` too. They read as zeros afterwards. Used
/// for the configuration text, which is not needed once parsed, so even a
/// large file costs no memory while running.
pub fn release(buf: &mut [u8], used: usize) {
    release_pages(buf.as_mut_ptr(), buf.len(), used);
}

/// The same for the configuration parser's notes (`Config::scratch`),
/// which are of no use once a file is parsed.
pub fn release_scratch(cfg: &mut vigild_engine::config::Config) {
    let (start, len) = cfg.scratch();
    release_pages(start, len, len);
}

/// Give back the pages of the first `used` bytes of the `len` at `start`
/// (that memory must be ours to change, and all zero bytes must be a valid
/// state of it).
fn release_pages(start: *mut u8, len: usize, used: usize) {
    let start = start as usize;
    let first = start.next_multiple_of(PAGE);
    let end = (start + used.min(len))
        .next_multiple_of(PAGE)
        .min((start + len) / PAGE * PAGE);
    if end > first {
        // SAFETY: [first, end) lies inside the caller's region (rounded
        // inward at its ends), borrowed mutably by the callers, so nothing
        // else looks at those bytes; MADV_DONTNEED on private anonymous
        // (.bss) memory only makes them read as zeros again, a valid state
        // of what the callers give (bytes; the parser's notes).
        let _ = unsafe {
            rustix::mm::madvise(
                first as *mut core::ffi::c_void,
                end - first,
                rustix::mm::Advice::LinuxDontNeed,
            )
        };
    }
}

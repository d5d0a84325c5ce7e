//! Memory that lives as long as vigild: statics handed out once, each as
//! a `&'static mut` to its one owner (s6-svscan's "all storage at start":
//! the big tables are zero bytes in `.bss`, which cost nothing in the file,
//! and only the pages really used count in memory), and pages of memory
//! given back to the system once what they hold is of no more use.

use super::PAGE;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};
use vigild_engine::fixed::ZeroablePart;

/// A static that is taken once.
pub struct Once<T>(UnsafeCell<T>);

// SAFETY: the content is only ever reached through the one `&'static mut`
// that `take` hands out (once per static), never through the static
// itself; `T: Send` because its owner may be on any thread.
unsafe impl<T: Send> Sync for Once<T> {}

/// The addresses of the statics taken so far (0: a free entry). In the
/// small `.bss`, on the page `.data` ends on, resident anyway.
static TAKEN: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

impl<T> Once<T> {
    /// A static holding `value` (zero bytes for `.bss`).
    pub const fn new(value: T) -> Self {
        Once(UnsafeCell::new(value))
    }

    /// The content, the first time this static is taken; `None` after
    /// that (and once `TAKEN` is full), so that only one owner exists.
    // A `&mut` from a shared reference: the `UnsafeCell`, handed out once.
    #[allow(clippy::mut_from_ref)]
    pub fn take(&'static self) -> Option<&'static mut T> {
        let at = self.0.get() as usize;
        for entry in &TAKEN {
            match entry.compare_exchange(0, at, Ordering::AcqRel, Ordering::Acquire) {
                // SAFETY: this static's address was not in `TAKEN`, and is
                // now: no other reference to its content was ever made
                // (nothing else reaches the `UnsafeCell`), nor will be.
                Ok(_) => return Some(unsafe { &mut *self.0.get() }),
                Err(taken) if taken == at => return None,
                Err(_) => {}
            }
        }
        None
    }
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

/// The same for memory the engine says may be given back (the
/// configuration parser's notes, `Config::scratch`: valid as zero bytes,
/// and unused until the next parse writes them).
pub fn release_part(part: ZeroablePart<'_>) {
    release_pages(part.start(), part.len(), part.len());
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
        // of what the callers give: bytes, or a `ZeroablePart`, which only
        // the engine makes, for memory valid as zero bytes.
        let _ = unsafe {
            rustix::mm::madvise(
                first as *mut core::ffi::c_void,
                end - first,
                rustix::mm::Advice::LinuxDontNeed,
            )
        };
    }
}

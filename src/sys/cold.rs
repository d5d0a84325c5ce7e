//! Cold code given back after start-up, the way a kernel frees its
//! `__init` sections. `link/layout.ld` gathers at the end of the code what
//! only start-up, reload and shutdown run, vigilctl and vigil-log, and the
//! features a configuration may not use. Start-up ran some of it, and the
//! kernel maps code 64 KiB around each page fault, so after start-up the
//! whole binary is mapped and counts in vigild's memory. `release` unmaps
//! the cold pages (`madvise(MADV_DONTNEED)`: the page cache keeps them);
//! a page is mapped again, with the same bytes, only if its code runs.
//! Builds without the script (the tests' host build) have nothing to give.

use super::PAGE;

#[cfg(cold_text)]
unsafe extern "C" {
    /// The first byte of the cold code (defined by `link/layout.ld`).
    static __vigild_cold_start: u8;
    /// Just past its last byte.
    static __vigild_cold_end: u8;
}

/// Unmap every page that holds only cold code, and the stack below the
/// caller's frame.
pub fn release() {
    release_dead_stack();
    let _ = cold_code(rustix::mm::Advice::LinuxDontNeed);
}

/// Map the cold code back (when a shutdown begins): the shutdown runs it,
/// PID 1's power-down too, and by then a stopped service may have provided
/// the file system vigild's binary is read from. Kernels before 5.14 have
/// no MADV_POPULATE_READ: they read it into the page cache instead.
pub fn map_back() {
    if cold_code(rustix::mm::Advice::LinuxPopulateRead).is_err() {
        let _ = cold_code(rustix::mm::Advice::WillNeed);
    }
}

/// madvise(2) over the pages of the cold code; nothing without the layout.
fn cold_code(advice: rustix::mm::Advice) -> Result<(), super::Errno> {
    #[cfg(cold_text)]
    {
        // Where pages are larger than `PAGE` the kernel may also round the
        // range outward to pages that hold .init and .fini, which is
        // harmless: see the next comment.
        let start = (&raw const __vigild_cold_start) as usize;
        let end = (&raw const __vigild_cold_end) as usize;
        // Inward at the start, where hot code ends on the same page;
        // outward at the end, where only .init and .fini (run at start and
        // exit) follow before the read-only segment ends (link/layout.ld
        // checks it): every page of the range holds cold code, so it lies
        // in the code mapping.
        let first = start.next_multiple_of(PAGE);
        let last = end.next_multiple_of(PAGE);
        if last > first {
            // SAFETY: [first, last) is part of vigild's own code mapping,
            // private and file-backed, never written: MADV_DONTNEED only
            // drops the page table entries, and the next use of a page
            // maps the same bytes of the file again; the others only read
            // the file. No code of the range runs during the call.
            return unsafe {
                rustix::mm::madvise(first as *mut core::ffi::c_void, last - first, advice)
            };
        }
    }
    let _ = advice;
    Ok(())
}

/// How far below the caller's frame the stack is given back: more than
/// start-up ever uses.
const DEAD_STACK: usize = 256 * 1024;

/// Give back the pages of the stack below the caller's frame: start-up
/// (the parser, deep, and `start_up`'s large frame) went deeper than the
/// loop does, and a page of stack once used stays resident otherwise. They
/// are dead: nothing lives below the stack pointer, and a signal handler
/// that runs later gets fresh zero pages.
#[inline(never)]
fn release_dead_stack() {
    let marker = 0u8;
    // This frame's page and the one below (the system call's frames) stay.
    let top = ((&raw const marker) as usize / PAGE - 1) * PAGE;
    let bottom = top.saturating_sub(DEAD_STACK);
    // SAFETY: [bottom, top) lies below this function's frame, where no
    // live data is (single-threaded; the stack grows down). MADV_DONTNEED
    // makes the stack's pages there read as zeros when next used. Below
    // the stack's mapping nothing is mapped that near: vigild maps nothing
    // itself, and the kernel keeps its mappings at least 128 MiB under the
    // stack's top; madvise skips the hole and reports ENOMEM.
    let _ = unsafe {
        rustix::mm::madvise(
            bottom as *mut core::ffi::c_void,
            top - bottom,
            rustix::mm::Advice::LinuxDontNeed,
        )
    };
}

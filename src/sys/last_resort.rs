//! The last resort when vigild itself fails: exit, or as PID 1 exec
//! `crash`, or else reap orphans forever (PID 1 must never exit).

use core::ffi::c_char;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

/// `crash` of the configuration in force, its words NUL-terminated back to
/// back, copied here because a reload reuses the configuration's memory.
const CRASH_BYTES: usize = 1024;
static mut CRASH: [u8; CRASH_BYTES] = [0; CRASH_BYTES];
static CRASH_LEN: AtomicUsize = AtomicUsize::new(0);
/// vigild may exit (container mode): a failure ends it like any program.
static MAY_EXIT: AtomicBool = AtomicBool::new(false);

/// Remember `crash` (as `Arena::words_bytes` gives it; too long is as if
/// unset) and whether vigild may exit. vigild is single-threaded: nothing
/// else touches `CRASH` while this runs.
pub fn remember(crash: &[u8], may_exit: bool) {
    MAY_EXIT.store(may_exit, Relaxed);
    let len = if crash.len() <= CRASH_BYTES {
        crash.len()
    } else {
        0
    };
    // SAFETY: len <= CRASH_BYTES, `crash` is not `CRASH`, and vigild is
    // single-threaded: `last_resort`, the only reader, is not running.
    unsafe { core::ptr::copy_nonoverlapping(crash.as_ptr(), (&raw mut CRASH).cast::<u8>(), len) };
    CRASH_LEN.store(len, Relaxed);
}

/// vigild cannot go on. Not PID 1 (or in container mode), exit with
/// `code`. PID 1 executes `crash` in its place, or else (no `crash`, or it
/// failed) reaps orphans forever, so that the system keeps running what it
/// runs and never panics the kernel.
pub fn last_resort(code: i32) -> ! {
    if super::process::getpid() != 1 || MAY_EXIT.load(Relaxed) {
        super::process::exit(code);
    }
    let len = CRASH_LEN.load(Relaxed);
    // SAFETY: len <= CRASH_BYTES bytes that `remember` wrote (it is done:
    // single-threaded); we only read them.
    let crash = unsafe { core::slice::from_raw_parts((&raw const CRASH).cast::<u8>(), len) };
    let mut argv = [core::ptr::null::<c_char>(); 64];
    for (slot, word) in argv[..63]
        .iter_mut()
        .zip(crash.split_inclusive(|&b| b == 0))
    {
        *slot = word.as_ptr().cast();
    }
    if !argv[0].is_null() {
        // What vigild blocked or ignored would stay so in `crash`.
        super::signal::setup::reset_inherited();
        // SAFETY: argv is NULL-terminated (64 slots, at most 63 filled) and
        // points at NUL-terminated words in `CRASH`, which outlives exec;
        // the environment is the one vigild was started with. (No PATH
        // search: `crash` is an absolute path, which keeps libc's out.)
        unsafe { libc::execve(argv[0], argv.as_ptr(), super::args::environ_ptr()) };
        super::message::line(
            "vigild",
            format_args!("crash: exec failed, reaping orphans from now on"),
        );
    }
    loop {
        if super::process::wait_any().is_err() {
            // No child at all: look again in a second (an orphan may come).
            // A poll of nothing sleeps as vigilctl's waits do (libc's
            // nanosleep would bring 140 bytes of its own).
            let second = super::clock::timespec(1000);
            let _ = rustix::event::poll(&mut [], Some(&second));
        }
    }
}

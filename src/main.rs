//! The one binary: `vigild` (the supervisor), `vigilctl` or `vigild ctl`
//! (the control client) and `vigil-log` or `vigild log` (the logger).
//!
//! It does not link Rust's std (SPEC §9): libc provides the C entry point,
//! and every table is allocated once in `.bss`. Unit tests of this crate
//! (`src/sys/tests.rs`) build it with std, as the test harness needs.

#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
// Under test only the sys tests are built; the entry points are not.
#![cfg_attr(test, allow(dead_code, unused_imports))]

mod containment;
mod ctl;
mod daemon;
mod driver;
mod launch;
mod listeners;
mod log;
mod path;
mod pid1;
mod pipes;
mod readiness;
mod replies;
mod supervisor;
mod sys;
mod vigil_log;

use core::ffi::c_int;
use sys::args::Args;
use vigild_engine::fixed::lookup;

// std normally links the C library; without std we ask for it ourselves.
#[cfg(not(test))]
#[link(name = "c")]
unsafe extern "C" {}

#[cfg(not(test))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    log::line("vigild", format_args!("fatal: {}", info.message()));
    sys::init::last_resort(1)
}

/// Dispatch on the name the binary was called by (the C entry point, in
/// `sys::args`, calls this).
fn run(args: Args) -> c_int {
    sys::fs::ensure_stdio();
    let argv0 = args.get(0).unwrap_or(b"vigild");
    let name = argv0.rsplit(|&b| b == b'/').next().unwrap_or(argv0);
    // `vigilctl ...` or `vigild ctl ...`, `vigil-log ...` or `vigild log ...`.
    let tools = [ctl::main, vigil_log::main];
    let by_name = lookup("vigilctl vigil-log", &tools, name);
    let by_word = args.get(1).and_then(|word| lookup("ctl log", &tools, word));
    match (by_name, by_word) {
        (Some(tool), _) => tool(args, 1),
        (None, Some(tool)) => tool(args, 2),
        (None, None) => supervisor::main(args),
    }
}

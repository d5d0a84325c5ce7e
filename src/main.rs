//! The one binary: `vigild` (the supervisor), `vigilctl` or `vigild ctl`
//! (the control client) and `vigil-log` or `vigild log` (the logger),
//! chosen by the name it was called by or its first word.
//!
//! It does not link Rust's std (the README's Design): libc provides the C entry point,
//! and every table is allocated once in `.bss`. Unit tests of this crate
//! (`src/sys/tests.rs`) build it with std, as the test harness needs.
//!
//! Imports go one way: this file → `supervise`, `vigilctl`, `vigil_log` →
//! `sys`; `sys` names nothing above it. Only `sys` may use `unsafe`.

#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
#![deny(unsafe_code)]
// Under test only the sys tests are built; the programs are not.
#![cfg_attr(test, allow(dead_code, unused_imports))]

mod supervise;
#[allow(unsafe_code)]
mod sys;
mod vigil_log;
mod vigilctl;

use core::ffi::c_int;
use sys::args::{Args, Argv};
use vigild_engine::fixed::lookup;

/// The C entry point, which the C runtime finds by its name: the one item
/// outside `sys` that the `unsafe_code` lint concerns (an exported symbol;
/// it holds no unsafe code).
#[cfg(not(test))]
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, argv: Argv) -> c_int {
    sys::args::enter(argv, dispatch)
}

/// A panic is a bug: no panic in vigild's code is meant to be reached.
/// The release build says only that one happened and reads nothing of
/// `info` (its location neither): only then can the optimizer drop the
/// message each panic site builds (core's, rustix's `OwnedFd` assertion)
/// and the formatting code only those need (core's padding, i32's
/// formatter: 8 KB). The debug build, which the tests run, names it.
#[cfg(not(test))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    if cfg!(debug_assertions) {
        sys::message::line("vigild", format_args!("fatal: {}", info.message()));
    } else {
        sys::message::line("vigild", format_args!("fatal: panic"));
    }
    sys::last_resort::last_resort(1)
}

/// Dispatch on the name the binary was called by.
fn dispatch(args: Args) -> c_int {
    sys::stdio::ensure_stdio();
    let argv0 = args.get(0).unwrap_or(b"vigild");
    let name = argv0.rsplit(|&b| b == b'/').next().unwrap_or(argv0);
    // `vigilctl ...` or `vigild ctl ...`, `vigil-log ...` or `vigild log ...`,
    // `vigild import ...` (the program vigild-import).
    let tools = [vigilctl::main, vigil_log::main, import];
    let by_name = lookup("vigilctl vigil-log", &tools, name);
    let by_word = args
        .get(1)
        .and_then(|word| lookup("ctl log import", &tools, word));
    match (by_name, by_word) {
        (Some(tool), _) => tool(args, 1),
        (None, Some(tool)) => tool(args, 2),
        (None, None) => supervise::main(args),
    }
}

/// `vigild import ...`: vigild-import, which lies beside vigild's binary
/// (`install.sh` puts it there), with the words from `import` on.
fn import(args: Args, first: usize) -> c_int {
    let e = sys::args::exec_beside(b"vigild-import", args, first - 1);
    sys::message::line(
        "vigild",
        format_args!(
            "import: vigild-import beside vigild: {} (install.sh installs it)",
            vigild_engine::unix::ErrnoName(e.raw_os_error() as u16)
        ),
    );
    1
}

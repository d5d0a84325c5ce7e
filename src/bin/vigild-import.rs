//! `vigild-import` (also `vigild import`, which executes it): prints the
//! configuration of runit, s6 and daemontools service directories.
//!
//! A program of its own, beside vigild rather than inside it: a migration
//! tool runs once, on the machine being moved, and has no place in the
//! supervisor of an initramfs or a router, whose binary has a size budget
//! (the README's Build). It shares vigild's `sys` (and so its rules: no
//! Rust std, `unsafe` only in `sys`) and the engine's vocabulary.

#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
#![deny(unsafe_code)]
// It uses a part of `sys`, which vigild shares with it.
#![allow(unused)]

#[path = "../import.rs"]
mod import;
#[allow(unsafe_code)]
#[path = "../sys/mod.rs"]
mod sys;

use core::ffi::c_int;
use sys::args::{Args, Argv};

/// The C entry point (an exported symbol; it holds no unsafe code).
#[cfg(not(test))]
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, argv: Argv) -> c_int {
    sys::args::enter(argv, |args: Args| {
        sys::stdio::ensure_stdio();
        import::main(args, 1)
    })
}

#[cfg(not(test))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    sys::message::line("vigild-import", format_args!("fatal: {}", info.message()));
    sys::last_resort::last_resort(1)
}

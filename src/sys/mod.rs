//! The system-call boundary: the only place with `unsafe`, each block with a
//! `SAFETY:` line. libc where rustix has no safe API (the C entry point's
//! argv and environ; system calls by number where libc's wrappers would
//! cost the binary more: signal dispositions and masks, fork, fcntl, what
//! the spawned child calls); inline assembly for the vfork-style clone of
//! `spawn`; rustix for everything else. Nothing here knows the programs
//! above it or the engine's decisions: only the engine's plain vocabulary
//! (`fixed`, `time`, `unix`, `limits`) and its parsers of system files
//! (`accounts`).

pub mod args;
pub mod at;
pub mod cgroup;
pub mod clock;
pub mod cold;
// Mostly vigild-import's, which shares sys/ with vigild.
#[allow(dead_code)]
pub mod dir;
pub mod fs;
pub mod handoff;
pub mod last_resort;
pub mod listen;
pub mod message;
pub mod notify;
pub mod path;
pub mod power;
pub mod process;
pub mod run_dir;
pub mod signal;
pub mod spawn;
pub mod stdio;
pub mod storage;
pub mod switch_root;
pub mod user;

#[cfg(test)]
mod tests;

pub use rustix::io::Errno;

// std normally links the C library; without std we ask for it ourselves.
#[cfg(not(test))]
#[link(name = "c")]
unsafe extern "C" {}

/// The page size vigild gives memory back by (`madvise`). Where the kernel's
/// pages are larger (some aarch64 kernels), a call on a range that is not
/// aligned to them fails and changes nothing.
pub const PAGE: usize = 4096;

/// Unwinding is off (`panic = "abort"`), but the precompiled `core` of an
/// unoptimised build still names the personality routine; this never runs.
// SAFETY: the symbol is unique in the binary and is never called.
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

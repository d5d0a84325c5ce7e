//! `vigild`, the supervisor. Start-up (`startup`) makes the parts it owns
//! (`parts`: the configurations, the engine, the world, the status file,
//! the control FIFO, its role); the loop (`event_loop`) turns what happens
//! into engine calls, and the engine acts through its effects (`effects`);
//! `shutdown` is the end. Exit codes are vigild(8)'s: 2 usage or
//! configuration, 1 system.
//!
//! Imports go down: `event_loop` → what it dispatches to (`requests`,
//! `reload`, `accept`, `notices`, `pid1`, `shutdown`, `daemonize`,
//! `status`) → `effects` → `parts` → the resources (`world`, `configs`,
//! `control`, `role`, `replies`, `readiness`, `listeners`, `pipes`,
//! `containment`, `launch`) → `crate::sys`. Cold code lives in modules
//! that are wholly cold, which `link/layout.ld` names by their path.

mod accept;
mod answers;
mod configs;
mod containment;
mod control_fifo;
mod daemonize;
mod effects;
mod event_loop;
mod launch;
mod listeners;
mod notices;
mod parts;
mod pid1;
mod pipes;
mod readiness;
mod reexec;
mod reload;
mod replies;
mod requests;
mod role;
mod shutdown;
mod startup;
mod status_file;
mod storage;
mod switch_root;
mod world;

use crate::sys::args::Args;
use crate::sys::last_resort::last_resort;
use crate::sys::process;
use core::ffi::c_int;
use vigild_engine::fixed::word_index;

/// `vigild`: the exit code. PID 1 never exits (vigild(8) PID 1) unless in
/// container mode: its shutdown ends in reboot(2), and a failure in its
/// last resort.
pub fn main(args: Args) -> c_int {
    let pid1 = process::getpid() == 1;
    // By position (a `match` on byte strings compares byte by byte).
    let internal = args
        .get(1)
        .and_then(|a| word_index("--handoff-check --resume", a));
    match internal {
        Some(0) => return reexec::check(),
        Some(_) => last_resort(resume(args, pid1)),
        None => {}
    }
    let code = {
        // Used where it is (not moved out of the result: that would make a
        // second copy of the parts on the stack), and dropped before the
        // last resort, which does not return: the services' cgroups go.
        let mut started = startup::start_up(args, pid1);
        supervise(&mut started)
    };
    last_resort(code)
}

/// Run the loop of a vigild that started (or resumed) until its end; the
/// exit code (or the one of a start that failed).
fn supervise(started: &mut Result<parts::Vigild, c_int>) -> c_int {
    match started {
        Ok(v) => {
            let code = event_loop::run(v);
            shutdown::leave(v);
            code
        }
        Err(code) => *code,
    }
}

/// `vigild --resume FD ARGS...`: a re-exec's new image, on from the
/// hand-off (`reexec`); ARGS are the first image's options.
fn resume(args: Args, pid1: bool) -> c_int {
    let options = args.skip(2);
    let mut o = startup::Options::DEFAULT;
    if startup::options(options, pid1, &mut o).is_err() {
        return 2;
    }
    supervise(&mut reexec::resume(options, o.source))
}

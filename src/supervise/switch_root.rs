//! `switch_root NEWROOT [INIT [ARGS...]]`: PID 1 moves from the initramfs
//! to the real root. With an INIT that is not vigild, every service stops
//! as for a power-down, and instead of reboot(2) the new root is entered
//! and INIT executed (`sys::switch_root`). Cold code (link/layout.ld).

use super::answers::send;
use super::parts::Vigild;
use super::reexec::failed;
use super::replies::Wait;
use super::shutdown::halt_with;
use crate::sys::last_resort::last_resort;
use crate::sys::message::{note, say};
use crate::sys::power::Action;
use crate::sys::switch_root::{check, planned_root, remember, switch};
use rustix::fd::{AsFd, OwnedFd};
use vigild_engine::control::Request;
use vigild_engine::fixed::{Lossy, Plain};
use vigild_engine::time::Instant;
use vigild_engine::unix::ErrnoName;

/// The INIT of a `switch_root` without one: the new root's vigild.
const DEFAULT_INIT: &[u8] = b"/sbin/vigild";

/// `switch_root NEWROOT [INIT [ARGS...]]`: refused (`switch_root-failed
/// REASON`) before anything changes, or a shutdown whose end is the
/// switch (`stopping vigild`, then `stopped vigild` once every service
/// is down, as for `poweroff`).
#[inline(never)]
pub fn on_switch_root(v: &mut Vigild, request: Request<'_>, reply: Option<OwnedFd>, _now: Instant) {
    let (newroot, [init, arg1, arg2]) = (request.name, request.more);
    let cfg = v.configs.active();
    let given = match init.is_empty() {
        true => DEFAULT_INIT,
        false => init,
    };
    // A vigild INIT keeps the services (the hand-off); any other init
    // takes over a machine whose services have stopped.
    let handoff = given.ends_with(b"/vigild");
    let refused = if !v.role.ends_machine(cfg) {
        Err("not-pid1")
    } else if v.engine.is_halting() {
        Err("in-shutdown")
    } else {
        check(newroot, given)
    };
    if let Err(reason) = refused {
        // `no-init` names the INIT it looked for.
        let (why, detail) = match reason {
            "no-init" => ("no-init ", given),
            _ => (reason, &b""[..]),
        };
        return failed("switch_root", [newroot, b""], why, detail, reply);
    }
    if handoff {
        // The new root's vigild takes over, every service kept.
        return super::reexec::hand_over_or_say(v, "switch_root", given, newroot, reply);
    }
    remember(&[newroot, init, arg1, arg2]);
    if let Some(fd) = reply {
        send(fd.as_fd(), format_args!("stopping vigild"));
        // Answered with `stopped vigild` once every service is down.
        let _ = v.world.replies.wait(fd, Wait::Shutdown);
    }
    halt_with(Action::SwitchRoot, &mut v.role, cfg, v.engine);
}

/// Every service is down, every other process gone: into the new root,
/// INIT in vigild's place. There is no way back: a failure is told and
/// ends in vigild's last resort (`crash`, or reaping orphans).
#[inline(never)]
pub fn enter() -> ! {
    note!("switch_root: into {}", Lossy(planned_root()));
    let (step, e) = switch();
    say!(
        "switch_root failed: {} {}, last resort",
        Plain(step),
        ErrnoName(e.raw_os_error() as u16)
    );
    last_resort(1)
}

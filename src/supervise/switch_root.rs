//! `switch_root NEWROOT [INIT [ARGS...]]`: PID 1 moves from the initramfs to the real root.

use super::answers::send;
use super::parts::Vigild;
use rustix::fd::{AsFd, OwnedFd};
use vigild_engine::control::Request;
use vigild_engine::time::Instant;

/// `switch_root NEWROOT`: not built yet.
#[inline(never)]
pub fn on_switch_root(
    _v: &mut Vigild,
    _request: Request<'_>,
    reply: Option<OwnedFd>,
    _now: Instant,
) {
    if let Some(fd) = reply {
        send(fd.as_fd(), format_args!("switch_root-failed not-built"));
    }
}

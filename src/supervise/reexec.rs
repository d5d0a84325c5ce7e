//! `reexec [PATH]`: vigild replaces its own image, every service kept.

use super::answers::send;
use super::parts::Vigild;
use rustix::fd::{AsFd, OwnedFd};
use vigild_engine::control::Request;
use vigild_engine::time::Instant;

/// `reexec PATH`: not built yet.
#[inline(never)]
pub fn on_reexec(_v: &mut Vigild, _request: Request<'_>, reply: Option<OwnedFd>, _now: Instant) {
    if let Some(fd) = reply {
        send(fd.as_fd(), format_args!("reexec-failed not-built"));
    }
}

//! What a request that waits for a service is told once the service gets
//! there, or can no longer get there: `start` waits for `up`, `stop` for
//! `stopped` (the driver holds the requests and sends the words).

use super::{Reason, Slot, State};
use crate::unix::ExitStatus;

/// What a waiting request waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Awaited {
    /// `start`, `restart`: up (or listening).
    Up,
    /// `stop`: down.
    Down,
}

/// How a waiting request is resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Up, or listening.
    Up,
    /// It ended up down or in backoff instead: its last exit, and why.
    StartFailed(Option<ExitStatus>, Reason),
    /// Down.
    Stopped,
    /// Started again before it was down (a restart, or a start asked for
    /// meanwhile).
    StartedAgain,
}

/// The verdict for a request awaiting `awaited` once the service is as
/// `slot` says, or `None` while it is still on the way.
pub fn verdict(awaited: Awaited, slot: &Slot) -> Option<Verdict> {
    match (awaited, slot.state) {
        (Awaited::Up, State::Up { .. } | State::Listening) => Some(Verdict::Up),
        (Awaited::Up, State::Down | State::Backoff { .. }) => {
            Some(Verdict::StartFailed(slot.last(), slot.reason))
        }
        (Awaited::Up, State::Starting { .. } | State::Stopping { .. }) => None,
        (Awaited::Down, State::Down) => Some(Verdict::Stopped),
        (
            Awaited::Down,
            State::Starting { .. } | State::Up { .. } | State::Backoff { .. } | State::Listening,
        ) => Some(Verdict::StartedAgain),
        (Awaited::Down, State::Stopping { .. }) => None,
    }
}

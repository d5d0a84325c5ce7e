//! The sd_notify protocol (`ready = notify`): a datagram is lines of
//! `KEY=VALUE`, with or without a final newline. vigild acts on four keys
//! and ignores the rest, as systemd ignores keys it does not know.

use crate::fixed::lookup;
use crate::unix::parse_u64;

/// A notification vigild acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice<'a> {
    /// `READY=1`: start-up is finished.
    Ready,
    /// `STOPPING=1`: the service is shutting down by itself.
    Stopping,
    /// `STATUS=...`: free text for the status file.
    Status(&'a [u8]),
    /// `X_AVAILABLE=n`: client slots a pool worker can still take.
    Available(u32),
}

/// The keys vigild acts on.
#[derive(Clone, Copy)]
enum Key {
    Ready,
    Stopping,
    Status,
    Available,
}

/// The notifications in one datagram, in order.
pub fn notices(datagram: &[u8]) -> impl Iterator<Item = Notice<'_>> {
    datagram.split(|&b| b == b'\n').filter_map(|line| {
        let eq = line.iter().position(|&b| b == b'=')?;
        let (key, value) = (&line[..eq], &line[eq + 1..]);
        let keys = [Key::Ready, Key::Stopping, Key::Status, Key::Available];
        match (
            lookup("READY STOPPING STATUS X_AVAILABLE", &keys, key)?,
            value,
        ) {
            (Key::Ready, b"1") => Some(Notice::Ready),
            (Key::Stopping, b"1") => Some(Notice::Stopping),
            (Key::Status, _) => Some(Notice::Status(value)),
            (Key::Available, _) => Some(Notice::Available(
                u32::try_from(parse_u64(value)?).unwrap_or(u32::MAX),
            )),
            _ => None,
        }
    })
}

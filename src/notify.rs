//! The sd_notify protocol (`ready = notify`): a datagram is lines of
//! `KEY=VALUE`, with or without a final newline. vigild acts on four keys
//! and ignores the rest, as systemd ignores keys it does not know.

use crate::event::parse_u64;

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

/// The notifications in one datagram, in order.
pub fn notices(datagram: &[u8]) -> impl Iterator<Item = Notice<'_>> {
    datagram.split(|&b| b == b'\n').filter_map(|line| {
        let eq = line.iter().position(|&b| b == b'=')?;
        let (key, value) = (&line[..eq], &line[eq + 1..]);
        match key {
            b"READY" if value == b"1" => Some(Notice::Ready),
            b"STOPPING" if value == b"1" => Some(Notice::Stopping),
            b"STATUS" => Some(Notice::Status(value)),
            b"X_AVAILABLE" => Some(Notice::Available(
                u32::try_from(parse_u64(value)?).unwrap_or(u32::MAX),
            )),
            _ => None,
        }
    })
}

//! The clocks. Deadlines use CLOCK_MONOTONIC: it never jumps when someone sets
//! the wall clock (an appliance's first NTP sync would otherwise fire every
//! backoff at once), and it stops during suspend, which is right for delays
//! measured while the services themselves are stopped.

use rustix::time::{ClockId, Timespec, clock_gettime};
use vigild::time::Instant;

fn ms(t: Timespec) -> u64 {
    (t.tv_sec as u64).saturating_mul(1000) + t.tv_nsec as u64 / 1_000_000
}

/// `ms` milliseconds as a poll(2) timeout.
pub fn timespec(ms: u64) -> Timespec {
    Timespec {
        tv_sec: (ms / 1000) as i64,
        tv_nsec: ((ms % 1000) * 1_000_000) as i64,
    }
}

/// Now, on the monotonic clock.
pub fn now() -> Instant {
    Instant::from_ms(ms(clock_gettime(ClockId::Monotonic)))
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn wall_ms() -> u64 {
    ms(clock_gettime(ClockId::Realtime))
}

/// What to add to a monotonic `Instant` to get wall-clock milliseconds.
pub fn wall_offset_ms() -> i64 {
    wall_ms() as i64 - now().as_ms() as i64
}

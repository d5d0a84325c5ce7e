//! The clocks. Deadlines use CLOCK_MONOTONIC: it never jumps when someone sets
//! the wall clock (an appliance's first NTP sync would otherwise fire every
//! backoff at once), and it stops during suspend, which is right for delays
//! measured while the services themselves are stopped.

use rustix::time::Timespec;
use vigild_engine::time::Instant;

/// The system call itself, not libc's or rustix's vDSO lookup (1-2.5 KiB
/// of code): vigild reads the clock a few times per wake-up, next to a
/// poll(2) and more, so the vDSO's saving of a system call does not show.
fn clock(clock: libc::clockid_t) -> (u64, u32) {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is ours and valid for writing; the clock ids are the
    // monotonic and real-time clocks, which always exist.
    unsafe { libc::syscall(libc::SYS_clock_gettime, clock, &raw mut t) };
    (t.tv_sec as u64, t.tv_nsec as u32)
}

fn clock_ms(id: libc::clockid_t) -> u64 {
    let (secs, nanos) = clock(id);
    secs.saturating_mul(1000) + u64::from(nanos / 1_000_000)
}

/// Wall-clock seconds and nanoseconds since the Unix epoch.
/// The monotonic clock in nanoseconds (a re-exec's time away).
pub fn now_ns() -> u64 {
    let (secs, nanos) = clock(libc::CLOCK_MONOTONIC);
    secs.saturating_mul(1_000_000_000) + u64::from(nanos)
}

pub fn wall() -> (u64, u32) {
    clock(libc::CLOCK_REALTIME)
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
    Instant::from_ms(clock_ms(libc::CLOCK_MONOTONIC))
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn wall_ms() -> u64 {
    clock_ms(libc::CLOCK_REALTIME)
}

/// What to add to a monotonic `Instant` to get wall-clock milliseconds:
/// the clocks' difference in nanoseconds, rounded down once (two readings
/// each cut to milliseconds made it move by 1 ms from one call to the
/// next, and with it every `since` of the status file).
pub fn wall_offset_ms() -> i64 {
    let ((ws, wn), (ms, mn)) = (clock(libc::CLOCK_REALTIME), clock(libc::CLOCK_MONOTONIC));
    let ns = (ws as i64 - ms as i64) * 1_000_000_000 + (wn as i64 - mn as i64);
    ns.div_euclid(1_000_000)
}

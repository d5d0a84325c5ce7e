//! The status file (`RUN_DIR/status`, vigild(8) STATUS FILE): when it is rewritten, and
//! that an answer goes out only once it shows what the answer reports, so
//! that a script may read it as soon as `vigilctl` returns (`-d FD`'s
//! newline and daemon mode's verdict wait for it the same way).

use super::role::Role;
use super::world::World;
use crate::sys::clock;
use crate::sys::fs::{AtomicFile, write_all};
use crate::sys::message::say;
use rustix::fd::AsFd;
use vigild_engine::config::{Config, Mode};
use vigild_engine::machine::{State, Supervisor};
use vigild_engine::status::{Counters, Shown, write_line};
use vigild_engine::time::Instant;
use vigild_engine::unix::ErrnoName;

/// How long a status change waits before the file is rewritten when the
/// turn spawned a process. Writing it (a rename, hundreds of µs on some
/// file systems) right after a spawn would keep the new service off the CPU
/// it is about to run on; waiting a moment lets the service go first and
/// coalesces bursts of changes. Other changes (a READY=1, an exit without
/// restart) are written at the end of their turn.
const STATUS_DELAY_MS: u64 = 1;

/// How long a change of the accept or pool counters waits before the status
/// file is rewritten: they may change thousands of times a second.
const COUNTERS_DELAY_MS: u64 = 1000;

/// A changed `STATUS=` text is shown at once, but a flood of them rewrites
/// the status file at most once per this interval.
const TEXT_INTERVAL_MS: u64 = 100;

/// What the status file shows, and when it is due.
pub struct StatusFile {
    /// A state changed since the status file was written.
    pub dirty: bool,
    /// A process was spawned since the status file was written.
    pub spawned: bool,
    /// A `STATUS=` text changed since the status file was written.
    pub texts_changed: bool,
    /// When it will be rewritten.
    due: Option<Instant>,
    /// When it was last written.
    written: Instant,
    /// Last write failed (warn once, not every turn).
    failed: bool,
}

impl StatusFile {
    /// Not written yet: due at the end of the first turn.
    pub fn new() -> Self {
        StatusFile {
            dirty: true,
            spawned: false,
            texts_changed: false,
            due: None,
            written: Instant::from_ms(0),
            failed: false,
        }
    }

    /// The end of a turn at `now`: when the file is due by what changed
    /// (`counters`: the accept or pool counters); true if that is now.
    // Not inlined into its one caller: there it costs more code than the call.
    #[inline(never)]
    pub fn schedule(&mut self, now: Instant, counters: bool) -> bool {
        let since_written = now.ms_since(self.written);
        let delay = match (self.dirty, counters) {
            (true, _) if self.spawned => Some(STATUS_DELAY_MS),
            (true, _) => Some(0),
            _ if self.texts_changed => Some(TEXT_INTERVAL_MS.saturating_sub(since_written)),
            (false, true) => Some(COUNTERS_DELAY_MS),
            (false, false) => None,
        };
        if let Some(ms) = delay {
            let due = now.plus_ms(ms);
            self.due = Some(self.due.map_or(due, |d| d.min(due)));
        }
        self.due.is_some_and(|due| due <= now)
    }

    /// When the file is due, if it is.
    pub fn due(&self) -> Option<Instant> {
        self.due
    }
}

/// Bring the status file up to date, then answer the requests that waited
/// for it: it is written if `always`, or if a state changed since it was
/// last written, or a request is resolved; then every resolved request is
/// answered. True if some were (answers are cold code, link/layout.ld).
pub fn write_then_answer(
    status: &mut StatusFile,
    cfg: &Config,
    engine: &Supervisor,
    world: &mut World,
    always: bool,
) -> bool {
    let answers = world.replies.has_outcomes();
    if always || status.dirty || answers {
        write(status, cfg, engine, world);
    }
    if answers {
        world.replies.flush(cfg);
    }
    answers
}

/// Rewrite the status file (write, then rename).
fn write(status: &mut StatusFile, cfg: &Config, engine: &Supervisor, world: &World) {
    status.dirty = false;
    status.spawned = false;
    status.texts_changed = false;
    status.due = None;
    status.written = clock::now();
    let offset = clock::wall_offset_ms();
    // Small: the loop's deepest stack pages stay resident.
    let mut buf = [0u8; 1024];
    let result =
        AtomicFile::create(world.dir.as_fd(), c"status.tmp", &mut buf).and_then(|mut file| {
            for id in cfg.ids() {
                let slot = engine.slot(id);
                if !(cfg.spec(id).removed && slot.state == State::Down) {
                    let counters = match cfg.spec(id).mode {
                        Mode::Accept => Counters::Accept(engine.accept_stats(id)),
                        Mode::Pool => {
                            let (procs, available) = engine.pool_counts(id);
                            Counters::Pool { procs, available }
                        }
                        _ => Counters::None,
                    };
                    let shown = Shown {
                        counters,
                        text: world.channels.status(id),
                        cgroup: world.containment.by_cgroup(cfg, id),
                    };
                    let _ = write_line(&mut file, cfg, id, slot, shown, offset);
                }
            }
            file.commit(c"status.tmp", c"status")
        });
    match result {
        Ok(()) => status.failed = false,
        Err(e) if !status.failed => {
            status.failed = true;
            say!(
                "warning: unable to write the status file: {}",
                ErrnoName(e.raw_os_error() as u16)
            );
        }
        Err(_) => {}
    }
}

/// `-d FD`: one newline once every autostart service is up, then close.
/// The status file is brought up to date first: whoever waited for the
/// newline may read it at once.
pub fn tell_ready(
    role: &mut Role,
    status: &mut StatusFile,
    cfg: &Config,
    engine: &Supervisor,
    world: &mut World,
) {
    if role.ready_fd.is_some()
        && engine.all_autostart_up(cfg)
        && let Some(fd) = role.ready_fd.take()
    {
        write_then_answer(status, cfg, engine, world, false);
        let _ = write_all(fd.as_fd(), b"\n");
    }
}

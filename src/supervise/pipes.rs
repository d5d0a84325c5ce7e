//! The log pipes (vigild.conf(5) `log`), created once and held by vigild: a restart of
//! the writing service or of its reader, or a reload, never closes one, so
//! no line is lost in between. A pipe feeds a reader service's stdin (the
//! logger `NAME/log` of `log = DIR`, or the service of `service:NAME`), or
//! vigild's own ring memory (`ring:SIZE`), which vigild reads in its loop;
//! and the directory of vigild's own logger (`log = DIR`). A feature, cold
//! code (link/layout.ld): what the loop and a spawn ask of the table is
//! inlined into them.

use crate::sys::Errno;
use crate::sys::message::say;
use crate::sys::path::{Missing, open_dir};
use crate::sys::user::Creds;
use core::ops::Range;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use vigild_engine::config::{Config, Log, RingPlace};
use vigild_engine::fixed::{Lossy, ServiceId, without_nul};
use vigild_engine::limits::PIPES_MAX;
use vigild_engine::unix::ErrnoName;

/// One held pipe.
pub struct Pipe {
    /// The service that reads it (for a ring: the one that writes it).
    pub service: ServiceId,
    /// Read by vigild into a ring (its read end does not block).
    pub ring: bool,
    read: OwnedFd,
    write: OwnedFd,
    /// A ring's bytes so far: the next goes at `written % (size + 1)` (see
    /// `ring_span`).
    pub written: u64,
}

impl Pipe {
    /// The read end.
    #[inline(always)]
    pub fn read_end(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
}

/// Every held pipe.
pub struct Pipes {
    list: [Option<Pipe>; PIPES_MAX],
    len: usize,
    /// Changes with every reload: positions in the table from before are
    /// no longer valid.
    pub generation: u32,
}

impl Pipes {
    pub const fn new() -> Self {
        Pipes {
            list: [const { None }; PIPES_MAX],
            len: 0,
            generation: 0,
        }
    }

    /// Every pipe with its position (the whole table: past `len` every
    /// entry is none, and a slice up to it costs a check at each use).
    #[inline(always)]
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Pipe)> {
        self.list
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((i, p.as_ref()?)))
    }

    /// The pipe at position `i`.
    #[inline(always)]
    pub fn get_mut(&mut self, i: usize) -> Option<&mut Pipe> {
        self.list.get_mut(i)?.as_mut()
    }

    /// The ring of `id`, if it has one.
    pub fn ring_of(&self, id: ServiceId) -> Option<&Pipe> {
        self.find(id, true)
    }

    /// The read end that is `id`'s stdin, if some service writes into it.
    #[inline(always)]
    pub fn input_of(&self, id: ServiceId) -> Option<BorrowedFd<'_>> {
        self.find(id, false).map(|p| p.read.as_fd())
    }

    /// The fd for `id`'s stdout and stderr by its `log`: a held write end,
    /// `devnull`, or `None` for vigild's own (`inherit`).
    #[inline(always)]
    pub fn output_of(&self, cfg: &Config, id: ServiceId, devnull: BorrowedFd<'_>) -> Option<i32> {
        let pipe = match cfg.spec(id).log {
            Log::Inherit => return None,
            Log::Null => None,
            Log::Pipe(reader) => self.find(reader, false),
            Log::Ring(_) => self.find(id, true),
        };
        let fd = pipe.map_or(devnull, |p| p.write.as_fd());
        Some(rustix::fd::AsRawFd::as_raw_fd(&fd))
    }

    /// The table `new` needs: each pipe of this one (which belongs to
    /// `old`) whose reader (or ring) has the same name in `new` is kept
    /// (also a removed logger's, while it is carried), a ring's content
    /// only if it kept its place and size; the others are created. On
    /// failure nothing changed.
    pub fn prepare(&self, old: Option<&Config>, new: &Config) -> Result<Self, Errno> {
        let mut next = Pipes::new();
        next.generation = self.generation.wrapping_add(1);
        for id in new.ids() {
            let (service, ring) = match new.spec(id).log {
                _ if new.spec(id).removed => match new.is_logger(id) {
                    // A removed logger that still has to run may still
                    // have to drain its pipe (vigild.conf(5) `log`): the pipe stays.
                    true if old.is_some() => (id, false),
                    _ => continue,
                },
                Log::Pipe(reader) => (reader, false),
                Log::Ring(_) => (id, true),
                Log::Inherit | Log::Null => continue,
            };
            if next.find(service, ring).is_some() {
                continue; // a reader of several services
            }
            let kept = old.and_then(|old| {
                let before = old.find(new.name(service))?;
                let pipe = self.find(before, ring)?;
                Some((pipe, old.ring(before) == new.ring(service)))
            });
            let pipe = match kept {
                None if new.spec(id).removed => continue,
                Some((pipe, same_place)) => Pipe {
                    service,
                    ring,
                    read: rustix::io::fcntl_dupfd_cloexec(&pipe.read, 3)?,
                    write: rustix::io::fcntl_dupfd_cloexec(&pipe.write, 3)?,
                    written: if same_place { pipe.written } else { 0 },
                },
                None => open(service, ring)?,
            };
            // The parser allows at most PIPES_MAX.
            let slot = next.list.get_mut(next.len).ok_or(Errno::NOSPC)?;
            *slot = Some(pipe);
            next.len += 1;
        }
        Ok(next)
    }
}

/// A new pipe; a ring's read end does not block (vigild reads it).
fn open(service: ServiceId, ring: bool) -> Result<Pipe, Errno> {
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    if ring {
        rustix::fs::fcntl_setfl(&read, rustix::fs::OFlags::NONBLOCK)?;
    }
    Ok(Pipe {
        service,
        ring,
        read,
        write,
        written: 0,
    })
}

/// Where a ring is in the ring memory: its SIZE bytes and one spare, which
/// keeps the byte before the last SIZE (so that they are known to begin a
/// line, or not).
#[inline(always)]
pub fn ring_span(place: RingPlace) -> Range<usize> {
    let start = place.offset as usize;
    start..start + place.size as usize + 1
}

/// vigild's own logger `id` runs as another user: make its directory if
/// missing (vigil-log, no longer root, may not be allowed to): missing
/// parents as root (0755), the directory itself (0755) given to that user;
/// an existing one is left as it is. Never led elsewhere by a symlink root
/// does not own (`path::open_dir`), so a user who may write somewhere on
/// the way cannot make root create (and hand over) a directory elsewhere.
/// A failure is said; vigil-log then says why it cannot start.
// Not inlined into the hot caller: cold code, as all of this file.
#[inline(never)]
pub fn make_log_dir(cfg: &Config, id: ServiceId, creds: &Creds) {
    let Some(dir) = cfg.arena.words(cfg.spec(id).exec).last().map(without_nul) else {
        return;
    };
    if creds.uid == rustix::process::geteuid().as_raw() {
        return;
    }
    let owner = Some((creds.uid, creds.gid));
    if let Err(e) = open_dir(dir, Missing::Make { owner }) {
        say!(
            "{}: unable to make {}: {}",
            Lossy(cfg.name(id)),
            Lossy(dir),
            ErrnoName(e.raw_os_error() as u16)
        );
    }
}

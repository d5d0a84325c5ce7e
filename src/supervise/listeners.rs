//! The listening sockets of every socket service, bound before any service
//! starts and kept open across restarts and reloads: a reload reuses the
//! socket of every address it keeps, so no connection is refused meanwhile.
//! A feature, cold code (link/layout.ld): what the loop and a spawn ask of
//! the table is inlined into them.

use super::launch::{EnvBuf, raw};
use crate::sys::listen::{self, Address};
use crate::sys::message::say;
use crate::sys::run_dir;
use crate::sys::spawn::FDS_MAX;
use core::fmt;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use vigild_engine::config::{Config, Errors, Listen, ListenText, Mode};
use vigild_engine::fixed::{Lossy, Plain, ServiceId};
use vigild_engine::limits::LISTENERS_MAX;
use vigild_engine::unix::ErrnoName;

/// One bound socket: the `index`th `listen` of `service`.
pub struct Listener {
    pub fd: OwnedFd,
    pub service: ServiceId,
    pub index: u16,
}

impl Listener {
    /// Its address, as `cfg` (where it was made, or the one in force) says.
    pub fn addr<'c>(&self, cfg: &'c Config) -> Option<Listen<'c>> {
        cfg.listens(self.service).nth(self.index.into())
    }
}

/// Every listener, in config order (a service's sockets are adjacent).
pub struct Listeners {
    list: [Option<Listener>; LISTENERS_MAX],
    len: usize,
    /// Changes with every `commit`: positions in the table from before are
    /// no longer valid.
    pub generation: u32,
}

impl Listeners {
    pub const fn new() -> Self {
        Listeners {
            list: [const { None }; LISTENERS_MAX],
            len: 0,
            generation: 0,
        }
    }

    /// Every listener, in config order (the whole table: past `len` every
    /// entry is none, and a slice up to it costs a check at each use).
    #[inline(always)]
    pub fn iter(&self) -> impl Iterator<Item = &Listener> {
        self.list.iter().flatten()
    }

    /// The sockets of `id`, in config order.
    pub fn of(&self, id: ServiceId) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.iter()
            .filter(move |l| l.service == id)
            .map(|l| l.fd.as_fd())
    }

    /// The listener at position `i` of `iter`.
    #[inline(always)]
    pub fn get(&self, i: usize) -> Option<&Listener> {
        self.list[..self.len].get(i).and_then(Option::as_ref)
    }

    /// Open the sockets of `new`, reusing this table's (which belong to
    /// `old`) where the address is the same: only dups and new sockets, so
    /// that on failure (every error is in `errors`) nothing changed.
    pub fn prepare(&self, old: Option<&Config>, new: &Config, errors: &mut Errors) -> Option<Self> {
        let mut next = Listeners::new();
        for id in new.ids().filter(|&id| !new.spec(id).removed) {
            let spec = new.spec(id);
            for (index, addr) in new.listens(id).enumerate() {
                let kept = old.and_then(|old| self.entry(old, addr));
                let opened = match kept {
                    Some(l) => rustix::io::fcntl_dupfd_cloexec(l.fd.as_fd(), 3),
                    None => listen::open(address(addr), setup(new, id)),
                };
                match opened {
                    Ok(fd) if next.len < LISTENERS_MAX => {
                        next.list[next.len] = Some(Listener {
                            fd,
                            service: id,
                            index: index as u16,
                        });
                        next.len += 1;
                    }
                    Ok(_) => errors.push(
                        spec.line,
                        format_args!(
                            "listen: more than {LISTENERS_MAX} sockets (the compiled capacity)"
                        ),
                    ),
                    Err(e) => errors.push(
                        new.listen_line(id, index),
                        format_args!(
                            "listen {}: {}",
                            ListenText(addr),
                            ErrnoName(e.raw_os_error() as u16)
                        ),
                    ),
                }
            }
        }
        if !errors.is_empty() {
            next.close_new(self, old, new);
            return None;
        }
        Some(next)
    }

    /// Take `next` (from `prepare`) as the table. A kept socket whose use
    /// changed (accept or activate, backlog) is adjusted now, and only then:
    /// a running activated program shares it. Sockets of addresses that are
    /// gone are closed (and their unix socket files removed).
    // Not inlined into its one caller: there it costs more code than the call.
    #[inline(never)]
    pub fn commit(&mut self, old: Option<&Config>, next: Listeners, new: &Config) {
        if let Some(old) = old {
            for l in next.iter() {
                let was = l.addr(new).and_then(|a| self.entry(old, a));
                if let Some(was) = was.map(|w| w.service)
                    && setup(old, was) != setup(new, l.service)
                    && let Err(e) = listen::reuse(l.fd.as_fd(), setup(new, l.service))
                {
                    say!(
                        "{}: warning: unable to adjust a kept socket: {}",
                        Lossy(new.name(l.service)),
                        ErrnoName(e.raw_os_error() as u16)
                    );
                }
            }
            for l in self.iter() {
                if let Some(addr) = l.addr(old).filter(|&a| next.entry(new, a).is_none()) {
                    remove(addr);
                }
            }
        }
        *self = next;
        self.generation = self.generation.wrapping_add(1);
    }

    /// vigild exits: close every socket and remove the unix socket files.
    // Not inlined into the hot caller: cold code, as all of this file.
    #[inline(never)]
    pub fn close_all(&mut self, cfg: &Config) {
        for l in self.iter() {
            if let Some(addr) = l.addr(cfg) {
                remove(addr);
            }
        }
        self.list = [const { None }; LISTENERS_MAX];
        self.len = 0;
    }

    /// Undo a failed `prepare`: close what it opened, and remove the unix
    /// socket files it created (not those still in use by `current`).
    // Not inlined into its one caller: there it costs more code than the call.
    #[inline(never)]
    fn close_new(&mut self, current: &Listeners, old: Option<&Config>, new: &Config) {
        for l in self.iter() {
            let in_use = |a| old.is_some_and(|old| current.entry(old, a).is_some());
            if let Some(addr) = l.addr(new).filter(|&a| !in_use(a)) {
                remove(addr);
            }
        }
    }

    /// The listener whose address in `cfg` is `addr`.
    fn entry(&self, cfg: &Config, addr: Listen<'_>) -> Option<&Listener> {
        self.iter().find(|l| l.addr(cfg) == Some(addr))
    }
}

/// How `id` uses its sockets.
fn setup(cfg: &Config, id: ServiceId) -> listen::Setup {
    let spec = cfg.spec(id);
    listen::Setup {
        backlog: spec.backlog,
        mode: spec.listen_mode,
        nonblocking: spec.mode == Mode::Accept,
    }
}

/// A listen address as the system takes it.
fn address(addr: Listen<'_>) -> Address<'_> {
    match addr {
        Listen::Tcp4(ip, port) => Address::Tcp4(ip, port),
        Listen::Tcp6(ip, port) => Address::Tcp6(ip, port),
        Listen::Unix(path) => Address::Unix(path),
    }
}

/// Remove the socket file of a unix listener closed for good.
fn remove(addr: Listen<'_>) {
    if let Listen::Unix(path) = addr {
        run_dir::unlink(path);
    }
}

/// Socket activation (and a pool's workers): `id`'s sockets into `fds`
/// (to become fds 3..), and systemd's variables for them into `env`; how
/// many there are.
// Not inlined into the hot caller: cold code, as all of this file.
#[inline(never)]
pub fn pass_sockets(
    listeners: &Listeners,
    cfg: &Config,
    id: ServiceId,
    fds: &mut [i32; FDS_MAX],
    env: &mut EnvBuf<'_>,
) -> usize {
    let mut n = 0;
    for (slot, fd) in fds.iter_mut().zip(listeners.of(id)) {
        *slot = raw(fd);
        n += 1;
    }
    env.entry(format_args!("LISTEN_FDS={n}"));
    let name = cfg.name(id);
    let names = FdNames {
        name: Lossy(name),
        n,
    };
    if !env.entry(format_args!("LISTEN_FDNAMES={names}")) {
        say!("{}: warning: LISTEN_FDNAMES too long, not set", Lossy(name));
    }
    n
}

/// `LISTEN_FDNAMES`: the service name for one socket, `NAME.0:NAME.1:...`
/// (in config order) for several.
struct FdNames<'a> {
    name: Lossy<'a>,
    n: usize,
}

impl fmt::Display for FdNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.n == 1 {
            return write!(f, "{}", self.name);
        }
        for i in 0..self.n {
            let sep = if i == 0 { "" } else { ":" };
            write!(f, "{}{}.{i}", Plain(sep), self.name)?;
        }
        Ok(())
    }
}

//! The readiness channels of running services (`ready` in vigild.conf(5)): an
//! sd_notify socket, bound before the service is forked so that not even
//! its first message can be lost, or the read end of an s6-style pipe.
//! A channel lives as long as the process it was opened for.
//!
//! A notify socket has an abstract name (`@RUN_DIR/notify/NAME.NONCE`),
//! which any process can reach whatever user it runs as: a daemon that
//! drops its privileges itself (postgres, redis, `chpst -u`) could not
//! reach a socket file in the private run directory. Anyone may send to
//! it, so only what comes from the service's own processes is believed
//! (`notices` checks the sender's pid), and nobody can bind the name
//! first: it ends in 64 random bits.

use crate::sys::Errno;
use crate::sys::notify;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use vigild_engine::config::{Config, Mode, Ready};
use vigild_engine::fixed::{ServiceId, copy_cut, digest};
use vigild_engine::limits::READY_MAX;
use vigild_engine::machine::State;
use vigild_engine::unix::Pid;

/// Largest notification datagram read (systemd's limit too); a longer one
/// is cut.
pub const NOTICE_MAX: usize = 4096;

/// Longest `STATUS=` text kept (the rest is cut).
pub const STATUS_MAX: usize = 96;

/// Longest socket path (`sun_path` holds 108 bytes with the NUL).
const PATH_MAX: usize = 107;

/// One service's channel.
pub struct Channel {
    /// The service.
    pub service: ServiceId,
    /// The process it was opened for.
    pub pid: Pid,
    /// A notify socket (else the read end of a readiness pipe).
    pub notify: bool,
    /// A pool's: the random end of its name (`socket_path`).
    nonce: u64,
    fd: OwnedFd,
}

/// The last `STATUS=` of a channel's process. Kept apart from `Channel`, in
/// `.bss` (zero bytes are "none"): the texts of channels never used cost no
/// memory, and the loop's stack stays small.
#[derive(Clone, Copy)]
pub struct StatusText {
    len: u8,
    text: [u8; STATUS_MAX],
}

impl StatusText {
    /// No text.
    pub const EMPTY: StatusText = StatusText {
        len: 0,
        text: [0; STATUS_MAX],
    };
}

/// What a service gets from its channel before it is spawned.
pub struct Opened {
    /// The fd vigild keeps (none for a pool's worker: the pool has it).
    fd: Option<OwnedFd>,
    notify: bool,
    /// `ready = fd:N`: the write end for the child, and N.
    pub pipe_end: Option<(OwnedFd, i32)>,
    /// `ready = notify`: the `NOTIFY_SOCKET` value.
    pub socket_path: [u8; PATH_MAX],
    /// Its length (0: no socket).
    pub socket_path_len: usize,
}

/// Every open channel.
pub struct Channels {
    list: [Option<Channel>; READY_MAX],
    /// The status text of each entry of `list`.
    texts: &'static mut [StatusText; READY_MAX],
    /// How sockets are named.
    naming: Naming,
}

/// The run directory's path, for socket paths (length 0 if it did not
/// fit), and its digest.
#[derive(Clone, Copy)]
pub struct Naming {
    run_path: [u8; PATH_MAX],
    run_path_len: usize,
    run_digest: u64,
}

impl Naming {
    /// Sockets named after `run_path` (see `socket_path`).
    pub fn of(run_path: &[u8]) -> Naming {
        let mut path = [0; PATH_MAX];
        let len = copy_cut(&mut path, run_path);
        Naming {
            run_path: path,
            // Cut: the digest stands in for it.
            run_path_len: if run_path.len() > PATH_MAX { 0 } else { len },
            run_digest: digest(run_path),
        }
    }
}

impl Channels {
    /// The channels, as a re-exec hands them over.
    pub fn list(&self) -> &[Option<Channel>; READY_MAX] {
        &self.list
    }

    /// The channels, as a re-exec puts them back.
    pub fn list_mut(&mut self) -> &mut [Option<Channel>; READY_MAX] {
        &mut self.list
    }

    /// The `STATUS=` texts, as a re-exec hands them over.
    pub fn texts(&self) -> &[StatusText; READY_MAX] {
        self.texts
    }

    /// How sockets are named (a re-exec hands it over).
    pub fn naming(&self) -> Naming {
        self.naming
    }

    /// No channels, sockets named as `naming` says.
    pub fn named(naming: Naming, texts: &'static mut [StatusText; READY_MAX]) -> Self {
        Channels {
            list: [const { None }; READY_MAX],
            texts,
            naming,
        }
    }

    /// No channels; sockets are named after `run_path` (see
    /// `socket_path`).
    pub fn new(run_path: &[u8], texts: &'static mut [StatusText; READY_MAX]) -> Self {
        Channels::named(Naming::of(run_path), texts)
    }

    /// Open the channel `id` needs before it is spawned, if it needs one.
    /// A channel still open for it (an earlier run) is closed first; a
    /// pool's workers all get the pool's one socket.
    // Not inlined into its one caller: there it costs more code than the call.
    #[inline(never)]
    pub fn open(&mut self, cfg: &Config, id: ServiceId) -> Result<Option<Opened>, Errno> {
        let spec = cfg.spec(id);
        if spec.mode == Mode::Pool {
            let mut path = [0; PATH_MAX];
            let len = self.pool_socket(cfg, id, &mut path)?;
            return Ok(Some(Opened {
                fd: None,
                notify: true,
                pipe_end: None,
                socket_path: path,
                socket_path_len: len,
            }));
        }
        if spec.ready == Ready::None {
            return Ok(None);
        }
        self.close(id);
        if self.list.iter().all(Option::is_some) {
            return Err(Errno::MFILE);
        }
        match spec.ready {
            Ready::Fd(n) => {
                let (read, write) = notify::pipe()?;
                Ok(Some(Opened {
                    fd: Some(read),
                    notify: false,
                    pipe_end: Some((write, i32::from(n))),
                    socket_path: [0; PATH_MAX],
                    socket_path_len: 0,
                }))
            }
            _ => {
                let mut path = [0; PATH_MAX];
                let len = self.socket_path(cfg, id, notify::random(), &mut path)?;
                let fd = notify::open_socket(&path[..len])?;
                Ok(Some(Opened {
                    fd: Some(fd),
                    notify: true,
                    pipe_end: None,
                    socket_path: path,
                    socket_path_len: len,
                }))
            }
        }
    }

    /// The socket of pool `id`, shared by all its workers: opened with the
    /// first of them, kept until the pool is down. Its path goes to `out`.
    fn pool_socket(
        &mut self,
        cfg: &Config,
        id: ServiceId,
        out: &mut [u8; PATH_MAX],
    ) -> Result<usize, Errno> {
        if let Some((_, c)) = self.of(id) {
            return self.socket_path(cfg, id, c.nonce, out);
        }
        let nonce = notify::random();
        let len = self.socket_path(cfg, id, nonce, out)?;
        let entry = self
            .list
            .iter()
            .position(Option::is_none)
            .ok_or(Errno::MFILE)?;
        let fd = notify::open_socket(&out[..len])?;
        self.list[entry] = Some(Channel {
            service: id,
            pid: Pid(0),
            notify: true,
            nonce,
            fd,
        });
        Ok(len)
    }

    /// The name of `id`'s notify socket, ending in `nonce` (see
    /// `notify::socket_name`), in `out`; its length.
    fn socket_path(
        &self,
        cfg: &Config,
        id: ServiceId,
        nonce: u64,
        out: &mut [u8; PATH_MAX],
    ) -> Result<usize, Errno> {
        let n = &self.naming;
        let run = n.run_path.get(..n.run_path_len).unwrap_or_default();
        notify::socket_name((run, n.run_digest), cfg.name(id), nonce, out)
    }

    /// After the spawn: keep `opened` as `id`'s channel for `pid`, or if
    /// the spawn failed, drop it. The pipe's write end is closed either
    /// way: the child has its copy.
    pub fn started(&mut self, id: ServiceId, opened: Opened, pid: Option<Pid>) {
        let entry = self.list.iter_mut().find(|c| c.is_none());
        if let (Some(pid), Some(entry), Some(fd)) = (pid, entry, opened.fd) {
            *entry = Some(Channel {
                service: id,
                pid,
                notify: opened.notify,
                nonce: 0,
                fd,
            });
        }
    }

    /// Close `id`'s channel, if it has one.
    pub fn close(&mut self, id: ServiceId) {
        let at = self.of(id).map(|(i, _)| i);
        if let Some(i) = at {
            self.close_at(i);
        }
    }

    /// Close the channel at `i` (a position of `iter`).
    pub fn close_at(&mut self, i: usize) {
        if self.list.get_mut(i).and_then(Option::take).is_some()
            && let Some(t) = self.texts.get_mut(i)
        {
            // The text goes with the process that sent it.
            t.len = 0;
        }
    }

    /// `id` changed state: close its channel once the process it was
    /// opened for is gone (a pool's: once the pool is down).
    pub fn state_changed(&mut self, cfg: &Config, id: ServiceId, state: State) {
        let Some((i, c)) = self.of(id) else {
            return;
        };
        let gone = match cfg.spec(id).mode {
            Mode::Pool => state == State::Down,
            _ => Some(c.pid) != state.pid(),
        };
        if gone {
            self.close_at(i);
        }
    }

    /// The channel at `i`.
    pub fn get(&self, i: usize) -> Option<&Channel> {
        self.list.get(i)?.as_ref()
    }

    /// The channel of `id` with its position: one copy for every search.
    #[inline(never)]
    fn of(&self, id: ServiceId) -> Option<(usize, &Channel)> {
        self.iter().find(|(_, c)| c.service == id)
    }

    /// Every open channel with its position.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Channel)> {
        self.list
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((i, c.as_ref()?)))
    }

    /// The `STATUS=` text of `id`'s running process (empty: none).
    pub fn status(&self, id: ServiceId) -> &[u8] {
        match self.of(id) {
            Some((i, _)) => self.texts.get(i).map_or(&[], |t| {
                t.text.get(..usize::from(t.len)).unwrap_or_default()
            }),
            None => &[],
        }
    }

    /// Keep `text` (cut to `STATUS_MAX`) as the status of the channel at `i`.
    pub fn set_status(&mut self, i: usize, text: &[u8]) {
        if let (Some(Some(_)), Some(t)) = (self.list.get(i), self.texts.get_mut(i)) {
            t.len = copy_cut(&mut t.text, text) as u8; // STATUS_MAX fits a u8
        }
    }

    /// A reload renumbered the services: follow them by name.
    pub fn renumber(&mut self, old: &Config, new: &Config) {
        for c in self.list.iter_mut().flatten() {
            if let Some(id) = new.find(old.name(c.service)) {
                c.service = id;
            }
        }
    }
}

impl Channel {
    /// The fd to poll and read.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

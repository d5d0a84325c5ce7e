//! Turning a service's spec into a spawn `Plan`: argv (prefix + exec), the
//! environment (vigild's, minus what was meant for vigild, plus the
//! service's `env` and what its mode adds), stdio per `log`, credentials.

use crate::sys::message::say;
use crate::sys::spawn::{Plan, Step, spawn};
use crate::sys::user::Creds;
use crate::sys::{args, user};
use core::cell::Cell;
use core::ffi::c_char;
use core::fmt::Write;
use rustix::fd::{BorrowedFd, OwnedFd};
use vigild_engine::config::Config;
use vigild_engine::fixed::{
    ArrayStr, Lossy, Plain, ServiceId, SliceWriter, without_nul, word_index,
};
use vigild_engine::limits::{ARGV_MAX, ENV_MAX};
use vigild_engine::unix::{ErrnoName, Pid};

/// Variables that describe vigild's own environment (given to it by its own
/// supervisor or inetd) and must not leak into services.
/// (Space-separated: a table of `&[u8]` would take 16 bytes a name more.)
const OWN_VARIABLES: &str = "NOTIFY_SOCKET LISTEN_FDS LISTEN_PID LISTEN_FDNAMES PROTO \
                             TCPREMOTEIP TCPREMOTEPORT TCPLOCALIP TCPLOCALPORT \
                             REMOTE_ADDR REMOTE_PORT";

/// vigild's binary, as a running process sees it (a logger started before
/// /proc is mounted fails, and is retried with backoff).
const SELF_EXE: &[u8] = b"/proc/self/exe\0";

/// Used when vigild's environment has no PATH.
pub const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What one start adds to the spec: stdio, extra fds, extra variables.
pub struct Launch<'a> {
    /// Fd for stdin; also stdout when `conn` (a connection on fds 0 and 1).
    pub stdin: i32,
    pub conn: bool,
    /// Fd for stdout and stderr (the service's `log`); `None`: vigild's own.
    pub out: Option<i32>,
    /// Fds 3, 4, ... of the child.
    pub fds: &'a [i32],
    /// NUL-terminated `KEY=VALUE` entries, back to back.
    pub env: &'a [u8],
    /// `LISTEN_PID=` with room for the child to write its pid.
    pub listen_pid: Option<&'a [Cell<u8>]>,
    /// The identity to run as (`credentials`), if the service has one.
    pub creds: Option<&'a Creds>,
    /// `ready = fd:N`: the pipe's write end, to become fd N.
    pub ready_fd: Option<(i32, i32)>,
    /// The service's cgroup (a directory fd) to start it in, if it has one.
    pub cgroup: Option<i32>,
}

/// The credentials and cgroup an accept service's workers start with
/// (looked up for the first worker, then kept until the configuration
/// changes: not two file reads, and a cgroup opened, per connection).
pub struct WorkerSetup {
    pub id: ServiceId,
    pub creds: Option<Creds>,
    pub cgroup: Option<OwnedFd>,
}

/// The number of a borrowed fd, as a `Plan` takes it.
pub fn raw(fd: BorrowedFd<'_>) -> i32 {
    rustix::fd::AsRawFd::as_raw_fd(&fd)
}

/// The uid, gid and groups of `id`'s `user` and `group`, if it has them
/// (looked up now; the errno, logged, if that fails).
pub fn credentials(cfg: &Config, id: ServiceId) -> Result<Option<Creds>, u16> {
    let spec = cfg.spec(id);
    if spec.user.is_empty() && spec.group.is_empty() {
        return Ok(None);
    }
    let arena = &cfg.arena;
    user::lookup(
        arena.get_with_nul(spec.user),
        arena.get_with_nul(spec.group),
    )
    .map(Some)
    .map_err(|e| {
        let errno = e.raw_os_error() as u16;
        let name = Lossy(cfg.name(id));
        say!(
            "{name}: unable to look up user or group: {}",
            ErrnoName(errno)
        );
        errno
    })
}

/// Start `id` as `launch` says; the pid, or the errno (logged).
pub fn start(cfg: &Config, id: ServiceId, launch: &Launch<'_>) -> Result<Pid, u16> {
    let spec = cfg.spec(id);
    let arena = &cfg.arena;
    let mut argv = [core::ptr::null(); ARGV_MAX + 1];
    for (slot, word) in argv
        .iter_mut()
        .zip(arena.words(spec.prefix).chain(arena.words(spec.exec)))
    {
        *slot = word.as_ptr().cast();
    }
    let mut envp: [*const c_char; ENV_MAX + 1] = [core::ptr::null(); ENV_MAX + 1];
    let mut n = 0;
    // Past ENV_MAX the start fails (`vigild -t` refuses a service whose
    // entries do not fit): an entry left out silently, PATH say, would
    // make a service fail in ways hard to trace back.
    let mut overflow = false;
    let mut push = |ptr: *const c_char| match envp.get_mut(n).filter(|_| n < ENV_MAX) {
        Some(slot) => {
            *slot = ptr;
            n += 1;
        }
        None => overflow = true,
    };
    // What the mode sets comes first (it must not be crowded out by
    // ENV_MAX) and wins over the service's `env`, which wins over vigild's.
    let extra = launch.env.split_inclusive(|&b| b == 0);
    if let Some(cells) = launch.listen_pid {
        push(cells.as_ptr().cast());
    }
    for entry in extra.clone() {
        push(entry.as_ptr().cast());
    }
    let set_by_mode = |k: &[u8]| {
        extra.clone().any(|e| key(e) == k) || (launch.listen_pid.is_some() && k == b"LISTEN_PID")
    };
    let own = arena.words(spec.env);
    for entry in own.clone() {
        if !set_by_mode(key(entry)) {
            push(entry.as_ptr().cast());
        }
    }
    for (ptr, _) in inherited(cfg, id) {
        push(ptr);
    }
    if overflow {
        say!(
            "{}: unable to spawn: more than {ENV_MAX} environment entries (VIGILD_ENV_MAX)",
            Lossy(cfg.name(id))
        );
        return Err(libc::E2BIG as u16);
    }
    let out = launch.out.map_or([1, 2], |fd| [fd; 2]);
    let stdout = if launch.conn { launch.stdin } else { out[0] };
    // `ready = fd:1` (s6's `notification-fd 1`): stdout is the readiness
    // pipe, not the log.
    let (stdout, ready_fd) = match launch.ready_fd {
        Some((pipe, 1)) => (pipe, None),
        other => (stdout, other),
    };
    let logger = cfg.is_logger(id);
    let plan = Plan {
        argv: &argv,
        envp: envp.get(..=n).unwrap_or_default(),
        path: args::getenv(b"PATH").unwrap_or(DEFAULT_PATH),
        // vigild's own logger runs from vigild's own binary.
        exe: logger.then_some(SELF_EXE),
        stdio: [launch.stdin, stdout, out[1]],
        fds: launch.fds,
        listen_pid: launch.listen_pid,
        ready_fd,
        console: arena.get_with_nul(spec.console),
        dir: if spec.dir.is_empty() {
            b"/\0"
        } else {
            arena.get_with_nul(spec.dir)
        },
        umask: u32::from(spec.umask),
        nofile: spec.nofile,
        creds: launch.creds,
        cgroup: launch.cgroup,
        block_term: logger,
    };
    spawn(&plan).map(Pid).map_err(|(e, step)| {
        let errno = e.raw_os_error() as u16;
        // `FILE:LINE: ` where the program was named (not for `-- CMD`).
        let mut at = ArrayStr::<300>::new();
        let (file, line) = (cfg.arena.get(cfg.file), spec.exec_line);
        if !file.is_empty() && line != 0 {
            let _ = write!(at, "{}:{line}: ", Lossy(file));
        }
        // What the errno is about: the program, the terminal, the
        // directory, or (none named) the start itself.
        let (what, path) = match step {
            Step::Exec => ("unable to spawn ", argv_program(cfg, id)),
            Step::Console => ("console ", plan.console),
            Step::Dir => ("dir ", plan.dir),
            Step::Setup => ("unable to spawn", &b""[..]),
        };
        say!(
            "{at}{}: {}{}: {}",
            Lossy(cfg.name(id)),
            Plain(what),
            Lossy(without_nul(path)),
            ErrnoName(errno)
        );
        errno
    })
}

/// The program `id` runs: the first word of its prefix and exec.
pub fn argv_program(cfg: &Config, id: ServiceId) -> &[u8] {
    let spec = cfg.spec(id);
    let first = if spec.prefix.is_empty() {
        spec.exec
    } else {
        spec.prefix
    };
    cfg.arena.words(first).next().unwrap_or_default()
}

/// The entries of vigild's environment that `id` inherits: all but what
/// was meant for vigild and what the service's `env` sets.
fn inherited(
    cfg: &Config,
    id: ServiceId,
) -> impl Iterator<Item = (*const c_char, &'static [u8])> + '_ {
    let own = cfg.arena.words(cfg.spec(id).env);
    args::environment().filter(move |&(_, entry)| {
        let k = key(entry);
        !own.clone().any(|e| key(e) == k) && word_index(OWN_VARIABLES, k).is_none()
    })
}

/// The environment entries `id` gets at most: its `env`, what it inherits
/// and what vigild may add (checked against `ENV_MAX` when a
/// configuration is loaded).
pub fn env_entries(cfg: &Config, id: ServiceId) -> usize {
    cfg.spec(id).env.len() + inherited(cfg, id).count() + vigild_engine::config::MODE_ENV_MAX
}

/// The `KEY` of `KEY=VALUE` (with or without its NUL).
fn key(entry: &[u8]) -> &[u8] {
    let entry = without_nul(entry);
    entry.split(|&b| b == b'=').next().unwrap_or(entry)
}

/// Build `KEY=VALUE\0` entries into a buffer.
pub struct EnvBuf<'a>(pub SliceWriter<'a>);

impl EnvBuf<'_> {
    /// Append one entry; false (and nothing appended) if it does not fit.
    pub fn entry(&mut self, entry: core::fmt::Arguments<'_>) -> bool {
        let mark = self.0.len();
        let fits =
            core::fmt::Write::write_fmt(&mut self.0, entry).is_ok() && self.0.push(b"\0").is_ok();
        if !fits {
            self.0.truncate(mark);
        }
        fits
    }
}

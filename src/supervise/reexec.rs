//! `reexec [PATH]` (vigild(8) UPGRADING): vigild replaces its own image
//! and goes on where it was, every service, socket, pipe, ring and waiting
//! request kept. The old image writes its state into a hand-off file
//! (`sys::handoff`: the configuration in force, the engine's table, the
//! rings, and the supervisor's tables of fds as they are), lets the new
//! binary judge the hand-off (`--handoff-check`), keeps exactly the fds
//! that travel open across the exec (every one it holds is state, but the
//! signalfd and the binary's; a cached accept-worker setup is dropped
//! first) and execs `PATH --resume FD`
//! with its own command line after it. The new image reads it all back
//! (`resume`) instead of starting up, and starts, stops and signals
//! nothing: its loop goes on from the same state. Any failure before the
//! exec leaves the old image as it was: it answers `reexec-failed REASON`.
//! Cold code (link/layout.ld).

use super::answers::send;
use super::configs::{Configs, Source, in_force};
use super::containment::Containment;
use super::control_fifo::Control;
use super::listeners::Listeners;
use super::parts::Vigild;
use super::pipes::Pipes;
use super::readiness::{Channel, Channels, Naming, StatusText};
use super::replies::Replies;
use super::role::Role;
use super::status_file::StatusFile;
use super::storage::{self, Tables};
use super::world::{PRIVATE_MAX, World};
use crate::sys::args::Args;
use crate::sys::handoff::{self, Image, Place, read_images, write_images};
use crate::sys::message::{note, say};
use crate::sys::power::Action;
use crate::sys::signal::{self, Signals};
use crate::sys::stdio::adopt;
use crate::sys::{Errno, clock};
use core::ffi::CStr;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use vigild_engine::config::Config;
use vigild_engine::control::{LineReader, Request};
use vigild_engine::fixed::{ArrayStr, Lossy, Plain};
use vigild_engine::limits::READY_MAX;
use vigild_engine::machine::Supervisor;
use vigild_engine::time::Instant;
use vigild_engine::unix::{errno_name, parse_u64};

/// The hand-off format's version (vigild(8) UPGRADING): a vigild resumes
/// from a hand-off of its own version and `LAYOUT` only. A change of how
/// the hand-off is written is a new version; a change of a type that
/// travels changes the layout by itself. The upgrade test builds the
/// previous commit and upgrades from it, or sees it refused cleanly.
pub const HANDOFF_VERSION: u32 = 1;

const MAGIC: [u8; 8] = *b"vigildHO";

/// Longest PATH of `reexec` (and of the binary vigild was started from).
pub const BINARY_MAX: usize = 512;

/// The sizes of what travels and the definitions of its types
/// (`HANDOFF_TYPES`, build.rs), folded into one number: a build with other
/// capacities (`VIGILD_MAX_SERVICES`), another architecture's layout or
/// changed types has another, and its hand-off is refused.
const LAYOUT: u32 = {
    let types = decimal_u64(env!("HANDOFF_TYPES"));
    let sizes = [
        types as usize,
        (types >> 32) as usize,
        HANDOFF_VERSION as usize,
        size_of::<Header>(),
        size_of::<Config>(),
        size_of::<Supervisor>(),
        size_of::<[StatusText; READY_MAX]>(),
        size_of::<LineReader>(),
        size_of::<Listeners>(),
        size_of::<Pipes>(),
        size_of::<[Option<Channel>; READY_MAX]>(),
        size_of::<Replies>(),
        size_of::<Role>(),
        size_of::<Containment>(),
        size_of::<Held>(),
        size_of::<usize>(),
        vigild_engine::limits::RING_BYTES,
    ];
    // FNV-1a over the sizes.
    let mut hash: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < sizes.len() {
        hash = (hash ^ sizes[i] as u32).wrapping_mul(0x0100_0193);
        i += 1;
    }
    hash
};

/// A decimal number's value, at compile time.
const fn decimal_u64(text: &str) -> u64 {
    let (bytes, mut value, mut i) = (text.as_bytes(), 0u64, 0);
    while i < bytes.len() {
        value = value
            .wrapping_mul(10)
            .wrapping_add((bytes[i] - b'0') as u64);
        i += 1;
    }
    value
}

/// The hand-off's first page: what it is, and what does not travel as an
/// image. Integers only, so that any bytes are one (the check reads a
/// foreign build's header).
#[repr(C)]
#[derive(Clone, Copy)]
struct Header {
    magic: [u8; 8],
    version: u32,
    layout: u32,
    /// The old image's monotonic clock when it executed the new one (ns).
    left_ns: u64,
    /// The FIFO of the `reexec` request, told `reexecuted` by the new
    /// image (-1: none).
    reply: i32,
    /// vigild's messages are stamped (`-l FILE`).
    stamped: u32,
    /// The old image switched the root (`switch_root`): the new one
    /// reloads, from the new root's configuration.
    switched: u32,
}

/// The world's own fds (their numbers), its private run directory, how
/// its sockets are named, and the binary a `reexec` without PATH runs (the
/// first image's, whichever PATH a later one was given: a rollback to
/// another file does not make it the default).
#[derive(Clone, Copy)]
struct Held {
    fds: [i32; 5],
    private_run_dir: Option<ArrayStr<PRIVATE_MAX>>,
    naming: Naming,
    binary: ArrayStr<BINARY_MAX>,
}

/// What a resumed image does first: its requester is told, the time away
/// said.
pub struct Resumed {
    reply: Option<OwnedFd>,
    left_ns: u64,
    /// After a `switch_root`: reload, from the new root's configuration.
    switched: bool,
}

/// `reexec [PATH]`.
#[inline(never)]
pub fn on_reexec(v: &mut Vigild, request: Request<'_>, reply: Option<OwnedFd>, _now: Instant) {
    hand_over_or_say(v, "reexec", request.name, b"", reply);
}

/// Execute the binary `name` (or the one vigild was started from) with the
/// hand-off, after entering `new_root` if not empty (`switch_root`, whose
/// INIT is `name`, inside it); if it could not, say why, and answer
/// `VERB-failed REASON`.
#[inline(never)]
pub fn hand_over_or_say(
    v: &mut Vigild,
    verb: &str,
    name: &[u8],
    new_root: &[u8],
    reply: Option<OwnedFd>,
) {
    let mut answer = [0u8; 120];
    let binary = v.binary;
    let path = match name {
        b"" => binary.as_str().as_bytes(),
        named => named,
    };
    let (why, detail) = hand_over(v, path, new_root, reply.as_ref(), &mut answer);
    let detail = match detail {
        Ok(words) => words,
        Err(e) => errno_name(errno(e)).unwrap_or("error").as_bytes(),
    };
    failed(verb, [new_root, path], why, detail, reply);
}

/// `VERB [ABOUT]: failed: WHY DETAIL` said, and `VERB-failed WHY DETAIL`
/// answered (`reexec`, `switch_root`).
#[inline(never)]
pub fn failed(verb: &str, about: [&[u8]; 2], why: &str, detail: &[u8], reply: Option<OwnedFd>) {
    let (why, detail) = (Plain(why), Lossy(detail));
    let [a, b] = about.map(Lossy);
    say!("{}: {a}{b}: failed: {why}{detail}", Plain(verb));
    if let Some(fd) = reply {
        send(
            fd.as_fd(),
            format_args!("{}-failed {why}{detail}", Plain(verb)),
        );
    }
}

/// Why a binary is not executed.
const NOT_TRUSTED: &[u8] =
    b" (it must be owned by root or vigild's user, and not writable by its group or others)";

/// `hand_over_or_say`'s work, the binary `given` (absolute); returns only
/// if it could not hand over: why (a word), and the check's answer or the
/// error.
#[inline(never)]
fn hand_over<'a>(
    v: &mut Vigild,
    given: &[u8],
    new_root: &[u8],
    reply: Option<&OwnedFd>,
    answer: &'a mut [u8; 120],
) -> (&'static str, Result<&'a [u8], Errno>) {
    if v.engine.is_halting() {
        return ("in-shutdown", Ok(b""));
    }
    if clock::now().as_ms() < QUIET_UNTIL.load(Relaxed) {
        return ("check-timed-out", Ok(b" (a check just did: retry in 5 s)"));
    }
    let (mut path, mut inside) = ([0u8; BINARY_MAX + 1], [0u8; BINARY_MAX + 1]);
    let Some(path) = c_path(&[given], &mut path) else {
        return ("no-path", Ok(b""));
    };
    // The file to check and execute: INIT inside NEWROOT, for a switch.
    let root = match new_root {
        b"" => None,
        root => Some(c_path(&[root], &mut inside).ok_or(Errno::NAMETOOLONG)),
    };
    let binary = match root
        .transpose()
        .and_then(|root| handoff::open_binary(root, path))
    {
        Ok(binary) => binary,
        Err(Errno::PERM) => return ("not-trusted", Ok(NOT_TRUSTED)),
        Err(Errno::ISDIR) => return ("not-a-file", Ok(b"")),
        Err(Errno::LOOP) => return ("symlink", Ok(b" (give the file's own path)")),
        Err(e) => return ("open ", Err(e)),
    };
    let reply = reply.map(|fd| fd.as_fd());
    let file = match write_handoff(v, reply) {
        Ok(file) => file,
        Err(e) => return ("hand-off ", Err(e)),
    };
    let len = match handoff::run_check(binary.as_fd(), path, file.as_fd(), answer, CHECK_MS) {
        Ok(len) => len,
        Err(e) => {
            if e == Errno::TIMEDOUT {
                QUIET_UNTIL.store(clock::now().plus_ms(CHECK_MS).as_ms(), Relaxed);
            }
            return ("check ", Err(e));
        }
    };
    // Its first line (the rest of an older vigild's usage goes).
    let said = answer[..len]
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or_default();
    match said.trim_ascii_end() {
        b"ok" => {}
        // Another program, a vigild before reexec (its stderr says why),
        // or a script (not executable by its descriptor).
        b"" => {
            return (
                "check: ",
                Ok(b"no answer (no vigild with reexec, or a script)"),
            );
        }
        said => return ("check: ", Ok(said)),
    }
    if !new_root.is_empty() {
        // No way back after this: a failure leaves vigild and every
        // service running wherever the switch stopped.
        if let Err((step, e)) = crate::sys::switch_root::enter_new_root(new_root) {
            say!(
                "switch_root: failed at {}: the old root may be partly gone",
                Plain(step)
            );
            return ("enter ", Err(e));
        }
    }
    note!("reexec: handing over to {}", Lossy(path.to_bytes()));
    // Every fd vigild holds travels, but the signalfd (the new image
    // makes its own) and the binary; the cached setup of an accept
    // worker goes first (it is made again when needed).
    v.world.worker_setup = None;
    handoff::keep_open_fds([
        handoff::number(v.world.signals.fd()),
        handoff::number(&binary),
    ]);
    // The time away is counted from here.
    let left = header(reply, clock::now_ns(), !new_root.is_empty());
    let e = match write_images(file.as_fd(), &[Image::of(&left)]) {
        Ok(()) => {
            let mut number = [0u8; 12];
            let fd_arg = decimal(handoff::number(&file) as u32, &mut number);
            handoff::exec(binary.as_fd(), path, &[c"--resume", fd_arg], v.args, 1)
        }
        Err(e) => e,
    };
    crate::sys::stdio::cloexec_inherited();
    ("exec ", Err(e))
}

/// `parts` one after the other with a NUL after them in `buf`, if they
/// fit and hold none.
#[inline(never)]
fn c_path<'b>(parts: &[&[u8]], buf: &'b mut [u8; BINARY_MAX + 1]) -> Option<&'b CStr> {
    let mut len = 0;
    for part in parts {
        buf.get_mut(len..len + part.len())?.copy_from_slice(part);
        len += part.len();
    }
    let path = CStr::from_bytes_with_nul(buf.get(..=len)?).ok()?;
    (len > 0).then_some(path)
}

/// `n` in decimal, NUL-terminated, in `buf`.
fn decimal(mut n: u32, buf: &mut [u8; 12]) -> &CStr {
    let mut at = buf.len() - 1;
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    CStr::from_bytes_with_nul(&buf[at..]).unwrap_or(c"")
}

/// After a check that did not answer in time, none other before this
/// (monotonic ms): `reexec` lines queued behind it cannot hold vigild for
/// the whole limit each.
static QUIET_UNTIL: AtomicU64 = AtomicU64::new(0);

/// How long the new binary may take to judge the hand-off.
const CHECK_MS: u64 = 5000;

fn errno(e: Errno) -> u16 {
    e.raw_os_error() as u16
}

/// The header of this image's hand-off.
#[inline(never)]
fn header(reply: Option<BorrowedFd<'_>>, left_ns: u64, switched: bool) -> Header {
    Header {
        magic: MAGIC,
        version: HANDOFF_VERSION,
        layout: LAYOUT,
        left_ns,
        reply: reply.map_or(-1, handoff::number),
        stamped: u32::from(crate::sys::message::stamped()),
        switched: u32::from(switched),
    }
}

/// Write the hand-off: the header (timed again just before the exec),
/// then every image, in the order `resume` reads them.
#[inline(never)]
fn write_handoff(v: &mut Vigild, reply: Option<BorrowedFd<'_>>) -> Result<OwnedFd, Errno> {
    let file = handoff::create(v.world.dir.as_fd())?;
    let f = file.as_fd();
    let (w, c) = (&v.world, &v.control);
    let held = Held {
        fds: [&w.dir, &w._lock, &w.devnull, &c.fd, &c._keep].map(handoff::number),
        private_run_dir: w.private_run_dir,
        naming: w.channels.naming(),
        binary: v.binary,
    };
    let (w, head) = (&v.world, header(reply, 0, false));
    write_images(
        f,
        &[
            Image::of(&head),
            Image::of(v.configs.active()),
            Image::of(&*v.engine),
            Image::of(w.channels.texts()),
            Image::of(&*v.control.lines),
            Image::of(&w.listeners),
            Image::of(&w.pipes),
            Image::of(w.channels.list()),
            Image::of(&w.replies),
            Image::of(&v.role),
            Image::of(&w.containment),
            Image::of(&held),
            Image::of(&*w.rings),
        ],
    )?;
    Ok(file)
}

/// `vigild --handoff-check`: judge the hand-off on stdin, as the old
/// image asks before it executes this binary: `ok` if all of it reads back
/// as `resume` reads it, or why not, on stdout.
#[inline(never)]
pub fn check() -> i32 {
    let (answer, code) = match load(crate::sys::fs::stdin()) {
        Ok(state) => {
            // Its fds are the old image's, not this process's: never
            // closed here.
            core::mem::forget(state);
            ("ok\n", 0)
        }
        Err(why) => (why, 1),
    };
    let _ = crate::sys::fs::write_all(crate::sys::fs::stdout(), answer.as_bytes());
    code
}

/// The hand-off's header, if this build can resume from it.
fn read_header(file: BorrowedFd<'_>) -> Result<Header, &'static str> {
    let mut h = Header {
        magic: [0; 8],
        version: 0,
        layout: 0,
        left_ns: 0,
        reply: -1,
        stamped: 0,
        switched: 0,
    };
    read_images(file, &mut [Place::of(&mut h)]).map_err(|_| "unreadable\n")?;
    match h {
        _ if h.magic != MAGIC => Err("not a vigild hand-off\n"),
        _ if h.version != HANDOFF_VERSION => Err("another hand-off version\n"),
        _ if h.layout != LAYOUT => Err("another layout (capacities, architecture or types)\n"),
        _ => Ok(h),
    }
}

/// Everything a hand-off holds, read back; its fds are numbers of the
/// process that resumes (the old image's, kept across the exec).
struct Loaded {
    header: Header,
    tables: &'static mut Tables,
    lines: &'static mut LineReader,
    listeners: Listeners,
    pipes: Pipes,
    channels: [Option<Channel>; READY_MAX],
    replies: Replies,
    role: Role,
    containment: Containment,
    held: Held,
}

/// Read the hand-off `file` back, all of it: the header, then every image
/// in the order `write_handoff` wrote them.
fn load(file: BorrowedFd<'_>) -> Result<Loaded, &'static str> {
    let header = read_header(file)?;
    let (tables, lines) = storage::take().ok_or("storage\n")?;
    let mut l = Loaded {
        header,
        tables,
        lines,
        listeners: Listeners::new(),
        pipes: Pipes::new(),
        channels: [const { None }; READY_MAX],
        replies: Replies::new(),
        role: Role {
            pid1: false,
            halt: Action::Poweroff,
            verdict: None,
            start_failed: false,
            ready_fd: None,
        },
        containment: Containment::Groups,
        held: Held {
            fds: [-1; 5],
            private_run_dir: None,
            naming: Naming::of(b""),
            binary: ArrayStr::new(),
        },
    };
    // Into values that hold no fds yet: nothing is overwritten that owns
    // one.
    // The header again, as the first image (checked already).
    let st = &mut *l.tables;
    read_images(
        file,
        &mut [
            Place::of(&mut l.header),
            Place::zeroed(&mut st.configs[0]),
            Place::zeroed(&mut st.supervisor.0),
            Place::zeroed(&mut st.status_texts),
            Place::zeroed(&mut *l.lines),
            Place::of(&mut l.listeners),
            Place::of(&mut l.pipes),
            Place::of(&mut l.channels),
            Place::of(&mut l.replies),
            Place::of(&mut l.role),
            Place::of(&mut l.containment),
            Place::of(&mut l.held),
            Place::zeroed(&mut st.rings),
        ],
    )
    .map_err(|_| "hand-off unreadable (cut short?)\n")?;
    Ok(l)
}

/// `vigild --resume FD ARGS...`: the new image, from the hand-off on
/// `FD` (ARGS: the command line the first image was started with).
#[inline(never)]
pub fn resume(args: Args, source: Source) -> Result<Vigild, i32> {
    let fatal = |what: &str| {
        say!("fatal: reexec: {}", Plain(what.trim_ascii_end()));
        Err(1)
    };
    let number = args.get(0).and_then(parse_u64).unwrap_or(0) as i32;
    let Some(file) = adopt(number) else {
        return fatal("no hand-off");
    };
    let l = match load(file.as_fd()) {
        Ok(l) => l,
        Err(why) => return fatal(why),
    };
    let (h, st) = (l.header, l.tables);
    if h.stamped != 0 {
        crate::sys::message::stamp_lines();
    }
    // What a failure must do (`crash`, container mode) follows it.
    in_force(&st.configs[0]);
    let [
        Some(dir),
        Some(lock),
        Some(devnull),
        Some(control),
        Some(control_keep),
    ] = l.held.fds.map(adopt)
    else {
        return fatal("the hand-off names fds that are not open");
    };
    let mut channels = Channels::named(l.held.naming, &mut st.status_texts);
    *channels.list_mut() = l.channels;
    let signals = match Signals::install(&signal::HANDLED) {
        Ok(signals) => signals,
        Err(_) => return fatal("signals"),
    };
    let v = Vigild {
        configs: Configs::new(&mut st.configs, &mut st.text.0, &mut st.errors, source),
        engine: &mut st.supervisor.0,
        world: World {
            dir,
            _lock: lock,
            private_run_dir: l.held.private_run_dir,
            signals,
            devnull,
            listeners: l.listeners,
            pipes: l.pipes,
            rings: &mut st.rings,
            channels,
            notice: Some(&mut st.notice),
            replies: l.replies,
            worker_setup: None,
            containment: l.containment,
        },
        status: StatusFile::new(),
        control: Control {
            fd: control,
            _keep: control_keep,
            lines: l.lines,
            warnings: Default::default(),
        },
        role: l.role,
        args,
        binary: l.held.binary,
        resumed: Some(Resumed {
            reply: adopt(h.reply),
            left_ns: h.left_ns,
            switched: h.switched != 0,
        }),
    };
    // Close-on-exec again: the fds that travelled are vigild's own. (The
    // subreaper's role was kept across the exec.)
    crate::sys::stdio::cloexec_inherited();
    Ok(v)
}

/// The resumed image's first turn: the requester told, the time away
/// said.
#[inline(never)]
pub fn resumed(v: &mut Vigild, r: Resumed) {
    let away_us = clock::now_ns().saturating_sub(r.left_ns) / 1000;
    note!(
        "reexec: resumed, {} services kept, away {away_us} us",
        v.configs.active().len()
    );
    let word = match r.switched {
        true => "switched-root",
        false => "reexecuted",
    };
    if let Some(fd) = &r.reply {
        send(
            fd.as_fd(),
            format_args!("{} {}", Plain(word), Plain(env!("CARGO_PKG_VERSION"))),
        );
    }
    // (The status file is written at the first turn: a new one is dirty.)
    // The new root's services: those of both configurations (the same
    // name and section) kept, the others stopped or started; its errors,
    // if any, go to the requester too.
    if r.switched {
        super::reload::reload(v, clock::now(), r.reply.as_ref().map(|fd| fd.as_fd()));
    }
}

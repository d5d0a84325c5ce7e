//! Readiness channels (`ready` in vigild.conf(5)): the sd_notify datagram socket
//! and the s6-style pipe, and who sent a notification.

use super::Errno;
use core::mem::MaybeUninit;
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
use rustix::io::IoSliceMut;
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SocketAddrUnix,
    SocketFlags, SocketType, bind, recvmsg, socket_with, sockopt,
};
use rustix::pipe::{PipeFlags, pipe_with};
use vigild_engine::fixed::{SliceWriter, digest, push_hex};

/// The part of a notify socket's name after the run directory.
const NOTIFY_DIR: &[u8] = b"notify";

/// `@RUN_DIR/notify/NAME.NONCE`: the abstract name, ending in `nonce`
/// (64 random bits, in hex) that nobody can guess and take first. Where
/// that is too long for a socket's name (107 bytes), digests of the run
/// directory and the name stand in: `@vigild-RUN/NAME.NONCE`.
/// `run` is the run directory's path (empty if it did not fit) and its
/// digest; `out` holds a socket's longest name.
// Not inlined into the hot caller (`Channels::open`): cold code, as all of
// this file (link/layout.ld).
#[inline(never)]
pub fn socket_name(
    (run, run_digest): (&[u8], u64),
    name: &[u8],
    nonce: u64,
    out: &mut [u8],
) -> Result<usize, Errno> {
    // `out` holds a socket's longest name: what does not fit is too long.
    let mut w = SliceWriter::new(out);
    let readable = !run.is_empty()
        && w.push(b"@").is_ok()
        && w.push(run).is_ok()
        && w.push(b"/").is_ok()
        && w.push(NOTIFY_DIR).is_ok()
        && w.push(b"/").is_ok()
        && w.push(name).is_ok()
        && w.push(b".").is_ok()
        && push_hex(&mut w, nonce).is_ok();
    if readable {
        return Ok(w.len());
    }
    let mut w = SliceWriter::new(out);
    let fits = w.push(b"@vigild-").is_ok()
        && push_hex(&mut w, run_digest).is_ok()
        && w.push(b"/").is_ok()
        && push_hex(&mut w, digest(name)).is_ok()
        && w.push(b".").is_ok()
        && push_hex(&mut w, nonce).is_ok();
    match fits {
        true => Ok(w.len()),
        false => Err(Errno::NAMETOOLONG),
    }
}

/// A datagram socket bound to the abstract name `path` (without its `@`),
/// with SO_PASSCRED so every message says which process sent it.
/// Non-blocking and close-on-exec: the service finds it by name, not as an
/// fd.
pub fn open_socket(path: &[u8]) -> Result<OwnedFd, Errno> {
    let flags = SocketFlags::CLOEXEC | SocketFlags::NONBLOCK;
    let fd = socket_with(AddressFamily::UNIX, SocketType::DGRAM, flags, None)?;
    sockopt::set_socket_passcred(&fd, true)?;
    let name = path.strip_prefix(b"@").unwrap_or(path);
    bind(&fd, &SocketAddrUnix::new_abstract_name(name)?)?;
    Ok(fd)
}

/// 64 random bits (getrandom(2)), for names others must not guess; 0 if
/// the kernel gives none.
pub fn random() -> u64 {
    let mut bytes = [0u8; 8];
    match rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty()) {
        Ok(8) => u64::from_le_bytes(bytes),
        _ => 0,
    }
}

/// Descriptors that came with a datagram; dropping this closes them.
pub struct Passed {
    _fds: [Option<OwnedFd>; PASSED_MAX],
}

/// Descriptors taken from one datagram (the kernel closes any beyond).
const PASSED_MAX: usize = 8;

/// One datagram into `buf`: its length (cut to `buf`), the sender's pid (0
/// if the kernel gave none), and the descriptors sent along (systemd-notify's
/// `BARRIER=1`), to be dropped, which closes them, once the sender has
/// been checked: a sender that waits for that close is still there to be
/// looked at. `None` when nothing is waiting.
pub fn receive(socket: BorrowedFd<'_>, buf: &mut [u8]) -> Option<(usize, i32, Passed)> {
    let mut space =
        [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(PASSED_MAX), ScmCredentials(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [IoSliceMut::new(buf)];
    let flags = RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT;
    let got = loop {
        match recvmsg(socket, &mut iov, &mut control, flags) {
            Ok(got) => break got,
            Err(Errno::INTR) => continue,
            Err(_) => return None,
        }
    };
    let mut pid = 0;
    let mut fds = [const { None }; PASSED_MAX];
    for message in control.drain() {
        match message {
            RecvAncillaryMessage::ScmCredentials(cred) => pid = cred.pid.as_raw_nonzero().get(),
            RecvAncillaryMessage::ScmRights(received) => {
                for (slot, fd) in fds.iter_mut().zip(received) {
                    *slot = Some(fd);
                }
            }
            _ => {}
        }
    }
    Some((got.bytes.min(buf.len()), pid, Passed { _fds: fds }))
}

/// A pipe for s6-style readiness: (read end, non-blocking, for vigild;
/// write end for the service). Both close-on-exec; spawn places the write
/// end on the service's fd N.
pub fn pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    let (read, write) = pipe_with(PipeFlags::CLOEXEC)?;
    fcntl_setfl(&read, fcntl_getfl(&read)? | OFlags::NONBLOCK)?;
    Ok((read, write))
}

/// Read what the pipe holds: `Some(n)` bytes (0: the writer closed it),
/// `None` if nothing is there yet.
pub fn read_pipe(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Option<usize> {
    loop {
        match rustix::io::read(fd, &mut *buf) {
            Ok(n) => return Some(n),
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => return None,
            // Treated as the end: the channel is closed.
            Err(_) => return Some(0),
        }
    }
}

/// The parent of `pid` (from `/proc/PID/stat`), if it can be read.
pub fn parent_of(pid: i32) -> Option<i32> {
    let mut path = [0u8; 32];
    let mut w = vigild_engine::fixed::SliceWriter::new(&mut path);
    core::fmt::Write::write_fmt(&mut w, format_args!("/proc/{}/stat", pid as u32)).ok()?;
    let fd = super::fs::open_read(w.bytes()).ok()?;
    // Only the first fields matter; they fit in the first read.
    let mut buf = [0u8; 256];
    let len = rustix::io::read(&fd, &mut buf).ok()?;
    // "PID (COMM) STATE PPID ...": COMM may hold anything, even ") ".
    let text = &buf[..len];
    let close = text.iter().rposition(|&b| b == b')')?;
    let mut fields = text[close + 1..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    let _state = fields.next()?;
    let ppid = vigild_engine::unix::parse_u64(fields.next()?)?;
    i32::try_from(ppid).ok()
}

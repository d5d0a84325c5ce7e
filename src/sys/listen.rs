//! Listening sockets (`listen` in vigild.conf(5)) and accepting on them.

use super::Errno;
use super::at::{statat, unlinkat};
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, CWD, FileType, Mode};
use rustix::net::{
    AddressFamily, SocketAddrAny, SocketAddrUnix, SocketFlags, SocketType, bind, connect, listen,
    socket_with, sockopt,
};

/// What a socket listens on.
#[derive(Clone, Copy)]
pub enum Address<'a> {
    Tcp4(Ipv4Addr, u16),
    Tcp6(Ipv6Addr, u16),
    /// A unix socket's path.
    Unix(&'a [u8]),
}

/// How a socket is set up: `backlog`, the unix file `mode`, and whether
/// vigild accepts on it itself (non-blocking then; a socket handed to an
/// activated program stays blocking, as systemd hands it over).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    pub backlog: u32,
    pub mode: u16,
    pub nonblocking: bool,
}

/// Bind and listen on `addr`, close-on-exec (children get it explicitly),
/// SO_REUSEADDR so that a restart of vigild does not wait out TIME_WAIT,
/// IPV6_V6ONLY so that `tcp:[::]:80` and `tcp:0.0.0.0:80` can both be bound.
pub fn open(addr: Address<'_>, setup: Setup) -> Result<OwnedFd, Errno> {
    let flags = match setup.nonblocking {
        true => SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        false => SocketFlags::CLOEXEC,
    };
    let mode = setup.mode;
    let fd = match addr {
        Address::Tcp4(ip, port) => {
            let fd = socket_with(AddressFamily::INET, SocketType::STREAM, flags, None)?;
            sockopt::set_socket_reuseaddr(&fd, true)?;
            bind(&fd, &SocketAddrV4::new(ip, port))?;
            fd
        }
        Address::Tcp6(ip, port) => {
            let fd = socket_with(AddressFamily::INET6, SocketType::STREAM, flags, None)?;
            sockopt::set_socket_reuseaddr(&fd, true)?;
            sockopt::set_ipv6_v6only(&fd, true)?;
            bind(&fd, &SocketAddrV6::new(ip, port, 0, 0))?;
            fd
        }
        Address::Unix(path) => {
            let fd = socket_with(AddressFamily::UNIX, SocketType::STREAM, flags, None)?;
            let sa = SocketAddrUnix::new(path)?;
            remove_stale(path, &sa)?;
            // The file gets its mode as bind creates it (0777 minus the
            // umask): no chmod by path afterwards, which a symlink swapped
            // in meanwhile could redirect. vigild is single-threaded.
            let saved = rustix::process::umask(Mode::from_raw_mode((!mode & 0o777).into()));
            let bound = bind(&fd, &sa);
            rustix::process::umask(saved);
            bound?;
            fd
        }
    };
    listen(&fd, setup.backlog.min(i32::MAX as u32) as i32)?;
    Ok(fd)
}

/// A reload changed how a kept socket is used: set its blocking flag and
/// backlog. (Its unix file keeps its mode: a changed `listen_mode` applies
/// when the socket is bound anew.)
pub fn reuse(fd: BorrowedFd<'_>, setup: Setup) -> Result<(), Errno> {
    let flags = rustix::fs::fcntl_getfl(fd)?;
    let flags = match setup.nonblocking {
        true => flags | rustix::fs::OFlags::NONBLOCK,
        false => flags - rustix::fs::OFlags::NONBLOCK,
    };
    rustix::fs::fcntl_setfl(fd, flags)?;
    listen(fd, setup.backlog.min(i32::MAX as u32) as i32)
}

/// A socket file left by a process that is gone is removed; a socket that
/// still answers, or anything else at the path, is an error.
fn remove_stale(path: &[u8], sa: &SocketAddrUnix) -> Result<(), Errno> {
    let stat = match statat(CWD, path, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => stat,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    if FileType::from_raw_mode(stat.st_mode) != FileType::Socket {
        return Err(Errno::EXIST);
    }
    let probe = socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    match connect(&probe, sa) {
        Err(Errno::CONNREFUSED) => unlinkat(CWD, path, AtFlags::empty()),
        // Someone listens there (EAGAIN: with a full backlog).
        Ok(()) | Err(Errno::AGAIN) => Err(Errno::ADDRINUSE),
        Err(e) => Err(e),
    }
}

/// One accepted connection: blocking (as workers expect), close-on-exec
/// (the worker gets it as fds 0 and 1 by dup2), and its remote address.
pub fn accept(listener: BorrowedFd<'_>) -> Result<(OwnedFd, Option<SocketAddr>), Errno> {
    let (conn, peer) = rustix::net::acceptfrom_with(listener, SocketFlags::CLOEXEC)?;
    Ok((conn, peer.and_then(ip_address)))
}

/// The local address of a connection.
pub fn local_address(conn: BorrowedFd<'_>) -> Option<SocketAddr> {
    rustix::net::getsockname(conn).ok().and_then(ip_address)
}

fn ip_address(addr: SocketAddrAny) -> Option<SocketAddr> {
    SocketAddr::try_from(addr).ok()
}

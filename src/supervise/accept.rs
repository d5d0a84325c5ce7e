//! Accept mode (inetd's way, vigild.conf(5) `mode`): vigild accepts on a listener and
//! hands each connection to a worker of its own, with ucspi-tcp's and
//! systemd's variables; the engine decides who is let in.

use super::launch::{EnvBuf, Launch, WorkerSetup, credentials, raw, start};
use super::parts::Vigild;
use super::world::{cgroup_for, output_of};
use crate::sys::Errno;
use crate::sys::listen;
use crate::sys::message::say;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use rustix::fd::AsFd;
use vigild_engine::config::{DurationText, Listen};
use vigild_engine::fixed::{Lossy, Plain, ServiceId, SliceWriter};
use vigild_engine::ip::IpText;
use vigild_engine::machine::{Admit, Peer};
use vigild_engine::time::Instant;
use vigild_engine::unix::ErrnoName;

/// Connections accepted from one listener per loop turn, so that one busy
/// listener cannot starve the others, the control FIFO or reaping.
const ACCEPT_BATCH: usize = 16;

/// Accept up to `ACCEPT_BATCH` connections of listener `i`.
// One copy, not inlined into the loop: it is most of the accept path
// and the binary has a size budget.
#[inline(never)]
pub fn accept(v: &mut Vigild, i: usize, id: ServiceId, now: Instant) {
    let cfg = v.configs.active();
    let world = &mut v.world;
    let Some(listener) = world.listeners.get(i) else {
        return;
    };
    let addr = listener.addr(cfg);
    for _ in 0..ACCEPT_BATCH {
        if !v.engine.polls(cfg, id) {
            break;
        }
        let (conn, remote) = match listen::accept(listener.fd.as_fd()) {
            Ok(pair) => pair,
            Err(Errno::AGAIN) => break,
            // The client gave up before we got to it, or a network error
            // of that connection (accept(2): treat these like EAGAIN).
            Err(
                Errno::CONNABORTED
                | Errno::INTR
                | Errno::PROTO
                | Errno::NETDOWN
                | Errno::NOPROTOOPT
                | Errno::HOSTDOWN
                | Errno::NONET
                | Errno::HOSTUNREACH
                | Errno::OPNOTSUPP
                | Errno::NETUNREACH,
            ) => continue,
            Err(e) => {
                if v.engine.accept_failed(id, now) {
                    say!(
                        "{}: accept: {}; pausing the listener",
                        Lossy(cfg.name(id)),
                        ErrnoName(e.raw_os_error() as u16)
                    );
                }
                break;
            }
        };
        let peer = peer_key(remote);
        match v.engine.admit(cfg, id, now, &peer) {
            Admit::Spawn => {
                // Looked up for the first worker, then kept until the
                // configuration changes: not two file reads (and a
                // cgroup opened) per connection.
                let WorkerSetup { creds, cgroup, .. } = match &mut world.worker_setup {
                    Some(setup) if setup.id == id => setup,
                    setup => {
                        let Ok(creds) = credentials(cfg, id) else {
                            v.engine.worker_failed(id);
                            continue;
                        };
                        let cgroup = cgroup_for(&world.containment, cfg, id);
                        setup.insert(WorkerSetup { id, creds, cgroup })
                    }
                };
                let local = addr
                    .and_then(bound_ip)
                    .or_else(|| listen::local_address(conn.as_fd()));
                let mut buf = [0u8; 320];
                let mut env = EnvBuf(SliceWriter::new(&mut buf));
                connection_env(&mut env, remote, local);
                let launch = Launch {
                    stdin: raw(conn.as_fd()),
                    conn: true,
                    out: output_of(&world.pipes, &world.devnull, cfg, id),
                    fds: &[],
                    env: env.0.bytes(),
                    listen_pid: None,
                    creds: creds.as_ref(),
                    ready_fd: None,
                    cgroup: cgroup.as_ref().map(|fd| raw(fd.as_fd())),
                };
                match start(cfg, id, &launch) {
                    Ok(pid) => v.engine.worker_spawned(cfg, id, now, pid, &peer),
                    Err(_) => v.engine.worker_failed(id),
                }
            }
            Admit::Full { warn: true } => say!(
                "{}: warning: max_workers = {} busy for drop_timeout ({}): dropping new connections",
                Lossy(cfg.name(id)),
                cfg.spec(id).max_workers,
                DurationText(cfg.spec(id).drop_timeout_ms.into())
            ),
            Admit::Full { warn: false } | Admit::PerIpLimit | Admit::Stopping => {}
        }
        // The worker has its own copy; ours closes here.
        drop(conn);
    }
}

/// `max_per_ip` compares IPv6 bytes; IPv4 is mapped (`::ffff:a.b.c.d`).
// Not inlined into the accept loop: there it costs more code than the call.
#[inline(never)]
fn peer_key(remote: Option<SocketAddr>) -> Peer {
    match remote {
        Some(SocketAddr::V4(a)) => a.ip().to_ipv6_mapped().octets(),
        Some(SocketAddr::V6(a)) => a.ip().octets(),
        None => [0; 16],
    }
}

/// A worker's variables: ucspi-tcp's and systemd's for TCP, `PROTO=UNIX`
/// for a unix socket.
fn connection_env(env: &mut EnvBuf<'_>, remote: Option<SocketAddr>, local: Option<SocketAddr>) {
    let Some(remote) = remote else {
        env.entry(format_args!("PROTO=UNIX"));
        return;
    };
    env.entry(format_args!("PROTO=TCP"));
    address_env(env, "TCPREMOTEIP", "TCPREMOTEPORT", remote);
    if let Some(local) = local {
        address_env(env, "TCPLOCALIP", "TCPLOCALPORT", local);
    }
    address_env(env, "REMOTE_ADDR", "REMOTE_PORT", remote);
}

/// `IP_KEY=address` and `PORT_KEY=port`: one copy for the three pairs.
fn address_env(env: &mut EnvBuf<'_>, ip_key: &str, port_key: &str, addr: SocketAddr) {
    env.entry(format_args!("{}={}", Plain(ip_key), IpText(addr.ip())));
    env.entry(format_args!(
        "{}={}",
        Plain(port_key),
        u32::from(addr.port())
    ));
}

/// The address of an IP listener as bound (the local address of its
/// connections unless it is a wildcard).
fn bound_ip(addr: Listen<'_>) -> Option<SocketAddr> {
    match addr {
        Listen::Tcp4(ip, port) if ip != Ipv4Addr::UNSPECIFIED => {
            Some(SocketAddr::new(IpAddr::V4(ip), port))
        }
        Listen::Tcp6(ip, port) if ip != Ipv6Addr::UNSPECIFIED => {
            Some(SocketAddr::new(IpAddr::V6(ip), port))
        }
        _ => None,
    }
}

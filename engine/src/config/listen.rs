//! `listen` addresses: `tcp:ADDR:PORT`, `tcp:[V6]:PORT`, `unix:PATH`.

use crate::fixed::Lossy;
use crate::ip::{IpText, parse_ipv4, parse_ipv6};
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

/// A listening address, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listen<'a> {
    /// TCP over IPv4.
    Tcp4(Ipv4Addr, u16),
    /// TCP over IPv6 (bound with IPV6_V6ONLY).
    Tcp6(Ipv6Addr, u16),
    /// A stream socket at a filesystem path.
    Unix(&'a [u8]),
}

/// Longest unix socket path: `sun_path` holds 108 bytes with the NUL.
pub const UNIX_PATH_MAX: usize = 107;

/// Parse one `listen` value; why not, in words for the error message.
// Called from several places (parser, listeners, driver): one copy.
#[inline(never)]
pub fn parse_listen(text: &[u8]) -> Result<Listen<'_>, &'static str> {
    if let Some(path) = text.strip_prefix(b"unix:") {
        return match path {
            [b'/', ..] if path.len() > UNIX_PATH_MAX => {
                Err("unix socket path longer than 107 bytes")
            }
            [b'/', ..] if path.contains(&0) => Err("NUL byte in the path"),
            [b'/', ..] if path.ends_with(b"/") => Err("the path names a directory"),
            [b'/', ..] => Ok(Listen::Unix(path)),
            _ => Err("unix socket path must be absolute"),
        };
    }
    let Some(rest) = text.strip_prefix(b"tcp:") else {
        return Err("expected tcp:ADDR:PORT, tcp:[V6]:PORT or unix:PATH");
    };
    let colon = rest.iter().rposition(|&b| b == b':').ok_or("no :PORT")?;
    let (host, port) = (&rest[..colon], &rest[colon + 1..]);
    let port = parse_port(port).ok_or("bad port (1 to 65535)")?;
    match host.strip_prefix(b"[").and_then(|h| h.strip_suffix(b"]")) {
        Some(v6) => parse_ipv6(v6)
            .map(|ip| Listen::Tcp6(ip, port))
            .ok_or("bad IPv6 address"),
        None if host.contains(&b':') => Err("an IPv6 address goes in brackets: tcp:[::1]:PORT"),
        None => parse_ipv4(host)
            .map(|ip| Listen::Tcp4(ip, port))
            .ok_or("bad IPv4 address (numeric, e.g. 127.0.0.1 or 0.0.0.0)"),
    }
}

fn parse_port(text: &[u8]) -> Option<u16> {
    match crate::unix::parse_u64(text) {
        Some(n @ 1..=65535) if text.len() <= 5 => Some(n as u16),
        _ => None,
    }
}

/// A listen address in config syntax, for messages.
pub struct ListenText<'a>(pub Listen<'a>);

impl fmt::Display for ListenText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            // Ports as u32: one integer formatter fewer in the binary.
            Listen::Tcp4(ip, port) => write!(f, "tcp:{}:{}", IpText(ip.into()), u32::from(port)),
            Listen::Tcp6(ip, port) => write!(f, "tcp:[{}]:{}", IpText(ip.into()), u32::from(port)),
            Listen::Unix(path) => write!(f, "unix:{}", Lossy(path)),
        }
    }
}

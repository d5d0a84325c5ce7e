//! IP addresses as text: numeric parsing and the RFC 5952 form, in a
//! fraction of the code `core::net`'s general parser and formatter take
//! (the binary has a size budget).

use core::fmt::{self, Write};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `A.B.C.D`, each part a decimal from 0 to 255 without leading zeros.
pub fn parse_ipv4(text: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split(|&b| b == b'.');
    for octet in &mut octets {
        let part = parts.next()?;
        let leading_zero = part.len() > 1 && part[0] == b'0';
        if part.is_empty() || part.len() > 3 || leading_zero {
            return None;
        }
        let mut n: u16 = 0;
        for &d in part {
            if !d.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u16::from(d - b'0');
        }
        *octet = u8::try_from(n).ok()?;
    }
    match parts.next() {
        None => Some(Ipv4Addr::from(octets)),
        Some(_) => None,
    }
}

/// Eight groups of 1 to 4 hex digits separated by `:`, one `::` standing
/// for one or more zero groups, and optionally an IPv4 address in place of
/// the last two groups (`::ffff:192.0.2.1`).
pub fn parse_ipv6(text: &[u8]) -> Option<Ipv6Addr> {
    let (head, tail) = match text.windows(2).position(|w| w == b"::") {
        Some(at) => (&text[..at], Some(&text[at + 2..])),
        None => (text, None),
    };
    let mut front = [0u16; 8];
    let mut back = [0u16; 8];
    let n_front = groups(head, &mut front, tail.is_none())?;
    let n_back = match tail {
        Some(tail) => groups(tail, &mut back, true)?,
        None => 0,
    };
    let total = n_front + n_back;
    let fits = match tail {
        Some(_) => total < 8,
        None => total == 8,
    };
    if !fits {
        return None;
    }
    let mut all = front;
    all[8 - n_back..].copy_from_slice(&back[..n_back]);
    Some(Ipv6Addr::from(all))
}

/// Parse `text` (possibly empty) as groups into `out`; how many. The last
/// part may be an IPv4 address (two groups) when `last` says `text` ends
/// the address.
fn groups(text: &[u8], out: &mut [u16; 8], last: bool) -> Option<usize> {
    if text.is_empty() {
        return Some(0);
    }
    let mut n = 0;
    let count = text.split(|&b| b == b':').count();
    for (i, part) in text.split(|&b| b == b':').enumerate() {
        if last && i + 1 == count && part.contains(&b'.') {
            let [a, b, c, d] = parse_ipv4(part)?.octets();
            *out.get_mut(n)? = u16::from_be_bytes([a, b]);
            *out.get_mut(n + 1)? = u16::from_be_bytes([c, d]);
            return Some(n + 2);
        }
        if part.is_empty() || part.len() > 4 {
            return None;
        }
        let mut g: u16 = 0;
        for &h in part {
            g = g << 4 | u16::from((h as char).to_digit(16)? as u8);
        }
        *out.get_mut(n)? = g;
        n += 1;
    }
    Some(n)
}

/// An address in its usual text form: dotted IPv4; IPv6 as RFC 5952 says
/// (lowercase, no leading zeros, the first longest run of two or more zero
/// groups as `::`), IPv4-mapped ones as `::ffff:A.B.C.D`.
pub struct IpText(pub IpAddr);

impl fmt::Display for IpText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v6 = match self.0 {
            IpAddr::V4(v4) => return write_ipv4(f, v4),
            IpAddr::V6(v6) => v6,
        };
        if let Some(v4) = v6.to_ipv4_mapped() {
            f.write_str("::ffff:")?;
            return write_ipv4(f, v4);
        }
        let g = v6.segments();
        // The first longest run of zero groups, if at least two long.
        let (mut best, mut best_len, mut run) = (8, 1, 0);
        for (i, &group) in g.iter().enumerate() {
            run = if group == 0 { run + 1 } else { 0 };
            if run > best_len {
                (best, best_len) = (i + 1 - run, run);
            }
        }
        let mut i = 0;
        while i < 8 {
            if i == best {
                f.write_str("::")?;
                i += best_len;
                continue;
            }
            if i > 0 && i != best + best_len {
                f.write_char(':')?;
            }
            // As u64: the binary has that formatter anyway.
            write!(f, "{:x}", u64::from(g[i]))?;
            i += 1;
        }
        Ok(())
    }
}

fn write_ipv4(f: &mut fmt::Formatter<'_>, ip: Ipv4Addr) -> fmt::Result {
    let [a, b, c, d] = ip.octets().map(u32::from);
    write!(f, "{a}.{b}.{c}.{d}")
}

//! The small IP parser and formatter agree with std's on every address
//! tried: fixed edge cases and a few thousand pseudo-random ones.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vigild_engine::ip::{IpText, parse_ipv4, parse_ipv6};

fn check_text(text: &str) {
    assert_eq!(
        parse_ipv4(text.as_bytes()),
        text.parse::<Ipv4Addr>().ok(),
        "IPv4 {text:?}"
    );
    assert_eq!(
        parse_ipv6(text.as_bytes()),
        text.parse::<Ipv6Addr>().ok(),
        "IPv6 {text:?}"
    );
}

fn check_addr(ip: IpAddr) {
    let ours = IpText(ip).to_string();
    assert_eq!(ours, ip.to_string());
    check_text(&ours);
}

#[test]
fn edge_cases_parse_as_std_parses_them() {
    for text in [
        "0.0.0.0",
        "127.0.0.1",
        "255.255.255.255",
        "256.0.0.1",
        "1.2.3",
        "1.2.3.4.5",
        "01.2.3.4",
        "1..2.3",
        "",
        ".",
        "1.2.3.4.",
        "a.b.c.d",
        "::",
        "::1",
        "1::",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7",
        "1::2::3",
        ":::",
        "::ffff:1.2.3.4",
        "::1.2.3.4",
        "1:2:3:4:5:6:1.2.3.4",
        "1:2:3:4:5:6:7:1.2.3.4",
        "12345::",
        "fe80::1%eth0",
        "FE80::ABCD",
        "::ffff:1.2.3",
        ":1::",
        "1::2:",
        "1:2:3:4:5:6:7::",
        "::2:3:4:5:6:7:8",
        "0:0:0:0:0:0:0:0",
        " ::1",
        "::1 ",
        "g::",
    ] {
        check_text(text);
    }
}

#[test]
fn edge_cases_format_as_std_formats_them() {
    for text in [
        "::",
        "::1",
        "1::",
        "1:0:0:2:0:0:0:3",
        "1:0:2:0:3:0:4:0",
        "0:1:0:0:1:0:0:0",
        "::ffff:10.0.0.1",
        "2001:db8::1",
        "2001:db8:0:0:1:0:0:1",
        "fe80::abcd:ef01",
        "1:2:3:4:5:6:7:8",
        "0:0:1::",
    ] {
        check_addr(IpAddr::V6(text.parse().unwrap()));
    }
    check_addr(IpAddr::V4(Ipv4Addr::new(10, 0, 255, 7)));
}

#[test]
fn random_addresses_round_trip_as_std_does() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..5000 {
        let (a, b) = (next(), next());
        // Zero groups often, so that runs of them are common.
        let mut groups = [0u16; 8];
        for (i, g) in groups.iter_mut().enumerate() {
            if (a >> (i * 3)) & 3 != 0 {
                *g = (b >> (i * 8)) as u16;
            }
        }
        check_addr(IpAddr::V6(Ipv6Addr::from(groups)));
        check_addr(IpAddr::V4(Ipv4Addr::from(a as u32)));
    }
}

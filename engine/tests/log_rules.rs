//! vigil-log's pure parts: options, stamps, cutting input into lines.

use vigild_engine::log_rules::{
    LINE_MAX, STAMP_MAX, StampKind, is_old_file, next_line, parse_options, parse_size, rfc3339,
    tai64n,
};

fn options(line: &str) -> Result<(u64, u32, StampKind, String), &'static str> {
    let mut words = line.split(' ').filter(|w| !w.is_empty()).map(str::as_bytes);
    parse_options(&mut words).map(|o| {
        (
            o.size,
            o.keep,
            o.stamp,
            String::from_utf8(o.dir.to_vec()).unwrap(),
        )
    })
}

#[test]
fn options_and_their_errors() {
    assert_eq!(
        options("/var/log/web"),
        Ok((1 << 20, 10, StampKind::Rfc3339, "/var/log/web".into()))
    );
    assert_eq!(
        options("-s 64k -n 0 -t tai64n logs"),
        Ok((65536, 0, StampKind::Tai64n, "logs".into()))
    );
    assert_eq!(options("-s 2M d").map(|o| o.0), Ok(2 << 20));
    assert_eq!(options(""), Err("no directory given"));
    assert_eq!(options("-s 4095 d"), Err("-s needs a size of at least 4k"));
    assert_eq!(
        options("-n 1001 d"),
        Err("-n needs a number from 0 to 1000")
    );
    assert_eq!(options("-t local d"), Err("-t is rfc3339 or tai64n"));
    assert_eq!(options("-x d"), Err("unknown option"));
    assert_eq!(options("a b"), Err("one directory only"));
    assert_eq!(options("d -s"), Err("option needs a value"));
}

#[test]
fn sizes() {
    assert_eq!(parse_size(b"100"), Some(100));
    assert_eq!(parse_size(b"4k"), Some(4096));
    assert_eq!(parse_size(b"4K"), Some(4096));
    assert_eq!(parse_size(b"1M"), Some(1 << 20));
    assert_eq!(parse_size(b"3g"), Some(3 << 30));
    assert_eq!(parse_size(b""), None);
    assert_eq!(parse_size(b"k"), None);
    assert_eq!(parse_size(b"1.5M"), None);
    assert_eq!(parse_size(b"99999999999999999999G"), None);
}

fn text(kind: fn(u64, u32, &mut [u8; STAMP_MAX]) -> usize, secs: u64, sub: u32) -> String {
    let mut buf = [0; STAMP_MAX];
    let len = kind(secs, sub, &mut buf);
    String::from_utf8(buf[..len].to_vec()).unwrap()
}

#[test]
fn rfc3339_stamps() {
    assert_eq!(text(rfc3339, 0, 0), "1970-01-01T00:00:00.000Z");
    // `date -u -d @1795288253` = Sat Nov 21 19:10:53 UTC 2026.
    assert_eq!(text(rfc3339, 1_795_288_253, 7), "2026-11-21T19:10:53.007Z");
    // Leap days, the end of a leap year, a century that is not a leap year.
    assert_eq!(text(rfc3339, 951_782_400, 999), "2000-02-29T00:00:00.999Z");
    assert_eq!(text(rfc3339, 1_735_689_599, 0), "2024-12-31T23:59:59.000Z");
    assert_eq!(text(rfc3339, 4_107_456_000, 0), "2100-02-28T00:00:00.000Z");
    assert_eq!(text(rfc3339, 4_107_542_400, 0), "2100-03-01T00:00:00.000Z");
}

#[test]
fn tai64n_labels() {
    // TAI64 is 2^62 + 10 s ahead of the Unix epoch (daemontools' labels).
    assert_eq!(text(tai64n, 0, 0), "@400000000000000a00000000");
    assert_eq!(
        text(tai64n, 1_795_288_253, 123_456_789),
        "@400000006b01ecc7075bcd15"
    );
}

#[test]
fn lines_are_cut_at_newlines_and_at_the_limit() {
    assert_eq!(next_line(b"ab\ncd", false), Some((2, 3)));
    assert_eq!(next_line(b"cd", false), None, "a partial line waits");
    assert_eq!(next_line(b"cd", true), Some((2, 2)), "unless input ended");
    assert_eq!(next_line(b"", true), None);
    assert_eq!(next_line(b"\n", false), Some((0, 1)));
    let long = vec![b'x'; LINE_MAX + 10];
    assert_eq!(next_line(&long, false), Some((LINE_MAX, LINE_MAX)));
    // Exactly LINE_MAX bytes: its newline may be in the next read.
    assert_eq!(next_line(&long[..LINE_MAX], false), None);
    assert_eq!(
        next_line(&long[..LINE_MAX], true),
        Some((LINE_MAX, LINE_MAX))
    );
    let mut exact = vec![b'x'; LINE_MAX];
    exact.push(b'\n');
    assert_eq!(next_line(&exact, false), Some((LINE_MAX, LINE_MAX + 1)));
}

#[test]
fn old_files_are_recognised() {
    assert!(is_old_file(b"@400000006b00b4c7075bcd15.s"));
    assert!(!is_old_file(b"current"));
    assert!(!is_old_file(b"@400000006b00b4c7075bcd15.u"));
    assert!(!is_old_file(b"@400000006b00b4c7075bcdzz.s"));
    assert!(!is_old_file(b"@4000.s"));
}

/// A rotated file's name follows the newest one there even when the clock
/// stepped back, so the names sort in rotation order and the oldest name
/// is the oldest rotation (part 7's trial: a clock step back deleted the
/// file just rotated).
#[test]
fn rotation_labels_follow_the_newest_file() {
    use vigild_engine::log_rules::{STAMP_MAX, rotation_label};
    let label = |secs, nanos, newest: Option<&str>| {
        let mut out = [0u8; STAMP_MAX];
        rotation_label(secs, nanos, newest.map(str::as_bytes), &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    };
    let now = label(1_795_288_253, 5, None);
    assert_eq!(now, "@400000006b01ecc700000005");
    // An older file there: now's label.
    assert_eq!(
        label(1_795_288_253, 5, Some("@400000006b01ecc600000000")),
        now
    );
    // The clock went back an hour: just after the newest.
    assert_eq!(
        label(1_795_284_653, 0, Some("@400000006b01ecc700000005")),
        "@400000006b01ecc700000006"
    );
    // Nanoseconds carry into seconds.
    assert_eq!(
        label(0, 0, Some("@400000006b01ecc73b9ac9ff")),
        "@400000006b01ecc800000000"
    );
    assert!(label(0, 0, Some("@400000006b01ecc73b9ac9ff")).as_str() > "@400000006b01ecc73b9ac9ff");
}

//! The passwd and group line parsers.

use vigild_engine::accounts::{Group, User, group_line, numeric_id, user_line};

#[test]
fn passwd_lines() {
    assert_eq!(
        user_line(b"www:x:33:34:www-data:/var/www:/usr/sbin/nologin"),
        Some(User {
            name: b"www",
            uid: 33,
            gid: 34
        })
    );
    assert_eq!(
        user_line(b"short:x:1:2").map(|u| (u.uid, u.gid)),
        Some((1, 2))
    );
    for bad in [
        &b""[..],
        b"#comment",
        b":x:1:2:",
        b"a:x:1",
        b"a:x:one:2:",
        b"a:x:1:99999999999:",
    ] {
        assert_eq!(user_line(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn group_lines_and_members() {
    let g: Group<'_> = group_line(b"audio:x:29:pulse,alice").unwrap();
    assert_eq!((g.name, g.gid), (&b"audio"[..], 29));
    assert!(g.has_member(b"alice") && g.has_member(b"pulse"));
    assert!(!g.has_member(b"ali") && !g.has_member(b""));
    let empty = group_line(b"staff:x:50:").unwrap();
    assert!(!empty.has_member(b"alice"));
    assert_eq!(group_line(b"nomembers:x:7").map(|g| g.gid), Some(7));
    assert_eq!(group_line(b"bad:x:"), None);
}

#[test]
fn numbers_stand_for_ids() {
    assert_eq!(numeric_id(b"1000"), Some(1000));
    assert_eq!(numeric_id(b"-1"), None);
    assert_eq!(numeric_id(b"4294967296"), None);
}

//! vigil-log's decisions: the input cut into lines is the input again
//! (every byte in order, newlines taken), no line longer than LINE_MAX;
//! its options parse without panicking; a rotated file's label sorts
//! after the newest one there.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigild_engine::log_rules::{LINE_MAX, STAMP_MAX, next_line, parse_options, rotation_label};

fuzz_target!(|input: (Vec<u8>, bool, u64, u32, Vec<u8>)| {
    let (bytes, last, secs, nanos, words) = input;
    let mut rebuilt = Vec::new();
    let mut at = 0;
    while let Some((text, take)) = next_line(&bytes[at..], last) {
        assert!(text <= LINE_MAX && take >= text && take > 0);
        let line = &bytes[at..at + text];
        assert!(!line.contains(&b'\n'));
        rebuilt.extend_from_slice(&bytes[at..at + take]);
        at += take;
    }
    assert_eq!(&rebuilt[..], &bytes[..at]);
    if last {
        assert_eq!(at, bytes.len(), "the end of input is a line too");
    }
    let mut split = words.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let _ = parse_options(&mut split);
    // Within 2^62 seconds: what the label holds.
    let secs = secs % (1 << 40);
    let nanos = nanos % 1_000_000_000;
    let mut newest = [0u8; STAMP_MAX];
    rotation_label(secs, nanos, None, &mut newest);
    let mut next = [0u8; STAMP_MAX];
    rotation_label(secs / 2, nanos / 2, Some(&newest), &mut next);
    assert!(next > newest, "{:?} after {:?}", next, newest);
});

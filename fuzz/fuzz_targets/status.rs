//! What vigilctl reads: any status-file line parses or is refused without
//! panicking, and one that parses is shown as one printable runit-style
//! line (no control sequence reaches a terminal); any
//! result line gives one of the exit codes of vigilctl(8).

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigild_engine::control::exit_code_of_reply;
use vigild_engine::status::{parse_line, write_sv};

fuzz_target!(|input: (&[u8], u64)| {
    let (bytes, now) = input;
    // vigilctl reads lines (cut at their newlines).
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    assert!(matches!(exit_code_of_reply(line), 0 | 1 | 4));
    if let Some(fields) = parse_line(line) {
        let mut out = String::new();
        write_sv(&mut out, &fields, now).unwrap();
        let body = out.strip_suffix('\n').expect("a line");
        // Printable only: nothing of the file reaches a terminal raw.
        assert!(body.bytes().all(|b| (b' '..=b'~').contains(&b)), "{out:?}");
    }
});

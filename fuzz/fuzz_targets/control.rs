//! Control input in arbitrary pieces, each read at its own time: the line
//! reader gives exactly the lines a simple model gives (a line acts only
//! at its newline, 512 bytes at most, one left incomplete for a second is
//! dropped once), and every line parses without panicking into a request
//! that names a valid service when it names one.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use vigild_engine::control::{LineReader, PARTIAL_MS, Piece, parse_line};
use vigild_engine::limits::LINE_MAX;
use vigild_engine::time::Instant;

#[derive(Debug, PartialEq)]
enum Got {
    Line(Vec<u8>),
    TooLong,
}

thread_local! {
    static READER: RefCell<Box<LineReader>> = RefCell::new(Box::new(LineReader::new()));
}

fuzz_target!(|pieces: Vec<(Vec<u8>, u16)>| {
    READER.with(|reader| {
        let r = &mut **reader.borrow_mut();
        *r = LineReader::new();
        let (mut now, mut got, mut want) = (0u64, Vec::new(), Vec::new());
        // The model: the line so far, whether it is too long, since when.
        let (mut pending, mut since): (Vec<u8>, Option<u64>) = (Vec::new(), None);
        let mut line = [0u8; LINE_MAX];
        for (bytes, gap) in pieces {
            now += u64::from(gap);
            let stale = since.is_some_and(|s| now >= s + PARTIAL_MS);
            assert_eq!(r.expire(Instant::from_ms(now)), stale, "expiry at {now}");
            if stale {
                (pending, since) = (Vec::new(), None);
            }
            for &b in &bytes {
                since.get_or_insert(now);
                match b {
                    b'\n' => {
                        want.push(match pending.len() > LINE_MAX {
                            true => Got::TooLong,
                            false => Got::Line(std::mem::take(&mut pending)),
                        });
                        (pending, since) = (Vec::new(), None);
                    }
                    _ => pending.push(b),
                }
            }
            let mut rest = &bytes[..];
            loop {
                while let Some(piece) = r.next(Instant::from_ms(now), &mut line) {
                    got.push(match piece {
                        Piece::Line(text) => {
                            assert!(!text.contains(&b'\n'));
                            check_request(text);
                            Got::Line(text.to_vec())
                        }
                        Piece::TooLong => Got::TooLong,
                    });
                }
                if rest.is_empty() {
                    break;
                }
                let room = r.room();
                let n = room.len().min(rest.len());
                room[..n].copy_from_slice(&rest[..n]);
                r.filled(n);
                rest = &rest[n..];
            }
        }
        assert_eq!(got, want);
    });
});

/// A line parses; a request that names a service names a valid one.
fn check_request(text: &[u8]) {
    let line = parse_line(text);
    if let Some(reply) = line.reply {
        assert!(reply.starts_with(b"/"));
    }
    if let Ok(request) = line.request {
        let name = request.name.strip_suffix(b"/log").unwrap_or(request.name);
        assert!(
            name.iter()
                .all(|&b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        );
    }
}

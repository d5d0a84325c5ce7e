//! Control lines, the FIFO line cutter, and the status formats.

mod common;

use common::Sim;
use vigild_engine::control::{LineError, LineReader, Piece, Verb, parse_line};
use vigild_engine::status::{
    Counters, Fields, Shown, parse_line as parse_status, write_line, write_sv,
};
use vigild_engine::time::Instant;

#[test]
fn commands_parse_with_and_without_reply() {
    let line = parse_line(b"start web reply=/run/vigild/reply.1");
    assert_eq!(line.reply, Some(&b"/run/vigild/reply.1"[..]));
    let req = line.request.unwrap();
    assert_eq!((req.verb, req.name), (Verb::Start, &b"web"[..]));
    let req = parse_line(b"signal web SIGHUP").request.unwrap();
    assert_eq!((req.verb, req.signal), (Verb::Signal, 1));
    for (text, verb) in [
        ("reload", Verb::Reload),
        ("shutdown", Verb::Shutdown),
        ("monitor", Verb::Monitor),
        ("halt", Verb::Halt),
    ] {
        assert_eq!(parse_line(text.as_bytes()).request.unwrap().verb, verb);
    }
}

#[test]
fn bad_lines_are_errors_that_still_find_their_reply() {
    let cases: &[(&[u8], LineError)] = &[
        (b"", LineError::Empty),
        (b"   ", LineError::Empty),
        (b"frobnicate web", LineError::UnknownCommand),
        (b"start", LineError::MissingName),
        (b"start a b", LineError::ExtraWords),
        (b"start bad/name", LineError::BadName),
        (b"signal web NOPE", LineError::BadSignal),
        (b"signal web", LineError::BadSignal),
        (b"reload now", LineError::ExtraWords),
        (b"start web reply=relative", LineError::BadReply),
        (
            b"start web reply=/tmp/a reply=/tmp/b",
            LineError::TwoReplies,
        ),
        (b"start \xff\xfe", LineError::NotText),
        (b"start web\x00", LineError::NotText),
    ];
    for (text, want) in cases {
        assert_eq!(
            parse_line(text).request,
            Err(*want),
            "{:?}",
            String::from_utf8_lossy(text)
        );
    }
    assert_eq!(
        parse_line(b"bogus reply=/tmp/r").reply,
        Some(&b"/tmp/r"[..])
    );
    assert_eq!(
        parse_line(b"\x01 reply=/tmp/r").reply,
        None,
        "no reply path is trusted in junk"
    );
}

/// Feed `data` through the reader at `now` (in reads of whatever room it
/// has) and collect every piece: `Ok(line)` or `Err(())` for a line
/// dropped as too long.
fn cut_at(reader: &mut LineReader, data: &[u8], now: u64) -> Vec<Result<Vec<u8>, ()>> {
    let mut out = vec![];
    let mut rest = data;
    let mut line = [0u8; 512];
    loop {
        while let Some(p) = reader.next(Instant::from_ms(now), &mut line) {
            out.push(match p {
                Piece::Line(l) => Ok(l.to_vec()),
                Piece::TooLong => Err(()),
            });
        }
        if rest.is_empty() {
            return out;
        }
        let room = reader.room();
        let n = room.len().min(rest.len());
        room[..n].copy_from_slice(&rest[..n]);
        reader.filled(n);
        rest = &rest[n..];
    }
}

fn cut(reader: &mut LineReader, data: &[u8]) -> Vec<Result<Vec<u8>, ()>> {
    cut_at(reader, data, 0)
}

#[test]
fn line_reader_joins_pieces_and_drops_oversized_lines_whole() {
    let mut r = LineReader::new();
    assert_eq!(cut(&mut r, b"start a\nsto"), [Ok(b"start a".to_vec())]);
    assert_eq!(cut(&mut r, b"p b\n"), [Ok(b"stop b".to_vec())]);
    let long = vec![b'x'; 2000];
    assert_eq!(cut(&mut r, &long), []);
    assert_eq!(
        cut(&mut r, b"tail\nreload\n"),
        [Err(()), Ok(b"reload".to_vec())]
    );
    let exact = vec![b'y'; 512];
    assert_eq!(
        cut(&mut r, &[&exact[..], b"\n"].concat()),
        [Ok(exact.clone())]
    );
}

#[test]
fn oversized_write_arriving_in_pieces_never_runs_its_tail() {
    // A write above PIPE_BUF may be read in pieces with the FIFO empty in
    // between; its tail must not become a command of its own.
    let mut r = LineReader::new();
    let mut data = vec![b' '; 5000];
    data.extend_from_slice(b"stop web\n");
    let (head, tail) = data.split_at(4096);
    assert_eq!(cut(&mut r, head), []);
    assert!(!r.expire(Instant::from_ms(999)), "not stale yet");
    assert_eq!(cut(&mut r, tail), [Err(())]);
    assert_eq!(
        cut(&mut r, b"reload\n"),
        [Ok(b"reload".to_vec())],
        "the next line is fine"
    );
}

/// A line acts only when its newline arrives (vigild(8) CONTROL FIFO): `signal a 4` and
/// then `0` in a second write is signal 40, never signal 4.
#[test]
fn a_line_acts_only_when_its_newline_arrives() {
    let mut r = LineReader::new();
    assert_eq!(cut_at(&mut r, b"signal a 4", 0), []);
    assert_eq!(cut_at(&mut r, b"0\n", 10), [Ok(b"signal a 40".to_vec())]);
    assert_eq!(
        cut_at(&mut r, b"reload", 20),
        [],
        "no newline: nothing runs"
    );
    assert_eq!(r.deadline(), Some(Instant::from_ms(1020)));
    assert!(!r.expire(Instant::from_ms(1019)));
    assert!(r.expire(Instant::from_ms(1020)), "dropped after 1s");
    assert!(!r.expire(Instant::from_ms(5000)), "and said once");
    assert_eq!(r.deadline(), None);
    assert_eq!(
        cut_at(&mut r, b"stop web\n", 1030),
        [Ok(b"stop web".to_vec())],
        "the next writer's line is read normally"
    );
}

/// A 1 MiB write without a newline is dropped after a second, and the
/// next writer's line then comes through whole.
#[test]
fn an_endless_line_does_not_swallow_the_next_command() {
    let mut r = LineReader::new();
    let junk = vec![b'z'; 1 << 20];
    assert_eq!(cut_at(&mut r, &junk, 0), []);
    assert!(r.expire(Instant::from_ms(1000)));
    assert_eq!(
        cut_at(&mut r, b"restart web\n", 1001),
        [Ok(b"restart web".to_vec())]
    );
}

#[test]
fn status_line_round_trips_into_sv_style() {
    let mut t = Sim::new("[web]\nexec = /bin/web\nbackoff = 1s 1s\n");
    let pid = t.pid("web");
    t.advance(5000);
    t.exit(pid, vigild_engine::unix::ExitStatus::Code(1));
    let mut line = String::new();
    write_line(
        &mut line,
        &t.cfg,
        t.id("web"),
        t.sv.slot(t.id("web")),
        Shown {
            counters: Counters::None,
            text: b"",
            cgroup: true,
        },
        1_700_000_000_000,
    )
    .unwrap();
    assert_eq!(
        line,
        "web state=backoff pid=0 since=1700000005.000 mode=daemon contain=cgroup restarts=0 last=exit:1 ready=no\n"
    );
    let f = parse_status(line.trim_end().as_bytes()).unwrap();
    let mut out = String::new();
    write_sv(&mut out, &f, 1_700_000_008_500).unwrap();
    assert_eq!(out, "backoff: web: 3s, last exit:1\n");
}

/// A service whose output a vigil-log writes says where (`log_dir=`, before
/// any `status=`), so that vigilctl can show its last lines; a directory a
/// space would cut is left out, and lines without the key still parse.
#[test]
fn status_line_names_the_log_directory() {
    let t = Sim::new(
        "[web]\nexec = /bin/web\nlog = -s 8k /var/log/web\n\
         [spaced]\nexec = /bin/web\nlog = \"/var/log/a b\"\n\
         [plain]\nexec = /bin/web\n",
    );
    let line_of = |name: &str| {
        let mut line = String::new();
        let id = t.id(name);
        let shown = Shown {
            counters: Counters::None,
            text: b"hi",
            cgroup: false,
        };
        write_line(&mut line, &t.cfg, id, t.sv.slot(id), shown, 0).unwrap();
        line
    };
    let web = line_of("web");
    assert!(
        web.ends_with(" ready=yes log_dir=/var/log/web status=\"hi\"\n"),
        "{web}"
    );
    let f = parse_status(web.trim_end().as_bytes()).unwrap();
    assert_eq!((f.log_dir, f.ready), (&b"/var/log/web"[..], true));
    for name in ["spaced", "plain", "web/log"] {
        let line = line_of(name);
        assert!(!line.contains("log_dir="), "{line}");
        assert_eq!(
            parse_status(line.trim_end().as_bytes()).unwrap().log_dir,
            b""
        );
    }
}

#[test]
fn status_text_is_quoted_last_and_read_back_whole() {
    let t = Sim::new("[db]\nexec = /bin/db\nready = notify\n");
    let mut line = String::new();
    let text = b"Serving \"all\" on port 80\\x \x07\xc3\xa9 restarts=9 state=up";
    let id = t.id("db");
    write_line(
        &mut line,
        &t.cfg,
        id,
        t.sv.slot(id),
        Shown {
            counters: Counters::None,
            text,
            cgroup: false,
        },
        0,
    )
    .unwrap();
    assert!(
        line.ends_with(
            " status=\"Serving \\\"all\\\" on port 80\\\\x \\x07\\xc3\\xa9 restarts=9 state=up\"\n"
        ),
        "{line}"
    );
    let f = parse_status(line.trim_end().as_bytes()).unwrap();
    assert_eq!(f.state, b"starting", "fields inside the text do not count");
    assert_eq!(f.restarts, 0);
}

#[test]
fn notify_datagrams_yield_the_keys_vigild_knows() {
    use vigild_engine::sd_notify::{Notice, notices};
    let got: Vec<Notice<'_>> =
        notices(b"STATUS=Loading\nFOO=1\nREADY=1\nREADY=0\nX_AVAILABLE=3\nSTOPPING=1\nnoequals")
            .collect();
    assert_eq!(
        got,
        [
            Notice::Status(b"Loading"),
            Notice::Ready,
            Notice::Available(3),
            Notice::Stopping
        ]
    );
    assert_eq!(notices(b"READY=1\n").collect::<Vec<_>>(), [Notice::Ready]);
    assert_eq!(notices(b"").count(), 0);
    assert_eq!(notices(b"X_AVAILABLE=lots").count(), 0);
}

#[test]
fn sv_style_for_up_and_given_up() {
    let up = Fields {
        name: b"web",
        state: b"up",
        pid: 412,
        since_ms: 0,
        restarts: 2,
        last: b"exit:1",
        reason: b"",
        ready: true,
        log_dir: b"",
    };
    let mut out = String::new();
    write_sv(&mut out, &up, 133_900).unwrap();
    assert_eq!(out, "run: web: (pid 412) 133s, restarts 2\n");
    let down = Fields {
        state: b"down",
        pid: 0,
        restarts: 0,
        reason: b"gave-up",
        ..up
    };
    out.clear();
    write_sv(&mut out, &down, 12_000).unwrap();
    assert_eq!(out, "down: web: 12s, gave-up\n");
}

#[test]
fn errno_and_signal_names_both_ways() {
    use vigild_engine::unix::{ErrnoName, ExitStatus, SignalName, parse_signal};
    let errno = |n| ErrnoName(n).to_string();
    assert_eq!(errno(1), "EPERM");
    assert_eq!(errno(2), "ENOENT");
    assert_eq!(errno(24), "EMFILE");
    assert_eq!(errno(36), "ENAMETOOLONG");
    assert_eq!(errno(98), "EADDRINUSE");
    assert_eq!(errno(111), "ECONNREFUSED");
    // Every errno below 41, and those of sockets and disks, by name (a
    // log said `E27` where `EFBIG` was meant).
    let named = [
        (libc::E2BIG, "E2BIG"),
        (libc::ECHILD, "ECHILD"),
        (libc::EXDEV, "EXDEV"),
        (libc::ENODEV, "ENODEV"),
        (libc::ENOTTY, "ENOTTY"),
        (libc::EFBIG, "EFBIG"),
        (libc::ESPIPE, "ESPIPE"),
        (libc::EROFS, "EROFS"),
        (libc::EMLINK, "EMLINK"),
        (libc::ERANGE, "ERANGE"),
        (libc::ENOTEMPTY, "ENOTEMPTY"),
        (libc::ELOOP, "ELOOP"),
        (libc::ENOTSOCK, "ENOTSOCK"),
        (libc::ECONNRESET, "ECONNRESET"),
        (libc::ETIMEDOUT, "ETIMEDOUT"),
        (libc::EDQUOT, "EDQUOT"),
        (libc::EHOSTUNREACH, "EHOSTUNREACH"),
    ];
    for (n, name) in named {
        assert_eq!(errno(n as u16), name);
    }
    for n in 1..=40 {
        assert_ne!(errno(n), format!("E{n}"), "errno {n} has no name");
    }
    for unnamed in [0, 41, 112, 500] {
        assert_eq!(errno(unnamed), format!("E{unnamed}"));
    }
    let signal = |n| SignalName(n).to_string();
    assert_eq!(signal(1), "HUP");
    assert_eq!(signal(9), "KILL");
    assert_eq!(signal(15), "TERM");
    assert_eq!(signal(31), "SYS");
    assert_eq!(signal(0), "0");
    assert_eq!(signal(34), "34");
    assert_eq!(parse_signal(b"HUP"), Some(1));
    assert_eq!(parse_signal(b"SIGTERM"), Some(15));
    assert_eq!(parse_signal(b"SYS"), Some(31));
    assert_eq!(parse_signal(b"9"), Some(9));
    assert_eq!(parse_signal(b"64"), Some(64));
    assert_eq!(parse_signal(b"65"), None);
    assert_eq!(parse_signal(b""), None);
    assert_eq!(parse_signal(b"SIG"), None);
    assert_eq!(ExitStatus::Signal(6).to_string(), "signal:ABRT");
    assert_eq!(ExitStatus::Code(255).to_string(), "exit:255");
}

#[test]
fn lossy_shows_printable_ascii_and_escapes_every_other_byte() {
    use vigild_engine::fixed::Lossy;
    let shown = Lossy(b"a\x1bb\x7fc\xc2\x9bd\xc3\xa9e\xffz").to_string();
    assert_eq!(shown, "a\\x1bb\\x7fc\\xc2\\x9bd\\xc3\\xa9e\\xffz");
}

#[test]
fn a_log_line_ends_in_one_newline_even_when_cut() {
    use std::fmt::Write;
    use vigild_engine::fixed::ArrayStr;
    let mut short = ArrayStr::<8>::new();
    write!(short, "abc").unwrap();
    assert_eq!(short.end_line(), b"abc\n");
    let mut full = ArrayStr::<8>::new();
    write!(full, "abcdefghijkl").unwrap();
    assert_eq!(full.end_line(), b"abcdefg\n");
}

/// vigilctl shows a status file's words as printable text only: a state
/// with a terminal escape in it (a crafted file) comes out escaped (found
/// by the status fuzz target).
#[test]
fn sv_lines_never_carry_control_bytes() {
    let f = parse_status(b"web state=\x1b[2Jx pid=0 since=0.000 restarts=0 last=-").unwrap();
    let mut out = String::new();
    write_sv(&mut out, &f, 0).unwrap();
    assert_eq!(out, "\\x1b[2Jx: web: 0s\n");
}

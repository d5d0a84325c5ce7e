//! sd_notify datagrams: every notice comes from one line of the datagram,
//! in order, with the value as written; a STATUS= text, shown in the status
//! file, makes one printable line there whose fields read back unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigild_engine::config::{Config, Errors, parse};
use vigild_engine::machine::Supervisor;
use vigild_engine::sd_notify::{Notice, notices};
use vigild_engine::status::{Counters, Shown, parse_line, write_line};
use vigild_engine::time::Instant;

thread_local! {
    static WORLD: (Box<Config>, Box<Supervisor>) = {
        let mut cfg = Box::new(Config::new());
        parse(b"[db]\nexec = /bin/db\nready = notify\n", &mut cfg, &mut Errors::new());
        let mut sv = Box::new(Supervisor::new());
        sv.boot(&cfg, Instant::from_ms(0));
        (cfg, sv)
    };
}

fuzz_target!(|datagram: &[u8]| {
    let mut lines = datagram.split(|&b| b == b'\n');
    for notice in notices(datagram) {
        let line = loop {
            let line = lines.next().expect("a notice from no line");
            if notices(line).next() == Some(notice) {
                break line;
            }
        };
        match notice {
            Notice::Ready => assert_eq!(line, b"READY=1"),
            Notice::Stopping => assert_eq!(line, b"STOPPING=1"),
            Notice::Available(_) => assert!(line.starts_with(b"X_AVAILABLE=")),
            Notice::Status(text) => {
                assert_eq!(line.strip_prefix(b"STATUS="), Some(text));
                status_line_holds(text);
            }
        }
    }
});

/// The status file's line of a service whose STATUS= is `text`.
fn status_line_holds(text: &[u8]) {
    WORLD.with(|(cfg, sv)| {
        let id = cfg.find(b"db").unwrap();
        let mut out = String::new();
        let shown = Shown {
            counters: Counters::None,
            text,
            cgroup: true,
        };
        write_line(&mut out, cfg, id, sv.slot(id), shown, 0).unwrap();
        let body = out.strip_suffix('\n').expect("a newline at the end");
        assert!(body.bytes().all(|b| (b' '..=b'~').contains(&b)), "{body:?}");
        let fields = parse_line(body.as_bytes()).expect("it reads back");
        assert_eq!(
            (fields.name, fields.state, fields.pid),
            (&b"db"[..], &b"down"[..], 0)
        );
    });
}

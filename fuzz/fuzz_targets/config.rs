//! The configuration parser on arbitrary text. Besides not panicking: every
//! error names a line of the text; a file without errors has services with
//! a program, valid names, a start order that is a permutation with every
//! service after what it waits for, sockets exactly for the socket modes,
//! backoff delays from 1ms with the first not above the cap; and parsing
//! the same text again gives the same result.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use vigild_engine::config::{Config, Errors, parse};

thread_local! {
    static STATE: RefCell<(Box<Config>, Box<Errors>)> =
        RefCell::new((Box::new(Config::new()), Box::new(Errors::new())));
}

fuzz_target!(|text: &[u8]| {
    STATE.with(|state| {
        let (cfg, errors) = &mut *state.borrow_mut();
        parse(text, cfg, errors);
        let lines = text.split(|&b| b == b'\n').count() as u32;
        for e in errors.iter().chain(errors.warnings()) {
            assert!(e.line <= lines, "error on line {} of {lines}", e.line);
            assert!(!e.msg.as_str().is_empty());
        }
        if !errors.is_empty() {
            return;
        }
        let n = cfg.len();
        let mut pos = vec![usize::MAX; n];
        for (i, id) in cfg.start_order().enumerate() {
            assert_eq!(pos[id.index()], usize::MAX, "twice in the start order");
            pos[id.index()] = i;
        }
        assert!(pos.iter().all(|&p| p < n), "missing from the start order");
        let mut digests = Vec::new();
        for id in cfg.ids() {
            let spec = cfg.spec(id);
            assert!(!spec.exec.is_empty(), "a service without a program");
            let name = cfg.name(id);
            let plain = name.strip_suffix(b"/log").unwrap_or(name);
            assert!(
                !plain.is_empty()
                    && plain.len() <= 63
                    && plain != b"."
                    && plain != b".."
                    && plain
                        .iter()
                        .all(|&b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)),
                "bad name {:?}",
                String::from_utf8_lossy(name)
            );
            for dep in cfg.after(id) {
                assert_ne!(dep, id);
                assert!(
                    pos[dep.index()] < pos[id.index()],
                    "started before what it waits for"
                );
            }
            assert_eq!(spec.mode.listens(), !spec.listen.is_empty());
            assert!(spec.backoff_first_ms >= 1 && spec.backoff_first_ms <= spec.backoff_cap_ms);
            digests.push(spec.digest);
        }
        parse(text, cfg, errors);
        assert!(errors.is_empty(), "a second parse found errors");
        let again: Vec<u64> = cfg.ids().map(|id| cfg.spec(id).digest).collect();
        assert_eq!(again, digests, "a second parse differs");
    });
});

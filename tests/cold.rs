//! The static build gives its cold code back (`link/layout.ld`,
//! `src/sys/cold.rs`): while the loop sleeps, no page that holds only code
//! between `__vigild_cold_start` and `__vigild_cold_end` is mapped in
//! vigild, and that code still runs when it is needed (control lines, a
//! reload), after which its pages are given back again.
//!
//! Only the static musl build has that layout, so these tests are
//! `#[ignore]`d: `.ci/run` builds it and runs them (`cargo test --test cold
//! -- --include-ignored`). The binary is `SYSTEST_VIGILD`, or the musl
//! release build of this target directory; its symbols are read with `nm`.

#[path = "daemon/harness.rs"]
mod harness;

use harness::*;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const PAGE: u64 = 4096;

/// The static build: `SYSTEST_VIGILD`, or `cargo build --release --target
/// x86_64-unknown-linux-musl` in this target directory.
fn static_vigild() -> PathBuf {
    let path = std::env::var_os("SYSTEST_VIGILD")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // TARGET/debug/deps/cold-HASH -> TARGET
            let exe = std::env::current_exe().unwrap();
            let target = exe.ancestors().nth(3).unwrap().to_path_buf();
            target.join("x86_64-unknown-linux-musl/release/vigild")
        });
    assert!(
        path.is_file(),
        "{}: not found (cargo build --release --target x86_64-unknown-linux-musl)",
        path.display()
    );
    path
}

/// The pages that hold only cold code: [first, end), page-aligned inward.
fn cold_pages(binary: &PathBuf) -> (u64, u64) {
    let out = Command::new("nm").arg(binary).output().expect("run nm");
    let symbols = String::from_utf8_lossy(&out.stdout);
    let address = |name: &str| {
        symbols
            .lines()
            .find(|line| line.ends_with(&format!(" {name}")))
            .and_then(|line| u64::from_str_radix(line.split(' ').next()?, 16).ok())
            .unwrap_or_else(|| panic!("{name} not in {}", binary.display()))
    };
    let (start, end) = (address("__vigild_cold_start"), address("__vigild_cold_end"));
    let (first, last) = (start.next_multiple_of(PAGE), end / PAGE * PAGE);
    assert!(
        last >= first + 4 * PAGE,
        "the cold code ({start:#x}..{end:#x}) should span pages"
    );
    (first, last)
}

/// The pages of [first, end) mapped in `pid` (`/proc/PID/pagemap`, whose
/// bit 63 says "present").
fn mapped(pid: i32, (first, end): (u64, u64)) -> Vec<u64> {
    let mut pagemap = fs::File::open(format!("/proc/{pid}/pagemap")).unwrap();
    let mut entries = vec![0u8; ((end - first) / PAGE * 8) as usize];
    pagemap.seek(SeekFrom::Start(first / PAGE * 8)).unwrap();
    pagemap.read_exact(&mut entries).unwrap();
    entries
        .chunks(8)
        .enumerate()
        .filter(|(_, e)| u64::from_le_bytes((*e).try_into().unwrap()) >> 63 == 1)
        .map(|(i, _)| first + i as u64 * PAGE)
        .collect()
}

/// Wait until no cold page is mapped in vigild.
fn wait_given_back(d: &Daemon, cold: (u64, u64), after: &str) {
    let pid = d.vigild_pid();
    if poll_until(DEADLINE, || mapped(pid, cold).is_empty().then_some(())).is_none() {
        let pages: Vec<String> = mapped(pid, cold)
            .iter()
            .map(|a| format!("{a:#x}"))
            .collect();
        d.fail(&format!(
            "after {after}, cold pages still mapped: {}",
            pages.join(" ")
        ));
    }
}

/// The static build started on `conf`, and its cold pages.
fn start_static(tag: &str, conf: &str) -> (Daemon, (u64, u64)) {
    let binary = static_vigild();
    let cold = cold_pages(&binary);
    let opts = Opts {
        binary: Some(binary),
        ..Opts::default()
    };
    (Daemon::start_with(tag, conf, opts), cold)
}

fn services(names: &[&str]) -> String {
    let mut conf = String::new();
    for name in names {
        conf += &format!("[{name}]\nexec = /bin/sleep 1000\n");
    }
    conf
}

#[test]
#[ignore = "needs the static musl build: run by .ci/run"]
fn cold_code_is_given_back_and_still_runs() {
    let names = ["a", "b", "c", "d", "e"];
    let (d, cold) = start_static("cold", &services(&names));
    for name in names {
        d.wait_up(name);
    }
    wait_given_back(&d, cold, "start-up");

    // Control lines run cold code (the parser of lines, the answers), and
    // so do answers given turns later ("stopped a", once a has exited).
    assert_eq!(d.request("stop a"), ["stopping a", "stopped a"]);
    wait_given_back(&d, cold, "a stop and its answer");
    assert_eq!(d.request("start a"), ["starting a", "up a"]);
    wait_given_back(&d, cold, "a start and its answer");

    // SIGUSR1 restarts every service through the commands' code.
    let pid = d.wait_up("c").pid();
    kill(d.vigild_pid(), libc::SIGUSR1);
    d.wait_svc("c", "restarted by SIGUSR1", |s| {
        s.state() == "up" && s.pid() != pid
    });
    wait_given_back(&d, cold, "SIGUSR1");

    // A reload runs the configuration parser again.
    fs::write(&d.conf, services(&["a", "b", "c", "d", "e", "extra"])).unwrap();
    assert_eq!(d.request("reload"), ["reloaded vigild"]);
    d.wait_up("extra");
    wait_given_back(&d, cold, "a reload");

    // The loop itself is hot: a crash and its restart need nothing back.
    let pid = d.wait_up("b").pid();
    kill(pid, libc::SIGKILL);
    d.wait_svc("b", "restarted", |s| s.state() == "up" && s.pid() != pid);
    assert!(mapped(d.vigild_pid(), cold).is_empty());
}

#[test]
#[ignore = "needs the static musl build: run by .ci/run"]
fn a_shutdown_maps_the_cold_code_back_before_stopping_services() {
    // A service that ignores TERM keeps the shutdown going for a while.
    let conf = "[stubborn]\n\
                exec = /bin/sh -c \"trap '' TERM; touch @DIR@/trapped; while :; do /bin/sleep 0.05; done\"\n\
                stop_timeout = 5s\n";
    let (d, cold) = start_static("cold-shutdown", conf);
    d.wait_up("stubborn");
    d.wait_for("the service ignores TERM", || {
        d.dir.join("trapped").exists().then_some(())
    });
    wait_given_back(&d, cold, "start-up");
    d.send("shutdown");
    d.wait_svc("stubborn", "stopping", |s| s.state() == "stopping");
    let pid = d.vigild_pid();
    let pages = (cold.1 - cold.0) / PAGE;
    // Well before stop_timeout ends the shutdown.
    let limit = Duration::from_secs(2);
    let all = poll_until(limit, || {
        (mapped(pid, cold).len() as u64 == pages).then_some(())
    });
    if all.is_none() {
        d.fail(&format!(
            "during the shutdown {} of {pages} cold pages are mapped",
            mapped(pid, cold).len()
        ));
    }
    // The service still runs: the code was mapped back before it stopped.
    assert_eq!(d.svc("stubborn").unwrap().state(), "stopping");
}

//! Black-box tests of the real binary (the man pages are the contract): vigild runs
//! in the foreground, not as PID 1, on a temporary config and run directory,
//! and is driven through its control FIFO, `vigilctl` and signals. The
//! harness (`daemon/harness.rs`) polls for effects with a deadline and stops
//! every vigild it started.

#[path = "daemon/harness.rs"]
mod harness;

use harness::*;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SIGKILL: i32 = libc::SIGKILL;
const SIGTERM: i32 = libc::SIGTERM;

/// Lines of a file (empty if missing).
fn file_lines(path: &std::path::Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Index of the first line containing `text`, failing with the lines.
#[track_caller]
fn index_of(lines: &[String], text: &str) -> usize {
    lines
        .iter()
        .position(|l| l.contains(text))
        .unwrap_or_else(|| panic!("no line containing {text:?} in:\n{}", lines.join("\n")))
}

/// The pid written by a service into `path`, once it is there.
#[track_caller]
fn pid_file(d: &Daemon, path: &std::path::Path) -> i32 {
    d.wait_for(&format!("pid in {}", path.display()), || {
        fs::read_to_string(path).ok()?.trim().parse().ok()
    })
}

/// Wait until the service has created `name` in the temp dir (it is set up).
#[track_caller]
fn wait_file(d: &Daemon, name: &str) {
    let path = d.dir.join(name);
    d.wait_for(&format!("{} to exist", path.display()), || {
        path.exists().then_some(())
    });
}

fn ppid(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

// ---- respawn, backoff, giving up ------------------------------------------

/// SIGKILL of a daemon's process: a new process replaces it, `restarts`
/// counts it, `last` says how the old one ended, the old pid is reaped.
#[test]
fn crashed_daemon_is_respawned_with_a_new_pid() {
    let d = Daemon::start(
        "crash",
        "[web]\nexec = /bin/sleep 1000\nbackoff = 50ms 1s\n",
    );
    let first = d.wait_up("web");
    assert_eq!(first.restarts(), 0, "{}", first.line);
    let pid1 = first.pid();
    assert!(alive(pid1), "status pid {pid1} is not a live process");

    assert!(kill(pid1, SIGKILL));
    let second = d.wait_svc("web", "up again with another pid", |s| {
        s.state() == "up" && s.pid() > 0 && s.pid() != pid1
    });
    assert_eq!(second.restarts(), 1, "{}", second.line);
    assert_eq!(second.last(), "signal:KILL", "{}", second.line);
    assert!(
        alive(second.pid()),
        "new pid {} is not running",
        second.pid()
    );
    d.wait_for("the killed process to be reaped", || {
        reaped(pid1).then_some(())
    });
    d.wait_stderr("web: up -> backoff (last signal:KILL)");

    // And again: the counter keeps growing.
    assert!(kill(second.pid(), SIGKILL));
    let third = d.wait_svc("web", "up with a third pid", |s| {
        s.state() == "up" && s.pid() > 0 && s.pid() != second.pid()
    });
    assert_eq!(third.restarts(), 2, "{}", third.line);

    // since= is wall-clock seconds with milliseconds, of the last change.
    let since: f64 = third.get("since").parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (now - since).abs() < 5.0,
        "since={since} but now is {now}: {}",
        third.line
    );
    assert!(
        third
            .get("since")
            .split_once('.')
            .is_some_and(|(_, ms)| ms.len() == 3),
        "{}",
        third.line
    );
    // The runit-style view.
    let out = d.ctl(&["status", "web"]);
    let sv = stdout(&out);
    let sv = sv.lines().next().unwrap_or_default();
    assert!(
        sv.starts_with(&format!("run: web: (pid {}) ", third.pid()))
            && sv.ends_with("s, restarts 2"),
        "vigilctl status: {}",
        show(&out)
    );
}

/// A service that fails at once is restarted after delays that double from
/// the first backoff up to the cap.
#[test]
fn backoff_delays_double_up_to_the_cap() {
    let d = Daemon::start(
        "backoff",
        "[flap]\nexec = /bin/sh -c \"date +%s%N >> @DIR@/runs; exit 1\"\nbackoff = 100ms 800ms\nbackoff_reset = 10s\n",
    );
    let runs = d.dir.join("runs");
    // Expected delays: 100, 200, 400, 800 (cap), 800 (cap): 6 runs in ~2.3 s.
    d.wait_for("6 runs of the flapping service", || {
        (file_lines(&runs).len() >= 6).then_some(())
    });
    let mid = d.svc("flap").unwrap();
    // The runit-style view of a service in backoff.
    let sv = d.wait_for("vigilctl status to show flap in backoff", || {
        let line = stdout(&d.ctl(&["status", "flap"]));
        line.starts_with("backoff: flap: ").then_some(line)
    });
    assert!(sv.contains(", last exit:1"), "vigilctl status: {sv:?}");
    let _ = d.ctl(&["stop", "flap"]);
    let times: Vec<u128> = file_lines(&runs)
        .iter()
        .map(|l| l.trim().parse::<u128>().unwrap() / 1_000_000)
        .collect();
    let gaps: Vec<u128> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let expected = [100u128, 200, 400, 800, 800];
    for (i, (&gap, &want)) in gaps.iter().zip(&expected).enumerate() {
        assert!(
            gap + 15 >= want && gap < want + 600,
            "delay before run {} was {gap} ms, expected about {want} ms (all gaps {gaps:?})",
            i + 2
        );
    }
    assert!(
        gaps[1] > gaps[0] && gaps[2] > gaps[1] && gaps[3] > gaps[2],
        "delays do not grow: {gaps:?}"
    );
    assert!(gaps[4] < 1300, "delay exceeded the 800ms cap: {gaps:?}");
    assert!(mid.restarts() >= 4, "restarts not counted: {}", mid.line);
    assert_eq!(mid.last(), "exit:1", "{}", mid.line);
}

/// `restart_max = 3`: after three failed runs the service is down with
/// reason=gave-up, a loud line names the limit, and no fourth run happens.
#[test]
fn restart_max_gives_up_loudly() {
    let d = Daemon::start(
        "giveup",
        "[fail]\nexec = /bin/sh -c \"echo run >> @DIR@/runs; exit 3\"\nrestart_max = 3\nrestart_window = 60s\nbackoff = 20ms 100ms\n",
    );
    let s = d.wait_svc("fail", "down with reason=gave-up", |s| {
        s.state() == "down" && s.reason() == "gave-up"
    });
    assert_eq!(s.last(), "exit:3", "{}", s.line);
    assert_eq!(s.pid(), 0, "{}", s.line);
    let loud = d.wait_stderr("restart_max");
    assert!(
        loud.starts_with("fail:") && loud.contains('3'),
        "give-up line must name the service and the limit: {loud:?}"
    );

    let out = d.ctl(&["status", "fail"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let line = stdout(&out);
    assert!(
        line.starts_with("down: fail: ") && line.contains("gave-up"),
        "vigilctl status: {line:?}"
    );

    // Given up means given up: no further run.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        file_lines(&d.dir.join("runs")).len(),
        3,
        "runs after giving up"
    );
    assert_eq!(d.svc("fail").unwrap().state(), "down");
}

// ---- stopping ---------------------------------------------------------------

/// A service whose shell and background grandchild both ignore TERM: after
/// `stop_timeout` vigild KILLs the whole process group, both die and both
/// are reaped.
#[test]
fn stop_escalates_to_kill_of_the_whole_group() {
    let d = Daemon::start(
        "escalate",
        "[stubborn]\n\
         exec = /bin/sh -c \"trap '' TERM; /bin/sleep 1000 & echo $! > @DIR@/gc.pid; echo $$ > @DIR@/sh.pid; wait\"\n\
         stop_timeout = 300ms\n",
    );
    let s = d.wait_up("stubborn");
    let sh = pid_file(&d, &d.dir.join("sh.pid"));
    let gc = pid_file(&d, &d.dir.join("gc.pid"));
    assert_eq!(s.pid(), sh, "status pid is not the service's process");
    assert!(alive(sh) && alive(gc));

    let t0 = Instant::now();
    let mut reply = d.ask("stop stubborn");
    let lines = reply.until_closed(DEADLINE);
    let took = t0.elapsed();
    assert_eq!(
        lines,
        ["stopping stubborn", "stopped stubborn"],
        "stop results"
    );
    assert!(
        took >= Duration::from_millis(250),
        "stopped after {took:?}: TERM was ignored, so only KILL after 300ms can stop it"
    );
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
    assert!(!alive(sh), "the service's shell survived the stop");
    d.wait_for("the TERM-ignoring grandchild to be killed", || {
        (!alive(gc)).then_some(())
    });
    d.wait_for("the grandchild to be reaped by vigild (subreaper)", || {
        reaped(gc).then_some(())
    });
    let s = d.svc("stubborn").unwrap();
    assert_eq!(
        (s.state(), s.pid(), s.last()),
        ("down", 0, "signal:KILL"),
        "{}",
        s.line
    );
}

/// `stop_signal` goes to the whole process group: a background grandchild
/// that does not ignore it dies with the service, before any KILL.
#[test]
fn stop_signal_reaches_the_process_group() {
    let d = Daemon::start(
        "stopgroup",
        "[web]\nexec = /bin/sh -c \"/bin/sleep 1000 & echo $! > @DIR@/gc.pid; wait\"\nstop_signal = HUP\nstop_timeout = 20s\n",
    );
    let sh = d.wait_up("web").pid();
    let gc = pid_file(&d, &d.dir.join("gc.pid"));
    let t0 = Instant::now();
    assert_eq!(d.request("stop web"), ["stopping web", "stopped web"]);
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "stop waited for the KILL timeout: the signal did not work"
    );
    let s = d.svc("web").unwrap();
    assert_eq!((s.state(), s.last()), ("down", "signal:HUP"), "{}", s.line);
    assert!(!alive(sh));
    d.wait_for("the grandchild to die of the group's HUP", || {
        (!alive(gc)).then_some(())
    });
    d.wait_stderr("web: up -> stopping");
}

// ---- reload -----------------------------------------------------------------

const RELOAD_A: &str = "\
[keep]
exec = /bin/sleep 1001
[change]
exec = /bin/sleep 1002
env = V=1
[gone]
exec = /bin/sleep 1003
";

// Reordered on purpose: services move to other slots.
const RELOAD_B: &str = "\
[added]
exec = /bin/sleep 1004
[change]
exec = /bin/sleep 1002
env = V=2
[keep]
exec = /bin/sleep 1001
";

fn environ(pid: i32) -> Vec<String> {
    let raw = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    raw.split(|&b| b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect()
}

/// Wait until the environment of `pid` holds `entry` (it is read from
/// /proc, which may not show the program's yet right after it started).
#[track_caller]
fn wait_environ(d: &Daemon, pid: i32, entry: &str) {
    d.wait_for(&format!("{entry} in the environment of {pid}"), || {
        environ(pid).iter().any(|e| e == entry).then_some(())
    });
}

fn pids(d: &Daemon) -> Vec<(String, String, i32)> {
    let mut v: Vec<_> = d
        .status()
        .into_iter()
        .map(|s| (s.name.clone(), s.state().to_string(), s.pid()))
        .collect();
    v.sort();
    v
}

/// SIGHUP: unchanged keeps its pid, changed restarts with its new section,
/// added starts, removed stops. A bad file then changes nothing, whether by
/// `vigilctl reload` (reload-failed, exit 4) or by SIGHUP.
/// A request waiting across a reload that moves services to other ids
/// must still be answered for its own service, not for the one that took
/// its old place.
#[test]
fn reload_keeps_waiting_requests_with_their_service() {
    const A: &str = "[a]\nexec = /bin/sh -c \"trap '' TERM; while :; do sleep 1; done\"\nstop_timeout = 2s\n\
                     [b]\nexec = /bin/false\nbackoff = 20s 30s\n";
    const B: &str = "[b]\nexec = /bin/false\nbackoff = 25s 30s\n\
                     [a]\nexec = /bin/sh -c \"trap '' TERM; while :; do sleep 1; done\"\nstop_timeout = 2s\n";
    let d = Daemon::start("reloadwait", A);
    d.wait_up("a");
    d.wait_svc("b", "in backoff", |s| s.state() == "backoff");
    let mut stop = d.ask("stop a");
    assert_eq!(stop.line(DEADLINE).as_deref(), Some("stopping a"));
    d.write_conf(B);
    d.signal(libc::SIGHUP);
    d.wait_stderr("reloaded");
    // b (changed, now at a's old index) goes down; that is not a's answer.
    assert_eq!(
        stop.line(Duration::from_millis(500)),
        None,
        "a is still stopping"
    );
    assert_eq!(d.svc("a").unwrap().state(), "stopping");
    assert_eq!(
        stop.line(DEADLINE).as_deref(),
        Some("stopped a"),
        "after the KILL"
    );
}

#[test]
fn reload_restarts_only_what_changed() {
    let d = Daemon::start("reload", RELOAD_A);
    let keep = d.wait_up("keep").pid();
    let change = d.wait_up("change").pid();
    let gone = d.wait_up("gone").pid();
    wait_environ(&d, change, "V=1");

    d.write_conf(RELOAD_B);
    d.signal(libc::SIGHUP);
    let added = d.wait_up("added").pid();
    let new_change = d
        .wait_svc("change", "restarted", |s| {
            s.state() == "up" && s.pid() > 0 && s.pid() != change
        })
        .pid();
    d.wait_for("removed service out of the status file", || {
        d.svc("gone").is_none().then_some(())
    });
    d.wait_for("removed service's process to end", || {
        (!alive(gone)).then_some(())
    });
    d.wait_stderr("reloaded");
    let k = d.svc("keep").unwrap();
    assert_eq!(
        (k.state(), k.pid()),
        ("up", keep),
        "unchanged service was touched: {}",
        k.line
    );
    assert!(alive(keep));
    assert!(
        !alive(change),
        "old process of the changed service still runs"
    );
    // The changed service gets its new section.
    wait_environ(&d, new_change, "V=2");
    assert!(alive(added));

    // A bad file: refused as a whole, nothing changes.
    let before = pids(&d);
    d.write_conf(&format!(
        "{RELOAD_B}bogus_key = 1\n[extra]\nexec = /bin/sleep 1005\n"
    ));
    let out = d.ctl(&["reload"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "vigilctl reload of a bad file: {}",
        show(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("reload-failed"), "{}", show(&out));
    assert!(
        text.contains(":8: ") && text.contains("bogus_key"),
        "the error must name line 8 and the key: {text}"
    );
    d.signal(libc::SIGHUP);
    d.wait_stderr_count("reload failed", 2);
    // Let the loop run another turn (a request is answered after the signal).
    assert_eq!(d.request("start keep"), ["started-already keep"]);
    assert_eq!(
        pids(&d),
        before,
        "a failed reload changed the running services"
    );
    assert!(d.svc("extra").is_none());

    // The same good file again: a reload that changes nothing restarts nothing.
    d.write_conf(RELOAD_B);
    assert_eq!(d.request("reload"), ["reloaded vigild"]);
    assert_eq!(pids(&d), before, "a no-op reload restarted services");
}

// ---- the control FIFO ---------------------------------------------------------

/// Garbage on the control FIFO is answered with `error` when a reply FIFO
/// is given, never affects anything, and later lines still work.
#[test]
fn control_fifo_survives_garbage() {
    let d = Daemon::start("garbage", "[web]\nexec = /bin/sleep 1000\n");
    let web = d.wait_up("web");

    d.send_raw(b"\x00\xff\xfe\x01binary\x7f\x80 start web\n");
    d.wait_stderr("not printable");

    let reply = d.reply_fifo();
    let mut long = vec![b'x'; 2000];
    long.extend_from_slice(format!("\nstart web reply={}\n", reply.path.display()).as_bytes());
    d.send_raw(&long);
    let mut reply = reply;
    assert_eq!(
        reply.until_closed(DEADLINE),
        ["started-already web"],
        "the line after an oversized one"
    );
    d.wait_stderr("longer than 512");

    // Exactly 512 bytes (newline excluded) is a line; 513 is too long.
    let padded = |reply: &Reply, len: usize| {
        let tail = format!(" reply={}", reply.path.display());
        let line = format!("start web{}{tail}", " ".repeat(len - 9 - tail.len()));
        assert_eq!(line.len(), len);
        line
    };
    let mut r512 = d.reply_fifo();
    d.send(&padded(&r512, 512));
    assert_eq!(
        r512.until_closed(DEADLINE),
        ["started-already web"],
        "a 512-byte line"
    );
    let mut r513 = d.reply_fifo();
    d.send(&padded(&r513, 513));
    assert_eq!(d.request("start web"), ["started-already web"]);
    assert_eq!(
        r513.line(Duration::ZERO),
        None,
        "a 513-byte line was obeyed"
    );
    // Refused as too long, like the 2000-byte one.
    d.wait_stderr_count("longer than 512", 2);

    let cases: &[(&str, &str)] = &[
        ("frobnicate web", "error - unknown command"),
        ("start", "error - service name missing"),
        ("stop", "error - service name missing"),
        ("signal web NOSUCHSIG", "error"),
        ("start ../etc/passwd", "error"),
        ("start web extra words", "error"),
        ("start nosuch", "not-known nosuch"),
    ];
    for (line, want) in cases {
        let got = d.request(line);
        assert_eq!(got.len(), 1, "{line:?} -> {got:?}");
        assert!(
            got[0].starts_with(want),
            "{line:?} answered {got:?}, expected {want:?}"
        );
    }
    assert!(d.exited().is_none(), "vigild exited on garbage");
    let now = d.svc("web").unwrap();
    assert_eq!(
        (now.state(), now.pid(), now.restarts()),
        ("up", web.pid(), 0),
        "garbage changed the service: {}",
        now.line
    );
    assert!(alive(web.pid()));
    // Still fully working.
    assert_eq!(d.request("stop web"), ["stopping web", "stopped web"]);
}

/// A flood of bad control lines is not a flood of log lines: at most five
/// a second are logged, and the next one after a pause says how many were
/// left out. Nothing else is affected.
#[test]
fn control_errors_are_rate_limited() {
    let d = Daemon::start("ctlflood", "[web]\nexec = /bin/sleep 1000\n");
    let web = d.wait_up("web");
    d.send_raw("frobnicate\n".repeat(200).as_bytes());
    d.wait_stderr("unknown command");
    std::thread::sleep(Duration::from_millis(1200));
    let logged = |text: &str| {
        let lines = d.stderr.vigild_lines();
        lines.iter().filter(|l| l.contains(text)).count()
    };
    assert_eq!(logged("unknown command"), 5, "{}", d.stderr.text());
    d.send("frobnicate again");
    d.wait_stderr("control: 195 more errors not logged");
    assert_eq!(logged("unknown command"), 6);
    assert_eq!(d.svc("web").unwrap().pid(), web.pid());
    assert_eq!(d.request("start web"), ["started-already web"]);
    // `monitor` without a reply FIFO as well (part 7's trial: one line
    // logged for each, 4974 in 5 s).
    std::thread::sleep(Duration::from_millis(1200));
    d.send_raw("monitor\n".repeat(200).as_bytes());
    d.wait_stderr("monitor without reply= ignored");
    assert_eq!(d.request("start web"), ["started-already web"]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(logged("monitor without reply="), 5, "{}", d.stderr.text());
}

/// `reply=` must be a FIFO: a regular file or a symlink is not written to.
#[test]
fn reply_path_must_be_a_fifo() {
    let d = Daemon::start("replypath", "[web]\nexec = /bin/sleep 1000\n");
    d.wait_up("web");
    let plain = d.dir.join("plain");
    fs::write(&plain, "untouched\n").unwrap();
    d.send(&format!("start web reply={}", plain.display()));
    let mut fifo = d.reply_fifo();
    let link = d.dir.join("link");
    std::os::unix::fs::symlink(&fifo.path, &link).unwrap();
    d.send(&format!("start web reply={}", link.display()));
    // Lines are handled in order: once this is answered, so were those.
    assert_eq!(d.request("start web"), ["started-already web"]);
    assert_eq!(
        fs::read_to_string(&plain).unwrap(),
        "untouched\n",
        "vigild wrote into a regular file"
    );
    assert_eq!(
        fifo.line(Duration::ZERO),
        None,
        "vigild followed a symlink to a reply FIFO"
    );
    d.wait_stderr(&format!("reply {}", plain.display()));
    d.wait_stderr(&format!("reply {}", link.display()));
}

/// `reply=` naming vigild's own control FIFO is refused: what would be
/// written there would be read back as requests (part 7's trial: `log
/// chatty reply=RUN/control` made a nobody service's output, `stop
/// victim`, a request of root's).
#[test]
fn reply_to_the_control_fifo_is_refused() {
    let d = Daemon::start(
        "replyctl",
        "[chatty]\nexec = /bin/sh -c \"echo; echo stop victim; exec sleep 1160\"\nlog = ring:4k\n\
         [victim]\nexec = /bin/sleep 1161\n",
    );
    d.wait_up("chatty");
    let victim = d.wait_up("victim");
    d.wait_for("chatty's lines in its ring", || {
        let out = d.request("log chatty");
        out.iter().any(|l| l.contains("stop victim")).then_some(())
    });
    d.send(&format!(
        "log chatty reply={}",
        d.run.join("control").display()
    ));
    d.wait_stderr("that is vigild's control FIFO: refused");
    // Lines are handled in order: once this is answered, so was that one
    // and whatever it could have written.
    assert_eq!(d.request("start victim"), ["started-already victim"]);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(d.request("start victim"), ["started-already victim"]);
    assert_eq!(d.svc("victim").unwrap().pid(), victim.pid());
}

/// Nor through a symlink a user owns on the way to it (part 7's second
/// trial: `reply=USERDIR/link/fifo` reached a FIFO in a root-only
/// directory).
#[test]
#[ignore = "needs root: run by .ci/run"]
fn reply_path_is_not_reached_through_a_users_symlink() {
    let (nobody, nogroup) = passwd_entry("nobody").expect("a user nobody");
    let d = Daemon::start("replyuser", "[web]\nexec = /bin/sleep 1000\n");
    d.wait_up("web");
    let mut fifo = d.reply_fifo();
    let users = d.dir.join("users");
    fs::create_dir(&users).unwrap();
    std::os::unix::fs::chown(&users, Some(nobody), Some(nogroup)).unwrap();
    let link = users.join("link");
    std::os::unix::fs::symlink(fifo.path.parent().unwrap(), &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(nobody), Some(nogroup)).unwrap();
    let name = fifo.path.file_name().unwrap().to_str().unwrap().to_string();
    d.send(&format!("start web reply={}/{name}", link.display()));
    assert_eq!(d.request("start web"), ["started-already web"]);
    assert_eq!(
        fifo.line(Duration::ZERO),
        None,
        "written through nobody's link"
    );
    d.wait_stderr("ELOOP");
}

/// `monitor` streams the current states, then one line per state change; a
/// monitor that goes away does not disturb vigild.
#[test]
fn monitor_streams_state_changes() {
    let d = Daemon::start(
        "monitor",
        "[web]\nexec = /bin/sleep 1000\n[other]\nexec = /bin/sleep 1000\nautostart = no\n",
    );
    let web = d.wait_up("web").pid();
    let mut mon = d.ask("monitor");
    let first = mon
        .until(DEADLINE, |l| l.starts_with("other:"))
        .unwrap_or_else(|l| d.fail(&format!("monitor start: {l:?}")));
    assert!(
        first.contains(&format!("web: up (pid {web})")),
        "initial monitor lines: {first:?}"
    );
    assert!(
        first.contains(&"other: down".to_string()),
        "initial monitor lines: {first:?}"
    );

    assert_eq!(d.request("stop web"), ["stopping web", "stopped web"]);
    assert_eq!(
        mon.line(DEADLINE).as_deref(),
        Some(format!("web: up -> stopping (pid {web})").as_str())
    );
    assert_eq!(
        mon.line(DEADLINE).as_deref(),
        Some("web: stopping -> down (last signal:TERM)")
    );

    let out = d.ctl(&["start", "other"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let other = d.wait_up("other").pid();
    assert_eq!(
        mon.line(DEADLINE),
        Some(format!("other: down -> starting (pid {other})"))
    );
    assert_eq!(
        mon.line(DEADLINE),
        Some(format!("other: starting -> up (pid {other})"))
    );

    // `vigilctl monitor` prints the same stream.
    let mut cmd = Command::new(d.vigilctl_path());
    cmd.arg("-r")
        .arg(&d.run)
        .arg("monitor")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n @ 1..) = std::io::Read::read(&mut out, &mut buf) {
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    d.wait_for("vigilctl monitor's initial lines", || {
        seen.lock().unwrap().contains("other: up").then_some(())
    });
    assert_eq!(d.request("restart other")[0], "stopping other");
    d.wait_for("vigilctl monitor to print the restart", || {
        seen.lock()
            .unwrap()
            .contains(&format!("other: up -> stopping (pid {other})"))
            .then_some(())
    });
    // Both monitors go away; vigild carries on.
    let _ = child.kill();
    let _ = child.wait();
    drop(mon);
    assert_eq!(
        d.request("start web").first().map(String::as_str),
        Some("starting web")
    );
    d.wait_up("web");
    assert!(d.exited().is_none());
}

// ---- what services get ----------------------------------------------------------

/// Children get fds 0, 1 and 2 only (0 being /dev/null), even when vigild
/// itself inherited another open fd.
#[test]
fn services_get_only_stdio_fds() {
    only_stdio_fds("fds", vec![]);
}

/// The same where close_range(2) is refused (a seccomp profile; kernels
/// before 5.9 have none): vigild marks what it inherited close-on-exec one
/// fd at a time, and says so once.
#[test]
fn no_fd_leaks_without_close_range() {
    let d = only_stdio_fds("fds-seccomp", vec![libc::SYS_close_range]);
    d.wait_stderr("close_range(2) refused");
}

fn only_stdio_fds(tag: &str, refused_syscalls: Vec<i64>) -> Daemon {
    let opts = Opts {
        dup: vec![(2, 7)],
        refused_syscalls,
        ..Opts::default()
    };
    let d = Daemon::start_with(tag, "[web]\nexec = /bin/sleep 1000\n", opts);
    let pid = d.wait_up("web").pid();
    let vigild_fds: Vec<String> = fs::read_dir(format!("/proc/{}/fd", d.pid()))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        vigild_fds.contains(&"7".to_string()),
        "the test did not manage to give vigild fd 7"
    );
    let mut fds: Vec<u32> = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .into_string()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    fds.sort();
    let targets: Vec<String> = fds
        .iter()
        .map(|fd| {
            format!(
                "{fd} -> {}",
                fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                    .unwrap_or_default()
                    .display()
            )
        })
        .collect();
    assert_eq!(fds, [0, 1, 2], "service fds: {targets:?}");
    assert_eq!(
        fs::read_link(format!("/proc/{pid}/fd/0")).unwrap().to_str(),
        Some("/dev/null")
    );
    d
}

/// The environment is vigild's minus its own variables plus `env`;
/// `dir` and `umask` apply.
#[test]
fn environment_dir_and_umask() {
    let opts = Opts {
        env: vec![
            ("NOTIFY_SOCKET".into(), "/tmp/notify".into()),
            ("LISTEN_FDS".into(), "1".into()),
            ("LISTEN_PID".into(), "1".into()),
            ("KEEPME".into(), "inherited".into()),
            ("OVERRIDE".into(), "old".into()),
        ],
        ..Opts::default()
    };
    let d = Daemon::start_with(
        "env",
        "[show]\nmode = oneshot\n\
         exec = /bin/sh -c \"env > @DIR@/env.tmp; pwd > @DIR@/pwd; umask > @DIR@/umask; mv @DIR@/env.tmp @DIR@/env\"\n\
         env = FOO=bar\nenv = OVERRIDE=new\ndir = @DIR@\numask = 027\n",
        opts,
    );
    d.wait_svc("show", "up (oneshot done)", |s| s.state() == "up");
    let env = file_lines(&d.dir.join("env"));
    let has = |e: &str| env.iter().any(|l| l == e);
    assert!(
        has("FOO=bar") && has("KEEPME=inherited") && has("OVERRIDE=new"),
        "env: {env:?}"
    );
    assert!(
        !has("OVERRIDE=old"),
        "env overridden but the old value kept: {env:?}"
    );
    assert!(
        env.iter().any(|l| l.starts_with("PATH=")),
        "no PATH: {env:?}"
    );
    for own in ["NOTIFY_SOCKET=", "LISTEN_FDS=", "LISTEN_PID="] {
        assert!(
            !env.iter().any(|l| l.starts_with(own)),
            "vigild's own {own} leaked: {env:?}"
        );
    }
    assert_eq!(
        fs::read_to_string(d.dir.join("pwd")).unwrap().trim(),
        d.dir.path.to_str().unwrap()
    );
    assert_eq!(
        fs::read_to_string(d.dir.join("umask")).unwrap().trim(),
        "0027"
    );
}

/// Uid, gid and supplementary groups `user` should get: from /etc/passwd
/// and /etc/group (the test machines use files, no NSS service).
fn account(user: &str) -> Option<(u32, u32, BTreeSet<u32>)> {
    let (uid, gid) = passwd_entry(user)?;
    let mut groups = BTreeSet::from([gid]);
    for l in fs::read_to_string("/etc/group").unwrap_or_default().lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() == 4 && f[3].split(',').any(|m| m == user) {
            groups.insert(f[2].parse().unwrap());
        }
    }
    Some((uid, gid, groups))
}

fn group_id(name: &str) -> Option<u32> {
    let text = fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name)).then(|| f[2].parse().unwrap())
    })
}

/// Run a oneshot with `creds` (config lines) that writes `id -u`, `id -g`
/// and `id -G` to a world-writable directory; the three lines.
fn run_as(tag: &str, creds: &str) -> Vec<String> {
    let dir = TempDir::new(tag);
    let out = dir.join("out");
    fs::create_dir(&out).unwrap();
    fs::set_permissions(&out, fs::Permissions::from_mode(0o777)).unwrap();
    let d = Daemon::start_in(
        dir,
        &format!(
            "[who]\nmode = oneshot\n{creds}\n\
             exec = /bin/sh -c \"id -u > @DIR@/out/id; id -g >> @DIR@/out/id; id -G >> @DIR@/out/id\"\n"
        ),
        Opts::default(),
    );
    let s = d.wait_svc("who", "oneshot finished", |s| {
        s.state() != "starting" && s.last() != "-"
    });
    assert_eq!((s.state(), s.last()), ("up", "exit:0"), "{}", s.line);
    let lines = file_lines(&out.join("id"));
    assert_eq!(lines.len(), 3, "{lines:?}");
    lines
}

fn id_groups(line: &str) -> BTreeSet<u32> {
    line.split_whitespace()
        .map(|g| g.parse().unwrap())
        .collect()
}

/// `user = nobody` as root (without `group`): the service runs with nobody's
/// uid, gid and supplementary groups (none of root's).
#[test]
#[ignore = "needs root: run by .ci/run"]
fn user_drop_when_root() {
    let (uid, gid, groups) = account("nobody").expect("a user nobody");
    let lines = run_as("user", "user = nobody");
    assert_eq!(lines[0], uid.to_string(), "uid");
    assert_eq!(lines[1], gid.to_string(), "gid");
    assert_eq!(id_groups(&lines[2]), groups, "groups (root's must be gone)");
}

/// `user = nobody` with `group = nogroup` as root: that gid, nobody's uid
/// and supplementary groups.
#[test]
#[ignore = "needs root: run by .ci/run"]
fn user_and_group_drop_when_root() {
    let (uid, _, groups) = account("nobody").expect("a user nobody");
    let gid = group_id("nogroup").expect("a group nogroup");
    let lines = run_as("usergroup", "user = nobody\ngroup = nogroup");
    assert_eq!(lines[0], uid.to_string(), "uid");
    assert_eq!(lines[1], gid.to_string(), "gid");
    let got = id_groups(&lines[2]);
    assert!(!got.contains(&0), "root's group kept: {got:?}");
    assert!(
        got.contains(&gid)
            && got.is_subset(&groups.union(&BTreeSet::from([gid])).copied().collect()),
        "groups {got:?}, expected within {groups:?}"
    );
}

/// Orphans adopted by vigild (the subreaper) are reaped, and their exit is
/// not taken for the service's.
#[test]
fn orphans_are_adopted_and_reaped() {
    let d = Daemon::start(
        "orphan",
        "[web]\nexec = /bin/sh -c \"(/bin/sleep 1 & echo $! > @DIR@/orphan.pid); exec /bin/sleep 1000\"\n",
    );
    let web = d.wait_up("web");
    let orphan = pid_file(&d, &d.dir.join("orphan.pid"));
    d.wait_for("the orphan to be adopted by vigild", || {
        (ppid(orphan) == Some(d.pid()) || reaped(orphan)).then_some(())
    });
    assert_eq!(
        ppid(orphan),
        Some(d.pid()),
        "orphan not adopted by vigild (or gone too fast to tell)"
    );
    d.wait_for("the orphan to be reaped (no zombie)", || {
        reaped(orphan).then_some(())
    });
    let now = d.svc("web").unwrap();
    assert_eq!(
        (now.state(), now.pid(), now.restarts()),
        ("up", web.pid(), 0),
        "{}",
        now.line
    );
}

// ---- modes and ordering -------------------------------------------------------------

/// A oneshot that exits 0 is `up` without a pid; one that exits 1 is `down`;
/// neither runs again by itself.
#[test]
fn oneshot_success_is_up_failure_is_down() {
    let d = Daemon::start(
        "oneshot",
        "[ok]\nmode = oneshot\nexec = /bin/sh -c \"echo run >> @DIR@/ok.runs\"\n\
         [bad]\nmode = oneshot\nexec = /bin/sh -c \"echo run >> @DIR@/bad.runs; exit 1\"\n",
    );
    let ok = d.wait_svc("ok", "up", |s| s.state() == "up");
    assert_eq!(
        (ok.pid(), ok.last(), ok.get("ready"), ok.get("mode")),
        (0, "exit:0", "yes", "oneshot"),
        "{}",
        ok.line
    );
    let bad = d.wait_svc("bad", "down after exit 1", |s| {
        s.state() == "down" && s.last() == "exit:1"
    });
    assert_eq!(bad.pid(), 0, "{}", bad.line);

    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(file_lines(&d.dir.join("ok.runs")).len(), 1);
    assert_eq!(file_lines(&d.dir.join("bad.runs")).len(), 1);
    assert_eq!(d.svc("bad").unwrap().state(), "down");

    let out = d.ctl(&["start", "bad"]);
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    assert!(stdout(&out).contains("start-failed bad"), "{}", show(&out));
    let out = d.ctl(&["restart", "ok"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(stdout(&out).contains("up ok"), "{}", show(&out));
    assert_eq!(
        file_lines(&d.dir.join("ok.runs")).len(),
        2,
        "restart of a oneshot runs it again"
    );
}

/// `after = prep`: the daemon starts only once the oneshot it waits for has
/// finished with 0 (its file exists), even though it comes first in the file.
#[test]
fn after_waits_for_the_oneshot() {
    let d = Daemon::start(
        "after",
        "[app]\nexec = /bin/sh -c \"test -e @DIR@/prepared || exit 7; exec /bin/sleep 1000\"\nafter = prep\nrestart = no\n\
         [prep]\nmode = oneshot\nexec = /bin/sh -c \"/bin/sleep 0.3; touch @DIR@/prepared\"\n",
    );
    let app = d.wait_up("app");
    assert_eq!(
        (app.last(), app.restarts()),
        ("-", 0),
        "app started before prep finished: {}",
        app.line
    );
    assert!(alive(app.pid()));
    d.wait_stderr("app: starting -> up");
    let lines = d.stderr.vigild_lines();
    assert!(
        index_of(&lines, "prep: starting -> up") < index_of(&lines, "app: down -> starting"),
        "order:\n{}",
        lines.join("\n")
    );
}

/// A dependency that fails for good keeps its dependents from starting.
#[test]
fn after_a_failed_oneshot_never_starts() {
    let d = Daemon::start(
        "afterfail",
        "[app]\nexec = /bin/sh -c \"touch @DIR@/app-ran; exec /bin/sleep 1000\"\nafter = prep\n\
         [prep]\nmode = oneshot\nexec = /bin/sh -c \"exit 1\"\n",
    );
    d.wait_svc("prep", "down after exit 1", |s| {
        s.state() == "down" && s.last() == "exit:1"
    });
    let app = d.wait_svc("app", "down for good", |s| {
        s.state() == "down" && !s.reason().is_empty()
    });
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !d.dir.join("app-ran").exists(),
        "app ran although prep failed ({})",
        app.line
    );
    // A new reason in the same state is no transition.
    d.wait_stderr("app: down (dependency-failed)");
    assert!(
        !d.stderr.text().contains("down -> down"),
        "{}",
        d.stderr.text()
    );
    assert_eq!(d.svc("app").unwrap().state(), "down");
}

// ---- spawn failures ---------------------------------------------------------------

/// A program that cannot be executed: reason=spawn-failed:ERRNO, backoff
/// between attempts (no spinning), never `up`.
#[test]
fn spawn_failure_backs_off_and_is_never_up() {
    let dir = TempDir::new("spawnfail");
    fs::write(dir.join("not-executable"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(
        dir.join("not-executable"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let t0 = Instant::now();
    let d = Daemon::start_in(
        dir,
        "[missing]\nexec = /nonexistent/program\nbackoff = 50ms 200ms\n\
         [noexec]\nexec = @DIR@/not-executable\nbackoff = 50ms 200ms\n",
        Opts::default(),
    );
    let m = d.wait_svc("missing", "in backoff after 4 restarts", |s| {
        s.restarts() >= 4
    });
    let elapsed = t0.elapsed();
    assert_eq!(
        (m.state(), m.reason(), m.pid()),
        ("backoff", "spawn-failed:ENOENT", 0),
        "{}",
        m.line
    );
    // Delays 50 + 100 + 200 (+ 200) at least before the 4th restart.
    assert!(
        elapsed >= Duration::from_millis(330),
        "4 restarts within {elapsed:?}: the backoff is not applied"
    );
    let n = d.wait_svc("noexec", "spawn failure", |s| {
        s.reason().starts_with("spawn-failed")
    });
    assert_eq!(n.reason(), "spawn-failed:EACCES", "{}", n.line);
    d.wait_stderr(&format!(
        "{}:2: missing: unable to spawn /nonexistent/program: ENOENT",
        d.conf.display()
    ));

    let out = d.ctl(&["start", "missing"]);
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    assert!(
        stdout(&out).contains("start-failed missing spawn-failed:ENOENT"),
        "{}",
        show(&out)
    );
    for l in d.stderr.vigild_lines() {
        let about_them = l.starts_with("missing:") || l.starts_with("noexec:");
        assert!(
            !(about_them && (l.contains("-> up") || l.contains("-> starting"))),
            "a failed spawn counted as started: {l}"
        );
    }
}

// ---- vigilctl ---------------------------------------------------------------------

/// vigilctl's exit codes: 0 success, 4 failure result, 3 no vigild, 2 usage;
/// `wait up NAME 5s` returns once the service is up.
#[test]
fn vigilctl_exit_codes_and_wait() {
    let d = Daemon::start(
        "vigilctl",
        "[web]\nexec = /bin/sleep 1000\n\
         [lazy]\nexec = /bin/sleep 1000\nautostart = no\n\
         [broken]\nexec = /nonexistent/program\nautostart = no\n",
    );
    let web = d.wait_up("web").pid();
    let code = |args: &[&str]| {
        let out = d.ctl(args);
        (out.status.code(), stdout(&out), show(&out))
    };

    let (c, text, all) = code(&["status"]);
    assert_eq!(c, Some(0), "{all}");
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("run: web: (pid {web}) "))),
        "{all}"
    );
    assert!(text.lines().any(|l| l.starts_with("down: lazy: ")), "{all}");
    // One name: its runit line first (then its fields).
    let (c, text, all) = code(&["status", "web"]);
    assert_eq!(c, Some(0), "{all}");
    assert!(
        text.starts_with(&format!("run: web: (pid {web}) ")),
        "{all}"
    );
    assert!(text.contains(&format!("\n  pid: {web}\n")), "{all}");
    let (c, text, all) = code(&["status", "--raw"]);
    assert_eq!(c, Some(0), "{all}");
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("web state=up pid={web} "))),
        "{all}"
    );
    assert_eq!(code(&["status", "nosuch"]).0, Some(4));

    let (c, text, all) = code(&["start", "nosuch"]);
    assert_eq!(c, Some(4), "{all}");
    assert!(text.contains("not-known nosuch"), "{all}");
    let (c, text, all) = code(&["start", "broken"]);
    assert_eq!(c, Some(4), "{all}");
    assert!(text.contains("start-failed broken"), "{all}");
    let (c, text, all) = code(&["start", "web"]);
    assert_eq!((c, text.trim()), (Some(0), "started-already web"), "{all}");
    let (c, _, all) = code(&["signal", "web", "CONT"]);
    assert_eq!(c, Some(0), "{all}");

    // wait up: started in the background, satisfied by a later start.
    let mut waiter = Command::new(d.vigilctl_path());
    waiter
        .arg("-r")
        .arg(&d.run)
        .args(["wait", "up", "lazy", "5s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut waiter = waiter.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(200)); // let it subscribe; a late one sees "up" at once anyway
    assert!(
        waiter.try_wait().unwrap().is_none(),
        "wait up returned before lazy was started"
    );
    let (c, text, all) = code(&["start", "lazy"]);
    assert_eq!(c, Some(0), "{all}");
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["starting lazy", "up lazy"],
        "{all}"
    );
    let st = poll_until(DEADLINE, || waiter.try_wait().unwrap()).expect("wait up did not return");
    assert_eq!(st.code(), Some(0), "wait up lazy");
    // wait that times out.
    let t0 = Instant::now();
    let (c, _, all) = code(&["wait", "up", "broken", "300ms"]);
    assert_eq!(c, Some(4), "{all}");
    assert!(
        t0.elapsed() >= Duration::from_millis(280),
        "wait returned before its timeout"
    );
    assert_eq!(code(&["wait", "up", "web", "1s"]).0, Some(0));
    // Stopping a service that waits in backoff ends the retries at once.
    assert_eq!(d.svc("broken").unwrap().state(), "backoff");
    let (c, text, all) = code(&["stop", "broken"]);
    assert_eq!((c, text.trim()), (Some(0), "stopped broken"), "{all}");
    assert_eq!(d.svc("broken").unwrap().state(), "down");

    let (c, text, all) = code(&["stop", "lazy"]);
    assert_eq!(
        (c, text.lines().last()),
        (Some(0), Some("stopped lazy")),
        "{all}"
    );
    assert_eq!(code(&["stop", "lazy"]).1.trim(), "stopped-already lazy");
    assert_eq!(code(&["wait", "down", "lazy", "1s"]).0, Some(0));
    let (c, text, all) = code(&["restart", "web"]);
    assert_eq!((c, text.lines().last()), (Some(0), Some("up web")), "{all}");
    assert_ne!(d.wait_up("web").pid(), web, "restart kept the old process");

    // Usage errors.
    for args in [
        &[][..],
        &["frobnicate"],
        &["start"],
        &["wait", "sideways", "web"],
        &["wait", "up", "web", "soon"],
        &["signal", "web"],
    ] {
        let (c, _, all) = code(args);
        assert_eq!(c, Some(2), "vigilctl {args:?}: {all}");
    }
    // No vigild on that run directory.
    let nothing = d.dir.join("nothing");
    fs::create_dir(&nothing).unwrap();
    for args in [
        &["status"][..],
        &["start", "web"],
        &["shutdown"],
        &["wait", "up", "web", "1s"],
    ] {
        let out = run_limited({
            let mut c = Command::new(d.vigilctl_path());
            c.arg("-r").arg(&nothing).args(args);
            c
        });
        assert_eq!(
            out.status.code(),
            Some(3),
            "vigilctl {args:?} without vigild: {}",
            show(&out)
        );
    }
    // The other calling form.
    let out = run_limited({
        let mut c = Command::new(vigild_bin());
        c.arg("ctl").arg("-r").arg(&d.run).args(["status", "web"]);
        c
    });
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(stdout(&out).starts_with("run: web: "), "{}", show(&out));
    // A relative run directory is refused out loud (vigild could not find
    // the reply FIFO relative to its own working directory).
    let out = run_limited({
        let mut c = Command::new(d.vigilctl_path());
        c.current_dir(&d.dir.path)
            .arg("-r")
            .arg("run")
            .args(["start", "web"]);
        c
    });
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        show(&out).contains("-r needs an absolute path"),
        "{}",
        show(&out)
    );
}

// ---- start-up errors ---------------------------------------------------------------

/// `-t` lists every error with its line number and exits 2; a good file
/// exits 0 and starts nothing.
#[test]
fn check_mode_lists_every_error() {
    let dir = TempDir::new("check");
    let bad = "\
[vigild]
run_dir = relative/path

[web]
exec = /bin/true
bogus_key = 1
restart = sometimes

[web]
exec = /bin/true
[db]
mode = oneshot
after = nosuch
backoff = 5s 1s
[ok]
exec = /bin/true
stop_signal = SIGFOO
";
    let path = dir.join("bad.conf");
    fs::write(&path, bad).unwrap();
    assert_config_errors(
        &path,
        &[
            (2, "run_dir"),
            (6, "bogus_key"),
            (7, "restart"),
            (9, "duplicate"),
            (11, "exec"),
            (13, "nosuch"),
            (14, "backoff"),
            (17, "SIGFOO"),
        ],
    );
    // The same file without -t: refused, nothing started.
    let p = path.to_str().unwrap();
    let out = vigild_once(&["-f", "-c", p, "-r", &dir.s("run")]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        !dir.join("run").exists(),
        "run directory created for a refused config"
    );

    let good = dir.join("good.conf");
    fs::write(&good, fill("[vigild]\nrun_dir = @DIR@/run2\n[mark]\nmode = oneshot\nexec = /bin/touch @DIR@/marker\n", &dir)).unwrap();
    let out = vigild_once(&["-t", "-c", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !dir.join("run2").exists() && !dir.join("marker").exists(),
        "-t started something"
    );
    // Usage error.
    assert_eq!(vigild_once(&["-x"]).status.code(), Some(2));
    // A FIFO nobody writes to is read as empty, not waited on forever
    // (part 7's trial: `-t -c FIFO` blocked).
    let fifo = dir.join("fifo.conf");
    mkfifo(&fifo);
    let out = vigild_once(&["-t", "-c", fifo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

const ONE_ONESHOT: &str = "[mark]\nmode = oneshot\nexec = /bin/touch @DIR@/marker\n";

/// The run directory path is a regular file, a symlink, or its control
/// path is a regular file: exit 1 with a message, nothing touched.
#[test]
fn unusable_run_dir_exits_1() {
    let dir = TempDir::new("rundir");
    let conf = dir.join("c.conf");
    fs::write(&conf, fill(ONE_ONESHOT, &dir)).unwrap();
    let conf = conf.to_str().unwrap();

    let file = dir.join("file");
    fs::write(&file, "mine\n").unwrap();
    let out = vigild_once(&["-f", "-c", conf, "-r", &dir.s("file")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "run dir is a regular file: {}",
        show(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&dir.s("file")),
        "message must name the path: {}",
        show(&out)
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), "mine\n");

    let run = dir.join("run");
    fs::create_dir(&run).unwrap();
    fs::set_permissions(&run, fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(run.join("control"), "not a fifo\n").unwrap();
    let out = vigild_once(&["-f", "-c", conf, "-r", &dir.s("run")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "control is a regular file: {}",
        show(&out)
    );
    assert_eq!(
        fs::read_to_string(run.join("control")).unwrap(),
        "not a fifo\n"
    );

    let target = dir.join("target");
    fs::create_dir(&target).unwrap();
    std::os::unix::fs::symlink(&target, dir.join("link")).unwrap();
    let out = vigild_once(&["-f", "-c", conf, "-r", &dir.s("link")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "run dir is a symlink: {}",
        show(&out)
    );
    assert_eq!(
        fs::read_dir(&target).unwrap().count(),
        0,
        "vigild wrote through a symlink"
    );
    assert!(
        !dir.join("marker").exists(),
        "a service ran although vigild refused to start"
    );
}

/// A second vigild on the same run directory exits 1 with a clear message;
/// the first keeps running and keeps its files.
#[test]
fn second_vigild_on_the_same_run_dir_exits_1() {
    let d = Daemon::start("second", "[web]\nexec = /bin/sleep 1000\n");
    let web = d.wait_up("web").pid();
    let conf2 = d.dir.join("second.conf");
    fs::write(&conf2, fill(ONE_ONESHOT, &d.dir)).unwrap();
    let out = vigild_once(&[
        "-f",
        "-c",
        conf2.to_str().unwrap(),
        "-r",
        d.run.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        err.contains("another vigild") || err.contains("in use") || err.contains("running"),
        "unclear message: {}",
        show(&out)
    );

    assert!(d.exited().is_none(), "the first vigild died");
    assert_eq!(
        d.request("start web"),
        ["started-already web"],
        "the first vigild stopped answering"
    );
    assert_eq!(d.svc("web").map(|s| s.pid()), Some(web));
    assert!(
        d.svc("mark").is_none(),
        "the second vigild overwrote the status file"
    );
    assert!(
        !d.dir.join("marker").exists(),
        "the second vigild started its services"
    );
}

// ---- shutdown -----------------------------------------------------------------------

/// SIGTERM: dependents stop first, each only once what depends on it is
/// down; every process is gone; exit 0; vigilctl then reports 3.
#[test]
fn sigterm_stops_in_reverse_dependency_order() {
    let d = Daemon::start(
        "shutdown",
        "[c]\nexec = /bin/sleep 1000\nafter = b\n[a]\nexec = /bin/sleep 1000\n[b]\nexec = /bin/sleep 1000\nafter = a\n",
    );
    let pids: Vec<i32> = ["a", "b", "c"].iter().map(|n| d.wait_up(n).pid()).collect();
    d.wait_stderr("c: starting -> up");
    let lines = d.stderr.vigild_lines();
    assert!(index_of(&lines, "a: down -> starting") < index_of(&lines, "b: down -> starting"));
    assert!(index_of(&lines, "b: down -> starting") < index_of(&lines, "c: down -> starting"));

    d.signal(SIGTERM);
    let st = d.wait_exit(DEADLINE);
    assert_eq!(st.code(), Some(0), "exit status after SIGTERM");
    d.wait_stderr("a: stopping -> down");
    let lines = d.stderr.vigild_lines();
    let order: Vec<usize> = [
        "c: up -> stopping",
        "c: stopping -> down",
        "b: up -> stopping",
        "b: stopping -> down",
        "a: up -> stopping",
        "a: stopping -> down",
    ]
    .iter()
    .map(|t| index_of(&lines, t))
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "stop order wrong:\n{}",
        lines.join("\n")
    );
    for pid in pids {
        assert!(!alive(pid), "service {pid} survived the shutdown");
    }
    let out = d.ctl(&["status"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "vigilctl after vigild exited: {}",
        show(&out)
    );
}

/// `vigilctl shutdown` with a service that ignores TERM: KILL after its
/// stop_timeout, `stopped vigild`, exit 0 for both.
#[test]
fn vigilctl_shutdown_kills_stubborn_services() {
    let d = Daemon::start(
        "ctlshutdown",
        "[stubborn]\nexec = /bin/sh -c \"trap '' TERM; touch @DIR@/trapped; while :; do /bin/sleep 0.05; done\"\nstop_timeout = 200ms\n",
    );
    let pid = d.wait_up("stubborn").pid();
    wait_file(&d, "trapped");
    let out = d.ctl(&["shutdown"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        stdout(&out).lines().collect::<Vec<_>>(),
        ["stopping vigild", "stopped vigild"],
        "{}",
        show(&out)
    );
    assert_eq!(d.wait_exit(DEADLINE).code(), Some(0));
    assert!(!alive(pid));
    d.wait_stderr("stubborn: stopping -> down (last signal:KILL)");
}

/// SIGINT is a shutdown too; requests during a shutdown get `in-shutdown`.
#[test]
fn sigint_shuts_down() {
    let d = Daemon::start(
        "sigint",
        "[slow]\nexec = /bin/sh -c \"trap 'sleep 0.5; exit 0' TERM; touch @DIR@/trapped; while :; do /bin/sleep 0.05; done\"\nstop_timeout = 5s\n",
    );
    let pid = d.wait_up("slow").pid();
    wait_file(&d, "trapped");
    d.signal(libc::SIGINT);
    d.wait_stderr("slow: up -> stopping");
    let got = d.request("start slow");
    assert!(
        d.exited().is_some() || got.first().is_some_and(|l| l.starts_with("in-shutdown")),
        "start during shutdown: {got:?}"
    );
    assert_eq!(d.wait_exit(DEADLINE).code(), Some(0));
    assert!(!alive(pid));
}

/// `restart` and `signal` through the FIFO.
#[test]
fn restart_and_signal_requests() {
    let d = Daemon::start(
        "restart",
        "[web]\nexec = /bin/sh -c \"trap 'echo usr1 >> @DIR@/sig' USR1; echo $$ > @DIR@/web.pid; while :; do /bin/sleep 0.05; done\"\n",
    );
    let pid = d.wait_up("web").pid();
    assert_eq!(
        pid_file(&d, &d.dir.join("web.pid")),
        pid,
        "the trap is set once web.pid is written"
    );
    assert_eq!(d.request("signal web USR1"), ["signalled web"]);
    d.wait_for("the service to get USR1", || {
        (file_lines(&d.dir.join("sig")) == ["usr1"]).then_some(())
    });
    assert_eq!(
        d.svc("web").unwrap().pid(),
        pid,
        "a signal restarted the service"
    );

    let lines = d.request("restart web");
    assert_eq!(
        lines.first().map(String::as_str),
        Some("stopping web"),
        "{lines:?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("up web"),
        "{lines:?}"
    );
    let new = d.wait_up("web").pid();
    assert_ne!(new, pid);
    assert!(!alive(pid));
}

// ---- more restart policy ------------------------------------------------------------

/// `restart = on-failure` restarts only failures, `no` never, `always` also
/// clean exits.
#[test]
fn restart_policies() {
    let d = Daemon::start(
        "policies",
        "[onfail_ok]\nrestart = on-failure\nexec = /bin/sh -c \"echo run >> @DIR@/onfail_ok; exit 0\"\n\
         [onfail_bad]\nrestart = on-failure\nbackoff = 50ms 100ms\nexec = /bin/sh -c \"echo run >> @DIR@/onfail_bad; exit 1\"\n\
         [never]\nrestart = no\nexec = /bin/sh -c \"echo run >> @DIR@/never; exit 1\"\n\
         [always_ok]\nrestart = always\nbackoff = 50ms 100ms\nexec = /bin/sh -c \"echo run >> @DIR@/always_ok; exit 0\"\n",
    );
    let runs = |name: &str| file_lines(&d.dir.join(name)).len();
    d.wait_for("on-failure restarts a failure", || {
        (runs("onfail_bad") >= 3).then_some(())
    });
    d.wait_for("always restarts a clean exit", || {
        (runs("always_ok") >= 3).then_some(())
    });
    let s = d.wait_svc("onfail_ok", "down after exit 0", |s| s.state() == "down");
    assert_eq!((s.last(), runs("onfail_ok")), ("exit:0", 1), "{}", s.line);
    let s = d.wait_svc("never", "down after exit 1", |s| s.state() == "down");
    assert_eq!((s.last(), runs("never")), ("exit:1", 1), "{}", s.line);
}

/// A run that lasted `backoff_reset` resets the delay: a service that
/// fails after 400ms each time is not delayed more and more.
#[test]
fn backoff_resets_after_a_long_run() {
    let d = Daemon::start(
        "backoffreset",
        "[slowfail]\nexec = /bin/sh -c \"date +%s%N >> @DIR@/runs; /bin/sleep 0.4; exit 1\"\n\
         backoff = 200ms 5s\nbackoff_reset = 300ms\n",
    );
    let runs = d.dir.join("runs");
    d.wait_for("5 runs", || (file_lines(&runs).len() >= 5).then_some(()));
    let _ = d.ctl(&["stop", "slowfail"]);
    let times: Vec<u128> = file_lines(&runs)
        .iter()
        .map(|l| l.trim().parse::<u128>().unwrap() / 1_000_000)
        .collect();
    let gaps: Vec<u128> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // Without the reset: 600, 800, 1200, 2000 ms.
    assert!(
        gaps.iter().all(|&g| g < 1100),
        "delays kept growing although every run lasted 400ms > backoff_reset: {gaps:?}"
    );
}

// ---- vigild's own readiness and options ------------------------------------------

/// `-d FD`: one newline once every autostart service is up (here: after a
/// 300ms oneshot it waits for), then the fd is closed (and no service holds it).
#[test]
fn readiness_fd_is_told_once_everything_is_up() {
    let mut fds = [0i32; 2];
    // SAFETY: plain system call filling a two-int array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let (r, w) = (fds[0], fds[1]);
    let opts = Opts {
        dup: vec![(w, 5)],
        args: vec!["-d".into(), "5".into()],
        ..Opts::default()
    };
    let d = Daemon::start_with(
        "readyfd",
        "[app]\nexec = /bin/sleep 1000\nafter = prep\n\
         [prep]\nmode = oneshot\nexec = /bin/sh -c \"/bin/sleep 0.3; touch @DIR@/prepared\"\n",
        opts,
    );
    // SAFETY: closing our copy of the write end; vigild has its own.
    unsafe { libc::close(w) };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        loop {
            // SAFETY: reading into our buffer from our fd.
            let n = unsafe { libc::read(r, buf.as_mut_ptr().cast(), buf.len()) };
            let _ = tx.send((n, buf[..n.max(0) as usize].to_vec(), Instant::now()));
            if n <= 0 {
                break;
            }
        }
        // SAFETY: our fd.
        unsafe { libc::close(r) };
    });
    let (n, data, _) = rx
        .recv_timeout(DEADLINE)
        .unwrap_or_else(|_| d.fail("no readiness newline"));
    assert_eq!((n, data.as_slice()), (1, &b"\n"[..]), "readiness message");
    let app = d.svc("app").unwrap();
    assert_eq!(
        app.state(),
        "up",
        "ready told before every autostart service was up: {}",
        app.line
    );
    assert!(d.dir.join("prepared").exists());
    let (n, _, _) = rx
        .recv_timeout(DEADLINE)
        .unwrap_or_else(|_| d.fail("readiness fd not closed (leaked into a service?)"));
    assert_eq!(n, 0, "more than one newline on the readiness fd");
    assert!(d.svc("app").unwrap().state() == "up");
}

/// `-r` with a relative path must not be silently replaced by the config's
/// run_dir: refuse it (exit 2), or use it.
#[test]
fn relative_run_dir_option_is_not_ignored() {
    let dir = TempDir::new("relrun");
    let cwd = dir.path.clone();
    let opts = Opts {
        run_arg: Some("rel".into()),
        cwd: Some(cwd),
        no_wait: true,
        ..Opts::default()
    };
    let d = Daemon::start_in(
        dir,
        "[vigild]\nrun_dir = @DIR@/cfgrun\n[web]\nexec = /bin/sleep 1000\n",
        opts,
    );
    let outcome = d.wait_for("vigild to exit or to open a control FIFO", || {
        if let Some(st) = d.exited() {
            return Some(format!("exited {st}"));
        }
        if d.dir.join("rel/control").exists() {
            return Some("used rel".into());
        }
        d.dir
            .join("cfgrun/control")
            .exists()
            .then(|| "used cfgrun".to_string())
    });
    match outcome.as_str() {
        "used rel" => {}
        s if s.starts_with("exited") => assert_eq!(d.exited().unwrap().code(), Some(2), "{s}"),
        _ => d.fail(&format!(
            "`-r rel` was ignored: vigild runs on the config's run_dir ({outcome})"
        )),
    }
}

// ---- vigilctl wait edge cases ----------------------------------------------------------

/// `vigilctl wait down web 300ms` must give up after 300ms even while other
/// services keep changing state (each change is a monitor line).
#[test]
fn vigilctl_wait_timeout_holds_while_other_services_change() {
    let d = Daemon::start(
        "waitbusy",
        "[web]\nexec = /bin/sleep 1000\n[flap]\nexec = /bin/sh -c \"exit 1\"\nbackoff = 50ms 100ms\n",
    );
    d.wait_up("web");
    d.wait_svc("flap", "flapping", |s| s.restarts() >= 2);
    let mut cmd = Command::new(d.vigilctl_path());
    cmd.arg("-r")
        .arg(&d.run)
        .args(["wait", "down", "web", "300ms"]);
    let t0 = Instant::now();
    let out = run_limited_for(cmd, Duration::from_secs(4));
    let took = t0.elapsed();
    let out = out.unwrap_or_else(|| {
        panic!("`vigilctl wait down web 300ms` still waiting after {took:?} (killed)")
    });
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    assert!(
        took < Duration::from_secs(3),
        "timeout of 300ms took {took:?}"
    );
    // A timeout says so (part 7's trial: it exited 4 without a word).
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("web: not down after the timeout"),
        "{}",
        show(&out)
    );
}

/// `vigilctl wait up NOSUCH` fails (exit 4, "not known") instead of waiting
/// forever for a service that does not exist.
#[test]
fn vigilctl_wait_for_an_unknown_service_fails() {
    let d = Daemon::start("waitunknown", "[web]\nexec = /bin/sleep 1000\n");
    d.wait_up("web");
    let mut cmd = Command::new(d.vigilctl_path());
    cmd.arg("-r").arg(&d.run).args(["wait", "up", "nosuch"]);
    let out = run_limited_for(cmd, Duration::from_secs(4)).unwrap_or_else(|| {
        panic!("`vigilctl wait up nosuch` (no timeout) still waiting after 4s (killed)")
    });
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not known"),
        "{}",
        show(&out)
    );
}

/// A run directory whose path is too long for a control line naming a
/// reply FIFO in it (400 bytes) is refused by vigild (exit 1) and said by
/// vigilctl (exit 2) (part 7's trial: vigild took one of 516 bytes, which
/// vigilctl could not reach, with exit 2 and no word).
#[test]
fn vigilctl_says_when_the_run_directory_is_too_long() {
    let dir = TempDir::new("ctllong");
    let long = format!("/tmp/{}", "x".repeat(520));
    let conf = dir.join("c.conf");
    fs::write(&conf, "[web]\nexec = /bin/sleep 1000\n").unwrap();
    let out = vigild_once(&["-f", "-c", conf.to_str().unwrap(), "-r", &long]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("longer than 400 bytes"),
        "{}",
        show(&out)
    );
    for verb in [&["status"][..], &["restart", "web"]] {
        let mut cmd = Command::new(vigilctl_in(&dir));
        cmd.arg("-r").arg(&long).args(verb);
        let out = run_limited(cmd);
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("the run directory's path is too long"),
            "{}",
            show(&out)
        );
    }
}

// ---- SIGQUIT -----------------------------------------------------------------------------

/// SIGQUIT is the fast shutdown (vigild(8) SIGNALS): TERM to all, KILL after 1s, exit
/// 0, without waiting for a long stop_timeout.
#[test]
fn sigquit_is_a_fast_shutdown() {
    let d = Daemon::start(
        "sigquit",
        "[stubborn]\nexec = /bin/sh -c \"trap '' TERM; touch @DIR@/trapped; while :; do /bin/sleep 0.05; done\"\nstop_timeout = 8s\n",
    );
    let pid = d.wait_up("stubborn").pid();
    wait_file(&d, "trapped");
    let t0 = Instant::now();
    d.signal(libc::SIGQUIT);
    let st = poll_until(Duration::from_secs(4), || d.exited());
    let took = t0.elapsed();
    let st = st.unwrap_or_else(|| {
        d.fail(&format!(
            "still running {took:?} after SIGQUIT (KILL should follow after 1s)"
        ))
    });
    assert_eq!(st.code(), Some(0));
    assert!(!alive(pid));
}

// ---- more of what services get ---------------------------------------------------------

/// Global `prefix` is prepended to exec; a service's own `prefix` wins.
/// `nofile` sets RLIMIT_NOFILE.
#[test]
fn prefix_and_nofile() {
    let d = Daemon::start(
        "prefix",
        "[vigild]\nprefix = /usr/bin/env PFX=global\n\
         [a]\nmode = oneshot\nexec = /bin/sh -c \"echo $PFX > @DIR@/a; ulimit -n >> @DIR@/a\"\nnofile = 123\n\
         [b]\nmode = oneshot\nprefix = /usr/bin/env PFX=own\nexec = /bin/sh -c \"echo $PFX > @DIR@/b\"\n",
    );
    d.wait_svc("a", "done", |s| s.state() == "up");
    d.wait_svc("b", "done", |s| s.state() == "up");
    assert_eq!(file_lines(&d.dir.join("a")), ["global", "123"]);
    assert_eq!(file_lines(&d.dir.join("b")), ["own"]);
}

/// `log = null` sends the service's stdout and stderr to /dev/null;
/// `log = inherit` (the default) gives it vigild's.
#[test]
fn log_null_and_inherit() {
    let d = Daemon::start(
        "lognull",
        "[quiet]\nexec = /bin/sleep 1000\nlog = null\n[loud]\nexec = /bin/sleep 1000\n",
    );
    let quiet = d.wait_up("quiet").pid();
    let loud = d.wait_up("loud").pid();
    let target = |pid: i32, fd: i32| fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap();
    assert_eq!(target(quiet, 1).to_str(), Some("/dev/null"));
    assert_eq!(target(quiet, 2).to_str(), Some("/dev/null"));
    assert_eq!(
        target(loud, 2),
        target(d.pid(), 2),
        "log = inherit: stderr is not vigild's"
    );
    assert_eq!(
        target(loud, 1),
        target(d.pid(), 1),
        "log = inherit: stdout is not vigild's"
    );
}

// ---- the run directory ----------------------------------------------------------------------

fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    fs::symlink_metadata(path).unwrap().mode()
}

/// An existing run directory keeps its mode (0755 here); the control FIFO
/// is a FIFO of mode 0600, the status file is there.
#[test]
fn run_dir_and_fifo_modes() {
    let dir = TempDir::new("modes");
    fs::create_dir(dir.join("run")).unwrap();
    fs::set_permissions(dir.join("run"), fs::Permissions::from_mode(0o755)).unwrap();
    let d = Daemon::start_in(dir, "[web]\nexec = /bin/sleep 1000\n", Opts::default());
    d.wait_up("web");
    assert_eq!(mode_of(&d.run) & 0o7777, 0o755, "run dir mode changed");
    let control = mode_of(&d.run.join("control"));
    assert_eq!(
        control & libc::S_IFMT,
        libc::S_IFIFO,
        "control is not a FIFO"
    );
    assert_eq!(control & 0o7777, 0o600, "control FIFO mode");
}

/// The run directory is never chmod-ed: one that others may write to (a
/// /tmp of mode 1777, a 0775 directory) is refused with `run directory
/// DIR: ...` and exit 1, its mode as it was (part 7's trial: `-r /tmp`
/// turned /tmp into 0700). A missing one is made 0700.
#[test]
fn run_dir_writable_by_others_is_refused_not_chmodded() {
    let dir = TempDir::new("runmode");
    let conf = dir.join("c.conf");
    fs::write(&conf, fill(ONE_ONESHOT, &dir)).unwrap();
    for mode in [0o1777, 0o775, 0o757] {
        let run = dir.join(&format!("run{mode:o}"));
        fs::create_dir(&run).unwrap();
        fs::set_permissions(&run, fs::Permissions::from_mode(mode)).unwrap();
        let out = vigild_once(&[
            "-f",
            "-c",
            conf.to_str().unwrap(),
            "-r",
            run.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1), "mode {mode:o}: {}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("run directory {}: ", run.display())),
            "{}",
            show(&out)
        );
        assert_eq!(
            mode_of(&run) & 0o7777,
            mode,
            "the run directory was chmod-ed"
        );
        assert_eq!(
            fs::read_dir(&run).unwrap().count(),
            0,
            "vigild wrote into it"
        );
    }
    let fresh = dir.join("fresh");
    let d = Daemon::start_with(
        "runmode-fresh",
        "[web]\nexec = /bin/sleep 1000\n",
        Opts {
            run_arg: Some(fresh.to_str().unwrap().to_string()),
            ..Opts::default()
        },
    );
    d.wait_up("web");
    assert_eq!(
        mode_of(&fresh) & 0o7777,
        0o700,
        "a new run directory is private"
    );
}

/// A run directory that is a symlink is refused, also when named with a
/// `/` at its end (part 7's trial: `-r LINK/` made open(2) follow it).
#[test]
fn a_symlinked_run_directory_is_refused_with_a_slash_too() {
    let dir = TempDir::new("runlink");
    let conf = dir.join("c.conf");
    fs::write(&conf, fill(ONE_ONESHOT, &dir)).unwrap();
    let real = dir.join("real");
    fs::create_dir(&real).unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&real, dir.join("link")).unwrap();
    for arg in ["link", "link/", "link//"] {
        let out = vigild_once(&["-f", "-c", conf.to_str().unwrap(), "-r", &dir.s(arg)]);
        assert_eq!(out.status.code(), Some(1), "{arg}: {}", show(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("symlink"),
            "{arg}: {}",
            show(&out)
        );
        assert_eq!(fs::read_dir(&real).unwrap().count(), 0, "{arg}: used");
    }
}

/// After a vigild was killed (SIGKILL: no clean-up), a new one starts on
/// the same run directory: the stale FIFO has no reader, so it is reused.
#[test]
fn new_vigild_reuses_a_dead_ones_run_dir() {
    let d1 = Daemon::start("stale", "[web]\nexec = /bin/sleep 1000\n");
    let old = d1.wait_up("web").pid();
    d1.signal(SIGKILL);
    d1.wait_exit(DEADLINE);
    kill(-old, SIGKILL); // the orphaned service of the killed vigild
    let opts = Opts {
        run_arg: Some(d1.run.to_str().unwrap().to_string()),
        ..Opts::default()
    };
    let d2 = Daemon::start_with("stale2", "[web]\nexec = /bin/sleep 1000\n", opts);
    let new = d2.wait_svc("web", "up under the new vigild", |s| {
        s.state() == "up" && s.pid() > 0 && s.pid() != old
    });
    assert!(alive(new.pid()));
    assert_eq!(d2.request("start web"), ["started-already web"]);
}

/// A request's answer goes out only once the status file shows it: a script
/// may read the status as soon as `vigilctl` returns. Each request resolves
/// 50 ms after it is made, while the reader blocks on its reply FIFO, so it
/// reads the status the moment the answer arrives.
#[test]
fn status_file_is_current_when_a_request_is_answered() {
    let d = Daemon::start(
        "answered",
        "[web]\nexec = /bin/sh -c \"trap 'sleep 0.05; exit 0' TERM; sleep 1000 & wait\"\n\
         [job]\nexec = /bin/sleep 0.05\nmode = oneshot\nautostart = no\n",
    );
    d.wait_up("web");
    let request = |line: &str, first: &str| {
        let mut reply = d.ask(line);
        assert_eq!(reply.line(DEADLINE).as_deref(), Some(first));
        reply.blocking().until_closed(DEADLINE)
    };
    for round in 0..5 {
        assert_eq!(request("stop web", "stopping web"), ["stopped web"]);
        let s = d.svc("web").unwrap();
        assert_eq!(s.state(), "down", "round {round}: {}", s.line);
        assert_eq!(request("start web", "starting web"), ["up web"]);
        assert_eq!(request("restart job", "starting job"), ["up job"]);
        let s = d.svc("job").unwrap();
        assert_eq!(
            (s.state(), s.last()),
            ("up", "exit:0"),
            "round {round}: {}",
            s.line
        );
    }
}

/// A line acts only when its newline arrives: `signal a 4` and `0\n` in a
/// second write is signal 40, not SIGILL (part 7's trial).
#[test]
fn a_control_line_acts_only_when_its_newline_arrives() {
    let d = Daemon::start("partial", "[a]\nexec = /bin/sleep 1000\nrestart = no\n");
    let a = d.wait_up("a").pid();
    d.send_raw(b"signal a 4");
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(a), "a partial line was acted on");
    d.send_raw(b"0\n");
    let gone = d.wait_svc("a", "down", |s| s.state() == "down");
    assert_eq!(gone.last(), "signal:40", "{}", gone.line);
}

/// A write without a newline, however long, is dropped after a second
/// with one warning; the next writer's line is then read whole (part 7:
/// a 1 MiB write without a newline swallowed the next command).
#[test]
fn an_endless_control_line_does_not_swallow_the_next_one() {
    let d = Daemon::start("endless", "[a]\nexec = /bin/sleep 1000\n");
    d.wait_up("a");
    let path = d.run.join("control");
    // 1 MiB does not fit the FIFO: a writer thread keeps writing until
    // vigild has read it all.
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut f = fs::OpenOptions::new().write(true).open(path).unwrap();
        f.write_all(&vec![b'z'; 1 << 20]).unwrap();
    });
    writer.join().unwrap();
    d.wait_stderr("without its newline for 1s was dropped");
    assert_eq!(d.request("stop a"), ["stopping a", "stopped a"]);
}

/// A writer that never stops cannot starve the loop: while `signal b CONT`
/// lines pour in without pause, a crashing service keeps being restarted
/// and SIGTERM ends vigild promptly (part 7's trial: 8 s of `yes 'signal
/// b CONT' > control` delayed SIGTERM by 1.9 s and restarted nothing).
#[test]
fn a_control_flood_does_not_starve_the_loop() {
    let d = Daemon::start(
        "flood",
        "[b]\nexec = /bin/sleep 1000\n\
         [crash]\nexec = /bin/sh -c \"echo x >> @DIR@/runs; exit 1\"\nbackoff = 100ms 100ms\n",
    );
    d.wait_up("b");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let path = d.run.join("control");
    let flag = stop.clone();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut f = fs::OpenOptions::new().write(true).open(path).unwrap();
        let block = "signal b CONT\n".repeat(4096);
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            if f.write_all(block.as_bytes()).is_err() {
                break;
            }
        }
    });
    let runs = || fs::read_to_string(d.dir.join("runs")).map_or(0, |t| t.lines().count());
    std::thread::sleep(Duration::from_millis(500));
    let before = runs();
    std::thread::sleep(Duration::from_secs(2));
    let during = runs() - before;
    // 100 ms apart (plus a fork and exec each): near 20 in 2 s.
    assert!(during >= 10, "{during} restarts in 2 s of a control flood");
    let t0 = Instant::now();
    d.signal(libc::SIGTERM);
    d.wait_exit(DEADLINE);
    let took = t0.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert!(
        took < Duration::from_secs(2),
        "SIGTERM took {took:?} under the flood"
    );
}

/// An environment that does not fit a service's table (VIGILD_ENV_MAX) is
/// refused by `vigild -t`, naming the service's line, instead of leaving
/// entries out at spawn (part 7's trial: PATH was silently dropped).
#[test]
fn an_environment_that_does_not_fit_is_refused() {
    let dir = TempDir::new("envfull");
    let conf = dir.join("c.conf");
    fs::write(&conf, "[a]\nexec = /bin/true\nenv = A=1\n").unwrap();
    let mut cmd = Command::new(vigild_bin());
    cmd.args(["-t", "-c", conf.to_str().unwrap()]);
    for i in 0..vigild_engine::limits::ENV_MAX {
        cmd.env(format!("FILLER_{i}"), "x");
    }
    let out = run_limited(cmd);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let want = format!("{}:1: env:", conf.display());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&want),
        "{}",
        show(&out)
    );
}

// ---- what vigild says -------------------------------------------------------

/// `-h` and `-V` answer on stdout and exit 0, once; a usage error goes to
/// stderr with exit 2. The same for vigil-log.
#[test]
fn help_and_version_on_stdout() {
    let version = env!("CARGO_PKG_VERSION");
    for (args, name) in [(&[][..], "vigild"), (&["log"][..], "vigil-log")] {
        for flag in ["-h", "--help"] {
            let out = vigild_once(&[args, &[flag]].concat());
            let text = stdout(&out);
            assert_eq!(out.status.code(), Some(0), "{}", show(&out));
            assert!(out.stderr.is_empty(), "{}", show(&out));
            assert_eq!(text.matches("usage:").count(), 1, "{text}");
            for option in ["-h, -V", "-t"] {
                assert!(
                    text.contains(&format!("  {option}")),
                    "{option} not explained: {text}"
                );
            }
        }
        for flag in ["-V", "--version"] {
            let out = vigild_once(&[args, &[flag]].concat());
            assert_eq!(out.status.code(), Some(0), "{}", show(&out));
            assert_eq!(stdout(&out), format!("{name} {version}\n"));
        }
        let out = vigild_once(&[args, &["-x"]].concat());
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        assert!(
            out.stdout.is_empty() && !out.stderr.is_empty(),
            "{}",
            show(&out)
        );
    }
    // The option that was not understood is named, by both.
    for args in [&["-x"][..], &["log", "-x", "/tmp/vigild-test-not-made"]] {
        let out = vigild_once(args);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("unknown option: -x"),
            "{}",
            show(&out)
        );
    }
    let help = stdout(&vigild_once(&["-h"]));
    for tool in ["vigild ctl", "vigild log", "vigild import"] {
        assert!(help.contains(tool), "{tool} not mentioned: {help}");
    }
    for option in [
        "-c FILE", "-f", "-q", "-r DIR", "-d FD", "-l FILE", "-T TIME", "-- CMD",
    ] {
        assert!(
            help.contains(&format!("  {option}")),
            "{option} not explained: {help}"
        );
    }
}

/// What `-t` says: what it checked, errors in line order whatever pass
/// found them, users and groups by name, a cycle with its path, programs
/// that are not there as warnings.
#[test]
fn check_mode_messages() {
    let dir = TempDir::new("checkmsg");
    let good = dir.join("good.conf");
    fs::write(&good, "[a]\nexec = /bin/true\n").unwrap();
    let out = vigild_once(&["-t", "-c", good.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err, format!("vigild: {}: ok, 1 service\n", good.display()));

    let missing = dir.join("missing.conf");
    fs::write(
        &missing,
        fill("[a]\nexec = /nonexistent/prog\n[b]\nexec = no-such-program-here\n[c]\nexec = @DIR@/plain\n[d]\nexec = @DIR@\n", &dir),
    )
    .unwrap();
    fs::write(dir.join("plain"), "").unwrap();
    let p = missing.to_str().unwrap();
    let out = vigild_once(&["-t", "-c", p]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    for want in [
        format!("vigild: {p}:2: warning: /nonexistent/prog: not found"),
        format!("vigild: {p}:4: warning: no-such-program-here: not found"),
        format!("vigild: {p}:6: warning: {}: not executable", dir.s("plain")),
        // A directory passes access(X_OK); exec refuses it.
        format!(
            "vigild: {p}:8: warning: {}: not executable",
            dir.path.display()
        ),
    ] {
        assert!(err.contains(&want), "no {want:?} in:\n{err}");
    }
    // A relative program is looked for from the service's `dir`, where it
    // starts, not from vigild's working directory.
    let relative = dir.join("relative.conf");
    fs::write(
        &relative,
        fill(
            "[a]\nexec = ./plain-x\ndir = @DIR@\n[b]\nexec = ./plain-x\n",
            &dir,
        ),
    )
    .unwrap();
    fs::write(dir.join("plain-x"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(dir.join("plain-x"), fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(vigild_bin())
        .args(["-t", "-c", relative.to_str().unwrap()])
        .current_dir(&dir.path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let r = relative.display();
    assert_eq!(
        err,
        format!("vigild: {r}:5: warning: ./plain-x: not found\nvigild: {r}: ok, 2 services\n")
    );

    let bad = dir.join("bad.conf");
    fs::write(
        &bad,
        "[a]\nexec = /nonexistent/a\nafter = b\nuser = no-such-user-x\n[b]\nexec = /bin/true\nafter = a\nrestart = sometimes\ngroup = no-such-group-x\n",
    )
    .unwrap();
    let p = bad.to_str().unwrap();
    let out = vigild_once(&["-t", "-c", p]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            // A warning among the errors, in line order.
            format!("vigild: {p}:2: warning: /nonexistent/a: not found"),
            format!("vigild: {p}:3: dependency cycle: a -> b -> a"),
            format!("vigild: {p}:4: unknown user \"no-such-user-x\""),
            format!("vigild: {p}:8: restart: \"sometimes\" is not always, on-failure or no"),
            format!("vigild: {p}:9: unknown group \"no-such-group-x\""),
            format!("vigild: {p}: 4 errors"),
        ],
        "{err}"
    );
}

/// `vigild -- CMD` without a file names no file in what it says.
#[test]
fn container_mode_without_a_file_names_none() {
    assert!(
        !std::path::Path::new("/etc/vigild.conf").exists(),
        "`vigild -- CMD` reads /etc/vigild.conf when it exists: run this where it does not"
    );
    let out = vigild_once(&[
        "-t",
        "-c",
        "/nonexistent/vigild.conf",
        "--",
        "/nonexistent/cmd",
    ]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("/nonexistent/vigild.conf"),
        "a named file is named: {err}"
    );
    let out = vigild_once(&["-t", "--", "/nonexistent/cmd"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        err,
        "vigild: warning: /nonexistent/cmd: not found\nvigild: ok, 1 service\n",
        "{}",
        show(&out)
    );
}

/// `-q`: no transitions, no chatter; errors still.
#[test]
fn quiet_says_only_errors() {
    let d = Daemon::start_with(
        "quiet",
        "[web]\nexec = /bin/sleep 100\n[gone]\nexec = /nonexistent/x\nbackoff = 1s\n",
        Opts {
            args: vec!["-q".into()],
            ..Opts::default()
        },
    );
    d.wait_up("web");
    d.wait_stderr("gone: unable to spawn /nonexistent/x: ENOENT");
    let _ = d.ctl(&["restart", "web"]);
    d.signal(SIGTERM);
    d.wait_exit(DEADLINE);
    let text = d.stderr.text();
    assert!(
        !text.contains("->") && !text.contains("supervising") && !text.contains("stopped"),
        "{text}"
    );
}

/// `stop nosuch` without `reply=` is not silent.
#[test]
fn unknown_service_without_reply_is_logged() {
    let d = Daemon::start("nosuch", "[web]\nexec = /bin/sleep 100\n");
    d.send("stop nosuch");
    d.wait_stderr("control: error: not-known nosuch");
}

/// A start that fails before exec names what failed: a `dir` that is
/// not there is not a missing program (the program exists).
#[test]
fn a_missing_dir_is_named_not_the_program() {
    let d = Daemon::start(
        "missing-dir",
        "[web]\nexec = /bin/sleep 100\ndir = /nonexistent-vigild-dir\nbackoff = 1s\n",
    );
    d.wait_stderr("web: dir /nonexistent-vigild-dir: ENOENT");
    assert!(!d.stderr.text().contains("unable to spawn /bin/sleep"));
}

/// `-l FILE` is for daemon mode; elsewhere it is said to be ignored,
/// not silently dropped.
#[test]
fn log_file_outside_daemon_mode_is_warned_about() {
    let d = Daemon::start_with(
        "l-foreground",
        "[web]\nexec = /bin/sleep 100\n",
        Opts {
            args: vec!["-l".into(), "/tmp/vigild-test-never-written".into()],
            ..Opts::default()
        },
    );
    d.wait_stderr("warning: -l is for daemon mode: ignored");
    assert!(!std::path::Path::new("/tmp/vigild-test-never-written").exists());
}

/// Warnings past the 16 kept are counted, not dropped unsaid.
#[test]
fn warnings_past_the_kept_ones_are_counted() {
    let dir = TempDir::new("manywarn");
    let conf = dir.join("warn.conf");
    let text: String = (0..20)
        .map(|i| format!("[s{i}]\nexec = /nonexistent/p{i}\n"))
        .collect();
    fs::write(&conf, text).unwrap();
    let p = conf.to_str().unwrap();
    let out = vigild_once(&["-t", "-c", p]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.matches("warning: ").count(), 16, "{err}");
    assert!(
        err.contains(&format!("vigild: {p}: 4 more warnings not shown")),
        "{err}"
    );
}

//! Black-box tests of `reexec [PATH]` (vigild(8) UPGRADING): vigild
//! replaces its own image and goes on where it was. Nothing a service, a
//! client or a requester can see may change: the same pids, the same
//! status lines, no connection refused, no line of output lost or doubled,
//! waiting requests and monitors answered by the new image, backoff
//! deadlines kept; and a re-exec that cannot happen changes nothing. The
//! services are the examples (`@NOTIFY@`, `@W@`, `@ACT@` in a config).

#[path = "daemon/harness.rs"]
mod harness;

use harness::*;
use std::collections::{BTreeMap, HashMap};
use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `conf` with the examples' paths in place of `@NOTIFY@` (the sd_notify
/// client), `@W@` (logwriter) and `@ACT@` (a socket-activated service).
fn with_examples(conf: &str) -> String {
    conf.replace("@NOTIFY@", notify_bin().to_str().unwrap())
        .replace("@W@", example_bin("logwriter").to_str().unwrap())
        .replace("@ACT@", example_bin("activated").to_str().unwrap())
}

/// `reexec [PATH]` on the control FIFO: its one answer line.
#[track_caller]
fn reexec(d: &Daemon, path: Option<&Path>) -> String {
    let line = match path {
        Some(path) => format!("reexec {}", path.display()),
        None => "reexec".to_string(),
    };
    let mut reply = d.ask(&line);
    // A vigild that dies on the way must fail the test at once (its
    // reply FIFO may have been closed before anything was read of it).
    let answer = d.wait_for(&format!("the answer to {line}"), || reply.line(TICK));
    let rest = reply.until_closed(DEADLINE);
    if !rest.is_empty() {
        d.fail(&format!(
            "{line}: more than one answer line: {answer:?} {rest:?}"
        ));
    }
    answer
}

/// A `reexec` that must succeed: answered `reexecuted VERSION` by the new
/// image.
#[track_caller]
fn reexec_ok(d: &Daemon, round: usize) {
    let answer = reexec(d, None);
    if answer != format!("reexecuted {}", env!("CARGO_PKG_VERSION")) {
        d.fail(&format!("reexec {round}: answered {answer:?}"));
    }
}

/// The pids whose parent is `pid`.
fn children(pid: i32) -> Vec<i32> {
    let mut pids: Vec<i32> = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    pids.sort();
    pids
}

/// The command line of `pid`, its arguments joined by spaces.
fn cmdline(pid: i32) -> String {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// vigild's children whose command line holds `mark`.
fn children_marked(vigild: i32, mark: &str) -> Vec<i32> {
    children(vigild)
        .into_iter()
        .filter(|&p| cmdline(p).contains(mark))
        .collect()
}

/// The open fds of `pid`: number and what each is.
fn open_fds(pid: i32) -> BTreeMap<i32, String> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let fd = e.file_name().to_str()?.parse().ok()?;
            let what = fs::read_link(e.path()).ok()?;
            Some((fd, what.display().to_string()))
        })
        .collect()
}

/// Connect and read until EOF; `None` if refused or not answered.
fn fetch(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Until `stop`: connections to `port`, one after another, `pause` apart,
/// each expected to be answered `want`; (answered, what went wrong).
fn clients(
    port: u16,
    want: &'static str,
    pause: Duration,
    stop: Arc<AtomicBool>,
) -> JoinHandle<(u32, Vec<String>)> {
    std::thread::spawn(move || {
        let (mut ok, mut bad) = (0, Vec::new());
        let limit = Instant::now() + Duration::from_secs(60);
        while !stop.load(Ordering::Relaxed) && Instant::now() < limit {
            match fetch(port) {
                Some(text) if text == want => ok += 1,
                other => bad.push(format!("{other:?}")),
            }
            std::thread::sleep(pause);
        }
        (ok, bad)
    })
}

/// The sequence number of a logwriter line `PREFIX SEQ[x...]`.
fn seq_of(line: &str, prefix: &str) -> Option<u64> {
    let rest = line.strip_prefix(prefix)?.strip_prefix(' ')?;
    rest.trim_end_matches('x').parse().ok()
}

/// The sequence numbers of `lines` (all of `prefix`), checked to follow
/// one another with no gap and no repetition; (first, last).
#[track_caller]
fn consecutive<'a>(
    what: &str,
    prefix: &str,
    lines: impl IntoIterator<Item = &'a str>,
) -> (u64, u64) {
    let mut range: Option<(u64, u64)> = None;
    for (i, line) in lines.into_iter().enumerate() {
        let seq = seq_of(line, prefix).unwrap_or_else(|| {
            let start: String = line.chars().take(60).collect();
            panic!("{what}: line {i}: not a line of {prefix}: {start:?}...")
        });
        range = match range {
            None => Some((seq, seq)),
            Some((first, last)) if seq == last + 1 => Some((first, seq)),
            Some((_, last)) => panic!(
                "{what}: line {i} is {prefix} {seq} after {prefix} {last} (a gap or a repetition)"
            ),
        };
    }
    range.unwrap_or_else(|| panic!("{what}: no lines"))
}

/// `vigilctl log NAME`: the ring's lines.
#[track_caller]
fn ring(d: &Daemon, name: &str) -> String {
    let out = d.ctl(&["log", name]);
    if !out.status.success() {
        d.fail(&format!("vigilctl log {name}: {}", show(&out)));
    }
    stdout(&out)
}

/// A logwriter's progress file: lines completely written.
fn progress(path: &Path) -> Option<u64> {
    let bytes = fs::read(path).ok()?;
    Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// The lines of a log directory, oldest file first (`@<hex>.s` sort in
/// time order, then `current`), stamps removed.
fn log_dir_lines(dir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().ends_with(".s"))
        .collect();
    files.sort();
    files.push(dir.join("current"));
    files
        .iter()
        .flat_map(|f| {
            let text = fs::read_to_string(f).unwrap_or_default();
            assert!(
                text.is_empty() || text.ends_with('\n'),
                "{} ends inside a line",
                f.display()
            );
            text.lines()
                .map(|l| match l.split_once(' ') {
                    Some((_stamp, text)) => text.to_string(),
                    None => panic!("{}: unstamped line {l:?}", f.display()),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The seconds since the epoch that `sh` wrote with `date +%s.%N`, one
/// per line of `file`.
fn times(file: &Path) -> Vec<f64> {
    fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

/// Everything a re-exec must leave as it is, per service: its status line
/// but for the fields that move on their own, and `since` (`same_since`).
fn kept_fields(s: &Svc) -> Vec<(&'static str, String)> {
    ["state", "pid", "restarts", "last", "ready", "procs"]
        .into_iter()
        .map(|k| (k, s.get(k).to_string()))
        .collect()
}

/// `since` in milliseconds since the epoch.
fn since_ms(s: &Svc) -> i64 {
    let (secs, ms) = s
        .get("since")
        .split_once('.')
        .unwrap_or_else(|| panic!("bad since in {:?}", s.line));
    secs.parse::<i64>().unwrap() * 1000 + ms.parse::<i64>().unwrap()
}

/// `now` and `was` have the same status line but for what moves on its
/// own. `since` may differ by a millisecond: each write of the status file
/// turns the monotonic instant into wall-clock time with the clocks'
/// offset read anew, which a slewed wall clock moves (a reset would move
/// it by far more).
#[track_caller]
fn assert_kept(now: &Svc, was: &Svc, when: &str) {
    assert_eq!(kept_fields(now), kept_fields(was), "{when}: {}", now.line);
    assert!(
        (since_ms(now) - since_ms(was)).abs() <= 1,
        "{when}: since moved: {} (was {})",
        now.line,
        was.line
    );
}

/// Twenty re-execs in a row under load, with a service of every mode and
/// clients connecting all the while: nothing a service, a client, a
/// requester or a monitor sees changes, and vigild keeps no fd per
/// re-exec.
#[test]
fn nothing_is_noticed_across_twenty_reexecs() {
    const REEXECS: usize = 20;
    let (acc_port, act_port) = (free_port(), free_port());
    let dir = TempDir::new("rxall");
    fs::write(dir.join("avail"), "1").unwrap();
    let conf = with_examples(&format!(
        "[db]\nexec = @NOTIFY@ READY=1 -- sleep 1000\nready = notify\n\
         [slow]\nexec = sh -c \"while [ ! -e @DIR@/go ]; do sleep 0.02; done; \
         exec @NOTIFY@ READY=1 -- sleep 1000\"\nready = notify\nautostart = no\n\
         [once]\nmode = oneshot\nexec = /bin/true\n\
         [bad]\nexec = sh -c \"date +%s.%N >> @DIR@/bad.runs; exit 1\"\n\
         backoff = 3s 30s\nautostart = no\n\
         [acc]\nmode = accept\nlisten = tcp:127.0.0.1:{acc_port}\nexec = /bin/echo hi\n\
         [act]\nmode = activate\nlisten = tcp:127.0.0.1:{act_port}\nexec = @ACT@ hello\n\
         [pool]\nmode = pool\nlisten = unix:@DIR@/pool.sock\nprocs_min = 2\nprocs_max = 3\n\
         exec = sh -c \"while :; do @NOTIFY@ X_AVAILABLE=$(cat @DIR@/avail); sleep 0.05; done\" \
         pool-worker\n\
         [fast]\nexec = @W@ write --tag f\nlog = ring:64k\n\
         [paced]\nexec = @W@ write --tag p --pace-us 20000\nlog = ring:64k\n\
         [logged]\nexec = @W@ write --tag l --runs @DIR@/runs --progress @DIR@\n\
         log = -s 1M -n 20 @DIR@/log\n"
    ));
    let d = Daemon::start_in(dir, &conf, Opts::default());
    let vigild = d.pid();
    for name in ["db", "fast", "paced", "logged", "logged/log"] {
        d.wait_up(name);
    }
    d.wait_svc("once", "done", |s| s.last() == "exit:0");
    for name in ["acc", "act"] {
        d.wait_svc(name, "listening", |s| s.state() == "listening");
    }
    d.wait_svc("pool", "two workers reporting", |s| {
        s.get("procs") == "2" && s.get("available") == "2"
    });
    let services = d.status().len();
    let mut monitor = d.ask("monitor");
    let dump = monitor
        .until(DEADLINE, |l| l.starts_with("logged/log: "))
        .unwrap_or_else(|seen| d.fail(&format!("monitor's first lines: {seen:?}")));
    assert_eq!(dump.len(), services, "one line per service: {dump:?}");

    // A start waiting for READY=1 across a re-exec: the new image answers.
    // `slow` sends it once `go` exists, made after the re-exec: after it
    // whatever the load.
    let mut start = d.ask("start slow");
    match start.line(DEADLINE) {
        Some(l) if l == "starting slow" => {}
        other => d.fail(&format!("start slow: {other:?}")),
    }
    reexec_ok(&d, 0);
    fs::write(d.dir.join("go"), "").unwrap();
    let answered = start.until_closed(DEADLINE);
    assert_eq!(answered, ["up slow"], "the rest of the start's answer");
    d.wait_stderr("reexec: resumed, 11 services kept, away ");
    d.wait_stderr("slow: starting -> up");
    let log = d.stderr.text();
    let (resumed, ready) = (
        log.find("reexec: resumed").unwrap(),
        log.find("slow: starting -> up").unwrap(),
    );
    assert!(resumed < ready, "slow got ready before the re-exec:\n{log}");

    // Socket activation and accept before the re-execs (and during them,
    // below): vigild has opened what their starts need.
    assert_eq!(fetch(act_port).as_deref(), Some("hello\n"));
    assert_eq!(fetch(acc_port).as_deref(), Some("hi\n"));
    d.wait_svc("act", "listening again", |s| s.state() == "listening");

    // In backoff: its next start is due 3 s after its first exit.
    d.request("start bad");
    d.wait_svc("bad", "in backoff", |s| s.state() == "backoff");
    let bad_entered = d.svc("bad").unwrap();
    assert_eq!(times(&d.dir.join("bad.runs")).len(), 1);

    // What must not change.
    let before: HashMap<String, Svc> = d
        .status()
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    let workers = children_marked(vigild, "pool-worker");
    assert_eq!(workers.len(), 2, "pool workers: {workers:?}");
    let fds_before = open_fds(vigild);

    let stop = Arc::new(AtomicBool::new(false));
    let acc_clients = clients(acc_port, "hi\n", Duration::ZERO, stop.clone());
    let act_clients = clients(
        act_port,
        "hello\n",
        // Fewer than 20 starts in 2 s, the trigger limit.
        Duration::from_millis(150),
        stop.clone(),
    );
    let began = Instant::now();
    for round in 1..REEXECS {
        reexec_ok(&d, round);
        let text = ring(&d, "fast");
        consecutive(
            &format!("fast's ring after re-exec {round}"),
            "f",
            text.lines(),
        );
        // Spread over the backoff of `bad`, whose deadline falls among
        // them.
        std::thread::sleep(Duration::from_millis(100));
    }
    let reexecs_took = began.elapsed();
    stop.store(true, Ordering::Relaxed);
    for (name, c) in [("acc", acc_clients), ("act", act_clients)] {
        let (ok, failed) = c.join().unwrap();
        assert!(
            failed.is_empty(),
            "{name}: {} connections failed: {:?}",
            failed.len(),
            &failed[..failed.len().min(5)]
        );
        assert!(ok > 5, "{name}: only {ok} connections answered");
    }
    d.wait_stderr_count("reexec: resumed, 11 services kept", REEXECS);

    // The same processes, the same status lines.
    assert_eq!(d.pid(), vigild);
    assert!(alive(vigild));
    for (name, was) in &before {
        if ["act", "bad", "acc"].contains(&name.as_str()) {
            continue;
        }
        assert_kept(&d.svc(name).unwrap(), was, "after the re-execs");
    }
    // acc's counts moved with the clients; the rest stays.
    let acc = d.svc("acc").unwrap();
    assert_eq!(
        (acc.state(), acc.restarts()),
        ("listening", 0),
        "{}",
        acc.line
    );
    assert!(
        (since_ms(&acc) - since_ms(&before["acc"])).abs() <= 1,
        "{}",
        acc.line
    );
    let act = d.svc("act").unwrap();
    assert_eq!(act.restarts(), 0, "{}", act.line);
    assert_eq!(
        children_marked(vigild, "pool-worker"),
        workers,
        "the pool's workers"
    );

    // No fd left behind by a re-exec: vigild holds what it held (the
    // clients' connections and workers gone, and whatever `bad` spawns).
    let fds_after = poll_until(DEADLINE, || {
        let now = open_fds(vigild);
        (now.len() == fds_before.len()).then_some(now)
    });
    if fds_after.is_none() {
        d.fail(&format!(
            "vigild's fds before the re-execs:\n{fds_before:#?}\nafter:\n{:#?}",
            open_fds(vigild)
        ));
    }

    // The backoff deadline was kept: the next start came 3 s after the
    // exit, not 3 s after some re-exec.
    let runs = d.wait_for("bad's second start", || {
        let t = times(&d.dir.join("bad.runs"));
        (t.len() >= 2).then_some(t)
    });
    let gap = runs[1] - runs[0];
    assert!(
        (2.95..3.5).contains(&gap),
        "bad restarted {gap:.3} s after its exit, its backoff is 3 s \
         (the re-execs took {reexecs_took:?}; {})",
        bad_entered.line
    );

    // A ring paced slowly (50 lines a second: 64 KiB last minutes) still
    // holds every line since its start.
    let paced = ring(&d, "paced");
    let (first, last) = consecutive("paced's ring", "p", paced.lines());
    assert_eq!(first, 0, "paced's ring lost its start");
    assert!(last > 60, "paced wrote only {last} lines meanwhile");

    // The monitor opened before the re-execs still tells.
    assert_eq!(
        d.request("restart db").last().map(String::as_str),
        Some("up db")
    );
    if let Err(seen) = monitor.until(DEADLINE, |l| l.starts_with("db: starting -> up")) {
        d.fail(&format!("the monitor did not tell db's restart: {seen:?}"));
    }

    // READY=1 and X_AVAILABLE still arrive: the pool grows when full.
    fs::write(d.dir.join("avail"), "0").unwrap();
    d.wait_svc("pool", "grown to procs_max", |s| s.get("procs") == "3");

    // The log directory: every line its writer wrote, once, in order.
    for name in ["logged", "logged/log"] {
        assert_eq!(
            d.request(&format!("stop {name}")).last().cloned(),
            Some(format!("stopped {name}"))
        );
    }
    let written = progress(&d.dir.join("progress.0")).unwrap();
    let lines = log_dir_lines(&d.dir.join("log"));
    let (_, last) = consecutive("the log directory", "l0", lines.iter().map(String::as_str));
    assert!(
        last + 1 == written || last + 1 == written + 1,
        "the writer wrote {written} lines, the log ends at line {last}"
    );
}

/// A re-exec that cannot happen is answered `reexec-failed REASON`
/// (vigilctl exits 4) and changes nothing; the next one works.
#[test]
fn a_failed_check_or_exec_changes_nothing() {
    let d = Daemon::start(
        "rxfail",
        "[a]\nexec = /bin/sleep 1000\n[b]\nexec = /bin/sleep 1001\n",
    );
    let vigild = d.pid();
    let pids = |d: &Daemon| ["a", "b"].map(|n| d.wait_up(n).pid());
    let before = pids(&d);
    let fds_before = open_fds(vigild);

    let binary = vigild_bin();
    let group_writable = d.dir.join("vigild-group-writable");
    fs::copy(binary, &group_writable).unwrap();
    fs::set_permissions(&group_writable, fs::Permissions::from_mode(0o775)).unwrap();
    let text = d.dir.join("not-a-program");
    fs::write(&text, "this is text, not a program\n").unwrap();
    fs::set_permissions(&text, fs::Permissions::from_mode(0o755)).unwrap();
    let missing = d.dir.join("missing");
    let hang = example_bin("checkhang");

    let cases: [(&Path, &str); 6] = [
        (
            Path::new("/usr/bin/true"),
            "reexec-failed check: no answer (no vigild with reexec, or a script)",
        ),
        (&missing, "reexec-failed open ENOENT"),
        (
            &group_writable,
            "reexec-failed not-trusted (it must be owned by root or vigild's user, and not writable by its group or others)",
        ),
        (&text, "reexec-failed check: exec ENOEXEC"),
        (&d.dir.path, "reexec-failed not-a-file"),
        // A check that closes its stdout and never ends, with a child:
        // both killed at once (vigild waited for it forever once).
        (
            &hang,
            "reexec-failed check: no answer (no vigild with reexec, or a script)",
        ),
    ];
    for (path, want) in cases {
        let out = d.ctl(&["reexec", path.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(4),
            "{}: {}",
            path.display(),
            show(&out)
        );
        assert_eq!(stdout(&out), format!("{want}\n"), "{}", path.display());
        assert_eq!(pids(&d), before, "after {}", path.display());
        assert_eq!(d.pid(), vigild);
        assert!(
            d.exited().is_none(),
            "vigild ended after {}",
            path.display()
        );
    }
    // The check's child was killed with it, not left to vigild.
    let left = poll_until(DEADLINE, || {
        children_marked(vigild, "3600").is_empty().then_some(())
    });
    assert!(left.is_some(), "the check's child outlived it");
    d.wait_stderr_count(": failed: ", cases.len());
    assert_eq!(
        d.stderr
            .vigild_lines()
            .iter()
            .filter(|l| l.starts_with("reexec: /") && l.contains(": failed: "))
            .count(),
        cases.len()
    );
    assert!(
        !d.stderr.text().contains("handing over"),
        "{}",
        d.stderr.text()
    );
    // Nothing the failed attempts opened (hand-off files, pipes to the
    // check) is left open.
    let fds_after = poll_until(DEADLINE, || {
        let now = open_fds(vigild);
        (now.len() == fds_before.len()).then_some(now)
    });
    assert!(
        fds_after.is_some(),
        "before:\n{fds_before:#?}\nafter:\n{:#?}",
        open_fds(vigild)
    );

    let out = d.ctl(&["reexec"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        stdout(&out),
        format!("reexecuted {}\n", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(pids(&d), before);
    assert_eq!(d.pid(), vigild);

    // Without a reply FIFO (`echo reexec > control`): nobody to tell, and
    // the new image goes on (it died on the missing fd once).
    d.send("reexec");
    d.wait_stderr_count("reexec: resumed, ", 2);
    assert_eq!(pids(&d), before);
    assert!(d.exited().is_none(), "{}", d.stderr.text());
    let out = d.ctl(&["reexec"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

/// The pids of `pid` in each PID namespace it is in, outermost first
/// (`NSpid:` of /proc/PID/status).
fn ns_pids(pid: i32) -> Vec<i32> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|ids| ids.split_whitespace().map(|i| i.parse().unwrap()).collect())
        .unwrap_or_default()
}

/// PID 1 of a new PID namespace re-executes itself: it is PID 1 still,
/// with the same services (pids of its namespace), answers vigilctl, and
/// is an init still: TERM reboots the namespace.
#[test]
#[ignore = "needs root (unshare): run by .ci/run"]
fn reexec_in_a_pid_namespace_as_pid_1() {
    let opts = Opts {
        wrapper: ["unshare", "--fork", "--pid", "--mount-proc", "--kill-child"]
            .map(String::from)
            .to_vec(),
        ..Opts::default()
    };
    let d = Daemon::start_with(
        "rxpid1",
        "[a]\nexec = /bin/sleep 1000\n[b]\nexec = /bin/sleep 1001\n\
         [once]\nmode = oneshot\nexec = /bin/true\n",
        opts,
    );
    let vigild = d.vigild_pid();
    assert_eq!(
        ns_pids(vigild).last(),
        Some(&1),
        "not PID 1 of its namespace"
    );
    let a = d.wait_up("a");
    let b = d.wait_up("b");
    d.wait_svc("once", "done", |s| s.last() == "exit:0");
    let before: Vec<Svc> = d.status();

    reexec_ok(&d, 0);
    d.wait_stderr("reexec: resumed, 3 services kept");
    assert_eq!(d.vigild_pid(), vigild);
    assert_eq!(ns_pids(vigild).last(), Some(&1), "no longer PID 1");
    let after = d.status();
    assert_eq!(after.len(), before.len());
    for (was, now) in before.iter().zip(&after) {
        assert_kept(now, was, "after the re-exec");
    }
    assert_eq!(d.svc("a").unwrap().pid(), a.pid());
    assert_eq!(d.svc("b").unwrap().pid(), b.pid());
    let out = d.ctl(&["status", "a"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        stdout(&out).contains(&a.pid().to_string()),
        "{}",
        show(&out)
    );

    // Still the namespace's init: TERM stops every service and reboots,
    // which ends the namespace by SIGHUP.
    assert!(kill(vigild, libc::SIGTERM));
    let status = d.wait_exit(DEADLINE);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGHUP), "{status:?}");
    d.wait_stderr("reboot: stopping every service");
}

/// The previous commit's vigild, built from its sources in `dir`: its
/// binary.
fn build_previous_commit(dir: &TempDir) -> PathBuf {
    let repo = env!("CARGO_MANIFEST_DIR");
    let src = dir.join("src-prev");
    fs::create_dir_all(&src).unwrap();
    let archive = Command::new("sh")
        .arg("-c")
        .arg("git -C \"$1\" archive HEAD~1 | tar -x -C \"$2\"")
        .args(["sh", repo, src.to_str().unwrap()])
        .status()
        .expect("run git archive");
    assert!(archive.success(), "git archive HEAD~1 failed");
    let target = dir.join("target-prev");
    let built = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--bin", "vigild"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&src)
        .status()
        .expect("run cargo build");
    assert!(built.success(), "cargo build of HEAD~1 failed");
    target.join("debug/vigild")
}

/// A vigild of the upgrade test, its services' pids and status lines.
struct Running {
    d: Daemon,
    pids: Vec<i32>,
    status: Vec<Svc>,
}

const UPGRADE_NAMES: [&str; 3] = ["a", "b", "db"];

impl Running {
    fn start(tag: &str, binary: &Path) -> Running {
        let conf = with_examples(
            "[a]\nexec = /bin/sleep 1000\n[b]\nexec = /bin/sleep 1001\n\
             [db]\nexec = @NOTIFY@ READY=1 -- sleep 1002\nready = notify\n\
             [once]\nmode = oneshot\nexec = /bin/true\n",
        );
        let opts = Opts {
            binary: Some(binary.to_path_buf()),
            ..Opts::default()
        };
        let d = Daemon::start_with(tag, &conf, opts);
        let pids = UPGRADE_NAMES.map(|n| d.wait_up(n).pid()).to_vec();
        d.wait_svc("once", "done", |s| s.last() == "exit:0");
        let status = d.status();
        Running { d, pids, status }
    }

    /// The same vigild, services and status lines as at the start, and
    /// it runs `binary`.
    #[track_caller]
    fn unchanged(&self, binary: &Path, after: &str) {
        let d = &self.d;
        if d.exited().is_some() {
            d.fail(&format!("vigild ended after {after}"));
        }
        let pids = UPGRADE_NAMES.map(|n| d.wait_up(n).pid()).to_vec();
        assert_eq!(pids, self.pids, "after {after}");
        let now = d.status();
        assert_eq!(now.len(), self.status.len(), "after {after}");
        for (was, now) in self.status.iter().zip(&now) {
            assert_kept(now, was, after);
        }
        let exe = fs::read_link(format!("/proc/{}/exe", d.pid())).unwrap();
        assert_eq!(exe, binary, "the binary vigild runs after {after}");
    }

    /// `reexec BINARY`: true if it happened (and kept everything), false
    /// if it was refused cleanly (and changed nothing); fails otherwise.
    #[track_caller]
    fn reexec_to(&self, binary: &Path, before: &Path, what: &str) -> bool {
        let answer = reexec(&self.d, Some(binary));
        if answer.starts_with("reexecuted ") {
            self.unchanged(binary, what);
            return true;
        }
        let refused =
            answer.starts_with("reexec-failed check: ") || answer == "error - unknown command";
        if !refused {
            self.d.fail(&format!("{what}: answered {answer:?}"));
        }
        println!("note: {what} refused ({answer:?}): checked that nothing changed");
        self.unchanged(before, &format!("the refused {what}"));
        false
    }
}

/// The previous commit's vigild re-executes into this build and back,
/// each keeping every service. Where the two builds' hand-offs differ (or
/// the previous one has no `reexec`), the refusal must be clean: answered
/// `reexec-failed check: ...` (or `error - unknown command`), nothing
/// changed; the test says which it checked.
#[test]
#[ignore = "builds the previous commit: run by .ci/run"]
fn upgrade_from_the_previous_commit_and_back() {
    let build_dir = TempDir::new("rxprevbuild");
    let previous = build_previous_commit(&build_dir);
    let current = PathBuf::from(env!("CARGO_BIN_EXE_vigild"));

    let old = Running::start("rxprev", &previous);
    let upgraded = old.reexec_to(&current, &previous, "the upgrade to this build");
    // Back to the previous binary: from the upgraded vigild, or else from
    // one of this build.
    let new;
    let from = match upgraded {
        true => &old,
        false => {
            new = Running::start("rxprevback", &current);
            &new
        }
    };
    let downgraded = from.reexec_to(&previous, &current, "the downgrade to the previous commit");
    if downgraded {
        assert_eq!(
            from.d.request("restart a").last().map(String::as_str),
            Some("up a"),
            "the previous build goes on supervising"
        );
    }
    println!("note: upgrade {upgraded}, downgrade {downgraded}");
}

/// PATH through a symlink is refused, whoever owns it (one planted in a
/// directory another user may write would have vigild run another program
/// as root); the file's own path works, and nothing changes.
#[test]
#[ignore = "needs root (a symlink of another user): run by .ci/run"]
fn no_symlink_leads_to_the_binary() {
    let d = Daemon::start("rxlink", "[a]\nexec = /bin/sleep 1000\n");
    let a = d.wait_up("a").pid();
    let own = d.dir.join("own-link");
    std::os::unix::fs::symlink(vigild_bin(), &own).unwrap();
    let planted = d.dir.join("planted-link");
    std::os::unix::fs::symlink(vigild_bin(), &planted).unwrap();
    let nobody = CString::new(planted.to_str().unwrap()).unwrap();
    // SAFETY: lchown of a NUL-terminated path to nobody (65534).
    assert_eq!(unsafe { libc::lchown(nobody.as_ptr(), 65534, 65534) }, 0);
    for link in [&own, &planted] {
        let out = d.ctl(&["reexec", link.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(4), "{}", show(&out));
        assert_eq!(
            stdout(&out),
            "reexec-failed symlink (give the file's own path)\n",
            "{}",
            link.display()
        );
    }
    assert_eq!(d.svc("a").unwrap().pid(), a);
    let out = d.ctl(&["reexec", vigild_bin()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(d.svc("a").unwrap().pid(), a);
}

/// A check that says nothing and never ends is killed at the 5 s limit;
/// `reexec` lines queued behind it are refused at once for the next 5 s
/// instead of holding vigild 5 s each; then a reexec works again.
#[test]
fn a_check_that_never_answers_holds_vigild_once() {
    let opts = Opts {
        env: vec![("CHECKHANG_KEEP_STDERR".into(), "1".into())],
        ..Opts::default()
    };
    let d = Daemon::start_with("rxslow", "[a]\nexec = /bin/sleep 1000\n", opts);
    let a = d.wait_up("a").pid();
    let hang = example_bin("checkhang");
    let mut first = Reply::new(d.dir.join("first"));
    let mut second = Reply::new(d.dir.join("second"));
    let t = std::time::Instant::now();
    d.send_raw(
        format!(
            "reexec {0} reply={1}\nreexec {0} reply={2}\n",
            hang.display(),
            first.path.display(),
            second.path.display()
        )
        .as_bytes(),
    );
    let lines = first.until_closed(Duration::from_secs(20));
    assert_eq!(
        lines,
        ["reexec-failed check ETIMEDOUT"],
        "{}",
        d.stderr.text()
    );
    let lines = second.until_closed(Duration::from_secs(20));
    assert_eq!(
        lines,
        ["reexec-failed check-timed-out (a check just did: retry in 5 s)"]
    );
    let took = t.elapsed();
    assert!(took < Duration::from_secs(9), "the two took {took:?}");
    assert_eq!(d.svc("a").unwrap().pid(), a);
    std::thread::sleep(Duration::from_secs(5));
    let out = d.ctl(&["reexec"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

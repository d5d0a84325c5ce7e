//! Black-box tests of `ready` (vigild.conf(5)): sd_notify sockets, s6-style
//! readiness pipes and `start_timeout`, with the real binary. The notify
//! client is `examples/notify.rs` (`@NOTIFY@` in a config).

#[path = "daemon/harness.rs"]
mod harness;

use harness::*;
use std::fs;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

/// Start vigild on `conf` with `@NOTIFY@` standing for the notify client.
fn start(tag: &str, conf: &str) -> Daemon {
    let conf = conf.replace("@NOTIFY@", notify_bin().to_str().unwrap());
    Daemon::start(tag, &conf)
}

/// `vigilctl start other` (then `stop`) answers within 2 s, five times.
fn answers_quickly_under_a_flood(d: &Daemon) {
    for _ in 0..5 {
        let asked = Instant::now();
        let out = d.ctl(&["start", "other"]);
        assert!(out.status.success(), "{out:?}");
        let took = asked.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "start took {took:?} under the flood"
        );
        assert!(d.ctl(&["stop", "other"]).status.success());
    }
}

/// The notify socket of the process `pid` (its NOTIFY_SOCKET, an abstract
/// name: `@RUN_DIR/notify/NAME.NONCE`).
fn notify_socket(pid: i32) -> std::os::unix::net::SocketAddr {
    use std::os::linux::net::SocketAddrExt;
    let env = fs::read(format!("/proc/{pid}/environ")).unwrap();
    let value = env
        .split(|&b| b == 0)
        .find_map(|e| e.strip_prefix(b"NOTIFY_SOCKET="))
        .unwrap_or_else(|| panic!("no NOTIFY_SOCKET in the environment of {pid}"));
    let name = value.strip_prefix(b"@").expect("an abstract name");
    std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap()
}

fn fd_count(pid: i32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

/// READY=1 as the very first thing the service's own process does, ten
/// starts in a row: every one is seen (none waits for `start_timeout`).
#[test]
fn ready_sent_first_thing_is_never_lost() {
    let d = start(
        "rdyfirst",
        "[db]\nexec = @NOTIFY@ READY=1 -- sleep 30\nready = notify\nstart_timeout = 20s\n",
    );
    for round in 0..10 {
        let up = d.wait_up("db");
        assert_eq!(up.get("ready"), "yes");
        assert_eq!(up.restarts(), 0, "round {round}: {}", up.line);
        let out = d.ctl(&["restart", "db"]);
        assert!(out.status.success(), "round {round}: {out:?}");
        let out = d.ctl(&["wait", "up", "db", "5"]);
        assert!(out.status.success(), "round {round}: READY=1 lost: {out:?}");
    }
}

/// A long run directory and a long service name do not fit a socket's
/// name (107 bytes) as `@RUN_DIR/notify/NAME.NONCE`: digests of both stand
/// in, and the service gets ready as any other (part 7's trial: a run
/// directory of 90 bytes failed every start with ENAMETOOLONG).
#[test]
fn a_long_run_directory_still_gets_notify_sockets() {
    let dir = TempDir::new("rdylong");
    let run = dir.join(&format!("run-{}", "r".repeat(80)));
    let name = "n".repeat(60);
    let conf = format!("[{name}]\nexec = @NOTIFY@ READY=1 -- sleep 30\nready = notify\n")
        .replace("@NOTIFY@", notify_bin().to_str().unwrap());
    let opts = Opts {
        run_arg: Some(run.to_str().unwrap().to_string()),
        ..Opts::default()
    };
    let d = Daemon::start_in(dir, &conf, opts);
    let up = d.wait_up(&name);
    assert_eq!(up.get("ready"), "yes", "{}", up.line);
    use std::os::linux::net::SocketAddrExt;
    let socket = notify_socket(up.pid());
    let path = socket.as_abstract_name().unwrap();
    assert!(
        path.starts_with(b"vigild-"),
        "{:?}",
        String::from_utf8_lossy(path)
    );
}

/// Until READY=1 the service is `starting`: its dependents wait, and
/// `vigilctl start` answers `up` only once it came.
#[test]
fn starting_until_ready_then_dependents_and_start_reply() {
    let d = start(
        "rdywait",
        "[db]\nexec = @NOTIFY@ --delay-ms 600 READY=1 -- sleep 30\nready = notify\n\
         [web]\nexec = sh -c \"date +%s%N > @DIR@/web.started; exec sleep 30\"\nafter = db\n",
    );
    let booted = Instant::now();
    assert_eq!(d.svc("db").unwrap().state(), "starting");
    d.wait_up("web");
    let started_after = booted.elapsed();
    assert!(
        started_after >= Duration::from_millis(500),
        "web started {started_after:?} after boot, before db was ready"
    );
    let out = d.ctl(&["stop", "db"]);
    assert!(out.status.success(), "{out:?}");
    let asked = Instant::now();
    let out = d.ctl(&["start", "db"]);
    let answered = asked.elapsed();
    assert!(out.status.success(), "{out:?}");
    assert!(
        answered >= Duration::from_millis(500),
        "`start` answered after {answered:?}, before READY=1"
    );
    assert_eq!(d.svc("db").unwrap().state(), "up");
}

/// STATUS= shows in the status file; a READY=1 from a process that is not
/// the service (nor its descendant) is ignored; one from a child of the
/// service's process counts (a child that waits for its BARRIER=1 to be
/// lifted, as systemd-notify does: one that exits at once may be gone
/// before vigild can see whose child it was); the socket goes when the
/// service stops.
#[test]
fn status_text_foreign_senders_and_descendants() {
    let d = start(
        "rdywho",
        "[db]\nexec = sh -c \"@NOTIFY@ --barrier 'STATUS=warming up'; while [ ! -e @DIR@/go ]; do sleep 0.02; done; \
         @NOTIFY@ --barrier READY=1 'STATUS=serving all'; exec sleep 30\"\nready = notify\n",
    );
    let starting = d.wait_svc("db", "status text", |s| s.get("status") == "\"warming up\"");
    assert_eq!(starting.state(), "starting");
    let socket = notify_socket(starting.pid());
    let stranger = UnixDatagram::unbound().unwrap();
    stranger.send_to_addr(b"READY=1", &socket).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        d.svc("db").unwrap().state(),
        "starting",
        "a stranger's READY=1 counted"
    );
    fs::write(d.dir.join("go"), "").unwrap();
    // Two datagrams: READY=1, then the new status text.
    let up = d.wait_svc("db", "new status", |s| s.get("status") == "\"serving all\"");
    assert_eq!(up.state(), "up");
    assert!(stranger.send_to_addr(b"X=1", &socket).is_ok());
    let out = d.ctl(&["stop", "db"]);
    assert!(out.status.success(), "{out:?}");
    d.wait_for("the socket to go", || {
        stranger
            .send_to_addr(b"X=1", &socket)
            .is_err()
            .then_some(())
    });
    let down = d.svc("db").unwrap();
    assert!(!down.line.contains("status="), "{}", down.line);
}

/// Descriptors sent along (systemd-notify's BARRIER=1) are closed at once,
/// and a flood of datagrams does not keep vigild from answering.
#[test]
fn passed_fds_are_closed_and_a_flood_does_not_starve_the_loop() {
    let d = start(
        "rdyflood",
        "[db]\nexec = @NOTIFY@ --with-fd --repeat 300 BARRIER=1 READY=1 -- sleep 30\nready = notify\n\
         [flood]\nexec = sh -c \"while :; do @NOTIFY@ --repeat 2000 STATUS=flooding X_FLOOD=1; done\"\nready = notify\n\
         [other]\nexec = sleep 30\nautostart = no\n",
    );
    d.wait_up("db");
    d.wait_svc("flood", "its status text", |s| {
        s.get("status") == "\"flooding\""
    });
    let fds = fd_count(d.pid());
    assert!(fds < 40, "vigild holds {fds} fds: passed ones were kept");
    answers_quickly_under_a_flood(&d);
    assert!(fd_count(d.pid()) < 40);
}

/// ready = fd:N: the write end of a pipe as fd N; the first newline means up.
#[test]
fn fd_readiness_s6_style() {
    let d = start(
        "rdyfd",
        "[db]\nexec = sh -c \"ls /proc/self/fd > @DIR@/fds; sleep 0.4; echo >&5; exec sleep 30\"\nready = fd:5\n",
    );
    assert_eq!(d.svc("db").unwrap().state(), "starting");
    let t = Instant::now();
    d.wait_up("db");
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "up before the newline"
    );
    let fds = fs::read_to_string(d.dir.join("fds")).unwrap();
    let fds: Vec<&str> = fds.lines().collect();
    assert!(fds.contains(&"5"), "fd 5 is missing: {fds:?}");
}

/// `ready = fd:1` (s6's `notification-fd 1`, what `s6-ipcserver -1`
/// writes to): stdout is the readiness pipe, not the log; stderr still
/// goes to the log; the first newline means up.
#[test]
fn fd_1_readiness_is_stdout() {
    let d = start(
        "rdyfd1",
        "[db]\nexec = sh -c \"sleep 0.4; echo to the log >&2; echo; exec sleep 30\"\nready = fd:1\nlog = ring:4k\n",
    );
    let t = Instant::now();
    let up = d.wait_up("db");
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "up before the newline"
    );
    let stdout = fs::read_link(format!("/proc/{}/fd/1", up.pid())).unwrap();
    let stderr = fs::read_link(format!("/proc/{}/fd/2", up.pid())).unwrap();
    assert_ne!(stdout, stderr, "stdout is the readiness pipe, not the log");
    let log = d.ctl(&["log", "db"]);
    assert_eq!(stdout_text(&log), "to the log\n", "{}", show(&log));
}

fn stdout_text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A service that never says it is ready is stopped at `start_timeout`,
/// counted as a failure and backed off; exit 0 before ready is a failure.
#[test]
fn start_timeout_and_exit_before_ready() {
    let d = start(
        "rdytimeout",
        "[mute]\nexec = sleep 30\nready = notify\nstart_timeout = 400ms\nbackoff = 5s 5s\n\
         [quitter]\nexec = true\nready = fd:3\nrestart = on-failure\nbackoff = 5s 5s\n",
    );
    let mute = d.wait_svc("mute", "backoff", |s| s.state() == "backoff");
    assert_eq!(mute.reason(), "start-timeout", "{}", mute.line);
    let quitter = d.wait_svc("quitter", "backoff", |s| s.state() == "backoff");
    assert_eq!(quitter.last(), "exit:0", "{}", quitter.line);
    d.wait_stderr("mute: starting -> stopping (start-timeout)");
}

/// STOPPING=1: `stopping` (no signal sent) until it exits; then the restart
/// policy brings it back.
#[test]
fn stopping_notice_then_restart_by_policy() {
    let d = start(
        "rdystop",
        "[db]\nexec = @NOTIFY@ READY=1 -- sh -c \"sleep 0.3; @NOTIFY@ STOPPING=1; sleep 0.5; exit 0\"\n\
         ready = notify\nbackoff = 100ms 100ms\n",
    );
    d.wait_svc("db", "stopping", |s| s.state() == "stopping");
    d.wait_stderr("db: up -> stopping");
    d.wait_stderr_count("db: starting -> up", 2);
}

/// `-d FD` is told only once a notify service is really ready.
#[test]
fn readiness_fd_of_vigild_waits_for_ready() {
    let (read, write) = std::io::pipe().unwrap();
    let write_fd = std::os::fd::AsRawFd::as_raw_fd(&write);
    let conf = "[db]\nexec = @NOTIFY@ --delay-ms 500 READY=1 -- sleep 30\nready = notify\n"
        .replace("@NOTIFY@", notify_bin().to_str().unwrap());
    let t = Instant::now();
    let d = Daemon::start_with(
        "rdydash",
        &conf,
        Opts {
            dup: vec![(write_fd, 9)],
            args: vec!["-d".into(), "9".into()],
            ..Opts::default()
        },
    );
    drop(write);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(read), &mut line).unwrap();
    assert_eq!(line, "\n");
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "told before READY=1"
    );
    assert_eq!(d.svc("db").unwrap().state(), "up");
}

/// A daemon started as root that drops its privileges itself (`setpriv`,
/// as postgres, redis or `chpst -u` do) still reaches its notify socket,
/// and its READY=1 counts (part 7's trial: the socket was a file in the
/// private run directory, the daemon got EACCES and stayed `starting`
/// until its start timeout).
#[test]
#[ignore = "needs root: run by .ci/run"]
fn a_daemon_that_drops_privileges_itself_can_notify() {
    let dir = TempDir::new("rdysetpriv");
    let bin = dir.join("notify");
    fs::copy(notify_bin(), &bin).unwrap();
    let open = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    fs::set_permissions(&dir.path, open).unwrap();
    let conf = format!(
        "[db]\nexec = setpriv --reuid=nobody --regid=nogroup --clear-groups {} READY=1 -- sleep 30\n\
         ready = notify\nstart_timeout = 20s\n",
        bin.display()
    );
    let d = Daemon::start_in(dir, &conf, Opts::default());
    let t = Instant::now();
    let up = d.wait_up("db");
    assert!(t.elapsed() < Duration::from_secs(5), "{}", up.line);
    let (nobody, _) = passwd_entry("nobody").unwrap();
    assert_eq!(uids(up.pid())[0], nobody, "it did drop its privileges");
}

/// A service that runs as another user reaches its socket too: an
/// abstract name (with a random end), and READY=1 works.
#[test]
#[ignore = "needs root: run by .ci/run"]
fn service_of_another_user_notifies_through_an_abstract_socket() {
    let dir = TempDir::new("rdyuser");
    // The client must be reachable by nobody: a copy in a 0755 directory.
    let bin = dir.join("notify");
    fs::copy(notify_bin(), &bin).unwrap();
    let open = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    fs::set_permissions(&dir.path, open).unwrap();
    let conf = format!(
        "[db]\nexec = sh -c \"echo $NOTIFY_SOCKET >&2; exec {} READY=1 -- sleep 30\"\n\
         ready = notify\nuser = nobody\n",
        bin.display()
    );
    let d = Daemon::start_in(dir, &conf, Opts::default());
    let up = d.wait_up("db");
    assert_eq!(up.get("ready"), "yes");
    let said = d.wait_for("NOTIFY_SOCKET on stderr", || {
        let text = d.stderr.text();
        text.lines()
            .find(|l| l.starts_with('@'))
            .map(str::to_string)
    });
    // The name ends in 64 random bits, so nobody can take it first.
    let (path, nonce) = said.rsplit_once('.').unwrap();
    assert!(path.ends_with("/run/notify/db"), "{said}");
    assert_eq!(nonce.len(), 16, "{said}");
    assert!(nonce.bytes().all(|b| b.is_ascii_hexdigit()), "{said}");
}

/// A pool with real processes: every worker reports what `@DIR@/avail`
/// says (through a child, which counts as the worker). All full: the pool
/// grows to `procs_max`; all idle: it shrinks back to `procs_min` after
/// `idle_kill`, by SIGINT, without counting a failure. Each worker gets
/// the listening socket as fd 3 with LISTEN_FDS, and NOTIFY_SOCKET.
#[test]
fn pool_grows_to_procs_max_and_shrinks_to_procs_min() {
    let dir = TempDir::new("rdypool");
    fs::write(dir.join("avail"), "0").unwrap();
    let sock = dir.join("pool.sock");
    let conf = format!(
        "[p]\nmode = pool\nlisten = unix:{}\nprocs_min = 2\nprocs_max = 5\nidle_kill = 1s\n\
         exec = sh -c \"echo $LISTEN_FDS $NOTIFY_SOCKET > @DIR@/env.$$; \
         while :; do @NOTIFY@ X_AVAILABLE=$(cat @DIR@/avail); sleep 0.05; done\"\n",
        sock.display()
    )
    .replace("@NOTIFY@", notify_bin().to_str().unwrap());
    let d = Daemon::start_in(dir, &conf, Opts::default());
    let full = d.wait_svc("p", "procs=5", |s| s.get("procs") == "5");
    assert_eq!(full.state(), "up");
    assert_eq!(full.get("available"), "0");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        d.svc("p").unwrap().get("procs"),
        "5",
        "never beyond procs_max"
    );
    let envs: Vec<String> = fs::read_dir(&d.dir.path)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            name.starts_with("env.")
                .then(|| fs::read_to_string(e.path()).unwrap())
        })
        .collect();
    assert_eq!(envs.len(), 5);
    // One socket for the pool, an abstract name in the run directory's.
    let socket = format!("1 @{}/notify/p.", d.run.display());
    for env in &envs {
        assert!(env.starts_with(&socket), "{env}");
        assert_eq!(env, &envs[0]);
    }
    fs::write(d.dir.join("avail"), "1").unwrap();
    let t = Instant::now();
    let shrunk = d.wait_svc("p", "procs=2", |s| s.get("procs") == "2");
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "before idle_kill"
    );
    assert_eq!(shrunk.state(), "up");
    std::thread::sleep(Duration::from_millis(1500));
    let later = d.svc("p").unwrap();
    assert_eq!(later.get("procs"), "2", "{}", later.line);
    assert_eq!(later.get("available"), "2", "{}", later.line);
    assert_eq!(later.reason(), "", "no failure counted: {}", later.line);
}

/// READY=1 and then the exit, both seen in the same loop turn (vigild is
/// stopped meanwhile): the READY=1 still counts, so the run was `up` and
/// its exit 0 is no failure.
#[test]
fn ready_then_exit_in_the_same_turn_is_not_lost() {
    let d = start(
        "rdyquick",
        "[quick]\nexec = sh -c \"sleep 0.5; exec @NOTIFY@ READY=1\"\nready = notify\n\
         restart = on-failure\nbackoff = 5s 5s\n",
    );
    std::thread::sleep(Duration::from_millis(200));
    d.signal(libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(1300));
    d.signal(libc::SIGCONT);
    let down = d.wait_svc("quick", "down", |s| s.state() == "down");
    assert_eq!(down.last(), "exit:0", "{}", down.line);
    d.wait_stderr("quick: starting -> up");
    d.wait_stderr("quick: up -> down");
}

/// A reload that puts new services in front (every id moves) while a
/// notify service is still starting and a pool runs: the READY=1 that comes
/// afterwards still finds its service, the pool still grows, and their
/// socket files go when they stop.
#[test]
fn readiness_and_pools_across_a_reload_that_renumbers_services() {
    let dir = TempDir::new("rdyreload");
    fs::write(dir.join("avail"), "1").unwrap();
    let services = format!(
        "[db]\nexec = sh -c \"while [ ! -e @DIR@/go ]; do sleep 0.02; done; \
         exec @NOTIFY@ READY=1 STATUS=hi -- sleep 30\"\nready = notify\n\
         [p]\nmode = pool\nlisten = unix:{}\nprocs_min = 1\nprocs_max = 3\n\
         exec = sh -c \"while :; do @NOTIFY@ X_AVAILABLE=$(cat @DIR@/avail); sleep 0.05; done\"\n",
        dir.join("p.sock").display()
    )
    .replace("@NOTIFY@", notify_bin().to_str().unwrap());
    let d = Daemon::start_in(dir, &services, Opts::default());
    let db = d.wait_svc("db", "starting", |s| s.state() == "starting");
    d.wait_svc("p", "one worker reporting", |s| s.get("available") == "1");

    d.write_conf(&format!(
        "[a]\nexec = sleep 30\n[b]\nexec = sleep 30\n{services}"
    ));
    let out = d.ctl(&["reload"]);
    assert!(out.status.success(), "{out:?}");
    d.wait_up("a");
    assert_eq!(d.svc("db").unwrap().pid(), db.pid(), "db kept running");

    fs::write(d.dir.join("go"), "").unwrap();
    let up = d.wait_svc("db", "up with its status", |s| s.get("status") == "\"hi\"");
    assert_eq!(up.state(), "up");
    assert_eq!(up.pid(), db.pid());
    fs::write(d.dir.join("avail"), "0").unwrap();
    d.wait_svc("p", "grown to procs_max", |s| s.get("procs") == "3");

    for name in ["db", "p"] {
        let out = d.ctl(&["stop", name]);
        assert!(out.status.success(), "{out:?}");
        let socket = d.run.join("notify").join(name);
        d.wait_for("the socket file to go", || (!socket.exists()).then_some(()));
    }
}

/// Strangers flooding a notify socket (every datagram costs a look into
/// /proc to find out it is not the service's) slow nothing down either.
#[test]
fn a_flood_from_strangers_does_not_starve_the_loop() {
    let d = start(
        "rdystranger",
        "[db]\nexec = sleep 30\nready = notify\nstart_timeout = 0\n\
         [other]\nexec = sleep 30\nautostart = no\n",
    );
    let starting = d.wait_svc("db", "starting", |s| s.state() == "starting");
    let socket = notify_socket(starting.pid());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooders: Vec<_> = (0..2)
        .map(|_| {
            let (socket, stop) = (socket.clone(), stop.clone());
            std::thread::spawn(move || {
                let s = UnixDatagram::unbound().unwrap();
                let mut sent = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if s.send_to_addr(b"READY=1\nSTATUS=spoofed", &socket).is_ok() {
                        sent += 1;
                    }
                }
                sent
            })
        })
        .collect();
    answers_quickly_under_a_flood(&d);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent: u64 = flooders.into_iter().map(|f| f.join().unwrap()).sum();
    assert!(sent > 100, "only {sent} datagrams sent");
    let db = d.svc("db").unwrap();
    assert_eq!(
        db.state(),
        "starting",
        "a stranger made it ready: {}",
        db.line
    );
    assert!(!db.line.contains("spoofed"), "{}", db.line);
}

/// Real workers that exit 0 at once are throttled: a few dozen forks in
/// two seconds, not thousands (part 7's trial: 700 to 1,200 a second).
#[test]
fn a_pool_of_workers_that_exit_at_once_is_throttled() {
    let port = free_port();
    let d = start(
        "rdypoolquit",
        &format!(
            "[p]\nmode = pool\nlisten = tcp:127.0.0.1:{port}\nprocs_min = 2\n\
             exec = /bin/sh -c \"echo x >> @DIR@/runs\"\n"
        ),
    );
    std::thread::sleep(Duration::from_secs(2));
    let runs = fs::read_to_string(d.dir.join("runs")).map_or(0, |t| t.lines().count());
    assert!(runs < 100, "{runs} workers in 2 s");
    d.wait_stderr("p: up -> backoff (trigger-limit)");
}

/// `start` while a service stops by itself (STOPPING=1) is honoured: it
/// starts again once it has exited, whatever its restart policy (part 7's
/// trial: answered `start-failed`).
#[test]
fn start_while_stopping_itself_is_honoured() {
    let d = start(
        "rdystopstart",
        "[db]\nexec = sh -c \"@NOTIFY@ --barrier READY=1; while [ ! -e @DIR@/go ]; do sleep 0.02; done; \
         @NOTIFY@ --barrier STOPPING=1; sleep 0.5\"\nready = notify\nrestart = no\n",
    );
    let first = d.wait_up("db");
    fs::write(d.dir.join("go"), "").unwrap();
    d.wait_svc("db", "stopping by itself", |s| s.state() == "stopping");
    // The next run waits again.
    fs::remove_file(d.dir.join("go")).unwrap();
    let out = d.ctl(&["start", "db"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(stdout_text(&out).contains("up db"), "{}", show(&out));
    let again = d.wait_up("db");
    assert_ne!(again.pid(), first.pid());
}

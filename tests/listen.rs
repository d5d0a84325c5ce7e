//! Black-box tests of the listening sockets (vigild.conf(5) `listen`, socket
//! modes) with the real binary: sockets bound before anything starts, kept
//! across restarts and reloads, moved when their address changes, stale unix
//! sockets replaced, and what activate services receive. Programs from
//! other projects (gunicorn, busybox httpd) are in `system.rs`.

#[path = "daemon/harness.rs"]
mod harness;

use harness::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Connect and read until EOF; None if refused.
fn fetch(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn fetch_unix(path: &Path) -> Option<String> {
    let mut s = UnixStream::connect(path).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Until `stop`: connect again and again; (served, refused or empty).
fn hammer(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(u32, Vec<String>)> {
    std::thread::spawn(move || {
        let (mut ok, mut bad) = (0, Vec::new());
        let limit = Instant::now() + Duration::from_secs(30);
        while !stop.load(Ordering::Relaxed) && Instant::now() < limit {
            match fetch(port) {
                Some(text) if text == "hi\n" => ok += 1,
                other => bad.push(format!("{other:?}")),
            }
        }
        (ok, bad)
    })
}

#[test]
fn no_connection_is_refused_while_the_service_restarts_or_vigild_reloads() {
    let port = free_port();
    // The workers' stop signal is one they ignore: a restart must not cost
    // a connection that is already being served, nor refuse a new one.
    let conf = |workers: u32| {
        format!(
            "[hi]\nmode = accept\nlisten = tcp:127.0.0.1:{port}\nmax_workers = {workers}\n\
             exec = /bin/echo hi\nstop_signal = WINCH\n\
             [other]\nexec = /bin/sleep 1000\n"
        )
    };
    let d = Daemon::start("norefuse", &conf(8));
    assert_eq!(fetch(port).as_deref(), Some("hi\n"));
    let stop = Arc::new(AtomicBool::new(false));
    let client = hammer(port, stop.clone());
    for round in 0..3 {
        assert_eq!(
            d.request("restart hi").last().map(String::as_str),
            Some("up hi"),
            "round {round}"
        );
        std::thread::sleep(Duration::from_millis(50));
        // A changed section restarts the service; the socket stays.
        d.write_conf(&conf(4 + round));
        assert_eq!(d.request("reload"), ["reloaded vigild"]);
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let (ok, bad) = client.join().unwrap();
    assert!(
        bad.is_empty(),
        "{} connections failed: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
    assert!(ok > 10, "only {ok} connections served");
}

#[test]
fn a_reload_that_changes_the_address_moves_the_listener() {
    let (old, new) = (free_port(), free_port());
    let conf = |port: u16, sock: &str| {
        format!(
            "[hi]\nmode = accept\nlisten = tcp:127.0.0.1:{port}\nlisten = unix:@DIR@/{sock}\nexec = /bin/echo hi\n"
        )
    };
    let d = Daemon::start("move", &conf(old, "a.sock"));
    assert_eq!(fetch(old).as_deref(), Some("hi\n"));
    assert_eq!(fetch_unix(&d.dir.join("a.sock")).as_deref(), Some("hi\n"));
    d.write_conf(&conf(new, "b.sock"));
    assert_eq!(d.request("reload"), ["reloaded vigild"]);
    assert_eq!(fetch(new).as_deref(), Some("hi\n"));
    assert_eq!(fetch_unix(&d.dir.join("b.sock")).as_deref(), Some("hi\n"));
    assert_eq!(fetch(old), None, "the old address is closed");
    assert!(
        !d.dir.join("a.sock").exists(),
        "the old socket file is removed"
    );
}

#[test]
fn a_stale_unix_socket_is_replaced_but_a_live_one_or_a_file_is_refused() {
    let dir = TempDir::new("stale");
    // Bound, then closed without unlinking: a leftover of a dead process.
    drop(UnixListener::bind(dir.join("stale.sock")).unwrap());
    let d = Daemon::start_in(
        dir,
        "[hi]\nmode = accept\nlisten = unix:@DIR@/stale.sock\nlisten_mode = 0600\nexec = /bin/echo hi\n",
        Opts::default(),
    );
    let path = d.dir.join("stale.sock");
    assert_eq!(fetch_unix(&path).as_deref(), Some("hi\n"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    for (what, prepare) in [("a regular file", 0), ("a socket someone listens on", 1)] {
        let dir = TempDir::new("taken");
        let path = dir.join("x.sock");
        let _live = match prepare {
            0 => {
                std::fs::write(&path, "data").unwrap();
                None
            }
            _ => Some(UnixListener::bind(&path).unwrap()),
        };
        let opts = Opts {
            no_wait: true,
            ..Opts::default()
        };
        let d = Daemon::start_in(
            dir,
            "[hi]\nmode = accept\nlisten = unix:@DIR@/x.sock\nexec = /bin/echo hi\n",
            opts,
        );
        let status = d.wait_exit(DEADLINE);
        assert_eq!(status.code(), Some(1), "{what}");
        d.wait_stderr("nothing started");
        let text = d.stderr.text();
        let why = if prepare == 0 { "EEXIST" } else { "EADDRINUSE" };
        assert!(
            text.contains(&format!(
                "vigild.conf:3: listen unix:{}: {why}",
                path.display()
            )),
            "{what}: {text}"
        );
        if prepare == 0 {
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                "data",
                "the file is untouched"
            );
        }
    }
}

#[test]
fn a_port_in_use_fails_the_start_and_a_reload_keeps_the_old_sockets() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let opts = Opts {
        no_wait: true,
        ..Opts::default()
    };
    let d = Daemon::start_with(
        "inuse",
        &format!(
            "[web]\nexec = /bin/sleep 1000\n[hi]\nmode = accept\nlisten = tcp:127.0.0.1:{busy_port}\nexec = /bin/echo hi\n"
        ),
        opts,
    );
    assert_eq!(d.wait_exit(DEADLINE).code(), Some(1));
    d.wait_stderr("nothing started");
    let text = d.stderr.text();
    assert!(
        text.contains(&format!(
            "vigild.conf:5: listen tcp:127.0.0.1:{busy_port}: EADDRINUSE"
        )),
        "{text}"
    );
    assert!(!text.contains("web: down -> "), "nothing may start: {text}");

    let port = free_port();
    let conf = format!("[hi]\nmode = accept\nlisten = tcp:127.0.0.1:{port}\nexec = /bin/echo hi\n");
    let d = Daemon::start("inuse-reload", &conf);
    d.write_conf(&format!("{conf}listen = tcp:127.0.0.1:{busy_port}\n"));
    let answer = d.request("reload");
    assert!(
        answer
            .iter()
            .any(|l| l.starts_with("reload-failed") && l.contains("EADDRINUSE")),
        "{answer:?}"
    );
    assert_eq!(
        fetch(port).as_deref(),
        Some("hi\n"),
        "the running sockets stay"
    );
    drop(busy);
}

#[test]
fn activate_hands_the_sockets_as_fds_3_and_up_with_systemd_variables() {
    let port = free_port();
    // The service records what it got, then serves the connection on fd 3
    // with python and exits 0 (back to listening).
    let dir = TempDir::new("activate");
    std::fs::write(
        dir.join("act.sh"),
        format!(
            "echo \"$LISTEN_FDS $LISTEN_PID $$ $LISTEN_FDNAMES\" >> {0}/env\n\
             for fd in 3 4 5 6 7 8 9; do [ -e /proc/$$/fd/$fd ] && readlink /proc/$$/fd/$fd >> {0}/env; done\n\
             grep flags /proc/$$/fdinfo/3 >> {0}/env\n\
             exec python3 -c 'import socket; s = socket.socket(fileno=3); c, _ = s.accept(); c.sendall(b\"served\\n\")'\n",
            dir.path.display()
        ),
    )
    .unwrap();
    let d = Daemon::start_in(
        dir,
        &format!(
            "[act]\nmode = activate\nlisten = tcp:127.0.0.1:{port}\nlisten = unix:@DIR@/act.sock\n\
             exec = /bin/sh @DIR@/act.sh\n"
        ),
        Opts::default(),
    );
    let s = d.wait_svc("act", "listening", |s| s.state() == "listening");
    assert_eq!(s.pid(), 0, "nothing runs before a connection");
    for round in 0..2 {
        assert_eq!(fetch(port).as_deref(), Some("served\n"), "round {round}");
        d.wait_svc("act", "listening again", |s| {
            s.state() == "listening" && s.last() == "exit:0"
        });
    }
    let env = std::fs::read_to_string(d.dir.join("env")).unwrap();
    let mut lines = env.lines();
    let first: Vec<&str> = lines.next().unwrap().split(' ').collect();
    assert_eq!(first[0], "2", "LISTEN_FDS: {env}");
    assert_eq!(
        first[1], first[2],
        "LISTEN_PID is the service's own pid: {env}"
    );
    assert_eq!(first[3], "act.0:act.1", "LISTEN_FDNAMES: {env}");
    let fds: Vec<&str> = lines.by_ref().take(2).collect();
    assert!(
        fds.iter().all(|f| f.starts_with("socket:")),
        "fds 3 and 4: {env}"
    );
    let flags = lines
        .next()
        .and_then(|l| l.strip_prefix("flags:"))
        .unwrap_or_else(|| panic!("no flags, or an fd above 4: {env}"));
    let flags = u32::from_str_radix(flags.trim(), 8).unwrap();
    assert_eq!(
        flags & libc::O_NONBLOCK as u32,
        0,
        "a blocking socket, as systemd hands it over: {env}"
    );
    assert_eq!(d.svc("act").unwrap().restarts(), 0);
}

#[test]
fn accept_status_counts_workers_and_a_stopped_service_keeps_clients_waiting() {
    let port = free_port();
    let d = Daemon::start(
        "counters",
        &format!("[hi]\nmode = accept\nlisten = tcp:127.0.0.1:{port}\nexec = /bin/echo hi\n"),
    );
    for _ in 0..3 {
        assert_eq!(fetch(port).as_deref(), Some("hi\n"));
    }
    let waited = d.ctl(&["wait", "up", "hi", "5s"]);
    assert_eq!(
        waited.status.code(),
        Some(0),
        "a listening service is up for `wait`"
    );
    let s = d.wait_svc("hi", "accepted=3", |s| s.get("accepted") == "3");
    assert_eq!(
        (s.state(), s.get("workers"), s.get("dropped"), s.get("mode")),
        ("listening", "0", "0", "accept")
    );
    assert_eq!(d.request("stop hi"), ["stopped hi"]);
    // Stopped: the socket stays bound, so a client waits instead of being refused.
    let mut waiting = TcpStream::connect(("127.0.0.1", port)).expect("not refused while stopped");
    waiting
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(d.request("start hi"), ["starting hi", "up hi"]);
    let mut text = String::new();
    waiting.read_to_string(&mut text).unwrap();
    assert_eq!(text, "hi\n", "served once started again");
    let _ = waiting.shutdown(Shutdown::Both);
    let _ = waiting.write(b"");
}

#[test]
fn a_failed_reload_leaves_the_running_sockets_as_they_were() {
    // The reload would turn `hi` into an activate service (a blocking
    // socket) but fails on a port in use: `hi` must go on accepting (on a
    // socket left blocking, vigild would hang in accept).
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let port = free_port();
    let d = Daemon::start(
        "failedreload",
        &format!("[hi]\nmode = accept\nlisten = tcp:127.0.0.1:{port}\nexec = /bin/echo hi\n"),
    );
    d.write_conf(&format!(
        "[hi]\nmode = activate\nlisten = tcp:127.0.0.1:{port}\nexec = /bin/echo hi\n\
         [other]\nmode = accept\nlisten = tcp:127.0.0.1:{busy_port}\nexec = /bin/echo other\n"
    ));
    let answer = d.request("reload");
    assert!(
        answer.iter().any(|l| l.starts_with("reload-failed")),
        "{answer:?}"
    );
    for _ in 0..3 {
        assert_eq!(fetch(port).as_deref(), Some("hi\n"));
    }
    // (`stopping hi` first if the last worker has not exited yet.)
    let stop = d.request("stop hi");
    assert_eq!(
        stop.last().map(String::as_str),
        Some("stopped hi"),
        "vigild still answers"
    );
    drop(busy);
}

#[test]
fn a_reload_never_changes_a_file_through_a_symlink_at_the_socket_path() {
    let d = Daemon::start(
        "symlink",
        "[hi]\nmode = accept\nlisten = unix:@DIR@/s.sock\nlisten_mode = 0666\nexec = /bin/echo hi\n",
    );
    let secret = d.dir.join("secret");
    std::fs::write(&secret, "x").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_file(d.dir.join("s.sock")).unwrap();
    std::os::unix::fs::symlink(&secret, d.dir.join("s.sock")).unwrap();
    d.write_conf(
        &std::fs::read_to_string(&d.conf)
            .unwrap()
            .replace("0666", "0644"),
    );
    let _ = d.request("reload");
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the symlink's target was changed");
}

#[test]
fn stopping_a_listening_service_answers_once_the_status_shows_it() {
    let port = free_port();
    let d = Daemon::start(
        "stopnow",
        &format!("[hi]\nmode = accept\nlisten = tcp:127.0.0.1:{port}\nexec = /bin/echo hi\n"),
    );
    for round in 0..10 {
        assert_eq!(d.request("stop hi"), ["stopped hi"]);
        assert_eq!(d.svc("hi").unwrap().state(), "down", "round {round}");
        assert_eq!(d.request("start hi"), ["starting hi", "up hi"]);
        assert_eq!(d.svc("hi").unwrap().state(), "listening", "round {round}");
    }
}

/// As root: accept workers run as the service's `user` (looked up once,
/// kept for later workers, looked up again after a reload that changes it).
#[test]
#[ignore = "needs root: run by .ci/run"]
fn accept_workers_run_as_the_service_user() {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let uid_of = |name: &str| {
        passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&name)).then(|| f[2].to_string())
        })
    };
    let (Some(nobody), Some(daemon)) = (uid_of("nobody"), uid_of("daemon")) else {
        eprintln!("note: skipped: no users nobody and daemon");
        return;
    };
    let port = free_port();
    let conf = |user: &str| {
        format!(
            "[who]\nmode = accept\nlisten = tcp:127.0.0.1:{port}\nuser = {user}\nexec = /usr/bin/id -u\n"
        )
    };
    let d = Daemon::start("acceptuser", &conf("nobody"));
    for _ in 0..3 {
        assert_eq!(fetch(port), Some(format!("{nobody}\n")));
    }
    d.write_conf(&conf("daemon"));
    assert_eq!(d.request("reload"), ["reloaded vigild"]);
    assert_eq!(fetch(port), Some(format!("{daemon}\n")));
}

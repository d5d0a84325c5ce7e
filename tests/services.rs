//! The service examples of `conf/services/` run under vigild with Debian's
//! daemons, and each daemon really serves: curl gets nginx's page and a
//! page proxied by haproxy, redis-cli a PONG, ssh a shell through sshd (as
//! a daemon and per connection), ssh-keyscan dropbear's host key, a DNS
//! query dnsmasq's answer, chronyc chronyd's tracking, psql an answer from
//! postgres, and agetty puts its login prompt on a terminal.
//!
//! Each test runs a file as it is shipped, changed only by the literal
//! replacements it lists (`ServiceFile::replace`, which fails the test if
//! the text to replace is not in the file): the standard ports become a
//! free port on 127.0.0.1, the daemons' configuration and data paths
//! become files the test writes in its temporary directory, and nothing
//! else. The files' users, stop signals, readiness and oneshots are kept.
//!
//! Every test is `#[ignore]`d: they need root and the Debian packages that
//! `.ci/system-tests` installs (without letting Debian start them) before
//! it runs `cargo test --test services -- --include-ignored`. Only
//! 127.0.0.1 is used; every wait has a deadline.

#[path = "daemon/harness.rs"]
mod harness;

use harness::*;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A file of `conf/services/` and the replacements made to it.
struct ServiceFile {
    name: &'static str,
    text: String,
}

impl ServiceFile {
    fn open(name: &'static str) -> ServiceFile {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("conf/services")
            .join(name);
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        ServiceFile { name, text }
    }

    /// Replace every `from` with `to`; `from` must be there.
    #[track_caller]
    fn replace(mut self, from: &str, to: &str) -> ServiceFile {
        assert!(
            self.text.contains(from),
            "conf/services/{} has no {from:?} to replace",
            self.name
        );
        self.text = self.text.replace(from, to);
        self
    }

    /// Start vigild on the file in `dir`; `vigild -t` must accept it first.
    fn start(self, dir: TempDir) -> Daemon {
        let conf = dir.join("check.conf");
        fs::write(&conf, &self.text).unwrap();
        let out = vigild_once(&["-t", "-c", conf.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "vigild -t on {}: {}",
            self.name,
            show(&out)
        );
        Daemon::start_in(dir, &self.text, Opts::default())
    }
}

/// A program of a Debian package, or a hint where it comes from.
#[track_caller]
fn need(path: &str, package: &str) -> String {
    assert!(
        Path::new(path).is_file(),
        "{path} not found: run .ci/system-tests (installs {package})"
    );
    path.to_string()
}

/// Run a command for at most 20 s.
fn run(program: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null());
    run_limited_for(cmd, Duration::from_secs(20))
        .unwrap_or_else(|| panic!("{program} {args:?} took more than 20 s"))
}

/// `chown USER PATH` (recursively), for a daemon that runs as USER.
fn chown(user: &str, path: &Path) {
    let out = run("/bin/chown", &["-R", user, path.to_str().unwrap()]);
    assert!(out.status.success(), "chown: {}", show(&out));
}

/// Poll the status file until `name` is up and call `probe` at that first
/// look (a service with readiness must serve by then); the probe's result.
fn at_first_up<T>(d: &Daemon, name: &str, mut probe: impl FnMut() -> T) -> (Svc, T) {
    let end = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        if let Some(s) = d.svc(name) {
            if seen.last() != Some(&s.line) {
                seen.push(s.line.clone());
            }
            if s.state() == "up" {
                return (s, probe());
            }
        }
        if Instant::now() > end {
            d.fail(&format!("{name} not up within 30 s: {seen:#?}"));
        }
        std::thread::sleep(TICK);
    }
}

/// Poll `probe` until it returns `Some` (30 s at most: some daemons take
/// their time to listen).
fn serves<T>(d: &Daemon, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    poll_until(Duration::from_secs(30), &mut probe)
        .unwrap_or_else(|| d.fail(&format!("{what}: no answer within 30 s")))
}

/// `vigilctl stop NAME` and the status line once it is down.
fn stop(d: &Daemon, name: &str) -> Svc {
    let out = d.ctl(&["stop", name]);
    if !out.status.success() {
        d.fail(&format!("vigilctl stop {name}: {}", show(&out)));
    }
    d.wait_svc(name, "down", |s| s.state() == "down")
}

/// Wait until `n` lines of what vigild and its services (`log = inherit`)
/// wrote contain `text`.
fn wait_output(d: &Daemon, text: &str, n: usize) {
    let count = || d.stderr.text().lines().filter(|l| l.contains(text)).count();
    if poll_until(DEADLINE, || (count() >= n).then_some(())).is_none() {
        d.fail(&format!(
            "{n} lines with {text:?} expected, got {}",
            count()
        ));
    }
}

fn curl(url: &str) -> Output {
    run("curl", &["-sS", "--max-time", "5", url])
}

fn user_of(pid: i32) -> u32 {
    uids(pid).first().copied().unwrap_or(u32::MAX)
}

#[track_caller]
fn uid(user: &str) -> u32 {
    passwd_entry(user)
        .unwrap_or_else(|| panic!("no user {user}"))
        .0
}

// ---- nginx ---------------------------------------------------------------

/// nginx.conf: nginx's master in the foreground serves a page; `stop`
/// sends QUIT, nginx's graceful shutdown, and it exits 0.
#[test]
#[ignore = "needs root and .ci/system-tests (nginx, curl)"]
fn nginx_serves_and_stops_gracefully() {
    let nginx = need("/usr/sbin/nginx", "nginx");
    let port = free_port();
    let dir = TempDir::new("svc-nginx");
    let d_ = dir.s("");
    let t = d_.trim_end_matches('/');
    fs::write(
        dir.join("nginx.conf"),
        format!(
            "worker_processes 2;\npid {t}/nginx.pid;\nerror_log {t}/error.log info;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n\
             client_body_temp_path {t}/body; proxy_temp_path {t}/proxy;\n\
             fastcgi_temp_path {t}/fastcgi; uwsgi_temp_path {t}/uwsgi; scgi_temp_path {t}/scgi;\n\
             server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"nginx under vigild\\n\"; }} }}\n}}\n"
        ),
    )
    .unwrap();
    let d = ServiceFile::open("nginx.conf")
        .replace("/usr/sbin/nginx", &nginx)
        .replace("/etc/nginx/nginx.conf", &dir.s("nginx.conf"))
        .start(dir);
    let master = d.wait_up("nginx").pid();
    let url = format!("http://127.0.0.1:{port}/");
    let body = serves(&d, "nginx", || {
        let out = curl(&url);
        out.status.success().then(|| stdout(&out))
    });
    assert_eq!(body, "nginx under vigild\n");
    assert_eq!(
        fs::read_to_string(d.dir.join("nginx.pid")).unwrap().trim(),
        master.to_string()
    );

    let down = stop(&d, "nginx");
    assert_eq!(down.last(), "exit:0", "{}", down.line);
    let log = fs::read_to_string(d.dir.join("error.log")).unwrap_or_default();
    assert!(
        log.contains("gracefully shutting down"),
        "nginx was not stopped gracefully (QUIT):\n{log}"
    );
}

// ---- redis ---------------------------------------------------------------

/// redis.conf: redis runs as the user redis, is `up` exactly when it
/// answers PONG (READY=1 from --supervised systemd), and exits 0 on stop.
#[test]
#[ignore = "needs root and .ci/system-tests (redis-server, redis-tools)"]
fn redis_is_up_when_it_answers() {
    need("/usr/bin/redis-server", "redis-server");
    let cli = need("/usr/bin/redis-cli", "redis-tools");
    let port = free_port();
    let dir = TempDir::new("svc-redis");
    let data = dir.join("data");
    fs::create_dir(&data).unwrap();
    chown("redis:redis", &data);
    fs::write(
        dir.join("redis.conf"),
        format!(
            "bind 127.0.0.1\nport {port}\ndaemonize yes\ndir {}\nlogfile \"\"\nsave \"\"\n",
            data.display()
        ),
    )
    .unwrap();
    let d = ServiceFile::open("redis.conf")
        .replace("/etc/redis/redis.conf", &dir.s("redis.conf"))
        .start(dir);
    let p = port.to_string();
    let (up, pong) = at_first_up(&d, "redis", || {
        stdout(&run(&cli, &["-h", "127.0.0.1", "-p", &p, "ping"]))
    });
    assert_eq!(pong.trim(), "PONG", "{}", up.line);
    // Its log goes to stderr and into its ring, which status shows.
    let status = stdout(&d.ctl(&["status", "redis"]));
    assert!(status.contains("Ready to accept connections"), "{status}");
    assert_eq!(up.get("ready"), "yes", "{}", up.line);
    assert_eq!(user_of(up.pid()), uid("redis"));
    let down = stop(&d, "redis");
    assert_eq!(down.last(), "exit:0", "{}", down.line);
}

// ---- OpenSSH -----------------------------------------------------------

/// An sshd_config for the test: its own host key (made by the file's
/// ssh-keygen oneshot under `DIR/etc/ssh`), root may log in with the
/// test's key only.
fn sshd_setup(dir: &TempDir, port: u16) -> String {
    let t = dir.s("");
    let t = t.trim_end_matches('/');
    let out = run(
        "/usr/bin/ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            &format!("{t}/client"),
        ],
    );
    assert!(out.status.success(), "ssh-keygen: {}", show(&out));
    fs::copy(dir.join("client.pub"), dir.join("authorized_keys")).unwrap();
    fs::create_dir_all(dir.join("etc/ssh")).unwrap();
    fs::write(
        dir.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {t}/etc/ssh/ssh_host_ed25519_key\n\
             PidFile none\nAuthorizedKeysFile {t}/authorized_keys\nStrictModes no\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\n"
        ),
    )
    .unwrap();
    format!("{t}/sshd_config")
}

/// `ssh root@127.0.0.1 -p PORT COMMAND` with the test's key, checking the
/// server's host key against the one the oneshot made.
fn ssh(dir: &TempDir, port: u16, command: &str) -> Output {
    let key = fs::read_to_string(dir.join("etc/ssh/ssh_host_ed25519_key.pub")).unwrap();
    let known = dir.join("known_hosts");
    fs::write(&known, format!("[127.0.0.1]:{port} {key}")).unwrap();
    let p = port.to_string();
    let client = dir.s("client");
    let known = format!("UserKnownHostsFile={}", known.display());
    run(
        "/usr/bin/ssh",
        &[
            "-F",
            "/dev/null",
            "-i",
            &client,
            "-p",
            &p,
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            &known,
            "-o",
            "ConnectTimeout=5",
            "root@127.0.0.1",
            command,
        ],
    )
}

/// sshd.conf: the oneshots make the host key and /run/sshd, sshd -D
/// listens, and a login runs a command. With `contain = group`, a session
/// outlives a restart of sshd (sshd gives each its own session).
#[test]
#[ignore = "needs root and .ci/system-tests (openssh-server, openssh-client)"]
fn sshd_daemon_logs_in_and_sessions_outlive_a_restart() {
    need("/usr/sbin/sshd", "openssh-server");
    need("/usr/bin/ssh", "openssh-client");
    let port = free_port();
    let dir = TempDir::new("svc-sshd");
    let config = sshd_setup(&dir, port);
    let keys = format!("/usr/bin/ssh-keygen -A -f {}", dir.s(""));
    let d = ServiceFile::open("sshd.conf")
        .replace("/usr/bin/ssh-keygen -A", &keys)
        .replace("/etc/ssh/sshd_config", &config)
        .start(dir);
    d.wait_svc("ssh-keygen", "up", |s| s.state() == "up");
    let out = serves(&d, "ssh to sshd -D", || {
        let out = ssh(&d.dir, port, "echo logged in as $(id -u)");
        out.status.success().then_some(out)
    });
    assert_eq!(stdout(&out), "logged in as 0\n");

    // A session that sleeps, then restart sshd: the session goes on.
    let marker = d.dir.join("session-done");
    let mut session = {
        let key = d.dir.s("client");
        let known = format!("UserKnownHostsFile={}", d.dir.s("known_hosts"));
        Command::new("/usr/bin/ssh")
            .args(["-F", "/dev/null", "-i", &key, "-p", &port.to_string()])
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                &known,
            ])
            .arg("root@127.0.0.1")
            .arg(format!("sleep 2; touch {}", marker.display()))
            .stdin(Stdio::null())
            .spawn()
            .unwrap()
    };
    std::thread::sleep(Duration::from_millis(800));
    let before = d.svc("sshd").unwrap().pid();
    let out = d.ctl(&["restart", "sshd"]);
    assert!(out.status.success(), "{}", show(&out));
    d.wait_svc("sshd", "up again", |s| {
        s.state() == "up" && s.pid() != before
    });
    let status = d.wait_for("the session to end", || session.try_wait().unwrap());
    assert!(
        status.success(),
        "the session did not outlive sshd's restart"
    );
    assert!(marker.exists(), "the session's command did not finish");
    // And the new sshd serves.
    let out = serves(&d, "ssh to the new sshd", || {
        let out = ssh(&d.dir, port, "echo again");
        out.status.success().then_some(out)
    });
    assert_eq!(stdout(&out), "again\n");
}

/// sshd-inetd.conf: one `sshd -i` per connection, started by vigild's
/// accept mode; a login runs a command and the counters show it.
#[test]
#[ignore = "needs root and .ci/system-tests (openssh-server, openssh-client)"]
fn sshd_per_connection_logs_in() {
    need("/usr/sbin/sshd", "openssh-server");
    need("/usr/bin/ssh", "openssh-client");
    let port = free_port();
    let dir = TempDir::new("svc-sshd-i");
    let config = sshd_setup(&dir, port);
    let keys = format!("/usr/bin/ssh-keygen -A -f {}", dir.s(""));
    let d = ServiceFile::open("sshd-inetd.conf")
        .replace("/usr/bin/ssh-keygen -A", &keys)
        .replace("/etc/ssh/sshd_config", &config)
        .replace("tcp:0.0.0.0:22", &format!("tcp:127.0.0.1:{port}"))
        .replace("listen = tcp:[::]:22\n", "")
        .start(dir);
    d.wait_svc("sshd", "listening", |s| s.state() == "listening");
    let out = ssh(&d.dir, port, "echo per connection");
    if !out.status.success() {
        d.fail(&format!("ssh to sshd -i: {}", show(&out)));
    }
    assert_eq!(stdout(&out), "per connection\n");
    let s = d.wait_svc("sshd", "one connection, its worker gone", |s| {
        s.get("workers") == "0" && s.get("accepted") == "1"
    });
    assert_eq!(s.get("dropped"), "0", "{}", s.line);
}

// ---- dropbear ----------------------------------------------------------

/// dropbear.conf: the oneshot makes a host key, `dropbear -i` per
/// connection completes a key exchange with it (ssh-keyscan gets that
/// key) and refuses a login without a key it knows.
#[test]
#[ignore = "needs root and .ci/system-tests (dropbear-bin, openssh-client)"]
fn dropbear_per_connection_shows_its_host_key() {
    need("/usr/sbin/dropbear", "dropbear-bin");
    let port = free_port();
    let dir = TempDir::new("svc-dropbear");
    let t = dir.s("");
    let d = ServiceFile::open("dropbear.conf")
        .replace("/etc/dropbear/", &t)
        .replace("tcp:0.0.0.0:22", &format!("tcp:127.0.0.1:{port}"))
        .replace("listen = tcp:[::]:22\n", "")
        .start(dir);
    d.wait_svc("dropbear-key", "up", |s| s.state() == "up");
    d.wait_svc("dropbear", "listening", |s| s.state() == "listening");
    let key = d.dir.s("dropbear_ed25519_host_key");
    let public = stdout(&run("/usr/bin/dropbearkey", &["-y", "-f", &key]));
    let public = public
        .lines()
        .find(|l| l.starts_with("ssh-ed25519 "))
        .unwrap_or_else(|| d.fail(&format!("no public key from dropbearkey: {public:?}")));
    let blob = public.split_whitespace().nth(1).unwrap();
    let p = port.to_string();
    let out = run(
        "/usr/bin/ssh-keyscan",
        &["-t", "ed25519", "-p", &p, "127.0.0.1"],
    );
    assert!(
        stdout(&out).contains(blob),
        "ssh-keyscan did not get dropbear's key {blob}: {}",
        show(&out)
    );
    let out = run(
        "/usr/bin/ssh",
        &[
            "-F",
            "/dev/null",
            "-p",
            &p,
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityFile=/dev/null",
            "nobody@127.0.0.1",
            "true",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("Permission denied"),
        "a login without a key: {}",
        show(&out)
    );
    let s = d.wait_svc("dropbear", "both workers gone", |s| {
        s.get("workers") == "0" && s.get("accepted") == "2"
    });
    assert_eq!(s.get("dropped"), "0", "{}", s.line);
}

// ---- dnsmasq -----------------------------------------------------------

/// A DNS query for `name`'s A record; the addresses of the answer.
fn dns_a(port: u16, name: &str) -> Option<Vec<[u8; 4]>> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    sock.send_to(&q, ("127.0.0.1", port)).ok()?;
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).ok()?;
    let r = &buf[..n];
    if n < 12 || r[..2] != [0x12, 0x34] || r[3] & 0x0f != 0 {
        return None;
    }
    // Skip the question (same as ours), then read each answer.
    let mut at = q.len();
    let mut out = Vec::new();
    for _ in 0..u16::from_be_bytes([r[6], r[7]]) {
        // A name: a pointer (2 bytes) or labels.
        if r.get(at)? & 0xc0 == 0xc0 {
            at += 2;
        } else {
            while *r.get(at)? != 0 {
                at += 1 + r[at] as usize;
            }
            at += 1;
        }
        let rtype = u16::from_be_bytes([*r.get(at)?, *r.get(at + 1)?]);
        let len = u16::from_be_bytes([*r.get(at + 8)?, *r.get(at + 9)?]) as usize;
        let data = r.get(at + 10..at + 10 + len)?;
        if rtype == 1 && len == 4 {
            out.push([data[0], data[1], data[2], data[3]]);
        }
        at += 10 + len;
    }
    Some(out)
}

/// dnsmasq.conf: dnsmasq in the foreground answers a query from its
/// configuration and runs as Debian's dnsmasq user.
#[test]
#[ignore = "needs root and .ci/system-tests (dnsmasq-base)"]
fn dnsmasq_answers_a_query() {
    need("/usr/sbin/dnsmasq", "dnsmasq-base");
    let port = free_port();
    let dir = TempDir::new("svc-dnsmasq");
    fs::write(
        dir.join("dnsmasq.conf"),
        format!(
            "port={port}\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\nno-hosts\n\
             pid-file=\naddress=/vigild.test/127.0.0.77\n"
        ),
    )
    .unwrap();
    let d = ServiceFile::open("dnsmasq.conf")
        .replace("/etc/dnsmasq.conf", &dir.s("dnsmasq.conf"))
        .start(dir);
    let pid = d.wait_up("dnsmasq").pid();
    let got = serves(&d, "dnsmasq", || dns_a(port, "www.vigild.test"));
    assert_eq!(got, [[127, 0, 0, 77]]);
    assert_eq!(
        user_of(pid),
        uid("dnsmasq"),
        "dnsmasq did not drop to its user"
    );
    let down = stop(&d, "dnsmasq");
    assert_eq!(down.last(), "exit:0", "{}", down.line);
}

// ---- chrony ------------------------------------------------------------

/// chrony.conf: the oneshot makes chronyd's socket directory (as
/// _chrony's), chronyd runs in the foreground and chronyc reads its
/// tracking through that socket. The test adds `-x` (the machine's clock
/// is not to be touched) and gives it no server, only its local clock.
#[test]
#[ignore = "needs root and .ci/system-tests (chrony)"]
fn chronyd_answers_chronyc() {
    need("/usr/sbin/chronyd", "chrony");
    let chronyc = need("/usr/bin/chronyc", "chrony");
    let dir = TempDir::new("svc-chrony");
    let rundir = dir.s("chrony-run");
    let sock = format!("{rundir}/chronyd.sock");
    fs::write(
        dir.join("chrony.conf"),
        format!(
            "local stratum 8\nport 0\ncmdport 0\nbindcmdaddress {sock}\n\
             pidfile {rundir}/chronyd.pid\n"
        ),
    )
    .unwrap();
    let d = ServiceFile::open("chrony.conf")
        .replace("chronyd -d", "chronyd -d -x")
        .replace("/etc/chrony/chrony.conf", &dir.s("chrony.conf"))
        .replace("/run/chrony", &rundir)
        .start(dir);
    d.wait_svc("chrony-rundir", "up", |s| s.state() == "up");
    let meta = fs::metadata(&rundir).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o750);
    let pid = d.wait_up("chronyd").pid();
    let tracking = serves(&d, "chronyc tracking", || {
        let out = run(&chronyc, &["-h", &sock, "-n", "tracking"]);
        (out.status.success() && stdout(&out).contains("Stratum")).then(|| stdout(&out))
    });
    assert!(tracking.contains("Reference ID"), "{tracking}");
    assert_eq!(
        user_of(pid),
        uid("_chrony"),
        "chronyd did not drop to _chrony"
    );
    let down = stop(&d, "chronyd");
    assert_eq!(down.last(), "exit:0", "{}", down.line);
}

// ---- postgres ----------------------------------------------------------

/// postgres.conf: a cluster made by initdb in the test's directory (the
/// file's version path replaced by the one installed); postgres runs as
/// postgres, is `up` exactly when it accepts connections (READY=1), psql
/// gets an answer, and `stop` (INT) is its fast shutdown, exit 0.
#[test]
#[ignore = "needs root and .ci/system-tests (postgresql)"]
fn postgres_is_up_when_it_accepts_connections() {
    let mut versions: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    versions.sort();
    let lib = versions
        .into_iter()
        .rfind(|v| v.join("bin/postgres").is_file())
        .unwrap_or_else(|| panic!("no /usr/lib/postgresql/*/bin/postgres: run .ci/system-tests"));
    let bin = lib.join("bin");
    let port = free_port();
    let dir = TempDir::new("svc-postgres");
    let pg = dir.join("pg");
    fs::create_dir(&pg).unwrap();
    chown("postgres:postgres", &pg);
    let data = pg.join("data");
    let uid_pg = uid("postgres");
    let mut initdb = Command::new("/sbin/runuser");
    initdb
        .args(["-u", "postgres", "--"])
        .arg(bin.join("initdb"))
        .args(["-A", "trust", "-U", "postgres", "-D"])
        .arg(&data)
        .env("LANG", "C")
        .current_dir(&pg)
        .stdin(Stdio::null());
    let out = run_limited_for(initdb, Duration::from_secs(120)).expect("initdb: 2 min");
    assert!(out.status.success(), "initdb: {}", show(&out));
    let rundir = pg.join("run");
    let mut conf = fs::OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))
        .unwrap();
    writeln!(
        conf,
        "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'",
        rundir.display()
    )
    .unwrap();
    let d = ServiceFile::open("postgres.conf")
        .replace("/usr/lib/postgresql/15", lib.to_str().unwrap())
        .replace("/var/lib/postgresql/15/main", data.to_str().unwrap())
        .replace(
            "/etc/postgresql/15/main/postgresql.conf",
            data.join("postgresql.conf").to_str().unwrap(),
        )
        .replace("/var/run/postgresql", rundir.to_str().unwrap())
        .start(dir);
    let p = port.to_string();
    let (up, answer) = at_first_up(&d, "postgres", || {
        run(
            "/usr/bin/psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &p,
                "-U",
                "postgres",
                "-Atc",
                "select 40 + 2",
            ],
        )
    });
    if !answer.status.success() {
        d.fail(&format!(
            "psql at the first look that said up: {}; {}",
            show(&answer),
            up.line
        ));
    }
    assert_eq!(stdout(&answer), "42\n");
    assert_eq!(up.get("ready"), "yes", "{}", up.line);
    let pidfile = fs::read_to_string(data.join("postmaster.pid")).unwrap();
    assert_eq!(pidfile.lines().next(), Some(up.pid().to_string().as_str()));
    assert_eq!(user_of(up.pid()), uid_pg);
    let out = run(
        "/usr/bin/pg_isready",
        &["-h", "127.0.0.1", "-p", &p, "-U", "postgres"],
    );
    assert!(out.status.success(), "pg_isready: {}", show(&out));

    let down = stop(&d, "postgres");
    assert_eq!(down.last(), "exit:0", "{}", down.line);
    wait_output(&d, "received fast shutdown request", 1);
}

// ---- haproxy -----------------------------------------------------------

/// An HTTP backend on 127.0.0.1 that answers every request with `body`.
fn backend(body: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// haproxy.conf: haproxy -Ws is `up` when its master says READY=1, and
/// then proxies a request to a backend; USR2 reloads it (same master);
/// `stop` is its soft stop (USR1), exit 0.
#[test]
#[ignore = "needs root and .ci/system-tests (haproxy, curl)"]
fn haproxy_proxies_when_it_is_up() {
    need("/usr/sbin/haproxy", "haproxy");
    let back = backend("from the backend\n");
    let port = free_port();
    let dir = TempDir::new("svc-haproxy");
    fs::write(
        dir.join("haproxy.cfg"),
        format!(
            "defaults\n  mode http\n  timeout connect 5s\n  timeout client 10s\n  timeout server 10s\n\
             frontend web\n  bind 127.0.0.1:{port}\n  default_backend app\n\
             backend app\n  server app1 127.0.0.1:{back}\n"
        ),
    )
    .unwrap();
    let d = ServiceFile::open("haproxy.conf")
        .replace("/etc/haproxy/haproxy.cfg", &dir.s("haproxy.cfg"))
        .replace("/run/haproxy.pid", &dir.s("haproxy.pid"))
        .replace("/run/haproxy-master.sock", &dir.s("master.sock"))
        .replace("-m 0755 /run/haproxy", &format!("-m 0755 {}", dir.s("run")))
        .start(dir);
    let url = format!("http://127.0.0.1:{port}/");
    let (up, out) = at_first_up(&d, "haproxy", || curl(&url));
    if !out.status.success() {
        d.fail(&format!(
            "curl at the first look that said up: {}; {}",
            show(&out),
            up.line
        ));
    }
    assert_eq!(stdout(&out), "from the backend\n");
    assert_eq!(up.get("ready"), "yes", "{}", up.line);
    let master = up.pid();

    let out = d.ctl(&["signal", "haproxy", "USR2"]);
    assert!(out.status.success(), "{}", show(&out));
    wait_output(&d, "Loading success.", 2);
    let again = serves(&d, "haproxy after USR2", || {
        let out = curl(&url);
        out.status.success().then(|| stdout(&out))
    });
    assert_eq!(again, "from the backend\n");
    let s = d.svc("haproxy").unwrap();
    assert_eq!((s.state(), s.pid()), ("up", master), "{}", s.line);
    // The reload's old worker finishes on its own; a soft stop that
    // reaches it meanwhile makes the master report its signal (exit 138,
    // 128 + USR1) instead of 0: the stop waits until only the new one runs.
    d.wait_for("the old worker to be gone", || {
        (children_of(master).len() == 1).then_some(())
    });

    let down = stop(&d, "haproxy");
    assert_eq!(down.last(), "exit:0", "{}", down.line);
}

// ---- getty -------------------------------------------------------------

/// A pseudo-terminal: the master's fd and the slave's name under /dev.
fn pty() -> (fs::File, String) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain calls on the fd posix_openpt returns, checked each;
    // ptsname's buffer is copied before any other call.
    unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(fd >= 0, "posix_openpt");
        assert_eq!(libc::grantpt(fd), 0);
        assert_eq!(libc::unlockpt(fd), 0);
        let name = std::ffi::CStr::from_ptr(libc::ptsname(fd));
        let name = name
            .to_str()
            .unwrap()
            .strip_prefix("/dev/")
            .unwrap()
            .to_string();
        (fs::File::from_raw_fd(fd), name)
    }
}

/// Read from the pty master until `want` shows (a hang-up or EIO while
/// agetty reopens the terminal is waited out), at most 20 s.
fn read_until(d: &Daemon, master: &mut fs::File, want: &str) -> String {
    use std::os::fd::AsRawFd;
    let end = Instant::now() + Duration::from_secs(20);
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains(want) {
        if Instant::now() > end {
            d.fail(&format!(
                "no {want:?} on the terminal: {:?}",
                String::from_utf8_lossy(&got)
            ));
        }
        let mut pfd = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd on the stack.
        unsafe { libc::poll(&mut pfd, 1, 100) };
        if pfd.revents & libc::POLLIN != 0 {
            let mut buf = [0u8; 1024];
            if let Ok(n) = master.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// getty.conf: agetty on a terminal (a pseudo-terminal here instead of
/// tty1) prints its login prompt, takes a user name and executes login,
/// which asks for the password; `stop` (HUP) ends it.
#[test]
#[ignore = "needs root and .ci/system-tests (util-linux's agetty)"]
fn agetty_prompts_on_its_terminal() {
    need("/sbin/agetty", "util-linux");
    let (mut master, tty) = pty();
    let dir = TempDir::new("svc-getty");
    let d = ServiceFile::open("getty.conf")
        .replace("--noclear tty1", &format!("--noclear {tty}"))
        .start(dir);
    let pid = d.wait_up("getty-tty1").pid();
    read_until(&d, &mut master, "login: ");
    master.write_all(b"root\n").unwrap();
    read_until(&d, &mut master, "Password: ");
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(comm.trim(), "login", "agetty did not execute login");
    let down = stop(&d, "getty-tty1");
    assert_eq!(down.last(), "signal:HUP", "{}", down.line);
}

/// The pids whose parent is `pid` (from /proc).
fn children_of(pid: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            let stat = fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // The field after the name, which may hold spaces: state, then ppid.
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            after.split_whitespace().nth(1) == Some(pid.to_string().as_str())
        })
        .collect()
}

//! System tests of vigild's socket modes and readiness (vigild.conf(5), vigild(8) STATUS FILE):
//! vigild starts real third-party programs itself and real clients talk to
//! them.
//!
//! - `activate`: gunicorn (PyPI) serves `tests/system/app.py` through the
//!   sockets vigild hands over as `LISTEN_FDS` (TCP over 127.0.0.1 and ::1, a
//!   unix socket), and a small Python server (`tests/system/activate.py`)
//!   reports exactly what it inherited.
//! - `accept`: BusyBox `httpd -i` answers curl; shell workers report their
//!   environment and fds; `max_workers`, `max_per_ip`, `backlog`,
//!   `drop_timeout` and `stop` are checked from the outside; a flood of
//!   connections hits a vigild that runs with only 32 file descriptors, and
//!   one whose accept(2) fails with EMFILE.
//! - `ready = notify`: redis-server (`--supervised systemd`, Debian's build
//!   with libsystemd) and gunicorn (its arbiter's own sd_notify) are `up`
//!   exactly when they answer: redis-cli gets PONG, curl gets a page, at the
//!   first look at the status file that says `up`; redis loading a dataset
//!   stays `starting` meanwhile; their `STATUS=` texts show; redis's own
//!   SHUTDOWN (STOPPING=1) and vigild's stop end cleanly.
//! - containment: nginx's master killed with -9 does not leave its workers
//!   behind (they would keep its port and answer forever).
//!
//! Every test is `#[ignore]`d so that a plain `cargo test` passes on a machine
//! without these programs; `.ci/system-tests` installs them (BusyBox, curl, nginx,
//! redis-server and redis-tools, a venv with gunicorn) and runs
//! `cargo test --test system -- --include-ignored`. The programs are found
//! through `SYSTEST_GUNICORN`, `SYSTEST_PYTHON`, `SYSTEST_BUSYBOX`,
//! `SYSTEST_REDIS_SERVER`, `SYSTEST_REDIS_CLI` and `SYSTEST_NGINX`, or at the paths that script
//! installs them to (not `VIGILD_*` names: build.rs refuses unknown ones).
//!
//! Only 127.0.0.1 and ::1 are used; ports are picked by binding port 0 and
//! releasing it. Every wait has a deadline; the harness stops each vigild
//! (and whatever it started) when its test ends.

#[path = "daemon/harness.rs"]
mod harness;

use harness::*;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

// ---- the programs ------------------------------------------------------

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The fixtures directory (`tests/system`).
fn fixtures() -> PathBuf {
    manifest_dir().join("tests/system")
}

/// A program given by `var`, else at `default`; fails with a hint if absent.
fn program(var: &str, default: PathBuf) -> String {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or(default);
    assert!(
        path.is_file(),
        "{} not found (set {var}, or run .ci/system-tests, which installs it)",
        path.display()
    );
    path.to_str().expect("ASCII path").to_string()
}

/// gunicorn in the venv `.ci/system-tests` makes.
fn gunicorn() -> String {
    program(
        "SYSTEST_GUNICORN",
        manifest_dir().join("target/system-venv/bin/gunicorn"),
    )
}

/// A Python 3: the one of gunicorn's venv unless told otherwise.
fn python() -> String {
    let venv_python = std::env::var_os("SYSTEST_GUNICORN")
        .map(PathBuf::from)
        .and_then(|g| Some(g.parent()?.join("python")))
        .unwrap_or_else(|| manifest_dir().join("target/system-venv/bin/python"));
    program("SYSTEST_PYTHON", venv_python)
}

fn busybox() -> String {
    program("SYSTEST_BUSYBOX", PathBuf::from("/bin/busybox"))
}

/// Debian's redis-server (package `redis-server`).
fn redis_server() -> String {
    program(
        "SYSTEST_REDIS_SERVER",
        PathBuf::from("/usr/bin/redis-server"),
    )
}

/// Debian's redis-cli (package `redis-tools`).
fn redis_cli() -> String {
    program("SYSTEST_REDIS_CLI", PathBuf::from("/usr/bin/redis-cli"))
}

/// Run curl (silent, errors shown, at most 10 s).
fn curl(args: &[&str]) -> Output {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "10"]).args(args);
    run_limited(cmd)
}

/// curl's body, failing the test (with vigild's diagnostics) on an error.
#[track_caller]
fn curl_ok(d: &Daemon, args: &[&str]) -> String {
    let out = curl(args);
    if !out.status.success() {
        d.fail(&format!("curl {args:?} failed: {}", show(&out)));
    }
    stdout(&out)
}

// ---- addresses and clients ---------------------------------------------

/// A port that was free a moment ago on `ip`.
fn free_port(ip: IpAddr) -> u16 {
    let l = TcpListener::bind((ip, 0)).expect("bind port 0");
    l.local_addr().unwrap().port()
}

fn v4(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

fn v6(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv6Addr::LOCALHOST, port))
}

fn free_v4() -> u16 {
    free_port(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

fn free_v6() -> u16 {
    free_port(IpAddr::V6(Ipv6Addr::LOCALHOST))
}

/// Connect, failing the test with vigild's diagnostics if that fails.
#[track_caller]
fn connect(d: &Daemon, addr: SocketAddr) -> TcpStream {
    TcpStream::connect_timeout(&addr, DEADLINE)
        .unwrap_or_else(|e| d.fail(&format!("connect to {addr}: {e}")))
}

/// How a read from a client socket ended.
#[derive(Debug)]
enum End {
    /// The peer closed its side (EOF) after these bytes.
    Eof(Vec<u8>),
    /// The peer reset the connection after these bytes.
    Reset(Vec<u8>),
    /// Neither within the limit; what came so far.
    Timeout(Vec<u8>),
}

impl End {
    fn bytes(&self) -> &[u8] {
        match self {
            End::Eof(b) | End::Reset(b) | End::Timeout(b) => b,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    /// Closed (EOF or reset) without any data.
    fn closed_empty(&self) -> bool {
        matches!(self, End::Eof(b) | End::Reset(b) if b.is_empty())
    }
}

/// Read until the peer closes, at most `limit`.
fn read_to_end(s: &mut dyn ReadTimeout, limit: Duration) -> End {
    let end = Instant::now() + limit;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return End::Timeout(got);
        }
        s.timeout(left.max(Duration::from_millis(1)));
        match s.read(&mut chunk) {
            Ok(0) => return End::Eof(got),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) =>
            {
                return End::Reset(got);
            }
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Read one line (without its newline), at most `limit`; `None` if the
/// peer closed or the time ran out first.
fn read_line(s: &mut dyn ReadTimeout, limit: Duration) -> Option<String> {
    let end = Instant::now() + limit;
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        s.timeout(left.max(Duration::from_millis(1)));
        match s.read(&mut byte) {
            Ok(0) => return None,
            Ok(_) if byte[0] == b'\n' => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(_) => got.push(byte[0]),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) => {}
            Err(_) => return None,
        }
    }
}

/// A stream whose reads can be given a timeout.
trait ReadTimeout: Read {
    fn timeout(&mut self, t: Duration);
}

impl ReadTimeout for TcpStream {
    fn timeout(&mut self, t: Duration) {
        self.set_read_timeout(Some(t)).unwrap();
    }
}

impl ReadTimeout for UnixStream {
    fn timeout(&mut self, t: Duration) {
        self.set_read_timeout(Some(t)).unwrap();
    }
}

// ---- status -------------------------------------------------------------

/// A numeric field of a status line.
#[track_caller]
fn num(s: &Svc, key: &str) -> u64 {
    s.get(key)
        .parse()
        .unwrap_or_else(|_| panic!("no number {key}= in {:?}", s.line))
}

/// Wait until `name`'s accept counters are exactly these (they may lag).
#[track_caller]
fn wait_counters(d: &Daemon, name: &str, workers: u64, accepted: u64, dropped: u64) -> Svc {
    d.wait_svc(
        name,
        &format!("workers={workers} accepted={accepted} dropped={dropped}"),
        |s| {
            s.get("workers") == workers.to_string()
                && s.get("accepted") == accepted.to_string()
                && s.get("dropped") == dropped.to_string()
        },
    )
}

/// CPU time (user + system) a process has used so far.
fn cpu_time(pid: i32) -> Duration {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    let rest = stat.rsplit_once(')').expect("stat format").1;
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|w| w.parse().unwrap_or(0))
        .collect();
    // After "(comm)": field 3 (state) is f[0], so utime (14) and stime (15)
    // are f[11] and f[12], in clock ticks.
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis((f[11] + f[12]) * 1000 / hz)
}

/// The `NAME=VALUE` lines of `text` as a map.
fn env_map(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ---- activate: gunicorn -------------------------------------------------

/// gunicorn, started by vigild on the first connection with three listening
/// sockets (127.0.0.1, ::1, a unix socket): it takes them from LISTEN_FDS
/// only if LISTEN_PID is its own pid, and curl gets answers on all three from
/// one master. After gunicorn exits 0 (TERM) the service listens again and
/// the next request starts a new gunicorn.
#[test]
#[ignore = "needs .ci/system-tests (gunicorn, curl)"]
fn activate_gunicorn_on_tcp4_tcp6_and_unix() {
    let (p4, p6) = (free_v4(), free_v6());
    let conf = format!(
        "[web]\n\
         mode = activate\n\
         exec = \"{gunicorn}\" --workers 1 --graceful-timeout 5 --access-logfile - --chdir \"{fixtures}\" app:app\n\
         listen = tcp:127.0.0.1:{p4}\n\
         listen = tcp:[::1]:{p6}\n\
         listen = unix:@DIR@/web.sock\n\
         env = HOME=@DIR@\n\
         env = PYTHONDONTWRITEBYTECODE=1\n\
         stop_timeout = 5s\n",
        gunicorn = gunicorn(),
        fixtures = fixtures().display(),
    );
    let d = Daemon::start("gunicorn", &conf);
    let sock = d.dir.s("web.sock");

    // Nothing runs until a client comes; the unix socket is there, 0666.
    let s = d.wait_svc("web", "listening", |s| s.state() == "listening");
    assert_eq!(s.pid(), 0, "{}", s.line);
    assert_eq!(s.get("mode"), "activate", "{}", s.line);
    let meta = fs::metadata(&sock).unwrap_or_else(|e| d.fail(&format!("{sock}: {e}")));
    assert_eq!(
        meta.permissions().mode() & 0o7777,
        0o666,
        "default listen_mode of {sock}"
    );

    let expect = |body: &str, path: &str, local: &str| -> i32 {
        let want_tail = format!(" fdnames=web.0:web.1:web.2 local={local}");
        let master = body
            .strip_prefix(&format!("hello path={path} master="))
            .and_then(|r| r.trim_end().strip_suffix(&want_tail))
            .and_then(|m| m.parse().ok());
        match master {
            Some(m) => m,
            None => d.fail(&format!(
                "unexpected answer {body:?}, wanted \"hello path={path} master=PID{want_tail}\""
            )),
        }
    };

    // The first request starts gunicorn; it waits in the backlog meanwhile.
    let url4 = format!("http://127.0.0.1:{p4}/one");
    let master = expect(&curl_ok(&d, &[&url4]), "/one", &format!("127.0.0.1:{p4}"));
    let up = d.wait_svc("web", "up with gunicorn's pid", |s| {
        s.state() == "up" && s.pid() > 0
    });
    assert_eq!(
        up.pid(),
        master,
        "status pid vs gunicorn's master: {}",
        up.line
    );

    let url6 = format!("http://[::1]:{p6}/two");
    let m = expect(&curl_ok(&d, &["-g", &url6]), "/two", &format!("::1:{p6}"));
    assert_eq!(m, master, "the ::1 request was served by another master");
    let m = expect(
        &curl_ok(&d, &["--unix-socket", &sock, "http://localhost/three"]),
        "/three",
        &sock,
    );
    assert_eq!(m, master, "the unix request was served by another master");

    // gunicorn exits 0 on TERM: back to listening, the socket file stays.
    assert!(kill(master, libc::SIGTERM));
    let s = d.wait_svc("web", "listening again after exit 0", |s| {
        s.state() == "listening" && s.pid() == 0
    });
    assert_eq!(s.last(), "exit:0", "{}", s.line);
    d.wait_for("the old gunicorn master to be reaped", || {
        reaped(master).then_some(())
    });
    assert!(Path::new(&sock).exists(), "{sock} vanished");

    // The next request (on the unix socket this time) starts a new gunicorn.
    let m2 = expect(
        &curl_ok(&d, &["--unix-socket", &sock, "http://localhost/four"]),
        "/four",
        &sock,
    );
    assert_ne!(m2, master, "served by the old master");
    let up = d.wait_svc("web", "up with the new gunicorn", |s| {
        s.state() == "up" && s.pid() > 0
    });
    assert_eq!(up.pid(), m2, "{}", up.line);
    let m = expect(&curl_ok(&d, &["-g", &url6]), "/two", &format!("::1:{p6}"));
    assert_eq!(m, m2);
}

// ---- activate: what the service inherits ------------------------------------

/// A small Python server (`tests/system/activate.py`) started on demand
/// reports what it inherited: LISTEN_PID is its own pid, LISTEN_FDS=1,
/// LISTEN_FDNAMES is the service name, fd 3 is the listening socket, and no
/// other fd beyond 0-3. While it runs, a second pending client does not start
/// a second instance and vigild does not spin on the readable socket; exit 0
/// returns to listening and the pending client starts the next instance; a
/// failed exit goes through backoff back to listening.
#[test]
#[ignore = "needs .ci/system-tests (python3)"]
fn activate_hands_over_the_socket_and_restarts_on_demand() {
    let p = free_v4();
    let conf = format!(
        "[act]\n\
         mode = activate\n\
         exec = \"{python}\" \"{script}\"\n\
         listen = tcp:127.0.0.1:{p}\n\
         env = PYTHONDONTWRITEBYTECODE=1\n\
         backoff = 1s 2s\n",
        python = python(),
        script = fixtures().join("activate.py").display(),
    );
    let d = Daemon::start("activate", &conf);
    d.wait_svc("act", "listening", |s| s.state() == "listening");

    // Client A starts the service; it reports, then waits for A's exit code.
    let mut a = connect(&d, v4(p));
    let report_a = read_line(&mut a, DEADLINE)
        .unwrap_or_else(|| d.fail("no report from the activated service"));
    let env = env_map(&report_a.replace(' ', "\n"));
    let pid_a: i32 = env["pid"].parse().unwrap();
    assert_eq!(env["LISTEN_PID"], env["pid"], "LISTEN_PID: {report_a}");
    assert_eq!(env["LISTEN_FDS"], "1", "{report_a}");
    assert_eq!(env["LISTEN_FDNAMES"], "act", "{report_a}");
    assert_eq!(env["fds"], "0,1,2,3", "fds of the service: {report_a}");
    assert_eq!(env["fd3"], format!("listening:127.0.0.1:{p}"), "{report_a}");
    assert_eq!(
        env["peer"],
        a.local_addr().unwrap().to_string(),
        "{report_a}"
    );
    let up = d.wait_svc("act", "up", |s| s.state() == "up" && s.pid() > 0);
    assert_eq!(up.pid(), pid_a, "{}", up.line);

    // Client B waits in the backlog: no second instance, and no spinning.
    let mut b = connect(&d, v4(p));
    let cpu0 = cpu_time(d.pid());
    std::thread::sleep(Duration::from_secs(1));
    let cpu = cpu_time(d.pid()) - cpu0;
    assert!(
        cpu < Duration::from_millis(300),
        "vigild used {cpu:?} of CPU in 1 s while the service ran with a client pending: \
         it polls the handed-over socket"
    );
    let s = d.svc("act").unwrap();
    assert!(s.state() == "up" && s.pid() == pid_a, "{}", s.line);
    assert!(
        read_line(&mut b, Duration::from_millis(200)).is_none(),
        "B was served while A's instance still runs"
    );

    // A says "exit 0": back to listening, and B's connection starts the next.
    a.write_all(b"0\n").unwrap();
    assert!(read_to_end(&mut a, DEADLINE).text().is_empty());
    let report_b =
        read_line(&mut b, DEADLINE).unwrap_or_else(|| d.fail("B not served after A's exit 0"));
    let env_b = env_map(&report_b.replace(' ', "\n"));
    let pid_b: i32 = env_b["pid"].parse().unwrap();
    assert_ne!(pid_b, pid_a, "{report_b}");
    assert_eq!(env_b["LISTEN_PID"], env_b["pid"], "{report_b}");
    assert!(reaped(pid_a) || !alive(pid_a), "first instance still there");
    let s = d.wait_svc("act", "up with the second instance", |s| {
        s.state() == "up" && s.pid() == pid_b
    });
    assert_eq!(s.last(), "exit:0", "{}", s.line);

    // B says "exit 3": a failure, so backoff, then listening again.
    b.write_all(b"3\n").unwrap();
    let _ = read_to_end(&mut b, DEADLINE);
    let s = d.wait_svc("act", "backoff after exit 3", |s| s.state() == "backoff");
    assert_eq!(s.last(), "exit:3", "{}", s.line);
    let s = d.wait_svc("act", "listening after the backoff", |s| {
        s.state() == "listening"
    });
    assert_eq!(s.pid(), 0, "{}", s.line);

    // And a third client is served by a third instance.
    let mut c = connect(&d, v4(p));
    let report_c =
        read_line(&mut c, DEADLINE).unwrap_or_else(|| d.fail("C not served after the backoff"));
    let env_c = env_map(&report_c.replace(' ', "\n"));
    assert!(env_c["pid"] != env["pid"] && env_c["pid"] != env_b["pid"]);
    c.write_all(b"0\n").unwrap();
    let _ = read_to_end(&mut c, DEADLINE);
    d.wait_svc("act", "listening at the end", |s| s.state() == "listening");
}

/// Several listen lines: fds 3, 4, 5 in config order, LISTEN_FDS=3 and
/// LISTEN_FDNAMES=NAME.0:NAME.1:NAME.2; a connection on the last one (the
/// unix socket) starts the service too.
#[test]
#[ignore = "needs .ci/system-tests (python3)"]
fn activate_hands_over_several_sockets_in_config_order() {
    let (p4, p6) = (free_v4(), free_v6());
    let conf = format!(
        "[multi]\n\
         mode = activate\n\
         exec = \"{python}\" \"{script}\"\n\
         listen = tcp:[::1]:{p6}\n\
         listen = unix:@DIR@/multi.sock\n\
         listen = tcp:127.0.0.1:{p4}\n\
         env = PYTHONDONTWRITEBYTECODE=1\n",
        python = python(),
        script = fixtures().join("activate.py").display(),
    );
    let d = Daemon::start("activatemulti", &conf);
    d.wait_svc("multi", "listening", |s| s.state() == "listening");
    let sock = d.dir.s("multi.sock");
    let mut u = UnixStream::connect(&sock).unwrap_or_else(|e| d.fail(&format!("{sock}: {e}")));
    let report = read_line(&mut u, DEADLINE).unwrap_or_else(|| d.fail("no report"));
    let env = env_map(&report.replace(' ', "\n"));
    assert_eq!(env["LISTEN_PID"], env["pid"], "{report}");
    assert_eq!(env["LISTEN_FDS"], "3", "{report}");
    assert_eq!(env["LISTEN_FDNAMES"], "multi.0:multi.1:multi.2", "{report}");
    assert_eq!(env["fds"], "0,1,2,3,4,5", "{report}");
    assert_eq!(env["fd3"], format!("listening:::1:{p6}"), "{report}");
    assert_eq!(env["fd4"], format!("listening:{sock}"), "{report}");
    assert_eq!(env["fd5"], format!("listening:127.0.0.1:{p4}"), "{report}");
    u.write_all(b"0\n").unwrap();
    let _ = read_to_end(&mut u, DEADLINE);
    let s = d.wait_svc("multi", "listening after exit 0", |s| {
        s.state() == "listening"
    });
    assert_eq!(s.last(), "exit:0", "{}", s.line);
}

// ---- accept: BusyBox httpd -i --------------------------------------------

/// BusyBox `httpd -i` (inetd mode: the request on stdin, the answer on
/// stdout) serves a file, over 127.0.0.1 and ::1, one worker per request.
#[test]
#[ignore = "needs .ci/system-tests (busybox-static, curl)"]
fn accept_busybox_httpd() {
    let dir = TempDir::new("httpd");
    fs::create_dir(dir.join("www")).unwrap();
    fs::write(dir.join("www/index.html"), "hello from busybox httpd\n").unwrap();
    let (p4, p6) = (free_v4(), free_v6());
    let conf = format!(
        "[www]\n\
         mode = accept\n\
         exec = \"{busybox}\" httpd -i -h @DIR@/www\n\
         listen = tcp:127.0.0.1:{p4}\n\
         listen = tcp:[::1]:{p6}\n",
        busybox = busybox(),
    );
    let d = Daemon::start_in(dir, &conf, Opts::default());
    let s = d.wait_svc("www", "listening", |s| s.state() == "listening");
    assert_eq!(s.get("mode"), "accept", "{}", s.line);

    let body = curl_ok(&d, &[&format!("http://127.0.0.1:{p4}/index.html")]);
    assert_eq!(body, "hello from busybox httpd\n");
    let body = curl_ok(&d, &["-g", &format!("http://[::1]:{p6}/")]);
    assert_eq!(body, "hello from busybox httpd\n");
    let head = curl_ok(
        &d,
        &[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://127.0.0.1:{p4}/missing.html"),
        ],
    );
    assert_eq!(head, "404");
    let s = wait_counters(&d, "www", 0, 3, 0);
    assert_eq!(s.state(), "listening", "{}", s.line);
    assert_eq!(s.pid(), 0, "{}", s.line);
}

// ---- accept: the worker's environment and fds ----------------------------

/// A shell worker reports its environment and fds: ucspi-tcp and systemd
/// variables with the real addresses (IPv6 without brackets), the
/// connection on fds 0 and 1, stderr into vigild's stderr (log = inherit),
/// no other fd; PROTO=UNIX and no TCP variables on a unix socket.
#[test]
#[ignore = "needs .ci/system-tests"]
fn accept_worker_environment() {
    let (p4, p6) = (free_v4(), free_v6());
    let conf = format!(
        "[envd]\n\
         mode = accept\n\
         exec = /bin/sh -c \"env; ls -l /proc/$$/fd; echo envd-worker-stderr-$$ >&2\"\n\
         listen = tcp:127.0.0.1:{p4}\n\
         listen = tcp:[::1]:{p6}\n\
         listen = unix:@DIR@/envd.sock\n\
         listen_mode = 0600\n"
    );
    let d = Daemon::start("acceptenv", &conf);
    d.wait_svc("envd", "listening", |s| s.state() == "listening");

    let check_fds = |out: &str| {
        // "lrwx------ 1 root root 64 Nov 21 14:30 0 -> socket:[123]"
        let fds: Vec<(String, String)> = out
            .lines()
            .filter_map(|l| {
                let (left, target) = l.split_once(" -> ")?;
                Some((left.rsplit(' ').next()?.to_string(), target.to_string()))
            })
            .collect();
        let nums: Vec<&str> = fds.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(nums, ["0", "1", "2"], "worker fds:\n{out}");
        assert!(
            fds[0].1.starts_with("socket:[") && fds[0].1 == fds[1].1,
            "fds 0 and 1 must be the connection:\n{out}"
        );
        assert!(
            !fds[2].1.starts_with("socket:"),
            "stderr is a socket:\n{out}"
        );
    };

    for (addr, ip) in [(v4(p4), "127.0.0.1"), (v6(p6), "::1")] {
        let mut c = connect(&d, addr);
        let me = c.local_addr().unwrap();
        let out = read_to_end(&mut c, DEADLINE);
        let End::Eof(_) = out else {
            d.fail(&format!("worker over {addr}: {out:?}"));
        };
        let text = out.text();
        let env = env_map(&text);
        let want = [
            ("PROTO", "TCP".to_string()),
            ("TCPREMOTEIP", ip.to_string()),
            ("TCPREMOTEPORT", me.port().to_string()),
            ("TCPLOCALIP", ip.to_string()),
            ("TCPLOCALPORT", addr.port().to_string()),
            ("REMOTE_ADDR", ip.to_string()),
            ("REMOTE_PORT", me.port().to_string()),
        ];
        for (k, v) in want {
            assert_eq!(
                env.get(k).map(String::as_str),
                Some(v.as_str()),
                "{k} over {addr}; the worker printed:\n{text}"
            );
        }
        for k in ["LISTEN_FDS", "LISTEN_PID", "NOTIFY_SOCKET"] {
            assert!(!env.contains_key(k), "{k} in an accept worker:\n{text}");
        }
        check_fds(&text);
    }

    let sock = d.dir.join("envd.sock");
    let mode = fs::metadata(&sock).unwrap().permissions().mode() & 0o7777;
    assert_eq!(
        mode, 0o600,
        "listen_mode = 0600 but the socket has {mode:o}"
    );
    let mut u =
        UnixStream::connect(&sock).unwrap_or_else(|e| d.fail(&format!("connect unix: {e}")));
    let out = read_to_end(&mut u, DEADLINE);
    let End::Eof(_) = out else {
        d.fail(&format!("worker over the unix socket: {out:?}"));
    };
    let text = out.text();
    let env = env_map(&text);
    assert_eq!(env.get("PROTO").map(String::as_str), Some("UNIX"), "{text}");
    for k in ["TCPREMOTEIP", "TCPREMOTEPORT", "TCPLOCALIP", "TCPLOCALPORT"] {
        assert!(
            !env.contains_key(k),
            "{k} set for a unix connection:\n{text}"
        );
    }
    check_fds(&text);

    // The workers' stderr went to vigild's stderr (log = inherit).
    let n = || d.stderr.text().matches("envd-worker-stderr-").count();
    if poll_until(DEADLINE, || (n() >= 3).then_some(())).is_none() {
        d.fail(&format!(
            "{} of 3 worker stderr lines in vigild's stderr",
            n()
        ));
    }
    let s = wait_counters(&d, "envd", 0, 3, 0);
    assert_eq!(s.state(), "listening", "{}", s.line);

    // vigild removes its unix socket file when it exits.
    d.signal(libc::SIGTERM);
    d.wait_exit(DEADLINE);
    assert!(!sock.exists(), "{} left behind", sock.display());
}

// ---- accept: max_workers queues, never refuses ---------------------------

/// max_workers = 2 and six clients at once, each worker taking 0.3 s: never
/// more than two workers run, every client gets its line (the later ones
/// about 0.3 s and 0.6 s later), none is refused or dropped.
#[test]
#[ignore = "needs .ci/system-tests"]
fn accept_max_workers_queues_clients() {
    let p = free_v4();
    let conf = format!(
        "[slow]\n\
         mode = accept\n\
         exec = /bin/sh -c \"echo start $(date +%s%N) >> @DIR@/log; sleep 0.3; echo end $(date +%s%N) >> @DIR@/log; echo served\"\n\
         listen = tcp:127.0.0.1:{p}\n\
         max_workers = 2\n"
    );
    let d = Daemon::start("maxworkers", &conf);
    d.wait_svc("slow", "listening", |s| s.state() == "listening");

    let n = 6;
    let barrier = Arc::new(Barrier::new(n));
    let t0 = Instant::now();
    let clients: Vec<_> = (0..n)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let mut c = TcpStream::connect_timeout(&v4(p), DEADLINE)
                    .map_err(|e| format!("connect: {e}"))?;
                let out = read_to_end(&mut c, DEADLINE);
                Ok::<_, String>((out, t0.elapsed()))
            })
        })
        .collect();
    let mut results = Vec::new();
    let mut peak = 0;
    while !clients.iter().all(|c| c.is_finished()) {
        if let Some(s) = d.svc("slow")
            && let Ok(w) = s.get("workers").parse::<u64>()
        {
            peak = peak.max(w);
        }
        std::thread::sleep(TICK);
    }
    for c in clients {
        results.push(c.join().unwrap());
    }
    let mut times = Vec::new();
    for r in &results {
        match r {
            Ok((End::Eof(b), t)) if b == b"served\n" => times.push(*t),
            other => d.fail(&format!(
                "a client was not served: {other:?} (all: {results:?})"
            )),
        }
    }
    times.sort();
    // Three rounds of two: the last ones wait for two workers before them.
    assert!(
        times[5] >= Duration::from_millis(850),
        "all six served within {:?}: max_workers = 2 did not hold them back ({times:?})",
        times[5]
    );
    assert!(peak <= 2, "status showed workers={peak}");

    // The workers' own log: never more than two ran at once.
    let log = fs::read_to_string(d.dir.join("log")).unwrap();
    let mut events: Vec<(u128, i32)> = log
        .lines()
        .map(|l| {
            let (what, t) = l.split_once(' ').unwrap();
            (
                t.trim().parse().unwrap(),
                if what == "start" { 1 } else { -1 },
            )
        })
        .collect();
    events.sort();
    let (mut running, mut most) = (0, 0);
    for (_, delta) in &events {
        running += delta;
        most = most.max(running);
    }
    assert_eq!(events.len(), 12, "worker log:\n{log}");
    assert!(most <= 2, "{most} workers ran at once:\n{log}");
    assert_eq!(most, 2, "never two at once:\n{log}");

    let s = wait_counters(&d, "slow", 0, 6, 0);
    assert_eq!(s.state(), "listening", "{}", s.line);
}

// ---- accept: max_per_ip ----------------------------------------------------

/// The pid in a worker's greeting `hi PID`, failing with diagnostics.
#[track_caller]
fn greeting(d: &Daemon, who: &str, line: Option<String>) -> i32 {
    line.as_deref()
        .and_then(|l| l.strip_prefix("hi "))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| d.fail(&format!("{who}: no worker greeting, got {line:?}")))
}

/// Wait until vigild has reaped the worker `pid` (so it no longer counts).
#[track_caller]
fn wait_reaped(d: &Daemon, pid: i32) {
    d.wait_for(&format!("worker {pid} to be reaped"), || {
        reaped(pid).then_some(())
    });
}

/// Wait until the status file shows `workers=n` for `name`; it may lag
/// behind by about a second, not more than 3 s.
#[track_caller]
fn wait_workers(d: &Daemon, name: &str, n: u64, why: &str) -> Svc {
    let t = Instant::now();
    let s = d.wait_svc(name, &format!("workers={n} {why}"), |s| {
        s.get("workers") == n.to_string()
    });
    if t.elapsed() > Duration::from_secs(3) {
        d.fail(&format!(
            "the status file showed workers={n} ({why}) only after {:?}",
            t.elapsed()
        ));
    }
    s
}

/// max_per_ip = 1: while a client from 127.0.0.1 holds a worker, a second
/// one from 127.0.0.1 is closed at once without data and counted as dropped;
/// a client from ::1 (another address) is still served; once the first
/// worker has ended, 127.0.0.1 is served again, and the status file shows
/// the workers gone.
#[test]
#[ignore = "needs .ci/system-tests"]
fn accept_max_per_ip_drops_the_second_connection() {
    let (p4, p6) = (free_v4(), free_v6());
    let conf = format!(
        "[perip]\n\
         mode = accept\n\
         exec = /bin/sh -c \"echo hi $$; read x; echo bye $x\"\n\
         listen = tcp:127.0.0.1:{p4}\n\
         listen = tcp:[::1]:{p6}\n\
         max_per_ip = 1\n"
    );
    let d = Daemon::start("perip", &conf);
    d.wait_svc("perip", "listening", |s| s.state() == "listening");

    let mut a = connect(&d, v4(p4));
    let worker_a = greeting(&d, "first client", read_line(&mut a, DEADLINE));

    let t = Instant::now();
    let mut b = connect(&d, v4(p4));
    let out = read_to_end(&mut b, Duration::from_secs(3));
    assert!(
        out.closed_empty(),
        "second client from 127.0.0.1 must be closed without data, got {out:?}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "closed only after {:?}",
        t.elapsed()
    );
    // (Whether `accepted` counts the dropped connection too is left open.)
    let s = d.wait_svc("perip", "workers=1 dropped=1", |s| {
        s.get("workers") == "1" && s.get("dropped") == "1"
    });
    assert_eq!(s.state(), "listening", "{}", s.line);

    // Another address is not limited by 127.0.0.1's worker.
    let mut c6 = connect(&d, v6(p6));
    let worker_6 = greeting(&d, "client from ::1", read_line(&mut c6, DEADLINE));
    c6.write_all(b"six\n").unwrap();
    let out = read_to_end(&mut c6, DEADLINE);
    assert_eq!(out.text(), "bye six\n", "{out:?}");

    // The first worker ends; 127.0.0.1 is welcome again at once.
    a.write_all(b"one\n").unwrap();
    assert_eq!(read_to_end(&mut a, DEADLINE).text(), "bye one\n");
    wait_reaped(&d, worker_a);
    wait_reaped(&d, worker_6);
    wait_workers(&d, "perip", 0, "once both workers ended");
    let mut c = connect(&d, v4(p4));
    greeting(
        &d,
        "127.0.0.1 after its worker ended",
        read_line(&mut c, DEADLINE),
    );
    c.write_all(b"three\n").unwrap();
    assert_eq!(read_to_end(&mut c, DEADLINE).text(), "bye three\n");

    let s = wait_workers(&d, "perip", 0, "after the last worker ended");
    assert_eq!(num(&s, "dropped"), 1, "{}", s.line);
}

// ---- accept: backlog --------------------------------------------------------

/// backlog = 1 with the one worker busy (max_workers = 1, so vigild does not
/// accept): the kernel queues backlog + 1 = 2 connections; further clients
/// cannot even connect (their SYN is dropped), none is closed by vigild.
#[test]
#[ignore = "needs .ci/system-tests"]
fn accept_backlog_is_applied() {
    let p = free_v4();
    let conf = format!(
        "[queue]\n\
         mode = accept\n\
         exec = /bin/sh -c \"echo hi $$; read x\"\n\
         listen = tcp:127.0.0.1:{p}\n\
         max_workers = 1\n\
         drop_timeout = 1m\n\
         backlog = 1\n"
    );
    let d = Daemon::start("backlog", &conf);
    d.wait_svc("queue", "listening", |s| s.state() == "listening");
    let mut a = connect(&d, v4(p));
    greeting(&d, "client A", read_line(&mut a, DEADLINE));

    let mut held = Vec::new();
    let mut failed = 0;
    for _ in 0..6 {
        match TcpStream::connect_timeout(&v4(p), Duration::from_millis(300)) {
            Ok(c) => held.push(c),
            Err(_) => failed += 1,
        }
    }
    assert_eq!(
        held.len(),
        2,
        "with backlog = 1 the kernel queues 2 connections, but {} connected ({failed} failed)",
        held.len()
    );
    let s = d.svc("queue").unwrap();
    assert_eq!(s.get("dropped"), "0", "{}", s.line);
}

// ---- accept: drop_timeout --------------------------------------------------

/// max_workers = 1, drop_timeout = 500ms: a client that comes while the one
/// worker is busy waits in the backlog; once the limit has held for 500 ms,
/// waiting and new connections are accepted and closed, counted as dropped,
/// with a warning naming max_workers. When the worker ends, clients are
/// served again at once.
#[test]
#[ignore = "needs .ci/system-tests"]
fn accept_drop_timeout_closes_connections_at_the_limit() {
    let p = free_v4();
    let conf = format!(
        "[one]\n\
         mode = accept\n\
         exec = /bin/sh -c \"echo hi $$; read x; echo bye\"\n\
         listen = tcp:127.0.0.1:{p}\n\
         max_workers = 1\n\
         drop_timeout = 500ms\n"
    );
    let d = Daemon::start("droptimeout", &conf);
    d.wait_svc("one", "listening", |s| s.state() == "listening");

    let t_a = Instant::now();
    let mut a = connect(&d, v4(p));
    let worker_a = greeting(&d, "client A", read_line(&mut a, DEADLINE));

    // B waits, then is closed (not served) once drop_timeout has passed.
    let mut b = connect(&d, v4(p));
    let out = read_to_end(&mut b, Duration::from_secs(5));
    let waited = t_a.elapsed();
    assert!(out.closed_empty(), "client B at the limit: {out:?}");
    assert!(
        waited >= Duration::from_millis(450),
        "B was closed {waited:?} after A came, before drop_timeout = 500ms"
    );

    // Still at the limit: a new client is closed at once.
    let t = Instant::now();
    let mut c = connect(&d, v4(p));
    let out = read_to_end(&mut c, Duration::from_secs(3));
    assert!(out.closed_empty(), "client C at the limit: {out:?}");
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "C closed after {:?}",
        t.elapsed()
    );

    d.wait_stderr("max_workers");
    let s = d.wait_svc("one", "dropped=2", |s| s.get("dropped") == "2");
    assert_eq!(s.get("workers"), "1", "{}", s.line);

    // A's worker ends: the next client is served at once.
    a.write_all(b"x\n").unwrap();
    assert_eq!(read_to_end(&mut a, DEADLINE).text(), "bye\n");
    wait_reaped(&d, worker_a);
    wait_workers(&d, "one", 0, "once A's worker ended");
    let mut e = connect(&d, v4(p));
    let worker_e = greeting(
        &d,
        "client E after the worker ended",
        read_line(&mut e, DEADLINE),
    );
    e.write_all(b"x\n").unwrap();
    assert_eq!(read_to_end(&mut e, DEADLINE).text(), "bye\n");
    wait_reaped(&d, worker_e);
    let s = wait_workers(&d, "one", 0, "once E's worker ended");
    assert_eq!(num(&s, "dropped"), 2, "{}", s.line);
}

// ---- accept: stop and start -------------------------------------------------

/// `stop` of an accept service stops listening and sends the stop signal to
/// its workers; `start` serves again.
#[test]
#[ignore = "needs .ci/system-tests"]
fn accept_stop_signals_workers_and_start_listens_again() {
    let p = free_v4();
    let conf = format!(
        "[hold]\n\
         mode = accept\n\
         exec = /bin/sh -c \"echo pid $$; exec sleep 1000\"\n\
         listen = tcp:127.0.0.1:{p}\n\
         stop_timeout = 5s\n"
    );
    let d = Daemon::start("acceptstop", &conf);
    d.wait_svc("hold", "listening", |s| s.state() == "listening");

    let mut c = connect(&d, v4(p));
    let line = read_line(&mut c, DEADLINE).unwrap_or_else(|| d.fail("no pid line"));
    let worker: i32 = line.strip_prefix("pid ").unwrap().parse().unwrap();
    d.wait_svc("hold", "workers=1", |s| s.get("workers") == "1");

    let t = Instant::now();
    let lines = d.request("stop hold");
    assert!(lines.iter().any(|l| l == "stopped hold"), "stop: {lines:?}");
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "stop took {:?}: the worker got no TERM (only KILL after stop_timeout)",
        t.elapsed()
    );
    d.wait_for("the worker to be gone", || (!alive(worker)).then_some(()));
    let out = read_to_end(&mut c, DEADLINE);
    assert!(matches!(out, End::Eof(_) | End::Reset(_)), "{out:?}");
    let s = d.wait_svc("hold", "down", |s| s.state() == "down");
    assert_eq!(s.pid(), 0, "{}", s.line);

    // Not listening: refused, or (the socket kept, as the README says) a
    // client waits in the backlog unserved, and is served after `start`.
    let late = match TcpStream::connect_timeout(&v4(p), Duration::from_secs(2)) {
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
            None
        }
        Ok(mut late) => {
            let out = read_line(&mut late, Duration::from_millis(500));
            assert!(out.is_none(), "served while stopped: {out:?}");
            Some(late)
        }
    };

    // The request resolves (the reply FIFO is closed), and not as a failure.
    let lines = d.request("start hold");
    assert!(
        !lines.is_empty() && !lines.iter().any(|l| l.starts_with("start-failed")),
        "start: {lines:?}"
    );
    d.wait_svc("hold", "listening", |s| s.state() == "listening");
    if let Some(mut late) = late {
        let line = read_line(&mut late, DEADLINE)
            .unwrap_or_else(|| d.fail("the client that waited while stopped was not served"));
        assert!(line.starts_with("pid "), "{line:?}");
    }
    let mut c = connect(&d, v4(p));
    let line = read_line(&mut c, DEADLINE).unwrap_or_else(|| d.fail("not served after start"));
    assert!(line.starts_with("pid "), "{line:?}");
}

// ---- accept: a flood with 32 file descriptors -------------------------------

/// A vigild started by the test itself (the harness offers no way to lower
/// vigild's RLIMIT_NOFILE before exec): same discipline as the harness'
/// `Daemon` — it is stopped by pid on drop (TERM, then KILL), and every
/// process it started, found by a tag in its environment, is KILLed.
struct LimitedVigild {
    dir: TempDir,
    run: PathBuf,
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
    tag: String,
}

const TAG_VAR: &str = "VIGILD_TEST_TAG";

impl LimitedVigild {
    fn start(tag: &str, conf: &str, nofile: u64) -> LimitedVigild {
        let dir = TempDir::new(tag);
        let conf_path = dir.join("vigild.conf");
        fs::write(&conf_path, fill(conf, &dir)).unwrap();
        let run = dir.join("run");
        let tag = dir.path.to_str().unwrap().to_string();
        let mut cmd = Command::new(vigild_bin());
        cmd.arg("-f")
            .arg("-c")
            .arg(&conf_path)
            .arg("-r")
            .arg(&run)
            .env(TAG_VAR, &tag)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // SAFETY: only the async-signal-safe setrlimit between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: nofile as libc::rlim_t,
                    rlim_max: nofile as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("spawn vigild");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut from = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = from.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        let v = LimitedVigild {
            dir,
            run,
            child,
            stderr,
            tag,
        };
        v.wait_for(
            "control FIFO has a reader and the status file exists",
            || {
                let fifo = fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(v.run.join("control"));
                (fifo.is_ok() && v.run.join("status").exists()).then_some(())
            },
        );
        v
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    fn alive(&self) -> bool {
        alive(self.pid())
    }

    #[track_caller]
    fn fail(&self, msg: &str) -> ! {
        panic!(
            "{msg}\n--- status file ---\n{}--- vigild stderr ---\n{}",
            fs::read_to_string(self.run.join("status")).unwrap_or_default(),
            self.stderr_text()
        )
    }

    #[track_caller]
    fn wait_for<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(v) = f() {
                return v;
            }
            if !self.alive() {
                self.fail(&format!("vigild died while waiting for: {what}"));
            }
            if Instant::now() >= end {
                self.fail(&format!("timed out after {DEADLINE:?} waiting for: {what}"));
            }
            std::thread::sleep(TICK);
        }
    }

    fn svc(&self, name: &str) -> Option<Svc> {
        fs::read_to_string(self.run.join("status"))
            .unwrap_or_default()
            .lines()
            .filter_map(Svc::parse)
            .find(|s| s.name == name)
    }
}

impl Drop for LimitedVigild {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            kill(self.pid(), libc::SIGTERM);
            if poll_until(DEADLINE, || self.child.try_wait().ok().flatten()).is_none() {
                kill(self.pid(), libc::SIGKILL);
                let _ = self.child.wait();
            }
        }
        let needle = format!("{TAG_VAR}={}", self.tag);
        if let Ok(entries) = fs::read_dir("/proc") {
            for pid in entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok()) {
                let tagged = fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|&b| b == 0).any(|e| e == needle.as_bytes()));
                if tagged && alive(pid) {
                    kill(pid, libc::SIGKILL);
                }
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "--- vigild stderr ({}) ---\n{}",
                self.dir.path.display(),
                self.stderr_text()
            );
        }
    }
}

/// vigild with RLIMIT_NOFILE = 32 (as under `ulimit -n 32`) and an accept
/// service (default max_workers = 64, more than it has fds): 200 connections
/// in a burst from 10 threads, each held open while the burst lasts. vigild
/// stays alive, its CPU time over the flood stays bounded (no busy loop on
/// EMFILE or on a socket it cannot accept from), it is idle afterwards, and
/// it still serves a client after the flood.
#[test]
#[ignore = "needs .ci/system-tests"]
fn accept_flood_with_32_fds() {
    let p = free_v4();
    let conf = format!(
        "[flood]\n\
         mode = accept\n\
         exec = /bin/sh -c \"echo ok; sleep 0.3\"\n\
         listen = tcp:127.0.0.1:{p}\n"
    );
    let v = LimitedVigild::start("flood", &conf, 32);
    let limits = fs::read_to_string(format!("/proc/{}/limits", v.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>()[3..5],
        ["32", "32"],
        "{line}"
    );
    v.wait_for("listening", || {
        v.svc("flood").filter(|s| s.state() == "listening")
    });

    let cpu0 = cpu_time(v.pid());
    let t0 = Instant::now();
    let threads = 10;
    let per_thread = 20;
    let barrier = Arc::new(Barrier::new(threads));
    let done = Arc::new(Barrier::new(threads));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (barrier, done) = (barrier.clone(), done.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut held = Vec::new();
                let mut failed = 0;
                for _ in 0..per_thread {
                    match TcpStream::connect_timeout(&v4(p), Duration::from_millis(500)) {
                        Ok(s) => held.push(s),
                        Err(_) => failed += 1,
                    }
                }
                done.wait();
                (held.len(), failed)
            })
        })
        .collect();
    let (mut connected, mut failed) = (0, 0);
    for w in workers {
        let (c, f) = w.join().unwrap();
        connected += c;
        failed += f;
    }
    let burst = t0.elapsed();
    if !v.alive() {
        v.fail("vigild died in the flood");
    }

    // A later client gets its line (behind whatever is still queued).
    let served = poll_until(Duration::from_secs(20), || {
        let mut c = TcpStream::connect_timeout(&v4(p), Duration::from_secs(1)).ok()?;
        match read_to_end(&mut c, Duration::from_secs(5)) {
            End::Eof(b) if b == b"ok\n" => Some(()),
            _ => None,
        }
    });
    if served.is_none() {
        v.fail("no client served after the flood");
    }
    let cpu1 = cpu_time(v.pid());
    // Idle afterwards: no spinning once the flood is over.
    std::thread::sleep(Duration::from_secs(2));
    let cpu2 = cpu_time(v.pid());
    if !v.alive() {
        v.fail("vigild died after the flood");
    }
    let s = v.svc("flood").unwrap();
    eprintln!(
        "flood: {connected} connected, {failed} failed to connect in {burst:?}; \
         vigild CPU {:?} during, {:?} in 2 s after; {}",
        cpu1 - cpu0,
        cpu2 - cpu1,
        s.line
    );
    assert!(
        cpu2 - cpu0 < Duration::from_secs(3),
        "vigild used {:?} of CPU over the flood",
        cpu2 - cpu0
    );
    assert!(
        cpu2 - cpu1 < Duration::from_millis(300),
        "vigild used {:?} of CPU in the 2 s after the flood: it spins",
        cpu2 - cpu1
    );
    assert!(connected > 0, "no connection at all got through");
    assert_eq!(s.state(), "listening", "{}", s.line);
    assert!(num(&s, "accepted") >= 1, "{}", s.line);
}

/// Set `pid`'s RLIMIT_NOFILE.
fn set_nofile(pid: i32, soft: u64, hard: u64) {
    let lim = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: prlimit with a valid new limit and no old-limit pointer.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &lim, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// The lowest fd number `pid` does not have open.
fn lowest_free_fd(pid: i32) -> u64 {
    let open: std::collections::BTreeSet<u64> = fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("list /proc/PID/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    (0..).find(|n| !open.contains(n)).unwrap()
}

/// Out of file descriptors: vigild's soft RLIMIT_NOFILE is lowered (with
/// prlimit) to its lowest free fd, so accept(2) fails with EMFILE while a
/// client waits. vigild must neither spin on the readable listener nor die,
/// nor log a line per retry without end; once the limit is raised again the
/// waiting client is served.
#[test]
#[ignore = "needs .ci/system-tests"]
fn accept_emfile_pauses_without_spinning() {
    let p = free_v4();
    let conf = format!(
        "[emfile]\n\
         mode = accept\n\
         exec = /bin/sh -c \"echo ok\"\n\
         listen = tcp:127.0.0.1:{p}\n"
    );
    let v = LimitedVigild::start("emfile", &conf, 32);
    v.wait_for("listening", || {
        v.svc("emfile").filter(|s| s.state() == "listening")
    });
    // A first client proves the service works before the squeeze.
    let mut c = TcpStream::connect_timeout(&v4(p), DEADLINE).unwrap();
    assert_eq!(read_to_end(&mut c, DEADLINE).text(), "ok\n");

    let free = lowest_free_fd(v.pid());
    set_nofile(v.pid(), free, 32);
    let lines_before = v.stderr_text().lines().count();
    let cpu0 = cpu_time(v.pid());
    let mut c = TcpStream::connect_timeout(&v4(p), DEADLINE).unwrap();
    let early = read_to_end(&mut c, Duration::from_secs(2));
    let cpu = cpu_time(v.pid()) - cpu0;
    if !v.alive() {
        v.fail("vigild died when accept(2) failed with EMFILE");
    }
    let logged = v.stderr_text().lines().count() - lines_before;
    eprintln!(
        "emfile: soft limit {free}; in 2 s: CPU {cpu:?}, {logged} log lines, client saw {early:?}"
    );
    assert!(
        cpu < Duration::from_millis(300),
        "vigild used {cpu:?} of CPU in 2 s while accept(2) failed with EMFILE: it spins"
    );
    assert!(
        logged <= 5,
        "{logged} log lines in 2 s of EMFILE: the warning is not rate-limited\n{}",
        v.stderr_text()
    );

    // Room again: the waiting client (or, if it was closed, a new one) is served.
    set_nofile(v.pid(), 32, 32);
    let served = match early {
        End::Timeout(b) if b.is_empty() => read_to_end(&mut c, DEADLINE).text() == "ok\n",
        _ => {
            let mut c = TcpStream::connect_timeout(&v4(p), DEADLINE).unwrap();
            read_to_end(&mut c, DEADLINE).text() == "ok\n"
        }
    };
    if !served {
        v.fail("no client served after the fd limit was raised again");
    }
}

// ---- pool ---------------------------------------------------------------

/// A dovecot-style pool of Python workers (`tests/system/poolworker.py`,
/// two client slots each, accepting by themselves on the socket vigild
/// bound): six clients at once make it grow from `procs_min` = 1 to
/// `procs_max` = 3 workers, a seventh waits in the backlog; when the
/// clients are gone the idle workers get SIGINT after `idle_kill` and the
/// pool is back at one worker, which still serves.
#[test]
#[ignore = "needs .ci/system-tests (python3)"]
fn pool_of_python_workers_grows_under_load_and_shrinks_when_idle() {
    let port = free_v4();
    let worker = fixtures().join("poolworker.py");
    let conf = format!(
        "[imap]\nmode = pool\nlisten = tcp:127.0.0.1:{port}\nexec = {} {} 2\n\
         procs_min = 1\nprocs_max = 3\nidle_kill = 1s\n",
        python(),
        worker.display()
    );
    let d = Daemon::start("sys-pool", &conf);
    let idle = d.wait_svc("imap", "one worker reporting", |s| {
        s.get("procs") == "1" && s.get("available") == "2"
    });
    assert_eq!(idle.state(), "up");

    let mut clients = vec![];
    let mut pids = std::collections::BTreeSet::new();
    for i in 0..6 {
        let mut c = connect(&d, v4(port));
        let line = read_line(&mut c, DEADLINE)
            .unwrap_or_else(|| d.fail(&format!("client {i} got no greeting")));
        pids.insert(line);
        clients.push(c);
    }
    assert_eq!(pids.len(), 3, "six clients over three workers: {pids:?}");
    let full = d.wait_svc("imap", "three full workers", |s| {
        s.get("procs") == "3" && s.get("available") == "0"
    });
    assert_eq!(full.state(), "up");

    let mut seventh = connect(&d, v4(port));
    assert_eq!(
        read_line(&mut seventh, Duration::from_millis(700)),
        None,
        "a seventh client is served beyond procs_max"
    );
    drop(seventh);
    assert_eq!(d.svc("imap").unwrap().get("procs"), "3");

    drop(clients);
    let t = Instant::now();
    let shrunk = d.wait_svc("imap", "back to one idle worker", |s| {
        s.get("procs") == "1" && s.get("available") == "2"
    });
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "shrank after {took:?}, before idle_kill"
    );
    assert_eq!(shrunk.state(), "up");
    assert_eq!(
        shrunk.reason(),
        "",
        "an idle kill is no failure: {}",
        shrunk.line
    );

    let mut again = connect(&d, v4(port));
    let line = read_line(&mut again, DEADLINE).unwrap_or_else(|| d.fail("no greeting"));
    assert!(pids.contains(&line), "served by a worker of before: {line}");
}

// ---- ready = notify: redis and gunicorn -------------------------------------

/// Read `name`'s status line every millisecond (the harness' waits look
/// every 10 ms; a short `starting` needs a closer look) and hand each line
/// that differs from the one before to `seen` the moment it is read, until
/// `seen` says that was the one; every line handed over, in order.
#[track_caller]
fn watch(d: &Daemon, name: &str, what: &str, mut seen: impl FnMut(&Svc) -> bool) -> Vec<Svc> {
    let end = Instant::now() + DEADLINE;
    let mut lines: Vec<Svc> = Vec::new();
    loop {
        if let Some(s) = d.svc(name)
            && lines.last().is_none_or(|l| l.line != s.line)
        {
            let done = seen(&s);
            lines.push(s);
            if done {
                return lines;
            }
        }
        if let Some(st) = d.exited() {
            d.fail(&format!(
                "vigild exited ({st}) while watching {name} for: {what}"
            ));
        }
        if Instant::now() >= end {
            let lines: Vec<&str> = lines.iter().map(|s| s.line.as_str()).collect();
            d.fail(&format!(
                "timed out after {DEADLINE:?} watching {name} for: {what}; saw {lines:#?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The first line that said `up` (the last of `lines`), once the ping sent
/// the moment it was read answered PONG and every line before it said
/// `starting`.
#[track_caller]
fn up_with_pong(d: &Daemon, pong: &str, lines: &[Svc]) -> Svc {
    let up = lines.last().unwrap().clone();
    if pong != "PONG" {
        redis_fail(
            d,
            &format!("ping at the first look that said up: {pong:?}; {}", up.line),
        );
    }
    starting_until_up(d, lines);
    up
}

/// Every line but the last (the `up` one) says `starting`, with the pid
/// that went `up`: one process, never up before it said so.
#[track_caller]
fn starting_until_up(d: &Daemon, lines: &[Svc]) {
    let up = lines.last().unwrap();
    for s in &lines[..lines.len() - 1] {
        if s.state() != "starting" || s.pid() != up.pid() {
            let all: Vec<&str> = lines.iter().map(|s| s.line.as_str()).collect();
            d.fail(&format!(
                "before `up` (pid {}) the status file said {:?}; every line: {all:#?}",
                up.pid(),
                s.line
            ));
        }
    }
}

/// The lines seen, for the test's output.
fn states(lines: &[Svc]) -> String {
    let words: Vec<String> = lines
        .iter()
        .map(|s| match s.get("status") {
            "" => s.state().to_string(),
            status => format!("{}({status})", s.state()),
        })
        .collect();
    words.join(" -> ")
}

/// One redis-cli command against 127.0.0.1:`port`, never retried: what it
/// printed (stdout, then stderr), trimmed.
fn redis_cli_once(port: u16, args: &[&str]) -> String {
    let mut cmd = Command::new(redis_cli());
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args);
    let out = run_limited(cmd);
    format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr))
        .trim()
        .to_string()
}

/// A `[redis]` service: Debian's redis-server in the foreground on
/// 127.0.0.1:`port`, with no snapshots and no AOF, its files (its log, a
/// dataset to load if the test put one there) in the test's directory,
/// telling vigild when it is ready through sd_notify (`--supervised systemd`:
/// Debian builds it with libsystemd).
fn redis_conf(port: u16) -> String {
    format!(
        "[redis]\n\
         exec = \"{redis}\" --port {port} --bind 127.0.0.1 --save \"\" --appendonly no \
         --daemonize no --dir @DIR@ --logfile @DIR@/redis.log --supervised systemd\n\
         ready = notify\n\
         stop_timeout = 5s\n\
         backoff = 100ms 1s\n",
        redis = redis_server(),
    )
}

/// Fail with vigild's diagnostics and redis's own log.
#[track_caller]
fn redis_fail(d: &Daemon, msg: &str) -> ! {
    let log = fs::read_to_string(d.dir.join("redis.log")).unwrap_or_default();
    d.fail(&format!("{msg}\n--- redis log ---\n{log}"))
}

/// The pid redis-server reports for itself (`INFO server`).
fn redis_pid(d: &Daemon, port: u16) -> i32 {
    let info = redis_cli_once(port, &["info", "server"]);
    info.lines()
        .find_map(|l| l.trim().strip_prefix("process_id:")?.parse().ok())
        .unwrap_or_else(|| redis_fail(d, &format!("no process_id in INFO server: {info:?}")))
}

/// redis-server, started by vigild with `--supervised systemd`, sends three
/// datagrams from its main pid: `STATUS=Redis is loading...`, `STATUS=Ready
/// to accept connections` and `READY=1`. At the first look at the status
/// file that says `up`, one `redis-cli ping` (no retry) gets PONG; the line
/// has `ready=yes`, redis's last status text, and the pid redis reports for
/// itself. Redis's own SHUTDOWN (STOPPING=1, then exit 0) ends that run and
/// the restart policy starts the next one, again answering at `up`;
/// `vigilctl stop` (TERM) ends it with exit 0, and its notify socket goes.
#[test]
#[ignore = "needs .ci/system-tests (redis-server, redis-tools)"]
fn notify_redis_is_up_when_it_answers() {
    let p = free_v4();
    let d = Daemon::start("redis", &redis_conf(p));
    let t0 = Instant::now();
    let mut pong = String::new();
    let lines = watch(&d, "redis", "up", |s| {
        let up = s.state() == "up";
        if up {
            pong = redis_cli_once(p, &["ping"]);
        }
        up
    });
    let took = t0.elapsed();
    let up = up_with_pong(&d, &pong, &lines);
    let pid = up.pid();
    assert_eq!(up.get("ready"), "yes", "{}", up.line);
    assert_eq!(
        up.get("status"),
        "\"Ready to accept connections\"",
        "{}",
        up.line
    );
    assert_eq!(up.restarts(), 0, "{}", up.line);
    assert_eq!(
        redis_pid(&d, p),
        pid,
        "the status file's pid is not redis's"
    );
    d.wait_stderr(&format!("redis: starting -> up (pid {pid})"));
    assert!(notify_socket_bound(&d.run, "redis"), "no notify socket");
    eprintln!(
        "redis: up {took:?} after vigild was ready: {}",
        states(&lines)
    );

    // SHUTDOWN: redis says STOPPING=1 and exits 0; `restart = always`
    // starts the next run, which must answer when it is up as well.
    let said = redis_cli_once(p, &["shutdown", "nosave"]);
    let mut pong = String::new();
    let lines = watch(&d, "redis", "up again, another pid", |s| {
        let up = s.state() == "up" && s.pid() != pid;
        if up {
            pong = redis_cli_once(p, &["ping"]);
        }
        up
    });
    let up2 = lines.last().unwrap().clone();
    if pong != "PONG" {
        redis_fail(
            &d,
            &format!(
                "ping at the first look that said up again: {pong:?}; {}",
                up2.line
            ),
        );
    }
    d.wait_for("the first redis to be reaped", || reaped(pid).then_some(()));
    assert_eq!(up2.last(), "exit:0", "{}", up2.line);
    assert_eq!(up2.restarts(), 1, "{}", up2.line);
    assert_eq!(
        up2.get("status"),
        "\"Ready to accept connections\"",
        "{}",
        up2.line
    );
    let pid2 = up2.pid();
    assert_eq!(redis_pid(&d, p), pid2);
    // Its STOPPING=1 is read before its exit, even when both are seen in
    // the same loop turn.
    d.wait_stderr(&format!("redis: up -> stopping (pid {pid})"));
    eprintln!("redis: SHUTDOWN ({said:?}): {}", states(&lines));

    // vigild's stop: TERM; redis says STOPPING=1 (vigild is stopping it
    // already) and exits 0.
    let out = d.ctl(&["stop", "redis"]);
    assert!(out.status.success(), "{}", show(&out));
    let down = d.wait_svc("redis", "down", |s| s.state() == "down");
    assert_eq!(down.last(), "exit:0", "{}", down.line);
    assert_eq!(down.pid(), 0, "{}", down.line);
    assert!(!down.line.contains("status="), "{}", down.line);
    d.wait_for("the second redis to be reaped", || {
        reaped(pid2).then_some(())
    });
    d.wait_for("the notify socket to go", || {
        (!notify_socket_bound(&d.run, "redis")).then_some(())
    });
    let refused = redis_cli_once(p, &["ping"]);
    assert_ne!(refused, "PONG", "a redis still answers after the stop");
}

/// A Redis RDB file (format version 9, which Redis 7 reads) of `n` string
/// keys `key:00000000`, ... with an 8-byte zero checksum (Redis then skips
/// the check): loading it keeps redis-server busy for a while before it is
/// ready.
fn write_rdb(path: &Path, n: u32) {
    fn length(out: &mut Vec<u8>, n: u32) {
        if n < 64 {
            out.push(n as u8);
        } else if n < 16384 {
            out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
        } else {
            out.push(0x80);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
    fn string(out: &mut Vec<u8>, s: &[u8]) {
        length(out, s.len() as u32);
        out.extend_from_slice(s);
    }
    let mut out = b"REDIS0009".to_vec();
    out.extend_from_slice(&[0xFE, 0]); // SELECTDB 0
    out.push(0xFB); // RESIZEDB: n keys, none with an expiry
    length(&mut out, n);
    length(&mut out, 0);
    for i in 0..n {
        out.push(0); // a string value
        string(&mut out, format!("key:{i:08}").as_bytes());
        string(&mut out, format!("value-{i:08}").as_bytes());
    }
    out.push(0xFF); // EOF
    out.extend_from_slice(&[0; 8]);
    fs::write(path, out).unwrap();
}

/// redis-server with a dataset to load (an RDB file of 500,000 keys) is not
/// ready until it has loaded it, though it listens all along: vigild shows
/// it `starting`, with `status="Redis is loading..."`, while a ping gets
/// LOADING; `up` comes with READY=1, when a ping (at the first look that
/// says `up`) gets PONG and every key is there.
#[test]
#[ignore = "needs .ci/system-tests (redis-server, redis-tools)"]
fn notify_redis_loading_a_dataset_is_starting_until_ready() {
    const KEYS: u32 = 500_000;
    let p = free_v4();
    let dir = TempDir::new("redisload");
    write_rdb(&dir.join("dump.rdb"), KEYS);
    let d = Daemon::start_in(dir, &redis_conf(p), Opts::default());
    let t0 = Instant::now();
    let mut loading: Option<(String, Duration)> = None;
    let mut pong = String::new();
    let lines = watch(&d, "redis", "up", |s| {
        if loading.is_none()
            && s.state() == "starting"
            && s.get("status") == "\"Redis is loading...\""
        {
            loading = Some((redis_cli_once(p, &["ping"]), t0.elapsed()));
        }
        let up = s.state() == "up";
        if up {
            pong = redis_cli_once(p, &["ping"]);
        }
        up
    });
    let took = t0.elapsed();
    let up = up_with_pong(&d, &pong, &lines);
    let Some((while_loading, at)) = loading else {
        redis_fail(
            &d,
            &format!(
                "never saw `starting` with redis's loading status: {}",
                states(&lines)
            ),
        )
    };
    if !while_loading.starts_with("LOADING") {
        redis_fail(
            &d,
            &format!("a ping while the status file said loading answered {while_loading:?}"),
        );
    }
    assert_eq!(up.get("ready"), "yes", "{}", up.line);
    assert_eq!(
        up.get("status"),
        "\"Ready to accept connections\"",
        "{}",
        up.line
    );
    assert_eq!(redis_cli_once(p, &["dbsize"]), KEYS.to_string());
    assert_eq!(redis_pid(&d, p), up.pid());
    let log = fs::read_to_string(d.dir.join("redis.log")).unwrap_or_default();
    let loaded = log
        .lines()
        .find_map(|l| l.split_once("DB loaded from disk: ").map(|(_, t)| t))
        .unwrap_or("?");
    eprintln!(
        "redis with {KEYS} keys: loading seen at {at:?} (ping: {while_loading:?}), up at \
         {took:?} (redis: loaded in {loaded}): {}",
        states(&lines)
    );
}

/// gunicorn's arbiter (since gunicorn 20.0) sends `READY=1\nSTATUS=Gunicorn
/// arbiter booted`, one datagram, once its listening socket is bound (before
/// its workers boot). Started by vigild binding its own 127.0.0.1 port, it
/// is `starting` while Python boots; at the first look at the status file
/// that says `up`, one curl gets the page, served by a worker of the master
/// vigild started. `vigilctl stop` (TERM) ends it with exit 0.
#[test]
#[ignore = "needs .ci/system-tests (gunicorn, curl)"]
fn notify_gunicorn_is_up_when_it_serves() {
    let p = free_v4();
    let conf = format!(
        "[web]\n\
         exec = \"{gunicorn}\" --workers 1 --graceful-timeout 5 --bind 127.0.0.1:{p} \
         --chdir \"{fixtures}\" app:app\n\
         ready = notify\n\
         env = HOME=@DIR@\n\
         env = PYTHONDONTWRITEBYTECODE=1\n\
         stop_timeout = 5s\n",
        gunicorn = gunicorn(),
        fixtures = fixtures().display(),
    );
    let d = Daemon::start("gunicorn-notify", &conf);
    let t0 = Instant::now();
    let url = format!("http://127.0.0.1:{p}/ready");
    let mut answer = None;
    let lines = watch(&d, "web", "up", |s| {
        let up = s.state() == "up";
        if up {
            let asked = Instant::now();
            answer = Some((curl(&[&url]), asked.elapsed()));
        }
        up
    });
    let took = t0.elapsed();
    let up = lines.last().unwrap().clone();
    let (out, served_in) = answer.unwrap();
    if !out.status.success() {
        d.fail(&format!(
            "curl at the first look that said up failed: {}; {}",
            show(&out),
            up.line
        ));
    }
    let master = up.pid();
    assert_eq!(
        stdout(&out),
        format!("hello path=/ready master={master} fdnames=- local=127.0.0.1:{p}\n"),
        "{}",
        up.line
    );
    starting_until_up(&d, &lines);
    assert_eq!(
        lines[0].state(),
        "starting",
        "gunicorn was up at the first look: {}",
        states(&lines)
    );
    assert_eq!(up.get("ready"), "yes", "{}", up.line);
    assert_eq!(
        up.get("status"),
        "\"Gunicorn arbiter booted\"",
        "{}",
        up.line
    );
    d.wait_stderr(&format!("web: starting -> up (pid {master})"));
    eprintln!(
        "gunicorn: up {took:?} after vigild was ready, first page in {served_in:?}: {}",
        states(&lines)
    );

    let out = d.ctl(&["stop", "web"]);
    assert!(out.status.success(), "{}", show(&out));
    let down = d.wait_svc("web", "down", |s| s.state() == "down");
    assert_eq!(down.last(), "exit:0", "{}", down.line);
    d.wait_for("the gunicorn master to be reaped", || {
        reaped(master).then_some(())
    });
    d.wait_for("the notify socket to go", || {
        (!notify_socket_bound(&d.run, "web")).then_some(())
    });
}

// ---- containment: nginx ------------------------------------------------------

/// Debian's nginx (package `nginx`).
fn nginx() -> String {
    program("SYSTEST_NGINX", PathBuf::from("/usr/sbin/nginx"))
}

/// The pids whose parent is `parent` (from /proc/PID/stat).
fn children_of(parent: i32) -> Vec<i32> {
    let mut kids = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "PID (COMM) STATE PPID ...": COMM may hold spaces and parens.
        let after = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
        let ppid = after.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        if ppid == Some(parent) {
            kids.push(pid);
        }
    }
    kids
}

/// Debian's nginx in the foreground (`daemon off`) with a master and two
/// workers on 127.0.0.1:`port`, everything it writes in the test's
/// directory.
fn nginx_conf(dir: &TempDir, port: u16) -> String {
    let d = dir.s("");
    let d = d.trim_end_matches('/');
    fs::write(
        dir.join("nginx.conf"),
        format!(
            "daemon off;\nmaster_process on;\nworker_processes 2;\n\
             pid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n\
             client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
             server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"pid $pid\\n\"; }} }}\n}}\n"
        ),
    )
    .unwrap();
    format!(
        "[web]\nexec = {nginx} -p @DIR@ -c @DIR@/nginx.conf -e @DIR@/error.log\n\
         backoff = 100ms 100ms\nstop_timeout = 5s\n",
        nginx = nginx()
    )
}

/// The worker pid that answered a request on `port` (nginx's `$pid`).
fn nginx_answer(port: u16) -> Option<i32> {
    let out = curl(&[&format!("http://127.0.0.1:{port}/")]);
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .strip_prefix("pid ")?
        .parse()
        .ok()
}

/// nginx's master killed with -9 leaves its two workers behind, orphans
/// that keep accepting on its port (nginx workers do not end when their
/// master goes): the next master could not bind it, and the old workers
/// would answer forever. vigild ends them before it restarts the service:
/// the answer then comes from a worker of the new master, the old workers
/// are gone, and `stop` leaves no nginx process.
#[test]
#[ignore = "needs .ci/system-tests (nginx, curl)"]
fn nginx_workers_do_not_outlive_their_killed_master() {
    let port = free_v4();
    let dir = TempDir::new("nginx");
    let conf = nginx_conf(&dir, port);
    let d = Daemon::start_in(dir, &conf, Opts::default());
    let fail = |d: &Daemon, msg: &str| -> ! {
        let log = fs::read_to_string(d.dir.join("error.log")).unwrap_or_default();
        d.fail(&format!("{msg}\n--- nginx error.log ---\n{log}"))
    };
    let master = d.wait_up("web").pid();
    let workers = d.wait_for("two nginx workers", || {
        let w = children_of(master);
        (w.len() == 2).then_some(w)
    });
    let first = d.wait_for("an answer", || nginx_answer(port));
    if !workers.contains(&first) {
        fail(&d, &format!("answered by {first}, not one of {workers:?}"));
    }

    kill(master, libc::SIGKILL);
    let s = d.wait_svc("web", "up again, another master", |s| {
        s.state() == "up" && s.pid() != master
    });
    let master2 = s.pid();
    assert_eq!(s.restarts(), 1, "{}", s.line);
    for w in &workers {
        d.wait_for("the old workers to be gone", || (!alive(*w)).then_some(()));
    }
    let workers2 = d.wait_for("two new workers", || {
        let w = children_of(master2);
        (w.len() == 2).then_some(w)
    });
    let second = d.wait_for("an answer from the new master", || nginx_answer(port));
    if !workers2.contains(&second) {
        fail(
            &d,
            &format!("answered by {second}, not one of {workers2:?}"),
        );
    }

    assert_eq!(d.request("stop web"), ["stopping web", "stopped web"]);
    for pid in std::iter::once(master2).chain(workers2) {
        assert!(!alive(pid), "nginx process {pid} outlived stop");
    }
    assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
}

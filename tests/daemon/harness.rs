//! Black-box harness for `tests/daemon.rs`: runs the real `vigild` binary
//! (not as PID 1) in the foreground on a temporary config and run directory,
//! and talks to it the way users do: the control FIFO, reply FIFOs,
//! `vigilctl`, the status file and signals.
//!
//! Every wait polls for an observable effect with a deadline; nothing sleeps
//! for a fixed time except where a test must show that something does NOT
//! happen. Each `Daemon` owns its own temporary directory, and its `Drop`
//! stops only the vigild it started (by pid: SIGTERM, wait, KILL as a last
//! resort together with the process groups of its services) and removes the
//! directory. When a test fails, the captured stderr of vigild is printed.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);
/// How often waits poll.
pub const TICK: Duration = Duration::from_millis(10);

/// The binary under test: this build's, or the one `VIGILD_TEST_BINARY`
/// names (to run the black-box tests against another build, such as an
/// earlier release's, and see which of them it fails).
pub fn vigild_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("VIGILD_TEST_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_vigild").into())
    })
}

/// The sd_notify client of `examples/notify.rs`, built on first use (a
/// filtered `cargo test` builds no examples).
pub fn notify_bin() -> PathBuf {
    example_bin("notify")
}

/// `examples/NAME.rs`, built on first use (once per test binary).
pub fn example_bin(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    // target/debug/deps/TEST -> target/debug/examples/NAME
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap_or_else(|e| panic!("run cargo build --example {name}: {e}"));
        assert!(status.success(), "cargo build --example {name} failed");
        built.push(name.to_string());
    }
    path
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Environment variable that marks every process a test's vigild starts, so
/// that the test can find (and kill) any of them that outlive it.
pub const TAG_VAR: &str = "VIGILD_TEST_TAG";

/// A temporary directory, removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("vigild-t{}-{n}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// `path` as a `&str` (temp paths are ASCII).
    pub fn s(&self, name: &str) -> String {
        self.join(name).to_str().unwrap().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Poll `f` every `TICK` until it returns `Some`, for at most `limit`.
pub fn poll_until<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(TICK);
    }
}

/// `kill(2)`.
pub fn kill(pid: i32, sig: i32) -> bool {
    // SAFETY: plain system call on integers.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// True if `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // "pid (comm) S ..." — comm may contain spaces or parens.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            state != Some("Z") && state != Some("X")
        }
        Err(_) => false,
    }
}

/// True if `pid` is gone entirely: not even a zombie (it has been reaped).
pub fn reaped(pid: i32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

/// Create a FIFO.
pub fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: valid NUL-terminated path.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(
        rc,
        0,
        "mkfifo {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// One line of the status file.
#[derive(Clone, Debug)]
pub struct Svc {
    pub name: String,
    pub fields: HashMap<String, String>,
    pub line: String,
}

impl Svc {
    pub fn parse(line: &str) -> Option<Svc> {
        // `status="..."` comes last and may hold spaces.
        let (head, status) = match line.split_once(" status=") {
            Some((head, status)) => (head, Some(status)),
            None => (line, None),
        };
        let mut words = head.split(' ');
        let name = words.next()?.to_string();
        let mut fields = HashMap::new();
        if let Some(status) = status {
            fields.insert("status".to_string(), status.to_string());
        }
        for w in words {
            let (k, v) = w.split_once('=')?;
            fields.insert(k.to_string(), v.to_string());
        }
        Some(Svc {
            name,
            fields,
            line: line.to_string(),
        })
    }

    pub fn get(&self, key: &str) -> &str {
        self.fields.get(key).map(String::as_str).unwrap_or("")
    }

    pub fn state(&self) -> &str {
        self.get("state")
    }

    pub fn pid(&self) -> i32 {
        self.get("pid")
            .parse()
            .unwrap_or_else(|_| panic!("bad pid in {:?}", self.line))
    }

    pub fn restarts(&self) -> u64 {
        self.get("restarts")
            .parse()
            .unwrap_or_else(|_| panic!("bad restarts in {:?}", self.line))
    }

    pub fn reason(&self) -> &str {
        self.get("reason")
    }

    pub fn last(&self) -> &str {
        self.get("last")
    }
}

/// The read end of a reply FIFO (for results and `monitor`).
pub struct Reply {
    pub path: PathBuf,
    file: File,
    buf: Vec<u8>,
    /// A writer (vigild) has been seen: 0 bytes read now means it closed.
    seen_writer: bool,
}

impl Reply {
    /// Create a FIFO at `path` and open its read end (non-blocking).
    pub fn new(path: PathBuf) -> Reply {
        mkfifo(&path);
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .expect("open reply FIFO");
        Reply {
            path,
            file,
            buf: Vec::new(),
            seen_writer: false,
        }
    }

    /// Make reads wait for data (or the writer's close) instead of
    /// polling: the reader then sees an answer the moment it is sent.
    pub fn blocking(self) -> Reply {
        use std::os::fd::AsRawFd;
        let fd = self.file.as_raw_fd();
        // SAFETY: fcntl on an fd this Reply owns.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            assert!(flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) == 0);
        }
        self
    }

    /// Read what is there; true once the writer has closed (EOF after data).
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            match self.file.read(&mut chunk) {
                Ok(0) => return self.seen_writer,
                Ok(n) => {
                    self.seen_writer = true;
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    // EAGAIN: a writer holds the FIFO open.
                    self.seen_writer = true;
                    return false;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => panic!("read reply FIFO: {e}"),
            }
        }
    }

    fn take_line(&mut self) -> Option<String> {
        let nl = self.buf.iter().position(|&b| b == b'\n')?;
        let line: Vec<u8> = self.buf.drain(..=nl).collect();
        Some(String::from_utf8_lossy(&line[..nl]).into_owned())
    }

    /// The next line, waiting at most `limit`.
    pub fn line(&mut self, limit: Duration) -> Option<String> {
        poll_until(limit, || {
            if let Some(l) = self.take_line() {
                return Some(Some(l));
            }
            if self.fill() {
                // Closed: whatever is left, then nothing more.
                return Some(self.take_line());
            }
            self.take_line().map(Some)
        })
        .flatten()
    }

    /// Every line until the writer closes the FIFO, waiting at most `limit`;
    /// panics if it is not closed by then.
    pub fn until_closed(&mut self, limit: Duration) -> Vec<String> {
        let closed = poll_until(limit, || self.fill().then_some(()));
        let mut lines = Vec::new();
        while let Some(l) = self.take_line() {
            lines.push(l);
        }
        assert!(
            closed.is_some(),
            "reply FIFO {} not closed within {limit:?}; got {lines:?}",
            self.path.display()
        );
        lines
    }

    /// Lines until one satisfies `pred` (returned with everything before it).
    pub fn until(
        &mut self,
        limit: Duration,
        mut pred: impl FnMut(&str) -> bool,
    ) -> Result<Vec<String>, Vec<String>> {
        let end = Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.line(left) {
                Some(l) => {
                    let hit = pred(&l);
                    seen.push(l);
                    if hit {
                        return Ok(seen);
                    }
                }
                None => return Err(seen),
            }
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Collected stderr of a child, filled by a reader thread.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The lines vigild itself wrote (`vigild: ...`), prefix removed.
    pub fn vigild_lines(&self) -> Vec<String> {
        self.text()
            .lines()
            .filter_map(|l| l.strip_prefix("vigild: "))
            .map(str::to_string)
            .collect()
    }

    fn spawn_reader(&self, mut from: impl Read + Send + 'static) {
        let sink = self.0.clone();
        // Detached: services that inherit vigild's stderr may hold the pipe
        // open after vigild is gone; the thread ends when the last one does.
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                match from.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.lock().unwrap().extend_from_slice(&chunk[..n]),
                }
            }
        });
    }
}

/// Options for starting vigild.
#[derive(Default, Clone)]
pub struct Opts {
    /// Extra environment for vigild.
    pub env: Vec<(String, String)>,
    /// `(from, to)`: dup2 the test's fd `from` onto `to` (without CLOEXEC)
    /// in vigild before exec, e.g. to hand it an inherited fd or a `-d` pipe.
    pub dup: Vec<(i32, i32)>,
    /// Extra arguments after `-f -c FILE -r RUN`.
    pub args: Vec<String>,
    /// The `-r` value instead of the temp dir's `run` (None: that one).
    pub run_arg: Option<String>,
    /// Working directory of vigild.
    pub cwd: Option<PathBuf>,
    /// Don't wait for the control FIFO (for vigilds expected to fail).
    pub no_wait: bool,
    /// Run vigild under this command (`unshare --fork --pid ...`): the
    /// wrapper's child is vigild.
    pub wrapper: Vec<String>,
    /// Another build of vigild (the static musl one) instead of this one's.
    pub binary: Option<PathBuf>,
    /// System calls that fail in vigild and everything it starts (a
    /// seccomp filter, as a container runtime may install, or as an old
    /// kernel behaves), with `refused_errno` (ENOSYS if 0).
    pub refused_syscalls: Vec<i64>,
    pub refused_errno: i32,
}

/// A running vigild and its temporary directory.
pub struct Daemon {
    pub dir: TempDir,
    pub conf: PathBuf,
    pub run: PathBuf,
    child: RefCell<Child>,
    exit: RefCell<Option<ExitStatus>>,
    pub stderr: Captured,
    replies: AtomicUsize,
    /// Value of `VIGILD_TEST_TAG` in vigild's (and its services') environment.
    tag: String,
    /// vigild runs under a wrapper (its pids are another namespace's).
    wrapped: bool,
}

/// Substitute `@DIR@` in a config with the temp directory.
pub fn fill(text: &str, dir: &TempDir) -> String {
    text.replace("@DIR@", dir.path.to_str().unwrap())
}

impl Daemon {
    /// Start vigild on `conf` (with `@DIR@` replaced by the temp dir) and
    /// wait until its control FIFO has a reader and the status file exists.
    pub fn start(tag: &str, conf: &str) -> Daemon {
        Daemon::start_with(tag, conf, Opts::default())
    }

    pub fn start_with(tag: &str, conf: &str, opts: Opts) -> Daemon {
        Daemon::start_in(TempDir::new(tag), conf, opts)
    }

    /// Start vigild in a temp dir the caller has prepared.
    pub fn start_in(dir: TempDir, conf: &str, opts: Opts) -> Daemon {
        let conf_path = dir.join("vigild.conf");
        fs::write(&conf_path, fill(conf, &dir)).unwrap();
        // An absolute `-r` (another test's run dir) is where to look.
        let run = match &opts.run_arg {
            Some(r) if r.starts_with('/') => PathBuf::from(r),
            _ => dir.join("run"),
        };
        let binary = opts.binary.as_deref().unwrap_or(Path::new(vigild_bin()));
        let mut cmd = match opts.wrapper.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(binary);
                cmd
            }
            None => Command::new(binary),
        };
        cmd.arg("-f").arg("-c").arg(&conf_path).arg("-r");
        match &opts.run_arg {
            Some(r) => cmd.arg(r),
            None => cmd.arg(&run),
        };
        cmd.args(&opts.args);
        if let Some(cwd) = &opts.cwd {
            cmd.current_dir(cwd);
        }
        let tag = dir.path.to_str().unwrap().to_string();
        cmd.env(TAG_VAR, &tag);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        if !opts.refused_syscalls.is_empty() {
            let errno = match opts.refused_errno {
                0 => libc::ENOSYS,
                errno => errno,
            };
            let filter = seccomp_refuse(&opts.refused_syscalls, errno);
            // SAFETY: prctl between fork and exec, on memory the closure owns.
            unsafe {
                cmd.pre_exec(move || install_seccomp(&filter));
            }
        }
        if !opts.dup.is_empty() {
            let dups = opts.dup.clone();
            // SAFETY: only async-signal-safe dup2 between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    for &(from, to) in &dups {
                        if libc::dup2(from, to) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().expect("spawn vigild");
        let stderr = Captured::default();
        stderr.spawn_reader(child.stderr.take().unwrap());
        let d = Daemon {
            dir,
            conf: conf_path,
            run,
            child: RefCell::new(child),
            exit: RefCell::new(None),
            stderr,
            replies: AtomicUsize::new(0),
            tag,
            wrapped: !opts.wrapper.is_empty(),
        };
        if !opts.no_wait {
            d.wait_for(
                "control FIFO has a reader and the status file exists",
                || (d.control_open().is_ok() && d.run.join("status").exists()).then_some(()),
            );
        }
        d
    }

    pub fn pid(&self) -> i32 {
        self.child.borrow().id() as i32
    }

    /// vigild's own pid (seen from here): under a wrapper, its child.
    pub fn vigild_pid(&self) -> i32 {
        if !self.wrapped {
            return self.pid();
        }
        let children = format!("/proc/{0}/task/{0}/children", self.pid());
        self.wait_for("the wrapper has started vigild", || {
            fs::read_to_string(&children)
                .ok()?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
    }

    /// vigild's exit status, if it has exited.
    pub fn exited(&self) -> Option<ExitStatus> {
        if self.exit.borrow().is_none()
            && let Ok(Some(st)) = self.child.borrow_mut().try_wait()
        {
            *self.exit.borrow_mut() = Some(st);
        }
        *self.exit.borrow()
    }

    /// Wait for vigild to exit; its exit status.
    pub fn wait_exit(&self, limit: Duration) -> ExitStatus {
        match poll_until(limit, || self.exited()) {
            Some(st) => st,
            None => self.fail(&format!("vigild did not exit within {limit:?}")),
        }
    }

    /// Panic with `msg`, the status file and vigild's stderr.
    #[track_caller]
    pub fn fail(&self, msg: &str) -> ! {
        panic!(
            "{msg}\n--- status file ---\n{}--- vigild stderr ---\n{}",
            fs::read_to_string(self.run.join("status")).unwrap_or_default(),
            self.stderr.text()
        )
    }

    /// Poll `f` until `Some`, failing the test (with diagnostics) after
    /// `DEADLINE`, or at once if vigild exits meanwhile.
    #[track_caller]
    pub fn wait_for<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(v) = f() {
                return v;
            }
            if let Some(st) = self.exited() {
                // One last look: the effect may coincide with the exit.
                if let Some(v) = f() {
                    return v;
                }
                self.fail(&format!("vigild exited ({st}) while waiting for: {what}"));
            }
            if Instant::now() >= end {
                self.fail(&format!("timed out after {DEADLINE:?} waiting for: {what}"));
            }
            std::thread::sleep(TICK);
        }
    }

    /// The status file, parsed (empty if missing).
    pub fn status(&self) -> Vec<Svc> {
        fs::read_to_string(self.run.join("status"))
            .unwrap_or_default()
            .lines()
            .filter_map(Svc::parse)
            .collect()
    }

    /// The status line of `name`.
    pub fn svc(&self, name: &str) -> Option<Svc> {
        self.status().into_iter().find(|s| s.name == name)
    }

    /// Wait until `name`'s status line satisfies `pred`; that line.
    #[track_caller]
    pub fn wait_svc(&self, name: &str, what: &str, pred: impl Fn(&Svc) -> bool) -> Svc {
        self.wait_for(&format!("{name}: {what}"), || {
            self.svc(name).filter(|s| pred(s))
        })
    }

    /// Wait until `name` is up with a process; its status line.
    #[track_caller]
    pub fn wait_up(&self, name: &str) -> Svc {
        self.wait_svc(name, "state=up with a pid", |s| {
            s.state() == "up" && s.pid() > 0
        })
    }

    /// Wait until a line of vigild's stderr contains `text`; that line.
    /// (Also after vigild exited: the reader thread may lag behind.)
    #[track_caller]
    pub fn wait_stderr(&self, text: &str) -> String {
        let find = || {
            self.stderr
                .vigild_lines()
                .into_iter()
                .find(|l| l.contains(text))
        };
        match poll_until(DEADLINE, find) {
            Some(line) => line,
            None => self.fail(&format!(
                "timed out after {DEADLINE:?} waiting for a stderr line containing {text:?}"
            )),
        }
    }

    /// Wait until at least `n` lines of vigild's stderr contain `text`.
    #[track_caller]
    pub fn wait_stderr_count(&self, text: &str, n: usize) {
        let count = || {
            self.stderr
                .vigild_lines()
                .iter()
                .filter(|l| l.contains(text))
                .count()
        };
        if poll_until(DEADLINE, || (count() >= n).then_some(())).is_none() {
            self.fail(&format!(
                "expected {n} stderr lines containing {text:?}, got {}",
                count()
            ));
        }
    }

    /// Open the control FIFO for writing (fails if nobody reads it).
    pub fn control_open(&self) -> std::io::Result<File> {
        OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(self.run.join("control"))
    }

    /// Write raw bytes to the control FIFO in one write(2).
    #[track_caller]
    pub fn send_raw(&self, bytes: &[u8]) {
        let mut f = self
            .control_open()
            .unwrap_or_else(|e| self.fail(&format!("open control FIFO: {e}")));
        let n = f
            .write(bytes)
            .unwrap_or_else(|e| self.fail(&format!("write control FIFO: {e}")));
        assert_eq!(n, bytes.len(), "short write to the control FIFO");
    }

    /// Send one control line (newline added).
    #[track_caller]
    pub fn send(&self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }

    /// A fresh reply FIFO in the temp dir.
    pub fn reply_fifo(&self) -> Reply {
        let n = self.replies.fetch_add(1, Ordering::Relaxed);
        Reply::new(self.dir.join(&format!("reply{n}")))
    }

    /// Send `line reply=FIFO`; the reply's read end (to read results from).
    #[track_caller]
    pub fn ask(&self, line: &str) -> Reply {
        let reply = self.reply_fifo();
        self.send(&format!("{line} reply={}", reply.path.display()));
        reply
    }

    /// Send `line reply=FIFO` and collect every result line until vigild
    /// closes the reply.
    #[track_caller]
    pub fn request(&self, line: &str) -> Vec<String> {
        let mut reply = self.ask(line);
        reply.until_closed(DEADLINE)
    }

    /// Path of a `vigilctl` symlink to the binary (multi-call by argv[0]).
    pub fn vigilctl_path(&self) -> PathBuf {
        vigilctl_in(&self.dir)
    }

    /// Run `vigilctl -r RUN ARGS...`.
    pub fn ctl(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(self.vigilctl_path());
        cmd.arg("-r").arg(&self.run).args(args);
        run_limited(cmd)
    }

    /// Send a signal to vigild.
    pub fn signal(&self, sig: i32) {
        assert!(
            kill(self.pid(), sig),
            "kill vigild: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Write a new configuration (for reloads).
    pub fn write_conf(&self, text: &str) {
        // Write then rename, so vigild never reads half a file.
        let tmp = self.dir.join("vigild.conf.tmp");
        fs::write(&tmp, fill(text, &self.dir)).unwrap();
        fs::rename(&tmp, &self.conf).unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // A wrapped vigild's status names pids of its own namespace: only
        // the tagged processes below are ours to look at.
        let pids: Vec<i32> = self
            .status()
            .into_iter()
            .filter(|_| !self.wrapped)
            .collect::<Vec<_>>()
            .iter()
            .map(|s| s.get("pid").parse().unwrap_or(0))
            .filter(|&p| p > 0)
            .collect();
        if self.exited().is_none() {
            kill(self.pid(), libc::SIGTERM);
            if poll_until(DEADLINE, || self.exited()).is_none() {
                kill(self.pid(), libc::SIGKILL);
                let _ = self.child.borrow_mut().wait();
            }
        }
        // vigild should have stopped them; make sure no stray process of
        // this test outlives it: every process started under this vigild
        // carries its tag in its environment.
        for pid in pids.into_iter().chain(tagged_processes(&self.tag)) {
            if alive(pid) {
                kill(pid, libc::SIGKILL);
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "--- vigild stderr ({}) ---\n{}",
                self.dir.path.display(),
                self.stderr.text()
            );
        }
    }
}

/// The processes whose environment holds `tag` (as `VIGILD_TEST_TAG=...`).
pub fn tagged_processes(tag: &str) -> Vec<i32> {
    let needle = format!("{TAG_VAR}={tag}");
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|e| e == needle.as_bytes()))
        })
        .collect()
}

/// A `vigilctl` symlink in `dir`.
pub fn vigilctl_in(dir: &TempDir) -> PathBuf {
    let link = dir.join("vigilctl");
    if !link.exists() {
        let _ = std::os::unix::fs::symlink(vigild_bin(), &link);
    }
    link
}

/// Run a command with a time limit (kills it if it hangs); its output.
pub fn run_limited(cmd: Command) -> Output {
    let what = format!("{cmd:?}");
    run_limited_for(cmd, DEADLINE + Duration::from_secs(5))
        .unwrap_or_else(|| panic!("{what} did not finish in time"))
}

/// Run a command for at most `limit`; its output, or `None` if it had to
/// be killed.
pub fn run_limited_for(mut cmd: Command, limit: Duration) -> Option<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let status = match poll_until(limit, || child.try_wait().ok().flatten()) {
        Some(st) => st,
        None => {
            // Politely first: a vigild stops its services on TERM.
            kill(child.id() as i32, libc::SIGTERM);
            if poll_until(Duration::from_secs(3), || child.try_wait().ok().flatten()).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
            return None;
        }
    };
    Some(Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    })
}

/// `Output` as text for assertion messages.
pub fn show(o: &Output) -> String {
    format!(
        "status {:?} (signal {:?})\nstdout:\n{}stderr:\n{}",
        o.status.code(),
        o.status.signal(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// stdout of `o` as a string.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Run vigild with `args` to completion (it is expected to exit by itself
/// at once; one still running after 5 s is stopped and fails the test).
#[track_caller]
pub fn vigild_once(args: &[&str]) -> Output {
    let mut c = Command::new(vigild_bin());
    c.args(args);
    run_limited_for(c, Duration::from_secs(5))
        .unwrap_or_else(|| panic!("vigild {args:?} kept running instead of exiting"))
}

/// `vigild -t -c path` refuses the file (exit 2) with an error on each
/// of `expected`'s lines that mentions its text, as `vigild: FILE:LINE: ...`.
#[track_caller]
pub fn assert_config_errors(path: &Path, expected: &[(u32, &str)]) {
    let p = path.to_str().unwrap();
    let out = vigild_once(&["-t", "-c", p]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for (line, what) in expected {
        let prefix = format!("vigild: {p}:{line}: ");
        assert!(
            err.lines()
                .any(|l| l.starts_with(&prefix) && l.contains(what)),
            "no error {prefix}... mentioning {what:?} in:\n{err}"
        );
    }
}

/// A port on 127.0.0.1 that was free a moment ago (the kernel picks it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A seccomp filter (classic BPF) that makes each of `calls` fail with
/// `errno` on this architecture and allows everything else.
pub fn seccomp_refuse(calls: &[i64], errno: i32) -> Vec<libc::sock_filter> {
    #[cfg(target_arch = "x86_64")]
    const ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
    #[cfg(target_arch = "aarch64")]
    const ARCH: u32 = 0xc000_00b7; // AUDIT_ARCH_AARCH64
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let ret = libc::BPF_RET | libc::BPF_K;
    let allow = libc::SECCOMP_RET_ALLOW;
    let refuse = libc::SECCOMP_RET_ERRNO | errno as u32;
    // seccomp_data: nr at offset 0, arch at 4.
    let mut f = vec![
        stmt(load, 4),
        jump(ARCH, 1, 0),
        stmt(ret, allow),
        stmt(load, 0),
    ];
    for &nr in calls {
        f.push(jump(nr as u32, 0, 1));
        f.push(stmt(ret, refuse));
    }
    f.push(stmt(ret, allow));
    f
}

/// Install `filter` on the calling process (after PR_SET_NO_NEW_PRIVS).
pub fn install_seccomp(filter: &[libc::sock_filter]) -> std::io::Result<()> {
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: prctl with a valid sock_fprog that outlives the call.
    let ok = unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            && libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog,
            ) == 0
    };
    match ok {
        true => Ok(()),
        false => Err(std::io::Error::last_os_error()),
    }
}

/// The uid and gid of `user` in /etc/passwd.
pub fn passwd_entry(user: &str) -> Option<(u32, u32)> {
    let text = fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&user)).then(|| (f[2].parse().unwrap(), f[3].parse().unwrap()))
    })
}

/// The real, effective, saved and file-system uid of `pid` (its Uid: line).
pub fn uids(pid: i32) -> Vec<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .map(|ids| {
            ids.split_whitespace()
                .map(|id| id.parse().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

/// True while some socket is bound to the notify name of service `name`
/// under the run directory `run` (`@RUN/notify/NAME.NONCE`, an abstract
/// name, listed in /proc/net/unix).
pub fn notify_socket_bound(run: &Path, name: &str) -> bool {
    let prefix = format!("@{}/notify/{name}.", run.display());
    fs::read_to_string("/proc/net/unix")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            l.split_whitespace()
                .nth(7)
                .is_some_and(|p| p.starts_with(&prefix))
        })
}

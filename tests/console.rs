//! `console = /dev/PATH` (README: Configuration, PID 1 and containers): the
//! service runs in a session of its own with the terminal as its
//! controlling terminal on fds 0, 1 and 2, in the foreground. The terminal
//! here is a pseudo-terminal the test opens itself (`posix_openpt`); the
//! test types into its master side as a user types on a console, and reads
//! what the service writes. The boot test (`tests/boot.rs`) does the same
//! on a machine's real serial console, through `/dev/console`.

#[path = "daemon/harness.rs"]
mod harness;

use harness::*;
use std::ffi::CStr;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::time::Instant;

/// A pseudo-terminal: the master side the test reads and types into, and
/// the path of its terminal side, which the service gets.
struct Pty {
    master: File,
    path: String,
    /// A terminal side held open (not as a controlling terminal), so that
    /// between two runs of a service the master reads nothing, not EIO.
    _held: File,
    /// What the master has read so far, `\r` removed.
    seen: String,
    /// Where in `seen` the next `expect` starts.
    from: usize,
}

impl Pty {
    fn open() -> Pty {
        let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
        // SAFETY: plain system calls; the name is copied out of the buffer
        // ptsname_r filled (with its NUL) before the buffer goes.
        let (master, path) = unsafe {
            let fd = libc::posix_openpt(flags);
            assert!(fd >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
            let master = File::from(OwnedFd::from_raw_fd(fd));
            assert_eq!(libc::grantpt(fd), 0, "grantpt");
            assert_eq!(libc::unlockpt(fd), 0, "unlockpt");
            let mut name = [0 as libc::c_char; 128];
            assert_eq!(libc::ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
            let path = CStr::from_ptr(name.as_ptr()).to_str().unwrap().to_string();
            // Reads poll with a deadline.
            assert_eq!(libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK), 0);
            (master, path)
        };
        let held = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        Pty {
            master,
            path,
            _held: held,
            seen: String::new(),
            from: 0,
        }
    }

    /// The terminal's number as /proc/PID/stat's `tty_nr` spells it.
    fn tty_nr(&self) -> u64 {
        let rdev = fs::metadata(&self.path).unwrap().rdev();
        let (major, minor) = (libc::major(rdev) as u64, libc::minor(rdev) as u64);
        (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
    }

    /// Type `text` as a user on the terminal would.
    fn type_in(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).unwrap();
    }

    /// Read until what came since the last match holds `text` (within
    /// `DEADLINE`); the line it is on. The terminal echoes what is typed,
    /// so `text` must be what only the service's answer holds.
    #[track_caller]
    fn expect(&mut self, d: &Daemon, text: &str) -> String {
        let end = Instant::now() + DEADLINE;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(at) = self.seen[self.from..].find(text) {
                let at = self.from + at;
                let start = self.seen[..at].rfind('\n').map_or(0, |i| i + 1);
                let stop = self.seen[at..]
                    .find('\n')
                    .map_or(self.seen.len(), |i| at + i);
                self.from = at + text.len();
                return self.seen[start..stop].to_string();
            }
            match self.master.read(&mut buf) {
                Ok(n) if n > 0 => {
                    let text = String::from_utf8_lossy(&buf[..n]).replace('\r', "");
                    self.seen.push_str(&text);
                    continue;
                }
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock) => {}
                Err(e) if e.raw_os_error() == Some(libc::EIO) => {}
                Err(e) => panic!("reading the terminal: {e}"),
            }
            if Instant::now() >= end {
                d.fail(&format!(
                    "no {text:?} on the terminal within {DEADLINE:?}; it showed:\n{}",
                    self.seen
                ));
            }
            std::thread::sleep(TICK);
        }
    }
}

/// Fields of /proc/PID/stat after the command name: (state, ppid, pgrp,
/// session, tty_nr, tpgid).
fn stat(pid: i32) -> Option<(String, i32, i32, i32, u64, i32)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    Some((
        f.first()?.to_string(),
        f.get(1)?.parse().ok()?,
        f.get(2)?.parse().ok()?,
        f.get(3)?.parse().ok()?,
        f.get(4)?.parse().ok()?,
        f.get(5)?.parse().ok()?,
    ))
}

/// The processes of session `sid` whose command is `comm`.
fn in_session(sid: i32, comm: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let name = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if name.trim_end() == comm && stat(pid).is_some_and(|s| s.3 == sid && s.0 != "Z") {
            pids.push(pid);
        }
    }
    pids
}

/// An interactive shell (`/bin/sh -i`) on the terminal, as a rescue shell
/// on a console: it leads its session, the terminal is its controlling
/// terminal on 0, 1 and 2 with its group in the foreground; what is typed
/// runs, Ctrl-C interrupts the job in the foreground and not the shell,
/// and after `exit` vigild starts a new shell on the same terminal.
#[test]
fn shell_on_a_terminal_answers_and_is_restarted() {
    let mut pty = Pty::open();
    let conf = format!(
        "[shell]\nexec = /bin/sh -i\nconsole = {}\nenv = PS1=shell>\nbackoff = 50ms 1s\nstop_signal = HUP\n",
        pty.path
    );
    let d = Daemon::start("console-shell", &conf);
    let first = d.wait_up("shell");
    let pid = first.pid();

    // What the shell itself sees. `read` is a builtin: the shell's own
    // group is in the foreground while it runs.
    pty.type_in(
        "read -r pid comm state ppid pgrp sid tty tpgid rest < /proc/$$/stat; \
         echo \"ids=$pid,$pgrp,$sid,$tty,$tpgid tty=$(tty) fds=$(readlink /proc/$$/fd/1),$(readlink /proc/$$/fd/2)\"\n",
    );
    let want = format!(
        "ids={pid},{pid},{pid},{},{pid} tty={path} fds={path},{path}",
        pty.tty_nr(),
        path = pty.path
    );
    pty.expect(&d, &want);
    let (_, _, pgrp, sid, tty_nr, tpgid) = stat(pid).unwrap();
    assert_eq!(
        (pgrp, sid, tty_nr),
        (pid, pid, pty.tty_nr()),
        "seen by the test"
    );
    assert_eq!(tpgid, pid, "the shell's group in the foreground");

    // Ctrl-C reaches the job in the foreground (its own group: the shell
    // has job control), not the shell.
    pty.type_in("sleep 1000\n");
    let sleep = d.wait_for("the shell's sleep to run", || {
        in_session(pid, "sleep").first().copied()
    });
    let (_, _, sleep_group, _, _, foreground) = stat(sleep).unwrap();
    assert_eq!(foreground, sleep_group, "the job is in the foreground");
    pty.type_in("\x03");
    d.wait_for("Ctrl-C to end the sleep", || (!alive(sleep)).then_some(()));
    pty.type_in("echo alive-$((6*7))\n");
    pty.expect(&d, "alive-42");
    assert!(alive(pid), "the shell survived Ctrl-C");

    // `exit`: a new shell on the same terminal.
    pty.type_in("exit\n");
    let second = d.wait_svc("shell", "up again with another pid", |s| {
        s.state() == "up" && s.pid() > 0 && s.pid() != pid
    });
    assert_eq!(second.last(), "exit:0", "{}", second.line);
    pty.type_in("echo again-$((2*3)) $$\n");
    pty.expect(&d, &format!("again-6 {}", second.pid()));
    let (_, _, pgrp, sid, tty_nr, tpgid) = stat(second.pid()).unwrap();
    assert_eq!(
        (pgrp, sid, tty_nr, tpgid),
        (second.pid(), second.pid(), pty.tty_nr(), second.pid())
    );

    // An interactive shell ignores TERM; `stop_signal = HUP` is the
    // terminal's hangup, which ends it at once (no KILL after
    // stop_timeout).
    let asked = Instant::now();
    let out = d.ctl(&["stop", "shell"]);
    assert!(out.status.success(), "{}", show(&out));
    d.wait_svc("shell", "down", |s| s.state() == "down");
    assert!(asked.elapsed() < std::time::Duration::from_secs(5));
    assert!(!alive(second.pid()));
}

/// A console service is contained as any other: what it starts in the
/// background is in its session and its process group (the main process
/// leads both, setsid made it so), and a stop ends it, by the cgroup or
/// (`contain = group`) by the process group.
#[test]
fn console_service_is_contained() {
    for contain in ["cgroup", "group"] {
        let mut pty = Pty::open();
        let conf = format!(
            "[job]\nexec = /bin/sh -c 'sleep 1000 & echo $! > @DIR@/bg.pid; \
             while read -r line; do echo \"got:$line\"; done'\n\
             console = {}\ncontain = {contain}\n",
            pty.path
        );
        let d = Daemon::start(&format!("console-{contain}"), &conf);
        let job = d.wait_up("job");
        let pid = job.pid();
        let bg_path = d.dir.join("bg.pid");
        let bg: i32 = d.wait_for("bg.pid", || {
            fs::read_to_string(&bg_path).ok()?.trim().parse().ok()
        });
        pty.type_in("hello\n");
        pty.expect(&d, "got:hello");
        let (_, _, pgrp, sid, _, tpgid) = stat(pid).unwrap();
        assert_eq!((pgrp, sid, tpgid), (pid, pid, pid), "{contain}");
        let (_, _, bg_group, bg_session, _, _) = stat(bg).unwrap();
        assert_eq!((bg_group, bg_session), (pid, pid), "{contain}");

        let out = d.ctl(&["stop", "job"]);
        assert!(out.status.success(), "{}", show(&out));
        d.wait_svc("job", "down", |s| s.state() == "down");
        d.wait_for("the background sleep to end", || (!alive(bg)).then_some(()));
        assert!(!alive(pid));
    }
}

/// A terminal that cannot be opened is a spawn failure like any other
/// (`spawn-failed:ENOENT`), and `vigild -t` names the line of a `log` a
/// console service cannot have.
#[test]
fn console_errors() {
    let d = Daemon::start(
        "console-missing",
        "[sh]\nexec = /bin/sh\nconsole = /dev/vigild-no-such-tty\nbackoff = 50ms 1s\n",
    );
    let down = d.wait_svc("sh", "a failed spawn", |s| {
        s.reason() == "spawn-failed:ENOENT" || s.last() == "spawn-failed:ENOENT"
    });
    assert_eq!(down.pid(), 0, "{}", down.line);
    d.wait_stderr("sh: console /dev/vigild-no-such-tty: ENOENT");

    let dir = TempDir::new("console-check");
    let path = dir.join("bad.conf");
    fs::write(
        &path,
        "[sh]\nexec = /bin/sh\nconsole = yes\nlog = /var/log/sh\n[x]\nexec = /x\nconsole = /etc/tty\n",
    )
    .unwrap();
    assert_config_errors(
        &path,
        &[
            (4, "console: for a daemon or oneshot without log"),
            (7, "console: \"/etc/tty\" is not yes, no or /dev/PATH"),
        ],
    );
}

/// `console` opens a terminal itself, never through a symlink (one in a
/// directory others may write, as /dev/shm, could name anyone's
/// terminal), and nothing that is not a character device.
#[test]
fn console_is_never_reached_through_a_symlink() {
    let pty = Pty::open();
    let link = format!("/dev/shm/vigild-test-console-{}", std::process::id());
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink(&pty.path, &link).unwrap();
    let file = format!("/dev/shm/vigild-test-console-file-{}", std::process::id());
    fs::write(&file, "").unwrap();
    // A symlinked directory on the way: /dev/shm/LINK/N is /dev/pts/N.
    let dir_link = format!("/dev/shm/vigild-test-console-dir-{}", std::process::id());
    let _ = fs::remove_file(&dir_link);
    std::os::unix::fs::symlink("/dev/pts", &dir_link).unwrap();
    let via = format!("{dir_link}/{}", pty.path.rsplit('/').next().unwrap());
    let d = Daemon::start(
        "console-link",
        &format!(
            "[linked]\nexec = /bin/sleep 100\nconsole = {link}\nbackoff = 50ms 1s\n\
             [plain]\nexec = /bin/sleep 100\nconsole = {file}\nbackoff = 50ms 1s\n\
             [via]\nexec = /bin/sleep 100\nconsole = {via}\nbackoff = 50ms 1s\n"
        ),
    );
    let failed = |name| {
        d.wait_svc(name, "a failed spawn", |s| {
            s.reason().starts_with("spawn-failed")
        })
    };
    let (linked, plain, via) = (failed("linked"), failed("plain"), failed("via"));
    for path in [&link, &file, &dir_link] {
        fs::remove_file(path).unwrap();
    }
    assert_eq!(linked.reason(), "spawn-failed:ENOTTY", "{}", linked.line);
    assert_eq!(plain.reason(), "spawn-failed:ENOTTY", "{}", plain.line);
    // openat2 refuses the link on the way (Linux 5.6 and later).
    assert_eq!(via.reason(), "spawn-failed:ELOOP", "{}", via.line);
}

//! Container mode (vigild(8) CONTAINER MODE), in the style of tini's test
//! suite: vigild runs a main command, passes signals on to its process
//! group, reaps every orphan, stops its sidecar services when main ends, and
//! exits with main's status (128+N for signal N).
//!
//! Each test runs twice: with vigild as a plain child of the test (then it
//! is the subreaper of what it starts) and as PID 1 of a new PID namespace
//! (`unshare --fork --pid --mount-proc`, which needs root). The namespace
//! runs are `#[ignore]`d so that a plain `cargo test` passes without root;
//! `.ci/run` runs them. The last test is PID 1 of a namespace without a
//! main service: BusyBox's signals, TERM and KILL to every process, `finish`
//! and reboot(2), which ends the namespace.

#[path = "daemon/harness.rs"]
mod harness;

use harness::*;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Place {
    /// A child of the test.
    Child,
    /// PID 1 of a new PID namespace.
    Namespace,
}

/// Two `#[test]`s of `case`: as a child of the test, and (ignored: root,
/// run by .ci/run) as PID 1 of a new PID namespace.
macro_rules! in_both_places {
    ($case:ident, $as_child:ident, $as_pid1:ident) => {
        #[test]
        fn $as_child() {
            $case(Place::Child);
        }

        #[test]
        #[ignore = "needs root: run by .ci/run"]
        fn $as_pid1() {
            $case(Place::Namespace);
        }
    };
}

const NAMESPACE: [&str; 5] = ["unshare", "--fork", "--pid", "--mount-proc", "--kill-child"];

/// The command vigild runs under.
fn wrapper(place: Place) -> Vec<String> {
    match place {
        Place::Child => Vec::new(),
        Place::Namespace => NAMESPACE.map(String::from).to_vec(),
    }
}

/// Start vigild with `conf` and `-- sh -c SCRIPT` (when given), not waiting
/// for it (main may end at once).
fn start(place: Place, tag: &str, conf: &str, script: Option<&str>) -> Daemon {
    let dir = TempDir::new(tag);
    let mut args = Vec::new();
    if let Some(script) = script {
        args = ["--", "/bin/sh", "-c", &fill(script, &dir)]
            .map(String::from)
            .to_vec();
    }
    let opts = Opts {
        args,
        wrapper: wrapper(place),
        no_wait: true,
        ..Opts::default()
    };
    Daemon::start_in(dir, conf, opts)
}

/// The exit code of a vigild that ended by itself.
fn code(d: &Daemon) -> i32 {
    let status = d.wait_exit(DEADLINE);
    match status.code() {
        Some(code) => code,
        None => d.fail(&format!("vigild ended by {status:?}, not with a code")),
    }
}

/// Wait until the file `name` of the test's directory exists; its text.
fn wait_file(d: &Daemon, name: &str) -> String {
    let path = d.dir.join(name);
    d.wait_for(&format!("{name} written"), || {
        fs::read_to_string(&path).ok().filter(|t| t.ends_with('\n'))
    })
}

fn exit_status_is_mains(place: Place) {
    let cases = [
        ("exit 3", 3),
        ("exit 0", 0),
        ("kill -9 $$", 128 + 9),
        ("kill -TERM $$", 128 + 15),
    ];
    for (script, want) in cases {
        let d = start(place, "cexit", "", Some(script));
        assert_eq!(code(&d), want, "{script} in {place:?}");
    }
    // A command that cannot run: 127 as a shell says (the usage is 2).
    let dir = TempDir::new("cexit");
    let opts = Opts {
        args: ["--", "/nonexistent/program"].map(String::from).to_vec(),
        no_wait: true,
        wrapper: wrapper(place),
        ..Opts::default()
    };
    let d = Daemon::start_in(dir, "", opts);
    assert_eq!(code(&d), 127);
    d.wait_stderr("spawn-failed:ENOENT");
}

in_both_places!(
    exit_status_is_mains,
    exit_status_is_mains_as_a_child,
    exit_status_is_mains_as_pid1
);

/// INT, TERM, HUP, QUIT, USR1 and USR2 go to main's whole process group
/// (a child of main in its group sees them too); main's exit code follows.
fn signals_are_forwarded(place: Place) {
    let script = r#"
        for s in INT HUP QUIT USR1 USR2; do trap "echo main:$s >> @DIR@/got" $s; done
        trap 'echo main:TERM >> @DIR@/got; wait; exit 42' TERM
        sh -c 'trap "echo child:TERM >> @DIR@/got; exit 0" TERM; trap "" USR1 USR2 HUP INT QUIT
               echo > @DIR@/child-ready; while :; do sleep 0.05; done' &
        while [ ! -e @DIR@/child-ready ]; do sleep 0.05; done
        echo ready > @DIR@/ready
        while :; do sleep 0.05; done"#;
    let d = start(place, "csig", "", Some(script));
    wait_file(&d, "ready");
    let pid = d.vigild_pid();
    let signals = [
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ];
    for (n, sig) in signals.into_iter().enumerate() {
        assert!(kill(pid, sig));
        // One at a time: the shell runs a trap once the sleep in front of
        // it ends, and two pending signals could come in either order.
        d.wait_for("the trap ran", || {
            let got = fs::read_to_string(d.dir.join("got")).unwrap_or_default();
            (got.lines().count() > n).then_some(())
        });
    }
    assert!(kill(pid, libc::SIGTERM));
    assert_eq!(code(&d), 42, "main's exit code");
    let got = fs::read_to_string(d.dir.join("got")).unwrap();
    let mut lines: Vec<_> = got.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "child:TERM",
            "main:HUP",
            "main:INT",
            "main:QUIT",
            "main:TERM",
            "main:USR1",
            "main:USR2"
        ],
        "{got}"
    );
    assert_eq!(
        d.stderr.text().matches("forwarding SIG").count(),
        6,
        "{}",
        d.stderr.text()
    );
}

in_both_places!(
    signals_are_forwarded,
    signals_are_forwarded_as_a_child,
    signals_are_forwarded_as_pid1
);

/// 50 orphans are adopted by vigild (PID 1, or the subreaper) and reaped:
/// no zombie is left. Main counts them from /proc (its parent is vigild).
fn orphans_are_reaped(place: Place) {
    let script = r#"
        for i in $(seq 50); do (sleep 1 &); done
        count() { # count STATE: vigild's children that are sleep (or zombies)
            n=0
            for f in /proc/[0-9]*/stat; do
                read -r pid comm st ppid rest < "$f" 2>/dev/null || continue
                [ "$ppid" = "$PPID" ] || continue
                case "$1" in
                    sleep) [ "$comm" = "(sleep)" ] && n=$((n+1)) ;;
                    zombie) [ "$st" = Z ] && n=$((n+1)) ;;
                esac
            done
            echo $n
        }
        sleep 0.3 # the subshells are gone by then
        count sleep > @DIR@/adopted
        sleep 1.5
        count zombie > @DIR@/zombies"#;
    let d = start(place, "corphan", "", Some(script));
    assert_eq!(code(&d), 0);
    assert_eq!(wait_file(&d, "adopted").trim(), "50", "orphans adopted");
    assert_eq!(wait_file(&d, "zombies").trim(), "0", "zombies left");
}

in_both_places!(
    orphans_are_reaped,
    orphans_are_reaped_as_a_child,
    orphans_are_reaped_as_pid1
);

/// Sidecars of the configuration start first and are stopped when main
/// ends, with `-- CMD` and with `main = NAME`; vigild exits with main's
/// code once they are down.
fn sidecars_stop_when_main_ends(place: Place) {
    let sidecar = r#"
[side]
exec = /bin/sh -c "trap 'echo stopped > @DIR@/side; exit 0' TERM; echo > @DIR@/side-up; while :; do sleep 0.05; done"
"#;
    let d = start(
        place,
        "cside",
        sidecar,
        Some("while [ ! -e @DIR@/side-up ]; do sleep 0.05; done; exit 5"),
    );
    assert_eq!(code(&d), 5);
    assert_eq!(wait_file(&d, "side"), "stopped\n");
    let log = d.stderr.text();
    let (ended, stopped) = (
        log.find("main service ended").unwrap(),
        log.find("side: stopping -> down").unwrap(),
    );
    assert!(ended < stopped, "{log}");

    // main waits for the sidecar's trap, as above: a TERM before it would
    // end the sidecar without its word.
    let named = format!(
        "[vigild]\nmain = app\n{sidecar}\n[app]\nafter = side\nrestart = no\n\
         exec = /bin/sh -c \"while [ ! -e @DIR@/side-up ]; do sleep 0.05; done; kill -USR1 $$\"\n"
    );
    let d = start(place, "cside", &named, None);
    assert_eq!(code(&d), 128 + libc::SIGUSR1);
    assert_eq!(wait_file(&d, "side"), "stopped\n");
}

in_both_places!(
    sidecars_stop_when_main_ends,
    sidecars_stop_when_main_ends_as_a_child,
    sidecars_stop_when_main_ends_as_pid1
);

/// `docker stop`'s TERM ends the container even when main is a service
/// of the file with `restart = always` (the default): passed on to main,
/// whose end is then its last, and vigild exits with its status.
fn a_forwarded_term_ends_a_restarting_main(place: Place) {
    let conf = "[vigild]\nmain = app\n[app]\n\
                exec = /bin/sh -c \"echo > @DIR@/ready; while :; do sleep 0.05; done\"\n";
    let d = start(place, "cterm", conf, None);
    wait_file(&d, "ready");
    assert!(kill(d.vigild_pid(), libc::SIGTERM));
    assert_eq!(code(&d), 128 + libc::SIGTERM, "{}", d.stderr.text());
    assert_eq!(d.stderr.text().matches("app: down -> starting").count(), 1);
}

in_both_places!(
    a_forwarded_term_ends_a_restarting_main,
    a_forwarded_term_ends_a_restarting_main_as_a_child,
    a_forwarded_term_ends_a_restarting_main_as_pid1
);

/// A main service stopped by a request while it waits in backoff (no
/// child exits then) ends vigild all the same.
#[test]
fn main_stopped_during_backoff_ends_vigild() {
    let conf = "[vigild]\nmain = app\n[app]\nexec = /bin/sh -c \"exit 5\"\nbackoff = 20s 20s\n";
    let dir = TempDir::new("cbackoff");
    let d = Daemon::start_in(dir, conf, Opts::default());
    d.wait_svc("app", "backing off", |s| s.state() == "backoff");
    d.request("stop app");
    assert_eq!(code(&d), 5);
}

/// PID 1 of a namespace whose reload drops `main` is an init again: TERM
/// reboots (the namespace ends by SIGHUP) instead of exiting.
#[test]
#[ignore = "needs root: run by .ci/run"]
fn pid1_follows_a_reload_that_drops_main() {
    let dir = TempDir::new("creload");
    let opts = Opts {
        wrapper: wrapper(Place::Namespace),
        ..Opts::default()
    };
    let d = Daemon::start_in(
        dir,
        "[vigild]\nmain = web\n[web]\nexec = /bin/sleep 100\n",
        opts,
    );
    d.wait_up("web");
    fs::write(&d.conf, "[web]\nexec = /bin/sleep 100\n").unwrap();
    assert_eq!(d.request("reload"), ["reloaded vigild"]);
    assert!(kill(d.vigild_pid(), libc::SIGTERM));
    let status = d.wait_exit(DEADLINE);
    assert_eq!(status.signal(), Some(libc::SIGHUP), "{status:?}");
    d.wait_stderr("sending SIGKILL to every process");
}

/// PID 1 without a main service keeps BusyBox init's meanings: a crashed
/// service is restarted, TERM reboots: every service stops in reverse
/// order, every process left gets TERM (one that ignores it KILL, 2 s
/// later), `finish` runs with the action, and reboot(2) in a PID namespace
/// ends it (the kernel kills its init with SIGHUP for a reboot, SIGINT for
/// a poweroff).
#[test]
#[ignore = "needs root: run by .ci/run"]
fn pid1_reboots_and_powers_off_a_namespace() {
    let conf = r#"
[vigild]
finish = /bin/sh -c "echo $0 > @DIR@/finished"
[base]
mode = oneshot
exec = /bin/true
[web]
after = base
exec = /bin/sh -c "setsid sh -c 'trap \"\" TERM; echo > @DIR@/stray-up; exec sleep 100' & exec sleep 100"
stop_timeout = 1s
"#;
    for (sig, action, ended_by) in [
        (libc::SIGTERM, "reboot", libc::SIGHUP),
        (libc::SIGUSR2, "poweroff", libc::SIGINT),
    ] {
        let dir = TempDir::new("cpid1");
        let opts = Opts {
            wrapper: wrapper(Place::Namespace),
            ..Opts::default()
        };
        let d = Daemon::start_in(dir, conf, opts);
        let web = d.wait_up("web");
        wait_file(&d, "stray-up");
        let cgroups = cgroup_dir_of(&d.run);
        assert!(cgroups.is_dir(), "no {}", cgroups.display());
        // A crash is a restart, once what web left running (the stray
        // that ignores TERM) got KILL at its stop_timeout.
        d.request("signal web KILL");
        d.wait_svc("web", "restarted", |s| {
            s.restarts() == 1 && s.state() == "up"
        });
        assert_ne!(d.svc("web").unwrap().pid(), web.pid());
        assert!(kill(d.vigild_pid(), sig));
        let status: ExitStatus = d.wait_exit(DEADLINE);
        assert_eq!(status.signal(), Some(ended_by), "{action}: {status:?}");
        assert_eq!(wait_file(&d, "finished"), format!("{action}\n"));
        let log = d.stderr.text();
        let order = [
            &format!("{action}: stopping every service") as &str,
            "web: up -> stopping",
            "base: up -> down",
            "all services stopped",
            "sending SIGTERM to every process",
            "sending SIGKILL to every process",
            &format!("running finish {action}"),
        ];
        let mut at = 0;
        for line in order {
            match log[at..].find(line) {
                Some(i) => at += i + line.len(),
                None => d.fail(&format!("{line:?} missing or out of order")),
            }
        }
        // Its cgroups are gone too (part 7's review: PID 1 exited without
        // removing them).
        assert!(!cgroups.exists(), "{} is left", cgroups.display());
    }
}

/// A process outside vigild's PID namespace that enters a service's
/// cgroup (as a `docker exec` into a cgroup might) is listed there as pid
/// 0, which must not become kill(0), the signal to vigild's own process
/// group (part 7's review: `stop` sent TERM to vigild itself, which shut
/// down). The stop waits for it (it is the service's now) and ends when it
/// is gone; vigild and its other service run on.
#[test]
#[ignore = "needs root: run by .ci/run"]
fn a_process_of_another_pid_namespace_in_a_cgroup_is_not_pid_0() {
    let dir = TempDir::new("cforeign");
    let opts = Opts {
        wrapper: wrapper(Place::Namespace),
        ..Opts::default()
    };
    let conf =
        "[svc]\nexec = /bin/sleep 1000\nstop_timeout = 1s\n[other]\nexec = /bin/sleep 1001\n";
    let d = Daemon::start_in(dir, conf, opts);
    d.wait_up("svc");
    d.wait_up("other");
    let mut foreign = std::process::Command::new("/bin/sleep")
        .arg("1002")
        .spawn()
        .unwrap();
    let procs = cgroup_dir_of(&d.run).join("svc.service/cgroup.procs");
    fs::write(&procs, foreign.id().to_string()).unwrap();
    let listed = fs::read_to_string(&procs).unwrap();
    assert!(listed.contains(&foreign.id().to_string()), "{listed}");
    d.send("stop svc");
    d.wait_svc("svc", "stopping", |s| s.state() == "stopping");
    // A KILL round or two (stop_timeout) with the foreign process listed.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(d.exited().is_none(), "vigild ended: {}", d.stderr.text());
    assert!(
        !d.stderr.text().contains("stopping every service"),
        "vigild signalled itself: {}",
        d.stderr.text()
    );
    foreign.kill().unwrap();
    foreign.wait().unwrap();
    d.wait_svc("svc", "down", |s| s.state() == "down");
    assert_eq!(d.svc("other").unwrap().state(), "up");
    assert!(kill(d.vigild_pid(), libc::SIGTERM));
    d.wait_exit(DEADLINE);
    let cgroups = cgroup_dir_of(&d.run);
    assert!(!cgroups.exists(), "{} is left", cgroups.display());
}

/// PID 1 where no cgroup2 is mounted but something is at /sys/fs/cgroup
/// (cgroup v1's hierarchies on a tmpfs, as on a v1 or hybrid host): vigild
/// does not mount cgroup2 over it, which would hide the hierarchies that
/// others use (part 7's review); it contains by process groups.
#[test]
#[ignore = "needs root: run by .ci/run"]
fn pid1_does_not_mount_cgroup2_over_another_mount() {
    let dir = TempDir::new("cv1");
    // A mount namespace of its own without the cgroup2 mount(s), a tmpfs
    // at /sys/fs/cgroup (where cgroup v1's hierarchies would be).
    let script = "grep ' - cgroup2 ' /proc/self/mountinfo | cut -d' ' -f5 | \
                  while read m; do umount -l \"$m\" || exit 1; done; \
                  mount -t tmpfs v1 /sys/fs/cgroup || exit 1; exec \"$0\" \"$@\"";
    let mut wrapper: Vec<String> = [
        "unshare",
        "--fork",
        "--pid",
        "--mount",
        "--mount-proc",
        "--kill-child",
    ]
    .map(String::from)
    .to_vec();
    wrapper.extend(["/bin/sh", "-c", script].map(String::from));
    let opts = Opts {
        wrapper,
        ..Opts::default()
    };
    let d = Daemon::start_in(dir, "[svc]\nexec = /bin/sleep 1000\n", opts);
    let s = d.wait_up("svc");
    assert_eq!(s.get("contain"), "group", "{}", s.line);
    let mounts = fs::read_to_string(format!("/proc/{}/mountinfo", d.vigild_pid())).unwrap();
    let cgroup2: Vec<&str> = mounts
        .lines()
        .filter(|l| l.contains(" - cgroup2 "))
        .collect();
    assert!(cgroup2.is_empty(), "vigild mounted {cgroup2:?}");
    d.wait_stderr("containment: process groups");
    assert!(kill(d.vigild_pid(), libc::SIGTERM));
    d.wait_exit(DEADLINE);
}

/// The cgroup directory a vigild started from this test makes for the run
/// directory `run`: in the test's own cgroup, `vigild` and the path with
/// `/` as `-` and other bytes but letters, digits and `.` as `_HH`, then
/// `@DEV.INO` of the directory, in hex.
fn cgroup_dir_of(run: &Path) -> PathBuf {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mount = info
        .lines()
        .find_map(|l| {
            let (before, after) = l.split_once(" - ")?;
            let point = before.split(' ').nth(4)?;
            (after.split(' ').next()? == "cgroup2").then(|| point.to_string())
        })
        .expect("a cgroup2 mount");
    let own = fs::read_to_string("/proc/self/cgroup").unwrap();
    let own = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap()
        .to_string();
    let mut name = String::from("vigild");
    for b in run.to_str().unwrap().bytes() {
        match b {
            b'/' => name.push('-'),
            b'.' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => name.push(b as char),
            _ => name.push_str(&format!("_{b:02x}")),
        }
    }
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(run).unwrap();
    name.push_str(&format!("@{:x}.{:x}", meta.dev(), meta.ino()));
    PathBuf::from(format!("{mount}{own}/{name}"))
}

/// Container mode off PID 1 takes a private run directory (`/run/vigild.PID`,
/// else under $XDG_RUNTIME_DIR or /tmp) unless `-r` names one: two `vigild
/// -- CMD` on one host do not collide, each answers on its own, and each
/// removes its directory when it exits (part 7's trial: both used
/// /run/vigild and the second was refused).
#[test]
fn container_mode_takes_a_private_run_dir() {
    use std::process::{Command, Stdio};
    let dir = TempDir::new("private");
    let start = || {
        Command::new(vigild_bin())
            .args([
                "--",
                "/bin/sh",
                "-c",
                "trap 'exit 0' TERM; sleep 1000 & wait",
            ])
            .env(TAG_VAR, dir.path.to_str().unwrap())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut first = start();
    let mut second = start();
    let runs: Vec<String> = [&first, &second]
        .iter()
        .map(|child| {
            let pid = child.id();
            let candidates = [
                format!("/run/vigild.{pid}"),
                format!(
                    "{}/vigild.{pid}",
                    std::env::var("XDG_RUNTIME_DIR").unwrap_or_default()
                ),
                format!("/tmp/vigild.{pid}"),
            ];
            poll_until(DEADLINE, || {
                candidates
                    .iter()
                    .find(|c| std::path::Path::new(&format!("{c}/status")).exists())
                    .cloned()
            })
            .unwrap_or_else(|| panic!("no private run directory for vigild {pid}"))
        })
        .collect();
    for run in &runs {
        let out = run_limited({
            let mut c = Command::new(vigild_bin());
            c.args(["ctl", "-r", run, "status", "main"]);
            c
        });
        assert_eq!(out.status.code(), Some(0), "{run}: {}", show(&out));
        assert!(stdout(&out).starts_with("run: main:"), "{}", show(&out));
    }
    for child in [&mut first, &mut second] {
        kill(child.id() as i32, libc::SIGTERM);
        let Some(status) = poll_until(DEADLINE, || child.try_wait().ok().flatten()) else {
            kill(child.id() as i32, libc::SIGKILL);
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err);
            panic!("vigild {} did not exit on TERM: {err}", child.id());
        };
        assert_eq!(status.code(), Some(0));
    }
    for run in &runs {
        let left: Vec<_> =
            fs::read_dir(run).map_or(vec![], |d| d.map(|e| e.unwrap().file_name()).collect());
        assert!(
            !std::path::Path::new(run).exists(),
            "{run} left behind with {left:?}"
        );
    }
    let left = tagged_processes(dir.path.to_str().unwrap());
    for &pid in &left {
        kill(pid, libc::SIGKILL);
    }
    assert!(left.is_empty(), "processes left running: {left:?}");
}

//! vigilctl against a real vigild: `-h`/`-V`, `VIGILD_RUN_DIR`, `list`,
//! `status NAME` (fields and the last lines of output), `--json` read by
//! python3's json module, a user who may only read the status file, the
//! reply FIFO removed on signals, and the bash completion.

#[path = "daemon/harness.rs"]
mod harness;

use harness::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `vigilctl ARGS` with `-r` from the environment, as given.
fn ctl_env(d: &Daemon, env: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut c = Command::new(d.vigilctl_path());
    c.args(args).env_remove("VIGILD_RUN_DIR");
    for (k, v) in env {
        c.env(k, v);
    }
    run_limited(c)
}

/// Parse JSON with python3 and print it back in a canonical form (keys
/// sorted, ASCII): what a JSON consumer reads.
fn python_json(text: &[u8], expr: &str) -> String {
    let mut c = Command::new("python3");
    c.arg("-c")
        .arg(format!(
            "import json, sys\nv = json.loads(sys.stdin.buffer.read())\nprint(json.dumps({expr}, sort_keys=True))"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("python3");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python3 refused the JSON {:?}: {}",
        String::from_utf8_lossy(text),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end()
        .to_string()
}

#[test]
fn vigilctl_help_version_and_usage_errors() {
    let dir = TempDir::new("ctl-help");
    let ctl = vigilctl_in(&dir);
    let run = |args: &[&str]| {
        let mut c = Command::new(&ctl);
        c.args(args);
        run_limited(c)
    };
    let verbs = [
        "start", "stop", "restart", "signal", "reload", "shutdown", "poweroff", "reboot", "halt",
        "log", "monitor", "list", "status", "wait",
    ];
    for flag in ["-h", "--help"] {
        let out = run(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        assert!(out.stderr.is_empty(), "{}", show(&out));
        let text = stdout(&out);
        for word in verbs
            .iter()
            .chain(&["--json", "--raw", "-r DIR", "VIGILD_RUN_DIR", "-V"])
        {
            assert!(text.contains(word), "{word} missing from the help:\n{text}");
        }
    }
    for flag in ["-V", "--version"] {
        let out = run(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        assert_eq!(
            stdout(&out),
            format!("vigilctl {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
    // The other calling form.
    let mut c = Command::new(vigild_bin());
    c.args(["ctl", "--version"]);
    assert!(stdout(&run_limited(c)).starts_with("vigilctl "));
    for args in [
        &[][..],
        &["frobnicate"],
        &["list", "--yaml"],
        &["status", "--json"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
        assert!(out.stdout.is_empty(), "{args:?}: {}", show(&out));
        // What was wrong, then the usage line.
        let text = String::from_utf8_lossy(&out.stderr);
        let (why, usage) = text.split_once('\n').unwrap_or_default();
        assert!(why.starts_with("vigilctl: "), "{text}");
        assert!(usage.starts_with("usage: vigilctl"), "{text}");
        for verb in verbs {
            assert!(
                usage.contains(verb),
                "{verb} missing from the usage: {usage}"
            );
        }
    }
}

#[test]
fn vigilctl_run_dir_from_the_environment() {
    let d = Daemon::start("ctl-env", "[web]\nexec = /bin/sleep 1000\n");
    d.wait_up("web");
    let nothing = d.dir.join("nothing");
    fs::create_dir(&nothing).unwrap();
    let out = ctl_env(&d, &[("VIGILD_RUN_DIR", &d.run)], &["status", "web"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(stdout(&out).starts_with("run: web: "), "{}", show(&out));
    // -r wins.
    let r = d.run.to_str().unwrap();
    let out = ctl_env(&d, &[("VIGILD_RUN_DIR", &nothing)], &["-r", r, "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let n = nothing.to_str().unwrap();
    let out = ctl_env(&d, &[("VIGILD_RUN_DIR", &d.run)], &["-r", n, "list"]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let out = ctl_env(&d, &[("VIGILD_RUN_DIR", Path::new("run"))], &["list"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

/// A service sending `STATUS=` with every kind of byte a JSON string must
/// escape, through the real notify socket.
const NOTIFY_PY: &str = r#"
import os, socket, time
path = os.environ["NOTIFY_SOCKET"]
if path.startswith("@"):
    path = "\0" + path[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b'READY=1\nSTATUS=say "hi" \\ \x01\t\xff caf\xc3\xa9', path)
time.sleep(1000)
"#;

#[test]
fn vigilctl_list_shows_every_service_aligned_and_as_json() {
    let dir = TempDir::new("ctl-list");
    fs::write(dir.join("notify.py"), NOTIFY_PY).unwrap();
    let d = Daemon::start_in(
        dir,
        "[web]\nexec = /bin/sleep 1000\n\
         [lazy]\nexec = /bin/sleep 1000\nautostart = no\n\
         [broken]\nexec = /bin/sh -c 'exit 3'\nbackoff = 10ms 10ms\nrestart_max = 1\n\
         [db]\nexec = /usr/bin/python3 @DIR@/notify.py\nready = notify\n",
        Opts::default(),
    );
    let web = d.wait_up("web").pid();
    d.wait_up("db");
    d.wait_svc("broken", "gave up", |s| s.reason() == "gave-up");

    let out = d.ctl(&["list"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = stdout(&out);
    assert!(!text.contains('\x1b'), "colour into a pipe: {text:?}");
    let lines: Vec<&str> = text.lines().collect();
    let heads = [
        "NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST", "REASON", "READY",
    ];
    let at: Vec<usize> = heads.iter().map(|h| lines[0].find(h).unwrap()).collect();
    assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), heads);
    // Every row has a value starting under each heading.
    for line in &lines[1..] {
        for &col in &at {
            let b = line.as_bytes();
            assert!(
                b.len() > col && b[col] != b' ' && (col == 0 || b[col - 1] == b' '),
                "column at {col} not aligned:\n{text}"
            );
        }
    }
    let row = |name: &str| -> Vec<&str> {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap();
        line.split_whitespace().collect()
    };
    let web_row = row("web");
    assert_eq!(web_row[..3], ["web", "up", &web.to_string()[..]], "{text}");
    assert!(web_row[3].ends_with('s'), "uptime: {text}");
    assert_eq!(web_row[4..], ["0", "-", "-", "yes"], "{text}");
    assert_eq!(
        row("lazy")[1..],
        ["down", "-", row("lazy")[3], "0", "-", "-", "no"]
    );
    // The last exit stays visible after a give-up.
    let restarts = d.svc("broken").unwrap().restarts().to_string();
    assert_eq!(
        row("broken")[4..],
        [&restarts[..], "exit:3", "gave-up", "no"],
        "{text}"
    );

    // Colour on a terminal, unless NO_COLOR.
    let script = |no_color: bool| {
        let mut c = Command::new("script");
        c.args(["-qec"])
            .arg(format!(
                "{} -r {} list",
                d.vigilctl_path().display(),
                d.run.display()
            ))
            .arg("/dev/null");
        if no_color {
            c.env("NO_COLOR", "1");
        } else {
            c.env_remove("NO_COLOR");
        }
        stdout(&run_limited(c))
    };
    let tty = script(false);
    assert!(tty.contains("\x1b[32mup\x1b[0m"), "{tty:?}");
    assert!(tty.contains("\x1b[31mdown\x1b[0m"), "{tty:?}");
    assert!(!script(true).contains('\x1b'), "NO_COLOR");

    // --json: one array, the stable keys, strings escaped.
    let out = d.ctl(&["list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let names = python_json(&out.stdout, "[o['name'] for o in v]");
    assert_eq!(names, r#"["web", "lazy", "broken", "db"]"#);
    let web_json = python_json(
        &out.stdout,
        "{k: v for k, v in v[0].items() if k not in ('since', 'uptime')}",
    );
    assert_eq!(
        web_json,
        format!(
            r#"{{"contain": "{}", "last": null, "mode": "daemon", "name": "web", "pid": {web}, "ready": true, "reason": null, "restarts": 0, "state": "up", "status": null}}"#,
            d.svc("web").unwrap().get("contain")
        )
    );
    let types = python_json(
        &out.stdout,
        "[type(v[0]['since']).__name__, type(v[0]['uptime']).__name__, v[1]['pid'], v[2]['last'], v[2]['reason']]",
    );
    assert_eq!(types, r#"["float", "int", null, "exit:3", "gave-up"]"#);
    let status = python_json(&out.stdout, "v[3]['status']");
    assert_eq!(status, r#""say \"hi\" \\ \u0001\t\u00ff caf\u00e9""#);
    // Not UTF-8 in the JSON: \u00ff for the lone byte, é as it was.
    let raw = String::from_utf8(out.stdout.clone()).expect("JSON is UTF-8");
    assert!(raw.contains(r#"\u0001\u0009\u00ff café"#), "{raw}");
}

#[test]
fn vigilctl_status_of_one_service_shows_fields_and_last_lines() {
    let d = Daemon::start(
        "ctl-status",
        "[ring]\nexec = /bin/sh -c 'for i in $(seq 1 15); do echo ring line $i; done; exec sleep 1000'\n\
         log = ring:4k\n\
         [files]\nexec = /bin/sh -c 'for i in $(seq 1 60); do echo files line $i with some padding to rotate sooner; done; exec sleep 1000'\n\
         log = -s 4k @DIR@/log\n\
         [quiet]\nexec = /bin/sleep 1000\n",
    );
    for name in ["ring", "files", "quiet"] {
        d.wait_up(name);
    }
    let tail = |name: &str, from: u32| -> Vec<String> {
        (from..from + 10)
            .map(|i| format!("{name} line {i}"))
            .collect()
    };
    // The ring: the last 10 of 15 lines.
    let lines = d.wait_for("the ring's last line", || {
        let out = d.ctl(&["status", "ring"]);
        let text = stdout(&out);
        text.contains("ring line 15").then_some(text)
    });
    let lines: Vec<&str> = lines.lines().collect();
    assert!(lines[0].starts_with("run: ring: (pid "), "{lines:?}");
    for field in [
        "  state: up",
        "  mode: daemon",
        "  restarts: 0",
        "  last: -",
        "  ready: yes",
    ] {
        assert!(lines.contains(&field), "{field} missing: {lines:?}");
    }
    let log_at = lines
        .iter()
        .position(|l| *l == "  log:")
        .expect("log header");
    let shown: Vec<String> = lines[log_at + 1..]
        .iter()
        .map(|l| l.trim().to_string())
        .collect();
    assert_eq!(shown, tail("ring", 6));
    // vigil-log's directory: the newest rotated file, then current.
    let text = d.wait_for("files' last line", || {
        let text = stdout(&d.ctl(&["status", "files"]));
        text.contains("files line 60").then_some(text)
    });
    assert!(
        fs::read_dir(d.dir.join("log")).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with('@')),
        "no rotation happened"
    );
    let lines: Vec<&str> = text.lines().collect();
    let log_at = lines
        .iter()
        .position(|l| *l == "  log:")
        .expect("log header");
    assert!(
        lines.contains(&&*format!("  log_dir: {}", d.dir.s("log"))),
        "{text}"
    );
    let shown: Vec<&str> = lines[log_at + 1..].iter().map(|l| l.trim()).collect();
    assert_eq!(shown.len(), 10, "{text}");
    for (line, want) in shown.iter().zip(51..) {
        assert!(
            line.ends_with(&format!(
                "files line {want} with some padding to rotate sooner"
            )),
            "{text}"
        );
    }
    // No output kept: no log section.
    let text = stdout(&d.ctl(&["status", "quiet"]));
    assert!(!text.contains("log:"), "{text}");
    // --json: one object with the log.
    let out = d.ctl(&["status", "--json", "ring"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        python_json(&out.stdout, "[v['name'], v['state'], v['log']]"),
        format!(
            r#"["ring", "up", {}]"#,
            python_json(format!("{:?}", tail("ring", 6)).as_bytes(), "v")
        )
    );
    assert_eq!(
        python_json(&d.ctl(&["status", "--json", "quiet"]).stdout, "v['log']"),
        "[]"
    );
    // Several names: runit lines, as before; an unknown one is said.
    let out = d.ctl(&["status", "quiet", "ring"]);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{}", show(&out));
    assert!(lines[0].starts_with("run: quiet: ") && lines[1].starts_with("run: ring: "));
    let out = d.ctl(&["status", "ring", "nosuch"]);
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    assert_eq!(d.ctl(&["status", "nosuch"]).status.code(), Some(4));
}

/// A user who may read the status file but not write the control FIFO:
/// `list` and `status` work, a request says why it cannot be made.
#[test]
#[ignore = "needs root (runs vigilctl as another user)"]
fn vigilctl_for_a_user_who_may_only_read() {
    let d = Daemon::start("ctl-reader", "[web]\nexec = /bin/sleep 1000\n");
    d.wait_up("web");
    // The run directory is 0700 as vigild makes it: open it to others.
    fs::set_permissions(&d.run, fs::Permissions::from_mode(0o755)).unwrap();
    let (uid, gid) = passwd_entry("nobody").expect("a user nobody");
    let as_nobody = |args: &[&str]| {
        let mut c = Command::new(d.vigilctl_path());
        c.arg("-r").arg(&d.run).args(args);
        c.uid(uid).gid(gid);
        run_limited(c)
    };
    let out = as_nobody(&["list"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(stdout(&out).contains("web "), "{}", show(&out));
    let out = as_nobody(&["status", "web"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(stdout(&out).starts_with("run: web: "), "{}", show(&out));
    for args in [
        &["start", "web"][..],
        &["reload"],
        &["wait", "up", "web", "1s"],
        &["log", "web"],
    ] {
        let out = as_nobody(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", show(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("vigilctl: {}/control: permission denied\n", d.run.display())
        );
    }
}

/// The reply FIFO of a vigilctl ended by INT, TERM or HUP is removed, as
/// is one of a `wait` that timed out.
#[test]
fn vigilctl_removes_its_reply_fifo_when_interrupted() {
    let d = Daemon::start(
        "ctl-fifo",
        "[web]\nexec = /bin/sleep 1000\n[lazy]\nexec = /bin/sleep 1000\nautostart = no\n",
    );
    d.wait_up("web");
    let replies = || -> Vec<String> {
        fs::read_dir(&d.run)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("reply."))
            .collect()
    };
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let mut c = Command::new(d.vigilctl_path());
        c.arg("-r").arg(&d.run).arg("monitor");
        c.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        let fifo = format!("reply.{}", child.id());
        d.wait_for("the monitor's reply FIFO", || {
            replies().contains(&fifo).then_some(())
        });
        kill(child.id() as i32, sig);
        let status = poll_until(DEADLINE, || child.try_wait().unwrap())
            .unwrap_or_else(|| panic!("vigilctl monitor ignored signal {sig}"));
        assert_eq!(status.code(), Some(128 + sig), "{status:?}");
        assert_eq!(replies(), Vec::<String>::new(), "after signal {sig}");
    }
    let out = d.ctl(&["wait", "up", "lazy", "200ms"]);
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    assert_eq!(replies(), Vec::<String>::new(), "after a wait's timeout");
}

/// vigild removes the reply FIFOs of vigilctls that are gone (killed by
/// KILL) when it starts, and keeps those of live ones.
#[test]
fn vigild_removes_stale_reply_fifos_at_start() {
    let dir = TempDir::new("ctl-stale");
    let run = dir.join("run");
    fs::create_dir(&run).unwrap();
    fs::set_permissions(&run, fs::Permissions::from_mode(0o700)).unwrap();
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let live = std::process::id();
    for pid in [dead, live] {
        mkfifo(&run.join(format!("reply.{pid}")));
    }
    fs::write(run.join("reply.notapid"), "").unwrap();
    let d = Daemon::start_in(dir, "[web]\nexec = /bin/sleep 1000\n", Opts::default());
    d.wait_up("web");
    assert!(
        !d.run.join(format!("reply.{dead}")).exists(),
        "stale FIFO kept"
    );
    assert!(
        d.run.join(format!("reply.{live}")).exists(),
        "a live one removed"
    );
    assert!(d.run.join("reply.notapid").exists());
}

/// The bash completion completes verbs, options and the names of the
/// status file (of `-r DIR`, or `VIGILD_RUN_DIR`).
#[test]
fn bash_completion_offers_verbs_and_service_names() {
    let dir = TempDir::new("ctl-bash");
    let run = dir.join("run");
    fs::create_dir(&run).unwrap();
    fs::write(
        run.join("status"),
        "web state=up pid=1 since=1.000 mode=daemon contain=group restarts=0 last=- ready=yes\n\
         web/log state=up pid=2 since=1.000 mode=daemon contain=group restarts=0 last=- ready=yes\n\
         worker state=down pid=0 since=1.000 mode=daemon contain=group restarts=0 last=- ready=no status=\"a b\"\n",
    )
    .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/completions/vigilctl.bash");
    let complete = |words: &str, env_run: bool| -> String {
        let mut c = Command::new("bash");
        c.arg("--norc")
            .arg("-c")
            .arg(format!(
                "source {script}\nCOMP_WORDS=({words})\nCOMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
                 _vigilctl\nprintf '%s\\n' \"${{COMPREPLY[@]}}\" | sort"
            ))
            .env_remove("VIGILD_RUN_DIR");
        if env_run {
            c.env("VIGILD_RUN_DIR", &run);
        }
        let out = run_limited(c);
        assert!(out.status.success(), "{}", show(&out));
        stdout(&out).trim().to_string()
    };
    let r = run.to_str().unwrap();
    assert_eq!(complete("vigilctl st", false), "start\nstatus\nstop");
    assert_eq!(
        complete("vigilctl -", false),
        "--help\n--version\n-V\n-h\n-r"
    );
    assert_eq!(
        complete(&format!("vigilctl -r {r} restart w"), false),
        "web\nweb/log\nworker"
    );
    assert_eq!(complete("vigilctl stop wo", true), "worker");
    assert_eq!(complete("vigilctl list -", false), "--json");
    assert_eq!(complete("vigilctl wait ''", false), "down\nup");
    assert_eq!(complete("vigilctl wait up w", true), "web\nweb/log\nworker");
    assert_eq!(complete("vigilctl reload ''", true), "");
}

#[test]
#[ignore = "needs zsh (CI installs it)"]
fn zsh_completion_is_valid_zsh() {
    let mut c = Command::new("zsh");
    c.arg("-n").arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/completions/_vigilctl"
    ));
    let out = run_limited(c);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

/// runit's `sv status` lines from a status file as written by hand, with
/// a reader on the control FIFO as vigild would be: each state's form,
/// and a crafted state with a terminal escape in it shown escaped (found
/// by the status fuzz target).
#[test]
fn vigilctl_status_lines_runit_style_and_escaped() {
    use std::time::{SystemTime, UNIX_EPOCH};
    let dir = TempDir::new("ctl-sv");
    let (run, _reader) = fake_run_dir(&dir);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // A millisecond more than whole seconds: the same seconds for the
    // next 999 ms.
    let ago = |s: u64| {
        let t = now - s * 1000 - 1;
        format!("{}.{:03}", t / 1000, t % 1000)
    };
    let words = "mode=daemon contain=group";
    fs::write(
        run.join("status"),
        format!(
            "web state=up pid=412 since={} {words} restarts=2 last=exit:1 ready=yes\n\
             db state=down pid=0 since={} {words} restarts=0 last=exit:1 ready=no reason=gave-up\n\
             job state=backoff pid=0 since={} {words} restarts=0 last=exit:1 ready=no\n\
             odd state=\x1b[2Jx pid=0 since={} restarts=0 last=-\n",
            ago(133),
            ago(12),
            ago(3),
            ago(0)
        ),
    )
    .unwrap();
    let mut c = Command::new(vigilctl_in(&dir));
    c.arg("-r").arg(&run).arg("status");
    let out = run_limited(c);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        stdout(&out),
        "run: web: (pid 412) 133s, restarts 2\n\
         down: db: 12s, gave-up\n\
         backoff: job: 3s, last exit:1\n\
         \\x1b[2Jx: odd: 0s\n"
    );
}

/// A run directory with a fake control reader and `status`: what a user
/// who may write a run directory (or a log directory) can put there.
fn fake_run_dir(dir: &TempDir) -> (std::path::PathBuf, fs::File) {
    let run = dir.join("run");
    fs::create_dir(&run).unwrap();
    let fifo = run.join("control");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // Read and write: a reader that never blocks the open.
    let reader = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    (run, reader)
}

/// vigilctl on hostile files: a status file that is a FIFO or a device
/// is refused at once (no hang, no endless read); a log directory's
/// `current` that is a FIFO, a hard link to another file or a huge file
/// is not waited on, not shown, or only its end is read; a name long
/// enough to pass the writer's buffer while the table is measured does
/// not reach the output out of place.
#[test]
fn vigilctl_holds_against_hostile_files() {
    let dir = TempDir::new("ctl-hostile");
    let (run, _reader) = fake_run_dir(&dir);
    let ctl = |args: &[&str]| {
        let mut c = Command::new(vigilctl_in(&dir));
        c.arg("-r").arg(&run).args(args);
        run_limited(c)
    };
    // The status file as a FIFO without a writer, then as /dev/zero.
    let status = run.join("status");
    assert!(
        Command::new("mkfifo")
            .arg(&status)
            .status()
            .unwrap()
            .success()
    );
    let out = ctl(&["list"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    fs::remove_file(&status).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &status).unwrap();
    let out = ctl(&["list"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    fs::remove_file(&status).unwrap();

    // A log directory whose `current` is a FIFO, then a hard link, then
    // a big file whose last line is the one to show.
    let logs = dir.join("logs");
    fs::create_dir(&logs).unwrap();
    let line = format!(
        "web state=up pid=1 since=1.000 mode=daemon contain=group restarts=0 last=- ready=yes log_dir={}\n",
        logs.display()
    );
    fs::write(&status, &line).unwrap();
    let current = logs.join("current");
    assert!(
        Command::new("mkfifo")
            .arg(&current)
            .status()
            .unwrap()
            .success()
    );
    let out = ctl(&["status", "web"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    fs::remove_file(&current).unwrap();
    let secret = dir.join("secret");
    fs::write(&secret, "the secret\n").unwrap();
    fs::hard_link(&secret, &current).unwrap();
    let out = ctl(&["status", "web"]);
    assert!(!stdout(&out).contains("the secret"), "{}", show(&out));
    fs::remove_file(&current).unwrap();
    let big = fs::File::create(&current).unwrap();
    big.set_len(1 << 40).unwrap();
    use std::io::{Seek, SeekFrom, Write};
    let mut big = big;
    big.seek(SeekFrom::End(0)).unwrap();
    big.write_all(b"\nthe last line\n").unwrap();
    let out = ctl(&["status", "web"]);
    assert!(
        stdout(&out).contains("    the last line\n"),
        "{}",
        show(&out)
    );
    fs::remove_file(&current).unwrap();

    // Names of escaped bytes, longer than the writer's buffer once
    // escaped: the table still starts with its headings.
    let long = |b: char| b.to_string().repeat(1500);
    fs::write(
        &status,
        format!(
            "a state=up pid=1 since=1.000\n{} state=up pid=1 since=1.000\n{} state=up pid=1 since=1.000\n",
            long('\x01'),
            long('\x02')
        ),
    )
    .unwrap();
    let out = ctl(&["list"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(stdout(&out).starts_with("NAME "), "{}", show(&out));
    // --raw shows the lines as written, but no byte a terminal acts on.
    fs::write(&status, "a\x1b]0;x\x07 state=up pid=1 since=1.000\n").unwrap();
    let out = ctl(&["status", "--raw"]);
    assert_eq!(
        stdout(&out),
        "a\\x1b]0;x\\x07 state=up pid=1 since=1.000\n",
        "{}",
        show(&out)
    );
}

/// JSON strings escape what a terminal or a JavaScript parser would act
/// on: C1 controls in UTF-8 (U+009B is a CSI) and U+2028/U+2029.
#[test]
fn vigilctl_json_escapes_c1_controls_and_line_separators() {
    let dir = TempDir::new("ctl-c1");
    let (run, _reader) = fake_run_dir(&dir);
    fs::write(
        run.join("status"),
        "web state=up pid=1 since=1.000 mode=daemon contain=group restarts=0 last=- ready=yes status=\"a\\xc2\\x9b31mb\\xe2\\x80\\xa8c\\xc3\\xa9\"\n",
    )
    .unwrap();
    let mut c = Command::new(vigilctl_in(&dir));
    c.arg("-r").arg(&run).args(["list", "--json"]);
    let out = run_limited(c);
    let text = stdout(&out);
    assert!(text.contains(r#""status":"a\u009b31mb\u2028cé""#), "{text}");
    python_json(text.as_bytes(), "v");
}

/// `monitor | head -1`: vigilctl ends when its reader goes away, and
/// removes its reply FIFO.
#[test]
fn vigilctl_removes_its_reply_fifo_when_its_reader_goes() {
    let d = Daemon::start("ctl-pipe", "[web]\nexec = /bin/sleep 1000\n");
    d.wait_up("web");
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!(
        "'{}' -r '{}' monitor | head -c 1 >/dev/null",
        d.vigilctl_path().display(),
        d.run.display()
    ));
    let mut child = c.spawn().unwrap();
    // The first line reaches head; the next one finds no reader.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = d.ctl(&["restart", "web"]);
    poll_until(DEADLINE, || child.try_wait().unwrap()).expect("monitor | head did not end");
    let left: Vec<_> = fs::read_dir(&d.run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("reply."))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// `status NAME` of a service without a ring (`log = inherit`) shows no
/// log and says nothing about it: vigild's "no ring" answer is for `log`.
#[test]
fn vigilctl_status_of_a_service_without_a_ring_is_quiet() {
    let d = Daemon::start("ctl-noring", "[web]\nexec = /bin/sleep 1000\n");
    d.wait_up("web");
    let out = d.ctl(&["status", "web"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{}", show(&out));
    assert!(!stdout(&out).contains("log:"), "{}", show(&out));
}

/// The bash completion reads names from a status file as words: `$(...)`,
/// backquotes and globs in them are never run or expanded, and a status
/// file that is a FIFO does not hang the shell.
#[test]
fn bash_completion_never_runs_what_a_status_file_holds() {
    let dir = TempDir::new("ctl-bash-hostile");
    let run = dir.join("run");
    fs::create_dir(&run).unwrap();
    let pwned = dir.join("pwned");
    let p = pwned.to_str().unwrap();
    fs::write(
        run.join("status"),
        format!("$(touch${{IFS}}{p}) state=up\n`touch {p}` state=up\n* state=up\nweb state=up\n"),
    )
    .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/completions/vigilctl.bash");
    let complete = |cur: &str| {
        let mut c = Command::new("bash");
        c.arg("--norc").arg("-c").arg(format!(
            "source {script}\nCOMP_WORDS=(vigilctl -r {} start {cur})\nCOMP_CWORD=4\n\
             _vigilctl\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
            run.display()
        ));
        c.current_dir(env!("CARGO_MANIFEST_DIR"));
        let out = run_limited(c);
        assert!(out.status.success(), "{}", show(&out));
        stdout(&out)
    };
    let all = complete("''");
    assert!(!pwned.exists(), "the completion ran a command: {all}");
    assert_eq!(
        all,
        format!("$(touch${{IFS}}{p})\n`touch\n*\nweb\n"),
        "names as words, no file names of the current directory"
    );
    fs::remove_file(run.join("status")).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(run.join("status"))
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(complete("w"), "\n");
}

/// `vigild -f & vigilctl wait up NAME TIMEOUT`: the wait started before
/// vigild opened its control FIFO and wrote its status file waits for
/// both, within its timeout, instead of saying vigild is not running.
#[test]
fn vigilctl_wait_waits_for_a_vigild_that_is_starting() {
    let dir = TempDir::new("ctl-early");
    let conf = dir.join("vigild.conf");
    fs::write(&conf, "[web]\nexec = /bin/sleep 1000\n").unwrap();
    let run = dir.join("run");
    let mut vigild = Command::new(vigild_bin())
        .args([
            "-f",
            "-q",
            "-c",
            conf.to_str().unwrap(),
            "-r",
            run.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut c = Command::new(vigilctl_in(&dir));
    c.arg("-r").arg(&run).args(["wait", "up", "web", "10s"]);
    let out = run_limited(c);
    let mut stop = Command::new(vigilctl_in(&dir));
    stop.arg("-r").arg(&run).arg("shutdown");
    let _ = run_limited(stop);
    if poll_until(DEADLINE, || vigild.try_wait().unwrap()).is_none() {
        let _ = vigild.kill();
        let _ = vigild.wait();
    }
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

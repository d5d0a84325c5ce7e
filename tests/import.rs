//! Black-box tests of `vigild import`: runit, s6 (and s6-rc) and
//! daemontools service directories built here, Debian's runit-services
//! (CI extracts the package, see `.ci/run`), and a runit tree imported and
//! run by vigild.

#[path = "daemon/harness.rs"]
mod harness;

use harness::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn import(kind: &str, dirs: &[&Path]) -> Output {
    Command::new(vigild_bin())
        .arg("import")
        .arg(kind)
        .args(dirs)
        .output()
        .expect("run vigild import")
}

/// `vigild import` that must succeed: its output.
#[track_caller]
fn imported(kind: &str, dirs: &[&Path]) -> String {
    let out = import(kind, dirs);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// `vigild -t` accepts `conf` (written to `file`).
#[track_caller]
fn check(conf: &str, file: &Path) {
    fs::write(file, conf).unwrap();
    let out = Command::new(vigild_bin())
        .arg("-t")
        .arg("-c")
        .arg(file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // s6-rc's `up` runs under execlineb, which this machine may lack: -t
    // rightly warns of a program it cannot find, nothing else.
    let warned = stderr
        .lines()
        .any(|l| l.contains("warning") && !l.contains("execlineb: not found"));
    assert!(
        out.status.success() && !warned,
        "vigild -t refused:\n{stderr}\n--- config ---\n{conf}"
    );
}

/// The lines of section `[name]` (up to the next section).
fn section<'a>(conf: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("[{name}]");
    conf.lines()
        .skip_while(|l| *l != header)
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.is_empty())
        .collect()
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn script(path: &Path, text: &str) {
    write(path, text);
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[track_caller]
fn has(lines: &[&str], line: &str) {
    assert!(lines.contains(&line), "no {line:?} in {lines:#?}");
}

#[test]
fn runit_service_directory() {
    let t = TempDir::new("import-runit");
    let sv = t.join("sv");
    let web = sv.join("web");
    script(&web.join("run"), "#!/bin/sh\nexec 2>&1\nexec sleep 100\n");
    script(&web.join("finish"), "#!/bin/sh\nexit 0\n");
    write(&web.join("down"), "");
    script(&web.join("log/run"), "#!/bin/sh\nexec svlogd -tt ./main\n");
    write(&web.join("log/main/config"), "s100000\n");
    write(&web.join("control/t"), "#!/bin/sh\n");
    write(&web.join("supervise/stat"), "run\n");
    // A logger that does more than log: kept as a script of its own.
    let db = sv.join("db");
    script(&db.join("run"), "#!/bin/sh\nexec sleep 100\n");
    script(
        &db.join("log/run"),
        "#!/bin/sh\nLOG=/var/log/db\nexec chpst -u log svlogd -tt \"$LOG\"\n",
    );
    // Not services: a dot-directory, a directory without run.
    script(&sv.join(".hidden/run"), "#!/bin/sh\n");
    fs::create_dir_all(sv.join("empty")).unwrap();

    let conf = imported("runit", &[&sv]);
    let web_dir = web.to_str().unwrap();
    let w = section(&conf, "web");
    has(&w, &format!("exec = {web_dir}/run"));
    has(&w, &format!("dir = {web_dir}"));
    has(&w, "autostart = no");
    has(&w, &format!("log = {web_dir}/log/main"));
    has(&w, &format!("# {web_dir}/finish: not translated"));
    has(&w, &format!("# {web_dir}/control: not translated"));
    has(&w, &format!("# {web_dir}/log/main/config: not translated"));
    assert!(!w.iter().any(|l| l.contains("supervise")), "{w:#?}");
    let db_dir = db.to_str().unwrap();
    has(&section(&conf, "db"), "log = service:db-log");
    let logger = section(&conf, "db-log");
    has(&logger, &format!("exec = {db_dir}/log/run"));
    has(&logger, &format!("dir = {db_dir}/log"));
    assert!(
        !conf.contains("hidden") && !conf.contains("[empty]"),
        "{conf}"
    );
    check(&conf, &t.join("vigild.conf"));

    // One service directory named by itself, by a relative path.
    let out = Command::new(vigild_bin())
        .args(["import", "runit", "sv/web/."])
        .current_dir(&t.path)
        .output()
        .unwrap();
    let conf = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0));
    has(&section(&conf, "web"), &format!("exec = {web_dir}/run"));
    assert!(!conf.contains("[db]"), "{conf}");
}

#[test]
fn s6_service_directories() {
    let t = TempDir::new("import-s6");
    let scan = t.join("scan");
    let web = scan.join("web");
    script(&web.join("run"), "#!/bin/execlineb -P\nsleep 100\n");
    write(&web.join("notification-fd"), "3\n");
    write(&web.join("timeout-kill"), "5000\n");
    write(&web.join("timeout-finish"), "2000\n");
    write(&web.join("down-signal"), "SIGHUP\n");
    write(&web.join("down"), "");
    write(&web.join("nosetsid"), "");
    write(&web.join("env/GREETING"), "hello world  \nsecond line\n");
    write(&web.join("env/MULTI"), "a\0b");
    write(&web.join("env/GONE"), "");
    write(&web.join("env/HASH"), "x #y");
    script(
        &web.join("log/run"),
        "#!/bin/execlineb -P\ns6-log n20 s1000000 T /var/log/web\n",
    );
    // s6-rc source definitions: a longrun that needs a oneshot.
    let db = scan.join("db");
    script(&db.join("run"), "#!/bin/sh\nexec sleep 100\n");
    write(&db.join("type"), "longrun\n");
    write(&db.join("dependencies"), "setup\nnowhere\n");
    write(&db.join("timeout-kill"), "0\n");
    let setup = scan.join("setup");
    write(&setup.join("type"), "oneshot\n");
    write(&setup.join("up"), "mkdir -p /run/db\n");
    write(&setup.join("timeout-up"), "10000\n");
    fs::create_dir_all(setup.join("dependencies.d")).unwrap();
    let bundle = scan.join("all");
    write(&bundle.join("type"), "bundle\n");
    write(&bundle.join("contents"), "db\n");

    let conf = imported("s6", &[&scan]);
    let (w, d, s) = (
        web.to_str().unwrap(),
        db.to_str().unwrap(),
        setup.to_str().unwrap(),
    );
    let web = section(&conf, "web");
    for line in [
        "ready = fd:3",
        "stop_timeout = 5000ms",
        "stop_signal = SIGHUP",
        "autostart = no",
        "env = GREETING=hello world",
        "log = -s 1000000 -n 20 /var/log/web",
    ] {
        has(&web, line);
    }
    for file in [
        "timeout-finish",
        "nosetsid",
        "env/MULTI",
        "env/GONE",
        "env/HASH",
    ] {
        has(&web, &format!("# {w}/{file}: not translated"));
    }
    let db = section(&conf, "db");
    has(&db, "after = setup");
    has(&db, &format!("# {d}/dependencies: nowhere is not imported"));
    // s6's timeout-kill 0 is "never", vigild's stop_timeout 0 "at once".
    has(&db, &format!("# {d}/timeout-kill: not translated"));
    let setup = section(&conf, "setup");
    has(&setup, "mode = oneshot");
    has(&setup, &format!("exec = execlineb -P {s}/up"));
    has(&setup, "start_timeout = 10000ms");
    assert!(!conf.contains("[all]"), "{conf}");
    check(&conf, &t.join("vigild.conf"));
}

#[test]
fn daemontools_service_directory() {
    let t = TempDir::new("import-daemontools");
    let svc = t.join("service");
    let qmail = svc.join("qmail send");
    script(&qmail.join("run"), "#!/bin/sh\nexec sleep 100\n");
    script(
        &qmail.join("log/run"),
        "#!/bin/sh\n# the usual\nexec multilog t s500000 n5 ./main\n",
    );
    let conf = imported("daemontools", &[&svc]);
    let q = qmail.to_str().unwrap();
    let lines = section(&conf, "qmail_send");
    has(&lines, &format!("exec = '{q}/run'"));
    has(
        &lines,
        &format!("log = -s 500000 -n 5 -t tai64n '{q}/log/main'"),
    );
    check(&conf, &t.join("vigild.conf"));
}

#[test]
fn unreadable_directories_and_usage() {
    let t = TempDir::new("import-errors");
    script(&t.join("sv/a/run"), "#!/bin/sh\n");
    let missing = t.join("missing");
    let out = import("runit", &[&missing, &t.join("sv")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}: ENOENT", missing.display())),
        "{stderr}"
    );
    // The others are imported all the same.
    assert!(String::from_utf8_lossy(&out.stdout).contains("[a]"));
    // An empty argument names no directory (and crashes nothing).
    let out = import("runit", &[Path::new(""), &t.join("sv")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("import: : ENOENT"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("[a]"));
    for args in [
        &["import"][..],
        &["import", "runit"],
        &["import", "upstart", "/"],
    ] {
        let out = Command::new(vigild_bin()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
    }
    // What was wrong is said.
    let out = Command::new(vigild_bin())
        .args(["import", "upstart", "/"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not runit, s6 or daemontools: upstart"),
        "{stderr}"
    );
    // -h and -V, on stdout; the output starts with its first section.
    let out = Command::new(vigild_bin())
        .args(["import", "-h"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("usage: vigild import"));
    let out = Command::new(vigild_bin())
        .args(["import", "-V"])
        .output()
        .unwrap();
    let version = format!("vigild-import {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), version);
    let out = import("runit", &[&t.join("sv")]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("[a]\n"));
}

/// Every service directory of Debian's runit-services, extracted by CI
/// (`.ci/run`) into the directory `VIGILD_RUNIT_SERVICES` names.
#[test]
#[ignore = "needs runit-services' files: .ci/run downloads and extracts the package"]
fn debian_runit_services() {
    let root = std::env::var("VIGILD_RUNIT_SERVICES")
        .expect("VIGILD_RUNIT_SERVICES: the extracted runit-services package");
    let sv = ["usr/share/runit/sv", "etc/sv"]
        .iter()
        .map(|d| Path::new(&root).join(d))
        .find(|d| d.is_dir())
        .expect("no sv directory in the package");
    let dirs = fs::read_dir(&sv)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("run").exists())
        .count();
    assert!(
        dirs >= 20,
        "only {dirs} service directories in {}",
        sv.display()
    );
    let conf = imported("runit", &[&sv]);
    let sections = conf.lines().filter(|l| l.starts_with('[')).count();
    let comments = conf.lines().filter(|l| l.starts_with("# ")).count();
    eprintln!(
        "runit-services: {dirs} service directories, {sections} sections, {comments} comments"
    );
    assert!(sections >= dirs, "{conf}");
    let t = TempDir::new("import-debian");
    check(&conf, &t.join("vigild.conf"));
}

/// A runit tree imported, then run by vigild: the services come up, and
/// both loggers (svlogd translated to vigil-log, a logger script) get
/// their lines.
#[test]
fn imported_runit_tree_runs() {
    let t = TempDir::new("import-run");
    let sv = t.join("sv");
    let seen = t.join("seen.log");
    script(
        &sv.join("app/run"),
        "#!/bin/sh\necho app says hello\nexec sleep 1000\n",
    );
    script(
        &sv.join("app/log/run"),
        "#!/bin/sh\nexec svlogd -tt ./main\n",
    );
    script(
        &sv.join("worker/run"),
        "#!/bin/sh\necho worker in \"$PWD\"\nexec sleep 1000\n",
    );
    script(
        &sv.join("worker/log/run"),
        &format!("#!/bin/sh\nexec cat >> '{}'\n", seen.display()),
    );
    let conf = imported("runit", &[&sv]);
    check(&conf, &t.join("check.conf"));
    let main_log = sv.join("app/log/main/current");
    let d = Daemon::start_in(t, &conf, Opts::default());
    d.wait_up("app");
    d.wait_up("worker");
    d.wait_up("worker-log");
    d.wait_for("app's line in its svlogd directory", || {
        fs::read_to_string(&main_log)
            .ok()
            .filter(|t| t.contains(" app says hello"))
    });
    let dir = sv.join("worker");
    d.wait_for("worker's line through its logger script", || {
        fs::read_to_string(&seen)
            .ok()
            .filter(|t| t.contains(&format!("worker in {}", dir.display())))
    });
}

/// `vigild import` executes only a vigild-import that root (or the user
/// running it) owns and nobody else may write: vigild may run as root
/// from a directory others can write.
#[test]
fn only_a_trusted_importer_is_executed() {
    let t = TempDir::new("import-trust");
    let built = Path::new(&vigild_bin()).with_file_name("vigild-import");
    fs::copy(vigild_bin(), t.join("vigild")).unwrap();
    fs::copy(&built, t.join("vigild-import")).unwrap();
    let run = || {
        Command::new(t.join("vigild"))
            .args(["import", "-V"])
            .output()
            .unwrap()
    };
    fs::set_permissions(t.join("vigild-import"), fs::Permissions::from_mode(0o755)).unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    fs::set_permissions(t.join("vigild-import"), fs::Permissions::from_mode(0o777)).unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("EPERM"),
        "{}",
        show(&out)
    );
}

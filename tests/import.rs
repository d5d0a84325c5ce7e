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

/// The output of an import that fails (exit 1): stdout, stderr.
#[track_caller]
fn failed(kind: &str, dirs: &[&Path]) -> (String, String) {
    let out = import(kind, dirs);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}\n{stdout}");
    (stdout, stderr)
}

/// The headers of the sections of `conf`.
fn sections(conf: &str) -> Vec<&str> {
    conf.lines().filter(|l| l.starts_with('[')).collect()
}

/// File names with a newline (an unknown file, an envdir's file, an
/// entry of dependencies.d, a scan directory's entry) are comments,
/// escaped, not sections and keys of the configuration (an attacker's
/// trial).
#[test]
fn names_cannot_inject_configuration() {
    let t = TempDir::new("import-inject");
    let scan = t.join("scan");
    let app = scan.join("app");
    script(&app.join("run"), "#!/bin/sh\nexec sleep 100\n");
    let evil = "x\n[evil]\nexec = touch owned";
    write(&app.join(evil), "");
    write(&app.join("env/A\n[evil-env]\nexec = true"), "1\n");
    write(&app.join("env/CTRL"), "a\x1b]0;title\x07b\n");
    write(&app.join("dependencies"), "set\x01up\n");
    fs::create_dir_all(app.join("dependencies.d/y\n[evil-dep]\nexec = true")).unwrap();
    write(&app.join("back\\slash"), "");
    // A scan directory's entry holding a newline: not a service, and not
    // two paths in the list of those found.
    script(&scan.join("two\nlines/run"), "#!/bin/sh\n");
    fs::create_dir_all(t.join("lines")).unwrap();
    script(&t.join("lines/run"), "#!/bin/sh\n");

    let (conf, _) = failed("s6", &[&scan]);
    assert_eq!(sections(&conf), ["[app]"], "{conf}");
    let a = app.to_str().unwrap();
    let lines = section(&conf, "app");
    has(
        &lines,
        &format!("# {a}/x\\x0a[evil]\\x0aexec = touch owned: not translated"),
    );
    has(
        &lines,
        &format!("# {a}/env/A\\x0a[evil-env]\\x0aexec = true: not translated"),
    );
    has(&lines, &format!("# {a}/env/CTRL: not translated"));
    has(
        &lines,
        &format!("# {a}/dependencies: set\\x01up is not imported"),
    );
    let y = "y\\x0a[evil-dep]\\x0aexec = true";
    has(
        &lines,
        &format!("# {a}/dependencies.d/{y}: {y} is not imported"),
    );
    has(&lines, &format!("# {a}/back\\x5cslash: not translated"));
    let s = scan.to_str().unwrap();
    assert!(
        conf.contains(&format!(
            "# {s}/two\\x0alines: not imported: its path cannot be written in a configuration\n"
        )),
        "{conf}"
    );
    // Every line is a comment, a section or a key of the importer's.
    for line in conf.lines() {
        let key = line.split(" = ").next().unwrap();
        assert!(
            line.is_empty()
                || line.starts_with("# ")
                || line == "[app]"
                || ["dir", "exec", "log"].contains(&key),
            "{line:?} in\n{conf}"
        );
    }
    check(&conf, &t.join("vigild.conf"));
}

/// A service directory whose path `dir` cannot hold as it is (a blank
/// then `#` would start a comment, a trailing blank would be trimmed, a
/// control byte): a comment, and the exit code is 1.
#[test]
fn paths_dir_cannot_hold() {
    let t = TempDir::new("import-dirpath");
    let scan = t.join("scan");
    for name in ["ok", "a #b", "trailing ", "tab\t#x", "bell\x07"] {
        script(&scan.join(name).join("run"), "#!/bin/sh\nexec sleep 100\n");
    }
    // What depends on one of them does not name a service not imported.
    fs::create_dir_all(scan.join("ok/dependencies.d/a #b")).unwrap();
    let (conf, stderr) = failed("runit", &[&scan]);
    assert!(stderr.contains("not everything was imported"), "{stderr}");
    assert_eq!(sections(&conf), ["[ok]"], "{conf}");
    let s = scan.to_str().unwrap();
    for name in ["a #b", "trailing ", "tab\\x09#x", "bell\\x07"] {
        let line =
            format!("# {s}/{name}: not imported: its path cannot be written in a configuration");
        assert!(conf.lines().any(|l| l == line), "no {line:?} in\n{conf}");
    }
    has(
        &section(&conf, "ok"),
        &format!("# {s}/ok/dependencies.d/a #b: a #b is not imported"),
    );
    check(&conf, &t.join("vigild.conf"));
}

/// The files read must be plain files in the directory: not a symlink
/// (to a file elsewhere), not a FIFO, not a file with another name (a
/// hard link). `run` must be a file (or a symlink to one): `/`, with its
/// directory `/run`, is no service directory.
#[test]
fn only_plain_files_are_read() {
    let t = TempDir::new("import-plain");
    let app = t.join("sv/app");
    script(&app.join("run"), "#!/bin/sh\nexec sleep 100\n");
    let secret = t.join("secret");
    write(&secret, "3\n");
    std::os::unix::fs::symlink(&secret, app.join("notification-fd")).unwrap();
    std::os::unix::fs::symlink(&secret, app.join("down")).unwrap();
    fs::hard_link(&secret, app.join("timeout-kill")).unwrap();
    let fifo = app.join("down-signal");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    write(&app.join("env/OK"), "yes\n");
    std::os::unix::fs::symlink(&secret, app.join("env/LINKED")).unwrap();
    // A logger script reached through a symlink is run, not read.
    let shared = t.join("log-run");
    script(&shared, "#!/bin/sh\nexec svlogd -tt /var/log/app\n");
    fs::create_dir_all(app.join("log")).unwrap();
    std::os::unix::fs::symlink(&shared, app.join("log/run")).unwrap();
    // A `run` that is a symlink to a file is a service.
    let linked = t.join("sv/linked");
    fs::create_dir_all(&linked).unwrap();
    std::os::unix::fs::symlink(&shared, linked.join("run")).unwrap();

    let conf = imported("runit", &[&t.join("sv")]);
    let a = app.to_str().unwrap();
    let lines = section(&conf, "app");
    for file in [
        "notification-fd",
        "down",
        "timeout-kill",
        "down-signal",
        "env/LINKED",
    ] {
        has(&lines, &format!("# {a}/{file}: not translated"));
    }
    has(&lines, "env = OK=yes");
    has(&lines, "log = service:app-log");
    assert!(!conf.contains("autostart"), "{conf}");
    has(
        &section(&conf, "linked"),
        &format!("exec = {}/run", linked.display()),
    );
    check(&conf, &t.join("vigild.conf"));

    // A `run` (or `up`) that is a directory is no service.
    let not = t.join("not");
    fs::create_dir_all(not.join("run")).unwrap();
    fs::create_dir_all(not.join("up")).unwrap();
    let (conf, stderr) = failed("runit", &[&not]);
    assert!(conf.is_empty(), "{conf}");
    assert!(
        stderr.contains(&format!("import: {}: no service directory", not.display())),
        "{stderr}"
    );
}

/// A directory that cannot be listed is not imported silently in part:
/// a comment says so, with the error, and the exit code is 1.
#[test]
fn unlistable_directories_are_said() {
    let t = TempDir::new("import-unlisted");
    let app = t.join("sv/app");
    script(&app.join("run"), "#!/bin/sh\nexec sleep 100\n");
    write(&app.join("env"), "not a directory\n");
    write(&app.join("dependencies.d"), "");
    let (conf, stderr) = failed("s6", &[&t.join("sv")]);
    assert!(stderr.contains("not everything was imported"), "{stderr}");
    let a = app.to_str().unwrap();
    let lines = section(&conf, "app");
    has(&lines, &format!("# {a}/env: not listed: ENOTDIR"));
    has(
        &lines,
        &format!("# {a}/dependencies.d: not listed: ENOTDIR"),
    );
    check(&conf, &t.join("vigild.conf"));
}

/// `after` and `log = service:` name a service as its section does: the
/// bytes a name may not have as `_`.
#[test]
fn references_use_the_section_names() {
    let t = TempDir::new("import-names");
    let scan = t.join("scan");
    script(&scan.join("my db/run"), "#!/bin/sh\nexec sleep 100\n");
    script(&scan.join("my log/run"), "#!/bin/sh\nexec cat\n");
    let app = scan.join("app");
    script(&app.join("run"), "#!/bin/sh\nexec sleep 100\n");
    fs::create_dir_all(app.join("dependencies.d/my db")).unwrap();
    write(&app.join("producer-for"), "my log\n");
    let conf = imported("s6", &[&scan]);
    let lines = section(&conf, "app");
    has(&lines, "after = my_db");
    has(&lines, "log = service:my_log");
    check(&conf, &t.join("vigild.conf"));
}

/// A DIR with no service directory is said so; a scan directory with
/// thousands of them is imported whole.
#[test]
fn empty_and_large_scan_directories() {
    let t = TempDir::new("import-sizes");
    let empty = t.join("empty");
    fs::create_dir_all(empty.join("not-a-service")).unwrap();
    let (conf, stderr) = failed("runit", &[&empty]);
    assert!(conf.is_empty(), "{conf}");
    assert!(
        stderr.contains(&format!(
            "import: {}: no service directory",
            empty.display()
        )),
        "{stderr}"
    );
    let scan = t.join("scan");
    let n = 2000;
    for i in 0..n {
        let dir = scan.join(format!("service-with-a-longer-name-{i:04}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("run"), "").unwrap();
    }
    let conf = imported("runit", &[&scan]);
    assert_eq!(sections(&conf).len(), n);
}

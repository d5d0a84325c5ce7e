//! `install.sh`: a real run into a temporary DESTDIR with PREFIX=/usr (it
//! builds the static release binary), then the installed tree is used the
//! way a user would: the binary checks an installed example, `vigilctl` and
//! `vigil-log` work through their symlinks, and every manual page,
//! completion and example of the repository is there with its mode.

#[path = "daemon/harness.rs"]
mod harness;

use harness::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `sh install.sh ARGS` with these environment variables set.
fn install(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg(repo().join("install.sh"))
        .args(args)
        .env("CARGO", env!("CARGO"))
        .env_remove("PREFIX")
        .env_remove("DESTDIR")
        .env_remove("BIN")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run install.sh")
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// The repository's files matching `dir/*.EXT` (one of `exts`), sorted.
fn repo_files(dir: &str, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut names: Vec<String> = match fs::read_dir(repo().join(dir)) {
        Ok(entries) => entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| keep(n))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// `installed` is a 0644 copy of the repository's `source`.
#[track_caller]
fn same_file(source: &str, installed: &Path) {
    let want = fs::read(repo().join(source)).unwrap();
    let got = fs::read(installed).unwrap_or_else(|e| panic!("{}: {e}", installed.display()));
    assert!(want == got, "{} differs from {source}", installed.display());
    assert_eq!(mode(installed), 0o644, "{}", installed.display());
}

#[test]
#[ignore = "builds the release binary (minutes); .ci/run runs it"]
fn install_sh_installs_a_working_tree() {
    let dest = TempDir::new("install");
    let out = install(
        &[],
        &[("PREFIX", Path::new("/usr")), ("DESTDIR", &dest.path)],
    );
    assert!(out.status.success(), "install.sh failed: {}", show(&out));
    let usr = dest.join("usr");

    // The binary: static, stripped, executable; the two names are relative
    // links to it.
    let vigild = usr.join("sbin/vigild");
    assert_eq!(mode(&vigild), 0o755);
    let elf = fs::read(&vigild).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF");
    assert!(
        !elf.windows(8).any(|w| w == b".symtab\0"),
        "{} is not stripped",
        vigild.display()
    );
    assert!(
        elf.len() <= 163_840,
        "installed binary is {} bytes",
        elf.len()
    );
    for name in ["vigilctl", "vigil-log"] {
        let link = usr.join("sbin").join(name);
        assert_eq!(
            fs::read_link(&link).unwrap_or_else(|e| panic!("{}: {e}", link.display())),
            Path::new("vigild"),
            "{name} must be a relative link to vigild"
        );
    }

    // The examples are there and the installed binary accepts them.
    let doc = usr.join("share/doc/vigild");
    same_file("README.md", &doc.join("README.md"));
    for dir in ["conf", "conf/services"] {
        for name in repo_files(dir, |n| n.ends_with(".conf")) {
            same_file(&format!("{dir}/{name}"), &doc.join(dir).join(&name));
        }
    }
    for example in ["demo.conf", "example.conf"] {
        let conf = doc.join("conf").join(example);
        let out = Command::new(&vigild)
            .arg("-t")
            .arg("-c")
            .arg(&conf)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "vigild -t -c {example}: {}",
            show(&out)
        );
    }

    // vigilctl through its link: a usage error, then "not running".
    let vigilctl = usr.join("sbin/vigilctl");
    let out = Command::new(&vigilctl).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("usage: vigilctl"),
        "{}",
        show(&out)
    );
    let out = Command::new(&vigilctl)
        .arg("-r")
        .arg(dest.join("no-run-dir"))
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));

    // `vigild import` executes the vigild-import installed beside it.
    let svc = dest.join("sv/web");
    fs::create_dir_all(&svc).unwrap();
    fs::write(svc.join("run"), "#!/bin/sh\nexec sleep 1000\n").unwrap();
    let out = Command::new(usr.join("sbin/vigild"))
        .args(["import", "runit"])
        .arg(&svc)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(stdout(&out).contains("[web]\n"), "{}", show(&out));
    assert_eq!(mode(&usr.join("sbin/vigild-import")), 0o755);

    // vigil-log through its link keeps what it reads.
    let logdir = dest.join("log");
    let mut child = Command::new(usr.join("sbin/vigil-log"))
        .arg(&logdir)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"a line through the link\n").unwrap();
    }
    assert!(child.wait().unwrap().success());
    let current = fs::read_to_string(logdir.join("current")).unwrap();
    assert!(
        current.ends_with(" a line through the link\n"),
        "{current:?}"
    );

    // Manual pages and completions: whatever the repository has.
    for page in repo_files("man", |n| n.ends_with(".5") || n.ends_with(".8")) {
        let section = page.rsplit('.').next().unwrap();
        same_file(
            &format!("man/{page}"),
            &usr.join(format!("share/man/man{section}/{page}")),
        );
    }
    for completion in repo_files("completions", |_| true) {
        let installed = match completion.strip_suffix(".bash") {
            Some(cmd) => usr.join("share/bash-completion/completions").join(cmd),
            None => usr.join("share/zsh/site-functions").join(&completion),
        };
        same_file(&format!("completions/{completion}"), &installed);
    }

    // A second run over the same tree works (the links are replaced).
    let out = install(
        &[],
        &[("PREFIX", Path::new("/usr")), ("DESTDIR", &dest.path)],
    );
    assert!(out.status.success(), "second install.sh: {}", show(&out));
}

#[test]
fn install_sh_help_and_usage_errors() {
    let out = install(&["--help"], &[]);
    assert!(out.status.success(), "{}", show(&out));
    let help = stdout(&out);
    for word in ["PREFIX", "DESTDIR", "CARGO", "TARGET", "BIN", "STRIP"] {
        assert!(help.contains(word), "--help does not explain {word}");
    }
    let out = install(&["--prefix=/usr"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let dest = TempDir::new("install-usage");
    let out = install(
        &[],
        &[("PREFIX", Path::new("usr")), ("DESTDIR", &dest.path)],
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert_eq!(fs::read_dir(&dest.path).unwrap().count(), 0);
}

/// A failing build (CARGO=false) or a missing binary fails the install,
/// and nothing is installed.
#[test]
fn install_sh_fails_when_the_build_fails() {
    let dest = TempDir::new("install-fail");
    let out = install(
        &[],
        &[
            ("CARGO", Path::new("false")),
            ("PREFIX", Path::new("/usr")),
            ("DESTDIR", &dest.path),
        ],
    );
    assert!(!out.status.success(), "{}", show(&out));
    let out = install(
        &[],
        &[
            ("BIN", &dest.join("nothing-here")),
            ("PREFIX", Path::new("/usr")),
            ("DESTDIR", &dest.path),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no binary at"));
    assert_eq!(fs::read_dir(&dest.path).unwrap().count(), 0);
}

/// A relative DESTDIR and BIN are taken from where install.sh was called,
/// not from the source tree it moves into.
#[test]
fn install_sh_takes_relative_paths_from_the_callers_directory() {
    let cwd = TempDir::new("install-rel");
    // Any file will do as the binary: STRIP=true leaves it as it is.
    fs::write(cwd.join("vigild-bin"), b"\x7fELF not really").unwrap();
    let out = Command::new("sh")
        .arg(repo().join("install.sh"))
        .current_dir(&cwd.path)
        .env("BIN", "vigild-bin")
        .env("STRIP", "true")
        .env("PREFIX", "/usr")
        .env("DESTDIR", "stage")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(cwd.join("stage/usr/sbin/vigild").is_file());
    assert!(
        !repo().join("stage").exists(),
        "installed into the source tree"
    );
}

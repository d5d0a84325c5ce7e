//! `switch_root NEWROOT [INIT [ARGS...]]` (vigild(8) BOOTING): PID 1 leaves
//! the initramfs for the real root.
//!
//! The root-only tests (`#[ignore]`d: .ci/run runs them) run vigild as PID
//! 1 of a new PID and mount namespace, chrooted into a tmpfs that plays the
//! initramfs (`root/` of the test's directory, also mounted by the test, so
//! that it sees what the switch deleted), with the test's directory bound
//! at its own path inside (the configuration, the run directory and the
//! reply FIFOs are where the harness looks) and another tmpfs (`new/`)
//! bound at `/newroot`. The refusals change nothing; the switch stops the
//! services, moves /proc, /dev and /run, deletes the old root's files, and
//! executes the new root's BusyBox script, which writes what it sees.

#[path = "daemon/harness.rs"]
mod harness;

use harness::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const CONF: &str = r#"
[sleeper]
exec = /bin/busybox sleep 1000

[note]
mode = oneshot
exec = /bin/busybox sh -c "echo from-initramfs > /run/note"
"#;

/// The new root's init: what it finds, into /marker (whole once there);
/// a descriptor of vigild's that was not closed on exec would show.
const INIT: &str = r#"#!/bin/busybox sh
B=/bin/busybox
{
    echo "args: $0 $*"
    echo "pid: $$"
    [ -r /proc/1/cmdline ] && echo "proc: moved"
    [ -c /dev/null ] && echo "dev: moved"
    echo "run: $($B cat /run/note)"
    n=0
    for p in /proc/[0-9]*; do n=$((n + 1)); done
    echo "processes: $n"
    [ -e /etc/initramfs-file ] || echo "old root: not here"
    # BusyBox's shell keeps its own descriptors at 10 and above; the
    # glob's own, for reading the directory, is closed by the loop.
    for f in /proc/$$/fd/*; do
        n=${f##*/}
        [ "$n" -gt 2 ] && [ "$n" -lt 10 ] && [ -e "$f" ] && echo "fd $n left open"
    done
} > /marker.tmp 2>&1
$B mv /marker.tmp /marker
"#;

/// Makes the old root PID 1's and starts vigild there: the arguments after
/// the setup are the harness's (the binary's path, then its options).
const SETUP: &str = r#"set -e
R=@DIR@/root
mount -t proc proc $R/proc
mount -t tmpfs tmpfs $R/run
mount --rbind /dev $R/dev
mkdir -p $R@DIR@
mount --bind @DIR@ $R@DIR@
mount --bind @DIR@/new $R/newroot
shift
exec chroot $R /sbin/vigild "$@"
"#;

/// The test's tmpfs mounts, unmounted (and the directory removed) at the end.
struct Mounts(Vec<PathBuf>, PathBuf);

impl Drop for Mounts {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = Command::new("umount").arg("-l").arg(path).status();
        }
        let _ = fs::remove_dir_all(&self.1);
    }
}

fn mount_tmpfs(path: &Path) {
    fs::create_dir_all(path).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mount a tmpfs at {}", path.display());
}

/// Copy `from` to `root` + `to`, making its directories.
fn put(root: &Path, to: &str, from: &Path) {
    let path = root.join(to.trim_start_matches('/'));
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::copy(from, &path).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
}

fn write(root: &Path, to: &str, text: &str, mode: u32) {
    let path = root.join(to.trim_start_matches('/'));
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, text).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

/// vigild, its libraries (as `ldd` lists them) and BusyBox into `root`.
fn fill_old_root(root: &Path) {
    put(root, "/sbin/vigild", Path::new(vigild_bin()));
    put(root, "/bin/busybox", Path::new("/bin/busybox"));
    let ldd = Command::new("ldd").arg(vigild_bin()).output().unwrap();
    for word in String::from_utf8_lossy(&ldd.stdout).split_whitespace() {
        if word.starts_with('/') {
            put(root, word, Path::new(word));
        }
    }
    for dir in ["proc", "run", "dev", "newroot", "etc"] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    write(root, "/etc/initramfs-file", "old\n", 0o644);
}

fn fill_new_root(new: &Path) {
    put(new, "/bin/busybox", Path::new("/bin/busybox"));
    write(new, "/init", INIT, 0o755);
    write(new, "/not-executable", INIT, 0o644);
    write(new, "/sbin/vigild", "#!/bin/busybox sh\n", 0o755);
    for dir in ["proc", "run", "dev"] {
        fs::create_dir_all(new.join(dir)).unwrap();
    }
}

/// vigild as PID 1 of a new PID and mount namespace, chrooted into a tmpfs
/// (`root`) playing the initramfs, another tmpfs (`new`) at /newroot,
/// `CONF`'s oneshot done; with `handoff`, the new root holds the real
/// vigild with its libraries, and the test's directory at its own path
/// inside too (the options name it in both roots).
fn in_namespace(tag: &str, handoff: bool) -> (Daemon, Mounts, PathBuf, PathBuf) {
    let dir = TempDir::new(tag);
    let (root, new) = (dir.join("root"), dir.join("new"));
    let mounts = Mounts(vec![root.clone(), new.clone()], dir.path.clone());
    mount_tmpfs(&root);
    mount_tmpfs(&new);
    fill_old_root(&root);
    fill_new_root(&new);
    let mut setup = SETUP.to_string();
    if handoff {
        put(&new, "/sbin/vigild", Path::new(vigild_bin()));
        let ldd = Command::new("ldd").arg(vigild_bin()).output().unwrap();
        for word in String::from_utf8_lossy(&ldd.stdout).split_whitespace() {
            if word.starts_with('/') {
                put(&new, word, Path::new(word));
            }
        }
        setup = setup.replace(
            "mount --bind @DIR@/new",
            "mkdir -p @DIR@/new@DIR@\nmount --bind @DIR@ @DIR@/new@DIR@\nmount --rbind @DIR@/new",
        );
    }
    let mut wrapper: Vec<String> = ["unshare", "--fork", "--pid", "--mount", "--kill-child"]
        .map(String::from)
        .to_vec();
    wrapper.extend(["/bin/sh", "-c", &fill(&setup, &dir), "setup"].map(String::from));
    let opts = Opts {
        wrapper,
        ..Opts::default()
    };
    let d = Daemon::start_in(dir, CONF, opts);
    d.wait_svc("note", "up (oneshot done)", |s| s.state() == "up");
    (d, mounts, root, new)
}

/// Every file left under `dir` that is no directory.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut left = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        match fs::symlink_metadata(&path).unwrap().is_dir() {
            true => left.extend(files_under(&path)),
            false => left.push(path),
        }
    }
    left
}

fn answer(d: &Daemon, line: &str) -> Vec<String> {
    d.request(line)
}

/// In a namespace whose root is a tmpfs: every refusal leaves the services
/// and the old root as they were; then the switch runs the new root's init
/// with its arguments, in the new root, with /proc, /dev and /run moved,
/// every service stopped, and nothing but directories left of the old root.
#[test]
#[ignore = "needs root: run by .ci/run"]
fn switch_root_hands_pid1_to_the_new_roots_init() {
    let (d, mounts, root, new) = in_namespace("swroot", false);
    let sleeper = d.wait_up("sleeper").pid();
    let refusals = [
        (
            "switch_root /etc /init",
            "switch_root-failed not-a-mount-point",
        ),
        (
            "switch_root /nowhere /init",
            "switch_root-failed not-a-mount-point",
        ),
        (
            "switch_root /newroot /missing",
            "switch_root-failed no-init /missing",
        ),
        (
            "switch_root /newroot /not-executable",
            "switch_root-failed no-init /not-executable",
        ),
        // The new root's /sbin/vigild is a script: its check fails.
        (
            "switch_root /newroot",
            "switch_root-failed check: exec ENOENT",
        ),
        (
            "switch_root /newroot /sbin/vigild",
            "switch_root-failed check: exec ENOENT",
        ),
    ];
    for (line, want) in refusals {
        assert_eq!(answer(&d, line), [want], "{line}");
    }
    assert_eq!(d.svc("sleeper").unwrap().pid(), sleeper, "sleeper kept");
    assert_eq!(d.svc("sleeper").unwrap().state(), "up");
    assert!(root.join("etc/initramfs-file").exists());
    assert!(!new.join("marker").exists());

    let lines = answer(&d, "switch_root /newroot /init one two");
    assert_eq!(lines, ["stopping vigild", "stopped vigild"]);
    let marker = d.wait_for("the new init's marker", || {
        fs::read_to_string(new.join("marker")).ok()
    });
    assert_eq!(
        marker,
        "args: /init one two\npid: 1\nproc: moved\ndev: moved\nrun: from-initramfs\n\
         processes: 1\nold root: not here\n",
        "{}",
        d.stderr.text()
    );
    // The namespace ends with its new init.
    d.wait_exit(DEADLINE);
    assert_eq!(files_under(&root), Vec::<PathBuf>::new());
    for gone in ["sbin", "bin", "etc", "proc", "run", "dev"] {
        assert!(!root.join(gone).exists(), "{gone} left in the old root");
    }
    d.wait_stderr("switch_root: into /newroot");
    drop(d);
    drop(mounts);
}

/// PID 1 of a namespace on the machine's own root (no tmpfs): refused,
/// nothing deleted, the service kept.
#[test]
#[ignore = "needs root: run by .ci/run"]
fn switch_root_refuses_a_root_that_is_no_initramfs() {
    let dir = TempDir::new("swdisk");
    let new = dir.join("new");
    let mounts = Mounts(vec![new.clone()], dir.path.clone());
    mount_tmpfs(&new);
    fill_new_root(&new);
    let opts = Opts {
        wrapper: ["unshare", "--fork", "--pid", "--mount-proc", "--kill-child"]
            .map(String::from)
            .to_vec(),
        ..Opts::default()
    };
    let conf = "[sleeper]\nexec = /bin/busybox sleep 1000\n";
    let d = Daemon::start_in(dir, conf, opts);
    let sleeper = d.wait_up("sleeper").pid();
    let line = format!("switch_root {} /init", new.display());
    assert_eq!(answer(&d, &line), ["switch_root-failed root-not-initramfs"]);
    assert_eq!(d.svc("sleeper").unwrap().pid(), sleeper);
    assert!(new.join("init").exists());
    d.wait_stderr(": failed: root-not-initramfs");
    // An orderly end removes vigild's cgroups (the namespace's end alone
    // would leave them behind on the machine).
    assert_eq!(answer(&d, "shutdown")[0], "stopping vigild");
    d.wait_exit(DEADLINE);
    drop(d);
    drop(mounts);
}

/// Not PID 1: refused before anything is looked at, the service kept.
#[test]
fn switch_root_needs_pid1() {
    let d = Daemon::start("swpid", "[sleeper]\nexec = /bin/sleep 1000\n");
    let sleeper = d.wait_up("sleeper").pid();
    assert_eq!(
        answer(&d, "switch_root /proc /init"),
        ["switch_root-failed not-pid1"]
    );
    assert_eq!(d.svc("sleeper").unwrap().pid(), sleeper);
    assert_eq!(d.svc("sleeper").unwrap().state(), "up");
    d.wait_stderr("switch_root: /proc: failed: not-pid1");
}

/// The new root's configuration: `sleeper` as in `CONF` (kept), `note`
/// gone, `disk` new.
const NEW_CONF: &str = r#"
[sleeper]
exec = /bin/busybox sleep 1000

[disk]
exec = /bin/busybox sleep 2000
"#;

/// With the new root's vigild as INIT (the default): the hand-off. The
/// services of both configurations keep their pids, the others stop or
/// start as a reload has them, vigild stays PID 1, and the old root's
/// files are gone.
#[test]
#[ignore = "needs root: run by .ci/run"]
fn switch_root_hands_over_to_the_new_roots_vigild() {
    let (d, mounts, root, _) = in_namespace("swhand", true);
    let sleeper = d.wait_up("sleeper").pid();
    fs::write(&d.conf, NEW_CONF).unwrap();

    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        answer(&d, "switch_root /newroot"),
        [format!("switched-root {version}"), "reloaded vigild".into()],
        "{}",
        d.stderr.text()
    );
    let disk = d.wait_up("disk");
    let s = d.svc("sleeper").unwrap();
    assert_eq!((s.state(), s.pid()), ("up", sleeper), "{}", s.line);
    assert!(d.svc("note").is_none(), "note was not removed");
    assert_ne!(disk.pid(), 0);
    d.wait_stderr("reexec: resumed, 2 services kept");
    assert_eq!(files_under(&root), Vec::<PathBuf>::new());
    assert!(!root.join("etc").exists(), "the old root's /etc is left");
    drop(d);
    drop(mounts);
}

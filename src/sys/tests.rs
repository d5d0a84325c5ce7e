//! Real-syscall tests of the sys layer (rustix style). They live in the bin
//! crate because files in tests/ can only reach the library.

use super::run_dir::{RunDirError, open_control, open_run_dir};
use super::spawn::{Plan, Step, spawn};
use super::*;
use rustix::fd::AsFd;
use std::ffi::CString;
use std::path::PathBuf;

/// Every test here takes this lock: they share process-wide state that the
/// test harness's threads would otherwise race on (signal dispositions that
/// `reset_inherited` resets, and fds that a spawned child holds copies of
/// until it execs). vigild itself is single-threaded.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigild-sys-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Spawn `argv` with /dev/null as stdio; the pid or errno.
fn run(argv: &[&str], env: &[&str], dir: &str) -> Result<i32, (Errno, Step)> {
    let argv_c: Vec<CString> = argv.iter().map(|a| CString::new(*a).unwrap()).collect();
    let env_c: Vec<CString> = env.iter().map(|a| CString::new(*a).unwrap()).collect();
    let mut argv_p: Vec<*const core::ffi::c_char> = argv_c.iter().map(|c| c.as_ptr()).collect();
    argv_p.push(core::ptr::null());
    let mut env_p: Vec<*const core::ffi::c_char> = env_c.iter().map(|c| c.as_ptr()).collect();
    env_p.push(core::ptr::null());
    let null = stdio::devnull().unwrap();
    let raw = rustix::fd::AsRawFd::as_raw_fd(&null);
    let dir = CString::new(dir).unwrap();
    let plan = Plan {
        argv: &argv_p,
        envp: &env_p,
        path: b"/usr/bin:/bin",
        exe: None,
        stdio: [raw, raw, raw],
        dir: dir.as_bytes_with_nul(),
        umask: 0o077,
        nofile: 0,
        creds: None,
        cgroup: None,
        block_term: false,
        fds: &[],
        listen_pid: None,
        ready_fd: None,
        console: b"\0",
    };
    spawn(&plan)
}

fn wait_status(pid: i32) -> (Option<i32>, Option<i32>) {
    let pid = rustix::process::Pid::from_raw(pid).unwrap();
    let (_, status) = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())
        .unwrap()
        .unwrap();
    (status.exit_status(), status.terminating_signal())
}

/// Wait (at most 5 s) until `pid` is in its nanosleep: sleep(1) briefly opens
/// locale files while it starts, which would show up as extra fds.
fn wait_until_asleep(pid: i32) {
    let sleeping = [libc::SYS_clock_nanosleep, libc::SYS_nanosleep].map(|nr| nr.to_string());
    for _ in 0..500 {
        let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap();
        let nr = syscall.split(' ').next().unwrap_or("");
        if sleeping.iter().any(|s| s == nr) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("pid {pid} never went to sleep");
}

#[test]
fn spawn_runs_the_program_and_reports_its_exit() {
    let _serial = serial();
    let pid = run(&["/bin/sh", "-c", "exit 3"], &[], "/").unwrap();
    assert_eq!(wait_status(pid), (Some(3), None));
}

#[test]
fn spawn_searches_path_and_reports_exec_failure_as_errno() {
    let _serial = serial();
    let pid = run(&["true"], &[], "/").unwrap();
    assert_eq!(wait_status(pid), (Some(0), None));
    let exec = |e| Err((e, Step::Exec));
    assert_eq!(run(&["/nonexistent/prog"], &[], "/"), exec(Errno::NOENT));
    assert_eq!(
        run(&["no-such-program-anywhere"], &[], "/"),
        exec(Errno::NOENT)
    );
    assert_eq!(run(&["/etc/passwd"], &[], "/"), exec(Errno::ACCESS));
    // The step tells a missing directory from a missing program.
    assert_eq!(
        run(&["true"], &[], "/nonexistent-dir"),
        Err((Errno::NOENT, Step::Dir)),
        "chdir failure"
    );
}

#[test]
fn spawned_child_has_its_own_session_clean_mask_and_only_stdio() {
    let _serial = serial();
    signal::setup::reset_inherited();
    let dir = temp_dir("child");
    let out = dir.join("out");
    // The mask is read with shell builtins before the shell forks anything:
    // dash blocks every signal around its own forks.
    let script = format!(
        "while read -r key value; do case $key in SigBlk:|SigIgn:) echo $key $value;; esac; \
         done < /proc/$$/status > {0}; ps_sid=$(cut -d' ' -f6 /proc/$$/stat); \
         echo sid=$ps_sid pid=$$ >> {0}; echo \"$GREETING\" >> {0}; umask >> {0}",
        out.display()
    );
    let pid = run(&["/bin/sh", "-c", &script], &["GREETING=hello there"], "/").unwrap();
    assert_eq!(wait_status(pid), (Some(0), None));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.starts_with("SigBlk: 0000000000000000\nSigIgn: 0000000000000000\n"),
        "clean mask, no ignored signals: {text}"
    );
    assert!(
        text.contains(&format!("\nsid={pid} pid={pid}\n")),
        "own session: {text}"
    );
    assert!(text.contains("hello there"));
    assert!(text.contains("0077"));
    std::fs::remove_dir_all(dir).unwrap();
    // A leaked fd of ours (not close-on-exec) must not reach the service.
    let leaked = rustix::fs::open(
        "/dev/null",
        rustix::fs::OFlags::RDONLY,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    let pid = run(&["sleep", "10"], &[], "/").unwrap();
    wait_until_asleep(pid);
    let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    fds.sort();
    process::kill(pid, 9, false).unwrap();
    wait_status(pid);
    drop(leaked);
    assert_eq!(fds, ["0", "1", "2"]);
}

#[test]
fn reset_inherited_unblocks_every_signal() {
    let _serial = serial();
    // SAFETY: plain sigset operations on this test thread's own mask.
    let blocked = unsafe {
        let mut set: libc::sigset_t = core::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, core::ptr::null_mut());
        signal::setup::reset_inherited();
        let mut now: libc::sigset_t = core::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_SETMASK, core::ptr::null(), &mut now);
        libc::sigismember(&now, libc::SIGCHLD)
    };
    assert_eq!(blocked, 0);
}

#[test]
fn signalfd_wakes_poll_and_names_the_signal() {
    let _serial = serial();
    let signals = signal::Signals::install(&signal::HANDLED).unwrap();
    // SAFETY: raising a signal whose handler was just installed.
    unsafe { libc::raise(libc::SIGUSR1) };
    let mut fds = [rustix::event::PollFd::from_borrowed_fd(
        signals.fd(),
        rustix::event::PollFlags::IN,
    )];
    let timeout = rustix::time::Timespec {
        tv_sec: 5,
        tv_nsec: 0,
    };
    assert_eq!(rustix::event::poll(&mut fds, Some(&timeout)).unwrap(), 1);
    assert!(signals.drain().any(|sig| sig == libc::SIGUSR1));
}

#[test]
fn run_dir_and_control_fifo_are_private_and_exclusive() {
    let _serial = serial();
    let dir = temp_dir("run");
    let run_dir = dir.join("run");
    let path = run_dir.as_os_str().as_encoded_bytes();
    let fd = open_run_dir(path).unwrap();
    let (read_end, _keep) = open_control(fd.as_fd()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&run_dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::metadata(run_dir.join("control"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert!(
        matches!(open_control(fd.as_fd()), Err(RunDirError::InUse)),
        "a second reader is refused"
    );
    drop(read_end);
    drop(_keep);
    assert!(
        open_control(fd.as_fd()).is_ok(),
        "a stale FIFO of ours is reused"
    );
    let other = dir.join("file");
    std::fs::write(&other, "x").unwrap();
    assert!(matches!(
        open_run_dir(other.as_os_str().as_encoded_bytes()),
        Err(RunDirError::Foreign(_))
    ));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn reply_must_be_a_fifo() {
    let _serial = serial();
    let dir = temp_dir("reply");
    // vigild's own control FIFO (read end).
    let control_path = dir.join("control");
    run_dir::mkfifo(control_path.as_os_str().as_encoded_bytes()).unwrap();
    let control = run_dir::open_fifo_read(control_path.as_os_str().as_encoded_bytes()).unwrap();
    let control = rustix::fd::AsFd::as_fd(&control);
    let file = dir.join("plain");
    std::fs::write(&file, "x").unwrap();
    assert_eq!(
        run_dir::open_reply(file.as_os_str().as_encoded_bytes(), control).err(),
        Some(Errno::NOTSUP)
    );
    let fifo = dir.join("fifo");
    run_dir::mkfifo(fifo.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(
        run_dir::open_reply(fifo.as_os_str().as_encoded_bytes(), control).err(),
        Some(Errno::NXIO),
        "no reader"
    );
    let _reader = run_dir::open_fifo_read(fifo.as_os_str().as_encoded_bytes()).unwrap();
    assert!(run_dir::open_reply(fifo.as_os_str().as_encoded_bytes(), control).is_ok());
    std::os::unix::fs::symlink(&fifo, dir.join("link")).unwrap();
    assert!(
        run_dir::open_reply(dir.join("link").as_os_str().as_encoded_bytes(), control).is_err(),
        "no symlinks"
    );
    assert_eq!(
        run_dir::open_reply(control_path.as_os_str().as_encoded_bytes(), control).err(),
        Some(Errno::PERM),
        "the control FIFO itself"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn account_files_are_read_line_by_line_skipping_overlong_lines() {
    let _serial = serial();
    let dir = temp_dir("lines");
    let file = dir.join("passwd");
    let long = "x".repeat(5000);
    std::fs::write(&file, format!("a:1\n{long}\nb:2\n\nc:3")).unwrap();
    let mut seen = Vec::new();
    fs::each_line(file.as_os_str().as_encoded_bytes(), &mut |line| {
        seen.push(String::from_utf8(line.to_vec()).unwrap());
        core::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(seen, ["a:1", "b:2", "", "c:3"]);
    let mut first = Vec::new();
    fs::each_line(file.as_os_str().as_encoded_bytes(), &mut |line| {
        first.push(line.to_vec());
        core::ops::ControlFlow::Break(())
    })
    .unwrap();
    assert_eq!(first, [b"a:1".to_vec()]);
    std::fs::remove_dir_all(dir).unwrap();
    // root is in every passwd file.
    let root = user::lookup(b"root\0", b"\0").unwrap();
    assert_eq!((root.uid, root.gid), (0, 0));
    assert_eq!(
        user::lookup(b"no-such-user-here\0", b"\0").err(),
        Some(Errno::NOENT)
    );
    assert_eq!(
        user::lookup(b"4321\0", b"\0").map(|c| (c.uid, c.gid)).ok(),
        Some((4321, 4321))
    );
}

#[test]
fn switch_root_check_refuses_in_order_and_the_plan_keeps_its_words() {
    let _serial = serial();
    // `/` is no mount point of its own; a directory that is not there is none.
    assert_eq!(switch_root::check(b"/", b"/init"), Err("not-a-mount-point"));
    assert_eq!(
        switch_root::check(b"/no/such/dir", b"/init"),
        Err("not-a-mount-point")
    );
    // /proc is a mount point: INIT is looked for inside it, a file that is
    // missing or not executable is no init.
    assert_eq!(switch_root::check(b"/proc", b"/no-init"), Err("no-init"));
    assert_eq!(switch_root::check(b"/proc", b"/self/stat"), Err("no-init"));
    switch_root::remember(&[b"/newroot", b"/sbin/init", b"", b""]);
    assert_eq!(switch_root::planned_root(), b"/newroot");
}

/// The `*at` wrappers add the path's NUL themselves: a path of up to
/// PATH_MAX - 1 bytes works, a longer one is ENAMETOOLONG and one with a NUL
/// in it EINVAL, as rustix's own conversion says.
#[test]
fn at_paths_get_their_nul_and_are_checked() {
    use rustix::fs::{AtFlags, CWD, Mode, OFlags};
    let dir = temp_dir("at");
    let dir_bytes = dir.as_os_str().as_encoded_bytes().to_vec();
    let mut path = dir_bytes.clone();
    path.extend_from_slice(b"/f");
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::CLOEXEC;
    at::openat(CWD, &path, flags, Mode::from_raw_mode(0o600)).unwrap();
    assert!(at::statat(CWD, &path, AtFlags::empty()).is_ok());
    // 4095 bytes: `dir////.../f`, which the kernel takes.
    let mut long = dir_bytes.clone();
    long.resize(4095 - 1, b'/');
    long.push(b'f');
    assert_eq!(long.len(), 4095);
    assert!(at::statat(CWD, &long, AtFlags::empty()).is_ok());
    long.push(b'x');
    assert_eq!(
        at::statat(CWD, &long, AtFlags::empty()).err(),
        Some(Errno::NAMETOOLONG)
    );
    path.push(0);
    assert_eq!(
        at::unlinkat(CWD, &path, AtFlags::empty()).err(),
        Some(Errno::INVAL)
    );
    path.pop();
    at::unlinkat(CWD, &path, AtFlags::empty()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The wall clock's offset from the monotonic one does not move between
/// two calls (each `since` of the status file is a monotonic instant plus
/// it): cut to milliseconds once, not each clock apart. A few thousand
/// calls sweep the clocks through whole milliseconds.
#[test]
fn the_wall_offset_holds_still() {
    let first = clock::wall_offset_ms();
    for _ in 0..5_000 {
        assert_eq!(clock::wall_offset_ms(), first);
    }
}

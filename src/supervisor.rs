//! `vigild` itself: options, loading the configuration (every error listed as
//! `FILE:LINE: message`), the run directory and control FIFO, signals, then
//! the loop. Exit codes are SPEC §1's: 2 usage or configuration, 1 system.

use crate::driver::Driver;
use crate::listeners::Listeners;
use crate::log::say;
use crate::readiness::Channels;
use crate::sys::args::Args;
use crate::sys::fs::{
    LockError, RunDirError, cloexec_inherited, devnull, lock_run_dir, open_control, open_run_dir,
    read_file,
};
use crate::sys::init::{self, Action};
use crate::sys::signal::Signals;
use crate::sys::{Errno, process, storage, user};
use core::ffi::c_int;
use core::fmt::Write;
use vigild_engine::config::parse_duration;
use vigild_engine::config::{Config, Errors, parse_with_main};
use vigild_engine::fixed::{ArrayStr, Lossy};
use vigild_engine::unix::{ErrnoName, parse_u64};

const USAGE: &str =
    "usage: vigild [-f] [-t] [-c FILE] [-d FD] [-r DIR] [-l FILE] [-T TIME] [-- CMD [ARGS...]]";

/// How long a daemon's start-up may take (`-T`).
const START_TIMEOUT_MS: u64 = 30_000;

/// Where the configuration comes from, for the first load and every reload.
#[derive(Clone, Copy)]
pub struct Source {
    /// The configuration file.
    pub path: &'static [u8],
    /// A missing file is an empty configuration (`--` without `-c`).
    pub optional: bool,
    /// `-- CMD ARGS`: the arguments and the position of CMD.
    pub main_cmd: Option<(Args, usize)>,
}

struct Options {
    source: Source,
    run_dir: Option<&'static [u8]>,
    ready_fd: Option<i32>,
    check_only: bool,
    /// `-f`: no daemon mode.
    foreground: bool,
    /// `-l FILE`: a daemon's stdout and stderr.
    log_file: Option<&'static [u8]>,
    /// `-T`: how long a daemon's start-up may take.
    start_timeout_ms: u64,
}

fn options(args: Args, pid1: bool) -> Result<Options, &'static str> {
    let mut o = Options {
        source: Source {
            path: b"/etc/vigild.conf",
            optional: false,
            main_cmd: None,
        },
        run_dir: None,
        ready_fd: None,
        check_only: false,
        foreground: false,
        log_file: None,
        start_timeout_ms: START_TIMEOUT_MS,
    };
    let mut config_given = false;
    let mut i = 1;
    while let Some(arg) = args.get(i) {
        let mut value = || {
            i += 1;
            args.get(i).ok_or("option needs a value")
        };
        match arg {
            b"-f" => o.foreground = true,
            b"-l" => o.log_file = Some(value()?),
            b"-T" => {
                o.start_timeout_ms = value()
                    .map(parse_duration)?
                    .filter(|&ms| ms > 0)
                    .ok_or("-T needs a duration (30s, 500ms)")?
                    .into()
            }
            b"-t" => o.check_only = true,
            b"-c" => {
                o.source.path = value()?;
                config_given = true;
            }
            b"-r" => {
                let dir = value()?;
                if !dir.starts_with(b"/") {
                    return Err("-r needs an absolute path");
                }
                o.run_dir = Some(dir);
            }
            b"-d" => {
                o.ready_fd = Some(
                    value()
                        .map(parse_u64)?
                        .filter(|&fd| fd > 2 && fd < 1 << 20)
                        .ok_or("-d needs a file descriptor above 2")? as i32,
                )
            }
            b"--" => {
                args.get(i + 1).ok_or("-- needs a command")?;
                o.source.main_cmd = Some((args, i + 1));
                o.source.optional = !config_given;
                break;
            }
            b"-h" | b"--help" => return Err(USAGE),
            // The kernel hands init the words of its command line it does
            // not know itself.
            _ if pid1 => say!("warning: argument \"{}\" ignored", Lossy(arg)),
            _ => return Err("unknown option"),
        }
        i += 1;
    }
    Ok(o)
}

/// Read and parse `source` into `cfg`, then check what only the system can
/// tell (that users and groups exist). Every problem lands in `errors`.
pub fn load(source: Source, text: &mut [u8], cfg: &mut Config, errors: &mut Errors) {
    errors.clear();
    let len = match read_file(source.path, text) {
        Ok(len) => len,
        Err(Errno::NOENT) if source.optional => 0,
        Err(e) => {
            cfg.clear();
            return errors.push(
                0,
                format_args!("unable to read: {}", ErrnoName(e.raw_os_error() as u16)),
            );
        }
    };
    let mut cmd = source
        .main_cmd
        .map(|(args, first)| (first..).map_while(move |i| args.get(i)));
    let cmd = cmd
        .as_mut()
        .map(|words| words as &mut dyn Iterator<Item = &[u8]>);
    parse_with_main(text.get(..len).unwrap_or_default(), cfg, errors, cmd);
    storage::release(text, len);
    storage::release_scratch(cfg);
    for id in cfg.ids() {
        let spec = cfg.spec(id);
        let (user_name, group) = (
            cfg.arena.get_with_nul(spec.user),
            cfg.arena.get_with_nul(spec.group),
        );
        if (!spec.user.is_empty() || !spec.group.is_empty())
            && user::lookup(user_name, group).is_err()
        {
            let line = if spec.user.is_empty() {
                spec.group_line
            } else {
                spec.user_line
            };
            errors.push(line, format_args!("unknown user or group"));
        }
        let entries = crate::launch::env_entries(cfg, id);
        if entries > vigild_engine::limits::ENV_MAX {
            errors.push(
                spec.line,
                format_args!(
                    "env: {entries} environment entries with vigild's own, more than the compiled ENV_MAX = {}",
                    vigild_engine::limits::ENV_MAX
                ),
            );
        }
    }
}

/// `cfg` is in force now: what a failure must do follows it (a reload may
/// add or drop `crash` or `main`).
pub fn in_force(cfg: &Config) {
    init::remember(
        cfg.arena.words_bytes(cfg.global.crash),
        cfg.main().is_some(),
    );
}

/// Format each error as `FILE:LINE: message` (`FILE: message` for line 0).
pub fn print_errors(path: &[u8], errors: &Errors, mut each: impl FnMut(&str)) {
    for e in errors.iter() {
        each(located(path, e, "").as_str());
    }
    if errors.dropped() > 0 {
        let mut line = ArrayStr::<480>::new();
        let _ = write!(
            line,
            "{}: {} more errors not shown",
            Lossy(path),
            errors.dropped()
        );
        each(line.as_str());
    }
}

/// Each warning as `FILE:LINE: warning: message`.
pub fn print_warnings(path: &[u8], errors: &Errors, mut each: impl FnMut(&str)) {
    for w in errors.warnings() {
        each(located(path, w, "warning: ").as_str());
    }
}

/// `FILE:LINE: KIND message` (`FILE: ...` for line 0).
fn located(path: &[u8], e: &vigild_engine::config::ParseError, kind: &str) -> ArrayStr<480> {
    let mut line = ArrayStr::<480>::new();
    let _ = match e.line {
        0 => write!(line, "{}: {kind}{}", Lossy(path), e.msg),
        n => write!(line, "{}:{n}: {kind}{}", Lossy(path), e.msg),
    };
    line
}

/// `vigild`: the exit code. PID 1 never exits (SPEC §8) unless in
/// container mode: its shutdown ends in reboot(2), and a failure in its
/// last resort.
pub fn main(args: Args) -> c_int {
    let pid1 = process::getpid() == 1;
    let code = serve(args, pid1);
    init::last_resort(code)
}

fn serve(args: Args, pid1: bool) -> c_int {
    // Used where it is (not moved out of the result: that would make a
    // second copy of the driver on the stack).
    let mut started = start_up(args, pid1);
    let driver = match &mut started {
        Ok(driver) => driver,
        Err(code) => return *code,
    };
    let code = driver.run();
    if let Some(path) = &driver.private_run_dir {
        crate::sys::fs::remove_run_dir(
            rustix::fd::AsFd::as_fd(&driver.dir),
            path.as_str().as_bytes(),
        );
    }
    // The configuration in force decides: a reload may have added or
    // dropped `main`.
    if pid1 && driver.configs.active().main().is_none() {
        driver.power_down();
    }
    code
}

/// Longest private run directory (`$XDG_RUNTIME_DIR/vigild.PID`).
pub const PRIVATE_MAX: usize = 96;

/// Make container mode's private run directory `vigild.PID` under `/run`,
/// else `$XDG_RUNTIME_DIR`, else `/tmp`; its path (in `buf`).
fn private_run_dir(buf: &mut ArrayStr<PRIVATE_MAX>) -> Option<&[u8]> {
    let pid = process::getpid() as u32;
    let runtime = crate::sys::args::getenv(b"XDG_RUNTIME_DIR").filter(|d| d.starts_with(b"/"));
    for parent in [Some(&b"/run"[..]), runtime, Some(b"/tmp")]
        .into_iter()
        .flatten()
    {
        *buf = ArrayStr::new();
        let _ = write!(buf, "{}/vigild.{pid}", Lossy(parent));
        if buf.as_str().len() < PRIVATE_MAX - 1 && open_run_dir(buf.as_str().as_bytes()).is_ok() {
            return Some(buf.as_str().as_bytes());
        }
    }
    None
}

/// Everything before the loop: options, the configuration, the run
/// directory, signals, sockets and pipes. `Err` is the exit code of a
/// vigild that does not run the loop (0 after `-t`). Not inlined: its code is cold
/// (link/layout.ld), and its frame, large and deep, is dead once the loop
/// runs, so the loop's pages of stack are the only ones that stay.
#[inline(never)]
fn start_up(args: Args, pid1: bool) -> Result<Driver, c_int> {
    let o = match options(args, pid1) {
        Ok(o) => o,
        Err(msg) => {
            say!("{msg}");
            say!("{USAGE}");
            return Err(2);
        }
    };
    if o.source.main_cmd.is_some() {
        init::remember(b"", true);
    }
    let Some((st, control_lines)) = storage::take() else {
        return Err(1);
    };
    let errors = &mut st.errors;
    load(o.source, &mut st.text.0, &mut st.configs[0], errors);
    print_warnings(o.source.path, errors, |line| say!("{line}"));
    if !errors.is_empty() {
        print_errors(o.source.path, errors, |line| say!("{line}"));
        let n = errors.count();
        let s = if n == 1 { "" } else { "s" };
        say!("{n} error{s}, nothing started");
        return Err(2);
    }
    let cfg = &st.configs[0];
    in_force(cfg);
    if o.check_only {
        say!("{}: ok, {} services", Lossy(o.source.path), cfg.len());
        return Err(0);
    }
    // Daemon mode: from here on the foreground process only relays.
    let daemon = !pid1 && !o.foreground && cfg.main().is_none();
    let verdict = match daemon {
        true => match crate::daemon::detach(o.log_file, o.start_timeout_ms) {
            Ok(verdict) => Some(verdict),
            Err(code) => return Err(code),
        },
        false => None,
    };
    // Container mode off PID 1 (two `vigild -- CMD` on one host) takes a
    // run directory of its own, unless one was named.
    let mut private = ArrayStr::<PRIVATE_MAX>::new();
    let run_dir = match (o.run_dir, cfg.global.run_dir.is_empty()) {
        (Some(dir), _) => dir,
        (None, true) if cfg.main().is_some() && !pid1 => match private_run_dir(&mut private) {
            Some(dir) => dir,
            None => {
                say!(
                    "fatal: no place for a private run directory (/run, $XDG_RUNTIME_DIR, /tmp); give one with -r"
                );
                return Err(1);
            }
        },
        (None, _) => cfg.run_dir(),
    };
    // `DIR/` would make open(2) follow DIR if it is a symlink.
    let run_dir = match run_dir.iter().rposition(|&b| b != b'/') {
        Some(last) => &run_dir[..=last],
        None => run_dir,
    };
    let failed = |what: &str, detail: &dyn core::fmt::Display| {
        say!("fatal: run directory {}: {what}: {detail}", Lossy(run_dir));
        Err(1)
    };
    if run_dir.len() > vigild_engine::limits::RUN_DIR_MAX {
        let max = vigild_engine::limits::RUN_DIR_MAX;
        return failed("refused", &format_args!("longer than {max} bytes"));
    }
    let dir = match open_run_dir(run_dir) {
        Ok(dir) => dir,
        Err(RunDirError::Sys(what, e)) => return failed(what, &ErrnoName(e.raw_os_error() as u16)),
        Err(RunDirError::Foreign(what)) => return failed("refused", &what),
        Err(RunDirError::InUse) => return failed("refused", &"in use"),
    };
    let lock = match lock_run_dir(rustix::fd::AsFd::as_fd(&dir)) {
        Ok(lock) => lock,
        Err(LockError::Sys(e)) => return failed("lock", &ErrnoName(e.raw_os_error() as u16)),
        Err(LockError::Held(pid)) => {
            say!(
                "fatal: {}: refused: another vigild{} runs on this run directory",
                Lossy(run_dir),
                vigild_engine::unix::HolderPid(pid)
            );
            return Err(1);
        }
    };
    let (control, control_keep) = match open_control(rustix::fd::AsFd::as_fd(&dir)) {
        Ok(pair) => pair,
        Err(RunDirError::Sys(what, e)) => return failed(what, &ErrnoName(e.raw_os_error() as u16)),
        Err(RunDirError::Foreign(what)) => return failed("refused", &what),
        Err(RunDirError::InUse) => {
            return failed(
                "refused",
                &"another vigild is running on this run directory",
            );
        }
    };
    if !cloexec_inherited() {
        say!(
            "warning: close_range(2) refused (Linux before 5.11, or seccomp): inherited fds marked close-on-exec one by one"
        );
    }
    crate::sys::signal::reset_inherited();
    let ready_fd = match o.ready_fd.map(crate::sys::fs::adopt) {
        Some(None) => return failed("-d", &"that file descriptor is not open"),
        Some(fd) => fd,
        None => None,
    };
    let signals = match Signals::install(&crate::sys::signal::HANDLED) {
        Ok(signals) => signals,
        Err(e) => return failed("signals", &ErrnoName(e.raw_os_error() as u16)),
    };
    if pid1 && cfg.main().is_none() {
        init::ctrl_alt_del_as_signal();
    }
    if !pid1 && let Err(e) = process::set_subreaper() {
        say!(
            "warning: unable to become the subreaper: {}",
            ErrnoName(e.raw_os_error() as u16)
        );
    }
    let devnull = match devnull() {
        Ok(fd) => fd,
        Err(e) => return failed("/dev/null", &ErrnoName(e.raw_os_error() as u16)),
    };
    // Every socket is bound before any service starts.
    let Some(listeners) = Listeners::new().prepare(None, cfg, errors) else {
        print_errors(o.source.path, errors, |line| say!("{line}"));
        say!("unable to listen, nothing started");
        return Err(1);
    };
    say!(
        "supervising {} service{} from {} (control {}/control)",
        cfg.len(),
        if cfg.len() == 1 { "" } else { "s" },
        Lossy(o.source.path),
        Lossy(run_dir)
    );
    // After the lock: vigild's cgroup directory is named after the run
    // directory, which only one vigild uses at a time: its path, and its
    // device and inode (any path to it, a bind mount too, is the same).
    let run_id = crate::sys::fs::identity(rustix::fd::AsFd::as_fd(&dir));
    let containment = crate::containment::Containment::new(run_dir, run_id, pid1);
    let pipes = match crate::pipes::Pipes::new().prepare(None, cfg) {
        Ok(pipes) => pipes,
        Err(e) => return failed("log pipes", &ErrnoName(e.raw_os_error() as u16)),
    };
    let channels = Channels::new(run_dir, &mut st.status_texts);
    Ok(Driver {
        configs: crate::driver::Configs::new(&mut st.configs),
        sv: &mut st.supervisor.0,
        text: &mut st.text.0,
        errors: &mut st.errors,
        source: o.source,
        pid1,
        halt: Action::Poweroff,
        verdict,
        start_failed: false,
        _lock: lock,
        private_run_dir: (!private.as_str().is_empty()).then_some(private),
        dir,
        control,
        _control_keep: control_keep,
        signals,
        devnull,
        ready_fd,
        listeners,
        pipes,
        rings: &mut st.rings,
        channels,
        notice: Some(&mut st.notice),
        worker_setup: None,
        containment,
        replies: crate::replies::Replies::new(),
        lines: control_lines,
        dirty: true,
        spawned: false,
        texts_changed: false,
        cold_due: true,
        cold_mapped_back: false,
        status_due: None,
        status_written: vigild_engine::time::Instant::from_ms(0),
        status_failed: false,
        control_warnings: Default::default(),
    })
}

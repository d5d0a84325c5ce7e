//! Start-up: options, loading the configuration (every error listed as
//! `FILE:LINE: message`), daemon mode's detaching, the run directory and
//! control FIFO, signals, containment, sockets and pipes: everything before
//! the loop. Exit codes are vigild(8)'s: 2 usage or configuration, 1 system.

use super::configs::{Configs, Source, in_force, load, print_errors, print_report};
use super::containment::Containment;
use super::control_fifo::Control;
use super::daemonize;
use super::listeners::Listeners;
use super::parts::Vigild;
use super::pipes::Pipes;
use super::readiness::Channels;
use super::reexec::BINARY_MAX;
use super::reload::say_line;
use super::replies::Replies;
use super::role::Role;
use super::status_file::StatusFile;
use super::storage;
use super::world::{PRIVATE_MAX, World};
use crate::sys::args::{self, Args};
use crate::sys::fs::{stdout, write_all};
use crate::sys::message::{self, note, say};
use crate::sys::power::{self, Action};
use crate::sys::run_dir::{
    LockError, RunDirError, identity, lock_run_dir, open_control, open_run_dir,
    remove_stale_replies,
};
use crate::sys::signal::{self, Signals, setup::reset_inherited};
use crate::sys::stdio::{adopt, cloexec_inherited, devnull};
use crate::sys::{Errno, last_resort, process};
use core::ffi::c_int;
use core::fmt::Write;
use rustix::fd::AsFd;
use vigild_engine::config::parse_duration;
use vigild_engine::fixed::{ArrayStr, Lossy, Plain};
use vigild_engine::limits::RUN_DIR_MAX;
use vigild_engine::unix::{ErrnoName, HolderPid, parse_u64};

/// `-h`; its first line is the usage line of a usage error.
const HELP: &str = "\
usage: vigild [-f] [-q] [-t] [-c FILE] [-d FD] [-r DIR] [-l FILE] [-T TIME] [-- CMD [ARGS...]]
  -c FILE  configuration (default /etc/vigild.conf)
  -t       check the configuration, list every error, exit
  -f       foreground: no daemon mode
  -q       quiet: only errors and warnings
  -r DIR   run directory (absolute; overrides run_dir)
  -d FD    write a newline to FD once every autostart service is up
  -l FILE  a daemon's output goes to FILE, vigild's lines timestamped
  -T TIME  how long a daemon's start-up may take (default 30s)
  -- CMD   container mode: CMD is the main service
  -h, -V   this help; the version (--help, --version)
vigild ctl ARGS, vigild log ARGS: vigilctl, vigil-log (their -h)
vigild import runit|s6|daemontools DIR...: their configuration
";

/// The usage line of a usage error: `HELP`'s first, cut at compile time
/// (`HELP.lines().next()` costs code at run time).
const USAGE: &str = first_line(HELP);

const fn first_line(text: &str) -> &str {
    let bytes = text.as_bytes();
    let mut end = 0;
    while end < bytes.len() && bytes[end] != b'\n' {
        end += 1;
    }
    text.split_at(end).0
}

/// How long a daemon's start-up may take (`-T`).
const START_TIMEOUT_MS: u64 = 30_000;

pub struct Options {
    pub source: Source,
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

/// Write `text` on stdout (help, version): nothing more to say (`""`).
fn print(text: &str) -> &'static str {
    let _ = write_all(stdout(), text.as_bytes());
    ""
}

/// `s` for a plural.
fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl Options {
    /// What no option changed.
    pub const DEFAULT: Options = Options {
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
}

/// Parse the command line into `o` (the caller's, not returned: a copy);
/// `Err("")`: answered already (`-h`, `-V`).
pub fn options(args: Args, pid1: bool, o: &mut Options) -> Result<(), &'static str> {
    let mut config_given = false;
    let mut i = 1;
    while let Some(arg) = args.get(i) {
        let mut value = || {
            i += 1;
            args.get(i).ok_or_else(|| {
                say!("{}: needs a value", Lossy(arg));
                USAGE
            })
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
            b"-q" => message::quiet(),
            b"-h" | b"--help" => return Err(print(HELP)),
            b"-V" | b"--version" => {
                return Err(print(concat!("vigild ", env!("CARGO_PKG_VERSION"), "\n")));
            }
            // The kernel hands init the words of its command line it does
            // not know itself.
            _ if pid1 => say!("warning: argument \"{}\" ignored", Lossy(arg)),
            _ => {
                say!("unknown option: {}", Lossy(arg));
                return Err(USAGE);
            }
        }
        i += 1;
    }
    Ok(())
}

/// Make container mode's private run directory `vigild.PID` under `/run`,
/// else `$XDG_RUNTIME_DIR`, else `/tmp`; its path (in `buf`).
// Not inlined into start-up: there it costs more code than the call.
#[inline(never)]
fn private_run_dir(buf: &mut ArrayStr<PRIVATE_MAX>) -> Option<&[u8]> {
    let pid = process::getpid() as u32;
    let runtime = args::getenv(b"XDG_RUNTIME_DIR").filter(|d| d.starts_with(b"/"));
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
pub fn start_up(args: Args, pid1: bool) -> Result<Vigild, c_int> {
    let mut o = Options::DEFAULT;
    match options(args, pid1, &mut o) {
        Ok(()) => {}
        Err("") => return Err(0),
        Err(msg) => {
            if msg != USAGE {
                say_line(msg);
            }
            say_line(USAGE);
            return Err(2);
        }
    };
    if o.source.main_cmd.is_some() {
        last_resort::remember(b"", true);
    }
    let Some((st, control_lines)) = storage::take() else {
        return Err(1);
    };
    let errors = &mut st.errors;
    let read = load(o.source, &mut st.text.0, &mut st.configs[0], errors);
    // `-- CMD` without a file names none.
    let (file, sep) = match read {
        true => (o.source.path, ": "),
        false => (&b""[..], ""),
    };
    // Warnings and errors together, in line order.
    print_report(file, errors, &mut say_line as &mut dyn FnMut(&str));
    let n = errors.count();
    let cfg = &st.configs[0];
    match (n, o.check_only) {
        (0, false) => {}
        (0, true) => say!(
            "{}{}ok, {} service{}",
            Lossy(file),
            Plain(sep),
            cfg.len(),
            Plain(plural(cfg.len()))
        ),
        _ => {
            let what = if o.check_only {
                ""
            } else {
                ", nothing started"
            };
            say!(
                "{}{}{n} error{}{}",
                Lossy(file),
                Plain(sep),
                Plain(plural(n)),
                Plain(what)
            );
            return Err(2);
        }
    }
    if o.check_only {
        return Err(0);
    }
    in_force(cfg);
    // Daemon mode: from here on the foreground process only relays.
    let daemon = !pid1 && !o.foreground && cfg.main().is_none();
    if !daemon && o.log_file.is_some() {
        say!("warning: -l is for daemon mode: ignored (the output stays where it is)");
    }
    let verdict = match daemon {
        true => match daemonize::detach(o.log_file, o.start_timeout_ms) {
            Ok(verdict) => {
                if o.log_file.is_some() {
                    message::stamp_lines();
                }
                Some(verdict)
            }
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
        say!(
            "fatal: run directory {}: {}: {detail}",
            Lossy(run_dir),
            Plain(what)
        );
        Err(1)
    };
    let failed_with = |what: &str, e: Errno| failed(what, &ErrnoName(e.raw_os_error() as u16));
    let refused = |e: RunDirError| match e {
        RunDirError::Sys(what, e) => failed_with(what, e),
        RunDirError::Foreign(what) => failed("refused", &Plain(what)),
        RunDirError::InUse => failed(
            "refused",
            &Plain("another vigild is running on this run directory"),
        ),
    };
    if run_dir.len() > RUN_DIR_MAX {
        let max = RUN_DIR_MAX;
        return failed("refused", &format_args!("longer than {max} bytes"));
    }
    if pid1 && cfg.main().is_none() {
        crate::sys::switch_root::mount_run_in_initramfs();
    }
    let dir = match open_run_dir(run_dir) {
        Ok(dir) => dir,
        Err(e) => return refused(e),
    };
    let lock = match lock_run_dir(dir.as_fd()) {
        Ok(lock) => lock,
        Err(LockError::Sys(e)) => return failed_with("lock", e),
        Err(LockError::Held(pid)) => {
            say!(
                "fatal: {}: refused: another vigild{} runs on this run directory",
                Lossy(run_dir),
                HolderPid(pid)
            );
            return Err(1);
        }
    };
    let (control, control_keep) = match open_control(dir.as_fd()) {
        Ok(pair) => pair,
        Err(e) => return refused(e),
    };
    remove_stale_replies(dir.as_fd());
    if !cloexec_inherited() {
        say!(
            "warning: close_range(2) refused (Linux before 5.11, or seccomp): inherited fds marked close-on-exec one by one"
        );
    }
    reset_inherited();
    let ready_fd = match o.ready_fd.map(adopt) {
        Some(None) => return failed("-d", &Plain("that file descriptor is not open")),
        Some(fd) => fd,
        None => None,
    };
    let signals = match Signals::install(&signal::HANDLED) {
        Ok(signals) => signals,
        Err(e) => return failed_with("signals", e),
    };
    if pid1 && cfg.main().is_none() {
        power::ctrl_alt_del_as_signal();
    }
    if !pid1 && let Err(e) = process::set_subreaper() {
        say!(
            "warning: unable to become the subreaper: {}",
            ErrnoName(e.raw_os_error() as u16)
        );
    }
    let devnull = match devnull() {
        Ok(fd) => fd,
        Err(e) => return failed_with("/dev/null", e),
    };
    // Every socket is bound before any service starts.
    let Some(listeners) = Listeners::new().prepare(None, cfg, errors) else {
        print_errors(o.source.path, errors, &mut say_line as &mut dyn FnMut(&str));
        say!("unable to listen, nothing started");
        return Err(1);
    };
    note!(
        "supervising {} service{}{}{} (control {}/control)",
        cfg.len(),
        Plain(plural(cfg.len())),
        Plain(if read { " from " } else { "" }),
        Lossy(file),
        Lossy(run_dir)
    );
    // After the lock: vigild's cgroup directory is named after the run
    // directory, which only one vigild uses at a time: its path, and its
    // device and inode (any path to it, a bind mount too, is the same).
    let run_id = identity(dir.as_fd());
    let containment = Containment::new(run_dir, run_id, pid1);
    let pipes = match Pipes::new().prepare(None, cfg) {
        Ok(pipes) => pipes,
        Err(e) => return failed_with("log pipes", e),
    };
    let channels = Channels::new(run_dir, &mut st.status_texts);
    Ok(Vigild {
        configs: Configs::new(&mut st.configs, &mut st.text.0, &mut st.errors, o.source),
        engine: &mut st.supervisor.0,
        world: World {
            dir,
            _lock: lock,
            private_run_dir: (!private.as_str().is_empty()).then_some(private),
            signals,
            devnull,
            listeners,
            pipes,
            rings: &mut st.rings,
            channels,
            notice: Some(&mut st.notice),
            replies: Replies::new(),
            worker_setup: None,
            containment,
        },
        status: StatusFile::new(),
        control: Control {
            fd: control,
            _keep: control_keep,
            lines: control_lines,
            warnings: Default::default(),
        },
        role: Role {
            pid1,
            halt: Action::Poweroff,
            verdict,
            start_failed: false,
            ready_fd,
        },
        args,
        binary: started_from(args),
        resumed: None,
    })
}

/// The binary vigild was started from, as `reexec` runs it when not told
/// which: the file /proc/self/exe names now, before an upgrade replaces it
/// (its own path, through no symlink, as `reexec` wants it), else argv[0]
/// if absolute (an initramfs's /init, before /proc is mounted).
fn started_from(args: Args) -> ArrayStr<BINARY_MAX> {
    let mut path = ArrayStr::new();
    let mut buf = [0u8; BINARY_MAX];
    let named = args::own_path(&mut buf).or(args.get(0).filter(|a| a.starts_with(b"/")));
    if let Some(named) = named.filter(|p| p.len() < BINARY_MAX) {
        let _ = write!(path, "{}", Lossy(named));
    }
    path
}

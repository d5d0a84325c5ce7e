//! The configuration: where it comes from, the one in force and the spare
//! a reload parses into, and loading one (reading, parsing, checking what
//! only the system can tell), with every error as `FILE:LINE: message`.

use super::launch::{DEFAULT_PATH, argv_program, env_entries};
use crate::sys::args::{self, Args};
use crate::sys::fs::{find_program, read_file};
use crate::sys::{Errno, last_resort, storage, user};
use core::fmt::Write;
use vigild_engine::config::{Config, Errors, ParseError, parse_with_main};
use vigild_engine::fixed::{ArrayStr, Lossy, Plain, Str, without_nul};
use vigild_engine::limits::ENV_MAX;
use vigild_engine::unix::ErrnoName;

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

/// The two configurations: the one in force, and the spare that a reload
/// parses into and makes the one in force if it has no error.
pub struct Configs {
    /// The one in force: a reference of its own, not an index into the
    /// pair, as the loop asks for it everywhere (an index costs a
    /// multiplication at each place).
    active: &'static mut Config,
    spare: &'static mut Config,
    /// Buffer the configuration file is read into.
    text: &'static mut [u8],
    /// The errors of the last load.
    pub errors: &'static mut Errors,
    /// Where the configuration comes from.
    pub source: Source,
}

impl Configs {
    /// The first one is in force (`load` put it there).
    pub fn new(
        both: &'static mut [Config; 2],
        text: &'static mut [u8],
        errors: &'static mut Errors,
        source: Source,
    ) -> Self {
        let [active, spare] = both;
        Configs {
            active,
            spare,
            text,
            errors,
            source,
        }
    }

    /// The configuration in force.
    // Always inlined: the loop's, hot code (this module is cold, link/layout.ld).
    #[inline(always)]
    pub fn active(&self) -> &Config {
        self.active
    }

    /// Load the spare from the source: the one in force, the spare, and
    /// the errors of the load.
    pub fn load_spare(&mut self) -> (&Config, &mut Config, &mut Errors) {
        load(self.source, self.text, self.spare, self.errors);
        (self.active, self.spare, self.errors)
    }

    /// The one in force and the spare.
    pub fn both(&self) -> (&Config, &Config) {
        (self.active, self.spare)
    }

    /// Put the spare in force.
    pub fn flip(&mut self) {
        core::mem::swap(&mut self.active, &mut self.spare);
    }
}

/// Read and parse `source` into `cfg`, then check what only the system can
/// tell (that users and groups exist, programs too). Every problem lands
/// in `errors`. False if there was no file (`-- CMD` alone).
pub fn load(source: Source, text: &mut [u8], cfg: &mut Config, errors: &mut Errors) -> bool {
    errors.clear();
    let len = match read_file(source.path, text) {
        Ok(len) => len,
        Err(Errno::NOENT) if source.optional => {
            load_text(source, text, 0, cfg, errors);
            cfg.file = Str::EMPTY;
            return false;
        }
        Err(e) => {
            cfg.clear();
            errors.push(
                0,
                format_args!("unable to read: {}", ErrnoName(e.raw_os_error() as u16)),
            );
            return true;
        }
    };
    load_text(source, text, len, cfg, errors);
    true
}

fn load_text(source: Source, text: &mut [u8], len: usize, cfg: &mut Config, errors: &mut Errors) {
    let mut cmd = source
        .main_cmd
        .map(|(args, first)| (first..).map_while(move |i| args.get(i)));
    let cmd = cmd
        .as_mut()
        .map(|words| words as &mut dyn Iterator<Item = &[u8]>);
    parse_with_main(text.get(..len).unwrap_or_default(), cfg, errors, cmd);
    // Kept for messages that name a line after start-up (a failed spawn).
    cfg.file = cfg.arena.push(source.path).unwrap_or_default();
    storage::release(text, len);
    storage::release_part(cfg.scratch());
    for id in cfg.ids() {
        let spec = cfg.spec(id);
        let (user_name, group) = (
            cfg.arena.get_with_nul(spec.user),
            cfg.arena.get_with_nul(spec.group),
        );
        if (!spec.user.is_empty() || !spec.group.is_empty())
            && user::lookup(user_name, group).is_err()
        {
            let (what, name, line) = match user::lookup(user_name, b"\0") {
                Err(_) => ("user", spec.user, spec.user_line),
                Ok(_) => ("group", spec.group, spec.group_line),
            };
            let name = Lossy(cfg.arena.get(name));
            errors.push(line, format_args!("unknown {} \"{name}\"", Plain(what)));
        }
        // Warned, not refused: a oneshot before it may mount it.
        let program = argv_program(cfg, id);
        // A relative path with a `/` is the service's own `dir`'s (it
        // starts there), not vigild's working directory's.
        let mut at_dir = ArrayStr::<480>::new();
        let name = without_nul(program);
        let checked = match name.contains(&b'/') && !name.starts_with(b"/") {
            true => {
                let dir = cfg.arena.get(spec.dir);
                let dir = if dir.is_empty() {
                    &b""[..]
                } else {
                    without_nul(dir)
                };
                let _ = write!(at_dir, "{}/{}", Lossy(dir), Lossy(name));
                at_dir.as_str().as_bytes()
            }
            false => program,
        };
        if !program.is_empty()
            && !cfg.is_logger(id)
            && let Err(e) = find_program(checked, args::getenv(b"PATH").unwrap_or(DEFAULT_PATH))
        {
            let why = match e {
                Errno::ACCESS => "not executable",
                _ => "not found",
            };
            let line = spec.exec_line;
            errors.warn(
                line,
                format_args!("{}: {}", Lossy(without_nul(program)), Plain(why)),
            );
        }
        let entries = env_entries(cfg, id);
        if entries > ENV_MAX {
            errors.push(
                spec.line,
                format_args!(
                    "env: {entries} environment entries with vigild's own, more than the compiled ENV_MAX = {}",
                    ENV_MAX
                ),
            );
        }
    }
    errors.sort();
}

/// `cfg` is in force now: what a failure must do follows it (a reload may
/// add or drop `crash` or `main`).
pub fn in_force(cfg: &Config) {
    last_resort::remember(
        cfg.arena.words_bytes(cfg.global.crash),
        cfg.main().is_some(),
    );
}

/// Format each error as `FILE:LINE: message` (`FILE: message` for line 0).
pub fn print_errors(path: &[u8], errors: &Errors, mut each: impl FnMut(&str)) {
    for e in errors.iter() {
        each(located(path, e, "").as_str());
    }
    print_dropped(path, errors, each);
}

/// How many errors (and warnings) were not kept, if any.
fn print_dropped(path: &[u8], errors: &Errors, mut each: impl FnMut(&str)) {
    if errors.dropped_warnings() > 0 {
        let mut line = ArrayStr::<480>::new();
        let n = errors.dropped_warnings();
        let _ = write!(line, "{}: {n} more warnings not shown", Lossy(path));
        each(line.as_str());
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

/// Every warning and error, merged in line order (both lists are sorted),
/// then how many errors were not kept: what `-t` and a start-up say.
// Not inlined into its one caller: there it costs more code than the call.
#[inline(never)]
pub fn print_report(path: &[u8], errors: &Errors, mut each: impl FnMut(&str)) {
    let (mut w, mut e) = (errors.warnings().peekable(), errors.iter().peekable());
    loop {
        let (next, kind) = match (w.peek(), e.peek()) {
            (Some(a), Some(b)) if b.line < a.line => (e.next(), ""),
            (Some(_), _) => (w.next(), "warning: "),
            (None, _) => (e.next(), ""),
        };
        let Some(next) = next else { break };
        each(located(path, next, kind).as_str());
    }
    print_dropped(path, errors, each);
}

/// `FILE:LINE: KIND message` (`FILE: ...` for line 0; no `FILE` when no
/// file was read: `-- CMD` alone).
fn located(path: &[u8], e: &ParseError, kind: &str) -> ArrayStr<480> {
    let mut line = ArrayStr::<480>::new();
    // Piece by piece: one formatting call per case cost more.
    if !path.is_empty() {
        let _ = write!(line, "{}", Lossy(path));
        if e.line != 0 {
            let _ = write!(line, ":{}", e.line);
        }
        let _ = line.write_str(": ");
    }
    let _ = line.write_str(kind);
    let _ = line.write_str(e.msg.as_str());
    line
}

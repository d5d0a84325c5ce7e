//! `vigild import runit|s6|daemontools DIR...`: prints on stdout the
//! configuration of the service directories DIR names (a DIR holding
//! `run`, or an s6-rc source definition holding `up`) or holds (a scan
//! directory, as runsvdir and s6-svscan read it). The three layouts share
//! their files (`run`, `down`, `log/run`, an envdir in `env/`), so one
//! translation serves them all; what it cannot translate becomes a `#`
//! comment naming the file, so that nothing is dropped unsaid.
//!
//! Nothing read from the file system reaches the output raw: a comment
//! shows its control bytes (and `\\`) as `\xHH`, a service is named with
//! the bytes a name may have, and a value that a key could not hold as it
//! is (a control byte, a path the parser would cut) is a comment instead.
//!
//! The text is written from templates (`emit`): a binary with a size
//! budget pays for each call far more than for each byte of text. For the
//! same reason one path buffer serves every path: a directory's entry is
//! appended to it and cut off again, never copied.

use crate::sys::Errno;
use crate::sys::args::Args;
use crate::sys::dir::{cwd, each_entry, is_file, open_dir, read_plain_file};
use crate::sys::fs::{stdout, write_all};
use crate::sys::message::say;
use crate::sys::storage::Once;
use core::ffi::c_int;
use vigild_engine::fixed::{Lossy, word_index};
use vigild_engine::unix::{ErrnoName, errno_name, parse_signal, parse_u64};

/// The longest path built. A DIR may take half: the names below it (a
/// file, `log/`, a log directory) fit in the rest.
const PATH_MAX: usize = 1024;

/// The most of a file read.
const TEXT_MAX: usize = 4096;

/// The size of the other buffers: a path, a file's text, the output.
const BUF: usize = 16 * 1024;

/// The size of the list of service directories found: thousands of them
/// (the README's limit).
const FOUND: usize = 1 << 20;

/// The import's state: zero bytes in `.bss` (placed with the big tables by
/// `link/layout.ld`), so nothing clears or sets it up, and no large stack
/// frame is probed. `vigild import` runs alone in its process: it takes it
/// once.
static IMPORT: Once<Import> = Once::new(Import {
    out: Out(Buf::new()),
    found: Buf::new(),
    path: Buf::new(),
    spare: Buf::new(),
    text: Buf::new(),
    value: (0, 0),
    dir: 0,
    oneshot: false,
    logger: false,
    started: false,
    full: false,
    failed: false,
});

/// `-h`.
const HELP: &str = "\
usage: vigild import runit|s6|daemontools DIR...   (or vigild-import ...)
Print on stdout a vigild configuration that runs the service directories
DIR names (a DIR holding `run`, or an s6-rc `up`) or holds (a scan
directory). What has no equivalent becomes a `# PATH: not translated`
comment. Check the result with `vigild -t -c FILE`.
exit: 0 all imported, 1 a DIR (or a part of one) could not be, 2 usage
";

/// `vigild import ARGS`, the arguments starting at `first`: the exit code.
pub fn main(args: Args, first: usize) -> c_int {
    let kind = args.get(first).unwrap_or_default();
    let text = match kind {
        b"-h" | b"--help" => HELP,
        b"-V" | b"--version" => concat!("vigild-import ", env!("CARGO_PKG_VERSION"), "\n"),
        _ => "",
    };
    if !text.is_empty() {
        return write_all(stdout(), text.as_bytes()).is_err().into();
    }
    if word_index("runit s6 daemontools", kind).is_none() || args.get(first + 1).is_none() {
        match kind.is_empty() || word_index("runit s6 daemontools", kind).is_some() {
            true => say!("no directory given"),
            false => say!("not runit, s6 or daemontools: {}", Lossy(kind)),
        }
        say!("usage: vigild import runit|s6|daemontools DIR... (-h: help)");
        return 2;
    }
    let Some(c) = IMPORT.take() else {
        return 1;
    };
    let mut code = 0;
    for arg in (first + 1..).map_while(|i| args.get(i)) {
        let found = c.found.len;
        match c.find(arg) {
            Ok(()) if c.found.len > found => continue,
            Ok(()) => say!("import: {}: no service directory", Lossy(arg)),
            Err(Errno::NOMEM) => say!(
                "import: {}: too many service directories (1 MiB of paths)",
                Lossy(arg)
            ),
            Err(e) => say!(
                "import: {}: {}",
                Lossy(arg),
                ErrnoName(e.raw_os_error() as u16)
            ),
        }
        code = 1;
    }
    // The list found: paths, each ended by a NUL (which no name holds).
    let mut at = 0;
    while let Some(len) = c.found.part(at, c.found.len).iter().position(|&b| b == 0) {
        c.path.len = 0;
        c.path.put(c.found.part(at, at + len));
        at += len + 1;
        c.service();
    }
    c.out.flush();
    if c.failed {
        say!("import: not everything was imported: see the comments that say why");
        code = 1;
    }
    code
}

/// The files of a service directory that are translated, and those that
/// need nothing (`supervise` and `event` are the supervisor's, `data` the
/// run script's, `consumer-for` is the other end of a `producer-for`).
const FILES: &str = concat!(
    "notification-fd timeout-kill timeout-up down-signal producer-for ",
    "down log env dependencies dependencies.d ",
    "run up type supervise event data consumer-for"
);

/// The lines of the first five of `FILES`: `\x02` is the file's value,
/// `\x07` the service it names.
const KEYS: [&[u8]; 5] = [
    b"ready = fd:\x02\n",
    b"stop_timeout = \x02ms\n",
    b"start_timeout = \x02ms\n",
    b"stop_signal = \x02\n",
    b"log = service:\x07\n",
];

/// The files of `FILES` whose text is read: `down` and `type` only to
/// make sure they are what they seem, plain files.
fn is_read(file: usize) -> bool {
    matches!(file, 0..=5 | 8 | 12)
}

const NOT_TRANSLATED: &[u8] = b"# \x01: not translated\n";

/// What one import works with: the output, the service directories
/// found (each path ended by a NUL), the path at hand (and a spare one, for a path
/// that is not below it), the text of its file and the value (a part of
/// the text) a line is written with, the length of the service
/// directory's path, whether it is an s6-rc oneshot and whether its logger
/// is a service.
struct Import {
    out: Out,
    found: Buf<FOUND>,
    path: Buf<BUF>,
    spare: Buf<BUF>,
    text: Buf<BUF>,
    value: (usize, usize),
    dir: usize,
    oneshot: bool,
    logger: bool,
    /// A section was written: the next one follows a blank line.
    started: bool,
    /// A service directory did not fit in the list found.
    full: bool,
    /// Something was not imported whole: the exit code is 1.
    failed: bool,
}

impl Import {
    /// Add the service directory `arg` names, or those it holds, to the
    /// list found.
    fn find(&mut self, arg: &[u8]) -> Result<(), Errno> {
        if arg.is_empty() {
            return Err(Errno::NOENT);
        }
        self.path.len = 0;
        let fits = (arg.starts_with(b"/")
            || cwd(&mut self.text.buf).is_some_and(|d| self.path.push(d)))
            && self.path.push(arg)
            && self.path.len < PATH_MAX / 2;
        if !fits {
            return Err(Errno::NAMETOOLONG);
        }
        self.full = false;
        if !self.add() {
            self.each(|c, _| {
                c.add();
            })?;
        }
        match self.full {
            false => Ok(()),
            true => Err(Errno::NOMEM),
        }
    }

    /// Add the path to the list found if it holds `run` or an s6-rc `up`,
    /// a file (an s6-rc bundle holds neither, `/` a directory `/run`: no
    /// service); whether it did. A path that cannot be written as `dir`
    /// is listed too: `service` says so.
    fn add(&mut self) -> bool {
        let service = self.holds(b"run") || self.holds(b"up");
        // Whole paths only: a cut one would name another directory.
        if service && self.found.len + self.path.len < FOUND {
            self.found.put(self.path.bytes());
            self.found.put(b"\0");
        } else if service {
            self.full = true;
        }
        service
    }

    /// The path holds the file `name` (or a symlink to one).
    fn holds(&mut self, name: &[u8]) -> bool {
        let dir = self.path.len;
        self.path.push(name);
        let holds = is_file(self.path.bytes());
        self.path.len = dir;
        holds
    }

    /// Call `each` with the path at every entry of the directory at the
    /// path (but dot-files) and the entry's name.
    fn each(&mut self, each: fn(&mut Self, &[u8])) -> Result<(), Errno> {
        let entries = open_dir(self.path.bytes())?;
        let dir = self.path.len;
        let listed = each_entry(entries, &mut |name| {
            self.path.len = dir;
            self.path.push(name);
            if !name.starts_with(b".") {
                each(self, name)
            }
        });
        self.path.len = dir;
        listed
    }

    /// `each` on the directory at the path; if it cannot be listed (or
    /// only in part), a comment that says why, and the exit code is 1.
    fn list(&mut self, each: fn(&mut Self, &[u8])) {
        if let Err(e) = self.each(each) {
            self.failed = true;
            self.emit(b"# \x01: not listed: ");
            let name = errno_name(e.raw_os_error() as u16);
            self.out.put(name.unwrap_or("an error").as_bytes());
            self.out.put(b"\n");
        }
    }

    /// Read the file at the path (what fits of it), if it is a plain file
    /// (see `read_plain_file`); whether it was. Its value is its first
    /// line, without trailing blanks.
    fn read(&mut self) -> bool {
        // A file that does not fit fills the buffer: its start is read.
        let len = match read_plain_file(self.path.bytes(), &mut self.text.buf[..TEXT_MAX]) {
            Ok(len) => Some(len),
            Err(Errno::FBIG) => Some(TEXT_MAX),
            Err(_) => None,
        };
        self.text.len = len.unwrap_or(0);
        let first = self.text.bytes().split(|&b| b == b'\n').next();
        self.value = (0, first.unwrap_or_default().trim_ascii_end().len());
        len.is_some()
    }

    fn value(&self) -> &[u8] {
        self.text.part(self.value.0, self.value.1)
    }

    /// `template` with `\x01` the path, `\x02` the value, `\x03` the
    /// service's name, `\x04` the path as a word of `exec`, `\x05` the
    /// path's last component, `\x06` the spare path, `\x07` the service
    /// the value names. In a comment (a template starting with `#`) what
    /// is put in is escaped. Called from everywhere: one copy of it.
    #[inline(never)]
    fn emit(&mut self, template: &[u8]) {
        let comment = template.first() == Some(&b'#');
        for &b in template {
            let path = self.path.bytes();
            let value = self.text.part(self.value.0, self.value.1);
            let part = match b {
                1 => path,
                2 => value,
                3 => {
                    self.out.name(last(self.path.part(0, self.dir)));
                    continue;
                }
                4 => {
                    self.out.word(path);
                    continue;
                }
                5 => last(path),
                6 => self.spare.bytes(),
                7 => {
                    self.out.name(value);
                    continue;
                }
                _ => {
                    self.out.put(&[b]);
                    continue;
                }
            };
            match comment {
                true => self.out.escaped(part),
                false => self.out.put(part),
            }
        }
    }

    /// The section(s) of the service directory at the path.
    fn service(&mut self) {
        self.dir = self.path.len;
        if self.started {
            self.out.put(b"\n");
        }
        self.started = true;
        if !writable(self.path.bytes()) {
            self.failed = true;
            let why = b"# \x01: not imported: its path cannot be written in a configuration\n";
            return self.emit(why);
        }
        self.emit(b"[\x03]\ndir = \x01\n");
        // An s6-rc oneshot's `up` is a command line for execlineb.
        self.oneshot = !self.holds(b"run");
        self.path.push(if self.oneshot { b"up" } else { b"run" });
        self.emit(match self.oneshot {
            true => b"mode = oneshot\nexec = execlineb -P\x04\n",
            false => b"exec =\x04\n",
        });
        self.path.len = self.dir;
        self.logger = false;
        self.list(Self::file);
        if self.logger {
            self.path.push(b"log");
            self.emit(b"\n[\x03-log]\ndir = \x01\n");
            self.path.push(b"run");
            self.emit(b"exec =\x04\n");
        }
    }

    /// The file `name` at the path, in a service directory.
    fn file(&mut self, name: &[u8]) {
        let i = word_index(FILES, name).unwrap_or(99);
        if is_read(i) && !self.read() {
            return self.emit(NOT_TRANSLATED);
        }
        let value = self.value();
        let n = parse_u64(value).unwrap_or(u64::MAX);
        let valid = match i {
            0 => matches!(n, 1 | 3..=255),
            1 | 2 => n < 1 << 32 && n >= 2 - i as u64,
            3 => parse_signal(value).is_some(),
            4 => self.imported(value),
            _ => false,
        };
        match i {
            0..5 if valid => self.emit(KEYS[i]),
            5 if !self.oneshot => self.emit(b"autostart = no\n"),
            6 => self.logger = self.log(),
            7 => self.list(Self::env),
            8 => self.deps(),
            9 => self.list(Self::dep_entry),
            10.. if i != 99 => {}
            _ => self.emit(NOT_TRANSLATED),
        }
    }

    /// A service of that name was found (and is imported).
    fn imported(&self, name: &[u8]) -> bool {
        self.found
            .bytes()
            .split(|&b| b == 0)
            .any(|path| last(path) == name && writable(path))
    }

    /// The dependencies the file read names, one a word.
    fn deps(&mut self) {
        let mut at = 0;
        while at < self.text.len {
            let rest = self.text.part(at, self.text.len);
            let len = rest.iter().position(u8::is_ascii_whitespace);
            self.value = (at, at + len.unwrap_or(rest.len()));
            self.dep();
            at = self.value.1 + 1;
        }
    }

    /// An entry of `dependencies.d`: its name is a dependency.
    fn dep_entry(&mut self, name: &[u8]) {
        self.text.len = 0;
        self.text.put(name);
        self.value = (0, self.text.len);
        self.dep();
    }

    /// A dependency (the value) named in the file at the path: a line of
    /// `after` if it is imported too.
    fn dep(&mut self) {
        let name = self.value();
        if !name.is_empty() {
            let line: &[u8] = match self.imported(name) {
                true => b"after = \x07\n",
                false => b"# \x01: \x02 is not imported\n",
            };
            self.emit(line);
        }
    }

    /// An envdir's file `var` at the path: its name is a variable, its
    /// first line (trailing blanks removed) the value. An empty file
    /// removes the variable and a NUL is a newline to envdir: `env` cannot
    /// say either.
    fn env(&mut self, var: &[u8]) {
        let read = self.read();
        let value = self.value();
        // A blank then `#` would start a comment in the configuration.
        let writable = read
            && var.first() > Some(&b'9')
            && var.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
            && (1..TEXT_MAX).contains(&self.text.len)
            && !has_control(value)
            && !value.windows(2).any(|w| w == b" #");
        self.emit(match writable {
            true => b"env = \x05=\x02\n",
            false => NOT_TRANSLATED,
        });
    }

    /// The logger `log/` at the path: vigil-log's `log` line when its
    /// `run` can be replaced (see `Logger`), else `log = service:NAME-log`
    /// and true: that service runs the script (one that is not a plain
    /// file too: it is run, not read).
    fn log(&mut self) -> bool {
        let dir = self.path.len;
        self.path.push(b"run");
        let read = self.read();
        if !is_file(self.path.bytes()) || read && self.text.len == 0 {
            self.emit(NOT_TRANSLATED);
            return false;
        }
        let whole = read && self.text.len < TEXT_MAX;
        self.path.len = dir;
        // The directory, in the spare path (relative to `log/`).
        let to = &mut self.spare;
        to.len = 0;
        let logger = Logger::of(self.text.bytes()).filter(|l| {
            if !l.dir.starts_with(b"/") {
                to.put(self.path.bytes());
            }
            whole && to.push(l.dir) && to.len < PATH_MAX - 8
        });
        let Some(l) = logger else {
            self.emit(b"log = service:\x03-log\n");
            return true;
        };
        let out = &mut self.out;
        out.put(b"log =");
        out.option(b" -s ", l.size);
        out.option(b" -n ", l.keep);
        if l.tai64n {
            out.put(b" -t tai64n");
        }
        out.word(to.bytes());
        out.put(b"\n");
        // svlogd's own settings, which vigil-log does not read.
        to.push(b"config");
        if is_file(to.bytes()) {
            self.emit(b"# \x06: not translated\n");
        }
        false
    }
}

/// What a logger's `run` says when it is one command, `svlogd`, `s6-log`
/// or `multilog` on one directory (`/…` or `./…`) with only options
/// vigil-log has.
struct Logger<'a> {
    size: &'a [u8],
    keep: &'a [u8],
    tai64n: bool,
    dir: &'a [u8],
}

impl Logger<'_> {
    fn of(script: &[u8]) -> Option<Logger<'_>> {
        let mut cmd = None;
        for line in script.split(|&b| b == b'\n').map(<[u8]>::trim_ascii) {
            if line.first().is_some_and(|&b| b != b'#') {
                if cmd.is_some() {
                    return None;
                }
                cmd = Some(line);
            }
        }
        let cmd = cmd?;
        // No shell syntax: what the words mean is plain.
        if cmd.iter().any(|b| b"'\"\\$;&|<>`(){}*?~".contains(b)) {
            return None;
        }
        let mut l = Logger {
            size: b"",
            keep: b"",
            tai64n: false,
            dir: b"",
        };
        let mut program = false;
        for word in cmd.split(u8::is_ascii_whitespace) {
            let Some((&first, value)) = word.split_first() else {
                continue;
            };
            if !program {
                if word != b"exec" {
                    word_index("svlogd s6-log multilog", last(word))?;
                    program = true;
                }
                continue;
            }
            match (first, parse_u64(value)) {
                (b's', Some(4096..)) => l.size = value,
                (b'n', Some(0..=1000)) => l.keep = value,
                (b'/' | b'.', _) if l.dir.is_empty() && !has_control(word) => l.dir = word,
                _ => l.tai64n |= word_index("-t t -tt -ttt T", word)? < 2,
            }
        }
        (!l.dir.is_empty()).then_some(l)
    }
}

/// `bytes` holds a control byte: no value of a key may.
fn has_control(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| b < b' ' || b == 0x7f)
}

/// `path` can be the value of `dir`, which the parser takes as it is but
/// for a comment (a blank then `#`) and the blanks around it.
fn writable(path: &[u8]) -> bool {
    path.starts_with(b"/")
        && !path.ends_with(b" ")
        && !has_control(path)
        && !path.windows(2).any(|w| w == b" #")
}

/// The last component of `path`.
fn last(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or_default()
}

/// Bytes gathered in a buffer: a path, a file's text, the list found.
struct Buf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Buf<N> {
    const fn new() -> Self {
        Buf {
            buf: [0; N],
            len: 0,
        }
    }

    fn bytes(&self) -> &[u8] {
        self.part(0, self.len)
    }

    /// The bytes from `from` to `to` (none if that is out of the buffer:
    /// no panic path). Not inlined: it is behind every `bytes`.
    #[inline(never)]
    fn part(&self, from: usize, to: usize) -> &[u8] {
        self.buf.get(from..to).unwrap_or_default()
    }

    /// Append what fits of `bytes`; the rest.
    fn put<'b>(&mut self, bytes: &'b [u8]) -> &'b [u8] {
        let room = self.buf.get_mut(self.len..).unwrap_or_default();
        let (now, rest) = bytes.split_at(bytes.len().min(room.len()));
        for (to, &b) in room.iter_mut().zip(now) {
            *to = b;
        }
        self.len += now.len();
        rest
    }

    /// Append `/` and `rel`, dropping `.` and empty components, `..` going
    /// up; false if it does not fit.
    fn push(&mut self, rel: &[u8]) -> bool {
        for part in rel.split(|&b| b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => self.len = self.bytes().iter().rposition(|&b| b == b'/').unwrap_or(0),
                _ if self.len + part.len() >= PATH_MAX => return false,
                _ => {
                    self.put(b"/");
                    self.put(part);
                }
            }
        }
        true
    }
}

/// The output, written to stdout when full.
struct Out(Buf<BUF>);

impl Out {
    fn put(&mut self, bytes: &[u8]) {
        let mut rest = self.0.put(bytes);
        while !rest.is_empty() {
            self.flush();
            rest = self.0.put(rest);
        }
    }

    /// `option` and `value`, if there is one.
    fn option(&mut self, option: &[u8], value: &[u8]) {
        if !value.is_empty() {
            self.put(option);
            self.put(value);
        }
    }

    /// `bytes` in a comment: a control byte (which could end the comment
    /// and start a line of configuration) and `\` as `\xHH`.
    fn escaped(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b < b' ' || b == 0x7f || b == b'\\' {
                true => {
                    let hex = b"0123456789abcdef";
                    let (high, low) = (hex[usize::from(b >> 4)], hex[usize::from(b & 15)]);
                    self.put(&[b'\\', b'x', high, low]);
                }
                false => self.put(&[b]),
            }
        }
    }

    fn flush(&mut self) {
        let _ = write_all(stdout(), self.0.bytes());
        self.0.len = 0;
    }

    /// The service named after the directory `dir`: every byte a service
    /// name may not have as `_`, cut so that `NAME-log` is one too.
    fn name(&mut self, dir: &[u8]) {
        for &b in dir.iter().take(59) {
            let ok = b.is_ascii_alphanumeric() || b"_.-".contains(&b);
            self.put(&[if ok { b } else { b'_' }]);
        }
    }

    /// A blank and `word` as `exec` splits it back: in single quotes
    /// unless it is plain (a `'` as `'\''`). It holds no control byte.
    fn word(&mut self, word: &[u8]) {
        let plain = word
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"/._-+,:@%=".contains(&b));
        self.put(if plain { b" " } else { b" '" });
        for &b in word {
            match b {
                b'\'' => self.put(b"'\\''"),
                _ => self.put(&[b]),
            }
        }
        if !plain {
            self.put(b"'");
        }
    }
}

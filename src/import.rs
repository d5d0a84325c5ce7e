//! `vigild import runit|s6|daemontools DIR...`: prints on stdout the
//! configuration of the service directories DIR names (a DIR holding
//! `run`, or an s6-rc source definition holding `up`) or holds (a scan
//! directory, as runsvdir and s6-svscan read it). The three layouts share
//! their files (`run`, `down`, `log/run`, an envdir in `env/`), so one
//! translation serves them all; what it cannot translate becomes a `#`
//! comment naming the file, so that nothing is dropped unsaid.
//!
//! The text is written from templates (`emit`): a binary with a size
//! budget pays for each call far more than for each byte of text.

use crate::sys::Errno;
use crate::sys::args::Args;
use crate::sys::dir::{cwd, each_entry, exists};
use crate::sys::fs::{read_start, stdout, write_all};
use crate::sys::message::say;
use core::ffi::c_int;
use vigild_engine::fixed::{Lossy, word_index};
use vigild_engine::unix::{ErrnoName, parse_signal, parse_u64};

/// The longest path built. A DIR may take half: the names below it (a
/// file, `log/`, a log directory) fit in the rest.
const PATH_MAX: usize = 1024;

/// The output gathered before a write (no other buffer has this size).
const OUT: usize = 8 * 1024;

/// `vigild import ARGS`, the arguments starting at `first`: the exit code.
pub fn main(args: Args, first: usize) -> c_int {
    let kind = args.get(first).unwrap_or_default();
    if word_index("runit s6 daemontools", kind).is_none() || args.get(first + 1).is_none() {
        say!("usage: vigild import runit|s6|daemontools DIR...");
        return 2;
    }
    let c = &mut Import {
        out: Buf::new(),
        found: Buf::new(),
        path: Buf::new(),
        text: Buf::new(),
        name: Buf::new(),
    };
    let mut code = 0;
    for arg in (first + 1..).map_while(|i| args.get(i)) {
        c.path.len = 0;
        let fits = (arg[0] == b'/' || cwd(&mut c.text.buf).is_some_and(|d| c.path.push(d)))
            && c.path.push(arg)
            && c.path.len < PATH_MAX / 2
            && !c.path.bytes().contains(&b'\n');
        let dir = c.path;
        let added = match () {
            _ if !fits => Err(Errno::NAMETOOLONG),
            _ if c.is_service() => {
                c.found.put_line(dir.bytes());
                Ok(())
            }
            _ => each_entry(dir.bytes(), &mut |name| {
                c.path = dir;
                c.path.push(name);
                if name[0] != b'.' && c.is_service() {
                    c.found.put_line(c.path.bytes());
                }
            }),
        };
        // A full list would cut a path.
        let added = added.and(match c.found.len < c.found.buf.len() {
            true => Ok(()),
            false => Err(Errno::NOMEM),
        });
        if let Err(e) = added {
            say!(
                "import: {}: {}",
                Lossy(arg),
                ErrnoName(e.raw_os_error() as u16)
            );
            code = 1;
        }
    }
    let mut at = 0;
    while let Some(end) = c.found.bytes()[at..].iter().position(|&b| b == b'\n') {
        c.path.len = 0;
        c.path.push(&c.found.buf[at..at + end]);
        at += end + 1;
        c.service();
    }
    c.out.flush();
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

/// The lines of the first five of `FILES`: `\x02` is the file's value.
const KEYS: [&[u8]; 5] = [
    b"ready = fd:\x02\n",
    b"stop_timeout = \x02ms\n",
    b"start_timeout = \x02ms\n",
    b"stop_signal = \x02\n",
    b"log = service:\x02\n",
];

const NOT_TRANSLATED: &[u8] = b"# \x01: not translated\n";

/// What one import works with: the output, the service directories
/// found (a path a line), the path at hand, the text of its file, the
/// service's name.
struct Import {
    out: Buf<OUT>,
    found: Buf<{ 16 * 1024 }>,
    path: Buf<PATH_MAX>,
    text: Buf<4096>,
    name: Buf<64>,
}

impl Import {
    /// The path holds `run` or an s6-rc `up` (an s6-rc bundle holds
    /// neither: it is no service).
    fn is_service(&mut self) -> bool {
        self.holds(b"run") || self.holds(b"up")
    }

    fn holds(&mut self, name: &[u8]) -> bool {
        let mut path = self.path;
        path.push(name);
        exists(path.bytes())
    }

    /// Read the file at the path (what fits of it; nothing if it cannot
    /// be read).
    fn read(&mut self) {
        self.text.len = read_start(self.path.bytes(), &mut self.text.buf).unwrap_or(0);
    }

    /// The first line of the file read, without trailing blanks.
    fn value(&self) -> &[u8] {
        first_line(self.text.bytes())
    }

    /// `template` with `\x01` the path, `\x02` the value, `\x03` the
    /// service's name, `\x04` the path as a word of `exec`, `\x05` the
    /// path's last component.
    #[inline(never)]
    fn emit(&mut self, template: &[u8]) {
        for &b in template {
            let path = self.path.bytes();
            match b {
                1 => self.out.put(path),
                2 => self.out.put(first_line(self.text.bytes())),
                3 => self.out.put(self.name.bytes()),
                4 => self.out.word(path),
                5 => self.out.put(last(path)),
                _ => self.out.put(&[b]),
            }
        }
    }

    /// The section(s) of the service directory at the path.
    fn service(&mut self) {
        let dir = self.path;
        self.name.len = 0;
        // The directory's name with every byte a service name may not have
        // as `_`, cut so that `NAME-log` is one too.
        for &b in last(dir.bytes()).iter().take(59) {
            let ok = b.is_ascii_alphanumeric() || b"_.-".contains(&b);
            self.name.put(&[if ok { b } else { b'_' }]);
        }
        self.emit(b"\n[\x03]\ndir = \x01\n");
        // An s6-rc oneshot's `up` is a command line for execlineb.
        let oneshot = !self.holds(b"run");
        self.path.push(if oneshot { b"up" } else { b"run" });
        self.emit(match oneshot {
            true => b"mode = oneshot\nexec = execlineb -P\x04\n",
            false => b"exec =\x04\n",
        });
        let mut logger = false;
        let _ = each_entry(dir.bytes(), &mut |entry| {
            self.path = dir;
            self.path.push(entry);
            self.read();
            let n = parse_u64(self.value());
            let i = word_index(FILES, entry).unwrap_or(99);
            match i {
                _ if entry[0] == b'.' => {}
                0 if matches!(n, Some(1 | 3..=255)) => self.emit(KEYS[0]),
                1 if n.is_some_and(|n| (1..=0xffff_ffff).contains(&n)) => self.emit(KEYS[1]),
                2 if n.is_some_and(|n| n <= 0xffff_ffff) => self.emit(KEYS[2]),
                3 if parse_signal(self.value()).is_some() => self.emit(KEYS[3]),
                4 if self.imported(self.value()) => self.emit(KEYS[4]),
                5 if !oneshot => self.emit(b"autostart = no\n"),
                6 => logger = self.log(),
                7 => self.each_file(Self::env),
                8 => {
                    let text = self.text;
                    for dep in text.bytes().split(u8::is_ascii_whitespace) {
                        self.dep(dep)
                    }
                }
                9 => self.each_file(|c| {
                    let path = c.path;
                    c.dep(last(path.bytes()))
                }),
                10.. if i != 99 => {}
                _ => self.emit(NOT_TRANSLATED),
            }
        });
        if logger {
            self.path = dir;
            self.path.push(b"log");
            self.emit(b"\n[\x03-log]\ndir = \x01\n");
            self.path.push(b"run");
            self.emit(b"exec =\x04\n");
        }
    }

    /// Call `each` with the path at every file of the directory at the
    /// path (but dot-files).
    fn each_file(&mut self, each: fn(&mut Self)) {
        let dir = self.path;
        let _ = each_entry(dir.bytes(), &mut |name| {
            self.path = dir;
            self.path.push(name);
            if name[0] != b'.' {
                each(self)
            }
        });
    }

    /// A service of that name was found.
    fn imported(&self, name: &[u8]) -> bool {
        self.found
            .bytes()
            .split(|&b| b == b'\n')
            .any(|path| last(path) == name)
    }

    /// A dependency named in the file at the path: a line of `after` if it
    /// is imported too.
    fn dep(&mut self, name: &[u8]) {
        if name.is_empty() {
            return;
        }
        let value = core::mem::replace(&mut self.text, Buf::new());
        self.text.put(name);
        match self.imported(name) {
            true => self.emit(b"after = \x02\n"),
            false => self.emit(b"# \x01: \x02 is not imported\n"),
        }
        self.text = value;
    }

    /// An envdir's file at the path: its name is a variable, its first
    /// line (trailing blanks removed) the value. An empty file removes the
    /// variable and a NUL is a newline to envdir: `env` cannot say either.
    fn env(&mut self) {
        self.read();
        let var = last(self.path.bytes());
        let value = self.value();
        // A blank then `#` would start a comment in the configuration.
        let writable = var[0] > b'9'
            && var.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
            && (1..self.text.buf.len()).contains(&self.text.len)
            && !value.contains(&0)
            && !value.windows(2).any(|w| w[0] <= b' ' && w[1] == b'#');
        self.emit(match writable {
            true => b"env = \x05=\x02\n",
            false => NOT_TRANSLATED,
        });
    }

    /// The logger `log/` at the path: vigil-log's `log` line when its
    /// `run` is one command, `svlogd`, `s6-log` or `multilog` on one
    /// directory (`/…` or `./…`) with only options vigil-log has, else
    /// `log = service:NAME-log` and true: that service runs the script.
    fn log(&mut self) -> bool {
        self.path.push(b"run");
        self.read();
        let mut to = self.path;
        to.len -= 4;
        let text = self.text.bytes();
        let (mut cmd, mut lines) = (&b""[..], 0);
        for line in text.split(|&b| b == b'\n').map(<[u8]>::trim_ascii) {
            if !line.is_empty() && line[0] != b'#' {
                (cmd, lines) = (line, lines + 1);
            }
        }
        // No shell syntax: what the words mean is plain.
        let mut ok = lines == 1
            && self.text.len < self.text.buf.len()
            && !cmd.iter().any(|b| b"'\"\\$;&|<>`(){}*?~".contains(b));
        let (mut size, mut keep, mut tai64n) = (&b""[..], &b""[..], false);
        let (mut program, mut dir) = (None, None);
        for word in cmd.split(u8::is_ascii_whitespace).filter(|w| !w.is_empty()) {
            let value = &word[1..];
            match (word, parse_u64(value)) {
                (b"exec", _) if program.is_none() => {}
                _ if program.is_none() => program = Some(last(word)),
                (b"-t" | b"t", _) => tai64n = true,
                (b"-tt" | b"-ttt" | b"T", _) => {}
                ([b's', ..], Some(4096..)) => size = value,
                ([b'n', ..], Some(0..=1000)) => keep = value,
                ([b'/' | b'.', ..], _) if dir.is_none() => dir = Some(word),
                _ => ok = false,
            }
        }
        if dir.is_some_and(|d| d[0] == b'/') {
            to.len = 0;
        }
        if !ok
            || program.is_none_or(|p| word_index("svlogd s6-log multilog", p).is_none())
            || !dir.is_some_and(|d| to.push(d) && to.len < PATH_MAX - 8)
        {
            if text.is_empty() {
                self.emit(NOT_TRANSLATED);
                return false;
            }
            self.emit(b"log = service:\x03-log\n");
            return true;
        }
        let out = &mut self.out;
        out.put(b"log =");
        for (option, value) in [(&b" -s "[..], size), (b" -n ", keep)] {
            if !value.is_empty() {
                out.put(option);
                out.put(value);
            }
        }
        if tai64n {
            out.put(b" -t tai64n");
        }
        out.word(to.bytes());
        out.put(b"\n");
        // svlogd's own settings, which vigil-log does not read.
        self.path = to;
        if self.holds(b"config") {
            self.path.push(b"config");
            self.emit(NOT_TRANSLATED);
        }
        false
    }
}

/// The first line of `text`, without trailing blanks.
fn first_line(text: &[u8]) -> &[u8] {
    text.split(|&b| b == b'\n')
        .next()
        .unwrap_or(text)
        .trim_ascii_end()
}

/// The last component of `path`.
fn last(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or_default()
}

/// Bytes gathered: the output (written to stdout when full), a path, a
/// file's text.
#[derive(Clone, Copy)]
struct Buf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Buf<N> {
    fn new() -> Self {
        Buf {
            buf: [0; N],
            len: 0,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Append `bytes` (what does not fit is cut, but in the output, which
    /// is written out when full).
    fn put(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.len == N {
                self.flush();
            }
            if let Some(at) = self.buf.get_mut(self.len) {
                *at = b;
                self.len += 1;
            }
        }
    }

    fn put_line(&mut self, bytes: &[u8]) {
        self.put(bytes);
        self.put(b"\n");
    }

    /// A blank and `word` as `exec` splits it back: in single quotes
    /// unless it is plain (a `'` as `'\''`, a newline as `?`).
    fn word(&mut self, word: &[u8]) {
        let plain = word
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"/._-+,:@%=".contains(&b));
        self.put(if plain { b" " } else { b" '" });
        for &b in word {
            match b {
                b'\'' => self.put(b"'\\''"),
                b'\n' => self.put(b"?"),
                _ => self.put(&[b]),
            }
        }
        if !plain {
            self.put(b"'");
        }
    }

    /// Write the output to stdout.
    fn flush(&mut self) {
        if N == OUT {
            let _ = write_all(stdout(), self.bytes());
            self.len = 0;
        }
    }

    /// Append `/` and `rel`, dropping `.` and empty components, `..` going
    /// up; false if it does not fit.
    fn push(&mut self, rel: &[u8]) -> bool {
        for part in rel.split(|&b| b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => self.len = self.bytes().iter().rposition(|&b| b == b'/').unwrap_or(0),
                _ if self.len + part.len() >= N => return false,
                _ => {
                    self.put(b"/");
                    self.put(part);
                }
            }
        }
        true
    }
}

//! `vigilctl` (also `vigild ctl`): writes one control line with a reply FIFO
//! of its own, prints the result lines, and exits as vigilctl(8) says: 0
//! success, 4 a failure result, 3 no vigild on that run directory, 2
//! usage; or reads the status file (`status`, `list`: `show`).

use crate::sys::fs::{stderr, stdout, write_all};
use crate::sys::run_dir::{mkfifo, open_fifo_read, open_fifo_write, unlink};
use crate::sys::signal::Signals;
use crate::sys::{Errno, args::Args, clock, process};
use core::ffi::c_int;
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, CWD};
use vigild_engine::config::parse_duration;
use vigild_engine::control::{Verb, exit_code_of_reply};
use vigild_engine::fixed::{copy_cut, hex_digit, move_to_start, word_index};
use vigild_engine::limits::RUN_DIR_MAX;
use vigild_engine::time::Instant;
use vigild_engine::unix::errno_name;

mod show;

/// `-h`: its first line is the usage line of a usage error.
const HELP: &str = "\
usage: vigilctl [-r DIR] start|stop|restart|signal|reload|shutdown|poweroff|reboot|halt|log|monitor|reexec|switch_root|list|status|wait ...
 start|stop|restart NAME...     act, print the results
 signal NAME SIG                send SIG (HUP, 15, SIGUSR1)
 reload                         read the configuration again
 shutdown|poweroff|reboot|halt  stop all; as PID 1 end the machine so
 log NAME                       print NAME's ring
 monitor                        print each state change
 reexec [PATH]                  replace vigild's program, every service kept
 switch_root NEWROOT [INIT...]  PID 1 of an initramfs: into the real root
 list [--json]                  a table of every service
 status [--raw] [NAME...]       runit's sv status lines (--raw: the status file's)
 status [--json] NAME           every field, the last 10 lines of output
 wait up|down NAME [TIMEOUT]    until NAME is up (or listening) or down
 -r DIR         run directory (default $VIGILD_RUN_DIR, else /run/vigild)
 -h, --help     this help
 -V, --version  the version
exit: 0 done, 1 error, 2 usage, 3 no vigild on DIR, 4 request failed, 128+N signal N
";

/// The length of `HELP`'s first line, with its newline.
const USAGE: usize = {
    let mut n = 0;
    while HELP.as_bytes()[n] != b'\n' {
        n += 1;
    }
    n + 1
};

/// The longest control line vigild reads.
const LINE_MAX: usize = 640;

/// `vigilctl ARGS`, the arguments starting at `first`: the exit code.
pub fn main(args: Args, first: usize) -> c_int {
    let mut i = first;
    let (mut dir, mut from): (&[u8], &[u8]) = match crate::sys::args::getenv(b"VIGILD_RUN_DIR") {
        Some(d) if !d.is_empty() => (d, b"VIGILD_RUN_DIR"),
        _ => (b"/run/vigild", b""),
    };
    loop {
        let text = match word_index("-h --help -V --version -r", args.get(i).unwrap_or_default()) {
            Some(0 | 1) => HELP,
            Some(2 | 3) => concat!("vigilctl ", env!("CARGO_PKG_VERSION"), "\n"),
            Some(_) => match args.get(i + 1) {
                Some(d) => {
                    (dir, from) = (d, b"-r");
                    i += 2;
                    continue;
                }
                None => return usage_because(&[b"-r needs a directory"]),
            },
            None => break,
        };
        return write_all(stdout(), text.as_bytes()).is_err().into();
    }
    // The reply FIFO's path goes to vigild, whose working directory is not
    // ours: it must be absolute (as for vigild's own -r).
    if !dir.starts_with(b"/") {
        return usage_because(&[from, b" needs an absolute path"]);
    }
    // As vigild refuses it: a control line with a reply FIFO in it must fit.
    const _: () = assert!(RUN_DIR_MAX == 400);
    if dir.len() > RUN_DIR_MAX {
        let too_long = b": the run directory's path is too long (at most 400 bytes)";
        return say(&[dir, too_long], 2);
    }
    let Some(cmd) = args.get(i) else {
        return usage_because(&[b"no command given"]);
    };
    let word = |k: usize| args.get(i + 1 + k).unwrap_or_default();
    let count = (i + 1..).take_while(|&k| args.get(k).is_some()).count();
    let Some(verb) = Verb::from_word(cmd) else {
        return match (word_index("status list wait", cmd), count) {
            (Some(k @ (0 | 1)), _) => show::show(dir, args, i + 1, count, k == 1),
            (Some(2), 2 | 3) => wait(dir, word(0), word(1), args.get(i + 3)),
            (Some(_), _) => usage_because(&[cmd, b": wrong arguments"]),
            (None, _) if cmd.starts_with(b"-") => usage_because(&[b"unknown option: ", cmd]),
            (None, _) => usage_because(&[b"unknown command: ", cmd]),
        };
    };
    // Words each request takes: a name each for start, stop and restart;
    // paths and arguments, all of them one request.
    let per = match verb.paths() {
        Some(fewest) if (fewest..=verb.takes()).contains(&count) => count,
        Some(_) => usize::MAX,
        None => verb.takes(),
    };
    if count != per && (per != 1 || count == 0 || verb == Verb::Log) {
        return usage_because(&[cmd, b": wrong arguments"]);
    }
    // As vigild would refuse it: PATH, NEWROOT and INIT are absolute.
    if verb.paths().is_some() && (0..count.min(2)).any(|k| !word(k).starts_with(b"/")) {
        return usage_because(&[cmd, b": needs an absolute path"]);
    }
    let fifo = match control(dir) {
        Ok(fd) => fd,
        Err(code) => return code,
    };
    if verb == Verb::Log {
        return fetch_ring(&fifo, dir, word(0), true, &mut |bytes| {
            let _ = write_all(stdout(), bytes);
        });
    }
    let (mut worst, mut at) = (0, 0);
    loop {
        let mut line = Out::new(None);
        line.push(cmd);
        for k in at..at + per {
            line.push(b" ");
            line.lossy(word(k));
        }
        let code = request(&fifo, dir, &mut line, verb == Verb::Monitor);
        if code == 3 || code > 128 {
            return code;
        }
        worst = worst.max(code);
        at += per;
        if at >= count {
            return worst;
        }
    }
}

/// What was wrong, then the usage line: exit 2.
fn usage_because(why: &[&[u8]]) -> c_int {
    say(why, 2);
    let _ = write_all(stderr(), &HELP.as_bytes()[..USAGE]);
    2
}

/// `vigilctl: ` and `parts` (shown as `Out::lossy` does) as one line on
/// stderr; `code`, to return.
#[inline(never)]
fn say(parts: &[&[u8]], code: c_int) -> c_int {
    let mut out = Out::new(Some(stderr()));
    out.push(b"vigilctl: ");
    for part in parts {
        out.lossy(part);
    }
    out.push(b"\n");
    out.flush();
    code
}

/// `path: ENAME` (a path that could not be made or read): exit 1.
fn say_errno(path: &[u8], e: Errno) -> c_int {
    let n = e.raw_os_error() as u16;
    let mut name = Out::new(None);
    match errno_name(n).filter(|_| e != Errno::ACCESS) {
        Some(known) => name.push(known.as_bytes()),
        None if e == Errno::ACCESS => name.push(b"permission denied"),
        None => {
            name.push(b"E");
            name.num(n.into());
        }
    }
    say(&[path, b": ", name.bytes()], 1)
}

/// The control FIFO, for a request: whether a vigild reads it (opening a
/// FIFO for writing without blocking works only when it has a reader),
/// and whether we may write it.
fn control(dir: &[u8]) -> Result<OwnedFd, c_int> {
    probe(dir)?.ok_or_else(|| say(&[dir, b"/control: permission denied"], 1))
}

/// The control FIFO if we may write it (`None`: we may not, which leaves
/// the status file to read); `Err` if no vigild reads it.
fn probe(dir: &[u8]) -> Result<Option<OwnedFd>, c_int> {
    match open_fifo_write(Out::path(dir, b"control").bytes()) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ACCESS) => Ok(None),
        Err(_) => Err(say(&[b"vigild is not running on ", dir], 3)),
    }
}

/// Send one control line (`line`, a reply FIFO added); print every result
/// line. `stream` (monitor): print until vigild closes, exit 0.
fn request(fifo: &OwnedFd, dir: &[u8], line: &mut Out, stream: bool) -> c_int {
    // The last result line decides the exit code.
    let (mut last, mut len) = ([0u8; 32], 0);
    let mut out = Out::new(Some(stdout()));
    let asked = ask(fifo, dir, line, None, &mut |line| {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        // vigild's words, escaped as every byte read from a file is.
        out.lossy(line);
        out.push(b"\n");
        len = copy_cut(&mut last, line);
        // A reader that went away (`monitor | head`) ends the request.
        out.flush() != 0
    });
    match asked {
        Err(code) => code,
        Ok(()) if stream => 0,
        Ok(()) => exit_code_of_reply(&last[..len.min(32)]).into(),
    }
}

/// `log NAME`: the ring's bytes as they are (after vigild's `log NAME
/// BYTES` line) to `sink`, or the result line that says why not on stderr
/// if `report` (exit 4).
fn fetch_ring(
    fifo: &OwnedFd,
    dir: &[u8],
    name: &[u8],
    report: bool,
    sink: &mut dyn FnMut(&[u8]),
) -> c_int {
    let mut line = Out::new(None);
    line.push(b"log ");
    line.lossy(name);
    let mut code = None;
    let asked = ask(fifo, dir, &mut line, None, &mut |bytes| {
        match code {
            None => code = Some(if bytes.starts_with(b"log ") { 0 } else { 4 }),
            Some(0) => sink(bytes),
            Some(_) => {}
        }
        if code != Some(0) && report {
            let _ = write_all(stderr(), bytes);
        }
        false
    });
    asked.map_or_else(|code| code, |()| code.unwrap_or(4))
}

/// Write `line reply=FIFO` to the control FIFO, with a reply FIFO of our
/// own in the run directory (removed afterwards, also when INT, TERM, HUP
/// or PIPE come: they are blocked meanwhile), and give `each` the answer's
/// lines (with their newlines) until it returns true or vigild closes the
/// FIFO. Waits until `deadline`, if any (then `Err(4)`); without one, at
/// most 10 seconds for the first line. `Err`: the exit code.
fn ask(
    fifo: &OwnedFd,
    dir: &[u8],
    line: &mut Out,
    deadline: Option<Instant>,
    each: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<(), c_int> {
    let mut reply = Out::path(dir, b"reply.");
    reply.num(u64::from(process::getpid() as u32));
    let reply = reply.bytes();
    // Before the FIFO exists: a signal that ends us removes it first.
    // SIGPIPE too: a reader of our output that went away (`monitor |
    // head -1`) fails the write instead, and we leave as if it had come.
    let signals = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE];
    let Ok(signals) = Signals::block(&signals) else {
        return Err(1);
    };
    unlink(reply);
    if let Err(e) = mkfifo(reply) {
        return Err(say_errno(reply, e));
    }
    line.push(b" reply=");
    line.push(reply);
    line.push(b"\n");
    let result = match open_fifo_read(reply) {
        Err(_) => Err(1),
        Ok(_) if line.count > LINE_MAX => Err(say(&[b"request too long"], 2)),
        // One write of at most PIPE_BUF bytes: it reaches vigild whole.
        Ok(_) if write_all(fifo.as_fd(), line.bytes()).is_err() => {
            Err(say(&[b"unable to write the control FIFO"], 3))
        }
        Ok(fd) => read_reply(fd.as_fd(), signals.fd(), deadline, each),
    };
    unlink(reply);
    // Ended by a signal: as a shell reports a process it killed.
    match signals.drain().next() {
        Some(sig) => Err(128 + sig),
        None => result,
    }
}

/// `ask`'s reading: the lines of `reply` to `each` (a line longer than
/// the buffer in pieces, a last one without its newline as it is).
fn read_reply(
    reply: BorrowedFd<'_>,
    signals: BorrowedFd<'_>,
    deadline: Option<Instant>,
    each: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<(), c_int> {
    let mut buf = [0u8; 4096];
    let mut len = 0;
    // vigild answers at once; a silence this long means it is stuck.
    let mut first = Some(clock::now().plus_ms(10_000));
    loop {
        let ms = deadline.or(first).map(|d| d.ms_since(clock::now()));
        let mut fds = [
            PollFd::from_borrowed_fd(reply, PollFlags::IN),
            PollFd::from_borrowed_fd(signals, PollFlags::IN),
        ];
        let polled = poll(&mut fds, ms.map(clock::timespec).as_ref());
        if ms == Some(0) || polled == Ok(0) {
            return Err(match deadline {
                Some(_) => 4,
                None => say(&[b"no answer from vigild"], 1),
            });
        }
        // A signal (`ask` says which), or poll failed.
        if !fds[1].revents().is_empty() || polled.is_err_and(|e| e != Errno::INTR) {
            return Err(1);
        }
        let n = match rustix::io::read(reply, &mut buf[len..]) {
            Ok(0) => {
                if len > 0 {
                    each(&buf[..len]);
                }
                return Ok(());
            }
            Ok(n) => n,
            Err(Errno::AGAIN | Errno::INTR) => continue,
            Err(_) => return Err(1),
        };
        first = None;
        len += n;
        let mut start = 0;
        while let Some(nl) = buf[start..len].iter().position(|&b| b == b'\n') {
            if each(&buf[start..=start + nl]) {
                return Ok(());
            }
            start += nl + 1;
        }
        if len == buf.len() && start == 0 {
            each(&buf);
            start = len;
        }
        move_to_start(&mut buf, start, len);
        len -= start;
    }
}

/// `wait up|down NAME [TIMEOUT]`: follow `monitor` until NAME is in that
/// state (`listening` counts as up).
fn wait(dir: &[u8], target: &[u8], name: &[u8], timeout: Option<&[u8]>) -> c_int {
    if target != b"up" && target != b"down" {
        return usage_because(&[b"wait up or wait down"]);
    }
    let deadline = match timeout.map(parse_duration) {
        Some(None) => return usage_because(&[b"wait: not a duration (500ms, 10s, 2m)"]),
        Some(Some(ms)) => Some(clock::now().plus_ms(u64::from(ms))),
        None => None,
    };
    // A vigild that is starting (`vigild -f &` just before) may have no
    // reader on its FIFO, nor a status file, yet: with a TIMEOUT, both
    // are waited for (looked at every 50 ms) until it passes.
    let started = || {
        let (control, status) = (Out::path(dir, b"control"), Out::path(dir, b"status"));
        open_fifo_write(control.bytes()).is_ok()
            && crate::sys::at::statat(CWD, status.bytes(), AtFlags::empty()).is_ok()
    };
    while deadline.is_some_and(|d| d.ms_since(clock::now()) > 0) && !started() {
        let _ = poll(&mut [], Some(&clock::timespec(50)));
    }
    let fifo = match control(dir) {
        Ok(fd) => fd,
        Err(code) => return code,
    };
    if let Err(code) = show::known(dir, name) {
        return code;
    }
    let mut line = Out::new(None);
    line.push(b"monitor");
    let mut reached = false;
    let asked = ask(&fifo, dir, &mut line, deadline, &mut |line| {
        // `NAME: STATE (pid N)` at first, then `NAME: FROM -> TO (...)`.
        let Some(rest) = line.strip_prefix(name).and_then(|r| r.strip_prefix(b": ")) else {
            return false;
        };
        let state = match rest.windows(4).position(|w| w == b" -> ") {
            Some(at) => &rest[at + 4..],
            None => rest,
        };
        let state = state.split(|&b| b == b' ' || b == b'\n').next();
        // A socket service that listens is up as far as its users go (as
        // `start` answers).
        reached = state == Some(target) || (target == b"up" && state == Some(b"listening"));
        reached
    });
    match (reached, asked) {
        (true, _) => 0,
        (false, Err(4)) => say(&[name, b": not ", target, b" after the timeout"], 4),
        (false, Err(code)) => code,
        // vigild went away.
        (false, Ok(())) => 1,
    }
}

/// The one buffered writer of vigilctl: standard output or error (a
/// table or an object is a few writes, not one per field), or, without an
/// fd, a path, a control line, a measure or the last bytes of a stream.
pub struct Out {
    buf: [u8; 4096],
    len: usize,
    /// Bytes pushed in all (a cell is measured by what it added; more
    /// than `len` without an fd: the first bytes were dropped).
    count: usize,
    fd: Option<BorrowedFd<'static>>,
    failed: bool,
}

impl Out {
    #[inline(never)]
    fn new(fd: Option<BorrowedFd<'static>>) -> Out {
        Out {
            buf: [0; 4096],
            len: 0,
            count: 0,
            fd,
            failed: false,
        }
    }

    /// `dir/name`, a path in the run directory.
    fn path(dir: &[u8], name: &[u8]) -> Out {
        let mut p = Out::new(None);
        p.push(dir);
        p.push(b"/");
        p.push(name);
        p
    }

    /// What is held.
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    #[inline(never)] // called for every piece: one copy
    fn push(&mut self, bytes: &[u8]) {
        self.count += bytes.len();
        for &b in bytes {
            if self.len == self.buf.len() {
                match self.fd {
                    Some(_) => {
                        self.flush();
                    }
                    // Keep the last 3 KiB.
                    None => {
                        move_to_start(&mut self.buf, 1024, 4096);
                        self.len -= 1024;
                    }
                }
            }
            self.buf[self.len % 4096] = b;
            self.len += 1;
        }
    }

    /// `bytes` as `fixed::Lossy` shows them (nothing of a file reaches a
    /// terminal raw): printable ASCII as it is, other bytes as `\xHH`.
    #[inline(never)]
    fn lossy(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b' '..=b'~' => self.push(&[b]),
                _ => self.push(&[b'\\', b'x', hex_digit((b >> 4).into()), hex_digit(b.into())]),
            }
        }
    }

    /// A number in decimal.
    #[inline(never)]
    fn num(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        while at > 0 {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[at..]);
    }

    /// Write what is held; the exit code (1 if a write failed).
    #[inline(never)]
    fn flush(&mut self) -> c_int {
        if let Some(fd) = self.fd {
            self.failed |= write_all(fd, &self.buf[..self.len]).is_err();
        }
        self.len = 0;
        self.failed.into()
    }
}

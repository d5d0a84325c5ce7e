//! `vigilctl` (also `vigild ctl`): writes one control line with a reply FIFO
//! of its own, prints the result lines, and exits as vigilctl(8) says: 0
//! success, 4 a failure result, 3 no vigild on that run directory, 2
//! usage; or reads the status file (`status`, `list`: `list`).

use crate::sys::fs::{open_read, stdout, write_all};
use crate::sys::run_dir::{mkfifo, open_fifo_read, open_fifo_write, unlink};
use crate::sys::signal::Signals;
use crate::sys::{Errno, args::Args, clock, process};
use core::ffi::c_int;
use core::fmt::Write;
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fd::{AsFd, OwnedFd};
use vigild_engine::config::parse_duration;
use vigild_engine::control::Verb;
use vigild_engine::fixed::{Lossy, SliceWriter};
use vigild_engine::status::{Fields, write_sv};
use vigild_engine::time::Instant;
use vigild_engine::unix::ErrnoName;

/// `-h`: its first line is the usage line of a usage error.
const HELP: &str = "\
usage: vigilctl [-r DIR] start|stop|restart|signal|reload|shutdown|poweroff|reboot|halt|list|status|wait|monitor|log ...
 start|stop|restart NAME...   act, print the results
 signal NAME SIG              send SIG (HUP, 15, SIGUSR1)
 reload                       read the configuration again
 shutdown|poweroff|reboot|halt  stop all; as PID 1 end the machine so
 list [--json]                every service: NAME STATE PID UPTIME RESTARTS LAST REASON READY
 status [--raw] [NAME...]     runit's sv status lines (--raw: the status file's)
 status [--json] NAME         every field, the last 10 lines of output
 wait up|down NAME [TIMEOUT]  until NAME is up (or listening) or down
 monitor                      print each state change
 log NAME                     print NAME's ring
 -r DIR         run directory (default $VIGILD_RUN_DIR, else /run/vigild)
 -h, --help     this help
 -V, --version  the version
exit: 0 done, 1 error, 2 usage, 3 no vigild on DIR, 4 request failed, 128+N signal N
";

macro_rules! say {
    ($($arg:tt)*) => { $crate::sys::message::line("vigilctl", format_args!($($arg)*)) };
}

// After `say!`, which they use.
mod json;
mod list;

/// `vigilctl ARGS`, the arguments starting at `first`: the exit code.
pub fn main(args: Args, first: usize) -> c_int {
    let mut i = first;
    let mut dir: &[u8] = match crate::sys::args::getenv(b"VIGILD_RUN_DIR") {
        Some(d) if !d.is_empty() => d,
        _ => b"/run/vigild",
    };
    loop {
        match args.get(i) {
            Some(b"-h" | b"--help") => {
                let _ = write_all(stdout(), HELP.as_bytes());
                return 0;
            }
            Some(b"-V" | b"--version") => {
                let version = concat!("vigilctl ", env!("CARGO_PKG_VERSION"), "\n");
                let _ = write_all(stdout(), version.as_bytes());
                return 0;
            }
            Some(b"-r") => match args.get(i + 1) {
                Some(d) => dir = d,
                None => return usage(),
            },
            _ => break,
        }
        i += 2;
    }
    // The reply FIFO's path goes to vigild, whose working directory is not
    // ours: it must be absolute (as for vigild's own -r).
    if !dir.starts_with(b"/") {
        say!("-r needs an absolute path");
        return 2;
    }
    // As vigild refuses it: a control line with a reply FIFO in it must fit.
    if dir.len() > vigild_engine::limits::RUN_DIR_MAX {
        let max = vigild_engine::limits::RUN_DIR_MAX;
        say!(
            "{}: the run directory's path is too long (at most {max} bytes)",
            Lossy(dir)
        );
        return 2;
    }
    let Some(cmd) = args.get(i) else {
        return usage();
    };
    let rest = |k: usize| args.get(i + 1 + k);
    let count = (i + 1..).take_while(|&k| args.get(k).is_some()).count();
    match (Verb::from_word(cmd), count) {
        (Some(Verb::Start | Verb::Stop | Verb::Restart), 1..) => {
            if let Err(code) = control(dir) {
                return code;
            }
            let mut worst = 0;
            for k in 0..count {
                let name = rest(k).unwrap_or(b"");
                let code = request(dir, format_args!("{} {}", Lossy(cmd), Lossy(name)), false);
                if code == 3 || code > 128 {
                    return code;
                }
                worst = worst.max(code);
            }
            worst
        }
        (Some(Verb::Signal), 2) => {
            let (name, sig) = (rest(0).unwrap_or(b""), rest(1).unwrap_or(b""));
            request(
                dir,
                format_args!("signal {} {}", Lossy(name), Lossy(sig)),
                false,
            )
        }
        (Some(Verb::Reload | Verb::Shutdown | Verb::Poweroff | Verb::Reboot | Verb::Halt), 0) => {
            request(dir, format_args!("{}", Lossy(cmd)), false)
        }
        (Some(Verb::Log), 1) => match control(dir) {
            Ok(fifo) => fetch_ring(&fifo, dir, rest(0).unwrap_or(b""), &mut |bytes| {
                let _ = write_all(stdout(), bytes);
            }),
            Err(code) => code,
        },
        (Some(Verb::Monitor), 0) => request(dir, format_args!("monitor"), true),
        (None, _) if cmd == b"status" => status(dir, args, i + 1, count),
        (None, 0) if cmd == b"list" => list::list(dir, false),
        (None, 1) if cmd == b"list" && rest(0) == Some(b"--json") => list::list(dir, true),
        (None, 2 | 3) if cmd == b"wait" => {
            wait(dir, rest(0).unwrap_or(b""), rest(1).unwrap_or(b""), rest(2))
        }
        _ => usage(),
    }
}

fn usage() -> c_int {
    let _ = write_all(
        crate::sys::fs::stderr(),
        HELP.split('\n').next().unwrap_or_default().as_bytes(),
    );
    let _ = write_all(crate::sys::fs::stderr(), b"\n");
    2
}

/// The control FIFO, for a request: whether a vigild reads it (opening a
/// FIFO for writing without blocking works only when it has a reader),
/// and whether we may write it.
fn control(dir: &[u8]) -> Result<OwnedFd, c_int> {
    probe(dir)?.ok_or_else(|| {
        say!("{}/control: permission denied", Lossy(dir));
        1
    })
}

/// The control FIFO if we may write it (`None`: we may not, which leaves
/// the status file to read); `Err` if no vigild reads it.
fn probe(dir: &[u8]) -> Result<Option<OwnedFd>, c_int> {
    let path = PathBuf::join(dir, format_args!("control")).ok_or(2)?;
    match open_fifo_write(path.bytes()) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ACCESS) => Ok(None),
        Err(_) => {
            say!("vigild is not running on {}", Lossy(dir));
            Err(3)
        }
    }
}

/// Send one control line with a reply FIFO; print every result line.
/// `stream` (monitor): print until vigild closes, exit 0.
fn request(dir: &[u8], line: core::fmt::Arguments<'_>, stream: bool) -> c_int {
    let fifo = match control(dir) {
        Ok(fd) => fd,
        Err(code) => return code,
    };
    ask(&fifo, dir, line, &mut |answers| {
        let mut last = Last::default();
        // vigild answers at once; a silence this long means it is stuck.
        let first = Some(clock::now().plus_ms(10_000));
        let code = read_lines(answers, first, None, &mut |line| {
            let _ = write_all(stdout(), line);
            let _ = write_all(stdout(), b"\n");
            last.note(line);
            false
        });
        match code {
            Err(Errno::TIMEDOUT) => {
                say!("no answer from vigild");
                1
            }
            _ if stream => 0,
            _ => last.code(),
        }
    })
}

/// `log NAME`: the ring's bytes as they are (after vigild's `log NAME
/// BYTES` line) to `sink`, or the result line that says why not on stderr
/// (exit 4).
fn fetch_ring(fifo: &OwnedFd, dir: &[u8], name: &[u8], sink: &mut dyn FnMut(&[u8])) -> c_int {
    ask(
        fifo,
        dir,
        format_args!("log {}", Lossy(name)),
        &mut |answers| {
            let mut buf = [0u8; 4096];
            let (mut header, mut code) = (true, 4);
            // vigild answers at once; a silence this long means it is stuck.
            let mut wait = Some(10_000);
            loop {
                match answers.wait(wait) {
                    Err(Errno::TIMEDOUT) => {
                        say!("no answer from vigild");
                        return 1;
                    }
                    Err(_) => return 1,
                    Ok(()) => wait = None,
                }
                let n = match rustix::io::read(&answers.fd, &mut buf) {
                    Ok(0) => return code,
                    Ok(n) => n,
                    Err(Errno::INTR | Errno::AGAIN) => continue,
                    Err(_) => return 1,
                };
                let mut bytes = &buf[..n];
                if header {
                    header = false;
                    let line_end = bytes.iter().position(|&b| b == b'\n').map_or(n, |p| p + 1);
                    if bytes.starts_with(b"log ") {
                        code = 0;
                        bytes = &bytes[line_end..];
                    }
                }
                match code {
                    0 => sink(bytes),
                    _ => {
                        let _ = write_all(crate::sys::fs::stderr(), bytes);
                    }
                }
            }
        },
    )
}

/// vigilctl's end of its reply FIFO, and the signals that end the wait
/// for it (INT, TERM, HUP: blocked, so that the FIFO is removed first).
struct Reply<'a> {
    fd: OwnedFd,
    signals: &'a Signals,
}

impl Reply<'_> {
    /// Wait until the reply can be read (or its writer closed it), for at
    /// most `ms`: `TIMEDOUT`, or `CANCELED` when a signal came.
    fn wait(&self, ms: Option<u64>) -> Result<(), Errno> {
        let mut fds = [
            PollFd::new(&self.fd, PollFlags::IN),
            PollFd::from_borrowed_fd(self.signals.fd(), PollFlags::IN),
        ];
        match poll(&mut fds, ms.map(clock::timespec).as_ref()) {
            Ok(0) => Err(Errno::TIMEDOUT),
            _ if !fds[1].revents().is_empty() => Err(Errno::CANCELED),
            Ok(_) | Err(Errno::INTR) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Write `line reply=FIFO` to the control FIFO, with a reply FIFO of our
/// own in the run directory, and let `answers` read the results; the reply
/// FIFO is removed afterwards. The exit code.
fn ask(
    fifo: &OwnedFd,
    dir: &[u8],
    line: core::fmt::Arguments<'_>,
    answers: &mut dyn FnMut(&Reply<'_>) -> c_int,
) -> c_int {
    let Some(reply) = PathBuf::join(dir, format_args!("reply.{}", process::getpid() as u32)) else {
        return 2;
    };
    // Before the FIFO exists: a signal that ends us removes it first.
    let Ok(signals) = Signals::block(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP]) else {
        return 1;
    };
    unlink(reply.bytes());
    if let Err(e) = mkfifo(reply.bytes()) {
        say!(
            "unable to create {}: {}",
            Lossy(reply.bytes()),
            ErrnoName(e.raw_os_error() as u16)
        );
        return 1;
    }
    let mut code = match open_fifo_read(reply.bytes()) {
        Ok(fd) => {
            let mut text = [0u8; 640];
            let mut w = SliceWriter::new(&mut text);
            if w.write_fmt(format_args!("{line} reply=")).is_err()
                || w.push(reply.bytes()).is_err()
                || w.push(b"\n").is_err()
            {
                say!("request too long");
                2
            } else if write_all(fifo.as_fd(), w.bytes()).is_err() {
                // One write of at most PIPE_BUF bytes: it reaches vigild whole.
                say!("unable to write the control FIFO");
                3
            } else {
                answers(&Reply {
                    fd,
                    signals: &signals,
                })
            }
        }
        Err(_) => 1,
    };
    unlink(reply.bytes());
    // Ended by a signal: as a shell reports a process it killed.
    if let Some(sig) = signals.drain().next() {
        code = 128 + sig;
    }
    code
}

/// The last result line, which decides the exit code
/// (`control::exit_code_of_reply`).
#[derive(Default)]
struct Last {
    line: [u8; 32],
    len: usize,
}

impl Last {
    fn note(&mut self, line: &[u8]) {
        self.len = vigild_engine::fixed::copy_cut(&mut self.line, line);
    }

    fn code(&self) -> c_int {
        let line = self.line.get(..self.len).unwrap_or_default();
        vigild_engine::control::exit_code_of_reply(line).into()
    }
}

/// Read lines from a reply FIFO until the writer closes it (`Ok`), `each`
/// returns true (`Ok`), or a deadline passes (`TIMEDOUT`): `first` bounds
/// the wait for the first line, `all` the whole exchange.
fn read_lines(
    reply: &Reply<'_>,
    first: Option<Instant>,
    all: Option<Instant>,
    each: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<(), Errno> {
    let mut buf = [0u8; 4096];
    let mut len = 0;
    let mut got_any = false;
    loop {
        let deadline = if got_any {
            all
        } else {
            first.min(all).or(first).or(all)
        };
        match deadline.map(|d| d.ms_since(clock::now())) {
            Some(0) => return Err(Errno::TIMEDOUT),
            ms => reply.wait(ms)?,
        }
        match rustix::io::read(&reply.fd, &mut buf[len..]) {
            Ok(0) => return Ok(()),
            Ok(n) => len += n,
            Err(Errno::AGAIN | Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
        got_any = true;
        while let Some(nl) = buf[..len].iter().position(|&b| b == b'\n') {
            if each(&buf[..nl]) {
                return Ok(());
            }
            buf.copy_within(nl + 1..len, 0);
            len -= nl + 1;
        }
        if len == buf.len() {
            len = 0; // a line longer than any vigild writes: drop it
        }
    }
}

/// `status [--raw|--json] [NAME...]`: one runit line each, in the order
/// named (all services without a name); one service in detail
/// (`list::show_one`). `count` words from `at`.
#[inline(never)]
fn status(dir: &[u8], args: Args, mut at: usize, mut count: usize) -> c_int {
    let flag = args.get(at).filter(|w| w.starts_with(b"--"));
    let raw = flag == Some(b"--raw");
    if flag.is_some() {
        at += 1;
        count -= 1;
    }
    match (flag, count) {
        (None | Some(b"--json"), 1) => {}
        (Some(b"--json"), _) => return usage(),
        (Some(f), _) if f != b"--raw" => return usage(),
        _ => {}
    }
    // Without vigild the file is stale; without leave to write the
    // control FIFO it is still ours to read.
    let control = match probe(dir) {
        Ok(control) => control,
        Err(code) => return code,
    };
    if count == 1 && !raw {
        let name = args.get(at).unwrap_or_default();
        return list::show_one(dir, control.as_ref(), name, flag.is_some());
    }
    let now = clock::wall_ms();
    let mut code = 0;
    let mut out = Out::new();
    loop {
        let name = args.get(at);
        let mut found = false;
        let scanned = scan_status(dir, &mut |line, f| {
            if name.is_none_or(|n| n == f.name) {
                found = true;
                match raw {
                    true => {
                        out.push(line);
                        out.push(b"\n");
                    }
                    false => out.sv(f, now),
                }
            }
        });
        out.flush();
        if let Err(code) = scanned {
            return code;
        }
        if let Some(name) = name.filter(|_| !found) {
            say!("{}: not known", Lossy(name));
            code = 4;
        }
        at += 1;
        if args.get(at).is_none() {
            return code;
        }
    }
}

/// Open the status file (or say why not: exit 1).
fn open_status(dir: &[u8]) -> Result<OwnedFd, c_int> {
    let path = PathBuf::join(dir, format_args!("status")).ok_or(2)?;
    open_read(path.bytes()).map_err(|e| {
        say!(
            "{}: {}",
            Lossy(path.bytes()),
            ErrnoName(e.raw_os_error() as u16)
        );
        1
    })
}

/// Call `each` with every line of the status file (without its newline)
/// and its fields.
fn scan_status(dir: &[u8], each: &mut dyn FnMut(&[u8], &Fields<'_>)) -> Result<(), c_int> {
    let file = open_status(dir)?;
    list::each_service(file.as_fd(), each);
    Ok(())
}

/// `wait up|down NAME [TIMEOUT]`: follow `monitor` until NAME is in that
/// state (`listening` counts as up).
fn wait(dir: &[u8], target: &[u8], name: &[u8], timeout: Option<&[u8]>) -> c_int {
    if target != b"up" && target != b"down" {
        return usage();
    }
    let deadline = match timeout.map(parse_duration) {
        Some(None) => return usage(),
        Some(Some(ms)) => Some(clock::now().plus_ms(u64::from(ms))),
        None => None,
    };
    let fifo = match control(dir) {
        Ok(fd) => fd,
        Err(code) => return code,
    };
    let mut known = false;
    if let Err(code) = scan_status(dir, &mut |_, f| known |= f.name == name) {
        return code;
    }
    if !known {
        say!("{}: not known", Lossy(name));
        return 4;
    }
    ask(&fifo, dir, format_args!("monitor"), &mut |answers| {
        wait_on(answers, target, name, deadline)
    })
}

/// Follow the monitor stream on `answers` until `name` is in `target`.
fn wait_on(answers: &Reply<'_>, target: &[u8], name: &[u8], deadline: Option<Instant>) -> c_int {
    let mut reached = false;
    let result = read_lines(answers, None, deadline, &mut |line| {
        // `NAME: STATE (pid N)` at first, then `NAME: FROM -> TO (...)`.
        let Some(rest) = line.strip_prefix(name).and_then(|r| r.strip_prefix(b": ")) else {
            return false;
        };
        let state = match rest.windows(4).position(|w| w == b" -> ") {
            Some(at) => &rest[at + 4..],
            None => rest,
        };
        let state = state.split(|&b| b == b' ').next().unwrap_or(b"");
        // A socket service that listens is up as far as its users go (as
        // `start` answers).
        reached = state == target || (target == b"up" && state == b"listening");
        reached
    });
    match (reached, result) {
        (true, _) => 0,
        (false, Err(Errno::TIMEDOUT)) => {
            say!("{}: not {} after the timeout", Lossy(name), Lossy(target));
            4
        }
        // vigild went away.
        (false, _) => 1,
    }
}

/// A path in the run directory, built in a stack buffer (no allocation):
/// `DIR/NAME`.
pub struct PathBuf {
    buf: [u8; 512],
    len: usize,
}

impl PathBuf {
    /// `dir/name`; `None` if it is longer than the buffer.
    pub fn join(dir: &[u8], name: core::fmt::Arguments<'_>) -> Option<PathBuf> {
        let mut p = PathBuf {
            buf: [0; 512],
            len: 0,
        };
        let mut w = SliceWriter::new(&mut p.buf);
        w.push(dir).ok()?;
        core::fmt::Write::write_fmt(&mut w, format_args!("/{name}")).ok()?;
        p.len = w.len();
        Some(p)
    }

    /// The path, without a NUL.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Standard output, buffered: a table or an object is a few writes, not
/// one per field.
pub struct Out {
    buf: [u8; 4096],
    len: usize,
    failed: bool,
}

impl Out {
    fn new() -> Out {
        Out {
            buf: [0; 4096],
            len: 0,
            failed: false,
        }
    }

    #[inline(never)] // called for every piece: one copy
    fn push(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > self.buf.len() {
            self.flush();
        }
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.failed |= write_all(stdout(), bytes).is_err(),
        }
    }

    /// `bytes` as `Lossy` shows them (nothing of a file reaches a terminal
    /// raw). One call site of the formatter for all of vigilctl's fields.
    #[inline(never)]
    fn lossy(&mut self, bytes: &[u8]) {
        let _ = write!(self, "{}", Lossy(bytes));
    }

    /// The runit line of `f` (one copy of `write_sv` for vigilctl).
    #[inline(never)]
    fn sv(&mut self, f: &Fields<'_>, now_ms: u64) {
        let _ = write_sv(self, f, now_ms);
    }

    /// A number in decimal.
    #[inline(never)]
    fn num(&mut self, n: u64) {
        let _ = write!(self, "{n}");
    }

    /// Room for `n` more bytes without a flush (a cell measured by
    /// what it added).
    fn room(&mut self, n: usize) {
        if self.len + n > self.buf.len() {
            self.flush();
        }
    }

    /// Write what is held; the exit code (1 if a write failed).
    fn flush(&mut self) -> c_int {
        self.failed |= write_all(stdout(), &self.buf[..self.len]).is_err();
        self.len = 0;
        self.failed.into()
    }
}

impl Write for Out {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

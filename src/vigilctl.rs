//! `vigilctl` (also `vigild ctl`): writes one control line with a reply FIFO
//! of its own, prints the result lines, and exits as vigilctl(8) says: 0 success,
//! 4 a failure result, 3 no vigild on that run directory, 2 usage.

use crate::sys::fs::{each_line_of, open_read, stdout, write_all};
use crate::sys::run_dir::{mkfifo, open_fifo_read, open_fifo_write, unlink};
use crate::sys::{Errno, args::Args, clock, process};
use core::ffi::c_int;
use core::fmt::Write;
use core::ops::ControlFlow;
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fd::{AsFd, OwnedFd};
use vigild_engine::config::parse_duration;
use vigild_engine::control::Verb;
use vigild_engine::fixed::{Lossy, SliceWriter};
use vigild_engine::status::{Fields, parse_line, write_sv};
use vigild_engine::time::Instant;

const USAGE: &str = "usage: vigilctl [-r DIR] start|stop|restart NAME... | signal NAME SIG | reload | shutdown \
                     | status [--raw] [NAME] | wait up|down NAME [TIMEOUT] | monitor | log NAME";

macro_rules! say {
    ($($arg:tt)*) => { $crate::sys::message::line("vigilctl", format_args!($($arg)*)) };
}

/// `vigilctl ARGS`, the arguments starting at `first`: the exit code.
pub fn main(args: Args, first: usize) -> c_int {
    let mut i = first;
    let mut dir: &[u8] = b"/run/vigild";
    if args.get(i) == Some(b"-r") {
        match args.get(i + 1) {
            // The reply FIFO's path goes to vigild, whose working directory
            // is not ours: it must be absolute (as for vigild's own -r).
            Some(d) if d.starts_with(b"/") => dir = d,
            Some(_) => {
                say!("-r needs an absolute path");
                return 2;
            }
            None => return usage(),
        }
        i += 2;
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
            let mut worst = 0;
            for k in 0..count {
                let name = rest(k).unwrap_or(b"");
                let code = request(dir, format_args!("{} {}", Lossy(cmd), Lossy(name)), false);
                if code == 3 {
                    return 3;
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
        (Some(Verb::Log), 1) => show_log(dir, rest(0).unwrap_or(b"")),
        (Some(Verb::Monitor), 0) => request(dir, format_args!("monitor"), true),
        (None, 0..=2) if cmd == b"status" => status(dir, rest(0), rest(1)),
        (None, 2 | 3) if cmd == b"wait" => {
            wait(dir, rest(0).unwrap_or(b""), rest(1).unwrap_or(b""), rest(2))
        }
        _ => usage(),
    }
}

fn usage() -> c_int {
    say!("{USAGE}");
    2
}

/// Is a vigild reading this run directory's control FIFO? (Opening a FIFO
/// for writing without blocking works only when it has a reader.)
fn control(dir: &[u8]) -> Result<OwnedFd, c_int> {
    let path = PathBuf::join(dir, format_args!("control")).ok_or(2)?;
    open_fifo_write(path.bytes()).map_err(|_| {
        say!("vigild is not running on {}", Lossy(dir));
        3
    })
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
/// BYTES` line), or the result line that says why not (exit 4).
fn show_log(dir: &[u8], name: &[u8]) -> c_int {
    let fifo = match control(dir) {
        Ok(fd) => fd,
        Err(code) => return code,
    };
    ask(
        &fifo,
        dir,
        format_args!("log {}", Lossy(name)),
        &mut |answers| {
            let mut buf = [0u8; 4096];
            let (mut header, mut code) = (true, 4);
            let mut fds = [PollFd::new(answers, PollFlags::IN)];
            // vigild answers at once; a silence this long means it is stuck.
            if poll(&mut fds, Some(&clock::timespec(10_000))) == Ok(0) {
                say!("no answer from vigild");
                return 1;
            }
            loop {
                let n = match rustix::io::read(answers, &mut buf) {
                    Ok(0) => return code,
                    Ok(n) => n,
                    Err(Errno::INTR) => continue,
                    Err(Errno::AGAIN) => {
                        let _ = poll(&mut fds, None);
                        continue;
                    }
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
                let out = if code == 0 {
                    stdout()
                } else {
                    crate::sys::fs::stderr()
                };
                if write_all(out, bytes).is_err() {
                    return 1;
                }
            }
        },
    )
}

/// Write `line reply=FIFO` to the control FIFO, with a reply FIFO of our
/// own in the run directory, and let `answers` read the results; the reply
/// FIFO is removed afterwards. The exit code.
fn ask(
    fifo: &OwnedFd,
    dir: &[u8],
    line: core::fmt::Arguments<'_>,
    answers: &mut dyn FnMut(&OwnedFd) -> c_int,
) -> c_int {
    let Some(reply) = PathBuf::join(dir, format_args!("reply.{}", process::getpid() as u32)) else {
        return 2;
    };
    unlink(reply.bytes());
    if let Err(e) = mkfifo(reply.bytes()) {
        say!(
            "unable to create {}: {}",
            Lossy(reply.bytes()),
            vigild_engine::unix::ErrnoName(e.raw_os_error() as u16)
        );
        return 1;
    }
    let code = match open_fifo_read(reply.bytes()) {
        Ok(read_end) => {
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
                answers(&read_end)
            }
        }
        Err(_) => 1,
    };
    unlink(reply.bytes());
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
    fd: &OwnedFd,
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
        let timeout = match deadline.map(|d| d.ms_since(clock::now())) {
            Some(0) => return Err(Errno::TIMEDOUT),
            ms => ms.map(clock::timespec),
        };
        let mut fds = [PollFd::new(fd, PollFlags::IN)];
        match poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
        match rustix::io::read(fd, &mut buf[len..]) {
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

/// `status [--raw] [NAME]`.
fn status(dir: &[u8], a: Option<&[u8]>, b: Option<&[u8]>) -> c_int {
    let (raw, name) = match (a, b) {
        (Some(b"--raw"), name) => (true, name),
        (name, None) => (false, name),
        _ => return usage(),
    };
    if let Err(code) = control(dir) {
        return code;
    }
    let now = clock::wall_ms();
    let mut found = false;
    let scanned = scan_status(dir, &mut |line, f| {
        if name.is_none_or(|n| n == f.name) {
            found = true;
            if raw {
                let _ = write_all(stdout(), line);
                let _ = write_all(stdout(), b"\n");
            } else {
                let mut out = [0u8; 600];
                let mut w = SliceWriter::new(&mut out);
                let _ = write_sv(&mut w, f, now);
                let _ = write_all(stdout(), w.bytes());
            }
        }
    });
    match (scanned, name, found) {
        (Err(code), _, _) => code,
        (Ok(()), Some(name), false) => {
            say!("{}: not known", Lossy(name));
            4
        }
        (Ok(()), _, _) => 0,
    }
}

/// Call `each` with every line of the status file (without its newline)
/// and its fields.
fn scan_status(dir: &[u8], each: &mut dyn FnMut(&[u8], &Fields<'_>)) -> Result<(), c_int> {
    let path = PathBuf::join(dir, format_args!("status")).ok_or(2)?;
    let file = open_read(path.bytes()).map_err(|_| {
        say!("no status file in {}", Lossy(dir));
        1
    })?;
    each_line_of(file.as_fd(), &mut |line| {
        if let Some(f) = parse_line(line) {
            each(line, &f);
        }
        ControlFlow::Continue(())
    })
    .map_err(|_| 1)
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
fn wait_on(answers: &OwnedFd, target: &[u8], name: &[u8], deadline: Option<Instant>) -> c_int {
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

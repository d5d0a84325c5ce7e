//! A socket-activated service in miniature, for the boot test
//! (`tests/boot.rs`). Its guest has BusyBox only, and nothing in BusyBox
//! serves a listening socket it inherited: its servers (`nc -l`, `httpd`,
//! `telnetd`) bind their own, and their inetd modes want an accepted
//! connection on stdin. Built static for the guest by `.ci/boot-test`
//! (`cargo build --release --target x86_64-unknown-linux-musl --example
//! activated`).
//!
//! ```text
//! activated TEXT...
//! ```
//!
//! Checks that it was started as systemd and vigild's `mode = activate`
//! start a service (`LISTEN_PID` its own pid, `LISTEN_FDS=1`), accepts one
//! connection on the TCP socket it got as fd 3, writes TEXT (the arguments
//! joined by spaces) and a newline to it, and exits 0, so that vigild
//! listens again and starts it anew for the next connection. Anything wrong
//! is said on stderr, with exit 1.

use std::io::Write;
use std::net::TcpListener;
use std::os::fd::FromRawFd;
use std::process::exit;

/// The first descriptor handed over (systemd's `SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: i32 = 3;

fn main() {
    let text = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let var = |name| std::env::var(name).unwrap_or_default();
    let (pid, fds) = (var("LISTEN_PID"), var("LISTEN_FDS"));
    if pid != std::process::id().to_string() || fds != "1" {
        eprintln!("activated: not activated with one socket (LISTEN_PID={pid} LISTEN_FDS={fds})");
        exit(1);
    }
    // SAFETY: LISTEN_PID and LISTEN_FDS say that fd 3 was handed over to
    // this process, and nothing else in it uses fd 3.
    let listener = unsafe { TcpListener::from_raw_fd(LISTEN_FDS_START) };
    let (mut conn, _) = listener.accept().unwrap_or_else(|e| fail("accept", e));
    writeln!(conn, "{text}").unwrap_or_else(|e| fail("write", e));
}

fn fail(what: &str, err: std::io::Error) -> ! {
    eprintln!("activated: {what}: {err}");
    exit(1);
}

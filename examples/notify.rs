//! A tiny sd_notify client, for the tests and for trying `ready = notify`
//! by hand (`cargo build --example notify`):
//!
//! ```text
//! notify [--delay-ms N] [--with-fd] [--repeat N] [--barrier] MESSAGE... [-- PROGRAM ARGS...]
//! ```
//!
//! Sends each MESSAGE as one datagram to `$NOTIFY_SOCKET` (`@name`: an
//! abstract socket), then execs PROGRAM if one is given, so the very first
//! thing a service does can be its `READY=1`, from its own pid.
//! `--with-fd` attaches a descriptor to each datagram (as systemd-notify
//! does for `BARRIER=1`); `--repeat N` sends every message N times;
//! `--barrier` ends with `BARRIER=1` and waits until the receiver has
//! closed the descriptor sent with it, as systemd-notify does: by then every
//! message before it was read.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::process::exit;

fn main() {
    let mut args = std::env::args_os().skip(1);
    let (mut delay_ms, mut with_fd, mut repeat, mut barrier) = (0u64, false, 1u64, false);
    let mut messages = vec![];
    let mut program = vec![];
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--delay-ms") => delay_ms = number(args.next()),
            Some("--with-fd") => with_fd = true,
            Some("--repeat") => repeat = number(args.next()),
            Some("--barrier") => barrier = true,
            Some("--") => {
                program = args.by_ref().collect();
                break;
            }
            _ => messages.push(arg),
        }
    }
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        eprintln!("notify: NOTIFY_SOCKET is not set");
        exit(2);
    };
    std::thread::sleep(std::time::Duration::from_millis(delay_ms));
    let fd = socket_to(socket.as_bytes());
    for _ in 0..repeat {
        for m in &messages {
            send(fd, m.as_bytes(), with_fd);
        }
    }
    if barrier {
        wait_for_barrier(fd);
    }
    // SAFETY: closing our own socket.
    unsafe { libc::close(fd) };
    if let Some(prog) = program.first() {
        let err = std::os::unix::process::CommandExt::exec(
            std::process::Command::new(prog).args(&program[1..]),
        );
        eprintln!("notify: exec {}: {err}", prog.to_string_lossy());
        exit(127);
    }
}

/// Send `BARRIER=1` with a pipe's write end, and wait (5 s at most) until
/// the receiver closed it.
fn wait_for_barrier(socket: i32) {
    let mut ends = [0i32; 2];
    // SAFETY: pipe2 fills `ends`; then poll on our read end, and close both.
    unsafe {
        if libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) < 0 {
            eprintln!("notify: pipe: {}", std::io::Error::last_os_error());
            exit(1);
        }
        send_fd(socket, b"BARRIER=1", ends[1]);
        libc::close(ends[1]);
        let mut pfd = libc::pollfd {
            fd: ends[0],
            events: 0,
            revents: 0,
        };
        if libc::poll(&mut pfd, 1, 5000) != 1 {
            eprintln!("notify: the barrier was not lifted within 5 s");
            exit(1);
        }
        libc::close(ends[0]);
    }
}

fn number(arg: Option<std::ffi::OsString>) -> u64 {
    arg.and_then(|a| a.to_str()?.parse().ok())
        .unwrap_or_else(|| {
            eprintln!("notify: a number is needed");
            exit(2)
        })
}

/// A datagram socket connected to `path`.
fn socket_to(path: &[u8]) -> i32 {
    // SAFETY: plain socket calls on a zeroed sockaddr_un we fill in bounds.
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let bytes: Vec<u8> = match path.strip_prefix(b"@") {
            Some(name) => std::iter::once(0).chain(name.iter().copied()).collect(),
            None => path.to_vec(),
        };
        assert!(bytes.len() < addr.sun_path.len(), "socket path too long");
        for (dst, &src) in addr.sun_path.iter_mut().zip(&bytes) {
            *dst = src as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len();
        let rc = libc::connect(fd, (&raw const addr).cast(), len as libc::socklen_t);
        if rc < 0 {
            eprintln!(
                "notify: connect {}: {}",
                String::from_utf8_lossy(path),
                std::io::Error::last_os_error()
            );
            exit(1);
        }
        fd
    }
}

/// Send `message`, with a descriptor (a fresh /dev/null) attached if asked.
fn send(fd: i32, message: &[u8], with_fd: bool) {
    let devnull = CString::new("/dev/null").unwrap();
    let extra = match with_fd {
        // SAFETY: open has no preconditions beyond a C string.
        true => unsafe { libc::open(devnull.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) },
        false => -1,
    };
    send_fd(fd, message, extra);
    if extra >= 0 {
        // SAFETY: our own descriptor; the receiver has its copy.
        unsafe { libc::close(extra) };
    }
}

/// Send `message`, with `extra` attached unless it is -1.
fn send_fd(fd: i32, message: &[u8], extra: i32) {
    // SAFETY: sendmsg with one iovec over `message` and, when asked, one
    // SCM_RIGHTS control message built in a properly aligned buffer.
    unsafe {
        let mut iov = libc::iovec {
            iov_base: message.as_ptr() as *mut libc::c_void,
            iov_len: message.len(),
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        let mut control = [0u64; 8];
        if extra >= 0 {
            let space = libc::CMSG_SPACE(std::mem::size_of::<i32>() as u32) as usize;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = space;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<i32>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<i32>(), extra);
        }
        if libc::sendmsg(fd, &msg, 0) < 0 {
            eprintln!("notify: send: {}", std::io::Error::last_os_error());
            exit(1);
        }
    }
}

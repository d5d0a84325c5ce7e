//! A program that makes a bad `--handoff-check` for the re-exec tests
//! (`cargo build --example checkhang`): whatever its arguments, it starts a
//! child that sleeps, closes its stdout and stderr (where the old vigild
//! reads its answer; with CHECKHANG_KEEP_STDERR set in its environment it
//! keeps stderr open, so that no end comes either) and sleeps an hour
//! itself. vigild must neither wait for its end nor leave it or its child
//! running.

use std::process::{Command, Stdio};
use std::time::Duration;

fn main() {
    // The child holds none of the pipe: only this program's end counts.
    let child = Command::new("/bin/sleep")
        .arg("3600")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let keep = std::env::var_os("CHECKHANG_KEEP_STDERR").is_some();
    // SAFETY: closing fds 1 and 2, which nothing of this program uses
    // afterwards.
    unsafe {
        libc::close(1);
        if !keep {
            libc::close(2);
        }
    }
    std::thread::sleep(Duration::from_secs(3600));
    drop(child);
}

//! A program that makes a bad `--handoff-check` for the re-exec tests
//! (`cargo build --example checkhang`): whatever its arguments, it starts a
//! child that sleeps, closes its stdout (the old vigild reads it for the
//! answer) and sleeps an hour itself. vigild must neither wait for its end
//! nor leave it or its child running.

use std::process::Command;
use std::time::Duration;

fn main() {
    let child = Command::new("/bin/sleep").arg("3600").spawn();
    // SAFETY: closing fd 1, which nothing of this program uses afterwards.
    unsafe { libc::close(1) };
    std::thread::sleep(Duration::from_secs(3600));
    drop(child);
}

//! Boot tests (vigild(8) PID 1): vigild as PID 1 of an initramfs, booted by
//! Debian's kernel in qemu (software emulation: no KVM needed).
//!
//! The test writes the initramfs itself, as an uncompressed newc cpio
//! archive (which the kernel takes as it is): BusyBox and the links of the
//! applets the guest uses, `/init`, and the files of `tests/boot/`. The
//! machine's serial console (qemu's stdio) is the test's only view into the
//! guest, its keyboard (it types one command there), and the only verdict:
//! qemu exits 0 after a kernel panic too, so the test reads every expected
//! line from the console, no `Kernel panic`, and the kernel's `reboot:
//! Power down`, and qemu must end by itself within `BOOT_DEADLINE` (else it
//! is killed and the test fails).
//!
//! - `busybox_init_powers_off`: the pipeline alone, with a BusyBox script
//!   as `/init`; when this fails, the kernel, qemu or the archive is at
//!   fault, not vigild.
//! - `vigild_as_pid1_supervises_and_powers_off`: the static vigild is
//!   `/init` with `tests/boot/vigild.conf`: oneshots mount the kernel file
//!   systems and bring up loopback, a daemon runs, an activate and an accept
//!   service answer a client, every service process is SIGKILLed and fifty
//!   orphans are left to PID 1, the test types a command on the serial
//!   console into a rescue shell (`console = yes`) and reads its answer,
//!   and BusyBox `poweroff` (SIGUSR2 to PID 1) must stop every service in
//!   reverse dependency order and power off.
//!   It prints how long the guest took from the kernel's start to vigild's
//!   first service, and from there to every service being up.
//! - `vigild_switches_root_to_a_new_init`: vigild is `/init` with
//!   `tests/boot/switch-root.conf`: once a daemon runs, a oneshot fills a
//!   tmpfs at /newroot and writes `switch_root /newroot /sbin/init-script
//!   one two` on the control FIFO; every service stops, and the new init, a
//!   BusyBox script, must run as PID 1 with its arguments in the new root,
//!   with /proc, /sys and /dev moved, nothing of the initramfs in
//!   sight and no other process, and power the machine off.
//!
//! All are `#[ignore]`d so that a plain `cargo test` passes without qemu;
//! `.ci/boot-test` installs qemu, busybox-static and the kernel, builds the
//! static binaries, and runs `cargo test --test boot -- --include-ignored`.
//! The programs are found through `SYSTEST_KERNEL` (needed),
//! `SYSTEST_BUSYBOX` (default `/bin/busybox`), `SYSTEST_VIGILD` and
//! `SYSTEST_ACTIVATED` (default: the musl release builds of vigild and
//! `examples/activated.rs` in this target directory); not `VIGILD_*`
//! names, which build.rs refuses. Each boot keeps its archive and console in
//! `target/tmp/boot/`.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// Longest a boot may take, power-off included. Under TCG a boot takes a
/// few seconds; the margin is for a loaded machine.
const BOOT_DEADLINE: Duration = Duration::from_secs(120);

/// The kernel's command line: its console on the serial port the test
/// reads; a panic reboots at once, which `-no-reboot` turns into qemu's
/// exit; no kernel messages below errors, so the console holds mostly the
/// guest's own lines (and the panic and `reboot: Power down` lines, which
/// are emergencies, still show).
const APPEND: &str = "console=ttyS0 panic=-1 quiet loglevel=3";

/// The BusyBox applets that the guest's configuration and scripts run as
/// programs (shell builtins such as `echo` and `kill` need no link), linked
/// in `/bin`. The kernel starts `/init` with no PATH; BusyBox's shell then
/// searches `/sbin:/usr/sbin:/bin:/usr/bin`.
const APPLETS: &[&str] = &[
    "cat", "grep", "ip", "mount", "nc", "poweroff", "ps", "sed", "seq", "sh", "sleep",
];

/// The service of `tests/boot/vigild.conf` that runs BusyBox `poweroff`.
const POWEROFF_SERVICE: &str = "off";

/// What the test types on the console once the poweroff service waits for
/// it (`CONSOLE-WAIT`), into the rescue shell (`console = yes`): what the
/// shell's own /proc/PID/stat says of its terminal (`tty_nr`) and of the
/// terminal's foreground group, and the file the poweroff service waits for.
const TYPED: &str = "read -r pid comm state ppid pgrp sid tty tpgid rest < /proc/$$/stat; \
     echo \"console-$((6*7)) tty=$tty fg=$((tpgid == $$))\"; : > /run/typed\n";

/// The rescue shell's answer (the terminal echoes what is typed, which
/// holds `$((6*7))`, not 42): the console is ttyS0 (4:64, `tty_nr` 1088),
/// and the shell's group is in its foreground.
const ANSWER: &str = "console-42 tty=1088 fg=1";

// ---- the programs ------------------------------------------------------

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/boot")
}

fn fixture(name: &str) -> Vec<u8> {
    read(&fixtures().join(name))
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The path in `var`, else `default`; it must be a file.
fn path_from(var: &str, default: Option<PathBuf>) -> PathBuf {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .or(default)
        .unwrap_or_else(|| panic!("{var} is not set (.ci/boot-test sets it)"));
    assert!(
        path.is_file(),
        "{}: not found (set {var}, or run .ci/boot-test)",
        path.display()
    );
    path
}

/// Like `path_from`, for a program that will run in the guest, which has no
/// shared libraries: it must be statically linked.
fn static_program(var: &str, default: Option<PathBuf>) -> PathBuf {
    let path = path_from(var, default);
    assert!(
        is_static_elf(&read(&path)),
        "{} is not a statically linked ELF program: it cannot run in the guest \
         (for BusyBox, Debian's busybox-static is)",
        path.display()
    );
    path
}

/// A 64-bit ELF file without a program interpreter (`PT_INTERP`), which
/// every dynamically linked program names.
fn is_static_elf(elf: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    let num = |at: usize, len: usize| {
        let mut bytes = [0u8; 8];
        bytes[..len].copy_from_slice(&elf[at..at + len]);
        u64::from_le_bytes(bytes) as usize
    };
    if elf.len() < 64 || !elf.starts_with(b"\x7fELF\x02\x01") {
        return false;
    }
    let (phoff, phentsize, phnum) = (num(0x20, 8), num(0x36, 2), num(0x38, 2));
    (0..phnum).all(|i| {
        let at = phoff + i * phentsize;
        at + 4 <= elf.len() && num(at, 4) as u32 != PT_INTERP
    })
}

/// A static build of this package made by `.ci/boot-test` (`cargo build
/// --release --target x86_64-unknown-linux-musl`), in this target directory.
fn musl_build(name: &str) -> PathBuf {
    // TARGET/debug/deps/boot-HASH -> TARGET
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap();
    target.join("x86_64-unknown-linux-musl/release").join(name)
}

fn kernel() -> PathBuf {
    path_from("SYSTEST_KERNEL", None)
}

fn busybox() -> PathBuf {
    static_program("SYSTEST_BUSYBOX", Some(PathBuf::from("/bin/busybox")))
}

fn vigild() -> PathBuf {
    static_program("SYSTEST_VIGILD", Some(musl_build("vigild")))
}

fn activated() -> PathBuf {
    static_program("SYSTEST_ACTIVATED", Some(musl_build("examples/activated")))
}

// ---- the initramfs -----------------------------------------------------

/// A newc cpio archive, the format the kernel unpacks an initramfs from
/// (its Documentation/driver-api/early-userspace/buffer-format.rst). Every
/// member belongs to root, with mtime 0. The parents of a file are added
/// before it: the kernel creates no missing directory.
#[derive(Default)]
struct Cpio {
    out: Vec<u8>,
    inodes: u32,
    dirs: BTreeSet<String>,
}

impl Cpio {
    fn dir(&mut self, name: &str) {
        if self.dirs.insert(name.to_string()) {
            self.parents(name);
            self.member(name, 0o040_755, 2, b"");
        }
    }

    fn file(&mut self, name: &str, perm: u32, data: &[u8]) {
        self.parents(name);
        self.member(name, 0o100_000 | perm, 1, data);
    }

    fn symlink(&mut self, name: &str, target: &str) {
        self.parents(name);
        self.member(name, 0o120_777, 1, target.as_bytes());
    }

    fn parents(&mut self, name: &str) {
        if let Some((parent, _)) = name.rsplit_once('/') {
            self.dir(parent);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.member("TRAILER!!!", 0, 1, b"");
        self.out
    }

    /// A header (`070701` and thirteen fields of 8 hex digits), the name
    /// with its NUL, the data; header and name, and then the data, padded
    /// with NULs to a multiple of 4 bytes.
    fn member(&mut self, name: &str, mode: u32, nlink: u32, data: &[u8]) {
        self.inodes += 1;
        let size = u32::try_from(data.len()).expect("a member under 4 GiB");
        let fields = [
            self.inodes,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime
            size,
            0, // major and minor of the device holding the file
            0,
            0, // major and minor of a device file
            0,
            name.len() as u32 + 1,
            0, // checksum (only in the "070702" format)
        ];
        self.out.extend_from_slice(b"070701");
        for field in fields {
            self.out
                .extend_from_slice(format!("{field:08X}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        self.out.resize(self.out.len().next_multiple_of(4), 0);
    }
}

/// The guest's root file system: mount points, BusyBox and its applets'
/// links, `/init`, and `files` (path without the leading `/`, permissions,
/// contents). `/dev/console`, which the kernel opens for `/init`, comes
/// from the kernel's own built-in initramfs, unpacked before this one, and
/// it is all there is in `/dev` (no `/dev/null`) until something mounts
/// devtmpfs, as in any initramfs made from the kernel's default list: PID 1
/// must start with no more.
fn initramfs(init: &[u8], files: &[(&str, u32, Vec<u8>)]) -> Vec<u8> {
    let mut cpio = Cpio::default();
    for dir in ["dev", "etc", "proc", "run", "sys", "tmp"] {
        cpio.dir(dir);
    }
    cpio.file("bin/busybox", 0o755, &read(&busybox()));
    for applet in APPLETS {
        cpio.symlink(&format!("bin/{applet}"), "busybox");
    }
    cpio.file("init", 0o755, init);
    for (name, perm, data) in files {
        cpio.file(name, *perm, data);
    }
    cpio.finish()
}

// ---- booting -----------------------------------------------------------

/// What the serial console showed during one boot, and how it ended.
struct Console {
    /// Each line (without its `\r\n`), with when it came since qemu started.
    lines: Vec<(Duration, String)>,
    /// qemu ended by itself within `BOOT_DEADLINE` (else it was killed).
    ended: bool,
    /// qemu's own stderr.
    qemu_stderr: String,
    /// Where the console was saved.
    saved: PathBuf,
}

/// Boot the kernel with `initrd` under qemu until the machine powers off
/// (or `BOOT_DEADLINE`). Console lines are echoed as they come (shown with
/// `--nocapture`, or when the test fails). Each `(trigger, input)` of
/// `typing`, in order, types `input` on the console (qemu's stdin, the
/// serial port's input) once a line holding `trigger` has come.
fn boot(tag: &str, initrd: &[u8], typing: &[(&str, &str)]) -> Console {
    // One machine at a time: boots are CPU-bound under TCG, and their
    // timings are measurements.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("boot");
    fs::create_dir_all(&dir).unwrap();
    let initrd_path = dir.join(format!("{tag}.cpio"));
    fs::write(&initrd_path, initrd).unwrap();

    let started = Instant::now();
    let mut qemu = Command::new("qemu-system-x86_64")
        // No NIC, no VGA, no option ROMs: the guest needs a serial port,
        // and ACPI to power off, which the machine has anyway.
        .args(["-nodefaults", "-no-user-config", "-display", "none"])
        .args(["-accel", "tcg", "-m", "256", "-smp", "1"])
        .args(["-serial", "stdio", "-no-reboot"])
        .arg("-kernel")
        .arg(kernel())
        .arg("-initrd")
        .arg(&initrd_path)
        .args(["-append", APPEND])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("qemu-system-x86_64: {e} (.ci/boot-test installs it)"));
    let stdout = qemu.stdout.take().unwrap();
    let mut keyboard = qemu.stdin.take().unwrap();
    let mut typing: Vec<(String, String)> = typing
        .iter()
        .rev()
        .map(|&(trigger, input)| (trigger.to_string(), input.to_string()))
        .collect();
    let console = thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { break };
            let text = String::from_utf8_lossy(&line)
                .trim_end_matches('\r')
                .to_string();
            println!("  | {text}");
            if typing
                .last()
                .is_some_and(|(trigger, _)| text.contains(trigger.as_str()))
            {
                let (_, input) = typing.pop().unwrap();
                println!("  > {}", input.trim_end());
                // A machine that stopped reading ends the boot anyway.
                let _ = keyboard.write_all(input.as_bytes());
            }
            lines.push((started.elapsed(), text));
        }
        lines
    });
    let mut stderr = qemu.stderr.take().unwrap();
    let qemu_stderr = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let ended = loop {
        if qemu.try_wait().unwrap().is_some() {
            break true;
        }
        if started.elapsed() > BOOT_DEADLINE {
            // By its pid: qemu is this test's own child.
            let _ = qemu.kill();
            qemu.wait().unwrap();
            break false;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let lines = console.join().unwrap();
    let saved = dir.join(format!("{tag}.console"));
    let text: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    fs::write(&saved, text).unwrap();
    Console {
        lines,
        ended,
        qemu_stderr: qemu_stderr.join().unwrap(),
        saved,
    }
}

impl Console {
    /// The first line at or after `from` that contains `text`.
    fn find(&self, from: usize, text: &str) -> Option<usize> {
        (from..self.lines.len()).find(|&i| self.lines[i].1.contains(text))
    }

    /// Like `find`, failing the test if there is none.
    #[track_caller]
    fn expect(&self, from: usize, text: &str) -> usize {
        self.find(from, text)
            .unwrap_or_else(|| self.fail(&format!("no console line with {text:?}")))
    }

    fn line(&self, i: usize) -> &str {
        &self.lines[i].1
    }

    /// The guest's uptime in seconds, on the line `MARKER UPTIME IDLE` that
    /// it printed from `/proc/uptime`.
    #[track_caller]
    fn uptime(&self, marker: &str) -> f64 {
        let text = self.line(self.expect(0, &format!("{marker} ")));
        text.split_once(marker)
            .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| self.fail(&format!("no uptime on {text:?}")))
    }

    /// The machine powered off: `reboot: Power down` after `from`, no
    /// kernel panic anywhere, qemu ended by itself.
    #[track_caller]
    fn expect_power_down(&self, from: usize) -> Duration {
        if self.find(0, "Kernel panic").is_some() {
            self.fail("the machine did not power off");
        }
        let i = self.expect(from, "reboot: Power down");
        if !self.ended {
            self.fail("the kernel powered down but qemu did not exit");
        }
        self.lines[i].0
    }

    #[track_caller]
    fn fail(&self, msg: &str) -> ! {
        let mut why = String::new();
        if let Some(i) = self.find(0, "Kernel panic") {
            why += &format!("\nthe kernel panicked: {}", self.line(i));
        }
        if !self.ended {
            why += &format!("\nqemu was killed after {BOOT_DEADLINE:?}");
        }
        if !self.qemu_stderr.is_empty() {
            why += &format!("\nqemu's stderr:\n{}", self.qemu_stderr);
        }
        panic!(
            "{msg}{why}\nconsole (above, and in {})",
            self.saved.display()
        );
    }
}

// ---- the guest's configuration -----------------------------------------

/// One service of the guest's configuration.
struct Service {
    name: String,
    mode: String,
    after: Vec<String>,
}

/// The services of a vigild configuration, in file order (only the keys
/// the test needs; vigild itself checks the file).
fn services(conf: &str) -> Vec<Service> {
    let mut services: Vec<Service> = Vec::new();
    let mut in_service = false;
    for line in conf.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_service = name != "vigild";
            if in_service {
                services.push(Service {
                    name: name.to_string(),
                    mode: "daemon".to_string(),
                    after: Vec::new(),
                });
            }
        } else if let (true, Some((key, value))) = (in_service, line.split_once('=')) {
            let service = services.last_mut().unwrap();
            match key.trim() {
                "mode" => service.mode = value.trim().to_string(),
                "after" => service.after = value.split_whitespace().map(String::from).collect(),
                _ => {}
            }
        }
    }
    services
}

// ---- the tests ---------------------------------------------------------

#[test]
#[ignore = "needs qemu, a kernel and busybox-static: run .ci/boot-test"]
fn busybox_init_powers_off() {
    let initrd = initramfs(&fixture("busybox-init.sh"), &[]);
    let console = boot("busybox", &initrd, &[]);
    let up = console.uptime("BUSYBOX-INIT");
    let i = console.expect(0, "BUSYBOX-INIT");
    let off = console.expect_power_down(i);
    println!(
        "boot: kernel->init {up:.2} s (guest clock); qemu start->power down {:.2} s (host)",
        off.as_secs_f64()
    );
}

#[test]
#[ignore = "needs qemu, a kernel, busybox-static and static builds: run .ci/boot-test"]
fn vigild_as_pid1_supervises_and_powers_off() {
    let conf = fixture("vigild.conf");
    let services = services(std::str::from_utf8(&conf).unwrap());
    let initrd = initramfs(
        &read(&vigild()),
        &[
            ("etc/vigild.conf", 0o644, conf),
            ("etc/boot/mounts.sh", 0o755, fixture("mounts.sh")),
            ("etc/boot/client.sh", 0o755, fixture("client.sh")),
            ("etc/boot/chaos.sh", 0o755, fixture("chaos.sh")),
            ("bin/activated", 0o755, read(&activated())),
        ],
    );
    let c = boot("vigild", &initrd, &[("CONSOLE-WAIT", TYPED)]);

    // Start-up: before the poweroff service starts, every other service is
    // up (a oneshot: exited 0) or listening, and the guest has timed it.
    let shutdown = c.expect(0, &format!("vigild: {POWEROFF_SERVICE}: down -> starting"));
    for s in services.iter().filter(|s| s.name != POWEROFF_SERVICE) {
        let state = match s.mode.as_str() {
            "activate" | "accept" => "down -> listening",
            _ => "starting -> up",
        };
        let line = format!("vigild: {}: {state}", s.name);
        if c.find(0, &line).is_none_or(|i| i > shutdown) {
            c.fail(&format!("no {line:?} before the poweroff service started"));
        }
    }
    let (t0, up) = (c.uptime("BOOT-T0"), c.uptime("BOOT-UP"));
    println!(
        "boot: kernel->vigild {t0:.2} s, vigild->all up {:.2} s (guest clock)",
        up - t0
    );

    // Loopback clients: the activated service ran twice (vigild listened
    // again after its first exit 0), the accept service's worker once.
    let activated = c.expect(0, "CLIENT-GOT activate: hello-from-activate");
    c.expect(activated + 1, "CLIENT-GOT activate: hello-from-activate");
    c.expect(0, "CLIENT-GOT accept: hello-from-accept 127.0.0.1");
    let relisten = c.expect(0, "vigild: echoer: up -> listening");
    c.expect(relisten + 1, "vigild: echoer: up -> listening");

    // Crashes and orphans: the ticker was SIGKILLed and came back; the
    // orphans were PID 1's, and it reaped them all.
    let ticker_up = c.expect(0, "vigild: ticker: starting -> up (pid ");
    let pid = c
        .line(ticker_up)
        .rsplit("(pid ")
        .next()
        .unwrap()
        .trim_end_matches(')');
    let killed = c.expect(0, &format!("CHAOS-KILL {pid}"));
    // Its `sleep 1` outlives the shell: it is stopped first (`up ->
    // stopping -> backoff`), unless the kill came between two sleeps.
    let crashed = (killed..c.lines.len())
        .find(|&i| {
            let line = c.line(i);
            line.contains("vigild: ticker: ") && line.contains("-> backoff (last signal:KILL)")
        })
        .unwrap_or_else(|| {
            c.fail("no console line with \"ticker: ... -> backoff (last signal:KILL)\"")
        });
    c.expect(crashed, "vigild: ticker: starting -> up");
    let orphans = c.expect(0, "CHAOS-ORPHANS ");
    let count: u32 = c
        .line(orphans)
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or(0);
    if count < 50 {
        c.fail(&format!(
            "fewer than 50 orphans were PID 1's: {}",
            c.line(orphans)
        ));
    }
    if let Some(i) = c.find(0, "ZOMBIES-LEFT") {
        c.fail(&format!("PID 1 left zombies: {}", c.line(i)));
    }
    c.expect(orphans, "ORPHANS-REAPED");

    // The console: the command typed into the rescue shell ran there, on
    // its controlling terminal with job control (BusyBox's shell says
    // otherwise when it has no controlling terminal), before the poweroff.
    let waiting = c.expect(shutdown, "CONSOLE-WAIT");
    let answer = c.expect(waiting, ANSWER);
    if let Some(i) = c.find(0, "job control turned off") {
        c.fail(&format!(
            "the rescue shell has no controlling terminal: {}",
            c.line(i)
        ));
    }
    println!("console: typed, answered {:?}", c.line(answer));

    // Shutdown: every service goes down, each dependent stopped before
    // what it runs after goes down.
    let stopped = |name: &str| {
        let line = format!("vigild: {name}: ");
        let is_stop = |i: &usize| {
            let text = c.line(*i);
            text.contains(&line) && (text.contains("-> down") || text.contains("-> stopping"))
        };
        let first = (shutdown..c.lines.len()).find(is_stop);
        let down =
            (shutdown..c.lines.len()).find(|&i| is_stop(&i) && c.line(i).contains("-> down"));
        match (first, down) {
            (Some(first), Some(down)) => (first, down),
            _ => c.fail(&format!("{name} did not go down after poweroff")),
        }
    };
    let mut last_down = shutdown;
    for s in &services {
        let (first, down) = stopped(&s.name);
        last_down = last_down.max(down);
        for dependency in &s.after {
            let (_, dependency_down) = stopped(dependency);
            if dependency_down < first {
                c.fail(&format!(
                    "{dependency} went down before its dependent {} was stopped",
                    s.name
                ));
            }
        }
    }
    let off = c.expect_power_down(last_down);
    println!(
        "boot: qemu start->power down {:.2} s (host)",
        off.as_secs_f64()
    );
}

#[test]
#[ignore = "needs qemu, a kernel, busybox-static and a static vigild: run .ci/boot-test"]
fn vigild_switches_root_to_a_new_init() {
    let initrd = initramfs(
        &read(&vigild()),
        &[
            ("etc/vigild.conf", 0o644, fixture("switch-root.conf")),
            ("etc/boot/mounts.sh", 0o755, fixture("mounts.sh")),
            ("etc/boot/newroot.sh", 0o755, fixture("newroot.sh")),
            ("etc/boot/new-init.sh", 0o755, fixture("new-init.sh")),
        ],
    );
    let c = boot("switch-root", &initrd, &[]);
    let asked = c.expect(0, "SWITCH-ROOT-ASK");
    // An orderly stop of every service first, as for a power-off.
    let stopping = c.expect(asked, "vigild: switch_root: stopping every service");
    let ticker_down = c.expect(stopping, "vigild: ticker: stopping -> down");
    let into = c.expect(stopping, "vigild: switch_root: into /newroot");
    if ticker_down > into {
        c.fail("the ticker went down after the switch");
    }
    // The new init is PID 1 in the new root, with its arguments.
    let init = c.expect(into, "NEW-INIT pid=1 args=one two");
    for seen in [
        "NEW-ROOT initramfs-gone",
        "NEW-ROOT proc-moved",
        "NEW-ROOT sys-moved",
        "NEW-ROOT dev-moved",
        "NEW-ROOT root: tmpfs",
        "NEW-ROOT processes: 1",
    ] {
        c.expect(init, seen);
    }
    let off = c.expect_power_down(init);
    println!(
        "boot: qemu start->power down after switch_root {:.2} s (host)",
        off.as_secs_f64()
    );
}

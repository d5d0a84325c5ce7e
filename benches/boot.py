#!/usr/bin/env python3
"""vigild as PID 1 of a real kernel, next to BusyBox init, and the static
binaries next to BusyBox's and tini's: the measurements behind
`benches/run boot` (which prepares the boot test with `.ci/boot-test
--prepare`, builds and strips vigild for x86_64 and aarch64, then runs this
file with the test's SYSTEST_* variables in its environment).

Standard library only; the quiet-machine wait and the report's pieces are
bench.py's.

  1. boot times: the boot test (tests/boot.rs) boots Debian's kernel in
     qemu under software emulation (TCG, one vCPU) with an initramfs whose
     /init is the static vigild (test vigild_as_pid1_supervises_and_powers_off,
     tests/boot/vigild.conf) or a BusyBox script (busybox_init_powers_off).
     ROUNDS boots of each, interleaved (the order rotates every round), each
     after a quiet machine, run by the test's own executable (built once
     here, so no cargo runs between boots) under `reap` (reap.c), so that
     an interrupted run leaves no qemu behind. A boot counts only if its
     test passed. The guest writes markers to /dev/kmsg, which the console
     shows with the kernel's own time stamp, in µs since the kernel started:
       KMSG-INIT  BusyBox's /init has mounted /proc, /sys and /dev
       KMSG-T0    vigild's first service (tests/boot/mounts.sh) has mounted
                  the same
       KMSG-UP    every service is up or listening (the `allup` oneshot)
     and after KMSG-INIT or KMSG-T0 prints the kernel's own record of
     running /init (`Run /init as init process`, below the console's level),
     read from /dev/kmsg with its stamp: the kernel's boot varies by a second
     between boots under emulation, the time from there to the marker by
     milliseconds.
     The test's own guest figures, from /proc/uptime (10 ms steps, read by
     a forked `cat` after the marker), are logged beside them; its host
     figure (qemu's start to the kernel's `reboot: Power down` on the
     console, printed in 10 ms) is taken as it is.
  2. sizes: vigild stripped for x86_64 (binutils `strip`) and aarch64 (the
     Rust toolchain's llvm-strip), Debian busybox-static's /bin/busybox
     (init is one applet of that one binary, which an initramfs carries
     whole), Debian tini's /usr/bin/tini-static; the peers as shipped.
"""

import datetime
import json
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ left in benches/
from bench import (PartCtx, log, machine, not_measured, package_version, part_main, part_parser,  # noqa: E402
                   ratio_table, report_end, target_text, vigild_version, wait_quiet)

INITS = ["vigild", "BusyBox init"]
TESTS = {"vigild": "vigild_as_pid1_supervises_and_powers_off", "BusyBox init": "busybox_init_powers_off"}
TAGS = {"vigild": "vigild", "BusyBox init": "busybox"}  # tests/boot.rs's names for a boot's files
# Each init's marker once it has mounted /proc, /sys and /dev.
MARKER = {"vigild": "KMSG-T0", "BusyBox init": "KMSG-INIT"}
BINARIES = ["vigild", "BusyBox", "tini"]
BUSYBOX = "/bin/busybox"  # Debian busybox-static
TINI = "/usr/bin/tini-static"  # Debian tini
SIZE_TARGET = 160 * 1024  # .ci/run: the stripped x86_64 binary (the size budget)
ROUNDS = 5
QUIET_BUDGET = 60.0  # s, in total, the run may wait for the machine to calm down
# A console line of a /dev/kmsg marker: `[   SECONDS.MICROS] KMSG-NAME`.
KMSG = re.compile(r"\[\s*(\d+\.\d{6})\] (KMSG-[A-Z0-9]+)")
# The guest's copy of a /dev/kmsg record: `KMSG-LOG LEVEL,SEQ,MICROS,FLAGS;TEXT`.
EXEC = re.compile(r"KMSG-LOG \d+,\d+,(\d+),[^;]*;Run /init as init process$", re.M)
HOST = re.compile(r"qemu start->power down (\d+\.\d+) s \(host\)")
UPTIME = {
    "vigild": re.compile(r"boot: kernel->vigild (\d+\.\d+) s, vigild->all up (\d+\.\d+) s"),
    "BusyBox init": re.compile(r"boot: kernel->init (\d+\.\d+) s"),
}
APPEND = re.compile(r'const APPEND: &str = "([^"]*)";')


class Ctx(PartCtx):
    def __init__(self, args):
        super().__init__(args, QUIET_BUDGET)
        self.repo = args.repo
        self.vigild_aarch64 = args.vigild_aarch64
        self.test = None  # the boot test's executable
        self.counter = 0


class Failed(Exception):
    pass


# ------------------------------------------------------------------ sizes ----

def measure_sizes(ctx, res):
    files = {("x86_64", "vigild"): ctx.vigild, ("aarch64", "vigild"): ctx.vigild_aarch64,
             ("x86_64", "BusyBox"): BUSYBOX, ("x86_64", "tini"): TINI}
    sizes = res.setdefault("sizes", {})
    for (arch, name), path in files.items():
        if path and os.path.isfile(path):
            sizes.setdefault(arch, {})[name] = os.path.getsize(path)
        else:
            res.setdefault("failed", {})[f"{name} size, {arch}"] = f"no file {path}" if path else "no build"
    log("sizes: " + "; ".join(f"{arch} " + ", ".join(f"{n} {s}" for n, s in v.items()) for arch, v in sizes.items()))


# ------------------------------------------------------------------ boots ----

def build_test(ctx):
    """The boot test's executable. Cargo builds it if needed; only its JSON
    messages name the file (which carries a hash)."""
    r = subprocess.run(["cargo", "test", "--test", "boot", "--no-run", "--message-format=json-render-diagnostics"],
                       cwd=ctx.repo, stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise Failed("`cargo test --test boot --no-run` failed")
    for line in r.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "boot" and msg.get("executable"):
            return msg["executable"]
    raise Failed("cargo named no executable for tests/boot.rs")


def boot(ctx, init):
    """One boot: the test of `init` run under reap. {exec: s since the
    kernel started when it ran /init, init: the same for the init's marker,
    up: for KMSG-UP (vigild), host: s, uptime: the test's /proc/uptime
    figures}, or Failed."""
    ctx.counter += 1
    out = os.path.join(ctx.tmp, f"boot-{ctx.counter:02d}")
    actions = [(os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
               (os.POSIX_SPAWN_DUP2, 1, 2)]
    argv = [ctx.reap, out + ".rusage", ctx.test, "--include-ignored", "--nocapture", "--exact", TESTS[init]]
    wpid = os.posix_spawn(ctx.reap, argv, os.environ, file_actions=actions, setpgroup=0)
    ctx.live.add(wpid)
    with open(ctx.pidfile, "a") as f:
        f.write(f"{wpid}\n")
    os.waitpid(wpid, 0)
    ctx.live.discard(wpid)
    with open(out) as f:
        text = f.read()
    with open(out + ".rusage") as f:
        status = int(f.read().split()[2])
    # Exit 0 alone would also be a filter that matched no test.
    if status != 0 or "test result: ok. 1 passed" not in text:
        lines = text.splitlines()
        at = next((i for i, line in enumerate(lines) if "panicked at" in line), None)
        said = " / ".join(lines[at:at + 2]) if at is not None else "(no panic message)"
        raise Failed(f"{init}: the test failed (wait status {status:#x}): {said}")
    stamps = {}
    for secs, marker in KMSG.findall(text):
        stamps.setdefault(marker, float(secs))
    needed = [MARKER[init]] + (["KMSG-UP"] if init == "vigild" else [])
    run, host, uptime = EXEC.search(text), HOST.search(text), UPTIME[init].search(text)
    missing = [m for m in needed if m not in stamps]
    missing += [what for what, found in (("`Run /init` record", run), ("host time", host),
                                         ("/proc/uptime figures", uptime)) if not found]
    if missing:
        raise Failed(f"{init}: the test passed but printed no {', '.join(missing)}")
    return {"exec": int(run[1]) / 1e6, "init": stamps[MARKER[init]], "up": stamps.get("KMSG-UP"),
            "host": float(host[1]), "uptime": [float(x) for x in uptime.groups()]}


def measure_boots(ctx, res):
    if "SYSTEST_KERNEL" not in os.environ:
        res.setdefault("failed", {})["boot times"] = ("no SYSTEST_KERNEL in the environment "
                                                      "(`.ci/boot-test --prepare` failed or did not run)")
        return
    try:
        ctx.test = build_test(ctx)
    except Failed as e:
        res.setdefault("failed", {})["boot times"] = str(e)
        return
    boots = res["boots"] = {init: [] for init in INITS}
    for rnd in range(ctx.rounds):
        order = INITS[rnd % len(INITS):] + INITS[:rnd % len(INITS)]
        for init in order:
            wait_quiet(ctx, f"{init}, round {rnd + 1}")
            try:
                r = boot(ctx, init)
            except Failed as e:
                ctx.warn(f"round {rnd + 1}: {e}")
                continue
            boots[init].append(r)
            up = f", → all up {(r['up'] - r['init']) * 1000:.3f} ms" if r["up"] is not None else ""
            log(f"boot   {init:12s} round {rnd + 1}: kernel → /init run {r['exec']:.6f} s, → mounted "
                f"{(r['init'] - r['exec']) * 1000:.3f} ms{up}; qemu start → power down {r['host']:.2f} s (host); "
                "the test's /proc/uptime figures: " + ", ".join(f"{x:.2f}" for x in r["uptime"]))
    # The archives of the last boots, which the test leaves in its CARGO_TARGET_TMPDIR (TARGET/tmp; the
    # executable is TARGET/debug/deps/boot-HASH).
    archives = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(ctx.test))), "tmp", "boot")
    cpio = {init: os.path.join(archives, f"{TAGS[init]}.cpio") for init in INITS}
    res["initramfs"] = {init: os.path.getsize(path) for init, path in cpio.items() if os.path.isfile(path)}


def run_all(ctx, res):
    measure_sizes(ctx, res)
    measure_boots(ctx, res)


# ----------------------------------------------------------------- report ----

def versions(repo):
    kernel = os.path.basename(os.environ.get("SYSTEST_KERNEL", "?"))
    return (f"{vigild_version(repo)}; busybox-static {package_version('busybox-static')}, tini "
            f"{package_version('tini')}, qemu-system-x86 {package_version('qemu-system-x86')} (Debian packages); "
            f"kernel {kernel} (Debian's, extracted by .ci/boot-test)")


def spread(rows, label, samples, fmt, ratios):
    """Two rows: the medians of `samples` ({name: [value]}), and their
    ranges."""
    samples = {k: v for k, v in samples.items() if v}
    rows.append((label, {k: statistics.median(v) for k, v in samples.items()}, "", fmt, ratios))
    rows.append(("… min – max", {k: (min(v), max(v)) for k, v in samples.items()}, "",
                 lambda v: f"{fmt(v[0])} – {fmt(v[1])}", False))


def boot_rows(ctx, res):
    boots = res.get("boots", {})
    vigild = boots.get("vigild", [])
    secs, ms = (lambda v: f"{v:.3f}"), (lambda v: f"{v:.1f}")
    rows = [(f"boots whose test passed, of {ctx.rounds}", {k: len(v) for k, v in boots.items()}, "", str, False)]
    spread(rows, "kernel start → the kernel runs /init (its own boot), s, median",
           {k: [r["exec"] for r in v] for k, v in boots.items()}, secs, False)
    spread(rows, "the kernel runs /init → PID 1 has mounted /proc, /sys, /dev (vigild: in its first service), "
           "ms, median", {k: [(r["init"] - r["exec"]) * 1000 for r in v] for k, v in boots.items()}, ms, True)
    spread(rows, "kernel start → PID 1 has mounted /proc, /sys, /dev, s, median",
           {k: [r["init"] for r in v] for k, v in boots.items()}, secs, True)
    spread(rows, "vigild's first service → every service up or listening, ms, median",
           {"vigild": [(r["up"] - r["init"]) * 1000 for r in vigild]}, ms, False)
    spread(rows, "kernel start → every service up or listening, s, median",
           {"vigild": [r["up"] for r in vigild]}, secs, False)
    spread(rows, "qemu start → `reboot: Power down` (host clock; vigild: after the test's whole scenario), s, median",
           {k: [r["host"] for r in v] for k, v in boots.items()}, (lambda v: f"{v:.2f}"), False)
    return rows


def size_rows(res):
    sizes = res.get("sizes", {})
    x86 = sizes.get("x86_64", {})

    def fmt(v):
        return f"{v} ({v / 1024:.1f} KiB)"

    return [
        ("static binary, stripped, bytes, x86_64", x86,
         target_text("≤ 160 KiB", x86.get("vigild"), lambda v: v <= SIZE_TARGET), fmt, True),
        ("static binary, stripped, bytes, aarch64 (no arm64 peers installed)", sizes.get("aarch64", {}), "", fmt,
         False),
    ]


def uptime_offset(boots):
    """The test's /proc/uptime figure for an init's first mounts minus the
    kernel's stamp of the same moment, ms, median over every boot."""
    offsets = [(r["uptime"][0] - r["init"]) * 1000 for v in boots.values() for r in v]
    return statistics.median(offsets) if offsets else None


def kernel_command_line(repo):
    with open(os.path.join(repo, "tests", "boot.rs")) as f:
        found = APPEND.search(f.read())
    return found[1] if found else "?"


def report(ctx, res, args):
    brs, srs = boot_rows(ctx, res), size_rows(res)
    boots = res.get("boots", {})
    out = ["## Boot", "",
           f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}, command `{args.command}` "
           "(`benches/run` runs it too).", "",
           f"- machine: {machine()}",
           f"- load average (1, 5, 15 min) at start: {res['load'][0]}; at end: {res['load'][1]}",
           f"- versions: {res['versions']}",
           "- guest: `qemu-system-x86_64 -accel tcg -m 256 -smp 1` (software emulation, no KVM), kernel command "
           f"line `{kernel_command_line(args.repo)}`; the initramfs of tests/boot.rs: BusyBox, `/init` (vigild, or "
           "tests/boot/busybox-init.sh) and, for vigild, its configuration, scripts and examples/activated"]
    if ctx.busy:
        out.append(f"- CPUs busy with other processes just before the boots: median "
                   f"{statistics.median(ctx.busy):.0%}, max {max(ctx.busy):.0%}")
    out += [""] + ratio_table(brs, INITS, INITS[1:], "vigild") + [""] + boot_legend(ctx, res) + [""]
    out += ratio_table(srs, BINARIES, BINARIES[1:], "vigild") + [""] + size_legend() + [""]
    if any(boots.values()):
        out += ["Each boot in turn, /init run → mounted, ms: " + "; ".join(
            f"{k} " + ", ".join(f"{(r['init'] - r['exec']) * 1000:.1f}" for r in v)
            for k, v in boots.items() if v) + ".", ""]
    out += not_measured(res.get("failed"))
    out += report_end(ctx, [label for label, _, tgt, _, _ in brs + srs if "**" in tgt])
    return "\n".join(out)


def boot_legend(ctx, res):
    offset = uptime_offset(res.get("boots", {}))
    offset_text = (f"; in this run they were {offset:+.0f} ms off the stamps (median), the two clocks' zeros "
                   "and the fork together") if offset is not None else ""
    size = res.get("initramfs", {})
    size_text = (f" (vigild's archive {size['vigild'] / 1024:.0f} KiB, BusyBox's {size['BusyBox init'] / 1024:.0f} "
                 "KiB)") if len(size) == len(INITS) else ""
    return [
        f"- {ctx.rounds} boot{'s' if ctx.rounds != 1 else ''} per init, interleaved (the order rotates every "
        "round), each one run of the test function after a quiet machine; a boot counts only if its test "
        "passed (vigild's checks every service, the loopback clients, SIGKILLs, 50 orphans and the ordered "
        "shutdown).",
        "- Guest times are the kernel's printk stamps (µs, of its local_clock, which starts early in the kernel's "
        "start) of markers the guest writes to /dev/kmsg at level 2, below the console's loglevel=3, so that "
        "they reach the console. The test's own figures come from /proc/uptime: 10 ms steps, a clock that starts "
        f"a little apart, read by a forked `cat` after the marker{offset_text}.",
        "- The kernel runs /init: the stamp of its own `Run /init as init process` (info level, not on the "
        "console), which it logs just before it executes /init; the guest reads it from /dev/kmsg after its "
        "marker. The kernel's boot up to there varies by up to a second from boot to boot under emulation, "
        "which the row after it leaves out.",
        "- Both inits do the same before their marker: BusyBox's /init is a shell script that mounts /proc, /sys "
        "and /dev; vigild reads /etc/vigild.conf and starts its first service, `mounts`, a shell script that "
        "mounts the same. The difference is vigild's own start and one more fork and exec of the shell; from "
        "the kernel's start, also the kernel unpacking vigild's larger initramfs before it runs /init"
        f"{size_text}.",
        "- All up: the `allup` oneshot, which runs after `lo` (a oneshot), `ticker` (a daemon) and the activate "
        "and accept services (listening), has started.",
        "- Host: qemu's start to the kernel's `reboot: Power down` line on the console, as the test prints it "
        "(10 ms). vigild's boot runs the test's whole scenario first (socket clients, 50 orphans, about 3 s of "
        "sleeps in chaos.sh, a command typed into the rescue shell on the console, the ordered shutdown); BusyBox's powers off right after its marker: not comparable, "
        "so no ratio.",
        "- Times are those of software emulation, many times a real machine's; what counts is the comparison in "
        "one run.",
    ]


def size_legend():
    return [
        "- vigild: this tree's release build for x86_64-unknown-linux-musl stripped with binutils `strip`, and for "
        "aarch64-unknown-linux-musl with the Rust toolchain's llvm-strip. BusyBox: Debian busybox-static's "
        f"`{BUSYBOX}`, as shipped (static, stripped): its init is one applet of this one binary, which an initramfs "
        f"carries whole (the boot test's does). tini: Debian tini's `{TINI}`, as shipped (static glibc, stripped). "
        "The peers are this machine's amd64 packages: the aarch64 row has vigild only. Ratios are vigild ÷ peer; "
        "the target is .ci/run's (x86_64).",
    ]


def main():
    ap = part_parser("Boot", "boot", ROUNDS, "boots per init")
    ap.add_argument("--vigild", help="vigild for x86_64, stripped (its size; the boot test boots its own build)")
    ap.add_argument("--vigild-aarch64", help="vigild for aarch64, stripped")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds: at least 1")
    return part_main(args, Ctx(args), versions, run_all, lambda ctx, res: report(ctx, res, args), "Boot")


if __name__ == "__main__":
    sys.exit(main())

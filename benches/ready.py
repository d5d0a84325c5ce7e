#!/usr/bin/env python3
"""Readiness: how long vigild takes to show that a service said it is ready,
next to s6's notification-fd: the measurements behind `benches/run ready`
(which builds everything, then runs this file).

Standard library only; the /proc helpers and the quiet-machine wait are
bench.py's. Every supervisor runs under `reap` (reap.c), its pid in
TMP/pids for `benches/run`'s clean-up.

The service is `readysvc` (readysvc.c): static C; it sleeps READY_DELAY_MS
(20) after exec, so the spawn is long over, then reads CLOCK_MONOTONIC and
at once sends READY=1 on $NOTIFY_SOCKET (vigild ready = notify) or writes a
newline to fd $READY_FD (vigild ready = fd:3, s6's notification-fd 3), and
only then appends "PID READY_NS" to $BENCH_OUT. The stopwatch is
`readywatch` (readywatch.c): it arms itself, starts the service, and reads
the same clock when the supervisor shows it ready. Three ways to look:

  status   the status file says ready, nobody waiting on a reply: vigild's
           RUN_DIR/status gets "NAME state=up " (started by a bare
           `start NAME` line in the control FIFO); s6's supervise/status gets
           a pid and the ready flag (started by `s6-svc -u`). Seen with
           inotify (IN_MOVED_TO, the rename of the new file into place): the
           stopwatch sleeps in read(2) and reads the clock when it returns,
           then checks the file. Not a busy poll: on 2 CPUs a spinning
           reader takes one of them from the supervisor, the service and the
           client, and changes what is measured. The method's own floor
           (a process stamps the clock, renames a file; the stopwatch wakes)
           is measured in the same run and reported.
  waited   the same, while `vigilctl start NAME` (s6: `s6-svc -uwU`) waits:
           vigild writes the file before it answers.
  ctl      READY=1 → the waiting `vigilctl start NAME` (s6: `s6-svc -uwU`)
           has exited (waitpid(2) in the stopwatch returns).

ROUNDS starts per setup and way, interleaved (the order rotates every
round); between two starts the service is stopped (`vigilctl stop NAME`,
`s6-svc -dwD`). All of it with the directories in TMP (where the rest of
the benchmark runs), and status and ctl again with them on tmpfs (--shm;
/run is tmpfs on most systems): replacing a file by rename(2) costs very
different amounts on the two.
"""

import datetime
import os
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ left in benches/
from bench import (PartCtx, cpu_times, fs_type, kill_tree, log, machine, not_measured, package_version,  # noqa: E402
                   part_main, part_parser, pct, proc_table, ratio, read_records, report_end, target_text,
                   vigild_version, wait_quiet)

SETUPS = ["vigild", "vigild-fd", "s6"]  # vigild ready = notify; ready = fd:3; s6 notification-fd 3
WAYS = ["status", "waited", "ctl"]
# (setup, file system, way) measured: everything with the directories in TMP
# (where the rest of the benchmark runs), the main cases again on tmpfs
# (where /run usually is): the status file's rename costs differ.
COMBOS = ([(s, "tmp", w) for s in SETUPS for w in WAYS]
          + [(s, "shm", w) for s in ("vigild", "s6") for w in ("status", "ctl")])
ROUNDS = 100
READY_DELAY_MS = 20
CALIB_SAMPLES = 100
QUIET_EVERY = 25  # rounds between two checks that the machine is quiet
QUIET_BUDGET = 60.0  # s, in total, the run may wait for the machine to calm down
TARGET_US = 2000  # READY=1 → up visible in the status file, median
NAME = "svc"


class Ctx(PartCtx):
    def __init__(self, args):
        super().__init__(args, QUIET_BUDGET)
        self.watch = os.path.join(self.bin, "readywatch")
        self.svc = os.path.realpath(os.path.join(self.bin, "readysvc"))
        self.base = {"tmp": args.tmp, "shm": args.shm}
        self.vigilctl = os.path.join(self.bin, "vigilctl")  # a symlink to vigild


class Failed(Exception):
    pass


class Sup:
    """One supervisor with one service, down until started."""

    def __init__(self, ctx, setup, fs):
        self.ctx, self.setup, self.fs = ctx, setup, fs
        self.dir = os.path.join(ctx.base[fs], f"ready-{setup}")
        os.makedirs(self.dir)
        self.out = os.path.join(self.dir, "out")
        self.logfile = os.path.join(self.dir, "log")
        env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "READY_DELAY_MS": str(READY_DELAY_MS)}
        if setup.startswith("vigild"):
            self.run = os.path.join(self.dir, "run")
            lines = ["[vigild]", f"run_dir = {self.run}", "", f"[{NAME}]", f"exec = {ctx.svc}",
                     "autostart = no", "log = null", f"env = BENCH_OUT={self.out}"]
            lines += ["ready = notify"] if setup == "vigild" else ["ready = fd:3", "env = READY_FD=3"]
            conf = os.path.join(self.dir, "vigild.conf")
            with open(conf, "w") as f:
                f.write("\n".join(lines) + "\n")
            self.cmd = [ctx.vigild, "-f", "-c", conf]
            self.watched = (self.run, "status", f"line:{NAME} state=up ")
        else:
            self.scan = os.path.join(self.dir, "scan")
            self.sdir = os.path.join(self.scan, NAME)
            os.makedirs(self.sdir)
            os.symlink(ctx.svc, os.path.join(self.sdir, "run"))
            with open(os.path.join(self.sdir, "notification-fd"), "w") as f:
                f.write("3\n")
            open(os.path.join(self.sdir, "down"), "w").close()  # down until s6-svc -u
            env.update(READY_FD="3", BENCH_OUT=self.out)  # s6-supervise passes its environment on
            self.cmd = ["/usr/bin/s6-svscan", self.scan]
            self.watched = (os.path.join(self.sdir, "supervise"), "status", "s6ready")
        self.env = env
        self.wpid = None

    def start(self, timeout=5.0):
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, self.logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
        self.wpid = os.posix_spawn(self.ctx.reap, [self.ctx.reap, os.path.join(self.dir, "rusage")] + self.cmd,
                                   self.env, file_actions=actions, setpgroup=0)
        self.ctx.live.add(self.wpid)
        with open(self.ctx.pidfile, "a") as f:
            f.write(f"{self.wpid}\n")
        ready = os.path.join(self.watched[0], self.watched[1])
        deadline = time.monotonic() + timeout
        while not os.path.exists(ready):
            if os.waitpid(self.wpid, os.WNOHANG) != (0, 0):
                self.ctx.live.discard(self.wpid)
                raise Failed(f"{self.setup} exited at start (log: {self.logfile}: {self.log_head()})")
            if time.monotonic() > deadline:
                raise Failed(f"{self.setup}: no {ready} after {timeout:.0f} s (log: {self.logfile})")
            time.sleep(0.01)
        return self

    def log_head(self):
        try:
            with open(self.logfile) as f:
                return " / ".join(line.strip() for line in f if line.strip()) or "(no output)"
        except OSError:
            return "(no output)"

    def ctl(self, verb):
        """The command that starts (and waits for up) or stops (and waits for down)."""
        if self.setup.startswith("vigild"):
            return [self.ctx.vigilctl, "-r", self.run, verb, NAME]
        return ["/usr/bin/s6-svc", "-T", "5000", {"start": "-uwU", "stop": "-dwD"}[verb], self.sdir]

    def trigger(self, way):
        """How readywatch starts the service in this way."""
        if way != "status":
            return ["cmd"] + self.ctl("start")
        if self.setup.startswith("vigild"):
            return ["fifo", os.path.join(self.run, "control"), f"start {NAME}"]
        return ["cmd", "/usr/bin/s6-svc", "-u", self.sdir]

    def one(self, way):
        """Start the service once; (READY=1 → shown, µs; trigger → READY=1, ms). Stops it after."""
        count = len(read_records(self.out))
        watch = [self.ctx.watch, "exit"] if way == "ctl" else [self.ctx.watch, "file", *self.watched]
        r = subprocess.run(watch + self.trigger(way), capture_output=True, text=True, timeout=30)
        try:
            if r.returncode != 0 or "event_ns=" not in r.stdout:
                raise Failed(f"{self.setup} {way}: readywatch failed: {r.stderr.strip() or r.stdout.strip()}")
            d = dict(kv.split("=", 1) for kv in r.stdout.split())
            if d["rc"] != "0":
                raise Failed(f"{self.setup} {way}: the start command exited {d['rc']}: {r.stderr.strip()}")
            deadline = time.monotonic() + 2
            while len(read_records(self.out)) <= count:  # readysvc appends after sending
                if time.monotonic() > deadline:
                    raise Failed(f"{self.setup} {way}: no record from the service")
                time.sleep(0.001)
            _, ready_ns = read_records(self.out)[count]
            trigger_ns, event_ns = int(d["trigger_ns"]), int(d["event_ns"])
            if ready_ns < trigger_ns:
                raise Failed(f"{self.setup} {way}: a READY=1 stamped before the start")
            return (event_ns - ready_ns) / 1000, (ready_ns - trigger_ns) / 1e6
        finally:
            self.stop_service()

    def stop_service(self):
        r = subprocess.run(self.ctl("stop"), capture_output=True, text=True, timeout=15)
        if r.returncode != 0:
            raise Failed(f"{self.setup}: stop failed ({r.returncode}): {r.stdout.strip()} {r.stderr.strip()}")

    def stop(self, timeout=10.0):
        if self.wpid not in self.ctx.live:
            return
        if self.setup.startswith("vigild"):
            for pid in [p for p, (pp, _) in proc_table().items() if pp == self.wpid][:1]:
                os.kill(pid, signal.SIGTERM)
        else:
            subprocess.run(["/usr/bin/s6-svscanctl", "-t", self.scan], check=False)
        deadline = time.monotonic() + timeout
        while os.waitpid(self.wpid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                self.ctx.warn(f"{self.setup} did not stop within {timeout:.0f} s; killed")
                kill_tree(self.wpid)
                break
            time.sleep(0.01)
        self.ctx.live.discard(self.wpid)


# ----------------------------------------------------------- measurements ----

def calibrate(ctx, res, fs):
    """The stopwatch's floor: rename(2) by one process → the blocked reader wakes."""
    d = os.path.join(ctx.base[fs], "ready-calib")
    os.makedirs(d, exist_ok=True)
    r = subprocess.run([ctx.watch, "calib", d, str(CALIB_SAMPLES)], capture_output=True, text=True, timeout=60)
    if r.returncode == 0 and "calib_ns=" in r.stdout:
        c = res.setdefault("calib", {})[fs] = [int(x) / 1000 for x in r.stdout.split("=", 1)[1].split(",")]
        log(f"method floor ({fs}): rename → inotify reader awake: median {statistics.median(c):.0f} µs, "
            f"p90 {pct(c, 90):.0f} µs")
    else:
        ctx.warn(f"calibration ({fs}) failed: {r.stderr.strip()}")


def run_all(ctx, res):
    combos = [c for c in COMBOS if (ctx.vigild or c[0] == "s6") and ctx.base[c[1]]]
    if not ctx.vigild:
        res.setdefault("failed", {})["vigild"] = "no vigild binary (the build failed)"
    sups = {}
    for setup, fs in dict.fromkeys((s, f) for s, f, _ in combos):
        try:
            sups[(setup, fs)] = Sup(ctx, setup, fs).start()
        except Failed as e:
            ctx.warn(str(e))
            res.setdefault("failed", {})[f"{setup} ({fs})"] = str(e)
    combos = [c for c in combos if c[:2] in sups]
    samples = res.setdefault("samples", {})  # (setup, fs, way) -> [µs]
    lead = res.setdefault("lead", {})  # (setup, fs, way) -> [ms, trigger → READY=1]
    try:
        for setup, fs, way in combos:  # warm-up: pages in, and proof that it works
            try:
                sups[(setup, fs)].one(way)
            except Failed as e:
                ctx.warn(f"warm-up: {e}")
        for fs in dict.fromkeys(f for _, f, _ in combos):
            calibrate(ctx, res, fs)
        busy0 = cpu_times()
        for rnd in range(ctx.rounds):
            if rnd % QUIET_EVERY == 0:
                wait_quiet(ctx, f"readiness round {rnd + 1}")
            k = rnd % len(combos)
            for combo in combos[k:] + combos[:k]:
                try:
                    us, ms = sups[combo[:2]].one(combo[2])
                except (Failed, subprocess.TimeoutExpired) as e:
                    ctx.warn(str(e))
                    res.setdefault("errors", {}).setdefault(combo, 0)
                    res["errors"][combo] += 1
                    continue
                samples.setdefault(combo, []).append(us)
                lead.setdefault(combo, []).append(ms)
                time.sleep(0.005)
        busy1 = cpu_times()
        res["busy_rounds"] = 1 - (busy1[1] - busy0[1]) / max(1, busy1[0] - busy0[0])
        for combo in combos:
            v = samples.get(combo)
            if v:
                log(f"{combo[0]:9s} {combo[1]} {combo[2]:6s}: median {statistics.median(v):6.0f} µs, "
                    f"p90 {pct(v, 90):6.0f} µs (min {min(v):.0f}, max {max(v):.0f}, n={len(v)})")
        if ("vigild", "tmp") in sups:
            with open(os.path.join(sups[("vigild", "tmp")].run, "status")) as f:
                res["vigild_status"] = f.read().strip()
    finally:
        for sup in sups.values():
            sup.stop()


# ----------------------------------------------------------------- report ----

COLS = SETUPS
HEAD = {"vigild": "vigild, ready = notify", "vigild-fd": "vigild, ready = fd:3", "s6": "s6, notification-fd"}


def versions(repo):
    return f"{vigild_version(repo)}, s6 {package_version('s6')} (Debian package)"


def fs_label(ctx, fs):
    return f"{fs_type(ctx.base[fs])} ({os.path.dirname(ctx.base[fs].rstrip('/'))})"


def rows(ctx, res):
    """(label, {setup: µs}, target text) per table row."""
    s = res.get("samples", {})
    what = {
        "status": "READY=1 sent → ready in the status file, nobody waiting",
        "waited": "READY=1 sent → ready in the status file while `vigilctl start` (s6: `s6-svc -uwU`) waits",
        "ctl": "READY=1 sent → `vigilctl start` has exited with `up` (s6: `s6-svc -uwU` has exited)",
    }
    out = []
    for fs in dict.fromkeys(f for _, f, _ in COMBOS):
        for way in WAYS:
            have = {c: s[(c, fs, way)] for c in COLS if s.get((c, fs, way))}
            if not have:
                continue
            med = {c: statistics.median(v) for c, v in have.items()}
            tgt = ""
            if way in ("status", "waited"):
                tgt = target_text(f"≤ {TARGET_US / 1000:g} ms", med.get("vigild"), lambda v: v <= TARGET_US)
            n = min(len(v) for v in have.values())
            out.append((f"{what[way]}, directories on {fs_label(ctx, fs)}, µs, median of {n}", med, tgt))
            out.append(("… p90", {c: pct(v, 90) for c, v in have.items()}, ""))
    return out


def table(rs):
    lines = ["| measurement | " + " | ".join(HEAD[c] for c in COLS) + " | vigild/s6 | vigild fd:3/s6 | vigild target |",
             "|---|" + "---:|" * (len(COLS) + 2) + "---|"]
    for label, vals, tgt in rs:
        cells = [label] + [f"{vals[c]:.0f}" if c in vals else "—" for c in COLS]
        cells += [ratio(vals.get("vigild"), vals.get("s6")), ratio(vals.get("vigild-fd"), vals.get("s6"))]
        lines.append("| " + " | ".join(cells + [tgt]) + " |")
    return lines


def report(ctx, res, args):
    rs = rows(ctx, res)
    out = ["## Readiness", "",
           f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}, command `{args.command}` "
           "(`benches/run` runs it too).", "",
           f"- machine: {machine()}",
           f"- load average (1, 5, 15 min) at start: {res['load'][0]}; at end: {res['load'][1]}",
           f"- versions: {res['versions']}",
           f"- service: `readysvc` (benches/readysvc.c), static; {READY_DELAY_MS} ms after exec it reads "
           "CLOCK_MONOTONIC and sends READY=1 (vigild ready = notify: one datagram on NOTIFY_SOCKET) or writes a "
           "newline to fd 3 (vigild ready = fd:3; s6: notification-fd 3), then pauses; stopwatch: `readywatch` "
           "(benches/readywatch.c), the same clock",
           "- status file: vigild's RUN_DIR/status shows `" + NAME + " state=up`; s6's supervise/status has a pid "
           "and the ready flag"]
    if ctx.busy:
        out.append(f"- CPUs busy with other processes just before the rounds: median "
                   f"{statistics.median(ctx.busy):.0%}, max {max(ctx.busy):.0%}; during the rounds "
                   f"(harness included): {res.get('busy_rounds', 0):.0%}")
    out += [""] + table(rs) + [""]
    calib = res.get("calib", {})
    if calib:
        parts = [f"{statistics.median(c):.0f} µs on {fs_label(ctx, fs)} (p90 {pct(c, 90):.0f})"
                 for fs, c in calib.items()]
        out += ["Method floor on this machine, same run: a process renames a file into a directory while the "
                "stopwatch waits in read(2) on inotify; from just before the rename(2) to the stopwatch awake, "
                f"median of {CALIB_SAMPLES}: " + ", ".join(parts) + ". Every status-file figure above includes "
                "one such rename and wake-up.", ""]
    out += legend(ctx) + [""]
    out += raw_lines(ctx, res) + [""]
    if res.get("vigild_status"):
        out += [f"vigild status after the rounds: `{res['vigild_status']}`", ""]
    out += not_measured(res.get("failed"))
    if res.get("errors"):
        out += ["Failed starts (left out): " + "; ".join(f"{' '.join(c)}: {n}" for c, n in res["errors"].items())
                + ".", ""]
    out += report_end(ctx, [label for label, _, tgt in rs if "**" in tgt])
    return "\n".join(out)


def legend(ctx):
    return [
        f"- {ctx.rounds} starts per row group and column, interleaved (the order rotates every round); the "
        "service is stopped between two starts (`vigilctl stop`, `s6-svc -dwD`). Ratios are vigild ÷ s6.",
        "- status file: readywatch waits in read(2) on an inotify descriptor for the rename of the new file into "
        "place (IN_MOVED_TO), reads the clock as soon as read(2) returns, then reads the file; the first "
        "reading whose file shows the service ready counts. Inotify, not a busy poll: on 2 CPUs a spinning "
        "reader would take a CPU from the supervisor, the service and the client, and change what is measured. "
        f"Nobody waiting: vigild started by a bare `start {NAME}` line in its control FIFO, s6 by `s6-svc -u`; "
        "vigild rewrites the file at the end of the loop turn of a change (1 ms later only when that turn "
        "spawned a process), and always before it answers a request.",
        "- vigilctl start: readywatch spawns `vigilctl -r RUN start NAME` (s6: `s6-svc -uwU DIR`, which waits "
        "for up and ready through s6-svlisten1) and reads the clock when waitpid(2) returns.",
    ]


def raw_lines(ctx, res):
    s = res.get("samples", {})
    out = ["Raw samples, µs, in run order:", ""]
    for setup, fs, way in COMBOS:
        v = s.get((setup, fs, way))
        if v:
            out.append(f"- {setup} {way} ({fs_type(ctx.base[fs])}): " + " ".join(f"{x:.0f}" for x in v))
    for fs, c in res.get("calib", {}).items():
        out.append(f"- method floor ({fs_type(ctx.base[fs])}): " + " ".join(f"{x:.0f}" for x in c))
    lead = res.get("lead", {})
    if lead:
        allms = [m for v in lead.values() for m in v]
        out += ["", f"Start command → READY=1 sent (the service's {READY_DELAY_MS} ms included), ms: median "
                f"{statistics.median(allms):.1f}, min {min(allms):.1f}, max {max(allms):.1f}."]
    return out


def main():
    ap = part_parser("Readiness", "ready", ROUNDS, "starts per setup and way")
    ap.add_argument("--vigild", help="vigild binary; none: measure s6 only")
    ap.add_argument("--shm", help="an empty directory on tmpfs for the second set (none: not measured)")
    args = ap.parse_args()
    return part_main(args, Ctx(args), versions, run_all, lambda ctx, res: report(ctx, res, args), "Readiness")


if __name__ == "__main__":
    sys.exit(main())

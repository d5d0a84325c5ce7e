#!/usr/bin/env python3
"""vigil-log (vigild's logger) next to s6-log and runit's svlogd: the
measurements behind `benches/run log` (which builds everything, then runs
this file).

Standard library only; the /proc helpers and the quiet-machine wait are
bench.py's. Every logger runs under `reap` (reap.c), its pid in TMP/pids
for `benches/run`'s clean-up; it reads a file and exits at its end anyway.

The input is LINES lines of LINE bytes (a 9-digit sequence number, then
text), written once to a file on tmpfs (--shm) that is the logger's stdin,
so nothing but the logger works while it is timed. Each logger stamps every
line and writes to a new log directory in TMP, rotating at 1 MiB and
keeping 10 old files:

  vigil-log -s 1048576 -n 10 DIR        (its default stamp, RFC 3339 UTC)
  s6-log n10 s1048576 t DIR             (TAI64N stamps)
  svlogd -tt DIR, DIR/config: s1048576 n10  (UTC YYYY-MM-DD_HH:MM:SS.xxxxx)

  1. check: one untimed run per logger that keeps up to 1000 old files, so
     the log directory must hold the whole input, byte for byte once the
     stamps are taken off; the logger's Rss and Pss are sampled from
     /proc/PID/smaps_rollup every SAMPLE_S meanwhile. (Not ru_maxrss: a
     child that Python spawns inherits Python's high-water mark through
     exec(2), and on this kernel the RSS counters behind it are per-CPU,
     folded in batches of 32 pages or more, so a logger of a few dozen
     pages can read 0.)
  2. throughput: ROUNDS timed runs per logger, interleaved (the order
     rotates every round), each after sync(2) and a quiet machine: lines ÷
     the time from the start of the logger to its exit at the end of the
     input. After each run the kept files (old files by name, then
     `current`) must be exactly the end of the input, from a line's start;
     a run that fails the check is reported and left out of the medians.
"""

import datetime
import mmap
import os
import re
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ left in benches/
from bench import (PartCtx, exe, fs_type, log, machine, not_measured, package_version, part_main,  # noqa: E402
                   part_parser, proc_table, ratio_table, report_end, smaps_rollup, target_text,
                   vigild_version, wait_quiet)

LOGGERS = ["vigil-log", "s6-log", "svlogd"]
PEERS = LOGGERS[1:]
LINES = 4_000_000
LINES_MAX = 10_000_000  # the check run's log must fit in 1000 old files (vigil-log's largest -n)
LINE = 60  # bytes per input line, newline included
FILL = "the quick brown fox jumps over the lazy dog 0123456789"[:LINE - 11]
SIZE = 1 << 20  # rotation
KEEP = 10  # old files kept in the timed runs
CHECK_KEEP = 1000  # in the check run
ROUNDS = 5
SAMPLE_S = 0.01
QUIET_BUDGET = 60.0  # s, in total, the run may wait for the machine to calm down
ENV = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
STAMP = {  # each logger's stamp and the space after it, at the start of a line
    "vigil-log": re.compile(rb"(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "),
    "s6-log": re.compile(rb"(?m)^@[0-9a-f]{24} "),
    "svlogd": re.compile(rb"(?m)^\d{4}-\d\d-\d\d_\d\d:\d\d:\d\d\.\d{5} "),
}


class Ctx(PartCtx):
    def __init__(self, args):
        super().__init__(args, QUIET_BUDGET)
        self.vigil_log = os.path.join(self.bin, "vigil-log")  # a symlink to vigild
        self.lines = args.lines
        self.input = os.path.join(args.shm or args.tmp, "log-input")
        self.data = None  # the input, mapped
        self.counter = 0


class Failed(Exception):
    pass


def make_input(ctx):
    with open(ctx.input, "w") as f:
        for first in range(0, ctx.lines, 100_000):
            f.write("".join(f"{i:09d} {FILL}\n" for i in range(first, min(ctx.lines, first + 100_000))))
    with open(ctx.input, "rb") as f:
        ctx.data = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)


def command(ctx, kind, d, keep):
    if kind == "vigil-log":
        return [ctx.vigil_log, "-s", str(SIZE), "-n", str(keep), d]
    if kind == "s6-log":
        return ["/usr/bin/s6-log", f"n{keep}", f"s{SIZE}", "t", d]
    with open(os.path.join(d, "config"), "w") as f:
        f.write(f"s{SIZE}\nn{keep}\n")
    return ["/usr/bin/svlogd", "-tt", d]


def run_once(ctx, kind, keep, sample=False):
    """The input through one logger that keeps `keep` old files, under
    reap; back when it has exited. {secs: start → exit, cpu: its user+system
    s, dir: the log directory, run: the run's directory, peak: with `sample`
    (Rss, Pss) KiB at most}."""
    ctx.counter += 1
    run = os.path.join(ctx.tmp, f"log-{ctx.counter:02d}-{kind}")
    d = os.path.join(run, "dir")
    os.makedirs(d)
    cmd = command(ctx, kind, d, keep)
    out = os.path.join(run, "out")
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, ctx.input, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    t0 = time.monotonic()
    wpid = os.posix_spawn(ctx.reap, [ctx.reap, os.path.join(run, "rusage")] + cmd, ENV,
                          file_actions=actions, setpgroup=0)
    ctx.live.add(wpid)
    with open(ctx.pidfile, "a") as f:
        f.write(f"{wpid}\n")
    peak = None
    if sample:
        peak = sample_memory(wpid, os.path.realpath(cmd[0]))
    else:
        os.waitpid(wpid, 0)
    secs = time.monotonic() - t0
    ctx.live.discard(wpid)
    with open(os.path.join(run, "rusage")) as f:
        utime, stime, status = (int(x) for x in f.read().split())
    if status != 0:
        with open(out) as f:
            said = " / ".join(line.strip() for line in f if line.strip()) or "(no output)"
        raise Failed(f"{kind} ended with wait status {status:#x}: {said}")
    return {"secs": secs, "cpu": (utime + stime) / 1e6, "dir": d, "run": run, "peak": peak}


def sample_memory(wpid, program):
    """Until reap (`wpid`) has exited: every SAMPLE_S, the Rss and Pss of
    its child once that runs `program`. The largest of each, KiB."""
    pid, rss, pss = None, 0, 0
    while os.waitpid(wpid, os.WNOHANG) == (0, 0):
        if pid is None:
            pid = next((p for p, (pp, _) in proc_table().items() if pp == wpid and exe(p) == program), None)
        if pid is not None:
            try:
                r, p = smaps_rollup(pid)
                rss, pss = max(rss, r), max(pss, p)
            except OSError:
                pass
        time.sleep(SAMPLE_S)
    return rss, pss


def check(ctx, kind, d, whole):
    """The log directory against the input: every line stamped as `kind`
    stamps, and the lines, stamps taken off, exactly the input (`whole`) or
    its end from a line's start. (lines, old files, largest file's bytes,
    what is wrong or None)."""
    names = sorted(n for n in os.listdir(d) if n.startswith("@"))  # old files, oldest first
    old = len(names)
    if os.path.exists(os.path.join(d, "current")):
        names.append("current")
    parts = []
    for name in names:
        with open(os.path.join(d, name), "rb") as f:
            parts.append(f.read())
    data = b"".join(parts)
    lines = data.count(b"\n")
    text, stamped = STAMP[kind].subn(b"", data)
    start = 0 if whole else len(ctx.data) - len(text)
    if stamped != lines:
        fault = f"{lines - stamped} of {lines} lines without a {kind} stamp"
    elif start < 0 or text != ctx.data[start:] or (start and ctx.data[start - 1] != ord("\n")):
        fault = difference(ctx, text, whole)
    else:
        fault = None
    return lines, old, max(map(len, parts), default=0), fault


def difference(ctx, text, whole):
    """In words: how the logged lines (stamps taken off) differ from the input."""
    got = text.split(b"\n")[:-1]
    seqs = [int(line[:9]) for line in got if line[:9].isdigit()]
    first = 0 if whole or not seqs else seqs[0]
    missing = sorted(set(range(first, ctx.lines)) - set(seqs))
    changed = sum(1 for line in got if not line[:9].isdigit() or line != f"{int(line[:9]):09d} {FILL}".encode())
    where = f" (the first: line {missing[0]})" if missing else ""
    return (f"{len(got)} lines where {ctx.lines - first} were expected: {len(missing)} missing{where}, "
            f"{len(seqs) - len(set(seqs))} repeated, {changed} changed")


def measure_check(ctx, res, kinds):
    """Untimed, first: the whole input must arrive; memory sampled meanwhile."""
    for kind in kinds:
        try:
            r = run_once(ctx, kind, CHECK_KEEP, sample=True)
        except Failed as e:
            ctx.warn(f"check run: {e}")
            continue
        lines, old, largest, fault = check(ctx, kind, r["dir"], whole=True)
        res.setdefault("check", {})[kind] = {"lines": lines, "old": old, "largest": largest, "fault": fault,
                                             "rss": r["peak"][0], "pss": r["peak"][1]}
        shutil.rmtree(r["run"])
        if fault:
            ctx.warn(f"{kind}, check run: {fault}")
        log(f"check  {kind:9s}: {lines} lines in {old} old files and current, {r['secs']:.2f} s, "
            f"peak Rss {r['peak'][0]} KiB, Pss {r['peak'][1]} KiB{': ' + fault if fault else ''}")


def measure_rate(ctx, res, kinds):
    runs = res.setdefault("runs", {})  # kind -> [run dicts]
    for rnd in range(ctx.rounds):
        order = kinds[rnd % len(kinds):] + kinds[:rnd % len(kinds)]
        for kind in order:
            os.sync()  # the last run's writes out of the way
            wait_quiet(ctx, f"{kind}, round {rnd + 1}")
            try:
                r = run_once(ctx, kind, KEEP)
            except Failed as e:
                ctx.warn(f"round {rnd + 1}: {e}")
                continue
            lines, old, largest, fault = check(ctx, kind, r["dir"], whole=False)
            shutil.rmtree(r["run"])
            r.update(rate=ctx.lines / r["secs"], lines=lines, old=old, largest=largest, fault=fault, round=rnd + 1)
            runs.setdefault(kind, []).append(r)
            log(f"rate   {kind:9s} round {rnd + 1}: {r['rate']:8.0f} lines/s ({r['secs']:.2f} s, CPU "
                f"{r['cpu']:.2f} s), {lines} lines kept in {old} old files and current"
                f"{': ' + fault if fault else ''}")
            if fault:
                ctx.warn(f"{kind}, round {rnd + 1}: {fault}")
            if old != KEEP and ctx.lines * LINE > (KEEP + 2) * SIZE:
                ctx.warn(f"{kind}, round {rnd + 1}: {old} old files kept, not {KEEP}")


def run_all(ctx, res):
    kinds = LOGGERS if ctx.vigild else PEERS
    if not ctx.vigild:
        res.setdefault("failed", {})["vigil-log"] = "no vigild binary (the build failed)"
    make_input(ctx)
    measure_check(ctx, res, kinds)
    measure_rate(ctx, res, kinds)


# ----------------------------------------------------------------- report ----

def versions(repo):
    return f"{vigild_version(repo)}, s6 {package_version('s6')}, runit {package_version('runit')} (Debian packages)"


def rows(ctx, res):
    """(label, {kind: value}, target text, fmt, ratios) per table row."""
    runs = res.get("runs", {})
    good = {k: [r for r in v if not r["fault"]] for k, v in runs.items()}
    rate = {k: statistics.median(r["rate"] for r in v) for k, v in good.items() if v}
    cpu = {k: statistics.median(r["cpu"] for r in v) for k, v in good.items() if v}
    chk = res.get("check", {})
    largest = {k: max([r["largest"] for r in runs.get(k, [])] + ([chk[k]["largest"]] if k in chk else []))
               for k in LOGGERS if k in runs or k in chk}
    bad = {k: sum(1 for r in runs.get(k, []) if r["fault"]) + bool(chk.get(k, {}).get("fault"))
           for k in LOGGERS if k in runs or k in chk}
    n = min((len(v) for v in runs.values()), default=0)
    return [
        (f"lines/s, median of {n} runs of {ctx.lines} lines (start → exit at the end of the input)", rate,
         target_text("≥ s6-log", rate.get("vigil-log"), lambda v: "s6-log" in rate and v >= rate["s6-log"]),
         lambda v: f"{v:.0f}", True),
        ("CPU s per run (user + system), median", cpu, "", lambda v: f"{v:.2f}", True),
        (f"peak RSS, KiB (/proc/PID/smaps_rollup every {SAMPLE_S * 1000:g} ms, check run)",
         {k: c["rss"] for k, c in chk.items() if c["rss"]}, "", str, True),
        ("peak PSS, KiB (same samples)", {k: c["pss"] for k, c in chk.items() if c["pss"]}, "", str, True),
        (f"largest log file, bytes (rotation at {SIZE})", largest, "", str, False),
        (f"runs whose log did not match the input (of {n} + the check run)", bad,
         target_text("0", bad.get("vigil-log"), lambda v: v == 0), str, False),
    ]


def table(rs):
    return ratio_table(rs, LOGGERS, PEERS, "vigil-log")


def report(ctx, res, args):
    rs = rows(ctx, res)
    where = os.path.dirname(ctx.input)  # --shm or TMP
    out = ["## Logging", "",
           f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}, command `{args.command}` "
           "(`benches/run` runs it too).", "",
           f"- machine: {machine()}",
           f"- load average (1, 5, 15 min) at start: {res['load'][0]}; at end: {res['load'][1]}",
           f"- versions: {res['versions']}",
           f"- input: {ctx.lines} lines of {LINE} bytes (a 9-digit sequence number, then text; "
           f"{ctx.lines * LINE / 1e6:.0f} MB), a file on {fs_type(where)} ({os.path.dirname(where.rstrip('/'))}) "
           f"that is the logger's stdin; log directories on {fs_type(ctx.tmp)} "
           f"({os.path.dirname(ctx.tmp.rstrip('/'))})",
           f"- loggers: `vigil-log -s {SIZE} -n {KEEP} DIR` (vigild as `vigil-log`, static; stamps RFC 3339 UTC "
           f"with ms, its default); `s6-log n{KEEP} s{SIZE} t DIR` (TAI64N); `svlogd -tt DIR` with `s{SIZE}` and "
           f"`n{KEEP}` in DIR/config (UTC, `YYYY-MM-DD_HH:MM:SS.xxxxx`); every stamp is followed by a space"]
    if ctx.busy:
        out.append(f"- CPUs busy with other processes just before the timed runs: median "
                   f"{statistics.median(ctx.busy):.0%}, max {max(ctx.busy):.0%}")
    out += [""] + table(rs) + [""] + legend(ctx) + [""]
    runs = res.get("runs", {})
    if runs:
        out += ["Runs, lines/s in run order: " + "; ".join(
            f"{k} " + ", ".join(f"{r['rate']:.0f}" + (" (failed the check)" if r["fault"] else "") for r in runs[k])
            for k in LOGGERS if k in runs) + ".", ""]
    faults = [f"{k}, check run: {c['fault']}" for k, c in res.get("check", {}).items() if c["fault"]]
    faults += [f"{k}, round {r['round']}: {r['fault']}" for k, v in runs.items() for r in v if r["fault"]]
    if faults:
        out += ["Logs that did not match the input:"] + [f"- {f}" for f in faults] + [""]
    out += not_measured(res.get("failed"))
    out += report_end(ctx, [label for label, _, tgt, _, _ in rs if "**" in tgt])
    return "\n".join(out)


def legend(ctx):
    return [
        f"- lines/s: {ctx.lines} lines ÷ the time from the logger's start (posix_spawn of its reap wrapper) to "
        f"its exit at the end of the input; {ctx.rounds} runs per logger, interleaved (the order rotates every "
        f"round), each after sync(2) and a quiet machine, with a new log directory. Ratios are vigil-log ÷ peer. "
        "CPU: the logger's user + system time (getrusage, through reap).",
        f"- check: after every run the lines of the kept files (old files by name, then `current`) must each start "
        f"with the logger's stamp and a space, and without those be exactly the end of the input, from a line's "
        f"start; a run that fails is left out of the medians. Before the timed runs, one untimed run per logger "
        f"keeps up to {CHECK_KEEP} old files, so there the log must be the whole input, byte for byte.",
        f"- memory: Rss and Pss of the logger from /proc/PID/smaps_rollup every {SAMPLE_S * 1000:g} ms during "
        "that check run, the largest seen; Pss shares the pages of shared libraries (s6-log, svlogd) among "
        "their users. Not ru_maxrss: through exec(2) it keeps the high-water mark of the spawning process, and "
        "the kernel's RSS counters behind it are per-CPU, folded in batches, so a small process can read 0.",
    ]


def main():
    ap = part_parser("Logging", "log", ROUNDS, "timed runs per logger")
    ap.add_argument("--vigild", help="vigild binary (TMP/bin/vigil-log links to it); none: measure the peers only")
    ap.add_argument("--shm", help="a directory on tmpfs for the input file (none: TMP)")
    ap.add_argument("--lines", type=int, default=LINES, help="input lines per run")
    args = ap.parse_args()
    if not 1 <= args.lines <= LINES_MAX:
        ap.error(f"--lines: 1 to {LINES_MAX}")
    return part_main(args, Ctx(args), versions, run_all, lambda ctx, res: report(ctx, res, args), "Logging")


if __name__ == "__main__":
    sys.exit(main())

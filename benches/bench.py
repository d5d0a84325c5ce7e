#!/usr/bin/env python3
"""vigild next to s6, runit and daemontools: the measurements behind
`benches/run` (which builds everything, then runs this file).

Standard library only. Every supervisor is started under `reap` (a tiny
subreaper, see reap.c), so its whole process tree is known, is reaped, and
is cleaned up by pid at the end. Services are `svc` (svc.c): a static C
program that first thing in main appends "PID MONOTONIC_NS" to $BENCH_OUT.
"""

import argparse
import datetime
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import time

KINDS = ["vigild", "s6", "runit", "daemontools"]
PEERS = KINDS[1:]
CLK_TCK = os.sysconf("SC_CLK_TCK")
IDLE_SECONDS = 10
IDLE_SERVICES = 100
LATENCY_ROUNDS = 25
LATENCY_SPACING = 1.1  # s between two kills of the same supervisor's service
STARTUP_REPS = 3  # runs of the 1000-service start, interleaved across supervisors
CRASH_SECONDS = 20
UPGRADE_ROUNDS = 20  # reloads and re-executions of one vigild with IDLE_SERVICES services
QUIET_BUSY = 0.15  # other load tolerated before a timed measurement (fraction of all CPUs)
QUIET_BUDGET = 90.0  # s, in total, the run may wait for the machine to calm down


def now_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- /proc ----

def proc_table():
    """{pid: (ppid, fields after the comm)} for every process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2:].split()
        table[int(name)] = (int(fields[1]), fields)
    return table


def descendants(root, table=None):
    table = table if table is not None else proc_table()
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def exe(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def smaps_rollup(pid):
    """(Rss, Pss) in KiB."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def ctx_switches(pid):
    total = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
    except OSError:
        pass
    return total


def cpu_times():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields[:8]), fields[3] + fields[4]  # total, idle + iowait


def cpu_busy(seconds):
    """Fraction of all CPUs busy during the next `seconds`."""
    t0, i0 = cpu_times()
    time.sleep(seconds)
    t1, i1 = cpu_times()
    return 1 - (i1 - i0) / max(1, t1 - t0)


def wait_quiet(ctx, what):
    """Before a timed measurement: wait (within the run's budget) until
    other processes leave the CPUs mostly idle. Returns the busy fraction
    seen last, and remembers it for the report."""
    while True:
        busy = cpu_busy(0.5)
        if busy <= QUIET_BUSY or ctx.quiet_budget <= 0:
            break
        ctx.quiet_budget -= 0.5
    ctx.busy.append(busy)
    if busy > QUIET_BUSY:
        ctx.warn(f"CPUs {busy:.0%} busy with other processes before {what}: its timing may be inflated")
    return busy


def read_records(path):
    """[(pid, monotonic_ns)] appended by svc, in file order."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            out.append((int(parts[0]), int(parts[1])))
    return out


def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


# ------------------------------------------------------------ supervisors ----

class Ctx:
    def __init__(self, args):
        self.tmp = args.tmp
        self.bin = os.path.join(args.tmp, "bin")
        self.svc = os.path.realpath(os.path.join(self.bin, "svc"))
        self.reap = os.path.join(self.bin, "reap")
        self.baresup = os.path.join(self.bin, "baresup")
        self.vigild = args.vigild
        self.vigild_1024 = args.vigild_1024
        self.pidfile = os.path.join(args.tmp, "pids")
        self.live = set()
        self.counter = 0
        self.warnings = []
        self.quiet_budget = QUIET_BUDGET
        self.busy = []  # busy fraction before each timed measurement

    def warn(self, msg):
        log("WARNING: " + msg)
        self.warnings.append(msg)


class Run:
    """One supervisor (`kind`) with `n` services, started under reap."""

    def __init__(self, ctx, kind, n, crash=False, backoff_reset=None, big=False):
        ctx.counter += 1
        self.ctx, self.kind, self.n = ctx, kind, n
        self.dir = os.path.join(ctx.tmp, f"{ctx.counter:03d}-{kind}-{n}")
        os.makedirs(self.dir)
        self.out = os.path.join(self.dir, "out")
        self.result = os.path.join(self.dir, "rusage")
        self.logfile = os.path.join(self.dir, "log")
        names = [f"s{i}" for i in range(n)]
        self.service_dirs = []
        if kind == "vigild":
            conf = os.path.join(self.dir, "vigild.conf")
            with open(conf, "w") as f:
                f.write(f"[vigild]\nrun_dir = {self.dir}/run\n")
                for name in names:
                    f.write(f"[{name}]\nexec = {ctx.svc}\n")
                    if backoff_reset:
                        f.write(f"backoff_reset = {backoff_reset}\n")
            binary = ctx.vigild_1024 if big else ctx.vigild
            self.cmd = [binary, "-f", "-c", conf]
        elif kind in ("bare-fork", "bare-spawn"):
            self.cmd = [ctx.baresup, kind[5:], ctx.svc]
        else:
            scan = os.path.join(self.dir, "scan")
            os.makedirs(scan)
            for name in names:
                d = os.path.join(scan, name)
                os.mkdir(d)
                os.symlink(ctx.svc, os.path.join(d, "run"))
                self.service_dirs.append(d)
            self.scan = scan
            self.cmd = {
                "s6": ["/usr/bin/s6-svscan", "-c", str(max(1000, 2 * n)), scan],
                "runit": ["/usr/bin/runsvdir", scan],
                "daemontools": ["/usr/bin/svscan", scan],
            }[kind]
        self.env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "BENCH_OUT": self.out}
        if crash:
            self.env["BENCH_EXIT"] = "1"
        self.wpid = None
        self.t0 = None

    def start(self):
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, self.logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
        self.t0 = now_ns()
        self.wpid = os.posix_spawn(self.ctx.reap, [self.ctx.reap, self.result] + self.cmd, self.env,
                                   file_actions=actions, setpgroup=0)
        self.ctx.live.add(self.wpid)
        with open(self.ctx.pidfile, "a") as f:
            f.write(f"{self.wpid}\n")
        return self

    def root(self, table=None):
        """The supervisor process itself (reap's child)."""
        table = table if table is not None else proc_table()
        kids = [p for p, (pp, _) in table.items() if pp == self.wpid]
        for pid in kids:
            if os.path.realpath(exe(pid) or "") == os.path.realpath(self.cmd[0]):
                return pid
        return kids[0] if kids else None

    def own(self):
        """The supervisor's own processes: its tree minus the services."""
        table = proc_table()
        out = []
        for pid in descendants(self.wpid, table):
            e = exe(pid)
            if e is not None and e != self.ctx.svc and table[pid][1][0] != b"Z":
                out.append(pid)
        return out

    def wait_up(self, timeout=60.0):
        """Wait until n distinct services have run; their records."""
        deadline = time.monotonic() + timeout
        while True:
            recs = read_records(self.out)
            first = {}
            for pid, ns in recs:
                first.setdefault(pid, ns)
            if len(first) >= self.n:
                return sorted(first.values())
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind}: only {len(first)} of {self.n} services started "
                                   f"within {timeout:.0f}s (log: {self.logfile})")
            if os.waitpid(self.wpid, os.WNOHANG) != (0, 0):
                self.ctx.live.discard(self.wpid)
                raise RuntimeError(f"{self.kind}: supervisor exited early (log: {self.logfile})")
            time.sleep(0.02)

    def stop(self, timeout=30.0):
        """Ask the supervisor to stop everything; wait for the whole tree.
        Returns (seconds the stop took, rusage utime+stime in µs of the tree)."""
        t = time.monotonic()
        root = self.root()
        if root is not None:
            if self.kind in ("vigild", "bare-fork", "bare-spawn"):
                os.kill(root, signal.SIGTERM)
            elif self.kind == "runit":
                os.kill(root, signal.SIGHUP)
            elif self.kind == "s6":
                subprocess.run(["/usr/bin/s6-svscanctl", "-t", self.scan], check=False)
            elif self.kind == "daemontools":
                os.kill(root, signal.SIGTERM)  # first, or it restarts supervise
                for i in range(0, len(self.service_dirs), 200):
                    subprocess.run(["/usr/bin/svc", "-dx"] + self.service_dirs[i:i + 200], check=False)
        deadline = t + timeout
        while True:
            try:
                if os.waitpid(self.wpid, os.WNOHANG) != (0, 0):
                    break
            except ChildProcessError:
                break
            if time.monotonic() > deadline:
                self.ctx.warn(f"{self.kind} with {self.n} services did not stop within {timeout:.0f}s; killed")
                kill_tree(self.wpid)
                break
            time.sleep(0.01)
        self.ctx.live.discard(self.wpid)
        took = time.monotonic() - t
        if took > 5:
            self.ctx.warn(f"{self.kind} with {self.n} services took {took:.1f}s to stop")
        try:
            with open(self.result) as f:
                u, s, _ = f.read().split()
            return took, int(u) + int(s)
        except (OSError, ValueError):
            return took, None


def kill_tree(wpid):
    """SIGKILL every descendant of one of our reap wrappers, then reap it."""
    for _ in range(5):
        pids = descendants(wpid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not pids:
            break
        time.sleep(0.1)
    try:
        os.kill(wpid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(wpid, 0)
    except ChildProcessError:
        pass


def abandon(ctx, run, error):
    """A supervisor that did not do what the measurement needs: say so,
    stop its tree, leave its cells empty, carry on with the others."""
    ctx.warn(str(error))
    kill_tree(run.wpid)
    ctx.live.discard(run.wpid)


def cleanup(ctx):
    for wpid in list(ctx.live):
        kill_tree(wpid)
        ctx.live.discard(wpid)


def cleanup_from_file(tmp):
    """Used by benches/run's EXIT trap if this script died: the reap
    wrappers it recorded, checked to still be ours, and their trees."""
    reap = os.path.join(tmp, "bin", "reap")
    try:
        with open(os.path.join(tmp, "pids")) as f:
            pids = [int(x) for x in f.read().split()]
    except OSError:
        return
    for wpid in pids:
        if exe(wpid) == reap:
            for pid in descendants(wpid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.kill(wpid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ----------------------------------------------------------- measurements ----

def measure_sizes(ctx, res):
    sizes = {}
    for label, path in (("vigild", ctx.vigild), ("vigild_1024", ctx.vigild_1024)):
        sizes[label] = os.stat(path).st_size
    sizes["s6"] = sum(os.stat(f"/usr/bin/{b}").st_size for b in ("s6-svscan", "s6-supervise"))
    sizes["runit"] = sum(os.stat(f"/usr/bin/{b}").st_size for b in ("runsvdir", "runsv"))
    sizes["daemontools"] = sum(os.stat(f"/usr/bin/{b}").st_size for b in ("svscan", "supervise"))
    res["size"] = sizes


def count_syscalls(pids, seconds, tmp, force_strace=False):
    """System calls made by `pids` in `seconds` (perf tracepoint, which does
    not disturb the processes; strace -c as a fallback). (count, tool)."""
    plist = ",".join(str(p) for p in pids)
    try:
        if force_strace:
            raise OSError("strace asked for")
        r = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p", plist,
                            "--", "sleep", str(seconds)], capture_output=True, text=True, timeout=seconds + 30)
        for line in r.stderr.splitlines():
            parts = line.split(",")
            if len(parts) > 2 and parts[2].startswith("raw_syscalls:sys_enter"):
                if parts[0].strip().isdigit():
                    return int(parts[0]), "perf"
                if parts[0].strip() == "<not counted>":
                    return 0, "perf"  # attached, but the processes never ran
    except (OSError, subprocess.TimeoutExpired):
        pass
    # strace: attaching interrupts the sleeping call, so it may count ~1 per process.
    outf = os.path.join(tmp, "strace.out")
    cmd = ["strace", "-f", "-c", "-o", outf]
    for p in pids:
        cmd += ["-p", str(p)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    total = 0
    try:
        with open(outf) as f:
            for line in f:
                if line.strip().endswith("total"):
                    total = int(line.split()[3])  # % time, seconds, usecs/call, calls, [errors,] total
        os.unlink(outf)
    except OSError:
        pass
    return total, "strace"


def measure_memory(ctx, res):
    """RSS/PSS at 1, 100, 1000 services; idle syscalls at 100."""
    mem = res.setdefault("mem", {})
    idle = res.setdefault("idle", {})
    for n in (1, IDLE_SERVICES, 1000):
        for kind in KINDS:
            run = Run(ctx, kind, n, big=(n > 256)).start()
            try:
                run.wait_up(timeout=90)
            except RuntimeError as e:
                abandon(ctx, run, e)
                continue
            time.sleep(1.5)  # settle: status files written, peers' scanners quiet
            pids = run.own()
            rss = pss = 0
            for pid in pids:
                r, p = smaps_rollup(pid)
                rss += r
                pss += p
            mem[(kind, n)] = {"rss": rss, "pss": pss, "procs": len(pids)}
            log(f"memory {kind:12s} {n:5d} services: {len(pids):5d} processes, RSS {rss} KiB, PSS {pss} KiB")
            if n == IDLE_SERVICES:
                before = sum(ctx_switches(p) for p in pids)
                count, tool = count_syscalls(pids, IDLE_SECONDS, ctx.tmp)
                wake = sum(ctx_switches(p) for p in pids) - before
                idle[kind] = {"syscalls": count, "tool": tool, "wakeups": wake}
                log(f"idle   {kind:12s}: {count} system calls ({tool}), {wake} context switches in {IDLE_SECONDS}s")
            run.stop()


def measure_startup(ctx, res):
    starts = res.setdefault("start1000", {})
    for _ in range(STARTUP_REPS):
        for kind in KINDS:
            wait_quiet(ctx, f"a 1000-service start of {kind}")
            run = Run(ctx, kind, 1000, big=True).start()
            try:
                stamps = run.wait_up(timeout=90)
            except RuntimeError as e:
                abandon(ctx, run, e)
                continue
            starts.setdefault(kind, []).append((stamps[-1] - run.t0) / 1e9)
            run.stop()
    for kind in KINDS:
        log(f"start  {kind:12s}: 1000 services in " + ", ".join(f"{s:.3f}" for s in starts.get(kind, [])) + " s")


def measure_latency(ctx, res):
    """SIGKILL a service, time until its replacement runs its first
    instruction. All supervisors (and two bare C loops) run at once, each
    with one service; kills go round-robin, one at a time, so each service
    lived LATENCY_SPACING seconds before it is killed."""
    kinds = KINDS + ["bare-fork", "bare-spawn"]
    wait_quiet(ctx, "the respawn latency rounds")
    busy_start = cpu_times()
    runs = {k: Run(ctx, k, 1, backoff_reset="100ms" if k == "vigild" else None).start() for k in kinds}
    for k in list(kinds):
        try:
            runs[k].wait_up()
        except RuntimeError as e:
            abandon(ctx, runs.pop(k), e)
            kinds.remove(k)
    time.sleep(1.2)
    samples = {k: [] for k in kinds}
    step = LATENCY_SPACING / (len(KINDS) + 2)  # a fixed slot per kind, kept if one drops out
    for _ in range(LATENCY_ROUNDS):
        for k in KINDS + ["bare-fork", "bare-spawn"]:
            if k not in kinds:
                time.sleep(step)
                continue
            run = runs[k]
            recs = read_records(run.out)
            deadline = time.monotonic() + 5
            while True:
                tree = set(descendants(run.wpid))
                alive = [pid for pid, _ in recs if pid in tree and exe(pid) == ctx.svc]
                if alive:
                    break
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
                recs = read_records(run.out)
            if not alive:
                abandon(ctx, runs.pop(k), f"latency: {k} has no running service (log: {run.logfile})")
                kinds.remove(k)
                continue
            pid, count = alive[-1], len(recs)
            t = now_ns()
            os.kill(pid, signal.SIGKILL)
            time.sleep(step)
            deadline = time.monotonic() + 5
            while len(read_records(run.out)) <= count and time.monotonic() < deadline:
                time.sleep(0.005)
            new = [ns for _, ns in read_records(run.out)[count:] if ns > t]
            if new:
                samples[k].append((new[0] - t) / 1000)
            else:
                ctx.warn(f"latency: {k} did not restart its service within 5s")
    busy_end = cpu_times()
    for run in runs.values():
        run.stop()
    res["latency_busy"] = 1 - (busy_end[1] - busy_start[1]) / max(1, busy_end[0] - busy_start[0])
    lat = res.setdefault("latency", {})
    for k in kinds:
        s = samples[k]
        if s:
            lat[k] = {"median": statistics.median(s), "p90": pct(s, 90), "min": min(s), "max": max(s), "n": len(s)}
            log(f"latency {k:11s}: median {lat[k]['median']:.0f} µs, p90 {lat[k]['p90']:.0f} µs "
                f"(min {lat[k]['min']:.0f}, max {lat[k]['max']:.0f}, n={len(s)})")


def ask(run, line, final, timeout=10.0):
    """Write `line reply=FIFO` into vigild's control FIFO; (seconds until
    a line starting with `final` arrived, that line)."""
    fifo = os.path.join(run.dir, f"reply-{time.monotonic_ns()}")
    os.mkfifo(fifo, 0o600)
    rd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        t = time.monotonic()
        with open(os.path.join(run.dir, "run", "control"), "w") as c:
            c.write(f"{line} reply={fifo}\n")
        got, deadline = b"", t + timeout
        while time.monotonic() < deadline:
            try:
                got += os.read(rd, 4096)
            except BlockingIOError:
                pass
            for answer in got.decode(errors="replace").splitlines():
                if answer.startswith(final):
                    return time.monotonic() - t, answer
            time.sleep(0.0002)
        raise RuntimeError(f"{line}: no {final!r} within {timeout:.0f}s (got {got!r})")
    finally:
        os.close(rd)
        os.unlink(fifo)


def measure_upgrade(ctx, res):
    """One vigild with IDLE_SERVICES services: reload and reexec round trips
    (control line → final answer), the time the re-executed vigild says it
    was away (its exec → its first turn), and PSS before and after."""
    up = res.setdefault("upgrade", {})
    wait_quiet(ctx, "reload and reexec")
    run = Run(ctx, "vigild", IDLE_SERVICES).start()
    try:
        run.wait_up(timeout=90)
    except RuntimeError as e:
        abandon(ctx, run, e)
        return
    time.sleep(1.0)
    root = run.root()
    up["pss_before"] = smaps_rollup(root)[1]
    reload, reexec = [], []
    for _ in range(UPGRADE_ROUNDS):
        reload.append(ask(run, "reload", "reloaded")[0] * 1e3)
        reexec.append(ask(run, "reexec", "reexecuted")[0] * 1e3)
    time.sleep(1.0)
    up["pss_after"] = smaps_rollup(run.root())[1]
    up["same_pid"] = run.root() == root
    with open(run.logfile, errors="replace") as f:
        away = [int(line.split("away ")[1].split()[0]) / 1e3 for line in f if "reexec: resumed" in line]
    up["reload"], up["reexec"], up["away"] = reload, reexec, away
    log(f"upgrade: reload {statistics.median(reload):.2f} ms, reexec {statistics.median(reexec):.2f} ms, "
        f"away {statistics.median(away) if away else float('nan'):.3f} ms (median of {len(away)}), "
        f"PSS {up['pss_before']} → {up['pss_after']} KiB")
    run.stop()


def tree_cpu_ticks(run):
    """utime+stime+cutime+cstime of the supervisor's own processes."""
    table = proc_table()
    total = 0
    for pid in descendants(run.wpid, table):
        e = exe(pid)
        if e is None or e == run.ctx.svc:
            continue
        f = table[pid][1]
        total += sum(int(x) for x in f[11:15])
    return total


def measure_crash(ctx, res):
    """A service that exits 1 at once, for CRASH_SECONDS, under every
    supervisor at the same time (they are idle between restarts)."""
    runs = {k: Run(ctx, k, 1, crash=True).start() for k in KINDS}
    time.sleep(CRASH_SECONDS)
    crash = res.setdefault("crash", {})
    for k, run in runs.items():
        ticks = tree_cpu_ticks(run)
        end = run.t0 + CRASH_SECONDS * 10**9
        runs_in = sum(1 for _, ns in read_records(run.out) if ns <= end)
        status = ""
        if k == "vigild":
            try:
                with open(os.path.join(run.dir, "run", "status")) as f:
                    status = f.read().strip()
            except OSError:
                pass
        crash[k] = {"runs": runs_in, "ticks": ticks, "status": status}
    for k, run in runs.items():
        took, us = run.stop()
        life = (now_ns() - run.t0) / 1e9
        crash[k]["rusage_us"] = us
        crash[k]["life"] = life
        log(f"crash  {k:12s}: {crash[k]['runs']} runs in {CRASH_SECONDS}s, {crash[k]['ticks']} ticks; "
            f"tree rusage {us} µs over {life:.1f}s {crash[k]['status']}")


# ----------------------------------------------------------------- report ----

def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()} {platform.machine()}, {mem_kib / 1048576:.1f} GiB RAM"


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class PartCtx:
    """What every benchmark part's context has (accept.py, ready.py,
    log.py): its temporary directory and helpers, vigild, the processes it
    started (`live`, killed at the end; their pids in `pidfile` for
    `cleanup_from_file`), warnings for the report, and the time it may wait
    for a quiet machine (spent by `wait_quiet`)."""

    def __init__(self, args, quiet_budget):
        self.tmp = args.tmp
        self.bin = os.path.join(args.tmp, "bin")
        self.reap = os.path.join(self.bin, "reap")
        self.vigild = args.vigild
        self.pidfile = os.path.join(args.tmp, "pids")
        self.rounds = args.rounds
        self.live = set()
        self.warnings = []
        self.quiet_budget = quiet_budget
        self.busy = []

    def warn(self, msg):
        log("WARNING: " + msg)
        self.warnings.append(msg)


def vigild_version(repo):
    """`vigild git REV (...)`, taken when a part starts, right after
    benches/run built vigild (another commit may land while it runs).
    "-dirty" may come from files that are not built into vigild, so say
    whether those that are changed."""
    def git(*args):
        return subprocess.run(["git", "-C", repo] + list(args), capture_output=True, text=True).stdout.strip()

    rev = git("describe", "--always", "--dirty") or "?"
    built = git("status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock", "build.rs", "link")
    return f"vigild git {rev} ({'src/ and build files changed' if built else 'src/ and build files as committed'})"


def package_version(pkg):
    return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True).stdout or "?"


def not_measured(failed):
    """The report's line on what could not be measured ({what: why})."""
    if not failed:
        return []
    return ["Not measured: " + "; ".join(f"{k}: {why}" for k, why in failed.items()) + ".", ""]


def report_end(ctx, missed):
    """The last lines of a part's report: the targets missed (labels) and
    the warnings of the run."""
    out = ["Targets missed or not measured: " + ("; ".join(missed) if missed else "none") + "."]
    if ctx.warnings:
        out += ["", "Warnings during the run:"] + [f"- {w}" for w in ctx.warnings]
    out.append("")
    return out


def fs_type(path):
    """The file system type of the mount holding `path` (from /proc/self/mountinfo)."""
    path, best, kind = os.path.realpath(path), -1, "?"
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, right = line.split(" - ", 1)
                mnt = left.split()[4]
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) > best:
                    best, kind = len(mnt), right.split()[0]
    except OSError:
        pass
    return kind


def write_section(path, text, title):
    """Replace the `## TITLE` section of `path` (up to the next `## `
    heading), or put it before `## Accept mode` (the last section), or at
    the end (ready.py, log.py)."""
    try:
        with open(path) as f:
            old = f.read()
    except FileNotFoundError:
        old = ""
    old = "\n" + old  # a section may begin the file
    start = old.find(f"\n## {title}\n")
    if start >= 0:
        end = old.find("\n## ", start + 1)
        head, tail = old[1:start + 1], (old[end + 1:] if end >= 0 else "")
    else:
        acc = old.find("\n## Accept mode\n")
        head, tail = (old[1:acc + 1], old[acc + 1:]) if acc >= 0 else (old[1:], "")
    if head and not head.endswith("\n\n"):
        head = head.rstrip("\n") + "\n\n"
    if tail and not text.endswith("\n\n"):
        text = text.rstrip("\n") + "\n\n"
    with open(path, "w") as f:
        f.write(head + text + tail)


def part_main(args, ctx, versions, run_all, report, section):
    """What every part's main() ends with: --cleanup, or the run, its
    report written as the `## SECTION` of --out and printed; the exit code."""
    if args.cleanup:
        cleanup_from_file(args.tmp)
        return 0
    text = run_part(ctx, args.repo, versions, run_all, report)
    if text is None:
        return 130
    if args.out:
        write_section(args.out, text, section)
    print(text)
    return 0


def run_part(ctx, repo, versions, run_all, report):
    """The body of a benchmark part's main() (accept.py, ready.py, log.py):
    SIGTERM and SIGHUP stop it in order, everything it started (`ctx.live`)
    is stopped at the end. The report's text, or None if it was interrupted."""
    def on_signal(sig, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    res = {"load": [loadavg(), None], "versions": versions(repo)}
    try:
        run_all(ctx, res)
    except KeyboardInterrupt:
        log("interrupted: stopping everything this run started")
        return None
    finally:
        for wpid in list(ctx.live):
            kill_tree(wpid)
            ctx.live.discard(wpid)
    res["load"][1] = loadavg()
    return report(ctx, res)


def versions(repo):
    out = []
    try:
        rev = subprocess.run(["git", "-C", repo, "describe", "--always", "--dirty"], capture_output=True,
                             text=True).stdout.strip()
    except OSError:
        rev = "?"
    out.append(f"vigild git {rev}")
    for pkg in PEERS:
        v = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True).stdout
        out.append(f"{pkg} {v or '?'}")
    return ", ".join(out)


def plural(n):
    return f"{n} service" if n == 1 else f"{n} services"


def ratio(a, b):
    if a is None or b in (None, 0):
        return "—"
    return f"{a / b:.2f}"


def ratio_table(rows, names, peers, subject):
    """A Markdown table: a column per program of `names`, then `subject` ÷
    each of `peers`, then the target. `rows` are (label, {name: value},
    target text, format, whether ratios make sense)."""
    lines = ["| measurement | " + " | ".join(names) + " | " + " | ".join(f"{subject}/{p}" for p in peers)
             + f" | {subject} target |",
             "|---|" + "---:|" * (len(names) + len(peers)) + "---|"]
    for label, values, tgt, fmt, ratios in rows:
        cells = [label] + [fmt(values[k]) if k in values else "—" for k in names]
        cells += [ratio(values.get(subject), values.get(p)) if ratios else "—" for p in peers]
        lines.append("| " + " | ".join(cells + [tgt]) + " |")
    return lines


def part_parser(section, part, rounds, rounds_help):
    """The options of every part: --tmp, --repo, --out (whose `## SECTION`
    the run replaces), --cleanup, --rounds (ROUNDS_HELP, default ROUNDS) and
    --command (as the report names it: `benches/run PART`); the part adds
    its own."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--out", help=f"Markdown file whose `## {section}` section this run replaces")
    ap.add_argument("--cleanup", action="store_true", help="kill what a dead run left (TMP/pids)")
    ap.add_argument("--rounds", type=int, default=rounds, help=rounds_help)
    ap.add_argument("--command", default=f"benches/run {part}", help="the command named in the report")
    return ap


def tick_target(per_min):
    v, r = per_min.get("vigild"), per_min.get("runit")
    if v is not None and r is not None and v == r:
        return "< runit: equal at 10 ms tick resolution (see next row)"
    return target_text("< runit", v, lambda v: r is not None and v < r)


def target_text(target, value, ok):
    if value is None:
        return f"{target}: **not measured**"
    return f"{target}: " + ("met" if ok(value) else "**MISSED**")


def report(ctx, res, repo):
    rows = []  # (label, {kind: number or str}, target text)

    def row(label, values, target="", fmt=lambda v: f"{v}", ratios=True):
        rows.append((label, values, target, fmt, ratios))

    size = res["size"]
    row("binary size, KiB (vigild: static, stripped; peers: scanner + per-service supervisor, dynamic, libc not counted)",
        {"vigild": size["vigild"] / 1024, "s6": size["s6"] / 1024, "runit": size["runit"] / 1024,
         "daemontools": size["daemontools"] / 1024},
        target_text("≤ 160 KiB", size["vigild"], lambda v: v <= 160 * 1024), fmt=lambda v: f"{v:.1f}")
    row("binary size, KiB, vigild built with VIGILD_MAX_SERVICES=1024", {"vigild": size["vigild_1024"] / 1024},
        "", fmt=lambda v: f"{v:.1f}", ratios=False)
    mem = res.get("mem", {})

    def per_kind(table, key, field):
        return {k: table[key(k)][field] for k in KINDS if key(k) in table}

    for n in (1, IDLE_SERVICES, 1000):
        row(f"supervisor processes, {plural(n)}", per_kind(mem, lambda k: (k, n), "procs"))
    for n in (1, IDLE_SERVICES, 1000):
        row(f"RSS, KiB, {plural(n)} (sum over supervisor processes)", per_kind(mem, lambda k: (k, n), "rss"))
    for n in (1, IDLE_SERVICES, 1000):
        pss = per_kind(mem, lambda k: (k, n), "pss")
        target = {IDLE_SERVICES: 128, 1000: 512}.get(n)
        row(f"PSS, KiB, {plural(n)} (sum over supervisor processes)", pss,
            target_text(f"≤ {target} KiB", pss.get("vigild"), lambda v: v <= target) if target else "")
    idle = res.get("idle", {})
    tool = idle.get("vigild", {}).get("tool", "perf")
    calls = per_kind(idle, lambda k: k, "syscalls")
    row(f"system calls in {IDLE_SECONDS} s idle, {IDLE_SERVICES} services ({tool})", calls,
        target_text("0", calls.get("vigild"), lambda v: v == 0))
    row(f"context switches (wake-ups) in {IDLE_SECONDS} s idle, {IDLE_SERVICES} services",
        per_kind(idle, lambda k: k, "wakeups"))
    lat = res.get("latency", {})
    bare = lat.get("bare-fork", {}).get("median")
    spawn = lat.get("bare-spawn", {}).get("median")
    base = f"; bare fork+exec+wait {bare:.0f}, posix_spawn+wait {spawn:.0f}" if bare and spawn else ""
    row(f"respawn latency, µs, median of {LATENCY_ROUNDS} (SIGKILL → first instruction of the new process{base})",
        per_kind(lat, lambda k: k, "median"), fmt=lambda v: f"{v:.0f}")
    row("respawn latency, µs, p90", per_kind(lat, lambda k: k, "p90"), fmt=lambda v: f"{v:.0f}")
    over = {k: v / bare for k, v in per_kind(lat, lambda k: k, "median").items()} if bare else {}
    row("respawn latency ÷ bare fork+exec+wait (median)", over,
        target_text("≤ 1.3", over.get("vigild"), lambda v: v <= 1.3), fmt=lambda v: f"{v:.2f}", ratios=False)
    st = {k: statistics.median(v) for k, v in res.get("start1000", {}).items() if v}
    row(f"start 1000 services, s, median of {STARTUP_REPS} (launch → every service has run)", st,
        target_text("≤ 0.6 s", st.get("vigild"), lambda v: v <= 0.6), fmt=lambda v: f"{v:.3f}")
    best = {k: min(v) for k, v in res.get("start1000", {}).items() if v}
    row(f"start 1000 services, s, fastest of {STARTUP_REPS}", best, fmt=lambda v: f"{v:.3f}")
    crash = res.get("crash", {})
    row(f"crash loop (service exits 1 at once): runs in {CRASH_SECONDS} s", per_kind(crash, lambda k: k, "runs"))
    per_min = {k: v * 1000 / CLK_TCK * 60 / CRASH_SECONDS for k, v in per_kind(crash, lambda k: k, "ticks").items()}
    row("crash loop: CPU ms per minute (/proc stat utime+stime+cutime+cstime, 10 ms ticks)", per_min,
        tick_target(per_min), fmt=lambda v: f"{v:.0f}")
    precise = {k: crash[k]["rusage_us"] / 1000 * 60 / crash[k]["life"] for k in KINDS
               if k in crash and crash[k].get("rusage_us") is not None}
    row("crash loop: CPU ms per minute (µs rusage of the whole tree over its life, start and stop included)",
        precise, target_text("< runit", precise.get("vigild"), lambda v: "runit" in precise and v < precise["runit"]),
        fmt=lambda v: f"{v:.1f}")

    up = res.get("upgrade", {})
    if up.get("away"):
        away = statistics.median(up["away"])
        row(f"reexec, vigild away, ms, median of {len(up['away'])} ({IDLE_SERVICES} services; its exec → the new "
            f"program's first turn, as it logs)", {"vigild": away},
            target_text("< 5 ms", away, lambda v: v < 5), fmt=lambda v: f"{v:.3f}", ratios=False)
        row(f"reexec round trip, ms, median ({IDLE_SERVICES} services; the line → `reexecuted`, the new "
            f"binary's check included)", {"vigild": statistics.median(up["reexec"])}, fmt=lambda v: f"{v:.2f}",
            ratios=False)
        row(f"reload round trip, ms, median, same run (the line → `reloaded`)",
            {"vigild": statistics.median(up["reload"])}, fmt=lambda v: f"{v:.2f}", ratios=False)
        row(f"PSS, KiB, {IDLE_SERVICES} services, before → after {UPGRADE_ROUNDS} reloads and re-executions "
            f"(vigild's pid {'kept' if up.get('same_pid') else 'CHANGED'})",
            {"vigild": f"{up['pss_before']} → {up['pss_after']}"}, ratios=False)

    if res.get("only"):
        rows = [r for r in rows if r[1]]  # only what was measured

    lines = []
    lines.append(f"# vigild benchmark results ({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC})")
    lines.append("")
    lines.append(f"- machine: {machine()}")
    lines.append(f"- load average (1, 5, 15 min) at start: {res['load'][0]}; at end: {res['load'][1]}")
    lines.append(f"- versions: {versions(repo)} (Debian packages)")
    if ctx.busy:
        lines.append(f"- CPUs busy with other processes just before the timed runs: median {statistics.median(ctx.busy):.0%}, "
                     f"max {max(ctx.busy):.0%}; during the latency rounds (harness included): "
                     f"{res.get('latency_busy', 0):.0%}")
    lines.append("- command: `benches/run`")
    lines.append("")
    head = ["measurement"] + KINDS + [f"vigild/{p}" for p in PEERS] + ["vigild target"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|---|" + "---:|" * (len(KINDS) + len(PEERS)) + "---|")
    for label, values, target, fmt, ratios in rows:
        cells = [label]
        for k in KINDS:
            cells.append(fmt(values[k]) if k in values else "—")
        for p in PEERS:
            cells.append(ratio(values.get("vigild"), values.get(p)) if ratios else "—")
        cells.append(target)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lf, ls = lat.get("bare-fork"), lat.get("bare-spawn")
    if lf and ls:
        lines.append(f"Respawn baseline on this machine, same run: a C loop that blocks in waitpid(2) and "
                     f"restarts the program at once: fork+execve {lf['median']:.0f} µs median "
                     f"(p90 {lf['p90']:.0f}), posix_spawn (vfork-style) {ls['median']:.0f} µs median "
                     f"(p90 {ls['p90']:.0f}).")
        lines.append("")
    vs = crash.get("vigild", {}).get("status")
    if vs:
        lines.append(f"vigild status after the crash loop: `{vs}`")
        lines.append("")
    notes = []
    if lat.get("s6", {}).get("median", 0) > 900_000:
        notes.append("s6-supervise waited about 1 s before every respawn although each run had lasted "
                     f"{LATENCY_SPACING} s: this version pauses 1 s after every death, so its latency is that pause.")
    if any(crash[k]["ticks"] == 0 for k in crash):
        notes.append("/proc/PID/stat counts CPU time in 10 ms ticks, so a total under one tick shows as 0; "
                     "the rusage row (reap.c, µs) is the precise one.")
    if notes:
        lines.append("Notes:")
        lines += [f"- {n}" for n in notes]
        lines.append("")
    missed = [label for label, _, target, _, _ in rows if target and "**" in target]
    lines.append("Targets missed or not measured: " + ("; ".join(missed) if missed else "none") + ".")
    if ctx.warnings:
        lines.append("")
        lines.append("Warnings during the run:")
        for w in ctx.warnings:
            lines.append(f"- {w}")
    lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--vigild")
    ap.add_argument("--vigild-1024")
    ap.add_argument("--out")
    ap.add_argument("--repo")
    ap.add_argument("--cleanup", action="store_true")
    ap.add_argument("--only", choices=["upgrade"], help="only the reload and reexec measurements")
    args = ap.parse_args()
    if args.cleanup:
        cleanup_from_file(args.tmp)
        return 0
    ctx = Ctx(args)

    def on_signal(sig, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    res = {"load": [loadavg(), None], "only": args.only}
    try:
        measure_sizes(ctx, res)
        if args.only != "upgrade":
            measure_memory(ctx, res)
            measure_startup(ctx, res)
            measure_latency(ctx, res)
            measure_crash(ctx, res)
        measure_upgrade(ctx, res)
    except KeyboardInterrupt:
        log("interrupted: stopping everything this run started")
        return 130
    finally:
        cleanup(ctx)
    res["load"][1] = loadavg()
    text = report(ctx, res, args.repo)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

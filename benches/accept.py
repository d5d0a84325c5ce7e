#!/usr/bin/env python3
"""vigild's inetd-style accept mode next to tcpserver, xinetd and socat's
fork mode: the measurements behind `benches/run accept` (which builds
everything, then runs this file).

Standard library only; the /proc helpers and the quiet-machine wait are
bench.py's. Every server runs under `reap` (reap.c) so its whole tree is
known, reaped, and stopped by pid at the end; the reap pids go to TMP/pids,
where `benches/run`'s clean-up finds them even if this script dies.

The service is `printline` (conn.c built with -DWORKER): a static C program
that writes one line to stdout and exits (after SLEEP_MS if given). The
client is `conn` (conn.c): C, poll-driven, 127.0.0.1 only.

  1. rate: connections/s with 1 and 16 clients at a time, ROUNDS runs of
     SECONDS each per server, interleaved (the order rotates every round) so
     that machine noise hits every server; the listening process's own CPU
     (utime+stime from /proc/PID/stat) per connection.
  2. latency: connect → first byte with the server idle; for vigild also in
     mode=activate (the program is started by that first connection).
  3. overload: at most 2 workers, a worker that sleeps 0.2 s, 30 clients at
     once: who gets the line, who is turned away, who times out.
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
from bench import (PartCtx, descendants, kill_tree, log, machine, not_measured, package_version, part_main,  # noqa: E402
                   part_parser, pct, proc_table, ratio_table, report_end, target_text, vigild_version,
                   wait_quiet)

SERVERS = ["vigild", "tcpserver", "xinetd", "socat"]
PEERS = SERVERS[1:]
CONCURRENCY = (1, 16)
SECONDS = 10.0  # one timed run
ROUNDS = 3  # timed runs per server and concurrency
MAX_WORKERS = 64  # every server's worker limit in the rate runs
BACKLOG = 128  # vigild's default; given to the peers that take one (xinetd's is fixed at 64)
SETTLE = 1.1  # s after a run before the CPU reading: last workers reaped, vigild's status rewritten
LATENCY_SAMPLES = 30
LATENCY_SPACING_MS = 100
OVERLOAD_LIMIT = 2
OVERLOAD_CLIENTS = 30
OVERLOAD_SLEEP_MS = 200
OVERLOAD_ROUNDS = 2
CLIENT_TIMEOUT_MS = 10000
QUIET_BUDGET = 180.0  # s, in total, the run may wait for the machine to calm down
CLK_TCK = os.sysconf("SC_CLK_TCK")

TARGET_RATE = {1: 1.15, 16: 1.08}  # vigild conn/s ÷ tcpserver's
TARGET_CPU_US = 30.0


class Ctx(PartCtx):
    def __init__(self, args):
        super().__init__(args, QUIET_BUDGET)
        self.conn = os.path.join(self.bin, "conn")
        self.worker = os.path.realpath(os.path.join(self.bin, "printline"))
        self.seconds = args.seconds
        self.counter = 0


class StartError(Exception):
    pass


class Gone(Exception):
    """The listening process is no longer there (it crashed or exited)."""


def free_port():
    """A port nobody listens on now (the kernel's pick), so no TIME_WAIT
    left by an earlier run can get in the way of a bind."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_listening(port):
    """Is something listening on 127.0.0.1:port? Read from /proc/net/tcp,
    so checking does not start a worker."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        next(f)
        return any(p[1] == want and p[3] == "0A" for p in (line.split() for line in f))


# ---------------------------------------------------------------- servers ----

class Server:
    """One listening server on its own port: `kind` is one of SERVERS, or
    "vigild-activate" (vigild in mode=activate). `limit` is its worker
    limit; `worker` the worker's argv."""

    def __init__(self, ctx, kind, limit, worker):
        ctx.counter += 1
        self.ctx, self.kind, self.limit, self.worker = ctx, kind, limit, worker
        self.dir = os.path.join(ctx.tmp, f"accept-{ctx.counter:02d}-{kind}")
        os.makedirs(self.dir)
        self.port = free_port()
        self.logfile = os.path.join(self.dir, "log")
        self.cmd = {
            "vigild": self.vigild_cmd,
            "vigild-activate": self.vigild_cmd,
            "tcpserver": self.tcpserver_cmd,
            "xinetd": self.xinetd_cmd,
            "socat": self.socat_cmd,
        }[kind]()
        self.wpid = None
        self.pid = None  # the listening process (reap's child)
        self.served = 0  # connections the clients made to it (for vigild's counters)

    def vigild_cmd(self):
        mode = "activate" if self.kind == "vigild-activate" else "accept"
        lines = ["[vigild]", f"run_dir = {self.dir}/run", "", "[line]", f"mode = {mode}",
                 f"listen = tcp:127.0.0.1:{self.port}", "exec = " + " ".join(self.worker), "log = null"]
        if mode == "accept":
            lines.append(f"max_workers = {self.limit}")
            if self.limit == OVERLOAD_LIMIT:
                lines.append("drop_timeout = 30s")  # the default 10 s would drop clients the peers keep
        conf = os.path.join(self.dir, "vigild.conf")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        return [self.ctx.vigild, "-f", "-c", conf]

    def tcpserver_cmd(self):
        return ["/usr/bin/tcpserver", "-l", "0", "-R", "-H", "-c", str(self.limit), "-b", str(BACKLOG),
                "127.0.0.1", str(self.port)] + self.worker

    def xinetd_cmd(self):
        conf = os.path.join(self.dir, "xinetd.conf")
        args = f"    server_args = {' '.join(self.worker[1:])}\n" if len(self.worker) > 1 else ""
        with open(conf, "w") as f:
            f.write("defaults\n{\n"
                    f"    log_type = FILE {self.dir}/xinetd.log\n"
                    "}\n"
                    "service line\n{\n"
                    "    type = UNLISTED\n"
                    "    socket_type = stream\n"
                    "    protocol = tcp\n"
                    "    wait = no\n"
                    "    user = root\n"
                    "    bind = 127.0.0.1\n"
                    f"    port = {self.port}\n"
                    f"    server = {self.worker[0]}\n"
                    f"{args}"
                    f"    instances = {self.limit}\n"
                    "    cps = 100000 1\n"  # never throttle
                    "    per_source = UNLIMITED\n"
                    "    log_on_success =\n"  # no log line per connection, like the others
                    "    log_on_failure =\n"
                    "}\n")
        return ["/usr/sbin/xinetd", "-dontfork", "-f", conf]

    def socat_cmd(self):
        # nofork: the worker gets the connection itself, as under the others;
        # without it socat relays through a socketpair and one more process.
        listen = (f"TCP-LISTEN:{self.port},bind=127.0.0.1,reuseaddr,fork,backlog={BACKLOG},"
                  f"max-children={self.limit}")
        return ["/usr/bin/socat", listen, "EXEC:" + " ".join(self.worker) + ",nofork"]

    def start(self, timeout=5.0):
        """Start under reap; return once the port listens. StartError (with
        the server's own words) if it exits or never listens."""
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, self.logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
        env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
        self.wpid = os.posix_spawn(self.ctx.reap, [self.ctx.reap, os.path.join(self.dir, "rusage")] + self.cmd,
                                   env, file_actions=actions, setpgroup=0)
        self.ctx.live.add(self.wpid)
        with open(self.ctx.pidfile, "a") as f:
            f.write(f"{self.wpid}\n")
        deadline = time.monotonic() + timeout
        while not is_listening(self.port):
            if os.waitpid(self.wpid, os.WNOHANG) != (0, 0):
                self.ctx.live.discard(self.wpid)
                raise StartError(f"exited at start: {self.log_head()}")
            if time.monotonic() > deadline:
                self.pid = self.listener()
                self.stop()
                raise StartError(f"not listening on port {self.port} after {timeout:.0f} s: {self.log_head()}")
            time.sleep(0.01)
        self.pid = self.listener()
        return self

    def listener(self):
        """reap's child: the server itself (no worker runs before the first client)."""
        kids = [p for p, (pp, _) in proc_table().items() if pp == self.wpid]
        return kids[0] if kids else None

    def log_head(self):
        try:
            with open(self.logfile) as f:
                lines = [line.strip() for line in f if line.strip()]
        except OSError:
            lines = []
        return " / ".join(lines[:4]) or "(no output)"

    def cpu_ticks(self):
        """The listening process's own utime+stime (children not included)."""
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            fields = []
        if len(fields) < 13 or fields[0] == b"Z" or self.pid not in descendants(self.wpid):
            raise Gone(f"{self.kind} is gone (log: {self.logfile}: {self.log_head()})")
        return int(fields[11]) + int(fields[12])

    def workers(self):
        """Processes in the tree besides the listener (workers, zombies too)."""
        return [p for p in descendants(self.wpid) if p != self.pid]

    def wait_idle(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while self.workers() and time.monotonic() < deadline:
            time.sleep(0.02)

    def status(self):
        """vigild's status line for the service, or ""."""
        try:
            with open(os.path.join(self.dir, "run", "status")) as f:
                return next((line.strip() for line in f if line.startswith("line ")), "")
        except OSError:
            return ""

    def stop(self, timeout=10.0):
        """SIGTERM to the listener (every kind exits on it), wait for reap,
        which waits for the whole tree; SIGKILL what is left after timeout."""
        if self.wpid not in self.ctx.live:
            return
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while os.waitpid(self.wpid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                self.ctx.warn(f"{self.kind} did not stop within {timeout:.0f} s of SIGTERM; killed")
                kill_tree(self.wpid)
                break
            time.sleep(0.01)
        self.ctx.live.discard(self.wpid)


def start_servers(ctx, res, kinds, limit, worker):
    """{kind: started Server}; a server that fails to start is reported
    (res["failed"]) and left out, so the others are still measured."""
    out = {}
    for kind in kinds:
        try:
            out[kind] = Server(ctx, kind, limit, worker).start()
        except StartError as e:
            ctx.warn(f"{kind} (limit {limit}) did not start: {e}")
            res.setdefault("failed", {}).setdefault(kind, str(e).split(" / ")[0])
    return out


def stop_all(servers):
    for s in servers.values():
        s.stop()


# ----------------------------------------------------------------- client ----

def conn(ctx, *args, timeout):
    """Run the C client; its key=value output line(s) as dicts."""
    r = subprocess.run([ctx.conn] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"conn {' '.join(map(str, args))} failed: {r.stderr.strip()}")
    out = []
    for line in r.stdout.splitlines():
        d = dict(kv.split("=", 1) for kv in line.split())
        out.append({k: v if k in ("lat_us", "port") else int(v) for k, v in d.items()})
    return out


def unanswered(c):
    return c["closed"] + c["refused"] + c["timeout"] + c["failed"]


def made(c):
    """Connections the server saw (a refused one never reached it)."""
    return c["ok"] + c["closed"] + c["timeout"] + c["failed"]


# ----------------------------------------------------------- measurements ----

def drop(ctx, res, servers, kind, why):
    """Stop measuring a server that failed: say so, stop it, go on."""
    ctx.warn(f"{kind}: {why}; not measured further")
    res.setdefault("failed", {}).setdefault(kind, why)
    servers.pop(kind).stop()


def warm_up(ctx, res, servers):
    """A few connections each: pages in, and proof that the server answers.
    One that answers nothing is dropped (and reported)."""
    for kind, s in list(servers.items()):
        c = conn(ctx, "rate", s.port, 4, 0.3, CLIENT_TIMEOUT_MS, timeout=30)[0]
        s.served += made(c)
        if c["ok"] == 0:
            drop(ctx, res, servers, kind, f"no line in warm-up ({c}; log: {s.logfile}: {s.log_head()})")
        elif unanswered(c):
            ctx.warn(f"{kind}: {unanswered(c)} connections unanswered in warm-up: {c}")


def measure_rate(ctx, res, servers):
    """ROUNDS × CONCURRENCY × servers timed runs, the server order rotating
    every round. Per run: conn/s and the listener's CPU ticks."""
    runs = res.setdefault("rate", {})  # (kind, conc) -> [run dicts]
    kinds = [k for k in SERVERS if k in servers]
    for rnd in range(ctx.rounds):
        order = kinds[rnd % len(kinds):] + kinds[:rnd % len(kinds)]
        for conc in CONCURRENCY:
            for kind in order:
                if kind not in servers:
                    continue
                s = servers[kind]
                wait_quiet(ctx, f"{kind} at concurrency {conc}")
                try:
                    t0 = s.cpu_ticks()
                    c = conn(ctx, "rate", s.port, conc, ctx.seconds, CLIENT_TIMEOUT_MS,
                             timeout=ctx.seconds + 60)[0]
                    time.sleep(SETTLE)
                    c["ticks"] = s.cpu_ticks() - t0
                except Gone as e:
                    drop(ctx, res, servers, kind, f"at concurrency {conc}, round {rnd + 1}: {e}")
                    continue
                c["rate"] = c["ok"] / (c["elapsed_us"] / 1e6)
                s.served += made(c)
                runs.setdefault((kind, conc), []).append(c)
                us = c["ticks"] * 1e6 / CLK_TCK / max(1, c["ok"])
                log(f"rate   {kind:10s} c={conc:2d} round {rnd + 1}: {c['rate']:7.0f} conn/s, "
                    f"{us:5.1f} µs CPU/conn, unanswered {unanswered(c)}")
                if unanswered(c):
                    ctx.warn(f"{kind} at concurrency {conc}, round {rnd + 1}: {c}")


def measure_latency(ctx, res, servers):
    """connect → first byte, one connection at a time, every server in
    turn, LATENCY_SPACING_MS apart, so each is idle when measured."""
    kinds = [k for k in ["vigild-activate"] + SERVERS if k in servers]
    if not kinds:
        return
    wait_quiet(ctx, "the latency rounds")
    ports = [servers[k].port for k in kinds]
    wall = LATENCY_SAMPLES * len(kinds) * (LATENCY_SPACING_MS / 1000 + CLIENT_TIMEOUT_MS / 1000) + 60
    lines = conn(ctx, "latency", LATENCY_SAMPLES, LATENCY_SPACING_MS, *ports, timeout=wall)
    lat = res.setdefault("latency", {})
    for kind, c in zip(kinds, lines):
        servers[kind].served += made(c)
        samples = [int(x) for x in c["lat_us"].split(",") if x]
        if unanswered(c):
            ctx.warn(f"latency: {kind}: {unanswered(c)} of {LATENCY_SAMPLES} connections unanswered: {c}")
        if samples:
            lat[kind] = {"median": statistics.median(samples), "p90": pct(samples, 90), "n": len(samples),
                         "min": min(samples), "max": max(samples)}
            log(f"latency {kind:15s}: median {lat[kind]['median']:.0f} µs, p90 {lat[kind]['p90']} µs "
                f"(min {lat[kind]['min']}, max {lat[kind]['max']}, n={len(samples)})")


def check_idle_cpu(ctx, res, servers, seconds=3.0):
    """After the load: a listener that keeps using CPU with nothing to do
    (spinning) shows up here."""
    try:
        before = {k: s.cpu_ticks() for k, s in servers.items()}
        time.sleep(seconds)
        idle = res.setdefault("idle_ticks", {})
        for k, s in servers.items():
            idle[k] = s.cpu_ticks() - before[k]
            if idle[k] > 1:
                ctx.warn(f"{k} used {idle[k] * 1000 // CLK_TCK} ms of CPU in {seconds:.0f} s with no client")
    except Gone as e:
        ctx.warn(f"after the latency rounds: {e}")


def measure_overload(ctx, res, servers):
    """OVERLOAD_CLIENTS clients at once against OVERLOAD_LIMIT workers that
    take OVERLOAD_SLEEP_MS each: queued, turned away, or timed out?"""
    over = res.setdefault("overload", {})
    kinds = [k for k in SERVERS if k in servers]
    for rnd in range(OVERLOAD_ROUNDS):
        order = kinds[rnd % len(kinds):] + kinds[:rnd % len(kinds)]
        for kind in order:
            s = servers[kind]
            s.wait_idle()
            wait_quiet(ctx, f"the overload burst at {kind}")
            c = conn(ctx, "burst", s.port, OVERLOAD_CLIENTS, CLIENT_TIMEOUT_MS,
                     timeout=CLIENT_TIMEOUT_MS / 1000 + 60)[0]
            s.served += made(c)
            over.setdefault(kind, []).append(c)
            log(f"overload {kind:10s} round {rnd + 1}: ok {c['ok']}, closed {c['closed']}, refused {c['refused']}, "
                f"timeout {c['timeout']}, failed {c['failed']}, last line after {c['first_max_us'] / 1e6:.2f} s")


def vigild_counters(ctx, res, server, key, wait=2.5):
    """vigild's own counts against the clients': once every worker has
    gone and `wait` s have passed (counters reach the status file at most
    about once a second), accepted must be what the clients made and
    workers 0."""
    server.wait_idle()
    time.sleep(wait)
    line = server.status()
    res.setdefault("vigild_status", {})[key] = (line, server.served)
    fields = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
    if "accepted" in fields and int(fields["accepted"]) != server.served:
        ctx.warn(f"vigild ({key}) status says accepted={fields['accepted']}, the clients made "
                 f"{server.served} connections")
    if fields.get("workers", "0") != "0" and not server.workers():
        ctx.warn(f"vigild ({key}) status says workers={fields['workers']} {wait:g} s after the last worker "
                 "exited (stale status file)")


def measure_spawn_floor(ctx, res):
    """What any supervisor pays per connection at least: a C loop's own CPU
    to start the worker and reap it (fork, and musl's vfork-style
    posix_spawn, which is how vigild spawns)."""
    wait_quiet(ctx, "the spawn floor")
    out = subprocess.run([os.path.join(ctx.bin, "spawncost"), "3000", ctx.worker],
                         capture_output=True, text=True, timeout=120)
    if out.returncode == 0:
        res["spawn_floor"] = dict(kv.split("=") for kv in out.stdout.split())
        log(f"spawn floor: {out.stdout.strip()} µs of the parent's CPU per spawn")


def run_all(ctx, res):
    measure_spawn_floor(ctx, res)
    rate_kinds = SERVERS + ["vigild-activate"] if ctx.vigild else PEERS
    if not ctx.vigild:
        res.setdefault("failed", {})["vigild"] = "no vigild binary (the build failed)"
    servers = start_servers(ctx, res, rate_kinds, MAX_WORKERS, [ctx.worker])
    try:
        warm_up(ctx, res, servers)
        rate_servers = {k: s for k, s in servers.items() if k in SERVERS}
        measure_rate(ctx, res, rate_servers)
        for kind in set(servers) - set(rate_servers) - {"vigild-activate"}:
            del servers[kind]  # dropped (and stopped) during the rate runs
        measure_latency(ctx, res, servers)
        check_idle_cpu(ctx, res, servers)
        if "vigild" in servers:
            vigild_counters(ctx, res, servers["vigild"], "rate and latency")
    finally:
        stop_all(servers)
    worker = [ctx.worker, str(OVERLOAD_SLEEP_MS)]
    servers = start_servers(ctx, res, SERVERS if ctx.vigild else PEERS, OVERLOAD_LIMIT, worker)
    try:
        measure_overload(ctx, res, servers)
        if "vigild" in servers:
            vigild_counters(ctx, res, servers["vigild"], "overload")
    finally:
        stop_all(servers)


# ----------------------------------------------------------------- report ----

def versions(repo):
    return ", ".join([vigild_version(repo)] + [f"{p} {package_version(p)}" for p in ("ucspi-tcp", "xinetd", "socat")])


def rate_rows(ctx, res):
    """(label, {kind: value}, target text, fmt, ratios) for the rate runs."""
    rows = []
    runs = res.get("rate", {})
    for conc in CONCURRENCY:
        med = {k: statistics.median(r["rate"] for r in runs[(k, conc)]) for k in SERVERS if (k, conc) in runs}
        need = TARGET_RATE[conc]
        rows.append((f"connections/s, {conc} at a time (median of {ctx.rounds} × {ctx.seconds:g} s)", med,
                     target_text(f"≥ {need:.2f}× tcpserver", med.get("vigild"),
                            lambda v: "tcpserver" in med and v >= need * med["tcpserver"]),
                     lambda v: f"{v:.0f}", True))
    for conc in CONCURRENCY:
        cpu = {}
        for k in SERVERS:
            rs = runs.get((k, conc))
            if rs:
                cpu[k] = sum(r["ticks"] for r in rs) * 1e6 / CLK_TCK / max(1, sum(r["ok"] for r in rs))
        rows.append((f"listener's CPU, µs per connection, {conc} at a time", cpu,
                     target_text(f"≤ {TARGET_CPU_US:.0f} µs", cpu.get("vigild"), lambda v: v <= TARGET_CPU_US),
                     lambda v: f"{v:.1f}", True))
    bad = {k: sum(unanswered(r) for c in CONCURRENCY for r in runs.get((k, c), [])) for k in SERVERS
           if any((k, c) in runs for c in CONCURRENCY)}
    rows.append(("connections without the line in those runs", bad,
                 target_text("0", bad.get("vigild"), lambda v: v == 0), str, False))
    return rows


def latency_rows(res):
    lat = res.get("latency", {})
    rows = []
    for field, what in (("median", "median"), ("p90", "p90")):
        vals = {k: lat[k][field] for k in SERVERS if k in lat}
        rows.append((f"connect → first byte, idle server, µs, {what} of {LATENCY_SAMPLES}", vals, "",
                     lambda v: f"{v:.0f}", True))
    for field, what in (("median", "median"), ("p90", "p90")):
        vals = {k: lat[k][field] for k in PEERS if k in lat}
        if "vigild-activate" in lat:
            vals["vigild"] = lat["vigild-activate"][field]
        rows.append((f"activation latency, µs, {what} (vigild: mode=activate)", vals,
                     "" if "vigild-activate" in lat else "vigild: **not measured**", lambda v: f"{v:.0f}", True))
    return rows


def overload_rows(res):
    over = res.get("overload", {})
    n = OVERLOAD_ROUNDS * OVERLOAD_CLIENTS

    def total(key):
        return {k: sum(c[key] for c in over[k]) for k in SERVERS if k in over}

    got = total("ok")
    away = {k: sum(c["closed"] + c["refused"] for c in over[k]) for k in SERVERS if k in over}
    rows = [
        (f"overload: clients that got the line, of {n}", got,
         target_text(f"{n}", got.get("vigild"), lambda v: v == n), str, False),
        ("overload: clients refused or closed without data", away, "", str, False),
        (f"overload: clients timed out ({CLIENT_TIMEOUT_MS / 1000:g} s)", total("timeout"), "", str, False),
        ("overload: s until the last line arrived (slowest burst)",
         {k: max(c["first_max_us"] for c in over[k]) / 1e6 for k in SERVERS if k in over}, "",
         lambda v: f"{v:.2f}", False),
    ]
    return rows


def table(rows):
    return ratio_table(rows, SERVERS, PEERS, "vigild")


def report(ctx, res):
    rows = rate_rows(ctx, res) + latency_rows(res) + overload_rows(res)
    out = ["## Accept mode", "",
           f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}, command `benches/run accept` (`benches/run` runs it too).", "",
           f"- machine: {machine()}",
           f"- load average (1, 5, 15 min) at start: {res['load'][0]}; at end: {res['load'][1]}",
           f"- versions: {res['versions']} (Debian packages)",
           "- service: `printline` (benches/conn.c -DWORKER), static, writes one line and exits; "
           "client: `conn` (benches/conn.c), one process, non-blocking sockets and poll(2)",
           f"- servers: `vigild` mode=accept, max_workers={MAX_WORKERS}, log=null; "
           f"`tcpserver -l 0 -R -H -c {MAX_WORKERS} -b {BACKLOG}`; "
           f"`xinetd -dontfork` (type=UNLISTED, wait=no, instances={MAX_WORKERS}, cps=100000 1, per_source=UNLIMITED, "
           f"no connection log); `socat TCP-LISTEN:…,fork,max-children={MAX_WORKERS},backlog={BACKLOG} EXEC:…,nofork`; "
           f"overload: the same with the limit {OVERLOAD_LIMIT} and a worker that sleeps {OVERLOAD_SLEEP_MS} ms "
           f"(vigild: drop_timeout=30s)"]
    if ctx.busy:
        out.append(f"- CPUs busy with other processes just before the timed runs: median "
                   f"{statistics.median(ctx.busy):.0%}, max {max(ctx.busy):.0%}")
    out += [""] + table(rows) + [""] + legend(ctx) + [""]
    floor = res.get("spawn_floor")
    if floor:
        out += [f"Spawn floor on this machine, same run: a C loop that only starts `printline` and reaps it "
                f"spends {floor['posix_spawn']} µs of its own CPU per spawn with posix_spawn (musl: "
                f"clone(CLONE_VM|CLONE_VFORK), as vigild) and {floor['fork']} µs with fork+execve "
                "(benches/spawncost.c). Any supervisor that starts a process per connection pays about this "
                "much; vigild's own work per connection is what it costs beyond it.", ""]
    out += run_details(ctx, res)
    for key, (line, served) in res.get("vigild_status", {}).items():
        out.append(f"vigild status after the {key} runs (clients made {served} connections): `{line}`")
        out.append("")
    out += not_measured(res.get("failed"))
    out += report_end(ctx, [label for label, _, tgt, _, _ in rows if "**" in tgt])
    return "\n".join(out)


def legend(ctx):
    return [
        f"- connections/s: connections that got the line ÷ the run's length; {ctx.rounds} runs of "
        f"{ctx.seconds:g} s per server and concurrency, interleaved (the order rotates every round), each "
        "after the machine was quiet. Ratios are vigild ÷ peer.",
        "- listener's CPU: utime+stime of the listening process alone (vigild; tcpserver; xinetd; the socat "
        "that accepts), from /proc/PID/stat before and after each run, summed over the runs, ÷ connections "
        "served; the workers' own CPU is not in it.",
        f"- connect → first byte: one connection at a time, {LATENCY_SPACING_MS} ms apart, servers in turn. "
        "Activation latency: vigild in mode=activate starts the program on the first connection "
        "(the program accepts on fd 3 and writes the line, then exits); the peers have no such mode, so their "
        "column repeats their accept-mode latency.",
        f"- overload: {OVERLOAD_ROUNDS} bursts of {OVERLOAD_CLIENTS} clients at once per server, at most "
        f"{OVERLOAD_LIMIT} workers, each sleeping {OVERLOAD_SLEEP_MS} ms before its line; a client gives up "
        f"after {CLIENT_TIMEOUT_MS / 1000:g} s.",
    ]


def run_details(ctx, res):
    """Every timed run, so the spread behind each median can be seen."""
    runs = res.get("rate", {})
    out = []
    for conc in CONCURRENCY:
        parts = [f"{k} " + ", ".join(f"{r['rate']:.0f}" for r in runs[(k, conc)])
                 for k in SERVERS if (k, conc) in runs]
        if parts:
            out.append(f"Runs at {conc} at a time, conn/s in run order: " + "; ".join(parts) + ".")
    return out + [""] if out else []


def main():
    ap = part_parser("Accept mode", "accept", ROUNDS, "timed runs per server and concurrency")
    ap.add_argument("--vigild", help="vigild binary; none: measure the peers only")
    ap.add_argument("--seconds", type=float, default=SECONDS, help="length of one timed run")
    args = ap.parse_args()
    return part_main(args, Ctx(args), versions, run_all, report, "Accept mode")


if __name__ == "__main__":
    sys.exit(main())

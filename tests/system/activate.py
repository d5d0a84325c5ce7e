"""Socket-activated service for tests/system.rs (mode = activate).

Takes the listening sockets from fds 3, 4, ... (LISTEN_FDS), accepts one
connection, and writes one line to it describing what it inherited:

    pid=PID LISTEN_PID=.. LISTEN_FDS=.. LISTEN_FDNAMES=.. fds=0,1,2,3
    fd3=listening:127.0.0.1:PORT peer=127.0.0.1:PORT

(one line, fields separated by spaces; "-" for an unset variable). Then it
reads one line from the client, a number, and exits with that status, so the
client decides whether this run succeeded.
"""

import os
import select
import socket
import sys


def open_fds():
    fds = []
    for fd in range(256):
        try:
            os.fstat(fd)
        except OSError:
            continue
        fds.append(fd)
    return fds


def describe(sock):
    try:
        listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    except OSError:
        listening = 0
    name = sock.getsockname()
    if isinstance(name, tuple):
        name = "{}:{}".format(name[0], name[1])
    elif isinstance(name, bytes):
        name = name.decode()
    return "{}:{}".format("listening" if listening else "not-listening", name)


def peer_name(conn):
    name = conn.getpeername()
    if isinstance(name, tuple):
        if conn.family == socket.AF_INET6:
            return "[{}]:{}".format(name[0], name[1])
        return "{}:{}".format(name[0], name[1])
    return name or "-"


def main():
    fds = open_fds()
    n = int(os.environ.get("LISTEN_FDS", "0") or 0)
    listeners = [socket.socket(fileno=3 + i) for i in range(n)]
    fields = [
        "pid={}".format(os.getpid()),
        "LISTEN_PID={}".format(os.environ.get("LISTEN_PID", "-")),
        "LISTEN_FDS={}".format(os.environ.get("LISTEN_FDS", "-")),
        "LISTEN_FDNAMES={}".format(os.environ.get("LISTEN_FDNAMES", "-")),
        "fds={}".format(",".join(str(fd) for fd in fds)),
    ]
    fields += ["fd{}={}".format(3 + i, describe(s)) for i, s in enumerate(listeners)]
    if not listeners:
        print("activate.py: no LISTEN_FDS", file=sys.stderr)
        return 2
    ready, _, _ = select.select(listeners, [], [], 20)
    if not ready:
        print("activate.py: no connection within 20 s", file=sys.stderr)
        return 2
    conn, _ = ready[0].accept()
    fields.append("peer={}".format(peer_name(conn)))
    conn.sendall((" ".join(fields) + "\n").encode())
    conn.settimeout(30)
    line = b""
    while not line.endswith(b"\n"):
        chunk = conn.recv(64)
        if not chunk:
            break
        line += chunk
    conn.close()
    try:
        return int(line.strip() or b"0")
    except ValueError:
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""A pool worker for tests/system.rs (mode = pool), in the manner of a
dovecot service process.

Accepts by itself on the listening socket vigild hands over as fd 3
(LISTEN_FDS=1), serves at most SLOTS clients at once (argv[1], default 2),
and reports X_AVAILABLE=<free slots> on NOTIFY_SOCKET whenever that number
changes. A client gets the line "pid=PID\\n" and is served until it closes
its end. While all slots are taken the worker stops accepting, so that a
new client waits for another worker. SIGINT (vigild's idle kill) ends it
cleanly.
"""

import os
import selectors
import signal
import socket
import sys


def notifier():
    path = os.environ["NOTIFY_SOCKET"]
    if path.startswith("@"):
        path = "\0" + path[1:]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.connect(path)
    return lambda text: sock.send(text.encode())


def main():
    slots = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    assert os.environ.get("LISTEN_FDS") == "1", os.environ.get("LISTEN_FDS")
    listener = socket.socket(fileno=3)
    # Every worker waits on it: whoever loses the race must not block.
    listener.setblocking(False)
    notify = notifier()
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    sel = selectors.DefaultSelector()
    clients = set()
    accepting = False

    def update():
        nonlocal accepting
        want = len(clients) < slots
        if want and not accepting:
            sel.register(listener, selectors.EVENT_READ)
        elif not want and accepting:
            sel.unregister(listener)
        accepting = want
        notify("X_AVAILABLE=%d" % (slots - len(clients)))

    update()
    while True:
        for key, _ in sel.select():
            if key.fileobj is listener:
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    continue
                conn.sendall(b"pid=%d\n" % os.getpid())
                clients.add(conn)
                sel.register(conn, selectors.EVENT_READ)
            else:
                conn = key.fileobj
                if not conn.recv(64):
                    sel.unregister(conn)
                    conn.close()
                    clients.discard(conn)
            update()


if __name__ == "__main__":
    main()

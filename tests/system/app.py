"""WSGI app for tests/system.rs: gunicorn serves it through the sockets that
vigild hands over (LISTEN_FDS). Each answer tells which gunicorn master
served it and what gunicorn saw of the socket activation, so the test can
tell a restarted gunicorn from the old one.

    GET /anything -> "hello path=/anything master=PID fdnames=NAMES local=ADDR\n"

ADDR is the local address of the connection as the server's socket sees it:
"127.0.0.1:PORT", "::1:PORT", or the unix socket's path.
"""

import os


def local_address(environ):
    sock = environ.get("gunicorn.socket")
    if sock is None:
        return "-"
    name = sock.getsockname()
    if isinstance(name, tuple):
        return "{}:{}".format(name[0], name[1])
    if isinstance(name, bytes):
        name = name.decode()
    return name or "-"


def app(environ, start_response):
    body = "hello path={} master={} fdnames={} local={}\n".format(
        environ.get("PATH_INFO", ""),
        os.getppid(),  # a gunicorn worker's parent is the master (arbiter)
        os.environ.get("LISTEN_FDNAMES", "-"),
        local_address(environ),
    ).encode()
    start_response(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
    )
    return [body]

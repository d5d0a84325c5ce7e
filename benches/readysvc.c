/* The readiness benchmark's service program (static; built by benches/run).
 *
 * It says it is ready READY_DELAY_MS (default 20) after exec, so what is
 * timed is the notification's way through the supervisor, not the spawn:
 *   - NOTIFY_SOCKET set (vigild ready = notify): one datagram "READY=1"
 *     (a path, or "@name" for an abstract socket);
 *   - else READY_FD=N (s6's notification-fd, vigild ready = fd:N): a newline
 *     written to fd N, which is then closed.
 * Everything is prepared before the delay (socket connected, output file
 * open); the CLOCK_MONOTONIC reading is the last thing before the
 * sendmsg(2)/write(2). Only after sending does it append
 * "PID READY_NS\n" to $BENCH_OUT, then it waits in pause() until killed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "stamp.h"

static int notify_socket(const char *path)
{
    struct sockaddr_un addr;
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof addr.sun_path) return -1;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@') addr.sun_path[0] = 0;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&addr, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(void)
{
    const char *sock = getenv("NOTIFY_SOCKET");
    const char *rfd = getenv("READY_FD");
    const char *out = getenv("BENCH_OUT");
    const char *delay = getenv("READY_DELAY_MS");
    long ms = delay ? atol(delay) : 20;
    int fd = -1, pipe_fd = -1, out_fd = -1;
    if (sock && *sock) {
        fd = notify_socket(sock);
        if (fd < 0) return 111;
    } else if (rfd && *rfd) {
        pipe_fd = atoi(rfd);
    } else {
        return 100;
    }
    if (out) out_fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

    struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&d, &d) < 0) {}

    struct timespec ts;
    int sent;
    if (fd >= 0) {
        static const char msg[] = "READY=1";
        struct iovec iov = {(void *)msg, sizeof msg - 1};
        struct msghdr mh;
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sent = sendmsg(fd, &mh, 0) == (ssize_t)(sizeof msg - 1);
        close(fd);
    } else {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sent = write(pipe_fd, "\n", 1) == 1;
        close(pipe_fd);
    }
    if (!sent) return 112;
    if (out_fd >= 0) {
        char buf[64];
        (void)!write(out_fd, buf, stamp(buf, ts));
        close(out_fd);
    }
    for (;;)
        pause();
}

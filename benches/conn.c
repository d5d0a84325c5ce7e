/* The accept-mode benchmark's load generator, and its worker.
 *
 * Built twice by benches/run (static, like the other helpers):
 *   conn       (this file)             the client, 127.0.0.1 only
 *   printline  (this file, -DWORKER)   the per-connection service
 * One file, so the line the worker writes and the line the client checks
 * cannot drift apart.
 *
 * Client modes (every one stops by itself; times are bounded):
 *   conn rate PORT CONC SECONDS [TIMEOUT_MS]
 *       CONC connections at a time, each replaced as soon as it ends, for
 *       SECONDS; then the ones in flight are finished (or timed out).
 *   conn burst PORT N [TIMEOUT_MS]
 *       N connections started at once, one each; waits for all of them.
 *   conn latency COUNT SPACING_MS PORT...
 *       COUNT rounds; in each, one connection to every PORT in turn, one at a
 *       time, SPACING_MS apart, so each server is idle when it is measured.
 * A connection: connect, read until EOF, check the bytes are LINE, close.
 * rate and burst print one line of key=value counts:
 *   ok closed refused timeout failed elapsed_us first_max_us
 * (closed: EOF or reset before any byte; failed: anything else that is not
 * LINE, e.g. a partial line). latency prints one line per port:
 *   port=P ok=N lat_us=A,B,...      (connect() → first byte, per connection)
 *
 * Worker: printline [SLEEP_MS]: optionally sleeps, writes LINE to stdout and
 * exits. With LISTEN_FDS set (vigild's activate mode) it first accepts one
 * connection on fd 3 and writes LINE there instead. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE "vigild bench: hello\n"
#define LINE_LEN (sizeof LINE - 1)

#ifdef WORKER

int main(int argc, char **argv)
{
    if (argc > 1) {
        long ms = atol(argv[1]);
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&ts, 0);
    }
    int out = 1;
    if (getenv("LISTEN_FDS")) {
        /* The listening socket may be non-blocking (shared with vigild):
         * wait for the connection that woke vigild, then take it. */
        struct pollfd p = { 3, POLLIN, 0 };
        for (;;) {
            out = accept4(3, 0, 0, SOCK_CLOEXEC);
            if (out >= 0) break;
            if (errno != EAGAIN && errno != EINTR) return 1;
            poll(&p, 1, 1000);
        }
    }
    return write(out, LINE, LINE_LEN) == (ssize_t)LINE_LEN ? 0 : 1;
}

#else

enum { MAX_SLOTS = 4096 };

struct stats {
    long ok, closed, refused, timeout, failed;
    long long first_max_ns; /* slowest connect → first byte among ok ones */
    long long last_first_ns; /* connect → first byte of the last ok one */
};

struct slot {
    int fd; /* -1: free */
    long long t0; /* just before connect() */
    long long first; /* first byte, 0 until then */
    size_t got;
    char buf[LINE_LEN + 1]; /* one more than LINE, to see a longer answer */
};

static struct slot slots[MAX_SLOTS];
static struct pollfd pfds[MAX_SLOTS];

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void finish(struct slot *s, struct stats *st, long *bucket)
{
    ++*bucket;
    if (bucket == &st->ok) {
        long long d = s->first - s->t0;
        if (d > st->first_max_ns) st->first_max_ns = d;
        st->last_first_ns = d;
    }
    close(s->fd);
    s->fd = -1;
}

/* Start one connection in slot s. A refusal may be known at once. */
static void start(struct slot *s, int port, struct stats *st)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->got = 0;
    s->first = 0;
    s->t0 = now_ns();
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        perror("conn: socket");
        exit(1);
    }
    if (connect(s->fd, (struct sockaddr *)&a, sizeof a) == 0 || errno == EINPROGRESS)
        return;
    finish(s, st, errno == ECONNREFUSED ? &st->refused : &st->failed);
}

/* The socket is readable (or has an error): read what is there and decide
 * whether the connection is over. No need to wait for POLLOUT after the
 * non-blocking connect: a failed connect shows up here as a read error. */
static void on_ready(struct slot *s, struct stats *st)
{
    for (;;) {
        ssize_t n = read(s->fd, s->buf + s->got, sizeof s->buf - s->got);
        if (n > 0) {
            if (!s->first) s->first = now_ns();
            s->got += (size_t)n;
            if (s->got == sizeof s->buf) { /* longer than LINE */
                finish(s, st, &st->failed);
                return;
            }
            continue;
        }
        if (n == 0) {
            int good = s->got == LINE_LEN && memcmp(s->buf, LINE, LINE_LEN) == 0;
            finish(s, st, good ? &st->ok : s->got == 0 ? &st->closed : &st->failed);
            return;
        }
        if (errno == EAGAIN || errno == EINTR) return;
        if (errno == ECONNREFUSED) finish(s, st, &st->refused);
        else if (errno == ECONNRESET && s->got == 0) finish(s, st, &st->closed);
        else finish(s, st, &st->failed);
        return;
    }
}

/* Run `nslots` connections at a time to `port`. Slots are refilled until
 * `stop_ns` (0: one connection per slot); then the loop drains. Each
 * connection gets `timeout_ns`. */
static void run(int port, int nslots, long long stop_ns, long long timeout_ns, struct stats *st)
{
    int refill = stop_ns != 0;
    for (int i = 0; i < nslots; i++) start(&slots[i], port, st);
    for (;;) {
        long long t = now_ns();
        int active = 0;
        long long wake = t + 1000000000LL;
        for (int i = 0; i < nslots; i++) {
            struct slot *s = &slots[i];
            if (s->fd >= 0 && t - s->t0 > timeout_ns) finish(s, st, &st->timeout);
            if (s->fd < 0 && refill && t < stop_ns) start(s, port, st);
            pfds[i].fd = s->fd; /* poll ignores negative fds */
            pfds[i].events = POLLIN;
            if (s->fd >= 0) {
                active++;
                if (s->t0 + timeout_ns < wake) wake = s->t0 + timeout_ns;
            }
        }
        if (!active) {
            if (!refill || t >= stop_ns) return;
            continue; /* every slot was refused at once: start them again */
        }
        if (refill && t < stop_ns && stop_ns < wake) wake = stop_ns;
        int ms = (int)((wake - t + 999999) / 1000000);
        if (poll(pfds, (nfds_t)nslots, ms) < 0 && errno != EINTR) {
            perror("conn: poll");
            exit(1);
        }
        for (int i = 0; i < nslots; i++)
            if (slots[i].fd >= 0 && pfds[i].revents) on_ready(&slots[i], st);
    }
}

static void print_counts(const struct stats *st, long long elapsed_ns)
{
    printf("ok=%ld closed=%ld refused=%ld timeout=%ld failed=%ld elapsed_us=%lld first_max_us=%lld\n",
           st->ok, st->closed, st->refused, st->timeout, st->failed, elapsed_ns / 1000,
           st->first_max_ns / 1000);
}

static int usage(void)
{
    fprintf(stderr, "usage: conn rate PORT CONC SECONDS [TIMEOUT_MS]\n"
                    "       conn burst PORT N [TIMEOUT_MS]\n"
                    "       conn latency COUNT SPACING_MS PORT...\n");
    return 2;
}

static int latency(int count, long spacing_ms, int nports, char **ports)
{
    struct timespec gap = { spacing_ms / 1000, (spacing_ms % 1000) * 1000000L };
    long long *lat = calloc((size_t)count * (size_t)nports, sizeof *lat);
    struct stats *st = calloc((size_t)nports, sizeof *st);
    if (!lat || !st) return 1;
    for (int r = 0; r < count; r++) {
        for (int p = 0; p < nports; p++) {
            long before = st[p].ok;
            run(atoi(ports[p]), 1, 0, 10000000000LL, &st[p]);
            lat[r * nports + p] = st[p].ok > before ? st[p].last_first_ns : -1;
            nanosleep(&gap, 0);
        }
    }
    for (int p = 0; p < nports; p++) {
        printf("port=%s ok=%ld closed=%ld refused=%ld timeout=%ld failed=%ld lat_us=", ports[p], st[p].ok,
               st[p].closed, st[p].refused, st[p].timeout, st[p].failed);
        const char *sep = "";
        for (int r = 0; r < count; r++) {
            long long v = lat[r * nports + p];
            if (v < 0) continue;
            printf("%s%lld", sep, v / 1000);
            sep = ",";
        }
        printf("\n");
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) return usage();
    struct stats st;
    memset(&st, 0, sizeof st);
    for (int i = 0; i < MAX_SLOTS; i++) slots[i].fd = -1;
    long long t0 = now_ns();
    if (strcmp(argv[1], "rate") == 0 && (argc == 5 || argc == 6)) {
        int conc = atoi(argv[3]);
        double seconds = atof(argv[4]);
        long long timeout = (argc == 6 ? atoll(argv[5]) : 10000) * 1000000LL;
        if (conc < 1 || conc > MAX_SLOTS || seconds <= 0 || seconds > 3600) return usage();
        run(atoi(argv[2]), conc, t0 + (long long)(seconds * 1e9), timeout, &st);
    } else if (strcmp(argv[1], "burst") == 0 && (argc == 4 || argc == 5)) {
        int n = atoi(argv[3]);
        long long timeout = (argc == 5 ? atoll(argv[4]) : 10000) * 1000000LL;
        if (n < 1 || n > MAX_SLOTS) return usage();
        run(atoi(argv[2]), n, 0, timeout, &st);
    } else if (strcmp(argv[1], "latency") == 0 && argc >= 5) {
        int count = atoi(argv[2]);
        if (count < 1 || count > 100000) return usage();
        return latency(count, atol(argv[3]), argc - 4, argv + 4);
    } else {
        return usage();
    }
    print_counts(&st, now_ns() - t0);
    return 0;
}

#endif

/* The readiness benchmark's stopwatch (static; built by benches/run). One
 * start per run: it arms itself, pulls the trigger, and prints when the
 * supervisor showed the service ready, by CLOCK_MONOTONIC (the clock
 * readysvc stamps READY=1 with).
 *
 *   readywatch file DIR FILE MATCH TRIGGER...
 *       inotify on DIR (IN_MOVED_TO: a rename into DIR) is set up before the
 *       trigger; at each event for FILE the clock is read as soon as the
 *       blocking read(2) returns, then FILE is read: the first time it
 *       MATCHes, that reading is the answer. MATCH is
 *         line:TEXT  a line of FILE starts with TEXT (vigild's status file,
 *                    e.g. "svc state=up ")
 *         s6ready    s6's supervise/status: a pid, and the ready flag
 *                    (bit 3 of the last byte, s6 ≥ 2.10's layout)
 *   readywatch exit TRIGGER...
 *       TRIGGER must be `cmd`: the clock is read when waitpid(2) on it returns.
 *   readywatch calib DIR N
 *       the method's own floor: N times, a child stamps the clock and
 *       renames a file into DIR while this process waits in read(2) on
 *       inotify, as above; prints the N latencies.
 *
 * TRIGGER: `fifo PATH LINE` (LINE and a newline written to the FIFO
 * PATH, opened non-blocking) or `cmd PROG ARGS...` (spawned with stdout
 * on this stderr, and waited for at the end; its exit code is reported).
 *
 * Prints one line: trigger_ns=T event_ns=E rc=R events=N (N: events for
 * FILE seen, the matching one included). Gives up after 10 s (exit 1). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static unsigned long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static void on_alarm(int sig) { (void)sig; }

static void die(const char *what)
{
    fprintf(stderr, "readywatch: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Pull the trigger (argv from `fifo` or `cmd`); the spawned pid or 0. */
static pid_t trigger(char **t)
{
    if (t[0] && !strcmp(t[0], "fifo") && t[1] && t[2]) {
        int fd = open(t[1], O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) die(t[1]);
        size_t n = strlen(t[2]);
        char buf[600];
        if (n + 1 > sizeof buf) { errno = E2BIG; die("line"); }
        memcpy(buf, t[2], n);
        buf[n] = '\n';
        if (write(fd, buf, n + 1) != (ssize_t)(n + 1)) die("write to the fifo");
        close(fd);
        return 0;
    }
    if (t[0] && !strcmp(t[0], "cmd") && t[1]) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, 2, 1);
        pid_t pid;
        int e = posix_spawn(&pid, t[1], &fa, NULL, t + 1, environ);
        if (e) { errno = e; die(t[1]); }
        return pid;
    }
    fprintf(stderr, "readywatch: bad trigger\n");
    exit(2);
}

static int matches(int dirfd, const char *file, const char *match)
{
    char buf[65536];
    int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    if (!strncmp(match, "line:", 5)) {
        const char *want = match + 5;
        size_t wl = strlen(want);
        for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
            if (!strncmp(p, want, wl)) return 1;
        return 0;
    }
    if (!strcmp(match, "s6ready")) {
        /* stamp 12, readystamp 12, pid 8 (big-endian), ..., flags last */
        if (n < 35) return 0;
        int pid = 0;
        for (int i = 24; i < 32; i++) pid |= buf[i];
        return pid && (buf[n - 1] & 8);
    }
    fprintf(stderr, "readywatch: bad MATCH %s\n", match);
    exit(2);
}

static int wait_rc(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int watch(const char *dir)
{
    int in = inotify_init1(IN_CLOEXEC);
    if (in < 0) die("inotify_init1");
    if (inotify_add_watch(in, dir, IN_MOVED_TO) < 0) die(dir);
    return in;
}

/* Block until an event for `file`; the clock right after the read. */
static unsigned long long next_event(int in, const char *file)
{
    char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(in, ev, sizeof ev);
        unsigned long long t = now_ns();
        if (n < 0) {
            if (errno == EINTR) {
                fprintf(stderr, "readywatch: timed out\n");
                exit(1);
            }
            die("read inotify");
        }
        for (char *p = ev; p < ev + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            if (e->len && !strcmp(e->name, file)) return t;
            p += sizeof *e + e->len;
        }
    }
}

static int calib(const char *dir, int n)
{
    int in = watch(dir);
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) die(dir);
    printf("calib_ns=");
    for (int i = 0; i < n; i++) {
        int p[2];
        if (pipe(p) < 0) die("pipe");
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) {
            struct timespec d = {0, 3000000};
            nanosleep(&d, NULL);
            int fd = openat(dirfd, "calib.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            (void)!write(fd, "x\n", 2);
            close(fd);
            unsigned long long t0 = now_ns();
            renameat(dirfd, "calib.tmp", dirfd, "calib");
            (void)!write(p[1], &t0, sizeof t0);
            _exit(0);
        }
        close(p[1]);
        alarm(10);
        unsigned long long t1 = next_event(in, "calib");
        alarm(0);
        unsigned long long t0 = 0;
        (void)!read(p[0], &t0, sizeof t0);
        close(p[0]);
        wait_rc(pid);
        printf("%s%lld", i ? "," : "", (long long)(t1 - t0));
    }
    printf("\n");
    return 0;
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: a blocked read/waitpid returns EINTR */
    sigaction(SIGALRM, &sa, NULL);
    if (argc == 4 && !strcmp(argv[1], "calib")) return calib(argv[2], atoi(argv[3]));
    if (argc >= 7 && !strcmp(argv[1], "file")) {
        const char *dir = argv[2], *file = argv[3], *match = argv[4];
        int in = watch(dir);
        int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) die(dir);
        alarm(10);
        unsigned long long t0 = now_ns();
        pid_t pid = trigger(argv + 5);
        int events = 0;
        unsigned long long t;
        do {
            t = next_event(in, file);
            events++;
        } while (!matches(dirfd, file, match));
        alarm(0);
        int rc = pid ? wait_rc(pid) : 0;
        printf("trigger_ns=%llu event_ns=%llu rc=%d events=%d\n", t0, t, rc, events);
        return 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "exit") && !strcmp(argv[2], "cmd")) {
        alarm(10);
        unsigned long long t0 = now_ns();
        pid_t pid = trigger(argv + 2);
        int st;
        if (waitpid(pid, &st, 0) < 0) {
            fprintf(stderr, "readywatch: %s\n", errno == EINTR ? "timed out" : strerror(errno));
            kill(pid, SIGKILL);
            return 1;
        }
        unsigned long long t = now_ns();
        int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        printf("trigger_ns=%llu event_ns=%llu rc=%d events=1\n", t0, t, rc);
        return 0;
    }
    fprintf(stderr, "usage: readywatch file DIR FILE MATCH TRIGGER... | exit cmd PROG ARGS... | calib DIR N\n");
    return 2;
}

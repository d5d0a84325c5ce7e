/* The benchmark's service program (static; built by benches/run).
 * First thing in main it appends "PID MONOTONIC_NS\n" to $BENCH_OUT, so the
 * harness knows when the process started and which pid it has. Then it
 * pauses forever, or, if $BENCH_EXIT is set, exits 1 at once (a crash loop,
 * like /bin/false but counted). */
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char *put_u(char *p, unsigned long long v)
{
    char tmp[24];
    int n = 0;
    do tmp[n++] = (char)('0' + v % 10); while (v /= 10);
    while (n) *p++ = tmp[--n];
    return p;
}

int main(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const char *out = getenv("BENCH_OUT");
    if (out) {
        char buf[64], *p = buf;
        p = put_u(p, (unsigned long long)getpid());
        *p++ = ' ';
        p = put_u(p, (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec);
        *p++ = '\n';
        int fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            (void)!write(fd, buf, (size_t)(p - buf));
            close(fd);
        }
    }
    if (getenv("BENCH_EXIT"))
        return 1;
    for (;;)
        pause();
}

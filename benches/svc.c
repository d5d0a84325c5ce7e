/* The benchmark's service program (static; built by benches/run).
 * First thing in main it appends "PID MONOTONIC_NS\n" to $BENCH_OUT, so the
 * harness knows when the process started and which pid it has. Then it
 * pauses forever, or, if $BENCH_EXIT is set, exits 1 at once (a crash loop,
 * like /bin/false but counted). */
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "stamp.h"

int main(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const char *out = getenv("BENCH_OUT");
    if (out) {
        char buf[64];
        size_t len = stamp(buf, ts);
        int fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            (void)!write(fd, buf, len);
            close(fd);
        }
    }
    if (getenv("BENCH_EXIT"))
        return 1;
    for (;;)
        pause();
}

/* "PID NS\n": a benchmark service's record of when it did something (pid,
 * and CLOCK_MONOTONIC in nanoseconds), built without stdio so that it
 * costs the same in every static helper. Shared by svc.c and readysvc.c. */
#include <stddef.h>
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

/* Write the record for `ts` into buf (64 bytes are plenty); its length. */
static size_t stamp(char *buf, struct timespec ts)
{
    char *p = put_u(buf, (unsigned long long)getpid());
    *p++ = ' ';
    p = put_u(p, (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec);
    *p++ = '\n';
    return (size_t)(p - buf);
}

/* reap RESULT PROGRAM ARGS...: run PROGRAM (a supervisor) as the child of a
 * subreaper, so every process of its tree, orphans included, is reaped here
 * and charged to getrusage(RUSAGE_CHILDREN). When the last one is gone,
 * write "UTIME_US STIME_US ROOT_STATUS\n" to RESULT and exit. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) return 1;
    pid_t root = fork();
    if (root < 0) return 1;
    if (root == 0) {
        execv(argv[2], argv + 2);
        _exit(127);
    }
    int status, root_status = -1;
    for (;;) {
        pid_t pid = wait(&status);
        if (pid == root) root_status = status;
        if (pid < 0 && errno == ECHILD) break;
    }
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    FILE *f = fopen(argv[1], "w");
    if (!f) return 1;
    fprintf(f, "%lld %lld %d\n",
            (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
            (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, root_status);
    return fclose(f) == 0 ? 0 : 1;
}

/* The floor under "listener's CPU per connection": how much CPU a process
 * spends of its own to start a program and reap it, with nothing else to
 * do. A C loop spawns WORKER (stdio on /dev/null) N times each way and
 * prints the parent's own utime+stime per spawn, in µs:
 *   spawncost N WORKER  ->  fork=… posix_spawn=…
 * posix_spawn is musl's (clone with CLONE_VM|CLONE_VFORK, as vigild's). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static double cpu_us(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + r.ru_utime.tv_usec + r.ru_stime.tv_usec;
}

static double per_spawn(int n, char *worker, int use_fork, int null) {
    char *argv[] = {worker, NULL};
    posix_spawn_file_actions_t stdio;
    posix_spawn_file_actions_init(&stdio);
    posix_spawn_file_actions_adddup2(&stdio, null, 0);
    posix_spawn_file_actions_adddup2(&stdio, null, 1);
    double start = cpu_us();
    for (int i = 0; i < n; i++) {
        pid_t pid;
        if (use_fork) {
            pid = fork();
            if (pid == 0) {
                dup2(null, 0);
                dup2(null, 1);
                execve(worker, argv, environ);
                _exit(127);
            }
        } else if (posix_spawn(&pid, worker, &stdio, NULL, argv, environ) != 0) {
            pid = -1;
        }
        if (pid < 0) {
            perror("spawn");
            exit(1);
        }
        waitpid(pid, NULL, 0);
    }
    return (cpu_us() - start) / n;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: spawncost N WORKER\n");
        return 2;
    }
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    int n = atoi(argv[1]);
    double forked = per_spawn(n, argv[2], 1, null);
    double spawned = per_spawn(n, argv[2], 0, null);
    printf("fork=%.1f posix_spawn=%.1f\n", forked, spawned);
    return 0;
}

/* The baseline "supervisor": the least a respawn can cost on this machine.
 * baresup fork|spawn PROGRAM: start PROGRAM, block in waitpid(2) until it
 * dies, start it again at once; with fork(2)+execve(2) or posix_spawn(3)
 * (vfork-style, as vigild does). SIGTERM: stop the child and exit. */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    int use_fork = strcmp(argv[1], "fork") == 0;
    char *args[] = { argv[2], 0 };
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term; /* no SA_RESTART: waitpid returns EINTR */
    sigaction(SIGTERM, &sa, 0);
    while (!stop) {
        pid_t pid;
        if (use_fork) {
            pid = fork();
            if (pid == 0) {
                execve(argv[2], args, environ);
                _exit(127);
            }
        } else if (posix_spawn(&pid, argv[2], 0, 0, args, environ) != 0) {
            pid = -1;
        }
        if (pid < 0) return 1;
        int status;
        while (waitpid(pid, &status, 0) < 0) {
            if (errno == EINTR && stop) {
                kill(pid, SIGTERM);
                waitpid(pid, &status, 0);
                return 0;
            }
        }
    }
    return 0;
}

/*
 * child_setup and child_reap (common/child.h). Not pure.
 */
#include "common/child.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

void child_setup(pid_t parent, const char *name)
{
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        _exit(0); /* The parent died before prctl took effect. */
    }
    (void)prctl(PR_SET_NAME, name);
    (void)signal(SIGINT, SIG_IGN);
    (void)signal(SIGTERM, SIG_IGN);
    (void)signal(SIGHUP, SIG_IGN);
    (void)signal(SIGPIPE, SIG_IGN);
}

void child_reap(pid_t *pid, int *fd)
{
    if (*fd >= 0) {
        (void)close(*fd);
    }
    pid_t r;
    do {
        r = waitpid(*pid, NULL, 0);
    } while (r < 0 && errno == EINTR);
    *pid = 0;
    *fd = -1;
}

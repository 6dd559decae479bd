/*
 * child_setup (common/child.h). Not pure.
 */
#include "common/child.h"

#include <signal.h>
#include <sys/prctl.h>
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

/*
 * raftctl keys DIR: the two key files (DESIGN.md, Authentication and
 * files) for an operator who sets up hosts by hand (docs/HOSTS.md):
 * DIR/cluster.key and DIR/client.key, 32 random bytes in hex each, mode
 * 0600, DIR created 0700 when missing. Never overwrites a key: a new key
 * locks out every member and client holding the old one. Read
 * launcher/cmd_member.c next.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/auth.h"
#include "launcher/raftctl.h"

int cmd_keys(int argc, char **argv, const char *dir)
{
    struct ctl_args a = {.cmd = "keys", .dir = dir};
    int rc = ctl_parse(argc, argv, NULL, 0, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (a.n_pos != 1 || a.pos[0][0] == '\0') {
        ctl_error("usage: raftctl keys DIR");
        return CTL_EXIT_USAGE;
    }
    const char *kdir = a.pos[0];
    static const char *const names[] = {"cluster.key", "client.key"};
    char paths[2][4096];
    for (int i = 0; i < 2; i++) {
        int n = snprintf(paths[i], sizeof paths[i], "%s/%s", kdir, names[i]);
        if (n < 0 || (size_t)n >= sizeof paths[i]) {
            ctl_error("keys: directory name too long");
            return CTL_EXIT_USAGE;
        }
        if (access(paths[i], F_OK) == 0) {
            ctl_error("keys: %s exists: not overwritten (a new key locks "
                      "out every holder of the old one; docs/AUTH.md "
                      "rotates keys)",
                      paths[i]);
            return CTL_EXIT_ERROR;
        }
    }
    if (mkdir(kdir, 0700) != 0 && errno != EEXIST) {
        ctl_error("keys: cannot create %s: %s", kdir, strerror(errno));
        return CTL_EXIT_ERROR;
    }
    for (int i = 0; i < 2; i++) {
        char errmsg[ERRMSG_LEN] = "";
        if (auth_create_key_file(paths[i], errmsg) != ERR_OK) {
            ctl_error("keys: %s", errmsg);
            return CTL_EXIT_ERROR;
        }
        printf("%s\n", paths[i]);
    }
    return CTL_EXIT_OK;
}

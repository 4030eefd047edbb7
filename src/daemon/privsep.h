/*
 * What the daemon prepares as root before it drops to --user, so the
 * unprivileged process can do its work (issue #14): the state directory
 * (created 0750 and owned by the user, with everything root left in it
 * handed over, as systemd does for StateDirectory= with User=) and the
 * pidfile (written by root, then owned by the user so the daemon can
 * clear it at exit). Without --user, the state directory is still made
 * 0750 and a looser one is tightened with a warning.
 */
#ifndef SN_DAEMON_PRIVSEP_H
#define SN_DAEMON_PRIVSEP_H

#include <stdbool.h>
#include <sys/types.h>

#include <sentineld/plugin.h>

#include "core/error.h"

struct sn_privsep_user {
    char name[64];
    uid_t uid;
    gid_t gid;
};

/* Look up --user (SN_EINVAL with the reason when unknown). */
enum sn_status sn_privsep_lookup(const char *name, struct sn_privsep_user *u,
                                 struct sn_error *err);

/*
 * Create state_dir (0750, not its parents) when missing and tighten a
 * looser one. With u (root about to drop to u): the directory and every
 * file or directory in it owned by root become u's (symbolic links are
 * not followed, other filesystems not entered). err names the path that
 * failed.
 */
enum sn_status sn_privsep_state_dir(const char *state_dir,
                                    const struct sn_privsep_user *u,
                                    struct sn_error *err);

/* Write the pid to path (0644, readable by service managers) and, with
 * u, make u its owner so the unprivileged daemon can clear it. */
enum sn_status sn_privsep_pidfile(const char *path,
                                  const struct sn_privsep_user *u,
                                  struct sn_error *err);

/* At exit: remove the pidfile; when its directory is not ours (the
 * daemon dropped privileges), empty it instead so it names no process. */
void sn_privsep_pidfile_clear(const char *path);

/* setgid/initgroups/setuid to u, and check root cannot be regained. */
enum sn_status sn_privsep_drop(const struct sn_privsep_user *u,
                               struct sn_error *err);

#endif

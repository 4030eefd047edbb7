/* Privilege separation at startup; see privsep.h. */
/* _DEFAULT_SOURCE: initgroups(3) is a BSD interface; _XOPEN_SOURCE 500
 * for nftw(3). */
#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 700
#include "daemon/privsep.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/statefile.h"

enum sn_status
sn_privsep_lookup(const char *name, struct sn_privsep_user *u,
                  struct sn_error *err)
{
    struct passwd *pw = getpwnam(name);

    if (pw == NULL) {
        sn_error_set(err, "--user %s: no such user", name);
        return SN_EINVAL;
    }
    snprintf(u->name, sizeof(u->name), "%s", pw->pw_name);
    u->uid = pw->pw_uid;
    u->gid = pw->pw_gid;
    return SN_OK;
}

/* nftw has no argument for its callback: the walk runs once, on the
 * control thread, before any other thread exists. */
static const struct sn_privsep_user *walk_user;
static char walk_failed[4096];
static int walk_errno;

static int
hand_over(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)f;
    if (flag == FTW_SL || flag == FTW_SLN || st->st_uid != 0)
        return 0;
    if (lchown(path, walk_user->uid, walk_user->gid) != 0) {
        walk_errno = errno;
        snprintf(walk_failed, sizeof(walk_failed), "%s", path);
        return 1;
    }
    return 0;
}

enum sn_status
sn_privsep_state_dir(const char *dir, const struct sn_privsep_user *u,
                     struct sn_error *err)
{
    struct stat st;

    if (mkdir(dir, SN_STATEDIR_MODE) != 0 && errno != EEXIST) {
        sn_error_set(err, "cannot create state_dir %s: %s", dir,
                     strerror(errno));
        return SN_EIO;
    }
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        sn_error_set(err, "state_dir %s is not a directory", dir);
        return SN_EIO;
    }
    /* Incidents, audit and raw events: not for every local user. */
    if ((st.st_mode & 027) != 0) {
        /* Not ours to change (another owner): say so and go on; what
         * the daemon creates inside is 0600 anyway. */
        if (chmod(dir, st.st_mode & 0750) != 0)
            sn_log_warn("state_dir %s is %03o (others can list it) and "
                        "cannot be restricted: %s",
                        dir, (unsigned)(st.st_mode & 0777), strerror(errno));
        else
            sn_log_warn("state_dir %s was %03o: now %03o", dir,
                        (unsigned)(st.st_mode & 0777),
                        (unsigned)(st.st_mode & 0750));
    }
    if (u == NULL || u->uid == 0)
        return SN_OK;
    walk_user = u;
    walk_failed[0] = '\0';
    if (nftw(dir, hand_over, 16, FTW_PHYS | FTW_MOUNT) != 0) {
        sn_error_set(err,
                     "cannot give %s to user %s: %s (make %s's state_dir "
                     "its own, or chown it)",
                     walk_failed[0] ? walk_failed : dir, u->name,
                     strerror(walk_failed[0] ? walk_errno : errno), u->name);
        return SN_EIO;
    }
    if (lstat(dir, &st) == 0 && st.st_uid != u->uid) {
        sn_error_set(err,
                     "state_dir %s belongs to uid %u, not to --user %s; the "
                     "daemon could not write there (chown it to %s)",
                     dir, (unsigned)st.st_uid, u->name, u->name);
        return SN_EIO;
    }
    return SN_OK;
}

enum sn_status
sn_privsep_pidfile(const char *path, const struct sn_privsep_user *u,
                   struct sn_error *err)
{
    char num[32];
    int fd, n;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
              0644);
    if (fd < 0) {
        sn_error_set(err, "cannot write pidfile %s: %s", path,
                     strerror(errno));
        return SN_EIO;
    }
    n = snprintf(num, sizeof(num), "%ld\n", (long)getpid());
    if (write(fd, num, (size_t)n) != n ||
        (u != NULL && fchown(fd, u->uid, u->gid) != 0)) {
        sn_error_set(err, "cannot write pidfile %s: %s", path,
                     strerror(errno));
        close(fd);
        return SN_EIO;
    }
    return close(fd) == 0 ? SN_OK : SN_EIO;
}

void
sn_privsep_pidfile_clear(const char *path)
{
    int fd;

    if (unlink(path) == 0 || errno == ENOENT)
        return;
    fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0)
        close(fd);
}

enum sn_status
sn_privsep_drop(const struct sn_privsep_user *u, struct sn_error *err)
{
    if (initgroups(u->name, u->gid) != 0 || setgid(u->gid) != 0 ||
        setuid(u->uid) != 0) {
        sn_error_set(err, "cannot drop privileges to %s: %s", u->name,
                     strerror(errno));
        return SN_EIO;
    }
    /* A process that can regain root has not dropped anything. */
    if (u->uid != 0 && setuid(0) == 0) {
        sn_error_set(err, "privilege drop to %s did not stick", u->name);
        return SN_EIO;
    }
    return SN_OK;
}

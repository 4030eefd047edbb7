/* State files: mode and owner; see statefile.h. */
#include "core/statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The owner of path's directory into *st. */
static int
dir_of(const char *path, struct stat *st)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n;

    if (slash == NULL)
        return stat(".", st);
    n = (size_t)(slash - path);
    if (n == 0)
        return stat("/", st);
    if (n >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(dir, path, n);
    dir[n] = '\0';
    return stat(dir, st);
}

int
sn_statefile_own(int fd, const char *path)
{
    struct stat d, f;

    if (geteuid() != 0)
        return 0;
    if (dir_of(path, &d) != 0 || fstat(fd, &f) != 0)
        return -1;
    /* A root-owned directory: root's files are the daemon's files. */
    if (d.st_uid == 0 || (f.st_uid == d.st_uid && f.st_gid == d.st_gid))
        return 0;
    return fchown(fd, d.st_uid, d.st_gid);
}

/* Tighten and own one existing or new file; appends to note. Never
 * opens (and so never closes) an existing file: closing any descriptor
 * of a database drops every POSIX lock this process holds on it, and
 * another connection of this process (the manager's, while the API opens
 * its own) would lose its locks and corrupt the database. */
static int
fix(const char *path, bool create, char *note, size_t note_len)
{
    struct stat st, d;
    int fd;

    if (create) {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                  SN_STATEFILE_MODE);
        if (fd >= 0) { /* new: no connection can have it open */
            int rc = sn_statefile_own(fd, path);
            close(fd);
            return rc;
        }
        if (errno != EEXIST)
            return -1;
    }
    if (lstat(path, &st) != 0)
        return !create && errno == ENOENT ? 0 : -1;
    if (!S_ISREG(st.st_mode))
        return 0;
    if ((st.st_mode & 077) != 0) {
        size_t used = strlen(note);
        if (chmod(path, SN_STATEFILE_MODE) != 0)
            return -1;
        if (used < note_len)
            snprintf(note + used, note_len - used, "%s%s was %03o",
                     used ? ", " : "", path, (unsigned)(st.st_mode & 0777));
    }
    if (geteuid() == 0 && dir_of(path, &d) == 0 && d.st_uid != 0 &&
        (st.st_uid != d.st_uid || st.st_gid != d.st_gid))
        return lchown(path, d.st_uid, d.st_gid);
    return 0;
}

int
sn_statefile_prepare_db(const char *path, char *note, size_t note_len)
{
    static const char *const sfx[] = { "-wal", "-shm" };
    char side[4200];

    if (note_len > 0)
        note[0] = '\0';
    if (fix(path, true, note, note_len) != 0)
        return -1;
    for (size_t i = 0; i < 2; i++) {
        snprintf(side, sizeof(side), "%s%s", path, sfx[i]);
        if (fix(side, false, note, note_len) != 0)
            return -1;
    }
    return 0;
}

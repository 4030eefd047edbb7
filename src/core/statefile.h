/*
 * Files in the state directory: incidents, audit and raw events with
 * personal data, and the API token hashes. They are created 0600 (the
 * directory 0750) whatever the umask, and a process running as root
 * (the CLI, or the daemon before it drops privileges) writes them as the
 * directory's owner, so the unprivileged daemon that owns the directory
 * can still open them. No dependency beyond libc: plugins that keep
 * state (out_history) compile this file in.
 */
#ifndef SN_CORE_STATEFILE_H
#define SN_CORE_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>

/* The mode of state files and of the state directory. */
#define SN_STATEFILE_MODE 0600
#define SN_STATEDIR_MODE 0750

/*
 * Before SQLite opens the database at path: create it 0600 when missing;
 * tighten an existing one (and its -wal, -shm) that group or others can
 * read to 0600, writing what it did into note (empty when nothing);
 * when running as root, give the files the owner of their directory.
 * SQLite gives a new -wal and -shm the database's mode and owner.
 * Returns 0, or -1 with errno set (nothing usable at path).
 */
int sn_statefile_prepare_db(const char *path, char *note, size_t note_len);

/* When running as root: chown the open file fd (about to be renamed to
 * path) to the owner of path's directory. Returns 0 or -1 (errno). */
int sn_statefile_own(int fd, const char *path);

#endif

/*
 * The sd_notify datagram (see notify.h); systemd documents the protocol in
 * sd_notify(3) under "Notes": $NOTIFY_SOCKET names an AF_UNIX datagram
 * socket, '@' an abstract one, and the message is plain "KEY=VALUE" lines.
 */
#include "daemon/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
sn_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    size_t len;
    socklen_t sa_len;
    ssize_t n;
    int fd, saved;

    if (path == NULL || path[0] == '\0')
        return 0;
    len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
        errno = EINVAL;
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, len);
    /* An abstract address starts with a NUL and its length counts exactly
     * the name's bytes; a path's length may include the terminator. */
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                         (path[0] == '/'));
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    n = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
               (const struct sockaddr *)&sa, sa_len);
    saved = errno;
    close(fd);
    errno = saved;
    return n < 0 ? -1 : 1;
}

/*
 * The daemon's control thread: owns the running pipeline, the metrics
 * registry and the HTTP listener, and reacts to signals on a libevent
 * loop: SIGTERM/SIGINT stop gracefully, SIGHUP reloads atomically (the new
 * pipeline is fully validated and initialised before the old one stops).
 */
#ifndef SN_DAEMON_DAEMON_H
#define SN_DAEMON_DAEMON_H

#include <stdbool.h>

struct sn_daemon_opts {
    const char *config_path;
    const char *pidfile;
    const char *user; /* drop to this user after binding */
    bool oneshot;     /* exit when every input has finished */
};

/* Run until stopped; returns the process exit status. */
int sn_daemon_run(const struct sn_daemon_opts *o);

#endif

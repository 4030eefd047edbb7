/*
 * Readiness and state notifications to the service manager (systemd's
 * sd_notify protocol, Type=notify units), spoken directly: one datagram
 * to the AF_UNIX socket named by $NOTIFY_SOCKET. No libsystemd, so the
 * daemon has no dependency for a feature that is ten lines of socket code
 * and is a no-op outside systemd.
 */
#ifndef SN_DAEMON_NOTIFY_H
#define SN_DAEMON_NOTIFY_H

/* Sends STATE (e.g. "READY=1", "RELOADING=1", "STOPPING=1", newline-
 * separated assignments) when $NOTIFY_SOCKET is set; a path starting with
 * '@' is an abstract socket. Returns 1 sent, 0 no socket configured, -1
 * error (errno set). Never blocks for long: a datagram to a local socket.
 * Callable from the control thread only (not from signal handlers). */
int sn_notify(const char *state);

#endif

/* Names for the daemon's threads, as top -H, perf and
 * /proc/PID/task/TID/comm show them. */
#ifndef SN_CORE_THREAD_NAME_H
#define SN_CORE_THREAD_NAME_H

#include <pthread.h>

/* Name t prefix + name ("o:" + an output's name, "incidents" + ""),
 * cut to the 15 bytes Linux keeps. Best effort: a thread that cannot be
 * named keeps its process's name. */
void sn_thread_name(pthread_t t, const char *prefix, const char *name);

#endif

/* Thread names (thread_name.h): the one place that needs the GNU
 * extension pthread_setname_np. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "core/thread_name.h"

#include <stdio.h>

void
sn_thread_name(pthread_t t, const char *prefix, const char *name)
{
    char buf[16]; /* Linux: 15 bytes and the NUL */

    snprintf(buf, sizeof(buf), "%s%s", prefix, name);
    (void)pthread_setname_np(t, buf);
}

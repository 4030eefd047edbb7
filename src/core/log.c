/*
 * Log sink: level filter, stderr or syslog(3). Owns the two file-scope
 * settings documented in log.h; everything else is passed explicitly.
 */
#include "core/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"

/* The log sink settings: set once at startup and on reload. */
static _Atomic int log_level = SN_LOG_INFO;
static _Atomic bool log_to_syslog = false;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

bool
sn_log_level_parse(const char *s, enum sn_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum sn_log_level)i;
            return true;
        }
    }
    return false;
}

const char *
sn_log_level_name(enum sn_log_level level)
{
    if ((unsigned)level > SN_LOG_DEBUG)
        return "?";
    return level_names[level];
}

void
sn_log_setup(enum sn_log_level level, bool use_syslog)
{
    atomic_store(&log_level, (int)level);
    if (use_syslog && !atomic_load(&log_to_syslog))
        openlog("sentineld", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    atomic_store(&log_to_syslog, use_syslog);
}

bool
sn_log_enabled(enum sn_log_level level)
{
    return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void
sn_log_v(enum sn_log_level level, const char *prefix, const char *fmt,
         va_list ap)
{
    static const int syslog_pri[] = { LOG_ERR, LOG_WARNING, LOG_INFO,
                                      LOG_DEBUG };
    char line[2048];
    size_t n = 0;

    if (!sn_log_enabled(level))
        return;
    if (!atomic_load(&log_to_syslog)) {
        struct timespec ts;
        struct tm tm;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ",
                              ts.tv_nsec / 1000000, level_names[level]);
    }
    if (prefix != NULL && n < sizeof(line))
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%s: ", prefix);
    if (n < sizeof(line)) {
        int w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        if (w > 0)
            n += (size_t)w;
    }
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    if (atomic_load(&log_to_syslog)) {
        line[n] = '\0';
        syslog(syslog_pri[level], "%s", line);
        return;
    }
    line[n++] = '\n';
    /* One write per line keeps lines from several threads whole. */
    if (write(STDERR_FILENO, line, n) < 0)
        return;
}

void
sn_log(enum sn_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sn_log_v(level, NULL, fmt, ap);
    va_end(ap);
}

bool
sn_ratelimit_pass(struct sn_ratelimit *rl, int64_t interval_ms,
                  uint64_t *suppressed)
{
    int64_t now = sn_clock_mono_ns();
    int64_t next = atomic_load_explicit(&rl->next_ns, memory_order_relaxed);

    if (now < next ||
        !atomic_compare_exchange_strong(&rl->next_ns, &next,
                                        now + interval_ms * SN_NS_PER_MS)) {
        atomic_fetch_add_explicit(&rl->suppressed, 1, memory_order_relaxed);
        return false;
    }
    *suppressed = atomic_exchange(&rl->suppressed, 0);
    return true;
}

/*
 * The daemon's log: one line per call, written with a single write(2) so
 * lines from several threads never interleave. Target is stderr (the
 * default, for systemd/journald) or syslog(3). The sink is the one allowed
 * file-scope mutable of this module (STYLE.md 4).
 */
#ifndef SN_CORE_LOG_H
#define SN_CORE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <sentineld/plugin.h>

/* Parse "error|warn|info|debug"; false when unknown. */
bool sn_log_level_parse(const char *s, enum sn_log_level *out);
const char *sn_log_level_name(enum sn_log_level level);

/* Set the level and target; use_syslog opens syslog as "sentineld". */
void sn_log_setup(enum sn_log_level level, bool use_syslog);
bool sn_log_enabled(enum sn_log_level level);

void sn_log(enum sn_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sn_log_v(enum sn_log_level level, const char *prefix, const char *fmt,
              va_list ap) __attribute__((format(printf, 3, 0)));

#define sn_log_error(...) sn_log(SN_LOG_ERROR, __VA_ARGS__)
#define sn_log_warn(...) sn_log(SN_LOG_WARN, __VA_ARGS__)
#define sn_log_info(...) sn_log(SN_LOG_INFO, __VA_ARGS__)
#define sn_log_debug(...) sn_log(SN_LOG_DEBUG, __VA_ARGS__)

/*
 * A per-site rate limiter for log lines about bad input: at most one line
 * per interval; the next line that passes reports how many were
 * suppressed. Lock-free; a lost race only loses a log line, never a count.
 */
struct sn_ratelimit {
    _Atomic int64_t next_ns;
    _Atomic uint64_t suppressed;
};

/* True when a line may be logged now; *suppressed gets the lines skipped
 * since the last one. */
bool sn_ratelimit_pass(struct sn_ratelimit *rl, int64_t interval_ms,
                       uint64_t *suppressed);

#endif

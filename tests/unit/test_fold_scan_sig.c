/*
 * test_fold_scan's signals, written by the rules engine's encoder (in a
 * file of its own: rules/ and incident/ both name their severities
 * SN_SEV_*).
 */
#include <string.h>

#include "rules/correlate.h"
#include "fold_scan_sig.h"

/* A signal as the engine writes it, with what the scrubber and the
 * escaping have to get right in its key, evidence and trace. */
void
sn_test_engine_signal(struct sn_buf *out, int state, const char *summary,
                      const char *key_value, bool with_source)
{
    static const char plain[] = "plain text: password=hunter2 mail "
                                "bob@example.org";
    static const char *const fields[] = { "source.ip", "user.name" };
    struct sn_str values[2] = { { key_value, strlen(key_value) },
                                { "ro\"ot", 5 } };
    struct sn_corr_evidence ev[2] = {
        { 1700000000000000001LL, summary, strlen(summary), true, NULL },
        { 0, plain, strlen(plain), false, NULL },
    };
    struct sn_signal_source src = { "in", "auth\tlog", 3, 42 };
    const char *trace = "{\"rule\":\"r\",\"steps\":[{\"expr\":\"msg contains "
                        "\\\"token=abc\\\"\",\"actual\":\"Bearer "
                        "abcdefghijklmnopqrstuvwxyz012345\",\"n\":1.5e3,"
                        "\"ok\":true,\"none\":null,\"neg\":-0}]}";
    struct sn_signal s;

    memset(&s, 0, sizeof(s));
    s.rule_id = "ssh-brute-force";
    s.kind = SN_CORR_THRESHOLD;
    s.state = state == SN_SCAN_FIRING     ? SN_SIGNAL_FIRING
              : state == SN_SCAN_RESOLVED ? SN_SIGNAL_RESOLVED
                                          : SN_SIGNAL_UPDATE;
    s.severity = SN_SEV_HIGH;
    s.base_severity = SN_SEV_MEDIUM;
    s.key_fields = fields;
    s.key_values = values;
    s.n_key = 2;
    s.time_ns = 1700000000123456789LL;
    s.repeat = 2;
    s.count = 7;
    s.threshold = 5;
    s.first_ns = 1700000000000000001LL;
    s.last_ns = 1700000000999999999LL;
    s.window_ns = 60000000000LL;
    s.first = ev;
    s.n_first = 1;
    s.last = ev + 1;
    s.n_last = 1;
    s.trace.ptr = trace;
    s.trace.len = strlen(trace);
    s.source = with_source ? &src : NULL;
    sn_buf_reset(out);
    sn_signal_json(&s, out);
    sn_buf_cstr(out);
}

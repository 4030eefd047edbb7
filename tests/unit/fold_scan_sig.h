/* test_fold_scan's two halves (see test_fold_scan_sig.c). */
#ifndef SN_TEST_FOLD_SCAN_SIG_H
#define SN_TEST_FOLD_SCAN_SIG_H

#include <stdbool.h>

#include "core/buf.h"

enum { SN_SCAN_FIRING, SN_SCAN_RESOLVED, SN_SCAN_UPDATE };

/* A threshold signal as sn_signal_json writes it into out (reset first,
 * NUL-terminated), with summary as its first evidence item's JSON and
 * key_value as its source.ip key; a source when with_source. */
void sn_test_engine_signal(struct sn_buf *out, int state, const char *summary,
                           const char *key_value, bool with_source);

#endif

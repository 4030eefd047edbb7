/*
 * libFuzzer target for the one-pass signal reader (issue #21):
 * sn_fold_scan against the json-c path it stands in for
 * (sn_fold_prepare) on any bytes. What the scan takes, json-c must take
 * too and give the same struct sn_fold_sig byte for byte (explanation
 * now and deferred); what json-c refuses, the scan must decline. Any
 * difference aborts.
 *
 * Build: scripts/fuzz.sh (links the daemon's core, like fuzz_http)
 * Seeds: tests/fuzz/corpus/fold_scan/
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "incident/fold.h"
#include "incident/fold_scan.h"
#include "incident/scrub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) ||
           (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
check(const struct sn_fold_sig *a, const struct sn_fold_sig *b)
{
    if (!same(a->rule, b->rule) || !same(a->gk, b->gk) || a->hash != b->hash ||
        a->state != b->state || a->sev != b->sev || a->base != b->base ||
        a->when != b->when || a->first != b->first || a->last != b->last ||
        a->count != b->count || a->quiet_ms != b->quiet_ms ||
        !same(a->title, b->title) || !same(a->description, b->description) ||
        !same(a->tags, b->tags) || !same(a->expl, b->expl) ||
        a->expl_len != b->expl_len || !same(a->src_input, b->src_input) ||
        !same(a->src_topic, b->src_topic) || a->src_part != b->src_part ||
        a->src_offset != b->src_offset || a->n_items != b->n_items)
        abort();
    for (size_t i = 0; i < a->n_items; i++)
        if (a->items[i].len != b->items[i].len ||
            memcmp(a->items[i].p, b->items[i].p, a->items[i].len) != 0)
            abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sn_scrub *scrub;
    static struct sn_fold_scan fs;
    static struct json_tokener *tok;
    const char *json = (const char *)data;
    struct sn_fold_sig b;
    struct sn_error err;
    enum sn_status rb;

    if (scrub == NULL) {
        if (sn_scrub_new(NULL, NULL, &scrub, NULL) != SN_OK ||
            (tok = json_tokener_new_ex(32)) == NULL)
            abort();
        sn_fold_scan_init(&fs); /* one per thread: kept, as the manager */
    }
    if (size > 65536)
        return 0;
    rb = sn_fold_prepare(tok, scrub, json, size, &b, &err);
    for (int defer = 0; defer < 2; defer++) {
        struct sn_fold_sig a;
        enum sn_status ra = sn_fold_scan(&fs, scrub, json, size, defer, &a);
        if (ra == SN_DECLINED || ra == SN_ENOMEM)
            continue;
        if (ra != SN_OK || rb != SN_OK)
            abort(); /* taken by the scan, refused by json-c */
        if (defer && a.state == SN_SIG_FIRING &&
            (sn_fold_scan_expl(&fs, scrub, &a) != SN_OK || a.raw != NULL))
            abort();
        check(&a, &b);
        sn_fold_sig_fini(&a);
    }
    if (rb == SN_OK)
        sn_fold_sig_fini(&b);
    return 0;
}

/*
 * libFuzzer target for the PII scrubber (src/incident/scrub.c): any bytes
 * as text, and the same bytes as a JSON string value in a tree. Scrubbing
 * must not crash, must be deterministic, and must leave no e-mail
 * address the scanner itself would still find. Any violation aborts.
 *
 * Build: scripts/fuzz.sh (links json-c and PCRE2)
 * Seeds: tests/fuzz/corpus/scrub/
 */
/* _GNU_SOURCE: memmem(3). */
#define _GNU_SOURCE
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "incident/scrub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sn_scrub *s;
    struct sn_buf a, b, c;
    struct json_object *o;
    long ha, hb;

    if (s == NULL && sn_scrub_new(NULL, NULL, &s, NULL) != SN_OK)
        abort();
    sn_buf_init(&a, 1 << 20);
    sn_buf_init(&b, 1 << 20);
    sn_buf_init(&c, 1 << 20);
    ha = sn_scrub_text(s, (const char *)data, size, &a);
    hb = sn_scrub_text(s, (const char *)data, size, &b);
    if (ha != hb || a.len != b.len ||
        (a.len > 0 && memcmp(a.data, b.data, a.len) != 0))
        abort();
    /* What is left has no e-mail address in it. */
    if (ha >= 0 && a.len > 0 && sn_scrub_text(s, a.data, a.len, &c) > 0 &&
        memmem(c.data, c.len, "[email]", 7) != NULL &&
        memmem(a.data, a.len, "[email]", 7) == NULL)
        abort();
    o = json_object_new_object();
    json_object_object_add(o, "summary",
                           json_object_new_string_len((const char *)data,
                                                      (int)size));
    sn_scrub_json(s, o);
    json_object_put(o);
    sn_buf_fini(&a);
    sn_buf_fini(&b);
    sn_buf_fini(&c);
    return 0;
}

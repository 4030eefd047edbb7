/*
 * libFuzzer target for the Sigma condition parser (src/rules/sigma_cond.c):
 * any bytes as a condition over five selection names. It must not crash,
 * and every condition it accepts must translate into an expression the
 * native parser (src/rules/expr_parse.c) accepts: a translation is never
 * handed to the compiler broken. Any violation aborts.
 *
 * Build: scripts/fuzz.sh
 * Seeds: tests/fuzz/corpus/sigma_cond/
 */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "rules/expr_parse.h"
#include "rules/sigma_cond.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = { "sel", "sel_a", "sel_b", "_f",
                                     "keywords" };

/* Each selection stands for a small native predicate. */
static enum sn_status
emit(void *arg, size_t i, struct sn_buf *out)
{
    (void)arg;
    return sn_buf_printf(out, "msg contains \"%s\"", names[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sn_buf out;
    struct sn_expr_err err;
    enum sn_status rc;

    sn_buf_init(&out, 1 << 20);
    rc = sn_sigma_cond_translate((const char *)data, size, names, 5, emit, NULL,
                                 &out, &err);
    if (rc == SN_OK) {
        struct sn_arena a;
        struct sn_expr *e;
        struct sn_expr_err perr;
        enum sn_status prc;

        sn_arena_init(&a, 16 * 1024, 0);
        prc = sn_expr_parse(out.data ? out.data : "", out.len, &a, &e, &perr);
        /* Past the native limits is fine (the loader reports it); a
         * syntax error is our bug. */
        if (prc == SN_EINVAL)
            abort();
        sn_arena_fini(&a);
    } else if (rc == SN_EINVAL && (err.msg[0] == '\0' || err.off > size)) {
        abort(); /* every error names a reason and a place in the input */
    }
    sn_buf_fini(&out);
    return 0;
}

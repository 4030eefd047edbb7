/* Diagnostic list and "did you mean" suggestions; see diag.h. */
#include "config/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"

void
sn_diags_init(struct sn_diags *d)
{
    memset(d, 0, sizeof(*d));
}

void
sn_diags_fini(struct sn_diags *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].file);
        free(d->items[i].msg);
    }
    free(d->items);
    memset(d, 0, sizeof(*d));
}

void
sn_diags_add(struct sn_diags *d, enum sn_diag_level level, const char *file,
             int line, int col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    struct sn_diag *it;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        struct sn_diag *p = realloc(d->items, cap * sizeof(*p));
        if (p == NULL)
            return;
        d->items = p;
        d->cap = cap;
    }
    it = &d->items[d->n++];
    it->level = level;
    it->file = file ? strdup(file) : NULL;
    it->line = line;
    it->col = col;
    it->msg = strdup(msg);
    if (level == SN_DIAG_ERROR)
        d->n_errors++;
}

static int
diag_cmp(const struct sn_diag *a, const struct sn_diag *b)
{
    int c = strcmp(a->file ? a->file : "", b->file ? b->file : "");

    if (c != 0)
        return c;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    if (a->col != b->col)
        return a->col < b->col ? -1 : 1;
    return 0;
}

void
sn_diags_sort(struct sn_diags *d)
{
    /* Insertion sort: stable, and a file has tens of errors at most. */
    for (size_t i = 1; i < d->n; i++) {
        struct sn_diag t = d->items[i];
        size_t j = i;

        while (j > 0 && diag_cmp(&d->items[j - 1], &t) > 0) {
            d->items[j] = d->items[j - 1];
            j--;
        }
        d->items[j] = t;
    }
}

void
sn_diags_print(const struct sn_diags *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct sn_diag *it = &d->items[i];
        const char *lvl = it->level == SN_DIAG_ERROR ? "error" : "warning";

        if (it->file != NULL && it->line > 0)
            fprintf(out, "%s:%d:%d: %s: %s\n", it->file, it->line, it->col,
                    lvl, it->msg);
        else if (it->file != NULL)
            fprintf(out, "%s: %s: %s\n", it->file, lvl, it->msg);
        else
            fprintf(out, "%s: %s\n", lvl, it->msg);
    }
}

void
sn_diags_print_json(const struct sn_diags *d, FILE *out)
{
    struct sn_buf b;

    sn_buf_init(&b, 64u * 1024 * 1024);
    sn_buf_puts(&b, "{\"diagnostics\":[");
    for (size_t i = 0; i < d->n; i++) {
        const struct sn_diag *it = &d->items[i];

        if (i > 0)
            sn_buf_putc(&b, ',');
        sn_buf_printf(&b, "{\"level\":\"%s\",\"file\":",
                      it->level == SN_DIAG_ERROR ? "error" : "warning");
        sn_json_str_or_null(&b, it->file, it->file ? strlen(it->file) : 0);
        sn_buf_printf(&b, ",\"line\":%d,\"col\":%d,\"message\":", it->line,
                      it->col);
        sn_json_str(&b, it->msg, strlen(it->msg));
        sn_buf_putc(&b, '}');
    }
    sn_buf_printf(&b, "],\"errors\":%zu,\"warnings\":%zu}\n", d->n_errors,
                  d->n - d->n_errors);
    fwrite(b.data, 1, b.len, out);
    sn_buf_fini(&b);
}

/* Optimal string alignment distance (Damerau-Levenshtein restricted to
 * one edit per substring): insertions, deletions, substitutions and
 * swaps of two neighbours each cost 1, so "di" is 1 from "id" and
 * "shutdwon" 1 from "shutdown" (a swap is the commonest typo; plain
 * Levenshtein counts it as 2). Three rolling rows, no allocation. */
static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t rows[3][64];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

    if (lb >= 64 || la >= 64)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *t;

        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev[j - 1] + cost;

            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

const char *
sn_suggest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    size_t limit = strlen(word) / 3 + 1;

    if (limit > 3)
        limit = 3;
    for (size_t i = 0; i < n; i++) {
        size_t dist;

        if (candidates[i] == NULL)
            continue;
        dist = edit_distance(word, candidates[i]);
        /* A prefix of a longer key ("prot" for "port"/"protocol") is a
         * typo too: count it as close. */
        if (strncmp(word, candidates[i], strlen(word)) == 0 && dist > 1)
            dist = 2;
        if (dist < best_d) {
            best_d = dist;
            best = candidates[i];
        }
    }
    return best_d <= limit ? best : NULL;
}

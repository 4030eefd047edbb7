/*
 * Diagnostics collected while reading config and rules: each one names
 * file:line:col like a compiler, so `sentineld check` can report every
 * problem at once, and --json can print them for tools.
 */
#ifndef SN_CONFIG_DIAG_H
#define SN_CONFIG_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum sn_diag_level { SN_DIAG_ERROR, SN_DIAG_WARNING };

struct sn_diag {
    enum sn_diag_level level;
    char *file;
    int line, col;
    char *msg;
};

struct sn_diags {
    struct sn_diag *items;
    size_t n, cap;
    size_t n_errors;
};

void sn_diags_init(struct sn_diags *d);
/* Orders the diagnostics by file, line and column, keeping the order of
 * equal positions (a compiler's order: `check` reports the whole file). */
void sn_diags_sort(struct sn_diags *d);
void sn_diags_fini(struct sn_diags *d);
/* Record one diagnostic; file may be NULL, line/col 0 when unknown. */
void sn_diags_add(struct sn_diags *d, enum sn_diag_level level,
                  const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* file:line:col: error: msg, one per line. */
void sn_diags_print(const struct sn_diags *d, FILE *out);
/* {"diagnostics":[{"level":..,"file":..,"line":..,"col":..,"message":..}]} */
void sn_diags_print_json(const struct sn_diags *d, FILE *out);

/* The closest of candidates to word by edit distance, or NULL when none is
 * close enough to be a plausible typo. */
const char *sn_suggest(const char *word, const char *const *candidates,
                       size_t n);

#endif

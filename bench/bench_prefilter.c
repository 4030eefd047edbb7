/*
 * The rules' literal prefilter (src/rules/prefilter.c, Aho-Corasick)
 * against Hyperscan (Debian's libhyperscan-dev; Vectorscan has the same
 * API) over the same literal sets and messages: each rule's required
 * literals (what load.c gives sn_prefilter_add) compiled into one
 * Hyperscan literal database, case-insensitive, one id per rule. Both
 * produce the candidate bitset sn_rules_eval walks; the bench checks that
 * they agree on every message and prints ns per message of each.
 * Built and run by bench/bench_prefilter.sh (Hyperscan is not a build
 * dependency). Usage: bench_prefilter MESSAGES_FILE ROUNDS -r RULES...
 * (MESSAGES_FILE: one msg per line).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hs/hs.h>

#include "config/diag.h"
#include "rules/load.h"
#include "rules/prefilter.h"

static double
cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
on_hit(unsigned int id, unsigned long long from, unsigned long long to,
       unsigned int flags, void *ctx)
{
    uint64_t *cand = ctx;

    (void)from, (void)to, (void)flags;
    cand[id / 64] |= (uint64_t)1 << (id % 64);
    return 0;
}

int
main(int argc, char **argv)
{
    struct sn_rules_src *src = sn_rules_src_new();
    struct sn_ruleset *rs = NULL;
    struct sn_diags d;
    char **msgs = NULL, line[8192];
    size_t n_msgs = 0, cap = 0, words, n_lits = 0, n_filtered = 0;
    long rounds;
    FILE *f;
    const char **pats;
    size_t *lens;
    unsigned *flags, *ids;
    uint64_t *always, *a, *b;
    hs_database_t *db = NULL;
    hs_scratch_t *scratch = NULL;
    hs_compile_error_t *cerr = NULL;
    double t0, c_ac, c_hs;
    size_t disagree = 0;
    volatile uint64_t sink = 0;

    if (argc < 5 || strcmp(argv[3], "-r") != 0) {
        fprintf(stderr, "usage: %s MESSAGES ROUNDS -r RULES...\n", argv[0]);
        return 2;
    }
    rounds = strtol(argv[2], NULL, 10);
    sn_diags_init(&d);
    for (int i = 4; i < argc; i++)
        if (sn_rules_src_add_path(src, argv[i], &d) != SN_OK)
            break;
    if (sn_ruleset_build(src, &rs, &d) != SN_OK) {
        sn_diags_print(&d, stderr);
        return 1;
    }
    if ((f = fopen(argv[1], "r")) == NULL) {
        perror(argv[1]);
        return 1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (n_msgs == cap) {
            cap = cap ? cap * 2 : 256;
            msgs = realloc(msgs, cap * sizeof(*msgs));
        }
        msgs[n_msgs++] = strdup(line);
    }
    fclose(f);

    words = (rs->n_rules + 63) / 64;
    always = calloc(words, sizeof(*always));
    a = calloc(words, sizeof(*a));
    b = calloc(words, sizeof(*b));
    for (size_t i = 0; i < rs->n_rules; i++)
        n_lits += rs->rules[i].n_req;
    pats = calloc(n_lits + 1, sizeof(*pats));
    lens = calloc(n_lits + 1, sizeof(*lens));
    flags = calloc(n_lits + 1, sizeof(*flags));
    ids = calloc(n_lits + 1, sizeof(*ids));
    n_lits = 0;
    for (size_t i = 0; i < rs->n_rules; i++) {
        const struct sn_rule *r = &rs->rules[i];
        bool empty = r->n_req == 0;

        for (size_t k = 0; k < r->n_req; k++)
            empty |= r->req[k].len == 0;
        /* As the prefilter: without a usable literal set, always. */
        if (!r->enabled || empty ||
            !sn_prefilter_filters(rs->pf, (uint32_t)i)) {
            always[i / 64] |= (uint64_t)1 << (i % 64);
            continue;
        }
        n_filtered++;
        for (size_t k = 0; k < r->n_req; k++) {
            pats[n_lits] = r->req[k].ptr;
            lens[n_lits] = r->req[k].len;
            flags[n_lits] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
            ids[n_lits] = (unsigned)i;
            n_lits++;
        }
    }
    if (hs_compile_lit_multi(pats, flags, ids, lens, (unsigned)n_lits,
                             HS_MODE_BLOCK, NULL, &db, &cerr) != HS_SUCCESS) {
        fprintf(stderr, "hyperscan: %s\n", cerr ? cerr->message : "?");
        return 1;
    }
    if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS)
        return 1;

    /* Agreement first: both bitsets for every message. */
    for (size_t m = 0; m < n_msgs; m++) {
        sn_prefilter_scan(rs->pf, msgs[m], strlen(msgs[m]), a);
        memcpy(b, always, words * sizeof(*b));
        hs_scan(db, msgs[m], (unsigned)strlen(msgs[m]), 0, scratch, on_hit, b);
        /* Disabled rules: the prefilter may leave them set; eval skips
         * them either way. */
        for (size_t i = 0; i < rs->n_rules; i++)
            if (!rs->rules[i].enabled) {
                a[i / 64] &= ~((uint64_t)1 << (i % 64));
                b[i / 64] &= ~((uint64_t)1 << (i % 64));
            }
        disagree += memcmp(a, b, words * sizeof(*a)) != 0;
    }

    t0 = cpu_s();
    for (long r = 0; r < rounds; r++)
        for (size_t m = 0; m < n_msgs; m++) {
            sn_prefilter_scan(rs->pf, msgs[m], strlen(msgs[m]), a);
            sink += a[0];
        }
    c_ac = cpu_s() - t0;
    t0 = cpu_s();
    for (long r = 0; r < rounds; r++)
        for (size_t m = 0; m < n_msgs; m++) {
            memcpy(b, always, words * sizeof(*b));
            hs_scan(db, msgs[m], (unsigned)strlen(msgs[m]), 0, scratch, on_hit,
                    b);
            sink += b[0];
        }
    c_hs = cpu_s() - t0;
    (void)sink; /* written so the scans are not optimised away */
    printf("rules %zu (%zu filtered by %zu literals, %zu automaton states); "
           "%zu messages x %ld rounds; candidate sets disagree on %zu\n",
           rs->n_rules, n_filtered, n_lits, sn_prefilter_states(rs->pf), n_msgs,
           rounds, disagree);
    printf("aho-corasick (src/rules/prefilter.c): %.1f ns/message CPU\n",
           c_ac * 1e9 / (double)(n_msgs * (size_t)rounds));
    printf("hyperscan %s: %.1f ns/message CPU\n", hs_version(),
           c_hs * 1e9 / (double)(n_msgs * (size_t)rounds));
    hs_free_scratch(scratch);
    hs_free_database(db);
    for (size_t m = 0; m < n_msgs; m++)
        free(msgs[m]);
    free(msgs);
    free(always);
    free(a);
    free(b);
    free(pats);
    free(lens);
    free(flags);
    free(ids);
    sn_ruleset_free(rs);
    sn_rules_src_free(src);
    sn_diags_fini(&d);
    return 0;
}

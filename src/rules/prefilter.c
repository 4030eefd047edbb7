/*
 * Aho-Corasick prefilter (Aho & Corasick, CACM 18(6), 1975) compiled to a
 * full DFA over byte classes: bytes that occur in no literal share class
 * 0, so a 100-rule pack needs ~40 columns instead of 256 and the hot rows
 * stay in L1/L2. Each transition's top bit says "the target state has
 * outputs", so the scan loop does one table load per byte. Written here
 * rather than using Hyperscan (x86-only, a large dependency) or running
 * memmem per literal (one pass per literal instead of one per event).
 */
#include "rules/prefilter.h"

#include <stdlib.h>
#include <string.h>

#include "rules/limits.h"

#define OUT_FLAG 0x80000000u

struct pat {
    unsigned char *s; /* folded */
    size_t len;
    uint32_t rule;
    uint32_t end; /* trie state where it ends (set by build) */
};

struct sn_prefilter {
    size_t n_rules, words;
    uint64_t *always; /* rules evaluated without a literal hit */
    bool *filtered;   /* per rule */
    size_t n_filtered;
    struct pat *pats;
    size_t n_pats, cap_pats;
    /* automaton */
    uint8_t cls[256]; /* byte -> class (case folded) */
    size_t n_cls;
    /* n_states * n_cls; after build a transition holds the target's row
     * offset (state * n_cls), so the scan does no multiply per byte. */
    uint32_t *delta;
    /* Bytes that leave the root in the root: the scan skips runs of them
     * without walking the automaton (most of a message, for most packs). */
    bool root_stay[256];
    size_t n_states;
    uint32_t *out_start, *out_len; /* per state, into outs */
    uint32_t *outs;                /* rule ids */
};

/* ---- required literal sets --------------------------------------------- */

struct litset {
    struct sn_str *v;
    size_t n; /* 0: none known */
};

static size_t
min_len(const struct litset *s)
{
    size_t m = (size_t)-1;

    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].len < m)
            m = s->v[i].len;
    return m;
}

/* Better = longer shortest literal (fewer false hits), then fewer items. */
static bool
better(const struct litset *a, const struct litset *b)
{
    size_t ma, mb;

    if (b->n == 0)
        return a->n != 0;
    if (a->n == 0)
        return false;
    ma = min_len(a);
    mb = min_len(b);
    return ma != mb ? ma > mb : a->n < b->n;
}

static enum sn_status
required(const struct sn_cnode *n, struct sn_arena *a, struct litset *out)
{
    out->v = NULL;
    out->n = 0;
    switch (n->kind) {
    case SN_CN_AND:
        for (size_t i = 0; i < n->n_kids; i++) {
            struct litset k;
            enum sn_status rc = required(n->kids[i], a, &k);
            if (rc != SN_OK)
                return rc;
            if (better(&k, out))
                *out = k;
        }
        return SN_OK;
    case SN_CN_OR: {
        struct litset *ks = sn_arena_alloc(a, n->n_kids * sizeof(*ks));
        size_t total = 0, k = 0;

        if (ks == NULL)
            return SN_ENOMEM;
        for (size_t i = 0; i < n->n_kids; i++) {
            enum sn_status rc = required(n->kids[i], a, &ks[i]);
            if (rc != SN_OK)
                return rc;
            if (ks[i].n == 0)
                return SN_OK; /* one branch needs nothing */
            total += ks[i].n;
        }
        if (total > SN_RULES_PF_MAX_LITS)
            return SN_OK;
        out->v = sn_arena_alloc(a, total * sizeof(*out->v));
        if (out->v == NULL)
            return SN_ENOMEM;
        for (size_t i = 0; i < n->n_kids; i++)
            for (size_t j = 0; j < ks[i].n; j++)
                out->v[k++] = ks[i].v[j];
        out->n = total;
        return SN_OK;
    }
    case SN_CN_NOT:
    case SN_CN_CONST:
    case SN_CN_EXISTS:
        return SN_OK;
    case SN_CN_CMP:
        break;
    }
    /* Only msg as the event has it: an extracted msg would be a different
     * string (load.c forbids extracting into header fields anyway). */
    if (n->field != SN_RF_MSG || n->xslot >= 0)
        return SN_OK;
    switch (n->op) {
    case SN_CMP_EQ:
    case SN_CMP_CONTAINS:
    case SN_CMP_STARTSWITH:
    case SN_CMP_ENDSWITH:
        /* == with a number literal compares numerically ("5.0" == 5):
         * only a string literal pins the bytes. */
        if (n->lit.kind != SN_CL_STR || n->lit.s.len == 0)
            return SN_OK;
        out->v = (struct sn_str *)&n->lit.s;
        out->n = 1;
        return SN_OK;
    case SN_CMP_IN:
        /* Every item must be a plain string: a number item also matches
         * "22.0" for 22, which contains no item's bytes. */
        if (n->set->n_nums != 0 || n->set->n_ips != 0 || n->set->has_true ||
            n->set->has_false || n->set->n_strs == 0 ||
            n->set->n_strs > SN_RULES_PF_MAX_LITS)
            return SN_OK;
        for (size_t i = 0; i < n->set->n_strs; i++)
            if (n->set->strs[i].len == 0)
                return SN_OK;
        out->v = n->set->strs;
        out->n = n->set->n_strs;
        return SN_OK;
    case SN_CMP_MATCH:
        out->v = n->req;
        out->n = n->n_req;
        return SN_OK;
    default:
        return SN_OK;
    }
}

enum sn_status
sn_prefilter_required(const struct sn_cnode *n, struct sn_arena *a,
                      struct sn_str **out, size_t *n_out)
{
    struct litset s;
    enum sn_status rc = required(n, a, &s);

    *out = s.v;
    *n_out = rc == SN_OK ? s.n : 0;
    return rc;
}

/* ---- builder --------------------------------------------------------------
 */

struct sn_prefilter *
sn_prefilter_new(size_t n_rules)
{
    struct sn_prefilter *pf = calloc(1, sizeof(*pf));

    if (pf == NULL)
        return NULL;
    pf->n_rules = n_rules;
    pf->words = (n_rules + 63) / 64;
    pf->always = calloc(pf->words ? pf->words : 1, sizeof(*pf->always));
    pf->filtered = calloc(n_rules ? n_rules : 1, sizeof(*pf->filtered));
    if (pf->always == NULL || pf->filtered == NULL) {
        sn_prefilter_free(pf);
        return NULL;
    }
    for (size_t r = 0; r < n_rules; r++)
        pf->always[r / 64] |= (uint64_t)1 << (r % 64);
    return pf;
}

void
sn_prefilter_free(struct sn_prefilter *pf)
{
    if (pf == NULL)
        return;
    for (size_t i = 0; i < pf->n_pats; i++)
        free(pf->pats[i].s);
    free(pf->pats);
    free(pf->always);
    free(pf->filtered);
    free(pf->delta);
    free(pf->out_start);
    free(pf->out_len);
    free(pf->outs);
    free(pf);
}

enum sn_status
sn_prefilter_add(struct sn_prefilter *pf, uint32_t rule,
                 const struct sn_str *lits, size_t n)
{
    if (rule >= pf->n_rules || n == 0 || n > SN_RULES_PF_MAX_LITS)
        return SN_OK;
    for (size_t i = 0; i < n; i++)
        if (lits[i].len == 0)
            return SN_OK;
    if (pf->n_pats + n > pf->cap_pats) {
        size_t cap = pf->cap_pats ? pf->cap_pats * 2 : 64;
        struct pat *p;

        while (cap < pf->n_pats + n)
            cap *= 2;
        p = realloc(pf->pats, cap * sizeof(*p));
        if (p == NULL)
            return SN_ENOMEM;
        pf->pats = p;
        pf->cap_pats = cap;
    }
    for (size_t i = 0; i < n; i++) {
        struct pat *p = &pf->pats[pf->n_pats];

        p->s = malloc(lits[i].len);
        if (p->s == NULL)
            return SN_ENOMEM;
        for (size_t k = 0; k < lits[i].len; k++)
            p->s[k] = sn_fold[(unsigned char)lits[i].ptr[k]];
        p->len = lits[i].len;
        p->rule = rule;
        pf->n_pats++;
    }
    pf->filtered[rule] = true;
    return SN_OK;
}

/* Rules whose literals would overflow the state budget go back to
 * always-evaluated; returns the number of trie states needed. */
static size_t
budget(struct sn_prefilter *pf)
{
    size_t states = 1;

    for (size_t i = 0; i < pf->n_pats;) {
        size_t j = i, need = 0;

        while (j < pf->n_pats && pf->pats[j].rule == pf->pats[i].rule)
            need += pf->pats[j++].len;
        /* An upper bound: shared prefixes need fewer states. */
        if (states + need > SN_RULES_PREFILTER_MAX_STATES)
            pf->filtered[pf->pats[i].rule] = false;
        else
            states += need;
        i = j;
    }
    return states;
}

enum sn_status
sn_prefilter_build(struct sn_prefilter *pf)
{
    size_t max_states = budget(pf), nc, head = 0, tail = 0, n_outs = 0;
    uint32_t *fail = NULL, *queue = NULL, *own = NULL;
    bool used[256] = { false };
    enum sn_status rc = SN_ENOMEM;

    for (size_t i = 0; i < pf->n_pats; i++)
        if (pf->filtered[pf->pats[i].rule])
            for (size_t k = 0; k < pf->pats[i].len; k++)
                used[pf->pats[i].s[k]] = true;
    /* Class 0 is every byte no literal uses; folding maps 'A' and 'a' to
     * the class of 'a'. */
    nc = 1;
    memset(pf->cls, 0, sizeof(pf->cls));
    for (int b = 0; b < 256; b++)
        if (used[b])
            pf->cls[b] = (uint8_t)nc++;
    for (int b = 0; b < 256; b++)
        pf->cls[b] = pf->cls[sn_fold[b]];
    pf->n_cls = nc;
    pf->delta = calloc(max_states * nc, sizeof(*pf->delta));
    fail = calloc(max_states, sizeof(*fail));
    queue = calloc(max_states, sizeof(*queue));
    own = calloc(max_states, sizeof(*own)); /* pattern count ending here */
    pf->out_start = calloc(max_states, sizeof(*pf->out_start));
    pf->out_len = calloc(max_states, sizeof(*pf->out_len));
    if (pf->delta == NULL || fail == NULL || queue == NULL || own == NULL ||
        pf->out_start == NULL || pf->out_len == NULL)
        goto done;
    pf->n_states = 1;
    /* Trie. delta == 0 means "no child" while building (root is never a
     * child). */
    for (size_t i = 0; i < pf->n_pats; i++) {
        const struct pat *p = &pf->pats[i];
        uint32_t s = 0;

        if (!pf->filtered[p->rule])
            continue;
        for (size_t k = 0; k < p->len; k++) {
            uint32_t *t = &pf->delta[s * nc + pf->cls[p->s[k]]];
            if (*t == 0)
                *t = (uint32_t)pf->n_states++;
            s = *t;
        }
        own[s]++;
        pf->pats[i].end = s;
    }
    /* Breadth-first: failure links, then complete the DFA from them. */
    for (size_t c = 0; c < nc; c++) {
        uint32_t t = pf->delta[c];
        if (t != 0) {
            fail[t] = 0;
            queue[tail++] = t;
        }
    }
    while (head < tail) {
        uint32_t s = queue[head++];
        for (size_t c = 0; c < nc; c++) {
            uint32_t t = pf->delta[s * nc + c];
            if (t != 0) {
                fail[t] = pf->delta[fail[s] * nc + c];
                queue[tail++] = t;
            } else {
                pf->delta[s * nc + c] = pf->delta[fail[s] * nc + c];
            }
        }
    }
    /* Outputs: each state's rules are its own patterns' plus those of its
     * failure chain, deduplicated. Count first, then fill. */
    {
        size_t cap = 0;
        for (size_t i = 0; i < pf->n_pats; i++)
            cap += pf->filtered[pf->pats[i].rule];
        /* Upper bound: every state could output every pattern's rule on
         * its chain; in practice chains are short. Grow as needed. */
        cap = cap * 4 + 16;
        pf->outs = malloc(cap * sizeof(*pf->outs));
        if (pf->outs == NULL)
            goto done;
        for (size_t qi = 0; qi <= tail; qi++) {
            uint32_t s = qi == 0 ? 0 : queue[qi - 1];
            size_t start = n_outs;

            /* Walk the pattern list for this state's own literals, then
             * the failure chain (whose outputs come earlier in BFS). */
            for (uint32_t f = s; f != 0; f = fail[f]) {
                if (own[f] == 0)
                    continue;
                for (size_t i = 0; i < pf->n_pats; i++) {
                    const struct pat *p = &pf->pats[i];
                    bool dup = false;

                    if (!pf->filtered[p->rule] || p->end != f)
                        continue;
                    for (size_t k = start; k < n_outs && !dup; k++)
                        dup = pf->outs[k] == p->rule;
                    if (dup)
                        continue;
                    if (n_outs == cap) {
                        uint32_t *o = realloc(pf->outs, 2 * cap * sizeof(*o));
                        if (o == NULL)
                            goto done;
                        pf->outs = o;
                        cap *= 2;
                    }
                    pf->outs[n_outs++] = p->rule;
                }
            }
            pf->out_start[s] = (uint32_t)start;
            pf->out_len[s] = (uint32_t)(n_outs - start);
        }
    }
    for (size_t i = 0; i < pf->n_states * nc; i++)
        if (pf->out_len[pf->delta[i]] != 0)
            pf->delta[i] |= OUT_FLAG;
    for (size_t i = 0; i < pf->n_states * nc; i++)
        pf->delta[i] = (pf->delta[i] & OUT_FLAG) |
                       (uint32_t)((pf->delta[i] & ~OUT_FLAG) * nc);
    for (size_t b = 0; b < 256; b++)
        pf->root_stay[b] = pf->delta[pf->cls[b]] == 0;
    for (size_t r = 0; r < pf->n_rules; r++) {
        if (pf->filtered[r]) {
            pf->always[r / 64] &= ~((uint64_t)1 << (r % 64));
            pf->n_filtered++;
        }
    }
    rc = SN_OK;
done:
    free(fail);
    free(queue);
    free(own);
    return rc;
}

size_t
sn_prefilter_words(const struct sn_prefilter *pf)
{
    return pf->words;
}

bool
sn_prefilter_filters(const struct sn_prefilter *pf, uint32_t rule)
{
    return rule < pf->n_rules && pf->filtered[rule];
}

size_t
sn_prefilter_states(const struct sn_prefilter *pf)
{
    return pf->n_states;
}

void
sn_prefilter_scan(const struct sn_prefilter *pf, const char *s, size_t len,
                  uint64_t *cand)
{
    const uint32_t *delta = pf->delta;
    const uint8_t *cls = pf->cls;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    size_t nc = pf->n_cls, left = pf->n_filtered;
    uint32_t st = 0;

    memcpy(cand, pf->always, pf->words * sizeof(*cand));
    if (left == 0)
        return;
    while (p < end) {
        uint32_t t;

        if (st == 0) {
            while (p < end && pf->root_stay[*p])
                p++;
            if (p == end)
                break;
        }
        t = delta[st + cls[*p++]];
        st = t & ~OUT_FLAG;
        if (t & OUT_FLAG) {
            size_t s_out = st / nc;
            const uint32_t *o = pf->outs + pf->out_start[s_out];
            for (uint32_t k = 0; k < pf->out_len[s_out]; k++) {
                uint64_t bit = (uint64_t)1 << (o[k] % 64);
                if (!(cand[o[k] / 64] & bit)) {
                    cand[o[k] / 64] |= bit;
                    /* Every filtered rule is already a candidate. */
                    if (--left == 0)
                        return;
                }
            }
        }
    }
}

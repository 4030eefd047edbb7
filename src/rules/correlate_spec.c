/*
 * The correlation keys of a rule (group_by, window, threshold, distinct,
 * sequence, absence, rate, new_value, suppress, escalate, resolve_after,
 * allowed_lateness, limits) -> a validated struct sn_corr_spec, with every
 * problem reported at file:line:col. Owns the set of specs of a ruleset
 * and its routing table; keeps no per-key state (correlate.c does).
 * docs/correlation.md is the user's reference.
 */
#include "rules/correlate.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/options.h"
#include "rules/compile.h"
#include "rules/correlate_int.h"
#include "rules/limits.h"

static const char *const kind_names[] = {
    "threshold", "distinct", "sequence", "absence", "rate", "new_value"
};
#define N_KINDS 6

static const char *const sev_names[] = { "info", "low", "medium", "high",
                                         "critical" };

const char *
sn_corr_kind_name(enum sn_corr_kind k)
{
    if (k == SN_CORR_MATCH)
        return "match";
    return (size_t)k < N_KINDS ? kind_names[k] : "?";
}

struct pctx {
    const struct sn_ruleset *rs;
    const struct sn_rule *r;
    struct sn_arena *arena;
    struct sn_diags *d;
    bool ok;
    const char *who; /* 'rule "id": ', the messages' prefix */
};

static void err(struct pctx *p, const struct sn_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
err(struct pctx *p, const struct sn_node *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sn_diags_add(p->d, SN_DIAG_ERROR, n ? n->file : p->r->file,
                 n ? n->line : p->r->line, n ? n->col : p->r->col,
                 "rule \"%s\": %s", p->r->id, msg);
    p->ok = false;
}

static void
warn(struct pctx *p, const struct sn_node *n, const char *msg)
{
    sn_diags_add(p->d, SN_DIAG_WARNING, n->file, n->line, n->col,
                 "rule \"%s\": %s", p->r->id, msg);
}

static bool
want_scalar(struct pctx *p, const struct sn_node *n, const char *what)
{
    if (n->type == SN_NODE_SCALAR)
        return true;
    err(p, n, "\"%s\" must be a scalar, not %s", what,
        sn_node_type_name(n->type));
    return false;
}

static bool
duration(struct pctx *p, const struct sn_node *n, const char *what, int64_t *ns)
{
    int64_t ms;

    if (!want_scalar(p, n, what))
        return false;
    if (!sn_parse_duration_ms(n->str, &ms)) {
        err(p, n,
            "\"%s\": \"%s\" is not a duration (write 30s, 2m, 1h, 1d or "
            "500ms)",
            what, n->str);
        return false;
    }
    if (ms <= 0 || ms > SN_RULES_MAX_DURATION_MS) {
        err(p, n, "\"%s\" must be more than 0 and at most 366d", what);
        return false;
    }
    *ns = ms * 1000000;
    return true;
}

static bool
count(struct pctx *p, const struct sn_node *n, const char *what, uint64_t min,
      uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!want_scalar(p, n, what))
        return false;
    if (n->str[0] < '0' || n->str[0] > '9') {
        err(p, n, "\"%s\" must be a whole number, not \"%s\"", what, n->str);
        return false;
    }
    v = strtoull(n->str, &end, 10);
    if (*end != '\0') {
        err(p, n, "\"%s\" must be a whole number, not \"%s\"", what, n->str);
        return false;
    }
    if (v < min || v > max) {
        err(p, n, "\"%s\" must be between %llu and %llu", what,
            (unsigned long long)min, (unsigned long long)max);
        return false;
    }
    *out = v;
    return true;
}

static bool
number(struct pctx *p, const struct sn_node *n, const char *what, double min,
       double max, double *out)
{
    char *end;
    double v;

    if (!want_scalar(p, n, what))
        return false;
    v = strtod(n->str, &end);
    if (end == n->str || *end != '\0' || !isfinite(v)) {
        err(p, n, "\"%s\" must be a number, not \"%s\"", what, n->str);
        return false;
    }
    if (v < min || v > max) {
        err(p, n, "\"%s\" must be between %g and %g", what, min, max);
        return false;
    }
    *out = v;
    return true;
}

static const char *
field_name(struct pctx *p, const struct sn_node *n, const char *what)
{
    if (!want_scalar(p, n, what))
        return NULL;
    if (n->str[0] == '\0') {
        err(p, n, "\"%s\" needs a field name", what);
        return NULL;
    }
    return sn_arena_memdup(p->arena, n->str, strlen(n->str) + 1);
}

/* The keys of the block what (a mapping) into slots; false (reported)
 * when it is not a mapping, has an unknown key or lacks a required one. */
static bool
collect(struct pctx *p, const struct sn_node *n, const char *what,
        const struct sn_key *keys, size_t n_keys, void *slots)
{
    char where[64];

    snprintf(where, sizeof(where), "\"%s\"", what);
    if (sn_keys_collect(keys, n_keys, n, slots, p->who, where, p->d))
        return true;
    p->ok = false;
    return false;
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static bool
severity(struct pctx *p, const struct sn_node *n, enum sn_rule_severity *out)
{
    if (!want_scalar(p, n, "escalate.to"))
        return false;
    for (size_t s = 0; s < 5; s++) {
        if (strcmp(n->str, sev_names[s]) == 0) {
            *out = (enum sn_rule_severity)s;
            return true;
        }
    }
    {
        const char *best = sn_suggest(n->str, sev_names, 5);
        err(p, n,
            "unknown severity \"%s\" (info, low, medium, high, critical)%s%s%s",
            n->str, best ? "; did you mean \"" : "", best ? best : "",
            best ? "\"?" : "");
    }
    return false;
}

/* The nested blocks' keys, declared (sn_keys_collect reports unknown
 * and missing ones). */
struct kind_nodes {
    const struct sn_node *count, *field, *after, *expected_keys;
    const struct sn_node *alpha, *k, *warmup, *bucket, *per_key, *learn;
    const struct sn_node *min_count;
    const struct sn_node *max_keys, *max_events, *to;
};
#define KEY(m)     SN_KEY(struct kind_nodes, m)
#define KEY_REQ(m) SN_KEY_REQ(struct kind_nodes, m)
static const struct sn_key threshold_keys[] = { KEY_REQ(count) };
static const struct sn_key distinct_keys[] = { KEY_REQ(field), KEY_REQ(count) };
static const struct sn_key absence_keys[] = { KEY_REQ(after),
                                              KEY(expected_keys) };
static const struct sn_key rate_keys[] = { KEY(alpha),         KEY(k),
                                           KEY_REQ(warmup),     KEY_REQ(bucket),
                                           KEY(per_key),        KEY(min_count) };
static const struct sn_key new_value_keys[] = { KEY_REQ(field),
                                                KEY_REQ(learn) };
static const struct sn_key limits_keys[] = { KEY(max_keys), KEY(max_events) };
static const struct sn_key escalate_keys[] = { KEY_REQ(after), KEY_REQ(to) };
#undef KEY
#undef KEY_REQ

static void
parse_group_by(struct pctx *p, const struct sn_node *group,
               struct sn_corr_spec *s)
{
    if (group->type == SN_NODE_SCALAR) {
        const char **g = sn_arena_alloc(p->arena, sizeof(*g));
        if (g != NULL && (g[0] = field_name(p, group, "group_by")))
            s->group_by = g, s->n_group_by = 1;
    } else if (group->type != SN_NODE_SEQ) {
        err(p, group, "\"group_by\" must be a list of field names");
    } else if (group->n == 0 || group->n > SN_CORR_MAX_GROUP_BY) {
        err(p, group, "\"group_by\" needs 1 to %d fields",
            SN_CORR_MAX_GROUP_BY);
    } else {
        const char **g = sn_arena_alloc(p->arena, group->n * sizeof(*g));
        for (size_t i = 0; g != NULL && i < group->n; i++) {
            g[i] = field_name(p, group->items[i], "group_by");
            for (size_t j = 0; g[i] && j < i; j++)
                if (g[j] && strcmp(g[i], g[j]) == 0)
                    err(p, group->items[i],
                        "\"%s\" appears twice in group_by", g[i]);
        }
        s->group_by = g;
        s->n_group_by = group->n;
    }
}

/* 0 is allowed here (strict in-order), unlike other durations. */
static void
parse_lateness(struct pctx *p, const struct sn_node *v, struct sn_corr_spec *s)
{
    int64_t ms;

    if (want_scalar(p, v, "allowed_lateness") &&
        (!sn_parse_duration_ms(v->str, &ms) || ms < 0 ||
         ms > SN_RULES_MAX_DURATION_MS))
        err(p, v,
            "\"allowed_lateness\": \"%s\" is not a duration between 0 "
            "and 366d",
            v->str);
    else if (v->type == SN_NODE_SCALAR) {
        s->lateness_ns = ms * 1000000;
        s->lateness_set = true;
    }
}

/* The rule-level correlation keys besides the kinds. */
struct rule_nodes {
    const struct sn_node *group_by, *window, *suppress, *resolve_after;
    const struct sn_node *escalate, *allowed_lateness, *limits, *refire;
};
static const struct sn_key rule_keys[] = {
    SN_KEY(struct rule_nodes, group_by),
    SN_KEY(struct rule_nodes, window),
    SN_KEY(struct rule_nodes, suppress),
    SN_KEY(struct rule_nodes, resolve_after),
    SN_KEY(struct rule_nodes, escalate),
    SN_KEY(struct rule_nodes, allowed_lateness),
    SN_KEY(struct rule_nodes, limits),
    SN_KEY(struct rule_nodes, refire),
};

static void
parse_threshold(struct pctx *p, const struct sn_node *v, struct sn_corr_spec *s)
{
    struct kind_nodes n;

    if (collect(p, v, "threshold", threshold_keys, N_OF(threshold_keys), &n))
        count(p, n.count, "threshold.count", 1, SN_RULES_MAX_COUNT, &s->count);
}

static void
parse_distinct(struct pctx *p, const struct sn_node *v, struct sn_corr_spec *s)
{
    struct kind_nodes n;

    if (!collect(p, v, "distinct", distinct_keys, N_OF(distinct_keys), &n))
        return;
    s->field = field_name(p, n.field, "distinct.field");
    count(p, n.count, "distinct.count", 1, SN_RULES_MAX_COUNT, &s->count);
}

/* refire: per_window (default) | every_threshold; threshold and
 * distinct only (the other kinds fire once per condition already). */
static void
parse_refire(struct pctx *p, const struct sn_node *v, struct sn_corr_spec *s)
{
    static const char *const modes[] = { "per_window", "every_threshold" };

    if (s->kind != SN_CORR_THRESHOLD && s->kind != SN_CORR_DISTINCT) {
        err(p, v, "\"refire\" applies to threshold and distinct, not %s",
            kind_names[s->kind]);
        return;
    }
    if (!want_scalar(p, v, "refire"))
        return;
    if (strcmp(v->str, modes[0]) == 0 || strcmp(v->str, modes[1]) == 0) {
        s->refire_every = strcmp(v->str, modes[1]) == 0;
        return;
    }
    {
        const char *best = sn_suggest(v->str, modes, 2);
        err(p, v, "unknown refire \"%s\" (per_window, every_threshold)%s%s%s",
            v->str, best ? "; did you mean \"" : "", best ? best : "",
            best ? "\"?" : "");
    }
}

static void
parse_sequence(struct pctx *p, const struct sn_node *v, struct sn_corr_spec *s)
{
    if (v->type != SN_NODE_SEQ) {
        err(p, v, "\"sequence\" must be a list of rule ids, not %s",
            sn_node_type_name(v->type));
        return;
    }
    if (v->n < 2 || v->n > SN_CORR_MAX_STEPS) {
        err(p, v, "\"sequence\" needs 2 to %d rule ids", SN_CORR_MAX_STEPS);
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        const struct sn_node *it = v->items[i];
        const struct sn_rule *step;

        if (!want_scalar(p, it, "sequence"))
            continue;
        step = p->rs ? sn_ruleset_find(p->rs, it->str) : NULL;
        if (step == NULL) {
            const char *best = NULL;
            if (p->rs != NULL) {
                const char **ids = malloc(p->rs->n_rules * sizeof(*ids));
                if (ids != NULL) {
                    for (size_t j = 0; j < p->rs->n_rules; j++)
                        ids[j] = p->rs->rules[j].id;
                    best = sn_suggest(it->str, ids, p->rs->n_rules);
                    free(ids);
                }
            }
            if (best != NULL)
                err(p, it,
                    "sequence step \"%s\" is not a rule id; did you "
                    "mean \"%s\"?",
                    it->str, best);
            else
                err(p, it, "sequence step \"%s\" is not a rule id", it->str);
            continue;
        }
        if (step == p->r) {
            err(p, it, "a sequence cannot name its own rule as a step");
            continue;
        }
        s->steps[s->n_steps++] = step;
    }
}

static void
parse_absence(struct pctx *p, const struct sn_node *v, struct sn_corr_spec *s,
              const struct sn_node **expected)
{
    struct kind_nodes n;

    if (!collect(p, v, "absence", absence_keys, N_OF(absence_keys), &n))
        return;
    duration(p, n.after, "absence.after", &s->after_ns);
    *expected = n.expected_keys;
}

static void
parse_rate(struct pctx *p, const struct sn_node *v, struct sn_corr_spec *s)
{
    struct kind_nodes n;

    s->alpha = 0.1;
    s->k = 3;
    s->per_key = true;
    s->min_count = 1;
    if (!collect(p, v, "rate", rate_keys, N_OF(rate_keys), &n))
        return;
    if (n.min_count != NULL)
        count(p, n.min_count, "rate.min_count", 1, SN_RULES_MAX_COUNT,
              &s->min_count);
    if (n.alpha != NULL)
        number(p, n.alpha, "rate.alpha", 0.001, 1, &s->alpha);
    if (n.k != NULL)
        number(p, n.k, "rate.k", 0, 1000, &s->k);
    duration(p, n.bucket, "rate.bucket", &s->bucket_ns);
    duration(p, n.warmup, "rate.warmup", &s->warmup_ns);
    if (n.per_key != NULL && want_scalar(p, n.per_key, "rate.per_key") &&
        !sn_parse_bool(n.per_key->str, &s->per_key))
        err(p, n.per_key, "\"rate.per_key\" must be true or false");
}

static void
parse_new_value(struct pctx *p, const struct sn_node *v, struct sn_corr_spec *s)
{
    struct kind_nodes n;

    if (!collect(p, v, "new_value", new_value_keys, N_OF(new_value_keys), &n))
        return;
    s->field = field_name(p, n.field, "new_value.field");
    duration(p, n.learn, "new_value.learn", &s->learn_ns);
}

static void
parse_expected(struct pctx *p, const struct sn_node *v, struct sn_corr_spec *s)
{
    const char **vals;
    size_t g = s->n_group_by;

    if (v->type != SN_NODE_SEQ) {
        err(p, v, "\"absence.expected_keys\" must be a list");
        return;
    }
    if (g == 0) {
        err(p, v, "\"absence.expected_keys\" needs \"group_by\"");
        return;
    }
    vals = sn_arena_alloc(p->arena, (v->n * g + 1) * sizeof(*vals));
    if (vals == NULL) {
        err(p, v, "out of memory");
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        const struct sn_node *it = v->items[i];
        if (it->type == SN_NODE_SCALAR && g == 1) {
            vals[i] = it->str;
        } else if (it->type == SN_NODE_SEQ && it->n == g) {
            for (size_t j = 0; j < g; j++) {
                if (!want_scalar(p, it->items[j], "expected_keys"))
                    return;
                vals[i * g + j] = it->items[j]->str;
            }
        } else {
            err(p, it,
                "an expected key must be %s%zu values (one per group_by "
                "field)",
                g == 1 ? "a value or a list of " : "a list of ", g);
            return;
        }
    }
    s->expected = vals;
    s->n_expected = v->n;
}

static void
parse_limits(struct pctx *p, const struct sn_node *v, struct sn_corr_spec *s)
{
    struct kind_nodes n;
    uint64_t x;

    if (!collect(p, v, "limits", limits_keys, N_OF(limits_keys), &n))
        return;
    if (n.max_keys != NULL &&
        count(p, n.max_keys, "limits.max_keys", 1, 100000000, &x))
        s->max_keys = (uint32_t)x;
    if (n.max_events != NULL &&
        count(p, n.max_events, "limits.max_events", 1, SN_RULES_MAX_COUNT, &x))
        s->max_events = (uint32_t)x;
}

static void
parse_escalate(struct pctx *p, const struct sn_node *v, struct sn_corr_spec *s)
{
    struct kind_nodes n;
    uint64_t x = 0;

    if (!collect(p, v, "escalate", escalate_keys, N_OF(escalate_keys), &n))
        return;
    if (count(p, n.after, "escalate.after", 2, 1000000, &x))
        s->escalate_after = (uint32_t)x;
    if (severity(p, n.to, &s->escalate_to) &&
        s->escalate_to <= s->rule->severity)
        warn(p, n.to, "\"escalate.to\" is not above the rule's severity");
}

static uint64_t
fnv(uint64_t h, const void *p, size_t len)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t
fingerprint(const struct sn_corr_spec *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    /* An unwritten lateness hashes as the old default (0), so the
     * checkpoints of earlier versions stay readable. */
    int64_t lateness = s->lateness_set ? s->lateness_ns : 0;
    int64_t nums[] = { s->kind,          s->window_ns,      lateness,
                       s->suppress_ns,   s->resolve_ns,     s->escalate_after,
                       s->escalate_to,   (int64_t)s->count, s->after_ns,
                       s->warmup_ns,     s->bucket_ns,      s->per_key,
                       s->learn_ns,      s->max_keys,       s->max_events,
                       s->rule->severity };
    double reals[] = { s->alpha, s->k };

    h = fnv(h, nums, sizeof(nums));
    h = fnv(h, reals, sizeof(reals));
    /* Only when set: the default leaves fingerprints (and so the
     * checkpoints of earlier versions) as they were. */
    if (s->refire_every)
        h = fnv(h, "refire_every", 12);
    for (size_t i = 0; i < s->n_group_by; i++)
        h = fnv(h, s->group_by[i], strlen(s->group_by[i]) + 1);
    if (s->field != NULL)
        h = fnv(h, s->field, strlen(s->field) + 1);
    for (size_t i = 0; i < s->n_steps; i++)
        h = fnv(h, s->steps[i]->id, strlen(s->steps[i]->id) + 1);
    for (size_t i = 0; i < s->n_expected * s->n_group_by; i++)
        h = fnv(h, s->expected[i], strlen(s->expected[i]) + 1);
    return h;
}

enum sn_status
sn_corr_spec_parse(const struct sn_ruleset *rs, const struct sn_rule *r,
                   const struct sn_pair *const *pairs, size_t n_pairs,
                   struct sn_arena *arena, struct sn_corr_spec *s,
                   struct sn_diags *d)
{
    struct pctx p = { rs, r, arena, d, true, "" };
    const struct sn_pair *kind_pair = NULL;
    const struct sn_node *expected = NULL;
    struct rule_nodes n;
    const struct sn_node *group;
    size_t kind = N_KINDS, who_len = strlen(r->id) + 16;
    char *who = sn_arena_alloc(arena, who_len);

    if (who != NULL) {
        snprintf(who, who_len, "rule \"%s\": ", r->id);
        p.who = who;
    }
    memset(s, 0, sizeof(*s));
    memset(&n, 0, sizeof(n));
    s->rule = r;
    for (size_t i = 0; i < n_pairs; i++) {
        const struct sn_pair *pr = pairs[i];
        const char *k = pr->key->str;
        const struct sn_key *key = sn_keys_find(rule_keys, N_OF(rule_keys), k);
        size_t ki;

        for (ki = 0; ki < N_KINDS; ki++)
            if (strcmp(k, kind_names[ki]) == 0)
                break;
        if (ki < N_KINDS && kind_pair != NULL) {
            err(&p, pr->key,
                "a rule has one correlation: \"%s\" conflicts with "
                "\"%s\" at line %d",
                k, kind_pair->key->str, kind_pair->key->line);
        } else if (ki < N_KINDS) {
            kind_pair = pr;
            kind = ki;
        } else if (key != NULL) {
            /* Not about correlation (samples): someone else's. */
            memcpy((char *)&n + key->offset, &pr->value, sizeof(pr->value));
        }
    }
    group = n.group_by;
    if (group != NULL)
        parse_group_by(&p, group, s);

    if (kind_pair == NULL) {
        /* Correlation options without a correlation are a mistake: say
         * which keys would give them meaning. */
        const struct sn_node *orphan = NULL;

        for (size_t i = 1; i < N_OF(rule_keys) && orphan == NULL; i++)
            memcpy(&orphan, (const char *)&n + rule_keys[i].offset,
                   sizeof(orphan)); /* 0: group_by, which has a use alone */
        if (orphan == NULL) /* group_by alone keys match signals */
            return p.ok ? SN_DECLINED : SN_ECONFIG;
        err(&p, orphan,
            "correlation options need one of threshold, distinct, sequence, "
            "absence, rate or new_value");
        return SN_ECONFIG;
    }
    s->kind = (enum sn_corr_kind)kind;
    s->line = kind_pair->key->line;
    s->col = kind_pair->key->col;

    switch (s->kind) {
    case SN_CORR_THRESHOLD:
        parse_threshold(&p, kind_pair->value, s);
        break;
    case SN_CORR_DISTINCT:
        parse_distinct(&p, kind_pair->value, s);
        break;
    case SN_CORR_SEQUENCE:
        parse_sequence(&p, kind_pair->value, s);
        break;
    case SN_CORR_ABSENCE:
        parse_absence(&p, kind_pair->value, s, &expected);
        break;
    case SN_CORR_RATE:
        parse_rate(&p, kind_pair->value, s);
        break;
    case SN_CORR_NEW_VALUE:
        parse_new_value(&p, kind_pair->value, s);
        break;
    case SN_CORR_MATCH:
        break; /* not a kind rules can name */
    }

    if (s->kind <= SN_CORR_SEQUENCE) {
        if (n.window == NULL)
            err(&p, kind_pair->key, "\"%s\" needs a \"window\" (e.g. 2m)",
                kind_names[kind]);
        else
            duration(&p, n.window, "window", &s->window_ns);
    } else if (n.window != NULL) {
        static const char *const instead[] = {
            "", "", "", "absence.after", "rate.bucket", "new_value.learn"
        };
        err(&p, n.window, "\"window\" does not apply to %s; use \"%s\"",
            kind_names[kind], instead[kind]);
    }
    s->lateness_ns = SN_RULES_LATENESS_DEFAULT_MS * 1000000;
    if (n.allowed_lateness != NULL)
        parse_lateness(&p, n.allowed_lateness, s);
    if (n.suppress != NULL)
        duration(&p, n.suppress, "suppress", &s->suppress_ns);
    if (n.resolve_after != NULL) {
        if (s->kind == SN_CORR_ABSENCE)
            err(&p, n.resolve_after,
                "\"resolve_after\" does not apply to absence (an absent key "
                "resolves when it sends again)");
        else
            duration(&p, n.resolve_after, "resolve_after", &s->resolve_ns);
    }
    if (n.escalate != NULL)
        parse_escalate(&p, n.escalate, s);
    if (n.limits != NULL)
        parse_limits(&p, n.limits, s);
    if (n.refire != NULL)
        parse_refire(&p, n.refire, s);
    if (expected != NULL)
        parse_expected(&p, expected, s);
    if (s->kind == SN_CORR_RATE && s->bucket_ns > 0 && s->warmup_ns > 0) {
        if (!s->per_key && group != NULL && p.ok)
            warn(&p, group,
                 "\"group_by\" is ignored when rate.per_key is "
                 "false (one global baseline)");
        /* The default shrinks to what a short bucket can hold. */
        if (!s->lateness_set &&
            s->lateness_ns / s->bucket_ns + 2 > SN_CORR_RATE_OPEN_MAX)
            s->lateness_ns = (SN_CORR_RATE_OPEN_MAX - 2) * s->bucket_ns;
        if (s->lateness_ns / s->bucket_ns + 2 > SN_CORR_RATE_OPEN_MAX)
            err(&p, n.allowed_lateness ? n.allowed_lateness : kind_pair->key,
                "allowed_lateness may span at most %d rate buckets",
                SN_CORR_RATE_OPEN_MAX - 2);
        if (s->warmup_ns < s->bucket_ns)
            err(&p, kind_pair->value,
                "\"rate.warmup\" must be at least one bucket");
    }
    if ((s->kind == SN_CORR_THRESHOLD || s->kind == SN_CORR_DISTINCT) &&
        s->max_events != 0 && s->count > s->max_events && p.ok)
        err(&p, kind_pair->value,
            "count %llu is above limits.max_events %u: the window could "
            "never hold it",
            (unsigned long long)s->count, s->max_events);
    if (s->kind == SN_CORR_SEQUENCE && s->max_events != 0 &&
        s->max_events < s->n_steps && p.ok)
        err(&p, kind_pair->value,
            "limits.max_events is below the number "
            "of steps");
    if (!p.ok)
        return SN_ECONFIG;
    s->fingerprint = fingerprint(s);
    return SN_OK;
}

void
sn_corr_set_free(struct sn_corr_set *set)
{
    if (set == NULL)
        return;
    sn_arena_fini(&set->arena);
    free(set);
}

enum sn_status
sn_corr_set_build(const struct sn_ruleset *rs, struct sn_corr_set **out,
                  struct sn_diags *d)
{
    struct sn_corr_set *set;
    bool bad = false;
    size_t n_targets = 0;

    *out = NULL;
    set = calloc(1, sizeof(*set));
    if (set == NULL)
        return SN_ENOMEM;
    sn_arena_init(&set->arena, 64 * 1024, 0);
    set->rs = rs;
    set->specs =
        sn_arena_alloc(&set->arena, (rs->n_rules + 1) * sizeof(*set->specs));
    set->targets =
        sn_arena_alloc(&set->arena, (rs->n_rules + 1) * sizeof(*set->targets));
    set->n_targets = sn_arena_alloc(&set->arena, (rs->n_rules + 1) *
                                                     sizeof(*set->n_targets));
    set->match_group_by = sn_arena_alloc(
        &set->arena, (rs->n_rules + 1) * sizeof(*set->match_group_by));
    set->n_match_group_by = sn_arena_alloc(
        &set->arena, (rs->n_rules + 1) * sizeof(*set->n_match_group_by));
    if (!set->specs || !set->targets || !set->n_targets ||
        !set->match_group_by || !set->n_match_group_by)
        goto nomem;
    memset(set->match_group_by, 0,
           (rs->n_rules + 1) * sizeof(*set->match_group_by));
    memset(set->n_match_group_by, 0,
           (rs->n_rules + 1) * sizeof(*set->n_match_group_by));
    memset(set->n_targets, 0, (rs->n_rules + 1) * sizeof(*set->n_targets));
    for (size_t i = 0; i < rs->n_rules; i++) {
        const struct sn_rule *r = &rs->rules[i];
        struct sn_corr_spec *s = &set->specs[set->n_specs];
        enum sn_status rc =
            sn_corr_spec_parse(rs, r, r->kept, r->n_kept, &set->arena, s, d);
        if (rc == SN_DECLINED) {
            set->match_group_by[i] = s->group_by;
            set->n_match_group_by[i] = s->n_group_by;
            continue;
        }
        if (rc != SN_OK) {
            bad = true;
            continue;
        }
        s->index = (uint32_t)set->n_specs++;
        s->id_hash = sn_corr_fnv(SN_CORR_FNV_INIT, r->id, strlen(r->id) + 1);
        for (size_t g = 0; g < s->n_group_by && g < SN_CORR_MAX_GROUP_BY;
             g++) {
            int id = sn_field_table_find(&rs->fields, s->group_by[g]);
            s->group_by_ids[g] = id < 0 ? INT32_MAX : id;
            s->group_by_lens[g] = strlen(s->group_by[g]);
            s->group_by_names[g] =
                id < 0 ? s->group_by[g] : rs->fields.names[id];
        }
    }
    if (bad) {
        sn_corr_set_free(set);
        return SN_ECONFIG;
    }
    /* Routing: a rule's own spec first, then sequences using it. A
     * sequence step naming a rule that has a correlation of its own is
     * fed by that rule's firing signals, not its raw matches ("brute
     * force then success" means the threshold was crossed, then a
     * success): those sequences go to sig_targets of the step's spec. */
    set->spec_of_rule =
        sn_arena_alloc(&set->arena, (rs->n_rules + 1) * sizeof(int32_t));
    set->sig_targets = sn_arena_alloc(&set->arena, (set->n_specs + 1) *
                                                       sizeof(uint32_t *));
    set->n_sig_targets =
        sn_arena_alloc(&set->arena, (set->n_specs + 1) * sizeof(uint32_t));
    if (!set->spec_of_rule || !set->sig_targets || !set->n_sig_targets)
        goto nomem;
    for (size_t r = 0; r < rs->n_rules; r++)
        set->spec_of_rule[r] = -1;
    for (size_t i = 0; i < set->n_specs; i++) {
        set->spec_of_rule[set->specs[i].rule->index] = (int32_t)i;
        set->n_sig_targets[i] = 0;
        set->sig_targets[i] = NULL;
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            for (size_t r = 0; r < rs->n_rules; r++) {
                n_targets = set->n_targets[r];
                set->targets[r] = sn_arena_alloc(
                    &set->arena, (n_targets + 1) * sizeof(uint32_t));
                if (set->targets[r] == NULL)
                    goto nomem;
                set->n_targets[r] = 0;
            }
            for (size_t i = 0; i < set->n_specs; i++) {
                set->sig_targets[i] = sn_arena_alloc(
                    &set->arena, (set->n_sig_targets[i] + 1) * sizeof(uint32_t));
                if (set->sig_targets[i] == NULL)
                    goto nomem;
                set->n_sig_targets[i] = 0;
            }
        }
        for (size_t i = 0; i < set->n_specs; i++) {
            const struct sn_corr_spec *s = &set->specs[i];
            uint32_t r = s->rule->index;
            if (s->kind == SN_CORR_SEQUENCE)
                continue;
            if (pass == 1)
                set->targets[r][set->n_targets[r]] = (uint32_t)i;
            set->n_targets[r]++;
        }
        for (size_t i = 0; i < set->n_specs; i++) {
            const struct sn_corr_spec *s = &set->specs[i];
            for (size_t j = 0; s->kind == SN_CORR_SEQUENCE && j < s->n_steps;
                 j++) {
                uint32_t r = s->steps[j]->index;
                int32_t via = set->spec_of_rule[r];
                bool dup = false;
                for (size_t k = 0; k < j; k++)
                    dup |= s->steps[k] == s->steps[j];
                if (dup)
                    continue;
                if (via >= 0 && (size_t)via != i) {
                    if (pass == 1)
                        set->sig_targets[via][set->n_sig_targets[via]] =
                            (uint32_t)i;
                    set->n_sig_targets[via]++;
                } else {
                    if (pass == 1)
                        set->targets[r][set->n_targets[r]] = (uint32_t)i;
                    set->n_targets[r]++;
                }
            }
        }
    }
    *out = set;
    return SN_OK;
nomem:
    sn_corr_set_free(set);
    return SN_ENOMEM;
}

const struct sn_corr_spec *
sn_corr_set_find(const struct sn_corr_set *set, const char *rule_id)
{
    for (size_t i = 0; i < set->n_specs; i++)
        if (strcmp(set->specs[i].rule->id, rule_id) == 0)
            return &set->specs[i];
    return NULL;
}

/*
 * incidents.escalation parsed into struct sn_esc_conf; see escalation.h.
 * Two shapes: a list of steps (one policy for every incident), or a list
 * of policies ({rules, min_severity, steps}). Every mistake is reported
 * at its node, and the outputs a step names must exist.
 */
#include "config/escalation.h"

#include <string.h>

#include "config/config.h"
#include "config/options.h"

static const char *const sev_names[] = { "info", "low",      "medium",
                                         "high", "critical", NULL };
static const char *const step_keys[] = { "after", "notify", "unless", NULL };
static const char *const policy_keys[] = { "rules", "min_severity", "steps",
                                           NULL };

#define ERR(n, ...)                                                            \
    sn_diags_add(d, SN_DIAG_ERROR, (n)->file, (n)->line, (n)->col, __VA_ARGS__)

static void
unknown_keys(const struct sn_node *map, const char *const *keys,
             const char *what, struct sn_diags *d)
{
    for (size_t i = 0; i < map->n; i++) {
        const struct sn_node *k = map->pairs[i].key;
        const char *best;
        bool known = false;

        for (size_t j = 0; keys[j] != NULL; j++)
            known = known || strcmp(k->str, keys[j]) == 0;
        if (known)
            continue;
        best = sn_suggest(k->str, keys, 3); /* both key lists hold 3 */
        if (best != NULL)
            ERR(k, "unknown key '%s' in %s; did you mean '%s'?", k->str, what,
                best);
        else
            ERR(k, "unknown key '%s' in %s (expected one of: %s, %s, %s)",
                k->str, what, keys[0], keys[1], keys[2]);
    }
}

/* A scalar or a list of scalars into the arena. */
static bool
names(struct sn_config *c, const struct sn_node *n, const char *what,
      struct sn_strlist *out, struct sn_diags *d)
{
    const char **items;
    size_t k = n->type == SN_NODE_SEQ ? n->n : 1;

    if (n->type == SN_NODE_MAP) {
        ERR(n, "'%s' expects a name or a list of names", what);
        return false;
    }
    items = sn_arena_alloc(&c->arena, (k + 1) * sizeof(char *));
    for (size_t i = 0; i < k; i++) {
        const struct sn_node *it = n->type == SN_NODE_SEQ ? n->items[i] : n;
        if (it->type != SN_NODE_SCALAR || it->str[0] == '\0') {
            ERR(it, "'%s' expects names", what);
            return false;
        }
        items[i] = sn_arena_memdup(&c->arena, it->str, strlen(it->str) + 1);
    }
    out->items = items;
    out->n = k;
    return true;
}

/* The output instance called name, or NULL. */
static const struct sn_inst_conf *
output_named(const struct sn_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_insts; i++)
        if (c->insts[i].kind == SN_KIND_OUTPUT &&
            strcmp(c->insts[i].name, name) == 0)
            return &c->insts[i];
    return NULL;
}

static void
check_outputs(const struct sn_config *c, const struct sn_esc_step *s,
              struct sn_diags *d)
{
    const char *cand[64];
    size_t n_cand = 0;

    for (size_t i = 0; i < c->n_insts && n_cand < 63; i++)
        if (c->insts[i].kind == SN_KIND_OUTPUT)
            cand[n_cand++] = c->insts[i].name;
    cand[n_cand] = NULL;
    for (size_t i = 0; i < s->notify.n; i++) {
        const struct sn_node *at = s->notify_node->type == SN_NODE_SEQ
                                       ? s->notify_node->items[i]
                                       : s->notify_node;
        const struct sn_inst_conf *ic = output_named(c, s->notify.items[i]);
        const char *best;

        if (ic != NULL && ic->take == SN_TAKE_EVENTS)
            ERR(at,
                "escalation notifies output '%s', which takes events; "
                "a notified output takes incidents (take: incidents)",
                ic->name);
        if (ic != NULL)
            continue;
        best = sn_suggest(s->notify.items[i], cand, n_cand);
        if (best != NULL)
            ERR(at,
                "escalation notifies unknown output '%s'; did you mean "
                "'%s'?",
                s->notify.items[i], best);
        else
            ERR(at,
                "escalation notifies unknown output '%s' (name an "
                "output instance with take: incidents, e.g. an out_webhook "
                "or out_alertmanager)",
                s->notify.items[i]);
    }
}

static bool
load_step(struct sn_config *c, const struct sn_node *n, struct sn_esc_step *s,
          struct sn_diags *d)
{
    const struct sn_node *after, *notify, *unless;

    memset(s, 0, sizeof(*s));
    if (n->type != SN_NODE_MAP) {
        ERR(n, "an escalation step is a mapping ({after: 15m, notify: "
               "[pagerduty]})");
        return false;
    }
    unknown_keys(n, step_keys, "an escalation step", d);
    after = sn_node_get(n, "after");
    notify = sn_node_get(n, "notify");
    unless = sn_node_get(n, "unless");
    if (after == NULL)
        ERR(n, "escalation step without 'after' (e.g. after: 15m; 0s: at "
               "once)");
    else if (after->type != SN_NODE_SCALAR ||
             !sn_parse_duration_ms(after->str, &s->after_ms))
        ERR(after, "'after' expects a duration (e.g. 0s, 30s, 15m, 1h)");
    if (notify == NULL)
        ERR(n, "escalation step without 'notify' (the outputs to notify)");
    else if (names(c, notify, "notify", &s->notify, d)) {
        s->notify_node = notify;
        check_outputs(c, s, d);
    }
    if (unless != NULL) {
        if (unless->type == SN_NODE_SCALAR &&
            strcmp(unless->str, "acknowledged") == 0)
            s->unless_ack = true;
        else
            ERR(unless, "'unless' must be 'acknowledged' (the step is "
                        "skipped once someone acknowledged the incident)");
    }
    return after != NULL && notify != NULL && s->notify_node != NULL;
}

static void
load_steps(struct sn_config *c, const struct sn_node *n,
           struct sn_esc_policy *p, struct sn_diags *d)
{
    if (n->type != SN_NODE_SEQ || n->n == 0) {
        ERR(n, "'steps' expects a non-empty list of steps ({after: 0s, "
               "notify: [chat]})");
        return;
    }
    p->steps = sn_arena_alloc(&c->arena, n->n * sizeof(*p->steps));
    for (size_t i = 0; i < n->n; i++) {
        struct sn_esc_step *s = &p->steps[p->n_steps];

        if (!load_step(c, n->items[i], s, d))
            continue;
        if (p->n_steps > 0 && s->after_ms < s[-1].after_ms) {
            ERR(sn_node_get(n->items[i], "after"),
                "escalation steps go in order of 'after' (this one comes "
                "before the step above it)");
            continue;
        }
        p->n_steps++;
    }
}

static void
load_policy(struct sn_config *c, const struct sn_node *n,
            struct sn_esc_policy *p, struct sn_diags *d)
{
    const struct sn_node *rules = sn_node_get(n, "rules");
    const struct sn_node *sev = sn_node_get(n, "min_severity");
    const struct sn_node *steps = sn_node_get(n, "steps");

    unknown_keys(n, policy_keys, "an escalation policy", d);
    if (rules != NULL)
        names(c, rules, "rules", &p->rules, d);
    if (sev != NULL) {
        p->min_severity = -1;
        for (int i = 0; sev->type == SN_NODE_SCALAR && sev_names[i]; i++)
            if (strcmp(sev->str, sev_names[i]) == 0)
                p->min_severity = i;
        if (p->min_severity < 0) {
            ERR(sev, "'min_severity' must be one of info, low, medium, "
                     "high, critical");
            p->min_severity = 0;
        }
    }
    if (steps == NULL)
        ERR(n, "escalation policy without 'steps'");
    else
        load_steps(c, steps, p, d);
}

void
sn_esc_conf_load(struct sn_config *c, const struct sn_node *n,
                 struct sn_diags *d)
{
    struct sn_esc_conf *e = &c->incidents.escalation;
    bool policies;

    if (n == NULL)
        return;
    if (n->type != SN_NODE_SEQ || n->n == 0) {
        ERR(n, "'escalation' expects a list of steps ({after: 0s, notify: "
               "[chat]}) or of policies ({rules: [...], steps: [...]})");
        return;
    }
    policies = n->items[0]->type == SN_NODE_MAP &&
               sn_node_get(n->items[0], "steps") != NULL;
    if (!policies) {
        e->policies = sn_arena_alloc(&c->arena, sizeof(*e->policies));
        memset(e->policies, 0, sizeof(*e->policies));
        load_steps(c, n, e->policies, d);
        e->n_policies = e->policies->n_steps > 0;
        return;
    }
    e->policies = sn_arena_alloc(&c->arena, n->n * sizeof(*e->policies));
    memset(e->policies, 0, n->n * sizeof(*e->policies));
    for (size_t i = 0; i < n->n; i++) {
        const struct sn_node *it = n->items[i];
        if (it->type != SN_NODE_MAP || sn_node_get(it, "steps") == NULL) {
            ERR(it, "an escalation policy is a mapping with 'steps' (the "
                    "first item of this list is a policy, so all are)");
            continue;
        }
        load_policy(c, it, &e->policies[e->n_policies], d);
        if (e->policies[e->n_policies].n_steps > 0)
            e->n_policies++;
    }
}

bool
sn_esc_conf_notifies(const struct sn_esc_conf *e, const char *output)
{
    for (size_t i = 0; i < e->n_policies; i++)
        for (size_t j = 0; j < e->policies[i].n_steps; j++)
            for (size_t k = 0; k < e->policies[i].steps[j].notify.n; k++)
                if (strcmp(e->policies[i].steps[j].notify.items[k], output) ==
                    0)
                    return true;
    return false;
}

/*
 * det_rules repartition hop (docs/scaling.md, "The repartition hop"): a
 * correlation whose group_by is not the events topic's key (topic_key)
 * is not fed where the event is read. Stage 1 (the instance reading the
 * event) writes a compact match per target (rule, matched rule, key
 * hash, times, the values the correlation reads, evidence summary, the
 * condition trace, where the event was: topic, partition, offset, and
 * its number among that record's matches) and produces it to the
 * repartition topic keyed by the key hash, waiting for the
 * acknowledgements before the batch is released (so the source offsets
 * never run ahead of the matches). Stage 2 (whoever owns the repartition
 * partition, read by another in_kafka instance named repartition_input)
 * feeds them to the engines. A replayed source (kill -9 of a stage 1
 * after its last checkpoint) produces its matches again: stage 2 keeps,
 * per (repartition partition, source topic, source partition), the
 * highest (offset, number) counted, drops what is not above it, and
 * keeps those marks in the repartition partition's checkpoint.
 */
#include "det_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/le.h"
#include "rules/correlate_int.h"

#define HOP_MAGIC      "SNH1"
#define HOP_BEAT       "SNW1" /* a watermark beat: magic, i64 time */
#define HOP_MARKS1     "SNDRHWM1" /* marks (older builds) */
#define HOP_MARKS      "SNDRHWM2" /* the partition's time, then marks */
#define HOP_MARKS_MAX  65536 /* marks per repartition partition, at most */
#define HOP_RULE_ID    256   /* bytes of a rule id (load.c keeps them short) */
#define HOP_MAX_FIELDS 32    /* values one compact match carries */

struct hop_mark {
    int32_t rp;   /* repartition partition */
    char *topic;  /* source topic */
    int32_t part; /* source partition */
    int64_t off;  /* highest counted: source offset, */
    uint32_t seq; /* then the match's number in its record */
};

/* A repartition partition this instance owns: the origin of its keys
 * and the newest event time read from it (the hop's watermark). */
struct hop_rp {
    int32_t rp;
    struct sn_corr_origin o;
    int64_t wm; /* INT64_MIN: nothing read yet, no checkpoint had it */
};

struct dr_hop {
    struct dr_hop_producer *prod;
    pthread_mutex_t mu; /* the marks and rps */
    struct hop_rp *rps;
    size_t n_rps, cap_rps;
    struct hop_mark *marks;
    size_t n_marks, cap_marks;
    /* Hash index over marks (index + 1; 0: empty), at most half full:
     * a stage 2 may count thousands of (repartition, source) pairs. */
    uint32_t *idx;
    size_t idx_cap;
    struct sn_counter *c_produced, *c_consumed, *c_replays, *c_errors, *c_bad;
    struct sn_counter *c_expect_errors, *c_beats;
    /* Ticker only: a beat that could not be sent (the topic's partition
     * count unknown: the cluster unreachable) is not tried again before
     * this (monotonic ns): each try may wait for the metadata. */
    int64_t beat_retry_ns;
};

/* ---- encoding ----------------------------------------------------------- */

static void
put(struct sn_buf *b, const void *p, size_t n, bool *ok)
{
    if (*ok && sn_buf_append(b, p, n) != SN_OK)
        *ok = false;
}

/* The n low bytes of v, little-endian (core/le.h). */
static void
put_le(struct sn_buf *b, uint64_t v, size_t n, bool *ok)
{
    if (*ok && sn_le_put(b, v, n) != SN_OK)
        *ok = false;
}

static void
put_str(struct sn_buf *b, const char *p, size_t n, bool *ok)
{
    put_le(b, (uint32_t)n, 4, ok);
    if (n > 0)
        put(b, p, n, ok);
}

static void
put_value(struct sn_buf *b, const struct sn_value *v, bool *ok)
{
    unsigned char type = (unsigned char)v->type;
    uint64_t d;

    put(b, &type, 1, ok);
    switch (v->type) {
    case SN_VAL_STR:
        put_str(b, v->u.s.ptr, v->u.s.len, ok);
        break;
    case SN_VAL_INT:
        put_le(b, (uint64_t)v->u.i, 8, ok);
        break;
    case SN_VAL_TIME:
        put_le(b, (uint64_t)v->u.time_ns, 8, ok);
        break;
    case SN_VAL_DOUBLE:
        memcpy(&d, &v->u.d, 8);
        put_le(b, d, 8, ok);
        break;
    case SN_VAL_BOOL:
        type = v->u.b ? 1 : 0;
        put(b, &type, 1, ok);
        break;
    case SN_VAL_IP:
        put(b, &v->u.ip.family, 1, ok);
        put(b, v->u.ip.addr, 16, ok);
        break;
    default:
        break;
    }
}

static struct sn_str
get_str(struct sn_le_rd *r)
{
    struct sn_str s;

    s.len = (uint32_t)sn_le_get(r, 4);
    s.ptr = (const char *)sn_le_take(r, s.len);
    if (s.ptr == NULL)
        s.len = 0;
    return s;
}

static void
get_value(struct sn_le_rd *r, struct sn_value *v)
{
    const unsigned char *t = sn_le_take(r, 1);
    const unsigned char *x;
    uint64_t d;

    memset(v, 0, sizeof(*v));
    if (t == NULL)
        return;
    v->type = (enum sn_value_type) * t;
    switch (v->type) {
    case SN_VAL_STR:
        v->u.s = get_str(r);
        break;
    case SN_VAL_INT:
        v->u.i = (int64_t)sn_le_get(r, 8);
        break;
    case SN_VAL_TIME:
        v->u.time_ns = (int64_t)sn_le_get(r, 8);
        break;
    case SN_VAL_DOUBLE:
        d = sn_le_get(r, 8);
        memcpy(&v->u.d, &d, 8);
        break;
    case SN_VAL_BOOL:
        x = sn_le_take(r, 1);
        v->u.b = x != NULL && *x != 0;
        break;
    case SN_VAL_IP:
        x = sn_le_take(r, 17);
        if (x != NULL) {
            v->u.ip.family = x[0];
            memcpy(v->u.ip.addr, x + 1, 16);
        }
        break;
    case SN_VAL_NULL:
        break;
    default:
        r->failed = true;
    }
}

/* ---- stage 1 ------------------------------------------------------------ */

/* The value the engine would read for name: an extracted field, else the
 * event's. */
static bool
value_of(const struct dr_state *s, const struct sn_corr_input *in,
         const char *name, struct sn_value *v)
{
    int id = sn_field_table_find(&s->rs->fields, name);

    return sn_corr_get_field(in, name, strlen(name), id < 0 ? INT32_MAX : id,
                             v);
}

bool
dr_hop_put(struct dr_state *s, struct dr_tls *t, const struct sn_corr_input *in,
           const struct sn_corr_target *tg, const struct sn_record *rec,
           struct sn_str trace, unsigned depth)
{
    const struct sn_corr_spec *spec = &s->set->specs[tg->spec];
    const char *names[HOP_MAX_FIELDS];
    struct sn_value vals[HOP_MAX_FIELDS];
    size_t n = 0, start = t->hop.len;
    bool ok = true;

    if (rec != t->hop_last) {
        t->hop_last = rec;
        t->hop_seq = 0;
    }
    /* The extracted fields, then what the spec reads from the event. */
    for (size_t i = 0; i < in->n_fields && n < HOP_MAX_FIELDS; i++) {
        names[n] = in->fields[i].name;
        vals[n++] = in->fields[i].v;
    }
    for (size_t g = 0; g <= spec->n_group_by && n < HOP_MAX_FIELDS; g++) {
        const char *name =
            g < spec->n_group_by ? spec->group_by[g] : spec->field;
        bool have = false;
        size_t len;
        if (name == NULL)
            continue;
        len = strlen(name);
        for (size_t i = 0; i < n && !have; i++) {
            size_t nl =
                i < in->n_fields ? in->fields[i].name_len : strlen(names[i]);
            have = nl == len && memcmp(names[i], name, len) == 0;
        }
        if (!have && value_of(s, in, name, &vals[n]))
            names[n++] = name;
    }
    put(&t->hop, HOP_MAGIC, 4, &ok);
    put_str(&t->hop, spec->rule->id, strlen(spec->rule->id), &ok);
    put_str(&t->hop, in->rule->id, in->rule->id_len, &ok);
    put_le(&t->hop, tg->hash, 8, &ok);
    put_le(&t->hop, (uint64_t)in->time_ns, 8, &ok);
    put_le(&t->hop, (uint64_t)in->arrival_ns, 8, &ok);
    put_le(&t->hop, in->weight, 4, &ok);
    put_str(&t->hop, rec && rec->peer ? rec->peer : "",
            rec && rec->peer ? strlen(rec->peer) : 0, &ok);
    put_le(&t->hop, (uint32_t)(rec ? rec->source_part : -1), 4, &ok);
    put_le(&t->hop, (uint64_t)(rec ? rec->source_offset : -1), 8, &ok);
    put_le(&t->hop, t->hop_seq++, 4, &ok);
    put_le(&t->hop, (uint32_t)n, 4, &ok);
    for (size_t i = 0; i < n; i++) {
        size_t nl =
            i < in->n_fields ? in->fields[i].name_len : strlen(names[i]);
        put_str(&t->hop, names[i], nl, &ok);
        put_value(&t->hop, &vals[i], &ok);
    }
    put_str(&t->hop, in->summary, in->summary_is_json ? in->summary_len : 0,
            &ok);
    put_str(&t->hop, trace.ptr, trace.len, &ok);
    /* A signal-fed step's chain depth: one trailing byte, absent for
     * matches (older readers ignore what follows the trace). */
    if (depth > 0) {
        unsigned char d = (unsigned char)(depth > 255 ? 255 : depth);
        put(&t->hop, &d, 1, &ok);
    }
    if (ok) {
        bool grown = true;
        if (t->n_hop == t->cap_hop) {
            size_t cap = t->cap_hop ? t->cap_hop * 2 : 64;
            struct dr_hop_rec *q = realloc(t->hop_recs, cap * sizeof(*q));
            if (q == NULL)
                grown = false;
            else {
                t->hop_recs = q;
                t->cap_hop = cap;
            }
        }
        ok = grown;
    }
    if (!ok) {
        t->hop.len = start;
        s->host->counter_add(s->hop->c_errors, 1);
        return false;
    }
    t->hop_recs[t->n_hop].hash = tg->hash;
    t->hop_recs[t->n_hop].off = (uint32_t)start;
    t->hop_recs[t->n_hop].len = (uint32_t)(t->hop.len - start);
    t->n_hop++;
    return true;
}

bool
dr_hop_send(struct dr_state *s, struct dr_tls *t)
{
    bool ok;

    if (t->n_hop == 0)
        return true;
    /* checkpoint: the partition checkpoint flushes (dr_hop_flush). */
    ok = dr_hop_producer_send(s->hop->prod, t->hop_recs, t->n_hop, t->hop.data,
                              s->c->hop_ack == 0);
    if (ok)
        s->host->counter_add(s->hop->c_produced, t->n_hop);
    else
        s->host->counter_add(s->hop->c_errors, 1);
    t->n_hop = 0;
    t->hop_last = NULL;
    sn_buf_reset(&t->hop);
    return ok;
}

/* How long a checkpoint waits for the matches' acknowledgements before
 * it is put off (the partition's row waits; the matches stay queued). */
#define HOP_FLUSH_MS 5000

bool
dr_hop_flush(struct dr_state *s)
{
    if (s->hop == NULL || s->c->hop_ack == 0)
        return true;
    if (dr_hop_producer_flush(s->hop->prod, HOP_FLUSH_MS))
        return true;
    s->host->counter_add(s->hop->c_errors, 1);
    s->host->log(s->inst, SN_LOG_WARN,
                 "repartition topic: matches not acknowledged within %d ms; "
                 "the partition checkpoint waits",
                 HOP_FLUSH_MS);
    return false;
}

/* ---- stage 2 ------------------------------------------------------------ */

bool
dr_hop_is_hop_batch(struct dr_state *s, const struct sn_batch *b)
{
    const struct sn_record *rec;

    if (s->hop == NULL || s->host->batch_len(b) == 0)
        return false;
    /* A batch holds one input's records. */
    rec = s->host->event_record(s->host->batch_event(b, 0));
    return rec != NULL && rec->input != NULL &&
           strcmp(rec->input, s->c->hop_input) == 0;
}

bool
dr_hop_is_hop_part(const struct dr_state *s, const struct sn_partition *p)
{
    return s->hop != NULL && p->input != NULL &&
           strcmp(p->input, s->c->hop_input) == 0;
}

static size_t
mark_slot(int32_t rp, struct sn_str topic, int32_t part, size_t cap)
{
    uint64_t x = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < topic.len; i++)
        x = (x ^ (unsigned char)topic.ptr[i]) * 0x100000001b3ULL;
    x ^= ((uint64_t)(uint32_t)rp << 32) | (uint32_t)part;
    x *= 0x9e3779b97f4a7c15ULL;
    return (size_t)(x >> 20) & (cap - 1);
}

static void
idx_put(struct dr_hop *h, size_t i)
{
    const struct hop_mark *m = &h->marks[i];
    size_t j = mark_slot(m->rp, (struct sn_str){ m->topic, strlen(m->topic) },
                         m->part, h->idx_cap);

    while (h->idx[j] != 0)
        j = (j + 1) & (h->idx_cap - 1);
    h->idx[j] = (uint32_t)i + 1;
}

/* Rebuild the index for cap entries at least (false on ENOMEM). */
static bool
idx_build(struct dr_hop *h, size_t need)
{
    size_t cap = 64;
    uint32_t *idx;

    while (cap < 2 * need)
        cap *= 2;
    idx = calloc(cap, sizeof(*idx));
    if (idx == NULL)
        return false;
    free(h->idx);
    h->idx = idx;
    h->idx_cap = cap;
    for (size_t i = 0; i < h->n_marks; i++)
        idx_put(h, i);
    return true;
}

/* The mark of (rp, topic, part), created when missing (NULL: ENOMEM or
 * too many). Under hop->mu. */
static struct hop_mark *
mark_get(struct dr_hop *h, int32_t rp, struct sn_str topic, int32_t part)
{
    struct hop_mark *m;

    /* The index went with an ENOMEM: every mark must be findable. */
    if (h->idx_cap == 0 && h->n_marks > 0 && !idx_build(h, h->n_marks + 1))
        return NULL;
    for (size_t j = h->idx_cap ? mark_slot(rp, topic, part, h->idx_cap) : 0;
         h->idx_cap > 0 && h->idx[j] != 0; j = (j + 1) & (h->idx_cap - 1)) {
        m = &h->marks[h->idx[j] - 1];
        if (m->rp == rp && m->part == part &&
            strncmp(m->topic, topic.ptr, topic.len) == 0 &&
            m->topic[topic.len] == '\0')
            return m;
    }
    if (h->n_marks == h->cap_marks) {
        size_t cap = h->cap_marks ? h->cap_marks * 2 : 64;
        struct hop_mark *q;
        if (cap > HOP_MARKS_MAX)
            return NULL;
        q = realloc(h->marks, cap * sizeof(*q));
        if (q == NULL)
            return NULL;
        h->marks = q;
        h->cap_marks = cap;
    }
    if (2 * (h->n_marks + 1) > h->idx_cap && !idx_build(h, h->n_marks + 1))
        return NULL;
    m = &h->marks[h->n_marks];
    m->topic = malloc(topic.len + 1);
    if (m->topic == NULL)
        return NULL;
    memcpy(m->topic, topic.ptr, topic.len);
    m->topic[topic.len] = '\0';
    m->rp = rp;
    m->part = part;
    m->off = -1;
    m->seq = 0;
    idx_put(h, h->n_marks);
    h->n_marks++;
    return m;
}

/* True when (off, seq) of source (topic, part) through repartition
 * partition rp was not counted yet; it is then counted. */
static bool
first_time(struct dr_hop *h, int32_t rp, struct sn_str topic, int32_t part,
           int64_t off, uint32_t seq)
{
    struct hop_mark *m;
    bool fresh = true;

    if (rp < 0 || part < 0 || off < 0)
        return true; /* no partition to replay from */
    pthread_mutex_lock(&h->mu);
    m = mark_get(h, rp, topic, part);
    if (m != NULL) {
        fresh = off > m->off || (off == m->off && seq > m->seq) || m->off < 0;
        if (fresh) {
            m->off = off;
            m->seq = seq;
        }
    }
    pthread_mutex_unlock(&h->mu);
    return fresh;
}

/* Field names of stage 2 feeds: the ruleset's copy, so signals name
 * fields with strings that outlive the batch. */
static const char *
name_of(const struct dr_state *s, struct sn_str n)
{
    char tmp[128];
    int id;

    if (n.len >= sizeof(tmp))
        return NULL;
    memcpy(tmp, n.ptr, n.len);
    tmp[n.len] = '\0';
    id = sn_field_table_find(&s->rs->fields, tmp);
    return id < 0 ? NULL : s->rs->fields.names[id];
}

static const struct sn_rule *
rule_of(const struct dr_state *s, struct sn_str id)
{
    char tmp[HOP_RULE_ID];

    if (id.len >= sizeof(tmp))
        return NULL;
    memcpy(tmp, id.ptr, id.len);
    tmp[id.len] = '\0';
    return sn_ruleset_find(s->rs, tmp);
}

/* The stream a match's lateness is judged in: its source partition as
 * seen through its repartition partition, the only order there is (one
 * owner of the source partition produces its matches in order; other
 * source partitions, and the same one through another repartition
 * partition, go at their own pace). Interned as ("<input>#<rp>", source
 * topic), partition = the source partition. */
static struct sn_corr_origin
wm_origin(struct dr_state *s, struct dr_tls *t, int32_t rp, struct sn_str topic,
          int32_t part)
{
    struct sn_corr_origin o = SN_CORR_ORIGIN_NONE;
    char in[160];

    if (rp < 0 || part < 0 || topic.len >= sizeof(t->hop_wm_topic))
        return o;
    if (t->hop_wm_src == 0 || t->hop_wm_rp != rp ||
        strncmp(t->hop_wm_topic, topic.ptr, topic.len) != 0 ||
        t->hop_wm_topic[topic.len] != '\0') {
        snprintf(in, sizeof(in), "%s#%d", s->c->hop_input, (int)rp);
        memcpy(t->hop_wm_topic, topic.ptr, topic.len);
        t->hop_wm_topic[topic.len] = '\0';
        t->hop_wm_rp = rp;
        t->hop_wm_src = sn_corr_source_id(s->sources, in, t->hop_wm_topic);
    }
    o.src = t->hop_wm_src;
    o.part = o.src != 0 ? part : -1;
    return o;
}

/* The hop's watermark: t was read from repartition partition rp. */
static void
rp_note(struct dr_hop *h, int32_t rp, int64_t t)
{
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->n_rps; i++)
        if (h->rps[i].rp == rp) {
            if (t > h->rps[i].wm)
                h->rps[i].wm = t;
            break;
        }
    pthread_mutex_unlock(&h->mu);
}

/* Feed one compact match, or take a beat; false when it is neither
 * (counted). *hop_t: the time it gives its repartition partition
 * (INT64_MIN: none), noted by the caller once per run of records. */
static bool
consume_one(struct dr_state *s, struct dr_tls *t, const struct sn_record *rec,
            int64_t *newest, int64_t *hop_t)
{
    struct dr_hop *h = s->hop;
    struct sn_le_rd r;
    struct sn_rule_field_value fv[HOP_MAX_FIELDS];
    struct sn_corr_input in;
    struct sn_corr_target tg;
    const struct sn_corr_spec *spec;
    const struct sn_rule *rule;
    struct sn_str spec_id, rule_id, topic, sum, trace;
    int32_t part;
    int64_t off;
    uint32_t seq, n;
    unsigned depth = 0;
    struct dr_shard *sh;
    const void *magic;

    sn_le_rd_init(&r, rec->data.ptr, rec->data.len);
    magic = sn_le_take(&r, 4);
    if (magic != NULL && memcmp(magic, HOP_BEAT, 4) == 0) {
        int64_t beat = (int64_t)sn_le_get(&r, 8);
        if (r.failed)
            return false;
        *hop_t = beat;
        s->host->counter_add(h->c_beats, 1);
        return true;
    }
    if (magic == NULL || memcmp(magic, HOP_MAGIC, 4) != 0)
        return false;
    memset(&in, 0, sizeof(in));
    memset(&tg, 0, sizeof(tg));
    spec_id = get_str(&r);
    rule_id = get_str(&r);
    tg.hash = sn_le_get(&r, 8);
    in.time_ns = (int64_t)sn_le_get(&r, 8);
    in.arrival_ns = (int64_t)sn_le_get(&r, 8);
    in.weight = (uint32_t)sn_le_get(&r, 4);
    topic = get_str(&r);
    part = (int32_t)(uint32_t)sn_le_get(&r, 4);
    off = (int64_t)sn_le_get(&r, 8);
    seq = (uint32_t)sn_le_get(&r, 4);
    n = (uint32_t)sn_le_get(&r, 4);
    if (r.failed || n > HOP_MAX_FIELDS)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        struct sn_str name = get_str(&r);
        get_value(&r, &fv[i].v);
        fv[i].name = name.ptr;
        fv[i].name_len = name.len;
        /* Prefer the ruleset's copy of the name when it has one. */
        if (!r.failed) {
            const char *own = name_of(s, name);
            if (own != NULL)
                fv[i].name = own;
        }
    }
    sum = get_str(&r);
    trace = get_str(&r);
    if (r.failed)
        return false;
    if (r.p < r.end) {
        const unsigned char *d = sn_le_take(&r, 1);
        depth = d != NULL ? *d : 0;
    }
    /* The hop's time: no later than the record's receipt (a sender's
     * clock ahead must not make every key of the partition absent). */
    if (in.time_ns > 0)
        *hop_t = in.arrival_ns > 0 && in.arrival_ns < in.time_ns
                     ? in.arrival_ns
                     : in.time_ns;
    spec = t->hop_spec_last;
    if (spec == NULL || spec->rule->id_len != spec_id.len ||
        memcmp(spec->rule->id, spec_id.ptr, spec_id.len) != 0) {
        char tmp[HOP_RULE_ID];
        if (spec_id.len >= sizeof(tmp))
            return false;
        memcpy(tmp, spec_id.ptr, spec_id.len);
        tmp[spec_id.len] = '\0';
        spec = t->hop_spec_last = sn_corr_set_find(s->set, tmp);
    }
    rule = t->hop_rule_last;
    if (rule == NULL || rule->id_len != rule_id.len ||
        memcmp(rule->id, rule_id.ptr, rule_id.len) != 0)
        rule = t->hop_rule_last = rule_of(s, rule_id);
    if (spec == NULL || rule == NULL)
        return false; /* a rule this instance does not have (a reload) */
    s->host->counter_add(h->c_consumed, 1);
    if (!first_time(h, rec->source_part, topic, part, off, seq)) {
        s->host->counter_add(h->c_replays, 1);
        return true;
    }
    tg.spec = spec->index;
    in.rule = rule;
    in.fields = fv;
    in.n_fields = n;
    in.summary = sum.len ? sum.ptr : NULL;
    in.summary_len = sum.len;
    in.summary_is_json = sum.len > 0;
    in.origin = dr_origin(s, t, rec);
    in.has_origin = true;
    in.wm_origin = wm_origin(s, t, rec->source_part, topic, part);
    in.has_wm_origin = true;
    if (in.time_ns > *newest)
        *newest = in.time_ns;
    sh = &s->shards[sn_corr_shard(tg.hash, s->n_shards)];
    t->cur = NULL;
    t->cur_rec = rec;
    t->hop_trace = trace;
    pthread_mutex_lock(&sh->mu);
    sh->tls = t;
    sn_corr_feed_at_depth(sh->c, &in, &tg, depth);
    sh->tls = NULL;
    pthread_mutex_unlock(&sh->mu);
    t->cur_rec = NULL;
    t->hop_trace = (struct sn_str){ NULL, 0 };
    if (t->n_fwd > 0)
        dr_corr_finish(s, t);
    return true;
}

enum sn_status
dr_hop_consume(struct dr_state *s, struct dr_tls *t, const struct sn_batch *b)
{
    size_t n = s->host->batch_len(b);
    int64_t newest = 0, run_t = INT64_MIN;
    int32_t run_rp = -1;
    uint64_t bad = 0;

    for (size_t i = 0; i < n; i++) {
        const struct sn_record *rec =
            s->host->event_record(s->host->batch_event(b, i));
        int64_t hop_t = INT64_MIN;

        if (rec == NULL || !consume_one(s, t, rec, &newest, &hop_t))
            bad++;
        /* The partition's time moves once its records are fed, once per
         * run of one partition's records (one lock, not one a record). */
        if (hop_t == INT64_MIN)
            continue;
        if (rec->source_part != run_rp && run_t != INT64_MIN)
            rp_note(s->hop, run_rp, run_t);
        if (rec->source_part != run_rp || hop_t > run_t)
            run_t = hop_t;
        run_rp = rec->source_part;
    }
    if (run_t != INT64_MIN)
        rp_note(s->hop, run_rp, run_t);
    t->n_src_cache = 0;
    /* Signal-fed sequence steps the counted matches fired go on to
     * their own key's partition before this batch is released. */
    if (t->n_hop > 0)
        dr_hop_send(s, t);
    if (newest > 0)
        dr_note_times(s, newest);
    if (bad > 0) {
        s->host->counter_add(s->hop->c_bad, bad);
        s->host->log(s->inst, SN_LOG_WARN,
                     "%llu records of the repartition topic are not compact "
                     "matches of this ruleset; skipped",
                     (unsigned long long)bad);
    }
    dr_emit_pending(s, t);
    return SN_OK;
}

/* ---- the marks in the repartition partition's checkpoint ---------------- */

enum sn_status
dr_hop_marks_write(struct dr_state *s, const struct sn_partition *p,
                   struct sn_buf *b)
{
    struct dr_hop *h = s->hop;
    size_t at, n = 0;
    bool ok = true;

    put(b, HOP_MARKS, 8, &ok);
    pthread_mutex_lock(&h->mu);
    {
        int64_t wm = INT64_MIN;
        for (size_t i = 0; i < h->n_rps; i++)
            if (h->rps[i].rp == p->partition)
                wm = h->rps[i].wm;
        put_le(b, (uint64_t)wm, 8, &ok);
    }
    at = b->len;
    put_le(b, 0, 4, &ok);
    for (size_t i = 0; i < h->n_marks && ok; i++) {
        const struct hop_mark *m = &h->marks[i];
        if (m->rp != p->partition || m->off < 0)
            continue;
        put_str(b, m->topic, strlen(m->topic), &ok);
        put_le(b, (uint32_t)m->part, 4, &ok);
        put_le(b, (uint64_t)m->off, 8, &ok);
        put_le(b, m->seq, 4, &ok);
        n++;
    }
    pthread_mutex_unlock(&h->mu);
    if (!ok)
        return SN_ENOMEM;
    sn_le_patch32(b, at, (uint32_t)n);
    return SN_OK;
}

void
dr_hop_marks_drop(struct dr_state *s, const struct sn_partition *p)
{
    struct dr_hop *h = s->hop;
    size_t j = 0;

    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->n_marks; i++) {
        if (h->marks[i].rp == p->partition)
            free(h->marks[i].topic);
        else
            h->marks[j++] = h->marks[i];
    }
    h->n_marks = j;
    if (h->idx_cap > 0 && !idx_build(h, h->n_marks)) {
        free(h->idx); /* rebuilt at the next mark_get */
        h->idx = NULL;
        h->idx_cap = 0;
    }
    pthread_mutex_unlock(&h->mu);
}

bool
dr_hop_marks_read(struct dr_state *s, const struct sn_partition *p,
                  const void **data, size_t *len, int64_t *wm, char *err,
                  size_t err_len)
{
    struct dr_hop *h = s->hop;
    struct sn_le_rd r;
    const void *magic;
    uint32_t n;

    sn_le_rd_init(&r, *data, *len);
    magic = sn_le_take(&r, 8);
    *wm = INT64_MIN;
    if (magic != NULL && memcmp(magic, HOP_MARKS, 8) == 0)
        *wm = (int64_t)sn_le_get(&r, 8);
    else if (magic == NULL || memcmp(magic, HOP_MARKS1, 8) != 0) {
        snprintf(err, err_len, "no repartition marks in it");
        return false;
    }
    n = (uint32_t)sn_le_get(&r, 4);
    dr_hop_marks_drop(s, p);
    pthread_mutex_lock(&h->mu);
    for (uint32_t i = 0; i < n && !r.failed; i++) {
        struct sn_str topic = get_str(&r);
        int32_t part = (int32_t)(uint32_t)sn_le_get(&r, 4);
        int64_t off = (int64_t)sn_le_get(&r, 8);
        uint32_t seq = (uint32_t)sn_le_get(&r, 4);
        struct hop_mark *m;

        if (r.failed)
            break;
        m = mark_get(h, p->partition, topic, part);
        if (m == NULL) {
            r.failed = true;
            break;
        }
        m->off = off;
        m->seq = seq;
    }
    pthread_mutex_unlock(&h->mu);
    if (r.failed) {
        snprintf(err, err_len, "repartition marks damaged or too many");
        dr_hop_marks_drop(s, p);
        return false;
    }
    *len -= (size_t)(r.p - (const unsigned char *)*data);
    *data = r.p;
    return true;
}

/* ---- expected keys of absence rules ------------------------------------ */

struct want_rp {
    struct dr_hop_producer *prod;
    int32_t rp;
    bool failed;
    char why[256];
};

static bool
want_rp(void *arg, const struct sn_corr_spec *spec, uint64_t hash,
        const struct sn_corr_origin *o)
{
    struct want_rp *w = arg;

    (void)spec;
    (void)o;
    if (w->failed)
        return false;
    if (dr_hop_producer_partition(w->prod, hash, w->why, sizeof(w->why)) ==
        w->rp)
        return true;
    w->failed = w->why[0] != '\0';
    return false;
}

void
dr_hop_expect(struct dr_state *s, const struct sn_partition *p,
              const struct sn_corr_origin *o)
{
    struct want_rp w = { s->hop->prod, p->partition, false, "" };
    int64_t now = dr_watermark(s);
    size_t made = 0;
    bool any = false;

    for (size_t i = 0; i < s->set->n_specs && !any; i++)
        any = s->hop_expect[i];
    if (!any || w.prod == NULL)
        return;
    /* The topic's partition count is read here, not under a shard's
     * lock (a metadata request may take seconds). */
    w.failed = dr_hop_producer_partition(w.prod, 0, w.why, sizeof(w.why)) < 0;
    for (size_t i = 0; i < s->n_shards && !w.failed; i++) {
        struct dr_shard *sh = &s->shards[i];

        pthread_mutex_lock(&sh->mu);
        made += sn_corr_prime_keys(sh->c, want_rp, &w, o, now);
        pthread_mutex_unlock(&sh->mu);
    }
    if (w.failed) {
        s->host->counter_add(s->hop->c_expect_errors, 1);
        s->host->log(s->inst, SN_LOG_ERROR,
                     "repartition topic %s: %s; the expected keys of "
                     "absence rules that partition %d owns are not "
                     "expected here until it is assigned again",
                     p->topic, w.why, (int)p->partition);
        return;
    }
    s->host->log(s->inst, SN_LOG_DEBUG,
                 "partition %s[%d]: %zu expected keys of absence rules "
                 "created",
                 p->topic, (int)p->partition, made);
}

/* ---- the hop's watermark ----------------------------------------------- */

/* A failed beat is tried again after this long. */
#define HOP_BEAT_RETRY_NS (30 * (int64_t)1000000000)

void
dr_hop_beat(struct dr_state *s)
{
    struct sn_buf b;
    struct timespec ts;
    int64_t now;
    bool ok = true;

    if (s->hop == NULL || s->hop->prod == NULL ||
        atomic_load(&s->max_event_ns) == 0)
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    sn_buf_init(&b, 64);
    put(&b, HOP_BEAT, 4, &ok);
    put_le(&b, (uint64_t)dr_watermark(s), 8, &ok);
    if (ok && now >= s->hop->beat_retry_ns &&
        !dr_hop_producer_beat(s->hop->prod, b.data, b.len))
        s->hop->beat_retry_ns = now + HOP_BEAT_RETRY_NS;
    sn_buf_fini(&b);
}

void
dr_hop_owned(struct dr_state *s, const struct sn_partition *p,
             const struct sn_corr_origin *o, int64_t wm)
{
    struct dr_hop *h = s->hop;
    bool ok = true;
    size_t i;

    pthread_mutex_lock(&h->mu);
    for (i = 0; i < h->n_rps && h->rps[i].rp != p->partition; i++)
        ;
    if (i == h->n_rps && h->n_rps == h->cap_rps) {
        size_t cap = h->cap_rps ? 2 * h->cap_rps : 16;
        struct hop_rp *q = realloc(h->rps, cap * sizeof(*q));
        if (q == NULL)
            ok = false;
        else {
            h->rps = q;
            h->cap_rps = cap;
        }
    }
    if (ok) {
        if (i == h->n_rps)
            h->n_rps++;
        h->rps[i] = (struct hop_rp){ p->partition, *o, wm };
    }
    pthread_mutex_unlock(&h->mu);
    for (size_t k = 0; k < s->n_shards && ok; k++) {
        pthread_mutex_lock(&s->shards[k].mu);
        ok = sn_corr_stream_wm_set(s->shards[k].c, o, wm) == SN_OK;
        pthread_mutex_unlock(&s->shards[k].mu);
    }
    if (!ok) {
        s->host->counter_add(h->c_errors, 1);
        s->host->log(s->inst, SN_LOG_ERROR,
                     "partition %s[%d]: out of memory: its keys are judged "
                     "by this instance's watermark, not the hop's",
                     p->topic, (int)p->partition);
    }
}

void
dr_hop_push(struct dr_state *s, struct dr_shard *sh)
{
    struct dr_hop *h = s->hop;

    if (h == NULL)
        return;
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->n_rps; i++)
        (void)sn_corr_stream_wm_set(sh->c, &h->rps[i].o, h->rps[i].wm);
    pthread_mutex_unlock(&h->mu);
}

void
dr_hop_dropped(struct dr_state *s, const struct sn_partition *p)
{
    struct dr_hop *h = s->hop;
    struct sn_corr_origin o = SN_CORR_ORIGIN_NONE;

    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->n_rps; i++)
        if (h->rps[i].rp == p->partition) {
            o = h->rps[i].o;
            h->rps[i] = h->rps[--h->n_rps];
            break;
        }
    pthread_mutex_unlock(&h->mu);
    if (o.src == 0)
        return;
    for (size_t k = 0; k < s->n_shards; k++) {
        pthread_mutex_lock(&s->shards[k].mu);
        sn_corr_stream_wm_clear(s->shards[k].c, &o);
        pthread_mutex_unlock(&s->shards[k].mu);
    }
}

/* ---- lifetime ----------------------------------------------------------- */

/* A spec skips the hop when every field of the topic's key is one of its
 * group_by: all of one key's events are then on one partition. */
static bool
keyed_by_topic(const struct dr_conf *c, const struct sn_corr_spec *spec)
{
    if (c->topic_key.n == 0)
        return false;
    for (size_t i = 0; i < c->topic_key.n; i++) {
        bool in = false;
        for (size_t g = 0; g < spec->n_group_by && !in; g++)
            in = strcmp(spec->group_by[g], c->topic_key.items[i]) == 0;
        if (!in)
            return false;
    }
    return true;
}

enum sn_status
dr_hop_init(struct dr_state *s, char *err, size_t err_len)
{
    const struct sn_host *host = s->host;
    struct dr_hop *h;
    size_t n_hop = 0;

    if (s->c->hop_topic == NULL || s->c->hop_topic[0] == '\0')
        return SN_OK;
    if (s->c->hop_brokers == NULL || s->c->hop_input == NULL) {
        snprintf(err, err_len,
                 "repartition_topic needs repartition_brokers "
                 "and repartition_input");
        return SN_ECONFIG;
    }
    if (s->c->hop_replication == 0) {
        snprintf(err, err_len,
                 "repartition_replication: -1 (the broker's default) or at "
                 "least 1");
        return SN_ECONFIG;
    }
    h = calloc(1, sizeof(*h));
    s->hop_spec = calloc(s->set->n_specs + 1, sizeof(*s->hop_spec));
    s->hop_expect = calloc(s->set->n_specs + 1, sizeof(*s->hop_expect));
    if (h == NULL || s->hop_spec == NULL || s->hop_expect == NULL) {
        free(h);
        return SN_ENOMEM;
    }
    pthread_mutex_init(&h->mu, NULL);
    s->hop = h;
    for (size_t i = 0; i < s->set->n_specs; i++) {
        const struct sn_corr_spec *spec = &s->set->specs[i];
        /* Expected keys: whichever partition a listed key's events are
         * on (the edge's partitioner, unknown here), its absence is
         * judged where its repartition partition is owned, whose
         * partitioner is ours (dr_hop_expect). */
        s->hop_expect[i] =
            spec->kind == SN_CORR_ABSENCE && spec->n_expected > 0;
        s->hop_spec[i] = s->hop_expect[i] || !keyed_by_topic(s->c, spec);
        n_hop += s->hop_spec[i];
    }
    /* Their signal-fed steps too (on_forward sends them); expected keys
     * come with their repartition partition. */
    for (size_t i = 0; i < s->n_shards; i++) {
        sn_corr_forward_away(s->shards[i].c, s->hop_spec);
        sn_corr_prime_deferred(s->shards[i].c, s->hop_expect);
    }
    h->c_produced = host->counter(
        s->inst, "repartition_produced_total",
        "compact matches produced to the repartition topic (acknowledged)");
    h->c_consumed =
        host->counter(s->inst, "repartition_consumed_total",
                      "compact matches read from the repartition topic");
    h->c_replays = host->counter(
        s->inst, "repartition_replays_dropped_total",
        "compact matches dropped as replays of matches already counted");
    h->c_errors =
        host->counter(s->inst, "repartition_produce_errors_total",
                      "batches whose matches could not all be produced");
    h->c_bad = host->counter(
        s->inst, "repartition_rejected_total",
        "repartition records that are not compact matches of this ruleset");
    h->c_beats = host->counter(
        s->inst, "repartition_beats_total",
        "watermark beats read from the repartition topic (the hop's time)");
    h->c_expect_errors = host->counter(
        s->inst, "repartition_expect_errors_total",
        "assigned repartition partitions whose absence rules' expected keys "
        "could not be created");
    host->log(s->inst, SN_LOG_INFO,
              "repartition hop: %zu of %zu correlations go through %s "
              "(read back by input '%s')",
              n_hop, s->set->n_specs, s->c->hop_topic, s->c->hop_input);
    return SN_OK;
}

/* The producer is made at start, not init: `sentineld check` runs init
 * and must not connect anywhere. */
enum sn_status
dr_hop_start(struct dr_state *s, char *err, size_t err_len)
{
    if (s->hop == NULL)
        return SN_OK;
    return dr_hop_producer_new(s, &s->hop->prod, err, err_len);
}

void
dr_hop_stop(struct dr_state *s)
{
    if (s->hop != NULL && s->hop->prod != NULL)
        dr_hop_producer_stop(s->hop->prod);
}

void
dr_hop_fini(struct dr_state *s)
{
    struct dr_hop *h = s->hop;

    free(s->hop_spec);
    free(s->hop_expect);
    s->hop_spec = s->hop_expect = NULL;
    if (h == NULL)
        return;
    dr_hop_producer_free(h->prod);
    for (size_t i = 0; i < h->n_marks; i++)
        free(h->marks[i].topic);
    free(h->marks);
    free(h->idx);
    free(h->rps);
    pthread_mutex_destroy(&h->mu);
    free(h);
    s->hop = NULL;
}

/*
 * det_rules partition state (docs/scaling.md, "Partition state"): the
 * correlation keys a source partition's records fed move with the
 * partition when the consumer group hands it to another instance. Each
 * key remembers the origin of the last record that fed it (input, topic,
 * partition; det_rules_corr.c), so
 *   checkpoint: the keys of p, from every shard, in the container the
 *     local .corr file uses (det_rules_ckpt.c), keys only;
 *   restore: drop this instance's keys of p, then merge the blob's keys
 *     (re-split by hash into the shards, tagged with p); a key this
 *     instance counts from other partitions adds p's events and is
 *     evaluated at once (src/rules/correlate_merge.c);
 *   release: drop the keys of p.
 * The input calls these while none of p's records is in flight, but the
 * workers go on feeding other partitions' keys into the same shards, so
 * every shard is changed under its lock, one shard at a time.
 */
#include "det_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bound on one partition's blob: as for the local checkpoint file. */
#define PART_MAX ((size_t)4 << 30)

struct want_part {
    struct sn_corr_origin o;
};

static bool
want_part(void *arg, const struct sn_corr_spec *spec, uint64_t hash,
          const struct sn_corr_origin *o)
{
    const struct want_part *w = arg;

    (void)spec;
    (void)hash;
    return w->o.src != 0 && o->src == w->o.src && o->part == w->o.part;
}

/* The origin of p in this process; src 0 when the pair was never seen
 * (then no key has it). */
static struct sn_corr_origin
origin_of(struct dr_state *s, const struct sn_partition *p, bool intern)
{
    struct sn_corr_origin o;

    o.src = intern ? sn_corr_source_id(s->sources, p->input, p->topic)
                   : sn_corr_source_find(s->sources, p->input, p->topic);
    o.part = p->partition;
    return o;
}

/* The lateness watermarks of p's records (src/rules/correlate_owm.c):
 * its own origin's and, for a repartition partition, those of every
 * source partition seen through it ("<input>#<rp>", det_rules_hop.c). */
struct owm_part {
    const struct dr_state *s;
    struct sn_corr_origin o;
    char hop_in[160]; /* "" when p is not a repartition partition */
};

static bool
want_owm(void *arg, const struct sn_corr_origin *o)
{
    const struct owm_part *w = arg;
    const char *input, *topic;

    if (w->o.src != 0 && o->src == w->o.src && o->part == w->o.part)
        return true;
    return w->hop_in[0] != '\0' &&
           sn_corr_source_names(w->s->sources, o->src, &input, &topic) &&
           strcmp(input, w->hop_in) == 0;
}

/* Forget them when p is let go or taken again: this instance may read
 * p again from an earlier offset (a lost assignment given back, read
 * from its last row), and against the times read before, its records
 * were dropped as late. A new owner starts without them; so does this
 * one now. */
static void
drop_owm(struct dr_state *s, const struct sn_partition *p,
         const struct sn_corr_origin *o)
{
    struct owm_part w = { s, *o, "" };

    if (dr_hop_is_hop_part(s, p))
        snprintf(w.hop_in, sizeof(w.hop_in), "%s#%d", s->c->hop_input,
                 (int)p->partition);
    for (size_t i = 0; i < s->n_shards; i++) {
        pthread_mutex_lock(&s->shards[i].mu);
        (void)sn_corr_owm_drop(s->shards[i].c, want_owm, &w);
        pthread_mutex_unlock(&s->shards[i].mu);
    }
}

enum sn_status
dr_partition_checkpoint(void *state, const struct sn_partition *p,
                        struct sn_buf *out)
{
    struct dr_state *s = state;
    struct want_part w = { origin_of(s, p, false) };
    struct sn_buf own;
    enum sn_status rc;

    /* out is the host's buffer: written only through host->buf_append
     * (its layout is the daemon's, not this plugin's copy of core/buf.c),
     * so the blob is built in a buffer of our own first. */
    /* The row about to be written covers records whose matches went to
     * the repartition topic: they must be there first (at-least-once). */
    pthread_mutex_lock(&s->advance_mu);
    if (!dr_hop_flush(s)) {
        pthread_mutex_unlock(&s->advance_mu);
        return SN_AGAIN;
    }
    sn_buf_init(&own, PART_MAX);
    /* A repartition partition's blob starts with its replay marks
     * (det_rules_hop.c): the keys and the marks cover the same records. */
    rc = dr_hop_is_hop_part(s, p) ? dr_hop_marks_write(s, p, &own) : SN_OK;
    if (rc == SN_OK)
        rc = dr_ckpt_write(s, want_part, &w, true, &own);
    pthread_mutex_unlock(&s->advance_mu);
    if (rc == SN_OK)
        rc = s->host->buf_append(out, own.data, own.len);
    sn_buf_fini(&own);

    if (rc != SN_OK) {
        s->host->counter_add(s->c_ckpt_errors, 1);
        s->host->log(s->inst, SN_LOG_ERROR,
                     "partition %s[%d]: correlation state not checkpointed "
                     "(%s)",
                     p->topic, (int)p->partition,
                     rc == SN_ELIMIT ? "too large" : "out of memory");
    }
    return rc;
}

/* Drop p's keys from every shard; with all, then merge all's keys of
 * each shard, tagged with p. Signals raised by merging (a key counted
 * here from other partitions crossing its threshold with p's events)
 * are rendered into t (NULL: none can be, nothing is merged). */
static enum sn_status
replace(struct dr_state *s, const struct want_part *w, struct sn_corr *all,
        struct dr_tls *t, size_t *n_dropped)
{
    struct sn_buf part;
    enum sn_status rc = SN_OK;
    size_t dropped = 0;

    sn_buf_init(&part, PART_MAX);
    for (size_t i = 0; i < s->n_shards; i++) {
        struct dr_shard *sh = &s->shards[i];
        struct dr_want_shard ws = { i, s->n_shards };
        enum sn_status x = SN_OK;

        sn_buf_reset(&part);
        /* Serialized outside the lock: the workers keep going. */
        if (all != NULL)
            x = sn_corr_checkpoint_keys(all, dr_want_shard, &ws, &part);
        pthread_mutex_lock(&sh->mu);
        if (w->o.src != 0)
            dropped += sn_corr_drop(sh->c, want_part, (void *)w);
        if (all != NULL && x == SN_OK) {
            sh->tls = t;
            x = sn_corr_restore_keys(sh->c, part.data, part.len, &w->o);
            sh->tls = NULL;
        }
        pthread_mutex_unlock(&sh->mu);
        if (x != SN_OK && rc == SN_OK)
            rc = x;
    }
    sn_buf_fini(&part);
    *n_dropped = dropped;
    return rc;
}

enum sn_status
dr_partition_restore(void *state, const struct sn_partition *p,
                     const void *data, size_t len, char *err, size_t err_len)
{
    struct dr_state *s = state;
    struct want_part w = { origin_of(s, p, true) };
    struct sn_corr *all = NULL;
    struct dr_tls *t = NULL;
    struct sn_signal_source src = { p->input, p->topic, p->partition, -1 };
    enum sn_status rc;
    size_t dropped = 0;
    int64_t hop_wm = INT64_MIN;
    char why[256];

    if (dr_hop_is_hop_part(s, p)) {
        if (data == NULL)
            dr_hop_marks_drop(s, p);
        else if (!dr_hop_marks_read(s, p, &data, &len, &hop_wm, why,
                                    sizeof(why))) {
            s->host->counter_add(s->c_ckpt_errors, 1);
            snprintf(err, err_len,
                     "partition %s[%d]: repartition state (%zu bytes) not "
                     "restored: %s",
                     p->topic, (int)p->partition, len, why);
            return SN_EINVAL;
        }
    }
    if (data != NULL) {
        /* Read the whole blob first: a bad one changes nothing. */
        all = dr_engine_new(s);
        t = dr_tls_new(s);
        if (all == NULL || t == NULL) {
            sn_corr_free(all);
            dr_tls_free(t);
            return SN_ENOMEM;
        }
        /* A signal a merge raises is about p: no record made it, so it
         * names the partition without an offset. */
        t->restore_src = &src;
        if (!dr_ckpt_read(data, len, all, true, why, sizeof(why))) {
            sn_corr_free(all);
            dr_tls_free(t);
            s->host->counter_add(s->c_ckpt_errors, 1);
            snprintf(err, err_len,
                     "partition %s[%d]: correlation state (%zu bytes) not "
                     "restored: %s",
                     p->topic, (int)p->partition, len, why);
            return SN_EINVAL;
        }
    }
    if (w.o.src == 0)
        /* The origin table is full: the keys are restored, but later
         * moves cannot find them (det_rules_corr.c logs this once). */
        w.o = SN_CORR_ORIGIN_NONE;
    /* Its keys wait for the hop's time, not this instance's (before
     * they are restored: a check may run as soon as they are there). */
    if (dr_hop_is_hop_part(s, p) && w.o.src != 0)
        dr_hop_owned(s, p, &w.o, hop_wm);
    drop_owm(s, p, &w.o);
    rc = replace(s, &w, all, t, &dropped);
    sn_corr_free(all);
    /* Expected keys the checkpoint did not bring: this instance owns
     * them now (one instance of the group expects each). */
    if (rc == SN_OK && dr_hop_is_hop_part(s, p) && w.o.src != 0)
        dr_hop_expect(s, p, &w.o);
    if (t != NULL) {
        /* Every shard lock is released: signal_emit may block. */
        dr_corr_finish(s, t);
        dr_tls_free(t);
    }
    if (rc != SN_OK) {
        s->host->counter_add(s->c_ckpt_errors, 1);
        snprintf(err, err_len,
                 "partition %s[%d]: correlation state partly restored: out "
                 "of memory",
                 p->topic, (int)p->partition);
    } else {
        s->host->log(s->inst, SN_LOG_DEBUG,
                     "partition %s[%d]: %zu keys dropped, %zu bytes of "
                     "correlation state restored",
                     p->topic, (int)p->partition, dropped, data ? len : 0);
    }
    return rc;
}

void
dr_partition_release(void *state, const struct sn_partition *p)
{
    struct dr_state *s = state;
    struct want_part w = { origin_of(s, p, false) };
    size_t dropped = 0;

    if (w.o.src != 0)
        replace(s, &w, NULL, NULL, &dropped);
    drop_owm(s, p, &w.o);
    if (dr_hop_is_hop_part(s, p)) {
        dr_hop_marks_drop(s, p);
        dr_hop_dropped(s, p);
    }
    s->host->log(s->inst, SN_LOG_DEBUG, "partition %s[%d]: %zu keys dropped",
                 p->topic, (int)p->partition, dropped);
}

static bool
want_checkpointed(void *arg, const struct sn_corr_spec *spec, uint64_t hash,
                  const struct sn_corr_origin *o)
{
    struct dr_state *s = arg;
    const char *input, *topic;

    (void)spec;
    (void)hash;
    return o->src != 0 &&
           sn_corr_source_names(s->sources, o->src, &input, &topic) &&
           s->host->partitions_checkpointed(s->inst, input, topic);
}

void
dr_part_drop_checkpointed(struct dr_state *s)
{
    size_t dropped = 0;

    if (!SN_HOST_HAS(s->host, partitions_checkpointed))
        return;
    /* Before the ticker, the workers and the inputs start: nothing else
     * holds a shard, but the lock costs nothing here. */
    for (size_t i = 0; i < s->n_shards; i++) {
        pthread_mutex_lock(&s->shards[i].mu);
        dropped += sn_corr_drop(s->shards[i].c, want_checkpointed, s);
        pthread_mutex_unlock(&s->shards[i].mu);
    }
    if (dropped > 0)
        s->host->log(s->inst, SN_LOG_INFO,
                     "%zu keys of partitions restored from their input's "
                     "checkpoints left out of the local state: the "
                     "partitions assigned here bring theirs back",
                     dropped);
}

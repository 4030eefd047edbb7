/*
 * Worker threads: parse every record of a batch with its input's parser
 * chain, run the detectors, and hand the batch to every output that wants
 * it. Rejected records are counted and logged (rate-limited) with peer,
 * offset and reason; they never cost the records around them.
 */
#include "pipeline/pipeline.h"

#include <string.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/status.h"

static bool
wants(const struct sn_instance *consumer, const struct sn_instance *input)
{
    if (consumer->n_only == 0)
        return true;
    for (size_t i = 0; i < consumer->n_only; i++)
        if (consumer->only[i] == input)
            return true;
    return false;
}

static void
log_reject(struct sn_instance *in, const struct sn_record *rec,
           const char *parser, const char *why, size_t offset)
{
    uint64_t suppressed = 0;

    if (!sn_ratelimit_pass(&in->input.rl_reject, SN_LOG_RATE_MS, &suppressed))
        return;
    sn_log_warn("input '%s': rejected record from %s (source offset %lld): "
                "%s at byte %zu: %s%s",
                in->name, rec->peer ? rec->peer : "-",
                (long long)rec->source_offset, parser, offset, why,
                suppressed ? " (more rejections suppressed)" : "");
}

/* Returns true when some parser accepted the record. */
static bool
parse_one(struct sn_instance *in, struct sn_event *ev, struct sn_arena *a)
{
    char why[192];
    size_t offset = 0;
    const char *last = "no parser";

    for (size_t p = 0; p < in->input.n_parsers; p++) {
        struct sn_instance *ps = in->input.parsers[p];
        enum sn_status rc;

        sn_event_reset(ev, a);
        why[0] = '\0';
        rc = ps->p->parse(ps->state, &ev->rec, ev, why, sizeof(why), &offset);
        if (rc == SN_OK)
            return true;
        last = ps->name;
        if (rc != SN_DECLINED)
            break;
        if (why[0] == '\0')
            snprintf(why, sizeof(why), "declined by every parser");
    }
    log_reject(in, &ev->rec, last, why[0] ? why : "rejected", offset);
    if (in->p->rejected != NULL)
        in->p->rejected(in->state, &ev->rec, why[0] ? why : "rejected");
    return false;
}

/* A detector that says it could not look at all of b: counted and
 * logged at a limited rate; the batch goes on to the outputs. */
static void
detect_failed(struct sn_instance *d, enum sn_status rc, size_t n)
{
    uint64_t suppressed = 0;

    sn_counter_add(d->c_detect_errors, 1);
    if (sn_ratelimit_pass(&d->detector.rl_detect, SN_LOG_RATE_MS, &suppressed))
        sn_log_warn("detector '%s' failed on a batch of %zu events: %s "
                    "(counted in sentineld_detector_errors_total)%s",
                    d->name, n, sn_status_str(rc),
                    suppressed ? " (more failures suppressed)" : "");
}

/* An output with `when_full: drop` that has SN_OUTPUT_DROP_QUEUE batches
 * waiting does not get this one: counted, logged at a limited rate. */
static void
output_behind(struct sn_instance *o, size_t n)
{
    uint64_t suppressed = 0;

    sn_counter_add(o->c_dropped, n);
    if (sn_ratelimit_pass(&o->output.rl_drop, SN_LOG_RATE_MS, &suppressed))
        sn_log_warn("output '%s' cannot keep up: %zu events dropped "
                    "(when_full: drop; counted in "
                    "sentineld_output_dropped_total)%s",
                    o->name, n, suppressed ? " (more suppressed)" : "");
}

static _Thread_local bool detecting;

bool
sn_worker_detecting(void)
{
    return detecting;
}

static void
process(struct sn_worker *wk, struct sn_batch *b)
{
    struct sn_pipeline *pl = wk->pl;
    struct sn_instance *in = b->input;
    size_t kept = 0, n = b->n;

    for (size_t i = 0; i < n; i++) {
        struct sn_event *ev = &b->events[i];

        if (!parse_one(in, ev, &b->arena))
            continue;
        if (kept != i)
            b->events[kept] = *ev;
        kept++;
    }
    b->n = kept;
    sn_counter_add(in->c_parsed, kept);
    if (kept != n)
        sn_counter_add(in->c_rejected, n - kept);
    if (kept == 0)
        return;
    for (size_t i = 0; i < pl->n_insts; i++) {
        struct sn_instance *d = &pl->insts[i];
        enum sn_status rc;

        /* The loader refused detectors without detect(). */
        if (d->kind != SN_KIND_DETECTOR || !wants(d, in))
            continue;
        detecting = true;
        rc = d->p->detect(d->state, b);
        detecting = false;
        if (rc != SN_OK)
            detect_failed(d, rc, b->n);
    }
    /* Rendered here, on as many threads as there are workers, instead of
     * on each output's single thread; an event too large to render is
     * left for the output to report. */
    /* Replayed records the outputs had before the restart rebuild the
     * detectors' windows only (docs/journal.md). */
    if (b->detect_only)
        return;
    if (pl->render_json)
        for (size_t i = 0; i < b->n; i++)
            sn_event_render_json(&b->events[i], &wk->json);
    for (size_t i = 0; i < pl->n_insts; i++) {
        struct sn_instance *o = &pl->insts[i];
        if (o->kind == SN_KIND_OUTPUT && o->output.othread_started &&
            wants(o, in)) {
            if (o->conf->drop_when_full &&
                sn_queue_len(&o->output.q) >= SN_OUTPUT_DROP_QUEUE) {
                output_behind(o, b->n);
                continue;
            }
            atomic_fetch_add(&b->refs, 1);
            sn_queue_push(&o->output.q, b);
        }
    }
}

void *
sn_worker_main(void *arg)
{
    struct sn_worker *wk = arg;
    struct sn_batch *b;

    while ((b = sn_queue_pop(&wk->q)) != NULL) {
        sn_counter_add(wk->c_records, b->n);
        process(wk, b);
        sn_batch_unref(b);
    }
    return NULL;
}

void
sn_worker_submit(struct sn_pipeline *pl, unsigned worker, struct sn_batch *b)
{
    sn_queue_push(&pl->workers[worker % pl->n_workers].q, b);
}

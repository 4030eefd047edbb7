/*
 * The output port: what a feeder outside the pipeline (the incident
 * relay) sees of an output that takes incidents — its name, its
 * deliver(), its summary counters — and where the feeder plugs in so the
 * output's acknowledgements reach it. The pipeline fills one port per
 * such output (struct sn_output_rt in pipeline.h); the feeder never
 * reads the plugin instance behind it, so the incident layer depends on
 * this header only, not on the pipeline's runtime structs
 * (scripts/check-includes.sh keeps it so).
 */
#ifndef SN_PIPELINE_OUTPORT_H
#define SN_PIPELINE_OUTPORT_H

#include <stddef.h>
#include <stdint.h>

#include <sentineld/plugin.h>

struct sn_counter;

struct sn_outport {
    /* Filled by the pipeline (or a test's stand-in output). */
    const char *name; /* the instance name: cursor and dead-letter key */
    /* The plugin's deliver() and the state to call it with; state is set
     * once the output's init() ran, before any feeder starts. */
    enum sn_out_result (*deliver)(void *state, const struct sn_doc *docs,
                                  size_t n, uint64_t token, char *why,
                                  size_t why_len);
    void *state;
    struct sn_counter *c_out;    /* documents delivered */
    struct sn_counter *c_retry;  /* batch deliveries retried */
    struct sn_counter *c_failed; /* documents dead-lettered */

    /* Set by the feeder that plugs in (NULL while none did): the output's
     * acknowledgements (host->output_ack) go to ack(feeder, ...), and the
     * pipeline calls release(port) once the output stopped, when no
     * acknowledgement can come any more. */
    void *feeder;
    void (*ack)(void *feeder, uint64_t token, enum sn_out_result result,
                const char *reason);
    void (*release)(struct sn_outport *port);
};

#endif

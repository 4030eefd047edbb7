/*
 * in_http's state, shared by its lifecycle (in_http.c) and its route
 * POST /api/v1/events (in_http_post.c). Everything but `stop` is touched
 * on the control thread only (the route's handler, start, stop).
 */
#ifndef SN_IN_HTTP_H
#define SN_IN_HTTP_H

#include <pthread.h>
#include <stdbool.h>

#include <sentineld/plugin.h>

struct ih_state {
    const struct sn_host *host;
    struct sn_instance *inst;
    struct sn_emitter *em; /* made on the first request, freed at stop */
    struct sn_counter *c_events, *c_rejected;
    pthread_mutex_t lock; /* stop and its condition, for run() */
    pthread_cond_t cond;
    bool stop;
};

/* POST /api/v1/events: JSON events into the pipeline (in_http_post.c). */
void ih_post_events(void *state, struct sn_http_req *rq);

#endif

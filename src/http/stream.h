/*
 * The live feed: incident changes pushed to Server-Sent Events and
 * WebSocket clients. One timer on the control thread polls the store's
 * feed (incidents.h) into a ring of recent changes (stream_ring.h);
 * each client takes its next batch from there once its previous one is
 * written out, so a burst never piles up in its buffer. A client further
 * behind than the ring is told of a "gap" (and reloads); one that writes
 * nothing out for SN_STREAM_STALL_MS is told (SSE event "dropped",
 * WebSocket close code 4001) and dropped, so a slow reader never holds
 * memory or the pipeline. Clients resume with Last-Event-ID (the feed's
 * seq); a resume that cannot be served in full is announced as a "gap"
 * so no loss goes unnoticed. docs/api.md.
 */
#ifndef SN_HTTP_STREAM_H
#define SN_HTTP_STREAM_H

struct sn_http;
struct sn_req;
struct sn_stream;

struct sn_stream *sn_stream_new(struct sn_http *h);
void sn_stream_free(struct sn_stream *st);
/* Poll the feed now (after an action, so its client sees it at once). */
void sn_stream_poll(struct sn_http *h);

/* Route handlers: GET /api/v1/stream (SSE), GET /api/v1/ws (WebSocket). */
void sn_stream_sse(struct sn_req *rq);
void sn_stream_ws(struct sn_req *rq);

#endif

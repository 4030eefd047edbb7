/*
 * The HTTP listener's connections, which evhttp (libevent 2.1) neither
 * counts nor bounds: a cap on open connections, a header deadline and a
 * body deadline that trickled bytes do not extend (slowloris), and
 * accepting that pauses instead of spinning when descriptors run out.
 * evhttp 2.1 has no per-connection hook, so connections are tracked
 * through the bufferevent it asks us for (evhttp_set_bevcb), on which we
 * hold a reference; docs/internals/http.md explains the scheme. Control
 * thread only.
 */
#ifndef SN_HTTP_CONNS_H
#define SN_HTTP_CONNS_H

#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/listener.h>

struct sn_http;
struct sn_http_conns;

/* For h (its conf, metrics and base); NULL when out of memory. The cap
 * is conf.max_connections, lowered to half the descriptor limit. */
struct sn_http_conns *sn_http_conns_new(struct sn_http *h);
/* After evhttp_free: drops the references still held. NULL is fine. */
void sn_http_conns_free(struct sn_http_conns *cs);

/* evhttp's bevcb: a new connection's bufferevent (TLS when h has a
 * context), tracked. At the cap the oldest connection still sending its
 * request is closed to make room; when none is, the new one is. */
struct bufferevent *sn_http_conns_bev(struct event_base *base, void *h);

/* Watch the listener for accept errors (descriptor exhaustion). */
void sn_http_conns_listener(struct sn_http_conns *cs,
                            struct evconnlistener *lev);

/* A whole request arrived (the handler runs now): no deadline until its
 * answer is complete; then the next request's header deadline starts.
 * Streams (SSE, WebSocket) stay without deadline. */
void sn_http_conns_request(struct sn_http_conns *cs,
                           struct evhttp_request *req);

#endif

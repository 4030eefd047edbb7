/*
 * The control thread's HTTP listener (libevent evhttp): /health and
 * /metrics for now; the API and console (issue #8) hang off the same
 * server. Runs on the control thread's event base only.
 */
#ifndef SN_HTTP_HTTP_H
#define SN_HTTP_HTTP_H

#include <event2/event.h>

#include "core/error.h"
#include "metrics/metrics.h"

struct sn_http;

/* Bind listen ("host:port", IPv6 as "[::1]:8514") on base. */
enum sn_status sn_http_start(struct event_base *base, const char *listen,
                             struct sn_metrics *metrics, struct sn_http **out,
                             struct sn_error *err);
void sn_http_free(struct sn_http *h);

#endif

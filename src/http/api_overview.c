/*
 * GET /api/v1/incidents/summary: the console overview's incident
 * aggregates (open by severity, opened per hour, top rules and sources),
 * read from counters the store keeps with every incident change, so the
 * page costs the same with 10,000 incidents as with 10. Event rates, drops and backlogs come from
 * /metrics and detection health from /health; this file adds nothing
 * the other endpoints already say.
 */
#include "core/clock.h"
#include "http/http_int.h"
#include "incident/incidents.h"

void
sn_api_incidents_summary(struct sn_req *rq)
{
    struct sn_incidents *inc;
    struct sn_error err;
    struct sn_buf b;

    inc = sn_http_store(rq->h, &err);
    if (inc == NULL) {
        sn_reply_error(rq, 503, "store_unavailable",
                       "the incident store cannot be opened: %s", err.msg);
        return;
    }
    sn_buf_init(&b, 1u << 20);
    sn_error_clear(&err);
    if (sn_incidents_summary_json(inc, sn_clock_wall_ns(), &b, &err) == SN_OK &&
        sn_buf_putc(&b, '\n') == SN_OK)
        sn_reply_json(rq, 200, &b);
    else
        sn_reply_error(rq, 500, "store_error", "%s", err.msg);
    sn_buf_fini(&b);
}

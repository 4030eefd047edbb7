/*
 * POST /api/v1/rules/reload: the SIGHUP path (configuration and rule
 * files read again, a new pipeline swapped in), answered with its
 * outcome. The rules a detector runs are the detector's own route
 * (docs/plugins.md, "HTTP routes").
 */
#include "http/http_int.h"

void
sn_api_rules_reload(struct sn_req *rq)
{
    struct sn_http *h = rq->h;
    bool ok;

    sn_req_log(rq, SN_LOG_INFO, "reload requested by %s", rq->actor);
    if (h->env.reload == NULL) {
        sn_reply_error(rq, 501, "not_supported", "reload is not available");
        return;
    }
    ok = h->env.reload(h->env.reload_arg);
    sn_http_audit(rq, "reload", "configuration and rules", ok ? "ok" : "failed",
                  ok ? NULL : "invalid configuration or rules; see the log");
    if (!ok) {
        sn_reply_error(rq, 422, "reload_failed",
                       "the new configuration or rules are invalid (see the "
                       "daemon log); the running pipeline is unchanged");
        return;
    }
    sn_reply(rq, 200, "application/json", "{\"reloaded\":true}\n", 18);
}

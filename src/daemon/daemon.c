/* Control loop, reload and privilege drop; see daemon.h. */
/* _DEFAULT_SOURCE: initgroups(3) is a BSD interface. */
#define _DEFAULT_SOURCE
#include "daemon/daemon.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config/config.h"
#include "core/log.h"
#include "daemon/notify.h"
#include "daemon/privsep.h"
#include "http/http.h"
#include "incident/audit.h"
#include "incident/incidents.h"
#include "incident/manager.h"
#include "incident/relay.h"
#include "journal/journal.h"
#include "pipeline/pipeline.h"

struct sn_daemon {
    const struct sn_daemon_opts *o;
    struct event_base *base;
    struct sn_metrics *metrics;
    struct sn_pipeline *pl;
    struct sn_http *http;
    struct sn_manager *mgr; /* outlives reloads, like metrics */
    /* The ingest journal, opened with the first configuration (a reload
     * keeps it; enabling or disabling it needs a restart). */
    struct sn_journal *journal;
    bool journal_opened;
    char *store_path;
    struct event *inputs_done;
    struct sn_counter *c_reloads, *c_reload_failures;
    char *db_path;
    int exit_code;
    /* --user: root prepares the state directory for this user before
     * every start-up step that writes there, then drops to it. */
    struct sn_privsep_user user;
    bool has_user;
};

static void
log_diags(const struct sn_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct sn_diag *it = &d->items[i];
        sn_log(it->level == SN_DIAG_ERROR ? SN_LOG_ERROR : SN_LOG_WARN,
               "%s:%d:%d: %s", it->file ? it->file : "-", it->line, it->col,
               it->msg);
    }
}

static void
apply_logging(const struct sn_config *c)
{
    sn_log_setup((enum sn_log_level)c->daemon.log_level,
                 c->daemon.log_target == 1);
}

static void
inputs_done_cb(void *arg)
{
    struct sn_daemon *d = arg;

    /* Called from an input thread: wake the control loop. */
    event_active(d->inputs_done, EV_READ, 0);
}

/* Incidents are needed when something makes or takes them. */
static bool
wants_incidents(const struct sn_pipeline *pl)
{
    for (size_t i = 0; i < pl->n_insts; i++)
        if (pl->insts[i].kind == SN_KIND_DETECTOR ||
            (pl->insts[i].kind == SN_KIND_OUTPUT &&
             pl->insts[i].output.takes_incidents))
            return true;
    return false;
}

static enum sn_status
ensure_manager(struct sn_daemon *d, const struct sn_config *cfg)
{
    const struct sn_incidents_conf *ic = &cfg->incidents;
    char path[4096];
    struct sn_error err;

    if (ic->store != NULL)
        snprintf(path, sizeof(path), "%s", ic->store);
    else
        snprintf(path, sizeof(path), "%s/sentineld.db", cfg->daemon.state_dir);
    if (d->mgr != NULL) {
        if (strcmp(path, d->store_path) != 0)
            sn_log_warn("the incident store stays %s until a restart "
                        "(configuration now says %s)",
                        d->store_path, path);
        return SN_OK;
    }
    /* The state directory is ours: make it when missing (not its
     * parents, which an administrator chose), 0750. */
    sn_error_clear(&err);
    if (ic->store == NULL &&
        sn_privsep_state_dir(cfg->daemon.state_dir, NULL, &err) != SN_OK) {
        sn_log_error("%s (set daemon.state_dir or incidents.store)", err.msg);
        return SN_EIO;
    }
    sn_error_clear(&err);
    if (sn_manager_new(path, ic, d->metrics, &d->mgr, &err) != SN_OK ||
        sn_manager_start(d->mgr, &err) != SN_OK) {
        sn_log_error("%s; refusing to run without a writable incident "
                     "store",
                     err.msg);
        sn_manager_free(d->mgr);
        d->mgr = NULL;
        return SN_EIO;
    }
    d->store_path = strdup(path);
    sn_log_info("incident store %s", path);
    return SN_OK;
}

/* sn_pipeline_stop calls this after the detectors stopped: every signal
 * they emitted is committed, then each relay delivers what is
 * committed before its output stops. */
static void
before_outputs_stop(void *arg, struct sn_pipeline *pl)
{
    struct sn_daemon *d = arg;

    if (d->mgr != NULL) {
        sn_manager_flush(d->mgr);
        sn_manager_release_held(d->mgr);
    }
    for (size_t i = 0; i < pl->n_insts; i++)
        if (pl->insts[i].kind == SN_KIND_OUTPUT &&
            pl->insts[i].output.port.feeder != NULL)
            sn_relay_stop(&pl->insts[i].output.port,
                          pl->cfg->daemon.shutdown_timeout_ms);
}

static enum sn_status
start_relays(struct sn_daemon *d, struct sn_pipeline *pl)
{
    struct sn_error err;

    for (size_t i = 0; i < pl->n_insts; i++) {
        struct sn_instance *in = &pl->insts[i];
        if (in->kind != SN_KIND_OUTPUT || !in->output.takes_incidents ||
            !in->started || d->mgr == NULL)
            continue;
        sn_error_clear(&err);
        if (sn_relay_start(&in->output.port, d->mgr, d->metrics, &err) !=
            SN_OK) {
            sn_log_error("%s", err.msg);
            return SN_EIO;
        }
    }
    return SN_OK;
}

/* The pipeline's after_outputs_start hook. */
static enum sn_status
start_relays_hook(void *arg, struct sn_pipeline *pl)
{
    return start_relays(arg, pl);
}

/* The first configuration opens the journal (recovering a torn tail) and
 * its pipeline replays it; later ones share it. */
static enum sn_status
attach_journal(struct sn_daemon *d, struct sn_pipeline *pl)
{
    const struct sn_journal_conf *jc = &pl->cfg->daemon.journal;
    struct sn_error err;

    if (d->journal_opened) {
        if (jc->enabled != (d->journal != NULL))
            sn_log_warn("daemon.journal.enabled changed: takes effect at "
                        "the next restart");
        pl->journal = d->journal;
        return SN_OK;
    }
    d->journal_opened = true;
    if (!jc->enabled)
        return SN_OK;
    sn_error_clear(&err);
    if (sn_journal_open(jc, pl->cfg->daemon.state_dir, d->metrics,
                        &d->journal, &err) != SN_OK) {
        sn_log_error("%s", err.msg[0] ? err.msg : "journal: out of memory");
        d->journal_opened = false;
        return SN_EIO;
    }
    pl->journal = d->journal;
    pl->journal_replay = true;
    return SN_OK;
}

static enum sn_status
build(struct sn_daemon *d, struct sn_pipeline **out)
{
    struct sn_diags diags;
    struct sn_config *cfg;
    enum sn_status rc;

    sn_diags_init(&diags);
    rc = sn_config_load(d->o->config_path, &cfg, &diags);
    /* Still root: everything the pipeline creates in the state
     * directory from here on is created in the user's directory. */
    if (rc == SN_OK && d->has_user && geteuid() == 0 &&
        cfg->daemon.state_dir != NULL) {
        struct sn_error err;
        sn_error_clear(&err);
        if (sn_privsep_state_dir(cfg->daemon.state_dir, &d->user, &err) !=
            SN_OK) {
            log_diags(&diags);
            sn_diags_fini(&diags);
            sn_log_error("%s", err.msg);
            sn_config_free(cfg);
            return SN_EIO;
        }
    }
    if (rc == SN_OK)
        rc = sn_pipeline_build(cfg, d->metrics, out, &diags);
    log_diags(&diags);
    sn_diags_fini(&diags);
    if (rc == SN_OK) {
        (*out)->on_inputs_done = d->o->oneshot ? inputs_done_cb : NULL;
        (*out)->on_inputs_done_arg = d;
        if (wants_incidents(*out) && ensure_manager(d, (*out)->cfg) != SN_OK) {
            sn_pipeline_free(*out);
            *out = NULL;
            return SN_EIO;
        }
        if (d->mgr != NULL) {
            sn_manager_set_escalation(d->mgr,
                                      &(*out)->cfg->incidents.escalation);
            (*out)->signal_sink = sn_manager_sink;
            (*out)->signals_stored = sn_manager_stored;
            (*out)->incidents_partition_export = sn_manager_partition_export;
            (*out)->incidents_partition_import = sn_manager_partition_import;
            (*out)->incidents_partition_release = sn_manager_partition_release;
            (*out)->signal_sink_arg = d->mgr;
        }
        (*out)->before_outputs_stop = before_outputs_stop;
        (*out)->before_outputs_stop_arg = d;
        (*out)->after_outputs_start = start_relays_hook;
        (*out)->after_outputs_start_arg = d;
        rc = attach_journal(d, *out);
        if (rc != SN_OK) {
            sn_pipeline_free(*out);
            *out = NULL;
        }
    }
    return rc;
}

/* SIGHUP and POST /api/v1/rules/reload; true when the new configuration
 * runs. */
static bool
reload(struct sn_daemon *d)
{
    struct sn_pipeline *next = NULL;
    struct sn_error err;

    sn_log_info("reloading %s", d->o->config_path);
    sn_counter_add(d->c_reloads, 1);
    if (build(d, &next) != SN_OK) {
        sn_counter_add(d->c_reload_failures, 1);
        sn_log_error("reload failed: the new configuration is invalid; the "
                     "running pipeline is unchanged");
        return false;
    }
    sn_pipeline_stop(d->pl);
    sn_error_clear(&err);
    if (sn_pipeline_start(next, &err) != SN_OK) {
        sn_counter_add(d->c_reload_failures, 1);
        sn_log_error("reload failed: %s; restarting the previous pipeline",
                     err.msg);
        sn_pipeline_free(next);
        sn_error_clear(&err);
        if (sn_pipeline_start(d->pl, &err) != SN_OK) {
            sn_log_error("cannot restart the previous pipeline: %s", err.msg);
            d->exit_code = 1;
            event_base_loopbreak(d->base);
        }
        return false;
    }
    sn_pipeline_free(d->pl);
    d->pl = next;
    apply_logging(next->cfg);
    sn_log_info("reload complete");
    return true;
}

static bool
reload_cb(void *arg)
{
    return reload(arg);
}

/* The incident store the API reads and acts on: incidents.store, or
 * <state_dir>/sentineld.db, as ensure_manager opens it. */
static char *
db_path(const struct sn_config *c)
{
    const char *dir = c->daemon.state_dir ? c->daemon.state_dir : ".";
    size_t n = strlen(dir) + sizeof("/sentineld.db");
    char *p;

    if (c->incidents.store != NULL)
        return strdup(c->incidents.store);
    p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/sentineld.db", dir);
    return p;
}

/* A SIGHUP reload in the audit trail (the API's reload is audited with
 * its token by the HTTP side). Only where an incident store exists: a
 * pipeline without one keeps no audit. */
static void
audit_reload(struct sn_daemon *d, bool ok)
{
    struct sn_incidents *inc = NULL;
    struct sn_error err;

    if (d->db_path == NULL || access(d->db_path, F_OK) != 0)
        return;
    sn_error_clear(&err);
    if (sn_incidents_open(d->db_path, false, &inc, &err) != SN_OK ||
        sn_incidents_audit(inc,
                           &(struct sn_audit_entry){
                               .actor = "signal:SIGHUP",
                               .action = "reload",
                               .target = "configuration and rules",
                               .result = ok ? "ok" : "failed",
                               .details = ok ? NULL
                                             : "invalid configuration or "
                                               "rules; see the log" },
                           &err) != SN_OK)
        sn_log_error("reload not audited: %s", err.msg);
    sn_incidents_close(inc);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct sn_daemon *d = arg;

    (void)what;
    if (sig == SIGHUP) {
        bool ok;
        sn_log_info("SIGHUP");
        /* systemd waits for READY=1 again after RELOADING=1 (ExecReload
         * then returns once the reload finished, kept or rejected). */
        sn_notify("RELOADING=1");
        ok = reload(d);
        audit_reload(d, ok);
        sn_notify("READY=1");
        return;
    }
    sn_log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    sn_notify("STOPPING=1");
    event_base_loopbreak(d->base);
}

static void
on_inputs_done(evutil_socket_t fd, short what, void *arg)
{
    struct sn_daemon *d = arg;

    (void)fd;
    (void)what;
    sn_log_info("every input has finished: stopping");
    event_base_loopbreak(d->base);
}

static void
log_summary(struct sn_daemon *d)
{
    struct sn_pipeline *pl = d->pl;

    for (size_t i = 0; i < pl->n_insts; i++) {
        struct sn_instance *in = &pl->insts[i];
        if (in->kind == SN_KIND_INPUT)
            sn_log_info("input '%s': %llu received, %llu parsed, %llu "
                        "rejected, %llu dropped",
                        in->name, (unsigned long long)sn_counter_get(in->c_in),
                        (unsigned long long)sn_counter_get(in->c_parsed),
                        (unsigned long long)sn_counter_get(in->c_rejected),
                        (unsigned long long)sn_counter_get(in->c_dropped));
        else if (in->kind == SN_KIND_OUTPUT)
            sn_log_info("output '%s': %llu delivered, %llu failed, %llu "
                        "dropped at stop",
                        in->name, (unsigned long long)sn_counter_get(in->c_out),
                        (unsigned long long)sn_counter_get(in->c_failed),
                        (unsigned long long)sn_counter_get(in->c_dropped));
    }
}

int
sn_daemon_run(const struct sn_daemon_opts *o)
{
    struct sn_daemon d;
    struct sn_error err;
    struct event *sigs[3] = { NULL, NULL, NULL };
    static const int signos[3] = { SIGTERM, SIGINT, SIGHUP };
    int rc = 0;

    memset(&d, 0, sizeof(d));
    d.o = o;
    sn_error_clear(&err);
    if (o->user != NULL) {
        if (sn_privsep_lookup(o->user, &d.user, &err) != SN_OK) {
            sn_log_error("%s", err.msg);
            return 1;
        }
        if (geteuid() != 0 && geteuid() != d.user.uid) {
            sn_log_error("--user %s needs root (running as uid %u)", o->user,
                         (unsigned)geteuid());
            return 1;
        }
        d.has_user = geteuid() == 0;
    }
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();
    d.metrics = sn_metrics_new();
    d.base = event_base_new();
    if (d.metrics == NULL || d.base == NULL) {
        sn_log_error("out of memory at startup");
        return 1;
    }
    d.c_reloads = sn_metrics_counter(d.metrics, "sentineld_reloads_total", NULL,
                                     "configuration reloads attempted");
    d.c_reload_failures =
        sn_metrics_counter(d.metrics, "sentineld_reload_failures_total", NULL,
                           "reloads rejected; the old pipeline kept running");
    switch (build(&d, &d.pl)) {
    case SN_OK:
        break;
    case SN_EIO: /* the incident store, already logged */
        rc = 1;
        goto out;
    default:
        rc = 2;
        goto out;
    }
    apply_logging(d.pl->cfg);
    sn_error_clear(&err);
    d.db_path = db_path(d.pl->cfg);
    if (d.pl->cfg->http.enabled) {
        struct sn_http_env env = { .metrics = d.metrics,
                                   .pl = &d.pl,
                                   .reload = reload_cb,
                                   .reload_arg = &d,
                                   .state_dir = d.pl->cfg->daemon.state_dir,
                                   .db_path = d.db_path,
                                   .four_eyes =
                                       d.pl->cfg->incidents.four_eyes };
        if (d.db_path == NULL || sn_http_start(d.base, &d.pl->cfg->http, &env,
                                               &d.http, &err) != SN_OK) {
            sn_log_error("%s", d.db_path ? err.msg : "out of memory");
            rc = 1;
            goto out;
        }
    }
    /* Before the input threads start: with --oneshot a short input can
     * finish, and activate this event, before sn_pipeline_start returns. */
    d.inputs_done = event_new(d.base, -1, 0, on_inputs_done, &d);
    if (d.inputs_done == NULL) {
        sn_log_error("out of memory at startup");
        rc = 1;
        goto out;
    }
    if (sn_pipeline_start(d.pl, &err) != SN_OK) {
        sn_log_error("%s", err.msg);
        rc = 1;
        goto out;
    }
    /* Written as root (its directory, /run, is root's), owned by the
     * user so the unprivileged daemon can clear it at exit. */
    if (o->pidfile != NULL &&
        sn_privsep_pidfile(o->pidfile, d.has_user ? &d.user : NULL, &err) !=
            SN_OK) {
        sn_log_error("%s", err.msg);
        rc = 1;
        goto out;
    }
    /* Ports are bound and files open: privileges are no longer needed.
     * What start-up created in the state directory as root becomes the
     * user's first (a reload or checkpoint rewrites it). */
    if (d.has_user) {
        if (d.pl->cfg->daemon.state_dir != NULL &&
            sn_privsep_state_dir(d.pl->cfg->daemon.state_dir, &d.user, &err) !=
                SN_OK) {
            sn_log_error("%s", err.msg);
            rc = 1;
            goto out;
        }
        if (sn_privsep_drop(&d.user, &err) != SN_OK) {
            sn_log_error("%s", err.msg);
            rc = 1;
            goto out;
        }
        sn_log_info("running as %s (uid %u)", d.user.name,
                    (unsigned)d.user.uid);
    }
    for (int i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(d.base, signos[i], on_signal, &d);
        if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) != 0) {
            sn_log_error("cannot install signal handlers");
            rc = 1;
            goto out;
        }
    }
    sn_log_info("sentineld %s running with %s", PACKAGE_VERSION,
                o->config_path);
    /* Every input listens and the HTTP API is up: tell systemd (Type=notify
     * units start their dependants, e.g. rsyslog forwarding, only now). */
    if (sn_notify("READY=1") < 0)
        sn_log_warn("NOTIFY_SOCKET: cannot notify readiness: %s",
                    strerror(errno));
    event_base_dispatch(d.base);
    rc = d.exit_code;
out:
    if (d.pl != NULL) {
        sn_pipeline_stop(d.pl);
        log_summary(&d);
    }
    sn_pipeline_free(d.pl);
    /* After the pipeline: every batch it journaled is done. */
    sn_journal_free(d.journal);
    /* After the pipeline: its detectors are gone, the queue is drained. */
    sn_manager_free(d.mgr);
    free(d.store_path);
    sn_http_free(d.http);
    for (int i = 0; i < 3; i++)
        if (sigs[i] != NULL)
            event_free(sigs[i]);
    if (d.inputs_done != NULL)
        event_free(d.inputs_done);
    if (o->pidfile != NULL && rc == 0)
        sn_privsep_pidfile_clear(o->pidfile);
    event_base_free(d.base);
    sn_metrics_free(d.metrics);
    free(d.db_path);
    if (rc == 0)
        sn_log_info("stopped");
    return rc;
}

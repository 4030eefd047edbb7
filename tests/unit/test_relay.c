/*
 * The incident relay's life against its output's acknowledgements: an
 * output acknowledges from its own thread (out_kafka's delivery
 * reports), and may do so while the relay is being stopped, after it
 * gave up waiting at the drain deadline. The relay must stay valid until
 * the output stopped (sn_relay_free); under ASan a relay freed by
 * sn_relay_stop shows here as a heap-use-after-free.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "incident/manager.h"
#include "incident/relay.h"
#include "pipeline/pipeline.h"
#include "sn_test.h"

static _Atomic uint64_t last_token;
static _Atomic bool acking;

/* Never acknowledges itself: the acker thread does, as an output's
 * delivery-report thread would. */
static enum sn_out_result
pending_deliver(void *state, const struct sn_doc *docs, size_t n,
                uint64_t token, char *why, size_t why_len)
{
    (void)state;
    (void)docs;
    (void)n;
    (void)why;
    (void)why_len;
    atomic_store(&last_token, token);
    return SN_OUT_PENDING;
}

static void *
acker(void *arg)
{
    struct sn_instance *out = arg;

    while (atomic_load(&acking))
        sn_output_ack(out, atomic_load(&last_token), SN_OUT_RETRY, "late");
    return NULL;
}

static void
nap_ms(long ms)
{
    struct timespec ts = { 0, ms * 1000000L };

    nanosleep(&ts, NULL);
}

SN_TEST(ack_while_the_relay_stops)
{
    char dir[] = "/tmp/sn-relay-test.XXXXXX", path[256], cmd[300];
    struct sn_incidents_conf conf = { 0 };
    struct sn_metrics *metrics = sn_metrics_new();
    struct sn_plugin plugin = { 0 };
    struct sn_instance out;
    struct sn_manager *m;
    struct sn_error err;
    const char *sig = "{\"type\":\"signal\",\"rule\":\"r\",\"key\":{\"k\":1}}";

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/relay.db", dir);
    conf.retention_ms = 86400000;
    conf.outbox_keep_ms = 600000;
    conf.queue = 64;
    conf.batch = 64;
    conf.evidence_max = 10;
    sn_error_clear(&err);
    CHECK_EQ(sn_manager_new(path, &conf, metrics, &m, &err), SN_OK);
    CHECK_EQ(sn_manager_start(m, &err), SN_OK);
    memset(&out, 0, sizeof(out));
    plugin.name = "out_pending";
    plugin.deliver = pending_deliver;
    out.p = &plugin;
    out.name = "pending";
    out.kind = SN_KIND_OUTPUT;
    out.output.takes_incidents = true;
    sn_output_port_init(&out); /* as the pipeline does after init() */
    for (int i = 0; i < 40; i++) {
        pthread_t t;
        CHECK_EQ(sn_relay_start(&out.output.port, m, metrics, &err), SN_OK);
        if (i == 0) {
            /* One version after the relay's new cursor, which no
             * acknowledgement ever advances: delivered again each time. */
            CHECK_EQ(sn_manager_sink(m, NULL, sig, strlen(sig)), SN_OK);
            sn_manager_flush(m);
        }
        atomic_store(&acking, true);
        CHECK_EQ(pthread_create(&t, NULL, acker, &out), 0);
        nap_ms(5);
        /* No time to drain: the relay gives up on the pending batch
         * while acknowledgements keep coming. */
        sn_relay_stop(&out.output.port, 0);
        CHECK(out.output.port.feeder != NULL);
        nap_ms(1);
        atomic_store(&acking, false); /* the output's stop() */
        pthread_join(t, NULL);
        sn_relay_free(&out.output.port);
        CHECK(out.output.port.feeder == NULL);
    }
    sn_manager_free(m);
    sn_metrics_free(metrics);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK_EQ(system(cmd), 0);
}

SN_TEST_MAIN(SN_T(ack_while_the_relay_stops))

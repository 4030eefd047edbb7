/*
 * kafka_broker: a Kafka cluster for tests, built on librdkafka's mock
 * cluster (rdkafka_mock.h): the real Kafka protocol on loopback, in memory,
 * no JVM. Prints the bootstrap address on stdout, then runs until SIGTERM
 * or SIGINT. Topics are created on demand (auto.create.topics) or up front
 * with -t NAME:PARTITIONS. Outage simulation (a mock cluster cannot survive
 * its process): SIGUSR1 takes every broker down, SIGUSR2 brings them back,
 * with the data intact. tests/tools/README.md.
 *
 *   kafka_broker [-b BROKERS] [-t TOPIC:PARTITIONS]... [-p PARTITIONS]
 */
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_TOPICS 32

/* Set by the signal handlers, acted on by the main loop. */
static volatile sig_atomic_t g_stop, g_down, g_up;

static void
on_signal(int sig)
{
    if (sig == SIGUSR1)
        g_down = 1;
    else if (sig == SIGUSR2)
        g_up = 1;
    else
        g_stop = 1;
}

static void
usage(void)
{
    fprintf(stderr, "usage: kafka_broker [-b BROKERS] [-p DEFAULT_PARTITIONS] "
                    "[-t TOPIC:PARTITIONS]...\n");
    exit(2);
}

static void
set_brokers(rd_kafka_mock_cluster_t *mc, int n, int up)
{
    for (int i = 1; i <= n; i++) {
        rd_kafka_resp_err_t e = up ? rd_kafka_mock_broker_set_up(mc, i)
                                   : rd_kafka_mock_broker_set_down(mc, i);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            fprintf(stderr, "kafka_broker: broker %d %s: %s\n", i,
                    up ? "up" : "down", rd_kafka_err2str(e));
    }
    fprintf(stderr, "kafka_broker: all %d brokers %s\n", n,
            up ? "up" : "down");
}

int
main(int argc, char **argv)
{
    const char *topics[MAX_TOPICS];
    int parts[MAX_TOPICS];
    int n_topics = 0, n_brokers = 3, def_parts = 1, opt;
    char errstr[512];
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    struct sigaction sa;
    const struct timespec tick = { 0, 20 * 1000 * 1000 };

    while ((opt = getopt(argc, argv, "b:p:t:h")) != -1) {
        switch (opt) {
        case 'b':
            n_brokers = atoi(optarg);
            if (n_brokers < 1 || n_brokers > 16)
                usage();
            break;
        case 'p':
            def_parts = atoi(optarg);
            if (def_parts < 1)
                usage();
            break;
        case 't': {
            char *colon = strrchr(optarg, ':');
            if (n_topics == MAX_TOPICS)
                usage();
            parts[n_topics] = colon ? atoi(colon + 1) : def_parts;
            if (colon)
                *colon = '\0';
            if (parts[n_topics] < 1 || optarg[0] == '\0')
                usage();
            topics[n_topics++] = optarg;
            break;
        }
        default:
            usage();
        }
    }

    /* The mock cluster lives inside a client handle; a producer is the
     * lightest one. The handle itself never produces. */
    conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "kafka_broker: %s\n", errstr);
        return 1;
    }
    mc = rd_kafka_mock_cluster_new(rk, n_brokers);
    if (mc == NULL) {
        fprintf(stderr, "kafka_broker: cannot create the mock cluster\n");
        return 1;
    }
    for (int i = 0; i < n_topics; i++) {
        rd_kafka_resp_err_t e =
            rd_kafka_mock_topic_create(mc, topics[i], parts[i], n_brokers < 3
                                                                  ? n_brokers
                                                                  : 3);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "kafka_broker: topic %s: %s\n", topics[i],
                    rd_kafka_err2str(e));
            return 1;
        }
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);

    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    while (!g_stop) {
        if (g_down) {
            g_down = 0;
            set_brokers(mc, n_brokers, 0);
        }
        if (g_up) {
            g_up = 0;
            set_brokers(mc, n_brokers, 1);
        }
        nanosleep(&tick, NULL);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}

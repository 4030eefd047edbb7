/*
 * Test tool: write one open incident into a store the way the incident
 * manager does (store.h), with an explanation shaped like a signal
 * (docs/correlation.md) including a rule trace, and print its id. Lets
 * the API and console tests run before detectors feed the manager.
 * usage: seed_incident DB RULE_ID SEVERITY(0-4) TITLE [KEY_IP [COUNT]]
 * COUNT > 1 writes that many (keys KEY_IP#n) in one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "incident/incident.h"
#include "incident/store.h"

int
main(int argc, char **argv)
{
    struct sn_store *s;
    struct sn_error err;
    struct sn_incident inc;
    struct sn_buf scratch, key, ex, evi;
    const char *ip = argc > 5 ? argv[5] : "203.0.113.7";
    int64_t now = sn_clock_wall_ns(), first = now - 90LL * 1000000000;

    if (argc < 5) {
        fprintf(stderr, "usage: seed_incident DB RULE SEV TITLE [IP]\n");
        return 2;
    }
    sn_error_clear(&err);
    if (sn_store_open(argv[1], false, &s, &err) != SN_OK) {
        fprintf(stderr, "seed_incident: %s\n", err.msg);
        return 1;
    }
    sn_buf_init(&scratch, 1 << 20);
    sn_buf_init(&key, 4096);
    sn_buf_init(&ex, 1 << 16);
    sn_buf_init(&evi, 1 << 16);
    sn_buf_printf(&key, "{\"source.ip\":\"%s\"}", ip);
    sn_buf_printf(
        &ex,
        "{\"type\":\"signal\",\"rule\":\"%s\",\"kind\":\"threshold\","
        "\"state\":\"firing\",\"severity\":\"%s\",\"time_ns\":%lld,"
        "\"key\":{\"source.ip\":\"%s\"},\"repeat\":1,"
        "\"window\":{\"length_ns\":120000000000,\"count\":12,"
        "\"threshold\":10,\"first_ns\":%lld,\"last_ns\":%lld},"
        "\"trace\":[{\"expr\":\"appname == \\\"sshd\\\"\",\"pass\":true,"
        "\"actual\":\"sshd\"},{\"expr\":\"msg contains \\\"Failed "
        "password\\\"\",\"pass\":true,\"actual\":\"Failed password for root "
        "from %s\"},{\"expr\":\"user != \\\"backup\\\"\",\"pass\":true,"
        "\"actual\":\"root\"}],"
        "\"sequence\":[{\"step\":0,\"rule\":\"ssh-fail\",\"time_ns\":%lld,"
        "\"summary\":\"Failed password for root\"},{\"step\":1,\"rule\":"
        "\"ssh-accept\",\"time_ns\":%lld,\"summary\":\"Accepted password "
        "for root\"}],"
        "\"evidence\":{\"first\":[{\"time_ns\":%lld,\"summary\":\"Failed "
        "password for root from %s port 52114\"}],\"last\":[{\"time_ns\":"
        "%lld,\"summary\":\"Failed password for admin from %s port "
        "52190\"}]}}",
        argv[2], sn_severity_name((enum sn_severity)atoi(argv[3])),
        (long long)now, ip, (long long)first, (long long)now, ip,
        (long long)first, (long long)now, (long long)first, ip, (long long)now,
        ip);
    sn_buf_printf(&evi,
                  "[{\"time\":\"first\",\"summary\":\"Failed password for "
                  "root from %s\"},{\"time\":\"last\",\"summary\":\"Failed "
                  "password for admin from %s\"}]",
                  ip, ip);
    if (argc > 6) {
        long n = atol(argv[6]);
        sn_store_begin(s, &err);
        for (long i = 0; i < n; i++) {
            char k[128];
            snprintf(k, sizeof(k), "{\"source.ip\":\"%s#%ld\"}", ip, i);
            sn_incident_init(&inc);
            sn_uuid4(inc.id);
            sn_incident_set(&inc.rule_id, argv[2], strlen(argv[2]));
            sn_incident_set(&inc.title, argv[4], strlen(argv[4]));
            sn_incident_set(&inc.group_key, k, strlen(k));
            strcpy(inc.status, "open");
            inc.version = 1;
            inc.first_seen = inc.last_seen = now;
            inc.created_at = inc.updated_at = inc.touched_at = now;
            if (sn_store_put(s, &inc) != SN_OK ||
                sn_store_record(s, &inc, "sentineld", "open", "bulk", NULL,
                                &scratch) != SN_OK) {
                fprintf(stderr, "seed_incident: %s\n", sn_store_errmsg(s));
                return 1;
            }
            sn_incident_fini(&inc);
        }
        sn_store_commit(s, &err);
        sn_store_close(s);
        sn_buf_fini(&scratch);
        sn_buf_fini(&key);
        sn_buf_fini(&ex);
        sn_buf_fini(&evi);
        return 0;
    }
    sn_incident_init(&inc);
    sn_uuid4(inc.id);
    sn_incident_set(&inc.rule_id, argv[2], strlen(argv[2]));
    sn_incident_set(&inc.title, argv[4], strlen(argv[4]));
    sn_incident_set(&inc.group_key, sn_buf_cstr(&key), key.len);
    sn_incident_set(&inc.explanation, sn_buf_cstr(&ex), ex.len);
    sn_incident_set(&inc.evidence, sn_buf_cstr(&evi), evi.len);
    strcpy(inc.status, "open");
    inc.version = 1;
    inc.severity = inc.base_severity = (enum sn_severity)atoi(argv[3]);
    inc.first_seen = first;
    inc.last_seen = now;
    inc.hit_count = 12;
    inc.signal_count = 1;
    inc.created_at = inc.updated_at = inc.touched_at = now;
    if (sn_store_begin(s, &err) != SN_OK || sn_store_put(s, &inc) != SN_OK ||
        sn_store_record(s, &inc, "sentineld", "open", "first signal", NULL,
                        &scratch) != SN_OK ||
        sn_store_commit(s, &err) != SN_OK) {
        fprintf(stderr, "seed_incident: %s\n", sn_store_errmsg(s));
        return 1;
    }
    printf("%s\n", inc.id);
    sn_incident_fini(&inc);
    sn_buf_fini(&scratch);
    sn_buf_fini(&key);
    sn_buf_fini(&ex);
    sn_buf_fini(&evi);
    sn_store_close(s);
    return 0;
}

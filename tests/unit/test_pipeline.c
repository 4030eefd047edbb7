/* Unit tests for batches, queues and the event JSON schema. */
#include <pthread.h>
#include <string.h>

#include "core/buf.h"
#include "event/event.h"
#include "pipeline/batch.h"
#include "pipeline/queue.h"
#include "sn_test.h"

SN_TEST(pool_is_the_back_pressure)
{
    struct sn_batch_pool *p = sn_batch_pool_new(2);
    struct sn_batch *a, *b;

    a = sn_batch_get(p, true);
    b = sn_batch_get(p, true);
    CHECK(a != NULL && b != NULL);
    CHECK(sn_batch_get(p, true) == NULL); /* empty: a UDP input drops */
    CHECK_EQ(sn_batch_pool_in_use(p), 2);
    atomic_fetch_add(&a->refs, 1); /* a second consumer */
    sn_batch_unref(a);
    CHECK_EQ(sn_batch_pool_in_use(p), 2);
    sn_batch_unref(a);
    CHECK_EQ(sn_batch_pool_in_use(p), 1);
    sn_batch_unref(b);
    CHECK(sn_batch_pool_wait_idle(p, 0));
    sn_batch_pool_free(p);
}

static void *
release_later(void *arg)
{
    struct sn_batch *b = arg;
    struct timespec ts = { 0, 50 * 1000000L };

    nanosleep(&ts, NULL);
    sn_batch_unref(b);
    return NULL;
}

SN_TEST(blocking_get_waits_for_release)
{
    struct sn_batch_pool *p = sn_batch_pool_new(1);
    struct sn_batch *a = sn_batch_get(p, false), *b;
    pthread_t t;

    pthread_create(&t, NULL, release_later, a);
    b = sn_batch_get(p, false); /* blocks until the thread releases a */
    CHECK(b == a);
    pthread_join(t, NULL);
    sn_batch_unref(b);
    sn_batch_pool_free(p);
}

SN_TEST(queue_fifo_and_close)
{
    struct sn_batch_pool *p = sn_batch_pool_new(3);
    struct sn_queue q;
    struct sn_batch *a = sn_batch_get(p, true), *b = sn_batch_get(p, true),
                    *c = sn_batch_get(p, true);

    sn_queue_init(&q);
    sn_queue_push(&q, a);
    sn_queue_push(&q, b);
    sn_queue_push_front(&q, c);
    sn_queue_close(&q);
    CHECK(sn_queue_pop(&q) == c);
    CHECK(sn_queue_pop(&q) == a);
    CHECK(sn_queue_pop(&q) == b);
    CHECK(sn_queue_pop(&q) == NULL);
    sn_batch_unref(a);
    sn_batch_unref(b);
    sn_batch_unref(c);
    sn_queue_fini(&q);
    sn_batch_pool_free(p);
}

SN_TEST(event_json_schema)
{
    struct sn_arena a;
    struct sn_event ev;
    struct sn_buf b;
    struct sn_value v;
    struct sn_str k = { "source.ip", 9 };
    struct sn_str id = { "origin", 6 }, name = { "ip", 2 }, val = { "1.2.3.4", 7 };

    sn_arena_init(&a, 4096, 0);
    memset(&ev, 0, sizeof(ev));
    sn_event_reset(&ev, &a);
    ev.rec.recv_ns = 5;
    ev.rec.input = "syslog";
    ev.rec.transport = "udp";
    ev.rec.peer = "127.0.0.1:999";
    ev.rec.source_offset = -1;
    ev.hdr.pri = 38;
    ev.hdr.version = 1;
    sn_event_set(&ev, SN_F_HOSTNAME, "web1", 4);
    sn_event_set(&ev, SN_F_MSG, "hello", 5);
    sn_event_add_sd(&ev, id, name, val);
    memset(&v, 0, sizeof(v));
    v.type = SN_VAL_IP;
    v.u.ip.family = 4;
    v.u.ip.addr[0] = 203;
    v.u.ip.addr[3] = 7;
    CHECK_EQ(sn_event_set_field(&ev, k, &v), SN_OK);
    sn_buf_init(&b, 1 << 16);
    CHECK_EQ(sn_event_to_json(&ev, &b), SN_OK);
    CHECK_STR(sn_buf_cstr(&b),
              "{\"pri\":38,\"facility\":4,\"severity\":6,\"version\":1,"
              "\"timestamp\":null,\"hostname\":\"web1\",\"appname\":null,"
              "\"procid\":null,\"msgid\":null,"
              "\"sd\":{\"origin\":{\"ip\":\"1.2.3.4\"}},\"msg\":\"hello\","
              "\"received_ns\":5,\"input\":\"syslog\",\"transport\":\"udp\","
              "\"peer\":\"127.0.0.1:999\","
              "\"fields\":{\"source.ip\":\"203.0.0.7\"}}");
    sn_buf_fini(&b);
    sn_arena_fini(&a);
}

SN_TEST_MAIN(SN_T(pool_is_the_back_pressure),
             SN_T(blocking_get_waits_for_release), SN_T(queue_fifo_and_close),
             SN_T(event_json_schema))

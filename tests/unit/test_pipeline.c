/* Unit tests for batches, queues and the event JSON schema. */
#include <pthread.h>
#include <string.h>

#include "core/buf.h"
#include "event/event.h"
#include "journal/journal.h"
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

/* One flooding emitter cannot take the whole pool: the last half stays
 * for a UDP input (drops when full) and for an emitter holding nothing. */
SN_TEST(pool_reserve_keeps_a_share_for_others)
{
    struct sn_batch_pool *p = sn_batch_pool_new(16);
    struct sn_batch_owner *flood = sn_batch_owner_new(),
                          *other = sn_batch_owner_new();
    struct sn_batch *held[8], *u[7], *o;

    CHECK_EQ(p->reserve, 8);
    for (size_t i = 0; i < 8; i++) /* none of these waits */
        CHECK((held[i] = sn_batch_get_for(p, flood, false)) != NULL);
    CHECK_EQ(flood->held, 8);
    CHECK_EQ(p->n_free, p->reserve); /* a 9th would wait (next test) */
    o = sn_batch_get_for(p, other, false); /* holds none: gets one */
    CHECK(o != NULL);
    for (size_t i = 0; i < 7; i++) /* UDP: takes the rest */
        CHECK((u[i] = sn_batch_get_for(p, NULL, true)) != NULL);
    CHECK(sn_batch_get_for(p, NULL, true) == NULL);
    for (size_t i = 0; i < 7; i++)
        sn_batch_unref(u[i]);
    sn_batch_unref(o);
    sn_batch_owner_unref(other); /* the emitter goes first: the batch... */
    for (size_t i = 0; i < 8; i++)
        sn_batch_unref(held[i]);
    sn_batch_owner_unref(flood); /* ...kept its owner alive (ASan) */
    CHECK(sn_batch_pool_wait_idle(p, 0));
    sn_batch_pool_free(p);
}

struct taker {
    struct sn_batch_pool *p;
    struct sn_batch *first;
    _Atomic bool took_first, took_second;
};

static void *
taker_main(void *arg)
{
    struct taker *t = arg;
    struct sn_batch_owner *o = sn_batch_owner_new();
    struct sn_batch *b;

    t->first = sn_batch_get_for(t->p, o, false);
    atomic_store(&t->took_first, true);
    b = sn_batch_get_for(t->p, o, false); /* waits for 2 free */
    atomic_store(&t->took_second, true);
    sn_batch_unref(b);
    sn_batch_owner_unref(o);
    return NULL;
}

SN_TEST(holding_taker_waits_at_the_reserve)
{
    struct sn_batch_pool *p = sn_batch_pool_new(2); /* reserve 1 */
    struct sn_batch *x = sn_batch_get(p, true);
    struct timespec ts = { 0, 50 * 1000000L };
    struct taker t = { .p = p };
    pthread_t th;

    /* The one free batch is the reserve: the taker holds none, so it
     * gets it; its second waits until both batches are free again. */
    pthread_create(&th, NULL, taker_main, &t);
    while (!atomic_load(&t.took_first))
        nanosleep(&ts, NULL);
    sn_batch_unref(x);
    nanosleep(&ts, NULL);
    CHECK(!atomic_load(&t.took_second)); /* 1 free = the reserve */
    sn_batch_unref(t.first); /* as the pipeline would */
    pthread_join(th, NULL);
    CHECK(atomic_load(&t.took_second));
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

/* The journal's CRC32C, whichever implementation the CPU gets (SSE4.2 or
 * the table), against the RFC 3720 check value and a bitwise reference
 * over every length and alignment up to 64 bytes, chained in two parts. */
static uint32_t
crc_ref(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;

    while (n-- > 0) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

SN_TEST(journal_crc32c)
{
    unsigned char buf[80];

    CHECK_EQ(sn_crc32c(0, "123456789", 9), 0xE3069283u);
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 131 + 7);
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n <= 64; n++) {
            CHECK_EQ(sn_crc32c(0, buf + off, n), crc_ref(buf + off, n));
            CHECK_EQ(sn_crc32c(sn_crc32c(0, buf + off, n / 3),
                               buf + off + n / 3, n - n / 3),
                     crc_ref(buf + off, n));
        }
}

SN_TEST_MAIN(SN_T(pool_is_the_back_pressure),
             SN_T(pool_reserve_keeps_a_share_for_others),
             SN_T(holding_taker_waits_at_the_reserve),
             SN_T(blocking_get_waits_for_release), SN_T(queue_fifo_and_close),
             SN_T(event_json_schema), SN_T(journal_crc32c))

/*
 * CPU per POST of the notification outputs' HTTP client
 * (plugins/common/http_post.c), issue #23: N requests in waves of W
 * (hp_perform, as out_webhook sends a relay batch) with out_webhook's
 * headers and a 1.5 KB body, to a keep-alive receiver at URL
 * (bench/bench_http_post.sh starts bench/notify_sink.py). The peer in the
 * same run: the same requests one at a time through one reused easy
 * handle (curl_easy_perform, header list built once), libcurl's own floor.
 * Prints the calling thread's CPU per request for both.
 *   bench_http_post URL [N [W]]
 */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <curl/curl.h>

#include "../plugins/common/http_post.h"

static const char *const headers[] = {
    "X-Sentineld-Event: opened",
    "X-Sentineld-Incident: 0123456789abcdef0123456789abcdef",
    "X-Sentineld-Version: 1",
    "X-Sentineld-Delivery: 0123456789abcdef0123456789abcdef/1",
    "X-Sentineld-Signature: sha256=0123456789abcdef0123456789abcdef"
    "0123456789abcdef0123456789abcdef",
    NULL,
};

static double
cpu_us(void)
{
    struct rusage ru;

    getrusage(RUSAGE_THREAD, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static size_t
drop(char *p, size_t size, size_t nmemb, void *arg)
{
    (void)p;
    (void)arg;
    return size * nmemb;
}

/* Bad answers of n requests in waves of w through hp_perform. */
static int
run_client(struct hp_client *cl, const char *url, const char *body, int n,
           int w)
{
    struct hp_req *r = calloc((size_t)w, sizeof(*r));
    int bad = 0;

    for (int done = 0; r != NULL && done < n; done += w) {
        for (int i = 0; i < w; i++) {
            memset(&r[i], 0, sizeof(r[i]));
            r[i].url = url;
            r[i].body = body;
            r[i].len = strlen(body);
            r[i].headers = headers;
        }
        hp_perform(cl, r, (size_t)w);
        for (int i = 0; i < w; i++)
            bad += hp_verdict(&r[i]) != HP_OK;
    }
    free(r);
    return r == NULL ? n : bad;
}

/* The peer: one easy handle, one request at a time. */
static int
run_easy(CURL *e, int n)
{
    int bad = 0;
    long status = 0;

    for (int i = 0; i < n; i++) {
        if (curl_easy_perform(e) != CURLE_OK ||
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
            status != 200)
            bad++;
    }
    return bad;
}

int
main(int argc, char **argv)
{
    int n = argc > 2 ? atoi(argv[2]) : 20000, w = argc > 3 ? atoi(argv[3]) : 8;
    struct hp_conf c = { .tls_verify = true,
                         .connect_timeout_ms = 5000,
                         .timeout_ms = 10000,
                         .max_parallel = 8 };
    struct curl_slist *sl = NULL;
    struct hp_client *cl;
    char body[1501];
    double t0, t1, t2;
    int bad_c, bad_e;
    CURL *e;

    if (argc < 2 || n <= 0 || w <= 0) {
        fprintf(stderr, "usage: bench_http_post URL [N [W]]\n");
        return 2;
    }
    memset(body, 'x', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    memcpy(body, "{\"a\":\"", 6);
    memcpy(body + sizeof(body) - 3, "\"}", 2);
    hp_global_init();
    if ((cl = hp_client_new(&c)) == NULL || (e = curl_easy_init()) == NULL)
        return 1;
    sl = curl_slist_append(sl, "Content-Type: application/json");
    for (int i = 0; headers[i] != NULL; i++)
        sl = curl_slist_append(sl, headers[i]);
    sl = curl_slist_append(sl, "Expect:");
    curl_easy_setopt(e, CURLOPT_URL, argv[1]);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "sentineld");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, drop);
    /* Warm up both: connections made, buffers grown. */
    run_client(cl, argv[1], body, 8 * w, w);
    run_easy(e, 8);
    t0 = cpu_us();
    bad_c = run_client(cl, argv[1], body, n, w);
    t1 = cpu_us();
    bad_e = run_easy(e, n);
    t2 = cpu_us();
    printf("hp_perform, waves of %d: %6.1f us CPU per request (%d requests, "
           "%d not 2xx)\n",
           w, (t1 - t0) / n, n, bad_c);
    printf("peer: curl_easy_perform: %6.1f us CPU per request (%d requests, "
           "%d not 2xx)\n",
           (t2 - t1) / n, n, bad_e);
    curl_slist_free_all(sl);
    curl_easy_cleanup(e);
    hp_client_free(cl);
    return bad_c || bad_e ? 1 : 0;
}

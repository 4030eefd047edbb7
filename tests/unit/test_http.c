/*
 * The HTTP API's static contracts: every route of the router is in the
 * OpenAPI document (web/openapi.json) with the same method and role, and
 * every operation of the document is served, by the core or by the plugin
 * its x-sentineld-plugin names (a route of the plugin's descriptor, with
 * the same role; relative paths under /api/v1/plugins/{instance}/);
 * tokens are stored hashed and
 * found by secret; the router matches parameters and tells 405 from 404.
 */
#include <dlfcn.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/http_int.h"
#include "plugin/loader.h"
#include "sn_test.h"

static struct json_object *
openapi(void)
{
    char path[4096];
    const char *src = getenv("SRCDIR");

    snprintf(path, sizeof(path), "%s/web/openapi.json", src ? src : ".");
    return json_object_from_file(path);
}

static void
lower(const char *in, char *out, size_t n)
{
    size_t i = 0;

    for (; in[i] && i + 1 < n; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
    out[i] = '\0';
}

SN_TEST(every_route_is_documented)
{
    struct json_object *doc = openapi(), *paths = NULL;

    CHECK(doc != NULL);
    if (doc == NULL)
        return;
    CHECK(json_object_object_get_ex(doc, "paths", &paths));
    for (const struct sn_route *r = sn_routes; r->method != NULL; r++) {
        struct json_object *p = NULL, *op = NULL, *role = NULL;
        char m[8];

        lower(r->method, m, sizeof(m));
        if (!json_object_object_get_ex(paths, r->pattern, &p) ||
            !json_object_object_get_ex(p, m, &op)) {
            printf("#   %s %s is served but not in openapi.json\n", r->method,
                   r->pattern);
            CHECK(0);
            continue;
        }
        CHECK(json_object_object_get_ex(op, "x-sentineld-role", &role));
        CHECK_STR(json_object_get_string(role), sn_role_name(r->role));
    }
    json_object_put(doc);
}

/* Whether plugin `name` declares method path (as documented) with role. */
static bool
plugin_serves(const char *name, const char *method, const char *path,
              const char *role)
{
    char **dirs = sn_plugin_search_path(NULL);
    struct sn_plugin_lib *lib = NULL;
    struct sn_error err;
    bool found = false;

    if (sn_plugin_open(name, dirs, &lib, &err) != SN_OK) {
        printf("#   %s: %s\n", name, err.msg);
        sn_plugin_search_path_free(dirs);
        return false;
    }
    for (const struct sn_http_route *r = lib->desc->routes; r && r->method;
         r++) {
        char m[8], full[600];

        lower(r->method, m, sizeof(m));
        snprintf(full, sizeof(full), "%s%s",
                 r->path[0] == '/' ? "" : "/api/v1/plugins/{instance}/",
                 r->path);
        if (strcmp(m, method) == 0 && strcmp(full, path) == 0 &&
            role != NULL && strcmp(sn_role_name(r->role), role) == 0)
            found = true;
    }
    sn_plugin_close(lib);
    sn_plugin_search_path_free(dirs);
    return found;
}

SN_TEST(every_documented_operation_is_served)
{
    struct json_object *doc = openapi(), *paths = NULL;

    CHECK(doc != NULL);
    if (doc == NULL)
        return;
    CHECK(json_object_object_get_ex(doc, "paths", &paths));
    json_object_object_foreach(paths, path, ops)
    {
        json_object_object_foreach(ops, method, op)
        {
            bool found = false;
            char m[8];
            struct json_object *plugin = NULL, *role = NULL;

            if (json_object_object_get_ex(op, "x-sentineld-plugin", &plugin)) {
                json_object_object_get_ex(op, "x-sentineld-role", &role);
                found = plugin_serves(json_object_get_string(plugin), method,
                                      path, json_object_get_string(role));
            }
            for (const struct sn_route *r = sn_routes; r->method; r++) {
                lower(r->method, m, sizeof(m));
                if (strcmp(m, method) == 0 && strcmp(r->pattern, path) == 0)
                    found = true;
            }
            if (!found)
                printf("#   %s %s is documented but not served\n", method,
                       path);
            CHECK(found);
        }
    }
    json_object_put(doc);
}

SN_TEST(router_params_and_405)
{
    struct sn_req rq;
    bool known;
    const struct sn_route *r;

    memset(&rq, 0, sizeof(rq));
    rq.method = "POST";
    strcpy(rq.path, "/api/v1/rules/reload");
    r = sn_route_match(&rq, &known);
    CHECK(r != NULL && strcmp(r->pattern, "/api/v1/rules/reload") == 0);
    rq.method = "GET";
    r = sn_route_match(&rq, &known);
    CHECK(r == NULL);
    CHECK(known);
    strcpy(rq.path, "/api/v1/nope");
    r = sn_route_match(&rq, &known);
    CHECK(r == NULL);
    CHECK(!known);
    strcpy(rq.path, "/api/v1/rules/");
    CHECK(sn_route_match(&rq, &known) == NULL);
}

SN_TEST(tokens_hashed_found_revoked)
{
    char dir[] = "/tmp/sn-test-tokens.XXXXXX", path[128], a[72], b[72];
    struct sn_tokens *t = NULL;
    struct sn_error err;
    struct stat st;
    FILE *f;
    char text[1024] = "";
    size_t n;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/tokens", dir);
    CHECK_EQ(sn_tokens_create(path, "alice", "operator", a, &err), SN_OK);
    CHECK_EQ(sn_tokens_create(path, "bob", "viewer", b, &err), SN_OK);
    CHECK_EQ(sn_tokens_create(path, "bob", "admin", b, &err), SN_EINVAL);
    CHECK_EQ(sn_tokens_create(path, "eve", "root", b, &err), SN_EINVAL);
    CHECK_EQ(sn_tokens_create(path, "bad name", "admin", b, &err), SN_EINVAL);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    f = fopen(path, "r");
    n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    text[n] = '\0';
    if (f)
        fclose(f);
    CHECK(strstr(text, a + 4) == NULL); /* never in clear */
    CHECK(strstr(text, "alice operator ") != NULL);
    CHECK_EQ(sn_tokens_load(path, &t, &err), SN_OK);
    CHECK(t != NULL && t->n == 2);
    CHECK(sn_tokens_find(t, a, strlen(a)) != NULL &&
          strcmp(sn_tokens_find(t, a, strlen(a))->name, "alice") == 0);
    CHECK(sn_tokens_find(t, "snt_00", 6) == NULL);
    CHECK(sn_tokens_find(t, a, strlen(a) - 1) == NULL);
    sn_tokens_free(t);
    CHECK_EQ(sn_tokens_revoke(path, "alice", &err), SN_OK);
    CHECK_EQ(sn_tokens_revoke(path, "alice", &err), SN_DECLINED);
    CHECK_EQ(sn_tokens_load(path, &t, &err), SN_OK);
    CHECK(t != NULL && t->n == 1 && sn_tokens_find(t, a, strlen(a)) == NULL);
    sn_tokens_free(t);
    f = fopen(path, "a");
    if (f) {
        fputs("mallory admin nothex\n", f);
        fclose(f);
    }
    CHECK_EQ(sn_tokens_load(path, &t, &err), SN_EINVAL);
    CHECK(strstr(err.msg, ":3:") != NULL);
    unlink(path);
    rmdir(dir);
}

/* A closed plugin stays mapped with the libraries it brought: unmapping
 * them can leave their thread-specific-data destructors and exit
 * handlers pointing at nothing (loader.c). in_syslog brings OpenSSL. */
SN_TEST(a_closed_plugin_stays_mapped)
{
    char **dirs = sn_plugin_search_path(NULL);
    struct sn_plugin_lib *lib = NULL;
    struct sn_error err;
    char *path = NULL;
    void *again;

    CHECK(sn_plugin_open("in_syslog", dirs, &lib, &err) == SN_OK);
    if (lib != NULL) {
        path = strdup(lib->path);
        sn_plugin_close(lib);
    }
    again = path ? dlopen(path, RTLD_NOW | RTLD_NOLOAD) : NULL;
    CHECK(again != NULL);
    if (again != NULL)
        dlclose(again);
    free(path);
    sn_plugin_search_path_free(dirs);
}

SN_TEST_MAIN(SN_T(every_route_is_documented),
             SN_T(every_documented_operation_is_served),
             SN_T(router_params_and_405), SN_T(tokens_hashed_found_revoked),
             SN_T(a_closed_plugin_stays_mapped))

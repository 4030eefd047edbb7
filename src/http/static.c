/*
 * The web console's static files from http.web_root (no build step, no
 * CDN): GET only, a closed set of file types, no dot segments, no
 * symlinks out of the root. The OpenAPI document is one of those files
 * (web/openapi.json), also served as /api/v1/openapi.json.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "core/limits.h"
#include "core/log.h"
#include "http/http_int.h"

static const char *
content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        { ".html", "text/html; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" },
        { ".css", "text/css; charset=utf-8" },
        { ".json", "application/json" },
        { ".svg", "image/svg+xml" },
        { ".png", "image/png" },
        { ".ico", "image/x-icon" },
    };
    const char *dot = strrchr(path, '.');

    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

static bool
safe_path(const char *p)
{
    if (p[0] != '/')
        return false;
    for (const char *s = p; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '/' || c == '.' || c == '-' ||
              c == '_'))
            return false;
    }
    return strstr(p, "..") == NULL && strstr(p, "//") == NULL;
}

static void
send_file(struct sn_req *rq, const char *rel)
{
    struct sn_http *h = rq->h;
    char full[1024];
    const char *type = content_type(rel);
    struct stat st;
    int fd;
    struct evbuffer *out;

    if (h->web_root == NULL || type == NULL || !safe_path(rel) ||
        (size_t)snprintf(full, sizeof(full), "%s%s", h->web_root, rel) >=
            sizeof(full)) {
        sn_reply_error(rq, 404, "not_found", "no such file: %s", rq->path);
        return;
    }
    fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size > (off_t)SN_HTTP_STATIC_FILE_MAX) {
        if (fd >= 0)
            close(fd);
        sn_reply_error(rq, 404, "not_found", "no such file: %s", rq->path);
        return;
    }
    out = evbuffer_new();
    while (out != NULL && evbuffer_get_length(out) < (size_t)st.st_size) {
        int n = evbuffer_read(out, fd, (int)st.st_size);
        if (n <= 0)
            break;
    }
    close(fd);
    if (out == NULL || evbuffer_get_length(out) != (size_t)st.st_size) {
        if (out)
            evbuffer_free(out);
        sn_reply_error(rq, 500, "internal", "cannot read %s", rel);
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(rq->r), "Content-Type",
                      type);
    evhttp_send_reply(rq->r, 200, "OK", out);
    evbuffer_free(out);
}

void
sn_static_serve(struct sn_req *rq)
{
    send_file(rq, strcmp(rq->path, "/") == 0 ? "/index.html" : rq->path);
}

void
sn_api_openapi(struct sn_req *rq)
{
    send_file(rq, "/openapi.json");
}

static bool
has_console(const char *dir)
{
    char p[4096];

    return (size_t)snprintf(p, sizeof(p), "%s/index.html", dir) < sizeof(p) &&
           access(p, R_OK) == 0;
}

char *
sn_static_web_root(const char *configured)
{
    char exe[4096], cand[4096];
    ssize_t n;

    if (configured == NULL)
        return NULL;
    if (has_console(configured))
        return strdup(configured);
    if (strcmp(configured, SN_WEBDIR) != 0) {
        sn_log_warn("http: web_root %s has no index.html: the console is "
                    "not served (set http.web_root to the web/ directory)",
                    configured);
        return strdup(configured);
    }
    /* The default install path is missing: a binary run from its build
     * tree (_build/sentineld, scripts/build.sh) serves the source tree's
     * web/ next to the binary's directory. No build path is compiled in
     * (a packaged binary must not depend on where it was built). */
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        if ((size_t)snprintf(cand, sizeof(cand), "%s/../web", dirname(exe)) <
                sizeof(cand) &&
            has_console(cand)) {
            sn_log_info("http: console from %s (build tree; %s is not "
                        "installed)",
                        cand, configured);
            return strdup(cand);
        }
    }
    sn_log_warn("http: web_root %s has no index.html: the console is not "
                "served (install it or set http.web_root)",
                configured);
    return strdup(configured);
}

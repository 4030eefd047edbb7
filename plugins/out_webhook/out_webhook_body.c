/*
 * Webhook bodies: the incident document as it is, or a JSON template
 * whose strings name values with {{...}} placeholders (docs/
 * notifications.md, "Templates"), with presets for Slack, Microsoft Teams,
 * PagerDuty Events v2 and Opsgenie. Templates are parsed and their
 * placeholders checked once, at init; rendering copies the template tree
 * with the placeholders replaced and json-c writes it out, so escaping is
 * never ours to get wrong. Also the HMAC-SHA256 signature of a body.
 */
#include "out_webhook.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json_pointer.h>
#include <openssl/evp.h>

/* One preset: the body, and for the channels that take a resolution or
 * an acknowledgement at another path (Opsgenie), that path and body. */
struct preset {
    const char *name;
    const char *body; /* NULL: the incident document as it is */
    const char *resolved_suffix, *resolved_body;
    const char *ack_suffix, *ack_body;
};

static const struct preset presets[] = {
    { "incident", NULL, NULL, NULL, NULL, NULL },
    { "slack",
      "{\"text\": \"[{{/severity}}] {{/title}} ({{event}})\","
      " \"attachments\": [{\"color\": \"#{{color}}\","
      " \"title\": \"{{/title}}\", \"title_link\": \"{{console_url}}\","
      " \"text\": \"{{/description}}\", \"fields\": ["
      "{\"title\": \"Rule\", \"value\": \"{{/rule_id}}\", \"short\": true},"
      "{\"title\": \"Status\", \"value\": \"{{/status}}\", \"short\": true},"
      "{\"title\": \"Group\", \"value\": \"{{/group_key}}\", \"short\": false},"
      "{\"title\": \"Hits\", \"value\": \"{{/hit_count}}\", \"short\": true}"
      "], \"footer\": \"sentineld incident {{/id}} v{{/version}}\"}]}",
      NULL, NULL, NULL, NULL },
    { "teams",
      "{\"@type\": \"MessageCard\", \"@context\": "
      "\"https://schema.org/extensions\", \"summary\": \"{{/title}}\","
      " \"themeColor\": \"{{color}}\","
      " \"title\": \"[{{/severity}}] {{/title}} ({{event}})\","
      " \"text\": \"{{/description}}\", \"sections\": [{\"facts\": ["
      "{\"name\": \"Rule\", \"value\": \"{{/rule_id}}\"},"
      "{\"name\": \"Status\", \"value\": \"{{/status}}\"},"
      "{\"name\": \"Group\", \"value\": \"{{/group_key}}\"},"
      "{\"name\": \"Hits\", \"value\": \"{{/hit_count}}\"},"
      "{\"name\": \"Incident\", \"value\": \"{{/id}} v{{/version}}\"}]}],"
      " \"potentialAction\": [{\"@type\": \"OpenUri\", \"name\": "
      "\"Open in sentineld\", \"targets\": [{\"os\": \"default\", \"uri\": "
      "\"{{console_url}}\"}]}]}",
      NULL, NULL, NULL, NULL },
    { "pagerduty",
      "{\"routing_key\": \"{{var.routing_key}}\","
      " \"event_action\": \"{{pagerduty_action}}\","
      " \"dedup_key\": \"{{/id}}\", \"payload\": {"
      "\"summary\": \"[{{/severity}}] {{/title}}\", \"source\": \"sentineld\","
      " \"severity\": \"{{pagerduty_severity}}\","
      " \"component\": \"{{/rule_id}}\", \"class\": \"{{event}}\","
      " \"custom_details\": {\"group_key\": \"{{json /group_key}}\","
      " \"hit_count\": \"{{json /hit_count}}\", \"status\": \"{{/status}}\","
      " \"tags\": \"{{json /tags}}\", \"console\": \"{{console_url}}\"}}}",
      NULL, NULL, NULL, NULL },
    { "opsgenie",
      "{\"message\": \"[{{/severity}}] {{/title}}\", \"alias\": \"{{/id}}\","
      " \"description\": \"{{/description}}\","
      " \"priority\": \"{{opsgenie_priority}}\", \"tags\": \"{{json /tags}}\","
      " \"source\": \"sentineld\", \"entity\": \"{{/rule_id}}\","
      " \"details\": {\"status\": \"{{/status}}\", \"event\": \"{{event}}\","
      " \"group_key\": \"{{/group_key}}\", \"console\": \"{{console_url}}\"}}",
      "/{{/id}}/close?identifierType=alias",
      "{\"source\": \"sentineld\", \"note\": \"{{/status}} ({{event}})\"}",
      "/{{/id}}/acknowledge?identifierType=alias",
      "{\"source\": \"sentineld\", \"note\": \"{{/status}} ({{event}})\"}" },
};

struct ow_body {
    struct json_object *tpl, *resolved_tpl, *ack_tpl; /* NULL: none */
    const char *resolved_suffix, *ack_suffix;
    const struct sn_kvlist *vars;
    const char *console_url;
};

/* The values a placeholder may name besides /pointers and var.NAME. */
static const char *const computed[] = { "event",
                                        "pagerduty_action",
                                        "pagerduty_severity",
                                        "opsgenie_priority",
                                        "color",
                                        "console_url",
                                        NULL };

struct ctx {
    const struct ow_body *b;
    const struct sn_doc *d;
    struct json_object *doc;
    enum ow_event ev;
};

/* A growing text buffer for interpolated strings. */
struct text {
    char *p;
    size_t len, cap;
    bool oom;
};

static void
text_add(struct text *t, const char *s, size_t n)
{
    if (t->oom)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 128;
        char *np;

        while (cap < t->len + n + 1)
            cap *= 2;
        if ((np = realloc(t->p, cap)) == NULL) {
            t->oom = true;
            return;
        }
        t->p = np;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static const char *
var_value(const struct ow_body *b, const char *name, size_t len)
{
    for (size_t i = 0; b->vars != NULL && i < b->vars->n; i++)
        if (strlen(b->vars->items[i].key) == len &&
            memcmp(b->vars->items[i].key, name, len) == 0)
            return b->vars->items[i].value;
    return NULL;
}

/* Whether name (len bytes, trimmed) is a placeholder we know; raw:
 * preceded by "json ". */
static bool
known(const struct ow_body *b, const char *name, size_t len, bool *raw,
      char *err, size_t err_len)
{
    *raw = len > 5 && memcmp(name, "json ", 5) == 0;
    if (*raw) {
        name += 5;
        len -= 5;
        while (len > 0 && *name == ' ')
            name++, len--;
    }
    if (len > 0 && name[0] == '/')
        return true;
    if (len > 4 && memcmp(name, "var.", 4) == 0) {
        if (var_value(b, name + 4, len - 4) != NULL)
            return true;
        snprintf(err, err_len,
                 "placeholder {{%.*s}} names var.%.*s, which is not set "
                 "(add `var.%.*s: ...` to the output)",
                 (int)len, name, (int)(len - 4), name + 4, (int)(len - 4),
                 name + 4);
        return false;
    }
    for (size_t i = 0; computed[i] != NULL; i++)
        if (strlen(computed[i]) == len && memcmp(computed[i], name, len) == 0)
            return true;
    snprintf(err, err_len,
             "unknown placeholder {{%.*s}} (a /json/pointer into the "
             "incident, var.NAME, event, pagerduty_action, "
             "pagerduty_severity, opsgenie_priority, color or console_url)",
             (int)len, name);
    return false;
}

/* Calls fn for each {{...}} of s with the trimmed name; false stops. */
typedef bool (*each_fn)(void *arg, const char *lit, size_t lit_len,
                        const char *name, size_t len);

static bool
each_placeholder(const char *s, each_fn fn, void *arg, char *err,
                 size_t err_len)
{
    const char *p = s;

    for (;;) {
        const char *open = strstr(p, "{{"), *close, *n, *e;

        if (open == NULL)
            return fn(arg, p, strlen(p), NULL, 0);
        close = strstr(open + 2, "}}");
        if (close == NULL) {
            snprintf(err, err_len, "unclosed {{ in \"%.60s\"", s);
            return false;
        }
        n = open + 2;
        e = close;
        while (n < e && isspace((unsigned char)*n))
            n++;
        while (e > n && isspace((unsigned char)e[-1]))
            e--;
        if (!fn(arg, p, (size_t)(open - p), n, (size_t)(e - n)))
            return false;
        p = close + 2;
    }
}

struct check_arg {
    const struct ow_body *b;
    const char *whole;
    size_t n_found;
    char *err;
    size_t err_len;
};

static bool
check_one(void *arg, const char *lit, size_t lit_len, const char *name,
          size_t len)
{
    struct check_arg *c = arg;
    bool raw;

    (void)lit;
    (void)lit_len;
    if (name == NULL)
        return true;
    c->n_found++;
    if (!known(c->b, name, len, &raw, c->err, c->err_len))
        return false;
    if (raw && strncmp(c->whole, "{{", 2) != 0) {
        snprintf(c->err, c->err_len,
                 "{{%.*s}} must be the whole string (it inserts a JSON "
                 "value, not text)",
                 (int)len, name);
        return false;
    }
    return true;
}

static bool
check_tree(const struct ow_body *b, struct json_object *o, char *err,
           size_t err_len)
{
    switch (json_object_get_type(o)) {
    case json_type_string: {
        struct check_arg c = { b, json_object_get_string(o), 0, err, err_len };
        return each_placeholder(c.whole, check_one, &c, err, err_len);
    }
    case json_type_object: {
        json_object_object_foreach(o, k, v)
        {
            (void)k;
            if (!check_tree(b, v, err, err_len))
                return false;
        }
        return true;
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            if (!check_tree(b, json_object_array_get_idx(o, i), err, err_len))
                return false;
        return true;
    default:
        return true;
    }
}

static struct json_object *
compile(const struct ow_body *b, const char *what, const char *text, char *err,
        size_t err_len)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *o;
    char why[200];

    if (tok == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    o = json_tokener_parse_ex(tok, text, (int)strlen(text) + 1);
    if (o == NULL) {
        snprintf(err, err_len, "%s is not JSON: %s at byte %zu", what,
                 json_tokener_error_desc(json_tokener_get_error(tok)),
                 json_tokener_get_parse_end(tok));
        json_tokener_free(tok);
        return NULL;
    }
    json_tokener_free(tok);
    if (!check_tree(b, o, why, sizeof(why))) {
        snprintf(err, err_len, "%s: %s", what, why);
        json_object_put(o);
        return NULL;
    }
    return o;
}

static bool
check_suffix(const struct ow_body *b, const char *s, char *err, size_t err_len)
{
    struct check_arg c = { b, s, 0, err, err_len };

    return s == NULL || each_placeholder(s, check_one, &c, err, err_len);
}

struct ow_body *
ow_body_new(int preset, const char *template_text, const struct sn_kvlist *vars,
            const char *console_url, char *err, size_t err_len)
{
    const struct preset *p = &presets[preset];
    struct ow_body *b = calloc(1, sizeof(*b));

    if (b == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    b->vars = vars;
    b->console_url = console_url;
    b->resolved_suffix = p->resolved_suffix;
    b->ack_suffix = p->ack_suffix;
    if (template_text != NULL)
        b->tpl = compile(b, "template", template_text, err, err_len);
    else if (p->body != NULL)
        b->tpl = compile(b, p->name, p->body, err, err_len);
    if ((template_text != NULL || p->body != NULL) && b->tpl == NULL)
        goto fail;
    if (p->resolved_body != NULL &&
        (b->resolved_tpl =
             compile(b, p->name, p->resolved_body, err, err_len)) == NULL)
        goto fail;
    if (p->ack_body != NULL &&
        (b->ack_tpl = compile(b, p->name, p->ack_body, err, err_len)) == NULL)
        goto fail;
    if (!check_suffix(b, b->resolved_suffix, err, err_len) ||
        !check_suffix(b, b->ack_suffix, err, err_len))
        goto fail;
    return b;
fail:
    ow_body_free(b);
    return NULL;
}

void
ow_body_free(struct ow_body *b)
{
    if (b == NULL)
        return;
    json_object_put(b->tpl);
    json_object_put(b->resolved_tpl);
    json_object_put(b->ack_tpl);
    free(b);
}

bool
ow_body_uses_doc(const struct ow_body *b)
{
    return b->tpl != NULL || b->resolved_tpl != NULL || b->ack_tpl != NULL ||
           b->resolved_suffix != NULL || b->ack_suffix != NULL;
}

static const char *
computed_text(const struct ctx *c, const char *name, size_t len, char *tmp,
              size_t tmp_len)
{
    static const char *const colors[] = { "607d8b", "1565c0", "f9a825",
                                          "e65100", "b71c1c" };
    static const char *const pd_sev[] = { "info", "info", "warning", "error",
                                          "critical" };
    static const char *const og_pri[] = { "P5", "P4", "P3", "P2", "P1" };
    int r = ow_severity_rank(c->d->severity.ptr, c->d->severity.len);

    if (r < 0)
        r = 0;
#define IS(s) (strlen(s) == len && memcmp(s, name, len) == 0)
    if (IS("event"))
        return ow_event_names[c->ev];
    if (IS("pagerduty_action"))
        return c->ev == OW_EV_RESOLVED       ? "resolve"
               : c->ev == OW_EV_ACKNOWLEDGED ? "acknowledge"
                                             : "trigger";
    if (IS("pagerduty_severity"))
        return pd_sev[r];
    if (IS("opsgenie_priority"))
        return og_pri[r];
    if (IS("color"))
        return colors[r];
    if (IS("console_url")) {
        if (c->b->console_url == NULL)
            return "";
        snprintf(tmp, tmp_len, "%s/#/incident/%.*s", c->b->console_url,
                 (int)c->d->id.len, c->d->id.ptr);
        return tmp;
    }
#undef IS
    if (len > 4 && memcmp(name, "var.", 4) == 0)
        return var_value(c->b, name + 4, len - 4);
    return NULL;
}

/* The JSON value a /pointer names (borrowed; NULL: absent). */
static struct json_object *
pointer_value(const struct ctx *c, const char *name, size_t len)
{
    char path[256];
    struct json_object *v = NULL;

    if (len == 1)
        return c->doc; /* "/": the whole document */
    if (len >= sizeof(path))
        return NULL;
    memcpy(path, name, len);
    path[len] = '\0';
    if (json_pointer_get(c->doc, path, &v) != 0)
        return NULL;
    return v;
}

struct render_arg {
    const struct ctx *c;
    struct text t;
};

static bool
render_one(void *arg, const char *lit, size_t lit_len, const char *name,
           size_t len)
{
    struct render_arg *r = arg;
    char tmp[512];

    text_add(&r->t, lit, lit_len);
    if (name == NULL)
        return true;
    if (name[0] == '/') {
        struct json_object *v = pointer_value(r->c, name, len);
        const char *s = "";

        if (v != NULL && json_object_is_type(v, json_type_string))
            text_add(&r->t, json_object_get_string(v),
                     (size_t)json_object_get_string_len(v));
        else {
            if (v != NULL)
                s = json_object_to_json_string_ext(
                    v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
            text_add(&r->t, s, strlen(s));
        }
    } else {
        const char *s = computed_text(r->c, name, len, tmp, sizeof(tmp));
        if (s != NULL)
            text_add(&r->t, s, strlen(s));
    }
    return true;
}

/* Whole-string "{{json X}}": the value itself (new reference). */
static struct json_object *
raw_value(const struct ctx *c, const char *s)
{
    const char *n = s + 2, *e = strstr(s, "}}");
    char tmp[512];

    while (*n == ' ')
        n++;
    n += 5; /* "json " */
    while (*n == ' ')
        n++;
    while (e > n && e[-1] == ' ')
        e--;
    if (*n == '/') {
        struct json_object *v = pointer_value(c, n, (size_t)(e - n));
        return v != NULL ? json_object_get(v) : NULL;
    }
    s = computed_text(c, n, (size_t)(e - n), tmp, sizeof(tmp));
    return json_object_new_string(s != NULL ? s : "");
}

static bool
is_raw(const char *s)
{
    const char *n = s + 2;

    if (strncmp(s, "{{", 2) != 0)
        return false;
    while (*n == ' ')
        n++;
    return strncmp(n, "json ", 5) == 0;
}

static char *
render_text(const struct ctx *c, const char *s)
{
    struct render_arg r = { c, { 0 } };
    char err[8];

    each_placeholder(s, render_one, &r, err, sizeof(err));
    if (r.t.oom) {
        free(r.t.p);
        return NULL;
    }
    if (r.t.p == NULL)
        return strdup("");
    return r.t.p;
}

/* A copy of template o with placeholders replaced; NULL on ENOMEM. */
static struct json_object *
render_tree(const struct ctx *c, struct json_object *o, bool *oom)
{
    switch (json_object_get_type(o)) {
    case json_type_string: {
        const char *s = json_object_get_string(o);
        char *t;
        struct json_object *n;

        if (strstr(s, "{{") == NULL)
            return json_object_get(o); /* shared, never modified */
        if (is_raw(s))
            return raw_value(c, s);
        if ((t = render_text(c, s)) == NULL) {
            *oom = true;
            return NULL;
        }
        n = json_object_new_string(t);
        free(t);
        return n;
    }
    case json_type_object: {
        struct json_object *n = json_object_new_object();

        json_object_object_foreach(o, k, v)
        {
            json_object_object_add(n, k, render_tree(c, v, oom));
        }
        return n;
    }
    case json_type_array: {
        size_t len = json_object_array_length(o);
        struct json_object *n = json_object_new_array_ext((int)len);

        for (size_t i = 0; i < len; i++)
            json_object_array_add(
                n, render_tree(c, json_object_array_get_idx(o, i), oom));
        return n;
    }
    default:
        return json_object_get(o);
    }
}

bool
ow_body_render(const struct ow_body *b, const struct sn_doc *d,
               struct json_object *doc, enum ow_event ev, char **body,
               size_t *len, char **suffix)
{
    struct ctx c = { b, d, doc, ev };
    struct json_object *tpl = b->tpl, *out;
    const char *sfx = NULL, *s;
    size_t n;
    bool oom = false;

    *body = *suffix = NULL;
    if (ev == OW_EV_RESOLVED && b->resolved_tpl != NULL) {
        tpl = b->resolved_tpl;
        sfx = b->resolved_suffix;
    } else if (ev == OW_EV_ACKNOWLEDGED && b->ack_tpl != NULL) {
        tpl = b->ack_tpl;
        sfx = b->ack_suffix;
    }
    *suffix = sfx != NULL ? render_text(&c, sfx) : strdup("");
    if (*suffix == NULL)
        return false;
    if (tpl == NULL) { /* the document as the store wrote it */
        if ((*body = malloc(d->json.len + 1)) == NULL)
            return false;
        memcpy(*body, d->json.ptr, d->json.len);
        (*body)[d->json.len] = '\0';
        *len = d->json.len;
        return true;
    }
    out = render_tree(&c, tpl, &oom);
    if (out == NULL || oom) {
        json_object_put(out);
        return false;
    }
    s = json_object_to_json_string_length(
        out, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    *body = s != NULL ? malloc(n + 1) : NULL;
    if (*body != NULL) {
        memcpy(*body, s, n + 1);
        *len = n;
    }
    json_object_put(out);
    return *body != NULL;
}

/* HMAC-SHA256 with the key's inner and outer pads hashed once (RFC 2104):
 * a signature is two copies of a keyed state and two finals, where
 * OpenSSL's one-shot HMAC() fetches the digest and the MAC and keys them
 * again per call (~5% of a webhook thread's CPU per request). */
struct ow_signer {
    EVP_MD_CTX *inner, *outer, *work;
};

#define SIGN_BLOCK 64 /* SHA-256's block */

void
ow_signer_free(struct ow_signer *sg)
{
    if (sg == NULL)
        return;
    EVP_MD_CTX_free(sg->inner);
    EVP_MD_CTX_free(sg->outer);
    EVP_MD_CTX_free(sg->work);
    free(sg);
}

static bool
keyed(EVP_MD_CTX *ctx, const unsigned char *key, unsigned char x)
{
    unsigned char pad[SIGN_BLOCK];
    bool ok;

    for (int i = 0; i < SIGN_BLOCK; i++)
        pad[i] = key[i] ^ x;
    ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(ctx, pad, sizeof(pad)) == 1;
    OPENSSL_cleanse(pad, sizeof(pad));
    return ok;
}

struct ow_signer *
ow_signer_new(const char *secret)
{
    struct ow_signer *sg = calloc(1, sizeof(*sg));
    unsigned char key[SIGN_BLOCK] = { 0 };
    size_t len = strlen(secret);
    unsigned int n = 0;
    bool ok;

    if (sg == NULL)
        return NULL;
    sg->inner = EVP_MD_CTX_new();
    sg->outer = EVP_MD_CTX_new();
    sg->work = EVP_MD_CTX_new();
    /* A key longer than a block is its digest; a shorter one padded. */
    if (len > SIGN_BLOCK)
        ok = EVP_Digest(secret, len, key, &n, EVP_sha256(), NULL) == 1;
    else {
        memcpy(key, secret, len);
        ok = true;
    }
    ok = ok && sg->inner != NULL && sg->outer != NULL && sg->work != NULL &&
         keyed(sg->inner, key, 0x36) && keyed(sg->outer, key, 0x5c);
    OPENSSL_cleanse(key, sizeof(key));
    if (!ok) {
        ow_signer_free(sg);
        return NULL;
    }
    return sg;
}

bool
ow_sign(struct ow_signer *sg, const char *body, size_t len, char *out,
        size_t out_len)
{
    unsigned char ih[EVP_MAX_MD_SIZE], mac[EVP_MAX_MD_SIZE];
    unsigned int ih_len = 0, mac_len = 0;
    size_t at;
    static const char hex[] = "0123456789abcdef";

    if (EVP_MD_CTX_copy_ex(sg->work, sg->inner) != 1 ||
        EVP_DigestUpdate(sg->work, body, len) != 1 ||
        EVP_DigestFinal_ex(sg->work, ih, &ih_len) != 1 ||
        EVP_MD_CTX_copy_ex(sg->work, sg->outer) != 1 ||
        EVP_DigestUpdate(sg->work, ih, ih_len) != 1 ||
        EVP_DigestFinal_ex(sg->work, mac, &mac_len) != 1)
        return false;
    at = (size_t)snprintf(out, out_len, "sha256=");
    /* By hand: a snprintf per byte was a visible share of a request. */
    for (unsigned int i = 0; i < mac_len && at + 3 <= out_len; i++) {
        out[at++] = hex[mac[i] >> 4];
        out[at++] = hex[mac[i] & 15];
        out[at] = '\0';
    }
    return true;
}

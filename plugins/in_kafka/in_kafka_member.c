/*
 * Static group membership (KIP-345) for in_kafka: the member's
 * group.instance.id. With one, the group coordinator keeps the member's
 * partitions through a restart that comes back within
 * session.timeout.ms (no rebalance, no hand-over), and a member that
 * dies is noticed only at that timeout. "auto" gives every daemon on a
 * host its own stable id: the host name plus a hash of its state_dir,
 * the group and the topics (two instances on one host have two
 * state_dirs; the same instance keeps its id across restarts).
 */
#include "in_kafka.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Kafka's limit for a group.instance.id (as for topic names). */
#define ID_MAX 249

static bool
id_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
}

bool
ik_member_id_valid(const char *id, char *err, size_t err_len)
{
    size_t n = strlen(id);

    if (strcmp(id, "auto") == 0)
        return true;
    if (n == 0 || n > ID_MAX) {
        snprintf(err, err_len,
                 "instance_id: must be 1 to %d characters, or \"auto\"",
                 ID_MAX);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (!id_char(id[i])) {
            snprintf(err, err_len,
                     "instance_id: character %zu (0x%02x) is not one of "
                     "[A-Za-z0-9._-]",
                     i + 1, (unsigned char)id[i]);
            return false;
        }
    return true;
}

static uint32_t
fnv32(uint32_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return (h ^ 0xff) * 16777619u;
}

void
ik_member_id(struct ik_state *s, char *out, size_t len)
{
    const struct sn_host *h = s->ctx.host;
    const char *dir = h->state_dir ? h->state_dir(s->ctx.inst) : NULL;
    char host[128];
    uint32_t x = 2166136261u;
    size_t n;

    if (strcmp(s->c->instance_id, "auto") != 0) {
        snprintf(out, len, "%s", s->c->instance_id);
        return;
    }
    if (gethostname(host, sizeof(host)) != 0)
        host[0] = '\0';
    host[sizeof(host) - 1] = '\0';
    x = fnv32(x, dir ? dir : "");
    x = fnv32(x, s->c->group);
    for (size_t i = 0; i < s->c->topics.n; i++)
        x = fnv32(x, s->c->topics.items[i]);
    /* The host name as far as it is a valid id, then the hash. */
    for (n = 0; host[n] && n + 10 < len && n < 200; n++)
        out[n] = id_char(host[n]) ? host[n] : '_';
    snprintf(out + n, len - n, "%s%08x", n ? "-" : "", (unsigned)x);
}

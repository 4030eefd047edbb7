/* Value offset -> file position for YAML scalars; see srcmap.h. */
#include "rules/srcmap.h"

#include <string.h>

#include "core/json.h"

static int
is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Byte index of (line, col) in raw, columns counted in characters. */
static size_t
find_start(const char *raw, size_t len, int line, int col)
{
    int l = 1, c = 1;

    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)raw[i];

        if ((b & 0xc0) == 0x80)
            continue; /* UTF-8 continuation: same character */
        if (l > line || (l == line && c >= col))
            return i;
        if (b == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    return len;
}

/* Bytes a YAML double-quoted escape at raw[p] (a backslash) spans in the
 * source and produces in the value (YAML 1.1 5.7 escape sequences). */
static void
escape_len(const char *raw, size_t len, size_t p, size_t *src, size_t *val)
{
    unsigned long cp = 0;
    size_t digits = 0;

    *src = 2;
    *val = 1;
    if (p + 1 >= len)
        return;
    switch (raw[p + 1]) {
    case 'x':
        digits = 2;
        break;
    case 'u':
        digits = 4;
        break;
    case 'U':
        digits = 8;
        break;
    case 'N':
        *val = 2;
        return; /* U+0085 */
    case '_':
        *val = 2;
        return; /* U+00A0 */
    case 'L':   /* U+2028 */
    case 'P':
        *val = 3;
        return; /* U+2029 */
    default:
        return;
    }
    for (size_t k = 0; k < digits && p + 2 + k < len; k++) {
        int h = sn_json_hexval(raw[p + 2 + k]);
        if (h < 0)
            break;
        cp = cp * 16 + (unsigned long)h;
    }
    *src = 2 + digits;
    *val = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

void
sn_srcmap_locate(const char *raw, size_t raw_len, const struct sn_node *n,
                 size_t off, int *line, int *col)
{
    const char *v = n->str;
    size_t vlen = strlen(v), start, p, i = 0;
    char style;

    *line = n->line;
    *col = n->col;
    if (raw == NULL || n->type != SN_NODE_SCALAR)
        return;
    start = find_start(raw, raw_len, n->line, n->col);
    if (start >= raw_len)
        return;
    p = start;
    style = raw[p];
    if (style == '"' || style == '\'') {
        p++;
    } else if (style == '|' || style == '>') {
        /* The header line (indicators, comment) produces nothing. */
        while (p < raw_len && raw[p] != '\n')
            p++;
    } else {
        style = 0;
    }
    if (off > vlen)
        off = vlen;
    while (i < off && p < raw_len) {
        char rc = raw[p];

        if (style == '"' && rc == '\\') {
            size_t s, pv;

            if (p + 1 < raw_len && (raw[p + 1] == '\n' || raw[p + 1] == '\r')) {
                /* Escaped line break: joins lines, produces nothing. */
                p += 2;
                while (p < raw_len && is_ws(raw[p]))
                    p++;
                continue;
            }
            escape_len(raw, raw_len, p, &s, &pv);
            p += s;
            i += pv;
            continue;
        }
        if (style == '\'' && rc == '\'' && p + 1 < raw_len &&
            raw[p + 1] == '\'') {
            p += 2;
            i++;
            continue;
        }
        if (rc == v[i]) {
            p++;
            i++;
            continue;
        }
        if (is_ws(rc)) {
            /* Folding or indentation: the raw whitespace run stands for
             * zero or more whitespace bytes of the value. */
            while (p < raw_len && is_ws(raw[p]))
                p++;
            while (i < off && is_ws(v[i]) && (p >= raw_len || raw[p] != v[i]))
                i++;
            continue;
        }
        if (is_ws(v[i])) {
            i++;
            continue;
        }
        break; /* out of step: keep the best position so far */
    }
    /* The target may sit right after folded whitespace. */
    if (i == off && off < vlen && !is_ws(v[off]))
        while (p < raw_len && is_ws(raw[p]) && raw[p] != v[off])
            p++;
    for (size_t k = start; k < p && k < raw_len; k++) {
        if (raw[k] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)raw[k] & 0xc0) != 0x80) {
            (*col)++;
        }
    }
}

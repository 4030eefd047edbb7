/*
 * `sentineld explain [FILE|-]`: signals (one JSON object per line, as
 * det_rules' signals_file and `sentineld test --json` write them) or
 * incident documents (one per line or pretty-printed) rendered for a
 * terminal by explain_render.c. Objects may follow each other with any
 * whitespace between them.
 */
#include "cli/cli.h"
#include "cli/explain_render.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/limits.h"

static void
usage(FILE *f)
{
    fprintf(f, "usage: sentineld explain [FILE|-]\n"
               "  renders signal or incident JSON (one object per line, or "
               "an incident\n  document) as text; reads standard input "
               "when FILE is - or absent\n");
}

/* Line of byte offset off, for messages. */
static int
line_of(const char *p, size_t off)
{
    int line = 1;

    for (size_t i = 0; i < off; i++)
        line += p[i] == '\n';
    return line;
}

int
sn_cmd_explain(int argc, char **argv)
{
    const char *path = "-";
    FILE *f;
    struct sn_buf in, out;
    char chunk[65536];
    size_t r, off = 0;
    int status = 0, n = 0;
    json_tokener *tok;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "sentineld explain: unknown option '%s'\n",
                    argv[i]);
            usage(stderr);
            return 2;
        }
        path = argv[i];
    }
    f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "sentineld explain: cannot read %s: %s\n", path,
                strerror(errno));
        return 1;
    }
    sn_buf_init(&in, SN_CLI_EXPLAIN_MAX_INPUT);
    while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (sn_buf_append(&in, chunk, r) != SN_OK) {
            fprintf(stderr, "sentineld explain: %s is larger than %zu MiB\n",
                    path, SN_CLI_EXPLAIN_MAX_INPUT >> 20);
            status = 1;
            break;
        }
    if (f != stdin)
        fclose(f);
    sn_buf_init(&out, (size_t)64 << 20);
    tok = json_tokener_new();
    while (status == 0 && tok != NULL) {
        json_object *obj;
        enum json_tokener_error jerr;

        while (off < in.len && strchr(" \t\r\n", in.data[off]) != NULL)
            off++;
        if (off >= in.len)
            break;
        json_tokener_reset(tok);
        obj = json_tokener_parse_ex(tok, in.data + off, (int)(in.len - off));
        jerr = json_tokener_get_error(tok);
        if (obj == NULL || jerr != json_tokener_success) {
            fprintf(stderr, "sentineld explain: %s:%d: not JSON: %s\n", path,
                    line_of(in.data, off),
                    jerr == json_tokener_continue
                        ? "the input ends inside an object"
                        : json_tokener_error_desc(jerr));
            json_object_put(obj);
            status = 1;
            break;
        }
        sn_buf_reset(&out);
        if (n++ > 0)
            sn_buf_putc(&out, '\n');
        if (!sn_explain_render(obj, &out)) {
            fprintf(stderr, "sentineld explain: %s:%d: %.*s", path,
                    line_of(in.data, off), (int)out.len, out.data);
            status = 1;
        } else {
            fwrite(out.data, 1, out.len, stdout);
        }
        off += (size_t)json_tokener_get_parse_end(tok);
        json_object_put(obj);
    }
    if (status == 0 && n == 0) {
        fprintf(stderr, "sentineld explain: %s: no signal or incident\n",
                path);
        status = 1;
    }
    json_tokener_free(tok);
    sn_buf_fini(&in);
    sn_buf_fini(&out);
    return status;
}

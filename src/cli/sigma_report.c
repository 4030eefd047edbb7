/* The Sigma load report; see sigma_report.h. */
#include "cli/sigma_report.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/diag.h"
#include "rules/load.h"

struct reason {
    char *text;
    size_t n;
    char *first; /* file:line:col of the first rule with it */
};

struct report {
    struct reason *r[2]; /* skipped, errors */
    size_t n[2];
    size_t files, loaded, skipped, errors;
    const char *const *maps;
    size_t n_maps;
};

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_reason(const void *a, const void *b)
{
    const struct reason *x = a, *y = b;

    return x->n != y->n ? (x->n < y->n) - (x->n > y->n)
                        : strcmp(x->text, y->text);
}

static void
count(struct report *rp, int kind, const char *text, const struct sn_diag *it)
{
    struct reason *p;
    char where[512];

    for (size_t i = 0; i < rp->n[kind]; i++)
        if (strcmp(rp->r[kind][i].text, text) == 0) {
            rp->r[kind][i].n++;
            return;
        }
    p = realloc(rp->r[kind], (rp->n[kind] + 1) * sizeof(*p));
    if (p == NULL)
        return;
    rp->r[kind] = p;
    snprintf(where, sizeof(where), "%s:%d:%d", it->file ? it->file : "?",
             it->line, it->col);
    p[rp->n[kind]].text = strdup(text);
    p[rp->n[kind]].first = strdup(where);
    p[rp->n[kind]].n = 1;
    if (p[rp->n[kind]].text != NULL)
        rp->n[kind]++;
}

/* The reason without the rule it is about: `rule "ID": ` and `skipped: `
 * are cut so equal reasons group. */
static const char *
reason_of(const char *msg)
{
    if (strncmp(msg, "rule \"", 6) == 0) {
        const char *e = strstr(msg, "\": ");
        if (e != NULL)
            msg = e + 3;
    }
    if (strncmp(msg, "skipped: ", 9) == 0)
        msg += 9;
    return msg;
}

static void
one_file(struct report *rp, const char *path)
{
    struct sn_rules_src *src = sn_rules_src_new();
    struct sn_ruleset *rs = NULL;
    struct sn_diags d;
    size_t errors_before;

    if (src == NULL)
        return;
    sn_diags_init(&d);
    for (size_t i = 0; i < rp->n_maps; i++)
        sn_rules_src_add_path(src, rp->maps[i], &d);
    errors_before = d.n_errors;
    sn_rules_src_add_file(src, path, &d);
    if (errors_before == 0)
        sn_ruleset_build(src, &rs, &d);
    rp->files++;
    if (rs != NULL)
        rp->loaded += rs->n_rules;
    for (size_t i = 0; i < d.n; i++) {
        const struct sn_diag *it = &d.items[i];
        bool skip = strstr(it->msg, "skipped: ") != NULL;
        if (it->level == SN_DIAG_ERROR) {
            rp->errors++;
            count(rp, 1, reason_of(it->msg), it);
        } else if (skip) {
            rp->skipped++;
            count(rp, 0, reason_of(it->msg), it);
        }
    }
    sn_ruleset_free(rs);
    sn_rules_src_free(src);
    sn_diags_fini(&d);
}

static int
walk(struct report *rp, const char *dir)
{
    DIR *dh = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0;

    if (dh == NULL)
        return -1;
    while ((de = readdir(dh)) != NULL) {
        size_t l = strlen(de->d_name), full = strlen(dir) + l + 2;
        char **p;
        if (de->d_name[0] == '.')
            continue;
        if ((p = realloc(names, (n + 1) * sizeof(*names))) == NULL)
            break;
        names = p;
        if ((names[n] = malloc(full)) == NULL)
            break;
        snprintf(names[n++], full, "%s/%s", dir, de->d_name);
    }
    closedir(dh);
    qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        size_t l = strlen(names[i]);
        if (stat(names[i], &st) == 0 && S_ISDIR(st.st_mode))
            walk(rp, names[i]);
        else if ((l > 4 && strcmp(names[i] + l - 4, ".yml") == 0) ||
                 (l > 5 && strcmp(names[i] + l - 5, ".yaml") == 0))
            one_file(rp, names[i]);
        free(names[i]);
    }
    free(names);
    return 0;
}

int
sn_cli_sigma_report(const char *dir, const char *const *maps, size_t n_maps,
                    FILE *out)
{
    static const char *const title[2] = { "skipped", "errors" };
    struct report rp;

    memset(&rp, 0, sizeof(rp));
    rp.maps = maps;
    rp.n_maps = n_maps;
    if (walk(&rp, dir) != 0) {
        fprintf(stderr, "sentineld check: cannot read %s\n", dir);
        return 2;
    }
    fprintf(out,
            "%s: %zu files, %zu rules load, %zu skipped, %zu with errors\n",
            dir, rp.files, rp.loaded, rp.skipped, rp.errors);
    for (int k = 0; k < 2; k++) {
        if (rp.n[k] == 0)
            continue;
        fprintf(out, "%s, by reason:\n", title[k]);
        qsort(rp.r[k], rp.n[k], sizeof(*rp.r[k]), cmp_reason);
        for (size_t i = 0; i < rp.n[k]; i++) {
            fprintf(out, "  %5zu  %s (first: %s)\n", rp.r[k][i].n,
                    rp.r[k][i].text, rp.r[k][i].first);
            free(rp.r[k][i].text);
            free(rp.r[k][i].first);
        }
        free(rp.r[k]);
    }
    return rp.errors ? 1 : 0;
}

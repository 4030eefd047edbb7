/*
 * PCRE2 compile, required-literal extraction and the injection lint; see
 * regex.h. The pattern scanners here understand just enough PCRE2 syntax
 * to be conservative: anything unfamiliar ends a literal run or gives up,
 * which can only make the prefilter let more events through.
 */
#include "rules/regex.h"

#include <stdio.h>
#include <string.h>

#include "rules/limits.h"

enum sn_status
sn_regex_compile(const char *pat, size_t len, bool ci, pcre2_code **out,
                 bool *jit, char *err, size_t err_len, size_t *erroff)
{
    int code = 0;
    PCRE2_SIZE off = 0;
    /* \C can split a character and NEVER_BACKSLASH_C forbids it; the rest
     * is PCRE2's default syntax, in byte mode. */
    uint32_t opts = PCRE2_NEVER_BACKSLASH_C | (ci ? PCRE2_CASELESS : 0);

    *out = pcre2_compile((PCRE2_SPTR)pat, len, opts, &code, &off, NULL);
    *jit = false;
    if (*out == NULL) {
        PCRE2_UCHAR8 msg[200];

        if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", code);
        snprintf(err, err_len, "%s", (const char *)msg);
        *erroff = off;
        return SN_EINVAL;
    }
    *jit = pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE) == 0;
    return SN_OK;
}

static bool
is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || c == '_';
}

/* Index just past the character class starting at pat[i] == '['. */
static size_t
skip_class(const char *pat, size_t len, size_t i)
{
    i++;
    if (i < len && pat[i] == '^')
        i++;
    if (i < len && pat[i] == ']')
        i++; /* a leading ']' is literal */
    while (i < len && pat[i] != ']') {
        if (pat[i] == '\\')
            i++;
        else if (pat[i] == '[' && i + 1 < len && pat[i + 1] == ':') {
            const char *e = strstr(pat + i, ":]");
            if (e != NULL && (size_t)(e - pat) < len)
                i = (size_t)(e - pat) + 1;
        }
        i++;
    }
    return i < len ? i + 1 : len;
}

/* Index just past the group starting at pat[i] == '('. */
static size_t
skip_group(const char *pat, size_t len, size_t i)
{
    int depth = 0;

    while (i < len) {
        char c = pat[i];

        if (c == '\\') {
            i += 2;
            continue;
        }
        if (c == '[') {
            i = skip_class(pat, len, i);
            continue;
        }
        if (c == '(')
            depth++;
        else if (c == ')' && --depth == 0)
            return i + 1;
        i++;
    }
    return len;
}

/* Index past a quantifier at pat[i] (and its lazy/possessive suffix), or
 * i when there is none. *optional: the quantified atom may be absent. */
static size_t
quantifier(const char *pat, size_t len, size_t i, bool *optional)
{
    *optional = false;
    if (i >= len)
        return i;
    if (pat[i] == '*' || pat[i] == '?') {
        *optional = true;
        i++;
    } else if (pat[i] == '+') {
        i++;
    } else if (pat[i] == '{' && i + 1 < len &&
               ((pat[i + 1] >= '0' && pat[i + 1] <= '9') ||
                pat[i + 1] == ',')) {
        const char *e = memchr(pat + i, '}', len - i);
        if (e == NULL)
            return i; /* a literal '{' in PCRE2 */
        /* {0,n} and (PCRE2 >= 10.43) {,n} allow zero repetitions. */
        *optional = pat[i + 1] == '0' || pat[i + 1] == ',';
        i = (size_t)(e - pat) + 1;
    } else {
        return i;
    }
    if (i < len && (pat[i] == '?' || pat[i] == '+'))
        i++;
    return i;
}

/* Longest required literal run of one alternative pat[b..e). */
static size_t
best_run(const char *pat, size_t b, size_t e, char *best)
{
    char run[SN_RULES_REQ_RUN_MAX];
    size_t n = 0, best_n = 0, i = b;

#define END_RUN()                                                              \
    do {                                                                       \
        if (n > best_n) {                                                      \
            memcpy(best, run, n);                                              \
            best_n = n;                                                        \
        }                                                                      \
        n = 0;                                                                 \
    } while (0)

    while (i < e) {
        char c = pat[i], lit;
        size_t next;
        bool optional;

        if (c == '\\') {
            if (i + 1 >= e || is_alnum(pat[i + 1])) {
                /* \d, \s, \x41, \1, \p{..}: not a literal character. */
                END_RUN();
                i += 2;
                if (i < e && pat[i] == '{')
                    while (i < e && pat[i] != '}')
                        i++;
                continue;
            }
            lit = pat[i + 1];
            next = i + 2;
        } else if (c == '[') {
            END_RUN();
            i = skip_class(pat, e, i);
            continue;
        } else if (c == '(') {
            END_RUN();
            i = skip_group(pat, e, i);
            continue;
        } else if (c == '.' || c == '^' || c == '$' || c == '*' || c == '+' ||
                   c == '?' || c == '{' || c == '|' || c == ')') {
            END_RUN();
            i++;
            continue;
        } else {
            lit = c;
            next = i + 1;
        }
        i = quantifier(pat, e, next, &optional);
        if (optional) {
            END_RUN();
            continue;
        }
        if (n == SN_RULES_REQ_RUN_MAX)
            END_RUN();
        run[n++] = lit;
        if (i != next) /* a+ or a{2}: what follows need not be adjacent */
            END_RUN();
    }
    END_RUN();
#undef END_RUN
    return best_n;
}

enum sn_status
sn_regex_required(const char *pat, size_t len, struct sn_arena *a,
                  struct sn_str **out, size_t *n)
{
    size_t alts[SN_RULES_REQ_ALT_MAX + 1], n_alts = 0;
    struct sn_str *res;

    *out = NULL;
    *n = 0;
    /* \Q..\E quoting and extended mode (whitespace is not literal) are
     * beyond this scanner: give up. */
    for (size_t i = 0; i + 1 < len; i++) {
        if (pat[i] == '\\' && pat[i + 1] == 'Q')
            return SN_OK;
        if (pat[i] == '(' && pat[i + 1] == '?' && i + 2 < len &&
            pat[i + 2] != ':' && pat[i + 2] != '<' && pat[i + 2] != '=' &&
            pat[i + 2] != '!' && pat[i + 2] != 'P' && pat[i + 2] != '\'') {
            for (size_t k = i + 2; k < len && pat[k] != ')' && pat[k] != ':';
                 k++)
                if (pat[k] == 'x')
                    return SN_OK;
        }
    }
    /* Split at top-level '|'. */
    alts[n_alts++] = 0;
    for (size_t i = 0; i < len;) {
        if (pat[i] == '\\') {
            i += 2;
        } else if (pat[i] == '[') {
            i = skip_class(pat, len, i);
        } else if (pat[i] == '(') {
            i = skip_group(pat, len, i);
        } else if (pat[i] == '|') {
            if (n_alts == SN_RULES_REQ_ALT_MAX)
                return SN_OK;
            alts[n_alts++] = ++i;
        } else {
            i++;
        }
    }
    alts[n_alts] = len + 1;
    res = sn_arena_alloc(a, n_alts * sizeof(*res));
    if (res == NULL)
        return SN_ENOMEM;
    for (size_t k = 0; k < n_alts; k++) {
        char best[SN_RULES_REQ_RUN_MAX];
        size_t bn = best_run(pat, alts[k], alts[k + 1] - 1, best);
        char *copy;

        if (bn == 0)
            return SN_OK; /* this alternative needs no literal */
        copy = sn_arena_memdup(a, best, bn);
        if (copy == NULL)
            return SN_ENOMEM;
        res[k].ptr = copy;
        res[k].len = bn;
    }
    *out = res;
    *n = n_alts;
    return SN_OK;
}

/* Offset of the named group's '(' or len. */
static size_t
find_group(const char *pat, size_t len, const char *group)
{
    size_t gl = strlen(group);

    for (size_t i = 0; i + 3 < len; i++) {
        size_t name;

        if (pat[i] == '\\') {
            i++;
            continue;
        }
        if (pat[i] != '(' || pat[i + 1] != '?')
            continue;
        if (pat[i + 2] == '<' || pat[i + 2] == '\'')
            name = i + 3;
        else if (pat[i + 2] == 'P' && pat[i + 3] == '<')
            name = i + 4;
        else
            continue;
        if (name + gl < len && memcmp(pat + name, group, gl) == 0 &&
            (pat[name + gl] == '>' || pat[name + gl] == '\''))
            return i;
    }
    return len;
}

/* Offset of the first greedy `.*` or `.+` in pat[b..e), or e. */
static size_t
find_greedy_wild(const char *pat, size_t b, size_t e)
{
    for (size_t i = b; i + 1 < e; i++) {
        if (pat[i] == '\\') {
            i++;
            continue;
        }
        if (pat[i] == '[') {
            i = skip_class(pat, e, i) - 1;
            continue;
        }
        if (pat[i] == '.' && (pat[i + 1] == '*' || pat[i + 1] == '+') &&
            !(i + 2 < e && pat[i + 2] == '?'))
            return i;
    }
    return e;
}

bool
sn_regex_injection_risk(const char *pat, size_t len, const char *group,
                        size_t *wild_off)
{
    size_t g = find_group(pat, len, group), w, end;
    bool anchored;

    if (g == len)
        return false;
    w = find_greedy_wild(pat, 0, g);
    if (w == g)
        return false;
    *wild_off = w;
    /* Pinned: after the group only wildcard-free text up to an end
     * anchor, so the greedy wildcard must stop at the LAST occurrence of
     * that exact suffix, which the logging program wrote itself. */
    end = skip_group(pat, len, g);
    anchored = (len >= 1 && pat[len - 1] == '$' &&
                !(len >= 2 && pat[len - 2] == '\\')) ||
               (len >= 2 && pat[len - 2] == '\\' &&
                (pat[len - 1] == 'z' || pat[len - 1] == 'Z'));
    if (anchored && find_greedy_wild(pat, end, len) == len)
        return false;
    return true;
}

/* Characters that stand for themselves anywhere outside a class in
 * PCRE2's default (non-extended) syntax; the run stops at anything else. */
static bool
is_plain(char c)
{
    return is_alnum(c) || (c != '\0' && strchr(" !\"#%&',-/:;<=>@`~", c));
}

/*
 * The length of the opener at i ("(?:" or "(?<name>") of a group every
 * match goes through: not quantified (?, *, {0,...}: a "+" is fine) and
 * without a top-level '|' inside. 0 for anything else (lookarounds,
 * plain "(" groups, options).
 */
static size_t
mandatory_group_open(const char *pat, size_t len, size_t i)
{
    size_t open, depth = 0, j;

    if (i + 2 >= len || pat[i] != '(' || pat[i + 1] != '?')
        return 0;
    if (pat[i + 2] == ':') {
        open = 3;
    } else if (pat[i + 2] == '<' && i + 3 < len && is_alnum(pat[i + 3])) {
        open = 3;
        while (i + open < len && (is_alnum(pat[i + open]) || pat[i + open] == '_'))
            open++;
        if (i + open >= len || pat[i + open] != '>')
            return 0;
        open++;
    } else {
        return 0;
    }
    for (j = i; j < len; j++) {
        if (pat[j] == '\\') {
            j++;
        } else if (pat[j] == '[') {
            j = skip_class(pat, len, j) - 1;
        } else if (pat[j] == '(') {
            depth++;
        } else if (pat[j] == ')') {
            if (--depth == 0)
                break;
        } else if (pat[j] == '|' && depth == 1) {
            return 0;
        }
    }
    if (j >= len)
        return 0;
    if (j + 1 < len &&
        (pat[j + 1] == '?' || pat[j + 1] == '*' || pat[j + 1] == '{'))
        return 0;
    return open;
}

size_t
sn_regex_anchored_prefix(const char *pat, size_t len, bool ci, char *out,
                         size_t out_max)
{
    size_t n = 0;
    int depth = 0;

    if (ci || len < 2 || pat[0] != '^')
        return 0;
    /* Every match must go through the leading ^: no | at the top level.
     * Quoting, comments and extended mode could hide one: give up. */
    for (size_t i = 0; i < len; i++) {
        char c = pat[i];

        if (c == '\\') {
            if (i + 1 < len && (pat[i + 1] == 'Q' || pat[i + 1] == 'E'))
                return 0;
            i++;
        } else if (c == '[') {
            i = skip_class(pat, len, i);
            if (i >= len && pat[len - 1] != ']')
                return 0;
            i--;
        } else if (c == '(') {
            depth++;
            if (i + 1 < len && pat[i + 1] == '?') {
                for (size_t k = i + 2; k < len && pat[k] != ')' &&
                                       pat[k] != ':';
                     k++) {
                    if (pat[k] == '#' || pat[k] == 'x')
                        return 0;
                    if (!(pat[k] >= 'a' && pat[k] <= 'z') &&
                        pat[k] != '-' && pat[k] != '^')
                        break; /* a group kind, not options */
                }
            }
        } else if (c == ')') {
            depth--;
        } else if (c == '|' && depth == 0) {
            return 0;
        }
    }
    {
        size_t i = 1, g;

        /* The run may start inside mandatory groups: "^(?<reason>ROOT
         * LOGIN) FROM" needs "ROOT LOGIN" as much as "^ROOT LOGIN". */
        while ((g = mandatory_group_open(pat, len, i)) > 0)
            i += g;
        for (; i < len && is_plain(pat[i]) && n < out_max; i++)
            out[n++] = pat[i];
        /* A quantifier after the run applies to its last character. */
        if (n > 0 && i < len &&
            (pat[i] == '?' || pat[i] == '*' || pat[i] == '+' ||
             pat[i] == '{'))
            n--;
    }
    return n;
}

/*
 * Rule files -> a compiled, immutable ruleset. A rule file holds one or
 * more YAML documents, each either a single rule (a mapping with `id`) or
 * a mapping with `rules:` (a list of rules) and/or `lists:` (named lists
 * shared by every rule of the ruleset). Every problem is reported into a
 * struct sn_diags with file:line:col and a suggestion where one exists;
 * docs/rules.md is the user's reference. Correlation keys are kept as
 * YAML nodes, not interpreted yet (the next slice of issue 5).
 */
#ifndef SN_RULES_LOAD_H
#define SN_RULES_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "config/diag.h"
#include "config/yaml.h"
#include "core/arena.h"
#include "rules/compile.h"
#include "rules/prefilter.h"

enum sn_rule_severity {
    SN_SEV_INFO = 0,
    SN_SEV_LOW,
    SN_SEV_MEDIUM,
    SN_SEV_HIGH,
    SN_SEV_CRITICAL,
};

/* Name of a severity ("high"). */
const char *sn_rule_severity_name(enum sn_rule_severity s);

enum sn_xtype { SN_XT_STRING = 0, SN_XT_INT, SN_XT_IP };

/* One field a rule extracts; its index is the rule's extraction slot. */
struct sn_xfield {
    const char *name;
    size_t name_len;
    uint32_t field; /* id in the ruleset's field table */
    enum sn_xtype type;
};

/* Capture group -> extraction slot. */
struct sn_xcap {
    uint32_t group;
    uint32_t slot;
};

/* One `extract` entry: a regex over one field and where its groups go. */
struct sn_extract {
    uint32_t from; /* field id of the subject */
    const char *from_name;
    pcre2_code *re;
    const char *pattern;
    struct sn_xcap *caps;
    size_t n_caps;
    /* Entries with the same pattern over the same field share a class
     * (YAML anchors repeat an entry in several rules): eval matches a
     * class once per event. Below the ruleset's n_re_classes. */
    uint32_t re_class;
    bool jit; /* re is JIT-compiled: eval calls pcre2_jit_match */
    /* Every subject re matches starts with these bytes (anchored literal
     * prefix; len 0: unknown): others are not matched at all. */
    const char *prefix;
    size_t prefix_len;
    /* ,"from":from_name and ,"regex":pattern for trace rows
     * (sn_compile_member_json); NULL: the row renders them. */
    const char *from_json, *pattern_json;
    uint32_t from_json_len, pattern_json_len;
};

/* A field every match of a rule carries with a fixed value (`set:`), as
 * a classification: event.category: authentication. */
struct sn_rule_const {
    const char *name;
    size_t name_len;
    struct sn_value v; /* a string */
};

struct sn_rule {
    uint32_t index; /* position in the ruleset */
    const char *id, *title, *description;
    size_t id_len;
    enum sn_rule_severity severity;
    const char *const *tags;
    size_t n_tags;
    bool enabled;
    /* A rate or absence watcher: it takes every event its match passes
     * to judge a volume or a silence, so an event is not "its match" and
     * is not tagged with it (rule.id on events, `sentineld test`). */
    bool aggregate;
    struct sn_cnode *match;
    const char *match_text;
    struct sn_extract *extract;
    size_t n_extract;
    struct sn_xfield *xfields;
    size_t n_xfields;
    /* `set:` fields, after the extracted ones in every match. */
    const struct sn_rule_const *consts;
    size_t n_consts;
    /* The consts as an evidence summary renders them, each
     * ,"name":"value" (sn_corr_summary_field), rendered at load: const i
     * is consts_json[consts_json_off[i], consts_json_off[i + 1]). NULL
     * without consts. */
    const char *consts_json;
    const uint32_t *consts_json_off;
    /* Correlation and sample keys, uninterpreted (nodes of the ruleset's
     * YAML trees: valid as long as the ruleset). */
    const struct sn_pair *const *kept;
    size_t n_kept;
    /* Literals the prefilter needs in msg (one of them); n_req 0: none. */
    struct sn_str *req;
    size_t n_req;
    /* A Sigma rule: its metadata as a JSON object (status, level,
     * logsource, falsepositives, references...), shown with its signals
     * and on the rules route; NULL for native rules. */
    const char *sigma;
    const char *file;
    int line, col;
};

struct sn_ruleset {
    struct sn_rule *rules;
    size_t n_rules;
    struct sn_field_table fields;
    struct sn_regex_list regexes;
    struct sn_rule_list *lists;
    size_t n_lists;
    struct sn_prefilter *pf;
    size_t max_xfields;    /* over all rules: sizes per-thread scratch */
    size_t total_xfields;  /* sum over rules: sizes result storage */
    size_t n_re_classes;   /* distinct (pattern, from) of extract entries */
    struct sn_arena arena; /* compiled trees, strings */
    struct sn_yaml **docs; /* the rule files, kept for `kept` nodes */
    size_t n_docs;
};

/* Files collected before building, so lists may be used across files. */
struct sn_rules_src;

/* NULL on ENOMEM. */
struct sn_rules_src *sn_rules_src_new(void);
void sn_rules_src_free(struct sn_rules_src *src);
/* Read and parse one file (YAML errors go to d; no env expansion: rule
 * text is taken literally). SN_ECONFIG when it had errors. */
enum sn_status sn_rules_src_add_file(struct sn_rules_src *src, const char *path,
                                     struct sn_diags *d);
/* A rule file, or every *.yaml file of a directory in name order. */
enum sn_status sn_rules_src_add_path(struct sn_rules_src *src,
                                     const char *path, struct sn_diags *d);
/* The same from memory; name is used in diagnostics. */
enum sn_status sn_rules_src_add_mem(struct sn_rules_src *src, const char *name,
                                    const char *data, size_t len,
                                    struct sn_diags *d);

/*
 * Validate and compile every rule of src. On success *out is a ruleset
 * that may be shared read-only by any number of threads; it takes over
 * src's YAML trees (src must still be freed). Warnings do not fail the
 * build. Returns SN_ECONFIG when any error was reported (*out is NULL),
 * SN_ENOMEM/SN_ELIMIT on exhaustion.
 */
enum sn_status sn_ruleset_build(struct sn_rules_src *src,
                                struct sn_ruleset **out, struct sn_diags *d);
void sn_ruleset_free(struct sn_ruleset *rs);
/* The rule with this id, or NULL. */
const struct sn_rule *sn_ruleset_find(const struct sn_ruleset *rs,
                                      const char *id);

#endif

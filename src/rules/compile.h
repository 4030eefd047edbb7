/*
 * Compiled match expressions: the syntax tree of expr_parse.h with field
 * names resolved to small integer ids (one field table per ruleset),
 * literals pre-parsed (numbers, addresses, prefixes) and pre-folded for
 * case-insensitive operators, `in` lists turned into sorted sets and
 * regexes compiled with JIT. Compiled trees are immutable and shared by
 * all worker threads; eval.c walks them. The loader (load.c) owns the
 * arena and the regex list they live in.
 */
#ifndef SN_RULES_COMPILE_H
#define SN_RULES_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "config/diag.h"
#include "config/yaml.h"
#include "core/arena.h"
#include "rules/expr_parse.h"
#include "rules/ip.h"
#include "rules/regex.h"

/* Field ids below SN_RF_COUNT_ are the syslog header fields, fixed so an
 * event accessor can switch on the id; later ids are per ruleset. */
enum sn_rule_field_id {
    SN_RF_HOSTNAME = 0,
    SN_RF_APPNAME,
    SN_RF_PROCID,
    SN_RF_MSGID,
    SN_RF_MSG,
    SN_RF_SEVERITY, /* int 0..7 */
    SN_RF_FACILITY, /* int 0..23 */
    SN_RF_PRI,      /* int */
    SN_RF_COUNT_
};

/* Names of the header fields, indexed by enum sn_rule_field_id. */
extern const char *const sn_rule_header_fields[SN_RF_COUNT_];

struct sn_field_table {
    char **names;
    size_t *lens;
    size_t n, cap;
};

/* Header fields are entered first; returns SN_ENOMEM on failure. */
enum sn_status sn_field_table_init(struct sn_field_table *t);
void sn_field_table_fini(struct sn_field_table *t);
/* Id of name, adding it when new; SN_ELIMIT past SN_RULES_MAX_FIELDS. */
enum sn_status sn_field_table_intern(struct sn_field_table *t, const char *name,
                                     uint32_t *id);
/* Id of name or -1. */
int sn_field_table_find(const struct sn_field_table *t, const char *name);

/* A literal as comparisons use it. */
enum sn_clit_kind { SN_CL_STR = 0, SN_CL_NUM, SN_CL_BOOL, SN_CL_IP };

struct sn_clit {
    enum sn_clit_kind kind;
    struct sn_str s; /* STR: the bytes, ASCII-lowered when ci */
    bool ci;
    bool has_num; /* NUM, or a STR that reads as a number ("22") */
    bool is_int;
    int64_t i;
    double d;
    bool b;
    bool has_ip; /* IP, or a STR that reads as an address */
    struct sn_ip ip;
};

/* The value side of `in`: each item filed under every type it reads as. */
struct sn_cset {
    bool ci;
    struct sn_str *strs; /* sorted (memcmp), lowered when ci */
    size_t n_strs;
    double *nums; /* sorted */
    size_t n_nums;
    struct sn_ip *ips; /* sorted (family, addr) */
    size_t n_ips;
    bool has_true, has_false;
};

/* A shared list from a `lists:` document. */
struct sn_rule_list {
    const char *name;
    const struct sn_node *node;   /* the YAML sequence */
    struct sn_cset *set, *set_ci; /* built on first use */
    struct sn_cidr *cidrs;        /* built on first use by `cidr` */
    size_t n_cidrs;
    bool used;
};

enum sn_cnode_kind {
    SN_CN_AND = 0,
    SN_CN_OR,
    SN_CN_NOT,
    SN_CN_CONST,
    SN_CN_EXISTS,
    SN_CN_CMP,
};

struct sn_cnode {
    enum sn_cnode_kind kind;
    enum sn_cmp_op op;
    bool value; /* CONST */
    /* EXISTS/CMP: the field; xslot >= 0 when the rule extracts it */
    uint32_t field;
    int32_t xslot;
    const char *field_name;
    /* AND/OR/NOT */
    struct sn_cnode **kids;
    size_t n_kids;
    /* CMP, by operator */
    struct sn_clit lit;          /* == != < <= > >= contains starts/endswith */
    const struct sn_cset *set;   /* in */
    const struct sn_cidr *cidrs; /* cidr */
    size_t n_cidrs;
    pcre2_code *re;     /* =~ !~ */
    struct sn_str *req; /* =~: literals the regex needs (prefilter) */
    size_t n_req;
    /* As written, for traces: the whole predicate and its value part. */
    const char *text;
    const char *lit_text;
    /* ,"expr":text and ,"field":field_name as a trace's JSON rows write
     * them (sn_json_member_str), rendered at compile: a signal carries
     * the trace of its event, and these were most of its cost. NULL: not
     * rendered (the row renders them). */
    const char *expr_json, *field_json;
    uint32_t expr_json_len, field_json_len;
};

/* Regexes a ruleset owns (freed with it). */
struct sn_regex_list {
    pcre2_code **items;
    size_t n, cap;
    uint32_t max_captures; /* over all of them: sizes match data */
    size_t n_no_jit;
};

enum sn_status sn_regex_list_add(struct sn_regex_list *l, pcre2_code *re);
void sn_regex_list_fini(struct sn_regex_list *l);

/*
 * Where compile reports problems: at a byte offset of the expression, or
 * at a YAML node (items of shared lists). msg is complete; suggestions
 * are already in it.
 */
struct sn_compile_report {
    void (*at_offset)(void *arg, enum sn_diag_level level, size_t off,
                      const char *msg);
    void (*at_node)(void *arg, enum sn_diag_level level,
                    const struct sn_node *n, const char *msg);
    void *arg;
};

struct sn_compile_ctx {
    struct sn_arena *arena; /* the ruleset's: compiled trees live here */
    struct sn_field_table *fields;
    struct sn_regex_list *regexes;
    struct sn_rule_list *lists;
    size_t n_lists;
    /* Field names the current rule extracts; index = extraction slot. */
    const char *const *xnames;
    size_t n_xnames;
    /* Every field name known to exist (header + all extracted), for the
     * "did you mean" warning on unknown fields. */
    const char *const *known;
    size_t n_known;
    struct sn_compile_report report;
    size_t n_errors; /* errors reported by this ctx so far */
};

/* ,"key":"s" as sn_json_member_str writes it, copied into a: what a
 * trace row writes for a constant of the ruleset (sn_cnode.expr_json).
 * NULL on ENOMEM or past 4 GiB (the row then renders it). */
const char *sn_compile_member_json(struct sn_arena *a, const char *key,
                                   const char *s, uint32_t *len);

/*
 * Compile the tree e parsed from src into *out (arena memory). Every
 * problem is reported (not only the first); returns SN_ECONFIG when any
 * was an error, SN_ENOMEM/SN_ELIMIT on exhaustion.
 */
enum sn_status sn_compile_expr(struct sn_compile_ctx *c, const char *src,
                               const struct sn_expr *e, struct sn_cnode **out);

/* Build a set from YAML list items (for `in @list`); also used by tests. */
enum sn_status sn_compile_list_set(struct sn_compile_ctx *c,
                                   struct sn_rule_list *l, bool ci,
                                   const struct sn_cset **out);

/* ASCII lower-casing table: case-insensitive operators fold ASCII only
 * (documented); bytes >= 0x80 compare exactly. */
extern const unsigned char sn_fold[256];

/* Strict whole-slice number parse ("22", "-1.5"); false on any other text. */
bool sn_parse_number(const char *s, size_t len, bool *is_int, int64_t *i,
                     double *d);

#endif

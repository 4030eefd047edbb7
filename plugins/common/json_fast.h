/*
 * A small strict JSON reader for the event mapping of json_event.c: no
 * allocation, no tree, strings without escapes stay slices of the record.
 * It takes the common shape (what out_kafka and out_file write) and says
 * "not mine" for anything unusual (arrays, escapes it does not decode,
 * duplicate keys, nesting at max_depth, numbers json-c might read
 * differently, invalid JSON), which then goes to the json-c path, so the
 * result and every error message stay exactly json-c's
 * (tests/unit/test_json_event.c compares both on generated documents).
 */
#ifndef SN_PLUGINS_JSON_FAST_H
#define SN_PLUGINS_JSON_FAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Members per object the fast path takes; more go to json-c. */
#define JF_MAX_MEMBERS 64

enum jf_type {
    JF_NULL,
    JF_BOOL,
    JF_INT,
    JF_DOUBLE,
    JF_STR,
    JF_OBJ,
    JF_ARR, /* jf_top_members only */
};

struct jf_val {
    enum jf_type type;
    bool esc;      /* JF_STR: has backslash escapes (jf_unescape) */
    const char *p; /* JF_STR: between the quotes; JF_OBJ, JF_ARR: bracket to bracket */
    size_t n;
    union {
        bool b;
        int64_t i;
        double d;
    } u;
};

struct jf_member {
    const char *key; /* never escaped (escaped keys go to json-c) */
    size_t key_len;
    struct jf_val v;
};

struct jf_obj {
    struct jf_member m[JF_MAX_MEMBERS];
    size_t n;
};

/*
 * Checks a whole record: one object, only whitespace after it, every
 * nested object below level max_depth and within the limits above.
 * Fills `root` with the top-level members. False: not for the fast path.
 */
bool jf_check(const char *p, size_t n, int max_depth, struct jf_obj *root);

/* Members of an object value jf_check accepted (cannot fail then). */
void jf_members(const struct jf_val *obj, struct jf_obj *out);

/*
 * The members named keys[0..n_keys) (at most 32) at the top level of the
 * one object p[0..n): vals[i] is keys[i]'s value as a slice of p when it
 * is a string (JF_STR, between the quotes; jf_unescape when esc), an
 * object (JF_OBJ) or an array (JF_ARR), both from the bracket to its
 * match (checked, not read: jf_check, jf_array_strings); else type
 * JF_NULL (absent, or a number, boolean or null). Every other member is
 * checked and skipped whatever it holds, without building anything: for
 * a reader that needs a few known members of a large document
 * (out_webhook's classification, out_alertmanager's alert). False when
 * the text is not strict JSON this reader takes (as jf_check declines;
 * nesting at JF_SKIP_DEPTH) or a named key comes twice (json-c keeps the
 * last): ask json-c then.
 */
#define JF_SKIP_DEPTH 32 /* json-c's default tokener depth */
bool jf_top_members(const char *p, size_t n, const char *const *keys,
                    size_t n_keys, struct jf_val *vals);

/*
 * The elements of an array jf_top_members gave (JF_ARR) when every one
 * is a string and there are at most max: out[0..*n_out). False for
 * anything else (numbers, objects, null, more than max elements).
 */
bool jf_array_strings(const struct jf_val *arr, struct jf_val *out, size_t max,
                      size_t *n_out);

/* Decodes an escaped string jf_check accepted into out (at least v->n
 * bytes); returns the decoded length. */
size_t jf_unescape(const struct jf_val *v, char *out);

#endif

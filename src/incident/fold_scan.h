/*
 * The fast way to prepare a signal for the fold: one pass over its JSON
 * text, no json-c tree (which was most of a signal's cost on the
 * detector's thread). It gives the same struct sn_fold_sig, byte for
 * byte, as sn_fold_prepare, for the signals it takes; what it declines
 * goes to sn_fold_prepare, which also writes the errors.
 */
#ifndef SN_INCIDENT_FOLD_SCAN_H
#define SN_INCIDENT_FOLD_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include <sentineld/plugin.h>

#include "core/buf.h"
#include "incident/fold.h"
#include "incident/scrub.h"

/* Texts a scrubber left unchanged, remembered (fold_scan.c): slots, and
 * the longest text kept. */
#define SN_FOLD_MEMO      1024
#define SN_FOLD_MEMO_TEXT 4096
struct sn_fold_memo;

/* A rule's titles, descriptions and tags as read before, by their raw
 * text (fold_scan.c): slots. */
#define SN_FOLD_FIXED 256
struct sn_fold_fixed;

/* What the scrubber says of a member name, remembered (fold_scan.c):
 * slots, and the longest name kept. */
#define SN_FOLD_NAMES     256
#define SN_FOLD_NAME_TEXT 40
struct sn_fold_name;

/* Objects and arrays of the signal being read whose ends are kept
 * (fold_scan_json.c): past that many, the rest are validated again where
 * they are read again. */
#define SN_FOLD_BOXES 256

/* Scratch buffers, one per thread (the manager keeps one per emitting
 * thread next to its tokener and scrubber). */
struct sn_fold_scan {
    struct sn_buf expl, text, str, val;
    struct sn_buf tmp; /* scan's decoded fields and group key */
    size_t *ends;
    size_t cap_ends;
    struct sn_fold_memo *memo;       /* NULL until the first scrub */
    struct sn_fold_fixed *fixed;     /* NULL until the first title */
    struct sn_fold_name *names;      /* NULL until the first name */
    const struct sn_scrub *memo_for; /* the scrubber all three remember for */
    /* Where each object and array of the signal being read opens and
     * closes, in the order they open: read once when the signal is
     * validated, then skipped at once. */
    const char *box_open[SN_FOLD_BOXES], *box_close[SN_FOLD_BOXES];
    size_t n_box;
};

void sn_fold_scan_init(struct sn_fold_scan *fs);
void sn_fold_scan_fini(struct sn_fold_scan *fs);

/*
 * Any thread. SN_OK: sig is filled as sn_fold_prepare(json) fills it
 * (scrubbed with scrub, which may be NULL). SN_DECLINED: sig is empty
 * and json must go to sn_fold_prepare (a degraded signal, a sequence,
 * a double where an int is read, an escaped surrogate or NUL, duplicate
 * keys, anything that is not plain JSON). SN_ENOMEM: out of memory.
 */
enum sn_status sn_fold_scan(struct sn_fold_scan *fs, struct sn_scrub *scrub,
                            const char *json, size_t len, bool defer_expl,
                            struct sn_fold_sig *sig);
/*
 * defer_expl: a firing signal's explanation (most of its text) is not
 * scrubbed nor rendered; sig keeps a copy of json (raw) instead, and
 * sn_fold_scan_expl renders it where it is needed: the fold stores only
 * the explanation of an incident's last signal in a batch, so the others
 * never pay for theirs. Any thread, with a scrubber configured as the
 * one sn_fold_scan used. Nothing to do (SN_OK) when sig has its
 * explanation; SN_ENOMEM.
 */
enum sn_status sn_fold_scan_expl(struct sn_fold_scan *fs,
                                 struct sn_scrub *scrub,
                                 struct sn_fold_sig *sig);

#endif

/*
 * The incident side of partition state (docs/scaling.md, "Partition
 * state"; the manager's entry points are in manager.h). An incident
 * remembers the source partition of the signals that feed it (a signal's
 * "source": {"input", "topic", "partition", "offset"}); one opened by a
 * signal that names its record gets a name-based id, so reading the same
 * records again, on any instance, opens the same incident. export/import
 * move a partition's open incidents between stores; release stops this
 * store from folding into them.
 */
#ifndef SN_INCIDENT_PARTITION_H
#define SN_INCIDENT_PARTITION_H

#include <sentineld/plugin.h>

#include "core/buf.h"
#include "core/error.h"
#include "incident/fold.h"
#include "incident/incident.h"
#include "incident/store.h"

struct json_object;

/* Any thread (sn_fold_prepare): read the signal's "source" into sig
 * (absent or not an object with string input and topic and a partition
 * >= 0: none; offset optional). SN_ENOMEM only. */
enum sn_status sn_partition_sig_source(struct json_object *o,
                                       struct sn_fold_sig *sig);
/* The id of an incident opened by sig: name-based (UUID version 5) from
 * rule id, group key, input, topic, partition and offset when the signal
 * has a source offset; otherwise id is left as it is (random). */
void sn_partition_sig_id(const struct sn_fold_sig *sig,
                         char id[SN_UUID_LEN + 1]);
/* A new incident inc opened by sig (fold.c, the manager's thread): its
 * id from sig_id; when that is the id of the key's last resolved incident
 * (the same records read again on the store that already holds their
 * incident, which this one replaces), previous_id is that incident's. */
void sn_partition_open(struct sn_store *s, const struct sn_fold_sig *sig,
                       struct sn_incident *inc);
/* Tag inc with sig's partition (nothing when sig has none). */
enum sn_status sn_partition_tag(struct sn_incident *inc,
                                const struct sn_fold_sig *sig);

/*
 * On the thread that owns the store's write connection (the manager's,
 * through sn_manager_call; tests call them directly). Errors name the
 * partition, the store and what failed.
 * export: append the open, live incidents of p to out (the blob).
 * import: one transaction: release this store's live open incidents of
 *   p, then write the blob's (live again, tagged p) and queue each one's
 *   version in the outbox. data NULL or len 0: none.
 * release: mark p's live open incidents released (not folded into,
 *   auto-resolved or exported here any more).
 */
enum sn_status sn_partition_store_export(struct sn_store *s,
                                   const struct sn_partition *p,
                                   struct sn_buf *out, struct sn_error *err);
enum sn_status sn_partition_store_import(struct sn_store *s,
                                   const struct sn_partition *p,
                                   const void *data, size_t len,
                                   struct sn_buf *scratch, size_t *n,
                                   struct sn_error *err);
enum sn_status sn_partition_store_release(struct sn_store *s,
                                    const struct sn_partition *p,
                                    size_t *n, struct sn_error *err);

#endif

/*
 * Every hard limit of the daemon in one place, each with the reason for its
 * number. Plugins get their own limits through options; these bound what
 * the core itself accepts from config and peers.
 */
#ifndef SN_CORE_LIMITS_H
#define SN_CORE_LIMITS_H

/* Records per batch: large enough to amortise one queue hand-off and one
 * lock over many records, small enough that a batch stays in L2 cache. */
#define SN_BATCH_MAX_RECORDS 1024

/* Bytes of arena per batch chunk; records and their parsed fields live
 * here. One chunk holds a full batch of typical 200-byte lines. */
#define SN_BATCH_ARENA_CHUNK (512 * 1024)

/* Largest single record the core accepts from any input (the syslog
 * input enforces its own, smaller, configurable maximum). */
#define SN_RECORD_MAX (16 * 1024 * 1024)

/* Extracted fields per event: bounds the work a hostile line can cause. */
#define SN_EVENT_MAX_FIELDS 256

/* Structured-data params per event (RFC 5424 sets no limit; rsyslog
 * handles a few dozen in practice). */
#define SN_EVENT_MAX_SD_PARAMS 512

/* Worker threads: more than this is a configuration mistake on any
 * machine we target. */
#define SN_WORKERS_MAX 256

/* Config file size: a config larger than this is not hand-written. */
#define SN_CONFIG_MAX_BYTES (8 * 1024 * 1024)

/* YAML nodes that aliases may add to one document when the loader expands
 * them into a tree: a hand-written config reuses an anchor a few times
 * (a shared list of networks, a common match), never tens of thousands;
 * without a bound, a 500-byte file of nested aliases (billion laughs)
 * expands to billions of nodes. go-yaml and SnakeYAML bound it the same
 * way (a count of alias-expanded nodes). */
#define SN_CONFIG_MAX_ALIAS_NODES 10000

/* Configured plugin instances per kind. */
#define SN_INSTANCES_MAX 256

/* Rate limit for repeated log lines about bad input: one line per
 * this many milliseconds per instance and reason class. */
#define SN_LOG_RATE_MS 1000
/* Batches an output with `when_full: drop` may have waiting before the
 * workers pass it by (counted as dropped). */
#define SN_OUTPUT_DROP_QUEUE 8

/* Ingest journal (src/journal): one batch is encoded into one buffer and
 * written with one write(2). A batch holds at most one record past the
 * arena's soft limit, so a record at SN_RECORD_MAX plus a full batch of
 * small ones with their names fits in twice that. */
#define SN_JOURNAL_BUF_MAX (2 * SN_RECORD_MAX)
/* A journal record's body: the record, three names of at most 64 KiB and
 * 24 bytes of fixed fields. A length above this is a corrupt record. */
#define SN_JOURNAL_REC_MAX (SN_RECORD_MAX + 3 * 65535 + 24)

_Static_assert(SN_BATCH_MAX_RECORDS > 0 && SN_BATCH_MAX_RECORDS <= 65536,
               "batch size must fit the event index type");
_Static_assert(SN_BATCH_ARENA_CHUNK >= 64 * 1024, "arena chunk too small");

/* Live feed (HTTP SSE/WebSocket): bytes queued for one client at most. A
 * client gets a batch of changes (half of this, some 250 incident
 * documents) only once its previous one is written out, so the rest is
 * room for notices and control frames; a WebSocket client whose pongs
 * would pass it is cut off (it sends pings and does not read). */
#define SN_STREAM_CLIENT_BUF_MAX (1024 * 1024)

/* Live feed clients at once: each costs a connection and up to
 * SN_STREAM_CLIENT_BUF_MAX bytes, so this bounds the feed's memory. */
#define SN_STREAM_CLIENTS_MAX 1024

/* Live feed: a client none of whose queue was written out for this long
 * is dropped as not reading. Long enough for a reader on a loaded
 * machine or a slow link to take part of a batch (at most half of
 * SN_STREAM_CLIENT_BUF_MAX); a client that reads nothing holds one batch
 * until then, never more. */
#define SN_STREAM_STALL_MS 10000

_Static_assert(SN_STREAM_STALL_MS >= 1000, "a stall shorter than 1 s drops "
                                           "readers on a loaded machine");

#endif

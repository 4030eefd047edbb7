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

/* YAML nesting: deeper than this is not a hand-written config. */
#define SN_CONFIG_MAX_DEPTH 64

/* RFC 5424 6: the header fields' and SD-NAME's maximum lengths (the RFC's
 * numbers). */
#define SN_RFC5424_HOSTNAME_MAX 255
#define SN_RFC5424_APPNAME_MAX 48
#define SN_RFC5424_PROCID_MAX 128
#define SN_RFC5424_MSGID_MAX 32
#define SN_RFC5424_SDNAME_MAX 32

/* Console file size: the console is a handful of small files; anything
 * larger is not ours. */
#define SN_HTTP_STATIC_FILE_MAX (4u << 20)

/* Bytes of one page of the audit API: 500 entries of a few KiB, with room. */
#define SN_HTTP_AUDIT_PAGE_MAX (8u << 20)

/* HTTP servers in one process, the size of conns.c's table: the daemon
 * runs one, the unit tests a few. */
#define SN_HTTP_LISTENERS_MAX 4

/* Bytes of one rendered report: a month of incidents summarised, far below
 * this. */
#define SN_HTTP_REPORT_MAX (64u << 20)

/* An audit reason and an owner are prose and a name for humans, not
 * documents. */
#define SN_INCIDENT_REASON_MAX 4096
#define SN_INCIDENT_OWNER_MAX 128

/* Event outputs' and incident relays' RETRY backoff (core/backoff.h): 100 ms
 * lets a blip pass at once, 30 s keeps a down peer from being hammered. */
#define SN_OUTPUT_BACKOFF_MIN_MS 100
#define SN_OUTPUT_BACKOFF_MAX_MS 30000

/* Incident documents per deliver(): amortises an output's round trip without
 * holding much. */
#define SN_RELAY_BATCH_MAX 256

/* Rows per page of incident and audit listings: a page a person reads, not
 * an export. */
#define SN_INCIDENT_LIST_MAX 500
/* Rows of a page when the client names no limit (the console's page). */
#define SN_INCIDENT_LIST_DEFAULT 50

/* One incident document: a few KiB; evidence is bounded by the manager. */
#define SN_INCIDENT_DOC_MAX (4u * 1024 * 1024)

/* An incident document plus its history: a few MiB at most. */
#define SN_INCIDENT_REVIEW_DOC_MAX (64u * 1024 * 1024)

/* One signal's JSON: a few KiB; more is a detector bug, not data to store. */
#define SN_SIGNAL_MAX (1024 * 1024)

/* The incident store's retry backoff: a busy or full disk is retried soon,
 * and at least every 5 s so signals wait little once it clears. */
#define SN_STORE_RETRY_MIN_MS 100
#define SN_STORE_RETRY_MAX_MS 5000

/* Incident outputs whose cursors the manager writes (more save their own). */
#define SN_MANAGER_CURSORS_MAX 64

/* PII scrub patterns and kept keys: a hand-written policy names a few dozen. */
#define SN_SCRUB_MAX_PATTERNS 64
#define SN_SCRUB_MAX_KEEP 128

/* `sentineld test`: fired rules remembered per line, and rules and fields
 * one sample annotation names (annotations name few). */
#define SN_CLI_LINE_FIRED_MAX 32
#define SN_CLI_MAX_EXPECT 16

/* A line of `sentineld test` input: longer means the file is not a log. */
#define SN_CLI_LINE_MAX (64u << 20)

/* Output of one `sentineld incidents` command: a listing or a document with
 * history. */
#define SN_CLI_INCIDENTS_OUT_MAX (64u * 1024 * 1024)

/* `sentineld incident report --url`: how long the CLI waits for the
 * daemon's answer; above http.report_timeout's default (60 s), so the
 * daemon's own 504 naming the slow source arrives first. */
#define SN_CLI_REMOTE_TIMEOUT_S 90

/* One `sentineld frame` line: a record escaped at six bytes per input byte
 * (\\u00XX), plus the keys. */
#define SN_CLI_FRAME_OUT_MAX ((size_t)SN_RECORD_MAX * 6 + 4096)

/* Nesting of `sentineld parse` JSON input: the schema has three levels (sd). */
#define SN_CLI_JSON_MAX_DEPTH 8

/* Input of `sentineld explain`: bigger is not a handful of incidents. */
#define SN_CLI_EXPLAIN_MAX_INPUT ((size_t)256 << 20)
/* Live feed: a client none of whose queue was written out for this long
 * is dropped as not reading. Long enough for a reader on a loaded
 * machine or a slow link to take part of a batch (at most half of
 * SN_STREAM_CLIENT_BUF_MAX); a client that reads nothing holds one batch
 * until then, never more. */
#define SN_STREAM_STALL_MS 10000

_Static_assert(SN_STREAM_STALL_MS >= 1000, "a stall shorter than 1 s drops "
                                           "readers on a loaded machine");

#endif

/*
 * The post-incident review of one incident (`sentineld incident report
 * ID`, GET /api/v1/incidents/{id}/report): summary, a timeline of the
 * signals, versions, human actions and notifications in time order, the
 * explanation and the evidence, as Markdown for a ticket or wiki, or as
 * JSON (web/openapi.json, components.schemas.Review). Built from the
 * incident's full document with its history (sn_incidents_get_json), so
 * it shows exactly what the API and console show. docs/reports.md.
 */
#ifndef SN_INCIDENT_REVIEW_H
#define SN_INCIDENT_REVIEW_H

#include <stdbool.h>

#include <sentineld/plugin.h>

#include "core/buf.h"
#include "core/error.h"

enum sn_review_format { SN_REVIEW_MD, SN_REVIEW_JSON };

/* "md" / "json"; false when neither. */
bool sn_review_format_parse(const char *s, enum sn_review_format *out);

struct sn_incidents;
/*
 * The review of incident id appended to out. SN_DECLINED: no such
 * incident; other errors with err set.
 */
enum sn_status sn_review_render(struct sn_incidents *inc, const char *id,
                                enum sn_review_format fmt, struct sn_buf *out,
                                struct sn_error *err);

/*
 * The review from doc, an incident's document with its history as
 * sn_incidents_get_json writes it (NUL-terminated), read from another
 * store (a plugin's review_load); lacks: what that store does not
 * record, stated in the review ("not_recorded"), or NULL. id names the
 * incident in errors. SN_EIO: doc does not parse.
 */
enum sn_status sn_review_render_doc(const char *id, const char *doc,
                                    const char *lacks,
                                    enum sn_review_format fmt,
                                    struct sn_buf *out, struct sn_error *err);

#endif

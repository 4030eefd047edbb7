/*
 * Escalation that pages: the incident manager's timers for
 * incidents.escalation (config/escalation.h). Each live incident has a
 * row in `escalations` (its next step and when that is due, counted from
 * the incident's stored opening time); the manager's housekeeping fires
 * what is due inside its transaction: for each output a step names, an
 * outbox row addressed to that output and an audit entry ("notify"), or,
 * for a step `unless: acknowledged` on an acknowledged incident, an
 * audit entry saying the chain stopped. The step's progress commits with
 * its notifications, so a crash neither loses nor repeats a step (the
 * relay then delivers at least once). docs/notifications.md,
 * "Escalation".
 */
#ifndef SN_INCIDENT_ESCALATE_H
#define SN_INCIDENT_ESCALATE_H

#include <stdbool.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "config/escalation.h"

struct sn_escalation;
struct sn_store;

/* A copy of conf's policies (conf may be freed afterwards); NULL when
 * conf has none or memory ran out. */
struct sn_escalation *sn_escalation_new(const struct sn_esc_conf *conf);
void sn_escalation_free(struct sn_escalation *e);
/* Whether a step notifies `output`. e may be NULL. */
bool sn_escalation_notifies(const struct sn_escalation *e, const char *output);

/*
 * Fire the steps due at wall time now (ns), inside the caller's write
 * transaction on the manager's thread; *sent counts the notifications
 * written. At most a bounded number of incidents per call (the rest
 * stay due for the next). SN_EIO: a statement failed (roll back).
 */
enum sn_status sn_escalation_run(struct sn_escalation *e, struct sn_store *s,
                                 int64_t now, size_t *sent);

#endif

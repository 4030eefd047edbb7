/*
 * incidents.escalation: who is notified when (docs/notifications.md,
 * "Escalation"). Parsed and checked against the configured outputs here
 * (file:line:col errors); run by the incident manager
 * (incident/escalate.c). Owns only the configuration model.
 */
#ifndef SN_CONFIG_ESCALATION_H
#define SN_CONFIG_ESCALATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "config/diag.h"
#include "config/yaml.h"

struct sn_config;

/* One step: after `after_ms` from the incident's opening, notify the
 * named incident outputs, unless (unless_ack) it is acknowledged by then. */
struct sn_esc_step {
    int64_t after_ms;
    bool unless_ack;
    struct sn_strlist notify;          /* output instance names */
    const struct sn_node *notify_node; /* positions for later checks */
};

/* A policy applies to incidents of the matching rules (shell globs;
 * none: all) at or above min_severity (0 info .. 4 critical). The first
 * policy that matches an incident is its chain. */
struct sn_esc_policy {
    struct sn_strlist rules;
    int min_severity;
    struct sn_esc_step *steps; /* in order of after_ms */
    size_t n_steps;
};

struct sn_esc_conf {
    struct sn_esc_policy *policies;
    size_t n_policies;
};

/* Parse incidents.escalation (n may be NULL: none) into c's arena,
 * checking names against c's output instances (which must be loaded). */
void sn_esc_conf_load(struct sn_config *c, const struct sn_node *n,
                      struct sn_diags *d);

/* Every output name the configuration's steps notify (for the relays:
 * such an output gets what the escalation sends it, not every version). */
bool sn_esc_conf_notifies(const struct sn_esc_conf *e, const char *output);

#endif

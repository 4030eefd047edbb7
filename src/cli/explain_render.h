/*
 * Signals and incidents as text for a terminal: what `sentineld explain`
 * prints and what `sentineld test` prints for the signals of a replay.
 * Reads the JSON shapes of docs/correlation.md ("Signal JSON") and
 * docs/incidents.md; unknown keys are ignored, missing ones skipped.
 */
#ifndef SN_CLI_EXPLAIN_RENDER_H
#define SN_CLI_EXPLAIN_RENDER_H

#include <stdbool.h>

#include <json-c/json.h>

#include "core/buf.h"

/* Render one signal or incident document into out. False when obj is
 * neither (out then holds a one-line reason). */
bool sn_explain_render(json_object *obj, struct sn_buf *out);

#endif

/*
 * Where a byte of a YAML scalar's value sits in its file. The YAML tree
 * keeps only the node's start, and quoting, escapes and block folding move
 * later bytes around; this walks the raw text alongside the value so an
 * error inside a `match:` expression or a regex points at the offending
 * token, not at the start of the scalar.
 */
#ifndef SN_RULES_SRCMAP_H
#define SN_RULES_SRCMAP_H

#include <stddef.h>

#include "config/yaml.h"

/*
 * Position of byte `off` of scalar n's value, given the raw text of the
 * file n came from. Exact for plain, single- and double-quoted and block
 * scalars, including multi-line ones; when the raw text does not line up
 * with the value (it should always) the best position found so far is
 * returned, at worst the node's own. Columns count characters like
 * libyaml's. raw may be NULL: the node's position is returned.
 */
void sn_srcmap_locate(const char *raw, size_t raw_len, const struct sn_node *n,
                      size_t off, int *line, int *col);

#endif

/*
 * `sentineld check --sigma-report DIR`: load every Sigma rule file under
 * DIR (recursively, *.yml and *.yaml) one by one with the field mapping,
 * and print how many rules load, how many are skipped and why, how many
 * have errors and why, grouped by reason (docs/sigma.md).
 */
#ifndef SN_CLI_SIGMA_REPORT_H
#define SN_CLI_SIGMA_REPORT_H

#include <stddef.h>
#include <stdio.h>

/* maps: files or directories holding `sigma:` mapping documents. Exit
 * status: 0 when no rule had an error, 1 otherwise, 2 when DIR cannot
 * be read. */
int sn_cli_sigma_report(const char *dir, const char *const *maps, size_t n_maps,
                        FILE *out);

#endif

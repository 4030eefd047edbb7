/*
 * host->partition_checkpoint/restore/release: one blob per partition that
 * carries every detector's state for the partition and the incident
 * manager's open incidents of it, so an input that owns partitions
 * (in_kafka) stores and moves it as one thing (docs/scaling.md).
 *
 * Blob: "SNPART01", then sections { u32 name length, name, u64 data
 * length, data }, little-endian as the machine writes it (checkpoints
 * move between instances of one deployment, not between architectures).
 * Section names: "incidents" and "detector:<instance name>".
 */
#ifndef SN_PIPELINE_PARTITION_H
#define SN_PIPELINE_PARTITION_H

#include <sentineld/plugin.h>

enum sn_status sn_partition_checkpoint(struct sn_instance *in,
                                       const char *topic, int32_t partition,
                                       struct sn_buf *out);
enum sn_status sn_partition_restore(struct sn_instance *in, const char *topic,
                                    int32_t partition, const void *data,
                                    size_t len, char *err, size_t err_len);
void sn_partition_release(struct sn_instance *in, const char *topic,
                          int32_t partition);

#endif

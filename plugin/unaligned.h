/* Byte-granular I/O on a sector-granular array.  NBD clients may send any offset and
 * length; raid/ takes whole 512-byte sectors. */
#ifndef AOERAID_UNALIGNED_H
#define AOERAID_UNALIGNED_H

#include <stdint.h>

#include "raid.h"

/* Each returns 0 or -errno, like raid_read/raid_write. */
int unaligned_read(struct raid_array *a, void *buf, uint32_t count, uint64_t offset);
int unaligned_write(struct raid_array *a, const void *buf, uint32_t count, uint64_t offset,
                    unsigned flags);
int unaligned_zero(struct raid_array *a, uint32_t count, uint64_t offset, unsigned flags);

#endif

/* Failover fencing, as the old head sees it: another head took the shelves over with
 * force=true (an AoE Reserve that replaces ours), the shelves refuse our I/O, and raid/
 * fenced the array at the first refusal (RAID_EFENCED).  This says so, once, naming the
 * new holder. */
#ifndef AOERAID_FENCE_H
#define AOERAID_FENCE_H

#include "aoe.h"
#include "raid.h"

/* Start the thread that watches for the fence (after the fork); 0, or -1 after
 * nbdkit_error. */
int fence_start(struct aoe_initiator *ini, struct raid_array *array);
void fence_stop(void);

#endif

/* The array's background worker, as md's sync thread: recovery onto a spare when a slot
 * is faulty or missing, and resync when the array needs one. */
#ifndef AOERAID_MONITOR_H
#define AOERAID_MONITOR_H

#include "raid.h"

/* Start the thread (after the fork); 0, or -1 after nbdkit_error.  LOOK (or NULL) runs
 * at the start of every round, before the thread looks for work: it may add spares. */
int monitor_start(struct raid_array *array, void (*look)(void));
/* Look for work now (a spare was added), not at the next poll. */
void monitor_kick(void);
/* Cancel a running resync or recovery (its position is saved) and join the thread. */
void monitor_stop(void);

#endif

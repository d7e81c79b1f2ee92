/* The array's background worker, as md's sync thread: recovery onto a spare when a slot
 * is faulty or missing, and resync when the array needs one. */
#ifndef AOERAID_MONITOR_H
#define AOERAID_MONITOR_H

#include <stdbool.h>

#include "raid.h"

/* Start the thread (after the fork); 0, or -1 after nbdkit_error.  A spare added
 * (monitor_kick) is taken at once. */
int monitor_start(struct raid_array *array);
/* Run a check or repair (md's sync_action) once recovery and resync are done; -1 when
 * one is already asked for or running. */
int monitor_check(enum raid_check_action action);
/* The check or repair asked for and not yet begun (RAID_CHECK_NONE: none). */
enum raid_check_action monitor_check_waiting(void);
/* Stop the check asked for or running (md: idle); false when there was none. */
bool monitor_check_stop(void);
/* Look for work now (a spare was added), not at the next poll. */
void monitor_kick(void);
/* A kick the monitor has not yet looked at (md's MD_RECOVERY_NEEDED: `aoeraid wait` right
 * after an add must not find the array idle before its recovery began). */
bool monitor_kick_pending(void);
/* Cancel a running resync or recovery (its position is saved) and join the thread. */
void monitor_stop(void);

#endif

/* Events of the array, as mdadm --monitor reports them: logged, and passed to the alert
 * program (mdadm's PROGRAM) when one is set. */
#ifndef AOERAID_ALERT_H
#define AOERAID_ALERT_H

#include <stdbool.h>

#include "raid.h"

/* Start the thread (after the fork); PROGRAM may be NULL (events are only logged); TEST
 * sends a TestMessage first; a program still running after WAIT_MS is killed.  0, or -1
 * after nbdkit_error. */
int alert_start(struct raid_array *array, const char *program, bool test, int wait_ms);
void alert_stop(void);

#endif

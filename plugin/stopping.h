/* nbdkit stopped while shelves are held (a switch outage: their I/O waits up to
 * hold-time).  nbdkit waits for the requests in flight before it calls .cleanup, so the
 * stop took hold-time, and the held I/O failing then failed the held members in the
 * superblocks of the others.  A thread notices the stop during a hold (nbdkit_nanosleep
 * fails with ESHUTDOWN) and ends the holds at once, the array told it is closing
 * (raid_closing): the held requests end with EIO, no member is marked failed. */
#ifndef AOERAID_STOPPING_H
#define AOERAID_STOPPING_H

#include "aoe.h"
#include "raid.h"

/* Start the thread (after the fork); 0, or -1 after nbdkit_error.  HELD writes the
 * array's shelves held now ("e2.1, e3.1") into NAMES and returns how many: lock-free
 * (aoe_target_held), asked every STOPPING_POLL_MS. */
int stopping_start(struct aoe_initiator *ini, struct raid_array *array,
                   size_t (*held)(char *names, size_t len));
/* For .cleanup, before any other thread of the array is stopped (one waiting on a held
 * shelf would wait out hold-time): stop the thread, and end the holds as it would if a
 * shelf is held still.  Nothing when stopping_start did not run. */
void stopping_stop(void);

#endif

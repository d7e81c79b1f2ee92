/* auto-readd's own thread: the look for shelves that came back, every READD_POLL_MS,
 * whatever the monitor runs (md's udev rule re-adds a returning disk during a resync). */
#ifndef AOERAID_READD_H
#define AOERAID_READD_H

/* Start the thread (after the fork) calling LOOK every round; 0, or -1 after
 * nbdkit_error. */
int readd_start(void (*look)(void));
/* Stop the thread: waits for a look in progress (an add may wait for discovery). */
void readd_stop(void);

#endif

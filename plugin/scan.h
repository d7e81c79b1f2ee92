/* md's --assemble --scan for nbdkit-aoeraid-plugin: name= or uuid= without shelves=. */
#ifndef AOERAID_SCAN_H
#define AOERAID_SCAN_H

#include "aoe.h"
#include "params.h"

/* Discover every shelf answering on INI (until the array's recorded members all answered
 * and a round brought no new shelf, or p->discover_ms is up), read each one's superblock
 * (reads only: nothing is reserved or written), and keep those of the array P names:
 * members go to p->shelves, spares (and the new member of a replace) to p->spares before
 * those spares= listed; former members and those the admin removed (raid_scan_pick) are
 * logged and passed to LEFT.
 * Logs the shelves found in one line.  0, or -1 after nbdkit_error. */
int scan_shelves(struct aoe_initiator *ini, struct params *p,
                 void (*left)(struct aoe_target *));

#endif

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

/* A start by shelves= of an existing array, before anything is written (md refuses an
 * explicit device list short of a working device: "use --run to insist"): GIVEN[0..N)
 * are the superblocks of the listed shelves that answered (members and spares), FIRST the
 * first valid one.  When the freshest of them records a member in a working slot that
 * none of them is, read the other shelves answering on INI (a discovery round for late
 * ones; reads only) and refuse with nbdkit_error when one not in shelves= or spares=
 * holds such a member, current (raid_sb_current_member): started without it, the array
 * would make it stale.  A shelf that does not answer is no reason to refuse.  0 or -1. */
int scan_refuse_unlisted(struct aoe_initiator *ini, const struct params *p,
                         const struct raid_sb_summary *const *given, size_t n,
                         const struct raid_sb_summary *first);

/* A start by shelves= that came up degraded (ARRAY): name each shelf answering on INI
 * that holds a slot the array lacks, as fresh as the array, but is not listed in
 * shelves= or spares= (a list from before a grow or a recovery): mdadm --assemble
 * --scan would have found it.  Reads only. */
void scan_unlisted(struct aoe_initiator *ini, const struct params *p,
                   struct raid_array *array);

#endif

/* The AoE member backend, shelf addresses and the blank check: shared by the plugin and
 * the aoeraid command (no nbdkit here). */
#ifndef AOERAID_AOE_MEMBER_H
#define AOERAID_AOE_MEMBER_H

#include <stdbool.h>

#include "aoe.h"
#include "raid.h"

struct shelf_addr { unsigned shelf, slot; };

/* "e1.1" and "1.1" are both accepted; 0 or -1. */
int parse_shelf_addr(const char *s, struct shelf_addr *out);

/* 1 if the start of the shelf (its first 128 KiB) is all zeros, 0 if not, -errno if it
 * cannot be read.  Blocking; reads only. */
int aoe_shelf_blank(struct aoe_target *t);

/* The MAC of the first host holding T's AoE reservation ("02:00:00:00:00:01") in BUF:
 * 1, or 0 when none does or it cannot be read (BUF empty).  Blocking. */
int shelf_holder(struct aoe_target *t, char *buf, size_t len);

/* Fill *out so raid/ reaches the shelf through aoe/; POLL lets a lone waiter poll the
 * initiator for its replies (aoe_poll) before it sleeps.  0, or -1 with errno. */
int aoe_member_init(struct raid_member *out, struct aoe_target *target, bool poll);
void aoe_member_free(struct raid_member *member);
/* The shelf came back, maybe with another disk behind it: read its size again.  0, or -1
 * with errno. */
int aoe_member_refresh(struct raid_member *member);
/* The plugin's array members: once the shelf goes down and answers again (maybe with
 * another disk behind its address: swapped, another array's, blank), the member looks
 * down to raid/ and its I/O fails (ENODEV) until aoe_member_confirm says the disk there
 * is still the member (its superblock read).  A member not guarded (the aoeraid
 * command's) is not held.  Guard and confirm take the shelf's up spell as of now. */
void aoe_member_guard(struct raid_member *member);
void aoe_member_confirm(struct raid_member *member);
/* Guarded, and its shelf came back since it was last confirmed? */
bool aoe_member_returned(const struct raid_member *member);
struct aoe_target *aoe_member_target(const struct raid_member *member);
bool aoe_member_wraps(const struct raid_member *member, const struct aoe_target *target);

#endif

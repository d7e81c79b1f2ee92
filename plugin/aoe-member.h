/* The AoE member backend (plugin-internal). */
#ifndef AOERAID_AOE_MEMBER_H
#define AOERAID_AOE_MEMBER_H

#include <stdbool.h>

#include "aoe.h"
#include "raid.h"

/* Fill *out so raid/ reaches the shelf through aoe/; POLL lets a lone waiter poll the
 * initiator for its replies (aoe_poll) before it sleeps.  0, or -1 with errno. */
int aoe_member_init(struct raid_member *out, struct aoe_target *target, bool poll);
void aoe_member_free(struct raid_member *member);
/* The shelf came back, maybe with another disk behind it: read its size again.  0, or -1
 * with errno. */
int aoe_member_refresh(struct raid_member *member);
bool aoe_member_wraps(const struct raid_member *member, const struct aoe_target *target);

#endif

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

#endif

/* The AoE member backend (plugin-internal). */
#ifndef AOERAID_AOE_MEMBER_H
#define AOERAID_AOE_MEMBER_H

#include "aoe.h"
#include "raid.h"

/* Fill *out so raid/ reaches the shelf through aoe/. 0, or -1 with errno. */
int aoe_member_init(struct raid_member *out, struct aoe_target *target);
void aoe_member_free(struct raid_member *member);

#endif

/* aoeraid zero-superblock: md's --zero-superblock for AoE shelves. */
#ifndef AOERAID_TOOLS_ZERO_H
#define AOERAID_TOOLS_ZERO_H

#include <stddef.h>

#include "aoe.h"
#include "aoe-member.h"

/* Wipe aoeraid's metadata off the shelves ADDRS[0..NADDRS) found by INI's discovery (of
 * WAIT_MS), FORCE for the members and spares of arrays not known gone (see tools/zero.c).
 * Returns the exit code: 0 when every shelf was wiped or had nothing to wipe, 1 when one
 * did not answer, was refused (then none is written) or failed; each said on stderr. */
int zero_main(const char *progname, struct aoe_initiator *ini, const struct shelf_addr *addrs,
              size_t naddrs, unsigned wait_ms, int force);

#endif

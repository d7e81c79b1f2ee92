/* aoeraid examine: md's --examine (and --examine --scan) for AoE shelves. */
#ifndef AOERAID_TOOLS_EXAMINE_H
#define AOERAID_TOOLS_EXAMINE_H

#include <stddef.h>

#include "aoe.h"
#include "aoe-member.h"

/* examine_main's return when nothing was named and no shelf answered: the caller says so
 * as discover does. */
#define EXAMINE_NONE_ANSWERED (-1)

/* Examine the shelves named (every discovered one when NADDRS is 0) on INI, after its
 * discovery of WAIT_MS; print them and the arrays they form, as text or JSON.  Returns
 * the exit code: 0 when a shelf could be read and each shelf named answered and holds an
 * aoeraid superblock, 1 otherwise (each one said on stderr), or EXAMINE_NONE_ANSWERED. */
int examine_main(const char *progname, struct aoe_initiator *ini,
                 const struct shelf_addr *addrs, size_t naddrs, unsigned wait_ms, int json);

#endif

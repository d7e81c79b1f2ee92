/* The shelves a verb of the aoeraid command names: parsed, then found on the SAN. */
#ifndef AOERAID_TOOLS_SHELVES_H
#define AOERAID_TOOLS_SHELVES_H

#include <stddef.h>

#include "aoe.h"
#include "aoe-member.h"

#define MAX_NAMED 256

/* ARGV[0..ARGC), each a SHELF.SLOT, into OUT (at most MAX_NAMED).  The count, or -1 after
 * saying on stderr which one is not an address (VERB: the command, for the message). */
int parse_shelf_args(const char *progname, const char *verb, int argc, char **argv,
                     struct shelf_addr *out);

/* Discover on INI for WAIT_MS at most, ending as soon as every shelf of
 * ADDRS[0..NADDRS) is identified; none named: the whole WAIT_MS, for every shelf. */
void discover_named(struct aoe_initiator *ini, const struct shelf_addr *addrs,
                    size_t naddrs, unsigned wait_ms);

/* The shelves ADDRS[0..NADDRS) found by INI's discovery (of WAIT_MS), in that order, each
 * once, into OUT (MAX_NAMED); each one that did not answer is said on stderr and counted
 * in *MISSING.  The count found. */
size_t find_named(const char *progname, struct aoe_initiator *ini,
                  const struct shelf_addr *addrs, size_t naddrs, unsigned wait_ms,
                  struct aoe_target **out, size_t *missing);

#endif

/* Deciding what the listed shelves hold: a new array to create, an array to assemble, or
 * something to refuse with one clear line per shelf. */
#ifndef AOERAID_ASSEMBLE_H
#define AOERAID_ASSEMBLE_H

#include <stddef.h>

#include "aoe.h"
#include "raid.h"
#include "params.h"

/* targets[i] is the discovered shelf for params->shelves[i], or NULL when it did not
 * come up (INI says whether it answered Query Config but not IDENTIFY, for messages);
 * members[] are the found ones in the same order; spares[] the found shelves of
 * params->spares; ifaces names the interfaces discovery used, for messages.
 * Create: the members get the array, the spares spare superblocks.  Assemble: spares
 * holding this array's superblock take part in assembly (their superblock says whether
 * they are spares or, after a recovery, members); blank ones are added as new spares.
 * Returns the running array, or NULL after nbdkit_error. */
struct raid_array *assemble_or_create(const struct params *params, struct aoe_initiator *ini,
                                      struct aoe_target *const *targets, const char *ifaces,
                                      struct raid_member *members, size_t n_members,
                                      struct raid_member *spares, size_t n_spares,
                                      raid_log_fn *log, void *log_opaque);

/* "NAMES answered Query Config but not IDENTIFY within WAITED: its disk may be spinning up
 * or busy; raise dead-time= ..." in OUT, for N shelves. */
void identify_unanswered_line(char *out, size_t len, const char *names, unsigned n,
                              unsigned waited_ms, unsigned dead_time_ms);

#endif

/* nbdkit's own command line, read as nbdkit 1.32's getopt_long reads it: does nbdkit serve
 * read-only?  nbdkit tells a plugin so only per connection (.open), long after assembly,
 * and md's --readonly must write nothing to any shelf from the start. */
#ifndef AOERAID_NBDKIT_ARGS_H
#define AOERAID_NBDKIT_ARGS_H

#include <stdbool.h>
#include <stddef.h>

/* What makes nbdkit serve read-only in ARGV (nbdkit's argv, argv[0] the program):
 * "nbdkit -r" for -r (alone or in a bundle: -fr), --readonly or --read-only (or an
 * abbreviation getopt_long takes, --reado); "nbdkit --filter=readonly" for nbdkit's
 * readonly filter without readonly-file= (which would make it switchable); NULL for
 * neither.  An option's argument (--run 'x -r', -e -r) and what follows "--" are no
 * options.  IN_ORDER (POSIXLY_CORRECT set): options end at the first non-option, as
 * getopt then does; else getopt finds them after the plugin name too. */
const char *nbdkit_args_readonly(int argc, char *const argv[], bool in_order);

/* nbdkit_args_readonly on this process's command line (/proc/self/cmdline) into *BY;
 * 0, or -1 with why it could not be read in ERR. */
int nbdkit_cmdline_readonly(const char **by, char *err, size_t errlen);

#endif

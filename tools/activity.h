/* What runs on an array, from the status text of a server older than "status activity". */
#ifndef AOERAID_TOOLS_ACTIVITY_H
#define AOERAID_TOOLS_ACTIVITY_H

#include <stdio.h>

/* The answer "status activity" gives, from STATUS, the text of a plain "status": its lines
 * of a resync, reshape, recovery, replace or check that can move (without their leading
 * blanks), or "idle".  For `aoeraid wait` on a server an upgrade left running with the
 * older plugin, which answers "status activity" as an unknown request. */
void activity_from_status(const char *status, FILE *out);

#endif

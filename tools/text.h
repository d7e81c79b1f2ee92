/* Text helpers of the aoeraid command, shared by its verbs. */
#ifndef AOERAID_TOOLS_TEXT_H
#define AOERAID_TOOLS_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* "931.5GiB": bytes in the largest binary unit below 1024 of it. */
void format_size(uint64_t bytes, char *out, size_t len);

#endif

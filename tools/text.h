/* Text helpers of the aoeraid command, shared by its verbs. */
#ifndef AOERAID_TOOLS_TEXT_H
#define AOERAID_TOOLS_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* "931.5GiB": bytes in the largest binary unit below 1024 of it. */
void format_size(uint64_t bytes, char *out, size_t len);

/* A verb's words for getopt, whose complaints name argv[0] ("unrecognized option"):
 * argv[0], the verb alone, is made "PROG VERB" in BUF (glibc said "status: unrecognized
 * option '--force'", naming no program); returns the verb, for option_words_done. */
char *option_words(const char *progname, char **argv, char *buf, size_t len);
/* argv[0] the verb again (what option_words returned), and RC passed through. */
int option_words_done(char **argv, char *verb, int rc);

#endif

/* The word a mistyped one most likely meant: one matcher for the plugin's parameters and
 * the aoeraid command's subcommands. */
#ifndef AOERAID_PLUGIN_TYPO_H
#define AOERAID_PLUGIN_TYPO_H

#include <stddef.h>

/* Of the N WORDS, the one WORD is at most 2 edits off (insertions, deletions,
 * substitutions, transpositions; '_' and '-' count as one letter), the nearest and first
 * of equals; NULL when none is. */
const char *typo_nearest(const char *word, const char *const *words, size_t n);

#endif

/* The word a mistyped one most likely meant: one matcher for the plugin's parameters
 * (shelfs=: did you mean 'shelves'?) and the aoeraid command's subcommands. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "typo.h"

#define TYPO_MAX_LEN 32  /* longer words are no typo of a name (names are short) */
#define TYPO_FAR 3       /* 3 edits off: another word, not a typo */

/* '_' and '-' as one letter: sync_speed_min is an alias of sync-speed-min, and
 * zero_superblock is no typo of zero-superblock but the same word.  Case is no letter
 * either: SHELVES= (a shell variable's habit) was an unknown parameter with no hint. */
static bool same_letter(char a, char b)
{
  return tolower((unsigned char)a) == tolower((unsigned char)b) ||
    ((a == '_' || a == '-') && (b == '_' || b == '-'));
}

/* Edit distance of A and B (insertions, deletions, substitutions, transpositions),
 * stopping at TYPO_FAR: enough to tell a typo from another word. */
static unsigned typo_distance(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);
  if (la > TYPO_MAX_LEN || lb > TYPO_MAX_LEN || (la > lb ? la - lb : lb - la) >= TYPO_FAR)
    return TYPO_FAR;
  unsigned d[TYPO_MAX_LEN + 1][TYPO_MAX_LEN + 1];
  for (size_t i = 0; i <= la; i++)
    d[i][0] = (unsigned)i;
  for (size_t j = 0; j <= lb; j++)
    d[0][j] = (unsigned)j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      unsigned best = d[i - 1][j - 1] + !same_letter(a[i - 1], b[j - 1]);
      if (d[i - 1][j] + 1 < best)
        best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best)
        best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && same_letter(a[i - 1], b[j - 2]) && same_letter(a[i - 2], b[j - 1]) &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  return d[la][lb] < TYPO_FAR ? d[la][lb] : TYPO_FAR;
}

const char *typo_nearest(const char *word, const char *const *words, size_t n)
{
  const char *best = NULL;
  unsigned best_d = TYPO_FAR;
  for (size_t i = 0; i < n; i++) {
    unsigned d = typo_distance(word, words[i]);
    if (d < best_d) {
      best_d = d;
      best = words[i];
    }
  }
  return best;
}

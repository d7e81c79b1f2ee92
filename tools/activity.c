/* What runs on an array, from an older server's status text (activity.h). */
#include <stdbool.h>
#include <string.h>

#include "activity.h"

/* A line of LEN bytes at LINE that shows a run still able to move: the status text's
 * two-blank run lines, less a resync pending until the array is whole and a recovery the
 * failed array stopped, which no wait sees end (as the server's own "status activity"). */
static bool runs(const char *line, size_t len)
{
  static const char *const starts[] = {
    "  resync ", "  reshape ", "  recovery slot ", "  replace slot ", "  check ", "  repair ",
  };
  static const char *const never_end[] = {
    "pending until the array is whole", "stopped: the array has failed",
  };
  bool run = false;

  for (size_t i = 0; i < sizeof starts / sizeof starts[0] && !run; i++)
    run = len >= strlen(starts[i]) && !strncmp(line, starts[i], strlen(starts[i]));
  for (size_t i = 0; i < sizeof never_end / sizeof never_end[0] && run; i++)
    run = !memmem(line, len, never_end[i], strlen(never_end[i]));
  return run;
}

void activity_from_status(const char *status, FILE *out)
{
  bool any = false;

  for (const char *line = status; *line;) {
    size_t len = strcspn(line, "\n");
    if (runs(line, len)) {
      fprintf(out, "%.*s\n", (int)(len - 2), line + 2);
      any = true;
    }
    line += len + (line[len] == '\n');
  }
  if (!any)
    fprintf(out, "idle\n");
}

/* Text helpers of the aoeraid command, shared by its verbs. */
#include <stdio.h>

#include "text.h"

void format_size(uint64_t bytes, char *out, size_t len)
{
  static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
  double v = (double)bytes;
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    u++;
  }
  snprintf(out, len, "%.1f%s", v, units[u]);
}


char *option_words(const char *progname, char **argv, char *buf, size_t len)
{
  char *verb = argv[0];

  snprintf(buf, len, "%s %s", progname, verb);
  argv[0] = buf;
  return verb;
}

int option_words_done(char **argv, char *verb, int rc)
{
  argv[0] = verb;
  return rc;
}

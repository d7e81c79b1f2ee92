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


/* The shelves a verb of the aoeraid command names: parsed, then found on the SAN. */
#include <stdio.h>

#include "shelves.h"

int parse_shelf_args(const char *progname, const char *verb, int argc, char **argv,
                     struct shelf_addr *out)
{
  for (int i = 0; i < argc; i++) {
    if (i == MAX_NAMED) {
      fprintf(stderr, "%s: %s: at most %d shelves at once\n", progname, verb, MAX_NAMED);
      return -1;
    }
    if (parse_shelf_addr(argv[i], &out[i]) < 0) {
      fprintf(stderr, "%s: %s: '%s' is not a shelf address: give SHELF.SLOT like 1.1 "
              "or e1.1\n", progname, verb, argv[i]);
      return -1;
    }
  }
  return argc;
}

size_t find_named(const char *progname, struct aoe_initiator *ini,
                  const struct shelf_addr *addrs, size_t naddrs, unsigned wait_ms,
                  struct aoe_target **out, size_t *missing)
{
  size_t n = 0;
  char ifaces[128];

  *missing = 0;
  aoe_iface_names(ini, ifaces, sizeof ifaces);
  for (size_t i = 0; i < naddrs && n < MAX_NAMED; i++) {
    struct aoe_target *t = aoe_target_find(ini, addrs[i].shelf, addrs[i].slot);
    int dup = 0;
    for (size_t j = 0; j < n; j++)
      dup |= out[j] == t;
    if (!t) {
      fprintf(stderr, "%s: e%u.%u did not answer on %s within %u ms: is its vblade running, "
              "on that segment?\n", progname, addrs[i].shelf, addrs[i].slot, ifaces, wait_ms);
      ++*missing;
    } else if (!dup)
      out[n++] = t;
  }
  return n;
}

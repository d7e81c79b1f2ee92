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

struct named {
  struct aoe_initiator *ini;
  const struct shelf_addr *addrs;
  size_t naddrs;
};

static int all_named_found(void *opaque)
{
  const struct named *nd = opaque;
  for (size_t i = 0; i < nd->naddrs; i++)
    if (!aoe_target_find(nd->ini, nd->addrs[i].shelf, nd->addrs[i].slot))
      return 0;
  return 1;
}

void discover_named(struct aoe_initiator *ini, const struct shelf_addr *addrs,
                    size_t naddrs, unsigned wait_ms)
{
  if (!naddrs) {
    aoe_discover(ini, wait_ms);
    return;
  }
  /* One path of each shelf is enough: the verbs that name shelves read or wipe their
   * superblocks, which any path reaches, so the discovery does not wait out -w for a
   * second path (the plugin's start does: it wants every path, aoe-multipath).  A shelf
   * silent on every path still gets the whole -w, and its "did not answer" message. */
  struct named nd = { ini, addrs, naddrs };
  aoe_discover_found(ini, wait_ms, all_named_found, &nd);
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

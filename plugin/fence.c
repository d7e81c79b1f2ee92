/* Failover fencing: the line the old head logs when it finds its array taken over. */
#include <stdio.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "aoe-member.h"
#include "fence.h"
#include "ticker.h"

#define FENCE_POLL_MS 200

static struct aoe_initiator *fence_ini;
static struct raid_array *fence_array;
static bool fence_told;

static void look(void *opaque);
static struct ticker fence_ticker = { .what = "the fence thread", .period_ms = FENCE_POLL_MS,
                                      .tick = look };

/* The MAC holding SHELF now, or "another host". */
static void holder(const char *shelf, char *buf, size_t len)
{
  struct shelf_addr a;
  struct aoe_target *t;

  if (parse_shelf_addr(shelf, &a) < 0 || !(t = aoe_target_find(fence_ini, a.shelf, a.slot)) ||
      !shelf_holder(t, buf, len))
    snprintf(buf, len, "another host");
}

static void look(void *opaque)
{
  struct raid_status st;
  char mac[32], taken[80];

  (void)opaque;
  if (fence_told || !raid_fenced(fence_array) || raid_status(fence_array, &st) < 0 ||
      !st.fenced_by[0])
    return;
  /* what the initiator saw taken first (the member raid/ names may only have lost our
   * reservation: a shelf that restarted), else who holds that member now */
  struct aoe_target *t = aoe_claim_taken(fence_ini, taken, sizeof taken);
  char name[24];
  if (t && strstr(taken, " another host") && shelf_holder(t, mac, sizeof mac)) {
    aoe_target_name(t, name, sizeof name);
    snprintf(taken, sizeof taken, "%s is now reserved by %s", name, mac);
  }
  if (t) {
    nbdkit_error("%s: another head took the array over; this server stops serving it "
                 "(every request fails with EIO; stop it)", taken);
  } else {
    holder(st.fenced_by, mac, sizeof mac);
    nbdkit_error("%s is now reserved by %s: another head took the array over; this server "
                 "stops serving it (every request fails with EIO; stop it)", st.fenced_by, mac);
  }
  fence_told = true;
}

int fence_start(struct aoe_initiator *ini, struct raid_array *array)
{
  fence_ini = ini;
  fence_array = array;
  fence_told = false;
  return ticker_start(&fence_ticker);
}

void fence_stop(void)
{
  ticker_stop(&fence_ticker);
}

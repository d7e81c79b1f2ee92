/* Stopping during a hold: see stopping.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "log.h"
#include "stopping.h"
#include "ticker.h"

#define STOPPING_POLL_MS 200

static struct aoe_initiator *stop_ini;
static struct raid_array *stop_array;
static size_t (*held_shelves)(char *names, size_t len);
static bool holds_ended;                        /* the ticker's, then .cleanup's */

/* End the holds, the array closing first (no member failed for the I/O they fail). */
static void end_holds(const char *held)
{
  unsigned waiting = raid_closing(stop_array);

  aoe_end_holds(stop_ini);
  holds_ended = true;
  log_warning("stopping during a hold: %u held request(s) ended with EIO; %s not marked "
              "failed (the next start judges it)", waiting, held);
}

/* A shelf is held: is nbdkit stopping?  nbdkit_nanosleep says so (ESHUTDOWN) from any
 * thread; asked only during a hold, as it logs an error line when it does. */
static void watch(void *opaque)
{
  char held[256];

  (void)opaque;
  if (holds_ended || !held_shelves(held, sizeof held))
    return;
  if (nbdkit_nanosleep(0, 1000000) == 0 || errno != ESHUTDOWN)
    return;
  end_holds(held);
}

static struct ticker stopping_ticker = { .what = "the stop watch thread",
                                         .period_ms = STOPPING_POLL_MS, .tick = watch };

int stopping_start(struct aoe_initiator *ini, struct raid_array *array,
                   size_t (*held)(char *names, size_t len))
{
  stop_ini = ini;
  stop_array = array;
  held_shelves = held;
  holds_ended = false;
  return ticker_start(&stopping_ticker);
}

void stopping_stop(void)
{
  char held[256];

  if (!stopping_ticker.running)
    return;
  ticker_stop(&stopping_ticker);
  if (!holds_ended && held_shelves(held, sizeof held))
    end_holds(held);
}

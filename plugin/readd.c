/* auto-readd's thread.  The look ran first in every round of the monitor, so during a
 * long recovery, check or replace (minutes to hours on real shelves) a shelf that came
 * back waited for the run to end; here it is looked for on time.  What a look does (once
 * per return, the admin's failed and removed shelves left out, under add_lock beside the
 * control requests) is the caller's. */
#include "readd.h"
#include "ticker.h"

#define READD_POLL_MS 250     /* as often as the monitor looked when idle */

static void (*readd_look)(void);

static void look(void *opaque)
{
  (void)opaque;
  readd_look();
}

static struct ticker readd_ticker = { .what = "the auto-readd thread",
                                      .period_ms = READD_POLL_MS, .tick = look };

int readd_start(void (*look_for_returns)(void))
{
  readd_look = look_for_returns;
  return ticker_start(&readd_ticker);
}

void readd_stop(void)
{
  ticker_stop(&readd_ticker);
}

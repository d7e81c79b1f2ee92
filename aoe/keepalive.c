/* aoe/keepalive.c: liveness of idle paths (see keepalive.h). */
#include "keepalive.h"

unsigned aoe_keepalive_interval_ms(unsigned dead_ms)
{
  unsigned ms = dead_ms / AOE_KEEPALIVE_FRACTION;
  return ms < AOE_KEEPALIVE_MIN_MS ? AOE_KEEPALIVE_MIN_MS
    : ms > AOE_KEEPALIVE_MAX_MS ? AOE_KEEPALIVE_MAX_MS : ms;
}

static int unanswered(const struct aoe_keepalive *k, uint64_t last_heard_us)
{
  return k->first_us > last_heard_us;
}

uint64_t aoe_keepalive_unanswered_us(const struct aoe_keepalive *k, uint64_t last_heard_us,
                                     uint64_t now_us)
{
  return unanswered(k, last_heard_us) && now_us > k->first_us ? now_us - k->first_us : 0;
}

enum aoe_keepalive_due aoe_keepalive_due(const struct aoe_keepalive *k, uint64_t last_heard_us,
                                         uint64_t now_us, unsigned dead_ms, uint64_t *next_us)
{
  uint64_t dead_us = 1000ull * dead_ms;
  uint64_t interval_us = 1000ull * aoe_keepalive_interval_ms(dead_ms);
  /* Quiet since the later of the last reply and the last ask: one ask per interval. */
  uint64_t quiet_since = k->last_us > last_heard_us ? k->last_us : last_heard_us;

  if (unanswered(k, last_heard_us) && now_us >= k->first_us + dead_us)
    return AOE_KEEPALIVE_DEAD;
  if (now_us >= quiet_since + interval_us)
    return AOE_KEEPALIVE_SEND;
  *next_us = quiet_since + interval_us;
  if (unanswered(k, last_heard_us) && k->first_us + dead_us < *next_us)
    *next_us = k->first_us + dead_us;
  return AOE_KEEPALIVE_WAIT;
}

void aoe_keepalive_sent(struct aoe_keepalive *k, uint64_t last_heard_us, uint64_t now_us)
{
  if (!unanswered(k, last_heard_us))
    k->first_us = now_us;
  k->last_us = now_us;
}

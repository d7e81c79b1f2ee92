/* Unit tests for the keepalive timing of idle paths (aoe/keepalive.c): the interval, one
 * ask per interval, any reply resetting the count, and death only after the dead time of
 * unanswered asks. */
#include <criterion/criterion.h>

#include "keepalive.h"

#define MS 1000ull
#define DEAD_MS 2000u           /* interval: 400 ms */

static enum aoe_keepalive_due due(const struct aoe_keepalive *k, uint64_t heard, uint64_t now,
                                  uint64_t *next)
{
  *next = 0;
  return aoe_keepalive_due(k, heard, now, DEAD_MS, next);
}

Test(keepalive, interval_is_a_fifth_of_the_dead_time_bounded)
{
  cr_assert_eq(aoe_keepalive_interval_ms(5000), 1000);
  cr_assert_eq(aoe_keepalive_interval_ms(2000), 400);
  cr_assert_eq(aoe_keepalive_interval_ms(200), AOE_KEEPALIVE_MIN_MS);
  cr_assert_eq(aoe_keepalive_interval_ms(180000), AOE_KEEPALIVE_MAX_MS);
  /* Always several asks before the dead time runs out, whatever the bound. */
  for (unsigned dead = 1000; dead <= 600000; dead += 1000)
    cr_assert_geq(dead / aoe_keepalive_interval_ms(dead), 5, "dead %u", dead);
}

Test(keepalive, a_path_heard_lately_is_not_asked)
{
  struct aoe_keepalive k = { 0, 0 };
  uint64_t next;
  uint64_t heard = 10000 * MS;
  cr_assert_eq(due(&k, heard, heard + 399 * MS, &next), AOE_KEEPALIVE_WAIT);
  cr_assert_eq(next, heard + 400 * MS);
  cr_assert_eq(due(&k, heard, heard + 400 * MS, &next), AOE_KEEPALIVE_SEND);
}

Test(keepalive, one_ask_per_interval_then_dead_after_the_dead_time)
{
  struct aoe_keepalive k = { 0, 0 };
  uint64_t next, heard = 10000 * MS, first = heard + 400 * MS, now = first;
  unsigned asks = 0;
  /* Silence: ask every interval; the dead time counts from the first unanswered ask. */
  for (; now < first + DEAD_MS * MS; now += 10 * MS) {
    enum aoe_keepalive_due d = due(&k, heard, now, &next);
    cr_assert_neq(d, AOE_KEEPALIVE_DEAD, "at %llu ms", (unsigned long long)(now - first) / MS);
    if (d == AOE_KEEPALIVE_SEND) {
      aoe_keepalive_sent(&k, heard, now);
      asks++;
    }
  }
  cr_assert_eq(asks, 5);
  cr_assert_eq(k.first_us, first);
  cr_assert_eq(aoe_keepalive_unanswered_us(&k, heard, now), DEAD_MS * MS);
  cr_assert_eq(due(&k, heard, now, &next), AOE_KEEPALIVE_DEAD);
}

Test(keepalive, the_next_look_is_at_the_earlier_of_ask_and_death)
{
  struct aoe_keepalive k = { 0, 0 };
  uint64_t next, heard = 0, first = 400 * MS;
  aoe_keepalive_sent(&k, heard, first);
  cr_assert_eq(due(&k, heard, first + 1 * MS, &next), AOE_KEEPALIVE_WAIT);
  cr_assert_eq(next, first + 400 * MS);
  /* The fifth ask went out 1.6 s after the first: the next look is the death at 2 s. */
  aoe_keepalive_sent(&k, heard, first + 1700 * MS);
  cr_assert_eq(due(&k, heard, first + 1800 * MS, &next), AOE_KEEPALIVE_WAIT);
  cr_assert_eq(next, first + DEAD_MS * MS);
}

Test(keepalive, any_reply_is_life)
{
  struct aoe_keepalive k = { 0, 0 };
  uint64_t next, heard = 0, now = 400 * MS;
  aoe_keepalive_sent(&k, heard, now);
  aoe_keepalive_sent(&k, heard, now + 400 * MS);
  cr_assert_eq(k.first_us, now);
  /* A reply (to a keepalive or to I/O) 1.9 s into the silence: the count starts again. */
  heard = now + 1900 * MS;
  cr_assert_eq(aoe_keepalive_unanswered_us(&k, heard, heard + 1), 0);
  cr_assert_eq(due(&k, heard, now + DEAD_MS * MS, &next), AOE_KEEPALIVE_WAIT);
  cr_assert_eq(next, heard + 400 * MS);
  aoe_keepalive_sent(&k, heard, heard + 400 * MS);
  cr_assert_eq(k.first_us, heard + 400 * MS);
  cr_assert_neq(due(&k, heard, heard + 400 * MS + DEAD_MS * MS - 1, &next), AOE_KEEPALIVE_DEAD);
  cr_assert_eq(due(&k, heard, heard + 400 * MS + DEAD_MS * MS, &next), AOE_KEEPALIVE_DEAD);
}

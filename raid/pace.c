/* Pacing of resync and recovery: md's speed_limit_min and speed_limit_max.
 *
 * The background work runs at up to max while the array serves nothing
 * else; while foreground requests come in it runs at up to min, so that a
 * rebuild does not starve the filesystem on top, yet always moves on.
 * Speeds count what status shows as the rate: lock units moved times the
 * chunk size, per second (a region a bitmap left clean is passed, not moved:
 * it charges nothing), the rate over the last half minute (pace_rate).  Each step's bytes are charged against a budget
 * (a due time); the worker naps until the due time, looking again at every
 * nap, so a change of load or of the limits, or a cancel, takes effect
 * within PACE_NAP_US. */
#include <string.h>
#include <time.h>

#include "raid-int.h"

#define PACE_NAP_US 50000u       /* longest sleep between looks */
#define PACE_CREDIT_US 100000u   /* idle time that may be spent later as a burst */
#define PACE_BUSY_US 500000u     /* the array counts as busy this long after a request */

uint64_t
pace_limit (int busy, uint64_t min_bps, uint64_t max_bps)
{
  if (busy && min_bps && (!max_bps || min_bps < max_bps))
    return min_bps;
  return max_bps;
}

uint64_t
pace_due_us (uint64_t from_us, uint64_t bytes, uint64_t limit_bps)
{
  if (!limit_bps)
    return from_us;
  return from_us + (uint64_t) ((double) bytes * 1e6 / (double) limit_bps);
}

void
raid_set_sync_speed (struct raid_array *a, uint64_t min_bps, uint64_t max_bps)
{
  atomic_store (&a->sync_speed_min, min_bps);
  atomic_store (&a->sync_speed_max, max_bps);
}

void
raid_get_sync_speed (struct raid_array *a, uint64_t *min_bps, uint64_t *max_bps)
{
  *min_bps = atomic_load (&a->sync_speed_min);
  *max_bps = atomic_load (&a->sync_speed_max);
}

/* Requests are counted as they begin and end, and the time of the last end
 * is kept: a request waiting on a stripe lock the walk holds counts as
 * running, and one that ended a moment before the walk began still counts. */
void
pace_request_begin (struct raid_array *a)
{
  atomic_fetch_add_explicit (&a->fg_begun, 1, memory_order_relaxed);
}

int
pace_request_end (struct raid_array *a, int rc)
{
  atomic_store_explicit (&a->fg_last_us, now_us (), memory_order_relaxed);
  atomic_fetch_add_explicit (&a->fg_ended, 1, memory_order_relaxed);
  /* nothing said after a fence is to be trusted; once closing, a member that failed
   * this request was not failed for it (raid_closing): it did not reach every member */
  return array_refuses_requests (a) ? -EIO : rc;
}

/* A request from above is running, or one ended within PACE_BUSY_US: a
 * client's think time between requests is no lull. */
static int
array_busy (struct raid_array *a, uint64_t now)
{
  return atomic_load (&a->fg_begun) != atomic_load (&a->fg_ended)
    || now < atomic_load (&a->fg_last_us) + PACE_BUSY_US;
}

static void
nap_us (uint64_t us)
{
  struct timespec ts = { .tv_sec = us / 1000000u, .tv_nsec = (long) (us % 1000000u) * 1000 };
  nanosleep (&ts, NULL);
}

/* Where the next step's budget starts: idle time beyond the credit is lost. */
static uint64_t
pace_from (const struct sync_pace *p, uint64_t now)
{
  return p->due_us + PACE_CREDIT_US < now ? now - PACE_CREDIT_US : p->due_us;
}

int
sync_pace_ahead (struct raid_array *a, struct sync_pace *p, uint64_t bytes)
{
  uint64_t now = now_us ();
  uint64_t limit = pace_limit (array_busy (a, now), atomic_load (&a->sync_speed_min),
                               atomic_load (&a->sync_speed_max));
  uint64_t due = pace_due_us (pace_from (p, now), bytes, limit);

  raid_log_tick (a);
  if (due > now)
    return 0;
  p->due_us = due;
  run_moved (a, p->kind, bytes);
  return 1;
}

/* The part of a step of BYTES paid for DUE - NOW before its due time at LIMIT_BPS
 * is counted as moved, beyond COUNTED already: the rate rises through a long nap as the
 * limits let it, neither all at once (a window of 1 MB counted as it starts shows 8 MB/s
 * an eighth of a second into a run capped at 1M/s) nor only at its end. */
static uint64_t
count_paid (struct raid_array *a, const struct sync_pace *p, uint64_t bytes,
            uint64_t counted, uint64_t due, uint64_t now, uint64_t limit_bps)
{
  double unpaid = due > now ? (double) (due - now) * (double) limit_bps / 1e6 : 0;
  uint64_t paid = unpaid < (double) bytes ? bytes - (uint64_t) unpaid : 0;

  if (paid > counted)
    run_moved (a, p->kind, paid - counted);
  return paid > counted ? paid : counted;
}

void
sync_pace (struct raid_array *a, struct sync_pace *p, uint64_t bytes)
{
  uint64_t now = now_us (), from = pace_from (p, now), due, counted = 0;

  for (;;) {
    uint64_t limit = pace_limit (array_busy (a, now), atomic_load (&a->sync_speed_min),
                                 atomic_load (&a->sync_speed_max));
    raid_log_tick (a);          /* the monitor that ticks it runs this, maybe for hours */
    due = pace_due_us (from, bytes, limit);
    now = now_us ();
    if (due <= now || atomic_load (&a->resync_stop))
      break;
    counted = count_paid (a, p, bytes, counted, due, now, limit);
    nap_us (due - now < PACE_NAP_US ? due - now : PACE_NAP_US);
  }
  p->due_us = due;
  run_moved (a, p->kind, bytes - counted);
}

void
pace_marks_start (struct pace_marks *m, uint64_t now, uint64_t moved)
{
  m->us[0] = now;
  m->bytes[0] = moved;
  m->n = 1;
}

void
pace_mark (struct pace_marks *m, uint64_t now, uint64_t moved)
{
  if (m->n == 0 || now < m->us[m->n - 1] + PACE_MARK_US)
    return;
  if (m->n == PACE_MARKS) {             /* the oldest leaves the window */
    memmove (m->us, m->us + 1, (PACE_MARKS - 1) * sizeof m->us[0]);
    memmove (m->bytes, m->bytes + 1, (PACE_MARKS - 1) * sizeof m->bytes[0]);
    m->n--;
  }
  m->us[m->n] = now;
  m->bytes[m->n] = moved;
  m->n++;
}

double
pace_rate (const struct pace_marks *m, uint64_t now, uint64_t moved)
{
  if (m->n == 0 || now < m->us[0] + PACE_RATE_MIN_US || moved < m->bytes[0])
    return -1;
  return (double) (moved - m->bytes[0]) * 1e6 / (double) (now - m->us[0]);
}

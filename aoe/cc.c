/* aoe/cc.c: RTT estimation and the per-path window. */
#include "cc.h"

static uint32_t clamp_rto(uint64_t v)
{
  return v < AOE_RTO_MIN_US ? AOE_RTO_MIN_US : v > AOE_RTO_MAX_US ? AOE_RTO_MAX_US : (uint32_t)v;
}

void aoe_rtt_init(struct aoe_rtt *r)
{
  r->srtt_us = 0;
  r->rttvar_us = 0;
  r->rto_us = AOE_RTO_INIT_US;
  r->have_sample = 0;
}

void aoe_rtt_sample(struct aoe_rtt *r, uint32_t m)
{
  if (!r->have_sample) {
    r->srtt_us = m;
    r->rttvar_us = m / 2;
    r->have_sample = 1;
  } else {
    int64_t err = (int64_t)m - r->srtt_us;
    uint32_t aerr = (uint32_t)(err < 0 ? -err : err);
    r->srtt_us = (uint32_t)((int64_t)r->srtt_us + err / 8);
    r->rttvar_us = (uint32_t)((int64_t)r->rttvar_us + ((int64_t)aerr - r->rttvar_us) / 4);
  }
  /* At least twice the round trip, as the Linux driver's (2 srtt + 8 mdev): a steady
   * slow path's variance shrinks to nothing, and an rto of srtt + 1 ms sent again every
   * frame queued behind a few others at the shelf. */
  uint64_t margin = 4ull * r->rttvar_us > r->srtt_us ? 4ull * r->rttvar_us : r->srtt_us;
  r->rto_us = clamp_rto((uint64_t)r->srtt_us + margin);
}

void aoe_rtt_backoff(struct aoe_rtt *r)
{
  r->rto_us = clamp_rto(2ull * r->rto_us);
}

void aoe_window_init(struct aoe_window *w, unsigned max)
{
  w->max = max < 1 ? 1 : max > AOE_WINDOW_CAP ? AOE_WINDOW_CAP : max;
  w->cwnd = AOE_WINDOW_START < w->max ? AOE_WINDOW_START : w->max;
  w->ssthresh = w->max;
  w->acked = 0;
}

void aoe_window_set_max(struct aoe_window *w, unsigned max)
{
  w->max = max < 1 ? 1 : max > AOE_WINDOW_CAP ? AOE_WINDOW_CAP : max;
  if (w->cwnd > w->max)
    w->cwnd = w->max;
  if (w->ssthresh > w->max)
    w->ssthresh = w->max;
}

void aoe_window_ack(struct aoe_window *w)
{
  if (w->cwnd >= w->max)
    return;
  if (w->cwnd < w->ssthresh) {
    w->cwnd++;
    return;
  }
  if (++w->acked >= w->cwnd) {
    w->acked = 0;
    w->cwnd++;
  }
}

void aoe_window_loss(struct aoe_window *w)
{
  w->ssthresh = w->cwnd / 2 < 1 ? 1 : w->cwnd / 2;
  w->cwnd = w->ssthresh;
  w->acked = 0;
}

void aoe_window_collapse(struct aoe_window *w)
{
  w->ssthresh = w->cwnd / 2 < 1 ? 1 : w->cwnd / 2;
  w->cwnd = 1;
  w->acked = 0;
}

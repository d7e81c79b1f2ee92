/* aoe/cc.h: per-path round-trip timing and window arithmetic (pure, unit-tested).
 *
 * RTT: Jacobson/Karels (RFC 6298) in microseconds: srtt += err/8, rttvar += (|err| -
 * rttvar)/4, rto = srtt + max(4 rttvar, srtt) (never below twice the round trip, like
 * the Linux driver's 2 srtt + 8 mdev), clamped to [AOE_RTO_MIN_US, AOE_RTO_MAX_US]; a timeout
 * doubles the rto (Karn: no samples from retransmitted frames, the caller's job).
 * Window: slow start from AOE_WINDOW_START, one frame per ack below ssthresh, then one
 * frame per window of acks (congestion avoidance), capped by the target's buffer count;
 * a loss halves it (ssthresh = window/2) at most once per loss episode. */
#ifndef AOE_CC_H
#define AOE_CC_H

#include <stdint.h>

#define AOE_RTO_MIN_US   20000u
#define AOE_RTO_MAX_US   1000000u
#define AOE_RTO_INIT_US  200000u
#define AOE_WINDOW_START 2u
#define AOE_WINDOW_CAP   64u     /* like the Linux driver: never more than 64 per path */

struct aoe_rtt {
  uint32_t srtt_us, rttvar_us, rto_us;
  int have_sample;
};

void aoe_rtt_init(struct aoe_rtt *r);
void aoe_rtt_sample(struct aoe_rtt *r, uint32_t sample_us);
void aoe_rtt_backoff(struct aoe_rtt *r);

struct aoe_window {
  unsigned cwnd, ssthresh, max;
  unsigned acked;               /* acks counted toward the next increase above ssthresh */
};

void aoe_window_init(struct aoe_window *w, unsigned max);
void aoe_window_set_max(struct aoe_window *w, unsigned max);
void aoe_window_ack(struct aoe_window *w);
void aoe_window_loss(struct aoe_window *w);
/* The path stopped answering altogether: start again from one frame. */
void aoe_window_collapse(struct aoe_window *w);

#endif

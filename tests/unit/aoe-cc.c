/* Unit tests for RTT/RTO estimation and the per-path window (aoe/cc.c). */
#include <criterion/criterion.h>

#include "cc.h"

Test(rtt, first_sample_sets_srtt_and_variance)
{
  struct aoe_rtt r;
  aoe_rtt_init(&r);
  cr_assert_eq(r.rto_us, AOE_RTO_INIT_US);
  aoe_rtt_sample(&r, 40000);
  cr_assert_eq(r.srtt_us, 40000);
  cr_assert_eq(r.rttvar_us, 20000);
  cr_assert_eq(r.rto_us, 40000 + 4 * 20000);
}

Test(rtt, jacobson_karels_update)
{
  struct aoe_rtt r;
  aoe_rtt_init(&r);
  aoe_rtt_sample(&r, 40000);
  aoe_rtt_sample(&r, 48000);
  /* err = 8000: srtt += 1000; rttvar += (8000 - 20000) / 4 = -3000 */
  cr_assert_eq(r.srtt_us, 41000);
  cr_assert_eq(r.rttvar_us, 17000);
  cr_assert_eq(r.rto_us, 41000 + 4 * 17000);
  aoe_rtt_sample(&r, 33000);
  /* err = -8000: srtt -= 1000; rttvar += (8000 - 17000) / 4 = -2250 */
  cr_assert_eq(r.srtt_us, 40000);
  cr_assert_eq(r.rttvar_us, 14750);
}

Test(rtt, steady_samples_converge_and_rto_is_clamped_low)
{
  struct aoe_rtt r;
  aoe_rtt_init(&r);
  for (int i = 0; i < 200; i++)
    aoe_rtt_sample(&r, 150);
  cr_assert_eq(r.srtt_us, 150);
  cr_assert_lt(r.rttvar_us, 10);
  cr_assert_eq(r.rto_us, AOE_RTO_MIN_US, "a LAN rtt of 150 us still waits the minimum rto");
}

Test(rtt, steady_slow_path_waits_twice_its_round_trip)
{
  struct aoe_rtt r;
  aoe_rtt_init(&r);
  for (int i = 0; i < 200; i++)
    aoe_rtt_sample(&r, 400000);
  cr_assert_eq(r.rttvar_us < 1000, 1, "the variance of a steady path shrinks: %u", r.rttvar_us);
  cr_assert_eq(r.rto_us, 800000, "a steady 400 ms path times out at %u us, not twice its "
               "round trip: frames queued at the shelf go twice", r.rto_us);
}

Test(rtt, rto_clamped_high_and_backoff_doubles)
{
  struct aoe_rtt r;
  aoe_rtt_init(&r);
  aoe_rtt_sample(&r, 3000000);
  cr_assert_eq(r.rto_us, AOE_RTO_MAX_US);
  aoe_rtt_init(&r);
  aoe_rtt_sample(&r, 10000);                  /* rto 30000 */
  cr_assert_eq(r.rto_us, 30000);
  aoe_rtt_backoff(&r);
  cr_assert_eq(r.rto_us, 60000);
  for (int i = 0; i < 10; i++)
    aoe_rtt_backoff(&r);
  cr_assert_eq(r.rto_us, AOE_RTO_MAX_US);
}

Test(window, slow_start_then_congestion_avoidance)
{
  struct aoe_window w;
  aoe_window_init(&w, 16);
  cr_assert_eq(w.cwnd, AOE_WINDOW_START);
  cr_assert_eq(w.ssthresh, 16);
  aoe_window_loss(&w);                        /* cwnd 2 -> 1, ssthresh 1 */
  cr_assert_eq(w.cwnd, 1);
  cr_assert_eq(w.ssthresh, 1);
  /* Above ssthresh: one frame more per window of acks. */
  aoe_window_ack(&w);
  cr_assert_eq(w.cwnd, 2);
  aoe_window_ack(&w);
  cr_assert_eq(w.cwnd, 2);
  aoe_window_ack(&w);
  cr_assert_eq(w.cwnd, 3);
  for (int i = 0; i < 3; i++)
    aoe_window_ack(&w);
  cr_assert_eq(w.cwnd, 4);
}

Test(window, slow_start_grows_per_ack_up_to_max)
{
  struct aoe_window w;
  aoe_window_init(&w, 16);
  for (int i = 0; i < 14; i++)
    aoe_window_ack(&w);
  cr_assert_eq(w.cwnd, 16);
  for (int i = 0; i < 100; i++)
    aoe_window_ack(&w);
  cr_assert_eq(w.cwnd, 16, "never above the target's buffer count");
}

Test(window, loss_halves_and_collapse_restarts)
{
  struct aoe_window w;
  aoe_window_init(&w, 64);
  while (w.cwnd < 40)
    aoe_window_ack(&w);
  aoe_window_loss(&w);
  cr_assert_eq(w.cwnd, 20);
  cr_assert_eq(w.ssthresh, 20);
  aoe_window_collapse(&w);
  cr_assert_eq(w.cwnd, 1);
  cr_assert_eq(w.ssthresh, 10);
  /* Slow start back to ssthresh, then linear. */
  for (int i = 0; i < 9; i++)
    aoe_window_ack(&w);
  cr_assert_eq(w.cwnd, 10);
  aoe_window_ack(&w);
  cr_assert_eq(w.cwnd, 10);
}

Test(window, cap_and_set_max)
{
  struct aoe_window w;
  aoe_window_init(&w, 1000);
  cr_assert_eq(w.max, AOE_WINDOW_CAP);
  aoe_window_init(&w, 0);
  cr_assert_eq(w.max, 1);
  cr_assert_eq(w.cwnd, 1);
  aoe_window_init(&w, 32);
  while (w.cwnd < 32)
    aoe_window_ack(&w);
  aoe_window_set_max(&w, 8);
  cr_assert_eq(w.cwnd, 8, "a shelf that lowers its buffer count shrinks the window");
  cr_assert_leq(w.ssthresh, 8);
}

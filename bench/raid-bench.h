/* Timing helpers shared by the RAID benchmarks. */
#ifndef AOERAID_RAID_BENCH_H
#define AOERAID_RAID_BENCH_H

#include <time.h>

static inline double
bench_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run step() (which returns the bytes it moved) for `seconds` split into
 * 5 runs; GB/s of the best run.  The machine is shared: the best run is the
 * one least disturbed, for the ceiling and the measured alike. */
static inline double
bench_best_gbs (unsigned long long (*step) (void *), void *opaque, double seconds)
{
  double best = 0;

  for (int run = 0; run < 5; run++) {
    double start = bench_now (), t;
    unsigned long long bytes = 0;
    do {
      for (int i = 0; i < 16; i++)
        bytes += step (opaque);
      t = bench_now () - start;
    } while (t < seconds / 5);
    if (bytes / t / 1e9 > best)
      best = bytes / t / 1e9;
  }
  return best;
}

#endif

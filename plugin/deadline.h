/* A CLOCK_MONOTONIC deadline for pthread_cond_timedwait on a condition made with that
 * clock (pthread_condattr_setclock). */
#ifndef AOERAID_DEADLINE_H
#define AOERAID_DEADLINE_H

#include <time.h>

static inline struct timespec deadline_in_ms(unsigned ms)
{
  struct timespec t;

  clock_gettime(CLOCK_MONOTONIC, &t);
  t.tv_sec += ms / 1000;
  t.tv_nsec += (long)(ms % 1000) * 1000000;
  if (t.tv_nsec >= 1000000000) {
    t.tv_sec++;
    t.tv_nsec -= 1000000000;
  }
  return t;
}

#endif

/* Timed waits of the plugin's threads on the monotonic clock: a condition made with it, and
 * a deadline for pthread_cond_timedwait on such a condition (the wall clock may jump). */
#ifndef AOERAID_DEADLINE_H
#define AOERAID_DEADLINE_H

#include <pthread.h>
#include <time.h>

static inline void cond_init_monotonic(pthread_cond_t *cond)
{
  pthread_condattr_t attr;

  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(cond, &attr);
  pthread_condattr_destroy(&attr);
}

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

/* Milliseconds since START (taken with clock_gettime(CLOCK_MONOTONIC)). */
static inline long elapsed_ms(const struct timespec *start)
{
  struct timespec now;

  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

#endif

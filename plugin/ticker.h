/* A thread that runs one job at once and then every period until stopped: the events
 * thread (alert.c) and auto-readd's (readd.c).  The monitor keeps its own loop: it is
 * kicked, and its pause depends on what it ran. */
#ifndef AOERAID_TICKER_H
#define AOERAID_TICKER_H

#include <pthread.h>
#include <stdbool.h>

struct ticker {
  const char *what;             /* "the events thread": for the error if it cannot start */
  unsigned period_ms;
  void (*tick)(void *opaque);
  void *opaque;
  /* ticker.c's */
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool running, stopping;
};

/* Start the thread (after the fork); 0, or -1 after nbdkit_error. */
int ticker_start(struct ticker *t);
/* Stop it: a tick in progress ends first. */
void ticker_stop(struct ticker *t);
/* True once ticker_stop was called: a long tick can give up early. */
bool ticker_stopping(struct ticker *t);

#endif

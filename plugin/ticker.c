/* One job at once and then every period, on its own thread, until stopped. */
#include <errno.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "deadline.h"
#include "ticker.h"

bool ticker_stopping(struct ticker *t)
{
  bool stop;

  pthread_mutex_lock(&t->lock);
  stop = t->stopping;
  pthread_mutex_unlock(&t->lock);
  return stop;
}

/* Sleep a period, or until stopped; true when stopping. */
static bool ticker_wait(struct ticker *t)
{
  struct timespec until = deadline_in_ms(t->period_ms);
  bool stop;

  pthread_mutex_lock(&t->lock);
  while (!t->stopping && pthread_cond_timedwait(&t->cond, &t->lock, &until) != ETIMEDOUT)
    ;
  stop = t->stopping;
  pthread_mutex_unlock(&t->lock);
  return stop;
}

static void *ticker_main(void *arg)
{
  struct ticker *t = arg;

  do
    t->tick(t->opaque);
  while (!ticker_wait(t));
  return NULL;
}

int ticker_start(struct ticker *t)
{
  int err;

  pthread_mutex_init(&t->lock, NULL);
  cond_init_monotonic(&t->cond);
  t->stopping = false;
  err = pthread_create(&t->thread, NULL, ticker_main, t);
  if (err) {
    nbdkit_error("cannot start %s: %s", t->what, strerror(err));
    return -1;
  }
  t->running = true;
  return 0;
}

void ticker_stop(struct ticker *t)
{
  if (!t->running)
    return;
  pthread_mutex_lock(&t->lock);
  t->stopping = true;
  pthread_cond_signal(&t->cond);
  pthread_mutex_unlock(&t->lock);
  pthread_join(t->thread, NULL);
  t->running = false;
}

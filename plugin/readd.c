/* auto-readd's thread.  The look ran first in every round of the monitor, so during a
 * long recovery, check or replace (minutes to hours on real shelves) a shelf that came
 * back waited for the run to end; here it is looked for on time.  What a look does (once
 * per return, the admin's failed and removed shelves left out, under add_lock beside the
 * control requests) is the caller's. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <nbdkit-plugin.h>

#include "deadline.h"
#include "readd.h"

#define READD_POLL_MS 250     /* as often as the monitor looked when idle */

static void (*readd_look)(void);
static pthread_t readd_thread;
static bool readd_running, readd_stopping;
static pthread_mutex_t readd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t readd_cond;

/* Sleep a round, or until stopped; true when stopping. */
static bool readd_wait(void)
{
  struct timespec until = deadline_in_ms(READD_POLL_MS);
  bool stop;

  pthread_mutex_lock(&readd_lock);
  while (!readd_stopping &&
         pthread_cond_timedwait(&readd_cond, &readd_lock, &until) != ETIMEDOUT)
    ;
  stop = readd_stopping;
  pthread_mutex_unlock(&readd_lock);
  return stop;
}

static void *readd_main(void *arg)
{
  while (!readd_wait())
    readd_look();
  return NULL;
}

int readd_start(void (*look)(void))
{
  pthread_condattr_t attr;
  int err;

  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&readd_cond, &attr);
  pthread_condattr_destroy(&attr);
  readd_look = look;
  readd_stopping = false;
  err = pthread_create(&readd_thread, NULL, readd_main, NULL);
  if (err) {
    nbdkit_error("cannot start the auto-readd thread: %s", strerror(err));
    return -1;
  }
  readd_running = true;
  return 0;
}

void readd_stop(void)
{
  if (!readd_running)
    return;
  pthread_mutex_lock(&readd_lock);
  readd_stopping = true;
  pthread_cond_signal(&readd_cond);
  pthread_mutex_unlock(&readd_lock);
  pthread_join(readd_thread, NULL);
  readd_running = false;
}

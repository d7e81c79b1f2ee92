/* The array's background worker.  It polls raid/ for work (a member that went faulty is
 * noticed within MONITOR_POLL_MS) rather than taking a callback from the data path, so a
 * failing write never waits on it: first the caller's look (shelves that came back are
 * re-added), then a reshape (a grow), then recovery (a hot spare replaces a faulty or
 * missing member at once, as md does), then resync once the array is whole.  No rate
 * limit: recovery runs one stripe (mirrors: one chunk) at a time beside normal I/O,
 * which takes the stripe lock between units. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <nbdkit-plugin.h>

#include "log.h"
#include "monitor.h"
#include "status.h"

#define MONITOR_POLL_MS 250
#define MONITOR_RETRY_MS 1000      /* after a failed recovery, before the next try */
#define MONITOR_FAILED_MS 60000    /* the array lost too much: wait for an add */

static struct raid_array *mon_array;
static void (*mon_look)(void);
static pthread_t mon_thread;
static bool mon_running, mon_stop, mon_kicked;
static pthread_mutex_t mon_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mon_cond;

/* Sleep up to ms, or until kicked or stopped; true when stopping. */
static bool monitor_wait(unsigned ms)
{
  struct timespec until;
  bool stop;

  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (long)(ms % 1000) * 1000000;
  if (until.tv_nsec >= 1000000000) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock(&mon_lock);
  while (!mon_stop && !mon_kicked &&
         pthread_cond_timedwait(&mon_cond, &mon_lock, &until) != ETIMEDOUT)
    ;
  mon_kicked = false;
  stop = mon_stop;
  pthread_mutex_unlock(&mon_lock);
  return stop;
}

/* One recovery run; the pause before the next look, or -1 to stop the thread. */
static int run_recovery(void)
{
  struct raid_status st;
  int r;

  status_recovery_begin();
  r = raid_recover(mon_array);
  if (r == 0) {
    log_notice("recovery finished");
    return 0;
  }
  if (r == -ECANCELED)
    return -1;
  if (r != -EAGAIN)
    nbdkit_error("recovery stopped: %s", strerror(-r));
  /* a failed array cannot be rebuilt: try again when kicked (or much later) */
  if (raid_status(mon_array, &st) == 0 && st.state == RAID_STATE_FAILED)
    return MONITOR_FAILED_MS;
  return MONITOR_RETRY_MS;
}

/* One reshape run (a grow); the pause before the next look, or -1 to stop the thread. */
static int run_reshape(void)
{
  int r = raid_reshape(mon_array);

  if (r == 0) {
    log_notice("reshape finished: %" PRIu64 " bytes; clients that connect now see the "
               "new size", raid_size(mon_array));
    return 0;
  }
  if (r == -ECANCELED)
    return -1;
  if (r != -EAGAIN)
    nbdkit_error("reshape stopped: %s", strerror(-r));
  return r == -EIO ? MONITOR_FAILED_MS : MONITOR_RETRY_MS;
}

static bool array_whole(void)
{
  struct raid_status st;
  return raid_status(mon_array, &st) == 0 && st.state == RAID_STATE_CLEAN;
}

static void *monitor_main(void *arg)
{
  bool resync_gave_up = false;
  int pause = 0, r;

  while (!monitor_wait(pause)) {
    pause = MONITOR_POLL_MS;
    raid_bitmap_tick(mon_array);      /* clears regions idle for a while */
    if (mon_look)
      mon_look();                     /* may add a spare: recovery below takes it */
    if (raid_reshape_pending(mon_array)) {
      pause = run_reshape();
      if (pause < 0)
        break;
    }
    else if (raid_recovery_pending(mon_array)) {
      pause = run_recovery();
      if (pause < 0)
        break;
    }
    else if (!resync_gave_up && raid_needs_resync(mon_array) && array_whole()) {
      r = raid_resync(mon_array);
      if (r == -ECANCELED)
        break;
      if (r == 0)
        log_notice("resync finished");
      else if (r != -EAGAIN) {
        nbdkit_error("resync stopped: %s", strerror(-r));
        resync_gave_up = true;
      }
      pause = 0;
    }
  }
  return NULL;
}

int monitor_start(struct raid_array *array, void (*look)(void))
{
  pthread_condattr_t attr;
  int err;

  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&mon_cond, &attr);
  pthread_condattr_destroy(&attr);
  mon_array = array;
  mon_look = look;
  mon_stop = false;
  err = pthread_create(&mon_thread, NULL, monitor_main, NULL);
  if (err) {
    nbdkit_error("cannot start the resync and recovery thread: %s", strerror(err));
    return -1;
  }
  mon_running = true;
  return 0;
}

void monitor_kick(void)
{
  pthread_mutex_lock(&mon_lock);
  mon_kicked = true;
  pthread_cond_signal(&mon_cond);
  pthread_mutex_unlock(&mon_lock);
}

void monitor_stop(void)
{
  if (!mon_running)
    return;
  pthread_mutex_lock(&mon_lock);
  mon_stop = true;
  pthread_cond_signal(&mon_cond);
  pthread_mutex_unlock(&mon_lock);
  raid_resync_cancel(mon_array);
  pthread_join(mon_thread, NULL);
  mon_running = false;
}

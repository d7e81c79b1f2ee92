/* The array's background worker.  It polls raid/ for work (a member that went faulty is
 * noticed within MONITOR_POLL_MS) rather than taking a callback from the data path, so a
 * failing write never waits on it: a reshape (a grow), then recovery (a hot spare replaces a faulty or
 * missing member at once, as md does), then resync once the array is whole, then a
 * replace in place, then a check or repair when one was asked for (md's sync_action).  Each runs beside normal I/O, a
 * few units at a time under their stripe locks, within the speed limits (raid/pace.c).
 * A replace stops at its checkpoint when a recovery becomes due (-EAGAIN: another slot
 * failed, with a spare), so the next round runs the recovery and the one after resumes
 * the copy: md's sync thread rebuilds a failed slot beside a replacement.  A recovery
 * that fails is held off for a while (recovery_back_off), and a replace goes on meanwhile,
 * stepping aside at its next window once the hold runs out (recovery goes first, as in md). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <nbdkit-plugin.h>

#include "deadline.h"
#include "log.h"
#include "monitor.h"
#include "reply.h"
#include "status.h"

#define MONITOR_POLL_MS 250
#define MONITOR_RETRY_MS 1000      /* after a failed recovery or reshape, before the next try */
#define MONITOR_FAILED_MS 60000    /* the array lost too much: wait for an add */

static struct raid_array *mon_array;
static pthread_t mon_thread;
static bool mon_running, mon_stop, mon_kicked;
/* A check or repair asked for and not yet begun, or running (under mon_lock). */
static enum raid_check_action mon_check;
static bool mon_checking;
/* Checks and repairs the array had ended when the running one was taken: it is over once
 * that count moves on (under mon_lock). */
static uint64_t mon_check_ended;
static pthread_mutex_t mon_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mon_cond;
/* The reshape waits on a failed array: said once, not at every retry. */
static bool mon_reshape_waiting;
/* A recovery that failed is not tried again for mon_recovery_backoff_ms (the pause doubles
 * at each failure, up to MONITOR_FAILED_MS) unless kicked (an add, a fail, a replace):
 * raid_recovery_hold keeps the time, so that a replace copying on meanwhile sees it run
 * out too.  Why it failed is said once, not at every try, until one succeeds. */
static bool mon_recovery_said;
static bool mon_recovery_kicked;   /* under mon_lock */
/* Kicks so far, those the pass under way began after, and those the last ended pass had
 * seen (under mon_lock): a kick is pending until a pass begun after it has ended. */
static uint64_t mon_kicks, mon_pass_kicks, mon_kicks_looked;
static unsigned mon_recovery_backoff_ms;
/* "NAME: ", the array's name that starts each line the monitor logs, as raid/'s own lines
 * start ("r1: resync from unit 0 of 512", then "r1: resync finished"); "" for an array
 * with no name, as raid/ leaves it out then. */
static char mon_prefix[RAID_NAME_MAX + 3];

/* Sleep up to ms, or until kicked or stopped; true when stopping. */
static bool monitor_wait(unsigned ms)
{
  struct timespec until = deadline_in_ms(ms);
  bool stop;

  pthread_mutex_lock(&mon_lock);
  mon_kicks_looked = mon_pass_kicks;        /* the pass before this wait has ended */
  while (!mon_stop && !mon_kicked &&
         pthread_cond_timedwait(&mon_cond, &mon_lock, &until) != ETIMEDOUT)
    ;
  mon_kicked = false;
  mon_pass_kicks = mon_kicks;
  stop = mon_stop;
  pthread_mutex_unlock(&mon_lock);
  return stop;
}

/* The recovery failed with R (FAILED: the array has): hold it off for a while, so that
 * it is not retried every round and a replace waiting for it copies on. */
static void recovery_back_off(int r, bool failed)
{
  unsigned ms = mon_recovery_backoff_ms;

  ms = ms ? 2 * ms : failed ? MONITOR_FAILED_MS : MONITOR_RETRY_MS;
  if (ms > MONITOR_FAILED_MS)
    ms = MONITOR_FAILED_MS;
  mon_recovery_backoff_ms = ms;
  if (!mon_recovery_said)
    nbdkit_error("%srecovery cannot make progress: %s; it is tried again in %u s (later "
                 "each time, up to %u s), at once after an add, fail or replace, and a "
                 "replace waiting for it goes on meanwhile", mon_prefix,
                 failed ? "the array has failed (too many members lost): add the missing "
                 "members back" : strerror(-r), ms / 1000, MONITOR_FAILED_MS / 1000);
  mon_recovery_said = true;
  raid_recovery_hold(mon_array, ms);
}

/* The recovery is held off: false once its pause is over, or the monitor was kicked since
 * (a kick during the failed run would otherwise be lost to the hold set after it). */
static bool recovery_held(void)
{
  bool kicked;

  pthread_mutex_lock(&mon_lock);
  kicked = mon_recovery_kicked;
  pthread_mutex_unlock(&mon_lock);
  if (kicked)
    raid_recovery_hold(mon_array, 0);
  return !kicked && raid_recovery_held(mon_array);
}

/* One recovery run; the pause before the next look, or -1 to stop the thread. */
static int run_recovery(void)
{
  struct raid_status st;
  int r;

  pthread_mutex_lock(&mon_lock);
  mon_recovery_kicked = false;      /* a kick from now on is news to this run's end */
  pthread_mutex_unlock(&mon_lock);
  status_recovery_begin();
  r = raid_recover(mon_array);
  if (r == 0) {
    log_notice("%srecovery finished", mon_prefix);
    mon_recovery_backoff_ms = 0;
    mon_recovery_said = false;
    return 0;
  }
  if (r == -ECANCELED)
    return -1;
  /* Nothing to rebuild after all: raid_recovery_pending said there was, and the state
   * changed before raid_recover looked under its locks (the spare went down or was
   * removed, the recovering member failed with no spare left, a grow began).  Both ask
   * the same questions, so this passes with the change: no back-off, no line, and the
   * next look, at the monitor's own pace, runs whatever is due then (a recovery at once). */
  if (r == -EAGAIN)
    return MONITOR_POLL_MS;
  recovery_back_off(r, raid_status(mon_array, &st) == 0 && st.state == RAID_STATE_FAILED);
  return MONITOR_POLL_MS;
}

/* One reshape run (a grow); the pause before the next look, or -1 to stop the thread. */
static int run_reshape(void)
{
  int r;

  status_reshape_begin();
  r = raid_reshape(mon_array);

  if (r == -EIO) {
    if (!mon_reshape_waiting)
      nbdkit_error("%sreshape waits: the array has failed (too many members lost) and "
                   "nothing more is moved; restart nbdkit with the members back, and the "
                   "reshape resumes from its recorded position", mon_prefix);
    mon_reshape_waiting = true;
    return MONITOR_FAILED_MS;
  }
  mon_reshape_waiting = false;
  if (r == 0) {
    /* raid/ logged "reshape finished" with the shape; this is what it means to clients */
    log_notice("%sexport size now %" PRIu64 " bytes: clients that connect now see it "
               "(NBD gives the size at connect)", mon_prefix, raid_size(mon_array));
    return 0;
  }
  if (r == -ECANCELED)
    return -1;
  if (r != -EAGAIN)
    nbdkit_error("%sreshape stopped: %s", mon_prefix, strerror(-r));
  return MONITOR_RETRY_MS;
}

/* The check or repair asked for, now running; false when none was asked for. */
static uint64_t checks_ended(void);

static bool check_take(enum raid_check_action *action)
{
  uint64_t ended = checks_ended();    /* none ends meanwhile: only this thread runs them */

  pthread_mutex_lock(&mon_lock);
  *action = mon_check;
  mon_checking = mon_check != RAID_CHECK_NONE;
  mon_check_ended = ended;
  mon_check = RAID_CHECK_NONE;
  pthread_mutex_unlock(&mon_lock);
  return *action != RAID_CHECK_NONE;
}

static void check_done(void)
{
  pthread_mutex_lock(&mon_lock);
  mon_checking = false;
  pthread_mutex_unlock(&mon_lock);
}

static bool array_whole(void)
{
  struct raid_status st;
  return raid_status(mon_array, &st) == 0 && st.state == RAID_STATE_CLEAN;
}

static void *monitor_main(void *arg)
{
  enum raid_check_action check;
  bool resync_gave_up = false;
  int pause = 0, r;

  while (!monitor_wait(pause) && !raid_fenced(mon_array)) {
    pause = MONITOR_POLL_MS;
    raid_bitmap_tick(mon_array);      /* clears regions idle for a while */
    raid_log_tick(mon_array);         /* sums up the log lines a flood left out */
    reply_log_tick();
    if (raid_reshape_pending(mon_array)) {
      pause = run_reshape();
      if (pause < 0)
        break;
    }
    else if (raid_recovery_pending(mon_array) && !recovery_held()) {
      pause = run_recovery();
      if (pause < 0)
        break;
    }
    else if (!resync_gave_up && raid_needs_resync(mon_array) && array_whole()) {
      status_resync_begin();
      r = raid_resync(mon_array);
      status_resync_end();
      if (r == -ECANCELED)
        break;
      if (r == 0)
        log_notice("%sresync finished", mon_prefix);
      else if (r != -EAGAIN) {
        nbdkit_error("%sresync stopped: %s", mon_prefix, strerror(-r));
        resync_gave_up = true;
      }
      pause = 0;
    }
    else if (raid_replace_pending(mon_array)) {
      status_replace_begin();
      /* it logs how it ended; -EAGAIN: a recovery is due, the next round runs it */
      if (raid_replace(mon_array) == -ECANCELED)
        break;
      pause = 0;
    }
    else if (check_take(&check)) {
      status_check_begin();
      raid_check(mon_array, check);      /* it logs how it ended */
      check_done();
      pause = 0;
    }
  }
  return NULL;
}

/* MON_PREFIX for ARRAY (it is not renamed while it runs). */
static void set_prefix(struct raid_array *array)
{
  struct raid_status st;

  mon_prefix[0] = '\0';
  if (raid_status(array, &st) == 0 && st.name[0])
    snprintf(mon_prefix, sizeof mon_prefix, "%s: ", st.name);
}

int monitor_start(struct raid_array *array)
{
  int err;

  cond_init_monotonic(&mon_cond);
  mon_array = array;
  set_prefix(array);
  mon_stop = false;
  mon_recovery_said = mon_recovery_kicked = false;
  mon_recovery_backoff_ms = 0;
  err = pthread_create(&mon_thread, NULL, monitor_main, NULL);
  if (err) {
    nbdkit_error("cannot start the resync and recovery thread: %s", strerror(err));
    return -1;
  }
  mon_running = true;
  return 0;
}

/* Checks and repairs the array has ended (0 when its status cannot be had: the one taken
 * then counts as running, as before any ended). */
static uint64_t checks_ended(void)
{
  struct raid_status st;

  if (raid_status(mon_array, &st) != 0)
    return 0;
  return st.runs_ended[RAID_RUN_CHECK] + st.runs_ended[RAID_RUN_REPAIR];
}

/* The check taken is not over.  mon_checking alone would also say so for the moment after
 * it ended (its line logged) before the monitor comes back from it: a request then would
 * be refused, or a stop accepted, against what the log and status say.  Not the raid
 * status's check_running: it is not yet set in the moment after the monitor took the
 * check, where a stop must still reach it and a request must be refused.  ENDED:
 * checks_ended, from before mon_lock.  Under mon_lock. */
static bool check_on(uint64_t ended)
{
  return mon_checking && ended <= mon_check_ended;
}

int monitor_check(enum raid_check_action action)
{
  uint64_t ended = checks_ended();
  int r = -1;

  pthread_mutex_lock(&mon_lock);
  if (mon_check == RAID_CHECK_NONE && !check_on(ended)) {
    mon_check = action;
    mon_kicked = true;
    pthread_cond_signal(&mon_cond);
    r = 0;
  }
  pthread_mutex_unlock(&mon_lock);
  return r;
}

enum raid_check_action monitor_check_waiting(void)
{
  enum raid_check_action action;

  pthread_mutex_lock(&mon_lock);
  action = mon_check;
  pthread_mutex_unlock(&mon_lock);
  return action;
}

bool monitor_check_stop(void)
{
  uint64_t ended = checks_ended();
  bool on, had;

  pthread_mutex_lock(&mon_lock);
  on = check_on(ended);
  had = mon_check != RAID_CHECK_NONE || on;
  mon_check = RAID_CHECK_NONE;
  if (on)     /* not one that ended: its stop would cancel the next */
    raid_check_stop(mon_array);
  pthread_mutex_unlock(&mon_lock);
  return had;
}

void monitor_kick(void)
{
  if (mon_running)
    raid_recovery_hold(mon_array, 0);   /* a running replace steps aside for it */
  pthread_mutex_lock(&mon_lock);
  mon_kicked = true;
  mon_recovery_kicked = true;
  mon_kicks++;
  pthread_cond_signal(&mon_cond);
  pthread_mutex_unlock(&mon_lock);
}

bool monitor_kick_pending(void)
{
  bool pending;

  pthread_mutex_lock(&mon_lock);
  pending = mon_running && !mon_stop && mon_kicks > mon_kicks_looked;
  pthread_mutex_unlock(&mon_lock);
  return pending;
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

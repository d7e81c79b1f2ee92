/* The monitor's check requests (plugin/monitor.c) on an in-memory array, with the plugin's
 * status and log stubbed: status_check_begin, called between the monitor taking a check
 * and the check starting, holds that moment open. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "../../plugin/monitor.h"

static atomic_int taken;             /* the monitor took a check: in status_check_begin */
static atomic_int hold;              /* it stays there until the test clears this: a wait
                                        of a fixed time would close the moment early on a
                                        machine that runs the test thread late */

void status_check_begin (void);
void status_replace_begin (void);
void status_recovery_begin (void);
void status_reshape_begin (void);
void status_resync_begin (void);
void status_resync_end (void);
void log_notice (const char *fmt, ...);
void nbdkit_error (const char *fmt, ...);

void
status_check_begin (void)
{
  atomic_store (&taken, 1);
  while (atomic_load (&hold))
    usleep (1000);
}

void status_replace_begin (void) { }
void status_recovery_begin (void) { }
void status_reshape_begin (void) { }
void status_resync_begin (void) { }
void status_resync_end (void) { }
void log_notice (const char *fmt, ...) { (void) fmt; }
void nbdkit_error (const char *fmt, ...) { (void) fmt; }

static struct raid_status
checks_wait (struct raid_array *a, uint64_t ended)
{
  struct raid_status st;

  for (unsigned i = 0; i < 1000; i++) {
    cr_assert_eq (raid_status (a, &st), 0);
    if (st.runs_ended[RAID_RUN_CHECK] + st.runs_ended[RAID_RUN_REPAIR] >= ended)
      return st;
    usleep (10000);
  }
  cr_assert_fail ("check %llu did not end", (unsigned long long) ended);
  return st;
}

/* Taken, not yet begun: a second request is refused, a stop reaches it (and no other). */
Test (monitor, a_check_taken_but_not_begun_refuses_a_request_and_takes_a_stop, .timeout = 30)
{
  struct fx f;
  struct raid_status st;
  int accepted = 0;

  fx_create (&f, RAID_LEVEL_1, 2, 0, 0, 4096, RAID_CREATE_ASSUME_CLEAN);
  cr_assert_eq (monitor_start (f.a), 0);
  atomic_store (&hold, 1);
  cr_assert_eq (monitor_check (RAID_CHECK), 0);
  while (!atomic_load (&taken))
    usleep (1000);
  cr_expect_eq (monitor_check (RAID_CHECK_REPAIR), -1, "a request while one is taken");
  cr_expect (monitor_check_stop (), "the stop found no check");
  atomic_store (&hold, 0);
  st = checks_wait (f.a, 1);
  cr_expect_eq (st.check_complete, 0, "the stop did not reach the check taken");
  /* the next one runs to its end: no stop was kept for it */
  for (unsigned i = 0; i < 500 && !accepted; i++) {
    accepted = monitor_check (RAID_CHECK) == 0;
    if (!accepted)
      usleep (10000);
  }
  cr_assert (accepted, "a check after the stopped one was refused");
  st = checks_wait (f.a, 2);
  cr_expect_eq (st.check_complete, 1, "the next check was stopped");
  monitor_stop ();
  fx_free (&f);
}

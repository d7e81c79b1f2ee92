/* The monitor's check requests (plugin/monitor.c) on an in-memory array, with the plugin's
 * status and log stubbed: status_check_begin, called between the monitor taking a check
 * and the check starting, holds that moment open. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "../../plugin/monitor.h"

static atomic_int recoveries;       /* status_recovery_begin: the monitor tried one */
static atomic_int cannot_progress;  /* nbdkit_error lines saying a recovery cannot go on */
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
void reply_log_tick (void);
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

/* A spare that goes down as the monitor starts a recovery, between raid_recovery_pending
 * and raid_recover (once; NULL: none). */
static struct raid_mem_member *_Atomic down_at_begin;
static atomic_int hold_recovery;     /* the recovery begun waits until the test clears it */

void
status_recovery_begin (void)
{
  struct raid_mem_member *spare = atomic_exchange (&down_at_begin, NULL);

  if (spare)
    raid_mem_member_set_down (spare, 1);
  atomic_fetch_add (&recoveries, 1);
  while (atomic_load (&hold_recovery))
    usleep (1000);
}
void status_reshape_begin (void) { }
void status_resync_begin (void) { }
void status_resync_end (void) { }
void reply_log_tick (void) { }
/* The lines log_notice was given, for the test of their prefix. */
static char notices[16][256];
static atomic_int n_notices;

void
log_notice (const char *fmt, ...)
{
  int i = atomic_fetch_add (&n_notices, 1);
  va_list ap;

  if (i >= 16)
    return;
  va_start (ap, fmt);
  vsnprintf (notices[i], sizeof notices[i], fmt, ap);
  va_end (ap);
}

/* Whether log_notice was given a line that starts with START, waiting up to 20 s. */
static bool
noticed (const char *start)
{
  for (unsigned t = 0; t < 2000; t++) {
    int n = atomic_load (&n_notices);
    for (int i = 0; i < n && i < 16; i++)
      if (!strncmp (notices[i], start, strlen (start)))
        return true;
    usleep (10000);
  }
  return false;
}
void
nbdkit_error (const char *fmt, ...)
{
  char line[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (line, sizeof line, fmt, ap);
  va_end (ap);
  if (strstr (line, "recovery cannot make progress"))
    atomic_fetch_add (&cannot_progress, 1);
}

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

/* A replace waits for a recovery that cannot run (the two members it would rebuild from
 * are unreadable at one row): the monitor holds the recovery off after it fails, says why
 * once, and the replace goes on to its end meanwhile (it waited for ever: the recovery was
 * tried again every second and the replace stepped aside each time). */
Test (monitor, a_replace_goes_on_while_a_failing_recovery_backs_off, .timeout = 60)
{
  struct raid_mem_member *spare[2];
  struct raid_member m;
  struct raid_status st;
  char err[256] = "";
  struct fx f;
  unsigned i;

  fx_create (&f, RAID_LEVEL_6, 4, 2, 2, 4096, RAID_CREATE_ASSUME_CLEAN);
  for (i = 0; i < 2; i++) {
    spare[i] = raid_mem_member_new (i ? "e10.1" : "e9.1", FX_MEMBER_SIZE);
    m = raid_mem_member (spare[i]);
    cr_assert_eq (raid_add_member (f.a, &m, err, sizeof err), 0, "add: %s", err);
  }
  cr_assert_eq (raid_replace_start (f.a, "e1.1", "e9.1", err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_fail_member (f.a, "e4.1", err, sizeof err), 0, "%s", err);
  for (i = 1; i < 3; i++)
    raid_mem_member_bad_range (f.mm[i], RAID_DATA_OFFSET + 8 * 4096, 4096);
  cr_assert_eq (raid_recovery_pending (f.a), 1);
  /* status tells a held recovery, so that it does not show the replace waiting for it */
  raid_recovery_hold (f.a, 1);
  cr_assert (raid_status (f.a, &st) == 0 && st.recovery_held,
             "status does not show the recovery held off");
  raid_recovery_hold (f.a, 0);
  cr_assert (raid_status (f.a, &st) == 0 && !st.recovery_held);
  atomic_store (&recoveries, 0);
  atomic_store (&cannot_progress, 0);
  cr_assert_eq (monitor_start (f.a), 0);
  for (i = 0; i < 3000 && !(raid_status (f.a, &st) == 0 && st.replace_slot < 0); i++)
    usleep (10000);
  cr_assert (st.replace_slot < 0 && !strcmp (st.member[0].name, "e9.1"), "the replace did "
             "not end while the recovery failed (%d tries): replacing slot %d at %llu, slot 0 "
             "%s", atomic_load (&recoveries), st.replace_slot,
             (unsigned long long) st.replace_offset, st.member[0].name);
  /* tried again later, without a second line */
  for (i = 0; i < 3000 && atomic_load (&recoveries) < 2; i++)
    usleep (10000);
  monitor_stop ();
  cr_assert_geq (atomic_load (&recoveries), 2, "the recovery was not tried again");
  cr_assert_eq (atomic_load (&cannot_progress), 1, "why the recovery cannot go on was said "
                "%d times", atomic_load (&cannot_progress));
  fx_free (&f);
  for (i = 0; i < 2; i++)
    raid_mem_member_free (spare[i]);
}

/* The spare goes down between the monitor's look (raid_recovery_pending) and the recovery's
 * start, so raid_recover finds nothing to rebuild (-EAGAIN): a passing race, not a recovery
 * that cannot go on.  Nothing is said, the recovery is not held off, and once the spare is
 * back the next look runs it. */
Test (monitor, a_recovery_with_nothing_to_rebuild_is_not_held_off, .timeout = 60)
{
  struct raid_mem_member *spare;
  struct raid_member m;
  struct raid_status st;
  char err[256] = "";
  struct fx f;
  unsigned i;

  fx_create (&f, RAID_LEVEL_1, 2, 0, 0, 4096, RAID_CREATE_ASSUME_CLEAN);
  spare = raid_mem_member_new ("e9.1", FX_MEMBER_SIZE);
  m = raid_mem_member (spare);
  cr_assert_eq (raid_add_member (f.a, &m, err, sizeof err), 0, "add: %s", err);
  cr_assert_eq (raid_fail_member (f.a, "e2.1", err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_recovery_pending (f.a), 1);
  atomic_store (&down_at_begin, spare);
  cr_assert_eq (monitor_start (f.a), 0);
  /* a check taken is a round of the monitor after the one that found nothing */
  for (i = 0; i < 3000 && atomic_load (&recoveries) < 1; i++)
    usleep (10000);
  cr_assert_eq (atomic_load (&recoveries), 1, "the monitor did not look for a recovery");
  cr_assert_eq (monitor_check (RAID_CHECK), 0);
  for (i = 0; i < 3000 && !atomic_load (&taken); i++)
    usleep (10000);
  cr_assert (atomic_load (&taken), "the monitor took no check after the recovery");
  cr_assert_eq (atomic_load (&cannot_progress), 0, "a recovery with nothing to rebuild was "
                "said to make no progress");
  cr_assert_eq (raid_recovery_held (f.a), 0, "a recovery with nothing to rebuild was held off");
  raid_mem_member_set_down (spare, 0);
  for (i = 0; i < 3000 && !(raid_status (f.a, &st) == 0 && st.state == RAID_STATE_CLEAN); i++)
    usleep (10000);
  monitor_stop ();
  cr_assert_eq (st.state, RAID_STATE_CLEAN, "the recovery did not run once the spare was up "
                "(%d tries)", atomic_load (&recoveries));
  cr_assert_eq (atomic_load (&cannot_progress), 0);
  fx_free (&f);
  raid_mem_member_free (spare);
}

/* The monitor's lines start with the array's name, as raid/'s do ("test: resync from stripe
 * 0 of ...", then "test: resync finished"; the recovery's and the reshape's too). */
Test (monitor, its_lines_name_the_array, .timeout = 90)
{
  struct raid_mem_member *spare, *grown;
  struct raid_member m;
  char err[256] = "";
  struct fx f;

  fx_create (&f, RAID_LEVEL_1, 2, 0, 0, 4096, 0);      /* new, not clean: it resyncs */
  atomic_store (&n_notices, 0);
  cr_assert_eq (monitor_start (f.a), 0);
  cr_expect (noticed ("test: resync finished"), "no 'test: resync finished' (first line: '%s')",
             notices[0]);
  spare = raid_mem_member_new ("e9.1", FX_MEMBER_SIZE);
  m = raid_mem_member (spare);
  cr_assert_eq (raid_add_member (f.a, &m, err, sizeof err), 0, "add: %s", err);
  cr_assert_eq (raid_fail_member (f.a, "e2.1", err, sizeof err), 0, "%s", err);
  monitor_kick ();
  cr_expect (noticed ("test: recovery finished"), "no 'test: recovery finished' (lines: %d)",
             atomic_load (&n_notices));
  grown = raid_mem_member_new ("e10.1", FX_MEMBER_SIZE);
  m = raid_mem_member (grown);
  cr_assert_eq (raid_add_member (f.a, &m, err, sizeof err), 0, "add: %s", err);
  cr_assert_eq (raid_grow (f.a, (const char *[]) { "e10.1" }, 1, RAID_LEVEL_5, err,
                           sizeof err), 0, "grow: %s", err);
  monitor_kick ();
  cr_expect (noticed ("test: export size now "), "no 'test: export size now' (lines: %d)",
             atomic_load (&n_notices));
  monitor_stop ();
  fx_free (&f);
  raid_mem_member_free (spare);
  raid_mem_member_free (grown);
}

/* A kick (an add) is pending from the moment it is made until a pass of the monitor begun
 * after it has ended: also while that pass runs the recovery it asked for, so that
 * `aoeraid wait` right after an add does not find the array idle before the recovery. */
Test (monitor, a_kick_is_pending_until_a_pass_after_it_has_ended, .timeout = 60)
{
  struct raid_mem_member *spare;
  struct raid_member m;
  struct raid_status st;
  char err[256] = "";
  struct fx f;
  unsigned i;

  fx_create (&f, RAID_LEVEL_5, 4, 3, 1, 4096, RAID_CREATE_ASSUME_CLEAN);
  cr_assert_eq (raid_fail_member (f.a, "e2.1", err, sizeof err), 0, "%s", err);
  monitor_kick ();
  cr_assert (!monitor_kick_pending (), "pending with no monitor running");
  cr_assert_eq (monitor_start (f.a), 0);
  atomic_store (&recoveries, 0);
  atomic_store (&hold_recovery, 1);
  spare = raid_mem_member_new ("e9.1", FX_MEMBER_SIZE);
  m = raid_mem_member (spare);
  cr_assert_eq (raid_add_member (f.a, &m, err, sizeof err), 0, "add: %s", err);
  monitor_kick ();
  cr_assert (monitor_kick_pending (), "not pending right after the kick");
  for (i = 0; i < 10000 && !atomic_load (&recoveries); i++)
    usleep (1000);
  cr_assert (atomic_load (&recoveries), "no recovery began after the add");
  cr_assert (monitor_kick_pending (), "not pending while the pass it began runs");
  atomic_store (&hold_recovery, 0);
  for (i = 0; i < 10000 && monitor_kick_pending (); i++)
    usleep (1000);
  cr_assert (!monitor_kick_pending (), "still pending 10 s after the recovery");
  cr_assert (raid_status (f.a, &st) == 0 && st.state == RAID_STATE_CLEAN,
             "no longer pending before the recovery ended");
  monitor_stop ();
  fx_free (&f);
}

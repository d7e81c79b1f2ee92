/* The events of mdadm --monitor (raid_status_events): on real arrays of in-memory
 * members for what members do (fail, go down, come back, rebuild, replace), and on
 * made-up status snapshots for the progress of runs, whose in-between states a test
 * cannot stop at. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "raid-test.h"

#define CHUNK 4096u

/* The events, one per line: "EVENT [DETAIL [EXTRA]]". */
struct seen { char text[2048]; };

static void
record (void *opaque, const char *event, const char *detail, const char *extra)
{
  struct seen *s = opaque;
  size_t len = strlen (s->text);

  snprintf (s->text + len, sizeof s->text - len, "%s%s%s%s%s\n", event, detail ? " " : "",
            detail ? detail : "", extra ? " " : "", extra ? extra : "");
}

/* The events between the snapshot in WAS and the array now; WAS becomes now. */
static const char *
events_since (struct raid_array *a, struct raid_status *was, struct seen *s)
{
  struct raid_status now;

  raid_status (a, &now);
  s->text[0] = 0;
  raid_status_events (was, &now, record, s);
  *was = now;
  return s->text;
}

static void
write_some (struct raid_array *a)
{
  static uint8_t buf[8192];

  memset (buf, 0x5a, sizeof buf);
  cr_assert_eq (raid_write (a, buf, sizeof buf, 0, 0), 0);
}

static struct raid_array *
raid5_of_4 (struct fx *f)
{
  fx_members (f, 4, FX_MEMBER_SIZE);
  return fx_create_on (f, RAID_LEVEL_5, 3, 1, CHUNK, RAID_CREATE_ASSUME_CLEAN);
}

Test (events, quiet_array_has_none)
{
  struct fx f;
  struct raid_status was;
  struct seen s;

  raid5_of_4 (&f);
  raid_status (f.a, &was);
  write_some (f.a);
  cr_assert_str_eq (events_since (f.a, &was, &s), "");
  fx_free (&f);
}

Test (events, a_write_that_fails_a_member)
{
  struct fx f;
  struct raid_status was;
  struct seen s;

  raid5_of_4 (&f);
  raid_status (f.a, &was);
  raid_mem_member_fail (f.mm[2], 1, 1);
  write_some (f.a);
  cr_assert_str_eq (events_since (f.a, &was, &s), "Fail e3.1\nDegradedArray\n");
  cr_assert_str_eq (events_since (f.a, &was, &s), "", "a failure is told once");
  fx_free (&f);
}

/* A shelf that stops answering while nothing is written is down, not failed: it is
 * up again when it answers, and failed only when a write misses it. */
Test (events, a_member_down_then_up_then_failed)
{
  struct fx f;
  struct raid_status was;
  struct seen s;

  raid5_of_4 (&f);
  raid_status (f.a, &was);
  raid_mem_member_set_down (f.mm[1], 1);
  cr_assert_str_eq (events_since (f.a, &was, &s), "ShelfDown e2.1\nDegradedArray\n");
  raid_mem_member_set_down (f.mm[1], 0);
  cr_assert_str_eq (events_since (f.a, &was, &s), "ShelfUp e2.1\n");
  raid_mem_member_set_down (f.mm[1], 1);
  cr_assert_str_eq (events_since (f.a, &was, &s), "ShelfDown e2.1\nDegradedArray\n");
  write_some (f.a);
  cr_assert_str_eq (events_since (f.a, &was, &s), "Fail e2.1\n");
  raid_mem_member_set_down (f.mm[1], 0);
  cr_assert_str_eq (events_since (f.a, &was, &s), "", "a failed member stays failed");
  fx_free (&f);
}

/* A member taken over by another host fences the array: Fenced, once, and no Fail. */
Test (events, a_member_taken_over_fences_the_array)
{
  struct fx f;
  struct raid_status was;
  struct seen s;
  uint8_t buf[8192] = { 0 };

  raid5_of_4 (&f);
  raid_status (f.a, &was);
  raid_mem_member_fence (f.mm[1], 1);
  cr_assert_eq (raid_write (f.a, buf, sizeof buf, 0, 0), -EIO);
  cr_assert_str_eq (events_since (f.a, &was, &s), "Fenced e2.1\n");
  cr_assert_eq (raid_write (f.a, buf, sizeof buf, 0, 0), -EIO);
  cr_assert_str_eq (events_since (f.a, &was, &s), "", "a fence is told once");
  fx_free (&f);
}

Test (events, too_many_lost_fails_the_array)
{
  struct fx f;
  struct raid_status was;
  struct seen s;

  raid5_of_4 (&f);
  raid_status (f.a, &was);
  raid_mem_member_fail (f.mm[0], 1, 1);
  raid_mem_member_fail (f.mm[3], 1, 1);
  raid_write (f.a, (uint8_t[4096]) { 0 }, 4096, 0, 0);
  raid_write (f.a, (uint8_t[4096]) { 0 }, 4096, 3 * CHUNK, 0);
  cr_assert_str_eq (events_since (f.a, &was, &s), "Fail e1.1\nFail e4.1\nFailedArray\n");
  fx_free (&f);
}

Test (events, start_of_a_degraded_array)
{
  struct fx f;
  struct raid_status now;
  struct seen s = { "" };

  raid5_of_4 (&f);
  raid_mem_member_set_down (f.mm[3], 1);
  raid_status (f.a, &now);
  raid_status_events (NULL, &now, record, &s);
  cr_assert_str_eq (s.text, "DegradedArray\n");
  fx_free (&f);
}

/* The spare e9.1, added to the array. */
static struct raid_mem_member *
add_spare (struct raid_array *a)
{
  struct raid_mem_member *spare = raid_mem_member_new ("e9.1", FX_MEMBER_SIZE);
  struct raid_member m = raid_mem_member (spare);
  char err[256] = "";

  cr_assert_eq (raid_add_member (a, &m, err, sizeof err), 0, "add: %s", err);
  return spare;
}

/* The rebuild ran between two looks: the spare that now holds the slot is active. */
Test (events, a_spare_rebuilt_into_the_slot)
{
  struct fx f;
  struct raid_status was;
  struct seen s;
  struct raid_mem_member *spare;

  raid5_of_4 (&f);
  raid_mem_member_fail (f.mm[1], 1, 1);
  write_some (f.a);
  raid_status (f.a, &was);
  spare = add_spare (f.a);
  cr_assert_eq (raid_recover (f.a), 0);
  cr_assert_str_eq (events_since (f.a, &was, &s), "SpareActive e9.1\n");
  fx_free (&f);
  raid_mem_member_free (spare);
}

Test (events, a_replace_that_took_its_slot)
{
  struct fx f;
  struct raid_status was;
  struct seen s;
  struct raid_mem_member *spare;
  char err[256] = "";

  raid5_of_4 (&f);
  spare = add_spare (f.a);
  cr_assert_eq (raid_replace_start (f.a, "e2.1", "e9.1", err, sizeof err), 0, "%s", err);
  raid_status (f.a, &was);
  cr_assert_eq (raid_replace (f.a), 0);
  cr_assert_str_eq (events_since (f.a, &was, &s), "SpareActive e9.1\nRebuildFinished replace\n");
  fx_free (&f);
  raid_mem_member_free (spare);
}

/* ---- runs, on made-up snapshots ----------------------------------------- */

static struct raid_status
snapshot (void)
{
  struct raid_status st;

  memset (&st, 0, sizeof st);
  st.members = 3;
  for (unsigned i = 0; i < 3; i++) {
    st.member[i].role = RAID_ROLE_ACTIVE;
    snprintf (st.member[i].name, sizeof st.member[i].name, "e%u.1", i + 1);
  }
  st.recovery_slot = st.replace_slot = -1;
  st.resync_offset = UINT64_MAX;
  st.reshape_position = RAID_RESHAPE_NONE;
  st.resync_units = 1000;
  return st;
}

static const char *
events (const struct raid_status *was, const struct raid_status *now, struct seen *s)
{
  s->text[0] = 0;
  raid_status_events (was, now, record, s);
  return s->text;
}

static void
recovering (struct raid_status *st, uint64_t done)
{
  st->state = RAID_STATE_DEGRADED;
  st->member[1].role = RAID_ROLE_RECOVERING;
  strcpy (st->member[1].name, "e9.1");
  st->recovery_slot = 1;
  st->recovery_offset = done;
}

Test (events, a_recovery_in_steps_of_20_percent)
{
  struct raid_status a = snapshot (), b = snapshot (), c = snapshot (), d = snapshot ();
  struct seen s;

  recovering (&b, 50);
  recovering (&c, 450);
  recovering (&d, 620);
  cr_assert_str_eq (events (&a, &b, &s),
                    "Fail e2.1\nDegradedArray\nRebuildStarted recovery\n");
  cr_assert_str_eq (events (&b, &c, &s), "Rebuild40 recovery\n", "only the last step passed");
  cr_assert_str_eq (events (&c, &c, &s), "");
  cr_assert_str_eq (events (&c, &d, &s), "Rebuild60 recovery\n");
  a.member[1] = (struct raid_member_status) { .role = RAID_ROLE_ACTIVE, .name = "e9.1" };
  cr_assert_str_eq (events (&d, &a, &s), "SpareActive e9.1\nRebuildFinished recovery\n");
}

Test (events, a_spare_that_fails_while_rebuilt)
{
  struct raid_status a = snapshot (), b = snapshot ();
  struct seen s;

  recovering (&a, 300);
  recovering (&b, 300);
  b.member[1].role = RAID_ROLE_FAULTY;
  b.member[1].failed = 1;
  b.recovery_slot = -1;
  cr_assert_str_eq (events (&a, &b, &s), "FailSpare e9.1\nRebuildFinished recovery\n");
}

/* A run seen at its end and a new one of the same kind in the same look. */
Test (events, a_new_run_behind_the_last)
{
  struct raid_status a = snapshot (), b = snapshot ();
  struct seen s;

  a.check_running = b.check_running = 1;
  a.check_action = b.check_action = RAID_CHECK;
  a.check_offset = 900;
  b.check_offset = 10;
  b.check_mismatches = 0;
  cr_assert_str_eq (events (&a, &b, &s), "RebuildFinished check mismatches=0\n"
                                          "RebuildStarted check\n");
  b.check_running = 0;
  b.check_complete = 1;
  b.check_offset = 1000;
  b.check_mismatches = 7;
  b.check_action = RAID_CHECK_REPAIR;
  a = b;
  a.check_running = 1;
  a.check_offset = 500;
  cr_assert_str_eq (events (&a, &b, &s), "RebuildFinished repair mismatches=7\n");
}

Test (events, reshape_and_resync)
{
  struct raid_status a = snapshot (), b = snapshot (), c = snapshot ();
  struct seen s;

  b.reshape_position = 0;
  b.reshape_size = 4096;
  b.reshape_from_members = 2;
  c.resync_offset = 0;
  cr_assert_str_eq (events (&a, &b, &s), "RebuildStarted reshape\n");
  cr_assert_str_eq (events (&b, &c, &s), "RebuildFinished reshape\nRebuildStarted resync\n");
  c.state = RAID_STATE_DEGRADED;
  b = c;
  b.state = RAID_STATE_CLEAN;
  cr_assert_str_eq (events (&b, &c, &s), "DegradedArray\nRebuildFinished resync\n",
                    "a resync waits while the array is degraded");
}

Test (events, a_replacement_that_failed)
{
  struct raid_status a = snapshot (), b = snapshot ();
  struct seen s;

  a.replace_slot = 2;
  a.replace_offset = 100;
  strcpy (a.replace_name, "e9.1");
  cr_assert_str_eq (events (&a, &b, &s), "FailSpare e9.1\nRebuildFinished replace\n");
  /* its old member failed instead: the new one takes the slot and recovers the rest */
  recovering (&b, 100);
  b.member[2] = b.member[1];
  b.member[1] = a.member[1];
  b.recovery_slot = 2;
  b.state = RAID_STATE_DEGRADED;
  cr_assert_str_eq (events (&a, &b, &s), "Fail e3.1\nDegradedArray\n"
                                          "RebuildFinished replace\nRebuildStarted recovery\n");
}

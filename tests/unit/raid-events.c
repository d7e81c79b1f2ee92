/* The events of mdadm --monitor (raid_status_events): on real arrays of in-memory
 * members for what members do (fail, go down, come back, rebuild, replace), and on
 * made-up status snapshots for the progress of runs, whose in-between states a test
 * cannot stop at. */
#include <errno.h>
#include <pthread.h>
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

/* TEXT without its progress steps (RebuildNN lines): how far a run got by a look depends
 * on how soon the look came. */
static const char *
without_steps (const char *text, struct seen *out)
{
  size_t len = 0;

  out->text[0] = 0;
  for (const char *line = text; *line;) {
    const char *end = strchr (line, '\n');
    size_t n = end ? (size_t) (end - line) + 1 : strlen (line);
    if (!(strncmp (line, "Rebuild", 7) == 0 && line[7] >= '0' && line[7] <= '9'))
      len += (size_t) snprintf (out->text + len, sizeof out->text - len, "%.*s", (int) n, line);
    line += n;
  }
  return out->text;
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

/* md's monitor tells FailSpare for a spare that fails while it waits, too: here one
 * that cannot take a superblock write, and is dropped from the array. */
Test (events, an_idle_spare_that_fails_a_superblock_write)
{
  struct fx f;
  struct raid_status was, now;
  struct seen s;
  struct raid_mem_member *spare, *other = raid_mem_member_new ("e8.1", FX_MEMBER_SIZE);
  struct raid_member m = raid_mem_member (other);
  char err[256] = "";

  raid5_of_4 (&f);
  spare = add_spare (f.a);
  raid_status (f.a, &was);
  raid_mem_member_fail (spare, 0, 1);
  cr_assert_eq (raid_add_member (f.a, &m, err, sizeof err), 0, "add: %s", err);
  raid_status (f.a, &now);
  cr_assert (now.spares == 1 && !strcmp (now.spare[0], "e8.1"), "e9.1 not dropped");
  cr_assert_str_eq (events_since (f.a, &was, &s), "FailSpare e9.1\n");
  cr_assert_str_eq (events_since (f.a, &was, &s), "", "told once");
  fx_free (&f);
  raid_mem_member_free (spare);
  raid_mem_member_free (other);
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
  cr_assert_str_eq (events_since (f.a, &was, &s),
                    "RebuildStarted recovery\nSpareActive e9.1\nRebuildFinished recovery\n");
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
  cr_assert_str_eq (events_since (f.a, &was, &s),
                    "RebuildStarted replace\nSpareActive e9.1\nRebuildFinished replace\n");
  fx_free (&f);
  raid_mem_member_free (spare);
}

/* ---- what comes and goes between two looks ------------------------------ */

/* A RAID5 of 4 with the spare e9.1, and a first look at it. */
struct rig {
  struct fx f;
  struct raid_mem_member *spare;
  struct raid_status was;
  struct seen s;
  char err[256];
};

static void
rig_start (struct rig *r)
{
  r->err[0] = 0;
  raid5_of_4 (&r->f);
  r->spare = add_spare (r->f.a);
  raid_status (r->f.a, &r->was);
}

/* The events since the last look are WANT, and told once. */
static void
rig_expect_end (struct rig *r, const char *want)
{
  cr_assert_str_eq (events_since (r->f.a, &r->was, &r->s), want);
  cr_assert_str_eq (events_since (r->f.a, &r->was, &r->s), "", "each is told once");
  fx_free (&r->f);
  raid_mem_member_free (r->spare);
}

/* e2.1 fails, then the spare's rebuild runs, its writes failing (SPARE_FAILS) or not;
 * the look before is taken before the failure, or after it (FAIL_SEEN). */
static void
recovery_between_two_looks (int fail_seen, int spare_fails, int rc, const char *want)
{
  struct rig r;

  rig_start (&r);
  cr_assert_eq (raid_fail_member (r.f.a, "e2.1", r.err, sizeof r.err), 0, "%s", r.err);
  if (fail_seen)
    cr_assert_str_eq (events_since (r.f.a, &r.was, &r.s), "Fail e2.1\nDegradedArray\n");
  raid_mem_member_fail (r.spare, spare_fails, spare_fails);
  cr_assert_eq (raid_recover (r.f.a), rc);
  rig_expect_end (&r, want);
}

/* The failure and the whole rebuild between two looks: the look after sees the spare
 * active in the slot and a clean array, yet every step is told, once. */
Test (events, a_failure_and_its_recovery_between_two_looks)
{
  recovery_between_two_looks (0, 0, 0, "Fail e2.1\nDegradedArray\nRebuildStarted recovery\n"
                                       "SpareActive e9.1\nRebuildFinished recovery\n");
}

/* The spare fails its first rebuild write, between two looks. */
Test (events, a_spare_failing_its_rebuild_between_two_looks)
{
  recovery_between_two_looks (1, 1, -EIO, "RebuildStarted recovery\nFailSpare e9.1\n"
                                          "RebuildFinished recovery\n");
}

/* Three runs between two looks, each told with what it found: a check finds the byte
 * flipped, a repair mends it, the check after finds nothing. */
Test (events, checks_between_two_looks)
{
  struct fx f;
  struct raid_status was;
  struct seen s;

  raid5_of_4 (&f);
  write_some (f.a);
  raid_mem_member_data (f.mm[0])[RAID_DATA_OFFSET + 100] ^= 0x40;
  raid_status (f.a, &was);
  cr_assert_eq (raid_check (f.a, RAID_CHECK), 0);
  cr_assert_eq (raid_check (f.a, RAID_CHECK_REPAIR), 0);
  cr_assert_eq (raid_check (f.a, RAID_CHECK), 0);
  cr_assert_str_eq (events_since (f.a, &was, &s),
                    "RebuildStarted check\nRebuildFinished check mismatches=1\n"
                    "RebuildStarted repair\nRebuildFinished repair mismatches=1\n"
                    "RebuildStarted check\nRebuildFinished check mismatches=0\n");
  fx_free (&f);
}

/* A replace between two looks, its new member failing its writes (NEW_FAILS) or not. */
static void
replace_between_two_looks (int new_fails, int rc, const char *want)
{
  struct rig r;

  rig_start (&r);
  cr_assert_eq (raid_replace_start (r.f.a, "e2.1", "e9.1", r.err, sizeof r.err), 0, "%s",
                r.err);
  raid_mem_member_fail (r.spare, new_fails, new_fails);
  cr_assert_eq (raid_replace (r.f.a), rc);
  rig_expect_end (&r, want);
}

Test (events, a_replace_between_two_looks)
{
  replace_between_two_looks (0, 0, "RebuildStarted replace\nSpareActive e9.1\n"
                                   "RebuildFinished replace\n");
}

Test (events, a_replacement_failing_between_two_looks)
{
  replace_between_two_looks (1, -EIO, "RebuildStarted replace\nFailSpare e9.1\n"
                                      "RebuildFinished replace\n");
}

/* A failure and a recovery on their way, of a run one look saw: what that look told is
 * not told again by the next, which tells what came after. */
struct recovery_thread { struct raid_array *a; int rc; };

static void *
recovery_main (void *opaque)
{
  struct recovery_thread *t = opaque;

  t->rc = raid_recover (t->a);
  return NULL;
}

Test (events, a_look_during_the_recovery_is_not_told_again)
{
  struct fx f;
  struct raid_status was, st;
  struct raid_mem_member *spare = raid_mem_member_new ("e9.1", RAID_DATA_OFFSET + (1u << 20));
  struct raid_member m = raid_mem_member (spare);
  struct recovery_thread t;
  pthread_t th;
  struct seen s, steps;
  char err[256] = "";

  fx_members (&f, 4, RAID_DATA_OFFSET + (1u << 20));
  fx_create_on (&f, RAID_LEVEL_5, 3, 1, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  cr_assert_eq (raid_add_member (f.a, &m, err, sizeof err), 0, "add: %s", err);
  raid_set_sync_speed (f.a, 1u << 20, 1u << 20);     /* about a second */
  raid_status (f.a, &was);
  cr_assert_eq (raid_fail_member (f.a, "e2.1", err, sizeof err), 0, "%s", err);
  t = (struct recovery_thread) { f.a, -1 };
  cr_assert_eq (pthread_create (&th, NULL, recovery_main, &t), 0);
  do
    raid_status (f.a, &st);
  while (st.recovery_slot < 0 || st.recovery_offset == 0);
  /* a loaded machine may look late: a progress step may come, nothing else */
  cr_assert_str_eq (without_steps (events_since (f.a, &was, &s), &steps),
                    "Fail e2.1\nDegradedArray\nRebuildStarted recovery\n");
  pthread_join (th, NULL);
  cr_assert_eq (t.rc, 0);
  raid_set_sync_speed (f.a, 0, 0);
  cr_assert_eq (raid_check (f.a, RAID_CHECK), 0);
  cr_assert_str_eq (without_steps (events_since (f.a, &was, &s), &steps),
                    "SpareActive e9.1\nRebuildFinished recovery\n"
                    "RebuildStarted check\nRebuildFinished check mismatches=0\n");
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

/* The engine's notes in a made-up snapshot, as notes.c takes them. */
static void
note (struct raid_status *st, struct raid_note n)
{
  st->note[st->notes++ % RAID_NOTES] = n;
  if (n.kind == RAID_NOTE_RUN_START)
    st->runs_started[n.run]++;
  else if (n.kind == RAID_NOTE_RUN_END)
    st->runs_ended[n.run]++;
}

static void
noted_fail (struct raid_status *st, const char *name, int slot, int spare)
{
  struct raid_note n = { .kind = RAID_NOTE_FAIL, .slot = slot, .spare = spare };

  snprintf (n.name, sizeof n.name, "%s", name);
  note (st, n);
}

static void
noted_start (struct raid_status *st, enum raid_run_kind run)
{
  note (st, (struct raid_note) { .kind = RAID_NOTE_RUN_START, .run = run });
}

static void
noted_end (struct raid_status *st, enum raid_run_kind run, const char *active,
           uint64_t mismatches)
{
  struct raid_note n = { .kind = RAID_NOTE_RUN_END, .run = run, .mismatches = mismatches };

  snprintf (n.name, sizeof n.name, "%s", active ? active : "");
  note (st, n);
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
  struct raid_status a = snapshot (), b, c, d, e;
  struct seen s;

  b = a;
  noted_fail (&b, "e2.1", 1, 0);
  noted_start (&b, RAID_RUN_RECOVERY);
  recovering (&b, 50);
  c = b;
  recovering (&c, 450);
  d = c;
  recovering (&d, 620);
  cr_assert_str_eq (events (&a, &b, &s),
                    "Fail e2.1\nDegradedArray\nRebuildStarted recovery\n");
  cr_assert_str_eq (events (&b, &c, &s), "Rebuild40 recovery\n", "only the last step passed");
  cr_assert_str_eq (events (&c, &c, &s), "");
  cr_assert_str_eq (events (&c, &d, &s), "Rebuild60 recovery\n");
  e = d;
  e.state = RAID_STATE_CLEAN;
  e.member[1] = (struct raid_member_status) { .role = RAID_ROLE_ACTIVE, .name = "e9.1" };
  e.recovery_slot = -1;
  noted_end (&e, RAID_RUN_RECOVERY, "e9.1", 0);
  cr_assert_str_eq (events (&d, &e, &s), "SpareActive e9.1\nRebuildFinished recovery\n");
}

Test (events, a_spare_that_fails_while_rebuilt)
{
  struct raid_status a = snapshot (), b;
  struct seen s;

  recovering (&a, 300);
  noted_start (&a, RAID_RUN_RECOVERY);
  b = a;
  b.member[1].role = RAID_ROLE_FAULTY;
  b.member[1].failed = 1;
  b.recovery_slot = -1;
  noted_fail (&b, "e9.1", 1, 1);
  noted_end (&b, RAID_RUN_RECOVERY, NULL, 0);
  cr_assert_str_eq (events (&a, &b, &s), "FailSpare e9.1\nRebuildFinished recovery\n");
}

/* A check or repair that began working and is at DONE. */
static void
checking (struct raid_status *st, enum raid_check_action action, uint64_t done)
{
  st->check_running = 1;
  st->check_action = action;
  st->check_offset = done;
  noted_start (st, action == RAID_CHECK_REPAIR ? RAID_RUN_REPAIR : RAID_RUN_CHECK);
}

/* A run seen at its end and a new one of the same kind in the same look; a repair's
 * end tells what it found. */
Test (events, a_new_run_behind_the_last)
{
  struct raid_status a = snapshot (), b, c = snapshot (), d;
  struct seen s;

  checking (&a, RAID_CHECK, 900);
  b = a;
  b.check_offset = 10;
  noted_end (&b, RAID_RUN_CHECK, NULL, 0);
  noted_start (&b, RAID_RUN_CHECK);
  cr_assert_str_eq (events (&a, &b, &s), "RebuildFinished check mismatches=0\n"
                                          "RebuildStarted check\n");
  checking (&c, RAID_CHECK_REPAIR, 500);
  d = c;
  d.check_running = 0;
  d.check_complete = 1;
  d.check_offset = 1000;
  d.check_mismatches = 7;
  noted_end (&d, RAID_RUN_REPAIR, NULL, 7);
  cr_assert_str_eq (events (&c, &d, &s), "RebuildFinished repair mismatches=7\n");
}

Test (events, reshape_and_resync)
{
  struct raid_status a = snapshot (), b, c, d;
  struct seen s;

  b = a;
  b.reshape_position = 0;
  b.reshape_size = 4096;
  b.reshape_from_members = 2;
  noted_start (&b, RAID_RUN_RESHAPE);
  cr_assert_str_eq (events (&a, &b, &s), "RebuildStarted reshape\n");
  c = b;
  c.reshape_position = RAID_RESHAPE_NONE;
  c.resync_offset = 0;
  noted_end (&c, RAID_RUN_RESHAPE, NULL, 0);
  noted_start (&c, RAID_RUN_RESYNC);
  cr_assert_str_eq (events (&b, &c, &s), "RebuildFinished reshape\nRebuildStarted resync\n");
  /* a member fails: the resync stops until the array is whole again */
  d = c;
  d.state = RAID_STATE_DEGRADED;
  d.member[1].role = RAID_ROLE_FAULTY;
  d.member[1].failed = 1;
  noted_fail (&d, "e2.1", 1, 0);
  noted_end (&d, RAID_RUN_RESYNC, NULL, 0);
  cr_assert_str_eq (events (&c, &d, &s), "Fail e2.1\nDegradedArray\nRebuildFinished resync\n");
}

Test (events, a_replacement_that_failed)
{
  struct raid_status a = snapshot (), b, c;
  struct seen s;

  a.replace_slot = 2;
  a.replace_offset = 100;
  strcpy (a.replace_name, "e9.1");
  noted_start (&a, RAID_RUN_REPLACE);
  b = a;
  b.replace_slot = -1;
  noted_fail (&b, "e9.1", 2, 1);
  noted_end (&b, RAID_RUN_REPLACE, NULL, 0);
  cr_assert_str_eq (events (&a, &b, &s), "FailSpare e9.1\nRebuildFinished replace\n");
  /* its old member failed instead: the new one takes the slot and recovers the rest */
  c = a;
  c.replace_slot = -1;
  c.member[2] = (struct raid_member_status) { .role = RAID_ROLE_RECOVERING, .name = "e9.1" };
  c.recovery_slot = 2;
  c.recovery_offset = 100;
  c.state = RAID_STATE_DEGRADED;
  noted_fail (&c, "e3.1", 2, 0);
  noted_end (&c, RAID_RUN_REPLACE, NULL, 0);
  noted_start (&c, RAID_RUN_RECOVERY);
  cr_assert_str_eq (events (&a, &c, &s), "Fail e3.1\nDegradedArray\n"
                                          "RebuildFinished replace\nRebuildStarted recovery\n");
}

/* More happened between two looks than the notes hold: the last RAID_NOTES are told. */
Test (events, more_notes_than_kept)
{
  struct raid_status a = snapshot (), b;
  struct seen s;
  char want[2048] = "";

  b = a;
  for (unsigned i = 0; i < RAID_NOTES + 3; i++) {
    noted_start (&b, RAID_RUN_CHECK);
    noted_end (&b, RAID_RUN_CHECK, NULL, i);
    if (2 * i >= 2 * (RAID_NOTES + 3) - RAID_NOTES)     /* the last RAID_NOTES notes */
      snprintf (want + strlen (want), sizeof want - strlen (want), "RebuildStarted check\n"
                "RebuildFinished check mismatches=%u\n", i);
  }
  cr_assert_str_eq (events (&a, &b, &s), want);
}

/* A recovery that cannot read a unit from the others stops, to be tried again: the same
 * run, told once, not a new one per try. */
static void
recovery_stuck (struct rig *r)
{
  rig_start (r);
  cr_assert_eq (raid_fail_member (r->f.a, "e2.1", r->err, sizeof r->err), 0, "%s", r->err);
  raid_mem_member_bad_range (r->f.mm[0], RAID_DATA_OFFSET + 3 * CHUNK, 512);
  cr_assert_eq (raid_recover (r->f.a), -EIO);
  cr_assert_str_eq (events_since (r->f.a, &r->was, &r->s),
                    "Fail e2.1\nDegradedArray\nRebuildStarted recovery\n");
  cr_assert_eq (raid_recover (r->f.a), -EIO);
  cr_assert_eq (raid_recover (r->f.a), -EIO);
  cr_assert_str_eq (events_since (r->f.a, &r->was, &r->s), "");
}

Test (events, a_recovery_tried_again_is_one_run)
{
  struct rig r;

  recovery_stuck (&r);
  raid_mem_member_bad_range (r.f.mm[0], 0, 0);
  cr_assert_eq (raid_recover (r.f.a), 0);
  rig_expect_end (&r, "SpareActive e9.1\nRebuildFinished recovery\n");
}

/* Its member fails between two tries: the recovery is over. */
Test (events, a_recovery_between_tries_ends_with_its_member)
{
  struct rig r;

  recovery_stuck (&r);
  cr_assert_eq (raid_fail_member (r.f.a, "e9.1", r.err, sizeof r.err), 0, "%s", r.err);
  rig_expect_end (&r, "FailSpare e9.1\nRebuildFinished recovery\n");
}

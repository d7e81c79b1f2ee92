/* Scrubbing (md's sync_action check and repair) on in-memory members, for
 * every level with redundancy: a check finds redundancy that does not match
 * and changes nothing, a repair puts it right, read errors are rewritten in
 * both, writes running beside a check are never taken for mismatches, and
 * a check refuses what md refuses. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "raid-int.h"

#define CHUNK 4096u

static const struct level_case *const cases = fx_redundant;
#define N_CASES FX_N_REDUNDANT

struct rig {
  struct fx f;
  const struct level_case *c;
  uint8_t *ref;
  uint64_t size, seed;
};

static void
rig_setup_sized (struct rig *r, const struct level_case *c, uint64_t member_size)
{
  memset (r, 0, sizeof *r);
  r->c = c;
  r->seed = 11 + c->level;
  fx_members (&r->f, c->n, member_size);
  fx_create_on (&r->f, c->level, c->k, c->m, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  r->size = raid_size (r->f.a);
  r->ref = fx_fill (r->f.a, &r->seed);
}

static void
rig_setup (struct rig *r, const struct level_case *c)
{
  rig_setup_sized (r, c, FX_MEMBER_SIZE);
}

static void
rig_free (struct rig *r)
{
  fx_free (&r->f);
  free (r->ref);
}

static void
rig_expect (struct rig *r, enum raid_check_action action, int rc, uint64_t mismatches,
            uint64_t read_errors)
{
  struct raid_status st;

  cr_assert_eq (raid_check (r->f.a, action), rc, "%s: %s returned otherwise",
                raid_level_name (r->c->level), action == RAID_CHECK ? "check" : "repair");
  raid_status (r->f.a, &st);
  cr_assert (st.check_action == action && !st.check_running && st.check_complete == (rc == 0),
             "%s: status action %d running %d complete %d", raid_level_name (r->c->level),
             st.check_action, st.check_running, st.check_complete);
  cr_assert (st.check_mismatches == mismatches && st.check_read_errors == read_errors,
             "%s: %llu mismatches (want %llu), %llu read errors (want %llu)",
             raid_level_name (r->c->level), (unsigned long long) st.check_mismatches,
             (unsigned long long) mismatches, (unsigned long long) st.check_read_errors,
             (unsigned long long) read_errors);
  if (rc == 0)
    cr_assert_eq (st.check_offset, st.resync_units, "went through to the end");
}

/* Raw bytes of redundancy only: unit u's parity chunk (parity levels), or
 * row u*copies/n of slot 1, which holds only second copies (raid1 of 2,
 * raid10 near-2 of 4), each of a different chunk for different rows. */
static uint8_t *
redundancy_of (struct rig *r, uint64_t u)
{
  unsigned slot = r->c->m ? ref_parity_dev (r->c->n, r->c->m, u, 0) : 1;
  uint64_t row = r->c->m ? u : u * r->c->copies / r->c->n;

  return raid_mem_member_data (r->f.mm[slot]) + RAID_DATA_OFFSET + row * CHUNK;
}

Test (check, finds_mismatches_and_repair_mends_them)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    struct rig r;
    uint8_t *units[3];

    rig_setup (&r, &cases[i]);
    rig_expect (&r, RAID_CHECK, 0, 0, 0);
    units[0] = redundancy_of (&r, 1);
    units[1] = redundancy_of (&r, 6);
    units[2] = redundancy_of (&r, 13);
    for (unsigned j = 0; j < 3; j++)
      units[j][100 + j] ^= 0x40;
    rig_expect (&r, RAID_CHECK, 0, 3, 0);
    rig_expect (&r, RAID_CHECK, 0, 3, 0);              /* a check changed nothing */
    rig_expect (&r, RAID_CHECK_REPAIR, 0, 3, 0);
    fx_check_redundancy (&r.f, cases[i].level, cases[i].k, cases[i].m, cases[i].copies, CHUNK,
                         NULL);
    fx_expect_data (r.f.a, r.ref, NULL, r.size, "after the repair");
    rig_expect (&r, RAID_CHECK, 0, 0, 0);
    rig_free (&r);
  }
}

/* A latent bad sector: the check reads it, rebuilds it from the others and
 * writes it back, after which the member reads there again. */
/* Past ten, mismatches are counted but not each named in the log. */
Test (check, names_the_first_ten_mismatches)
{
  struct rig r;

  rig_setup (&r, &cases[1]);
  for (uint64_t u = 0; u < 25; u++)
    redundancy_of (&r, u)[7] ^= 1;
  r.f.warnings = 0;
  rig_expect (&r, RAID_CHECK, 0, 25, 0);
  cr_assert_eq (r.f.warnings, 10, "%u warnings for 25 mismatches", r.f.warnings);
  cr_assert (strstr (r.f.last_warning, "stripe 9: redundancy does not match the data "
                     "(further ones are counted, not named)"), "%s", r.f.last_warning);
  rig_free (&r);
}

Test (check, rewrites_read_errors)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    struct rig r;
    uint8_t buf[CHUNK];
    uint64_t at = RAID_DATA_OFFSET + 5 * CHUNK;

    rig_setup (&r, &cases[i]);
    raid_mem_member_bad_range (r.f.mm[0], at + 512, 1024);
    cr_assert_neq (slot_io (&r.f.a->slot[0], RAID_IO_READ, at, CHUNK, buf), 0, "not bad");
    rig_expect (&r, RAID_CHECK, 0, 0, 1);
    cr_assert_eq (slot_io (&r.f.a->slot[0], RAID_IO_READ, at, CHUNK, buf), 0,
                  "%s: the bad sector was not rewritten", raid_level_name (cases[i].level));
    fx_check_redundancy (&r.f, cases[i].level, cases[i].k, cases[i].m, cases[i].copies, CHUNK,
                         NULL);
    fx_expect_data (r.f.a, r.ref, NULL, r.size, "after the check");
    rig_free (&r);
  }
}

/* A unit that cannot be read from enough members (bad sectors on more members than the
 * redundancy covers): the check and the repair stop there with -EIO, saying where, and
 * write nothing (no redundancy made up from what could not be read); no member fails. */
Test (check, a_unit_unreadable_from_enough_members_stops_it_and_writes_nothing)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    struct rig r;
    struct raid_status st;
    const char *level = raid_level_name (cases[i].level);
    uint64_t data = FX_MEMBER_SIZE - RAID_DATA_OFFSET;
    uint8_t *before[RAID_MAX_MEMBERS];
    unsigned bad = cases[i].m ? cases[i].m + 1 : cases[i].copies;

    rig_setup (&r, &cases[i]);
    for (unsigned j = 0; j < bad; j++)    /* raid10 near-2: 0 and 1 hold the same chunks */
      raid_mem_member_bad_range (r.f.mm[j], RAID_DATA_OFFSET + 5 * CHUNK + 1024, 512);
    for (unsigned j = 0; j < r.f.n; j++) {
      before[j] = malloc (data);
      memcpy (before[j], raid_mem_member_data (r.f.mm[j]) + RAID_DATA_OFFSET, data);
    }
    for (int repair = 0; repair < 2; repair++) {
      cr_assert_eq (raid_check (r.f.a, repair ? RAID_CHECK_REPAIR : RAID_CHECK), -EIO,
                    "%s: a unit no member set could give went through", level);
      cr_assert (strstr (r.f.last_warning, "stopped at ")
                 && strstr (r.f.last_warning, "could not be read from enough members"),
                 "%s: %s", level, r.f.last_warning);
      for (unsigned j = 0; j < r.f.n; j++)
        cr_assert (!memcmp (before[j], raid_mem_member_data (r.f.mm[j]) + RAID_DATA_OFFSET,
                            data), "%s: %s wrote member %u", level,
                   repair ? "the repair" : "the check", j);
    }
    raid_status (r.f.a, &st);
    cr_assert_eq (st.state, RAID_STATE_CLEAN, "%s: a read error failed a member", level);
    for (unsigned j = 0; j < r.f.n; j++)
      free (before[j]);
    rig_free (&r);
  }
}

/* A check reads a window of units in one batch: mismatches at the first and last units
 * of windows (every 16), and bad sectors in other windows, are each found in their own
 * unit, counted once, and mended. */
Test (check, mismatches_and_bad_sectors_at_window_edges)
{
  /* even units: raid10's second copies of odd chunks sit in the rows of even ones */
  static const uint64_t odd[] = { 0, 14, 16, 30, 32, 200, 254 };
  static const uint64_t bad_rows[] = { 17, 47 };
  const unsigned n_odd = sizeof odd / sizeof odd[0];

  for (unsigned i = 0; i < N_CASES; i++) {
    struct rig r;

    rig_setup_sized (&r, &cases[i], RAID_DATA_OFFSET + 1024 * 1024);
    for (unsigned j = 0; j < n_odd; j++)
      redundancy_of (&r, odd[j])[300 + j] ^= 0x11;
    for (unsigned j = 0; j < 2; j++)      /* one bad range per member */
      raid_mem_member_bad_range (r.f.mm[j ? r.f.n - 1 : 0],
                                 RAID_DATA_OFFSET + bad_rows[j] * CHUNK + 1024, 512);
    rig_expect (&r, RAID_CHECK, 0, n_odd, 2);
    rig_expect (&r, RAID_CHECK, 0, n_odd, 0);          /* the bad sectors were rewritten */
    rig_expect (&r, RAID_CHECK_REPAIR, 0, n_odd, 0);
    rig_expect (&r, RAID_CHECK, 0, 0, 0);
    fx_check_redundancy (&r.f, cases[i].level, cases[i].k, cases[i].m, cases[i].copies, CHUNK,
                         NULL);
    fx_expect_data (r.f.a, r.ref, NULL, r.size, "after the repair");
    rig_free (&r);
  }
}

/* Writes beside a check and a repair: never a mismatch, nothing lost. */
Test (check, writes_beside_it_are_no_mismatch, .timeout = 60)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    struct rig r;
    unsigned during = 0, rounds;

    rig_setup (&r, &cases[i]);
    /* its bytes not kept: the check finds what the redundancy says, not the data */
    struct fx_writer w = { .a = r.f.a, .size = r.size, .seed = 77 };
    for (unsigned j = 0; j < r.f.n; j++)
      raid_mem_member_delay (r.f.mm[j], 20);
    fx_writer_start (&w, fx_writer_main, 3);
    /* checks and repairs in turn until enough writes ran beside them (a loaded
     * machine may schedule the writer seldom) */
    for (rounds = 0; rounds < 200 && during < 20; rounds++) {
      unsigned before = atomic_load (&w.writes);
      rig_expect (&r, rounds % 2 ? RAID_CHECK_REPAIR : RAID_CHECK, 0, 0, 0);
      during += atomic_load (&w.writes) - before;
    }
    fx_writer_stop (&w);
    cr_assert (during >= 20, "%s: only %u writes met %u checks",
               raid_level_name (cases[i].level), during, rounds);
    fx_check_redundancy (&r.f, cases[i].level, cases[i].k, cases[i].m, cases[i].copies, CHUNK,
                         NULL);
    rig_free (&r);
  }
}

struct stopper { struct raid_array *a; int rc; };

static void *
check_main (void *arg)
{
  struct stopper *s = arg;

  s->rc = raid_check (s->a, RAID_CHECK);
  return NULL;
}

Test (check, stops_when_asked)
{
  struct rig r;
  struct stopper s = { 0 };
  struct raid_status st;
  pthread_t t;

  /* Many windows of units (a stop takes effect between two). */
  rig_setup_sized (&r, &cases[1], RAID_DATA_OFFSET + 1024 * 1024);
  raid_mem_member_delay (r.f.mm[0], 2000);
  s.a = r.f.a;
  cr_assert_eq (pthread_create (&t, NULL, check_main, &s), 0);
  do {
    usleep (1000);
    raid_status (r.f.a, &st);
  } while (st.check_offset < 2);
  raid_check_stop (r.f.a);
  pthread_join (t, NULL);
  cr_assert_eq (s.rc, -ECANCELED);
  raid_status (r.f.a, &st);
  cr_assert (!st.check_running && !st.check_complete && st.check_offset < st.resync_units,
             "running %d complete %d at %llu of %llu", st.check_running, st.check_complete,
             (unsigned long long) st.check_offset, (unsigned long long) st.resync_units);
  raid_mem_member_delay (r.f.mm[0], 0);
  rig_expect (&r, RAID_CHECK, 0, 0, 0);                /* and starts again from the top */
  rig_free (&r);
}

/* As md: nothing to compare on RAID0, a degraded array needs a recovery and
 * one not yet in sync its resync; each refusal says so in the log. */
Test (check, refuses_what_md_refuses)
{
  struct fx f;
  struct rig r;

  fx_create (&f, RAID_LEVEL_0, 2, 2, 0, CHUNK, 0);
  cr_assert_eq (raid_check (f.a, RAID_CHECK), -EAGAIN);
  cr_assert (strstr (f.last_warning, "check not started: it has no redundancy"), "%s",
             f.last_warning);
  fx_free (&f);

  fx_create (&f, RAID_LEVEL_5, 3, 2, 1, CHUNK, 0);
  cr_assert_eq (raid_check (f.a, RAID_CHECK_REPAIR), -EAGAIN);
  cr_assert (strstr (f.last_warning, "repair not started: the array is not in sync"), "%s",
             f.last_warning);
  fx_free (&f);

  rig_setup (&r, &cases[1]);
  raid_mem_member_set_down (r.f.mm[2], 1);
  cr_assert_eq (raid_write (r.f.a, r.ref, 4096, 0, 0), 0);
  cr_assert_eq (raid_check (r.f.a, RAID_CHECK), -EAGAIN);
  cr_assert (strstr (r.f.last_warning, "check not started: the array is degraded"), "%s",
             r.f.last_warning);
  cr_assert_eq (raid_check (r.f.a, RAID_CHECK_NONE), -EINVAL);
  rig_free (&r);
}

/* A stop from before the start counts for that check, refused or not: none outlives it
 * to cancel the next (the monitor stops a check it has taken before raid_check runs). */
Test (check, a_stop_before_a_refused_check_does_not_cancel_the_next)
{
  struct fx f;

  fx_create (&f, RAID_LEVEL_5, 3, 2, 1, CHUNK, 0);
  raid_check_stop (f.a);
  cr_assert_eq (raid_check (f.a, RAID_CHECK), -EAGAIN);     /* not in sync yet */
  cr_assert_eq (raid_resync (f.a), 0);
  cr_assert_eq (raid_check (f.a, RAID_CHECK), 0, "the stop before the refused check "
                "cancelled this one");
  fx_free (&f);
}

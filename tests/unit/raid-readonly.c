/* A read-only assembly (md's --readonly): every byte of every member, superblocks and
 * bitmap included, is the same after it as before, whatever happens meanwhile (reads,
 * refused writes and administration, a read error, a member going down, a dirty degraded
 * array started with force), and the data reads right.  A fenced array (a member taken
 * over by another host) writes nothing either, from the first conflict on. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "raid-test.h"

#define CHUNK 4096u

static const struct level_case *const cases = fx_redundant;

/* The array, its reference contents, and a copy of every member's raw bytes. */
struct rig {
  struct fx f;
  uint8_t *ref, *raw[RAID_MAX_MEMBERS];
  uint64_t size;
};

static void
rig_create (struct rig *r, const struct level_case *c)
{
  uint64_t seed = 11 + c->level;

  memset (r, 0, sizeof *r);
  fx_create (&r->f, c->level, c->n, c->k, c->m, CHUNK, 0);
  r->size = raid_size (r->f.a);
  r->ref = fx_fill (r->f.a, &seed);
  cr_assert_eq (raid_resync (r->f.a), 0);
}

static void
rig_snapshot (struct rig *r)
{
  for (unsigned i = 0; i < r->f.n; i++) {
    free (r->raw[i]);
    r->raw[i] = malloc (FX_MEMBER_SIZE);
    cr_assert_not_null (r->raw[i]);
    memcpy (r->raw[i], raid_mem_member_data (r->f.mm[i]), FX_MEMBER_SIZE);
    raid_mem_member_stats (r->f.mm[i], NULL, 1);
  }
}

/* Not a byte changed, and nothing was even written over with the same bytes (a
 * rewrite after a read error, a superblock or bitmap block stored again). */
static void
rig_unchanged (struct rig *r, const char *when)
{
  struct raid_mem_stats ms;

  for (unsigned i = 0; i < r->f.n; i++) {
    cr_assert (memcmp (r->raw[i], raid_mem_member_data (r->f.mm[i]), FX_MEMBER_SIZE) == 0,
               "%s: member %u was changed", when, i);
    raid_mem_member_stats (r->f.mm[i], &ms, 0);
    cr_assert (ms.writes == 0 && ms.flushes == 0, "%s: member %u took %llu writes and %llu "
               "flushes", when, i, (unsigned long long) ms.writes,
               (unsigned long long) ms.flushes);
  }
}

static void
rig_assemble_ro (struct rig *r, unsigned flags)
{
  char err[256] = "";

  cr_assert_not_null (fx_assemble (&r->f, (int) (RAID_ASSEMBLE_READONLY | flags), err,
                                   sizeof err), "read-only assembly: %s", err);
}

/* A clean array of level C, stopped, its bytes noted, started read-only. */
static void
rig_start_ro (struct rig *r, const struct level_case *c)
{
  rig_create (r, c);
  fx_close (&r->f);
  rig_snapshot (r);
  rig_assemble_ro (r, 0);
}

static void
rig_free (struct rig *r)
{
  fx_free (&r->f);
  for (unsigned i = 0; i < RAID_MAX_MEMBERS; i++)
    free (r->raw[i]);
  free (r->ref);
}

/* Everything that would change the array is refused with -EROFS (or left alone). */
static void
expect_refusals (struct raid_array *a)
{
  struct raid_mem_member *mm = raid_mem_member_new ("e9.1", FX_MEMBER_SIZE);
  struct raid_member m = raid_mem_member (mm);
  const char *names[] = { "e9.1" };
  uint8_t buf[4096] = { 0 };
  char err[256] = "";

  cr_assert_eq (raid_write (a, buf, sizeof buf, 0, 0), -EROFS);
  cr_assert_eq (raid_flush (a), 0, "a flush has nothing to do");
  cr_assert_eq (raid_add_member (a, &m, err, sizeof err), -EROFS);
  cr_assert_str_eq (err, "the array is read-only: assemble it without readonly to change it");
  cr_assert_eq (raid_fail_member (a, "e1.1", err, sizeof err), -EROFS);
  cr_assert_eq (raid_remove_spare (a, "e9.1", err, sizeof err), -EROFS);
  cr_assert_eq (raid_replace_start (a, "e1.1", "e9.1", err, sizeof err), -EROFS);
  cr_assert_eq (raid_grow (a, names, 1, RAID_LEVEL_5, err, sizeof err), -EROFS);
  cr_assert_neq (raid_check (a, RAID_CHECK_REPAIR), 0);
  cr_assert_eq (raid_recovery_pending (a), 0);
  cr_assert_eq (raid_needs_resync (a), 0);
  raid_mem_member_free (mm);
}

Test (readonly, reads_right_and_writes_nothing)
{
  for (unsigned c = 0; c < FX_N_REDUNDANT; c++) {
    struct rig r;
    struct raid_status st;

    rig_start_ro (&r, &cases[c]);
    raid_status (r.f.a, &st);
    cr_assert (st.readonly, "case %u: status does not say read-only", c);
    fx_expect_data (r.f.a, r.ref, NULL, r.size, "read-only");
    expect_refusals (r.f.a);
    fx_close (&r.f);
    rig_unchanged (&r, "read-only assembly, reads and refusals");
    rig_free (&r);
  }
}

/* A bad sector is read around from the other members, not rewritten; a member that
 * goes down is left out in memory only. */
Test (readonly, read_error_and_member_loss_write_nothing)
{
  for (unsigned c = 0; c < FX_N_REDUNDANT; c++) {
    struct rig r;
    struct raid_status st;

    rig_start_ro (&r, &cases[c]);
    raid_mem_member_bad_range (r.f.mm[1], RAID_DATA_OFFSET, 2 * CHUNK);
    fx_expect_data (r.f.a, r.ref, NULL, r.size, "around a bad sector");
    raid_mem_member_set_down (r.f.mm[1], 1);
    fx_expect_data (r.f.a, r.ref, NULL, r.size, "with a member down");
    raid_status (r.f.a, &st);
    cr_assert_eq (st.member[1].role, RAID_ROLE_FAULTY, "case %u", c);
    fx_close (&r.f);
    raid_mem_member_set_down (r.f.mm[1], 0);
    rig_unchanged (&r, "read error, member down");
    rig_free (&r);
  }
}

/* The write hole: a dirty degraded parity array is still refused without force; with
 * force it starts read-only, and a recovery cannot start on it. */
Test (readonly, dirty_degraded_needs_force_and_stays_untouched)
{
  struct rig r;
  int64_t power = 0;
  char err[256] = "";

  rig_create (&r, &cases[1]);
  for (unsigned i = 0; i < r.f.n; i++)
    raid_mem_member_power (r.f.mm[i], &power);
  fx_close (&r.f);                                  /* a crash: the superblocks say dirty */
  for (unsigned i = 0; i < r.f.n; i++)
    raid_mem_member_power (r.f.mm[i], NULL);
  raid_mem_member_set_down (r.f.mm[2], 1);
  rig_snapshot (&r);
  cr_assert_null (fx_assemble (&r.f, (int) RAID_ASSEMBLE_READONLY, err, sizeof err));
  cr_assert (strstr (err, "write hole"), "refused for another reason: %s", err);
  rig_assemble_ro (&r, RAID_ASSEMBLE_FORCE);
  fx_expect_data (r.f.a, r.ref, NULL, r.size, "dirty, degraded, read-only");
  cr_assert_eq (raid_recover (r.f.a), -EROFS);
  cr_assert_eq (raid_resync (r.f.a), -EROFS);
  fx_close (&r.f);
  rig_unchanged (&r, "a dirty degraded array started read-only");
  rig_free (&r);
}

/* A member that another host took over (RAID_EFENCED) fences the array: the request that
 * found it fails, and from then on every request fails with EIO, no member is failed and
 * nothing is written, to any member, even at the close. */
Test (readonly, fenced_array_writes_nothing)
{
  for (unsigned c = 0; c < FX_N_REDUNDANT; c++) {
    struct rig r;
    struct raid_status st;
    char err[256] = "";
    uint8_t *buf = calloc (1, 64 * 1024);

    cr_assert_not_null (buf);
    rig_create (&r, &cases[c]);
    raid_mem_member_fence (r.f.mm[0], 1);
    cr_assert_eq (raid_write (r.f.a, buf, 64 * 1024, 0, 0), -EIO, "case %u", c);
    rig_snapshot (&r);
    cr_assert_eq (raid_write (r.f.a, buf, 64 * 1024, 128 * 1024, 0), -EIO, "case %u", c);
    cr_assert_eq (raid_read (r.f.a, buf, 4096, 0), -EIO, "case %u", c);
    cr_assert_eq (raid_flush (r.f.a), -EIO, "case %u", c);
    raid_status (r.f.a, &st);
    cr_assert_str_eq (st.fenced_by, raid_mem_member (r.f.mm[0]).ops->name (r.f.mm[0]));
    for (unsigned i = 0; i < r.f.n; i++)
      cr_assert_eq (st.member[i].role, RAID_ROLE_ACTIVE, "case %u: member %u failed", c, i);
    cr_assert_eq (r.f.errors, 0, "case %u: %s", c, r.f.last_error);
    cr_assert_eq (raid_fail_member (r.f.a, "e2.1", err, sizeof err), -EROFS);
    cr_assert (strstr (err, "fenced"), "case %u: refused for another reason: %s", c, err);
    fx_close (&r.f);
    rig_unchanged (&r, "fenced");
    rig_free (&r);
    free (buf);
  }
}

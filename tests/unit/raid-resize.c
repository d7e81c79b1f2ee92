/* Using bigger members (raid_grow_size, md's --grow --size=max), on in-memory members:
 * an array is created on small members, its members are then swapped for bigger copies
 * (as a replace onto bigger shelves, or shelves grown while the server was stopped,
 * leave them: same bytes, more room, the room full of old garbage), and the array
 * grows into the room.  Every level keeps its data, serves the new space, resyncs it
 * (parity and copies checked against an independent model), reassembles at the new
 * size; every refusal says why; a power cut at any point of the grow, or of the resync
 * after it, loses nothing and never leaves the new space taken as in sync. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "raid-int.h"

#define CHUNK 4096u
#define SMALL FX_MEMBER_SIZE                        /* 32 chunks of data */
#define BIG (RAID_DATA_OFFSET + 64 * CHUNK)         /* 64 */

struct size_case { enum raid_level level; unsigned n, k, m, copies; };
static const struct size_case cases[] = {
  { RAID_LEVEL_0, 2, 2, 0, 1 },
  { RAID_LEVEL_1, 2, 1, 0, 2 },
  { RAID_LEVEL_5, 3, 2, 1, 1 },
  { RAID_LEVEL_6, 4, 2, 2, 1 },
  { RAID_LEVEL_10, 4, 1, 0, 2 },
  { RAID_LEVEL_10, 3, 1, 0, 2 },
  { RAID_LEVEL_EC, 5, 3, 2, 1 },
};
#define N_CASES (sizeof cases / sizeof cases[0])

static int
redundant (const struct size_case *c)
{
  return c->level != RAID_LEVEL_0;
}

/* Swap every member for a copy SIZE bytes long whose bytes past the old end are random
 * (a bigger shelf is not zeroed: its parity must not come out right by chance). */
static void
enlarge (struct fx *f, uint64_t size, uint64_t *seed)
{
  for (unsigned i = 0; i < f->n; i++) {
    uint64_t old = f->mem[i].ops->size (f->mem[i].member);
    char name[32];
    struct raid_mem_member *mm;
    snprintf (name, sizeof name, "%s", f->mem[i].ops->name (f->mem[i].member));
    mm = raid_mem_member_new (name, size);
    cr_assert_not_null (mm);
    memcpy (raid_mem_member_data (mm), raid_mem_member_data (f->mm[i]), old);
    fill_random (raid_mem_member_data (mm) + old, size - old, seed);
    raid_mem_member_free (f->mm[i]);
    f->mm[i] = mm;
    f->mem[i] = raid_mem_member (mm);
  }
}

/* Close, swap the members for bigger ones, assemble again. */
static void
restart_bigger (struct fx *f, uint64_t size, uint64_t *seed)
{
  char err[256] = "";

  fx_close (f);
  enlarge (f, size, seed);
  cr_assert_not_null (fx_assemble (f, 0, err, sizeof err), "assemble: %s", err);
}

static void
reassemble (struct fx *f, const char *when)
{
  char err[256] = "";

  fx_close (f);
  cr_assert_not_null (fx_assemble (f, 0, err, sizeof err), "%s: assemble: %s", when, err);
}

/* An array on small members, all of it random (REF holds it, as large as it grows),
 * with bitmap regions of REGION bytes per member. */
static uint8_t *
setup_region (struct fx *f, const struct size_case *c, uint64_t *seed, unsigned flags,
              uint64_t region)
{
  struct raid_params p = { .level = c->level, .chunk_bytes = CHUNK, .name = "test",
                           .flags = flags, .bitmap_region = region,
                           .k = c->level == RAID_LEVEL_EC ? c->k : 0,
                           .m = c->level == RAID_LEVEL_EC ? c->m : 0 };
  uint8_t *ref = calloc (1, 64 * 64 * CHUNK);
  char err[256] = "";

  cr_assert_not_null (ref);
  fx_members (f, c->n, SMALL);
  f->a = raid_create (&p, f->mem, f->n, fx_log, f, err, sizeof err);
  cr_assert_not_null (f->a, "raid_create: %s", err);
  fill_random (ref, raid_size (f->a), seed);
  cr_assert_eq (raid_write (f->a, ref, raid_size (f->a), 0, 0), 0);
  return ref;
}

/* The same with a bitmap bit per unit: the new space's bits are its own. */
static uint8_t *
setup (struct fx *f, const struct size_case *c, uint64_t *seed, unsigned flags)
{
  return setup_region (f, c, seed, flags, CHUNK);
}

/* No unit's redundancy differs from its data: the check finds nothing. */
static void
expect_checked (struct fx *f, const struct size_case *c, const char *when)
{
  struct raid_status st;

  if (!redundant (c))
    return;
  cr_assert_eq (raid_check (f->a, RAID_CHECK), 0, "%s: check", when);
  raid_status (f->a, &st);
  cr_assert_eq (st.check_mismatches, 0, "%s %s of %u: %llu units mismatch", when,
                raid_level_name (c->level), c->n, (unsigned long long) st.check_mismatches);
}

/* The same, and the independent model agrees over every row of the members (all in
 * the array). */
static void
expect_consistent (struct fx *f, const struct size_case *c, const char *when)
{
  expect_checked (f, c, when);
  if (redundant (c))
    fx_check_redundancy (f, c->level, c->k, c->m, c->copies, CHUNK, NULL);
}

/* Partial writes into the new space (before its resync), at the start, inside, at the end. */
#define N_PIECES 3
static void
pieces (struct fx *f, uint64_t from, uint64_t off[N_PIECES], uint32_t len[N_PIECES])
{
  off[0] = from, len[0] = 1024;
  off[1] = from + CHUNK + 1024, len[1] = 2048;
  off[2] = raid_size (f->a) - 1024, len[2] = 1024;
}

static void
expect_pieces (struct fx *f, const struct size_case *c, const uint8_t *ref, uint64_t from,
               const char *when)
{
  uint64_t off[N_PIECES];
  uint32_t len[N_PIECES];
  uint8_t buf[CHUNK];

  pieces (f, from, off, len);
  for (unsigned i = 0; i < N_PIECES; i++) {
    cr_assert_eq (raid_read (f->a, buf, len[i], off[i]), 0);
    cr_assert (memcmp (buf, ref + off[i], len[i]) == 0, "%s of %u: new space at %llu %s",
               raid_level_name (c->level), c->n, (unsigned long long) off[i], when);
  }
}

/* The pieces written, then read back with each member down in turn: a partial write
 * there must not trust the unsynced parity. */
static void
write_new_space_degraded (struct fx *f, const struct size_case *c, uint8_t *ref,
                          uint64_t from, uint64_t *seed)
{
  uint64_t off[N_PIECES];
  uint32_t len[N_PIECES];

  pieces (f, from, off, len);
  for (unsigned i = 0; i < N_PIECES; i++) {
    cr_assert_eq (fx_write_ref (f->a, ref, off[i], len[i], seed), 0);
  }
  if (!redundant (c))
    return;
  for (unsigned d = 0; d < f->n; d++) {
    raid_mem_member_set_down (f->mm[d], 1);
    expect_pieces (f, c, ref, from, "with a member down before the resync");
    raid_mem_member_set_down (f->mm[d], 0);
  }
}

Test (resize, every_level_grows_into_bigger_members)
{
  for (unsigned ci = 0; ci < N_CASES; ci++) {
    const struct size_case *c = &cases[ci];
    uint64_t seed = 11 + ci, old, now;
    struct raid_sb_summary sum;
    struct fx f;
    char err[256] = "";
    uint8_t *ref = setup (&f, c, &seed, RAID_CREATE_ASSUME_CLEAN);

    old = raid_size (f.a);
    restart_bigger (&f, BIG, &seed);
    cr_assert_eq (raid_size (f.a), old, "a bigger member alone changes nothing");
    cr_assert_eq (raid_grow_size (f.a, 0, err, sizeof err), 0, "%s: %s",
                  raid_level_name (c->level), err);
    now = raid_size (f.a);
    cr_assert_eq (now, old * 2, "%s of %u: %llu bytes after the grow", raid_level_name (c->level),
                  c->n, (unsigned long long) now);
    cr_expect (strstr (f.info, "grow: member data size 128 KiB -> 256 KiB"), "%s", f.info);
    cr_assert_eq (raid_needs_resync (f.a), redundant (c), "%s: resync of the new space",
                  raid_level_name (c->level));
    fx_expect_data (f.a, ref, NULL, old, "old data after the grow");
    write_new_space_degraded (&f, c, ref, old, &seed);
    cr_assert_eq (raid_resync (f.a), 0);
    expect_consistent (&f, c, "after the resync of the new space");
    expect_pieces (&f, c, ref, old, "after the resync");
    cr_assert_eq (fx_write_ref (f.a, ref, old, (uint32_t) (now - old), &seed), 0);
    fx_expect_data (f.a, ref, NULL, now, "everything after writing the new space");
    reassemble (&f, "after the grow");
    cr_assert_eq (raid_size (f.a), now);
    cr_assert_eq (raid_examine (&f.mem[0], &sum), 0);
    cr_assert_eq (sum.data_size, 64 * CHUNK);
    cr_assert_eq (sum.array_size, now);
    fx_expect_data (f.a, ref, NULL, now, "after reassembly");
    expect_consistent (&f, c, "after reassembly");
    fx_free (&f);
    free (ref);
  }
}

/* size=SIZE: a given member data size, rounded down to whole chunks; then max. */
Test (resize, a_given_size_then_max)
{
  const struct size_case *c = &cases[2];
  uint64_t seed = 3, old;
  struct fx f;
  char err[256] = "";
  uint8_t *ref = setup (&f, c, &seed, RAID_CREATE_ASSUME_CLEAN);

  old = raid_size (f.a);
  restart_bigger (&f, BIG, &seed);
  cr_assert_eq (raid_grow_size (f.a, 40 * CHUNK + 100, err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_size (f.a), 2 * 40 * CHUNK);
  cr_assert_eq (raid_resync (f.a), 0);
  cr_assert_eq (raid_grow_size (f.a, 0, err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_size (f.a), 2 * 64 * CHUNK);
  cr_assert_eq (raid_resync (f.a), 0);
  fx_expect_data (f.a, ref, NULL, old, "after two grows");
  expect_consistent (&f, c, "after two grows");
  fx_free (&f);
  free (ref);
}

static void
expect_refusal (struct fx *f, uint64_t size, int rc, const char *text)
{
  char err[256] = "";
  uint64_t was = raid_size (f->a);

  cr_assert_eq (raid_grow_size (f->a, size, err, sizeof err), rc, "'%s' returned otherwise: %s",
                text, err);
  cr_expect (strstr (err, text), "wanted '%s', got: %s", text, err);
  cr_expect (!strchr (err, '\n'), "one line: %s", err);
  cr_assert_eq (raid_size (f->a), was, "a refusal changed the size");
}

Test (resize, refusals_say_why)
{
  const struct size_case *c = &cases[2];
  uint64_t seed = 5;
  struct fx f;
  char err[256] = "";
  uint8_t *ref = setup (&f, c, &seed, RAID_CREATE_ASSUME_CLEAN);

  expect_refusal (&f, 0, -EINVAL, "nothing to grow: every member's data area is already "
                  "128 KiB; replace members with bigger shelves first");
  restart_bigger (&f, BIG, &seed);
  expect_refusal (&f, 16 * CHUNK, -EINVAL, "shrinking is not supported");
  expect_refusal (&f, 65 * CHUNK, -EINVAL, "e1.1 has room for 256 KiB only");
  expect_refusal (&f, 32 * CHUNK + 512, -EINVAL, "nothing to grow");
  raid_mem_member_set_down (f.mm[1], 1);
  expect_refusal (&f, 0, -EINVAL, "it is degraded (e2.1 in slot 1 does not answer): grow it "
                  "once it is whole again");
  raid_mem_member_set_down (f.mm[1], 0);
  atomic_store (&f.a->check.running, 1);
  expect_refusal (&f, 0, -EINVAL, "a check or repair is running");
  atomic_store (&f.a->check.running, 0);
  atomic_store (&f.a->resync_offset, 3);
  expect_refusal (&f, 0, -EINVAL, "it is not in sync yet");
  atomic_store (&f.a->resync_offset, RAID_RESYNC_DONE);
  fx_close (&f);

  /* read-only */
  f.a = raid_assemble (f.mem, f.n, RAID_ASSEMBLE_READONLY, fx_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  expect_refusal (&f, 0, -EROFS, "read-only");
  fx_close (&f);

  /* a slot with no member at all (its shelf missing at the start): refused as degraded,
   * its member never asked its size (aoeraid grow size=max crashed the server so) */
  struct raid_member some[] = { f.mem[0], f.mem[2] };
  f.a = raid_assemble (some, 2, 0, fx_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  expect_refusal (&f, 0, -EINVAL, "it is degraded (slot 1 has no member)");
  fx_close (&f);
  fx_free (&f);
  free (ref);
}

/* A degraded array whose resync has not ended: every grow refusal gives the same
 * reason, whatever was asked (QA walk: a grow onto shelves said "not in sync yet", one to
 * a member size "degraded"), and the bitmap is no grow of its shape: its refusal says why
 * it is refused then (the resync), not that the array is degraded. */
Test (resize, a_degraded_array_refuses_every_grow_alike)
{
  const struct size_case *c = &cases[2];
  const char *want = "cannot grow 'test': it is degraded (e2.1 in slot 1 has failed): grow "
                     "it once it is whole again (aoeraid add a shelf, or the member back: it "
                     "is rebuilt into the slot)";
  uint64_t seed = 6;
  struct fx f;
  char err[256] = "", err2[256] = "";
  uint8_t *ref = setup (&f, c, &seed, RAID_CREATE_ASSUME_CLEAN);

  cr_assert_eq (raid_fail_member (f.a, "e2.1", err, sizeof err), 0, "%s", err);
  atomic_store (&f.a->resync_offset, 3);
  cr_assert_eq (raid_grow_size (f.a, 0, err, sizeof err), -EINVAL, "%s", err);
  cr_assert_eq (raid_grow (f.a, (const char *[]) { "e9.1" }, 1, RAID_LEVEL_5, err2,
                           sizeof err2), -EINVAL, "%s", err2);
  cr_expect_str_eq (err, want);
  cr_expect_str_eq (err2, want, "grow onto a shelf: %s", err2);
  cr_assert_eq (raid_grow_bitmap (f.a, 0, err, sizeof err), -EINVAL, "%s", err);
  cr_expect (strstr (err, "it is not in sync yet"), "%s", err);
  atomic_store (&f.a->resync_offset, RAID_RESYNC_DONE);
  fx_free (&f);
  free (ref);
}

/* A RAID5 on members swapped for bigger ones, and a spare e9.1 of SPARE_SIZE bytes
 * added (in *extra, freed by the caller). */
static uint8_t *
setup_with_spare (struct fx *f, uint64_t *seed, uint64_t spare_size,
                  struct raid_mem_member **extra)
{
  uint8_t *ref = setup (f, &cases[2], seed, RAID_CREATE_ASSUME_CLEAN);
  struct raid_member m;
  char err[256] = "";

  restart_bigger (f, BIG, seed);
  *extra = raid_mem_member_new ("e9.1", spare_size);
  m = raid_mem_member (*extra);
  cr_assert_eq (raid_add_member (f->a, &m, err, sizeof err), 0, "%s", err);
  return ref;
}

static void
free_with_spare (struct fx *f, uint8_t *ref, struct raid_mem_member *extra)
{
  fx_free (f);
  raid_mem_member_free (extra);
  free (ref);
}

/* A reshape or a replace running: refused until it is done. */
Test (resize, refused_while_a_reshape_or_replace_runs)
{
  struct raid_mem_member *extra;
  uint64_t seed = 9;
  struct fx f;
  char err[256] = "";
  uint8_t *ref = setup_with_spare (&f, &seed, 2 * BIG, &extra);

  cr_assert_eq (raid_replace_start (f.a, "e1.1", "e9.1", err, sizeof err), 0, "%s", err);
  expect_refusal (&f, 0, -EINVAL, "a member is being replaced");
  free_with_spare (&f, ref, extra);

  ref = setup_with_spare (&f, &seed, 2 * BIG, &extra);
  cr_assert_eq (raid_grow (f.a, (const char *[]) { "e9.1" }, 1, RAID_LEVEL_5, err, sizeof err),
                0, "%s", err);
  expect_refusal (&f, 0, -EINVAL, "a reshape is still running");
  free_with_spare (&f, ref, extra);
}

/* A spare as small as the old members: a warning at the grow and at assembly; it never
 * takes a slot (recovery passes it by, a replace onto it is refused), and a new small
 * one is refused. */
Test (resize, spares_too_small_for_the_new_size)
{
  struct raid_mem_member *extra, *small = raid_mem_member_new ("e7.1", SMALL);
  struct raid_member sm = raid_mem_member (small);
  uint64_t seed = 13;
  struct fx f;
  char err[256] = "";
  uint8_t *ref = setup_with_spare (&f, &seed, SMALL, &extra);

  cr_assert_eq (raid_grow_size (f.a, 0, err, sizeof err), 0, "%s", err);
  cr_expect (strstr (f.last_warning, "spare e9.1 (1179648 bytes) is now too small to take a "
                     "slot"), "%s", f.last_warning);
  cr_assert_eq (raid_resync (f.a), 0);
  /* assembled again with it: the same warning */
  fx_close (&f);
  f.last_warning[0] = 0;
  f.mem[f.n] = raid_mem_member (extra);
  f.a = raid_assemble (f.mem, f.n + 1, 0, fx_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  cr_expect (strstr (f.last_warning, "spare e9.1 (1179648 bytes) is now too small to take a "
                     "slot (a member needs 1310720 bytes): remove it and add a bigger shelf"),
             "%s", f.last_warning);
  cr_assert_eq (raid_replace_start (f.a, "e1.1", "e9.1", err, sizeof err), -ENOSPC);
  cr_expect (strstr (err, "spare e9.1 is too small"), "%s", err);
  cr_assert_eq (raid_add_member (f.a, &sm, err, sizeof err), -EINVAL);
  cr_expect (strstr (err, "too small"), "%s", err);
  cr_assert_eq (raid_fail_member (f.a, "e2.1", err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_recovery_pending (f.a), 0, "a too small spare must not take a slot");
  cr_assert_eq (raid_recover (f.a), -EAGAIN);
  fx_expect_data (f.a, ref, NULL, SMALL - RAID_DATA_OFFSET, "degraded, the spare left alone");
  free_with_spare (&f, ref, extra);
  raid_mem_member_free (small);
}

/* The bitmap's bits grow with the members; when they would not fit in its block its
 * regions double, and the block still loads at assembly. */
Test (resize, bitmap_regions_grow_when_the_bits_would_not_fit)
{
  struct raid_params p = { .level = RAID_LEVEL_1, .chunk_bytes = CHUNK, .name = "bm",
                           .flags = RAID_CREATE_ASSUME_CLEAN, .bitmap_region = CHUNK };
  uint64_t rows = RAID_BITMAP_MAX_BITS - 24, seed = 17;
  struct raid_status st;
  struct fx f;
  char err[256] = "";

  fx_members (&f, 2, RAID_DATA_OFFSET + rows * CHUNK);
  f.a = raid_create (&p, f.mem, 2, fx_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  raid_status (f.a, &st);
  cr_assert_eq (st.bitmap_bits, rows);
  cr_assert_eq (st.bitmap_region, CHUNK);
  restart_bigger (&f, RAID_DATA_OFFSET + 2 * rows * CHUNK, &seed);
  cr_assert_eq (raid_grow_size (f.a, 0, err, sizeof err), 0, "%s", err);
  raid_status (f.a, &st);
  cr_assert_eq (st.bitmap_region, 2 * CHUNK);
  cr_assert_eq (st.bitmap_bits, rows);
  cr_assert_eq (st.bitmap_dirty, rows / 2, "the new half dirty, the old clean");
  reassemble (&f, "before the resync");
  cr_expect_eq (f.warnings, 0, "%s", f.last_warning);
  raid_status (f.a, &st);
  cr_assert_eq (st.bitmap_bits, rows);
  cr_assert_eq (st.resync_offset, rows, "the resync resumes at the old end");
  cr_assert_eq (raid_resync (f.a), 0);
  fx_check_redundancy (&f, RAID_LEVEL_1, 1, 0, 2, CHUNK, NULL);
  fx_free (&f);
}

/* A power cut after BUDGET member I/Os of the grow, or of the resync after it, and a
 * restart: the old or the new size; the old data intact; and after the resync that
 * follows every unit consistent.  Returns 1 when the new size survived. */
static int
cut_and_restart (const struct size_case *c, int64_t budget, int in_resync)
{
  uint64_t seed = 21, old;
  int64_t power = budget;
  struct fx f;
  char err[256] = "";
  uint8_t *ref = setup (&f, c, &seed, RAID_CREATE_ASSUME_CLEAN);
  int grew;

  old = raid_size (f.a);
  restart_bigger (&f, BIG, &seed);
  if (in_resync)
    cr_assert_eq (raid_grow_size (f.a, 0, err, sizeof err), 0, "%s", err);
  for (unsigned i = 0; i < f.n; i++)
    raid_mem_member_power (f.mm[i], &power);
  if (in_resync)
    raid_resync (f.a);
  else
    raid_grow_size (f.a, 0, err, sizeof err);
  fx_close (&f);                       /* its superblock writes fail too */
  for (unsigned i = 0; i < f.n; i++)
    raid_mem_member_power (f.mm[i], NULL);
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "budget %lld: assemble after "
                      "the cut: %s", (long long) budget, err);
  grew = raid_size (f.a) == 2 * old;
  cr_assert (grew || raid_size (f.a) == old, "budget %lld: %llu bytes", (long long) budget,
             (unsigned long long) raid_size (f.a));
  /* (a cut that came after everything, the close too, leaves a clean array) */
  if (grew && redundant (c) && (!in_resync || power <= 0))
    cr_assert (raid_needs_resync (f.a), "budget %lld: the new space taken as in sync",
               (long long) budget);
  fx_expect_data (f.a, ref, NULL, old, "after a power cut in the grow");
  cr_assert_eq (raid_resync (f.a), 0);
  if (grew)
    expect_consistent (&f, c, "after a power cut and the resync");
  else
    expect_checked (&f, c, "after a power cut and the resync");
  fx_free (&f);
  free (ref);
  return grew;
}

Test (resize, power_cut_in_the_grow_or_its_resync)
{
  static const int64_t budgets[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 40 };
  static const unsigned levels[] = { 1, 2, 3, 4, 6 };

  for (unsigned li = 0; li < sizeof levels / sizeof levels[0]; li++) {
    const struct size_case *c = &cases[levels[li]];
    unsigned grew = 0;
    for (unsigned b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
      grew += cut_and_restart (c, budgets[b], 0);
      cut_and_restart (c, budgets[b] * 3, 1);
    }
    /* the cuts land before, inside and after the superblock writes */
    cr_assert (grew > 0 && grew < sizeof budgets / sizeof budgets[0], "%s: %u of the cuts "
               "left the new size", raid_level_name (c->level), grew);
  }
}

/* A bitmap region bigger than the grow: the old last region holds the new space too, so
 * the block of the old size has as many bits as one of the new size, and assembly takes
 * either.  A power cut after the superblocks of the new size but before the grown
 * bitmap must not leave that region's clean bit saying the new space is in sync. */
Test (resize, power_cut_with_the_new_space_in_the_last_region)
{
  const struct size_case *c = &cases[1];
  unsigned grew = 0;

  for (int64_t budget = 0; budget <= 16; budget++) {
    uint64_t seed = 23, old;
    int64_t power = budget;
    struct raid_status st;
    struct fx f;
    char err[256] = "";
    uint8_t *ref = setup_region (&f, c, &seed, RAID_CREATE_ASSUME_CLEAN, 256 * CHUNK);

    bitmap_pass (f.a);                  /* the writes' bits cleared: the array idle */
    bitmap_pass (f.a);
    old = raid_size (f.a);
    restart_bigger (&f, BIG, &seed);
    raid_status (f.a, &st);
    cr_assert_eq (st.bitmap_bits, 1);
    cr_assert_eq (st.bitmap_dirty, 0);
    for (unsigned i = 0; i < f.n; i++)
      raid_mem_member_power (f.mm[i], &power);
    raid_grow_size (f.a, 0, err, sizeof err);
    fx_close (&f);
    for (unsigned i = 0; i < f.n; i++)
      raid_mem_member_power (f.mm[i], NULL);
    cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "budget %lld: %s",
                        (long long) budget, err);
    grew += raid_size (f.a) == 2 * old;
    fx_expect_data (f.a, ref, NULL, old, "after a power cut in the grow");
    cr_assert_eq (raid_resync (f.a), 0);
    snprintf (err, sizeof err, "budget %lld: after the power cut and the resync",
              (long long) budget);
    if (raid_size (f.a) == 2 * old)
      expect_consistent (&f, c, err);
    fx_free (&f);
    free (ref);
  }
  cr_assert (grew > 0, "no cut left the new size");
}

/* A grow's resync of the new space is no crash's: a degraded start before it ends needs
 * no force.  Here the grow follows, in the same run, the resync after a crash: the mark of
 * that resync must end with it and not pass to the grow's (a degraded start refused). */
Test (resize, the_resync_of_a_grow_after_a_crash_resync_is_no_crash_resync)
{
  const struct size_case *c = &cases[2];
  uint64_t seed = 9;
  int64_t power = 0;
  struct fx f;
  struct raid_status st;
  char err[256] = "";
  uint8_t *ref = setup (&f, c, &seed, RAID_CREATE_ASSUME_CLEAN);

  restart_bigger (&f, BIG, &seed);
  for (unsigned i = 0; i < f.n; i++)                /* the host dies */
    raid_mem_member_power (f.mm[i], &power);
  fx_close (&f);
  for (unsigned i = 0; i < f.n; i++)
    raid_mem_member_power (f.mm[i], NULL);
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  raid_status (f.a, &st);
  cr_assert (st.resync_after_crash, "the resync after the crash is not marked so");
  cr_assert_eq (raid_resync (f.a), 0);
  cr_assert_eq (raid_grow_size (f.a, 0, err, sizeof err), 0, "%s", err);
  raid_status (f.a, &st);
  cr_assert (st.resync_offset != RAID_RESYNC_DONE && !st.resync_after_crash,
             "the grow's resync: at %llu, after a crash %d",
             (unsigned long long) st.resync_offset, st.resync_after_crash);
  fx_close (&f);
  raid_mem_member_set_down (f.mm[1], 1);
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "a degraded start during a "
                      "grow's resync was refused: %s", err);
  fx_expect_data (f.a, ref, NULL, 32 * 2 * CHUNK, "degraded, after the grow");
  fx_free (&f);
  free (ref);
}

/* Adding and removing the write-intent bitmap of a running array (raid_grow_bitmap,
 * md's --grow --bitmap=internal|none), on in-memory members.  A bitmap added to an array
 * created without one starts clean, survives a restart and re-adds a member that comes
 * back over the regions it missed only; once removed, a member that comes back is
 * rebuilt in full and a crash resyncs every unit; on a degraded array either change is
 * taken, and the missing member is rebuilt in full when it returns; every refusal says
 * why (a running rebuild still refuses it); a power cut at
 * any write of the change leaves an array that assembles with no bitmap or a valid one,
 * and a crash after it loses no acknowledged write. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "raid-int.h"

#define CHUNK 4096u
#define REGION (4 * CHUNK)              /* 16 KiB: 8 regions on 32 chunks per member */
#define DATA (FX_MEMBER_SIZE - RAID_DATA_OFFSET)

/* A RAID5 of 3 (or RAID1 of 2, MIRROR) in sync, bitmap regions of REGION bytes (0:
 * none), every byte random (in the returned reference), every bit clean. */
static uint8_t *
setup (struct fx *f, int mirror, uint64_t region, uint64_t *seed)
{
  struct raid_params p = { .level = mirror ? RAID_LEVEL_1 : RAID_LEVEL_5,
                           .chunk_bytes = CHUNK, .name = "test", .bitmap_region = region,
                           .flags = RAID_CREATE_ASSUME_CLEAN
                                    | (region ? 0 : RAID_CREATE_NO_BITMAP) };
  char err[256] = "";
  uint8_t *ref;

  fx_members (f, mirror ? 2 : 3, FX_MEMBER_SIZE);
  f->a = raid_create (&p, f->mem, f->n, fx_log, f, err, sizeof err);
  cr_assert_not_null (f->a, "raid_create: %s", err);
  ref = fx_fill (f->a, seed);
  bitmap_pass (f->a);
  bitmap_pass (f->a);
  return ref;
}

static void
reassemble (struct fx *f, const char *when)
{
  char err[256] = "";

  fx_close (f);
  cr_assert_not_null (fx_assemble (f, 0, err, sizeof err), "%s: assemble: %s", when, err);
}

/* Every member stops taking I/O after BUDGET more; what runs meanwhile is cut there. */
static void
power (struct fx *f, int64_t *budget)
{
  for (unsigned i = 0; i < f->n; i++)
    raid_mem_member_power (f->mm[i], budget);
}

/* A crash: the close's superblock writes fail, the superblocks stay dirty. */
static void
crash (struct fx *f)
{
  int64_t none = 0;

  power (f, &none);
  fx_close (f);
  power (f, NULL);
}

static void
expect_bitmap (struct fx *f, uint64_t bits, uint64_t dirty, const char *when)
{
  struct raid_status st;

  cr_assert_eq (raid_status (f->a, &st), 0);
  cr_assert_eq (st.bitmap_bits, bits, "%s: %llu bits", when, (unsigned long long) st.bitmap_bits);
  cr_assert_eq (st.bitmap_dirty, dirty, "%s: %llu dirty", when,
                (unsigned long long) st.bitmap_dirty);
  if (bits)
    cr_assert_eq (st.bitmap_region, REGION, "%s: regions of %llu", when,
                  (unsigned long long) st.bitmap_region);
}

/* No unit's redundancy differs from its data. */
static void
expect_consistent (struct fx *f, const char *when)
{
  struct raid_status st;
  int mirror = f->n == 2;

  cr_assert_eq (raid_check (f->a, RAID_CHECK), 0, "%s: check", when);
  raid_status (f->a, &st);
  cr_assert_eq (st.check_mismatches, 0, "%s: %llu units mismatch", when,
                (unsigned long long) st.check_mismatches);
  fx_check_redundancy (f, mirror ? RAID_LEVEL_1 : RAID_LEVEL_5, mirror ? 1 : 2,
                       mirror ? 0 : 1, mirror ? 2 : 1, CHUNK, NULL);
}

/* Member 1 leaves, LEN bytes are written at OFF, it comes back (added by hand) and is
 * recovered: the bytes the recovery wrote to it. */
static uint64_t
away_and_back (struct fx *f, uint8_t *ref, uint64_t off, uint32_t len, uint64_t *seed)
{
  struct raid_member back = raid_mem_member (f->mm[1]);
  struct raid_mem_stats ms;
  struct raid_status st;
  char err[256] = "";

  raid_mem_member_set_down (f->mm[1], 1);
  cr_assert_eq (fx_write_ref (f->a, ref, off, len, seed), 0);
  raid_mem_member_set_down (f->mm[1], 0);
  raid_status (f->a, &st);
  f->info[0] = '\0';
  cr_assert_eq (raid_add_member (f->a, &back, err, sizeof err), 0, "add: %s", err);
  /* what happens, said once, in the answer as in the log (QA walk: "added e2.1 as a
   * spare" first, then that it came back to its slot) */
  cr_expect_str_eq (err, st.bitmap_bits ? "re-adding e2.1 to slot 1 from the write-intent "
                    "bitmap (only what was written while it was away is rebuilt)"
                    : "added e2.1 as a spare");
  cr_expect (strstr (f->info, err), "the log: %s", f->info);
  cr_expect (!st.bitmap_bits || !strstr (f->info, "as a spare"), "the log: %s", f->info);
  raid_mem_member_stats (f->mm[1], &ms, 1);
  cr_assert_eq (raid_recover (f->a), 0);
  raid_mem_member_stats (f->mm[1], &ms, 0);
  fx_expect_data (f->a, ref, NULL, raid_size (f->a), "after the member came back");
  expect_consistent (f, "after the member came back");
  return ms.write_bytes;
}

Test (grow_bitmap, added_it_starts_clean_and_readds_what_was_missed)
{
  uint64_t seed = 1, wrote;
  struct fx f;
  char err[256] = "";
  uint8_t *ref = setup (&f, 0, 0, &seed);

  expect_bitmap (&f, 0, 0, "created without a bitmap");
  cr_assert_eq (raid_grow_bitmap (f.a, REGION, err, sizeof err), 0, "%s", err);
  /* a writer holding the bitmap's lock as the status is asked (status counts it only
   * when the lock is free): the grow has published the new bitmap already */
  pthread_mutex_lock (&f.a->bitmap.lock);
  expect_bitmap (&f, 8, 0, "added, a writer in the bitmap as status is asked");
  pthread_mutex_unlock (&f.a->bitmap.lock);
  expect_bitmap (&f, 8, 0, "added to an array in sync");
  cr_expect (strstr (f.info, "write-intent bitmap added: 8 regions of 16 KiB, every one "
                     "clean"), "%s", f.info);
  /* the caller's answer is the grow's own outcome, not a status read after it */
  cr_expect_str_eq (err, "write-intent bitmap added: 8 regions of 16 KiB, every one clean");
  reassemble (&f, "after the add");
  cr_assert_eq (f.warnings, 0, "%s", f.last_warning);
  expect_bitmap (&f, 8, 0, "after a restart");
  wrote = away_and_back (&f, ref, 5 * CHUNK, CHUNK, &seed);
  /* one region (2 rows: 8 KiB on each member) rebuilt, plus a few 4 KiB superblocks and
   * bitmaps; in full it would be 128 KiB */
  cr_assert (wrote <= REGION / 2 + 8 * 4096, "the re-add wrote %llu bytes",
             (unsigned long long) wrote);
  fx_free (&f);
  free (ref);
}

/* Removed: a member that comes back is rebuilt in full, and after a crash the resync
 * covers every unit (here one whose copies differ, written by no one since). */
Test (grow_bitmap, removed_a_return_is_a_full_rebuild_and_a_crash_a_full_resync)
{
  uint64_t seed = 2, wrote, at = RAID_DATA_OFFSET + 20 * CHUNK + 7;
  struct fx f;
  char err[256] = "";
  uint8_t *ref = setup (&f, 1, REGION, &seed), *alt;
  struct raid_status st;

  expect_bitmap (&f, 8, 0, "created with a bitmap, idle");
  cr_assert_eq (raid_grow_bitmap (f.a, 0, err, sizeof err), 0, "%s", err);
  expect_bitmap (&f, 0, 0, "removed");
  cr_expect (strstr (f.info, "write-intent bitmap removed: a member that comes back is "
                     "rebuilt in full"), "%s", f.info);
  reassemble (&f, "after the removal");
  expect_bitmap (&f, 0, 0, "after a restart");
  wrote = away_and_back (&f, ref, 5 * CHUNK, CHUNK, &seed);
  cr_assert (wrote >= DATA, "a full rebuild wrote %llu bytes only", (unsigned long long) wrote);

  /* the copies of one unit differ; a crash; the resync must find it */
  alt = malloc (raid_size (f.a));
  cr_assert_not_null (alt);
  memcpy (alt, ref, raid_size (f.a));
  raid_mem_member_data (f.mm[1])[at] ^= 0xff;
  alt[at - RAID_DATA_OFFSET] ^= 0xff;
  crash (&f);
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  raid_status (f.a, &st);
  cr_assert_eq (st.resync_offset, 0, "a crash without a bitmap resyncs from the start");
  cr_assert_eq (raid_resync (f.a), 0);
  fx_expect_data (f.a, ref, alt, raid_size (f.a), "after the crash and the resync");
  expect_consistent (&f, "after a crash and a full resync");
  fx_free (&f);
  free (ref);
  free (alt);
}

/* Member 1 fails, LEN bytes are written at OFF, the bitmap is added (REGION) or removed
 * (0) on the degraded array (md takes either: mdadm --grow --bitmap), more is written, the
 * member comes back: rebuilt in full either way (a bitmap added now never saw the first
 * writes), and the log says what the change costs.  Before, both were refused. */
static void
change_while_degraded (int mirror, uint64_t region)
{
  uint64_t seed = 60 + region, wrote;
  struct fx f;
  char err[256] = "";
  uint8_t *ref = setup (&f, mirror, region ? 0 : REGION, &seed);
  struct raid_member back = raid_mem_member (f.mm[1]);
  struct raid_mem_stats ms;

  raid_mem_member_set_down (f.mm[1], 1);
  cr_assert_eq (fx_write_ref (f.a, ref, 5 * CHUNK, CHUNK, &seed), 0);
  cr_assert_eq (raid_grow_bitmap (f.a, region, err, sizeof err), 0, "degraded: %s", err);
  expect_bitmap (&f, region ? 8 : 0, 0, "changed on a degraded array");
  cr_expect (strstr (f.info, region ? RAID_BITMAP_ADDED_DEGRADED
                     : RAID_BITMAP_REMOVED_DEGRADED), "%s", f.info);
  cr_assert_eq (fx_write_ref (f.a, ref, 20 * CHUNK, CHUNK, &seed), 0);
  raid_mem_member_set_down (f.mm[1], 0);
  cr_assert_eq (raid_add_member (f.a, &back, err, sizeof err), 0, "add: %s", err);
  raid_mem_member_stats (f.mm[1], &ms, 1);
  cr_assert_eq (raid_recover (f.a), 0);
  raid_mem_member_stats (f.mm[1], &ms, 0);
  wrote = ms.write_bytes;
  cr_assert (wrote >= DATA * 3 / 4, "a full rebuild wrote %llu bytes only",
             (unsigned long long) wrote);
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after the member came back");
  expect_consistent (&f, "after the member came back");
  fx_free (&f);
  free (ref);
}

Test (grow_bitmap, removed_while_degraded_the_return_is_a_full_rebuild)
{
  change_while_degraded (0, 0);
  change_while_degraded (1, 0);
}

Test (grow_bitmap, added_while_degraded_the_return_is_still_a_full_rebuild)
{
  change_while_degraded (0, REGION);
  change_while_degraded (1, REGION);
}

static void
expect_refusal (struct fx *f, uint64_t region, int rc, const char *text)
{
  struct raid_status before, after;
  char err[256] = "";

  raid_status (f->a, &before);
  cr_assert_eq (raid_grow_bitmap (f->a, region, err, sizeof err), rc,
                "'%s' returned otherwise: %s", text, err);
  cr_expect (strstr (err, text), "wanted '%s', got: %s", text, err);
  cr_expect (!strchr (err, '\n'), "one line: %s", err);
  raid_status (f->a, &after);
  cr_assert_eq (after.bitmap_bits, before.bitmap_bits, "a refusal changed the bitmap");
  cr_assert_eq (after.bitmap_region, before.bitmap_region, "a refusal changed the bitmap");
}

Test (grow_bitmap, refusals_say_why)
{
  struct raid_params p0 = { .level = RAID_LEVEL_0, .chunk_bytes = CHUNK, .name = "r0" };
  struct raid_mem_member *extra;
  struct raid_member m;
  uint64_t seed = 3;
  struct fx f;
  char err[256] = "";
  uint8_t *ref = setup (&f, 0, REGION, &seed);

  expect_refusal (&f, REGION, -EINVAL, "has a write-intent bitmap of 16 KiB regions already");
  expect_refusal (&f, 2 * REGION, -EINVAL, "has a write-intent bitmap of 16 KiB regions: its "
                  "region size cannot change in place; remove it (bitmap=none), then add one "
                  "of 32 KiB");
  cr_assert_eq (raid_grow_bitmap (f.a, 0, err, sizeof err), 0, "%s", err);
  expect_refusal (&f, 0, -EINVAL, "has no write-intent bitmap to remove");
  atomic_store (&f.a->resync_offset, 3);
  expect_refusal (&f, REGION, -EINVAL, "it is not in sync yet");
  atomic_store (&f.a->resync_offset, RAID_RESYNC_DONE);
  atomic_store (&f.a->check.running, 1);
  expect_refusal (&f, REGION, -EINVAL, "a check or repair is running");
  atomic_store (&f.a->check.running, 0);
  /* a reshape: the bitmap is off until it has finished */
  extra = raid_mem_member_new ("e9.1", FX_MEMBER_SIZE);
  m = raid_mem_member (extra);
  cr_assert_eq (raid_add_member (f.a, &m, err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_grow (f.a, (const char *[]) { "e9.1" }, 1, RAID_LEVEL_5, err, sizeof err),
                0, "%s", err);
  expect_refusal (&f, REGION, -EINVAL, "a reshape is still running");
  fx_close (&f);
  raid_mem_member_free (extra);

  /* read-only */
  f.a = raid_assemble (f.mem, f.n, RAID_ASSEMBLE_READONLY, fx_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  expect_refusal (&f, REGION, -EROFS, "read-only");
  fx_free (&f);
  free (ref);

  /* a slot rebuilt: the recovery reads the bitmap (md refuses it during a recovery) */
  ref = setup (&f, 0, 0, &seed);
  atomic_store (&f.a->slot[1].recovering, 1);
  expect_refusal (&f, REGION, -EINVAL, "cannot add the write-intent bitmap of 'test': it is "
                  "rebuilding slot 1 (e2.1): grow it once the recovery has finished");
  atomic_store (&f.a->slot[1].recovering, 0);
  fx_free (&f);
  free (ref);

  /* fenced: another head took a member over */
  ref = setup (&f, 0, REGION, &seed);
  raid_mem_member_fence (f.mm[0], 1);
  cr_assert_eq (raid_write (f.a, ref, CHUNK, 0, 0), -EIO);
  expect_refusal (&f, 0, -EROFS, "the array is fenced");
  fx_free (&f);

  /* raid0: no member ever comes back */
  fx_members (&f, 2, FX_MEMBER_SIZE);
  f.a = raid_create (&p0, f.mem, f.n, fx_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  expect_refusal (&f, REGION, -EINVAL, "cannot add a write-intent bitmap: 'r0' is a raid0, "
                  "without redundancy");
  fx_free (&f);
  free (ref);
}

/* A power cut after BUDGET member I/Os of the change (ADD: to an array without a bitmap;
 * else its removal), a restart, then writes cut short by a crash and the resync after:
 * the array assembles with no bitmap or a valid one (no warning of a damaged one), and
 * no acknowledged write is lost, every unit consistent.  1 when the change survived. */
static int
cut_and_restart (int mirror, int add, int64_t budget)
{
  uint64_t seed = 40 + budget, off = 9 * CHUNK + 512, len = 3 * CHUNK;
  int64_t left = budget;
  struct raid_status st;
  struct fx f;
  char err[256] = "";
  uint8_t *ref = setup (&f, mirror, add ? 0 : REGION, &seed), *alt;
  int changed;

  power (&f, &left);
  raid_grow_bitmap (f.a, add ? REGION : 0, err, sizeof err);
  fx_close (&f);
  power (&f, NULL);
  f.warnings = 0;
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "budget %lld: %s",
                      (long long) budget, err);
  cr_assert_eq (f.warnings, 0, "budget %lld: %s", (long long) budget, f.last_warning);
  raid_status (f.a, &st);
  cr_assert (st.bitmap_bits == 0 || st.bitmap_bits == 8, "budget %lld: %llu bits",
             (long long) budget, (unsigned long long) st.bitmap_bits);
  changed = (st.bitmap_bits != 0) == add;
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after a power cut in the change");
  cr_assert_eq (raid_resync (f.a), 0);

  /* a write cut short by a crash, then one acknowledged before another crash */
  alt = malloc (raid_size (f.a));
  cr_assert_not_null (alt);
  memcpy (alt, ref, raid_size (f.a));
  fill_random (alt + off, len, &seed);
  left = 4;
  power (&f, &left);
  if (raid_write (f.a, alt + off, len, off, 0) == 0)
    memcpy (ref + off, alt + off, len);
  fx_close (&f);
  power (&f, NULL);
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  cr_assert_eq (raid_resync (f.a), 0);
  fx_expect_data (f.a, ref, alt, raid_size (f.a), "after a write cut short");
  cr_assert_eq (fx_write_ref (f.a, ref, off, len, &seed), 0);
  crash (&f);
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  cr_assert_eq (raid_resync (f.a), 0);
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after a crash");
  snprintf (err, sizeof err, "budget %lld: after the crashes and resyncs", (long long) budget);
  expect_consistent (&f, err);
  fx_free (&f);
  free (ref);
  free (alt);
  return changed;
}

Test (grow_bitmap, power_cut_at_every_write_of_the_change)
{
  for (int mirror = 0; mirror < 2; mirror++)
    for (int add = 0; add < 2; add++) {
      unsigned changed = 0, cuts = 0;
      for (int64_t budget = 0; budget <= 24; budget++, cuts++)
        changed += cut_and_restart (mirror, add, budget);
      /* the cuts land before, inside and after the superblock writes */
      cr_assert (changed > 0 && changed < cuts, "%s %s: %u of %u cuts left the change",
                 mirror ? "raid1" : "raid5", add ? "add" : "remove", changed, cuts);
    }
}

/* A spare rebuilt into slot 0 holds, where the bitmap goes, a block of its own past (one
 * of this array's, all clean): nothing writes the array's block there while no bit
 * changes, and region 0's bit was set before (while slot 0 was out).  Then a write in
 * region 0 is torn (its parity did not land) and the host dies.  The restart reads the
 * bitmap from the freshest member, slot 0 on a tie: unless it got the array's block when
 * it took the slot, region 0 counts as clean, the resync passes it, and its parity stays
 * torn. */
Test (grow_bitmap, a_spare_that_takes_a_slot_gets_the_arrays_bitmap)
{
  struct raid_params p = { .level = RAID_LEVEL_5, .chunk_bytes = CHUNK, .name = "test",
                           .bitmap_region = REGION, .flags = RAID_CREATE_ASSUME_CLEAN };
  struct raid_status st;
  struct fx f;
  uint64_t seed = 31;
  uint8_t *ref, *pdata, *before = malloc (DATA);
  unsigned pdev = ref_parity_dev (3, 1, 0, 0);
  char err[256] = "";

  fx_members (&f, 4, FX_MEMBER_SIZE);
  f.a = raid_create (&p, f.mem, 3, fx_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "raid_create: %s", err);
  ref = fx_fill (f.a, &seed);
  bitmap_pass (f.a);
  bitmap_pass (f.a);
  expect_bitmap (&f, 8, 0, "filled");
  /* the spare-to-be: a disk once of this array, its bitmap block all clean */
  memcpy (raid_mem_member_data (f.mm[3]) + RAID_BITMAP_OFFSET,
          raid_mem_member_data (f.mm[1]) + RAID_BITMAP_OFFSET, RAID_BITMAP_SIZE);
  cr_assert_eq (raid_fail_member (f.a, "e1.1", err, sizeof err), 0, "%s", err);
  cr_assert_eq (fx_write_ref (f.a, ref, 4 * CHUNK, 4096, &seed), 0);   /* region 0's bit */
  cr_assert_eq (raid_add_member (f.a, &f.mem[3], err, sizeof err), 0, "%s", err);
  fx_recover_writes (f.a, f.mm[3]);
  cr_assert (f.a->slot[0].m.member == f.mem[3].member, "the spare is not in slot 0");
  /* stripe 0, torn: its data lands, its parity does not */
  pdata = raid_mem_member_data (f.mm[pdev == 0 ? 3 : pdev]) + RAID_DATA_OFFSET;
  memcpy (before, pdata, DATA);
  cr_assert_eq (fx_write_ref (f.a, ref, 0, 4096, &seed), 0);
  memcpy (pdata, before, DATA);
  crash (&f);
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  cr_assert_eq (raid_resync (f.a), 0);
  cr_assert_eq (raid_check (f.a, RAID_CHECK), 0);
  raid_status (f.a, &st);
  cr_assert_eq (st.check_mismatches, 0, "region 0's torn stripe was not resynced: the "
                "bitmap came from slot 0's member, which never got the array's block");
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after the resync");
  free (before);
  free (ref);
  fx_free (&f);
}

/* Member 1 goes down and misses a write; the bitmap is removed and added again while it
 * is away (each on the degraded array), more is written, and (RESTART) the array is
 * started again without it; it comes back: rebuilt in full (the new bitmap never saw the
 * first write, and its block says so across a restart: events_cleared is on the
 * members), every byte read back, every stripe consistent. */
static void
removed_and_added_while_away (int mirror, int restart)
{
  uint64_t seed = 90 + 2 * mirror + restart;
  struct fx f;
  char err[256] = "";
  uint8_t *ref = setup (&f, mirror, REGION, &seed);
  struct raid_member back = raid_mem_member (f.mm[1]);
  struct raid_mem_stats ms;

  raid_mem_member_set_down (f.mm[1], 1);
  cr_assert_eq (fx_write_ref (f.a, ref, 5 * CHUNK, CHUNK, &seed), 0);
  cr_assert_eq (raid_grow_bitmap (f.a, 0, err, sizeof err), 0, "remove: %s", err);
  cr_assert_eq (fx_write_ref (f.a, ref, 12 * CHUNK, CHUNK, &seed), 0);
  cr_assert_eq (raid_grow_bitmap (f.a, REGION, err, sizeof err), 0, "add: %s", err);
  cr_assert_eq (fx_write_ref (f.a, ref, 20 * CHUNK, CHUNK, &seed), 0);
  if (restart)
    reassemble (&f, "restarted without e2.1");
  raid_mem_member_set_down (f.mm[1], 0);
  cr_assert_eq (raid_add_member (f.a, &back, err, sizeof err), 0, "add: %s", err);
  cr_expect_str_eq (err, "added e2.1 as a spare", "%s", err);
  raid_mem_member_stats (f.mm[1], &ms, 1);
  cr_assert_eq (raid_recover (f.a), 0);
  raid_mem_member_stats (f.mm[1], &ms, 0);
  cr_assert (ms.write_bytes >= DATA * 3 / 4, "%s%s: a full rebuild wrote %llu bytes only",
             mirror ? "raid1" : "raid5", restart ? ", restarted" : "",
             (unsigned long long) ms.write_bytes);
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after the member came back");
  expect_consistent (&f, "after the member came back");
  fx_free (&f);
  free (ref);
}

Test (grow_bitmap, removed_and_added_while_away_the_return_is_a_full_rebuild)
{
  for (int mirror = 0; mirror < 2; mirror++)
    for (int restart = 0; restart < 2; restart++)
      removed_and_added_while_away (mirror, restart);
}

/* A member that comes back during the change: e2.1 is added back (a re-add, waiting as a
 * spare for the recovery to take it) and the recovery is asked to start while the bitmap
 * is being removed (at the first flush after the superblocks without it: the change lets
 * go of sb_lock there).  It must not start until the change has ended: it would rebuild
 * from the bitmap the change frees under it.  The recovery runs in a thread of its own
 * (it takes the bitmap's lock, which the change holds, at its end); the hook waits until
 * it either returned or took the slot. */
struct return_during {
  struct fx *f;
  pthread_t thread;
  atomic_int started, returned, rc;
  int fired;
};

static void *
recover_main (void *opaque)
{
  struct return_during *r = opaque;

  atomic_store (&r->rc, raid_recover (r->f->a));
  atomic_store (&r->returned, 1);
  return NULL;
}

static void
return_during_drop (void *opaque, enum raid_io_op op, uint64_t offset, uint32_t len)
{
  struct return_during *r = opaque;

  (void) offset;
  (void) len;
  if (r->fired || op != RAID_IO_FLUSH || r->f->a->sb.bitmap_offset)
    return;
  if (pthread_mutex_trylock (&r->f->a->sb_lock))   /* the superblocks' own flush */
    return;
  pthread_mutex_unlock (&r->f->a->sb_lock);
  r->fired = 1;
  cr_assert_eq (pthread_create (&r->thread, NULL, recover_main, r), 0);
  atomic_store (&r->started, 1);
  while (!atomic_load (&r->returned) && !atomic_load (&r->f->a->slot[1].recovering))
    sched_yield ();
}

Test (grow_bitmap, a_member_back_during_the_change_waits_for_its_end, .timeout = 60)
{
  uint64_t seed = 97;
  struct fx f;
  char err[256] = "";
  uint8_t *ref = setup (&f, 0, REGION, &seed);
  struct raid_member back = raid_mem_member (f.mm[1]);
  struct return_during r = { .f = &f };

  raid_mem_member_set_down (f.mm[1], 1);
  cr_assert_eq (fx_write_ref (f.a, ref, 5 * CHUNK, CHUNK, &seed), 0);
  raid_mem_member_set_down (f.mm[1], 0);
  cr_assert_eq (raid_add_member (f.a, &back, err, sizeof err), 0, "add: %s", err);
  cr_assert (strstr (err, "re-adding e2.1"), "%s", err);
  raid_mem_member_hook (f.mm[0], return_during_drop, &r);
  cr_assert_eq (raid_grow_bitmap (f.a, 0, err, sizeof err), 0, "remove: %s", err);
  raid_mem_member_hook (f.mm[0], NULL, NULL);
  cr_assert (r.started, "no flush after the superblocks without the bitmap");
  pthread_join (r.thread, NULL);
  cr_assert (atomic_load (&r.returned));
  cr_assert_eq (atomic_load (&r.rc), -EAGAIN, "the recovery ran during the change: %d",
                atomic_load (&r.rc));
  cr_assert_eq (raid_recover (f.a), 0, "the recovery after the change");
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after the member came back");
  expect_consistent (&f, "after the member came back");
  fx_free (&f);
  free (ref);
}

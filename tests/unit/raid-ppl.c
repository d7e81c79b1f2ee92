/* The partial parity log (raid/ppl.c): a crash that tears a stripe's write (data on
 * one member, parity not, or the other way), then a start without a member whose
 * column no write touched (a dirty degraded start): its bytes must come back as they
 * were.  Tears are made on in-memory members by putting back a member's bytes as they
 * were before the write, and by power cuts at every I/O of a write. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/resource.h>

#include <criterion/criterion.h>
#include <isa-l/crc.h>

#include "raid-test.h"
#include "raid-int.h"

#define CHUNK (16u * 1024)
#define N 4                             /* raid5 of 4: 3 data columns and parity */
#define K 3

static struct raid_array *
create5 (struct fx *f, unsigned flags)
{
  fx_members (f, N, FX_MEMBER_SIZE);
  return fx_create_on (f, RAID_LEVEL_5, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN | flags);
}

/* A new raid5 of 4 (FLAGS), written all over with random bytes from SEED: their copy, the
 * reference; in *OLD (when not NULL) a second copy, the bytes before a test's write. */
static uint8_t *
create_filled (struct fx *f, unsigned flags, uint64_t seed, uint8_t **old)
{
  uint8_t *ref;

  create5 (f, flags);
  ref = fx_fill (f->a, &seed);
  if (old) {
    *old = malloc (raid_size (f->a));
    cr_assert_not_null (*old);
    memcpy (*old, ref, raid_size (f->a));
  }
  return ref;
}

static unsigned
col_dev (uint64_t stripe, unsigned col)
{
  return col < K ? ref_data_dev (N, 1, stripe, col) : ref_parity_dev (N, 1, stripe, 0);
}

/* The host dies: the superblocks keep saying dirty. */
static void
crash (struct fx *f)
{
  int64_t power = 0;

  for (unsigned i = 0; i < f->n; i++)
    raid_mem_member_power (f->mm[i], &power);
  fx_close (f);
  for (unsigned i = 0; i < f->n; i++)
    raid_mem_member_power (f->mm[i], NULL);
}

/* Start from every member but MISSING; NULL with err filled when refused. */
static struct raid_array *
assemble_without (struct fx *f, unsigned missing, unsigned flags, char *err, size_t errlen)
{
  struct raid_member m[RAID_MAX_MEMBERS];
  unsigned n = 0;

  for (unsigned i = 0; i < f->n; i++)
    if (i != missing)
      m[n++] = f->mem[i];
  f->a = raid_assemble (m, n, flags, fx_log, f, err, errlen);
  return f->a;
}

/* The host dies, and the array starts again from every member but MISSING: dirty and
 * degraded, which the log must let start without force. */
static void
restart_without (struct fx *f, unsigned missing)
{
  char err[512] = "";

  crash (f);
  cr_assert_not_null (assemble_without (f, missing, 0, err, sizeof err), "%s", err);
}

/* Write LEN random bytes at array offset OFF (also into REF), the data of the members
 * in DEVS (a bit each) put back as it was before: the write torn on them. */
static void
torn_write (struct fx *f, uint8_t *ref, uint64_t off, uint32_t len, uint64_t seed, unsigned devs)
{
  uint8_t *before[N];
  uint64_t data = FX_MEMBER_SIZE - RAID_DATA_OFFSET;

  for (unsigned d = 0; d < N; d++) {
    before[d] = malloc (data);
    memcpy (before[d], raid_mem_member_data (f->mm[d]) + RAID_DATA_OFFSET, data);
  }
  cr_assert_eq (fx_write_ref (f->a, ref, off, len, &seed), 0, "the write failed");
  for (unsigned d = 0; d < N; d++) {
    if (devs >> d & 1)
      memcpy (raid_mem_member_data (f->mm[d]) + RAID_DATA_OFFSET, before[d], data);
    free (before[d]);
  }
}

/* The array must read OLD outside [off, off + len); inside, each sector old or new (REF)
 * unless WRITTEN_MISSING: a column the write covered is gone, and its rows there are
 * undefined (md's too: the write never ended). */
static void
expect_around (struct fx *f, const uint8_t *ref, const uint8_t *old, uint64_t off, uint64_t len,
               int written_missing, const char *when)
{
  uint64_t size = raid_size (f->a);
  uint8_t *got = malloc (size);

  cr_assert_eq (raid_read (f->a, got, size, 0), 0, "%s: read failed", when);
  cr_assert (!memcmp (got, old, off), "%s: bytes before the write changed", when);
  cr_assert (!memcmp (got + off + len, old + off + len, size - off - len),
             "%s: bytes after the write changed", when);
  if (!written_missing)
    fx_expect_data (f->a, ref, old, size, when);
  free (got);
}

/* The write at stripe 0, column 0, rows [4K, 8K): its parity does not reach the member;
 * then a start without column 1's member.  Column 1's bytes must be what they were. */
static void
parity_torn_then_degraded (unsigned flags, int expect_right)
{
  struct fx f;
  uint8_t *ref, *got = malloc (CHUNK);
  char err[512] = "";

  ref = create_filled (&f, flags, 11, NULL);
  torn_write (&f, ref, 4096, 4096, 99, 1u << col_dev (0, K));
  crash (&f);
  if (!assemble_without (&f, col_dev (0, 1), flags & RAID_CREATE_PPL ? 0 : RAID_ASSEMBLE_FORCE,
                         err, sizeof err))
    cr_assert_fail ("the dirty degraded start was refused: %s", err);
  cr_assert_eq (raid_read (f.a, got, CHUNK, CHUNK), 0);     /* column 1 of stripe 0 */
  if (expect_right)
    cr_assert (!memcmp (got, ref + CHUNK, CHUNK), "column 1, which no write touched, came "
               "back wrong from the torn stripe");
  else
    cr_assert (memcmp (got, ref + CHUNK, CHUNK), "without the log the torn stripe came back "
               "right: the test makes no tear");
  free (got);
  free (ref);
  fx_free (&f);
}

Test (ppl, without_the_log_a_torn_stripe_loses_a_column_no_write_touched)
{
  parity_torn_then_degraded (0, 0);
}

Test (ppl, a_torn_stripe_comes_back_whole_when_its_parity_missed_the_write)
{
  parity_torn_then_degraded (RAID_CREATE_PPL, 1);
}

Test (ppl, without_the_log_a_dirty_degraded_start_needs_force)
{
  struct fx f;
  char err[512] = "";

  free (create_filled (&f, 0, 1, NULL));
  crash (&f);
  cr_assert_null (assemble_without (&f, 1, 0, err, sizeof err));
  cr_assert (strstr (err, "write hole"), "refusal: %s", err);
  fx_free (&f);
}

/* A write to column 0 of stripe 0, rows [4K, 8K) (durable: the newest record left), then
 * one of the whole stripe 0 whose entry and parity the parity member's cache loses (its
 * entry goes with its data, so a crash can keep the data and lose the entry); REF takes
 * both, random from SEED. */
static void
full_stripe_entry_lost (struct fx *f, uint8_t *ref, uint64_t seed)
{
  unsigned x = col_dev (0, K);

  cr_assert_eq (fx_write_ref (f->a, ref, 4096, 4096, &seed), 0);
  cr_assert_eq (raid_mem_member_cache (f->mm[x], 1), 0);
  cr_assert_eq (fx_write_ref (f->a, ref, 0, K * CHUNK, &seed), 0);
  raid_mem_member_lose_cache (f->mm[x], 0, FX_MEMBER_SIZE);
}

/* Column 1 of stripe 0, which the torn write of crash_then_whole_start did not touch, read
 * back: 1 when it is what REF says. */
static int
column_1_right (struct fx *f, const uint8_t *ref)
{
  uint8_t *got = malloc (CHUNK);
  int right;

  cr_assert_eq (raid_read (f->a, got, CHUNK, CHUNK), 0, "reading column 1 failed");
  right = !memcmp (got, ref + CHUNK, CHUNK);
  free (got);
  return right;
}

/* A write of stripe 0's column 0 whose parity a crash tore, then a start with every
 * member: the resync after the crash is pending and marked so.  The array is left running. */
static uint8_t *
crash_then_whole_start (struct fx *f, unsigned flags)
{
  uint8_t *ref = create_filled (f, flags, 3, NULL);
  struct raid_status st;
  char err[512] = "";

  /* with the log the start replays a torn partial write: the tear it leaves is a
   * full-stripe write's whose entry a cache lost */
  if (flags & RAID_CREATE_PPL)
    full_stripe_entry_lost (f, ref, 8);
  else
    torn_write (f, ref, 4096, 4096, 97, 1u << col_dev (0, K));
  crash (f);
  cr_assert_not_null (fx_assemble (f, 0, err, sizeof err), "whole start: %s", err);
  raid_status (f->a, &st);
  cr_assert (raid_needs_resync (f->a), "no resync after the crash");
  cr_assert (st.resync_after_crash, "the resync after the crash is not marked so");
  return ref;
}

/* The crash's resync cut short by a clean stop, and a whole clean start that stops again
 * before it ran: a start without column 1's member is refused (md counts recovery_cp
 * short of MaxSector as dirty), naming the resync after a crash; with force it starts,
 * and column 1 comes back wrong from the torn parity (the hole the refusal guards). */
static void
crash_resync_cut_short_then_degraded (unsigned flags)
{
  struct fx f;
  uint8_t *ref = crash_then_whole_start (&f, flags);
  struct raid_sb_summary s;
  struct raid_status st;
  char err[512] = "";

  fx_close (&f);                                /* clean, the resync not run */
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "clean whole start: %s", err);
  raid_status (f.a, &st);
  cr_assert (st.resync_after_crash, "a clean start dropped the mark of the crash's resync");
  fx_close (&f);
  cr_assert_eq (raid_examine (&f.mem[0], &s), 0);
  cr_assert (s.clean && s.resync_after_crash && s.resync_offset != RAID_RESYNC_DONE,
             "examine: clean %d, after a crash %d", s.clean, s.resync_after_crash);
  cr_assert_null (assemble_without (&f, col_dev (0, 1), 0, err, sizeof err),
                  "a degraded start with the resync after a crash unfinished was not refused");
  cr_assert (strstr (err, "its resync after a crash did not end") && strstr (err, "force")
             && strstr (err, "slot 1 missing"), "refusal: %s", err);
  cr_assert_not_null (assemble_without (&f, col_dev (0, 1), RAID_ASSEMBLE_FORCE, err,
                                        sizeof err), "with force: %s", err);
  cr_assert (!column_1_right (&f, ref), "column 1 came back right: the test makes no tear");
  free (ref);
  fx_free (&f);
}

Test (ppl, a_degraded_start_before_the_resync_after_a_crash_ended_needs_force)
{
  crash_resync_cut_short_then_degraded (0);
}

/* With the log too: the whole start replayed the crash's entries and opened a new
 * generation, so a later clean start replays nothing; a full-stripe write whose entry a
 * cache lost is made right by that resync alone (design.md "Why the newest record"). */
Test (ppl, with_the_log_a_degraded_start_before_the_resync_after_a_crash_ended_needs_force)
{
  crash_resync_cut_short_then_degraded (RAID_CREATE_PPL);
}

/* With the log, a crash during the resync after an earlier crash: the log mends this
 * crash's stripes, not the earlier one's that the resync had not reached (its entries
 * were replayed and a new generation opened at the start in between), so the dirty
 * degraded start wants force too. */
Test (ppl, with_the_log_a_crash_during_the_resync_after_a_crash_needs_force_to_start_degraded)
{
  struct fx f;
  uint8_t *ref = crash_then_whole_start (&f, RAID_CREATE_PPL);
  char err[512] = "";

  crash (&f);
  cr_assert_null (assemble_without (&f, col_dev (0, 1), 0, err, sizeof err),
                  "a dirty degraded start during the resync after a crash was not refused");
  cr_assert (strstr (err, "its resync after a crash did not end"), "refusal: %s", err);
  cr_assert_not_null (assemble_without (&f, col_dev (0, 1), RAID_ASSEMBLE_FORCE, err,
                                        sizeof err), "with force: %s", err);
  cr_assert (!column_1_right (&f, ref), "column 1 came back right: the test makes no tear");
  free (ref);
  fx_free (&f);
}

/* A new array's first resync pending is no crash's: writes beyond the resync point
 * reconstruct their parity, so a start without a member is accepted without force (md
 * would refuse it; the integration tests start such arrays degraded) and every byte,
 * the missing member's too, reads back as written. */
Test (ppl, a_new_arrays_first_resync_pending_does_not_refuse_a_degraded_start)
{
  struct fx f;
  struct raid_status st;
  uint64_t seed = 5;
  uint8_t *ref, *got;
  char err[512] = "";

  fx_members (&f, N, FX_MEMBER_SIZE);
  fx_create_on (&f, RAID_LEVEL_5, 0, 0, CHUNK, 0);   /* its first resync to run */
  cr_assert (raid_needs_resync (f.a), "a new array without assume-clean has no resync");
  ref = fx_fill (f.a, &seed);
  fx_close (&f);                                      /* clean, the resync not run */
  cr_assert_not_null (assemble_without (&f, 1, 0, err, sizeof err),
                      "a degraded start before a new array's first resync was refused: %s", err);
  raid_status (f.a, &st);
  cr_assert (!st.resync_after_crash && st.resync_offset != RAID_RESYNC_DONE,
             "after a crash %d, resync at %llu", st.resync_after_crash,
             (unsigned long long) st.resync_offset);
  got = malloc (raid_size (f.a));
  cr_assert_eq (raid_read (f.a, got, raid_size (f.a), 0), 0);
  cr_assert (!memcmp (got, ref, raid_size (f.a)), "the degraded array reads wrong");
  free (got);
  free (ref);
  fx_free (&f);
}

/* Once the resync after the crash has ended the mark is gone, in memory and on every
 * member: a start without a member is accepted without force, and column 1 comes back
 * right from the parity the resync made again. */
Test (ppl, once_the_resync_after_a_crash_ended_a_degraded_start_needs_no_force)
{
  struct fx f;
  uint8_t *ref = crash_then_whole_start (&f, 0);
  struct raid_sb_summary s;
  struct raid_status st;
  char err[512] = "";

  cr_assert_eq (raid_resync (f.a), 0, "the resync failed");
  raid_status (f.a, &st);
  cr_assert (!st.resync_after_crash, "the mark outlived the resync");
  fx_close (&f);
  for (unsigned i = 0; i < N; i++) {
    cr_assert_eq (raid_examine (&f.mem[i], &s), 0);
    cr_assert (!s.resync_after_crash, "e%u.1 still says a resync after a crash", i + 1);
  }
  cr_assert_not_null (assemble_without (&f, col_dev (0, 1), 0, err, sizeof err),
                      "a degraded start after the resync ended was refused: %s", err);
  cr_assert (column_1_right (&f, ref), "column 1 came back wrong after the resync");
  free (ref);
  fx_free (&f);
}

/* Members with a write cache (a disk's, on): a write's entry is flushed on its parity
 * member before its data goes out, as md writes entries FUA (the parity member's trace
 * shows it; the flush after the write, for the entry's room, would hide its absence from
 * a loss after the write returned).  The parity member loses power: whatever it took since
 * its last flush is gone, while the data members kept the write; a start without a column
 * no write touched still reads it right.  Members without a cache (vblade's) are sent no
 * flush for the entries. */
/* In the trace of member P: a flush between its last log entry write and its first write
 * of data or parity after it. */
static void
entry_flushed_before_parity (struct fx *f, unsigned p)
{
  struct raid_mem_op ops[1024];
  unsigned n = raid_mem_member_trace (f->mm[p], ops, 1024), entry = n, flush = n;
  uint64_t log_lo = f->a->ppl.log_offset, log_hi = log_lo + f->a->ppl.log_size;

  for (unsigned j = 0; j < n; j++) {
    if (ops[j].op == RAID_IO_WRITE && ops[j].offset >= log_lo && ops[j].offset < log_hi)
      entry = j, flush = n;
    else if (ops[j].op == RAID_IO_FLUSH && entry < n && flush == n)
      flush = j;
    else if (ops[j].op == RAID_IO_WRITE && ops[j].offset >= log_hi && entry < n) {
      cr_assert (flush < j, "the parity (I/O %u) went out after the entry (I/O %u) with no "
                 "flush between", j, entry);
      return;
    }
  }
  cr_assert_fail ("no entry, then parity, in member %u's %u I/Os", p, n);
}

Test (ppl, an_entry_is_durable_before_its_data_on_members_with_a_cache)
{
  struct fx f;
  struct raid_mem_stats st;
  uint8_t *ref, *got = malloc (CHUNK);
  uint64_t seed = 14;
  unsigned parity = col_dev (0, K);

  ref = create_filled (&f, RAID_CREATE_PPL, seed, NULL);
  /* stripe 1: no flush where no cache */
  raid_mem_member_stats (f.mm[col_dev (1, K)], NULL, 1);
  cr_assert_eq (fx_write_ref (f.a, ref, K * CHUNK + 4096, 4096, &seed), 0);
  raid_mem_member_stats (f.mm[col_dev (1, K)], &st, 0);
  cr_assert_eq (st.flushes, 0, "a member without a cache was flushed %llu times",
                (unsigned long long) st.flushes);

  /* column 2 (the older entry: it alone would make stripe 0's parity from column 0's old
   * bytes), then the caches, then column 0 */
  cr_assert_eq (fx_write_ref (f.a, ref, 2 * CHUNK + 4096, 4096, &seed), 0);
  for (unsigned i = 0; i < f.n; i++)
    cr_assert_eq (raid_mem_member_cache (f.mm[i], 1), 0);
  raid_mem_member_stats (f.mm[parity], NULL, 1);
  cr_assert_eq (fx_write_ref (f.a, ref, 4096, 4096, &seed), 0);     /* column 0, rows 4K.. */
  entry_flushed_before_parity (&f, parity);
  raid_mem_member_lose_cache (f.mm[parity], 0, FX_MEMBER_SIZE);
  restart_without (&f, col_dev (0, 1));
  cr_assert_eq (raid_read (f.a, got, CHUNK, CHUNK), 0);     /* column 1 of stripe 0 */
  cr_assert (!memcmp (got, ref + CHUNK, CHUNK), "column 1, which no write touched, came back "
             "wrong: the entry was lost with the parity member's cache");
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after the replay");
  free (got);
  free (ref);
  fx_free (&f);
}

/* The data column missed the write, the parity took it: the column reads its old bytes
 * (the write never ended), every other one is right. */
Test (ppl, a_torn_stripe_comes_back_whole_when_its_data_missed_the_write)
{
  struct fx f;
  uint64_t seed = 12;
  uint8_t *ref, *old;

  ref = create_filled (&f, RAID_CREATE_PPL, seed, &old);
  torn_write (&f, ref, 2 * CHUNK + 8192, 8192, 98, 1u << col_dev (0, 2));  /* column 2, rows 8K.. */
  memcpy (ref + 2 * CHUNK + 8192, old + 2 * CHUNK + 8192, 8192);    /* it keeps its old bytes */
  restart_without (&f, col_dev (0, 0));
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after the replay");
  cr_assert (strstr (f.last_warning, "partial parity log replayed"), "warning: %s",
             f.last_warning);
  free (old);
  free (ref);
  fx_free (&f);
}

/* A write across two stripes, columns partly written, both parities torn: without any
 * member in turn, every row of every column it left alone comes back. */
Test (ppl, a_write_across_stripes_torn_everywhere_loses_nothing_it_left_alone)
{
  /* stripe 0 column 2 from row 4K to stripe 1 column 1 row 4K */
  uint64_t off = 2 * CHUNK + 4096, len = 2 * CHUNK;
  unsigned written = 1u << col_dev (0, 2) | 1u << col_dev (1, 0) | 1u << col_dev (1, 1);

  for (unsigned missing = 0; missing < N; missing++) {
    struct fx f;
    uint64_t seed = 13;
    uint8_t *ref, *old;

    ref = create_filled (&f, RAID_CREATE_PPL, seed, &old);
    torn_write (&f, ref, off, (uint32_t) len, 97, 1u << col_dev (0, K) | 1u << col_dev (1, K));
    restart_without (&f, missing);
    expect_around (&f, ref, old, off, len, written >> missing & 1, "after the replay");
    free (old);
    free (ref);
    fx_free (&f);
  }
}

/* A power cut at every I/O of a partial write (the log entry, the reads, the data, the
 * parity), then a start without each member in turn: no byte outside the write moves. */
Test (ppl, a_power_cut_at_any_point_of_a_write_loses_nothing_it_left_alone)
{
  for (int64_t cut = 0; cut < 12; cut++)
    for (unsigned missing = 0; missing < N; missing++) {
      struct fx f;
      uint64_t seed = 14, off = CHUNK + 4096, s2 = 5;
      uint32_t len = 8192;
      uint8_t *ref, *old;
      int64_t power = cut;
      char err[512] = "";

      ref = create_filled (&f, RAID_CREATE_PPL, seed, &old);
      for (unsigned i = 0; i < N; i++)
        raid_mem_member_power (f.mm[i], &power);
      fx_write_ref (f.a, ref, off, len, &s2);    /* may fail: the power went */
      for (unsigned i = 0; i < N; i++)
        raid_mem_member_power (f.mm[i], NULL);
      crash (&f);
      if (!assemble_without (&f, missing, 0, err, sizeof err))
        cr_assert_fail ("cut %lld, missing %u: %s", (long long) cut, missing, err);
      expect_around (&f, ref, old, off, len, missing == col_dev (0, 1), "after the cut");
      free (old);
      free (ref);
      fx_free (&f);
    }
}

/* A partial write, then a full-stripe one over the same stripe, both ended: the first
 * one's entry must not be replayed over the second (the full write logs too). */
Test (ppl, a_full_stripe_write_supersedes_an_older_partial_one)
{
  struct fx f;
  uint64_t seed = 15, s2 = 6;
  uint8_t *ref;

  ref = create_filled (&f, RAID_CREATE_PPL, seed, NULL);
  cr_assert_eq (fx_write_ref (f.a, ref, 0, 4096, &s2), 0);
  cr_assert_eq (fx_write_ref (f.a, ref, 0, K * CHUNK, &s2), 0);     /* over it: all ref says */
  restart_without (&f, col_dev (0, 1));
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after a full write over a partial one");
  free (ref);
  fx_free (&f);
}

/* A full-stripe write sends its entry with its data, so a crash can keep the data and
 * lose the entry (here from the parity member's cache): the newest record left is an
 * older partial one, which makes its own rows only.  The write never ended, so a column missing at a dirty start may be
 * anything there (the write covered it); a whole dirty start must leave parity that
 * matches what it reads, which its resync does (md skips the resync with its log, but
 * writes a full stripe's entry before its data): without it a member lost later brings
 * back bytes no write made. */
Test (ppl, a_full_stripe_write_whose_entry_a_cache_lost_leaves_parity_matching_its_data)
{
  struct fx f;
  uint64_t seed = 19;
  uint8_t *ref, *got = malloc (CHUNK);
  unsigned z = col_dev (0, 1);
  char err[512] = "";

  ref = create_filled (&f, RAID_CREATE_PPL, seed, NULL);
  full_stripe_entry_lost (&f, ref, 8);
  crash (&f);
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after the dirty start");
  cr_assert_eq (raid_resync (f.a), 0);            /* the plugin's, in its own thread */
  fx_close (&f);
  cr_assert_not_null (assemble_without (&f, z, 0, err, sizeof err), "%s", err);
  cr_assert_eq (raid_read (f.a, got, CHUNK, CHUNK), 0);          /* column 1, rebuilt */
  cr_assert (!memcmp (got, ref + CHUNK, CHUNK), "column 1 of stripe 0, rebuilt from parity, "
             "is not what the dirty start read there: the full-stripe write's entry, sent with "
             "its data, was lost, and nothing made its parity again");
  free (got);
  free (ref);
  fx_free (&f);
}

/* The number of stripes the last replay made again, from its warning (0: none). */
static unsigned
stripes_replayed (const struct fx *f)
{
  const char *w = strstr (f->last_warning, "the parity of ");
  return w ? (unsigned) strtoul (w + strlen ("the parity of "), NULL, 10) : 0;
}

/* A dirty start makes again only the stripes of writes that may not have ended: each
 * header says below which position of its ring every write ended and is durable, so
 * what is left is each ring's last entry.  Without that, every stripe whose entry a
 * ring still held was made again: here all 64, each written once; on real shelves, a
 * ring of full-stripe entries, gigabytes read. */
Test (ppl, a_dirty_start_replays_only_the_writes_that_may_not_have_ended)
{
  for (int full = 0; full < 2; full++) {
    struct fx f;
    uint64_t seed = 21, stripe = (uint64_t) K * CHUNK, rows = 64;
    uint8_t *ref;
    char err[512] = "";

    fx_members (&f, N, RAID_DATA_OFFSET + rows * CHUNK);
    fx_create_on (&f, RAID_LEVEL_5, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_PPL);
    ref = fx_fill (f.a, &seed);
    for (unsigned w = 0; w < rows; w++)
      cr_assert_eq (fx_write_ref (f.a, ref, w * stripe + (full ? 0 : 4096),
                                  full ? (uint32_t) stripe : 8192, &seed), 0);
    crash (&f);
    cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
    cr_assert (stripes_replayed (&f) <= N, "%s writes: the replay made again %u stripes, "
               "more than a ring's last entry each: %s", full ? "full-stripe" : "partial",
               stripes_replayed (&f), f.last_warning);
    fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after the replay");
    free (ref);
    fx_free (&f);
  }
}

/* Many writes wrap the rings (each about twice); every newest entry is replayed: the
 * array must read what was written, without any member in turn. */
Test (ppl, entries_of_writes_that_ended_replay_right_after_the_rings_wrap)
{
  for (unsigned missing = 0; missing < N; missing++) {
    struct fx f;
    uint64_t seed = 16, s2 = 7 + missing;
    uint8_t *ref;

    ref = create_filled (&f, RAID_CREATE_PPL, seed, NULL);
    for (unsigned w = 0; w < 600; w++) {
      uint32_t len = 4096 * (1 + (uint32_t) (rnd (&s2) % 3));
      uint64_t off = (rnd (&s2) % ((raid_size (f.a) - len) / 4096)) * 4096;
      cr_assert_eq (fx_write_ref (f.a, ref, off, len, &s2), 0);
    }
    restart_without (&f, missing);
    fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after 600 writes and a crash");
    free (ref);
    fx_free (&f);
  }
}

/* Stripe 0's parity member fails; a write to stripe 0 while it is out is not logged on
 * it; it comes back (recovery from the bitmap).  Its old entry of stripe 0 must never be
 * replayed: a crash, then a start without a column both writes left alone. */
Test (ppl, a_member_back_in_its_slot_never_replays_its_old_entries)
{
  struct fx f;
  uint64_t seed = 17, s2 = 8;
  unsigned pdev = col_dev (0, K);
  uint8_t *ref;
  char err[512] = "", name[16];

  ref = create_filled (&f, RAID_CREATE_PPL, seed, NULL);
  cr_assert_eq (fx_write_ref (f.a, ref, 0, 4096, &s2), 0);         /* column 0: logged */
  snprintf (name, sizeof name, "e%u.1", pdev + 1);
  cr_assert_eq (raid_fail_member (f.a, name, err, sizeof err), 0, "%s", err);
  cr_assert_eq (fx_write_ref (f.a, ref, CHUNK, 4096, &s2), 0);     /* column 1: parity is out */
  cr_assert_eq (raid_add_member (f.a, &f.mem[pdev], err, sizeof err), 0, "%s", err);
  fx_recover_writes (f.a, f.mm[pdev]);
  restart_without (&f, col_dev (0, 2));
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after the member came back and a crash");
  free (ref);
  fx_free (&f);
}

/* md's --grow --consistency-policy=ppl on a running array, and back. */
Test (ppl, the_policy_switches_on_a_running_array_and_is_kept)
{
  struct fx f;
  struct raid_status st;
  struct raid_sb_summary sum;
  uint64_t seed = 18;
  uint8_t *ref;
  char err[512] = "";

  ref = create_filled (&f, 0, seed, NULL);
  raid_status (f.a, &st);
  cr_assert_eq (st.ppl, 0);
  cr_assert_eq (raid_set_ppl (f.a, 1, err, sizeof err), 0, "%s", err);
  raid_status (f.a, &st);
  cr_assert (st.ppl && st.ppl_log_bytes == RAID_DATA_OFFSET - RAID_META_END,
             "ppl %d, %llu bytes", st.ppl, (unsigned long long) st.ppl_log_bytes);
  cr_assert_eq (raid_examine (&f.mem[0], &sum), 0);
  cr_assert (sum.ppl, "the superblock does not say ppl");
  torn_write (&f, ref, 4096, 4096, 55, 1u << col_dev (0, K));
  restart_without (&f, col_dev (0, 1));
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "switched on, torn, degraded");
  cr_assert_eq (raid_set_ppl (f.a, 0, err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_examine (&f.mem[0], &sum), 0);
  cr_assert (!sum.ppl, "the superblock still says ppl");
  free (ref);
  fx_free (&f);
}

Test (ppl, raid6_and_a_grow_are_refused_with_a_reason)
{
  struct fx f;
  struct raid_params p = { .level = RAID_LEVEL_6, .chunk_bytes = CHUNK, .flags = RAID_CREATE_PPL };
  const char *names[] = { "e5.1" };
  char err[512] = "";

  fx_members (&f, N, FX_MEMBER_SIZE);
  cr_assert_null (raid_create (&p, f.mem, N, fx_log, &f, err, sizeof err));
  cr_assert (strstr (err, "raid5 only"), "raid6 refusal: %s", err);
  fx_free (&f);

  create5 (&f, RAID_CREATE_PPL);
  cr_assert_neq (raid_grow (f.a, names, 1, RAID_LEVEL_5, err, sizeof err), 0);
  cr_assert (strstr (err, "partial parity log"), "grow refusal: %s", err);
  fx_free (&f);
}

/* A bigger chunk gets a bigger ring: the data starts past it. */
Test (ppl, a_new_array_leaves_room_for_the_ring)
{
  struct fx f;
  struct raid_sb_summary sum;
  uint32_t chunk = 512 * 1024;

  fx_members (&f, N, 8u << 20);
  fx_create_on (&f, RAID_LEVEL_5, 0, 0, chunk, RAID_CREATE_PPL);
  cr_assert_eq (raid_examine (&f.mem[0], &sum), 0);
  cr_assert (sum.ppl && sum.data_offset >= RAID_META_END + ppl_ring_needs (chunk),
             "data at %llu", (unsigned long long) sum.data_offset);
  fx_free (&f);
}

/* A ring of 128 KiB for 64 KiB chunks (the least a start takes is a chunk and a header):
 * a write whose entries would take more than half of it goes in halves. */
#define SMALL_CHUNK (64u * 1024)
#define SMALL_MEMBER (RAID_META_END + 128 * 1024 + 64 * SMALL_CHUNK)

static uint8_t *
create_small_ring (struct fx *f, uint64_t seed)
{
  struct raid_params p = { .level = RAID_LEVEL_5, .chunk_bytes = SMALL_CHUNK, .name = "small",
                           .flags = RAID_CREATE_PPL | RAID_CREATE_ASSUME_CLEAN,
                           .data_offset = RAID_META_END + 128 * 1024 };
  struct raid_status st;
  char err[256] = "";

  fx_members (f, N, SMALL_MEMBER);
  f->a = raid_create (&p, f->mem, N, fx_log, f, err, sizeof err);
  cr_assert_not_null (f->a, "raid_create: %s", err);
  raid_status (f->a, &st);
  cr_assert_eq (st.ppl_log_bytes, 128 * 1024);
  return fx_fill (f->a, &seed);
}

/* Member bytes of the array's stripe S parity, for a tear. */
static uint8_t *
parity_at (struct fx *f, uint64_t stripe)
{
  return raid_mem_member_data (f->mm[col_dev (stripe, K)]) + RAID_META_END + 128 * 1024
         + stripe * SMALL_CHUNK;
}

/* Members with a write cache: a logged write keeps its entry's room in the ring until a
 * flush has made it durable on every member it wrote (md's ppl_do_flush), or a later
 * entry could overwrite the only record of a write still in a cache.  The write is
 * acknowledged first: the flush waits for a writer that needs the room, one for all the
 * writes whose room it gives back.  Here stripe 0's write on Y is followed by a ring's
 * worth of writes on Z with their entries on X, Y's own parity member: the last one
 * takes stripe 0's room.  Then Y loses what its cache held and the array starts without
 * Z: Z's column of stripe 0, which no write touched, must read as it was.  CLIENT_FLUSH:
 * a client's flush right after the first write, which is a room flush too: the last
 * write then needs none. */
static void
room_after_a_ring_of_writes (int client_flush)
{
  struct fx f;
  uint64_t seed = 15, stripe_bytes = (uint64_t) K * SMALL_CHUNK, same_parity = N * stripe_bytes;
  uint8_t *ref = create_small_ring (&f, seed), buf[4096], more[12288];
  unsigned y = col_dev (0, 0), z = col_dev (0, 1), x = col_dev (0, K);
  /* each of the later writes on a stripe of its own (a second write to a stripe whose
   * first is still in a cache has its own room flush), its entry 16 KiB: the last takes
   * the first write's room */
  unsigned ring_entries = (128 * 1024 - (PPL_HEADER + sizeof buf) + PPL_HEADER + sizeof more - 1)
                          / (PPL_HEADER + sizeof more);
  struct raid_mem_stats st;

  for (unsigned i = 0; i < f.n; i++) {
    cr_assert_eq (raid_mem_member_cache (f.mm[i], 1), 0);
    raid_mem_member_stats (f.mm[i], NULL, 1);
  }
  cr_assert_eq (fx_write_ref (f.a, ref, 4096, sizeof buf, &seed), 0);
  raid_mem_member_stats (f.mm[y], &st, 0);
  cr_assert (st.flushes == 0 && raid_mem_member_cached (f.mm[y]),
             "the write waited for a flush of its data (%llu flushes)",
             (unsigned long long) st.flushes);
  if (client_flush)
    cr_assert_eq (raid_flush (f.a), 0);
  for (unsigned i = 0; i < ring_entries; i++) {      /* column 1 of stripes 4, 8, ... */
    uint64_t off = (1 + i) * same_parity + SMALL_CHUNK + 4096;
    cr_assert_eq (col_dev (off / stripe_bytes, K), x);
    cr_assert_eq (fx_write_ref (f.a, ref, off, sizeof more, &seed), 0);
  }
  raid_mem_member_stats (f.mm[y], &st, 0);
  cr_assert_eq (st.flushes, 1, "member %u: %llu flushes for the room of %u writes%s, not one",
                y, (unsigned long long) st.flushes, ring_entries + 1,
                client_flush ? " and a client's flush" : "");
  raid_mem_member_lose_cache (f.mm[y], 0, SMALL_MEMBER);
  crash (&f);
  char err[512] = "";
  cr_assert_not_null (assemble_without (&f, z, 0, err, sizeof err), "%s", err);
  uint8_t *got = malloc (SMALL_CHUNK);
  cr_assert_eq (raid_read (f.a, got, SMALL_CHUNK, SMALL_CHUNK), 0);
  cr_assert (!memcmp (got, ref + SMALL_CHUNK, SMALL_CHUNK), "column 1 of stripe 0, which no "
             "write touched, came back wrong: its entry was overwritten while its write "
             "sat in a cache");
  cr_assert_eq (raid_read (f.a, got, SMALL_CHUNK, 0), 0);
  cr_assert (!memcmp (got, ref, SMALL_CHUNK), "column 0 of stripe 0 lost its write");
  free (got);
  free (ref);
  fx_free (&f);
}

Test (ppl, a_logged_write_keeps_its_room_until_it_is_durable)
{
  room_after_a_ring_of_writes (0);
}

Test (ppl, a_clients_flush_gives_the_room_back_too)
{
  room_after_a_ring_of_writes (1);
}

/* A write's partial parity is the XOR of the columns it leaves over its rows, as the
 * host last wrote them; with a write cache, an earlier write to the stripe may still be
 * in a member's cache when a later one logs.  Stripe 0's column 0 is written at rows
 * [4K, 8K) (acknowledged, in Y's cache), then LATER (array offset, 4 KiB) in the same
 * stripe, not in column 1.  Y loses its cache (column 0 old again), the later entry
 * survives (its member flushed it before its data), and the array starts without Z:
 * Z's column 1, which no write touched, must still read as it was.  Over the same rows
 * the later pp holds column 0's new bytes; over other rows the replay takes the later
 * record alone, while the earlier write's rows keep its new parity (on a member flushed
 * since): either way the earlier write must be durable before the later entry goes out. */
static void
later_write_in_the_stripe (uint64_t later)
{
  struct fx f;
  uint64_t seed = 17;
  uint8_t *ref = create_small_ring (&f, seed), buf[4096];
  unsigned y = col_dev (0, 0), z = col_dev (0, 1);

  for (unsigned i = 0; i < f.n; i++)
    cr_assert_eq (raid_mem_member_cache (f.mm[i], 1), 0);
  fill_random (buf, sizeof buf, &seed);                      /* column 0, rows [4K, 8K) */
  cr_assert_eq (raid_write (f.a, buf, sizeof buf, 4096, 0), 0);
  cr_assert_eq (fx_write_ref (f.a, ref, later, sizeof buf, &seed), 0);
  raid_mem_member_lose_cache (f.mm[y], 0, SMALL_MEMBER);    /* column 0 reads old or new */
  crash (&f);
  char err[512] = "";
  cr_assert_not_null (assemble_without (&f, z, 0, err, sizeof err), "%s", err);
  uint8_t *got = malloc (SMALL_CHUNK);
  cr_assert_eq (raid_read (f.a, got, SMALL_CHUNK, SMALL_CHUNK), 0);
  cr_assert (!memcmp (got, ref + SMALL_CHUNK, SMALL_CHUNK), "column 1 of stripe 0, which no "
             "write touched, came back wrong after a write at %llu: the earlier write's "
             "column 0 bytes, lost from its member's cache, were still counted in parity",
             (unsigned long long) later);
  free (got);
  free (ref);
  fx_free (&f);
}

Test (ppl, a_later_write_over_the_same_rows_logs_after_the_earlier_one_is_durable)
{
  later_write_in_the_stripe (2 * SMALL_CHUNK + 4096);        /* column 2, the same rows */
}

Test (ppl, a_later_write_over_other_rows_logs_after_the_earlier_one_is_durable)
{
  later_write_in_the_stripe (2 * SMALL_CHUNK + 8192);        /* column 2, the next rows */
  later_write_in_the_stripe (8192);                          /* column 0, the next rows */
}

/* A check repair's rewrite under the log, on members with a write cache: its record
 * (the whole stripe, the data makes the parity) keeps its room like a write's until the
 * new parity is durable.  Column 2 of stripe 0 rots; the repair puts stripe 0's new
 * parity in X's cache; then a ring's worth of full-stripe writes with their entries on X
 * (no flush of their own: a full-stripe entry goes with its data), the last one taking
 * the record's room.  X then loses stripe 0's parity from its cache (its entries had
 * reached the disk) and the array starts without Z: Z's column of stripe 0, which no
 * write touched, must read as it was. */
Test (ppl, a_repair_keeps_its_room_until_its_parity_is_durable)
{
  struct fx f;
  uint64_t seed = 16, stripe_bytes = (uint64_t) K * SMALL_CHUNK;
  uint8_t *ref = create_small_ring (&f, seed), *buf = malloc (stripe_bytes);
  unsigned z = col_dev (0, 1), x = col_dev (0, K), rot = col_dev (0, 2);
  unsigned ring_entries = 128 * 1024 / PPL_HEADER, same_parity = 64 / N - 1;
  uint64_t data = RAID_META_END + 128 * 1024;
  struct raid_mem_stats st;

  fill_random (buf, 4096, &seed);                            /* column 2 rots */
  memcpy (raid_mem_member_data (f.mm[rot]) + data, buf, 4096);
  memcpy (ref + 2 * SMALL_CHUNK, buf, 4096);
  for (unsigned i = 0; i < f.n; i++) {
    cr_assert_eq (raid_mem_member_cache (f.mm[i], 1), 0);
    raid_mem_member_stats (f.mm[i], NULL, 1);
  }
  cr_assert_eq (raid_check (f.a, RAID_CHECK_REPAIR), 0);
  raid_mem_member_stats (f.mm[x], &st, 0);
  cr_assert (st.flushes == 0 && raid_mem_member_cached (f.mm[x]),
             "the repair's parity is not in X's cache (%llu flushes)",
             (unsigned long long) st.flushes);
  for (unsigned i = 0; i < ring_entries; i++) {              /* stripes 4, 8, ... 60 */
    uint64_t off = (1 + i % same_parity) * N * stripe_bytes;
    cr_assert_eq (col_dev (off / stripe_bytes, K), x);
    cr_assert_eq (fx_write_ref (f.a, ref, off, (uint32_t) stripe_bytes, &seed), 0);
  }
  raid_mem_member_lose_cache (f.mm[x], data, SMALL_CHUNK);   /* stripe 0's parity */
  crash (&f);
  char err[512] = "";
  cr_assert_not_null (assemble_without (&f, z, 0, err, sizeof err), "%s", err);
  uint8_t *got = malloc (SMALL_CHUNK);
  cr_assert_eq (raid_read (f.a, got, SMALL_CHUNK, SMALL_CHUNK), 0);
  cr_assert (!memcmp (got, ref + SMALL_CHUNK, SMALL_CHUNK), "column 1 of stripe 0, which no "
             "write touched, came back wrong: the repair's record was overwritten while "
             "its parity sat in a cache");
  free (got);
  free (buf);
  free (ref);
  fx_free (&f);
}

/* A write spanning stripes logs before any of its data goes out when one of them is
 * partial; its full-stripe records then share an entry with that pp.  Stripe 0's column
 * 0 is written at rows [4K, 8K) (acknowledged, in Y's cache, its parity in X's), then a
 * write covers stripes 0 to 3 whole and the start of stripe 4 (X's too), in one go (a
 * ring of 256 KiB): its entries go out, and the power goes at their flush.  X's entry
 * is torn (a sector of its pp did not land): stale, its stripe 0 record claims the rows
 * and the older record is not replayed.  Y loses its cache (column 0 old again beside
 * the new parity) and the array starts without Z: Z's column 1 of stripe 0 (covered by
 * the write that never ended) must read old or new, never parity made from bytes no
 * member holds. */
struct power_cut { struct fx *f; unsigned x; int wrote; uint64_t x_at; int64_t power; };
struct cut_member { struct power_cut *cut; unsigned member; };

/* The power goes at the first flush after the write's first entry went out. */
static void
power_after_the_entries (void *opaque, enum raid_io_op op, uint64_t offset, uint32_t len)
{
  struct cut_member *m = opaque;
  struct power_cut *c = m->cut;

  if (op == RAID_IO_WRITE)
    c->wrote = 1;
  if (op == RAID_IO_WRITE && m->member == c->x && !c->x_at)
    c->x_at = offset + 1;                           /* X's entry */
  if (op == RAID_IO_FLUSH && c->wrote)
    for (unsigned i = 0; i < c->f->n; i++)
      raid_mem_member_power (c->f->mm[i], &c->power);
}

Test (ppl, a_torn_entry_of_a_full_stripe_record_leaves_no_older_write_in_a_cache)
{
  struct fx f;
  uint64_t seed = 18, stripe_bytes = (uint64_t) K * CHUNK, len = N * stripe_bytes + 4096;
  struct raid_params p = { .level = RAID_LEVEL_5, .chunk_bytes = CHUNK, .name = "ring",
                           .flags = RAID_CREATE_PPL | RAID_CREATE_ASSUME_CLEAN,
                           .data_offset = RAID_META_END + 256 * 1024 };
  uint64_t member = p.data_offset + 64 * CHUNK;
  char err[512] = "";

  fx_members (&f, N, member);
  f.a = raid_create (&p, f.mem, N, fx_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "raid_create: %s", err);
  uint8_t *ref = fx_fill (f.a, &seed), *old = malloc (raid_size (f.a));
  uint8_t *buf = malloc (len), *got = malloc (CHUNK);
  unsigned y = col_dev (0, 0), z = col_dev (0, 1), x = col_dev (0, K);
  struct power_cut cut = { .f = &f, .x = x };
  struct cut_member m[N];

  cr_assert_eq (col_dev (N, K), x);
  for (unsigned i = 0; i < f.n; i++)
    cr_assert_eq (raid_mem_member_cache (f.mm[i], 1), 0);
  cr_assert_eq (fx_write_ref (f.a, ref, 4096, 4096, &seed), 0);    /* column 0, rows [4K, 8K) */
  memcpy (old, ref, raid_size (f.a));
  fill_random (buf, (uint32_t) len, &seed);
  for (unsigned i = 0; i < N; i++) {
    m[i] = (struct cut_member) { &cut, i };
    raid_mem_member_hook (f.mm[i], power_after_the_entries, &m[i]);
  }
  raid_write (f.a, buf, (uint32_t) len, 0, 0);             /* fails: the power went */
  for (unsigned i = 0; i < N; i++) {
    raid_mem_member_hook (f.mm[i], NULL, NULL);
    raid_mem_member_power (f.mm[i], NULL);
  }
  cr_assert (cut.x_at, "the write sent no entry to X");
  uint64_t at = cut.x_at;
  memcpy (ref, buf, len);
  raid_mem_member_data (f.mm[x])[at - 1 + PPL_HEADER + 512] ^= 0xff;   /* torn */
  raid_mem_member_lose_cache (f.mm[y], 0, member);
  crash (&f);
  cr_assert_not_null (assemble_without (&f, z, 0, err, sizeof err), "%s", err);
  cr_assert_eq (raid_read (f.a, got, CHUNK, CHUNK), 0);     /* column 1 */
  for (uint32_t o = 0; o < CHUNK; o += 512)
    cr_assert (!memcmp (got + o, old + CHUNK + o, 512) || !memcmp (got + o, ref + CHUNK + o, 512),
               "column 1 of stripe 0 at row %u is neither old nor new: the older write's "
               "column 0, lost from a cache, was still counted in parity", o);
  free (got);
  free (buf);
  free (old);
  free (ref);
  fx_free (&f);
}

/* Stripes 1 and 5 share their parity member, and the write leaves part of each alone
 * over a whole chunk of rows: in one go their entry (a header and two chunks of pp) would
 * not fit the ring at all, and the writer would wait for room forever.  In halves, each
 * ends before the next begins: a crash can tear the last one only (stripe 5). */
Test (ppl, a_write_bigger_than_half_the_ring_goes_in_halves_and_replays_right, .timeout = 60)
{
  uint64_t stripe_bytes = (uint64_t) K * SMALL_CHUNK;
  uint64_t off = stripe_bytes + 4096, len = 4 * stripe_bytes + SMALL_CHUNK;
  uint64_t last = (off + len - 1) / stripe_bytes;

  for (unsigned missing = 0; missing < N; missing++) {
    struct fx f;
    uint64_t s2 = 9;
    uint8_t *ref = create_small_ring (&f, 20 + missing);
    uint8_t *old_parity = malloc (SMALL_CHUNK), *old = malloc (raid_size (f.a));
    /* a column the torn write covers, gone: its bytes there are undefined */
    int written_missing = missing == col_dev (last, 0) || missing == col_dev (last, 1);

    memcpy (old, ref, raid_size (f.a));
    memcpy (old_parity, parity_at (&f, last), SMALL_CHUNK);
    cr_assert_eq (fx_write_ref (f.a, ref, off, (uint32_t) len, &s2), 0);
    memcpy (parity_at (&f, last), old_parity, SMALL_CHUNK);    /* stripe 5 torn */
    restart_without (&f, missing);
    expect_around (&f, ref, old, off, len, written_missing, "a split write, its end torn");
    free (old);
    free (old_parity);
    free (ref);
    fx_free (&f);
  }
}

/* Writers on their own stripes, all at once, on a small ring: they wait for its room and
 * none for another's (with the members' caches on, half the runs: for a room flush too);
 * then a crash and every member missing in turn. */
#define WRITERS 4
struct ring_writer {
  struct raid_array *a;
  uint8_t *ref;
  unsigned id;
  uint64_t seed;
  int failed;
};

static void *
ring_writer_main (void *arg)
{
  struct ring_writer *w = arg;
  uint64_t stripe_bytes = (uint64_t) K * SMALL_CHUNK, stripes = raid_size (w->a) / stripe_bytes;

  for (unsigned i = 0; i < 150 && !w->failed; i++) {
    uint64_t s = (rnd (&w->seed) % (stripes / WRITERS)) * WRITERS + w->id;
    uint32_t len = 4096 * (1 + (uint32_t) (rnd (&w->seed) % (stripe_bytes / 4096)));
    uint64_t off = s * stripe_bytes + 4096 * (rnd (&w->seed) % ((stripe_bytes - len) / 4096 + 1));
    w->failed = fx_write_ref (w->a, w->ref, off, len, &w->seed) != 0;
  }
  return NULL;
}

Test (ppl, concurrent_writers_share_a_small_ring_and_replay_right)
{
  for (unsigned missing = 0; missing < N; missing++) {
    struct fx f;
    uint8_t *ref = create_small_ring (&f, 30 + missing);
    struct ring_writer w[WRITERS];
    pthread_t t[WRITERS];
    struct raid_mem_stats st;
    int cached = missing % 2;         /* then the room comes back by room flushes */

    for (unsigned i = 0; i < f.n; i++) {
      cr_assert_eq (raid_mem_member_cache (f.mm[i], cached), 0);
      raid_mem_member_stats (f.mm[i], NULL, 1);
    }
    for (unsigned i = 0; i < WRITERS; i++) {
      w[i] = (struct ring_writer) { .a = f.a, .ref = ref, .id = i, .seed = 40 + i + missing };
      cr_assert_eq (pthread_create (&t[i], NULL, ring_writer_main, &w[i]), 0);
    }
    for (unsigned i = 0; i < WRITERS; i++) {
      pthread_join (t[i], NULL);
      cr_assert (!w[i].failed, "writer %u: a write failed", i);
    }
    raid_mem_member_stats (f.mm[0], &st, 0);
    cr_assert (cached ? st.flushes > 0 : st.flushes == 0, "%llu flushes with caches %s",
               (unsigned long long) st.flushes, cached ? "on" : "off");
    restart_without (&f, missing);
    fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after concurrent writers and a crash");
    free (ref);
    fx_free (&f);
  }
}

/* Writers on members with a cache, each sector written once at most (of those a crash
 * may keep, old or new): a writer's stripes cut in runs of 1 to 8 pages, about half of
 * them written, in a random order.  Only stripes whose parity is on one member (the
 * first's): a partial write's entry flush reaches that member only, and the data
 * members keep what they took in the cache until a room flush. */
struct once_writer {
  struct raid_array *a;
  uint8_t *want, *old;                  /* this writer's runs: written (new) or not (old) */
  unsigned id;
  uint64_t seed;
  int failed;
};

static void *
once_writer_main (void *arg)
{
  struct once_writer *w = arg;
  uint64_t stripe_bytes = (uint64_t) K * SMALL_CHUNK, stripes = raid_size (w->a) / stripe_bytes;
  unsigned pages = (unsigned) (stripe_bytes / 4096), n = 0;
  struct { uint64_t off; uint32_t len; } *run = malloc (stripes * pages * sizeof *run), t;

  for (uint64_t s = w->id * N; s < stripes; s += WRITERS * N)
    for (unsigned p = 0; p < pages;) {
      unsigned len = 1 + (unsigned) (rnd (&w->seed) % 8);
      uint64_t off = s * stripe_bytes + (uint64_t) p * 4096;
      len = len < pages - p ? len : pages - p;
      if (rnd (&w->seed) % 2)
        run[n++] = (typeof (t)) { off, len * 4096 };
      else
        memcpy (w->want + off, w->old + off, len * 4096);   /* left alone */
      p += len;
    }
  for (unsigned i = n; i > 1; i--) {
    unsigned j = (unsigned) (rnd (&w->seed) % i);
    t = run[i - 1], run[i - 1] = run[j], run[j] = t;
  }
  for (unsigned i = 0; i < n && !w->failed; i++)
    w->failed = raid_write (w->a, w->want + run[i].off, run[i].len, run[i].off, 0) != 0;
  free (run);
  return NULL;
}

/* Concurrent writers on members with a cache and no flush from the host: the room of
 * their entries comes back by room flushes only.  Then the host dies, every member
 * loses its power (a random part of what its cache held kept) and the array starts
 * without each member in turn.  A sector no write touched must read as it was (the
 * write hole: an entry overwritten while its write sat in a cache brings a stripe back
 * wrong); a written one its bytes or those before, but in the missing member's column
 * (anything: md's too). */
Test (ppl, concurrent_writers_on_cached_members_survive_a_power_loss, .timeout = 120)
{
  uint64_t stripe_bytes = (uint64_t) K * SMALL_CHUNK;

  for (unsigned run = 0; run < 2 * N; run++) {
    struct fx f;
    unsigned missing = run % N;
    uint64_t seed = 50 + run, size;
    uint8_t *old = create_small_ring (&f, seed), *want, *got;
    struct once_writer w[WRITERS];
    pthread_t t[WRITERS];
    char err[512] = "", when[128];

    size = raid_size (f.a);
    want = malloc (size);
    got = malloc (size);
    seed += 1000;                     /* create_small_ring drew the old bytes from SEED */
    fill_random (want, size, &seed);
    for (uint64_t s = 0; s < size / stripe_bytes; s++)     /* stripes no writer takes */
      if (s % N)
        memcpy (want + s * stripe_bytes, old + s * stripe_bytes, stripe_bytes);
    for (unsigned i = 0; i < f.n; i++)
      cr_assert_eq (raid_mem_member_cache (f.mm[i], 1), 0);
    for (unsigned i = 0; i < WRITERS; i++) {
      w[i] = (struct once_writer) { .a = f.a, .want = want, .old = old, .id = i,
                                    .seed = 60 + i + run };
      cr_assert_eq (pthread_create (&t[i], NULL, once_writer_main, &w[i]), 0);
    }
    for (unsigned i = 0; i < WRITERS; i++) {
      pthread_join (t[i], NULL);
      cr_assert (!w[i].failed, "writer %u: a write failed", i);
    }
    crash (&f);
    for (unsigned i = 0; i < f.n; i++)
      raid_mem_member_power_loss (f.mm[i], &seed);
    cr_assert_not_null (assemble_without (&f, missing, 0, err, sizeof err), "%s", err);
    snprintf (when, sizeof when, "run %u, started without member %u", run, missing);
    cr_assert_eq (raid_read (f.a, got, size, 0), 0, "%s: read failed", when);
    for (uint64_t o = 0; o < size; o += 512) {
      uint64_t stripe = o / stripe_bytes;
      unsigned dev = col_dev (stripe, (unsigned) (o % stripe_bytes / SMALL_CHUNK));
      int written = memcmp (want + o, old + o, 512) != 0;
      if (memcmp (got + o, want + o, 512) && memcmp (got + o, old + o, 512)
          && !(written && dev == missing))
        cr_assert_fail ("%s: byte %llu (stripe %llu, member %u, %s) is neither old nor new",
                        when, (unsigned long long) o, (unsigned long long) stripe, dev,
                        written ? "written" : "no write touched it");
    }
    free (got);
    free (want);
    free (old);
    fx_free (&f);
  }
}

/* ---- a hostile log region ------------------------------------------------- */

/* An entry as ppl.c lays it out, written by hand into a member's ring: a header at ring
 * byte AT with NREC records of stripe STRIPE, each carrying pp of up to a chunk, over the
 * PP_BYTES that follow it (already in place: its crc is taken over them). */
static void
hand_entry (uint8_t *ring, uint64_t ring_bytes, uint64_t at, const uint8_t *uuid, uint64_t gen,
            unsigned slot, uint64_t stripe, uint32_t pp_bytes)
{
  uint8_t *h = ring + at, zero[4] = { 0 };
  unsigned nrec = 0;
  uint32_t c;

  cr_assert (at + PPL_HEADER + pp_bytes <= ring_bytes);
  memset (h, 0, PPL_HEADER);
  for (uint32_t used = 0; used < pp_bytes; nrec++) {
    uint8_t *r = h + 64 + nrec * 32;
    uint32_t len = pp_bytes - used < CHUNK ? pp_bytes - used : CHUNK;
    le_put64 (r, 0, stripe);
    le_put32 (r, 8, 0);
    le_put32 (r, 12, len);
    le_put32 (r, 16, 0);
    le_put32 (r, 20, len);
    r[24] = r[25] = 0;
    r[26] = 1;                          /* REC_PP */
    used += len;
  }
  cr_assert (nrec <= PPL_RECS);
  memcpy (h, "aoeppl\0", 8);
  le_put32 (h, 12, nrec);
  memcpy (h + 16, uuid, 16);
  le_put64 (h, 32, gen);
  le_put64 (h, 40, at);
  le_put32 (h, 48, slot);
  le_put32 (h, 52, pp_bytes);
  le_put32 (h, 56, crc32_iscsi (h + PPL_HEADER, (int) pp_bytes, 0xffffffff));
  c = crc32_iscsi (h, 8, 0xffffffff);
  c = crc32_iscsi (zero, 4, c);
  le_put32 (h, 8, crc32_iscsi (h + 12, PPL_HEADER - 12, c));
}

/* Entries nested in each other's pp, every crc good (a log region written by someone
 * else, or pp bytes that look like headers): together they claim far more pp than the
 * ring holds.  The replay must not copy more than the ring's room. */
Test (ppl, entries_that_claim_more_pp_than_the_ring_holds_are_not_copied_past_it)
{
  struct fx f;
  uint64_t seed = 19, gen, ring_bytes, log_offset;
  unsigned slot = col_dev (0, K);
  uint8_t uuid[16], *ring;
  char err[512] = "";

  create5 (&f, RAID_CREATE_PPL);
  free (fx_fill (f.a, &seed));
  gen = f.a->sb.ppl_gen;
  memcpy (uuid, f.a->sb.array_uuid, 16);
  ring_bytes = f.a->ppl.log_size;
  log_offset = f.a->ppl.log_offset;
  crash (&f);
  ring = raid_mem_member_data (f.mm[slot]) + log_offset;
  /* from the last page back: each entry's pp holds every entry after it */
  for (uint64_t at = ring_bytes - 2 * PPL_HEADER;; at -= PPL_HEADER) {
    uint32_t pp = (uint32_t) (ring_bytes - at - PPL_HEADER);
    if (pp / CHUNK < PPL_RECS)
      hand_entry (ring, ring_bytes, at, uuid, gen, slot, 0, pp);
    if (at == 0)
      break;
  }
  cr_assert_not_null (fx_assemble (&f, 1, err, sizeof err), "%s", err);
  fx_free (&f);
}

/* Give the hand-made entry at ring byte AT the sequence SEQ (its crc made again). */
static void
hand_entry_seq (uint8_t *ring, uint64_t at, uint64_t seq)
{
  uint8_t *h = ring + at, zero[4] = { 0 };
  uint32_t c;

  le_put64 (h, 40, seq);
  c = crc32_iscsi (h, 8, 0xffffffff);
  c = crc32_iscsi (zero, 4, c);
  le_put32 (h, 8, crc32_iscsi (h + 12, PPL_HEADER - 12, c));
}

/* A sound header where its sequence does not put it (no writer does: a header inside
 * another entry's pp, a copy of a ring stored on the array), claiming a sequence laps
 * ahead.  Trusted, it would tell ring_scan that every entry a ring behind it had ended
 * and drop the torn write's entry: column 1, which no write touched, would then come
 * back wrong from the stripe's stale parity on a start without it. */
Test (ppl, an_entry_not_where_its_sequence_puts_it_is_not_trusted)
{
  struct fx f;
  uint8_t *ref, *ring, *got = malloc (CHUNK), uuid[16];
  unsigned pdev = col_dev (0, K);
  uint64_t ring_bytes, head, at, gen;

  ref = create_filled (&f, RAID_CREATE_PPL, 31, NULL);
  torn_write (&f, ref, 4096, 4096, 98, 1u << pdev);
  ring = raid_mem_member_data (f.mm[pdev]) + f.a->ppl.log_offset;
  ring_bytes = f.a->ppl.log_size;
  head = f.a->ppl.ring[pdev].head;
  gen = f.a->sb.ppl_gen;
  memcpy (uuid, f.a->sb.array_uuid, 16);
  crash (&f);
  /* past the torn write's entry, of a stripe whose parity is on the same member */
  at = (head + 2 * PPL_HEADER) % ring_bytes;
  hand_entry (ring, ring_bytes, at, uuid, gen, pdev, N, 4096);
  hand_entry_seq (ring, at, at + 8 * ring_bytes + PPL_HEADER);
  restart_without (&f, col_dev (0, 1));
  cr_assert_eq (raid_read (f.a, got, CHUNK, CHUNK), 0);     /* column 1 of stripe 0 */
  cr_assert (!memcmp (got, ref + CHUNK, CHUNK), "column 1, which no write touched, came "
             "back wrong: the torn write's entry was dropped for a misplaced one");
  free (got);
  free (ref);
  fx_free (&f);
}

/* A crash without the log leaves a torn stripe that only the resync would mend; the log
 * switched on before that resync ended knows nothing of it.  A second crash must not let
 * the array start dirty and degraded without force, as if the log covered every stripe:
 * the switch waits for the resync. */
Test (ppl, the_policy_is_not_switched_on_over_a_resync_still_to_run)
{
  struct fx f;
  uint64_t seed = 20;
  uint8_t *ref, *got = malloc (CHUNK);
  char err[512] = "";
  int rc;

  create5 (&f, 0);
  ref = fx_fill (f.a, &seed);
  torn_write (&f, ref, 4096, 4096, 56, 1u << col_dev (0, K));     /* no log: the hole */
  crash (&f);
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  cr_assert (raid_needs_resync (f.a));
  rc = raid_set_ppl (f.a, 1, err, sizeof err);
  if (rc == 0) {
    crash (&f);
    if (assemble_without (&f, col_dev (0, 1), 0, err, sizeof err)) {
      cr_assert_eq (raid_read (f.a, got, CHUNK, CHUNK), 0);
      cr_assert (!memcmp (got, ref + CHUNK, CHUNK), "the log switched on over a pending "
                 "resync let a dirty degraded start read column 1, which no write touched, "
                 "wrong");
    }
  }
  else
    cr_assert (strstr (err, "resync"), "refusal: %s", err);
  free (got);
  free (ref);
  fx_free (&f);
}

struct late_write { struct raid_array *a; const uint8_t *buf; uint32_t len; uint64_t off; int rc; };

static void *
late_write_main (void *opaque)
{
  struct late_write *w = opaque;
  w->rc = raid_write (w->a, w->buf, w->len, w->off, 0);
  return NULL;
}

/* Stripe 0's parity member is down (not failed) when a write to stripe 0 decides what
 * to log, and up again when the write's parity goes out (here: while the entry of the
 * write's other stripe is slow).  Its parity must not land unlogged, the member still
 * in the array: the older entry of stripe 0 (column 0) would be replayed over it after a
 * crash, and column 1, which the write set and which ended, rebuilt from wrong parity. */
Test (ppl, a_parity_member_back_up_between_logging_and_writing_takes_no_unlogged_write)
{
  struct fx f;
  struct raid_status st;
  struct late_write w;
  uint64_t seed = 21, s2 = 9;
  unsigned pdev = col_dev (0, K), qdev = col_dev (1, K);
  const unsigned delay_us = 300 * 1000;
  uint8_t *ref, *late = malloc (4 * CHUNK);
  char err[512] = "";
  pthread_t t;

  create5 (&f, RAID_CREATE_PPL);
  ref = fx_fill (f.a, &seed);
  cr_assert_eq (fx_write_ref (f.a, ref, 0, 4096, &s2), 0);  /* stripe 0, column 0: logged */
  /* stripe 0 from column 0 row 12K (read-reconstruct: no parity read) to stripe 1
   * column 0 row 4K (logged on stripe 1's parity member, slow) */
  w = (struct late_write) { .a = f.a, .buf = late, .len = 3 * CHUNK - 12288 + 4096,
                            .off = 12288 };
  fill_random (late, w.len, &s2);
  memcpy (ref + w.off, late, w.len);
  raid_mem_member_set_down (f.mm[pdev], 1);
  raid_mem_member_delay (f.mm[qdev], delay_us);
  pthread_create (&t, NULL, late_write_main, &w);
  usleep (delay_us / 2);                /* the reads (none on the slow member) done, the
                                         * slow entry on its way */
  raid_mem_member_set_down (f.mm[pdev], 0);
  pthread_join (t, NULL);
  raid_mem_member_delay (f.mm[qdev], 0);
  cr_assert_eq (w.rc, 0);
  raid_status (f.a, &st);
  if (st.member[pdev].role != RAID_ROLE_ACTIVE) {     /* it missed a write: back it comes */
    cr_assert_eq (raid_add_member (f.a, &f.mem[pdev], err, sizeof err), 0, "%s", err);
    fx_recover_writes (f.a, f.mm[pdev]);
  }
  restart_without (&f, col_dev (0, 1));
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after a parity member came back up");
  free (late);
  free (ref);
  fx_free (&f);
}

/* A superblock whose log would end past 2^64 bytes (its offset plus its size wrap to
 * below the data offset) is corrupt: the writers would log at byte 2^64 - 4096. */
Test (ppl, a_log_region_that_wraps_past_the_end_of_the_member_is_corrupt)
{
  struct fx f;
  struct raid_sb sb;
  uint8_t *block;
  char why[256] = "";

  create5 (&f, RAID_CREATE_PPL);
  fx_close (&f);
  block = raid_mem_member_data (f.mm[0]) + RAID_SB_OFFSET;
  cr_assert_eq (sb_decode (block, &sb, why, sizeof why), RAID_SB_OK, "%s", why);
  sb.log_offset = UINT64_MAX - (PPL_HEADER - 1);       /* 2^64 - 4096 */
  sb_encode (&sb, block);
  cr_assert_neq (sb_decode (block, &sb, why, sizeof why), RAID_SB_OK,
                 "a log at 2^64 - 4096 bytes was taken");
  cr_assert (strstr (why, "partial parity log"), "why: %s", why);
  fx_free (&f);
}

/* A replace in progress (the new member attached, nothing copied yet), a torn write, a
 * crash, and the member being replaced gone: the new member takes its slot at assembly
 * (rebuilt from where the copy was).  The log must still be replayed: column 1 of the
 * torn stripe, on that slot and so rebuilt from its parity, was touched by no write. */
Test (ppl, a_replacement_taking_its_slot_at_assembly_leaves_the_log_replayed)
{
  struct fx f;
  struct raid_mem_member *spare = raid_mem_member_new ("e9.1", FX_MEMBER_SIZE);
  struct raid_member m[RAID_MAX_MEMBERS];
  unsigned col1 = col_dev (0, 1), n = 0;
  int64_t no_power = 0;
  uint64_t seed = 22;
  uint8_t *ref, *got = malloc (CHUNK);
  char err[512] = "", name[16];

  create5 (&f, RAID_CREATE_PPL);
  ref = fx_fill (f.a, &seed);
  m[0] = raid_mem_member (spare);
  cr_assert_eq (raid_add_member (f.a, &m[0], err, sizeof err), 0, "%s", err);
  snprintf (name, sizeof name, "e%u.1", col1 + 1);
  cr_assert_eq (raid_replace_start (f.a, name, "e9.1", err, sizeof err), 0, "%s", err);
  torn_write (&f, ref, 4096, 4096, 57, 1u << col_dev (0, K));
  raid_mem_member_power (spare, &no_power);                 /* the crash takes it too */
  crash (&f);
  raid_mem_member_power (spare, NULL);
  for (unsigned i = 0; i < N; i++)
    if (i != col1)
      m[n++] = f.mem[i];
  m[n++] = raid_mem_member (spare);
  f.a = raid_assemble (m, n, 0, fx_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  cr_assert_eq (raid_read (f.a, got, CHUNK, CHUNK), 0);     /* column 1 of stripe 0 */
  cr_assert (!memcmp (got, ref + CHUNK, CHUNK), "column 1, which no write touched, came "
             "back wrong from the torn stripe: the log was not replayed");
  free (got);
  free (ref);
  fx_free (&f);
  raid_mem_member_free (spare);
}

/* Entries land out of order: writer A's entry, taking the ring's room over stripe 0's
 * older entry E1, is still on its way at the crash (so is its data: it waits for its
 * entry); writer B's, taken after A's over stripe 0's newer entry E2, has landed.  E1
 * then looks like stripe 0's newest record, but E2's write (which ended) changed a
 * column E1 did not cover: replaying E1 would rebuild column 2, which no write touched,
 * wrong.  Made here by putting A's bytes back, the ring's and the stripe's.  E2's header
 * may survive B, its pp not: its records still say E1 is not the newest. */
static void
out_of_order (int b_header_lost)
{
  struct fx f;
  unsigned pdev = col_dev (0, K);
  uint64_t seed = 23, s2 = 10, ring_bytes, log_offset, h1, at_a;
  uint64_t a_data = RAID_DATA_OFFSET + 4 * CHUNK;                 /* stripe 4, rows 0..4K */
  uint8_t *ref, buf[4096], *ring, *ring_before, data_before[4096], parity_before[4096];

  cr_assert_eq (col_dev (4, K), pdev, "stripes 0 and 4 share their parity member");
  create5 (&f, RAID_CREATE_PPL);
  ref = fx_fill (f.a, &seed);
  ring_bytes = f.a->ppl.log_size;
  log_offset = f.a->ppl.log_offset;
  ring = raid_mem_member_data (f.mm[pdev]) + log_offset;
  h1 = f.a->ppl.ring[pdev].head;
  for (unsigned w = 0; w < 2; w++)            /* E1: stripe 0 column 0; E2: column 1 */
    cr_assert_eq (fx_write_ref (f.a, ref, w * CHUNK, 4096, &s2), 0);
  /* stripe 4, column 2, rows 8K..12K, until the next entry takes E1's place */
  while (f.a->ppl.ring[pdev].head < h1 + ring_bytes)
    cr_assert_eq (fx_write_ref (f.a, ref, (4 * K + 2) * CHUNK + 8192, 4096, &s2), 0);
  cr_assert_eq (f.a->ppl.ring[pdev].head, h1 + ring_bytes, "entries of 8K each");
  ring_before = malloc (ring_bytes);
  memcpy (ring_before, ring, ring_bytes);
  memcpy (data_before, raid_mem_member_data (f.mm[col_dev (4, 0)]) + a_data, 4096);
  memcpy (parity_before, raid_mem_member_data (f.mm[pdev]) + a_data, 4096);
  fill_random (buf, 4096, &s2);                /* A: stripe 4, column 0, rows 0..4K */
  cr_assert_eq (raid_write (f.a, buf, 4096, 4 * K * CHUNK, 0), 0);
  /* B: stripe 4, column 1, rows 4K..8K */
  cr_assert_eq (fx_write_ref (f.a, ref, (4 * K + 1) * CHUNK + 4096, 4096, &s2), 0);
  /* A never landed: its entry (8K at E1's place), its data and its parity; B's header
   * (at E2's) neither, when B_HEADER_LOST: B's frames with its pp landed, not the first */
  for (uint64_t o = 0; o < 8192 + (b_header_lost ? PPL_HEADER : 0); o++) {
    at_a = (h1 + o) % ring_bytes;
    ring[at_a] = ring_before[at_a];
  }
  memcpy (raid_mem_member_data (f.mm[col_dev (4, 0)]) + a_data, data_before, 4096);
  memcpy (raid_mem_member_data (f.mm[pdev]) + a_data, parity_before, 4096);
  restart_without (&f, col_dev (0, 2));
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after entries landed out of order");
  free (ring_before);
  free (ref);
  fx_free (&f);
}

Test (ppl, an_entry_overwritten_in_the_ring_is_not_brought_back_by_a_slower_one)
{
  out_of_order (0);
}

Test (ppl, an_entry_whose_pp_was_overwritten_still_supersedes_older_ones)
{
  out_of_order (1);
}

/* The address space this process has mapped now, in bytes. */
static uint64_t
mapped_now (void)
{
  FILE *fp = fopen ("/proc/self/status", "r");
  char line[256];
  unsigned long long kb = 0;

  cr_assert_not_null (fp);
  while (fgets (line, sizeof line, fp))
    if (sscanf (line, "VmSize: %llu kB", &kb) == 1)
      break;
  fclose (fp);
  cr_assert (kb > 0);
  return kb * 1024;
}

/* The log switched on over the room a big data offset leaves (a plugin array keeps eight
 * chunks of room for grows: 512 MiB with 64 MiB chunks): a big ring on every member.
 * The replay must not need memory for all the rings at once: with room for two, a dirty
 * degraded start still replays. */
Test (ppl, a_big_ring_on_every_member_replays_within_two_rings_of_memory)
{
  const uint64_t data_offset = 32u << 20;
  struct raid_params p = { .level = RAID_LEVEL_5, .chunk_bytes = CHUNK, .name = "test",
                           .data_offset = data_offset, .flags = RAID_CREATE_ASSUME_CLEAN };
  struct fx f;
  struct rlimit lim;
  uint64_t seed = 24, s2 = 11, ring_bytes;
  unsigned pdev = col_dev (0, K);
  uint8_t *ref, *got = malloc (CHUNK), parity_before[4096];
  uint8_t *parity_at;
  char err[512] = "";

  fx_members (&f, N, data_offset + 128 * 1024);
  f.a = raid_create (&p, f.mem, N, fx_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  cr_assert_eq (raid_set_ppl (f.a, 1, err, sizeof err), 0, "%s", err);
  ring_bytes = f.a->ppl.log_size;
  ref = fx_fill (f.a, &seed);
  /* stripe 0, column 0, rows 4K..8K: its parity never reaches the member */
  parity_at = raid_mem_member_data (f.mm[pdev]) + data_offset + 4096;
  memcpy (parity_before, parity_at, 4096);
  cr_assert_eq (fx_write_ref (f.a, ref, 4096, 4096, &s2), 0);
  memcpy (parity_at, parity_before, 4096);
  crash (&f);
  lim.rlim_cur = lim.rlim_max = mapped_now () + 3 * ring_bytes;
  cr_assert_eq (setrlimit (RLIMIT_AS, &lim), 0);
  if (!assemble_without (&f, col_dev (0, 1), 0, err, sizeof err))
    cr_assert_fail ("the dirty degraded start was refused: %s", err);
  cr_assert_eq (raid_read (f.a, got, CHUNK, CHUNK), 0);     /* column 1 of stripe 0 */
  cr_assert (!memcmp (got, ref + CHUNK, CHUNK), "column 1, which no write touched, came "
             "back wrong from the torn stripe");
  free (got);
  free (ref);
  fx_free (&f);
}

/* Column 2 of stripe 0 went bad on its member without a read error (its parity no longer
 * matches), after a write to column 0 logged its record; a check repair makes the parity
 * match the data as it is.  A crash after that must not replay the older record over the
 * repair: without column 1, it would come back wrong. */
Test (ppl, a_check_repair_is_not_undone_by_an_older_record)
{
  struct fx f;
  uint64_t seed = 25, s2 = 12;
  uint8_t *ref, buf[4096];

  create5 (&f, RAID_CREATE_PPL);
  ref = fx_fill (f.a, &seed);
  cr_assert_eq (fx_write_ref (f.a, ref, 0, 4096, &s2), 0);  /* stripe 0, column 0: logged */
  fill_random (buf, 4096, &s2);                              /* column 2 rots */
  memcpy (raid_mem_member_data (f.mm[col_dev (0, 2)]) + RAID_DATA_OFFSET, buf, 4096);
  memcpy (ref + 2 * CHUNK, buf, 4096);
  cr_assert_eq (raid_check (f.a, RAID_CHECK_REPAIR), 0);
  restart_without (&f, col_dev (0, 1));
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after a check repair and a crash");
  free (ref);
  fx_free (&f);
}

/* The entry of a torn write wraps over the ring's end (its header and the first half of
 * its pp the ring's last 8 KiB, the other half the first 4 KiB): the replay reads it whole. */
Test (ppl, an_entry_wrapping_over_the_rings_end_is_replayed)
{
  struct fx f;
  unsigned pdev = col_dev (0, K);
  uint64_t seed = 26, s2 = 13, ring_bytes;
  uint8_t *ref, *got = malloc (CHUNK);

  cr_assert_eq (col_dev (4, K), pdev, "stripes 0 and 4 share their parity member");
  create5 (&f, RAID_CREATE_PPL);
  ref = fx_fill (f.a, &seed);
  ring_bytes = f.a->ppl.log_size;
  /* stripe 4: partial writes (8K entries), or whole ones (4K), up to 8K before the end */
  while (f.a->ppl.ring[pdev].head % ring_bytes != ring_bytes - 2 * PPL_HEADER) {
    uint64_t at = f.a->ppl.ring[pdev].head % ring_bytes;
    int whole = (2 * ring_bytes - 2 * PPL_HEADER - at) % ring_bytes < 2 * PPL_HEADER;
    uint32_t len = whole ? K * CHUNK : 4096;
    uint64_t off = whole ? 4 * K * CHUNK : (4 * K + 2) * CHUNK + 8192;
    cr_assert_eq (fx_write_ref (f.a, ref, off, len, &s2), 0);
  }
  torn_write (&f, ref, 4096, 8192, 58, 1u << pdev);         /* stripe 0, column 0 */
  cr_assert_eq (f.a->ppl.ring[pdev].head % ring_bytes, PPL_HEADER, "the entry wrapped");
  restart_without (&f, col_dev (0, 1));
  cr_assert_eq (raid_read (f.a, got, CHUNK, CHUNK), 0);     /* column 1 of stripe 0 */
  cr_assert (!memcmp (got, ref + CHUNK, CHUNK), "column 1, which no write touched, came "
             "back wrong: the wrapped entry was not replayed");
  free (got);
  free (ref);
  fx_free (&f);
}

/* A ring is not all the room below a big data offset: a dirty start reads every member's
 * whole ring.  It takes PPL_RING_MAX, or what its chunk wants when that is more. */
Test (ppl, a_big_room_below_the_data_gives_a_ring_of_its_own_size)
{
  struct raid_params p = { .level = RAID_LEVEL_5, .chunk_bytes = CHUNK, .name = "room",
                           .flags = RAID_CREATE_ASSUME_CLEAN,
                           .data_offset = RAID_META_END + (32u << 20) };
  struct raid_status st;
  struct fx f;
  char err[256] = "";

  fx_members (&f, N, p.data_offset + 64 * CHUNK);
  f.a = raid_create (&p, f.mem, N, fx_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  cr_assert_eq (raid_set_ppl (f.a, 1, err, sizeof err), 0, "%s", err);
  raid_status (f.a, &st);
  cr_assert_eq (st.ppl_log_bytes, PPL_RING_MAX, "switched on: a ring of %llu bytes",
                (unsigned long long) st.ppl_log_bytes);
  fx_free (&f);
  p.flags |= RAID_CREATE_PPL;
  fx_members (&f, N, p.data_offset + 64 * CHUNK);
  f.a = raid_create (&p, f.mem, N, fx_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  raid_status (f.a, &st);
  cr_assert_eq (st.ppl_log_bytes, PPL_RING_MAX, "created with it: a ring of %llu bytes",
                (unsigned long long) st.ppl_log_bytes);
  fx_free (&f);
}

/* Three writes to stripe 0, ended and durable (no cache): E1 column 0 rows [0, 4K), E1.5
 * column 1 over the same rows, E2 column 2 rows [8K, 12K).  E1.5's header is gone: a
 * later entry took E1 and E1.5's room once they were given back (E1's place and beyond:
 * a bigger entry), and of its frames only one landed, over E1.5's header, before the
 * crash.  E1 still looks sound; it is not the newest of its stripe, but its rows are
 * none of E2's.  Replaying E1 there would make parity from column 1 as it was before
 * E1.5 and rebuild column 2, which no write touched there, wrong.  E2 was logged with
 * every earlier write to its stripe durable: nothing older needs making again. */
Test (ppl, an_older_record_is_not_replayed_past_a_newer_one_logged_after_it_was_durable)
{
  struct fx f;
  unsigned pdev = col_dev (0, K);
  uint64_t seed = 24, s2 = 11, h1;
  uint8_t *ref, *ring;
  const uint64_t at[3] = { 0, CHUNK, 2 * CHUNK + 8192 };

  create5 (&f, RAID_CREATE_PPL);
  ref = fx_fill (f.a, &seed);
  ring = raid_mem_member_data (f.mm[pdev]) + f.a->ppl.log_offset;
  h1 = f.a->ppl.ring[pdev].head;
  for (unsigned w = 0; w < 3; w++)
    cr_assert_eq (fx_write_ref (f.a, ref, at[w], 4096, &s2), 0);
  cr_assert_eq (f.a->ppl.ring[pdev].head, h1 + 3 * 8192, "entries of 8K each");
  memset (ring + (h1 + 8192) % f.a->ppl.log_size, 0xa5, PPL_HEADER);   /* E1.5's header */
  restart_without (&f, col_dev (0, 2));
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after an older record's successor was lost");
  free (ref);
  fx_free (&f);
}

/* A record no writer made: rows that are not whole sectors (a member takes none).  Its
 * entry is not trusted, as one of a stripe past the end; the start goes on. */
Test (ppl, a_record_of_rows_that_are_not_whole_sectors_is_not_trusted)
{
  struct fx f;
  uint64_t seed = 25;
  unsigned slot = col_dev (0, K);
  uint8_t uuid[16], *ring, *h, zero[4] = { 0 };
  char err[512] = "";
  uint32_t c;

  create5 (&f, RAID_CREATE_PPL);
  free (fx_fill (f.a, &seed));
  memcpy (uuid, f.a->sb.array_uuid, 16);
  ring = raid_mem_member_data (f.mm[slot]) + f.a->ppl.log_offset;
  uint64_t gen = f.a->sb.ppl_gen, ring_bytes = f.a->ppl.log_size;
  uint64_t head = f.a->ppl.ring[slot].head, at = head % ring_bytes;
  crash (&f);
  cr_assert (at + PPL_HEADER + 4096 <= ring_bytes);
  hand_entry (ring, ring_bytes, at, uuid, gen, slot, 0, 4096);
  h = ring + at;
  le_put64 (h, 40, head);                       /* the newest entry */
  le_put32 (h + 64, 8, 100);                    /* rows [100, 4096) of column 0 */
  le_put32 (h + 64, 16, 100);
  c = crc32_iscsi (h, 8, 0xffffffff);
  c = crc32_iscsi (zero, 4, c);
  le_put32 (h, 8, crc32_iscsi (h + 12, PPL_HEADER - 12, c));
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  fx_free (&f);
}

/* ---- out of memory on the write path ------------------------------------- */

/* Allocations refused on demand (raid-int.h's alloc_hook): each site's calls counted from
 * 1, those in [from, from + count) refused. */
struct nomem {
  atomic_uint calls[2], refused[2];
  unsigned from[2], count[2];
};

static int
nomem_refuse (void *opaque, enum alloc_site site, size_t bytes)
{
  struct nomem *m = opaque;
  unsigned n = atomic_fetch_add (&m->calls[site], 1) + 1;

  (void) bytes;
  if (n < m->from[site] || n - m->from[site] >= m->count[site])
    return 0;
  atomic_fetch_add (&m->refused[site], 1);
  return 1;
}

/* From now on, the array refuses SITE's allocations FROM to FROM + COUNT - 1. */
static void
nomem_start (struct fx *f, struct nomem *m, enum alloc_site site, unsigned from, unsigned count)
{
  memset (m, 0, sizeof *m);
  m->from[site] = from;
  m->count[site] = count;
  f->a->pool.hook = (struct alloc_hook) { nomem_refuse, m };
}

static void
nomem_stop (struct fx *f)
{
  f->a->pool.hook = (struct alloc_hook) { NULL, NULL };
}

/* md's ppl_do_flush takes its bios from a mempool and never fails; here a room flush of
 * more members than a batch holds inline needs memory for its batch, and with none its
 * writer could only wait for memory, its stripes locked.  It sends the flushes in rounds
 * instead.  A raid5 of 17 with caches: a write to column 0 of a stripe, acknowledged (in
 * Y's cache, Y the last member: the one a batch of the others has no room for), then one
 * to column 2 of the same stripe with no batch able to grow: it needs the room flush
 * first (the newest record of a stripe is replayed alone), which must reach every
 * member, Y too.  Y then loses its cache, and the array starts without Z (column 1):
 * every byte reads as written. */
Test (ppl, a_room_flush_without_memory_for_its_batch_flushes_every_member, .timeout = 30)
{
  enum { WIDE = BATCH_INLINE + 1 };
  struct fx f;
  struct nomem m;
  struct raid_mem_stats st;
  uint64_t seed = 27, s2 = 14, stripe = 0, at;
  unsigned y = WIDE - 1, z;
  uint8_t *ref;

  while (ref_data_dev (WIDE, 1, stripe, 0) != y)
    stripe++;
  z = ref_data_dev (WIDE, 1, stripe, 1);
  at = stripe * (WIDE - 1) * CHUNK + 4096;

  fx_members (&f, WIDE, FX_MEMBER_SIZE);
  fx_create_on (&f, RAID_LEVEL_5, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_PPL);
  ref = fx_fill (f.a, &seed);
  for (unsigned i = 0; i < f.n; i++)
    cr_assert_eq (raid_mem_member_cache (f.mm[i], 1), 0);
  cr_assert_eq (fx_write_ref (f.a, ref, at, 4096, &s2), 0);          /* column 0 */
  cr_assert (raid_mem_member_cached (f.mm[y]), "the first write is not in Y's cache");
  for (unsigned i = 0; i < f.n; i++)
    raid_mem_member_stats (f.mm[i], NULL, 1);
  nomem_start (&f, &m, ALLOC_BATCH, 1, UINT_MAX);
  cr_assert_eq (fx_write_ref (f.a, ref, at + 2 * CHUNK, 4096, &s2), 0,      /* column 2 */
                "the write failed: %s", f.last_error);
  nomem_stop (&f);
  cr_assert (m.refused[ALLOC_BATCH] > 0, "no batch needed memory: the room flush of %u "
             "members fits a batch (BATCH_INLINE %u)", WIDE, BATCH_INLINE);
  for (unsigned i = 0; i < f.n; i++) {
    raid_mem_member_stats (f.mm[i], &st, 0);
    cr_assert (st.flushes > 0, "member %u missed the room flush", i);
  }
  raid_mem_member_lose_cache (f.mm[y], 0, FX_MEMBER_SIZE);
  restart_without (&f, z);
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after Y lost its cache");
  free (ref);
  fx_free (&f);
}

/* The raw bytes of every member from the log on (its ring and its data). */
static uint8_t *
members_snapshot (struct fx *f)
{
  uint64_t len = FX_MEMBER_SIZE - RAID_META_END;
  uint8_t *snap = malloc (f->n * len);

  cr_assert_not_null (snap);
  for (unsigned i = 0; i < f->n; i++)
    memcpy (snap + i * len, raid_mem_member_data (f->mm[i]) + RAID_META_END, len);
  return snap;
}

static void
expect_members_unchanged (struct fx *f, const uint8_t *snap, const char *when)
{
  uint64_t len = FX_MEMBER_SIZE - RAID_META_END;

  for (unsigned i = 0; i < f->n; i++)
    cr_assert (!memcmp (snap + i * len, raid_mem_member_data (f->mm[i]) + RAID_META_END, len),
               "%s: member %u was written", when, i);
}

/* The log's buffer for a write's entries is not to be had, after the write waited for
 * its stripe's earlier write to be durable and marked its stripes' buckets as holding a
 * write (stripes_durable): the write fails with -ENOMEM and nothing reaches a member,
 * neither entry nor data; ppl_done puts the buckets back (one left saying "a write
 * runs" is passed over by the next write's durability check: harmless only while the
 * failed write had waited for the same flush).  Then a write to the stripe works, and a
 * start without column 1's member reads every byte as written. */
Test (ppl, a_write_whose_entry_gets_no_memory_fails_and_writes_nothing)
{
  struct fx f;
  struct nomem m;
  uint64_t seed = 28, s2 = 15, flushed;
  unsigned p = col_dev (0, K), bucket = 0 % STRIPE_LOCKS;
  uint8_t *ref, *snap, buf[4096];
  uint64_t head;
  int rc;

  ref = create_filled (&f, RAID_CREATE_PPL, seed, NULL);
  for (unsigned i = 0; i < f.n; i++)
    cr_assert_eq (raid_mem_member_cache (f.mm[i], 1), 0);
  cr_assert_eq (fx_write_ref (f.a, ref, 4096, 4096, &s2), 0);        /* column 0 */
  snap = members_snapshot (&f);
  head = f.a->ppl.ring[p].head;
  flushed = atomic_load (&f.a->ppl.room_flush_ended);
  /* parity_write's jobs, its scratch, jobs_log's records, then ppl_log's entries */
  nomem_start (&f, &m, ALLOC_SCRATCH, 4, 1);
  fill_random (buf, sizeof buf, &s2);
  rc = raid_write (f.a, buf, sizeof buf, 2 * CHUNK + 4096, 0);      /* column 2 */
  nomem_stop (&f);
  cr_assert_eq (m.refused[ALLOC_SCRATCH], 1, "the write took %u scratch buffers",
                m.calls[ALLOC_SCRATCH]);
  cr_assert (atomic_load (&f.a->ppl.room_flush_ended) > flushed && f.a->ppl.ring[p].head == head,
             "the refused buffer was not ppl_log's, after stripes_durable");
  cr_assert_eq (rc, -ENOMEM, "the write returned %d", rc);
  expect_members_unchanged (&f, snap, "a write refused its log's memory");
  cr_assert_neq (f.a->ppl.pending[bucket], PPL_PENDING,
                 "stripe 0's bucket still says a write runs after the write failed");
  cr_assert_eq (fx_write_ref (f.a, ref, 2 * CHUNK + 8192, 4096, &s2), 0, "the next write "
                "to the stripe failed");
  restart_without (&f, col_dev (0, 1));
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after a write refused memory");
  free (snap);
  free (ref);
  fx_free (&f);
}

/* A write across five stripes (partial at both ends: 20 member writes, more than a batch
 * holds inline), with the Nth scratch buffer or batch growth refused, for every N the
 * write takes: it succeeds, or fails with -ENOMEM; either way no byte outside it moves,
 * each of its sectors reads old or new, and so it does after a crash and a start without
 * MISSING (no data went out without its entry).  *MORE: the Nth was refused. */
static void
nomem_at (enum alloc_site site, unsigned n, unsigned missing, int *more)
{
  uint64_t off = CHUNK + 4096, len = 4 * K * CHUNK, s2 = 16 + n;
  struct fx f;
  struct nomem m;
  uint8_t *ref, *old;
  char when[96];
  int rc;

  ref = create_filled (&f, RAID_CREATE_PPL, 29, &old);
  for (unsigned i = 0; i < f.n; i++)
    cr_assert_eq (raid_mem_member_cache (f.mm[i], n % 2), 0);
  nomem_start (&f, &m, site, n, 1);
  rc = fx_write_ref (f.a, ref, off, (uint32_t) len, &s2);
  nomem_stop (&f);
  *more = m.refused[site] > 0;
  snprintf (when, sizeof when, "%s %u refused (the write: %d), member %u missing",
            site == ALLOC_SCRATCH ? "scratch buffer" : "batch growth", n, rc, missing);
  cr_assert (rc == 0 || rc == -ENOMEM, "%s: the write returned %d", when, rc);
  expect_around (&f, ref, old, off, len, 0, when);
  restart_without (&f, missing);
  expect_around (&f, ref, old, off, len, 0, when);
  free (old);
  free (ref);
  fx_free (&f);
}

Test (ppl, a_write_out_of_memory_anywhere_fails_cleanly_and_loses_nothing, .timeout = 120)
{
  const enum alloc_site sites[] = { ALLOC_SCRATCH, ALLOC_BATCH };

  for (unsigned s = 0; s < 2; s++) {
    int more = 1;
    unsigned n;
    for (n = 1; more; n++)
      for (unsigned missing = 0; missing < N; missing++)
        nomem_at (sites[s], n, missing, &more);
    cr_assert (n > 2, "site %u: the write took no allocation there", s);
  }
}

/* A partial write's entries are flushed before its data goes out; a write whose entries
 * sit on more members than a batch holds inline needs memory for that flush's batch.
 * With none, a member left unflushed could lose its entry while the data members kept
 * the write: the write hole.  A raid5 of 18 with caches, a write from stripe 0's column
 * 1 to the end of stripe 16 (seventeen parity members, stripe 0's the last of them),
 * with its flush batch unable to grow: stripe 0's parity member then loses its cache
 * (its entry, its parity), and the array starts without column 0's member: every byte
 * outside the write, stripe 0's column 0 among them, must read as it was (those inside
 * are undefined: a column the write covered is gone, a member lost its part). */
Test (ppl, a_write_whose_entry_flush_gets_no_memory_still_flushes_every_entry, .timeout = 60)
{
  enum { WIDE = BATCH_INLINE + 2, STRIPES = BATCH_INLINE + 1 };
  const uint64_t member = RAID_DATA_OFFSET + 2 * STRIPES * CHUNK;
  struct fx f;
  struct nomem m;
  uint64_t seed = 30, s2 = 17, stripe_bytes = (uint64_t) (WIDE - 1) * CHUNK;
  uint64_t len = STRIPES * stripe_bytes - CHUNK;
  unsigned p = ref_parity_dev (WIDE, 1, 0, 0), z = ref_data_dev (WIDE, 1, 0, 0);
  uint8_t *ref, *old;

  for (unsigned s = 1; s < STRIPES; s++)
    cr_assert_lt (ref_parity_dev (WIDE, 1, s, 0), p, "stripe 0's parity member is not the last");
  fx_members (&f, WIDE, member);
  fx_create_on (&f, RAID_LEVEL_5, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_PPL);
  ref = fx_fill (f.a, &seed);
  old = malloc (raid_size (f.a));
  memcpy (old, ref, raid_size (f.a));
  for (unsigned i = 0; i < f.n; i++)
    cr_assert_eq (raid_mem_member_cache (f.mm[i], 1), 0);
  /* growth 1: the entries' batch; 2: the batch of their flushes */
  nomem_start (&f, &m, ALLOC_BATCH, 2, 1);
  cr_assert_eq (fx_write_ref (f.a, ref, CHUNK, (uint32_t) len, &s2), 0, "the write failed: %s",
                f.last_error);
  nomem_stop (&f);
  cr_assert_eq (m.refused[ALLOC_BATCH], 1, "no batch growth refused (%u asked)",
                m.calls[ALLOC_BATCH]);
  raid_mem_member_lose_cache (f.mm[p], 0, member);
  restart_without (&f, z);
  expect_around (&f, ref, old, CHUNK, len, 1, "stripe 0's parity member lost its cache");
  free (old);
  free (ref);
  fx_free (&f);
}

/* After a crash the log cannot be replayed: a start without force is refused (the
 * members left as they were: the stripes it would mend are unknown) with ERR_SAYS and how
 * to go on; force starts it, saying so, with the resync after the crash to run.  BAD_LOG:
 * the log has a bad sector, else the data the replay reads. */
static void
unreplayable_needs_force (int bad_log, const char *err_says)
{
  struct fx f;
  uint8_t *ref = create_filled (&f, RAID_CREATE_PPL, 13, NULL);
  unsigned parity = col_dev (0, K);
  uint64_t log = f.a->ppl.log_offset;
  char err[512] = "";

  torn_write (&f, ref, 4096, 4096, 98, 1u << parity);
  crash (&f);
  if (bad_log)        /* the parity member's ring, which holds stripe 0's record */
    raid_mem_member_bad_range (f.mm[parity], log, 4096);
  else                /* column 0's rows the write covered, which the replay reads */
    raid_mem_member_bad_range (f.mm[col_dev (0, 0)], RAID_DATA_OFFSET + 4096, 4096);
  cr_assert_null (fx_assemble (&f, 0, err, sizeof err), "started without its log");
  cr_assert (strstr (err, err_says) && strstr (err, "assemble with force"), "err: %s", err);
  cr_assert_eq (fx_examined (&f, 0).clean, 0, "the refusal marked the array clean");
  cr_assert_not_null (fx_assemble (&f, RAID_ASSEMBLE_FORCE, err, sizeof err), "force: %s", err);
  cr_assert (strstr (f.last_warning, "starting anyway (force)"), "warning: %s", f.last_warning);
  cr_assert (raid_needs_resync (f.a), "no resync after the forced start");
  free (ref);
  fx_free (&f);
}

Test (ppl, an_unreadable_log_after_a_crash_needs_force)
{
  unreplayable_needs_force (1, "cannot read the partial parity log of member");
}

Test (ppl, a_stripe_the_log_cannot_mend_after_a_crash_needs_force)
{
  unreplayable_needs_force (0, "cannot replay the partial parity log for stripe 0");
}

/* md's write-mostly members: reads avoid a write-mostly copy while another copy can serve
 * them, and use it when none other can (degraded, a read error on the other); writes
 * reach it as always.  The flag is recorded in the superblocks (a reassembly keeps it),
 * is the member's (a spare taking its slot starts without it, the member re-added keeps
 * it), and only the levels with copies take it. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "raid-test.h"

#define CHUNK 4096u

/* Read the whole array chunk by chunk (checking it against REF, when given), after
 * zeroing every member's counters; returns the reads each member served in READS[]. */
static void
read_all (struct fx *f, const uint8_t *ref, uint64_t reads[RAID_MAX_MEMBERS])
{
  uint64_t size = raid_size (f->a);
  uint8_t *buf = malloc (CHUNK);
  struct raid_mem_stats st;

  cr_assert_not_null (buf);
  for (unsigned i = 0; i < f->n; i++)
    raid_mem_member_stats (f->mm[i], &st, 1);
  for (uint64_t off = 0; off < size; off += CHUNK) {
    cr_assert_eq (raid_read (f->a, buf, CHUNK, off), 0, "read at %llu",
                  (unsigned long long) off);
    if (ref)
      cr_assert_eq (memcmp (buf, ref + off, CHUNK), 0, "data at %llu",
                    (unsigned long long) off);
  }
  for (unsigned i = 0; i < f->n; i++) {
    raid_mem_member_stats (f->mm[i], &st, 1);
    reads[i] = st.reads;
  }
  free (buf);
}

static uint8_t *
fill (struct fx *f)
{
  uint64_t seed = 11;
  return fx_fill (f->a, &seed);
}

static void
set_wm (struct fx *f, const char *name, int on)
{
  char err[256] = "";

  cr_assert_eq (raid_set_writemostly (f->a, name, on, err, sizeof err), 0, "%s", err);
}

/* A RAID1 of SLOTS on the first of N members (the rest free to add), filled, with e2.1
 * write-mostly: its reference bytes. */
static uint8_t *
raid1_e2_writemostly (struct fx *f, unsigned n, unsigned slots)
{
  struct raid_params p = { .level = RAID_LEVEL_1, .chunk_bytes = CHUNK, .name = "test",
                           .flags = RAID_CREATE_ASSUME_CLEAN };
  char err[256] = "";
  uint8_t *ref;

  fx_members (f, n, FX_MEMBER_SIZE);
  f->a = raid_create (&p, f->mem, slots, fx_log, f, err, sizeof err);
  cr_assert_not_null (f->a, "%s", err);
  ref = fill (f);
  set_wm (f, "e2.1", 1);
  return ref;
}

static int
status_wm (struct fx *f, unsigned slot)
{
  struct raid_status st;

  cr_assert_eq (raid_status (f->a, &st), 0);
  return st.member[slot].writemostly;
}

/* Idle, reads take the first usable copy (the least loaded, ties to copy 0): the
 * write-mostly member is made slot 0's, where it would serve them all. */
Test (writemostly, raid1_reads_avoid_it_while_the_other_copy_serves)
{
  struct fx f;
  uint64_t reads[RAID_MAX_MEMBERS], chunks;
  uint8_t *ref;

  fx_create (&f, RAID_LEVEL_1, 2, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  ref = fill (&f);
  chunks = raid_size (f.a) / CHUNK;
  read_all (&f, ref, reads);
  cr_assert_eq (reads[0], chunks, "before: e1.1 served %llu", (unsigned long long) reads[0]);
  set_wm (&f, "e1.1", 1);
  cr_assert (status_wm (&f, 0) && !status_wm (&f, 1));
  read_all (&f, ref, reads);
  cr_assert_eq (reads[0], 0, "the write-mostly member served %llu reads",
                (unsigned long long) reads[0]);
  cr_assert_eq (reads[1], chunks);
  /* writes still reach it */
  memset (ref, 0xa5, CHUNK);
  cr_assert_eq (raid_write (f.a, ref, CHUNK, 0, 0), 0);
  cr_assert_eq (memcmp (raid_mem_member_data (f.mm[0]) + RAID_DATA_OFFSET, ref, CHUNK), 0);
  /* and off again: it serves reads again */
  set_wm (&f, "e1.1", 0);
  cr_assert_not (status_wm (&f, 0));
  read_all (&f, ref, reads);
  cr_assert_eq (reads[0], chunks, "after off: e1.1 served %llu", (unsigned long long) reads[0]);
  free (ref);
  fx_free (&f);
}

/* Readers at once, the normal copy slow: its queue grows, and still no read goes to the
 * write-mostly one (it ranks above any load); without the flag the same load spreads. */
struct reader { struct raid_array *a; uint64_t size; unsigned seed; };

static void *
reader_main (void *opaque)
{
  struct reader *r = opaque;
  uint8_t buf[CHUNK];

  for (unsigned i = 0; i < 64; i++) {
    uint64_t off = (uint64_t) (rand_r (&r->seed) % (r->size / CHUNK)) * CHUNK;
    cr_assert_eq (raid_read (r->a, buf, CHUNK, off), 0);
  }
  return NULL;
}

static uint64_t
busy_reads_of (struct fx *f, unsigned member)
{
  struct reader r[8];
  pthread_t t[8];
  struct raid_mem_stats st;

  raid_mem_member_stats (f->mm[member], &st, 1);
  for (unsigned i = 0; i < 8; i++) {
    r[i] = (struct reader) { .a = f->a, .size = raid_size (f->a), .seed = i + 1 };
    cr_assert_eq (pthread_create (&t[i], NULL, reader_main, &r[i]), 0);
  }
  for (unsigned i = 0; i < 8; i++)
    pthread_join (t[i], NULL);
  raid_mem_member_stats (f->mm[member], &st, 1);
  return st.reads;
}

Test (writemostly, no_read_reaches_it_under_load)
{
  struct fx f;
  uint64_t spread;
  uint8_t *ref;

  fx_create (&f, RAID_LEVEL_1, 2, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  ref = fill (&f);
  raid_mem_member_delay (f.mm[0], 300);
  spread = busy_reads_of (&f, 1);
  cr_assert (spread > 0, "no flag: the busy e1.1 left e2.1 no read: the load does not spread");
  set_wm (&f, "e2.1", 1);
  cr_assert_eq (busy_reads_of (&f, 1), 0, "write-mostly e2.1 served reads under load");
  free (ref);
  fx_free (&f);
}

/* A grow to a level without copies (raid1 of 2 to raid5 of 3) drops the flags. */
Test (writemostly, grow_to_parity_drops_it)
{
  struct raid_params p = { .level = RAID_LEVEL_1, .chunk_bytes = CHUNK, .name = "test",
                           .flags = RAID_CREATE_ASSUME_CLEAN,
                           .data_offset = RAID_DATA_OFFSET };
  struct raid_sb_summary sb;
  struct fx f;
  char err[256] = "";

  fx_members (&f, 3, FX_MEMBER_SIZE);
  f.a = raid_create (&p, f.mem, 2, fx_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  set_wm (&f, "e1.1", 1);
  cr_assert_eq (raid_add_member (f.a, &f.mem[2], err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_grow (f.a, (const char *[]) { "e3.1" }, 1, RAID_LEVEL_5, err,
                           sizeof err), 0, "%s", err);
  cr_assert_not (status_wm (&f, 0), "raid5 kept a write-mostly member");
  cr_assert_eq (raid_examine (&f.mem[0], &sb), 0);
  cr_assert_eq (sb.writemostly, 0);
  fx_free (&f);
}

Test (writemostly, raid1_degraded_reads_use_it)
{
  struct fx f;
  uint64_t reads[RAID_MAX_MEMBERS], chunks;
  char err[256] = "";
  uint8_t *ref;

  fx_create (&f, RAID_LEVEL_1, 2, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  ref = fill (&f);
  chunks = raid_size (f.a) / CHUNK;
  set_wm (&f, "e2.1", 1);
  /* the other copy down (not yet failed: unusable) */
  raid_mem_member_set_down (f.mm[0], 1);
  read_all (&f, ref, reads);
  cr_assert_eq (reads[1], chunks, "e2.1 served %llu of %llu reads with e1.1 down",
                (unsigned long long) reads[1], (unsigned long long) chunks);
  raid_mem_member_set_down (f.mm[0], 0);
  /* failed: every read goes to the write-mostly member */
  cr_assert_eq (raid_fail_member (f.a, "e1.1", err, sizeof err), 0, "%s", err);
  read_all (&f, ref, reads);
  cr_assert_eq (reads[0], 0);
  cr_assert_eq (reads[1], chunks);
  free (ref);
  fx_free (&f);
}

Test (writemostly, read_error_falls_back_to_it_and_repairs)
{
  struct fx f;
  uint64_t reads[RAID_MAX_MEMBERS];
  struct raid_status st;
  uint8_t *ref;

  fx_create (&f, RAID_LEVEL_1, 2, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  ref = fill (&f);
  set_wm (&f, "e1.1", 1);
  raid_mem_member_bad_range (f.mm[1], RAID_DATA_OFFSET + 2 * CHUNK, 512);
  read_all (&f, ref, reads);
  cr_assert_eq (reads[0], 1, "the retry of the bad chunk: %llu reads on e1.1",
                (unsigned long long) reads[0]);
  cr_assert_eq (raid_status (f.a, &st), 0);
  cr_assert_eq (st.member[1].read_errors, 1);
  cr_assert_eq (st.member[1].role, RAID_ROLE_ACTIVE, "repaired, not failed");
  read_all (&f, ref, reads);
  cr_assert_eq (reads[0], 0, "repaired: e2.1 serves it again");
  free (ref);
  fx_free (&f);
}

Test (writemostly, raid10_reads_avoid_both_write_mostly_members)
{
  struct fx f;
  uint64_t reads[RAID_MAX_MEMBERS];
  uint8_t *ref;

  fx_create (&f, RAID_LEVEL_10, 4, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  ref = fill (&f);
  /* near-2 of 4: slots 0 and 1 hold the copies of the even chunks, 2 and 3 of the odd;
   * idle, the first copy (slots 0 and 2) would serve them */
  set_wm (&f, "e1.1", 1);
  set_wm (&f, "e3.1", 1);
  read_all (&f, ref, reads);
  cr_assert_eq (reads[0] + reads[2], 0, "write-mostly e1.1 %llu, e3.1 %llu reads",
                (unsigned long long) reads[0], (unsigned long long) reads[2]);
  cr_assert (reads[1] > 0 && reads[3] > 0);
  free (ref);
  fx_free (&f);
}

Test (writemostly, survives_reassembly)
{
  struct fx f;
  struct raid_sb_summary sb;
  uint64_t reads[RAID_MAX_MEMBERS], events;
  struct raid_status st;
  char err[256] = "";
  uint8_t *ref;

  fx_create (&f, RAID_LEVEL_1, 3, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  ref = fill (&f);
  cr_assert_eq (raid_status (f.a, &st), 0);
  events = st.events;
  set_wm (&f, "e1.1", 1);
  cr_assert_eq (raid_status (f.a, &st), 0);
  cr_assert (st.events > events, "events not bumped");
  set_wm (&f, "e1.1", 1);             /* already: nothing written */
  cr_assert_eq (raid_status (f.a, &st), 0);
  cr_assert_eq (st.events, events + 1);
  for (unsigned i = 0; i < 3; i++) {
    cr_assert_eq (raid_examine (&f.mem[i], &sb), 0);
    cr_assert_eq (sb.writemostly, 1u << 0, "e%u.1's superblock: 0x%x", i + 1, sb.writemostly);
  }
  fx_close (&f);
  /* in another order: the flag is found by slot, whoever is read first */
  struct raid_member first = f.mem[0];
  f.mem[0] = f.mem[2];
  f.mem[2] = first;
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  f.mem[2] = f.mem[0];
  f.mem[0] = first;
  cr_assert (status_wm (&f, 0) && !status_wm (&f, 1) && !status_wm (&f, 2));
  read_all (&f, ref, reads);
  cr_assert_eq (reads[0], 0, "write-mostly after reassembly: %llu reads",
                (unsigned long long) reads[0]);
  free (ref);
  fx_free (&f);
}

/* The flag is the member's: a spare rebuilt into its slot starts without it; the member
 * itself, re-added, keeps it. */
Test (writemostly, follows_the_member_not_the_slot)
{
  struct fx f;
  struct raid_status st;
  char err[256] = "";
  uint8_t *ref = raid1_e2_writemostly (&f, 3, 2);

  /* e2.1 drops out and comes back: re-added to its slot, still write-mostly */
  raid_mem_member_set_down (f.mm[1], 1);
  cr_assert_eq (raid_write (f.a, ref, CHUNK, 0, 0), 0);
  raid_mem_member_set_down (f.mm[1], 0);
  cr_assert_eq (raid_add_member (f.a, &f.mem[1], err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_recover (f.a), 0);
  cr_assert_eq (raid_status (f.a, &st), 0);
  cr_assert_str_eq (st.member[1].name, "e2.1");
  cr_assert_eq (st.member[1].role, RAID_ROLE_ACTIVE);
  cr_assert (st.member[1].writemostly, "the re-added member lost its flag");
  /* failed and rebuilt onto a spare: the spare is a normal member */
  cr_assert_eq (raid_add_member (f.a, &f.mem[2], err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_fail_member (f.a, "e2.1", err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_recover (f.a), 0);
  cr_assert_eq (raid_status (f.a, &st), 0);
  cr_assert_str_eq (st.member[1].name, "e3.1");
  cr_assert_not (st.member[1].writemostly, "the spare took the old member's flag");
  free (ref);
  fx_free (&f);
}

Test (writemostly, refused_without_copies_and_for_non_members)
{
  static const struct level_case none[] = {
    { RAID_LEVEL_0, 2, 0, 0, 1 }, { RAID_LEVEL_5, 3, 0, 0, 1 }, { RAID_LEVEL_6, 4, 0, 0, 1 },
    { RAID_LEVEL_EC, 5, 3, 2, 1 },
  };
  struct fx f;
  char err[256];

  for (unsigned c = 0; c < sizeof none / sizeof none[0]; c++) {
    fx_create (&f, none[c].level, none[c].n, none[c].k, none[c].m, CHUNK,
               RAID_CREATE_ASSUME_CLEAN);
    err[0] = '\0';
    cr_assert_eq (raid_set_writemostly (f.a, "e2.1", 1, err, sizeof err), -EINVAL,
                  "level %d took it", none[c].level);
    cr_assert (strstr (err, "mirror copies") && !strchr (err, '\n'), "%s", err);
    cr_assert_not (status_wm (&f, 1));
    fx_free (&f);
  }
  fx_create (&f, RAID_LEVEL_1, 2, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  cr_assert_eq (raid_set_writemostly (f.a, "e9.1", 1, err, sizeof err), -ENOENT);
  cr_assert (strstr (err, "e9.1 is not a member"), "%s", err);
  fx_free (&f);
}

/* The member back in another slot (its own was rebuilt meanwhile) is a new member, rebuilt
 * in full with a new uuid: it starts without the flag, as a device md's --add takes afresh. */
Test (writemostly, a_member_back_in_another_slot_is_a_new_one)
{
  struct fx f;
  struct raid_status st;
  char err[256] = "";
  uint8_t *ref = raid1_e2_writemostly (&f, 4, 3);

  raid_mem_member_set_down (f.mm[1], 1);
  cr_assert_eq (raid_write (f.a, ref, CHUNK, 0, 0), 0);           /* e2.1 fails */
  cr_assert_eq (raid_add_member (f.a, &f.mem[3], err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_recover (f.a), 0);                            /* e4.1 takes slot 1 */
  raid_mem_member_set_down (f.mm[2], 1);
  cr_assert_eq (raid_write (f.a, ref, CHUNK, 0, 0), 0);           /* e3.1 fails */
  raid_mem_member_set_down (f.mm[1], 0);
  cr_assert_eq (raid_add_member (f.a, &f.mem[1], err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_recover (f.a), 0);
  cr_assert_eq (raid_status (f.a, &st), 0);
  cr_assert_str_eq (st.member[2].name, "e2.1");
  cr_expect (!st.member[2].writemostly, "e2.1 back as a new member kept its old flag");
  cr_expect (!st.member[1].writemostly, "e4.1 took slot 1 with e2.1's flag");
  free (ref);
  fx_free (&f);
}

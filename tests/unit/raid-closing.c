/* raid_closing: the server stops while a member is held (a switch outage: its shelf's
 * I/O waits up to hold-time, and ends with EIO once the stop ends the hold).  The array
 * is closing, not losing a member: no superblock records a member failed, no disk error
 * is counted, the requests cut short fail with EIO, and raid_close marks the array clean
 * only where no member missed a write; else it leaves it as a crash does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "raid-int.h"

#define CHUNK 4096u
#define DATA (1024u * 1024)                    /* member data bytes */
#define MEMBER (RAID_DATA_OFFSET + DATA)
#define REGION (64u * 1024)                    /* bitmap region: 16 bits */
/* The member held: e2.1, or e1.1 where a test reads (a mirror reads its first copy) */
static unsigned held = 1;
#define HELD held

/* LEVEL of N on e1.1 ... with a bitmap, written whole with REF (array bytes, allocated),
 * every bit clean again. */
static void
rig (struct fx *f, enum raid_level level, unsigned n, uint8_t **ref)
{
  *ref = fx_create_filled (f, level, n, MEMBER, CHUNK, REGION);
}

/* The stop comes while an I/O of OP is sent to the held member: the array is told it
 * closes, and the hold ends, which fails that I/O (DOWN: its shelf is declared down; else
 * the I/O fails with EIO while it answers, which would be a disk's own error). */
struct stop_at {
  struct fx *f;
  enum raid_io_op op;
  int down, done;
  unsigned running;             /* requests from above running as it closed */
};

static void
stop_while_held (void *opaque, enum raid_io_op op, uint64_t offset, uint32_t len)
{
  struct stop_at *s = opaque;

  (void) len;
  if (s->done || op != s->op || offset < RAID_DATA_OFFSET)
    return;
  s->done = 1;
  s->running = raid_closing (s->f->a);
  if (s->down)
    raid_mem_member_set_down (s->f->mm[HELD], 1);
  else
    raid_mem_member_fail (s->f->mm[HELD], 1, 1);
}

/* Every member's superblock, read with every member answering again. */
static void
examine_all (struct fx *f, struct raid_sb_summary *sb)
{
  raid_mem_member_set_down (f->mm[HELD], 0);
  raid_mem_member_fail (f->mm[HELD], 0, 0);
  for (unsigned i = 0; i < f->n; i++)
    sb[i] = fx_examined (f, i);
}

/* Stop, and start again from every member, without force. */
static void
restart (struct fx *f)
{
  char err[512] = "";

  fx_close (f);
  raid_mem_member_set_down (f->mm[HELD], 0);
  raid_mem_member_fail (f->mm[HELD], 0, 0);
  cr_assert_not_null (fx_assemble (f, 0, err, sizeof err), "a start without force: %s", err);
}

static const struct level_case closing_levels[] = {
  { RAID_LEVEL_1, 2, 1, 1, 2 }, { RAID_LEVEL_5, 3, 2, 1, 1 }, { RAID_LEVEL_0, 2, 2, 0, 1 },
};

/* A write in flight when the stop comes, cut short on the held member (DOWN: its shelf
 * declared down; else its write failing as a disk's would): the write fails with EIO;
 * every superblock's member states and events are as before (nothing failed, at the stop
 * either: it leaves the array dirty, as a crash); no disk error is counted, no failure
 * noted; a start without force takes every member, resyncs, and reads back every block
 * written before (those of the cut write: old or new). */
static void
write_cut_at_stop (const struct level_case *c, int down)
{
  struct fx f;
  struct raid_sb_summary before[3], after[3];
  struct raid_status st0, st;
  uint8_t *ref, *alt;
  struct stop_at stop = { &f, RAID_IO_WRITE, down, 0, 0 };
  uint64_t seed = 11, stripe;

  rig (&f, c->level, c->n, &ref);
  stripe = (uint64_t) CHUNK * c->k;
  examine_all (&f, before);
  cr_assert_eq (raid_status (f.a, &st0), 0);
  alt = malloc (f.a->size);
  cr_assert_not_null (alt);
  memcpy (alt, ref, f.a->size);
  raid_mem_member_hook (f.mm[HELD], stop_while_held, &stop);
  cr_assert_eq (fx_write_ref (f.a, alt, 4 * stripe, stripe, &seed), -EIO,
                "%s: the write cut short by the stop is not acknowledged",
                raid_level_name (c->level));
  cr_assert (stop.done, "the write reached the held member");
  cr_assert_eq (stop.running, 1, "%u requests said running as it closed", stop.running);
  raid_mem_member_hook (f.mm[HELD], NULL, NULL);
  cr_assert_eq (raid_write (f.a, ref, CHUNK, 0, 0), -EIO, "a write after the stop");

  examine_all (&f, after);
  for (unsigned i = 0; i < c->n; i++)
    cr_assert (!memcmp (after[i].roles, before[i].roles, sizeof before[i].roles),
               "%s, held member %s: e%u.1's superblock records a member state changed",
               raid_level_name (c->level), down ? "down" : "failing", i + 1);
  cr_assert_eq (raid_status (f.a, &st), 0);
  cr_assert_eq (st.notes, st0.notes, "a failure noted");
  for (unsigned i = 0; i < c->n; i++) {
    cr_assert (!st.member[i].failed, "%s: e%u.1 failed", raid_level_name (c->level), i + 1);
    cr_assert_eq (st.member[i].write_errors, 0, "e%u.1: a disk error counted", i + 1);
    cr_assert_eq (st.member[i].read_errors, 0, "e%u.1: a disk error counted", i + 1);
  }

  raid_mem_member_set_down (f.mm[HELD], 1);     /* still away as the server stops */
  fx_close (&f);
  examine_all (&f, after);
  for (unsigned i = 0; i < c->n; i++) {
    cr_assert (!memcmp (after[i].roles, before[i].roles, sizeof before[i].roles),
               "after the close: e%u.1 records a member state changed", i + 1);
    cr_assert_eq (after[i].events, before[i].events, "e%u.1: a superblock written", i + 1);
    cr_assert (!after[i].clean, "e%u.1: marked clean with a write cut short", i + 1);
  }

  restart (&f);
  cr_assert_eq (raid_status (f.a, &st), 0);
  cr_assert_neq (st.state, RAID_STATE_DEGRADED, "a member left out");
  if (c->level != RAID_LEVEL_0) {
    cr_assert (raid_needs_resync (f.a), "dirty: the next start resyncs");
    cr_assert_eq (raid_resync (f.a), 0);
  }
  fx_expect_data (f.a, ref, alt, f.a->size, "after the restart");
  free (alt);
  free (ref);
  fx_free (&f);
}

Test (closing, a_write_cut_short_fails_no_member, .timeout = 60)
{
  for (unsigned i = 0; i < sizeof closing_levels / sizeof closing_levels[0]; i++) {
    write_cut_at_stop (&closing_levels[i], 1);
    write_cut_at_stop (&closing_levels[i], 0);
  }
}

/* Only a read in flight on the held member when the stop comes: no member missed a
 * write, so the close marks the array clean on the members it reaches, the held one
 * one event behind; a start without force takes it, needs no resync and reads back. */
Test (closing, a_read_cut_short_leaves_the_array_clean, .timeout = 60)
{
  for (unsigned l = 0; l < sizeof closing_levels / sizeof closing_levels[0]; l++) {
    const struct level_case *c = &closing_levels[l];
    struct fx f;
    struct raid_sb_summary before[3], after[3];
    struct raid_status st;
    struct stop_at stop = { &f, RAID_IO_READ, 1, 0, 0 };
    uint8_t *ref, buf[CHUNK * 4];

    held = 0;
    rig (&f, c->level, c->n, &ref);
    examine_all (&f, before);
    raid_mem_member_hook (f.mm[HELD], stop_while_held, &stop);
    /* four chunks: one at least on the held member, at every level */
    int rc = raid_read (f.a, buf, sizeof buf, 0);
    cr_assert (stop.done, "%s: the read reached the held member", raid_level_name (c->level));
    cr_assert_eq (rc, -EIO, "%s: the read cut short: %d", raid_level_name (c->level), rc);
    raid_mem_member_hook (f.mm[HELD], NULL, NULL);
    fx_close (&f);

    examine_all (&f, after);
    for (unsigned i = 0; i < c->n; i++) {
      cr_assert (!memcmp (after[i].roles, before[i].roles, sizeof before[i].roles),
                 "%s: e%u.1 records a member state changed", raid_level_name (c->level),
                 i + 1);
      if (i == HELD) {
        cr_assert_eq (after[i].events, before[i].events, "the held member written");
        continue;
      }
      cr_assert_eq (after[i].events, before[i].events + 1, "e%u.1: events", i + 1);
      cr_assert (after[i].clean, "%s: e%u.1 not marked clean", raid_level_name (c->level),
                 i + 1);
    }
    restart (&f);
    cr_assert_eq (raid_status (f.a, &st), 0);
    cr_assert_eq (st.state, RAID_STATE_CLEAN, "%s: the held member left out",
                  raid_level_name (c->level));
    cr_assert (!raid_needs_resync (f.a), "%s: a resync after a clean stop",
               raid_level_name (c->level));
    fx_expect_data (f.a, ref, NULL, f.a->size, "after the restart");
    free (ref);
    fx_free (&f);
  }
}

/* The array takes no change once closing (the control socket may still ask). */
Test (closing, refuses_changes)
{
  struct fx f;
  uint8_t *ref;
  char err[256] = "";

  rig (&f, RAID_LEVEL_1, 2, &ref);
  cr_assert_eq (raid_closing (f.a), 0, "requests said running with none");
  cr_assert_eq (raid_fail_member (f.a, "e2.1", err, sizeof err), -EROFS);
  cr_assert (strstr (err, "closing"), "%s", err);
  cr_assert_eq (raid_flush (f.a), -EIO);
  free (ref);
  fx_free (&f);
}

/* ---- what a write records before its data: the bitmap's bits, the log's entry ---- */

/* The stop comes while the write of the held member's bitmap block (AT: its offset) or,
 * AT 0, its first write past the superblocks (the log entry of a stripe whose parity it
 * holds) is sent: that write fails, the shelf declared down. */
struct stop_at_record {
  struct fx *f;
  unsigned member;
  uint64_t at;
  int done;
};

static void
stop_at_record (void *opaque, enum raid_io_op op, uint64_t offset, uint32_t len)
{
  struct stop_at_record *s = opaque;

  (void) len;
  if (s->done || op != RAID_IO_WRITE || (s->at ? offset != s->at : offset <= RAID_BITMAP_OFFSET))
    return;
  s->done = 1;
  raid_closing (s->f->a);
  raid_mem_member_set_down (s->f->mm[s->member], 1);
}

/* Start again from every member, as the next start does, make consistent what it says
 * (the resync of the bitmap's bits, the log's replay), and check every stripe's
 * redundancy on the members' raw bytes: a region whose data went out to some members
 * only must be one the next start makes consistent, else a later failure rebuilds
 * another member's acknowledged bytes from a parity (or a copy) that does not match. */
static void
restart_consistent (struct fx *f, const struct level_case *c, uint32_t chunk)
{
  restart (f);
  if (raid_needs_resync (f->a))
    cr_assert_eq (raid_resync (f->a), 0);
  fx_check_redundancy (f, c->level, c->k, c->m, c->copies, chunk, NULL);
}

/* A write to a region whose bit is clean, the stop coming while the bitmap block that
 * sets the bit is written to the held member e1.1 (the first slot: the next start reads
 * its bitmap when the events tie).  Its data must not go out to the others without the
 * bit on e1.1: the next start would find the bit clean there and leave the region
 * unlike on the members. */
Test (closing, no_data_goes_out_without_its_bit_on_the_held_member, .timeout = 60)
{
  for (unsigned l = 0; l < 4; l++) {
    const struct level_case *c = &fx_redundant[l];
    struct fx f;
    struct stop_at_record stop = { &f, 0, RAID_BITMAP_OFFSET, 0 };
    uint8_t *ref;
    uint64_t seed = 23;

    held = 0;
    rig (&f, c->level, c->n, &ref);
    cr_assert_eq (bitmap_dirty_bits (f.a), 0, "%s: the bits clean", raid_level_name (c->level));
    raid_mem_member_hook (f.mm[0], stop_at_record, &stop);
    cr_assert_eq (fx_write_ref (f.a, ref, 5 * REGION + CHUNK, CHUNK, &seed), -EIO,
                  "%s: the write cut short", raid_level_name (c->level));
    cr_assert (stop.done, "%s: the bit's block reached the held member",
               raid_level_name (c->level));
    raid_mem_member_hook (f.mm[0], NULL, NULL);
    fx_close (&f);
    restart_consistent (&f, c, CHUNK);
    free (ref);
    fx_free (&f);
  }
  held = 1;
}

/* RAID5 with the partial parity log: a write to one column of a stripe whose parity
 * the held member e1.1 holds, the stop coming while its log entry is written there.  Its
 * data must not go out to the data column without the entry on the parity member: a
 * next start without the member of the column no write touched (dirty and degraded,
 * which the log lets start without force) would rebuild that column's acknowledged bytes
 * from a stale parity: the log's replay does not know the stripe (the write hole it
 * closes). */
Test (closing, no_data_goes_out_without_its_log_entry, .timeout = 60)
{
  struct raid_params p = { .level = RAID_LEVEL_5, .chunk_bytes = CHUNK, .name = "vol",
                           .flags = RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_PPL };
  struct fx f;
  struct stop_at_record stop = { &f, 0, 0, 0 };
  struct raid_member left[2];
  char err[256] = "";
  uint64_t seed = 29, stripe = 0, at;
  uint8_t *ref, buf[CHUNK];

  fx_members (&f, 3, MEMBER);
  f.a = raid_create (&p, f.mem, 3, fx_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "raid_create: %s", err);
  ref = fx_fill (f.a, &seed);
  held = 0;
  restart (&f);                 /* a new generation: no entry of the fill is replayed */
  while (ref_parity_dev (3, 1, stripe, 0) != 0 || ref_data_dev (3, 1, stripe, 1) != 2)
    stripe++;
  at = stripe * 2 * CHUNK;
  raid_mem_member_hook (f.mm[0], stop_at_record, &stop);
  cr_assert_eq (fx_write_ref (f.a, ref, at, 512, &seed), -EIO, "the write cut short");
  cr_assert (stop.done, "the log entry reached the held parity member");
  raid_mem_member_hook (f.mm[0], NULL, NULL);
  fx_close (&f);
  raid_mem_member_set_down (f.mm[0], 0);
  left[0] = f.mem[0];
  left[1] = f.mem[1];
  f.a = raid_assemble (left, 2, 0, fx_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "a start without e3.1: %s", err);
  cr_assert_eq (raid_read (f.a, buf, CHUNK, at + CHUNK), 0);
  cr_assert (!memcmp (buf, ref + at + CHUNK, CHUNK),
             "e3.1's column of stripe %llu, which no write touched, rebuilt wrong",
             (unsigned long long) stripe);
  held = 1;
  free (ref);
  fx_free (&f);
}

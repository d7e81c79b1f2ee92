/* Spares and recovery on in-memory members, for every level with
 * redundancy: a member fails, a spare is added, raid_recover rebuilds the
 * slot; the array's data must equal a reference copy, the rebuilt member's
 * raw bytes must agree with the others' (parity or mirror copies), and the
 * rebuilt member must serve alone where the layout lets it. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <isa-l/crc.h>

#include "raid-test.h"
#include "raid-int.h"

#define CHUNK 4096u

static const struct level_case *const cases = fx_redundant;
#define N_CASES FX_N_REDUNDANT

/* The array, its reference contents, and the spares handed to it. */
struct rig {
  struct fx f;
  const struct level_case *c;
  uint8_t *ref;
  uint64_t size, seed;
  struct raid_mem_member *spare[2], *failed;
};

static void
rig_write (struct rig *r, uint64_t off, uint32_t len)
{
  cr_assert_eq (fx_write_ref (r->f.a, r->ref, off, len, &r->seed), 0, "write at %llu",
                (unsigned long long) off);
}

static void
rig_verify (struct rig *r, const char *when)
{
  fx_expect_data (r->f.a, r->ref, NULL, r->size, when);
}

/* Create the array of case C on members of this size and fill it (its bytes drawn from
 * SEED on). */
static void
rig_filled (struct rig *r, const struct level_case *c, uint64_t member_size, uint64_t seed)
{
  memset (r, 0, sizeof *r);
  r->c = c;
  r->seed = seed;
  fx_members (&r->f, c->n, member_size);
  fx_create_on (&r->f, c->level, c->k, c->m, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  r->size = raid_size (r->f.a);
  r->ref = fx_fill (r->f.a, &r->seed);
}

/* Create the array on members of this size, fill it, fail slot 1 (a write marks
 * it faulty). */
static void
rig_setup_sized (struct rig *r, const struct level_case *c, uint64_t member_size)
{
  rig_filled (r, c, member_size, 42 + c->level);
  raid_mem_member_set_down (r->f.mm[1], 1);
  rig_write (r, 0, 64 * 1024);
  r->spare[0] = raid_mem_member_new ("e9.1", member_size);
  r->spare[1] = raid_mem_member_new ("e10.1", member_size);
}

static void
rig_setup (struct rig *r, const struct level_case *c)
{
  rig_setup_sized (r, c, FX_MEMBER_SIZE);
}

static void
rig_add (struct rig *r, unsigned i)
{
  struct raid_member m = raid_mem_member (r->spare[i]);
  char err[256] = "";

  cr_assert_eq (raid_add_member (r->f.a, &m, err, sizeof err), 0, "add: %s", err);
}

/* The spare now sits in slot 1: swap it into the fixture so fx_check_redundancy
 * and reassembly see it. */
static void
rig_adopt (struct rig *r, unsigned i)
{
  r->failed = r->f.mm[1];
  r->f.mm[1] = r->spare[i];
  r->f.mem[1] = raid_mem_member (r->spare[i]);
  r->spare[i] = NULL;
}

static void
rig_check_done (struct rig *r, const char *spare_name)
{
  struct raid_status st;

  raid_status (r->f.a, &st);
  cr_assert_eq (st.state, RAID_STATE_CLEAN, "not clean after recovery");
  cr_assert_eq (st.recovery_slot, -1);
  cr_assert_eq (st.member[1].role, RAID_ROLE_ACTIVE);
  cr_assert_str_eq (st.member[1].name, spare_name);
  cr_assert_eq (raid_recovery_pending (r->f.a), 0);
  rig_verify (r, "after recovery");
  fx_check_redundancy (&r->f, r->c->level, r->c->k, r->c->m, r->c->copies, CHUNK, NULL);
}

/* Assemble the rig's members (r->f.mem) again: the array must start. */
static void
rig_assemble (struct rig *r)
{
  char err[256] = "";

  cr_assert_not_null (fx_assemble (&r->f, 0, err, sizeof err), "assemble: %s", err);
}

/* Spare I (named NAME) rebuilt slot 1: adopt it, and the array must be done with it. */
static void
rig_adopt_done (struct rig *r, unsigned i, const char *name)
{
  rig_adopt (r, i);
  rig_check_done (r, name);
}

static void
rig_free (struct rig *r)
{
  fx_free (&r->f);
  for (unsigned i = 0; i < 2; i++)
    if (r->spare[i])
      raid_mem_member_free (r->spare[i]);
  if (r->failed)
    raid_mem_member_free (r->failed);
  free (r->ref);
}

/* The rebuilt member must carry data on its own: fail every other member
 * the layout can lose, then read everything. */
static void
rig_lean_on_rebuilt (struct rig *r)
{
  unsigned can_lose = r->c->m ? r->c->m : r->c->copies - 1, lost = 0;

  for (unsigned i = 0; i < r->c->n && lost < can_lose; i++) {
    if (i == 1 || (r->c->level == RAID_LEVEL_10 && i == 0))
      continue;           /* raid10: slot 0 mirrors slot 1 */
    raid_mem_member_set_down (r->f.mm[i], 1);
    lost++;
  }
  rig_verify (r, "served with the rebuilt member and the fewest others");
}

Test (recover, every_level)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    struct rig r;
    struct raid_status st;
    rig_setup (&r, &cases[i]);
    raid_status (r.f.a, &st);
    cr_assert_eq (st.state, RAID_STATE_DEGRADED);
    cr_assert_eq (raid_recovery_pending (r.f.a), 0, "no spare yet: nothing to do");
    cr_assert_eq (raid_recover (r.f.a), -EAGAIN);
    rig_add (&r, 0);
    {
      struct raid_member sm = raid_mem_member (r.spare[0]);
      struct raid_sb_summary sb;
      cr_assert_eq (raid_examine (&sm, &sb), 0);
      cr_assert_eq (sb.state, RAID_SB_OK);
      cr_assert_eq (sb.role, RAID_SB_ROLE_SPARE, "a spare's superblock says spare");
      cr_assert_eq (sb.roles[1], RAID_ROLE_FAULTY);
    }
    raid_status (r.f.a, &st);
    cr_assert_eq (st.spares, 1);
    cr_assert_str_eq (st.spare[0], "e9.1");
    cr_assert_eq (raid_recovery_pending (r.f.a), 1);
    cr_assert_eq (raid_recover (r.f.a), 0, "%s: recover", raid_level_name (cases[i].level));
    rig_adopt_done (&r, 0, "e9.1");
    raid_status (r.f.a, &st);
    cr_assert_eq (st.spares, 0);
    rig_lean_on_rebuilt (&r);
    rig_free (&r);
  }
}

/* A degraded array, still serving, takes a spare into each missing slot at once, however
 * many it misses (a failed array takes none: raid-failed.c): every level losing all it
 * may, one slot per pair in a raid10 (slots 1 and 3, each a pair half gone), two slots of
 * a raid6 and a k+m of m 2, each rebuilt onto its own spare in turn. */
Test (recover, a_degraded_array_takes_a_spare_into_each_missing_slot)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    const struct level_case *c = &cases[i];
    unsigned lose = c->m ? c->m : c->level == RAID_LEVEL_10 ? 2 : c->copies - 1;
    unsigned second = c->level == RAID_LEVEL_10 ? 3 : 2;
    const char *name = raid_level_name (c->level);
    struct raid_status st;
    struct rig r;

    rig_setup (&r, c);                  /* slot 1 faulty */
    if (lose > 1) {
      raid_mem_member_set_down (r.f.mm[second], 1);
      rig_write (&r, 0, 64 * 1024);
    }
    raid_status (r.f.a, &st);
    cr_assert_eq (st.state, RAID_STATE_DEGRADED, "%s: not degraded", name);
    for (unsigned k = 0; k < lose; k++)
      rig_add (&r, k);
    for (unsigned k = 0; k < lose; k++) {
      cr_assert_eq (raid_recovery_pending (r.f.a), 1, "%s: spare %u waits", name, k);
      cr_assert_eq (raid_recover (r.f.a), 0, "%s: recovery %u", name, k);
    }
    raid_status (r.f.a, &st);
    cr_assert_eq (st.state, RAID_STATE_CLEAN, "%s: not whole after %u recoveries", name,
                  lose);
    cr_assert_eq (st.spares, 0, "%s: a spare left", name);
    cr_assert_str_eq (st.member[1].name, "e9.1", "%s", name);
    if (lose > 1)
      cr_assert_str_eq (st.member[second].name, "e10.1", "%s", name);
    rig_verify (&r, name);
    /* the rebuilt ones carry data: as many others out as may be (raid10: their mirrors) */
    for (unsigned k = 0, out = 0; k < c->n && out < lose; k++)
      if (c->level == RAID_LEVEL_10 ? k == 0 || k == 2 : k != 1 && !(lose > 1 && k == second)) {
        raid_mem_member_set_down (r.f.mm[k], 1);
        out++;
      }
    rig_verify (&r, "served by the rebuilt members and the fewest others");
    rig_free (&r);
  }
}

/* W, a writer over the whole array (its bytes kept in the rig's reference copy), from
 * SEED on, at least MIN_WRITES writes. */
static void
rig_writer (struct rig *r, struct fx_writer *w, uint64_t seed, unsigned min_writes)
{
  memset (w, 0, sizeof *w);
  w->a = r->f.a;
  w->ref = r->ref;
  w->size = r->size;
  w->seed = seed;
  w->min_writes = min_writes;
}

/* RUN (raid_recover, raid_replace) onto spare 0, to its end, while W writes from a thread
 * of MAIN's; every member and the spare take DELAY_US an I/O, so that the writes meet it. */
static void
rig_run_under_writes (struct rig *r, int (*run) (struct raid_array *), struct fx_writer *w,
                      void *(*main) (void *), unsigned delay_us)
{
  for (unsigned j = 0; j < r->c->n; j++)
    raid_mem_member_delay (r->f.mm[j], delay_us);
  raid_mem_member_delay (r->spare[0], delay_us);
  fx_writer_start (w, main, 0);
  cr_assert_eq (run (r->f.a), 0, "%s", raid_level_name (r->c->level));
  fx_writer_stop (w);
}

Test (recover, concurrent_writes)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    struct rig r;
    struct fx_writer w;

    rig_setup (&r, &cases[i]);
    rig_add (&r, 0);
    rig_writer (&r, &w, 7, 20);
    rig_run_under_writes (&r, raid_recover, &w, fx_writer_main, 50);
    rig_adopt_done (&r, 0, "e9.1");
    rig_lean_on_rebuilt (&r);
    rig_free (&r);
  }
}

/* raid_recover or raid_resync on a thread of its own; ended is set once it returned. */
struct recoverer {
  struct raid_array *a;
  int (*run) (struct raid_array *);
  int rc;
  atomic_int ended;
};

static void *
recover_main (void *arg)
{
  struct recoverer *rc = arg;

  rc->rc = (rc->run ? rc->run : raid_recover) (rc->a);
  atomic_store (&rc->ended, 1);
  return NULL;
}

/* Where the replace or the recovery of SLOT (-1: any slot) is, in units; -1: none runs. */
static int64_t
run_position (const struct raid_status *st, int slot)
{
  if (st->replace_slot >= 0 && (slot < 0 || st->replace_slot == slot))
    return (int64_t) st->replace_offset;
  if (st->recovery_slot >= 0 && (slot < 0 || st->recovery_slot == slot))
    return (int64_t) st->recovery_offset;
  return -1;
}

/* run_position read from the array's atomics alone: a member's hook may run under
 * sb_lock (a checkpoint's superblock writes), where raid_status would wait for itself. */
static int64_t
run_position_now (struct raid_array *a, int slot)
{
  int replacing = atomic_load (&a->repl.slot);

  if (replacing >= 0 && (slot < 0 || replacing == slot))
    return (int64_t) atomic_load (&a->repl.pos);
  for (unsigned i = 0; i < a->lay.g.n; i++)
    if (atomic_load (&a->slot[i].recovering) && (slot < 0 || (int) i == slot))
      return (int64_t) atomic_load (&a->recovery_offset);
  return -1;
}

/* A run's trigger: the first member I/O once the run is at or past unit at cancels it. */
struct cancel_point { struct raid_array *a; int slot; uint64_t at; };

static void
cancel_hook (void *opaque, enum raid_io_op op, uint64_t offset, uint32_t len)
{
  struct cancel_point *cp = opaque;

  (void) op, (void) offset, (void) len;
  if (run_position_now (cp->a, cp->slot) >= (int64_t) cp->at)
    raid_resync_cancel (cp->a);
}

static void
rig_hooks (struct rig *r, raid_mem_hook_fn *fn, void *opaque)
{
  for (unsigned j = 0; j < r->f.n; j++)
    raid_mem_member_hook (r->f.mm[j], fn, opaque);
  for (unsigned i = 0; i < 2; i++)
    if (r->spare[i])
      raid_mem_member_hook (r->spare[i], fn, opaque);
}

/* Run RUN (raid_recover, raid_replace) on a thread until its work on SLOT (-1: any) has
 * reached unit AT (below its last window), then cancel it: it must end cancelled, not
 * done.  The cancel comes from the run's own next member I/O once it is there, so a test
 * thread run late cannot let it finish first; this thread cancels too, for a run that
 * naps under its speed limits with no I/O. */
static void
rig_cancel_at (struct rig *r, int (*run) (struct raid_array *), int slot, uint64_t at)
{
  struct recoverer rc = { .a = r->f.a, .run = run };
  struct cancel_point cp = { .a = r->f.a, .slot = slot, .at = at };
  struct raid_status st;
  pthread_t t;

  rig_hooks (r, cancel_hook, &cp);
  cr_assert_eq (pthread_create (&t, NULL, recover_main, &rc), 0);
  do {
    usleep (500);
    raid_status (r->f.a, &st);
  } while (run_position (&st, slot) < (int64_t) at && !atomic_load (&rc.ended));
  raid_resync_cancel (r->f.a);
  pthread_join (t, NULL);
  rig_hooks (r, NULL, NULL);
  cr_assert_eq (rc.rc, -ECANCELED, "the run ended before the cancel: %d (%s)", rc.rc,
                r->f.last_warning);
}

/* Cancel in mid-recovery, close, assemble again: recovery resumes from the
 * checkpoint, reads meanwhile come from the others, and it completes.  (Members
 * of 1 MiB data: many recovery windows.) */
Test (recover, cancel_and_resume)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    struct rig r;
    struct raid_status st;
    uint64_t stopped, units;

    rig_setup_sized (&r, &cases[i], RAID_DATA_OFFSET + 1024 * 1024);
    rig_add (&r, 0);
    raid_mem_member_delay (r.spare[0], 2000);
    rig_cancel_at (&r, raid_recover, -1, 3);
    raid_status (r.f.a, &st);
    stopped = st.recovery_offset;
    units = st.resync_units;
    cr_assert (stopped >= 3 && stopped < units, "stopped at %llu of %llu",
               (unsigned long long) stopped, (unsigned long long) units);
    raid_mem_member_delay (r.spare[0], 0);
    rig_adopt (&r, 0);
    fx_close (&r.f);
    {
      struct raid_sb_summary sb;
      cr_assert_eq (raid_examine (&r.f.mem[1], &sb), 0);
      cr_assert_eq (sb.role, 1);
      cr_assert_eq (sb.roles[1], RAID_ROLE_RECOVERING);
      cr_assert_eq (sb.recovery_offset, stopped, "checkpoint saved at the cancel");
      cr_assert_eq (sb.clean, 1);
    }

    rig_assemble (&r);
    cr_expect (strstr (r.f.last_warning, "running degraded: slot 1 recovering;") != NULL,
               "the slot still to rebuild is not named: %s", r.f.last_warning);
    raid_status (r.f.a, &st);
    cr_assert_eq (st.recovery_slot, 1, "the rebuilt slot is still recovering");
    cr_assert_eq (st.recovery_offset, stopped, "resumes at the checkpoint");
    cr_assert_eq (st.state, RAID_STATE_DEGRADED);
    rig_verify (&r, "during recovery");       /* not yet rebuilt parts: from the others */
    uint64_t wrote = fx_recover_writes (r.f.a, r.f.mm[1]);
    cr_assert (wrote < units * CHUNK, "resumed, not restarted: wrote %llu bytes",
               (unsigned long long) wrote);
    rig_check_done (&r, "e9.1");
    rig_free (&r);
  }
}

/* fail of another member while a slot is rebuilt onto a spare, where the array cannot
 * lose both: refused, naming the recovery to wait for (it said "rebuild or add the missing
 * ones first", while the rebuild ran and nothing was missing to add).  Every level with
 * one failure to spare: raid1 of 2, raid5 of 3, raid10 of 4 (slot 0: slot 1's mirror). */
Test (recover, a_fail_during_a_recovery_says_to_wait_for_it)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    struct rig r;
    char err[512] = "";

    if (cases[i].level == RAID_LEVEL_6 || cases[i].level == RAID_LEVEL_EC)
      continue;
    rig_setup_sized (&r, &cases[i], RAID_DATA_OFFSET + 1024 * 1024);
    rig_add (&r, 0);
    raid_mem_member_delay (r.spare[0], 2000);
    rig_cancel_at (&r, raid_recover, -1, 3);
    raid_mem_member_delay (r.spare[0], 0);
    cr_assert_eq (raid_fail_member (r.f.a, "e1.1", err, sizeof err), -EBUSY, "%s: %s",
                  raid_level_name (cases[i].level), err);
    cr_assert (strstr (err, "without the members it needs: slot 1 is being rebuilt onto "
                       "e9.1; fail e1.1 once that recovery has finished"), "%s: %s",
               raid_level_name (cases[i].level), err);
    rig_adopt (&r, 0);
    rig_free (&r);
  }
}

/* Every write MM took at META (a superblock's, a bitmap block's) follows a flush of the
 * data writes it took before it, as md's PREFLUSH has it; at least MIN such writes. */
static void
expect_flushed_before (struct raid_mem_member *mm, uint64_t meta, unsigned min,
                       const char *when)
{
  struct raid_mem_op ops[1024];
  unsigned n = raid_mem_member_trace (mm, ops, 1024), unflushed = 0, records = 0;

  cr_assert (n < 1024, "%s: the trace is cut short", when);
  for (unsigned j = 0; j < n; j++) {
    if (ops[j].op == RAID_IO_FLUSH)
      unflushed = 0;
    else if (ops[j].op == RAID_IO_WRITE && ops[j].offset >= RAID_DATA_OFFSET)
      unflushed++;
    else if (ops[j].op == RAID_IO_WRITE && ops[j].offset == meta) {
      cr_assert_eq (unflushed, 0, "%s: I/O %u, a write at %llu, follows %u data writes not "
                    "flushed", when, j, (unsigned long long) meta, unflushed);
      records++;
    }
  }
  cr_assert (records >= min, "%s: %u writes at %llu, not %u", when, records,
             (unsigned long long) meta, min);
}

/* A recovery onto a member with a write cache: every superblock write follows a flush of
 * whatever it took before (md writes superblocks PREFLUSH|FUA).  Else a power cut that
 * kept the record of how far the recovery got (its cache wrote it back first) and lost
 * the rest would leave the record pointing past bytes never rebuilt. */
Test (recover, a_checkpoint_follows_a_flush_of_the_rebuilt_bytes_on_a_cached_member)
{
  for (unsigned i = 0; i < 2; i++) {
    struct rig r;

    rig_setup_sized (&r, &cases[i], RAID_DATA_OFFSET + 1024 * 1024);
    cr_assert_eq (raid_mem_member_cache (r.spare[0], 1), 0);
    rig_add (&r, 0);
    raid_mem_member_delay (r.spare[0], 2000);
    rig_cancel_at (&r, raid_recover, -1, 3);
    /* the add's superblock, the checkpoint's */
    expect_flushed_before (r.spare[0], RAID_SB_OFFSET, 2, cases[i].level ? "raid5" : "raid1");
    raid_mem_member_delay (r.spare[0], 0);
    rig_free (&r);
  }
}

/* A checkpoint whose flush of the recovering member fails (its shelf went down, and the
 * chunks rebuilt since the last checkpoint were lost with its cache), the host dying
 * after the others took the checkpoint's first superblock.  They must not say the member
 * was rebuilt that far (md keeps a recovery's offset in the member's own superblock
 * alone): a failed preflush is a failed write, recorded before any record goes out. */
Test (recover, a_checkpoint_whose_flush_failed_is_not_trusted_after_a_crash)
{
  struct rig r;
  struct raid_status st;
  uint64_t at, trusted;

  rig_setup_sized (&r, &cases[0], RAID_DATA_OFFSET + 1024 * 1024);     /* raid1 of 2 */
  cr_assert_eq (raid_mem_member_cache (r.spare[0], 1), 0);
  rig_add (&r, 0);
  raid_mem_member_delay (r.spare[0], 2000);
  rig_cancel_at (&r, raid_recover, -1, 3);
  raid_mem_member_delay (r.spare[0], 0);
  raid_status (r.f.a, &st);
  at = st.recovery_offset;
  cr_assert (at + 32 < st.resync_units, "recovery at %llu", (unsigned long long) at);
  /* 32 units more rebuilt into its cache, which its shelf loses as it goes down */
  atomic_store (&r.f.a->recovery_offset, at + 32);
  raid_mem_member_set_down (r.spare[0], 1);
  raid_mem_member_lose_cache (r.spare[0], 0, RAID_DATA_OFFSET + 1024 * 1024);
  raid_mem_member_fail_after (r.f.mm[0], 1);        /* the host dies after one more I/O */
  array_checkpoint (r.f.a);
  fx_close (&r.f);
  raid_mem_member_set_down (r.f.mm[0], 0);
  raid_mem_member_set_down (r.spare[0], 0);
  rig_adopt (&r, 0);
  rig_assemble (&r);
  raid_status (r.f.a, &st);
  trusted = st.member[1].role == RAID_ROLE_RECOVERING ? st.recovery_offset
    : st.member[1].role == RAID_ROLE_ACTIVE ? st.resync_units : 0;
  cr_assert (!memcmp (raid_mem_member_data (r.f.mm[0]) + RAID_DATA_OFFSET,
                      raid_mem_member_data (r.f.mm[1]) + RAID_DATA_OFFSET, trusted * CHUNK),
             "e9.1 is trusted below unit %llu, but holds only what it had at unit %llu",
             (unsigned long long) trusted, (unsigned long long) at);
  rig_free (&r);
}

/* Recovery writes one window while it reads the next, the next window locked before
 * the one before it is let go.  A writer hammers the units at window boundaries (every
 * 16 units), and above all the boundary where the stripe lock buckets wrap (unit 255 to
 * 256: a write there takes bucket 0 before bucket 255), besides writes anywhere: no
 * deadlock, and the rebuilt member ends up with every write. */
struct edge_writer {
  struct fx_writer w;           /* first: the thread is given &w */
  uint64_t unit_bytes;          /* a unit of the layout */
};

static void *
edge_writer_main (void *arg)
{
  struct edge_writer *e = arg;
  struct fx_writer *w = &e->w;
  uint64_t units = w->size / e->unit_bytes;

  while (!atomic_load (&w->stop) || w->writes < w->min_writes) {
    uint64_t edge = (w->writes % 2 ? 256 : 16 * (1 + rnd (&w->seed) % (units / 16 - 1)));
    uint64_t off = edge * e->unit_bytes - 512 * (1 + rnd (&w->seed) % 4);
    uint32_t len = 512 * (2 + rnd (&w->seed) % 8);
    if (w->writes % 3 == 2)           /* anywhere */
      off = (rnd (&w->seed) % (w->size / 512)) * 512;
    if (len > w->size - off)
      len = w->size - off;
    fill_random (w->ref + off, len, &w->seed);
    if (raid_write (w->a, w->ref + off, len, off, 0) != 0) {
      atomic_store (&w->failed, 1);
      break;
    }
    w->writes++;
  }
  return NULL;
}

Test (recover, writes_race_the_pipeline_at_window_edges, .timeout = 60)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    struct rig r;
    struct edge_writer e;

    /* 2 MiB per member: past unit 256, where the buckets wrap */
    rig_setup_sized (&r, &cases[i], RAID_DATA_OFFSET + 2 * 1024 * 1024);
    rig_writer (&r, &e.w, 11, 50);
    e.unit_bytes = (uint64_t) (cases[i].m ? cases[i].k : 1) * CHUNK;
    rig_add (&r, 0);
    rig_run_under_writes (&r, raid_recover, &e.w, edge_writer_main, 20);
    rig_adopt_done (&r, 0, "e9.1");
    rig_lean_on_rebuilt (&r);
    rig_free (&r);
  }
}

/* A source that cannot be read in a window read while the window before it is written:
 * the recovery stops at the start of that window (the one before is written and the
 * recovery point passed it; not the one that failed), the checkpoint says so, and once
 * the source reads again the recovery resumes there and completes. */
Test (recover, a_source_failing_mid_pipeline_stops_at_its_window)
{
  for (unsigned i = 0; i < 2; i++) {       /* raid1 of 2, raid5 of 3: nothing else to read */
    const uint64_t bad = 40;
    struct rig r;
    struct raid_status st;
    struct raid_sb_summary sb;
    uint64_t stopped;
    rig_setup_sized (&r, &cases[i], RAID_DATA_OFFSET + 1024 * 1024);
    rig_add (&r, 0);
    raid_mem_member_bad_range (r.f.mm[0], RAID_DATA_OFFSET + bad * CHUNK, CHUNK);
    cr_assert_eq (raid_recover (r.f.a), -EIO, "%s", raid_level_name (cases[i].level));
    raid_status (r.f.a, &st);
    stopped = st.recovery_offset;
    cr_assert (stopped <= bad && bad - stopped < 16, "%s: stopped at %llu, the bad unit is %llu",
               raid_level_name (cases[i].level), (unsigned long long) stopped,
               (unsigned long long) bad);
    cr_assert_eq (st.recovery_slot, 1, "the new member is still recovering");
    cr_assert_eq (raid_examine (&r.f.mem[0], &sb), 0);
    cr_assert_eq (sb.recovery_offset, stopped, "checkpoint saved where it stopped");
    raid_mem_member_bad_range (r.f.mm[0], 0, 0);
    uint64_t wrote = fx_recover_writes (r.f.a, r.spare[0]);
    cr_assert (wrote < st.resync_units * CHUNK, "resumed, not restarted");
    rig_adopt_done (&r, 0, "e9.1");
    rig_free (&r);
  }
}

/* The replacement fails in mid-recovery: it is marked faulty, the array
 * stays degraded and serving; the next spare completes the job. */
Test (recover, replacement_fails_midway)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    struct rig r;
    struct raid_status st;
    rig_setup (&r, &cases[i]);
    rig_add (&r, 0);
    rig_add (&r, 1);
    raid_mem_member_fail_after (r.spare[0], 12);
    cr_assert_eq (raid_recover (r.f.a), -EIO);
    raid_status (r.f.a, &st);
    cr_assert_eq (st.state, RAID_STATE_DEGRADED);
    cr_assert_eq (st.member[1].role, RAID_ROLE_FAULTY);
    cr_assert_eq (st.spares, 1);
    rig_verify (&r, "after the replacement failed");
    cr_assert_eq (raid_recovery_pending (r.f.a), 1);
    cr_assert_eq (raid_recover (r.f.a), 0);
    rig_adopt_done (&r, 1, "e10.1");
    rig_free (&r);
  }
}

/* Spares are found at assembly by their superblocks and take over a slot
 * that went missing while the array was stopped. */
Test (recover, spare_found_at_assembly)
{
  struct rig r;
  struct raid_status st;

  rig_setup (&r, &cases[1]);
  rig_add (&r, 0);
  rig_adopt (&r, 0);     /* slot 1's member is now the spare: assemble e1, e9, e3 */
  fx_close (&r.f);
  rig_assemble (&r);
  raid_status (r.f.a, &st);
  cr_assert_eq (st.spares, 1);
  cr_assert_str_eq (st.spare[0], "e9.1");
  cr_assert_eq (st.member[1].role, RAID_ROLE_MISSING);
  cr_assert_eq (raid_recovery_pending (r.f.a), 1);
  cr_assert_eq (raid_recover (r.f.a), 0);
  rig_check_done (&r, "e9.1");
  fx_close (&r.f);
  /* and after a restart it is an ordinary active member */
  rig_assemble (&r);
  raid_status (r.f.a, &st);
  cr_assert_eq (st.state, RAID_STATE_CLEAN);
  cr_assert_eq (st.spares, 0);
  rig_verify (&r, "after restart");
  rig_free (&r);
}

/* A spare whose member is down is not rebuilt onto (its first write would fail the
 * rebuild): the next spare that is up is; with only down spares there is no recovery to
 * run until one comes back. */
Test (recover, a_down_spare_is_passed_over)
{
  struct rig r;
  struct raid_status st;

  rig_setup (&r, &cases[1]);
  rig_add (&r, 0);
  raid_mem_member_set_down (r.spare[0], 1);
  cr_assert_eq (raid_recovery_pending (r.f.a), 0, "only a down spare: nothing to run");
  raid_status (r.f.a, &st);
  cr_assert_eq (st.spares, 1, "a down spare is still listed");
  raid_mem_member_set_down (r.spare[0], 0);
  cr_assert_eq (raid_recovery_pending (r.f.a), 1, "the spare is back");
  rig_add (&r, 1);
  raid_mem_member_set_down (r.spare[0], 1);     /* the first spare dies again */
  cr_assert_eq (raid_recovery_pending (r.f.a), 1);
  cr_assert_eq (raid_recover (r.f.a), 0);
  rig_adopt_done (&r, 1, "e10.1");
  rig_free (&r);
}

/* The failed member's shelf comes back while the array is stopped, after a spare took
 * its slot: listed again at the next start, it is left out as stale (its superblock,
 * never written since it failed, still names the slot), not a reason to refuse. */
Test (recover, a_member_replaced_while_away_is_left_out)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    struct rig r;
    struct raid_member all[RAID_MAX_MEMBERS + 1];
    char err[256] = "";

    rig_setup (&r, &cases[i]);
    rig_add (&r, 0);
    cr_assert_eq (raid_recover (r.f.a), 0);
    rig_adopt (&r, 0);
    fx_close (&r.f);
    raid_mem_member_set_down (r.failed, 0);
    memcpy (all, r.f.mem, r.f.n * sizeof *all);
    all[r.f.n] = raid_mem_member (r.failed);
    r.f.a = raid_assemble (all, r.f.n + 1, 0, fx_log, &r.f, err, sizeof err);
    cr_assert_not_null (r.f.a, "%s: refused: %s", raid_level_name (cases[i].level), err);
    cr_assert (strstr (r.f.last_warning, "member e2.1 left slot 1, which another member "
                       "holds since"), "%s", r.f.last_warning);
    rig_check_done (&r, "e9.1");
    rig_free (&r);
  }
}

Test (recover, add_refusals)
{
  struct rig r, other;
  struct raid_mem_member *small = raid_mem_member_new ("e11.1", RAID_DATA_OFFSET);
  struct raid_member m;
  char err[256] = "";

  rig_setup (&r, &cases[1]);
  m = r.f.mem[0];
  cr_assert_eq (raid_add_member (r.f.a, &m, err, sizeof err), -EEXIST);
  cr_assert (strstr (err, "member e1.1 is already in the array: a working member"), "%s", err);
  m = raid_mem_member (small);
  cr_assert_eq (raid_add_member (r.f.a, &m, err, sizeof err), -EINVAL);
  /* says what to do, and calls the shelf added a shelf: it is no member */
  cr_assert (strstr (err, "e11.1 is too small") && strstr (err, "add a shelf of at least"),
             "%s", err);
  rig_setup (&other, &cases[0]);      /* another array's member */
  m = other.f.mem[0];
  cr_assert_eq (raid_add_member (r.f.a, &m, err, sizeof err), -EINVAL);
  cr_assert (strstr (err, "another array"), "%s", err);
  /* its own stale member (slot 1, failed) is welcome back as a spare */
  raid_mem_member_set_down (r.f.mm[1], 0);
  m = r.f.mem[1];
  cr_assert_eq (raid_add_member (r.f.a, &m, err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_recover (r.f.a), 0);
  rig_check_done (&r, "e2.1");
  raid_mem_member_free (small);
  rig_free (&other);
  rig_free (&r);
}

/* Sources with bad sectors: recovery reads more columns and decodes (parity) or
 * takes another copy (a three-way mirror). */
Test (recover, source_read_errors)
{
  static const struct level_case more[] = {
    { RAID_LEVEL_6, 4, 2, 2, 1 },
    { RAID_LEVEL_EC, 5, 3, 2, 1 },
    { RAID_LEVEL_1, 3, 1, 0, 3 },
  };
  for (unsigned i = 0; i < sizeof more / sizeof more[0]; i++) {
    struct rig r;
    rig_setup (&r, &more[i]);
    rig_add (&r, 0);
    raid_mem_member_bad_range (r.f.mm[0], RAID_DATA_OFFSET + 8 * CHUNK, CHUNK);
    raid_mem_member_bad_range (r.f.mm[2], RAID_DATA_OFFSET + 20 * CHUNK, 2 * CHUNK);
    cr_assert_eq (raid_recover (r.f.a), 0, "%s: recover", raid_level_name (more[i].level));
    rig_adopt_done (&r, 0, "e9.1");
    rig_free (&r);
  }
}

/* ---- speed limits (md: speed_limit_min / speed_limit_max) ------------- */

static double
secs_since (const struct timespec *t0)
{
  struct timespec t;

  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double) (t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

Test (pace, limit_rules)
{
  /* idle: max; busy: min when it is set and below max; 0 = no limit */
  cr_assert_eq (pace_limit (0, 1000, 5000), 5000);
  cr_assert_eq (pace_limit (1, 1000, 5000), 1000);
  cr_assert_eq (pace_limit (1, 0, 5000), 5000);
  cr_assert_eq (pace_limit (1, 9000, 5000), 5000, "min above max: max rules");
  cr_assert_eq (pace_limit (1, 1000, 0), 1000, "busy, no max: min");
  cr_assert_eq (pace_limit (0, 1000, 0), 0, "idle, no max: no limit");
  cr_assert_eq (pace_due_us (7, 123456, 0), 7, "no limit: paid at once");
  cr_assert_eq (pace_due_us (100, 1000000, 2000000), 500100, "1 MB at 2 MB/s: half a second");
}

/* md's sync speed: the bytes moved since the oldest of the last marks (one every 3 s,
 * ten kept), not since the run began; none before a start, none a moment after. */
Test (pace, rate_counts_the_last_half_minute)
{
  struct pace_marks m = { .n = 0 };
  uint64_t t = 5000000, moved = 7 << 20, s;

  pace_mark (&m, t, moved);
  cr_assert_eq (pace_rate (&m, t + 1000000, moved), -1, "no start: no rate");
  pace_marks_start (&m, t, moved);
  cr_assert_eq (pace_rate (&m, t + 100000, moved + 1000), -1, "a moment after the start");
  cr_assert_float_eq (pace_rate (&m, t + 1000000, moved + 2000000), 2e6, 1,
                      "2 MB in the first second");
  /* an hour at 100 MB/s, marked at each step of 1 s (a mark every 3 s) ... */
  for (s = 1; s <= 3600; s++)
    pace_mark (&m, t + s * 1000000, moved + s * 100000000);
  cr_assert_eq (m.n, PACE_MARKS, "marks kept: %u", m.n);
  cr_assert (m.us[PACE_MARKS - 1] - m.us[0] == (PACE_MARKS - 1) * 3000000ull,
             "marks 3 s apart: %llu us from the oldest to the newest",
             (unsigned long long) (m.us[PACE_MARKS - 1] - m.us[0]));
  moved += 3600 * 100000000ull;
  t += 3600 * 1000000ull;
  /* ... then throttled to 1 MB/s: within half a minute the rate is the new one */
  for (s = 1; s <= 40; s++)
    pace_mark (&m, t + s * 1000000, moved + s * 1000000);
  double rate = pace_rate (&m, t + 40 * 1000000ull, moved + 40 * 1000000ull);
  cr_assert (rate > 0.9e6 && rate < 1.1e6, "40 s after the hour at 100 MB/s, 1 MB/s since: "
             "%.0f B/s", rate);
  /* nothing moves: the rate falls to 0 */
  rate = pace_rate (&m, t + 100 * 1000000ull, moved + 40 * 1000000ull);
  cr_assert (rate >= 0 && rate < 0.6e6, "60 s of nothing moved: %.0f B/s", rate);
  /* a new run starts over */
  pace_marks_start (&m, t + 200 * 1000000ull, moved);
  cr_assert_eq (m.n, 1);
  cr_assert_float_eq (pace_rate (&m, t + 202 * 1000000ull, moved + 1000000), 0.5e6, 1);
}

/* Members of 1 MiB of data: 256 units of 4 KiB, 1 MiB rebuilt. */
#define PACED_MEMBER (RAID_DATA_OFFSET + 1024 * 1024)

Test (pace, max_speed_holds_an_idle_rebuild)
{
  struct rig r;
  struct timespec t0;
  uint64_t lo, hi;

  rig_setup_sized (&r, &cases[0], PACED_MEMBER);
  raid_set_sync_speed (r.f.a, 0, 4u << 20);
  raid_get_sync_speed (r.f.a, &lo, &hi);
  cr_assert (lo == 0 && hi == 4u << 20);
  rig_add (&r, 0);
  clock_gettime (CLOCK_MONOTONIC, &t0);
  cr_assert_eq (raid_recover (r.f.a), 0);
  /* 1 MiB at 4 MiB/s is 0.25 s, less the 0.1 s of credit an idle start may spend. */
  cr_assert (secs_since (&t0) >= 0.14, "1 MiB rebuilt in %.3f s under a 4 MiB/s limit",
             secs_since (&t0));
  rig_adopt_done (&r, 0, "e9.1");
  rig_free (&r);
}

struct reader { struct rig *r; atomic_int stop; atomic_uint reads; };

static void *
reader_main (void *arg)
{
  struct reader *rd = arg;
  uint8_t buf[4096];

  while (!atomic_load (&rd->stop)) {
    uint64_t off = atomic_fetch_add (&rd->reads, 1) * 4096ull % rd->r->size;
    cr_assert_eq (raid_read (rd->r->f.a, buf, sizeof buf, off), 0);
  }
  return NULL;
}

/* With no max, a rebuild beside foreground reads keeps to min; the data is right. */
Test (pace, min_speed_holds_while_busy)
{
  struct rig r;
  struct reader rd = { .r = &r };
  struct timespec t0;
  pthread_t t;

  rig_setup_sized (&r, &cases[1], PACED_MEMBER);    /* raid5 of 3: 256 stripes */
  raid_set_sync_speed (r.f.a, 4u << 20, 0);
  rig_add (&r, 0);
  cr_assert_eq (pthread_create (&t, NULL, reader_main, &rd), 0);
  while (atomic_load (&rd.reads) < 10)
    usleep (1000);
  clock_gettime (CLOCK_MONOTONIC, &t0);
  cr_assert_eq (raid_recover (r.f.a), 0);
  double secs = secs_since (&t0);
  atomic_store (&rd.stop, 1);
  pthread_join (t, NULL);
  cr_assert (secs >= 0.14, "1 MiB rebuilt in %.3f s beside %u reads under a 4 MiB/s min",
             secs, atomic_load (&rd.reads));
  rig_adopt_done (&r, 0, "e9.1");
  rig_free (&r);
}

/* A limit that would take an hour does not hold up a cancel. */
Test (pace, cancel_ends_a_paced_rebuild, .timeout = 20)
{
  struct rig r;
  struct raid_status st;

  rig_setup_sized (&r, &cases[0], PACED_MEMBER);
  raid_set_sync_speed (r.f.a, 0, 300);
  rig_add (&r, 0);
  rig_cancel_at (&r, raid_recover, -1, 1);
  raid_status (r.f.a, &st);
  cr_assert (st.recovery_offset < st.resync_units, "stopped at %llu of %llu",
             (unsigned long long) st.recovery_offset, (unsigned long long) st.resync_units);
  rig_free (&r);
}

/* The initial resync of a new array follows the same limits. */
Test (pace, max_speed_holds_a_resync)
{
  struct fx f;
  struct timespec t0;

  fx_members (&f, 3, PACED_MEMBER);
  fx_create_on (&f, RAID_LEVEL_5, 2, 1, CHUNK, 0);
  cr_assert (raid_needs_resync (f.a));
  raid_set_sync_speed (f.a, 0, 4u << 20);
  clock_gettime (CLOCK_MONOTONIC, &t0);
  cr_assert_eq (raid_resync (f.a), 0);
  cr_assert (secs_since (&t0) >= 0.14, "256 stripes of 4 KiB resynced in %.3f s under "
             "a 4 MiB/s limit", secs_since (&t0));
  cr_assert_eq (raid_needs_resync (f.a), 0);
  fx_check_redundancy (&f, RAID_LEVEL_5, 2, 1, 1, CHUNK, NULL);
  fx_free (&f);
}

/* min is for a busy array only: idle, a 1 KiB/s min (an hour for this rebuild) must
 * not apply (the test's timeout would end it). */
Test (pace, min_speed_leaves_an_idle_rebuild_alone, .timeout = 30)
{
  struct rig r;

  rig_setup_sized (&r, &cases[0], PACED_MEMBER);
  raid_set_sync_speed (r.f.a, 1024, 0);
  rig_add (&r, 0);
  cr_assert_eq (raid_recover (r.f.a), 0);
  rig_adopt_done (&r, 0, "e9.1");
  rig_free (&r);
}

/* A member lost during a (slow) resync stops it at once, so that the recovery the
 * array now needs is not kept waiting; the position is kept for later. */
Test (pace, resync_pauses_when_a_member_fails, .timeout = 20)
{
  struct fx f;
  struct recoverer rs = { .run = raid_resync };
  struct raid_status st;
  pthread_t t;

  fx_members (&f, 3, PACED_MEMBER);
  fx_create_on (&f, RAID_LEVEL_5, 2, 1, CHUNK, 0);
  raid_set_sync_speed (f.a, 0, 64 * 1024);          /* 256 stripes: 16 s */
  rs.a = f.a;
  cr_assert_eq (pthread_create (&t, NULL, recover_main, &rs), 0);
  do {
    usleep (1000);
    raid_status (f.a, &st);
  } while (st.resync_offset == 0);
  raid_mem_member_set_down (f.mm[2], 1);
  pthread_join (t, NULL);
  cr_assert_eq (rs.rc, -EAGAIN);
  raid_status (f.a, &st);
  cr_assert (st.resync_offset > 0 && st.resync_offset < st.resync_units,
             "paused at %llu of %llu", (unsigned long long) st.resync_offset,
             (unsigned long long) st.resync_units);
  cr_assert (raid_needs_resync (f.a));
  cr_assert (f.last_warning[0] && strstr (f.last_warning, "resync paused"),
             "warning: %s", f.last_warning);
  fx_free (&f);
}

/* Log lines start with the array's name; an unnamed array's start with the message. */
Test (log, unnamed_array_lines_have_no_bare_colon)
{
  struct fx f;
  struct raid_params p = { .level = RAID_LEVEL_1, .chunk_bytes = CHUNK,
                           .flags = RAID_CREATE_ASSUME_CLEAN };
  char err[256] = "";
  uint8_t buf[4096] = { 1 };

  fx_members (&f, 2, FX_MEMBER_SIZE);
  f.a = raid_create (&p, f.mem, f.n, fx_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "raid_create: %s", err);
  raid_mem_member_set_down (f.mm[1], 1);
  cr_assert_eq (raid_write (f.a, buf, sizeof buf, 0, 0), 0);
  cr_assert (f.last_error[0], "no error logged for the failed member");
  cr_assert (strncmp (f.last_error, ": ", 2) && strstr (f.last_error, "member e2.1"),
             "error line: '%s'", f.last_error);
  /* and a refusal names it (unnamed), never '' */
  cr_assert_eq (raid_fail_member (f.a, "e1.1", err, sizeof err), -EBUSY);
  cr_assert (strstr (err, "failing e1.1 would leave raid1 (unnamed) without"), "%s", err);
  fx_free (&f);
}

/* ---- the write-intent bitmap (md: internal bitmap, re-add) ---------------- */

/* RAID1 of 2 or RAID5 of 3 on members of 1 MiB data, 4 KiB chunks, a bit per
 * 64 KiB of each member: 16 bits. */
static void
bitmap_rig (struct rig *r, const struct level_case *c)
{
  struct raid_params p = { .level = c->level, .k = c->k, .m = c->m, .chunk_bytes = CHUNK,
                           .name = "bm", .flags = RAID_CREATE_ASSUME_CLEAN,
                           .bitmap_region = 64 * 1024 };
  char err[256] = "";

  memset (r, 0, sizeof *r);
  r->c = c;
  r->seed = 99;
  fx_members (&r->f, c->n, PACED_MEMBER);
  r->f.a = raid_create (&p, r->f.mem, r->f.n, fx_log, &r->f, err, sizeof err);
  cr_assert_not_null (r->f.a, "raid_create: %s", err);
  r->size = raid_size (r->f.a);
  r->ref = calloc (1, r->size);
  cr_assert_not_null (r->ref);
}

/* A bitmap rig of case C written in full, its bits all clean again (a bit written since
 * the last pass stays for one pass more). */
static void
bitmap_rig_clean (struct rig *r, const struct level_case *c)
{
  bitmap_rig (r, c);
  rig_write (r, 0, r->size);
  bitmap_pass (r->f.a);
  bitmap_pass (r->f.a);
}

/* Slot 1's member leaves; two regions (one low, the last) are written; it is back and
 * added again. */
static void
rig_away_and_back (struct rig *r)
{
  struct raid_member back = raid_mem_member (r->f.mm[1]);
  char err[256] = "";

  raid_mem_member_set_down (r->f.mm[1], 1);
  rig_write (r, 130 * 1024, 4096);
  rig_write (r, r->size - 4096, 4096);
  raid_mem_member_set_down (r->f.mm[1], 0);
  cr_assert_eq (raid_add_member (r->f.a, &back, err, sizeof err), 0, "add: %s", err);
}

/* The bits member I holds on disk, as a 16-bit mask. */
static unsigned
disk_bits (struct rig *r, unsigned i)
{
  const uint8_t *b = raid_mem_member_data (r->f.mm[i]) + RAID_BITMAP_OFFSET + 64;
  return b[0] | b[1] << 8;
}

/* Recover onto spare e9.1, which must be written whole, check and free. */
static void
rig_recover_in_full (struct rig *r)
{
  uint64_t wrote = fx_recover_writes (r->f.a, r->spare[0]);
  cr_assert (wrote >= r->size, "rebuilt %llu bytes of %llu",
             (unsigned long long) wrote, (unsigned long long) r->size);
  rig_adopt_done (r, 0, "e9.1");
  rig_free (r);
}

Test (bitmap, writes_set_bits_on_every_member)
{
  struct rig r;
  struct raid_status st;

  bitmap_rig (&r, &cases[0]);
  raid_status (r.f.a, &st);
  cr_assert (st.bitmap_bits == 16 && st.bitmap_dirty == 0 && st.bitmap_region == 65536,
             "bits %llu dirty %llu region %llu", (unsigned long long) st.bitmap_bits,
             (unsigned long long) st.bitmap_dirty, (unsigned long long) st.bitmap_region);
  rig_write (&r, 200 * 1024, 4096);                 /* region 3 */
  rig_write (&r, 1000 * 1024, 8192);                /* regions 15 */
  raid_status (r.f.a, &st);
  cr_assert_eq (st.bitmap_dirty, 2);
  for (unsigned i = 0; i < 2; i++)
    cr_assert_eq (disk_bits (&r, i), 1u << 3 | 1u << 15, "member %u holds bits %04x", i,
                  disk_bits (&r, i));
  rig_free (&r);
}

/* Members with a write cache whose writes may land after a flush sent behind them (a
 * write's frame lost and sent again): a bit is flushed only once its write has ended, so
 * a power cut that loses what the caches held keeps the bit of a write that went out. */
Test (bitmap, a_bit_is_durable_before_its_write, .timeout = 30)
{
  struct rig r;
  struct fx_late_loop late;

  bitmap_rig_clean (&r, &cases[0]);
  for (unsigned i = 0; i < r.f.n; i++) {
    cr_assert_eq (raid_mem_member_cache (r.f.mm[i], 1), 0);
    raid_mem_member_late_writes (r.f.mm[i], 1);
    raid_mem_member_defer (r.f.mm[i], 1);
  }
  fx_late_loop_start (&late, &r.f);
  rig_write (&r, 200 * 1024, 4096);                 /* region 3 */
  fx_late_loop_stop (&late);
  for (unsigned i = 0; i < r.f.n; i++) {
    raid_mem_member_defer (r.f.mm[i], 0);
    raid_mem_member_lose_cache (r.f.mm[i], RAID_BITMAP_OFFSET, RAID_BITMAP_SIZE);
    cr_assert_eq (disk_bits (&r, i), 1u << 3, "member %u holds bits %04x once its cache is "
                  "lost", i, disk_bits (&r, i));
  }
  rig_free (&r);
}

/* Members with a write cache: a bit is cleared on disk only after the writes of its
 * region are flushed (md: bitmap blocks PREFLUSH|FUA), or a power cut could keep the
 * clear and lose a write on one mirror, which no resync would then mend. */
Test (bitmap, a_bit_clears_after_its_writes_are_flushed)
{
  struct rig r;
  struct raid_status st;

  bitmap_rig_clean (&r, &cases[0]);
  for (unsigned i = 0; i < r.f.n; i++) {
    cr_assert_eq (raid_mem_member_cache (r.f.mm[i], 1), 0);
    raid_mem_member_stats (r.f.mm[i], NULL, 1);
  }
  rig_write (&r, 200 * 1024, 4096);                 /* region 3 */
  bitmap_pass (r.f.a);
  bitmap_pass (r.f.a);
  raid_status (r.f.a, &st);
  cr_assert_eq (st.bitmap_dirty, 0, "the bit cleared");
  for (unsigned i = 0; i < r.f.n; i++)
    expect_flushed_before (r.f.mm[i], RAID_BITMAP_OFFSET, 2, "the bit set, then cleared");
  rig_free (&r);
}

/* Members without a write cache (vblade's): the metadata that the cached ones flush (a
 * bit set, then cleared, a member's failure recorded, a spare taken, the checkpoints of
 * its recovery) costs them no flush; only a client's flush reaches them. */
Test (bitmap, members_without_a_cache_are_sent_no_flush_for_metadata)
{
  struct rig r;
  struct raid_mem_stats ms;
  struct raid_member spare;
  char err[256] = "";

  bitmap_rig_clean (&r, &cases[1]);                 /* raid5 of 3 */
  r.spare[0] = raid_mem_member_new ("e9.1", PACED_MEMBER);
  for (unsigned i = 0; i < r.f.n; i++)
    raid_mem_member_stats (r.f.mm[i], NULL, 1);
  rig_write (&r, 200 * 1024, 4096);
  bitmap_pass (r.f.a);
  bitmap_pass (r.f.a);
  raid_mem_member_set_down (r.f.mm[2], 1);
  rig_write (&r, 0, 4096);                          /* fails slot 2: superblocks */
  spare = raid_mem_member (r.spare[0]);
  cr_assert_eq (raid_add_member (r.f.a, &spare, err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_recover (r.f.a), 0);
  for (unsigned i = 0; i < 2; i++) {
    raid_mem_member_stats (r.f.mm[i], &ms, 0);
    cr_assert_eq (ms.flushes, 0, "member %u was sent %llu flushes", i,
                  (unsigned long long) ms.flushes);
  }
  raid_mem_member_stats (r.spare[0], &ms, 0);
  cr_assert_eq (ms.flushes, 0, "the spare was sent %llu flushes", (unsigned long long) ms.flushes);
  cr_assert_eq (raid_flush (r.f.a), 0);
  raid_mem_member_stats (r.f.mm[0], &ms, 0);
  cr_assert_eq (ms.flushes, 1, "a client's flush reaches every member");
  rig_free (&r);
}

/* A write of LEN bytes at OFF on a thread of its own. */
struct bg_write {
  struct raid_array *a;
  uint64_t off;
  uint8_t buf[4096];
  int rc;
  pthread_t thread;
};

static void *
bg_write_main (void *arg)
{
  struct bg_write *w = arg;

  w->rc = raid_write (w->a, w->buf, sizeof w->buf, w->off, 0);
  return NULL;
}

static void
bg_write_start (struct bg_write *w, struct raid_array *a, uint64_t off, uint64_t *seed)
{
  w->a = a;
  w->off = off;
  fill_random (w->buf, sizeof w->buf, seed);
  cr_assert_eq (pthread_create (&w->thread, NULL, bg_write_main, w), 0);
}

/* Has MM been sent an I/O OP (at OFFSET or above, for a write)? */
static int
mem_saw (struct raid_mem_member *mm, enum raid_io_op op, uint64_t offset)
{
  struct raid_mem_op ops[1024];
  unsigned n = raid_mem_member_trace (mm, ops, 1024);

  for (unsigned j = 0; j < n; j++)
    if (ops[j].op == op && (op != RAID_IO_WRITE || ops[j].offset >= offset))
      return 1;
  return 0;
}

/* Two writes to one clean region: the first sets its bit and writes the block (on members
 * with a cache: a flush, the block, a flush); the second finds the bit set in memory
 * meanwhile, and must still wait until the block is on the members before its data goes
 * out, or a crash could keep its data and lose the bit (no resync then for its region). */
Test (bitmap, a_write_waits_for_the_bit_another_writer_is_storing, .timeout = 30)
{
  struct rig r;
  struct fx_late_loop late;
  struct bg_write first, second;
  uint8_t got[4096];
  unsigned waited;

  bitmap_rig_clean (&r, &cases[0]);                 /* raid1 of 2 */
  for (unsigned i = 0; i < r.f.n; i++) {
    cr_assert_eq (raid_mem_member_cache (r.f.mm[i], 1), 0);
    raid_mem_member_late_writes (r.f.mm[i], 1);
    raid_mem_member_defer (r.f.mm[i], 1);           /* nothing ends until polled */
    raid_mem_member_stats (r.f.mm[i], NULL, 1);
  }
  atomic_store (&r.f.a->poll_gate.lone_wait_us, 1000000);    /* no writer polls */
  bg_write_start (&first, r.f.a, 200 * 1024, &r.seed);       /* region 3 */
  for (waited = 0; !mem_saw (r.f.mm[0], RAID_IO_FLUSH, 0) && waited < 5000; waited++)
    usleep (1000);
  cr_assert (waited < 5000, "the first write's bitmap store never began");
  bg_write_start (&second, r.f.a, 240 * 1024, &r.seed);      /* region 3 too */
  usleep (100000);
  for (unsigned i = 0; i < r.f.n; i++)
    cr_assert (!mem_saw (r.f.mm[i], RAID_IO_WRITE, RAID_DATA_OFFSET) || disk_bits (&r, i) & 1u << 3,
               "member %u took a write of region 3 before its bit (bits %04x)", i,
               disk_bits (&r, i));
  fx_late_loop_start (&late, &r.f);
  pthread_join (first.thread, NULL);
  pthread_join (second.thread, NULL);
  fx_late_loop_stop (&late);
  for (unsigned i = 0; i < r.f.n; i++)
    raid_mem_member_defer (r.f.mm[i], 0);
  cr_assert (first.rc == 0 && second.rc == 0, "writes: %d %d", first.rc, second.rc);
  cr_assert_eq (raid_read (r.f.a, got, sizeof got, 240 * 1024), 0);
  cr_assert (!memcmp (got, second.buf, sizeof got), "the second write reads back wrong");
  rig_free (&r);
}

Test (bitmap, idle_bits_clear_only_while_whole)
{
  struct rig r;

  bitmap_rig (&r, &cases[1]);                       /* raid5 of 3 */
  rig_write (&r, 0, 4096);
  cr_assert_eq (bitmap_pass (r.f.a), 0, "a bit written since the last pass stays");
  cr_assert_eq (bitmap_pass (r.f.a), 1, "a pass later it goes");
  for (unsigned i = 0; i < 3; i++)
    cr_assert_eq (disk_bits (&r, i), 0, "member %u still holds bits %04x", i, disk_bits (&r, i));
  raid_mem_member_set_down (r.f.mm[2], 1);
  rig_write (&r, 300 * 1024, 4096);     /* stripe 37 (8 KiB of data each), 16 a bit: bit 2 */
  for (int pass = 0; pass < 3; pass++)
    cr_assert_eq (bitmap_pass (r.f.a), 0, "a degraded array keeps its bits");
  cr_assert_eq (disk_bits (&r, 0), 1u << 2, "bits %04x", disk_bits (&r, 0));
  rig_free (&r);
}

/* A member that left comes back: only the regions written meanwhile are
 * rebuilt, and the array's data and redundancy are right. */
Test (bitmap, a_member_back_rebuilds_what_it_missed)
{
  for (unsigned c = 0; c < 2; c++) {
    struct rig r;

    bitmap_rig_clean (&r, &cases[c]);
    rig_away_and_back (&r);
    uint64_t wrote = fx_recover_writes (r.f.a, r.f.mm[1]);
    /* two regions of 64 KiB rebuilt, plus superblocks and bitmaps */
    cr_assert (wrote <= 2 * 65536 + 16 * 8192, "case %u: wrote %llu bytes", c,
               (unsigned long long) wrote);
    cr_assert (wrote >= 2 * 65536 / (cases[c].k), "case %u: wrote %llu bytes", c,
               (unsigned long long) wrote);
    /* the limits and the rate count the two regions rebuilt (16 units of 4 KiB each),
     * not the 14 passed */
    struct raid_status st;
    raid_status (r.f.a, &st);
    cr_assert_eq (st.run_moved[RAID_RUN_RECOVERY], 2 * 65536, "case %u: the recovery counted "
                  "%llu bytes moved", c, (unsigned long long) st.run_moved[RAID_RUN_RECOVERY]);
    rig_check_done (&r, "e2.1");
    rig_lean_on_rebuilt (&r);
    rig_free (&r);
  }
}

/* A re-add's recovery stopped by a restart resumes from the bitmap: still only
 * the regions written while the member was away. */
Test (bitmap, a_readd_resumes_from_the_bitmap_after_a_restart)
{
  for (unsigned c = 0; c < 2; c++) {
    struct rig r;

    bitmap_rig_clean (&r, &cases[c]);
    rig_away_and_back (&r);
    raid_mem_member_delay (r.f.mm[1], 2000);
    rig_cancel_at (&r, raid_recover, -1, 1);
    raid_mem_member_delay (r.f.mm[1], 0);
    fx_close (&r.f);
    rig_assemble (&r);
    uint64_t wrote = fx_recover_writes (r.f.a, r.f.mm[1]);
    cr_assert (wrote <= 2 * 65536 + 16 * 8192, "case %u: resumed in full: wrote %llu "
               "bytes", c, (unsigned long long) wrote);
    rig_check_done (&r, "e2.1");
    rig_lean_on_rebuilt (&r);
    rig_free (&r);
  }
}

/* A member the slot did not record (a new shelf) is rebuilt in full. */
Test (bitmap, a_new_member_is_rebuilt_in_full)
{
  struct rig r;

  bitmap_rig (&r, &cases[0]);
  rig_write (&r, 0, r.size);
  raid_mem_member_set_down (r.f.mm[1], 1);
  rig_write (&r, 0, 4096);
  r.spare[0] = raid_mem_member_new ("e9.1", PACED_MEMBER);
  rig_add (&r, 0);
  rig_recover_in_full (&r);
}

/* The bits outlive a restart: assembly reads them back. */
Test (bitmap, bits_survive_reassembly)
{
  struct rig r;
  struct raid_status st;

  bitmap_rig (&r, &cases[1]);
  rig_write (&r, 300 * 1024, 4096);
  fx_close (&r.f);
  rig_assemble (&r);
  raid_status (r.f.a, &st);
  cr_assert (st.bitmap_bits == 16 && st.bitmap_dirty == 1, "bits %llu dirty %llu",
             (unsigned long long) st.bitmap_bits, (unsigned long long) st.bitmap_dirty);
  rig_free (&r);
}

/* md's --assemble --force takes back a member that failed (here slot 0, the second to
 * go): it missed the bit the last write set on the freshest member (slot 2).  The bitmap
 * is read from the freshest member, not from the first slot: read from slot 0 it would
 * lose that bit, and slot 1, when it comes back, would not be rebuilt where it was set. */
Test (bitmap, a_forced_start_reads_the_freshest_bitmap)
{
  struct rig r;
  struct raid_status st;
  char err[256] = "";
  uint8_t buf[4096] = { 0 };

  bitmap_rig_clean (&r, &cases[1]);
  raid_mem_member_set_down (r.f.mm[1], 1);
  rig_write (&r, 300 * 1024, 4096);                 /* region 2; slot 1 fails */
  raid_mem_member_fail (r.f.mm[0], 0, 1);          /* it fails the bit's store */
  cr_assert_neq (raid_write (r.f.a, buf, sizeof buf, 1500 * 1024, 0), 0,
                 "wrote with two members of three gone");  /* region 11: on slot 2 only */
  cr_assert_eq (disk_bits (&r, 2), 1u << 2 | 1u << 11, "slot 2 holds %04x", disk_bits (&r, 2));
  cr_assert_eq (disk_bits (&r, 0), 1u << 2, "slot 0 holds %04x", disk_bits (&r, 0));
  fx_close (&r.f);
  raid_mem_member_fail (r.f.mm[0], 0, 0);
  raid_mem_member_set_down (r.f.mm[1], 0);
  cr_assert_not_null (fx_assemble (&r.f, 1, err, sizeof err), "assemble: %s", err);
  raid_status (r.f.a, &st);
  cr_assert_eq (st.member[0].role, RAID_ROLE_ACTIVE, "slot 0 is not taken back");
  cr_assert_eq (st.bitmap_dirty, 2, "%llu regions dirty, not regions 2 and 11",
                (unsigned long long) st.bitmap_dirty);
  for (unsigned i = 0; i < 3; i += 2)
    cr_assert_eq (disk_bits (&r, i), 1u << 2 | 1u << 11, "slot %u holds %04x", i,
                  disk_bits (&r, i));
  rig_free (&r);
}

struct bm_stress { struct rig *r; atomic_int stop; };

static void *
bm_writer (void *arg)
{
  struct bm_stress *x = arg;
  uint8_t buf[4096] = { 0 };
  struct raid_status st;
  uint64_t n = 0;

  /* Each write different; stop once the member failed (in a data write or in
   * a bitmap update): a later write would set the bit again and hide a lost
   * one. */
  do {
    n++;
    memcpy (buf, &n, sizeof n);
    raid_write (x->r->f.a, buf, sizeof buf, 0, 0);
    raid_status (x->r->f.a, &st);
  } while (st.state == RAID_STATE_CLEAN);
  return NULL;
}

static void *
bm_passer (void *arg)
{
  struct bm_stress *x = arg;

  while (!atomic_load (&x->stop))
    bitmap_pass (x->r->f.a);
  return NULL;
}

/* Clearing passes race writes: when a member fails in the middle of a write
 * (it then lacks that write), the write's bit must be set on the others,
 * whatever the passes did meanwhile.  A member that failed in a bitmap
 * update between writes lacks nothing, and its bit may rightly be clean. */
Test (bitmap, a_write_in_flight_keeps_its_bit, .timeout = 60)
{
  for (unsigned round = 0; round < 20; round++) {
    struct rig r;
    struct bm_stress x = { .r = &r };
    pthread_t w, p;

    bitmap_rig (&r, &cases[0]);
    raid_mem_member_delay (r.f.mm[1], 200);
    cr_assert_eq (pthread_create (&w, NULL, bm_writer, &x), 0);
    cr_assert_eq (pthread_create (&p, NULL, bm_passer, &x), 0);
    usleep (2000 + round * 500);
    raid_mem_member_fail (r.f.mm[1], 0, 1);        /* its next write fails */
    pthread_join (w, NULL);
    atomic_store (&x.stop, 1);
    pthread_join (p, NULL);
    const uint8_t *have = raid_mem_member_data (r.f.mm[0]) + RAID_DATA_OFFSET;
    const uint8_t *lost = raid_mem_member_data (r.f.mm[1]) + RAID_DATA_OFFSET;
    if (memcmp (have, lost, 4096))
      cr_assert (disk_bits (&r, 0) & 1, "round %u: region 0 clean on disk, yet the failed "
                 "member missed a write to it", round);
    rig_free (&r);
  }
}

/* A member that failed while it was being rebuilt holds good data below its
 * recovery point only: when it comes back it is rebuilt in full. */
Test (bitmap, a_member_half_rebuilt_comes_back_in_full)
{
  struct rig r;
  struct raid_member back;
  char err[256] = "";

  bitmap_rig (&r, &cases[0]);
  rig_write (&r, 0, r.size);
  bitmap_pass (r.f.a);
  bitmap_pass (r.f.a);                              /* all clean */
  raid_mem_member_set_down (r.f.mm[1], 1);
  rig_write (&r, 0, 4096);
  r.spare[0] = raid_mem_member_new ("e9.1", PACED_MEMBER);
  rig_add (&r, 0);
  raid_mem_member_fail_after (r.spare[0], 20);     /* a few windows in */
  cr_assert_eq (raid_recover (r.f.a), -EIO);
  raid_mem_member_fail_after (r.spare[0], -1);
  raid_mem_member_set_down (r.spare[0], 0);
  back = raid_mem_member (r.spare[0]);
  cr_assert_eq (raid_add_member (r.f.a, &back, err, sizeof err), 0, "add: %s", err);
  rig_recover_in_full (&r);
}

/* A damaged bitmap at assembly: a warning, and every region counts as dirty (a member
 * coming back is then rebuilt in full, never trusted on a bit read wrong). */
Test (bitmap, a_damaged_bitmap_counts_all_dirty)
{
  struct rig r;
  struct raid_status st;

  bitmap_rig (&r, &cases[0]);
  rig_write (&r, 0, 4096);
  fx_close (&r.f);
  raid_mem_member_data (r.f.mm[0])[RAID_BITMAP_OFFSET + 64] ^= 0x80; /* crc now wrong */
  rig_assemble (&r);
  raid_status (r.f.a, &st);
  /* its region size was in the damaged block: the new one has the default */
  cr_assert (st.bitmap_bits > 0 && st.bitmap_dirty == st.bitmap_bits, "bits %llu dirty %llu",
             (unsigned long long) st.bitmap_bits, (unsigned long long) st.bitmap_dirty);
  cr_assert (strstr (r.f.last_warning, "write-intent bitmap on e1.1 is damaged"),
             "warning: %s", r.f.last_warning);
  rig_free (&r);
}

/* ---- resync after a crash: only the bitmap's dirty regions ---------------- */

/* A crash: every member stops taking I/O, so raid_close leaves the
 * superblocks saying dirty; then the power comes back. */
static void
rig_crash (struct rig *r)
{
  int64_t power = 0;

  for (unsigned i = 0; i < r->f.n; i++)
    raid_mem_member_power (r->f.mm[i], &power);
  fx_close (&r->f);
  for (unsigned i = 0; i < r->f.n; i++)
    raid_mem_member_power (r->f.mm[i], NULL);
}

/* Bytes the members read during one raid_resync (which must succeed). */
static uint64_t
rig_resync_reads (struct rig *r)
{
  struct raid_mem_stats ms;
  uint64_t bytes = 0;

  for (unsigned i = 0; i < r->f.n; i++)
    raid_mem_member_stats (r->f.mm[i], NULL, 1);
  cr_assert_eq (raid_resync (r->f.a), 0, "resync failed");
  for (unsigned i = 0; i < r->f.n; i++) {
    raid_mem_member_stats (r->f.mm[i], &ms, 0);
    bytes += ms.read_bytes;
  }
  cr_assert_eq (raid_needs_resync (r->f.a), 0);
  return bytes;
}

/* Where the redundancy of the unit holding array offset OFF lives: the second
 * copy (RAID1) or the parity chunk (RAID5), raw. */
static uint8_t *
redundancy_byte (struct rig *r, uint64_t off)
{
  uint64_t unit = off / (CHUNK * r->c->k);
  unsigned slot = r->c->m ? ref_parity_dev (r->c->n, r->c->m, unit, 0) : 1;

  return raid_mem_member_data (r->f.mm[slot]) + RAID_DATA_OFFSET + unit * CHUNK;
}

/* A write cut short by a crash left its region's redundancy wrong; after the
 * restart the resync puts it right and reads no region the bitmap holds clean. */
Test (bitmap, a_crash_resyncs_only_dirty_regions)
{
  for (unsigned c = 0; c < 2; c++) {
    struct rig r;
    uint64_t read, whole;

    bitmap_rig_clean (&r, &cases[c]);
    rig_write (&r, 200 * 1024, 4096);
    rig_crash (&r);
    *redundancy_byte (&r, 200 * 1024) ^= 0x5a;      /* the torn write's other half */
    rig_assemble (&r);
    cr_assert (raid_needs_resync (r.f.a), "case %u: a crashed array needs a resync", c);
    read = rig_resync_reads (&r);
    whole = r.size / cases[c].k * cases[c].n;
    /* one region of 64 KiB per member: its data, and nothing else */
    cr_assert (read > 0 && read <= (uint64_t) 65536 * cases[c].k, "case %u: the resync read "
               "%llu bytes (the whole array is %llu)", c, (unsigned long long) read,
               (unsigned long long) whole);
    cr_assert (strstr (r.f.info, "over the 1 of 16 regions"), "case %u: log: %s", c, r.f.info);
    /* the rate counts the region resynced (16 units of 4 KiB), not the 15 passed */
    struct raid_status st;
    raid_status (r.f.a, &st);
    cr_assert_eq (st.run_moved[RAID_RUN_RESYNC], 65536, "case %u: the resync counted %llu "
                  "bytes moved", c, (unsigned long long) st.run_moved[RAID_RUN_RESYNC]);
    rig_verify (&r, "after the resync");
    fx_check_redundancy (&r.f, cases[c].level, cases[c].k, cases[c].m, cases[c].copies, CHUNK,
                         NULL);
    rig_free (&r);
  }
}

/* A new array whose members hold old bytes starts with every region dirty:
 * its first resync covers it all, also after a crash in the middle of it. */
Test (bitmap, a_new_array_resyncs_in_full_across_a_crash)
{
  for (unsigned c = 0; c < 2; c++) {
    struct raid_params p = { .level = cases[c].level, .k = cases[c].k, .m = cases[c].m,
                             .chunk_bytes = CHUNK, .name = "bm", .bitmap_region = 64 * 1024 };
    struct rig r = { .c = &cases[c], .seed = 7 };
    struct raid_status st;
    char err[256] = "";
    int64_t power = 300;

    fx_members (&r.f, cases[c].n, PACED_MEMBER);
    for (unsigned i = 0; i < r.f.n; i++)
      fill_random (raid_mem_member_data (r.f.mm[i]) + RAID_DATA_OFFSET,
                   PACED_MEMBER - RAID_DATA_OFFSET, &r.seed);
    r.f.a = raid_create (&p, r.f.mem, r.f.n, fx_log, &r.f, err, sizeof err);
    cr_assert_not_null (r.f.a, "raid_create: %s", err);
    raid_status (r.f.a, &st);
    cr_assert (st.bitmap_bits == 16 && st.bitmap_dirty == 16, "case %u: a new array has %llu "
               "of %llu regions dirty", c, (unsigned long long) st.bitmap_dirty,
               (unsigned long long) st.bitmap_bits);
    for (unsigned i = 0; i < r.f.n; i++)
      raid_mem_member_power (r.f.mm[i], &power);
    cr_assert_neq (raid_resync (r.f.a), 0, "case %u: the power cut did not stop the resync", c);
    for (unsigned i = 0; i < r.f.n; i++)
      raid_mem_member_power (r.f.mm[i], NULL);
    rig_crash (&r);
    rig_assemble (&r);
    rig_resync_reads (&r);
    fx_check_redundancy (&r.f, cases[c].level, cases[c].k, cases[c].m, cases[c].copies, CHUNK,
                         NULL);
    fx_free (&r.f);
  }
}

/* An older aoeraid's bitmap (version 1) left a new array's regions clean
 * before its first resync: those above the recorded resync point are dirty. */
Test (bitmap, a_version_1_bitmap_is_dirty_above_the_resync_point)
{
  struct raid_params p = { .level = RAID_LEVEL_5, .k = 2, .m = 1, .chunk_bytes = CHUNK,
                           .name = "bm", .bitmap_region = 64 * 1024 };
  struct fx f;
  struct raid_status st;
  char err[256] = "";
  uint64_t seed = 3;

  fx_members (&f, 3, PACED_MEMBER);
  for (unsigned i = 0; i < f.n; i++)
    fill_random (raid_mem_member_data (f.mm[i]) + RAID_DATA_OFFSET,
                 PACED_MEMBER - RAID_DATA_OFFSET, &seed);
  f.a = raid_create (&p, f.mem, f.n, fx_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "raid_create: %s", err);
  fx_close (&f);                                    /* clean, never resynced */
  for (unsigned i = 0; i < f.n; i++) {
    uint8_t *b = raid_mem_member_data (f.mm[i]) + RAID_BITMAP_OFFSET;
    le_put32 (b, 8, 1);                             /* version 1, */
    memset (b + 64, 0, 2);                          /* its bits clean */
    le_put32 (b, RAID_BITMAP_SIZE - 4, crc32_iscsi (b, RAID_BITMAP_SIZE - 4, 0xffffffff));
  }
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "assemble: %s", err);
  raid_status (f.a, &st);
  cr_assert_eq (st.bitmap_dirty, 16, "%llu of 16 regions dirty",
                (unsigned long long) st.bitmap_dirty);
  cr_assert_eq (raid_resync (f.a), 0);
  fx_check_redundancy (&f, RAID_LEVEL_5, 2, 1, 1, CHUNK, NULL);
  fx_free (&f);
}

/* Until the resync after a crash is done, a small write into a region the
 * bitmap held clean uses its parity (it is good), rather than recomputing
 * the stripe's parity from every data chunk whole. */
Test (bitmap, clean_regions_take_small_writes_before_the_resync)
{
  struct raid_params p = { .level = RAID_LEVEL_5, .k = 2, .m = 1, .chunk_bytes = 64 * 1024,
                           .name = "bm", .flags = RAID_CREATE_ASSUME_CLEAN,
                           .bitmap_region = 64 * 1024 };
  struct rig r = { .c = &cases[1], .seed = 5 };
  struct raid_mem_stats ms;
  char err[256] = "";
  uint64_t read = 0;

  fx_members (&r.f, 3, PACED_MEMBER);
  r.f.a = raid_create (&p, r.f.mem, r.f.n, fx_log, &r.f, err, sizeof err);
  cr_assert_not_null (r.f.a, "raid_create: %s", err);
  r.size = raid_size (r.f.a);
  r.ref = calloc (1, r.size);
  cr_assert_not_null (r.ref);
  rig_write (&r, 0, 4096);                          /* region 0 dirty */
  rig_crash (&r);
  rig_assemble (&r);
  cr_assert (raid_needs_resync (r.f.a));
  for (unsigned i = 0; i < 3; i++)
    raid_mem_member_stats (r.f.mm[i], NULL, 1);
  rig_write (&r, 5 * 128 * 1024 + 8192, 4096);     /* stripe 5: clean */
  for (unsigned i = 0; i < 3; i++) {
    raid_mem_member_stats (r.f.mm[i], &ms, 0);
    read += ms.read_bytes;
  }
  /* in sync: the cheaper of old data and parity (8 KiB) or the other column's
   * 4 KiB; out of sync it would rebuild the stripe's parity from 124 KiB */
  cr_assert (read <= 8192, "the write read %llu bytes", (unsigned long long) read);
  cr_assert_eq (raid_resync (r.f.a), 0);
  rig_verify (&r, "after the resync");
  fx_check_redundancy (&r.f, RAID_LEVEL_5, 2, 1, 1, 64 * 1024, NULL);
  rig_free (&r);
}

/* ---- fail and remove (md's --fail, --remove) ------------------------------ */

/* Members of the whole arrays: enough units for a replace of many windows (a cancel, a
 * writer or a failure meets it midway). */
#define WHOLE_MEMBER (RAID_DATA_OFFSET + 512 * 1024)

/* A filled array of case C, every member working. */
static void
rig_whole_sized (struct rig *r, const struct level_case *c, uint64_t member_size)
{
  rig_filled (r, c, member_size, 5 + c->level);
}

static void
rig_whole (struct rig *r, const struct level_case *c)
{
  rig_whole_sized (r, c, WHOLE_MEMBER);
}

/* Give the array the spare e9.1 (the rig keeps it as spare[0]). */
static void
rig_spare (struct rig *r)
{
  r->spare[0] = raid_mem_member_new ("e9.1", WHOLE_MEMBER);
  rig_add (r, 0);
}

/* rig_whole, then rig_spare. */
static void
rig_whole_spare (struct rig *r, const struct level_case *c)
{
  rig_whole (r, c);
  rig_spare (r);
}

/* Start replacing e2.1 (slot 1) with NEW (NULL: the first spare that is up). */
static void
rig_replace_start (struct rig *r, const char *new)
{
  char err[256] = "";

  cr_assert_eq (raid_replace_start (r->f.a, "e2.1", new, err, sizeof err), 0, "%s", err);
}

/* The admin fails a working member: its slot goes faulty and the spare takes it. */
Test (manage, a_failed_member_is_replaced_by_the_spare)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    struct rig r;
    struct raid_status st;
    char err[256] = "";

    rig_whole_spare (&r, &cases[i]);
    cr_assert_eq (raid_recovery_pending (r.f.a), 0, "a spare alone is no work");
    cr_assert_eq (raid_fail_member (r.f.a, "e2.1", err, sizeof err), 0, "fail: %s", err);
    raid_status (r.f.a, &st);
    cr_assert_eq (st.member[1].role, RAID_ROLE_FAULTY, "%s", raid_level_name (cases[i].level));
    cr_assert (strstr (r.f.last_warning, "member e2.1 (slot 1) failed by the administrator"),
               "%s", r.f.last_warning);
    rig_verify (&r, "degraded by the admin");
    cr_assert_eq (raid_recover (r.f.a), 0);
    rig_adopt_done (&r, 0, "e9.1");
    rig_free (&r);
  }
}

/* md refuses to fail a member the array cannot do without, and a name that
 * is no working member; the array serves on. */
Test (manage, fail_refuses_what_the_array_cannot_lose)
{
  struct rig r;
  char err[256] = "";

  rig_whole (&r, &cases[1]);                        /* raid5 of 3 */
  cr_assert_eq (raid_fail_member (r.f.a, "e7.1", err, sizeof err), -ENOENT);
  cr_assert (strstr (err, "e7.1 is not a working member"), "%s", err);
  cr_assert_eq (raid_fail_member (r.f.a, "e1.1", err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_fail_member (r.f.a, "e1.1", err, sizeof err), -ENOENT, "failed twice");
  /* said as what it is, with what to do (it said "not a working member" of both) */
  cr_assert (strstr (err, "e1.1 has failed already: aoeraid remove e1.1 releases its shelf"),
             "%s", err);
  cr_assert_eq (raid_fail_member (r.f.a, "e3.1", err, sizeof err), -EBUSY);
  cr_assert (strstr (err, "failing e3.1 would leave raid5 'test' without the members it "
                     "needs"), "%s", err);
  rig_verify (&r, "after the refusal");
  rig_free (&r);

  rig_whole (&r, &cases[2]);                        /* raid6 of 4: two may go */
  cr_assert_eq (raid_fail_member (r.f.a, "e1.1", err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_fail_member (r.f.a, "e4.1", err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_fail_member (r.f.a, "e2.1", err, sizeof err), -EBUSY);
  rig_verify (&r, "raid6 with two failed");
  rig_free (&r);
}

Test (manage, a_spare_is_removed_and_may_come_back)
{
  struct rig r;
  struct raid_status st;
  struct raid_sb_summary sb;
  struct raid_member back;
  char err[256] = "";

  rig_whole_spare (&r, &cases[0]);
  cr_assert_eq (raid_remove_spare (r.f.a, "e2.1", err, sizeof err), -ENOENT,
                "a member is not a spare");
  cr_assert (strstr (err, "e2.1 is not a spare of the array"), "%s", err);
  cr_assert_eq (raid_remove_spare (r.f.a, "e9.1", err, sizeof err), 0, "%s", err);
  raid_status (r.f.a, &st);
  cr_assert_eq (st.spares, 0);
  /* md: a removed device stays removed.  Its superblock is wiped (a spare holds no data):
   * a start by name, or auto-readd, finds a blank shelf, not a spare of the array. */
  back = raid_mem_member (r.spare[0]);
  raid_examine (&back, &sb);
  cr_assert_eq (sb.state, RAID_SB_NONE, "the removed spare still carries the array");
  cr_assert_eq (raid_remove_spare (r.f.a, "e9.1", err, sizeof err), -ENOENT);
  raid_mem_member_set_down (r.f.mm[1], 1);
  rig_write (&r, 0, 4096);
  cr_assert_eq (raid_recovery_pending (r.f.a), 0, "a removed spare took the slot");
  back = raid_mem_member (r.spare[0]);
  cr_assert_eq (raid_add_member (r.f.a, &back, err, sizeof err), 0, "add again: %s", err);
  cr_assert_eq (raid_recover (r.f.a), 0);
  rig_adopt_done (&r, 0, "e9.1");
  rig_free (&r);
}

/* ---- replace in place (md's --replace) ------------------------------------ */

/* Writes run while e9.1 replaces e2.1: the array stays whole throughout, e9.1
 * ends in slot 1 with every byte right, e2.1 gets no write after, and a
 * reassembly finds e9.1 in the slot. */
/* The replace's test hook (raid-int.h's replace_hook): halfway through the copy, with no
 * stripe lock held, it waits for the writer's next WANT writes, so that they meet the
 * copy by construction: some land below the copy's position (shadows), some above. */
struct meet_writes {
  struct fx_writer *w;
  uint64_t at;                  /* the unit the copy waits at */
  unsigned want, met;
};

static void
meet_writes_between (void *opaque, uint64_t pos)
{
  struct meet_writes *m = opaque;
  unsigned from;

  if (pos < m->at || m->met)
    return;
  from = atomic_load (&m->w->writes);
  /* bounded: 60 s, far past any machine's pace; the test says so if it ran out */
  for (unsigned i = 0; i < 60000 && atomic_load (&m->w->writes) - from < m->want; i++)
    usleep (1000);
  m->met = atomic_load (&m->w->writes) - from;
}

Test (replace, a_member_is_replaced_while_written)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    struct rig r;
    struct fx_writer w;
    struct raid_status st;
    struct meet_writes m = { .w = &w, .want = 10 };
    uint8_t *before;

    rig_whole_spare (&r, &cases[i]);
    rig_replace_start (&r, NULL);
    raid_status (r.f.a, &st);
    cr_assert (st.replace_slot == 1 && !strcmp (st.replace_name, "e9.1") && st.spares == 0,
               "replace slot %d name %s spares %u", st.replace_slot, st.replace_name,
               st.spares);
    m.at = resync_units (r.f.a) / 2;
    r.f.a->repl.hook = (struct replace_hook) { meet_writes_between, &m };
    rig_writer (&r, &w, 7, 20);
    fx_writer_start (&w, fx_writer_main, 3);
    cr_assert_eq (raid_replace (r.f.a), 0, "%s: replace", raid_level_name (cases[i].level));
    fx_writer_stop (&w);
    r.f.a->repl.hook = (struct replace_hook) { NULL, NULL };
    cr_assert (m.met >= m.want, "%s: only %u writes met the replace at unit %llu",
               raid_level_name (cases[i].level), m.met, (unsigned long long) m.at);
    cr_assert (strstr (r.f.info, "e9.1 replaced e2.1 in slot 1"), "%s", r.f.info);
    cr_assert_eq (r.f.errors, 0, "an error was logged: %s", r.f.last_error);
    raid_status (r.f.a, &st);
    cr_assert_eq (st.replace_slot, -1);
    rig_adopt_done (&r, 0, "e9.1");                      /* slot 1 is e9.1 now; e2.1 is r.failed */
    before = malloc (WHOLE_MEMBER);
    cr_assert_not_null (before);
    memcpy (before, raid_mem_member_data (r.failed), WHOLE_MEMBER);
    rig_write (&r, 0, r.size);
    cr_assert (!memcmp (before, raid_mem_member_data (r.failed), WHOLE_MEMBER),
               "%s: the old member was written after it left", raid_level_name (cases[i].level));
    free (before);
    fx_close (&r.f);
    rig_assemble (&r);
    rig_check_done (&r, "e9.1");
    rig_lean_on_rebuilt (&r);
    rig_free (&r);
  }
}

/* The new member fails midway: the replace is given up, the old member keeps
 * the slot and the array stays whole. */
Test (replace, a_failing_new_member_is_dropped)
{
  struct rig r;
  struct raid_status st;

  rig_whole_spare (&r, &cases[1]);
  rig_replace_start (&r, "e9.1");
  raid_mem_member_fail_after (r.spare[0], 6);
  cr_assert_eq (raid_replace (r.f.a), -EIO);
  raid_status (r.f.a, &st);
  cr_assert (st.state == RAID_STATE_CLEAN && st.replace_slot == -1 && st.spares == 0
             && !strcmp (st.member[1].name, "e2.1"), "state %d replace %d spares %u slot 1 %s",
             st.state, st.replace_slot, st.spares, st.member[1].name);
  cr_assert (strstr (r.f.last_warning, "replacing e2.1 stopped: the new member failed; the "
                     "new member is dropped"), "%s", r.f.last_warning);
  rig_write (&r, 0, r.size);
  rig_verify (&r, "after the new member failed");
  fx_check_redundancy (&r.f, cases[1].level, cases[1].k, cases[1].m, cases[1].copies, CHUNK,
                       NULL);
  rig_free (&r);
}

/* The new member fails as it takes the slot (the bitmap block written to it last): it
 * may not hold the last writes, so the replace is given up and the old member keeps the
 * slot; nothing the array acknowledged is lost. */
static void
fail_the_bitmap_write (void *opaque, enum raid_io_op op, uint64_t offset, uint32_t len)
{
  if (op == RAID_IO_WRITE && offset == RAID_BITMAP_OFFSET)
    raid_mem_member_fail (opaque, 0, 1);
}

Test (replace, a_new_member_failing_as_it_takes_the_slot_is_dropped)
{
  struct rig r;
  struct raid_status st;

  rig_whole_spare (&r, &cases[1]);
  cr_assert_gt (r.f.a->bitmap.nbits, 0, "the rig has no bitmap: the test needs one");
  rig_replace_start (&r, "e9.1");
  raid_mem_member_hook (r.spare[0], fail_the_bitmap_write, r.spare[0]);
  cr_assert_eq (raid_replace (r.f.a), -EIO);
  raid_mem_member_hook (r.spare[0], NULL, NULL);
  raid_status (r.f.a, &st);
  cr_assert (st.state == RAID_STATE_CLEAN && st.replace_slot == -1 && st.spares == 0
             && !strcmp (st.member[1].name, "e2.1"), "state %d replace %d spares %u slot 1 %s",
             st.state, st.replace_slot, st.spares, st.member[1].name);
  cr_assert (strstr (r.f.last_warning, "replacing e2.1 stopped: the new member failed the "
                     "last writes"), "%s", r.f.last_warning);
  rig_verify (&r, "after the new member failed at the end");
  rig_write (&r, 0, r.size);
  rig_verify (&r, "written after the new member failed at the end");
  fx_check_redundancy (&r.f, cases[1].level, cases[1].k, cases[1].m, cases[1].copies, CHUNK,
                       NULL);
  rig_free (&r);
}

/* The old member's bad sector makes the copy rebuild unit 0 from the others, and the new
 * member fails that one write: it lacks unit 0, so the replace must not finish.  Every
 * other write it takes. */
struct one_write_fails { struct raid_mem_member *mm; uint64_t at; int state; };

static void
fail_one_write (void *opaque, enum raid_io_op op, uint64_t offset, uint32_t len)
{
  struct one_write_fails *w = opaque;

  if (w->state == 1) {
    raid_mem_member_fail (w->mm, 0, 0);
    w->state = 2;
  }
  if (w->state == 0 && op == RAID_IO_WRITE && offset <= w->at && w->at < offset + len) {
    raid_mem_member_fail (w->mm, 0, 1);
    w->state = 1;
  }
}

Test (replace, a_rebuilt_unit_the_new_member_cannot_take_stops_it)
{
  struct rig r;
  struct raid_status st;

  rig_whole_spare (&r, &cases[1]);                        /* raid5 of 3 */
  rig_replace_start (&r, "e9.1");
  raid_mem_member_bad_range (r.f.mm[1], RAID_DATA_OFFSET + 512, 512);
  struct one_write_fails w = { .mm = r.spare[0], .at = RAID_DATA_OFFSET };
  raid_mem_member_hook (r.spare[0], fail_one_write, &w);
  cr_assert_eq (raid_replace (r.f.a), -EIO, "the replace finished without unit 0");
  raid_mem_member_hook (r.spare[0], NULL, NULL);
  raid_mem_member_fail (r.spare[0], 0, 0);
  cr_assert_neq (w.state, 0, "the test failed no write");
  raid_status (r.f.a, &st);
  cr_assert (st.replace_slot == -1 && !strcmp (st.member[1].name, "e2.1"),
             "replace %d slot 1 %s", st.replace_slot, st.member[1].name);
  cr_assert (strstr (r.f.last_warning, "replacing e2.1 stopped: the new member failed"),
             "%s", r.f.last_warning);
  raid_mem_member_bad_range (r.f.mm[1], 0, 0);
  rig_verify (&r, "after the new member missed a rebuilt unit");
  rig_free (&r);
}

/* The member being replaced fails midway: the new one takes the slot as a
 * recovering member from where the copy was (writes kept reaching it), and the
 * recovery rebuilds only the rest. */
Test (replace, the_old_member_failing_ends_in_a_recovery)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    struct rig r;
    struct raid_status st;
    uint64_t at;

    rig_whole_spare (&r, &cases[i]);
    rig_replace_start (&r, NULL);
    raid_mem_member_fail_after (r.f.mm[1], 12);
    cr_assert_eq (raid_replace (r.f.a), -EIO);
    raid_status (r.f.a, &st);
    at = st.recovery_offset;
    cr_assert (st.replace_slot == -1 && st.spares == 0 && st.recovery_slot == 1
               && !strcmp (st.member[1].name, "e9.1") && at > 0 && at < st.resync_units,
               "%s: replace %d spares %u recovering %d (%s) at %llu",
               raid_level_name (cases[i].level), st.replace_slot, st.spares, st.recovery_slot,
               st.member[1].name, (unsigned long long) at);
    rig_write (&r, 0, r.size);                      /* below and above where it was */
    uint64_t wrote = fx_recover_writes (r.f.a, r.spare[0]);
    /* from where the copy was, not from the start (the units below it are not rewritten);
     * a superblock update or two besides, and one per checkpoint on the way */
    cr_assert (wrote <= (st.resync_units - at + 3
                         + (st.resync_units - at) / RECOVERY_CHECKPOINT) * CHUNK,
               "%s: the recovery wrote "
               "%llu bytes, more than the %llu units from %llu on",
               raid_level_name (cases[i].level), (unsigned long long) wrote,
               (unsigned long long) (st.resync_units - at), (unsigned long long) at);
    rig_adopt_done (&r, 0, "e9.1");
    rig_lean_on_rebuilt (&r);
    rig_free (&r);
  }
}

/* Run the replace on a thread until it has copied half the units (the new member is
 * slow), then cancel it: the position is checkpointed.  Returns it. */
static uint64_t
rig_replace_half (struct rig *r)
{
  struct raid_status st;

  rig_replace_start (r, "e9.1");
  raid_mem_member_delay (r->spare[0], 2000);
  raid_status (r->f.a, &st);
  rig_cancel_at (r, raid_replace, 1, st.resync_units / 2);
  raid_mem_member_delay (r->spare[0], 0);
  raid_status (r->f.a, &st);
  cr_assert (st.replace_slot == 1 && st.replace_offset < st.resync_units, "replace %d at %llu",
             st.replace_slot, (unsigned long long) st.replace_offset);
  return st.replace_offset;
}

/* Assemble the rig's members and the new member e9.1 (spare[0]); NULL on refusal. */
static struct raid_array *
rig_reassemble_with_new (struct rig *r, char *err, size_t errlen)
{
  r->f.mem[r->f.n] = raid_mem_member (r->spare[0]);
  r->f.n++;
  fx_assemble (&r->f, 0, err, errlen);
  r->f.n--;
  return r->f.a;
}

/* Let the replace run to its end (after a crash, the resync first, as the monitor does),
 * with the bytes the new member was written; then slot 1 must be e9.1's, every byte right
 * (also read through e9.1 alone) and e2.1 out. */
static uint64_t
rig_replace_finish (struct rig *r)
{
  struct raid_mem_stats ms;

  if (raid_needs_resync (r->f.a))
    cr_assert_eq (raid_resync (r->f.a), 0, "the resync after the crash");
  raid_mem_member_stats (r->spare[0], NULL, 1);
  cr_assert_eq (raid_replace (r->f.a), 0, "%s: the resumed replace", r->f.last_warning);
  raid_mem_member_stats (r->spare[0], &ms, 0);
  cr_assert (strstr (r->f.info, "e9.1 replaced e2.1 in slot 1"), "%s", r->f.info);
  rig_adopt_done (r, 0, "e9.1");
  rig_lean_on_rebuilt (r);
  return ms.write_bytes;
}

/* The replace writes one window to the new member while it reads the next from the old
 * one, as the recovery does: writes at window edges and across the bucket wrap (unit
 * 255 to 256) meet it without a deadlock, and the new member ends up with all of them;
 * a bad sector of the old member in a window read mid-pipeline is rebuilt from the
 * others. */
Test (replace, writes_race_the_pipeline_at_window_edges, .timeout = 60)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    const uint64_t member = RAID_DATA_OFFSET + 2 * 1024 * 1024;
    struct rig r;
    struct edge_writer e;

    rig_whole_sized (&r, &cases[i], member);
    rig_writer (&r, &e.w, 11, 50);
    e.unit_bytes = (uint64_t) (cases[i].m ? cases[i].k : 1) * CHUNK;
    r.spare[0] = raid_mem_member_new ("e9.1", member);
    rig_add (&r, 0);
    rig_replace_start (&r, NULL);
    if (cases[i].m)                 /* parity: rebuilt from the others; not raid1 of 2 */
      raid_mem_member_bad_range (r.f.mm[1], RAID_DATA_OFFSET + 40 * CHUNK + 512, 512);
    rig_run_under_writes (&r, raid_replace, &e.w, edge_writer_main, 20);
    cr_assert (strstr (r.f.info, "e9.1 replaced e2.1 in slot 1"), "%s", r.f.info);
    rig_adopt_done (&r, 0, "e9.1");
    rig_lean_on_rebuilt (&r);
    rig_free (&r);
  }
}

/* md saves a replacement: stopped by a restart, the replace resumes from its checkpoint
 * (the new member is written only the units from there on) before any request, and ends
 * with every byte right. */
Test (replace, a_restart_resumes_from_the_checkpoint)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    const char *lvl = raid_level_name (cases[i].level);
    struct rig r;
    struct raid_status st;
    struct raid_sb_summary sb;
    char err[256] = "";
    uint64_t at, wrote, slot_bytes = WHOLE_MEMBER - RAID_DATA_OFFSET;

    rig_whole_spare (&r, &cases[i]);
    at = rig_replace_half (&r);
    fx_close (&r.f);
    struct raid_member new_member = raid_mem_member (r.spare[0]);
    cr_assert_eq (raid_examine (&new_member, &sb), 0);
    /* a spare's role, as older aoeraid reads it; the record says what it is */
    cr_assert (sb.role == RAID_SB_ROLE_SPARE && sb.replacement && sb.replace_slot == 1
               && sb.replace_offset == at && sb.replace_units > at, "%s: e9.1's superblock: "
               "role %u replacement %d slot %d at %llu of %llu", lvl, sb.role, sb.replacement,
               sb.replace_slot, (unsigned long long) sb.replace_offset,
               (unsigned long long) sb.replace_units);
    cr_assert_not_null (rig_reassemble_with_new (&r, err, sizeof err), "assemble: %s", err);
    raid_status (r.f.a, &st);
    cr_assert (st.replace_slot == 1 && !strcmp (st.replace_name, "e9.1")
               && st.replace_offset == at && st.spares == 0 && st.state == RAID_STATE_CLEAN,
               "%s: after the restart: replace %d (%s) at %llu, spares %u", lvl,
               st.replace_slot, st.replace_name, (unsigned long long) st.replace_offset,
               st.spares);
    cr_assert (strstr (r.f.info, "replacing e2.1 (slot 1) with e9.1 resumes at "), "%s",
               r.f.info);
    rig_write (&r, 0, r.size);          /* before the copy goes on: the shadows take it */
    wrote = rig_replace_finish (&r);
    /* the units from the checkpoint on (raid10: about half of them are slot 1's), the
     * bitmap and a superblock, one per checkpoint on the way: not the whole slot */
    cr_assert (wrote <= slot_bytes - at * CHUNK / 2
               + (3 + (st.resync_units - at) / RECOVERY_CHECKPOINT) * 4096
               && wrote < slot_bytes, "%s: "
               "the resumed copy wrote %llu bytes, the slot holds %llu (resumed at %llu of "
               "%llu units)", lvl, (unsigned long long) wrote, (unsigned long long) slot_bytes,
               (unsigned long long) at, (unsigned long long) st.resync_units);
    rig_free (&r);
  }
}

/* A crash with a write in flight: it reached the old member (and the others) but not the
 * new one, whose shelf lost power first, in a region below the recorded position.  After
 * the restart the regions the bitmap held dirty at the crash are copied again, then the
 * rest from the checkpoint: every byte is right, read through the new member too, and the
 * clean regions below the checkpoint are not copied again. */
Test (replace, a_crash_copies_the_dirty_regions_again, .timeout = 120)
{
  for (unsigned c = 0; c < N_CASES; c++) {
    const char *lvl = raid_level_name (cases[c].level);
    struct rig r;
    struct raid_status st;
    char err[256] = "";
    int64_t new_power = 0;
    uint64_t at, unit, wrote, stripe = (uint64_t) cases[c].k * CHUNK;
    uint64_t slot_bytes = PACED_MEMBER - RAID_DATA_OFFSET;

    bitmap_rig_clean (&r, &cases[c]);
    r.spare[0] = raid_mem_member_new ("e9.1", PACED_MEMBER);
    rig_add (&r, 0);
    at = rig_replace_half (&r);
    unit = at / 3 & ~(uint64_t) 1;                  /* raid10: an even chunk is slot 1's */
    raid_mem_member_power (r.spare[0], &new_power); /* its shelf goes first */
    rig_write (&r, unit * stripe, stripe);          /* in flight: the others take it */
    rig_write (&r, r.size - stripe, stripe);        /* above the checkpoint */
    rig_crash (&r);
    raid_mem_member_power (r.spare[0], NULL);
    cr_assert_not_null (rig_reassemble_with_new (&r, err, sizeof err), "assemble: %s", err);
    raid_status (r.f.a, &st);
    cr_assert (st.replace_slot == 1 && st.replace_offset > 0 && st.replace_offset <= unit,
               "%s: after the crash the copy resumes at %llu: not at the dirty region of unit "
               "%llu (checkpoint %llu)", lvl, (unsigned long long) st.replace_offset,
               (unsigned long long) unit, (unsigned long long) at);
    cr_assert (strstr (r.f.info, "copied again"), "%s: %s", lvl, r.f.info);
    wrote = rig_replace_finish (&r);
    cr_assert (wrote < slot_bytes * 3 / 4, "%s: the copy after the crash wrote %llu bytes of "
               "the slot's %llu: it started again from 0", lvl, (unsigned long long) wrote,
               (unsigned long long) slot_bytes);
    rig_free (&r);
  }
}

/* The new member alone keeps writes in a volatile cache (the old one and the others are
 * vblade's, without one).  A write below the checkpoint reaches it through the shadows, its
 * region's bit clears, and the power fails everywhere: its cache is lost.  The clear must
 * not have reached the disk before the new member's copy of the write did (the bitmap's
 * preflush reaches it through the slot's), or the copy after the restart trusts the clean
 * region and the new member takes the slot without the write. */
Test (replace, a_cleared_bit_covers_the_cached_new_member, .timeout = 60)
{
  for (unsigned c = 0; c < 2; c++) {                /* raid1 of 2, raid5 of 3 */
    const char *lvl = raid_level_name (cases[c].level);
    struct rig r;
    struct raid_status st;
    char err[256] = "";
    int64_t power = 0;
    uint64_t at, unit, stripe = (uint64_t) cases[c].k * CHUNK;

    bitmap_rig_clean (&r, &cases[c]);
    r.spare[0] = raid_mem_member_new ("e9.1", PACED_MEMBER);
    cr_assert_eq (raid_mem_member_cache (r.spare[0], 1), 0);
    rig_add (&r, 0);
    at = rig_replace_half (&r);
    unit = at / 3;
    rig_write (&r, unit * stripe, stripe);          /* the shadows take it to e9.1 */
    bitmap_pass (r.f.a);
    bitmap_pass (r.f.a);
    raid_status (r.f.a, &st);
    cr_assert_eq (st.bitmap_dirty, 0, "%s: the bit cleared", lvl);
    raid_mem_member_power (r.spare[0], &power);     /* the power fails everywhere */
    rig_crash (&r);
    raid_mem_member_power (r.spare[0], NULL);
    raid_mem_member_lose_cache (r.spare[0], 0, PACED_MEMBER);
    cr_assert_not_null (rig_reassemble_with_new (&r, err, sizeof err), "assemble: %s", err);
    rig_replace_finish (&r);
    rig_free (&r);
  }
}

/* The old member is missing at assembly: as in md, the replacement takes the slot as a
 * recovering member from where the copy was, and the recovery rebuilds only the rest. */
Test (replace, the_old_member_missing_at_assembly_ends_in_a_recovery)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    const char *lvl = raid_level_name (cases[i].level);
    struct rig r;
    struct raid_status st;
    char err[256] = "";
    uint64_t at, slot_bytes = WHOLE_MEMBER - RAID_DATA_OFFSET;

    rig_whole_spare (&r, &cases[i]);
    at = rig_replace_half (&r);
    fx_close (&r.f);
    r.f.mem[1] = raid_mem_member (r.spare[0]);      /* e2.1's shelf is gone */
    cr_assert_not_null (fx_assemble (&r.f, 0, err, sizeof err), "%s: assemble: %s", lvl, err);
    raid_status (r.f.a, &st);
    cr_assert (st.replace_slot == -1 && st.recovery_slot == 1 && st.recovery_offset == at
               && !strcmp (st.member[1].name, "e9.1"), "%s: replace %d, recovering %d (%s) "
               "at %llu, copy was at %llu", lvl, st.replace_slot, st.recovery_slot,
               st.member[1].name, (unsigned long long) st.recovery_offset,
               (unsigned long long) at);
    cr_assert (strstr (r.f.last_warning, "slot 1 is missing; e9.1 takes the slot and is "
                       "rebuilt from "), "%s: %s", lvl, r.f.last_warning);
    rig_verify (&r, "the new member recovering");
    uint64_t wrote = fx_recover_writes (r.f.a, r.spare[0]);
    /* and the bitmap block it takes with its slot */
    cr_assert (wrote <= slot_bytes - at * CHUNK / 2 + 3 * 4096 + RAID_BITMAP_SIZE,
               "%s: the recovery wrote %llu bytes: not from unit %llu", lvl,
               (unsigned long long) wrote, (unsigned long long) at);
    rig_adopt_done (&r, 0, "e9.1");
    rig_lean_on_rebuilt (&r);
    rig_free (&r);
  }
}

/* The old member is missing at assembly while another slot is being rebuilt: the new
 * member cannot take the slot over (one recovery at a time), so the replace stops with a
 * line naming the slot and why (the slot has no member to name), the new member is a spare
 * again, and once slot 0 is rebuilt it rebuilds slot 1. */
Test (replace, the_old_member_missing_while_another_slot_recovers)
{
  struct rig r;
  struct raid_status st;
  char err[256] = "";

  rig_whole_spare (&r, &cases[2]);                        /* raid6 of 4: two may go */
  rig_replace_half (&r);
  fx_close (&r.f);                                  /* the cancel holds until a restart */
  cr_assert_not_null (rig_reassemble_with_new (&r, err, sizeof err), "assemble: %s", err);
  cr_assert_eq (raid_fail_member (r.f.a, "e1.1", err, sizeof err), 0, "%s", err);
  r.spare[1] = raid_mem_member_new ("e10.1", WHOLE_MEMBER);
  rig_add (&r, 1);
  raid_mem_member_delay (r.spare[1], 200000);       /* cancelled in its first window */
  rig_cancel_at (&r, raid_recover, 0, 0);
  raid_mem_member_delay (r.spare[1], 0);
  fx_close (&r.f);
  r.f.mem[0] = raid_mem_member (r.spare[1]);        /* slot 0: e10.1, recovering */
  r.f.mem[1] = raid_mem_member (r.spare[0]);        /* e2.1's shelf is gone; e9.1 given */
  rig_assemble (&r);
  cr_assert (strstr (r.f.last_warning, "replacing slot 1 stopped: its member is missing, and "
                     "e9.1 cannot take the slot over while slot 0 is being rebuilt (one "
                     "recovery at a time); it is a spare again"), "%s", r.f.last_warning);
  raid_status (r.f.a, &st);
  cr_assert (st.replace_slot == -1 && st.recovery_slot == 0 && st.spares == 1
             && !strcmp (st.spare[0], "e9.1"), "replace %d recovering %d spares %u",
             st.replace_slot, st.recovery_slot, st.spares);
  rig_verify (&r, "slot 0 recovering, slot 1 missing");
  cr_assert_eq (raid_recover (r.f.a), 0, "slot 0");
  cr_assert_eq (raid_recover (r.f.a), 0, "slot 1 onto e9.1");
  raid_status (r.f.a, &st);
  cr_assert (st.state == RAID_STATE_CLEAN && !strcmp (st.member[0].name, "e10.1")
             && !strcmp (st.member[1].name, "e9.1"), "state %d: %s %s", st.state,
             st.member[0].name, st.member[1].name);
  rig_verify (&r, "both slots rebuilt");
  rig_free (&r);
}

/* ---- a recovery of another slot goes before a replace ------------------------ */

/* Slots that fail (each once) when the copy has reached unit at, from a member I/O of
 * the replace itself: a replace run to its end cannot come before it. */
struct fail_point {
  struct raid_array *a;
  uint64_t at;
  unsigned n, slot[2];
  atomic_int fired;
};

static void
fail_hook (void *opaque, enum raid_io_op op, uint64_t offset, uint32_t len)
{
  struct fail_point *fp = opaque;

  (void) op, (void) offset, (void) len;
  if (atomic_load (&fp->a->repl.pos) >= fp->at && !atomic_exchange (&fp->fired, 1))
    for (unsigned k = 0; k < fp->n; k++)
      slot_set_faulty (&fp->a->slot[fp->slot[k]]);   /* as an I/O error marks it */
}

/* The rig replaces e2.1 (slot 1) with e9.1 and holds the spare e10.1 (and e11.1 in
 * *EXTRA when two slots are to fail); a quarter into the copy slot 0 fails (and slot 2,
 * where two may go): the replace must stop there, its position recorded, with the
 * recovery due.  Returns where it stopped. */
static uint64_t
rig_replace_meets_a_failure (struct rig *r, unsigned fails, struct raid_mem_member **extra)
{
  const char *lvl = raid_level_name (r->c->level);
  struct raid_member m;
  struct raid_status st;
  char err[256] = "";
  int rc;

  rig_replace_start (r, "e9.1");
  r->spare[1] = raid_mem_member_new ("e10.1", WHOLE_MEMBER);
  rig_add (r, 1);
  *extra = NULL;
  if (fails > 1) {
    *extra = raid_mem_member_new ("e11.1", WHOLE_MEMBER);
    m = raid_mem_member (*extra);
    cr_assert_eq (raid_add_member (r->f.a, &m, err, sizeof err), 0, "add: %s", err);
  }
  cr_assert_eq (raid_recovery_pending (r->f.a), 0, "%s: spares alone are no recovery", lvl);
  raid_status (r->f.a, &st);
  struct fail_point fp = { .a = r->f.a, .at = st.resync_units / 4, .n = fails,
                           .slot = { 0, 2 } };
  rig_hooks (r, fail_hook, &fp);
  rc = raid_replace (r->f.a);
  rig_hooks (r, NULL, NULL);
  raid_status (r->f.a, &st);
  cr_assert (atomic_load (&fp.fired), "%s: no slot failed during the copy", lvl);
  cr_assert (rc == -EAGAIN && st.replace_slot == 1 && st.replace_offset >= fp.at
             && st.replace_offset < st.resync_units, "%s: with slot 0 failed the replace "
             "returned %d, %s at %llu of %llu: it ran on instead of letting the recovery go "
             "first", lvl, rc, st.replace_slot == 1 ? "still replacing" : "replaced",
             (unsigned long long) st.replace_offset, (unsigned long long) st.resync_units);
  cr_assert (strstr (r->f.info, "replacing e2.1 (slot 1) with e9.1 waits at "), "%s: %s",
             lvl, r->f.info);
  cr_assert_eq (raid_recovery_pending (r->f.a), 1, "%s", lvl);
  return st.replace_offset;
}

/* A slot fails while a replace copies another one, with spares: the replace stops at its
 * checkpoint, the recovery rebuilds the failed slot (two, one after the other, where two
 * may go) while the replace waits, then the copy resumes from where it was and ends.
 * Every byte is right (writes came meanwhile), and every slot holds its share. */
Test (replace, waits_while_a_spare_rebuilds_another_slot)
{
  for (unsigned i = 0; i < N_CASES; i++) {
    const char *lvl = raid_level_name (cases[i].level);
    unsigned fails = cases[i].m > 1 ? 2 : 1;
    struct raid_mem_member *extra, *gone[3];
    struct raid_status st;
    struct rig r;
    uint64_t at;

    rig_whole_spare (&r, &cases[i]);
    at = rig_replace_meets_a_failure (&r, fails, &extra);
    rig_write (&r, 0, r.size);          /* the shadows keep the new member current */
    for (unsigned k = 0; k < fails; k++) {
      cr_assert_eq (raid_recover (r.f.a), 0, "%s: recovery %u", lvl, k);
      raid_status (r.f.a, &st);
      cr_assert (st.replace_slot == 1 && st.replace_offset == at, "%s: the replace moved "
                 "during recovery %u: slot %d at %llu", lvl, k, st.replace_slot,
                 (unsigned long long) st.replace_offset);
    }
    cr_assert_eq (raid_recovery_pending (r.f.a), 0, "%s", lvl);
    rig_verify (&r, "recovered, the replace waiting");
    cr_assert_eq (raid_replace (r.f.a), 0, "%s: the resumed replace: %s", lvl,
                  r.f.last_warning);
    raid_status (r.f.a, &st);
    cr_assert (st.state == RAID_STATE_CLEAN && st.replace_slot == -1 && st.spares == 0
               && !strcmp (st.member[0].name, "e10.1") && !strcmp (st.member[1].name, "e9.1")
               && (fails < 2 || !strcmp (st.member[2].name, "e11.1")), "%s: state %d, "
               "replace %d, spares %u, slots %s %s %s", lvl, st.state, st.replace_slot,
               st.spares, st.member[0].name, st.member[1].name, st.member[2].name);
    rig_verify (&r, "after the recovery and the replace");
    /* the fixture's members are the slots' now, for the redundancy check */
    struct raid_mem_member *now[3] = { r.spare[1], r.spare[0], extra };
    for (unsigned k = 0; k < 3; k++) {
      gone[k] = NULL;
      if (k < 2 || fails > 1) {
        gone[k] = r.f.mm[k];
        r.f.mm[k] = now[k];
        r.f.mem[k] = raid_mem_member (now[k]);
      }
    }
    r.spare[0] = r.spare[1] = NULL;
    fx_check_redundancy (&r.f, cases[i].level, cases[i].k, cases[i].m, cases[i].copies,
                         CHUNK, NULL);
    rig_free (&r);
    for (unsigned k = 0; k < 3; k++)
      if (gone[k])
        raid_mem_member_free (gone[k]);
  }
}

/* The member replaced fails too while the replace waits (raid6 of 4): once the other slot
 * is rebuilt, its slot goes to the new member, from where the copy was, not to the spare
 * left (which would rebuild it from unit 0). */
Test (replace, a_slot_failing_while_its_replace_waits_goes_to_the_new_member)
{
  struct raid_mem_member *extra;
  struct raid_status st;
  struct rig r;
  char err[256] = "";
  uint64_t at;

  rig_whole_spare (&r, &cases[2]);
  at = rig_replace_meets_a_failure (&r, 1, &extra);
  extra = raid_mem_member_new ("e11.1", WHOLE_MEMBER);
  struct raid_member m = raid_mem_member (extra);
  cr_assert_eq (raid_add_member (r.f.a, &m, err, sizeof err), 0, "add: %s", err);
  cr_assert_eq (raid_fail_member (r.f.a, "e2.1", err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_recover (r.f.a), 0, "slot 0");
  raid_status (r.f.a, &st);
  cr_assert (!strcmp (st.member[0].name, "e10.1") && st.replace_slot == 1,
             "slot 0 %s, replace %d", st.member[0].name, st.replace_slot);
  cr_assert_eq (raid_recovery_pending (r.f.a), 0, "the spare e11.1 would take slot 1 from "
                "unit 0");
  cr_assert_eq (raid_replace (r.f.a), -EIO, "the new member takes slot 1 over");
  raid_status (r.f.a, &st);
  cr_assert (st.replace_slot == -1 && st.recovery_slot == 1 && st.recovery_offset == at
             && !strcmp (st.member[1].name, "e9.1") && st.spares == 1
             && !strcmp (st.spare[0], "e11.1"), "replace %d, recovering %d (%s) at %llu "
             "(copy at %llu), spares %u", st.replace_slot, st.recovery_slot, st.member[1].name,
             (unsigned long long) st.recovery_offset, (unsigned long long) at, st.spares);
  cr_assert_eq (raid_recover (r.f.a), 0, "slot 1 onto e9.1");
  raid_status (r.f.a, &st);
  cr_assert_eq (st.state, RAID_STATE_CLEAN);
  rig_verify (&r, "both slots rebuilt");
  rig_free (&r);
  raid_mem_member_free (extra);
}

/* The hold of a recovery that cannot make progress (raid_recovery_hold) runs out while a
 * replace copies on under it: the hook, a quarter in, shortens the hold and waits until it
 * is over.  The copy steps aside at that window (md: recovery goes before a replacement),
 * not at its end; before, it went on under the hold. */
struct hold_end {
  struct raid_array *a;
  uint64_t at, ended_at;        /* shortened from unit at; over at unit ended_at */
  int ended;
};

static void
hold_end_between (void *opaque, uint64_t pos)
{
  struct hold_end *h = opaque;

  if (pos < h->at || h->ended)
    return;
  raid_recovery_hold (h->a, 1);
  /* bounded: 20 s, far past the 1 ms it lasts */
  for (unsigned i = 0; i < 20000 && raid_recovery_held (h->a); i++)
    usleep (1000);
  h->ended = !raid_recovery_held (h->a);
  h->ended_at = pos;
}

Test (replace, steps_aside_once_the_hold_of_a_failing_recovery_runs_out, .timeout = 60)
{
  struct raid_status st;
  struct rig r;
  char err[256] = "";
  int rc;

  rig_whole_spare (&r, &cases[2]);                  /* raid6 of 4 */
  rig_replace_start (&r, "e9.1");
  r.spare[1] = raid_mem_member_new ("e10.1", WHOLE_MEMBER);
  rig_add (&r, 1);
  cr_assert_eq (raid_fail_member (r.f.a, "e1.1", err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_recovery_pending (r.f.a), 1);
  raid_recovery_hold (r.f.a, 60000);
  struct hold_end h = { .a = r.f.a, .at = resync_units (r.f.a) / 4 };
  r.f.a->repl.hook = (struct replace_hook) { hold_end_between, &h };
  rc = raid_replace (r.f.a);
  r.f.a->repl.hook = (struct replace_hook) { NULL, NULL };
  raid_status (r.f.a, &st);
  cr_assert (h.ended, "the hold did not run out");
  cr_assert (rc == -EAGAIN && st.replace_slot == 1 && st.replace_offset == h.ended_at,
             "the replace returned %d, %s at %llu of %llu: the hold ran out at unit %llu and "
             "it went on", rc, st.replace_slot == 1 ? "still replacing" : "replaced",
             (unsigned long long) st.replace_offset, (unsigned long long) st.resync_units,
             (unsigned long long) h.ended_at);
  cr_assert (strstr (r.f.info, "replacing e2.1 (slot 1) with e9.1 waits at "), "%s",
             r.f.info);
  cr_assert_eq (raid_recover (r.f.a), 0, "slot 0 onto e10.1");
  cr_assert_eq (raid_replace (r.f.a), 0, "the resumed replace: %s", r.f.last_warning);
  raid_status (r.f.a, &st);
  cr_assert (st.state == RAID_STATE_CLEAN && !strcmp (st.member[0].name, "e10.1")
             && !strcmp (st.member[1].name, "e9.1"), "state %d: %s %s", st.state,
             st.member[0].name, st.member[1].name);
  rig_verify (&r, "recovered, then replaced");
  rig_free (&r);
}

/* The admin fails the new member (md: failing the replacement stops the replace): it is
 * faulty at once, takes no more writes, the superblocks drop the record of the replace,
 * and the replace stops on it; the old member serves on and the array stays whole. */
Test (replace, the_admin_fails_the_new_member)
{
  struct rig r;
  struct raid_status st;
  struct raid_mem_stats ms;
  struct raid_sb_summary sb;
  char err[256] = "";

  rig_whole_spare (&r, &cases[1]);
  rig_replace_start (&r, "e9.1");
  cr_assert_eq (raid_fail_member (r.f.a, "e9.1", err, sizeof err), 0, "%s", err);
  cr_assert (strstr (r.f.last_warning, "e9.1, replacing e2.1 (slot 1), failed by the "
                     "administrator; the replace stops"), "%s", r.f.last_warning);
  raid_status (r.f.a, &st);
  cr_assert (st.replace_slot == 1 && st.replace_failed, "replace %d failed %d",
             st.replace_slot, st.replace_failed);
  cr_assert_eq (raid_examine (&r.f.mem[0], &sb), 0);
  cr_assert_eq (sb.replace_slot, -1, "the superblocks still record the replace");
  raid_mem_member_stats (r.spare[0], NULL, 1);
  rig_write (&r, 0, 64 * 1024);
  raid_mem_member_stats (r.spare[0], &ms, 0);
  cr_assert_eq (ms.write_bytes, 0, "the failed new member was written");
  cr_assert_eq (raid_fail_member (r.f.a, "e9.1", err, sizeof err), -ENOENT, "failed twice");
  cr_assert_eq (raid_replace (r.f.a), -EIO);
  raid_status (r.f.a, &st);
  cr_assert (st.state == RAID_STATE_CLEAN && st.replace_slot == -1 && st.spares == 0
             && !strcmp (st.member[1].name, "e2.1"), "state %d replace %d spares %u slot 1 %s",
             st.state, st.replace_slot, st.spares, st.member[1].name);
  rig_verify (&r, "after the new member was failed");
  rig_free (&r);
}

/* Rewrite member mm's superblock (a valid one, crc and all) through EDIT. */
static void
sb_rewrite (struct raid_mem_member *mm, void (*edit) (struct raid_sb *))
{
  uint8_t *block = raid_mem_member_data (mm) + RAID_SB_OFFSET;
  struct raid_sb sb;

  cr_assert_eq (sb_decode (block, &sb, NULL, 0), RAID_SB_OK);
  edit (&sb);
  sb_encode (&sb, block);
}

static void sb_older (struct raid_sb *sb) { sb->events -= 3; }
static void sb_slot_gone (struct raid_sb *sb) { sb->replace_slot = 7; }

/* Records that cannot hold at assembly: a one-line warning, the old member keeps the slot
 * whole and the new one is a spare again (only the copy is lost), and the record is gone
 * from the superblocks.  0: the new member's superblock is older than the array's; 1: the
 * slot recorded does not exist; 2: the new member is not among those given. */
Test (replace, records_that_cannot_hold_leave_a_spare)
{
  static const char *const warned[] = {
    "e9.1 was replacing slot 1 but its superblock is stale (events",
    "e9.1 was recorded replacing slot 7, but the array has no such slot; it is a spare "
    "again: ask the replace again",
    "the member replacing slot 1 was not among those given; the replace is given up",
  };
  for (unsigned k = 0; k < 3; k++) {
    struct rig r;
    struct raid_status st;
    struct raid_sb_summary sb;
    char err[256] = "";

    rig_whole_spare (&r, &cases[1]);                      /* raid5 of 3 */
    rig_replace_half (&r);
    fx_close (&r.f);
    if (k == 0)
      sb_rewrite (r.spare[0], sb_older);
    for (unsigned i = 0; k == 1 && i < r.f.n; i++)
      sb_rewrite (r.f.mm[i], sb_slot_gone);
    if (k == 1)
      sb_rewrite (r.spare[0], sb_slot_gone);
    if (k == 2)
      fx_assemble (&r.f, 0, err, sizeof err);
    else
      rig_reassemble_with_new (&r, err, sizeof err);
    cr_assert_not_null (r.f.a, "case %u: assemble: %s", k, err);
    cr_assert (strstr (r.f.last_warning, warned[k]), "case %u: %s", k, r.f.last_warning);
    raid_status (r.f.a, &st);
    cr_assert (st.replace_slot == -1 && st.state == RAID_STATE_CLEAN
               && !strcmp (st.member[1].name, "e2.1") && st.spares == (k < 2)
               && raid_replace_pending (r.f.a) == 0, "case %u: replace %d, slot 1 %s, spares %u",
               k, st.replace_slot, st.member[1].name, st.spares);
    cr_assert_eq (raid_examine (&r.f.mem[0], &sb), 0);
    cr_assert_eq (sb.replace_slot, -1, "case %u: the record stayed", k);
    rig_write (&r, 0, r.size);
    rig_verify (&r, "after the record was dropped");
    rig_free (&r);
  }
}

/* Asked for no spare in particular, a replace takes the first one that is up. */
Test (replace, a_down_spare_is_passed_over)
{
  struct rig r;
  struct raid_status st;
  char err[256] = "";

  rig_whole_spare (&r, &cases[1]);
  raid_mem_member_set_down (r.spare[0], 1);
  cr_assert_eq (raid_replace_start (r.f.a, "e2.1", NULL, err, sizeof err), -ENOENT);
  cr_assert (strstr (err, "no spare that is up"), "%s", err);
  r.spare[1] = raid_mem_member_new ("e10.1", WHOLE_MEMBER);
  rig_add (&r, 1);
  rig_replace_start (&r, NULL);
  raid_status (r.f.a, &st);
  cr_assert_str_eq (st.replace_name, "e10.1");
  cr_assert_eq (raid_replace (r.f.a), 0);
  rig_adopt_done (&r, 1, "e10.1");
  rig_free (&r);
}

/* A failed slot takes the spare first (md): a replace meanwhile raced the recovery for
 * the spare, and the answer to one of the two was wrong (the plugin added the new shelf,
 * said recovery starts, then either refused the replace or left the slot failed). */
Test (replace, is_refused_while_a_slot_waits_for_a_spare)
{
  struct rig r;
  struct raid_status st;
  char err[256] = "";

  rig_whole_spare (&r, &cases[2]);                        /* raid6 of 4 */
  cr_assert_eq (raid_fail_member (r.f.a, "e3.1", err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_replace_start (r.f.a, "e2.1", "e9.1", err, sizeof err), -EBUSY);
  cr_assert_str_eq (err, "slot 2 has no working member, and a spare rebuilds it before any "
                    "replace: give it one with aoeraid add, and replace e2.1 once the array "
                    "is whole");
  raid_status (r.f.a, &st);
  cr_assert (st.replace_slot == -1 && st.spares == 1, "replace %d spares %u",
             st.replace_slot, st.spares);
  cr_assert (raid_recovery_pending (r.f.a), "the spare is left to the failed slot");
  rig_free (&r);
}

Test (replace, refusals)
{
  struct rig r;
  char err[256] = "";
  const char *name = "e9.1";

  rig_whole (&r, &cases[1]);
  cr_assert_eq (raid_replace_start (r.f.a, "e2.1", NULL, err, sizeof err), -ENOENT);
  cr_assert (strstr (err, "the array has no spare that is up to replace e2.1 with: add one first"), "%s",
             err);
  rig_spare (&r);
  cr_assert_eq (raid_fail_member (r.f.a, "e9.1", err, sizeof err), -ENOENT);
  cr_assert (strstr (err, "e9.1 is a spare, no working member: nothing to fail; aoeraid remove "
                     "e9.1 drops it"), "%s", err);
  {
    /* a spare added again: the refusal says it is a spare (it said only "in the array") */
    struct raid_member again = raid_mem_member (r.spare[0]);
    cr_assert_eq (raid_add_member (r.f.a, &again, err, sizeof err), -EEXIST, "%s", err);
    cr_assert (strstr (err, "member e9.1 is already in the array: a spare"), "%s", err);
  }
  cr_assert_eq (raid_replace_start (r.f.a, "e7.1", NULL, err, sizeof err), -ENOENT);
  cr_assert (strstr (err, "e7.1 is not a working member"), "%s", err);
  cr_assert_eq (raid_replace_start (r.f.a, "e2.1", "e8.1", err, sizeof err), -ENOENT);
  cr_assert (strstr (err, "e8.1 is not a spare of the array: add it first"), "%s", err);
  rig_replace_start (&r, NULL);
  cr_assert_eq (raid_replace_start (r.f.a, "e3.1", NULL, err, sizeof err), -EBUSY);
  cr_assert (strstr (err, "a replace runs"), "%s", err);
  /* the new member is out of the spare list while it copies: added again it would be a
   * spare too, and a failure elsewhere would rebuild onto the member being copied to */
  {
    struct raid_member again = raid_mem_member (r.spare[0]);
    struct raid_status st;

    cr_assert_eq (raid_add_member (r.f.a, &again, err, sizeof err), -EEXIST, "%s", err);
    cr_assert (strstr (err, "member e9.1 is already in the array: the new member of the "
                            "replace running"), "%s", err);
    raid_status (r.f.a, &st);
    cr_assert_eq (st.spares, 0, "the replacement was added as a spare too");
  }
  r.spare[1] = raid_mem_member_new ("e10.1", WHOLE_MEMBER);
  rig_add (&r, 1);
  cr_assert_neq (raid_grow (r.f.a, &name, 1, RAID_LEVEL_5, err, sizeof err), 0);
  cr_assert (strstr (err, "a member is being replaced"), "%s", err);
  cr_assert_eq (raid_replace (r.f.a), 0);
  rig_adopt_done (&r, 0, "e9.1");
  rig_free (&r);
}

/* Wipe a deep stretch of this thread's stack: what a call after a return would leave. */
static __attribute__ ((noinline)) void
scribble_stack (unsigned depth)
{
  volatile uint8_t junk[4096];

  memset ((uint8_t *) junk, 0xa5, sizeof junk);
  if (depth)
    scribble_stack (depth - 1);
}

/* A member coming back found taken by another head fences the array at its superblock read,
 * an I/O on a slot of the moment on the adder's stack.  The array keeps the member's name,
 * not that slot: status and every refusal after name it once that stack is reused (they
 * read the dead slot: a crash of the fenced head, seen in plugin-failover). */
Test (recover, a_member_found_taken_at_its_return_fences_by_its_name)
{
  struct raid_mem_member *back;
  struct raid_member m;
  struct raid_status st;
  char err[256] = "";
  struct fx f;

  fx_create (&f, RAID_LEVEL_5, 3, 2, 1, 4096, RAID_CREATE_ASSUME_CLEAN);
  cr_assert_eq (raid_fail_member (f.a, "e2.1", err, sizeof err), 0, "%s", err);
  back = raid_mem_member_new ("e2.1", FX_MEMBER_SIZE);
  raid_mem_member_fence (back, 1);
  m = raid_mem_member (back);
  cr_assert_eq (raid_add_member (f.a, &m, err, sizeof err), -EROFS, "add: %s", err);
  cr_assert (strstr (err, "the array is fenced: e2.1 belongs to another head"), "%s", err);
  scribble_stack (16);
  cr_assert_eq (raid_status (f.a, &st), 0);
  cr_assert_str_eq (st.fenced_by, "e2.1");
  cr_assert_eq (raid_add_member (f.a, &m, err, sizeof err), -EROFS, "again: %s", err);
  cr_assert (strstr (err, "the array is fenced: e2.1 belongs to another head"), "%s", err);
  fx_free (&f);
  raid_mem_member_free (back);
}

/* ---- a shelf that comes back: is its own disk still behind it? --------------------- */

/* RAID1 of 3 filled (REF) with spare e4.1; OTHER, another array; *BLANK, a blank disk. */
static uint8_t *
returned_rig (struct fx *f, struct fx *other, struct raid_mem_member **blank)
{
  uint64_t seed = 3;
  uint8_t *ref;
  char err[256] = "";

  fx_members (f, 4, FX_MEMBER_SIZE);
  f->n = 3;
  fx_create_on (f, RAID_LEVEL_1, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  f->n = 4;
  ref = fx_fill (f->a, &seed);
  cr_assert_eq (raid_add_member (f->a, &f->mem[3], err, sizeof err), 0, "%s", err);
  fx_create (other, RAID_LEVEL_1, 2, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  *blank = raid_mem_member_new ("e6.1", FX_MEMBER_SIZE);
  cr_assert_not_null (*blank);
  return ref;
}

static enum raid_role_state
slot_role (struct raid_array *a, unsigned slot)
{
  struct raid_status st;

  cr_assert_eq (raid_status (a, &st), 0);
  return st.member[slot].role;
}

Test (returned, its_own_disk_serves_again_a_swapped_one_is_left_alone)
{
  struct fx f, other;
  struct raid_mem_member *blank;
  uint8_t *ref = returned_rig (&f, &other, &blank);
  char why[640] = "";

  struct raid_sb_summary own = fx_examined (&f, 0), slot2 = fx_examined (&f, 1);
  cr_assert_eq (raid_member_returned (f.a, "e1.1", &own, why, sizeof why), 1,
                "e1.1 came back with its own disk, not taken for it: %s", why);
  cr_assert_eq (raid_member_returned (f.a, "e9.1", &own, why, sizeof why), -ENOENT);
  /* e1.1 holds e2.1's disk: not failed (a restart goes by superblocks) */
  cr_assert_eq (raid_member_returned (f.a, "e1.1", &slot2, why, sizeof why), 0);
  cr_assert (strstr (why, "e1.1 came back holding the disk of slot 1 of") &&
             strstr (why, "shelves swapped?"), "why: %s", why);
  cr_assert_eq (slot_role (f.a, 0), RAID_ROLE_ACTIVE, "a swapped disk failed its slot");
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after the swap was seen");
  free (ref);
  fx_free (&other);
  raid_mem_member_free (blank);
  fx_free (&f);
}

Test (returned, another_arrays_or_a_blank_disk_fails_the_member_and_no_byte_is_lost)
{
  struct fx f, other;
  struct raid_mem_member *blank;
  uint8_t *ref = returned_rig (&f, &other, &blank);
  struct raid_member blank_m = raid_mem_member (blank);
  struct raid_sb_summary none, foreign = fx_examined (&other, 0);
  char why[640] = "";

  cr_assert_eq (raid_examine (&blank_m, &none), 0);
  cr_assert_eq (none.state, RAID_SB_NONE);
  cr_assert_eq (raid_member_returned (f.a, "e1.1", &foreign, why, sizeof why), 0);
  cr_assert (strstr (why, "a member of another array, 'test'") && strstr (why, ": failed"),
             "why: %s", why);
  cr_assert_eq (slot_role (f.a, 0), RAID_ROLE_FAULTY, "another array's disk kept its slot");
  cr_assert_eq (raid_member_returned (f.a, "e2.1", &none, why, sizeof why), 0);
  cr_assert (strstr (why, "a disk without an aoeraid superblock") && strstr (why, ": failed"),
             "why: %s", why);
  cr_assert_eq (slot_role (f.a, 1), RAID_ROLE_FAULTY, "a blank disk kept its slot");
  /* a spare holding a blank disk is not used, and not failed either */
  cr_assert_eq (raid_member_returned (f.a, "e4.1", &none, why, sizeof why), 0);
  cr_assert (strstr (why, "not used as a spare"), "why: %s", why);
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "with the last mirror only");
  free (ref);
  fx_free (&other);
  raid_mem_member_free (blank);
  fx_free (&f);
}

/* A shelf holding the disk of a slot another name serves (a copy, or shelves swapped):
 * added as a spare it would be rebuilt over that slot's data. */
Test (returned, a_disk_of_a_served_slot_is_no_spare)
{
  struct fx f;
  uint8_t *ref = fx_create_filled (&f, RAID_LEVEL_5, 4, FX_MEMBER_SIZE, CHUNK, 0);
  struct raid_status st;
  char err[256] = "";

  /* e4.1 of the array is gone; its shelf now holds a copy of e2.1's disk */
  fx_close (&f);
  memcpy (raid_mem_member_data (f.mm[3]), raid_mem_member_data (f.mm[1]), FX_MEMBER_SIZE);
  f.n = 3;
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  f.n = 4;
  cr_assert_eq (raid_add_member (f.a, &f.mem[3], err, sizeof err), -EBUSY,
                "a copy of a served slot's disk was taken: %s", err);
  cr_assert (strstr (err, "e4.1 holds the disk of slot 1, which e2.1 serves"), "err: %s", err);
  cr_assert_eq (raid_status (f.a, &st), 0);
  cr_assert_eq (st.spares, 0);
  cr_assert_eq (st.state, RAID_STATE_DEGRADED);
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after the refusal");
  free (ref);
  fx_free (&f);
}

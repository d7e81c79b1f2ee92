/* Crash consistency on members with a volatile write cache (a disk's, on).  Each case
 * runs a scenario on in-memory members whose caches are on, with the power cut after
 * I/O number K (a budget every member draws from), for many K; then each member loses
 * power (raid_mem_member_power_loss: its durable bytes and a random subset of the writes
 * it took since its last flush, drawn from a seed, for a few seeds); then the array is
 * assembled again and what it must finish (recovery, resync, reshape, replace) runs to
 * its end.  Then:
 *   - every write acknowledged and then made durable (a raid_flush, or a FUA write,
 *     that succeeded) before the cut reads back; a write not yet made durable (or cut
 *     short) reads, sector by sector, its bytes or those before it (md promises no more:
 *     a disk may lose what it took into its cache), so the workloads write no sector
 *     twice between two flushes;
 *   - no byte a write did not touch has changed;
 *   - once the array is whole and in sync again, its redundancy matches its data.
 * One exception, md's own: in a stripe whose member was missing or not yet rebuilt at
 * the crash, that member's rows a write not yet durable covered may read anything
 * (struct crash's out).  Reassembly never forces: every case here is one md starts by
 * itself (a dirty array with every member, or with one missing and the partial parity
 * log); a member it leaves out as stale is added back (md's --re-add). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "raid-int.h"

#define CHUNK 4096u
#define REGION (16u * 1024)             /* bitmap bits that count: 8 per 128 KiB */
#define BIG_MEMBER (RAID_DATA_OFFSET + 1024 * 1024)   /* 256 units: checkpoints */
#define SEEDS 3

struct crash {
  struct fx f;
  struct level_case c;
  uint8_t *ref;                         /* the newest bytes a write sent, ended or not */
  uint8_t *sure;                        /* the bytes as of the last flush that succeeded */
  uint8_t *fresh;                       /* a byte per sector: written since that flush */
  uint64_t size, seed;
  unsigned acked, flushed;              /* writes acknowledged, flushes that succeeded */
  struct raid_mem_member *gone;         /* a member the scenario took out of f */
  unsigned variant;                     /* which restart of the scenario: 0 .. variants */
  unsigned pause_writes, pause_at;      /* pause_hook's count, and where it stops */
  uint64_t pause_from;                  /* the data writes it counts: at or above this */
  int out;                              /* a slot out of sync whose column's sectors a
                                         * write sent since the last flush may read
                                         * anything (see recovery); -1: none */
  uint64_t meta_below;                  /* member writes below this are metadata */
  int parity_on;                        /* >= 0: writes only to stripes whose parity
                                         * is on this slot, within one column */
  uint64_t span;                        /* > 0: writes only in the array's first bytes */
  int no_fua;                           /* no write is FUA: none flushes the others */
};

static const struct level_case raid1 = { RAID_LEVEL_1, 2, 1, 0, 2 };
static const struct level_case raid5 = { RAID_LEVEL_5, 3, 2, 1, 1 };
static const struct level_case raid6 = { RAID_LEVEL_6, 4, 2, 2, 1 };

/* Random bytes, eight per draw (fill_random's one per draw is slow for whole members). */
static void
fast_fill (uint8_t *buf, size_t len, uint64_t *seed)
{
  for (size_t i = 0; i < len; i += 8) {
    uint64_t r = rnd (seed);
    memcpy (buf + i, &r, len - i < 8 ? len - i : 8);
  }
}

static void
power (struct crash *c, int64_t *budget)
{
  for (unsigned i = 0; i < c->f.n; i++)
    raid_mem_member_power (c->f.mm[i], budget);
}

static void
caches_on (struct crash *c)
{
  for (unsigned i = 0; i < c->f.n; i++)
    cr_assert_eq (raid_mem_member_cache (c->f.mm[i], 1), 0);
}

/* The array of level case LC on N members of MEMBER bytes (LC's first lc->n in it), its
 * data at DATA_OFFSET (0: the default), with a bitmap of REGION bytes per bit and FLAGS;
 * filled, flushed, then the caches on. */
static void
crash_create_at (struct crash *c, const struct level_case *lc, unsigned n, uint64_t member,
                 unsigned flags, uint64_t seed, uint64_t data_offset)
{
  struct raid_params p = { .level = lc->level, .k = lc->k, .m = lc->m, .chunk_bytes = CHUNK,
                           .name = "crash", .flags = flags, .bitmap_region = REGION,
                           .data_offset = data_offset };
  char err[256] = "";

  memset (c, 0, sizeof *c);
  c->c = *lc;
  c->seed = seed;
  c->out = -1;
  c->parity_on = -1;
  /* a reshape moves the data a chunk lower: what is written there is data */
  c->meta_below = data_offset ? data_offset : RAID_DATA_OFFSET - 16 * CHUNK;
  c->pause_at = 128;                    /* of 256 units */
  c->pause_from = RAID_DATA_OFFSET;
  fx_members (&c->f, n, member);
  if (!(flags & RAID_CREATE_ASSUME_CLEAN))
    for (unsigned i = 0; i < n; i++)    /* what the members held before: not in sync */
      fast_fill (raid_mem_member_data (c->f.mm[i]) + RAID_DATA_OFFSET,
                 member - RAID_DATA_OFFSET, &c->seed);
  c->f.n = lc->n;
  c->f.a = raid_create (&p, c->f.mem, lc->n, fx_log, &c->f, err, sizeof err);
  cr_assert_not_null (c->f.a, "raid_create: %s", err);
  c->f.n = n;
  c->size = raid_size (c->f.a);
  c->ref = malloc (c->size);
  cr_assert_not_null (c->ref);
  fast_fill (c->ref, c->size, &c->seed);
  cr_assert_eq (raid_write (c->f.a, c->ref, (uint32_t) c->size, 0, 0), 0, "filling failed");
  c->sure = malloc (c->size);
  c->fresh = calloc (1, c->size / 512);
  cr_assert (c->sure && c->fresh);
  cr_assert_eq (raid_flush (c->f.a), 0);
  memcpy (c->sure, c->ref, c->size);
  caches_on (c);
}

static void
crash_create (struct crash *c, const struct level_case *lc, unsigned n, uint64_t member,
              unsigned flags, uint64_t seed)
{
  crash_create_at (c, lc, n, member, flags, seed, 0);
}

static void
crash_free (struct crash *c)
{
  fx_free (&c->f);
  raid_mem_member_free (c->gone);
  free (c->ref);
  free (c->sure);
  free (c->fresh);
}

/* A flush that succeeded: every write before it is durable. */
static void
durable (struct crash *c)
{
  memcpy (c->sure, c->ref, c->size);
  memset (c->fresh, 0, c->size / 512);
  c->flushed++;
}

/* One write of random bytes at a place no write took since the last flush, FUA now and
 * then; 0, or -1 once a write (or its FUA) failed: the power went. */
static int
crash_write (struct crash *c)
{
  uint64_t sectors = (c->span ? c->span : c->size) / 512, at = 0;
  uint32_t len = 0;

  for (int tries = 0; tries < 256 && !len; tries++) {
    uint32_t want = 1 + (uint32_t) (rnd (&c->seed) % 24);
    at = rnd (&c->seed) % (sectors - want);
    len = want;
    if (c->parity_on >= 0 && (at * 512 / CHUNK != (at + want - 1) * 512 / CHUNK
                              || ref_parity_dev (c->c.n, c->c.m, at * 512 / (CHUNK * c->c.k), 0)
                                 != (unsigned) c->parity_on))
      len = 0;
    for (uint32_t s = 0; s < want && len; s++)
      if (c->fresh[at + s])
        len = 0;
  }
  if (!len) {                           /* crowded: make room */
    if (raid_flush (c->f.a))
      return -1;
    durable (c);
    return 0;
  }
  memset (c->fresh + at, 1, len);
  fast_fill (c->ref + at * 512, len * 512, &c->seed);
  unsigned fua = rnd (&c->seed) % 8 == 0 && !c->no_fua;
  if (raid_write (c->f.a, c->ref + at * 512, len * 512, at * 512, fua ? RAID_WRITE_FUA : 0))
    return -1;
  c->acked++;
  if (fua)
    durable (c);
  return 0;
}

/* N writes, a flush after every EVERY of them; now and then the bitmap daemon's passes
 * (two: a bit goes after a pass without writes), between flushes too: a bit cleared on
 * the disk while its region's writes sit in a cache is what they risk.  Stops at the
 * first failure. */
static int
crash_writes (struct crash *c, unsigned n, unsigned every)
{
  for (unsigned w = 1; w <= n; w++) {
    if (crash_write (c))
      return -1;
    if (w % every == 0) {
      if (raid_flush (c->f.a))
        return -1;
      durable (c);
    }
    if (rnd (&c->seed) % 4 == 0) {
      bitmap_pass (c->f.a);
      bitmap_pass (c->f.a);
    }
  }
  return 0;
}

/* The host dies (nothing more reaches a member), then every member loses power: what
 * its cache had not written back is gone but for the subset SEED draws. */
static void
crash_power_off (struct crash *c, uint64_t seed)
{
  int64_t none = 0;

  power (c, &none);
  fx_close (&c->f);
  power (c, NULL);
  for (unsigned i = 0; i < c->f.n; i++) {
    raid_mem_member_power_loss (c->f.mm[i], &seed);
    raid_mem_member_set_down (c->f.mm[i], 0);     /* every shelf is back */
  }
}

/* Every sector reads its bytes as of the last flush or those a write sent since (as
 * fx_expect_data), but for a sector a write sent since in the column of member MISSING
 * (-1: none) of a parity array, which may read anything. */
static void
crash_expect (struct crash *c, int missing, const char *when)
{
  uint32_t stripe_bytes = CHUNK * c->c.k;
  uint8_t *got = malloc (c->size);

  cr_assert_eq (raid_read (c->f.a, got, c->size, 0), 0, "%s: read failed", when);
  for (uint64_t o = 0; o < c->size; o += 512) {
    unsigned col = (unsigned) (o % stripe_bytes / CHUNK);
    int dev = c->c.m ? (int) ref_data_dev (c->c.n, c->c.m, o / stripe_bytes, col) : -1;
    if (memcmp (got + o, c->ref + o, 512) && memcmp (got + o, c->sure + o, 512)
        && !(c->fresh[o / 512] && dev == missing && missing >= 0))
      cr_assert_fail ("%s: array data differs from the reference at %llu (column of slot "
                      "%d, %s since the last flush; %s)", when, (unsigned long long) o, dev,
                      c->fresh[o / 512] ? "written" : "not written",
                      memcmp (c->ref + o, c->sure + o, 512) ? "differs" : "same");
  }
  free (got);
}

/* Put the fixture's members in the order of the slots ST names (a replace or recovery
 * may have moved one in): those left over go to c->gone (one at most). */
static void
crash_members_by_slot (struct crash *c, const struct raid_status *st)
{
  struct raid_mem_member *mm[RAID_MAX_MEMBERS];
  unsigned n = c->f.n, taken = 0;

  memcpy (mm, c->f.mm, sizeof mm);
  for (unsigned s = 0; s < st->members; s++)
    for (unsigned i = 0; i < n; i++)
      if (mm[i] && !strcmp (st->member[s].name, c->f.mem[i].ops->name (mm[i]))) {
        c->f.mm[s] = mm[i];
        mm[i] = NULL;
        taken++;
      }
  cr_assert_eq (taken, st->members, "a slot's member is not one of the fixture's");
  for (unsigned i = 0; i < n; i++)
    if (mm[i]) {
      cr_assert_null (c->gone, "two members left over");
      c->gone = mm[i];
    }
  c->f.n = st->members;
  for (unsigned i = 0; i < c->f.n; i++)
    c->f.mem[i] = raid_mem_member (c->f.mm[i]);
}

/* The members' redundancy matches their data, where the superblocks say the data is
 * (a reshape moves it a chunk lower): raid1 copies equal, raid5 rows XOR to zero (any
 * layout), raid6 through fx_check_redundancy (byte at a time: small members only). */
static void
crash_redundancy (struct crash *c, const char *when)
{
  struct raid_sb_summary sb;
  uint64_t words;

  if (c->c.level == RAID_LEVEL_6) {
    fx_check_redundancy (&c->f, c->c.level, c->c.k, c->c.m, c->c.copies, CHUNK, NULL);
    return;
  }
  cr_assert_eq (raid_examine (&c->f.mem[0], &sb), 0);
  words = sb.data_size / 8;
  const uint64_t *col[RAID_MAX_MEMBERS];
  for (unsigned i = 0; i < c->f.n; i++)
    col[i] = (const uint64_t *) (raid_mem_member_data (c->f.mm[i]) + sb.data_offset);
  for (uint64_t w = 0; w < words; w++) {
    uint64_t x = 0;
    for (unsigned i = 0; i < c->f.n; i++)
      x ^= c->c.level == RAID_LEVEL_1 ? col[i][w] ^ col[0][w] : col[i][w];
    if (x)
      cr_assert_fail ("%s: the redundancy does not match the data at byte %llu of the "
                      "members' data", when, (unsigned long long) w * 8);
  }
}

/* Add back the members assembly left out as stale (md: --re-add; the bitmap says what
 * they missed): an array left degraded by a member away at the crash is made whole. */
static void
crash_readd (struct crash *c, const char *when)
{
  struct raid_status st;
  char err[256] = "";

  raid_status (c->f.a, &st);
  if (st.state != RAID_STATE_DEGRADED)
    return;
  for (unsigned i = 0; i < c->f.n; i++) {
    const char *name = c->f.mem[i].ops->name (c->f.mm[i]);
    int in = 0;
    for (unsigned s = 0; s < st.members; s++)
      in |= !strcmp (st.member[s].name, name);
    for (unsigned s = 0; s < st.spares; s++)
      in |= !strcmp (st.spare[s], name);
    if (!in)
      cr_assert_eq (raid_add_member (c->f.a, &c->f.mem[i], err, sizeof err), 0,
                    "%s: add %s back: %s", when, name, err);
  }
}

typedef void setup_fn (struct crash *c);
typedef int run_fn (struct crash *c);

/* Assemble (no force), finish what the array must, and hold it to the invariants;
 * WHEN names the run in messages. */
static void
crash_restart_check (struct crash *c, const char *when)
{
  char err[256] = "";
  struct raid_status st;

  cr_assert_not_null (fx_assemble (&c->f, 0, err, sizeof err), "%s: assemble: %s", when, err);
  crash_readd (c, when);
  if (raid_reshape_pending (c->f.a))
    cr_assert_eq (raid_reshape (c->f.a), 0, "%s: the reshape does not resume", when);
  if (raid_replace_pending (c->f.a))
    cr_assert_eq (raid_replace (c->f.a), 0, "%s: the replace does not resume", when);
  if (raid_recovery_pending (c->f.a))
    cr_assert_eq (raid_recover (c->f.a), 0, "%s: the recovery does not resume", when);
  if (raid_needs_resync (c->f.a))
    cr_assert_eq (raid_resync (c->f.a), 0, "%s: the resync failed", when);
  raid_status (c->f.a, &st);
  cr_assert_eq (st.state, RAID_STATE_CLEAN, "%s: the array is not whole after its runs", when);
  crash_expect (c, c->out, when);
  crash_members_by_slot (c, &st);
  crash_redundancy (c, when);
}

#define META_CUTS 16

static int
cmp_i64 (const void *x, const void *y)
{
  int64_t a = *(const int64_t *) x, b = *(const int64_t *) y;
  return a < b ? -1 : a > b;
}

/* How many member I/Os RUN takes without a cut (for choosing where to cut); into META
 * (META_CUTS of them at most, spread, sorted) the I/O numbers of its metadata writes (a
 * superblock, the bitmap, the log: anything below the data), their count in *NMETA. */
static int64_t
ios_of (setup_fn *setup, run_fn *run, int64_t *meta, unsigned *nmeta)
{
  static struct raid_mem_op ops[1024];
  int64_t all[RAID_MAX_MEMBERS * 1024];
  unsigned n = 0;
  struct crash c;
  int64_t budget = INT64_MAX / 2, start = budget;

  setup (&c);
  for (unsigned i = 0; i < c.f.n; i++)
    raid_mem_member_stats (c.f.mm[i], NULL, 1);
  power (&c, &budget);
  cr_assert_eq (run (&c), 0, "the scenario fails without a cut");
  power (&c, NULL);
  for (unsigned i = 0; i < c.f.n; i++) {
    unsigned got = raid_mem_member_trace (c.f.mm[i], ops, 1024);
    for (unsigned j = 0; j < got; j++)
      if (ops[j].op == RAID_IO_WRITE && ops[j].offset < c.meta_below
          && ops[j].power_left >= 0)
        all[n++] = start - ops[j].power_left - 1;
  }
  qsort (all, n, sizeof all[0], cmp_i64);
  *nmeta = n < META_CUTS ? n : META_CUTS;
  for (unsigned i = 0; i < *nmeta; i++)
    meta[i] = all[(uint64_t) i * n / *nmeta];
  crash_free (&c);
  return start - budget;
}

typedef void restart_fn (struct crash *c, const char *when);

/* Cut SETUP's RUN after K member I/Os, for K: the first 12, CUTS spread over the rest,
 * and one and two after each of some metadata writes (in a cache then, its flush not yet
 * sent or not everywhere); with SEEDS losses each, then RESTART each of VARIANTS ways and
 * check. */
static void
crash_sweep_with (const char *name, setup_fn *setup, run_fn *run, restart_fn *restart,
                  unsigned variants, unsigned cuts)
{
  int64_t meta[META_CUTS], ks[12 + 64 + 2 * META_CUTS];
  unsigned nmeta, nk = 0;
  int64_t total = ios_of (setup, run, meta, &nmeta);
  char when[200];

  for (int64_t k = 0; k < 12; k++)
    ks[nk++] = k;
  for (unsigned i = 1; i <= cuts && i <= 64; i++)
    ks[nk++] = 12 + (total - 12) * i / cuts;
  for (unsigned i = 0; i < nmeta; i++) {
    ks[nk++] = meta[i] + 1;
    ks[nk++] = meta[i] + 2;
  }
  /* RAID_CRASH_SEEDS=N: N losses per cut; RAID_CRASH_ALL=1: every K (minutes, not for
   * make check: for hunting) */
  uint64_t seeds = getenv ("RAID_CRASH_SEEDS") ? strtoull (getenv ("RAID_CRASH_SEEDS"), NULL, 10)
                                               : SEEDS;
  if (getenv ("RAID_CRASH_ALL"))
    nk = (unsigned) total + 1;
  for (unsigned i = 0; i < nk; i++) {
    int64_t k = getenv ("RAID_CRASH_ALL") ? (int64_t) i : ks[i];
    for (uint64_t seed = 1; seed <= seeds; seed++)
      for (unsigned v = 0; v < variants; v++) {
        struct crash c;
        int64_t budget = k;

        setup (&c);
        c.variant = v;
        power (&c, &budget);
        run (&c);
        power (&c, NULL);
        crash_power_off (&c, seed * 1000 + (uint64_t) k);
        snprintf (when, sizeof when, "%s, cut at I/O %lld of %lld, loss %llu, restart %u "
                  "(%u writes acknowledged, %u flushes)", name, (long long) k,
                  (long long) total, (unsigned long long) seed, v, c.acked, c.flushed);
        restart (&c, when);
        crash_free (&c);
      }
  }
}

static void
crash_sweep (const char *name, setup_fn *setup, run_fn *run, unsigned cuts)
{
  crash_sweep_with (name, setup, run, crash_restart_check, 1, cuts);
}

/* ---- plain writes, a bitmap ------------------------------------------------ */

static void setup1 (struct crash *c) { crash_create (c, &raid1, 2, FX_MEMBER_SIZE, RAID_CREATE_ASSUME_CLEAN, 11); }
static void setup5 (struct crash *c) { crash_create (c, &raid5, 3, FX_MEMBER_SIZE, RAID_CREATE_ASSUME_CLEAN, 12); }
static void setup6 (struct crash *c) { crash_create (c, &raid6, 4, FX_MEMBER_SIZE, RAID_CREATE_ASSUME_CLEAN, 13); }
static int writes (struct crash *c) { return crash_writes (c, 40, 5); }

Test (crash, writes_on_raid1_with_a_bitmap) { crash_sweep ("raid1", setup1, writes, 24); }
Test (crash, writes_on_raid5_with_a_bitmap) { crash_sweep ("raid5", setup5, writes, 24); }
Test (crash, writes_on_raid6_with_a_bitmap) { crash_sweep ("raid6", setup6, writes, 24); }

/* ---- raid5 with the partial parity log, a member missing at the restart ----- */

/* The write hole: the array starts dirty without member c->variant, which md allows
 * with the log (no force).  A sector of the missing column that a write not yet durable
 * covered is undefined (md's too: its new bytes may be lost with the member, its old ones
 * with the parity); every other sector holds to the invariants. */
static void
restart_without (struct crash *c, const char *when)
{
  struct raid_member m[RAID_MAX_MEMBERS];
  unsigned n = 0, missing = c->variant;
  char err[256] = "";

  for (unsigned i = 0; i < c->f.n; i++)
    if (i != missing)
      m[n++] = c->f.mem[i];
  c->f.a = raid_assemble (m, n, 0, fx_log, &c->f, err, sizeof err);
  cr_assert_not_null (c->f.a, "%s: assemble without member %u: %s", when, missing, err);
  crash_expect (c, (int) missing, when);
}

static void setup5ppl (struct crash *c)
{
  crash_create (c, &raid5, 3, FX_MEMBER_SIZE, RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_PPL, 14);
}

Test (crash, writes_on_raid5_with_the_log_and_a_member_missing_at_the_restart)
{
  crash_sweep_with ("raid5 ppl", setup5ppl, writes, restart_without, 3, 14);
}

/* The least ring a 4 KiB chunk takes (ppl_ring_needs: 32 KiB, four entries or more),
 * and no flush from the host: the entries of writes still in the members' caches take
 * a ring's room in turn, and a writer needs the room of one (its flush first).  Every
 * write's parity on slot 0, its entries there too: the log's own flush before a partial
 * write's data reaches slot 0 only, and the data members keep theirs in the cache.  No
 * bitmap: its own flushes (a bit set, a bit cleared) would make the writes durable. */
static void setup5ring (struct crash *c)
{
  crash_create_at (c, &raid5, 3, FX_MEMBER_SIZE,
                   RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_PPL | RAID_CREATE_NO_BITMAP, 25,
                   RAID_META_END + ppl_ring_needs (CHUNK));
  c->parity_on = 0;
}
static int writes_unflushed (struct crash *c) { return crash_writes (c, 40, 1000); }

Test (crash, writes_on_raid5_with_the_log_on_a_small_ring)
{
  crash_sweep_with ("raid5 ppl small ring", setup5ring, writes_unflushed, restart_without, 3, 14);
  crash_sweep ("raid5 ppl small ring, every member back", setup5ring, writes_unflushed, 14);
}

/* The same on a few stripes (24: 8 with their parity on slot 0), and no FUA: a write
 * often lands in a stripe an earlier one wrote, still in a data member's cache (the
 * room flush comes lazily), beside its rows: the replay must not take the later record
 * alone.  (Over the same rows, its pp holding the earlier write's bytes, needs a third
 * data column and two writes within a ring's room: raid-ppl's
 * a_later_write_over_the_same_rows_logs_after_the_earlier_one_is_durable.) */
static void setup5few (struct crash *c)
{
  setup5ring (c);
  c->span = 24 * 2 * CHUNK;
  c->no_fua = 1;
}

Test (crash, writes_on_raid5_with_the_log_on_a_few_stripes)
{
  crash_sweep_with ("raid5 ppl few stripes", setup5few, writes_unflushed, restart_without, 3, 14);
}

/* Stop a run (raid_recover, raid_replace, raid_reshape) at the new member's
 * c->pause_at-th data write. */
static void
pause_hook (void *opaque, enum raid_io_op op, uint64_t offset, uint32_t len)
{
  struct crash *c = opaque;

  (void) len;
  if (op == RAID_IO_WRITE && offset >= c->pause_from && ++c->pause_writes == c->pause_at)
    raid_resync_cancel (c->f.a);
}

/* ---- raid5 and raid6 with a bitmap only, members missing at the restart ----------- */

/* The write hole without the log: a start without members (raid5: slot c->variant;
 * raid6: that one and the next) is refused while the bitmap it reads holds a dirty bit,
 * and starts without force when it holds none: then no write was under way at the crash
 * and no stripe can be torn, so every sector holds to the invariants, those of the
 * missing columns too (crash_expect with no column exempt). */
static unsigned bitmap_starts, bitmap_refusals;

static void
restart_without_by_bitmap (struct crash *c, const char *when)
{
  struct raid_member m[RAID_MAX_MEMBERS];
  unsigned n = 0, first = c->variant, second = (c->variant + c->c.m - 1) % c->f.n;
  char err[256] = "";

  for (unsigned i = 0; i < c->f.n; i++)
    if (i != first && i != second)
      m[n++] = c->f.mem[i];
  fx_warnings[0] = '\0';
  c->f.a = raid_assemble (m, n, 0, fx_log_all, &c->f, err, sizeof err);
  if (!c->f.a) {
    cr_assert (strstr (err, "write hole"), "%s: refused for another reason: %s", when, err);
    bitmap_refusals++;
    return;
  }
  cr_assert (strstr (fx_warnings, "the write-intent bitmap shows no write under way"),
             "%s: started without saying why: %s", when, fx_warnings);
  bitmap_starts++;
  crash_expect (c, -1, when);
}

static void setup5bitmap (struct crash *c)
{
  crash_create (c, &raid5, 3, FX_MEMBER_SIZE, RAID_CREATE_ASSUME_CLEAN, 19);
}

static void setup6bitmap (struct crash *c)
{
  crash_create (c, &raid6, 4, FX_MEMBER_SIZE, RAID_CREATE_ASSUME_CLEAN, 20);
}

/* Writes with the bitmap's passes between them: cuts both where the bits are all clean
 * (just after two passes) and where a write holds one. */
Test (crash, writes_with_a_bitmap_and_members_missing_at_the_restart)
{
  bitmap_starts = bitmap_refusals = 0;
  crash_sweep_with ("raid5 bitmap", setup5bitmap, writes, restart_without_by_bitmap, 3, 14);
  crash_sweep_with ("raid6 bitmap", setup6bitmap, writes, restart_without_by_bitmap, 4, 14);
  cr_expect (bitmap_starts > 0 && bitmap_refusals > 0, "%u starts, %u refusals: a sweep "
             "that misses a case proves nothing of it", bitmap_starts, bitmap_refusals);
}

/* ---- the same, step by step: every bit clean, a write at the crash, the resync ------ */

/* Cut the power of every member of F, then close: a crash (the superblocks dirty). */
static void
power_cut (struct fx *f)
{
  int64_t none = 0;

  for (unsigned i = 0; i < f->n; i++)
    raid_mem_member_power (f->mm[i], &none);
  fx_close (f);
  for (unsigned i = 0; i < f->n; i++)
    raid_mem_member_power (f->mm[i], NULL);
}

/* Start F without force with slots 1 (and 2 for two parity chunks) down: the array, or
 * NULL with ERR filled. */
static struct raid_array *
start_degraded (struct fx *f, unsigned m, char *err, size_t errlen)
{
  fx_warnings[0] = '\0';
  for (unsigned i = 1; i <= m; i++)
    raid_mem_member_set_down (f->mm[i], 1);
  f->a = raid_assemble (f->mem, f->n, 0, fx_log_all, f, err, errlen);
  for (unsigned i = 1; i <= m; i++)
    raid_mem_member_set_down (f->mm[i], 0);
  return f->a;
}

static const struct level_case *const parity_cases[] = { &raid5, &raid6 };

/* Written, the bits cleared by the passes, then a crash: the start without one member
 * (raid6: two) needs no force, says why, and reads back every byte, rebuilt from parity. */
Test (crash, a_dirty_degraded_start_whose_bitmap_is_clean_needs_no_force)
{
  for (unsigned i = 0; i < 2; i++) {
    const struct level_case *lc = parity_cases[i];
    struct fx f;
    char err[256] = "";
    uint8_t *ref = fx_create_filled (&f, lc->level, lc->n, FX_MEMBER_SIZE, CHUNK, REGION);
    uint64_t size = raid_size (f.a);

    cr_assert_eq (bitmap_dirty_bits (f.a), 0, "the passes left bits set");
    power_cut (&f);
    cr_assert (fx_examined (&f, 0).bitmap_clean, "examine does not see the bitmap clean");
    cr_assert_not_null (start_degraded (&f, lc->m, err, sizeof err), "%s: %s",
                        raid_level_name (lc->level), err);
    cr_assert (strstr (fx_warnings, "dirty and degraded, but the write-intent bitmap shows no "
                       "write under way at the crash: no stripe can be torn; starting "
                       "degraded"), "%s: %s", raid_level_name (lc->level), fx_warnings);
    fx_expect_data (f.a, ref, NULL, size, "started degraded from a clean bitmap");
    fx_free (&f);
    free (ref);
  }
}

/* A write just before the crash holds its region's bit: the start without a member is
 * refused, as without a bitmap. */
Test (crash, a_dirty_degraded_start_with_a_bit_set_is_refused)
{
  for (unsigned i = 0; i < 2; i++) {
    const struct level_case *lc = parity_cases[i];
    struct fx f;
    char err[256] = "";
    uint8_t *ref = fx_create_filled (&f, lc->level, lc->n, FX_MEMBER_SIZE, CHUNK, REGION);

    fx_write_mark (&f, ref, 3 * CHUNK);
    cr_assert_gt (bitmap_dirty_bits (f.a), 0);
    power_cut (&f);
    cr_assert_not (fx_examined (&f, 0).bitmap_clean, "examine sees the bitmap clean");
    cr_assert_null (start_degraded (&f, lc->m, err, sizeof err), "%s started",
                    raid_level_name (lc->level));
    cr_assert (strstr (err, "dirty and degraded") && strstr (err, "write hole"), "%s", err);
    cr_assert_not_null (fx_assemble (&f, RAID_ASSEMBLE_FORCE, err, sizeof err), "%s", err);
    fx_free (&f);
    free (ref);
  }
}

/* A crash with a bit set, a start with every member that ends before its resync does
 * (a clean stop): the resync after a crash did not end and its bits stay set, so the
 * start without a member is refused.  From a clean bitmap the same start needs no force. */
Test (crash, an_unfinished_resync_after_a_crash_needs_force_while_its_bits_are_set)
{
  for (int written = 1; written >= 0; written--) {
    struct fx f;
    char err[256] = "";
    uint8_t *ref = fx_create_filled (&f, RAID_LEVEL_5, 3, FX_MEMBER_SIZE, CHUNK, REGION);
    uint64_t size = raid_size (f.a);

    if (written)
      fx_write_mark (&f, ref, 5 * CHUNK);
    power_cut (&f);
    cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
    cr_assert (raid_needs_resync (f.a));
    bitmap_pass (f.a);
    bitmap_pass (f.a);
    fx_close (&f);                      /* a clean stop, the resync not run */
    cr_assert (fx_examined (&f, 0).resync_after_crash);
    if (written) {
      cr_assert_null (start_degraded (&f, 1, err, sizeof err), "started with bits set");
      cr_assert (strstr (err, "resync after a crash did not end"), "%s", err);
    } else {
      cr_assert_not_null (start_degraded (&f, 1, err, sizeof err), "%s", err);
      cr_assert (strstr (fx_warnings, "degraded with its resync after a crash unfinished, but "
                         "the write-intent bitmap shows no write under way"), "%s",
                 fx_warnings);
      fx_expect_data (f.a, ref, NULL, size, "the resync after a crash unfinished, clean bits");
    }
    fx_free (&f);
    free (ref);
  }
}

/* ---- recovery onto a spare (its checkpoints) ---------------------------------- */

/* Slot 1 failed and a spare with a cache added (its name e9.1): what raid_recover
 * rebuilds onto it, with writes before and after. */
static void
setup_recovery (struct crash *c, const struct level_case *lc, unsigned flags, uint64_t seed)
{
  struct raid_mem_member *spare = raid_mem_member_new ("e9.1", BIG_MEMBER);
  struct raid_member m = raid_mem_member (spare);
  char err[256] = "";

  crash_create (c, lc, lc->n, BIG_MEMBER, RAID_CREATE_ASSUME_CLEAN | flags, seed);
  raid_mem_member_set_down (c->f.mm[1], 1);
  cr_assert_eq (crash_writes (c, 1, 1), 0);         /* marks it faulty */
  c->gone = c->f.mm[1];
  c->f.mm[1] = spare;
  c->f.mem[1] = m;
  cr_assert_eq (raid_mem_member_cache (spare, 1), 0);
  cr_assert_eq (raid_add_member (c->f.a, &m, err, sizeof err), 0, "add: %s", err);
  cr_assert (raid_recovery_pending (c->f.a));
}

/* raid5 keeps the log: a crash while slot 1 is rebuilt leaves it dirty and degraded,
 * which md starts by itself only with the log (without, it wants --force and the write
 * hole may take rows of slot 1 that no write touched: md's, not a bug to find here) */
static void setup_recovery1 (struct crash *c) { setup_recovery (c, &raid1, 0, 15); }
static void setup_recovery5 (struct crash *c) { setup_recovery (c, &raid5, RAID_CREATE_PPL, 16); }

/* Until the spare is rebuilt and a flush ends the writes sent while it was not, a
 * crash leaves slot 1 missing for the rows it had not reached: a write not yet durable
 * that covered its column and another in a stripe (torn: the other column old, the
 * parity new) leaves its rows there undefined.  md's too: "If a dirty disk of a stripe is
 * lost, no PPL recovery is performed for this stripe ... arbitrary data in the written
 * part of a stripe" (Documentation/driver-api/md/raid5-ppl.rst).  Its other columns,
 * and every row no write covered, hold. */
static int
recovery (struct crash *c)
{
  int rc;

  c->out = 1;
  if (crash_writes (c, 6, 100))
    return -1;
  raid_mem_member_hook (c->f.mm[1], pause_hook, c);   /* stopped half way: writes */
  rc = raid_recover (c->f.a);
  raid_mem_member_hook (c->f.mm[1], NULL, NULL);
  if (rc != -ECANCELED)
    return -1;
  atomic_store (&c->f.a->resync_stop, 0);            /* the cancel was for this stop only */
  if (crash_writes (c, 12, 4) || raid_recover (c->f.a) || raid_flush (c->f.a))
    return -1;
  durable (c);
  c->out = -1;
  return crash_writes (c, 6, 3);
}

Test (crash, a_recovery_onto_a_spare)
{
  crash_sweep ("raid1 recovery", setup_recovery1, recovery, 14);
  crash_sweep ("raid5 recovery", setup_recovery5, recovery, 14);
}

/* ---- the first resync of an array whose members were not in sync ---------------- */

static void setup_resync1 (struct crash *c) { crash_create (c, &raid1, 2, BIG_MEMBER, 0, 17); }
static void setup_resync5 (struct crash *c) { crash_create (c, &raid5, 3, BIG_MEMBER, 0, 18); }

static int
resync (struct crash *c)
{
  if (crash_writes (c, 6, 100) || raid_resync (c->f.a))
    return -1;
  return crash_writes (c, 6, 3);
}

Test (crash, a_resync)
{
  crash_sweep ("raid1 resync", setup_resync1, resync, 12);
  crash_sweep ("raid5 resync", setup_resync5, resync, 12);
}

/* ---- a reshape: raid5 of 3 grown to 4 ------------------------------------------- */

static void
setup_reshape (struct crash *c)
{
  struct raid_member m;
  const char *names[] = { "e4.1" };
  char err[256] = "";

  crash_create (c, &raid5, 4, FX_MEMBER_SIZE, RAID_CREATE_ASSUME_CLEAN, 19);
  m = c->f.mem[3];
  cr_assert_eq (raid_add_member (c->f.a, &m, err, sizeof err), 0, "add: %s", err);
  cr_assert_eq (raid_grow (c->f.a, names, 1, RAID_LEVEL_5, err, sizeof err), 0, "grow: %s",
                err);
  c->c = (struct level_case) { RAID_LEVEL_5, 4, 3, 1, 1 };
  c->pause_at = 12;                     /* of 32 rows, in the new layout a chunk lower */
  c->pause_from = RAID_DATA_OFFSET - CHUNK;
}

static int
reshape (struct crash *c)
{
  int rc;

  if (crash_writes (c, 6, 100))
    return -1;
  raid_mem_member_hook (c->f.mm[3], pause_hook, c);   /* stopped on the way: writes */
  rc = raid_reshape (c->f.a);
  raid_mem_member_hook (c->f.mm[3], NULL, NULL);
  if (rc != -ECANCELED)
    return -1;
  atomic_store (&c->f.a->resync_stop, 0);            /* the cancel was for this stop only */
  if (crash_writes (c, 12, 4) || raid_reshape (c->f.a))
    return -1;
  return crash_writes (c, 6, 3);
}

Test (crash, a_reshape_of_raid5_from_3_to_4)
{
  crash_sweep ("raid5 3->4 reshape", setup_reshape, reshape, 20);
}

/* The same grow from a bitmap the passes left clean, onto a spare that held other bytes
 * (a used disk), the reshape alone: its end records the new layout and sets every bit of
 * the new one (its new space holds bytes whose parity does not match).  A grow keeps the
 * rows, so the old block fits the new layout too: a crash between the two must not leave
 * it, clean, in front of the superblocks that name the new layout, or the new space's
 * resync (and a dirty degraded start: raid_write_hole) trusts it.  The restart with every
 * member runs the resync; the members' parity must then match everywhere. */
static void
setup_reshape_from_clean (struct crash *c)
{
  struct raid_member m;
  const char *names[] = { "e4.1" };
  char err[256] = "";

  crash_create (c, &raid5, 4, FX_MEMBER_SIZE, RAID_CREATE_ASSUME_CLEAN, 26);
  bitmap_pass (c->f.a);
  bitmap_pass (c->f.a);
  cr_assert_eq (bitmap_dirty_bits (c->f.a), 0, "the passes left bits set");
  fast_fill (raid_mem_member_data (c->f.mm[3]) + RAID_DATA_OFFSET - CHUNK,
             FX_MEMBER_SIZE - RAID_DATA_OFFSET + CHUNK, &c->seed);
  m = c->f.mem[3];
  cr_assert_eq (raid_add_member (c->f.a, &m, err, sizeof err), 0, "add: %s", err);
  cr_assert_eq (raid_grow (c->f.a, names, 1, RAID_LEVEL_5, err, sizeof err), 0, "grow: %s",
                err);
  c->c = (struct level_case) { RAID_LEVEL_5, 4, 3, 1, 1 };
}

static int reshape_alone (struct crash *c) { return raid_reshape (c->f.a); }

Test (crash, a_reshape_from_a_clean_bitmap_onto_a_used_disk)
{
  crash_sweep ("raid5 3->4 reshape from a clean bitmap", setup_reshape_from_clean,
               reshape_alone, 64);
}

/* ---- a replace: slot 1's member copied onto e4.1 -------------------------------- */

/* OLD_CACHE 0: the member replaced keeps no cache (the new one does: a flush of the slot
 * must reach it all the same). */
static void
setup_replace (struct crash *c, const struct level_case *lc, int old_cache, uint64_t seed)
{
  struct raid_member m;
  char err[256] = "";

  crash_create (c, lc, lc->n + 1, BIG_MEMBER, RAID_CREATE_ASSUME_CLEAN, seed);
  if (!old_cache)
    cr_assert_eq (raid_mem_member_cache (c->f.mm[1], 0), 0);
  m = c->f.mem[lc->n];
  cr_assert_eq (raid_add_member (c->f.a, &m, err, sizeof err), 0, "add: %s", err);
  cr_assert_eq (raid_replace_start (c->f.a, "e2.1", c->f.mem[lc->n].ops->name (m.member), err,
                                    sizeof err), 0, "replace: %s", err);
}

static void setup_replace1 (struct crash *c) { setup_replace (c, &raid1, 1, 20); }
static void setup_replace5 (struct crash *c) { setup_replace (c, &raid5, 0, 21); }

/* Writes, the copy stopped half way, writes and the bitmap's passes while it stands (below
 * its offset they reach the new member, and its bits may clear: what md's flushes must
 * cover), then the rest of the copy and writes after. */
static int
replace (struct crash *c)
{
  struct raid_mem_member *new_member = c->f.mm[c->f.n - 1];
  int rc;

  if (crash_writes (c, 6, 100))
    return -1;
  raid_mem_member_hook (new_member, pause_hook, c);
  rc = raid_replace (c->f.a);
  raid_mem_member_hook (new_member, NULL, NULL);
  if (rc != -ECANCELED)
    return -1;
  atomic_store (&c->f.a->resync_stop, 0);            /* the cancel was for this stop only */
  if (crash_writes (c, 12, 4) || raid_replace (c->f.a))
    return -1;
  return crash_writes (c, 6, 3);
}

Test (crash, a_replace)
{
  crash_sweep ("raid1 replace", setup_replace1, replace, 12);
  crash_sweep ("raid5 replace, the old member without a cache", setup_replace5, replace, 12);
}

/* ---- a member away and back (its cache lost as it went) --------------------------- */

/* Writes; slot 1's member goes down and loses what its cache held; writes while it is
 * away (their bits stay set); it comes back and is added again, the bitmap's recovery
 * rebuilds what it missed (and lost); writes.  raid5 keeps the log, for the crash while
 * it is away (see recovery: its rows a write not yet durable covered are undefined). */
static int
away_and_back (struct crash *c)
{
  struct raid_member back = c->f.mem[1];
  uint64_t seed = 77;
  char err[256] = "";

  if (crash_writes (c, 8, 4))
    return -1;
  raid_mem_member_set_down (c->f.mm[1], 1);
  raid_mem_member_power_loss (c->f.mm[1], &seed);
  c->out = 1;
  if (crash_writes (c, 8, 4))
    return -1;
  raid_mem_member_set_down (c->f.mm[1], 0);
  if (raid_add_member (c->f.a, &back, err, sizeof err) || raid_recover (c->f.a)
      || raid_flush (c->f.a))
    return -1;
  durable (c);
  c->out = -1;
  return crash_writes (c, 8, 4);
}

static void setup_away1 (struct crash *c) { crash_create (c, &raid1, 2, FX_MEMBER_SIZE, RAID_CREATE_ASSUME_CLEAN, 23); }
static void setup_away5 (struct crash *c)
{
  crash_create (c, &raid5, 3, FX_MEMBER_SIZE, RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_PPL, 24);
}

Test (crash, a_member_away_and_back)
{
  crash_sweep ("raid1 away and back", setup_away1, away_and_back, 16);
  crash_sweep ("raid5 ppl away and back", setup_away5, away_and_back, 16);
}

/* ---- a new array over the clean bitmap an older one left ----------------------- */

/* An older array's members, its superblocks gone but its bitmap block left (what an
 * older aoeraid's remove left; the plugin creates over it with force=true), of the same
 * geometry and clean, and data not in sync: raid6 of 4 created on them (not assumed
 * clean) with the power cut after each of its first I/Os.  Whatever the cut, a start
 * must not take the old block's clean bits for the new array's: the first resync then
 * covers every region, and the redundancy matches the data. */
Test (crash, a_new_array_over_an_older_arrays_clean_bitmap)
{
  struct raid_params p = { .level = RAID_LEVEL_6, .chunk_bytes = CHUNK, .name = "crash",
                           .bitmap_region = REGION };
  unsigned started = 0;

  for (int64_t k = 0; k < 40; k++) {
    struct fx f;
    char err[256] = "";
    uint64_t seed = 41 + (uint64_t) k;
    int64_t budget = k;

    fx_members (&f, 4, FX_MEMBER_SIZE);
    p.flags = RAID_CREATE_ASSUME_CLEAN;
    f.a = raid_create (&p, f.mem, 4, fx_log, &f, err, sizeof err);
    cr_assert_not_null (f.a, "%s", err);
    bitmap_pass (f.a);
    bitmap_pass (f.a);
    cr_assert_eq (bitmap_dirty_bits (f.a), 0);
    fx_close (&f);
    for (unsigned i = 0; i < 4; i++) {
      uint8_t *d = raid_mem_member_data (f.mm[i]);
      memset (d + RAID_SB_OFFSET, 0, RAID_SB_SIZE);
      fast_fill (d + RAID_DATA_OFFSET, FX_MEMBER_SIZE - RAID_DATA_OFFSET, &seed);
    }
    p.flags = 0;
    for (unsigned i = 0; i < 4; i++)
      raid_mem_member_power (f.mm[i], &budget);
    f.a = raid_create (&p, f.mem, 4, fx_log, &f, err, sizeof err);
    if (f.a)
      power_cut (&f);
    for (unsigned i = 0; i < 4; i++)
      raid_mem_member_power (f.mm[i], NULL);
    if (fx_assemble (&f, 0, err, sizeof err)) {
      started++;
      if (raid_needs_resync (f.a))
        cr_assert_eq (raid_resync (f.a), 0, "cut at I/O %lld: the resync failed", (long long) k);
      fx_close (&f);
      fx_check_redundancy (&f, RAID_LEVEL_6, 2, 2, 1, CHUNK, NULL);
    }
    fx_free (&f);
  }
  cr_expect_gt (started, 0, "no cut left an array to start");
}

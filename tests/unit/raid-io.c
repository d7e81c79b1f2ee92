/* The data path: RMW/RCW choice, stripe locks under threads, degraded
 * writes and refusal, read-error repair, write failures, flush and FUA. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <pthread.h>
#include <unistd.h>
#include <string.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "raid-int.h"

#define CHUNK 4096u

static void
reset_stats (struct fx *f)
{
  for (unsigned i = 0; i < f->n; i++)
    raid_mem_member_stats (f->mm[i], NULL, 1);
}

static struct raid_mem_stats
total_stats (struct fx *f)
{
  struct raid_mem_stats t = { 0 }, s;
  for (unsigned i = 0; i < f->n; i++) {
    raid_mem_member_stats (f->mm[i], &s, 0);
    t.reads += s.reads;
    t.writes += s.writes;
    t.flushes += s.flushes;
    t.read_bytes += s.read_bytes;
    t.write_bytes += s.write_bytes;
    t.polls += s.polls;
  }
  return t;
}

static void
expect_read (struct fx *f, const uint8_t *ref, uint32_t len, uint64_t off)
{
  uint8_t *got = malloc (len);
  cr_assert_eq (raid_read (f->a, got, len, off), 0);
  cr_assert (memcmp (got, ref, len) == 0, "read at %llu differs", (unsigned long long) off);
  free (got);
}

Test (io, rmw_and_rcw_choice_counts_reads)
{
  struct fx f;
  uint8_t buf[4 * CHUNK];
  struct raid_mem_stats t;
  uint64_t seed = 1;

  /* RAID5 4+1, in sync; no bitmap, whose writes would count too. */
  fx_create (&f, RAID_LEVEL_5, 5, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_NO_BITMAP);
  fill_random (buf, sizeof buf, &seed);

  reset_stats (&f);                  /* one sector: old data + old parity */
  cr_assert_eq (raid_write (f.a, buf, 512, 1024, 0), 0);
  t = total_stats (&f);
  cr_expect_eq (t.reads, 2, "small write: read-modify-write reads 2, did %llu",
                (unsigned long long) t.reads);
  cr_expect_eq (t.read_bytes, 1024);
  cr_expect_eq (t.writes, 2);

  reset_stats (&f);                  /* three of four chunks: read the fourth */
  cr_assert_eq (raid_write (f.a, buf, 3 * CHUNK, 0, 0), 0);
  t = total_stats (&f);
  cr_expect_eq (t.reads, 1, "3/4 stripe: reconstruct-write reads 1, did %llu",
                (unsigned long long) t.reads);
  cr_expect_eq (t.read_bytes, CHUNK);
  cr_expect_eq (t.writes, 4);

  reset_stats (&f);                  /* full stripe: no reads */
  cr_assert_eq (raid_write (f.a, buf, 4 * CHUNK, 4 * CHUNK, 0), 0);
  t = total_stats (&f);
  cr_expect_eq (t.reads, 0);
  cr_expect_eq (t.writes, 5);
  fx_check_redundancy (&f, RAID_LEVEL_5, 4, 1, 1, CHUNK, NULL);
  fx_free (&f);

  /* RAID6 4+2: a small write reads data, P and Q. */
  fx_create (&f, RAID_LEVEL_6, 6, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_NO_BITMAP);
  reset_stats (&f);
  cr_assert_eq (raid_write (f.a, buf, 512, 8192, 0), 0);
  t = total_stats (&f);
  cr_expect_eq (t.reads, 3);
  cr_expect_eq (t.writes, 3);
  fx_check_redundancy (&f, RAID_LEVEL_6, 4, 2, 1, CHUNK, NULL);
  fx_free (&f);
}

/* Garbage in the members: parity (copies) do not match until written or
 * resynced. */
static void
create_on_garbage_sized (struct fx *f, enum raid_level level, unsigned n, uint64_t *seed,
                         uint64_t member_size)
{
  fx_members (f, n, member_size);
  for (unsigned i = 0; i < n; i++)
    fill_random (raid_mem_member_data (f->mm[i]) + RAID_DATA_OFFSET,
                 member_size - RAID_DATA_OFFSET, seed);
  fx_create_on (f, level, 0, 0, CHUNK, 0);
}

static void
create_on_garbage (struct fx *f, enum raid_level level, unsigned n, uint64_t *seed)
{
  create_on_garbage_sized (f, level, n, seed, FX_MEMBER_SIZE);
}

Test (io, unsynced_stripes_use_reconstruct_write_until_resync)
{
  struct fx f;
  uint8_t buf[512];
  struct raid_mem_stats t;
  uint64_t seed = 2;

  create_on_garbage (&f, RAID_LEVEL_5, 5, &seed);
  cr_expect_eq (raid_needs_resync (f.a), 1);
  fill_random (buf, sizeof buf, &seed);
  reset_stats (&f);
  cr_assert_eq (raid_write (f.a, buf, 512, 0, 0), 0);
  t = total_stats (&f);
  /* whole stripe recomputed: the 3 other data chunks and the rest of this one */
  cr_expect_eq (t.reads, 4, "unsynced stripe: reconstruct-write, did %llu reads",
                (unsigned long long) t.reads);
  cr_expect_eq (t.read_bytes, 4 * CHUNK - 512);
  cr_assert_eq (raid_resync (f.a), 0);
  fx_check_redundancy (&f, RAID_LEVEL_5, 4, 1, 1, CHUNK, NULL);
  reset_stats (&f);
  cr_assert_eq (raid_write (f.a, buf, 512, 512, 0), 0);
  t = total_stats (&f);
  cr_expect_eq (t.reads, 2, "after resync: read-modify-write");
  fx_free (&f);
}

Test (io, mirror_resync_makes_copies_equal)
{
  struct fx f;
  uint64_t seed = 3;

  create_on_garbage (&f, RAID_LEVEL_10, 3, &seed);
  cr_assert_eq (raid_resync (f.a), 0);
  fx_check_redundancy (&f, RAID_LEVEL_10, 1, 0, 2, CHUNK, NULL);
  fx_free (&f);
}

/* Each thread owns one data chunk of each of two RAID6 4+2 stripes and
 * writes random sectors of it: all threads update the same parity bytes,
 * so unserialised read-modify-writes lose each other's parity updates. */
struct writer { struct fx *f; unsigned id; uint8_t *ref; };

#define WRITERS 4
#define ROUNDS 40

static void *
writer_main (void *opaque)
{
  struct writer *w = opaque;
  uint64_t seed = w->id * 1000 + 7;

  for (unsigned r = 0; r < ROUNDS; r++) {
    unsigned chunk = (rnd (&seed) % 2) * 4 + w->id, sec = rnd (&seed) % 4;
    uint64_t off = (uint64_t) chunk * CHUNK + sec * 512;
    cr_assert_eq (fx_write_ref (w->f->a, w->ref, off, 512, &seed), 0);
  }
  return NULL;
}

Test (io, stripe_lock_serialises_concurrent_writers)
{
  struct fx f;
  pthread_t th[WRITERS];
  struct writer w[WRITERS];
  uint8_t *ref = calloc (1, 8 * CHUNK);

  fx_create (&f, RAID_LEVEL_6, 6, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  for (unsigned i = 0; i < f.n; i++)
    raid_mem_member_delay (f.mm[i], 200);   /* widen every race window */
  for (unsigned i = 0; i < WRITERS; i++) {
    w[i] = (struct writer) { .f = &f, .id = i, .ref = ref };
    pthread_create (&th[i], NULL, writer_main, &w[i]);
  }
  for (unsigned i = 0; i < WRITERS; i++)
    pthread_join (th[i], NULL);
  for (unsigned i = 0; i < f.n; i++)
    raid_mem_member_delay (f.mm[i], 0);
  fx_check_redundancy (&f, RAID_LEVEL_6, 4, 2, 1, CHUNK, NULL);
  expect_read (&f, ref, 8 * CHUNK, 0);
  free (ref);
  fx_free (&f);
}

Test (io, degraded_writes_then_refusal_names_members)
{
  struct fx f;
  uint64_t seed = 4, size;
  uint8_t *ref, buf[CHUNK];

  fx_create (&f, RAID_LEVEL_6, 5, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  size = raid_size (f.a);
  ref = calloc (1, size);
  raid_mem_member_set_down (f.mm[1], 1);
  raid_mem_member_set_down (f.mm[3], 1);
  for (unsigned i = 0; i < 64; i++) {
    uint32_t len = 512 * (1 + rnd (&seed) % 8);
    uint64_t off = 512 * (rnd (&seed) % ((size - len) / 512));
    cr_assert_eq (fx_write_ref (f.a, ref, off, len, &seed), 0, "degraded write %u", i);
  }
  expect_read (&f, ref, size, 0);
  raid_mem_member_set_down (f.mm[4], 1);
  f.errors = 0;
  cr_expect_eq (raid_read (f.a, buf, 512, 0), -EIO);
  cr_expect_eq (raid_write (f.a, buf, 512, 0, 0), -EIO);
  cr_expect_gt (f.errors, 0);
  cr_expect (strstr (f.last_error, "e2.1 (slot 1), e4.1 (slot 3), e5.1 (slot 4)") != NULL,
             "%s", f.last_error);
  free (ref);
  fx_free (&f);
}

/* A degraded read rebuilds each stripe once: whole stripes read k columns
 * each, as healthy ones do, whichever columns are down. */
static void
degraded_read_costs_k_columns (enum raid_level level, unsigned n, unsigned k,
                               const unsigned *down, unsigned ndown)
{
  struct fx f;
  uint64_t seed = 9, size;
  uint8_t *ref;
  struct raid_mem_stats t;

  fx_create (&f, level, n, level == RAID_LEVEL_EC ? k : 0, level == RAID_LEVEL_EC ? n - k : 0,
             CHUNK, RAID_CREATE_ASSUME_CLEAN);
  size = raid_size (f.a);
  ref = fx_fill (f.a, &seed);
  for (unsigned i = 0; i < ndown; i++)
    raid_mem_member_set_down (f.mm[down[i]], 1);
  reset_stats (&f);
  expect_read (&f, ref, size, 0);
  t = total_stats (&f);
  cr_expect_eq (t.read_bytes, size, "%s, %u down: read %llu bytes for %llu of data",
                raid_level_name (level), ndown, (unsigned long long) t.read_bytes,
                (unsigned long long) size);
  /* Stripe by stripe, the same. */
  reset_stats (&f);
  for (uint64_t off = 0; off < size; off += k * CHUNK)
    expect_read (&f, ref + off, k * CHUNK, off);
  t = total_stats (&f);
  cr_expect_eq (t.read_bytes, size);
  /* In requests of k + 1 chunks, which cut the stripes, the same but for one chunk: the
   * stripe cache keeps for each request what the one before it rebuilt and did not want,
   * once the stream is known (the second request continues the first: the stripe the
   * first cut is rebuilt whole by the second, one chunk more than it delivers). */
  reset_stats (&f);
  for (uint64_t off = 0, len; off < size; off += len) {
    len = size - off < (k + 1) * CHUNK ? size - off : (k + 1) * CHUNK;
    expect_read (&f, ref + off, len, off);
  }
  t = total_stats (&f);
  cr_expect (t.read_bytes >= size && t.read_bytes <= size + CHUNK, "%s, %u down, requests of "
             "%u chunks: read %llu bytes for %llu of data", raid_level_name (level), ndown,
             k + 1, (unsigned long long) t.read_bytes, (unsigned long long) size);
  free (ref);
  fx_free (&f);
}

Test (io, degraded_read_reads_each_column_once)
{
  static const unsigned one[] = { 2 }, two[] = { 2, 3 };
  degraded_read_costs_k_columns (RAID_LEVEL_5, 4, 3, one, 1);
  degraded_read_costs_k_columns (RAID_LEVEL_6, 4, 2, two, 2);
  degraded_read_costs_k_columns (RAID_LEVEL_6, 6, 4, two, 2);
  degraded_read_costs_k_columns (RAID_LEVEL_EC, 4, 2, two, 2);
}

/* A sequential reader's requests get their stripe locks out of order: the one that cuts
 * stripes 0 and 1 waits for stripe 0 (its neighbour before holds it), and the one after
 * it, wanting only the rest of stripe 1, gets stripe 1 first.  That one must still know
 * it continues the stream (from the order the requests came in) and keep stripe 1's head
 * for the waiter: stripe 1 is then read once, not twice, and the waiter reads nothing
 * after its wait. */
struct stream_req { struct fx *f; const uint8_t *ref; uint32_t len; uint64_t off; };

static void *
stream_req_run (void *arg)
{
  struct stream_req *r = arg;
  expect_read (r->f, r->ref + r->off, r->len, r->off);
  return NULL;
}

Test (io, degraded_stream_out_of_lock_order_reads_each_stripe_once)
{
  struct fx f;
  uint64_t seed = 13;
  uint8_t *ref;
  pthread_t waiter;
  struct raid_mem_stats t;

  fx_create (&f, RAID_LEVEL_5, 4, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  ref = fx_fill (f.a, &seed);
  /* stripe 1's first data column down: its head is rebuilt from the other two and P,
   * and stripe 0 loses only its parity (its chunks are read as they are) */
  raid_mem_member_set_down (f.mm[ref_data_dev (4, 1, 1, 0)], 1);
  cr_assert_eq (ref_data_dev (4, 1, 0, 2) == ref_data_dev (4, 1, 1, 0), 0);
  expect_read (&f, ref, 2 * CHUNK, 0);           /* the stream so far ends at 2 chunks */
  reset_stats (&f);

  stripe_lock_range (&f.a->locks, 0, 0);          /* the neighbour before holds stripe 0 */
  struct stream_req cut = { &f, ref, 2 * CHUNK, 2 * CHUNK };   /* stripe 0's tail, 1's head */
  cr_assert_eq (pthread_create (&waiter, NULL, stream_req_run, &cut), 0);
  /* it came in (bounded: without the fix the hint moves only once it has the lock) */
  for (unsigned i = 0; i < 2000 && atomic_load (&f.a->stripe_cache.stream_next) != 4 * CHUNK; i++)
    usleep (1000);
  expect_read (&f, ref + 4 * CHUNK, 2 * CHUNK, 4 * CHUNK);  /* the rest of stripe 1 */
  stripe_unlock_range (&f.a->locks, 0, 0);
  pthread_join (waiter, NULL);

  t = total_stats (&f);
  /* stripe 1 whole once (its two live data columns and P), and the waiter's chunk of
   * stripe 0 (the rest of stripe 1 read as it is, then its head rebuilt from three
   * columns after the wait, would make 6) */
  cr_expect_eq (t.read_bytes, 4 * CHUNK, "read %llu bytes, %llu chunks",
                (unsigned long long) t.read_bytes, (unsigned long long) (t.read_bytes / CHUNK));
  free (ref);
  fx_free (&f);
}

/* A sequential reader at depth 16 leaves about ten entries waiting for their readers at
 * once: sixteen are kept (four pushed the oldest out before its reader came, which then
 * read its stripe again); an entry read whole is dropped, one read in part is kept. */
Test (io, stripe_cache_keeps_a_deep_stream)
{
  struct fx f;
  struct stripe_cache c;
  uint8_t col[3][CHUNK], got[2 * CHUNK];

  fx_create (&f, RAID_LEVEL_5, 4, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  stripe_cache_init (&c);
  uint8_t *cols[] = { col[0], col[1], col[2] };
  for (uint64_t s = 0; s < 16; s++) {
    struct stripe_key key = { .g = f.a->lay.g, .stripe = s, .usable = 0x7 };
    memset (col[0], (int) s, CHUNK);
    stripe_cache_put (&c, &key, 0, CHUNK, cols);
  }
  for (uint64_t s = 0; s < 16; s++) {
    struct stripe_key key = { .g = f.a->lay.g, .stripe = s, .usable = 0x7 };
    cr_expect (stripe_cache_get (&c, &key, 0, CHUNK, got), "stripe %llu was pushed out",
               (unsigned long long) s);
    cr_expect (got[0] == s && got[CHUNK - 1] == s, "stripe %llu holds another's bytes",
               (unsigned long long) s);
    cr_expect (!stripe_cache_get (&c, &key, 0, CHUNK, got), "stripe %llu served twice",
               (unsigned long long) s);
  }
  cr_expect_eq (atomic_load (&c.live), 0);
  struct stripe_key key = { .g = f.a->lay.g, .stripe = 20, .usable = 0x7 };
  stripe_cache_put (&c, &key, 0, 2 * CHUNK, cols);
  cr_expect (stripe_cache_get (&c, &key, 0, CHUNK, got), "part of an entry");
  cr_expect (stripe_cache_get (&c, &key, CHUNK, 2 * CHUNK, got), "the rest after a part");
  stripe_cache_destroy (&c);
  fx_free (&f);
}

/* A stripe the cache holds is not served after a write changed it: the write is read
 * back whether it went to the part of the stripe kept or to another stripe, and
 * through the cache or not. */
Test (io, stripe_cache_never_serves_a_written_stripe)
{
  struct fx f;
  uint64_t seed = 11, stripe = 3 * CHUNK;
  uint8_t *ref = malloc (4 * stripe);

  fx_create (&f, RAID_LEVEL_5, 4, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  fill_random (ref, 4 * stripe, &seed);
  cr_assert_eq (raid_write (f.a, ref, 4 * stripe, 0, 0), 0);
  raid_mem_member_set_down (f.mm[ref_data_dev (4, 1, 0, 0)], 1);  /* stripe 0's first data */
  for (unsigned round = 0; round < 3; round++) {
    /* the head of stripe 0 rebuilds it (its first chunk is down) whole: its last chunk
     * stays in the cache */
    expect_read (&f, ref, 2 * CHUNK, 0);
    /* into the kept part; a sector of it; another stripe (the cache may miss, never lie) */
    uint64_t at = round == 0 ? 2 * CHUNK : round == 1 ? 2 * CHUNK + 512 : stripe;
    uint32_t len = round == 1 ? 512 : CHUNK;
    cr_assert_eq (fx_write_ref (f.a, ref, at, len, &seed), 0);
    expect_read (&f, ref + 2 * CHUNK, CHUNK + stripe, 2 * CHUNK);
  }
  free (ref);
  fx_free (&f);
}

Test (io, raid10_survives_one_per_pair_only)
{
  struct fx f;
  uint8_t buf[CHUNK] = { 1 };
  struct raid_status st;

  fx_create (&f, RAID_LEVEL_10, 4, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  raid_mem_member_set_down (f.mm[0], 1);
  raid_mem_member_set_down (f.mm[3], 1);
  cr_expect_eq (raid_write (f.a, buf, CHUNK, 0, 0), 0);
  cr_expect_eq (raid_write (f.a, buf, CHUNK, CHUNK, 0), 0);
  raid_status (f.a, &st);
  cr_expect_eq (st.state, RAID_STATE_DEGRADED);
  raid_mem_member_set_down (f.mm[1], 1);     /* pair 0/1 gone */
  raid_status (f.a, &st);
  cr_expect_eq (st.state, RAID_STATE_FAILED);
  cr_expect_eq (raid_read (f.a, buf, CHUNK, 0), -EIO);
  fx_free (&f);
}

Test (io, read_error_is_repaired_by_rewrite)
{
  static const enum raid_level levels[] = { RAID_LEVEL_1, RAID_LEVEL_5, RAID_LEVEL_EC };
  for (unsigned l = 0; l < 3; l++) {
    struct fx f;
    uint8_t ref[8 * CHUNK], got[8 * CHUNK];
    uint64_t seed = 5;
    struct raid_status st;
    struct raid_mem_stats s;
    unsigned m = levels[l] == RAID_LEVEL_EC ? 2 : 1;
    /* the member holding the first data chunk (mirrors: the first copy, read first) */
    unsigned bad = levels[l] == RAID_LEVEL_1 ? 0 : ref_data_dev (4, m, 0, 0);
    uint8_t *rot = NULL;

    fx_create (&f, levels[l], 4, 2, 2, CHUNK, RAID_CREATE_ASSUME_CLEAN);
    fill_random (ref, sizeof ref, &seed);
    cr_assert_eq (raid_write (f.a, ref, sizeof ref, 0, 0), 0);
    /* A bad sector inside that chunk, whose bytes have rotted too. */
    raid_mem_member_bad_range (f.mm[bad], RAID_DATA_OFFSET + 1024, 512);
    rot = raid_mem_member_data (f.mm[bad]) + RAID_DATA_OFFSET + 1024;
    memset (rot, 0xee, 512);
    raid_mem_member_stats (f.mm[bad], NULL, 1);
    memset (got, 0, sizeof got);
    cr_assert_eq (raid_read (f.a, got, sizeof got, 0), 0, "%s", raid_level_name (levels[l]));
    cr_assert (memcmp (got, ref, sizeof got) == 0, "%s: wrong data", raid_level_name (levels[l]));
    raid_status (f.a, &st);
    cr_expect_eq (st.member[bad].read_errors, 1, "%s", raid_level_name (levels[l]));
    cr_expect_eq (st.member[bad].role, RAID_ROLE_ACTIVE, "repaired, not failed");
    raid_mem_member_stats (f.mm[bad], &s, 0);
    cr_expect_eq (s.writes, 1, "%s: one rewrite", raid_level_name (levels[l]));
    cr_expect (memcmp (rot, ref + 1024, 512) == 0, "%s: the bad sector was not rewritten",
               raid_level_name (levels[l]));
    fx_free (&f);
  }
}

/* A read error whose rewrite fails too: the member cannot hold even the good bytes
 * written back, so it is failed (md's), and the read still answers right. */
Test (io, a_read_error_whose_rewrite_fails_fails_the_member)
{
  static const enum raid_level levels[] = { RAID_LEVEL_1, RAID_LEVEL_5, RAID_LEVEL_EC };
  for (unsigned l = 0; l < 3; l++) {
    struct fx f;
    uint8_t ref[8 * CHUNK], got[8 * CHUNK];
    uint64_t seed = 5;
    struct raid_status st;
    unsigned m = levels[l] == RAID_LEVEL_EC ? 2 : 1;
    unsigned bad = levels[l] == RAID_LEVEL_1 ? 0 : ref_data_dev (4, m, 0, 0);
    const char *level = raid_level_name (levels[l]);

    fx_create (&f, levels[l], 4, 2, 2, CHUNK, RAID_CREATE_ASSUME_CLEAN);
    fill_random (ref, sizeof ref, &seed);
    cr_assert_eq (raid_write (f.a, ref, sizeof ref, 0, 0), 0);
    raid_mem_member_bad_range (f.mm[bad], RAID_DATA_OFFSET + 1024, 512);
    raid_mem_member_fail (f.mm[bad], 0, 1);
    cr_assert_eq (raid_read (f.a, got, sizeof got, 0), 0, "%s", level);
    cr_assert (memcmp (got, ref, sizeof got) == 0, "%s: wrong data", level);
    raid_status (f.a, &st);
    cr_assert_eq (st.member[bad].role, RAID_ROLE_FAULTY, "%s: a member that failed the "
                  "rewrite of its bad sector still serves", level);
    cr_assert (st.member[bad].failed, "%s: not recorded failed", level);
    cr_assert_eq (st.member[bad].write_errors, 1, "%s", level);
    cr_assert_eq (st.state, RAID_STATE_DEGRADED, "%s", level);
    cr_assert (strstr (f.last_error, "rewrite after a read error failed")
               || strstr (f.last_warning, "rewrite after a read error failed"),
               "%s: no line says why: %s / %s", level, f.last_error, f.last_warning);
    raid_mem_member_fail (f.mm[bad], 0, 0);
    fx_expect_data (f.a, ref, NULL, sizeof ref, level);
    fx_free (&f);
  }
}

/* A member whose shelf goes down with a write in flight (the backend fails it with EIO
 * then, healthy() already 0) is failed for that, not for an error of its disk: the log
 * says so, and no write error is counted.  An error of the disk itself is counted. */
static void
go_down_on_write (void *opaque, enum raid_io_op op, uint64_t offset, uint32_t len)
{
  if (op == RAID_IO_WRITE)
    raid_mem_member_set_down (opaque, 1);
}

Test (io, write_caught_by_going_down_is_no_disk_error)
{
  struct fx f;
  uint8_t ref[4 * CHUNK];
  uint64_t seed = 7;
  struct raid_status st;

  fx_create (&f, RAID_LEVEL_5, 3, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_NO_BITMAP);
  fill_random (ref, sizeof ref, &seed);
  raid_mem_member_hook (f.mm[2], go_down_on_write, f.mm[2]);
  cr_assert_eq (raid_write (f.a, ref, sizeof ref, 0, 0), 0);
  raid_mem_member_hook (f.mm[2], NULL, NULL);
  raid_status (f.a, &st);
  cr_expect_eq (st.member[2].role, RAID_ROLE_FAULTY);
  cr_expect_eq (st.member[2].write_errors, 0, "the shelf going down counted as %llu write errors",
                (unsigned long long) st.member[2].write_errors);
  cr_expect (strstr (f.last_error, "failed: it went down with a write in flight; marked faulty"),
             "%s", f.last_error);
  expect_read (&f, ref, sizeof ref, 0);
  fx_free (&f);
}

Test (io, failed_write_marks_faulty_and_completes_degraded)
{
  struct fx f;
  uint8_t ref[4 * CHUNK];
  uint64_t seed = 6;
  struct raid_status st;
  struct raid_sb_summary before, after;

  fx_create (&f, RAID_LEVEL_5, 3, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  raid_examine (&f.mem[0], &before);
  fill_random (ref, sizeof ref, &seed);
  raid_mem_member_fail (f.mm[2], 0, 1);
  cr_assert_eq (raid_write (f.a, ref, sizeof ref, 0, 0), 0);
  raid_status (f.a, &st);
  cr_expect_eq (st.state, RAID_STATE_DEGRADED);
  cr_expect_eq (st.member[2].role, RAID_ROLE_FAULTY);
  cr_expect_gt (st.member[2].write_errors, 0);
  raid_examine (&f.mem[0], &after);
  cr_expect_gt (after.events, before.events);
  cr_expect_eq (after.roles[2], RAID_ROLE_FAULTY, "superblocks record the failure");
  expect_read (&f, ref, sizeof ref, 0);
  fx_free (&f);

  fx_create (&f, RAID_LEVEL_0, 2, 0, 0, CHUNK, 0);
  raid_mem_member_fail (f.mm[1], 0, 1);
  f.errors = 0;
  cr_expect_eq (raid_write (f.a, ref, sizeof ref, 0, 0), -EIO, "raid0 cannot lose a member");
  cr_expect (strstr (f.last_error, "e2.1") != NULL, "%s", f.last_error);
  fx_free (&f);
}

Test (io, member_failing_mid_request)
{
  struct fx f;
  uint8_t ref[16 * CHUNK];
  uint64_t seed = 7;

  fx_create (&f, RAID_LEVEL_6, 6, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  fill_random (ref, sizeof ref, &seed);
  raid_mem_member_fail_after (f.mm[0], 1);
  raid_mem_member_fail_after (f.mm[4], 2);
  cr_assert_eq (raid_write (f.a, ref, sizeof ref, 0, 0), 0);
  expect_read (&f, ref, sizeof ref, 0);
  fx_free (&f);
}

Test (io, flush_and_fua_reach_every_member)
{
  struct fx f;
  uint8_t buf[512] = { 0 };
  struct raid_mem_stats s;

  /* no bitmap: its block goes out with a flush of its own */
  fx_create (&f, RAID_LEVEL_5, 4, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_NO_BITMAP);
  reset_stats (&f);
  cr_assert_eq (raid_flush (f.a), 0);
  cr_expect_eq (total_stats (&f).flushes, 4);
  cr_assert_eq (raid_write (f.a, buf, 512, 0, RAID_WRITE_FUA), 0);
  cr_expect_eq (total_stats (&f).flushes, 8);
  raid_mem_member_set_down (f.mm[0], 1);
  cr_expect_eq (raid_flush (f.a), 0, "flush on a degraded array still succeeds");
  raid_mem_member_stats (f.mm[1], &s, 0);
  cr_expect_eq (s.flushes, 3);
  fx_free (&f);
}

/* A member down at a flush is failed for the flush it missed: the line says so (it said
 * "missed a write" for a flush too, sending the admin after a write that never was). */
Test (io, a_member_down_at_a_flush_is_said_to_miss_a_flush)
{
  struct fx f;

  fx_create (&f, RAID_LEVEL_5, 4, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_NO_BITMAP);
  raid_mem_member_set_down (f.mm[1], 1);
  cr_assert_eq (raid_flush (f.a), 0, "a flush on a degraded array succeeds");
  cr_expect (strstr (f.last_error, "member e2.1 (slot 1) failed: it is down and missed a "
                     "flush") != NULL, "%s", f.last_error);
  fx_free (&f);
}

/* Members with a write cache: the superblocks that record a member's failure are flushed
 * before the degraded write is acknowledged (md writes them FUA).  The host dies and the
 * others lose what their caches held of their metadata (the write's data had landed):
 * the failed member is still recorded as failed, and is not taken back as holding the
 * write it missed. */
Test (io, a_recorded_failure_is_durable_on_members_with_a_cache)
{
  struct fx f;
  struct raid_status st;
  uint8_t buf[4096];
  uint64_t seed = 3;
  int64_t power = 0;
  char err[512] = "";

  fx_create (&f, RAID_LEVEL_1, 3, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_NO_BITMAP);
  for (unsigned i = 0; i < f.n; i++)
    cr_assert_eq (raid_mem_member_cache (f.mm[i], 1), 0);
  raid_mem_member_fail (f.mm[2], 0, 1);
  fill_random (buf, sizeof buf, &seed);
  cr_assert_eq (raid_write (f.a, buf, sizeof buf, 0, 0), 0);
  raid_mem_member_fail (f.mm[2], 0, 0);
  for (unsigned i = 0; i < f.n; i++)
    raid_mem_member_power (f.mm[i], &power);
  fx_close (&f);
  for (unsigned i = 0; i < f.n; i++) {
    raid_mem_member_power (f.mm[i], NULL);
    raid_mem_member_lose_cache (f.mm[i], 0, RAID_DATA_OFFSET);
  }
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  raid_status (f.a, &st);
  cr_assert_neq (st.member[2].role, RAID_ROLE_ACTIVE, "the member that missed the write is "
                 "active again: its failure was lost with the others' caches");
  fx_free (&f);
}

/* Members whose replies wait until someone polls them (as a shelf's wait in
 * the initiator's socket): a request waiting alone polls them itself rather
 * than sleep until the receiver gets round to it.  Each call starts with the
 * gate open (a loaded machine's slow waits would close it; that is the gate's
 * own test below), so each polls at least once, whatever the load; a poll
 * round cut short by a descheduled thread is finished by the late loop. */
Test (io, lone_request_polls_members_for_replies, .timeout = 20)
{
  struct fx f;
  struct fx_late_loop late;
  uint8_t ref[3 * CHUNK + 1024];
  uint64_t seed = 7;

  fx_create (&f, RAID_LEVEL_5, 4, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_NO_BITMAP);
  fill_random (ref, sizeof ref, &seed);
  for (unsigned i = 0; i < f.n; i++)
    raid_mem_member_defer (f.mm[i], 1);
  reset_stats (&f);
  fx_late_loop_start (&late, &f);
  /* A partial stripe: reads for the parity update, then the writes. */
  atomic_store (&f.a->poll_gate.lone_wait_us, 0);
  cr_assert_eq (raid_write (f.a, ref, sizeof ref, 512, 0), 0);
  atomic_store (&f.a->poll_gate.lone_wait_us, 0);
  expect_read (&f, ref, sizeof ref, 512);
  atomic_store (&f.a->poll_gate.lone_wait_us, 0);
  cr_assert_eq (raid_flush (f.a), 0);
  fx_late_loop_stop (&late);
  cr_expect_geq (total_stats (&f).polls - atomic_load (&late.polls), 3,
                 "every phase polled its members (%llu polls, %u of them the late loop's)",
                 (unsigned long long) total_stats (&f).polls, atomic_load (&late.polls));
  for (unsigned i = 0; i < f.n; i++)
    raid_mem_member_defer (f.mm[i], 0);
  fx_check_redundancy (&f, RAID_LEVEL_5, 3, 1, 1, CHUNK, NULL);
  fx_free (&f);
}

/* A waiter that sleeps tells the members of its I/Os still pending, and the same members
 * once it woke (an AoE member's receiver leaves replies to pollers, and must receive for
 * a sleeper): every member told as often as it is told it woke, the members the request
 * did not touch never; a request whose I/Os completed before it waited tells none. */
Test (io, a_sleeping_waiter_tells_its_pending_members, .timeout = 20)
{
  struct fx f;
  struct fx_late_loop late;
  struct raid_mem_stats st;
  uint8_t buf[CHUNK];
  uint64_t sleeps = 0;

  fx_create (&f, RAID_LEVEL_0, 4, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_NO_BITMAP);
  for (unsigned i = 0; i < f.n; i++)
    raid_mem_member_defer (f.mm[i], 1);
  reset_stats (&f);
  fx_late_loop_start (&late, &f);
  atomic_store (&f.a->poll_gate.lone_wait_us, 5 * POLL_MAX_US);  /* no polling: sleep */
  cr_assert_eq (raid_read (f.a, buf, sizeof buf, CHUNK), 0);     /* the second member's */
  fx_late_loop_stop (&late);
  for (unsigned i = 0; i < f.n; i++) {
    raid_mem_member_stats (f.mm[i], &st, 0);
    cr_expect_eq (st.sleeps, st.wakes, "member %u told of %llu sleeps, %llu wake-ups", i,
                  (unsigned long long) st.sleeps, (unsigned long long) st.wakes);
    if (i != 1)
      cr_expect_eq (st.sleeps, 0, "member %u, with no I/O of the request, told", i);
    sleeps += st.sleeps;
  }
  cr_expect_eq (sleeps, 1, "the sleeping waiter told %llu members", (unsigned long long) sleeps);
  for (unsigned i = 0; i < f.n; i++)
    raid_mem_member_defer (f.mm[i], 0);
  reset_stats (&f);
  cr_assert_eq (raid_read (f.a, buf, sizeof buf, CHUNK), 0);     /* done within submit */
  for (unsigned i = 0; i < f.n; i++) {
    raid_mem_member_stats (f.mm[i], &st, 0);
    cr_expect_eq (st.sleeps + st.wakes, 0, "member %u told of a wait that never slept", i);
  }
  fx_free (&f);
}

/* Polling pays only for a request alone whose waits are short: with company
 * the wake-ups are shared, and a slow member would make a poller burn its
 * CPU for nothing. */
Test (io, poll_gate_opens_for_short_lone_waits_only)
{
  struct poll_gate g = { 0 };

  cr_expect (poll_gate_open (&g, 0), "a lone waiter polls at first");
  cr_expect (!poll_gate_open (&g, 1), "a waiter with company sleeps");
  cr_expect (!poll_gate_open (NULL, 0), "background work never polls");
  for (int i = 0; i < 32; i++)
    poll_gate_record (&g, 5 * POLL_MAX_US);
  cr_expect (!poll_gate_open (&g, 0), "after slow waits a lone waiter sleeps (%u us)",
             atomic_load (&g.lone_wait_us));
  for (int i = 0; i < 32; i++)
    poll_gate_record (&g, POLL_MAX_US / 4);
  cr_expect (poll_gate_open (&g, 0), "fast waits open the gate again (%u us)",
             atomic_load (&g.lone_wait_us));
}

Test (io, bad_ranges_are_refused)
{
  struct fx f;
  uint8_t buf[1024];

  fx_create (&f, RAID_LEVEL_1, 2, 0, 0, CHUNK, 0);
  cr_expect_eq (raid_read (f.a, buf, 100, 0), -EINVAL);
  cr_expect_eq (raid_read (f.a, buf, 512, 3), -EINVAL);
  cr_expect_eq (raid_write (f.a, buf, 1024, raid_size (f.a) - 512, 0), -EINVAL);
  cr_expect_eq (raid_read (f.a, buf, 512, raid_size (f.a) - 512), 0);
  fx_free (&f);
}

/* Mirror reads go to the member with the least outstanding I/O. */
struct reader { struct fx *f; };

static void *
reader_main (void *opaque)
{
  struct reader *r = opaque;
  uint8_t buf[512];
  for (unsigned i = 0; i < 20; i++)
    cr_assert_eq (raid_read (r->f->a, buf, 512, 512 * i), 0);
  return NULL;
}

Test (io, mirror_reads_spread_over_copies)
{
  struct fx f;
  pthread_t th[4];
  struct reader r = { &f };
  struct raid_mem_stats s0, s1;

  fx_create (&f, RAID_LEVEL_1, 2, 0, 0, CHUNK, 0);
  raid_mem_member_delay (f.mm[0], 2000);
  raid_mem_member_delay (f.mm[1], 2000);
  reset_stats (&f);
  for (unsigned i = 0; i < 4; i++)
    pthread_create (&th[i], NULL, reader_main, &r);
  for (unsigned i = 0; i < 4; i++)
    pthread_join (th[i], NULL);
  raid_mem_member_stats (f.mm[0], &s0, 0);
  raid_mem_member_stats (f.mm[1], &s1, 0);
  cr_expect_eq (s0.reads + s1.reads, 80);
  cr_expect_gt (s1.reads, 10, "second copy got %llu of 80 reads", (unsigned long long) s1.reads);
  cr_expect_gt (s0.reads, 10);
  fx_free (&f);
}

/* Threads write random ranges (several stripes at a time) of their own
 * region of the array while members fail under them: every write must
 * succeed and every region must read back as its thread wrote it. */
struct region_writer { struct fx *f; unsigned id; uint64_t base, len; uint8_t *ref; };

static void *
region_writer_main (void *opaque)
{
  struct region_writer *w = opaque;
  uint64_t seed = 77 + w->id;
  uint8_t *src = malloc (6 * 4 * CHUNK);

  for (unsigned r = 0; r < 60; r++) {
    uint32_t len = 512 * (1 + rnd (&seed) % (6 * 4 * CHUNK / 512));
    uint64_t off;
    if (len > w->len)
      len = w->len;
    off = w->base + 512 * (rnd (&seed) % ((w->len - len) / 512 + 1));
    cr_assert_eq (fx_write_ref (w->f->a, w->ref, off, len, &seed), 0, "thread %u write %u",
                  w->id, r);
  }
  free (src);
  return NULL;
}

Test (io, concurrent_writers_while_members_fail, .timeout = 60)
{
  struct fx f;
  pthread_t th[4];
  struct region_writer w[4];
  uint64_t size;
  uint8_t *ref;

  fx_create (&f, RAID_LEVEL_6, 6, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  size = raid_size (f.a);
  ref = calloc (1, size);
  for (unsigned i = 0; i < f.n; i++)
    raid_mem_member_delay (f.mm[i], 50);
  raid_mem_member_fail_after (f.mm[2], 40);      /* goes down in mid-run */
  for (unsigned i = 0; i < 4; i++) {
    w[i] = (struct region_writer) { .f = &f, .id = i, .base = i * (size / 4), .len = size / 4,
                                    .ref = ref };
    pthread_create (&th[i], NULL, region_writer_main, &w[i]);
  }
  usleep (20000);
  raid_mem_member_fail (f.mm[5], 0, 1);          /* starts failing writes */
  for (unsigned i = 0; i < 4; i++)
    pthread_join (th[i], NULL);
  for (unsigned i = 0; i < f.n; i++)
    raid_mem_member_delay (f.mm[i], 0);
  expect_read (&f, ref, size, 0);
  free (ref);
  fx_free (&f);
}

/* Overlapping multi-stripe writes from many threads: no deadlock (ordered
 * stripe locks) and parity matching the data at the end, whoever won. */
static void *
overlap_writer_main (void *opaque)
{
  struct fx *f = opaque;
  uint64_t seed = (uintptr_t) &seed, size = raid_size (f->a);
  uint8_t *src = malloc (3 * 4 * CHUNK);

  for (unsigned r = 0; r < 50; r++) {
    uint32_t len = 512 * (1 + rnd (&seed) % (3 * 4 * CHUNK / 512));
    uint64_t off = 512 * (rnd (&seed) % ((size - len) / 512 + 1));
    fill_random (src, len, &seed);
    cr_assert_eq (raid_write (f->a, src, len, off, 0), 0);
  }
  free (src);
  return NULL;
}

Test (io, overlapping_writers_keep_parity_consistent, .timeout = 60)
{
  struct fx f;
  pthread_t th[6];

  fx_create (&f, RAID_LEVEL_5, 5, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  for (unsigned i = 0; i < f.n; i++)
    raid_mem_member_delay (f.mm[i], 20);
  for (unsigned i = 0; i < 6; i++)
    pthread_create (&th[i], NULL, overlap_writer_main, &f);
  for (unsigned i = 0; i < 6; i++)
    pthread_join (th[i], NULL);
  fx_check_redundancy (&f, RAID_LEVEL_5, 4, 1, 1, CHUNK, NULL);
  fx_free (&f);
}

/* The resync takes a window of units per step: a unit whose data cannot be read stops
 * it there (the units before it in the window are done, the resync point passes them,
 * not it); writers beside it leave the redundancy right; at both levels families. */
struct resync_race { struct fx *f; atomic_int done; };

static void *
resync_main (void *opaque)
{
  struct resync_race *r = opaque;
  intptr_t rc = raid_resync (r->f->a);
  atomic_store (&r->done, 1);
  return (void *) rc;
}

/* Small writes anywhere until the resync is done. */
static void *
resync_writer_main (void *opaque)
{
  struct resync_race *r = opaque;
  uint64_t seed = (uintptr_t) &seed, size = raid_size (r->f->a);
  uint8_t src[4096];

  while (!atomic_load (&r->done)) {
    uint32_t len = 512 * (1 + rnd (&seed) % 8);
    uint64_t off = 512 * (rnd (&seed) % ((size - len) / 512 + 1));
    fill_random (src, len, &seed);
    cr_assert_eq (raid_write (r->f->a, src, len, off, 0), 0);
  }
  return NULL;
}

Test (io, resync_windows_stop_at_a_bad_unit_and_race_writes, .timeout = 60)
{
  static const struct { enum raid_level level; unsigned n, k, m, copies; } lv[] = {
    { RAID_LEVEL_5, 4, 3, 1, 1 }, { RAID_LEVEL_10, 4, 1, 0, 2 },
  };
  for (unsigned i = 0; i < 2; i++) {
    const uint64_t bad = 37;                  /* inside a window (every 16 units) */
    struct fx f;
    struct raid_status st;
    pthread_t th[4], rs;
    void *rc;
    uint64_t seed = 21;

    create_on_garbage_sized (&f, lv[i].level, lv[i].n, &seed, RAID_DATA_OFFSET + 1024 * 1024);
    /* parity: stripe 37's chunk on member 0; raid10: chunk 74, member 0's row 37 */
    raid_mem_member_bad_range (f.mm[0], RAID_DATA_OFFSET + bad * CHUNK, 512);
    cr_assert_eq (raid_resync (f.a), -EIO);
    raid_status (f.a, &st);
    uint64_t want = lv[i].m ? bad : 2 * bad;
    cr_assert_eq (st.resync_offset, want, "%s: stopped at %llu, the bad unit is %llu",
                  raid_level_name (lv[i].level), (unsigned long long) st.resync_offset,
                  (unsigned long long) want);
    raid_mem_member_bad_range (f.mm[0], 0, 0);
    for (unsigned j = 0; j < f.n; j++)
      raid_mem_member_delay (f.mm[j], 100);
    struct resync_race race = { .f = &f };
    cr_assert_eq (pthread_create (&rs, NULL, resync_main, &race), 0);
    for (unsigned j = 0; j < 4; j++)
      pthread_create (&th[j], NULL, resync_writer_main, &race);
    for (unsigned j = 0; j < 4; j++)
      pthread_join (th[j], NULL);
    pthread_join (rs, &rc);
    cr_assert_eq ((intptr_t) rc, 0, "%s: resync", raid_level_name (lv[i].level));
    cr_assert_eq (raid_needs_resync (f.a), 0);
    fx_check_redundancy (&f, lv[i].level, lv[i].k, lv[i].m, lv[i].copies, CHUNK, NULL);
    fx_free (&f);
  }
}

Test (io, resync_can_be_cancelled_and_resumes)
{
  struct fx f;
  uint64_t seed = 9;
  struct raid_status st;

  create_on_garbage (&f, RAID_LEVEL_6, 5, &seed);
  raid_resync_cancel (f.a);
  cr_expect_eq (raid_resync (f.a), -ECANCELED);
  raid_status (f.a, &st);
  cr_expect_eq (st.resync_offset, 0);
  fx_close (&f);
  /* Closed clean but not in sync: the next assembly resumes the resync. */
  {
    char err[256];
    cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  }
  cr_expect_eq (raid_needs_resync (f.a), 1);
  cr_assert_eq (raid_resync (f.a), 0);
  cr_expect_eq (raid_needs_resync (f.a), 0);
  fx_check_redundancy (&f, RAID_LEVEL_6, 3, 2, 1, CHUNK, NULL);
  fx_free (&f);
}

/* RAID5 of 4 written with BUF's ones: e1.1 (data 0 of stripe 0) down and e2.1 (data 1) a
 * bad sector at the same offset, so that sector of data 0 cannot be rebuilt. */
static void
unreadable_stripe_0 (struct fx *f, uint8_t buf[4 * CHUNK])
{
  fx_create (f, RAID_LEVEL_5, 4, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  memset (buf, 1, 4 * CHUNK);
  cr_assert_eq (raid_write (f->a, buf, 4 * CHUNK, 0, 0), 0);
  raid_mem_member_set_down (f->mm[0], 1);
  raid_mem_member_bad_range (f->mm[1], RAID_DATA_OFFSET, 512);
  f->errors = 0;
}

Test (io, unreadable_stripe_fails_naming_members)
{
  struct fx f;
  uint8_t buf[4 * CHUNK];

  unreadable_stripe_0 (&f, buf);
  cr_expect_eq (raid_read (f.a, buf, 512, 0), -EIO);
  cr_expect (strstr (f.last_error, "stripe 0 cannot be reconstructed") != NULL, "%s",
             f.last_error);
  cr_expect (strstr (f.last_error, "e1.1, e2.1") != NULL, "%s", f.last_error);
  /* the rest of the stripe still reads */
  cr_expect_eq (raid_read (f.a, buf, 512, 512), 0);
  fx_free (&f);
}

/* RAID5 of 4: stripe 1's third data column down, a bad sector on stripe 1's parity.  Its
 * first two chunks are on working members: a sequential reader's request for them works,
 * though the rest of the stripe cannot be rebuilt for the stripe cache. */
Test (stripe_cache, whole_stripe_rebuild_fails_a_readable_request)
{
  struct fx f;
  uint64_t seed = 21;
  uint8_t *ref = malloc (6 * CHUNK), got[2 * CHUNK];

  fx_create (&f, RAID_LEVEL_5, 4, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  fill_random (ref, 6 * CHUNK, &seed);
  cr_assert_eq (raid_write (f.a, ref, 6 * CHUNK, 0, 0), 0);
  raid_mem_member_set_down (f.mm[ref_data_dev (4, 1, 1, 2)], 1);
  raid_mem_member_bad_range (f.mm[ref_parity_dev (4, 1, 1, 0)], f.a->lay.data_offset + CHUNK,
                             512);
  expect_read (&f, ref + 2 * CHUNK, CHUNK, 2 * CHUNK);      /* the stream's first request */
  int rc = raid_read (f.a, got, 2 * CHUNK, 3 * CHUNK);
  cr_expect_eq (rc, 0, "2-chunk read of readable columns failed: %d (%s)", rc, f.last_error);
  cr_expect (memcmp (got, ref + 3 * CHUNK, 2 * CHUNK) == 0);
  free (ref);
  fx_free (&f);
}

/* Random chunk-sized reads on a degraded RAID6 of 6 (k=4), each of a chunk whose own
 * member works: before the cache each read one chunk. */
Test (stripe_cache, whole_stripe_rebuild_amplifies_random_reads)
{
  struct fx f;
  uint64_t seed = 22;
  uint8_t *ref, got[CHUNK];
  struct raid_mem_stats t;
  unsigned down = ref_data_dev (6, 2, 0, 3), nreads = 0;

  fx_create (&f, RAID_LEVEL_6, 6, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  ref = malloc (raid_size (f.a));
  fill_random (ref, raid_size (f.a), &seed);
  cr_assert_eq (raid_write (f.a, ref, raid_size (f.a), 0, 0), 0);
  raid_mem_member_set_down (f.mm[down], 1);
  reset_stats (&f);
  for (uint64_t s = 0; s < 8; s++) {
    if (ref_data_dev (6, 2, s, 0) == down)
      continue;
    cr_assert_eq (raid_read (f.a, got, CHUNK, s * 4 * CHUNK), 0);
    cr_assert (memcmp (got, ref + s * 4 * CHUNK, CHUNK) == 0);
    nreads++;
  }
  t = total_stats (&f);
  cr_expect_eq (t.read_bytes, (uint64_t) nreads * CHUNK, "%u one-chunk reads of working "
                "columns read %llu bytes (%.1f x)", nreads, (unsigned long long) t.read_bytes,
                (double) t.read_bytes / (nreads * CHUNK));
  free (ref);
  fx_free (&f);
}

/* An entry outlives a change of the members: parity that did not match its data (a
 * write hole, a bad block) is put right by a repair or a resync, which write no array
 * bytes and bump no generation; the entry keeps the bytes decoded from the bad parity. */
enum parity_fix { FIX_NONE, FIX_REPAIR, FIX_RESYNC };

static void
stale_after_parity_fix (enum parity_fix fix, int same_down)
{
  struct fx f;
  uint64_t seed = 23;
  uint8_t *ref = malloc (6 * CHUNK), got[CHUNK], two[2 * CHUNK];
  unsigned d0 = ref_data_dev (4, 1, 1, 0), d2 = ref_data_dev (4, 1, 1, 2);
  unsigned p = ref_parity_dev (4, 1, 1, 0);

  fx_create (&f, RAID_LEVEL_5, 4, 0, 0, CHUNK,
             RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_NO_BITMAP);
  fill_random (ref, 6 * CHUNK, &seed);
  cr_assert_eq (raid_write (f.a, ref, 6 * CHUNK, 0, 0), 0);
  /* stripe 1's parity does not match (a lost parity write) */
  raid_mem_member_data (f.mm[p])[f.a->lay.data_offset + CHUNK + 100] ^= 0xff;
  if (fix == FIX_RESYNC)
    atomic_store (&f.a->resync_offset, 0);   /* as after an unclean shutdown */
  /* column 2's shelf away for a while: a sequential reader (its second request) rebuilds
   * stripe 1 whole, and keeps column 2, decoded from the bad parity */
  raid_mem_member_set_down (f.mm[d2], 1);
  cr_assert_eq (raid_read (f.a, got, CHUNK, 2 * CHUNK), 0);
  cr_assert_eq (raid_read (f.a, two, 2 * CHUNK, 3 * CHUNK), 0);
  raid_mem_member_set_down (f.mm[d2], 0);                 /* back: nothing was written */
  if (fix == FIX_RESYNC)
    cr_assert_eq (raid_resync (f.a), 0);
  else if (fix == FIX_REPAIR)
    cr_assert_eq (raid_check (f.a, RAID_CHECK_REPAIR), 0);
  expect_read (&f, ref + 5 * CHUNK, CHUNK, 5 * CHUNK);   /* the array holds ref */
  /* another shelf away (column 2 is on a working member still), or the same again (its
   * column decoded from the parity put right) */
  raid_mem_member_set_down (f.mm[same_down ? d2 : d0], 1);
  cr_assert_eq (raid_read (f.a, got, CHUNK, 5 * CHUNK), 0);
  cr_expect (memcmp (got, ref + 5 * CHUNK, CHUNK) == 0,
             "%s, then %s down: column 2 served from a stale stripe cache entry",
             fix == FIX_RESYNC ? "resync" : fix == FIX_REPAIR ? "repair" : "nothing",
             same_down ? "the same" : "another");
  free (ref);
  fx_free (&f);
}

Test (stripe_cache, stale_entry_after_repair)
{
  stale_after_parity_fix (FIX_REPAIR, 0);
  stale_after_parity_fix (FIX_REPAIR, 1);
}

Test (stripe_cache, stale_entry_after_resync)
{
  stale_after_parity_fix (FIX_RESYNC, 0);
  stale_after_parity_fix (FIX_RESYNC, 1);
}

/* Nobody put the parity right, but the member came back with its own (right) bytes:
 * another member away, column 2 is read from it, not from the entry the bad parity
 * made while it was away. */
Test (stripe_cache, stale_entry_after_a_member_came_back)
{
  stale_after_parity_fix (FIX_NONE, 0);
}

/* One writer tags every sector it writes with (sector, version); readers walking the
 * degraded array in requests that cut the stripes check no sector is older than what had
 * been written (acknowledged) before their read began. */
#define ST_SECT 512u
static atomic_uint_fast32_t st_done[2048];
static atomic_int st_stop;
struct st_arg { struct raid_array *a; uint64_t size; unsigned seed; unsigned stale, bad; };

static void
st_tag (uint8_t *p, uint32_t sector, uint32_t version)
{
  for (unsigned o = 0; o < ST_SECT; o += 8) {
    memcpy (p + o, &sector, 4);
    memcpy (p + o + 4, &version, 4);
  }
}

static void *
st_writer (void *opaque)
{
  struct st_arg *w = opaque;
  uint8_t *buf = malloc (24 * ST_SECT);
  uint32_t version = 1;
  for (unsigned it = 0; it < 4000; it++, version++) {
    uint64_t sectors = w->size / ST_SECT;
    uint32_t len = 1 + rand_r (&w->seed) % 24;
    uint64_t at = rand_r (&w->seed) % (sectors - len);
    for (uint32_t i = 0; i < len; i++)
      st_tag (buf + i * ST_SECT, at + i, version);
    cr_assert_eq (raid_write (w->a, buf, len * ST_SECT, at * ST_SECT, 0), 0);
    for (uint32_t i = 0; i < len; i++)
      atomic_store (&st_done[at + i], version);
  }
  atomic_store (&st_stop, 1);
  free (buf);
  return NULL;
}

static void *
st_reader (void *opaque)
{
  struct st_arg *r = opaque;
  uint32_t len = 4 * CHUNK;     /* stripes are 3 chunks: requests cut them */
  uint8_t *buf = malloc (len);
  uint32_t *snap = malloc (len / ST_SECT * 4);
  uint64_t off = (uint64_t) (r->seed % 3) * CHUNK;
  while (!atomic_load (&st_stop)) {
    if (off + len > r->size)
      off = 0;
    for (uint32_t i = 0; i < len / ST_SECT; i++)
      snap[i] = atomic_load (&st_done[off / ST_SECT + i]);
    cr_assert_eq (raid_read (r->a, buf, len, off), 0);
    for (uint32_t i = 0; i < len / ST_SECT; i++) {
      uint32_t s, v;
      memcpy (&s, buf + i * ST_SECT, 4);
      memcpy (&v, buf + i * ST_SECT + 4, 4);
      if (v == 0 && snap[i] == 0)
        continue;
      if (s != off / ST_SECT + i)
        r->bad++;
      else if (v < snap[i])
        r->stale++;
    }
    off += len;
  }
  free (buf);
  free (snap);
  return NULL;
}

Test (stripe_cache, concurrent_writer_and_degraded_sequential_readers)
{
  struct fx f;
  pthread_t t[4];
  struct st_arg arg[4];

  fx_create (&f, RAID_LEVEL_5, 4, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  cr_assert (raid_size (f.a) / ST_SECT <= 2048);
  raid_mem_member_set_down (f.mm[1], 1);
  for (unsigned i = 0; i < 4; i++) {
    arg[i] = (struct st_arg) { .a = f.a, .size = raid_size (f.a), .seed = i + 7 };
    cr_assert_eq (pthread_create (&t[i], NULL, i ? st_reader : st_writer, &arg[i]), 0);
  }
  for (unsigned i = 0; i < 4; i++)
    pthread_join (t[i], NULL);
  for (unsigned i = 1; i < 4; i++)
    cr_expect (arg[i].stale == 0 && arg[i].bad == 0, "reader %u: %u stale, %u torn sectors",
               i, arg[i].stale, arg[i].bad);
  fx_free (&f);
}

/* A sequential degraded reader with a small write elsewhere between its requests (any
 * write anywhere bumps the generation): every entry is lost, and the whole-stripe
 * rebuilds are paid for nothing. */
Test (stripe_cache, sequential_reader_with_unrelated_writes)
{
  struct fx f;
  uint64_t seed = 24, size, read_bytes = 0, delivered = 0;
  uint8_t *ref, small[512];
  struct raid_mem_stats t;

  fx_create (&f, RAID_LEVEL_5, 4, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  size = raid_size (f.a);
  ref = malloc (size);
  fill_random (ref, size, &seed);
  cr_assert_eq (raid_write (f.a, ref, size, 0, 0), 0);
  raid_mem_member_set_down (f.mm[1], 1);
  size -= 3 * CHUNK;                     /* the last stripe takes the writes */
  for (uint64_t off = 0, len; off < size; off += len) {
    len = size - off < 4 * CHUNK ? size - off : 4 * CHUNK;
    reset_stats (&f);
    expect_read (&f, ref + off, len, off);
    t = total_stats (&f);
    read_bytes += t.read_bytes;
    delivered += len;
    cr_assert_eq (raid_write (f.a, small, sizeof small, size, 0), 0);
  }
  cr_expect (read_bytes <= delivered * 4 / 3, "read %llu bytes to deliver %llu (%.2f x)",
             (unsigned long long) read_bytes, (unsigned long long) delivered,
             (double) read_bytes / delivered);
  free (ref);
  fx_free (&f);
}

/* Stripe 0's parity member is down (not failed) when a write to stripe 0 chooses how to
 * make its parity, and up again when the parity goes out.  A read-modify-write would not
 * have read the old parity, and would send it garbage; the parity it gets must be made
 * from the data (reconstruct-write), so the array's redundancy holds with it back. */
struct member_up_later { struct raid_mem_member *mm; unsigned after_us; };

static void *
member_up_later_main (void *opaque)
{
  struct member_up_later *u = opaque;
  usleep (u->after_us);
  raid_mem_member_set_down (u->mm, 0);
  return NULL;
}

Test (io, a_parity_member_back_up_during_a_write_gets_parity_made_from_the_data)
{
  struct fx f;
  struct raid_status st;
  uint64_t seed = 21;
  unsigned pdev = ref_parity_dev (4, 1, 0, 0);
  uint8_t buf[4096], *ref;
  struct member_up_later up;
  pthread_t t;

  fx_create (&f, RAID_LEVEL_5, 4, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  ref = fx_fill (f.a, &seed);
  fill_random (buf, sizeof buf, &seed);
  raid_mem_member_set_down (f.mm[pdev], 1);
  for (unsigned d = 0; d < 4; d++)
    if (d != pdev)
      raid_mem_member_delay (f.mm[d], 300000);    /* the pre-reads outlast the outage */
  up = (struct member_up_later) { .mm = f.mm[pdev], .after_us = 150000 };
  cr_assert_eq (pthread_create (&t, NULL, member_up_later_main, &up), 0);
  cr_assert_eq (raid_write (f.a, buf, sizeof buf, 0, 0), 0);
  pthread_join (t, NULL);
  for (unsigned d = 0; d < 4; d++)
    raid_mem_member_delay (f.mm[d], 0);
  raid_status (f.a, &st);
  cr_assert_eq (st.member[pdev].role, RAID_ROLE_ACTIVE, "the parity member was failed: the "
                "test did not bring it back in time");
  fx_close (&f);
  fx_check_redundancy (&f, RAID_LEVEL_5, 3, 1, 1, CHUNK, NULL);
  free (ref);
  fx_free (&f);
}

/* Two writes miss a member that has just gone down: the one that fails it writes the
 * superblocks; the other must not be acknowledged before they record the failure (md
 * holds writes for the metadata update), or a crash could bring the member back in sync
 * without that write.  Every member's I/O is slowed, so the record takes a while. */
struct slow_write { struct fx *f; uint64_t off; int rc; unsigned role_seen; };

static void *
slow_write_main (void *opaque)
{
  struct slow_write *w = opaque;
  uint8_t buf[4096] = { 7 };
  struct raid_sb sb;

  w->rc = raid_write (w->f->a, buf, sizeof buf, w->off, 0);
  /* what member 0's superblock says of member 1 as the write returns */
  sb_decode (raid_mem_member_data (w->f->mm[0]) + RAID_SB_OFFSET, &sb, NULL, 0);
  w->role_seen = sb.roles[1];
  return NULL;
}

Test (io, a_write_that_missed_a_failed_member_waits_for_the_failure_on_the_superblocks)
{
  struct fx f;
  struct slow_write w[2];
  pthread_t t[2];

  /* no bitmap: its update before the writes would fail the member first */
  fx_create (&f, RAID_LEVEL_1, 3, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_NO_BITMAP);
  raid_mem_member_set_down (f.mm[1], 1);
  raid_mem_member_delay (f.mm[0], 200000);
  raid_mem_member_delay (f.mm[2], 200000);
  for (unsigned i = 0; i < 2; i++) {
    w[i] = (struct slow_write) { .f = &f, .off = i * 8 * CHUNK };
    cr_assert_eq (pthread_create (&t[i], NULL, slow_write_main, &w[i]), 0);
  }
  for (unsigned i = 0; i < 2; i++) {
    pthread_join (t[i], NULL);
    cr_assert_eq (w[i].rc, 0);
    cr_assert_eq (w[i].role_seen, RAID_ROLE_FAULTY, "write %u was acknowledged while the "
                  "superblocks still said the member it missed was active", i);
  }
  raid_mem_member_delay (f.mm[0], 0);
  raid_mem_member_delay (f.mm[2], 0);
  fx_free (&f);
}

/* RAID5 of 4: stripe 0's data 0 is down and data 1 has a bad sector at the offset a
 * small write to data 2 leaves alone.  Its parity cannot be made (reconstruct-write
 * needs both): the write fails, and writes nothing, not parity made from unread scratch
 * nor that scratch over the bad sector as its "repair". */
Test (io, a_write_whose_stripe_cannot_be_gathered_fails)
{
  struct fx f;
  uint8_t buf[4 * CHUNK];

  unreadable_stripe_0 (&f, buf);
  memset (buf, 2, 512);
  cr_expect_eq (raid_write (f.a, buf, 512, 2 * CHUNK, 0), -EIO);
  cr_expect (strstr (f.last_error, "stripe 0 cannot be reconstructed") != NULL, "%s",
             f.last_error);
  /* the bad sector was not overwritten: it still fails to read, and reading data 0's
   * sector (rebuilt from it) fails too */
  cr_expect_eq (raid_read (f.a, buf, 512, 0), -EIO);
  fx_free (&f);
}

/* Every parity level, every set of up to m members down (data and parity columns alike,
 * down before the first write and failed by it): small, column-crossing and
 * stripe-crossing writes all succeed and read back, through the columns rebuilt. */
Test (io, degraded_parity_writes_in_every_combination_of_members_down, .timeout = 120)
{
  static const struct { enum raid_level level; unsigned n, k, m; } cases[] = {
    { RAID_LEVEL_5, 4, 0, 0 }, { RAID_LEVEL_6, 5, 0, 0 }, { RAID_LEVEL_EC, 5, 3, 2 },
  };
  uint64_t seed = 33;
  uint8_t buf[3 * 3 * CHUNK];

  for (unsigned c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (unsigned down = 1; down < 1u << cases[c].n; down++) {
      unsigned m = cases[c].level == RAID_LEVEL_5 ? 1 : 2;
      struct fx f;
      uint64_t size;
      uint8_t *ref;
      if ((unsigned) __builtin_popcount (down) > m)
        continue;
      fx_create (&f, cases[c].level, cases[c].n, cases[c].k, cases[c].m, CHUNK,
                 RAID_CREATE_ASSUME_CLEAN);
      size = raid_size (f.a);
      ref = fx_fill (f.a, &seed);
      for (unsigned d = 0; d < cases[c].n; d++)
        if (down >> d & 1)
          raid_mem_member_set_down (f.mm[d], 1);
      for (unsigned i = 0; i < 48; i++) {
        uint32_t len = 512 * (1 + rnd (&seed) % (sizeof buf / 512));
        uint64_t off = 512 * (rnd (&seed) % ((size - len) / 512));
        cr_assert_eq (fx_write_ref (f.a, ref, off, len, &seed), 0,
                      "level %d, down %#x, write %u", cases[c].level, down, i);
      }
      expect_read (&f, ref, (uint32_t) size, 0);
      free (ref);
      fx_free (&f);
    }
}

/* ---- metadata written to every member, with no memory to spare ------------------ */

enum { WIDE = BATCH_INLINE + 1 };     /* more members than a batch holds inline */

static int
refuse_batches (void *opaque, enum alloc_site site, size_t bytes)
{
  (void) bytes;
  if (site != ALLOC_BATCH)
    return 0;
  atomic_fetch_add ((atomic_uint *) opaque, 1);
  return 1;
}

/* A superblock update of more members than a batch holds inline, with no memory to grow
 * it: every member takes it (md's superblock bios come from a mempool).  It failed the
 * members past the batch's inline room, healthy, for malloc's failure. */
Test (io, a_superblock_update_without_memory_fails_no_member)
{
  struct fx f;
  atomic_uint refused = 0;
  uint64_t events;

  fx_create (&f, RAID_LEVEL_5, WIDE, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_NO_BITMAP);
  events = f.a->sb.events;
  f.a->pool.hook = (struct alloc_hook) { refuse_batches, &refused };
  array_checkpoint (f.a);
  f.a->pool.hook = (struct alloc_hook) { NULL, NULL };
  for (unsigned i = 0; i < WIDE; i++) {
    cr_expect (!atomic_load (&f.a->slot[i].faulty), "member %u failed: %s", i, f.last_error);
    cr_expect_eq (fx_examined (&f, i).events, events + 1, "member %u missed the update", i);
  }
  fx_free (&f);
}

/* A write's dirty bit reaches every member before the write is acknowledged, with no
 * memory for a batch of more members than it holds inline.  The store dropped the writes
 * it could not queue: the last member's block kept the bit clean, and a crash with that
 * block read would skip the region's resync (the write hole). */
Test (io, a_dirty_bit_without_memory_reaches_every_member)
{
  struct fx f;
  atomic_uint refused = 0;
  uint8_t buf[4096] = { 0x3c };

  fx_create (&f, RAID_LEVEL_5, WIDE, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  cr_assert (f.a->bitmap.nbits > 0, "the array has no bitmap");
  bitmap_pass (f.a);
  bitmap_pass (f.a);
  cr_assert_eq (bitmap_dirty_bits (f.a), 0, "bits still dirty before the write");
  f.a->pool.hook = (struct alloc_hook) { refuse_batches, &refused };
  cr_assert_eq (raid_write (f.a, buf, sizeof buf, 0, 0), 0, "the write failed: %s", f.last_error);
  f.a->pool.hook = (struct alloc_hook) { NULL, NULL };
  for (unsigned i = 0; i < WIDE; i++) {
    const uint8_t *block = raid_mem_member_data (f.mm[i]) + RAID_BITMAP_OFFSET;
    cr_expect (!atomic_load (&f.a->slot[i].faulty), "member %u failed: %s", i, f.last_error);
    cr_expect (block[64] & 1, "member %u's bitmap block misses the write's dirty bit", i);
  }
  fx_free (&f);
}

/* A write to a slot being replaced, with no memory for the batch to take its shadows (the
 * caller's own I/Os fill the batch's inline room): the new member still gets the write,
 * and the replace goes on (md: a failed allocation never fails a device).  It marked the
 * new member faulty, healthy, for malloc's failure, and the replace was given up. */
Test (io, a_replacement_without_memory_for_its_shadows_gets_the_write)
{
  enum { PIECES = BATCH_INLINE / 2 };   /* raid1 of 2: two member writes a chunk */
  struct fx f;
  atomic_uint refused = 0;
  struct raid_mem_member *spare = raid_mem_member_new ("e3.1", FX_MEMBER_SIZE);
  struct raid_member sm = raid_mem_member (spare);
  uint8_t buf[PIECES * CHUNK];
  char err[256] = "";

  fx_create (&f, RAID_LEVEL_1, 2, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_NO_BITMAP);
  cr_assert_eq (raid_add_member (f.a, &sm, err, sizeof err), 0, "add: %s", err);
  cr_assert_eq (raid_replace_start (f.a, "e2.1", "e3.1", err, sizeof err), 0, "replace: %s", err);
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t) (i * 7 + 1);
  f.a->pool.hook = (struct alloc_hook) { refuse_batches, &refused };
  cr_assert_eq (raid_write (f.a, buf, sizeof buf, 0, 0), 0, "the write failed: %s", f.last_error);
  f.a->pool.hook = (struct alloc_hook) { NULL, NULL };
  cr_assert_gt (atomic_load (&refused), 0, "the batch never asked for memory: no test");
  cr_expect (!atomic_load (&f.a->repl.member.faulty), "the new member was failed: %s",
             f.last_error);
  cr_expect (atomic_load (&f.a->slot[1].replacement) != NULL, "the replace was given up");
  cr_expect_eq (memcmp (raid_mem_member_data (spare) + RAID_DATA_OFFSET,
                        raid_mem_member_data (f.mm[1]) + RAID_DATA_OFFSET, sizeof buf), 0,
                "the new member misses the write");
  cr_expect_eq (memcmp (raid_mem_member_data (f.mm[1]) + RAID_DATA_OFFSET, buf, sizeof buf), 0,
                "the old member misses the write");
  fx_free (&f);
  raid_mem_member_free (spare);
}

/* bitmap-delay= (md's --delay): raid_bitmap_tick's passes come that far apart, so a bit
 * written once goes after one to two of them.  With 50 ms it went within a few ticks;
 * with 60 s, not after a second of ticks (the default's 5 s would fail the first). */
static uint64_t
ticks_until_clean (struct raid_array *a, unsigned max_ms)
{
  for (unsigned ms = 0; ms < max_ms; ms += 10) {
    raid_bitmap_tick (a);
    if (!bitmap_dirty_bits (a))
      return ms;
    usleep (10000);
  }
  return UINT64_MAX;
}

Test (io, bitmap_delay_sets_the_time_between_clearing_passes)
{
  struct fx f;
  uint8_t buf[4096] = { 0x5a };

  fx_create (&f, RAID_LEVEL_5, 3, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  cr_assert (f.a->bitmap.nbits > 0, "the array has no bitmap");
  raid_set_bitmap_delay (f.a, 50);
  cr_assert_eq (raid_write (f.a, buf, sizeof buf, 0, 0), 0, "the write failed: %s", f.last_error);
  cr_assert_gt (bitmap_dirty_bits (f.a), 0, "the write set no bit");
  /* bounded for a loaded machine: two passes of 50 ms want about 100 ms */
  cr_expect_lt (ticks_until_clean (f.a, 4000), 4000, "a bit still dirty after 4 s of "
                "ticks with bitmap-delay 50 ms");
  raid_set_bitmap_delay (f.a, 60000);
  f.a->bitmap.next_pass_us = 0;        /* the next tick passes, then waits the delay */
  cr_assert_eq (raid_write (f.a, buf, sizeof buf, 0, 0), 0, "the write failed: %s", f.last_error);
  cr_expect_eq (ticks_until_clean (f.a, 1000), UINT64_MAX, "a bit cleared within a second "
                "of ticks with bitmap-delay 60 s");
  fx_free (&f);
}

/* Wide stripes get fewer entries: with 8 MiB stripes the cache keeps four (the newest),
 * 32 MiB, not sixteen (128 MiB); after narrow stripes filled all sixteen, the wide ones
 * take the memory of the entries past their four back. */
Test (io, stripe_cache_keeps_wide_stripes_within_its_bytes)
{
  struct stripe_cache c;
  struct raid_geom narrow = { .level = RAID_LEVEL_5, .family = RAID_FAMILY_PARITY, .n = 4,
                              .k = 3, .m = 1, .chunk = 64 << 10, .chunk_shift = 16,
                              .rows = 1024 };
  struct raid_geom wide = narrow;
  uint8_t *col = calloc (1, 2 << 20), *got = malloc (2 << 20);
  uint8_t *cols[] = { col, col, col, col };
  size_t held;

  wide.n = 5, wide.k = 4, wide.chunk = 2 << 20, wide.chunk_shift = 21;
  cr_assert_eq (stripe_cache_stripe_bytes (&wide), 8 << 20);
  stripe_cache_init (&c);
  for (uint64_t s = 0; s < 16; s++) {
    struct stripe_key key = { .g = narrow, .stripe = s, .usable = 0xf };
    stripe_cache_put (&c, &key, 0, narrow.chunk, cols);
  }
  cr_expect_eq (atomic_load (&c.live), 16, "narrow stripes: %u entries",
                atomic_load (&c.live));
  stripe_cache_flush (&c);                        /* as a reshape does */
  for (uint64_t s = 0; s < 16; s++) {
    struct stripe_key key = { .g = wide, .stripe = s, .usable = 0x1f };
    col[0] = (uint8_t) s;
    stripe_cache_put (&c, &key, 0, wide.chunk, cols);
  }
  cr_expect_eq (atomic_load (&c.live), 4, "wide stripes: %u entries", atomic_load (&c.live));
  held = 0;
  for (unsigned i = 0; i < STRIPE_CACHE_ENTRIES; i++)
    held += c.e[i].cap;
  cr_expect (held <= STRIPE_CACHE_BYTES, "%zu bytes held", held);
  for (uint64_t s = 12; s < 16; s++) {
    struct stripe_key key = { .g = wide, .stripe = s, .usable = 0x1f };
    cr_expect (stripe_cache_get (&c, &key, 0, wide.chunk, got) && got[0] == s,
               "stripe %llu, among the newest four, was not kept", (unsigned long long) s);
  }
  stripe_cache_destroy (&c);
  free (col);
  free (got);
}

/* raid_closing against the stripes' consistency: a RAID5 of 5 (with the partial parity
 * log, the write-intent bitmap, or neither) whose server stops while a member is held,
 * a write of every shape (or a check repair) cut short at each of its member I/Os in
 * turn.  The next start (dirty, as after a crash) must make every stripe consistent:
 * every sector no write touched reads back its old bytes, even with one more member then
 * missing (the write hole), every sector the cut write covered reads old or new, and a
 * close that marks the array clean leaves no stripe whose parity disagrees with its data.
 * Members with a volatile cache too: the held member's flush fails without failing it,
 * so nothing may count on it, neither the log's room nor the clean mark. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "raid-int.h"

#define CHUNK 4096u
#define N 5                             /* raid5 of 5: 4 data columns (read-modify-write
                                         * for one column, reconstruct-write for two) */
#define K 4
#define STRIPE ((uint64_t) K * CHUNK)
#define ROWS 8u                         /* stripes */
/* small members: the data after a ring of 32 KiB (half of it less than the entries of a
 * write over four stripes: that write goes in halves) */
#define DOFF (RAID_META_END + 32u * 1024)
#define MEMBER (DOFF + ROWS * CHUNK)
#define NONE 99u                        /* no member */

enum policy { POL_PPL, POL_PPL_NO_BITMAP, POL_BITMAP, POL_NONE, POL_N };
static const char *const policy_name[POL_N] = { "ppl", "ppl without a bitmap", "bitmap",
                                                "resync" };

static int
logs (enum policy pol)
{
  return pol == POL_PPL || pol == POL_PPL_NO_BITMAP;
}

static unsigned
col_dev (uint64_t stripe, unsigned col)
{
  return col < K ? ref_data_dev (N, 1, stripe, col) : ref_parity_dev (N, 1, stripe, 0);
}

/* A raid5 of 5 under POL, of ROWS stripes, written whole (the reference, returned),
 * stopped and started again clean: a new generation of the log, every bitmap bit clean. */
static uint8_t *
rig_rows (struct fx *f, enum policy pol, uint64_t seed, unsigned rows)
{
  unsigned flags = RAID_CREATE_ASSUME_CLEAN;
  char err[256] = "";

  if (logs (pol))
    flags |= RAID_CREATE_PPL;
  if (pol == POL_PPL_NO_BITMAP || pol == POL_NONE)
    flags |= RAID_CREATE_NO_BITMAP;
  struct raid_params p = { .level = RAID_LEVEL_5, .chunk_bytes = CHUNK, .name = "vol",
                           .flags = flags, .bitmap_region = 2 * CHUNK, .data_offset = DOFF };
  uint8_t *ref;

  fx_members (f, N, DOFF + (uint64_t) rows * CHUNK);
  f->a = raid_create (&p, f->mem, N, fx_log, f, err, sizeof err);
  cr_assert_not_null (f->a, "raid_create: %s", err);
  if (logs (pol)) {
    struct raid_status st;
    cr_assert_eq (raid_status (f->a, &st), 0);
    cr_assert_eq (st.ppl_log_bytes, DOFF - RAID_META_END, "a ring of %llu bytes",
                  (unsigned long long) st.ppl_log_bytes);
  }
  ref = fx_fill (f->a, &seed);
  fx_close (f);
  cr_assert_not_null (fx_assemble (f, 0, err, sizeof err), "%s", err);
  return ref;
}

static uint8_t *
rig (struct fx *f, enum policy pol, uint64_t seed)
{
  return rig_rows (f, pol, seed, ROWS);
}

/* Start from every member but A and B (NONE: none), FLAGS; NULL when refused. */
static struct raid_array *
start_without (struct fx *f, unsigned a, unsigned b, unsigned flags)
{
  struct raid_member m[N];
  unsigned n = 0;
  char err[512] = "";

  for (unsigned i = 0; i < N; i++)
    if (i != a && i != b)
      m[n++] = f->mem[i];
  f->a = raid_assemble (m, n, flags, fx_log, f, err, sizeof err);
  return f->a;
}

/* Every member's raw bytes (to start again from the same state more than once). */
static uint8_t *
snapshot (struct fx *f)
{
  uint8_t *s = malloc ((size_t) N * MEMBER);

  cr_assert_not_null (s);
  for (unsigned i = 0; i < N; i++)
    memcpy (s + (size_t) i * MEMBER, raid_mem_member_data (f->mm[i]), MEMBER);
  return s;
}

static void
put_back (struct fx *f, const uint8_t *s)
{
  for (unsigned i = 0; i < N; i++)
    memcpy (raid_mem_member_data (f->mm[i]), s + (size_t) i * MEMBER, MEMBER);
}

/* Every stripe's parity matches its data on the members' raw bytes (but for the stripes
 * of no row with member GONE: nothing to compare). */
static void
expect_consistent (struct fx *f, unsigned gone, const char *what)
{
  for (uint64_t r = 0; r < ROWS && gone == NONE; r++)
    for (uint32_t b = 0; b < CHUNK; b++) {
      uint8_t x = 0;
      for (unsigned i = 0; i < N; i++)
        x ^= raid_mem_member_data (f->mm[i])[DOFF + r * CHUNK + b];
      if (x)
        cr_assert_fail ("%s: stripe %llu's parity does not match its data at byte %u, and "
                        "the array was marked clean", what, (unsigned long long) r, b);
    }
}

/* The members' superblocks after the close: 1 when one that answers says clean. */
static int
left_clean (struct fx *f, unsigned gone)
{
  int clean = 0;

  for (unsigned i = 0; i < N; i++)
    if (i != gone)
      clean |= fx_examined (f, i).clean;
  return clean;
}

/* Stripe S's parity matches its data on the members' raw bytes. */
static int
stripe_consistent (struct fx *f, uint64_t s)
{
  for (uint32_t b = 0; b < CHUNK; b++) {
    uint8_t x = 0;
    for (unsigned i = 0; i < N; i++)
      x ^= raid_mem_member_data (f->mm[i])[DOFF + s * CHUNK + b];
    if (x)
      return 0;
  }
  return 1;
}

/* The member holding array byte OFF. */
static unsigned
dev_of (uint64_t off)
{
  return col_dev (off / STRIPE, (unsigned) (off % STRIPE / CHUNK));
}

/* ---- members with a cache: a flush the held member missed makes nothing durable ---- */

/* The stop comes at the first I/O sent to the member it watches: the array closes, and
 * the held member's shelf is declared down (its hold ended). */
struct stop_at_first {
  struct fx *f;
  unsigned held;
  int client_flush;             /* and a client's flush, running then, ends (flush_request) */
  int done;
};

static void
stop_at_first (void *opaque, enum raid_io_op op, uint64_t offset, uint32_t len)
{
  struct stop_at_first *s = opaque;

  (void) op, (void) offset, (void) len;
  if (s->done)
    return;
  s->done = 1;
  raid_closing (s->f->a);
  raid_mem_member_set_down (s->f->mm[s->held], 1);
  if (s->client_flush) {
    uint64_t n = ppl_flush_begin (s->f->a);
    flush_members (s->f->a);
    ppl_flush_ended (s->f->a, n);
  }
}

/* Members with a volatile cache.  A write W1 to column 0 of a stripe ends (logged, not
 * yet durable: the room flush is lazy).  W2, to column 2 of the same stripe and rows
 * (read-modify-write: it reads column 2 and the parity), is running when the server
 * stops while column 0's member D is held.  W2's record must go out only once every
 * earlier write to the stripe is durable (stripes_durable: a room flush); the flush
 * fails on D, which closing does not fail.  Were that flush counted, W2's
 * entry would go out, its pp made of W1's bytes that only D's cache holds, superseding
 * W1's record.  D then loses its cache (the power fails before the next start: the
 * array was left as after a crash, and a crash may take a cache), and the next start,
 * without column 1's member (no write touched that column), replays W2's record:
 * parity made of W1's bytes beside D's old ones, and column 1 rebuilt wrong.  Column
 * 0 may read old or new (W1 was acknowledged, never flushed); column 1 must be as it
 * was.  CLIENT_FLUSH: a client's flush, running as the stop came, is the room flush
 * instead (its flush of D failed with it). */
static void
flush_missed_by_the_held_member (int client_flush)
{
  struct fx f;
  uint64_t seed = 41, s = 2, at = s * STRIPE;
  unsigned d = col_dev (s, 0), c1 = col_dev (s, 1), c2 = col_dev (s, 2);
  uint8_t *ref = rig (&f, POL_PPL, 40), *old = malloc (f.a->size), got[CHUNK];
  struct stop_at_first stop = { &f, d, client_flush, 0 };

  memcpy (old, ref, f.a->size);
  for (unsigned i = 0; i < N; i++)
    cr_assert_eq (raid_mem_member_cache (f.mm[i], 1), 0);
  cr_assert_eq (fx_write_ref (f.a, ref, at, 1024, &seed), 0, "W1");
  /* the stop comes at W2's first read, of column 2 */
  raid_mem_member_hook (f.mm[c2], stop_at_first, &stop);
  cr_assert_eq (fx_write_ref (f.a, ref, at + 2 * CHUNK, 1024, &seed), -EIO, "W2 cut short");
  raid_mem_member_hook (f.mm[c2], NULL, NULL);
  cr_assert (stop.done, "W2 reached column 2's member");
  fx_close (&f);
  raid_mem_member_set_down (f.mm[d], 0);
  raid_mem_member_lose_cache (f.mm[d], 0, MEMBER);
  for (unsigned i = 0; i < N; i++)
    raid_mem_member_cache (f.mm[i], 0);
  cr_assert_not_null (start_without (&f, c1, NONE, 0), "a dirty start without e%u.1", c1 + 1);
  cr_assert_eq (raid_read (f.a, got, CHUNK, at + CHUNK), 0);
  cr_assert (!memcmp (got, old + at + CHUNK, CHUNK),
             "column 1 of stripe %llu, which no write touched, rebuilt wrong: a record went "
             "out over bytes only the held member's cache held", (unsigned long long) s);
  free (old);
  free (ref);
  fx_free (&f);
}

Test (closing_ppl, a_room_flush_the_held_member_missed_makes_no_write_durable, .timeout = 30)
{
  flush_missed_by_the_held_member (0);
}

Test (closing_ppl, a_client_flush_the_held_member_missed_makes_no_write_durable, .timeout = 30)
{
  flush_missed_by_the_held_member (1);
}

/* Members with a volatile cache: four writes W1..W4 to column 0 (member D) of four
 * stripes whose parity member P keeps their entries, ended (not yet durable), fill P's
 * ring.  W5, to column 1 of a fifth such stripe, is running when the server stops while
 * D is held: its entry's room waits for a room flush (ring_take), which fails on D.
 * Were it counted, W5's entry would take W1's room, W1's record gone while D's cache
 * alone holds W1 beside its new parity; D then loses its cache, and the next start,
 * without column 2's member (no write touched it), finds no record of W1's stripe:
 * column 2 rebuilt wrong.  W1..W4 may read old or new; column 2 as it was. */
Test (closing_ppl, a_ring_full_of_writes_in_the_held_members_cache_is_not_overwritten,
      .timeout = 30)
{
  struct fx f;
  uint64_t seed = 45, first = 2;
  unsigned p = col_dev (first, K), d = col_dev (first, 0), c2 = col_dev (first, 2);
  uint8_t *ref = rig_rows (&f, POL_PPL, 44, 24), *old = malloc (f.a->size), got[CHUNK];
  struct stop_at_first stop = { &f, d, 0, 0 };
  uint64_t last = first + 4 * N;

  memcpy (old, ref, f.a->size);
  for (unsigned i = 0; i < N; i++)
    cr_assert_eq (raid_mem_member_cache (f.mm[i], 1), 0);
  /* every N-th stripe has its parity on P and column 0 on D: a partial write each, its
   * entry a header and a block of pp, a quarter of the 32 KiB ring */
  for (uint64_t s = first; s < last; s += N) {
    cr_assert_eq (col_dev (s, K), p);
    cr_assert_eq (col_dev (s, 0), d);
    cr_assert_eq (fx_write_ref (f.a, ref, s * STRIPE, 1024, &seed), 0, "W at stripe %llu",
                  (unsigned long long) s);
  }
  raid_mem_member_hook (f.mm[col_dev (last, 1)], stop_at_first, &stop);
  cr_assert_eq (fx_write_ref (f.a, ref, last * STRIPE + CHUNK, 1024, &seed), -EIO,
                "W5 cut short");
  raid_mem_member_hook (f.mm[col_dev (last, 1)], NULL, NULL);
  cr_assert (stop.done, "W5 reached column 1's member");
  fx_close (&f);
  raid_mem_member_set_down (f.mm[d], 0);
  raid_mem_member_lose_cache (f.mm[d], 0, DOFF + 24 * CHUNK);
  for (unsigned i = 0; i < N; i++)
    raid_mem_member_cache (f.mm[i], 0);
  cr_assert_not_null (start_without (&f, c2, NONE, 0), "a dirty start without e%u.1", c2 + 1);
  cr_assert_eq (raid_read (f.a, got, CHUNK, first * STRIPE + 2 * CHUNK), 0);
  cr_assert (!memcmp (got, old + first * STRIPE + 2 * CHUNK, CHUNK),
             "column 2 of stripe %llu, which no write touched, rebuilt wrong: its record's "
             "room was taken while the held member's cache alone held its write",
             (unsigned long long) first);
  free (old);
  free (ref);
  fx_free (&f);
}

/* Members with a volatile cache, a write W1 to column 0 acknowledged (not flushed), and
 * only a read cut short on column 0's member D as the server stops: no write was.  The
 * close marks the array clean on the others only after a flush of every member (the
 * superblocks' preflush), which D misses: its cache may still hold W1 beside parity that
 * went out with it.  D then loses its cache (the power fails before the next start):
 * an array marked clean would start without resync, its stripe inconsistent, and
 * without column 1's member rebuild column 1 wrong.  The array must be left dirty: the
 * next start makes the stripe consistent (the log, the bits, a whole resync). */
static void
cached_writes_on_the_held_member (enum policy pol)
{
  struct fx f;
  uint64_t seed = 43, s = 2, at = s * STRIPE;
  unsigned d = col_dev (s, 0), c1 = col_dev (s, 1);
  uint8_t *ref = rig (&f, pol, 42), *old = malloc (f.a->size), got[CHUNK];
  struct stop_at_first stop = { &f, d, 0, 0 };
  char what[64];

  snprintf (what, sizeof what, "%s, the held member's cache lost", policy_name[pol]);
  memcpy (old, ref, f.a->size);
  for (unsigned i = 0; i < N; i++)
    cr_assert_eq (raid_mem_member_cache (f.mm[i], 1), 0);
  cr_assert_eq (fx_write_ref (f.a, ref, at, 1024, &seed), 0, "W1");
  raid_mem_member_hook (f.mm[d], stop_at_first, &stop);
  cr_assert_eq (raid_read (f.a, got, CHUNK, at), -EIO, "the read cut short");
  raid_mem_member_hook (f.mm[d], NULL, NULL);
  cr_assert (stop.done);
  fx_close (&f);
  raid_mem_member_set_down (f.mm[d], 0);
  raid_mem_member_lose_cache (f.mm[d], 0, MEMBER);
  for (unsigned i = 0; i < N; i++)
    raid_mem_member_cache (f.mm[i], 0);
  if (left_clean (&f, NONE))
    expect_consistent (&f, NONE, what);
  cr_assert_not_null (start_without (&f, NONE, NONE, 0), "%s: the next start", what);
  if (raid_needs_resync (f.a))
    cr_assert_eq (raid_resync (f.a), 0);
  fx_close (&f);
  cr_assert_not_null (start_without (&f, c1, NONE, 0), "%s: a start without e%u.1", what,
                      c1 + 1);
  cr_assert_eq (raid_read (f.a, got, CHUNK, at + CHUNK), 0);
  cr_assert (!memcmp (got, old + at + CHUNK, CHUNK), "%s: column 1 of stripe %llu, which no "
             "write touched, rebuilt wrong", what, (unsigned long long) s);
  free (old);
  free (ref);
  fx_free (&f);
}

Test (closing_ppl, a_held_member_with_a_cache_leaves_the_array_dirty, .timeout = 30)
{
  for (enum policy pol = 0; pol < POL_N; pol++)
    cached_writes_on_the_held_member (pol);
}

/* ---- a writer running beside the cut one ---------------------------------------------- */

/* A member I/O that stops its thread (the first one of OP at or past MIN_OFF): REACHED
 * says it came, GO lets it on. */
struct pause_at {
  enum raid_io_op op;
  uint64_t min_off;
  int armed;
  sem_t reached, go;
};

static void
pause_at (void *opaque, enum raid_io_op op, uint64_t offset, uint32_t len)
{
  struct pause_at *p = opaque;

  (void) len;
  if (!p->armed || op != p->op || offset < p->min_off)
    return;
  p->armed = 0;
  sem_post (&p->reached);
  sem_wait (&p->go);
}

struct side_write {
  struct fx *f;
  uint8_t *ref;
  uint64_t off, seed;
  int rc;
  pthread_t thread;
};

static void *
side_write_main (void *opaque)
{
  struct side_write *w = opaque;

  w->rc = fx_write_ref (w->f->a, w->ref, w->off, 1024, &w->seed);
  return NULL;
}

/* Members without a cache.  W1, a read-modify-write of column 0 (member D) of a stripe,
 * logged its entry on the parity member P and waits on D, held, for its data.  W2, a
 * read-modify-write of another stripe whose parity P keeps too, is past the closing
 * check, reading.  The server stops: W1's write to D fails, which fails nobody
 * (raid_closing), and its stripe now has W1's new parity beside D's old bytes: only
 * W1's record makes it again at the next start.  W2 then takes its room in P's ring and
 * its entry goes out (logged before the data, which closing then keeps back).  Were
 * W1's room given back as ended and durable, W2's header would say so (its ring's tail
 * past W1's entry), the replay would drop W1's record, and a start without a column no
 * write touched would rebuild it from W1's parity and D's old bytes: wrong. */
static void
writer_beside_the_cut_one (enum policy pol)
{
  struct fx f;
  uint64_t x = 2, y = x + N;      /* every N-th stripe: the same parity member */
  unsigned d = col_dev (x, 0), c2 = col_dev (x, 2), m = col_dev (y, 1);
  uint8_t *ref = rig (&f, pol, 70), *old = malloc (f.a->size), got[CHUNK];
  struct pause_at held = { .op = RAID_IO_WRITE, .min_off = DOFF, .armed = 1 };
  struct pause_at reading = { .op = RAID_IO_READ, .min_off = DOFF, .armed = 1 };
  struct side_write w1 = { .f = &f, .ref = ref, .off = x * STRIPE + 512, .seed = 71 };
  struct side_write w2 = { .f = &f, .ref = ref, .off = y * STRIPE + CHUNK + 512, .seed = 72 };

  cr_assert_eq (col_dev (y, K), col_dev (x, K));
  cr_assert (m != d && c2 != d && c2 != m);
  memcpy (old, ref, f.a->size);
  sem_init (&held.reached, 0, 0), sem_init (&held.go, 0, 0);
  sem_init (&reading.reached, 0, 0), sem_init (&reading.go, 0, 0);
  raid_mem_member_hook (f.mm[d], pause_at, &held);
  raid_mem_member_hook (f.mm[m], pause_at, &reading);
  cr_assert_eq (pthread_create (&w1.thread, NULL, side_write_main, &w1), 0);
  sem_wait (&held.reached);                     /* W1's entry is on P, its data waits */
  cr_assert_eq (pthread_create (&w2.thread, NULL, side_write_main, &w2), 0);
  sem_wait (&reading.reached);                  /* W2 is past the closing check */
  raid_closing (f.a);
  raid_mem_member_set_down (f.mm[d], 1);        /* the hold ended: W1's data to D fails */
  sem_post (&held.go);
  pthread_join (w1.thread, NULL);
  sem_post (&reading.go);
  pthread_join (w2.thread, NULL);
  cr_assert_eq (w1.rc, -EIO, "W1 cut short");
  cr_assert_eq (w2.rc, -EIO, "W2 cut short");
  raid_mem_member_hook (f.mm[d], NULL, NULL);
  raid_mem_member_hook (f.mm[m], NULL, NULL);
  fx_close (&f);
  raid_mem_member_set_down (f.mm[d], 0);
  cr_assert_not_null (start_without (&f, c2, NONE, 0), "%s: a dirty start without e%u.1",
                      policy_name[pol], c2 + 1);
  cr_assert_eq (raid_read (f.a, got, CHUNK, x * STRIPE + 2 * CHUNK), 0);
  cr_assert (!memcmp (got, old + x * STRIPE + 2 * CHUNK, CHUNK),
             "%s: column 2 of stripe %llu, which no write touched, rebuilt wrong: the "
             "record of the write cut short on the held member was dropped",
             policy_name[pol], (unsigned long long) x);
  sem_destroy (&held.reached), sem_destroy (&held.go);
  sem_destroy (&reading.reached), sem_destroy (&reading.go);
  free (old);
  free (ref);
  fx_free (&f);
}

Test (closing_ppl, a_writer_beside_the_cut_one_keeps_its_record, .timeout = 30)
{
  writer_beside_the_cut_one (POL_PPL_NO_BITMAP);
  writer_beside_the_cut_one (POL_PPL);
}

/* ---- every shape of write, cut short at each of its I/Os ---------------------------- */

struct shape { const char *name; uint64_t off; uint32_t len; };
static const struct shape shapes[] = {
  { "read-modify-write", 3 * STRIPE + 512, 1024 },                 /* column 0 */
  { "reconstruct-write", 3 * STRIPE, 2 * CHUNK },                  /* columns 0, 1 */
  { "full-stripe", 3 * STRIPE, STRIPE },
  { "across two columns", 3 * STRIPE + CHUNK - 1024, 2048 },     /* rows cut twice */
  /* partial, two full, partial: more than half a ring of entries, so in halves */
  { "in halves", 2 * STRIPE + CHUNK + 1024, 3 * STRIPE },
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

/* The stop comes at I/O number CUT of all the members' (counted from 0): the array
 * closes and the held member's shelf goes down (FAILING: its I/O fails while it answers,
 * as a disk's own error would). */
struct stop_at_io {
  struct fx *f;
  unsigned held;
  int failing;
  int64_t cut, seen;
  int done;
};

static void
stop_at_io (void *opaque, enum raid_io_op op, uint64_t offset, uint32_t len)
{
  struct stop_at_io *s = opaque;

  (void) op, (void) offset, (void) len;
  if (s->done || s->seen++ != s->cut)
    return;
  s->done = 1;
  raid_closing (s->f->a);
  if (s->failing)
    raid_mem_member_fail (s->f->mm[s->held], 1, 1);
  else
    raid_mem_member_set_down (s->f->mm[s->held], 1);
}

static void
hooks (struct fx *f, struct stop_at_io *s)
{
  for (unsigned i = 0; i < N; i++)
    raid_mem_member_hook (f->mm[i], s ? stop_at_io : NULL, s);
}

/* What the array reads must be: OLD outside the cut write [OFF, OFF + LEN), OLD or NEW
 * inside, but for the sectors of member SKIP inside it (a column the write covered,
 * missing at a dirty start: undefined, as md's).  OLDER (NULL: none): what a sector may
 * read instead of OLD (an acknowledged write never flushed, lost from a cache).  GOT: the
 * array's bytes. */
static void
expect_bytes (const uint8_t *got, const uint8_t *old, const uint8_t *older, const uint8_t *new,
              uint64_t size, uint64_t off, uint32_t len, unsigned skip, const char *what)
{
  for (uint64_t o = 0; o < size; o += 512) {
    int inside = o >= off && o < off + len;
    if (!memcmp (got + o, old + o, 512) || (older && !memcmp (got + o, older + o, 512)))
      continue;
    if (inside && (dev_of (o) == skip || !memcmp (got + o, new + o, 512)))
      continue;
    cr_assert_fail ("%s: array byte %llu (stripe %llu, on e%u.1, %s what was cut short) reads "
                    "neither its old bytes%s", what, (unsigned long long) o,
                    (unsigned long long) (o / STRIPE), dev_of (o) + 1,
                    inside ? "inside" : "outside", inside ? " nor its new ones" : "");
  }
}

static void
read_all (struct fx *f, uint8_t *got, const char *what)
{
  cr_assert_eq (raid_read (f->a, got, f->a->size, 0), 0, "%s: the read failed", what);
}

/* One run: POL, the write of SH cut at I/O CUT with HELD held (FAILING), GONE (NONE:
 * none) missing from the start; CACHED: the members keep writes in a volatile cache, and
 * the power fails on each after the stop (any of the writes since its last flush kept).
 * 0 when the write ended before I/O CUT (no more cuts). */
static int
cut_run (enum policy pol, const struct shape *sh, unsigned held, int failing, unsigned gone,
         int cached, int64_t cut)
{
  struct fx f;
  struct stop_at_io stop = { &f, held, failing, cut, 0, 0 };
  uint64_t seed = 100 + (uint64_t) cut, size;
  uint8_t *ref = rig (&f, pol, 51), *old, *older = NULL, *got, *snap;
  char what[256], without[32] = "";
  int rc, clean;

  if (gone != NONE)
    snprintf (without, sizeof without, ", e%u.1 gone", gone + 1);
  snprintf (what, sizeof what, "%s, %s write cut at I/O %lld, e%u.1 held (%s)%s%s",
            policy_name[pol], sh->name, (long long) cut, held + 1, failing ? "failing" : "down",
            without, cached ? ", members with a cache" : "");
  size = f.a->size;
  if (cached) {
    older = malloc (size);
    memcpy (older, ref, size);
    for (unsigned i = 0; i < N; i++)
      cr_assert_eq (raid_mem_member_cache (f.mm[i], 1), 0);
  }
  /* an acknowledged write before: the stripe's older record (with a cache: not flushed) */
  cr_assert_eq (fx_write_ref (f.a, ref, 3 * STRIPE + 2 * CHUNK + 1024, 1024, &seed), 0);
  /* its bit clean again (the second idle pass clears it): the cut write sets its bits */
  bitmap_pass (f.a);
  bitmap_pass (f.a);
  cr_assert_eq (bitmap_dirty_bits (f.a), 0, "%s: bits dirty before the cut write", what);
  if (gone != NONE) {
    fx_close (&f);
    cr_assert_not_null (start_without (&f, gone, NONE, 0), "%s: a clean degraded start", what);
  }
  old = malloc (size);
  got = malloc (size);
  memcpy (old, ref, size);
  hooks (&f, &stop);
  rc = fx_write_ref (f.a, ref, sh->off, sh->len, &seed);
  hooks (&f, NULL);
  if (!stop.done) {
    cr_assert_eq (rc, 0, "%s: the write failed with no stop", what);
    free (old), free (older), free (got), free (ref);
    fx_free (&f);
    return 0;
  }
  cr_assert_eq (rc, -EIO, "%s: the write cut short answered %d", what, rc);
  fx_close (&f);                                /* the held member still held */
  raid_mem_member_set_down (f.mm[held], 0);
  raid_mem_member_fail (f.mm[held], 0, 0);
  for (unsigned i = 0; i < N && cached; i++) {
    raid_mem_member_power_loss (f.mm[i], &seed);
    raid_mem_member_cache (f.mm[i], 0);
  }
  clean = left_clean (&f, gone);
  if (clean)                                    /* the next start trusts every stripe */
    expect_consistent (&f, gone, what);
  snap = gone == NONE ? snapshot (&f) : NULL;  /* degraded: no start again from here */

  /* The next start from every member there, making consistent what the log or the
   * bitmap names (or the whole array). */
  if (!start_without (&f, gone, NONE, 0)) {
    cr_assert (gone != NONE && !logs (pol) && !clean,
               "%s: the next start was refused", what);
  }
  else {
    if (gone == NONE && raid_needs_resync (f.a))    /* degraded: none to run */
      cr_assert_eq (raid_resync (f.a), 0, "%s: the resync", what);
    read_all (&f, got, what);
    expect_bytes (got, old, older, ref, size, sh->off, sh->len, gone, what);
    fx_close (&f);
    uint8_t *after = gone == NONE ? snapshot (&f) : NULL;
    /* then without one more member: rebuilt from parity, each reads what it read */
    for (unsigned m = 0; m < N && gone == NONE; m++) {
      uint8_t *again = malloc (size);
      put_back (&f, after);
      cr_assert_not_null (start_without (&f, m, NONE, 0), "%s: a start without e%u.1 after "
                          "the first one", what, m + 1);
      read_all (&f, again, what);
      for (uint64_t o = 0; o < size; o += 512)
        if (memcmp (again + o, got + o, 512))
          cr_assert_fail ("%s, then without e%u.1: array byte %llu (on e%u.1) reads other "
                          "bytes than with it: its stripe inconsistent", what, m + 1,
                          (unsigned long long) o, dev_of (o) + 1);
      fx_close (&f);
      free (again);
    }
    free (after);
  }

  /* The write hole: the next start already without one more member (dirty and
   * degraded: the log lets it start; else refused without force). */
  for (unsigned m = 0; m < N && gone == NONE; m++) {
    put_back (&f, snap);
    if (!logs (pol)) {
      if (m == held && !clean)
        cr_assert_null (start_without (&f, m, NONE, 0), "%s: a dirty degraded start "
                        "without e%u.1 taken without force", what, m + 1);
      continue;
    }
    cr_assert_not_null (start_without (&f, m, NONE, 0), "%s: a start without e%u.1", what,
                        m + 1);
    char when[300];
    snprintf (when, sizeof when, "%s, next start without e%u.1", what, m + 1);
    read_all (&f, got, when);
    expect_bytes (got, old, older, ref, size, sh->off, sh->len, m, when);
    fx_close (&f);
  }
  free (snap);
  free (old);
  free (older);
  free (got);
  free (ref);
  fx_free (&f);
  return 1;
}

/* Every cut of every shape, each member held in turn (the parity member of a stripe,
 * its ring's member, a data member the write covers, one it leaves), down or failing;
 * DEGRADED: each other member gone from the start in turn. */
static void
sweep (enum policy pol, int degraded, int cached)
{
  for (unsigned sh = 0; sh < NSHAPES; sh++)
    for (unsigned held = 0; held < N; held++)
      for (int failing = 0; failing < 2; failing++)
        for (unsigned gone = degraded ? 0 : NONE; gone < N || gone == NONE; gone++) {
          int64_t cut = 0;
          if (gone == held)
            continue;
          while (cut_run (pol, &shapes[sh], held, failing, gone, cached, cut))
            cut++;
          /* its bits, its entry, its data and parity at least */
          cr_assert_geq (cut, 3, "%s: a %s write of %lld I/Os", policy_name[pol],
                         shapes[sh].name, (long long) cut);
          if (gone == NONE)
            break;
        }
}

Test (closing_ppl, every_cut_write_with_the_log, .timeout = 600) { sweep (POL_PPL, 0, 0); }
Test (closing_ppl, every_cut_write_with_the_log_and_no_bitmap, .timeout = 600)
{
  sweep (POL_PPL_NO_BITMAP, 0, 0);
}
Test (closing_ppl, every_cut_write_with_the_bitmap, .timeout = 600) { sweep (POL_BITMAP, 0, 0); }
Test (closing_ppl, every_cut_write_with_neither, .timeout = 600) { sweep (POL_NONE, 0, 0); }
Test (closing_ppl, every_cut_write_degraded_with_the_log, .timeout = 600)
{
  sweep (POL_PPL, 1, 0);
}
Test (closing_ppl, every_cut_write_degraded_with_the_bitmap, .timeout = 600)
{
  sweep (POL_BITMAP, 1, 0);
}
Test (closing_ppl, every_cut_write_on_cached_members_with_the_log, .timeout = 600)
{
  sweep (POL_PPL, 0, 1);
}
Test (closing_ppl, every_cut_write_on_cached_members_with_the_bitmap, .timeout = 600)
{
  sweep (POL_BITMAP, 0, 1);
}
Test (closing_ppl, every_cut_write_on_cached_members_with_neither, .timeout = 600)
{
  sweep (POL_NONE, 0, 1);
}

/* ---- a check repair, cut short ------------------------------------------------------ */

/* POL, an acknowledged write to column 2 of stripe 3 (its record), then column 0 rots
 * there: a repair makes the parity match the data as it is, logged with a record of the
 * whole stripe (else the older record, replayed, would put back parity made from the
 * data before).  The repair is cut at I/O CUT with HELD held (down).  A repair changes
 * no data: the next start (and, with the log, one already without member M) reads
 * every sector as it was, but for those of stripe 3 on M while its parity on the
 * members is not yet the repaired one (the stop came before the repair reached it, as a
 * crash may); after a whole start's resync and a repair to its end, so does every start
 * without one member.  0 when the repair ended before I/O CUT. */
static int
repair_cut_run (enum policy pol, unsigned held, int64_t cut)
{
  struct fx f;
  struct stop_at_io stop = { &f, held, 0, cut, 0, 0 };
  uint64_t seed = 61, size, rot = 3;
  uint8_t *ref = rig (&f, pol, 60), *got, *snap, *col0;
  char what[160];
  int rc;

  snprintf (what, sizeof what, "%s, a repair cut at I/O %lld, e%u.1 held", policy_name[pol],
            (long long) cut, held + 1);
  size = f.a->size;
  got = malloc (size);
  cr_assert_eq (fx_write_ref (f.a, ref, rot * STRIPE + 2 * CHUNK + 1024, 1024, &seed), 0);
  col0 = raid_mem_member_data (f.mm[col_dev (rot, 0)]) + DOFF + rot * CHUNK;
  for (uint32_t b = 0; b < CHUNK; b++)
    ref[rot * STRIPE + b] = col0[b] ^= 0xa5;
  hooks (&f, &stop);
  rc = raid_check (f.a, RAID_CHECK_REPAIR);
  hooks (&f, NULL);
  if (!stop.done) {
    cr_assert_eq (rc, 0, "%s: the repair failed with no stop", what);
    free (got), free (ref);
    fx_free (&f);
    return 0;
  }
  fx_close (&f);
  raid_mem_member_set_down (f.mm[held], 0);
  int repaired = stripe_consistent (&f, rot);
  snap = snapshot (&f);
  for (unsigned m = 0; m < N && logs (pol); m++) {
    char when[256];
    put_back (&f, snap);
    snprintf (when, sizeof when, "%s, next start without e%u.1", what, m + 1);
    cr_assert_not_null (start_without (&f, m, NONE, 0), "%s", when);
    read_all (&f, got, when);
    expect_bytes (got, ref, NULL, ref, size, rot * STRIPE, repaired ? 0 : (uint32_t) STRIPE,
                  m, when);
    fx_close (&f);
  }
  put_back (&f, snap);
  cr_assert_not_null (start_without (&f, NONE, NONE, 0), "%s: the next start", what);
  if (raid_needs_resync (f.a))
    cr_assert_eq (raid_resync (f.a), 0, "%s: the resync", what);
  cr_assert_eq (raid_check (f.a, RAID_CHECK_REPAIR), 0, "%s: a repair to its end", what);
  read_all (&f, got, what);
  expect_bytes (got, ref, NULL, ref, size, 0, 0, NONE, what);
  fx_close (&f);
  free (snap);
  snap = snapshot (&f);
  for (unsigned m = 0; m < N; m++) {
    char when[256];
    put_back (&f, snap);
    snprintf (when, sizeof when, "%s, after the resync and a repair, without e%u.1", what,
              m + 1);
    cr_assert_not_null (start_without (&f, m, NONE, 0), "%s", when);
    read_all (&f, got, when);
    expect_bytes (got, ref, NULL, ref, size, 0, 0, NONE, when);
    fx_close (&f);
  }
  free (snap);
  free (got);
  free (ref);
  fx_free (&f);
  return 1;
}

Test (closing_ppl, every_cut_repair, .timeout = 600)
{
  for (enum policy pol = 0; pol < POL_N; pol++)
    for (unsigned held = 0; held < N; held++) {
      int64_t cut = 0;
      while (repair_cut_run (pol, held, cut))
        cut++;
      cr_assert_geq (cut, N, "%s: a repair of %lld I/Os", policy_name[pol], (long long) cut);
    }
}
Test (closing_ppl, every_cut_write_degraded_on_cached_members_with_the_log, .timeout = 600)
{
  sweep (POL_PPL, 1, 1);
}
Test (closing_ppl, every_cut_write_degraded_on_cached_members_with_the_bitmap, .timeout = 600)
{
  sweep (POL_BITMAP, 1, 1);
}

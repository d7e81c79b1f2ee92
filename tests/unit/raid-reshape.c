/* Growing arrays onto new members, on in-memory members: every level and
 * the level changes a grow allows, with requests running beside the
 * reshape; the data must equal a reference copy throughout, the array must
 * survive the loss of any one member afterwards (redundant levels), and
 * a power cut at any point of the reshape must lose no acknowledged write.
 * Steps here move one new stripe each, so requests meet many windows. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "raid-int.h"

#define CHUNK 4096u
#define ROWS 32u                       /* FX_MEMBER_SIZE holds 32 chunks of data */

struct grow_case {
  enum raid_level level; unsigned n, k, m;
  enum raid_level to; unsigned add;
  unsigned data_chunks;                /* per row after the grow */
};

static const struct grow_case cases[] = {
  { RAID_LEVEL_0, 2, 0, 0, RAID_LEVEL_0, 1, 3 },
  { RAID_LEVEL_1, 2, 0, 0, RAID_LEVEL_5, 1, 2 },
  { RAID_LEVEL_1, 2, 0, 0, RAID_LEVEL_1, 1, 1 },
  { RAID_LEVEL_5, 3, 0, 0, RAID_LEVEL_5, 1, 3 },
  { RAID_LEVEL_5, 3, 0, 0, RAID_LEVEL_5, 2, 4 },
  { RAID_LEVEL_5, 3, 0, 0, RAID_LEVEL_6, 1, 2 },
  { RAID_LEVEL_6, 4, 0, 0, RAID_LEVEL_6, 1, 3 },
  { RAID_LEVEL_10, 4, 0, 0, RAID_LEVEL_10, 1, 0 },   /* 2.5 per row: 80 chunks */
  { RAID_LEVEL_EC, 5, 3, 2, RAID_LEVEL_EC, 1, 4 },
  { RAID_LEVEL_0, 2, 0, 0, RAID_LEVEL_5, 1, 2 },
};
#define N_CASES (sizeof cases / sizeof cases[0])

struct rig {
  struct fx f;
  const struct grow_case *c;
  uint8_t *ref;                        /* the array's bytes, as large as it will grow */
  uint8_t *maybe;                      /* bytes a failed write may have left instead */
  int cut;                             /* a write failed: maybe holds its bytes */
  uint64_t size, seed;
};

/* The array (on the first c->n members), filled with random bytes. */
static void
rig_fill (struct rig *r, const struct grow_case *c)
{
  r->c = c;
  r->seed = 7 + c->n * 31 + c->to;
  r->size = raid_size (r->f.a);
  r->ref = calloc (1, 64 * ROWS * CHUNK);
  r->maybe = calloc (1, 64 * ROWS * CHUNK);
  cr_assert (r->ref && r->maybe);
  fill_random (r->ref, r->size, &r->seed);
  cr_assert_eq (raid_write (r->f.a, r->ref, r->size, 0, 0), 0);
}

/* Case C's array, created with P (a name, data offset or regions of its own) on the first
 * c->n of N members, filled. */
static void
rig_create_with (struct rig *r, const struct raid_params *p, unsigned n,
                 const struct grow_case *c)
{
  char err[256] = "";

  memset (r, 0, sizeof *r);
  fx_members (&r->f, n, FX_MEMBER_SIZE);
  r->f.a = raid_create (p, r->f.mem, c->n, fx_log, &r->f, err, sizeof err);
  cr_assert_not_null (r->f.a, "%s", err);
  rig_fill (r, c);
}

static void
rig_setup (struct rig *r, const struct grow_case *c)
{
  char err[256];

  memset (r, 0, sizeof *r);
  fx_members (&r->f, c->n + c->add, FX_MEMBER_SIZE);
  r->f.n = c->n;
  fx_create_on (&r->f, c->level, c->k, c->m, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  r->f.n = c->n + c->add;
  rig_fill (r, c);
  for (unsigned i = c->n; i < c->n + c->add; i++)
    cr_assert_eq (raid_add_member (r->f.a, &r->f.mem[i], err, sizeof err), 0, "%s", err);
  /* slow enough that requests meet the reshape at every stage */
  raid_set_sync_speed (r->f.a, 0, 1u << 20);
  r->f.a->reshape.step_max = CHUNK;      /* one new stripe per step */
}

static void
rig_free (struct rig *r)
{
  fx_free (&r->f);
  free (r->ref);
  free (r->maybe);
}

static int
rig_grow (struct rig *r, char *err, size_t errlen)
{
  const char *names[4];

  for (unsigned i = 0; i < r->c->add; i++)
    names[i] = r->f.mem[r->c->n + i].ops->name (r->f.mem[r->c->n + i].member);
  return raid_grow (r->f.a, names, r->c->add, r->c->to, err, errlen);
}

/* Every byte equals the reference, or where a write failed, what it wrote. */
static void
rig_verify (struct rig *r, const char *when)
{
  char what[160];

  snprintf (what, sizeof what, "%s: %s of %u -> %s", when, raid_level_name (r->c->level),
            r->c->n, raid_level_name (r->c->to));
  fx_expect_data (r->f.a, r->ref, r->cut ? r->maybe : NULL, r->size, what);
}

static void *
reshape_thread (void *arg)
{
  struct rig *r = arg;
  return (void *) (intptr_t) raid_reshape (r->f.a);
}

/* Random writes and checked reads inside the old size while the reshape
 * runs; returns when it has finished (or I/O fails: a power cut; in the
 * other tests the reshape's result then says what went wrong). */
static int
rig_traffic (struct rig *r, pthread_t th, unsigned *writes)
{
  uint8_t buf[3 * CHUNK];
  void *ret;

  *writes = 0;
  for (int i = 0; i < 4000 && raid_reshape_pending (r->f.a); i++) {
    uint64_t off = rnd (&r->seed) % (r->size / 512) * 512;
    uint32_t len = (1 + rnd (&r->seed) % 24) * 512;
    if (len > r->size - off)
      len = r->size - off;
    if (i % 3 == 0) {
      if (raid_read (r->f.a, buf, len, off) != 0)
        break;                                 /* a power cut */
      cr_assert (memcmp (buf, r->ref + off, len) == 0, "read at %llu during the reshape",
                 (unsigned long long) off);
      continue;
    }
    fill_random (buf, len, &r->seed);
    if (raid_write (r->f.a, buf, len, off, 0) != 0) {
      memcpy (r->maybe + off, buf, len);     /* cut short: old or new bytes */
      r->cut = 1;
      break;
    }
    memcpy (r->ref + off, buf, len);
    ++*writes;
  }
  pthread_join (th, &ret);
  return (int) (intptr_t) ret;
}

/* With redundancy: each member in turn down, and everything still reads. */
static void
rig_check_each_member (struct rig *r)
{
  if (r->c->to == RAID_LEVEL_0)
    return;
  for (unsigned i = 0; i < r->f.n; i++) {
    raid_mem_member_set_down (r->f.mm[i], 1);
    rig_verify (r, "one member down after the grow");
    raid_mem_member_set_down (r->f.mm[i], 0);
  }
}

Test (reshape, every_level_grows_under_load)
{
  for (unsigned ci = 0; ci < N_CASES; ci++) {
    const struct grow_case *c = &cases[ci];
    uint64_t want = c->data_chunks ? (uint64_t) ROWS * c->data_chunks * CHUNK
                                   : (uint64_t) ROWS * 5 / 2 * CHUNK;
    struct raid_status st;
    struct rig r;
    pthread_t th;
    char err[256] = "";

    rig_setup (&r, c);
    cr_assert_eq (rig_grow (&r, err, sizeof err), 0, "grow: %s", err);
    cr_assert_eq (raid_status (r.f.a, &st), 0);
    cr_assert_eq (st.members, c->n + c->add);
    if (c->level == RAID_LEVEL_1 && c->to == RAID_LEVEL_1) {
      /* mirrors: recovery fills the new slot from the spare */
      cr_assert_eq (st.state, RAID_STATE_DEGRADED);
      cr_assert_eq (raid_recover (r.f.a), 0);
    }
    else {
      cr_assert_eq (st.reshape_position, 0);
      cr_assert_eq (st.reshape_from_members, c->n);
      unsigned writes;
      /* Paced (md's speed_limit_max) so that the reshape outlasts the writes it must meet
       * however fast or loaded the machine: unpaced it could end before 20 writes (a -O0
       * build under load had 18). */
      raid_set_sync_speed (r.f.a, 0, 1u << 20);
      pthread_create (&th, NULL, reshape_thread, &r);
      cr_assert_eq (rig_traffic (&r, th, &writes), 0, "%s of %u -> %s: reshape failed",
                    raid_level_name (c->level), c->n, raid_level_name (c->to));
      cr_assert_gt (writes, 20, "only %u writes met the reshape", writes);
    }
    cr_assert_eq (raid_size (r.f.a), want, "%s of %u -> %s of %u: size %llu, want %llu",
                  raid_level_name (c->level), c->n, raid_level_name (c->to), c->n + c->add,
                  (unsigned long long) raid_size (r.f.a), (unsigned long long) want);
    rig_verify (&r, "after the reshape");
    cr_assert_eq (raid_resync (r.f.a), 0);
    /* the new space takes data like the old */
    fill_random (r.ref + r.size, want - r.size, &r.seed);
    cr_assert_eq (raid_write (r.f.a, r.ref + r.size - CHUNK, want - r.size + CHUNK,
                              r.size - CHUNK, 0), 0);
    r.size = want;
    rig_verify (&r, "after writing the new space");
    rig_check_each_member (&r);
    cr_assert_eq (raid_status (r.f.a, &st), 0);
    cr_assert_eq (st.reshape_position, RAID_RESHAPE_NONE);
    cr_assert_eq (st.state, RAID_STATE_CLEAN);
    fx_close (&r.f);
    cr_assert_not_null (fx_assemble (&r.f, 0, err, sizeof err), "assemble: %s", err);
    cr_assert_eq (raid_size (r.f.a), want);
    rig_verify (&r, "reassembled");
    rig_free (&r);
  }
}

/* Several threads, each writing and reading its own lane (every LANES-th chunk), while
 * the reshape moves the windows under them. */
#define LANES 3u

struct lane {
  struct rig *r;
  unsigned lane, writes;             /* writes while the reshape ran */
  uint64_t seed;
  atomic_int *running, *started;     /* lanes under way; the reshape began */
};

static void *
lane_traffic (void *arg)
{
  struct lane *l = arg;
  struct rig *r = l->r;
  uint64_t chunks = r->size / CHUNK;
  uint8_t buf[CHUNK];

  atomic_fetch_add (l->running, 1);
  /* only the turns after the reshape began count: before it, a lane that got the CPU
   * first could spend them all while the test thread slept, then meet nothing */
  for (int i = 0; i < 3000 && (!atomic_load (l->started) || raid_reshape_pending (r->f.a));) {
    int during = atomic_load (l->started);
    i += during;
    uint64_t chunk = (rnd (&l->seed) % (chunks / LANES)) * LANES + l->lane;
    uint32_t at = (uint32_t) (rnd (&l->seed) % (CHUNK / 512)) * 512;
    uint32_t len = CHUNK - at;
    uint64_t off = chunk * CHUNK + at;
    if (i % 2) {
      cr_assert_eq (raid_read (r->f.a, buf, len, off), 0);
      cr_assert (memcmp (buf, r->ref + off, len) == 0, "lane %u: read at %llu", l->lane,
                 (unsigned long long) off);
      continue;
    }
    cr_assert_eq (fx_write_ref (r->f.a, r->ref, off, len, &l->seed), 0);
    l->writes += during && raid_reshape_pending (r->f.a);
  }
  return NULL;
}

Test (reshape, every_level_grows_under_concurrent_load)
{
  for (unsigned ci = 0; ci < N_CASES; ci++) {
    const struct grow_case *c = &cases[ci];
    struct lane lanes[LANES];
    pthread_t th, lt[LANES];
    atomic_int running = 0, started = 0;
    unsigned writes = 0;
    struct rig r;
    char err[256] = "";

    if (c->level == RAID_LEVEL_1 && c->to == RAID_LEVEL_1)
      continue;                          /* no reshape: recovery fills the mirror */
    rig_setup (&r, c);
    /* 1 MiB/s busy or not: the reshape lasts long enough for every lane to meet it */
    raid_set_sync_speed (r.f.a, 1u << 20, 1u << 20);
    cr_assert_eq (rig_grow (&r, err, sizeof err), 0, "grow: %s", err);
    for (unsigned i = 0; i < LANES; i++) {
      lanes[i] = (struct lane) { .r = &r, .lane = i, .seed = 100 + i + ci,
                                 .running = &running, .started = &started };
      pthread_create (&lt[i], NULL, lane_traffic, &lanes[i]);
    }
    while (atomic_load (&running) < (int) LANES)   /* every lane under way first */
      usleep (1000);
    atomic_store (&started, 1);
    pthread_create (&th, NULL, reshape_thread, &r);
    for (unsigned i = 0; i < LANES; i++) {
      pthread_join (lt[i], NULL);
      writes += lanes[i].writes;
    }
    cr_assert_gt (writes, 15, "only %u writes met the reshape", writes);
    void *ret;
    pthread_join (th, &ret);
    cr_assert_eq ((intptr_t) ret, 0, "%s of %u -> %s: reshape failed",
                  raid_level_name (c->level), c->n, raid_level_name (c->to));
    rig_verify (&r, "after a reshape under concurrent load");
    rig_check_each_member (&r);
    rig_free (&r);
  }
}

/* A step holds only its window: a request elsewhere is served while the step is stuck
 * on a slow new member (which the old layout does not use), one inside it waits for
 * the step to end. */
Test (reshape, only_the_window_waits_for_a_step)
{
  static const struct grow_case c = { RAID_LEVEL_5, 3, 0, 0, RAID_LEVEL_5, 1, 3 };
  struct raid_mem_stats ms = { 0 };
  struct raid_status before, after;
  uint8_t buf[CHUNK];
  struct rig r;
  pthread_t th;
  char err[256] = "";
  void *ret;

  rig_setup (&r, &c);
  raid_set_sync_speed (r.f.a, 0, 0);
  cr_assert_eq (rig_grow (&r, err, sizeof err), 0, "grow: %s", err);
  raid_mem_member_stats (r.f.mm[3], NULL, 1);
  raid_mem_member_delay (r.f.mm[3], 300 * 1000);
  pthread_create (&th, NULL, reshape_thread, &r);
  while (ms.writes + ms.flushes == 0) {  /* the first step has reached the new member */
    usleep (1000);
    raid_mem_member_stats (r.f.mm[3], &ms, 0);
  }
  raid_status (r.f.a, &before);
  cr_assert_eq (raid_read (r.f.a, buf, CHUNK, r.size - CHUNK), 0);
  raid_status (r.f.a, &after);
  cr_assert (memcmp (buf, r.ref + r.size - CHUNK, CHUNK) == 0);
  cr_assert_eq (before.reshape_position, 0);
  cr_assert_eq (after.reshape_position, 0, "a read at the end of the array waited for the "
                "step at its start");
  cr_assert_eq (raid_read (r.f.a, buf, CHUNK, 0), 0);
  raid_status (r.f.a, &after);
  cr_assert (memcmp (buf, r.ref, CHUNK) == 0);
  cr_assert_gt (after.reshape_position, 0, "a read inside the step's window did not wait");
  raid_mem_member_delay (r.f.mm[3], 0);
  pthread_join (th, &ret);
  cr_assert_eq ((intptr_t) ret, 0);
  rig_verify (&r, "after the reshape");
  rig_free (&r);
}

/* A power cut after BUDGET member I/Os of the reshape, a restart, the rest
 * of the reshape: every write acknowledged before the cut reads back. */
static int
cut_and_resume (const struct grow_case *c, int64_t budget)
{
  struct rig r;
  pthread_t th;
  char err[256] = "";
  int64_t power = budget;
  unsigned writes;
  int resumed;

  rig_setup (&r, c);
  memcpy (r.maybe, r.ref, r.size);
  cr_assert_eq (rig_grow (&r, err, sizeof err), 0, "grow: %s", err);
  for (unsigned i = 0; i < r.f.n; i++)
    raid_mem_member_power (r.f.mm[i], &power);
  pthread_create (&th, NULL, reshape_thread, &r);
  rig_traffic (&r, th, &writes);
  raid_close (r.f.a);                  /* its superblock writes fail too */
  for (unsigned i = 0; i < r.f.n; i++)
    raid_mem_member_power (r.f.mm[i], NULL);
  cr_assert_not_null (fx_assemble (&r.f, 0, err, sizeof err),
                      "budget %lld: assemble after the cut: %s", (long long) budget, err);
  resumed = raid_reshape_pending (r.f.a);
  if (resumed)
    cr_assert_eq (raid_reshape (r.f.a), 0, "budget %lld: the reshape does not resume",
                  (long long) budget);
  cr_assert_eq (raid_resync (r.f.a), 0);
  rig_verify (&r, "after a power cut and a restart");
  rig_check_each_member (&r);
  rig_free (&r);
  return resumed;
}

Test (reshape, power_cut_loses_no_acknowledged_write)
{
  static const int64_t budgets[] = { 3, 40, 150, 400, 900, 2000, 5000 };
  static const struct grow_case cut_cases[] = {
    { RAID_LEVEL_5, 3, 0, 0, RAID_LEVEL_5, 1, 3 },
    { RAID_LEVEL_1, 2, 0, 0, RAID_LEVEL_5, 1, 2 },
    { RAID_LEVEL_6, 4, 0, 0, RAID_LEVEL_6, 1, 3 },
    { RAID_LEVEL_10, 4, 0, 0, RAID_LEVEL_10, 1, 0 },
  };

  for (unsigned ci = 0; ci < sizeof cut_cases / sizeof cut_cases[0]; ci++) {
    unsigned resumed = 0;
    for (unsigned b = 0; b < sizeof budgets / sizeof budgets[0]; b++)
      resumed += cut_and_resume (&cut_cases[ci], budgets[b]);
    /* most cuts must land inside the reshape, or this tests nothing */
    cr_assert_geq (resumed, 4, "only %u of the cuts came during the reshape", resumed);
  }
}

Test (reshape, refusals_say_why)
{
  static const struct grow_case degraded = { RAID_LEVEL_5, 3, 0, 0, RAID_LEVEL_5, 1, 3 };
  static const struct grow_case sparser = { RAID_LEVEL_5, 4, 0, 0, RAID_LEVEL_10, 1, 0 };
  const char *ghost[] = { "e9.9" };
  struct rig r;
  char err[256] = "";

  rig_setup (&r, &degraded);
  cr_assert_eq (raid_grow (r.f.a, ghost, 1, RAID_LEVEL_5, err, sizeof err), -EINVAL);
  cr_expect (strstr (err, "e9.9 is not a spare"), "%s", err);
  raid_mem_member_set_down (r.f.mm[0], 1);
  cr_assert_eq (rig_grow (&r, err, sizeof err), -EINVAL);
  cr_expect (strstr (err, "degraded"), "%s", err);
  raid_mem_member_set_down (r.f.mm[0], 0);
  cr_assert_eq (raid_grow (r.f.a, (const char *[]) { "e4.1", "e4.1" }, 2, RAID_LEVEL_5, err,
                           sizeof err), -EINVAL);
  cr_expect (strstr (err, "e4.1 is named twice"), "%s", err);
  rig_free (&r);

  rig_setup (&r, &sparser);
  cr_assert_eq (rig_grow (&r, err, sizeof err), -EINVAL);
  cr_expect (strstr (err, "fewer data chunks per row"), "%s", err);
  rig_free (&r);
}

/* A spare smaller than a member must be is refused before anything moves (the reshape
 * would write past its end); raid_grow_check, asked before the spares are added, refuses
 * what raid_grow would and changes nothing when it passes. */
Test (reshape, a_spare_too_small_and_the_check_before_the_spares)
{
  static const struct grow_case c = { RAID_LEVEL_5, 3, 0, 0, RAID_LEVEL_5, 1, 3 };
  struct raid_mem_member *small = raid_mem_member_new ("e7.1", FX_MEMBER_SIZE - 8 * CHUNK);
  struct raid_member m = raid_mem_member (small);
  struct raid_status st;
  struct rig r;
  char err[256] = "";

  rig_setup (&r, &c);
  cr_assert_eq (raid_grow_check (r.f.a, 1, RAID_LEVEL_5, err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_grow_check (r.f.a, 2, RAID_LEVEL_5, err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_grow_check (r.f.a, 0, RAID_LEVEL_5, err, sizeof err), -EINVAL);
  cr_assert_eq (raid_grow_check (r.f.a, 1, RAID_LEVEL_EC, err, sizeof err), -EINVAL);
  cr_expect (strstr (err, "an array becomes ec only by growing an ec array"), "%s", err);
  raid_mem_member_set_down (r.f.mm[0], 1);
  cr_assert_eq (raid_grow_check (r.f.a, 1, RAID_LEVEL_5, err, sizeof err), -EINVAL);
  cr_expect (strstr (err, "degraded"), "%s", err);
  raid_mem_member_set_down (r.f.mm[0], 0);
  cr_assert_eq (raid_status (r.f.a, &st), 0);
  cr_assert (st.members == 3 && !raid_reshape_pending (r.f.a), "the check changed the array");

  /* an add refuses it; the spare e4.1's disk moved onto a smaller one is found at
   * assembly, and kept as a spare that never takes a slot */
  cr_assert_eq (raid_add_member (r.f.a, &m, err, sizeof err), -EINVAL, "%s", err);
  fx_close (&r.f);
  memcpy (raid_mem_member_data (small), raid_mem_member_data (r.f.mm[3]), RAID_DATA_OFFSET);
  struct raid_member members[4] = { r.f.mem[0], r.f.mem[1], r.f.mem[2], m };
  r.f.a = raid_assemble (members, 4, 0, fx_log, &r.f, err, sizeof err);
  cr_assert_not_null (r.f.a, "%s", err);
  cr_assert_eq (raid_status (r.f.a, &st), 0);
  cr_assert_eq (st.spares, 1);
  cr_assert_eq (raid_grow (r.f.a, (const char *[]) { "e7.1" }, 1, RAID_LEVEL_5, err,
                           sizeof err), -EINVAL, "grew onto a spare too small");
  cr_expect (strstr (err, "spare e7.1 is too small: a member needs"), "%s", err);
  cr_assert_eq (raid_status (r.f.a, &st), 0);
  cr_assert (st.members == 3 && !raid_reshape_pending (r.f.a), "the refusal changed the array");
  rig_verify (&r, "after the refusals");
  rig_free (&r);
  raid_mem_member_free (small);
}

/* Each grow moves the data down a chunk: with room for one, a second grow
 * is refused with the reason, and the first's data is intact. */
Test (reshape, grows_until_no_room_is_left)
{
  static const struct grow_case c = { RAID_LEVEL_5, 3, 0, 0, RAID_LEVEL_5, 1, 3 };
  struct raid_params p = { .level = RAID_LEVEL_5, .chunk_bytes = CHUNK, .name = "tight",
                           .flags = RAID_CREATE_ASSUME_CLEAN,
                           .data_offset = RAID_META_END + CHUNK };
  struct rig r;
  char err[256] = "";

  rig_create_with (&r, &p, 5, &c);
  cr_assert_eq (raid_add_member (r.f.a, &r.f.mem[3], err, sizeof err), 0, "%s", err);
  cr_assert_eq (rig_grow (&r, err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_grow (r.f.a, (const char *[]) { "e9.9" }, 1, RAID_LEVEL_5, err,
                           sizeof err), -EINVAL);
  cr_expect (strstr (err, "still running"), "%s", err);
  /* a check refused meanwhile says what to do, as the grow's refusal does */
  cr_expect_str_eq (raid_check_refusal (r.f.a),
                    "a reshape runs: check once it has finished (aoeraid status shows it)");
  cr_assert_eq (raid_reshape (r.f.a), 0);
  rig_verify (&r, "after the first grow");
  cr_assert_eq (raid_resync (r.f.a), 0);
  cr_assert_eq (raid_add_member (r.f.a, &r.f.mem[4], err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_grow (r.f.a, (const char *[]) { "e5.1" }, 1, RAID_LEVEL_5, err,
                           sizeof err), -EINVAL);
  cr_expect (strstr (err, "moves it down one chunk"), "%s", err);
  rig_verify (&r, "after the refused grow");
  rig_free (&r);
}

/* Two members lost mid-reshape: the run stops with EIO, once.  Asked again
 * (the monitor retries), a failed array begins no run: no event pair per try. */
Test (reshape, a_failed_array_begins_no_run)
{
  static const struct grow_case c = { RAID_LEVEL_5, 3, 0, 0, RAID_LEVEL_5, 1, 3 };
  struct raid_status st;
  uint64_t started;
  struct rig r;
  char err[256] = "";

  rig_setup (&r, &c);
  cr_assert_eq (rig_grow (&r, err, sizeof err), 0, "%s", err);
  raid_mem_member_set_down (r.f.mm[0], 1);
  raid_mem_member_set_down (r.f.mm[1], 1);
  cr_assert_eq (raid_reshape (r.f.a), -EIO);
  cr_assert_eq (raid_status (r.f.a, &st), 0);
  cr_assert_eq (st.state, RAID_STATE_FAILED);
  started = st.runs_started[RAID_RUN_RESHAPE];
  cr_assert_eq (started, st.runs_ended[RAID_RUN_RESHAPE]);
  for (int i = 0; i < 3; i++)
    cr_assert_eq (raid_reshape (r.f.a), -EIO);
  cr_assert_eq (raid_status (r.f.a, &st), 0);
  cr_expect_eq (st.runs_started[RAID_RUN_RESHAPE], started, "a failed array began %llu runs",
                (unsigned long long) (st.runs_started[RAID_RUN_RESHAPE] - started));
  cr_expect (raid_reshape_pending (r.f.a), "the reshape is still to finish");
  rig_free (&r);
}

/* Restarted in the middle of a reshape, the array gets its bitmap back when
 * the reshape is done with the regions it had before the grow, read from
 * the old members' bitmap block, not the default 64 MiB. */
Test (reshape, a_restart_keeps_the_bitmap_regions)
{
  static const struct grow_case c = { RAID_LEVEL_5, 3, 0, 0, RAID_LEVEL_5, 1, 3 };
  struct raid_params p = { .level = RAID_LEVEL_5, .chunk_bytes = CHUNK, .name = "regions",
                           .flags = RAID_CREATE_ASSUME_CLEAN, .bitmap_region = 4 * CHUNK };
  struct raid_status st;
  struct rig r;
  char err[256] = "";

  rig_create_with (&r, &p, 4, &c);
  cr_assert_eq (raid_status (r.f.a, &st), 0);
  cr_assert_eq (st.bitmap_region, 4 * CHUNK, "created with regions of %llu",
                (unsigned long long) st.bitmap_region);
  cr_assert_eq (raid_add_member (r.f.a, &r.f.mem[3], err, sizeof err), 0, "%s", err);
  cr_assert_eq (rig_grow (&r, err, sizeof err), 0, "%s", err);
  fx_close (&r.f);                       /* before the reshape moved anything */
  cr_assert_not_null (fx_assemble (&r.f, 0, err, sizeof err), "%s", err);
  cr_assert (raid_reshape_pending (r.f.a));
  cr_assert_eq (raid_reshape (r.f.a), 0);
  cr_assert_eq (raid_status (r.f.a, &st), 0);
  cr_expect_eq (st.bitmap_region, 4 * CHUNK, "the bitmap came back with regions of %llu",
                (unsigned long long) st.bitmap_region);
  rig_verify (&r, "after the restarted reshape");
  rig_free (&r);
}

/* A grow gave the spare its slot, and a crash took that superblock update from the spare
 * alone: its block still says spare, one event behind, and assembly takes it in the slot
 * the others record (recorded_role).  The bitmap is then read from the freshest member,
 * which must be looked for among the slots, not at the spare's role number (a slot
 * thousands past the array's end). */
Test (reshape, a_new_member_that_missed_the_grows_update_is_taken_in_its_slot)
{
  static const struct grow_case c = { RAID_LEVEL_5, 3, 0, 0, RAID_LEVEL_5, 1, 3 };
  struct raid_params p = { .level = RAID_LEVEL_5, .chunk_bytes = CHUNK, .name = "missed",
                           .flags = RAID_CREATE_ASSUME_CLEAN, .bitmap_region = 4 * CHUNK };
  uint8_t *block;
  struct raid_sb sb;
  struct rig r;
  char err[256] = "";

  rig_create_with (&r, &p, 4, &c);
  cr_assert_eq (raid_add_member (r.f.a, &r.f.mem[3], err, sizeof err), 0, "%s", err);
  cr_assert_eq (rig_grow (&r, err, sizeof err), 0, "%s", err);
  fx_close (&r.f);                       /* before the reshape moved anything */
  block = raid_mem_member_data (r.f.mm[3]) + RAID_SB_OFFSET;
  cr_assert_eq (sb_decode (block, &sb, err, sizeof err), RAID_SB_OK, "%s", err);
  cr_assert_eq (sb.role, 3u);
  sb.role = RAID_SB_ROLE_SPARE;          /* the update before, as a spare */
  sb.events--;
  sb_encode (&sb, block);
  cr_assert_not_null (fx_assemble (&r.f, 0, err, sizeof err), "%s", err);
  cr_assert (raid_reshape_pending (r.f.a));
  cr_assert (r.f.a->slot[3].m.ops, "the new member was not taken in its slot");
  cr_assert_eq (raid_reshape (r.f.a), 0);
  rig_verify (&r, "after the reshape with the member that missed the grow's update");
  rig_free (&r);
}

/* A grow to a level without redundancy (a RAID1 of 2 to a RAID0 of 3) drops the write-intent
 * bitmap, as creation gives a RAID0 none: no member of it comes back to be re-added from one,
 * and no resync ever cleared its bits (status showed every region dirty until a restart,
 * and a RAID0 refuses bitmap=none: it was there for good).  Also across a restart in the
 * middle of the reshape. */
Test (reshape, a_grow_to_raid0_drops_the_bitmap)
{
  static const struct grow_case c = { RAID_LEVEL_1, 2, 0, 0, RAID_LEVEL_0, 1, 3 };
  struct raid_params p = { .level = RAID_LEVEL_1, .chunk_bytes = CHUNK, .name = "striped",
                           .flags = RAID_CREATE_ASSUME_CLEAN, .bitmap_region = 4 * CHUNK };
  struct raid_status st;
  struct rig r;
  char err[256] = "";

  for (int restart = 0; restart < 2; restart++) {
    rig_create_with (&r, &p, 3, &c);
    cr_assert_eq (raid_status (r.f.a, &st), 0);
    cr_assert_neq (st.bitmap_bits, 0, "created without a bitmap");
    cr_assert_eq (raid_add_member (r.f.a, &r.f.mem[2], err, sizeof err), 0, "%s", err);
    cr_assert_eq (rig_grow (&r, err, sizeof err), 0, "%s", err);
    cr_assert_eq (raid_status (r.f.a, &st), 0);
    cr_expect_eq (st.reshape_bitmap_region, 0, "a bitmap to come back after the reshape");
    if (restart) {
      fx_close (&r.f);                   /* before the reshape moved anything */
      cr_assert_not_null (fx_assemble (&r.f, 0, err, sizeof err), "%s", err);
      r.f.a->reshape.step_max = CHUNK;
    }
    cr_assert_eq (raid_reshape (r.f.a), 0);
    cr_assert_eq (raid_status (r.f.a, &st), 0);
    cr_expect_eq (st.bitmap_bits, 0, "restart %d: a raid0 kept a bitmap of %llu regions, "
                  "%llu dirty", restart, (unsigned long long) st.bitmap_bits,
                  (unsigned long long) st.bitmap_dirty);
    cr_expect_eq (r.f.a->sb.bitmap_offset, 0, "restart %d: the superblocks name a bitmap",
                  restart);
    fx_close (&r.f);
    cr_assert_not_null (fx_assemble (&r.f, 0, err, sizeof err), "%s", err);
    cr_assert_eq (raid_status (r.f.a, &st), 0);
    cr_expect_eq (st.bitmap_bits, 0, "restart %d: assembled with a bitmap", restart);
    rig_verify (&r, "grown to raid0");
    rig_free (&r);
  }
}

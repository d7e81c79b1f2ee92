/* Random reads and writes of random sizes and offsets against a flat
 * reference buffer, for every level, with members failing at random
 * moments (down, failing writes, going down in mid-request, bad sectors)
 * up to what the layout tolerates.  The contents must always equal the
 * reference: during the run, after it, and after close and reassembly. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "raid-int.h"

struct random_case {
  enum raid_level level;
  unsigned n, k, m;
  uint32_t chunk;
};

static const struct random_case cases[] = {
  { RAID_LEVEL_0, 3, 0, 0, 4096 },
  { RAID_LEVEL_1, 3, 0, 0, 4096 },
  { RAID_LEVEL_10, 4, 0, 0, 4096 },
  { RAID_LEVEL_10, 5, 0, 0, 8192 },
  { RAID_LEVEL_5, 4, 0, 0, 4096 },
  { RAID_LEVEL_5, 6, 0, 0, 8192 },
  { RAID_LEVEL_6, 6, 0, 0, 4096 },
  { RAID_LEVEL_EC, 3, 2, 1, 4096 },
  { RAID_LEVEL_EC, 6, 3, 3, 4096 },
  { RAID_LEVEL_EC, 9, 5, 4, 4096 },
};

struct run {
  struct fx f;
  struct raid_geom g;
  uint8_t failed[RAID_MAX_MEMBERS];
  uint8_t *ref, *buf;
  uint64_t size, seed;
  unsigned failures;         /* members broken */
  unsigned hard;             /* of those, down or failing writes (bad sectors get repaired) */
};

static void
compare (struct run *r, uint32_t len, uint64_t off, const char *when)
{
  uint8_t *got = r->buf + (rnd (&r->seed) & 1) * 16;   /* unaligned buffers too */
  int rc = raid_read (r->f.a, got, len, off);

  cr_assert_eq (rc, 0, "%s: read %u at %llu: %d (%s)", when, len, (unsigned long long) off, rc,
                r->f.last_error);
  if (memcmp (got, r->ref + off, len) != 0) {
    uint32_t at = 0;
    while (got[at] == r->ref[off + at])
      at++;
    cr_assert_fail ("%s: %s: read %u at %llu differs at byte %u", raid_level_name (r->g.level),
                    when, len, (unsigned long long) off, at);
  }
}

/* Break one more member, if the layout can take it. */
static void
fail_one (struct run *r)
{
  unsigned victim = rnd (&r->seed) % r->f.n;
  struct raid_mem_member *mm = r->f.mm[victim];

  if (r->failed[victim])
    return;
  r->failed[victim] = 1;
  if (!geom_survives (&r->g, r->failed)) {
    r->failed[victim] = 0;
    return;
  }
  r->failures++;
  r->hard++;
  switch (rnd (&r->seed) % 4) {
  case 0: raid_mem_member_set_down (mm, 1); break;
  case 1: raid_mem_member_fail (mm, 0, 1); break;
  case 2: raid_mem_member_fail_after (mm, rnd (&r->seed) % 6); break;
  case 3: {
    uint64_t sectors = (FX_MEMBER_SIZE - RAID_DATA_OFFSET) / 512;
    raid_mem_member_bad_range (mm, RAID_DATA_OFFSET + 512 * (rnd (&r->seed) % sectors), 512);
    r->hard--;
    break;
  }
  }
}

static void
random_io (struct run *r, unsigned ops)
{
  uint32_t max = 3 * raid_stripe_bytes (r->f.a);

  for (unsigned op = 0; op < ops; op++) {
    unsigned what = rnd (&r->seed) % 100;
    uint32_t len = 512 * (1 + rnd (&r->seed) % (max / 512));
    uint64_t off;
    if (len > r->size)
      len = r->size;
    off = 512 * (rnd (&r->seed) % ((r->size - len) / 512 + 1));
    if (what < 47) {
      uint8_t *src = r->buf + (rnd (&r->seed) & 1) * 16;
      int rc;
      fill_random (src, len, &r->seed);
      rc = raid_write (r->f.a, src, len, off, 0);
      cr_assert_eq (rc, 0, "%s op %u: write %u at %llu: %d (%s)", raid_level_name (r->g.level),
                    op, len, (unsigned long long) off, rc, r->f.last_error);
      memcpy (r->ref + off, src, len);
    }
    else if (what < 94)
      compare (r, len, off, "random read");
    else if (what < 98 && r->g.level != RAID_LEVEL_0)
      fail_one (r);
    else if (!r->failures)
      cr_assert_eq (raid_resync (r->f.a), 0);
  }
}

static void
run_case (const struct random_case *c, uint64_t seed)
{
  struct run r;
  char err[256];
  struct raid_status st;

  memset (&r, 0, sizeof r);
  r.seed = seed;
  if (getenv ("RAID_TEST_VERBOSE"))
    fprintf (stderr, "case %u (%s n=%u) seed %llu\n", (unsigned) (c - cases),
             raid_level_name (c->level), c->n, (unsigned long long) seed);
  fx_create (&r.f, c->level, c->n, c->k, c->m, c->chunk, 0);   /* not assumed clean */
  cr_assert_eq (geom_init (&r.g, c->level, c->n, c->k, c->m, c->chunk,
                           FX_MEMBER_SIZE - RAID_DATA_OFFSET, err, sizeof err), 0);
  r.size = raid_size (r.f.a);
  r.ref = calloc (1, r.size);
  r.buf = malloc (r.size + 64);

  random_io (&r, 400);
  compare (&r, r.size, 0, "whole array");
  if (!r.failures)
    fx_check_redundancy (&r.f, c->level, r.g.k, r.g.m, r.g.copies, c->chunk, NULL);

  /* Close and assemble again: failed members are stale or unreadable. */
  fx_close (&r.f);
  cr_assert_not_null (fx_assemble (&r.f, 0, err, sizeof err), "%s: reassembly: %s",
                      raid_level_name (c->level), err);
  raid_status (r.f.a, &st);
  if (r.hard)
    cr_expect_eq (st.state, RAID_STATE_DEGRADED, "%s", raid_level_name (c->level));
  else
    cr_expect_neq (st.state, RAID_STATE_FAILED);
  if (getenv ("RAID_TEST_VERBOSE"))
    fprintf (stderr, "%s n=%u seed %llu: %u failures (%u hard)\n", raid_level_name (c->level),
             c->n, (unsigned long long) seed, r.failures, r.hard);
  compare (&r, r.size, 0, "after reassembly");
  random_io (&r, 100);
  compare (&r, r.size, 0, "after more I/O");

  if (c->level == RAID_LEVEL_0) {      /* no redundancy: losing a member stops I/O */
    raid_mem_member_set_down (r.f.mm[1], 1);
    cr_expect_eq (raid_read (r.f.a, r.buf, r.size, 0), -EIO);
  }
  free (r.ref);
  free (r.buf);
  fx_free (&r.f);
}

Test (random, every_level_with_failures, .timeout = 120)
{
  const char *env = getenv ("RAID_RANDOM_ROUNDS"), *only = getenv ("RAID_RANDOM_ONLY");
  unsigned rounds = env ? atoi (env) : 20, ci;
  unsigned long long seed;

  /* Fill fresh heap memory with a pattern: bytes the engine forgets to
   * fill then show up as wrong data instead of lucky zeros. */
  mallopt (M_PERTURB, 0xa5);
  /* RAID_RANDOM_ONLY=case:seed replays one run (the verbose log names them) */
  if (only && sscanf (only, "%u:%llu", &ci, &seed) == 2) {
    run_case (&cases[ci], seed);
    return;
  }

  for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++)
    for (unsigned s = 0; s < rounds; s++)
      run_case (&cases[i], 1000 * i + s + 1);
}

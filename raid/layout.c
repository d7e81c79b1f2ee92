/* Geometry and address mapping for every level: pure functions.
 *
 * Two families cover all levels:
 *  - near (md's raid10 "near" layout): chunk ci has `copies` copies in
 *    consecutive slots ci*copies .. ci*copies+copies-1 of a row-major
 *    sequence over the members.  copies=1 is RAID0, copies=n is RAID1,
 *    copies=2 is RAID10 near-2 (also with an odd member count, as md).
 *  - parity (md left-symmetric, generalised to m parity chunks): stripe s
 *    puts parity j on member (pd+j)%n and data i on (pd+m+i)%n with
 *    pd = n-1 - s%n.  m=1 is md's RAID5 left-symmetric, m=2 is md's RAID6
 *    left-symmetric (P on pd, Q after it), larger m is k+m erasure coding.
 */
#include <stdio.h>
#include <string.h>

#include "raid-int.h"

static int
is_pow2 (uint32_t x)
{
  return x && !(x & (x - 1));
}

static int
check_members (enum raid_level level, unsigned n, unsigned *k, unsigned *m,
               unsigned *copies, char *err, size_t errlen)
{
  unsigned need = 2;

  switch (level) {
  case RAID_LEVEL_0: need = 1; *k = n; *m = 0; *copies = 1; break;   /* 1: a plain volume */
  case RAID_LEVEL_1: *k = 1; *m = 0; *copies = n; break;
  case RAID_LEVEL_10: *k = 1; *m = 0; *copies = 2; break;
  case RAID_LEVEL_5: need = 3; *k = n - 1; *m = 1; *copies = 1; break;
  case RAID_LEVEL_6: need = 4; *k = n - 2; *m = 2; *copies = 1; break;
  case RAID_LEVEL_EC:
    if (*m < 1 || *m > RAID_MAX_PARITY || *k < 1 || *k > RAID_MAX_MEMBERS) {
      snprintf (err, errlen, "erasure coding needs k = 1..%d data and m = 1..%d parity chunks, "
                "got k=%u m=%u", RAID_MAX_MEMBERS, RAID_MAX_PARITY, *k, *m);
      return -1;
    }
    if (*k + *m != n) {
      snprintf (err, errlen, "erasure coding %u+%u needs %u members, got %u: "
                "give k+m members", *k, *m, *k + *m, n);
      return -1;
    }
    need = *k + *m;
    *copies = 1;
    break;
  default:
    snprintf (err, errlen, "unknown RAID level %d: use 0, 1, 5, 6, 10 or ec", (int) level);
    return -1;
  }
  if (n < need || n > RAID_MAX_MEMBERS) {
    snprintf (err, errlen, "%s needs %u to %d members, got %u", raid_level_name (level),
              need, RAID_MAX_MEMBERS, n);
    return -1;
  }
  return 0;
}

int
geom_init (struct raid_geom *g, enum raid_level level, unsigned n, unsigned k,
           unsigned m, uint32_t chunk, uint64_t member_data_bytes,
           char *err, size_t errlen)
{
  memset (g, 0, sizeof *g);
  if (check_members (level, n, &k, &m, &g->copies, err, errlen) == -1)
    return -1;
  if (!is_pow2 (chunk) || chunk < RAID_MIN_CHUNK || chunk > RAID_MAX_CHUNK) {
    snprintf (err, errlen, "chunk size %u is not a power of 2 between %u and %u bytes",
              chunk, RAID_MIN_CHUNK, RAID_MAX_CHUNK);
    return -1;
  }
  g->level = level;
  g->family = m ? RAID_FAMILY_PARITY : RAID_FAMILY_NEAR;
  g->n = n;
  g->k = k;
  g->m = m;
  g->chunk = chunk;
  g->chunk_shift = __builtin_ctz (chunk);
  g->rows = member_data_bytes >> g->chunk_shift;
  if (g->rows == 0) {
    snprintf (err, errlen, "members too small: each needs at least %u bytes after the "
              "%u byte superblock area", chunk, RAID_DATA_OFFSET);
    return -1;
  }
  return 0;
}

uint32_t
geom_md_layout (const struct raid_geom *g)
{
  return g->family == RAID_FAMILY_NEAR ? 0x100 | g->copies : 2;
}

uint64_t
geom_data_chunks (const struct raid_geom *g)
{
  if (g->family == RAID_FAMILY_PARITY)
    return g->rows * g->k;
  return g->rows * g->n / g->copies;
}

uint64_t
geom_lock_unit (const struct raid_geom *g, uint64_t ci)
{
  return g->family == RAID_FAMILY_PARITY ? ci / g->k : ci;
}

struct raid_loc
geom_near (const struct raid_geom *g, uint64_t ci, unsigned c)
{
  uint64_t seq = ci * g->copies + c;
  struct raid_loc l = { .slot = seq % g->n, .row = seq / g->n };
  return l;
}

static unsigned
parity_start (const struct raid_geom *g, uint64_t stripe)
{
  return g->n - 1 - (unsigned) (stripe % g->n);
}

struct raid_loc
geom_data (const struct raid_geom *g, uint64_t stripe, unsigned i)
{
  struct raid_loc l = { .slot = (parity_start (g, stripe) + g->m + i) % g->n, .row = stripe };
  return l;
}

struct raid_loc
geom_parity (const struct raid_geom *g, uint64_t stripe, unsigned j)
{
  struct raid_loc l = { .slot = (parity_start (g, stripe) + j) % g->n, .row = stripe };
  return l;
}

int
geom_survives (const struct raid_geom *g, const uint8_t *missing)
{
  unsigned lost = 0, i, c;

  if (g->family == RAID_FAMILY_PARITY) {
    for (i = 0; i < g->n; i++)
      lost += missing[i] != 0;
    return lost <= g->m;
  }
  /* The copy pattern of chunk ci repeats with a period dividing n. */
  for (i = 0; i < g->n; i++) {
    for (c = 0; c < g->copies; c++)
      if (!missing[geom_near (g, i, c).slot])
        break;
    if (c == g->copies)
      return 0;
  }
  return 1;
}

const char *
raid_level_name (enum raid_level level)
{
  switch (level) {
  case RAID_LEVEL_0: return "raid0";
  case RAID_LEVEL_1: return "raid1";
  case RAID_LEVEL_5: return "raid5";
  case RAID_LEVEL_6: return "raid6";
  case RAID_LEVEL_10: return "raid10";
  case RAID_LEVEL_EC: return "ec";
  }
  return "unknown";
}

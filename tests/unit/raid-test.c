#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "raid-int.h"

/* The members, reference images and snapshots are MiBs each, made and freed for every
 * case of a sweep: glibc maps such a block anew each time (its mmap threshold), every
 * page faulted in again, which was most of a sweep's time (raid-crash 126 s against
 * 11 s kept in the heap).  At program start, so in every test's process. */
__attribute__ ((constructor)) static void
big_blocks_stay_in_the_heap (void)
{
  mallopt (M_MMAP_THRESHOLD, 64 << 20);
  mallopt (M_TRIM_THRESHOLD, 256 << 20);
}

const struct level_case fx_redundant[FX_N_REDUNDANT] = {
  { RAID_LEVEL_1, 2, 1, 0, 2 },
  { RAID_LEVEL_5, 3, 2, 1, 1 },
  { RAID_LEVEL_6, 4, 2, 2, 1 },
  { RAID_LEVEL_10, 4, 1, 0, 2 },
  { RAID_LEVEL_EC, 5, 3, 2, 1 },
};

void
fx_log (void *opaque, int level, const char *msg)
{
  struct fx *f = opaque;

  if (level == RAID_LOG_INFO) {
    size_t used = strlen (f->info);
    snprintf (f->info + used, sizeof f->info - used, "%s\n", msg);
  }
  if (level == RAID_LOG_WARN) {
    snprintf (f->last_warning, sizeof f->last_warning, "%s", msg);
    f->warnings++;
  }
  if (level == RAID_LOG_ERROR) {
    snprintf (f->last_error, sizeof f->last_error, "%s", msg);
    f->errors++;
  }
  if (getenv ("RAID_TEST_VERBOSE"))
    fprintf (stderr, "raid[%d]: %s\n", level, msg);
}

void
fx_members (struct fx *f, unsigned n, uint64_t size)
{
  char name[16];

  memset (f, 0, sizeof *f);
  f->n = n;
  for (unsigned i = 0; i < n; i++) {
    snprintf (name, sizeof name, "e%u.1", i + 1);
    f->mm[i] = raid_mem_member_new (name, size);
    cr_assert_not_null (f->mm[i]);
    f->mem[i] = raid_mem_member (f->mm[i]);
  }
}

struct raid_array *
fx_create_on (struct fx *f, enum raid_level level, unsigned k, unsigned m, uint32_t chunk,
              unsigned flags)
{
  struct raid_params p = { .level = level, .k = k, .m = m, .chunk_bytes = chunk,
                           .name = "test", .flags = flags };
  char err[256] = "";

  f->a = raid_create (&p, f->mem, f->n, fx_log, f, err, sizeof err);
  cr_assert_not_null (f->a, "raid_create: %s", err);
  return f->a;
}

struct raid_array *
fx_create (struct fx *f, enum raid_level level, unsigned n, unsigned k, unsigned m,
           uint32_t chunk, unsigned flags)
{
  fx_members (f, n, FX_MEMBER_SIZE);
  return fx_create_on (f, level, k, m, chunk, flags);
}

struct raid_array *
fx_assemble (struct fx *f, int force, char *err, size_t errlen)
{
  f->a = raid_assemble (f->mem, f->n, force, fx_log, f, err, errlen);
  return f->a;
}

void
fx_close (struct fx *f)
{
  raid_close (f->a);
  f->a = NULL;
}

void
fx_free (struct fx *f)
{
  fx_close (f);
  for (unsigned i = 0; i < f->n; i++)
    raid_mem_member_free (f->mm[i]);
  f->n = 0;
}

void
fx_expect_data (struct raid_array *a, const uint8_t *ref, const uint8_t *alt, uint64_t size,
                const char *when)
{
  uint8_t *buf = malloc (size);

  cr_assert_not_null (buf);
  cr_assert_eq (raid_read (a, buf, size, 0), 0, "%s: read failed", when);
  for (uint64_t o = 0; o < size; o += 512)
    if (memcmp (buf + o, ref + o, 512) && (!alt || memcmp (buf + o, alt + o, 512)))
      cr_assert_fail ("%s: array data differs from the reference at %llu", when,
                      (unsigned long long) o);
  free (buf);
}

uint8_t *
fx_fill (struct raid_array *a, uint64_t *seed)
{
  uint64_t size = raid_size (a);
  uint8_t *ref = malloc (size);

  cr_assert_not_null (ref);
  fill_random (ref, size, seed);
  cr_assert_eq (raid_write (a, ref, size, 0, 0), 0, "filling the array failed");
  return ref;
}

uint8_t *
fx_create_filled (struct fx *f, enum raid_level level, unsigned n, uint64_t member_bytes,
                  uint32_t chunk, uint64_t region)
{
  struct raid_params p = { .level = level, .chunk_bytes = chunk, .name = "vol",
                           .flags = RAID_CREATE_ASSUME_CLEAN, .bitmap_region = region };
  char err[256] = "";
  uint64_t seed = 7;
  uint8_t *ref;

  fx_members (f, n, member_bytes);
  f->a = raid_create (&p, f->mem, n, fx_log, f, err, sizeof err);
  cr_assert_not_null (f->a, "raid_create: %s", err);
  ref = fx_fill (f->a, &seed);
  /* a bit is cleared by the second pass that finds its region idle */
  bitmap_pass (f->a);
  bitmap_pass (f->a);
  return ref;
}

char fx_warnings[8192];

void
fx_log_all (void *opaque, int level, const char *msg)
{
  size_t used = strlen (fx_warnings);

  if (level == RAID_LOG_WARN)
    snprintf (fx_warnings + used, sizeof fx_warnings - used, "%s\n", msg);
  fx_log (opaque, level, msg);
}

struct raid_sb_summary
fx_examined (struct fx *f, unsigned i)
{
  struct raid_sb_summary sb;

  cr_assert_eq (raid_examine (&f->mem[i], &sb), 0);
  cr_assert_eq (sb.state, RAID_SB_OK, "e%u.1: state %d (%s)", i + 1, sb.state, sb.problem);
  return sb;
}

void
fx_write_mark (struct fx *f, uint8_t *ref, uint64_t off)
{
  memset (ref + off, 0x5c, 4096);
  cr_assert_eq (raid_write (f->a, ref + off, 4096, off, 0), 0);
}

void
fx_expect_list (const uint8_t (*uuid)[16], unsigned count, unsigned max, unsigned left,
                const uint8_t kept[16], const char *what)
{
  cr_expect_eq (count, left, "%s: %u entries left", what, count);
  if (left)
    cr_expect (!memcmp (uuid[0], kept, 16), "%s: the sound entry kept", what);
  for (unsigned j = count; j < max; j++)
    cr_expect_eq (uuid[j][3], 0, "%s: entry %u past the count is zero", what, j);
}

int
fx_write_ref (struct raid_array *a, uint8_t *ref, uint64_t off, uint32_t len, uint64_t *seed)
{
  fill_random (ref + off, len, seed);
  return raid_write (a, ref + off, len, off, 0);
}

uint64_t
fx_recover_writes (struct raid_array *a, struct raid_mem_member *mm)
{
  struct raid_mem_stats ms;

  raid_mem_member_stats (mm, NULL, 1);
  cr_assert_eq (raid_recover (a), 0, "the recovery failed");
  raid_mem_member_stats (mm, &ms, 0);
  return ms.write_bytes;
}

void *
fx_writer_main (void *arg)
{
  struct fx_writer *w = arg;

  while (!atomic_load (&w->stop) || w->writes < w->min_writes) {
    uint64_t off = (rnd (&w->seed) % (w->size / 512)) * 512;
    uint32_t len = 512 * (1 + rnd (&w->seed) % 24);
    uint8_t scratch[512 * 24], *buf = w->ref ? w->ref + off : scratch;
    if (len > w->size - off)
      len = w->size - off;
    fill_random (buf, len, &w->seed);
    if (raid_write (w->a, buf, len, off, 0) != 0) {
      atomic_store (&w->failed, 1);
      break;
    }
    w->writes++;
  }
  return NULL;
}

void
fx_writer_start (struct fx_writer *w, void *(*main) (void *), unsigned wait)
{
  cr_assert_eq (pthread_create (&w->thread, NULL, main, w), 0);
  while (atomic_load (&w->writes) < wait && !atomic_load (&w->failed))
    usleep (100);
}

void
fx_writer_stop (struct fx_writer *w)
{
  atomic_store (&w->stop, 1);
  pthread_join (w->thread, NULL);
  cr_assert (!atomic_load (&w->failed), "a write beside the run failed");
}

uint64_t
rnd (uint64_t *seed)
{
  /* splitmix64 */
  uint64_t z = (*seed += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void
fill_random (uint8_t *buf, size_t len, uint64_t *seed)
{
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t) rnd (seed);
}

/* GF(2^8) with md's and ISA-L's polynomial x^8+x^4+x^3+x^2+1, shift and add. */
uint8_t
ref_gf_mul (uint8_t a, uint8_t b)
{
  uint8_t p = 0;

  while (b) {
    if (b & 1)
      p ^= a;
    a = (uint8_t) ((a << 1) ^ (a & 0x80 ? 0x1d : 0));
    b >>= 1;
  }
  return p;
}

uint8_t
ref_gf_inv (uint8_t a)
{
  for (unsigned x = 1; x < 256; x++)
    if (ref_gf_mul (a, (uint8_t) x) == 1)
      return (uint8_t) x;
  return 0;
}

static uint8_t
gf_pow (uint8_t a, unsigned e)
{
  uint8_t r = 1;
  while (e--)
    r = ref_gf_mul (r, a);
  return r;
}

uint8_t
ref_coef (enum raid_level level, unsigned k, unsigned j, unsigned i)
{
  if (level == RAID_LEVEL_EC)          /* Cauchy: 1 / (row ^ column) */
    return ref_gf_inv ((uint8_t) ((k + j) ^ i));
  return gf_pow (gf_pow (2, j), i);    /* P: 1, Q: 2^i (md's syndrome) */
}

/* md left-symmetric: parity rotates down from the last member, data
 * continues after the parity. */
unsigned
ref_data_dev (unsigned n, unsigned m, uint64_t stripe, unsigned i)
{
  unsigned pd = n - 1 - (unsigned) (stripe % n);
  return (pd + m + i) % n;
}

unsigned
ref_parity_dev (unsigned n, unsigned m, uint64_t stripe, unsigned j)
{
  unsigned pd = n - 1 - (unsigned) (stripe % n);
  return (pd + j) % n;
}

void
fx_check_redundancy (struct fx *f, enum raid_level level, unsigned k, unsigned m,
                     unsigned copies, uint32_t chunk, const uint8_t *skip)
{
  /* every row of the members (the smallest of them: a spare may be larger) */
  uint64_t size = UINT64_MAX, rows;

  for (unsigned i = 0; i < f->n; i++)
    if (f->mem[i].ops->size (f->mem[i].member) < size)
      size = f->mem[i].ops->size (f->mem[i].member);
  rows = (size - RAID_DATA_OFFSET) / chunk;
  uint8_t coef[RAID_MAX_PARITY][RAID_MAX_MEMBERS];

  for (unsigned j = 0; j < m; j++)
    for (unsigned i = 0; i < k; i++)
      coef[j][i] = ref_coef (level, k, j, i);
  if (m == 0) {
    /* near layout: copy c of chunk ci at sequence ci*copies+c */
    uint64_t chunks = rows * f->n / copies;
    for (uint64_t ci = 0; ci < chunks; ci++) {
      const uint8_t *first = NULL;
      for (unsigned c = 0; c < copies; c++) {
        uint64_t seq = ci * copies + c;
        unsigned dev = seq % f->n;
        const uint8_t *p = raid_mem_member_data (f->mm[dev]) + RAID_DATA_OFFSET
          + (seq / f->n) * chunk;
        if (skip && skip[dev])
          continue;
        if (!first)
          first = p;
        else
          cr_assert (memcmp (first, p, chunk) == 0, "chunk %llu: copies differ",
                     (unsigned long long) ci);
      }
    }
    return;
  }
  for (uint64_t s = 0; s < rows; s++)
    for (unsigned j = 0; j < m; j++) {
      unsigned i, gone = 0;
      for (i = 0; i < k; i++)
        gone += skip && skip[ref_data_dev (f->n, m, s, i)];
      if (gone)
        break;        /* a lost data chunk: nothing to compare against */
      unsigned pdev = ref_parity_dev (f->n, m, s, j);
      const uint8_t *par = raid_mem_member_data (f->mm[pdev]) + RAID_DATA_OFFSET + s * chunk;
      if (skip && skip[pdev])
        continue;
      for (uint32_t b = 0; b < chunk; b++) {
        uint8_t x = 0;
        for (unsigned i = 0; i < k; i++)
          x ^= ref_gf_mul (coef[j][i], raid_mem_member_data (f->mm[ref_data_dev (f->n, m, s, i)])
                           [RAID_DATA_OFFSET + s * chunk + b]);
        if (x != par[b])
          cr_assert_fail ("stripe %llu parity %u byte %u: member has %02x, expected %02x",
                    (unsigned long long) s, j, b, par[b], x);
      }
    }
}

static void *
late_loop_main (void *arg)
{
  struct fx_late_loop *l = arg;

  while (!atomic_load (&l->stop)) {
    usleep (20000);
    for (unsigned i = 0; i < l->f->n; i++) {
      l->f->mem[i].ops->poll (l->f->mem[i].member);
      atomic_fetch_add (&l->polls, 1);
    }
  }
  return NULL;
}

void
fx_late_loop_start (struct fx_late_loop *l, struct fx *f)
{
  l->f = f;
  atomic_store (&l->stop, 0);
  atomic_store (&l->polls, 0);
  cr_assert_eq (pthread_create (&l->thread, NULL, late_loop_main, l), 0);
}

void
fx_late_loop_stop (struct fx_late_loop *l)
{
  atomic_store (&l->stop, 1);
  pthread_join (l->thread, NULL);
}

/* Mapping for every level against md's published layouts and a reference
 * model: the engine writes each chunk's number into it; the test reads the
 * members' raw bytes where the model says each chunk lives. */
#include <string.h>

#include <criterion/criterion.h>

#include "raid-test.h"

#define CHUNK 4096u

/* Write chunk ci's number in every 8-byte word of it, through the array. */
static void
write_chunk_numbers (struct raid_array *a)
{
  uint64_t chunks = raid_size (a) / CHUNK;
  uint64_t *buf = malloc (CHUNK);

  for (uint64_t ci = 0; ci < chunks; ci++) {
    for (unsigned w = 0; w < CHUNK / 8; w++)
      buf[w] = ci + 1;
    cr_assert_eq (raid_write (a, buf, CHUNK, ci * CHUNK, 0), 0);
  }
  free (buf);
}

/* The chunk number held at member dev, row; 0 for parity or nothing. */
static uint64_t
chunk_at (struct fx *f, unsigned dev, uint64_t row)
{
  uint64_t v;
  memcpy (&v, raid_mem_member_data (f->mm[dev]) + RAID_DATA_OFFSET + row * CHUNK, 8);
  return v;
}

/* Create the array, number its chunks, and compare the members with
 * table[row][dev]: a 1-based chunk number, or 0 for parity. */
static void
expect_table (enum raid_level level, unsigned n, unsigned rows, const unsigned *table)
{
  struct fx f;

  fx_create (&f, level, n, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  write_chunk_numbers (f.a);
  for (unsigned r = 0; r < rows; r++)
    for (unsigned d = 0; d < n; d++) {
      unsigned want = table[r * n + d];
      if (want)
        cr_expect_eq (chunk_at (&f, d, r), want, "%s row %u member %u: chunk %llu, expected %u",
                      raid_level_name (level), r, d, (unsigned long long) chunk_at (&f, d, r), want);
    }
  fx_free (&f);
}

Test (layout, raid5_left_symmetric_md_table)
{
  /* md's left-symmetric picture for 4 disks (D numbered from 1, P = 0):
   *   D0 D1 D2 P / D4 D5 P D3 / D8 P D6 D7 / P D9 D10 D11 */
  static const unsigned t[] = { 1, 2, 3, 0,  5, 6, 0, 4,  9, 0, 7, 8,  0, 10, 11, 12 };
  expect_table (RAID_LEVEL_5, 4, 4, t);
}

Test (layout, raid6_left_symmetric_md_table)
{
  /* md raid6 ALGORITHM_LEFT_SYMMETRIC, 5 disks (P on raid_disks-1-stripe%n,
   * Q after it, data after Q): Q D0 D1 D2 P / D3 D4 D5 P Q / D7 D8 P Q D6 /
   * D11 P Q D9 D10 / P Q D12 D13 D14 */
  static const unsigned t[] = { 0, 1, 2, 3, 0,  4, 5, 6, 0, 0,  8, 9, 0, 0, 7,
                                12, 0, 0, 10, 11,  0, 0, 13, 14, 15 };
  expect_table (RAID_LEVEL_6, 5, 5, t);
}

Test (layout, raid10_near2_md_tables)
{
  /* near=2 on 4 disks: A A B B / C C D D; on 3 disks: A A B / B C C / D D E */
  static const unsigned t4[] = { 1, 1, 2, 2,  3, 3, 4, 4 };
  static const unsigned t3[] = { 1, 1, 2,  2, 3, 3,  4, 4, 5 };
  expect_table (RAID_LEVEL_10, 4, 2, t4);
  expect_table (RAID_LEVEL_10, 3, 3, t3);
}

Test (layout, raid0_and_raid1)
{
  static const unsigned t0[] = { 1, 2, 3,  4, 5, 6 };
  static const unsigned t1[] = { 1, 1, 1,  2, 2, 2 };
  expect_table (RAID_LEVEL_0, 3, 2, t0);
  expect_table (RAID_LEVEL_1, 3, 2, t1);
}

/* Every chunk of every parity geometry sits where the reference model says. */
static void
check_parity_model (enum raid_level level, unsigned n, unsigned k, unsigned m)
{
  struct fx f;
  uint64_t rows = (FX_MEMBER_SIZE - RAID_DATA_OFFSET) / CHUNK;

  fx_create (&f, level, n, k, m, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  k = n - m;
  cr_assert_eq (raid_size (f.a), rows * k * CHUNK);
  cr_assert_eq (raid_stripe_bytes (f.a), k * CHUNK);
  write_chunk_numbers (f.a);
  for (uint64_t s = 0; s < rows; s++)
    for (unsigned i = 0; i < k; i++)
      cr_assert_eq (chunk_at (&f, ref_data_dev (n, m, s, i), s), s * k + i + 1,
                    "n=%u m=%u stripe %llu data %u misplaced", n, m, (unsigned long long) s, i);
  fx_check_redundancy (&f, level, k, m, 1, CHUNK, NULL);
  fx_free (&f);
}

Test (layout, parity_levels_against_model)
{
  for (unsigned n = 3; n <= 7; n++)
    check_parity_model (RAID_LEVEL_5, n, 0, 1);
  for (unsigned n = 4; n <= 8; n++)
    check_parity_model (RAID_LEVEL_6, n, 0, 2);
  for (unsigned m = 1; m <= 4; m++)
    for (unsigned k = 1; k <= 5; k++)
      check_parity_model (RAID_LEVEL_EC, k + m, k, m);
}

Test (layout, near_levels_against_model)
{
  static const struct { enum raid_level level; unsigned n, copies; } cases[] = {
    { RAID_LEVEL_0, 2, 1 }, { RAID_LEVEL_0, 5, 1 }, { RAID_LEVEL_1, 2, 2 },
    { RAID_LEVEL_1, 4, 4 }, { RAID_LEVEL_10, 2, 2 }, { RAID_LEVEL_10, 5, 2 },
    { RAID_LEVEL_10, 6, 2 },
  };
  for (unsigned c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    struct fx f;
    unsigned n = cases[c].n, copies = cases[c].copies;
    uint64_t rows = (FX_MEMBER_SIZE - RAID_DATA_OFFSET) / CHUNK, chunks = rows * n / copies;
    fx_create (&f, cases[c].level, n, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
    cr_assert_eq (raid_size (f.a), chunks * CHUNK);
    write_chunk_numbers (f.a);
    for (uint64_t ci = 0; ci < chunks; ci++)
      for (unsigned k = 0; k < copies; k++) {
        uint64_t seq = ci * copies + k;
        cr_assert_eq (chunk_at (&f, seq % n, seq / n), ci + 1, "level %d n=%u chunk %llu copy %u",
                      cases[c].level, n, (unsigned long long) ci, k);
      }
    fx_free (&f);
  }
}

Test (layout, bad_parameters_get_one_clear_line)
{
  static const struct { struct raid_params p; unsigned n; const char *says; } cases[] = {
    { { .level = RAID_LEVEL_5, .chunk_bytes = 4096 }, 2, "raid5 needs 3" },
    { { .level = RAID_LEVEL_6, .chunk_bytes = 4096 }, 3, "raid6 needs 4" },
    { { .level = RAID_LEVEL_5, .chunk_bytes = 6000 }, 4, "not a power of 2" },
    { { .level = RAID_LEVEL_5, .chunk_bytes = 2048 }, 4, "not a power of 2 between" },
    { { .level = RAID_LEVEL_EC, .k = 3, .m = 2, .chunk_bytes = 4096 }, 4, "needs 5 members" },
    { { .level = RAID_LEVEL_EC, .k = 3, .m = 5, .chunk_bytes = 4096 }, 8, "m = 1..4" },
    { { .level = 7, .chunk_bytes = 4096 }, 4, "unknown RAID level 7" },
    { { .level = RAID_LEVEL_1, .chunk_bytes = 4096,
        .name = "a-name-that-is-far-too-long-for-the-superblock" }, 2, "longer than 32" },
  };
  for (unsigned c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    struct fx f;
    char err[256] = "";
    fx_members (&f, cases[c].n, FX_MEMBER_SIZE);
    f.a = raid_create (&cases[c].p, f.mem, f.n, fx_log, &f, err, sizeof err);
    cr_expect_null (f.a, "case %u accepted", c);
    cr_expect (strstr (err, cases[c].says) != NULL, "case %u: '%s' lacks '%s'", c, err,
               cases[c].says);
    cr_expect (strchr (err, '\n') == NULL);
    fx_free (&f);
  }
}

Test (layout, small_member_is_named)
{
  struct fx f;
  struct raid_params p = { .level = RAID_LEVEL_1, .chunk_bytes = 65536 };
  char err[256] = "";
  struct raid_mem_member *tiny = raid_mem_member_new ("e9.1", RAID_DATA_OFFSET + 4096);

  fx_members (&f, 2, FX_MEMBER_SIZE);
  f.mem[1] = raid_mem_member (tiny);
  cr_expect_null (raid_create (&p, f.mem, 2, fx_log, &f, err, sizeof err));
  cr_expect (strstr (err, "member e9.1 is too small") != NULL, "%s", err);
  raid_mem_member_free (tiny);
  f.mem[1] = raid_mem_member (f.mm[1]);
  fx_free (&f);
}

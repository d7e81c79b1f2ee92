/* Parity: ISA-L's results equal an independent byte-at-a-time computation,
 * and every combination of up to m lost members is reconstructed, both in
 * the codec and through degraded array reads. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "raid-int.h"

#define LEN 4096u

static uint8_t *
aligned (size_t len)
{
  void *p = NULL;
  cr_assert_eq (posix_memalign (&p, 64, len), 0);
  return p;
}

/* Encode random data, compare with the reference, then lose every subset
 * of at most m columns and recover them. */
static void
codec_case (enum raid_level level, unsigned k, unsigned m, uint32_t offset)
{
  struct raid_codec c;
  unsigned n = k + m, i, j;
  uint8_t *cols[RAID_MAX_MEMBERS], *orig[RAID_MAX_MEMBERS];
  uint64_t seed = k * 131 + m;

  cr_assert_eq (codec_init (&c, k, m, level != RAID_LEVEL_EC), 0);
  for (i = 0; i < n; i++) {
    cols[i] = aligned (LEN + offset) + offset;   /* offset: unaligned buffers too */
    orig[i] = malloc (LEN);
  }
  for (i = 0; i < k; i++)
    fill_random (cols[i], LEN, &seed);
  codec_encode (&c, LEN, cols, cols + k);
  for (j = 0; j < m; j++)
    for (uint32_t b = 0; b < LEN; b++) {
      uint8_t x = 0;
      for (i = 0; i < k; i++)
        x ^= ref_gf_mul (ref_coef (level, k, j, i), cols[i][b]);
      cr_assert_eq (cols[k + j][b], x, "%s k=%u m=%u parity %u byte %u", raid_level_name (level),
                    k, m, j, b);
    }
  for (i = 0; i < n; i++)
    memcpy (orig[i], cols[i], LEN);
  for (unsigned mask = 1; mask < (1u << n); mask++) {
    uint8_t valid[RAID_MAX_MEMBERS], want[RAID_MAX_MEMBERS];
    if ((unsigned) __builtin_popcount (mask) > m)
      continue;
    for (i = 0; i < n; i++) {
      valid[i] = !(mask & (1u << i));
      want[i] = !valid[i];
      if (!valid[i])
        memset (cols[i], 0xa5, LEN);
    }
    cr_assert_eq (codec_recover (&c, LEN, cols, valid, want), 0, "k=%u m=%u lost %#x", k, m, mask);
    for (i = 0; i < n; i++)
      cr_assert (memcmp (cols[i], orig[i], LEN) == 0, "%s k=%u m=%u lost %#x: column %u wrong",
                 raid_level_name (level), k, m, mask, i);
  }
  for (i = 0; i < n; i++) {
    free (cols[i] - offset);
    free (orig[i]);
  }
  codec_free (&c);
}

Test (parity, raid5_xor_matches_reference_and_recovers)
{
  for (unsigned k = 2; k <= 6; k++) {
    codec_case (RAID_LEVEL_5, k, 1, 0);
    codec_case (RAID_LEVEL_5, k, 1, 16);
  }
}

Test (parity, raid6_pq_matches_reference_and_recovers)
{
  for (unsigned k = 2; k <= 6; k++) {
    codec_case (RAID_LEVEL_6, k, 2, 0);
    codec_case (RAID_LEVEL_6, k, 2, 16);
  }
}

Test (parity, ec_cauchy_matches_reference_and_recovers)
{
  for (unsigned m = 1; m <= 4; m++)
    for (unsigned k = 1; k <= 6; k++)
      codec_case (RAID_LEVEL_EC, k, m, (k & 1) * 16);
}

Test (parity, fewer_than_k_survivors_is_refused)
{
  struct raid_codec c;
  uint8_t *cols[6], valid[6] = { 1, 0, 0, 0, 1, 1 }, want[6] = { 0, 1, 1, 1, 0, 0 };

  cr_assert_eq (codec_init (&c, 4, 2, 1), 0);
  for (int i = 0; i < 6; i++)
    cols[i] = aligned (LEN);
  cr_expect_eq (codec_recover (&c, LEN, cols, valid, want), -1);
  for (int i = 0; i < 6; i++)
    free (cols[i]);
  codec_free (&c);
}

/* Degraded reads: take down every combination of up to m members of a
 * written array and read everything back. */
static void
degraded_reads (enum raid_level level, unsigned n, unsigned k, unsigned m)
{
  struct fx f;
  uint64_t seed = n * 7 + m, size;
  uint8_t *ref, *got;

  fx_create (&f, level, n, k, m, 4096, RAID_CREATE_ASSUME_CLEAN);
  size = raid_size (f.a);
  ref = fx_fill (f.a, &seed);
  got = malloc (size);
  for (unsigned mask = 1; mask < (1u << n); mask++) {
    if ((unsigned) __builtin_popcount (mask) > m)
      continue;
    for (unsigned i = 0; i < n; i++)
      raid_mem_member_set_down (f.mm[i], !!(mask & (1u << i)));
    memset (got, 0, size);
    cr_assert_eq (raid_read (f.a, got, size, 0), 0, "lost %#x", mask);
    cr_assert (memcmp (got, ref, size) == 0, "%s n=%u: lost %#x: data differs",
               raid_level_name (level), n, mask);
  }
  free (ref);
  free (got);
  fx_free (&f);
}

Test (parity, degraded_reads_every_loss_combination)
{
  degraded_reads (RAID_LEVEL_5, 3, 0, 1);
  degraded_reads (RAID_LEVEL_5, 5, 0, 1);
  degraded_reads (RAID_LEVEL_6, 4, 0, 2);
  degraded_reads (RAID_LEVEL_6, 6, 0, 2);
  degraded_reads (RAID_LEVEL_EC, 5, 2, 3);
  degraded_reads (RAID_LEVEL_EC, 7, 3, 4);
}

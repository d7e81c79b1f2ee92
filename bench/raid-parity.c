/* Parity encode and decode speed of the RAID engine's codec, beside memcpy
 * on the same buffers in the same run.
 *
 *   bench/raid-parity [seconds-per-measure]
 *
 * For RAID5 (4+1), RAID6 (4+2) and 8+3 erasure coding it prints GB/s of
 * data encoded and decoded (m data chunks lost) and the ratio to memcpy of
 * the same data bytes, "hot" (one 64 KiB stripe, in cache) and "cold"
 * (a 64 MiB working set).  The goal: encode at least half of memcpy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raid-int.h"

struct bench_case { const char *name; unsigned k, m; int rs; };

static const struct bench_case cases[] = {
  { "raid5 4+1", 4, 1, 1 },
  { "raid6 4+2", 4, 2, 1 },
  { "ec 8+3", 8, 3, 0 },
};

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The stripes of a working set: (k+m) columns of len bytes each. */
struct set { unsigned stripes, k, m; uint32_t len; uint8_t *mem; };

static uint8_t *
col (struct set *s, unsigned stripe, unsigned c)
{
  return s->mem + ((size_t) stripe * (s->k + s->m) + c) * s->len;
}

enum op { OP_MEMCPY, OP_ENCODE, OP_DECODE };

static void
run_op (struct raid_codec *codec, struct set *s, enum op op, unsigned stripe)
{
  uint8_t *cols[RAID_MAX_MEMBERS], valid[RAID_MAX_MEMBERS], want[RAID_MAX_MEMBERS];
  unsigned n = s->k + s->m, i;

  for (i = 0; i < n; i++) {
    cols[i] = col (s, stripe, i);
    valid[i] = i >= s->m;      /* the first m data chunks are lost */
    want[i] = !valid[i];
  }
  switch (op) {
  case OP_MEMCPY:             /* the same data bytes, copied into the parity area */
    for (i = 0; i < s->k; i++)
      memcpy (cols[s->k + i % s->m], cols[i], s->len);
    break;
  case OP_ENCODE:
    codec_encode (codec, s->len, cols, cols + s->k);
    break;
  case OP_DECODE:
    codec_recover (codec, s->len, cols, valid, want);
    break;
  }
}

/* GB/s of data bytes (k * len per stripe). */
static double
measure (struct raid_codec *codec, struct set *s, enum op op, double seconds)
{
  double start = now (), t;
  uint64_t bytes = 0;
  unsigned stripe = 0;

  do {
    for (unsigned r = 0; r < 64; r++) {
      run_op (codec, s, op, stripe);
      stripe = (stripe + 1) % s->stripes;
      bytes += (uint64_t) s->k * s->len;
    }
    t = now () - start;
  } while (t < seconds);
  return bytes / t / 1e9;
}

int
main (int argc, char **argv)
{
  double seconds = argc > 1 ? atof (argv[1]) : 0.3;
  int below = 0;

  printf ("%-10s %-5s %8s %8s %8s %8s %8s\n", "layout", "set", "memcpy", "encode", "decode",
          "enc/cpy", "dec/cpy");
  for (unsigned c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const struct bench_case *bc = &cases[c];
    struct raid_codec codec;
    uint32_t len = 65536;
    /* hot: one stripe; cold: 64 MiB of data */
    unsigned sets[2] = { 1, (64u << 20) / (bc->k * len) };

    if (codec_init (&codec, bc->k, bc->m, bc->rs) == -1) {
      fprintf (stderr, "raid-parity: out of memory\n");
      return 1;
    }
    for (unsigned w = 0; w < 2; w++) {
      struct set s = { .stripes = sets[w], .k = bc->k, .m = bc->m, .len = len };
      double cpy, enc, dec;
      if (posix_memalign ((void **) &s.mem, 64, (size_t) s.stripes * (bc->k + bc->m) * len)) {
        fprintf (stderr, "raid-parity: out of memory\n");
        return 1;
      }
      for (size_t b = 0; b < (size_t) s.stripes * (bc->k + bc->m) * len; b++)
        s.mem[b] = (uint8_t) (b * 2654435761u >> 13);
      cpy = measure (&codec, &s, OP_MEMCPY, seconds);
      enc = measure (&codec, &s, OP_ENCODE, seconds);
      dec = measure (&codec, &s, OP_DECODE, seconds);
      printf ("%-10s %-5s %8.1f %8.1f %8.1f %8.2f %8.2f\n", bc->name, w ? "cold" : "hot",
              cpy, enc, dec, enc / cpy, dec / cpy);
      below += enc < cpy / 2;
      free (s.mem);
    }
    codec_free (&codec);
  }
  printf ("GB/s of data bytes, 64 KiB chunks, one thread.  goal encode >= 0.5 x memcpy: %s\n",
          below ? "NOT MET in some rows" : "met");
  return 0;
}

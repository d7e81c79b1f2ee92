/* The RAID engine's own cost: sequential full-stripe writes, small
 * (read-modify-write) writes and reads through in-memory members, beside
 * the memcpy the members themselves do, in the same run.
 *
 *   bench/raid-datapath [seconds-per-measure]
 *
 * In-memory members copy every byte once, so "memcpy" (the same bytes
 * copied between the same kind of buffers) is the ceiling; the ratio shows
 * what layout, locking, fan-out and parity add on top.  One thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "raid-bench.h"
#include "raid.h"

#define MEMBER_BYTES (RAID_DATA_OFFSET + 16ull * 1024 * 1024)

struct bench_case { const char *name; enum raid_level level; unsigned n, k, m; };

static const struct bench_case cases[] = {
  { "raid0 x4", RAID_LEVEL_0, 4, 0, 0 },
  { "raid1 x2", RAID_LEVEL_1, 2, 0, 0 },
  { "raid10 x4", RAID_LEVEL_10, 4, 0, 0 },
  { "raid5 4+1", RAID_LEVEL_5, 5, 0, 0 },
  { "raid6 4+2", RAID_LEVEL_6, 6, 0, 0 },
  { "ec 8+3", RAID_LEVEL_EC, 11, 8, 3 },
};

enum op { OP_MEMCPY, OP_WRITE, OP_READ, OP_SMALL_WRITE };

struct step_state {
  struct raid_array *a;
  enum op op;
  uint8_t *buf, *copy_to;
  uint32_t len;
  uint64_t off;
};

/* One request of len bytes, walking the array. */
static unsigned long long
step (void *opaque)
{
  struct step_state *st = opaque;
  uint64_t size = raid_size (st->a);
  int rc = 0;

  if (st->off + st->len > size)
    st->off = 0;
  switch (st->op) {
  case OP_MEMCPY: memcpy (st->copy_to + st->off % ((64u << 20) - st->len), st->buf, st->len); break;
  case OP_WRITE: case OP_SMALL_WRITE: rc = raid_write (st->a, st->buf, st->len, st->off, 0); break;
  case OP_READ: rc = raid_read (st->a, st->buf, st->len, st->off); break;
  }
  if (rc) {
    fprintf (stderr, "raid-datapath: I/O failed: %d\n", rc);
    exit (1);
  }
  /* small writes hop between stripes so every one is a read-modify-write */
  st->off += st->op == OP_SMALL_WRITE ? raid_stripe_bytes (st->a) + st->len : st->len;
  return st->len;
}

/* GB/s of array bytes. */
static double
measure (struct raid_array *a, enum op op, uint8_t *buf, uint8_t *copy_to, uint32_t len,
         double seconds)
{
  struct step_state st = { a, op, buf, copy_to, len, 0 };
  return bench_best_gbs (step, &st, seconds);
}

int
main (int argc, char **argv)
{
  double seconds = argc > 1 ? atof (argv[1]) : 0.3;
  uint8_t *buf = malloc (8u << 20), *copy_to = malloc (64u << 20);

  if (!buf || !copy_to)
    return 1;
  memset (buf, 0x5a, 8u << 20);
  memset (copy_to, 0, 64u << 20);
  printf ("%-10s %8s %8s %8s %8s %8s %8s %8s\n", "layout", "memcpy", "write", "read",
          "4k-write", "wr/cpy", "rd/cpy", "4k/cpy");
  for (unsigned c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const struct bench_case *bc = &cases[c];
    struct raid_mem_member *mm[RAID_MAX_MEMBERS];
    struct raid_member mem[RAID_MAX_MEMBERS];
    struct raid_params p = { .level = bc->level, .k = bc->k, .m = bc->m,
                             .chunk_bytes = 64 * 1024, .flags = RAID_CREATE_ASSUME_CLEAN };
    struct raid_array *a;
    char err[256];
    uint32_t len;
    double cpy, wr, rd, small;

    for (unsigned i = 0; i < bc->n; i++) {
      mm[i] = raid_mem_member_new ("bench", MEMBER_BYTES);
      if (!mm[i])
        return 1;
      mem[i] = raid_mem_member (mm[i]);
      memset (raid_mem_member_data (mm[i]), 0, MEMBER_BYTES);   /* fault the pages in */
    }
    a = raid_create (&p, mem, bc->n, NULL, NULL, err, sizeof err);
    if (!a) {
      fprintf (stderr, "raid-datapath: %s\n", err);
      return 1;
    }
    /* requests of whole stripes, about 1 MiB */
    len = raid_stripe_bytes (a) * (1 + (1u << 20) / raid_stripe_bytes (a));
    cpy = measure (a, OP_MEMCPY, buf, copy_to, len, seconds);
    wr = measure (a, OP_WRITE, buf, copy_to, len, seconds);
    rd = measure (a, OP_READ, buf, copy_to, len, seconds);
    small = measure (a, OP_SMALL_WRITE, buf, copy_to, 4096, seconds);
    printf ("%-10s %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %8.3f\n", bc->name, cpy, wr, rd, small,
            wr / cpy, rd / cpy, small / cpy);
    raid_close (a);
    for (unsigned i = 0; i < bc->n; i++)
      raid_mem_member_free (mm[i]);
  }
  printf ("GB/s of array bytes; 64 KiB chunks; write/read ~1 MiB full-stripe requests; "
          "4k-write: 4 KiB writes into different stripes.\n");
  free (buf);
  free (copy_to);
  return 0;
}

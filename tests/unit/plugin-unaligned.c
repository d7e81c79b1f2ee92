/* Byte-granular writes (plugin/unaligned.c) on an in-memory array: the read-merge-write of
 * a partial sector must not undo an aligned write to the bytes of that sector it does not
 * cover (NBD leaves only the bytes both writes cover undefined). */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "../../plugin/unaligned.h"

#define SECTOR 512u
#define HOLD_BOUND_MS 3000      /* the aligned write waits no longer for the other's reads */

static atomic_int edge_reads;     /* 512-byte reads: the merge write's edge sectors */
static atomic_int aligned_held;   /* the aligned write reached its member (once) */

/* The aligned write (512 bytes) waits at its first member write until the merge write has
 * read both its edge sectors (so read the old sector 0), or HOLD_BOUND_MS when a lock
 * keeps that write from reading at all (the fix: then it reads after this write). */
static void order_hook(void *opaque, enum raid_io_op op, uint64_t offset, uint32_t len)
{
  (void)opaque; (void)offset;
  if (op == RAID_IO_READ && len == SECTOR)
    atomic_fetch_add(&edge_reads, 1);
  if (op != RAID_IO_WRITE || len != SECTOR || atomic_exchange(&aligned_held, 1))
    return;
  for (int ms = 0; ms < HOLD_BOUND_MS && atomic_load(&edge_reads) < 2; ms++)
    usleep(1000);
}

struct aligned_write { struct raid_array *a; int rc; };

static void *aligned_main(void *arg)
{
  struct aligned_write *w = arg;
  uint8_t sector[SECTOR];

  memset(sector, 0xbb, sizeof sector);
  w->rc = unaligned_write(w->a, sector, SECTOR, 0, 0);
  return NULL;
}

Test(unaligned, a_merge_write_keeps_an_aligned_write_to_its_edge_sector, .timeout = 30)
{
  struct fx f;
  struct aligned_write w;
  pthread_t t;
  uint8_t merged[SECTOR], got[2 * SECTOR];

  fx_create(&f, RAID_LEVEL_1, 2, 0, 0, 64 * 1024,
            RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_NO_BITMAP);
  for (unsigned i = 0; i < f.n; i++)
    raid_mem_member_hook(f.mm[i], order_hook, NULL);
  w.a = f.a;
  cr_assert_eq(pthread_create(&t, NULL, aligned_main, &w), 0);
  while (!atomic_load(&aligned_held))           /* it holds its stripe, unwritten */
    usleep(1000);
  /* bytes 100 .. 611: sector 0 from byte 100, sector 1 up to byte 99 (both edges merged) */
  memset(merged, 0xaa, sizeof merged);
  cr_assert_eq(unaligned_write(f.a, merged, SECTOR, 100, 0), 0);
  pthread_join(t, NULL);
  cr_assert_eq(w.rc, 0);
  for (unsigned i = 0; i < f.n; i++)
    raid_mem_member_hook(f.mm[i], NULL, NULL);
  cr_assert_eq(unaligned_read(f.a, got, sizeof got, 0), 0);
  for (unsigned i = 0; i < 100; i++)            /* the aligned write's alone */
    cr_assert_eq(got[i], 0xbb, "byte %u is 0x%02x: the merge write undid the aligned "
                 "write there", i, got[i]);
  for (unsigned i = 2 * SECTOR - 412; i < 2 * SECTOR; i++)
    cr_assert_eq(got[i], 0, "byte %u is 0x%02x: neither write covers it", i, got[i]);
  fx_free(&f);
}

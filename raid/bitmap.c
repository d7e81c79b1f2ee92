/* The write-intent bitmap (md: internal bitmap).  One bit per region of
 * lock units; every member holds the same 4 KiB block at RAID_BITMAP_OFFSET.
 * A write sets its regions' bits, durably on every member, before it
 * touches the data; bits are cleared lazily, only while the array is whole
 * and in sync, once a region has seen no write for a whole pass.  So while
 * a member is away every region it missed stays set, and when it comes back
 * (raid_add_member of the member a slot recorded) only those regions are
 * rebuilt instead of the whole member.
 *
 * A clean bit also means the region is in sync (md's resync with a bitmap):
 * a new array that needs a resync starts with every bit set, and bits are
 * cleared only once the resync is done.  So after a crash only the regions
 * dirty at assembly (bm->unsynced) are resynced; a write since keeps its
 * region in sync.  Version 1 blocks (older aoeraid) left a new array's bits
 * clean before its first resync: there only the regions below the
 * superblock's resync point count as in sync.
 *
 * Block: "aoeraidB" magic, u32 version, u32 shift (units per bit = 1 <<
 * shift), u64 bits, u64 events_cleared, bits from byte 64, crc32c last. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/crc.h>

#include "raid-int.h"

#define BITMAP_VERSION 2          /* 2: clean bits are in sync too (see above) */
enum { O_BM_MAGIC = 0, O_BM_VERSION = 8, O_BM_SHIFT = 12, O_BM_BITS = 16,
       O_BM_EVENTS = 24, O_BM_DATA = 64, O_BM_CRC = RAID_BITMAP_SIZE - 4 };
static const char bm_magic[8] = { 'a', 'o', 'e', 'r', 'a', 'i', 'd', 'B' };

static uint32_t
bm_crc (const uint8_t *block)
{
  return crc32_iscsi ((unsigned char *) block, O_BM_CRC, 0xffffffff);
}

static int
bitmap_alloc (struct raid_bitmap *bm, uint64_t nbits)
{
  bm->nbits = nbits;
  bm->state = calloc (nbits, sizeof *bm->state);
  bm->pending = calloc (nbits, sizeof *bm->pending);
  bm->recent = calloc (nbits, sizeof *bm->recent);
  bm->unsynced = calloc (nbits, sizeof *bm->unsynced);
  bm->block = aligned_alloc (4096, RAID_BITMAP_SIZE);
  if (!bm->state || !bm->pending || !bm->recent || !bm->unsynced || !bm->block) {
    bitmap_free (bm);
    return -ENOMEM;
  }
  return 0;
}

/* Set while no request runs (start-up, the end of a reshape): unsynced is
 * read without atomics. */
static void
bit_set_unsynced (struct raid_bitmap *bm, uint64_t i)
{
  atomic_store (&bm->state[i], BIT_SET);
  bm->unsynced[i] = 1;
}

/* The bits and buffers; the lock lives as long as the array (array.c). */
void
bitmap_free (struct raid_bitmap *bm)
{
  free (bm->state);
  free (bm->pending);
  free (bm->recent);
  free (bm->unsynced);
  free (bm->block);
  bm->state = NULL;
  bm->pending = NULL;
  bm->recent = NULL;
  bm->unsynced = NULL;
  bm->block = NULL;
  bm->nbits = 0;
}

/* Fewest bits per lock unit from SHIFT on that fit UNITS in the block. */
static unsigned
shift_for (uint64_t units, unsigned shift)
{
  while (((units + (1ull << shift) - 1) >> shift) > RAID_BITMAP_MAX_BITS)
    shift++;
  return shift;
}

unsigned
bitmap_shift (struct raid_array *a, uint64_t region_bytes)
{
  unsigned shift = 0;

  if (region_bytes == 0)
    region_bytes = RAID_BITMAP_REGION;
  while (((uint64_t) a->lay.g.chunk << shift) < region_bytes)
    shift++;
  return shift_for (resync_units (a), shift);
}

int
bitmap_create (struct raid_array *a, uint64_t region_bytes)
{
  struct raid_bitmap *bm = &a->bitmap;
  uint64_t units = resync_units (a);
  unsigned shift;

  bm->shift = shift = bitmap_shift (a, region_bytes);
  atomic_store (&bm->events_cleared, a->sb.events);
  return bitmap_alloc (bm, (units + (1ull << shift) - 1) >> shift);
}

int
bitmap_grow (struct raid_array *a, uint64_t old_units)
{
  struct raid_bitmap *bm = &a->bitmap, nb = { 0 };
  uint64_t units = resync_units (a);
  unsigned shift = shift_for (units, bm->shift);

  if (!bm->nbits)
    return 0;
  if (bitmap_alloc (&nb, (units + (1ull << shift) - 1) >> shift) < 0)
    return -ENOMEM;
  for (uint64_t i = 0; i < bm->nbits; i++) {
    uint64_t j = (i << bm->shift) >> shift;
    if (atomic_load (&bm->state[i]) != BIT_CLEAN)
      atomic_store (&nb.state[j], BIT_SET);
    nb.unsynced[j] |= bm->unsynced[i];
  }
  for (uint64_t j = old_units >> shift; j < nb.nbits; j++)
    bit_set_unsynced (&nb, j);
  free (bm->state);
  free (bm->pending);
  free (bm->recent);
  free (bm->unsynced);
  free (bm->block);
  bm->state = nb.state;
  bm->pending = nb.pending;
  bm->recent = nb.recent;
  bm->unsynced = nb.unsynced;
  bm->block = nb.block;
  bm->nbits = nb.nbits;
  bm->shift = shift;
  return 0;
}

void
bitmap_encode (struct raid_bitmap *bm, uint8_t *block)
{
  memset (block, 0, RAID_BITMAP_SIZE);
  memcpy (block + O_BM_MAGIC, bm_magic, 8);
  le_put32 (block, O_BM_VERSION, BITMAP_VERSION);
  le_put32 (block, O_BM_SHIFT, bm->shift);
  le_put64 (block, O_BM_BITS, bm->nbits);
  le_put64 (block, O_BM_EVENTS, atomic_load (&bm->events_cleared));
  for (uint64_t i = 0; i < bm->nbits; i++)
    if (atomic_load (&bm->state[i]) != BIT_CLEAN)     /* clearing: still set on disk */
      block[O_BM_DATA + i / 8] |= (uint8_t) (1u << (i % 8));
  le_put32 (block, O_BM_CRC, bm_crc (block));
}

int
bitmap_block_shift (const uint8_t *block, uint32_t *shift)
{
  uint32_t version = le_get32 (block, O_BM_VERSION);

  *shift = le_get32 (block, O_BM_SHIFT);
  if (!bitmap_magic_at (block) || version < 1 || version > BITMAP_VERSION
      || le_get32 (block, O_BM_CRC) != bm_crc (block) || *shift > 40)
    return -EINVAL;
  return 0;
}

/* A sound block of an array of UNITS lock units: its shift and bits; else -EINVAL. */
static int
block_geometry (const uint8_t *block, uint64_t units, uint32_t *shift, uint64_t *nbits)
{
  *nbits = le_get64 (block, O_BM_BITS);
  if (bitmap_block_shift (block, shift) < 0
      || *nbits != ((units + (1ull << *shift) - 1) >> *shift)
      || *nbits > RAID_BITMAP_MAX_BITS)
    return -EINVAL;
  return 0;
}

/* Is bit I of a sound BLOCK dirty at a start: set, or (a version 1 block, whose new
 * array's bits were clean before its first resync) past RESYNC_OFFSET. */
static int
block_bit_dirty (const uint8_t *block, uint64_t i, uint32_t shift, uint64_t resync_offset)
{
  return (block[O_BM_DATA + i / 8] & (1u << (i % 8)))
    || (le_get32 (block, O_BM_VERSION) == 1 && i >= resync_offset >> shift);
}

int
bitmap_load (struct raid_array *a, const uint8_t *block)
{
  struct raid_bitmap *bm = &a->bitmap;
  uint64_t nbits;
  uint32_t shift;
  int rc;

  if (block_geometry (block, resync_units (a), &shift, &nbits) < 0)
    return -EINVAL;
  bm->shift = shift;
  atomic_store (&bm->events_cleared, le_get64 (block, O_BM_EVENTS));
  rc = bitmap_alloc (bm, nbits);
  if (rc == 0)
    for (uint64_t i = 0; i < nbits; i++)
      if (block_bit_dirty (block, i, shift, a->sb.resync_offset))
        bit_set_unsynced (bm, i);
  return rc;
}

int
bitmap_block_clean (const uint8_t *block, uint64_t units, uint64_t resync_offset)
{
  uint64_t nbits;
  uint32_t shift;

  if (block_geometry (block, units, &shift, &nbits) < 0)
    return 0;
  for (uint64_t i = 0; i < nbits; i++)
    if (block_bit_dirty (block, i, shift, resync_offset))
      return 0;
  return 1;
}

int
bitmap_magic_at (const uint8_t *block)
{
  return memcmp (block + O_BM_MAGIC, bm_magic, 8) == 0;
}

void
bitmap_set_all (struct raid_bitmap *bm)
{
  for (uint64_t i = 0; i < bm->nbits; i++)
    bit_set_unsynced (bm, i);
  atomic_store (&bm->events_cleared, 0);
}

/* Write the block to every working member, flushed before and after where a cache
 * holds writes.  Caller holds bm->lock.  A member that fails it is marked faulty.
 * GATE: the array's poll gate when a request waits on it (it may poll), else NULL. */
void
bitmap_store (struct raid_array *a, struct poll_gate *gate)
{
  struct raid_bitmap *bm = &a->bitmap;
  struct io_batch b;

  if (a->readonly)
    return;
  bitmap_encode (bm, bm->block);
  /* md writes bitmap blocks PREFLUSH|FUA: a bit cleared must not reach the disk before
   * the writes of its region do */
  flush_cached_members (a, gate);
  /* room for every member's write, taken with the array: a write not queued would leave
   * its member's block without the bits this store sets, and a crash then skip the resync
   * of a region written (the write hole); none goes to a replacement (io.c's shadows) */
  batch_init_on (&b, gate, bm->ios, RAID_MAX_MEMBERS);
  for (unsigned i = 0; i < a->lay.g.n; i++) {
    struct raid_slot *s = &a->slot[i];
    if (s->m.ops && !atomic_load (&s->faulty))
      batch_add (&b, s, RAID_IO_WRITE, RAID_BITMAP_OFFSET, RAID_BITMAP_SIZE, bm->block, 0);
  }
  batch_run (&b);
  fail_writers (a, &b);
  /* The flush only once the write has ended: one sent beside it may be carried out first
   * (the write's frame lost and sent again) and leave the block in the shelf's cache. */
  flush_cached_members (a, gate);
  batch_free (&b);
}

void
bitmap_write_begin (struct raid_array *a, uint64_t first, uint64_t last)
{
  struct raid_bitmap *bm = &a->bitmap;
  uint64_t lo, hi, i;
  int need = 0;

  if (!bm->nbits)
    return;
  lo = first >> bm->shift;
  hi = last >> bm->shift;
  /* Count the write in before looking at the bit: a clearing pass that
   * looks at the count after marking the bit either sees this write, or
   * this write sees the bit no longer SET and takes the lock. */
  for (i = lo; i <= hi; i++) {
    atomic_fetch_add (&bm->pending[i], 1);
    if (atomic_load (&bm->state[i]) != BIT_SET)
      need = 1;
  }
  if (!need)
    return;
  pthread_mutex_lock (&bm->lock);
  need = 0;
  for (i = lo; i <= hi; i++)
    if (atomic_load (&bm->state[i]) != BIT_SET) {
      atomic_store (&bm->state[i], BIT_SETTING);
      need = 1;
    }
  if (need)
    bitmap_store (a, &a->poll_gate);
  /* SET once the block is on the members (flushed where a cache holds it): a writer of the
   * region that finds it SET sends its data without waiting */
  for (i = lo; i <= hi; i++)
    if (atomic_load (&bm->state[i]) == BIT_SETTING)
      atomic_store (&bm->state[i], BIT_SET);
  pthread_mutex_unlock (&bm->lock);
}

void
bitmap_write_end (struct raid_array *a, uint64_t first, uint64_t last)
{
  struct raid_bitmap *bm = &a->bitmap;

  if (!bm->nbits)
    return;
  for (uint64_t i = first >> bm->shift; i <= last >> bm->shift; i++) {
    atomic_store (&bm->recent[i], 1);
    atomic_fetch_sub (&bm->pending[i], 1);
  }
}

uint64_t
bitmap_next_unsynced (struct raid_array *a, uint64_t unit, uint64_t units)
{
  struct raid_bitmap *bm = &a->bitmap;

  if (!bm->nbits)
    return unit;
  for (uint64_t i = unit >> bm->shift; i < bm->nbits; i++)
    if (bm->unsynced[i])
      return (i << bm->shift) > unit ? i << bm->shift : unit;
  return units;
}

int
bitmap_unit_unsynced (struct raid_array *a, uint64_t unit)
{
  return !a->bitmap.nbits || a->bitmap.unsynced[unit >> a->bitmap.shift];
}

uint64_t
bitmap_unsynced_bits (struct raid_array *a)
{
  uint64_t n = 0;

  for (uint64_t i = 0; i < a->bitmap.nbits; i++)
    n += a->bitmap.unsynced[i];
  return n;
}

int
bitmap_unit_dirty (struct raid_array *a, uint64_t unit)
{
  struct raid_bitmap *bm = &a->bitmap;

  return !bm->nbits || atomic_load (&bm->state[unit >> bm->shift]) != BIT_CLEAN;
}

uint64_t
bitmap_dirty_bits (struct raid_array *a)
{
  uint64_t n = 0;

  for (uint64_t i = 0; i < a->bitmap.nbits; i++)
    n += atomic_load (&a->bitmap.state[i]) != BIT_CLEAN;
  return n;
}

/* Clear one bit if it saw no write for a pass, none is in flight, and every
 * member is still there.  The last look matters: a write that failed on a
 * member marks it faulty before it counts itself out, so a pass that sees
 * the count at zero and then no member missing knows that no write of this
 * region failed anywhere since the pass began.  Closing (raid_closing) fails
 * no member: the closing itself is looked at instead. */
static int
bit_clear_idle (struct raid_array *a, uint64_t i)
{
  struct raid_bitmap *bm = &a->bitmap;

  if (atomic_load (&bm->state[i]) != BIT_SET || atomic_exchange (&bm->recent[i], 0))
    return 0;
  atomic_store (&bm->state[i], BIT_CLEARING);
  /* closing: a write that failed on a member failed nobody (raid_closing), and the
   * closing is set before the holds end, so before any such write counts itself out */
  if (atomic_load (&bm->pending[i]) || array_degraded (a) || array_closing (a)) {
    atomic_store (&bm->state[i], BIT_SET);
    return 0;
  }
  atomic_store (&bm->state[i], BIT_CLEAN);
  return 1;
}

void
raid_set_bitmap_delay (struct raid_array *a, unsigned ms)
{
  atomic_store (&a->bitmap_delay_ms, ms);
}

unsigned
bitmap_delay_ms (struct raid_array *a)
{
  unsigned ms = atomic_load (&a->bitmap_delay_ms);

  return ms ? ms : RAID_BITMAP_DELAY_MS;
}

void
raid_bitmap_tick (struct raid_array *a)
{
  uint64_t now = now_us ();

  if (!a->bitmap.nbits || now < a->bitmap.next_pass_us)
    return;
  a->bitmap.next_pass_us = now + 1000ull * bitmap_delay_ms (a);
  bitmap_pass (a);
}

uint64_t
bitmap_pass (struct raid_array *a)
{
  struct raid_bitmap *bm = &a->bitmap;
  uint64_t cleared = 0;

  /* A bit may go only while every member holds its region in sync. */
  if (!bm->nbits || array_degraded (a) || array_closing (a)
      || atomic_load (&a->resync_offset) != RAID_RESYNC_DONE)
    return 0;
  pthread_mutex_lock (&bm->lock);     /* nbits: a reshape replaces the bitmap under it */
  for (uint64_t i = 0; i < bm->nbits; i++)
    cleared += bit_clear_idle (a, i);
  if (cleared) {
    pthread_mutex_lock (&a->sb_lock);
    atomic_store (&bm->events_cleared, a->sb.events);
    sb_unlock (a);
    bitmap_store (a, NULL);
  }
  pthread_mutex_unlock (&bm->lock);
  return cleared;
}

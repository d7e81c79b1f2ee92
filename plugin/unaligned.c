/* Byte-granular I/O on a sector-granular array. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "unaligned.h"

#define SECTOR 512u

/* A write of part of a sector reads the sector, merges and writes it back: any write
 * to that sector meanwhile would be undone, also the bytes the partial write does not
 * cover, which must stay the other write's (NBD leaves only the overlap undefined).  So
 * a read-merge-write runs alone among writes (writer side), and aligned writes run
 * together (reader side); writers are preferred, so a steady flow of aligned writes
 * cannot starve one.  Kernel clients write whole sectors only: never the writer side. */
static pthread_rwlock_t merge_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

static int aligned(uint64_t offset, uint32_t count)
{
  return (offset % SECTOR) == 0 && (count % SECTOR) == 0;
}

static void *bounce_alloc(size_t len)
{
  void *p = NULL;
  return posix_memalign(&p, 4096, len) ? NULL : p;
}

int unaligned_read(struct raid_array *a, void *buf, uint32_t count, uint64_t offset)
{
  if (aligned(offset, count))
    return raid_read(a, buf, count, offset);

  uint64_t start = offset & ~(uint64_t)(SECTOR - 1);
  uint64_t end = (offset + count + SECTOR - 1) & ~(uint64_t)(SECTOR - 1);
  char *bounce = bounce_alloc(end - start);
  if (!bounce)
    return -ENOMEM;
  int r = raid_read(a, bounce, end - start, start);
  if (r == 0)
    memcpy(buf, bounce + (offset - start), count);
  free(bounce);
  return r;
}

int unaligned_write(struct raid_array *a, const void *buf, uint32_t count, uint64_t offset,
                    unsigned flags)
{
  if (aligned(offset, count)) {
    pthread_rwlock_rdlock(&merge_lock);
    int r = raid_write(a, buf, count, offset, flags);
    pthread_rwlock_unlock(&merge_lock);
    return r;
  }

  uint64_t start = offset & ~(uint64_t)(SECTOR - 1);
  uint64_t end = (offset + count + SECTOR - 1) & ~(uint64_t)(SECTOR - 1);
  uint32_t len = end - start;
  char *bounce = bounce_alloc(len);
  int r = 0;

  if (!bounce)
    return -ENOMEM;
  pthread_rwlock_wrlock(&merge_lock);
  if (offset != start)
    r = raid_read(a, bounce, SECTOR, start);
  if (r == 0 && (offset + count) != end && (len > SECTOR || offset == start))
    r = raid_read(a, bounce + len - SECTOR, SECTOR, end - SECTOR);
  if (r == 0) {
    memcpy(bounce + (offset - start), buf, count);
    r = raid_write(a, bounce, len, start, flags);
  }
  pthread_rwlock_unlock(&merge_lock);
  free(bounce);
  return r;
}

int unaligned_zero(struct raid_array *a, uint32_t count, uint64_t offset, unsigned flags)
{
  /* Zeros come from one static page run in .bss: no allocation per request. */
  static const char zeros[1024 * 1024];
  int r = 0;

  while (count > 0 && r == 0) {
    /* Up to the next sector boundary first, so the rest goes aligned. */
    uint32_t n = count < sizeof zeros ? count : sizeof zeros;
    if (offset % SECTOR) {
      uint32_t to_boundary = SECTOR - offset % SECTOR;
      n = count < to_boundary ? count : to_boundary;
    } else if (n > SECTOR && n % SECTOR)
      n -= n % SECTOR;
    r = unaligned_write(a, zeros, n, offset, flags);
    offset += n;
    count -= n;
  }
  return r;
}

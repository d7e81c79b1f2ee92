/* Byte-granular I/O on a sector-granular array. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "unaligned.h"

#define SECTOR 512u
#define EDGE_LOCKS 64

/* Two unaligned writes into one sector would each read it, merge and write it back, and
 * the second would undo the first: the read-merge-write of a partial sector holds the lock
 * of that sector (hashed).  An aligned write to the same sector overlaps the unaligned
 * one's bytes, which NBD leaves undefined, so aligned writes take no lock. */
static pthread_mutex_t edge_locks[EDGE_LOCKS] = {
  [0 ... EDGE_LOCKS - 1] = PTHREAD_MUTEX_INITIALIZER
};

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

static void lock_edges(uint64_t first, uint64_t last, pthread_mutex_t **l1, pthread_mutex_t **l2)
{
  unsigned h1 = first % EDGE_LOCKS, h2 = last % EDGE_LOCKS;
  if (h1 > h2) {        /* always in index order: no deadlock between two writers */
    unsigned t = h1; h1 = h2; h2 = t;
  }
  *l1 = &edge_locks[h1];
  *l2 = h2 != h1 ? &edge_locks[h2] : NULL;
  pthread_mutex_lock(*l1);
  if (*l2)
    pthread_mutex_lock(*l2);
}

int unaligned_write(struct raid_array *a, const void *buf, uint32_t count, uint64_t offset,
                    unsigned flags)
{
  if (aligned(offset, count))
    return raid_write(a, buf, count, offset, flags);

  uint64_t start = offset & ~(uint64_t)(SECTOR - 1);
  uint64_t end = (offset + count + SECTOR - 1) & ~(uint64_t)(SECTOR - 1);
  uint32_t len = end - start;
  char *bounce = bounce_alloc(len);
  pthread_mutex_t *l1, *l2;
  int r = 0;

  if (!bounce)
    return -ENOMEM;
  lock_edges(start / SECTOR, end / SECTOR - 1, &l1, &l2);
  if (offset != start)
    r = raid_read(a, bounce, SECTOR, start);
  if (r == 0 && (offset + count) != end && (len > SECTOR || offset == start))
    r = raid_read(a, bounce + len - SECTOR, SECTOR, end - SECTOR);
  if (r == 0) {
    memcpy(bounce + (offset - start), buf, count);
    r = raid_write(a, bounce, len, start, flags);
  }
  if (l2)
    pthread_mutex_unlock(l2);
  pthread_mutex_unlock(l1);
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

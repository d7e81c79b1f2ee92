/* An in-memory member for unit tests, with fault injection.  I/O completes
 * inside submit(), which the member interface allows, or, when deferred,
 * only when the member is polled (as a network member's replies wait in its
 * socket until someone receives them). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "raid.h"

#define MEM_HELD_MAX 64
#define MEM_TRACE_MAX 1024
#define MEM_CACHE_MAX 4096              /* unflushed writes kept; more: the oldest written back */

struct raid_mem_member {
  char name[32];
  uint64_t size;
  uint8_t *data;
  pthread_mutex_t lock;           /* guards the fault settings and counters */
  int fail_reads, fail_writes, down;
  int fenced;                     /* every I/O fails with RAID_EFENCED */
  uint64_t bad_offset;            /* a bad range: reads fail until rewritten */
  uint32_t bad_len;
  unsigned delay_us;
  int defer;                      /* hold completions until poll() */
  int late_writes;                /* held writes land when polled: overtaken by what follows */
  uint8_t *durable;               /* a volatile write cache: what a flush made durable */
  struct mem_cached {             /* the writes since the last flush, oldest first */
    uint64_t offset; uint32_t len; uint8_t *bytes;
  } *cached;
  unsigned ncached;
  raid_mem_hook_fn *hook;         /* called at each submit (a test's trigger) */
  void *hook_opaque;
  int raw_seen;                   /* its bytes were handed out (raid_mem_member_data): the
                                   * next flush copies them all, the cached writes may not
                                   * be all that changed */
  struct mem_completion {
    raid_io_done_fn *done; void *opaque; int err;
    void *late; uint64_t offset; uint32_t len;      /* a write that lands when polled */
  } held[MEM_HELD_MAX];
  unsigned nheld;
  int64_t ios_left;               /* >= 0: go down after this many more I/Os */
  int64_t *power;                 /* shared I/O budget: none applies once it runs out */
  struct raid_mem_stats stats;
  struct raid_mem_op trace[MEM_TRACE_MAX];      /* the first I/Os carried out */
  unsigned ntrace;
};

static int
overlaps (uint64_t a, uint32_t alen, uint64_t b, uint32_t blen)
{
  return alen && blen && a < b + blen && b < a + alen;
}

/* Forget the N oldest cached writes, under the lock. */
static void
cache_drop (struct raid_mem_member *mm, unsigned n)
{
  for (unsigned i = 0; i < n; i++)
    free (mm->cached[i].bytes);
  memmove (mm->cached, mm->cached + n, (mm->ncached - n) * sizeof *mm->cached);
  mm->ncached -= n;
}

/* A write lands in the member's bytes (its cache, when it has one: the write is kept
 * until a flush).  The cache full, its oldest write goes to the disk first, as a disk's
 * cache writes back to make room. */
static void
mem_land (struct raid_mem_member *mm, uint64_t offset, const void *buf, uint32_t len)
{
  pthread_mutex_lock (&mm->lock);
  memcpy (mm->data + offset, buf, len);
  if (mm->durable) {
    uint8_t *bytes = malloc (len);
    if (mm->ncached && (mm->ncached == MEM_CACHE_MAX || !bytes)) {
      struct mem_cached *oldest = &mm->cached[0];
      memcpy (mm->durable + oldest->offset, oldest->bytes, oldest->len);
      cache_drop (mm, 1);
    }
    if (bytes) {
      memcpy (bytes, buf, len);
      mm->cached[mm->ncached++] = (struct mem_cached) { offset, len, bytes };
    } else
      memcpy (mm->durable + offset, buf, len);    /* no room to keep it: as written back */
  }
  pthread_mutex_unlock (&mm->lock);
}

/* Decide the outcome of one I/O and count it, under the lock. */
static int
mem_account (struct raid_mem_member *mm, enum raid_io_op op, uint64_t offset, uint32_t len)
{
  int err = 0;
  int64_t power_left = -1;

  pthread_mutex_lock (&mm->lock);
  if (mm->ios_left == 0)
    mm->down = 1;
  else if (mm->ios_left > 0)
    mm->ios_left--;
  if (mm->fenced)
    err = RAID_EFENCED;
  else if (mm->down
           || (mm->power && (power_left = __atomic_sub_fetch (mm->power, 1, __ATOMIC_SEQ_CST)) < 0))
    err = EIO;
  else if (op != RAID_IO_FLUSH && (offset > mm->size || len > mm->size - offset
                                    || offset % 512 || len % 512))
    err = EINVAL;
  else if (op == RAID_IO_READ && (mm->fail_reads || overlaps (offset, len, mm->bad_offset, mm->bad_len)))
    err = EIO;
  else if (op == RAID_IO_WRITE && mm->fail_writes)
    err = EIO;
  else if (op == RAID_IO_WRITE && overlaps (offset, len, mm->bad_offset, mm->bad_len)
           && offset <= mm->bad_offset && offset + len >= mm->bad_offset + mm->bad_len)
    mm->bad_len = 0;      /* rewritten whole: the sector is remapped */
  if (!err) {
    if (op == RAID_IO_READ) { mm->stats.reads++; mm->stats.read_bytes += len; }
    if (op == RAID_IO_WRITE) { mm->stats.writes++; mm->stats.write_bytes += len; }
    if (op == RAID_IO_FLUSH) mm->stats.flushes++;
    if (op == RAID_IO_FLUSH && mm->durable) {
      /* what has landed, not what is held */
      if (mm->raw_seen)
        memcpy (mm->durable, mm->data, mm->size);
      for (unsigned i = 0; i < mm->ncached && !mm->raw_seen; i++)
        memcpy (mm->durable + mm->cached[i].offset, mm->cached[i].bytes, mm->cached[i].len);
      mm->raw_seen = 0;
      cache_drop (mm, mm->ncached);
    }
    if (mm->ntrace < MEM_TRACE_MAX)
      mm->trace[mm->ntrace++] = (struct raid_mem_op) { op, offset, len, power_left };
  }
  pthread_mutex_unlock (&mm->lock);
  return err;
}

static void
mem_submit (void *member, enum raid_io_op op, uint64_t offset, uint32_t len, void *buf,
            raid_io_done_fn *done, void *opaque)
{
  struct raid_mem_member *mm = member;
  int err;

  if (mm->hook)
    mm->hook (mm->hook_opaque, op, offset, len);
  err = mem_account (mm, op, offset, len);

  if (mm->delay_us)
    usleep (mm->delay_us);
  pthread_mutex_lock (&mm->lock);
  int late = mm->defer && mm->late_writes && !err && op == RAID_IO_WRITE;
  pthread_mutex_unlock (&mm->lock);
  if (!err && op == RAID_IO_READ)
    memcpy (buf, mm->data + offset, len);
  else if (!err && op == RAID_IO_WRITE && !late)
    mem_land (mm, offset, buf, len);
  pthread_mutex_lock (&mm->lock);
  int held = mm->defer && mm->nheld < MEM_HELD_MAX;
  if (held)
    mm->held[mm->nheld++] = (struct mem_completion) { done, opaque, err, late ? buf : NULL,
                                                      offset, len };
  pthread_mutex_unlock (&mm->lock);
  if (late && !held)
    mem_land (mm, offset, buf, len);
  if (!held)
    done (opaque, err);
}

static int
mem_poll (void *member)
{
  struct raid_mem_member *mm = member;
  struct mem_completion held[MEM_HELD_MAX];
  unsigned n;

  pthread_mutex_lock (&mm->lock);
  mm->stats.polls++;
  n = mm->nheld;
  memcpy (held, mm->held, n * sizeof held[0]);
  mm->nheld = 0;
  pthread_mutex_unlock (&mm->lock);
  for (unsigned i = 0; i < n; i++) {
    if (held[i].late)
      mem_land (mm, held[i].offset, held[i].late, held[i].len);
    held[i].done (held[i].opaque, held[i].err);
  }
  return (int) n;
}

static void
mem_sleeping (void *member, int asleep)
{
  struct raid_mem_member *mm = member;

  pthread_mutex_lock (&mm->lock);
  if (asleep)
    mm->stats.sleeps++;
  else
    mm->stats.wakes++;
  pthread_mutex_unlock (&mm->lock);
}

static uint64_t mem_size (void *member) { return ((struct raid_mem_member *) member)->size; }
static const char *mem_name (void *member) { return ((struct raid_mem_member *) member)->name; }

static int
mem_healthy (void *member)
{
  struct raid_mem_member *mm = member;
  int up;

  pthread_mutex_lock (&mm->lock);
  up = !mm->down;
  pthread_mutex_unlock (&mm->lock);
  return up;
}

static int
mem_volatile_cache (void *member)
{
  struct raid_mem_member *mm = member;
  int cache;

  pthread_mutex_lock (&mm->lock);
  cache = mm->durable != NULL;
  pthread_mutex_unlock (&mm->lock);
  return cache;
}

static const struct raid_member_ops mem_ops = {
  .submit = mem_submit, .size = mem_size, .name = mem_name, .healthy = mem_healthy,
  .poll = mem_poll, .sleeping = mem_sleeping, .volatile_cache = mem_volatile_cache,
};

struct raid_mem_member *
raid_mem_member_new (const char *name, uint64_t size)
{
  struct raid_mem_member *mm = calloc (1, sizeof *mm);

  if (!mm)
    return NULL;
  mm->data = calloc (1, size);
  if (!mm->data) {
    free (mm);
    return NULL;
  }
  strncpy (mm->name, name, sizeof mm->name - 1);
  mm->size = size;
  mm->ios_left = -1;
  pthread_mutex_init (&mm->lock, NULL);
  return mm;
}

void
raid_mem_member_free (struct raid_mem_member *mm)
{
  if (!mm)
    return;
  pthread_mutex_destroy (&mm->lock);
  if (mm->cached)
    cache_drop (mm, mm->ncached);
  free (mm->cached);
  free (mm->durable);
  free (mm->data);
  free (mm);
}

struct raid_member
raid_mem_member (struct raid_mem_member *mm)
{
  struct raid_member m = { .ops = &mem_ops, .member = mm };
  return m;
}

uint8_t *
raid_mem_member_data (struct raid_mem_member *mm)
{
  pthread_mutex_lock (&mm->lock);
  mm->raw_seen = 1;
  pthread_mutex_unlock (&mm->lock);
  return mm->data;
}

void
raid_mem_member_fail (struct raid_mem_member *mm, int fail_reads, int fail_writes)
{
  pthread_mutex_lock (&mm->lock);
  mm->fail_reads = fail_reads;
  mm->fail_writes = fail_writes;
  pthread_mutex_unlock (&mm->lock);
}

void
raid_mem_member_fence (struct raid_mem_member *mm, int fenced)
{
  pthread_mutex_lock (&mm->lock);
  mm->fenced = fenced;
  pthread_mutex_unlock (&mm->lock);
}

void
raid_mem_member_set_down (struct raid_mem_member *mm, int down)
{
  pthread_mutex_lock (&mm->lock);
  mm->down = down;
  mm->ios_left = -1;
  pthread_mutex_unlock (&mm->lock);
}

void
raid_mem_member_power (struct raid_mem_member *mm, int64_t *budget)
{
  pthread_mutex_lock (&mm->lock);
  mm->power = budget;
  pthread_mutex_unlock (&mm->lock);
}

void
raid_mem_member_fail_after (struct raid_mem_member *mm, int64_t ios)
{
  pthread_mutex_lock (&mm->lock);
  mm->ios_left = ios;
  pthread_mutex_unlock (&mm->lock);
}

void
raid_mem_member_bad_range (struct raid_mem_member *mm, uint64_t offset, uint32_t len)
{
  pthread_mutex_lock (&mm->lock);
  mm->bad_offset = offset;
  mm->bad_len = len;
  pthread_mutex_unlock (&mm->lock);
}

void
raid_mem_member_delay (struct raid_mem_member *mm, unsigned usec)
{
  mm->delay_us = usec;
}

void
raid_mem_member_hook (struct raid_mem_member *mm, raid_mem_hook_fn *fn, void *opaque)
{
  mm->hook = fn;
  mm->hook_opaque = opaque;
}

void
raid_mem_member_defer (struct raid_mem_member *mm, int defer)
{
  pthread_mutex_lock (&mm->lock);
  mm->defer = defer;
  pthread_mutex_unlock (&mm->lock);
}

void
raid_mem_member_late_writes (struct raid_mem_member *mm, int late)
{
  pthread_mutex_lock (&mm->lock);
  mm->late_writes = late;
  pthread_mutex_unlock (&mm->lock);
}

int
raid_mem_member_cache (struct raid_mem_member *mm, int on)
{
  uint8_t *durable = NULL;
  struct mem_cached *cached = NULL;

  if (on && (!(durable = malloc (mm->size))
             || !(cached = calloc (MEM_CACHE_MAX, sizeof *cached)))) {
    free (durable);
    return -1;
  }
  pthread_mutex_lock (&mm->lock);
  if (durable)
    memcpy (durable, mm->data, mm->size);
  if (mm->cached)
    cache_drop (mm, mm->ncached);
  free (mm->cached);
  free (mm->durable);
  mm->durable = durable;
  mm->cached = cached;
  pthread_mutex_unlock (&mm->lock);
  return 0;
}

void
raid_mem_member_lose_cache (struct raid_mem_member *mm, uint64_t offset, uint64_t len)
{
  pthread_mutex_lock (&mm->lock);
  if (mm->durable && offset < mm->size) {
    len = len < mm->size - offset ? len : mm->size - offset;
    memcpy (mm->data + offset, mm->durable + offset, len);
    /* the cached writes there are lost: should the rest go to the disk later, they
     * carry the durable bytes over that range */
    for (unsigned i = 0; i < mm->ncached; i++) {
      struct mem_cached *w = &mm->cached[i];
      uint64_t from = w->offset > offset ? w->offset : offset;
      uint64_t to = w->offset + w->len < offset + len ? w->offset + w->len : offset + len;
      if (from < to)
        memcpy (w->bytes + (from - w->offset), mm->durable + from, to - from);
    }
  }
  pthread_mutex_unlock (&mm->lock);
}

unsigned
raid_mem_member_power_loss (struct raid_mem_member *mm, uint64_t *seed)
{
  unsigned kept = 0;

  pthread_mutex_lock (&mm->lock);
  if (mm->durable) {
    for (unsigned i = 0; i < mm->ncached; i++) {
      struct mem_cached *w = &mm->cached[i];
      /* splitmix64, as the tests draw their bytes: a seed replays a loss */
      uint64_t z = (*seed += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      if ((z ^ (z >> 31)) & 1) {
        memcpy (mm->durable + w->offset, w->bytes, w->len);
        kept++;
      }
    }
    if (mm->raw_seen)       /* bytes changed by hand since the flush: lost as well */
      memcpy (mm->data, mm->durable, mm->size);
    for (unsigned i = 0; i < mm->ncached && !mm->raw_seen; i++)   /* only they differ */
      memcpy (mm->data + mm->cached[i].offset, mm->durable + mm->cached[i].offset,
              mm->cached[i].len);
    mm->raw_seen = 0;
    cache_drop (mm, mm->ncached);
  }
  pthread_mutex_unlock (&mm->lock);
  return kept;
}

unsigned
raid_mem_member_cached (struct raid_mem_member *mm)
{
  unsigned n;

  pthread_mutex_lock (&mm->lock);
  n = mm->ncached;
  pthread_mutex_unlock (&mm->lock);
  return n;
}

void
raid_mem_member_stats (struct raid_mem_member *mm, struct raid_mem_stats *st, int reset)
{
  pthread_mutex_lock (&mm->lock);
  if (st)
    *st = mm->stats;
  if (reset) {
    memset (&mm->stats, 0, sizeof mm->stats);
    mm->ntrace = 0;
  }
  pthread_mutex_unlock (&mm->lock);
}

unsigned
raid_mem_member_trace (struct raid_mem_member *mm, struct raid_mem_op *out, unsigned max)
{
  unsigned n;

  pthread_mutex_lock (&mm->lock);
  n = mm->ntrace < max ? mm->ntrace : max;
  memcpy (out, mm->trace, n * sizeof *out);
  pthread_mutex_unlock (&mm->lock);
  return n;
}

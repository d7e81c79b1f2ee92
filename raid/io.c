/* Member I/O fan-out and stripe locks.
 *
 * A batch queues the member I/Os of one request phase, submits them all
 * before waiting (so they run in parallel on the members) and waits on one
 * counter.  Completions may arrive on any thread, even inside submit(). */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raid-int.h"

uint64_t
now_us (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

int
poll_gate_open (struct poll_gate *g, unsigned others)
{
  return g && others == 0 && atomic_load (&g->lone_wait_us) < POLL_MAX_US;
}

void
poll_gate_record (struct poll_gate *g, unsigned waited_us)
{
  /* An average over about the last eight lone waits; two waiters racing
   * here lose one sample, which an average can afford. */
  unsigned avg = atomic_load (&g->lone_wait_us);
  atomic_store (&g->lone_wait_us, avg - avg / 8 + waited_us / 8);
}

void
batch_init (struct io_batch *b, struct poll_gate *gate)
{
  b->gate = gate;
  b->pending = b->n = b->own = 0;
  b->ios = b->inline_ios;
  b->cap = BATCH_INLINE;
  b->fixed = 0;
  pthread_mutex_init (&b->lock, NULL);
  pthread_cond_init (&b->cond, NULL);
}

void
batch_init_on (struct io_batch *b, struct poll_gate *gate, struct member_io *ios, unsigned cap)
{
  batch_init (b, gate);
  b->ios = ios;
  b->cap = cap;
  b->fixed = 1;
}

void
batch_reset (struct io_batch *b)
{
  b->n = b->own = 0;
}

void
batch_free (struct io_batch *b)
{
  if (b->ios != b->inline_ios && !b->fixed)
    free (b->ios);
  pthread_mutex_destroy (&b->lock);
  pthread_cond_destroy (&b->cond);
}

/* The array's fault injection (tests only) fails this allocation. */
static int
alloc_refused (const struct alloc_hook *h, enum alloc_site site, size_t bytes)
{
  return h->fail && h->fail (h->opaque, site, bytes);
}

struct member_io *
batch_add (struct io_batch *b, struct raid_slot *slot, enum raid_io_op op,
           uint64_t offset, uint32_t len, void *buf, unsigned tag)
{
  struct member_io *io;

  if (b->n == b->cap && b->fixed)
    return NULL;
  if (b->n == b->cap) {
    unsigned cap = b->cap * 2;
    if (slot->array && alloc_refused (&slot->array->pool.hook, ALLOC_BATCH, cap * sizeof *io))
      return NULL;
    struct member_io *ios = b->ios == b->inline_ios ? malloc (cap * sizeof *ios)
                                                    : realloc (b->ios, cap * sizeof *ios);
    if (!ios)
      return NULL;
    if (b->ios == b->inline_ios)
      memcpy (ios, b->inline_ios, sizeof b->inline_ios);
    b->ios = ios;
    b->cap = cap;
  }
  io = &b->ios[b->n++];
  *io = (struct member_io) { .batch = b, .slot = slot, .op = op, .offset = offset,
                             .len = len, .buf = buf, .tag = tag };
  return io;
}

static void
io_done (void *opaque, int err)
{
  struct member_io *io = opaque;
  struct io_batch *b = io->batch;

  /* before the batch sees it: no I/O is sent after this one */
  if (err == RAID_EFENCED && io->slot->array)
    array_fence (io->slot->array, io->slot);
  io->err = err;
  atomic_fetch_sub (&io->slot->outstanding, 1);
  pthread_mutex_lock (&b->lock);
  io->done = 1;
  if (--b->pending == 0)
    pthread_cond_signal (&b->cond);
  pthread_mutex_unlock (&b->lock);
}

/* The first I/O of the batch not yet completed, or NULL. */
static struct member_io *
first_pending (struct io_batch *b)
{
  struct member_io *io = NULL;

  pthread_mutex_lock (&b->lock);
  for (unsigned i = 0; i < b->n && !io; i++)
    if (!b->ios[i].done)
      io = &b->ios[i];
  pthread_mutex_unlock (&b->lock);
  return io;
}

/* Poll until every I/O of the batch completed, POLL_MAX_US have passed or
 * another request waits too.  One poll per round, on the member of the
 * first I/O still pending: members sharing a receiver (AoE shelves of one
 * initiator) are then not polled once each for the same socket. */
static void
batch_poll (struct io_batch *b, uint64_t start_us)
{
  struct member_io *io;

  while ((io = first_pending (b))) {
    struct raid_member *m = &io->slot->m;
    if (!m->ops || !m->ops->poll)
      return;
    int replies = m->ops->poll (m->member);
    if (now_us () - start_us >= POLL_MAX_US
        || atomic_load (&b->gate->waiters) > 1)     /* company came: sleep */
      return;
    /* The member's server may be runnable on this CPU (a shelf on this
     * host is often woken where its request was sent from): let it run. */
    if (!replies)
      sched_yield ();
  }
}

/* md's replacement: a data write or a flush of a slot being replaced goes to the new
 * member too, as an extra I/O queued after the caller's own (superblocks and bitmap stay
 * the old member's: the new one gets its own when it takes the slot).  batch_wait hides
 * them again, so callers see only their I/Os.  A shadow the batch has no room for (no
 * memory to grow it, or a batch on fixed storage) is sent to the new member here and
 * waited for, before the caller's I/Os start: slot_io takes no memory (one I/O, inline).
 * Slower, but the replace goes on: md's replacement bios come from a mempool, and a
 * failed allocation never fails a device.  Only an I/O the new member fails does. */
static void
add_shadows (struct io_batch *b)
{
  unsigned n = b->n;

  for (unsigned i = 0; i < n; i++) {
    struct member_io io = b->ios[i];       /* a copy: batch_add may move the array */
    struct raid_slot *r = atomic_load (&io.slot->replacement);
    if (!r || atomic_load (&r->faulty) || io.op == RAID_IO_READ
        || (io.op == RAID_IO_WRITE && io.offset < RAID_META_END))
      continue;
    if (!batch_add (b, r, io.op, io.offset, io.len, io.buf, io.tag)
        && slot_io (r, io.op, io.offset, io.len, io.buf) != 0)
      slot_set_faulty (r);                  /* it missed this write */
  }
}

void
batch_start (struct io_batch *b)
{
  b->own = b->n;
  if (b->n == 0)
    return;
  add_shadows (b);
  b->start_us = now_us ();
  b->others = b->gate ? atomic_fetch_add (&b->gate->waiters, 1) : 1;
  pthread_mutex_lock (&b->lock);
  b->pending = b->n;
  pthread_mutex_unlock (&b->lock);
  for (unsigned i = 0; i < b->n; i++) {
    struct member_io *io = &b->ios[i];
    struct raid_member *m = &io->slot->m;

    atomic_fetch_add (&io->slot->outstanding, 1);
    if (!m->ops || atomic_load (&io->slot->faulty) || !m->ops->healthy (m->member))
      io_done (io, ENODEV);
    else if (io->slot->array && array_fenced (io->slot->array))
      io_done (io, RAID_EFENCED);
    else
      m->ops->submit (m->member, io->op, io->offset, io->len, io->buf, io_done, io);
  }
}

static int
io_left_in_cache (const struct member_io *io, int skip_failed)
{
  return !(skip_failed && io->err) && slot_volatile_cache (io->slot);
}

int
batch_left_in_cache (const struct io_batch *b)
{
  for (unsigned i = 0; i < b->n; i++)
    if (b->ios[i].op == RAID_IO_WRITE && io_left_in_cache (&b->ios[i], 1))
      return 1;
  return 0;
}

void
batch_run_flushes (struct io_batch *f, batch_answers_fn *answers, void *opaque)
{
  batch_run (f);
  answers (opaque, f);
  batch_reset (f);
}

void
batch_add_flush (struct io_batch *f, struct raid_slot *s, batch_answers_fn *answers,
                 void *opaque)
{
  if (batch_add (f, s, RAID_IO_FLUSH, 0, 0, NULL, 0))
    return;
  /* F is full and cannot grow: a member left unflushed would lose what the caller needs
   * durable (a log entry before its data), so the flushes queued go first, a round */
  batch_run_flushes (f, answers, opaque);
  batch_add (f, s, RAID_IO_FLUSH, 0, 0, NULL, 0);        /* F is empty: cannot fail */
}

/* An I/O of B before I's left a write in I's member's cache too: one flush serves both. */
static int
flushed_with_earlier (const struct io_batch *b, unsigned i, int skip_failed)
{
  for (unsigned j = 0; j < i; j++)
    if (b->ios[j].slot == b->ios[i].slot && io_left_in_cache (&b->ios[j], skip_failed))
      return 1;
  return 0;
}

void
batch_flush_cached (struct io_batch *b, int skip_failed, batch_answers_fn *answers,
                    void *opaque)
{
  struct io_batch f;
  int queued = 0;

  for (unsigned i = 0; i < b->n; i++) {
    if (!io_left_in_cache (&b->ios[i], skip_failed) || flushed_with_earlier (b, i, skip_failed))
      continue;
    if (!queued)
      batch_init (&f, b->gate);     /* only now: members without a cache cost nothing */
    queued = 1;
    batch_add_flush (&f, b->ios[i].slot, answers, opaque);
  }
  if (queued) {
    batch_run_flushes (&f, answers, opaque);
    batch_free (&f);
  }
}

/* Tell the members of the I/Os still pending that the caller sleeps (ASLEEP 1), or the
 * same members that it woke (0).  Caller holds b->lock. */
static void
tell_sleeping (struct io_batch *b, int asleep)
{
  for (unsigned i = 0; i < b->n; i++) {
    struct member_io *io = &b->ios[i];
    struct raid_member *m = &io->slot->m;
    if (asleep ? io->done || !m->ops || !m->ops->sleeping : !io->asleep)
      continue;
    io->asleep = asleep;
    m->ops->sleeping (m->member, asleep);
  }
}

void
batch_wait (struct io_batch *b)
{
  unsigned i, n = b->own;

  if (n == 0)
    return;
  if (poll_gate_open (b->gate, b->others))
    batch_poll (b, b->start_us);
  pthread_mutex_lock (&b->lock);
  if (b->pending) {
    tell_sleeping (b, 1);
    while (b->pending)
      pthread_cond_wait (&b->cond, &b->lock);
    tell_sleeping (b, 0);
  }
  pthread_mutex_unlock (&b->lock);
  if (b->gate) {
    if (b->others == 0)
      poll_gate_record (b->gate, (unsigned) (now_us () - b->start_us));
    atomic_fetch_sub (&b->gate->waiters, 1);
  }
  /* A new member that missed a write is no replacement (replace.c gives up on it). */
  for (i = n; i < b->n; i++)
    if (b->ios[i].err)
      slot_set_faulty (b->ios[i].slot);
  b->n = n;
}

void
batch_run (struct io_batch *b)
{
  batch_start (b);
  batch_wait (b);
}

void
stripe_locks_init (struct stripe_locks *sl)
{
  for (unsigned i = 0; i < STRIPE_LOCKS; i++)
    pthread_mutex_init (&sl->lock[i], NULL);
}

void
stripe_locks_destroy (struct stripe_locks *sl)
{
  for (unsigned i = 0; i < STRIPE_LOCKS; i++)
    pthread_mutex_destroy (&sl->lock[i]);
}

/* Units hash to buckets by their low bits; a request takes its buckets in
 * ascending bucket order, so two requests never wait on each other in a
 * cycle. */
static void
buckets_of (uint64_t first, uint64_t last, uint8_t want[STRIPE_LOCKS])
{
  memset (want, last - first + 1 >= STRIPE_LOCKS, STRIPE_LOCKS);
  for (uint64_t u = first; u <= last && last - first + 1 < STRIPE_LOCKS; u++)
    want[u % STRIPE_LOCKS] = 1;
}

void
stripe_lock_range (struct stripe_locks *sl, uint64_t first, uint64_t last)
{
  uint8_t want[STRIPE_LOCKS];

  buckets_of (first, last, want);
  for (unsigned i = 0; i < STRIPE_LOCKS; i++)
    if (want[i])
      pthread_mutex_lock (&sl->lock[i]);
}

void
stripe_unlock_range (struct stripe_locks *sl, uint64_t first, uint64_t last)
{
  uint8_t want[STRIPE_LOCKS];

  buckets_of (first, last, want);
  for (unsigned i = STRIPE_LOCKS; i-- > 0;)
    if (want[i])
      pthread_mutex_unlock (&sl->lock[i]);
}

/* Each buffer carries its usable size in a 64-byte header before it. */
#define SCRATCH_HEADER 64

static size_t
scratch_size (void *buf)
{
  size_t size;
  memcpy (&size, (uint8_t *) buf - SCRATCH_HEADER, sizeof size);
  return size;
}

void
scratch_pool_init (struct scratch_pool *p)
{
  memset (p, 0, sizeof *p);
  pthread_mutex_init (&p->lock, NULL);
}

void
scratch_pool_destroy (struct scratch_pool *p)
{
  for (unsigned i = 0; i < p->n; i++)
    free ((uint8_t *) p->buf[i] - SCRATCH_HEADER);
  pthread_mutex_destroy (&p->lock);
}

void *
scratch_get (struct scratch_pool *p, size_t bytes)
{
  void *base = NULL;
  size_t size;

  if (alloc_refused (&p->hook, ALLOC_SCRATCH, bytes))
    return NULL;
  pthread_mutex_lock (&p->lock);
  for (unsigned i = 0; i < p->n; i++)
    if (scratch_size (p->buf[i]) >= bytes) {
      void *buf = p->buf[i];
      p->buf[i] = p->buf[--p->n];
      pthread_mutex_unlock (&p->lock);
      return buf;
    }
  pthread_mutex_unlock (&p->lock);
  /* Round up so that buffers are reused for requests of similar size. */
  size = (bytes + 65535) & ~(size_t) 65535;
  if (posix_memalign (&base, 64, size + SCRATCH_HEADER) != 0)
    return NULL;
  memcpy (base, &size, sizeof size);
  return (uint8_t *) base + SCRATCH_HEADER;
}

void
scratch_put (struct scratch_pool *p, void *buf)
{
  if (!buf)
    return;
  pthread_mutex_lock (&p->lock);
  if (p->n < SCRATCH_POOL) {
    p->buf[p->n++] = buf;
    buf = NULL;
  }
  pthread_mutex_unlock (&p->lock);
  if (buf)
    free ((uint8_t *) buf - SCRATCH_HEADER);
}

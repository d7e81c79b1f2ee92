/* Member I/O fan-out and stripe locks.
 *
 * A batch queues the member I/Os of one request phase, submits them all
 * before waiting (so they run in parallel on the members) and waits on one
 * counter.  Completions may arrive on any thread, even inside submit(). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raid-int.h"

void
batch_init (struct io_batch *b)
{
  memset (b, 0, sizeof *b);
  pthread_mutex_init (&b->lock, NULL);
  pthread_cond_init (&b->cond, NULL);
}

void
batch_reset (struct io_batch *b)
{
  b->n = 0;
}

void
batch_free (struct io_batch *b)
{
  free (b->ios);
  pthread_mutex_destroy (&b->lock);
  pthread_cond_destroy (&b->cond);
}

struct member_io *
batch_add (struct io_batch *b, struct raid_slot *slot, enum raid_io_op op,
           uint64_t offset, uint32_t len, void *buf, unsigned tag)
{
  struct member_io *io;

  if (b->n == b->cap) {
    unsigned cap = b->cap ? b->cap * 2 : 16;
    struct member_io *ios = realloc (b->ios, cap * sizeof *ios);
    if (!ios)
      return NULL;
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

  io->err = err;
  atomic_fetch_sub (&io->slot->outstanding, 1);
  pthread_mutex_lock (&b->lock);
  if (--b->pending == 0)
    pthread_cond_signal (&b->cond);
  pthread_mutex_unlock (&b->lock);
}

void
batch_run (struct io_batch *b)
{
  unsigned i;

  if (b->n == 0)
    return;
  pthread_mutex_lock (&b->lock);
  b->pending = b->n;
  pthread_mutex_unlock (&b->lock);
  for (i = 0; i < b->n; i++) {
    struct member_io *io = &b->ios[i];
    struct raid_member *m = &io->slot->m;

    atomic_fetch_add (&io->slot->outstanding, 1);
    if (!m->ops || atomic_load (&io->slot->faulty) || !m->ops->healthy (m->member))
      io_done (io, ENODEV);
    else
      m->ops->submit (m->member, io->op, io->offset, io->len, io->buf, io_done, io);
  }
  pthread_mutex_lock (&b->lock);
  while (b->pending)
    pthread_cond_wait (&b->cond, &b->lock);
  pthread_mutex_unlock (&b->lock);
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

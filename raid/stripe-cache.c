/* The stripe cache of degraded reads (md keeps whole stripes in its stripe cache).
 *
 * A large read on a degraded parity array that covers one end of a stripe whose data
 * column is down reads and rebuilds the whole stripe, and leaves here the part of it the
 * request did not want.  The request that reads that part next (the next one of a
 * sequential reader, which waits for the stripe's lock meanwhile) copies it from here,
 * so no stripe is read or rebuilt twice.  Without it, 1 MiB reads of a RAID5 of 4 with
 * 1.5 MiB stripes read 4/3 of the data they deliver.
 *
 * Entries hold array bytes, not member bytes, so only a write makes one stale.  A filler
 * reads its stripe and puts the entry while it holds the stripe's lock, and every writer
 * of array bytes or parity (a request, a resync, a repair) drops the entries of the
 * stripes it wrote before it lets go of their locks: an entry never outlives a write.
 * The key holds the layout's geometry and which columns were usable when the stripe was
 * read (a member that came back may hold what parity did not), and a reshape drops
 * everything (no entry is made or served meanwhile). */
#include <stdlib.h>
#include <string.h>

#include "raid-int.h"

void
stripe_cache_init (struct stripe_cache *c)
{
  memset (c, 0, sizeof *c);
  atomic_store (&c->stream_next, UINT64_MAX);       /* no read yet: no stream */
  pthread_mutex_init (&c->lock, NULL);
}

void
stripe_cache_destroy (struct stripe_cache *c)
{
  for (unsigned i = 0; i < STRIPE_CACHE_ENTRIES; i++)
    free (c->e[i].buf);
  pthread_mutex_destroy (&c->lock);
}

static int
same_key (const struct stripe_key *a, const struct stripe_key *b)
{
  return a->stripe == b->stripe && a->usable == b->usable && a->g.level == b->g.level
    && a->g.n == b->g.n && a->g.k == b->g.k && a->g.m == b->g.m && a->g.chunk == b->g.chunk
    && a->g.rows == b->g.rows;
}

static void
drop (struct stripe_cache *c, struct stripe_cache_entry *e)
{
  if (e->hi > e->lo)
    atomic_fetch_sub (&c->live, 1);
  e->lo = e->hi = 0;
}

void
stripe_cache_invalidate (struct stripe_cache *c, uint64_t first, uint64_t last)
{
  /* An entry of these stripes could only be put under their locks, which the caller
   * holds: with none live there is none to drop, and no mutex to take. */
  if (atomic_load (&c->live) == 0)
    return;
  pthread_mutex_lock (&c->lock);
  for (unsigned i = 0; i < STRIPE_CACHE_ENTRIES; i++)
    if (c->e[i].key.stripe >= first && c->e[i].key.stripe <= last)
      drop (c, &c->e[i]);
  pthread_mutex_unlock (&c->lock);
}

void
stripe_cache_flush (struct stripe_cache *c)
{
  pthread_mutex_lock (&c->lock);
  for (unsigned i = 0; i < STRIPE_CACHE_ENTRIES; i++)
    drop (c, &c->e[i]);
  pthread_mutex_unlock (&c->lock);
}

/* Bytes of one stripe's data, or 0 when the cache does not keep stripes this big. */
uint64_t
stripe_cache_stripe_bytes (const struct raid_geom *g)
{
  uint64_t bytes = (uint64_t) g->k * g->chunk;
  return g->family == RAID_FAMILY_PARITY && bytes <= STRIPE_CACHE_MAX_STRIPE ? bytes : 0;
}

int
stripe_cache_get (struct stripe_cache *c, const struct stripe_key *key, uint64_t lo,
                  uint64_t hi, uint8_t *dst)
{
  int found = 0;

  if (atomic_load (&c->live) == 0)
    return 0;
  pthread_mutex_lock (&c->lock);
  for (unsigned i = 0; i < STRIPE_CACHE_ENTRIES && !found; i++) {
    struct stripe_cache_entry *e = &c->e[i];
    if (e->hi > e->lo && same_key (&e->key, key) && e->lo <= lo && hi <= e->hi) {
      memcpy (dst, e->buf + (lo - e->lo), hi - lo);
      e->used = ++c->tick;
      found = 1;
      /* Its reader took all it held: the part a filler kept is what one neighbour
       * wants, once.  Kept, it would look recently used and push out an entry whose
       * reader is still to come. */
      if (lo == e->lo && hi == e->hi)
        drop (c, e);
    }
  }
  pthread_mutex_unlock (&c->lock);
  return found;
}

/* The entries stripes of BYTES may use: all, or fewer for wide ones. */
static unsigned
entries_for (uint64_t bytes)
{
  uint64_t n = STRIPE_CACHE_BYTES / bytes;
  return n < STRIPE_CACHE_ENTRIES ? (unsigned) n : STRIPE_CACHE_ENTRIES;
}

/* The entries past the first N give their memory back: a reshape to wider stripes
 * (which dropped every entry) would otherwise keep the narrower ones' buffers too. */
static void
trim (struct stripe_cache *c, unsigned n)
{
  for (unsigned i = n; i < STRIPE_CACHE_ENTRIES; i++)
    if (c->e[i].cap) {
      drop (c, &c->e[i]);
      free (c->e[i].buf);
      c->e[i].buf = NULL;
      c->e[i].cap = 0;
    }
}

/* The entry to fill, of the first N: one already holding the stripe, else an empty one,
 * else the least recently used. */
static struct stripe_cache_entry *
victim (struct stripe_cache *c, uint64_t stripe, unsigned n)
{
  struct stripe_cache_entry *v = &c->e[0];

  for (unsigned i = 0; i < n; i++) {
    struct stripe_cache_entry *e = &c->e[i];
    if (e->hi > e->lo && e->key.stripe == stripe)
      return e;
    if (e->hi <= e->lo || e->used < v->used)
      v = e;
  }
  return v;
}

void
stripe_cache_put (struct stripe_cache *c, const struct stripe_key *key, uint64_t lo,
                  uint64_t hi, uint8_t *const cols[])
{
  uint64_t bytes = stripe_cache_stripe_bytes (&key->g);
  struct stripe_cache_entry *e;

  if (hi <= lo || !bytes)       /* a stripe too wide to keep */
    return;
  pthread_mutex_lock (&c->lock);
  trim (c, entries_for (bytes));
  e = victim (c, key->stripe, entries_for (bytes));
  drop (c, e);
  if (e->cap < bytes) {
    /* once per entry and geometry: every entry grows to a whole stripe */
    uint8_t *buf = realloc (e->buf, bytes);
    if (!buf) {
      pthread_mutex_unlock (&c->lock);
      return;
    }
    e->buf = buf;
    e->cap = bytes;
  }
  for (uint64_t at = lo; at < hi;) {
    uint64_t col = at / key->g.chunk, within = at % key->g.chunk;
    uint64_t len = key->g.chunk - within < hi - at ? key->g.chunk - within : hi - at;
    memcpy (e->buf + (at - lo), cols[col] + within, len);
    at += len;
  }
  e->key = *key;
  e->lo = lo;
  e->hi = hi;
  e->used = ++c->tick;
  atomic_fetch_add (&c->live, 1);
  pthread_mutex_unlock (&c->lock);
}

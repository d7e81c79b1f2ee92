/* The stripe cache of degraded reads (md keeps whole stripes in its stripe cache).
 *
 * A large read on a degraded parity array that covers one end of a stripe whose data
 * column is down reads and rebuilds the whole stripe, and leaves here the part of it the
 * request did not want.  The request that reads that part next (the next one of a
 * sequential reader, which waits for the stripe's lock meanwhile) copies it from here,
 * so no stripe is read or rebuilt twice.  Without it, 1 MiB reads of a RAID5 of 4 with
 * 1.5 MiB stripes read 4/3 of the data they deliver.
 *
 * Entries hold array bytes, not member bytes, so only a write can make one stale: every
 * write (of any layout: a level change can come back to the same geometry) bumps the
 * generation while it holds its stripe locks, and an entry is good only in the
 * generation it was filled in.  A filler reads the generation after taking its stripe
 * locks, so a write to its stripe either ended before (and is in what it read) or bumps
 * the generation after.  The layout's geometry is part of the key, and no entry is made
 * or served during a reshape. */
#include <stdlib.h>
#include <string.h>

#include "raid-int.h"

void
stripe_cache_init (struct stripe_cache *c)
{
  memset (c, 0, sizeof *c);
  pthread_mutex_init (&c->lock, NULL);
}

void
stripe_cache_destroy (struct stripe_cache *c)
{
  for (unsigned i = 0; i < STRIPE_CACHE_ENTRIES; i++)
    free (c->e[i].buf);
  pthread_mutex_destroy (&c->lock);
}

uint64_t
stripe_cache_gen (struct stripe_cache *c)
{
  return atomic_load (&c->gen);
}

void
stripe_cache_invalidate (struct stripe_cache *c)
{
  atomic_fetch_add (&c->gen, 1);
}

static int
same_geom (const struct raid_geom *a, const struct raid_geom *b)
{
  return a->level == b->level && a->n == b->n && a->k == b->k && a->m == b->m
    && a->chunk == b->chunk && a->rows == b->rows;
}

/* Bytes of one stripe's data, or 0 when the cache does not keep stripes this big. */
uint64_t
stripe_cache_stripe_bytes (const struct raid_geom *g)
{
  uint64_t bytes = (uint64_t) g->k * g->chunk;
  return g->family == RAID_FAMILY_PARITY && bytes <= STRIPE_CACHE_MAX_STRIPE ? bytes : 0;
}

int
stripe_cache_get (struct stripe_cache *c, const struct raid_geom *g, uint64_t stripe,
                  uint64_t lo, uint64_t hi, uint8_t *dst)
{
  uint64_t gen = stripe_cache_gen (c);
  int found = 0;

  pthread_mutex_lock (&c->lock);
  for (unsigned i = 0; i < STRIPE_CACHE_ENTRIES && !found; i++) {
    struct stripe_cache_entry *e = &c->e[i];
    if (e->hi > e->lo && e->gen == gen && e->stripe == stripe && same_geom (&e->g, g)
        && e->lo <= lo && hi <= e->hi) {
      memcpy (dst, e->buf + (lo - e->lo), hi - lo);
      e->used = ++c->tick;
      found = 1;
    }
  }
  pthread_mutex_unlock (&c->lock);
  return found;
}

/* The entry to fill: one already holding STRIPE, else an empty one, else the least
 * recently used. */
static struct stripe_cache_entry *
victim (struct stripe_cache *c, uint64_t stripe)
{
  struct stripe_cache_entry *v = &c->e[0];

  for (unsigned i = 0; i < STRIPE_CACHE_ENTRIES; i++) {
    struct stripe_cache_entry *e = &c->e[i];
    if (e->hi > e->lo && e->stripe == stripe)
      return e;
    if (e->hi <= e->lo || e->used < v->used)
      v = e;
  }
  return v;
}

void
stripe_cache_put (struct stripe_cache *c, const struct raid_geom *g, uint64_t gen,
                  uint64_t stripe, uint64_t lo, uint64_t hi, uint8_t *const cols[])
{
  struct stripe_cache_entry *e;

  if (hi <= lo || gen != stripe_cache_gen (c))
    return;                             /* a write came: it would be stale at once */
  pthread_mutex_lock (&c->lock);
  e = victim (c, stripe);
  e->lo = e->hi = 0;
  if (e->cap < stripe_cache_stripe_bytes (g)) {
    /* once per entry and geometry: every entry grows to a whole stripe */
    uint8_t *buf = realloc (e->buf, stripe_cache_stripe_bytes (g));
    if (!buf) {
      pthread_mutex_unlock (&c->lock);
      return;
    }
    e->buf = buf;
    e->cap = stripe_cache_stripe_bytes (g);
  }
  for (uint64_t at = lo; at < hi;) {
    uint64_t col = at / g->chunk, within = at % g->chunk;
    uint64_t len = g->chunk - within < hi - at ? g->chunk - within : hi - at;
    memcpy (e->buf + (at - lo), cols[col] + within, len);
    at += len;
  }
  e->g = *g;
  e->gen = gen;
  e->stripe = stripe;
  e->lo = lo;
  e->hi = hi;
  e->used = ++c->tick;
  pthread_mutex_unlock (&c->lock);
}

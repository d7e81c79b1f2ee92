/* The data path: reads, writes, flush and resync for both layout families.
 *
 * Every request fans its member I/Os out in one batch per phase and waits
 * for them together.  Writes hold the stripe locks of the stripes (mirror
 * levels: chunks) they touch, so read-modify-write and reconstruction see
 * a stable stripe.  A write returns only after every member the layout
 * needs has answered; a member that fails a write is marked faulty (which
 * rewrites the superblocks) before the write is acknowledged degraded. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raid-int.h"

#define ALIGN 64

/* The part of a request inside one chunk. */
struct piece { uint64_t ci; uint32_t within, len; };

static struct piece
piece_at (const struct raid_geom *g, uint64_t pos, uint64_t end)
{
  struct piece p = { .ci = pos >> g->chunk_shift, .within = pos & (g->chunk - 1) };
  uint64_t room = g->chunk - p.within;

  p.len = end - pos < room ? end - pos : room;
  return p;
}

static int
check_range (struct raid_array *a, uint32_t len, uint64_t offset)
{
  if ((offset | len) & 511 || offset > a->size || len > a->size - offset) {
    raid_logf_burst (a, BURST_RANGE, NULL, "%s: request of %u bytes at offset %llu is outside "
                     "the array (%llu bytes) or not a multiple of 512", a->sb.name, len,
                     (unsigned long long) offset, (unsigned long long) a->size);
    return -EINVAL;
  }
  return 0;
}

/* Below the resync point, or in a region the write-intent bitmap held clean
 * when the array started (bitmap.c: a clean bit means in sync). */
static int
in_sync (struct raid_array *a, struct raid_layout *L, uint64_t unit)
{
  return unit < layout_sync_units (a, L) || (L == &a->lay && !bitmap_unit_unsynced (a, unit));
}


void
note_read_error (struct raid_array *a, struct member_io *io)
{
  if (io->err == ENODEV || array_closing (a))  /* closing: a held shelf's read cut short */
    return;
  atomic_fetch_add (&io->slot->read_errors, 1);
  raid_logf_burst (a, BURST_READ_ERROR, io->slot, "%s: member %s: read of %u bytes at %llu "
                   "failed (%s); reconstructing", a->sb.name, slot_name (io->slot), io->len,
                   (unsigned long long) io->offset, strerror (io->err));
}

/* After a read error, write the good bytes back over the bad ones, as md
 * does; a member that cannot take even that is failed. */
static void
repair (struct raid_array *a, struct member_io *io)
{
  int err;

  if (io->err == ENODEV || !slot_usable (io->slot) || a->readonly || array_closing (a))
    return;
  err = slot_io (io->slot, RAID_IO_WRITE, io->offset, io->len, io->buf);
  if (err == 0) {
    raid_logf_burst (a, BURST_REWROTE, io->slot, "%s: member %s: rewrote %u bytes at %llu "
                     "after a read error", a->sb.name, slot_name (io->slot), io->len,
                     (unsigned long long) io->offset);
    return;
  }
  atomic_fetch_add (&io->slot->write_errors, 1);
  slot_fail (a, io->slot, "rewrite after a read error failed");
}

/* Mark every member that failed a write or a flush in this batch faulty. */
/* IO, a write or a flush (fail_flushers comes here too), failed with its member down:
 * sent to it down (ENODEV), or caught in flight by its going down (the backend fails
 * what was in flight then with EIO, which is no error of its disk). */
static int
missed_down (const struct member_io *io)
{
  const struct raid_slot *s = io->slot;
  return io->err == ENODEV || (s->m.ops && !s->m.ops->healthy (s->m.member));
}

void
fail_writers (struct raid_array *a, struct io_batch *b)
{
  for (unsigned i = 0; i < b->n; i++) {
    struct member_io *io = &b->ios[i];
    int flush = io->op == RAID_IO_FLUSH;
    if (!io->err)
      continue;
    if (!missed_down (io)) {
      if (!array_closing (a))   /* closing: a held shelf's write cut short, no disk's */
        atomic_fetch_add (&io->slot->write_errors, 1);   /* the disk's own error */
      slot_fail (a, io->slot, strerror (io->err));
    }
    else if (io->err == ENODEV)
      slot_fail (a, io->slot, flush ? "it is down and missed a flush"
                 : "it is down and missed a write");
    else
      slot_fail (a, io->slot, flush ? "it went down with a flush in flight"
                 : "it went down with a write in flight");
  }
}

static void
lock_units (const struct raid_layout *L, uint32_t len, uint64_t off, uint64_t *first, uint64_t *last)
{
  *first = geom_lock_unit (&L->g, off >> L->g.chunk_shift);
  *last = geom_lock_unit (&L->g, (off + len - 1) >> L->g.chunk_shift);
}

/* ---- near family: RAID0, RAID1, RAID10 ---------------------------------- */

/* The usable copy with the least outstanding I/O, a write-mostly one only when no other
 * is usable (md: a far or slow mirror serves reads only when it must); copy 0 when none
 * is usable (the batch then fails it with ENODEV). */
static unsigned
pick_copy (struct raid_array *a, struct raid_layout *L, uint64_t ci)
{
  unsigned best = 0;
  uint64_t best_cost = UINT64_MAX;

  for (unsigned c = 0; c < L->g.copies; c++) {
    struct raid_slot *s = &a->slot[geom_near (&L->g, ci, c).slot];
    /* write-mostly above any load a normal copy can have */
    uint64_t cost = ((uint64_t) atomic_load (&s->writemostly) << 32)
                    + atomic_load (&s->outstanding);
    if (slot_usable_at (a, s, ci) && cost < best_cost) {
      best = c;
      best_cost = cost;
    }
  }
  return best;
}

static int
near_retry (struct raid_array *a, struct raid_layout *L, struct member_io *io, uint64_t ci, uint32_t within)
{
  int rc = -EIO;

  note_read_error (a, io);
  stripe_lock_range (&a->locks, ci, ci);
  for (unsigned c = 0; c < L->g.copies && rc; c++) {
    struct raid_loc l = geom_near (&L->g, ci, c);
    struct raid_slot *s = &a->slot[l.slot];
    int err;
    if (s == io->slot || !slot_usable_at (a, s, ci))
      continue;
    err = slot_io (s, RAID_IO_READ, slot_offset (L, l, within), io->len, io->buf);
    if (err == 0) {
      repair (a, io);
      rc = 0;
    }
    else if (err != ENODEV && !array_closing (a))
      atomic_fetch_add (&s->read_errors, 1);
  }
  stripe_unlock_range (&a->locks, ci, ci);
  if (rc && !array_closing (a))   /* closing: the held shelves' reads end so */
    raid_logf_burst (a, BURST_NO_COPY, NULL, "%s: no copy of chunk %llu could be read",
                     a->sb.name, (unsigned long long) ci);
  return rc;
}

static int
near_write (struct raid_array *a, struct raid_layout *L, const uint8_t *buf, uint32_t len, uint64_t off)
{
  struct io_batch b;
  uint64_t pos, end = off + len;
  int rc = 0;

  batch_init (&b, &a->poll_gate);
  for (pos = off; pos < end && rc == 0;) {
    struct piece p = piece_at (&L->g, pos, end);
    for (unsigned c = 0; c < L->g.copies; c++) {
      struct raid_loc l = geom_near (&L->g, p.ci, c);
      if (!batch_add (&b, &a->slot[l.slot], RAID_IO_WRITE, slot_offset (L, l, p.within), p.len,
                      (void *) (buf + (pos - off)), 0))
        rc = -ENOMEM;
    }
    pos += p.len;
  }
  if (rc == 0) {
    batch_run (&b);
    fail_writers (a, &b);
  }
  batch_free (&b);
  return rc;
}

/* ---- parity family: RAID5, RAID6, k+m ----------------------------------- */

struct raid_slot *
col_slot (struct raid_array *a, struct raid_layout *L, uint64_t stripe, unsigned idx)
{
  struct raid_loc l = idx < L->g.k ? geom_data (&L->g, stripe, idx)
                                   : geom_parity (&L->g, stripe, idx - L->g.k);
  return &a->slot[l.slot];
}

uint64_t
col_offset (const struct raid_layout *L, uint64_t stripe, uint32_t within)
{
  struct raid_loc l = { .row = stripe };
  return slot_offset (L, l, within);
}

unsigned
unit_pieces (const struct raid_layout *L)
{
  return L->g.family == RAID_FAMILY_PARITY ? L->g.k + L->g.m : L->g.copies;
}

struct raid_slot *
unit_piece (struct raid_array *a, struct raid_layout *L, uint64_t u, unsigned c, uint64_t *off)
{
  struct raid_loc l;

  if (L->g.family == RAID_FAMILY_PARITY) {
    *off = col_offset (L, u, 0);
    return col_slot (a, L, u, c);
  }
  l = geom_near (&L->g, u, c);
  *off = slot_offset (L, l, 0);
  return &a->slot[l.slot];
}

/* Queue OP of piece c of unit u, the whole chunk, into BUF. */
void
unit_piece_io (struct io_batch *b, struct raid_array *a, struct raid_layout *L, uint64_t u,
               unsigned c, enum raid_io_op op, uint8_t *buf)
{
  uint64_t off;
  struct raid_slot *s = unit_piece (a, L, u, c, &off);

  batch_add (b, s, op, off, L->g.chunk, buf, c);
}

int
col_usable (struct raid_array *a, struct raid_layout *L, uint64_t stripe, unsigned idx)
{
  return slot_usable_at (a, col_slot (a, L, stripe, idx), stripe);
}

/* Make every column with need[] set valid over [lo, lo+len) of stripe s,
 * reading it, or else reading enough others (k valid) and decoding.
 * valid[]/bad[] carry what is already known; bad[] columns are not read
 * again.  errored[] (may be NULL) gets the columns that returned a read
 * error.  0, or -EIO when fewer than k columns can be read. */
int
stripe_gather (struct raid_array *a, struct raid_layout *L, uint64_t s, uint32_t lo, uint32_t len, uint8_t **cols,
               uint8_t *valid, uint8_t *bad, const uint8_t *need, uint8_t *errored)
{
  unsigned k = L->g.k, n = L->g.k + L->g.m, idx, nvalid, missing, want;
  struct io_batch b;
  int rc = 0;

  /* A member without good data here (down, or not yet rebuilt) is never read. */
  for (idx = 0; idx < n; idx++)
    if (!valid[idx] && !col_usable (a, L, s, idx))
      bad[idx] = 1;
  batch_init (&b, &a->poll_gate);
  for (;;) {
    for (nvalid = missing = idx = 0; idx < n; idx++) {
      nvalid += valid[idx];
      missing += need[idx] && !valid[idx];
    }
    if (!missing)
      break;
    if (nvalid >= k) {
      rc = codec_recover (&L->codec, len, cols, valid, need) ? -EIO : 0;
      break;
    }
    /* Read the needed columns themselves; if some cannot be read, read
     * enough others to decode. */
    batch_reset (&b);
    for (idx = 0; idx < n; idx++)
      if (need[idx] && !valid[idx] && !bad[idx])
        batch_add (&b, col_slot (a, L, s, idx), RAID_IO_READ, col_offset (L, s, lo), len,
                   cols[idx], idx);
    for (want = b.n ? 0 : k - nvalid, idx = 0; idx < n && want; idx++)
      if (!valid[idx] && !bad[idx] && col_usable (a, L, s, idx)) {
        batch_add (&b, col_slot (a, L, s, idx), RAID_IO_READ, col_offset (L, s, lo), len,
                   cols[idx], idx);
        want--;
      }
    if (b.n == 0) {
      rc = -EIO;
      break;
    }
    batch_run (&b);
    for (unsigned i = 0; i < b.n; i++) {
      struct member_io *io = &b.ios[i];
      valid[io->tag] = !io->err;
      bad[io->tag] = !!io->err;
      if (io->err && io->err != ENODEV) {
        note_read_error (a, io);
        if (errored)
          errored[io->tag] = 1;
      }
    }
  }
  batch_free (&b);
  if (rc && !array_closing (a)) {       /* closing: the held shelves' reads end so */
    char names[300] = "";
    size_t used = 0;
    for (idx = 0; idx < n && used < sizeof names; idx++)
      if (bad[idx] || !col_usable (a, L, s, idx))
        used += snprintf (names + used, sizeof names - used, "%s%s", used ? ", " : "",
                          slot_name (col_slot (a, L, s, idx)));
    raid_logf_burst (a, BURST_STRIPE, NULL, "%s: stripe %llu cannot be reconstructed: fewer "
                     "than %u of its members can be read (unreadable: %s)", a->sb.name,
                     (unsigned long long) s, k, names);
  }
  return rc;
}

static int
parity_read_piece (struct raid_array *a, struct raid_layout *L, struct member_io *io, uint64_t stripe, unsigned i,
                   uint32_t within, int locked)
{
  unsigned n = L->g.k + L->g.m, idx;
  uint8_t valid[RAID_MAX_MEMBERS] = { 0 }, bad[RAID_MAX_MEMBERS] = { 0 };
  uint8_t need[RAID_MAX_MEMBERS] = { 0 };
  uint8_t *cols[RAID_MAX_MEMBERS];
  uint8_t *scratch = scratch_get (&a->pool, (size_t) n * io->len);
  int rc;

  if (!scratch)
    return -ENOMEM;
  note_read_error (a, io);
  for (idx = 0; idx < n; idx++)
    cols[idx] = scratch + (size_t) idx * io->len;
  need[i] = bad[i] = 1;
  if (!locked)
    stripe_lock_range (&a->locks, stripe, stripe);
  rc = stripe_gather (a, L, stripe, within, io->len, cols, valid, bad, need, NULL);
  if (rc == 0) {
    memcpy (io->buf, cols[i], io->len);
    repair (a, io);
  }
  if (!locked)
    stripe_unlock_range (&a->locks, stripe, stripe);
  scratch_put (&a->pool, scratch);
  return rc;
}

/* Where a piece is read from first: the data chunk, or the least busy copy. */
static struct raid_loc
read_source (struct raid_array *a, struct raid_layout *L, uint64_t ci)
{
  if (L->g.family == RAID_FAMILY_NEAR)
    return geom_near (&L->g, ci, pick_copy (a, L, ci));
  return geom_data (&L->g, ci / L->g.k, ci % L->g.k);
}

/* The piece's first source holds good data for it. */
static int
source_usable (struct raid_array *a, struct raid_layout *L, uint64_t ci)
{
  return slot_usable_at (a, &a->slot[read_source (a, L, ci).slot], geom_lock_unit (&L->g, ci));
}

static int
read_retry (struct raid_array *a, struct raid_layout *L, struct member_io *io, struct piece p, int locked)
{
  if (L->g.family == RAID_FAMILY_NEAR)
    return near_retry (a, L, io, p.ci, p.within);
  return parity_read_piece (a, L, io, p.ci / L->g.k, p.ci % L->g.k, p.within, locked);
}

/* The part of a read on a degraded parity array inside one stripe.  When one
 * of its pieces has its own member down, the stripe is rebuilt once for all
 * of them: k columns read over the hull of the pieces (the usable data
 * columns the request wants among them, so no column is read twice), then
 * decoded.  A column the request wants whole over the hull is read (or
 * decoded) straight into the request's buffer; the others go through scratch.  Planned once
 * per stripe, before any I/O, as parity_write plans its stripe jobs. */
struct recon {
  uint64_t stripe, pos, end;            /* the request's bytes in this stripe */
  uint8_t *dst;                         /* where pos lands in the request's buffer */
  uint32_t lo, len;                     /* the hull, within the chunk */
  int rebuild;                          /* a piece's own member is down */
  int cached;                           /* copied from the stripe cache: nothing to read */
  struct stripe_key key;                /* its stripe cache entry's */
  uint64_t keep_lo, keep_hi;            /* the stripe's bytes to leave in the stripe cache */
  uint8_t *cols[RAID_MAX_MEMBERS];
  uint8_t valid[RAID_MAX_MEMBERS], bad[RAID_MAX_MEMBERS], need[RAID_MAX_MEMBERS];
};

#define RECON_TAG 0x80000000u

static void
recon_plan (struct raid_array *a, struct raid_layout *L, struct recon *r, uint64_t stripe, uint8_t *buf,
            uint64_t off, uint64_t end)
{
  uint64_t start = stripe * L->g.k * L->g.chunk, stop = start + L->g.k * L->g.chunk;
  uint32_t hi = 0;

  memset (r, 0, sizeof *r);
  r->stripe = stripe;
  r->pos = off > start ? off : start;
  r->end = end < stop ? end : stop;
  r->dst = buf + (r->pos - off);
  r->lo = L->g.chunk;
  for (uint64_t at = r->pos; at < r->end;) {
    struct piece p = piece_at (&L->g, at, r->end);
    unsigned idx = p.ci % L->g.k;
    r->need[idx] = 1;
    r->bad[idx] = !source_usable (a, L, p.ci);
    r->rebuild |= r->bad[idx];
    if (p.within < r->lo)
      r->lo = p.within;
    if (p.within + p.len > hi)
      hi = p.within + p.len;
    at += p.len;
  }
  r->len = hi - r->lo;
}

/* Copy the request's part of R's stripe from the stripe cache if it is there.  Else,
 * when the request covers one end of the stripe (a chunk or more) and a data column
 * there is down, the request next to it wants the rest: rebuild the whole stripe and
 * keep the rest in the cache (see stripe-cache.c).  That costs no read when the request
 * rebuilds the stripe anyway (it covers every offset of the chunk); else (the down
 * column is in the part it does not want) only when it continues a sequential STREAM,
 * so that a random reader never pays for a stripe nobody reads. */
static void
recon_whole_stripe (struct raid_array *a, struct raid_layout *L, struct recon *r, int stream)
{
  uint64_t bytes = stripe_cache_stripe_bytes (&L->g), start = r->stripe * bytes;
  uint64_t lo = r->pos - start, hi = r->end - start, keep_lo, keep_hi;
  unsigned idx, down = 0;

  if (!bytes)
    return;
  /* col_usable of a data column is source_usable of its chunk: one test serves the key,
   * and which columns are down below */
  r->key = (struct stripe_key) { .g = L->g, .stripe = r->stripe };
  for (idx = 0; idx < L->g.k + L->g.m; idx++)
    r->key.usable |= (uint32_t) col_usable (a, L, r->stripe, idx) << idx;
  if (stripe_cache_get (&a->stripe_cache, &r->key, lo, hi, r->dst)) {
    r->cached = 1;
    r->rebuild = 0;
    return;
  }
  keep_lo = lo > 0 ? 0 : hi;
  keep_hi = lo > 0 ? lo : bytes;
  if (start + keep_hi > L->size)
    keep_hi = L->size - start;          /* the stripe holds the array's end */
  if (hi - lo < L->g.chunk || (lo > 0) == (hi < bytes) || keep_hi <= keep_lo
      || !(r->rebuild || stream))
    return;
  for (idx = 0; idx < L->g.k; idx++)
    down += !(r->key.usable >> idx & 1);
  if (!down)
    return;
  for (idx = 0; idx < L->g.k; idx++)        /* need[] stays the request's own columns */
    r->bad[idx] = !(r->key.usable >> idx & 1);
  r->lo = 0;
  r->len = L->g.chunk;
  r->rebuild = 1;
  r->keep_lo = keep_lo;
  r->keep_hi = keep_hi;
}

static size_t
recon_scratch (struct raid_array *a, struct raid_layout *L, const struct recon *r)
{
  return r->rebuild ? (size_t) (L->g.k + L->g.m) * r->len : 0;
}

static int
add_direct_reads (struct raid_array *a, struct raid_layout *L, struct io_batch *b, uint8_t *dst, uint64_t pos,
                  uint64_t end)
{
  while (pos < end) {
    struct piece p = piece_at (&L->g, pos, end);
    struct raid_loc l = read_source (a, L, p.ci);
    if (!batch_add (b, &a->slot[l.slot], RAID_IO_READ, slot_offset (L, l, p.within), p.len,
                    dst, 0))
      return -ENOMEM;
    dst += p.len;
    pos += p.len;
  }
  return 0;
}

/* Queue a stripe's reads: its pieces themselves, or k columns to rebuild it. */
static int
recon_queue (struct raid_array *a, struct raid_layout *L, struct recon *r, unsigned rn, uint8_t *scratch,
             struct io_batch *b)
{
  unsigned n = L->g.k + L->g.m, idx, want = L->g.k;

  if (r->cached)
    return 0;
  if (!r->rebuild)
    return add_direct_reads (a, L, b, r->dst, r->pos, r->end);
  for (idx = 0; idx < n; idx++)
    r->cols[idx] = scratch + (size_t) idx * r->len;
  for (uint64_t at = r->pos; at < r->end;) {
    struct piece p = piece_at (&L->g, at, r->end);
    idx = p.ci % L->g.k;
    if (p.within == r->lo && p.len == r->len)    /* read, or decoded, in place */
      r->cols[idx] = r->dst + (at - r->pos);
    at += p.len;
  }
  /* Data columns first: every usable one the request wants is among the k. */
  for (idx = 0; idx < n && want; idx++)
    if (!r->bad[idx] && col_usable (a, L, r->stripe, idx)) {
      if (!batch_add (b, col_slot (a, L, r->stripe, idx), RAID_IO_READ,
                      col_offset (L, r->stripe, r->lo), r->len, r->cols[idx],
                      RECON_TAG | rn << 8 | idx))
        return -ENOMEM;
      want--;
    }
  return 0;
}

/* The rest of R's stripe, whole (recon_whole_stripe), into the stripe cache: decoded
 * from the columns read, or not kept when they cannot give it (the request's own
 * columns decided its outcome already). */
static void
recon_keep (struct raid_array *a, struct raid_layout *L, struct recon *r)
{
  uint8_t data[RAID_MAX_MEMBERS] = { 0 };

  for (unsigned idx = 0; idx < L->g.k + L->g.m; idx++) {
    r->valid[idx] |= r->need[idx];      /* stripe_gather made them valid */
    data[idx] = idx < L->g.k;
  }
  if (codec_recover (&L->codec, r->len, r->cols, r->valid, data) == 0)
    stripe_cache_put (&a->stripe_cache, &r->key, r->keep_lo, r->keep_hi, r->cols);
}

/* Record the reconstruction reads' outcome, rebuild each stripe, and copy
 * out what went through scratch. */
static int
recon_finish (struct raid_array *a, struct raid_layout *L, struct recon *recon, unsigned nrecon, struct io_batch *b)
{
  unsigned i;
  int rc = 0;

  for (i = 0; i < b->n; i++) {
    struct member_io *io = &b->ios[i];
    struct recon *r;
    unsigned idx;
    if (!(io->tag & RECON_TAG))
      continue;
    r = &recon[(io->tag & ~RECON_TAG) >> 8];
    idx = io->tag & 0xff;
    r->valid[idx] = !io->err;
    r->bad[idx] = !!io->err;
    if (io->err)
      note_read_error (a, io);
  }
  for (i = 0; i < nrecon && rc == 0; i++) {
    struct recon *r = &recon[i];
    if (!r->rebuild)
      continue;
    rc = stripe_gather (a, L, r->stripe, r->lo, r->len, r->cols, r->valid, r->bad, r->need, NULL);
    for (uint64_t at = r->pos; at < r->end && rc == 0;) {
      struct piece p = piece_at (&L->g, at, r->end);
      uint8_t *to = r->dst + (at - r->pos), *from = r->cols[p.ci % L->g.k] + (p.within - r->lo);
      if (to != from)
        memcpy (to, from, p.len);
      at += p.len;
    }
    if (rc == 0 && r->keep_hi > r->keep_lo)
      recon_keep (a, L, r);
  }
  return rc;
}

/* On a degraded parity array: plan stripes FIRST..LAST of the request (STREAM: it
 * continues the one before, see read_pieces), then queue their reads into B.  *RECON
 * and *SCRATCH are the caller's to put back. */
static int
plan_degraded (struct raid_array *a, struct raid_layout *L, uint8_t *buf, uint32_t len, uint64_t off, uint64_t first,
               uint64_t last, int stream, struct recon **recon, unsigned *nrecon, uint8_t **scratch,
               struct io_batch *b)
{
  uint64_t end = off + len;
  int cache = L == &a->lay && !atomic_load (&a->reshape.active);
  size_t total = 0;
  uint8_t *at;
  unsigned rn;
  int rc = 0;

  *nrecon = last - first + 1;
  *recon = scratch_get (&a->pool, *nrecon * sizeof **recon);
  if (!*recon)
    return -ENOMEM;
  for (rn = 0; rn < *nrecon; rn++) {
    recon_plan (a, L, &(*recon)[rn], first + rn, buf, off, end);
    if (cache)
      recon_whole_stripe (a, L, &(*recon)[rn], stream);
    total += recon_scratch (a, L, &(*recon)[rn]);
  }
  if (total && !(*scratch = scratch_get (&a->pool, total)))
    return -ENOMEM;
  for (at = *scratch, rn = 0; rn < *nrecon && rc == 0; rn++) {
    rc = recon_queue (a, L, &(*recon)[rn], rn, at, b);
    at += recon_scratch (a, L, &(*recon)[rn]);
  }
  return rc;
}

/* All pieces in one batch.  On a degraded parity array the request holds
 * its stripe locks, and the stripes with a piece whose own member is down
 * are rebuilt from reads in that same batch (a member that goes down after
 * planning fails its read with ENODEV: the retry path).  Pieces whose read
 * fails are rebuilt after. */
static int
read_pieces (struct raid_array *a, struct raid_layout *L, uint8_t *buf, uint32_t len, uint64_t off)
{
  uint64_t end = off + len, first = 0, last = 0;
  int locked = L->g.family == RAID_FAMILY_PARITY && array_degraded (a), rc;
  unsigned nrecon = 0;
  struct recon *recon = NULL;
  uint8_t *scratch = NULL;
  struct io_batch b;

  batch_init (&b, &a->poll_gate);
  if (locked) {
    /* The stream is known from the order requests arrive in, not the order they get
     * their stripe locks: a sequential reader's request that cuts a stripe waits for
     * the one before, and the one after, which often gets its stripe first, must still
     * see it continues the stream and keep the cut stripe's head for it (else that
     * head is rebuilt twice, and the waiter reads after the wait).  A hint, raced by
     * other readers at worst: it never decides what is read back. */
    int stream = atomic_exchange (&a->stripe_cache.stream_next, end) == off;
    lock_units (L, len, off, &first, &last);
    stripe_lock_range (&a->locks, first, last);
    rc = plan_degraded (a, L, buf, len, off, first, last, stream, &recon, &nrecon, &scratch,
                        &b);
  }
  else
    rc = add_direct_reads (a, L, &b, buf, off, end);
  if (rc == 0)
    batch_run (&b);
  for (unsigned i = 0; i < b.n && rc == 0; i++) {
    struct member_io *io = &b.ios[i];
    if (io->err && !(io->tag & RECON_TAG))
      rc = read_retry (a, L, io, piece_at (&L->g, off + ((uint8_t *) io->buf - buf), end), locked);
  }
  if (rc == 0 && nrecon)
    rc = recon_finish (a, L, recon, nrecon, &b);
  batch_free (&b);
  if (locked)
    stripe_unlock_range (&a->locks, first, last);
  scratch_put (&a->pool, scratch);
  scratch_put (&a->pool, recon);
  return rc;
}

enum job_method { JOB_FULL, JOB_RMW, JOB_RCW };

/* One stripe of a write. */
struct stripe_job {
  uint64_t stripe;
  uint32_t lo, hi;                      /* hull of the write within the chunk */
  uint32_t wlo[RAID_MAX_MEMBERS], whi[RAID_MAX_MEMBERS];  /* written part of data i */
  const uint8_t *src[RAID_MAX_MEMBERS]; /* new bytes for [wlo, whi) of data i */
  uint8_t *cols[RAID_MAX_MEMBERS];      /* data then parity, hull bytes each */
  uint8_t valid[RAID_MAX_MEMBERS], bad[RAID_MAX_MEMBERS], errored[RAID_MAX_MEMBERS];
  uint8_t need[RAID_MAX_MEMBERS];       /* RCW: data columns to read */
  enum job_method method;
  int gather;                           /* pre-reads incomplete: gather before computing */
};

static void
job_plan_range (struct raid_array *a, struct raid_layout *L, struct stripe_job *j, uint64_t stripe,
                const uint8_t *buf, uint64_t off, uint64_t end)
{
  uint64_t start = stripe * L->g.k * L->g.chunk;
  unsigned i;

  memset (j, 0, sizeof *j);
  j->stripe = stripe;
  j->lo = L->g.chunk;
  for (i = 0; i < L->g.k; i++) {
    uint64_t cs = start + (uint64_t) i * L->g.chunk, ce = cs + L->g.chunk;
    uint64_t ws = off > cs ? off : cs, we = end < ce ? end : ce;
    if (ws >= we)
      continue;
    j->wlo[i] = ws - cs;
    j->whi[i] = we - cs;
    j->src[i] = buf + (ws - off);
    if (j->wlo[i] < j->lo)
      j->lo = j->wlo[i];
    if (j->whi[i] > j->hi)
      j->hi = j->whi[i];
  }
  /* A stripe not yet resynced gets all of its parity recomputed. */
  if (!in_sync (a, L, stripe)) {
    j->lo = 0;
    j->hi = L->g.chunk;
  }
}

/* md's handle_stripe_dirtying: count what each method must read, take the
 * cheaper; reconstruct-write also when read-modify-write cannot run (a
 * written data member or a parity member is down, or parity is not known good). */
static enum job_method
job_choose (struct raid_array *a, struct raid_layout *L, struct stripe_job *j)
{
  uint32_t hull = j->hi - j->lo;
  uint64_t rmw = 0, rcw = 0;
  int rmw_ok = in_sync (a, L, j->stripe), full = j->lo == 0 && j->hi == L->g.chunk;
  unsigned i;

  for (i = 0; i < L->g.k; i++) {
    uint32_t wl = j->whi[i] - j->wlo[i];
    if (wl) {
      rmw += wl;
      rmw_ok &= col_usable (a, L, j->stripe, i);
    }
    if (wl != hull) {
      rcw += hull - wl;
      full = 0;
    }
    j->need[i] = wl != hull;
  }
  if (full)
    return JOB_FULL;
  /* a parity column read-modify-write cannot read, it cannot make: its member, down now,
   * may be back by the time the write goes out, and must get parity made from the data */
  for (i = 0; i < L->g.m; i++)
    if (col_usable (a, L, j->stripe, L->g.k + i))
      rmw += hull;
    else
      rmw_ok = 0;
  return rmw_ok && rmw < rcw ? JOB_RMW : JOB_RCW;
}

static size_t
job_scratch (struct raid_array *a, struct raid_layout *L, const struct stripe_job *j)
{
  unsigned cols = j->method == JOB_FULL ? L->g.m : L->g.k + L->g.m;
  return (size_t) cols * (j->hi - j->lo);
}

static void
job_set_cols (struct raid_array *a, struct raid_layout *L, struct stripe_job *j, uint8_t *scratch)
{
  uint32_t hull = j->hi - j->lo;
  unsigned idx = 0;

  if (j->method == JOB_FULL)
    for (; idx < L->g.k; idx++)
      j->cols[idx] = (uint8_t *) j->src[idx];
  for (; idx < L->g.k + L->g.m; idx++, scratch += hull)
    j->cols[idx] = scratch;
}

/* Queue the reads a job needs before it can compute parity. */
static int
job_queue_reads (struct raid_array *a, struct raid_layout *L, struct stripe_job *j, unsigned jn, struct io_batch *b)
{
  uint32_t hull = j->hi - j->lo;
  unsigned i, k = L->g.k;
  int ok = 1;

  if (j->method == JOB_RMW) {
    for (i = 0; i < k; i++)
      if (j->whi[i] > j->wlo[i])
        ok &= !!batch_add (b, col_slot (a, L, j->stripe, i), RAID_IO_READ,
                           col_offset (L, j->stripe, j->wlo[i]), j->whi[i] - j->wlo[i],
                           j->cols[i] + (j->wlo[i] - j->lo), jn * RAID_MAX_MEMBERS + i);
    for (i = k; i < k + L->g.m; i++)
      if (col_usable (a, L, j->stripe, i))
        ok &= !!batch_add (b, col_slot (a, L, j->stripe, i), RAID_IO_READ,
                           col_offset (L, j->stripe, j->lo), hull, j->cols[i],
                           jn * RAID_MAX_MEMBERS + i);
  }
  else if (j->method == JOB_RCW) {
    for (i = 0; i < k; i++)
      if (j->need[i] && !col_usable (a, L, j->stripe, i))
        j->gather = 1;
    /* Only the bytes the write leaves alone: before and after its part. */
    for (i = 0; i < k && !j->gather; i++) {
      uint32_t before = j->whi[i] > j->wlo[i] ? j->wlo[i] : j->hi;
      uint32_t after = j->whi[i] > j->wlo[i] ? j->whi[i] : j->hi;
      if (!j->need[i])
        continue;
      if (before > j->lo)
        ok &= !!batch_add (b, col_slot (a, L, j->stripe, i), RAID_IO_READ,
                           col_offset (L, j->stripe, j->lo), before - j->lo, j->cols[i],
                           jn * RAID_MAX_MEMBERS + i);
      if (after < j->hi)
        ok &= !!batch_add (b, col_slot (a, L, j->stripe, i), RAID_IO_READ,
                           col_offset (L, j->stripe, after), j->hi - after,
                           j->cols[i] + (after - j->lo), jn * RAID_MAX_MEMBERS + i);
    }
  }
  return ok ? 0 : -ENOMEM;
}

static void
xor_into (uint8_t *dst, const uint8_t *src, uint32_t len)
{
  for (uint32_t o = 0; o < len; o += 8) {
    uint64_t x, y;
    memcpy (&x, dst + o, 8);
    memcpy (&y, src + o, 8);
    x ^= y;
    memcpy (dst + o, &x, 8);
  }
}

/* Parity from the gathered (or given) data. */
static int
job_compute (struct raid_array *a, struct raid_layout *L, struct stripe_job *j)
{
  uint32_t hull = j->hi - j->lo;
  unsigned i, k = L->g.k;
  uint8_t *parity[RAID_MAX_PARITY];

  if (j->gather) {
    if (j->method == JOB_RMW) {       /* its pre-reads were partial: start again */
      j->method = JOB_RCW;
      memset (j->valid, 0, sizeof j->valid);
    }
    if (stripe_gather (a, L, j->stripe, j->lo, hull, j->cols, j->valid, j->bad, j->need,
                       j->errored))
      return -EIO;              /* -EIO, never -1: else parity from unread scratch */
  }
  if (j->method == JOB_RMW) {
    for (i = 0; i < L->g.m; i++)
      parity[i] = j->cols[k + i];
    for (i = 0; i < k; i++) {
      uint32_t at = j->wlo[i] - j->lo, wl = j->whi[i] - j->wlo[i];
      uint8_t *shifted[RAID_MAX_PARITY];
      if (!wl)
        continue;
      xor_into (j->cols[i] + at, j->src[i], wl);       /* delta = old ^ new */
      for (unsigned p = 0; p < L->g.m; p++)
        shifted[p] = parity[p] + at;
      codec_update (&L->codec, wl, i, j->cols[i] + at, shifted);
    }
    return 0;
  }
  if (j->method == JOB_RCW)
    for (i = 0; i < k; i++)
      if (j->whi[i] > j->wlo[i])
        memcpy (j->cols[i] + (j->wlo[i] - j->lo), j->src[i], j->whi[i] - j->wlo[i]);
  codec_encode (&L->codec, hull, j->cols, j->cols + k);
  return 0;
}

/* New data, rebuilt columns of members that had read errors, and parity. */
static int
job_queue_writes (struct raid_array *a, struct raid_layout *L, struct stripe_job *j, struct io_batch *b)
{
  uint32_t hull = j->hi - j->lo;
  unsigned i, k = L->g.k;
  int ok = 1;

  for (i = 0; i < k; i++) {
    struct raid_slot *s = col_slot (a, L, j->stripe, i);
    if (j->method == JOB_RCW && j->errored[i] && j->need[i])   /* rebuilt: repair it */
      ok &= !!batch_add (b, s, RAID_IO_WRITE, col_offset (L, j->stripe, j->lo), hull,
                         j->cols[i], 0);
    else if (j->whi[i] > j->wlo[i])
      ok &= !!batch_add (b, s, RAID_IO_WRITE, col_offset (L, j->stripe, j->wlo[i]),
                         j->whi[i] - j->wlo[i], (void *) j->src[i], 0);
  }
  for (i = k; i < k + L->g.m; i++)
    ok &= !!batch_add (b, col_slot (a, L, j->stripe, i), RAID_IO_WRITE,
                       col_offset (L, j->stripe, j->lo), hull, j->cols[i], 0);
  return ok ? 0 : -ENOMEM;
}

/* Record the outcome of the pre-reads in each job. */
static void
jobs_note_reads (struct raid_array *a, struct raid_layout *L, struct stripe_job *jobs, struct io_batch *b)
{
  for (unsigned i = 0; i < b->n; i++) {
    struct member_io *io = &b->ios[i];
    struct stripe_job *j = &jobs[io->tag / RAID_MAX_MEMBERS];
    unsigned idx = io->tag % RAID_MAX_MEMBERS;
    /* A column may take two reads: valid only if none of them failed.  A
     * column the write covers in part was read around that part only: it
     * serves the write, but cannot serve a decode, so it is not "valid". */
    if (!io->err) {
      j->valid[idx] = j->method == JOB_RCW && !j->bad[idx] && j->whi[idx] == j->wlo[idx];
      continue;
    }
    j->gather = 1;
    j->bad[idx] = 1;
    j->valid[idx] = 0;
    if (io->err != ENODEV) {
      j->errored[idx] = 1;
      note_read_error (a, io);
    }
  }
}

/* The log record of job J (ppl.c), its pp (if partial) put at *PP, which moves on: the
 * new parity with the new bytes of the columns it writes taken out again, so that the
 * columns it leaves alone make it.  0 when its parity member is not in sync: nothing to
 * make again there. */
static int
job_log_rec (struct raid_array *a, struct raid_layout *L, const struct stripe_job *j,
             struct ppl_rec *rec, uint8_t **pp)
{
  unsigned i, k = L->g.k;
  struct raid_slot *ps = col_slot (a, L, j->stripe, k);

  if (!col_usable (a, L, j->stripe, k)) {
    /* down but not failed: up again by the time the parity goes out, it would take it
     * unlogged, and an older record of the stripe would be replayed over it.  Only a
     * recovering member past its rebuild takes unlogged parity (the rebuild makes it) */
    if (!slot_usable (ps))
      slot_fail (a, ps, "it is down and missed a write");
    return 0;
  }
  *rec = (struct ppl_rec) { .slot = ps->index, .stripe = j->stripe,
                            .lo = j->lo, .hi = j->hi, .first_col = k, .last_col = 0 };
  for (i = 0; i < k; i++)
    if (j->whi[i] > j->wlo[i]) {
      if (i < rec->first_col)
        rec->first_col = i, rec->first_lo = j->wlo[i];
      rec->last_col = i;
      rec->last_hi = j->whi[i];
    }
  if (j->method == JOB_FULL)
    return 1;
  memcpy (*pp, j->cols[k], j->hi - j->lo);
  for (i = 0; i < k; i++)
    if (j->whi[i] > j->wlo[i])
      xor_into (*pp + (j->wlo[i] - j->lo), j->src[i], j->whi[i] - j->wlo[i]);
  rec->pp = *pp;
  *pp += j->hi - j->lo;
  return 1;
}

/* Queue the log entries of the jobs into B; *PARTIAL: one of them leaves columns alone
 * (its entry must be on the member before any of its data goes out). */
static int
jobs_log (struct raid_array *a, struct raid_layout *L, struct stripe_job *jobs, unsigned njobs,
          struct io_batch *b, struct ppl_req *req, int *partial)
{
  size_t pp_bytes = 0;
  unsigned jn, nrec = 0;
  struct ppl_rec *recs;
  uint8_t *pp;
  int rc;

  for (jn = 0; jn < njobs; jn++)
    if (jobs[jn].method != JOB_FULL)
      pp_bytes += jobs[jn].hi - jobs[jn].lo;
  recs = scratch_get (&a->pool, njobs * sizeof *recs + pp_bytes);
  if (!recs)
    return -ENOMEM;
  pp = (uint8_t *) (recs + njobs);
  for (jn = 0; jn < njobs; jn++)
    if (job_log_rec (a, L, &jobs[jn], &recs[nrec], &pp)) {
      *partial |= recs[nrec].pp != NULL;
      nrec++;
    }
  rc = ppl_log (a, recs, nrec, b, req);
  scratch_put (&a->pool, recs);
  return rc;
}

/* A write too big for the log's rings in one go: whole stripes, in two halves.  The
 * entries of one write on one member must fit in half a ring: two partial stripes, a
 * header per PPL_RECS stripes, and each of two entries' pp rounded up to a header. */
static int
ppl_too_big (struct raid_array *a, struct raid_layout *L, unsigned njobs)
{
  uint64_t worst = 2 * (uint64_t) L->g.chunk + PPL_HEADER * (njobs / PPL_RECS + 3);
  return njobs > 1 && ppl_active (a, L) && worst > a->ppl.log_size / 2;
}

/* A member whose flush failed is failed, as one whose write did. */
static void
fail_flushers (void *a, struct io_batch *f)
{
  fail_writers (a, f);
}

/* Flush the members B wrote to that keep writes in a volatile cache: what B wrote is
 * durable when it returns. */
static void
flush_cached_writers (struct raid_array *a, struct io_batch *b)
{
  batch_flush_cached (b, 1, fail_flushers, a);
}

static int
parity_write (struct raid_array *a, struct raid_layout *L, const uint8_t *buf, uint32_t len, uint64_t off)
{
  uint64_t end = off + len, first = (off >> L->g.chunk_shift) / L->g.k;
  uint64_t last = ((end - 1) >> L->g.chunk_shift) / L->g.k, s;
  unsigned njobs = last - first + 1, jn;
  struct stripe_job *jobs;
  uint8_t *scratch = NULL, *at;
  struct ppl_req ppl;
  size_t total = 0;
  struct io_batch b;
  int rc = 0, partial = 0;

  ppl_req_init (&ppl);
  if (ppl_too_big (a, L, njobs)) {
    uint64_t cut = (first + njobs / 2) * L->g.k * L->g.chunk;
    rc = parity_write (a, L, buf, (uint32_t) (cut - off), off);
    return rc ? rc : parity_write (a, L, buf + (cut - off), (uint32_t) (end - cut), cut);
  }
  jobs = scratch_get (&a->pool, njobs * sizeof *jobs);
  if (!jobs)
    return -ENOMEM;
  for (jn = 0, s = first; s <= last; s++, jn++) {
    job_plan_range (a, L, &jobs[jn], s, buf, off, end);
    jobs[jn].method = job_choose (a, L, &jobs[jn]);
    total += job_scratch (a, L, &jobs[jn]);
  }
  scratch = scratch_get (&a->pool, total);
  if (!scratch) {
    scratch_put (&a->pool, jobs);
    return -ENOMEM;
  }
  for (at = scratch, jn = 0; jn < njobs; jn++) {
    job_set_cols (a, L, &jobs[jn], at);
    at += job_scratch (a, L, &jobs[jn]);
  }

  batch_init (&b, &a->poll_gate);
  for (jn = 0; jn < njobs && rc == 0; jn++)
    rc = job_queue_reads (a, L, &jobs[jn], jn, &b);
  if (rc == 0) {
    batch_run (&b);
    jobs_note_reads (a, L, jobs, &b);
  }
  for (jn = 0; jn < njobs && rc == 0; jn++)
    rc = job_compute (a, L, &jobs[jn]);
  /* Nothing is written unless every stripe could be computed. */
  batch_reset (&b);
  if (rc == 0 && ppl_active (a, L)) {
    rc = jobs_log (a, L, jobs, njobs, &b, &ppl, &partial);
    if (rc == 0 && partial) {     /* a crash after any data went out must find the entry */
      batch_run (&b);
      fail_writers (a, &b);
      flush_cached_writers (a, &b);   /* durable first, as md writes its entries FUA */
      batch_reset (&b);
    }
  }
  /* closing: a log entry that failed on a held parity member failed nobody (raid_closing),
   * and the data must not go out without it: the next start's replay would not know the
   * stripe (a failed member instead would be left out, its parity rebuilt) */
  if (rc == 0 && array_closing (a))
    rc = -EIO;
  for (jn = 0; jn < njobs && rc == 0; jn++)
    rc = job_queue_writes (a, L, &jobs[jn], &b);
  if (rc == 0) {
    batch_run (&b);
    fail_writers (a, &b);
  }
  ppl_done (a, &ppl, &b);         /* every write it logged has ended */
  batch_free (&b);
  scratch_put (&a->pool, scratch);
  scratch_put (&a->pool, jobs);
  return rc;
}

/* ---- entry points -------------------------------------------------------- */

int
layout_read (struct raid_array *a, struct raid_layout *L, uint8_t *buf, uint32_t len,
             uint64_t off)
{
  return read_pieces (a, L, buf, len, off);
}

int
layout_write (struct raid_array *a, struct raid_layout *L, const uint8_t *buf, uint32_t len,
              uint64_t off)
{
  uint64_t first, last;
  int rc;

  lock_units (L, len, off, &first, &last);
  stripe_lock_range (&a->locks, first, last);
  bitmap_write_begin (a, first, last);
  /* closing: the bits' block that failed on a held member failed nobody (raid_closing),
   * and no data goes out without them there: the next start may read its bitmap (its
   * events tie with the others') and leave the region unlike on the members.  The request
   * fails with EIO anyway (pace_request_end) */
  if (array_closing (a))
    rc = -EIO;
  else if (L->g.family == RAID_FAMILY_NEAR)
    rc = near_write (a, L, buf, len, off);
  else
    rc = parity_write (a, L, buf, len, off);
  stripe_cache_invalidate (&a->stripe_cache, first, last);   /* written or not */
  bitmap_write_end (a, first, last);
  stripe_unlock_range (&a->locks, first, last);
  return rc;
}

/* A request on the layouts that hold its bytes: during a reshape the part
 * below the reshape position is in the new layout, the rest in the old.
 * A write into the new layout beyond what the superblocks record as moved
 * records it first: after a crash the reshape copies again from the
 * recorded position, and must not copy stale old bytes over this write. */
static int
layouts_io (struct raid_array *a, uint8_t *buf, uint32_t len, uint64_t off, int write)
{
  uint64_t end = off + len, pos;
  struct reshape_ticket ticket;
  uint32_t low;
  int rc = 0, reshaping;

  pthread_rwlock_rdlock (&a->reshape.lock);
  reshaping = atomic_load (&a->reshape.active);
  pos = reshaping ? reshape_enter (a, &ticket, off, end) : UINT64_MAX;
  low = pos <= off ? 0 : end <= pos ? len : (uint32_t) (pos - off);
  if (reshaping && low && write && off + low > atomic_load (&a->reshape.recorded))
    rc = reshape_record (a, off + low);
  if (low && rc == 0)
    rc = write ? layout_write (a, &a->lay, buf, low, off) : layout_read (a, &a->lay, buf, low, off);
  if (low < len && rc == 0)
    rc = write ? layout_write (a, &a->prev, buf + low, len - low, off + low)
               : layout_read (a, &a->prev, buf + low, len - low, off + low);
  if (reshaping)
    reshape_leave (a, &ticket);
  pthread_rwlock_unlock (&a->reshape.lock);
  return rc;
}

static int
read_request (struct raid_array *a, void *buf, uint32_t len, uint64_t offset)
{
  int rc = check_range (a, len, offset);

  if (rc || len == 0)
    return rc;
  if (!array_check (a, "read"))
    return -EIO;
  return layouts_io (a, buf, len, offset, 0);
}

static int
write_request (struct raid_array *a, const void *buf, uint32_t len, uint64_t offset,
               unsigned flags)
{
  int rc = check_range (a, len, offset);

  if (rc || len == 0)
    return rc;
  if ((rc = array_readonly (a, NULL, 0)) != 0)
    return rc;
  if (!array_check (a, "write"))
    return -EIO;
  rc = layouts_io (a, (uint8_t *) buf, len, offset, 1);
  if (rc == 0 && !array_closing (a) && !array_check (a, "complete a write"))
    rc = -EIO;
  if (rc == 0 && (flags & RAID_WRITE_FUA))
    rc = raid_flush (a);
  return rc;
}

/* Flush every working member (CACHED: those that keep writes in a volatile cache) and
 * wait for all.  GATE: as batch_init's.  It needs no memory (batch_add_flush: a waiter
 * for the log's room could otherwise only wait for memory, its stripes locked). */
static void
flush_some_members (struct raid_array *a, struct poll_gate *gate, int cached)
{
  struct io_batch b;

  batch_init (&b, gate);
  for (unsigned i = 0; i < a->lay.g.n; i++) {
    struct raid_slot *s = &a->slot[i];
    if (s->m.ops && !atomic_load (&s->faulty) && (!cached || slot_volatile_cache (s)))
      batch_add_flush (&b, s, fail_flushers, a);
  }
  batch_run_flushes (&b, fail_flushers, a);
  batch_free (&b);
}

void
flush_members (struct raid_array *a)
{
  flush_some_members (a, &a->poll_gate, 0);
}

void
flush_cached_members (struct raid_array *a, struct poll_gate *gate)
{
  flush_some_members (a, gate, 1);
}

static int
flush_request (struct raid_array *a)
{
  uint64_t n = ppl_flush_begin (a);

  if (!a->readonly)               /* else nothing was written */
    flush_members (a);
  ppl_flush_ended (a, n);         /* the log's room flush: its writes are durable */
  return !array_closing (a) && array_check (a, "flush") ? 0 : -EIO;
}

/* Every request from above is counted in and out for the speed limits of
 * resync and recovery (pace.c).  A fenced array sends nothing (see RAID_EFENCED), nor
 * does a closing one (raid_closing): a request that raced with either fails in
 * pace_request_end. */
int
raid_read (struct raid_array *a, void *buf, uint32_t len, uint64_t offset)
{
  if (array_refuses_requests (a))
    return -EIO;
  pace_request_begin (a);
  return pace_request_end (a, read_request (a, buf, len, offset));
}

int
raid_write (struct raid_array *a, const void *buf, uint32_t len, uint64_t offset,
            unsigned flags)
{
  if (array_refuses_requests (a))
    return -EIO;
  pace_request_begin (a);
  return pace_request_end (a, write_request (a, buf, len, offset, flags));
}

int
raid_flush (struct raid_array *a)
{
  if (array_refuses_requests (a))
    return -EIO;
  pace_request_begin (a);
  return pace_request_end (a, flush_request (a));
}

/* ---- resync -------------------------------------------------------------- */

/* Units a resync step takes at most, and the scratch bytes it may use for them.  One
 * unit at a time left the members idle between units. */
#define RESYNC_WINDOW 16
#define RESYNC_SCRATCH (16u << 20)

static unsigned
resync_window_units (const struct raid_layout *L)
{
  size_t w = RESYNC_SCRATCH / ((size_t) unit_pieces (L) * L->g.chunk);
  return w < 1 ? 1 : w > RESYNC_WINDOW ? RESYNC_WINDOW : (unsigned) w;
}

/* Resync units [u, u+w) (caller holds their stripe locks): the data of all of them
 * (mirrors: the first copy) read in one batch, then their redundancy written in
 * another.  Returns the units done: all, or those before the first whose data could
 * not be read (*rc = -EIO). */
static unsigned
resync_window (struct raid_array *a, struct raid_layout *L, uint64_t u, unsigned w,
               uint8_t *scratch, struct io_batch *b, int *rc)
{
  int parity = L->g.family == RAID_FAMILY_PARITY;
  unsigned i, c, n = unit_pieces (L), data = parity ? L->g.k : 1, good = w;
  size_t unit_bytes = (size_t) n * L->g.chunk;

  /* Read the data (mirrors: the first copy), then write the redundancy. */
  batch_reset (b);
  for (i = 0; i < w; i++)
    for (c = 0; c < data; c++) {
      unsigned before = b->n;
      unit_piece_io (b, a, L, u + i, c, RAID_IO_READ, scratch + i * unit_bytes
                     + (size_t) c * L->g.chunk);
      if (b->n > before)
        b->ios[before].tag = i;
      else
        good = i < good ? i : good;
    }
  batch_run (b);
  for (i = 0; i < b->n; i++)
    if (b->ios[i].err && b->ios[i].tag < good)
      good = b->ios[i].tag;
  if (good < w)
    *rc = -EIO;
  batch_reset (b);
  for (i = 0; i < good; i++) {
    uint8_t *cols[RAID_MAX_MEMBERS];
    for (c = 0; c < n; c++)
      cols[c] = scratch + i * unit_bytes + (size_t) c * L->g.chunk;
    if (parity)
      codec_encode (&L->codec, L->g.chunk, cols, cols + L->g.k);
    for (c = data; c < n; c++)
      unit_piece_io (b, a, L, u + i, c, RAID_IO_WRITE, parity ? cols[c] : cols[0]);
  }
  batch_run (b);
  fail_writers (a, b);
  stripe_cache_invalidate (&a->stripe_cache, u, u + w - 1);  /* decodes from new parity */
  return good;
}

int
raid_needs_resync (struct raid_array *a)
{
  return !a->readonly && atomic_load (&a->resync_offset) != RAID_RESYNC_DONE;
}

static void
resync_checkpoint (struct raid_array *a, uint64_t next)
{
  atomic_store (&a->resync_offset, next);
  array_checkpoint (a);
}

uint64_t
resync_units (const struct raid_array *a)
{
  const struct raid_layout *L = &a->lay;

  return L->g.family == RAID_FAMILY_PARITY ? L->g.rows : geom_data_chunks (&L->g);
}

int
raid_resync (struct raid_array *a)
{
  struct raid_layout *L = &a->lay;
  uint64_t units = resync_units (a);
  uint64_t u = atomic_load (&a->resync_offset), done = 0;
  uint8_t missing[RAID_MAX_MEMBERS];
  struct sync_pace pace = { .kind = RAID_RUN_RESYNC };
  struct io_batch b;
  unsigned window;
  uint8_t *scratch;
  int rc = 0;

  if (u == RAID_RESYNC_DONE)
    return 0;
  if (a->readonly)
    return -EROFS;
  if (atomic_load (&a->reshape.active))
    return -EAGAIN;       /* the reshape rewrites parity; the resync follows it */
  array_missing (a, missing);
  for (unsigned i = 0; i < L->g.n; i++)
    if (missing[i]) {
      raid_logf (a, RAID_LOG_WARN, "%s: resync skipped: member slot %u is missing; "
                 "the array needs a rebuild, not a resync", a->sb.name, i);
      return -EAGAIN;
    }
  window = resync_window_units (L);
  scratch = scratch_get (&a->pool, (size_t) window * unit_pieces (L) * L->g.chunk);
  if (!scratch)
    return -ENOMEM;
  batch_init (&b, NULL);   /* background work: never polls */
  run_begin (a, RAID_RUN_RESYNC);
  if (a->bitmap.nbits)
    raid_logf (a, RAID_LOG_INFO, "%s: resync from %s %llu of %llu, over the %llu of %llu "
               "regions the write-intent bitmap held dirty", a->sb.name, unit_word (a),
               (unsigned long long) u, (unsigned long long) units,
               (unsigned long long) bitmap_unsynced_bits (a),
               (unsigned long long) a->bitmap.nbits);
  else
    raid_logf (a, RAID_LOG_INFO, "%s: resync from %s %llu of %llu", a->sb.name, unit_word (a),
               (unsigned long long) u, (unsigned long long) units);
  while (rc == 0) {
    unsigned w, good;
    /* Clean regions are in sync: the resync point passes them unlocked. */
    u = bitmap_next_unsynced (a, u, units);
    atomic_store (&a->resync_offset, u);
    if (u >= units)
      break;
    if (atomic_load (&a->resync_stop)) {
      rc = -ECANCELED;
      break;
    }
    /* A member lost on the way: stop, so that its recovery (which the
     * caller runs next) does not wait behind a paced resync. */
    if (array_degraded (a)) {
      raid_logf (a, RAID_LOG_WARN, "%s: resync paused at %s %llu of %llu: a member "
                 "failed; it resumes once the array is whole", a->sb.name, unit_word (a),
                 (unsigned long long) u, (unsigned long long) units);
      rc = -EAGAIN;
      break;
    }
    /* A window of units, none of them in a clean region. */
    for (w = 1; w < window && u + w < units && bitmap_unit_unsynced (a, u + w); w++)
      ;
    stripe_lock_range (&a->locks, u, u + w - 1);
    good = resync_window (a, L, u, w, scratch, &b, &rc);
    /* Writes below the resync point use read-modify-write: advance only
     * while the units are still locked. */
    atomic_store (&a->resync_offset, u + good);
    stripe_unlock_range (&a->locks, u, u + w - 1);
    if (rc == 0 && (done + w) / 4096 != done / 4096)
      resync_checkpoint (a, u + w);
    done += w;
    u += good;
    if (rc == 0)
      sync_pace (a, &pace, (uint64_t) w * L->g.chunk);
  }
  batch_free (&b);
  scratch_put (&a->pool, scratch);
  if (rc == 0 && !array_check (a, "finish resync"))
    rc = -EIO;
  resync_checkpoint (a, rc == 0 ? RAID_RESYNC_DONE : atomic_load (&a->resync_offset));
  run_end (a, RAID_RUN_RESYNC, NULL, 0);
  return rc;
}

void
raid_resync_cancel (struct raid_array *a)
{
  atomic_store (&a->resync_stop, 1);
}

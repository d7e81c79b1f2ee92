/* The partial parity log (md's consistency policy "ppl", RAID5 only): closes the write
 * hole.  A write that leaves some data columns of a stripe alone first logs, on the
 * stripe's parity member, the partial parity of the columns it leaves: their XOR over
 * the rows it writes (pp).  After a crash, on whatever members came back, the parity of
 * the stripes written at the crash is made again from pp and the columns the write
 * covers, as they are on the members (old or new): so a member missing at the start
 * (a dirty degraded array) is rebuilt from parity that matches its stripe, and the
 * columns no write touched come back as they were.
 *
 * The log is a ring on each member, [log_offset, log_offset + log_size), entries one
 * after another: a 4 KiB header of up to PPL_RECS records (a stripe each) and the pp
 * bytes of its partial records.  Entries sit at increasing virtual positions (their
 * sequence), wrapping over the ring; a position is taken again only once every write
 * logged there has ended and is durable.  Writes to a stripe are serialised by its
 * stripe lock and every write to a stripe whose parity member is in sync logs a record
 * (a full-stripe write too, without pp: "the data columns make the parity"), so the
 * newest record of a stripe found in the ring is the last write to it, and replaying
 * it alone is right whether that write ended or not: every earlier write to the stripe
 * was durable before its entry went out (stripes_durable; entries landing out of order:
 * ring_scan and entry_parse).  An
 * entry of an older generation (ppl_gen: bumped at every start and whenever a member
 * takes a slot, with no write in flight) is never replayed: writes made while a member
 * was out were not logged on it.
 *
 * A partial write waits for its log entry before its data goes out (a crash between
 * the two must find the entry); a full-stripe write sends its entry with its data: its
 * replay only matters once it ended. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/crc.h>

#include "raid-int.h"

static const char ppl_magic[8] = "aoeppl";   /* with its NULs: 8 bytes */
#define PPL_NEVER (UINT64_MAX - 1)          /* a room flush that never ends: ppl_done */

enum {
  H_MAGIC = 0, H_CRC = 8, H_NREC = 12, H_UUID = 16, H_GEN = 32, H_SEQ = 40, H_SLOT = 48,
  H_PP_BYTES = 52, H_PP_CRC = 56, H_DURABLE = 60, H_RECS = 64,
  R_STRIPE = 0, R_LO = 8, R_HI = 12, R_FIRST_LO = 16, R_LAST_HI = 20, R_FIRST_COL = 24,
  R_LAST_COL = 25, R_FLAGS = 26, R_SIZE = 32,
};
_Static_assert (PPL_RECS == (PPL_HEADER - H_RECS) / R_SIZE, "a header holds PPL_RECS records");
#define REC_PP 1u                         /* the record carries pp (else: all zeros) */

static uint32_t
pp_crc (const uint8_t *pp, uint32_t len, uint32_t seed)
{
  return crc32_iscsi ((unsigned char *) pp, (int) len, seed);
}

static uint32_t
header_crc (const uint8_t *h)
{
  uint8_t zero[4] = { 0 };
  uint32_t c = crc32_iscsi ((unsigned char *) h, H_CRC, 0xffffffff);
  c = crc32_iscsi (zero, 4, c);
  return crc32_iscsi ((unsigned char *) h + H_CRC + 4, PPL_HEADER - H_CRC - 4, c);
}

/* ---- the ring's room, per slot -------------------------------------------- */

void
ppl_init (struct raid_array *a)
{
  for (unsigned i = 0; i < RAID_MAX_MEMBERS; i++) {
    struct ppl_ring *r = &a->ppl.ring[i];
    pthread_mutex_init (&r->lock, NULL);
    pthread_cond_init (&r->room, NULL);
  }
  pthread_mutex_init (&a->ppl.room_flush_lock, NULL);
}

void
ppl_destroy (struct raid_array *a)
{
  for (unsigned i = 0; i < RAID_MAX_MEMBERS; i++) {
    pthread_mutex_destroy (&a->ppl.ring[i].lock);
    pthread_cond_destroy (&a->ppl.ring[i].room);
  }
  pthread_mutex_destroy (&a->ppl.room_flush_lock);
}

uint64_t
ppl_flush_begin (struct raid_array *a)
{
  return atomic_fetch_add (&a->ppl.room_flush_begun, 1) + 1;
}

void
ppl_flush_ended (struct raid_array *a, uint64_t n)
{
  /* closing: a member whose flush failed was not failed for it (raid_closing), and its
   * cache may still hold the writes the flush was for: no flush makes them durable now,
   * else a record could go out over bytes only that cache holds, or its ring's tail pass
   * the record of a write not durable on it, and a crash before the next start lose them */
  if (array_closing (a))
    return;
  /* flushes end in any order: one numbered N began after every lower one did, so it
   * covers all they cover */
  uint64_t ended = atomic_load (&a->ppl.room_flush_ended);
  while (ended < n && !atomic_compare_exchange_weak (&a->ppl.room_flush_ended, &ended, n))
    ;
}

/* Flush every member with a volatile cache, unless room flush number NEED has ended
 * already: then every write that ended before NEED began is durable.  It always ends
 * (a flush needs no memory: flush_cached_members), so a waiter for room never spins. */
static void
room_flush (struct raid_array *a, uint64_t need)
{
  pthread_mutex_lock (&a->ppl.room_flush_lock);
  if (atomic_load (&a->ppl.room_flush_ended) < need) {
    uint64_t n = ppl_flush_begin (a);
    /* a member whose flush fails is failed: no write of it waits in its cache any more */
    flush_cached_members (a, &a->poll_gate);
    ppl_flush_ended (a, n);
  }
  pthread_mutex_unlock (&a->ppl.room_flush_lock);
}

/* The replay makes a stripe from its newest record alone, so every earlier write to the
 * stripe must be durable before a record of it goes out: a record's pp is made of the
 * columns as the host last wrote them (an earlier write lost from a cache then leaves
 * parity made of bytes no member holds), and the older records are not replayed (one
 * lost from a cache leaves its rows' new parity beside old data).  With the room flush
 * lazy, an earlier write that ended may still be in a cache: a room flush first, when
 * the stripe lock's bucket holds one.  Then the records' buckets hold this write (until
 * ppl_done numbers its flush).  Stripes sharing a bucket only cost a flush more.  The
 * caller holds the stripes' locks. */
static int
stripes_durable (struct raid_array *a, const struct ppl_rec *recs, unsigned nrec)
{
  for (unsigned i = 0; i < nrec; i++) {
    uint64_t need = a->ppl.pending[recs[i].stripe % STRIPE_LOCKS];
    while (need != PPL_PENDING && atomic_load (&a->ppl.room_flush_ended) < need) {
      if (array_closing (a))
        return -EIO;            /* no flush counts now (ppl_flush_ended): nothing logged */
      room_flush (a, need);
    }
  }
  for (unsigned i = 0; i < nrec; i++)
    a->ppl.pending[recs[i].stripe % STRIPE_LOCKS] = PPL_PENDING;
  return 0;
}

/* The write of REQ ended, durable after room flush FLUSH (0: at once): its stripes'
 * buckets are durable after that, or after the older writes' flush if later. */
static void
stripes_written (struct raid_array *a, const struct ppl_req *req, uint64_t flush)
{
  for (uint64_t u = req->first; u <= req->last && u - req->first < STRIPE_LOCKS; u++) {
    uint64_t *p = &a->ppl.pending[u % STRIPE_LOCKS];
    if (*p == PPL_PENDING || flush > *p)
      *p = flush;
  }
}

/* Give back, oldest first, the room of entries whose writes ended and are durable. */
static void
ring_drop_durable (struct raid_array *a, struct ppl_ring *r)
{
  uint64_t flushed = atomic_load (&a->ppl.room_flush_ended);

  while (r->queued && r->q[r->first].done && r->q[r->first].flush <= flushed) {
    r->first = (r->first + 1) % PPL_QUEUE;
    r->queued--;
  }
}

/* Take BYTES of slot S's ring at its head, once no write logged there is still running
 * or in a cache (a room flush if one is: md's ppl_do_flush, on demand): the entry's
 * virtual position in *POS, its place in the queue in *AT, and in *DURABLE the ring's
 * tail then: every write logged below it ended and is durable.  -EIO when closing and
 * the room waits for a flush, which counts no more (ppl_flush_ended). */
static int
ring_take (struct raid_array *a, unsigned s, uint64_t bytes, uint64_t *pos, unsigned *at,
           uint64_t *durable)
{
  struct ppl_ring *r = &a->ppl.ring[s];

  pthread_mutex_lock (&r->lock);
  for (;;) {
    ring_drop_durable (a, r);
    *durable = r->queued ? r->q[r->first].pos : r->head;
    if (r->queued < PPL_QUEUE && r->head + bytes - *durable <= a->ppl.log_size)
      break;
    if (r->queued && r->q[r->first].done) {   /* ended, in a cache: flush for its room */
      uint64_t need = r->q[r->first].flush;
      if (array_closing (a)) {
        pthread_mutex_unlock (&r->lock);
        return -EIO;
      }
      pthread_mutex_unlock (&r->lock);
      room_flush (a, need);
      pthread_mutex_lock (&r->lock);
    }
    else
      pthread_cond_wait (&r->room, &r->lock);
  }
  *pos = r->head;
  r->head += bytes;
  *at = (r->first + r->queued++) % PPL_QUEUE;
  r->q[*at].pos = *pos;
  r->q[*at].done = 0;
  pthread_mutex_unlock (&r->lock);
  return 0;
}

/* The writes logged at queue place AT ended, durable once room flush FLUSH has: their
 * room may be taken again then, once every older one's may. */
static void
ring_give (struct raid_array *a, struct ppl_ring *r, unsigned at, uint64_t flush)
{
  pthread_mutex_lock (&r->lock);
  r->q[at].done = 1;
  r->q[at].flush = flush;
  ring_drop_durable (a, r);
  pthread_cond_broadcast (&r->room);
  pthread_mutex_unlock (&r->lock);
}

/* ---- logging a write ------------------------------------------------------ */

static uint32_t
rec_pp_bytes (const struct ppl_rec *rec)
{
  return rec->pp ? rec->hi - rec->lo : 0;
}

/* Bytes of the entries logging records [from, to) of one slot: a header per PPL_RECS. */
static uint64_t
entries_bytes (const struct ppl_rec *recs, const unsigned *idx, unsigned n)
{
  uint64_t bytes = 0, pp = 0;

  for (unsigned i = 0; i < n; i++) {
    pp += rec_pp_bytes (&recs[idx[i]]);
    if (i % PPL_RECS == PPL_RECS - 1 || i == n - 1) {
      bytes += PPL_HEADER + ((pp + PPL_HEADER - 1) & ~(uint64_t) (PPL_HEADER - 1));
      pp = 0;
    }
  }
  return bytes;
}

static void
put_rec (uint8_t *r, const struct ppl_rec *rec)
{
  le_put64 (r, R_STRIPE, rec->stripe);
  le_put32 (r, R_LO, rec->lo);
  le_put32 (r, R_HI, rec->hi);
  le_put32 (r, R_FIRST_LO, rec->first_lo);
  le_put32 (r, R_LAST_HI, rec->last_hi);
  r[R_FIRST_COL] = (uint8_t) rec->first_col;
  r[R_LAST_COL] = (uint8_t) rec->last_col;
  r[R_FLAGS] = rec->pp ? REC_PP : 0;
}

/* Encode the entries of records IDX[0..n) into BUF (entries_bytes long), the first at
 * virtual position POS; every write logged below DURABLE ended and is durable. */
static void
entries_encode (struct raid_array *a, unsigned slot, const struct ppl_rec *recs,
                const unsigned *idx, unsigned n, uint64_t pos, uint64_t durable, uint8_t *buf)
{
  for (unsigned i = 0; i < n;) {
    unsigned nrec = n - i < PPL_RECS ? n - i : PPL_RECS;
    uint8_t *h = buf, *pp = buf + PPL_HEADER;
    uint32_t pp_bytes = 0, crc = 0xffffffff;

    memset (h, 0, PPL_HEADER);
    for (unsigned r = 0; r < nrec; r++) {
      const struct ppl_rec *rec = &recs[idx[i + r]];
      put_rec (h + H_RECS + r * R_SIZE, rec);
      if (rec->pp) {
        memcpy (pp + pp_bytes, rec->pp, rec_pp_bytes (rec));
        crc = pp_crc (rec->pp, rec_pp_bytes (rec), crc);
        pp_bytes += rec_pp_bytes (rec);
      }
    }
    memcpy (h + H_MAGIC, ppl_magic, 8);
    le_put32 (h, H_NREC, nrec);
    memcpy (h + H_UUID, a->sb.array_uuid, 16);
    le_put64 (h, H_GEN, atomic_load (&a->ppl.gen));
    le_put64 (h, H_SEQ, pos);
    le_put32 (h, H_SLOT, slot);
    le_put32 (h, H_PP_BYTES, pp_bytes);
    le_put32 (h, H_PP_CRC, crc);
    /* in headers behind POS, plus one: 0 is a log written before this field */
    le_put32 (h, H_DURABLE, (uint32_t) ((pos - durable) / PPL_HEADER + 1));
    le_put32 (h, H_CRC, header_crc (h));
    uint64_t size = PPL_HEADER + ((pp_bytes + PPL_HEADER - 1) & ~(uint64_t) (PPL_HEADER - 1));
    memset (pp + pp_bytes, 0, size - PPL_HEADER - pp_bytes);
    buf += size;
    pos += size;
    i += nrec;
  }
}

/* Queue the write of BYTES of BUF at virtual position POS of SLOT's ring: in two parts
 * when it wraps. */
static int
ring_queue (struct raid_array *a, struct io_batch *b, unsigned slot, uint64_t pos,
            uint64_t bytes, uint8_t *buf)
{
  uint64_t ring = a->ppl.log_size, at = pos % ring;
  uint64_t first = bytes < ring - at ? bytes : ring - at;
  struct raid_slot *s = &a->slot[slot];
  int ok = !!batch_add (b, s, RAID_IO_WRITE, a->ppl.log_offset + at, (uint32_t) first, buf, 0);

  if (first < bytes)
    ok &= !!batch_add (b, s, RAID_IO_WRITE, a->ppl.log_offset, (uint32_t) (bytes - first),
                       buf + first, 0);
  return ok ? 0 : -ENOMEM;
}

int
ppl_active (struct raid_array *a, const struct raid_layout *L)
{
  return L == &a->lay && atomic_load (&a->ppl.on);
}

int
ppl_log (struct raid_array *a, const struct ppl_rec *recs, unsigned nrec, struct io_batch *b,
         struct ppl_req *req)
{
  unsigned idx[nrec ? nrec : 1], n;
  uint64_t bytes[RAID_MAX_MEMBERS] = { 0 }, total = 0;
  uint8_t *at;
  int rc = 0;

  ppl_req_init (req);
  for (unsigned s = 0; s < RAID_MAX_MEMBERS; s++) {
    n = 0;
    for (unsigned i = 0; i < nrec; i++)
      if (recs[i].slot == s)
        idx[n++] = i;
    if (n)
      total += bytes[s] = entries_bytes (recs, idx, n);
  }
  if (!total)
    return 0;
  rc = stripes_durable (a, recs, nrec);
  if (rc)
    return rc;
  req->first = UINT64_MAX;
  for (unsigned i = 0; i < nrec; i++) {
    req->first = recs[i].stripe < req->first ? recs[i].stripe : req->first;
    req->last = recs[i].stripe > req->last ? recs[i].stripe : req->last;
  }
  req->buf = scratch_get (&a->pool, total);
  if (!req->buf)
    return -ENOMEM;
  /* slots in ascending order: a writer waits for room only on slots above those it
   * holds room on, so no two wait on each other */
  at = req->buf;
  for (unsigned s = 0; s < RAID_MAX_MEMBERS && rc == 0; s++) {
    if (!bytes[s])
      continue;
    n = 0;
    for (unsigned i = 0; i < nrec; i++)
      if (recs[i].slot == s)
        idx[n++] = i;
    struct ppl_hold *h = &req->hold[req->nhold];
    uint64_t durable;
    h->slot = s;
    if ((rc = ring_take (a, s, bytes[s], &h->pos, &h->at, &durable)) != 0)
      break;
    req->nhold++;
    entries_encode (a, s, recs, idx, n, h->pos, durable, at);
    rc = ring_queue (a, b, s, h->pos, bytes[s], at);
    at += bytes[s];
  }
  return rc;
}

void
ppl_done (struct raid_array *a, struct ppl_req *req, const struct io_batch *written)
{
  /* a room flush that begins after this reads the count covers these writes */
  uint64_t flush = req->nhold && written && batch_left_in_cache (written)
                   ? atomic_load (&a->ppl.room_flush_begun) + 1 : 0;

  /* closing: its write may have failed on a held member without failing it
   * (raid_closing), its stripes left with its new parity beside that member's old bytes,
   * and only its record makes them again at the next start.  So it is never durable:
   * its room is kept (a later header's tail past it would have the replay drop it; a
   * writer that needs the room fails, ring_take) and so are its stripes' buckets */
  if (array_closing (a))
    flush = PPL_NEVER;

  stripes_written (a, req, flush);     /* the caller still holds the stripes' locks */
  for (unsigned i = 0; i < req->nhold; i++)
    ring_give (a, &a->ppl.ring[req->hold[i].slot], req->hold[i].at, flush);
  scratch_put (&a->pool, req->buf);
  ppl_req_init (req);
}

/* ---- replay after a crash ------------------------------------------------- */

/* A record found in a ring, with where its pp is (NULL: zeros), and where its entry
 * starts and ends in the ring's virtual positions.  STALE: its entry's pp is not what
 * its header says (overwritten since: its write ended and is durable; or not all there:
 * its data never went out), so nothing is made again for its stripe, and no older record
 * of it is. */
struct found_rec {
  struct ppl_rec rec;
  uint64_t seq, end;
  uint64_t durable;                    /* its header's word: every write logged below
                                        * this ended and was durable (0: none said) */
  int stale;
};

static int
found_cmp (const void *x, const void *y)
{
  const struct found_rec *p = x, *q = y;
  if (p->rec.stripe != q->rec.stripe)
    return p->rec.stripe < q->rec.stripe ? -1 : 1;
  return p->seq > q->seq ? -1 : p->seq < q->seq;     /* newest first */
}

/* Copy LEN bytes at ring byte AT (wrapping) of the ring image LOG. */
static void
ring_read (const uint8_t *log, uint64_t ring, uint64_t at, uint8_t *dst, uint64_t len)
{
  at %= ring;
  uint64_t first = len < ring - at ? len : ring - at;
  memcpy (dst, log + at, first);
  memcpy (dst + first, log, len - first);
}

/* The crc of LEN bytes at ring byte AT (wrapping) of the ring image LOG. */
static uint32_t
ring_crc (const uint8_t *log, uint64_t ring, uint64_t at, uint64_t len)
{
  at %= ring;
  uint64_t first = len < ring - at ? len : ring - at;
  return pp_crc (log, (uint32_t) (len - first), pp_crc (log + at, (uint32_t) first, 0xffffffff));
}

/* The records of the entry whose sound header is at ring byte AT of slot SLOT's image
 * LOG, appended to *OUT (PP pointing into PPBUF, which keeps its pp and has ROOM bytes
 * left; stale when its pp is not sound); how many, or 0 when no entry of this array,
 * generation and slot starts there. */
static unsigned
entry_parse (struct raid_array *a, unsigned slot, const uint8_t *log, uint64_t at,
             struct found_rec *out, uint8_t *ppbuf, uint64_t room)
{
  const struct raid_layout *L = &a->lay;
  const uint8_t *h = log + at;
  uint32_t nrec, pp_bytes, used = 0, behind;
  uint64_t durable;
  int stale;

  if (memcmp (h + H_MAGIC, ppl_magic, 8) || le_get32 (h, H_CRC) != header_crc (h)
      || memcmp (h + H_UUID, a->sb.array_uuid, 16) || le_get64 (h, H_GEN) != a->ppl.replay_gen
      || le_get32 (h, H_SLOT) != slot
      /* a writer puts an entry where its sequence falls in the ring: one elsewhere (a
       * header inside another's pp) would, trusted, set the cut-off of ring_scan from a
       * sequence no writer gave it and drop entries a replay needs */
      || le_get64 (h, H_SEQ) % a->ppl.log_size != at)
    return 0;
  nrec = le_get32 (h, H_NREC);
  pp_bytes = le_get32 (h, H_PP_BYTES);
  behind = le_get32 (h, H_DURABLE);
  if (behind && (uint64_t) (behind - 1) * PPL_HEADER > le_get64 (h, H_SEQ))
    return 0;                           /* no writer made it */
  durable = behind ? le_get64 (h, H_SEQ) - (uint64_t) (behind - 1) * PPL_HEADER : 0;
  if (nrec == 0 || nrec > PPL_RECS || pp_bytes > a->ppl.log_size - PPL_HEADER)
    return 0;
  stale = ring_crc (log, a->ppl.log_size, at + PPL_HEADER, pp_bytes) != le_get32 (h, H_PP_CRC);
  /* sound entries of one ring never hold more pp than the ring: more is entries nested
   * in each other's pp (a log written by someone else), not to be copied past ROOM */
  if (!stale && pp_bytes > room)
    return 0;
  if (!stale)
    ring_read (log, a->ppl.log_size, at + PPL_HEADER, ppbuf, pp_bytes);
  for (unsigned i = 0; i < nrec; i++) {
    const uint8_t *r = h + H_RECS + i * R_SIZE;
    struct ppl_rec rec = {
      .slot = slot, .stripe = le_get64 (r, R_STRIPE), .lo = le_get32 (r, R_LO),
      .hi = le_get32 (r, R_HI), .first_lo = le_get32 (r, R_FIRST_LO),
      .last_hi = le_get32 (r, R_LAST_HI), .first_col = r[R_FIRST_COL],
      .last_col = r[R_LAST_COL],
    };
    if (rec.stripe >= L->g.rows || rec.lo >= rec.hi || rec.hi > L->g.chunk
        || rec.first_col > rec.last_col || rec.last_col >= L->g.k
        || rec.first_lo >= L->g.chunk || rec.last_hi > L->g.chunk || rec.last_hi == 0
        || (rec.lo | rec.hi | rec.first_lo | rec.last_hi) % 512   /* a member takes sectors */
        || col_slot (a, (struct raid_layout *) L, rec.stripe, L->g.k)->index != slot)
      return 0;                         /* no writer made it: not trusted at all */
    if (r[R_FLAGS] & REC_PP) {
      if (used + (rec.hi - rec.lo) > pp_bytes)
        return 0;
      rec.pp = stale ? NULL : ppbuf + used;
      used += rec.hi - rec.lo;
    }
    out[i] = (struct found_rec) {
      .rec = rec, .seq = le_get64 (h, H_SEQ), .stale = stale, .durable = durable,
      .end = le_get64 (h, H_SEQ) + PPL_HEADER
             + ((pp_bytes + PPL_HEADER - 1) & ~(uint64_t) (PPL_HEADER - 1)),
    };
  }
  return nrec;
}

/* Columns the record's write covers at row R of its stripe: a bit each. */
static uint32_t
rec_cols_at (const struct ppl_rec *rec, uint32_t row)
{
  uint32_t cols = 0;
  for (unsigned c = rec->first_col; c <= rec->last_col; c++)
    if ((c != rec->first_col || row >= rec->first_lo) && (c != rec->last_col || row < rec->last_hi))
      cols |= 1u << c;
  return cols;
}

/* Make parity rows [lo, hi) of the record's stripe from its pp and the columns COLS as
 * the members hold them; 1 when written, 0 when a column is not there (that write never
 * ended: whatever the column holds is its old or new bytes), -errno. */
static int
replay_range (struct raid_array *a, const struct ppl_rec *rec, uint32_t lo, uint32_t hi,
              uint32_t cols, uint8_t *parity, uint8_t *col)
{
  struct raid_layout *L = &a->lay;
  uint32_t len = hi - lo;
  int err;

  if (!col_usable (a, L, rec->stripe, L->g.k))
    return 0;
  for (unsigned c = 0; c < L->g.k; c++)
    if ((cols >> c & 1) && !col_usable (a, L, rec->stripe, c))
      return 0;
  if (rec->pp)
    memcpy (parity, rec->pp + (lo - rec->lo), len);
  else
    memset (parity, 0, len);
  for (unsigned c = 0; c < L->g.k; c++) {
    if (!(cols >> c & 1))
      continue;
    err = slot_io (col_slot (a, L, rec->stripe, c), RAID_IO_READ, col_offset (L, rec->stripe, lo),
                   len, col);
    if (err)
      return -err;
    for (uint32_t o = 0; o < len; o++)
      parity[o] ^= col[o];
  }
  err = slot_io (col_slot (a, L, rec->stripe, L->g.k), RAID_IO_WRITE,
                 col_offset (L, rec->stripe, lo), len, parity);
  return err ? -err : 1;
}

/* Replay one record: its rows cut where the columns it covers change. */
static int
replay_rec (struct raid_array *a, const struct ppl_rec *rec, uint8_t *parity, uint8_t *col)
{
  uint32_t cut[4] = { rec->lo, rec->first_lo, rec->last_hi, rec->hi }, applied = 0;

  /* sorted cut points within [lo, hi] */
  for (unsigned i = 1; i < 4; i++)
    for (unsigned j = i; j > 0 && cut[j] < cut[j - 1]; j--) {
      uint32_t t = cut[j]; cut[j] = cut[j - 1]; cut[j - 1] = t;
    }
  for (unsigned i = 0; i < 3; i++) {
    uint32_t lo = cut[i] < rec->lo ? rec->lo : cut[i];
    uint32_t hi = cut[i + 1] > rec->hi ? rec->hi : cut[i + 1];
    if (lo >= hi)
      continue;
    int r = replay_range (a, rec, lo, hi, rec_cols_at (rec, lo), parity, col);
    if (r < 0)
      return r;
    applied |= r;
  }
  return applied;
}

/* Read slot SLOT's ring into LOG and append its records to *FOUND. */
static int
ring_scan (struct raid_array *a, unsigned slot, uint8_t *log, uint8_t *pp,
           struct found_rec **found, size_t *nfound, size_t *cap)
{
  uint64_t ring = a->ppl.log_size, last_end = 0, durable = 0;
  size_t first = *nfound, kept;
  uint8_t *ppat = pp;
  int err;

  for (uint64_t at = 0; at < ring; at += PPL_LOG_IO) {
    uint64_t len = ring - at < PPL_LOG_IO ? ring - at : PPL_LOG_IO;
    err = slot_io (&a->slot[slot], RAID_IO_READ, a->ppl.log_offset + at, (uint32_t) len, log + at);
    if (err)
      return -err;
  }
  for (uint64_t at = 0; at < ring; at += PPL_HEADER) {
    if (*nfound + PPL_RECS > *cap) {
      size_t ncap = *cap * 2 + PPL_RECS;
      struct found_rec *grown = realloc (*found, ncap * sizeof **found);
      if (!grown)
        return -ENOMEM;
      *found = grown;
      *cap = ncap;
    }
    /* each entry's pp is copied out whole (it may wrap): PP has a ring's room per
     * slot, more than the sound entries' pp together */
    unsigned n = entry_parse (a, slot, log, at, *found + *nfound, ppat, ring - (ppat - pp));
    for (unsigned i = 0; i < n; i++)
      ppat += rec_pp_bytes (&(*found)[*nfound + i].rec);
    *nfound += n;
  }
  /* Entries land out of order: one whose room a later entry took (that later one's
   * header on the member, an earlier one over it still on its way at the crash) may
   * still look sound, while a newer entry of its stripe is gone.  The later entry took
   * its room once every write logged below its end minus a ring had ended: those need
   * nothing.  Nor do the writes below what any header says was durable when it was
   * written (its ring's tail then): without that, a dirty start would make again every
   * stripe a ring remembers, long after those writes ended (a ring of full-stripe
   * entries: its size over a header, times a stripe read and its parity written). */
  for (size_t i = first; i < *nfound; i++) {
    if ((*found)[i].end > last_end)
      last_end = (*found)[i].end;
    if ((*found)[i].durable > durable)
      durable = (*found)[i].durable;
  }
  if (last_end > ring && last_end - ring > durable)
    durable = last_end - ring;
  kept = first;
  for (size_t i = first; i < *nfound; i++)
    if ((*found)[i].seq >= durable)
      (*found)[kept++] = (*found)[i];
  *nfound = kept;
  return 0;
}

/* Replay the newest records of the stripes whose parity is on SLOT (every record of a
 * stripe is in its parity member's ring: one ring at a time), counting them in
 * *REPLAYED.  0, or -errno with a line in err. */
static int
slot_replay (struct raid_array *a, unsigned slot, uint8_t *log, uint8_t *pp, uint8_t *parity,
             uint8_t *col, struct found_rec **found, size_t *cap, unsigned *replayed,
             char *err, size_t errlen)
{
  size_t nfound = 0;
  int rc = ring_scan (a, slot, log, pp, found, &nfound, cap);

  if (rc) {
    snprintf (err, errlen, "cannot read the partial parity log of member %s: %s",
              slot_name (&a->slot[slot]), strerror (-rc));
    return rc;
  }
  qsort (*found, nfound, sizeof **found, found_cmp);
  for (size_t i = 0; i < nfound; i++) {
    const struct found_rec *f = &(*found)[i];
    if (i && f->rec.stripe == f[-1].rec.stripe)
      continue;                         /* an older write to the stripe: durable */
    if (f->stale)
      continue;
    int r = replay_rec (a, &f->rec, parity, col);
    if (r < 0) {
      snprintf (err, errlen, "cannot replay the partial parity log for stripe %llu: %s",
                (unsigned long long) f->rec.stripe, strerror (-r));
      return r;
    }
    *replayed += r > 0;
  }
  return 0;
}

int
ppl_replay (struct raid_array *a, char *err, size_t errlen)
{
  uint64_t ring = a->ppl.log_size;
  unsigned replayed = 0;
  struct found_rec *found = NULL;
  size_t cap = 0;
  uint8_t *log = malloc (ring), *pp = malloc (ring);
  uint8_t *parity = malloc (a->lay.g.chunk), *col = malloc (a->lay.g.chunk);
  int rc = 0;

  if (!log || !pp || !parity || !col) {
    snprintf (err, errlen, "out of memory replaying the partial parity log");
    rc = -ENOMEM;
  }
  /* a ring's sound entries hold less pp than the ring */
  for (unsigned s = 0; s < a->lay.g.n && rc == 0; s++)
    if (slot_usable (&a->slot[s]))
      rc = slot_replay (a, s, log, pp, parity, col, &found, &cap, &replayed, err, errlen);
  if (rc == 0 && replayed) {
    flush_members (a);                  /* a member that fails it is failed */
    raid_logf (a, RAID_LOG_WARN, "%s: partial parity log replayed: the parity of %u "
               "stripe%s made again from %s last write%s", a->sb.name, replayed,
               replayed == 1 ? "" : "s", replayed == 1 ? "its" : "their",
               replayed == 1 ? "" : "s");
  }
  free (found);
  free (log);
  free (pp);
  free (parity);
  free (col);
  return rc;
}

/* ---- the policy: where the ring goes, switching it ----------------------- */

uint64_t
ppl_ring_needs (uint32_t chunk)
{
  /* two partial stripes of a request on one member, twice: room for a second request
   * while the first one's writes run */
  return 4 * ((uint64_t) chunk + PPL_HEADER);
}

/* The ring a running array switched to the log takes of the ROOM below its data: what
 * its chunk wants, or PPL_RING_MAX when that is less, not all of a big room (a dirty
 * start reads every member's whole ring). */
uint64_t
ppl_ring_for_room (uint64_t room, uint32_t chunk)
{
  uint64_t want = ppl_ring_needs (chunk) > PPL_RING_MAX ? ppl_ring_needs (chunk) : PPL_RING_MAX;

  return (room < want ? room : want) & ~(uint64_t) (PPL_HEADER - 1);
}

const char *
ppl_unfit (const struct raid_geom *g)
{
  if (g->level != RAID_LEVEL_5)
    return "the partial parity log is for raid5 only (md's too): raid6 and k+m keep the "
           "write-intent bitmap and resync";
  return NULL;
}

void
ppl_setup (struct raid_array *a)
{
  a->ppl.log_offset = a->sb.log_offset;
  a->ppl.log_size = a->sb.log_size;
  atomic_store (&a->ppl.gen, a->sb.ppl_gen);
  a->ppl.replay_gen = a->sb.ppl_gen;
  atomic_store (&a->ppl.on, !!(a->sb.features & RAID_FEATURE_PPL));
}

void
ppl_new_generation (struct raid_array *a)
{
  a->sb.ppl_gen++;
  atomic_store (&a->ppl.gen, a->sb.ppl_gen);
}

/* Why the running array cannot take the log now (err filled), or NULL. */
static int
ppl_refused (struct raid_array *a, char *err, size_t errlen)
{
  char label[RAID_NAME_MAX + 3];
  const char *who = array_label (a, label), *unfit = ppl_unfit (&a->lay.g);
  uint64_t room = a->lay.data_offset > RAID_META_END ? a->lay.data_offset - RAID_META_END : 0;

  if (unfit)
    snprintf (err, errlen, "%s", unfit);
  else if (atomic_load (&a->reshape.active))
    snprintf (err, errlen, "cannot keep a partial parity log on %s: a reshape is running: "
              "ask again once it has finished", who);
  /* stripes a crash left unproven are the resync's: the log would not know them, and
   * a dirty degraded start trusts it to know every one */
  else if (atomic_load (&a->resync_offset) != RAID_RESYNC_DONE)
    snprintf (err, errlen, "cannot keep a partial parity log on %s: a resync is still to "
              "run (its parity is unproven since a crash or its creation): ask again once "
              "the array is whole and the resync has finished", who);
  else if (room < PPL_HEADER + a->lay.g.chunk)
    snprintf (err, errlen, "cannot keep a partial parity log on %s: its data starts at byte "
              "%llu of each member, leaving %llu bytes after the metadata, and the log needs "
              "%llu (a chunk and a header): create the array with consistency-policy=ppl",
              who, (unsigned long long) a->lay.data_offset, (unsigned long long) room,
              (unsigned long long) (PPL_HEADER + a->lay.g.chunk));
  else
    return 0;
  return 1;
}

int
raid_set_ppl (struct raid_array *a, int ppl, char *err, size_t errlen)
{
  int rc = array_readonly (a, err, errlen);

  if (rc)
    return rc;
  /* with every stripe lock held no write is in flight: each one logs all or nothing */
  stripe_lock_range (&a->locks, 0, STRIPE_LOCKS - 1);
  pthread_mutex_lock (&a->sb_lock);
  if (ppl && !(a->sb.features & RAID_FEATURE_PPL)) {
    if (ppl_refused (a, err, errlen))
      rc = -EINVAL;
    else {
      a->sb.features |= RAID_FEATURE_PPL;
      a->sb.log_offset = RAID_META_END;
      a->sb.log_size = ppl_ring_for_room (a->lay.data_offset - RAID_META_END, a->lay.g.chunk);
      ppl_new_generation (a);
      ppl_setup (a);
      sb_write_all (a);
      raid_logf (a, RAID_LOG_INFO, "%s: consistency policy ppl: a partial parity log of %llu "
                 "bytes on each member", a->sb.name, (unsigned long long) a->sb.log_size);
    }
  }
  else if (!ppl && (a->sb.features & RAID_FEATURE_PPL)) {
    a->sb.features &= ~RAID_FEATURE_PPL;
    ppl_setup (a);
    sb_write_all (a);
    raid_logf (a, RAID_LOG_INFO, "%s: consistency policy %s: the partial parity log is "
               "dropped", a->sb.name, a->bitmap.nbits ? "bitmap" : "resync");
  }
  sb_unlock (a);
  stripe_unlock_range (&a->locks, 0, STRIPE_LOCKS - 1);
  return rc;
}

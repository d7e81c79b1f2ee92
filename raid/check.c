/* Scrubbing: md's sync_action "check" and "repair".  Every unit (stripe;
 * mirrors: chunk) of a whole array in sync is read on every member and its
 * redundancy compared with its data: a unit that does not match counts as a
 * mismatch (md's mismatch_cnt), which a repair puts right by rewriting the
 * parity (mirrors: the other copies) from the data (the first copy).  A read
 * that fails is rebuilt from the other members and written back in both
 * modes, so latent bad sectors are found and mended before a member is lost
 * and they would be needed.  A window of units at a time under their stripe
 * locks, every member read of the window in one batch (one unit at a time left
 * the members idle between units), within the speed limits; nothing is saved
 * across a restart. */
#include <errno.h>
#include <string.h>

#include "raid-int.h"

#define CHECK_LOG_MAX 10          /* mismatches named in the log per check */
/* Units per window, and the scratch bytes a window may use for its pieces. */
#define CHECK_WINDOW 16
#define CHECK_SCRATCH (16u << 20)

/* A window's reads, by unit and piece (NULL: none could be queued). */
typedef struct member_io *window_ios[CHECK_WINDOW][RAID_MAX_MEMBERS];

static const char *
action_name (enum raid_check_action action)
{
  return action == RAID_CHECK_REPAIR ? "repair" : "check";
}

/* A repair's new parity under the partial parity log: a record of the whole stripe
 * ("the data makes the parity") goes with it, else the stripe's older record, replayed
 * after a crash, would put back parity made from the data as it was.  0 or -ENOMEM. */
static int
repair_log (struct raid_array *a, struct raid_layout *L, uint64_t u, const uint8_t *rewrite,
            struct io_batch *b, struct ppl_req *req)
{
  unsigned k = L->g.k;
  struct ppl_rec rec = { .stripe = u, .lo = 0, .hi = L->g.chunk, .first_col = 0,
                         .last_col = k - 1, .first_lo = 0, .last_hi = L->g.chunk };

  if (L->g.family != RAID_FAMILY_PARITY || !rewrite[k] || !ppl_active (a, L)
      || !col_usable (a, L, u, k))
    return 0;
  rec.slot = col_slot (a, L, u, k)->index;
  return ppl_log (a, &rec, 1, b, req);
}

/* Write the columns (mirrors: copies) REWRITE names: those rebuilt after a
 * read error, and a repair's new redundancy.  A member that fails it is
 * failed. */
static void
write_back (struct raid_array *a, struct raid_layout *L, uint64_t u, uint8_t **cols,
            const uint8_t *rewrite)
{
  struct ppl_req req;
  struct io_batch b;

  ppl_req_init (&req);
  batch_init (&b, NULL);
  if (repair_log (a, L, u, rewrite, &b, &req) == 0) {
    for (unsigned i = 0; i < unit_pieces (L); i++)
      if (rewrite[i])
        unit_piece_io (&b, a, L, u, i, RAID_IO_WRITE, cols[i]);
    batch_run (&b);
    fail_writers (a, &b);
  }
  ppl_done (a, &req, &b);
  batch_free (&b);
  stripe_cache_invalidate (&a->stripe_cache, u, u);      /* decodes from new parity */
}

/* Parity levels: all k+m columns were read (stripe_gather rebuilds any that
 * failed), encode the data again and compare.  WANT: m chunks of scratch. */
static int
check_stripe (struct raid_array *a, struct raid_layout *L, uint64_t u, uint8_t **cols,
              uint8_t *const *want, struct member_io **ios, enum raid_check_action action,
              int *mismatch, unsigned *read_errors)
{
  unsigned k = L->g.k, n = k + L->g.m, i;
  uint8_t valid[RAID_MAX_MEMBERS] = { 0 }, bad[RAID_MAX_MEMBERS] = { 0 };
  uint8_t need[RAID_MAX_MEMBERS], errored[RAID_MAX_MEMBERS] = { 0 };
  uint8_t rewrite[RAID_MAX_MEMBERS];
  int any;

  for (i = 0; i < n; i++) {
    need[i] = 1;
    if (!ios[i])
      continue;
    valid[i] = !ios[i]->err;
    bad[i] = !!ios[i]->err;
    if (ios[i]->err && ios[i]->err != ENODEV) {
      note_read_error (a, ios[i]);
      errored[i] = 1;
    }
  }
  if (stripe_gather (a, L, u, 0, L->g.chunk, cols, valid, bad, need, errored) < 0)
    return -EIO;
  codec_encode (&L->codec, L->g.chunk, cols, (uint8_t **) want);
  memcpy (rewrite, errored, n);
  *mismatch = 0;
  for (i = 0; i < L->g.m; i++)
    if (memcmp (want[i], cols[k + i], L->g.chunk)) {
      *mismatch = 1;
      if (action == RAID_CHECK_REPAIR) {
        memcpy (cols[k + i], want[i], L->g.chunk);
        rewrite[k + i] = 1;
      }
    }
  for (*read_errors = 0, any = 0, i = 0; i < n; i++) {
    *read_errors += errored[i];
    any |= rewrite[i];
  }
  if (any)
    write_back (a, L, u, cols, rewrite);
  return 0;
}

/* Mirrors: every copy was read (a copy that failed is taken from another); compare
 * them with the first that could be read. */
static int
check_chunk (struct raid_array *a, struct raid_layout *L, uint64_t u, uint8_t **copy,
             struct member_io **ios, enum raid_check_action action, int *mismatch,
             unsigned *read_errors)
{
  uint8_t redo[RAID_MAX_MEMBERS] = { 0 };
  unsigned c, first = L->g.copies;
  int any = 0;

  for (c = 0; c < L->g.copies; c++)
    if (!ios[c] || ios[c]->err) {
      if (ios[c])
        note_read_error (a, ios[c]);
      redo[c] = 1;
      (*read_errors)++;
    }
    else if (c < first)
      first = c;
  if (first == L->g.copies)
    return -EIO;
  for (c = 0; c < L->g.copies; c++) {
    if (!redo[c] && memcmp (copy[c], copy[first], L->g.chunk)) {
      *mismatch = 1;
      redo[c] = action == RAID_CHECK_REPAIR;
    }
    if (redo[c])
      memcpy (copy[c], copy[first], L->g.chunk);
    any |= redo[c];
  }
  if (any)
    write_back (a, L, u, copy, redo);
  return 0;
}

/* Why a check cannot go on now; NULL when it can. */
static const char *
check_blocker (struct raid_array *a)
{
  if (atomic_load (&a->reshape.active))
    return "a reshape runs: check once it has finished (aoeraid status shows it)";
  if (array_degraded (a))
    return "the array is degraded (a recovery, not a check, is what it needs)";
  if (atomic_load (&a->resync_offset) != RAID_RESYNC_DONE)
    return "the array is not in sync yet (the resync comes first)";
  return NULL;
}

/* Units per window: as many as CHECK_SCRATCH holds, CHECK_WINDOW at most. */
static unsigned
check_window_units (struct raid_array *a)
{
  size_t w = CHECK_SCRATCH / ((size_t) unit_pieces (&a->lay) * a->lay.g.chunk);
  return w < 1 ? 1 : w > CHECK_WINDOW ? CHECK_WINDOW : (unsigned) w;
}

/* Piece c of the window's unit i in the scratch; the m chunks after the window's
 * pieces take a parity unit's encoded redundancy. */
static uint8_t *
piece_buf (struct raid_array *a, uint8_t *scratch, unsigned i, unsigned c)
{
  return scratch + ((size_t) i * unit_pieces (&a->lay) + c) * a->lay.g.chunk;
}

/* Compare unit u (the window's unit i, read) and count what was found. */
static int
check_unit (struct raid_array *a, uint64_t u, unsigned i, uint8_t *scratch,
            struct member_io **ios, enum raid_check_action action)
{
  struct raid_layout *L = &a->lay;
  uint8_t *cols[RAID_MAX_MEMBERS], *want[RAID_MAX_PARITY];
  unsigned read_errors = 0, c;
  int mismatch = 0, rc;

  for (c = 0; c < unit_pieces (L); c++)
    cols[c] = piece_buf (a, scratch, i, c);
  for (c = 0; c < L->g.m; c++)
    want[c] = piece_buf (a, scratch, check_window_units (a), c);
  rc = L->g.family == RAID_FAMILY_PARITY
    ? check_stripe (a, L, u, cols, want, ios, action, &mismatch, &read_errors)
    : check_chunk (a, L, u, cols, ios, action, &mismatch, &read_errors);
  /* The first few are named; a disk that lies everywhere would flood the log. */
  if (rc == 0 && mismatch && atomic_fetch_add (&a->check.mismatches, 1) < CHECK_LOG_MAX)
    raid_logf (a, RAID_LOG_WARN, "%s: %s: %s %llu: redundancy does not match the data%s%s",
               a->sb.name, action_name (action), L->g.m ? "stripe" : "chunk",
               (unsigned long long) u, action == RAID_CHECK_REPAIR ? "; rewritten" : "",
               atomic_load (&a->check.mismatches) == CHECK_LOG_MAX
               ? " (further ones are counted, not named)" : "");
  atomic_fetch_add (&a->check.read_errors, read_errors);
  return rc;
}

/* Units [u, u+w) under their stripe locks, and the reshape lock shared as requests
 * hold it (a grow may not start under the check's feet): every piece read in one
 * batch (B, reused), then each unit compared.  *DONE: the units checked. */
static int
check_window (struct raid_array *a, uint64_t u, unsigned w, uint8_t *scratch,
              struct io_batch *b, enum raid_check_action action, unsigned *done)
{
  struct raid_layout *L = &a->lay;
  window_ios ios;
  unsigned i, c;
  int rc = 0;

  *done = 0;
  pthread_rwlock_rdlock (&a->reshape.lock);
  if (check_blocker (a)) {
    pthread_rwlock_unlock (&a->reshape.lock);
    return -EAGAIN;
  }
  stripe_lock_range (&a->locks, u, u + w - 1);
  memset (ios, 0, sizeof ios);
  batch_reset (b);
  for (i = 0; i < w; i++)
    for (c = 0; c < unit_pieces (L); c++) {
      unsigned n = b->n;
      unit_piece_io (b, a, L, u + i, c, RAID_IO_READ, piece_buf (a, scratch, i, c));
      if (b->n > n)
        b->ios[n].tag = i << 8 | c;
    }
  batch_run (b);
  for (unsigned k = 0; k < b->n; k++)
    ios[b->ios[k].tag >> 8][b->ios[k].tag & 0xff] = &b->ios[k];
  for (i = 0; i < w && rc == 0; i++)
    if ((rc = check_unit (a, u + i, i, scratch, ios[i], action)) == 0)
      (*done)++;
  stripe_unlock_range (&a->locks, u, u + w - 1);
  pthread_rwlock_unlock (&a->reshape.lock);
  return rc;
}

const char *
raid_check_refusal (struct raid_array *a)
{
  if (a->readonly)
    return "the array is read-only";
  if (a->lay.g.m == 0 && a->lay.g.copies < 2)
    return "it has no redundancy to compare";
  return check_blocker (a);
}

static enum raid_run_kind
check_run (enum raid_check_action action)
{
  return action == RAID_CHECK_REPAIR ? RAID_RUN_REPAIR : RAID_RUN_CHECK;
}

int
raid_check (struct raid_array *a, enum raid_check_action action)
{
  uint64_t units = resync_units (a), u;
  struct sync_pace pace = { .kind = check_run (action) };
  const char *why = raid_check_refusal (a);
  unsigned window, done;
  struct io_batch b;
  uint8_t *scratch;
  int rc = 0;

  if (action != RAID_CHECK && action != RAID_CHECK_REPAIR)
    return -EINVAL;
  if (atomic_load (&a->resync_stop))
    return -ECANCELED;
  if (why) {
    raid_logf (a, RAID_LOG_WARN, "%s: %s not started: %s", a->sb.name, action_name (action), why);
    atomic_store (&a->check.stop, 0);     /* a stop from before counted for this one */
    return -EAGAIN;
  }
  window = check_window_units (a);
  scratch = scratch_get (&a->pool, ((size_t) window * unit_pieces (&a->lay) + a->lay.g.m)
                         * a->lay.g.chunk);
  if (!scratch) {
    atomic_store (&a->check.stop, 0);
    return -ENOMEM;
  }
  batch_init (&b, NULL);    /* background work: never polls */
  atomic_store (&a->check.pos, 0);
  atomic_store (&a->check.mismatches, 0);
  atomic_store (&a->check.read_errors, 0);
  atomic_store (&a->check.complete, 0);
  atomic_store (&a->check.action, action);
  atomic_store (&a->check.running, 1);
  run_begin (a, check_run (action));
  raid_logf (a, RAID_LOG_INFO, "%s: %s of %llu %s starts", a->sb.name, action_name (action),
             (unsigned long long) units, a->lay.g.m ? "stripes" : "chunks");
  for (u = 0; u < units && rc == 0; u += done) {
    unsigned w = units - u < window ? (unsigned) (units - u) : window;
    done = 0;
    if (atomic_load (&a->check.stop) || atomic_load (&a->resync_stop))
      rc = -ECANCELED;
    else
      rc = check_window (a, u, w, scratch, &b, action, &done);
    atomic_store (&a->check.pos, u + done);
    if (rc == 0)
      sync_pace (a, &pace, (uint64_t) w * a->lay.g.chunk);
  }
  batch_free (&b);
  scratch_put (&a->pool, scratch);
  /* A stop from before the start counted for this check (the caller may
   * stop one it has asked for, not yet begun); none outlives it. */
  atomic_store (&a->check.stop, 0);
  atomic_store (&a->check.complete, rc == 0);
  atomic_store (&a->check.running, 0);
  run_end (a, check_run (action), NULL, atomic_load (&a->check.mismatches));
  if (rc == 0)
    raid_logf (a, RAID_LOG_INFO, "%s: %s finished: %llu mismatches%s, %llu read errors "
               "rewritten", a->sb.name, action_name (action),
               (unsigned long long) atomic_load (&a->check.mismatches),
               action == RAID_CHECK_REPAIR ? " repaired" : "",
               (unsigned long long) atomic_load (&a->check.read_errors));
  else {
    why = rc == -ECANCELED ? "stopped" : rc == -EAGAIN ? check_blocker (a) : NULL;
    raid_logf (a, rc == -ECANCELED ? RAID_LOG_INFO : RAID_LOG_WARN,
               "%s: %s stopped at %s %llu of %llu: %s", a->sb.name, action_name (action),
               unit_word (a), (unsigned long long) atomic_load (&a->check.pos), (unsigned long long) units,
               why ? why : a->lay.g.m ? "a stripe could not be read from enough members"
               : "a chunk could not be read from enough members");
  }
  return rc;
}

void
raid_check_stop (struct raid_array *a)
{
  atomic_store (&a->check.stop, 1);
}

/* Replacing a member in place (md's --replace): a spare copies the chunks of one slot
 * from the member there, which keeps serving reads and taking writes, so the array keeps
 * all its redundancy the whole time (a fail and a recovery would go without it while the
 * new member is rebuilt).  Meanwhile every data write and flush of the slot goes to the
 * new member too (io.c's shadows), so the units already copied stay current; at the end
 * the new member takes the slot and the old one leaves the array (if the old one fails
 * first, the new one takes the slot as a recovering member from where the copy was).  A
 * window of units at a time under their stripe locks (the old member's chunks read in one
 * batch, the new member's written in another), within the speed limits.  Another slot
 * failing (with a spare for it) stops the copy at its checkpoint: the recovery runs
 * first, then the copy resumes (replace_blocker); a recovery that cannot make progress
 * does not stop it while its caller holds it off (raid_recovery_hold), and does again
 * once that hold runs out.
 *
 * Saved across a restart as md saves a replacement: the superblocks record the slot, the
 * new member's uuid and the units copied (RAID_FEATURE_REPLACEMENT; the new member keeps
 * a spare's role, so an older aoeraid just finds a spare), checkpointed like a recovery's
 * position once the copied units are flushed on the new member.  Assembly puts the new
 * member back as the replacement before any request (replace_resume), and the copy goes
 * on from the recorded position. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "raid-int.h"

/* A working member of the layout, by name; NULL if none. */
static struct raid_slot *
working_slot (struct raid_array *a, const char *name)
{
  for (unsigned i = 0; i < a->lay.g.n; i++) {
    struct raid_slot *s = &a->slot[i];
    if (s->m.ops && !atomic_load (&s->faulty) && !atomic_load (&s->recovering)
        && !strcmp (slot_name (s), name))
      return s;
  }
  return NULL;
}

/* A slot with no working member, which the next spare rebuilds (none recovering onto
 * it yet), or -1.  md gives a spare to a failed slot before any replacement. */
static int
slot_waiting_for_spare (struct raid_array *a)
{
  for (unsigned i = 0; i < a->lay.g.n; i++)
    if (!a->slot[i].m.ops || atomic_load (&a->slot[i].faulty))
      return (int) i;
  return -1;
}

/* The spare named NAME (the first one up when NULL), or -1. */
static int
spare_named (struct raid_array *a, const char *name)
{
  for (unsigned j = 0; j < a->nspares; j++)
    if (name ? !strcmp (slot_name (&a->spare[j]), name)
        : slot_usable (&a->spare[j]) && member_fits (a, &a->spare[j]))
      return (int) j;
  return -1;
}

int
raid_replace_start (struct raid_array *a, const char *old, const char *with, char *err,
                    size_t errlen)
{
  struct raid_slot *s;
  int j, rc = 0, waiting;

  if (array_readonly (a, err, errlen))
    return -EROFS;
  pthread_mutex_lock (&a->sb_lock);
  s = working_slot (a, old);
  j = spare_named (a, with);
  waiting = slot_waiting_for_spare (a);
  if (atomic_load (&a->reshape.active) || atomic_load (&a->repl.slot) >= 0) {
    snprintf (err, errlen, "a %s runs: wait until it is done",
              atomic_load (&a->reshape.active) ? "reshape" : "replace");
    rc = -EBUSY;
  }
  else if (!s) {
    snprintf (err, errlen, "%s is not a working member of the array (aoeraid status lists "
              "them)", old);
    rc = -ENOENT;
  }
  else if (waiting >= 0) {
    /* the spare would race the recovery for the slot: whichever took it, the answer
     * to one of the two was wrong */
    snprintf (err, errlen, "slot %d has no working member, and a spare rebuilds it "
              "before any replace: give it one with aoeraid add, and replace %s once the "
              "array is whole", waiting, old);
    rc = -EBUSY;
  }
  else if (j < 0) {
    snprintf (err, errlen, with ? "%s is not a spare of the array: add it first"
              : "the array has no spare that is up to replace %s "
              "with: add one first", with ? with : old);
    rc = -ENOENT;
  }
  else if (!member_fits (a, &a->spare[j])) {
    snprintf (err, errlen, "spare %s is too small (%llu bytes): a member of the array needs "
              "%llu bytes; add a bigger shelf", slot_name (&a->spare[j]),
              (unsigned long long) a->spare[j].m.ops->size (a->spare[j].m.member),
              (unsigned long long) array_member_bytes (a));
    rc = -ENOSPC;
  }
  else {
    struct raid_slot *r = &a->repl.member;
    r->m = a->spare[j].m;
    memcpy (r->uuid, a->spare[j].uuid, 16);
    atomic_store (&r->faulty, 0);
    atomic_store (&r->read_errors, 0);
    atomic_store (&r->write_errors, 0);
    spare_remove (a, j);
    atomic_store (&a->repl.pos, 0);
    atomic_store (&a->repl.recorded, 0);
    atomic_store (&a->repl.redo_below, 0);
    atomic_store (&a->repl.slot, (int) s->index);
    /* Writes from now on reach it; a unit written before is copied after, under its lock. */
    atomic_store (&s->replacement, r);
    sb_write_all (a);           /* a restart finds it replacing the slot from unit 0 */
    raid_logf (a, RAID_LOG_INFO, "%s: replacing %s (slot %u) with %s", a->sb.name, old,
               s->index, slot_name (r));
  }
  sb_unlock (a);
  return rc;
}

int
raid_replace_pending (struct raid_array *a)
{
  return atomic_load (&a->repl.slot) >= 0;
}

/* Copy the slot's chunks of unit u from the old member (rebuilt from the others where it
 * cannot be read) to the new one.  Caller holds the unit's stripe lock. */
static int
replace_unit (struct raid_array *a, struct raid_slot *s, uint64_t u, uint8_t *scratch)
{
  struct raid_layout *L = &a->lay;
  unsigned n = unit_pieces (L);

  for (unsigned c = 0; c < n; c++) {
    uint8_t *cols[RAID_MAX_MEMBERS], valid[RAID_MAX_MEMBERS] = { 0 };
    uint8_t bad[RAID_MAX_MEMBERS] = { 0 }, need[RAID_MAX_MEMBERS] = { 0 };
    uint64_t off, other_off;
    int err;

    if (unit_piece (a, L, u, c, &off) != s)
      continue;
    for (unsigned i = 0; i < n; i++)
      cols[i] = scratch + (size_t) i * L->g.chunk;
    err = slot_io (s, RAID_IO_READ, off, L->g.chunk, cols[c]);
    if (err && L->g.family == RAID_FAMILY_PARITY) {
      /* the old member's bad sector: the parity still has it */
      bad[c] = need[c] = 1;
      err = stripe_gather (a, L, u, 0, L->g.chunk, cols, valid, bad, need, NULL) ? EIO : 0;
    }
    for (unsigned o = 0; err && L->g.family == RAID_FAMILY_NEAR && o < n; o++) {
      struct raid_slot *other = unit_piece (a, L, u, o, &other_off);
      if (other != s && slot_usable_at (a, other, u))
        err = slot_io (other, RAID_IO_READ, other_off, L->g.chunk, cols[c]);
    }
    if (err)
      return -EIO;
    if (slot_io (&a->repl.member, RAID_IO_WRITE, off, L->g.chunk, cols[c])) {
      slot_set_faulty (&a->repl.member);
      return -EIO;
    }
  }
  return 0;
}

static void replace_checkpoint (struct raid_array *a);
static uint64_t replace_next (struct raid_array *a, uint64_t u);

/* Units a window copies at most, and the scratch bytes the copy may use: two windows of a
 * chunk per unit (while one is written to the new member the next is read from the old),
 * and a unit's pieces for rebuilding a chunk the old member cannot give. */
#define REPLACE_WINDOW 16
#define REPLACE_SCRATCH (16u << 20)

/* Units [u, u+w) under their stripe locks (w 0: none held), the slot's chunks of them on
 * their way from the old member to the new one; done: the units copied. */
struct replace_window {
  uint64_t u;
  unsigned w, done;
  int written;                  /* copied unit by unit already (a read failed) */
  uint8_t *buf;
  struct io_batch b;
};

static unsigned
replace_window_units (const struct raid_layout *L)
{
  size_t chunks = REPLACE_SCRATCH / L->g.chunk;
  size_t w = chunks > unit_pieces (L) ? (chunks - unit_pieces (L)) / 2 : 0;
  return w < 1 ? 1 : w > REPLACE_WINDOW ? REPLACE_WINDOW : (unsigned) w;
}

/* Queue OP of the slot's chunk of every unit of the window on member M. */
static int
replace_queue (struct raid_array *a, struct raid_slot *s, struct replace_window *win,
               struct raid_slot *m, enum raid_io_op op)
{
  struct raid_layout *L = &a->lay;

  batch_reset (&win->b);
  for (unsigned i = 0; i < win->w; i++)
    for (unsigned c = 0; c < unit_pieces (L); c++) {
      uint64_t off;
      if (unit_piece (a, L, win->u + i, c, &off) == s
          && !batch_add (&win->b, m, op, off, L->g.chunk, win->buf + (size_t) i * L->g.chunk,
                         i))
        return -ENOMEM;
    }
  return 0;
}

/* Lock units [u, u+w) and start reading the slot's chunks from the old member.  Whatever
 * it returns, the window holds its locks until replace_release. */
static int
replace_read_start (struct raid_array *a, struct raid_slot *s, struct replace_window *win,
                    uint64_t u, unsigned w)
{
  int rc;

  win->u = u;
  win->w = w;
  win->done = 0;
  win->written = 0;
  stripe_lock_range (&a->locks, u, u + w - 1);
  if ((rc = replace_queue (a, s, win, s, RAID_IO_READ)) == 0)
    batch_start (&win->b);
  return rc;
}

/* Wait for the reads (RC: replace_read_start's).  If the old member failed one, the
 * window is copied unit by unit as replace_unit does (rebuilding what it cannot give),
 * with SPARE_COLS for the unit's pieces. */
static int
replace_read_finish (struct raid_array *a, struct raid_slot *s, struct replace_window *win,
                     int rc, uint8_t *spare_cols)
{
  batch_wait (&win->b);
  for (unsigned i = 0; i < win->b.n && rc == 0; i++)
    if (win->b.ios[i].err)
      rc = -EIO;
  if (rc != -EIO)
    return rc;
  win->written = 1;
  for (rc = 0; win->done < win->w && rc == 0; win->done += rc == 0)
    rc = replace_unit (a, s, win->u + win->done, spare_cols);
  return rc;
}

/* Start writing the window's chunks to the new member (none if copied already). */
static int
replace_write_start (struct raid_array *a, struct raid_slot *s, struct replace_window *win)
{
  int rc = 0;

  if (win->written)
    batch_reset (&win->b);
  else if ((rc = replace_queue (a, s, win, &a->repl.member, RAID_IO_WRITE)) == 0)
    batch_start (&win->b);
  return rc;
}

static int
replace_write_finish (struct raid_array *a, struct replace_window *win, int rc)
{
  batch_wait (&win->b);
  for (unsigned i = 0; i < win->b.n && rc == 0; i++)
    if (win->b.ios[i].err) {
      slot_set_faulty (&a->repl.member);
      rc = -EIO;
    }
  if (rc == 0 && !win->written)
    win->done = win->w;
  return rc;
}

/* Let the window's units go; RECORD: the copy's position passes the units it copied. */
static void
replace_release (struct raid_array *a, struct replace_window *win, int record)
{
  if (record)
    atomic_store (&a->repl.pos, win->u + win->done);
  stripe_unlock_range (&a->locks, win->u, win->u + win->w - 1);
  win->w = 0;
}

/* Why the copy cannot go on: -ECANCELED, -EIO (either member failed), -EAGAIN (another
 * slot failed, or a member came back, and a spare can rebuild it: that recovery goes
 * first, the copy waits at its checkpoint), or 0.  md's sync thread rebuilds the failed
 * slot beside the replacement; a copy run to its end would leave the array without
 * redundancy (RAID5) for as long as it lasts. */
static int
replace_blocker (struct raid_array *a, struct raid_slot *s)
{
  if (atomic_load (&a->resync_stop))
    return -ECANCELED;
  if (!slot_usable (s) || atomic_load (&a->repl.member.faulty))
    return -EIO;
  return !raid_recovery_held (a) && raid_recovery_pending (a) ? -EAGAIN : 0;
}

/* A deadline, not a flag the caller lifts: the caller (the monitor) runs this replace
 * and cannot lift it before the copy ends; the copy sees it run out itself. */
void
raid_recovery_hold (struct raid_array *a, unsigned ms)
{
  atomic_store (&a->recovery_held_until, ms ? now_us () + (uint64_t) ms * 1000 : 0);
}

int
raid_recovery_held (struct raid_array *a)
{
  uint64_t until = atomic_load (&a->recovery_held_until);

  return until && now_us () < until;
}

/* replace_blocker before a window from unit u is locked, the test hook called first. */
static int
replace_window_blocker (struct raid_array *a, struct raid_slot *s, uint64_t u)
{
  if (a->repl.hook.between)
    a->repl.hook.between (a->repl.hook.opaque, u);
  return replace_blocker (a, s);
}

/* The window from unit u: units to copy in a row (replace_next skips none of them), at
 * most WINDOW, none past the last bucket of the stripe locks (see recovery_overlap in
 * recover.c: the same rule lets the next window be locked while this one is held). */
static unsigned
replace_width (struct raid_array *a, uint64_t u, uint64_t units, unsigned window)
{
  unsigned w = 1;

  while (w < window && u + w < units && (u + w) % STRIPE_LOCKS != 0
         && replace_next (a, u + w) == u + w)
    w++;
  return w;
}

/* CUR is locked and read: write it to the new member, reading the window from *u (NEXT)
 * meanwhile when it follows CUR at once within the bucket cycle and no stop, failure or
 * nap of the speed limits comes first.  Returns with NEXT locked and read, or nothing
 * held. */
static int
replace_step (struct raid_array *a, struct raid_slot *s, struct replace_window *cur,
              struct replace_window *next, uint64_t *u, uint64_t units, unsigned window,
              uint8_t *spare_cols, struct sync_pace *pace)
{
  uint64_t bytes = (uint64_t) cur->w * a->lay.g.chunk;
  int overlap = *u == cur->u + cur->w && *u < units && *u % STRIPE_LOCKS != 0
    && !a->repl.hook.between && replace_blocker (a, s) == 0 && sync_pace_ahead (a, pace, bytes);
  int rc, next_rc = 0;

  rc = replace_write_start (a, s, cur);
  if (overlap) {
    unsigned w = replace_width (a, *u, units, window);
    next_rc = replace_read_start (a, s, next, *u, w);
    *u = replace_next (a, *u + w);
  }
  rc = replace_write_finish (a, cur, rc);
  if (overlap)
    next_rc = replace_read_finish (a, s, next, next_rc, spare_cols);
  replace_release (a, cur, 1);
  if (rc == 0)
    rc = next_rc;
  if (rc && next->w)
    replace_release (a, next, cur->done == cur->w);
  if (rc == 0 && atomic_load (&a->repl.pos) - atomic_load (&a->repl.recorded)
      >= RECOVERY_CHECKPOINT)
    replace_checkpoint (a);
  if (rc == 0 && !overlap)
    sync_pace (a, pace, bytes);
  return rc;
}

/* Copy from unit u on: a window is read alone, then each step writes one while it reads
 * the next (as the recovery does). */
static int
replace_units (struct raid_array *a, struct raid_slot *s, uint64_t u, uint64_t units,
               struct replace_window win[2], uint8_t *spare_cols)
{
  struct replace_window *cur = &win[0], *next = &win[1], *t;
  unsigned window = replace_window_units (&a->lay);
  struct sync_pace pace = { .kind = RAID_RUN_REPLACE };
  int rc = 0;

  while (rc == 0 && (cur->w || u < units)) {
    if (cur->w) {
      rc = replace_step (a, s, cur, next, &u, units, window, spare_cols, &pace);
      t = cur, cur = next, next = t;
    }
    else if ((rc = replace_window_blocker (a, s, u)) == 0) {
      unsigned w = replace_width (a, u, units, window);
      atomic_store (&a->repl.pos, u);
      rc = replace_read_finish (a, s, cur, replace_read_start (a, s, cur, u, w), spare_cols);
      u = replace_next (a, u + w);
      if (rc)
        replace_release (a, cur, 1);
    }
  }
  return rc;
}

/* Stop replacing: the new member goes back to the spares unless it failed; 1 when it
 * did. */
static int
replace_stop (struct raid_array *a, struct raid_slot *s)
{
  struct raid_slot *r = &a->repl.member;
  int back;

  pthread_mutex_lock (&a->sb_lock);
  atomic_store (&s->replacement, NULL);
  atomic_store (&a->repl.slot, -1);
  back = !atomic_load (&r->faulty) && a->nspares < RAID_MAX_SPARES;
  if (back) {
    struct raid_slot *sp = &a->spare[a->nspares++];
    sp->m = r->m;
    memcpy (sp->uuid, r->uuid, 16);
    sp->readd = 0;
    atomic_store (&sp->faulty, 0);
  }
  sb_write_all (a);             /* the record of the replace goes */
  sb_unlock (a);
  return back;
}

static void
replace_abort (struct raid_array *a, struct raid_slot *s, const char *why)
{
  int back = replace_stop (a, s);

  raid_logf (a, RAID_LOG_WARN, "%s: replacing %s stopped: %s; %s", a->sb.name, slot_name (s),
             why, back ? "the new member is a spare again" : "the new member is dropped");
}

/* The slot other than S being rebuilt, or -1. */
static int
other_recovering (struct raid_array *a, struct raid_slot *s)
{
  for (unsigned i = 0; i < a->lay.g.n; i++)
    if (&a->slot[i] != s && a->slot[i].m.ops && atomic_load (&a->slot[i].recovering))
      return (int) i;
  return -1;
}

/* At assembly the member replaced is missing, and the new one cannot take its slot over:
 * another slot is being rebuilt, or the new member failed.  The slot has no member to
 * name, so the line names the slot. */
static void
replace_abort_missing (struct raid_array *a, struct raid_slot *s)
{
  int other = other_recovering (a, s), back;
  char new_name[64];

  snprintf (new_name, sizeof new_name, "%s", slot_name (&a->repl.member));
  back = replace_stop (a, s);
  if (other >= 0)
    raid_logf (a, RAID_LOG_WARN, "%s: replacing slot %u stopped: its member is missing, and "
               "%s cannot take the slot over while slot %d is being rebuilt (one recovery at "
               "a time); %s", a->sb.name, s->index, new_name, other, back
               ? "it is a spare again and rebuilds the slot in full after" : "it is dropped");
  else
    raid_logf (a, RAID_LOG_WARN, "%s: replacing slot %u stopped: its member is missing and "
               "the new member %s failed; it is dropped", a->sb.name, s->index, new_name);
}

/* The old member failed midway (or is missing at assembly): the new one holds every unit
 * below the copy's position (copied, or written since through the shadows), so it takes
 * the slot as a recovering member from there, as md's replacement does, unless another
 * slot is recovering (one recovery position serves one slot).  1 when it took the slot. */
static int
replace_takeover (struct raid_array *a, struct raid_slot *s, const char *why)
{
  struct raid_slot *r = &a->repl.member;
  uint64_t pos = atomic_load (&a->repl.pos);
  int other;

  stripe_lock_range (&a->locks, 0, STRIPE_LOCKS - 1);
  pthread_mutex_lock (&a->sb_lock);
  other = other_recovering (a, s) >= 0;
  if (!other && !atomic_load (&r->faulty)) {
    atomic_store (&s->replacement, NULL);
    atomic_store (&a->recovery_offset, pos);
    atomic_store (&a->recovery_bitmap, 0);
    slot_set_faulty (s);        /* down, it leaves the array as failed (noted once) */
    slot_take (a, s->index, r, RAID_ROLE_RECOVERING);
    atomic_store (&a->repl.slot, -1);
    sb_write_all (a);
  }
  sb_unlock (a);
  stripe_unlock_range (&a->locks, 0, STRIPE_LOCKS - 1);
  if (other || atomic_load (&r->faulty))
    return 0;
  raid_logf (a, RAID_LOG_WARN, "%s: the member replaced in slot %u %s; %s takes the slot "
             "and is rebuilt from %s %llu, where the copy was", a->sb.name, s->index, why,
             slot_name (s), unit_word (a), (unsigned long long) pos);
  return 1;
}

/* The new member takes the slot: with every stripe locked no write is in flight, its
 * chunks are flushed, it gets the bitmap, then the superblocks name it. */
static int
replace_finish (struct raid_array *a, struct raid_slot *s)
{
  struct raid_slot *r = &a->repl.member;
  char old[64];
  int rc = 0;

  stripe_lock_range (&a->locks, 0, STRIPE_LOCKS - 1);
  pthread_mutex_lock (&a->bitmap.lock);
  if (a->bitmap.nbits) {
    bitmap_encode (&a->bitmap, a->bitmap.block);
    rc = slot_io (r, RAID_IO_WRITE, RAID_BITMAP_OFFSET, RAID_BITMAP_SIZE, a->bitmap.block);
  }
  if (rc == 0)
    rc = slot_io (r, RAID_IO_FLUSH, 0, 0, NULL);
  if (rc == 0 && !atomic_load (&r->faulty)) {
    pthread_mutex_lock (&a->sb_lock);
    snprintf (old, sizeof old, "%s", slot_name (s));
    atomic_store (&s->replacement, NULL);
    slot_take (a, s->index, r, RAID_ROLE_ACTIVE);
    atomic_store (&a->repl.slot, -1);
    sb_write_all (a);
    sb_unlock (a);
  }
  pthread_mutex_unlock (&a->bitmap.lock);
  stripe_unlock_range (&a->locks, 0, STRIPE_LOCKS - 1);
  if (rc || atomic_load (&r->faulty)) {
    slot_set_faulty (r);
    replace_abort (a, s, "the new member failed the last writes");
    return -EIO;
  }
  raid_logf (a, RAID_LOG_INFO, "%s: %s replaced %s in slot %u; %s has left the array",
             a->sb.name, slot_name (s), old, s->index, old);
  return 0;
}

/* Record the copy's position, once the units below it are durable on the new member (md
 * writes its superblock with a preflush): a restart then trusts them. */
static void
replace_checkpoint (struct raid_array *a)
{
  uint64_t pos = atomic_load (&a->repl.pos);

  if (slot_io (&a->repl.member, RAID_IO_FLUSH, 0, 0, NULL)) {
    slot_set_faulty (&a->repl.member);
    return;
  }
  atomic_store (&a->repl.recorded, pos);
  array_checkpoint (a);
}

/* The next unit to copy from u on: after a crash, below redo_below only the units of the
 * regions the bitmap held dirty (writes in flight may have reached the old member and not
 * the new one there); every unit above. */
static uint64_t
replace_next (struct raid_array *a, uint64_t u)
{
  uint64_t redo_below = atomic_load (&a->repl.redo_below), next;

  if (u >= redo_below || bitmap_unit_unsynced (a, u))
    return u;
  next = bitmap_next_unsynced (a, u, redo_below);   /* may be a region past redo_below */
  return next < redo_below ? next : redo_below;
}

int
raid_replace (struct raid_array *a)
{
  int i = atomic_load (&a->repl.slot), rc = 0;
  uint64_t units = resync_units (a);
  struct replace_window win[2];
  struct raid_slot *s;
  uint8_t *scratch;
  unsigned window;

  if (i < 0)
    return -EAGAIN;
  if (atomic_load (&a->resync_stop))
    return -ECANCELED;
  if (a->readonly)
    return -EROFS;
  s = &a->slot[i];
  window = replace_window_units (&a->lay);
  scratch = scratch_get (&a->pool, (2 * (size_t) window + unit_pieces (&a->lay))
                         * a->lay.g.chunk);
  if (!scratch)
    return -ENOMEM;
  for (unsigned k = 0; k < 2; k++) {
    win[k].buf = scratch + (size_t) k * window * a->lay.g.chunk;
    win[k].w = 0;
    batch_init (&win[k].b, NULL);     /* background work: never polls */
  }
  run_begin (a, RAID_RUN_REPLACE);
  rc = replace_units (a, s, replace_next (a, atomic_load (&a->repl.pos)), units, win,
                      scratch + 2 * (size_t) window * a->lay.g.chunk);
  for (unsigned k = 0; k < 2; k++)
    batch_free (&win[k].b);
  scratch_put (&a->pool, scratch);
  if (rc == 0) {
    rc = replace_finish (a, s);
    run_end (a, RAID_RUN_REPLACE, rc == 0 ? slot_name (s) : NULL, 0);
    return rc;
  }
  if (rc == -ECANCELED || rc == -EAGAIN)
    replace_checkpoint (a);
  if (rc == -EAGAIN)
    raid_logf (a, RAID_LOG_INFO, "%s: replacing %s (slot %d) with %s waits at %s %llu of "
               "%llu: the recovery of a failed slot onto a spare goes first; the copy "
               "resumes from there after it", a->sb.name, slot_name (s), i,
               slot_name (&a->repl.member), unit_word (a),
               (unsigned long long) atomic_load (&a->repl.pos),
               (unsigned long long) units);
  if (rc == -EIO && !(!slot_usable (s) && replace_takeover (a, s, "failed")))
    replace_abort (a, s, !slot_usable (s) ? "the member replaced failed"
                   : atomic_load (&a->repl.member.faulty) ? "the new member failed"
                   : a->lay.g.m ? "a stripe could not be read from the member or the others"
                   : "a chunk could not be read from the member or the others");
  run_end (a, RAID_RUN_REPLACE, NULL, 0);
  return rc;
}

void
replace_resume (struct raid_array *a, int crashed)
{
  int i = atomic_load (&a->repl.slot);
  uint64_t units = resync_units (a), at = a->sb.replace_offset, from;
  struct raid_slot *s, *r = &a->repl.member;

  if (i < 0) {
    /* found, but a spare again: assembly said why */
    for (unsigned j = 0; j < a->nspares; j++)
      if (!memcmp (a->spare[j].uuid, a->sb.replace_uuid, 16))
        return;
    if (a->sb.features & RAID_FEATURE_REPLACEMENT)
      raid_logf (a, RAID_LOG_WARN, "%s: the member replacing slot %u was not among those "
                 "given; the replace is given up: ask it again (aoeraid replace)", a->sb.name,
                 a->sb.replace_slot);
    return;
  }
  if (at > units)
    at = units;
  /* Writes in flight at a crash may have reached the old member and not the new one.
   * The bitmap knows where they were: its regions dirty at the crash are copied again,
   * the clean ones below the recorded position are trusted, as a re-add trusts them;
   * without a bitmap every unit counts as dirty, so the copy starts again from 0. */
  atomic_store (&a->repl.redo_below, crashed ? at : 0);
  from = crashed ? replace_next (a, 0) : at;
  atomic_store (&a->repl.pos, from);
  atomic_store (&a->repl.recorded, from);
  s = &a->slot[i];
  if (!s->m.ops || atomic_load (&s->faulty)) {
    /* md too: a replacement without its original becomes the original */
    if (!replace_takeover (a, s, "is missing"))
      replace_abort_missing (a, s);
    return;
  }
  if (atomic_load (&s->recovering)) {
    replace_abort (a, s, "the member replaced is itself being rebuilt");
    return;
  }
  atomic_store (&s->replacement, r);
  raid_logf (a, RAID_LOG_INFO, "%s: replacing %s (slot %u) with %s resumes at %s %llu of "
             "%llu%s", a->sb.name, slot_name (s), s->index, slot_name (r), unit_word (a),
             (unsigned long long) from, (unsigned long long) units,
             crashed && from < at ? " (the regions dirty at the crash below the recorded "
             "position are copied again)" : "");
}

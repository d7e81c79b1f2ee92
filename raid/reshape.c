/* Growing an array onto new members (md: --grow, reshape).
 *
 * A reshape moves the array's bytes, in order from the start, out of the
 * old layout (a->prev) into the new one (a->lay), which starts one chunk
 * lower on every member: new row r sits where old row r - 1 was.  The new
 * layout holds at least as many data chunks per row as the old, so a new
 * row only ever lands on old rows whose bytes were moved before (md's
 * reshape with a smaller data offset, which needs no backup file).  Below
 * reshape.pos requests go to the new layout, above it to the old.  Each
 * step of the copy moves a window [pos, end) of whole new stripes: requests
 * that touch the window wait for the step, and the step for the requests in
 * flight there, while the rest of the array is served (md holds only the
 * stripes under reshape, too).  Nothing outside the window is touched by the
 * step: the new rows it writes sit on old rows moved by earlier steps, and the
 * old rows it reads hold bytes of the window (an old row that also holds bytes
 * above it is only read, under its stripe lock when degraded).
 *
 * After a crash the copy starts again at the position the superblocks
 * record.  So before a step may overwrite an old row, every byte that row
 * held must be below the recorded position (reshape_record: members
 * flushed, then the superblocks), and a request writing into the new
 * layout above the recorded position records first (rw.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "raid-int.h"

/* Bytes moved per step at most: the requests in one window wait that long. */
#define RESHAPE_STEP (4u << 20)

void
reshape_init (struct raid_array *a)
{
  pthread_rwlockattr_t attr;

  /* A steady stream of requests must not starve the copy. */
  pthread_rwlockattr_init (&attr);
  pthread_rwlockattr_setkind_np (&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init (&a->reshape.lock, &attr);
  pthread_rwlockattr_destroy (&attr);
  pthread_mutex_init (&a->reshape.record_lock, NULL);
  pthread_mutex_init (&a->reshape.win_lock, NULL);
  pthread_cond_init (&a->reshape.win_cond, NULL);
  a->reshape.step_max = RESHAPE_STEP;
}

void
reshape_destroy (struct raid_array *a)
{
  pthread_rwlock_destroy (&a->reshape.lock);
  pthread_mutex_destroy (&a->reshape.record_lock);
  pthread_mutex_destroy (&a->reshape.win_lock);
  pthread_cond_destroy (&a->reshape.win_cond);
}

/* ---- the step's window and the requests in flight ---------------------- */

static int
in_window (const struct raid_reshape *r, uint64_t lo, uint64_t hi)
{
  return lo < r->win_hi && r->win_lo < hi;
}

uint64_t
reshape_enter (struct raid_array *a, struct reshape_ticket *t, uint64_t lo, uint64_t hi)
{
  struct raid_reshape *r = &a->reshape;
  uint64_t pos;

  pthread_mutex_lock (&r->win_lock);
  while (in_window (r, lo, hi))
    pthread_cond_wait (&r->win_cond, &r->win_lock);
  *t = (struct reshape_ticket) { .lo = lo, .hi = hi, .next = r->busy };
  if (r->busy)
    r->busy->prev = t;
  r->busy = t;
  pos = atomic_load (&r->pos);
  pthread_mutex_unlock (&r->win_lock);
  return pos;
}

void
reshape_leave (struct raid_array *a, struct reshape_ticket *t)
{
  struct raid_reshape *r = &a->reshape;

  pthread_mutex_lock (&r->win_lock);
  if (t->prev)
    t->prev->next = t->next;
  else
    r->busy = t->next;
  if (t->next)
    t->next->prev = t->prev;
  if (r->step_waiting)
    pthread_cond_broadcast (&r->win_cond);
  pthread_mutex_unlock (&r->win_lock);
}

static int
busy_in_window (const struct raid_reshape *r)
{
  for (const struct reshape_ticket *t = r->busy; t; t = t->next)
    if (in_window (r, t->lo, t->hi))
      return 1;
  return 0;
}

/* Claim [lo, hi) for a step: new requests there wait from now on, and the ones in
 * flight there finish first. */
static void
window_open (struct raid_array *a, uint64_t lo, uint64_t hi)
{
  struct raid_reshape *r = &a->reshape;

  pthread_mutex_lock (&r->win_lock);
  r->win_lo = lo;
  r->win_hi = hi;
  r->step_waiting = 1;
  while (busy_in_window (r))
    pthread_cond_wait (&r->win_cond, &r->win_lock);
  r->step_waiting = 0;
  pthread_mutex_unlock (&r->win_lock);
}

static void
window_close (struct raid_array *a)
{
  struct raid_reshape *r = &a->reshape;

  pthread_mutex_lock (&r->win_lock);
  r->win_lo = r->win_hi = 0;
  pthread_cond_broadcast (&r->win_cond);
  pthread_mutex_unlock (&r->win_lock);
}

/* Data chunks per row, as a fraction num/den: k for the parity family,
 * members/copies for the near family. */
static void
row_density (const struct raid_geom *g, uint64_t *num, uint64_t *den)
{
  *num = g->family == RAID_FAMILY_PARITY ? g->k : g->n;
  *den = g->family == RAID_FAMILY_PARITY ? 1 : g->copies;
}

/* Rows of layout g that hold any byte of the array's first e bytes. */
static uint64_t
rows_touched (const struct raid_geom *g, uint64_t e)
{
  uint64_t ci;

  if (e == 0)
    return 0;
  ci = (e - 1) >> g->chunk_shift;
  if (g->family == RAID_FAMILY_PARITY)
    return ci / g->k + 1;
  return (ci * g->copies + g->copies - 1) / g->n + 1;
}

/* The end of the array bytes rows 0..r of layout g hold (a copy of). */
static uint64_t
rows_data_end (const struct raid_geom *g, uint64_t r)
{
  uint64_t chunks = g->family == RAID_FAMILY_PARITY
    ? (r + 1) * g->k : ((r + 1) * g->n + g->copies - 1) / g->copies;
  uint64_t all = geom_data_chunks (g);

  return (chunks < all ? chunks : all) << g->chunk_shift;
}

/* Writing the new layout's bytes below e overwrites only old rows whose
 * bytes all lie below RECORDED. */
static int
step_safe (struct raid_array *a, uint64_t e, uint64_t recorded)
{
  uint64_t shift = (a->prev.data_offset - a->lay.data_offset) >> a->lay.g.chunk_shift;
  uint64_t rows = rows_touched (&a->lay.g, e);

  return rows <= shift || rows_data_end (&a->prev.g, rows - 1 - shift) <= recorded;
}

uint64_t
layout_sync_units (struct raid_array *a, const struct raid_layout *L)
{
  uint64_t u = atomic_load (&a->resync_offset), moved;

  if (L != &a->lay || !atomic_load (&a->reshape.active))
    return u;
  /* Stripes the copy has not written whole hold old bytes under parity
   * that does not match them: write those by reconstruction. */
  moved = atomic_load (&a->reshape.pos) >> L->g.chunk_shift;
  if (L->g.family == RAID_FAMILY_PARITY)
    moved /= L->g.k;
  return moved < u ? moved : u;
}

int
reshape_record (struct raid_array *a, uint64_t upto)
{
  int rc = 0;

  pthread_mutex_lock (&a->reshape.record_lock);
  if (atomic_load (&a->reshape.recorded) < upto) {
    uint64_t pos = atomic_load (&a->reshape.pos);
    /* The moved bytes are durable before the superblocks say so, and the
     * superblocks before any old row they free is overwritten. */
    flush_members (a);
    pthread_mutex_lock (&a->sb_lock);
    a->sb.reshape_position = pos;
    sb_write_all (a);
    sb_unlock (a);
    flush_members (a);
    if (!array_check (a, "record the reshape position"))
      rc = -EIO;
    if (rc == 0)
      atomic_store (&a->reshape.recorded, pos);
  }
  pthread_mutex_unlock (&a->reshape.record_lock);
  return rc;
}

int
reshape_setup (struct raid_array *a, char *err, size_t errlen)
{
  const struct raid_sb *sb = &a->sb;

  if (!(sb->features & RAID_FEATURE_RESHAPE))
    return 0;
  if (layout_init (&a->prev, (enum raid_level) sb->prev_level,
                   sb->raid_disks - sb->delta_disks, sb->prev_k, sb->prev_m, sb->prev_chunk,
                   sb->data_size, sb->prev_data_offset, err, errlen) == -1)
    return -1;
  /* sb_decode checked the rest: offsets whole chunks apart, the position inside */
  atomic_store (&a->reshape.pos, sb->reshape_position);
  atomic_store (&a->reshape.recorded, sb->reshape_position);
  atomic_store (&a->reshape.active, 1);
  a->reshape.bitmap_region = sb->bitmap_offset ? RAID_BITMAP_REGION : 0;
  a->size = a->prev.size;
  return 0;
}

int
raid_reshape_pending (struct raid_array *a)
{
  return atomic_load (&a->reshape.active);
}

/* ---- starting a grow ---------------------------------------------------- */

static int
spare_index (struct raid_array *a, const char *name)
{
  for (unsigned i = 0; i < a->nspares; i++)
    if (!strcmp (slot_name (&a->spare[i]), name))
      return (int) i;
  return -1;
}

/* 0 when the array can grow onto these spares now (NAMES NULL: onto N spares still to be
 * added), else -1 with err filled (caller holds sb_lock). */
static int
grow_check (struct raid_array *a, const char *const *names, unsigned n, int mirrors,
            char *err, size_t errlen)
{
  char label[RAID_NAME_MAX + 3], buf[GROW_WHY_MAX];
  const char *who = array_label (a, label), *why;

  if (atomic_load (&a->reshape.active))
    snprintf (err, errlen, "cannot grow %s: a reshape is still running: wait until it "
              "has finished", who);
  else if (raid_replace_pending (a))
    snprintf (err, errlen, "cannot grow %s: a member is being replaced: grow it once "
              "that has finished", who);
  else if ((why = grow_unready (a, 1, buf, sizeof buf)) != NULL)
    snprintf (err, errlen, "cannot grow %s: %s", who, why);
  else if (a->sb.features & RAID_FEATURE_PPL)
    snprintf (err, errlen, "cannot grow %s: it keeps a partial parity log, which a reshape "
              "cannot keep (md's neither): start it with consistency-policy=bitmap, grow it, "
              "then start it with consistency-policy=ppl again", who);
  else if (!mirrors && a->lay.data_offset < RAID_META_END + a->lay.g.chunk)
    snprintf (err, errlen, "cannot grow %s: its data starts at byte %llu of each member, "
              "and a grow moves it down one chunk (%u bytes) but not below %u; a new "
              "array leaves room for more grows", who,
              (unsigned long long) a->lay.data_offset, a->lay.g.chunk, RAID_META_END);
  else {
    uint64_t need = array_member_bytes (a);    /* what assembly asks of each during the reshape */
    for (unsigned i = 0; names && i < n; i++) {
      int j = spare_index (a, names[i]);
      if (j < 0) {
        snprintf (err, errlen, "cannot grow %s: %s is not a spare of the array: add it "
                  "first", who, names[i]);
        return -1;
      }
      if (a->spare[j].m.ops->size (a->spare[j].m.member) < need) {
        snprintf (err, errlen, "cannot grow %s: spare %s is too small: a member needs %llu "
                  "bytes", who, names[i], (unsigned long long) need);
        return -1;
      }
      for (unsigned j = 0; j < i; j++)
        if (!strcmp (names[i], names[j])) {
          snprintf (err, errlen, "cannot grow %s: %s is named twice", who, names[i]);
          return -1;
        }
    }
    return 0;
  }
  return -1;
}

/* The layout the array grows into, checked; -1 with err filled. */
static int
grow_layout (struct raid_array *a, struct raid_layout *nl, unsigned n, enum raid_level level,
             uint64_t data_offset, char *err, size_t errlen)
{
  const struct raid_geom *og = &a->lay.g;
  unsigned m = 0, k = 0;
  uint64_t on, od, nn, nd;

  if (level == RAID_LEVEL_EC) {
    if (og->level != RAID_LEVEL_EC) {
      snprintf (err, errlen, "an array becomes ec only by growing an ec array");
      return -1;
    }
    m = og->m;
    k = n > m ? n - m : 0;
  }
  if (layout_init (nl, level, n, k, m, og->chunk, a->sb.data_size, data_offset, err,
                   errlen) == -1)
    return -1;
  row_density (og, &on, &od);
  row_density (&nl->g, &nn, &nd);
  if (nn * od < on * nd) {
    snprintf (err, errlen, "%s of %u holds fewer data chunks per row than %s of %u: "
              "a grow cannot move the data there", raid_level_name (level), n,
              raid_level_name (og->level), og->n);
    layout_free (nl);
    return -1;
  }
  return 0;
}

/* RAID1 to RAID1: the new slots start missing; recovery fills them from
 * the spares. */
static void
grow_mirrors (struct raid_array *a, struct raid_layout *nl)
{
  for (unsigned i = a->lay.g.n; i < nl->g.n; i++) {
    atomic_store (&a->slot[i].faulty, 1);
    a->sb.roles[i] = RAID_ROLE_MISSING;
    memset (a->sb.slot_uuid[i], 0, 16);
  }
  layout_free (&a->lay);
  a->lay = *nl;
  a->sb.raid_disks = nl->g.n;
  sb_write_all (a);
}

/* The spares become the new slots; the old layout becomes prev. */
static void
grow_reshape (struct raid_array *a, struct raid_layout *nl, const char *const *names)
{
  struct raid_sb *sb = &a->sb;
  unsigned n_old = a->lay.g.n;

  for (unsigned i = n_old; i < nl->g.n; i++)
    slot_take_spare (a, i, spare_index (a, names[i - n_old]), RAID_ROLE_ACTIVE);
  sb->features |= RAID_FEATURE_RESHAPE;
  sb->version = RAID_SB_VERSION;
  sb->prev_level = sb->level;
  sb->prev_layout = sb->layout;
  sb->prev_chunk = sb->chunk;
  sb->prev_k = sb->k;
  sb->prev_m = sb->m;
  sb->prev_data_offset = sb->data_offset;
  sb->delta_disks = nl->g.n - n_old;
  sb->raid_disks = nl->g.n;
  sb->level = nl->g.level;
  sb->layout = geom_md_layout (&nl->g);
  sb->k = nl->g.k;
  sb->m = nl->g.m;
  sb->data_offset = nl->data_offset;
  if (!a->reshape.bitmap_region)
    sb->bitmap_offset = 0;      /* none after the reshape: a restart meanwhile brings none */
  sb->reshape_position = 0;
  a->prev = a->lay;
  a->lay = *nl;
  writemostly_load (a);         /* a level without copies drops the flags */
  stripe_cache_flush (&a->stripe_cache);   /* stripes are numbered anew */
  atomic_store (&a->reshape.pos, 0);
  atomic_store (&a->reshape.recorded, 0);
  atomic_store (&a->reshape.active, 1);
  sb_write_all (a);
}

int
raid_grow_check (struct raid_array *a, unsigned n, enum raid_level new_level, char *err,
                 size_t errlen)
{
  int mirrors = a->lay.g.level == RAID_LEVEL_1 && new_level == RAID_LEVEL_1;
  struct raid_layout nl;
  int rc = -EINVAL;

  if (array_readonly (a, err, errlen))
    return -EROFS;
  if (n < 1 || a->lay.g.n + n > RAID_MAX_MEMBERS) {
    snprintf (err, errlen, "a grow adds 1 to %u members, got %u",
              RAID_MAX_MEMBERS - a->lay.g.n, n);
    return -EINVAL;
  }
  pthread_rwlock_rdlock (&a->reshape.lock);
  pthread_mutex_lock (&a->sb_lock);
  if (grow_check (a, NULL, n, mirrors, err, errlen) == 0
      && grow_layout (a, &nl, a->lay.g.n + n, new_level,
                      a->lay.data_offset - (mirrors ? 0 : a->lay.g.chunk), err, errlen) == 0) {
    layout_free (&nl);
    rc = 0;
  }
  sb_unlock (a);
  pthread_rwlock_unlock (&a->reshape.lock);
  return rc;
}

int
raid_grow (struct raid_array *a, const char *const *names, unsigned n,
           enum raid_level new_level, char *err, size_t errlen)
{
  unsigned n_new = a->lay.g.n + n;
  int mirrors = a->lay.g.level == RAID_LEVEL_1 && new_level == RAID_LEVEL_1;
  uint64_t data_offset = a->lay.data_offset - (mirrors ? 0 : a->lay.g.chunk);
  struct raid_layout nl;
  int rc = -EINVAL;

  if (array_readonly (a, err, errlen))
    return -EROFS;
  if (n < 1 || n_new > RAID_MAX_MEMBERS) {
    snprintf (err, errlen, "a grow adds 1 to %u members, got %u",
              RAID_MAX_MEMBERS - a->lay.g.n, n);
    return -EINVAL;
  }
  /* Requests, then the bitmap (its users take sb_lock after it), then sb_lock. */
  pthread_rwlock_wrlock (&a->reshape.lock);
  pthread_mutex_lock (&a->bitmap.lock);
  pthread_mutex_lock (&a->sb_lock);
  if (grow_check (a, names, n, mirrors, err, errlen) == 0
      && grow_layout (a, &nl, n_new, new_level, data_offset, err, errlen) == 0) {
    char from[64];
    snprintf (from, sizeof from, "%s of %u", raid_level_name (a->lay.g.level), a->lay.g.n);
    if (mirrors)
      grow_mirrors (a, &nl);
    else {
      /* A level without redundancy keeps none (as a new RAID0): nothing comes back to be
       * re-added from it, and no resync would clear its bits */
      a->reshape.bitmap_region = a->bitmap.nbits && (nl.g.m || nl.g.copies > 1)
        ? (uint64_t) a->lay.g.chunk << a->bitmap.shift : 0;
      bitmap_free (&a->bitmap);     /* its regions are the old layout's */
      grow_reshape (a, &nl, names);
    }
    raid_logf (a, RAID_LOG_INFO, "%s: grows from %s to %s of %u%s", a->sb.name, from,
               raid_level_name (new_level), n_new, mirrors ? ": recovery fills the new "
               "mirrors from the spares" : "; the reshape starts");
    rc = 0;
  }
  sb_unlock (a);
  pthread_mutex_unlock (&a->bitmap.lock);
  pthread_rwlock_unlock (&a->reshape.lock);
  return rc;
}

/* ---- moving the data ---------------------------------------------------- */

/* Bytes moved per step come in whole stripes of the new layout: the copy
 * computes each stripe's parity from its data. */
static uint64_t
step_grain (const struct raid_layout *L)
{
  return (uint64_t) L->g.chunk * (L->g.family == RAID_FAMILY_PARITY ? L->g.k : 1);
}

static uint64_t
step_bytes (const struct raid_array *a, const struct raid_layout *L)
{
  uint64_t grain = step_grain (L), most = a->reshape.step_max;
  return most > grain ? most / grain * grain : grain;
}

/* Where the step from pos may end: as far as is safe with what the
 * superblocks record, recording pos first when that is not far enough. */
static int
step_end (struct raid_array *a, uint64_t pos, uint64_t *end)
{
  uint64_t grain = step_grain (&a->lay), e = pos + step_bytes (a, &a->lay);
  int rc;

  if (e > a->prev.size)
    e = a->prev.size;
  if (!step_safe (a, e, atomic_load (&a->reshape.recorded))
      && (rc = reshape_record (a, pos)) != 0)
    return rc;
  while (!step_safe (a, e, atomic_load (&a->reshape.recorded)) && e - pos > grain)
    e = (e - pos) % grain ? e - (e - pos) % grain : e - grain;
  if (!step_safe (a, e, atomic_load (&a->reshape.recorded))) {
    raid_logf (a, RAID_LOG_ERROR, "%s: reshape cannot move on safely at byte %llu",
               a->sb.name, (unsigned long long) pos);
    return -EIO;
  }
  *end = e;
  return 0;
}

/* One step, in its window (caller holds the reshape lock shared): pos moves by *moved. */
static int
reshape_step (struct raid_array *a, uint8_t *buf, uint64_t *moved)
{
  uint64_t pos = atomic_load (&a->reshape.pos), end = pos + step_bytes (a, &a->lay);
  int rc;

  if (!array_check (a, "reshape"))
    return -EIO;
  /* the most this step can move; step_end may make it less */
  window_open (a, pos, end < a->prev.size ? end : a->prev.size);
  rc = step_end (a, pos, &end);
  if (rc == 0)
    rc = layout_read (a, &a->prev, buf, end - pos, pos);
  if (rc == 0)
    rc = layout_write (a, &a->lay, buf, end - pos, pos);
  if (rc == 0 && !array_check (a, "reshape"))
    rc = -EIO;
  if (rc == 0)
    atomic_store (&a->reshape.pos, end);
  window_close (a);
  *moved = rc == 0 ? end - pos : 0;
  return rc;
}

/* The new layout takes over everything; its new space needs a resync
 * (it holds old bytes under parity that does not match), and the bitmap
 * comes back with the new layout's regions. */
static void
reshape_finish (struct raid_array *a)
{
  uint64_t in_sync = layout_sync_units (a, &a->lay);
  int redundant = a->lay.g.m || a->lay.g.copies > 1;

  pthread_mutex_lock (&a->bitmap.lock);
  /* before the new bitmap's bits exist: a pass that finds them finds the resync pending */
  atomic_store (&a->resync_offset, redundant ? in_sync : RAID_RESYNC_DONE);
  /* The new bitmap, every bit dirty until the resync of the new space has run with every
   * member, is on the members before the superblocks name the new layout: a grow keeps
   * the rows, so the old block (the passes may have left it clean) fits the new layout
   * too, and a crash between the two would have the next start trust its clean bits:
   * the new space never resynced, a dirty degraded start let go (raid_write_hole).  While
   * the superblocks still record the reshape, only its region size is read
   * (reshape_bitmap_region), the same. */
  if (a->reshape.bitmap_region && bitmap_create (a, a->reshape.bitmap_region) == 0) {
    bitmap_set_all (&a->bitmap);
    pthread_mutex_lock (&a->sb_lock);
    atomic_store (&a->bitmap.events_cleared, a->sb.events + 1);
    sb_unlock (a);
    bitmap_store (a, NULL);     /* a member failing it is failed (sb_lock not held) */
  }
  pthread_mutex_lock (&a->sb_lock);
  atomic_store (&a->reshape.active, 0);
  layout_free (&a->prev);
  a->size = a->lay.size;
  a->sb.features &= ~RAID_FEATURE_RESHAPE;
  a->sb.prev_level = a->sb.prev_layout = a->sb.prev_chunk = a->sb.prev_k = a->sb.prev_m = 0;
  a->sb.delta_disks = 0;
  a->sb.prev_data_offset = a->sb.reshape_position = 0;
  a->sb.array_size = a->size;
  sb_write_all (a);
  sb_unlock (a);
  pthread_mutex_unlock (&a->bitmap.lock);
  raid_logf (a, RAID_LOG_INFO, "%s: reshape finished: %s of %u members, %llu bytes%s",
             a->sb.name, raid_level_name (a->lay.g.level), a->lay.g.n,
             (unsigned long long) a->size, redundant ? "; the new space is resynced next" : "");
}

int
raid_reshape (struct raid_array *a)
{
  struct sync_pace pace = { .kind = RAID_RUN_RESHAPE };
  uint64_t moved = 0;
  uint8_t *buf;
  int rc = 0;

  if (!atomic_load (&a->reshape.active))
    return -EAGAIN;
  if (atomic_load (&a->resync_stop))
    return -ECANCELED;
  if (a->readonly)
    return -EROFS;
  /* A failed array has nothing to move until a member comes back: no run
   * begins, so the monitor's retries tell no RebuildStarted/Finished pairs. */
  uint8_t missing[RAID_MAX_MEMBERS];
  array_missing (a, missing);
  if (!array_survives (a, missing))
    return -EIO;
  buf = scratch_get (&a->pool, step_bytes (a, &a->lay));
  if (!buf)
    return -ENOMEM;
  run_begin (a, RAID_RUN_RESHAPE);
  raid_logf (a, RAID_LOG_INFO, "%s: reshape from %s of %u to %s of %u at byte %llu of %llu",
             a->sb.name, raid_level_name (a->prev.g.level), a->prev.g.n,
             raid_level_name (a->lay.g.level), a->lay.g.n,
             (unsigned long long) atomic_load (&a->reshape.pos),
             (unsigned long long) a->prev.size);
  for (;;) {
    if (atomic_load (&a->resync_stop)) {
      rc = -ECANCELED;
      break;
    }
    /* only this thread moves pos */
    if (atomic_load (&a->reshape.pos) >= a->prev.size) {
      pthread_rwlock_wrlock (&a->reshape.lock);
      reshape_finish (a);
      pthread_rwlock_unlock (&a->reshape.lock);
      break;
    }
    pthread_rwlock_rdlock (&a->reshape.lock);
    rc = reshape_step (a, buf, &moved);
    pthread_rwlock_unlock (&a->reshape.lock);
    if (rc)
      break;
    sync_pace (a, &pace, moved);
  }
  scratch_put (&a->pool, buf);
  if (rc) {
    raid_logf (a, rc == -ECANCELED ? RAID_LOG_INFO : RAID_LOG_ERROR,
               "%s: reshape stopped at byte %llu of %llu: %s", a->sb.name,
               (unsigned long long) atomic_load (&a->reshape.pos),
               (unsigned long long) a->prev.size,
               rc == -ECANCELED ? "cancelled"
               : rc == -EIO ? "the array lost too many members" : strerror (-rc));
    pthread_rwlock_wrlock (&a->reshape.lock);
    reshape_record (a, atomic_load (&a->reshape.pos));
    pthread_rwlock_unlock (&a->reshape.lock);
  }
  run_end (a, RAID_RUN_RESHAPE, NULL, 0);
  return rc;
}

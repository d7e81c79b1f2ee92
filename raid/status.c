/* raid_status: the array as `aoeraid status` and the monitor see it, without waiting for
 * member I/O.
 *
 * What changes under sb_lock (the layout, the slots' members, the spares, the names and
 * events of the superblock) is copied into a->snap whenever it may have changed: when a
 * superblock write begins (sb_write_all, before it goes to the members) and whenever
 * sb_lock is let go (sb_unlock).  sb_lock itself is held while superblocks go to the
 * members, which waits out a silent shelf's dead time; snap.lock is held for a copy only,
 * so a status never waits for a shelf, as md's /proc/mdstat never waits for a superblock
 * write.  The rest (health, roles, errors, positions) is read live, as before. */
#include <stdio.h>
#include <string.h>

#include "raid-int.h"

void
status_snap_init (struct raid_array *a)
{
  pthread_mutex_init (&a->snap.lock, NULL);
}

void
status_snap_destroy (struct raid_array *a)
{
  pthread_mutex_destroy (&a->snap.lock);
}

/* Is the member a->left[I] that left the array in it after all: its shelf a slot's
 * member or a spare again (added back), or the stale member of a slot still (status
 * names those apart)? */
static int
left_in_use (struct raid_array *a, unsigned i)
{
  for (unsigned j = 0; j < a->lay.g.n; j++)
    if ((a->slot[j].m.ops && !strcmp (slot_name (&a->slot[j]), a->left[i].name))
        || (!a->slot[j].m.ops && !memcmp (a->sb.slot_uuid[j], a->left[i].uuid, 16)))
      return 1;
  for (unsigned j = 0; j < a->nspares; j++)
    if (!strcmp (slot_name (&a->spare[j]), a->left[i].name))
      return 1;
  return 0;
}

/* The fields of a status that sb_lock guards, and the members and geometry the roles
 * and the state are counted from (caller holds sb_lock). */
static void
view_take (struct raid_array *a, struct status_view *v)
{
  struct raid_status *st = &v->st;
  unsigned i;

  memset (v, 0, sizeof *v);
  v->published = 1;
  v->g = a->lay.g;
  v->reshape_active = atomic_load (&a->reshape.active);
  if (v->reshape_active)
    v->prev_g = a->prev.g;
  v->resync_after_crash = a->sb.resync_after_crash;
  st->level = a->lay.g.level;
  st->k = a->lay.g.k;
  st->m = a->lay.g.m;
  st->members = a->lay.g.n;
  st->chunk_bytes = a->lay.g.chunk;
  st->size = a->size;
  for (i = 0; i < a->lay.g.n; i++) {
    v->member[i] = a->slot[i].m;
    if (a->slot[i].m.ops)
      snprintf (st->member[i].name, sizeof st->member[i].name, "%s", slot_name (&a->slot[i]));
    else {
      const char *left = slot_left_stale (a, i);
      /* one the admin removed since is no longer the array's to re-add */
      st->member[i].stale = left && sb_removed_index (&a->sb, a->sb.slot_uuid[i]) < 0;
      if (st->member[i].stale)
        snprintf (st->member[i].stale_name, sizeof st->member[i].stale_name, "%s", left);
    }
  }
  memcpy (st->uuid, a->sb.array_uuid, 16);
  memcpy (st->name, a->sb.name, sizeof st->name);
  st->events = a->sb.events;
  st->readonly = a->readonly;
  st->spares = a->nspares;
  for (i = 0; i < a->nspares; i++)
    snprintf (st->spare[i], sizeof st->spare[i], "%s", slot_name (&a->spare[i]));
  for (i = 0; i < a->nleft; i++)
    if (sb_failed_index (&a->sb, a->left[i].uuid) >= 0)
      snprintf (st->admin_failed_name[st->admin_failed++], sizeof st->admin_failed_name[0],
                "%s", a->left[i].name);
    else if (sb_removed_index (&a->sb, a->left[i].uuid) < 0 && !left_in_use (a, i))
      snprintf (st->let_go_name[st->let_go++], sizeof st->let_go_name[0], "%s",
                a->left[i].name);
  /* the replacement, like the spares, changes under sb_lock */
  st->replace_slot = atomic_load (&a->repl.slot);
  if (st->replace_slot >= 0)
    snprintf (st->replace_name, sizeof st->replace_name, "%s", slot_name (&a->repl.member));
  st->resync_units = resync_units (a);
  st->ppl = atomic_load (&a->ppl.on);
  st->ppl_log_bytes = st->ppl ? a->ppl.log_size : 0;
  st->reshape_position = RAID_RESHAPE_NONE;
  if (v->reshape_active) {
    st->reshape_from_level = a->prev.g.level;
    st->reshape_from_members = a->prev.g.n;
    st->reshape_size = a->prev.size;
    st->reshape_bitmap_region = a->reshape.bitmap_region;
  }
}

/* Count the bitmap into a->snap, unless someone holds its lock (a reshape replaces the
 * bitmap under it; bitmap_store waits on the members under it): then it stays as last
 * counted.  A trylock: safe under sb_lock too, which is taken after it.  WAIT: the
 * caller holds no lock of the array and must see the count (after a grow). */
static void
bitmap_count (struct raid_array *a, int wait)
{
  struct status_snap *s = &a->snap;
  uint64_t bits, dirty, region;

  if (wait)
    pthread_mutex_lock (&a->bitmap.lock);
  else if (pthread_mutex_trylock (&a->bitmap.lock) != 0)
    return;
  bits = a->bitmap.nbits;
  dirty = bitmap_dirty_bits (a);
  region = bits ? (uint64_t) a->lay.g.chunk << a->bitmap.shift : 0;
  pthread_mutex_unlock (&a->bitmap.lock);
  pthread_mutex_lock (&s->lock);
  s->bitmap_bits = bits;
  s->bitmap_dirty = dirty;
  s->bitmap_region = region;
  pthread_mutex_unlock (&s->lock);
}

void
status_publish (struct raid_array *a)
{
  struct status_view v;

  view_take (a, &v);
  pthread_mutex_lock (&a->snap.lock);
  a->snap.view = v;
  pthread_mutex_unlock (&a->snap.lock);
  bitmap_count (a, 0);
}

void
status_bitmap_publish (struct raid_array *a)
{
  bitmap_count (a, 1);
}

void
sb_unlock (struct raid_array *a)
{
  status_publish (a);
  pthread_mutex_unlock (&a->sb_lock);
}

static void
status_bitmap (struct raid_array *a, struct raid_status *st)
{
  struct status_snap *s = &a->snap;

  bitmap_count (a, 0);
  pthread_mutex_lock (&s->lock);
  st->bitmap_bits = s->bitmap_bits;
  st->bitmap_dirty = s->bitmap_dirty;
  st->bitmap_region = s->bitmap_region;
  pthread_mutex_unlock (&s->lock);
  st->bitmap_delay_ms = bitmap_delay_ms (a);
}

/* Slot i's role now: its member as last published, its health and flags live. */
static void
status_role (struct raid_array *a, const struct status_view *v, unsigned i,
             struct raid_member_status *ms)
{
  const struct raid_member *m = &v->member[i];
  struct raid_slot *slot = &a->slot[i];
  int faulty = atomic_load (&slot->faulty);

  ms->role = !m->ops ? RAID_ROLE_MISSING
    : faulty || !m->ops->healthy (m->member) ? RAID_ROLE_FAULTY
    : atomic_load (&slot->recovering) ? RAID_ROLE_RECOVERING : RAID_ROLE_ACTIVE;
  ms->failed = m->ops && faulty;
  ms->writemostly = atomic_load (&slot->writemostly);
  ms->read_errors = atomic_load (&slot->read_errors);
  ms->write_errors = atomic_load (&slot->write_errors);
}

/* The roles, the recovering slot and the state, from V's members and layouts. */
static void
status_roles (struct raid_array *a, const struct status_view *v, struct raid_status *st)
{
  uint8_t missing[RAID_MAX_MEMBERS] = { 0 };
  unsigned nmissing = 0;

  st->recovery_slot = -1;
  for (unsigned i = 0; i < v->g.n; i++) {
    struct raid_member_status *ms = &st->member[i];
    status_role (a, v, i, ms);
    if (ms->role == RAID_ROLE_RECOVERING)
      st->recovery_slot = (int) i;
    missing[i] = ms->role != RAID_ROLE_ACTIVE;
    nmissing += missing[i];
  }
  st->state = !geom_survives (&v->g, missing)
    || (v->reshape_active && !geom_survives (&v->prev_g, missing)) ? RAID_STATE_FAILED
    : nmissing ? RAID_STATE_DEGRADED : RAID_STATE_CLEAN;
}

int
raid_status (struct raid_array *a, struct raid_status *st)
{
  struct status_view v;

  pthread_mutex_lock (&a->snap.lock);
  v = a->snap.view;
  pthread_mutex_unlock (&a->snap.lock);
  if (!v.published)
    return -1;
  *st = v.st;
  status_roles (a, &v, st);
  st->recovery_held = raid_recovery_held (a);
  st->resync_offset = atomic_load (&a->resync_offset);
  st->resync_after_crash = v.resync_after_crash && st->resync_offset != RAID_RESYNC_DONE;
  st->recovery_offset = atomic_load (&a->recovery_offset);
  if (atomic_load (&a->fence_state) == 2)      /* named: the Fenced event and line need it */
    snprintf (st->fenced_by, sizeof st->fenced_by, "%s", a->fenced_by);
  st->replace_offset = atomic_load (&a->repl.pos);
  if (st->replace_slot >= 0)
    st->replace_failed = atomic_load (&a->repl.member.faulty);
  raid_get_sync_speed (a, &st->sync_speed_min, &st->sync_speed_max);
  status_bitmap (a, st);
  if (v.reshape_active)
    st->reshape_position = atomic_load (&a->reshape.pos);
  st->check_action = atomic_load (&a->check.action);
  st->check_running = atomic_load (&a->check.running);
  st->check_complete = atomic_load (&a->check.complete);
  st->check_offset = atomic_load (&a->check.pos);
  st->check_mismatches = atomic_load (&a->check.mismatches);
  st->check_read_errors = atomic_load (&a->check.read_errors);
  notes_copy (a, st);
  return 0;
}

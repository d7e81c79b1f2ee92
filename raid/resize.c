/* Using bigger members (md: --grow --size=max).  Once every member of an array was
 * replaced by a bigger one (raid_replace_start), raid_grow_size raises the member data
 * size the superblocks record, and with it the array size, in place: the data offset
 * and the layout stay, so every byte the array held stays where it was, and the new
 * rows at the end of each member hold the new space.  On the redundant levels that
 * space is not in sync (its parity, its mirror copies, are whatever the members held):
 * the resync point moves to the old end, the bitmap marks the new regions dirty, and
 * the resync (raid_resync) covers only them, as after a reshape.
 *
 * Crash safety: the superblocks are written (and the members flushed) before the
 * bitmap.  A crash before any superblock is written leaves the old size; during or
 * after their write, the freshest superblock (the new size) wins at assembly, the
 * array was dirty, so it resyncs from the start over the bitmap's dirty regions, and a
 * bitmap not yet rewritten (its bits do not match the new size) counts as all dirty; when
 * the new space starts inside the old last region, the bit count matches, and that
 * region's bit was set on the members before the superblocks (size_dirty_tail).
 * Either way no stripe of the new space is taken as in sync before a resync wrote it.
 *
 * Adding or removing the write-intent bitmap (md: --grow --bitmap=internal|none),
 * raid_grow_bitmap, online too, on an array in sync, degraded too but not rebuilding (md
 * refuses it while a resync or recovery runs; a member missing then is rebuilt in full
 * when it returns).  A new bitmap's block goes to every member, flushed there
 * (with every write before it), before the superblocks point at it: a crash leaves no
 * bitmap, or a valid one whose bits are all clean (the array was in sync; every write
 * since set its bits first).  A removal writes the superblocks without it first, then
 * forgets it: after a crash the array has none, and resyncs in full. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "raid-int.h"

/* "64 MiB", "30.5 MiB" (to a tenth), or the bytes below 1 KiB. */
static const char *
size_text (uint64_t bytes, char buf[32])
{
  static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
  double v = (double) bytes / 1024;
  unsigned u = 0;

  if (bytes < 1024) {
    snprintf (buf, 32, "%llu bytes", (unsigned long long) bytes);
    return buf;
  }
  while (u < 4 && v >= 1024) {
    v /= 1024;
    u++;
  }
  snprintf (buf, 32, v == (double) (uint64_t) v ? "%.0f %s" : "%.1f %s", v, unit[u]);
  return buf;
}

/* The member data size every slot's member has room for, and the member with least.  A
 * slot without a member (missing at the start) counts nothing: the array is degraded,
 * which grow_blocker refuses. */
static uint64_t
slots_room (struct raid_array *a, const char **smallest)
{
  uint64_t room = UINT64_MAX;

  for (unsigned i = 0; i < a->lay.g.n; i++) {
    if (!a->slot[i].m.ops)
      continue;
    uint64_t r = member_data_room (&a->slot[i].m, a->lay.data_offset, a->lay.g.chunk);
    if (r < room) {
      room = r;
      *smallest = slot_name (&a->slot[i]);
    }
  }
  return room;
}

/* Why a degraded, rebuilding or unsynced array refuses a grow (one line in BUF), or NULL.
 * Every grow refusal (onto shelves, to a member size, of the bitmap) words it here, so
 * the same array gives the same reason whatever was asked: the missing member first (the
 * resync waits on it too).  NEED_WHOLE 0 (the bitmap): a slot without a working member is
 * no reason, a running rebuild still is (it reads the bitmap; md refuses a bitmap change
 * while it runs).  Caller holds sb_lock. */
const char *
grow_unready (struct raid_array *a, int need_whole, char *buf, size_t len)
{
  for (unsigned i = 0; i < a->lay.g.n; i++) {
    struct raid_slot *s = &a->slot[i];
    /* the bitmap: also one whose member is down now (its recovery resumes on it) */
    if (atomic_load (&s->recovering) && (slot_usable (s) || !need_whole))
      snprintf (buf, len, "it is rebuilding slot %u (%s): grow it once the recovery has "
                "finished", i, slot_name (s));
    else if (slot_usable (s) || !need_whole)
      continue;
    else if (!s->m.ops)
      snprintf (buf, len, "it is degraded (slot %u has no member): grow it once it is "
                "whole again (aoeraid add a shelf: it is rebuilt into the slot)", i);
    else
      snprintf (buf, len, "it is degraded (%s in slot %u %s): grow it once it is whole "
                "again (aoeraid add a shelf, or the member back: it is rebuilt into the "
                "slot)", slot_name (s), i, atomic_load (&s->faulty) ? "has failed"
                : "does not answer");
    return buf;
  }
  if (atomic_load (&a->resync_offset) != RAID_RESYNC_DONE)
    return "it is not in sync yet: grow it once its resync has finished";
  return NULL;
}

/* What keeps the array from changing its size (WHOLE) or its bitmap (0) now (one line,
 * in BUF or constant), or NULL. */
static const char *
grow_blocker (struct raid_array *a, int whole, char buf[GROW_WHY_MAX])
{
  const char *why;

  if (atomic_load (&a->reshape.active))
    return "a reshape is still running: wait until it has finished";
  if (raid_replace_pending (a))
    return "a member is being replaced: grow it once that has finished";
  if ((why = grow_unready (a, whole, buf, GROW_WHY_MAX)) != NULL)
    return why;
  if (atomic_load (&a->check.running))
    return "a check or repair is running: stop it (aoeraid check stop) or wait";
  return NULL;
}

/* The member data size to grow to (WANT, 0: the most every member holds), checked;
 * -1 with err filled (caller holds sb_lock). */
static int
size_target (struct raid_array *a, uint64_t want, uint64_t *to, char *err, size_t errlen)
{
  char label[RAID_NAME_MAX + 3], t1[32], t2[32], buf[GROW_WHY_MAX];
  const char *who = array_label (a, label), *why = grow_blocker (a, 1, buf), *smallest = "";
  uint64_t cur = a->sb.data_size, room = slots_room (a, &smallest);

  *to = want ? want & ~(uint64_t) (a->lay.g.chunk - 1) : room;
  if (why)
    snprintf (err, errlen, "cannot grow %s: %s", who, why);
  else if (want && want < cur)
    snprintf (err, errlen, "cannot grow %s to %s per member: shrinking is not supported "
              "(its member data size is %s)", who, size_text (want, t1), size_text (cur, t2));
  else if (room <= cur)
    snprintf (err, errlen, "nothing to grow: every member's data area is already %s; "
              "replace members with bigger shelves first", size_text (cur, t1));
  else if (*to > room)
    snprintf (err, errlen, "cannot grow %s to %s per member: %s has room for %s only",
              who, size_text (*to, t1), smallest, size_text (room, t2));
  else if (*to <= cur)
    snprintf (err, errlen, "nothing to grow: %s per member, in whole chunks of %u bytes, "
              "is the member data size already", size_text (want, t1), a->lay.g.chunk);
  else
    return 0;
  return -1;
}

void
spares_warn_small (struct raid_array *a)
{
  pthread_mutex_lock (&a->sb_lock);
  for (unsigned i = 0; i < a->nspares; i++)
    if (!member_fits (a, &a->spare[i]))
      raid_logf (a, RAID_LOG_WARN, "%s: spare %s (%llu bytes) is now too small to take a "
                 "slot (a member needs %llu bytes): remove it and add a bigger shelf",
                 a->sb.name, slot_name (&a->spare[i]),
                 (unsigned long long) a->spare[i].m.ops->size (a->spare[i].m.member),
                 (unsigned long long) array_member_bytes (a));
  sb_unlock (a);
}

/* The old last region, part full, takes in new space: a bitmap block of the old size
 * then has as many bits as one of the new size, and assembly would take it with that
 * region clean.  Its bit is set on the members before any superblock says the new size
 * (caller holds the bitmap lock and sb_lock).  1 when sb_lock was let go meanwhile (a
 * member may have failed, a replace started: the caller looks again), else 0. */
static int
size_dirty_tail (struct raid_array *a)
{
  struct raid_bitmap *bm = &a->bitmap;
  uint64_t old_units = resync_units (a);

  if (!bm->nbits || old_units >= bm->nbits << bm->shift
      || (!a->lay.g.m && a->lay.g.copies < 2))
    return 0;
  atomic_store (&bm->state[old_units >> bm->shift], BIT_SET);
  sb_unlock (a);
  bitmap_store (a, NULL);
  pthread_mutex_lock (&a->sb_lock);
  return 1;
}

/* The new layout takes over (caller holds the reshape lock exclusive, the bitmap lock
 * and sb_lock): the superblocks first, then the bitmap (see the top). */
static int
size_apply (struct raid_array *a, struct raid_layout *nl)
{
  struct raid_layout old = a->lay;
  uint64_t old_units = resync_units (a);
  int redundant = nl->g.m || nl->g.copies > 1;

  a->lay = *nl;
  if (bitmap_grow (a, old_units) < 0) {
    a->lay = old;
    return -ENOMEM;
  }
  layout_free (&old);
  a->size = a->lay.size;
  if (redundant)
    atomic_store (&a->resync_offset, old_units);
  a->sb.data_size = a->lay.g.rows << a->lay.g.chunk_shift;
  a->sb.array_size = a->size;
  sb_write_all (a);
  sb_unlock (a);
  /* durable before the bitmap changes; a member failing it is marked faulty */
  flush_members (a);
  if (a->bitmap.nbits)
    bitmap_store (a, NULL);
  pthread_mutex_lock (&a->sb_lock);
  return 0;
}

/* -EROFS (err filled) when the array may not change; else 0, with no request running,
 * and the bitmap lock and sb_lock held, in their order: requests, then the bitmap (its
 * users take sb_lock after it), then sb_lock. */
static int
grow_lock (struct raid_array *a, char *err, size_t errlen)
{
  if (array_readonly (a, err, errlen))
    return -EROFS;
  pthread_rwlock_wrlock (&a->reshape.lock);
  pthread_mutex_lock (&a->bitmap.lock);
  pthread_mutex_lock (&a->sb_lock);
  return 0;
}

static void
grow_unlock (struct raid_array *a)
{
  sb_unlock (a);
  pthread_mutex_unlock (&a->bitmap.lock);
  pthread_rwlock_unlock (&a->reshape.lock);
  status_bitmap_publish (a);    /* sb_unlock's count found the bitmap's lock held: ours */
}

int
raid_grow_size (struct raid_array *a, uint64_t data_size, char *err, size_t errlen)
{
  uint64_t to, was_data, was_size;
  struct raid_layout nl;
  char t[4][32];
  int rc;

  if (grow_lock (a, err, errlen))
    return -EROFS;
  was_data = a->sb.data_size;
  was_size = a->size;
  rc = size_target (a, data_size, &to, err, errlen) ? -EINVAL : 0;
  if (rc == 0 && size_dirty_tail (a))         /* sb_lock was let go: look again */
    rc = size_target (a, data_size, &to, err, errlen) ? -EINVAL : 0;
  if (rc == 0
      && layout_init (&nl, a->lay.g.level, a->lay.g.n, a->lay.g.k, a->lay.g.m,
                      a->lay.g.chunk, to, a->lay.data_offset, err, errlen) < 0)
    rc = -EINVAL;
  if (rc == 0) {
    raid_logf (a, RAID_LOG_INFO, "%s: grow: member data size %s -> %s, array %s -> %s%s",
               a->sb.name, size_text (was_data, t[0]), size_text (to, t[1]),
               size_text (was_size, t[2]), size_text (nl.size, t[3]),
               nl.g.m || nl.g.copies > 1 ? "; the new space is resynced next" : "");
    rc = size_apply (a, &nl);
    if (rc) {
      layout_free (&nl);
      snprintf (err, errlen, "cannot grow: out of memory for the bitmap");
    }
  }
  grow_unlock (a);
  if (rc == 0)
    spares_warn_small (a);
  return rc;
}

/* A bitmap of regions of REGION bytes (caller holds the reshape lock exclusive, the
 * bitmap lock and sb_lock; the array is whole and in sync): every bit clean; the block
 * on every member (flushed there) before the superblocks name it.  0 or -ENOMEM. */
static int
bitmap_add (struct raid_array *a, uint64_t region)
{
  if (bitmap_create (a, region) < 0)
    return -ENOMEM;
  /* above the events of every member that does not take the superblock write below: one
   * down now (degraded) missed writes the new bitmap never saw; it must come back rebuilt
   * in full, not re-added from the clean bits (readd_slot) */
  atomic_store (&a->bitmap.events_cleared, a->sb.events + 1);
  sb_unlock (a);     /* a member failing the write takes it */
  bitmap_store (a, NULL);
  pthread_mutex_lock (&a->sb_lock);
  a->sb.bitmap_offset = RAID_BITMAP_OFFSET;
  sb_write_all (a);
  sb_unlock (a);
  flush_members (a);
  pthread_mutex_lock (&a->sb_lock);
  return 0;
}

/* The superblocks without the bitmap, durably, then the bitmap forgotten (same locks). */
static void
bitmap_drop (struct raid_array *a)
{
  a->sb.bitmap_offset = 0;
  sb_write_all (a);
  sb_unlock (a);
  flush_members (a);
  bitmap_free (&a->bitmap);
  pthread_mutex_lock (&a->sb_lock);
}

/* Why the bitmap cannot become one of REGION bytes (0: none) now (one line in err), or 0
 * (caller holds sb_lock and the bitmap lock). */
static int
bitmap_refused (struct raid_array *a, uint64_t region, char *err, size_t errlen)
{
  char label[RAID_NAME_MAX + 3], t1[32], t2[32], buf[GROW_WHY_MAX];
  const char *who = array_label (a, label), *why = grow_blocker (a, 0, buf);
  struct raid_bitmap *bm = &a->bitmap;
  uint64_t have = (uint64_t) a->lay.g.chunk << bm->shift;

  if (!a->lay.g.m && a->lay.g.copies < 2)
    snprintf (err, errlen, "cannot %s a write-intent bitmap: %s is a %s, without redundancy: "
              "no member of it comes back to be re-added from one (md refuses it too)",
              region ? "add" : "remove", who, raid_level_name (a->lay.g.level));
  else if (why)
    snprintf (err, errlen, "cannot %s the write-intent bitmap of %s: %s",
              region ? "add" : "remove", who, why);
  else if (!region && !bm->nbits)
    snprintf (err, errlen, "%s has no write-intent bitmap to remove", who);
  else if (region && bm->nbits && bitmap_shift (a, region) == bm->shift)
    snprintf (err, errlen, "%s has a write-intent bitmap of %s regions already", who,
              size_text (have, t1));
  else if (region && bm->nbits)
    snprintf (err, errlen, "%s has a write-intent bitmap of %s regions: its region size "
              "cannot change in place; remove it (bitmap=none), then add one of %s",
              who, size_text (have, t1), size_text (region, t2));
  else
    return 0;
  return -1;
}

int
raid_grow_bitmap (struct raid_array *a, uint64_t region, char *err, size_t errlen)
{
  char t[32];
  int rc, degraded;

  if (grow_lock (a, err, errlen))
    return -EROFS;
  rc = bitmap_refused (a, region, err, errlen) ? -EINVAL : 0;
  degraded = array_degraded (a);
  /* bitmap_add and bitmap_drop let go of sb_lock: a spare waiting (a re-add decided from
   * the old bitmap) must not take its slot then and rebuild from a bitmap freed under it */
  atomic_store (&a->bitmap_changing, rc == 0);
  if (rc == 0 && region) {
    rc = bitmap_add (a, region);
    if (rc)
      snprintf (err, errlen, "cannot add a write-intent bitmap: out of memory");
    else {
      /* the outcome from the grow itself: status's bitmap figures are taken only when
       * its lock is free, and a writer may hold it as the answer is made */
      snprintf (err, errlen, "write-intent bitmap added: %llu regions of %s, every one "
                "clean%s", (unsigned long long) a->bitmap.nbits,
                size_text ((uint64_t) a->lay.g.chunk << a->bitmap.shift, t),
                degraded ? "; " RAID_BITMAP_ADDED_DEGRADED : "");
      raid_logf (a, RAID_LOG_INFO, "%s: %s", a->sb.name, err);
    }
  }
  else if (rc == 0) {
    bitmap_drop (a);
    snprintf (err, errlen, "write-intent bitmap removed: a member that comes back is "
              "rebuilt in full, and a crash resyncs the whole array%s",
              degraded ? "; " RAID_BITMAP_REMOVED_DEGRADED : "");
    raid_logf (a, RAID_LOG_INFO, "%s: %s", a->sb.name, err);
  }
  /* a re-add waiting as a spare was told of the old bitmap: a new one, clean, never saw
   * what it missed, and none is none to re-add from; it is rebuilt in full */
  for (unsigned k = 0; rc == 0 && k < a->nspares; k++)
    a->spare[k].readd = 0;
  atomic_store (&a->bitmap_changing, 0);
  grow_unlock (a);
  return rc;
}

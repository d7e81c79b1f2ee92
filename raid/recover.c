/* Spares and recovery: a member added to a running array waits as a spare;
 * when a slot is faulty or missing the spare takes it (role RECOVERING)
 * and raid_recover rebuilds its contents from the other members, unit by
 * unit (the lock units of rw.c: stripes, or chunks for mirrors), as md's
 * recovery does.  Below recovery_offset the new member is as good as any
 * (rw.c: slot_usable_at); above it, it takes writes but is never read. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "raid-int.h"

/* Checkpoint the recovery position every this many units (and at the end). */
#define RECOVERY_CHECKPOINT 64

/* ---- adding a member -------------------------------------------------- */

/* The member's name is already in use by a slot or a spare. */
static int
member_in_use (struct raid_array *a, const char *name)
{
  unsigned i;

  for (i = 0; i < a->g.n; i++)
    if (a->slot[i].m.ops && !atomic_load (&a->slot[i].faulty)
        && !strcmp (slot_name (&a->slot[i]), name))
      return 1;
  for (i = 0; i < a->nspares; i++)
    if (!strcmp (slot_name (&a->spare[i]), name))
      return 1;
  return 0;
}

/* Why this superblock makes the member unfit to be a spare; NULL if fit. */
static const char *
add_refusal (struct raid_array *a, const struct raid_sb_summary *sb)
{
  switch (sb->state) {
  case RAID_SB_NONE:
    return NULL;
  case RAID_SB_OK:
    return memcmp (sb->array_uuid, a->sb.array_uuid, 16)
      ? "holds another array's superblock: wipe its first 1 MiB if that array is gone" : NULL;
  case RAID_SB_CORRUPT:
    return "has a corrupt aoeraid superblock: wipe its first 1 MiB to use it";
  case RAID_SB_NEWER:
    return "has a superblock from a newer aoeraid format: use a newer aoeraid";
  case RAID_SB_IOERR:
    break;
  }
  return "cannot be read: check that it is up and answering";
}

int
raid_add_member (struct raid_array *a, struct raid_member *m, char *err, size_t errlen)
{
  const char *name = m->ops->name (m->member);
  uint64_t need = a->sb.data_offset + a->sb.data_size;
  struct raid_sb_summary sb;
  const char *why;
  uint8_t uuid[16];
  int rc = 0;

  if (m->ops->size (m->member) < need) {
    snprintf (err, errlen, "member %s is too small (%llu bytes): the array needs %llu bytes",
              name, (unsigned long long) m->ops->size (m->member), (unsigned long long) need);
    return -EINVAL;
  }
  raid_examine (m, &sb);
  why = add_refusal (a, &sb);
  if (why) {
    snprintf (err, errlen, "member %s %s", name, why);
    return sb.state == RAID_SB_IOERR ? -EIO : -EINVAL;
  }
  if (getrandom (uuid, 16, 0) != 16)
    memcpy (uuid, &m, sizeof m < 16 ? sizeof m : 16);   /* unique enough within one array */
  uuid[6] = (uuid[6] & 0x0f) | 0x40;
  uuid[8] = (uuid[8] & 0x3f) | 0x80;

  pthread_mutex_lock (&a->sb_lock);
  if (member_in_use (a, name)) {
    snprintf (err, errlen, "member %s is already in the array", name);
    rc = -EEXIST;
  }
  else if (a->nspares == RAID_MAX_SPARES) {
    snprintf (err, errlen, "the array already has %d spares: remove one first",
              RAID_MAX_SPARES);
    rc = -ENOSPC;
  }
  else {
    struct raid_slot *s = &a->spare[a->nspares++];
    s->m = *m;
    memcpy (s->uuid, uuid, 16);
    atomic_store (&s->faulty, 0);
    sb_write_all (a);
    if (!member_in_use (a, name)) {     /* pruned: its superblock write failed */
      snprintf (err, errlen, "cannot write the superblock to member %s: check that it is "
                "writable and answering", name);
      rc = -EIO;
    }
  }
  pthread_mutex_unlock (&a->sb_lock);
  if (rc == 0)
    raid_logf (a, RAID_LOG_INFO, "%s: added %s as a spare", a->sb.name, name);
  return rc;
}

/* ---- choosing what to rebuild ----------------------------------------- */

/* The slot under recovery, or -1.  A faulty one no longer is. */
static int
recovering_slot (struct raid_array *a)
{
  for (unsigned i = 0; i < a->g.n; i++)
    if (atomic_load (&a->slot[i].recovering) && slot_usable (&a->slot[i]))
      return (int) i;
  return -1;
}

/* A faulty or missing slot a spare could take, or -1.  None while another slot is
 * still recovering (down for now, but not failed): one recovery_offset serves one
 * recovery at a time. */
static int
replaceable_slot (struct raid_array *a)
{
  unsigned i;

  for (i = 0; i < a->g.n; i++)
    if (a->slot[i].m.ops && atomic_load (&a->slot[i].recovering)
        && !atomic_load (&a->slot[i].faulty))
      return -1;
  for (i = 0; i < a->g.n; i++)
    if (!a->slot[i].m.ops || atomic_load (&a->slot[i].faulty))
      return (int) i;
  return -1;
}

int
raid_recovery_pending (struct raid_array *a)
{
  int pending;

  pthread_mutex_lock (&a->sb_lock);
  pending = recovering_slot (a) >= 0 || (a->nspares && replaceable_slot (a) >= 0);
  pthread_mutex_unlock (&a->sb_lock);
  return pending;
}

/* Move the first spare into the slot.  Every stripe lock is held, so no
 * write is in flight on the slot's old member while it changes hands. */
static int
spare_install (struct raid_array *a)
{
  struct raid_slot *s, *spare;
  int i;

  stripe_lock_range (&a->locks, 0, STRIPE_LOCKS - 1);
  pthread_mutex_lock (&a->sb_lock);
  i = replaceable_slot (a);
  if (i < 0 || !a->nspares) {
    pthread_mutex_unlock (&a->sb_lock);
    stripe_unlock_range (&a->locks, 0, STRIPE_LOCKS - 1);
    return -1;
  }
  s = &a->slot[i];
  spare = &a->spare[0];
  atomic_store (&s->faulty, 1);           /* readers ignore s->m while faulty */
  atomic_store (&s->recovering, 1);
  atomic_store (&a->recovery_offset, 0);
  s->m = spare->m;
  memcpy (s->uuid, spare->uuid, 16);
  raid_logf (a, RAID_LOG_INFO, "%s: spare %s takes slot %d; recovery starts", a->sb.name,
             slot_name (s), i);
  atomic_store (&s->read_errors, 0);
  atomic_store (&s->write_errors, 0);
  memcpy (a->sb.slot_uuid[i], s->uuid, 16);
  a->sb.roles[i] = RAID_ROLE_RECOVERING;
  spare_remove (a, 0);
  atomic_store (&s->faulty, 0);
  sb_write_all (a);
  pthread_mutex_unlock (&a->sb_lock);
  stripe_unlock_range (&a->locks, 0, STRIPE_LOCKS - 1);
  return i;
}

/* ---- rebuilding one unit ---------------------------------------------- */

/* Write one rebuilt chunk; a new member that cannot take it is failed. */
static int
recover_write (struct raid_array *a, struct raid_slot *s, uint64_t offset, void *buf)
{
  int err = slot_io (s, RAID_IO_WRITE, offset, a->g.chunk, buf);

  if (err == 0)
    return 0;
  if (err != ENODEV)
    atomic_fetch_add (&s->write_errors, 1);
  slot_fail (a, s, err == ENODEV ? "it went down during recovery" : strerror (err));
  return -EIO;
}

/* Parity family: decode the slot's column of stripe u from k others. */
static int
recover_stripe (struct raid_array *a, struct raid_slot *s, uint64_t u, uint8_t *scratch)
{
  unsigned n = a->g.k + a->g.m, idx, target = n;
  uint8_t valid[RAID_MAX_MEMBERS] = { 0 }, bad[RAID_MAX_MEMBERS] = { 0 };
  uint8_t need[RAID_MAX_MEMBERS] = { 0 };
  uint8_t *cols[RAID_MAX_MEMBERS];

  for (idx = 0; idx < n; idx++) {
    cols[idx] = scratch + (size_t) idx * a->g.chunk;
    if (col_slot (a, u, idx) == s)
      target = idx;
  }
  need[target] = bad[target] = 1;
  if (stripe_gather (a, u, 0, a->g.chunk, cols, valid, bad, need, NULL))
    return -EIO;
  return recover_write (a, s, col_offset (a, u, 0), cols[target]);
}

/* Near family: copy chunk u from a good copy onto the slot, if it holds one. */
static int
recover_chunk (struct raid_array *a, struct raid_slot *s, uint64_t u, uint8_t *buf)
{
  struct raid_loc dst = { .slot = a->g.n };
  unsigned c;
  int err = ENODEV;

  for (c = 0; c < a->g.copies; c++)
    if (&a->slot[geom_near (&a->g, u, c).slot] == s)
      dst = geom_near (&a->g, u, c);
  if (dst.slot == a->g.n)
    return 0;
  for (c = 0; c < a->g.copies && err; c++) {
    struct raid_loc l = geom_near (&a->g, u, c);
    struct raid_slot *from = &a->slot[l.slot];
    if (from != s && slot_usable_at (a, from, u))
      err = slot_io (from, RAID_IO_READ, slot_offset (a, l, 0), a->g.chunk, buf);
  }
  if (err) {
    raid_logf (a, RAID_LOG_ERROR, "%s: recovery: no copy of chunk %llu could be read",
               a->sb.name, (unsigned long long) u);
    return -EIO;
  }
  return recover_write (a, s, slot_offset (a, dst, 0), buf);
}

/* Rebuild unit u under its lock. */
static int
recover_unit (struct raid_array *a, struct raid_slot *s, uint64_t u, uint8_t *scratch)
{
  int rc;

  stripe_lock_range (&a->locks, u, u);
  rc = a->g.family == RAID_FAMILY_PARITY ? recover_stripe (a, s, u, scratch)
                                         : recover_chunk (a, s, u, scratch);
  /* Writes below the recovery point read the new member: advance only
   * while the unit is still locked. */
  if (rc == 0)
    atomic_store (&a->recovery_offset, u + 1);
  stripe_unlock_range (&a->locks, u, u);
  return rc;
}

static void
recovery_done (struct raid_array *a, struct raid_slot *s)
{
  pthread_mutex_lock (&a->sb_lock);
  a->sb.roles[s->index] = RAID_ROLE_ACTIVE;
  atomic_store (&s->recovering, 0);
  atomic_store (&a->recovery_offset, RAID_RESYNC_DONE);
  sb_write_all (a);
  pthread_mutex_unlock (&a->sb_lock);
  raid_logf (a, RAID_LOG_INFO, "%s: recovery of slot %u onto %s finished", a->sb.name,
             s->index, slot_name (s));
}

int
raid_recover (struct raid_array *a)
{
  uint64_t units = resync_units (a), u;
  uint8_t *scratch;
  struct raid_slot *s;
  int slot, rc = 0;

  if (atomic_load (&a->resync_stop))
    return -ECANCELED;
  slot = recovering_slot (a);
  if (slot < 0)
    slot = spare_install (a);
  if (slot < 0)
    return -EAGAIN;
  s = &a->slot[slot];
  scratch = scratch_get (&a->pool, (size_t) (a->g.k + a->g.m + 1) * a->g.chunk);
  if (!scratch)
    return -ENOMEM;
  u = atomic_load (&a->recovery_offset);
  raid_logf (a, RAID_LOG_INFO, "%s: recovery of slot %d onto %s from unit %llu of %llu",
             a->sb.name, slot, slot_name (s), (unsigned long long) u,
             (unsigned long long) units);
  for (; u < units && rc == 0; u++) {
    if (atomic_load (&a->resync_stop))
      rc = -ECANCELED;
    else if (!slot_usable (s))
      rc = -EIO;
    else
      rc = recover_unit (a, s, u, scratch);
    if (rc == 0 && (u + 1) % RECOVERY_CHECKPOINT == 0)
      array_checkpoint (a);
  }
  scratch_put (&a->pool, scratch);
  if (rc == 0 && slot_usable (s))
    recovery_done (a, s);
  else {
    if (rc == 0)
      rc = -EIO;
    raid_logf (a, rc == -ECANCELED ? RAID_LOG_INFO : RAID_LOG_ERROR,
               "%s: recovery of slot %d onto %s stopped at unit %llu of %llu: %s", a->sb.name,
               slot, slot_name (s), (unsigned long long) atomic_load (&a->recovery_offset),
               (unsigned long long) units, rc == -ECANCELED ? "cancelled" : "member failed");
    array_checkpoint (a);
  }
  return rc;
}

/* Spares and recovery: a member added to a running array waits as a spare;
 * when a slot is faulty or missing the spare takes it (role RECOVERING)
 * and raid_recover rebuilds its contents from the other members, unit by
 * unit (the lock units of rw.c: stripes, or chunks for mirrors), as md's
 * recovery does.  Below recovery_offset the new member is as good as any
 * (rw.c: slot_usable_at); above it, it takes writes but is never read. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "raid-int.h"

/* ---- adding a member -------------------------------------------------- */

/* What the member's name is in use as, in words (a slot, a spare or the new member of a
 * replace: out of the spare list while it copies, added again it would be both), or NULL.
 * The refusal of an add says which: it said "already in the array" of a spare too. */
static const char *
member_use (struct raid_array *a, const char *name)
{
  unsigned i;

  for (i = 0; i < a->lay.g.n; i++)
    if (a->slot[i].m.ops && !atomic_load (&a->slot[i].faulty)
        && !strcmp (slot_name (&a->slot[i]), name))
      return "a working member";
  for (i = 0; i < a->nspares; i++)
    if (!strcmp (slot_name (&a->spare[i]), name))
      return "a spare";
  return atomic_load (&a->repl.slot) >= 0 && !strcmp (slot_name (&a->repl.member), name)
    ? "the new member of the replace running" : NULL;
}

/* The slot that holds (or held, failed) the member NAME; -1 when none. */
int
slot_index (struct raid_array *a, const char *name)
{
  for (unsigned i = 0; i < a->lay.g.n; i++)
    if (a->slot[i].m.ops && !strcmp (slot_name (&a->slot[i]), name))
      return (int) i;
  return -1;
}

/* Why this superblock makes the member NAME unfit to be a spare (in BUF when it says
 * more than a fixed phrase); NULL if fit. */
static const char *
add_refusal (struct raid_array *a, const char *name, const struct raid_sb_summary *sb,
             char *buf, size_t len)
{
  char uuid[37], role[24];

  switch (sb->state) {
  case RAID_SB_NONE:
    return NULL;
  case RAID_SB_OK:
    if (!memcmp (sb->array_uuid, a->sb.array_uuid, 16))
      return NULL;
    raid_uuid_format (sb->array_uuid, uuid);
    if (sb->role == RAID_SB_ROLE_SPARE)
      snprintf (role, sizeof role, "a spare");
    else
      snprintf (role, sizeof role, "slot %u", sb->role);
    snprintf (buf, len, "holds the superblock of another array, '%s' (%s, %s): if that "
              "array is gone, wipe it with '" RAID_ZERO_SB_HINT "'", sb->name, uuid, role,
              name);
    return buf;
  case RAID_SB_CORRUPT:
    snprintf (buf, len, "has a corrupt aoeraid superblock (%s): wipe it with '"
              RAID_ZERO_SB_HINT "' to use it", sb->problem, name);
    return buf;
  case RAID_SB_NEWER:
    return "has a superblock from a newer aoeraid format: use a newer aoeraid";
  case RAID_SB_IOERR:
    break;
  }
  return "cannot be read: check that it is up and answering";
}

/* Did the admin remove this member of the array (its uuid on the removed list)?  Caller
 * holds sb_lock. */
static int
removed_member (struct raid_array *a, const struct raid_sb_summary *sb)
{
  return sb->state == RAID_SB_OK && !memcmp (sb->array_uuid, a->sb.array_uuid, 16)
    && sb_removed_index (&a->sb, sb->member_uuid) >= 0;
}

/* Is this a member of the failed array A, in the slot its superblock names (md: no add
 * to a failed array, EBUSY)?  Added, it would be a spare: its superblock rewritten so,
 * force could no longer take it back into its slot, and the array would not start again.
 * Caller holds sb_lock. */
static int
failed_array_slot (struct raid_array *a, const struct raid_sb_summary *sb)
{
  uint8_t missing[RAID_MAX_MEMBERS];

  if (sb->state != RAID_SB_OK || sb->role >= a->lay.g.n
      || memcmp (sb->array_uuid, a->sb.array_uuid, 16)
      || memcmp (sb->member_uuid, a->sb.slot_uuid[sb->role], 16) || removed_member (a, sb))
    return 0;
  array_missing (a, missing);
  return !array_survives (a, missing);
}

/* Would a start of the failed array, with every member back, need force (md's --assemble
 * --force) for stale members?  As assembly (choose_members) goes by the superblocks on
 * the members: the freshest record names the members it counts active, and one that took
 * no record for more than an event is stale.  SB, the superblock of a member come back,
 * says what is on it; the others' is what sb_write_all last wrote on them.  A failure no
 * superblock took (every member gone at once) leaves a start without force as before.
 * Caller holds sb_lock. */
static int
restart_needs_force (struct raid_array *a, const struct raid_sb_summary *sb)
{
  uint8_t stale[RAID_MAX_MEMBERS];

  for (unsigned i = 0; i < a->lay.g.n; i++) {
    uint64_t events = i == sb->role ? sb->events : a->slot[i].events_on_disk;
    stale[i] = (i != sb->role && !a->slot[i].m.ops) || events + 1 < a->on_disk.events
      || a->on_disk.roles[i] != RAID_ROLE_ACTIVE;
  }
  return !array_survives (a, stale);
}

/* Did the admin fail this member of the array (its uuid on the failed list)?  Caller
 * holds sb_lock. */
static int
failed_member (struct raid_array *a, const struct raid_sb_summary *sb)
{
  return sb->state == RAID_SB_OK && !memcmp (sb->array_uuid, a->sb.array_uuid, 16)
    && sb_failed_index (&a->sb, sb->member_uuid) >= 0;
}

int
raid_member_failed (struct raid_array *a, const struct raid_sb_summary *sb)
{
  int failed;

  pthread_mutex_lock (&a->sb_lock);
  failed = failed_member (a, sb);
  sb_unlock (a);
  return failed;
}

int
raid_member_removed (struct raid_array *a, const struct raid_sb_summary *sb)
{
  int removed;

  pthread_mutex_lock (&a->sb_lock);
  removed = removed_member (a, sb);
  sb_unlock (a);
  return removed;
}

/* The slot (1 + index) this member left and may come back to with only the
 * regions its bitmap marks dirty rebuilt, or 0: the slot recorded it, it is
 * out of the array now, the admin did not remove it, and no bit was cleared
 * since it last heard from the array (md: re-add).  Caller holds sb_lock. */
static int
readd_slot (struct raid_array *a, const struct raid_sb_summary *sb)
{
  struct raid_slot *s;

  /* one the admin removed comes back as a new member, rebuilt in full */
  if (removed_member (a, sb))
    return 0;

  /* It must have left as an active member: one still being rebuilt holds
   * good data below its recovery point only, whatever the bitmap says. */
  if (sb->state != RAID_SB_OK || sb->role >= a->lay.g.n || !a->bitmap.nbits
      || sb->roles[sb->role] != RAID_ROLE_ACTIVE
      || memcmp (sb->array_uuid, a->sb.array_uuid, 16)
      || memcmp (sb->member_uuid, a->sb.slot_uuid[sb->role], 16))
    return 0;
  s = &a->slot[sb->role];
  if (s->m.ops && !atomic_load (&s->faulty))
    return 0;
  /* No bitmap lock here: its holders take sb_lock (clearing passes, failed
   * bitmap writes), so the order is bitmap lock, then sb_lock. */
  return sb->events >= atomic_load (&a->bitmap.events_cleared) ? (int) sb->role + 1 : 0;
}

int
raid_add_member (struct raid_array *a, struct raid_member *m, char *err, size_t errlen)
{
  return raid_add_member_flags (a, m, 0, err, errlen);
}

/* The slot whose member (by uuid) is the disk of SB, served under a name other than NAME,
 * or -1. */
static int
slot_of_disk (struct raid_array *a, const struct raid_sb_summary *sb, const char *name)
{
  if (sb->state != RAID_SB_OK || memcmp (sb->array_uuid, a->sb.array_uuid, 16))
    return -1;
  for (unsigned i = 0; i < a->lay.g.n; i++)
    if (a->slot[i].m.ops && !memcmp (a->slot[i].uuid, sb->member_uuid, 16)
        && strcmp (slot_name (&a->slot[i]), name))
      return (int) i;
  return -1;
}

int
raid_add_member_flags (struct raid_array *a, struct raid_member *m, unsigned flags,
                       char *err, size_t errlen)
{
  const char *name = m->ops->name (m->member);
  uint64_t need = array_member_bytes (a);
  struct raid_sb_summary sb;
  const char *why, *use;
  char text[sizeof sb.problem + 2 * RAID_NAME_MAX + 200];
  uint8_t uuid[16];
  int removed = 0, failed = 0, readd = 0, held, rc = array_readonly (a, err, errlen);

  if (rc)
    return rc;
  if (m->ops->size (m->member) < need) {
    snprintf (err, errlen, "%s is too small (%llu bytes): the array needs %llu bytes on each "
              "member; add a shelf of at least that size", name,
              (unsigned long long) m->ops->size (m->member), (unsigned long long) need);
    return -EINVAL;
  }
  /* one of the array's members coming back, found taken by another host: the array is
   * that host's now */
  examine_as (slot_index (a, name) >= 0 ? a : NULL, m, &sb);
  if ((rc = array_readonly (a, err, errlen)) != 0)
    return rc;
  why = add_refusal (a, name, &sb, text, sizeof text);
  if (why) {
    snprintf (err, errlen, "member %s %s", name, why);
    return sb.state == RAID_SB_IOERR ? -EIO : -EINVAL;
  }
  raid_uuid_new (uuid);

  pthread_mutex_lock (&a->sb_lock);
  removed = removed_member (a, &sb);
  failed = failed_member (a, &sb);
  if ((use = member_use (a, name))) {
    snprintf (err, errlen, "member %s is already in the array: %s", name, use);
    rc = -EEXIST;
  }
  else if (failed_array_slot (a, &sb)) {
    char label[RAID_NAME_MAX + 3];
    snprintf (err, errlen, "%s holds slot %u of %s, which has failed: added now it would "
              "be a spare, no longer its slot's; stop the array and start it again %s", name,
              sb.role, array_quoted (a, label), restart_needs_force (a, &sb)
              ? "with force=true, which takes its stale members back"
              : "when its members are back (no force needed: their superblocks never "
              "recorded the failure)");
    rc = -EBUSY;
  }
  else if (removed && (flags & RAID_ADD_INCREMENTAL)) {
    /* md: a device removed is not taken back by mdadm --incremental */
    snprintf (err, errlen, "member %s was removed from the array by the administrator: "
              "only an explicit add takes it again", name);
    rc = -EPERM;
  }
  else if (failed && (flags & RAID_ADD_INCREMENTAL)) {
    /* md: a device failed stays out after a reassembly; mdadm re-adds it when told */
    snprintf (err, errlen, "%s was failed by the administrator (aoeraid fail); left out: "
              "aoeraid add %s takes it back", name, name);
    rc = -EPERM;
  }
  else if ((held = slot_of_disk (a, &sb, name)) >= 0) {
    /* the disk of a slot another name serves (shelves swapped): a spare, it would be
     * rebuilt over that slot's data */
    snprintf (err, errlen, "%s holds the disk of slot %d, which %s serves (shelves swapped?): "
              "stop the array and start it again; assembly goes by superblocks, not names",
              name, held, slot_name (&a->slot[held]));
    rc = -EBUSY;
  }
  else if (a->nspares == RAID_MAX_SPARES) {
    snprintf (err, errlen, "the array already has %d spares: remove one first",
              RAID_MAX_SPARES);
    rc = -ENOSPC;
  }
  else {
    struct raid_slot *s = &a->spare[a->nspares++];
    s->m = *m;
    s->readd = readd = readd_slot (a, &sb);
    memcpy (s->uuid, s->readd ? sb.member_uuid : uuid, 16);
    atomic_store (&s->faulty, 0);
    if (removed)                        /* the admin takes it again: off the list */
      sb_removed_drop (&a->sb, sb.member_uuid);
    if (failed)
      sb_failed_drop (&a->sb, sb.member_uuid);
    a->adding = name;
    sb_write_all (a);
    a->adding = NULL;
    if (!member_use (a, name)) {        /* pruned: its superblock write failed */
      snprintf (err, errlen, "cannot write the superblock to member %s: check that it is "
                "writable and answering", name);
      rc = -EIO;
      if (removed)                      /* not added: it stays removed, or failed */
        sb_removed_add (&a->sb, sb.member_uuid);
      if (failed)
        sb_failed_add (&a->sb, sb.member_uuid);
      if (removed || failed)
        sb_write_all (a);
    }
  }
  sb_unlock (a);
  if (rc == 0) {
    /* what happens, said once: the log and the caller's answer (err) alike */
    if (readd)
      snprintf (err, errlen, "re-adding %s to slot %d from the write-intent bitmap (only "
                "what was written while it was away is rebuilt)", name, readd - 1);
    else
      snprintf (err, errlen, "added %s as a spare%s", name, removed ? " (the administrator "
                "had removed it: it is a new member now, rebuilt in full)" : "");
    raid_logf (a, RAID_LOG_INFO, "%s: %s", a->sb.name, err);
  }
  return rc;
}

/* The admin fails the new member of a replace (md: failing the replacement stops the
 * replace).  Faulty, it takes no more writes (the shadows skip it) and the next
 * superblocks drop the record of the replace; raid_replace, running or next, stops on it
 * and drops it.  Caller holds sb_lock. */
static void
replacement_fail (struct raid_array *a)
{
  struct raid_slot *r = &a->repl.member;
  int i = atomic_load (&a->repl.slot);

  if (!slot_set_faulty (r))
    return;
  sb_failed_add (&a->sb, r->uuid);      /* a restart finds it a spare: not taken as one */
  sb_write_all (a);
  raid_logf (a, RAID_LOG_WARN, "%s: %s, replacing %s (slot %d), failed by the "
             "administrator; the replace stops", a->sb.name, slot_name (r),
             slot_name (&a->slot[i]), i);
}

/* Is NAME the new member of the replace in progress, not yet failed?  Under sb_lock. */
static int
replacing (struct raid_array *a, const char *name)
{
  return atomic_load (&a->repl.slot) >= 0 && !atomic_load (&a->repl.member.faulty)
    && !strcmp (slot_name (&a->repl.member), name);
}

/* md's --fail: the admin takes a working member out (a disk going bad, to
 * be replaced); its slot then takes a spare like any faulty one.  Checked
 * and failed under sb_lock, so two of these cannot both pass the check. */
/* What the disk whose superblock is SB holds, for a line about a shelf that came back
 * with it instead of the member the array expected there. */
static void
returned_holds (struct raid_array *a, const struct raid_sb_summary *sb, char *out, size_t len)
{
  char label[RAID_NAME_MAX + 3];

  if (sb->state != RAID_SB_OK)
    snprintf (out, len, "a disk without an aoeraid superblock (blank, or another system's)");
  else if (memcmp (sb->array_uuid, a->sb.array_uuid, 16))
    snprintf (out, len, "a member of another array, '%s'", sb->name);
  else if (sb->role == RAID_SB_ROLE_SPARE)
    snprintf (out, len, "a spare of %s", array_quoted (a, label));
  else
    snprintf (out, len, "the disk of slot %u of %s", sb->role, array_quoted (a, label));
}

int
raid_member_returned (struct raid_array *a, const char *name, const struct raid_sb_summary *sb,
                      char *why, size_t len)
{
  struct raid_slot *s = NULL;
  char holds[RAID_NAME_MAX + 80];
  int slot = 0;

  pthread_mutex_lock (&a->sb_lock);
  for (unsigned i = 0; i < a->lay.g.n && !s; i++)
    if (a->slot[i].m.ops && !atomic_load (&a->slot[i].faulty)
        && !strcmp (slot_name (&a->slot[i]), name))
      s = &a->slot[i];
  slot = s != NULL;
  for (unsigned i = 0; i < a->nspares && !s; i++)
    if (!strcmp (slot_name (&a->spare[i]), name))
      s = &a->spare[i];
  sb_unlock (a);
  if (!s)
    return -ENOENT;
  if (sb->state == RAID_SB_OK && !memcmp (sb->array_uuid, a->sb.array_uuid, 16)
      && !memcmp (sb->member_uuid, s->uuid, 16))
    return 1;
  returned_holds (a, sb, holds, sizeof holds);
  if (sb->state == RAID_SB_OK && !memcmp (sb->array_uuid, a->sb.array_uuid, 16)) {
    /* another member's disk (shelves swapped): not failed, so that nothing but its
     * absence is recorded and a restart, which goes by superblocks, takes it back */
    snprintf (why, len, "%s came back holding %s instead of its own: shelves swapped? it is "
              "left alone, as if down (nothing read from or written to it); stop the array "
              "and start it again (with force=true if it refuses them as stale): assembly "
              "goes by superblocks, not names", name, holds);
    return 0;
  }
  snprintf (why, len, "%s came back holding %s instead of its own: %s, and nothing is read "
            "from or written to it; put its own disk back behind %s, or give the array a "
            "shelf to rebuild onto (aoeraid add)", name, holds,
            slot ? "failed" : "not used as a spare", name);
  if (slot)
    slot_fail (a, s, "its shelf came back with another disk behind it");
  return 0;
}

/* Why failing NAME, in slot FAILING, would leave the array without the members it needs:
 * the first other slot it already does without, and what to do about it (one phrase, in
 * BUF).  It said "rebuild or add the missing ones first" also while the missing slot was
 * being rebuilt onto a spare.  Caller holds sb_lock. */
static const char *
fail_blocker (struct raid_array *a, unsigned failing, const char *name, char *buf,
              size_t len)
{
  for (unsigned i = 0; i < a->lay.g.n; i++) {
    struct raid_slot *s = &a->slot[i];
    if (i == failing || (slot_usable (s) && !atomic_load (&s->recovering)))
      continue;
    if (s->m.ops && atomic_load (&s->recovering) && !atomic_load (&s->faulty))
      snprintf (buf, len, "slot %u is being rebuilt onto %s; fail %s once that recovery "
                "has finished", i, slot_name (s), name);
    else if (!s->m.ops)
      snprintf (buf, len, "slot %u has no member; add a shelf first (aoeraid add: it is "
                "rebuilt into the slot), then fail %s", i, name);
    else
      snprintf (buf, len, "%s in slot %u %s; add a shelf, or that member back, first (it "
                "is rebuilt into the slot), then fail %s", slot_name (s), i,
                atomic_load (&s->faulty) ? "has failed" : "does not answer", name);
    return buf;
  }
  return a->lay.g.level == RAID_LEVEL_0 ? "a raid0 has no redundancy: no member can fail"
    : "rebuild or add the missing ones first";
}

/* Why NAME, no working member, cannot be failed, in ERR: a spare or a member failed
 * already is said as such, with what to do (both were "not a working member"). */
static void
fail_refusal (struct raid_array *a, const char *name, char *err, size_t errlen)
{
  const char *use = member_use (a, name);
  int slot = slot_index (a, name);

  if (use && !strcmp (use, "a spare"))
    snprintf (err, errlen, "%s is a spare, no working member: nothing to fail; aoeraid "
              "remove %s drops it", name, name);
  else if (slot >= 0 && atomic_load (&a->slot[slot].faulty))
    snprintf (err, errlen, "%s has failed already: aoeraid remove %s releases its shelf",
              name, name);
  else
    snprintf (err, errlen, "%s is not a working member of the array (aoeraid status lists "
              "them)", name);
}

int
raid_fail_member (struct raid_array *a, const char *name, char *err, size_t errlen)
{
  uint8_t missing[RAID_MAX_MEMBERS];
  struct raid_slot *s = NULL;
  int rc = 0;

  if ((rc = array_readonly (a, err, errlen)) != 0)
    return rc;
  pthread_mutex_lock (&a->sb_lock);
  for (unsigned i = 0; i < a->lay.g.n && !s; i++)
    if (a->slot[i].m.ops && !atomic_load (&a->slot[i].faulty)
        && !strcmp (slot_name (&a->slot[i]), name))
      s = &a->slot[i];
  if (!s && replacing (a, name))
    replacement_fail (a);
  else if (!s) {
    fail_refusal (a, name, err, errlen);
    rc = -ENOENT;
  }
  else {
    array_missing (a, missing);
    missing[s->index] = 1;
    if (!array_survives (a, missing)) {
      char label[RAID_NAME_MAX + 3], why[RAID_NAME_MAX + 200];
      snprintf (err, errlen, "failing %s would leave %s %s without the members it needs: "
                "%s", name, raid_level_name (a->lay.g.level), array_quoted (a, label),
                fail_blocker (a, s->index, name, why, sizeof why));
      rc = -EBUSY;
    }
    else if (slot_set_faulty (s)) {
      a->sb.roles[s->index] = RAID_ROLE_FAULTY;
      sb_failed_add (&a->sb, s->uuid);  /* a restart leaves it out too */
      sb_write_all (a);
      raid_logf (a, RAID_LOG_WARN, "%s: member %s (slot %u) failed by the administrator; "
                 "marked faulty", a->sb.name, name, s->index);
    }
  }
  sb_unlock (a);
  return rc;
}

/* md's --remove of a faulty member.  Its slot keeps it (faulty) until a spare takes the
 * slot; the superblocks remember it removed, so that its own, which may still name its
 * slot (it was away, and could not be wiped), never brings it back by itself. */
/* Is UUID the member of a working slot, as the superblock records it?  (Never listed
 * removed: sb_decode would refuse the block.) */
static int
uuid_working (struct raid_array *a, const uint8_t uuid[16])
{
  for (unsigned i = 0; i < a->sb.raid_disks && i < RAID_MAX_MEMBERS; i++)
    if ((a->sb.roles[i] == RAID_ROLE_ACTIVE || a->sb.roles[i] == RAID_ROLE_RECOVERING)
        && !memcmp (a->sb.slot_uuid[i], uuid, 16))
      return 1;
  return 0;
}

/* The uuid of the member NAME that raid_remove_member records: a faulty slot's (marked
 * faulty in the superblock too), a failed replacement's, or one that left the array;
 * NULL, -EBUSY or -ENOENT in *RC when none.  Caller holds sb_lock. */
static const uint8_t *
removable_uuid (struct raid_array *a, const char *name, int *rc)
{
  struct raid_slot *r = &a->repl.member;
  unsigned i;

  /* a spare first: the faulty member of a slot added back is a spare of the same name,
   * and of the same uuid (to be re-added from the bitmap): listed, it would be a listed
   * uuid in a working slot once re-added, a superblock sb_decode refuses */
  for (i = 0; i < a->nspares; i++)
    if (!strcmp (slot_name (&a->spare[i]), name)) {
      *rc = -EBUSY;             /* a spare: raid_remove_spare */
      return NULL;
    }
  for (i = 0; i < a->lay.g.n; i++) {
    struct raid_slot *s = &a->slot[i];
    if (!s->m.ops || strcmp (slot_name (s), name))
      continue;
    if (!atomic_load (&s->faulty)) {
      *rc = -EBUSY;             /* a working member, its shelf down maybe: fail it first */
      return NULL;
    }
    if (a->sb.roles[i] == RAID_ROLE_ACTIVE || a->sb.roles[i] == RAID_ROLE_RECOVERING)
      a->sb.roles[i] = RAID_ROLE_FAULTY;
    return s->uuid;
  }
  if (r->m.ops && atomic_load (&r->faulty) && !strcmp (slot_name (r), name))
    return uuid_working (a, r->uuid) ? NULL : r->uuid;
  for (i = a->nleft; i-- > 0;)
    if (!strcmp (a->left[i].name, name))
      return uuid_working (a, a->left[i].uuid) ? NULL : a->left[i].uuid;
  return NULL;
}

int
raid_remove_member (struct raid_array *a, const char *name, char *err, size_t errlen)
{
  const uint8_t *uuid;
  int rc = -ENOENT;

  if (array_readonly (a, err, errlen))
    return -EROFS;
  pthread_mutex_lock (&a->sb_lock);
  uuid = removable_uuid (a, name, &rc);
  if (uuid) {
    sb_removed_add (&a->sb, uuid);
    sb_write_all (a);
    rc = 0;
  }
  sb_unlock (a);
  if (rc == -EBUSY)
    snprintf (err, errlen, "%s is a working member or a spare of the array: fail it first, "
              "or remove it as a spare", name);
  else if (rc)
    snprintf (err, errlen, "%s is no member the array failed or let go of", name);
  else
    raid_logf (a, RAID_LOG_INFO, "%s: member %s removed by the administrator; the array "
               "will not take it back unless it is added again", a->sb.name, name);
  return rc;
}

void
raid_removed_wiped (struct raid_array *a, const uint8_t uuid[16])
{
  pthread_mutex_lock (&a->sb_lock);
  if (!a->readonly && sb_removed_drop (&a->sb, uuid))
    sb_write_all (a);
  array_forget_left (a, uuid);  /* nothing of it is the array's: status names it no more */
  sb_unlock (a);
}

const char *
raid_wipe_failed_text (char *buf, size_t len, const char *name, int errnum, int recorded)
{
  char hint[sizeof RAID_ZERO_SB_HINT + RAID_NAME_MAX];

  snprintf (hint, sizeof hint, RAID_ZERO_SB_HINT, name);
  snprintf (buf, len, "its superblock could not be wiped (%s): %s wipe it with '%s'",
            strerror (errnum < 0 ? -errnum : errnum), recorded ? "the array remembers it "
            "removed and leaves it out; to use it elsewhere" : "a start by name may find it "
            "again and take it back;", hint);
  return buf;
}

/* md's --remove of a spare. */
int
raid_remove_spare (struct raid_array *a, const char *name, char *err, size_t errlen)
{
  int rc = -ENOENT, wiped = 0;

  if (array_readonly (a, err, errlen))
    return -EROFS;
  pthread_mutex_lock (&a->sb_lock);
  for (unsigned i = 0; i < a->nspares && rc; i++)
    if (!strcmp (slot_name (&a->spare[i]), name)) {
      /* a spare holds no data: wiped, no later start takes it back for the array; or
       * remembered, when it is away now (the wipe fails) and may come back unwiped (a
       * wiped one takes no entry: it would push out one that can come back) */
      wiped = raid_wipe (&a->spare[i].m);
      if (wiped)
        sb_removed_add (&a->sb, a->spare[i].uuid);
      spare_remove (a, i);
      sb_write_all (a);
      rc = 0;
    }
  sb_unlock (a);
  if (rc)
    snprintf (err, errlen, "%s is not a spare of the array", name);
  else if (wiped) {
    /* the caller's answer says so too: the admin sees no log */
    raid_wipe_failed_text (err, errlen, name, wiped, 1);
    raid_logf (a, RAID_LOG_WARN, "%s: spare %s removed, but %s", a->sb.name, name, err);
  }
  else
    raid_logf (a, RAID_LOG_INFO, "%s: spare %s removed (its superblock wiped)", a->sb.name,
               name);
  return rc;
}

/* ---- choosing what to rebuild ----------------------------------------- */

/* The slot under recovery, or -1.  A faulty one no longer is. */
static int
recovering_slot (struct raid_array *a)
{
  for (unsigned i = 0; i < a->lay.g.n; i++)
    if (atomic_load (&a->slot[i].recovering) && slot_usable (&a->slot[i]))
      return (int) i;
  return -1;
}

/* The slot being replaced, while its new member works: failed, it goes to that member
 * (replace_takeover, the next time raid_replace runs), which holds every unit below the
 * copy's position, not to a spare, which would be rebuilt from unit 0.  The replace may
 * wait behind a recovery of another slot meanwhile (replace.c). */
static int
taken_over (struct raid_array *a, unsigned i)
{
  return atomic_load (&a->repl.slot) == (int) i && !atomic_load (&a->repl.member.faulty);
}

/* A faulty or missing slot a spare could take, or -1.  None while another slot is
 * still recovering (down for now, but not failed): one recovery_offset serves one
 * recovery at a time.  None in a failed array (md's raid5_add_disk and raid10_add_disk:
 * "no point adding a device"): its recovery could not read enough members, and the slot's
 * member, which force=true needs to start the array again, would be pushed out for good
 * (a former member), leaving force a staler one that missed writes. */
static int
replaceable_slot (struct raid_array *a)
{
  uint8_t missing[RAID_MAX_MEMBERS];
  unsigned i;

  array_missing (a, missing);
  if (!array_survives (a, missing))
    return -1;
  for (i = 0; i < a->lay.g.n; i++)
    if (a->slot[i].m.ops && atomic_load (&a->slot[i].recovering)
        && !atomic_load (&a->slot[i].faulty))
      return -1;
  for (i = 0; i < a->lay.g.n; i++)
    if ((!a->slot[i].m.ops || atomic_load (&a->slot[i].faulty)) && !taken_over (a, i))
      return (int) i;
  return -1;
}

/* Can spare k be rebuilt onto now?  One whose member is down (healthy() says so)
 * waits: taking it would only fail the rebuild at its first write.  One smaller than a
 * member must be (the array grew its member size since it was added) never takes a slot. */
static int
spare_fit (struct raid_array *a, unsigned k)
{
  return slot_usable (&a->spare[k]) && member_fits (a, &a->spare[k]);
}

static int
spare_ready (struct raid_array *a)
{
  for (unsigned k = 0; k < a->nspares; k++)
    if (spare_fit (a, k))
      return 1;
  return 0;
}

int
raid_recovery_pending (struct raid_array *a)
{
  int pending;

  if (a->readonly)
    return 0;
  pthread_mutex_lock (&a->sb_lock);
  /* A reshape finishes first: a rebuild works on one layout. */
  pending = !atomic_load (&a->reshape.active)
    && (recovering_slot (a) >= 0 || (spare_ready (a) && replaceable_slot (a) >= 0));
  sb_unlock (a);
  return pending;
}

void
slot_take (struct raid_array *a, unsigned i, struct raid_slot *from, enum raid_role_state role)
{
  struct raid_slot *s = &a->slot[i];
  /* the write-mostly flag is the member's: kept when the same member comes back (a
   * re-add), a new one starts without it (md) */
  int keep_writemostly = !memcmp (s->uuid, from->uuid, 16) && ((a->sb.writemostly >> i) & 1);

  if (s->m.ops)                           /* its member leaves the array */
    array_note_left (a, slot_name (s), s->uuid);
  atomic_store (&s->faulty, 1);           /* readers ignore s->m while faulty */
  atomic_store (&s->recovering, role == RAID_ROLE_RECOVERING);
  s->m = from->m;
  memcpy (s->uuid, from->uuid, 16);
  atomic_store (&s->read_errors, 0);
  atomic_store (&s->write_errors, 0);
  memcpy (a->sb.slot_uuid[i], s->uuid, 16);
  a->sb.roles[i] = role;
  slot_set_writemostly (a, i, keep_writemostly);
  /* the log on a member back in a slot holds entries older than the writes made while
   * it was out, which were not logged on it: they must never be replayed */
  if (a->sb.features & RAID_FEATURE_PPL)
    ppl_new_generation (a);
  atomic_store (&s->faulty, 0);
}

void
slot_take_spare (struct raid_array *a, unsigned i, unsigned j, enum raid_role_state role)
{
  slot_take (a, i, &a->spare[j], role);
  spare_remove (a, j);
}

/* Move the first spare that is up into the slot.  Every stripe lock is held, so no
 * write is in flight on the slot's old member while it changes hands. */
static int
spare_install (struct raid_array *a)
{
  struct raid_slot *s;
  int i, readd;
  unsigned j;

  stripe_lock_range (&a->locks, 0, STRIPE_LOCKS - 1);
  pthread_mutex_lock (&a->sb_lock);
  i = replaceable_slot (a);
  /* The first spare that is up (looked at once: one going down meanwhile must not send
   * the search past the list); but a member coming back to the slot it left goes there
   * first. */
  for (j = 0; j < a->nspares && !spare_fit (a, j); j++)
    ;
  /* a bitmap change lets go of sb_lock midway: the recovery begins once it has ended */
  if (i < 0 || j == a->nspares || atomic_load (&a->reshape.active)
      || atomic_load (&a->bitmap_changing)) {
    sb_unlock (a);
    stripe_unlock_range (&a->locks, 0, STRIPE_LOCKS - 1);
    return -1;
  }
  for (unsigned k = 0; k < a->nspares; k++) {
    int left = a->spare[k].readd - 1;
    if (left >= 0 && spare_fit (a, k)
        && (!a->slot[left].m.ops || atomic_load (&a->slot[left].faulty))) {
      i = left;
      j = k;
      break;
    }
  }
  s = &a->slot[i];
  readd = a->spare[j].readd == i + 1;
  atomic_store (&a->recovery_offset, 0);
  atomic_store (&a->recovery_bitmap, readd);
  slot_take_spare (a, i, j, RAID_ROLE_RECOVERING);
  /* the slot's flags, read live, are its new member's now: shown with it, not with the
   * member last published (the superblock write that publishes comes after the log) */
  status_publish (a);
  run_begin (a, RAID_RUN_RECOVERY);       /* before its superblock write could fail it */
  if (readd)
    raid_logf (a, RAID_LOG_INFO, "%s: %s comes back to slot %d; recovery of the %llu of %llu "
               "regions written meanwhile (write-intent bitmap) starts", a->sb.name,
               slot_name (s), i, (unsigned long long) bitmap_dirty_bits (a),
               (unsigned long long) a->bitmap.nbits);
  else
    raid_logf (a, RAID_LOG_INFO, "%s: spare %s takes slot %d; recovery starts", a->sb.name,
               slot_name (s), i);
  sb_write_all (a);
  sb_unlock (a);
  stripe_unlock_range (&a->locks, 0, STRIPE_LOCKS - 1);
  return i;
}

/* ---- rebuilding a window of units ------------------------------------- */

/* Units rebuilt per window, and the scratch bytes recovery may use in all.  The
 * sources of a window are read in one batch, its rebuilt chunks written in another; the
 * writes of one window overlap the reads of the next, so the new member and the others
 * all stay busy.  Two windows are in flight: each gets half the scratch. */
#define RECOVERY_WINDOW 16
#define RECOVERY_SCRATCH (32u << 20)

/* One unit of a window: where its rebuilt chunk goes and what was read for it. */
struct unit_job {
  int skip;                         /* mirrors: the slot holds no copy of this chunk */
  int short_read;                   /* a source read failed or none could be queued */
  unsigned target;                  /* parity: the slot's column */
  uint64_t dst;                     /* member offset of the rebuilt chunk */
  uint8_t *cols[RAID_MAX_MEMBERS];  /* parity: n columns; mirrors: cols[0] */
  uint8_t valid[RAID_MAX_MEMBERS], bad[RAID_MAX_MEMBERS];
};

/* Units [u, u+w) under their stripe locks (w 0: none held), their scratch and batch. */
struct recovery_window {
  uint64_t u;
  unsigned w;
  uint8_t *scratch;
  struct io_batch b;
  struct unit_job jobs[RECOVERY_WINDOW];
};

static unsigned
unit_cols (const struct raid_array *a)
{
  return a->lay.g.family == RAID_FAMILY_PARITY ? a->lay.g.k + a->lay.g.m : 1;
}

static size_t
unit_bytes (const struct raid_array *a)
{
  return (size_t) unit_cols (a) * a->lay.g.chunk;
}

static unsigned
window_units (const struct raid_array *a)
{
  size_t w = RECOVERY_SCRATCH / 2 / unit_bytes (a);
  return w < 1 ? 1 : w > RECOVERY_WINDOW ? RECOVERY_WINDOW : (unsigned) w;
}

/* Parity: queue reads of k columns of stripe u other than the slot's. */
static int
plan_stripe (struct raid_array *a, struct raid_slot *s, uint64_t u, struct unit_job *j,
             unsigned jn, struct io_batch *b)
{
  unsigned n = a->lay.g.k + a->lay.g.m, idx, want = a->lay.g.k;

  for (idx = 0; idx < n; idx++)
    if (col_slot (a, &a->lay, u, idx) == s)
      j->target = idx;
  j->dst = col_offset (&a->lay, u, 0);
  j->bad[j->target] = 1;
  for (idx = 0; idx < n && want; idx++)
    if (idx != j->target && col_usable (a, &a->lay, u, idx)) {
      if (!batch_add (b, col_slot (a, &a->lay, u, idx), RAID_IO_READ, col_offset (&a->lay, u, 0), a->lay.g.chunk,
                      j->cols[idx], jn << 8 | idx))
        return -ENOMEM;
      want--;
    }
  j->short_read = want > 0;
  return 0;
}

/* Mirrors: queue a read of chunk u from a good copy, if the slot holds one. */
static int
plan_chunk (struct raid_array *a, struct raid_slot *s, uint64_t u, struct unit_job *j,
            unsigned jn, struct io_batch *b)
{
  struct raid_slot *from = NULL;
  struct raid_loc src = { 0 };
  unsigned c;

  j->skip = 1;
  for (c = 0; c < a->lay.g.copies; c++) {
    struct raid_loc l = geom_near (&a->lay.g, u, c);
    if (&a->slot[l.slot] == s) {
      j->skip = 0;
      j->dst = slot_offset (&a->lay, l, 0);
    }
    else if (!from && slot_usable_at (a, &a->slot[l.slot], u)) {
      from = &a->slot[l.slot];
      src = l;
    }
  }
  if (j->skip)
    return 0;
  j->short_read = !from;
  if (from && !batch_add (b, from, RAID_IO_READ, slot_offset (&a->lay, src, 0), a->lay.g.chunk,
                          j->cols[0], jn << 8))
    return -ENOMEM;
  return 0;
}

/* Mirrors, after a failed read: try every other copy in turn. */
static int
chunk_retry (struct raid_array *a, struct raid_slot *s, uint64_t u, uint8_t *buf)
{
  int err = ENODEV;

  for (unsigned c = 0; c < a->lay.g.copies && err; c++) {
    struct raid_loc l = geom_near (&a->lay.g, u, c);
    struct raid_slot *from = &a->slot[l.slot];
    if (from != s && slot_usable_at (a, from, u))
      err = slot_io (from, RAID_IO_READ, slot_offset (&a->lay, l, 0), a->lay.g.chunk, buf);
  }
  if (err)
    raid_logf (a, RAID_LOG_ERROR, "%s: recovery: no copy of chunk %llu could be read",
               a->sb.name, (unsigned long long) u);
  return err ? -EIO : 0;
}

/* The rebuilt chunk of a planned and read unit: decode (parity, reading more
 * columns if some failed) or a retry from the other copies (mirrors). */
static int
finish_unit (struct raid_array *a, struct raid_slot *s, uint64_t u, struct unit_job *j)
{
  uint8_t need[RAID_MAX_MEMBERS] = { 0 };

  if (a->lay.g.family == RAID_FAMILY_NEAR)
    return j->short_read ? chunk_retry (a, s, u, j->cols[0]) : 0;
  need[j->target] = 1;
  return stripe_gather (a, &a->lay, u, 0, a->lay.g.chunk, j->cols, j->valid, j->bad, need, NULL)
    ? -EIO : 0;
}

static void
note_reads (struct unit_job *jobs, struct io_batch *b)
{
  for (unsigned i = 0; i < b->n; i++) {
    struct unit_job *j = &jobs[b->ios[i].tag >> 8];
    unsigned idx = b->ios[i].tag & 0xff;
    j->valid[idx] = !b->ios[i].err;
    j->bad[idx] = !!b->ios[i].err;
    j->short_read |= !!b->ios[i].err;
  }
}

/* Lock units [u, u+w) and start the reads of their sources.  Whatever it returns, the
 * window holds its locks until window_release. */
static int
window_read_start (struct raid_array *a, struct raid_slot *s, struct recovery_window *win,
                   uint64_t u, unsigned w)
{
  int rc = 0;

  memset (win->jobs, 0, sizeof win->jobs);
  win->u = u;
  win->w = w;
  batch_reset (&win->b);
  stripe_lock_range (&a->locks, u, u + w - 1);
  for (unsigned i = 0; i < w && rc == 0; i++) {
    struct unit_job *j = &win->jobs[i];
    for (unsigned idx = 0; idx < unit_cols (a); idx++)
      j->cols[idx] = win->scratch + i * unit_bytes (a) + (size_t) idx * a->lay.g.chunk;
    /* A member come back holds every unit its bitmap left clean. */
    if (atomic_load (&a->recovery_bitmap) && !bitmap_unit_dirty (a, u + i))
      j->skip = 1;
    else
      rc = a->lay.g.family == RAID_FAMILY_PARITY ? plan_stripe (a, s, u + i, j, i, &win->b)
                                                 : plan_chunk (a, s, u + i, j, i, &win->b);
  }
  if (rc == 0)
    batch_start (&win->b);
  return rc;
}

/* Wait for the window's reads (RC: window_read_start's) and rebuild its chunks. */
static int
window_read_finish (struct raid_array *a, struct raid_slot *s, struct recovery_window *win,
                    int rc)
{
  batch_wait (&win->b);
  if (rc)
    return rc;
  note_reads (win->jobs, &win->b);
  for (unsigned i = 0; i < win->w && rc == 0; i++)
    if (!win->jobs[i].skip)
      rc = finish_unit (a, s, win->u + i, &win->jobs[i]);
  return rc;
}

/* Start writing the window's rebuilt chunks to the new member. */
static int
window_write_start (struct raid_array *a, struct raid_slot *s, struct recovery_window *win)
{
  batch_reset (&win->b);
  for (unsigned i = 0; i < win->w; i++) {
    struct unit_job *j = &win->jobs[i];
    if (!j->skip && !batch_add (&win->b, s, RAID_IO_WRITE, j->dst, a->lay.g.chunk,
                                j->cols[a->lay.g.family == RAID_FAMILY_PARITY ? j->target : 0],
                                0))
      return -ENOMEM;
  }
  batch_start (&win->b);
  return 0;
}

/* Wait for the writes (RC: window_write_start's); a new member that failed one is failed. */
static int
window_write_finish (struct raid_array *a, struct recovery_window *win, int rc)
{
  batch_wait (&win->b);
  for (unsigned i = 0; i < win->b.n && rc == 0; i++)
    if (win->b.ios[i].err) {
      fail_writers (a, &win->b);
      rc = -EIO;
    }
  return rc;
}

/* Let the window's units go.  Writes below the recovery point read the new member: it
 * passes a rebuilt window only while the window is still locked. */
static void
window_release (struct raid_array *a, struct recovery_window *win, int rebuilt)
{
  if (rebuilt)
    atomic_store (&a->recovery_offset, win->u + win->w);
  stripe_unlock_range (&a->locks, win->u, win->u + win->w - 1);
  win->w = 0;
}

/* Why the recovery cannot go on: -ECANCELED, -EIO (the new member failed), or 0. */
static int
recovery_blocker (struct raid_array *a, struct raid_slot *s)
{
  if (atomic_load (&a->resync_stop))
    return -ECANCELED;
  return slot_usable (s) ? 0 : -EIO;
}

/* The next window from unit u: at most WINDOW units, and none past the last bucket of
 * the stripe locks (u % STRIPE_LOCKS == STRIPE_LOCKS - 1), so that its buckets run in
 * the units' order and all lie above those of the window before it unless it starts at
 * bucket 0 (recovery_overlap). */
static unsigned
window_width (uint64_t u, uint64_t units, unsigned window)
{
  uint64_t w = units - u < window ? units - u : window;
  uint64_t to_wrap = STRIPE_LOCKS - u % STRIPE_LOCKS;
  return (unsigned) (w < to_wrap ? w : to_wrap);
}

/* May the window from unit u be locked while the one before it is still held?  Every
 * other holder of stripe locks takes its buckets in one ascending pass (requests, and
 * the passes over all of them: spare_install, replace.c).  Taking the next window's
 * buckets while holding this one's keeps the recovery's own order ascending too, if
 * they all lie above this one's: then no holder waits for a bucket below one it holds,
 * and no cycle of waits can form.  They do unless the next window starts again at
 * bucket 0; that window waits until this one is let go.  A nap of the speed limits
 * waits too: no stripe lock is held through it. */
static int
recovery_overlap (struct raid_array *a, struct raid_slot *s, uint64_t u, uint64_t units,
                  struct sync_pace *pace, uint64_t bytes)
{
  return u < units && u % STRIPE_LOCKS != 0 && recovery_blocker (a, s) == 0
    && sync_pace_ahead (a, pace, bytes);
}

/* CUR is locked, read and rebuilt: write it, reading the window from *u meanwhile (NEXT)
 * when recovery_overlap allows; the recovery point passes CUR.  Returns with NEXT locked,
 * read and rebuilt, or nothing held (NEXT->w 0). */
/* What the window moves, for the speed limits and the rate: the units a come-back
 * member's bitmap left clean are passed, not rebuilt (md counts them as skipped). */
static uint64_t
window_moved_bytes (const struct raid_array *a, const struct recovery_window *win)
{
  uint64_t bytes = 0;

  for (unsigned i = 0; i < win->w; i++)
    if (!win->jobs[i].skip)
      bytes += a->lay.g.chunk;
  return bytes;
}

static int
recovery_step (struct raid_array *a, struct raid_slot *s, struct recovery_window *cur,
               struct recovery_window *next, uint64_t *u, uint64_t units,
               struct sync_pace *pace)
{
  uint64_t bytes = window_moved_bytes (a, cur), end = cur->u + cur->w;
  int overlap = recovery_overlap (a, s, *u, units, pace, bytes);
  int rc, next_rc = 0;

  rc = window_write_start (a, s, cur);
  if (overlap) {
    unsigned w = window_width (*u, units, window_units (a));
    next_rc = window_read_start (a, s, next, *u, w);
    *u += w;
  }
  rc = window_write_finish (a, cur, rc);
  if (overlap)
    next_rc = window_read_finish (a, s, next, next_rc);
  window_release (a, cur, rc == 0);
  if (rc == 0 && end / RECOVERY_CHECKPOINT != cur->u / RECOVERY_CHECKPOINT)
    array_checkpoint (a);
  if (rc == 0)
    rc = next_rc;
  if (rc && next->w)
    window_release (a, next, 0);
  if (rc == 0 && !overlap)
    sync_pace (a, pace, bytes);
  return rc;
}

/* Rebuild units [u, units): a window is started alone, then each step writes one while
 * it reads the next, until the end, a nap of the speed limits, or a bucket wrap lets
 * the pipeline run dry. */
static int
recover_units (struct raid_array *a, struct raid_slot *s, uint64_t u, uint64_t units,
               struct recovery_window win[2])
{
  struct recovery_window *cur = &win[0], *next = &win[1], *t;
  struct sync_pace pace = { .kind = RAID_RUN_RECOVERY };
  int rc = 0;

  while (rc == 0 && (cur->w || u < units)) {
    if (cur->w) {
      rc = recovery_step (a, s, cur, next, &u, units, &pace);
      t = cur, cur = next, next = t;
    }
    else if ((rc = recovery_blocker (a, s)) == 0) {
      unsigned w = window_width (u, units, window_units (a));
      rc = window_read_finish (a, s, cur, window_read_start (a, s, cur, u, w));
      u += w;
      if (rc)
        window_release (a, cur, 0);
    }
  }
  return rc;
}

/* The array's bitmap block onto S (a replace's new member gets it too): S took
 * its slot with a block of its own past or none, and a block is written only when a bit
 * changes, while assembly reads the bitmap from the freshest active member, S on a tie.
 * Flushed where a cache holds it.  Caller holds the bitmap lock.  0 or an errno. */
static int
recovery_bitmap_give (struct raid_array *a, struct raid_slot *s)
{
  int err;

  if (!a->bitmap.nbits)
    return 0;
  bitmap_encode (&a->bitmap, a->bitmap.block);
  err = slot_io (s, RAID_IO_WRITE, RAID_BITMAP_OFFSET, RAID_BITMAP_SIZE, a->bitmap.block);
  return err || !slot_volatile_cache (s) ? err : slot_io (s, RAID_IO_FLUSH, 0, 0, NULL);
}

/* The member takes its slot as active, with the array's bitmap: 0, or -EIO when it failed
 * meanwhile (asked under sb_lock, which the writer that failed it takes to record that:
 * the record is not overwritten with ACTIVE). */
static int
recovery_done (struct raid_array *a, struct raid_slot *s)
{
  int err;

  pthread_mutex_lock (&a->bitmap.lock);         /* no bit changes until it is active */
  err = recovery_bitmap_give (a, s);
  if (err)
    slot_fail (a, s, strerror (err));
  pthread_mutex_lock (&a->sb_lock);
  if (!slot_usable (s)) {
    sb_unlock (a);
    pthread_mutex_unlock (&a->bitmap.lock);
    return -EIO;
  }
  a->sb.roles[s->index] = RAID_ROLE_ACTIVE;
  atomic_store (&s->recovering, 0);
  atomic_store (&a->recovery_offset, RAID_RESYNC_DONE);
  atomic_store (&a->recovery_bitmap, 0);
  sb_write_all (a);
  sb_unlock (a);
  pthread_mutex_unlock (&a->bitmap.lock);
  raid_logf (a, RAID_LOG_INFO, "%s: recovery of slot %u onto %s finished", a->sb.name,
             s->index, slot_name (s));
  return 0;
}

int
raid_recover (struct raid_array *a)
{
  uint64_t units = resync_units (a), u;
  struct recovery_window win[2];
  uint8_t *scratch;
  struct raid_slot *s;
  size_t window_bytes;
  int slot, rc = 0;

  if (atomic_load (&a->resync_stop))
    return -ECANCELED;
  if (a->readonly)
    return -EROFS;
  if (atomic_load (&a->reshape.active))
    return -EAGAIN;
  slot = recovering_slot (a);
  if (slot >= 0 && !run_open (a, RAID_RUN_RECOVERY))
    run_begin (a, RAID_RUN_RECOVERY);
  else if (slot < 0)
    slot = spare_install (a);             /* begins the run */
  if (slot < 0)
    return -EAGAIN;
  s = &a->slot[slot];
  window_bytes = (size_t) window_units (a) * unit_bytes (a);
  scratch = scratch_get (&a->pool, 2 * window_bytes);
  if (!scratch) {
    run_end (a, RAID_RUN_RECOVERY, NULL, 0);
    return -ENOMEM;
  }
  for (unsigned i = 0; i < 2; i++) {
    win[i].scratch = scratch + i * window_bytes;
    win[i].w = 0;
    batch_init (&win[i].b, NULL);     /* background work: never polls */
  }
  u = atomic_load (&a->recovery_offset);
  raid_logf (a, RAID_LOG_INFO, "%s: recovery of slot %d onto %s from %s %llu of %llu",
             a->sb.name, slot, slot_name (s), unit_word (a), (unsigned long long) u,
             (unsigned long long) units);
  rc = recover_units (a, s, u, units, win);
  for (unsigned i = 0; i < 2; i++)
    batch_free (&win[i].b);
  scratch_put (&a->pool, scratch);
  if (rc == 0)
    rc = recovery_done (a, s);
  if (rc == 0)
    run_end (a, RAID_RUN_RECOVERY, slot_name (s), 0);
  else {
    raid_logf (a, rc == -ECANCELED ? RAID_LOG_INFO : RAID_LOG_ERROR,
               "%s: recovery of slot %d onto %s stopped at %s %llu of %llu: %s", a->sb.name,
               slot, slot_name (s), unit_word (a),
               (unsigned long long) atomic_load (&a->recovery_offset),
               (unsigned long long) units, rc == -ECANCELED ? "cancelled"
               : !slot_usable (s) ? "the new member failed"
               : "the other members could not be read");
    array_checkpoint (a);
    /* the others could not be read: the same recovery is tried again (monitor.c) */
    if (rc != -EIO || !slot_usable (s))
      run_end (a, RAID_RUN_RECOVERY, NULL, 0);
  }
  return rc;
}

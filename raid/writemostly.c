/* md's write-mostly members (mdadm --write-mostly, dev-N/state writemostly): a mirror
 * copy on a far or slow shelf takes every write, but reads go to the other copies while
 * any of them can serve (rw.c pick_copy); only a degraded chunk, or a read retry after
 * an error, reads it.  The flag lives in the superblocks (one bit per slot, beside the
 * slot's member uuid), so a restart keeps it; it is the member's, not the slot's: a spare
 * or a replace that takes the slot starts without it (slot_take), as md gives a new
 * device no flags, while the same member re-added keeps it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "raid-int.h"

void
slot_set_writemostly (struct raid_array *a, unsigned i, int on)
{
  if (on)
    a->sb.writemostly |= 1u << i;
  else
    a->sb.writemostly &= ~(1u << i);
  atomic_store (&a->slot[i].writemostly, !!on);
}

int
layout_has_copies (const struct raid_layout *L)
{
  return L->g.family == RAID_FAMILY_NEAR && L->g.copies > 1;
}

void
writemostly_load (struct raid_array *a)
{
  if (!layout_has_copies (&a->lay))
    a->sb.writemostly = 0;
  for (unsigned i = 0; i < a->lay.g.n; i++)
    atomic_store (&a->slot[i].writemostly, (a->sb.writemostly >> i) & 1);
}

int
raid_set_writemostly (struct raid_array *a, const char *name, int on, char *err,
                      size_t errlen)
{
  char label[RAID_NAME_MAX + 3];
  int i, rc = 0;

  if (array_fenced (a))
    return array_readonly (a, err, errlen);
  pthread_mutex_lock (&a->sb_lock);
  i = slot_index (a, name);     /* faulty ones too: the flag stays the member's for a re-add */
  if (!layout_has_copies (&a->lay)) {
    snprintf (err, errlen, "write-mostly needs mirror copies to read from (raid1, raid10): "
              "%s %s keeps each chunk on one member", raid_level_name (a->lay.g.level),
              array_quoted (a, label));
    rc = -EINVAL;
  }
  else if (i < 0) {
    snprintf (err, errlen, "%s is not a member of %s (aoeraid status lists them; a spare "
              "can be made write-mostly once it takes a slot)", name, array_quoted (a, label));
    rc = -ENOENT;
  }
  else if (!!((a->sb.writemostly >> i) & 1) != !!on) {
    slot_set_writemostly (a, (unsigned) i, on);
    sb_write_all (a);
    raid_logf (a, RAID_LOG_INFO, "%s: member %s (slot %d) is %s", a->sb.name, name, i,
               on ? "write-mostly: reads go to the other copies while they can serve"
                  : "no longer write-mostly: it serves reads again");
  }
  sb_unlock (a);
  return rc;
}

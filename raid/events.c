/* The events of mdadm --monitor, found by comparing two snapshots of raid_status.
 *
 * mdadm polls /proc/mdstat and names what changed; so does this, for the same
 * reason: nothing on the data path waits for a listener.  A change that comes and
 * goes between two snapshots is not seen (md's monitor has the same blind spot), so
 * the caller polls often (plugin/alert.c: every half second). */
#include <stdio.h>
#include <string.h>

#include "raid-int.h"

/* Background runs that report RebuildStarted, RebuildNN and RebuildFinished. */
enum run_kind { RUN_RECOVERY, RUN_RESYNC, RUN_RESHAPE, RUN_CHECK, RUN_REPLACE, RUN_KINDS };

struct run {
  const char *name;             /* NULL: not running */
  int64_t key;                  /* which one: a new key is a new run */
  uint64_t done, total;
};

const char *
raid_check_action_name (enum raid_check_action action)
{
  return action == RAID_CHECK_REPAIR ? "repair" : "check";
}

static void
runs_of (const struct raid_status *st, struct run run[RUN_KINDS])
{
  memset (run, 0, RUN_KINDS * sizeof *run);
  if (st->recovery_slot >= 0)
    run[RUN_RECOVERY] = (struct run) { "recovery", st->recovery_slot, st->recovery_offset,
                                       st->resync_units };
  /* a resync waits while the array is degraded: it runs only once the array is whole */
  if (st->resync_offset != UINT64_MAX && st->state == RAID_STATE_CLEAN)
    run[RUN_RESYNC] = (struct run) { "resync", 0, st->resync_offset, st->resync_units };
  if (st->reshape_position != RAID_RESHAPE_NONE)
    run[RUN_RESHAPE] = (struct run) { "reshape", st->reshape_from_members,
                                      st->reshape_position, st->reshape_size };
  if (st->check_running)
    run[RUN_CHECK] = (struct run) { raid_check_action_name (st->check_action),
                                    st->check_action, st->check_offset, st->resync_units };
  if (st->replace_slot >= 0)
    run[RUN_REPLACE] = (struct run) { "replace", st->replace_slot, st->replace_offset,
                                      st->resync_units };
}

/* md reports progress in steps of 20 %: Rebuild20 ... Rebuild80. */
static unsigned
run_step (const struct run *r)
{
  unsigned pct = r->total ? (unsigned) (r->done * 100 / r->total) : 0;
  return pct >= 100 ? 80 : pct / 20 * 20;
}

/* The same run in both looks: a position that went back is a new run. */
static int
same_run (const struct run *b, const struct run *a)
{
  return b->name && a->name && b->key == a->key && a->done >= b->done;
}

/* ST: the look that holds what the run found (a check's, the one after it ended). */
static void
run_finished (const struct raid_status *st, enum run_kind kind, const char *name,
              raid_event_fn *fn, void *opaque)
{
  char extra[64];

  if (kind == RUN_CHECK) {
    snprintf (extra, sizeof extra, "mismatches=%llu",
              (unsigned long long) st->check_mismatches);
    fn (opaque, "RebuildFinished", name, extra);
  }
  else
    fn (opaque, "RebuildFinished", name, NULL);
}

static void
runs_events (const struct raid_status *was, const struct raid_status *now,
             raid_event_fn *fn, void *opaque)
{
  struct run before[RUN_KINDS], after[RUN_KINDS];
  char step[16];

  if (was)
    runs_of (was, before);
  else
    memset (before, 0, sizeof before);
  runs_of (now, after);
  /* the runs that ended first, then those begun and their progress */
  for (int k = 0; k < RUN_KINDS; k++)
    if (before[k].name && !same_run (&before[k], &after[k]))
      run_finished (k == RUN_CHECK ? now : was, (enum run_kind) k, before[k].name, fn, opaque);
  for (int k = 0; k < RUN_KINDS; k++) {
    const struct run *b = &before[k], *a = &after[k];
    int same = same_run (b, a);

    if (a->name && !same)
      fn (opaque, "RebuildStarted", a->name, NULL);
    if (a->name && run_step (a) > (same ? run_step (b) : 0)) {
      snprintf (step, sizeof step, "Rebuild%02u", run_step (a));
      fn (opaque, step, a->name, NULL);
    }
  }
}

static int
working (enum raid_role_state role)
{
  return role == RAID_ROLE_ACTIVE || role == RAID_ROLE_RECOVERING;
}

/* One slot: a member failed, went down or came back, or finished its rebuild. */
static void
slot_events (const struct raid_member_status *w, const struct raid_member_status *n,
             raid_event_fn *fn, void *opaque)
{
  int down_before = w->role == RAID_ROLE_FAULTY && !w->failed;

  if (w->name[0] && !strcmp (w->name, n->name)) {
    if (n->role == RAID_ROLE_FAULTY && n->failed && (working (w->role) || down_before))
      fn (opaque, w->role == RAID_ROLE_RECOVERING ? "FailSpare" : "Fail", n->name, NULL);
    else if (n->role == RAID_ROLE_FAULTY && !n->failed && working (w->role))
      fn (opaque, "ShelfDown", n->name, NULL);
    else if (down_before && working (n->role))
      fn (opaque, "ShelfUp", n->name, NULL);
    if (w->role == RAID_ROLE_RECOVERING && n->role == RAID_ROLE_ACTIVE)
      fn (opaque, "SpareActive", n->name, NULL);
    return;
  }
  /* Another member holds the slot: the one before left it.  A spare rebuilding there
   * means it failed (the poll missed its faulty state); one that took the slot whole
   * finished a replace. */
  if (w->name[0] && (working (w->role) || down_before) && n->role != RAID_ROLE_ACTIVE)
    fn (opaque, w->role == RAID_ROLE_RECOVERING ? "FailSpare" : "Fail", w->name, NULL);
  if (n->name[0] && n->role == RAID_ROLE_ACTIVE)
    fn (opaque, "SpareActive", n->name, NULL);
}

/* A replacement that stopped without taking its slot (nor taking it over as a
 * recovering member) failed. */
static void
replace_events (const struct raid_status *was, const struct raid_status *now,
                raid_event_fn *fn, void *opaque)
{
  if (was->replace_slot < 0 || now->replace_slot == was->replace_slot
      || (unsigned) was->replace_slot >= now->members)
    return;
  if (strcmp (now->member[was->replace_slot].name, was->replace_name) != 0)
    fn (opaque, "FailSpare", was->replace_name, NULL);
}

void
raid_status_events (const struct raid_status *was, const struct raid_status *now,
                    raid_event_fn *fn, void *opaque)
{
  if (now->fenced_by[0] && (!was || !was->fenced_by[0]))
    fn (opaque, "Fenced", now->fenced_by, NULL);
  if (!was) {
    if (now->state == RAID_STATE_DEGRADED)
      fn (opaque, "DegradedArray", NULL, NULL);
  }
  else {
    unsigned n = was->members < now->members ? was->members : now->members;
    for (unsigned i = 0; i < n; i++)
      slot_events (&was->member[i], &now->member[i], fn, opaque);
    replace_events (was, now, fn, opaque);
    if (was->state == RAID_STATE_CLEAN && now->state == RAID_STATE_DEGRADED)
      fn (opaque, "DegradedArray", NULL, NULL);
  }
  if (now->state == RAID_STATE_FAILED && (!was || was->state != RAID_STATE_FAILED))
    fn (opaque, "FailedArray", NULL, NULL);
  runs_events (was, now, fn, opaque);
}

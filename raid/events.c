/* The events of mdadm --monitor, from two snapshots of raid_status.
 *
 * Each event has one source.  The engine's notes (notes.c), taken the moment a member
 * fails or a background run begins or ends, tell Fail, FailSpare, RebuildStarted,
 * SpareActive and RebuildFinished: each once, in the order it happened, even when it
 * came and went between two looks.  The comparison of the two snapshots tells the
 * rest, states rather than happenings: a shelf that stopped or started answering
 * (ShelfDown, ShelfUp), the array's state (DegradedArray, FailedArray; DegradedArray
 * also when a failure in between left it degraded for a while), and a run's progress
 * (Rebuild20 ... Rebuild80).  What a look can still miss: a shelf that went down and
 * came back between two looks while the array lost nothing by it (no write missed it),
 * the steps a run passed between two looks but the last, and the notes beyond the last
 * RAID_NOTES taken between two looks.  The caller polls often (plugin/alert.c: every
 * half second). */
#include <stdio.h>
#include <string.h>

#include "raid-int.h"

const char *
raid_check_action_name (enum raid_check_action action)
{
  return action == RAID_CHECK_REPAIR ? "repair" : "check";
}

/* How far the run of this kind is in ST; 0 when the snapshot shows none. */
static int
progress_of (const struct raid_status *st, enum raid_run_kind kind, uint64_t *done,
             uint64_t *total)
{
  *total = st->resync_units;
  switch (kind) {
  case RAID_RUN_RECOVERY:
    *done = st->recovery_offset;
    return st->recovery_slot >= 0;
  case RAID_RUN_RESYNC:
    *done = st->resync_offset;
    return st->resync_offset != UINT64_MAX;
  case RAID_RUN_RESHAPE:
    *done = st->reshape_position;
    *total = st->reshape_size;
    return st->reshape_position != RAID_RESHAPE_NONE;
  case RAID_RUN_CHECK:
  case RAID_RUN_REPAIR:
    *done = st->check_offset;
    return st->check_running
      && st->check_action == (kind == RAID_RUN_REPAIR ? RAID_CHECK_REPAIR : RAID_CHECK);
  case RAID_RUN_REPLACE:
    *done = st->replace_offset;
    return st->replace_slot >= 0;
  default:
    return 0;
  }
}

/* md reports progress in steps of 20 %: Rebuild20 ... Rebuild80. */
static unsigned
step_of (uint64_t done, uint64_t total)
{
  unsigned pct = total ? (unsigned) (done * 100 / total) : 0;
  return pct >= 100 ? 80 : pct / 20 * 20;
}

static int
running (const struct raid_status *st, enum raid_run_kind kind)
{
  return st->runs_started[kind] > st->runs_ended[kind];
}

/* The step of the run of this kind in ST, or -1: none runs, or the snapshot does not
 * show it yet. */
static int
run_step (const struct raid_status *st, enum raid_run_kind kind, uint64_t *done)
{
  uint64_t total;

  if (!running (st, kind) || !progress_of (st, kind, done, &total))
    return -1;
  return (int) step_of (*done, total);
}

/* A step passed since WAS (NULL: none) by the run going on now; WAS NULL: the start
 * of the runs going on too (it was before this look). */
static void
progress_events (const struct raid_status *was, const struct raid_status *now,
                 raid_event_fn *fn, void *opaque)
{
  char name[16];

  for (int k = 0; k < RAID_RUN_KINDS; k++) {
    uint64_t done;
    int step = run_step (now, k, &done), from = -1;

    if (!was && running (now, k))
      fn (opaque, "RebuildStarted", raid_run_name (k), NULL);
    /* the same run as in the last look, unless one ended and another began since */
    if (was && was->runs_started[k] == now->runs_started[k])
      from = run_step (was, k, &done);
    if (step > (from < 0 ? 0 : from)) {
      snprintf (name, sizeof name, "Rebuild%02u", (unsigned) step % 100);
      fn (opaque, name, raid_run_name (k), NULL);
    }
  }
}

static void
run_finished (const struct raid_note *e, raid_event_fn *fn, void *opaque)
{
  char extra[64];

  if (e->name[0])
    fn (opaque, "SpareActive", e->name, NULL);
  if (e->run == RAID_RUN_CHECK || e->run == RAID_RUN_REPAIR) {
    snprintf (extra, sizeof extra, "mismatches=%llu", (unsigned long long) e->mismatches);
    fn (opaque, "RebuildFinished", raid_run_name (e->run), extra);
  }
  else
    fn (opaque, "RebuildFinished", raid_run_name (e->run), NULL);
}

/* The notes taken since WAS, in their order; 1 when they told DegradedArray (a failure
 * of a clean array that has not failed as a whole: it was degraded, if only for a
 * while). */
static int
note_events (const struct raid_status *was, const struct raid_status *now,
             raid_event_fn *fn, void *opaque)
{
  uint64_t from = was->notes;
  int degraded_told = 0;

  if (now->notes < from)
    return 0;                   /* not the same array */
  if (now->notes - from > RAID_NOTES)
    from = now->notes - RAID_NOTES;
  for (uint64_t n = from; n < now->notes; n++) {
    const struct raid_note *e = &now->note[n % RAID_NOTES];
    switch (e->kind) {
    case RAID_NOTE_FAIL:
      fn (opaque, e->spare ? "FailSpare" : "Fail", e->name, NULL);
      if (!e->spare && !degraded_told && was->state == RAID_STATE_CLEAN
          && now->state != RAID_STATE_FAILED) {
        fn (opaque, "DegradedArray", NULL, NULL);
        degraded_told = 1;
      }
      break;
    case RAID_NOTE_RUN_START:
      fn (opaque, "RebuildStarted", raid_run_name (e->run), NULL);
      break;
    case RAID_NOTE_RUN_END:
      run_finished (e, fn, opaque);
      break;
    }
  }
  return degraded_told;
}

static int
working (enum raid_role_state role)
{
  return role == RAID_ROLE_ACTIVE || role == RAID_ROLE_RECOVERING;
}

/* One slot's member stopped or started answering (its failure is a note). */
static void
slot_events (const struct raid_member_status *w, const struct raid_member_status *n,
             raid_event_fn *fn, void *opaque)
{
  if (!w->name[0] || strcmp (w->name, n->name) != 0)
    return;
  if (n->role == RAID_ROLE_FAULTY && !n->failed && working (w->role))
    fn (opaque, "ShelfDown", n->name, NULL);
  else if (w->role == RAID_ROLE_FAULTY && !w->failed && working (n->role))
    fn (opaque, "ShelfUp", n->name, NULL);
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
    int degraded_told = note_events (was, now, fn, opaque);

    for (unsigned i = 0; i < n; i++)
      slot_events (&was->member[i], &now->member[i], fn, opaque);
    if (!degraded_told && was->state == RAID_STATE_CLEAN && now->state == RAID_STATE_DEGRADED)
      fn (opaque, "DegradedArray", NULL, NULL);
  }
  if (now->state == RAID_STATE_FAILED && (!was || was->state != RAID_STATE_FAILED))
    fn (opaque, "FailedArray", NULL, NULL);
  progress_events (was, now, fn, opaque);
}

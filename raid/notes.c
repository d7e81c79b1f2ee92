/* What the engine did, noted the moment it did it: each member that fails and each
 * background run that begins and ends.  raid_status copies the notes and their counters,
 * and raid_status_events (events.c) tells each note once, even one that came and went
 * between two looks.  Nothing here runs per I/O: a note is taken when a member fails or
 * a run begins or ends. */
#include <stdio.h>
#include <string.h>

#include "raid-int.h"

const char *
raid_run_name (enum raid_run_kind kind)
{
  static const char *const names[RAID_RUN_KINDS] = {
    [RAID_RUN_RECOVERY] = "recovery", [RAID_RUN_RESYNC] = "resync",
    [RAID_RUN_RESHAPE] = "reshape", [RAID_RUN_CHECK] = "check",
    [RAID_RUN_REPAIR] = "repair", [RAID_RUN_REPLACE] = "replace",
  };
  return (unsigned) kind < RAID_RUN_KINDS ? names[kind] : "run";
}

void
notes_init (struct raid_notes *nb)
{
  pthread_mutex_init (&nb->lock, NULL);
}

void
notes_destroy (struct raid_notes *nb)
{
  pthread_mutex_destroy (&nb->lock);
}

/* An end of a run that is not open (ended already) is dropped. */
static void
note_add (struct raid_notes *nb, const struct raid_note *n)
{
  pthread_mutex_lock (&nb->lock);
  if (n->kind == RAID_NOTE_RUN_END && nb->started[n->run] == nb->ended[n->run]) {
    pthread_mutex_unlock (&nb->lock);
    return;
  }
  nb->note[nb->n % RAID_NOTES] = *n;
  nb->n++;
  if (n->kind == RAID_NOTE_RUN_START) {
    nb->started[n->run]++;
    pace_marks_start (&nb->marks[n->run], now_us (), nb->moved[n->run]);
  }
  else if (n->kind == RAID_NOTE_RUN_END)
    nb->ended[n->run]++;
  pthread_mutex_unlock (&nb->lock);
}

int
slot_set_faulty (struct raid_slot *s)
{
  struct raid_array *a = s->array;
  struct raid_note n = { .kind = RAID_NOTE_FAIL };

  /* a fenced array marks nothing faulty: another head holds its members now */
  if (a && array_fenced (a))
    return 0;
  /* nor does a closing one: its members are not lost, the server stops (raid_closing);
   * but this one missed what failed, and the array is not clean on it */
  if (a && array_closing (a)) {
    if (!atomic_load (&s->faulty))
      atomic_store (&a->close_cut, 1);
    return 0;
  }
  if (atomic_exchange (&s->faulty, 1))
    return 0;
  if (!s->m.ops || (s->index >= RAID_MAX_MEMBERS && s != &a->repl.member))
    return 1;                   /* no member, or a spare waiting: nothing failed in a slot */
  if (s == &a->repl.member) {
    n.slot = atomic_load (&a->repl.slot);
    n.spare = 1;
  }
  else {
    n.slot = (int) s->index;
    n.spare = atomic_load (&s->recovering);
  }
  snprintf (n.name, sizeof n.name, "%s", slot_name (s));
  note_add (&a->notes, &n);
  /* the member being rebuilt failed: its recovery is over (raid_recover, if it runs,
   * stops on it; one tried again later would wait for it in vain) */
  if (n.spare && s != &a->repl.member)
    run_end (a, RAID_RUN_RECOVERY, NULL, 0);
  return 1;
}

void
note_spare_failed (struct raid_array *a, struct raid_slot *s)
{
  struct raid_note n = { .kind = RAID_NOTE_FAIL, .slot = -1, .spare = 1 };

  snprintf (n.name, sizeof n.name, "%s", slot_name (s));
  note_add (&a->notes, &n);
}

void
run_begin (struct raid_array *a, enum raid_run_kind kind)
{
  note_add (&a->notes, &(struct raid_note) { .kind = RAID_NOTE_RUN_START, .run = kind });
}

int
run_open (struct raid_array *a, enum raid_run_kind kind)
{
  int open;

  pthread_mutex_lock (&a->notes.lock);
  open = a->notes.started[kind] > a->notes.ended[kind];
  pthread_mutex_unlock (&a->notes.lock);
  return open;
}

void
run_end (struct raid_array *a, enum raid_run_kind kind, const char *active,
         uint64_t mismatches)
{
  struct raid_note n = { .kind = RAID_NOTE_RUN_END, .run = kind, .mismatches = mismatches };

  if (active)
    snprintf (n.name, sizeof n.name, "%s", active);
  note_add (&a->notes, &n);
}

void
run_moved (struct raid_array *a, enum raid_run_kind kind, uint64_t bytes)
{
  struct raid_notes *nb = &a->notes;

  pthread_mutex_lock (&nb->lock);
  nb->moved[kind] += bytes;
  pace_mark (&nb->marks[kind], now_us (), nb->moved[kind]);
  pthread_mutex_unlock (&nb->lock);
}

void
notes_copy (struct raid_array *a, struct raid_status *st)
{
  struct raid_notes *nb = &a->notes;
  uint64_t now = now_us ();

  pthread_mutex_lock (&nb->lock);
  for (unsigned k = 0; k < RAID_RUN_KINDS; k++) {
    st->run_rate[k] = pace_rate (&nb->marks[k], now, nb->moved[k]);
    st->run_moved[k] = nb->moved[k];
  }
  st->notes = nb->n;
  memcpy (st->note, nb->note, sizeof st->note);
  memcpy (st->runs_started, nb->started, sizeof st->runs_started);
  memcpy (st->runs_ended, nb->ended, sizeof st->runs_ended);
  pthread_mutex_unlock (&nb->lock);
}

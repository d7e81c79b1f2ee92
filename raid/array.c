/* The array object: create, examine, assemble, member state, superblock
 * updates, status and close. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include "raid-int.h"

void
raid_logf (struct raid_array *a, int level, const char *fmt, ...)
{
  char msg[512];
  va_list ap;

  if (!a->log)
    return;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  /* Messages start "NAME: "; an unnamed array's would start with a bare ": ". */
  a->log (a->log_opaque, level, strncmp (msg, ": ", 2) ? msg : msg + 2);
}

/* The level of each kind's lines, its own and the summary's */
static const int burst_level[RAID_BURSTS] = {
  [BURST_RANGE] = RAID_LOG_ERROR, [BURST_READ_ERROR] = RAID_LOG_WARN,
  [BURST_REWROTE] = RAID_LOG_INFO, [BURST_NO_COPY] = RAID_LOG_ERROR,
  [BURST_STRIPE] = RAID_LOG_ERROR,
};
/* What the lines of each kind left out were: "NAME: ... and 37 more stripes could not
 * be reconstructed in the last 5 s" */
static const char *const burst_left_out[RAID_BURSTS] = {
  [BURST_RANGE] = "requests were outside the array or not a multiple of 512",
  [BURST_READ_ERROR] = "member reads failed",
  [BURST_REWROTE] = "ranges were rewritten on members after read errors",
  [BURST_NO_COPY] = "chunks had no copy that could be read",
  [BURST_STRIPE] = "stripes could not be reconstructed",
};

static void
burst_say_sum (struct raid_array *a, enum raid_burst kind, const struct log_burst_sum *sum)
{
  raid_logf (a, burst_level[kind], "%s: ... and %llu more %s in the last %llu s (not logged "
             "one by one)", a->sb.name, sum->left_out, burst_left_out[kind], sum->seconds);
}

_Static_assert (RAID_MAX_MEMBERS + RAID_MAX_SPARES + 1 <= 64, "a slot's index is a log_burst key");

void
raid_logf_burst (struct raid_array *a, enum raid_burst kind, const struct raid_slot *about,
                 const char *fmt, ...)
{
  int key = about ? (int) about->index : LOG_BURST_NO_KEY;
  struct log_burst_sum sum;
  char msg[512];
  va_list ap;
  int say;

  if (!a->log)
    return;
  say = log_burst_take_key (&a->burst[kind], now_us (), key, &sum);
  if (sum.left_out)
    burst_say_sum (a, kind, &sum);
  if (!say)
    return;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  raid_logf (a, burst_level[kind], "%s", msg);
}

/* Sum up what each kind left out: when due (a flood that stopped is said too), or all of
 * it (FORCE: the array closes) */
static void
bursts_flush (struct raid_array *a, int force)
{
  struct log_burst_sum sum;
  uint64_t now = now_us ();

  for (int k = 0; k < RAID_BURSTS; k++)
    if (log_burst_flush (&a->burst[k], now, force, &sum) && a->log)
      burst_say_sum (a, k, &sum);
}

void
raid_log_tick (struct raid_array *a)
{
  bursts_flush (a, 0);
}

const char *
slot_name (const struct raid_slot *s)
{
  return s->m.ops ? s->m.ops->name (s->m.member) : "(missing)";
}

void
array_fence (struct raid_array *a, struct raid_slot *s)
{
  int none = 0;

  if (!atomic_compare_exchange_strong (&a->fence_state, &none, 1))
    return;
  snprintf (a->fenced_by, sizeof a->fenced_by, "%s", slot_name (s));
  atomic_store (&a->fence_state, 2);
  /* resync, recovery, check, reshape and replace stop; the caller tells (raid_status) */
  atomic_store (&a->resync_stop, 1);
}

const char *
array_fenced_by (struct raid_array *a)
{
  return atomic_load (&a->fence_state) == 2 ? a->fenced_by : "a member";
}

int raid_fenced (struct raid_array *a) { return array_fenced (a); }

int
slot_usable (struct raid_slot *s)
{
  return s->m.ops && !atomic_load (&s->faulty) && s->m.ops->healthy (s->m.member);
}

static int
member_volatile_cache (struct raid_slot *s)
{
  const struct raid_member_ops *ops = s->m.ops;
  return ops && (!ops->volatile_cache || ops->volatile_cache (s->m.member));
}

int
slot_volatile_cache (struct raid_slot *s)
{
  /* a flush of a slot being replaced reaches the new member too (io.c's shadows), which
   * took the slot's writes: it is needed where either keeps them in a cache */
  struct raid_slot *r = atomic_load (&s->replacement);
  return member_volatile_cache (s)
    || (r && !atomic_load (&r->faulty) && member_volatile_cache (r));
}

int
slot_usable_at (struct raid_array *a, struct raid_slot *s, uint64_t u)
{
  return slot_usable (s) && (!atomic_load (&s->recovering)
                             || u < atomic_load (&a->recovery_offset));
}

uint64_t
slot_offset (const struct raid_layout *L, struct raid_loc l, uint32_t within)
{
  return L->data_offset + (l.row << L->g.chunk_shift) + within;
}

int
slot_io (struct raid_slot *s, enum raid_io_op op, uint64_t offset, uint32_t len, void *buf)
{
  struct io_batch b;
  int err = ENOMEM;

  batch_init (&b, NULL);
  if (batch_add (&b, s, op, offset, len, buf, 0)) {
    batch_run (&b);
    err = b.ios[0].err;
  }
  batch_free (&b);
  return err;
}

void
raid_uuid_format (const uint8_t u[16], char out[37])
{
  snprintf (out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
            u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
            u[12], u[13], u[14], u[15]);
}

void
raid_uuid_new (uint8_t u[16])
{
  if (getrandom (u, 16, 0) != 16) {
    /* No entropy source: the wall clock's nanoseconds, the CPU time used and the
     * address still make two calls differ. */
    struct timespec wall, cpu;
    clock_gettime (CLOCK_REALTIME, &wall);
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &cpu);
    uint64_t t = (uint64_t) wall.tv_sec * 1000000000u + (uint64_t) wall.tv_nsec;
    uint64_t c = ((uint64_t) cpu.tv_sec * 1000000000u + (uint64_t) cpu.tv_nsec) ^ (uintptr_t) u;
    memcpy (u, &t, 8);
    memcpy (u + 8, &c, 8);
  }
  u[6] = (u[6] & 0x0f) | 0x40;     /* RFC 4122 version 4 */
  u[8] = (u[8] & 0x3f) | 0x80;
}

/* Queue this member's copy of the superblock (role: its slot, or spare). */
static void
sb_queue (struct raid_array *a, struct io_batch *b, struct raid_slot *s, unsigned role)
{
  if (!s->m.ops || atomic_load (&s->faulty))
    return;
  /* closing: a member whose shelf is down (its hold ended) misses this record, one event
   * behind, not failed; its preflush would fail and keep the record from the others */
  if (array_closing (a) && !s->m.ops->healthy (s->m.member)) {
    if (s->index < RAID_MAX_MEMBERS)
      atomic_store (&a->close_cut, 1);
    return;
  }
  a->sb.role = role;
  memcpy (a->sb.member_uuid, s->uuid, 16);
  sb_encode (&a->sb, a->sb_block[s->index]);
  /* cannot fail: B has room for every member, spare and replacement (sb_ios) */
  batch_add (b, s, RAID_IO_WRITE, RAID_SB_OFFSET, RAID_SB_SIZE, a->sb_block[s->index], 0);
}

void
spare_remove (struct raid_array *a, unsigned i)
{
  for (; i + 1 < a->nspares; i++) {
    a->spare[i].m = a->spare[i + 1].m;
    a->spare[i].readd = a->spare[i + 1].readd;
    memcpy (a->spare[i].uuid, a->spare[i + 1].uuid, 16);
    atomic_store (&a->spare[i].faulty, atomic_load (&a->spare[i + 1].faulty));
  }
  a->nspares--;
  memset (&a->spare[a->nspares].m, 0, sizeof a->spare[a->nspares].m);
  a->spare[a->nspares].readd = 0;
  atomic_store (&a->spare[a->nspares].faulty, 0);
}

void
array_note_left (struct raid_array *a, const char *name, const uint8_t uuid[16])
{
  unsigned i, n = sizeof a->left / sizeof a->left[0];

  for (i = 0; i < a->nleft && strcmp (a->left[i].name, name); i++)
    ;
  if (i == a->nleft && a->nleft == n) {           /* full: the oldest goes */
    memmove (&a->left[0], &a->left[1], (n - 1) * sizeof a->left[0]);
    i = --a->nleft;
  }
  if (i == a->nleft)
    a->nleft++;
  snprintf (a->left[i].name, sizeof a->left[i].name, "%s", name);
  memcpy (a->left[i].uuid, uuid, 16);
}

void
array_forget_left (struct raid_array *a, const uint8_t uuid[16])
{
  for (unsigned i = 0; i < a->nleft; i++)
    if (!memcmp (a->left[i].uuid, uuid, 16)) {
      memmove (&a->left[i], &a->left[i + 1], (a->nleft - i - 1) * sizeof a->left[0]);
      a->nleft--;
      return;
    }
}

/* Was the member the superblock records in slot I left out by assembly (stale: it missed
 * updates)?  Its uuid is among those left; one that left the slot for another member
 * since is not there.  Its name, or NULL.  Under sb_lock. */
const char *
slot_left_stale (struct raid_array *a, unsigned i)
{
  for (unsigned j = 0; j < a->nleft; j++)
    if (!memcmp (a->left[j].uuid, a->sb.slot_uuid[i], 16))
      return a->left[j].name;
  return NULL;
}

/* A spare that cannot take a superblock is dropped from the list. */
static void
spares_prune (struct raid_array *a)
{
  for (unsigned i = a->nspares; i-- > 0;)
    if (atomic_load (&a->spare[i].faulty)) {
      raid_logf (a, RAID_LOG_ERROR, "%s: spare %s failed a superblock write; dropped",
                 a->sb.name, slot_name (&a->spare[i]));
      if (!array_fenced (a) && !(a->adding && !strcmp (a->adding, slot_name (&a->spare[i]))))
        note_spare_failed (a, &a->spare[i]);
      spare_remove (a, i);
    }
}

/* Record the replace in progress (md: the replacement's role and recovery_offset): none
 * once its new member failed.  The new member's own copy keeps a spare's role. */
static struct raid_slot *
sb_set_replacement (struct raid_array *a)
{
  struct raid_slot *r = &a->repl.member;
  int i = atomic_load (&a->repl.slot);

  if (i < 0 || atomic_load (&r->faulty)) {
    a->sb.features &= ~RAID_FEATURE_REPLACEMENT;
    a->sb.replace_slot = 0;
    a->sb.replace_offset = 0;
    memset (a->sb.replace_uuid, 0, 16);
    return NULL;
  }
  a->sb.features |= RAID_FEATURE_REPLACEMENT;
  a->sb.replace_slot = (uint32_t) i;
  a->sb.replace_offset = atomic_load (&a->repl.recorded);
  memcpy (a->sb.replace_uuid, r->uuid, 16);
  return r;
}

/* sb_flush's superblock writes, and their errors to fill. */
struct sb_flushed { const struct io_batch *b; int *err; };

/* A flush's failure goes to each superblock write of its member that has none yet. */
static void
sb_flush_answers (void *opaque, struct io_batch *f)
{
  struct sb_flushed *w = opaque;

  for (unsigned j = 0; j < f->n; j++)
    for (unsigned i = 0; i < w->b->n; i++)
      if (w->b->ios[i].slot == f->ios[j].slot && f->ios[j].err && !w->err[i])
        w->err[i] = f->ios[j].err;
}

/* Flush the members of B (AFTER: those whose write succeeded) that keep writes in a
 * volatile cache; a failure goes into ERR[i] unless one is there.  md writes superblocks
 * PREFLUSH|FUA: before, so that what a record covers (data rebuilt, resynced or moved
 * below its offsets) is durable before it; after, so that the record (a failed member,
 * say) is durable before what relies on it. */
static void
sb_flush (struct io_batch *b, int after, int *err)
{
  batch_flush_cached (b, after, sb_flush_answers, &(struct sb_flushed) { b, err });
}

/* The superblocks of batch B that reached their members: what a restart would read. */
static void
sb_note_on_disk (struct raid_array *a, const struct io_batch *b)
{
  int taken = 0;

  for (unsigned i = 0; i < b->n; i++) {
    struct raid_slot *s = b->ios[i].slot;
    if (b->ios[i].err)
      continue;
    taken = 1;
    if (s->index < RAID_MAX_MEMBERS)
      s->events_on_disk = a->sb.events;
  }
  if (!taken)
    return;
  a->on_disk.events = a->sb.events;
  memcpy (a->on_disk.roles, a->sb.roles, sizeof a->on_disk.roles);
}

/* Closing: a member of a slot that missed this superblock write (a held shelf, down
 * since its hold ended) is not failed for it, but the array is not clean on it. */
static void
sb_note_closing_cut (struct raid_array *a, const struct io_batch *b)
{
  for (unsigned i = 0; i < b->n; i++)
    if (b->ios[i].err && b->ios[i].slot->index < RAID_MAX_MEMBERS
        && !atomic_load (&b->ios[i].slot->faulty))
      atomic_store (&a->close_cut, 1);
}

void
sb_write_all (struct raid_array *a)
{
  struct io_batch b;
  struct raid_slot *r;
  unsigned i, failed, preflush_failed;

  if (a->readonly || array_fenced (a))
    return;
  /* closing, and a member missed a write or a superblock: one more superblock on the
   * others would put it two events behind, stale at the next start (raid_close) */
  if (array_closing (a) && atomic_load (&a->close_cut))
    return;
  /* no memory taken: a healthy member is not failed because malloc was (md's superblock
   * bios come from a mempool) */
  batch_init_on (&b, NULL, a->sb_ios, sizeof a->sb_ios / sizeof a->sb_ios[0]);
  do {
    batch_reset (&b);
    a->sb.events++;
    a->sb.utime = (uint64_t) time (NULL);
    a->sb.resync_offset = atomic_load (&a->resync_offset);
    /* the resync after a crash has ended: the stripes it tore are proven */
    if (a->sb.resync_offset == RAID_RESYNC_DONE)
      a->sb.resync_after_crash = 0;
    a->sb.recovery_offset = atomic_load (&a->recovery_offset);
    if (atomic_load (&a->recovery_bitmap))
      a->sb.features |= RAID_FEATURE_RECOVERY_BITMAP;
    else
      a->sb.features &= ~RAID_FEATURE_RECOVERY_BITMAP;
    r = sb_set_replacement (a);     /* before any block is encoded */
    for (i = 0; i < a->lay.g.n; i++)
      sb_queue (a, &b, &a->slot[i], i);
    for (i = 0; i < a->nspares; i++)
      sb_queue (a, &b, &a->spare[i], RAID_SB_ROLE_SPARE);
    if (r)
      sb_queue (a, &b, r, RAID_SB_ROLE_SPARE);
    status_publish (a);         /* the change, shown before the members take it */
    int flush_err[b.n ? b.n : 1];
    memset (flush_err, 0, sizeof flush_err);
    if (!array_fenced (a))
      sb_flush (&b, 0, flush_err);
    /* A failed preflush fails its write (md's PREFLUSH|FUA): no member takes this record
     * (a recovery's offset, say, which the bytes behind it on that member no longer back)
     * until the next one says that member failed. */
    for (preflush_failed = 0, i = 0; i < b.n; i++)
      preflush_failed |= flush_err[i] != 0;
    if (!preflush_failed) {
      batch_run (&b);
      if (!array_fenced (a))
        sb_flush (&b, 1, flush_err);
    }
    for (i = 0; i < b.n; i++)
      if (!b.ios[i].err)
        b.ios[i].err = flush_err[i];  /* a failed flush is a failed write */
    if (array_fenced (a))
      break;                    /* another host owns the members: fail none */
    if (!preflush_failed)       /* else no member was written */
      sb_note_on_disk (a, &b);
    if (array_closing (a)) {    /* fail none and write no more: raid_closing */
      sb_note_closing_cut (a, &b);
      break;
    }
    /* A member that misses a state change is stale: fail it, then record
     * that in a further update to the others. */
    for (failed = 0, i = 0; i < b.n; i++) {
      struct raid_slot *s = b.ios[i].slot;
      if (s == &a->repl.member) {
        /* its record would outlive it: the others drop it in the next round */
        if (b.ios[i].err && slot_set_faulty (s)) {
          raid_logf (a, RAID_LOG_ERROR, "%s: replacement %s failed a superblock write (%s)",
                     a->sb.name, slot_name (s), strerror (b.ios[i].err));
          failed++;
        }
      }
      else if (s->index >= RAID_MAX_MEMBERS)
        atomic_store (&s->faulty, b.ios[i].err != 0);   /* a spare: pruned below */
      else if (b.ios[i].err && slot_set_faulty (s)) {
        atomic_fetch_add (&s->write_errors, 1);
        a->sb.roles[s->index] = RAID_ROLE_FAULTY;
        raid_logf (a, RAID_LOG_ERROR, "%s: member %s (slot %u) failed a superblock write (%s); "
                   "marked faulty", a->sb.name, slot_name (s), s->index, strerror (b.ios[i].err));
        failed++;
      }
    }
  } while (failed || preflush_failed);
  batch_free (&b);
  spares_prune (a);
}

void
array_checkpoint (struct raid_array *a)
{
  pthread_mutex_lock (&a->sb_lock);
  sb_write_all (a);
  sb_unlock (a);
}

const char *
array_quoted (struct raid_array *a, char label[RAID_NAME_MAX + 3])
{
  if (!a->sb.name[0])
    return "(unnamed)";
  snprintf (label, RAID_NAME_MAX + 3, "'%s'", a->sb.name);
  return label;
}

const char *
array_label (struct raid_array *a, char label[RAID_NAME_MAX + 3])
{
  return a->sb.name[0] ? array_quoted (a, label) : "the array";
}

/* S, a slot's member, was failed by another writer, or without its superblock record:
 * that record is on the members before this writer's request, which S missed, is
 * acknowledged (md holds writes for the metadata update too).  Else a crash could bring
 * S back in sync with the write lost on it. */
static void
slot_fail_recorded (struct raid_array *a, struct raid_slot *s)
{
  if (s->index >= RAID_MAX_MEMBERS)
    return;                     /* a spare or the replacement: no slot role to record */
  pthread_mutex_lock (&a->sb_lock);
  if (a->sb.roles[s->index] == RAID_ROLE_ACTIVE || a->sb.roles[s->index] == RAID_ROLE_RECOVERING) {
    a->sb.roles[s->index] = RAID_ROLE_FAULTY;
    sb_write_all (a);
  }
  sb_unlock (a);
}

void
slot_fail (struct raid_array *a, struct raid_slot *s, const char *why)
{
  if (array_fenced (a))
    return;
  if (!slot_set_faulty (s)) {
    if (!array_closing (a))     /* closing: nothing more is recorded (raid_closing) */
      slot_fail_recorded (a, s);
    return;
  }
  raid_logf (a, RAID_LOG_ERROR, "%s: member %s (slot %u) failed: %s; marked faulty",
             a->sb.name, slot_name (s), s->index, why);
  pthread_mutex_lock (&a->sb_lock);
  a->sb.roles[s->index] = RAID_ROLE_FAULTY;
  sb_write_all (a);
  sb_unlock (a);
}

void
array_missing (struct raid_array *a, uint8_t missing[RAID_MAX_MEMBERS])
{
  for (unsigned i = 0; i < RAID_MAX_MEMBERS; i++)
    missing[i] = i < a->lay.g.n && (!slot_usable (&a->slot[i])
                                || atomic_load (&a->slot[i].recovering));
}

int
array_degraded (struct raid_array *a)
{
  uint8_t missing[RAID_MAX_MEMBERS];

  array_missing (a, missing);
  for (unsigned i = 0; i < a->lay.g.n; i++)
    if (missing[i])
      return 1;
  return 0;
}

int
array_survives (struct raid_array *a, const uint8_t missing[RAID_MAX_MEMBERS])
{
  return geom_survives (&a->lay.g, missing)
    && (!atomic_load (&a->reshape.active) || geom_survives (&a->prev.g, missing));
}

int
raid_survives_without (struct raid_array *a, raid_member_gone_fn *gone, void *opaque)
{
  uint8_t missing[RAID_MAX_MEMBERS];

  array_missing (a, missing);
  for (unsigned i = 0; i < a->lay.g.n; i++) {
    struct raid_slot *s = &a->slot[i];
    if (!missing[i] && s->m.ops && gone && gone (opaque, &s->m))
      missing[i] = 1;
  }
  return array_survives (a, missing);
}

int
raid_slot_member_uuid (struct raid_array *a, raid_member_gone_fn *is, void *opaque,
                       uint8_t uuid[16])
{
  for (unsigned i = 0; i < a->lay.g.n; i++) {
    struct raid_slot *s = &a->slot[i];
    if (s->m.ops && is (opaque, &s->m)) {
      memcpy (uuid, s->uuid, 16);
      return 1;
    }
  }
  return 0;
}

/* Member bytes the superblock's data area needs: its end in either layout. */
static uint64_t
sb_member_bytes (const struct raid_sb *sb)
{
  uint64_t off = sb->data_offset;

  if ((sb->features & RAID_FEATURE_RESHAPE) && sb->prev_data_offset > off)
    off = sb->prev_data_offset;
  return off + sb->data_size;
}

uint64_t
array_member_bytes (struct raid_array *a)
{
  return sb_member_bytes (&a->sb);
}

int
member_fits (struct raid_array *a, const struct raid_slot *s)
{
  return s->m.ops && s->m.ops->size (s->m.member) >= array_member_bytes (a);
}

int
array_readonly (struct raid_array *a, char *err, size_t errlen)
{
  if (array_fenced (a)) {
    if (err)
      snprintf (err, errlen, "the array is fenced: %s belongs to another head now, which "
                "took the array over; stop this server", array_fenced_by (a));
    return -EROFS;
  }
  if (array_closing (a)) {
    if (err)
      snprintf (err, errlen, "the array is closing: the server stops; nothing is changed now");
    return -EROFS;
  }
  if (!a->readonly)
    return 0;
  if (err)
    snprintf (err, errlen, "the array is read-only: assemble it without readonly to change it");
  return -EROFS;
}

int
array_check (struct raid_array *a, const char *what)
{
  uint8_t missing[RAID_MAX_MEMBERS];
  char names[400] = "";
  size_t used = 0;
  unsigned lost = 0;

  array_missing (a, missing);
  if (array_survives (a, missing)) {
    if (atomic_load (&a->lost_said))    /* the episode ended: the next one is said again */
      atomic_store (&a->lost_said, 0);
    return 1;
  }
  for (unsigned i = 0; i < a->lay.g.n; i++)
    lost |= (unsigned) !!missing[i] << i;
  /* said once until the members lost change: a client writing on meets this per request */
  if (atomic_exchange (&a->lost_said, lost) == lost)
    return 0;
  for (unsigned i = 0; i < a->lay.g.n && used < sizeof names; i++)
    if (missing[i])
      used += snprintf (names + used, sizeof names - used, "%s%s (slot %u)", used ? ", " : "",
                        slot_name (&a->slot[i]), i);
  raid_logf (a, RAID_LOG_ERROR, "%s: cannot %s: %s has lost too many members: %s (said "
             "once until its members change)", a->sb.name, what,
             raid_level_name (a->lay.g.level), names);
  return 0;
}

static struct raid_array *
array_new (raid_log_fn *log, void *log_opaque)
{
  struct raid_array *a = calloc (1, sizeof *a);

  if (!a)
    return NULL;
  a->log = log;
  a->log_opaque = log_opaque;
  for (int k = 0; k < RAID_BURSTS; k++)
    log_burst_init (&a->burst[k]);
  pthread_mutex_init (&a->sb_lock, NULL);
  status_snap_init (a);
  pthread_mutex_init (&a->bitmap.lock, NULL);
  stripe_locks_init (&a->locks);
  scratch_pool_init (&a->pool);
  stripe_cache_init (&a->stripe_cache);
  ppl_init (a);
  reshape_init (a);
  notes_init (&a->notes);
  for (unsigned i = 0; i < RAID_MAX_MEMBERS; i++) {
    a->slot[i].index = i;
    a->slot[i].array = a;
  }
  for (unsigned i = 0; i < RAID_MAX_SPARES; i++) {
    a->spare[i].index = RAID_MAX_MEMBERS + i;
    a->spare[i].array = a;
  }
  atomic_store (&a->recovery_offset, RAID_RESYNC_DONE);
  atomic_store (&a->repl.slot, -1);
  a->repl.member.index = RAID_MAX_MEMBERS + RAID_MAX_SPARES;
  a->repl.member.array = a;
  return a;
}

static void
array_free (struct raid_array *a)
{
  bursts_flush (a, 1);
  for (int k = 0; k < RAID_BURSTS; k++)
    log_burst_destroy (&a->burst[k]);
  bitmap_free (&a->bitmap);
  pthread_mutex_destroy (&a->bitmap.lock);
  layout_free (&a->lay);
  layout_free (&a->prev);
  reshape_destroy (a);
  notes_destroy (&a->notes);
  scratch_pool_destroy (&a->pool);
  stripe_cache_destroy (&a->stripe_cache);
  ppl_destroy (a);
  stripe_locks_destroy (&a->locks);
  pthread_mutex_destroy (&a->sb_lock);
  status_snap_destroy (a);
  free (a);
}

int
layout_init (struct raid_layout *L, enum raid_level level, unsigned n, unsigned k, unsigned m,
             uint32_t chunk, uint64_t data_size, uint64_t data_offset, char *err, size_t errlen)
{
  memset (L, 0, sizeof *L);
  if (geom_init (&L->g, level, n, k, m, chunk, data_size, err, errlen) == -1)
    return -1;
  if (L->g.m && codec_init (&L->codec, L->g.k, L->g.m, level != RAID_LEVEL_EC) == -1) {
    snprintf (err, errlen, "out of memory building the parity tables");
    return -1;
  }
  L->data_offset = data_offset;
  L->size = geom_data_chunks (&L->g) << L->g.chunk_shift;
  return 0;
}

void
layout_free (struct raid_layout *L)
{
  if (L->g.m)
    codec_free (&L->codec);
  memset (L, 0, sizeof *L);
}

/* Layouts from the superblock fields. */
static int
array_setup (struct raid_array *a, char *err, size_t errlen)
{
  const struct raid_sb *sb = &a->sb;

  if (layout_init (&a->lay, (enum raid_level) sb->level, sb->raid_disks, sb->k, sb->m,
                   sb->chunk, sb->data_size, sb->data_offset, err, errlen) == -1)
    return -1;
  a->size = a->lay.size;
  ppl_setup (a);
  return reshape_setup (a, err, errlen);
}

uint64_t
member_data_room (const struct raid_member *m, uint64_t data_offset, uint32_t chunk)
{
  uint64_t size = m->ops->size (m->member);

  return size < data_offset ? 0 : (size - data_offset) & ~(uint64_t) (chunk - 1);
}

/* Where a new array with the partial parity log starts its data: the ring that CHUNK
 * wants after the metadata area, at 1 MiB or the next MiB above. */
static uint64_t
ppl_data_offset (uint32_t chunk)
{
  uint64_t end = RAID_META_END + ppl_ring_needs (chunk);

  return end <= RAID_DATA_OFFSET ? RAID_DATA_OFFSET : (end + (1u << 20) - 1) & ~(uint64_t) ((1u << 20) - 1);
}

/* Why the array P asks for cannot have the log (err filled, 1), or 0. */
static int
create_ppl_unfit (const struct raid_params *p, size_t n, uint32_t chunk, uint64_t data_offset,
                  char *err, size_t errlen)
{
  struct raid_geom g;
  const char *unfit;

  if (geom_init (&g, p->level, n, p->k, p->m, chunk, (uint64_t) chunk * 1024, err, errlen) == -1)
    return 1;
  unfit = ppl_unfit (&g);
  if (unfit) {
    snprintf (err, errlen, "%s", unfit);
    return 1;
  }
  if (data_offset < RAID_META_END + PPL_HEADER + chunk) {
    snprintf (err, errlen, "data offset %llu leaves no room for the partial parity log: it "
              "needs at least %llu bytes from %u", (unsigned long long) data_offset,
              (unsigned long long) (PPL_HEADER + chunk), RAID_META_END);
    return 1;
  }
  return 0;
}

struct raid_array *
raid_create (const struct raid_params *p, struct raid_member *members, size_t n,
             raid_log_fn *log, void *log_opaque, char *err, size_t errlen)
{
  struct raid_array *a;
  uint64_t data_size = UINT64_MAX;
  uint32_t chunk = p->chunk_bytes ? p->chunk_bytes : RAID_DEFAULT_CHUNK;
  int ppl = !!(p->flags & RAID_CREATE_PPL);
  uint64_t data_offset = p->data_offset ? p->data_offset
                         : ppl ? ppl_data_offset (chunk) : RAID_DATA_OFFSET;
  const char *name = p->name ? p->name : "";
  size_t i;

  if (n < 1 || n > RAID_MAX_MEMBERS) {
    snprintf (err, errlen, "an array needs 1 to %d members, got %zu", RAID_MAX_MEMBERS, n);
    return NULL;
  }
  if (ppl && create_ppl_unfit (p, n, chunk, data_offset, err, errlen))
    return NULL;
  if (data_offset < RAID_META_END || data_offset % 4096) {
    snprintf (err, errlen, "data offset %llu is not a multiple of 4096 of at least %u",
              (unsigned long long) data_offset, RAID_META_END);
    return NULL;
  }
  if (strlen (name) > RAID_NAME_MAX) {
    snprintf (err, errlen, "array name '%s' is longer than %d bytes: choose a shorter name",
              name, RAID_NAME_MAX);
    return NULL;
  }
  for (i = 0; name[i]; i++)
    if ((unsigned char) name[i] < 0x20 || name[i] == 0x7f) {
      snprintf (err, errlen, "array name holds control byte 0x%02x at %zu: choose a name of "
                "printable characters", (unsigned char) name[i], i);
      return NULL;
    }
  for (i = 0; i < n; i++) {
    uint64_t room = member_data_room (&members[i], data_offset, chunk);
    if (room == 0) {
      snprintf (err, errlen, "member %s is too small (%llu bytes): it needs at least %llu "
                "bytes (%llu byte superblock area and one %u byte chunk)",
                members[i].ops->name (members[i].member),
                (unsigned long long) members[i].ops->size (members[i].member),
                (unsigned long long) (data_offset + chunk), (unsigned long long) data_offset,
                chunk);
      return NULL;
    }
    if (room < data_size)
      data_size = room;
  }

  a = array_new (log, log_opaque);
  if (!a) {
    snprintf (err, errlen, "out of memory");
    return NULL;
  }
  a->sb = (struct raid_sb) {
    .version = 2, .ctime = (uint64_t) time (NULL), .level = p->level,
    .chunk = chunk, .raid_disks = n, .k = p->k, .m = p->m, .data_offset = data_offset,
    .data_size = data_size, .clean = 0,
  };
  strcpy (a->sb.name, name);
  raid_uuid_new (a->sb.array_uuid);
  if (ppl) {
    a->sb.features |= RAID_FEATURE_PPL;
    a->sb.log_offset = RAID_META_END;
    a->sb.log_size = ppl_ring_for_room (data_offset - RAID_META_END, chunk);
    a->sb.ppl_gen = 1;
  }
  if (array_setup (a, err, errlen) == -1) {
    array_free (a);
    return NULL;
  }
  a->sb.k = a->lay.g.k;
  a->sb.m = a->lay.g.m;
  a->sb.layout = geom_md_layout (&a->lay.g);
  a->sb.array_size = a->size;
  /* A bitmap serves members that come back; RAID0 has no member to come back. */
  if (!(p->flags & RAID_CREATE_NO_BITMAP) && (a->lay.g.m || a->lay.g.copies > 1)) {
    a->sb.bitmap_offset = RAID_BITMAP_OFFSET;
    if (bitmap_create (a, p->bitmap_region) < 0) {
      snprintf (err, errlen, "out of memory");
      array_free (a);
      return NULL;
    }
  }
  for (i = 0; i < n; i++) {
    a->slot[i].m = members[i];
    raid_uuid_new (a->slot[i].uuid);
    memcpy (a->sb.slot_uuid[i], a->slot[i].uuid, 16);
    a->sb.roles[i] = RAID_ROLE_ACTIVE;
  }
  /* Without redundancy there is nothing to make consistent. */
  atomic_store (&a->resync_offset, (p->flags & RAID_CREATE_ASSUME_CLEAN)
                || (a->lay.g.m == 0 && a->lay.g.copies == 1) ? RAID_RESYNC_DONE : 0);
  /* Not yet in sync: every region dirty until the resync has been over it. */
  if (a->bitmap.nbits && atomic_load (&a->resync_offset) != RAID_RESYNC_DONE)
    bitmap_set_all (&a->bitmap);
  /* The bitmap on the members before the superblocks name it: a member may hold an older
   * array's block (created over with force=true), of this geometry and clean, which a
   * start after a crash between the two would trust: the first resync skipped. */
  if (a->bitmap.nbits) {
    atomic_store (&a->bitmap.events_cleared, a->sb.events + 1);   /* the first superblocks' */
    pthread_mutex_lock (&a->bitmap.lock);
    bitmap_store (a, NULL);
    pthread_mutex_unlock (&a->bitmap.lock);
  }
  pthread_mutex_lock (&a->sb_lock);
  sb_write_all (a);
  sb_unlock (a);
  for (i = 0; i < n; i++)
    if (atomic_load (&a->slot[i].faulty)) {
      snprintf (err, errlen, "cannot write the superblock and bitmap to member %s: check "
                "that it is writable and answering", slot_name (&a->slot[i]));
      array_free (a);
      return NULL;
    }
  raid_logf (a, RAID_LOG_INFO, "%s: created %s, %zu members, chunk %u, %llu bytes", name,
             raid_level_name (a->lay.g.level), n, chunk, (unsigned long long) a->size);
  return a;
}

/* WHY (RAID_SB_CORRUPT: what is wrong) holds at least RAID_SB_WHY bytes. */
#define RAID_SB_WHY 128
static enum raid_sb_state
read_sb_as (struct raid_array *owner, struct raid_member *m, struct raid_sb *sb, char *why)
{
  struct raid_slot tmp = { .m = *m, .array = owner };
  uint8_t *block = malloc (RAID_SB_SIZE);
  enum raid_sb_state state = RAID_SB_IOERR;

  memset (sb, 0, sizeof *sb);
  *why = '\0';
  if (block && slot_io (&tmp, RAID_IO_READ, RAID_SB_OFFSET, RAID_SB_SIZE, block) == 0)
    state = sb_decode (block, sb, why, RAID_SB_WHY);
  free (block);
  return state;
}

static enum raid_sb_state
read_sb (struct raid_member *m, struct raid_sb *sb, char *why)
{
  return read_sb_as (NULL, m, sb, why);
}

/* Does S's write-intent bitmap, of the array SB (UNITS lock units) records, have no bit
 * set?  0 without one, mid-reshape (none is kept), or when it cannot be read.  Assembly
 * asks it of the freshest member (bitmap_shows_no_write), examine of each member. */
static int
slot_bitmap_clean (struct raid_slot *s, const struct raid_sb *sb, uint64_t units)
{
  uint8_t *block;
  int clean = 0;

  if (!s || !sb->bitmap_offset || (sb->features & RAID_FEATURE_RESHAPE))
    return 0;
  block = aligned_alloc (4096, RAID_BITMAP_SIZE);
  if (block && slot_io (s, RAID_IO_READ, RAID_BITMAP_OFFSET, RAID_BITMAP_SIZE, block) == 0)
    clean = bitmap_block_clean (block, units, sb->resync_offset);
  free (block);
  return clean;
}

int
examine_as (struct raid_array *owner, struct raid_member *m, struct raid_sb_summary *out)
{
  struct raid_sb sb;
  char why[RAID_SB_WHY];
  enum raid_sb_state state = read_sb_as (owner, m, &sb, why);

  sb_summarise (&sb, state, out);
  if (state == RAID_SB_CORRUPT)
    snprintf (out->problem, sizeof out->problem, "%s", why);
  if (state == RAID_SB_OK) {
    struct raid_slot tmp = { .m = *m, .array = owner };
    out->bitmap_clean = slot_bitmap_clean (&tmp, &sb, out->resync_units);
  }
  return state == RAID_SB_IOERR ? -EIO : 0;
}

int
raid_examine (struct raid_member *m, struct raid_sb_summary *out)
{
  return examine_as (NULL, m, out);
}

#define META_BYTES (RAID_META_END - RAID_META_START)
_Static_assert (RAID_BITMAP_OFFSET >= RAID_META_START + RAID_SB_SIZE
                && RAID_BITMAP_OFFSET + RAID_BITMAP_SIZE <= RAID_META_END,
                "the superblock and the bitmap lie in the metadata area");

int
raid_wipe (struct raid_member *m)
{
  struct raid_slot tmp = { .m = *m };
  uint8_t *zero = aligned_alloc (4096, META_BYTES);
  int err = ENOMEM;

  if (zero) {
    memset (zero, 0, META_BYTES);
    err = slot_io (&tmp, RAID_IO_WRITE, RAID_META_START, META_BYTES, zero);
    if (!err)
      err = slot_io (&tmp, RAID_IO_FLUSH, 0, 0, NULL);
    free (zero);
  }
  return -err;
}

int
raid_meta_probe (struct raid_member *m, enum raid_meta_state *out)
{
  struct raid_slot tmp = { .m = *m };
  uint8_t *block = aligned_alloc (4096, META_BYTES);
  int err = ENOMEM;

  if (block) {
    err = slot_io (&tmp, RAID_IO_READ, RAID_META_START, META_BYTES, block);
    if (!err) {
      const size_t bm_at = RAID_BITMAP_OFFSET - RAID_META_START;
      int beside_bitmap = 0;          /* bytes set outside the bitmap's block */
      *out = RAID_META_BLANK;
      for (size_t i = 0; i < META_BYTES; i++)
        if (block[i]) {
          *out = RAID_META_OTHER;
          beside_bitmap |= i < bm_at || i >= bm_at + RAID_BITMAP_SIZE;
        }
      /* a superblock; or a stale bitmap alone (an older remove zeroed only the
       * superblock): its magic among other data is what wrote there since (a
       * filesystem, a boot loader), not aoeraid's */
      if (sb_magic_at (block + RAID_SB_OFFSET - RAID_META_START)
          || (bitmap_magic_at (block + bm_at) && !beside_bitmap))
        *out = RAID_META_AOERAID;
    }
    free (block);
  }
  return -err;
}

static const char *
sb_state_text (enum raid_sb_state s)
{
  switch (s) {
  case RAID_SB_NONE: return "has no aoeraid superblock";
  case RAID_SB_CORRUPT: return "has a corrupt superblock (bad crc32c or impossible fields)";
  case RAID_SB_NEWER: return "has a superblock from a newer aoeraid format";
  case RAID_SB_IOERR: return "cannot be read";
  case RAID_SB_OK: break;
  }
  return "is fine";
}

/* sb_state_text, with what is wrong in a corrupt one. */
static const char *
sb_problem_text (enum raid_sb_state s, const char *why, char *buf, size_t len)
{
  if (s != RAID_SB_CORRUPT || !*why)
    return sb_state_text (s);
  snprintf (buf, len, "has a corrupt superblock (%s)", why);
  return buf;
}

/* What assembly learnt of each member it was given. */
struct found {
  struct raid_sb sb;
  enum raid_sb_state state;
  char why[RAID_SB_WHY];      /* RAID_SB_CORRUPT: what is wrong */
  int use;
  unsigned slot;              /* the slot it takes, when USE: its recorded role (a grow's
                               * new member that missed the update still says spare) */
  int stale;                  /* left out of its own slot for missed updates */
  int failed;                 /* ... as the admin failed it: force takes it last */
};

/* The array these members belong to: the uuid most of them carry, ties
 * broken by the highest events.  Returns the index of its freshest member. */
static int
pick_array (struct found *f, size_t n)
{
  int best = -1;
  unsigned best_votes = 0;

  for (size_t i = 0; i < n; i++) {
    unsigned votes = 0;
    int fresh = i;
    if (f[i].state != RAID_SB_OK)
      continue;
    for (size_t j = 0; j < n; j++)
      if (f[j].state == RAID_SB_OK && !memcmp (f[j].sb.array_uuid, f[i].sb.array_uuid, 16)) {
        votes++;
        if (f[j].sb.events > f[fresh].sb.events)
          fresh = j;
      }
    if (votes > best_votes
        || (votes == best_votes && f[fresh].sb.events > f[best].sb.events)) {
      best = fresh;
      best_votes = votes;
    }
  }
  return best;
}

static int
same_geometry (const struct raid_sb *x, const struct raid_sb *y)
{
  return x->level == y->level && x->layout == y->layout && x->chunk == y->chunk
    && x->raid_disks == y->raid_disks && x->k == y->k && x->m == y->m
    && x->data_size == y->data_size && x->data_offset == y->data_offset
    && x->features == y->features
    && (!(x->features & RAID_FEATURE_RESHAPE)
        || (x->prev_level == y->prev_level && x->prev_layout == y->prev_layout
            && x->prev_k == y->prev_k && x->prev_m == y->prev_m
            && x->delta_disks == y->delta_disks
            && x->prev_data_offset == y->prev_data_offset));
}

/* Append a spare (the caller holds sb_lock, or the array is not yet running). */
static void
spare_take (struct raid_array *a, struct raid_member *m, const uint8_t uuid[16])
{
  struct raid_slot *s;

  if (a->nspares == RAID_MAX_SPARES) {
    raid_logf (a, RAID_LOG_WARN, "%s: spare %s left out: the array already has %d spares",
               a->sb.name, m->ops->name (m->member), RAID_MAX_SPARES);
    return;
  }
  s = &a->spare[a->nspares++];
  s->m = *m;
  memcpy (s->uuid, uuid, 16);
  atomic_store (&s->faulty, 0);
}

/* A spare the array records as replacing a slot (md: a replacement) waits in repl.member
 * for replace_resume, unless that record cannot hold: it is then a spare again, which is
 * safe (the old member held the whole slot throughout); only the copy is lost. */
static void
replacement_take (struct raid_array *a, struct raid_member *m, const struct raid_sb *sb)
{
  const struct raid_sb *ref = &a->sb;
  const char *name = m->ops->name (m->member);
  struct raid_slot *r = &a->repl.member;
  const char *again = "it is a spare again: ask the replace again (aoeraid replace)";

  if (ref->replace_slot >= ref->raid_disks || (ref->features & RAID_FEATURE_RESHAPE))
    raid_logf (a, RAID_LOG_WARN, "%s: %s was recorded replacing slot %u, but the array %s; %s",
               ref->name, name, ref->replace_slot, ref->features & RAID_FEATURE_RESHAPE
               ? "is being reshaped" : "has no such slot", again);
  else if (sb->events + 1 < ref->events)
    raid_logf (a, RAID_LOG_WARN, "%s: %s was replacing slot %u but its superblock is stale "
               "(events %llu, array at %llu); %s", ref->name, name, ref->replace_slot,
               (unsigned long long) sb->events, (unsigned long long) ref->events, again);
  else if (r->m.ops)
    raid_logf (a, RAID_LOG_WARN, "%s: %s and %s both claim to replace slot %u; %s is a spare",
               ref->name, slot_name (r), name, ref->replace_slot, name);
  else if (m->ops->size (m->member) < array_member_bytes (a))
    raid_logf (a, RAID_LOG_WARN, "%s: %s was replacing slot %u but is smaller than a member "
               "needs (%llu bytes); %s", ref->name, name, ref->replace_slot,
               (unsigned long long) array_member_bytes (a), again);
  else {
    r->m = *m;
    memcpy (r->uuid, sb->member_uuid, 16);
    atomic_store (&r->faulty, 0);
    atomic_store (&a->repl.slot, (int) ref->replace_slot);
    return;
  }
  spare_take (a, m, sb->member_uuid);
}

/* Decide which members take part; fills err and returns -1 to refuse. */
/* The slot the array records this member in: its own, or, when it missed
 * the last update (md allows one event behind), the one a grow gave it
 * while it was a spare. */
static unsigned
recorded_role (const struct raid_sb *ref, const struct raid_sb *sb)
{
  if (sb->role == RAID_SB_ROLE_SPARE && sb->events + 1 == ref->events)
    for (unsigned j = 0; j < ref->raid_disks; j++)
      if (!memcmp (ref->slot_uuid[j], sb->member_uuid, 16) && ref->roles[j] == RAID_ROLE_ACTIVE)
        return j;
  return sb->role;
}

/* md: a device the admin failed stays out after a reassembly (its role in the fresh
 * superblocks is faulty), until it is re-added.  1 when F is one the freshest superblock
 * REF lists failed (its own, not written since, may still name its slot or a spare's
 * role): logged and left out; force takes it back into its own slot only when the array
 * cannot start otherwise (force_stale). */
static int
admin_failed (struct raid_array *a, const struct raid_sb *ref, struct found *f,
              const char *name)
{
  unsigned role = f->sb.role;

  if (f->state != RAID_SB_OK || memcmp (f->sb.array_uuid, ref->array_uuid, 16)
      || f->sb.events >= ref->events || sb_failed_index (ref, f->sb.member_uuid) < 0)
    return 0;
  raid_logf (a, RAID_LOG_WARN, "%s: %s was failed by the administrator (aoeraid fail); "
             "left out: aoeraid add %s takes it back", ref->name, name, name);
  array_note_left (a, name, f->sb.member_uuid);
  if (role < ref->raid_disks && !memcmp (f->sb.member_uuid, ref->slot_uuid[role], 16))
    f->stale = f->failed = 1;
  return 1;
}

static int
choose_members (struct raid_array *a, struct raid_member *members, struct found *f, size_t n,
                int best, int force, char *err, size_t errlen)
{
  const struct raid_sb *ref = &f[best].sb;
  size_t i;

  for (i = 0; i < n; i++) {
    const char *name = members[i].ops->name (members[i].member);
    const char *why = NULL;
    char text[RAID_SB_WHY + 64];
    struct raid_slot *s;
    unsigned role = recorded_role (ref, &f[i].sb);
    uint64_t size = members[i].ops->size (members[i].member);

    if (f[i].state == RAID_SB_IOERR) {
      /* an unreachable member is a missing one, not a reason to refuse */
      raid_logf (a, RAID_LOG_WARN, "%s: member %s cannot be read; left out", ref->name, name);
      continue;
    }
    /* md: a removed device stays removed.  Its superblock, not written since (it was away
     * when removed, or could not be wiped), may still name its slot or a spare's role. */
    if (f[i].state == RAID_SB_OK && !memcmp (f[i].sb.array_uuid, ref->array_uuid, 16)
        && f[i].sb.events < ref->events && sb_removed_index (ref, f[i].sb.member_uuid) >= 0) {
      raid_logf (a, RAID_LOG_WARN, "%s: member %s was removed by the administrator (events "
                 "%llu, array at %llu); left out: only an explicit add (aoeraid add) takes it "
                 "again", ref->name, name, (unsigned long long) f[i].sb.events,
                 (unsigned long long) ref->events);
      continue;
    }
    if (admin_failed (a, ref, &f[i], name))
      continue;
    if (f[i].state != RAID_SB_OK)
      why = sb_problem_text (f[i].state, f[i].why, text, sizeof text);
    else if (memcmp (f[i].sb.array_uuid, ref->array_uuid, 16))
      why = "belongs to another array (foreign uuid)";
    else if (!same_geometry (&f[i].sb, ref) && f[i].sb.events >= ref->events)
      why = "disagrees with the array's geometry";   /* older: stale, below */
    else if (role != RAID_SB_ROLE_SPARE && memcmp (f[i].sb.member_uuid, ref->slot_uuid[role], 16)
             && f[i].sb.events >= ref->events)
      why = "is not the member the array recorded in its slot";
    else if (role != RAID_SB_ROLE_SPARE && size < sb_member_bytes (ref)) {
      /* a spare too small stays a spare that never takes a slot (spare_fit), warned of */
      snprintf (text, sizeof text, "has %llu bytes, smaller than the array needs (%llu)",
                (unsigned long long) size, (unsigned long long) sb_member_bytes (ref));
      why = text;
    }
    if (why && !force) {
      /* another array's or a damaged superblock: aoeraid can wipe it for a later use */
      int wipe = f[i].state == RAID_SB_CORRUPT
                 || (f[i].state == RAID_SB_OK
                     && memcmp (f[i].sb.array_uuid, ref->array_uuid, 16));
      snprintf (err, errlen, "member %s %s: remove it from the member list, or assemble "
                "with force to leave it out%s", name, why,
                wipe ? " (if its superblock is of no use, 'aoeraid zero-superblock' wipes "
                "it)" : "");
      return -1;
    }
    if (why) {
      raid_logf (a, RAID_LOG_WARN, "%s: member %s %s; left out (force)", ref->name, name, why);
      continue;
    }
    if (role == RAID_SB_ROLE_SPARE) {
      if ((ref->features & RAID_FEATURE_REPLACEMENT)
          && !memcmp (f[i].sb.member_uuid, ref->replace_uuid, 16))
        replacement_take (a, &members[i], &f[i].sb);
      else
        spare_take (a, &members[i], f[i].sb.member_uuid);
      continue;
    }
    /* A former member whose slot another took since (a spare's recovery, a replace):
     * its superblock, not written since it left, still names the slot.  Stale, as md
     * has it; never one event behind trusted in another member's place. */
    if (memcmp (f[i].sb.member_uuid, ref->slot_uuid[role], 16)) {
      raid_logf (a, RAID_LOG_WARN, "%s: member %s left slot %u, which another member holds "
                 "since (events %llu, array at %llu); left out: aoeraid add %s makes it a spare",
                 ref->name, name, role, (unsigned long long) f[i].sb.events,
                 (unsigned long long) ref->events, name);
      array_note_left (a, name, f[i].sb.member_uuid);
      continue;
    }
    /* One event behind is a superblock update cut short by a crash (md's
     * rule too); more is a member that missed state changes. */
    if (f[i].sb.events + 1 < ref->events || (ref->roles[role] != RAID_ROLE_ACTIVE
                                             && ref->roles[role] != RAID_ROLE_RECOVERING)) {
      raid_logf (a, RAID_LOG_WARN, "%s: member %s (slot %u) is stale (events %llu, array at "
                 "%llu); left out: it needs a rebuild (aoeraid add %s re-adds it)", ref->name,
                 name, role, (unsigned long long) f[i].sb.events,
                 (unsigned long long) ref->events, name);
      array_note_left (a, name, f[i].sb.member_uuid);
      f[i].stale = 1;
      continue;
    }
    s = &a->slot[role];
    if (s->m.ops) {
      snprintf (err, errlen, "members %s and %s both claim slot %u: remove the copy",
                slot_name (s), name, role);
      return -1;
    }
    s->m = members[i];
    atomic_store (&s->recovering, ref->roles[role] == RAID_ROLE_RECOVERING);
    f[i].use = 1;
    f[i].slot = role;
  }
  return 0;
}

/* The slot of the freshest member assembled (highest events; the first slot of them on a
 * tie), NULL if none: a member force took back holds an older bitmap, which lacks the
 * bits set since it left. */
static struct raid_slot *
freshest_slot (struct raid_array *a, const struct found *f, size_t n)
{
  struct raid_slot *best = NULL;
  uint64_t events = 0;

  for (size_t i = 0; i < n; i++) {
    struct raid_slot *s = f[i].use ? &a->slot[f[i].slot] : NULL;
    if (!s || atomic_load (&s->recovering))
      continue;
    if (!best || f[i].sb.events > events || (f[i].sb.events == events && s < best)) {
      best = s;
      events = f[i].sb.events;
    }
  }
  return best;
}

/* Whose bitmap block counts: FRESH (every member that took part got each update; spares
 * get none) when it is among the first N slots, else the first active one; NULL if none. */
static struct raid_slot *
bitmap_source (struct raid_array *a, unsigned n, struct raid_slot *fresh)
{
  if (fresh && fresh < a->slot + n)
    return fresh;
  for (unsigned i = 0; i < n; i++)
    if (a->slot[i].m.ops && !atomic_load (&a->slot[i].recovering))
      return &a->slot[i];
  return NULL;
}

/* That member's bitmap block into BLOCK; *FROM is the member, NULL if none.  0, or -EIO. */
static int
bitmap_block_read (struct raid_array *a, unsigned n, struct raid_slot *fresh, uint8_t *block,
                   struct raid_slot **from)
{
  *from = bitmap_source (a, n, fresh);
  return *from && slot_io (*from, RAID_IO_READ, RAID_BITMAP_OFFSET, RAID_BITMAP_SIZE,
                           block) == 0 ? 0 : -EIO;
}

/* Restarted mid-reshape: the bitmap is off until the reshape is done, and
 * comes back with the regions it had, which its old block (the old layout's
 * members still hold it) tells. */
static void
reshape_bitmap_region (struct raid_array *a, struct raid_slot *fresh)
{
  uint8_t *block = aligned_alloc (4096, RAID_BITMAP_SIZE);
  struct raid_slot *from;
  uint32_t shift;

  if (block && bitmap_block_read (a, a->prev.g.n, fresh, block, &from) == 0
      && bitmap_block_shift (block, &shift) == 0)
    a->reshape.bitmap_region = (uint64_t) a->prev.g.chunk << shift;
  free (block);
}

/* The bitmap of the freshest member, FRESH.  One that cannot be read or makes
 * no sense becomes all dirty: a member coming back is then rebuilt in full. */
static int
array_bitmap_read (struct raid_array *a, struct raid_slot *fresh)
{
  uint8_t *block = aligned_alloc (4096, RAID_BITMAP_SIZE);
  struct raid_slot *from;
  int rc;

  if (!block)
    return -1;
  rc = bitmap_block_read (a, a->lay.g.n, fresh, block, &from);
  if (rc == 0)
    rc = bitmap_load (a, block);
  free (block);
  if (rc < 0) {
    raid_logf (a, RAID_LOG_WARN, "%s: the write-intent bitmap on %s %s; all of it counts as "
               "dirty", a->sb.name, from ? slot_name (from) : "(no member)",
               rc == -EIO ? "cannot be read" : "is damaged");
    if (bitmap_create (a, 0) < 0)
      return -1;
    bitmap_set_all (&a->bitmap);
  }
  /* Every member holds the same block again, in this version: the resync
   * after a crash trusts its clean bits. */
  pthread_mutex_lock (&a->bitmap.lock);
  bitmap_store (a, NULL);
  pthread_mutex_unlock (&a->bitmap.lock);
  return 0;
}

/* Does the bitmap of FRESH (the member array_bitmap_read takes it from) show that no write
 * was under way at the crash: a sound block without a bit set?  Read before anything is
 * written (a refused start leaves the members as they were).  0 without a bitmap,
 * mid-reshape (none is kept then: reshape_bitmap_region), or when it cannot be read. */
static int
bitmap_shows_no_write (struct raid_array *a, struct raid_slot *fresh)
{
  return slot_bitmap_clean (bitmap_source (a, a->lay.g.n, fresh), &a->sb, resync_units (a));
}

/* md's --assemble --force: an array that cannot start without members it records failed
 * or that missed updates (a second shelf lost during a recovery, then back) takes back the
 * freshest of them into their own slots, one at a time, until it can start.  When the
 * array failed as they left, what they missed was never acknowledged (only writes in
 * flight then may be torn: the dirty degraded start warns of that). */
static void
force_stale (struct raid_array *a, struct raid_member *members, struct found *f, size_t n,
             int force)
{
  uint8_t missing[RAID_MAX_MEMBERS];

  for (; force;) {
    int pick = -1;
    for (unsigned i = 0; i < a->lay.g.n; i++)
      missing[i] = !a->slot[i].m.ops || atomic_load (&a->slot[i].recovering);
    if (array_survives (a, missing))
      return;
    for (size_t i = 0; i < n; i++)
      if (f[i].stale && !a->slot[f[i].sb.role].m.ops
          && (pick < 0 || raid_force_prefers (f[i].failed, f[i].sb.events, f[pick].failed,
                                              f[pick].sb.events)))
        pick = (int) i;
    if (pick < 0)
      return;
    struct raid_slot *s = &a->slot[f[pick].sb.role];
    s->m = members[pick];
    atomic_store (&s->recovering, 0);
    a->sb.roles[f[pick].sb.role] = RAID_ROLE_ACTIVE;
    sb_failed_drop (&a->sb, f[pick].sb.member_uuid);   /* it serves again */
    f[pick].stale = 0;
    f[pick].use = 1;
    f[pick].slot = f[pick].sb.role;
    raid_logf (a, RAID_LOG_WARN, "%s: member %s (slot %u, events %llu)%s taken back (force): "
               "the array cannot start without it", a->sb.name, slot_name (s),
               f[pick].sb.role, (unsigned long long) f[pick].sb.events, f[pick].failed
               ? ", failed by the administrator," : "");
  }
}

/* What the members found (F, N of them; the freshest's record in a->sb) hold: what a
 * restart goes by until this start's superblocks reach them (a read-only one writes none). */
static void
on_disk_load (struct raid_array *a, const struct found *f, size_t n)
{
  a->on_disk.events = a->sb.events;
  memcpy (a->on_disk.roles, a->sb.roles, sizeof a->on_disk.roles);
  for (size_t i = 0; i < n; i++)
    if (f[i].use)
      a->slot[f[i].slot].events_on_disk = f[i].sb.events;
}

/* A start refused for want of members, while members it left out as stale are there:
 * say that force takes them back (the refusal said only "missing or stale"). */
static void
stale_hint (struct raid_array *a, struct raid_member *members, struct found *f, size_t n,
            int force, char *err, size_t errlen)
{
  size_t used = strlen (err), named = 0;

  if (force || !a->lay.g.n || !strstr (err, "cannot start"))
    return;
  for (size_t i = 0; i < n && used < errlen; i++)
    if (f[i].stale && !a->slot[f[i].sb.role].m.ops)
      used += snprintf (err + used, errlen - used, "%s%s", named++ ? ", " : "; stale: ",
                        members[i].ops->name (members[i].member));
  if (named && used < errlen)
    snprintf (err + used, errlen - used, " (assemble with force to take %s back, as mdadm "
              "--assemble --force does: %s as %s left)", named > 1 ? "them" : "it",
              named > 1 ? "they serve what they held" : "it serves what it held",
              named > 1 ? "they" : "it");
}

/* The resync after a crash had not ended when the array stopped cleanly: "N% in sync". */
static const char *
crash_resync_text (struct raid_array *a, char *buf, size_t len)
{
  uint64_t units = resync_units (a), at = a->sb.resync_offset;

  snprintf (buf, len, "%.1f%% in sync", units && at <= units ? 100.0 * at / units : 0.0);
  return buf;
}

/* A degraded parity array (DEGRADED names its missing slots) whose parity a crash may
 * have left wrong: dirty, or a resync after a crash that did not end (a clean stop cut
 * it short: md counts recovery_cp short of MaxSector as dirty).  A new array's first
 * resync does not count: writes beyond it reconstruct their parity, so nothing there is
 * torn.  The log makes the stripes of the crash it was writing right again, but not an
 * earlier crash's still waiting for the resync (a full-stripe write whose entry a cache
 * lost): that one is refused too.
 * Neither is when the write-intent bitmap of FRESH (the freshest member, whose bitmap
 * assembly loads) has no bit set.  A write sets its regions' bits on every working member
 * (flushed) before its data goes out, and a member that misses that store is failed, and
 * recorded so (events), before the data does; a bit is cleared only after its region saw
 * no write for a whole pass, with none in flight, every member there and no resync
 * pending, its writes flushed before the clearing store.  So a clean bit means the region
 * is in sync on every member: no stripe of it can be torn, whatever the crash.  Bits of a
 * resync after a crash stay set until it ends; mid-reshape no bitmap is kept (not
 * trusted); a damaged block counts as dirty.  -1 with ERR filled when refused (no force). */
static int
write_hole_refused (struct raid_array *a, struct raid_slot *fresh, int force,
                    const char *degraded, char *err, size_t errlen)
{
  char label[RAID_NAME_MAX + 3], at[48];
  int crash_resync = a->sb.resync_after_crash && a->sb.resync_offset != RAID_RESYNC_DONE;

  /* the rule examine's start command follows too (raid_sb_write_hole) */
  switch (raid_write_hole (a->sb.clean, crash_resync, !!(a->sb.features & RAID_FEATURE_PPL),
                           a->readonly, bitmap_shows_no_write (a, fresh))) {
  case RAID_WRITE_HOLE_NONE:
    return 0;
  case RAID_WRITE_HOLE_PPL:
    raid_logf (a, RAID_LOG_WARN, "%s: dirty and degraded: the partial parity log makes the "
               "parity of the stripes written at the crash again", a->sb.name);
    return 0;
  case RAID_WRITE_HOLE_BITMAP:
    raid_logf (a, RAID_LOG_WARN, "%s: %s, but the write-intent bitmap shows no write under "
               "way at the crash: no stripe can be torn; starting degraded", a->sb.name,
               crash_resync ? "degraded with its resync after a crash unfinished"
               : "dirty and degraded");
    return 0;
  case RAID_WRITE_HOLE_DIRTY:
  case RAID_WRITE_HOLE_CRASH_RESYNC:
    break;
  }
  if (force) {
    raid_logf (a, RAID_LOG_WARN, "%s: starting %s and degraded (force): data in stripes "
               "written at the crash may be wrong", a->sb.name,
               crash_resync ? "with the resync after a crash unfinished" : "dirty");
    return 0;
  }
  if (crash_resync)
    snprintf (err, errlen, "%s %s is degraded (%s) and its resync after a crash did not end "
              "(%s): parity may not match the data in stripes the crash tore (write hole); "
              "bring the member back and let the resync end, or assemble with force "
              "(force=true) to start it anyway", raid_level_name (a->lay.g.level),
              array_quoted (a, label), degraded, crash_resync_text (a, at, sizeof at));
  else
    snprintf (err, errlen, "%s %s is dirty and degraded (%s): parity may not match "
              "the data (write hole); assemble with force to start it anyway",
              raid_level_name (a->lay.g.level), array_quoted (a, label), degraded);
  return -1;
}

/* Too few members, or a dirty degraded parity array (choose_members refused short ones);
 * FRESH: the freshest member (freshest_slot). */
static int
check_startable (struct raid_array *a, struct raid_slot *fresh, int force, char *err,
                 size_t errlen)
{
  uint8_t missing[RAID_MAX_MEMBERS] = { 0 };
  char names[300] = "", label[RAID_NAME_MAX + 3], degraded[400] = "";
  size_t used = 0, dused = 0;
  unsigned i, nmissing = 0;

  for (i = 0; i < a->lay.g.n; i++) {
    struct raid_slot *s = &a->slot[i];
    missing[i] = !s->m.ops || atomic_load (&s->recovering);
    nmissing += missing[i];
    if (!s->m.ops) {
      atomic_store (&s->faulty, 1);
      if (a->sb.roles[i] == RAID_ROLE_ACTIVE || a->sb.roles[i] == RAID_ROLE_RECOVERING)
        a->sb.roles[i] = RAID_ROLE_MISSING;
      if (used < sizeof names)
        used += snprintf (names + used, sizeof names - used, "%sslot %u", used ? ", " : "", i);
    }
    /* the warning names a slot still to rebuild too (a start mid-recovery) */
    if (missing[i] && dused < sizeof degraded)
      dused += snprintf (degraded + dused, sizeof degraded - dused, "%sslot %u %s",
                         dused ? ", " : "", i, s->m.ops ? "recovering" : "missing");
  }
  if (!array_survives (a, missing)) {
    snprintf (err, errlen, "%s %s cannot start: members missing or stale in %s; "
              "find them (or their shelves) and assemble again", raid_level_name (a->lay.g.level),
              array_quoted (a, label), names);
    return -1;
  }
  if (nmissing && a->lay.g.m
      && write_hole_refused (a, fresh, force, degraded, err, errlen) == -1)
    return -1;
  if (nmissing)
    raid_logf (a, RAID_LOG_WARN, "%s: %s running degraded: %s; redundancy is reduced "
               "until the array is rebuilt", a->sb.name, raid_level_name (a->lay.g.level),
               degraded);
  return 0;
}

/* A crash: the partial parity log makes again the parity of the stripes it was writing.
 * Without force, an array that cannot is not started (its members hold what they held). */
static int
assemble_replay (struct raid_array *a, int force, char *err, size_t errlen)
{
  char why[256];

  if (!(a->sb.features & RAID_FEATURE_PPL) || ppl_replay (a, why, sizeof why) == 0)
    return 0;
  if (!force) {
    snprintf (err, errlen, "%s; assemble with force to start without it (parity of stripes "
              "written at the crash may be wrong)", why);
    return -1;
  }
  raid_logf (a, RAID_LOG_WARN, "%s: %s; starting anyway (force)", a->sb.name, why);
  return 0;
}

struct raid_array *
raid_assemble (struct raid_member *members, size_t n, unsigned flags,
               raid_log_fn *log, void *log_opaque, char *err, size_t errlen)
{
  int force = !!(flags & RAID_ASSEMBLE_FORCE);
  struct raid_array *a;
  struct found *f;
  int best, crashed;
  size_t i;

  if (n < 1 || n > RAID_MAX_MEMBERS) {
    snprintf (err, errlen, "assembly needs 1 to %d members, got %zu", RAID_MAX_MEMBERS, n);
    return NULL;
  }
  f = calloc (n, sizeof *f);
  a = array_new (log, log_opaque);
  if (!f || !a) {
    snprintf (err, errlen, "out of memory");
    goto fail;
  }
  a->readonly = !!(flags & RAID_ASSEMBLE_READONLY);   /* before anything could write */
  for (i = 0; i < n; i++)
    f[i].state = read_sb (&members[i], &f[i].sb, f[i].why);
  best = pick_array (f, n);
  if (best < 0) {
    char text[RAID_SB_WHY + 64];
    snprintf (err, errlen, "no member holds a valid aoeraid superblock (member %s %s): %s",
              members[0].ops->name (members[0].member),
              sb_problem_text (f[0].state, f[0].why, text, sizeof text),
              f[0].state == RAID_SB_NONE ? "create the array first"
              : "examine the members (aoeraid examine); do not create over them");
    goto fail;
  }
  a->sb = f[best].sb;
  if (choose_members (a, members, f, n, best, force, err, errlen) == -1
      || array_setup (a, err, errlen) == -1
      || (force_stale (a, members, f, n, force),
          check_startable (a, freshest_slot (a, f, n), force, err, errlen) == -1)) {
    stale_hint (a, members, f, n, force, err, errlen);
    goto fail;
  }
  for (i = 0; i < a->lay.g.n; i++)
    memcpy (a->slot[i].uuid, a->sb.slot_uuid[i], 16);
  on_disk_load (a, f, n);
  writemostly_load (a);
  if (a->sb.bitmap_offset && atomic_load (&a->reshape.active))
    reshape_bitmap_region (a, freshest_slot (a, f, n));
  else if (a->sb.bitmap_offset && array_bitmap_read (a, freshest_slot (a, f, n)) < 0) {
    snprintf (err, errlen, "out of memory");
    goto fail;
  }
  /* A crash left parity unproven where writes were under way: resync from
   * the start, over the bitmap's dirty regions only (all without a bitmap). */
  atomic_store (&a->resync_offset, a->sb.clean ? a->sb.resync_offset : 0);
  atomic_store (&a->recovery_offset, a->sb.recovery_offset);
  /* a re-add's recovery resumes from the bitmap: no bit clears while degraded */
  atomic_store (&a->recovery_bitmap, (a->sb.features & RAID_FEATURE_RECOVERY_BITMAP)
                && a->bitmap.nbits);
  crashed = !a->sb.clean;
  /* told from a new array's first resync: a degraded start before this one ends wants
   * force (check_startable), written with this start's superblocks */
  if (crashed && (a->lay.g.m || a->lay.g.copies > 1))
    a->sb.resync_after_crash = 1;
  a->sb.clean = a->readonly && a->sb.clean;
  replace_resume (a, crashed);
  if (crashed && !a->readonly && assemble_replay (a, force, err, errlen) == -1)
    goto fail;
  pthread_mutex_lock (&a->sb_lock);
  if (a->sb.features & RAID_FEATURE_PPL)
    ppl_new_generation (a);     /* this run's entries only: none written yet */
  sb_write_all (a);
  sb_unlock (a);
  /* the slots that have a member: the shelves given may be more (stale ones, left out) */
  n = 0;
  for (i = 0; i < a->lay.g.n; i++)
    n += a->slot[i].m.ops && !atomic_load (&a->slot[i].faulty);
  raid_logf (a, RAID_LOG_INFO, "%s: assembled %s from %zu of %u members, events %llu%s",
             a->sb.name, raid_level_name (a->lay.g.level), n, a->lay.g.n,
             (unsigned long long) a->sb.events, a->readonly ? ", read-only" : "");
  spares_warn_small (a);
  free (f);
  return a;

fail:
  free (f);
  if (a)
    array_free (a);
  return NULL;
}

unsigned
raid_closing (struct raid_array *a)
{
  atomic_store (&a->closing, 1);
  atomic_store (&a->resync_stop, 1);    /* runs stop as at raid_resync_cancel */
  /* pace.c's count, which every request keeps anyway */
  return (unsigned) (atomic_load (&a->fg_begun) - atomic_load (&a->fg_ended));
}

/* Closing (raid_closing): the slots missing for the array's own reasons (no member,
 * faulty, recovering).  A member whose shelf went down but was not failed missed no
 * write (close_cut says when it did): it counts as there, one event behind. */
static void
closing_missing (struct raid_array *a, uint8_t missing[RAID_MAX_MEMBERS])
{
  for (unsigned i = 0; i < RAID_MAX_MEMBERS; i++)
    missing[i] = i < a->lay.g.n && (!a->slot[i].m.ops || atomic_load (&a->slot[i].faulty)
                                    || atomic_load (&a->slot[i].recovering));
}

/* Closing with a write (or a superblock) cut short on a member: the superblocks stay as
 * a crash leaves them, dirty, the bitmap's bits (or the log) naming what the next start
 * makes consistent, no member more than one event behind. */
static void
close_as_after_crash (struct raid_array *a)
{
  const char *mend = a->lay.g.m == 0 && a->lay.g.copies == 1
    ? "no redundancy to make consistent: the blocks of the writes that failed hold old or new data"
    : ppl_active (a, &a->lay) ? "the next start replays the log"
    : a->bitmap.nbits ? "the next start resyncs what the bitmap names"
    : "the next start resyncs the whole array";

  raid_logf (a, RAID_LOG_WARN, "%s: closing with a write cut short on a member: the array "
             "is left dirty, as after a crash (%s); no member marked failed", a->sb.name, mend);
  flush_members (a);            /* what was acknowledged is durable where it can be */
  array_free (a);
}

void
raid_close (struct raid_array *a)
{
  uint8_t missing[RAID_MAX_MEMBERS];
  int closing;

  if (!a)
    return;
  closing = array_closing (a);
  /* closing: a held member with a volatile cache misses the flush the clean mark rests
   * on (sb_queue leaves it out), and its cache may hold acknowledged writes whose parity
   * went out to the others: its flush, failing, fails nobody but notes the cut */
  if (closing)
    flush_cached_members (a, &a->poll_gate);
  if (closing && atomic_load (&a->close_cut)) {
    close_as_after_crash (a);
    return;
  }
  /* closing: a recorded position is what a crash leaves, and one more superblock could
   * put a member that misses it two events behind */
  if (atomic_load (&a->reshape.active) && !closing)
    reshape_record (a, atomic_load (&a->reshape.pos));
  if (closing)
    closing_missing (a, missing);
  else
    array_missing (a, missing);
  pthread_mutex_lock (&a->sb_lock);
  /* No I/O is in flight: every acknowledged write is on all its members. */
  a->sb.clean = array_survives (a, missing);
  sb_write_all (a);
  sb_unlock (a);
  array_free (a);
}

uint64_t raid_size (struct raid_array *a) { return a->size; }
uint32_t raid_chunk_bytes (struct raid_array *a) { return a->lay.g.chunk; }

uint32_t
raid_stripe_bytes (struct raid_array *a)
{
  if (a->lay.g.family == RAID_FAMILY_PARITY)
    return a->lay.g.k * a->lay.g.chunk;
  return a->lay.g.n % a->lay.g.copies ? a->lay.g.chunk : (a->lay.g.n / a->lay.g.copies) * a->lay.g.chunk;
}

/* raid_status never waits for member I/O: a superblock write holds sb_lock, and a bitmap
 * write the bitmap's lock, for as long as a silent shelf takes to answer (a whole dead
 * time), exactly when an admin asks `aoeraid status`.  Here a member's hook holds such a
 * write until the test lets it go, and raid_status is asked meanwhile. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "raid-int.h"

#define CHUNK 4096u
#define DATA (1024u * 1024)                    /* member data bytes */
#define MEMBER (RAID_DATA_OFFSET + DATA)
#define REGION (64u * 1024)                    /* bitmap region: 16 bits */
#define STATUS_BOUND_S 20                      /* only a hang reaches it */

/* Holds the first write at OFFSET a member is sent, once armed, until released. */
struct gate {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  uint64_t offset;
  int armed, held, released;
};

static void
gate_hook (void *opaque, enum raid_io_op op, uint64_t offset, uint32_t len)
{
  struct gate *g = opaque;

  (void) len;
  pthread_mutex_lock (&g->lock);
  if (g->armed && op == RAID_IO_WRITE && offset == g->offset) {
    g->armed = 0;
    g->held = 1;
    pthread_cond_broadcast (&g->cond);
    while (!g->released)
      pthread_cond_wait (&g->cond, &g->lock);
  }
  pthread_mutex_unlock (&g->lock);
}

static void
gate_init (struct gate *g, uint64_t offset)
{
  memset (g, 0, sizeof *g);
  pthread_mutex_init (&g->lock, NULL);
  pthread_cond_init (&g->cond, NULL);
  g->offset = offset;
  g->armed = 1;
}

static void
gate_wait_held (struct gate *g)
{
  pthread_mutex_lock (&g->lock);
  while (!g->held)
    pthread_cond_wait (&g->cond, &g->lock);
  pthread_mutex_unlock (&g->lock);
}

static void
gate_release (struct gate *g)
{
  pthread_mutex_lock (&g->lock);
  g->released = 1;
  pthread_cond_broadcast (&g->cond);
  pthread_mutex_unlock (&g->lock);
}

/* raid_status from a thread of its own, so that a status that waits is told, not hung. */
struct asker {
  struct raid_array *a;
  struct raid_status st;
  int rc, done;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  pthread_t thread;
};

static void *
asker_main (void *opaque)
{
  struct asker *k = opaque;
  struct raid_status st;
  int rc = raid_status (k->a, &st);

  pthread_mutex_lock (&k->lock);
  k->st = st;
  k->rc = rc;
  k->done = 1;
  pthread_cond_broadcast (&k->cond);
  pthread_mutex_unlock (&k->lock);
  return NULL;
}

/* Ask a status; 1 when it came back before STATUS_BOUND_S (a hang's bound, no timing). */
static int
ask_status (struct asker *k, struct raid_array *a)
{
  struct timespec until;
  int done;

  memset (k, 0, sizeof *k);
  k->a = a;
  pthread_mutex_init (&k->lock, NULL);
  pthread_cond_init (&k->cond, NULL);
  cr_assert_eq (pthread_create (&k->thread, NULL, asker_main, k), 0);
  clock_gettime (CLOCK_REALTIME, &until);
  until.tv_sec += STATUS_BOUND_S;
  pthread_mutex_lock (&k->lock);
  while (!k->done && pthread_cond_timedwait (&k->cond, &k->lock, &until) != ETIMEDOUT)
    ;
  done = k->done;
  pthread_mutex_unlock (&k->lock);
  return done;
}

/* RAID1 of 3 on e1.1 ... with a bitmap, written whole, every bit clean again. */
static void
rig (struct fx *f, uint8_t **ref)
{
  struct raid_params p = { .level = RAID_LEVEL_1, .chunk_bytes = CHUNK, .name = "vol",
                           .flags = RAID_CREATE_ASSUME_CLEAN, .bitmap_region = REGION };
  char err[256] = "";
  uint64_t seed = 7;

  fx_members (f, 3, MEMBER);
  f->a = raid_create (&p, f->mem, 3, fx_log, f, err, sizeof err);
  cr_assert_not_null (f->a, "raid_create: %s", err);
  *ref = fx_fill (f->a, &seed);
  bitmap_pass (f->a);
  bitmap_pass (f->a);
}

struct failer { struct raid_array *a; int rc; char err[256]; };

static void *
failer_main (void *opaque)
{
  struct failer *fl = opaque;

  fl->rc = raid_fail_member (fl->a, "e1.1", fl->err, sizeof fl->err);
  return NULL;
}

/* e3.1 holds the superblock write that records e1.1 failed, sb_lock held meanwhile: the
 * status answers, and already tells the change the members are taking. */
Test (status, answers_while_a_superblock_write_waits)
{
  struct fx f;
  struct gate g;
  struct asker k;
  struct failer fl = { 0 };
  struct raid_status before;
  pthread_t t;
  uint8_t *ref;

  rig (&f, &ref);
  cr_assert_eq (raid_status (f.a, &before), 0);
  gate_init (&g, RAID_SB_OFFSET);
  raid_mem_member_hook (f.mm[2], gate_hook, &g);
  fl.a = f.a;
  cr_assert_eq (pthread_create (&t, NULL, failer_main, &fl), 0);
  gate_wait_held (&g);
  int answered = ask_status (&k, f.a);
  gate_release (&g);
  pthread_join (k.thread, NULL);
  pthread_join (t, NULL);
  cr_assert (answered, "raid_status waited for a superblock write held by e3.1");
  cr_assert_eq (k.rc, 0);
  cr_assert_eq (k.st.state, RAID_STATE_DEGRADED);
  cr_assert_eq (k.st.member[0].role, RAID_ROLE_FAULTY);
  cr_assert (k.st.member[0].failed);
  cr_assert_gt (k.st.events, before.events, "the status shows the events of the write under "
                "way (%llu), not those before it (%llu)", (unsigned long long) k.st.events,
                (unsigned long long) before.events);
  cr_assert_str_eq (k.st.member[1].name, "e2.1");
  cr_assert_eq (fl.rc, 0, "raid_fail_member: %s", fl.err);
  raid_mem_member_hook (f.mm[2], NULL, NULL);
  free (ref);
  fx_close (&f);
  fx_free (&f);
}

struct writer { struct raid_array *a; const uint8_t *buf; int rc; };

static void *
writer_main (void *opaque)
{
  struct writer *w = opaque;

  w->rc = raid_write (w->a, w->buf, CHUNK, 0, 0);
  return NULL;
}

/* e2.1 holds the bitmap block a write sets a bit in, the bitmap's lock held meanwhile:
 * the status answers, its dirty count as last counted. */
Test (status, answers_while_a_bitmap_write_waits)
{
  struct fx f;
  struct gate g;
  struct asker k;
  struct writer w = { 0 };
  pthread_t t;
  uint8_t *ref;

  rig (&f, &ref);
  gate_init (&g, RAID_BITMAP_OFFSET);
  raid_mem_member_hook (f.mm[1], gate_hook, &g);
  w.a = f.a;
  w.buf = ref;
  cr_assert_eq (pthread_create (&t, NULL, writer_main, &w), 0);
  gate_wait_held (&g);
  int answered = ask_status (&k, f.a);
  gate_release (&g);
  pthread_join (k.thread, NULL);
  pthread_join (t, NULL);
  cr_assert (answered, "raid_status waited for a bitmap write held by e2.1");
  cr_assert_eq (k.rc, 0);
  cr_assert_eq (k.st.state, RAID_STATE_CLEAN);
  cr_assert_eq (k.st.bitmap_bits, 16);
  cr_assert_eq (w.rc, 0);
  raid_mem_member_hook (f.mm[1], NULL, NULL);
  free (ref);
  fx_close (&f);
  fx_free (&f);
}

/* The log line a thread is held in, until the test lets it go. */
static struct gate log_gate;

static void
gated_log (void *opaque, int level, const char *msg)
{
  pthread_mutex_lock (&log_gate.lock);
  if (log_gate.armed && strstr (msg, "takes slot")) {
    log_gate.armed = 0;
    log_gate.held = 1;
    pthread_cond_broadcast (&log_gate.cond);
    while (!log_gate.released)
      pthread_cond_wait (&log_gate.cond, &log_gate.lock);
  }
  pthread_mutex_unlock (&log_gate.lock);
  fx_log (opaque, level, msg);
}

static void *
recover_main (void *opaque)
{
  raid_recover (opaque);
  return NULL;
}

/* A spare takes the failed e1.1's slot: the slot has its new member, the spare list lost
 * it, and the superblocks are not written yet (its line is logged first, here held).  A
 * status then shows the slot as it was (e1.1 faulty, e4.1 a spare) or as it is (e4.1
 * recovering), never e1.1 recovering: the member last published with the slot's new
 * flags, a pairing that never was, which auto-readd and the monitor act on. */
Test (status, spare_taking_a_slot_is_never_shown_half_done)
{
  struct raid_params p = { .level = RAID_LEVEL_1, .chunk_bytes = CHUNK, .name = "vol",
                           .flags = RAID_CREATE_ASSUME_CLEAN };
  struct fx f;
  struct asker k;
  char err[256] = "";
  pthread_t t;

  fx_members (&f, 4, MEMBER);
  gate_init (&log_gate, 0);
  log_gate.armed = 0;
  f.a = raid_create (&p, f.mem, 3, gated_log, &f, err, sizeof err);
  cr_assert_not_null (f.a, "raid_create: %s", err);
  cr_assert_eq (raid_add_member (f.a, &f.mem[3], err, sizeof err), 0, "add: %s", err);
  cr_assert_eq (raid_fail_member (f.a, "e1.1", err, sizeof err), 0, "fail: %s", err);
  pthread_mutex_lock (&log_gate.lock);
  log_gate.armed = 1;
  pthread_mutex_unlock (&log_gate.lock);
  cr_assert_eq (pthread_create (&t, NULL, recover_main, f.a), 0);
  gate_wait_held (&log_gate);
  int answered = ask_status (&k, f.a);
  gate_release (&log_gate);
  pthread_join (k.thread, NULL);
  pthread_join (t, NULL);
  cr_assert (answered);
  cr_assert_eq (k.rc, 0);
  const struct raid_member_status *m0 = &k.st.member[0];
  if (!strcmp (m0->name, "e1.1"))
    cr_assert_eq (m0->role, RAID_ROLE_FAULTY, "e1.1, failed, shown %s in its slot a spare "
                  "took", m0->role == RAID_ROLE_RECOVERING ? "recovering" : "working");
  else
    cr_assert (!strcmp (m0->name, "e4.1") && m0->role == RAID_ROLE_RECOVERING,
               "slot 0 shows %s (role %d)", m0->name, m0->role);
  for (unsigned i = 0; i < k.st.spares; i++)
    cr_assert (strcmp (k.st.spare[i], m0->name), "%s shown in slot 0 and as a spare",
               m0->name);
  fx_close (&f);
  fx_free (&f);
}

/* nbdkit-aoeraid-plugin: pools AoE shelves into one RAID volume and serves it over NBD.
 *   nbdkit aoeraid shelves=e1.1,e2.1 level=1
 * This file only wires aoe/ (the initiator) and raid/ (the engine) to nbdkit. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "aoe.h"
#include "raid.h"
#include "alert.h"
#include "aoe-member.h"
#include "assemble.h"
#include "control.h"
#include "deadline.h"
#include "fence.h"
#include "log.h"
#include "monitor.h"
#include "nbdkit-args.h"
#include "params.h"
#include "readd.h"
#include "reply.h"
#include "scan.h"
#include "status.h"
#include "stopping.h"
#include "unaligned.h"

/* -D aoeraid.io=1: one debug line per NBD request. */
NBDKIT_DLL_PUBLIC int aoeraid_debug_io = 0;
/* -D aoeraid.aoe=1: the initiator's own debug messages (discovery, paths, retransmits). */
NBDKIT_DLL_PUBLIC int aoeraid_debug_aoe = 0;
/* -D aoeraid.frames=1: one debug line per AoE frame sent and per reply matched. */
NBDKIT_DLL_PUBLIC int aoeraid_debug_frames = 0;
/* -D aoeraid.alert_wait_ms=N: how long the alert program may run before it is killed
 * (default a minute; tests shorten it). */
NBDKIT_DLL_PUBLIC int aoeraid_debug_alert_wait_ms = 60000;

/* Every shelf the plugin may use: shelves=, then spares=, then hot-added ones. */
#define MAX_ALL (MAX_SHELVES + 2 * RAID_MAX_SPARES)

/* The plugin's state: one array per nbdkit process.  targets[i] is the shelf at
 * addrs[i] (NULL if it did not answer); members[] wrap the found ones: those of
 * shelves= first (n_members), then those of spares= (n_spare_members), then hot-added
 * ones; all stay open until cleanup. */
static struct params params;
static struct aoe_initiator *initiator;
static struct shelf_addr addrs[MAX_ALL];
static struct aoe_target *targets[MAX_ALL];
static size_t n_addrs;
static struct raid_member members[MAX_ALL];
static size_t n_members, n_spare_members, n_all_members;
static pthread_mutex_t add_lock = PTHREAD_MUTEX_INITIALIZER;   /* serialises hot-adds */
/* Serialises the control requests but status, each in its client's thread: a command
 * runs alone, as when one thread served them all, while status answers beside it. */
static pthread_mutex_t command_lock = PTHREAD_MUTEX_INITIALIZER;
/* sync-speed-min was given (at start, or by a speed request since): a max below it is
 * refused; the default min gives way to a lower max.  Under command_lock. */
static bool speed_min_given;
/* How many times aoe saw each shelf of addrs[] come up, when last looked at (0: never
 * seen): a count that grew is a shelf that came back, however short its absence. */
static uint64_t ups_seen[MAX_ALL];
/* A return auto-readd found its array did not need (the member served on in its slot)
 * stays pending this long, from when it was first seen: a write the shelf missed as it
 * went down may fail the member only after it is back, once the write's other halves
 * are answered (they waited on shelves held in a switch outage).  Then it is re-added. */
#define RETURN_PENDING_MS 30000
static bool return_pending[MAX_ALL];
static struct timespec return_seen[MAX_ALL];
/* Shelves of addrs[] the admin failed or removed: auto-readd leaves them out, and only
 * "add" brings one back.  The array's superblocks list both, so a start holds them out
 * again (release_removed). */
static bool held_out[MAX_ALL];
/* ... and of those, the ones the admin removed (the array's superblocks list them too):
 * their return is logged, with how to use them again. */
static bool removed_out[MAX_ALL];
/* ... and the ones the admin removed that the superblocks cannot list: a shelf the array
 * let go of whose uuid raid/ kept no record of (another array's, blank, or out of its
 * list of members that left).  Only this server knows: a second remove says so. */
static bool removed_unlisted[MAX_ALL];
static struct raid_array *array;
static struct control *control;
/* The array the initiator asks about a silent shelf (shelf_may_go_down): set once it
 * runs, cleared before it closes, under hold_lock, which guards nothing else and is taken
 * inside the initiator's lock (its loop thread asks): nothing holding it calls aoe/. */
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static struct raid_array *hold_array;

/* Errors go through nbdkit_error; warnings and notices (an array created, a member
 * stale) must reach the admin without -v, so they go to stderr like nbdkit's own. */
static void log_line(const char *module, int is_error, int is_warning, int is_debug,
                     const char *msg)
{
  if (is_error)
    nbdkit_error("%s%s", module, msg);
  else if (is_debug)
    nbdkit_debug("%s%s", module, msg);
  else if (is_warning)
    log_warning("%s%s", module, msg);
  else
    log_notice("%s%s", module, msg);
}

static void aoe_log(void *opaque, int level, const char *msg)
{
  if (level == AOE_LOG_DEBUG && !aoeraid_debug_aoe && !aoeraid_debug_frames)
    return;
  log_line("aoe: ", level == AOE_LOG_ERROR, level == AOE_LOG_WARN, level == AOE_LOG_DEBUG,
           msg);
}

/* Is member M's shelf T, the one asked about? */
static int member_shelf_is(void *opaque, const struct raid_member *m)
{
  return aoe_member_wraps(m, opaque);
}

/* aoe_options.may_down: the initiator asks, on its loop thread under its lock, whether the
 * silent shelf T may be declared down.  Not when the array serves now and would not
 * without it, counting the members already missing (failed, absent, their shelf down):
 * the whole switch may have gone away, and T waits up to hold-time for it.  A shelf
 * already held is not missing (its I/O waits): the next silent one is judged with it in.
 * Not a member (a spare, another array's), or the array does not serve anyway: it may.
 * Reads member state without a lock (raid_survives_without): a superblock write holding
 * raid/'s locks may wait on a held shelf. */
static int shelf_may_go_down(void *opaque, struct aoe_target *t)
{
  int may = 1;

  pthread_mutex_lock(&hold_lock);
  if (hold_array && raid_survives_without(hold_array, NULL, NULL))
    may = raid_survives_without(hold_array, member_shelf_is, t);
  pthread_mutex_unlock(&hold_lock);
  return may;
}

/* aoe_options.may_resume: the held shelf T answers again with the serial and size it had,
 * which vblade's serial ("SHELF.SLOT:HOST") shows of the address, not of the disk.  Its
 * superblock (BLOCK, LEN bytes) must carry the member uuid of the slot it holds; any
 * other disk (another member's, swapped in during the outage; another array's; blank) gets
 * none of the held I/O.  Reads the slot without sb_lock (raid_slot_member_uuid): a
 * superblock write holding it may wait on this held shelf.  A shelf no slot holds: no
 * proof asked. */
static int shelf_proves_its_disk(void *opaque, struct aoe_target *t, const uint8_t *block,
                                 size_t len)
{
  uint8_t expected[16], found[16];
  int same = 1;

  (void)opaque;
  pthread_mutex_lock(&hold_lock);
  if (hold_array && raid_slot_member_uuid(hold_array, member_shelf_is, t, expected))
    same = raid_sb_member_uuid(block, len, found) && !memcmp(found, expected, 16);
  pthread_mutex_unlock(&hold_lock);
  return same;
}

/* The shelves of addrs[] held now, "e2.1, e3.1" in NAMES; how many.  For the stop
 * watch (stopping.c), every 200 ms and during a hold: no lock (add_lock may be held by an
 * add whose superblock write waits on the held shelf); a shelf hot-added meanwhile may be
 * missed, and a target once in targets[] stays valid until aoe_close. */
static size_t held_shelves(char *names, size_t len)
{
  size_t held = 0, used = 0;
  char name[24];

  names[0] = '\0';
  for (size_t i = 0; i < n_addrs; i++) {
    struct aoe_target *t = targets[i];
    if (!t || !aoe_target_held(t))
      continue;
    aoe_target_name(t, name, sizeof name);
    if (used < len)
      used += snprintf(names + used, len - used, "%s%s", held ? ", " : "", name);
    held++;
  }
  return held;
}

static void hold_set(struct raid_array *a)
{
  pthread_mutex_lock(&hold_lock);
  hold_array = a;
  pthread_mutex_unlock(&hold_lock);
}

static void raid_log(void *opaque, int level, const char *msg)
{
  log_line("", level == RAID_LOG_ERROR, level == RAID_LOG_WARN, level == RAID_LOG_DEBUG, msg);
}

static void aoeraid_load(void)
{
  params_init(&params);
}

static int aoeraid_config(const char *key, const char *value)
{
  return params_set(&params, key, value);
}

/* The shelves to use: those of shelves=, then spares= (listed, or found by a scan). */
static void set_addrs(void)
{
  memcpy(addrs, params.shelves, params.n_shelves * sizeof *addrs);
  memcpy(addrs + params.n_shelves, params.spares, params.n_spares * sizeof *addrs);
  n_addrs = params.n_shelves + params.n_spares;
}

/* nbdkit -r serves read-only but tells a plugin so only per connection (.open), after
 * assembly has written superblocks and started recoveries: read off nbdkit's command
 * line, it makes the plugin write nothing, as readonly=true (md's --readonly) does. */
static void readonly_from_nbdkit(void)
{
  const char *by;
  char err[128];

  if (nbdkit_cmdline_readonly(&by, err, sizeof err) < 0) {
    log_warning("%s: cannot tell whether nbdkit -r was given; give readonly=true too for "
                "nothing to be written to any shelf", err);
    return;
  }
  if (!by)
    return;
  params.readonly = true;
  params.readonly_by = by;
  log_notice("%s: the array is assembled read-only, as with readonly=true: nothing is "
             "written to any shelf", by);
}

static int aoeraid_config_complete(void)
{
  readonly_from_nbdkit();
  if (params_complete(&params) < 0)
    return -1;
  set_addrs();          /* a scan sets them again once it found the shelves */
  return 0;
}

/* How many times the shelf came up (aoe counts each start of an up spell); 0 if unknown. */
static uint64_t shelf_ups(struct aoe_target *t)
{
  struct aoe_stats st;

  return t && aoe_target_stats(t, &st) == 0 ? st.up_events : 0;
}

/* Why shelf A is not there when it answered Query Config but not IDENTIFY (its disk spins
 * up, or is busy): a line in MSG and true; false when it did not answer at all. */
static bool identify_unanswered(const struct shelf_addr *a, char *msg, size_t len)
{
  unsigned ms = aoe_identify_unanswered_ms(initiator, a->shelf, a->slot);
  char name[24];

  if (!ms)
    return false;
  snprintf(name, sizeof name, "e%u.%u", a->shelf, a->slot);
  identify_unanswered_line(msg, len, name, 1, ms, params.dead_time_ms);
  return true;
}

/* Are all the listed shelves found (targets[])?  For discover_shelves' rounds: once they
 * are, another shelf's slow IDENTIFY is waited for a second at most, not the dead time. */
static int all_found(void *unused)
{
  size_t found = 0;

  (void)unused;
  for (size_t i = 0; i < n_addrs; i++) {
    targets[i] = aoe_target_find(initiator, addrs[i].shelf, addrs[i].slot);
    found += targets[i] != NULL;
  }
  return found == n_addrs;
}

/* Wait until every listed shelf has answered discovery, or the discover time is up (a
 * shelf that answered Query Config is waited for up to the dead time for its IDENTIFY:
 * aoe_discover_until).  A shelf left out for want of IDENTIFY is said so by assembly
 * (assemble.c's missing_line). */
static void discover_shelves(void)
{
  struct timespec start;

  clock_gettime(CLOCK_MONOTONIC, &start);
  /* after a scan every shelf is known already */
  while (!all_found(NULL) && elapsed_ms(&start) < (long)params.discover_ms)
    aoe_discover_until(initiator, 300, all_found, NULL);
  for (size_t i = 0; i < n_addrs; i++)
    ups_seen[i] = shelf_ups(targets[i]);
}

/* ERR, aoe's "eS.S is claimed by process N on this host ...", as the line for the user. */
static void claimed_here(const char *err, char *msg, size_t len)
{
  snprintf(msg, len, "%s (another nbdkit aoeraid serving it?): name shelves no other "
           "server on this host holds, or stop that one first", err);
}

static int reserve_one(struct aoe_target *t, char *msg, size_t len)
{
  char err[256], name[24], before[24];
  int r;

  if (!params.takeover || !shelf_holder(t, before, sizeof before))
    before[0] = 0;              /* takeover=true: the head that held it, for the log */
  r = aoe_reserve(t, params.takeover, err, sizeof err);
  aoe_target_name(t, name, sizeof name);
  if (r == 0 && before[0])
    log_notice("%s: reserved with takeover=true; %s held it", name, before);
  if (r == 0)
    return 0;
  if (r == -EBADE)
    snprintf(msg, len, "%s, another head: to take the array over, first make sure that head "
             "is down (powered off, or cut off the SAN), then start with takeover=true; "
             "reserve=false if the shelf is shared on purpose", err);
  else if (r == -EBUSY)
    claimed_here(err, msg, len);
  else
    snprintf(msg, len, "%s: cannot reserve it: %s", name, err);
  return -1;
}

/* Reserve T; with reserve=false, which holds nothing, only check that no server on this
 * host holds it: the shelf refuses another host's commands then, and cannot refuse ours
 * (its reservation names this host's MAC).  0, or -1 with a line in MSG. */
static int claim_one(struct aoe_target *t, char *msg, size_t len)
{
  char err[256];
  int r;

  if (params.reserve)
    return reserve_one(t, msg, len);
  r = aoe_claim_free(t, err, sizeof err);
  if (r == -EBUSY)
    claimed_here(err, msg, len);
  else if (r < 0)
    snprintf(msg, len, "%s", err);
  return r < 0 ? -1 : 0;
}

static int claim_shelves(void)
{
  char msg[512];

  for (size_t i = 0; i < n_addrs; i++)
    if (targets[i] && claim_one(targets[i], msg, sizeof msg) < 0) {
      nbdkit_error("%s", msg);
      return -1;
    }
  return 0;
}

static void release_shelves(void)
{
  if (!params.reserve)
    return;
  for (size_t i = 0; i < n_addrs; i++)
    if (targets[i])
      aoe_release(targets[i]);
}

/* Wrap the found shelves of addrs[from, to) in members[]; the number wrapped or -1. */
static ssize_t make_members(size_t from, size_t to)
{
  size_t made = 0;

  for (size_t i = from; i < to; i++) {
    if (!targets[i])
      continue;
    if (aoe_member_init(&members[n_all_members], targets[i], params.poll) < 0) {
      nbdkit_error("e%u.%u: %m", addrs[i].shelf, addrs[i].slot);
      return -1;
    }
    aoe_member_guard(&members[n_all_members]);  /* assembly reads its superblock next */
    n_all_members++;
    made++;
  }
  return made;
}

static int make_all_members(void)
{
  ssize_t r = make_members(0, params.n_shelves);

  if (r < 0)
    return -1;
  n_members = r;
  r = make_members(params.n_shelves, n_addrs);
  if (r < 0)
    return -1;
  n_spare_members = r;       /* assembly names the listed shelves that did not answer */
  return 0;
}

static void free_members(void)
{
  for (size_t i = 0; i < n_all_members; i++)
    aoe_member_free(&members[i]);
  n_all_members = n_members = n_spare_members = 0;
}

/* Is the shelf at A (a const struct shelf_addr) found and up?  For find_shelf's rounds:
 * once it is, another shelf's slow IDENTIFY is waited for a second at most. */
static int shelf_up(void *a)
{
  const struct shelf_addr *addr = a;
  struct aoe_target *t = aoe_target_find(initiator, addr->shelf, addr->slot);

  return t && aoe_target_up(t);
}

/* The control request "add SHELF.SLOT": find the shelf, claim it, and give it to the
 * array as a spare; the monitor starts a recovery if a slot needs it. */
static struct aoe_target *find_shelf(const struct shelf_addr *a)
{
  struct timespec start;
  struct aoe_target *t;

  /* A shelf this server knew and saw go down answers again only after it is asked. */
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (!shelf_up((void *)a) && elapsed_ms(&start) < (long)params.discover_ms)
    aoe_discover_until(initiator, 300, shelf_up, (void *)a);
  t = aoe_target_find(initiator, a->shelf, a->slot);
  return t && aoe_target_up(t) ? t : NULL;
}

/* The index of a shelf in addrs[], or n_addrs. */
static size_t addr_index(const struct shelf_addr *a)
{
  size_t i;

  for (i = 0; i < n_addrs && (addrs[i].shelf != a->shelf || addrs[i].slot != a->slot); i++)
    ;
  return i;
}

/* The member made for the shelf before (it left and comes back), or -1. */
static ssize_t member_of(const struct aoe_target *t)
{
  for (size_t i = 0; i < n_all_members; i++)
    if (aoe_member_wraps(&members[i], t))
      return i;
  return -1;
}

/* The member for shelf T: the one made for it before, its size read again (so a shelf
 * that comes back and back takes no new room), else a new one in members[].  -1 with
 * errno. */
static ssize_t member_for(struct aoe_target *t)
{
  ssize_t i = member_of(t);

  /* the add reads its superblock and takes it for what that says */
  if (i >= 0) {
    aoe_member_confirm(&members[i]);
    return aoe_member_refresh(&members[i]) < 0 ? -1 : i;
  }
  if (aoe_member_init(&members[n_all_members], t, params.poll) < 0)
    return -1;
  aoe_member_guard(&members[n_all_members]);
  return n_all_members++;
}

static bool array_failed(void)
{
  struct raid_status st;

  return raid_status(array, &st) == 0 && st.state == RAID_STATE_FAILED;
}

/* The error line for shelf A that did not answer; WHAT ends it ("" or "; ..."). */
static void say_unanswered(const struct shelf_addr *a, const char *what, FILE *out)
{
  char msg[256];

  if (identify_unanswered(a, msg, sizeof msg)) {
    fprintf(out, "error: %s%s\n", msg, what);
    return;
  }
  fprintf(out, "error: e%u.%u did not answer within %.1fs: check that the shelf runs "
          "(vblade SHELF SLOT IFACE FILE) and is on this network%s\n", a->shelf, a->slot,
          params.discover_ms / 1000.0, what);
}

/* What the array holds of a shelf: see array_holds_replaced. */
enum holding { HOLDS_NOTHING, HOLDS_WORKING, HOLDS_FAULTY, HOLDS_SPARE, HOLDS_LEFT,
               HOLDS_REPLACING };
static enum holding array_holds(const char *name, bool *missing);

/* A working member or spare M (the shelf A) whose shelf came back with a disk not yet
 * proven the member's (confirm_returned_members does that): an add would take the disk
 * for what its superblock says, so that one is the array's no more than it was. */
static bool unconfirmed_in_use(const struct raid_member *m, const struct shelf_addr *a)
{
  char name[24];
  struct raid_status st;
  bool in_use = false;

  if (!aoe_member_returned(m) || raid_status(array, &st) < 0)
    return false;
  snprintf(name, sizeof name, "e%u.%u", a->shelf, a->slot);
  for (unsigned i = 0; i < st.members; i++)     /* down is shown faulty, not failed */
    in_use |= !strcmp(st.member[i].name, name) && !st.member[i].failed;
  return in_use || array_holds(name, NULL) == HOLDS_SPARE;
}

/* A degraded array whose reshape runs: a spare added now is rebuilt onto once the
 * reshape is done (a rebuild works on one layout). */
static bool reshape_before_recovery(void)
{
  struct raid_status st;

  return raid_status(array, &st) == 0 && st.reshape_position != RAID_RESHAPE_NONE
    && st.state == RAID_STATE_DEGRADED;
}

static int hot_add_locked(const struct shelf_addr *a, bool incremental, FILE *out)
{
  struct aoe_target *t = find_shelf(a);
  size_t known;
  ssize_t m;
  bool held, made;
  char err[512];

  if (!t) {
    say_unanswered(a, "", out);
    return -1;
  }
  known = addr_index(a);
  if ((member_of(t) < 0 && n_all_members == MAX_ALL) ||
      (known == n_addrs && n_addrs == MAX_ALL)) {
    fprintf(out, "error: no room for more shelves in this server (%d)\n", MAX_ALL);
    return -1;
  }
  /* a shelf this server already holds (a member back from the dead) is reserved; one of
   * shelves= that did not answer at the start is not yet */
  held = known < n_addrs && targets[known];
  if (!held && claim_one(t, err, sizeof err) < 0) {
    fprintf(out, "error: %s\n", err);
    return -1;
  }
  made = member_of(t) < 0;
  if (!made && unconfirmed_in_use(&members[member_of(t)], a)) {
    fprintf(out, "error: member e%u.%u is already in the array (back with a disk not yet "
            "proven its own)\n", a->shelf, a->slot);
    return -1;
  }
  m = member_for(t);
  if (m < 0) {
    fprintf(out, "error: e%u.%u: %s\n", a->shelf, a->slot, strerror(errno));
    goto release;
  }
  if (raid_add_member_flags(array, &members[m], incremental ? RAID_ADD_INCREMENTAL : 0, err,
                            sizeof err) < 0) {
    fprintf(out, "error: %s\n", err);
    if (made)
      aoe_member_free(&members[--n_all_members]);
    goto release;
  }
  if (known == n_addrs)
    addrs[n_addrs++] = *a;
  targets[known] = t;
  ups_seen[known] = shelf_ups(t);       /* this add is its re-add */
  return_pending[known] = false;
  held_out[known] = false;
  removed_out[known] = removed_unlisted[known] = false;
  monitor_kick();
  /* raid/'s words: a spare, or the member re-added to its slot from the bitmap */
  fprintf(out, "%s%s\n", err, array_failed() ?
          "; the array has failed: nothing is rebuilt until it starts again (aoeraid "
          "examine says how)" : raid_recovery_pending(array) ? "; recovery starts"
          : reshape_before_recovery() ? "; a reshape runs: the recovery follows it" : "");
  return 0;
release:
  if (!held && params.reserve)
    aoe_release(t);
  return -1;
}

/* The shelf a control request VERB names in ARG; -1 after an error line. */
static int shelf_arg(const char *verb, const char *arg, struct shelf_addr *a, FILE *out)
{
  while (*arg == ' ')
    arg++;
  if (parse_shelf_addr(arg, a) < 0) {
    fprintf(out, "error: %s: '%s' is not a shelf address: write SHELF.SLOT, as in "
            "%s e6.1 (shelf 0 to 65534, slot 0 to 254)\n", verb, arg, verb);
    return -1;
  }
  return 0;
}

static int hot_add(const char *arg, FILE *out)
{
  struct shelf_addr a;
  int r;

  if (shelf_arg("add", arg, &a, out) < 0)
    return -1;
  pthread_mutex_lock(&add_lock);
  r = hot_add_locked(&a, false, out);
  pthread_mutex_unlock(&add_lock);
  return r;
}

/* What the array holds of the shelf NAME: a working member, a faulty one (only), a spare,
 * the new member of a replace (copying OLD's slot: *REPLACED, may be NULL, names OLD), or
 * nothing; *MISSING (may be NULL) says whether some slot has no member at all. */
static enum holding array_holds_replaced(const char *name, bool *missing, char *replaced,
                                         size_t len)
{
  bool spare = false, working = false, faulty = false, none = false, replacing = false;
  struct raid_status st;

  if (raid_status(array, &st) == 0) {
    /* a failed new member takes no more writes: it is held by nothing */
    replacing = st.replace_slot >= 0 && !st.replace_failed && !strcmp(st.replace_name, name);
    if (replacing && replaced)
      snprintf(replaced, len, "%s", st.member[st.replace_slot].name[0]
               ? st.member[st.replace_slot].name : "(missing)");
    for (unsigned i = 0; i < st.spares; i++)
      spare |= !strcmp(st.spare[i], name);
    for (unsigned i = 0; i < st.members; i++) {
      bool its = !strcmp(st.member[i].name, name);
      none |= st.member[i].role == RAID_ROLE_MISSING;
      working |= its && st.member[i].role != RAID_ROLE_FAULTY;
      faulty |= its && st.member[i].role == RAID_ROLE_FAULTY;
    }
  }
  if (missing)
    *missing = none;
  return replacing ? HOLDS_REPLACING : spare ? HOLDS_SPARE : working ? HOLDS_WORKING
    : faulty ? HOLDS_FAULTY : HOLDS_NOTHING;
}

static enum holding array_holds(const char *name, bool *missing)
{
  return array_holds_replaced(name, missing, NULL, 0);
}

/* Is NAME a member in its slot, not failed (shown faulty while its shelf is down or its
 * disk not yet proven its own)?  Back, it serves in that slot again with nothing to
 * rebuild: it missed no write. */
static bool member_down(const char *name)
{
  struct raid_status st;

  if (raid_status(array, &st) < 0)
    return false;
  for (unsigned i = 0; i < st.members; i++)
    if (!strcmp(st.member[i].name, name) && !st.member[i].failed)
      return true;
  return false;
}

/* Does the array lack the shelf NAME: a slot holds it failed, or a slot is missing and
 * NAME is neither a working member nor a spare (whether it fits that slot is for raid/
 * to say)?  A member down, back, takes its slot again by itself: nothing to re-add. */
static bool array_lacks(const char *name)
{
  bool missing;
  enum holding h = array_holds(name, &missing);

  return (h == HOLDS_FAULTY && !member_down(name)) || (h == HOLDS_NOTHING && missing);
}

/* The shelf of addrs[i], or NULL. */
static struct aoe_target *shelf_of(size_t i)
{
  /* a shelf of shelves= that did not answer at the start may answer now */
  return targets[i] ? targets[i] : aoe_target_find(initiator, addrs[i].shelf, addrs[i].slot);
}

/* Did the shelf of addrs[i] come up again since its last return was used (and is it up
 * now)?  Each return is used once (shelf_return_used): a shelf that stays up while its
 * disk fails is never re-added again and again. */
static bool shelf_came_back(size_t i)
{
  struct aoe_target *t = shelf_of(i);

  if (shelf_ups(t) == ups_seen[i])
    return false;
  if (!return_pending[i]) {
    return_pending[i] = true;
    clock_gettime(CLOCK_MONOTONIC, &return_seen[i]);
  }
  return aoe_target_up(t);
}

static void shelf_return_used(size_t i)
{
  ups_seen[i] = shelf_ups(shelf_of(i));
  return_pending[i] = false;
}

/* Re-add the shelf of addrs[i] as the control request "add" does; a refusal is logged
 * with raid/'s one-line reason. */
static void readd_shelf(size_t i)
{
  struct shelf_addr a = addrs[i];
  char why[512] = "", *msg = why;
  FILE *out;
  int r;

  log_notice("e%u.%u is back: re-adding it to the array", a.shelf, a.slot);
  out = fmemopen(why, sizeof why - 1, "w");     /* the last byte stays '\0' */
  if (!out) {
    log_warning("e%u.%u is back but was not re-added: %m", a.shelf, a.slot);
    return;
  }
  r = hot_add_locked(&a, true, out);
  fclose(out);
  if (r == 0)
    return;
  if (!strncmp(msg, "error: ", 7))
    msg += 7;
  msg[strcspn(msg, "\n")] = '\0';
  log_warning("e%u.%u is back but was not re-added: %s", a.shelf, a.slot, msg);
}

/* An array assembled by scan has no list of its shelves: a shelf that answers later
 * (it was down at the start, or rediscovery found it since) and carries the array's
 * uuid is taken in addrs[] as if it had been listed, once per up spell (md's incremental
 * assembly, by udev).  The shelves looked at, with their up count then. */
#define MAX_LOOKED AOE_MAX_TARGETS   /* every shelf the initiator tracks */
static struct { struct aoe_target *t; uint64_t ups; } looked[MAX_LOOKED];
static size_t n_looked;
/* Shelves of addrs[] so taken whose superblock says spare: added as spares, though the
 * array lacks nothing they could fill (md's incremental assembly adds a spare too). */
static bool adopted_spare[MAX_ALL];

/* Was T looked at in this up spell?  If not, it is noted as looked at now. */
static bool looked_at(struct aoe_target *t)
{
  uint64_t ups = shelf_ups(t);
  size_t i;

  for (i = 0; i < n_looked && looked[i].t != t; i++)
    ;
  if (i < n_looked && looked[i].ups == ups)
    return true;
  if (i == n_looked && n_looked == MAX_LOOKED)
    return true;                /* no room to remember it: leave it to aoeraid add */
  looked[i].t = t;
  looked[i].ups = ups;
  n_looked += i == n_looked;
  return false;
}

/* A former member a scan start left out (scan.c): auto-readd adopts it only once it
 * comes back (a new up spell), as it would a shelf down at the start. */
static void scan_left_out(struct aoe_target *t)
{
  looked_at(t);
}

/* How a shelf that carries the array's uuid stands with it. */
struct carried {
  bool spare;           /* one of the array's spares */
  bool removed;         /* the admin removed it (the array's superblocks say so) */
  bool failed;          /* the admin failed it (likewise), not removed since */
};

/* Does the shelf T carry the array's uuid?  Reads its superblock only; *C says how. */
static bool carries_array(struct aoe_target *t, const uint8_t uuid[16], struct carried *c)
{
  struct raid_member m;
  struct raid_sb_summary sb;
  int r;

  if (!t || aoe_member_init(&m, t, false) < 0)
    return false;
  r = raid_examine(&m, &sb);
  aoe_member_free(&m);
  if (r < 0 || sb.state != RAID_SB_OK || memcmp(sb.array_uuid, uuid, 16))
    return false;
  c->spare = sb.role == RAID_SB_ROLE_SPARE;
  c->removed = raid_member_removed(array, &sb);
  c->failed = raid_member_failed(array, &sb);
  return true;
}

/* The admin failed the shelf E.S (the array's superblocks list it, so also before this
 * server started): auto-readd leaves it out, said once. */
static void log_failed_shelf(unsigned shelf, unsigned slot)
{
  log_warning("e%u.%u was failed by the administrator (aoeraid fail); left out: aoeraid add "
              "e%u.%u takes it back", shelf, slot, shelf, slot);
}

/* The admin removed the shelf of addrs[i], back now: it stays out, said once per return,
 * and unreserved (remove could not release it while it was away; a start that listed it
 * reserved it); an add reserves it again. */
static void removed_back(size_t i, const char *name)
{
  struct aoe_target *t = aoe_target_find(initiator, addrs[i].shelf, addrs[i].slot);

  held_out[i] = removed_out[i] = true;
  log_removed_shelf("", addrs[i].shelf, addrs[i].slot, name, params.control);
  if (params.reserve && t)
    aoe_release(t);
  targets[i] = NULL;
}

/* A scan-assembled array: shelves that answer now, unknown so far, carrying its uuid,
 * join addrs[] with no up seen (the look below sees them as come back). */
static void adopt_new_shelves(void)
{
  static struct aoe_target *all[MAX_LOOKED];  /* 32 KiB, off the stack: under add_lock */
  struct raid_status st;
  size_t n;

  if (!params.scan || raid_status(array, &st) < 0)
    return;
  n = aoe_targets(initiator, all, MAX_LOOKED);
  for (size_t i = 0; i < n && n_addrs < MAX_ALL; i++) {
    struct aoe_target_info info;
    if (!aoe_target_up(all[i]) || aoe_target_info(all[i], &info) < 0)
      continue;
    struct shelf_addr a = { info.shelf, info.slot };
    struct carried c;
    if (addr_index(&a) < n_addrs || looked_at(all[i]) || !carries_array(all[i], st.uuid, &c))
      continue;
    if (c.removed || c.failed) {        /* looked at again only in its next up spell */
      if (c.removed)
        log_removed_shelf("", a.shelf, a.slot, st.name, params.control);
      else
        log_failed_shelf(a.shelf, a.slot);
      continue;
    }
    log_notice("e%u.%u answers and carries array '%s': taking it as one of its shelves",
               a.shelf, a.slot, st.name);
    addrs[n_addrs] = a;
    targets[n_addrs] = NULL;
    ups_seen[n_addrs] = 0;
    adopted_spare[n_addrs] = c.spare;
    held_out[n_addrs++] = false;
  }
}

/* The superblock of member M's shelf, read now; 0, or -1 when it cannot be read. */
static int read_returned_sb(const struct raid_member *m, struct raid_sb_summary *sb)
{
  struct raid_member fresh;     /* not guarded: the guarded one refuses every read */
  int r;

  if (aoe_member_init(&fresh, aoe_member_target(m), false) < 0)
    return -1;
  r = raid_examine(&fresh, sb);
  aoe_member_free(&fresh);
  return r < 0 || sb->state == RAID_SB_IOERR ? -1 : 0;
}

static int member_slot(const char *name, char *taker, size_t len);

/* NAME, a member's or spare's shelf back with its own disk: where it serves again. */
static void say_back(const char *name)
{
  char taker[64];
  int slot = member_slot(name, taker, sizeof taker);

  if (slot >= 0)
    log_notice("%s answers again: back in slot %d with its own disk", name, slot);
  else
    log_notice("%s answers again: back as a spare with its own disk", name);
}

/* A member's or spare's shelf that went down and answers again gets no I/O until its
 * superblock says the disk behind the name is still that member's (aoe_member_guard): a
 * disk swapped with another member's, another array's or a blank one put in its place
 * would be read as the member's data and written over.  Confirmed, it serves again;
 * else raid/ fails it, said once.  Every round, with or without auto-readd. */
static void confirm_returned_members(void)
{
  static uint64_t warned_spell[MAX_ALL];        /* add_lock's: said once per return */
  struct raid_sb_summary sb;
  char why[640];

  if (raid_fenced(array) || pthread_mutex_trylock(&add_lock))
    return;
  for (size_t i = 0; i < n_all_members; i++) {
    struct aoe_target *t = aoe_member_target(&members[i]);
    uint64_t spell = aoe_target_up_spells(t);
    if (!aoe_member_returned(&members[i]) || !aoe_target_up(t) || warned_spell[i] == spell ||
        read_returned_sb(&members[i], &sb) < 0 || aoe_target_up_spells(t) != spell)
      continue;                 /* away, said already, or unreadable: next round */
    int r = raid_member_returned(array, members[i].ops->name(members[i].member), &sb, why,
                                 sizeof why);
    if (r == 1) {               /* its own disk */
      aoe_member_confirm(&members[i]);
      say_back(members[i].ops->name(members[i].member));
      continue;
    }
    warned_spell[i] = spell;    /* else it stays held: an add takes it for what it holds */
    if (r == 0)
      log_warning("%s", why);
  }
  pthread_mutex_unlock(&add_lock);
}

/* auto-readd: the look of its own thread (readd.c), every round, also while the monitor
 * runs a long recovery, check or replace.  A member's shelf that went down and came
 * back is re-added once, as md's udev rule re-adds a returning disk (mdadm --incremental);
 * raid/ puts it back in its slot and rebuilds only what its bitmap marks, or in full. */
static void readd_returning_shelves(void)
{
  struct raid_status st;
  char name[24];
  struct carried c;

  if (raid_fenced(array) || pthread_mutex_trylock(&add_lock))
    return;     /* an add is running (it may wait for discovery): look next round */
  adopt_new_shelves();
  for (size_t i = 0; i < n_addrs && !raid_fenced(array); i++) {
    snprintf(name, sizeof name, "e%u.%u", addrs[i].shelf, addrs[i].slot);
    if (!shelf_came_back(i))
      ;
    else if (held_out[i]) {
      shelf_return_used(i);
      if (removed_out[i] && raid_status(array, &st) == 0)
        removed_back(i, st.name);
    }
    else if (array_lacks(name) || adopted_spare[i]) {
      shelf_return_used(i);
      /* one the admin removed or failed before this server started (its superblock, not
       * written since, still names its slot): md's --incremental leaves it out too */
      bool ours = raid_status(array, &st) == 0 &&
        carries_array(aoe_target_find(initiator, addrs[i].shelf, addrs[i].slot), st.uuid, &c);
      if (ours && c.removed)
        removed_back(i, st.name);
      else if (ours && c.failed) {
        held_out[i] = true;
        log_failed_shelf(addrs[i].shelf, addrs[i].slot);
      }
      else
        readd_shelf(i);
    }
    else if (elapsed_ms(&return_seen[i]) >= RETURN_PENDING_MS)
      shelf_return_used(i);     /* it served on: not needed */
    adopted_spare[i] = false;
  }
  pthread_mutex_unlock(&add_lock);
}

/* The look of the thread for returning shelves (readd.c), every round. */
static void look_for_returns(void)
{
  confirm_returned_members();
  if (params.auto_readd)
    readd_returning_shelves();
}

/* The control request "fail SHELF.SLOT" (md's --fail): take a working member out, as if
 * it had failed; a spare takes its slot.  auto-readd leaves the shelf out from then on,
 * after a restart too (the superblocks list it failed), until "add" takes it back. */
/* The slot NAME serves in (-1: none); TAKER gets the new member of a replace of that
 * slot ("" none): failed, the slot goes to it (raid/replace.c). */
static int member_slot(const char *name, char *taker, size_t len)
{
  struct raid_status st;

  snprintf(taker, len, "%s", "");
  if (raid_status(array, &st) == 0)
    for (unsigned j = 0; j < st.members; j++)
      if (!strcmp(st.member[j].name, name)) {
        if (st.replace_slot == (int)j && !st.replace_failed)
          snprintf(taker, len, "%s", st.replace_name);
        return (int)j;
      }
  return -1;
}

/* A spare will rebuild SLOT, just failed: one waits, or the monitor has already put it
 * there (recovering).  (A recovery of another slot running is due too, but takes the
 * spare it had: not one for this slot.) */
static bool spare_waits(int slot)
{
  struct raid_status st;

  return raid_recovery_pending(array) && raid_status(array, &st) == 0
    && (st.spares > 0 || (slot >= 0 && (unsigned)slot < st.members
                          && st.member[slot].role == RAID_ROLE_RECOVERING));
}

/* A reshape runs and a spare waits for it to end before it rebuilds the slot just
 * failed (raid_recovery_pending says no until then). */
static bool spare_after_reshape(void)
{
  struct raid_status st;

  return raid_status(array, &st) == 0 && st.reshape_position != RAID_RESHAPE_NONE
    && st.spares > 0;
}

/* The slot of the replace that waits for a recovery to end (raid_replace stops for it),
 * or -1. */
static int replace_waiting(void)
{
  struct raid_status st;

  return raid_status(array, &st) == 0 && !st.replace_failed ? st.replace_slot : -1;
}

/* What comes of failing NAME (not a replacement) in SLOT: TAKER, the new member of a
 * replace of the slot, takes it over; a recovery, now (before a replace of another
 * slot, which waits) or after a reshape; or nothing until a shelf is added. */
static void fail_answer(const char *name, int slot, const char *taker, FILE *out)
{
  int waiting;

  if (taker[0])
    fprintf(out, "%s marked faulty; %s, which was replacing it, takes slot %d and is "
            "rebuilt from where the copy was\n", name, taker, slot);
  else if (spare_after_reshape())
    fprintf(out, "%s marked faulty; recovery onto a spare starts once the reshape has "
            "finished (a rebuild works on one layout)\n", name);
  else if (spare_waits(slot) && (waiting = replace_waiting()) >= 0)
    fprintf(out, "%s marked faulty; recovery onto a spare starts; the replace of slot %d "
            "waits until it has finished\n", name, waiting);
  else
    fprintf(out, "%s marked faulty; %s\n", name, spare_waits(slot) ?
            "recovery onto a spare starts" : "give the array a shelf to rebuild onto with "
            "aoeraid add");
}

/* The shelf T of NAME is held (silent past its dead time, its I/O waiting because the
 * array could not do without it then): the administrator failing it knows it is gone.
 * Its hold ends first, else this request (raid/'s superblock lock, taken by a write
 * waiting on it) and the clients' writes (their halves on it) would wait out hold-time.
 * Refused while the array still cannot serve without it.  1: its hold ended (its I/O
 * fails, which may fail the member before raid_fail_member does), 0: not held, -1:
 * refused, said on OUT. */
static int end_hold_to_fail(const char *name, struct aoe_target *t, FILE *out)
{
  if (!t || !aoe_target_held(t))
    return 0;
  if (!raid_survives_without(array, member_shelf_is, t)) {
    fprintf(out, "error: %s is held (silent, its I/O waiting up to hold-time=%us): the "
            "array cannot serve without it; it resumes if the shelf answers, and goes down "
            "when hold-time runs out\n", name, params.hold_time_ms / 1000);
    return -1;
  }
  aoe_end_hold(t);
  return 1;
}

static int fail_request(const char *arg, FILE *out)
{
  struct shelf_addr a;
  char name[24], err[512], replaced[64], taker[64];
  bool replacing;
  size_t i;
  int r, slot, ended;

  if (shelf_arg("fail", arg, &a, out) < 0)
    return -1;
  snprintf(name, sizeof name, "e%u.%u", a.shelf, a.slot);
  pthread_mutex_lock(&add_lock);
  replacing = array_holds_replaced(name, NULL, replaced, sizeof replaced) == HOLDS_REPLACING;
  slot = member_slot(name, taker, sizeof taker);
  ended = end_hold_to_fail(name, aoe_target_find(initiator, a.shelf, a.slot), out);
  if (ended < 0) {
    pthread_mutex_unlock(&add_lock);
    return -1;
  }
  r = raid_fail_member(array, name, err, sizeof err);
  /* the held I/O failing with the hold's end failed the member first */
  if (r == -ENOENT && ended && slot >= 0)
    r = 0;
  i = addr_index(&a);
  if (r == 0 && i < n_addrs)
    held_out[i] = true;
  pthread_mutex_unlock(&add_lock);
  if (r < 0) {
    fprintf(out, "error: %s\n", err);
    return -1;
  }
  monitor_kick();
  if (ended)
    fprintf(out, "%s was held: its hold ended, its shelf declared down and its I/O "
            "failed\n", name);
  if (replacing)
    fprintf(out, "%s marked faulty: the replace of %s stops, %s serves on; remove %s to "
            "release its shelf\n", name, replaced, replaced, name);
  else
    fail_answer(name, slot, taker, out);
  return 0;
}

/* Is every member of the array write-mostly?  Then no copy is preferred: the answer said
 * "reads go to the other copies" when there were none to go to. */
static bool every_member_writemostly(void)
{
  struct raid_status st;

  if (raid_status(array, &st) < 0)
    return false;
  for (unsigned i = 0; i < st.members; i++)
    if (!st.member[i].writemostly)
      return false;
  return st.members > 0;
}

/* The control request "writemostly SHELF.SLOT on|off" (md's --write-mostly, and
 * dev-N/state writemostly / -writemostly): reads avoid the member while another copy can
 * serve them; recorded in the superblocks. */
static int writemostly_request(const char *arg, FILE *out)
{
  struct shelf_addr a;
  char shelf[24], name[24], err[512];
  const char *word;
  int on;

  while (*arg == ' ')
    arg++;
  word = strchr(arg, ' ');
  if (!word || (size_t)(word - arg) >= sizeof shelf) {
    fprintf(out, "error: writemostly: write SHELF.SLOT on|off, as in writemostly e6.1 on\n");
    return -1;
  }
  snprintf(shelf, sizeof shelf, "%.*s", (int)(word - arg), arg);
  while (*word == ' ')
    word++;
  if (shelf_arg("writemostly", shelf, &a, out) < 0)
    return -1;
  if (!strcmp(word, "on"))
    on = 1;
  else if (!strcmp(word, "off"))
    on = 0;
  else {
    fprintf(out, "error: writemostly: '%s' is neither on nor off\n", word);
    return -1;
  }
  snprintf(name, sizeof name, "e%u.%u", a.shelf, a.slot);
  if (raid_set_writemostly(array, name, on, err, sizeof err) < 0) {
    fprintf(out, "error: %s\n", err);
    return -1;
  }
  if (on && every_member_writemostly())
    fprintf(out, "%s is write-mostly, as is every other member: reads go to them all as if "
            "none were; set one off for reads to prefer it\n", name);
  else
    fprintf(out, "%s is %s\n", name, on ? "write-mostly: reads go to the other copies while "
            "they can serve" : "no longer write-mostly: it serves reads again");
  return 0;
}

/* A shelf the array let go of (replaced, a failed replacement, left out at assembly),
 * removed: its superblock, if it is this array's, is wiped, as raid_remove_spare wipes a
 * spare's, so no later start by name finds it (an old copy of the array, or a spare) and
 * takes it back.  Another array's (a shelf listed by mistake, left out with force=) is
 * never touched. */
static void wipe_left(size_t i, bool recorded, char *note, size_t notelen)
{
  ssize_t m = member_of(targets[i]);
  struct raid_sb_summary sb;
  struct raid_status st;
  int r;

  if (m < 0 || raid_status(array, &st) < 0)
    return;
  r = raid_examine(&members[m], &sb);
  if (r == 0 && (sb.state != RAID_SB_OK || memcmp(sb.array_uuid, st.uuid, 16)))
    return;             /* blank, or not this array's: nothing of ours to wipe */
  if (r == 0)
    r = params.readonly ? -EROFS : raid_wipe(&members[m]);
  if (r < 0) {          /* the remove's answer says so too: the admin sees no log */
    char name[24];
    snprintf(name, sizeof name, "e%u.%u", addrs[i].shelf, addrs[i].slot);
    raid_wipe_failed_text(note, notelen, name, r, recorded);
    log_warning("%s removed, but %s", name, note);
  }
  else {
    log_notice("e%u.%u removed: its superblock is wiped", addrs[i].shelf, addrs[i].slot);
    if (recorded)       /* nothing of it can come back: the list keeps its room */
      raid_removed_wiped(array, sb.member_uuid);
  }
}

/* The control request "remove SHELF.SLOT" (md's --remove): drop a spare, or let go of a
 * failed member's shelf (its slot stays faulty until a spare takes it).  The shelf's
 * reservation is released, auto-readd leaves it out, and its superblock is wiped. */
static int remove_request(const char *arg, FILE *out)
{
  struct shelf_addr a;
  char name[24], err[512] = "", replaced[64], note[320] = "";
  enum holding holds;
  size_t i;
  int r = 0;
  bool recorded;

  if (shelf_arg("remove", arg, &a, out) < 0)
    return -1;
  snprintf(name, sizeof name, "e%u.%u", a.shelf, a.slot);
  pthread_mutex_lock(&add_lock);
  i = addr_index(&a);
  /* removed before (or left out at the start as removed): the array holds it faulty
   * still, and raid/ would record it again, or (unlisted) holds nothing of it and would
   * answer that it is not in the array; the answer says nothing new happened */
  if (i < n_addrs && (removed_out[i] || removed_unlisted[i]) && !targets[i]) {
    pthread_mutex_unlock(&add_lock);
    fprintf(out, "%s was removed already; its shelf is released (aoeraid add -c SOCKET %s "
            "takes it back)\n", name, name);
    return 0;
  }
  holds = array_holds_replaced(name, NULL, replaced, sizeof replaced);
  /* md refuses to remove a replacement that works (EBUSY): the array writes to it */
  if (holds == HOLDS_REPLACING)
    snprintf(err, sizeof err, "%s is replacing %s: wait for the replace to finish, or fail "
             "%s first to stop it (aoeraid fail -c SOCKET %s)", name, replaced, name, name);
  else if (holds == HOLDS_WORKING)
    snprintf(err, sizeof err, "%s is a working member: fail it first (aoeraid fail -c "
             "SOCKET %s)", name, name);
  else if (holds == HOLDS_NOTHING)
    snprintf(err, sizeof err, "%s is not in the array (aoeraid status lists its shelves)",
             name);
  /* A shelf the array let go of (replaced) that this server still holds */
  if (holds == HOLDS_NOTHING && i < n_addrs && targets[i])
    holds = HOLDS_LEFT;
  /* a faulty member is recorded removed in the array's superblocks: should its own not
   * be wiped (its shelf away), it still never comes back by itself */
  r = holds == HOLDS_SPARE ? raid_remove_spare(array, name, err, sizeof err)
    : holds == HOLDS_FAULTY || holds == HOLDS_LEFT ? raid_remove_member(array, name, err,
                                                                        sizeof err)
    : -1;
  /* raid/ knows no uuid of this shelf let go of (a blank one, another array's): nothing
   * to remember, only the reservation to release */
  recorded = r == 0;
  if (r == -ENOENT && holds == HOLDS_LEFT)
    r = 0;
  else if (r == -EBUSY && holds == HOLDS_FAULTY)       /* shown faulty as its shelf is down */
    snprintf(err, sizeof err, "%s is a working member whose shelf is down (the array has "
             "not failed it): fail it first (aoeraid fail -c SOCKET %s)", name, name);
  /* a failed member too: its stale superblock would put it back at a start by name (and
   * auto-readd with it), where the administrator took it out */
  if (r == 0 && (holds == HOLDS_LEFT || holds == HOLDS_FAULTY))
    wipe_left(i, recorded, note, sizeof note);
  else if (r == 0 && holds == HOLDS_SPARE)   /* raid/'s note when it could not wipe it */
    snprintf(note, sizeof note, "%s", err);
  if (r == 0 && i < n_addrs) {
    held_out[i] = true;
    removed_out[i] = recorded;
    removed_unlisted[i] = !recorded;
    if (params.reserve && targets[i])
      aoe_release(targets[i]);
    targets[i] = NULL;          /* an add later reserves it again */
  }
  pthread_mutex_unlock(&add_lock);
  if (r < 0) {
    fprintf(out, "error: remove: %s\n", err);
    return -1;
  }
  fprintf(out, "removed %s%s; its shelf is released%s%s\n", name, holds == HOLDS_FAULTY ?
          " (its slot stays faulty until a spare takes it)" : holds == HOLDS_LEFT ?
          " (the array no longer used it)" : "", note[0] ? "; " : "", note);
  return 0;
}

/* The control request "replace OLD [NEW]" (md's --replace OLD --with NEW): NEW (added as
 * a spare first unless it is one), or the first spare, copies OLD's slot while OLD serves
 * on, then takes its place; the monitor runs the copy. */
static int replace_request(const char *args, FILE *out)
{
  char *copy = strdup(args), *save = NULL, *tok, names[2][24], err[512];
  struct shelf_addr a[2];
  struct raid_status st;
  unsigned n = 0;
  int r = 0;

  if (!copy) {
    fprintf(out, "error: replace: %s\n", strerror(ENOMEM));
    return -1;
  }
  for (tok = strtok_r(copy, " ", &save); tok && r == 0; tok = strtok_r(NULL, " ", &save)) {
    if (n == 2) {
      fprintf(out, "error: replace: too many shelves: write replace OLD [NEW], as in "
              "replace e2.1 e5.1\n");
      r = -1;
    }
    else if ((r = shelf_arg("replace", tok, &a[n], out)) == 0) {
      snprintf(names[n], sizeof names[n], "e%u.%u", a[n].shelf, a[n].slot);
      n++;
    }
  }
  free(copy);
  if (r == 0 && n == 0) {
    fprintf(out, "error: replace: name the member to replace, as in replace e2.1 [e5.1]\n");
    r = -1;
  }
  if (r == 0 && n == 2 && raid_status(array, &st) == 0) {
    bool spare = false, working = false, waiting = false;
    for (unsigned j = 0; j < st.spares; j++)
      spare |= !strcmp(st.spare[j], names[1]);
    for (unsigned j = 0; j < st.members; j++) {
      working |= st.member[j].role == RAID_ROLE_ACTIVE && !strcmp(st.member[j].name, names[0]);
      waiting |= st.member[j].role == RAID_ROLE_FAULTY || st.member[j].role == RAID_ROLE_MISSING;
    }
    /* a replace refused for OLD (busy, or a slot waiting for a spare) must not leave NEW
     * added: raid_replace_start below says why */
    if (!spare && working && !waiting && st.replace_slot < 0
        && st.reshape_position == RAID_RESHAPE_NONE)
      r = hot_add(names[1], out);
  }
  if (r == 0 && raid_replace_start(array, names[0], n == 2 ? names[1] : NULL, err,
                                   sizeof err) < 0) {
    fprintf(out, "error: replace: %s\n", err);
    r = -1;
  }
  if (r == 0) {
    monitor_kick();
    fprintf(out, "replacing %s; aoeraid status shows the progress; a restart resumes it "
            "%s\n", names[0], params.scan ? "(a start by name= or uuid= finds the new shelf)"
            : "if the new shelf is in spares=");
  }
  return r;
}

/* The control request "speed [min=RATE] [max=RATE]": set md's speed_limit_min/max of
 * resync and recovery (both checked before either changes); print the limits. */
static int speed_request(const char *args, FILE *out)
{
  uint64_t min, max;
  char *copy = strdup(args), *save = NULL, *tok, a[32], b[32], err[128];
  bool min_now = false, max_now = false;
  int r = 0;

  if (!copy) {
    fprintf(out, "error: speed: %s\n", strerror(errno));
    return -1;
  }
  raid_get_sync_speed(array, &min, &max);
  for (tok = strtok_r(copy, " ", &save); tok && r == 0; tok = strtok_r(NULL, " ", &save)) {
    uint64_t *to = !strncmp(tok, "min=", 4) ? &min : !strncmp(tok, "max=", 4) ? &max : NULL;
    if (!to) {
      fprintf(out, "error: speed: '%s' is not min=RATE or max=RATE\n", tok);
      r = -1;
    }
    /* as nbdkit's parameters are: "max=100M max=200M" took the last without a word */
    else if (to == &min ? min_now : max_now) {
      fprintf(out, "error: speed: %.4s given twice: give it once\n", tok);
      r = -1;
    }
    else if (parse_rate(tok + 4, to) < 0) {
      fprintf(out, "error: speed: '%s' is not a rate: " RATE_HINT "\n", tok + 4);
      r = -1;
    }
    min_now |= to == &min;
    max_now |= to == &max;
  }
  free(copy);
  if (r < 0)
    return r;
  if (check_sync_speeds(min, speed_min_given || min_now, max, err, sizeof err) < 0) {
    fprintf(out, "error: speed: %s: give min= at most the max (speed min=%s max=%s), or "
            "min=0 for the max to hold at all times\n", err, rate_text(max, a, sizeof a),
            rate_text(max, b, sizeof b));
    return -1;
  }
  speed_min_given |= min_now;
  raid_set_sync_speed(array, min, max);
  fprintf(out, "resync and recovery speed: min %s while busy, max %s\n",
          rate_text(min, a, sizeof a), rate_text(max, b, sizeof b));
  return 0;
}

/* The control request "grow size=SIZE|max" (md: --grow --size): the array uses the room
 * its bigger members have; the monitor resyncs the new space.  SIZE is per member, as
 * md's --size is per device. */
static int grow_size_request(const char *value, FILE *out)
{
  char err[512];
  uint64_t size;

  if (parse_member_size(value, &size) < 0) {
    fprintf(out, "error: grow: '%s' is not a member size: " SIZE_HINT "\n", value);
    return -1;
  }
  /* a shelf that came back with a bigger disk (aoe/: "its disk grew") counts as such */
  pthread_mutex_lock(&add_lock);
  for (size_t i = 0; i < n_all_members; i++)
    aoe_member_refresh(&members[i]);
  pthread_mutex_unlock(&add_lock);
  if (raid_grow_size(array, size, err, sizeof err) < 0) {
    fprintf(out, "error: grow: %s\n", err);
    return -1;
  }
  monitor_kick();
  fprintf(out, "grown to %" PRIu64 " bytes; clients that connect now see the new size%s\n",
          raid_size(array), raid_needs_resync(array) ? "; aoeraid status shows the resync "
          "of the new space" : "");
  return 0;
}

/* The control request "grow bitmap=SIZE|none" (md: --grow --bitmap=internal|none): add
 * a write-intent bitmap of SIZE bytes per bit, or remove it. */
static int grow_bitmap_request(const char *value, FILE *out)
{
  char err[512];
  uint64_t region;

  if (parse_bitmap_region(value, &region) < 0) {
    fprintf(out, "error: grow: '%s' is not a bitmap region size: write none, or "
            BITMAP_HINT "\n", value);
    return -1;
  }
  if (raid_grow_bitmap(array, region, err, sizeof err) < 0) {
    fprintf(out, "error: grow: %s\n", err);
    return -1;
  }
  fprintf(out, "%s\n", err);
  return 0;
}

/* The control request "grow consistency-policy=ppl|bitmap|resync" (md: --grow
 * --consistency-policy): keep a partial parity log, or drop it. */
static int grow_policy_request(const char *value, FILE *out)
{
  char err[512];
  int ppl = !strcmp(value, "ppl");
  struct raid_status st;

  if (!ppl && strcmp(value, "bitmap") && strcmp(value, "resync")) {
    fprintf(out, "error: grow: '%s' is no consistency policy: ppl (a partial parity log "
            "closes raid5's write hole), or bitmap or resync (none)\n", value);
    return -1;
  }
  /* nothing to drop: the answer said "the partial parity log is dropped" of a raid1 */
  if (!ppl && raid_status(array, &st) == 0 && !st.ppl) {
    fprintf(out, "the array keeps no partial parity log: nothing changed (its write-intent "
            "bitmap, if any, stays: grow bitmap=none removes it)\n");
    return 0;
  }
  if (raid_set_ppl(array, ppl, err, sizeof err) < 0) {
    fprintf(out, "error: grow: %s\n", err);
    return -1;
  }
  fprintf(out, "%s\n", ppl ? "consistency policy ppl: every write logs its partial parity "
          "first; a dirty degraded start needs no force, but one before the resync after a "
          "crash ended still needs force=true" : "the partial parity log is dropped");
  return 0;
}

/* KEY (as "size=") among the words of a grow request: its value, else NULL; *other: some
 * word is not KEY. */
static const char *grow_key_word(const char *args, const char *key, bool *other, bool *twice)
{
  const char *value = NULL;
  size_t len = strlen(key);

  *other = *twice = false;
  for (const char *w = args; *w; w += strcspn(w, " ")) {
    w += strspn(w, " ");
    if (!strncmp(w, key, len)) {
      *twice |= value != NULL;      /* "bitmap=64M bitmap=none" took the last */
      value = w + len;
    }
    else if (*w)
      *other = true;
  }
  return value;
}

/* The control request "grow [level=LEVEL] SHELF.SLOT...": add each shelf as a spare (as
 * "add" does), then grow the array onto them (md: --add, then --grow); the monitor runs
 * the reshape.  Shelves added before a refusal stay spares. */
/* NAME is a spare already (md's way: add, then grow). */
static bool grow_spare(const struct raid_status *st, const char *name)
{
  for (unsigned j = 0; j < st->spares; j++)
    if (!strcmp(st->spare[j], name))
      return true;
  return false;
}

/* Why names[n] cannot be one of the shelves a grow adds, on one line (-1), or 0: named
 * before it, or in the array already.  Found before any is added: "grow e3.1 e3.1" added
 * e3.1 as a spare, then answered that e3.1 was in the array, the grow refused and the
 * spare left behind (so too "grow e3.1 e1.1", e1.1 a member). */
static int grow_name_refused(char names[][16], unsigned n, FILE *out)
{
  enum holding holds = array_holds(names[n], NULL);

  for (unsigned i = 0; i < n; i++)
    if (!strcmp(names[i], names[n])) {
      fprintf(out, "error: grow: %s is named twice: name each new shelf once; nothing was "
              "added\n", names[n]);
      return -1;
    }
  /* a failed member is left to raid_grow_check, which names the array degraded by it */
  if (holds == HOLDS_WORKING || holds == HOLDS_REPLACING) {
    fprintf(out, "error: grow: %s is a member of the array already: name new shelves (or "
            "spares) to grow onto; nothing was added\n", names[n]);
    return -1;
  }
  return 0;
}

/* An ec array grows keeping its M parity chunks per stripe, onto K + N data chunks: a
 * level=K+M naming another geometry cannot be reached (level=3+2 on a 2+1 grown onto two
 * shelves made a 4+1 without a word: the redundancy asked for was not given).  -1 after
 * one line, else 0. */
static int grow_ec_refused(const struct raid_status *st, const struct raid_params *want,
                           unsigned n, FILE *out)
{
  unsigned k = st->k + n;

  if (want->level != RAID_LEVEL_EC || st->level != RAID_LEVEL_EC ||
      (want->k == k && want->m == st->m))
    return 0;
  fprintf(out, "error: grow: level=%u+%u cannot be reached: a grow keeps the %u parity "
          "chunk%s of each stripe, so %u+%u onto %u more shel%s makes %u+%u: give level=%u+%u "
          "or no level=; nothing was added\n", want->k, want->m, st->m, st->m == 1 ? "" : "s",
          st->k, st->m, n, n == 1 ? "f" : "ves", k, st->m, k, st->m);
  return -1;
}

static int grow_request(const char *args, FILE *out)
{
  struct raid_status st;
  struct params want = { .raid.level = -1 };
  char *copy = strdup(args), *save = NULL, *tok, err[512];
  char names[RAID_MAX_MEMBERS][16];
  const char *name_ptrs[RAID_MAX_MEMBERS];
  unsigned n = 0;
  int r = 0;
  bool level_given = false;

  if (!copy || raid_status(array, &st) < 0) {
    free(copy);
    fprintf(out, "error: grow: %s\n", strerror(ENOMEM));
    return -1;
  }
  want.raid.level = st.level;
  for (tok = strtok_r(copy, " ", &save); tok && r == 0; tok = strtok_r(NULL, " ", &save)) {
    struct shelf_addr a;
    if (!strncmp(tok, "level=", 6)) {
      char why[160];
      if (level_given) {            /* "level=5 level=6" took the last */
        fprintf(out, "error: grow: level= given twice: give it once\n");
        r = -1;
      }
      else if (parse_level(tok + 6, &want.raid, why, sizeof why) < 0) {
        fprintf(out, "error: grow: '%s' is not a level: use 0, 1, 5, 6, 10 or K+M (K >= 1, M "
                "from 1 to 4)\n", tok + 6);
        r = -1;
      }
      level_given = true;
    }
    else if (parse_shelf_addr(tok, &a) < 0) {
      fprintf(out, "error: grow: '%s' is not a shelf address (SHELF.SLOT), level=LEVEL, "
              "size=SIZE|max, bitmap=SIZE|none or consistency-policy=ppl|bitmap|resync: "
              "write, for example, grow level=5 e3.1, or grow size=max\n", tok);
      r = -1;
    }
    else if (n == RAID_MAX_MEMBERS) {
      fprintf(out, "error: grow: more than %d shelves\n", RAID_MAX_MEMBERS);
      r = -1;
    }
    else {
      snprintf(names[n], sizeof names[n], "e%u.%u", a.shelf, a.slot);
      name_ptrs[n] = names[n];
      r = grow_name_refused(names, n, out);
      n++;
    }
  }
  free(copy);
  if (r == 0 && n == 0) {
    fprintf(out, "error: grow: name the shelves to grow onto, as in grow e3.1\n");
    r = -1;
  }
  if (r == 0)
    r = grow_ec_refused(&st, &want.raid, n, out);
  /* a grow refused (a reshape running, not in sync, a level it cannot reach) adds nothing */
  if (r == 0 && raid_grow_check(array, n, want.raid.level, err, sizeof err) < 0) {
    fprintf(out, "error: %s\n", err);
    r = -1;
  }
  /* every shelf to add answers before any is added: one that did not, after others were,
   * left those spares behind a refused grow */
  for (unsigned i = 0; i < n && r == 0; i++) {
    struct shelf_addr a;
    if (!grow_spare(&st, names[i]) && parse_shelf_addr(names[i], &a) == 0 && !find_shelf(&a)) {
      say_unanswered(&a, "; nothing was added", out);
      r = -1;
    }
  }
  for (unsigned i = 0; i < n && r == 0; i++)
    if (!grow_spare(&st, names[i]))
      r = hot_add(names[i], out);
  if (r == 0 && raid_grow(array, name_ptrs, n, want.raid.level, err, sizeof err) < 0) {
    fprintf(out, "error: %s\n", err);
    r = -1;
  }
  if (r == 0) {
    monitor_kick();
    /* md refuses a reshape while a check runs (EBUSY); here the check yields to it */
    const char *them = n == 1 ? "it" : "them";
    fprintf(out, "growing onto %u more shel%s; %s%s%s; %saoeraid status shows the "
            "progress\n", n, n == 1 ? "f" : "ves", params.scan ? "a start by name= or uuid= "
            "finds " : "add ", them, params.scan ? "" : " to shelves= for the next start (or "
            "start by name= or uuid=)",
            st.check_running ? "the check that ran stops: run it again once the reshape "
            "has finished; " : "");
  }
  return r;
}

/* "grow ...": onto shelves (grow_request), to a member size (grow_size_request), a bitmap
 * added or removed (grow_bitmap_request), or the consistency policy (grow_policy_request). */
static int grow_any_request(const char *args, FILE *out)
{
  bool other, twice;
  const char *key = "size=", *v = grow_key_word(args, key, &other, &twice);
  char value[64];

  if (!v) {
    key = "bitmap=";
    v = grow_key_word(args, key, &other, &twice);
  }
  if (!v) {
    key = "consistency-policy=";
    v = grow_key_word(args, key, &other, &twice);
  }
  if (!v)
    return grow_request(args, out);
  if (twice) {
    fprintf(out, "error: grow: %s given twice: give it once\n", key);
    return -1;
  }
  if (other) {
    fprintf(out, "error: grow: %s takes no shelves, level or other change: make each "
            "change in a request of its own\n", key);
    return -1;
  }
  snprintf(value, sizeof value, "%.*s", (int)strcspn(v, " "), v);
  if (key[0] == 'c')
    return grow_policy_request(value, out);
  return key[0] == 's' ? grow_size_request(value, out) : grow_bitmap_request(value, out);
}

/* The control request "check [repair|stop]": md's sync_action check, repair and idle.
 * The monitor runs it once recovery and resync have nothing left to do. */
static int check_request(const char *args, FILE *out)
{
  enum raid_check_action action = RAID_CHECK;
  const char *why;

  if (!strcmp(args, "stop")) {
    if (!monitor_check_stop()) {
      fprintf(out, "error: check: no check or repair is running or waiting\n");
      return -1;
    }
    fprintf(out, "check stopped\n");
    return 0;
  }
  if (!strcmp(args, "repair"))
    action = RAID_CHECK_REPAIR;
  else if (args[0]) {
    fprintf(out, "error: check: '%s' is not repair or stop: write check, check repair or "
            "check stop\n", args);
    return -1;
  }
  why = raid_check_refusal(array);
  if (why) {
    fprintf(out, "error: check: not now: %s\n", why);
    return -1;
  }
  if (monitor_check(action) < 0) {
    fprintf(out, "error: check: a check or repair is already running or waiting; stop it "
            "first with 'aoeraid check -c SOCKET stop'\n");
    return -1;
  }
  fprintf(out, "%s started; aoeraid status shows its progress and what it finds\n",
          action == RAID_CHECK_REPAIR ? "repair" : "check");
  return 0;
}

/* The requests that would change the array (all but status and speed). */
static bool changes_array(const char *request)
{
  static const char *const verbs[] = { "check", "add", "fail", "remove", "replace", "grow", "writemostly" };

  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
    size_t len = strlen(verbs[i]);
    if (!strncmp(request, verbs[i], len) && (request[len] == 0 || request[len] == ' '))
      return true;
  }
  return false;
}

/* A request but status, under command_lock. */
static int command_request(const char *request, FILE *out)
{
  if (params.readonly && changes_array(request)) {
    fprintf(out, "error: the array is read-only (%s): restart nbdkit without %s to change "
            "it\n", params.readonly_by, params_readonly_undo(&params));
    return -1;
  }
  if (raid_fenced(array) && changes_array(request)) {
    fprintf(out, "error: the array is fenced: another head took it over (see status); "
            "stop this server\n");
    return -1;
  }
  if (!strcmp(request, "check") || !strncmp(request, "check ", 6))
    return check_request(request[5] ? request + 6 : "", out);
  if (!strncmp(request, "add ", 4))
    return hot_add(request + 4, out);
  if (!strncmp(request, "fail ", 5))
    return fail_request(request + 5, out);
  if (!strncmp(request, "remove ", 7))
    return remove_request(request + 7, out);
  if (!strcmp(request, "replace") || !strncmp(request, "replace ", 8))
    return replace_request(request[7] ? request + 8 : "", out);
  if (!strncmp(request, "grow ", 5))
    return grow_any_request(request + 5, out);
  if (!strncmp(request, "writemostly ", 12))
    return writemostly_request(request + 12, out);
  if (!strcmp(request, "speed") || !strncmp(request, "speed ", 6))
    return speed_request(request + 5, out);
  return status_request(request, out);         /* which answers an unknown request */
}

/* Status reads what raid/, aoe/ and the monitor lock for themselves: it never waits for
 * a command (an add waiting on a shelf), as md's /proc/mdstat never waits for mdadm, nor
 * for a shelf (raid_status reads what the last superblock change published). */
static bool is_status_request(const char *request)
{
  return !strncmp(request, "status", 6) && (!request[6] || request[6] == ' ');
}

static int control_request(const char *request, FILE *out)
{
  int r;

  if (is_status_request(request))
    return status_request(request, out);
  pthread_mutex_lock(&command_lock);
  r = command_request(request, out);
  pthread_mutex_unlock(&command_lock);
  return r;
}

/* Listed shelves (shelves=, spares=) the administrator removed from the array, which
 * assembly left out (its log says so): released and held out, as the scan leaves them
 * unreserved; auto-readd tells their return, and an add takes them again.  Those the
 * administrator failed, left out too (and said so), are held out, still reserved, as
 * after the fail request: only an add takes them back. */
static void release_removed(void)
{
  struct raid_sb_summary sb;

  for (size_t i = 0; i < n_addrs; i++) {
    ssize_t m = targets[i] ? member_of(targets[i]) : -1;
    if (m < 0 || raid_examine(&members[m], &sb) < 0)
      continue;
    if (raid_member_failed(array, &sb))
      held_out[i] = true;
    if (!raid_member_removed(array, &sb))
      continue;
    nbdkit_debug("e%u.%u: removed by the administrator; released", addrs[i].shelf,
                 addrs[i].slot);
    held_out[i] = removed_out[i] = true;
    if (params.reserve)
      aoe_release(targets[i]);
    targets[i] = NULL;
  }
}

/* writemostly=: md's --write-mostly on the shelves named, as the array starts.  It adds
 * to the flags the superblocks hold (a restart keeps them without it); aoeraid
 * writemostly ... off clears one.  A listed shelf assembly left out (missing, stale) gets
 * a warning: a read preference is no reason to refuse the array. */
static int apply_writemostly(void)
{
  char name[24], err[512];

  for (size_t i = 0; i < params.n_writemostly; i++) {
    snprintf(name, sizeof name, "e%u.%u", params.writemostly[i].shelf,
             params.writemostly[i].slot);
    int r = raid_set_writemostly(array, name, 1, err, sizeof err);
    if (r == -ENOENT && params.n_shelves)
      log_warning("writemostly: %s is not in the array now (left out at assembly): it is "
                  "not made write-mostly; aoeraid writemostly -c SOCKET %s on, once it is "
                  "back", name, name);
    else if (r < 0) {
      nbdkit_error("writemostly: %s", err);
      return -1;
    }
  }
  return 0;
}

/* consistency-policy=: md's --grow --consistency-policy, as the array starts (a new array
 * was created with it).  The superblocks keep it: a restart without it keeps the log. */
static int apply_policy(void)
{
  char err[512];

  if (params.policy == POLICY_KEEP)
    return 0;
  if (params.readonly) {
    log_warning("consistency-policy: %s changes nothing on the shelves: the array keeps "
                "its policy", params.readonly_by);
    return 0;
  }
  if (raid_set_ppl(array, params.policy == POLICY_PPL, err, sizeof err) < 0) {
    nbdkit_error("consistency-policy=%s: %s",
                 params.policy == POLICY_PPL ? "ppl" : "bitmap", err);
    return -1;
  }
  return 0;
}

/* Discovery, reservation and assembly happen here, so every error reaches the user
 * before nbdkit forks and answers clients.  The initiator's thread runs only for this
 * and starts again in after_fork. */
/* What to do when control_open failed with ERR, after ": ", or "". */
static const char *control_open_hint(int err)
{
  switch (err) {
  case ENOENT: return ": its directory does not exist; create it or give another path";
  case EADDRINUSE: return ": another server answers there; give another path";
  case EEXIST: return ": it is no socket (a file of yours?) and is left as it is: give the "
                      "path of a socket to create";
  case ENAMETOOLONG: return ": a Unix socket's path is 107 bytes at most; give a shorter one";
  case EACCES: return ": give a path in a directory this user may write";
  default: return "";
  }
}

static int aoeraid_get_ready(void)
{
  struct aoe_options opts = {
    .ifaces = params.ifaces, .n_ifaces = params.n_ifaces,
    .dead_time_ms = params.dead_time_ms,
    .may_down = shelf_may_go_down,
    .may_resume = shelf_proves_its_disk,
    .proof_lba = RAID_SB_OFFSET / 512, .proof_sectors = RAID_SB_SIZE / 512,
    .hold_time_ms = params.hold_time_ms,
    .log = aoe_log,
    .trace_frames = &aoeraid_debug_frames,
  };
  char err[512], ifaces[256];
  int r = -1;

  /* before any shelf is touched: a control= in a missing directory, or one another server
   * answers on, refuses the start without creating, reserving or writing anything */
  if (params.control) {
    control = control_open(params.control, control_request, is_status_request);
    if (!control) {
      nbdkit_error("control=%s: %m%s", params.control, control_open_hint(errno));
      return -1;
    }
  }
  initiator = aoe_open(&opts, err, sizeof err);
  if (!initiator)
    nbdkit_error("%s", err);
  else if ((r = aoe_start(initiator)) < 0)
    nbdkit_error("aoe: cannot start the initiator thread: %s", strerror(-r));
  if (!initiator || r < 0) {
    control_close(control);
    control = NULL;
    return -1;
  }
  r = -1;
  if (params.scan) {
    if (scan_shelves(initiator, &params, scan_left_out) < 0)
      goto out;
    set_addrs();
  }
  discover_shelves();
  if (claim_shelves() < 0)
    goto out;
  if (make_all_members() < 0)
    goto out;
  aoe_iface_names(initiator, ifaces, sizeof ifaces);
  array = assemble_or_create(&params, initiator, targets, ifaces, members, n_members,
                             members + n_members, n_spare_members, raid_log, NULL);
  if (!array)
    goto out;
  if (!params.scan)
    scan_unlisted(initiator, &params, array);
  release_removed();
  raid_set_sync_speed(array, params.sync_speed_min, params.sync_speed_max);
  raid_set_bitmap_delay(array, params.bitmap_delay_ms);
  speed_min_given = params_min_given(&params);
  if (apply_writemostly() < 0 || apply_policy() < 0)
    goto out;
  status_set(initiator, array, &params);
  hold_set(array);
  r = 0;
out:
  /* Refused after assembly (writemostly= or consistency-policy= the array cannot take):
   * close it as a stop does, while the initiator still runs, or the array stays dirty:
   * resynced at the next start, and refused as dirty and degraded when a shelf is away. */
  if (r < 0 && array) {
    hold_set(NULL);
    raid_close(array);
    array = NULL;
  }
  aoe_stop(initiator);
  if (r < 0) {
    release_shelves();
    control_close(control);
    control = NULL;
  }
  return r;
}

static int aoeraid_after_fork(void)
{
  int r;

  log_after_fork();       /* before any thread of ours logs */
  r = aoe_start(initiator);

  if (r < 0) {
    nbdkit_error("aoe: cannot start the initiator thread: %s", strerror(-r));
    return -1;
  }
  if (control && control_start(control) < 0) {
    nbdkit_error("control=%s: cannot start its thread: %m", params.control);
    return -1;
  }
  /* A new array (or one that crashed dirty) makes its parity consistent in the
   * background while it serves, as md's initial resync does; a hot spare replaces a
   * member that fails. */
  if (alert_start(array, params.alert, params.alert_test, aoeraid_debug_alert_wait_ms) < 0 ||
      fence_start(initiator, array) < 0 || stopping_start(initiator, array, held_shelves) < 0)
    return -1;
  if (params.readonly)          /* no resync, recovery, reshape or auto-readd: all write */
    return 0;
  if (monitor_start(array) < 0)
    return -1;
  /* a re-added shelf waits as a spare while a run goes on: the monitor takes it after */
  return readd_start(look_for_returns);
}

static void aoeraid_cleanup(void)
{
  bool fenced = false;

  control_close(control);
  control = NULL;
  if (array)
    hold_set(NULL);             /* closing: a silent shelf goes down at its dead time, */
  stopping_stop();              /* and a held one now, the array told it closes: the
                                 * threads stopped next and the last writes need not wait */
  if (initiator)
    aoe_end_holds(initiator);   /* none held, unless the stop watch never started */
  readd_stop();                 /* before the monitor: a re-add kicks it */
  monitor_stop();
  reply_log_close();            /* no request runs now: the failed ones left out are said */
  alert_stop();
  fence_stop();
  if (array) {
    fenced = raid_fenced(array);
    raid_close(array);          /* marks the array clean on every member (not if fenced) */
    array = NULL;
  }
  if (initiator) {
    if (!fenced)                /* else the reservations are the new head's */
      release_shelves();
    aoe_close(initiator);
    initiator = NULL;
  }
  free_members();
  params_free(&params);
}

static void *aoeraid_open(int readonly)
{
  return array;         /* every connection sees the one array */
}

static int64_t aoeraid_get_size(void *handle)
{
  return raid_size(array);
}

static int aoeraid_block_size(void *handle, uint32_t *minimum, uint32_t *preferred,
                              uint32_t *maximum)
{
  uint32_t stripe = raid_stripe_bytes(array);

  *minimum = 512;
  /* nbdkit wants a power of two from 512 to 32M: the stripe if it is one, else the
   * largest power of two dividing it (the chunk, for an odd number of data members). */
  *preferred = stripe & -stripe;
  if (*preferred < 512)
    *preferred = 512;
  if (*preferred > 32 * 1024 * 1024)
    *preferred = 32 * 1024 * 1024;
  *maximum = 0xffffffff;
  return 0;
}

static int aoeraid_can_multi_conn(void *handle)
{
  /* Writes complete only when on the members and flush reaches every member, whatever
   * connection asked: one connection's flush covers them all. */
  return 1;
}

static int aoeraid_can_write(void *handle) { return !params.readonly; }
static int aoeraid_can_fua(void *handle) { return NBDKIT_FUA_NATIVE; }
static int aoeraid_can_flush(void *handle) { return 1; }
static int aoeraid_can_trim(void *handle) { return 1; }
static int aoeraid_can_zero(void *handle) { return 1; }
/* Advertised so that a fast zero is answered (ENOTSUP, at once): without it nbdkit 1.32
 * aborts the whole server on a client's fast zero it did not advertise. */
static int aoeraid_can_fast_zero(void *handle) { return 1; }
static int aoeraid_can_cache(void *handle) { return NBDKIT_CACHE_NONE; }

static int aoeraid_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
                         uint32_t flags)
{
  if (aoeraid_debug_io)
    nbdkit_debug("pread count=%" PRIu32 " offset=%" PRIu64, count, offset);
  return reply_result("pread", unaligned_read(array, buf, count, offset));
}

static int aoeraid_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
                          uint32_t flags)
{
  if (aoeraid_debug_io)
    nbdkit_debug("pwrite count=%" PRIu32 " offset=%" PRIu64 " fua=%d", count, offset,
                 !!(flags & NBDKIT_FLAG_FUA));
  return reply_result("pwrite", unaligned_write(array, buf, count, offset,
                                flags & NBDKIT_FLAG_FUA ? RAID_WRITE_FUA : 0));
}

static int aoeraid_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  /* Zeros are written as data: no faster than a write, which a fast zero must refuse */
  if (flags & NBDKIT_FLAG_FAST_ZERO)
    return reply_result("fast zero", -ENOTSUP);
  if (aoeraid_debug_io)
    nbdkit_debug("zero count=%" PRIu32 " offset=%" PRIu64, count, offset);
  return reply_result("zero", unaligned_zero(array, count, offset,
                              flags & NBDKIT_FLAG_FUA ? RAID_WRITE_FUA : 0));
}

/* Trim is advisory in NBD: the data of a trimmed range may stay.  aoeraid keeps it (AoE
 * has no discard), so trim only honours FUA. */
static int aoeraid_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  if (!(flags & NBDKIT_FLAG_FUA))
    return 0;
  return reply_result("trim", raid_flush(array));
}

static int aoeraid_flush(void *handle, uint32_t flags)
{
  return reply_result("flush", raid_flush(array));
}

static void aoeraid_dump_plugin(void)
{
  printf("aoeraid_levels=0,1,5,6,10,K+M\n");
  printf("aoeraid_default_chunk=524288\n");
}

#define aoeraid_config_help \
  "shelves=e1.1,e2.1[,...]  AoE shelves of the array, SHELF.SLOT (or name=/uuid=)\n" \
  "spares=e4.1[,...]        hot spares: replace a failed member automatically\n" \
  "level=0|1|5|6|10|K+M     RAID level; needed to create an array\n" \
  "chunk=SIZE               chunk size for a new array (default 512K)\n" \
  "name=NAME                name of a new array; alone: find and assemble it\n" \
  "uuid=UUID                find the array's shelves by uuid (aoeraid examine)\n" \
  "iface=IFACE              network interface to use (repeatable; default all)\n" \
  "control=SOCKET           Unix socket for aoeraid status, add, fail, grow, check...\n" \
  "dead-time=SECS           a silent shelf is down after this (default 5s)\n" \
  "hold-time=SECS           ... one the array needs waits this much more (default 180s)\n" \
  "discover-time=SECS       how long to wait for the shelves (default 3s)\n" \
  "reserve=true|false       claim the shelves with AoE Reserve (default true)\n" \
  "poll=true|false          a lone request polls for its replies (default true)\n" \
  "sync-speed-min=RATE      resync/recovery speed while clients do I/O (default 50M)\n" \
  "sync-speed-max=RATE      resync/recovery speed otherwise (default none: no limit)\n" \
  "bitmap-chunk=SIZE        write-intent bitmap region, new array (default 64M; 0: none)\n" \
  "bitmap-delay=SECS        time between the bitmap's clearing passes (default 5s)\n" \
  "consistency-policy=ppl|bitmap|resync\n" \
  "                         ppl: a log closes raid5's write hole; bitmap, resync: no log\n" \
  "auto-readd=true|false    re-add a member whose shelf comes back (default true)\n" \
  "readonly=true            assemble read-only: nothing is written to any shelf (nbdkit -r too)\n" \
  "alert=PROGRAM            run PROGRAM EVENT ARRAY [MEMBER-OR-RUN [EXTRA]] per event\n" \
  "alert-test=true          send a TestMessage event at start\n" \
  "writemostly=e2.1[,...]   raid1/raid10 members reads avoid while another copy serves\n" \
  "takeover=true            take the shelves another head reserved (failover)\n" \
  "force=true               override refusals md would let you override\n" \
  "run=true                 start without a live member left out of shelves= (md's --run)"

static struct nbdkit_plugin plugin = {
  .name = "aoeraid",
  .longname = "aoeraid: RAID over ATA-over-Ethernet shelves",
  .version = PACKAGE_VERSION,
  .load = aoeraid_load,
  .config = aoeraid_config,
  .config_complete = aoeraid_config_complete,
  .config_help = aoeraid_config_help,
  .magic_config_key = "shelves",
  .dump_plugin = aoeraid_dump_plugin,
  .get_ready = aoeraid_get_ready,
  .after_fork = aoeraid_after_fork,
  .cleanup = aoeraid_cleanup,
  .open = aoeraid_open,
  .get_size = aoeraid_get_size,
  .block_size = aoeraid_block_size,
  .can_multi_conn = aoeraid_can_multi_conn,
  .can_write = aoeraid_can_write,
  .can_fua = aoeraid_can_fua,
  .can_flush = aoeraid_can_flush,
  .can_trim = aoeraid_can_trim,
  .can_zero = aoeraid_can_zero,
  .can_fast_zero = aoeraid_can_fast_zero,
  .can_cache = aoeraid_can_cache,
  .pread = aoeraid_pread,
  .pwrite = aoeraid_pwrite,
  .zero = aoeraid_zero,
  .trim = aoeraid_trim,
  .flush = aoeraid_flush,
  /* no errno_is_preserved: a failure that forgot reply_result is told EIO, not errno */
};

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
NBDKIT_REGISTER_PLUGIN(plugin)

/* name= or uuid= without shelves=: find the array's shelves by their superblocks, as
 * mdadm --assemble --scan finds an array's disks.  Then assembly goes on as if the shelves
 * found had been listed in shelves= and spares=. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nbdkit-plugin.h>

#include "aoe-member.h"
#include "deadline.h"
#include "log.h"
#include "scan.h"

#define MAX_SCAN AOE_MAX_TARGETS  /* shelves looked at: all the initiator tracks, as aoeraid examine */
#define SCAN_ROUND_MS 300

/* What the scan found: the shelves that answered and their superblocks. */
struct found {
  size_t n;
  struct aoe_target *t[MAX_SCAN];
  struct shelf_addr a[MAX_SCAN];
  struct raid_sb_summary sb[MAX_SCAN];
  enum raid_scan_pick pick[MAX_SCAN];
};

/* Read T's superblock into *SB (state RAID_SB_IOERR when it cannot be read). */
static void examine(struct aoe_target *t, struct raid_sb_summary *sb)
{
  struct raid_member m;

  memset(sb, 0, sizeof *sb);
  sb->state = RAID_SB_IOERR;
  if (aoe_member_init(&m, t, false) < 0)
    return;
  raid_examine(&m, sb);
  aoe_member_free(&m);
}

static bool known(const struct found *f, const struct aoe_target *t)
{
  for (size_t i = 0; i < f->n; i++)
    if (f->t[i] == t)
      return true;
  return false;
}

static bool before(const struct shelf_addr *a, const struct shelf_addr *b)
{
  return a->shelf < b->shelf || (a->shelf == b->shelf && a->slot < b->slot);
}

/* Make room at F's entry I, the place of address A in shelf.slot order. */
static size_t make_room(struct found *f, const struct shelf_addr *a)
{
  size_t i = 0;

  while (i < f->n && before(&f->a[i], a))
    i++;
  memmove(&f->t[i + 1], &f->t[i], (f->n - i) * sizeof f->t[0]);
  memmove(&f->a[i + 1], &f->a[i], (f->n - i) * sizeof f->a[0]);
  memmove(&f->sb[i + 1], &f->sb[i], (f->n - i) * sizeof f->sb[0]);
  f->n++;
  return i;
}

/* Examine the shelves that answered since the last round; F stays in shelf.slot order. */
static void examine_new(struct aoe_initiator *ini, struct found *f)
{
  static struct aoe_target *all[MAX_SCAN];  /* 32 KiB: not on the stack */
  size_t n = aoe_targets(ini, all, MAX_SCAN);

  for (size_t i = 0; i < n && f->n < MAX_SCAN; i++) {
    struct aoe_target_info info;
    if (known(f, all[i]) || !aoe_target_up(all[i]) || aoe_target_info(all[i], &info) < 0)
      continue;
    struct shelf_addr a = { info.shelf, info.slot };
    size_t at = make_room(f, &a);
    f->t[at] = all[i];
    f->a[at] = a;
    examine(all[i], &f->sb[at]);
  }
}

/* "'vol'", "uuid U" or "'vol' (uuid U)": the array asked for, in messages. */
static const char *wanted_text(const struct params *p, char *buf, size_t len)
{
  char u[37];

  if (p->uuid_given)
    raid_uuid_format(p->uuid, u);
  if (p->name[0] && p->uuid_given)
    snprintf(buf, len, "'%s' (uuid %s)", p->name, u);
  else if (p->uuid_given)
    snprintf(buf, len, "uuid %s", u);
  else
    snprintf(buf, len, "'%s'", p->name);
  return buf;
}

/* Pick the array's shelves from F; the number picked, or -1 after nbdkit_error. */
static int pick(const struct params *p, struct found *f)
{
  char err[512];
  int r = raid_scan_pick(f->sb, f->n, p->name[0] ? p->name : NULL,
                         p->uuid_given ? p->uuid : NULL, f->pick, err, sizeof err);

  if (r < 0)
    nbdkit_error("%s", err);
  return r;
}

/* A round of the scan, for scan_has_members. */
struct scan_round {
  struct aoe_initiator *ini;
  const struct params *p;
  struct found *f;
};

/* Has the scan found every member the array records?  Once it has, a round waits a
 * second at most for another shelf's slow IDENTIFY (aoe_discover_until), not the dead
 * time: one such shelf on the SAN held every round, and a scan takes two at least. */
static int scan_has_members(void *arg)
{
  struct scan_round *s = arg;
  char err[512];
  int r;

  examine_new(s->ini, s->f);
  r = raid_scan_pick(s->f->sb, s->f->n, s->p->name[0] ? s->p->name : NULL,
                     s->p->uuid_given ? s->p->uuid : NULL, s->f->pick, err, sizeof err);
  return r > 0 && raid_scan_complete(s->f->sb, s->f->n, s->f->pick);
}

/* Discover and examine until the array's recorded members all answered and a round
 * brought no new shelf, or the discover time is up; the number picked or -1. */
static int discover(struct aoe_initiator *ini, const struct params *p, struct found *f)
{
  struct scan_round round = { ini, p, f };
  struct timespec start;
  size_t last = (size_t)-1;         /* shelves found by the round before */
  int r;

  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    aoe_discover_until(ini, SCAN_ROUND_MS, scan_has_members, &round);
    examine_new(ini, f);
    if ((r = pick(p, f)) < 0)
      return -1;
    if ((r > 0 && f->n == last && raid_scan_complete(f->sb, f->n, f->pick)) ||
        elapsed_ms(&start) >= (long)p->discover_ms)
      break;
    last = f->n;
  }
  return r;
}

/* The shelves answering but unreadable or of a format this aoeraid cannot judge: one of
 * them may be a member the array lacks, and the admin must hear of it; once every member
 * is found they are only debug lines (another host's array, reserved there, is no news). */
static void warn_unjudged(const struct found *f, bool complete)
{
  for (size_t i = 0; i < f->n; i++) {
    enum raid_sb_state st = f->sb[i].state;
    const char *what = st == RAID_SB_IOERR ? "unreadable (reserved by another host?)"
                     : st == RAID_SB_NEWER ? "from a newer aoeraid"
                     : st == RAID_SB_CORRUPT ? "damaged" : NULL;
    if (what && complete)
      nbdkit_debug("scan: e%u.%u left out: its superblock is %s", f->a[i].shelf,
                   f->a[i].slot, what);
    else if (what)
      log_warning("scan: e%u.%u left out: its superblock is %s", f->a[i].shelf,
                  f->a[i].slot, what);
  }
}

static bool listed(const struct shelf_addr *list, size_t n, const struct shelf_addr *a)
{
  for (size_t i = 0; i < n; i++)
    if (list[i].shelf == a->shelf && list[i].slot == a->slot)
      return true;
  return false;
}

/* Members to p->shelves, spares to p->spares, then those of spares= not found; with no
 * member at all the spares go to shelves=, for assembly to refuse with its reason. */
static int fill_params(struct params *p, const struct found *f)
{
  struct shelf_addr given[RAID_MAX_SPARES];
  size_t n_given = p->n_spares, n_members = 0;

  memcpy(given, p->spares, sizeof given);
  p->n_spares = 0;
  for (size_t i = 0; i < f->n; i++)
    n_members += f->pick[i] == RAID_SCAN_MEMBER;
  for (size_t i = 0; i < f->n; i++) {
    bool member = f->pick[i] == RAID_SCAN_MEMBER || (f->pick[i] && !n_members);
    if (f->pick[i] == RAID_SCAN_OTHER || f->pick[i] == RAID_SCAN_FORMER ||
        f->pick[i] == RAID_SCAN_REMOVED)
      continue;
    if (member ? p->n_shelves == MAX_SHELVES : p->n_spares == RAID_MAX_SPARES) {
      nbdkit_error("scan: more than %d %s of the array found: list the shelves to use in "
                   "shelves= and spares=", member ? MAX_SHELVES : RAID_MAX_SPARES,
                   member ? "members" : "spares");
      return -1;
    }
    if (member)
      p->shelves[p->n_shelves++] = f->a[i];
    else
      p->spares[p->n_spares++] = f->a[i];
  }
  for (size_t i = 0; i < n_given; i++) {
    if (listed(p->shelves, p->n_shelves, &given[i]) || listed(p->spares, p->n_spares, &given[i]))
      continue;
    if (p->n_spares == RAID_MAX_SPARES) {
      nbdkit_error("spares: at most %d spares, with those the scan found", RAID_MAX_SPARES);
      return -1;
    }
    p->spares[p->n_spares++] = given[i];
  }
  return 0;
}

/* Append the shelves F picked as WANT to LINE: ", e1.1, e2.1" after PREFIX. */
static size_t append_picked(const struct found *f, enum raid_scan_pick want,
                            const char *prefix, char *line, size_t used, size_t len)
{
  const char *sep = prefix;

  for (size_t i = 0; i < f->n; i++)
    if (f->pick[i] == want) {
      used += snprintf(line + used, used < len ? len - used : 0, "%se%u.%u", sep,
                       f->a[i].shelf, f->a[i].slot);
      sep = ", ";
    }
  return used;
}

/* "scan: array 'vol' (uuid U) on e1.1, e2.1, spare e4.1" */
static void log_found(const struct found *f, size_t n_spares)
{
  char line[1024], u[37];
  size_t used, first = 0;

  while (f->pick[first] != RAID_SCAN_MEMBER && f->pick[first] != RAID_SCAN_SPARE)
    first++;
  raid_uuid_format(f->sb[first].array_uuid, u);
  used = snprintf(line, sizeof line, "scan: array '%s' (uuid %s) on", f->sb[first].name, u);
  size_t before = used;
  used = append_picked(f, RAID_SCAN_MEMBER, " ", line, used, sizeof line);
  append_picked(f, RAID_SCAN_SPARE, n_spares == 1 ? (used == before ? " spare " : ", spare ")
                : (used == before ? " spares " : ", spares "), line, used, sizeof line);
  log_notice("%s", line);
}

/* The former members and those the admin removed found: logged, and handed to LEFT
 * (auto-readd looks at them again only when they come back). */
static void leave_former(const struct found *f, const struct params *p,
                         void (*left)(struct aoe_target *))
{
  for (size_t i = 0; i < f->n; i++)
    if (f->pick[i] == RAID_SCAN_FORMER) {
      log_notice("scan: e%u.%u left out: a former member of the array (its slot is "
                 "another's since); not reserved", f->a[i].shelf, f->a[i].slot);
      left(f->t[i]);
    }
    else if (f->pick[i] == RAID_SCAN_REMOVED) {
      log_removed_shelf("scan: ", f->a[i].shelf, f->a[i].slot, f->sb[i].name, p->control);
      left(f->t[i]);
    }
}

/* ", 3 of them unreadable (reserved by another head? ...)" for the not-found error: a
 * scan cannot read shelves another head holds, so a takeover names them. */
static const char *unreadable_text(const struct found *f, const struct params *p, char *buf,
                                   size_t len)
{
  size_t n = 0;

  for (size_t i = 0; i < f->n; i++)
    n += f->sb[i].state == RAID_SB_IOERR;
  buf[0] = 0;
  if (n)
    snprintf(buf, len, ", %zu of them unreadable (reserved by another head?%s)", n,
             p->takeover ? " a takeover cannot scan them: list the shelves in shelves= "
             "and spares= with takeover=true" : "");
  return buf;
}

int scan_shelves(struct aoe_initiator *ini, struct params *p,
                 void (*left)(struct aoe_target *))
{
  struct found *f = calloc(1, sizeof *f);
  char ifaces[256], what[128], unread[256];
  int r;

  if (!f) {
    nbdkit_error("scan: %m");
    return -1;
  }
  r = discover(ini, p, f);
  if (r >= 0)
    warn_unjudged(f, r > 0 && raid_scan_complete(f->sb, f->n, f->pick));
  if (r == 0) {
    aoe_iface_names(ini, ifaces, sizeof ifaces);
    nbdkit_error("scan: no shelf holds the array %s: %zu shel%s answered on %s within "
                 "%.1fs%s; check its shelves run and are on this network, or give iface=; "
                 "to create a new array give shelves= and level=",
                 wanted_text(p, what, sizeof what), f->n, f->n == 1 ? "f" : "ves", ifaces,
                 p->discover_ms / 1000.0, unreadable_text(f, p, unread, sizeof unread));
    r = -1;
  }
  if (r > 0) {
    size_t n_spares = 0;
    for (size_t i = 0; i < f->n; i++)
      n_spares += f->pick[i] == RAID_SCAN_SPARE;
    log_found(f, n_spares);
    leave_former(f, p, left);
    r = fill_params(p, f);
  }
  free(f);
  return r < 0 ? -1 : 0;
}

/* The freshest of the superblocks GIVEN[0..N) of the array of *FIRST. */
static const struct raid_sb_summary *freshest_given(const struct raid_sb_summary *const *given,
                                                    size_t n, const struct raid_sb_summary *first)
{
  const struct raid_sb_summary *ref = first;

  for (size_t i = 0; i < n; i++)
    if (given[i]->state == RAID_SB_OK && !memcmp(given[i]->array_uuid, first->array_uuid, 16)
        && given[i]->events > ref->events)
      ref = given[i];
  return ref;
}

/* Is one of GIVEN the member MEMBER_UUID, current in REF's array?  A stale copy of it
 * (a shelf copied, then left behind) does not count: assembly leaves it out. */
static bool member_given(const struct raid_sb_summary *ref,
                         const struct raid_sb_summary *const *given, size_t n,
                         const uint8_t member_uuid[16])
{
  for (size_t i = 0; i < n; i++)
    if (!memcmp(given[i]->member_uuid, member_uuid, 16) && raid_sb_current_member(ref, given[i]))
      return true;
  return false;
}

/* Does REF record a member in a working slot that none of GIVEN is, current? */
static bool lacks_working_member(const struct raid_sb_summary *ref,
                                 const struct raid_sb_summary *const *given, size_t n)
{
  for (unsigned s = 0; s < ref->members && s < RAID_MAX_MEMBERS; s++)
    if ((ref->roles[s] == RAID_ROLE_ACTIVE || ref->roles[s] == RAID_ROLE_RECOVERING)
        && !member_given(ref, given, n, ref->slot_uuid[s]))
      return true;
  return false;
}

/* What scan_refuse_unlisted looks for: the shelves not in shelves= or spares= that hold
 * a current member of REF's array, none of GIVEN. */
struct omitted {
  struct aoe_initiator *ini;
  const struct params *p;
  const struct raid_sb_summary *ref;
  const struct raid_sb_summary *const *given;
  size_t n_given;
  struct found *f;
  size_t at[RAID_MAX_MEMBERS];      /* f's entries of those found, in shelf.slot order */
  size_t n;
};

static bool is_omitted(const struct omitted *o, size_t i)
{
  const struct shelf_addr *a = &o->f->a[i];
  const struct raid_sb_summary *sb = &o->f->sb[i];

  return !listed(o->p->shelves, o->p->n_shelves, a) && !listed(o->p->spares, o->p->n_spares, a)
    && raid_sb_current_member(o->ref, sb)
    && !member_given(o->ref, o->given, o->n_given, sb->member_uuid);
}

/* Is working slot S of REF given or held by one of those found? */
static bool slot_accounted(const struct omitted *o, unsigned s)
{
  if (member_given(o->ref, o->given, o->n_given, o->ref->slot_uuid[s]))
    return true;
  for (size_t i = 0; i < o->n; i++)
    if (!memcmp(o->f->sb[o->at[i]].member_uuid, o->ref->slot_uuid[s], 16))
      return true;
  return false;
}

/* Examine the shelves new since the last look and list those left out; 1 once every
 * working slot GIVEN lacks is found held (the round need not wait for a slow IDENTIFY),
 * else 0. */
static int omitted_found(void *arg)
{
  struct omitted *o = arg;
  const struct raid_sb_summary *ref = o->ref;

  examine_new(o->ini, o->f);
  o->n = 0;
  for (size_t i = 0; i < o->f->n && o->n < RAID_MAX_MEMBERS; i++)
    if (is_omitted(o, i))
      o->at[o->n++] = i;
  for (unsigned s = 0; s < ref->members && s < RAID_MAX_MEMBERS; s++)
    if ((ref->roles[s] == RAID_ROLE_ACTIVE || ref->roles[s] == RAID_ROLE_RECOVERING)
        && !slot_accounted(o, s))
      return 0;
  return 1;
}

/* "name=vol" or "uuid=U": the start that finds every shelf of REF's array. */
static const char *scan_start_text(const struct raid_sb_summary *ref, char *buf, size_t len)
{
  char u[37];

  if (ref->name[0])
    snprintf(buf, len, "name=%s", ref->name);
  else {
    raid_uuid_format(ref->array_uuid, u);
    snprintf(buf, len, "uuid=%s", u);
  }
  return buf;
}

/* "'vol'", or "the array uuid U" for one created without a NAME. */
static const char *array_text(const char *name, const uint8_t uuid[16], char *buf, size_t len)
{
  char u[37];

  if (name[0])
    snprintf(buf, len, "'%s'", name);
  else {
    raid_uuid_format(uuid, u);
    snprintf(buf, len, "the array uuid %s", u);
  }
  return buf;
}

/* The refusal: shelf A holds SB, a current member of REF's array left out of shelves=. */
static void say_omitted(const struct params *p, const struct shelf_addr *a,
                           const struct raid_sb_summary *sb, const struct raid_sb_summary *ref)
{
  char start[64], array[64], then[96];

  /* readonly=true writes no superblock: the member left out stays current */
  if (p->readonly)
    snprintf(then, sizeof then, "degraded; read-only, so it stays current");
  else
    snprintf(then, sizeof then, "degraded: it goes stale; 'aoeraid add e%u.%u' takes it back",
             a->shelf, a->slot);
  nbdkit_error("e%u.%u answers and holds slot %u of %s (current: events %" PRIu64 ", the "
               "array at %" PRIu64 "), but is not in shelves=: list it in shelves= (or start "
               "by %s, which finds every shelf), or give run=true to start without it (%s)",
               a->shelf, a->slot, raid_sb_assembly_role(ref, sb),
               array_text(ref->name, ref->array_uuid, array, sizeof array), sb->events, ref->events,
               scan_start_text(ref, start, sizeof start), then);
}

/* Append to BUF, for each of F's shelves AT[0..N), FMT (with its shelf, slot and the slot
 * it holds in REF's array) joined by ", " and a last " and ": "e2.1 (slot 1) and e3.1
 * (slot 2)". */
static void append_each(const struct found *f, const size_t *at, size_t n,
                        const struct raid_sb_summary *ref, const char *fmt, char *buf,
                        size_t len)
{
  size_t used = strlen(buf);

  for (size_t i = 0; i < n && used < len; i++) {
    const struct shelf_addr *a = &f->a[at[i]];
    used += snprintf(buf + used, len - used, "%s", i == 0 ? "" : i + 1 == n ? " and " : ", ");
    if (used < len)
      used += snprintf(buf + used, len - used, fmt, a->shelf, a->slot,
                       raid_sb_assembly_role(ref, &f->sb[at[i]]));
  }
}

/* append_each of the shelves O found left out, their slots in O->ref's view. */
static void append_each_omitted(const struct omitted *o, const char *fmt, char *buf, size_t len)
{
  append_each(o->f, o->at, o->n, o->ref, fmt, buf, len);
}

/* The refusal for two or more left out: every one named, so that a single fix does. */
static void say_all_omitted(const struct omitted *o)
{
  char start[64], array[64], shelves[512] = "", then[640];

  append_each_omitted(o, "e%u.%u (slot %u)", shelves, sizeof shelves);
  if (o->p->readonly)
    snprintf(then, sizeof then, "degraded; read-only, so they stay current");
  else {
    snprintf(then, sizeof then, "degraded: they go stale; ");
    append_each_omitted(o, "'aoeraid add e%u.%u'", then, sizeof then);
    snprintf(then + strlen(then), sizeof then - strlen(then), " take them back");
  }
  nbdkit_error("%s answer and hold slots of %s (current, the array at events %" PRIu64 "), "
               "but are not in shelves=: list them in shelves= (or start by %s, which finds "
               "every shelf), or give run=true to start without them (%s)", shelves,
               array_text(o->ref->name, o->ref->array_uuid, array, sizeof array),
               o->ref->events, scan_start_text(o->ref, start, sizeof start), then);
}

/* The newest superblock of those found left out, or NULL when none is. */
static const struct raid_sb_summary *newest_omitted(const struct omitted *o)
{
  const struct raid_sb_summary *newest = NULL;

  for (size_t i = 0; i < o->n; i++)
    if (!newest || o->f->sb[o->at[i]].events > newest->events)
      newest = &o->f->sb[o->at[i]];
  return newest;
}

/* Append to BUF the listed shelves found that NEWEST's array has left behind (stale:
 * events + 1 < NEWEST's, as assembly has it), as append_each does; how many. */
static size_t append_stale_listed(const struct omitted *o, const struct raid_sb_summary *newest,
                                  char *buf, size_t len)
{
  size_t at[MAX_SHELVES + RAID_MAX_SPARES] = { 0 }, n = 0;     /* only listed ones count */

  for (size_t i = 0; i < o->f->n; i++) {
    const struct raid_sb_summary *sb = &o->f->sb[i];
    if (sb->state == RAID_SB_OK && !memcmp(sb->array_uuid, newest->array_uuid, 16)
        && sb->events + 1 < newest->events
        && (listed(o->p->shelves, o->p->n_shelves, &o->f->a[i])
            || listed(o->p->spares, o->p->n_spares, &o->f->a[i]))
        && n < sizeof at / sizeof at[0])
      at[n++] = i;
  }
  append_each(o->f, at, n, newest, "e%u.%u", buf, len);
  return n;
}

/* Append to BUF those left out that are current in NEWEST's array (one left out may be as
 * stale as the listed ones), with their slots; how many. */
static size_t append_current_omitted(const struct omitted *o,
                                     const struct raid_sb_summary *newest, char *buf, size_t len)
{
  size_t at[RAID_MAX_MEMBERS] = { 0 }, n = 0;

  for (size_t i = 0; i < o->n; i++)
    if (raid_sb_current_member(newest, &o->f->sb[o->at[i]]))
      at[n++] = o->at[i];
  append_each(o->f, at, n, newest, "e%u.%u (slot %u)", buf, len);
  return n;
}

/* The refusal when the listed shelves are the stale ones: REF, the freshest listed, is
 * behind NEWEST, one left out; REF's view calls those left out current, but it is REF
 * that the array left behind.  Starting from REF (run=true) would serve old data. */
static void say_stale_listed(const struct omitted *o, const struct raid_sb_summary *newest)
{
  char start[64], array[64], stale[256] = "", omitted[512] = "";
  const char *is = append_stale_listed(o, newest, stale, sizeof stale) == 1 ? "is" : "are";
  size_t n_current = append_current_omitted(o, newest, omitted, sizeof omitted);

  nbdkit_error("%s in shelves= %s stale (events %" PRIu64 " < %" PRIu64 "): %s, not in "
               "shelves=, %s %s at events %" PRIu64 ": list %s in shelves= (or start by %s, "
               "which finds every shelf), and %s %s then left out, for 'aoeraid add' to take "
               "back", stale, is, o->ref->events, newest->events, omitted,
               n_current == 1 ? "holds" : "hold",
               array_text(newest->name, newest->array_uuid, array, sizeof array),
               newest->events, n_current == 1 ? "it" : "them",
               scan_start_text(newest, start, sizeof start), stale, is);
}

int scan_refuse_unlisted(struct aoe_initiator *ini, const struct params *p,
                         const struct raid_sb_summary *const *given, size_t n,
                         const struct raid_sb_summary *first)
{
  const struct raid_sb_summary *ref = freshest_given(given, n, first);
  struct omitted o = { .ini = ini, .p = p, .ref = ref, .given = given, .n_given = n };

  if (!lacks_working_member(ref, given, n))
    return 0;
  o.f = calloc(1, sizeof *o.f);
  if (!o.f) {
    nbdkit_error("scan: %m");
    return -1;
  }
  /* discovery stopped once the listed shelves answered: give the others a round, then
   * name every one left out (the first alone made the admin fix one and retry) */
  if (!omitted_found(&o)) {
    aoe_discover_until(ini, SCAN_ROUND_MS, omitted_found, &o);
    omitted_found(&o);
  }
  if (o.n && newest_omitted(&o)->events > ref->events + 1)
    say_stale_listed(&o, newest_omitted(&o));
  else if (o.n == 1)
    say_omitted(p, &o.f->a[o.at[0]], &o.f->sb[o.at[0]], ref);
  else if (o.n > 1)
    say_all_omitted(&o);
  free(o.f);
  return o.n ? -1 : 0;
}

/* Does SB make its shelf the member of a slot ST lacks (not one the administrator
 * failed or removed)?  Its events may be behind: the degraded start bumped the array's. */
static bool lacked_member(struct raid_array *array, const struct raid_status *st,
                          const struct raid_sb_summary *sb)
{
  return sb->state == RAID_SB_OK && !memcmp(sb->array_uuid, st->uuid, 16)
    && sb->role < st->members && st->member[sb->role].role == RAID_ROLE_MISSING
    && !st->member[sb->role].stale
    && !raid_member_removed(array, sb) && !raid_member_failed(array, sb);
}

void scan_unlisted(struct aoe_initiator *ini, const struct params *p,
                   struct raid_array *array)
{
  struct raid_status st;
  struct found *f;
  char what[64];

  if (raid_status(array, &st) < 0 || st.state != RAID_STATE_DEGRADED)
    return;
  f = calloc(1, sizeof *f);
  if (!f)
    return;
  examine_new(ini, f);
  for (size_t i = 0; i < f->n; i++)
    if (!listed(p->shelves, p->n_shelves, &f->a[i])
        && !listed(p->spares, p->n_spares, &f->a[i]) && lacked_member(array, &st, &f->sb[i]))
      log_warning("e%u.%u answers and holds slot %u of %s (events %" PRIu64 ", the "
                  "array now at %" PRIu64 "), but is not in shelves=: the array starts "
                  "without it; list it in shelves= (or start by name= or uuid=, which "
                  "finds every shelf of the array)", f->a[i].shelf, f->a[i].slot,
                  f->sb[i].role, array_text(st.name, st.uuid, what, sizeof what),
                  f->sb[i].events, st.events);
  free(f);
}

/* Create, assemble or refuse: what `nbdkit aoeraid shelves=...` does with its shelves. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <nbdkit-plugin.h>

#include "assemble.h"
#include "scan.h"

struct shelf_state {
  struct raid_sb_summary sb;
  int examine_err;          /* -errno when the superblock could not be read */
};

static const char *member_name(struct raid_member *m)
{
  return m->ops->name(m->member);
}

/* The listed shelves (members, then spares: targets[] follows that order) that did not
 * come up: those silent, and those that answered Query Config but not IDENTIFY (a disk
 * spinning up or busy: aoe_identify_unanswered_ms), each its own reason. */
struct missing {
  char silent[256], slow[256];  /* "e1.1, e2.1", or "" */
  unsigned n_silent, n_slow;
  unsigned slow_ms;             /* the longest a slow one was waited for */
};

static void add_name(char *names, size_t len, const struct shelf_addr *a)
{
  size_t used = strlen(names);

  if (used < len)
    snprintf(names + used, len - used, "%se%u.%u", used ? ", " : "", a->shelf, a->slot);
}

static void find_missing(const struct params *p, struct aoe_initiator *ini,
                         struct aoe_target *const *targets, struct missing *m)
{
  memset(m, 0, sizeof *m);
  for (size_t i = 0; i < p->n_shelves + p->n_spares; i++) {
    const struct shelf_addr *a = i < p->n_shelves ? &p->shelves[i]
                                                  : &p->spares[i - p->n_shelves];
    if (targets[i])
      continue;
    unsigned ms = aoe_identify_unanswered_ms(ini, a->shelf, a->slot);
    if (ms) {
      add_name(m->slow, sizeof m->slow, a);
      m->n_slow++;
      m->slow_ms = ms > m->slow_ms ? ms : m->slow_ms;
    } else {
      add_name(m->silent, sizeof m->silent, a);
      m->n_silent++;
    }
  }
}

void identify_unanswered_line(char *out, size_t len, const char *names, unsigned n,
                              unsigned waited_ms, unsigned dead_time_ms)
{
  snprintf(out, len, "%s answered Query Config but not IDENTIFY within %.1fs: %s may be "
           "spinning up or busy; raise dead-time= (now %.1fs) to wait longer for %s", names,
           waited_ms / 1000.0, n > 1 ? "their disks" : "its disk", dead_time_ms / 1000.0,
           n > 1 ? "them" : "it");
}

/* M in one line: the silent shelves, HINT (what to check for them, "; ..."), then the slow
 * ones with theirs.  "" when none is missing. */
static void missing_line(const struct missing *m, const struct params *p, const char *ifaces,
                         const char *hint, char *out, size_t len)
{
  size_t used = 0;

  out[0] = '\0';
  if (m->n_silent)
    used = (size_t)snprintf(out, len, "%s did not answer on %s within %.1fs%s", m->silent,
                            ifaces, p->discover_ms / 1000.0, hint);
  if (m->n_slow && used < len) {
    used += (size_t)snprintf(out + used, len - used, "%s", used ? "; " : "");
    if (used < len)
      identify_unanswered_line(out + used, len - used, m->slow, m->n_slow, m->slow_ms,
                               p->dead_time_ms);
  }
}

/* Refuse to overwrite a shelf holding something else (unless force=true); 0 or -1. */
static int check_blank(const struct params *p, struct aoe_target *t, struct raid_member *m)
{
  int blank = aoe_shelf_blank(t);

  if (blank < 0) {
    nbdkit_error("%s: cannot read its first sectors: %s", member_name(m), strerror(-blank));
    return -1;
  }
  if (!blank && !p->force) {
    enum raid_meta_state meta;
    if (raid_meta_probe(m, &meta) == 0 && meta == RAID_META_AOERAID)
      nbdkit_error("%s holds an aoeraid write-intent bitmap without its superblock (an "
                   "older aoeraid's remove left it): wipe it with 'aoeraid zero-superblock "
                   "-i IFACE %s', or add force=true", member_name(m), member_name(m));
    else
      nbdkit_error("%s holds data that is not an aoeraid superblock (a filesystem, "
                   "partition table or other RAID in its first 128 KiB): creating an "
                   "array would destroy it; if it is not needed, wipe it where it is "
                   "stored (wipefs -a on the storage node's disk) or add force=true",
                   member_name(m));
    return -1;
  }
  return 0;
}

/* Give each of the shelves a spare's superblock; 0, or -1 after nbdkit_error. */
static int add_spares(struct raid_array *a, struct raid_member *spares, size_t n)
{
  char err[512];

  for (size_t i = 0; i < n; i++)
    if (raid_add_member(a, &spares[i], err, sizeof err) < 0) {
      nbdkit_error("spares: %s", err);
      return -1;
    }
  return 0;
}

/* mdadm --create asks before it builds on members more than 1% apart in size: every member
 * holds only what the smallest can, the rest of the bigger ones stays unused.  nbdkit
 * cannot ask: it says so, naming both. */
static void warn_unequal(struct raid_member *members, size_t n, raid_log_fn *log,
                         void *log_opaque)
{
  size_t small = 0, big = 0;
  char msg[512];

  for (size_t i = 1; i < n; i++) {
    uint64_t size = members[i].ops->size(members[i].member);
    if (size < members[small].ops->size(members[small].member))
      small = i;
    if (size > members[big].ops->size(members[big].member))
      big = i;
  }
  uint64_t min = members[small].ops->size(members[small].member);
  uint64_t max = members[big].ops->size(members[big].member);
  if (max - min <= min / 100)
    return;
  snprintf(msg, sizeof msg, "%s holds %.1f MiB but %s only %.1f MiB: every member uses what "
           "the smallest holds, %.1f MiB of %s stay unused (mdadm asks before that; grow "
           "later with bigger shelves and aoeraid grow size=max)", member_name(&members[big]),
           max / 1048576.0, member_name(&members[small]), min / 1048576.0,
           (max - min) / 1048576.0, member_name(&members[big]));
  log(log_opaque, RAID_LOG_WARN, msg);
}

static struct raid_array *create(const struct params *p, struct aoe_initiator *ini,
                                 struct aoe_target *const *targets, const char *ifaces,
                                 struct raid_member *members, size_t n,
                                 struct raid_member *spares, size_t n_spares,
                                 raid_log_fn *log, void *log_opaque)
{
  char err[512], line[768];
  struct missing missing;

  find_missing(p, ini, targets, &missing);
  if (missing.n_silent + missing.n_slow) {
    missing_line(&missing, p, ifaces, "; check the shelf is running and on this network, "
                 "or give iface=", line, sizeof line);
    nbdkit_error("cannot create the array: %s", line);
    return NULL;
  }
  if (p->readonly) {
    nbdkit_error("no aoeraid array on %s, and %s never creates one: start without %s to "
                 "create it", n == 1 ? "this shelf" : "these shelves", p->readonly_by,
                 params_readonly_undo(p));
    return NULL;
  }
  if (p->uuid_given) {
    nbdkit_error("uuid= names an existing array, but no aoeraid array is on %s: drop "
                 "uuid= to create a new one (it gets a new uuid)",
                 n == 1 ? "this shelf" : "these shelves");
    return NULL;
  }
  if (!p->level_given) {
    nbdkit_error("no aoeraid array on %s: give level= (0, 1, 5, 6, 10 or K+M) to create "
                 "one", n == 1 ? "this shelf" : "these shelves");
    return NULL;
  }
  /* every listed shelf answered: targets[] is members then spares, in order */
  for (size_t i = 0; i < n + n_spares; i++)
    if (check_blank(p, targets[i], i < n ? &members[i] : &spares[i - n]) < 0)
      return NULL;
  struct raid_array *a = raid_create(&p->raid, members, n, log, log_opaque, err, sizeof err);
  if (!a) {
    nbdkit_error("%s", err);
    return NULL;
  }
  warn_unequal(members, n, log, log_opaque);
  if (add_spares(a, spares, n_spares) < 0) {
    raid_close(a);
    a = NULL;
  }
  return a;
}

static int same_uuid(const struct raid_sb_summary *a, const struct raid_sb_summary *b)
{
  return memcmp(a->array_uuid, b->array_uuid, sizeof a->array_uuid) == 0;
}

/* The array SB belongs to, in words: "array 'NAME' (UUID)", or "an unnamed array (UUID)"
 * (it said "array '' (...)"); with THE, "the array 'NAME'" and "the unnamed array (UUID)". */
static const char *array_words(const struct raid_sb_summary *sb, bool the, char *buf,
                               size_t len)
{
  char uuid[37];

  raid_uuid_format(sb->array_uuid, uuid);
  if (sb->name[0] && the)
    snprintf(buf, len, "the array '%s'", sb->name);
  else if (sb->name[0])
    snprintf(buf, len, "array '%s' (%s)", sb->name, uuid);
  else
    snprintf(buf, len, "%s unnamed array (%s)", the ? "the" : "an", uuid);
  return buf;
}

/* Shelves of two arrays, or a blank shelf among an array's members: refuse, naming each. */
static int check_one_array(struct shelf_state *st, struct raid_member *members, size_t n,
                           size_t first_ok)
{
  char array_a[RAID_NAME_MAX + 64], array_b[RAID_NAME_MAX + 64];

  array_words(&st[first_ok].sb, false, array_a, sizeof array_a);
  for (size_t i = 0; i < n; i++) {
    if (st[i].sb.state == RAID_SB_OK && !same_uuid(&st[i].sb, &st[first_ok].sb)) {
      nbdkit_error("mixed arrays: %s belongs to %s but %s to %s; "
                   "list the shelves of one array in shelves= (a shelf of an array that "
                   "is gone is wiped with 'aoeraid zero-superblock -i IFACE SHELF.SLOT')",
                   member_name(&members[first_ok]), array_a, member_name(&members[i]),
                   array_words(&st[i].sb, false, array_b, sizeof array_b));
      return -1;
    }
    if (st[i].sb.state == RAID_SB_NONE) {
      nbdkit_error("%s carries no aoeraid superblock but %s belongs to %s: "
                   "remove %s from shelves=", member_name(&members[i]),
                   member_name(&members[first_ok]), array_a, member_name(&members[i]));
      return -1;
    }
  }
  return 0;
}

static int check_level(const struct params *p, const struct raid_sb_summary *sb,
                       const char *shelf)
{
  char given[32], array[RAID_NAME_MAX + 64];

  if (!p->level_given)
    return 0;
  if (sb->level == p->raid.level &&
      (sb->level != RAID_LEVEL_EC || (sb->k == p->raid.k && sb->m == p->raid.m)))
    return 0;
  level_name(&p->raid, given, sizeof given);
  if (sb->level == RAID_LEVEL_EC)
    nbdkit_error("level=%s given, but %s on %s is %u+%u: drop level= or give "
                 "level=%u+%u", given, array_words(sb, true, array, sizeof array), shelf,
                 sb->k, sb->m, sb->k, sb->m);
  else
    nbdkit_error("level=%s given, but %s on %s is %s: drop level= or give level=%d",
                 given, array_words(sb, true, array, sizeof array), shelf,
                 raid_level_name(sb->level), (int)sb->level);
  return -1;
}

/* chunk= given when assembling must agree, as level= does: a chunk= other than the
 * array's was ignored without a word (the array served with its own).  Not given, the
 * params hold md's default, which an array made with chunk= need not have. */
static int check_chunk(const struct params *p, const struct raid_sb_summary *sb,
                       const char *shelf)
{
  char array[RAID_NAME_MAX + 64];

  if (!params_chunk_given(p) || sb->chunk_bytes == p->raid.chunk_bytes)
    return 0;
  nbdkit_error("chunk=%uK given, but %s on %s has chunks of %uK: drop chunk= (it sizes a "
               "new array's chunks) or give chunk=%uK", p->raid.chunk_bytes / 1024,
               array_words(sb, true, array, sizeof array), shelf, sb->chunk_bytes / 1024,
               sb->chunk_bytes / 1024);
  return -1;
}

/* uuid= with shelves=: the listed shelves must hold that array. */
static int check_uuid(const struct params *p, const struct raid_sb_summary *sb,
                      const char *shelf)
{
  char given[37], found[RAID_NAME_MAX + 64];

  if (!p->uuid_given || !memcmp(sb->array_uuid, p->uuid, sizeof p->uuid))
    return 0;
  raid_uuid_format(p->uuid, given);
  nbdkit_error("uuid=%s given, but %s holds %s: list the shelves of that array, or give "
               "uuid= alone to find them", given, shelf,
               array_words(sb, false, found, sizeof found));
  return -1;
}

/* name= with shelves=: the listed shelves must hold the array of that name (md's
 * --assemble --name): a typo in shelves= would start another array, degraded. */
static int check_name(const struct params *p, const struct raid_sb_summary *sb,
                      const char *shelf)
{
  char found[RAID_NAME_MAX + 64];

  if (!p->name[0] || !strcmp(sb->name, p->name))
    return 0;
  nbdkit_error("name=%s given, but %s holds %s: list the shelves of '%s', or "
               "give name= alone to find them", p->name, shelf,
               array_words(sb, false, found, sizeof found), p->name);
  return -1;
}

/* A listed shelf that did not answer leaves its slot missing, as a dead shelf does; the
 * degraded warning names only the slot (superblocks hold no shelf names), so a typo in
 * shelves= (e3.2 for e3.1) must be named here. */
static void warn_unanswered(const struct params *p, struct aoe_initiator *ini,
                            struct aoe_target *const *targets, const char *ifaces,
                            raid_log_fn *log, void *log_opaque)
{
  char hint[160], msg[768];
  struct missing missing;

  find_missing(p, ini, targets, &missing);
  if (!missing.n_silent && !missing.n_slow)
    return;
  snprintf(hint, sizeof hint, ": the array starts without %s; check that the shelf runs "
           "and its name in shelves= or spares=",
           missing.n_silent + missing.n_slow > 1 ? "them" : "it");
  missing_line(&missing, p, ifaces, hint, msg, sizeof msg);
  if (!missing.n_silent) {
    size_t used = strlen(msg);
    snprintf(msg + used, sizeof msg - used, ": the array starts without %s",
             missing.n_slow > 1 ? "them" : "it");
  }
  log(log_opaque, RAID_LOG_WARN, msg);
}

/* What a slot not active is, in status's words (a shelf that stopped answering is "down",
 * not failed), and "stale" for a member assembly left out for missed updates (a re-add
 * rebuilds it), where status says "missing": no shelf serves the slot. */
static const char *unusable_name(const struct raid_member_status *m)
{
  switch (m->role) {
  case RAID_ROLE_FAULTY: return m->failed ? "faulty" : "down";
  case RAID_ROLE_RECOVERING: return "recovering";
  case RAID_ROLE_MISSING: return m->stale ? "stale" : "missing";
  default: return "?";
  }
}

/* An array that starts degraded is served, but the admin must hear of it. */
static void warn_if_degraded(struct raid_array *a, raid_log_fn *log, void *log_opaque)
{
  struct raid_status st;
  char msg[512];
  size_t used;

  if (raid_status(a, &st) < 0 || st.state != RAID_STATE_DEGRADED)
    return;
  used = snprintf(msg, sizeof msg, "array '%s' is degraded:", st.name);
  for (unsigned i = 0; i < st.members && used < sizeof msg; i++)
    if (st.member[i].role != RAID_ROLE_ACTIVE)
    {
      const char *name = st.member[i].name[0] ? st.member[i].name : st.member[i].stale_name;
      used += snprintf(msg + used, sizeof msg - used, " slot %u %s%s%s", i,
                       unusable_name(&st.member[i]), name[0] ? " " : "", name);
    }
  log(log_opaque, RAID_LOG_WARN, msg);
}

/* A live member left out of shelves= refuses the start before anything is written,
 * unless run=true (md's --run); a scan found every shelf.  ST[0..N): the listed shelves'
 * superblocks, ST[FIRST_OK] the first valid one.  0 or -1 after nbdkit_error. */
static int refuse_omitted(const struct params *p, struct aoe_initiator *ini,
                          const struct shelf_state *st, size_t n, size_t first_ok)
{
  const struct raid_sb_summary *listed[MAX_SHELVES + RAID_MAX_SPARES];

  if (p->scan || p->run)
    return 0;
  for (size_t i = 0; i < n; i++)
    listed[i] = &st[i].sb;
  return scan_refuse_unlisted(ini, p, listed, n, &st[first_ok].sb);
}

/* Sort the spares: this array's superblock (a spare, or a member after a recovery)
 * joins the assembly list members[n..]; blank ones go to fresh[] to be added.  The
 * number now in members[], or -1 after nbdkit_error. */
static ssize_t sort_spares(struct raid_member *members, size_t n, struct raid_member *spares,
                           size_t n_spares, struct raid_member *fresh, size_t *n_fresh)
{
  struct raid_sb_summary sb;

  *n_fresh = 0;
  for (size_t i = 0; i < n_spares; i++) {
    if (raid_examine(&spares[i], &sb) < 0) {
      nbdkit_error("spares: %s: cannot read its superblock", member_name(&spares[i]));
      return -1;
    }
    if (sb.state == RAID_SB_NONE)
      fresh[(*n_fresh)++] = spares[i];
    else
      members[n++] = spares[i];   /* judged with the members: same array or refused */
  }
  return n;
}

/* Read-only, the blank shelves of spares= stay blank: said, naming what made it read-only. */
static void spares_left_blank(const struct params *p, raid_log_fn *log, void *log_opaque)
{
  char line[160];

  snprintf(line, sizeof line, "%s: the blank shelves of spares= are not made spares (that "
           "writes their superblocks)", p->readonly_by);
  log(log_opaque, RAID_LOG_WARN, line);
}

struct raid_array *assemble_or_create(const struct params *p, struct aoe_initiator *ini,
                                      struct aoe_target *const *targets, const char *ifaces,
                                      struct raid_member *listed, size_t n,
                                      struct raid_member *spares, size_t n_spares,
                                      raid_log_fn *log, void *log_opaque)
{
  struct shelf_state st[MAX_SHELVES + RAID_MAX_SPARES];
  struct raid_member members[MAX_SHELVES + RAID_MAX_SPARES], fresh[RAID_MAX_SPARES];
  size_t first_ok, n_none = 0, n_fresh = 0, n_listed = n;
  ssize_t total;
  char err[512];

  if (n == 0) {
    char line[768];
    struct missing missing;
    find_missing(p, ini, targets, &missing);
    missing_line(&missing, p, ifaces, "; check the shelves run (vblade SHELF SLOT IFACE "
                 "FILE) and are on this network, or give iface=", line, sizeof line);
    nbdkit_error("no shelf came up: %s", line);
    return NULL;
  }
  memcpy(members, listed, n * sizeof *members);
  first_ok = n;
  for (size_t i = 0; i < n; i++) {
    st[i].examine_err = raid_examine(&members[i], &st[i].sb);
    if (st[i].examine_err < 0) {
      nbdkit_error("%s: cannot read its superblock: %s", member_name(&members[i]),
                   strerror(-st[i].examine_err));
      return NULL;
    }
    if (st[i].sb.state == RAID_SB_OK && first_ok == n)
      first_ok = i;
    n_none += st[i].sb.state == RAID_SB_NONE;
  }
  if (n_none == n)
    return create(p, ini, targets, ifaces, members, n, spares, n_spares, log, log_opaque);
  total = sort_spares(members, n, spares, n_spares, fresh, &n_fresh);
  if (total < 0)
    return NULL;
  for (n = n_listed; n < (size_t)total; n++)
    if ((st[n].examine_err = raid_examine(&members[n], &st[n].sb)) < 0)
      return NULL;
  if (first_ok < n) {
    /* a wrong uuid= or name= first: the shelves listed are then another array's, what
     * else is wrong with them is beside the point */
    if (check_uuid(p, &st[first_ok].sb, member_name(&members[first_ok])) < 0 ||
        check_name(p, &st[first_ok].sb, member_name(&members[first_ok])) < 0 ||
        check_one_array(st, members, n, first_ok) < 0 ||
        check_level(p, &st[first_ok].sb, member_name(&members[first_ok])) < 0 ||
        check_chunk(p, &st[first_ok].sb, member_name(&members[first_ok])) < 0 ||
        refuse_omitted(p, ini, st, n, first_ok) < 0)
      return NULL;
  }
  unsigned flags = (p->force ? RAID_ASSEMBLE_FORCE : 0)
                   | (p->readonly ? RAID_ASSEMBLE_READONLY : 0);
  struct raid_array *a = raid_assemble(members, n, flags, log, log_opaque, err, sizeof err);
  if (!a) {
    nbdkit_error("%s", err);
    return NULL;
  }
  if (p->readonly && n_fresh)
    spares_left_blank(p, log, log_opaque);
  else if (add_spares(a, fresh, n_fresh) < 0) {
    raid_close(a);
    return NULL;
  }
  warn_unanswered(p, ini, targets, ifaces, log, log_opaque);
  warn_if_degraded(a, log, log_opaque);
  return a;
}

/* aoeraid zero-superblock SHELF.SLOT...: md's --zero-superblock for AoE shelves, whose
 * disks sit behind vblade or in EtherDrive hardware with no shell to wipe them from.
 *
 * It erases aoeraid's metadata area (raid_wipe: zeros over [RAID_META_START,
 * RAID_META_END), 4 KiB to 64 KiB: the superblock, the write-intent bitmap and the room
 * after them; never the first 4 KiB, never data, which starts at RAID_META_END or above),
 * flushes, and reads back that no superblock, nor anything else of aoeraid's, is left.
 *
 * md refuses only a device in a running array, which it can see; from here a running
 * array is visible only by its AoE reservations, and an array started with reserve=false
 * holds none.  So, shelf by shelf:
 *  - reserved by any host (another head, or an nbdkit aoeraid on this one): refused,
 *    --force or not; otherwise it is reserved for the wipe (a head starting meanwhile is
 *    refused by the shelf) and released after;
 *  - a sound superblock: a member or spare of its array (raid_scan_pick over every shelf
 *    that answers) is refused without --force, naming the array, its uuid and the role;
 *    a former member (the freshest superblock of its array, on another shelf, records
 *    another member in each slot it could hold) is wiped: its array moved on without it;
 *    so is a member or spare that superblock lists as removed by the administrator;
 *  - a damaged superblock (the magic, a bad checksum or impossible fields) is wiped: no
 *    array can take it back, and add tells the admin to wipe it;
 *  - a newer aoeraid's superblock, which this one cannot judge: refused without --force;
 *  - no superblock: nothing to do (exit 0), even with --force: what is there may be a
 *    filesystem; but a stale aoeraid bitmap alone (an older aoeraid's remove wiped only
 *    the superblock) is wiped.
 * Every shelf is judged before any is written: one refused (or not answering, or
 * unreadable) and none is written. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aoe.h"
#include "aoe-member.h"
#include "raid.h"
#include "shelves.h"
#include "zero.h"

#define MAX_HOLDERS 8

enum verdict { Z_NOTHING, Z_WIPE, Z_REFUSED };

/* One shelf named. */
struct zero {
  struct aoe_target *t;
  char name[24];
  struct raid_member m;         /* m.member NULL until made */
  int reserved;                 /* we hold its reservation, for the wipe */
  struct raid_sb_summary sb;
  enum raid_meta_state meta;
  enum verdict verdict;
  char what[768];               /* Z_WIPE, Z_NOTHING: what it holds; Z_REFUSED: why */
};

/* "02:00:00:00:00:01 (another head)" for each of the N MACS. */
static void holders_text(struct aoe_initiator *ini, uint8_t (*macs)[6], int n, char *buf,
                         size_t len)
{
  size_t used = 0;

  buf[0] = '\0';
  for (int i = 0; i < n && i < MAX_HOLDERS && used < len; i++)
    used += (size_t)snprintf(buf + used, len - used,
                             "%s%02x:%02x:%02x:%02x:%02x:%02x (%s)", i ? ", " : "",
                             macs[i][0], macs[i][1], macs[i][2], macs[i][3], macs[i][4],
                             macs[i][5], aoe_local_mac(ini, macs[i])
                             ? "this host: an nbdkit aoeraid here" : "another head");
}

static void refuse_in_use(struct zero *z, const char *holders)
{
  z->verdict = Z_REFUSED;
  snprintf(z->what, sizeof z->what, "%s is in use: reserved by %s: stop the nbdkit aoeraid "
           "that holds it, or 'aoeraid remove' the shelf from its array first", z->name,
           holders);
}

/* Refuse a shelf reserved by any host; reserve the others for the wipe.  A shelf that
 * cannot say who holds it (no Reserve/Release) is judged without a reservation. */
static void claim(struct aoe_initiator *ini, struct zero *z)
{
  uint8_t macs[MAX_HOLDERS][6];
  char holders[MAX_HOLDERS * 64], err[256];
  int n = aoe_reserve_read(z->t, macs, MAX_HOLDERS), r;

  if (n > 0) {
    holders_text(ini, macs, n, holders, sizeof holders);
    refuse_in_use(z, holders);
    return;
  }
  if (n < 0)
    return;
  r = aoe_reserve(z->t, 0, err, sizeof err);
  if (r == 0)
    z->reserved = 1;
  else if (r == -EBADE) {      /* taken since we looked */
    n = aoe_reserve_read(z->t, macs, MAX_HOLDERS);
    holders_text(ini, macs, n, holders, sizeof holders);
    refuse_in_use(z, n > 0 ? holders : "another host");
  } else {
    z->verdict = Z_REFUSED;
    snprintf(z->what, sizeof z->what, "%s: cannot reserve it for the wipe: %s", z->name, err);
  }
}

/* Read what Z holds: its superblock and its metadata area.  0, or -1 refused. */
static int look(struct zero *z)
{
  int r;

  if (aoe_member_init(&z->m, z->t, false) < 0) {
    z->verdict = Z_REFUSED;
    snprintf(z->what, sizeof z->what, "%s: %s", z->name, strerror(errno));
    return -1;
  }
  r = raid_examine(&z->m, &z->sb);
  if (r == 0)
    r = raid_meta_probe(&z->m, &z->meta);
  if (r < 0) {
    char holder[24];
    z->verdict = Z_REFUSED;
    if (shelf_holder(z->t, holder, sizeof holder))
      snprintf(z->what, sizeof z->what, "%s cannot be read: reserved by %s", z->name, holder);
    else
      snprintf(z->what, sizeof z->what, "%s cannot be read: %s%s%s", z->name,
               strerror(-r), *aoe_target_last_error(z->t) ? ": " : "",
               aoe_target_last_error(z->t));
    return -1;
  }
  return 0;
}

/* "slot 0", "a spare", "the new member of a replace of slot 1". */
static const char *role_text(const struct raid_sb_summary *sb, char *buf, size_t len)
{
  if (sb->replacement && sb->replace_slot >= 0)
    snprintf(buf, len, "the new member of a replace of slot %d", sb->replace_slot);
  else if (sb->role == RAID_SB_ROLE_SPARE)
    snprintf(buf, len, "a spare");
  else
    snprintf(buf, len, "slot %u", sb->role);
  return buf;
}

/* The superblocks of every shelf that answers (the named ones as read already), for
 * raid_scan_pick; *AT[i] the index of Z[i] among them. */
struct peers {
  struct raid_sb_summary sb[MAX_NAMED];
  size_t n, at[MAX_NAMED];
};

static void read_peers(struct aoe_initiator *ini, struct zero *z, size_t nz, struct peers *p)
{
  struct aoe_target *all[MAX_NAMED];
  size_t n = aoe_targets(ini, all, MAX_NAMED);

  p->n = 0;
  for (size_t j = 0; j < nz; j++)
    p->at[j] = SIZE_MAX;        /* not among them (past MAX_NAMED): judged alone */
  for (size_t i = 0; i < n; i++) {
    struct raid_sb_summary *sb = &p->sb[p->n++];
    struct raid_member m;
    size_t j;

    for (j = 0; j < nz && z[j].t != all[i]; j++)
      ;
    if (j < nz) {
      *sb = z[j].sb;
      p->at[j] = p->n - 1;
    } else if (aoe_member_init(&m, all[i], false) == 0) {
      if (raid_examine(&m, sb) < 0)
        sb->state = RAID_SB_IOERR;   /* another head's, say: not of the array's for us */
      aoe_member_free(&m);
    } else
      sb->state = RAID_SB_IOERR;
  }
}

/* Did the array of Z, whose superblock is sound, leave Z behind: RAID_SCAN_FORMER (older
 * than the freshest superblock of that array among the shelves that answer, which records
 * it in no slot), RAID_SCAN_REMOVED (that superblock lists it removed by the
 * administrator), else RAID_SCAN_OTHER? */
static enum raid_scan_pick left_behind(struct zero *z, size_t i, const struct peers *p)
{
  enum raid_scan_pick pick[MAX_NAMED];
  char err[256];

  if (p->at[i] == SIZE_MAX ||
      raid_scan_pick(p->sb, p->n, NULL, z[i].sb.array_uuid, pick, err, sizeof err) < 0)
    return RAID_SCAN_OTHER;
  return pick[p->at[i]] == RAID_SCAN_FORMER || pick[p->at[i]] == RAID_SCAN_REMOVED
    ? pick[p->at[i]] : RAID_SCAN_OTHER;
}

static void judge(struct zero *z, size_t i, const struct peers *p, int force)
{
  struct zero *y = &z[i];
  char uuid[37], role[64];
  enum raid_scan_pick left;

  switch (y->sb.state) {
  case RAID_SB_NONE:
    if (y->meta == RAID_META_AOERAID) {
      y->verdict = Z_WIPE;
      snprintf(y->what, sizeof y->what, "a stale aoeraid write-intent bitmap (no "
               "superblock)");
    } else {
      y->verdict = Z_NOTHING;
      snprintf(y->what, sizeof y->what, "no aoeraid superblock%s: nothing to do",
               y->meta == RAID_META_OTHER ? " (it holds other data, left alone)" : "");
    }
    return;
  case RAID_SB_OK:
    raid_uuid_format(y->sb.array_uuid, uuid);
    role_text(&y->sb, role, sizeof role);
    left = left_behind(z, i, p);
    if (left == RAID_SCAN_FORMER) {
      y->verdict = Z_WIPE;
      snprintf(y->what, sizeof y->what, "a former member (%s) of array '%s' (%s), whose "
               "slot another holds since", role, y->sb.name, uuid);
    } else if (left == RAID_SCAN_REMOVED) {
      y->verdict = Z_WIPE;
      snprintf(y->what, sizeof y->what, "a member (%s) of array '%s' (%s) that its "
               "administrator removed (the array lists it)", role, y->sb.name, uuid);
    } else if (force) {
      y->verdict = Z_WIPE;
      snprintf(y->what, sizeof y->what, "%s of array '%s' (%s), events %" PRIu64 " "
               "(--force)", role, y->sb.name, uuid, y->sb.events);
    } else {
      y->verdict = Z_REFUSED;
      snprintf(y->what, sizeof y->what, "%s is %s of array '%s' (%s), events %" PRIu64
               ": that array may be running (started with reserve=false, it holds no "
               "reservation); if it is gone, pass --force", y->name, role, y->sb.name,
               uuid, y->sb.events);
    }
    return;
  case RAID_SB_CORRUPT:
    y->verdict = Z_WIPE;
    snprintf(y->what, sizeof y->what, "a damaged aoeraid superblock (%s)",
             *y->sb.problem ? y->sb.problem : "bad checksum or impossible fields");
    return;
  case RAID_SB_NEWER:
    y->verdict = force ? Z_WIPE : Z_REFUSED;
    if (force)
      snprintf(y->what, sizeof y->what, "a superblock of a newer aoeraid (format %u) "
               "(--force)", y->sb.version);
    else
      snprintf(y->what, sizeof y->what, "%s holds a superblock of a newer aoeraid (format "
               "%u), which this one cannot judge: its array may be running; if it is gone, "
               "pass --force", y->name, y->sb.version);
    return;
  case RAID_SB_IOERR:
    break;
  }
  y->verdict = Z_REFUSED;
  snprintf(y->what, sizeof y->what, "%s cannot be read", y->name);
}

/* Write zeros over the metadata area, flush, read back.  0, or -1 said on stderr. */
static int wipe(const char *progname, struct zero *z)
{
  struct raid_sb_summary sb;
  enum raid_meta_state meta;
  int r = raid_wipe(&z->m);

  if (r < 0) {
    fprintf(stderr, "%s: %s: the wipe failed: %s%s%s\n", progname, z->name, strerror(-r),
            *aoe_target_last_error(z->t) ? ": " : "", aoe_target_last_error(z->t));
    return -1;
  }
  r = raid_examine(&z->m, &sb);
  if (r == 0)
    r = raid_meta_probe(&z->m, &meta);
  if (r < 0) {
    fprintf(stderr, "%s: %s: written and flushed, but it cannot be read back: %s\n",
            progname, z->name, strerror(-r));
    return -1;
  }
  if (sb.state != RAID_SB_NONE || meta != RAID_META_BLANK) {
    fprintf(stderr, "%s: %s: written and flushed, but reading it back still finds aoeraid "
            "metadata: does the shelf drop writes (a read-only vblade, a cache)?\n",
            progname, z->name);
    return -1;
  }
  printf("%s: wiped %s: no aoeraid superblock or bitmap is left\n", z->name, z->what);
  return 0;
}

int zero_main(const char *progname, struct aoe_initiator *ini, const struct shelf_addr *addrs,
              size_t naddrs, unsigned wait_ms, int force)
{
  struct aoe_target *targets[MAX_NAMED];
  size_t missing, n = find_named(progname, ini, addrs, naddrs, wait_ms, targets, &missing);
  size_t refused = 0, failed = 0;
  struct peers *p = calloc(1, sizeof *p);
  struct zero *z = calloc(n ? n : 1, sizeof *z);

  if (!p || !z) {
    fprintf(stderr, "%s: zero-superblock: out of memory\n", progname);
    free(p);
    free(z);
    return 1;
  }
  for (size_t i = 0; i < n; i++) {
    z[i].t = targets[i];
    aoe_target_name(targets[i], z[i].name, sizeof z[i].name);
    claim(ini, &z[i]);
    if (z[i].verdict != Z_REFUSED)
      look(&z[i]);
  }
  read_peers(ini, z, n, p);
  for (size_t i = 0; i < n; i++) {
    if (z[i].verdict != Z_REFUSED)
      judge(z, i, p, force);
    if (z[i].verdict == Z_REFUSED) {
      fprintf(stderr, "%s: %s\n", progname, z[i].what);
      refused++;
    }
  }
  if (refused || missing)
    fprintf(stderr, "%s: zero-superblock: nothing written to any shelf\n", progname);
  for (size_t i = 0; i < n && !refused && !missing; i++)
    if (z[i].verdict == Z_NOTHING)
      printf("%s: %s\n", z[i].name, z[i].what);
    else if (wipe(progname, &z[i]) < 0)
      failed++;
  for (size_t i = 0; i < n; i++) {
    if (z[i].reserved)
      aoe_release(z[i].t);
    if (z[i].m.member)
      aoe_member_free(&z[i].m);
  }
  free(p);
  free(z);
  return refused || missing || failed ? 1 : 0;
}

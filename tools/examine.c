/* aoeraid examine [SHELF.SLOT...]: md's --examine and --examine --scan for AoE shelves.
 * Reads each shelf's aoeraid superblock (raid_examine through the AoE member backend,
 * reads only: nothing is reserved or written), prints what it holds, then one summary per
 * array found: which shelf holds each slot, the stale ones assembly would leave out, the
 * missing slots, the spares, and the nbdkit commands that start it: with its shelves
 * listed, and by uuid alone (the plugin's scan, md's ARRAY line for mdadm.conf). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aoe.h"
#include "aoe-member.h"
#include "examine.h"
#include "shelves.h"
#include "raid.h"
#include "json.h"
#include "text.h"

/* every shelf that answered when none is named (the initiator tracks up to
 * AOE_MAX_TARGETS), at most MAX_NAMED named */
#define MAX_EXAM AOE_MAX_TARGETS
_Static_assert(MAX_EXAM >= MAX_NAMED, "room for every shelf named");

/* One shelf looked at. */
struct exam {
  char name[24];
  uint64_t bytes;
  struct raid_sb_summary sb;   /* sb.state says what the superblock holds */
  int blank;                   /* RAID_SB_NONE: 1 all zeros, 0 other data, -errno unread */
  int stale_bitmap;            /* RAID_SB_NONE: the other data is an aoeraid bitmap */
  char error[200];             /* RAID_SB_IOERR: why */
  char holder[18];             /* the MAC holding its AoE reservation, "" when none */
};

static const char *role_text(enum raid_role_state r)
{
  static const char *const names[] = { "active", "spare", "faulty", "missing", "recovering" };
  return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "unknown";
}

/* raid5, or 2+2 for ec (the plugin's level= takes both). */
static const char *level_text(const struct raid_sb_summary *sb, char *buf, size_t len)
{
  if (sb->level != RAID_LEVEL_EC)
    return raid_level_name(sb->level);
  snprintf(buf, len, "%u+%u", sb->k, sb->m);
  return buf;
}

static void exam_one(struct exam *e, struct aoe_target *t)
{
  struct aoe_target_info info;
  struct raid_member m;
  int err;

  aoe_target_info(t, &info);
  snprintf(e->name, sizeof e->name, "e%u.%u", info.shelf, info.slot);
  e->bytes = info.sectors * 512;
  shelf_holder(t, e->holder, sizeof e->holder);
  /* poll=false: one read at a time, nothing to gain from polling. */
  if (aoe_member_init(&m, t, false) < 0) {
    e->sb.state = RAID_SB_IOERR;
    snprintf(e->error, sizeof e->error, "%s", strerror(errno));
    return;
  }
  err = raid_examine(&m, &e->sb);
  if (err < 0)
    snprintf(e->error, sizeof e->error, "%s%s%s", strerror(-err),
             *aoe_target_last_error(t) ? ": " : "", aoe_target_last_error(t));
  else if (e->sb.state == RAID_SB_NONE) {
    enum raid_meta_state meta;
    e->blank = aoe_shelf_blank(t);
    e->stale_bitmap = e->blank == 0 && raid_meta_probe(&m, &meta) == 0 &&
                      meta == RAID_META_AOERAID;
  }
  aoe_member_free(&m);
}

/* ---- per shelf ------------------------------------------------------------------------ */

/* What a shelf without a usable superblock holds instead: one line. */
static const char *exam_instead(const struct exam *e, char *buf, size_t len)
{
  switch (e->sb.state) {
  case RAID_SB_NONE:
    if (e->stale_bitmap)
      return "no aoeraid superblock, but a stale aoeraid write-intent bitmap (an older "
             "aoeraid's remove left it): 'aoeraid zero-superblock' wipes it";
    return e->blank > 0 ? "no aoeraid superblock: blank (its first 128 KiB are zeros)"
         : e->blank == 0 ? "no aoeraid superblock: holds other data (a filesystem, partition "
                           "table or other RAID?)"
         : "no aoeraid superblock (its first 128 KiB could not be read)";
  case RAID_SB_CORRUPT:
    snprintf(buf, len, "damaged aoeraid superblock (%s)",
             *e->sb.problem ? e->sb.problem : "bad checksum or impossible fields");
    return buf;
  case RAID_SB_NEWER:
    snprintf(buf, len, "aoeraid superblock from a newer aoeraid (format %u): use a newer "
             "aoeraid", e->sb.version);
    return buf;
  case RAID_SB_IOERR:
    snprintf(buf, len, "unreadable: %s", e->error);
    return buf;
  case RAID_SB_OK:
    break;
  }
  return "";
}

static int recovering_slot(const struct raid_sb_summary *sb)
{
  for (unsigned i = 0; i < sb->members && i < RAID_MAX_MEMBERS; i++)
    if (sb->roles[i] == RAID_ROLE_RECOVERING)
      return (int)i;
  return -1;
}

/* "replacement of slot 1, 37% copied": the member the array records as replacing a slot
 * (md: a replacement), whose role reads spare to an older aoeraid; NULL for any other. */
static const char *replacement_text(const struct raid_sb_summary *sb, char *buf, size_t len)
{
  if (!sb->replacement || sb->replace_slot < 0)
    return NULL;
  snprintf(buf, len, "replacement of slot %d, %u%% copied", sb->replace_slot,
           sb->replace_units ? (unsigned)(sb->replace_offset * 100 / sb->replace_units) : 0);
  return buf;
}

/* Is slot I's member write-mostly (md's --write-mostly), as SB records it? */
static int writemostly_slot(const struct raid_sb_summary *sb, unsigned i)
{
  return i < RAID_MAX_MEMBERS && ((sb->writemostly >> i) & 1);
}

static void print_sb_text(const struct raid_sb_summary *sb)
{
  char repl[80];
  char uuid[37], level[16], size[32], when[32] = "?";
  time_t ctime = (time_t)sb->ctime;
  struct tm tm;

  raid_uuid_format(sb->array_uuid, uuid);
  printf("        array : %s\n         uuid : %s\n", sb->name, uuid);
  printf("        level : %s\n      members : %u\n", level_text(sb, level, sizeof level),
         sb->members);
  format_size(sb->chunk_bytes, size, sizeof size);
  printf("        chunk : %s\n", size);
  format_size(sb->array_size, size, sizeof size);
  printf("   array size : %s (%" PRIu64 " bytes)\n", size, sb->array_size);
  if (gmtime_r(&ctime, &tm))
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
  printf("      created : %s\n", when);
  if (replacement_text(sb, repl, sizeof repl))
    printf("         role : %s\n", repl);
  else if (sb->role == RAID_SB_ROLE_SPARE)
    printf("         role : spare\n");
  else
    printf("         role : slot %u%s\n", sb->role,
           writemostly_slot(sb, sb->role) ? ", write-mostly" : "");
  raid_uuid_format(sb->member_uuid, uuid);
  printf("  member uuid : %s\n       events : %" PRIu64 "\n        state : %s\n", uuid,
         sb->events, sb->clean ? "clean" : "dirty");
  printf("      version : %u\n  data offset : %" PRIu64 " (data size %" PRIu64 ")\n",
         sb->version, sb->data_offset, sb->data_size);
  if (sb->ppl)
    printf("  consistency : ppl (partial parity log)\n");
  printf("        slots :");
  for (unsigned i = 0; i < sb->members && i < RAID_MAX_MEMBERS; i++)
    printf("%s %u %s%s", i ? "," : "", i, role_text(sb->roles[i]),
           writemostly_slot(sb, i) ? " (W)" : "");     /* md's mark in /proc/mdstat */
  printf("\n");
  if (recovering_slot(sb) >= 0)
    printf("     recovery : slot %d, %" PRIu64 " units rebuilt\n", recovering_slot(sb),
           sb->recovery_offset == UINT64_MAX ? 0 : sb->recovery_offset);
  if (sb->resync_offset != UINT64_MAX)
    printf("       resync : %.1f%% (%" PRIu64 " of %" PRIu64 " units in sync)%s\n",
           sb->resync_units ? 100.0 * sb->resync_offset / sb->resync_units : 0.0,
           sb->resync_offset, sb->resync_units, sb->resync_after_crash
           ? ", after a crash: a degraded start wants force until it ends" : "");
  if (sb->reshape_position != RAID_RESHAPE_NONE)
    printf("      reshape : %" PRIu64 " bytes of the array moved to the new layout\n",
           sb->reshape_position);
  if (sb->replace_slot >= 0)
    printf("      replace : slot %d, %" PRIu64 " of %" PRIu64 " units copied\n",
           sb->replace_slot, sb->replace_offset, sb->replace_units);
  for (unsigned i = 0; i < sb->removed && i < RAID_MAX_REMOVED; i++) {
    raid_uuid_format(sb->removed_uuid[i], uuid);
    printf("%s%s", i ? ", " : "      removed : ", uuid);
  }
  if (sb->removed)
    printf("\n");
  for (unsigned i = 0; i < sb->failed && i < RAID_MAX_FAILED; i++) {
    raid_uuid_format(sb->failed_uuid[i], uuid);
    printf("%s%s", i ? ", " : "       failed : ", uuid);
  }
  if (sb->failed)
    printf("\n");
}

static void print_exam_text(const struct exam *e)
{
  char size[32], buf[300];

  format_size(e->bytes, size, sizeof size);
  printf("%s  %s\n", e->name, size);
  if (e->sb.state == RAID_SB_OK)
    print_sb_text(&e->sb);
  else
    printf("  %s\n", exam_instead(e, buf, sizeof buf));
  printf("\n");
}

static const char *const sb_state_json[] = {
  [RAID_SB_NONE] = "none", [RAID_SB_OK] = "ok", [RAID_SB_CORRUPT] = "damaged",
  [RAID_SB_NEWER] = "newer", [RAID_SB_IOERR] = "unreadable",
};

/* null for UINT64_MAX (none). */
static void json_u64_or_null(const char *key, uint64_t v, uint64_t none)
{
  if (v == none)
    printf(",\"%s\":null", key);
  else
    printf(",\"%s\":%" PRIu64, key, v);
}

static void print_sb_json(const struct raid_sb_summary *sb)
{
  char uuid[37], level[16];

  printf(",\"array_name\":");
  json_string(stdout, sb->name);
  raid_uuid_format(sb->array_uuid, uuid);
  printf(",\"array_uuid\":\"%s\",\"level\":\"%s\",\"k\":%u,\"m\":%u,\"members\":%u,"
         "\"chunk\":%u,\"array_size\":%" PRIu64 ",\"created\":%" PRIu64, uuid,
         level_text(sb, level, sizeof level), sb->k, sb->m, sb->members, sb->chunk_bytes,
         sb->array_size, sb->ctime);
  raid_uuid_format(sb->member_uuid, uuid);
  if (sb->replacement && sb->replace_slot >= 0)
    printf(",\"role\":\"replacement\",\"slot\":%d", sb->replace_slot);
  else if (sb->role == RAID_SB_ROLE_SPARE)
    printf(",\"role\":\"spare\",\"slot\":null");
  else
    printf(",\"role\":\"slot\",\"slot\":%u", sb->role);
  printf(",\"member_uuid\":\"%s\",\"events\":%" PRIu64 ",\"clean\":%s,\"version\":%u,"
         "\"data_offset\":%" PRIu64 ",\"data_size\":%" PRIu64 ",\"slots\":[", uuid, sb->events,
         sb->clean ? "true" : "false", sb->version, sb->data_offset, sb->data_size);
  for (unsigned i = 0; i < sb->members && i < RAID_MAX_MEMBERS; i++)
    printf("%s\"%s\"", i ? "," : "", role_text(sb->roles[i]));
  printf("],\"ppl\":%s,\"writemostly\":[", sb->ppl ? "true" : "false");
  for (unsigned i = 0, any = 0; i < sb->members && i < RAID_MAX_MEMBERS; i++)
    if (writemostly_slot(sb, i))
      printf("%s%u", any++ ? "," : "", i);
  printf("]");
  if (recovering_slot(sb) >= 0)
    printf(",\"recovery_slot\":%d", recovering_slot(sb));
  else
    printf(",\"recovery_slot\":null");
  json_u64_or_null("recovery_offset", recovering_slot(sb) >= 0 ? sb->recovery_offset
                                                                : UINT64_MAX, UINT64_MAX);
  if (sb->resync_offset != UINT64_MAX)
    printf(",\"resync\":{\"done\":%" PRIu64 ",\"total\":%" PRIu64 ",\"after_crash\":%s}",
           sb->resync_offset, sb->resync_units, sb->resync_after_crash ? "true" : "false");
  else
    printf(",\"resync\":null");
  json_u64_or_null("reshape_position", sb->reshape_position, RAID_RESHAPE_NONE);
  if (sb->replace_slot >= 0)
    printf(",\"replace\":{\"slot\":%d,\"done\":%" PRIu64 ",\"total\":%" PRIu64 "}",
           sb->replace_slot, sb->replace_offset, sb->replace_units);
  else
    printf(",\"replace\":null");
  printf(",\"removed\":[");
  for (unsigned i = 0; i < sb->removed && i < RAID_MAX_REMOVED; i++) {
    raid_uuid_format(sb->removed_uuid[i], uuid);
    printf("%s\"%s\"", i ? "," : "", uuid);
  }
  printf("],\"failed\":[");
  for (unsigned i = 0; i < sb->failed && i < RAID_MAX_FAILED; i++) {
    raid_uuid_format(sb->failed_uuid[i], uuid);
    printf("%s\"%s\"", i ? "," : "", uuid);
  }
  printf("]");
}

static void print_exam_json(const struct exam *e, int first)
{
  char buf[300];

  printf("%s{\"name\":\"%s\",\"bytes\":%" PRIu64 ",\"superblock\":\"%s\"", first ? "" : ",",
         e->name, e->bytes, sb_state_json[e->sb.state]);
  if (e->sb.state == RAID_SB_OK)
    print_sb_json(&e->sb);
  else {
    printf(",\"what\":");
    json_string(stdout, exam_instead(e, buf, sizeof buf));
  }
  if (e->sb.state == RAID_SB_NONE)
    printf(",\"blank\":%s,\"stale_bitmap\":%s",
           e->blank > 0 ? "true" : e->blank == 0 ? "false" : "null",
           e->stale_bitmap ? "true" : "false");
  if (e->sb.state == RAID_SB_NEWER)
    printf(",\"version\":%u", e->sb.version);
  if (e->sb.state == RAID_SB_IOERR) {
    printf(",\"error\":");
    json_string(stdout, e->error);
  }
  printf("}");
}

/* ---- per array (--scan) --------------------------------------------------------------- */

static int same_array(const struct exam *a, const struct exam *b)
{
  return a->sb.state == RAID_SB_OK && b->sb.state == RAID_SB_OK &&
         !memcmp(a->sb.array_uuid, b->sb.array_uuid, 16);
}

/* The first shelf of E's array: each array is summarised once, at its first shelf. */
static int first_of_array(const struct exam *ex, size_t i)
{
  for (size_t j = 0; j < i; j++)
    if (same_array(&ex[j], &ex[i]))
      return 0;
  return ex[i].sb.state == RAID_SB_OK;
}

/* The freshest superblock of E's array: what assembly goes by. */
static const struct raid_sb_summary *freshest(const struct exam *ex, size_t n, size_t i)
{
  const struct raid_sb_summary *ref = &ex[i].sb;
  for (size_t j = 0; j < n; j++)
    if (same_array(&ex[j], &ex[i]) && ex[j].sb.events > ref->events)
      ref = &ex[j].sb;
  return ref;
}

/* The MAC reserving a shelf of E's array (a head serves it: the plugin reserves its
 * shelves, reserve=true), NULL when none is reserved. */
static const char *array_holder(const struct exam *ex, size_t n, size_t i)
{
  for (size_t j = 0; j < n; j++)
    if (same_array(&ex[j], &ex[i]) && ex[j].holder[0])
      return ex[j].holder;
  return NULL;
}

/* The slot assembly puts a shelf in, RAID_SB_ROLE_SPARE for a spare (raid/scan.c). */
static unsigned assembly_role(const struct raid_sb_summary *ref, const struct raid_sb_summary *sb)
{
  return raid_sb_assembly_role(ref, sb);
}

/* A spare the freshest records in a slot: assembly moves it there. */
static int moved_in(const struct raid_sb_summary *ref, const struct raid_sb_summary *sb)
{
  return sb->role == RAID_SB_ROLE_SPARE && assembly_role(ref, sb) != RAID_SB_ROLE_SPARE;
}

/* A former member whose slot another took since (a spare's recovery, a replace): its
 * superblock, not written since it left, still names the slot, but the freshest records
 * another member's uuid there. */
static int displaced(const struct raid_sb_summary *ref, const struct raid_sb_summary *sb)
{
  unsigned role = assembly_role(ref, sb);

  return role < ref->members && role < RAID_MAX_MEMBERS && sb->events < ref->events &&
         memcmp(sb->member_uuid, ref->slot_uuid[role], 16);
}

/* A shelf as fresh as the freshest in a slot recorded for another uuid (a copy of a
 * shelf, or two arrays that went apart): assembly refuses to start with it listed. */
static int refused(const struct raid_sb_summary *ref, const struct raid_sb_summary *sb)
{
  unsigned role = assembly_role(ref, sb);

  return role < ref->members && role < RAID_MAX_MEMBERS && sb->events >= ref->events &&
         memcmp(sb->member_uuid, ref->slot_uuid[role], 16);
}

/* A member or spare the administrator removed (the freshest lists its uuid): assembly
 * and a scan leave it out, only aoeraid add takes it again (raid/array.c, choose_members). */
static int removed(const struct raid_sb_summary *ref, const struct raid_sb_summary *sb)
{
  return sb->events < ref->events && raid_sb_removed(ref, sb->member_uuid);
}

/* A member the administrator failed (the freshest lists its uuid, and it was not removed
 * since): assembly leaves it out, force takes it back only when the array cannot start
 * otherwise, aoeraid add takes it back (raid/array.c, admin_failed). */
static int admin_failed(const struct raid_sb_summary *ref, const struct raid_sb_summary *sb)
{
  return sb->events < ref->events && raid_sb_failed(ref, sb->member_uuid) && !removed(ref, sb);
}

/* A member assembly leaves out for missed updates (raid/array.c, choose_members): not the
 * current member of its slot by raid_sb_current_member, the rule a start by shelves= goes
 * by too (more than one event behind the freshest, a slot neither active nor recovering,
 * removed, or displaced: another member holds its slot since), nor refused. */
static int stale(const struct raid_sb_summary *ref, const struct raid_sb_summary *sb)
{
  return assembly_role(ref, sb) != RAID_SB_ROLE_SPARE && !refused(ref, sb)
         && !raid_sb_current_member(ref, sb);
}

/* Does shelf J of E's array (the one of ex[first]) go to slot S at assembly (a spare:
 * RAID_SB_ROLE_SPARE)? */
static int goes_to(const struct exam *ex, size_t first, const struct raid_sb_summary *ref,
                   size_t j, unsigned s)
{
  return same_array(&ex[j], &ex[first]) && assembly_role(ref, &ex[j].sb) == s;
}

/* "nbdkit aoeraid shelves=...[ spares=...]": the fresh holders of the slots in slot order
 * (the first where two claim one), then the spares but those removed.  "" when no shelf
 * examined is a fresh member (a lone spare, or the new shelf of a replace): there is no
 * shelves= to give. */
/* A member left out only for missed updates, in its own slot: what force takes back. */
static int forcible(const struct raid_sb_summary *ref, const struct raid_sb_summary *sb)
{
  return stale(ref, sb) && !removed(ref, sb) && !displaced(ref, sb)
         && assembly_role(ref, sb) < ref->members;
}

static void served(const struct exam *ex, size_t n, size_t first, int with_stale,
                   uint8_t present[RAID_MAX_MEMBERS]);

/* Does force take shelf J back?  Assembly's rule (raid/array.c, force_stale): from the
 * fresh members, the stale one force prefers (raid_force_prefers: one the admin failed
 * last) joins, one at a time, until the array can start; the others stay out. */
static int force_takes(const struct exam *ex, size_t n, size_t first, size_t j)
{
  const struct raid_sb_summary *ref = freshest(ex, n, first);
  uint8_t present[RAID_MAX_MEMBERS];

  served(ex, n, first, 0, present);
  while (!raid_sb_startable(ref, present)) {
    size_t pick = n;
    for (size_t c = 0; c < n; c++)
      if (same_array(&ex[c], &ex[first]) && forcible(ref, &ex[c].sb)
          && !present[assembly_role(ref, &ex[c].sb)]
          && (pick == n || raid_force_prefers(admin_failed(ref, &ex[c].sb), ex[c].sb.events,
                                              admin_failed(ref, &ex[pick].sb),
                                              ex[pick].sb.events)))
        pick = c;
    if (pick == n)
      return 0;
    if (pick == j)
      return 1;
    present[assembly_role(ref, &ex[pick].sb)] = 1;
  }
  return 0;
}

/* Which slots the start serves (a recovering one does not count), from the fresh members,
 * or with WITH_STALE those force takes back too: PRESENT[s] != 0. */
static void served(const struct exam *ex, size_t n, size_t first, int with_stale,
                   uint8_t present[RAID_MAX_MEMBERS])
{
  const struct raid_sb_summary *ref = freshest(ex, n, first);

  memset(present, 0, RAID_MAX_MEMBERS);
  for (unsigned s = 0; s < ref->members && s < RAID_MAX_MEMBERS; s++)
    for (size_t j = 0; j < n; j++)
      if (goes_to(ex, first, ref, j, s) && !refused(ref, &ex[j].sb)
          && (!stale(ref, &ex[j].sb) ? ref->roles[s] != RAID_ROLE_RECOVERING
              : with_stale && force_takes(ex, n, first, j)))
        present[s] = 1;
}

/* Can the array start so? */
static int startable(const struct exam *ex, size_t n, size_t first, int with_stale)
{
  uint8_t present[RAID_MAX_MEMBERS];

  served(ex, n, first, with_stale, present);
  return raid_sb_startable(freshest(ex, n, first), present);
}

/* Does every fresh member that serves a slot at the start hold a write-intent bitmap with
 * no bit set?  Assembly reads the freshest one's; asking all of them, examine never offers
 * a start without force that assembly refuses (each bitmap store goes to every member). */
static int start_bitmap_clean(const struct exam *ex, size_t n, size_t first)
{
  const struct raid_sb_summary *ref = freshest(ex, n, first);
  int any = 0;

  for (unsigned s = 0; s < ref->members && s < RAID_MAX_MEMBERS; s++)
    for (size_t j = 0; j < n; j++)
      if (goes_to(ex, first, ref, j, s) && !refused(ref, &ex[j].sb) && !stale(ref, &ex[j].sb)
          && ref->roles[s] != RAID_ROLE_RECOVERING) {
        if (!ex[j].sb.bitmap_clean)
          return 0;
        any = 1;
      }
  return any;
}

/* What the start from the fresh members meets of the write hole (assembly's rule,
 * raid_sb_write_hole): RAID_WRITE_HOLE_DIRTY or _CRASH_RESYNC (force needed), _BITMAP
 * (dirty, but the bitmap lets it start); NONE when nothing, or it cannot start at all
 * (the failed: line's force covers that). */
static enum raid_write_hole start_hole(const struct exam *ex, size_t n, size_t first)
{
  uint8_t present[RAID_MAX_MEMBERS];
  enum raid_write_hole hole;

  served(ex, n, first, 0, present);
  if (!raid_sb_startable(freshest(ex, n, first), present))
    return RAID_WRITE_HOLE_NONE;
  hole = raid_sb_write_hole(freshest(ex, n, first), present, start_bitmap_clean(ex, n, first));
  return hole == RAID_WRITE_HOLE_PPL ? RAID_WRITE_HOLE_NONE : hole;
}

/* Does the write hole HOLE want force=true? */
static int hole_wants_force(enum raid_write_hole hole)
{
  return hole == RAID_WRITE_HOLE_DIRTY || hole == RAID_WRITE_HOLE_CRASH_RESYNC;
}

/* Why the start needs force=true, or why a dirty one does not (the line before the
 * start: command), "" when neither. */
static const char *hole_text(const struct raid_sb_summary *ref, enum raid_write_hole hole,
                             char *buf, size_t len)
{
  if (hole == RAID_WRITE_HOLE_DIRTY)
    snprintf(buf, len, "dirty and degraded, without the partial parity log: parity may not "
             "match the data (write hole); the start is refused without force=true (a "
             "start with the missing member resyncs instead)");
  else if (hole == RAID_WRITE_HOLE_CRASH_RESYNC)
    snprintf(buf, len, "degraded, and its resync after a crash did not end (%.1f%% in "
             "sync): parity may not match the data in stripes the crash tore (write hole); "
             "the start is refused without force=true (a start with the missing member "
             "lets the resync end instead)", ref->resync_units
             ? 100.0 * (double)ref->resync_offset / (double)ref->resync_units : 0.0);
  else if (hole == RAID_WRITE_HOLE_BITMAP)
    snprintf(buf, len, "%s, but the write-intent bitmap shows no write under way at the "
             "crash: no stripe can be torn; the start needs no force=true",
             ref->resync_after_crash && ref->resync_offset != UINT64_MAX
             ? "its resync after a crash did not end" : "dirty");
  else
    buf[0] = '\0';
  return buf;
}

/* The name of why in JSON (write_hole), NULL when none. */
static const char *hole_name(enum raid_write_hole hole)
{
  return hole == RAID_WRITE_HOLE_DIRTY ? "dirty"
    : hole == RAID_WRITE_HOLE_CRASH_RESYNC ? "resync_after_crash" : NULL;
}

/* The start command with WITH_STALE: a failed array that force=true starts (md's
 * --assemble --force takes back the members recorded failed), "" when it needs no force
 * or force does not help. */
static void start_command_with(const struct exam *ex, size_t n, size_t first, int with_stale,
                               char *out, size_t len);

static void force_command(const struct exam *ex, size_t n, size_t first, char *out, size_t len)
{
  size_t used;

  out[0] = '\0';
  if (startable(ex, n, first, 0) || !startable(ex, n, first, 1))
    return;
  start_command_with(ex, n, first, 1, out, len);
  used = strlen(out);
  if (used)
    snprintf(out + used, used < len ? len - used : 0, " force=true");
}

/* The start from the fresh members, with force=true when the write hole wants it; ""
 * when they are too few to start the array (a command that could only be refused). */
static void start_command(const struct exam *ex, size_t n, size_t first, char *out,
                          size_t len)
{
  size_t used;

  start_command_with(ex, n, first, 0, out, len);
  if (out[0] && !startable(ex, n, first, 0))
    out[0] = '\0';
  used = strlen(out);
  if (used && hole_wants_force(start_hole(ex, n, first)))
    snprintf(out + used, used < len ? len - used : 0, " force=true");
}

static void start_command_with(const struct exam *ex, size_t n, size_t first, int with_stale,
                               char *out, size_t len)
{
  const struct raid_sb_summary *ref = freshest(ex, n, first);
  size_t used = (size_t)snprintf(out, len, "nbdkit aoeraid shelves="), empty = used;
  const char *sep = "";

  for (unsigned s = 0; s < ref->members; s++)
    for (size_t j = 0; j < n; j++)
      if (goes_to(ex, first, ref, j, s) && !refused(ref, &ex[j].sb)
          && (!stale(ref, &ex[j].sb) || (with_stale && force_takes(ex, n, first, j)))) {
        used += (size_t)snprintf(out + used, used < len ? len - used : 0, "%s%s", sep,
                                 ex[j].name);
        sep = ",";
        break;
      }
  if (used == empty) {
    out[0] = '\0';
    return;
  }
  sep = " spares=";
  for (size_t j = 0; j < n; j++)
    if (goes_to(ex, first, ref, j, RAID_SB_ROLE_SPARE) && !removed(ref, &ex[j].sb)) {
      used += (size_t)snprintf(out + used, used < len ? len - used : 0, "%s%s", sep,
                               ex[j].name);
      sep = ",";
    }
}

static const char failed_why[] = ": failed by the administrator (aoeraid fail; the array "
  "lists it, events %" PRIu64 ", the array at %" PRIu64 "); the start leaves it out, force "
  "only when the array cannot start without it: add it once started to take it back "
  "(aoeraid add -c SOCK %s)";

static const char removed_why[] = ": removed by the administrator (the array lists it, "
  "events %" PRIu64 ", the array at %" PRIu64 "); the start leaves it out: add it once "
  "started to use it again, rebuilt in full (aoeraid add -c SOCK %s)";

/* Why assembly leaves a shelf out of its slot, or moves a spare into one. */
static void print_slot_why(const struct raid_sb_summary *ref, const struct exam *e)
{
  if (removed(ref, &e->sb))
    printf(removed_why, e->sb.events, ref->events, e->name);
  else if (admin_failed(ref, &e->sb))
    printf(failed_why, e->sb.events, ref->events, e->name);
  else if (refused(ref, &e->sb))
    printf(": as fresh as the array (events %" PRIu64 ") but not the member it records in "
           "this slot (another uuid: a copy of a shelf?); assembly refuses to start with it: "
           "leave it out of shelves=", e->sb.events);
  else if (displaced(ref, &e->sb))
    printf(": it left this slot, which another member holds since (events %" PRIu64 ", the "
           "array at %" PRIu64 "); assembly leaves it out: add it once started to use it as "
           "a spare (aoeraid add -c SOCK %s)", e->sb.events, ref->events, e->name);
  else if (stale(ref, &e->sb))
    printf(": the array is at events %" PRIu64 " and records this slot %s; assembly "
           "leaves it out: re-add it once started (aoeraid add -c SOCK %s)", ref->events,
           role_text(ref->roles[e->sb.role]), e->name);
  else if (moved_in(ref, &e->sb))
    printf(": its superblock says spare, one event behind (an update cut short); the "
           "array records it in this slot (a grow), and assembly puts it there");
}

/* Why slot S, which the start leaves without a member, has none (one clause in BUF). */
static void gap_text(const struct exam *ex, size_t n, size_t first, unsigned s, char *buf,
                     size_t len)
{
  const struct raid_sb_summary *ref = freshest(ex, n, first), *sb;
  size_t j = 0;

  while (j < n && !goes_to(ex, first, ref, j, s))
    j++;
  if (j == n) {
    snprintf(buf, len, "slot %u: no shelf examined holds it", s);
    return;
  }
  sb = &ex[j].sb;
  if (removed(ref, sb) || admin_failed(ref, sb))
    snprintf(buf, len, "slot %u: %s was %s by the administrator and is left out", s,
             ex[j].name, removed(ref, sb) ? "removed" : "failed");
  else if (refused(ref, sb))
    snprintf(buf, len, "slot %u: %s is refused (not the member the array records there)", s,
             ex[j].name);
  else if (displaced(ref, sb))
    snprintf(buf, len, "slot %u: %s left it, and the member that holds it since is not "
             "examined", s, ex[j].name);
  else if (stale(ref, sb))
    snprintf(buf, len, "slot %u: %s is stale (events %" PRIu64 " < %" PRIu64 ") and left "
             "out: once started, aoeraid add -c SOCK %s re-adds it (from the write-intent "
             "bitmap, else rebuilt in full)", s, ex[j].name, sb->events, ref->events,
             ex[j].name);
  else
    snprintf(buf, len, "slot %u: %s was being rebuilt: its recovery resumes", s, ex[j].name);
}

/* Why each slot the fresh members leave without a member is empty (one line in BUF),
 * "" when they fill every slot. */
static const char *gaps_text(const struct exam *ex, size_t n, size_t first, char *buf,
                             size_t len)
{
  const struct raid_sb_summary *ref = freshest(ex, n, first);
  uint8_t present[RAID_MAX_MEMBERS];
  size_t used = 0;
  char one[300];

  buf[0] = '\0';
  served(ex, n, first, 0, present);
  for (unsigned s = 0; s < ref->members && s < RAID_MAX_MEMBERS; s++)
    if (!present[s]) {
      gap_text(ex, n, first, s, one, sizeof one);
      used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
                               used ? "; " : "", one);
    }
  return buf;
}

/* The note of a start from the fresh members that leaves slots without a member, "" when
 * it starts whole or not at all. */
static const char *degraded_text(const struct exam *ex, size_t n, size_t first, char *buf,
                                 size_t len)
{
  buf[0] = '\0';
  return startable(ex, n, first, 0) ? gaps_text(ex, n, first, buf, len) : buf;
}

/* The start: none line: no member examined to start from, or too few of them (a start
 * with them would be refused: QA walk, examine of one shelf of a raid5 gave one). */
static void print_no_start(const struct exam *ex, size_t n, size_t first)
{
  char members[1200], gaps[1200];

  start_command_with(ex, n, first, 0, members, sizeof members);
  force_command(ex, n, first, gaps, sizeof gaps);
  if (gaps[0]) {
    printf("  start: none without force: its fresh members are too few (failed: below)\n");
    return;
  }
  if (!members[0]) {
    printf("  start: none: no shelf examined is a member the array would start from; "
           "examine its other shelves too, or start it by uuid (scan:)\n");
    return;
  }
  printf("  start: none: the members examined are too few to start it (%s); examine its "
         "other shelves too, or start it by uuid (scan:)\n",
         gaps_text(ex, n, first, gaps, sizeof gaps));
}

static void print_array_text(const struct exam *ex, size_t n, size_t first)
{
  const struct raid_sb_summary *ref = freshest(ex, n, first);
  char uuid[37], level[16], cmd[1200], why[400], gaps[1200];

  raid_uuid_format(ref->array_uuid, uuid);
  printf("ARRAY name=%s uuid=%s level=%s members=%u events=%" PRIu64 "\n", ref->name, uuid,
         level_text(ref, level, sizeof level), ref->members, ref->events);
  for (unsigned s = 0; s < ref->members; s++) {
    int held = 0;
    for (size_t j = 0; j < n; j++) {
      const struct raid_sb_summary *sb = &ex[j].sb;
      if (!goes_to(ex, first, ref, j, s))
        continue;
      held = 1;
      printf("  slot %-2u %-8s events %-6" PRIu64 " %s%s", s, ex[j].name, sb->events,
             refused(ref, sb) ? "refused" : removed(ref, sb) ? "removed"
             : admin_failed(ref, sb) ? "failed" : stale(ref, sb) ? "stale"
             : role_text(ref->roles[s]),
             writemostly_slot(ref, s) ? " writemostly" : "");
      print_slot_why(ref, &ex[j]);
      printf("\n");
    }
    if (!held)
      printf("  slot %-2u %-8s missing: no shelf examined holds it (recorded %s)\n", s, "-",
             role_text(ref->roles[s]));
  }
  for (size_t j = 0; j < n; j++)
    if (goes_to(ex, first, ref, j, RAID_SB_ROLE_SPARE)) {
      char repl[80];
      printf("  spare   %-8s events %" PRIu64, ex[j].name, ex[j].sb.events);
      if (removed(ref, &ex[j].sb))
        printf(removed_why, ex[j].sb.events, ref->events, ex[j].name);
      else if (admin_failed(ref, &ex[j].sb))
        printf(failed_why, ex[j].sb.events, ref->events, ex[j].name);
      else if (ref->replace_slot >= 0 && replacement_text(&ex[j].sb, repl, sizeof repl))
        printf(": %s (resumes when started)", repl);
      printf("\n");
    }
  start_command(ex, n, first, cmd, sizeof cmd);
  /* a reservation held says a head serves the array, or went down holding it: the shelf
   * cannot tell which, so the lines after it stand, for the head that went down */
  if (array_holder(ex, n, first))
    printf("  reserved: by %s: the array looks in use, a head serving it: stop it first "
           "(an open array's superblocks say dirty, which is no crash: no force=true); "
           "unless that head went down holding them: then the start below, from another "
           "host with takeover=true\n", array_holder(ex, n, first));
  if (cmd[0] && start_hole(ex, n, first) != RAID_WRITE_HOLE_NONE)
    printf("  degraded: %s\n", hole_text(ref, start_hole(ex, n, first), why, sizeof why));
  if (cmd[0])
    printf("  start: %s\n", cmd);
  /* the start's note (QA walk: a start without a stale member read as a whole one) */
  if (cmd[0] && degraded_text(ex, n, first, gaps, sizeof gaps)[0])
    printf("  starts degraded: %s\n", gaps);
  if (!cmd[0])
    print_no_start(ex, n, first);
  force_command(ex, n, first, cmd, sizeof cmd);
  if (cmd[0])
    printf("  failed: too few fresh members to start; force=true takes the stale ones "
           "back (mdadm --assemble --force): %s\n", cmd);
  printf("  scan:  nbdkit aoeraid uuid=%s\n", uuid);
}

static void print_slot_json(const struct exam *e, unsigned s, const char *state, int stale_,
                            int refused_, int removed_, int failed_, int *first)
{
  printf("%s{\"slot\":%u,\"shelf\":", *first ? "" : ",", s);
  if (e)
    printf("\"%s\",\"events\":%" PRIu64 ",\"missing\":false", e->name, e->sb.events);
  else
    printf("null,\"events\":null,\"missing\":true");
  printf(",\"stale\":%s,\"refused\":%s,\"removed\":%s,\"failed\":%s,\"recorded\":\"%s\"}",
         stale_ ? "true" : "false", refused_ ? "true" : "false", removed_ ? "true" : "false",
         failed_ ? "true" : "false", state);
  *first = 0;
}

static void print_array_json(const struct exam *ex, size_t n, size_t first, int first_out)
{
  const struct raid_sb_summary *ref = freshest(ex, n, first);
  char uuid[37], level[16], cmd[1200], gaps[1200];
  int f = 1;

  raid_uuid_format(ref->array_uuid, uuid);
  printf("%s{\"name\":", first_out ? "" : ",");
  json_string(stdout, ref->name);
  printf(",\"uuid\":\"%s\",\"level\":\"%s\",\"members\":%u,\"events\":%" PRIu64 ",\"slots\":[",
         uuid, level_text(ref, level, sizeof level), ref->members, ref->events);
  for (unsigned s = 0; s < ref->members; s++) {
    int held = 0;
    for (size_t j = 0; j < n; j++)
      if (goes_to(ex, first, ref, j, s)) {
        held = 1;
        print_slot_json(&ex[j], s, role_text(ref->roles[s]), stale(ref, &ex[j].sb),
                        refused(ref, &ex[j].sb), removed(ref, &ex[j].sb),
                        admin_failed(ref, &ex[j].sb), &f);
      }
    if (!held)
      print_slot_json(NULL, s, role_text(ref->roles[s]), 0, 0, 0, 0, &f);
  }
  printf("],\"spares\":[");
  f = 1;
  for (size_t j = 0; j < n; j++)
    if (goes_to(ex, first, ref, j, RAID_SB_ROLE_SPARE)) {
      printf("%s{\"shelf\":\"%s\",\"events\":%" PRIu64 ",\"removed\":%s,\"replacement_of\":",
             f ? "" : ",", ex[j].name, ex[j].sb.events,
             removed(ref, &ex[j].sb) ? "true" : "false");
      if (ref->replace_slot >= 0 && ex[j].sb.replacement)
        printf("%d}", ex[j].sb.replace_slot);
      else
        printf("null}");
      f = 0;
    }
  start_command(ex, n, first, cmd, sizeof cmd);
  printf("],\"command\":");
  if (cmd[0])
    json_string(stdout, cmd);
  else
    printf("null");
  printf(",\"starts_degraded\":");
  if (cmd[0] && degraded_text(ex, n, first, gaps, sizeof gaps)[0])
    json_string(stdout, gaps);
  else
    printf("null");
  printf(",\"write_hole\":");
  if (cmd[0] && hole_name(start_hole(ex, n, first)))
    printf("\"%s\"", hole_name(start_hole(ex, n, first)));
  else
    printf("null");
  force_command(ex, n, first, cmd, sizeof cmd);
  printf(",\"force_command\":");
  if (cmd[0])
    json_string(stdout, cmd);
  else
    printf("null");
  printf(",\"reserved_by\":");
  if (array_holder(ex, n, first))
    printf("\"%s\"", array_holder(ex, n, first));
  else
    printf("null");
  printf(",\"scan_command\":\"nbdkit aoeraid uuid=%s\"}", uuid);
}

/* ---- the verb ------------------------------------------------------------------------- */

static void print_all(const struct exam *ex, size_t n, int json)
{
  int first = 1;

  if (json)
    printf("{\"shelves\":[");
  for (size_t i = 0; i < n; i++) {
    if (json)
      print_exam_json(&ex[i], i == 0);
    else
      print_exam_text(&ex[i]);
  }
  if (json)
    printf("],\"arrays\":[");
  for (size_t i = 0; i < n; i++)
    if (first_of_array(ex, i)) {
      if (json)
        print_array_json(ex, n, i, first);
      else
        print_array_text(ex, n, i);
      first = 0;
    }
  if (json)
    printf("]}\n");
}

/* The shelves to examine: those named (find_named: MISSING counts those that did not
 * answer, each said on stderr), else every one discovered. */
static size_t pick_targets(const char *progname, struct aoe_initiator *ini,
                           const struct shelf_addr *addrs, size_t naddrs, unsigned wait_ms,
                           struct aoe_target **out, size_t *missing)
{
  *missing = 0;
  if (!naddrs)
    return aoe_targets(ini, out, MAX_EXAM);
  return find_named(progname, ini, addrs, naddrs, wait_ms, out, missing);
}

/* The shelves examined that hold no usable aoeraid superblock, each said on stderr as
 * mdadm --examine says "No md superblock detected on /dev/sdb" of a device named. */
static size_t say_no_superblock(const char *progname, const struct exam *ex, size_t n)
{
  size_t none = 0;
  char buf[256];

  for (size_t i = 0; i < n; i++)
    if (ex[i].sb.state != RAID_SB_OK) {
      fprintf(stderr, "%s: examine: %s: %s\n", progname, ex[i].name,
              exam_instead(&ex[i], buf, sizeof buf));
      none++;
    }
  return none;
}

int examine_main(const char *progname, struct aoe_initiator *ini,
                 const struct shelf_addr *addrs, size_t naddrs, unsigned wait_ms, int json)
{
  static struct aoe_target *targets[MAX_EXAM];
  size_t missing, n = pick_targets(progname, ini, addrs, naddrs, wait_ms, targets, &missing);
  size_t read_ok = 0, none = 0;
  struct exam *ex;

  if (!n)
    return naddrs ? 1 : EXAMINE_NONE_ANSWERED;
  ex = calloc(n, sizeof *ex);
  if (!ex) {
    fprintf(stderr, "%s: examine: out of memory\n", progname);
    return 1;
  }
  for (size_t i = 0; i < n; i++) {
    exam_one(&ex[i], targets[i]);
    read_ok += ex[i].sb.state != RAID_SB_IOERR;
  }
  print_all(ex, n, json);
  fflush(stdout);             /* what was found first, then what was not, when both go to a tty */
  if (naddrs)
    none = say_no_superblock(progname, ex, n);
  free(ex);
  if (!read_ok)
    fprintf(stderr, "%s: examine: no shelf could be read (see each one's error above): "
            "is another host holding them reserved?\n", progname);
  /* as mdadm --examine: a device named that has no superblock, or could not be read, is a
   * failure, whatever the others hold; examining every shelf found, a blank one is not */
  return read_ok && !missing && !none ? 0 : 1;
}

/* md's --assemble --scan: which of the superblocks a scan found belong to the array
 * asked for by name or uuid, and whether every member it records was found.  Pure
 * functions over raid_sb_summary: the caller finds and reads the members. */
#include <stdio.h>
#include <string.h>

#include "raid-int.h"

static int
hex_digit (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* 36 characters with dashes at 8, 13, 18 and 23, or 32 hex digits. */
int
raid_uuid_parse (const char *s, uint8_t out[16])
{
  size_t len = strlen (s), digits = 0;
  uint8_t u[16];

  if (len != 32 && len != 36)
    return -1;
  for (size_t i = 0; i < len; i++) {
    int dash_here = len == 36 && (i == 8 || i == 13 || i == 18 || i == 23);
    int v = hex_digit (s[i]);
    if (dash_here != (s[i] == '-') || (!dash_here && v < 0))
      return -1;
    if (dash_here)
      continue;
    u[digits / 2] = digits % 2 ? (uint8_t) (u[digits / 2] | v) : (uint8_t) (v << 4);
    digits++;
  }
  memcpy (out, u, 16);
  return 0;
}

static int
wanted (const struct raid_sb_summary *sb, const char *name, const uint8_t *uuid)
{
  if (sb->state != RAID_SB_OK)
    return 0;
  if (uuid)
    return memcmp (sb->array_uuid, uuid, 16) == 0;
  return name && strcmp (sb->name, name) == 0;
}

/* Another uuid than the first picked carries NAME: list them all in ERR. */
static int
refuse_ambiguous (const struct raid_sb_summary *sb, size_t n, const char *name,
                  char *err, size_t errlen)
{
  size_t used = (size_t) snprintf (err, errlen, "two arrays are named '%s':", name);
  const char *sep = " ";
  char uuid[37];

  for (size_t i = 0; i < n; i++) {
    int seen = 0;
    if (!wanted (&sb[i], name, NULL))
      continue;
    for (size_t j = 0; j < i; j++)
      seen |= wanted (&sb[j], name, NULL)
              && !memcmp (sb[j].array_uuid, sb[i].array_uuid, 16);
    if (seen)
      continue;
    raid_uuid_format (sb[i].array_uuid, uuid);
    used += (size_t) snprintf (err + used, used < errlen ? errlen - used : 0, "%s%s", sep,
                               uuid);
    sep = " and ";
  }
  snprintf (err + used, used < errlen ? errlen - used : 0,
            "; start with uuid= one of them (aoeraid examine lists their shelves)");
  return -1;
}

/* Is member MEMBER_UUID recorded in one of REF's slots? */
static int
recorded (const struct raid_sb_summary *ref, const uint8_t *member_uuid)
{
  for (unsigned s = 0; s < ref->members && s < RAID_MAX_MEMBERS; s++)
    if (!memcmp (ref->slot_uuid[s], member_uuid, 16))
      return 1;
  return 0;
}

/* The freshest picked superblock, or NULL. */
static const struct raid_sb_summary *
freshest (const struct raid_sb_summary *sb, size_t n, const enum raid_scan_pick *pick)
{
  const struct raid_sb_summary *ref = NULL;

  for (size_t i = 0; i < n; i++)
    if ((pick[i] == RAID_SCAN_MEMBER || pick[i] == RAID_SCAN_SPARE)
        && (!ref || sb[i].events > ref->events))
      ref = &sb[i];
  return ref;
}

/* Members older than the freshest whose slot it gives to no one of their uuid become
 * RAID_SCAN_FORMER; how many. */
static size_t
leave_former (const struct raid_sb_summary *sb, size_t n, enum raid_scan_pick *pick)
{
  const struct raid_sb_summary *ref = freshest (sb, n, pick);
  size_t left = 0;

  for (size_t i = 0; i < n && ref; i++)
    if (pick[i] == RAID_SCAN_MEMBER && sb[i].events < ref->events
        && !recorded (ref, sb[i].member_uuid)) {
      pick[i] = RAID_SCAN_FORMER;
      left++;
    }
  return left;
}

/* Members and spares the freshest lists as removed by the admin become RAID_SCAN_REMOVED
 * (before the former ones are judged: the freshest must not be one of them); how many. */
static size_t
leave_removed (const struct raid_sb_summary *sb, size_t n, enum raid_scan_pick *pick)
{
  const struct raid_sb_summary *ref = freshest (sb, n, pick);
  size_t left = 0;

  for (size_t i = 0; i < n && ref; i++)
    if ((pick[i] == RAID_SCAN_MEMBER || pick[i] == RAID_SCAN_SPARE)
        && sb[i].events < ref->events && raid_sb_removed (ref, sb[i].member_uuid)) {
      pick[i] = RAID_SCAN_REMOVED;
      left++;
    }
  return left;
}

int
raid_scan_pick (const struct raid_sb_summary *sb, size_t n, const char *name,
                const uint8_t *uuid, enum raid_scan_pick *pick, char *err, size_t errlen)
{
  const struct raid_sb_summary *first = NULL;
  char u[37];
  int picked = 0;

  for (size_t i = 0; i < n; i++) {
    pick[i] = RAID_SCAN_OTHER;
    if (!wanted (&sb[i], name, uuid))
      continue;
    if (!first)
      first = &sb[i];
    else if (memcmp (first->array_uuid, sb[i].array_uuid, 16))
      return refuse_ambiguous (sb, n, name, err, errlen);
    if (uuid && name && strcmp (sb[i].name, name)) {
      raid_uuid_format (uuid, u);
      snprintf (err, errlen, "uuid=%s is the array named '%s', not '%s': give name= and "
                "uuid= of one array, or only one of them", u, sb[i].name, name);
      return -1;
    }
    pick[i] = sb[i].role == RAID_SB_ROLE_SPARE ? RAID_SCAN_SPARE : RAID_SCAN_MEMBER;
    picked++;
  }
  picked -= (int) leave_removed (sb, n, pick);
  return picked - (int) leave_former (sb, n, pick);
}

/* Is there a picked superblock with the member uuid UUID (or, UUID NULL, the new member
 * of a replace)? */
static int
found (const struct raid_sb_summary *sb, size_t n, const enum raid_scan_pick *pick,
       const uint8_t *uuid)
{
  for (size_t i = 0; i < n; i++)
    if ((pick[i] == RAID_SCAN_MEMBER || pick[i] == RAID_SCAN_SPARE)
        && (uuid ? !memcmp (sb[i].member_uuid, uuid, 16) : sb[i].replacement))
      return 1;
  return 0;
}

int
raid_scan_complete (const struct raid_sb_summary *sb, size_t n,
                    const enum raid_scan_pick *pick)
{
  const struct raid_sb_summary *ref = freshest (sb, n, pick);

  if (!ref)
    return 0;
  for (unsigned s = 0; s < ref->members && s < RAID_MAX_MEMBERS; s++)
    if ((ref->roles[s] == RAID_ROLE_ACTIVE || ref->roles[s] == RAID_ROLE_RECOVERING)
        && !found (sb, n, pick, ref->slot_uuid[s]))
      return 0;
  return ref->replace_slot < 0 || found (sb, n, pick, NULL);
}

unsigned
raid_sb_assembly_role (const struct raid_sb_summary *ref, const struct raid_sb_summary *sb)
{
  if (sb->role == RAID_SB_ROLE_SPARE && sb->events + 1 == ref->events)
    for (unsigned j = 0; j < ref->members && j < RAID_MAX_MEMBERS; j++)
      if (!memcmp (ref->slot_uuid[j], sb->member_uuid, 16) && ref->roles[j] == RAID_ROLE_ACTIVE)
        return j;
  return sb->role;
}

int
raid_sb_current_member (const struct raid_sb_summary *ref, const struct raid_sb_summary *sb)
{
  unsigned role;

  if (sb->state != RAID_SB_OK)
    return 0;
  role = raid_sb_assembly_role (ref, sb);
  if (memcmp (sb->array_uuid, ref->array_uuid, 16) || role >= ref->members
      || role >= RAID_MAX_MEMBERS
      || (ref->roles[role] != RAID_ROLE_ACTIVE && ref->roles[role] != RAID_ROLE_RECOVERING))
    return 0;
  return !memcmp (sb->member_uuid, ref->slot_uuid[role], 16) && sb->events + 1 >= ref->events
         && !raid_sb_removed (ref, sb->member_uuid) && !raid_sb_failed (ref, sb->member_uuid);
}

/* md's --assemble --scan over superblock summaries: the uuid parser, which shelves a
 * scan picks for a name or uuid, and when it has found all the members it must wait for. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "raid.h"

/* A superblock of array UUID_BYTE (its 16 bytes) named NAME, in SLOT (or a spare),
 * member uuid MEMBER_BYTE, at EVENTS; the array has 3 slots held by members 1, 2, 3. */
static struct raid_sb_summary
sb_of (const char *name, uint8_t uuid_byte, unsigned slot, uint8_t member_byte,
       uint64_t events)
{
  struct raid_sb_summary sb;

  memset (&sb, 0, sizeof sb);
  sb.state = RAID_SB_OK;
  snprintf (sb.name, sizeof sb.name, "%s", name);
  memset (sb.array_uuid, uuid_byte, 16);
  memset (sb.member_uuid, member_byte, 16);
  sb.role = slot;
  sb.members = 3;
  sb.events = events;
  sb.replace_slot = -1;
  for (unsigned s = 0; s < 3; s++) {
    sb.roles[s] = RAID_ROLE_ACTIVE;
    memset (sb.slot_uuid[s], s + 1, 16);
  }
  return sb;
}

/* Array vol whole: its three members in slots 0-2 and a spare. */
static void
whole_vol (struct raid_sb_summary sb[4])
{
  for (unsigned s = 0; s < 3; s++)
    sb[s] = sb_of ("vol", 0xa1, s, (uint8_t) (s + 1), 10);
  sb[3] = sb_of ("vol", 0xa1, RAID_SB_ROLE_SPARE, 7, 10);
}

static struct raid_sb_summary
blank (enum raid_sb_state state)
{
  struct raid_sb_summary sb;

  memset (&sb, 0, sizeof sb);
  sb.state = state;
  sb.replace_slot = -1;
  return sb;
}

Test (scan, uuid_parse_reads_what_format_writes)
{
  uint8_t u[16], back[16];
  char text[37], upper[37], bare[33];
  size_t j = 0;

  for (int i = 0; i < 16; i++)
    u[i] = (uint8_t) (i * 17 + 3);
  raid_uuid_format (u, text);
  cr_assert_eq (raid_uuid_parse (text, back), 0, "%s", text);
  cr_expect (!memcmp (u, back, 16));
  for (size_t i = 0; i < 37; i++)
    upper[i] = (char) (text[i] >= 'a' && text[i] <= 'f' ? text[i] - 32 : text[i]);
  memset (back, 0, 16);
  cr_assert_eq (raid_uuid_parse (upper, back), 0, "%s", upper);
  cr_expect (!memcmp (u, back, 16));
  for (size_t i = 0; text[i]; i++)
    if (text[i] != '-')
      bare[j++] = text[i];
  bare[j] = '\0';
  memset (back, 0, 16);
  cr_assert_eq (raid_uuid_parse (bare, back), 0, "%s", bare);
  cr_expect (!memcmp (u, back, 16));
}

Test (scan, uuid_parse_refuses_what_is_not_one)
{
  static const char *const bad[] = {
    "", "vol", "0123456789abcdef0123456789abcde",              /* 31 digits */
    "0123456789abcdef0123456789abcdef0",                         /* 33 */
    "01234567-89ab-cdef-0123-456789abcdeg",                      /* not hex */
    "0123456-789ab-cdef-0123-456789abcdef",                      /* dash misplaced */
    "01234567-89ab-cdef-0123456789abcdef0",                      /* three dashes */
    "01234567-89abcdef0123456789abcdef",                         /* one dash */
    "01234567 89ab cdef 0123 456789abcdef",
  };
  uint8_t u[16], keep[16];

  memset (u, 0x5a, 16);
  memcpy (keep, u, 16);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cr_expect_eq (raid_uuid_parse (bad[i], u), -1, "'%s' was taken", bad[i]);
    cr_expect (!memcmp (u, keep, 16), "'%s' changed the output", bad[i]);
  }
}

Test (scan, picks_the_named_array_and_leaves_the_rest)
{
  struct raid_sb_summary sb[] = {
    sb_of ("vol", 0xa1, 0, 1, 10), blank (RAID_SB_NONE), sb_of ("other", 0xb2, 0, 9, 4),
    sb_of ("vol", 0xa1, 1, 2, 10), sb_of ("vol", 0xa1, RAID_SB_ROLE_SPARE, 7, 10),
    blank (RAID_SB_CORRUPT), blank (RAID_SB_IOERR), sb_of ("vol", 0xa1, 2, 3, 9),
  };
  enum raid_scan_pick pick[8];
  char err[256] = "";

  cr_assert_eq (raid_scan_pick (sb, 8, "vol", NULL, pick, err, sizeof err), 4, "%s", err);
  cr_expect_eq (pick[0], RAID_SCAN_MEMBER);
  cr_expect_eq (pick[1], RAID_SCAN_OTHER);
  cr_expect_eq (pick[2], RAID_SCAN_OTHER);
  cr_expect_eq (pick[3], RAID_SCAN_MEMBER);
  cr_expect_eq (pick[4], RAID_SCAN_SPARE);
  cr_expect_eq (pick[5], RAID_SCAN_OTHER);
  cr_expect_eq (pick[6], RAID_SCAN_OTHER);
  cr_expect_eq (pick[7], RAID_SCAN_MEMBER, "a member one event behind is assembly's to judge");
  cr_assert_eq (raid_scan_pick (sb, 8, "other", NULL, pick, err, sizeof err), 1);
  cr_expect_eq (pick[2], RAID_SCAN_MEMBER);
  cr_expect_eq (pick[0], RAID_SCAN_OTHER);
  cr_expect_eq (raid_scan_pick (sb, 8, "nothing", NULL, pick, err, sizeof err), 0);
  cr_expect_eq (raid_scan_pick (sb, 8, "", NULL, pick, err, sizeof err), 0,
                "an empty name matches no blank or damaged shelf");
}

Test (scan, picks_by_uuid_and_checks_the_name)
{
  struct raid_sb_summary sb[] = {
    sb_of ("vol", 0xa1, 0, 1, 10), sb_of ("vol", 0xb2, 0, 9, 4), sb_of ("vol", 0xa1, 1, 2, 10),
  };
  enum raid_scan_pick pick[3];
  uint8_t uuid[16], none[16];
  char err[256] = "";

  memset (uuid, 0xb2, 16);
  memset (none, 0xc3, 16);
  cr_assert_eq (raid_scan_pick (sb, 3, NULL, uuid, pick, err, sizeof err), 1, "%s", err);
  cr_expect_eq (pick[1], RAID_SCAN_MEMBER);
  cr_expect_eq (pick[0], RAID_SCAN_OTHER);
  cr_assert_eq (raid_scan_pick (sb, 3, "vol", uuid, pick, err, sizeof err), 1, "%s", err);
  cr_expect_eq (raid_scan_pick (sb, 3, NULL, none, pick, err, sizeof err), 0);
  cr_assert_eq (raid_scan_pick (sb, 3, "other", uuid, pick, err, sizeof err), -1);
  cr_expect (strstr (err, "named 'vol', not 'other'"), "%s", err);
  cr_expect (strstr (err, "b2b2b2b2-b2b2-b2b2-b2b2-b2b2b2b2b2b2"), "%s", err);
}

Test (scan, two_arrays_of_one_name_are_refused_naming_both)
{
  struct raid_sb_summary sb[] = {
    sb_of ("vol", 0xa1, 0, 1, 10), sb_of ("vol", 0xa1, 1, 2, 10), sb_of ("vol", 0xb2, 0, 9, 4),
    sb_of ("vol", 0xb2, 1, 8, 4),
  };
  enum raid_scan_pick pick[4];
  char err[512] = "";

  cr_assert_eq (raid_scan_pick (sb, 4, "vol", NULL, pick, err, sizeof err), -1);
  cr_expect (strstr (err, "two arrays are named 'vol'"), "%s", err);
  cr_expect (strstr (err, "a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1"), "%s", err);
  cr_expect (strstr (err, "b2b2b2b2-b2b2-b2b2-b2b2-b2b2b2b2b2b2"), "%s", err);
  cr_expect (strstr (err, "uuid="), "%s", err);
  cr_expect_null (strstr (strstr (err, "a1a1a1a1-") + 1, "a1a1a1a1-"), "a1.. twice: %s", err);
}

Test (scan, complete_once_every_recorded_member_is_found)
{
  struct raid_sb_summary sb[4];
  enum raid_scan_pick pick[4];
  char err[256];

  whole_vol (sb);

  cr_assert_eq (raid_scan_pick (sb, 4, "vol", NULL, pick, err, sizeof err), 4);
  cr_expect (raid_scan_complete (sb, 4, pick));
  cr_expect (raid_scan_complete (sb, 3, pick), "spares are not waited for");
  cr_expect (!raid_scan_complete (sb, 2, pick), "slot 2 is not found");
  cr_expect (!raid_scan_complete (sb, 0, pick));
  /* a stale copy of slot 2's member (another uuid) does not stand for it */
  sb[2].member_uuid[0] = 0x55;
  cr_expect (!raid_scan_complete (sb, 3, pick));
  /* ... unless the freshest records the slot faulty or missing: nothing to wait for */
  for (unsigned i = 0; i < 4; i++)
    sb[i].roles[2] = RAID_ROLE_FAULTY;
  cr_expect (raid_scan_complete (sb, 3, pick));
  sb[0].roles[2] = RAID_ROLE_ACTIVE;
  sb[0].events = 11;            /* the freshest decides */
  cr_expect (!raid_scan_complete (sb, 3, pick));
}

Test (scan, a_replace_in_progress_waits_for_its_new_member)
{
  struct raid_sb_summary sb[4];
  enum raid_scan_pick pick[4];
  char err[256];

  whole_vol (sb);

  for (unsigned i = 0; i < 4; i++)
    sb[i].replace_slot = 1;
  sb[3].replacement = 1;
  cr_assert_eq (raid_scan_pick (sb, 4, "vol", NULL, pick, err, sizeof err), 4);
  cr_expect_eq (pick[3], RAID_SCAN_SPARE, "the new member of a replace reads spare");
  cr_expect (raid_scan_complete (sb, 4, pick));
  cr_expect (!raid_scan_complete (sb, 3, pick));
}

/* A shelf that left the array (replaced, or failed and rebuilt onto a spare) keeps its old
 * superblock: older than the array's, naming a slot the array gives another member.
 * Assembly would leave it out; the scan leaves it to whoever takes it next (never
 * reserved, never counted among the members), while an old member still recorded in its
 * slot (down for a while, or failed) stays assembly's to judge. */
Test (scan, a_former_member_is_left_out)
{
  struct raid_sb_summary sb[6];
  enum raid_scan_pick pick[6];
  char err[256] = "";

  whole_vol (sb);
  sb[4] = sb_of ("vol", 0xa1, 1, 9, 6);         /* slot 1's member before 2 took it */
  sb[5] = sb_of ("vol", 0xa1, 2, 3, 7);         /* slot 2's member, still recorded there */
  sb[4].events = 6;
  cr_assert_eq (raid_scan_pick (sb, 6, "vol", NULL, pick, err, sizeof err), 5, "%s", err);
  cr_expect_eq (pick[4], RAID_SCAN_FORMER);
  cr_expect_eq (pick[5], RAID_SCAN_MEMBER, "an old member still in its slot is assembly's");
  cr_expect_eq (pick[1], RAID_SCAN_MEMBER);
  cr_expect (raid_scan_complete (sb, 6, pick));
  /* as fresh as the array: not former, assembly refuses it or the array (a copy) */
  sb[4].events = 10;
  cr_assert_eq (raid_scan_pick (sb, 6, "vol", NULL, pick, err, sizeof err), 6, "%s", err);
  cr_expect_eq (pick[4], RAID_SCAN_MEMBER);
  /* a former member of a shrunk array: its slot is past the array's last */
  sb[4] = sb_of ("vol", 0xa1, 3, 9, 6);
  cr_assert_eq (raid_scan_pick (sb, 6, "vol", NULL, pick, err, sizeof err), 5, "%s", err);
  cr_expect_eq (pick[4], RAID_SCAN_FORMER);
  /* alone, it is still found: the freshest it has is its own */
  cr_assert_eq (raid_scan_pick (&sb[4], 1, "vol", NULL, pick, err, sizeof err), 1, "%s", err);
  cr_expect_eq (pick[0], RAID_SCAN_MEMBER);
}

/* A start by shelves= that leaves out a shelf holding a current member (same array, its
 * slot working in the freshest superblock, as fresh) is refused: the plugin asks
 * raid_sb_current_member.  A member assembly would leave out anyway (stale, former,
 * removed or failed by the admin, a spare) is no reason to refuse. */
Test (scan, a_current_member_is_told_from_one_assembly_leaves_out)
{
  struct raid_sb_summary sb[4], ref, other;

  whole_vol (sb);
  ref = sb[0];
  cr_expect (raid_sb_current_member (&ref, &sb[2]), "slot 2's member, as fresh");
  sb[2].events = 9;
  cr_expect (raid_sb_current_member (&ref, &sb[2]), "one event behind: an update cut short");
  sb[2].events = 8;
  cr_expect (!raid_sb_current_member (&ref, &sb[2]), "two behind: stale");
  sb[2].events = 11;
  cr_expect (raid_sb_current_member (&ref, &sb[2]), "fresher than the listed ones");
  sb[2].events = 10;
  cr_expect (!raid_sb_current_member (&ref, &sb[3]), "a spare holds no slot");
  ref.roles[2] = RAID_ROLE_FAULTY;
  cr_expect (!raid_sb_current_member (&ref, &sb[2]), "its slot faulty");
  ref.roles[2] = RAID_ROLE_RECOVERING;
  cr_expect (raid_sb_current_member (&ref, &sb[2]), "its slot recovering");
  ref.roles[2] = RAID_ROLE_ACTIVE;
  memset (ref.slot_uuid[2], 9, 16);
  cr_expect (!raid_sb_current_member (&ref, &sb[2]), "another member holds its slot");
  memset (ref.slot_uuid[2], 3, 16);
  ref.removed = 1;
  memset (ref.removed_uuid[0], 3, 16);
  cr_expect (!raid_sb_current_member (&ref, &sb[2]), "removed by the admin");
  ref.removed = 0;
  ref.failed = 1;
  memset (ref.failed_uuid[0], 3, 16);
  cr_expect (!raid_sb_current_member (&ref, &sb[2]), "failed by the admin");
  ref.failed = 0;
  other = sb_of ("vol", 0xb2, 2, 3, 10);
  cr_expect (!raid_sb_current_member (&ref, &other), "another array's");
  other = blank (RAID_SB_IOERR);
  cr_expect (!raid_sb_current_member (&ref, &other), "unreadable");
  sb[2].role = 3;
  cr_expect (!raid_sb_current_member (&ref, &sb[2]), "a slot past the array's last");
}

/* A grow cut short: the freshest superblock gave the spare a slot, but the spare's own
 * superblock missed that update (one event behind, it still says spare).  Assembly puts it
 * in that slot (md: one event behind is current), so it is a current member a start by
 * shelves= must not leave out; two events behind it is stale, as any member. */
Test (scan, a_grown_member_that_missed_its_update_is_current)
{
  struct raid_sb_summary sb[4], ref;

  whole_vol (sb);
  ref = sb[0];
  ref.members = 4;
  ref.roles[3] = RAID_ROLE_ACTIVE;
  memset (ref.slot_uuid[3], 7, 16);           /* the spare, member 7 */
  ref.events = 11;
  cr_expect_eq (raid_sb_assembly_role (&ref, &sb[3]), 3, "assembly puts it in slot 3");
  cr_expect (raid_sb_current_member (&ref, &sb[3]), "the grow's new member, one behind");
  sb[3].events = 9;
  cr_expect_eq (raid_sb_assembly_role (&ref, &sb[3]), RAID_SB_ROLE_SPARE, "two behind");
  cr_expect (!raid_sb_current_member (&ref, &sb[3]), "two behind: stale");
  sb[3].events = 10;
  ref.roles[3] = RAID_ROLE_RECOVERING;
  cr_expect (!raid_sb_current_member (&ref, &sb[3]), "a recovering slot is a spare's "
             "recovery, which wrote the spare's superblock: assembly keeps it a spare");
}

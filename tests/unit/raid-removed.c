/* md: a removed device stays removed.  The superblocks list the members the admin removed
 * (by member uuid, at most RAID_MAX_REMOVED, the oldest dropped first); the decoder
 * validates the list; a removed member, back with its old superblock (it was away when
 * removed: nothing could wipe it), is refused by an incremental add (auto-readd), left out
 * by assembly and by a scan, and taken again only by an explicit add, as a new member
 * rebuilt in full, which drops it from the list.  A member that merely dropped out is
 * still re-added from the bitmap. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "raid-int.h"

#define SB(f, i) (raid_mem_member_data ((f)->mm[i]) + RAID_SB_OFFSET)
#define CHUNK 4096u
#define DATA (1024u * 1024)                    /* member data bytes */
#define MEMBER (RAID_DATA_OFFSET + DATA)
#define REGION (64u * 1024)                    /* bitmap region: 16 bits */

/* RAID1 of N (2 or 3) on e1.1 ... with a bitmap of 64 KiB regions, written whole with
 * REF (array bytes, allocated), all bits clean again. */
static void
rig (struct fx *f, unsigned n, uint8_t **ref)
{
  struct raid_params p = { .level = RAID_LEVEL_1, .chunk_bytes = CHUNK, .name = "vol",
                           .flags = RAID_CREATE_ASSUME_CLEAN, .bitmap_region = REGION };
  char err[256] = "";
  uint64_t seed = 7;

  fx_members (f, n, MEMBER);
  f->a = raid_create (&p, f->mem, n, fx_log, f, err, sizeof err);
  cr_assert_not_null (f->a, "raid_create: %s", err);
  *ref = fx_fill (f->a, &seed);
}

/* Member I drops out (down while a write at OFF goes past it: faulty) and is back up. */
static void
drop_out (struct fx *f, uint8_t *ref, unsigned i, uint64_t off)
{
  raid_mem_member_set_down (f->mm[i], 1);
  fx_write_mark (f, ref, off);
  raid_mem_member_set_down (f->mm[i], 0);
}

/* e2.1 asked back by an incremental add (auto-readd, or a start finding it): its result. */
static int
auto_readd (struct fx *f, char *err, size_t errlen)
{
  struct raid_member back = f->mem[1];

  return raid_add_member_flags (f->a, &back, RAID_ADD_INCREMENTAL, err, errlen);
}

/* e2.1 (slot 1), rebuilt, serves alone: e1.1 down, every byte right. */
static void
expect_e2_alone (struct fx *f, const uint8_t *ref, const char *when)
{
  raid_mem_member_set_down (f->mm[0], 1);
  fx_expect_data (f->a, ref, NULL, raid_size (f->a), when);
}

/* e2.1 (slot 1) goes down, is written past, failed and removed while down: its own
 * superblock still says it is the active member of slot 1.  It comes back up. */
static void
remove_while_down (struct fx *f, uint8_t *ref)
{
  char err[256] = "";

  raid_mem_member_set_down (f->mm[1], 1);
  fx_write_mark (f, ref, 8192);                      /* fails it: it missed a write */
  cr_assert_eq (raid_fail_member (f->a, "e2.1", err, sizeof err), -ENOENT, "already faulty");
  cr_assert_eq (raid_remove_member (f->a, "e1.1", err, sizeof err), -EBUSY);
  cr_assert (strstr (err, "e1.1 is a working member or a spare of the array: fail it first"),
             "%s", err);
  cr_assert_eq (raid_remove_member (f->a, "e7.1", err, sizeof err), -ENOENT);
  cr_assert (strstr (err, "e7.1 is no member the array failed or let go of"), "%s", err);
  cr_assert_eq (raid_remove_member (f->a, "e2.1", err, sizeof err), 0, "%s", err);
  fx_write_mark (f, ref, 200 * 1024);
  raid_mem_member_set_down (f->mm[1], 0);
}

/* ---- the list in the superblock ------------------------------------------- */

Test (removed, the_list_is_kept_in_every_superblock)
{
  struct fx f;
  uint8_t *ref;
  struct raid_sb_summary e1, e2;

  rig (&f, 3, &ref);
  e2 = fx_examined (&f, 1);
  cr_assert_eq (fx_examined (&f, 0).removed, 0, "a new array has removed no one");
  remove_while_down (&f, ref);
  e1 = fx_examined (&f, 0);
  cr_assert_eq (e1.removed, 1);
  cr_assert (!memcmp (e1.removed_uuid[0], e2.member_uuid, 16));
  cr_assert (raid_sb_removed (&e1, e2.member_uuid));
  cr_assert (!raid_sb_removed (&e1, e1.member_uuid));
  cr_assert_eq (fx_examined (&f, 2).removed, 1);
  e2 = fx_examined (&f, 1);
  cr_assert_eq (e2.removed, 0, "e2.1 was away: its own superblock is the old one");
  cr_assert_eq (e2.role, 1);
  cr_assert_eq (e2.roles[1], RAID_ROLE_ACTIVE);
  /* and across a restart */
  fx_close (&f);
  cr_assert_not_null (fx_assemble (&f, 0, (char[256]) { 0 }, 256));
  cr_assert_eq (fx_examined (&f, 0).removed, 1);
  free (ref);
  fx_free (&f);
}

Test (removed, oldest_dropped_first)
{
  struct raid_sb sb;
  uint8_t u[16];

  memset (&sb, 0, sizeof sb);
  for (unsigned i = 0; i < RAID_MAX_REMOVED + 2; i++) {
    memset (u, (int) i + 1, 16);
    sb_removed_add (&sb, u);
  }
  cr_assert_eq (sb.removed_count, RAID_MAX_REMOVED);
  cr_assert_eq (sb.removed_uuid[0][0], 3, "the two oldest went");
  cr_assert_eq (sb.removed_uuid[RAID_MAX_REMOVED - 1][0], RAID_MAX_REMOVED + 2);
  sb_removed_add (&sb, u);
  cr_assert_eq (sb.removed_count, RAID_MAX_REMOVED, "a uuid on the list is not added twice");
  memset (u, 5, 16);
  cr_assert_eq (sb_removed_drop (&sb, u), 1);
  cr_assert_eq (sb_removed_drop (&sb, u), 0);
  cr_assert_eq (sb.removed_count, RAID_MAX_REMOVED - 1);
  cr_assert_eq (sb.removed_uuid[2][0], 6, "the rest moved up in order");
  for (unsigned i = 0; i < 16; i++)
    cr_assert_eq (sb.removed_uuid[RAID_MAX_REMOVED - 1][i], 0, "the freed entry is zero");
}

/* What no writer produces is dropped from the list, the rest kept: the list only says
 * whom not to take back, and must never make a sound superblock unusable. */
Test (removed, the_decoder_drops_entries_no_writer_produces)
{
  struct fx f;
  uint8_t *ref, block[RAID_SB_SIZE], x[16];
  struct raid_sb good, sb;
  char why[160];

  rig (&f, 3, &ref);
  remove_while_down (&f, ref);
  cr_assert_eq (sb_decode (SB (&f, 0), &good, why, sizeof why), RAID_SB_OK, "%s", why);
  cr_assert_eq (good.removed_count, 1);
  memcpy (x, good.removed_uuid[0], 16);
  static const char *const what[] = {
    "removed_count 17", "a zero entry", "an entry past the count", "a repeated entry",
    "this member's own uuid", "the member of working slot 2",
  };
  static const unsigned left[] = { 1, 1, 1, 1, 0, 0 };
  for (unsigned i = 0; i < sizeof what / sizeof what[0]; i++) {
    sb = good;
    switch (i) {
    case 0: sb.removed_count = 17; break;
    case 1: sb.removed_count = 2; break;
    case 2: sb.removed_uuid[2][3] = 1; break;
    case 3: sb.removed_count = 2; memcpy (sb.removed_uuid[1], sb.removed_uuid[0], 16); break;
    case 4: memcpy (sb.removed_uuid[0], sb.member_uuid, 16); break;
    case 5: memcpy (sb.removed_uuid[0], sb.slot_uuid[2], 16); break;
    }
    sb_encode (&sb, block);
    cr_expect_eq (sb_decode (block, &sb, why, sizeof why), RAID_SB_OK, "%s: refused: %s",
                  what[i], why);
    fx_expect_list (sb.removed_uuid, sb.removed_count, RAID_MAX_REMOVED, left[i], x,
                    what[i]);
  }
  /* a block of a writer before the list: those bytes zero, an empty list */
  sb = good;
  sb.removed_count = 0;
  memset (sb.removed_uuid, 0, sizeof sb.removed_uuid);
  sb_encode (&sb, block);
  cr_assert_eq (sb_decode (block, &sb, why, sizeof why), RAID_SB_OK, "%s", why);
  cr_assert_eq (sb.removed_count, 0);
  free (ref);
  fx_free (&f);
}

/* ---- the decisions --------------------------------------------------------- */

/* auto-readd (an incremental add) refuses it; the admin's add takes it, in full. */
Test (removed, not_readded_by_itself_but_added_by_the_admin)
{
  struct fx f;
  uint8_t *ref;
  struct raid_member back;
  struct raid_sb_summary sb;
  struct raid_status st;
  char err[256] = "";

  rig (&f, 2, &ref);
  remove_while_down (&f, ref);
  back = f.mem[1];
  sb = fx_examined (&f, 1);
  cr_assert (raid_member_removed (f.a, &sb));
  cr_assert_eq (auto_readd (&f, err, sizeof err), -EPERM);
  cr_assert (strstr (err, "member e2.1 was removed from the array by the administrator"),
             "%s", err);
  raid_status (f.a, &st);
  cr_assert_eq (st.spares, 0);
  cr_assert_eq (raid_recovery_pending (f.a), 0);
  cr_assert_eq (fx_examined (&f, 0).removed, 1, "a refusal writes nothing");

  cr_assert_eq (raid_add_member (f.a, &back, err, sizeof err), 0, "%s", err);
  cr_assert (strstr (f.info, "added e2.1 as a spare (the administrator had removed it"),
             "%s", f.info);
  cr_assert_eq (fx_examined (&f, 0).removed, 0, "added again: off the list");
  sb = fx_examined (&f, 1);
  cr_assert_eq (sb.role, RAID_SB_ROLE_SPARE);
  cr_assert (!raid_member_removed (f.a, &sb));
  uint64_t wrote = fx_recover_writes (f.a, f.mm[1]);
  cr_assert (wrote >= DATA, "rebuilt %llu bytes: not in full", (unsigned long long) wrote);
  cr_assert (strstr (f.info, "spare e2.1 takes slot 1"), "%s", f.info);
  raid_status (f.a, &st);
  cr_assert_eq (st.member[1].role, RAID_ROLE_ACTIVE);
  expect_e2_alone (&f, ref, "rebuilt e2.1 alone");
  free (ref);
  fx_free (&f);
}

/* The admin's add of a member they removed, whose superblock cannot be written: not
 * added, so it stays on the list (an auto-readd still refuses it), also after a restart. */
Test (removed, an_add_that_cannot_write_its_superblock_keeps_it_removed)
{
  struct fx f;
  uint8_t *ref;
  struct raid_member back;
  struct raid_status st;
  char err[256] = "";

  rig (&f, 2, &ref);
  remove_while_down (&f, ref);
  back = f.mem[1];
  raid_mem_member_fail (f.mm[1], 0, 1);
  cr_assert_eq (raid_add_member (f.a, &back, err, sizeof err), -EIO, "%s", err);
  cr_assert (strstr (err, "cannot write the superblock to member e2.1"), "%s", err);
  raid_status (f.a, &st);
  cr_assert_eq (st.spares, 0);
  cr_assert_eq (fx_examined (&f, 0).removed, 1, "the failed add took e2.1 off the list");
  raid_mem_member_fail (f.mm[1], 0, 0);
  cr_assert_eq (auto_readd (&f, err, sizeof err), -EPERM, "auto-readd took it: %s", err);
  fx_close (&f);
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  cr_assert_eq (fx_examined (&f, 0).removed, 1, "the restart forgot the removal");
  raid_status (f.a, &st);
  cr_assert_eq (st.member[1].role, RAID_ROLE_MISSING, "e2.1 came back by itself");
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "e1.1 alone");
  free (ref);
  fx_free (&f);
}

/* A member whose slot a spare took while it was away, removed then (the plugin: a shelf
 * the array let go of): recorded too, so that it does not come back as a spare by itself. */
Test (removed, a_member_whose_slot_was_taken_is_recorded_too)
{
  struct fx f;
  uint8_t *ref;
  struct raid_mem_member *spare = raid_mem_member_new ("e9.1", MEMBER);
  struct raid_member sm = raid_mem_member (spare);
  struct raid_sb_summary sb;
  char err[256] = "";

  rig (&f, 2, &ref);
  cr_assert_eq (raid_add_member (f.a, &sm, err, sizeof err), 0, "%s", err);
  raid_mem_member_set_down (f.mm[1], 1);
  fx_write_mark (&f, ref, 8192);
  cr_assert_eq (raid_recover (f.a), 0);           /* e9.1 holds slot 1 now */
  cr_assert_eq (raid_remove_member (f.a, "e2.1", err, sizeof err), 0, "%s", err);
  raid_mem_member_set_down (f.mm[1], 0);
  sb = fx_examined (&f, 0);
  cr_assert_eq (sb.removed, 1);
  cr_assert (raid_sb_removed (&sb, fx_examined (&f, 1).member_uuid));
  cr_assert_eq (auto_readd (&f, err, sizeof err), -EPERM, "%s", err);
  cr_assert_eq (raid_remove_member (f.a, "e9.1", err, sizeof err), -EBUSY, "working");
  free (ref);
  fx_free (&f);
  raid_mem_member_free (spare);
}

/* A member that merely dropped out (not removed) is re-added from its bitmap, as before. */
Test (removed, a_member_that_dropped_out_comes_back_from_its_bitmap)
{
  struct fx f;
  uint8_t *ref;
  char err[256] = "";

  rig (&f, 2, &ref);
  bitmap_pass (f.a);
  bitmap_pass (f.a);
  drop_out (&f, ref, 1, 8192);
  cr_assert (!raid_member_removed (f.a, (struct raid_sb_summary[]) { fx_examined (&f, 1) }));
  cr_assert_eq (auto_readd (&f, err, sizeof err), 0, "%s", err);
  uint64_t wrote = fx_recover_writes (f.a, f.mm[1]);
  cr_assert (wrote < DATA / 2, "rebuilt %llu bytes: not from the bitmap",
             (unsigned long long) wrote);
  cr_assert (strstr (f.info, "e2.1 comes back to slot 1"), "%s", f.info);
  expect_e2_alone (&f, ref, "re-added e2.1 alone");
  free (ref);
  fx_free (&f);
}

/* A start given every shelf (shelves=) leaves it out, with a line; the admin adds it. */
Test (removed, assembly_leaves_it_out)
{
  struct fx f;
  uint8_t *ref;
  struct raid_status st;
  struct raid_member back;
  char err[256] = "";

  rig (&f, 2, &ref);
  remove_while_down (&f, ref);
  fx_close (&f);
  fx_warnings[0] = '\0';
  f.a = raid_assemble (f.mem, f.n, 0, fx_log_all, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  cr_assert (strstr (fx_warnings, "vol: member e2.1 was removed by the administrator (events "),
             "%s", fx_warnings);
  cr_assert (strstr (fx_warnings, "left out: only an explicit add (aoeraid add) takes it again"),
             "%s", fx_warnings);
  cr_assert (!strstr (fx_warnings, "stale"), "%s", fx_warnings);
  raid_status (f.a, &st);
  cr_assert_eq (st.member[1].role, RAID_ROLE_MISSING);
  cr_assert_eq (st.spares, 0);
  back = f.mem[1];
  cr_assert_eq (auto_readd (&f, err, sizeof err), -EPERM, "after a restart too");
  cr_assert_eq (raid_add_member (f.a, &back, err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_recover (f.a), 0);
  expect_e2_alone (&f, ref, "e2.1 added after the restart");
  free (ref);
  fx_free (&f);
}

/* A scan by name leaves out a removed member and a removed spare that could not be
 * wiped (away when removed); a member that dropped out is still picked. */
Test (removed, a_scan_leaves_it_out)
{
  struct fx f;
  uint8_t *ref;
  struct raid_mem_member *spare = raid_mem_member_new ("e9.1", MEMBER);
  struct raid_member sm = raid_mem_member (spare);
  struct raid_sb_summary sb[4];
  enum raid_scan_pick pick[4];
  char err[256] = "";

  rig (&f, 3, &ref);
  cr_assert_eq (raid_add_member (f.a, &sm, err, sizeof err), 0, "%s", err);
  raid_mem_member_set_down (spare, 1);
  cr_assert_eq (raid_remove_spare (f.a, "e9.1", err, sizeof err), 0, "%s", err);
  cr_assert (strstr (f.last_warning, "the array remembers it removed"), "%s", f.last_warning);
  raid_mem_member_set_down (spare, 0);
  remove_while_down (&f, ref);
  drop_out (&f, ref, 2, 300 * 1024);              /* e3.1 drops out, not removed */
  for (unsigned i = 0; i < 3; i++)
    cr_assert_eq (raid_examine (&f.mem[i], &sb[i]), 0);
  cr_assert_eq (raid_examine (&sm, &sb[3]), 0);
  cr_assert_eq (sb[3].role, RAID_SB_ROLE_SPARE, "the spare's old superblock, not wiped");
  cr_assert_eq (raid_scan_pick (sb, 4, "vol", NULL, pick, err, sizeof err), 2, "%s", err);
  cr_assert_eq (pick[0], RAID_SCAN_MEMBER);
  cr_assert_eq (pick[1], RAID_SCAN_REMOVED);
  cr_assert_eq (pick[2], RAID_SCAN_MEMBER, "dropped out: assembly's to judge, a re-add");
  cr_assert_eq (pick[3], RAID_SCAN_REMOVED);
  cr_assert (raid_scan_complete (sb, 4, pick), "a removed member is waited for by no one");
  free (ref);
  fx_free (&f);
  raid_mem_member_free (spare);
}

/* A member that dropped out and was added back (a spare now, to be re-added from its
 * bitmap into the slot that still holds it as faulty) is a spare: raid_remove_member
 * refuses it (-EBUSY), as it refuses any spare.  Taken for the faulty slot's member, its
 * uuid went on the list while the spare kept it: the re-add then put a listed uuid in a
 * working slot, and every superblock written after was one sb_decode refuses (damaged):
 * no start could assemble the array again. */
Test (removed, a_member_added_back_is_a_spare_not_the_faulty_slots)
{
  struct fx f;
  uint8_t *ref;
  struct raid_member back;
  struct raid_status st;
  char err[256] = "";

  rig (&f, 2, &ref);
  bitmap_pass (f.a);
  bitmap_pass (f.a);
  drop_out (&f, ref, 1, 8192);                    /* fails e2.1: slot 1 faulty */
  back = f.mem[1];
  cr_assert_eq (raid_add_member (f.a, &back, err, sizeof err), 0, "%s", err);
  raid_status (f.a, &st);
  cr_assert (st.spares == 1 && !strcmp (st.spare[0], "e2.1"), "e2.1 not a spare");
  cr_expect_eq (raid_remove_member (f.a, "e2.1", err, sizeof err), -EBUSY,
                "e2.1, a spare, taken for the faulty member of slot 1");
  cr_assert_eq (raid_recover (f.a), 0);
  for (unsigned i = 0; i < 2; i++)
    fx_examined (&f, i);                             /* RAID_SB_OK, or it says why */
  fx_close (&f);
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "after the re-add and a restart");
  free (ref);
  fx_free (&f);
}

/* The list remembers the members whose own superblock could not be wiped: a removal
 * whose wipe worked leaves nothing behind that could come back, and takes no entry; so
 * routine removals (spares swapped, members removed and wiped) never push out a member
 * removed while it was down, which would then be taken back by itself. */
Test (removed, wiped_removals_do_not_push_out_one_that_could_come_back)
{
  struct fx f;
  uint8_t *ref;
  struct raid_mem_member *spare = raid_mem_member_new ("e9.1", MEMBER);
  struct raid_member sm = raid_mem_member (spare), back;
  struct raid_sb_summary e2;
  char err[256] = "";

  rig (&f, 2, &ref);
  e2 = fx_examined (&f, 1);
  remove_while_down (&f, ref);                    /* e2.1: listed, not wiped */
  for (unsigned i = 0; i < RAID_MAX_REMOVED; i++) {
    cr_assert_eq (raid_add_member (f.a, &sm, err, sizeof err), 0, "%s", err);
    cr_assert_eq (raid_remove_spare (f.a, "e9.1", err, sizeof err), 0, "%s", err);
  }
  cr_expect (raid_sb_removed ((struct raid_sb_summary[]) { fx_examined (&f, 0) }, e2.member_uuid),
             "e2.1 pushed off the list by %d spares removed and wiped", RAID_MAX_REMOVED);
  back = f.mem[1];
  cr_assert_eq (auto_readd (&f, err, sizeof err), -EPERM, "e2.1, removed, taken back by itself");
  /* a member removed, then wiped (the plugin's remove of a shelf that answers) */
  cr_assert_eq (raid_add_member (f.a, &back, err, sizeof err), 0, "%s", err);
  cr_assert_eq (raid_recover (f.a), 0);
  e2 = fx_examined (&f, 1);
  raid_mem_member_fail (f.mm[1], 0, 1);
  fx_write_mark (&f, ref, 8192);                     /* fails e2.1 */
  raid_mem_member_fail (f.mm[1], 0, 0);
  cr_assert_eq (raid_remove_member (f.a, "e2.1", err, sizeof err), 0, "%s", err);
  cr_assert (raid_sb_removed ((struct raid_sb_summary[]) { fx_examined (&f, 0) }, e2.member_uuid),
             "recorded before the wipe (a crash between leaves it remembered)");
  cr_assert_eq (raid_wipe (&f.mem[1]), 0);
  raid_removed_wiped (f.a, e2.member_uuid);
  cr_assert_eq (fx_examined (&f, 0).removed, 0, "wiped: nothing left to remember");
  free (ref);
  fx_free (&f);
  raid_mem_member_free (spare);
}

/* A spare removed while its shelf is down (its wipe fails): the log line and the answer
 * (err, which the admin reads) say the same, in raid_wipe_failed_text's words (QA walk:
 * two texts, and the plugin's remove of a failed member a third). */
Test (removed, an_unwiped_spare_is_said_alike_in_the_log_and_the_answer)
{
  struct fx f;
  uint8_t *ref;
  struct raid_mem_member *spare = raid_mem_member_new ("e9.1", MEMBER);
  struct raid_member sm = raid_mem_member (spare);
  char err[256] = "", want[512], text[256];

  rig (&f, 2, &ref);
  cr_assert_eq (raid_add_member (f.a, &sm, err, sizeof err), 0, "%s", err);
  raid_mem_member_set_down (spare, 1);
  err[0] = '\0';
  cr_assert_eq (raid_remove_spare (f.a, "e9.1", err, sizeof err), 0, "%s", err);
  raid_wipe_failed_text (text, sizeof text, "e9.1", -ENODEV, 1);   /* a down member */
  cr_expect_str_eq (err, text);
  snprintf (want, sizeof want, "vol: spare e9.1 removed, but %s", err);
  cr_expect_str_eq (f.last_warning, want);
  cr_expect (strstr (err, "the array remembers it removed and leaves it out; to use it "
                     "elsewhere wipe it with 'aoeraid zero-superblock -i IFACE e9.1'"), "%s",
             err);
  free (ref);
  fx_free (&f);
  raid_mem_member_free (spare);
}

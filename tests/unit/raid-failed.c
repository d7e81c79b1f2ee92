/* md: a device the admin failed (--fail: a disk going bad) stays out after a reassembly;
 * mdadm takes it back only when told (--re-add, --add).  The superblocks list the members
 * the admin failed (by member uuid, at most RAID_MAX_FAILED, in bytes older writers left
 * zero); assembly leaves such a member out with one line saying how to take it back, an
 * incremental add (auto-readd) refuses it, force takes it back only when the array cannot
 * start otherwise, an explicit add takes it back (off the list, re-added from the
 * bitmap), and a remove moves it to the removed list. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <isa-l/crc.h>

#include "raid-test.h"
#include "raid-int.h"

#define SB(f, i) (raid_mem_member_data ((f)->mm[i]) + RAID_SB_OFFSET)
#define CHUNK 4096u
#define DATA (1024u * 1024)                    /* member data bytes */
#define MEMBER (RAID_DATA_OFFSET + DATA)
#define REGION (64u * 1024)                    /* bitmap region: 16 bits */
#define FAILED_LINE "vol: e2.1 was failed by the administrator (aoeraid fail); left out: " \
  "aoeraid add e2.1 takes it back"

/* LEVEL of N on e1.1 ... with a bitmap of 64 KiB regions, written whole with REF (array
 * bytes, allocated), all bits clean again. */
static void
rig_level (struct fx *f, enum raid_level level, unsigned n, uint8_t **ref)
{
  *ref = fx_create_filled (f, level, n, MEMBER, CHUNK, REGION);
}

/* RAID1 of N (2 or 3). */
static void
rig (struct fx *f, unsigned n, uint8_t **ref)
{
  rig_level (f, RAID_LEVEL_1, n, ref);
}

/* How often NEEDLE is in HAY. */
static unsigned
count_of (const char *hay, const char *needle)
{
  unsigned n = 0;

  for (const char *p = strstr (hay, needle); p; p = strstr (p + 1, needle))
    n++;
  return n;
}

/* The admin fails e2.1 (slot 1); a write follows, which it misses. */
static void
admin_fails_e2 (struct fx *f, uint8_t *ref)
{
  char err[256] = "";

  cr_assert_eq (raid_fail_member (f->a, "e2.1", err, sizeof err), 0, "%s", err);
  fx_write_mark (f, ref, 8192);
}

/* Stop, and start again from every member given (FORCE), the fx_warnings collected. */
static void
restart (struct fx *f, int force)
{
  char err[512] = "";

  fx_close (f);
  fx_warnings[0] = '\0';
  f->a = raid_assemble (f->mem, f->n, force ? RAID_ASSEMBLE_FORCE : 0, fx_log_all, f, err,
                        sizeof err);
  cr_assert_not_null (f->a, "%s", err);
}

/* e2.1 asked back by an incremental add (auto-readd): its result. */
static int
auto_readd (struct fx *f, char *err, size_t errlen)
{
  struct raid_member back = f->mem[1];

  return raid_add_member_flags (f->a, &back, RAID_ADD_INCREMENTAL, err, errlen);
}

/* ---- the list in the superblock ------------------------------------------- */

Test (failed, the_list_is_kept_in_every_superblock)
{
  struct fx f;
  uint8_t *ref;
  struct raid_sb_summary e1, e2 = { 0 };

  rig (&f, 3, &ref);
  e2 = fx_examined (&f, 1);
  cr_assert_eq (fx_examined (&f, 0).failed, 0, "a new array has failed no one");
  admin_fails_e2 (&f, ref);
  e1 = fx_examined (&f, 0);
  cr_assert_eq (e1.failed, 1);
  cr_assert (!memcmp (e1.failed_uuid[0], e2.member_uuid, 16));
  cr_assert (raid_sb_failed (&e1, e2.member_uuid));
  cr_assert (!raid_sb_failed (&e1, e1.member_uuid));
  cr_assert_eq (e1.removed, 0, "failed, not removed");
  cr_assert_eq (fx_examined (&f, 2).failed, 1);
  cr_assert_eq (fx_examined (&f, 1).failed, 0, "e2.1's own superblock is the old one");
  /* where the format says: a count at byte 1816, the uuids from byte 1824 */
  cr_assert_eq (le_get32 (SB (&f, 0), 1816), 1);
  cr_assert (!memcmp (SB (&f, 0) + 1824, e2.member_uuid, 16));
  free (ref);
  fx_free (&f);
}

/* What no writer produces is dropped from the list; an older writer's block (those bytes
 * zero) has none; a member on both lists is removed (a remove moved it). */
Test (failed, the_decoder_drops_entries_no_writer_produces)
{
  struct fx f;
  uint8_t *ref, block[RAID_SB_SIZE], x[16];
  struct raid_sb good, sb;
  char why[160];

  rig (&f, 3, &ref);
  admin_fails_e2 (&f, ref);
  cr_assert_eq (sb_decode (SB (&f, 0), &good, why, sizeof why), RAID_SB_OK, "%s", why);
  cr_assert_eq (good.failed_count, 1);
  memcpy (x, good.failed_uuid[0], 16);
  static const char *const what[] = {
    "failed_count 17", "a zero entry", "a repeated entry", "this member's own uuid",
    "the member of working slot 2", "a member on the removed list",
  };
  static const unsigned left[] = { 1, 1, 1, 0, 0, 0 };
  for (unsigned i = 0; i < sizeof what / sizeof what[0]; i++) {
    sb = good;
    switch (i) {
    case 0: sb.failed_count = 17; break;
    case 1: sb.failed_count = 2; break;
    case 2: sb.failed_count = 2; memcpy (sb.failed_uuid[1], sb.failed_uuid[0], 16); break;
    case 3: memcpy (sb.failed_uuid[0], sb.member_uuid, 16); break;
    case 4: memcpy (sb.failed_uuid[0], sb.slot_uuid[2], 16); break;
    case 5: sb.removed_count = 1; memcpy (sb.removed_uuid[0], x, 16); break;
    }
    sb_encode (&sb, block);
    cr_expect_eq (sb_decode (block, &sb, why, sizeof why), RAID_SB_OK, "%s: refused: %s",
                  what[i], why);
    fx_expect_list (sb.failed_uuid, sb.failed_count, RAID_MAX_FAILED, left[i], x, what[i]);
  }
  memcpy (block, SB (&f, 0), RAID_SB_SIZE);
  memset (block + 1816, 0, 1824 + 16 * RAID_MAX_FAILED - 1816);   /* an older writer's */
  le_put32 (block, RAID_SB_SIZE - 4, crc32_iscsi (block, RAID_SB_SIZE - 4, 0xffffffff));
  cr_assert_eq (sb_decode (block, &sb, why, sizeof why), RAID_SB_OK, "%s", why);
  cr_assert_eq (sb.failed_count, 0);
  free (ref);
  fx_free (&f);
}

Test (failed, oldest_dropped_first_and_removed_moves_it)
{
  struct raid_sb sb;
  uint8_t u[16];

  memset (&sb, 0, sizeof sb);
  for (unsigned i = 0; i < RAID_MAX_FAILED + 2; i++) {
    memset (u, (int) i + 1, 16);
    sb_failed_add (&sb, u);
  }
  cr_assert_eq (sb.failed_count, RAID_MAX_FAILED);
  cr_assert_eq (sb.failed_uuid[0][0], 3, "the two oldest went");
  memset (u, 5, 16);
  sb_removed_add (&sb, u);
  cr_assert_eq (sb_failed_index (&sb, u), -1, "removed: off the failed list");
  cr_assert_eq (sb_removed_index (&sb, u), 0);
  sb_failed_add (&sb, u);
  cr_assert_eq (sb_failed_index (&sb, u), -1, "a removed member is not listed failed");
  cr_assert_eq (sb.failed_count, RAID_MAX_FAILED - 1);
}

/* ---- the decisions --------------------------------------------------------- */

/* A restart given every member leaves it out, says so once, and auto-readd refuses it;
 * the admin's add takes it back from the bitmap, off the list, and the next restart
 * finds the array whole. */
Test (failed, a_restart_leaves_it_out_until_the_admin_adds_it)
{
  struct fx f;
  uint8_t *ref;
  struct raid_member back;
  struct raid_status st;
  char err[256] = "";

  rig (&f, 2, &ref);
  admin_fails_e2 (&f, ref);
  restart (&f, 0);
  cr_assert_eq (count_of (fx_warnings, FAILED_LINE "\n"), 1, "said once: %s", fx_warnings);
  cr_assert (!strstr (fx_warnings, "stale"), "one line, not a stale one too: %s", fx_warnings);
  raid_status (f.a, &st);
  cr_assert_eq (st.member[1].role, RAID_ROLE_MISSING);
  cr_assert_eq (st.spares, 0);
  cr_assert (st.admin_failed == 1 && !strcmp (st.admin_failed_name[0], "e2.1"),
             "status names e2.1 failed by the administrator");
  cr_assert (raid_member_failed (f.a, (struct raid_sb_summary[]) { fx_examined (&f, 1) }));
  cr_assert_eq (auto_readd (&f, err, sizeof err), -EPERM, "auto-readd took it back");
  cr_assert (strstr (err, "e2.1 was failed by the administrator (aoeraid fail); left out: "
                     "aoeraid add e2.1 takes it back"), "%s", err);
  raid_status (f.a, &st);
  cr_assert_eq (st.spares, 0);
  cr_assert_eq (fx_examined (&f, 0).failed, 1, "a refusal writes nothing");

  restart (&f, 1);
  cr_assert (strstr (fx_warnings, FAILED_LINE), "%s", fx_warnings);
  cr_assert (!strstr (fx_warnings, "taken back"), "force took it back: %s", fx_warnings);
  raid_status (f.a, &st);
  cr_assert_eq (st.member[1].role, RAID_ROLE_MISSING, "force: the array starts without it");

  back = f.mem[1];
  cr_assert_eq (raid_add_member (f.a, &back, err, sizeof err), 0, "%s", err);
  cr_assert_eq (fx_examined (&f, 0).failed, 0, "added again: off the list");
  raid_status (f.a, &st);
  cr_assert_eq (st.admin_failed, 0, "added again: status no longer names it");
  uint64_t wrote = fx_recover_writes (f.a, f.mm[1]);
  cr_assert (wrote < DATA / 2, "rebuilt %llu bytes: not from the bitmap",
             (unsigned long long) wrote);
  cr_assert (strstr (f.info, "e2.1 comes back to slot 1"), "%s", f.info);
  restart (&f, 0);
  cr_assert (!strstr (fx_warnings, "e2.1"), "%s", fx_warnings);
  raid_status (f.a, &st);
  cr_assert_eq (st.member[1].role, RAID_ROLE_ACTIVE);
  raid_mem_member_set_down (f.mm[0], 1);
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "e2.1 alone, taken back");
  free (ref);
  fx_free (&f);
}

/* The admin's add of a member they failed, whose superblock cannot be written: not added,
 * so it stays on the list, and a restart leaves it out as before. */
Test (failed, an_add_that_cannot_write_its_superblock_keeps_it_failed)
{
  struct fx f;
  uint8_t *ref;
  struct raid_member back;
  struct raid_status st;
  char err[256] = "";

  rig (&f, 2, &ref);
  admin_fails_e2 (&f, ref);
  restart (&f, 0);
  raid_mem_member_fail (f.mm[1], 0, 1);
  back = f.mem[1];
  cr_assert_eq (raid_add_member (f.a, &back, err, sizeof err), -EIO, "%s", err);
  cr_assert (strstr (err, "cannot write the superblock to member e2.1"), "%s", err);
  raid_status (f.a, &st);
  cr_assert (st.spares == 0 && st.member[1].role == RAID_ROLE_MISSING, "spares %u role %d",
             st.spares, st.member[1].role);
  cr_assert (st.admin_failed == 1 && !strcmp (st.admin_failed_name[0], "e2.1"),
             "the failed add took e2.1 off the list");
  cr_assert_eq (fx_examined (&f, 0).failed, 1, "the failed add took e2.1 off the list");
  raid_mem_member_fail (f.mm[1], 0, 0);
  restart (&f, 0);
  cr_assert_eq (count_of (fx_warnings, FAILED_LINE "\n"), 1, "%s", fx_warnings);
  raid_status (f.a, &st);
  cr_assert_eq (st.member[1].role, RAID_ROLE_MISSING, "e2.1 came back by itself");
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "e1.1 alone");
  free (ref);
  fx_free (&f);
}

/* A spare took its slot: the list keeps it, a restart leaves it out with the same line,
 * and a remove moves it to the removed list. */
Test (failed, a_spare_in_its_slot_and_a_remove_after)
{
  struct fx f;
  uint8_t *ref;
  struct raid_mem_member *spare = raid_mem_member_new ("e9.1", MEMBER);
  struct raid_member sm = raid_mem_member (spare);
  struct raid_member all[3];
  struct raid_sb_summary e1, e2;
  char err[512] = "";

  rig (&f, 2, &ref);
  e2 = fx_examined (&f, 1);
  cr_assert_eq (raid_add_member (f.a, &sm, err, sizeof err), 0, "%s", err);
  admin_fails_e2 (&f, ref);
  cr_assert_eq (raid_recover (f.a), 0);           /* e9.1 holds slot 1 now */
  cr_assert (raid_sb_failed ((struct raid_sb_summary[]) { fx_examined (&f, 0) }, e2.member_uuid));
  fx_close (&f);
  memcpy (all, f.mem, 2 * sizeof all[0]);
  all[2] = sm;
  fx_warnings[0] = '\0';
  f.a = raid_assemble (all, 3, 0, fx_log_all, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  cr_assert (strstr (fx_warnings, FAILED_LINE), "%s", fx_warnings);
  cr_assert (!strstr (fx_warnings, "left slot"), "one line: %s", fx_warnings);
  cr_assert_eq (auto_readd (&f, err, sizeof err), -EPERM, "%s", err);
  cr_assert_eq (raid_remove_member (f.a, "e2.1", err, sizeof err), 0, "%s", err);
  e1 = fx_examined (&f, 0);
  cr_assert_eq (e1.failed, 0, "removed: off the failed list");
  cr_assert (raid_sb_removed (&e1, e2.member_uuid));
  free (ref);
  fx_free (&f);
  raid_mem_member_free (spare);
}

/* force takes back the members the array cannot start without, those the admin failed
 * last.  RAID6 of 4: e4.1 drops out (stale), then the admin fails e2.1, so e2.1 is the
 * fresher; with e3.1 gone at the start, e1.1 alone is fresh: refused without force, and
 * force takes e4.1, not e2.1.  With e4.1 gone too, only e2.1 can serve: force takes it,
 * off the list. */
Test (failed, force_takes_it_only_when_nothing_else_will_do)
{
  struct fx f;
  uint8_t *ref;
  struct raid_status st;
  char err[512] = "";

  rig_level (&f, RAID_LEVEL_6, 4, &ref);
  raid_mem_member_set_down (f.mm[3], 1);
  fx_write_mark (&f, ref, 4096);                     /* e4.1 missed it: faulty */
  raid_mem_member_set_down (f.mm[3], 0);
  admin_fails_e2 (&f, ref);
  cr_assert (fx_examined (&f, 1).events > fx_examined (&f, 3).events, "e2.1 is the fresher");
  fx_close (&f);
  raid_mem_member_set_down (f.mm[2], 1);
  fx_warnings[0] = '\0';
  f.a = raid_assemble (f.mem, f.n, 0, fx_log_all, &f, err, sizeof err);
  cr_assert_null (f.a, "started from e1.1 alone without force");
  f.a = raid_assemble (f.mem, f.n, RAID_ASSEMBLE_FORCE, fx_log_all, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  cr_assert (strstr (fx_warnings, "member e4.1 (slot 3, events"), "%s", fx_warnings);
  cr_assert (!strstr (fx_warnings, "e2.1 (slot 1"), "e2.1 taken back: %s", fx_warnings);
  raid_status (f.a, &st);
  cr_assert_eq (st.member[3].role, RAID_ROLE_ACTIVE);
  cr_assert_eq (st.member[1].role, RAID_ROLE_MISSING);
  cr_assert_eq (fx_examined (&f, 0).failed, 1, "e2.1 still listed failed");

  /* e4.1 gone too: only e2.1 can serve, force takes it */
  fx_close (&f);
  raid_mem_member_set_down (f.mm[3], 1);
  fx_warnings[0] = '\0';
  f.a = raid_assemble (f.mem, f.n, RAID_ASSEMBLE_FORCE, fx_log_all, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  cr_assert (strstr (fx_warnings, "member e2.1 (slot 1, events"), "%s", fx_warnings);
  cr_assert (strstr (fx_warnings, "failed by the administrator, taken back (force): the array "
                     "cannot start without it"), "%s", fx_warnings);
  cr_assert_eq (fx_examined (&f, 0).failed, 0, "taken back: off the list");
  raid_status (f.a, &st);
  cr_assert_eq (st.member[1].role, RAID_ROLE_ACTIVE);
  free (ref);
  fx_free (&f);
}

/* md refuses any add to a failed array (EBUSY).  RAID5 of 3: e2.1 and e3.1 go down under a
 * write, the array fails; back, neither auto-readd nor an add takes them (as spares their
 * superblocks would name no slot, and force could not start the array again); a restart
 * with force takes them back into their slots. */
Test (failed, a_failed_array_takes_no_member_back_but_force_does)
{
  struct fx f;
  uint8_t *ref;
  struct raid_status st;
  struct raid_member back;
  char err[512] = "";

  rig_level (&f, RAID_LEVEL_5, 3, &ref);
  raid_mem_member_fail (f.mm[1], 0, 1);
  raid_mem_member_fail (f.mm[2], 0, 1);
  raid_write (f.a, ref, 2 * CHUNK, 0, 0);         /* fails them both: the array fails */
  raid_status (f.a, &st);
  cr_assert_eq (st.state, RAID_STATE_FAILED);
  raid_mem_member_fail (f.mm[1], 0, 0);
  raid_mem_member_fail (f.mm[2], 0, 0);
  cr_assert_eq (auto_readd (&f, err, sizeof err), -EBUSY, "auto-readd took e2.1: %s", err);
  cr_assert (strstr (err, "e2.1 holds slot 1 of 'vol', which has failed: added now it would "
                     "be a spare, no longer its slot's; stop the array and start it again "
                     "with force=true"), "%s", err);
  back = f.mem[2];
  cr_assert_eq (raid_add_member (f.a, &back, err, sizeof err), -EBUSY, "add took e3.1: %s",
                err);
  raid_status (f.a, &st);
  cr_assert_eq (st.spares, 0, "a refusal adds no spare");
  cr_assert_neq (fx_examined (&f, 1).role, RAID_SB_ROLE_SPARE, "e2.1's superblock rewritten");

  restart (&f, 1);
  raid_status (f.a, &st);
  cr_assert_neq (st.state, RAID_STATE_FAILED, "force did not start it: %s", fx_warnings);
  free (ref);
  fx_free (&f);
}

/* md: no spare goes into a slot of a failed array (raid5_add_disk, raid10_add_disk: "no
 * point adding a device").  A RAID5 of 3 loses e3.1, takes a write on e1.1 and e2.1, then
 * loses e2.1: failed.  e4.1 added then waits as a spare; had it taken slot 1 (whose
 * recovery cannot read enough members anyway), e2.1, the member force needs, would be a
 * former member, and force would start the array with e3.1, which missed that write. */
/* A RAID5 of 3 with a bitmap on e1.1 ... e4.1 (e4.1 not a member yet), REF its bytes:
 * e3.1 fails, a write at 8192 reaches e1.1 and e2.1 only, then e2.1 fails: failed. */
static void
failed_after_a_write_e3_missed (struct fx *f, uint8_t **ref)
{
  struct raid_params p = { .level = RAID_LEVEL_5, .chunk_bytes = CHUNK, .name = "vol",
                           .flags = RAID_CREATE_ASSUME_CLEAN, .bitmap_region = REGION };
  struct raid_status st;
  char err[512] = "";
  uint64_t seed = 7;

  fx_members (f, 4, MEMBER);
  f->a = raid_create (&p, f->mem, 3, fx_log, f, err, sizeof err);
  cr_assert_not_null (f->a, "raid_create: %s", err);
  *ref = fx_fill (f->a, &seed);
  raid_mem_member_fail (f->mm[2], 1, 1);
  raid_write (f->a, *ref, 2 * CHUNK, 0, 0);       /* fails e3.1: degraded */
  raid_mem_member_fail (f->mm[2], 0, 0);          /* e3.1's disk sound, its data stale */
  fx_write_mark (f, *ref, 8192);                  /* on e1.1 and e2.1 only */
  raid_mem_member_fail (f->mm[1], 1, 1);
  raid_write (f->a, *ref, 2 * CHUNK, 0, 0);       /* fails e2.1: the array fails */
  raid_status (f->a, &st);
  cr_assert_eq (st.state, RAID_STATE_FAILED);
  raid_mem_member_fail (f->mm[1], 0, 0);
}

/* e4.1 added to the failed array of failed_after_a_write_e3_missed: a spare, no slot. */
static void
add_e4_to_the_failed_array (struct fx *f)
{
  struct raid_member spare = f->mem[3];
  struct raid_status st;
  char err[512] = "";

  cr_assert_eq (raid_add_member (f->a, &spare, err, sizeof err), 0, "add e4.1: %s", err);
  cr_assert_eq (raid_recovery_pending (f->a), 0, "a recovery is due on a failed array");
  cr_assert_neq (raid_recover (f->a), 0, "a recovery ran on a failed array");
  raid_status (f->a, &st);
  cr_assert_eq (st.spares, 1, "e4.1 is no longer a spare (recovery slot %d)",
                st.recovery_slot);
  cr_assert_eq (fx_examined (f, 0).roles[1], RAID_ROLE_FAULTY,
                "slot 1 recorded as another's: %d", fx_examined (f, 0).roles[1]);
}

/* md: no spare goes into a slot of a failed array (raid5_add_disk, raid10_add_disk: "no
 * point adding a device").  A RAID5 of 3 loses e3.1, takes a write on e1.1 and e2.1, then
 * loses e2.1: failed.  e4.1 added then waits as a spare; had it taken slot 1 (whose
 * recovery cannot read enough members anyway), e2.1, the member force needs, would be a
 * former member, and force would start the array with e3.1, which missed that write. */
Test (failed, a_spare_added_to_a_failed_array_takes_no_slot)
{
  struct fx f;
  uint8_t *ref;

  failed_after_a_write_e3_missed (&f, &ref);
  add_e4_to_the_failed_array (&f);
  restart (&f, 1);
  fx_expect_data (f.a, ref, NULL, 6 * CHUNK, "forced start after the spare's add");
  free (ref);
  fx_free (&f);
}

/* ... and once force started it again (with e1.1 and e2.1; e3.1 left out, stale), the
 * array is merely degraded: the spare that waited takes slot 2, the one still missing,
 * and the array is whole again. */
Test (failed, the_spare_that_waited_takes_the_missing_slot_once_force_started_it)
{
  struct fx f;
  uint8_t *ref;
  struct raid_status st;

  failed_after_a_write_e3_missed (&f, &ref);
  add_e4_to_the_failed_array (&f);
  restart (&f, 1);
  raid_status (f.a, &st);
  cr_assert_eq (st.state, RAID_STATE_DEGRADED, "force did not start it: %s", fx_warnings);
  cr_assert_eq (st.spares, 1, "e4.1 is not a spare after the start");
  cr_assert_eq (raid_recovery_pending (f.a), 1, "the spare waits on a degraded array");
  cr_assert_eq (raid_recover (f.a), 0, "no recovery onto e4.1");
  raid_status (f.a, &st);
  cr_assert_eq (st.state, RAID_STATE_CLEAN);
  cr_assert_str_eq (st.member[2].name, "e4.1");
  cr_assert_str_eq (st.member[1].name, "e2.1", "e2.1, the member force needed, was pushed out");
  raid_mem_member_set_down (f.mm[0], 1);          /* e4.1 serves in e1.1's place */
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "with e4.1 rebuilt and without e1.1");
  raid_mem_member_set_down (f.mm[0], 0);
  free (ref);
  fx_free (&f);
}

/* A member back while the array can lose it (auto-readd, from the bitmap) waits as long as
 * the array has failed (another member gone silent, not faulty), and comes back to its
 * slot once that member answers again: the array survives, and the re-add reads enough. */
Test (failed, a_readd_waits_while_the_array_has_failed_and_goes_on_after)
{
  struct fx f;
  uint8_t *ref;
  struct raid_status st;
  struct raid_member back;
  char err[512] = "";

  rig_level (&f, RAID_LEVEL_5, 3, &ref);
  raid_mem_member_fail (f.mm[2], 1, 1);
  raid_write (f.a, ref, 2 * CHUNK, 0, 0);         /* fails e3.1: degraded */
  raid_mem_member_fail (f.mm[2], 0, 0);
  fx_write_mark (&f, ref, 8192);                  /* e3.1 misses it: one dirty region */
  back = f.mem[2];
  cr_assert_eq (raid_add_member_flags (f.a, &back, RAID_ADD_INCREMENTAL, err, sizeof err), 0,
                "%s", err);
  cr_assert (strstr (err, "re-adding e3.1 to slot 2"), "%s", err);
  raid_mem_member_set_down (f.mm[1], 1);          /* e2.1 silent: the array has failed */
  raid_status (f.a, &st);
  cr_assert_eq (st.state, RAID_STATE_FAILED);
  cr_assert_eq (raid_recovery_pending (f.a), 0, "a re-add is due on a failed array");
  cr_assert_eq (raid_recover (f.a), -EAGAIN, "a re-add ran on a failed array");
  raid_status (f.a, &st);
  cr_assert_eq (st.spares, 1, "e3.1 left the spares while the array had failed");
  cr_assert_eq (fx_examined (&f, 0).roles[2], RAID_ROLE_FAULTY);

  raid_mem_member_set_down (f.mm[1], 0);          /* e2.1 answers: degraded again */
  cr_assert_eq (raid_recovery_pending (f.a), 1, "the re-add waits on a degraded array");
  f.info[0] = '\0';
  cr_assert_eq (raid_recover (f.a), 0);
  cr_assert (strstr (f.info, "e3.1 comes back to slot 2"), "not a re-add: %s", f.info);
  raid_status (f.a, &st);
  cr_assert_eq (st.state, RAID_STATE_CLEAN);
  raid_mem_member_set_down (f.mm[0], 1);          /* e3.1 serves in e1.1's place */
  fx_expect_data (f.a, ref, NULL, raid_size (f.a), "with e3.1 re-added and without e1.1");
  raid_mem_member_set_down (f.mm[0], 0);
  free (ref);
  fx_free (&f);
}

/* ---- a whole array lost ---------------------------------------------------- */

static unsigned lost_lines;

/* fx_log, counting the lines that say the array lost too many members. */
static void
count_lost (void *opaque, int level, const char *msg)
{
  lost_lines += strstr (msg, "has lost too many members") != NULL;
  fx_log (opaque, level, msg);
}

/* Every member of a RAID5 of 3 failing writes at once (every shelf gone): the writes that
 * fail it. */
static void
lose_every_member (struct fx *f, uint8_t *ref)
{
  struct raid_status st;

  for (unsigned i = 0; i < 3; i++)
    raid_mem_member_fail (f->mm[i], 1, 1);
  for (unsigned i = 0; i < 3; i++)
    raid_write (f->a, ref, 2 * CHUNK, i * 2 * CHUNK, 0);
  raid_status (f->a, &st);
  cr_assert_eq (st.state, RAID_STATE_FAILED);
}

Test (failed, a_lost_array_says_so_once_not_per_request)
{
  struct fx f;
  uint8_t *ref;

  rig_level (&f, RAID_LEVEL_5, 3, &ref);
  f.a->log = count_lost;        /* its log from here on: one thread, no request running */
  lost_lines = 0;
  lose_every_member (&f, ref);
  for (unsigned i = 0; i < 100; i++)
    cr_assert_neq (raid_write (f.a, ref, CHUNK, 0, 0), 0, "write %u served", i);
  cr_assert_eq (lost_lines, 1, "100 refused writes logged %u lines", lost_lines);
  free (ref);
  fx_free (&f);
}

Test (failed, a_failure_no_superblock_took_needs_no_force)
{
  struct fx f;
  uint8_t *ref;
  struct raid_member back;
  char err[512] = "";

  rig_level (&f, RAID_LEVEL_5, 3, &ref);
  lose_every_member (&f, ref);
  for (unsigned i = 0; i < 3; i++)
    raid_mem_member_fail (f.mm[i], 0, 0);
  back = f.mem[1];
  cr_assert_eq (raid_add_member_flags (f.a, &back, RAID_ADD_INCREMENTAL, err, sizeof err),
                -EBUSY, "auto-readd took e2.1: %s", err);
  cr_assert (strstr (err, "stop the array and start it again when its members are back (no "
                     "force needed"), "%s", err);
  cr_assert (!strstr (err, "force=true"), "%s", err);

  restart (&f, 0);              /* as it said: no force */
  fx_expect_data (f.a, ref, NULL, 6 * CHUNK, "after the restart");
  free (ref);
  fx_free (&f);
}

/* ---- raid_survives_without: may a silent member be declared down? ---------------------- */

/* Member i of OPAQUE's fx is gone when bit i of its bits is set. */
static int
gone_by_bits (void *opaque, const struct raid_member *m)
{
  struct { struct fx *f; unsigned bits; } *g = opaque;

  for (unsigned i = 0; i < g->f->n; i++)
    if ((g->bits >> i & 1) && g->f->mem[i].member == m->member)
      return 1;
  return 0;
}

static int
survives_without (struct fx *f, unsigned bits)
{
  struct { struct fx *f; unsigned bits; } g = { f, bits };

  return raid_survives_without (f->a, gone_by_bits, &g);
}

/* RAID1 of 2 does without either member, not both, nor without the second once the first
 * is down; RAID0 does without none; RAID5 of 3 without one, and not without a second once
 * one is down.  Asked with sb_lock held (a superblock write waiting on a held shelf): it
 * answers without it. */
Test (survives_without, counts_members_down_and_those_asked_about, .timeout = 30)
{
  struct fx f = { 0 };
  uint8_t *ref;

  rig_level (&f, RAID_LEVEL_1, 2, &ref);
  pthread_mutex_lock (&f.a->sb_lock);
  cr_assert (raid_survives_without (f.a, NULL, NULL), "raid1 of 2 does not serve");
  cr_assert (survives_without (&f, 1) && survives_without (&f, 2),
             "raid1 of 2 cannot do without one member");
  cr_assert (!survives_without (&f, 3), "raid1 of 2 does without both members");
  raid_mem_member_set_down (f.mm[0], 1);
  cr_assert (raid_survives_without (f.a, NULL, NULL), "raid1 of 2 fails with one down");
  cr_assert (!survives_without (&f, 2), "raid1 does without e1.2 while e1.1 is down");
  raid_mem_member_set_down (f.mm[0], 0);
  pthread_mutex_unlock (&f.a->sb_lock);
  fx_close (&f);
  fx_free (&f);
  free (ref);

  memset (&f, 0, sizeof f);
  rig_level (&f, RAID_LEVEL_0, 2, &ref);
  cr_assert (raid_survives_without (f.a, NULL, NULL));
  cr_assert (!survives_without (&f, 1) && !survives_without (&f, 2),
             "raid0 does without a member");
  fx_close (&f);
  fx_free (&f);
  free (ref);

  memset (&f, 0, sizeof f);
  rig_level (&f, RAID_LEVEL_5, 3, &ref);
  cr_assert (survives_without (&f, 1) && survives_without (&f, 2) && survives_without (&f, 4),
             "raid5 of 3 cannot do without one member");
  cr_assert (!survives_without (&f, 5), "raid5 of 3 does without two members");
  raid_mem_member_set_down (f.mm[1], 1);
  cr_assert (!survives_without (&f, 1) && !survives_without (&f, 4),
             "raid5 of 3 does without a second member while one is down");
  raid_mem_member_set_down (f.mm[1], 0);
  fx_close (&f);
  fx_free (&f);
  free (ref);
}

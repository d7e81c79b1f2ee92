/* Superblock and assembly: round trip, bad crc, foreign uuid, newer
 * version, stale events, too few members, dirty and degraded. */
#include <string.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "raid-int.h"

#define SB(f, i) (raid_mem_member_data ((f)->mm[i]) + RAID_SB_OFFSET)

Test (superblock, encode_decode_round_trip)
{
  struct raid_sb in, out;
  uint8_t block[RAID_SB_SIZE];

  memset (&in, 0, sizeof in);
  in.version = RAID_SB_VERSION;
  for (int i = 0; i < 16; i++) {
    in.array_uuid[i] = i + 1;
    in.member_uuid[i] = 0xf0 - i;
  }
  strcpy (in.name, "exactly-thirty-two-bytes-long-xx");
  in.ctime = 1700000000;
  in.utime = 1700000123;
  in.level = RAID_LEVEL_6;
  in.layout = 2;
  in.chunk = 65536;
  in.raid_disks = 6;
  in.k = 4;
  in.m = 2;
  in.role = 5;
  in.array_size = 123456789 * 512ull;
  in.data_offset = RAID_DATA_OFFSET;
  in.data_size = 987654321 * 512ull;
  in.events = 0x1234567890ull;
  in.clean = 1;
  in.features = RAID_FEATURE_RESHAPE | RAID_FEATURE_REPLACEMENT;
  in.replace_slot = 4;
  in.replace_offset = 0xabc12ull;
  memset (in.replace_uuid, 0x5e, 16);
  in.prev_level = RAID_LEVEL_5;
  in.prev_layout = 2;
  in.prev_chunk = 65536;
  in.prev_k = 4;
  in.prev_m = 1;
  in.delta_disks = 1;
  in.prev_data_offset = RAID_DATA_OFFSET + 65536;
  in.reshape_position = 42;
  in.resync_offset = RAID_RESYNC_DONE;
  in.roles[2] = RAID_ROLE_FAULTY;
  in.roles[3] = RAID_ROLE_MISSING;
  in.roles[4] = RAID_ROLE_SPARE;
  memset (in.slot_uuid[3], 0x33, 16);
  sb_encode (&in, block);
  cr_assert_eq (sb_decode (block, &out, NULL, 0), RAID_SB_OK);
  cr_assert (memcmp (&in, &out, sizeof in) == 0, "fields changed in the round trip");
  /* Little-endian at fixed offsets: events at 152. */
  cr_expect_eq (block[152], 0x90);
  cr_expect_eq (block[156], 0x12);
  /* the replacement's record: slot at 240, units copied at 248, uuid at 256 */
  cr_expect_eq (block[240], 4);
  cr_expect_eq (block[248], 0x12);
  cr_expect_eq (block[256], 0x5e);
}

/* Assembly of F's members (FORCE: with force) is refused with an error that says WHY. */
static void
expect_refused (struct fx *f, int force, const char *why)
{
  char err[256] = "";

  cr_expect_null (fx_assemble (f, force, err, sizeof err), "assembled, not refused: %s", why);
  cr_expect (strstr (err, why) != NULL, "%s", err);
}

/* Member I's superblock examines as STATE. */
static void
expect_sb_state (struct fx *f, unsigned i, enum raid_sb_state state)
{
  struct raid_sb_summary s;

  cr_assert_eq (raid_examine (&f->mem[i], &s), 0);
  cr_expect_eq (s.state, state, "e%u.1: superblock state %d, not %d", i + 1, s.state, state);
}

Test (superblock, create_then_examine_every_member)
{
  struct fx f;
  struct raid_sb_summary s[4];

  fx_create (&f, RAID_LEVEL_5, 4, 0, 0, 8192, 0);
  for (unsigned i = 0; i < 4; i++) {
    cr_assert_eq (raid_examine (&f.mem[i], &s[i]), 0);
    cr_assert_eq (s[i].state, RAID_SB_OK);
    cr_expect_eq (s[i].role, i);
    cr_expect_eq (s[i].level, RAID_LEVEL_5);
    cr_expect_eq (s[i].k, 3);
    cr_expect_eq (s[i].m, 1);
    cr_expect_eq (s[i].members, 4);
    cr_expect_eq (s[i].chunk_bytes, 8192);
    cr_expect_eq (s[i].data_offset, RAID_DATA_OFFSET);
    cr_expect_eq (s[i].array_size, raid_size (f.a));
    cr_expect_str_eq (s[i].name, "test");
    cr_expect_eq (s[i].roles[i], RAID_ROLE_ACTIVE);
    cr_expect_eq (s[i].events, s[0].events);
    cr_expect (memcmp (s[i].array_uuid, s[0].array_uuid, 16) == 0);
    if (i)
      cr_expect (memcmp (s[i].member_uuid, s[0].member_uuid, 16) != 0);
  }
  fx_close (&f);
  cr_assert_eq (raid_examine (&f.mem[0], &s[1]), 0);
  cr_expect_eq (s[1].clean, 1);
  cr_expect_gt (s[1].events, s[0].events, "close must bump events");
  fx_free (&f);
}

/* Is M the member opaque points at (raid_slot_member_uuid's IS)? */
static int
member_is (void *opaque, const struct raid_member *m)
{
  return m->member == ((const struct raid_member *) opaque)->member;
}

/* A held shelf's proof (raid_sb_member_uuid): a member's superblock block gives its
 * member uuid, the one its slot expects (raid_slot_member_uuid); a block that is blank,
 * corrupt or short gives none; a member no slot holds has no uuid expected. */
Test (superblock, member_uuid_of_a_block_and_of_its_slot)
{
  struct fx f;
  struct raid_sb_summary s;
  struct raid_member stranger = { 0 };
  uint8_t got[16], expected[16], block[RAID_SB_SIZE];

  fx_create (&f, RAID_LEVEL_5, 4, 0, 0, 8192, 0);
  for (unsigned i = 0; i < 4; i++) {
    cr_assert_eq (raid_examine (&f.mem[i], &s), 0);
    cr_assert_eq (raid_sb_member_uuid (SB (&f, i), RAID_SB_SIZE, got), 1, "e%u.1", i + 1);
    cr_expect (memcmp (got, s.member_uuid, 16) == 0, "e%u.1: not its member uuid", i + 1);
    cr_assert_eq (raid_slot_member_uuid (f.a, member_is, &f.mem[i], expected), 1);
    cr_expect (memcmp (got, expected, 16) == 0, "e%u.1: not the uuid its slot expects",
               i + 1);
    cr_expect_eq (raid_sb_member_uuid (SB (&f, i), RAID_SB_SIZE - 1, got), 0,
                  "a short block gave a uuid");
  }
  cr_expect_eq (raid_slot_member_uuid (f.a, member_is, &stranger, expected), 0,
                "a member of no slot has a uuid expected");
  memset (block, 0, sizeof block);
  cr_expect_eq (raid_sb_member_uuid (block, sizeof block, got), 0, "a blank block gave one");
  memcpy (block, SB (&f, 1), sizeof block);
  block[40] ^= 1;
  cr_expect_eq (raid_sb_member_uuid (block, sizeof block, got), 0, "a corrupt block gave one");
  fx_free (&f);
}

/* The mark of a resync after a crash (raid_sb.resync_after_crash) is a word at byte 1812,
 * which every older writer left zero: an older block (a new array's, whose first resync
 * is pending) reads unmarked and sound; set, it reads back set, in the summary too; and
 * without a resync pending it reads unset (it only says whose that resync is). */
Test (superblock, the_resync_after_a_crash_mark_sits_in_bytes_older_writers_left_zero)
{
  struct fx f;
  struct raid_sb sb;
  struct raid_sb_summary s;
  uint8_t older[RAID_SB_SIZE], block[RAID_SB_SIZE];
  char why[128] = "";

  fx_create (&f, RAID_LEVEL_5, 4, 0, 0, 8192, 0);   /* its first resync to run */
  fx_close (&f);
  memcpy (older, SB (&f, 0), RAID_SB_SIZE);
  cr_assert (!older[1812] && !older[1813] && !older[1814] && !older[1815]);
  cr_assert_eq (sb_decode (older, &sb, why, sizeof why), RAID_SB_OK, "%s", why);
  cr_assert (!sb.resync_after_crash && sb.resync_offset != RAID_RESYNC_DONE,
             "a new array's first resync reads as a crash's");
  sb.resync_after_crash = 1;
  sb_encode (&sb, block);
  cr_expect_eq (block[1812], 1, "the mark is not at byte 1812");
  for (unsigned i = 0; i < 1812; i++)
    cr_assert_eq (block[i], older[i], "byte %u moved with the mark", i);
  memcpy (SB (&f, 0), block, RAID_SB_SIZE);
  cr_assert_eq (raid_examine (&f.mem[0], &s), 0);
  cr_assert (s.state == RAID_SB_OK && s.resync_after_crash, "the mark does not read back");
  sb.resync_offset = RAID_RESYNC_DONE;
  sb_encode (&sb, block);
  cr_assert_eq (sb_decode (block, &sb, why, sizeof why), RAID_SB_OK, "%s", why);
  cr_assert (!sb.resync_after_crash, "the mark reads set with no resync pending");
  fx_free (&f);
}

Test (superblock, blank_member_examines_as_none)
{
  struct fx f;
  struct raid_sb_summary s;

  fx_members (&f, 1, FX_MEMBER_SIZE);
  expect_sb_state (&f, 0, RAID_SB_NONE);
  raid_mem_member_set_down (f.mm[0], 1);
  cr_expect_lt (raid_examine (&f.mem[0], &s), 0);
  cr_expect_eq (s.state, RAID_SB_IOERR);
  fx_free (&f);
}

/* An array holding random data (ref); then closed, or crashed (never
 * closed: its memory leaks, its superblocks stay dirty). */
static void
make_written (struct fx *f, enum raid_level level, unsigned n, uint8_t *ref, size_t len)
{
  uint64_t seed = 99;

  fx_create (f, level, n, 0, 0, 4096, RAID_CREATE_ASSUME_CLEAN);
  fill_random (ref, len, &seed);
  cr_assert_eq (raid_write (f->a, ref, len, 0, 0), 0);
}

static void
make_closed_raid5 (struct fx *f, uint8_t *ref, size_t len)
{
  make_written (f, RAID_LEVEL_5, 4, ref, len);
  fx_close (f);
}

static void
make_crashed (struct fx *f, enum raid_level level, unsigned n, uint8_t *ref, size_t len)
{
  make_written (f, level, n, ref, len);
  f->a = NULL;
}

static void
expect_contents (struct fx *f, const uint8_t *ref, size_t len)
{
  uint8_t *got = malloc (len);
  cr_assert_eq (raid_read (f->a, got, len, 0), 0);
  cr_assert (memcmp (got, ref, len) == 0, "contents differ after assembly");
  free (got);
}

Test (superblock, assemble_in_any_order)
{
  struct fx f;
  uint8_t ref[65536];
  char err[256] = "";
  struct raid_member tmp;
  struct raid_status st;

  make_closed_raid5 (&f, ref, sizeof ref);
  tmp = f.mem[0]; f.mem[0] = f.mem[3]; f.mem[3] = tmp;
  tmp = f.mem[1]; f.mem[1] = f.mem[2]; f.mem[2] = tmp;
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  raid_status (f.a, &st);
  cr_expect_eq (st.state, RAID_STATE_CLEAN);
  cr_expect_str_eq (st.member[0].name, "e1.1");
  expect_contents (&f, ref, sizeof ref);
  fx_free (&f);
}

Test (superblock, bad_crc_is_refused_and_named)
{
  struct fx f;
  uint8_t ref[65536];
  char err[256] = "";

  make_closed_raid5 (&f, ref, sizeof ref);
  SB (&f, 2)[40] ^= 1;                 /* one bit of the name */
  expect_sb_state (&f, 2, RAID_SB_CORRUPT);
  expect_refused (&f, 0, "member e3.1 has a corrupt superblock");
  /* force leaves it out: a degraded but complete RAID5 */
  cr_assert_not_null (fx_assemble (&f, 1, err, sizeof err), "%s", err);
  expect_contents (&f, ref, sizeof ref);
  fx_free (&f);
}

Test (superblock, foreign_member_is_refused)
{
  struct fx f, g;
  uint8_t ref[65536];

  make_closed_raid5 (&f, ref, sizeof ref);
  fx_create (&g, RAID_LEVEL_5, 4, 0, 0, 4096, 0);
  fx_close (&g);
  f.mem[1] = g.mem[1];
  expect_refused (&f, 0, "member e2.1 belongs to another array");
  fx_free (&g);
  f.mem[1] = raid_mem_member (f.mm[1]);
  fx_free (&f);
}

Test (superblock, newer_format_is_refused)
{
  struct fx f;
  uint8_t ref[65536];

  make_closed_raid5 (&f, ref, sizeof ref);
  SB (&f, 0)[8] = RAID_SB_VERSION + 1;
  expect_sb_state (&f, 0, RAID_SB_NEWER);
  expect_refused (&f, 0, "member e1.1 has a superblock from a newer aoeraid format");
  fx_free (&f);
}

Test (superblock, stale_member_is_left_out)
{
  struct fx f;
  uint8_t ref[65536];
  char err[256] = "";
  struct raid_status st;
  struct raid_sb_summary s1, s3;
  uint64_t seed = 5;

  make_closed_raid5 (&f, ref, sizeof ref);
  /* Run without member 3 and change data: member 3 falls behind. */
  raid_mem_member_set_down (f.mm[3], 1);
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  cr_assert_eq (fx_write_ref (f.a, ref, 4096, 8192, &seed), 0);
  fx_close (&f);
  raid_mem_member_set_down (f.mm[3], 0);
  raid_examine (&f.mem[1], &s1);
  raid_examine (&f.mem[3], &s3);
  cr_expect_lt (s3.events, s1.events);
  cr_expect_eq (s1.roles[3], RAID_ROLE_MISSING, "the array recorded the member as missing");
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  raid_status (f.a, &st);
  cr_expect_eq (st.state, RAID_STATE_DEGRADED);
  cr_expect_eq (st.member[3].role, RAID_ROLE_MISSING);
  cr_expect (strstr (f.last_warning, "running degraded: slot 3 missing") != NULL, "%s",
             f.last_warning);
  expect_contents (&f, ref, sizeof ref);
  fx_free (&f);
}

Test (superblock, too_few_members_is_refused_with_names)
{
  struct fx f;
  uint8_t ref[65536];

  make_closed_raid5 (&f, ref, sizeof ref);
  raid_mem_member_set_down (f.mm[1], 1);
  raid_mem_member_set_down (f.mm[2], 1);
  expect_refused (&f, 1, "slot 1, slot 2");
  fx_free (&f);
}

/* md's --assemble --force: a second member fails while the array is degraded, and the
 * array fails.  The shelf comes back (it was unplugged), but its superblock is behind and
 * records it faulty: without force the array stays down; with force the freshest of the
 * failed members is taken back, as mdadm marks it working again, and what was written
 * before the failure reads back.  The member that failed first stays out. */
Test (superblock, failed_array_starts_with_force)
{
  struct fx f;
  uint8_t ref[65536];
  char err[256] = "";
  struct raid_status st;
  uint64_t seed = 7;

  make_closed_raid5 (&f, ref, sizeof ref);
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  raid_mem_member_set_down (f.mm[3], 1);
  cr_assert_eq (fx_write_ref (f.a, ref, 4096, 8192, &seed), 0);
  raid_mem_member_set_down (f.mm[2], 1);
  /* the same bytes again: torn or not, they read back as ref */
  cr_expect_neq (raid_write (f.a, ref, sizeof ref, 0, 0), 0, "wrote with two members gone");
  raid_status (f.a, &st);
  cr_expect_eq (st.state, RAID_STATE_FAILED);
  fx_close (&f);
  raid_mem_member_set_down (f.mm[2], 0);
  raid_mem_member_set_down (f.mm[3], 0);
  /* the refusal names the failed members that are back, and force */
  expect_refused (&f, 0, "cannot start: members missing or stale in slot 2, slot 3; find "
                  "them (or their shelves) and assemble again; stale: e3.1, e4.1 (assemble "
                  "with force to take them back");
  cr_assert_not_null (fx_assemble (&f, 1, err, sizeof err), "%s", err);
  raid_status (f.a, &st);
  cr_expect_eq (st.state, RAID_STATE_DEGRADED);
  cr_expect_eq (st.member[2].role, RAID_ROLE_ACTIVE, "the freshest failed member is taken back");
  cr_expect_str_eq (st.member[2].name, "e3.1");
  cr_expect_eq (st.member[3].role, RAID_ROLE_MISSING, "the first to fail stays out");
  expect_contents (&f, ref, sizeof ref);
  fx_free (&f);
}

Test (superblock, dirty_degraded_needs_force)
{
  struct fx f;
  uint8_t ref[65536];
  char err[256] = "";

  make_crashed (&f, RAID_LEVEL_6, 5, ref, sizeof ref);
  raid_mem_member_set_down (f.mm[4], 1);
  expect_refused (&f, 0, "dirty and degraded");
  cr_assert_not_null (fx_assemble (&f, 1, err, sizeof err), "%s", err);
  expect_contents (&f, ref, sizeof ref);
  fx_free (&f);
}

Test (superblock, dirty_clean_start_needs_resync)
{
  struct fx f;
  uint8_t ref[65536];
  char err[256] = "";

  make_crashed (&f, RAID_LEVEL_5, 4, ref, sizeof ref);
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "%s", err);
  cr_expect_eq (raid_needs_resync (f.a), 1);
  /* Break parity on one stripe the way a torn write would. */
  raid_mem_member_data (f.mm[3])[RAID_DATA_OFFSET + 10] ^= 0xff;
  cr_assert_eq (raid_resync (f.a), 0);
  cr_expect_eq (raid_needs_resync (f.a), 0);
  fx_check_redundancy (&f, RAID_LEVEL_5, 3, 1, 1, 4096, NULL);
  expect_contents (&f, ref, sizeof ref);
  fx_free (&f);
}

/* raid_wipe (zero-superblock, remove) erases the whole metadata area, superblock and
 * bitmap, and nothing else: not the first 4 KiB, not a byte from RAID_META_END on. */
Test (superblock, wipe_erases_the_metadata_area_only)
{
  struct fx f;
  uint8_t ref[65536], *raw, *head = malloc (RAID_META_START), *rest;
  uint64_t size = FX_MEMBER_SIZE, seed = 7;
  enum raid_meta_state meta;

  make_closed_raid5 (&f, ref, sizeof ref);
  raw = raid_mem_member_data (f.mm[0]);
  fill_random (raw, RAID_META_START, &seed);          /* whatever was there before */
  memcpy (head, raw, RAID_META_START);
  rest = malloc (size - RAID_META_END);
  memcpy (rest, raw + RAID_META_END, size - RAID_META_END);
  cr_assert_eq (raid_meta_probe (&f.mem[0], &meta), 0);
  cr_expect_eq (meta, RAID_META_AOERAID);
  cr_assert_eq (raid_wipe (&f.mem[0]), 0);
  expect_sb_state (&f, 0, RAID_SB_NONE);
  cr_assert_eq (raid_meta_probe (&f.mem[0], &meta), 0);
  cr_expect_eq (meta, RAID_META_BLANK, "the bitmap (or more) is left");
  cr_expect (memcmp (raw, head, RAID_META_START) == 0, "the first 4 KiB were written");
  cr_expect (memcmp (raw + RAID_META_END, rest, size - RAID_META_END) == 0,
             "bytes from RAID_META_END on were written");

  /* only the superblock gone (an older aoeraid's remove): the bitmap is still aoeraid's */
  memset (SB (&f, 1), 0, RAID_SB_SIZE);
  expect_sb_state (&f, 1, RAID_SB_NONE);
  cr_assert_eq (raid_meta_probe (&f.mem[1], &meta), 0);
  cr_expect_eq (meta, RAID_META_AOERAID);
  /* other bytes in the area (a filesystem's) are not aoeraid's */
  raw[RAID_META_START + 20000] = 1;
  cr_assert_eq (raid_meta_probe (&f.mem[0], &meta), 0);
  cr_expect_eq (meta, RAID_META_OTHER);
  /* nor is a stale bitmap's magic among other data: something else (a filesystem, a
   * boot loader) wrote the area since, and that is not aoeraid's to erase */
  raw = raid_mem_member_data (f.mm[1]);
  raw[RAID_META_START + 20000] = 1;
  cr_assert_eq (raid_meta_probe (&f.mem[1], &meta), 0);
  cr_expect_eq (meta, RAID_META_OTHER, "a bitmap's magic among other data taken for aoeraid's");
  raid_mem_member_set_down (f.mm[2], 1);
  cr_expect_lt (raid_meta_probe (&f.mem[2], &meta), 0);
  cr_expect_lt (raid_wipe (&f.mem[2]), 0);
  free (head);
  free (rest);
  fx_free (&f);
}

/* examine's start command and assembly ask the same rule: a degraded parity array the
 * crash left dirty without the log, or whose resync after a crash did not end, needs
 * force; the log, a clean stop, a whole start or mirrors do not. */
Test (superblock, a_degraded_start_needs_force_by_the_write_hole_rule)
{
  struct raid_sb_summary ref;
  const uint8_t whole[3] = { 1, 1, 1 }, degraded[3] = { 0, 1, 1 };

  memset (&ref, 0, sizeof ref);
  ref.state = RAID_SB_OK;
  ref.level = RAID_LEVEL_5;
  ref.k = 2;
  ref.m = 1;
  ref.members = 3;
  ref.resync_offset = RAID_RESYNC_DONE;
  ref.clean = 1;
  cr_expect_eq (raid_sb_write_hole (&ref, degraded, 0), RAID_WRITE_HOLE_NONE, "clean");
  ref.clean = 0;
  cr_expect_eq (raid_sb_write_hole (&ref, whole, 0), RAID_WRITE_HOLE_NONE, "dirty, whole");
  cr_expect_eq (raid_sb_write_hole (&ref, degraded, 0), RAID_WRITE_HOLE_DIRTY, "dirty, degraded");
  ref.ppl = 1;
  cr_expect_eq (raid_sb_write_hole (&ref, degraded, 0), RAID_WRITE_HOLE_PPL, "dirty, the log");
  cr_expect_eq (raid_write_hole (0, 0, 1, 1, 0), RAID_WRITE_HOLE_DIRTY, "the log, read-only");
  cr_expect_eq (raid_write_hole (0, 0, 1, 0, 1), RAID_WRITE_HOLE_PPL, "the log, a clean bitmap");
  cr_expect_eq (raid_write_hole (0, 0, 1, 1, 1), RAID_WRITE_HOLE_BITMAP,
                "the log, read-only, a clean bitmap");
  cr_expect_eq (raid_write_hole (0, 0, 0, 0, 1), RAID_WRITE_HOLE_BITMAP, "dirty, a clean bitmap");
  cr_expect_eq (raid_write_hole (1, 0, 0, 0, 1), RAID_WRITE_HOLE_NONE, "clean, a clean bitmap");
  cr_expect_eq (raid_write_hole (1, 1, 0, 0, 1), RAID_WRITE_HOLE_BITMAP,
                "the resync after a crash not ended, a clean bitmap");
  ref.clean = 1;
  ref.resync_after_crash = 1;
  cr_expect_eq (raid_sb_write_hole (&ref, degraded, 0), RAID_WRITE_HOLE_NONE,
                "the resync after a crash ended");
  ref.resync_offset = 10;
  ref.resync_units = 118;
  cr_expect_eq (raid_sb_write_hole (&ref, degraded, 0), RAID_WRITE_HOLE_CRASH_RESYNC,
                "clean stop, the resync after a crash not ended, the log too");
  cr_expect_eq (raid_sb_write_hole (&ref, degraded, 1), RAID_WRITE_HOLE_BITMAP,
                "the resync after a crash not ended, a clean bitmap");
  cr_expect_eq (raid_sb_write_hole (&ref, whole, 0), RAID_WRITE_HOLE_NONE,
                "the resync after a crash not ended, whole");
  ref.level = RAID_LEVEL_1;
  ref.k = 1;
  ref.m = 0;
  ref.clean = 0;
  cr_expect_eq (raid_sb_write_hole (&ref, degraded, 0), RAID_WRITE_HOLE_NONE, "mirrors");
}

/* A disk copied (dd of a member onto another shelf) holds the same member in the same
 * slot: assembly must not pick one of the two, whose bytes may differ since. */
Test (superblock, two_copies_of_a_member_refuse_assembly)
{
  struct fx f;
  char err[256] = "";

  fx_members (&f, 4, FX_MEMBER_SIZE);
  f.n = 3;
  fx_create_on (&f, RAID_LEVEL_5, 0, 0, 4096, RAID_CREATE_ASSUME_CLEAN);
  fx_close (&f);
  memcpy (raid_mem_member_data (f.mm[3]), raid_mem_member_data (f.mm[1]), FX_MEMBER_SIZE);
  f.n = 4;
  for (int force = 0; force < 2; force++) {
    cr_assert_null (fx_assemble (&f, force, err, sizeof err),
                    "two copies of slot 1 assembled (force %d)", force);
    cr_assert (strstr (err, "members e2.1 and e4.1 both claim slot 1: remove the copy"),
               "err: %s", err);
  }
  f.n = 3;
  cr_assert_not_null (fx_assemble (&f, 0, err, sizeof err), "without the copy: %s", err);
  f.n = 4;
  fx_free (&f);
}

/* examine's question: do the members present make the array startable (its geometry's
 * redundancy covers the ones missing)?  One mid-reshape is left to the assembly. */
Test (superblock, startable_by_the_members_present)
{
  static const struct { enum raid_level level; unsigned n, k, m; } cases[] = {
    { RAID_LEVEL_5, 4, 0, 0 }, { RAID_LEVEL_6, 5, 0, 0 }, { RAID_LEVEL_10, 4, 0, 0 },
    { RAID_LEVEL_0, 3, 0, 0 }, { RAID_LEVEL_1, 3, 0, 0 },
  };
  for (unsigned c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    struct fx f;
    uint8_t present[RAID_MAX_MEMBERS];
    const char *level = raid_level_name (cases[c].level);

    fx_create (&f, cases[c].level, cases[c].n, cases[c].k, cases[c].m, 4096,
               RAID_CREATE_ASSUME_CLEAN);
    struct raid_sb_summary sb = fx_examined (&f, 0);
    memset (present, 1, sizeof present);
    cr_assert (raid_sb_startable (&sb, present), "%s whole", level);
    present[0] = 0;
    cr_assert_eq (raid_sb_startable (&sb, present), cases[c].level != RAID_LEVEL_0,
                  "%s without slot 0", level);
    present[1] = 0;      /* raid10 near-2: slots 0 and 1 hold the same chunks */
    cr_assert_eq (raid_sb_startable (&sb, present),
                  cases[c].level == RAID_LEVEL_6 || cases[c].level == RAID_LEVEL_1,
                  "%s without slots 0 and 1", level);
    sb.reshape_position = 0;
    cr_assert (raid_sb_startable (&sb, present), "%s mid-reshape", level);
    fx_free (&f);
  }
}

/* A superblock saying both a reshape and a partial parity log (no writer makes one: a
 * reshape is refused on an array keeping the log) is damaged: the log's ring lies where
 * a reshape's old layout would be read. */
Test (superblock, a_reshape_with_the_partial_parity_log_is_corrupt)
{
  struct fx f;
  struct raid_sb sb;
  struct raid_sb_summary s;
  char err[256] = "";

  fx_create (&f, RAID_LEVEL_5, 4, 0, 0, 16384, RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_PPL);
  fx_close (&f);
  for (unsigned i = 0; i < f.n; i++) {
    cr_assert_eq (sb_decode (SB (&f, i), &sb, NULL, 0), RAID_SB_OK);
    cr_assert (sb.features & RAID_FEATURE_PPL);
    /* a grow from raid5 of 3 just begun, as sound as a reshape's fields can be */
    sb.features |= RAID_FEATURE_RESHAPE;
    sb.delta_disks = 1;
    sb.prev_level = sb.level;
    sb.prev_layout = sb.layout;
    sb.prev_chunk = sb.chunk;
    sb.prev_k = 2;
    sb.prev_m = 1;
    sb.prev_data_offset = sb.data_offset + sb.chunk;
    sb.reshape_position = 0;
    sb_encode (&sb, SB (&f, i));
  }
  cr_assert_eq (raid_examine (&f.mem[0], &s), 0);
  cr_assert_eq (s.state, RAID_SB_CORRUPT);
  cr_assert (strstr (s.problem, "a reshape with the partial parity log"), "problem: %s",
             s.problem);
  cr_assert_null (fx_assemble (&f, 0, err, sizeof err), "started");
  cr_assert (strstr (err, "a reshape with the partial parity log"), "err: %s", err);
  fx_free (&f);
}

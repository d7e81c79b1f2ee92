/* The on-member superblock: 4 KiB at RAID_SB_OFFSET, little-endian, fixed
 * field offsets, crc32c (ISA-L crc32_iscsi, seed ~0) in its last 4 bytes.
 * The data area starts at data_offset (1 MiB for a new array; each grow
 * moves it down a chunk, never below RAID_META_END); the space between the
 * superblock and the data holds the write-intent bitmap.
 *
 * During a reshape (features & RAID_FEATURE_RESHAPE) the main geometry
 * fields describe the new layout, which holds the array's bytes below
 * reshape_position, and the prev_* fields the old one, which holds the rest
 * (md keeps the same pair: new_level ... delta_disks, reshape_position). */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <isa-l/crc.h>

#include "raid-int.h"

static const char sb_magic[8] = "aoeraid";   /* with its NUL: 8 bytes */

enum {
  O_MAGIC = 0, O_VERSION = 8, O_FEATURES = 12, O_ARRAY_UUID = 16, O_NAME = 32,
  O_CTIME = 64, O_UTIME = 72, O_LEVEL = 80, O_LAYOUT = 84, O_CHUNK = 88,
  O_RAID_DISKS = 92, O_K = 96, O_M = 100, O_ROLE = 104, O_MEMBER_UUID = 112,
  O_ARRAY_SIZE = 128, O_DATA_OFFSET = 136, O_DATA_SIZE = 144, O_EVENTS = 152,
  O_CLEAN = 160, O_PREV_LEVEL = 168, O_PREV_LAYOUT = 172, O_PREV_CHUNK = 176,
  O_DELTA_DISKS = 180, O_RESHAPE_POS = 184, O_PREV_DATA_OFFSET = 192,
  O_BITMAP_OFFSET = 200, O_LOG_OFFSET = 208, O_RESYNC = 216, O_RECOVERY = 224, O_PREV_K = 232, O_PREV_M = 236,
  O_REPLACE_SLOT = 240, O_REPLACE_OFFSET = 248, O_REPLACE_UUID = 256,
  O_LOG_SIZE = 272, O_PPL_GEN = 280,
  O_ROLES = 512, O_SLOT_UUIDS = 1024,
  /* the members the admin removed (raid_remove_member): in bytes every writer before left
   * zero, so a count of 0 is an older block's empty list, and an older aoeraid, which
   * reads neither, takes the block as it always did */
  O_REMOVED_COUNT = 1536, O_REMOVED_UUIDS = 1552,
  /* the slots whose member is write-mostly (md: WriteMostly1), bit i slot i: likewise in
   * bytes older writers left zero (none is), which an older aoeraid neither reads nor
   * keeps (its next write drops them: reads balance over every copy again) */
  O_WRITEMOSTLY = 1808,
  /* the pending resync follows a crash (raid_sb.resync_after_crash): likewise in bytes
   * older writers left zero (no crash resync known), which an older aoeraid neither reads
   * nor keeps (its degraded start after a clean stop is accepted, as it always was) */
  O_RESYNC_AFTER_CRASH = 1812,
  /* the members the admin failed (raid_sb.failed_uuid): likewise in bytes older writers
   * left zero (an empty list), which an older aoeraid neither reads nor keeps (its next
   * write drops the list: a failed member then is stale only, as it was to it) */
  O_FAILED_COUNT = 1816, O_FAILED_UUIDS = 1824,
  O_CRC = RAID_SB_SIZE - 4,
};

void
le_put32 (uint8_t *b, unsigned off, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    b[off + i] = v >> (8 * i);
}

void
le_put64 (uint8_t *b, unsigned off, uint64_t v)
{
  le_put32 (b, off, (uint32_t) v);
  le_put32 (b, off + 4, (uint32_t) (v >> 32));
}

uint32_t
le_get32 (const uint8_t *b, unsigned off)
{
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--)
    v = (v << 8) | b[off + i];
  return v;
}

uint64_t
le_get64 (const uint8_t *b, unsigned off)
{
  return le_get32 (b, off) | ((uint64_t) le_get32 (b, off + 4) << 32);
}

static uint32_t
sb_crc (const uint8_t *block)
{
  return crc32_iscsi ((unsigned char *) block, O_CRC, 0xffffffff);
}

/* Every field: where it sits in the block, how it is stored (4 or 8 byte
 * little-endian integer, or raw bytes) and where it lives in struct raid_sb. */
enum sb_kind { U32, U64, BYTES };
struct sb_field { unsigned off; enum sb_kind kind; size_t at, bytes; };

#define F(o, kind, field) { o, kind, offsetof (struct raid_sb, field), \
                            sizeof ((struct raid_sb *) 0)->field }
static const struct sb_field sb_fields[] = {
  F (O_ARRAY_UUID, BYTES, array_uuid), F (O_CTIME, U64, ctime), F (O_UTIME, U64, utime),
  F (O_LEVEL, U32, level), F (O_LAYOUT, U32, layout), F (O_CHUNK, U32, chunk),
  F (O_RAID_DISKS, U32, raid_disks), F (O_K, U32, k), F (O_M, U32, m), F (O_ROLE, U32, role),
  F (O_MEMBER_UUID, BYTES, member_uuid), F (O_ARRAY_SIZE, U64, array_size),
  F (O_DATA_OFFSET, U64, data_offset), F (O_DATA_SIZE, U64, data_size),
  F (O_EVENTS, U64, events), F (O_CLEAN, U32, clean), F (O_FEATURES, U32, features),
  F (O_PREV_LEVEL, U32, prev_level),
  F (O_PREV_LAYOUT, U32, prev_layout), F (O_PREV_CHUNK, U32, prev_chunk),
  F (O_DELTA_DISKS, U32, delta_disks), F (O_RESHAPE_POS, U64, reshape_position),
  F (O_PREV_DATA_OFFSET, U64, prev_data_offset),
  F (O_PREV_K, U32, prev_k), F (O_PREV_M, U32, prev_m), F (O_BITMAP_OFFSET, U64, bitmap_offset),
  F (O_LOG_OFFSET, U64, log_offset), F (O_RESYNC, U64, resync_offset),
  F (O_RECOVERY, U64, recovery_offset), F (O_REPLACE_SLOT, U32, replace_slot),
  F (O_REPLACE_OFFSET, U64, replace_offset), F (O_REPLACE_UUID, BYTES, replace_uuid),
  F (O_ROLES, BYTES, roles), F (O_SLOT_UUIDS, BYTES, slot_uuid),
  F (O_REMOVED_COUNT, U32, removed_count), F (O_REMOVED_UUIDS, BYTES, removed_uuid),
  F (O_WRITEMOSTLY, U32, writemostly), F (O_RESYNC_AFTER_CRASH, U32, resync_after_crash),
  F (O_FAILED_COUNT, U32, failed_count), F (O_FAILED_UUIDS, BYTES, failed_uuid),
  F (O_LOG_SIZE, U64, log_size), F (O_PPL_GEN, U64, ppl_gen),
};
#undef F
#define N_FIELDS (sizeof sb_fields / sizeof sb_fields[0])

void
sb_encode (const struct raid_sb *sb, uint8_t block[RAID_SB_SIZE])
{
  memset (block, 0, RAID_SB_SIZE);
  memcpy (block + O_MAGIC, sb_magic, 8);
  le_put32 (block, O_VERSION, sb->version);
  memcpy (block + O_NAME, sb->name, strnlen (sb->name, RAID_NAME_MAX));
  for (size_t i = 0; i < N_FIELDS; i++) {
    const struct sb_field *f = &sb_fields[i];
    const uint8_t *from = (const uint8_t *) sb + f->at;
    uint32_t v32;
    uint64_t v64;
    switch (f->kind) {
    case U32: memcpy (&v32, from, 4); le_put32 (block, f->off, v32); break;
    case U64: memcpy (&v64, from, 8); le_put64 (block, f->off, v64); break;
    case BYTES: memcpy (block + f->off, from, f->bytes); break;
    }
  }
  le_put32 (block, O_CRC, sb_crc (block));
}

static void
sb_decode_fields (const uint8_t *block, struct raid_sb *sb)
{
  memcpy (sb->name, block + O_NAME, RAID_NAME_MAX);
  sb->name[RAID_NAME_MAX] = '\0';
  /* The name goes into every message, one line each: a control byte (create refuses
   * them; older aoeraid took any) reads as '?', and is written back so. */
  for (unsigned i = 0; sb->name[i]; i++)
    if ((unsigned char) sb->name[i] < 0x20 || sb->name[i] == 0x7f)
      sb->name[i] = '?';
  for (size_t i = 0; i < N_FIELDS; i++) {
    const struct sb_field *f = &sb_fields[i];
    uint8_t *to = (uint8_t *) sb + f->at;
    uint32_t v32;
    uint64_t v64;
    switch (f->kind) {
    case U32: v32 = le_get32 (block, f->off); memcpy (to, &v32, 4); break;
    case U64: v64 = le_get64 (block, f->off); memcpy (to, &v64, 8); break;
    case BYTES: memcpy (to, block + f->off, f->bytes); break;
    }
  }
}

/* ---- validation: every field a reader trusts, checked here once ---------- */

#define SB_FEATURES_KNOWN (RAID_FEATURE_RESHAPE | RAID_FEATURE_RECOVERY_BITMAP \
                           | RAID_FEATURE_REPLACEMENT | RAID_FEATURE_PPL)
/* No member is this large: sums of offsets and sizes below it never overflow. */
#define SB_BYTES_MAX (1ull << 56)

/* Fill WHY (one phrase naming the field and its value); returns 0 for the caller's
 * return.  WHY may be NULL. */
static int
sb_bad (char *why, size_t len, const char *fmt, ...)
{
  va_list ap;

  if (why && len) {
    va_start (ap, fmt);
    vsnprintf (why, len, fmt, ap);
    va_end (ap);
  }
  return 0;
}

/* The layout LEVEL, N, K, M, CHUNK describe, or 0 with WHY filled.  K and M must be
 * the ones the level gives (ec: k+m = n). */
static int
sb_geom (struct raid_geom *g, const char *pre, uint32_t level, uint32_t n, uint32_t k,
         uint32_t m, uint32_t chunk, uint64_t data_size, char *why, size_t len)
{
  char err[160];

  if (n < 1 || n > RAID_MAX_MEMBERS)
    return sb_bad (why, len, "%sraid_disks is %u, not 1..%d", pre, n, RAID_MAX_MEMBERS);
  if (level != RAID_LEVEL_0 && level != RAID_LEVEL_1 && level != RAID_LEVEL_5
      && level != RAID_LEVEL_6 && level != RAID_LEVEL_10 && level != RAID_LEVEL_EC)
    return sb_bad (why, len, "%slevel %u is no RAID level", pre, level);
  if (data_size < chunk)
    return sb_bad (why, len, "data_size %llu is below one %u byte chunk",
                   (unsigned long long) data_size, chunk);
  if (geom_init (g, (enum raid_level) level, n, k, m, chunk, data_size, err, sizeof err) < 0)
    return sb_bad (why, len, "%s%s", pre, err);
  if (g->k != k || g->m != m)
    return sb_bad (why, len, "%sk=%u m=%u do not fit %s of %u members (k=%u m=%u)", pre, k, m,
                   raid_level_name (g->level), n, g->k, g->m);
  return 1;
}

static uint64_t
sb_units (const struct raid_geom *g)
{
  return g->family == RAID_FAMILY_PARITY ? g->rows : geom_data_chunks (g);
}

static int
sb_reshape_sane (const struct raid_sb *sb, char *why, size_t len)
{
  struct raid_geom pg;

  if (sb->delta_disks < 1 || (unsigned) sb->delta_disks >= sb->raid_disks)
    return sb_bad (why, len, "reshape: delta_disks %d of %u members", sb->delta_disks,
                   sb->raid_disks);
  if (sb->prev_chunk != sb->chunk)
    return sb_bad (why, len, "reshape: prev_chunk %u differs from chunk %u", sb->prev_chunk,
                   sb->chunk);
  if (!sb_geom (&pg, "reshape: previous ", sb->prev_level, sb->raid_disks - sb->delta_disks,
                sb->prev_k, sb->prev_m, sb->prev_chunk, sb->data_size, why, len))
    return 0;
  if (sb->prev_data_offset <= sb->data_offset || sb->prev_data_offset > SB_BYTES_MAX
      || (sb->prev_data_offset - sb->data_offset) % sb->chunk)
    return sb_bad (why, len, "reshape: prev_data_offset %llu is not whole chunks above "
                   "data_offset %llu", (unsigned long long) sb->prev_data_offset,
                   (unsigned long long) sb->data_offset);
  if (sb->reshape_position > geom_data_chunks (&pg) << pg.chunk_shift)
    return sb_bad (why, len, "reshape_position %llu is beyond the %llu bytes reshaped",
                   (unsigned long long) sb->reshape_position,
                   (unsigned long long) (geom_data_chunks (&pg) << pg.chunk_shift));
  return 1;
}

/* The log's ring lies between the metadata and the data, and holds one stripe's entry. */
static int
sb_ppl_sane (const struct raid_sb *sb, const struct raid_geom *g, char *why, size_t len)
{
  const char *unfit = ppl_unfit (g);

  if (unfit)
    return sb_bad (why, len, "%s", unfit);
  if (sb->features & RAID_FEATURE_RESHAPE)
    return sb_bad (why, len, "a reshape with the partial parity log");
  if (sb->log_offset < RAID_META_END || sb->log_offset % PPL_HEADER
      || sb->log_size % PPL_HEADER || sb->log_size < PPL_HEADER + sb->chunk
      || sb->log_size > sb->data_offset || sb->log_offset > sb->data_offset - sb->log_size)
    return sb_bad (why, len, "partial parity log at %llu, %llu bytes, does not fit between "
                   "%u and the data at %llu", (unsigned long long) sb->log_offset,
                   (unsigned long long) sb->log_size, RAID_META_END,
                   (unsigned long long) sb->data_offset);
  return 1;
}

static int
sb_offsets_sane (const struct raid_sb *sb, uint64_t units, char *why, size_t len)
{
  if (sb->resync_offset != RAID_RESYNC_DONE && sb->resync_offset > units)
    return sb_bad (why, len, "resync_offset %llu is beyond the array's %llu units",
                   (unsigned long long) sb->resync_offset, (unsigned long long) units);
  if (sb->recovery_offset != RAID_RESYNC_DONE && sb->recovery_offset > units)
    return sb_bad (why, len, "recovery_offset %llu is beyond the array's %llu units",
                   (unsigned long long) sb->recovery_offset, (unsigned long long) units);
  /* a replace_slot out of range is no damage: assembly makes the new member a spare
   * again (replacement_take), losing nothing */
  if (!(sb->features & RAID_FEATURE_REPLACEMENT))
    return 1;
  if (sb->replace_offset > units)
    return sb_bad (why, len, "replace_offset %llu is beyond the array's %llu units",
                   (unsigned long long) sb->replace_offset, (unsigned long long) units);
  return 1;
}

static const uint8_t no_uuid[16];

/* A list of member uuids (the removed list, the failed list): its count, its entries,
 * SB_LIST_MAX of them (the block's room for each is fixed). */
#define SB_LIST_MAX 16
_Static_assert (RAID_MAX_REMOVED == SB_LIST_MAX && RAID_MAX_FAILED == SB_LIST_MAX,
                "the superblock's lists hold SB_LIST_MAX uuids each");
struct uuid_list {
  uint32_t *count;
  uint8_t (*uuid)[16];
};

static struct uuid_list
removed_list (struct raid_sb *sb)
{
  return (struct uuid_list) { &sb->removed_count, sb->removed_uuid };
}

static struct uuid_list
failed_list (struct raid_sb *sb)
{
  return (struct uuid_list) { &sb->failed_count, sb->failed_uuid };
}

/* Is U the member of an active or recovering slot, as SB records it? */
static int
sb_uuid_working (const struct raid_sb *sb, const uint8_t u[16])
{
  for (unsigned s = 0; s < sb->raid_disks && s < RAID_MAX_MEMBERS; s++)
    if ((sb->roles[s] == RAID_ROLE_ACTIVE || sb->roles[s] == RAID_ROLE_RECOVERING)
        && !memcmp (u, sb->slot_uuid[s], 16))
      return 1;
  return 0;
}

/* Keep of L the entries that are member uuids (not zero), none twice, none this member's
 * own nor an active or recovering slot's (a member leaves its slot before it is listed,
 * and one added again leaves the lists) nor one of OTHER (NULL: none), the entries past
 * the count zero.  A list only says whom not to take back by itself, so an entry that
 * breaks these rules is dropped, not held against the superblock: a list written wrong
 * (a bug, a later format with more entries) must not make a sound array unstartable. */
static void
sb_list_clean (struct raid_sb *sb, struct uuid_list l, const struct uuid_list *other)
{
  uint8_t kept[SB_LIST_MAX][16];
  unsigned n = 0, count = *l.count < SB_LIST_MAX ? *l.count : SB_LIST_MAX;

  memset (kept, 0, sizeof kept);
  for (unsigned i = 0; i < count; i++) {
    const uint8_t *u = l.uuid[i];
    int keep = memcmp (u, no_uuid, 16) && memcmp (u, sb->member_uuid, 16)
               && !sb_uuid_working (sb, u);
    for (unsigned j = 0; j < n && keep; j++)
      keep = memcmp (u, kept[j], 16) != 0;
    for (unsigned j = 0; other && j < *other->count && keep; j++)
      keep = memcmp (u, other->uuid[j], 16) != 0;
    if (keep)
      memcpy (kept[n++], u, 16);
  }
  memcpy (l.uuid, kept, sizeof kept);
  *l.count = n;
}

/* The removed list first; then the failed list, without the members removed since (a
 * remove moves a failed member to the removed list). */
static void
sb_lists_clean (struct raid_sb *sb)
{
  struct uuid_list removed = removed_list (sb);

  sb_list_clean (sb, removed, NULL);
  sb_list_clean (sb, failed_list (sb), &removed);
}

/* The write-mostly bits: only for a slot that exists, of a level with copies to choose
 * from (raid1, raid10).  Like the removed list it only steers reads, so a bit no writer
 * sets (a bug, a later format) is dropped, not held against the superblock. */
static void
sb_writemostly_clean (struct raid_sb *sb)
{
  if (sb->level != RAID_LEVEL_1 && sb->level != RAID_LEVEL_10)
    sb->writemostly = 0;
  else if (sb->raid_disks < 32)
    sb->writemostly &= (1u << sb->raid_disks) - 1;
}

/* The crash's resync mark counts while a resync is pending: any value but 0 reads as set
 * (the safe side: a degraded start wants force), and none is kept without a resync. */
static void
sb_resync_after_crash_clean (struct raid_sb *sb)
{
  sb->resync_after_crash = sb->resync_after_crash && sb->resync_offset != RAID_RESYNC_DONE;
}

/* 1 when a writer of this format could have produced these fields; else 0, and WHY
 * names the first that no writer produces (the block is damaged). */
static int
sb_sane (const struct raid_sb *sb, char *why, size_t len)
{
  struct raid_geom g;

  if (sb->version < 1)
    return sb_bad (why, len, "format version 0");
  if (sb->features & ~SB_FEATURES_KNOWN)
    return sb_bad (why, len, "unknown feature bits 0x%x", sb->features & ~SB_FEATURES_KNOWN);
  if (sb->data_offset < RAID_META_END || sb->data_offset % 4096 || sb->data_offset > SB_BYTES_MAX)
    return sb_bad (why, len, "data_offset %llu is not a multiple of 4096 from %u on",
                   (unsigned long long) sb->data_offset, RAID_META_END);
  if (sb->data_size > SB_BYTES_MAX)
    return sb_bad (why, len, "data_size %llu is beyond any member",
                   (unsigned long long) sb->data_size);
  if (sb->bitmap_offset != 0 && sb->bitmap_offset != RAID_BITMAP_OFFSET)
    return sb_bad (why, len, "bitmap_offset %llu is not %u", (unsigned long long) sb->bitmap_offset,
                   RAID_BITMAP_OFFSET);
  if (!sb_geom (&g, "", sb->level, sb->raid_disks, sb->k, sb->m, sb->chunk, sb->data_size,
                why, len))
    return 0;
  if (sb->role >= sb->raid_disks && sb->role != RAID_SB_ROLE_SPARE)
    return sb_bad (why, len, "role %u is beyond raid_disks %u", sb->role, sb->raid_disks);
  for (unsigned i = 0; i < sb->raid_disks; i++)
    if (sb->roles[i] > RAID_ROLE_RECOVERING)
      return sb_bad (why, len, "roles[%u] is %u, no role", i, sb->roles[i]);
  if ((sb->features & RAID_FEATURE_RESHAPE) && !sb_reshape_sane (sb, why, len))
    return 0;
  if ((sb->features & RAID_FEATURE_PPL) && !sb_ppl_sane (sb, &g, why, len))
    return 0;
  return sb_offsets_sane (sb, sb_units (&g), why, len);
}

int
sb_magic_at (const uint8_t *block)
{
  return memcmp (block + O_MAGIC, sb_magic, 8) == 0;
}

enum raid_sb_state
sb_decode (const uint8_t block[RAID_SB_SIZE], struct raid_sb *sb, char *why, size_t len)
{
  if (why && len)
    *why = '\0';
  memset (sb, 0, sizeof *sb);
  if (!sb_magic_at (block))
    return RAID_SB_NONE;
  sb->version = le_get32 (block, O_VERSION);
  if (sb->version > RAID_SB_VERSION)
    return RAID_SB_NEWER;     /* its crc may cover other bytes: do not judge it */
  if (le_get32 (block, O_CRC) != sb_crc (block))
    return sb_bad (why, len, "bad crc32c"), RAID_SB_CORRUPT;
  sb_decode_fields (block, sb);
  sb_lists_clean (sb);
  sb_writemostly_clean (sb);
  sb_resync_after_crash_clean (sb);
  return sb_sane (sb, why, len) ? RAID_SB_OK : RAID_SB_CORRUPT;
}

int
raid_sb_member_uuid (const uint8_t *block, size_t len, uint8_t uuid[16])
{
  struct raid_sb sb;

  if (len < RAID_SB_SIZE || sb_decode (block, &sb, NULL, 0) != RAID_SB_OK)
    return 0;
  memcpy (uuid, sb.member_uuid, 16);
  return 1;
}

static int
list_index (struct uuid_list l, const uint8_t uuid[16])
{
  for (unsigned i = 0; i < *l.count && i < SB_LIST_MAX; i++)
    if (!memcmp (l.uuid[i], uuid, 16))
      return (int) i;
  return -1;
}

/* Add UUID to L (the oldest dropped when full; a uuid on it already stays where it is). */
static void
list_add (struct uuid_list l, const uint8_t uuid[16])
{
  if (list_index (l, uuid) >= 0 || !memcmp (uuid, no_uuid, 16))
    return;
  if (*l.count == SB_LIST_MAX) {       /* the oldest goes */
    memmove (l.uuid[0], l.uuid[1], (SB_LIST_MAX - 1) * 16);
    (*l.count)--;
  }
  memcpy (l.uuid[(*l.count)++], uuid, 16);
}

static int
list_drop (struct uuid_list l, const uint8_t uuid[16])
{
  int i = list_index (l, uuid);

  if (i < 0)
    return 0;
  memmove (l.uuid[i], l.uuid[i + 1], (*l.count - 1 - (unsigned) i) * 16);
  memset (l.uuid[--*l.count], 0, 16);
  return 1;
}

int
sb_removed_index (const struct raid_sb *sb, const uint8_t uuid[16])
{
  return list_index (removed_list ((struct raid_sb *) sb), uuid);
}

/* Removed, it is no longer on the failed list: the removed list says more (only an add
 * takes it back, as a new member rebuilt in full). */
void
sb_removed_add (struct raid_sb *sb, const uint8_t uuid[16])
{
  list_drop (failed_list (sb), uuid);
  list_add (removed_list (sb), uuid);
}

int
sb_removed_drop (struct raid_sb *sb, const uint8_t uuid[16])
{
  return list_drop (removed_list (sb), uuid);
}

int
sb_failed_index (const struct raid_sb *sb, const uint8_t uuid[16])
{
  return list_index (failed_list ((struct raid_sb *) sb), uuid);
}

void
sb_failed_add (struct raid_sb *sb, const uint8_t uuid[16])
{
  if (sb_removed_index (sb, uuid) < 0)
    list_add (failed_list (sb), uuid);
}

int
sb_failed_drop (struct raid_sb *sb, const uint8_t uuid[16])
{
  return list_drop (failed_list (sb), uuid);
}

int
raid_sb_removed (const struct raid_sb_summary *ref, const uint8_t member_uuid[16])
{
  if (ref->state != RAID_SB_OK)
    return 0;
  for (unsigned i = 0; i < ref->removed && i < RAID_MAX_REMOVED; i++)
    if (!memcmp (ref->removed_uuid[i], member_uuid, 16))
      return 1;
  return 0;
}

enum raid_write_hole
raid_write_hole (int clean, int crash_resync, int ppl, int readonly, int bitmap_clean)
{
  if (crash_resync)
    return bitmap_clean ? RAID_WRITE_HOLE_BITMAP : RAID_WRITE_HOLE_CRASH_RESYNC;
  if (clean)
    return RAID_WRITE_HOLE_NONE;
  if (ppl && !readonly)
    return RAID_WRITE_HOLE_PPL;
  return bitmap_clean ? RAID_WRITE_HOLE_BITMAP : RAID_WRITE_HOLE_DIRTY;
}

enum raid_write_hole
raid_sb_write_hole (const struct raid_sb_summary *ref, const uint8_t *present,
                    int bitmap_clean)
{
  unsigned i;

  for (i = 0; i < ref->members && i < RAID_MAX_MEMBERS && present[i]; i++)
    ;
  if (ref->state != RAID_SB_OK || !ref->m || i == ref->members || i == RAID_MAX_MEMBERS)
    return RAID_WRITE_HOLE_NONE;
  return raid_write_hole (ref->clean, ref->resync_after_crash
                          && ref->resync_offset != RAID_RESYNC_DONE, ref->ppl, 0, bitmap_clean);
}

int
raid_force_prefers (int failed_a, uint64_t events_a, int failed_b, uint64_t events_b)
{
  /* the admin took a failed one out for a reason: any other stale one serves first */
  if (!failed_a != !failed_b)
    return !failed_a;
  return events_a > events_b;
}

int
raid_sb_failed (const struct raid_sb_summary *ref, const uint8_t member_uuid[16])
{
  if (ref->state != RAID_SB_OK)
    return 0;
  for (unsigned i = 0; i < ref->failed && i < RAID_MAX_FAILED; i++)
    if (!memcmp (ref->failed_uuid[i], member_uuid, 16))
      return 1;
  return 0;
}

int
raid_sb_startable (const struct raid_sb_summary *ref, const uint8_t *present)
{
  uint8_t missing[RAID_MAX_MEMBERS] = { 0 };
  struct raid_geom g;
  char err[160];

  /* mid-reshape two layouts must each survive: assembly judges that */
  if (ref->reshape_position != RAID_RESHAPE_NONE
      || geom_init (&g, ref->level, ref->members, ref->k, ref->m, ref->chunk_bytes,
                    ref->data_size ? ref->data_size : ref->chunk_bytes, err, sizeof err) < 0)
    return 1;
  for (unsigned i = 0; i < ref->members && i < RAID_MAX_MEMBERS; i++)
    missing[i] = !present[i];
  return geom_survives (&g, missing);
}

void
sb_summarise (const struct raid_sb *sb, enum raid_sb_state state, struct raid_sb_summary *out)
{
  struct raid_geom g;
  char err[128];

  memset (out, 0, sizeof *out);
  out->state = state;
  out->replace_slot = -1;
  out->version = sb->version;
  if (state != RAID_SB_OK)
    return;
  memcpy (out->array_uuid, sb->array_uuid, 16);
  memcpy (out->member_uuid, sb->member_uuid, 16);
  memcpy (out->name, sb->name, sizeof out->name);
  out->ctime = sb->ctime;
  out->level = (enum raid_level) sb->level;
  out->k = sb->k;
  out->m = sb->m;
  out->members = sb->raid_disks;
  out->role = sb->role;
  out->chunk_bytes = sb->chunk;
  out->array_size = sb->array_size;
  out->data_offset = sb->data_offset;
  out->data_size = sb->data_size;
  out->events = sb->events;
  out->clean = sb->clean;
  out->recovery_offset = sb->recovery_offset;
  out->resync_offset = sb->resync_offset;
  out->resync_after_crash = sb->resync_after_crash;
  out->reshape_position = sb->features & RAID_FEATURE_RESHAPE ? sb->reshape_position
                                                               : RAID_RESHAPE_NONE;
  for (unsigned i = 0; i < RAID_MAX_MEMBERS; i++)
    out->roles[i] = i < sb->raid_disks ? (enum raid_role_state) sb->roles[i] : RAID_ROLE_MISSING;
  memcpy (out->slot_uuid, sb->slot_uuid, sizeof out->slot_uuid);
  out->writemostly = sb->writemostly;
  out->ppl = !!(sb->features & RAID_FEATURE_PPL);
  out->removed = sb->removed_count;
  memcpy (out->removed_uuid, sb->removed_uuid, sizeof out->removed_uuid);
  out->failed = sb->failed_count;
  memcpy (out->failed_uuid, sb->failed_uuid, sizeof out->failed_uuid);
  if (geom_init (&g, (enum raid_level) sb->level, sb->raid_disks, sb->k, sb->m, sb->chunk,
                 sb->data_size, err, sizeof err) == 0)
    out->resync_units = sb_units (&g);
  if (sb->features & RAID_FEATURE_REPLACEMENT) {
    out->replace_slot = (int) sb->replace_slot;
    out->replace_offset = sb->replace_offset;
    out->replacement = !memcmp (sb->replace_uuid, sb->member_uuid, 16);
    out->replace_units = out->resync_units;
  }
}

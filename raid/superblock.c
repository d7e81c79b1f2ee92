/* The on-member superblock: 4 KiB at RAID_SB_OFFSET, little-endian, fixed
 * field offsets, crc32c (ISA-L crc32_iscsi, seed ~0) in its last 4 bytes.
 * The data area starts at RAID_DATA_OFFSET (1 MiB); the space between the
 * superblock and the data is kept for a write-intent bitmap and a log. */
#include <string.h>

#include <isa-l/crc.h>

#include "raid-int.h"

static const char sb_magic[8] = "aoeraid";   /* with its NUL: 8 bytes */

enum {
  O_MAGIC = 0, O_VERSION = 8, O_FEATURES = 12, O_ARRAY_UUID = 16, O_NAME = 32,
  O_CTIME = 64, O_UTIME = 72, O_LEVEL = 80, O_LAYOUT = 84, O_CHUNK = 88,
  O_RAID_DISKS = 92, O_K = 96, O_M = 100, O_ROLE = 104, O_MEMBER_UUID = 112,
  O_ARRAY_SIZE = 128, O_DATA_OFFSET = 136, O_DATA_SIZE = 144, O_EVENTS = 152,
  O_CLEAN = 160, O_NEW_LEVEL = 168, O_NEW_LAYOUT = 172, O_NEW_CHUNK = 176,
  O_DELTA_DISKS = 180, O_RESHAPE_POS = 184, O_NEW_DATA_OFFSET = 192,
  O_BITMAP_OFFSET = 200, O_LOG_OFFSET = 208, O_RESYNC = 216,
  O_ROLES = 512, O_SLOT_UUIDS = 1024, O_CRC = RAID_SB_SIZE - 4,
};

static void
put32 (uint8_t *b, unsigned off, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    b[off + i] = v >> (8 * i);
}

static void
put64 (uint8_t *b, unsigned off, uint64_t v)
{
  put32 (b, off, (uint32_t) v);
  put32 (b, off + 4, (uint32_t) (v >> 32));
}

static uint32_t
get32 (const uint8_t *b, unsigned off)
{
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--)
    v = (v << 8) | b[off + i];
  return v;
}

static uint64_t
get64 (const uint8_t *b, unsigned off)
{
  return get32 (b, off) | ((uint64_t) get32 (b, off + 4) << 32);
}

static uint32_t
sb_crc (const uint8_t *block)
{
  return crc32_iscsi ((unsigned char *) block, O_CRC, 0xffffffff);
}

void
sb_encode (const struct raid_sb *sb, uint8_t block[RAID_SB_SIZE])
{
  memset (block, 0, RAID_SB_SIZE);
  memcpy (block + O_MAGIC, sb_magic, 8);
  put32 (block, O_VERSION, sb->version);
  memcpy (block + O_ARRAY_UUID, sb->array_uuid, 16);
  memcpy (block + O_NAME, sb->name, strnlen (sb->name, RAID_NAME_MAX));
  put64 (block, O_CTIME, sb->ctime);
  put64 (block, O_UTIME, sb->utime);
  put32 (block, O_LEVEL, sb->level);
  put32 (block, O_LAYOUT, sb->layout);
  put32 (block, O_CHUNK, sb->chunk);
  put32 (block, O_RAID_DISKS, sb->raid_disks);
  put32 (block, O_K, sb->k);
  put32 (block, O_M, sb->m);
  put32 (block, O_ROLE, sb->role);
  memcpy (block + O_MEMBER_UUID, sb->member_uuid, 16);
  put64 (block, O_ARRAY_SIZE, sb->array_size);
  put64 (block, O_DATA_OFFSET, sb->data_offset);
  put64 (block, O_DATA_SIZE, sb->data_size);
  put64 (block, O_EVENTS, sb->events);
  put32 (block, O_CLEAN, sb->clean);
  put32 (block, O_NEW_LEVEL, sb->new_level);
  put32 (block, O_NEW_LAYOUT, sb->new_layout);
  put32 (block, O_NEW_CHUNK, sb->new_chunk);
  put32 (block, O_DELTA_DISKS, (uint32_t) sb->delta_disks);
  put64 (block, O_RESHAPE_POS, sb->reshape_position);
  put64 (block, O_NEW_DATA_OFFSET, sb->new_data_offset);
  put64 (block, O_BITMAP_OFFSET, sb->bitmap_offset);
  put64 (block, O_LOG_OFFSET, sb->log_offset);
  put64 (block, O_RESYNC, sb->resync_offset);
  memcpy (block + O_ROLES, sb->roles, RAID_MAX_MEMBERS);
  memcpy (block + O_SLOT_UUIDS, sb->slot_uuid, sizeof sb->slot_uuid);
  put32 (block, O_CRC, sb_crc (block));
}

/* Fields no writer of this format produces: the block is damaged. */
static int
sb_sane (const struct raid_sb *sb)
{
  if (sb->raid_disks < 1 || sb->raid_disks > RAID_MAX_MEMBERS || sb->role >= sb->raid_disks)
    return 0;
  if (sb->chunk < RAID_MIN_CHUNK || sb->chunk > RAID_MAX_CHUNK || (sb->chunk & (sb->chunk - 1)))
    return 0;
  if (sb->k + sb->m > sb->raid_disks || sb->m > RAID_MAX_PARITY)
    return 0;
  for (unsigned i = 0; i < sb->raid_disks; i++)
    if (sb->roles[i] > RAID_ROLE_MISSING)
      return 0;
  return sb->data_offset >= RAID_DATA_OFFSET;
}

enum raid_sb_state
sb_decode (const uint8_t block[RAID_SB_SIZE], struct raid_sb *sb)
{
  memset (sb, 0, sizeof *sb);
  if (memcmp (block + O_MAGIC, sb_magic, 8) != 0)
    return RAID_SB_NONE;
  sb->version = get32 (block, O_VERSION);
  if (sb->version > RAID_SB_VERSION)
    return RAID_SB_NEWER;     /* its crc may cover other bytes: do not judge it */
  if (get32 (block, O_CRC) != sb_crc (block))
    return RAID_SB_CORRUPT;
  memcpy (sb->array_uuid, block + O_ARRAY_UUID, 16);
  memcpy (sb->name, block + O_NAME, RAID_NAME_MAX);
  sb->name[RAID_NAME_MAX] = '\0';
  sb->ctime = get64 (block, O_CTIME);
  sb->utime = get64 (block, O_UTIME);
  sb->level = get32 (block, O_LEVEL);
  sb->layout = get32 (block, O_LAYOUT);
  sb->chunk = get32 (block, O_CHUNK);
  sb->raid_disks = get32 (block, O_RAID_DISKS);
  sb->k = get32 (block, O_K);
  sb->m = get32 (block, O_M);
  sb->role = get32 (block, O_ROLE);
  memcpy (sb->member_uuid, block + O_MEMBER_UUID, 16);
  sb->array_size = get64 (block, O_ARRAY_SIZE);
  sb->data_offset = get64 (block, O_DATA_OFFSET);
  sb->data_size = get64 (block, O_DATA_SIZE);
  sb->events = get64 (block, O_EVENTS);
  sb->clean = get32 (block, O_CLEAN);
  sb->new_level = get32 (block, O_NEW_LEVEL);
  sb->new_layout = get32 (block, O_NEW_LAYOUT);
  sb->new_chunk = get32 (block, O_NEW_CHUNK);
  sb->delta_disks = (int32_t) get32 (block, O_DELTA_DISKS);
  sb->reshape_position = get64 (block, O_RESHAPE_POS);
  sb->new_data_offset = get64 (block, O_NEW_DATA_OFFSET);
  sb->bitmap_offset = get64 (block, O_BITMAP_OFFSET);
  sb->log_offset = get64 (block, O_LOG_OFFSET);
  sb->resync_offset = get64 (block, O_RESYNC);
  memcpy (sb->roles, block + O_ROLES, RAID_MAX_MEMBERS);
  memcpy (sb->slot_uuid, block + O_SLOT_UUIDS, sizeof sb->slot_uuid);
  return sb_sane (sb) ? RAID_SB_OK : RAID_SB_CORRUPT;
}

void
sb_summarise (const struct raid_sb *sb, enum raid_sb_state state, struct raid_sb_summary *out)
{
  memset (out, 0, sizeof *out);
  out->state = state;
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
  for (unsigned i = 0; i < RAID_MAX_MEMBERS; i++)
    out->roles[i] = i < sb->raid_disks ? (enum raid_role_state) sb->roles[i] : RAID_ROLE_MISSING;
}

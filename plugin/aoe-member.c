/* The AoE member backend: lets raid/ drive an AoE shelf through struct raid_member_ops.
 * raid/ speaks bytes, aoe/ speaks sectors; this is the only place the two meet.  Linked
 * into the plugin and into the aoeraid command: no nbdkit here. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "aoe.h"
#include "raid.h"
#include "aoe-member.h"

/* Where a shelf without an aoeraid superblock may still hold something worth keeping:
 * partition tables (0, 512), ext4 (1024), md 1.2 (4096) and GFS2 (64K) all start in the
 * first 128 KiB. */
#define FOREIGN_SCAN_SECTORS 256u

/* A decimal number, digits only, below LIMIT; *END after it.  (sscanf's %u takes a sign
 * and wraps: "4294967297.1" would be e1.1.) */
static int parse_below(const char *s, char **end, unsigned long limit, unsigned *out)
{
  unsigned long v;

  if (*s < '0' || *s > '9')
    return -1;
  errno = 0;
  v = strtoul(s, end, 10);
  if (errno || v >= limit)
    return -1;
  *out = (unsigned)v;
  return 0;
}

int parse_shelf_addr(const char *s, struct shelf_addr *out)
{
  unsigned shelf, slot;
  char *end;

  if (*s == 'e' || *s == 'E')
    s++;
  if (parse_below(s, &end, 0xffff, &shelf) < 0 || *end != '.' ||
      parse_below(end + 1, &end, 0xff, &slot) < 0 || *end)
    return -1;
  out->shelf = shelf;
  out->slot = slot;
  return 0;
}

int aoe_shelf_blank(struct aoe_target *t)
{
  char *buf = malloc(FOREIGN_SCAN_SECTORS * 512);
  int r;

  if (!buf)
    return -ENOMEM;
  r = aoe_io(t, AOE_READ, 0, FOREIGN_SCAN_SECTORS, buf);
  if (r == 0) {
    r = 1;
    for (size_t i = 0; i < FOREIGN_SCAN_SECTORS * 512; i++)
      if (buf[i]) {
        r = 0;
        break;
      }
  }
  free(buf);
  return r;
}

int shelf_holder(struct aoe_target *t, char *buf, size_t len)
{
  uint8_t macs[1][6];

  buf[0] = 0;
  if (aoe_reserve_read(t, macs, 1) < 1)
    return 0;
  snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", macs[0][0], macs[0][1], macs[0][2],
           macs[0][3], macs[0][4], macs[0][5]);
  return 1;
}

struct aoe_member {
  struct raid_member_ops ops;   /* aoe_member_ops, without poll when poll=false */
  struct aoe_target *target;
  _Atomic uint64_t bytes;       /* as last identified: a shelf comes back grown */
  /* aoe_member_guard: the shelf's up spell in which its disk was known to be this
   * member's; a shelf that went down and answered again may have another disk behind its
   * address, and looks down to raid/ until aoe_member_confirm */
  atomic_bool guarded;
  _Atomic uint64_t known_spell;
  char name[24];
};

/* Is the disk behind the shelf still the one the member was made for, as far as known? */
static bool member_known(struct aoe_member *m)
{
  return !atomic_load(&m->guarded)
    || aoe_target_up_spells(m->target) == atomic_load(&m->known_spell);
}

static void member_submit(void *opaque, enum raid_io_op op, uint64_t offset, uint32_t len,
                          void *buf, raid_io_done_fn *done, void *done_opaque)
{
  struct aoe_member *m = opaque;
  enum aoe_op aop = op == RAID_IO_READ ? AOE_READ : op == RAID_IO_WRITE ? AOE_WRITE : AOE_FLUSH;

  if (!member_known(m)) {       /* not a byte to or from a disk not proven the member's */
    done(done_opaque, ENODEV);
    return;
  }
  /* aoe_done_fn and raid_io_done_fn have the same shape: (opaque, errno). */
  if (aoe_submit(m->target, aop, offset / 512, len / 512, buf, done, done_opaque) < 0)
    done(done_opaque, errno ? errno : EIO);
}

static uint64_t member_size(void *opaque)
{
  return atomic_load(&((struct aoe_member *)opaque)->bytes);
}

static const char *member_name(void *opaque)
{
  return ((struct aoe_member *)opaque)->name;
}

static int member_healthy(void *opaque)
{
  struct aoe_member *m = opaque;

  return aoe_target_up(m->target) && member_known(m);
}

static int member_poll(void *opaque)
{
  return aoe_poll(((struct aoe_member *)opaque)->target);
}

static void member_sleeping(void *opaque, int asleep)
{
  struct aoe_target *t = ((struct aoe_member *)opaque)->target;

  if (asleep)
    aoe_sleep_begin(t);
  else
    aoe_sleep_end(t);
}

static int member_volatile_cache(void *opaque)
{
  return aoe_target_write_cache(((struct aoe_member *)opaque)->target);
}

static const struct raid_member_ops aoe_member_ops = {
  .submit = member_submit,
  .size = member_size,
  .name = member_name,
  .healthy = member_healthy,
  .poll = member_poll,
  .sleeping = member_sleeping,
  .volatile_cache = member_volatile_cache,
};

int aoe_member_init(struct raid_member *out, struct aoe_target *target, bool poll)
{
  struct aoe_target_info info;
  struct aoe_member *m;

  if (aoe_target_info(target, &info) < 0)
    return -1;
  m = calloc(1, sizeof *m);
  if (!m)
    return -1;
  m->target = target;
  atomic_store(&m->bytes, info.sectors * 512);
  snprintf(m->name, sizeof m->name, "e%u.%u", info.shelf, info.slot);
  m->ops = aoe_member_ops;
  if (!poll) {
    m->ops.poll = NULL;         /* waiters sleep until the loop thread completes them */
    m->ops.sleeping = NULL;     /* and the loop always watches: nobody polls */
  }
  out->ops = &m->ops;
  out->member = m;
  return 0;
}

void aoe_member_free(struct raid_member *member)
{
  free(member->member);
  member->member = NULL;
}

int aoe_member_refresh(struct raid_member *member)
{
  struct aoe_member *m = member->member;
  struct aoe_target_info info;

  if (aoe_target_info(m->target, &info) < 0)
    return -1;
  atomic_store(&m->bytes, info.sectors * 512);
  return 0;
}

void aoe_member_guard(struct raid_member *member)
{
  struct aoe_member *m = member->member;

  aoe_member_confirm(member);
  atomic_store(&m->guarded, true);
}

void aoe_member_confirm(struct raid_member *member)
{
  struct aoe_member *m = member->member;

  atomic_store(&m->known_spell, aoe_target_up_spells(m->target));
}

bool aoe_member_returned(const struct raid_member *member)
{
  return !member_known(member->member);
}

struct aoe_target *aoe_member_target(const struct raid_member *member)
{
  return ((struct aoe_member *)member->member)->target;
}

bool aoe_member_wraps(const struct raid_member *member, const struct aoe_target *target)
{
  return member->member && ((struct aoe_member *)member->member)->target == target;
}

/* Hostile superblocks and bitmap blocks: take the blocks of real in-memory
 * arrays (every level, a spare, a reshape and a replace under way), mutate
 * them (field-aware boundary values, random bytes), give them a valid
 * crc32c, and examine and assemble.  Each case must either give a sane
 * array (every member I/O inside its member and outside the metadata it
 * does not own, reads and writes over the whole array working) or refuse
 * with one line naming the member: never crash, hang or touch bytes it
 * must not.  Deterministic: a fixed seed per run. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <isa-l/crc.h>

#include "raid-test.h"
#include "raid-int.h"

#define CHUNK 4096u
#define DATA_OFF (128u * 1024)                 /* room below for grows */
#define MEMBER (DATA_OFF + 32u * CHUNK)
#define MAX_M 6
#define META_BYTES (RAID_BITMAP_OFFSET + RAID_BITMAP_SIZE)

/* ---- a member that checks every I/O before the in-memory one sees it ------ */

struct guard {
  struct raid_member inner;
  uint64_t size;
  unsigned bad;
  char what[160];
};

static void
guard_submit (void *member, enum raid_io_op op, uint64_t offset, uint32_t len, void *buf,
              raid_io_done_fn *done, void *opaque)
{
  struct guard *g = member;
  const char *why = NULL;

  if (op != RAID_IO_FLUSH && (offset > g->size || len > g->size - offset))
    why = "beyond the member";
  else if (op == RAID_IO_WRITE && offset < RAID_META_END
           && (offset < RAID_SB_OFFSET || offset + len > META_BYTES))
    why = "a write into metadata outside the superblock and bitmap";
  if (why) {
    if (!g->bad++)
      snprintf (g->what, sizeof g->what, "%s %s at %llu, %u bytes: %s",
                g->inner.ops->name (g->inner.member), op == RAID_IO_READ ? "read" : "write",
                (unsigned long long) offset, len, why);
    done (opaque, EINVAL);
    return;
  }
  g->inner.ops->submit (g->inner.member, op, offset, len, buf, done, opaque);
}

static uint64_t guard_size (void *m) { return ((struct guard *) m)->size; }
static const char *guard_name (void *m)
{
  struct guard *g = m;
  return g->inner.ops->name (g->inner.member);
}
static int guard_healthy (void *m)
{
  struct guard *g = m;
  return g->inner.ops->healthy (g->inner.member);
}

static const struct raid_member_ops guard_ops = {
  .submit = guard_submit, .size = guard_size, .name = guard_name, .healthy = guard_healthy,
};

/* ---- templates: the members of a real array, as left on close ------------ */

struct tmpl {
  const char *what;
  unsigned n;                              /* members given to assembly */
  struct raid_mem_member *mm[MAX_M];
  uint8_t meta[MAX_M][META_BYTES];         /* pristine superblock and bitmap area */
};

struct rig {
  struct tmpl *t;
  struct guard g[MAX_M];
  struct raid_member mem[MAX_M];
  char log[512];
};

static void
quiet_log (void *opaque, int level, const char *msg)
{
  struct rig *r = opaque;

  cr_assert (!strchr (msg, '\n'), "a log line holds a newline: %s", msg);
  if (level <= RAID_LOG_WARN)
    snprintf (r->log, sizeof r->log, "%s", msg);
}

static struct raid_array *
tmpl_create (struct tmpl *t, enum raid_level level, unsigned n, unsigned k, unsigned m,
             unsigned flags)
{
  struct raid_params p = { .level = level, .k = k, .m = m, .chunk_bytes = CHUNK,
                           .name = "fuzz", .flags = flags, .data_offset = DATA_OFF };
  struct raid_member mem[MAX_M];
  char err[256] = "", name[16];
  struct raid_array *a;

  for (unsigned i = 0; i < t->n; i++) {
    snprintf (name, sizeof name, "e%u.1", i + 1);
    t->mm[i] = raid_mem_member_new (name, MEMBER);
    cr_assert_not_null (t->mm[i]);
    mem[i] = raid_mem_member (t->mm[i]);
  }
  a = raid_create (&p, mem, n, NULL, NULL, err, sizeof err);
  cr_assert_not_null (a, "%s: %s", t->what, err);
  for (unsigned i = n; i < t->n; i++)
    cr_assert_eq (raid_add_member (a, &mem[i], err, sizeof err), 0, "%s: %s", t->what, err);
  return a;
}

static void
tmpl_save (struct tmpl *t, struct raid_array *a)
{
  raid_close (a);
  for (unsigned i = 0; i < t->n; i++)
    memcpy (t->meta[i], raid_mem_member_data (t->mm[i]), META_BYTES);
}

/* What each template holds; then, in the last two, a grow or a replace started. */
struct spec { const char *what; enum raid_level level; unsigned n, k, m, given, flags; };
static const struct spec specs[] = {
  { "raid1 of 2 and a spare", RAID_LEVEL_1, 2, 0, 0, 3, 0 },
  { "raid5 of 3 and a spare", RAID_LEVEL_5, 3, 0, 0, 4, 0 },
  { "raid6 of 4", RAID_LEVEL_6, 4, 0, 0, 4, RAID_CREATE_ASSUME_CLEAN },
  { "raid10 of 4", RAID_LEVEL_10, 4, 0, 0, 4, 0 },
  { "ec 3+2", RAID_LEVEL_EC, 5, 3, 2, 5, 0 },
  { "raid0 of 2", RAID_LEVEL_0, 2, 0, 0, 2, 0 },
  { "raid5 of 3 growing to 4", RAID_LEVEL_5, 3, 0, 0, 4, RAID_CREATE_ASSUME_CLEAN },
  { "raid5 of 3 replacing e2.1", RAID_LEVEL_5, 3, 0, 0, 4, RAID_CREATE_ASSUME_CLEAN },
};
#define N_TMPL (sizeof specs / sizeof specs[0])
static struct tmpl tmpl[N_TMPL];

static void
tmpl_all (void)
{
  char err[256];

  for (unsigned i = 0; i < N_TMPL; i++) {
    const struct spec *s = &specs[i];
    struct raid_array *a;
    tmpl[i] = (struct tmpl) { .what = s->what, .n = s->given };
    a = tmpl_create (&tmpl[i], s->level, s->n, s->k, s->m, s->flags);
    if (i == N_TMPL - 2)
      cr_assert_eq (raid_grow (a, (const char *[]) { "e4.1" }, 1, RAID_LEVEL_5, err,
                               sizeof err), 0, "%s", err);
    if (i == N_TMPL - 1)
      cr_assert_eq (raid_replace_start (a, "e2.1", "e4.1", err, sizeof err), 0, "%s", err);
    tmpl_save (&tmpl[i], a);
  }
}

static void
tmpl_free_all (void)
{
  for (unsigned i = 0; i < N_TMPL; i++)
    for (unsigned j = 0; j < tmpl[i].n; j++)
      raid_mem_member_free (tmpl[i].mm[j]);
}

static void
rig_reset (struct rig *r, struct tmpl *t)
{
  memset (r, 0, sizeof *r);
  r->t = t;
  for (unsigned i = 0; i < t->n; i++) {
    memcpy (raid_mem_member_data (t->mm[i]), t->meta[i], META_BYTES);
    r->g[i] = (struct guard) { .inner = raid_mem_member (t->mm[i]), .size = MEMBER };
    r->mem[i] = (struct raid_member) { .ops = &guard_ops, .member = &r->g[i] };
  }
}

static void
rig_check_io (struct rig *r, const char *mutation)
{
  for (unsigned i = 0; i < r->t->n; i++)
    cr_assert_eq (r->g[i].bad, 0, "%s, %s: %s", r->t->what, mutation, r->g[i].what);
}

/* ---- mutations ------------------------------------------------------------- */

static uint8_t *
sb_of (struct rig *r, unsigned i)
{
  return raid_mem_member_data (r->t->mm[i]) + RAID_SB_OFFSET;
}

static uint8_t *
bm_of (struct rig *r, unsigned i)
{
  return raid_mem_member_data (r->t->mm[i]) + RAID_BITMAP_OFFSET;
}

static void
crc_fix (uint8_t *block, size_t size)
{
  le_put32 (block, size - 4, crc32_iscsi (block, size - 4, 0xffffffff));
}

static uint64_t
boundary (uint64_t *seed, uint64_t cur, int wide)
{
  static const uint64_t v[] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 16, 31, 32, 33, 99, 100, 101, 255, 256, 511, 512,
    4095, 4096, 4097, 8192, 65535, 65536, 131072, DATA_OFF - CHUNK, DATA_OFF,
    MEMBER - CHUNK, MEMBER, MEMBER + 1, 0xfffe, 0xffff, 0x10000, 1u << 20, 1u << 26,
    0x7fffffff, 0x80000000u, 0xfffffffeu, 0xffffffffu,
  };
  static const uint64_t w[] = {
    1ull << 32, 1ull << 40, 1ull << 63, UINT64_MAX - 4095, UINT64_MAX - 1, UINT64_MAX,
  };
  uint64_t x = rnd (seed);

  switch (x % 8) {
  case 0: return cur + 1;
  case 1: return cur - 1;
  case 2: return cur + (x >> 8) % 64 * 512;
  case 3: return cur - (x >> 8) % 64 * 512;
  case 4: return wide ? w[(x >> 8) % (sizeof w / sizeof w[0])] : (uint32_t) rnd (seed);
  case 5: return wide ? rnd (seed) : (x >> 8) % 40;
  default: return v[(x >> 8) % (sizeof v / sizeof v[0])];
  }
}

/* The fields of struct raid_sb a writer sets, by their place in it. */
struct sb_num { const char *name; size_t at; unsigned bytes; };
#define N(f) { #f, offsetof (struct raid_sb, f), sizeof ((struct raid_sb *) 0)->f }
static const struct sb_num sb_nums[] = {
  N (version), N (level), N (layout), N (chunk), N (raid_disks), N (k), N (m), N (role),
  N (array_size), N (data_offset), N (data_size), N (events), N (clean), N (features),
  N (prev_level), N (prev_layout), N (prev_chunk), N (prev_k), N (prev_m), N (delta_disks),
  N (reshape_position), N (prev_data_offset), N (bitmap_offset), N (log_offset),
  N (resync_offset), N (recovery_offset), N (replace_slot), N (replace_offset),
};
#undef N
#define N_NUMS (sizeof sb_nums / sizeof sb_nums[0])

/* One field-aware change to a decoded superblock; describes it in WHAT. */
static void
sb_mutate_field (struct raid_sb *sb, uint64_t *seed, char *what, size_t len)
{
  uint64_t x = rnd (seed);
  unsigned pick = x % (N_NUMS + 4);

  if (pick < N_NUMS) {
    const struct sb_num *f = &sb_nums[pick];
    uint8_t *p = (uint8_t *) sb + f->at;
    uint64_t cur = 0, v;
    memcpy (&cur, p, f->bytes);       /* little-endian host, as the tests assume */
    v = boundary (seed, cur, f->bytes == 8);
    if (f->bytes == 4)
      v = (uint32_t) v;
    memcpy (p, &v, f->bytes);
    snprintf (what, len, "%s=%llu", f->name, (unsigned long long) v);
    return;
  }
  switch (pick - N_NUMS) {
  case 0: {
    unsigned i = (x >> 8) % RAID_MAX_MEMBERS, v = (x >> 16) % 8;
    sb->roles[i] = (uint8_t) (v == 7 ? rnd (seed) : v);
    snprintf (what, len, "roles[%u]=%u", i, sb->roles[i]);
    break;
  }
  case 1: {
    unsigned i = (x >> 8) % RAID_MAX_MEMBERS, j = (x >> 16) % RAID_MAX_MEMBERS;
    memcpy (sb->slot_uuid[i], sb->slot_uuid[j], 16);
    snprintf (what, len, "slot_uuid[%u]=slot_uuid[%u]", i, j);
    break;
  }
  case 2: {
    unsigned j = (x >> 8) % RAID_MAX_MEMBERS;
    memcpy (sb->replace_uuid, sb->slot_uuid[j], 16);
    snprintf (what, len, "replace_uuid=slot_uuid[%u]", j);
    break;
  }
  default:
    memset (sb->name, 'x', RAID_NAME_MAX);
    sb->name[RAID_NAME_MAX] = '\0';
    snprintf (what, len, "name of %d bytes", RAID_NAME_MAX);
    break;
  }
}

/* Field-aware: the same changes on every member (a consistent but nonsense
 * array), or on one member only (events raised so that it leads). */
static void
mutate_fields (struct rig *r, uint64_t *seed, char *what, size_t len)
{
  unsigned changes = 1 + rnd (seed) % 3, one = rnd (seed) % 3 == 0;
  unsigned only = rnd (seed) % r->t->n;
  uint64_t s0 = rnd (seed);
  size_t used = snprintf (what, len, "%s", one ? "one member:" : "all members:");

  for (unsigned i = 0; i < r->t->n; i++) {
    struct raid_sb sb;
    uint64_t s = s0;
    if (one && i != only)
      continue;
    cr_assert_eq (sb_decode (sb_of (r, i), &sb, NULL, 0), RAID_SB_OK);
    if (one)
      sb.events += 5;
    for (unsigned c = 0; c < changes; c++) {
      char w[64];
      sb_mutate_field (&sb, &s, w, sizeof w);
      if (i == (one ? only : 0) && used < len)
        used += snprintf (what + used, len - used, " %s", w);
    }
    sb_encode (&sb, sb_of (r, i));
  }
  *seed = s0;
}

/* Random bytes in the header, the roles or the slot uuids; crc made valid. */
static void
mutate_bytes (struct rig *r, uint64_t *seed, char *what, size_t len)
{
  unsigned i = rnd (seed) % r->t->n, n = 1 + rnd (seed) % 8;
  uint8_t *b = sb_of (r, i);
  size_t used = snprintf (what, len, "bytes of member %u:", i);

  for (unsigned c = 0; c < n; c++) {
    uint64_t x = rnd (seed);
    unsigned off = x % 4 ? (x >> 8) % 272 : 512 + (x >> 8) % 1024;
    b[off] = (uint8_t) (x >> 32);
    if (used < len)
      used += snprintf (what + used, len - used, " [%u]=%u", off, b[off]);
  }
  le_put64 (b, 152, le_get64 (b, 152) + 5);      /* events: it leads */
  crc_fix (b, RAID_SB_SIZE);
}

/* The write-intent bitmap block of every member: header fields or bits. */
static void
mutate_bitmap (struct rig *r, uint64_t *seed, char *what, size_t len)
{
  static const unsigned offs[] = { 8, 12, 16, 24 };    /* version, shift, bits, events */
  uint64_t x = rnd (seed), v;
  unsigned off = offs[x % 4];

  v = boundary (seed, le_get64 (bm_of (r, 0), off), off >= 16);
  snprintf (what, len, "bitmap[%u]=%llu", off, (unsigned long long) v);
  for (unsigned i = 0; i < r->t->n; i++) {
    uint8_t *b = bm_of (r, i);
    if (off < 16)
      le_put32 (b, off, (uint32_t) v);
    else
      le_put64 (b, off, v);
    if (x & 0x100)
      memset (b + 64, 0xff, RAID_BITMAP_SIZE - 64 - 4);
    crc_fix (b, RAID_BITMAP_SIZE);
  }
}

/* ---- one case ---------------------------------------------------------------- */

static int
one_line_naming (const char *err, const struct rig *r)
{
  if (!*err || strchr (err, '\n'))
    return 0;
  for (unsigned i = 0; i < r->t->n; i++)
    if (strstr (err, guard_name ((void *) &r->g[i])))
      return 1;
  return strstr (err, "slot ") != NULL;      /* members missing: it names their slots */
}

static void
examine_all (struct rig *r, const char *what)
{
  for (unsigned i = 0; i < r->t->n; i++) {
    struct raid_sb_summary s;
    cr_assert_eq (raid_examine (&r->mem[i], &s), 0, "%s: examine", what);
    if (s.state != RAID_SB_OK)
      continue;
    cr_assert (s.members >= 1 && s.members <= RAID_MAX_MEMBERS, "%s: members %u", what,
               s.members);
    cr_assert (s.role < s.members || s.role == RAID_SB_ROLE_SPARE, "%s: role %u", what, s.role);
    cr_assert (s.data_offset + s.data_size <= UINT64_MAX - RAID_SB_OFFSET, "%s", what);
  }
}

/* Whatever the array found to do, it does inside its members. */
static void
exercise (struct raid_array *a, struct rig *r, const char *what)
{
  static uint8_t buf[64 * 1024];
  uint64_t size = raid_size (a), cap = 0;
  struct raid_status st;
  int ro;

  for (unsigned i = 0; i < r->t->n; i++)
    cap += MEMBER - RAID_META_END;
  cr_assert (size > 0 && size <= cap, "%s: size %llu", what, (unsigned long long) size);
  cr_assert_eq (raid_status (a, &st), 0);
  ro = st.readonly;
  for (uint64_t o = 0; o < size; o += sizeof buf) {
    uint32_t n = size - o < sizeof buf ? (uint32_t) (size - o) : sizeof buf;
    int rc = raid_read (a, buf, n, o);
    cr_assert (rc == 0 || rc == -EIO, "%s: read at %llu: %d", what, (unsigned long long) o, rc);
    if (!ro && (o == 0 || o + n == size))
      raid_write (a, buf, 4096 < n ? 4096 : n, o + n - (4096 < n ? 4096 : n), 0);
  }
  cr_assert_eq (raid_read (a, buf, 512, size), -EINVAL, "%s: read past the end", what);
  if (!ro) {
    raid_reshape (a);
    raid_replace (a);
    raid_recover (a);
    raid_resync (a);
    raid_check (a, RAID_CHECK);
  }
  raid_status (a, &st);
}

static unsigned n_assembled, n_refused;

static void
one_case (struct rig *r, uint64_t *seed, unsigned kind)
{
  char what[256], err[512] = "";
  struct raid_array *a;
  unsigned flags = rnd (seed) % 4;

  if (kind == 0)
    mutate_fields (r, seed, what, sizeof what);
  else if (kind == 1)
    mutate_bytes (r, seed, what, sizeof what);
  else
    mutate_bitmap (r, seed, what, sizeof what);
  size_t used = strlen (what);
  if (rnd (seed) % 8 == 0) {          /* a shelf of the wrong size */
    unsigned i = rnd (seed) % r->t->n;
    r->g[i].size = MEMBER - (1 + rnd (seed) % 40) * CHUNK;
    used += snprintf (what + used, sizeof what - used, ", member %u of %llu bytes", i,
                      (unsigned long long) r->g[i].size);
  }
  snprintf (what + used, sizeof what - used, " (%s, flags %u)", r->t->what, flags);
  examine_all (r, what);
  a = raid_assemble (r->mem, r->t->n, flags, quiet_log, r, err, sizeof err);
  rig_check_io (r, what);
  if (getenv ("RAID_FUZZ_VERBOSE"))
    fprintf (stderr, "%s: %s\n", what, a ? "assembled" : err);
  n_assembled += !!a;
  n_refused += !a;
  if (!a) {
    cr_assert (one_line_naming (err, r), "%s: refusal not one line naming a member: '%s'",
               what, err);
    return;
  }
  exercise (a, r, what);
  raid_close (a);
  rig_check_io (r, what);
}

static void
fuzz (unsigned kind, unsigned cases, uint64_t seed)
{
  struct rig r;

  tmpl_all ();
  for (unsigned c = 0; c < cases; c++) {
    rig_reset (&r, &tmpl[c % N_TMPL]);
    one_case (&r, &seed, kind);
  }
  tmpl_free_all ();
  /* both outcomes are exercised (a damaged bitmap is refused by no one: all dirty) */
  cr_assert (n_assembled > cases / 20 && (kind == 2 || n_refused > cases / 20),
             "%u assembled, %u refused", n_assembled, n_refused);
}

Test (fuzz, superblock_fields, .timeout = 60)
{
  fuzz (0, 12000, 0x5eed0001);
}

Test (fuzz, superblock_bytes, .timeout = 60)
{
  fuzz (1, 6000, 0x5eed0002);
}

Test (fuzz, bitmap_block, .timeout = 60)
{
  fuzz (2, 4000, 0x5eed0003);
}

/* ---- targeted cases: what each refusal says ---------------------------------- */

static void
refusal_names (struct rig *r, const char *want)
{
  char err[512] = "";
  struct raid_array *a = raid_assemble (r->mem, r->t->n, 0, quiet_log, r, err, sizeof err);

  cr_assert_null (a, "assembled, expected: %s", want);
  cr_assert (strstr (err, want) && !strchr (err, '\n'), "'%s' does not say '%s'", err, want);
}

/* The array of T starts with its spare (or the new member of its replace), e4.1, one
 * chunk too small: a warning, no refusal, and no replace resumed onto it. */
static void
small_spare_starts (struct tmpl *t)
{
  char why[512] = "";
  struct rig r;

  rig_reset (&r, t);
  r.g[3].size = MEMBER - CHUNK;
  struct raid_array *a = raid_assemble (r.mem, r.t->n, 0, quiet_log, &r, why, sizeof why);
  cr_assert_not_null (a, "%s: a small e4.1 refused the array: %s", t->what, why);
  cr_assert (strstr (r.log, "spare e4.1 (258048 bytes) is now too small to take a slot"),
             "%s: no warning of the small e4.1: %s", t->what, r.log);
  cr_assert_eq (raid_replace_pending (a), 0, "%s: a replace onto a small member resumed",
                t->what);
  raid_close (a);
}

/* One field set on every member, the crc made valid again. */
static void
set_all (struct rig *r, size_t at, unsigned bytes, uint64_t v)
{
  for (unsigned i = 0; i < r->t->n; i++) {
    struct raid_sb sb;
    cr_assert_eq (sb_decode (sb_of (r, i), &sb, NULL, 0), RAID_SB_OK);
    memcpy ((uint8_t *) &sb + at, &v, bytes);
    sb_encode (&sb, sb_of (r, i));
  }
}
#define SET_ALL(r, field, v) \
  set_all (r, offsetof (struct raid_sb, field), sizeof ((struct raid_sb *) 0)->field, v)

Test (fuzz, refusals_name_member_field_and_value)
{
  struct rig r;
  struct raid_sb_summary s;

  tmpl_all ();
  rig_reset (&r, &tmpl[1]);
  SET_ALL (&r, chunk, 3000);
  refusal_names (&r, "member e1.1 has a corrupt superblock (chunk size 3000 is not a power of 2");
  cr_assert_eq (raid_examine (&r.mem[0], &s), 0);
  cr_assert_eq (s.state, RAID_SB_CORRUPT);
  cr_assert (strstr (s.problem, "chunk size 3000"), "examine: '%s'", s.problem);
  rig_reset (&r, &tmpl[1]);
  SET_ALL (&r, level, 3);
  refusal_names (&r, "(level 3 is no RAID level)");
  rig_reset (&r, &tmpl[1]);
  SET_ALL (&r, k, 7);
  refusal_names (&r, "k=7 m=1 do not fit raid5 of 3 members");
  rig_reset (&r, &tmpl[1]);
  SET_ALL (&r, resync_offset, 1000);
  refusal_names (&r, "resync_offset 1000 is beyond the array's 32 units");
  rig_reset (&r, &tmpl[0]);
  SET_ALL (&r, data_size, UINT64_MAX - 1);
  refusal_names (&r, "data_size 18446744073709551614 is beyond any member");
  rig_reset (&r, &tmpl[N_TMPL - 2]);
  SET_ALL (&r, reshape_position, 1ull << 40);
  refusal_names (&r, "reshape_position 1099511627776 is beyond the 262144 bytes reshaped");
  rig_reset (&r, &tmpl[N_TMPL - 1]);
  SET_ALL (&r, replace_offset, 33);
  refusal_names (&r, "replace_offset 33 is beyond the array's 32 units");
  rig_reset (&r, &tmpl[1]);
  sb_of (&r, 0)[100] ^= 1;
  refusal_names (&r, "member e1.1 has a corrupt superblock (bad crc32c)");
  rig_reset (&r, &tmpl[1]);
  r.g[2].size = MEMBER - CHUNK;
  refusal_names (&r, "member e3.1 has 258048 bytes, smaller than the array needs (262144)");
  /* a spare too small starts as a spare that never takes a slot (raid-resize), warned of;
   * so does the new member of a replace under way, whose replace is given up */
  small_spare_starts (&tmpl[1]);
  small_spare_starts (&tmpl[N_TMPL - 1]);
  /* a hot add of a shelf whose superblock is damaged says what is */
  rig_reset (&r, &tmpl[1]);
  char err[512] = "";
  struct raid_array *a = raid_assemble (r.mem, 3, 0, quiet_log, &r, err, sizeof err);
  cr_assert_not_null (a, "%s", err);
  struct raid_sb sb;
  cr_assert_eq (sb_decode (sb_of (&r, 3), &sb, NULL, 0), RAID_SB_OK);
  sb.roles[2] = 9;
  sb_encode (&sb, sb_of (&r, 3));
  cr_assert_eq (raid_add_member (a, &r.mem[3], err, sizeof err), -EINVAL);
  cr_assert (strstr (err, "member e4.1 has a corrupt aoeraid superblock (roles[2] is 9, no "
                     "role): wipe"), "%s", err);
  raid_close (a);
  tmpl_free_all ();
}

/* A control byte in the name: refused at create; read as '?' from a superblock that has
 * one (older aoeraid took any name), so that every message stays one line. */
Test (fuzz, control_bytes_in_the_name)
{
  struct raid_mem_member *mm = raid_mem_member_new ("e1.1", MEMBER);
  struct raid_member m = raid_mem_member (mm);
  struct raid_params p = { .level = RAID_LEVEL_0, .chunk_bytes = CHUNK, .data_offset = DATA_OFF,
                           .name = "two\nlines" };
  struct raid_sb_summary s;
  char err[256] = "";
  struct rig r;

  cr_assert_null (raid_create (&p, &m, 1, NULL, NULL, err, sizeof err));
  cr_assert (strstr (err, "array name holds control byte 0x0a at 3"), "%s", err);
  raid_mem_member_free (mm);
  tmpl_all ();
  rig_reset (&r, &tmpl[5]);          /* raid0 of 2 */
  for (unsigned i = 0; i < r.t->n; i++) {
    memcpy (sb_of (&r, i) + 32, "a\tb\nc", 6);
    crc_fix (sb_of (&r, i), RAID_SB_SIZE);
  }
  cr_assert_eq (raid_examine (&r.mem[0], &s), 0);
  cr_assert_str_eq (s.name, "a?b?c");
  struct raid_array *a = raid_assemble (r.mem, r.t->n, 0, quiet_log, &r, err, sizeof err);
  cr_assert_not_null (a, "%s", err);
  raid_close (a);
  tmpl_free_all ();
}

/* ec k near 2^32: k + m wrapped round to n, and the parity tables asked for
 * (k+m)*k bytes (half a terabyte). */
Test (fuzz, ec_k_wrapping_is_refused)
{
  struct raid_mem_member *mm = raid_mem_member_new ("e1.1", MEMBER);
  struct raid_member m = raid_mem_member (mm);
  struct raid_params p = { .level = RAID_LEVEL_EC, .k = 0xfffffffdu, .m = 4, .chunk_bytes = CHUNK,
                           .data_offset = DATA_OFF };
  char err[256] = "";
  struct rig r;

  cr_assert_null (raid_create (&p, &m, 1, NULL, NULL, err, sizeof err));
  cr_assert (strstr (err, "k=4294967293 m=4"), "%s", err);
  raid_mem_member_free (mm);
  tmpl_all ();
  rig_reset (&r, &tmpl[4]);          /* ec 3+2 */
  for (unsigned i = 0; i < r.t->n; i++) {
    struct raid_sb sb;
    cr_assert_eq (sb_decode (sb_of (&r, i), &sb, NULL, 0), RAID_SB_OK);
    sb.raid_disks = 1;
    sb.role = i ? RAID_SB_ROLE_SPARE : 0;
    sb.k = 0xfffffffdu;
    sb.m = 4;
    sb_encode (&sb, sb_of (&r, i));
  }
  refusal_names (&r, "k=4294967293 m=4");
  tmpl_free_all ();
}

static void
note_err (void *opaque, int err)
{
  *(int *) opaque = err;
}

/* The in-memory member itself: a range whose end wraps past 2^64 is refused, not
 * copied from far outside its buffer. */
Test (fuzz, mem_member_refuses_wrapping_range)
{
  struct raid_mem_member *mm = raid_mem_member_new ("e1.1", MEMBER);
  struct raid_member m = raid_mem_member (mm);
  uint8_t buf[512];
  int err = -1;

  m.ops->submit (m.member, RAID_IO_READ, UINT64_MAX - 511, 512, buf, note_err, &err);
  cr_assert_eq (err, EINVAL);
  m.ops->submit (m.member, RAID_IO_WRITE, MEMBER + 512, 512, buf, note_err, &err);
  cr_assert_eq (err, EINVAL);
  raid_mem_member_free (mm);
}

/* aoeraid RAID engine: layouts, parity, superblocks, assembly, degraded I/O.
 *
 * raid/ knows its members only through struct raid_member_ops; it never
 * includes an AoE header.  Vocabulary follows Linux md: a member holds
 * chunks; a stripe is one chunk row across the members (k data chunks and
 * m parity chunks for the parity levels); events counts superblock updates.
 *
 * Thread safety: raid_read, raid_write and raid_flush may be called from
 * many threads at once on one array; each blocks its caller until the
 * member I/Os it fanned out have completed.  raid_status may be called at
 * any time.  raid_close must not race with I/O.
 */
#ifndef AOERAID_RAID_H
#define AOERAID_RAID_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The member backend ------------------------------------------------ */

enum raid_io_op { RAID_IO_READ, RAID_IO_WRITE, RAID_IO_FLUSH };

/* err: 0 or a positive errno.  Called exactly once per submit, from any
 * thread, possibly before submit returns. */
typedef void raid_io_done_fn (void *opaque, int err);

struct raid_member_ops {
  /* offset/len in bytes, multiples of 512 (both 0 for RAID_IO_FLUSH). */
  void (*submit) (void *member, enum raid_io_op op, uint64_t offset,
                  uint32_t len, void *buf, raid_io_done_fn *done, void *opaque);
  uint64_t (*size) (void *member);            /* bytes */
  const char *(*name) (void *member);         /* "e1.1": used in every message */
  int (*healthy) (void *member);              /* 0 = known down: send no I/O */
  /* Optional (NULL: completions come on their own).  Run, on the caller's
   * thread and without blocking, the completions that have arrived; returns
   * how many replies it found.  A request waiting alone calls it in a loop
   * for a short while before it sleeps (see batch_run). */
  int (*poll) (void *member);
  /* Optional (NULL: nothing to tell).  Told, with ASLEEP 1, that a caller whose I/O on this
   * member is pending stops polling and sleeps until it completes, and with 0 once it
   * woke: a member whose completions are left to pollers while there are some (AoE: the
   * loop thread then leaves the sockets alone) has them received for the sleeper. */
  void (*sleeping) (void *member, int asleep);
  /* Optional (NULL: as 1).  1 when the member may hold acknowledged writes in a volatile
   * cache until a flush (a disk with its write cache on); 0 when an acknowledged write is
   * durable.  Metadata that must be durable before the data it guards (the partial
   * parity log) is flushed first only on members that say 1, as the Linux block layer
   * drops md's FUA on devices without a write cache. */
  int (*volatile_cache) (void *member);
};

struct raid_member {
  const struct raid_member_ops *ops;
  void *member;
};

/* A member I/O that fails with RAID_EFENCED (EBADE, Linux's reservation conflict) found
 * the member taken over by another host (an AoE reservation held by another head, say).
 * From then on the array is fenced: no member I/O is sent (reads neither), no member is
 * failed, no superblock or bitmap is written, background runs stop and every request
 * fails with EIO.  The other host owns the array now. */
#define RAID_EFENCED EBADE

/* ---- Geometry and limits ------------------------------------------------ */

enum raid_level {
  RAID_LEVEL_0 = 0,
  RAID_LEVEL_1 = 1,       /* n-way mirror */
  RAID_LEVEL_5 = 5,       /* left-symmetric (md's default) */
  RAID_LEVEL_6 = 6,       /* P+Q, Q as md and ISA-L pq_gen */
  RAID_LEVEL_10 = 10,     /* md near-2 */
  RAID_LEVEL_EC = 100,    /* k data + m parity (Cauchy Reed-Solomon), m 1..4 */
};

#define RAID_MAX_MEMBERS      32
#define RAID_MAX_PARITY       4
#define RAID_DEFAULT_CHUNK    (512u * 1024)   /* md's default */
#define RAID_MIN_CHUNK        4096u
#define RAID_MAX_CHUNK        (64u * 1024 * 1024)
#define RAID_NAME_MAX         32              /* bytes stored, NUL not counted */
#define RAID_SB_OFFSET        4096u           /* superblock: 4 KiB at 4 KiB */
#define RAID_SB_SIZE          4096u
#define RAID_DATA_OFFSET      (1024u * 1024)  /* data starts at 1 MiB */
#define RAID_BITMAP_OFFSET    8192u           /* write-intent bitmap: 4 KiB at 8 KiB */
#define RAID_BITMAP_SIZE      4096u
#define RAID_BITMAP_MAX_BITS  ((RAID_BITMAP_SIZE - 64 - 4) * 8)
#define RAID_BITMAP_REGION    (64u << 20)     /* default region per bit (md's 64M) */
#define RAID_META_END         (64u * 1024)    /* data never starts below this */
/* 2: may carry a write-intent bitmap; 3: grown (reshape fields, data below 1 MiB) */
#define RAID_SB_VERSION       3
#define RAID_RESHAPE_NONE     UINT64_MAX

struct raid_params {
  enum raid_level level;
  unsigned k, m;           /* RAID_LEVEL_EC only (k+m must equal n); derived for others */
  uint32_t chunk_bytes;    /* 0 = RAID_DEFAULT_CHUNK; power of 2, 4 KiB..64 MiB */
  const char *name;        /* array name, at most RAID_NAME_MAX bytes; NULL = "" */
  unsigned flags;          /* RAID_CREATE_* */
  uint64_t bitmap_region;  /* bytes of each member per bitmap bit; 0 = RAID_BITMAP_REGION */
  /* where the data starts on each member; 0 = RAID_DATA_OFFSET.  Each grow
   * (raid_grow) moves it down one chunk: room for more grows. */
  uint64_t data_offset;
};
/* The members are known consistent (e.g. all zeros): skip the initial
 * resync.  Without it, parity (and mirror copies) of a new array are
 * rebuilt by raid_resync; until then partial writes use reconstruct-write
 * over whole stripes, so every stripe written is consistent. */
#define RAID_CREATE_ASSUME_CLEAN 1u
/* No write-intent bitmap: a member that comes back is rebuilt in full. */
#define RAID_CREATE_NO_BITMAP 2u
/* raid5: the partial parity log (md's consistency policy "ppl"): a crash with a member
 * missing (a dirty degraded start) loses no byte the crash did not write; the array
 * keeps its write-intent bitmap too.  Partial-stripe writes cost a log write first. */
#define RAID_CREATE_PPL 4u

/* ---- Logging ------------------------------------------------------------ */

enum raid_log_level { RAID_LOG_ERROR = 0, RAID_LOG_WARN, RAID_LOG_INFO, RAID_LOG_DEBUG };
typedef void raid_log_fn (void *opaque, int level, const char *msg);

/* ---- Superblock examination --------------------------------------------- */

enum raid_sb_state {
  RAID_SB_NONE,       /* no aoeraid magic: blank or something else */
  RAID_SB_OK,
  RAID_SB_CORRUPT,    /* magic present, crc32c wrong or fields impossible */
  RAID_SB_NEWER,      /* format version newer than this program */
  RAID_SB_IOERR,      /* the superblock could not be read */
};

/* The role of a slot (a member position in the layout). */
enum raid_role_state {
  RAID_ROLE_ACTIVE = 0,
  RAID_ROLE_SPARE = 1,
  RAID_ROLE_FAULTY = 2,
  RAID_ROLE_MISSING = 3,
  RAID_ROLE_RECOVERING = 4,   /* a replacement being rebuilt (md: recovery_offset) */
};
/* raid_sb_summary.role of a spare: a member of the array outside the layout,
 * waiting to replace a faulty or missing one. */
#define RAID_SB_ROLE_SPARE 0xffffu
#define RAID_MAX_SPARES    8
/* Members the admin removed that the superblocks remember (oldest forgotten first). */
#define RAID_MAX_REMOVED   16
/* Members the admin failed that the superblocks remember (oldest forgotten first). */
#define RAID_MAX_FAILED    16

struct raid_sb_summary {
  enum raid_sb_state state;
  uint32_t version;
  uint8_t array_uuid[16];
  uint8_t member_uuid[16];
  char name[RAID_NAME_MAX + 1];
  uint64_t ctime;             /* seconds since the epoch */
  enum raid_level level;
  unsigned k, m;              /* data and parity chunks per stripe (mirrors: k=1) */
  unsigned members;           /* raid_disks */
  unsigned role;              /* this member's slot, or RAID_SB_ROLE_SPARE */
  uint32_t chunk_bytes;
  uint64_t array_size;        /* bytes exported */
  uint64_t data_offset, data_size;   /* per member, bytes */
  uint64_t events;
  int clean;
  uint64_t recovery_offset;   /* units of the RECOVERING slot rebuilt; UINT64_MAX = none */
  /* units (stripes; chunks for mirrors) in sync of resync_units, UINT64_MAX = all;
   * resync_after_crash: that resync follows a crash (a degraded start wants force) */
  uint64_t resync_offset, resync_units;
  int resync_after_crash;
  uint64_t reshape_position;  /* array bytes moved to the new layout; RAID_RESHAPE_NONE */
  enum raid_role_state roles[RAID_MAX_MEMBERS];
  uint8_t slot_uuid[RAID_MAX_MEMBERS][16];   /* the member each slot holds, by its uuid */
  /* a replace in place (md: a replacement) the array records: the slot replaced (-1:
   * none), units copied of replace_units; replacement: this member is the new one (its
   * role says spare, as older aoeraid reads it) */
  int replace_slot;
  uint64_t replace_offset, replace_units;
  int replacement;
  /* the slots whose member is write-mostly (bit i: slot i; raid_set_writemostly) */
  uint32_t writemostly;
  /* the members the admin removed (md: a removed device stays removed), oldest first */
  unsigned removed;
  uint8_t removed_uuid[RAID_MAX_REMOVED][16];
  /* the members the admin failed (md: a failed device stays out after a reassembly),
   * oldest first: left out until an explicit add */
  unsigned failed;
  uint8_t failed_uuid[RAID_MAX_FAILED][16];
  int ppl;                    /* the array keeps a partial parity log (RAID_CREATE_PPL) */
  /* this member holds a sound write-intent bitmap with no bit set (no write under way, every
   * region in sync: raid_write_hole); 0 without one, mid-reshape, or one that cannot be
   * read or is damaged */
  int bitmap_clean;
  char problem[128];          /* RAID_SB_CORRUPT: what is wrong ("bad crc32c", a field) */
};

/* Read one member's superblock without assembling.  Returns 0 when the
 * superblock could be read (out->state says what it holds), -errno on I/O
 * failure (out->state = RAID_SB_IOERR). */
int raid_examine (struct raid_member *m, struct raid_sb_summary *out);
/* aoeraid's metadata area on a member: [RAID_META_START, RAID_META_END), the superblock,
 * the write-intent bitmap and the room after them; no format puts data below
 * RAID_META_END, nor anything of aoeraid's below RAID_META_START (the first 4 KiB are left
 * to whatever was there, as md 1.2 leaves them). */
#define RAID_META_START RAID_SB_OFFSET
/* Wipe one member's metadata area (md's --zero-superblock), durably: zeros over
 * [RAID_META_START, RAID_META_END), then a flush.  The member then carries no superblock
 * and no stale bitmap: a shelf the array is done with (removed) is blank, never found or
 * taken again as the array's; its data (from the data offset on) is untouched.  0, or
 * -errno when it could not be written. */
int raid_wipe (struct raid_member *m);
/* Why the removed member NAME is not blank and what to do, when raid_wipe failed with
 * ERRNUM (-errno): "its superblock could not be wiped (...): ...; ... wipe it with '...'",
 * one line in BUF (returned).  RECORDED: the array lists it removed (it stays out), else a
 * start by name may find it again.  The one wording of the log lines and the answers of
 * every remove (raid_remove_spare, the plugin's remove of a failed member). */
const char *raid_wipe_failed_text (char *buf, size_t len, const char *name, int errnum,
                                   int recorded);
/* Was the member MEMBER_UUID removed by the admin, as the superblock REF records (1: it
 * is not taken back by itself, only by an explicit raid_add_member)? */
int raid_sb_removed (const struct raid_sb_summary *ref, const uint8_t member_uuid[16]);
/* Was the member MEMBER_UUID failed by the admin (raid_fail_member), as the superblock REF
 * records (1: assembly and auto-readd leave it out; an explicit raid_add_member takes it
 * back)? */
int raid_sb_failed (const struct raid_sb_summary *ref, const uint8_t member_uuid[16]);
/* Force's order among stale members (md's --assemble --force: the freshest first): does
 * it take back A (FAILED_A: failed by the admin, EVENTS_A) before B?  One the admin did
 * not fail goes first, then the one with more events.  Assembly (force_stale) and
 * examine's force command both follow it, one member at a time until the array starts. */
int raid_force_prefers (int failed_a, uint64_t events_a, int failed_b, uint64_t events_b);
/* Could the array REF records start with the slots PRESENT[i] != 0 served (its members
 * missing from the others)?  1 also when REF is mid-reshape (assembly judges both
 * layouts).  For examine: a failed array, which only force starts. */
int raid_sb_startable (const struct raid_sb_summary *ref, const uint8_t *present);
/* Must a degraded start of a parity array have force (md: a dirty degraded array is not
 * started without --force), as assembly rules: parity a crash tore (the write hole)?
 * NONE: no (clean, nothing missing, no parity); PPL: no, the partial parity log makes
 * the torn stripes' parity again (dirty); DIRTY: yes, dirty without the log (or
 * read-only: the log is not replayed); CRASH_RESYNC: yes, the resync after a crash did not
 * end (the log does not know an earlier crash's stripes); BITMAP: no, dirty or the resync
 * after a crash not ended, but the write-intent bitmap holds no dirty bit: no write was
 * under way at the crash and every region is in sync, so no stripe can be torn. */
enum raid_write_hole { RAID_WRITE_HOLE_NONE, RAID_WRITE_HOLE_PPL, RAID_WRITE_HOLE_DIRTY,
                       RAID_WRITE_HOLE_CRASH_RESYNC, RAID_WRITE_HOLE_BITMAP };
/* The rule of a degraded parity array: CLEAN, the resync after a crash not ended
 * (CRASH_RESYNC), the log kept (PPL), a READONLY start, BITMAP_CLEAN: the freshest
 * member's write-intent bitmap is sound and has no bit set (0 without a bitmap, or mid-
 * reshape, when none is kept). */
enum raid_write_hole raid_write_hole (int clean, int crash_resync, int ppl, int readonly,
                                      int bitmap_clean);
/* The same of the array REF records started (read-write) with the slots PRESENT[i] != 0
 * served (as raid_sb_startable), BITMAP_CLEAN: the bitmaps of the members serving them
 * (raid_sb_summary.bitmap_clean) all are: for examine, whose start command then needs
 * force. */
enum raid_write_hole raid_sb_write_hole (const struct raid_sb_summary *ref,
                                         const uint8_t *present, int bitmap_clean);
/* The command that wipes a member, for messages: a printf format taking its name.  IFACE
 * is left for the admin: raid/ knows no interface. */
#define RAID_ZERO_SB_HINT "aoeraid zero-superblock -i IFACE %s"
/* What a member's metadata area holds (reads only). */
enum raid_meta_state {
  RAID_META_BLANK,      /* all zeros */
  RAID_META_AOERAID,    /* a superblock's magic at its place, sound or not, or a bitmap's
                         * with nothing else in the area (a stale bitmap alone) */
  RAID_META_OTHER,      /* other bytes: a filesystem, another RAID's metadata ... */
};
/* 0 with *OUT, or -errno when it cannot be read. */
int raid_meta_probe (struct raid_member *m, enum raid_meta_state *out);

/* ---- Scan (md's --assemble --scan) -------------------------------------- */

/* An array uuid as raid_uuid_format writes it (8-4-4-4-12 hex digits, either case; the
 * dashes may be left out) into OUT.  0, or -1 when S is not one. */
int raid_uuid_parse (const char *s, uint8_t out[16]);

/* What a scan makes of one examined superblock: not the array's (blank, unreadable,
 * damaged, another array), a member (its superblock names a slot: assembly judges it
 * fresh or stale), a spare (a spare, or the new member of a replace), a former member
 * (older than the freshest picked superblock, which records another member in each slot
 * it could hold: replaced, or failed and rebuilt onto a spare; assembly would leave it
 * out, so the scan leaves it to its next owner), or a member or spare the admin removed
 * (the freshest picked superblock lists it: raid_sb_removed; only an explicit add takes
 * it again). */
enum raid_scan_pick { RAID_SCAN_OTHER = 0, RAID_SCAN_MEMBER, RAID_SCAN_SPARE,
                      RAID_SCAN_FORMER, RAID_SCAN_REMOVED };

/* Pick, from the superblocks SB[0..N) of every shelf found, those of the array named NAME
 * or with uuid UUID (either may be NULL, not both) into PICK[0..N).  Returns how many were
 * picked as members or spares, 0 when none holds that array, or -1 with one line in ERR
 * when two arrays (two uuids) carry NAME, or when the array of UUID is not named NAME. */
int raid_scan_pick (const struct raid_sb_summary *sb, size_t n, const char *name,
                    const uint8_t *uuid, enum raid_scan_pick *pick, char *err,
                    size_t errlen);

/* Has the scan found all it must wait for: the member the freshest picked superblock
 * records in each active or recovering slot, and the new member of a replace in progress?
 * (Spares are recorded nowhere: a scan cannot know them all.) */
int raid_scan_complete (const struct raid_sb_summary *sb, size_t n,
                        const enum raid_scan_pick *pick);

/* The slot assembly puts SB's member in, as the freshest superblock REF records it: the
 * one SB names, or, for a spare one event behind REF (an update cut short, md's rule),
 * the active slot REF records for its uuid (a grow made it a member there); else
 * RAID_SB_ROLE_SPARE for a spare.  Assembly (raid/array.c, recorded_role), examine and a
 * start by shelves= all go by it. */
unsigned raid_sb_assembly_role (const struct raid_sb_summary *ref,
                                const struct raid_sb_summary *sb);

/* Is SB the current member of a working slot of the array whose freshest superblock is
 * REF: the member REF records in an active or recovering slot (by member uuid) of its
 * raid_sb_assembly_role, at most one event behind (an update cut short), neither removed
 * nor failed by the admin?
 * Assembly takes such a member as fresh; started without it, the array makes it stale.
 * (md: a working device an explicit device list left out.) */
int raid_sb_current_member (const struct raid_sb_summary *ref,
                            const struct raid_sb_summary *sb);

/* ---- Arrays ------------------------------------------------------------- */

struct raid_array;

/* Validate params, write fresh superblocks to all n members (in slot
 * order), return the running array.  On failure NULL and ONE clear line
 * in err. */
struct raid_array *raid_create (const struct raid_params *params,
                                struct raid_member *members, size_t n,
                                raid_log_fn *log, void *log_opaque,
                                char *err, size_t errlen);

/* Assemble from whatever members were found, in any order.  Members with
 * older events (or recorded faulty) are reported as stale and left out (those
 * the admin removed or failed, as such: raid_sb_removed, raid_sb_failed);
 * members whose superblock cannot be read are left out.  Refuses (NULL, one
 * line in err naming the member) when a given member is blank, corrupt,
 * foreign (another array's uuid) or from a newer format, when too few fresh
 * members remain (naming the missing slots), or when a parity array is
 * dirty and degraded (the write hole).  RAID_ASSEMBLE_FORCE leaves the unusable
 * members out instead of refusing, takes back stale members the array cannot start
 * without (freshest first, those the admin failed last: md's --force), and starts a
 * dirty degraded array (with a warning).  A successful assembly marks the array dirty until raid_close.
 * RAID_ASSEMBLE_READONLY (md's --readonly): nothing is ever written to a member,
 * not even a superblock; writes fail with -EROFS, flushes do nothing, and
 * everything that would change the array (resync, recovery, reshape, check,
 * replace, add, fail, remove, grow) is refused with -EROFS. */
#define RAID_ASSEMBLE_FORCE 1u
#define RAID_ASSEMBLE_READONLY 2u
struct raid_array *raid_assemble (struct raid_member *members, size_t n, unsigned flags,
                                  raid_log_fn *log, void *log_opaque,
                                  char *err, size_t errlen);

/* Blocking I/O.  offset and len multiples of 512, inside raid_size.
 * Return 0 or -errno (-EINVAL bad range, -EIO data unavailable: the log
 * names the missing members).  raid_write returns after every member the
 * layout needs has acknowledged; a member that failed (or, being down,
 * missed) its part is marked faulty in the superblocks first.  With
 * RAID_WRITE_FUA it then flushes every working member. */
#define RAID_WRITE_FUA 1u
int raid_read (struct raid_array *a, void *buf, uint32_t len, uint64_t offset);
int raid_write (struct raid_array *a, const void *buf, uint32_t len, uint64_t offset,
                unsigned flags);
int raid_flush (struct raid_array *a);   /* flush every working member, wait for all */

/* ---- Spares and recovery (md: spare, recovery, recovery_offset) -------- */

/* Add a member to a running array as a spare: a blank member, a spare of
 * this array, or one of its members gone stale (faulty, left out at
 * assembly).  Its superblock becomes a spare's and events are bumped on
 * every member.  Refuses (-errno, one line in err) a member that is too
 * small, in use by the array, or holds another array's (or an unreadable,
 * corrupt, newer) superblock; at most RAID_MAX_SPARES spares.  The caller
 * keeps the member open until raid_close.  A member the admin removed is
 * added as a new one (rebuilt in full, never re-added from the bitmap) and
 * leaves the removed list.  Added, err holds what happens, one line, as the log
 * says it: "re-adding NAME to slot N from the write-intent bitmap (...)" (a member
 * back to the slot it left, md's re-add), else "added NAME as a spare". */
int raid_add_member (struct raid_array *a, struct raid_member *m, char *err, size_t errlen);
/* raid_add_member with RAID_ADD_* flags.  RAID_ADD_INCREMENTAL: the member came
 * back by itself (md's --incremental, aoeraid's auto-readd), nobody asked for
 * it: one the admin removed or failed is refused (-EPERM, one line in err). */
#define RAID_ADD_INCREMENTAL 1u
/* 1 when SB (raid_examine's) is this array's, of a member the admin removed: an
 * incremental add would refuse it. */
int raid_member_removed (struct raid_array *a, const struct raid_sb_summary *sb);
/* 1 when SB (raid_examine's) is this array's, of a member the admin failed (raid_fail_member,
 * recorded in the superblocks, so also before a restart): an incremental add would refuse
 * it. */
int raid_member_failed (struct raid_array *a, const struct raid_sb_summary *sb);
int raid_add_member_flags (struct raid_array *a, struct raid_member *m, unsigned flags,
                           char *err, size_t errlen);
/* md's --remove of a member the array no longer uses: the faulty member NAME
 * of a slot (its slot stays faulty until a spare takes it), a failed new
 * member of a replace, or one that left the array (its slot taken by a spare
 * or a replace, or left out at assembly; the last RAID_MAX_SPARES such are
 * known).  The superblocks record its uuid as removed (raid_sb_removed):
 * whatever its own superblock still says, it is never taken back by itself.
 * -EBUSY (one line in err) for a working member or a spare, -ENOENT when
 * NAME is none of these; -EROFS read-only. */
int raid_remove_member (struct raid_array *a, const char *name, char *err, size_t errlen);
/* The member of uuid UUID, recorded removed (raid_remove_member), was wiped since
 * (raid_wipe): nothing of it can come back, so the list forgets it (its 16 entries are
 * for the members whose superblock could not be wiped).  Call after the wipe: a crash
 * between the two leaves it remembered, which is safe. */
void raid_removed_wiped (struct raid_array *a, const uint8_t uuid[16]);
/* md's --fail: mark the working member named NAME faulty, as if it had
 * failed (a spare then takes its slot).  The superblocks list it failed (raid_sb_failed):
 * a later assembly leaves it out, an incremental add refuses it (-EPERM), force takes it
 * back only when the array cannot start without it; raid_add_member takes it back (off
 * the list; re-added from the bitmap when it can be), raid_remove_member moves it to the
 * removed list.  NAME may be the new member of a
 * replace: the replace stops, as md's does when its replacement fails, and
 * the new member is dropped.  Refuses (-errno, one line in err)
 * a name that is no working member (-ENOENT) and a member the array cannot
 * do without (-EBUSY, as md). */
int raid_fail_member (struct raid_array *a, const char *name, char *err, size_t errlen);
/* The shelf of NAME, a working member or a spare, went down and answers again, and SB
 * is the superblock read from it now (raid_examine): is the disk behind the name still
 * that member's (its member uuid)?  1: it is.  0: another disk is there, and WHY (one
 * line) says what it holds and what to do; the caller sends it no I/O.  Another array's
 * or a blank disk fails a working member (as an I/O error does); another member's of this
 * array (shelves swapped) is left as it is, as if down (as a down member, it is recorded
 * faulty by the next write, a clean stop's too, and force takes it back).  -ENOENT: NAME
 * is neither. */
int raid_member_returned (struct raid_array *a, const char *name,
                          const struct raid_sb_summary *sb, char *why, size_t len);
/* md's --remove of a spare: the array forgets it and wipes its superblock (the caller
 * keeps the member open until raid_close, as every member it gave the array: a status
 * view published while it served in a slot may still point at it); one that cannot be wiped (its shelf away) is
 * recorded removed as raid_remove_member does, and ERR says so (it is left as it was
 * when the spare was wiped).  -ENOENT (one line in err) when NAME is not a spare. */
int raid_remove_spare (struct raid_array *a, const char *name, char *err, size_t errlen);
/* md's writemostly (mdadm --write-mostly, dev-N/state writemostly): ON 1 makes the
 * member NAME of a slot write-mostly, 0 makes it a normal member again.  Reads then go to
 * the other copies while any of them can serve the chunk (a write-mostly copy serves
 * only when none other is usable, and read retries fall back to it); writes, resync,
 * recovery and check use it as always.  Recorded in the superblocks (events bumped): it
 * survives a restart.  The flag is the member's: a spare or a replace that takes its slot
 * starts without it, the member itself re-added keeps it.  Refuses (-errno, one line in
 * err): a level without copies to choose from (-EINVAL: raid0, the parity levels), NAME
 * no member of a slot (-ENOENT), a fenced array (-EROFS).  A read-only array takes it in
 * memory only.  Setting it as it is already is 0, with nothing written. */
int raid_set_writemostly (struct raid_array *a, const char *name, int on, char *err,
                          size_t errlen);
/* 1 when raid_recover has work: a recovery to resume, or a faulty or
 * missing slot and a spare to put in it (not the slot being replaced while its new
 * member works: raid_replace hands the slot to that member). */
int raid_recovery_pending (struct raid_array *a);
/* The recovery raid_recovery_pending reports cannot make progress for now (it failed,
 * and its caller backs off before the next try): for MS milliseconds from now a replace
 * does not stop at its checkpoint for it and copies on.  Once they are over, or at once
 * with MS 0 (a member added or back), a running replace steps aside for it again at its
 * next window (md: recovery goes before a replacement), and the caller's next try runs. */
void raid_recovery_hold (struct raid_array *a, unsigned ms);
/* 1 while the hold of raid_recovery_hold lasts. */
int raid_recovery_held (struct raid_array *a);
/* Rebuild one slot: resume the recovery in progress, or move the first
 * spare into the first faulty or missing slot (role RECOVERING) and rebuild
 * its contents from the other members (parity decode, or a mirror copy),
 * one unit (stripe; mirrors: chunk) at a time under its stripe lock,
 * checkpointing recovery_offset in the superblocks.  Meanwhile writes go to
 * the new member too and reads of the part not yet rebuilt are served from
 * the others.  When done the slot is ACTIVE.  Blocking: run it in a
 * background thread.  0, -EAGAIN (nothing to do), -ECANCELED
 * (raid_resync_cancel; the position is saved), -EIO (the new member failed:
 * it is marked faulty; call again to use the next spare; or the array lost
 * too many members), -ENOMEM. */
int raid_recover (struct raid_array *a);

/* Make parity (mirror copies) consistent with the data over the whole
 * array, from the recorded resync point on: needed after create without
 * RAID_CREATE_ASSUME_CLEAN and after a dirty (crashed) assembly (see
 * raid_needs_resync).  Blocking: run it in a background thread; it works
 * beside normal I/O, one stripe locked at a time, and checkpoints its
 * position in the superblock.  Skipped (returns -EAGAIN) when degraded.
 * 0 or -errno. */
int raid_resync (struct raid_array *a);
int raid_needs_resync (struct raid_array *a);
/* Make a raid_resync or raid_recover running in another thread stop soon
 * (it returns -ECANCELED; its position is saved); later calls of either
 * return -ECANCELED at once.  Call before raid_close. */
void raid_resync_cancel (struct raid_array *a);
/* md's speed_limit_min and speed_limit_max, for resync and recovery alike,
 * in bytes per second of units rebuilt (the rate status shows): while other
 * I/O comes in, the work keeps under MIN (when set and below MAX), else
 * under MAX; 0 = no limit.  New arrays have no limits.  Any thread, any
 * time: a running resync or recovery follows within a tenth of a second. */
void raid_set_sync_speed (struct raid_array *a, uint64_t min_bps, uint64_t max_bps);
void raid_get_sync_speed (struct raid_array *a, uint64_t *min_bps, uint64_t *max_bps);
/* Clear the write-intent bitmap's bits that saw no write for a while, if
 * the array is whole and in sync.  Call every second or so from a
 * background thread; it does a pass every bitmap delay (5 s unless set). */
void raid_bitmap_tick (struct raid_array *a);
/* md's bitmap delay (mdadm --delay): the time between the clearing passes, MS
 * milliseconds (0: the default, RAID_BITMAP_DELAY_MS); a region's bit goes
 * after one to two of them without writes.  Any thread, any time. */
#define RAID_BITMAP_DELAY_MS 5000u
void raid_set_bitmap_delay (struct raid_array *a, unsigned ms);
/* The lines that can come once per request or member I/O (a stripe that cannot be
 * reconstructed, a member's read error ...) are limited: after the first 10 of an
 * outage, one line every 5 s says how many were left out.  Call every second or so: a
 * flood that stopped is summed up too (raid_close sums up the rest). */
void raid_log_tick (struct raid_array *a);

/* ---- Replacing a member in place (md: --replace) ------------------------ */

/* Start replacing the working member OLD with the spare WITH (NULL: the first
 * spare): the spare leaves the spare list, and from now on every data write
 * and flush of OLD's slot goes to it too.  raid_replace then copies the slot's
 * chunks while OLD keeps serving; the array never loses redundancy.  Refuses
 * (-errno, one line in err): OLD no working member, no such spare, a replace
 * or reshape running.  Saved in the superblocks: assembly resumes it where it was. */
int raid_replace_start (struct raid_array *a, const char *old, const char *with, char *err,
                        size_t errlen);
int raid_replace_pending (struct raid_array *a);
/* The copy, one unit at a time under its stripe lock, within the speed limits;
 * then the new member takes the slot and OLD leaves the array.  Blocking: run
 * it in a background thread.  0, -EAGAIN (nothing to replace, or a recovery of
 * another slot is due: raid_recovery_pending says so; the copy stops at its checkpoint,
 * the caller runs raid_recover, and raid_replace resumes from there after), -ECANCELED
 * (raid_resync_cancel; raid_replace resumes), -EIO (OLD or the new member
 * failed: the replace is given up, the new member a spare again unless it
 * failed), -ENOMEM. */
int raid_replace (struct raid_array *a);

/* ---- Scrubbing (md: sync_action check and repair, mismatch_cnt) -------- */

enum raid_check_action { RAID_CHECK_NONE = 0, RAID_CHECK = 1, RAID_CHECK_REPAIR = 2 };
/* Read every unit (stripe; mirrors: chunk) of a whole array that is in sync
 * on every member and compare its redundancy (parity, mirror copies) with
 * its data, one unit at a time under its stripe lock, beside normal I/O and
 * within the speed limits.  A unit that does not match is a mismatch (md's
 * mismatch_cnt, counted in units); RAID_CHECK_REPAIR rewrites its
 * redundancy from its data (mirrors: from the first copy).  In both modes a
 * member chunk that fails to read is rebuilt from the others and written
 * back, as md does.  Blocking: run it in a background thread.  0 when it
 * went through, -EAGAIN (not whole, not in sync, a reshape runs, no
 * redundancy: logged), -ECANCELED (raid_check_stop, raid_resync_cancel),
 * -EIO (a unit could not be read from enough members), -ENOMEM. */
int raid_check (struct raid_array *a, enum raid_check_action action);
/* Make a running raid_check return -ECANCELED soon (md: idle); called
 * before it starts, it stops the next one at once. */
void raid_check_stop (struct raid_array *a);
/* Why raid_check would refuse to start now (one line), NULL when it would not. */
const char *raid_check_refusal (struct raid_array *a);

/* ---- Growing (md: --grow, reshape) ------------------------------------- */

/* Grow the array onto the spares named NAMES[0..n-1] (as their ops->name
 * gives them), at the level NEW_LEVEL (the array's own level to keep it).
 * RAID1 to RAID1 adds mirrors: the new slots start missing and recovery puts
 * the spares in them.  Every other grow is a reshape: the spares become
 * members at once and raid_reshape moves the data, stripe by stripe, into
 * the new layout one chunk lower on every member (md's reshape with a new
 * data offset: no backup file), while the array serves I/O; the new space
 * appears (raid_size) when it is done, and is resynced after.  Any level
 * may become any other whose data chunks per row are at least as many
 * (raid1 of 2 -> raid5 of 3, raid5 -> raid6 with one more member, raid0 ->
 * raid5); ec keeps its m.  Refuses (-errno, one line in err): a reshape,
 * recovery or resync still to run, a degraded array, a name that is not a
 * spare, too many members, no room below the data, a level that would need
 * fewer data chunks per row. */
int raid_grow (struct raid_array *a, const char *const *names, unsigned n,
               enum raid_level new_level, char *err, size_t errlen);
/* What raid_grow would refuse before it looks at the spares (the array's state, the
 * level), for N shelves still to be added as spares: 0, or -errno with one line in err.
 * A caller that adds the shelves first asks this before, so a refusal adds nothing. */
int raid_grow_check (struct raid_array *a, unsigned n, enum raid_level new_level, char *err,
                     size_t errlen);
/* Use bigger members (md: --grow --size): raise the member data size the superblocks
 * record to DATA_SIZE bytes per member (rounded down to whole chunks; 0 = max: the most
 * every active member has room for past the data offset, as raid_create computes it),
 * and with it the array size (raid_size: clients that connect after see it).  The data
 * stays in place; on the redundant levels the new space is not in sync: the resync
 * point moves to the old end and the write-intent bitmap holds the new regions dirty
 * (its regions grow when its bits would not fit), so raid_resync covers the new space
 * only.  Spares too small for the new size stay spares (a warning) but never take a
 * slot.  Refuses (-errno, one line in err): read-only (-EROFS); a reshape, replace,
 * recovery, resync or check to run or running, a degraded array (grow_unready words it
 * alike for every grow); a size below the
 * current one (no shrinking), above what the smallest member holds, or no member
 * bigger than the data it holds now ("nothing to grow").  A member whose shelf grew in
 * place counts with the size its backend reports (ops->size). */
int raid_grow_size (struct raid_array *a, uint64_t data_size, char *err, size_t errlen);
/* Add or remove the write-intent bitmap of a running array (md: --grow
 * --bitmap=internal|none): REGION_BYTES per bit (as raid_params.bitmap_region, rounded
 * up to whole chunks) adds one, every bit clean; 0 removes it (a member that comes back
 * is then rebuilt in full, a crash resyncs the whole array).  Crash-safe: the new block
 * is on every member before the superblocks name it; the superblocks stop naming the old
 * one before it is forgotten.  A degraded array takes the change (md too), but not while
 * a slot is rebuilt: its missing member, when it returns, is rebuilt in full either way
 * (RAID_BITMAP_*_DEGRADED say so: a bitmap added now never saw what it missed, its
 * events are below the new bitmap's); a recovery asked meanwhile waits for its end
 * (raid_recover: -EAGAIN).  Refuses (-errno, one line in err): read-only or
 * fenced (-EROFS); a level without redundancy (raid0); a reshape, replace, recovery,
 * resync or check to run or running; a bitmap already there (its region size cannot
 * change: remove it, then add one), none to remove.  On success ERR holds the one-line
 * outcome (its log line without the array's name), for the caller's answer. */
int raid_grow_bitmap (struct raid_array *a, uint64_t region_bytes, char *err, size_t errlen);
/* What a bitmap change on a degraded array costs (its log line and the answer). */
#define RAID_BITMAP_REMOVED_DEGRADED "the array is degraded: its missing member too, when " \
  "it returns, is rebuilt in full (no bitmap to re-add it from)"
#define RAID_BITMAP_ADDED_DEGRADED "the array is degraded: its missing member, when it " \
  "returns, is still rebuilt in full (the new bitmap never saw the writes it missed)"
/* 1 while a reshape has data left to move. */
int raid_reshape_pending (struct raid_array *a);
/* Move the data into the new layout from the recorded position on (after a
 * restart too), recording the position in the superblocks as it must
 * (before a step would overwrite old data not yet recorded as moved).
 * Blocking: run it in a background thread.  0, -EAGAIN (no reshape),
 * -ECANCELED (raid_resync_cancel; position saved), -EIO (lost too many
 * members; position saved), -ENOMEM. */
int raid_reshape (struct raid_array *a);

uint64_t raid_size (struct raid_array *a);          /* bytes exported */
/* Data bytes in one full stripe: k chunks (parity levels), n/copies chunks
 * (near levels; one chunk when copies does not divide n). */
uint32_t raid_stripe_bytes (struct raid_array *a);
uint32_t raid_chunk_bytes (struct raid_array *a);

enum raid_array_state { RAID_STATE_CLEAN, RAID_STATE_DEGRADED, RAID_STATE_FAILED };

struct raid_member_status {
  enum raid_role_state role;     /* ACTIVE, RECOVERING, FAULTY (failed, or down now) or MISSING */
  char name[64];                 /* "" when missing */
  int failed;                    /* FAULTY because the array failed it (else: down now) */
  int stale;                     /* MISSING because assembly left its member out as stale
                                  * (it missed updates; a re-add rebuilds it) */
  char stale_name[64];           /* that member's shelf, when stale */
  int writemostly;               /* raid_set_writemostly (md: "(W)") */
  uint64_t read_errors, write_errors;
};

/* The background runs, each told as RebuildStarted ... RebuildFinished. */
enum raid_run_kind { RAID_RUN_RECOVERY, RAID_RUN_RESYNC, RAID_RUN_RESHAPE, RAID_RUN_CHECK,
                     RAID_RUN_REPAIR, RAID_RUN_REPLACE, RAID_RUN_KINDS };
const char *raid_run_name (enum raid_run_kind kind);   /* "recovery", "resync" ... */

/* What the engine did, noted the moment it did it, so that the events of a change that
 * came and went between two looks at raid_status are still told, once each. */
enum raid_note_kind {
  RAID_NOTE_FAIL,               /* a member or spare failed (md: Fail, FailSpare) */
  RAID_NOTE_RUN_START,          /* a run began working */
  RAID_NOTE_RUN_END,            /* a run ended, whole or not */
};
struct raid_note {
  enum raid_note_kind kind;
  enum raid_run_kind run;       /* RUN_START, RUN_END */
  int slot;                     /* FAIL: the slot (a replacement: the slot it replaced;
                                 * a spare waiting: -1) */
  int spare;                    /* FAIL: a spare being rebuilt or waiting, or a replacement */
  char name[64];                /* FAIL: the member; RUN_END: the one it made active, or "" */
  uint64_t mismatches;          /* RUN_END of a check or repair */
};
#define RAID_NOTES 16

struct raid_status {
  enum raid_level level;
  enum raid_array_state state;
  unsigned k, m, members;
  uint32_t chunk_bytes;
  uint64_t size;
  uint8_t uuid[16];
  char name[RAID_NAME_MAX + 1];
  uint64_t events;
  int readonly;                  /* RAID_ASSEMBLE_READONLY */
  uint64_t resync_offset;        /* stripes (chunks for mirrors) in sync; UINT64_MAX = all */
  uint64_t resync_units;         /* stripes (chunks for mirrors) in the array */
  int resync_after_crash;        /* the pending resync follows a crash (not a creation) */
  struct raid_member_status member[RAID_MAX_MEMBERS];
  int recovery_slot;             /* slot being rebuilt, -1 none */
  int recovery_held;             /* its recovery is held off (raid_recovery_held): a replace
                                  * copies on instead of waiting for it */
  uint64_t recovery_offset;      /* units of it rebuilt, of resync_units */
  unsigned spares;
  char spare[RAID_MAX_SPARES][64];
  /* members out of the array that the admin failed (raid_fail_member; the superblocks list
   * them): left out at assembly, or whose slot a spare took since */
  unsigned admin_failed;
  char admin_failed_name[RAID_MAX_SPARES][64];
  /* the other former members the array let go of (a spare's recovery or a replace took
   * their slot), whose shelf the caller may still hold: not failed or removed by the
   * admin, nor back in the array */
  unsigned let_go;
  char let_go_name[RAID_MAX_SPARES][64];
  uint64_t sync_speed_min, sync_speed_max;   /* raid_set_sync_speed; 0 = none */
  uint64_t bitmap_bits, bitmap_dirty;        /* 0 bits: no write-intent bitmap */
  uint64_t bitmap_region;                    /* bytes of each member per bit */
  unsigned bitmap_delay_ms;                  /* between clearing passes (md's --delay) */
  /* a reshape: level and members above reshape_position (the old layout),
   * bytes moved of reshape_size; reshape_position RAID_RESHAPE_NONE = none */
  enum raid_level reshape_from_level;
  unsigned reshape_from_members;
  uint64_t reshape_position, reshape_size;
  /* the write-intent bitmap, off during a reshape, comes back after it with regions of
   * this many bytes (0: the array had none) */
  uint64_t reshape_bitmap_region;
  /* raid_check: the running one, or the last (RAID_CHECK_NONE: none yet);
   * its position in units of resync_units, and what it found */
  enum raid_check_action check_action;
  int check_running, check_complete;
  uint64_t check_offset, check_mismatches, check_read_errors;
  /* raid_replace: the slot replaced (-1: none), units copied of resync_units,
   * the new member */
  int replace_slot;
  uint64_t replace_offset;
  char replace_name[64];
  int replace_failed;            /* the new member failed: the replace stops */
  /* Counters that never go back while the array runs.  notes: how many the engine has
   * noted; note n (from 0) is note[n % RAID_NOTES] while it is one of the last
   * RAID_NOTES.  Runs of each kind begun and ended (one of a kind runs at a time). */
  uint64_t notes;
  struct raid_note note[RAID_NOTES];
  uint64_t runs_started[RAID_RUN_KINDS], runs_ended[RAID_RUN_KINDS];
  /* Bytes per second the run of each kind moved over the last half minute, as md's
   * sync speed: what the speed limits charge (lock units times the chunk size; regions
   * a bitmap left clean are passed, not moved), once paid for.  Since the kind's run
   * last began; < 0: not known yet (none began, or a moment ago). */
  double run_rate[RAID_RUN_KINDS];
  uint64_t run_moved[RAID_RUN_KINDS];   /* the bytes they counted, all runs of the kind */
  char fenced_by[64];            /* "": serving; else the member found taken (RAID_EFENCED) */
  int ppl;                       /* the partial parity log is kept (RAID_CREATE_PPL) */
  uint64_t ppl_log_bytes;        /* its ring on each member */
};
/* Never waits for member I/O: what changes with the superblock is as the last superblock
 * change published it (that change shown while the members still take it), the bitmap's
 * dirty count as last counted while its block is being written; the rest is read live.
 * -1 before the array has published anything. */
int raid_status (struct raid_array *a, struct raid_status *st);
/* md's --consistency-policy on a running array: PPL 1 keeps the partial parity log
 * (raid5, room for its ring between the metadata and the data, no reshape, no resync
 * still to run), 0 drops it (the write-intent bitmap and resync stay).  Waits for the
 * writes in flight.  0, or -errno with a line in err. */
int raid_set_ppl (struct raid_array *a, int ppl, char *err, size_t errlen);
/* Would the array still serve without the members GONE (OPAQUE, member) says 1 of, on
 * top of those already missing (failed, absent, recovering, or not healthy)?  Reads the
 * members' state with no lock (none that member I/O or a superblock write may hold): for
 * a caller that must not wait, such as an initiator deciding under its own lock whether a
 * silent member may be declared down.  GONE NULL: does the array serve now? */
typedef int raid_member_gone_fn (void *opaque, const struct raid_member *m);
int raid_survives_without (struct raid_array *a, raid_member_gone_fn *gone, void *opaque);
/* The member uuid of the slot whose member IS (OPAQUE, member) says 1 of, copied to UUID:
 * 1, or 0 when no slot's member is.  Lock-free as raid_survives_without (a slot's uuid
 * changes only when a spare takes it): for the initiator judging, under its own lock,
 * whether a held shelf answering again has the member's disk. */
int raid_slot_member_uuid (struct raid_array *a, raid_member_gone_fn *is, void *opaque,
                           uint8_t uuid[16]);
/* A block of LEN bytes read at RAID_SB_OFFSET: 1 when it is a valid aoeraid superblock
 * (RAID_SB_OK), its member uuid copied to UUID; 0 otherwise (blank, another format,
 * corrupt, newer).  Pure: no array, no I/O. */
int raid_sb_member_uuid (const uint8_t *block, size_t len, uint8_t uuid[16]);
/* 1 once the array is fenced (RAID_EFENCED): cheap, for paths that ask often. */
int raid_fenced (struct raid_array *a);

/* What changed from WAS to NOW, named as mdadm --monitor names it (raid/events.c):
 * Fail, FailSpare, SpareActive, DegradedArray, RebuildStarted, Rebuild20 ... Rebuild80,
 * RebuildFinished, and aoeraid's own: ShelfDown and ShelfUp (a member whose
 * backend stopped or started answering before the array failed it), FailedArray (the
 * array lost too many members to serve), Fenced (another host took MEMBER over:
 * RAID_EFENCED).  DETAIL is the member for member events and
 * the run (recovery, resync, reshape, check, repair, replace) for the Rebuild ones, NULL
 * for the array's; EXTRA is "mismatches=N" when a check or repair finishes, else NULL.
 * Failures and the starts and ends of runs come from NOW's notes taken since WAS (each
 * told once, in order, even one that came and went between the two), the rest from
 * comparing the two.  WAS NULL: the array was just started (DegradedArray, FailedArray,
 * runs going on). */
typedef void raid_event_fn (void *opaque, const char *event, const char *detail,
                            const char *extra);
void raid_status_events (const struct raid_status *was, const struct raid_status *now,
                         raid_event_fn *fn, void *opaque);

/* The server stops while members are held (their I/O waits for shelves that may come
 * back, and is about to fail): the array is closing, not losing members.  From now on a
 * member I/O that fails marks no member faulty, in memory or in any superblock, and
 * counts no disk error; every request fails with -EIO, those in flight too as they end
 * (what they did on the members is not known: no write is acknowledged that is not on
 * every member, no flush said durable), and a write in flight sends no data after its
 * bitmap bits or its log entry (which may have missed a held member, failing none: the
 * next start would not know the region); nothing that would change the array is taken
 * (-EROFS); background runs stop (as raid_resync_cancel).  raid_close then marks the
 * array clean where that is true: when no member missed a write or a superblock since,
 * on the members it reaches (one missing it is one event behind: the next start takes
 * it); else it writes no superblock, and the array stays as a crash leaves it (dirty:
 * the next start resyncs what the bitmap names, or replays the log; refused dirty and
 * degraded without force, as after a crash).  Any thread; before raid_close.  Returns
 * how many requests from above (raid_read/write/flush) were running then. */
unsigned raid_closing (struct raid_array *a);
/* Mark clean (unless failed), rewrite the superblocks, free.  Does not
 * close the members.  Cancel and join a running raid_resync first.  After raid_closing:
 * see there. */
void raid_close (struct raid_array *a);

const char *raid_level_name (enum raid_level level);   /* "raid5", "ec" ... */
const char *raid_check_action_name (enum raid_check_action action);   /* "check", "repair" */
void raid_uuid_format (const uint8_t uuid[16], char out[37]);

/* ---- In-memory members for tests (raid/mem-member.c) -------------------- */

struct raid_mem_member;
struct raid_mem_member *raid_mem_member_new (const char *name, uint64_t size);
void raid_mem_member_free (struct raid_mem_member *mm);
struct raid_member raid_mem_member (struct raid_mem_member *mm);
uint8_t *raid_mem_member_data (struct raid_mem_member *mm);   /* raw bytes */
/* Fault injection.  fail_reads/fail_writes: every such I/O fails with EIO.
 * down: healthy() returns 0 and all I/O fails.  bad range: reads touching
 * [offset, offset+len) fail until that range is rewritten (a bad sector). */
void raid_mem_member_fail (struct raid_mem_member *mm, int fail_reads, int fail_writes);
void raid_mem_member_set_down (struct raid_mem_member *mm, int down);
/* Another host took the member over: every I/O fails with RAID_EFENCED. */
void raid_mem_member_fence (struct raid_mem_member *mm, int fenced);
/* Go down after this many more I/Os (-1: never): a failure in mid-request. */
void raid_mem_member_fail_after (struct raid_mem_member *mm, int64_t ios);
void raid_mem_member_bad_range (struct raid_mem_member *mm, uint64_t offset, uint32_t len);
/* A power cut shared by members: each I/O takes one from *budget, and once
 * it is spent every I/O fails unapplied (NULL: no budget). */
void raid_mem_member_power (struct raid_mem_member *mm, int64_t *budget);
/* Sleep this long in every submit (to widen races in threaded tests). */
void raid_mem_member_delay (struct raid_mem_member *mm, unsigned usec);
/* Call FN (NULL: none) at the start of every submit, on the submitter's thread, before
 * the I/O is decided: a test's trigger at a given I/O.  Set it while no I/O runs. */
typedef void raid_mem_hook_fn (void *opaque, enum raid_io_op op, uint64_t offset, uint32_t len);
void raid_mem_member_hook (struct raid_mem_member *mm, raid_mem_hook_fn *fn, void *opaque);
/* Hold completions until the member is polled (its ops->poll). */
void raid_mem_member_defer (struct raid_mem_member *mm, int defer);
/* With defer: a held write lands only when polled, so an I/O sent after it (a flush) is
 * carried out first, as when a write's frame is lost and sent again. */
void raid_mem_member_late_writes (struct raid_mem_member *mm, int late);
/* A volatile write cache (ON) or none: a flush makes what has landed durable, and
 * lose_cache puts the durable bytes of a range back (power lost before a flush took
 * the writes there).  -1: no memory. */
int raid_mem_member_cache (struct raid_mem_member *mm, int on);
void raid_mem_member_lose_cache (struct raid_mem_member *mm, uint64_t offset, uint64_t len);
/* The power fails on a member with a cache: its bytes become the durable ones (as of its
 * last flush that succeeded) with a random subset (drawn from *SEED) of the writes it
 * took since, each whole or not at all, laid over them in the order they landed (a
 * later write hides an earlier one's sectors only when both are kept).  That is any
 * order of write-back a disk's cache may choose before the power goes, at the grain of
 * a member write (a disk may also tear one write into some of its sectors: not modelled).
 * A flush takes every write that landed before it
 * (a late write held at a flush is not yet landed: raid_mem_member_late_writes).  The
 * member keeps its last 4096 unflushed writes: an older one counts as written back.
 * Bytes changed by hand (raid_mem_member_data) since the last flush are lost.  No I/O
 * may be running.  Returns how many cached writes were kept; no cache: nothing. */
unsigned raid_mem_member_power_loss (struct raid_mem_member *mm, uint64_t *seed);
/* How many unflushed writes its cache holds (0: none, or no cache). */
unsigned raid_mem_member_cached (struct raid_mem_member *mm);
/* I/O counters (and polls) since creation (or the last reset). */
/* sleeps / wakes: ops->sleeping calls with 1 / 0 (a waiter with an I/O here pending slept, woke) */
struct raid_mem_stats { uint64_t reads, writes, flushes, read_bytes, write_bytes, polls, sleeps, wakes; };
void raid_mem_member_stats (struct raid_mem_member *mm, struct raid_mem_stats *st, int reset);
/* The I/Os it carried out, in order, since the last stats reset (the first 1024): up to
 * MAX into OUT, their count returned.  power_left: under a power budget
 * (raid_mem_member_power), what the budget held after the I/O took its one (which I/O of
 * all the members sharing it this was); without, -1. */
struct raid_mem_op { enum raid_io_op op; uint64_t offset; uint32_t len; int64_t power_left; };
unsigned raid_mem_member_trace (struct raid_mem_member *mm, struct raid_mem_op *out,
                                unsigned max);

#ifdef __cplusplus
}
#endif
#endif /* AOERAID_RAID_H */

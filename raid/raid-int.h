/* Internal interfaces of the RAID engine, shared by the files in raid/ only. */
#ifndef AOERAID_RAID_INT_H
#define AOERAID_RAID_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>

#include "raid.h"
#include "logburst.h"

/* ---- layout.c: geometry and address mapping (pure functions) ---------- */

enum raid_family { RAID_FAMILY_NEAR, RAID_FAMILY_PARITY };

struct raid_geom {
  enum raid_level level;
  enum raid_family family;
  unsigned n;            /* members (slots) */
  unsigned k, m;         /* parity family: data and parity chunks per stripe */
  unsigned copies;       /* near family: 1 (raid0), n (raid1), 2 (raid10) */
  uint32_t chunk;        /* bytes, power of 2 */
  unsigned chunk_shift;
  uint64_t rows;         /* chunks per member */
};

/* Where one chunk lives: member slot and chunk row on that member. */
struct raid_loc { unsigned slot; uint64_t row; };

int geom_init (struct raid_geom *g, enum raid_level level, unsigned n, unsigned k,
               unsigned m, uint32_t chunk, uint64_t member_data_bytes,
               char *err, size_t errlen);
uint64_t geom_data_chunks (const struct raid_geom *g);  /* array size in chunks */
/* The superblock's layout: md's number where md has the level (near copies,
 * left-symmetric = 2). */
uint32_t geom_md_layout (const struct raid_geom *g);
uint64_t geom_lock_unit (const struct raid_geom *g, uint64_t chunk_index);
/* Near family: copy c (0..copies-1) of array chunk ci. */
struct raid_loc geom_near (const struct raid_geom *g, uint64_t ci, unsigned c);
/* Parity family: data chunk i (0..k-1) or parity row j of stripe s. */
struct raid_loc geom_data (const struct raid_geom *g, uint64_t stripe, unsigned i);
struct raid_loc geom_parity (const struct raid_geom *g, uint64_t stripe, unsigned j);
/* 1 when the array can still serve every chunk with the slots in missing[]. */
int geom_survives (const struct raid_geom *g, const uint8_t *missing);

/* ---- codec.c: parity math (ISA-L) -------------------------------------- */

/* Decode tables for one loss pattern: survivors and rebuilt columns. */
struct decode_tables {
  uint32_t survivors, outputs;  /* column bit masks; 0/0 = empty entry */
  uint8_t tables[32 * RAID_MAX_PARITY * RAID_MAX_MEMBERS];
};
#define DECODE_CACHE 8

struct raid_codec {
  unsigned k, m;
  int rs;                       /* 1: Vandermonde rows (xor_gen/pq_gen compatible) */
  uint8_t *matrix;              /* (k+m) x k, identity on top */
  uint8_t *enc_tables;          /* ec_init_tables of the m parity rows */
  pthread_mutex_t cache_lock;   /* guards cache and cache_next */
  struct decode_tables *cache;  /* DECODE_CACHE entries, replaced round robin */
  unsigned cache_next;
};

int codec_init (struct raid_codec *c, unsigned k, unsigned m, int rs);
void codec_free (struct raid_codec *c);
/* parity[j] = sum_i G[k+j][i] * data[i], len bytes each. */
void codec_encode (const struct raid_codec *c, uint32_t len, uint8_t **data, uint8_t **parity);
/* parity[j] ^= G[k+j][i] * delta (delta = old ^ new of data chunk i). */
void codec_update (const struct raid_codec *c, uint32_t len, unsigned i, uint8_t *delta,
                   uint8_t **parity);
/* cols[] holds the k+m columns (data then parity) of one stripe range, len
 * bytes each; valid[] flags those holding good bytes.  Computes every
 * column with want[] set and valid[] clear (at most m) from k valid ones.
 * Returns 0, or -1 when fewer than k are valid. */
int codec_recover (struct raid_codec *c, uint32_t len, uint8_t **cols,
                   const uint8_t *valid, const uint8_t *want);

/* One arrangement of the array's data on its members: geometry, parity
 * tables and where row 0 starts.  An array has one (lay); during a reshape
 * a second (prev) holds the part not yet moved. */
struct raid_layout {
  struct raid_geom g;
  struct raid_codec codec;      /* parity family */
  uint64_t data_offset;         /* member byte of row 0 */
  uint64_t size;                /* array bytes it holds */
};

/* ---- superblock.c --------------------------------------------------------- */

#define RAID_RESYNC_DONE UINT64_MAX
#define RAID_FEATURE_RESHAPE 1u        /* a reshape is in progress */
/* the recovering slot's member came back: only the bitmap's dirty regions
 * are rebuilt (older aoeraid ignores it and rebuilds in full) */
#define RAID_FEATURE_RECOVERY_BITMAP 2u
/* a member is replacing slot replace_slot in place (replace.c): the member whose uuid is
 * replace_uuid holds that slot's chunks below replace_offset and takes every write of the
 * slot; it keeps a spare's role, so older aoeraid ignores the bit and finds a spare */
#define RAID_FEATURE_REPLACEMENT 4u
/* the partial parity log (ppl.c) closes the write hole: every write logs on its stripe's
 * parity member first, in [log_offset, log_offset + log_size); entries of generations
 * other than ppl_gen are never replayed */
#define RAID_FEATURE_PPL 8u

struct raid_sb {
  uint32_t version;
  uint8_t array_uuid[16], member_uuid[16];
  char name[RAID_NAME_MAX + 1];
  uint64_t ctime, utime;
  uint32_t level, layout, chunk, raid_disks, k, m, role;
  uint64_t array_size, data_offset, data_size, events;
  uint32_t clean;
  uint32_t features;                 /* RAID_FEATURE_* */
  /* reshape: the old layout, above reshape_position (array bytes) */
  uint32_t prev_level, prev_layout, prev_chunk, prev_k, prev_m;
  int32_t delta_disks;               /* raid_disks - the old layout's members */
  uint64_t reshape_position, prev_data_offset;
  /* room reserved for a write-intent bitmap and a log */
  uint64_t bitmap_offset, log_offset, log_size;
  uint64_t ppl_gen;                  /* RAID_FEATURE_PPL: the log entries that count */
  uint64_t resync_offset;            /* first stripe not known in sync; RAID_RESYNC_DONE */
  uint64_t recovery_offset;          /* units of the RECOVERING slot rebuilt; RAID_RESYNC_DONE */
  /* RAID_FEATURE_REPLACEMENT: the slot, the units copied (and flushed), the new member */
  uint32_t replace_slot;
  uint64_t replace_offset;
  uint8_t replace_uuid[16];
  uint8_t roles[RAID_MAX_MEMBERS];   /* enum raid_role_state per slot */
  uint8_t slot_uuid[RAID_MAX_MEMBERS][16];
  /* the members the admin removed, oldest first (raid_remove_member, raid_remove_spare):
   * never taken back by themselves (assembly, a scan, an incremental add) */
  uint32_t removed_count;
  uint8_t removed_uuid[RAID_MAX_REMOVED][16];
  /* the slots whose member the admin made write-mostly (bit i: slot i; raid1, raid10):
   * reads go elsewhere while another copy can serve them.  The member's, not the slot's:
   * a spare or a replacement that takes the slot starts without it */
  uint32_t writemostly;
  /* 1: the pending resync (resync_offset) follows a crash, so stripes below the array's
   * end may hold parity the crash tore: a degraded start is refused without force as a
   * dirty one is, clean stop or not (md: recovery_cp short of MaxSector).  0: none, or
   * it is a new array's or a grow's, whose unsynced stripes no write has torn */
  uint32_t resync_after_crash;
  /* the members the admin failed (raid_fail_member: md's --fail, a disk going bad), oldest
   * first: never taken back by themselves (assembly, auto-readd), force only when the
   * array cannot start without them; an explicit add takes one back (off the list), a
   * remove moves it to the removed list */
  uint32_t failed_count;
  uint8_t failed_uuid[RAID_MAX_FAILED][16];
};

/* Little-endian fields of the on-member blocks (superblock, bitmap). */
void le_put32 (uint8_t *b, unsigned off, uint32_t v);
void le_put64 (uint8_t *b, unsigned off, uint64_t v);
uint32_t le_get32 (const uint8_t *b, unsigned off);
uint64_t le_get64 (const uint8_t *b, unsigned off);

void sb_encode (const struct raid_sb *sb, uint8_t block[RAID_SB_SIZE]);
/* RAID_SB_CORRUPT: WHY (may be NULL) names what is wrong, one phrase ("bad crc32c",
 * "chunk 3000 ..."): every field a reader relies on is checked here. */
enum raid_sb_state sb_decode (const uint8_t block[RAID_SB_SIZE], struct raid_sb *sb,
                              char *why, size_t len);
void sb_summarise (const struct raid_sb *sb, enum raid_sb_state state, struct raid_sb_summary *out);
/* The removed list: UUID's index on it or -1; add it (the oldest dropped when full; a
 * uuid on it already stays where it is); drop it (1 if it was on it). */
int sb_removed_index (const struct raid_sb *sb, const uint8_t uuid[16]);
void sb_removed_add (struct raid_sb *sb, const uint8_t uuid[16]);
int sb_removed_drop (struct raid_sb *sb, const uint8_t uuid[16]);
/* The same for the list of the members the admin failed. */
int sb_failed_index (const struct raid_sb *sb, const uint8_t uuid[16]);
void sb_failed_add (struct raid_sb *sb, const uint8_t uuid[16]);
int sb_failed_drop (struct raid_sb *sb, const uint8_t uuid[16]);
/* Does BLOCK start with the superblock's magic (whatever the rest holds)? */
int sb_magic_at (const uint8_t *block);

/* ---- io.c: fan-out batches, synchronous helpers, stripe locks ----------- */

struct raid_slot;

struct member_io {
  struct io_batch *batch;
  struct raid_slot *slot;
  enum raid_io_op op;
  uint64_t offset;        /* member byte offset (absolute) */
  uint32_t len;
  void *buf;
  int err;
  int done;               /* completed; under batch->lock */
  int asleep;             /* its member was told the waiter sleeps (ops->sleeping) */
  unsigned tag;           /* caller's use */
};

/* When a waiter polls its members instead of sleeping.  Only a request that
 * waits alone (a depth-1 client) polls, and only while such waits have been
 * short: then polling saves two scheduler wake-ups per request (the
 * member's receiver, then the waiter); with company, the wake-ups are shared
 * and a poller would take a CPU from the others.  One per array. */
#define POLL_MAX_US 200
struct poll_gate {
  atomic_uint waiters;          /* batches waiting now */
  atomic_uint lone_wait_us;     /* moving average of the waits of lone batches */
};
/* 1 when a batch that found OTHERS waiters besides itself should poll. */
int poll_gate_open (struct poll_gate *g, unsigned others);
/* A lone batch waited WAITED_US: update the average. */
void poll_gate_record (struct poll_gate *g, unsigned waited_us);

#define BATCH_INLINE 16
struct io_batch {
  struct poll_gate *gate;       /* NULL: never poll */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  unsigned pending;
  struct member_io *ios;        /* inline_ios until it outgrows them */
  unsigned n, cap;
  unsigned own;                 /* batch_start..batch_wait: the caller's I/Os, no shadows */
  int fixed;                    /* ios is the caller's (batch_init_on): never grown or freed */
  unsigned others;              /* batches waiting besides this one when it started */
  uint64_t start_us;
  struct member_io inline_ios[BATCH_INLINE];
};

void batch_init (struct io_batch *b, struct poll_gate *gate);
/* A batch on the caller's IOS, CAP of them: it takes no memory, and an I/O past CAP is
 * refused (batch_add: NULL).  For metadata written to every member (superblocks, the
 * bitmap): a member must not be failed, nor a write go unrecorded, because malloc failed. */
void batch_init_on (struct io_batch *b, struct poll_gate *gate, struct member_io *ios,
                    unsigned cap);
void batch_reset (struct io_batch *b);
/* Told of a batch of flushes that ended, to judge their errors (it may be told several
 * times for one call: flushes go in rounds when memory is short). */
typedef void batch_answers_fn (void *opaque, struct io_batch *f);
/* Queue a flush of S into F, a batch of flushes only.  It needs no memory: with none to
 * grow F, the flushes queued are run first (ANSWERS told, F emptied). */
void batch_add_flush (struct io_batch *f, struct raid_slot *s, batch_answers_fn *answers,
                      void *opaque);
/* Run F's flushes, tell ANSWERS, empty F. */
void batch_run_flushes (struct io_batch *f, batch_answers_fn *answers, void *opaque);
/* Flush each member B's I/Os went to (SKIP_FAILED: not those whose I/O failed) that keeps
 * writes in a volatile cache (slot_volatile_cache), once each, after B has ended: what B
 * wrote there is then durable.  ANSWERS judges the flushes' errors; none when no member
 * needed one. */
void batch_flush_cached (struct io_batch *b, int skip_failed, batch_answers_fn *answers,
                         void *opaque);
/* B wrote (and its write did not fail) to a member that keeps writes in a volatile
 * cache: they are durable only after a flush. */
int batch_left_in_cache (const struct io_batch *b);
void batch_free (struct io_batch *b);
/* Queue one member I/O (not yet submitted); returns it, or NULL (ENOMEM). */
struct member_io *batch_add (struct io_batch *b, struct raid_slot *slot, enum raid_io_op op,
                             uint64_t offset, uint32_t len, void *buf, unsigned tag);
/* Submit everything queued, in parallel, and wait for all completions. */
void batch_run (struct io_batch *b);
/* batch_run in two halves, so that a caller may keep two batches in flight at once (a
 * background run writing one window while it reads the next).  Nothing may be added
 * between them. */
void batch_start (struct io_batch *b);
void batch_wait (struct io_batch *b);

/* Aligned scratch buffers kept for reuse, so the data path does not go to
 * malloc (and mmap, for big buffers) on every request. */
#define SCRATCH_POOL 16
/* ---- stripe-cache.c: whole stripes a degraded read rebuilt, for the next reader ---- */

/* A sequential reader at depth D leaves up to about 2D/3 entries waiting for their
 * readers (each request that cuts two stripes wants one from each neighbour): 16 covers
 * depth 16-24, at most 16 stripes of memory (a RAID5 of 4 with 512 KiB chunks: 24 MiB). */
#define STRIPE_CACHE_ENTRIES 16
#define STRIPE_CACHE_MAX_STRIPE (8u << 20)   /* larger stripes are not kept */
/* And at most this many bytes of them: wide stripes get fewer entries (8 MiB stripes, a
 * RAID5 of 17 with 512 KiB chunks: 4), as fewer of them are under way at once; 16 whole
 * ones would hold 128 MiB. */
#define STRIPE_CACHE_BYTES (32u << 20)

/* What an entry was read as: the stripe, in which geometry, with which columns usable. */
struct stripe_key {
  struct raid_geom g;
  uint64_t stripe;
  uint32_t usable;                      /* bit per column (data, then parity) */
};

struct stripe_cache_entry {
  struct stripe_key key;
  uint64_t used;                        /* LRU tick */
  uint64_t lo, hi;                      /* the stripe's data bytes held, from its start */
  uint8_t *buf;
  size_t cap;
};

struct stripe_cache {
  pthread_mutex_t lock;
  atomic_uint live;                     /* entries holding bytes: 0 lets writers skip the lock */
  atomic_ullong stream_next;            /* where the last degraded read ended (a hint) */
  uint64_t tick;
  struct stripe_cache_entry e[STRIPE_CACHE_ENTRIES];
};

void stripe_cache_init (struct stripe_cache *c);
void stripe_cache_destroy (struct stripe_cache *c);
/* From a writer holding the locks of stripes FIRST..LAST, after writing: drop theirs. */
void stripe_cache_invalidate (struct stripe_cache *c, uint64_t first, uint64_t last);
void stripe_cache_flush (struct stripe_cache *c);
uint64_t stripe_cache_stripe_bytes (const struct raid_geom *g);
/* Copy bytes [LO, HI) of KEY's stripe (from its first data byte) to DST: 1 when held.
 * The caller holds the stripe's lock. */
int stripe_cache_get (struct stripe_cache *c, const struct stripe_key *key, uint64_t lo,
                      uint64_t hi, uint8_t *dst);
/* Keep bytes [LO, HI) of KEY's stripe, read under its lock, which the caller still
 * holds; COLS: its k data columns, whole chunks. */
void stripe_cache_put (struct stripe_cache *c, const struct stripe_key *key, uint64_t lo,
                       uint64_t hi, uint8_t *const cols[]);

/* Fault injection, for the unit tests only (NULL in every array the plugin runs): asked
 * where a request takes memory, SITE and BYTES; nonzero fails that allocation as malloc
 * would.  Scratch: at every scratch_get (one that finds the pool empty); a batch: when
 * it outgrows its inline I/Os.  Set while no request runs. */
enum alloc_site { ALLOC_SCRATCH, ALLOC_BATCH };
typedef int alloc_fail_fn (void *opaque, enum alloc_site site, size_t bytes);
struct alloc_hook {
  alloc_fail_fn *fail;
  void *opaque;
};

struct scratch_pool {
  pthread_mutex_t lock;
  void *buf[SCRATCH_POOL];
  unsigned n;
  struct alloc_hook hook;       /* the array's, batches' growth too (io.c) */
};
void scratch_pool_init (struct scratch_pool *p);
void scratch_pool_destroy (struct scratch_pool *p);
/* 64-byte aligned, at least bytes long; NULL when out of memory. */
void *scratch_get (struct scratch_pool *p, size_t bytes);
void scratch_put (struct scratch_pool *p, void *buf);   /* NULL is fine */

#define STRIPE_LOCKS 256
struct stripe_locks { pthread_mutex_t lock[STRIPE_LOCKS]; };
void stripe_locks_init (struct stripe_locks *sl);
void stripe_locks_destroy (struct stripe_locks *sl);
/* Lock (unlock) every lock unit in [first, last], in ascending bucket order. */
void stripe_lock_range (struct stripe_locks *sl, uint64_t first, uint64_t last);
void stripe_unlock_range (struct stripe_locks *sl, uint64_t first, uint64_t last);

uint64_t now_us (void);         /* CLOCK_MONOTONIC */

/* ---- pace.c: resync and recovery speed (md: speed_limit_min/max) ------- */

/* The limit that applies: MIN while the array is busy with other I/O (when
 * it is set and below MAX), else MAX; 0 = none. */
uint64_t pace_limit (int busy, uint64_t min_bps, uint64_t max_bps);
/* When BYTES of work started at FROM_US are paid for at LIMIT_BPS (0: at once). */
uint64_t pace_due_us (uint64_t from_us, uint64_t bytes, uint64_t limit_bps);

/* Around every request from above (raid_read, raid_write, raid_flush):
 * what tells resync and recovery that the array is busy.  End returns RC. */
void pace_request_begin (struct raid_array *a);
int pace_request_end (struct raid_array *a, int rc);

struct sync_pace {               /* start from { .kind = the run's } */
  enum raid_run_kind kind;      /* whose bytes moved it counts (raid_status.run_rate) */
  uint64_t due_us;              /* the work done so far is paid for at this time */
};
/* After a step of BYTES: sleep as long as the limits ask (not past a cancel). */
void sync_pace (struct raid_array *a, struct sync_pace *p, uint64_t bytes);
/* A step of BYTES that sync_pace would not sleep after: charge it and return 1; else
 * charge nothing and return 0 (a worker holding stripe locks lets them go before it
 * sleeps, and calls sync_pace then). */
int sync_pace_ahead (struct raid_array *a, struct sync_pace *p, uint64_t bytes);

/* The rate of a run as md shows it (md.c: sync_mark, SYNC_MARKS): the bytes it moved
 * are marked every PACE_MARK_US, and the rate is counted from the oldest of the last
 * PACE_MARKS marks, so a run that slows down shows it within half a minute.  Bytes
 * count once paid for (sync_pace), so the rate never runs ahead of the limits. */
#define PACE_MARKS 10
#define PACE_MARK_US 3000000u
struct pace_marks {             /* us[0], bytes[0]: the oldest of n */
  uint64_t us[PACE_MARKS], bytes[PACE_MARKS];
  unsigned n;
};
/* The run starts at NOW having moved MOVED (its counter never goes back). */
void pace_marks_start (struct pace_marks *m, uint64_t now, uint64_t moved);
/* Mark MOVED at NOW when the newest mark is PACE_MARK_US old (none before a start). */
void pace_mark (struct pace_marks *m, uint64_t now, uint64_t moved);
/* Bytes per second from the oldest mark to NOW, having moved MOVED; -1: no mark yet,
 * or too recent to tell (PACE_RATE_MIN_US). */
#define PACE_RATE_MIN_US 200000u
double pace_rate (const struct pace_marks *m, uint64_t now, uint64_t moved);

/* ---- bitmap.c: the write-intent bitmap (md: internal bitmap) ------------ */

/* SETTING: set, its block on its way to the members (under the lock): a write that finds
 * it so waits for the lock, as for a clean bit, since its data may not go out before it */
enum { BIT_CLEAN = 0, BIT_SET = 1, BIT_CLEARING = 2, BIT_SETTING = 3 };

struct raid_bitmap {
  uint64_t nbits;               /* 0: the array has no bitmap */
  unsigned shift;               /* lock units per bit: 1 << shift */
  atomic_ullong events_cleared; /* events when bits were last cleared; set under lock */
  atomic_uchar *state;          /* BIT_* per bit */
  atomic_uint *pending;         /* writes in flight per bit */
  atomic_uchar *recent;         /* written since the last clearing pass */
  /* dirty when the array started (assembly, create, end of a reshape): not
   * known in sync; the resync visits these regions only.  Set before I/O. */
  uint8_t *unsynced;
  pthread_mutex_t lock;         /* setting and clearing bits, writing the block */
  uint8_t *block;               /* RAID_BITMAP_SIZE bytes, aligned */
  struct member_io ios[RAID_MAX_MEMBERS];   /* bitmap_store's batch, as block is used */
  uint64_t next_pass_us;        /* raid_bitmap_tick's timer */
};

struct raid_array;
/* A new array's bitmap: regions of about REGION_BYTES per member (0: the
 * default), every bit clean. */
int bitmap_create (struct raid_array *a, uint64_t region_bytes);
/* The bits' shift (lock units per bit = 1 << shift) bitmap_create gives regions of
 * REGION_BYTES (0: RAID_BITMAP_REGION): at least that big, and few enough to fit. */
unsigned bitmap_shift (struct raid_array *a, uint64_t region_bytes);
/* From a member's block; -EINVAL when it is not one for this array.  A
 * version 1 block gets the regions from a->sb.resync_offset on set.  The
 * bits set are the unsynced ones too. */
int bitmap_load (struct raid_array *a, const uint8_t *block);
/* Does BLOCK, a member's, show no region dirty (no bit bitmap_load would set) for an
 * array of UNITS lock units whose resync reached RESYNC_OFFSET?  0 when it is damaged or
 * of another array's size (counted all dirty, as bitmap_load's caller does). */
int bitmap_block_clean (const uint8_t *block, uint64_t units, uint64_t resync_offset);
/* Does BLOCK start with the bitmap's magic (whatever the rest holds)? */
int bitmap_magic_at (const uint8_t *block);
/* A sound bitmap block's shift (units per bit = 1 << shift): 0, else -EINVAL. */
int bitmap_block_shift (const uint8_t *block, uint32_t *shift);
void bitmap_free (struct raid_bitmap *bm);
void bitmap_encode (struct raid_bitmap *bm, uint8_t *block);
/* Every bit set and unsynced (while no request runs). */
void bitmap_set_all (struct raid_bitmap *bm);
struct poll_gate;
/* Write the block to every working member, durably; caller holds bitmap.lock. */
void bitmap_store (struct raid_array *a, struct poll_gate *gate);
/* Around a write of lock units [first, last]: begin returns once their bits
 * are durable on every working member. */
void bitmap_write_begin (struct raid_array *a, uint64_t first, uint64_t last);
void bitmap_write_end (struct raid_array *a, uint64_t first, uint64_t last);
int bitmap_unit_dirty (struct raid_array *a, uint64_t unit);   /* 1 without a bitmap */
/* Unsynced regions: 1 for every unit without a bitmap; the first lock unit
 * from UNIT on in one (UNIT itself without a bitmap; UNITS when none is
 * left); how many. */
int bitmap_unit_unsynced (struct raid_array *a, uint64_t unit);
uint64_t bitmap_next_unsynced (struct raid_array *a, uint64_t unit, uint64_t units);
uint64_t bitmap_unsynced_bits (struct raid_array *a);
uint64_t bitmap_dirty_bits (struct raid_array *a);
/* The array's member data grew (raid_grow_size; a->lay is the new layout, no request
 * runs, caller holds the bitmap lock): as many bits as the new units need, in regions
 * made larger when they would not fit in the block; the old dirty bits carry over, the
 * regions from lock unit OLD_UNITS on are dirty and unsynced until the resync.  In
 * memory only (bitmap_store writes it).  0 or -ENOMEM (the bitmap is unchanged). */
int bitmap_grow (struct raid_array *a, uint64_t old_units);
/* The time between clearing passes: raid_set_bitmap_delay's, else the default. */
unsigned bitmap_delay_ms (struct raid_array *a);
/* One clearing pass now (raid_bitmap_tick without its timer); bits cleared. */
uint64_t bitmap_pass (struct raid_array *a);

/* ---- ppl.c: the partial parity log (raid5's consistency policy "ppl") ------ */

#define PPL_HEADER 4096u              /* an entry's header; entries are whole ones */
#define PPL_QUEUE 256                 /* entries in flight per member at most */
#define PPL_LOG_IO (1u << 20)         /* the ring is read in pieces of this at replay */
#define PPL_RECS 126                  /* stripes an entry's header holds: (4096 - 64) / 32 */

/* One stripe a write logs: columns first_col..last_col written, the first from row
 * first_lo, the last up to last_hi, those between whole; parity rows [lo, hi) made
 * again from PP (hi - lo bytes; NULL: zeros, a full-stripe write) and the columns the
 * write covers at each row.  SLOT: the stripe's parity member. */
struct ppl_rec {
  unsigned slot;
  uint64_t stripe;
  uint32_t lo, hi, first_lo, last_hi;
  unsigned first_col, last_col;
  const uint8_t *pp;
};

/* A member's ring: entries at increasing virtual positions, those of writes still
 * running, or ended but not yet durable, queued oldest first (their room cannot be
 * taken yet). */
struct ppl_ring {
  pthread_mutex_t lock;
  pthread_cond_t room;
  uint64_t head;                       /* the next entry's virtual position */
  struct {
    uint64_t pos;
    int done;                          /* its write ended */
    uint64_t flush;                    /* ...and is durable once room flush number
                                        * this has ended (0: it was at once) */
  } q[PPL_QUEUE];
  unsigned first, queued;
};

struct raid_ppl {
  atomic_int on;                       /* changes with every stripe lock held */
  atomic_ullong gen;                   /* a->sb.ppl_gen, for the writers */
  uint64_t replay_gen;                 /* ppl_gen as assembly read it: the entries a
                                        * replay takes (a replacement taking its slot
                                        * at assembly bumps ppl_gen before the replay) */
  uint64_t log_offset, log_size;
  struct ppl_ring ring[RAID_MAX_MEMBERS];
  /* Room flushes (md's ppl_do_flush, done lazily): a flush of every member with a
   * volatile cache, sent when a writer needs room that an ended write's entry holds.
   * Numbered: one that began after a write ended covers it. */
  pthread_mutex_t room_flush_lock;     /* one at a time, in order */
  atomic_ullong room_flush_begun, room_flush_ended;
  /* Per stripe lock (read and written under it): the room flush after which the logged
   * writes of its stripes are durable (PPL_PENDING while one runs).  A later record of
   * one of those stripes may go out only then (stripes_durable). */
  uint64_t pending[STRIPE_LOCKS];
};
#define PPL_PENDING UINT64_MAX

/* The room one write took in the rings, given back by ppl_done. */
struct ppl_hold { unsigned slot, at; uint64_t pos; };
struct ppl_req {
  struct ppl_hold hold[RAID_MAX_MEMBERS];
  unsigned nhold;
  uint64_t first, last;                /* the stripes its records name (none: first > last) */
  uint8_t *buf;
};
/* An empty one, on every write's path: not the whole hold[] zeroed */
static inline void
ppl_req_init (struct ppl_req *req)
{
  req->nhold = 0;
  req->first = 1;
  req->last = 0;
  req->buf = NULL;
}

struct raid_array;
struct raid_layout;
struct raid_geom;
void ppl_init (struct raid_array *a);
void ppl_destroy (struct raid_array *a);
/* From the superblock (assembly, create, a switch of the policy). */
void ppl_setup (struct raid_array *a);
/* Writes to L log (caller holds the stripe locks of the write). */
int ppl_active (struct raid_array *a, const struct raid_layout *L);
/* Queue the entries logging RECS into B, room taken in the rings (waits for it, and
 * may flush the members for it: see room_flush_lock); ppl_done once every write the
 * entries log has ended, whatever came of them, WRITTEN the batch that wrote them
 * (NULL: nothing went out): their room goes back once that is durable. */
int ppl_log (struct raid_array *a, const struct ppl_rec *recs, unsigned nrec,
             struct io_batch *b, struct ppl_req *req);
void ppl_done (struct raid_array *a, struct ppl_req *req, const struct io_batch *written);
/* A flush of every working member (a client's) is a room flush too: its number before
 * it is sent, and once every member answered (a member that failed it is failed). */
uint64_t ppl_flush_begin (struct raid_array *a);
void ppl_flush_ended (struct raid_array *a, uint64_t n);
/* At assembly of a dirty array, members and recovery state set up, no request yet:
 * make the parity of the stripes the log says were written at the crash.  0, or -errno
 * with a line in err. */
int ppl_replay (struct raid_array *a, char *err, size_t errlen);
/* The ring a chunk of CHUNK bytes wants (a new array gets it); why a layout cannot
 * have the log (NULL: it can). */
uint64_t ppl_ring_needs (uint32_t chunk);
/* The ring an array switched to the log takes of the ROOM below its data (4 KiB whole). */
#define PPL_RING_MAX (8u << 20)
uint64_t ppl_ring_for_room (uint64_t room, uint32_t chunk);
const char *ppl_unfit (const struct raid_geom *g);
/* Entries written so far stop counting (caller holds sb_lock with no write in flight,
 * and writes the superblocks next). */
void ppl_new_generation (struct raid_array *a);

/* ---- array.c: the array object, member state, superblock updates ------- */

struct raid_slot {
  struct raid_array *array;     /* the array it belongs to (set once; NULL: examine's) */
  struct raid_member m;         /* ops NULL when missing */
  unsigned index;
  atomic_int faulty;            /* set once; cleared only when a spare takes the slot */
  atomic_int recovering;        /* a replacement: usable below a->recovery_offset only */
  atomic_uint outstanding;      /* in-flight I/O, for mirror read balancing */
  atomic_int writemostly;       /* md's write-mostly: read only when no other copy can be */
  atomic_ullong read_errors, write_errors;
  uint8_t uuid[16];
  int readd;                    /* spares: 1 + the slot this member left, to re-add it */
  /* a slot's member: the events of the last superblock it took (what a restart would
   * read on it); under sb_lock */
  uint64_t events_on_disk;
  /* md's replacement (replace.c): while set, every data write and flush of this slot
   * goes to it too (io.c) */
  _Atomic (struct raid_slot *) replacement;
};

/* For the unit tests only (NULL in every array the plugin runs): called before each
 * window of a replace's copy with no stripe lock held (where the copy asks whether to
 * step aside for a recovery), POS the units copied, so that a test can make writes or
 * failures meet the copy at a known point instead of by timing.  While it is set,
 * windows are copied one after the other (none read while the last is written), so it
 * is called between every two.  Set while no replace runs. */
struct replace_hook {
  void (*between) (void *opaque, uint64_t pos);
  void *opaque;
};

/* A member being replaced in place (md's --replace, replace.c): the new member copies
 * the slot's chunks while the old one keeps serving, then takes the slot. */
struct raid_replace {
  atomic_int slot;              /* the slot replaced, -1: none */
  atomic_ullong pos;            /* units copied */
  atomic_ullong recorded;       /* units copied and flushed: what the superblocks say */
  /* resumed after a crash: below this, only the regions the bitmap held dirty at the
   * crash are copied again (the others the new member holds already) */
  atomic_ullong redo_below;
  atomic_int failed;            /* a write to the new member failed (io.c) */
  struct raid_slot member;      /* the new member, out of the spare list meanwhile */
  struct replace_hook hook;
};

/* A reshape in progress (reshape.c): the array's bytes below pos are in
 * a->lay, the rest in a->prev. */
/* A request in flight during a reshape, on the array bytes [lo, hi). */
struct reshape_ticket {
  uint64_t lo, hi;
  struct reshape_ticket *prev, *next;
};

struct raid_reshape {
  /* Requests and steps of the copy hold it shared; a grow and the end of a reshape,
   * which change the layouts, exclusive. */
  pthread_rwlock_t lock;
  pthread_mutex_t record_lock;  /* recording pos in the superblocks */
  atomic_int active;            /* prev is in use; changes under lock, exclusive */
  atomic_ullong pos;            /* moves only inside a step's window */
  atomic_ullong recorded;       /* pos as the members' superblocks have it */
  uint64_t bitmap_region;       /* the bitmap comes back with this region */
  uint64_t step_max;            /* bytes per step at most (RESHAPE_STEP; tests set less) */
  /* The step's window, the array bytes [win_lo, win_hi) it moves (empty: no step), and
   * the requests in flight: a request touching the window waits for the step, the step
   * waits for the requests in it; the rest of the array is served meanwhile. */
  pthread_mutex_t win_lock;
  pthread_cond_t win_cond;
  uint64_t win_lo, win_hi;
  int step_waiting;
  struct reshape_ticket *busy;
};

/* check.c: a check or repair (md's sync_action); read by raid_status. */
struct raid_check_state {
  atomic_int action;            /* enum raid_check_action of the running or last one */
  atomic_int running, complete; /* complete: the last one went through to the end */
  atomic_int stop;              /* raid_check_stop */
  atomic_ullong pos;            /* units checked */
  atomic_ullong mismatches;     /* units whose redundancy did not match (md: mismatch_cnt) */
  atomic_ullong read_errors;    /* member chunks rebuilt and rewritten after read errors */
};

/* notes.c: what the engine did (struct raid_note), the last RAID_NOTES of it. */
struct raid_notes {
  pthread_mutex_t lock;         /* a leaf: nothing is taken under it */
  uint64_t n;                   /* notes taken: note n is note[n % RAID_NOTES] */
  struct raid_note note[RAID_NOTES];
  uint64_t started[RAID_RUN_KINDS], ended[RAID_RUN_KINDS];
  /* bytes each kind of run moved (never goes back), and its marks (pace.c) */
  uint64_t moved[RAID_RUN_KINDS];
  struct pace_marks marks[RAID_RUN_KINDS];
};

/* status.c: what raid_status reads of the state sb_lock guards, published when it may
 * have changed (status_publish), so that a status never waits on sb_lock, which is held
 * while superblocks go to the members (a silent shelf's whole dead time). */
struct status_view {
  int published;                /* 0: not yet (raid_status fails) */
  struct raid_status st;        /* the fields under sb_lock; the rest is read live */
  struct raid_member member[RAID_MAX_MEMBERS];   /* each slot's, for its health */
  struct raid_geom g, prev_g;   /* prev_g: during a reshape */
  int reshape_active, resync_after_crash;
};
struct status_snap {
  pthread_mutex_t lock;         /* a leaf, held for a copy only */
  struct status_view view;
  /* the bitmap as last counted (status.c: its lock is held while it is written) */
  uint64_t bitmap_bits, bitmap_dirty, bitmap_region;
};

/* The lines that can come once per request or member I/O, each limited on its own
 * (raid_logf_burst): an outage must not flood the log. */
enum raid_burst {
  BURST_RANGE,                  /* a request outside the array (rw.c check_range) */
  BURST_READ_ERROR,             /* a member read failed (note_read_error) */
  BURST_REWROTE,                /* bytes rewritten after a read error (repair) */
  BURST_NO_COPY,                /* a mirrored chunk no copy of which could be read */
  BURST_STRIPE,                 /* a stripe that cannot be reconstructed */
  RAID_BURSTS
};

struct raid_array {
  struct raid_layout lay;       /* the layout (during a reshape: the new one) */
  struct raid_layout prev;      /* during a reshape: the old one */
  struct raid_reshape reshape;
  struct raid_slot slot[RAID_MAX_MEMBERS];
  struct raid_sb sb;            /* in-memory copy; guarded by sb_lock */
  pthread_mutex_t sb_lock;
  struct stripe_locks locks;
  struct scratch_pool pool;
  struct stripe_cache stripe_cache;
  struct raid_ppl ppl;
  struct poll_gate poll_gate;
  raid_log_fn *log;
  void *log_opaque;
  struct log_burst burst[RAID_BURSTS];   /* raid_logf_burst's, one for each kind */
  int readonly;                 /* RAID_ASSEMBLE_READONLY: nothing is written to a member */
  uint64_t size;
  atomic_ullong resync_offset;  /* lock units below this are in sync */
  atomic_int resync_stop;       /* raid_resync_cancel was called, or the array is fenced */
  /* Fenced: 0 not, 1 being fenced, 2 fenced and fenced_by names the member whose I/O
   * failed with RAID_EFENCED first (set once).  Its name, not its slot: that I/O may be on
   * a slot of the moment (an examine's, on the caller's stack), gone once it returns. */
  atomic_int fence_state;
  char fenced_by[64];
  /* raid_closing was called: a member I/O that fails marks nothing; close_cut: since
   * then, a member that would have been failed missed a write (or a superblock): raid_close
   * leaves the superblocks as a crash would */
  atomic_int closing, close_cut;
  /* raid_grow_bitmap is adding or removing the bitmap (it lets go of sb_lock while its
   * blocks and superblocks are written): no recovery begins meanwhile (spare_install) */
  atomic_int bitmap_changing;
  atomic_ullong recovery_offset;  /* units of the recovering slot rebuilt */
  atomic_ullong sync_speed_min, sync_speed_max;  /* bytes/s; 0 = no limit (pace.c) */
  atomic_uint bitmap_delay_ms;  /* raid_set_bitmap_delay; 0 = RAID_BITMAP_DELAY_MS */
  atomic_ullong fg_begun, fg_ended;   /* requests from above (raid_read/write/flush) */
  atomic_ullong fg_last_us;     /* when the last of them ended */
  /* array_check: the missing slots (a bit each) it last said it lost, 0 while it
   * survives; a refusal is said once for each set of lost members, not per request */
  atomic_uint lost_said;
  struct raid_bitmap bitmap;
  atomic_int recovery_bitmap;   /* the recovery rebuilds only the bitmap's dirty regions */
  /* raid_recovery_hold: until this time (now_us), a replace does not wait for the
   * recovery; 0: not held */
  atomic_ullong recovery_held_until;
  struct raid_check_state check;
  struct raid_replace repl;
  struct raid_notes notes;
  struct raid_slot spare[RAID_MAX_SPARES];   /* index RAID_MAX_MEMBERS + i; under sb_lock */
  unsigned nspares;
  /* the last members that left the array (a spare or a replace took their slot, left out
   * at assembly), by name: raid_remove_member records the uuid of one removed later;
   * under sb_lock */
  struct { char name[64]; uint8_t uuid[16]; } left[RAID_MAX_SPARES];
  unsigned nleft;
  /* the member raid_add_member is adding, while its first superblock write runs: one that
   * fails it is no spare that failed (no FailSpare), the add is refused; under sb_lock */
  const char *adding;
  /* the last superblock any member took: what a restart would go by (sb_write_all
   * fails its members, while every write fails, in memory only); under sb_lock */
  struct { uint64_t events; enum raid_role_state roles[RAID_MAX_MEMBERS]; } on_disk;
  /* superblock write buffers, slots, spares, then the replacement; under sb_lock */
  uint8_t sb_block[RAID_MAX_MEMBERS + RAID_MAX_SPARES + 1][RAID_SB_SIZE];
  struct member_io sb_ios[RAID_MAX_MEMBERS + RAID_MAX_SPARES + 1];   /* sb_write_all's batch */
  struct status_snap snap;
};

void raid_logf (struct raid_array *a, int level, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));
/* raid_logf for a line that can come once per request or member I/O: limited
 * (logburst.h), the lines left out summed up in KIND's words, at KIND's level (array.c).
 * ABOUT: the member slot the line is about, or NULL; each slot's first line of an episode
 * is said, not hidden behind another member's flood. */
void raid_logf_burst (struct raid_array *a, enum raid_burst kind,
                      const struct raid_slot *about, const char *fmt, ...)
  __attribute__ ((format (printf, 4, 5)));
const char *slot_name (const struct raid_slot *s);
/* S's member was taken over by another host: fence the array (see RAID_EFENCED); from
 * any thread, I/O completions included.  array_fenced: 1 once fenced. */
void array_fence (struct raid_array *a, struct raid_slot *s);
/* inline: asked before every member I/O (batch_start) */
static inline int
array_fenced (struct raid_array *a)
{
  return atomic_load (&a->fence_state) != 0;
}
/* The member found taken, once fenced ("a member" in the moment its name is written). */
const char *array_fenced_by (struct raid_array *a);
/* 1 once raid_closing was called (inline: asked per failed I/O and per request) */
static inline int
array_closing (struct raid_array *a)
{
  return atomic_load (&a->closing);
}
/* Requests from above fail with EIO: fenced (another host's now) or closing */
static inline int
array_refuses_requests (struct raid_array *a)
{
  return array_fenced (a) || array_closing (a);
}
int slot_usable (struct raid_slot *s);            /* present, not faulty, healthy */
/* Its member's ops->volatile_cache, or its replacement's (a flush of S reaches both) */
int slot_volatile_cache (struct raid_slot *s);
/* slot_usable, and holding good data for lock unit u (a recovering slot:
 * only below the recovery point). */
int slot_usable_at (struct raid_array *a, struct raid_slot *s, uint64_t u);
/* Mark a slot faulty (once), bump events, rewrite the superblocks. */
void slot_fail (struct raid_array *a, struct raid_slot *s, const char *why);
/* 1 when the array can still serve everything; else logs the missing members. */
int array_check (struct raid_array *a, const char *what);
void array_missing (struct raid_array *a, uint8_t missing[RAID_MAX_MEMBERS]);
int array_degraded (struct raid_array *a);        /* some slot missing, faulty or recovering */
/* -EROFS with a line in err when the array is read-only (RAID_ASSEMBLE_READONLY),
 * fenced (RAID_EFENCED) or closing (raid_closing), else 0: what would change the array
 * asks first. */
int array_readonly (struct raid_array *a, char *err, size_t errlen);
/* raid_examine, for OWNER (NULL: none): a read that finds the member taken over by
 * another host (RAID_EFENCED) fences OWNER. */
int examine_as (struct raid_array *owner, struct raid_member *m, struct raid_sb_summary *out);
/* Bump events and write the superblock to every working member (in
 * parallel); members that fail it are marked faulty.  Caller holds sb_lock.
 * A read-only array writes nothing (its state changes stay in memory). */
void sb_write_all (struct raid_array *a);
/* Units raid_resync walks: stripes (parity levels) or data chunks (mirrors). */
uint64_t resync_units (const struct raid_array *a);
/* The word for one of them in a log line, as status says it: "stripe" or "chunk". */
static inline const char *
unit_word (const struct raid_array *a)
{
  return a->lay.g.m ? "stripe" : "chunk";
}
/* Parity family: the slot of column idx (data 0..k-1, then parity) of a stripe. */
struct raid_slot *col_slot (struct raid_array *a, struct raid_layout *L, uint64_t stripe,
                            unsigned idx);
uint64_t col_offset (const struct raid_layout *L, uint64_t stripe, uint32_t within);
/* A lock unit's pieces: the k+m columns of a stripe (parity levels) or the copies of a
 * chunk (mirrors); piece c's slot, and in *off its member offset (whole chunks). */
unsigned unit_pieces (const struct raid_layout *L);
struct raid_slot *unit_piece (struct raid_array *a, struct raid_layout *L, uint64_t u,
                              unsigned c, uint64_t *off);
/* Queue OP of all of piece c of unit u, from or into BUF, tagged c. */
void unit_piece_io (struct io_batch *b, struct raid_array *a, struct raid_layout *L,
                    uint64_t u, unsigned c, enum raid_io_op op, uint8_t *buf);
/* The column's member holds good data for this stripe (slot_usable_at). */
int col_usable (struct raid_array *a, struct raid_layout *L, uint64_t stripe, unsigned idx);
/* Make the need[] columns of stripe s valid over [lo, lo+len) (rw.c). */
int stripe_gather (struct raid_array *a, struct raid_layout *L, uint64_t s, uint32_t lo,
                   uint32_t len, uint8_t **cols, uint8_t *valid, uint8_t *bad,
                   const uint8_t *need, uint8_t *errored);
/* Count and log a failed member read (not one of a member known down) (rw.c). */
void note_read_error (struct raid_array *a, struct member_io *io);
/* Mark every member that failed a write in this batch faulty (rw.c). */
void fail_writers (struct raid_array *a, struct io_batch *b);
/* Member FROM (a spare, a replacement) takes slot i in this role, its superblock
 * fields too (caller holds sb_lock, and keeps writes off the slot: stripe locks or the
 * reshape lock); slot_take_spare also drops spare j from the list. */
void slot_take (struct raid_array *a, unsigned i, struct raid_slot *from,
                enum raid_role_state role);
void slot_take_spare (struct raid_array *a, unsigned i, unsigned j, enum raid_role_state role);
/* Member NAME (uuid UUID) left the array: remembered for raid_remove_member (caller
 * holds sb_lock, or the array is not yet running). */
void array_note_left (struct raid_array *a, const char *name, const uint8_t uuid[16]);
/* ... and is forgotten (its superblock wiped: nothing of it is the array's). */
void array_forget_left (struct raid_array *a, const uint8_t uuid[16]);
/* Drop spare i from the list (caller holds sb_lock). */
void spare_remove (struct raid_array *a, unsigned i);
/* Save resync, recovery and replace positions in the superblocks. */
void array_checkpoint (struct raid_array *a);
/* Recovery and replace save their position every this many units (and at the end). */
#define RECOVERY_CHECKPOINT 64
/* One synchronous member I/O; 0 or a positive errno. */
int slot_io (struct raid_slot *s, enum raid_io_op op, uint64_t offset, uint32_t len, void *buf);
uint64_t slot_offset (const struct raid_layout *L, struct raid_loc l, uint32_t within);
/* The slot whose member is NAME (faulty ones too); -1 when none. */
int slot_index (struct raid_array *a, const char *name);
int layout_init (struct raid_layout *L, enum raid_level level, unsigned n, unsigned k,
                 unsigned m, uint32_t chunk, uint64_t data_size, uint64_t data_offset,
                 char *err, size_t errlen);
void layout_free (struct raid_layout *L);
/* 1 when both layouts (one outside a reshape) can serve every chunk. */
int array_survives (struct raid_array *a, const uint8_t missing[RAID_MAX_MEMBERS]);
/* A new random (RFC 4122 version 4) uuid for an array or a member. */
void raid_uuid_new (uint8_t u[16]);
/* Bytes each member needs: the furthest data offset plus the data. */
uint64_t array_member_bytes (struct raid_array *a);
/* The data a member has room for past DATA_OFFSET, in whole chunks (0: not one chunk):
 * the member data size of an array created on it (raid_create) or grown onto it
 * (raid_grow_size). */
uint64_t member_data_room (const struct raid_member *m, uint64_t data_offset, uint32_t chunk);
/* The member is big enough to hold a slot of the array (array_member_bytes). */
int member_fits (struct raid_array *a, const struct raid_slot *s);

/* Was the member the superblock records in slot I left out by assembly (stale)?  Its
 * name, or NULL.  Under sb_lock. */
const char *slot_left_stale (struct raid_array *a, unsigned i);

/* ---- status.c ------------------------------------------------------------ */

void status_snap_init (struct raid_array *a);
void status_snap_destroy (struct raid_array *a);
/* Copy what sb_lock guards into a->snap for raid_status (caller holds sb_lock). */
void status_publish (struct raid_array *a);
/* The bitmap's figures into the status, waiting for its lock: for a caller that holds
 * no lock of the array, after it changed the bitmap (status_publish may find it busy). */
void status_bitmap_publish (struct raid_array *a);
/* Let sb_lock go, its state published first: every holder lets it go so. */
void sb_unlock (struct raid_array *a);

/* ---- notes.c ------------------------------------------------------------- */

void notes_init (struct raid_notes *nb);
void notes_destroy (struct raid_notes *nb);
/* Mark S faulty; 1 when this call did (it was not yet).  The one way a member fails: a
 * slot's member or the replacement is noted (Fail, or FailSpare for a spare being
 * rebuilt and the replacement); a spare waiting is dropped (sb_write_all), and noted
 * then (note_spare_failed).  Closing (raid_closing): marks nothing, returns 0, and a
 * member not yet faulty that would have been is a write cut (close_cut). */
int slot_set_faulty (struct raid_slot *s);
/* The spare S, waiting, failed (a superblock write) and is dropped: FailSpare, as md's
 * monitor tells a spare that fails (slot -1). */
void note_spare_failed (struct raid_array *a, struct raid_slot *s);
/* A background run begins working, and ends (ACTIVE: the member it made active, NULL
 * none; MISMATCHES: what a check or repair found); an end of a run not open is dropped.
 * A recovery ends too when its member fails. */
void run_begin (struct raid_array *a, enum raid_run_kind kind);
int run_open (struct raid_array *a, enum raid_run_kind kind);   /* begun, not ended */
void run_end (struct raid_array *a, enum raid_run_kind kind, const char *active,
              uint64_t mismatches);
/* A run of KIND moved BYTES more, paid for under the speed limits (pace.c). */
void run_moved (struct raid_array *a, enum raid_run_kind kind, uint64_t bytes);
void notes_copy (struct raid_array *a, struct raid_status *st);   /* for raid_status */

/* ---- rw.c: requests on one layout (reshape.c moves data with them) ----- */

int layout_read (struct raid_array *a, struct raid_layout *L, uint8_t *buf, uint32_t len,
                 uint64_t off);
int layout_write (struct raid_array *a, struct raid_layout *L, const uint8_t *buf,
                  uint32_t len, uint64_t off);
void flush_members (struct raid_array *a);
/* Only those that keep writes in a volatile cache: metadata just written (the bitmap)
 * is then durable.  GATE: as batch_init's. */
void flush_cached_members (struct raid_array *a, struct poll_gate *gate);

/* ---- writemostly.c -------------------------------------------------------- */

/* Slot i's member is write-mostly (ON) or not, in memory and in a->sb (caller holds
 * sb_lock, or the array is not yet running). */
void slot_set_writemostly (struct raid_array *a, unsigned i, int on);
/* The layout keeps more than one copy of each chunk (raid1, raid10): write-mostly means
 * something there only. */
int layout_has_copies (const struct raid_layout *L);
/* At assembly, and when a grow changes the level: every slot's flag from a->sb (all
 * dropped where the layout has no copies). */
void writemostly_load (struct raid_array *a);

/* ---- replace.c ---------------------------------------------------------- */

/* At assembly, once the members, the bitmap and the recovery are set up (no request yet):
 * put the member found replacing a slot back as its replacement, so every write from
 * now on reaches it too, from the recorded position (CRASHED: from the regions the
 * bitmap held dirty below it); the old member missing, it takes the slot instead. */
void replace_resume (struct raid_array *a, int crashed);

/* ---- resize.c ----------------------------------------------------------- */

/* Warn of each spare too small to take a slot (after raid_grow_size, at assembly): it
 * stays a spare, but recovery and replace pass it by. */
void spares_warn_small (struct raid_array *a);
/* Why a degraded, rebuilding or unsynced array refuses a grow (one line, in BUF or
 * constant), or NULL: the one wording of every grow refusal for it (resize.c, reshape.c).
 * NEED_WHOLE 0: a slot without a working member is no reason (a bitmap change).  Caller
 * holds sb_lock. */
#define GROW_WHY_MAX (2 * RAID_NAME_MAX + 200)
const char *grow_unready (struct raid_array *a, int need_whole, char *buf, size_t len);

/* ---- reshape.c ---------------------------------------------------------- */

void reshape_init (struct raid_array *a);
void reshape_destroy (struct raid_array *a);
/* At assembly: the old layout from the superblock, if a reshape was running. */
int reshape_setup (struct raid_array *a, char *err, size_t errlen);
/* Make the superblocks say that every byte below pos is in the new layout
 * (members flushed first), if they say less than UPTO. */
int reshape_record (struct raid_array *a, uint64_t upto);
/* A request on the array bytes [lo, hi) during a reshape (caller holds reshape.lock
 * shared): waits while a step moves any of them, then is in flight until reshape_leave.
 * Returns the reshape position to split it at (below: the new layout). */
uint64_t reshape_enter (struct raid_array *a, struct reshape_ticket *t, uint64_t lo,
                        uint64_t hi);
void reshape_leave (struct raid_array *a, struct reshape_ticket *t);
/* Lock units of L below this are in sync (md: resync_offset), counting
 * that the new layout is in sync only where the reshape has written it. */
uint64_t layout_sync_units (struct raid_array *a, const struct raid_layout *L);
/* 'NAME', or "the array" when it has none: for messages. */
/* 'NAME', or "(unnamed)" / "the array" when it has none: for messages. */
const char *array_quoted (struct raid_array *a, char label[RAID_NAME_MAX + 3]);
const char *array_label (struct raid_array *a, char label[RAID_NAME_MAX + 3]);

#endif /* AOERAID_RAID_INT_H */

/* Shared helpers for the RAID engine's unit tests: in-memory member sets,
 * a log collector, and an independent reference model (layout and GF(2^8)
 * parity computed byte at a time, without ISA-L). */
#ifndef AOERAID_RAID_TEST_H
#define AOERAID_RAID_TEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "raid.h"

struct fx {
  unsigned n;
  struct raid_mem_member *mm[RAID_MAX_MEMBERS];
  struct raid_member mem[RAID_MAX_MEMBERS];
  struct raid_array *a;
  char last_error[512];
  char last_warning[512];
  char info[4096];              /* the info lines, as long as they fit */
  unsigned errors, warnings;
};

#define FX_MEMBER_SIZE (RAID_DATA_OFFSET + 128 * 1024)

/* The redundant levels the recovery and check tests walk: raid1 of 2, raid5 of 3,
 * raid6 of 4, raid10 (near-2) of 4, ec 3+2. */
struct level_case { enum raid_level level; unsigned n, k, m, copies; };
#define FX_N_REDUNDANT 5
extern const struct level_case fx_redundant[FX_N_REDUNDANT];

void fx_members (struct fx *f, unsigned n, uint64_t size);
struct raid_array *fx_create (struct fx *f, enum raid_level level, unsigned n, unsigned k,
                              unsigned m, uint32_t chunk, unsigned flags);
/* the same on the members already in f */
struct raid_array *fx_create_on (struct fx *f, enum raid_level level, unsigned k, unsigned m,
                                 uint32_t chunk, unsigned flags);
struct raid_array *fx_assemble (struct fx *f, int force, char *err, size_t errlen);
void fx_close (struct fx *f);
void fx_free (struct fx *f);
void fx_log (void *opaque, int level, const char *msg);

/* cr_assert that the array's first SIZE bytes equal REF, or, sector by sector,
 * ALT (NULL: none) where a write cut short may have left its bytes. */
void fx_expect_data (struct raid_array *a, const uint8_t *ref, const uint8_t *alt,
                     uint64_t size, const char *when);

/* Write the whole array with random bytes from *SEED on: a copy of them (malloc'd, the
 * array's size), the reference its reads are held to. */
uint8_t *fx_fill (struct raid_array *a, uint64_t *seed);
/* LEVEL of N members of MEMBER_BYTES on f ('vol', CHUNK, a bitmap of REGION-byte regions,
 * 0: none), created in sync and written whole from seed 7, every bit clean again: the
 * reference its reads are held to (malloc'd). */
uint8_t *fx_create_filled (struct fx *f, enum raid_level level, unsigned n,
                           uint64_t member_bytes, uint32_t chunk, uint64_t region);

/* Every warning since a test emptied it (fx_warnings[0] = 0), one a line, as many as fit:
 * for a test that looks past the last one (fx_log keeps the last only).  FX_LOG_ALL goes
 * where fx_log would. */
extern char fx_warnings[8192];
void fx_log_all (void *opaque, int level, const char *msg);
/* Member I's superblock, which must read sound. */
struct raid_sb_summary fx_examined (struct fx *f, unsigned i);
/* 4 KiB of 0x5c at array offset OFF, written and in REF. */
void fx_write_mark (struct fx *f, uint8_t *ref, uint64_t off);
/* A superblock uuid list as decoded (UUID, COUNT entries of MAX) after WHAT was done to it:
 * LEFT entries left, the first KEPT when one is, every entry past the count zero. */
void fx_expect_list (const uint8_t (*uuid)[16], unsigned count, unsigned max, unsigned left,
                     const uint8_t kept[16], const char *what);

/* Write LEN random bytes from *SEED on at array offset OFF, kept at REF + OFF (whatever
 * the write returns: a test asserts on its answer, at its own line): raid_write's answer. */
int fx_write_ref (struct raid_array *a, uint8_t *ref, uint64_t off, uint32_t len,
                  uint64_t *seed);

/* Run the recovery to its end (cr_assert it succeeds): the bytes it wrote to MM. */
uint64_t fx_recover_writes (struct raid_array *a, struct raid_mem_member *mm);

/* Writes beside what a test runs, from a thread of their own: fx_writer_main writes
 * random lengths at random offsets of the array's first SIZE bytes, each write's bytes
 * kept in REF (NULL: not kept), until fx_writer_stop and at least MIN_WRITES of them. */
struct fx_writer {
  struct raid_array *a;
  uint8_t *ref;
  uint64_t size, seed;
  unsigned min_writes;
  atomic_int stop;
  atomic_uint writes;
  atomic_int failed;            /* a write failed: fx_writer_stop says so */
  pthread_t thread;
};
void *fx_writer_main (void *w);
/* Start W's thread on MAIN (fx_writer_main, or a test's own on W) and wait for its
 * first WAIT writes. */
void fx_writer_start (struct fx_writer *w, void *(*main) (void *), unsigned wait);
void fx_writer_stop (struct fx_writer *w);

/* The network's own receiver, late: polls every member of F each 20 ms, as the
 * initiator's loop thread delivers what no waiter polled (members with deferred
 * completions).  Its polls are counted apart, so a test tells the waiters' from its own. */
struct fx_late_loop {
  struct fx *f;
  atomic_int stop;
  atomic_uint polls;
  pthread_t thread;
};
void fx_late_loop_start (struct fx_late_loop *l, struct fx *f);
void fx_late_loop_stop (struct fx_late_loop *l);

uint64_t rnd (uint64_t *seed);
void fill_random (uint8_t *buf, size_t len, uint64_t *seed);

/* Reference model. */
uint8_t ref_gf_mul (uint8_t a, uint8_t b);
uint8_t ref_gf_inv (uint8_t a);
/* Coefficient of data chunk i in parity row j: RS (RAID5/6) or Cauchy (EC). */
uint8_t ref_coef (enum raid_level level, unsigned k, unsigned j, unsigned i);
unsigned ref_data_dev (unsigned n, unsigned m, uint64_t stripe, unsigned i);
unsigned ref_parity_dev (unsigned n, unsigned m, uint64_t stripe, unsigned j);
/* cr_assert that every stripe's parity (every mirror copy) matches its data
 * in the members' raw bytes, skipping members flagged in skip[]. */
void fx_check_redundancy (struct fx *f, enum raid_level level, unsigned k, unsigned m,
                          unsigned copies, uint32_t chunk, const uint8_t *skip);

#endif

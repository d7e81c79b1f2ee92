/* Parameters of nbdkit-aoeraid-plugin, parsed and checked before the server starts. */
#ifndef AOERAID_PARAMS_H
#define AOERAID_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aoe-member.h"
#include "raid.h"

#define MAX_SHELVES 32
#define MAX_IFACES 8

struct params {
  struct shelf_addr shelves[MAX_SHELVES];
  size_t n_shelves;
  struct shelf_addr spares[RAID_MAX_SPARES];   /* spares=: hot spares of the array */
  size_t n_spares;
  struct shelf_addr writemostly[MAX_SHELVES];  /* writemostly=: md's --write-mostly */
  size_t n_writemostly;
  bool level_given;
  struct raid_params raid;          /* level, k, m, chunk, name */
  char name[64];
  bool uuid_given;                  /* uuid=: the array to assemble (or check) */
  uint8_t uuid[16];
  bool scan;                        /* no shelves=: find the shelves of name= or uuid= */
  const char *ifaces[MAX_IFACES];
  size_t n_ifaces;
  const char *control;              /* control socket path, or NULL */
  unsigned dead_time_ms;
  unsigned hold_time_ms;         /* 0: a silent shelf is never held */
  unsigned bitmap_delay_ms;      /* md's --delay: between the bitmap's clearing passes */
  unsigned discover_ms;             /* how long to wait for every shelf to answer */
  bool force;                       /* override md's refusals */
  bool run;                         /* md's --run: start without a live member left out of shelves= */
  bool takeover;                    /* take reservations another head holds */
  bool reserve;                     /* claim the shelves with AoE Reserve/Release */
  bool poll;                        /* a lone request polls for its replies (aoe_poll) */
  bool auto_readd;                  /* a member whose shelf comes back is re-added */
  bool readonly;                    /* md's --readonly: nothing is written to a shelf */
  /* what made it so, for the lines that say it: "readonly=true", "nbdkit -r" or
   * "nbdkit --filter=readonly" (nbdkit-args.h) */
  const char *readonly_by;
  char *alert;                      /* mdadm's PROGRAM: run with each event, or NULL */
  bool alert_test;                  /* mdadm --test: a TestMessage event at start */
  uint64_t sync_speed_min;          /* resync/recovery bytes/s while busy; 0 = no limit */
  uint64_t sync_speed_max;          /* ... and otherwise (md: speed_limit_min/max) */
  /* consistency-policy= (md's --consistency-policy): POLICY_KEEP what the array has (off
   * for a new one), POLICY_PPL the partial parity log, POLICY_OFF none (bitmap, resync) */
  enum { POLICY_KEEP, POLICY_PPL, POLICY_OFF } policy;
  uint32_t given;                   /* the keys given, a bit each (params.c's once_keys) */
};

void params_init(struct params *p);
/* What params_set allocated. */
void params_free(struct params *p);
/* One key=value; 0, or -1 after nbdkit_error naming the key, the value and what is allowed. */
int params_set(struct params *p, const char *key, const char *value);
/* level=VALUE alone (also for the control request grow); 0 or -1 after nbdkit_error. */
/* level=VALUE into RAID (level, k, m); -1 with the reason in ERR (nothing logged). */
int parse_level(const char *value, struct raid_params *raid, char *err, size_t errlen);
int set_level(struct params *p, const char *value);
/* What to drop from the command line for a writable array: "readonly=", "-r", ... */
const char *params_readonly_undo(const struct params *p);
/* Cross-checks once all are known; 0 or -1 after nbdkit_error. */
int params_complete(struct params *p);
const char *level_name(const struct raid_params *rp, char *buf, size_t len);
/* What a rate looks like, for the errors that refuse one. */
#define RATE_HINT "write bytes per second with K, M or G (1000K, 200M), or 0 for no limit"
/* A rate in bytes per second: digits with an optional K, M or G (powers of 1024) and an
 * optional "/s"; "0" (or "none") is no limit.  0, or -1 when it is not one. */
int parse_rate(const char *s, uint64_t *out);
/* The member data size of the control request "grow size=SIZE": digits with an optional
 * K, M or G (powers of 1024), or "max" (*out = 0).  0, or -1 when it is not one. */
int parse_member_size(const char *s, uint64_t *out);
#define SIZE_HINT "write bytes per member with K, M or G (512M, 2G), or max"
/* The bytes per bit of the control request "grow bitmap=SIZE|none": digits with an
 * optional K, M, G or T (powers of 1024) from 64K to 1T, or "none" (*out = 0).  0, or -1
 * when it is not one. */
int parse_bitmap_region(const char *s, uint64_t *out);
#define BITMAP_HINT "from 64K to 1T (md's default is 64M)"
/* sync-speed-min above sync-speed-max, both limits (0: none), when MIN_GIVEN (the default
 * gives way to a lower max): -1 with both in ERR, else 0. */
int check_sync_speeds(uint64_t min, bool min_given, uint64_t max, char *err, size_t errlen);
/* sync-speed-min= was given. */
bool params_min_given(const struct params *p);
/* chunk= was given (else raid.chunk_bytes holds md's default): assembly checks it. */
bool params_chunk_given(const struct params *p);
/* "1000K/s", "50M/s", "none": the form parse_rate reads. */
const char *rate_text(uint64_t bps, char *buf, size_t len);
/* The defaults: 50 MiB/s while busy (md: 1000 KiB/s, too slow for a rebuild of today's
 * shelves under steady load), no max (md: 200000 KiB/s). */
#define SYNC_SPEED_MIN_DEFAULT (50u << 20)
#define SYNC_SPEED_MAX_DEFAULT 0

#endif

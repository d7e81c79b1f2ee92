/* aoe/internal.h: the initiator's state, shared by initiator.c (API, lifecycle,
 * discovery) and engine.c (frames, replies, timers).  All of it is guarded by
 * ini->lock except the submission queue (ini->qlock) and the atomics. */
#ifndef AOE_INTERNAL_H
#define AOE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "aoe.h"
#include "cc.h"
#include "frame.h"
#include "keepalive.h"
#include "logburst.h"
#include "net.h"

#define AOE_MAX_FRAMES   256    /* frames per target: the tag's low byte indexes them */
#define AOE_FIRST_FRAMES 4      /* a target's frame table starts this big, on its first frame */
/* The target table's hash buckets (a power of two): shelf.slot to target in O(1) for
 * every reply received, one bucket per target at AOE_MAX_TARGETS (include/aoe.h). */
#define AOE_TARGET_BUCKETS 4096
/* At most one "target table is full" line this often (engine.c, target_make_room). */
#define AOE_TABLE_FULL_LOG_MS 60000
#define AOE_MAX_HOLDERS  16     /* reservation MACs we report */
#define AOE_PATH_DOWN_TIMEOUTS 3   /* consecutive timeouts with no answer ... */
#define AOE_PATH_DOWN_QUIET_MS 250 /* ... and this long silent: path down */
/* A path not up (down, or found but never identified) and silent this many dead times
 * while another path of its target answers is dropped (engine.c, target_drop_silent):
 * the shelf address moved to another MAC, or the MAC was never a shelf's (a forged
 * reply). */
#define AOE_PATH_DROP_DEAD_TIMES 3
/* An IDENTIFY is asked again as any frame (backing off from the path's RTO, at most
 * AOE_RTO_MAX_US apart) and given up the dead time after its first try (engine.c,
 * identify_gives_up): Query Config is answered by the shelf's controller at once, but
 * IDENTIFY by its disk, which takes seconds while it spins up or serves another head.
 * Unanswered this long, a discovery waiting for it says so (aoe_discover). */
#define AOE_IDENTIFY_SLOW_MS 1000
/* More addresses than this silent to IDENTIFY at once (more than two full EtherDrive
 * shelves of 24 slots): the slow-IDENTIFY line names a flood of made-up Query Config
 * replies as a cause beside disks spinning up, and says how to find its sender. */
#define AOE_IDENTIFY_FLOOD 48
/* ... but never given up sooner than this after its first try, whatever the dead time (a
 * dead-time of 500ms, for a quick failover, must not lose shelves whose IDENTIFY takes
 * longer: before the dead time counted, every IDENTIFY was waited for a second). */
#define AOE_IDENTIFY_MIN_WAIT_MS 1000
/* Addresses whose IDENTIFY was given up, never identified, remembered for
 * aoe_identify_unanswered_ms (the last ones: a flood of made-up addresses pushes a real
 * one out, and its caller says only that it did not answer). */
#define AOE_IDENTIFY_NOTES 16
/* Sectors per frame that fit any Ethernet (MTU 1500: 36 + 2 * 512 bytes).  A path offering
 * more is used at this size until a read of its full size went through both ways (the
 * MTU probe, engine.c): a link on the way with a smaller MTU drops bigger frames
 * silently, and every I/O would time out. */
#define AOE_SAFE_SCNT 2
/* Tries of an MTU probe: a lossy link (30%) loses all of 8 one time in 200 (each try is a
 * frame each way), and a false "smaller MTU" costs speed, never data. */
#define AOE_MTU_PROBE_TRIES 8
#define AOE_PROBE_MS     1000   /* Query Config period while a target or path is down */
#define AOE_DEFAULT_DEAD_MS 5000
#define AOE_DEFAULT_REDISCOVER_MS 10000
/* The loop thread's longest sleep: below AOE_RTO_MIN_US, so frames sent by a submitting
 * thread (aoe_issue_direct) are timed without waking it; 100 idle wake-ups a second. */
#define AOE_LOOP_MAX_SLEEP_MS 10
/* A poll within this long keeps the loop off the sockets (aoe_poll): pollers at depth 1
 * come back every request (tens of microseconds); a pause longer than this hands the
 * sockets back to the loop. */
#define AOE_POLLER_QUIET_US 2000
/* Reservation probes: their tags have bit 31 clear (frames' have it set), bit 30 set; a
 * probe unanswered this long is judged on the answers it has (and asked again). */
#define AOE_RR_PROBE_TAG 0x40000000u
#define AOE_RR_PROBE_TIMEOUT_MS 250
/* The loop steps at least every AOE_LOOP_MAX_SLEEP_MS: a gap this long means the process
 * did not run (stopped, a hung host, a paused VM): its shelves may have been taken over
 * meanwhile, and I/O to them waits for a reservation read sent after it resumed. */
#define AOE_RR_STALL_MS 1000
_Static_assert(AOE_LOOP_MAX_SLEEP_MS * 1000u < AOE_RTO_MIN_US,
               "the loop must look at a new frame before its first deadline");

enum path_state { PATH_CANDIDATE, PATH_ACTIVE, PATH_REJECTED };

struct aoe_path {
  struct aoe_iface *ifc;
  uint8_t mac[6];
  enum path_state state;
  int up;
  int identifying;              /* an IDENTIFY is queued or in flight on this path */
  unsigned bufcnt, cfg_scnt;    /* from this path's Query Config reply */
  unsigned scnt_ok;             /* sectors per frame its MTU probe carried (0: none yet) */
  int mtu_probing;              /* an MTU probe is queued or in flight on this path */
  int proving;                  /* a held shelf's proof is queued or in flight on it */
  unsigned probes_inflight;     /* of inflight, MTU probe frames: not I/O (engine.c) */
  struct aoe_rtt rtt;
  uint32_t rtt_seed_us;         /* its last smoothed round trip: rtt starts from it (0: none) */
  struct aoe_window win;
  unsigned inflight;
  unsigned timeouts_since_heard;
  uint64_t last_heard_us;
  struct aoe_keepalive ka;      /* Query Configs asking an idle path whether it is alive */
  uint64_t loss_until_us;       /* one window decrease per loss episode */
  int rejected_logged;
  struct aoe_path_stats st;
};

enum req_kind { REQ_READ, REQ_WRITE, REQ_FLUSH, REQ_IDENTIFY, REQ_RESERVE };

/* Where a Reserve/Release reply's MAC list goes (every path's reply, merged), with what
 * the replies said about us: each path's responder keeps its own list. */
struct rr_result {
  uint8_t macs[AOE_MAX_HOLDERS][6];
  unsigned nmacs;
  unsigned replies;             /* paths that answered */
  unsigned without_us;          /* answers whose list names none of our interfaces */
  unsigned foreign;             /* answers naming a MAC that is not ours */
  uint8_t holder[6];            /* the first MAC not ours, when foreign */
};

/* What a reservation read says of a target we hold (rr_judge). */
enum rr_verdict {
  RR_UNKNOWN,                   /* no path answered */
  RR_HELD,                      /* every answer lists us */
  RR_LOST,                      /* a responder lists nobody: it forgot us (restarted) */
  RR_TAKEN,                     /* a responder lists another host: our claim was taken */
};
enum rr_verdict rr_judge(const struct rr_result *res);

struct aoe_req {
  struct aoe_req *next;
  struct aoe_target *t;
  enum req_kind kind;
  uint64_t lba;
  uint32_t nsect;
  uint8_t *buf;
  uint32_t issued;              /* sectors (READ/WRITE) or frames (others) handed out */
  int issued_all;
  unsigned inflight;            /* frames of this request in flight */
  int completed;
  int err;
  aoe_done_fn *done;
  void *opaque;
  struct aoe_path *pin;         /* IDENTIFY: the path being identified */
  int mtu_probe;                /* IDENTIFY: a read of NSECT sectors probing PIN's MTU */
  int proof;                    /* IDENTIFY: a held shelf's proof (aoe_options.may_resume):
                                   NSECT sectors at LBA read on PIN, a frame at a time */
  uint8_t rcmd, nmacs;          /* RESERVE request */
  uint8_t macs[AOE_MAX_PATHS][6];
  struct rr_result *rr;         /* RESERVE reply list */
};

enum frame_state { FRAME_FREE, FRAME_INFLIGHT, FRAME_FENCE };

struct aoe_frame {
  struct aoe_req *req;          /* NULL once its request failed early (orphan) */
  struct aoe_path *path;
  uint32_t tag;                 /* current tag; 0 when not awaiting a reply */
  uint32_t tag0;                /* the tag of its first transmission ... */
  uint64_t first_us;            /* ... and when it went */
  uint8_t state, cmd, ata_cmd, aflags;
  uint8_t write;                /* carries data to the target: fenced against overlap */
  uint16_t nsect;
  uint32_t off;                 /* sector offset in the request's buffer */
  uint64_t lba;
  uint64_t sent_us, deadline_us;
  unsigned retries;
};

/* A target's counters (struct aoe_stats without the per-path part: paths keep their own). */
struct aoe_target_counts {
  uint64_t reads, writes, flushes, read_bytes, write_bytes, errors, retransmits, dropped,
           unexpected, down_events, up_events;
};

struct aoe_target {
  struct aoe_initiator *ini;
  struct aoe_target *hnext;     /* next in its hash bucket (ini->buckets) */
  unsigned shelf, slot;
  /* Its pointer went to a caller (aoe_targets, aoe_target_find): callers keep it with no
   * reference count, so from then on the target is never evicted or freed before
   * aoe_close. */
  int handed;
  uint64_t seen_us;             /* its last Query Config reply */
  /* Its place in its eviction list (ini->lru[identified]), oldest first; out of both once
   * handed: such a target is never evicted. */
  struct aoe_target *lru_prev, *lru_next;
  atomic_int up;
  /* Held (aoe_options.may_down): silent past its dead time, kept up, its paths down so
   * nothing is sent until one is identified again (engine.c, "holding a shelf"). */
  atomic_int held;
  uint64_t held_us;             /* the hold began then (0: not held) */
  uint64_t hold_until_us;       /* declared down then, unless it answers */
  uint64_t hold_end_us;         /* the last hold ended then (it answered again) */
  atomic_ullong up_spells;       /* st.up_events, readable without the lock */
  atomic_int write_cache;       /* as last identified (aoe_ident.write_cache) */
  int identified;
  struct aoe_ident ident;
  uint8_t flush_cmd;            /* ATA_FLUSH_EXT, ATA_FLUSH, or 0 when the shelf has none */
  uint16_t firmware;
  unsigned bufcnt, scnt;
  char *config;                 /* its config string; NULL while empty (most shelves) */
  struct aoe_path paths[AOE_MAX_PATHS];
  size_t npaths;
  unsigned rr_next;             /* round-robin position over paths */
  /* The frame table: allocated at the first frame and doubled as the window grows (to
   * AOE_MAX_FRAMES), so a target never used for I/O (an idle spare, a made-up address)
   * costs ~3 KiB, not ~20.  Frames are indexed, never pointed to across a growth. */
  struct aoe_frame *frames;
  uint16_t *freelist;
  unsigned nframes;             /* frames[0..nframes) allocated */
  unsigned nfree, hiwater;      /* frames[0..hiwater) have been used */
  unsigned inflight;
  unsigned probes_inflight;     /* of inflight, MTU probes: no I/O waits on them */
  uint64_t busy_since_us, last_heard_us;
  uint32_t taggen;
  struct aoe_req *q_head, *q_tail;      /* requests with frames still to issue */
  struct aoe_req *ctl_head, *ctl_tail;  /* IDENTIFY requests (pinned to a path) */
  int conflict;                 /* two different disks claimed this address before first use */
  int reserved;                 /* we hold a reservation: re-assert it after a restart */
  int claimed;                  /* reserved by aoe_reserve and not released since: part of
                                   the initiator's claim (its I/O stops once it is taken) */
  /* Keeping the reservation (engine.c, "reservations kept"): */
  uint64_t rr_next_us;          /* when to read the reservation list next */
  int rr_busy;                  /* a probe or a re-assert of ours is outstanding */
  uint64_t rr_lost_us;          /* the shelf forgot our reservation (seen then); 0: no */
  uint64_t rr_retry_us;         /* a re-assert failed: none again before then */
  uint64_t rr_read_us;          /* sent then, the last read that found no other host */
  uint64_t rr_announce_us;      /* its responder last announced itself (0: never) */
  /* The outstanding probe: a Reserve/Release read sent raw to every usable path, as a
   * keepalive is (no frame slot, no window, no retransmit: not I/O). */
  uint32_t rr_probe_tag;        /* 0: none; else AOE_RR_PROBE_TAG | sequence */
  uint32_t rr_probe_seq;
  uint64_t rr_probe_us;         /* sent then */
  unsigned rr_probe_sent, rr_probe_got;   /* bit i: path i asked, answered */
  struct rr_result rr_probe;    /* the answers so far */
  /* This process's claim of the target among those of this host (claim.c): one bound
   * socket per interface, held from aoe_reserve until aoe_release or aoe_close. */
  int claim_fds[AOE_MAX_IFACES];
  unsigned nclaim_fds;
  int claim_known;              /* held once here: a copy a fork of ours still holds is ours */
  struct aoe_target_counts st;
  char last_error[256];
};

struct aoe_initiator {
  struct aoe_options opt;
  struct aoe_iface ifaces[AOE_MAX_IFACES];
  size_t nifaces;
  /* Every target heard of, ordered by shelf.slot; grown as needed up to AOE_MAX_TARGETS,
   * beyond which a new address evicts an unused target (engine.c, target_make_room). */
  struct aoe_target **targets;
  size_t ntargets, targets_cap;
  struct aoe_target *buckets[AOE_TARGET_BUCKETS];
  /* Targets not handed to a caller, heard from longest ago first: [0] never identified
   * (made-up addresses among them), [1] identified.  Evictions take [0]'s head, else the
   * first of [1] that is unused: O(1) per made-up address in a flood. */
  struct { struct aoe_target *head, *tail; } lru[2];
  /* The last "target table is full" line (0: none): [0] of an address not tracked, [1]
   * of one that evicted an unused target. */
  uint64_t table_full_logged_us[2];
  /* "sending Query Config failed": each probe (every AOE_PROBE_MS while a target is
   * down) of an interface that lost its link would say it (logburst.h) */
  struct log_burst query_burst;
  /* An IDENTIFY of a target never identified failed: aoe_engine_step drops such targets
   * (engine.c, reap_unidentified). */
  int reap_pending;
  pthread_mutex_t lock;
  pthread_mutex_t qlock;        /* submissions from callers */
  struct aoe_req *sub_head, *sub_tail;
  int evfd;
  /* aoe_poll's callers: when one last polled, when a thread last began to sleep on a
   * completion, and how many sleep now.  The loop leaves the sockets alone while a poll
   * is recent and no sleep is (engine.c, aoe_loop_watches); loop_watching says whether
   * its poll includes them. */
  atomic_ullong last_poll_us, last_sleep_us;
  atomic_uint sleepers;
  atomic_int loop_watching;
  pthread_t thread;
  int running;
  atomic_int stop;
  atomic_int closing;
  uint64_t next_discover_us;
  uint64_t next_wake_us;        /* earliest timer the loop must wake for */
  unsigned identifying;         /* IDENTIFY requests outstanding */
  /* The last addresses that answered Query Config, but not IDENTIFY within the dead time
   * (a ring: identify_notes_next is the oldest's slot). */
  struct { unsigned shelf, slot, waited_ms; } identify_notes[AOE_IDENTIFY_NOTES];
  unsigned identify_notes_next;
  struct aoe_req *done_head, *done_tail;  /* completions to deliver after unlocking */
  struct aoe_initiator_stats st;
  uint64_t parse_counts[AOE_PARSE_NRESULTS];
  /* Another host holds a target of our claim (a read listed it, or AoE error 6): nothing
   * is re-asserted any more and no I/O goes to a claimed target.  Sticky. */
  int rr_taken;
  char rr_taken_by[64];         /* "eS.S is now reserved by MAC" for messages */
  struct aoe_target *rr_taken_t;  /* that eS.S */
  uint64_t last_step_us;        /* the loop's last step (0: not measured, after a start) */
  uint64_t rr_stall_us;         /* when the initiator last resumed from a stall (0: never) */
  /* The clock the engine's timers and judgements read (aoe_clock_us); NULL: aoe_now_us.
   * A test that steps the engine itself sets its own, so that no result depends on how
   * late a loaded machine ran it.  The loop's sleeps (aoe_ms_until, aoe_discover) stay on
   * CLOCK_MONOTONIC: an initiator with a clock of its own runs no loop. */
  uint64_t (*clock_us)(void);
};

/* Append R to the singly linked list HEAD..TAIL. */
static inline void aoe_req_append(struct aoe_req **head, struct aoe_req **tail,
                                  struct aoe_req *r)
{
  r->next = NULL;
  if (*tail)
    (*tail)->next = r;
  else
    *head = r;
  *tail = r;
}

/* Take the whole list HEAD..TAIL, guarded by LOCK. */
static inline struct aoe_req *aoe_req_take(pthread_mutex_t *lock, struct aoe_req **head,
                                           struct aoe_req **tail)
{
  pthread_mutex_lock(lock);
  struct aoe_req *r = *head;
  *head = *tail = NULL;
  pthread_mutex_unlock(lock);
  return r;
}

uint64_t aoe_now_us(void);
/* Say how many "sending Query Config failed" lines were left out when due (FORCE: all) */
void aoe_query_burst_flush(struct aoe_initiator *ini, int force);
/* INI's clock: ini->clock_us, or CLOCK_MONOTONIC (aoe_now_us). */
uint64_t aoe_clock_us(const struct aoe_initiator *ini);
void aoe_log(struct aoe_initiator *ini, int level, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
void aoe_set_error(struct aoe_target *t, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

/* claim.c */
/* Take T's claim on this host for every interface's MAC (held already: 0).  Another
 * process holding it: -EBUSY with a line naming it in ERR; other errors -errno. */
int aoe_claim_take(struct aoe_target *t, char *err, size_t errlen);
void aoe_claim_drop(struct aoe_target *t);
/* After a fork: the claims held name this process as their holder. */
void aoe_claim_owner(struct aoe_initiator *ini);

/* engine.c */
/* One turn of the loop: wait up to TIMEOUT_MS, then receive, time, send and complete.
 * Returns when the loop next has timed work (CLOCK_MONOTONIC us). */
uint64_t aoe_engine_step(struct aoe_initiator *ini, int timeout_ms);
/* The same on the loop thread, which leaves the sockets to pollers while a poll is recent
 * and nobody sleeps on a completion (aoe_poll, aoe_sleep_begin). */
uint64_t aoe_loop_step(struct aoe_initiator *ini, int timeout_ms);
/* Whether the loop's next poll includes the sockets (sets ini->loop_watching); when not,
 * *TIMEOUT_MS (-1: none) is shortened to when the pollers' hold runs out. */
int aoe_loop_watches(struct aoe_initiator *ini, int *timeout_ms);
/* One received frame of LEN bytes on IFC, as the receive loop hands it over (caller holds
 * ini->lock): parsed, then matched to a target and a frame in flight, or counted and
 * dropped.  Also the unit tests' way in (tests/unit/aoe-rx.c). */
void aoe_engine_rx(struct aoe_initiator *ini, struct aoe_iface *ifc, const uint8_t *frame,
                   size_t len, uint64_t now);
int aoe_ms_until(uint64_t when_us, int max_ms);
int aoe_engine_timeout(struct aoe_initiator *ini, int max_ms);
void aoe_broadcast_query(struct aoe_initiator *ini);
void aoe_req_complete(struct aoe_initiator *ini, struct aoe_req *r, int err);
void aoe_deliver(struct aoe_initiator *ini);
void aoe_target_fail_all(struct aoe_target *t, int err);
void aoe_wake(struct aoe_initiator *ini);
int aoe_issue_direct(struct aoe_initiator *ini, struct aoe_target *t);
/* A zeroed request of KIND on T; NULL when out of memory. */
struct aoe_req *aoe_req_new(struct aoe_target *t, enum req_kind kind, aoe_done_fn *done,
                            void *opaque);
void aoe_req_our_macs(struct aoe_target *t, struct aoe_req *r);
/* The target at shelf.slot, or NULL: a hash lookup (every reply received does one). */
struct aoe_target *aoe_target_lookup(struct aoe_initiator *ini, unsigned shelf, unsigned slot);
/* T's place in the eviction lists (engine.c): out of them (T was handed to a caller), or
 * to the tail of its list (T was just heard from, or identified). */
void aoe_lru_remove(struct aoe_initiator *ini, struct aoe_target *t);
void aoe_lru_touch(struct aoe_initiator *ini, struct aoe_target *t);
/* T goes to a caller, who keeps it: never evicted from now on. */
void aoe_target_hand(struct aoe_initiator *ini, struct aoe_target *t);
/* Free T and what only it holds (its pending IDENTIFYs); not its caller requests. */
void aoe_target_free(struct aoe_target *t);

#endif

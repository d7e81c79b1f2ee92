/* aoe.h: the aoeraid AoE initiator library.
 *
 * One struct aoe_initiator per process owns the local interfaces (libpcap handles), the
 * targets (shelf.slot) it discovered with their paths (local interface + target MAC), and
 * one loop thread that sends frames, receives replies, retransmits and completes requests.
 * Callers submit whole requests of any size from any number of threads; the library cuts
 * them into frames and never blocks the caller on the network.
 *
 * nbdkit forks after .get_ready, so the intended sequence is aoe_open, aoe_start,
 * aoe_discover, (use), aoe_stop in .get_ready and aoe_start again in .after_fork. */
#ifndef AOE_H
#define AOE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AOE_MAX_PATHS 8
/* Targets (shelf.slot addresses) an initiator tracks at most: 170 shelves of 24 slots, far
 * beyond a real SAN, yet a bound on what made-up Query Config replies can cost (~3 KiB
 * each until used for I/O).  Past it, a new address evicts the target heard from longest
 * ago among those nobody uses (never handed to a caller, never reserved, nothing in
 * flight), one never identified (a made-up address) before one that answered IDENTIFY;
 * with none such, it is not tracked.  One line a minute says so (docs/design.md). */
#define AOE_MAX_TARGETS 4096

enum { AOE_LOG_ERROR, AOE_LOG_WARN, AOE_LOG_INFO, AOE_LOG_DEBUG };

struct aoe_initiator;           /* one per process: interfaces, targets, the loop thread */
struct aoe_target;              /* one shelf.slot, with its paths */

struct aoe_options {
  const char *const *ifaces;    /* interface names; NULL/0 = every up non-loopback Ethernet iface */
  size_t n_ifaces;
  /* No answer this long to I/O, or to the keepalives an idle path is sent, = shelf (or
   * path) down; 0 = 5000. */
  unsigned dead_time_ms;
  unsigned rediscover_ms;       /* periodic Query Config broadcast; 0 = 10000 */
  void (*log)(void *opaque, int level, const char *msg);   /* NULL = silent */
  void *log_opaque;
  /* While *trace_frames is non-zero, one AOE_LOG_DEBUG line per frame sent ("tx") and per
   * reply matched ("rx"): a flag the caller may flip at any time (nbdkit's -D). */
  const int *trace_frames;
  /* Holding a shelf the caller cannot do without (a switch outage silences every shelf
   * at once).  A shelf silent for the dead time is declared down only when MAY_DOWN
   * (MAY_DOWN_OPAQUE, the shelf) returns 1; on 0 it is held: it stays up, its I/O waits
   * (queued, or in flight, asked again once it answers), Query Config probes for it, and
   * when it answers (IDENTIFY again, the same serial and size) the I/O resumes.  It is
   * declared down after HOLD_TIME_MS more.  MAY_DOWN runs on the loop thread with the
   * initiator's lock held: it may call only the lock-free aoe_target_up, aoe_target_held
   * and aoe_target_up_spells.  A shelf it judges first is down (or held) before the next
   * one is judged.  NULL or HOLD_TIME_MS 0: every shelf goes down at its dead time. */
  int (*may_down)(void *opaque, struct aoe_target *t);
  void *may_down_opaque;
  unsigned hold_time_ms;
  /* A held shelf that answers again proves its disk before its held I/O goes (the serial
   * may name the address, not the disk: vblade's).  When a path of it is identified again
   * with the same serial and size, PROOF_SECTORS sectors at PROOF_LBA are read on that
   * path, nothing else being sent to it meanwhile, and MAY_RESUME (MAY_DOWN_OPAQUE, the
   * shelf, those sectors and their length) judges them: 1, the same disk: the hold ends;
   * 0, another disk: the path is refused as an impostor's and the hold goes on (it runs
   * out, or the shelf's own disk answers on another path).  A read that fails leaves the
   * shelf held, read again at its next answer.  On the loop thread under the initiator's
   * lock, as MAY_DOWN: quick, and no lock held across I/O.  NULL (or PROOF_SECTORS 0):
   * the same serial and size end the hold. */
  int (*may_resume)(void *opaque, struct aoe_target *t, const uint8_t *block, size_t len);
  uint64_t proof_lba;
  unsigned proof_sectors;
};

/* Open the interfaces (libpcap, immediate mode, AoE-reply filter).  No threads yet.
 * On failure returns NULL with a one-line reason in ERR. */
struct aoe_initiator *aoe_open(const struct aoe_options *, char *err, size_t errlen);
int  aoe_start(struct aoe_initiator *);    /* start the loop thread; 0 or -errno */
void aoe_stop(struct aoe_initiator *);     /* stop the loop thread, keep all state */
void aoe_close(struct aoe_initiator *);    /* stop, fail pending I/O with ESHUTDOWN, free */

/* Broadcast Query Config on every interface, wait WAIT_MS for answers, IDENTIFY new
 * targets and paths, return how many targets are up.  An IDENTIFY is asked again until
 * the dead time after its first try (a disk spinning up answers in seconds), and waited
 * for as long: the extra wait is bounded by the dead time and a second; past a second of
 * it, one AOE_LOG_INFO line names the shelves waited for.  Works with or without the loop
 * thread running (without it, the caller's thread runs the loop). */
int aoe_discover(struct aoe_initiator *, unsigned wait_ms);

/* aoe_discover for a caller that wants some shelves only: once ENOUGH(OPAQUE) is true
 * (asked without the initiator's lock, between steps), IDENTIFY answers are waited for
 * no longer than a second, so another shelf's slow IDENTIFY does not hold it up to the
 * dead time. */
typedef int aoe_enough_fn(void *opaque);
int aoe_discover_until(struct aoe_initiator *, unsigned wait_ms, aoe_enough_fn *enough,
                       void *opaque);

/* aoe_discover_until for a caller that wants nothing but some shelves: it returns as soon
 * as FOUND(OPAQUE) is true (asked without the initiator's lock, from the start and 10 ms
 * apart at most), in the Query Config rounds too, not waiting out WAIT_MS nor the second
 * round, nor any IDENTIFY still pending; while FOUND is false it waits as
 * aoe_discover_until with FOUND as ENOUGH.  A shelf's other paths may not have answered
 * yet when it returns (they are added as they answer, with the loop thread running): for a
 * caller to which one path is enough. */
int aoe_discover_found(struct aoe_initiator *, unsigned wait_ms, aoe_enough_fn *found,
                       void *opaque);

/* How long (ms) the shelf at SHELF.SLOT, which answered Query Config, went without
 * answering IDENTIFY: its IDENTIFY in flight, or its last one, given up at the dead time
 * (a disk spinning up or busy).  0 when it is identified, or never answered Query Config
 * as far as the initiator remembers (the last 16 addresses given up: a flood of made-up
 * ones pushes a real one out).  For a caller to say why a shelf it waited for is not
 * there. */
unsigned aoe_identify_unanswered_ms(struct aoe_initiator *, unsigned shelf, unsigned slot);

/* "h0, h1": the interfaces in use, for messages.  Returns the length written. */
size_t aoe_iface_names(struct aoe_initiator *, char *buf, size_t len);

/* Identified targets (up or down), ordered by shelf.slot: at most MAX of them (up to
 * AOE_MAX_TARGETS exist).  A target returned here or by aoe_target_find stays valid until
 * aoe_close: it is never evicted. */
size_t aoe_targets(struct aoe_initiator *, struct aoe_target **out, size_t max);
struct aoe_target *aoe_target_find(struct aoe_initiator *, unsigned shelf, unsigned slot);

struct aoe_target_info {
  unsigned shelf, slot;
  uint64_t sectors;
  char serial[21], model[41];
  char firmware[8];             /* Query Config firmware version, hex */
  unsigned bufcnt;              /* target's buffer count (frames it queues) */
  unsigned scnt;                /* sectors per frame in use */
  int write_cache;              /* aoe_target_write_cache */
  int up;
  int held;                     /* aoe_target_held */
  unsigned held_ms;             /* held this long so far (0: not held) */
  size_t npaths;                /* accepted paths */
  struct { char iface[16]; uint8_t mac[6]; } paths[AOE_MAX_PATHS];
  char config[1025];
};
int aoe_target_info(struct aoe_target *, struct aoe_target_info *);
/* 1 while the target answers, 0 once it was declared down: one atomic read, no lock, for
 * hot paths that ask before every I/O (aoe_target_info copies ~1.2 KiB under a lock). */
int aoe_target_up(struct aoe_target *);
/* 1 while the target is held (aoe_options.may_down): silent past its dead time, up, its
 * I/O waiting for it; one atomic read, no lock. */
int aoe_target_held(struct aoe_target *);
/* Hold no shelf any more (aoe_options.may_down): those held are declared down at the
 * loop's next step, their I/O failed; a shelf silent from now on goes down at its dead
 * time.  For a caller about to close: its last writes need not wait for hold-time. */
void aoe_end_holds(struct aoe_initiator *);
/* Hold the target no longer: held, it is declared down at the loop's next step, its I/O
 * failed with EIO (the administrator knows the shelf is gone and its user can do
 * without it now).  1 if it was held, 0 if not (nothing done). */
int aoe_end_hold(struct aoe_target *);
/* How many up spells the target had (aoe_stats.up_events): one atomic read, no lock.  A
 * count that grew is a shelf that went down and answered again, maybe with another disk
 * behind its address. */
uint64_t aoe_target_up_spells(struct aoe_target *);
/* 1 when the shelf's disk said (IDENTIFY word 85) it keeps writes in a volatile cache, so
 * an acknowledged write is durable only after a flush; 0 (vblade) when not. */
int aoe_target_write_cache(struct aoe_target *);

/* err is 0 or a positive errno.  Called exactly once: from the loop thread, or from the
 * submitting thread when aoe_submit fails at once. */
typedef void aoe_done_fn(void *opaque, int err);

enum aoe_op { AOE_READ, AOE_WRITE, AOE_FLUSH };

/* Queue an I/O of NSECT 512-byte sectors at LBA (FLUSH: lba, nsect, buf ignored).  When
 * the loop thread is idle, the caller's thread sends the request's first frames itself
 * (non-blocking sends; DONE still runs on the loop thread).  BUF
 * must stay valid until DONE runs.  Returns 0 when queued; on immediate failure (target
 * down: EIO; range past the end or bad op: EINVAL; closing: ESHUTDOWN) DONE has already
 * been called with that errno in this thread and -errno is returned. */
int aoe_submit(struct aoe_target *, enum aoe_op, uint64_t lba, uint32_t nsect, void *buf,
               aoe_done_fn *done, void *opaque);
/* Match and complete, on the caller's thread, the replies that have already arrived for
 * any target of T's initiator (DONE callbacks run here).  Never blocks or sends.  For a
 * caller about to wait on a request it expects answered within microseconds: polling a
 * few times first saves two scheduler wake-ups (the loop thread's, then the caller's).
 * Returns the frames received; 0 also when the loop thread is busy receiving them. */
int aoe_poll(struct aoe_target *);
/* While threads poll (aoe_poll), the loop thread leaves the sockets to them: woken by
 * every reply as well, it would cost a scheduler wake-up per request for nothing.  So a
 * thread that stops polling and sleeps until a completion says so first (aoe_sleep_begin),
 * and the loop watches the sockets again until it says it woke (aoe_sleep_end). */
void aoe_sleep_begin(struct aoe_target *);
void aoe_sleep_end(struct aoe_target *);
/* Blocking form: 0 or -errno. */
int aoe_io(struct aoe_target *, enum aoe_op, uint64_t lba, uint32_t nsect, void *buf);

/* Claim the target for this host's MACs (on every path); FORCE takes it from another
 * holder.  On failure returns -errno (-EBADE: another host holds it) with a message
 * naming the holder in ERR.  The shelf cannot tell two processes on one interface apart
 * (one MAC), so the claim is also taken on this host: -EBUSY when another process here
 * holds the target (FORCE or not), ERR naming it; nothing is sent then.
 * The reservations held are kept: a shelf forgets them when it restarts (vblade keeps
 * them in memory only), so the list of every target we hold is read every keepalive
 * interval, and a target that announces itself (vblade does when it starts) or comes
 * back from down is taken to have forgotten us.  Ours is re-asserted, once every other
 * target we hold has been read since and none is held by another host; I/O to it waits
 * for that.  After the initiator did not run for a second or more (its process was
 * stopped), I/O to every target we hold waits until its list was read again.  No wait
 * lasts longer than the dead time.
 * The targets reserved here (until aoe_release) are one claim: once another host holds
 * one of them (a read lists it, our re-assert is refused, or I/O gets the shelf's AoE
 * error 6, a reservation conflict), nothing is re-asserted any more, and I/O to a target
 * of the claim that does not hold our reservation (the one taken, one that forgot it)
 * fails with EBADE, unsent: a restarted shelf would take it.  Targets still ours get
 * their I/O: stopping at the first EBADE is the caller's. */
int aoe_reserve(struct aoe_target *, int force, char *err, size_t errlen);
/* Once the claim was taken: the target seen taken first, with "eS.S is now reserved by
 * MAC" in BUF ("... by another host" when it refused I/O: aoe_reserve_read names the
 * holder); else NULL. */
struct aoe_target *aoe_claim_taken(struct aoe_initiator *, char *buf, size_t len);
/* Release our reservation: the target leaves the claim at once, even when the release
 * cannot be sent (the shelf is down; call again once it is back).  A target another
 * process of this host holds is not released (its reservation, under our MAC): -EBUSY. */
int aoe_release(struct aoe_target *);
/* 0 when no other process of this host holds the target (aoe_reserve's claim), else
 * -EBUSY with a line naming it in ERR: for a user that reserves nothing, which the shelf
 * cannot refuse while it refuses other hosts (the reservation names this host's MAC). */
int aoe_claim_free(struct aoe_target *, char *err, size_t errlen);
/* Read the reservation list: up to MAX MACs into MACS; returns the count or -errno. */
int aoe_reserve_read(struct aoe_target *, uint8_t (*macs)[6], size_t max);
/* 1 when MAC is the address of one of the initiator's interfaces (this host), else 0. */
int aoe_local_mac(struct aoe_initiator *, const uint8_t mac[6]);

struct aoe_path_stats {
  char iface[16];
  uint8_t mac[6];
  int up;
  uint64_t frames_sent, frames_recv, bytes_sent, bytes_recv;
  uint64_t retransmits, timeouts, errors;
  uint64_t unexpected;          /* replies from this path that matched no frame in flight */
  uint64_t keepalives;          /* Query Configs sent while the path was idle */
  uint32_t srtt_us, rttvar_us, rto_us;
  unsigned window, ssthresh, inflight;
};

struct aoe_stats {
  unsigned shelf, slot;
  int up;
  int held;                                 /* aoe_target_held */
  unsigned held_ms;                         /* held this long so far (0: not held) */
  /* Up, not held, and asked without an answer on every path that is up (a frame timed
   * out, or a keepalive went unanswered, since it was last heard): this long since it
   * last answered.  0 while it answers.  Its dead time counts from there. */
  unsigned silent_ms;
  uint64_t reads, writes, flushes;          /* requests completed */
  uint64_t read_bytes, write_bytes;
  uint64_t errors;                          /* requests failed */
  uint64_t retransmits;
  uint64_t dropped;                         /* frames given up (target down or request failed) */
  uint64_t unexpected;                      /* replies from MACs that are not accepted paths */
  uint64_t down_events, up_events;
  size_t npaths;
  struct aoe_path_stats paths[AOE_MAX_PATHS];
};
int aoe_target_stats(struct aoe_target *, struct aoe_stats *);

/* Frames the initiator rejected before matching, by reason (see aoe/frame.h). */
struct aoe_initiator_stats {
  uint64_t frames_recv;
  uint64_t rejected_short, rejected_ethertype, rejected_version, rejected_flags,
           rejected_count, rejected_command;
  uint64_t unknown_target;      /* valid replies for a shelf.slot we do not track */
  /* The target table at AOE_MAX_TARGETS: targets evicted for a new address, and new
   * addresses not tracked (every target was in use). */
  uint64_t targets_evicted, targets_refused;
};
int aoe_initiator_stats(struct aoe_initiator *, struct aoe_initiator_stats *);

/* The message of the target's last failure ("" if none); valid until the next failure. */
const char *aoe_target_last_error(struct aoe_target *);

/* Write "eSHELF.SLOT" for messages. */
void aoe_target_name(struct aoe_target *, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif

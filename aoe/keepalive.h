/* aoe/keepalive.h: when an idle path is asked whether it is alive, and when its silence
 * makes it dead (pure, unit-tested).
 *
 * A frame that goes unanswered for the dead time takes its shelf down; a shelf that dies
 * while nothing is sent to it would never be noticed that way.  So every path that is up,
 * has nothing in flight and has not been heard from for a keepalive interval is sent a
 * unicast Query Config (the message discovery broadcasts; vblade answers it), one per
 * interval.  A reply to any frame of the path, I/O or keepalive, is life.  A path whose
 * keepalives have gone unanswered for the dead time is silent, as one whose frames have:
 * it goes down, and the shelf with its last path. */
#ifndef AOE_KEEPALIVE_H
#define AOE_KEEPALIVE_H

#include <stdint.h>

/* The interval is a fifth of the dead time, so a path is asked five times before its
 * silence takes it down: a lossy link (each ask is two frames that may be lost) is not
 * declared dead by a lost frame or two, and a dead shelf is noticed within the dead time
 * plus one interval.  Bounded below, so a tiny dead time (tests) does not turn idleness
 * into traffic, and above, so a long one (the Linux driver's 180 s) does not leave a dead
 * shelf unasked for minutes: one 60-byte frame every 5 s per idle path is nothing. */
#define AOE_KEEPALIVE_FRACTION 5
#define AOE_KEEPALIVE_MIN_MS 100
#define AOE_KEEPALIVE_MAX_MS 5000

struct aoe_keepalive {
  uint64_t first_us;            /* the first keepalive sent since the path was last heard
                                   (stale, answered, when not after last_heard) */
  uint64_t last_us;             /* the latest keepalive sent */
};

enum aoe_keepalive_due {
  AOE_KEEPALIVE_WAIT,           /* nothing to do before *next_us */
  AOE_KEEPALIVE_SEND,           /* quiet for an interval: ask it (if nothing is in flight) */
  AOE_KEEPALIVE_DEAD,           /* its keepalives went unanswered for the dead time */
};

unsigned aoe_keepalive_interval_ms(unsigned dead_ms);

/* What a path last heard from at LAST_HEARD_US needs at NOW_US with a dead time of
 * DEAD_MS.  On WAIT, *NEXT_US is when to ask again. */
enum aoe_keepalive_due aoe_keepalive_due(const struct aoe_keepalive *k, uint64_t last_heard_us,
                                         uint64_t now_us, unsigned dead_ms, uint64_t *next_us);

/* A keepalive went out at NOW_US. */
void aoe_keepalive_sent(struct aoe_keepalive *k, uint64_t last_heard_us, uint64_t now_us);

/* How long the path's keepalives have gone unanswered (0: none is). */
uint64_t aoe_keepalive_unanswered_us(const struct aoe_keepalive *k, uint64_t last_heard_us,
                                     uint64_t now_us);

#endif

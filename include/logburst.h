/* Log lines that can come once per request, member I/O or frame (a stripe that cannot be
 * reconstructed, a member's read error, a failed request ...) are limited as the kernel's
 * printk_ratelimited limits md's: an outage must not become a flood of lines that
 * hides the ones that matter.  The first LOG_BURST_LINES of an episode are said (they
 * carry the facts); after them, at most one line every LOG_BURST_INTERVAL_US says how
 * many were left out.  An episode ends when no line comes for a whole interval: the next
 * one is said in full again.  A line about one of several things (a member, an
 * interface: its KEY) is said when it is the first of its key in the episode, even after
 * the first LOG_BURST_LINES: a second member's errors are a new fact, not more of the
 * first one's flood.
 *
 * One struct log_burst for each kind of line (each call site), a field of what logs it
 * (the array, the initiator, the plugin): explicit state, no allocation; thread-safe (its
 * lock is a leaf).  The caller passes the time (CLOCK_MONOTONIC, microseconds) and says
 * the summary itself, in its own words: this header knows no log and no wording. */
#ifndef AOERAID_LOGBURST_H
#define AOERAID_LOGBURST_H

#include <pthread.h>
#include <stdint.h>

#define LOG_BURST_LINES 10
#define LOG_BURST_INTERVAL_US 5000000ull

struct log_burst {
  pthread_mutex_t lock;         /* a leaf: nothing is taken under it */
  int active;                   /* a line came in this episode */
  uint64_t last_us;             /* when the last line came, said or left out */
  unsigned said;                /* lines said in this episode (up to LOG_BURST_LINES) */
  unsigned long long left_out;  /* lines left out since the last summary */
  uint64_t left_since_us;       /* when the first of those came */
  uint64_t summary_at_us;       /* the next summary is said no sooner */
  uint64_t keys_said;           /* the keys said in this episode, one bit each */
};

#define LOG_BURST_NO_KEY (-1)     /* a line about no one thing; keys are 0..63 */

/* What was left out, for a summary line: LEFT_OUT lines (0: no summary is due) over
 * the last SECONDS (at least 1). */
struct log_burst_sum {
  unsigned long long left_out;
  unsigned long long seconds;
};

static inline void
log_burst_init (struct log_burst *b)
{
  *b = (struct log_burst) { .active = 0 };
  pthread_mutex_init (&b->lock, NULL);
}

static inline void
log_burst_destroy (struct log_burst *b)
{
  pthread_mutex_destroy (&b->lock);
}

/* Under b->lock: move what was left out to SUM, its span ending at END_US. */
static inline void
log_burst_sum_take (struct log_burst *b, uint64_t end_us, struct log_burst_sum *sum)
{
  uint64_t span = end_us > b->left_since_us ? end_us - b->left_since_us : 0;

  sum->left_out = b->left_out;
  sum->seconds = span / 1000000 + (span % 1000000 != 0);
  if (sum->seconds == 0)
    sum->seconds = 1;
  b->left_out = 0;
  b->summary_at_us = end_us + LOG_BURST_INTERVAL_US;
}

/* A line of B's kind about KEY (LOG_BURST_NO_KEY: about no one thing) comes at NOW_US: 1
 * to say it, 0 to leave it out.  Either way, when SUM->left_out is not 0, say the summary
 * first. */
static inline int
log_burst_take_key (struct log_burst *b, uint64_t now_us, int key, struct log_burst_sum *sum)
{
  uint64_t bit = key >= 0 && key < 64 ? 1ull << key : 0;
  int say, first_of_key;

  sum->left_out = 0;
  pthread_mutex_lock (&b->lock);
  if (now_us < b->last_us)      /* its thread read the clock before another took the lock */
    now_us = b->last_us;
  if (b->active && now_us - b->last_us >= LOG_BURST_INTERVAL_US) {  /* quiet: it ended */
    if (b->left_out)
      log_burst_sum_take (b, b->last_us, sum);
    b->said = 0;
    b->keys_said = 0;
  }
  b->active = 1;
  b->last_us = now_us;
  first_of_key = bit && !(b->keys_said & bit);
  b->keys_said |= bit;
  say = b->said < LOG_BURST_LINES || first_of_key;
  if (b->said < LOG_BURST_LINES) {
    if (++b->said == LOG_BURST_LINES)
      b->summary_at_us = now_us + LOG_BURST_INTERVAL_US;
  }
  else if (!say) {
    if (b->left_out++ == 0)
      b->left_since_us = now_us;
    if (now_us >= b->summary_at_us)
      log_burst_sum_take (b, now_us, sum);
  }
  pthread_mutex_unlock (&b->lock);
  return say;
}

static inline int
log_burst_take (struct log_burst *b, uint64_t now_us, struct log_burst_sum *sum)
{
  return log_burst_take_key (b, now_us, LOG_BURST_NO_KEY, sum);
}

/* No line came; a summary is due at NOW_US (a periodic tick: a flood that stopped is
 * summed up too) or FORCE (the log's owner closes): 1 with SUM filled, else 0. */
static inline int
log_burst_flush (struct log_burst *b, uint64_t now_us, int force, struct log_burst_sum *sum)
{
  int due;

  sum->left_out = 0;
  pthread_mutex_lock (&b->lock);
  due = b->left_out && (force || now_us >= b->summary_at_us);
  if (due)
    log_burst_sum_take (b, now_us < b->last_us ? b->last_us : now_us, sum);
  pthread_mutex_unlock (&b->lock);
  return due;
}

#endif

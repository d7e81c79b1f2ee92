/* What an NBD client is told when one of its requests fails (see reply.h). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <nbdkit-plugin.h>

#include "logburst.h"
#include "reply.h"

/* A client that keeps reading a dead array fails every request: the first lines say
 * why, then one line every few seconds how many more (logburst.h). */
static struct log_burst reply_burst = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t monotonic_us(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void say_left_out(const struct log_burst_sum *sum)
{
  nbdkit_error("... and %llu more requests failed so in the last %llu s (not logged one "
               "by one)", sum->left_out, sum->seconds);
}

static void log_failure(const char *what, int err, int told)
{
  struct log_burst_sum sum;
  int say = log_burst_take(&reply_burst, monotonic_us(), &sum);

  if (sum.left_out)
    say_left_out(&sum);
  if (say)
    nbdkit_error("%s failed: %s; the client is told: %s", what, strerror(err), strerror(told));
}

int reply_errno(int err)
{
  switch (err) {
  case EIO: case ENOMEM: case EROFS: case EPERM: case ENOSPC: case ENOTSUP:
  case ESHUTDOWN: case EINVAL:
    return err;
  default:                      /* ETIMEDOUT, ENODEV, ECANCELED, EAGAIN...: not done */
    return EIO;
  }
}

int reply_result(const char *what, int rc)
{
  if (rc >= 0)
    return 0;
  int told = reply_errno(-rc);
  if (told != -rc)
    log_failure(what, -rc, told);
  nbdkit_set_error(told);
  return -1;
}

void reply_log_tick(void)
{
  struct log_burst_sum sum;

  if (log_burst_flush(&reply_burst, monotonic_us(), 0, &sum))
    say_left_out(&sum);
}

void reply_log_close(void)
{
  struct log_burst_sum sum;

  if (log_burst_flush(&reply_burst, monotonic_us(), 1, &sum))
    say_left_out(&sum);
}

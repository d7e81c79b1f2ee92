/* What an NBD client is told when a request fails (plugin/reply.c): nbdkit turns an errno
 * it does not know into EINVAL ("your request was wrong"), so a dead shelf must reach the
 * client as EIO, with the real reason in the log. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "logburst.h"
#include "raid-test.h"
#include "../../plugin/reply.h"
#include "../../plugin/unaligned.h"

void nbdkit_error(const char *fmt, ...);
void nbdkit_set_error(int err);

static int told;                /* nbdkit_set_error's, 0: not called */
static char logged[512];        /* the last nbdkit_error line */
static unsigned n_logged;       /* nbdkit_error lines */

void nbdkit_error(const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(logged, sizeof logged, fmt, ap);
  va_end(ap);
  n_logged++;
}

void nbdkit_set_error(int err) { told = err; }

static void reset(void)
{
  told = 0;
  logged[0] = 0;
}

/* What nbdkit 1.32 passes to a client as itself (server/protocol.c nbd_errno). */
static int nbdkit_passes(int err)
{
  return err == EROFS || err == EPERM || err == EIO || err == ENOMEM || err == EINVAL
    || err == ENOSPC || err == ESHUTDOWN || err == ENOTSUP || err == EOVERFLOW;
}

Test(reply, a_member_error_is_an_io_error_to_the_client_with_the_reason_logged)
{
  const int member_errors[] = { ETIMEDOUT, ENODEV, ECANCELED, EAGAIN, EBUSY, ENOENT, ENXIO,
                                EFBIG, ECONNRESET, EHOSTUNREACH };

  for (unsigned i = 0; i < sizeof member_errors / sizeof member_errors[0]; i++) {
    int err = member_errors[i];
    reset();
    cr_expect_eq(reply_result("pread", -err), -1);
    cr_expect_eq(told, EIO, "%s: the client is told %s, not EIO", strerror(err), strerror(told));
    cr_expect(strstr(logged, "pread failed: ") && strstr(logged, strerror(err)),
              "%s: the log does not say it: '%s'", strerror(err), logged);
  }
}

Test(reply, what_a_client_understands_passes_unchanged_and_unlogged)
{
  const int own[] = { EIO, ENOMEM, EROFS, ENOSPC, ENOTSUP, EINVAL, ESHUTDOWN };

  for (unsigned i = 0; i < sizeof own / sizeof own[0]; i++) {
    reset();
    cr_expect_eq(reply_result("pwrite", -own[i]), -1);
    cr_expect_eq(told, own[i], "%s: the client is told %s", strerror(own[i]), strerror(told));
    cr_expect_eq(logged[0], 0, "%s logged again: %s", strerror(own[i]), logged);
  }
  reset();
  cr_expect_eq(reply_result("flush", 0), 0);
  cr_expect_eq(told, 0, "a request that went through set an error");
}

/* Whatever raid/ or aoe/ may return one day, nbdkit never turns it into EINVAL. */
Test(reply, no_errno_reaches_nbdkit_as_one_it_does_not_pass)
{
  for (int err = 1; err < 134; err++)
    cr_expect(nbdkit_passes(reply_errno(err)), "%d (%s) is told %d, which nbdkit makes EINVAL",
              err, strerror(err), reply_errno(err));
}

/* The whole path on an in-memory array: every shelf of a raid1 dead, read, write and
 * flush are each answered EIO. */
Test(reply, a_dead_array_answers_every_request_eio)
{
  struct fx f;
  char buf[4096] = { 0 };

  fx_create(&f, RAID_LEVEL_1, 2, 0, 0, 64 * 1024,
            RAID_CREATE_ASSUME_CLEAN | RAID_CREATE_NO_BITMAP);
  for (unsigned i = 0; i < f.n; i++)
    raid_mem_member_set_down(f.mm[i], 1);
  reset();
  cr_expect_eq(reply_result("pread", unaligned_read(f.a, buf, 100, 3)), -1);
  cr_expect_eq(told, EIO, "pread: told %s", strerror(told));
  reset();
  cr_expect_eq(reply_result("pwrite", unaligned_write(f.a, buf, sizeof buf, 0, 0)), -1);
  cr_expect_eq(told, EIO, "pwrite: told %s", strerror(told));
  reset();
  cr_expect_eq(reply_result("flush", raid_flush(f.a)), -1);
  cr_expect_eq(told, EIO, "flush: told %s", strerror(told));
  fx_free(&f);
}

/* A client that keeps reading a dead array: the first failures are said, the rest
 * counted (include/logburst.h), not one line each. */
Test(reply, a_client_hammering_a_dead_array_floods_no_log)
{
  for (unsigned i = 0; i < 1000; i++)
    cr_expect_eq(reply_result("pread", -ENODEV), -1);
  cr_expect(n_logged <= LOG_BURST_LINES + 1, "%u lines for 1000 failed requests", n_logged);
  reply_log_tick();
  cr_expect_eq(n_logged, LOG_BURST_LINES, "a summary before its interval: %s", logged);
}

/* The plugin closes before the interval is over (or after its monitor stopped, the array
 * fenced): the failures left out are still said, once. */
Test(reply, the_failures_left_out_are_said_when_the_plugin_closes)
{
  for (unsigned i = 0; i < 100; i++)
    cr_expect_eq(reply_result("pread", -ENODEV), -1);
  cr_expect_eq(n_logged, LOG_BURST_LINES);
  reply_log_close();
  cr_expect_eq(n_logged, LOG_BURST_LINES + 1, "the failures left out were not said");
  cr_expect(strstr(logged, "... and 90 more requests failed"), "said: %s", logged);
  reply_log_close();
  cr_expect_eq(n_logged, LOG_BURST_LINES + 1, "said twice: %s", logged);
}

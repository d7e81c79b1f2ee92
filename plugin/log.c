/* Notices and warnings of nbdkit-aoeraid-plugin.  In the foreground they go to stderr
 * beside nbdkit's own messages.  When nbdkit forks into the background it points stderr
 * at /dev/null and sends its errors to syslog: a shelf going down, a degraded array or a
 * finished rebuild must not vanish there, so they follow to syslog. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <syslog.h>

#include "log.h"

static atomic_bool to_syslog;

static int stderr_is_devnull(void)
{
  struct stat err, null;
  return fstat(2, &err) == 0 && stat("/dev/null", &null) == 0 && S_ISCHR(err.st_mode) &&
         err.st_rdev == null.st_rdev;
}

void log_after_fork(void)
{
  if (stderr_is_devnull()) {
    openlog("nbdkit", LOG_PID, LOG_DAEMON);
    atomic_store(&to_syslog, 1);
  }
}

static void log_line(int priority, const char *fmt, va_list ap)
{
  char msg[1024];

  vsnprintf(msg, sizeof msg, fmt, ap);
  if (atomic_load(&to_syslog))
    syslog(priority, "aoeraid: %s%s", priority == LOG_WARNING ? "warning: " : "", msg);
  else
    fprintf(stderr, "nbdkit: aoeraid: %s%s\n", priority == LOG_WARNING ? "warning: " : "",
            msg);
}

void log_notice(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  log_line(LOG_NOTICE, fmt, ap);
  va_end(ap);
}

void log_warning(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  log_line(LOG_WARNING, fmt, ap);
  va_end(ap);
}

void log_removed_shelf(const char *prefix, unsigned shelf, unsigned slot, const char *name,
                       const char *control)
{
  log_warning("%se%u.%u left out: the administrator removed it from array '%s'; to use it "
              "again: aoeraid add -c %s e%u.%u", prefix, shelf, slot, name,
              control ? control : "SOCKET (start with control=)", shelf, slot);
}

/* mdadm --monitor inside the server: a thread compares the array's status every
 * ALERT_POLL_MS (raid_status_events), logs each event and runs the alert program with
 * it, as mdadm runs its PROGRAM: PROGRAM EVENT ARRAY [MEMBER-OR-RUN [EXTRA]].  The
 * program runs to its end before the next look (mdadm waits too), within
 * a minute (alert_start's WAIT_MS), so a hung one delays alerts but never I/O. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "alert.h"
#include "log.h"
#include "ticker.h"

#define ALERT_POLL_MS 500

extern char **environ;

static struct raid_array *alert_array;
static const char *alert_program;
static bool alert_test;
static int alert_wait_ms;
/* the last look (NULL: none yet) and the next, two snapshots that take turns */
static struct raid_status *alert_snap, *alert_was;

static void look(void *opaque);
static struct ticker alert_ticker = { .what = "the events thread", .period_ms = ALERT_POLL_MS,
                                      .tick = look };

static void sleep_ms(unsigned ms)
{
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
  nanosleep(&ts, NULL);
}

/* Wait for the program within alert_wait_ms; kill it after that.  A server going
 * down does not wait for it: it is left to finish on its own. */
static void program_wait(pid_t pid, const char *event)
{
  int status, waited = 0;
  pid_t r;

  while ((r = waitpid(pid, &status, WNOHANG)) == 0 && waited < alert_wait_ms) {
    if (ticker_stopping(&alert_ticker))
      return;
    sleep_ms(20);
    waited += 20;
  }
  if (r == 0) {
    log_warning("alert=%s: still running after %.1f s for %s: killed it", alert_program,
                alert_wait_ms / 1000.0, event);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  else if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0)
    log_warning("alert=%s: exited with status %d for %s", alert_program,
                WEXITSTATUS(status), event);
  else if (r > 0 && WIFSIGNALED(status))
    log_warning("alert=%s: killed by signal %d for %s", alert_program, WTERMSIG(status),
                event);
}

static void program_run(const char *event, const char *array, const char *detail,
                        const char *extra)
{
  char *argv[] = { (char *)alert_program, (char *)event, (char *)array, (char *)detail,
                   (char *)extra, NULL };
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int err;

  if (!detail)
    argv[3] = NULL;
  /* stdin from /dev/null: the program must not read nbdkit's */
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  err = posix_spawn(&pid, alert_program, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err)
    log_warning("alert=%s: cannot run it for %s: %s", alert_program, event, strerror(err));
  else
    program_wait(pid, event);
}

static void on_event(void *opaque, const char *event, const char *detail, const char *extra)
{
  const char *array = opaque;

  log_notice("event %s %s%s%s%s%s", event, array, detail ? " " : "", detail ? detail : "",
             extra ? " " : "", extra ? extra : "");
  if (alert_program)
    program_run(event, array, detail, extra);
}

static void look(void *opaque)
{
  struct raid_status *now = alert_was == alert_snap ? alert_snap + 1 : alert_snap;

  (void)opaque;
  char uuid[37];

  if (raid_status(alert_array, now) != 0)
    return;
  /* the ARRAY argument: its name, or its uuid when it has none (never an empty word) */
  raid_uuid_format(now->uuid, uuid);
  const char *array = now->name[0] ? now->name : uuid;
  if (!alert_was && alert_test)
    on_event((void *)array, "TestMessage", NULL, NULL);
  raid_status_events(alert_was, now, on_event, (void *)array);
  alert_was = now;
}

int alert_start(struct raid_array *array, const char *program, bool test, int wait_ms)
{
  alert_snap = calloc(2, sizeof *alert_snap);
  if (!alert_snap) {
    nbdkit_error("the events thread: %m");
    return -1;
  }
  alert_array = array;
  alert_program = program;
  alert_test = test;
  alert_wait_ms = wait_ms;
  alert_was = NULL;
  return ticker_start(&alert_ticker);
}

void alert_stop(void)
{
  ticker_stop(&alert_ticker);
  free(alert_snap);
  alert_snap = alert_was = NULL;
}

/* mdadm --monitor inside the server: a thread compares the array's status every
 * ALERT_POLL_MS (raid_status_events), logs each event and runs the alert program with
 * it, as mdadm runs its PROGRAM: PROGRAM EVENT ARRAY [MEMBER-OR-RUN [EXTRA]].  The
 * program runs to its end before the next look (mdadm waits too), within
 * ALERT_PROGRAM_MS, so a hung one delays alerts but never I/O. */
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
#include "deadline.h"
#include "log.h"

#define ALERT_POLL_MS 500
#define ALERT_PROGRAM_MS 60000

extern char **environ;

static struct raid_array *alert_array;
static const char *alert_program;
static bool alert_test;
static pthread_t alert_thread;
static bool alert_running;
static bool alert_stopping;       /* under alert_lock */
static pthread_mutex_t alert_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t alert_cond;

static bool stopping(void)
{
  bool stop;

  pthread_mutex_lock(&alert_lock);
  stop = alert_stopping;
  pthread_mutex_unlock(&alert_lock);
  return stop;
}

static void sleep_ms(unsigned ms)
{
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
  nanosleep(&ts, NULL);
}

/* Wait for the program within ALERT_PROGRAM_MS; kill it after that.  A server going
 * down does not wait for it: it is left to finish on its own. */
static void program_wait(pid_t pid, const char *event)
{
  int status, waited = 0;
  pid_t r;

  while ((r = waitpid(pid, &status, WNOHANG)) == 0 && waited < ALERT_PROGRAM_MS) {
    if (stopping())
      return;
    sleep_ms(20);
    waited += 20;
  }
  if (r == 0) {
    log_warning("alert=%s: still running after %d s for %s: killed it", alert_program,
                ALERT_PROGRAM_MS / 1000, event);
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

/* Sleep ms unless told to stop; true when stopping. */
static bool alert_wait(unsigned ms)
{
  struct timespec until = deadline_in_ms(ms);
  bool stop;

  pthread_mutex_lock(&alert_lock);
  while (!alert_stopping &&
         pthread_cond_timedwait(&alert_cond, &alert_lock, &until) != ETIMEDOUT)
    ;
  stop = alert_stopping;
  pthread_mutex_unlock(&alert_lock);
  return stop;
}

static void *alert_main(void *arg)
{
  struct raid_status *snap = calloc(2, sizeof *snap);
  struct raid_status *was = NULL, *now = snap;

  (void)arg;
  if (!snap) {
    log_warning("events: out of memory: no alerts will be sent");
    return NULL;
  }
  do {
    if (raid_status(alert_array, now) != 0)
      continue;
    if (!was && alert_test)
      on_event(now->name, "TestMessage", NULL, NULL);
    raid_status_events(was, now, on_event, now->name);
    was = now;
    now = now == snap ? snap + 1 : snap;
  } while (!alert_wait(ALERT_POLL_MS));
  free(snap);
  return NULL;
}

int alert_start(struct raid_array *array, const char *program, bool test)
{
  int err;

  cond_init_monotonic(&alert_cond);
  alert_array = array;
  alert_program = program;
  alert_test = test;
  alert_stopping = false;
  err = pthread_create(&alert_thread, NULL, alert_main, NULL);
  if (err) {
    nbdkit_error("cannot start the events thread: %s", strerror(err));
    return -1;
  }
  alert_running = true;
  return 0;
}

void alert_stop(void)
{
  if (!alert_running)
    return;
  pthread_mutex_lock(&alert_lock);
  alert_stopping = true;
  pthread_cond_signal(&alert_cond);
  pthread_mutex_unlock(&alert_lock);
  pthread_join(alert_thread, NULL);
  alert_running = false;
}

/* The control socket of nbdkit-aoeraid-plugin. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "deadline.h"
#include "log.h"

#define CLIENTS_MAX 16            /* clients served at once; more wait in the backlog */

struct control;

/* One client served by a thread of its own: a slow command (an add waiting on a shelf)
 * holds its client's thread, not the server. */
struct client {
  struct control *c;
  int fd;
  pthread_t thread;
  bool used;                    /* the thread was started and not yet joined */
  atomic_bool done;             /* the thread has finished: join it */
};

struct control {
  int listen_fd;
  int stop_pipe[2];
  pthread_t thread;
  int running;
  control_request_fn *handler;
  control_quick_fn *quick;
  struct client clients[CLIENTS_MAX];   /* the accept thread's alone, until control_close */
  char path[sizeof ((struct sockaddr_un *)0)->sun_path];
};

struct control *control_open(const char *path, control_request_fn *handler,
                             control_quick_fn *quick)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct control *c;

  if (strlen(path) >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return NULL;
  }
  c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->handler = handler;
  c->quick = quick;
  strcpy(c->path, path);
  strcpy(addr.sun_path, path);
  c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->listen_fd < 0)
    goto fail;
  /* A socket left by a server that died is stale; a live one answers connect(). */
  if (connect(c->listen_fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
    errno = EADDRINUSE;
    goto fail;
  }
  /* Only a stale socket is removed: a file there (control= naming a config file by
   * mistake) was unlinked, and gone for good once the server stopped. */
  struct stat st;
  if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
    errno = EEXIST;
    goto fail;
  }
  unlink(path);
  if (bind(c->listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
      chmod(path, 0600) < 0 || listen(c->listen_fd, 8) < 0 ||
      pipe2(c->stop_pipe, O_CLOEXEC) < 0)
    goto fail;
  return c;
fail:
  {
    int saved = errno;
    if (c->listen_fd >= 0)
      close(c->listen_fd);
    free(c);
    errno = saved;
  }
  return NULL;
}

#define REQUEST_MAX 255           /* longest request line, its newline not counted */
#define CLIENT_WAIT_MS 1000       /* the server never waits longer on one client */

/* Wait for FD to be ready for EVENTS within CLIENT_WAIT_MS of START; 1 when it is. */
static int wait_fd(int fd, short events, const struct timespec *start)
{
  struct pollfd p = { .fd = fd, .events = events };
  long left = CLIENT_WAIT_MS - elapsed_ms(start);

  return left > 0 && poll(&p, 1, (int)left) > 0;
}

/* Read one request line into REQUEST (REQUEST_MAX + 1 bytes), within a second in all
 * (however slowly it trickles in).  NULL when it is no request (an error line in WHY):
 * too long, cut off by the deadline, or holding bytes that are not text. */
static const char *read_request(int fd, char *request, char *why, size_t whylen)
{
  struct timespec start;
  size_t len = 0;
  char *nl = NULL;
  int eof = 0;

  clock_gettime(CLOCK_MONOTONIC, &start);
  while (!nl && len <= REQUEST_MAX && wait_fd(fd, POLLIN, &start)) {
    ssize_t n = read(fd, request + len, REQUEST_MAX + 1 - len);
    if (n <= 0) {
      eof = 1;
      break;
    }
    nl = memchr(request + len, '\n', (size_t)n);
    len += (size_t)n;
  }
  if (nl)
    len = (size_t)(nl - request);
  else if (len > REQUEST_MAX) {
    snprintf(why, whylen, "error: request longer than %d bytes: send one short line\n",
             REQUEST_MAX);
    return NULL;
  }
  else if (!eof && len) {
    snprintf(why, whylen, "error: no whole request line within %d ms: end it with a "
             "newline\n", CLIENT_WAIT_MS);
    return NULL;
  }
  if (len && request[len - 1] == '\r')
    len--;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)request[i] < 0x20 || request[i] == 0x7f) {
      snprintf(why, whylen, "error: request holds byte 0x%02x at %zu, not text: send one "
               "line such as 'status'\n", (unsigned char)request[i], i);
      return NULL;
    }
  request[len] = '\0';
  return request;
}

/* Send the answer without blocking past the deadline, and without SIGPIPE when the
 * client has gone. */
static void send_answer(int fd, const char *answer, size_t len)
{
  struct timespec start;

  clock_gettime(CLOCK_MONOTONIC, &start);
  while (len && wait_fd(fd, POLLOUT, &start)) {
    ssize_t n = send(fd, answer, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      break;
    if (n > 0) {
      answer += n;
      len -= (size_t)n;
    }
  }
}

/* Answer the client on FD.  FULL: every client thread is taken (their commands queued
 * behind a slow one, say), and this is the accept thread: only a quick request (status)
 * is served; any other is told to come back, so that none waits here and status stays
 * answerable however many commands queue. */
static void serve_one(struct control *c, int fd, bool full)
{
  char request[REQUEST_MAX + 1], why[160];
  const char *line = read_request(fd, request, why, sizeof why);
  char *answer = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&answer, &len);

  if (out) {
    if (!line)
      fputs(why, out);
    else if (full && !c->quick(line))
      fprintf(out, "busy: %d requests under way (commands run one at a time); try again "
              "once one ends\n", CLIENTS_MAX);
    else
      c->handler(line, out);
    if (fclose(out) == 0)
      send_answer(fd, answer, len);
  }
  free(answer);
  close(fd);
}

static void *client_thread(void *arg)
{
  struct client *cl = arg;

  serve_one(cl->c, cl->fd, false);
  atomic_store(&cl->done, true);
  return NULL;
}

/* Join the client threads that have finished; with WAIT, all of them (at the close). */
static void reap_clients(struct control *c, bool wait)
{
  for (size_t i = 0; i < CLIENTS_MAX; i++) {
    struct client *cl = &c->clients[i];
    if (cl->used && (wait || atomic_load(&cl->done))) {
      pthread_join(cl->thread, NULL);
      cl->used = false;
    }
  }
}

/* A free client slot, or NULL when CLIENTS_MAX clients are being served. */
static struct client *free_client(struct control *c)
{
  reap_clients(c, false);
  for (size_t i = 0; i < CLIENTS_MAX; i++)
    if (!c->clients[i].used)
      return &c->clients[i];
  return NULL;
}

/* Serve FD in a thread of its own; in this one if no thread can be made. */
static void start_client(struct control *c, struct client *cl, int fd)
{
  cl->c = c;
  cl->fd = fd;
  atomic_store(&cl->done, false);
  cl->used = pthread_create(&cl->thread, NULL, client_thread, cl) == 0;
  if (!cl->used)
    serve_one(c, fd, true);     /* no thread: as when all are taken */
}

/* accept4 failed with ERR, the client still waiting in the backlog.  Out of descriptors
 * or memory, the listening socket stays readable and every poll returns at once: the
 * accept thread would spin on a CPU until something frees up.  Say so once per episode
 * and try again ACCEPT_RETRY_MS later.  1 when the loop should go on. */
#define ACCEPT_RETRY_MS 100
static bool accept_failed(struct control *c, int err, bool *said)
{
  if (err == EINTR || err == EAGAIN || err == ECONNABORTED)
    return true;                /* the client left, or a signal: nothing to wait for */
  if (!*said)
    log_warning("control socket %s: cannot take a client: %s; its request waits in the "
                "backlog until descriptors free up (raise nbdkit's limit with ulimit -n)",
                c->path, strerror(err));
  *said = true;
  struct pollfd stop = { .fd = c->stop_pipe[0], .events = POLLIN };
  return !(poll(&stop, 1, ACCEPT_RETRY_MS) > 0 && (stop.revents & POLLIN));
}

static void *accept_loop(void *arg)
{
  struct control *c = arg;
  bool said_failed = false;

  for (;;) {
    struct pollfd p[2] = { { .fd = c->listen_fd, .events = POLLIN },
                           { .fd = c->stop_pipe[0], .events = POLLIN } };
    if (poll(p, 2, -1) < 0 && errno != EINTR)
      break;
    if (p[1].revents)
      break;
    if (!(p[0].revents & POLLIN))
      continue;
    int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (!accept_failed(c, errno, &said_failed))
        break;
      continue;
    }
    if (said_failed)
      log_notice("control socket %s: taking clients again", c->path);
    said_failed = false;
    struct client *cl = free_client(c);
    if (cl)
      start_client(c, cl, fd);
    else
      serve_one(c, fd, true);   /* all taken: a status still answered, here */
  }
  return NULL;
}

int control_start(struct control *c)
{
  int err = pthread_create(&c->thread, NULL, accept_loop, c);
  if (err) {
    errno = err;
    return -1;
  }
  pthread_setname_np(c->thread, "aoeraid-control");     /* for top -H, and the tests */
  c->running = 1;
  return 0;
}

void control_close(struct control *c)
{
  if (!c)
    return;
  if (c->running) {
    if (write(c->stop_pipe[1], "x", 1) < 0)
      pthread_cancel(c->thread);
    pthread_join(c->thread, NULL);
    reap_clients(c, true);      /* a command under way ends before the array goes */
  }
  close(c->listen_fd);
  close(c->stop_pipe[0]);
  close(c->stop_pipe[1]);
  unlink(c->path);
  free(c);
}

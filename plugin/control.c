/* The control socket of nbdkit-aoeraid-plugin. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

struct control {
  int listen_fd;
  int stop_pipe[2];
  pthread_t thread;
  int running;
  control_request_fn *handler;
  char path[sizeof ((struct sockaddr_un *)0)->sun_path];
};

struct control *control_open(const char *path, control_request_fn *handler)
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

static void serve_one(struct control *c, int fd)
{
  char request[256];
  size_t len = 0;
  struct pollfd p = { .fd = fd, .events = POLLIN };

  /* A client gets a second to send its line; the server never waits on it longer. */
  while (len < sizeof request - 1 && poll(&p, 1, 1000) > 0) {
    ssize_t n = read(fd, request + len, sizeof request - 1 - len);
    if (n <= 0)
      break;
    len += n;
    if (memchr(request, '\n', len))
      break;
  }
  request[len] = '\0';
  request[strcspn(request, "\r\n")] = '\0';
  FILE *out = fdopen(fd, "w");
  if (!out) {
    close(fd);
    return;
  }
  c->handler(request, out);
  fclose(out);
}

static void *accept_loop(void *arg)
{
  struct control *c = arg;

  for (;;) {
    struct pollfd p[2] = { { .fd = c->listen_fd, .events = POLLIN },
                           { .fd = c->stop_pipe[0], .events = POLLIN } };
    if (poll(p, 2, -1) < 0 && errno != EINTR)
      break;
    if (p[1].revents)
      break;
    if (p[0].revents & POLLIN) {
      int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
      if (fd >= 0)
        serve_one(c, fd);
    }
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
  }
  close(c->listen_fd);
  close(c->stop_pipe[0]);
  close(c->stop_pipe[1]);
  unlink(c->path);
  free(c);
}

/* aoeraid status -c SOCKET [--json], aoeraid add -c SOCKET SHELF.SLOT and aoeraid speed
 * -c SOCKET [min=RATE] [max=RATE]: requests to a
 * running nbdkit-aoeraid-plugin through its control socket (the plugin's control=
 * parameter): one request line, the answer copied out ("error: ..." to stderr). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "status-cmd.h"

static int control_call(const char *progname, const char *path, const char *request);

int status_main(const char *progname, int argc, char **argv)
{
  static const struct option longopts[] = {
    { "control", required_argument, NULL, 'c' },
    { "json", no_argument, NULL, 'j' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *path = NULL;
  int json = 0, c;

  optind = 1;
  while ((c = getopt_long(argc, argv, "c:jh", longopts, NULL)) != -1) {
    switch (c) {
    case 'c': path = optarg; break;
    case 'j': json = 1; break;
    case 'h': printf("usage: %s status -c SOCKET [--json]\n", progname); return 0;
    default: return 2;
    }
  }
  if (!path) {
    fprintf(stderr, "%s: status needs -c SOCKET, the control= path given to nbdkit aoeraid\n",
            progname);
    return 2;
  }
  return control_call(progname, path, json ? "status json\n" : "status\n");
}

int add_main(const char *progname, int argc, char **argv)
{
  static const struct option longopts[] = {
    { "control", required_argument, NULL, 'c' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *path = NULL;
  char request[128];
  int c;

  optind = 1;
  while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'c': path = optarg; break;
    case 'h': printf("usage: %s add -c SOCKET SHELF.SLOT\n", progname); return 0;
    default: return 2;
    }
  }
  if (!path || optind + 1 != argc) {
    fprintf(stderr, "%s: usage: %s add -c SOCKET SHELF.SLOT (the control= path given to "
            "nbdkit aoeraid, and one shelf, for example e6.1)\n", progname, progname);
    return 2;
  }
  if (snprintf(request, sizeof request, "add %s\n", argv[optind]) >= (int)sizeof request ||
      strchr(argv[optind], '\n')) {
    fprintf(stderr, "%s: add: '%s' is not a shelf address: write SHELF.SLOT\n", progname,
            argv[optind]);
    return 2;
  }
  return control_call(progname, path, request);
}

int speed_main(const char *progname, int argc, char **argv)
{
  static const struct option longopts[] = {
    { "control", required_argument, NULL, 'c' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *path = NULL;
  char request[256] = "speed";
  int c;

  optind = 1;
  while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'c': path = optarg; break;
    case 'h': printf("usage: %s speed -c SOCKET [min=RATE] [max=RATE]\n", progname); return 0;
    default: return 2;
    }
  }
  if (!path) {
    fprintf(stderr, "%s: usage: %s speed -c SOCKET [min=RATE] [max=RATE] (the control= "
            "path given to nbdkit aoeraid; RATE as 1000K or 200M, 0 for no limit)\n",
            progname, progname);
    return 2;
  }
  for (; optind < argc; optind++) {
    const char *arg = argv[optind];
    if ((strncmp(arg, "min=", 4) && strncmp(arg, "max=", 4)) || strpbrk(arg, " \n")) {
      fprintf(stderr, "%s: speed: '%s' is not min=RATE or max=RATE\n", progname, arg);
      return 2;
    }
    if (strlen(request) + 1 + strlen(arg) + 2 > sizeof request) {
      fprintf(stderr, "%s: speed: arguments too long\n", progname);
      return 2;
    }
    strcat(strcat(request, " "), arg);
  }
  strcat(request, "\n");
  return control_call(progname, path, request);
}

/* Send one request line, copy the answer out; 0, or 1 when the server answered with
 * an error or could not be reached. */
static int control_call(const char *progname, const char *path, const char *request)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen(path) >= sizeof addr.sun_path) {
    fprintf(stderr, "%s: %s: path too long for a Unix socket\n", progname, path);
    return 1;
  }
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    fprintf(stderr, "%s: %s: %s (is nbdkit aoeraid running with control=%s?)\n", progname,
            path, strerror(errno), path);
    if (fd >= 0)
      close(fd);
    return 1;
  }
  if (write(fd, request, strlen(request)) < 0) {
    fprintf(stderr, "%s: %s: %s\n", progname, path, strerror(errno));
    close(fd);
    return 1;
  }
  char buf[4096];
  ssize_t n;
  int first = 1, failed = 0;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    if (first && n >= 6 && !memcmp(buf, "error:", 6))
      failed = 1;
    first = 0;
    fwrite(buf, 1, n, failed ? stderr : stdout);
  }
  close(fd);
  return failed;
}

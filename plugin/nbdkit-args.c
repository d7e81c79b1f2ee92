/* nbdkit's own command line, read as nbdkit 1.32's getopt_long reads it (nbdkit-args.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "nbdkit-args.h"

#define BY_FLAG "nbdkit -r"
#define BY_FILTER "nbdkit --filter=readonly"

/* What an option does to this question. */
enum opt_kind { OPT_FLAG, OPT_ARG, OPT_READONLY, OPT_FILTER };

struct long_opt {
  const char *name;
  enum opt_kind kind;
};

/* nbdkit 1.32's long options (nbdkit --long-options, and server/options.h for which take
 * an argument); --run and the others with OPT_ARG consume theirs. */
static const struct long_opt long_opts[] = {
  { "debug", OPT_ARG }, { "dump-config", OPT_FLAG }, { "dump-plugin", OPT_FLAG },
  { "exit-with-parent", OPT_FLAG }, { "export", OPT_ARG }, { "export-name", OPT_ARG },
  { "exportname", OPT_ARG }, { "filter", OPT_FILTER }, { "foreground", OPT_FLAG },
  { "no-fork", OPT_FLAG }, { "group", OPT_ARG }, { "help", OPT_FLAG },
  { "ip-addr", OPT_ARG }, { "ipaddr", OPT_ARG }, { "ipv4-only", OPT_FLAG },
  { "ipv6-only", OPT_FLAG }, { "log", OPT_ARG }, { "long-options", OPT_FLAG },
  { "mask-handshake", OPT_ARG }, { "new-style", OPT_FLAG }, { "newstyle", OPT_FLAG },
  { "no-sr", OPT_FLAG }, { "old-style", OPT_FLAG }, { "oldstyle", OPT_FLAG },
  { "pid-file", OPT_ARG }, { "pidfile", OPT_ARG }, { "port", OPT_ARG },
  { "read-only", OPT_READONLY }, { "readonly", OPT_READONLY }, { "run", OPT_ARG },
  { "selinux-label", OPT_ARG }, { "short-options", OPT_FLAG }, { "single", OPT_FLAG },
  { "stdin", OPT_FLAG }, { "swap", OPT_FLAG }, { "threads", OPT_ARG }, { "tls", OPT_ARG },
  { "tls-certificates", OPT_ARG }, { "tls-psk", OPT_ARG }, { "tls-verify-peer", OPT_FLAG },
  { "unix", OPT_ARG }, { "user", OPT_ARG }, { "verbose", OPT_FLAG },
  { "version", OPT_FLAG }, { "vsock", OPT_FLAG },
};
#define N_LONG_OPTS (sizeof long_opts / sizeof long_opts[0])

/* nbdkit 1.32's short options that take an argument ("D:e:g:i:P:p:t:u:U:"). */
static const char short_with_arg[] = "DegiPptuU";

/* What getopt_long makes of --NAME (LEN bytes): the exact name, else the one option it
 * abbreviates (several that do the same count as one, as in glibc: --read).  An unknown
 * or ambiguous one makes nbdkit exit before any plugin runs: OPT_FLAG, it matters not. */
static enum opt_kind long_kind(const char *name, size_t len)
{
  int found = -1;

  for (size_t i = 0; i < N_LONG_OPTS; i++)
    if (strlen(long_opts[i].name) == len && !strncmp(long_opts[i].name, name, len))
      return long_opts[i].kind;
  for (size_t i = 0; i < N_LONG_OPTS; i++) {
    if (strncmp(long_opts[i].name, name, len))
      continue;
    if (found >= 0 && long_opts[found].kind != long_opts[i].kind)
      return OPT_FLAG;
    found = (int)i;
  }
  return found >= 0 ? long_opts[found].kind : OPT_FLAG;
}

/* --filter's argument names nbdkit's readonly filter: by name, or by its file. */
static bool is_readonly_filter(const char *filter)
{
  const char *base = strrchr(filter, '/');

  return !strcmp(filter, "readonly") ||
         !strcmp(base ? base + 1 : filter, "nbdkit-readonly-filter.so");
}

struct scan {
  bool flag;                    /* -r or --readonly */
  bool filter;                  /* --filter=readonly */
  bool filter_file;             /* readonly-file=, which makes that filter switchable */
};

/* The long option ARGV[*I] ("--NAME" or "--NAME=VALUE"); *I moves past a value that is the
 * next element. */
static void long_option(int argc, char *const argv[], int *i, struct scan *s)
{
  const char *name = argv[*i] + 2, *eq = strchr(name, '=');
  enum opt_kind kind = long_kind(name, eq ? (size_t)(eq - name) : strlen(name));
  const char *value = eq ? eq + 1 : NULL;

  if (kind == OPT_READONLY)
    s->flag = true;
  if ((kind == OPT_ARG || kind == OPT_FILTER) && !value && *i + 1 < argc)
    value = argv[++*i];
  if (kind == OPT_FILTER && value && is_readonly_filter(value))
    s->filter = true;
}

/* The bundle of short options ARGV[*I] ("-fr", "-rp10809", "-fp" with the port next); *I
 * moves past an argument that is the next element. */
static void short_options(int argc, char *const argv[], int *i, struct scan *s)
{
  for (const char *c = argv[*i] + 1; *c; c++) {
    if (strchr(short_with_arg, *c)) {
      if (!c[1] && *i + 1 < argc)
        ++*i;                   /* else the rest of the bundle is the argument */
      return;
    }
    if (*c == 'r')
      s->flag = true;
  }
}

/* A plugin (or filter) parameter, or the plugin's name. */
static void non_option(const char *arg, struct scan *s)
{
  if (!strncmp(arg, "readonly-file=", 14))
    s->filter_file = true;
}

const char *nbdkit_args_readonly(int argc, char *const argv[], bool in_order)
{
  struct scan s = { false, false, false };
  bool options = true;

  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];

    if (options && !strcmp(arg, "--"))
      options = false;
    else if (options && arg[0] == '-' && arg[1] == '-')
      long_option(argc, argv, &i, &s);
    else if (options && arg[0] == '-' && arg[1])
      short_options(argc, argv, &i, &s);
    else {
      non_option(arg, &s);
      options = options && !in_order;
    }
  }
  if (s.flag)
    return BY_FLAG;
  return s.filter && !s.filter_file ? BY_FILTER : NULL;
}

/* The whole of PATH, NUL-terminated, into *BUF (malloc'd) and its length into *LEN. */
static int read_whole(const char *path, char **buf, size_t *len)
{
  size_t size = 4096, n = 0;
  char *b = malloc(size);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t r = 0;

  while (b && fd >= 0 && (r = read(fd, b + n, size - n - 1)) > 0) {
    n += (size_t)r;
    if (n + 1 == size) {
      char *bigger = realloc(b, size *= 2);
      if (!bigger)
        free(b);
      b = bigger;
    }
  }
  int saved = !b ? ENOMEM : fd < 0 || r < 0 ? errno : 0;
  if (fd >= 0)
    close(fd);
  if (saved) {
    free(b);
    errno = saved;
    return -1;
  }
  b[n] = 0;
  *buf = b;
  *len = n;
  return 0;
}

int nbdkit_cmdline_readonly(const char **by, char *err, size_t errlen)
{
  char *buf, **argv;
  size_t len;
  int argc = 0;

  if (read_whole("/proc/self/cmdline", &buf, &len) < 0) {
    snprintf(err, errlen, "/proc/self/cmdline: %s", strerror(errno));
    return -1;
  }
  /* one NUL-terminated element each */
  argv = calloc(len + 1, sizeof *argv);
  if (!argv) {
    free(buf);
    snprintf(err, errlen, "/proc/self/cmdline: %s", strerror(ENOMEM));
    return -1;
  }
  for (size_t at = 0; at < len; at += strlen(buf + at) + 1)
    argv[argc++] = buf + at;
  *by = nbdkit_args_readonly(argc, argv, getenv("POSIXLY_CORRECT") != NULL);
  free(argv);
  free(buf);
  return 0;
}

/* aoeraid status -c SOCKET [--json] [--test], add|fail|remove -c SOCKET SHELF.SLOT, writemostly -c
 * SOCKET SHELF.SLOT on|off, replace -c
 * SOCKET OLD [NEW], speed -c SOCKET
 * [min=RATE] [max=RATE], grow -c SOCKET [level=LEVEL] SHELF.SLOT... (or size=SIZE|max, bitmap=SIZE|none) and check -c SOCKET
 * [repair|stop]: requests to a
 * running nbdkit-aoeraid-plugin through its control socket (the plugin's control=
 * parameter): one request line, the answer copied out ("error: ..." to stderr). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

#include "activity.h"
#include "status-cmd.h"
#include "text.h"

/* Where a control command goes: the socket, and how long its answer may take. */
struct control_args {
  const char *path;
  int wait_s;                   /* 0: no limit */
  bool wait_given;              /* -t was given */
  bool errors_to_sink;          /* an "error:" answer goes where the answer goes, not stderr */
};

#define CONTROL_WAIT_S 60       /* -t's default: a request rarely takes a second */

static int control_call(const char *progname, const struct control_args *ca,
                        const char *request);
static int control_talk(const char *progname, const struct control_args *ca,
                        const char *request, FILE *sink);
static int control_ask(const char *progname, const struct control_args *ca,
                       const char *request, char **answer);

/* The server WHAT within the wait: it is stopped or hung, or busy with a long request
 * (another client's add waits for its shelf to answer); what was asked may still happen. */
static void say_no_answer(const char *progname, const struct control_args *ca,
                          const char *what)
{
  fprintf(stderr, "%s: %s: the server %s within %d s: it is stopped, hung or busy with a "
          "long request; wait longer with -t SECONDS, and see aoeraid status for whether "
          "the request took effect\n", progname, ca->path, what, ca->wait_s);
}

/* What status prints: JSON, and (--test, md's --detail --test) its exit status. */
enum { STATUS_JSON = 1, STATUS_TEST = 2 };

/* -c SOCKET (and --json and --test where FLAGS is not NULL: STATUS_*) of a control command whose
 * usage line, after "PROG ", is USAGE.  Returns the socket path; NULL with *rc
 * set (0 after --help, 2 for a usage error) when the command is done. */
static const char *control_opts(const char *progname, int argc, char **argv,
                                const char *usage, int *flags, int *rc,
                                struct control_args *ca)
{
  static const struct option longopts[] = {
    { "control", required_argument, NULL, 'c' },
    { "timeout", required_argument, NULL, 't' },
    { "json", no_argument, NULL, 'j' },
    { "test", no_argument, NULL, 'T' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *path = NULL;
  char *end, name[64], *verb = option_words(progname, argv, name, sizeof name);
  int c;

  ca->wait_s = CONTROL_WAIT_S;
  ca->wait_given = false;
  optind = 1;
  while ((c = getopt_long(argc, argv, flags ? "c:t:jh" : "c:t:h", longopts, NULL)) != -1) {
    if (c == 'c')
      path = optarg;
    else if (c == 't') {
      long v = strtol(optarg, &end, 10);
      if (*end || end == optarg || v < 0 || v > 86400) {
        fprintf(stderr, "%s: -t '%s': give the seconds to wait for the answer, 1 to 86400, "
                "or 0 to wait as long as it takes\n", progname, optarg);
        *rc = option_words_done(argv, verb, 2);
        return NULL;
      }
      ca->wait_s = (int)v;
      ca->wait_given = true;
    }
    else if (c == 'j' && flags)
      *flags |= STATUS_JSON;
    else if (c == 'T' && flags)
      *flags |= STATUS_TEST;
    else {
      fprintf(c == 'h' ? stdout : stderr, "usage: %s %s\n", progname, usage);
      *rc = option_words_done(argv, verb, c == 'h' ? 0 : 2);
      return NULL;
    }
  }
  option_words_done(argv, verb, 0);
  if (!path) {
    fprintf(stderr, "%s: usage: %s %s (SOCKET: the control= path given to nbdkit aoeraid)\n",
            progname, progname, usage);
    *rc = 2;
  }
  ca->path = path;
  return path;
}

/* md's --detail --test exit status for the array state in a status ANSWER (text or
 * JSON): 0 clean, 1 degraded, 2 failed; 4 if it names none. */
static int state_exit_status(const char *answer)
{
  static const char *const keys[] = { "\"state\":\"", "\n  state " };
  static const char *const states[] = { "clean", "degraded", "failed" };

  for (int k = 0; k < 2; k++) {
    const char *at = strstr(answer, keys[k]);
    for (int i = 0; at && i < 3; i++)
      if (!strncmp(at + strlen(keys[k]), states[i], strlen(states[i])))
        return i;
  }
  return 4;
}

int status_main(const char *progname, int argc, char **argv)
{
  int flags = 0, rc;
  struct control_args ca;
  const char *path = control_opts(progname, argc, argv, "status -c SOCKET [--json] [--test]",
                                  &flags, &rc, &ca);
  const char *request = flags & STATUS_JSON ? "status json\n" : "status\n";

  if (!path)
    return rc;
  if (!(flags & STATUS_TEST))
    return control_call(progname, &ca, request);

  char *answer;
  rc = control_ask(progname, &ca, request, &answer);
  if (answer)
    fputs(answer, stdout);
  rc = rc ? 4 : state_exit_status(answer);
  free(answer);
  return rc;
}

/* "VERB -c SOCKET SHELF.SLOT": add, fail and remove. */
static int shelf_main(const char *progname, const char *verb, int argc, char **argv)
{
  char request[128], usage[64];
  int rc;
  struct control_args ca;
  const char *path;

  snprintf(usage, sizeof usage, "%s -c SOCKET SHELF.SLOT", verb);
  path = control_opts(progname, argc, argv, usage, NULL, &rc, &ca);
  if (!path)
    return rc;
  if (optind + 1 != argc) {
    fprintf(stderr, "%s: %s: give one shelf, SHELF.SLOT, for example e6.1\n", progname, verb);
    return 2;
  }
  if (snprintf(request, sizeof request, "%s %s\n", verb, argv[optind]) >= (int)sizeof request
      || strchr(argv[optind], '\n')) {
    fprintf(stderr, "%s: %s: '%s' is not a shelf address: write SHELF.SLOT\n", progname,
            verb, argv[optind]);
    return 2;
  }
  return control_call(progname, &ca, request);
}

int add_main(const char *progname, int argc, char **argv)
{
  return shelf_main(progname, "add", argc, argv);
}

int fail_main(const char *progname, int argc, char **argv)
{
  return shelf_main(progname, "fail", argc, argv);
}

int remove_main(const char *progname, int argc, char **argv)
{
  return shelf_main(progname, "remove", argc, argv);
}

/* "writemostly -c SOCKET SHELF.SLOT on|off" (md's --write-mostly). */
int writemostly_main(const char *progname, int argc, char **argv)
{
  static const char usage[] = "writemostly -c SOCKET SHELF.SLOT on|off";
  char request[128];
  int rc;
  struct control_args ca;
  const char *path = control_opts(progname, argc, argv, usage, NULL, &rc, &ca);

  if (!path)
    return rc;
  if (optind + 2 != argc || (strcmp(argv[optind + 1], "on") && strcmp(argv[optind + 1], "off"))) {
    fprintf(stderr, "%s: writemostly: give one shelf and on or off, for example "
            "writemostly -c SOCKET e6.1 on\n", progname);
    return 2;
  }
  if (snprintf(request, sizeof request, "writemostly %s %s\n", argv[optind],
               argv[optind + 1]) >= (int)sizeof request || strpbrk(argv[optind], " \n")) {
    fprintf(stderr, "%s: writemostly: '%s' is not a shelf address: write SHELF.SLOT\n",
            progname, argv[optind]);
    return 2;
  }
  return control_call(progname, &ca, request);
}

/* The request "VERB ARG..." from the words left on the command line; 0, or 2 after a
 * usage message (a word that OK refuses, or too many). */
static int join_words(const char *progname, const char *verb, int argc, char **argv,
                      int (*ok)(const char *), const char *hint, char *request, size_t size)
{
  snprintf(request, size, "%s", verb);
  for (; optind < argc; optind++) {
    const char *arg = argv[optind];
    if (!ok(arg) || strpbrk(arg, " \n")) {
      fprintf(stderr, "%s: %s: '%s' is not %s\n", progname, verb, arg, hint);
      return 2;
    }
    if (strlen(request) + 1 + strlen(arg) + 2 > size) {
      fprintf(stderr, "%s: %s: arguments too long\n", progname, verb);
      return 2;
    }
    strcat(strcat(request, " "), arg);
  }
  strcat(request, "\n");
  return 0;
}

static int speed_word(const char *arg)
{
  return !strncmp(arg, "min=", 4) || !strncmp(arg, "max=", 4);
}

int speed_main(const char *progname, int argc, char **argv)
{
  char request[256];
  int rc;
  struct control_args ca;
  const char *path = control_opts(progname, argc, argv,
                                  "speed -c SOCKET [min=RATE] [max=RATE]", NULL, &rc, &ca);

  if (!path)
    return rc;
  if (join_words(progname, "speed", argc, argv, speed_word, "min=RATE or max=RATE",
                 request, sizeof request))
    return 2;
  return control_call(progname, &ca, request);
}

static int grow_word(const char *arg)
{
  return !strncmp(arg, "level=", 6) || !strncmp(arg, "size=", 5)
         || !strncmp(arg, "bitmap=", 7) || !strncmp(arg, "consistency-policy=", 19)
         || arg[0] == 'e';
}

int grow_main(const char *progname, int argc, char **argv)
{
  char request[512];
  int rc;
  struct control_args ca;
  const char *path = control_opts(progname, argc, argv,
                                  "grow -c SOCKET [level=LEVEL] SHELF.SLOT... | "
                                  "grow -c SOCKET size=SIZE|max | "
                                  "grow -c SOCKET bitmap=SIZE|none | "
                                  "grow -c SOCKET consistency-policy=ppl|bitmap|resync",
                                  NULL, &rc, &ca);

  if (!path)
    return rc;
  if (optind == argc) {
    fprintf(stderr, "%s: grow: name the shelves to grow onto, for example e3.1, or the "
            "member size to grow to, size=max, bitmap=SIZE|none, or "
            "consistency-policy=ppl|bitmap|resync\n", progname);
    return 2;
  }
  if (join_words(progname, "grow", argc, argv, grow_word,
                 "a shelf (SHELF.SLOT), level=LEVEL, size=SIZE, bitmap=SIZE|none or "
                 "consistency-policy=ppl|bitmap|resync",
                 request, sizeof request))
    return 2;
  return control_call(progname, &ca, request);
}

static int shelf_word(const char *arg)
{
  return arg[0] == 'e' || (arg[0] >= '0' && arg[0] <= '9');
}

int replace_main(const char *progname, int argc, char **argv)
{
  char request[128];
  int rc;
  struct control_args ca;
  const char *path = control_opts(progname, argc, argv, "replace -c SOCKET OLD [NEW]", NULL,
                                  &rc, &ca);

  if (!path)
    return rc;
  if (argc - optind < 1 || argc - optind > 2) {
    fprintf(stderr, "%s: replace: give the member to replace and, if you like, the shelf "
            "to put in its place: replace -c SOCKET e2.1 [e5.1]\n", progname);
    return 2;
  }
  if (join_words(progname, "replace", argc, argv, shelf_word, "a shelf (SHELF.SLOT)", request,
                 sizeof request))
    return 2;
  return control_call(progname, &ca, request);
}

static int check_word(const char *arg)
{
  return !strcmp(arg, "repair") || !strcmp(arg, "stop");
}

int check_main(const char *progname, int argc, char **argv)
{
  char request[64];
  int rc;
  struct control_args ca;
  const char *path = control_opts(progname, argc, argv, "check -c SOCKET [repair|stop]",
                                  NULL, &rc, &ca);

  if (!path)
    return rc;
  if (argc - optind > 1) {
    fprintf(stderr, "%s: check: give at most one word, repair or stop\n", progname);
    return 2;
  }
  if (join_words(progname, "check", argc, argv, check_word, "repair or stop", request,
                 sizeof request))
    return 2;
  return control_call(progname, &ca, request);
}

static double seconds_since(const struct timespec *t0)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - t0->tv_sec) + (now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The runs of ANSWER (a line each) in one line, and how to wait longer. */
static void say_still_running(const char *progname, const char *path, int limit_s,
                              char *answer)
{
  const char *sep = " ";
  char *save;

  fprintf(stderr, "%s: %s: still running after %d s:", progname, path, limit_s);
  for (char *line = strtok_r(answer, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    fprintf(stderr, "%s%s", sep, line);
    sep = "; ";
  }
  fprintf(stderr, "; wait longer with -t SECONDS (0: no limit)\n");
}

/* What runs (the answer of "status activity") into *ANSWER: 0, or 1 after an error said.
 * A server older than that request (*OLDER, found at the first answer: an upgrade left the
 * older plugin serving) is asked for its status, whose run lines tell the same. */
static int ask_activity(const char *progname, struct control_args *ca, bool *older,
                        char **answer)
{
  char *status;
  int rc;

  if (!*older) {
    ca->errors_to_sink = true;
    rc = control_ask(progname, ca, "status activity\n", answer);
    if (rc == 0 || !*answer || !strstr(*answer, "unknown request 'status activity'")) {
      if (rc && *answer)
        fputs(*answer, stderr);
      return rc;
    }
    free(*answer);
    *older = true;
  }
  ca->errors_to_sink = false;
  rc = control_ask(progname, ca, "status\n", &status);
  *answer = NULL;
  if (rc == 0) {
    size_t len = 0;
    FILE *out = open_memstream(answer, &len);
    if (out) {
      activity_from_status(status, out);
      fclose(out);
    }
    rc = *answer ? 0 : 1;
  }
  free(status);
  return rc;
}

/* "wait -c SOCKET [-t SECONDS]" (md's --wait): ask what runs every quarter second until
 * nothing does.  -t bounds the whole wait here (default none, as md's); each question
 * still waits at most CONTROL_WAIT_S for its answer.  0 once idle; 1 after -t, or when
 * the server is gone (a stop during the wait is not the end of the work). */
int wait_main(const char *progname, int argc, char **argv)
{
  static const struct timespec quarter = { .tv_nsec = 250000000 };
  struct control_args ca, ask;
  struct timespec t0;
  int rc;
  const char *path = control_opts(progname, argc, argv, "wait -c SOCKET [-t SECONDS]", NULL,
                                  &rc, &ca);

  if (!path)
    return rc;
  if (optind != argc) {
    fprintf(stderr, "%s: wait: '%s': wait takes no words, only -c SOCKET and -t SECONDS\n",
            progname, argv[optind]);
    return 2;
  }
  int limit_s = ca.wait_given ? ca.wait_s : 0;
  bool older = false;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    char *answer;
    ask = ca;
    ask.wait_s = limit_s && limit_s < CONTROL_WAIT_S ? limit_s : CONTROL_WAIT_S;
    rc = ask_activity(progname, &ask, &older, &answer);
    if (rc == 0 && strcmp(answer, "idle\n") && limit_s && seconds_since(&t0) >= limit_s) {
      say_still_running(progname, path, limit_s, answer);
      rc = 1;
    }
    else if (rc == 0 && strcmp(answer, "idle\n"))
      rc = -1;                  /* ask again */
    free(answer);
    if (rc >= 0)
      return rc;
    nanosleep(&quarter, NULL);
  }
}

/* Send one request line, copy the answer out; 0, or 1 when the server answered with
 * an error, could not be reached, or said nothing for CA->wait_s seconds (the server
 * serves one request at a time: a stopped or hung one would otherwise hold an admin's
 * status loop for ever). */
static int control_call(const char *progname, const struct control_args *ca,
                        const char *request)
{
  return control_talk(progname, ca, request, stdout);
}

/* control_talk's answer into *ANSWER (malloc'd): 0, or 1 as control_talk, and when no
 * memory was had for it (*ANSWER NULL). */
static int control_ask(const char *progname, const struct control_args *ca,
                       const char *request, char **answer)
{
  size_t len = 0;
  FILE *sink;
  int rc;

  *answer = NULL;
  sink = open_memstream(answer, &len);
  if (!sink) {
    fprintf(stderr, "%s: %s: %s\n", progname, ca->path, strerror(errno));
    return 1;
  }
  rc = control_talk(progname, ca, request, sink);
  fclose(sink);
  return rc;
}

/* control_call's exchange, the answer but errors written to SINK. */
static int control_talk(const char *progname, const struct control_args *ca,
                        const char *request, FILE *sink)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct timeval tv = { .tv_sec = ca->wait_s };
  const char *path = ca->path;

  if (strlen(path) >= sizeof addr.sun_path) {
    fprintf(stderr, "%s: %s: path too long for a Unix socket\n", progname, path);
    return 1;
  }
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  /* the timeouts bound connect (a full backlog) and each read; 0 is no limit */
  if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0
                  || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)) {
    close(fd);
    fd = -1;
  }
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    if (errno == EAGAIN)
      say_no_answer(progname, ca, "took no new connection");
    else
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
    /* "error:" at the start of any line: grow answers for each shelf it adds first;
     * "busy:" (every client thread taken: try again) only as the answer */
    if ((first && n >= 6 && !memcmp(buf, "error:", 6)) || memmem(buf, n, "\nerror:", 7)
        || (first && n >= 5 && !memcmp(buf, "busy:", 5)))
      failed = 1;
    first = 0;
    fwrite(buf, 1, n, failed && !ca->errors_to_sink ? stderr : sink);
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    say_no_answer(progname, ca, first ? "gave no answer" : "stopped answering");
    failed = 1;
  }
  close(fd);
  return failed;
}

/* aoeraid: the command line.
 *   aoeraid discover [-i IFACE]... [-w MS] [--json]
 *   aoeraid examine [-i IFACE]... [-w MS] [--json] [SHELF.SLOT...]
 *   aoeraid probe -i IFACE [-w MS] SHELF.SLOT [read|write] [SIZE]
 *   aoeraid zero-superblock -i IFACE... [-w MS] [--force] SHELF.SLOT...
 * discover lists the AoE shelves that answer, like aoe-stat; examine reads their
 * superblocks (tools/examine.c); probe measures raw sequential throughput through the
 * initiator library: the ceiling benchmarks compare against; zero-superblock wipes
 * aoeraid's metadata off shelves (tools/zero.c). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aoe.h"
#include "aoe-member.h"
#include "examine.h"
#include "shelves.h"
#include "status-cmd.h"
#include "json.h"
#include "text.h"
#include "typo.h"
#include "zero.h"

#define MAX_IFACES 16

static const char *progname = "aoeraid";

/* Each command: its usage lines (after "aoeraid ") and its description, as --help shows
 * them; `aoeraid CMD --help` shows its own.  The usage lines are aoeraid.pod's SYNOPSIS
 * (tests/docs-params.sh). */
static const struct command_help {
  const char *name;
  const char *synopsis;
  const char *text;
} commands[] = {
  { "discover",
    "discover [-i IFACE]... [-w MILLISECONDS] [--json]\n",
    "  discover  list the AoE shelves answering on the interfaces (default: every up\n"
    "            Ethernet interface); exit 0 if any answered\n" },
  { "examine",
    "examine [-i IFACE]... [-w MILLISECONDS] [--json] [SHELF.SLOT...]\n",
    "  examine   read the aoeraid superblock of the shelves named (default: every\n"
    "            one that answers; reads only) and say which array each belongs\n"
    "            to, its slot, events, clean or dirty (md's --examine); then per\n"
    "            array its shelves, the stale and missing ones, and the nbdkit\n"
    "            commands that start it, by its shelves and by uuid (md's\n"
    "            --examine --scan)\n" },
  { "probe",
    "probe -i IFACE [-w MILLISECONDS] SHELF.SLOT [read|write] [SIZE]\n",
    "  probe     sequential read (default) or write (destroys data) of SIZE bytes\n"
    "            (default 256M, suffixes K M G) through the initiator; prints MB/s\n" },
  { "status",
    "status -c SOCKET [--json] [--test]\n",
    "  status    ask a running nbdkit-aoeraid-plugin for its array's state; it and the\n"
    "            other -c commands take -t SECONDS, how long to wait for the answer\n"
    "            (default 60, 0: no limit); --test (md's --detail --test): exit 0\n"
    "            clean, 1 degraded, 2 failed, 4 if the server could not be asked\n" },
  { "add",
    "add -c SOCKET SHELF.SLOT\n",
    "  add       give a running array a shelf as a spare (hot-add); it replaces a\n"
    "            faulty or missing member at once, else waits for one to fail\n" },
  { "fail",
    "fail -c SOCKET SHELF.SLOT\n",
    "  fail      mark a working member faulty (md's --fail), to replace it: a spare\n"
    "            takes its slot; refused if the array cannot do without it\n" },
  { "remove",
    "remove -c SOCKET SHELF.SLOT\n",
    "  remove    drop a spare, or let go of a failed member's shelf (md's --remove);\n"
    "            the shelf is released and not re-added by itself\n" },
  { "writemostly",
    "writemostly -c SOCKET SHELF.SLOT on|off\n",
    "  writemostly  on: reads of a raid1 or raid10 avoid the member while another\n"
    "            copy can serve them, writes reach it as always (md's\n"
    "            --write-mostly: a far or slow shelf); off: it serves reads again;\n"
    "            kept in the superblocks\n" },
  { "replace",
    "replace -c SOCKET OLD [NEW]\n",
    "  replace   put the shelf NEW (added as a spare first), or the first spare, in\n"
    "            the place of member OLD while OLD keeps serving (md's --replace):\n"
    "            the array keeps its redundancy the whole time\n" },
  { "speed",
    "speed -c SOCKET [min=RATE] [max=RATE]\n",
    "  speed     show or set the resync and recovery speed limits (md's\n"
    "            speed_limit_min while clients do I/O, speed_limit_max otherwise);\n"
    "            RATE in bytes per second: 1000K, 200M; 0 for no limit\n" },
  { "grow",
    "grow -c SOCKET [level=LEVEL] SHELF.SLOT...\n"
    "grow -c SOCKET size=SIZE|max\n"
    "grow -c SOCKET bitmap=SIZE|none\n"
    "grow -c SOCKET consistency-policy=ppl|bitmap|resync\n",
    "  grow      add the shelves to a running array as new members and reshape it\n"
    "            onto them (md's --grow), optionally to another level (raid1 of 2\n"
    "            to level=5 of 3); the new space appears when the reshape is done;\n"
    "            size=max (or size=SIZE per member, K M G) uses the room of members\n"
    "            replaced by bigger shelves (md's --grow --size=max) at once, and\n"
    "            resyncs the new space; bitmap=SIZE adds a write-intent bitmap of\n"
    "            SIZE bytes per bit (64K to 1T) to an array in sync, bitmap=none\n"
    "            removes it (md's --grow --bitmap=internal|none);\n"
    "            consistency-policy=ppl keeps a partial parity log on a raid5 (md's\n"
    "            --grow --consistency-policy=ppl), bitmap drops it\n" },
  { "check",
    "check -c SOCKET [repair|stop]\n",
    "  check     read the whole array and compare its parity (mirror copies) with\n"
    "            the data (md's sync_action check); repair also rewrites what does\n"
    "            not match; stop ends either; status shows the mismatches found\n" },
  { "wait",
    "wait -c SOCKET [-t SECONDS]\n",
    "  wait      return once no resync, recovery, reshape, replace or check runs\n"
    "            (md's --wait): exit 0 then, 1 if -t SECONDS passed first (default:\n"
    "            no limit) or the server went away\n" },
  { "zero-superblock",
    "zero-superblock -i IFACE... [-w MILLISECONDS] [--force] SHELF.SLOT...\n",
    "  zero-superblock  erase aoeraid's superblock and bitmap (its metadata area,\n"
    "            4 KiB to 64 KiB) from shelves whose array is gone (md's\n"
    "            --zero-superblock), then read back that none is left; refused, and\n"
    "            nothing written, for a shelf another head holds reserved, and,\n"
    "            without --force, for a member or spare of an array not known gone\n" },
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_synopsis(FILE *f, const struct command_help *c, bool *first)
{
  for (const char *line = c->synopsis; *line;) {
    const char *nl = strchr(line, '\n');
    fprintf(f, "%s%s %.*s\n", *first ? "usage: " : "       ", progname, (int)(nl - line), line);
    *first = false;
    line = nl + 1;
  }
}

static void usage(FILE *f)
{
  bool first = true;
  for (size_t i = 0; i < N_COMMANDS; i++)
    print_synopsis(f, &commands[i], &first);
  for (size_t i = 0; i < N_COMMANDS; i++)
    fputs(commands[i].text, f);
  fputs("  --version (-V)  print aoeraid's version\n", f);
}

static const struct command_help *find_command(const char *name)
{
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (!strcmp(commands[i].name, name))
      return &commands[i];
  return NULL;
}

/* `aoeraid CMD --help`: that command's usage and description, not all of them. */
static void command_usage(FILE *f, const char *name, bool with_text)
{
  const struct command_help *c = find_command(name);
  bool first = true;
  if (!c) {
    usage(f);
    return;
  }
  print_synopsis(f, c, &first);
  if (!with_text)
    return;
  fputs(c->text, f);
  if (strstr(c->synopsis, "-c SOCKET") && !strstr(c->text, "-t SECONDS"))
    fprintf(f, "  -t SECONDS (--timeout): how long to wait for the server's answer (default 60,\n"
            "            0: no limit); SOCKET is the control= path given to nbdkit aoeraid\n");
  fprintf(f, "See aoeraid(1) for more.\n");
}

static void log_stderr(void *opaque, int level, const char *msg)
{
  int verbose = *(int *)opaque;
  if (level <= AOE_LOG_WARN || verbose)
    fprintf(stderr, "%s: %s\n", progname, msg);
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void mac_text(const uint8_t *m, char *out)
{
  sprintf(out, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void print_target_text(const struct aoe_target_info *in)
{
  char size[32], ifaces[128] = "", macs[8 * 18 + 8] = "";
  size_t ni = 0, nm = 0;
  format_size(in->sectors * 512, size, sizeof size);
  for (size_t i = 0; i < in->npaths; i++) {
    char mac[18];
    mac_text(in->paths[i].mac, mac);
    if (!strstr(ifaces, in->paths[i].iface))
      ni += (size_t)snprintf(ifaces + ni, sizeof ifaces - ni, "%s%s", ni ? "," : "",
                             in->paths[i].iface);
    nm += (size_t)snprintf(macs + nm, sizeof macs - nm, "%s%s", nm ? "," : "", mac);
  }
  printf("e%u.%u %10s %s %s %s bufcnt=%u payload=%u write-cache=%s firmware=%s serial=%s\n",
         in->shelf, in->slot, size, ifaces, in->up ? "up" : "down", macs, in->bufcnt,
         in->scnt * 512, in->write_cache ? "on" : "off", in->firmware, in->serial);
}

static void print_target_json(const struct aoe_target_info *in, int first)
{
  printf("%s{\"shelf\":%u,\"slot\":%u,\"sectors\":%" PRIu64 ",\"bytes\":%" PRIu64
         ",\"up\":%s,\"bufcnt\":%u,\"sectors_per_frame\":%u,\"payload\":%u,"
         "\"write_cache\":%s,\"firmware\":", first ? "" : ",", in->shelf, in->slot, in->sectors,
         in->sectors * 512, in->up ? "true" : "false", in->bufcnt, in->scnt, in->scnt * 512,
         in->write_cache ? "true" : "false");
  json_string(stdout, in->firmware);
  printf(",\"serial\":");
  json_string(stdout, in->serial);
  printf(",\"model\":");
  json_string(stdout, in->model);
  printf(",\"config\":");
  json_string(stdout, in->config);
  printf(",\"paths\":[");
  for (size_t i = 0; i < in->npaths; i++) {
    char mac[18];
    mac_text(in->paths[i].mac, mac);
    printf("%s{\"iface\":\"%s\",\"mac\":\"%s\"}", i ? "," : "", in->paths[i].iface, mac);
  }
  printf("]}");
}

static struct aoe_initiator *open_initiator(const char **ifaces, size_t n, int *verbose)
{
  char err[256];
  struct aoe_options o = { .ifaces = ifaces, .n_ifaces = n, .log = log_stderr,
                           .log_opaque = verbose };
  struct aoe_initiator *ini = aoe_open(&o, err, sizeof err);
  if (!ini) {
    fprintf(stderr, "%s: %s\n", progname, err);
    return NULL;
  }
  if (aoe_start(ini) < 0) {
    fprintf(stderr, "%s: cannot start the initiator thread\n", progname);
    aoe_close(ini);
    return NULL;
  }
  return ini;
}

/* The options discover, examine, zero-superblock and probe share: -i IFACE..., -w MS,
 * -v, and --json or --force for the verbs that take them (TAKES). */
enum { TAKES_JSON = 1, TAKES_FORCE = 2 };
struct scan_opts {
  const char *ifaces[MAX_IFACES];
  size_t n;
  int json, force, verbose;
  long wait_ms;
};

static int scan_opts_parse(int argc, char **argv, const char *verb, unsigned takes,
                           struct scan_opts *o);

/* Parse them into *o; returns -1 to go on (operands from optind), else the exit code. */
static int scan_opts(int argc, char **argv, unsigned takes, struct scan_opts *o)
{
  char name[64], *verb = option_words(progname, argv, name, sizeof name);

  return option_words_done(argv, verb, scan_opts_parse(argc, argv, verb, takes, o));
}

static int scan_opts_parse(int argc, char **argv, const char *verb, unsigned takes,
                           struct scan_opts *o)
{
  static const struct option longopts[] = {
    { "iface", required_argument, NULL, 'i' }, { "json", no_argument, NULL, 'j' },
    { "force", no_argument, NULL, 'f' },
    { "wait", required_argument, NULL, 'w' }, { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
  };
  int c;
  *o = (struct scan_opts){ .wait_ms = 1000 };
  while ((c = getopt_long(argc, argv, "i:w:vh", longopts, NULL)) != -1) {
    switch (c) {
    case 'i':
      if (o->n == MAX_IFACES) {
        fprintf(stderr, "%s: at most %d interfaces\n", progname, MAX_IFACES);
        return 2;
      }
      for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->ifaces[i], optarg)) {
          fprintf(stderr, "%s: -i %s is given twice: give each interface once\n", progname,
                  optarg);
          return 2;
        }
      o->ifaces[o->n++] = optarg;
      break;
    case 'j':
    case 'f':
      if (!(takes & (c == 'j' ? TAKES_JSON : TAKES_FORCE))) {
        /* as getopt says it of an option no verb takes ("aoeraid probe: ..."), and usage */
        fprintf(stderr, "%s: unrecognized option '--%s'\n", argv[0],
                c == 'j' ? "json" : "force");
        command_usage(stderr, verb, false);
        return 2;
      }
      *(c == 'j' ? &o->json : &o->force) = 1;
      break;
    case 'v': o->verbose = 1; break;
    case 'w': {
      char *end;
      o->wait_ms = strtol(optarg, &end, 10);
      if (*end || o->wait_ms < 1 || o->wait_ms > 600000) {
        fprintf(stderr, "%s: -w '%s': give the wait in milliseconds, 1 to 600000\n", progname,
                optarg);
        return 2;
      }
      break;
    }
    case 'h': command_usage(stdout, verb, true); return 0;
    default: command_usage(stderr, verb, false); return 2;
    }
  }
  return -1;
}

static void say_none_answered(struct aoe_initiator *ini, long wait_ms)
{
  char names[256];
  aoe_iface_names(ini, names, sizeof names);
  fprintf(stderr, "%s: no AoE shelf answered on %s within %ld ms (is vblade running on that "
          "segment, does its -m list include this host's MAC, is the link up?)\n",
          progname, names, wait_ms);
}

static int cmd_discover(int argc, char **argv)
{
  struct scan_opts o;
  int rc = scan_opts(argc, argv, TAKES_JSON, &o);
  if (rc >= 0)
    return rc;
  if (optind != argc) {
    fprintf(stderr, "%s: discover: unexpected argument '%s'\n", progname, argv[optind]);
    return 2;
  }
  struct aoe_initiator *ini = open_initiator(o.ifaces, o.n, &o.verbose);
  if (!ini)
    return 1;
  aoe_discover(ini, (unsigned)o.wait_ms);
  /* every shelf that answered: the initiator tracks up to AOE_MAX_TARGETS */
  static struct aoe_target *targets[AOE_MAX_TARGETS];
  size_t nt = aoe_targets(ini, targets, AOE_MAX_TARGETS);
  if (o.json)
    printf("[");
  for (size_t i = 0; i < nt; i++) {
    struct aoe_target_info info;
    aoe_target_info(targets[i], &info);
    if (o.json)
      print_target_json(&info, i == 0);
    else
      print_target_text(&info);
  }
  if (o.json)
    printf("]\n");
  if (!nt)
    say_none_answered(ini, o.wait_ms);
  aoe_close(ini);
  return nt ? 0 : 1;
}

/* examine and zero-superblock: the options (TAKES), the shelves named (usage errors
 * before any network; NEED: -i and a shelf are required), then the initiator, after a
 * discovery of -w at most (ended once every shelf named answered), in *INI.  Returns -1
 * to go on, else the exit code. */
static int open_named(int argc, char **argv, unsigned takes, int need, struct scan_opts *o,
                      struct shelf_addr *addrs, size_t *na, struct aoe_initiator **ini)
{
  int rc = scan_opts(argc, argv, takes, o), n;
  if (rc >= 0)
    return rc;
  if (need && (!o->n || optind == argc)) {
    fprintf(stderr, "%s: %s needs -i IFACE and the shelves, e.g. '%s -i eth0 e3.1'\n",
            progname, argv[0], argv[0]);
    return 2;
  }
  n = parse_shelf_args(progname, argv[0], argc - optind, argv + optind, addrs);
  if (n < 0)
    return 2;
  *na = (size_t)n;
  *ini = open_initiator(o->ifaces, o->n, &o->verbose);
  if (!*ini)
    return 1;
  discover_named(*ini, addrs, *na, (unsigned)o->wait_ms);
  return -1;
}

/* examine: the reading and printing is tools/examine.c's. */
static int cmd_examine(int argc, char **argv)
{
  struct scan_opts o;
  struct shelf_addr addrs[MAX_NAMED];
  struct aoe_initiator *ini;
  size_t na;
  int rc = open_named(argc, argv, TAKES_JSON, 0, &o, addrs, &na, &ini);
  if (rc >= 0)
    return rc;
  rc = examine_main(progname, ini, addrs, na, (unsigned)o.wait_ms, o.json);
  if (rc == EXAMINE_NONE_ANSWERED) {
    say_none_answered(ini, o.wait_ms);
    rc = 1;
  }
  aoe_close(ini);
  return rc;
}

/* zero-superblock: the judging and wiping is tools/zero.c's. */
static int cmd_zero(int argc, char **argv)
{
  struct scan_opts o;
  struct shelf_addr addrs[MAX_NAMED];
  struct aoe_initiator *ini;
  size_t na;
  int rc = open_named(argc, argv, TAKES_FORCE, 1, &o, addrs, &na, &ini);
  if (rc >= 0)
    return rc;
  rc = zero_main(progname, ini, addrs, na, (unsigned)o.wait_ms, o.force);
  aoe_close(ini);
  return rc;
}

/* ---- probe --------------------------------------------------------------------------- */

#define PROBE_CHUNK_SECTORS 2048u   /* 1 MiB per request */
#define PROBE_DEPTH 4               /* requests in flight: keeps every window full */

struct probe {
  struct aoe_target *t;
  enum aoe_op op;
  uint8_t *bufs[PROBE_DEPTH];
  uint64_t next_lba, end_lba;
  unsigned inflight;
  int err;
  pthread_mutex_t lock;
  pthread_cond_t cond;
};

struct probe_slot {
  struct probe *p;
  unsigned i;
};

static void probe_done(void *opaque, int err);

/* Called with p->lock held. */
static void probe_next(struct probe_slot *s)
{
  struct probe *p = s->p;
  if (p->err || p->next_lba >= p->end_lba)
    return;
  uint64_t left = p->end_lba - p->next_lba;
  uint32_t n = left < PROBE_CHUNK_SECTORS ? (uint32_t)left : PROBE_CHUNK_SECTORS;
  uint64_t lba = p->next_lba;
  p->next_lba += n;
  p->inflight++;
  pthread_mutex_unlock(&p->lock);
  aoe_submit(p->t, p->op, lba, n, p->bufs[s->i], probe_done, s);
  pthread_mutex_lock(&p->lock);
}

static void probe_done(void *opaque, int err)
{
  struct probe_slot *s = opaque;
  struct probe *p = s->p;
  pthread_mutex_lock(&p->lock);
  p->inflight--;
  if (err && !p->err)
    p->err = err;
  probe_next(s);
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->lock);
}

static int parse_size(const char *s, uint64_t *out)
{
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s)
    return -1;
  switch (*end) {
  case 'k': case 'K': v <<= 10; end++; break;
  case 'm': case 'M': v <<= 20; end++; break;
  case 'g': case 'G': v <<= 30; end++; break;
  default: break;
  }
  if (*end && strcmp(end, "iB") && strcmp(end, "B"))
    return -1;
  *out = v;
  return 0;
}

static int run_probe(struct aoe_target *t, enum aoe_op op, uint64_t bytes, double *secs)
{
  struct probe p = { .t = t, .op = op, .end_lba = bytes / 512 };
  struct probe_slot slots[PROBE_DEPTH];
  pthread_mutex_init(&p.lock, NULL);
  pthread_cond_init(&p.cond, NULL);
  for (unsigned i = 0; i < PROBE_DEPTH; i++) {
    p.bufs[i] = aligned_alloc(4096, PROBE_CHUNK_SECTORS * 512);
    if (!p.bufs[i])
      return ENOMEM;
    memset(p.bufs[i], 0xa5 ^ (int)i, PROBE_CHUNK_SECTORS * 512);
    slots[i] = (struct probe_slot){ &p, i };
  }
  double t0 = now_s();
  pthread_mutex_lock(&p.lock);
  for (unsigned i = 0; i < PROBE_DEPTH; i++)
    probe_next(&slots[i]);
  while (p.inflight)
    pthread_cond_wait(&p.cond, &p.lock);
  pthread_mutex_unlock(&p.lock);
  *secs = now_s() - t0;
  for (unsigned i = 0; i < PROBE_DEPTH; i++)
    free(p.bufs[i]);
  return p.err;
}

static int cmd_probe(int argc, char **argv)
{
  struct scan_opts o;
  int rc = scan_opts(argc, argv, 0, &o);
  if (rc >= 0)
    return rc;
  struct shelf_addr a;
  if (o.n != 1 || optind >= argc) {
    fprintf(stderr, "%s: probe needs one -i IFACE and SHELF.SLOT, e.g. 'probe -i eth0 1.1'\n",
            progname);
    return 2;
  }
  const char *iface = o.ifaces[0];
  if (parse_shelf_args(progname, "probe", 1, argv + optind, &a) < 0)
    return 2;
  enum aoe_op op = AOE_READ;
  uint64_t bytes = 256ull << 20;
  for (int i = optind + 1; i < argc; i++) {
    if (!strcmp(argv[i], "read"))
      op = AOE_READ;
    else if (!strcmp(argv[i], "write"))
      op = AOE_WRITE;
    else if (parse_size(argv[i], &bytes) < 0 || bytes < 512) {
      fprintf(stderr, "%s: '%s' is neither read, write nor a size like 64M\n", progname,
              argv[i]);
      return 2;
    }
  }
  struct aoe_initiator *ini = open_initiator(o.ifaces, 1, &o.verbose);
  if (!ini)
    return 1;
  /* as examine naming it: the discovery ends once the shelf answered, -w at most */
  discover_named(ini, &a, 1, (unsigned)o.wait_ms);
  struct aoe_target *t;
  size_t missing;
  if (!find_named(progname, ini, &a, 1, (unsigned)o.wait_ms, &t, &missing)) {
    aoe_close(ini);
    return 1;
  }
  struct aoe_target_info info;
  aoe_target_info(t, &info);
  if (bytes > info.sectors * 512)
    bytes = info.sectors * 512;
  double secs;
  int err = run_probe(t, op, bytes, &secs);
  struct aoe_stats st;
  aoe_target_stats(t, &st);
  if (err) {
    fprintf(stderr, "%s: probe %s failed: %s (%s)\n", progname,
            op == AOE_WRITE ? "write" : "read", strerror(err), aoe_target_last_error(t));
    aoe_close(ini);
    return 1;
  }
  printf("%s e%u.%u via %s: %" PRIu64 " bytes in %.3f s: %.1f MB/s "
         "(payload %u, window %u, srtt %u us, retransmits %" PRIu64 ")\n",
         op == AOE_WRITE ? "write" : "read", a.shelf, a.slot, iface, bytes, secs,
         bytes / secs / 1e6, info.scnt * 512, st.npaths ? st.paths[0].window : 0,
         st.npaths ? st.paths[0].srtt_us : 0, st.retransmits);
  aoe_close(ini);
  return 0;
}

/* Whether the words after a command ask for its help (-h, --help). */
static bool asks_help(int argc, char **argv)
{
  for (int i = 0; i < argc; i++)
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
      return true;
  return false;
}

/* The command a mistyped word most likely meant (at most 2 edits off), or NULL. */
static const char *nearest_command(const char *word)
{
  const char *names[N_COMMANDS];
  for (size_t i = 0; i < N_COMMANDS; i++)
    names[i] = commands[i].name;
  return typo_nearest(word, names, N_COMMANDS);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (find_command(cmd) && asks_help(argc - 2, argv + 2)) {
    command_usage(stdout, cmd, true);
    return 0;
  }
  if (!strcmp(cmd, "discover"))
    return cmd_discover(argc - 1, argv + 1);
  if (!strcmp(cmd, "examine"))
    return cmd_examine(argc - 1, argv + 1);
  if (!strcmp(cmd, "probe"))
    return cmd_probe(argc - 1, argv + 1);
  if (!strcmp(cmd, "status"))
    return status_main(progname, argc - 1, argv + 1);
  if (!strcmp(cmd, "add"))
    return add_main(progname, argc - 1, argv + 1);
  if (!strcmp(cmd, "fail"))
    return fail_main(progname, argc - 1, argv + 1);
  if (!strcmp(cmd, "remove"))
    return remove_main(progname, argc - 1, argv + 1);
  if (!strcmp(cmd, "writemostly"))
    return writemostly_main(progname, argc - 1, argv + 1);
  if (!strcmp(cmd, "replace"))
    return replace_main(progname, argc - 1, argv + 1);
  if (!strcmp(cmd, "speed"))
    return speed_main(progname, argc - 1, argv + 1);
  if (!strcmp(cmd, "wait"))
    return wait_main(progname, argc - 1, argv + 1);
  if (!strcmp(cmd, "grow"))
    return grow_main(progname, argc - 1, argv + 1);
  if (!strcmp(cmd, "check"))
    return check_main(progname, argc - 1, argv + 1);
  if (!strcmp(cmd, "zero-superblock"))
    return cmd_zero(argc - 1, argv + 1);
  if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
    printf("%s %s\n", progname, PACKAGE_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  /* An option first (mdadm's order: mdadm -D /dev/md0) was called an unknown command */
  if (cmd[0] == '-') {
    fprintf(stderr, "%s: '%s' before the command: give the command first, then its options "
            "(%s status -c SOCKET; '%s --help' lists the commands)\n", progname, cmd,
            progname, progname);
    return 2;
  }
  /* One line: the whole usage after it would scroll the line that says what was wrong
   * off the screen. */
  const char *near = nearest_command(cmd);
  fprintf(stderr, "%s: unknown command '%s'%s%s%s: use discover, examine, probe, status, add, "
          "fail, remove, writemostly, replace, speed, grow, check, wait or zero-superblock "
          "('%s --help' says what each does)\n", progname, cmd,
          near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "", progname);
  return 2;
}

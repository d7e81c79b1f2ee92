/* aoe-client: drives the initiator library against real shelves for the integration tests.
 *   aoe-client [-i IFACE]... [-d DEAD_MS] [-w DISCOVER_MS] [-v] SHELF.SLOT COMMAND...
 * The library's lines go to stderr, its debug lines too with -v.
 * Commands run in order; the first failure prints why and exits 1:
 *   info                       print "sectors=N scnt=N paths=N up=N"
 *   write LBA N SEED           write the pattern of SEED to sectors [LBA, LBA+N)
 *   read LBA N SEED            read them back and compare with the pattern
 *   random SEED COUNT AREA     COUNT overlapping async writes of random sizes and offsets
 *                              within AREA sectors, then read back against a shadow copy
 *   flush                      FLUSH, must succeed
 *   expect OP LBA N ERRNO      OP (read|write|flush) must fail with ERRNO (EIO, EINVAL, ...)
 *   stream MS AREA             write and verify 64 KiB at a time for MS ms, all must succeed
 *   threads N MS AREA          N threads streaming at once, each on its own slice of AREA
 *   until-fail MS AREA         the same until an I/O fails with EIO (within MS, else exit 1);
 *                              prints "failed errno=E silent_ms=S at_ms=T": time since the last
 *                              success, and the wall clock (ms) at the failure
 *   load LBA FILE | dump LBA N FILE   write FILE's bytes at LBA / read N sectors into FILE
 *   wait-up MS                 wait until the shelf is up again (after being declared down)
 *   wait-down MS               wait until the shelf is declared down; prints "down at_ms=T"
 *   wait-path-down IFACE MS    wait until the shelf's path via IFACE is down
 *   idle MS                    send nothing for MS ms (keepalives may flow)
 *   wait-target SHELF.SLOT MS  wait until another shelf has been discovered (re-discovery)
 *   wait-paths N MS            wait until N paths of the shelf are up
 *   mark FILE | await FILE     create FILE / wait (30 s at most) until FILE exists
 *   reserve [force] | release | holders | stats */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aoe.h"

static struct aoe_target *target;
static struct aoe_initiator *ini;

static uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The wall clock in ms, to compare with the test script's `date +%s%3N`. */
static uint64_t wall_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mix(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* Sector contents depend on the seed and the absolute LBA only. */
static void pattern(uint8_t *buf, uint64_t lba, uint32_t n, uint64_t seed)
{
  for (uint32_t s = 0; s < n; s++)
    for (unsigned w = 0; w < 64; w++) {
      uint64_t v = mix(seed * 0x100000001b3ull ^ ((lba + s) << 6 | w));
      memcpy(buf + (size_t)s * 512 + w * 8, &v, 8);
    }
}

static void die(const char *fmt, const char *a, int err)
{
  fprintf(stderr, "aoe-client: ");
  fprintf(stderr, fmt, a);
  fprintf(stderr, ": %s (%s)\n", strerror(err), aoe_target_last_error(target));
  exit(1);
}

static uint8_t *alloc_sectors(uint64_t n)
{
  uint8_t *b = malloc(n ? n * 512 : 512);
  if (!b) {
    fprintf(stderr, "aoe-client: out of memory\n");
    exit(1);
  }
  return b;
}

static int errno_by_name(const char *s)
{
  static const struct { const char *name; int err; } names[] = {
    { "EIO", EIO }, { "EINVAL", EINVAL }, { "EBUSY", EBUSY }, { "EBADE", EBADE },
    { "ENXIO", ENXIO }, { "EROFS", EROFS }, { "ETIMEDOUT", ETIMEDOUT },
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcmp(names[i].name, s))
      return names[i].err;
  fprintf(stderr, "aoe-client: unknown errno name %s\n", s);
  exit(2);
}

static void cmd_write(uint64_t lba, uint32_t n, uint64_t seed)
{
  uint8_t *b = alloc_sectors(n);
  pattern(b, lba, n, seed);
  int rc = aoe_io(target, AOE_WRITE, lba, n, b);
  if (rc)
    die("write of %s sectors failed", "N", -rc);
  free(b);
}

static void cmd_read(uint64_t lba, uint32_t n, uint64_t seed)
{
  uint8_t *b = alloc_sectors(n), *want = alloc_sectors(n);
  pattern(want, lba, n, seed);
  int rc = aoe_io(target, AOE_READ, lba, n, b);
  if (rc)
    die("read of %s sectors failed", "N", -rc);
  for (uint32_t s = 0; s < n; s++)
    if (memcmp(b + (size_t)s * 512, want + (size_t)s * 512, 512)) {
      fprintf(stderr, "aoe-client: read: sector %" PRIu64 " differs from what was written\n",
              lba + s);
      exit(1);
    }
  free(b);
  free(want);
}

/* ---- random overlapping async writes ------------------------------------------------ */

struct pending {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  unsigned left;
  int err;
};

static void pending_done(void *opaque, int err)
{
  struct pending *p = opaque;
  pthread_mutex_lock(&p->lock);
  if (err && !p->err)
    p->err = err;
  p->left--;
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->lock);
}

/* Wait until every request counted in P completed; returns the first error. */
static int pending_wait(struct pending *p)
{
  pthread_mutex_lock(&p->lock);
  while (p->left)
    pthread_cond_wait(&p->cond, &p->lock);
  pthread_mutex_unlock(&p->lock);
  return p->err;
}

static uint32_t random_len(uint64_t *rng, unsigned scnt, uint64_t area)
{
  uint32_t n;
  switch ((*rng = mix(*rng)) % 4) {
  case 0: n = 1 + (uint32_t)(mix(*rng) % scnt); break;            /* within a frame */
  case 1: n = scnt * (1 + (uint32_t)(mix(*rng) % 4)) + 1; break;   /* just past frames */
  case 2: n = 1 + (uint32_t)(mix(*rng) % (8 * scnt)); break;
  default: n = 1 + (uint32_t)(mix(*rng) % 600); break;             /* many frames */
  }
  return n < area ? n : (uint32_t)area;
}

static void cmd_random(uint64_t seed, unsigned count, uint64_t area)
{
  struct aoe_target_info info;
  aoe_target_info(target, &info);
  uint8_t *shadow = alloc_sectors(area), *bufs[256];
  uint64_t rng = seed;
  struct pending p = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
  /* Start from a known state. */
  pattern(shadow, 0, (uint32_t)area, seed ^ 1);
  if (aoe_io(target, AOE_WRITE, 0, (uint32_t)area, shadow))
    die("random: initial write %s", "", EIO);
  if (count > 256)
    count = 256;
  p.left = count;
  /* Submitted in order without waiting: overlapping writes must land in that order. */
  for (unsigned i = 0; i < count; i++) {
    uint32_t n = random_len(&rng, info.scnt, area);
    uint64_t lba = (rng = mix(rng)) % (area - n + 1);
    bufs[i] = alloc_sectors(n);
    pattern(bufs[i], lba, n, seed + 100 + i);
    memcpy(shadow + lba * 512, bufs[i], (size_t)n * 512);
    aoe_submit(target, AOE_WRITE, lba, n, bufs[i], pending_done, &p);
  }
  if (pending_wait(&p))
    die("random: a write %sfailed", "", p.err);
  for (unsigned i = 0; i < count; i++)
    free(bufs[i]);
  /* Read back in random pieces, all in flight at once. */
  uint8_t *back = alloc_sectors(area);
  memset(back, 0, area * 512);
  p.left = 0;
  for (uint64_t lba = 0; lba < area;) {
    uint32_t n = random_len(&rng, info.scnt, area - lba);
    pthread_mutex_lock(&p.lock);
    p.left++;
    pthread_mutex_unlock(&p.lock);
    aoe_submit(target, AOE_READ, lba, n, back + lba * 512, pending_done, &p);
    lba += n;
  }
  if (pending_wait(&p))
    die("random: a read %sfailed", "", p.err);
  for (uint64_t s = 0; s < area; s++)
    if (memcmp(back + s * 512, shadow + s * 512, 512)) {
      fprintf(stderr, "aoe-client: random: sector %" PRIu64 " holds other data than the "
              "last write to it\n", s);
      exit(1);
    }
  printf("random: %u overlapping writes in %" PRIu64 " sectors verified\n", count, area);
  free(back);
  free(shadow);
}

static int do_op(const char *op, uint64_t lba, uint32_t n)
{
  uint8_t *b = alloc_sectors(n);
  memset(b, 0x5a, (size_t)n * 512);
  int rc = !strcmp(op, "read") ? aoe_io(target, AOE_READ, lba, n, b)
         : !strcmp(op, "write") ? aoe_io(target, AOE_WRITE, lba, n, b)
         : aoe_io(target, AOE_FLUSH, 0, 0, NULL);
  free(b);
  return rc;
}

static void cmd_expect(const char *op, uint64_t lba, uint32_t n, const char *errname)
{
  int want = errno_by_name(errname);
  int rc = do_op(op, lba, n);
  if (rc != -want) {
    fprintf(stderr, "aoe-client: %s expected to fail with %s, got %s\n", op, errname,
            rc ? strerror(-rc) : "success");
    exit(1);
  }
  printf("expected failure: %s: %s\n", op, aoe_target_last_error(target));
}

/* Write and read back 64 KiB rounds for MS ms.  Returns 0, or the errno of the first
 * failure with *silent_ms the time since the last success. */
static uint64_t stream_slowest_ms;

static int stream_at(uint64_t base, uint64_t ms, uint64_t area, uint64_t *silent_ms,
                     uint64_t *rounds)
{
  const uint32_t n = 128;
  uint64_t end = now_ms() + ms, last_ok = now_ms(), lba = base, slowest = 0;
  uint8_t *b = alloc_sectors(n), *r = alloc_sectors(n);
  int rc = 0;
  *rounds = 0;
  while (!rc && now_ms() < end) {
    if (lba + n > base + area)
      lba = base;
    pattern(b, lba, n, *rounds);
    rc = -aoe_io(target, AOE_WRITE, lba, n, b);
    if (!rc)
      rc = -aoe_io(target, AOE_READ, lba, n, r);
    if (!rc && memcmp(b, r, (size_t)n * 512)) {
      fprintf(stderr, "aoe-client: stream: data read back differs at LBA %" PRIu64 "\n", lba);
      exit(1);
    }
    if (!rc) {
      if (now_ms() - last_ok > slowest)
        slowest = now_ms() - last_ok;
      last_ok = now_ms();
      ++*rounds;
      lba += n;
    }
  }
  *silent_ms = now_ms() - last_ok;
  if (slowest > stream_slowest_ms)
    stream_slowest_ms = slowest;
  free(b);
  free(r);
  return rc;
}

static int stream(uint64_t ms, uint64_t area, uint64_t *silent_ms, uint64_t *rounds)
{
  return stream_at(0, ms, area, silent_ms, rounds);
}

struct streamer {
  pthread_t thread;
  uint64_t base, ms, area, rounds, silent;
  int err;
};

static void *streamer_main(void *arg)
{
  struct streamer *s = arg;
  s->err = stream_at(s->base, s->ms, s->area, &s->silent, &s->rounds);
  return NULL;
}

/* N threads at once, each writing and verifying its own slice of AREA sectors. */
static void cmd_threads(unsigned n, uint64_t ms, uint64_t area)
{
  struct streamer s[64];
  uint64_t total = 0;
  if (n < 1 || n > 64 || area / n < 128) {
    fprintf(stderr, "aoe-client: threads: 1 to 64 threads, 128 sectors each at least\n");
    exit(2);
  }
  for (unsigned i = 0; i < n; i++) {
    s[i] = (struct streamer){ .base = i * (area / n), .ms = ms, .area = area / n };
    pthread_create(&s[i].thread, NULL, streamer_main, &s[i]);
  }
  for (unsigned i = 0; i < n; i++) {
    pthread_join(s[i].thread, NULL);
    if (s[i].err)
      die("threads: a stream %sfailed", "", s[i].err);
    total += s[i].rounds;
  }
  printf("threads: %u threads, %" PRIu64 " write+read rounds verified\n", n, total);
}

static void cmd_stream(uint64_t ms, uint64_t area)
{
  uint64_t silent, rounds;
  int rc = stream(ms, area, &silent, &rounds);
  if (rc)
    die("stream: I/O %sfailed", "", rc);
  printf("stream: %" PRIu64 " write+read rounds verified, slowest %" PRIu64 " ms\n", rounds,
         stream_slowest_ms);
}

static void cmd_until_fail(uint64_t ms, uint64_t area)
{
  uint64_t silent, rounds;
  int rc = stream(ms, area, &silent, &rounds);
  if (rc != EIO) {
    fprintf(stderr, "aoe-client: until-fail: expected EIO within %" PRIu64 " ms, got %s\n",
            ms, rc ? strerror(rc) : "no failure");
    exit(1);
  }
  printf("failed errno=%d silent_ms=%" PRIu64 " at_ms=%" PRIu64 " rounds=%" PRIu64 " msg=%s\n", rc,
         silent, wall_ms(), rounds,
         aoe_target_last_error(target));
  fflush(stdout);
}

static void cmd_load(uint64_t lba, const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    die("load: cannot open %s", path, errno);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  rewind(f);
  uint8_t *b = alloc_sectors((uint64_t)size / 512 + 1);
  if (size % 512 || fread(b, 1, (size_t)size, f) != (size_t)size) {
    fprintf(stderr, "aoe-client: load: %s must be whole sectors\n", path);
    exit(1);
  }
  fclose(f);
  int rc = aoe_io(target, AOE_WRITE, lba, (uint32_t)(size / 512), b);
  if (rc)
    die("load: writing %s failed", path, -rc);
  free(b);
}

static void cmd_dump(uint64_t lba, uint32_t n, const char *path)
{
  uint8_t *b = alloc_sectors(n);
  int rc = aoe_io(target, AOE_READ, lba, n, b);
  if (rc)
    die("dump: reading for %s failed", path, -rc);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(b, 512, n, f) != n || fclose(f))
    die("dump: cannot write %s", path, errno);
  free(b);
}

/* Poll COND every 10 ms for up to MS ms. */
static int wait_for(int (*cond)(const void *), const void *arg, uint64_t ms)
{
  uint64_t end = now_ms() + ms;
  while (!cond(arg)) {
    if (now_ms() >= end)
      return -1;
    usleep(10000);
  }
  return 0;
}

static int target_up(const void *arg)
{
  struct aoe_target_info in;
  aoe_target_info((struct aoe_target *)arg, &in);
  return in.up;
}

static int other_found(const void *arg)
{
  const unsigned *ss = arg;
  struct aoe_target *t = aoe_target_find(ini, ss[0], ss[1]);
  return t && target_up(t);
}

static int paths_up(const void *arg)
{
  struct aoe_stats s;
  size_t up = 0;
  aoe_target_stats(target, &s);
  for (size_t i = 0; i < s.npaths; i++)
    up += s.paths[i].up;
  return up >= *(const size_t *)arg;
}

static int target_down(const void *arg)
{
  return !target_up(arg);
}

static int path_down(const void *arg)
{
  struct aoe_stats s;
  aoe_target_stats(target, &s);
  for (size_t i = 0; i < s.npaths; i++)
    if (!strcmp(s.paths[i].iface, arg) && !s.paths[i].up)
      return 1;
  return 0;
}

static void cmd_wait(const char *what, int (*cond)(const void *), const void *arg, uint64_t ms)
{
  if (wait_for(cond, arg, ms) < 0) {
    fprintf(stderr, "aoe-client: %s: not within %" PRIu64 " ms\n", what, ms);
    exit(1);
  }
  printf("%s: ok\n", what);
}

static void cmd_await(const char *path)
{
  struct stat st;
  for (int i = 0; i < 3000 && stat(path, &st) < 0; i++)
    usleep(10000);
  if (stat(path, &st) < 0) {
    fprintf(stderr, "aoe-client: %s did not appear within 30 s\n", path);
    exit(1);
  }
}

static void cmd_stats(void)
{
  struct aoe_stats s;
  struct aoe_initiator_stats is;
  aoe_target_stats(target, &s);
  aoe_initiator_stats(ini, &is);
  printf("stats: up=%d reads=%" PRIu64 " writes=%" PRIu64 " errors=%" PRIu64
         " retransmits=%" PRIu64 " unexpected=%" PRIu64 " down=%" PRIu64 " paths=%zu",
         s.up, s.reads, s.writes, s.errors, s.retransmits, s.unexpected, s.down_events,
         s.npaths);
  for (size_t i = 0; i < s.npaths; i++)
    printf(" [%s up=%d sent=%" PRIu64 " recv=%" PRIu64 " rexmit=%" PRIu64 " srtt=%u rto=%u"
           " win=%u keepalives=%" PRIu64 "]", s.paths[i].iface, s.paths[i].up,
           s.paths[i].frames_sent, s.paths[i].frames_recv, s.paths[i].retransmits,
           s.paths[i].srtt_us, s.paths[i].rto_us, s.paths[i].window, s.paths[i].keepalives);
  printf(" rejected: short=%" PRIu64 " flags=%" PRIu64 " count=%" PRIu64 " version=%" PRIu64
         " command=%" PRIu64 " unknown_target=%" PRIu64 " targets_evicted=%" PRIu64
         " targets_refused=%" PRIu64 "\n", is.rejected_short,
         is.rejected_flags, is.rejected_count, is.rejected_version, is.rejected_command,
         is.unknown_target, is.targets_evicted, is.targets_refused);
}

static void cmd_holders(void)
{
  uint8_t macs[16][6];
  int n = aoe_reserve_read(target, macs, 16);
  if (n < 0)
    die("holders %s", "", -n);
  printf("holders:");
  for (int i = 0; i < n; i++)
    printf(" %02x:%02x:%02x:%02x:%02x:%02x", macs[i][0], macs[i][1], macs[i][2], macs[i][3],
           macs[i][4], macs[i][5]);
  printf("\n");
}

static uint64_t num(char **argv, int i, int argc)
{
  if (i >= argc) {
    fprintf(stderr, "aoe-client: missing argument\n");
    exit(2);
  }
  return strtoull(argv[i], NULL, 0);
}

static int verbose;

static void log_stderr(void *opaque, int level, const char *msg)
{
  (void)opaque;
  if (level <= (verbose ? AOE_LOG_DEBUG : AOE_LOG_INFO))
    fprintf(stderr, "aoe-client: %s\n", msg);
}

int main(int argc, char **argv)
{
  const char *ifaces[8];
  size_t nif = 0;
  unsigned dead = 0, wait_ms = 1000, shelf, slot;
  int c;
  while ((c = getopt(argc, argv, "+i:d:w:v")) != -1) {
    if (c == 'i' && nif < 8)
      ifaces[nif++] = optarg;
    else if (c == 'd')
      dead = (unsigned)atoi(optarg);
    else if (c == 'w')
      wait_ms = (unsigned)atoi(optarg);
    else if (c == 'v')
      verbose = 1;
    else
      return 2;
  }
  if (optind >= argc || sscanf(argv[optind], "%u.%u", &shelf, &slot) != 2) {
    fprintf(stderr, "usage: aoe-client [-i IFACE]... [-d DEAD_MS] SHELF.SLOT COMMAND...\n");
    return 2;
  }
  char err[256];
  struct aoe_options o = { .ifaces = ifaces, .n_ifaces = nif, .dead_time_ms = dead,
                           .rediscover_ms = 2000, .log = log_stderr };
  ini = aoe_open(&o, err, sizeof err);
  if (!ini) {
    fprintf(stderr, "aoe-client: %s\n", err);
    return 1;
  }
  aoe_start(ini);
  /* Ask again until the shelf answered or the wait is over: on an impaired link a
   * query or its answer may be lost. */
  for (unsigned waited = 0; waited < wait_ms && !target; waited += 250) {
    aoe_discover(ini, 250);
    target = aoe_target_find(ini, shelf, slot);
  }
  if (!target) {
    fprintf(stderr, "aoe-client: e%u.%u not found\n", shelf, slot);
    return 1;
  }
  for (int i = optind + 1; i < argc; i++) {
    const char *cmd = argv[i];
    if (!strcmp(cmd, "info")) {
      struct aoe_target_info in;
      aoe_target_info(target, &in);
      printf("sectors=%" PRIu64 " scnt=%u paths=%zu up=%d\n", in.sectors, in.scnt, in.npaths,
             in.up);
    } else if (!strcmp(cmd, "write")) {
      cmd_write(num(argv, i + 1, argc), (uint32_t)num(argv, i + 2, argc), num(argv, i + 3, argc));
      i += 3;
    } else if (!strcmp(cmd, "read")) {
      cmd_read(num(argv, i + 1, argc), (uint32_t)num(argv, i + 2, argc), num(argv, i + 3, argc));
      i += 3;
    } else if (!strcmp(cmd, "random")) {
      cmd_random(num(argv, i + 1, argc), (unsigned)num(argv, i + 2, argc), num(argv, i + 3, argc));
      i += 3;
    } else if (!strcmp(cmd, "flush")) {
      int rc = aoe_io(target, AOE_FLUSH, 0, 0, NULL);
      if (rc)
        die("%sflush failed", "", -rc);
    } else if (!strcmp(cmd, "expect")) {
      if (i + 4 >= argc)
        return 2;
      cmd_expect(argv[i + 1], num(argv, i + 2, argc), (uint32_t)num(argv, i + 3, argc),
                 argv[i + 4]);
      i += 4;
    } else if (!strcmp(cmd, "stream")) {
      cmd_stream(num(argv, i + 1, argc), num(argv, i + 2, argc));
      i += 2;
    } else if (!strcmp(cmd, "threads")) {
      cmd_threads((unsigned)num(argv, i + 1, argc), num(argv, i + 2, argc), num(argv, i + 3, argc));
      i += 3;
    } else if (!strcmp(cmd, "until-fail")) {
      cmd_until_fail(num(argv, i + 1, argc), num(argv, i + 2, argc));
      i += 2;
    } else if (!strcmp(cmd, "load") && i + 2 < argc) {
      cmd_load(num(argv, i + 1, argc), argv[i + 2]);
      i += 2;
    } else if (!strcmp(cmd, "dump") && i + 3 < argc) {
      cmd_dump(num(argv, i + 1, argc), (uint32_t)num(argv, i + 2, argc), argv[i + 3]);
      i += 3;
    } else if (!strcmp(cmd, "wait-up")) {
      cmd_wait("wait-up", target_up, target, num(argv, ++i, argc));
    } else if (!strcmp(cmd, "wait-down")) {
      cmd_wait("wait-down", target_down, target, num(argv, ++i, argc));
      printf("down at_ms=%" PRIu64 "\n", wall_ms());
    } else if (!strcmp(cmd, "wait-path-down") && i + 2 < argc) {
      cmd_wait("wait-path-down", path_down, argv[i + 1], num(argv, i + 2, argc));
      i += 2;
    } else if (!strcmp(cmd, "idle")) {
      usleep((useconds_t)num(argv, ++i, argc) * 1000);
    } else if (!strcmp(cmd, "wait-target") && i + 2 < argc) {
      unsigned ss[2];
      if (sscanf(argv[i + 1], "%u.%u", &ss[0], &ss[1]) != 2)
        return 2;
      cmd_wait("wait-target", other_found, ss, num(argv, i + 2, argc));
      i += 2;
    } else if (!strcmp(cmd, "wait-paths")) {
      size_t want = (size_t)num(argv, i + 1, argc);
      cmd_wait("wait-paths", paths_up, &want, num(argv, i + 2, argc));
      i += 2;
    } else if (!strcmp(cmd, "mark") && i + 1 < argc) {
      FILE *f = fopen(argv[++i], "w");
      if (f)
        fclose(f);
    } else if (!strcmp(cmd, "await") && i + 1 < argc) {
      cmd_await(argv[++i]);
    } else if (!strcmp(cmd, "reserve")) {
      int force = i + 1 < argc && !strcmp(argv[i + 1], "force");
      i += force;
      if (aoe_reserve(target, force, err, sizeof err) < 0) {
        printf("reserve-failed: %s\n", err);
        return 1;
      }
    } else if (!strcmp(cmd, "release")) {
      int rc = aoe_release(target);
      if (rc)
        die("release %sfailed", "", -rc);
    } else if (!strcmp(cmd, "holders")) {
      cmd_holders();
    } else if (!strcmp(cmd, "stats")) {
      cmd_stats();
    } else {
      fprintf(stderr, "aoe-client: unknown command %s\n", cmd);
      return 2;
    }
    fflush(stdout);
  }
  fflush(stdout);
  aoe_close(ini);
  return 0;
}

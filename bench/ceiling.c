/* bench/ceiling: the raw AoE ceiling for bench/run, measured through the initiator library
 * with no RAID and no NBD in the way.
 *
 *   bench/ceiling -i IFACE [-m read|write|randread|randwrite] [-b BYTES] [-d DEPTH]
 *                 [-t SECONDS] SHELF.SLOT...
 *
 * Keeps DEPTH requests of BYTES in flight, spread round-robin over the shelves (one
 * initiator, one loop thread: the structure the plugin has), for SECONDS, and prints one
 * JSON object: throughput, IOPS, latency percentiles (submit to completion) and the CPU
 * seconds the process used.  Sequential modes walk each shelf from LBA 0 and wrap;
 * random modes pick BYTES-aligned offsets uniformly over each shelf.  Writes destroy data.
 *
 * `aoeraid probe` measures one shelf; this measures several at once and small frames,
 * which the goals compare against (4 KiB random IOPS, depth-1 latency). */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "aoe.h"

#define MAX_SHELVES 64
#define MAX_DEPTH 1024
#define LAT_BUCKETS 100000          /* 1 us each; slower completions land in the last one */

static const char *progname = "ceiling";

struct shelf_cursor {
  struct aoe_target *target;
  uint64_t sectors;                 /* usable size, a multiple of the request size */
  uint64_t next_lba;                /* sequential modes */
};

struct run {
  struct shelf_cursor shelves[MAX_SHELVES];
  size_t nshelves;
  enum aoe_op op;
  bool random;
  uint32_t req_sectors;
  atomic_bool stopping;
  pthread_mutex_t lock;             /* guards everything below */
  pthread_cond_t idle;
  unsigned inflight;
  int err;
  uint64_t completed, bytes;
  uint32_t *lat_us;                 /* LAT_BUCKETS counters */
};

struct slot {
  struct run *run;
  struct shelf_cursor *shelf;
  uint8_t *buf;
  uint64_t rng;
  double submitted;
};

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static uint64_t xorshift64(uint64_t *s)
{
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

/* The shelf's next request start: called with run->lock held. */
static uint64_t next_lba(struct slot *s)
{
  struct shelf_cursor *c = s->shelf;
  uint32_t n = s->run->req_sectors;
  if (s->run->random)
    return xorshift64(&s->rng) % (c->sectors / n) * n;
  uint64_t lba = c->next_lba;
  c->next_lba = lba + n >= c->sectors ? 0 : lba + n;
  return lba;
}

static void slot_done(void *opaque, int err);

/* Called with run->lock held; drops it around the submission, which may complete at once. */
static void slot_submit(struct slot *s)
{
  struct run *r = s->run;
  if (r->err || atomic_load(&r->stopping))
    return;
  uint64_t lba = next_lba(s);
  r->inflight++;
  pthread_mutex_unlock(&r->lock);
  s->submitted = now_s();
  aoe_submit(s->shelf->target, r->op, lba, r->req_sectors, s->buf, slot_done, s);
  pthread_mutex_lock(&r->lock);
}

static void slot_done(void *opaque, int err)
{
  struct slot *s = opaque;
  struct run *r = s->run;
  uint64_t us = (uint64_t)((now_s() - s->submitted) * 1e6);
  pthread_mutex_lock(&r->lock);
  r->inflight--;
  if (err && !r->err)
    r->err = err;
  if (!err) {
    r->lat_us[us < LAT_BUCKETS ? us : LAT_BUCKETS - 1]++;
    r->completed++;
    r->bytes += (uint64_t)r->req_sectors * 512;
  }
  slot_submit(s);
  if (!r->inflight)
    pthread_cond_signal(&r->idle);
  pthread_mutex_unlock(&r->lock);
}

static double percentile_us(const uint32_t *lat, uint64_t total, double p)
{
  uint64_t want = (uint64_t)(total * p / 100.0), seen = 0;
  for (unsigned i = 0; i < LAT_BUCKETS; i++) {
    seen += lat[i];
    if (seen > want)
      return i + 0.5;
  }
  return LAT_BUCKETS;
}

static int parse_mode(const char *s, struct run *r)
{
  static const struct { const char *name; enum aoe_op op; bool random; } modes[] = {
    { "read", AOE_READ, false }, { "write", AOE_WRITE, false },
    { "randread", AOE_READ, true }, { "randwrite", AOE_WRITE, true },
  };
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
    if (!strcmp(s, modes[i].name)) {
      r->op = modes[i].op;
      r->random = modes[i].random;
      return 0;
    }
  return -1;
}

static void usage(FILE *f)
{
  fprintf(f, "usage: %s -i IFACE [-m read|write|randread|randwrite] [-b BYTES] [-d DEPTH]\n"
             "       [-t SECONDS] SHELF.SLOT...\n", progname);
}

static void log_stderr(void *opaque, int level, const char *msg)
{
  if (level <= AOE_LOG_WARN)
    fprintf(stderr, "%s: %s\n", progname, msg);
}

/* Find every shelf named in NAMES; fill r->shelves.  0 or -1 with a message printed. */
static int find_shelves(struct aoe_initiator *ini, char **names, size_t n, struct run *r)
{
  if (n > MAX_SHELVES) {
    fprintf(stderr, "%s: at most %d shelves\n", progname, MAX_SHELVES);
    return -1;
  }
  aoe_discover(ini, 500);
  for (size_t i = 0; i < n; i++) {
    unsigned shelf, slot;
    char tail;
    const char *a = names[i][0] == 'e' ? names[i] + 1 : names[i];
    if (sscanf(a, "%u.%u%c", &shelf, &slot, &tail) != 2) {
      fprintf(stderr, "%s: '%s' is not a shelf address: give SHELF.SLOT like e1.1\n",
              progname, names[i]);
      return -1;
    }
    struct aoe_target *t = aoe_target_find(ini, shelf, slot);
    struct aoe_target_info info;
    if (!t || aoe_target_info(t, &info) < 0 || !info.up) {
      fprintf(stderr, "%s: %s did not answer discovery\n", progname, names[i]);
      return -1;
    }
    uint64_t usable = info.sectors / r->req_sectors * r->req_sectors;
    if (!usable) {
      fprintf(stderr, "%s: %s is smaller than one request\n", progname, names[i]);
      return -1;
    }
    r->shelves[i] = (struct shelf_cursor){ .target = t, .sectors = usable };
  }
  r->nshelves = n;
  return 0;
}

/* What the timed window achieved: requests completed after it (the drain) do not count,
 * as with fio's time_based runs, so one late retransmit does not stretch the window. */
struct window {
  double secs, cpu_s;
  uint64_t completed, bytes;
};

static int run_load(struct run *r, struct slot *slots, unsigned depth, double seconds,
                    struct window *w)
{
  double t0 = now_s(), cpu0 = cpu_s();
  pthread_mutex_lock(&r->lock);
  for (unsigned i = 0; i < depth; i++)
    slot_submit(&slots[i]);
  pthread_mutex_unlock(&r->lock);
  struct timespec pause = { (time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9) };
  nanosleep(&pause, NULL);
  atomic_store(&r->stopping, true);
  pthread_mutex_lock(&r->lock);
  *w = (struct window){ now_s() - t0, cpu_s() - cpu0, r->completed, r->bytes };
  while (r->inflight)
    pthread_cond_wait(&r->idle, &r->lock);
  pthread_mutex_unlock(&r->lock);
  return r->err;
}

static uint64_t retransmits(const struct run *r)
{
  uint64_t n = 0;
  for (size_t i = 0; i < r->nshelves; i++) {
    struct aoe_stats st;
    if (aoe_target_stats(r->shelves[i].target, &st) == 0)
      n += st.retransmits;
  }
  return n;
}

static void print_result(const struct run *r, const char *mode, unsigned depth,
                         const struct window *w)
{
  printf("{\"mode\":\"%s\",\"bs\":%" PRIu32 ",\"depth\":%u,\"shelves\":%zu,"
         "\"bytes\":%" PRIu64 ",\"secs\":%.6f,\"mbps\":%.3f,\"iops\":%.1f,"
         "\"lat_p50_us\":%.1f,\"lat_p99_us\":%.1f,\"cpu_s\":%.6f,"
         "\"retransmits\":%" PRIu64 "}\n",
         mode, r->req_sectors * 512, depth, r->nshelves, w->bytes, w->secs,
         w->bytes / w->secs / 1e6, w->completed / w->secs,
         percentile_us(r->lat_us, r->completed, 50), percentile_us(r->lat_us, r->completed, 99),
         w->cpu_s, retransmits(r));
}

int main(int argc, char **argv)
{
  static struct run r = { .op = AOE_READ, .req_sectors = 2048 };
  static struct slot slots[MAX_DEPTH];
  const char *iface = NULL, *mode = "read";
  char *end;
  unsigned depth = 0;
  double seconds = 5;
  uint64_t bs = 1 << 20;
  int c;
  while ((c = getopt(argc, argv, "i:m:b:d:t:h")) != -1) {
    switch (c) {
    case 'i': iface = optarg; break;
    case 'm': mode = optarg; break;
    case 'b':
      bs = strtoull(optarg, &end, 10);
      if (*end || !bs || bs % 512 || bs > (1u << 24)) {
        fprintf(stderr, "%s: -b '%s': give bytes, a multiple of 512 up to 16777216\n",
                progname, optarg);
        return 2;
      }
      break;
    case 'd': depth = (unsigned)atoi(optarg); break;
    case 't': seconds = atof(optarg); break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (!iface || optind >= argc) {
    fprintf(stderr, "%s: needs -i IFACE and at least one SHELF.SLOT\n", progname);
    usage(stderr);
    return 2;
  }
  if (parse_mode(mode, &r) < 0) {
    fprintf(stderr, "%s: -m '%s': use read, write, randread or randwrite\n", progname, mode);
    return 2;
  }
  size_t nshelves = (size_t)(argc - optind);
  if (!depth)
    depth = 4 * (unsigned)nshelves;   /* what `aoeraid probe` keeps per shelf */
  if (depth > MAX_DEPTH || seconds <= 0 || seconds > 3600) {
    fprintf(stderr, "%s: -d must be 1..%d and -t 0..3600 seconds\n", progname, MAX_DEPTH);
    return 2;
  }
  r.req_sectors = (uint32_t)(bs / 512);
  pthread_mutex_init(&r.lock, NULL);
  pthread_cond_init(&r.idle, NULL);
  r.lat_us = calloc(LAT_BUCKETS, sizeof *r.lat_us);

  char err[256];
  const char *ifaces[1] = { iface };
  struct aoe_options o = { .ifaces = ifaces, .n_ifaces = 1, .log = log_stderr };
  struct aoe_initiator *ini = aoe_open(&o, err, sizeof err);
  if (!ini) {
    fprintf(stderr, "%s: %s\n", progname, err);
    return 1;
  }
  if (aoe_start(ini) < 0 || find_shelves(ini, argv + optind, nshelves, &r) < 0) {
    aoe_close(ini);
    return 1;
  }
  for (unsigned i = 0; i < depth; i++) {
    slots[i] = (struct slot){ .run = &r, .shelf = &r.shelves[i % nshelves],
                              .rng = 0x9e3779b97f4a7c15ull * (i + 1) };
    slots[i].buf = aligned_alloc(4096, bs);
    if (!slots[i].buf || !r.lat_us) {
      fprintf(stderr, "%s: out of memory\n", progname);
      return 1;
    }
    memset(slots[i].buf, 0xa5 ^ (int)i, bs);
  }
  struct window w;
  int rc = run_load(&r, slots, depth, seconds, &w);
  if (rc) {
    fprintf(stderr, "%s: %s failed: %s\n", progname, mode, strerror(rc));
    aoe_close(ini);
    return 1;
  }
  print_result(&r, mode, depth, &w);
  aoe_close(ini);
  for (unsigned i = 0; i < depth; i++)
    free(slots[i].buf);
  free(r.lat_us);
  return 0;
}

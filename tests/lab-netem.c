/* lab-netem: a frame relay between two interfaces that loses, delays, reorders and
 * duplicates frames like tc netem (this kernel has no sch_netem).  The lab puts it between
 * the initiator's bridge port and the bridge.  Impairments apply in both directions.
 *   lab-netem IF_A IF_B [loss P%] [delay MS [JITTER_MS]] [reorder P%] [duplicate P%]
 *             [wcache on] [spinup MS [spinup-shelf N]]
 * spinup MS: the shelves' disks answer no IDENTIFY until MS after the first one the relay
 * saw (disks spinning up, or busy with another head's I/O, while their controllers answer
 * Query Config at once): IDENTIFY requests before then are dropped (spinup_dropped=).
 * spinup-shelf N: only shelf N's disk spins up (one slow shelf on the SAN).
 * wcache on: the shelves' IDENTIFY answers say their disk's volatile write cache is on
 * (word 85 bit 5, word 87 validating it), which vblade never says, so tests can run an
 * initiator against shelves with a write cache.
 * On SIGTERM it writes its counters to stderr and to $LAB_NETEM_STATS if set, so tests can
 * prove the impairment really happened; flushes= counts the AoE ATA FLUSH CACHE (EXT)
 * requests that passed. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME 9216
#define MAX_QUEUED 8192

struct impairment { double loss, reorder, duplicate; long delay_us, jitter_us, spinup_us;
                    int wcache, spinup_shelf; };

struct queued {
  long long release_us;
  int to;                       /* index of the outgoing socket */
  size_t len;
  struct queued *next;
  uint8_t data[MAX_FRAME];
};

struct counters { long received, forwarded, dropped, duplicated, reordered, overflow;
                  long flushes, identifies_patched, spinup_dropped; };

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = 1; }

static long long now_us(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000LL + t.tv_nsec / 1000;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static double chance(void)      /* xorshift64*, uniform in [0,1) */
{
  rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
  return ((rng_state * 0x2545F4914F6CDD1DULL) >> 11) * (1.0 / 9007199254740992.0);
}

static int open_port(const char *ifname)
{
  int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (fd < 0) { perror("lab-netem: socket"); exit(1); }
  unsigned ifindex = if_nametoindex(ifname);
  if (!ifindex) { fprintf(stderr, "lab-netem: %s: no such interface\n", ifname); exit(1); }
  int one = 1;
  /* Our own transmissions must not come back to us as received frames. */
  if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) {
    perror("lab-netem: PACKET_IGNORE_OUTGOING"); exit(1);
  }
  struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
                             .sll_ifindex = ifindex };
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) { perror("lab-netem: bind"); exit(1); }
  struct packet_mreq mr = { .mr_ifindex = ifindex, .mr_type = PACKET_MR_PROMISC };
  if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) {
    perror("lab-netem: promiscuous mode"); exit(1);
  }
  return fd;
}

static double parse_percent(const char *s)
{
  char *end;
  double p = strtod(s, &end);
  if (end == s || (*end && strcmp(end, "%")) || p < 0 || p > 100) {
    fprintf(stderr, "lab-netem: bad percentage '%s' (want e.g. 5%%)\n", s); exit(2);
  }
  return p / 100;
}

static long parse_ms(const char *s)
{
  char *end;
  double ms = strtod(s, &end);
  if (end == s || (*end && strcmp(end, "ms")) || ms < 0) {
    fprintf(stderr, "lab-netem: bad time '%s' (want e.g. 2ms)\n", s); exit(2);
  }
  return (long)(ms * 1000);
}

static void parse_impairment(int argc, char **argv, struct impairment *imp)
{
  for (int i = 0; i < argc; i++) {
    const char *word = argv[i], *arg = i + 1 < argc ? argv[i + 1] : NULL;
    if (!arg) { fprintf(stderr, "lab-netem: '%s' needs a value\n", word); exit(2); }
    i++;
    if (!strcmp(word, "loss")) imp->loss = parse_percent(arg);
    else if (!strcmp(word, "reorder")) imp->reorder = parse_percent(arg);
    else if (!strcmp(word, "duplicate")) imp->duplicate = parse_percent(arg);
    else if (!strcmp(word, "wcache")) imp->wcache = !strcmp(arg, "on");
    else if (!strcmp(word, "spinup")) imp->spinup_us = parse_ms(arg);
    else if (!strcmp(word, "spinup-shelf")) imp->spinup_shelf = atoi(arg);
    else if (!strcmp(word, "delay")) {
      imp->delay_us = parse_ms(arg);
      if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9')
        imp->jitter_us = parse_ms(argv[++i]);
    } else { fprintf(stderr, "lab-netem: unknown impairment '%s'\n", word); exit(2); }
  }
  /* As with netem, reordering needs a delay to jump ahead of. */
  if (imp->reorder > 0 && imp->delay_us == 0)
    imp->delay_us = 1000;
}

/* AoE ATA frames (ethertype 0x88a2, command 0): the offsets of the AoE spec's fields. */
enum { AOE_VERFLAGS = 14, AOE_SHELF = 16, AOE_CMD = 19, AOE_TAG = 20, ATA_CMD = 27, ATA_DATA = 36 };
#define AOE_RESPONSE 0x08
#define IDENT_TAGS 64

static int aoe_ata(const uint8_t *f, ssize_t n)
{
  return n >= ATA_DATA && f[12] == 0x88 && f[13] == 0xa2 && f[AOE_CMD] == 0;
}

/* Requests: count flushes, remember IDENTIFY tags.  Answers to a remembered IDENTIFY: say
 * the write cache is on (an answer's command byte holds its status, so the tag tells). */
static void watch_ata(uint8_t *f, ssize_t n, const struct impairment *imp, struct counters *c)
{
  static uint8_t tags[IDENT_TAGS][4];
  static unsigned next;

  if (!aoe_ata(f, n))
    return;
  if (!(f[AOE_VERFLAGS] & AOE_RESPONSE)) {
    if (f[ATA_CMD] == 0xe7 || f[ATA_CMD] == 0xea)
      c->flushes++;
    if (f[ATA_CMD] == 0xec && imp->wcache)
      memcpy(tags[next++ % IDENT_TAGS], f + AOE_TAG, 4);
    return;
  }
  if (!imp->wcache || n < ATA_DATA + 512)
    return;
  for (unsigned i = 0; i < IDENT_TAGS; i++)
    if (!memcmp(tags[i], f + AOE_TAG, 4)) {
      f[ATA_DATA + 2 * 85] |= 0x20;               /* word 85 bit 5: write cache enabled */
      f[ATA_DATA + 2 * 87] = 0x00;                /* word 87 = 0x4000: words 85-87 valid */
      f[ATA_DATA + 2 * 87 + 1] = 0x40;
      c->identifies_patched++;
      return;
    }
}

/* Is F an IDENTIFY request a disk still spinning up does not answer (spinup MS)? */
static int spinning_up(const uint8_t *f, ssize_t n, const struct impairment *imp,
                       struct counters *c)
{
  static long long first_us;

  if (!imp->spinup_us || !aoe_ata(f, n) || (f[AOE_VERFLAGS] & AOE_RESPONSE) ||
      f[ATA_CMD] != 0xec)
    return 0;
  if (imp->spinup_shelf && (f[AOE_SHELF] << 8 | f[AOE_SHELF + 1]) != imp->spinup_shelf)
    return 0;
  if (!first_us)
    first_us = now_us();
  if (now_us() - first_us >= imp->spinup_us)
    return 0;
  c->spinup_dropped++;
  return 1;
}

/* Insert in release-time order; equal times keep arrival order. */
static void enqueue(struct queued **head, struct queued *q)
{
  while (*head && (*head)->release_us <= q->release_us)
    head = &(*head)->next;
  q->next = *head;
  *head = q;
}

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: lab-netem IF_A IF_B [loss P%%] [delay MS [JITTER]] [reorder P%%] "
            "[duplicate P%%] [wcache on] [spinup MS [spinup-shelf N]]\n");
    return 2;
  }
  struct impairment imp = { 0 };
  parse_impairment(argc - 3, argv + 3, &imp);
  rng_state ^= (uint64_t)getpid() << 17 ^ (uint64_t)now_us();
  int fds[2] = { open_port(argv[1]), open_port(argv[2]) };
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  /* Both ports are open: a frame sent from now on is relayed.  The lab waits for this
   * file, not a fixed time, before it sends anything through. */
  const char *ready = getenv("LAB_NETEM_READY");
  if (ready) {
    FILE *f = fopen(ready, "w");
    if (!f) { perror(ready); return 1; }
    fclose(f);
  }

  static struct queued pool[MAX_QUEUED];
  struct queued *free_list = NULL, *pending = NULL;
  for (int i = 0; i < MAX_QUEUED; i++) { pool[i].next = free_list; free_list = &pool[i]; }
  struct counters c = { 0 };

  while (!stop) {
    long long now = now_us();
    while (pending && pending->release_us <= now) {
      struct queued *q = pending;
      pending = q->next;
      if (send(fds[q->to], q->data, q->len, 0) == (ssize_t)q->len) c.forwarded++;
      q->next = free_list; free_list = q;
    }
    int timeout_ms = pending ? (int)((pending->release_us - now + 999) / 1000) : 200;
    struct pollfd p[2] = { { .fd = fds[0], .events = POLLIN }, { .fd = fds[1], .events = POLLIN } };
    if (poll(p, 2, timeout_ms) < 0 && errno != EINTR) { perror("lab-netem: poll"); return 1; }
    for (int side = 0; side < 2; side++) {
      if (!(p[side].revents & POLLIN)) continue;
      uint8_t buf[MAX_FRAME];
      ssize_t n = recv(fds[side], buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) continue;
      c.received++;
      watch_ata(buf, n, &imp, &c);
      if (spinning_up(buf, n, &imp, &c)) continue;
      if (chance() < imp.loss) { c.dropped++; continue; }
      int copies = chance() < imp.duplicate ? 2 : 1;
      c.duplicated += copies - 1;
      for (int k = 0; k < copies; k++) {
        if (!free_list) { c.overflow++; break; }
        struct queued *q = free_list;
        free_list = q->next;
        q->to = !side;
        q->len = n;
        memcpy(q->data, buf, n);
        long long delay = imp.delay_us;
        if (imp.jitter_us) delay += (long long)((chance() * 2 - 1) * imp.jitter_us);
        if (chance() < imp.reorder) { delay = 0; c.reordered++; }
        q->release_us = now_us() + (delay > 0 ? delay : 0);
        enqueue(&pending, q);
      }
    }
  }

  char line[320];
  snprintf(line, sizeof line,
           "received=%ld forwarded=%ld dropped=%ld duplicated=%ld reordered=%ld overflow=%ld "
           "flushes=%ld identifies_patched=%ld spinup_dropped=%ld\n", c.received,
           c.forwarded, c.dropped, c.duplicated, c.reordered, c.overflow, c.flushes,
           c.identifies_patched, c.spinup_dropped);
  fputs(line, stderr);
  const char *stats = getenv("LAB_NETEM_STATS");
  if (stats) {
    FILE *f = fopen(stats, "a");
    if (f) { fputs(line, f); fclose(f); }
  }
  return 0;
}

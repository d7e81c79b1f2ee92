/* aoe-rawprobe: the ceiling for bench/aoe-bench.sh.  Sequential ATA reads or writes to one
 * shelf over a plain AF_PACKET socket with a fixed window and nothing else: no windows to
 * grow, no locks, no threads.
 *   aoe-rawprobe IFACE SHELF SLOT WINDOW MIB read|write
 * Prints "MB/s=N".  Frames are built and parsed with the library's codec (aoe/frame.h). */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"

#define MAX_WINDOW 64
#define RETRANSMIT_NS 200000000ll

struct slot {
  uint32_t tag;           /* 0 = free */
  uint64_t lba;
  long long sent_ns;
};

static long long now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

struct probe {
  int fd;
  uint8_t mac[6], target[6];
  unsigned shelf, slot, scnt;
  int write;
  uint8_t tx[9216], rx[9216];
  uint32_t gen;
};

static int open_socket(struct probe *p, const char *ifname, unsigned *mtu)
{
  struct ifreq ifr;
  p->fd = socket(AF_PACKET, SOCK_RAW, htons(AOE_ETHERTYPE));
  if (p->fd < 0)
    return -1;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
  if (ioctl(p->fd, SIOCGIFINDEX, &ifr) < 0)
    return -1;
  struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(AOE_ETHERTYPE),
                             .sll_ifindex = ifr.ifr_ifindex };
  if (ioctl(p->fd, SIOCGIFHWADDR, &ifr) < 0)
    return -1;
  memcpy(p->mac, ifr.ifr_hwaddr.sa_data, 6);
  if (ioctl(p->fd, SIOCGIFMTU, &ifr) < 0)
    return -1;
  *mtu = (unsigned)ifr.ifr_mtu;
  return bind(p->fd, (struct sockaddr *)&sll, sizeof sll);
}

static void send_frame(struct probe *p, struct slot *s, unsigned idx)
{
  struct aoe_hdr h = { .shelf = (uint16_t)p->shelf, .slot = (uint8_t)p->slot,
                       .cmd = AOE_CMD_ATA };
  memcpy(h.dst, p->target, 6);
  memcpy(h.src, p->mac, 6);
  s->tag = h.tag = 0x80000000u | (++p->gen & 0x7fffff) << 8 | idx;
  struct aoe_ata a = { .aflags = AOE_AFLAG_LBA48 | (p->write ? AOE_AFLAG_WRITE : 0),
                       .scnt = (uint8_t)p->scnt,
                       .cmdstat = p->write ? ATA_WRITE_EXT : ATA_READ_EXT, .lba = s->lba };
  aoe_encode_ata_hdr(p->tx, &h, &a);
  size_t len = AOE_ATA_HDR_LEN + (p->write ? p->scnt * AOE_SECTOR : 0);
  if (len < AOE_MIN_FRAME)
    len = AOE_MIN_FRAME;
  s->sent_ns = now_ns();
  if (send(p->fd, p->tx, len, 0) < 0)
    perror("aoe-rawprobe: send");
}

/* Query Config for the shelf: its MAC and sectors per frame. */
static int find_target(struct probe *p, unsigned mtu)
{
  struct aoe_msg m = { .h = { .shelf = (uint16_t)p->shelf, .slot = (uint8_t)p->slot,
                              .cmd = AOE_CMD_CONFIG, .tag = 0x80000000u } };
  memset(m.h.dst, 0xff, 6);
  memcpy(m.h.src, p->mac, 6);
  size_t len = aoe_encode(p->tx, sizeof p->tx, &m);
  if (send(p->fd, p->tx, len, 0) < 0)
    return -1;
  for (long long end = now_ns() + 2000000000ll; now_ns() < end;) {
    struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
    if (poll(&pfd, 1, 100) <= 0)
      continue;
    ssize_t n = recv(p->fd, p->rx, sizeof p->rx, 0);
    if (n > 0 && aoe_parse(p->rx, (size_t)n, 1, &m) == AOE_PARSE_OK &&
        m.h.cmd == AOE_CMD_CONFIG && m.h.shelf == p->shelf && m.h.slot == p->slot) {
      memcpy(p->target, m.h.src, 6);
      p->scnt = (mtu - AOE_ATA_HDR_LEN) / AOE_SECTOR;
      if (m.u.cfg.scnt && m.u.cfg.scnt < p->scnt)
        p->scnt = m.u.cfg.scnt;
      return 0;
    }
  }
  return -1;
}

int main(int argc, char **argv)
{
  static struct probe p;
  struct slot slots[MAX_WINDOW] = { { 0 } };
  unsigned mtu;
  if (argc != 7) {
    fprintf(stderr, "usage: aoe-rawprobe IFACE SHELF SLOT WINDOW MIB read|write\n");
    return 2;
  }
  p.shelf = (unsigned)atoi(argv[2]);
  p.slot = (unsigned)atoi(argv[3]);
  unsigned window = (unsigned)atoi(argv[4]);
  long long frames_total, next = 0, done = 0, rexmit = 0;
  p.write = !strcmp(argv[6], "write");
  if (window < 1 || window > MAX_WINDOW) {
    fprintf(stderr, "aoe-rawprobe: WINDOW must be 1 to %d\n", MAX_WINDOW);
    return 2;
  }
  if (open_socket(&p, argv[1], &mtu) < 0 || find_target(&p, mtu) < 0) {
    fprintf(stderr, "aoe-rawprobe: e%u.%u not reachable on %s\n", p.shelf, p.slot, argv[1]);
    return 1;
  }
  memset(p.tx + AOE_ATA_HDR_LEN, 0x3c, p.scnt * AOE_SECTOR);
  frames_total = atoll(argv[5]) * 1048576ll / (p.scnt * AOE_SECTOR);
  long long start = now_ns();
  for (unsigned i = 0; i < window && next < frames_total; i++) {
    slots[i].lba = (uint64_t)next++ * p.scnt;
    send_frame(&p, &slots[i], i);
  }
  while (done < frames_total) {
    struct pollfd pfd = { .fd = p.fd, .events = POLLIN };
    if (poll(&pfd, 1, 20) > 0) {
      ssize_t n = recv(p.fd, p.rx, sizeof p.rx, 0);
      struct aoe_msg m;
      if (n > 0 && aoe_parse(p.rx, (size_t)n, 1, &m) == AOE_PARSE_OK &&
          m.h.cmd == AOE_CMD_ATA && !memcmp(m.h.src, p.target, 6)) {
        unsigned idx = m.h.tag & 0xff;
        if (idx < window && slots[idx].tag == m.h.tag) {
          if (m.h.flags & AOE_FLAG_ERR) {
            fprintf(stderr, "aoe-rawprobe: AoE error %u\n", m.h.error);
            return 1;
          }
          done++;
          slots[idx].tag = 0;
          if (next < frames_total) {
            slots[idx].lba = (uint64_t)next++ * p.scnt;
            send_frame(&p, &slots[idx], idx);
          }
        }
      }
    }
    long long t = now_ns();
    for (unsigned i = 0; i < window; i++)
      if (slots[i].tag && t - slots[i].sent_ns > RETRANSMIT_NS) {
        rexmit++;
        send_frame(&p, &slots[i], i);
      }
  }
  double secs = (now_ns() - start) / 1e9;
  printf("%s e%u.%u raw AF_PACKET window %u payload %u: MB/s=%.1f (%lld frames, %lld "
         "retransmits, %.3f s)\n", p.write ? "write" : "read", p.shelf, p.slot, window,
         p.scnt * AOE_SECTOR, frames_total * p.scnt * AOE_SECTOR / secs / 1e6, frames_total,
         rexmit, secs);
  return 0;
}

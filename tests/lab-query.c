/* lab-query: broadcast an AoE Query Config on one interface and print every shelf that
 * answers within a time limit, one line each: "eSHELF.SLOT MAC bufcnt=N scnt=N".
 * The harness smoke test uses it to prove the lab's shelves are reachable.
 *   lab-query IFACE [MILLISECONDS] */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef ETH_P_AOE
#define ETH_P_AOE 0x88a2
#endif

static long long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: lab-query IFACE [MILLISECONDS]\n");
    return 2;
  }
  long wait_ms = argc > 2 ? atol(argv[2]) : 1000;
  int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_AOE));
  if (fd < 0) { perror("lab-query: socket"); return 1; }
  struct ifreq ifr = { 0 };
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", argv[1]);
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) { perror(argv[1]); return 1; }
  int ifindex = ifr.ifr_ifindex;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) { perror(argv[1]); return 1; }
  uint8_t mymac[6];
  memcpy(mymac, ifr.ifr_hwaddr.sa_data, 6);
  struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_AOE),
                             .sll_ifindex = ifindex };
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) { perror("lab-query: bind"); return 1; }

  uint8_t frame[60] = { 0 };
  memset(frame, 0xff, 6);               /* broadcast destination */
  memcpy(frame + 6, mymac, 6);
  frame[12] = 0x88; frame[13] = 0xa2;
  frame[14] = 0x10;                     /* version 1, request */
  frame[16] = 0xff; frame[17] = 0xff;   /* every shelf */
  frame[18] = 0xff;                     /* every slot */
  frame[19] = 1;                        /* Query Config */
  /* A tag of our own, so late replies to an earlier query are not counted. */
  uint32_t tag = htonl(0x80000000u | (uint32_t)getpid());
  memcpy(frame + 20, &tag, 4);
  if (send(fd, frame, sizeof frame, 0) < 0) { perror("lab-query: send"); return 1; }

  int found = 0;
  long long deadline = now_ms() + wait_ms;
  for (long long left; (left = deadline - now_ms()) > 0; ) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, (int)left) <= 0)
      continue;
    uint8_t buf[9100];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    /* A config reply: R set, command 1, our tag, 8-byte config header present. */
    if (n < 32 || !(buf[14] & 0x08) || buf[19] != 1 || memcmp(buf + 20, frame + 20, 4))
      continue;
    printf("e%u.%u %02x:%02x:%02x:%02x:%02x:%02x bufcnt=%u scnt=%u\n",
           (buf[16] << 8) | buf[17], buf[18], buf[6], buf[7], buf[8], buf[9], buf[10],
           buf[11], (buf[24] << 8) | buf[25], buf[28]);
    found++;
  }
  return found ? 0 : 3;
}

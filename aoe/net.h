/* aoe/net.h: local interfaces and their frame I/O through libpcap. */
#ifndef AOE_NET_H
#define AOE_NET_H

#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>

#define AOE_MAX_IFACES 16

struct aoe_iface {
  char name[16];
  uint8_t mac[6];
  unsigned mtu;
  pcap_t *pcap;
  int fd;                       /* pcap's selectable fd, for poll */
  uint8_t *tx;                  /* one frame being built: header + payload */
  size_t txcap;
};

/* Fill NAMES with every up, non-loopback Ethernet interface; returns the count. */
size_t aoe_net_list(char (*names)[16], size_t max);

/* Open NAME: MAC, MTU, pcap in immediate, non-blocking mode with a filter for AoE
 * responses addressed to this MAC or broadcast.  0 or -1 with a message in ERR. */
int aoe_net_open(struct aoe_iface *ifc, const char *name, char *err, size_t errlen);
void aoe_net_close(struct aoe_iface *ifc);

/* Send LEN bytes of IFC->tx (or FRAME when not NULL).  0 or -1. */
int aoe_net_send(struct aoe_iface *ifc, const uint8_t *frame, size_t len);

/* Send the HDRLEN bytes at IFC->tx followed by DATALEN bytes at DATA as one frame, without
 * copying DATA: sendmsg on the packet socket libpcap opened (the same call pcap_inject
 * makes, with an iovec).  0 or -1. */
int aoe_net_sendv(struct aoe_iface *ifc, size_t hdrlen, const uint8_t *data, size_t datalen);

#endif

/* aoe/net.h: local interfaces and their frame I/O through libpcap. */
#ifndef AOE_NET_H
#define AOE_NET_H

#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define AOE_MAX_IFACES 16
#define AOE_TX_BATCH   64       /* frames handed to the kernel in one sendmmsg */
#define AOE_TX_HDR_MAX 64       /* header bytes of a queued frame (>= AOE_MIN_FRAME) */

/* Frames queued for one sendmmsg: each its own header (built in place) and an optional
 * data part sent from the caller's buffer without a copy.  Sized at open. */
struct aoe_txq {
  unsigned n;                   /* frames queued */
  struct mmsghdr msg[AOE_TX_BATCH];
  struct iovec iov[AOE_TX_BATCH][2];
  uint8_t hdr[AOE_TX_BATCH][AOE_TX_HDR_MAX];
  void *cookie[AOE_TX_BATCH];   /* the caller's, handed back for a frame not sent */
};

struct aoe_iface {
  char name[16];
  uint8_t mac[6];
  unsigned mtu;
  pcap_t *pcap;
  int fd;                       /* pcap's selectable fd, for poll */
  uint8_t *tx;                  /* one frame being built: header + payload */
  size_t txcap;
  struct aoe_txq *txq;          /* batched sends; NULL: every frame is sent at once */
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

/* Batched sends.  aoe_net_queue_hdr returns the header buffer (AOE_TX_HDR_MAX bytes) of
 * the next queued frame, sending what is queued first when the queue is full (FAILED as
 * for aoe_net_flush); NULL when IFC has no queue.  aoe_net_queue then queues it: HDRLEN
 * bytes of that buffer followed by DATALEN bytes at DATA, which must stay valid until
 * the flush.  aoe_net_flush sends every queued frame in order, with as few sendmmsg
 * calls as the socket allows, and calls FAILED(cookie) for each frame that did not go
 * out whole; the queue is empty afterwards. */
uint8_t *aoe_net_queue_hdr(struct aoe_iface *ifc, void (*failed)(void *cookie));
void aoe_net_queue(struct aoe_iface *ifc, size_t hdrlen, const uint8_t *data, size_t datalen,
                   void *cookie);
void aoe_net_flush(struct aoe_iface *ifc, void (*failed)(void *cookie));
/* Give IFC its send queue (aoe_net_open does); 0 or -1 when out of memory. */
int aoe_net_txq_alloc(struct aoe_iface *ifc);

#endif

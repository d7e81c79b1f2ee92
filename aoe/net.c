/* aoe/net.c: interface discovery and libpcap handles. */
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "frame.h"
#include "net.h"

/* Large enough for a burst of replies from every shelf while the loop is busy. */
#define AOE_PCAP_BUFFER (8 << 20)

size_t aoe_net_list(char (*names)[16], size_t max)
{
  struct ifaddrs *all, *a;
  size_t n = 0;
  if (getifaddrs(&all) < 0)
    return 0;
  for (a = all; a && n < max; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_PACKET)
      continue;
    const struct sockaddr_ll *ll = (const struct sockaddr_ll *)a->ifa_addr;
    if (ll->sll_hatype != ARPHRD_ETHER || (a->ifa_flags & IFF_LOOPBACK) ||
        !(a->ifa_flags & IFF_UP))
      continue;
    snprintf(names[n++], 16, "%s", a->ifa_name);
  }
  freeifaddrs(all);
  return n;
}

static int iface_params(struct aoe_iface *ifc, const char *name, char *err, size_t errlen)
{
  struct ifreq ifr;
  int fd = socket(AF_INET, SOCK_DGRAM, 0), rc = -1;
  if (fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
    snprintf(err, errlen, "interface %s: %s (check the name with 'ip link')", name,
             strerror(errno));
  else if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
    snprintf(err, errlen, "interface %s is not Ethernet: AoE needs an Ethernet interface", name);
  else {
    memcpy(ifc->mac, ifr.ifr_hwaddr.sa_data, 6);
    if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
      snprintf(err, errlen, "interface %s: MTU: %s", name, strerror(errno));
    else {
      ifc->mtu = (unsigned)ifr.ifr_mtu;
      rc = 0;
    }
  }
  close(fd);
  return rc;
}

static int set_filter(struct aoe_iface *ifc, char *err, size_t errlen)
{
  char expr[160];
  struct bpf_program prog;
  const uint8_t *m = ifc->mac;
  /* AoE responses only (R bit), to us or broadcast (a restarted vblade announces itself). */
  snprintf(expr, sizeof expr,
           "ether proto 0x88a2 and ether[14] & 0x08 != 0 and "
           "(ether dst %02x:%02x:%02x:%02x:%02x:%02x or ether broadcast)",
           m[0], m[1], m[2], m[3], m[4], m[5]);
  if (pcap_compile(ifc->pcap, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0 ||
      pcap_setfilter(ifc->pcap, &prog) < 0) {
    snprintf(err, errlen, "interface %s: BPF filter: %s", ifc->name, pcap_geterr(ifc->pcap));
    return -1;
  }
  pcap_freecode(&prog);
  return 0;
}

static int open_pcap(struct aoe_iface *ifc, char *err, size_t errlen)
{
  char perr[PCAP_ERRBUF_SIZE] = "";
  ifc->pcap = pcap_create(ifc->name, perr);
  if (!ifc->pcap) {
    snprintf(err, errlen, "interface %s: pcap: %s", ifc->name, perr);
    return -1;
  }
  pcap_set_snaplen(ifc->pcap, (int)ifc->mtu + 64);
  pcap_set_promisc(ifc->pcap, 0);
  pcap_set_immediate_mode(ifc->pcap, 1);
  pcap_set_buffer_size(ifc->pcap, AOE_PCAP_BUFFER);
  int rc = pcap_activate(ifc->pcap);
  if (rc < 0) {
    snprintf(err, errlen, "interface %s: %s%s", ifc->name, pcap_geterr(ifc->pcap),
             rc == PCAP_ERROR_PERM_DENIED ? " (raw frames need root or CAP_NET_RAW)" : "");
    return -1;
  }
  if (pcap_setdirection(ifc->pcap, PCAP_D_IN) < 0 || set_filter(ifc, err, errlen) < 0 ||
      pcap_setnonblock(ifc->pcap, 1, perr) < 0) {
    if (!*err)
      snprintf(err, errlen, "interface %s: %s", ifc->name, pcap_geterr(ifc->pcap));
    return -1;
  }
  ifc->fd = pcap_get_selectable_fd(ifc->pcap);
  if (ifc->fd < 0) {
    snprintf(err, errlen, "interface %s: no selectable fd", ifc->name);
    return -1;
  }
  return 0;
}

int aoe_net_open(struct aoe_iface *ifc, const char *name, char *err, size_t errlen)
{
  memset(ifc, 0, sizeof *ifc);
  ifc->fd = -1;
  err[0] = '\0';
  if (strlen(name) >= sizeof ifc->name) {
    snprintf(err, errlen, "interface name '%s' is too long", name);
    return -1;
  }
  snprintf(ifc->name, sizeof ifc->name, "%s", name);
  if (iface_params(ifc, name, err, errlen) < 0)
    return -1;
  if (ifc->mtu < AOE_ATA_HDR_LEN - 14 + AOE_SECTOR) {
    snprintf(err, errlen, "interface %s: MTU %u is too small for one sector per frame",
             name, ifc->mtu);
    return -1;
  }
  ifc->txcap = ifc->mtu + 14;
  ifc->tx = calloc(1, ifc->txcap);
  if (!ifc->tx) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (aoe_net_txq_alloc(ifc) < 0) {
    snprintf(err, errlen, "out of memory");
    aoe_net_close(ifc);
    return -1;
  }
  if (open_pcap(ifc, err, errlen) < 0) {
    aoe_net_close(ifc);
    return -1;
  }
  return 0;
}

void aoe_net_close(struct aoe_iface *ifc)
{
  if (ifc->pcap)
    pcap_close(ifc->pcap);
  ifc->pcap = NULL;
  free(ifc->tx);
  ifc->tx = NULL;
  free(ifc->txq);
  ifc->txq = NULL;
  ifc->fd = -1;
}

int aoe_net_send(struct aoe_iface *ifc, const uint8_t *frame, size_t len)
{
  return pcap_inject(ifc->pcap, frame ? frame : ifc->tx, len) == (int)len ? 0 : -1;
}

int aoe_net_sendv(struct aoe_iface *ifc, size_t hdrlen, const uint8_t *data, size_t datalen)
{
  struct iovec iov[2] = { { ifc->tx, hdrlen }, { (void *)data, datalen } };
  struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
  return sendmsg(ifc->fd, &msg, 0) == (ssize_t)(hdrlen + datalen) ? 0 : -1;
}

int aoe_net_txq_alloc(struct aoe_iface *ifc)
{
  struct aoe_txq *q = calloc(1, sizeof *q);
  if (!q)
    return -1;
  for (unsigned i = 0; i < AOE_TX_BATCH; i++) {
    q->iov[i][0].iov_base = q->hdr[i];
    q->msg[i].msg_hdr.msg_iov = q->iov[i];
  }
  ifc->txq = q;
  return 0;
}

uint8_t *aoe_net_queue_hdr(struct aoe_iface *ifc, void (*failed)(void *cookie))
{
  struct aoe_txq *q = ifc->txq;
  if (!q)
    return NULL;
  if (q->n == AOE_TX_BATCH)
    aoe_net_flush(ifc, failed);
  return q->hdr[q->n];
}

void aoe_net_queue(struct aoe_iface *ifc, size_t hdrlen, const uint8_t *data, size_t datalen,
                   void *cookie)
{
  struct aoe_txq *q = ifc->txq;
  unsigned i = q->n++;
  q->iov[i][0].iov_len = hdrlen;
  q->iov[i][1].iov_base = (void *)data;
  q->iov[i][1].iov_len = datalen;
  q->msg[i].msg_hdr.msg_iovlen = datalen ? 2 : 1;
  q->cookie[i] = cookie;
}

void aoe_net_flush(struct aoe_iface *ifc, void (*failed)(void *cookie))
{
  struct aoe_txq *q = ifc->txq;
  unsigned i = 0;
  if (!q || !q->n)
    return;
  if (q->n == 1) {
    /* A lone frame (depth 1): send and sendmsg cost 0.1-0.3 us less than sendmmsg. */
    struct msghdr *m = &q->msg[0].msg_hdr;
    size_t len = q->iov[0][0].iov_len + (m->msg_iovlen > 1 ? q->iov[0][1].iov_len : 0);
    ssize_t sent = m->msg_iovlen > 1 ? sendmsg(ifc->fd, m, 0)
                                     : send(ifc->fd, q->hdr[0], q->iov[0][0].iov_len, 0);
    if (sent != (ssize_t)len)
      failed(q->cookie[0]);
    q->n = 0;
    return;
  }
  while (i < q->n) {
    int sent = sendmmsg(ifc->fd, &q->msg[i], q->n - i, 0);
    if (sent <= 0) {
      /* Frame i failed (after a partial batch, sendmmsg reports the error on the next
       * call): like a lost frame, the caller's timer sends it again. */
      failed(q->cookie[i++]);
      continue;
    }
    for (unsigned j = i; j < i + (unsigned)sent; j++)
      if (q->msg[j].msg_len != q->iov[j][0].iov_len +
          (q->msg[j].msg_hdr.msg_iovlen > 1 ? q->iov[j][1].iov_len : 0))
        failed(q->cookie[j]);
    i += (unsigned)sent;
  }
  q->n = 0;
}

/* aoe/claim.c: a target's claim among the processes of this host.
 *
 * An AoE reservation names MAC addresses, not processes: two initiators on one interface
 * (two arrays served from one head) share its MAC, so the shelf takes a Reserve from
 * either, and either's Release drops the other's reservation.  So aoe_reserve also takes
 * a local claim: an abstract Unix socket named after the MAC and the target, bound (and
 * listening) for as long as the process holds the target.  The kernel frees the name when
 * the process dies, so a head restarted after a crash takes its shelves back, and it is
 * scoped to the network namespace, as the interface is.  A connect to a held name tells
 * who holds it (SO_PEERCRED: the process that last called listen). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE        /* struct ucred */
#endif
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

#define CLAIM_BACKLOG 16        /* connects from refused processes, never accepted */

static socklen_t claim_addr(struct sockaddr_un *a, const uint8_t mac[6], unsigned shelf,
                            unsigned slot)
{
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1,
                   "aoeraid/claim/%02x:%02x:%02x:%02x:%02x:%02x/e%u.%u",
                   mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], shelf, slot);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* The process listening on A (the holder); 0 when it cannot be told. */
static pid_t claim_holder(const struct sockaddr_un *a, socklen_t len)
{
  struct ucred cred = { 0 };
  socklen_t clen = sizeof cred;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  if (connect(fd, (const struct sockaddr *)a, len) < 0 ||
      getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
    cred.pid = 0;
  close(fd);
  return cred.pid;
}

void aoe_claim_drop(struct aoe_target *t)
{
  for (unsigned i = 0; i < t->nclaim_fds; i++)
    close(t->claim_fds[i]);
  t->nclaim_fds = 0;
}

/* Interface I shares its MAC with an earlier one (VLANs of one NIC): one claim names both. */
static int mac_seen(const struct aoe_initiator *ini, size_t i)
{
  for (size_t j = 0; j < i; j++)
    if (!memcmp(ini->ifaces[j].mac, ini->ifaces[i].mac, 6))
      return 1;
  return 0;
}

/* A held name is still T's when its holder is this process and T held it before (a fork
 * of ours, nbdkit's --run command, keeps a copy after we let go), or is gone (such a copy
 * outlived the server that held it): the kernel frees the name only when the last copy
 * closes. */
static int held_by_us_or_nobody(const struct aoe_target *t, pid_t pid)
{
  if (pid <= 0)
    return 0;
  return pid == getpid() ? t->claim_known : kill(pid, 0) < 0 && errno == ESRCH;
}

int aoe_claim_take(struct aoe_target *t, char *err, size_t errlen)
{
  struct aoe_initiator *ini = t->ini;
  if (t->nclaim_fds)
    return 0;
  for (size_t i = 0; i < ini->nifaces; i++) {
    if (mac_seen(ini, i))
      continue;
    struct sockaddr_un a;
    socklen_t len = claim_addr(&a, ini->ifaces[i].mac, t->shelf, t->slot);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int e = 0;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, CLAIM_BACKLOG) < 0)
      e = errno;
    if (!e) {
      t->claim_fds[t->nclaim_fds++] = fd;
      t->claim_known = 1;
      continue;
    }
    if (fd >= 0)
      close(fd);
    pid_t pid = e == EADDRINUSE ? claim_holder(&a, len) : 0;     /* before we let go */
    if (e == EADDRINUSE && held_by_us_or_nobody(t, pid))
      continue;
    aoe_claim_drop(t);
    if (e != EADDRINUSE) {
      snprintf(err, errlen, "e%u.%u: cannot take its claim on this host: %s", t->shelf,
               t->slot, strerror(e));
      return -e;
    }
    char who[32] = "another process";
    if (pid > 0)
      snprintf(who, sizeof who, "process %d", (int)pid);
    snprintf(err, errlen, "e%u.%u is claimed by %s on this host, which holds its "
             "reservation through %s", t->shelf, t->slot, who, ini->ifaces[i].name);
    return -EBUSY;
  }
  return 0;
}

void aoe_claim_owner(struct aoe_initiator *ini)
{
  for (size_t i = 0; i < ini->ntargets; i++) {
    struct aoe_target *t = ini->targets[i];
    for (unsigned j = 0; j < t->nclaim_fds; j++)
      listen(t->claim_fds[j], CLAIM_BACKLOG);
  }
}

int aoe_claim_free(struct aoe_target *t, char *err, size_t errlen)
{
  pthread_mutex_lock(&t->ini->lock);
  int held = t->nclaim_fds > 0;
  int rc = aoe_claim_take(t, err, errlen);
  if (rc == 0 && !held)
    aoe_claim_drop(t);
  pthread_mutex_unlock(&t->ini->lock);
  return rc;
}

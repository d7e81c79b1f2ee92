/* aoe/engine.c: the loop body.  Cuts requests into frames, keeps each path's window
 * full, matches replies, retransmits on timeout, declares shelves and paths down and
 * brings them back.  Everything here runs with ini->lock held; completions are queued
 * and delivered by aoe_deliver after the lock is dropped. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static const uint8_t broadcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

uint64_t aoe_now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t aoe_clock_us(const struct aoe_initiator *ini)
{
  return ini->clock_us ? ini->clock_us() : aoe_now_us();
}

static void mac_str(const uint8_t *m, char *out)
{
  sprintf(out, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* ---- requests ---------------------------------------------------------------------- */

struct aoe_req *aoe_req_new(struct aoe_target *t, enum req_kind kind, aoe_done_fn *done,
                            void *opaque)
{
  struct aoe_req *r = calloc(1, sizeof *r);
  if (r) {
    r->t = t;
    r->kind = kind;
    r->done = done;
    r->opaque = opaque;
  }
  return r;
}

static void queue_mtu_probe(struct aoe_initiator *ini, struct aoe_target *t,
                            struct aoe_path *p);
static void mtu_probe_done(struct aoe_initiator *ini, struct aoe_target *t,
                           struct aoe_path *p, unsigned nsect, int err);
static void proof_done(struct aoe_initiator *ini, struct aoe_target *t, struct aoe_req *r,
                       int err);

/* A request of our own pinned to a path that is no I/O of the caller's (an MTU probe, a
 * held shelf's proof): the dead time never runs for it, it retries on its own path. */
static int req_probe(const struct aoe_req *r)
{
  return r->mtu_probe || r->proof;
}

static unsigned path_scnt(const struct aoe_path *p);

void aoe_req_complete(struct aoe_initiator *ini, struct aoe_req *r, int err)
{
  struct aoe_target *t = r->t;
  if (r->completed)
    return;
  r->completed = 1;
  r->err = err;
  if (r->mtu_probe) {
    r->pin->mtu_probing = 0;
    mtu_probe_done(ini, t, r->pin, r->nsect, err);
    free(r);
    return;
  }
  if (r->proof) {
    r->pin->proving = 0;
    proof_done(ini, t, r, err);
    free(r);
    return;
  }
  if (r->kind == REQ_IDENTIFY) {
    r->pin->identifying = 0;
    ini->identifying--;
    if (!err && r->pin->state == PATH_ACTIVE && !r->pin->proving)
      queue_mtu_probe(ini, t, r->pin);  /* a path proving its disk is probed once proved */
    if (err && !t->identified)
      ini->reap_pending = 1;
    free(r);
    return;
  }
  if (err) {
    t->st.errors++;
  } else if (r->kind == REQ_READ) {
    t->st.reads++;
    t->st.read_bytes += (uint64_t)r->nsect * AOE_SECTOR;
  } else if (r->kind == REQ_WRITE) {
    t->st.writes++;
    t->st.write_bytes += (uint64_t)r->nsect * AOE_SECTOR;
  } else if (r->kind == REQ_FLUSH) {
    t->st.flushes++;
  }
  aoe_req_append(&ini->done_head, &ini->done_tail, r);
}

void aoe_deliver(struct aoe_initiator *ini)
{
  struct aoe_req *r = aoe_req_take(&ini->lock, &ini->done_head, &ini->done_tail);
  while (r) {
    struct aoe_req *next = r->next;
    r->done(r->opaque, r->err);
    free(r);
    r = next;
  }
}

static void queue_remove(struct aoe_req **head, struct aoe_req **tail, struct aoe_req *r)
{
  struct aoe_req *prev = NULL;
  for (struct aoe_req *q = *head; q; prev = q, q = q->next)
    if (q == r) {
      if (prev)
        prev->next = q->next;
      else
        *head = q->next;
      if (*tail == q)
        *tail = prev;
      return;
    }
}

/* ---- frames ------------------------------------------------------------------------ */

/* Double T's frame table (the first: AOE_FIRST_FRAMES), up to AOE_MAX_FRAMES; the new
 * frames go on the free list lowest first.  -1 when at the top or out of memory. */
static int frames_grow(struct aoe_target *t)
{
  unsigned n = t->nframes ? 2 * t->nframes : AOE_FIRST_FRAMES;
  if (t->nframes >= AOE_MAX_FRAMES)
    return -1;
  if (n > AOE_MAX_FRAMES)
    n = AOE_MAX_FRAMES;
  struct aoe_frame *frames = realloc(t->frames, n * sizeof *frames);
  if (!frames)
    return -1;
  t->frames = frames;
  uint16_t *freelist = realloc(t->freelist, n * sizeof *freelist);
  if (!freelist)
    return -1;
  t->freelist = freelist;
  memset(frames + t->nframes, 0, (n - t->nframes) * sizeof *frames);
  for (unsigned i = n; i-- > t->nframes;)
    t->freelist[t->nfree++] = (uint16_t)i;
  t->nframes = n;
  return 0;
}

/* A free frame of T (the table grows when all are taken: callers hold no frame pointer
 * across this call). */
static struct aoe_frame *frame_alloc(struct aoe_target *t)
{
  if (!t->nfree && frames_grow(t) < 0)
    return NULL;
  unsigned idx = t->freelist[--t->nfree];
  if (idx >= t->hiwater)
    t->hiwater = idx + 1;
  struct aoe_frame *f = &t->frames[idx];
  memset(f, 0, sizeof *f);
  return f;
}

static void frame_free(struct aoe_target *t, struct aoe_frame *f)
{
  f->state = FRAME_FREE;
  f->tag = 0;
  f->req = NULL;
  t->freelist[t->nfree++] = (uint16_t)(f - t->frames);
}

/* The frame no longer counts against its path's window. */
static void frame_settle(struct aoe_target *t, struct aoe_frame *f)
{
  f->path->inflight--;
  t->inflight--;
  if (f->req && req_probe(f->req)) {
    f->path->probes_inflight--;
    t->probes_inflight--;
  }
}

/* A write that was retransmitted may still have an old copy on the wire: keep its range
 * fenced for one more RTO so no newer write to it can be overtaken. */
static void frame_retire(struct aoe_target *t, struct aoe_frame *f, uint64_t now)
{
  if (f->write && f->retries) {
    f->state = FRAME_FENCE;
    f->tag = 0;
    f->req = NULL;
    f->deadline_us = now + f->path->rtt.rto_us;
  } else {
    frame_free(t, f);
  }
}

/* Account for a frame just handed to the interface (RC: the send's result). */
static int frame_sent(struct aoe_path *p, struct aoe_frame *f, uint64_t now, size_t len, int rc)
{
  f->sent_us = now;
  f->deadline_us = now + p->rtt.rto_us;
  f->state = FRAME_INFLIGHT;
  p->st.frames_sent++;
  p->st.bytes_sent += len;
  if (rc < 0)
    p->st.errors++;     /* treated like a lost frame: the timer retransmits it */
  return rc;
}

/* One debug line per frame, when the caller asked for them (-D aoeraid.frames=1). */
static void frame_trace(struct aoe_target *t, const struct aoe_frame *f, const char *dir,
                        const struct aoe_path *p)
{
  const int *trace = t->ini->opt.trace_frames;
  char mac[18];

  if (!trace || !*trace)
    return;
  snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", p->mac[0], p->mac[1], p->mac[2],
           p->mac[3], p->mac[4], p->mac[5]);
  aoe_log(t->ini, AOE_LOG_DEBUG, "%s e%u.%u tag %08x cmd %u ata %02x lba %llu sectors %u via %s %s%s",
          dir, t->shelf, t->slot, f->tag, f->cmd, f->ata_cmd,
          (unsigned long long)f->lba, f->nsect, p->ifc->name, mac,
          f->retries ? " (retransmit)" : "");
}

/* A queued frame that did not go out: counted like a failed send (the frame stays in
 * flight and its timer retransmits it). */
static void tx_failed(void *cookie)
{
  ((struct aoe_path *)cookie)->st.errors++;
}

/* Hand every queued frame to the interfaces.  Called before ini->lock is let go by whoever
 * issued frames under it, so a request's buffer (a write's data is sent from it) is still
 * its own: completions are delivered only after the unlock. */
static void tx_flush(struct aoe_initiator *ini)
{
  for (size_t i = 0; i < ini->nifaces; i++)
    if (ini->ifaces[i].txq && ini->ifaces[i].txq->n)
      aoe_net_flush(&ini->ifaces[i], tx_failed);
}

/* Build F's frame and send it: ATA frames are queued on the interface (tx_flush sends the
 * queue in one sendmmsg), others go at once.  The frame counts as sent from NOW either way:
 * its timer starts before the flush, which follows within the same hold of ini->lock. */
static int frame_send(struct aoe_target *t, struct aoe_frame *f, uint64_t now)
{
  struct aoe_path *p = f->path;
  struct aoe_iface *ifc = p->ifc;
  struct aoe_msg m;
  size_t len;
  t->taggen++;
  f->tag = 0x80000000u | (t->taggen & 0x7fffffu) << 8 | (uint32_t)(f - t->frames);
  if (!f->retries) {
    f->tag0 = f->tag;
    f->first_us = now;
  }
  frame_trace(t, f, "tx", p);
  memset(&m.h, 0, sizeof m.h);
  memcpy(m.h.dst, p->mac, 6);
  memcpy(m.h.src, ifc->mac, 6);
  m.h.shelf = (uint16_t)t->shelf;
  m.h.slot = (uint8_t)t->slot;
  m.h.cmd = f->cmd;
  m.h.tag = f->tag;
  if (f->cmd == AOE_CMD_ATA) {
    struct aoe_ata a = { .aflags = f->aflags, .scnt = (uint8_t)f->nsect,
                         .cmdstat = f->ata_cmd, .lba = f->lba };
    _Static_assert(AOE_MIN_FRAME <= AOE_TX_HDR_MAX, "a queued header holds a short frame");
    uint8_t *hdr = aoe_net_queue_hdr(ifc, tx_failed);
    /* Without LBA48 the fourth LBA byte is the device register: LBA mode (0xe0), as the
     * Linux driver sends it; IDENTIFY gets 0xa0 there. */
    if (f->ata_cmd == ATA_IDENTIFY)
      a.lba = 0xa0ull << 24;
    else if (!(f->aflags & AOE_AFLAG_LBA48))
      a.lba = (f->lba & 0x0fffffffull) | 0xe0ull << 24;
    aoe_encode_ata_hdr(hdr ? hdr : ifc->tx, &m.h, &a);
    if (f->write) {
      /* The data goes from the caller's buffer straight to the socket: no copy here. */
      size_t n = (size_t)f->nsect * AOE_SECTOR;
      const uint8_t *data = f->req->buf + (size_t)f->off * AOE_SECTOR;
      len = AOE_ATA_HDR_LEN + n;
      if (hdr) {
        aoe_net_queue(ifc, AOE_ATA_HDR_LEN, data, n, p);
        return frame_sent(p, f, now, len, 0);
      }
      return frame_sent(p, f, now, len, aoe_net_sendv(ifc, AOE_ATA_HDR_LEN, data, n));
    }
    if (f->req && f->req->mtu_probe) {
      /* Padded to the size of a write of as many sectors: the request tests the way to
       * the shelf, its answer the way back. */
      if (hdr)        /* not queued: aoe_net_queue was not called for it */
        memcpy(ifc->tx, hdr, AOE_ATA_HDR_LEN);
      len = AOE_ATA_HDR_LEN + (size_t)f->nsect * AOE_SECTOR;
      memset(ifc->tx + AOE_ATA_HDR_LEN, 0, len - AOE_ATA_HDR_LEN);
      return frame_sent(p, f, now, len, aoe_net_send(ifc, NULL, len));
    }
    memset((hdr ? hdr : ifc->tx) + AOE_ATA_HDR_LEN, 0, AOE_MIN_FRAME - AOE_ATA_HDR_LEN);
    len = AOE_MIN_FRAME;
    if (hdr) {
      aoe_net_queue(ifc, len, NULL, 0, p);
      return frame_sent(p, f, now, len, 0);
    }
  } else {
    /* Reserve/Release: rare, sent at once after what is queued, keeping the order. */
    if (ifc->txq && ifc->txq->n)
      aoe_net_flush(ifc, tx_failed);
    m.u.rr.rcmd = f->req->rcmd;
    m.u.rr.nmacs = f->req->nmacs;
    m.u.rr.macs = &f->req->macs[0][0];
    len = aoe_encode(ifc->tx, ifc->txcap, &m);
  }
  return frame_sent(p, f, now, len, aoe_net_send(ifc, NULL, len));
}

/* Put F in flight on P. */
static void frame_launch(struct aoe_target *t, struct aoe_frame *f, struct aoe_path *p,
                         uint64_t now)
{
  f->path = p;
  p->inflight++;
  if (f->req && req_probe(f->req)) {
    p->probes_inflight++;
    t->probes_inflight++;
  } else if (t->inflight == t->probes_inflight) {
    t->busy_since_us = now;     /* the dead time runs for I/O, never for a probe */
  }
  t->inflight++;
  if (f->req)
    f->req->inflight++;
  frame_send(t, f, now);
}

static int path_usable(const struct aoe_path *p)
{
  return p->state == PATH_ACTIVE && p->up;
}

/* The next usable path with room in its window, round robin. */
static struct aoe_path *pick_path(struct aoe_target *t)
{
  for (size_t i = 0; i < t->npaths; i++) {
    struct aoe_path *p = &t->paths[(t->rr_next + i) % t->npaths];
    if (path_usable(p) && p->inflight < p->win.cwnd) {
      t->rr_next = (unsigned)((t->rr_next + i + 1) % t->npaths);
      return p;
    }
  }
  return NULL;
}

/* Is [lba, lba+n) touched by a write frame still in flight or fenced? */
static int write_fenced(const struct aoe_target *t, uint64_t lba, uint32_t n)
{
  for (unsigned i = 0; i < t->hiwater; i++) {
    const struct aoe_frame *f = &t->frames[i];
    if (f->state != FRAME_FREE && f->write && f->lba < lba + n && lba < f->lba + f->nsect)
      return 1;
  }
  return 0;
}

static void ata_rw_args(const struct aoe_target *t, struct aoe_frame *f, int write)
{
  f->cmd = AOE_CMD_ATA;
  f->write = (uint8_t)write;
  if (t->ident.lba48) {
    f->aflags = AOE_AFLAG_LBA48 | (write ? AOE_AFLAG_WRITE : 0);
    f->ata_cmd = write ? ATA_WRITE_EXT : ATA_READ_EXT;
  } else {
    f->aflags = write ? AOE_AFLAG_WRITE : 0;
    f->ata_cmd = write ? ATA_WRITE : ATA_READ;
  }
}

/* Issue the next frame of R; returns 0 when it went out, -1 when R must wait. */
static int issue_rw(struct aoe_target *t, struct aoe_req *r, uint64_t now)
{
  uint32_t left = r->nsect - r->issued;
  uint32_t n = left < t->scnt ? left : t->scnt;
  uint64_t lba = r->lba + r->issued;
  if (r->kind == REQ_WRITE && write_fenced(t, lba, n))
    return -1;
  struct aoe_path *p = pick_path(t);
  if (!p)
    return -1;
  struct aoe_frame *f = frame_alloc(t);
  if (!f)
    return -1;
  f->req = r;
  f->lba = lba;
  f->nsect = (uint16_t)n;
  f->off = r->issued;
  ata_rw_args(t, f, r->kind == REQ_WRITE);
  r->issued += n;
  r->issued_all = r->issued == r->nsect;
  frame_launch(t, f, p, now);
  return 0;
}

static int issue_flush(struct aoe_initiator *ini, struct aoe_target *t, struct aoe_req *r,
                       uint64_t now)
{
  if (!t->flush_cmd) {          /* the shelf said it has no cache to flush */
    r->issued_all = 1;
    aoe_req_complete(ini, r, 0);
    return 0;
  }
  struct aoe_path *p = pick_path(t);
  struct aoe_frame *f = p ? frame_alloc(t) : NULL;
  if (!f)
    return -1;
  f->req = r;
  f->cmd = AOE_CMD_ATA;
  f->ata_cmd = t->flush_cmd;
  f->aflags = t->flush_cmd == ATA_FLUSH_EXT ? AOE_AFLAG_LBA48 : 0;
  r->issued_all = 1;
  frame_launch(t, f, p, now);
  return 0;
}

static int target_reachable(const struct aoe_target *t, unsigned silent);

/* A reservation is held per responder: send one frame to every accepted path.  With no
 * path up it waits, as I/O does, for one to answer or the shelf to go down: sent nowhere,
 * it would end a success that no responder granted. */
static int issue_reserve(struct aoe_target *t, struct aoe_req *r, uint64_t now)
{
  if (!r->issued && !target_reachable(t, 0))
    return -1;
  for (size_t i = r->issued; i < t->npaths; i++, r->issued++) {
    struct aoe_path *p = &t->paths[i];
    if (!path_usable(p))
      continue;                 /* a path down would never answer (path_abandon_reserve) */
    struct aoe_frame *f = frame_alloc(t);
    if (!f)
      return -1;
    f->req = r;
    f->cmd = AOE_CMD_RESERVE;
    frame_launch(t, f, p, now);
  }
  r->issued_all = 1;
  return 0;
}

static void issue_identify(struct aoe_target *t, struct aoe_req *r, uint64_t now)
{
  struct aoe_frame *f = frame_alloc(t);
  if (!f)
    return;
  f->req = r;
  if (r->mtu_probe) {
    ata_rw_args(t, f, 0);
    f->nsect = (uint16_t)r->nsect;
  } else if (r->proof) {
    /* a frame at a time, of the size every path carries: the next goes on its answer */
    unsigned per_frame = path_scnt(r->pin) < AOE_SAFE_SCNT ? path_scnt(r->pin) : AOE_SAFE_SCNT;
    uint32_t left = r->nsect - r->issued;
    ata_rw_args(t, f, 0);
    f->lba = r->lba + r->issued;
    f->off = r->issued;
    f->nsect = (uint16_t)(left < per_frame ? left : per_frame);
    r->issued += f->nsect;
  } else {
    f->cmd = AOE_CMD_ATA;
    f->ata_cmd = ATA_IDENTIFY;
    f->nsect = 1;
  }
  r->issued_all = 1;
  frame_launch(t, f, r->pin, now);
}

static const char *kind_name(enum req_kind k)
{
  static const char *const names[] = { "read", "write", "flush", "identify", "reserve" };
  return names[k];
}

static void fail_claimed_io(struct aoe_initiator *ini, struct aoe_target *t);
static void rr_mark_lost(struct aoe_initiator *ini, struct aoe_target *t, uint64_t now,
                         const char *why);
static int rr_hold(const struct aoe_initiator *ini, const struct aoe_target *t, uint64_t now);
static void rr_resumed(struct aoe_initiator *ini, uint64_t now);

static void target_issue(struct aoe_initiator *ini, struct aoe_target *t, uint64_t now)
{
  struct aoe_req *r;
  /* a free frame first: issue_identify cannot put its request back */
  while ((r = t->ctl_head) && (t->nfree || frames_grow(t) == 0)) {
    t->ctl_head = r->next;
    if (!t->ctl_head)
      t->ctl_tail = NULL;
    issue_identify(t, r, now);
  }
  if (!atomic_load(&t->up))
    return;
  if (ini->rr_taken && t->claimed && (t->rr_lost_us || !t->reserved))
    fail_claimed_io(ini, t);
  int hold = rr_hold(ini, t, now);
  /* Strictly in order: a request waits behind one that cannot go yet. */
  while ((r = t->q_head)) {
    int rc;
    if (hold && r->kind != REQ_RESERVE)
      return;
    if (r->kind == REQ_READ || r->kind == REQ_WRITE)
      rc = issue_rw(t, r, now);
    else if (r->kind == REQ_FLUSH)
      rc = issue_flush(ini, t, r, now);
    else
      rc = issue_reserve(t, r, now);
    if (rc < 0)
      return;
    if (r->issued_all) {
      t->q_head = r->next;
      if (!t->q_head)
        t->q_tail = NULL;
      if (r->issued_all && r->inflight == 0 && !r->completed)
        aoe_req_complete(ini, r, 0);   /* nothing was needed on the wire */
    }
  }
}

/* Fail R at once; frames of it still in flight become orphans (no buffer access). */
static void req_fail(struct aoe_initiator *ini, struct aoe_req *r, int err)
{
  struct aoe_target *t = r->t;
  if (r->completed)
    return;
  if (!r->issued_all)
    queue_remove(&t->q_head, &t->q_tail, r);
  for (unsigned i = 0; i < t->hiwater; i++)
    if (t->frames[i].req == r) {
      t->frames[i].req = NULL;
      t->st.dropped++;
    }
  aoe_req_complete(ini, r, err);
}

/* Fail every queued and in-flight request of T with ERR. */
void aoe_target_fail_all(struct aoe_target *t, int err)
{
  struct aoe_initiator *ini = t->ini;
  while (t->q_head)
    req_fail(ini, t->q_head, err);
  for (unsigned i = 0; i < t->hiwater; i++) {
    struct aoe_req *r = t->frames[i].req;
    if (r && r->kind != REQ_IDENTIFY)
      req_fail(ini, r, err);
  }
}

/* ---- paths and targets ------------------------------------------------------------- */

/* P's round-trip estimate starts again from the last one measured on it (its IDENTIFY,
 * before it came up): a slow shelf's first frames then wait for its real round trip, not
 * the initial RTO (the Linux driver times its first frames the same way). */
static void path_reset(struct aoe_path *p)
{
  aoe_rtt_init(&p->rtt);
  if (p->rtt_seed_us)
    aoe_rtt_sample(&p->rtt, p->rtt_seed_us);
  aoe_window_init(&p->win, p->bufcnt ? p->bufcnt : 1);
  p->timeouts_since_heard = 0;
  p->loss_until_us = 0;
}

/* The sectors per frame P offers: its shelf's (Query Config) and its interface's limit. */
static unsigned path_scnt(const struct aoe_path *p)
{
  unsigned mtu_scnt = (p->ifc->mtu - AOE_ATA_HDR_LEN) / AOE_SECTOR;
  return p->cfg_scnt && p->cfg_scnt < mtu_scnt ? p->cfg_scnt : mtu_scnt;
}

static void target_update_scnt(struct aoe_target *t)
{
  unsigned scnt = 255, bufcnt = 0;
  for (size_t i = 0; i < t->npaths; i++) {
    const struct aoe_path *p = &t->paths[i];
    if (p->state != PATH_ACTIVE)
      continue;
    unsigned s = path_scnt(p);
    if (s > AOE_SAFE_SCNT && p->scnt_ok < s)
      s = p->scnt_ok > AOE_SAFE_SCNT ? p->scnt_ok : AOE_SAFE_SCNT;   /* not proven yet */
    if (s < scnt)
      scnt = s;
    if (p->bufcnt > bufcnt)
      bufcnt = p->bufcnt;
  }
  t->scnt = scnt ? scnt : 1;
  t->bufcnt = bufcnt;
}

/* The sectors per frame T uses once the MTU probes of its active paths have passed: as
 * target_update_scnt, with each probe that can run taken as passed (one cannot on a shelf
 * smaller than a frame: that path stays at AOE_SAFE_SCNT). */
static unsigned target_probed_scnt(const struct aoe_target *t)
{
  unsigned scnt = 255;
  for (size_t i = 0; i < t->npaths; i++) {
    const struct aoe_path *p = &t->paths[i];
    if (p->state != PATH_ACTIVE)
      continue;
    unsigned s = path_scnt(p);
    if (s > AOE_SAFE_SCNT && t->ident.sectors < s && p->scnt_ok < s)
      s = p->scnt_ok > AOE_SAFE_SCNT ? p->scnt_ok : AOE_SAFE_SCNT;
    if (s < scnt)
      scnt = s;
  }
  return scnt ? scnt : 1;
}

/* T answered nothing for QUIET_US: down, its pending I/O failed.  KEEPALIVES: the silence
 * was of an idle shelf to its keepalives, not to I/O. */
static void target_down(struct aoe_initiator *ini, struct aoe_target *t, uint64_t now,
                        uint64_t quiet_us, int keepalives)
{
  int pending = t->inflight || t->q_head;
  char held[96] = "";
  if (t->held_us)
    snprintf(held, sizeof held, ", held %llu s past it: %s",
             (unsigned long long)((now - t->held_us) / 1000000),
             !ini->opt.hold_time_ms ? "holds ended" : t->hold_until_us ?
             "the hold time ran out" : "its hold was ended");
  t->held_us = 0;
  atomic_store(&t->held, 0);
  atomic_store(&t->up, 0);
  t->st.down_events++;
  for (size_t i = 0; i < t->npaths; i++) {
    t->paths[i].up = 0;
    aoe_window_collapse(&t->paths[i].win);
  }
  aoe_set_error(t, "e%u.%u: no answer%s for %llu ms (dead time %u ms%s): shelf declared "
                "down%s", t->shelf, t->slot, keepalives ? " to keepalives" : "",
                (unsigned long long)(quiet_us / 1000), ini->opt.dead_time_ms, held,
                pending ? ", pending I/O failed" : "");
  aoe_log(ini, AOE_LOG_WARN, "%s", t->last_error);
  aoe_target_fail_all(t, EIO);
  ini->next_discover_us = now;  /* start probing for its return */
}

static void path_abandon_reserve(struct aoe_initiator *ini, struct aoe_target *t,
                                 struct aoe_path *p);

static void path_up(struct aoe_initiator *ini, struct aoe_target *t, struct aoe_path *p)
{
  char mac[18];
  path_reset(p);
  p->up = 1;
  mac_str(p->mac, mac);
  aoe_log(ini, AOE_LOG_INFO, "e%u.%u: path %s via %s is up", t->shelf, t->slot, mac,
          p->ifc->name);
  /* a reserve frame kept on a path that went down while none was up goes now */
  for (size_t i = 0; i < t->npaths; i++)
    if (!t->paths[i].up)
      path_abandon_reserve(ini, t, &t->paths[i]);
}

/* P went down: a re-assert's frame pinned to it would wait for an answer that does not
 * come, retransmitted for ever, and as I/O in flight it took the shelf down every dead
 * time although another path answered (a shelf address moved to another MAC).  Its
 * request is done with the answers the other paths gave; P's responder, back, is read
 * as any is (a list lacking us is re-asserted).  With no other path up the frame stays,
 * failed with the shelf at its dead time: a reserve nobody answered is no success, nor is
 * one whose other frames all went without an answer (ETIMEDOUT). */
static void path_abandon_reserve(struct aoe_initiator *ini, struct aoe_target *t,
                                 struct aoe_path *p)
{
  if (!target_reachable(t, 0))
    return;
  for (unsigned i = 0; i < t->hiwater; i++) {
    struct aoe_frame *f = &t->frames[i];
    if (f->state != FRAME_INFLIGHT || f->path != p || f->cmd != AOE_CMD_RESERVE)
      continue;
    struct aoe_req *r = f->req;
    frame_settle(t, f);
    frame_free(t, f);
    if (r && --r->inflight == 0 && r->issued_all)
      aoe_req_complete(ini, r, r->rr && !r->rr->replies ? ETIMEDOUT : 0);
  }
}

/* P stopped answering (WHY: its frames, or its keepalives for so long): frames go to the
 * other paths, and discovery probes for its return. */
static void path_down(struct aoe_initiator *ini, struct aoe_target *t, struct aoe_path *p,
                      uint64_t now, const char *why)
{
  char mac[18];
  p->up = 0;
  aoe_window_collapse(&p->win);
  path_abandon_reserve(ini, t, p);
  mac_str(p->mac, mac);
  aoe_log(ini, AOE_LOG_WARN, "e%u.%u: path %s via %s stopped answering%s", t->shelf, t->slot,
          mac, p->ifc->name, why);
  ini->next_discover_us = now;
}

/* ---- holding a shelf (aoe_options.may_down) ----------------------------------------
 * A switch that reboots silences every shelf at once: declared down at the dead time,
 * they would take an array with them that needs them all.  So a shelf the caller cannot
 * do without is held instead: it stays up, its paths go down (nothing is sent, new I/O
 * queues, its frames wait), and discovery probes for it each AOE_PROBE_MS.  A path that
 * answers Query Config is identified again before anything else is sent: a disk swapped
 * behind the address meanwhile gets none of the held writes (identify_result rejects
 * it, or, the same serial and size, the caller's proof does: queue_proof); the same disk
 * ends the hold, and the frames go again.  It is declared down
 * opt.hold_time_ms after its dead time if it does not come back.  A shelf that answers
 * again but not the I/O held for it (a hung disk) keeps its first hold's end: holds of
 * the same stalled I/O never add up to more than one. */

/* May T be declared down now, or must it be held? */
static int target_may_down(struct aoe_initiator *ini, struct aoe_target *t)
{
  return !ini->opt.hold_time_ms || !ini->opt.may_down ||
         ini->opt.may_down(ini->opt.may_down_opaque, t);
}

/* T is silent for the dead time (QUIET_US, KEEPALIVES as target_down): held when the
 * caller cannot do without it, else down. */
static void target_silent(struct aoe_initiator *ini, struct aoe_target *t, uint64_t now,
                          uint64_t quiet_us, int keepalives)
{
  if (target_may_down(ini, t)) {
    target_down(ini, t, now, quiet_us, keepalives);
    return;
  }
  /* The same I/O stalled since the last hold ended (nothing answered, never idle): that
   * hold's end stands. */
  int same_stall = t->hold_end_us && t->busy_since_us <= t->hold_end_us &&
                   t->last_heard_us <= t->hold_end_us && t->inflight > t->probes_inflight;
  if (!same_stall || t->hold_until_us < now)
    t->hold_until_us = now + 1000ull * ini->opt.hold_time_ms;
  t->held_us = now;
  atomic_store(&t->held, 1);
  for (size_t i = 0; i < t->npaths; i++) {
    t->paths[i].up = 0;
    aoe_window_collapse(&t->paths[i].win);
  }
  aoe_set_error(t, "e%u.%u: no answer%s for %llu ms, but its user cannot do without it: "
                "held, its I/O waits up to %llu s (the switch or the shelf may come "
                "back)", t->shelf, t->slot, keepalives ? " to keepalives" : "",
                (unsigned long long)(quiet_us / 1000),
                (unsigned long long)((t->hold_until_us - now + 999999) / 1000000));
  aoe_log(ini, AOE_LOG_WARN, "%s", t->last_error);
  ini->next_discover_us = now;  /* probe for its return */
}

/* A path of the held T was identified again with the same disk (and its caller's proof
 * passed): the hold ends, its I/O goes again (after our reservation is re-asserted: the
 * shelf may have restarted). */
static void target_unhold(struct aoe_initiator *ini, struct aoe_target *t, uint64_t now)
{
  aoe_log(ini, AOE_LOG_INFO, "e%u.%u: answers again after %llu s: held I/O resumes",
          t->shelf, t->slot, (unsigned long long)((now - t->held_us) / 1000000));
  t->held_us = 0;
  atomic_store(&t->held, 0);
  t->hold_end_us = now;
  t->last_heard_us = now;       /* its I/O gets a dead time again, from now */
  if (t->reserved) {
    t->rr_lost_us = 0;
    rr_mark_lost(ini, t, now, NULL);
  }
}

/* P of the held T answered IDENTIFY as the shelf did: before it is up, read the sectors
 * its caller proves the disk by (aoe_options.may_resume), pinned to P as an IDENTIFY is:
 * a disk swapped in at the address with the same serial and size gets none of the held
 * I/O.  One allocation with its buffer, as an MTU probe. */
static void queue_proof(struct aoe_initiator *ini, struct aoe_target *t, struct aoe_path *p)
{
  unsigned n = ini->opt.proof_sectors;
  if (p->proving)
    return;
  struct aoe_req *r = calloc(1, sizeof *r + (size_t)n * AOE_SECTOR);
  if (!r)
    return;             /* still held: asked again at its next answer */
  r->t = t;
  r->kind = REQ_IDENTIFY;
  r->proof = 1;
  r->lba = ini->opt.proof_lba;
  r->nsect = n;
  r->buf = (uint8_t *)(r + 1);
  r->pin = p;
  p->proving = 1;
  aoe_req_append(&t->ctl_head, &t->ctl_tail, r);
}

/* The proof R read on its path P is judged: the same disk ends T's hold, another is
 * refused as an impostor is (none of the held I/O reaches it).  Not read (ERR): T stays
 * held, and P is read again when it answers again (on_config identifies it anew). */
static void proof_done(struct aoe_initiator *ini, struct aoe_target *t, struct aoe_req *r,
                       int err)
{
  struct aoe_path *p = r->pin;
  char mac[18];
  mac_str(p->mac, mac);
  if (p->state != PATH_ACTIVE)
    return;
  if (!t->held_us) {
    /* the hold ended meanwhile (another path proved it, or it ran out): this path is
     * identified again as any is */
    p->state = PATH_CANDIDATE;
    return;
  }
  if (err) {
    aoe_log(ini, AOE_LOG_INFO, "e%u.%u: path %s via %s: its disk could not be read to "
            "prove it the held one (%s): still held, read again at its next answer",
            t->shelf, t->slot, mac, p->ifc->name, strerror(err));
    return;
  }
  if (ini->opt.may_resume(ini->opt.may_down_opaque, t, r->buf,
                          (size_t)r->nsect * AOE_SECTOR)) {
    path_up(ini, t, p);
    target_update_scnt(t);
    target_unhold(ini, t, aoe_clock_us(ini));
    queue_mtu_probe(ini, t, p);
    return;
  }
  p->state = PATH_REJECTED;
  p->up = 0;
  t->st.unexpected++;
  aoe_log(ini, AOE_LOG_WARN, "e%u.%u: answers again, but with another disk (%s via %s: "
          "%llu sectors at LBA %llu are not the held disk's): held I/O not sent; the hold "
          "runs out unless its own disk comes back", t->shelf, t->slot, mac, p->ifc->name,
          (unsigned long long)r->nsect, (unsigned long long)r->lba);
}

static void queue_identify(struct aoe_initiator *ini, struct aoe_target *t,
                           struct aoe_path *p)
{
  struct aoe_req *r = aoe_req_new(t, REQ_IDENTIFY, NULL, NULL);
  if (!r)
    return;
  r->pin = p;
  p->identifying = 1;
  ini->identifying++;
  aoe_req_append(&t->ctl_head, &t->ctl_tail, r);
}

/* P offers more sectors per frame than any Ethernet carries and none such went through
 * yet: ask for a read of that many (sector 0), its request padded to that size, pinned to
 * P as an IDENTIFY is.  Until it is answered P's frames stay at AOE_SAFE_SCNT. */
static void queue_mtu_probe(struct aoe_initiator *ini, struct aoe_target *t,
                            struct aoe_path *p)
{
  unsigned n = path_scnt(p);
  if (n <= AOE_SAFE_SCNT || p->scnt_ok >= n || p->mtu_probing || t->ident.sectors < n)
    return;
  /* One allocation with its buffer: whoever frees an IDENTIFY frees it whole. */
  struct aoe_req *r = calloc(1, sizeof *r + (size_t)n * AOE_SECTOR);
  if (!r)
    return;
  r->t = t;
  r->kind = REQ_IDENTIFY;
  r->mtu_probe = 1;
  r->nsect = n;
  r->buf = (uint8_t *)(r + 1);
  r->pin = p;
  p->mtu_probing = 1;           /* not ini->identifying: discovery does not wait for it */
  aoe_req_append(&t->ctl_head, &t->ctl_tail, r);
}

static void mtu_probe_done(struct aoe_initiator *ini, struct aoe_target *t,
                           struct aoe_path *p, unsigned nsect, int err)
{
  char mac[18];
  if (!err) {
    unsigned before = t->scnt;
    p->scnt_ok = nsect;
    target_update_scnt(t);
    /* the up line said frames were small until now: a user reads that as an MTU set
     * wrong, so say when the frames grow, and what let them */
    if (t->scnt > before && atomic_load(&t->up))
      aoe_log(ini, AOE_LOG_INFO, "e%u.%u: %u sectors per frame: a frame of %u sectors was "
              "answered via %s (MTU %u)", t->shelf, t->slot, t->scnt, nsect, p->ifc->name,
              p->ifc->mtu);
    return;
  }
  mac_str(p->mac, mac);
  if (err != ETIMEDOUT) {
    /* Refused (another host's reservation, an ATA error): an answer, but with no data it
     * proves nothing of the way back.  Not an MTU problem: no warning. */
    aoe_log(ini, AOE_LOG_DEBUG, "e%u.%u: path %s via %s: MTU probe refused (%s); %u sectors "
            "per frame on it until it is identified again", t->shelf, t->slot, mac,
            p->ifc->name, strerror(err), AOE_SAFE_SCNT);
    return;
  }
  aoe_log(ini, AOE_LOG_WARN, "e%u.%u: path %s via %s: frames of %u sectors (%u bytes) go "
          "unanswered while small ones are answered: a link on the way has a smaller MTU "
          "than %s (%u); using %u sectors per frame on it (set the same MTU end to end)",
          t->shelf, t->slot, mac, p->ifc->name, nsect,
          (unsigned)(AOE_ATA_HDR_LEN - 14 + nsect * AOE_SECTOR), p->ifc->name, p->ifc->mtu,
          AOE_SAFE_SCNT);
}

/* A shelf we hold forgot our reservation (vblade keeps it in memory only), WHY (NULL: it
 * came back from down, and may have): re-assert it, once the rest of our claim is known
 * not to be taken (see "reservations kept"). */
static void rr_mark_lost(struct aoe_initiator *ini, struct aoe_target *t, uint64_t now,
                         const char *why);
static void rr_set_taken(struct aoe_initiator *ini, struct aoe_target *t, const uint8_t *holder);
static void rr_tally(struct aoe_initiator *ini, struct rr_result *res, const struct aoe_rr *rr);
static uint64_t rr_progress(struct aoe_initiator *ini, uint64_t now);

/* A shelf declared down that answers again with the same serial and more sectors: its
 * disk grew while it was away (a volume or file extended, vblade restarted on it).  It is
 * the same shelf; what it holds is the RAID layer's to judge, as for any return.  Fewer
 * sectors, another serial, or a second path answering differently while the shelf is up,
 * stay refused. */
static int disk_grew(struct aoe_initiator *ini, struct aoe_target *t, const struct aoe_ident *id)
{
  if ((atomic_load(&t->up) && !t->held_us) || t->conflict || id->sectors <= t->ident.sectors ||
      strcmp(id->serial, t->ident.serial))
    return 0;
  aoe_log(ini, AOE_LOG_INFO, "e%u.%u: comes back with %llu sectors, %llu before: its disk "
          "grew", t->shelf, t->slot, (unsigned long long)id->sectors,
          (unsigned long long)t->ident.sectors);
  t->ident.sectors = id->sectors;
  return 1;
}

/* T is up.  Its frames start small while a path's MTU probe has not passed: the line says
 * so, and the size they grow to, lest "2 sectors per frame" read as an MTU set wrong
 * (mtu_probe_done says when they grow). */
static void log_up(struct aoe_initiator *ini, struct aoe_target *t)
{
  unsigned probed = target_probed_scnt(t);
  char until[96] = "";
  if (probed > t->scnt)
    snprintf(until, sizeof until, " until a frame of %u is answered (the MTU probe)", probed);
  aoe_log(ini, AOE_LOG_INFO, "e%u.%u: up: %llu sectors, serial '%s', %u sectors per frame%s",
          t->shelf, t->slot, (unsigned long long)t->ident.sectors, t->ident.serial, t->scnt,
          until);
}

static void identify_result(struct aoe_initiator *ini, struct aoe_target *t,
                            struct aoe_path *p, const struct aoe_ident *id)
{
  char mac[18];
  mac_str(p->mac, mac);
  if (t->identified && (id->sectors != t->ident.sectors || strcmp(id->serial, t->ident.serial))
      && !disk_grew(ini, t, id)) {
    if (!t->st.reads && !t->st.writes && !t->st.flushes) {
      /* Two disks answer as this shelf.slot before we ever used either: nothing says
       * which one is real, so use neither. */
      t->conflict = 1;
      atomic_store(&t->up, 0);
      aoe_set_error(t, "e%u.%u: two shelves answer as e%u.%u with different disks (%s via "
                    "%s: %llu sectors, serial '%s'; the other: %llu sectors, serial '%s'): "
                    "using neither; give one another shelf.slot", t->shelf, t->slot,
                    t->shelf, t->slot, mac, p->ifc->name, (unsigned long long)id->sectors,
                    id->serial, (unsigned long long)t->ident.sectors, t->ident.serial);
      aoe_log(ini, AOE_LOG_ERROR, "%s", t->last_error);
    }
    p->state = PATH_REJECTED;
    p->up = 0;
    t->st.unexpected++;
    if (t->held_us)
      aoe_log(ini, AOE_LOG_WARN, "e%u.%u: held, answers again with another disk: its held "
              "I/O is not sent to it (declared down when the hold time runs out)",
              t->shelf, t->slot);
    aoe_log(ini, AOE_LOG_WARN,
            "e%u.%u: %s via %s answers with %llu sectors, serial '%s', unlike the shelf "
            "(%llu sectors, serial '%s'): not accepted as a path (impostor or misconfigured "
            "shelf address?)", t->shelf, t->slot, mac, p->ifc->name,
            (unsigned long long)id->sectors, id->serial,
            (unsigned long long)t->ident.sectors, t->ident.serial);
    return;
  }
  if (!t->identified) {
    t->ident = *id;
    aoe_lru_remove(ini, t);
    t->identified = 1;
    aoe_lru_touch(ini, t);
    t->flush_cmd = id->lba48 && id->flush_ext ? ATA_FLUSH_EXT : ATA_FLUSH;
  }
  atomic_store(&t->write_cache, id->write_cache);    /* set again after a restart */
  int new_path = p->state != PATH_ACTIVE;
  p->state = PATH_ACTIVE;
  if (new_path)
    p->scnt_ok = 0;     /* new, or back from down (its route may have changed): probed anew */
  if (t->held_us && ini->opt.may_resume && ini->opt.proof_sectors) {
    queue_proof(ini, t, p);     /* up once its disk is proved the held one (proof_done) */
    return;
  }
  path_up(ini, t, p);
  target_update_scnt(t);
  if (t->held_us) {
    target_unhold(ini, t, aoe_clock_us(ini));
    return;
  }
  /* A path found after we reserved the shelf: the list lacks its interface (when it is
   * not one of the others'), and the shelf would refuse its I/O with error 6, taken for a
   * takeover.  Re-asserted with it before its I/O goes (the hold). */
  if (new_path && atomic_load(&t->up) && t->reserved && t->claimed && !ini->rr_taken) {
    aoe_log(ini, AOE_LOG_INFO, "e%u.%u: new path via %s %s: adding it to our reservation",
            t->shelf, t->slot, p->ifc->name, mac);
    if (!t->rr_lost_us)
      t->rr_lost_us = aoe_clock_us(ini);
  }
  if (!atomic_load(&t->up) && !t->conflict) {
    atomic_store(&t->up, 1);
    t->st.up_events++;
    atomic_fetch_add(&t->up_spells, 1);
    t->last_heard_us = aoe_clock_us(ini);
    log_up(ini, t);
    if (t->reserved) {
      t->rr_lost_us = 0;        /* lost anew: its hold counts from now, not an old loss */
      rr_mark_lost(ini, t, t->last_heard_us, NULL);
    }
  }
}

/* The reservation list for R: our interfaces' MACs on T's accepted paths. */
void aoe_req_our_macs(struct aoe_target *t, struct aoe_req *r)
{
  for (size_t i = 0; i < t->npaths && r->nmacs < AOE_MAX_PATHS; i++) {
    const struct aoe_path *p = &t->paths[i];
    int dup = 0;
    if (p->state != PATH_ACTIVE)
      continue;
    for (unsigned j = 0; j < r->nmacs; j++)
      dup |= !memcmp(r->macs[j], p->ifc->mac, 6);
    if (!dup)
      memcpy(r->macs[r->nmacs++], p->ifc->mac, 6);
  }
}

/* ---- reservations kept ------------------------------------------------------------- */

/* vblade keeps its reservation list in memory only: restarted, a shelf is open to every
 * host, and a restart quicker than the dead time is never seen as the shelf going down.
 * So every target we hold is checked: its list is read every keepalive interval by a
 * probe (a Reserve/Release read sent raw to each usable path, as a keepalive is: not I/O,
 * no frame slot, no retransmit), at once when a responder announces itself (it just
 * started, or the frame is forged: rr_check_announce), and a responder that comes back
 * from down is taken to have forgotten us at once.  A responder listing
 * nobody has forgotten us (RR_LOST): our reservation is re-asserted, but only once every
 * other target of our claim has been read since and none is held by another host: a head
 * that hung while another took its shelves over, then resumed after one of them restarted,
 * must not take that one back.  One listing another host (RR_TAKEN), a re-assert refused,
 * or AoE error 6 on I/O, means the claim was taken: nothing is re-asserted any more, and
 * no I/O goes to a claimed target that does not hold our reservation (fail_claimed_io).
 * Residual window: between a restart and our re-assert (two round trips after the
 * announce; a check interval when the announce is lost) the shelf takes any host's
 * writes. */

enum rr_verdict rr_judge(const struct rr_result *res)
{
  if (res->foreign)
    return RR_TAKEN;
  if (!res->replies)
    return RR_UNKNOWN;
  return res->without_us ? RR_LOST : RR_HELD;
}

static uint64_t rr_interval_us(const struct aoe_initiator *ini)
{
  return 1000ull * aoe_keepalive_interval_ms(ini->opt.dead_time_ms);
}

/* Another host holds T (HOLDER: its MAC, NULL when unknown). */
static void rr_set_taken(struct aoe_initiator *ini, struct aoe_target *t, const uint8_t *holder)
{
  char mac[18];
  t->reserved = 0;
  t->rr_lost_us = 0;
  if (!t->claimed || ini->rr_taken)
    return;
  ini->rr_taken = 1;
  ini->rr_taken_t = t;
  if (holder)
    mac_str(holder, mac);
  snprintf(ini->rr_taken_by, sizeof ini->rr_taken_by, "e%u.%u is now reserved by %s",
           t->shelf, t->slot, holder ? mac : "another host");
  aoe_log(ini, AOE_LOG_WARN, "%s: our reservations were taken over; nothing is re-asserted, "
          "no I/O goes to a shelf that lost ours", ini->rr_taken_by);
}

static void rr_mark_lost(struct aoe_initiator *ini, struct aoe_target *t, uint64_t now,
                         const char *why)
{
  if (!t->claimed || !t->reserved)
    return;
  if (t->rr_lost_us || ini->rr_taken)
    ;                           /* said, or never re-asserted: its I/O fails unsent */
  else if (!why)
    aoe_log(ini, AOE_LOG_INFO, "e%u.%u: came back: re-asserting our reservation", t->shelf,
            t->slot);
  else
    aoe_log(ini, AOE_LOG_WARN, "e%u.%u: %s: the shelf forgot our reservation; re-asserting it",
            t->shelf, t->slot, why);
  if (!t->rr_lost_us || now < t->rr_lost_us)
    t->rr_lost_us = now ? now : 1;
}

/* T's responder announced itself: it may have restarted and forgotten us, or the frame is
 * forged (any host can send one with the shelf's MAC).  Its list is read at once rather
 * than taken as lost: a restart costs one round trip more before our re-assert, a forged
 * announce one read, never held I/O.  A read or re-assert already out may have been
 * answered before the restart: another read follows it (rr_after_announce). */
static void rr_check_announce(struct aoe_initiator *ini, struct aoe_target *t, uint64_t now)
{
  aoe_log(ini, AOE_LOG_DEBUG, "e%u.%u: announced itself (restarted?): reading its reservation "
          "list", t->shelf, t->slot);
  t->rr_announce_us = now ? now : 1;
  if (!t->rr_busy)
    t->rr_next_us = now;
}

/* A read or re-assert of T sent at SENT is done: if an announce came after it was sent,
 * the list is read again at once (its answer may predate a restart). */
static void rr_after_announce(struct aoe_target *t, uint64_t sent, uint64_t now)
{
  if (t->rr_announce_us && sent < t->rr_announce_us)
    t->rr_next_us = now;
}

struct rr_check {
  struct aoe_target *t;
  uint64_t queued_us;
  struct rr_result res;
};

static void rr_done(void *opaque, int err);

/* Queue our re-assert (a Reserve/Release set with our MACs) on T: a request, retransmitted
 * as I/O is, until every path answered. */
static void rr_reassert(struct aoe_target *t, uint64_t now)
{
  struct rr_check *c = calloc(1, sizeof *c);
  struct aoe_req *r = c ? aoe_req_new(t, REQ_RESERVE, rr_done, c) : NULL;
  if (!r) {
    free(c);
    return;
  }
  c->t = t;
  c->queued_us = now;
  r->rcmd = AOE_RCMD_SET;
  r->rr = &c->res;
  aoe_req_our_macs(t, r);
  t->rr_busy = 1;
  /* first in the queue: the I/O held for it (rr_hold) waits behind it */
  r->next = t->q_head;
  t->q_head = r;
  if (!t->q_tail)
    t->q_tail = r;
}

/* Read T's reservation list: a probe to every usable path. */
static void rr_probe_send(struct aoe_initiator *ini, struct aoe_target *t, uint64_t now)
{
  _Static_assert(AOE_MAX_PATHS <= 8 * sizeof(unsigned), "a bit per path");
  const int *trace = ini->opt.trace_frames;
  uint8_t frame[AOE_MIN_FRAME];
  struct aoe_msg m;

  t->rr_probe_seq = (t->rr_probe_seq + 1) & 0x3fffffffu;
  t->rr_probe_tag = AOE_RR_PROBE_TAG | t->rr_probe_seq;
  t->rr_probe_us = now;
  t->rr_probe_sent = t->rr_probe_got = 0;
  memset(&t->rr_probe, 0, sizeof t->rr_probe);
  for (size_t i = 0; i < t->npaths; i++) {
    struct aoe_path *p = &t->paths[i];
    if (!path_usable(p))
      continue;
    memset(&m, 0, sizeof m);
    memcpy(m.h.dst, p->mac, 6);
    memcpy(m.h.src, p->ifc->mac, 6);
    m.h.shelf = (uint16_t)t->shelf;
    m.h.slot = (uint8_t)t->slot;
    m.h.cmd = AOE_CMD_RESERVE;
    m.h.tag = t->rr_probe_tag;
    m.u.rr.rcmd = AOE_RCMD_READ;
    size_t len = aoe_encode(frame, sizeof frame, &m);
    t->rr_probe_sent |= 1u << i;
    if (trace && *trace) {
      char mac[18];
      mac_str(p->mac, mac);
      aoe_log(ini, AOE_LOG_DEBUG, "tx e%u.%u reservation read tag %08x via %s %s", t->shelf,
              t->slot, t->rr_probe_tag, p->ifc->name, mac);
    }
    if (!len || aoe_net_send(p->ifc, frame, len) < 0)
      p->st.errors++;     /* like a lost frame: judged unanswered, asked again */
  }
  t->rr_busy = t->rr_probe_sent != 0;
  if (!t->rr_busy) {
    t->rr_probe_tag = 0;
    t->rr_next_us = now + rr_interval_us(ini);
  }
}

/* T's probe is over: every path answered (COMPLETE), or its time ran out.  What the
 * answers say: see rr_judge. */
static void rr_probe_finish(struct aoe_initiator *ini, struct aoe_target *t, uint64_t now,
                            int complete)
{
  enum rr_verdict v = rr_judge(&t->rr_probe);
  uint64_t sent = t->rr_probe_us;

  t->rr_probe_tag = 0;
  t->rr_busy = 0;
  if (v == RR_HELD && !complete)
    v = RR_UNKNOWN;             /* a path that did not answer may list another host */
  /* Unknown: asked again soon (a path down is the keepalives' to find). */
  t->rr_next_us = now + (v == RR_UNKNOWN ? 1000ull * AOE_RR_PROBE_TIMEOUT_MS
                                         : rr_interval_us(ini));
  if (sent < ini->rr_stall_us)
    t->rr_next_us = now;        /* sent before a stall: its I/O waits for one sent since */
  rr_after_announce(t, sent, now);
  if (v == RR_TAKEN) {
    rr_set_taken(ini, t, t->rr_probe.holder);
  } else if (v == RR_LOST && t->reserved) {
    t->rr_read_us = sent;
    rr_mark_lost(ini, t, sent, "its reservation list lacks us");
  } else if (v == RR_HELD && t->reserved) {
    t->rr_read_us = sent;
  }
}

/* An answer of path P to T's probe. */
static void rr_probe_reply(struct aoe_initiator *ini, struct aoe_target *t, struct aoe_path *p,
                           const struct aoe_msg *m, uint64_t now)
{
  unsigned bit = 1u << (p - t->paths);
  if (!t->rr_probe_tag || m->h.tag != t->rr_probe_tag || !(t->rr_probe_sent & bit) ||
      (t->rr_probe_got & bit) || (m->h.flags & AOE_FLAG_ERR)) {
    p->st.unexpected++;
    return;
  }
  p->st.frames_recv++;
  /* An answer is life for the path, as a keepalive's is, but not an answer to the I/O
   * in flight: the shelf's dead time runs on those alone (see on_config). */
  p->last_heard_us = now;
  t->rr_probe_got |= bit;
  /* The responder refuses this path's I/O (error 6, taken for a takeover) unless its
   * list names this path's interface: one naming only our others (the path was found
   * after we reserved) has not got our reservation whole, and it is re-asserted. */
  int ours = 0, this_if = 0;
  for (unsigned i = 0; i < m->u.rr.nmacs; i++) {
    const uint8_t *mac = m->u.rr.macs + 6 * i;
    ours |= aoe_local_mac(ini, mac);
    this_if |= !memcmp(mac, p->ifc->mac, 6);
  }
  rr_tally(ini, &t->rr_probe, &m->u.rr);
  if (ours && !this_if)
    t->rr_probe.without_us++;
  if (t->rr_probe_got == t->rr_probe_sent) {
    rr_probe_finish(ini, t, now, 1);
    rr_progress(ini, now);
  }
}

/* Is T kept: reserved by us, claimed, up, and our claim not taken? */
static int rr_kept(const struct aoe_initiator *ini, const struct aoe_target *t)
{
  return t->claimed && t->reserved && atomic_load(&t->up) && !t->held_us && !ini->rr_taken &&
         !atomic_load(&ini->closing);
}

/* May the lost T be re-asserted: has every other target we keep been read by a read sent
 * after T was found lost, none found taken (rr_taken would be set)?  Asks those not read
 * since.  Strictly after: a read sent in the same microsecond is not. */
static int rr_claim_intact(struct aoe_initiator *ini, struct aoe_target *t, uint64_t now)
{
  int intact = 1;
  for (size_t i = 0; i < ini->ntargets; i++) {
    struct aoe_target *u = ini->targets[i];
    if (u == t || !rr_kept(ini, u) || u->rr_read_us > t->rr_lost_us)
      continue;
    intact = 0;
    if (!u->rr_busy && u->rr_next_us > now)
      u->rr_next_us = now;
  }
  return intact;
}

/* How long T's probe waits for its answers: AOE_RR_PROBE_TIMEOUT_MS, or as long as a
 * frame of T's slowest usable path does (its rto): a slow shelf (a loaded disk behind a
 * single-threaded vblade) answers every read late, and a read always judged unanswered
 * would hold I/O for the dead time after a stall, and never let a restarted shelf be
 * re-asserted. */
static uint64_t rr_probe_timeout_us(const struct aoe_target *t)
{
  uint64_t us = 1000ull * AOE_RR_PROBE_TIMEOUT_MS;
  for (size_t i = 0; i < t->npaths; i++)
    if ((t->rr_probe_sent & 1u << i) && t->paths[i].rtt.rto_us > us)
      us = t->paths[i].rtt.rto_us;
  return us;
}

/* Judge probes whose time ran out, re-assert every lost target whose claim is known
 * intact, probe the targets due; returns when the next is due. */
static uint64_t rr_progress(struct aoe_initiator *ini, uint64_t now)
{
  uint64_t next = UINT64_MAX;
  for (size_t i = 0; i < ini->ntargets; i++) {
    struct aoe_target *t = ini->targets[i];
    if (t->rr_probe_tag && (now >= t->rr_probe_us + rr_probe_timeout_us(t) ||
                            !atomic_load(&t->up)))
      rr_probe_finish(ini, t, now, 0);
  }
  for (size_t i = 0; i < ini->ntargets; i++) {
    struct aoe_target *t = ini->targets[i];
    if (!rr_kept(ini, t) || t->rr_busy)
      continue;
    if (t->rr_lost_us && now < t->rr_retry_us) {
      if (t->rr_retry_us < next)
        next = t->rr_retry_us;
    } else if (t->rr_lost_us && rr_claim_intact(ini, t, now)) {
      rr_reassert(t, now);
    }
  }
  for (size_t i = 0; i < ini->ntargets; i++) {
    struct aoe_target *t = ini->targets[i];
    if (!rr_kept(ini, t))
      continue;
    /* a lost one too: it may be found taken, and a read of it counts for the others */
    if (!t->rr_busy && now >= t->rr_next_us)
      rr_probe_send(ini, t, now);
    uint64_t due = t->rr_probe_tag ? t->rr_probe_us + rr_probe_timeout_us(t)
                 : t->rr_busy ? UINT64_MAX : t->rr_next_us;
    if (due < next)
      next = due;
  }
  return next;
}

/* Our re-assert is answered (or failed: the shelf went down, the initiator closes). */
static void rr_done(void *opaque, int err)
{
  struct rr_check *c = opaque;
  struct aoe_target *t = c->t;
  struct aoe_initiator *ini = t->ini;
  enum rr_verdict v = rr_judge(&c->res);

  pthread_mutex_lock(&ini->lock);
  uint64_t now = aoe_clock_us(ini);
  t->rr_busy = 0;
  t->rr_next_us = now + rr_interval_us(ini);
  if (c->queued_us < ini->rr_stall_us)
    t->rr_next_us = now;        /* sent before a stall: its I/O waits for a read sent since */
  rr_after_announce(t, c->queued_us, now);
  if (v == RR_TAKEN) {
    rr_set_taken(ini, t, c->res.holder);        /* refused: another host got there first */
  } else if (!err && v == RR_HELD && t->reserved) {
    if (t->rr_lost_us)
      aoe_log(ini, AOE_LOG_INFO, "e%u.%u: our reservation is re-asserted", t->shelf, t->slot);
    t->rr_lost_us = 0;
    t->rr_read_us = c->queued_us;
  } else {
    t->rr_retry_us = now + 1000ull * AOE_RR_PROBE_TIMEOUT_MS;  /* not round trip after
                                                                   round trip */
  }
  if (!atomic_load(&ini->closing))
    rr_progress(ini, now);
  pthread_mutex_unlock(&ini->lock);
  free(c);
  aoe_wake(ini);
}

/* Our claim was taken, and T does not hold our reservation (it forgot it, or another
 * host holds it): what is queued for it fails with EBADE, unsent.  A restarted shelf
 * would take it; a taken one would refuse it the same way.  The targets still ours get
 * their I/O (the caller stops at its first EBADE: raid/ fences on it). */
static void fail_claimed_io(struct aoe_initiator *ini, struct aoe_target *t)
{
  struct aoe_req *next;
  for (struct aoe_req *r = t->q_head; r; r = next) {
    next = r->next;
    if (r->kind == REQ_RESERVE || r->kind == REQ_IDENTIFY)
      continue;
    aoe_set_error(t, "e%u.%u: %s not sent: %s, another host: our reservations were taken "
                  "over", t->shelf, t->slot, kind_name(r->kind), ini->rr_taken_by);
    req_fail(ini, r, EBADE);
  }
}

/* Must T's I/O wait?  While T forgot our reservation and it is not re-asserted yet, and
 * after a stall (the initiator resumed from being stopped) until a read sent since says T
 * is still ours: a shelf that restarted meanwhile would take writes from anyone, and our
 * claim may have been taken.  Never longer than the dead time: a hold is not a hang. */
static int rr_hold(const struct aoe_initiator *ini, const struct aoe_target *t, uint64_t now)
{
  if (!t->claimed || !t->reserved || ini->rr_taken)
    return 0;
  uint64_t since = t->rr_lost_us;
  if (ini->rr_stall_us && t->rr_read_us < ini->rr_stall_us &&
      (!since || ini->rr_stall_us < since))
    since = ini->rr_stall_us;
  return since && now - since < 1000ull * ini->opt.dead_time_ms;
}

/* Did the initiator just resume from a stall (see AOE_RR_STALL_MS)?  Then every target
 * we hold is read now, and its I/O held until then (rr_hold). */
static void rr_resumed(struct aoe_initiator *ini, uint64_t now)
{
  uint64_t last = ini->last_step_us;
  ini->last_step_us = now;
  if (!last || now - last < 1000ull * AOE_RR_STALL_MS || ini->rr_taken)
    return;
  int held = 0;
  for (size_t i = 0; i < ini->ntargets; i++) {
    struct aoe_target *t = ini->targets[i];
    if (!t->claimed || !t->reserved)
      continue;
    held = 1;
    if (!t->rr_busy)
      t->rr_next_us = now;
  }
  if (!held)
    return;
  ini->rr_stall_us = now;
  aoe_log(ini, AOE_LOG_WARN, "the initiator did not run for %llu ms (stopped?): I/O to the "
          "shelves we reserved waits until their reservations are read",
          (unsigned long long)((now - last) / 1000));
}

/* ---- receive ----------------------------------------------------------------------- */

struct rx_ctx {
  struct aoe_initiator *ini;
  struct aoe_iface *ifc;
  uint64_t now;
};

static size_t bucket_of(unsigned shelf, unsigned slot)
{
  uint32_t key = (uint32_t)shelf << 8 | (slot & 0xff);
  return (key * 2654435761u) >> 20 & (AOE_TARGET_BUCKETS - 1);   /* Fibonacci hashing */
}
_Static_assert(AOE_TARGET_BUCKETS == 1u << 12, "bucket_of keeps 12 bits");

struct aoe_target *aoe_target_lookup(struct aoe_initiator *ini, unsigned shelf, unsigned slot)
{
  for (struct aoe_target *t = ini->buckets[bucket_of(shelf, slot)]; t; t = t->hnext)
    if (t->shelf == shelf && t->slot == slot)
      return t;
  return NULL;
}

/* Where a target's tags start.  Two initiators on one interface (two arrays served from
 * one head) both receive every reply to its MAC, and one's scan reads the other's shelves:
 * counting from 0 in both, their frames to one shelf would carry the same tags, and a
 * reply to the other's read of a sector could complete our write of it.  A start of its
 * own per process and target (time, pid) keeps their tags apart. */
static uint32_t tag_base(unsigned shelf, unsigned slot)
{
  uint64_t z = aoe_now_us() ^ (uint64_t)getpid() << 32 ^ (uint64_t)shelf << 8 ^ slot;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return (uint32_t)(z ^ (z >> 31));
}

/* May T be evicted: nobody can hold its pointer or is waiting on it?  Never handed to a
 * caller, not part of our claim, no request of a caller's or reservation work queued or
 * in flight, and no frame of ours still on the wire for it (a fenced write).  An IDENTIFY
 * of a target never identified is ours alone: abandoned with it. */
static int target_evictable(const struct aoe_initiator *ini, const struct aoe_target *t)
{
  if (t->handed || t->claimed || t->reserved || t->rr_busy || t->rr_probe_tag || t->q_head ||
      t == ini->rr_taken_t)
    return 0;
  if (!t->identified)
    return 1;
  for (unsigned i = 0; i < t->hiwater; i++)
    if (t->frames[i].state != FRAME_FREE)
      return 0;
  return !t->ctl_head;
}

static int in_lru(const struct aoe_initiator *ini, const struct aoe_target *t)
{
  return t->lru_prev || t->lru_next || ini->lru[t->identified != 0].head == t;
}

void aoe_lru_remove(struct aoe_initiator *ini, struct aoe_target *t)
{
  if (!in_lru(ini, t))
    return;
  int l = t->identified != 0;
  if (t->lru_prev)
    t->lru_prev->lru_next = t->lru_next;
  else
    ini->lru[l].head = t->lru_next;
  if (t->lru_next)
    t->lru_next->lru_prev = t->lru_prev;
  else
    ini->lru[l].tail = t->lru_prev;
  t->lru_prev = t->lru_next = NULL;
}

/* Callers must remove T before its list changes (it is identified). */
void aoe_lru_touch(struct aoe_initiator *ini, struct aoe_target *t)
{
  if (t->handed)
    return;
  aoe_lru_remove(ini, t);
  int l = t->identified != 0;
  t->lru_prev = ini->lru[l].tail;
  if (t->lru_prev)
    t->lru_prev->lru_next = t;
  else
    ini->lru[l].head = t;
  ini->lru[l].tail = t;
}

void aoe_target_hand(struct aoe_initiator *ini, struct aoe_target *t)
{
  aoe_lru_remove(ini, t);
  t->handed = 1;
}

/* The target to evict: one never identified (made up, or gone before it answered) before
 * one that answered as a disk, each the one heard from longest ago.  NULL: all in use.
 * Targets handed to callers are in neither list: the walk meets only those that may be
 * busy for a moment (an IDENTIFY of a new path). */
static struct aoe_target *eviction_victim(struct aoe_initiator *ini)
{
  for (int l = 0; l < 2; l++)
    for (struct aoe_target *t = ini->lru[l].head; t; t = t->lru_next)
      if (target_evictable(ini, t))
        return t;
  return NULL;
}

/* Where shelf.slot is, or goes, in the ordered ini->targets. */
static size_t target_index(const struct aoe_initiator *ini, unsigned shelf, unsigned slot)
{
  uint32_t key = (uint32_t)shelf << 8 | slot;
  size_t lo = 0, hi = ini->ntargets;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const struct aoe_target *m = ini->targets[mid];
    if (((uint32_t)m->shelf << 8 | m->slot) < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static void target_unlink(struct aoe_initiator *ini, struct aoe_target *t)
{
  struct aoe_target **pp = &ini->buckets[bucket_of(t->shelf, t->slot)];
  while (*pp != t)
    pp = &(*pp)->hnext;
  *pp = t->hnext;
  aoe_lru_remove(ini, t);
  size_t i = target_index(ini, t->shelf, t->slot);
  memmove(&ini->targets[i], &ini->targets[i + 1], (ini->ntargets - i - 1) * sizeof ini->targets[0]);
  ini->ntargets--;
}

/* Drop T's IDENTIFYs (queued, or in flight: their frames go with T). */
static void target_forget_identifies(struct aoe_initiator *ini, struct aoe_target *t)
{
  for (struct aoe_req *r = t->ctl_head; r; r = r->next)
    ini->identifying -= !req_probe(r);
  for (unsigned i = 0; i < t->hiwater; i++) {
    struct aoe_req *r = t->frames[i].req;
    if (t->frames[i].state == FRAME_INFLIGHT && r && r->kind == REQ_IDENTIFY && !r->completed
        && !req_probe(r))
      ini->identifying--;
  }
}

/* One line, at most every AOE_TABLE_FULL_LOG_MS for each of EVICTED or not, for what the
 * full table cost: a flood of made-up addresses must not become a flood of log lines, nor
 * hide that an address could not be tracked at all. */
static void table_full_log(struct aoe_initiator *ini, struct aoe_iface *ifc, const uint8_t *src,
                           unsigned shelf, unsigned slot, int evicted, uint64_t now)
{
  char mac[18];
  uint64_t *logged = &ini->table_full_logged_us[evicted != 0];
  if (*logged && now - *logged < AOE_TABLE_FULL_LOG_MS * 1000ull)
    return;
  *logged = now;
  mac_str(src, mac);
  aoe_log(ini, AOE_LOG_WARN, "interface %s: the AoE target table is full (%d shelf.slot "
          "addresses; %llu unused evicted, %llu new not tracked so far): e%u.%u from %s %s; "
          "more shelves answer than aoeraid tracks, or a host floods the SAN with made-up "
          "Query Config replies: find its MAC with tcpdump -e -i %s ether proto 0x88a2 "
          "(said at most once a minute)", ifc->name, AOE_MAX_TARGETS,
          (unsigned long long)ini->st.targets_evicted,
          (unsigned long long)ini->st.targets_refused, shelf, slot, mac,
          evicted ? "took the place of an unused target" : "is not tracked: every target is in use",
          ifc->name);
}

/* Room in the table for one more target: grown, or at AOE_MAX_TARGETS an unused target
 * evicted (see target_evictable).  0, or -1 when there is none. */
static int target_make_room(struct aoe_initiator *ini, struct aoe_iface *ifc, const uint8_t *src,
                            unsigned shelf, unsigned slot, uint64_t now)
{
  if (ini->ntargets < ini->targets_cap)
    return 0;
  if (ini->targets_cap < AOE_MAX_TARGETS) {
    size_t cap = ini->targets_cap ? 2 * ini->targets_cap : 64;
    if (cap > AOE_MAX_TARGETS)
      cap = AOE_MAX_TARGETS;
    struct aoe_target **targets = realloc(ini->targets, cap * sizeof *targets);
    if (!targets)
      return -1;
    ini->targets = targets;
    ini->targets_cap = cap;
    return 0;
  }
  struct aoe_target *victim = eviction_victim(ini);
  if (!victim) {
    ini->st.targets_refused++;
    table_full_log(ini, ifc, src, shelf, slot, 0, now);
    return -1;
  }
  ini->st.targets_evicted++;
  table_full_log(ini, ifc, src, shelf, slot, 1, now);
  if (victim->identified)
    aoe_log(ini, AOE_LOG_INFO, "e%u.%u: evicted from the full target table (unused, heard "
            "from %llu ms ago) for e%u.%u", victim->shelf, victim->slot,
            (unsigned long long)((now - victim->seen_us) / 1000), shelf, slot);
  /* a frame of it still queued for sendmmsg would name its path to tx_failed */
  tx_flush(ini);
  target_unlink(ini, victim);
  target_forget_identifies(ini, victim);
  aoe_target_free(victim);
  return 0;
}

void aoe_target_free(struct aoe_target *t)
{
  while (t->ctl_head) {
    struct aoe_req *c = t->ctl_head;
    t->ctl_head = c->next;
    free(c);
  }
  for (unsigned j = 0; j < t->hiwater; j++)
    if (t->frames[j].state != FRAME_FREE && t->frames[j].req &&
        t->frames[j].req->kind == REQ_IDENTIFY)
      free(t->frames[j].req);
  free(t->frames);
  free(t->freelist);
  free(t->config);
  aoe_claim_drop(t);
  free(t);
}

static struct aoe_target *target_create(struct aoe_initiator *ini, struct aoe_iface *ifc,
                                        const uint8_t *src, unsigned shelf, unsigned slot,
                                        uint64_t now)
{
  if (target_make_room(ini, ifc, src, shelf, slot, now) < 0)
    return NULL;
  struct aoe_target *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->ini = ini;
  t->shelf = shelf;
  t->slot = slot;
  t->taggen = tag_base(shelf, slot);
  /* Keep the list ordered by shelf.slot. */
  size_t pos = target_index(ini, shelf, slot);
  memmove(&ini->targets[pos + 1], &ini->targets[pos], (ini->ntargets - pos) * sizeof ini->targets[0]);
  ini->targets[pos] = t;
  ini->ntargets++;
  size_t b = bucket_of(shelf, slot);
  t->hnext = ini->buckets[b];
  ini->buckets[b] = t;
  aoe_lru_touch(ini, t);
  return t;
}

static struct aoe_path *path_lookup(struct aoe_target *t, const struct aoe_iface *ifc,
                                    const uint8_t *mac)
{
  for (size_t i = 0; i < t->npaths; i++)
    if (t->paths[i].ifc == ifc && !memcmp(t->paths[i].mac, mac, 6))
      return &t->paths[i];
  return NULL;
}

/* T's config string: most shelves have none, so none is kept (NULL) for them. */
static void target_set_config(struct aoe_target *t, const uint8_t *str, size_t len)
{
  if (!len || (t->config && strlen(t->config) == len && !memcmp(t->config, str, len))) {
    if (!len) {
      free(t->config);
      t->config = NULL;
    }
    return;
  }
  char *config = realloc(t->config, len + 1);
  if (!config)
    return;
  memcpy(config, str, len);
  config[len] = '\0';
  t->config = config;
}

static void on_config(struct aoe_initiator *ini, struct aoe_iface *ifc,
                      const struct aoe_msg *m, uint64_t now)
{
  if (m->h.shelf == 0xffff || m->h.slot == 0xff || (m->h.flags & AOE_FLAG_ERR))
    return;
  struct aoe_target *t = aoe_target_lookup(ini, m->h.shelf, m->h.slot);
  if (!t && !(t = target_create(ini, ifc, m->h.src, m->h.shelf, m->h.slot, now)))
    return;
  t->seen_us = now;
  aoe_lru_touch(ini, t);
  struct aoe_path *p = path_lookup(t, ifc, m->h.src);
  if (!p) {
    if (t->npaths >= AOE_MAX_PATHS)
      return;
    p = &t->paths[t->npaths++];
    memset(p, 0, sizeof *p);
    p->ifc = ifc;
    memcpy(p->mac, m->h.src, 6);
    p->state = PATH_CANDIDATE;
    snprintf(p->st.iface, sizeof p->st.iface, "%s", ifc->name);
    memcpy(p->st.mac, p->mac, 6);
  }
  if (p->state == PATH_REJECTED || t->conflict)
    return;
  /* Unsolicited: a Query Config reply to nobody (broadcast, or vblade's version-0
   * announce): the responder just started, with an empty reservation list. */
  if ((m->h.version == 0 || !memcmp(m->h.dst, broadcast_mac, 6)) && p->state == PATH_ACTIVE &&
      t->reserved && atomic_load(&t->up))
    rr_check_announce(ini, t, now);
  p->bufcnt = m->u.cfg.bufcnt ? m->u.cfg.bufcnt : 1;
  p->cfg_scnt = m->u.cfg.scnt;
  p->last_heard_us = now;
  t->firmware = m->u.cfg.firmware;
  target_set_config(t, m->u.cfg.str, m->u.cfg.len);
  /* Not t->last_heard_us: a shelf that answers Query Config (small frames) but not the
   * I/O in flight (its frames lost, too big for a link on the way, its disk hung) must
   * still be declared down after the dead time; counted as an answer, the periodic
   * discovery (or a reservation read) kept it up and its I/O waiting for ever. */
  if (p->state == PATH_ACTIVE) {
    aoe_window_set_max(&p->win, p->bufcnt);
    target_update_scnt(t);
    if ((!atomic_load(&t->up) || t->held_us) && !p->proving)
      p->state = PATH_CANDIDATE;        /* back from down or held: IDENTIFY it again */
    else if (!p->up)
      path_up(ini, t, p);
  }
  if (p->state == PATH_CANDIDATE && !p->identifying)
    queue_identify(ini, t, p);
}

/* Is a read or write reply about the sectors the frame asked for?  Its LBA is the one
 * asked (a target that echoes it), the last sector (an ATA disk's registers after the
 * command) or the one after (vblade adds the sectors done); any other is an answer to
 * another request (a misdirected or forged reply) and must not complete this one. */
static int reply_lba_matches(const struct aoe_frame *f, const struct aoe_msg *m)
{
  uint64_t mask = f->aflags & AOE_AFLAG_LBA48 ? 0xffffffffffffull : 0x0fffffffull;
  uint64_t got = m->u.ata.lba & mask;
  return got == (f->lba & mask) || got == ((f->lba + f->nsect - 1) & mask) ||
         got == ((f->lba + f->nsect) & mask);
}

/* Does a reply answer the frame: its sectors, and for a read the data asked for?  One
 * that does not is counted and dropped, leaving the frame to its retransmit timer.
 * (vblade's reply sector count holds the sectors remaining, so the length comes from our
 * own request.) */
static int reply_complete(const struct aoe_frame *f, const struct aoe_msg *m)
{
  if ((m->h.flags & AOE_FLAG_ERR) || f->cmd != AOE_CMD_ATA || !f->nsect)
    return 1;
  if (f->ata_cmd != ATA_IDENTIFY && !reply_lba_matches(f, m))
    return 0;
  if (f->write || (m->u.ata.cmdstat & ATA_STATUS_FAIL))
    return 1;
  return m->u.ata.datalen >= (size_t)f->nsect * AOE_SECTOR;
}

/* Outcome of an answered ATA frame for its request: 0, or an errno with a message. */
static int ata_result(struct aoe_initiator *ini, struct aoe_target *t, struct aoe_frame *f,
                      const struct aoe_msg *m)
{
  struct aoe_req *r = f->req;
  const struct aoe_ata *a = &m->u.ata;
  if (!(a->cmdstat & ATA_STATUS_FAIL)) {
    if (r->kind == REQ_READ || r->proof)
      memcpy(r->buf + (size_t)f->off * AOE_SECTOR, a->data, (size_t)f->nsect * AOE_SECTOR);
    else if (r->kind == REQ_IDENTIFY && !req_probe(r)) {
      struct aoe_ident id;
      aoe_ident_parse(a->data, &id);
      identify_result(ini, t, f->path, &id);
    }
    return 0;
  }
  if (r->kind == REQ_FLUSH && (a->feature & ATA_ERR_ABRT)) {
    /* An aborted flush means the command is unsupported, not that data was lost. */
    aoe_log(ini, AOE_LOG_INFO, "e%u.%u: FLUSH CACHE%s aborted: the shelf does not support it%s",
            t->shelf, t->slot, t->flush_cmd == ATA_FLUSH_EXT ? " EXT" : "",
            t->flush_cmd == ATA_FLUSH_EXT ? "; using FLUSH CACHE" : "; flush is a no-op");
    t->flush_cmd = t->flush_cmd == ATA_FLUSH_EXT ? ATA_FLUSH : 0;
    return 0;
  }
  aoe_set_error(t, "e%u.%u: ATA %s of %u sectors at LBA %llu failed: status 0x%02x error "
                "0x%02x%s", t->shelf, t->slot, kind_name(r->kind), f->nsect,
                (unsigned long long)f->lba, a->cmdstat, a->feature,
                (a->feature & 0x10) ? " (IDNF: sector out of range)" :
                (a->feature & ATA_ERR_ABRT) && r->kind == REQ_WRITE ?
                " (ABRT: write refused; is the shelf read-only, vblade -r?)" :
                (a->feature & ATA_ERR_ABRT) ? " (ABRT: command aborted)" : "");
  return EIO;
}

/* Add one responder's reservation list RR to RES. */
static void rr_tally(struct aoe_initiator *ini, struct rr_result *res, const struct aoe_rr *rr)
{
  int ours = 0, foreign = 0;
  for (unsigned i = 0; i < rr->nmacs; i++) {
    const uint8_t *mac = rr->macs + 6 * i;
    int dup = 0;
    if (aoe_local_mac(ini, mac))
      ours = 1;
    else if (!foreign++ && !res->foreign)
      memcpy(res->holder, mac, 6);
    for (unsigned j = 0; j < res->nmacs; j++)
      dup |= !memcmp(res->macs[j], mac, 6);
    if (!dup && res->nmacs < AOE_MAX_HOLDERS)
      memcpy(res->macs[res->nmacs++], mac, 6);
  }
  res->replies++;
  res->without_us += !ours;
  res->foreign += foreign != 0;
}

static int rr_result(struct aoe_target *t, struct aoe_frame *f, const struct aoe_msg *m)
{
  if (f->req->rr)
    rr_tally(t->ini, f->req->rr, &m->u.rr);
  return 0;
}

/* Is TAG F's?  Its current tag; for an IDENTIFY (or MTU probe) also the tag of any earlier
 * transmission of it: its retries come every 20-160 ms, before a new path's RTT is known,
 * so a shelf slower than that (a busy disk, a far link) answered only tags already
 * replaced, and was never identified.  Asking the same, every answer is as good.  I/O
 * keeps to the current tag: a late answer to an old one may predate a newer write. */
static int tag_matches(const struct aoe_frame *f, uint32_t tag)
{
  if (tag == f->tag)
    return 1;
  if (!f->req || f->req->kind != REQ_IDENTIFY || (tag & 0xff) != (f->tag & 0xff) ||
      !(tag & 0x80000000u))
    return 0;
  /* Generations (bits 8-30) from the first transmission's to the current one's, modulo
   * their wrap; this slot was the frame's all along. */
  uint32_t sent = ((f->tag - f->tag0) >> 8) & 0x7fffffu;
  uint32_t age = ((tag - f->tag0) >> 8) & 0x7fffffu;
  return age <= sent;
}

/* The round trip a reply with TAG to F measures, or 0 when it is ambiguous.  Every
 * transmission has its own tag, so a reply to the current one times the last send even
 * after retransmits (as the Linux driver does: its tag carries its send time), and a late
 * answer to an IDENTIFY's first try times the first.  Answers to tries between are not
 * timed.  Without this, a shelf slower than the initial RTO never gave a sample before it
 * came up, and its first data frames were all sent twice. */
static uint64_t reply_rtt(const struct aoe_frame *f, uint32_t tag, uint64_t now)
{
  if (tag == f->tag)
    return now - f->sent_us;
  if (tag == f->tag0)
    return now - f->first_us;
  return 0;
}

static void path_rtt_sample(struct aoe_path *p, uint64_t rtt_us)
{
  aoe_rtt_sample(&p->rtt, rtt_us > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt_us);
  p->rtt_seed_us = p->rtt.srtt_us;
}

static void on_reply(struct aoe_initiator *ini, struct aoe_iface *ifc,
                     const struct aoe_msg *m, uint64_t now)
{
  struct aoe_target *t = aoe_target_lookup(ini, m->h.shelf, m->h.slot);
  if (!t) {
    ini->st.unknown_target++;
    return;
  }
  struct aoe_path *p = path_lookup(t, ifc, m->h.src);
  if (!p || p->state == PATH_REJECTED) {
    t->st.unexpected++;
    return;
  }
  if (m->h.cmd == AOE_CMD_RESERVE && (m->h.tag & 0xc0000000u) == AOE_RR_PROBE_TAG) {
    rr_probe_reply(ini, t, p, m, now);
    return;
  }
  if ((m->h.tag & 0xff) >= t->nframes) {
    p->st.unexpected++;         /* no frame of ours ever had that index */
    return;
  }
  struct aoe_frame *f = &t->frames[m->h.tag & 0xff];
  if (f->state != FRAME_INFLIGHT || !tag_matches(f, m->h.tag) || f->path != p ||
      f->cmd != m->h.cmd) {
    p->st.unexpected++;
    return;
  }
  if (!reply_complete(f, m)) {
    ini->st.rejected_count++;
    p->st.errors++;
    return;
  }
  p->st.frames_recv++;
  frame_trace(t, f, "rx", p);
  p->last_heard_us = now;
  p->timeouts_since_heard = 0;
  if (p->state == PATH_ACTIVE)
    t->last_heard_us = now;
  uint64_t rtt_us = reply_rtt(f, m->h.tag, now);
  if (rtt_us)
    path_rtt_sample(p, rtt_us);
  aoe_window_ack(&p->win);
  if (!p->up && p->state == PATH_ACTIVE && atomic_load(&t->up) && !t->held_us)
    path_up(ini, t, p);       /* a held shelf's path comes up identified (on_config) */
  frame_settle(t, f);
  struct aoe_req *r = f->req;
  if (!r) {
    frame_retire(t, f, now);
    return;
  }
  int err = 0;
  if (m->h.flags & AOE_FLAG_ERR) {
    err = aoe_error_errno(m->h.error);
    if (r->kind == REQ_RESERVE)
      rr_result(t, f, m);
    else if (m->h.error == AOE_ERR_RESERVED)
      rr_set_taken(ini, t, NULL);       /* another host holds it now: never re-assert ours */
    aoe_set_error(t, "e%u.%u: %s refused by the shelf: AoE error %u (%s)", t->shelf, t->slot,
                  kind_name(r->kind), m->h.error, aoe_error_name(m->h.error));
  } else if (f->cmd == AOE_CMD_ATA) {
    err = ata_result(ini, t, f, m);
  } else {
    err = rr_result(t, f, m);
  }
  r->inflight--;
  frame_retire(t, f, now);
  if (r->proof && !err && r->issued < r->nsect) {
    aoe_req_append(&t->ctl_head, &t->ctl_tail, r);     /* its next frame */
    return;
  }
  if (r->kind == REQ_IDENTIFY) {
    aoe_req_complete(ini, r, err);
    return;
  }
  if (err) {
    p->st.errors++;
    req_fail(ini, r, err);
  } else if (r->issued_all && !r->inflight) {
    aoe_req_complete(ini, r, 0);
  }
}

void aoe_engine_rx(struct aoe_initiator *ini, struct aoe_iface *ifc, const uint8_t *frame,
                   size_t len, uint64_t now)
{
  struct aoe_msg m;
  ini->st.frames_recv++;
  if (aoe_parse_counted(frame, len, 1, &m, ini->parse_counts) != AOE_PARSE_OK)
    return;
  if (m.h.cmd == AOE_CMD_CONFIG)
    on_config(ini, ifc, &m, now);
  else if (m.h.cmd == AOE_CMD_ATA || m.h.cmd == AOE_CMD_RESERVE)
    on_reply(ini, ifc, &m, now);
  else
    ini->st.unknown_target++;
}

static void rx_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
  struct rx_ctx *c = (struct rx_ctx *)user;
  aoe_engine_rx(c->ini, c->ifc, bytes, h->caplen, c->now);
}

/* ---- timers ------------------------------------------------------------------------ */

/* A path other than F's current one with room, for moving a frame off a silent path. */
static struct aoe_path *retransmit_path(struct aoe_target *t, struct aoe_frame *f)
{
  if (f->cmd != AOE_CMD_ATA || (f->req && f->req->kind == REQ_IDENTIFY))
    return f->path;             /* pinned to its responder */
  for (size_t i = 0; i < t->npaths; i++) {
    struct aoe_path *p = &t->paths[i];
    if (p != f->path && path_usable(p) && p->inflight < p->win.cwnd)
      return p;
  }
  return f->path;
}

/* An MTU probe unanswered: asked again, backing off on its own, until AOE_MTU_PROBE_TRIES.
 * Not a loss of the path's I/O (that flows at AOE_SAFE_SCNT meanwhile): its RTO, window
 * and silence are left alone, or a blackhole for big frames would take the path down. */
static void mtu_probe_timeout(struct aoe_initiator *ini, struct aoe_target *t,
                              struct aoe_frame *f, uint64_t now)
{
  if (f->retries + 1 >= AOE_MTU_PROBE_TRIES) {
    struct aoe_req *r = f->req;
    frame_settle(t, f);
    frame_free(t, f);
    aoe_req_complete(ini, r, ETIMEDOUT);
    return;
  }
  f->retries++;
  frame_send(t, f, now);
  f->deadline_us = now + ((uint64_t)f->path->rtt.rto_us << (f->retries < 3 ? f->retries : 3));
}

/* An IDENTIFY unanswered is asked again, backing off as any frame, and given up only the
 * dead time after its first try (AOE_IDENTIFY_MIN_WAIT_MS at least): the shelf's
 * controller answers Query Config at once, but IDENTIFY goes to its disk, which answers
 * in seconds while it spins up or serves another head (the Linux driver waits for it as
 * for any command, up to aoe_deadsecs).  An answer to any of its tries counts
 * (tag_matches).  When F gives up (UINT64_MAX: not an IDENTIFY). */
static uint64_t identify_gives_up(const struct aoe_initiator *ini, const struct aoe_frame *f)
{
  unsigned wait_ms = ini->opt.dead_time_ms;
  if (!f->req || f->req->kind != REQ_IDENTIFY)
    return UINT64_MAX;
  return f->first_us + 1000ull * (wait_ms > AOE_IDENTIFY_MIN_WAIT_MS ? wait_ms
                                                                    : AOE_IDENTIFY_MIN_WAIT_MS);
}

/* T's address answered Query Config, but not IDENTIFY within WAITED_MS: remembered for
 * aoe_identify_unanswered_ms (T itself is dropped: reap_unidentified). */
static void identify_note(struct aoe_initiator *ini, const struct aoe_target *t,
                          unsigned waited_ms)
{
  unsigned i = ini->identify_notes_next;
  for (unsigned j = 0; j < AOE_IDENTIFY_NOTES; j++)
    if (ini->identify_notes[j].waited_ms && ini->identify_notes[j].shelf == t->shelf &&
        ini->identify_notes[j].slot == t->slot)
      i = j;                    /* the same address again: one note */
  ini->identify_notes[i].shelf = t->shelf;
  ini->identify_notes[i].slot = t->slot;
  ini->identify_notes[i].waited_ms = waited_ms ? waited_ms : 1;
  if (i == ini->identify_notes_next)
    ini->identify_notes_next = (i + 1) % AOE_IDENTIFY_NOTES;
}

/* F's IDENTIFY went unanswered for the dead time: given up.  Said at debug level only: a
 * flood of made-up addresses gives up thousands; a discovery waiting for one says so
 * (aoe_discover), and its caller asks aoe_identify_unanswered_ms. */
static void identify_give_up(struct aoe_initiator *ini, struct aoe_target *t,
                             struct aoe_frame *f, uint64_t now)
{
  struct aoe_req *r = f->req;
  char mac[18];
  mac_str(f->path->mac, mac);
  unsigned waited_ms = (unsigned)((now - f->first_us) / 1000);
  if (!t->identified)
    identify_note(ini, t, waited_ms);
  aoe_log(ini, AOE_LOG_DEBUG, "e%u.%u: path %s via %s answered Query Config but not IDENTIFY "
          "within %u ms (%u tries; the dead time): given up until it answers discovery again",
          t->shelf, t->slot, mac, f->path->ifc->name, waited_ms, f->retries + 1);
  frame_settle(t, f);
  frame_free(t, f);
  aoe_req_complete(ini, r, ETIMEDOUT);
}

static void frame_timeout(struct aoe_initiator *ini, struct aoe_target *t,
                          struct aoe_frame *f, uint64_t now)
{
  struct aoe_path *p = f->path;
  if (f->req && req_probe(f->req)) {
    mtu_probe_timeout(ini, t, f, now);
    return;
  }
  uint64_t give_up = identify_gives_up(ini, f);
  if (now >= give_up) {
    identify_give_up(ini, t, f, now);
    return;
  }
  p->st.timeouts++;
  p->timeouts_since_heard++;
  /* One backoff and one window decrease per loss episode, not per frame lost in it:
   * a burst of drops (a shelf's full receive queue) would otherwise push the RTO to its
   * ceiling at once. */
  if (now >= p->loss_until_us) {
    aoe_rtt_backoff(&p->rtt);
    aoe_window_loss(&p->win);
    p->loss_until_us = now + p->rtt.rto_us;
  }
  /* A burst of drops times out several frames at once; only silence over time is a
   * path that stopped answering. */
  if (p->up && p->timeouts_since_heard >= AOE_PATH_DOWN_TIMEOUTS && t->npaths > 1 &&
      now - p->last_heard_us >= AOE_PATH_DOWN_QUIET_MS * 1000ull) {
    path_down(ini, t, p, now, "; moving its frames");
    if (f->state == FRAME_FREE)
      return;                   /* a re-assert's frame, let go with its path */
  }
  struct aoe_req *r = f->req;
  if (!r) {
    frame_settle(t, f);
    frame_retire(t, f, now);
    return;
  }
  struct aoe_path *np = retransmit_path(t, f);
  if (t->held_us && r->kind != REQ_IDENTIFY && !path_usable(np)) {
    f->deadline_us = now + np->rtt.rto_us;     /* waits for a path identified again */
    return;
  }
  if (np != p) {
    p->inflight--;
    np->inflight++;
    f->path = np;
  }
  f->retries++;
  t->st.retransmits++;
  np->st.retransmits++;
  frame_send(t, f, now);
  if (f->deadline_us > give_up)
    f->deadline_us = give_up;   /* an IDENTIFY's last wait ends at its dead time */
}

/* ---- keepalives (see keepalive.h) --------------------------------------------------- */

static void keepalive_send(struct aoe_target *t, struct aoe_path *p, uint64_t now)
{
  const int *trace = t->ini->opt.trace_frames;
  uint8_t frame[AOE_MIN_FRAME];
  size_t len = aoe_encode_query(frame, sizeof frame, p->mac, p->ifc->mac, t->shelf, t->slot);
  aoe_keepalive_sent(&p->ka, p->last_heard_us, now);
  p->st.keepalives++;
  if (trace && *trace) {
    char mac[18];
    mac_str(p->mac, mac);
    aoe_log(t->ini, AOE_LOG_DEBUG, "tx e%u.%u keepalive (Query Config) via %s %s", t->shelf,
            t->slot, p->ifc->name, mac);
  }
  if (aoe_net_send(p->ifc, frame, len) < 0)
    p->st.errors++;     /* like a lost frame: unanswered, it is asked again */
}

/* Has T a path that is up besides those in the bit set SILENT? */
static int target_reachable(const struct aoe_target *t, unsigned silent)
{
  for (size_t i = 0; i < t->npaths; i++)
    if (path_usable(&t->paths[i]) && !(silent & 1u << i))
      return 1;
  return 0;
}

/* Ask every idle path of T that has been quiet for a keepalive interval whether it is
 * alive; a path whose keepalives went unanswered for the dead time goes down, and T with
 * its last one.  Paths with frames in flight are not asked: their frames time out.
 * Returns when to look again. */
static uint64_t target_keepalives(struct aoe_initiator *ini, struct aoe_target *t,
                                  uint64_t now)
{
  _Static_assert(AOE_MAX_PATHS <= 8 * sizeof(unsigned), "a bit per path");
  const unsigned dead_ms = ini->opt.dead_time_ms;
  uint64_t next = UINT64_MAX, quiet_us = 0;
  unsigned silent = 0;          /* bit i: path i's keepalives went unanswered too long */
  if (!atomic_load(&t->up))
    return next;                /* discovery probes for its return */
  for (size_t i = 0; i < t->npaths; i++) {
    struct aoe_path *p = &t->paths[i];
    uint64_t when = UINT64_MAX;
    if (!path_usable(p))
      continue;
    enum aoe_keepalive_due due = aoe_keepalive_due(&p->ka, p->last_heard_us, now, dead_ms,
                                                   &when);
    if (due == AOE_KEEPALIVE_DEAD) {
      silent |= 1u << i;
      quiet_us = aoe_keepalive_unanswered_us(&p->ka, p->last_heard_us, now);
      continue;
    }
    if (due == AOE_KEEPALIVE_SEND) {
      if (p->inflight > p->probes_inflight)
        continue;
      keepalive_send(t, p, now);
      aoe_keepalive_due(&p->ka, p->last_heard_us, now, dead_ms, &when);
    }
    if (when < next)
      next = when;
  }
  if (!silent)
    return next;
  if (!target_reachable(t, silent)) {
    target_silent(ini, t, now, quiet_us, 1);
    return UINT64_MAX;
  }
  for (size_t i = 0; i < t->npaths; i++) {
    struct aoe_path *p = &t->paths[i];
    char why[96];
    if (!(silent & 1u << i))
      continue;
    snprintf(why, sizeof why, ": no answer to keepalives for %llu ms (dead time %u ms)",
             (unsigned long long)aoe_keepalive_unanswered_us(&p->ka, p->last_heard_us, now)
             / 1000, dead_ms);
    path_down(ini, t, p, now, why);
  }
  return next;
}

/* ---- paths dropped ------------------------------------------------------------------ */

/* FROM's contents go to TO (a slot of the same table): what points at FROM follows. */
static void path_move(struct aoe_target *t, struct aoe_path *from, struct aoe_path *to)
{
  *to = *from;
  for (unsigned i = 0; i < t->hiwater; i++) {
    struct aoe_frame *f = &t->frames[i];
    if (f->state == FRAME_FREE)
      continue;
    if (f->path == from)
      f->path = to;
    if (f->req && f->req->pin == from)
      f->req->pin = to;
  }
  for (struct aoe_req *r = t->ctl_head; r; r = r->next)
    if (r->pin == from)
      r->pin = to;
}

/* Bit set MASK (bit i: path i) with bit IDX taken out, the bits above it moved down. */
static unsigned mask_without(unsigned mask, size_t idx)
{
  unsigned below = mask & ((1u << idx) - 1);
  return below | (mask >> (idx + 1) << idx);
}

/* Take path IDX out of T's table (nothing of it in flight or queued), keeping the order of
 * the others: they answered in that order, and tools list them so. */
static void path_remove(struct aoe_target *t, size_t idx)
{
  tx_flush(t->ini);     /* queued frames name their path by pointer (tx_failed) */
  for (size_t i = idx + 1; i < t->npaths; i++)
    path_move(t, &t->paths[i], &t->paths[i - 1]);
  t->npaths--;
  t->rr_probe_sent = mask_without(t->rr_probe_sent, idx);
  t->rr_probe_got = mask_without(t->rr_probe_got, idx);
  if (t->rr_next > idx)
    t->rr_next--;
  if (t->rr_next >= t->npaths)
    t->rr_next = 0;
  for (struct aoe_req *r = t->q_head; r; r = r->next)
    if (r->kind == REQ_RESERVE && !r->issued_all && r->issued > idx)
      r->issued--;      /* issue_reserve walks the table by index */
  target_update_scnt(t);        /* the frame size and bufcnt counted the path dropped */
}

/* May P be dropped?  Not up, nothing of it in flight or asked (IDENTIFY, MTU probe), not
 * refused as an impostor (kept, so its every answer is not a new path to refuse again),
 * and another path of T answers.  Returns the time its silence will have lasted
 * AOE_PATH_DROP_DEAD_TIMES dead times (UINT64_MAX: never, as things stand). */
static uint64_t path_drop_due(const struct aoe_initiator *ini, const struct aoe_target *t,
                              size_t idx)
{
  const struct aoe_path *p = &t->paths[idx];
  if (path_usable(p) || p->state == PATH_REJECTED || p->inflight || p->identifying ||
      p->mtu_probing || p->proving || !atomic_load(&t->up) || !target_reachable(t, 1u << idx))
    return UINT64_MAX;
  return p->last_heard_us + AOE_PATH_DROP_DEAD_TIMES * 1000ull * ini->opt.dead_time_ms;
}

/* Drop T's paths silent for AOE_PATH_DROP_DEAD_TIMES dead times while another answers:
 * a shelf address that moved to another MAC leaves its old one behind, whose down path
 * kept discovery probing every second for ever, and a forged Query Config reply (any host
 * can send one, from any MAC) leaves a path never identified.  A dropped path that answers
 * again is a new path to discovery, identified as any is.  Returns when to look again. */
static uint64_t target_drop_silent(struct aoe_initiator *ini, struct aoe_target *t,
                                   uint64_t now)
{
  uint64_t next = UINT64_MAX;
  for (size_t i = 0; i < t->npaths;) {
    struct aoe_path *p = &t->paths[i];
    uint64_t due = path_drop_due(ini, t, i);
    if (due > now) {
      if (due < next)
        next = due;
      i++;
      continue;
    }
    char mac[18];
    mac_str(p->mac, mac);
    aoe_log(ini, p->state == PATH_ACTIVE ? AOE_LOG_INFO : AOE_LOG_DEBUG,
            "e%u.%u: path %s via %s %s for %llu ms while another path answers: dropped "
            "(found again if it answers)", t->shelf, t->slot, mac, p->ifc->name,
            p->state == PATH_ACTIVE ? "silent" : "never identified",
            (unsigned long long)((now - p->last_heard_us) / 1000));
    path_remove(t, i);
  }
  return next;
}

/* Retransmit what timed out, free expired fences, declare the shelf down when it has
 * been silent for the dead time with I/O pending, ask idle paths whether they live
 * (target_keepalives) and drop those long silent (target_drop_silent).  Returns the next
 * deadline. */
static uint64_t target_timers(struct aoe_initiator *ini, struct aoe_target *t, uint64_t now)
{
  uint64_t next = UINT64_MAX;
  for (unsigned i = 0; i < t->hiwater; i++) {
    struct aoe_frame *f = &t->frames[i];
    if (f->state == FRAME_FREE)
      continue;
    if (f->deadline_us <= now) {
      if (f->state == FRAME_FENCE) {
        frame_free(t, f);
        continue;
      }
      frame_timeout(ini, t, f, now);
      if (f->state == FRAME_FREE)
        continue;
    }
    if (f->deadline_us < next)
      next = f->deadline_us;
  }
  uint64_t dead_us = (uint64_t)ini->opt.dead_time_ms * 1000u;
  uint64_t since = t->last_heard_us > t->busy_since_us ? t->last_heard_us : t->busy_since_us;
  unsigned io = t->inflight - t->probes_inflight;
  if (t->held_us) {
    if (now >= t->hold_until_us)
      target_down(ini, t, now, now - since, t->inflight == t->probes_inflight);
    else if (t->hold_until_us < next)
      next = t->hold_until_us;
  } else if (atomic_load(&t->up) && io && now - since >= dead_us) {
    target_silent(ini, t, now, now - since, 0);
  } else if (atomic_load(&t->up) && io && since + dead_us < next) {
    next = since + dead_us;
  }
  uint64_t ka_next = target_keepalives(ini, t, now);
  if (ka_next < next)
    next = ka_next;
  uint64_t drop_next = target_drop_silent(ini, t, now);
  return drop_next < next ? drop_next : next;
}

/* ---- discovery --------------------------------------------------------------------- */

static void query_left_out(struct aoe_initiator *ini, const struct log_burst_sum *sum)
{
  aoe_log(ini, AOE_LOG_WARN, "... and %llu more Query Config broadcasts could not be sent "
          "in the last %llu s (not logged one by one)", sum->left_out, sum->seconds);
}

void aoe_query_burst_flush(struct aoe_initiator *ini, int force)
{
  struct log_burst_sum sum;
  if (log_burst_flush(&ini->query_burst, aoe_now_us(), force, &sum))
    query_left_out(ini, &sum);
}

void aoe_broadcast_query(struct aoe_initiator *ini)
{
  uint8_t frame[AOE_MIN_FRAME];
  for (size_t i = 0; i < ini->nifaces; i++) {
    size_t len = aoe_encode_query(frame, sizeof frame, broadcast_mac, ini->ifaces[i].mac,
                                  0xffff, 0xff);
    struct log_burst_sum sum;
    if (aoe_net_send(&ini->ifaces[i], frame, len) == 0)
      continue;
    /* an interface without its link fails each probe, once a second while a shelf is down;
     * another interface's first failure is said, not hidden behind this one's */
    int say = log_burst_take_key(&ini->query_burst, aoe_now_us(), (int)i, &sum);
    if (sum.left_out)
      query_left_out(ini, &sum);
    if (say)
      aoe_log(ini, AOE_LOG_WARN, "interface %s: sending Query Config failed: %s",
              ini->ifaces[i].name, pcap_geterr(ini->ifaces[i].pcap));
  }
  aoe_query_burst_flush(ini, 0);        /* a flood that stopped is summed up too */
}

static int anything_down(const struct aoe_initiator *ini)
{
  for (size_t i = 0; i < ini->ntargets; i++) {
    const struct aoe_target *t = ini->targets[i];
    if (t->identified && (!atomic_load(&t->up) || t->held_us))
      return 1;
    for (size_t j = 0; j < t->npaths; j++)
      if (t->paths[j].state == PATH_ACTIVE && !t->paths[j].up)
        return 1;
  }
  return 0;
}

static uint64_t discovery_timer(struct aoe_initiator *ini, uint64_t now)
{
  if (now >= ini->next_discover_us) {
    aoe_broadcast_query(ini);
    ini->next_discover_us = now + 1000ull *
      (anything_down(ini) ? AOE_PROBE_MS : ini->opt.rediscover_ms);
  }
  return ini->next_discover_us;
}

/* ---- the loop body ----------------------------------------------------------------- */

/* Drop the targets never identified whose IDENTIFYs are all over (unanswered: made-up
 * addresses after a flood, or a shelf gone before it answered).  Nobody holds them (only
 * identified targets are handed out), and each costs the loop a look every step; a real
 * shelf among them is tracked again at its next Query Config reply (rediscovery). */
static void reap_unidentified(struct aoe_initiator *ini)
{
  size_t kept = 0;
  if (!ini->reap_pending)
    return;
  ini->reap_pending = 0;
  for (size_t i = 0; i < ini->ntargets; i++) {
    struct aoe_target *t = ini->targets[i];
    if (t->identified || t->ctl_head || t->inflight || !target_evictable(ini, t)) {
      ini->targets[kept++] = t;
      continue;
    }
    struct aoe_target **pp = &ini->buckets[bucket_of(t->shelf, t->slot)];
    while (*pp != t)
      pp = &(*pp)->hnext;
    *pp = t->hnext;
    aoe_lru_remove(ini, t);
    aoe_target_free(t);
  }
  ini->ntargets = kept;
}

void aoe_wake(struct aoe_initiator *ini)
{
  uint64_t one = 1;
  if (write(ini->evfd, &one, sizeof one) < 0) {
    /* The counter is saturated only if the loop is far behind; it is awake then. */
  }
}

/* Move callers' submissions to their targets' queues (or fail them at once). */
static void take_submissions(struct aoe_initiator *ini, int signalled)
{
  uint64_t v;
  if (signalled && read(ini->evfd, &v, sizeof v) < 0) {
    /* EAGAIN: another step consumed it. */
  }
  struct aoe_req *r = aoe_req_take(&ini->qlock, &ini->sub_head, &ini->sub_tail);
  while (r) {
    struct aoe_req *next = r->next;
    struct aoe_target *t = r->t;
    r->next = NULL;
    if (!atomic_load(&t->up)) {
      if (!t->conflict)
        aoe_set_error(t, "e%u.%u: shelf is down: %s failed", t->shelf, t->slot,
                      kind_name(r->kind));
      aoe_req_complete(ini, r, EIO);
    } else {
      aoe_req_append(&t->q_head, &t->q_tail, r);
    }
    r = next;
  }
}

/* From a submitting thread: when the loop is not inside a step, move the submissions to
 * their targets and send T's first window from here, so a request goes on the wire
 * without waiting for the loop thread to be scheduled.  The loop need not be woken for
 * the frames' timers: it never sleeps longer than AOE_LOOP_MAX_SLEEP_MS, shorter than any
 * RTO, so it sees every new frame before its deadline.  It is woken only for completions
 * made here (a flush with nothing to flush, a target found down): those are delivered by
 * the loop, never inside the caller's aoe_submit.  Returns 0 when the lock was busy: the
 * loop is running a step and the caller must wake it as before. */
int aoe_issue_direct(struct aoe_initiator *ini, struct aoe_target *t)
{
  if (pthread_mutex_trylock(&ini->lock) != 0)
    return 0;
  take_submissions(ini, 0);     /* earlier submissions first: the queues stay in order */
  uint64_t now = aoe_clock_us(ini);
  rr_resumed(ini, now);
  target_issue(ini, t, now);
  tx_flush(ini);
  int completions = ini->done_head != NULL;
  pthread_mutex_unlock(&ini->lock);
  if (completions)
    aoe_wake(ini);
  return 1;
}

/* Receive what the interfaces hold, at most ROUNDS pcap buffers each so that timers and
 * sends still get their turn.  Caller holds ini->lock.  Returns the frames received. */
static int receive_all(struct aoe_initiator *ini, uint64_t now, int rounds)
{
  int frames = 0;
  for (size_t i = 0; i < ini->nifaces; i++) {
    struct rx_ctx c = { ini, &ini->ifaces[i], now };
    for (int round = 0; round < rounds; round++) {
      int n = pcap_dispatch(ini->ifaces[i].pcap, -1, rx_frame, (u_char *)&c);
      if (n <= 0)
        break;
      frames += n;
    }
  }
  return frames;
}

/* From a thread about to wait: the replies that have arrived are matched and completed
 * here, so a waiter that polls is not woken by the loop thread, which would first have to
 * be woken itself (two hand-offs, each a scheduler wake-up).  Never blocks: returns 0 when
 * the loop holds the lock (it delivers what is there). */
int aoe_poll(struct aoe_target *t)
{
  struct aoe_initiator *ini = t->ini;
  atomic_store(&ini->last_poll_us, aoe_now_us());
  if (pthread_mutex_trylock(&ini->lock) != 0)
    return 0;
  int frames = receive_all(ini, aoe_clock_us(ini), 1);
  int completions = ini->done_head != NULL;
  pthread_mutex_unlock(&ini->lock);
  if (completions)
    aoe_deliver(ini);
  return frames;
}

void aoe_sleep_begin(struct aoe_target *t)
{
  struct aoe_initiator *ini = t->ini;
  /* With aoe_loop_watches: the loop clears loop_watching before it counts the sleepers, a
   * sleeper counts itself before it reads loop_watching, so one of the two sees the other
   * (sequentially consistent atomics): never a sleeper with nobody watching. */
  atomic_store(&ini->last_sleep_us, aoe_now_us());
  atomic_fetch_add(&ini->sleepers, 1);
  if (!atomic_load(&ini->loop_watching))
    aoe_wake(ini);
}

void aoe_sleep_end(struct aoe_target *t)
{
  atomic_fetch_sub(&t->ini->sleepers, 1);
}

/* Whether the loop's next poll includes the sockets, and for how long it may sleep
 * (*TIMEOUT_MS, shortened to when the pollers' hold runs out).  Off the sockets only while
 * a thread polled within AOE_POLLER_QUIET_US and none slept within it (nor sleeps): those
 * pollers receive the replies themselves (aoe_poll).  Requests that sleep (company: depth
 * 32) keep it on: a lone poll among them would otherwise take it off, for each sleeper
 * after it to wake it again through the eventfd. */
int aoe_loop_watches(struct aoe_initiator *ini, int *timeout_ms)
{
  uint64_t now = aoe_now_us(), polled = atomic_load(&ini->last_poll_us);
  uint64_t slept = atomic_load(&ini->last_sleep_us);
  if (polled + AOE_POLLER_QUIET_US <= now || slept + AOE_POLLER_QUIET_US > now ||
      atomic_load(&ini->sleepers)) {
    atomic_store(&ini->loop_watching, 1);
    return 1;
  }
  atomic_store(&ini->loop_watching, 0);
  if (atomic_load(&ini->sleepers)) {
    atomic_store(&ini->loop_watching, 1);
    return 1;
  }
  int hold_ms = (int)((polled + AOE_POLLER_QUIET_US - now + 999) / 1000);
  if (*timeout_ms < 0 || hold_ms < *timeout_ms)
    *timeout_ms = hold_ms;
  return 0;
}

/* One step: FROM_LOOP on the loop thread, which may leave the sockets to pollers; a
 * caller stepping the engine itself (no loop thread) always receives. */
static uint64_t engine_step(struct aoe_initiator *ini, int timeout_ms, int from_loop)
{
  struct pollfd fds[AOE_MAX_IFACES + 1];
  size_t n = 0;
  if (!from_loop || aoe_loop_watches(ini, &timeout_ms))
    for (size_t i = 0; i < ini->nifaces; i++)
      fds[n++] = (struct pollfd){ .fd = ini->ifaces[i].fd, .events = POLLIN };
  fds[n++] = (struct pollfd){ .fd = ini->evfd, .events = POLLIN };
  int ready = poll(fds, n, timeout_ms);

  pthread_mutex_lock(&ini->lock);
  uint64_t now = aoe_clock_us(ini);
  rr_resumed(ini, now);
  take_submissions(ini, ready > 0 && (fds[n - 1].revents & POLLIN));
  receive_all(ini, now, 16);
  now = aoe_clock_us(ini);
  uint64_t next = discovery_timer(ini, now);
  uint64_t rr_next = rr_progress(ini, now);
  if (rr_next < next)
    next = rr_next;
  for (size_t i = 0; i < ini->ntargets; i++) {
    uint64_t tn = target_timers(ini, ini->targets[i], now);
    if (tn < next)
      next = tn;
    target_issue(ini, ini->targets[i], now);
  }
  reap_unidentified(ini);
  for (size_t i = 0; i < ini->ntargets; i++)
    if (ini->targets[i]->inflight && now + AOE_RTO_MIN_US < next)
      next = now + AOE_RTO_MIN_US;
  ini->next_wake_us = next;
  tx_flush(ini);
  int completions = ini->done_head != NULL;
  pthread_mutex_unlock(&ini->lock);
  if (completions)
    aoe_deliver(ini);
  return next;
}

uint64_t aoe_engine_step(struct aoe_initiator *ini, int timeout_ms)
{
  return engine_step(ini, timeout_ms, 0);
}

uint64_t aoe_loop_step(struct aoe_initiator *ini, int timeout_ms)
{
  return engine_step(ini, timeout_ms, 1);
}

int aoe_ms_until(uint64_t when_us, int max_ms)
{
  uint64_t now = aoe_now_us();
  if (when_us <= now)
    return 0;
  uint64_t ms = (when_us - now + 999) / 1000;
  return ms < (uint64_t)max_ms ? (int)ms : max_ms;
}

/* Milliseconds until the loop has timed work, at most MAX_MS. */
int aoe_engine_timeout(struct aoe_initiator *ini, int max_ms)
{
  pthread_mutex_lock(&ini->lock);
  uint64_t next = ini->next_wake_us;
  pthread_mutex_unlock(&ini->lock);
  return aoe_ms_until(next, max_ms);
}

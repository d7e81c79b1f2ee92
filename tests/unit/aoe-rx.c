/* The initiator's receive path (aoe_engine_rx) without a network: an initiator on a dead
 * pcap handle (its sends fail and count as lost frames), a shelf made of a buffer, and
 * replies built here.  Spoofed, stale, misdirected and mangled replies must never complete
 * a request with wrong data; a random and mutated stream of frames must never crash the
 * engine or complete a read with bytes the shelf does not hold.  Reservations we hold are
 * kept across a shelf restart (its announce, or a read of its list, finds it forgot us:
 * re-asserted once the rest of the claim is read intact) and never taken back from a head
 * that took them over.  Deterministic. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

#define SHELF 7
#define SLOT 3
#define SECTORS 4096u
#define READ_SECTORS 6                  /* three frames of two sectors (MTU 1500) */

static const uint8_t our_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t shelf_mac[6] = { 0x02, 0, 0, 0, 0, 0x5e };
static const uint8_t other_mac[6] = { 0x02, 0, 0, 0, 0, 0x66 };
static unsigned cur_slot = SLOT;        /* the slot hdr() answers as */

struct rig {
  struct aoe_initiator *ini;
  struct aoe_target *t;
  uint8_t *disk;                        /* the shelf's sectors */
  uint8_t frame[1600];
  size_t len;
};

struct result { int done, err; };

static void on_done(void *opaque, int err)
{
  struct result *r = opaque;
  r->done++;
  r->err = err;
}

static uint64_t rnd(uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* One frame received, then what the loop would do next: send what the windows allow. */
static void rx(struct rig *r, const uint8_t *frame, size_t len)
{
  pthread_mutex_lock(&r->ini->lock);
  aoe_engine_rx(r->ini, &r->ini->ifaces[0], frame, len, aoe_now_us());
  pthread_mutex_unlock(&r->ini->lock);
  aoe_deliver(r->ini);
  if (r->t)
    aoe_issue_direct(r->ini, r->t);
}

static void hdr(struct aoe_msg *m, const uint8_t *src, uint8_t cmd, uint32_t tag)
{
  memset(m, 0, sizeof *m);
  memcpy(m->h.dst, our_mac, 6);
  memcpy(m->h.src, src, 6);
  m->h.flags = AOE_FLAG_RESP;
  m->h.shelf = SHELF;
  m->h.slot = (uint8_t)cur_slot;
  m->h.cmd = cmd;
  m->h.tag = tag;
}

/* Build, in r->frame, an ATA reply to tag TAG from SRC for LBA with DATA of N sectors. */
static void ata_reply(struct rig *r, const uint8_t *src, uint32_t tag, uint64_t lba,
                      const uint8_t *data, unsigned n)
{
  struct aoe_msg m;
  hdr(&m, src, AOE_CMD_ATA, tag);
  m.u.ata = (struct aoe_ata){ .aflags = AOE_AFLAG_LBA48, .cmdstat = 0x40, .lba = lba,
                              .data = data, .datalen = (size_t)n * AOE_SECTOR };
  r->len = aoe_encode(r->frame, sizeof r->frame, &m);
  cr_assert(r->len > 0);
}

static struct aoe_frame *inflight(struct rig *r, unsigned nth)
{
  for (unsigned i = 0; i < AOE_MAX_FRAMES; i++)
    if (r->t->frames[i].state == FRAME_INFLIGHT && nth-- == 0)
      return &r->t->frames[i];
  return NULL;
}

static void identify(struct rig *r, const uint8_t *src)
{
  uint8_t id[AOE_SECTOR] = { 0 };
  struct aoe_frame *f = inflight(r, 0);

  cr_assert_not_null(f, "no IDENTIFY in flight");
  id[2 * 83 + 1] = 0x24;                /* word 83: LBA48, FLUSH CACHE EXT */
  for (int i = 0; i < 4; i++)
    id[200 + i] = (uint8_t)(SECTORS >> (8 * i));
  memcpy(id + 20, "1 fuzz", 6);         /* serial: words 10.. (byte-swapped) */
  ata_reply(r, src, f->tag, 0, id, 1);
  rx(r, r->frame, r->len);
}

static void rig_open(struct rig *r, uint64_t seed)
{
  struct aoe_msg m;

  memset(r, 0, sizeof *r);
  r->ini = calloc(1, sizeof *r->ini);
  cr_assert_not_null(r->ini);
  r->ini->opt.dead_time_ms = AOE_DEFAULT_DEAD_MS;
  r->ini->opt.rediscover_ms = AOE_DEFAULT_REDISCOVER_MS;
  pthread_mutex_init(&r->ini->lock, NULL);
  pthread_mutex_init(&r->ini->qlock, NULL);
  r->ini->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  r->ini->next_discover_us = UINT64_MAX;
  struct aoe_iface *ifc = &r->ini->ifaces[r->ini->nifaces++];
  snprintf(ifc->name, sizeof ifc->name, "fuzz0");
  memcpy(ifc->mac, our_mac, 6);
  ifc->mtu = 1500;
  ifc->pcap = pcap_open_dead(DLT_EN10MB, 65535);
  ifc->fd = -1;
  ifc->txcap = 9216;
  ifc->tx = malloc(ifc->txcap);
  cr_assert(ifc->pcap && ifc->tx);
  cr_assert_eq(aoe_net_txq_alloc(ifc), 0);      /* ATA frames go through the send queue */
  r->disk = malloc((size_t)SECTORS * AOE_SECTOR);
  cr_assert_not_null(r->disk);
  for (size_t i = 0; i < (size_t)SECTORS * AOE_SECTOR; i++)
    r->disk[i] = (uint8_t)rnd(&seed);
  /* the shelf answers discovery, then its IDENTIFY */
  hdr(&m, shelf_mac, AOE_CMD_CONFIG, 0x80000000u);
  m.u.cfg = (struct aoe_cfg){ .bufcnt = 16, .scnt = 2 };
  r->len = aoe_encode(r->frame, sizeof r->frame, &m);
  rx(r, r->frame, r->len);
  cr_assert_eq(r->ini->ntargets, 1, "the config reply made no target");
  r->t = r->ini->targets[0];
  aoe_issue_direct(r->ini, r->t);
  identify(r, shelf_mac);
  cr_assert(aoe_target_up(r->t), "the shelf did not come up");
}

static void rig_close(struct rig *r)
{
  aoe_close(r->ini);
  free(r->disk);
}

/* The right reply to the Nth frame in flight, in r->frame. */
static struct aoe_frame *answer(struct rig *r, unsigned nth)
{
  struct aoe_frame *f = inflight(r, nth);
  cr_assert_not_null(f);
  ata_reply(r, shelf_mac, f->tag, f->lba, r->disk + f->lba * AOE_SECTOR, f->nsect);
  return f;
}

static void read_start(struct rig *r, uint64_t lba, uint8_t *buf, struct result *res)
{
  memset(res, 0, sizeof *res);
  memset(buf, 0xee, READ_SECTORS * AOE_SECTOR);
  cr_assert_eq(aoe_submit(r->t, AOE_READ, lba, READ_SECTORS, buf, on_done, res), 0);
  cr_assert_not_null(inflight(r, 0), "the read sent nothing");
}

/* Answer every frame in flight rightly; the read completes with the shelf's bytes. */
static void read_finish(struct rig *r, uint64_t lba, const uint8_t *buf, struct result *res,
                        const char *after)
{
  while (!res->done && inflight(r, 0)) {
    answer(r, 0);
    rx(r, r->frame, r->len);
  }
  cr_assert_eq(res->done, 1, "%s: the read did not complete", after);
  cr_assert_eq(res->err, 0, "%s: the read failed: %d", after, res->err);
  cr_assert(!memcmp(buf, r->disk + lba * AOE_SECTOR, READ_SECTORS * AOE_SECTOR),
            "%s: the read returned bytes the shelf does not hold", after);
}

/* ---- spoofed and stale replies ----------------------------------------------------------- */

/* A read of READ_SECTORS at LBA in flight; f its first frame, tag that frame's tag. */
struct spoof {
  struct rig r;
  uint8_t buf[READ_SECTORS * AOE_SECTOR], junk[READ_SECTORS * AOE_SECTOR];
  struct result res;
  uint64_t lba;
  struct aoe_frame *f;
  uint32_t tag;
};

static void spoof_start(struct spoof *s, uint64_t seed, uint64_t lba)
{
  rig_open(&s->r, seed);
  memset(s->junk, 0x6a, sizeof s->junk);
  s->lba = lba;
  read_start(&s->r, lba, s->buf, &s->res);
  s->f = inflight(&s->r, 0);
  s->tag = s->f->tag;
}

/* The reply in r.frame was taken for none of the read's: its frame waits as it was. */
static void spoof_ignored(struct spoof *s, const char *what)
{
  rx(&s->r, s->r.frame, s->r.len);
  cr_assert(s->f->state == FRAME_INFLIGHT && s->f->tag == s->tag && !s->res.done,
            "%s answered a frame of the read at LBA %llu", what, (unsigned long long)s->lba);
}

/* The right replies then complete the read with the shelf's bytes. */
static void spoof_finish(struct spoof *s, const char *after)
{
  read_finish(&s->r, s->lba, s->buf, &s->res, after);
  rig_close(&s->r);
}

Test(spoof, another_mac_with_the_tag_completes_nothing)
{
  struct spoof s;

  spoof_start(&s, 1, 100);
  ata_reply(&s.r, other_mac, s.tag, s.f->lba, s.junk, s.f->nsect);
  spoof_ignored(&s, "a reply from another MAC");
  spoof_finish(&s, "after a reply from another MAC");
}

Test(spoof, wrong_lba_completes_nothing)
{
  struct spoof s;

  spoof_start(&s, 2, 200);
  /* a misdirected answer: another sector's bytes, saying so in its LBA */
  ata_reply(&s.r, shelf_mac, s.tag, 900, s.r.disk + 900 * AOE_SECTOR, s.f->nsect);
  spoof_ignored(&s, "a reply for LBA 900");
  /* vblade's own way: the LBA after the sectors read, and the count left (0) */
  answer(&s.r, 0);
  uint64_t after = s.f->lba + s.f->nsect;
  for (int i = 0; i < 6; i++)
    s.r.frame[28 + i] = (uint8_t)(after >> (8 * i));
  rx(&s.r, s.r.frame, s.r.len);
  cr_assert(s.f->state != FRAME_INFLIGHT || s.f->tag != s.tag,
            "vblade's reply (LBA + sectors) was refused");
  spoof_finish(&s, "after a reply for another LBA");
}

Test(spoof, short_data_and_wrong_command_complete_nothing)
{
  struct spoof s;

  spoof_start(&s, 3, 300);
  answer(&s.r, 0);
  s.r.len -= AOE_SECTOR;
  spoof_ignored(&s, "a reply one sector short");
  s.r.len += AOE_SECTOR;
  s.r.frame[19] = AOE_CMD_RESERVE;
  spoof_ignored(&s, "a reply with the tag but another command");
  spoof_finish(&s, "after short and wrong-command replies");
}

Test(spoof, reply_to_a_retransmitted_tag_is_dropped)
{
  struct spoof s;

  spoof_start(&s, 4, 400);
  s.f->deadline_us = 0;                              /* its timer has run out */
  aoe_engine_step(s.r.ini, 0);
  cr_assert(s.f->state == FRAME_INFLIGHT && s.f->tag != s.tag,
            "a retransmission kept its tag");
  ata_reply(&s.r, shelf_mac, s.tag, s.f->lba, s.junk, s.f->nsect);  /* to the old tag */
  s.tag = s.f->tag;
  spoof_ignored(&s, "a late reply to the old tag");
  spoof_finish(&s, "after a reply to the old tag");
}

/* ---- a stream of random and mutated frames ----------------------------------------------- */

/* One hostile frame in r->frame: random bytes, or a right reply (to a frame in flight, or
 * a config or reserve reply) with its header mangled and its length cut or padded.  A
 * mangled LBA brings that LBA's bytes with it (a misdirected reply). */
static void hostile(struct rig *r, uint64_t *s)
{
  uint64_t x = rnd(s);
  struct aoe_frame *f = inflight(r, (unsigned)(x >> 8) % 3);

  if (x % 8 == 0 || !f) {
    r->len = (size_t)(rnd(s) % sizeof r->frame);
    for (size_t i = 0; i < r->len; i++)
      r->frame[i] = (uint8_t)rnd(s);
    if (r->len >= 14 && x & 0x100) {
      r->frame[12] = 0x88;
      r->frame[13] = 0xa2;
      r->frame[14] = 0x18;
    }
    return;
  }
  answer(r, (unsigned)(x >> 8) % 3);
  if (x % 8 == 1) {
    /* clearly elsewhere: the LBA asked, the last sector and the one after are taken as
     * the target's ways of answering this frame */
    uint64_t lba = (f->lba + f->nsect + 1 + rnd(s) % (SECTORS - 8)) % (SECTORS - 2);
    for (int i = 0; i < 6; i++)
      r->frame[28 + i] = (uint8_t)(lba >> (8 * i));
    memcpy(r->frame + AOE_ATA_HDR_LEN, r->disk + lba * AOE_SECTOR, (size_t)f->nsect * AOE_SECTOR);
  } else if (x % 8 == 2) {
    r->frame[19] = (uint8_t)(rnd(s) % 5);            /* another command, same tag */
    r->len = AOE_HDR_LEN + rnd(s) % 64;
  }
  for (unsigned n = rnd(s) % 4; n; n--)
    r->frame[rnd(s) % AOE_ATA_HDR_LEN] ^= (uint8_t)(1u << (rnd(s) % 8));
  if (rnd(s) % 4 == 0)
    r->len = (size_t)(rnd(s) % (r->len + 1));
}

Test(fuzz, hostile_stream_never_completes_a_read_with_wrong_bytes, .timeout = 60)
{
  struct rig r;
  uint8_t buf[READ_SECTORS * AOE_SECTOR];
  struct result res = { 0 };
  uint64_t seed = 0xa0e5eed, lba = 0;
  unsigned reads = 0, failed = 0;

  rig_open(&r, 5);
  unsigned i;
  for (i = 0; i < 100000; i++) {
    if (!res.done && i) {
      hostile(&r, &seed);
      rx(&r, r.frame, r.len);
    }
    if (i == 0 || res.done) {
      if (i && !res.err)
        cr_assert(!memcmp(buf, r.disk + lba * AOE_SECTOR, sizeof buf),
                  "frame %u: a read of LBA %llu completed with bytes the shelf does not "
                  "hold", i, (unsigned long long)lba);
      failed += i && res.err;
      reads += i != 0;
      cr_assert(aoe_target_up(r.t), "frame %u: the shelf went down", i);
      lba = rnd(&seed) % (SECTORS - READ_SECTORS);
      read_start(&r, lba, buf, &res);
    }
  }
  cr_assert(reads > 1000 && failed < reads / 4, "%u reads completed, %u failed", reads, failed);
  cr_log_info("%u frames: %u reads completed under fire, %u of them failed by error replies",
              i, reads, failed);
  rig_close(&r);
}

/* ---- reservations kept across a shelf restart --------------------------------------------- */

static const uint8_t shelf2_mac[6] = { 0x02, 0, 0, 0, 0, 0x5f };

/* A second shelf, e7.4 at shelf2_mac, discovered and identified beside the rig's. */
static struct aoe_target *second_target(struct rig *r)
{
  struct aoe_msg m;
  struct aoe_target *t1 = r->t;

  cur_slot = SLOT + 1;
  hdr(&m, shelf2_mac, AOE_CMD_CONFIG, 0x80000000u);
  m.u.cfg = (struct aoe_cfg){ .bufcnt = 16, .scnt = 2 };
  r->len = aoe_encode(r->frame, sizeof r->frame, &m);
  rx(r, r->frame, r->len);
  r->t = NULL;
  for (size_t i = 0; i < r->ini->ntargets; i++)
    if (r->ini->targets[i]->slot == SLOT + 1)
      r->t = r->ini->targets[i];
  cr_assert_not_null(r->t, "the second shelf was not discovered");
  aoe_issue_direct(r->ini, r->t);
  identify(r, shelf2_mac);
  cr_assert(aoe_target_up(r->t), "the second shelf did not come up");
  struct aoe_target *t2 = r->t;
  r->t = t1;
  cur_slot = SLOT;
  return t2;
}

/* T reserved by us, as aoe_reserve leaves it; its next check a second away. */
static void claim(struct rig *r, struct aoe_target *t)
{
  pthread_mutex_lock(&r->ini->lock);
  t->reserved = t->claimed = 1;
  t->rr_read_us = aoe_now_us();
  t->rr_next_us = t->rr_read_us + 1000000;
  pthread_mutex_unlock(&r->ini->lock);
}

/* Make T's reservation check due now (the time passed, or the head was stopped). */
static void check_due(struct rig *r, struct aoe_target *t)
{
  pthread_mutex_lock(&r->ini->lock);
  t->rr_next_us = 0;
  pthread_mutex_unlock(&r->ini->lock);
}

/* One turn of the loop: timers, checks, and what is queued goes out. */
static void step(struct rig *r)
{
  aoe_engine_step(r->ini, 0);
}

/* T's re-assert (a Reserve/Release set) in flight, or NULL. */
static struct aoe_frame *reassert_frame(struct aoe_target *t)
{
  for (unsigned i = 0; i < AOE_MAX_FRAMES; i++) {
    struct aoe_frame *f = &t->frames[i];
    if (f->state == FRAME_INFLIGHT && f->cmd == AOE_CMD_RESERVE && f->req &&
        f->req->rcmd == AOE_RCMD_SET)
      return f;
  }
  return NULL;
}

/* The shelf at SRC as slot SLOT_ answers tag TAG (sub-command RCMD) with the list
 * MACS[N]; ERR6: refuses it (error 6, a reservation conflict, with the holder's list). */
static void rr_answer_tag(struct rig *r, unsigned slot, const uint8_t *src, uint32_t tag,
                          uint8_t rcmd, const uint8_t (*macs)[6], unsigned n, int err6)
{
  struct aoe_msg m;
  uint8_t list[4 * 6];

  cur_slot = slot;
  hdr(&m, src, AOE_CMD_RESERVE, tag);
  cur_slot = SLOT;
  if (err6) {
    m.h.flags |= AOE_FLAG_ERR;
    m.h.error = AOE_ERR_RESERVED;
  }
  for (unsigned i = 0; i < n; i++)
    memcpy(list + 6 * i, macs[i], 6);
  m.u.rr = (struct aoe_rr){ .rcmd = rcmd, .nmacs = (uint8_t)n, .macs = list };
  r->len = aoe_encode(r->frame, sizeof r->frame, &m);
  cr_assert(r->len > 0);
  rx(r, r->frame, r->len);
}

/* Answer our re-assert F. */
static void rr_answer(struct rig *r, unsigned slot, const uint8_t *src, struct aoe_frame *f,
                      const uint8_t (*macs)[6], unsigned n, int err6)
{
  cr_assert_not_null(f, "no re-assert in flight");
  rr_answer_tag(r, slot, src, f->tag, AOE_RCMD_SET, macs, n, err6);
}

/* T's reservation read (a probe, sent raw as a keepalive is) is out: its tag. */
static uint32_t probe(struct aoe_target *t)
{
  cr_assert_neq(t->rr_probe_tag, 0, "e%u.%u's reservation list was not read", t->shelf,
                t->slot);
  return t->rr_probe_tag;
}

/* Answer T's probe with the list MACS[N]. */
static void probe_answer(struct rig *r, struct aoe_target *t, const uint8_t *src,
                         const uint8_t (*macs)[6], unsigned n)
{
  rr_answer_tag(r, t->slot, src, probe(t), AOE_RCMD_READ, macs, n, 0);
}

/* vblade's start-up announce from SRC as slot SLOT_: broadcast, version 0. */
static void announce(struct rig *r, unsigned slot, const uint8_t *src)
{
  struct aoe_msg m;

  cur_slot = slot;
  hdr(&m, src, AOE_CMD_CONFIG, 0);
  cur_slot = SLOT;
  memset(m.h.dst, 0xff, 6);
  m.u.cfg = (struct aoe_cfg){ .bufcnt = 16, .scnt = 2, .version = 1 };
  r->len = aoe_encode(r->frame, sizeof r->frame, &m);
  r->frame[14] = AOE_FLAG_RESP;                     /* vblade's aoead: no version */
  rx(r, r->frame, r->len);
}

static const uint8_t ours[1][6] = { { 0x02, 0, 0, 0, 0, 0x01 } };
static const uint8_t theirs[1][6] = { { 0x02, 0, 0, 0, 0, 0x66 } };

/* A write of 8 sectors to T; its result in *RES (done: 1 once completed). */
static void write8(struct aoe_target *t, uint8_t *buf, struct result *res)
{
  memset(res, 0, sizeof *res);
  aoe_submit(t, AOE_WRITE, 0, 8, buf, on_done, res);
}

Test(reserve, announce_of_a_held_shelf_reasserts_at_once)
{
  struct rig r;

  rig_open(&r, 11);
  claim(&r, r.t);
  announce(&r, SLOT, shelf_mac);
  cr_assert_eq(r.ini->parse_counts[AOE_PARSE_VERSION], 0, "the announce was rejected");
  step(&r);
  struct aoe_frame *f = reassert_frame(r.t);
  cr_assert_not_null(f, "a restarted shelf we hold was not re-asserted");
  cr_assert_eq(f->req->nmacs, 1);
  cr_assert_arr_eq(f->req->macs[0], our_mac, 6);
  rr_answer(&r, SLOT, shelf_mac, f, ours, 1, 0);
  cr_assert_eq(r.t->rr_lost_us, 0, "the re-assert was not taken as done");
  cr_assert(r.t->reserved && !r.ini->rr_taken);
  rig_close(&r);
}

Test(reserve, announce_of_a_shelf_not_held_changes_nothing)
{
  struct rig r;

  rig_open(&r, 12);
  announce(&r, SLOT, shelf_mac);
  step(&r);
  cr_assert_null(reassert_frame(r.t));
  cr_assert_eq(r.t->rr_probe_tag, 0, "read the list of a shelf we do not hold");
  cr_assert(aoe_target_up(r.t));
  rig_close(&r);
}

Test(reserve, held_shelf_is_read_each_interval)
{
  struct rig r;

  rig_open(&r, 13);
  claim(&r, r.t);
  step(&r);
  cr_assert_eq(r.t->rr_probe_tag, 0, "read before its interval");
  check_due(&r, r.t);
  step(&r);
  uint32_t tag = probe(r.t);
  cr_assert_eq(tag & 0xc0000000u, AOE_RR_PROBE_TAG);
  for (unsigned i = 0; i < AOE_MAX_FRAMES; i++)
    cr_assert_eq(r.t->frames[i].state, FRAME_FREE, "the read took a frame: it is not I/O");
  rr_answer_tag(&r, SLOT, other_mac, tag, AOE_RCMD_READ, ours, 1, 0);
  cr_assert_eq(r.t->rr_probe_tag, tag, "an answer from another MAC was taken");
  rr_answer_tag(&r, SLOT, shelf_mac, tag ^ 1, AOE_RCMD_READ, theirs, 1, 0);
  cr_assert(r.t->rr_probe_tag == tag && !r.ini->rr_taken, "an answer to another tag was taken");
  probe_answer(&r, r.t, shelf_mac, ours, 1);
  cr_assert_eq(r.t->rr_probe_tag, 0);
  step(&r);
  cr_assert_null(reassert_frame(r.t), "re-asserted a reservation that was there");
  cr_assert_eq(r.t->rr_probe_tag, 0, "read again at once");
  cr_assert(r.t->rr_next_us > aoe_now_us() + 500000, "next read not an interval away");
  rig_close(&r);
}

/* The announce was lost: the next read finds the list empty. */
Test(reserve, read_finding_nobody_reasserts)
{
  struct rig r;

  rig_open(&r, 14);
  claim(&r, r.t);
  check_due(&r, r.t);
  step(&r);
  probe_answer(&r, r.t, shelf_mac, NULL, 0);
  step(&r);
  struct aoe_frame *f = reassert_frame(r.t);
  cr_assert_not_null(f, "an empty list was not re-asserted");
  rr_answer(&r, SLOT, shelf_mac, f, ours, 1, 0);
  cr_assert_eq(r.t->rr_lost_us, 0);
  rig_close(&r);
}

/* A read listing another host: the takeover.  Nothing is re-asserted, and no I/O goes
 * to a shelf of our claim that does not hold our reservation, the taken one or one that
 * restarted (it would take it): it fails with EBADE (raid/: RAID_EFENCED) unsent. */
Test(reserve, read_finding_another_host_stops_io_to_shelves_not_ours)
{
  struct rig r;
  uint8_t buf[8 * AOE_SECTOR] = { 0 };
  struct result res;

  rig_open(&r, 15);
  struct aoe_target *t2 = second_target(&r);
  claim(&r, r.t);
  claim(&r, t2);
  announce(&r, SLOT + 1, shelf2_mac);                   /* t2 restarted */
  check_due(&r, r.t);
  step(&r);
  probe_answer(&r, r.t, shelf_mac, theirs, 1);
  step(&r);
  cr_assert_null(reassert_frame(r.t), "took back a shelf another host holds");
  cr_assert_null(reassert_frame(t2), "re-asserted a shelf once the claim was taken");
  cr_assert(r.ini->rr_taken && !r.t->reserved);
  struct aoe_target *ts[2] = { r.t, t2 };
  for (int k = 0; k < 2; k++) {
    write8(ts[k], buf, &res);
    step(&r);
    cr_assert_eq(res.done, 1, "a write to e7.%u was not failed", ts[k]->slot);
    cr_assert_eq(res.err, EBADE);
    for (unsigned i = 0; i < AOE_MAX_FRAMES; i++)
      cr_assert(ts[k]->frames[i].state == FRAME_FREE || ts[k]->frames[i].cmd != AOE_CMD_ATA ||
                !ts[k]->frames[i].write, "a write went out to e7.%u", ts[k]->slot);
    cr_assert(strstr(aoe_target_last_error(ts[k]), "e7.3 is now reserved by 02:00:00:00:00:66"),
              "the error does not name the holder: %s", aoe_target_last_error(ts[k]));
  }
  rig_close(&r);
}

/* The split brain this guards against: a head hung while another took its shelves over
 * with force; one shelf restarted (its list now empty); the hung head resumes and its
 * checks are all due at once.  It must not take the restarted shelf back: the other
 * shelf's list names the new head. */
Test(reserve, resumed_old_head_does_not_take_back_a_restarted_shelf)
{
  struct rig r;

  rig_open(&r, 16);
  struct aoe_target *t2 = second_target(&r);
  claim(&r, r.t);
  claim(&r, t2);
  check_due(&r, r.t);
  check_due(&r, t2);
  step(&r);
  probe(t2);
  probe_answer(&r, r.t, shelf_mac, NULL, 0);                    /* restarted */
  step(&r);
  cr_assert_null(reassert_frame(r.t), "re-asserted before the rest of the claim was read");
  probe_answer(&r, t2, shelf2_mac, theirs, 1);                  /* taken */
  for (int i = 0; i < 3; i++)
    step(&r);
  cr_assert_null(reassert_frame(r.t), "took the restarted shelf back from the new head");
  cr_assert(r.ini->rr_taken);
  rig_close(&r);
}

/* The new head, on the announce: the rest of its claim is read first, then the restarted
 * shelf re-asserted. */
Test(reserve, new_head_reasserts_once_the_rest_is_read)
{
  struct rig r;

  rig_open(&r, 17);
  struct aoe_target *t2 = second_target(&r);
  claim(&r, r.t);
  claim(&r, t2);
  announce(&r, SLOT, shelf_mac);
  step(&r);
  cr_assert_null(reassert_frame(r.t), "re-asserted before the rest was read");
  probe(t2);
  probe_answer(&r, t2, shelf2_mac, ours, 1);
  step(&r);
  cr_assert_not_null(reassert_frame(r.t), "not re-asserted once the rest was read");
  rig_close(&r);
}

/* Our re-assert refused (another host got there first): taken. */
Test(reserve, refused_reassert_is_a_takeover)
{
  struct rig r;

  rig_open(&r, 18);
  claim(&r, r.t);
  announce(&r, SLOT, shelf_mac);
  step(&r);
  rr_answer(&r, SLOT, shelf_mac, reassert_frame(r.t), theirs, 1, 1);
  cr_assert(r.ini->rr_taken && !r.t->reserved);
  for (int i = 0; i < 3; i++)
    step(&r);
  cr_assert_null(reassert_frame(r.t));
  rig_close(&r);
}

/* AoE error 6 on a write to one shelf: a shelf of the claim that forgot us gets no more
 * I/O; one still ours does (the caller fences at its first EBADE). */
Test(reserve, conflict_on_io_stops_io_to_a_shelf_that_forgot_us)
{
  struct rig r;
  uint8_t buf[8 * AOE_SECTOR] = { 0 };
  struct result res, res2;
  struct aoe_msg m;

  rig_open(&r, 19);
  struct aoe_target *t2 = second_target(&r);
  claim(&r, r.t);
  claim(&r, t2);
  announce(&r, SLOT + 1, shelf2_mac);                   /* t2 restarted */
  write8(r.t, buf, &res);
  struct aoe_frame *f = inflight(&r, 0);
  cr_assert_not_null(f);
  hdr(&m, shelf_mac, AOE_CMD_ATA, f->tag);
  m.h.flags |= AOE_FLAG_ERR;
  m.h.error = AOE_ERR_RESERVED;
  r.len = aoe_encode(r.frame, sizeof r.frame, &m);
  rx(&r, r.frame, r.len);
  cr_assert_eq(res.done, 1);
  cr_assert_eq(res.err, EBADE);
  cr_assert(r.ini->rr_taken);
  step(&r);
  cr_assert_null(reassert_frame(t2), "re-asserted a shelf once the claim was taken");
  write8(t2, buf, &res2);
  step(&r);
  cr_assert_eq(res2.done, 1);
  cr_assert_eq(res2.err, EBADE, "a write went on to a shelf that forgot us: %d", res2.err);
  rig_close(&r);
}

/* The claim taken, a shelf still ours keeps its I/O: it is the caller's to stop. */
Test(reserve, shelf_still_ours_keeps_its_io_after_the_claim_is_taken)
{
  struct rig r;
  uint8_t buf[8 * AOE_SECTOR] = { 0 };
  struct result res;

  rig_open(&r, 22);
  struct aoe_target *t2 = second_target(&r);
  claim(&r, r.t);
  claim(&r, t2);
  check_due(&r, r.t);
  step(&r);
  probe_answer(&r, r.t, shelf_mac, theirs, 1);
  cr_assert(r.ini->rr_taken);
  write8(t2, buf, &res);
  aoe_issue_direct(r.ini, t2);
  cr_assert_eq(res.done, 0, "a write to a shelf still ours failed: %d", res.err);
  rig_close(&r);
}

/* Each responder (path) keeps its own list: one that restarted lists nobody while the
 * other still lists us.  Lost: re-asserted on every path. */
Test(reserve, one_responder_of_two_forgot_us)
{
  static const uint8_t path2_mac[6] = { 0x02, 0, 0, 0, 0, 0x60 };
  struct rig r;
  struct aoe_msg m;

  rig_open(&r, 20);
  hdr(&m, path2_mac, AOE_CMD_CONFIG, 0x80000000u);
  m.u.cfg = (struct aoe_cfg){ .bufcnt = 16, .scnt = 2 };
  r.len = aoe_encode(r.frame, sizeof r.frame, &m);
  rx(&r, r.frame, r.len);
  aoe_issue_direct(r.ini, r.t);
  identify(&r, path2_mac);
  cr_assert_eq(r.t->npaths, 2);
  cr_assert(r.t->paths[1].state == PATH_ACTIVE && r.t->paths[1].up);
  claim(&r, r.t);
  check_due(&r, r.t);
  step(&r);
  cr_assert_eq(r.t->rr_probe_sent, 3, "not every path was asked");
  probe_answer(&r, r.t, shelf_mac, ours, 1);
  cr_assert_neq(r.t->rr_probe_tag, 0, "judged before every path answered");
  probe_answer(&r, r.t, path2_mac, NULL, 0);
  step(&r);
  unsigned sets = 0;
  for (unsigned i = 0; i < AOE_MAX_FRAMES; i++)
    sets += r.t->frames[i].state == FRAME_INFLIGHT && r.t->frames[i].cmd == AOE_CMD_RESERVE;
  cr_assert_eq(sets, 2, "the re-assert did not go to both responders: %u", sets);
  rig_close(&r);
}

/* A read nobody answers says nothing: no re-assert, no takeover, asked again soon. */
Test(reserve, unanswered_read_says_nothing)
{
  struct rig r;

  rig_open(&r, 21);
  claim(&r, r.t);
  check_due(&r, r.t);
  step(&r);
  uint32_t tag = probe(r.t);
  pthread_mutex_lock(&r.ini->lock);
  r.t->rr_probe_us -= 1000ull * (AOE_RR_PROBE_TIMEOUT_MS + 1);
  pthread_mutex_unlock(&r.ini->lock);
  step(&r);
  cr_assert_neq(r.t->rr_probe_tag, tag, "the unanswered read was not given up");
  cr_assert(!r.ini->rr_taken && r.t->reserved && !r.t->rr_lost_us);
  cr_assert_null(reassert_frame(r.t));
  cr_assert(r.t->rr_next_us <= aoe_now_us() + 1000ull * AOE_RR_PROBE_TIMEOUT_MS,
            "not asked again soon");
  rig_close(&r);
}

/* A write to T in flight (an ATA write frame), or NULL. */
static struct aoe_frame *write_frame(struct aoe_target *t)
{
  for (unsigned i = 0; i < AOE_MAX_FRAMES; i++)
    if (t->frames[i].state == FRAME_INFLIGHT && t->frames[i].cmd == AOE_CMD_ATA &&
        t->frames[i].write)
      return &t->frames[i];
  return NULL;
}

/* T's re-assert is out and its held write not: answered with our list, the write goes. */
static void reassert_releases_write(struct rig *r, struct aoe_target *t)
{
  struct aoe_frame *f = reassert_frame(t);
  cr_assert_not_null(f, "not re-asserted");
  cr_assert_null(write_frame(t), "a write went out before the re-assert was answered");
  rr_answer(r, SLOT, shelf_mac, f, ours, 1, 0);
  step(r);
  cr_assert_not_null(write_frame(t), "the write was not released by the re-assert");
}

/* The initiator did not run for two seconds (its process was stopped), as the loop sees
 * it on its next turn. */
static void stall(struct rig *r)
{
  pthread_mutex_lock(&r->ini->lock);
  r->ini->last_step_us = aoe_now_us() - 2000000;
  pthread_mutex_unlock(&r->ini->lock);
}

/* A head resumed from a stall sends no I/O to a shelf it holds before a reservation read
 * sent since says the shelf is still its own. */
Test(reserve, resumed_head_holds_io_until_its_reservation_is_read)
{
  struct rig r;
  uint8_t buf[8 * AOE_SECTOR] = { 0 };
  struct result res;

  rig_open(&r, 23);
  claim(&r, r.t);
  step(&r);
  stall(&r);
  write8(r.t, buf, &res);                       /* the request pending when it stopped */
  cr_assert_null(write_frame(r.t), "a write went out before the reservation was read");
  step(&r);
  cr_assert_null(write_frame(r.t), "a write went out before the reservation was read");
  probe_answer(&r, r.t, shelf_mac, ours, 1);
  step(&r);
  cr_assert_not_null(write_frame(r.t), "the write was not released once the shelf was ours");
  cr_assert_eq(res.done, 0);
  rig_close(&r);
}

/* The head stopped while a reservation read was out; its answer, read on resuming, was
 * sent before the stall and says nothing of it: the list is read again at once, and the
 * held I/O goes out one round trip later, not a keepalive interval later. */
Test(reserve, read_outstanding_at_a_stall_is_asked_again_at_once)
{
  struct rig r;
  uint8_t buf[8 * AOE_SECTOR] = { 0 };
  struct result res;

  rig_open(&r, 27);
  claim(&r, r.t);
  check_due(&r, r.t);
  step(&r);
  uint32_t old = probe(r.t);
  stall(&r);
  write8(r.t, buf, &res);
  step(&r);
  cr_assert_null(write_frame(r.t), "a write went out before the reservation was read");
  probe_answer(&r, r.t, shelf_mac, ours, 1);    /* the answer to the read sent before */
  step(&r);
  cr_assert_null(write_frame(r.t), "a read sent before the stall released the write");
  cr_assert(r.t->rr_probe_tag && r.t->rr_probe_tag != old,
            "the list was not read again after the stall: I/O waits a keepalive interval");
  probe_answer(&r, r.t, shelf_mac, ours, 1);
  step(&r);
  cr_assert_not_null(write_frame(r.t), "the write was not released once the shelf was ours");
  rig_close(&r);
}

/* A storage host reboots: both shelves announce.  Each one's read finds the other empty
 * (not another host's): both are re-asserted, and nothing is fenced. */
Test(reserve, two_shelves_restarting_together_are_both_reasserted)
{
  struct rig r;

  rig_open(&r, 28);
  struct aoe_target *t2 = second_target(&r);
  claim(&r, r.t);
  claim(&r, t2);
  step(&r);
  announce(&r, SLOT, shelf_mac);
  announce(&r, SLOT + 1, shelf2_mac);
  for (int i = 0; i < 4 && (r.t->rr_lost_us || t2->rr_lost_us); i++) {
    step(&r);
    if (r.t->rr_probe_tag)
      probe_answer(&r, r.t, shelf_mac, NULL, 0);
    if (t2->rr_probe_tag)
      probe_answer(&r, t2, shelf2_mac, NULL, 0);
    step(&r);
    struct aoe_frame *f = reassert_frame(r.t);
    if (f)
      rr_answer(&r, SLOT, shelf_mac, f, ours, 1, 0);
    f = reassert_frame(t2);
    if (f)
      rr_answer(&r, SLOT + 1, shelf2_mac, f, ours, 1, 0);
    usleep(1000);
  }
  cr_assert(!r.ini->rr_taken, "a restart of both shelves was taken for a takeover");
  cr_assert(!r.t->rr_lost_us && !t2->rr_lost_us, "not both re-asserted");
  cr_assert(r.t->reserved && t2->reserved);
  rig_close(&r);
}

/* A slow shelf (its frames take 400 ms: a loaded disk behind a single-threaded vblade)
 * answers reservation reads as late: they are waited for as long as its I/O is, not
 * judged unanswered at 250 ms, every time, which would hold I/O for the dead time after
 * any stall and never let a restarted shelf be re-asserted. */
Test(reserve, slow_shelf_read_is_waited_for_as_long_as_its_io)
{
  struct rig r;

  rig_open(&r, 29);
  claim(&r, r.t);
  pthread_mutex_lock(&r.ini->lock);
  r.t->paths[0].rtt.srtt_us = 400000;
  r.t->paths[0].rtt.rttvar_us = 50000;
  r.t->paths[0].rtt.rto_us = 600000;
  pthread_mutex_unlock(&r.ini->lock);
  check_due(&r, r.t);
  step(&r);
  probe(r.t);
  pthread_mutex_lock(&r.ini->lock);
  r.t->rr_probe_us -= 400000;                   /* its answer is 400 ms away */
  uint64_t sent = r.t->rr_probe_us;
  pthread_mutex_unlock(&r.ini->lock);
  step(&r);
  probe_answer(&r, r.t, shelf_mac, ours, 1);
  cr_assert_eq(r.t->rr_read_us, sent, "the slow shelf's answer was not taken");
  rig_close(&r);
}

/* aoeraid remove of a shelf that is down: its release cannot be sent, but the shelf is
 * out of our claim all the same.  Back (another head may have it by now), it is neither
 * re-asserted nor taken for a takeover of the array: the healthy rest keeps its claim. */
Test(reserve, shelf_released_while_down_is_out_of_the_claim)
{
  struct rig r;
  struct aoe_msg m;

  rig_open(&r, 30);
  struct aoe_target *t2 = second_target(&r);
  claim(&r, r.t);
  claim(&r, t2);
  step(&r);
  atomic_store(&r.t->up, 0);                    /* declared down */
  cr_assert_lt(aoe_release(r.t), 0, "a release was sent to a shelf that is down");
  hdr(&m, shelf_mac, AOE_CMD_CONFIG, 0x80000000u);  /* back */
  m.u.cfg = (struct aoe_cfg){ .bufcnt = 16, .scnt = 2 };
  r.len = aoe_encode(r.frame, sizeof r.frame, &m);
  rx(&r, r.frame, r.len);
  aoe_issue_direct(r.ini, r.t);
  identify(&r, shelf_mac);
  cr_assert(aoe_target_up(r.t));
  step(&r);
  cr_assert_null(reassert_frame(r.t), "a released shelf was re-asserted");
  if (r.t->rr_probe_tag)
    probe_answer(&r, r.t, shelf_mac, theirs, 1);    /* another head's now */
  if (t2->rr_probe_tag)
    probe_answer(&r, t2, shelf2_mac, ours, 1);
  step(&r);
  cr_assert_null(reassert_frame(r.t), "a released shelf was re-asserted");
  cr_assert(!r.ini->rr_taken, "a released shelf held by another host fenced the claim");
  rig_close(&r);
}

/* FRAME in r->frame (our_mac as its destination) as interface 1 receives it. */
static void rx_if1(struct rig *r)
{
  memcpy(r->frame, r->ini->ifaces[1].mac, 6);
  pthread_mutex_lock(&r->ini->lock);
  aoe_engine_rx(r->ini, &r->ini->ifaces[1], r->frame, r->len, aoe_now_us());
  pthread_mutex_unlock(&r->ini->lock);
  aoe_deliver(r->ini);
  aoe_issue_direct(r->ini, r->t);
}

/* Multipath: the shelf was reserved before our second interface's path to it was found
 * (its config reply came late).  The list names our first interface only: the shelf
 * would refuse the second path's I/O with error 6, taken for a takeover (the array
 * fenced, no other head anywhere).  The read on that path finds the list lacking that
 * path's interface: the reservation is re-asserted with both. */
/* A path to the rig's shelf via a second interface, found (and up) now. */
static void second_iface_path(struct rig *r)
{
  static const uint8_t our_mac2[6] = { 0x02, 0, 0, 0, 0, 0x02 };
  struct aoe_msg m;
  struct aoe_iface *ifc = &r->ini->ifaces[r->ini->nifaces++];
  snprintf(ifc->name, sizeof ifc->name, "fuzz1");
  memcpy(ifc->mac, our_mac2, 6);
  ifc->mtu = 1500;
  ifc->pcap = pcap_open_dead(DLT_EN10MB, 65535);
  ifc->fd = -1;
  ifc->txcap = 9216;
  ifc->tx = malloc(ifc->txcap);
  cr_assert_eq(aoe_net_txq_alloc(ifc), 0);
  hdr(&m, shelf_mac, AOE_CMD_CONFIG, 0x80000000u);
  m.u.cfg = (struct aoe_cfg){ .bufcnt = 16, .scnt = 2 };
  r->len = aoe_encode(r->frame, sizeof r->frame, &m);
  rx_if1(r);
  cr_assert_eq(r->t->npaths, 2, "no path via the second interface");
  struct aoe_frame *f = inflight(r, 0);
  cr_assert_not_null(f, "no IDENTIFY on the new path");
  uint8_t id[AOE_SECTOR] = { 0 };
  id[2 * 83 + 1] = 0x24;
  for (int i = 0; i < 4; i++)
    id[200 + i] = (uint8_t)(SECTORS >> (8 * i));
  memcpy(id + 20, "1 fuzz", 6);
  ata_reply(r, shelf_mac, f->tag, 0, id, 1);
  rx_if1(r);
  cr_assert(r->t->paths[1].state == PATH_ACTIVE && r->t->paths[1].up, "the path is not up");
}

/* A path found after we reserved the shelf: its interface is added to the reservation
 * at once (re-asserted; I/O waits for it), before any I/O goes that way and is refused. */
Test(reserve, path_found_after_reserving_is_added_to_the_reservation)
{
  struct rig r;

  rig_open(&r, 32);
  claim(&r, r.t);
  second_iface_path(&r);
  step(&r);
  struct aoe_frame *f = reassert_frame(r.t);
  cr_assert_not_null(f, "the new path's interface was not added to the reservation");
  cr_assert_eq(f->req->nmacs, 2);
  rig_close(&r);
}

Test(reserve, list_lacking_a_paths_interface_is_reasserted)
{
  struct rig r;

  rig_open(&r, 31);
  claim(&r, r.t);                               /* reserved with our_mac only */
  second_iface_path(&r);
  pthread_mutex_lock(&r.ini->lock);
  r.t->rr_lost_us = 0;          /* the read alone finds it (a list set by another of us) */
  pthread_mutex_unlock(&r.ini->lock);
  check_due(&r, r.t);
  step(&r);
  cr_assert_eq(r.t->rr_probe_sent, 3, "not every path was asked");
  probe_answer(&r, r.t, shelf_mac, ours, 1);    /* via interface 0 */
  rx_if1(&r);                                   /* the same answer, via interface 1 */
  cr_assert_eq(r.t->rr_probe_tag, 0, "the read was not judged");
  step(&r);
  struct aoe_frame *f = reassert_frame(r.t);
  cr_assert_not_null(f, "a list lacking the second path's interface was not re-asserted");
  cr_assert_eq(f->req->nmacs, 2);
  cr_assert(!r.ini->rr_taken);
  rig_close(&r);
}

/* A re-assert the shelf refuses with an error other than a conflict (it says nothing of
 * who holds it) is tried again after a pause, not at once, round trip after round trip. */
Test(reserve, failed_reassert_is_not_retried_at_once)
{
  struct rig r;

  rig_open(&r, 33);
  claim(&r, r.t);
  announce(&r, SLOT, shelf_mac);
  step(&r);
  struct aoe_frame *f = reassert_frame(r.t);
  cr_assert_not_null(f);
  struct aoe_msg m;
  hdr(&m, shelf_mac, AOE_CMD_RESERVE, f->tag);
  m.h.flags |= AOE_FLAG_ERR;
  m.h.error = AOE_ERR_DEVUNAVAIL;
  m.u.rr = (struct aoe_rr){ .rcmd = AOE_RCMD_SET, .nmacs = 0, .macs = NULL };
  r.len = aoe_encode(r.frame, sizeof r.frame, &m);
  rx(&r, r.frame, r.len);
  cr_assert_null(reassert_frame(r.t), "a failed re-assert was sent again at once");
  step(&r);
  cr_assert_null(reassert_frame(r.t), "a failed re-assert was sent again at once");
  cr_assert_neq(r.t->rr_lost_us, 0);
  rig_close(&r);
}

/* A shelf found lost long ago (never re-asserted: it went down first) comes back: its
 * I/O waits for the re-assert again, as that of any shelf back from down does; the hold
 * counts from its return, not from the old loss (over by then). */
Test(reserve, shelf_back_from_down_holds_io_from_its_return)
{
  struct rig r;
  struct aoe_msg m;
  uint8_t buf[8 * AOE_SECTOR] = { 0 };
  struct result res;

  rig_open(&r, 34);
  claim(&r, r.t);
  pthread_mutex_lock(&r.ini->lock);
  r.t->rr_lost_us = aoe_now_us() - 2000ull * r.ini->opt.dead_time_ms;
  pthread_mutex_unlock(&r.ini->lock);
  atomic_store(&r.t->up, 0);                    /* declared down */
  hdr(&m, shelf_mac, AOE_CMD_CONFIG, 0x80000000u);  /* back */
  m.u.cfg = (struct aoe_cfg){ .bufcnt = 16, .scnt = 2 };
  r.len = aoe_encode(r.frame, sizeof r.frame, &m);
  rx(&r, r.frame, r.len);
  aoe_issue_direct(r.ini, r.t);
  identify(&r, shelf_mac);
  cr_assert(aoe_target_up(r.t));
  write8(r.t, buf, &res);
  cr_assert_null(write_frame(r.t), "a write went out to a shelf back from down before the "
                 "re-assert");
  step(&r);
  cr_assert_null(write_frame(r.t), "a write went out before the re-assert");
  reassert_releases_write(&r, r.t);
  rig_close(&r);
}

/* The split brain of tests/plugin-failover-restart.sh inside its window: the old head
 * resumes after a shelf restarted and before the new head re-asserted it.  Its write to
 * the restarted shelf (which would take it) never goes out: the other shelf's list names
 * the new head, and the write fails with EBADE. */
Test(reserve, resumed_old_head_writes_nothing_to_a_restarted_shelf)
{
  struct rig r;
  uint8_t buf[8 * AOE_SECTOR] = { 0 };
  struct result res;

  rig_open(&r, 24);
  struct aoe_target *t2 = second_target(&r);
  claim(&r, r.t);
  claim(&r, t2);
  step(&r);
  stall(&r);
  write8(r.t, buf, &res);
  step(&r);
  probe_answer(&r, r.t, shelf_mac, NULL, 0);    /* restarted: open to anyone */
  step(&r);
  cr_assert_null(write_frame(r.t), "a write went out to a shelf that forgot us");
  probe_answer(&r, t2, shelf2_mac, theirs, 1);  /* the new head's */
  step(&r);
  cr_assert_null(write_frame(r.t), "a write went out to a shelf that forgot us");
  cr_assert_null(reassert_frame(r.t), "took the restarted shelf back");
  cr_assert_eq(res.done, 1, "the held write was not failed once the claim was taken");
  cr_assert_eq(res.err, EBADE);
  rig_close(&r);
}

/* The new head, after a shelf's announce: its I/O there waits for the re-assert. */
Test(reserve, io_to_a_shelf_that_forgot_us_waits_for_the_reassert)
{
  struct rig r;
  uint8_t buf[8 * AOE_SECTOR] = { 0 };
  struct result res;

  rig_open(&r, 25);
  claim(&r, r.t);
  write8(r.t, buf, &res);
  struct aoe_frame *w = write_frame(r.t);
  cr_assert_not_null(w);
  ata_reply(&r, shelf_mac, w->tag, w->lba, NULL, 0);
  rx(&r, r.frame, r.len);
  while (!res.done && (w = write_frame(r.t))) {
    ata_reply(&r, shelf_mac, w->tag, w->lba, NULL, 0);
    rx(&r, r.frame, r.len);
  }
  cr_assert_eq(res.done, 1, "the first write did not complete");
  announce(&r, SLOT, shelf_mac);
  write8(r.t, buf, &res);
  cr_assert_null(write_frame(r.t), "a write went out before the re-assert");
  step(&r);
  reassert_releases_write(&r, r.t);
  rig_close(&r);
}

/* A hold never outlasts the dead time: a shelf whose reservation cannot be read is the
 * keepalives' to judge, not a hang. */
Test(reserve, hold_ends_after_the_dead_time)
{
  struct rig r;
  uint8_t buf[8 * AOE_SECTOR] = { 0 };
  struct result res;

  rig_open(&r, 26);
  claim(&r, r.t);
  step(&r);
  stall(&r);
  write8(r.t, buf, &res);
  step(&r);
  cr_assert_null(write_frame(r.t));
  pthread_mutex_lock(&r.ini->lock);
  r.ini->rr_stall_us -= 1000ull * r.ini->opt.dead_time_ms;
  pthread_mutex_unlock(&r.ini->lock);
  step(&r);
  cr_assert_not_null(write_frame(r.t), "held past the dead time");
  rig_close(&r);
}

/* ---- the send queue (one sendmmsg per batch of frames) ------------------------------------- */

static unsigned queue_failed;
static void count_failed(void *cookie)
{
  (void)cookie;
  queue_failed++;
}

/* Frames queued on an interface reach the socket in order, header and data as queued; when
 * the socket takes only some of them, exactly the others are reported as not sent. */
Test(send_queue, frames_go_out_in_order_and_the_rest_are_reported)
{
  struct aoe_iface ifc;
  int sv[2];
  uint8_t data[AOE_SECTOR], got[AOE_TX_HDR_MAX + AOE_SECTOR];

  memset(&ifc, 0, sizeof ifc);
  cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv), 0);
  int small = 1;                /* the kernel's least send buffer: a few frames, then EAGAIN */
  cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  ifc.fd = sv[0];
  cr_assert_eq(aoe_net_txq_alloc(&ifc), 0);
  memset(data, 0xd5, sizeof data);
  /* more frames than the queue holds, so that it is also sent once when full */
  for (unsigned i = 0; i < AOE_TX_BATCH + 5; i++) {
    uint8_t *h = aoe_net_queue_hdr(&ifc, count_failed);
    cr_assert_not_null(h);
    memset(h, (int)i, AOE_MIN_FRAME);
    aoe_net_queue(&ifc, AOE_MIN_FRAME, i % 2 ? data : NULL, i % 2 ? sizeof data : 0,
                  (void *)(uintptr_t)i);
  }
  aoe_net_flush(&ifc, count_failed);
  cr_assert_eq(ifc.txq->n, 0, "the queue was not emptied");
  /* the first batch went out when the queue was full, the rest at the flush: each batch
   * delivers a prefix, in order */
  unsigned received = 0, expect = 0;
  ssize_t n;
  while ((n = recv(sv[1], got, sizeof got, 0)) > 0) {
    while (expect < AOE_TX_BATCH + 5 && got[0] != (uint8_t)expect)
      expect++;                 /* frames the socket refused */
    cr_assert(expect < AOE_TX_BATCH + 5, "a frame out of order");
    cr_assert_eq((size_t)n, AOE_MIN_FRAME + (expect % 2 ? sizeof data : 0),
                 "frame %u has %zd bytes", expect, n);
    if (expect % 2)
      cr_assert(!memcmp(got + AOE_MIN_FRAME, data, sizeof data), "frame %u's data", expect);
    received++;
    expect++;
  }
  cr_assert(received > 0 && queue_failed > 0, "%u received, %u reported failed: the test "
            "needs both", received, queue_failed);
  cr_assert_eq(received + queue_failed, AOE_TX_BATCH + 5, "%u received, %u reported failed",
               received, queue_failed);
  /* a lone frame (its own send or sendmsg), with and without data */
  queue_failed = 0;
  for (unsigned with_data = 0; with_data < 2; with_data++) {
    uint8_t *h = aoe_net_queue_hdr(&ifc, count_failed);
    memset(h, 0x77, AOE_MIN_FRAME);
    aoe_net_queue(&ifc, AOE_MIN_FRAME, with_data ? data : NULL, with_data ? sizeof data : 0, NULL);
    aoe_net_flush(&ifc, count_failed);
    n = recv(sv[1], got, sizeof got, 0);
    cr_assert_eq(n, (ssize_t)(AOE_MIN_FRAME + (with_data ? sizeof data : 0)), "%zd bytes", n);
    cr_assert(got[0] == 0x77 && (!with_data || !memcmp(got + AOE_MIN_FRAME, data, sizeof data)));
  }
  cr_assert_eq(queue_failed, 0);
  close(sv[0]);
  close(sv[1]);
  free(ifc.txq);
}

/* The rig's sends fail: a queued frame that did not go out is counted on its path and
 * stays in flight, and its timer sends it again; the read then completes. */
Test(send_queue, a_frame_not_sent_is_counted_and_retransmitted)
{
  struct rig r;
  uint8_t buf[READ_SECTORS * AOE_SECTOR];
  struct result res;

  rig_open(&r, 6);
  uint64_t errors = r.t->paths[0].st.errors;
  read_start(&r, 50, buf, &res);
  unsigned frames = 0;
  while (inflight(&r, frames))
    frames++;
  cr_assert(frames > 0, "the read sent nothing");     /* as many as the window allows */
  cr_assert_eq(r.ini->ifaces[0].txq->n, 0, "frames left queued after aoe_submit");
  cr_assert_eq(r.t->paths[0].st.errors - errors, frames, "failed sends were not counted");
  uint32_t tag = inflight(&r, 0)->tag;
  for (unsigned i = 0; i < frames; i++)
    inflight(&r, i)->deadline_us = 0;
  aoe_engine_step(r.ini, 0);
  cr_assert(inflight(&r, 0)->tag != tag, "the timer did not send the frame again");
  cr_assert_eq(r.t->paths[0].st.errors - errors, 2 * frames, "failed resends not counted");
  read_finish(&r, 50, buf, &res, "after failed sends");
  rig_close(&r);
}

/* Two initiators on one interface (two arrays served from one head) share its MAC, and a
 * shelf's reservation cannot tell them apart: the second's Reserve of a shelf the first
 * holds would be taken, its Release would drop the first's reservation.  The local claim
 * refuses both, unsent, naming the process that holds the shelf, and tells one that
 * reserves nothing the shelf is held; once that one lets go, the shelf is free. */
Test(claim, a_second_initiator_on_one_mac_is_refused_and_releases_nothing, .timeout = 30)
{
  static const uint8_t claim_mac[6] = { 0x02, 0, 0, 0, 0xc1, 0x01 };   /* this test's own */
  struct rig a, b;
  char err[256] = "", want[96];

  rig_open(&a, 41);
  rig_open(&b, 42);
  memcpy(a.ini->ifaces[0].mac, claim_mac, 6);
  memcpy(b.ini->ifaces[0].mac, claim_mac, 6);
  cr_assert_eq(aoe_claim_take(a.t, err, sizeof err), 0, "the first claim failed: %s", err);
  cr_assert_eq(aoe_claim_take(a.t, err, sizeof err), 0, "a claim held is not taken again");
  snprintf(want, sizeof want, "e%u.%u is claimed by process %d on this host", SHELF, SLOT,
           (int)getpid());
  for (int force = 0; force < 2; force++) {
    err[0] = 0;
    cr_assert_eq(aoe_reserve(b.t, force, err, sizeof err), -EBUSY,
                 "a second initiator reserved a shelf the first holds (force %d)", force);
    cr_assert(strstr(err, want), "the refusal does not name the holder: '%s'", err);
    cr_assert_null(inflight(&b, 0), "the refused Reserve was sent");
  }
  cr_assert_eq(aoe_release(b.t), -EBUSY, "the second initiator released the first's shelf");
  cr_assert_null(inflight(&b, 0), "a Release of the first's shelf was sent");
  cr_assert_eq(aoe_claim_free(b.t, err, sizeof err), -EBUSY,
               "a shelf the first holds is free to a second that reserves nothing");
  cr_assert(strstr(err, want), "the check does not name the holder: '%s'", err);
  aoe_claim_drop(a.t);
  cr_assert_eq(aoe_claim_free(b.t, err, sizeof err), 0, "a claim let go is not free: %s", err);
  cr_assert_eq(b.t->nclaim_fds, 0, "the check kept the claim");
  cr_assert_eq(aoe_claim_take(b.t, err, sizeof err), 0, "a claim let go is not free: %s", err);
  rig_close(&a);
  rig_close(&b);
}

/* Two initiators on one interface both receive every reply to its MAC: their frames to one
 * shelf (one's scan reads the other's) must not carry the same tags, or a reply to one's
 * read could complete the other's frame (a write of the same sectors). */
Test(claim, two_initiators_on_one_mac_tag_their_frames_apart)
{
  struct rig a, b;
  uint8_t bufa[READ_SECTORS * AOE_SECTOR], bufb[READ_SECTORS * AOE_SECTOR];
  struct result ra, rb;

  rig_open(&a, 43);
  rig_open(&b, 44);
  read_start(&a, 0, bufa, &ra);
  read_start(&b, 0, bufb, &rb);
  for (unsigned i = 0; inflight(&a, i); i++)
    for (unsigned j = 0; inflight(&b, j); j++)
      cr_assert_neq(inflight(&a, i)->tag, inflight(&b, j)->tag,
                    "both initiators sent tag %08x to e%u.%u", inflight(&a, i)->tag, SHELF,
                    SLOT);
  rig_close(&a);
  rig_close(&b);
}

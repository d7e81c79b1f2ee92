/* The initiator's receive path (aoe_engine_rx) without a network: an initiator on a dead
 * pcap handle (its sends fail and count as lost frames), a shelf made of a buffer, and
 * replies built here.  Spoofed, stale, misdirected and mangled replies must never complete
 * a request with wrong data; a random and mutated stream of frames must never crash the
 * engine or complete a read with bytes the shelf does not hold.  Reservations we hold are
 * kept across a shelf restart (its announce, or a read of its list, finds it forgot us:
 * re-asserted once the rest of the claim is read intact) and never taken back from a head
 * that took them over.  Deterministic: the engine reads the rig's clock (rig_now_us), which
 * moves only when a test moves it, never with how late a loaded machine ran the test. */
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
static uint64_t rig_now_us = 1000000000;  /* the engine's clock, from 1000 s */

/* The engine's clock: a microsecond on at each look, so that events keep their order as
 * on a real clock (a read answered before a stall was answered before it), and any longer
 * time passes only as a test says (rig_now_us += ...). */
static uint64_t rig_clock(void)
{
  return rig_now_us++;
}

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
  aoe_engine_rx(r->ini, &r->ini->ifaces[0], frame, len, rig_clock());
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
  for (unsigned i = 0; i < r->t->nframes; i++)
    if (r->t->frames[i].state == FRAME_INFLIGHT && nth-- == 0)
      return &r->t->frames[i];
  return NULL;
}

/* The shelf's reply from SRC to the IDENTIFY in flight, in r->frame. */
static void identify_reply(struct rig *r, const uint8_t *src)
{
  uint8_t id[AOE_SECTOR] = { 0 };
  struct aoe_frame *f = inflight(r, 0);

  cr_assert_not_null(f, "no IDENTIFY in flight");
  id[2 * 83 + 1] = 0x24;                /* word 83: LBA48, FLUSH CACHE EXT */
  for (int i = 0; i < 4; i++)
    id[200 + i] = (uint8_t)(SECTORS >> (8 * i));
  memcpy(id + 20, "1 fuzz", 6);         /* serial: words 10.. (byte-swapped) */
  ata_reply(r, src, f->tag, 0, id, 1);
}

/* The shelf at SRC answers the IDENTIFY in flight. */
static void identify(struct rig *r, const uint8_t *src)
{
  identify_reply(r, src);
  rx(r, r->frame, r->len);
}

/* The shelf at SRC answers our discovery (a config reply), in r->frame. */
static void config_reply(struct rig *r, const uint8_t *src)
{
  struct aoe_msg m;

  hdr(&m, src, AOE_CMD_CONFIG, 0x80000000u);
  m.u.cfg = (struct aoe_cfg){ .bufcnt = 16, .scnt = 2 };
  r->len = aoe_encode(r->frame, sizeof r->frame, &m);
}

/* The shelf at SRC as slot SLOT_ answers our discovery, then its IDENTIFY: its target (a
 * new one, or one we know by another path or from before it went down), up.  r->t stays
 * the rig's shelf once there is one. */
static struct aoe_target *discover(struct rig *r, unsigned slot, const uint8_t *src)
{
  struct aoe_target *rig_t = r->t, *t = NULL;

  cur_slot = slot;
  config_reply(r, src);
  rx(r, r->frame, r->len);
  for (size_t i = 0; i < r->ini->ntargets; i++)
    if (r->ini->targets[i]->slot == slot)
      t = r->ini->targets[i];
  cr_assert_not_null(t, "the config reply of e%u.%u made no target", SHELF, slot);
  r->t = t;
  aoe_issue_direct(r->ini, t);
  identify(r, src);
  cr_assert(aoe_target_up(t), "e%u.%u did not come up", SHELF, slot);
  r->t = rig_t ? rig_t : t;
  cur_slot = SLOT;
  return t;
}

/* An interface NAME with MAC on a dead pcap handle: its sends fail. */
static void iface_add(struct rig *r, const char *name, const uint8_t *mac)
{
  struct aoe_iface *ifc = &r->ini->ifaces[r->ini->nifaces++];

  snprintf(ifc->name, sizeof ifc->name, "%s", name);
  memcpy(ifc->mac, mac, 6);
  ifc->mtu = 1500;
  ifc->pcap = pcap_open_dead(DLT_EN10MB, 65535);
  ifc->fd = -1;
  ifc->txcap = 9216;
  ifc->tx = malloc(ifc->txcap);
  cr_assert(ifc->pcap && ifc->tx);
  cr_assert_eq(aoe_net_txq_alloc(ifc), 0);      /* ATA frames go through the send queue */
}

static void rig_open(struct rig *r, uint64_t seed)
{
  memset(r, 0, sizeof *r);
  r->ini = calloc(1, sizeof *r->ini);
  cr_assert_not_null(r->ini);
  r->ini->opt.dead_time_ms = AOE_DEFAULT_DEAD_MS;
  r->ini->opt.rediscover_ms = AOE_DEFAULT_REDISCOVER_MS;
  r->ini->clock_us = rig_clock;
  pthread_mutex_init(&r->ini->lock, NULL);
  pthread_mutex_init(&r->ini->qlock, NULL);
  r->ini->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  r->ini->next_discover_us = UINT64_MAX;
  iface_add(r, "fuzz0", our_mac);
  r->disk = malloc((size_t)SECTORS * AOE_SECTOR);
  cr_assert_not_null(r->disk);
  for (size_t i = 0; i < (size_t)SECTORS * AOE_SECTOR; i++)
    r->disk[i] = (uint8_t)rnd(&seed);
  discover(r, SLOT, shelf_mac);
  cr_assert_eq(r->ini->ntargets, 1);
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

/* T reserved by us, as aoe_reserve leaves it; its next check a second away. */
static void claim(struct rig *r, struct aoe_target *t)
{
  pthread_mutex_lock(&r->ini->lock);
  t->reserved = t->claimed = 1;
  t->rr_read_us = rig_clock();
  t->rr_next_us = t->rr_read_us + 1000000;
  pthread_mutex_unlock(&r->ini->lock);
}

/* The rig, its shelf reserved by us. */
static void rig_open_held(struct rig *r, uint64_t seed)
{
  rig_open(r, seed);
  claim(r, r->t);
}

/* The rig, and a second shelf (e7.4 at shelf2_mac: returned) beside its shelf: both
 * reserved by us. */
static struct aoe_target *rig_open_two_held(struct rig *r, uint64_t seed)
{
  rig_open(r, seed);
  struct aoe_target *t2 = discover(r, SLOT + 1, shelf2_mac);
  claim(r, r->t);
  claim(r, t2);
  return t2;
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
  for (unsigned i = 0; i < t->nframes; i++) {
    struct aoe_frame *f = &t->frames[i];
    if (f->state == FRAME_INFLIGHT && f->cmd == AOE_CMD_RESERVE && f->req &&
        f->req->rcmd == AOE_RCMD_SET)
      return f;
  }
  return NULL;
}

/* The shelf at SRC as slot SLOT_ answers tag TAG (sub-command RCMD) with the list
 * MACS[N]; ERROR (0: none): refuses it with that AoE error (AOE_ERR_RESERVED, a
 * reservation conflict, comes with the holder's list). */
static void rr_answer_tag(struct rig *r, unsigned slot, const uint8_t *src, uint32_t tag,
                          uint8_t rcmd, const uint8_t (*macs)[6], unsigned n, uint8_t error)
{
  struct aoe_msg m;
  uint8_t list[4 * 6];

  cur_slot = slot;
  hdr(&m, src, AOE_CMD_RESERVE, tag);
  cur_slot = SLOT;
  if (error) {
    m.h.flags |= AOE_FLAG_ERR;
    m.h.error = error;
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
                      const uint8_t (*macs)[6], unsigned n, uint8_t error)
{
  cr_assert_not_null(f, "no re-assert in flight");
  rr_answer_tag(r, slot, src, f->tag, AOE_RCMD_SET, macs, n, error);
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

/* T's shelf at SRC restarted: its announce, then the read that checks it finds its list
 * empty (the shelf forgot us). */
static void restarted(struct rig *r, struct aoe_target *t, const uint8_t *src)
{
  announce(r, t->slot, src);
  step(r);
  probe_answer(r, t, src, NULL, 0);
}

static const uint8_t ours[1][6] = { { 0x02, 0, 0, 0, 0, 0x01 } };
static const uint8_t theirs[1][6] = { { 0x02, 0, 0, 0, 0, 0x66 } };

/* A write of 8 sectors to T; its result in *RES (done: 1 once completed). */
static void write8(struct aoe_target *t, uint8_t *buf, struct result *res)
{
  memset(res, 0, sizeof *res);
  aoe_submit(t, AOE_WRITE, 0, 8, buf, on_done, res);
}

/* An announce is checked by a read of the list at once: a restarted shelf's lacks us. */
Test(reserve, announce_of_a_held_shelf_reasserts_at_once)
{
  struct rig r;

  rig_open_held(&r, 11);
  announce(&r, SLOT, shelf_mac);
  cr_assert_eq(r.ini->parse_counts[AOE_PARSE_VERSION], 0, "the announce was rejected");
  step(&r);
  probe_answer(&r, r.t, shelf_mac, NULL, 0);
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

/* Anyone can send an announce with the shelf's MAC: a forged one costs a read of the
 * list, which still names us; no re-assert, and I/O is never held for it. */
Test(reserve, forged_announce_costs_a_read_not_held_io)
{
  struct rig r;
  uint8_t buf[8 * AOE_SECTOR] = { 0 };
  struct result res;

  rig_open_held(&r, 16);
  announce(&r, SLOT, shelf_mac);
  step(&r);
  cr_assert_eq(r.t->rr_lost_us, 0, "an announce alone was taken for a restart");
  write8(r.t, buf, &res);
  step(&r);
  unsigned writes = 0;
  for (unsigned i = 0; i < r.t->nframes; i++)
    writes += r.t->frames[i].state == FRAME_INFLIGHT && r.t->frames[i].cmd == AOE_CMD_ATA &&
              r.t->frames[i].write;
  cr_assert_gt(writes, 0, "a write was held for a forged announce");
  probe_answer(&r, r.t, shelf_mac, ours, 1);
  step(&r);
  cr_assert_null(reassert_frame(r.t), "re-asserted a reservation the shelf still holds");
  cr_assert(r.t->rr_lost_us == 0 && r.t->reserved && !r.ini->rr_taken);
  rig_close(&r);
}

/* A read already out when the announce came may have been answered before the restart:
 * the list is read again once it is done. */
Test(reserve, announce_during_a_read_reads_again)
{
  struct rig r;

  rig_open_held(&r, 17);
  check_due(&r, r.t);
  step(&r);
  uint32_t before = probe(r.t);
  announce(&r, SLOT, shelf_mac);
  probe_answer(&r, r.t, shelf_mac, ours, 1);
  step(&r);
  cr_assert_neq(probe(r.t), before, "no read sent after the announce");
  probe_answer(&r, r.t, shelf_mac, NULL, 0);
  step(&r);
  cr_assert_not_null(reassert_frame(r.t), "the restart was not found");
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

  rig_open_held(&r, 13);
  step(&r);
  cr_assert_eq(r.t->rr_probe_tag, 0, "read before its interval");
  check_due(&r, r.t);
  step(&r);
  uint32_t tag = probe(r.t);
  cr_assert_eq(tag & 0xc0000000u, AOE_RR_PROBE_TAG);
  for (unsigned i = 0; i < r.t->nframes; i++)
    cr_assert_eq(r.t->frames[i].state, FRAME_FREE, "the read took a frame: it is not I/O");
  rr_answer_tag(&r, SLOT, other_mac, tag, AOE_RCMD_READ, ours, 1, 0);
  cr_assert_eq(r.t->rr_probe_tag, tag, "an answer from another MAC was taken");
  rr_answer_tag(&r, SLOT, shelf_mac, tag ^ 1, AOE_RCMD_READ, theirs, 1, 0);
  cr_assert(r.t->rr_probe_tag == tag && !r.ini->rr_taken, "an answer to another tag was taken");
  uint64_t answered_us = rig_clock();
  probe_answer(&r, r.t, shelf_mac, ours, 1);
  cr_assert_eq(r.t->rr_probe_tag, 0);
  step(&r);
  cr_assert_null(reassert_frame(r.t), "re-asserted a reservation that was there");
  cr_assert_eq(r.t->rr_probe_tag, 0, "read again at once");
  /* From the answer (the engine's clock moved a few microseconds since). */
  cr_assert(r.t->rr_next_us >= answered_us + 1000ull * aoe_keepalive_interval_ms(
              r.ini->opt.dead_time_ms), "next read not an interval away");
  rig_close(&r);
}

/* The announce was lost: the next read finds the list empty. */
Test(reserve, read_finding_nobody_reasserts)
{
  struct rig r;

  rig_open_held(&r, 14);
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

  struct aoe_target *t2 = rig_open_two_held(&r, 15);
  announce(&r, SLOT + 1, shelf2_mac);                   /* t2 restarted */
  check_due(&r, r.t);
  step(&r);
  probe_answer(&r, t2, shelf2_mac, NULL, 0);            /* its list is empty */
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
    for (unsigned i = 0; i < ts[k]->nframes; i++)
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

  struct aoe_target *t2 = rig_open_two_held(&r, 16);
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

  struct aoe_target *t2 = rig_open_two_held(&r, 17);
  restarted(&r, r.t, shelf_mac);
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

  rig_open_held(&r, 18);
  restarted(&r, r.t, shelf_mac);
  step(&r);
  rr_answer(&r, SLOT, shelf_mac, reassert_frame(r.t), theirs, 1, AOE_ERR_RESERVED);
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

  struct aoe_target *t2 = rig_open_two_held(&r, 19);
  restarted(&r, t2, shelf2_mac);                     /* t2 restarted */
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

  struct aoe_target *t2 = rig_open_two_held(&r, 22);
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

  rig_open(&r, 20);
  discover(&r, SLOT, path2_mac);
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
  for (unsigned i = 0; i < r.t->nframes; i++)
    sets += r.t->frames[i].state == FRAME_INFLIGHT && r.t->frames[i].cmd == AOE_CMD_RESERVE;
  cr_assert_eq(sets, 2, "the re-assert did not go to both responders: %u", sets);
  rig_close(&r);
}

/* A read nobody answers says nothing: no re-assert, no takeover, asked again soon. */
Test(reserve, unanswered_read_says_nothing)
{
  struct rig r;

  rig_open_held(&r, 21);
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
  cr_assert(r.t->rr_next_us <= rig_clock() + 1000ull * AOE_RR_PROBE_TIMEOUT_MS,
            "not asked again soon");
  rig_close(&r);
}

/* A write to T in flight (an ATA write frame), or NULL. */
static struct aoe_frame *write_frame(struct aoe_target *t)
{
  for (unsigned i = 0; i < t->nframes; i++)
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

/* The initiator did not run for two seconds (its process was stopped) with a write of 8
 * sectors to the rig's shelf pending (its result in *RES); it resumes, and on the loop's
 * next turn the write is held: no reservation read has said since that the shelf is ours. */
static void stall_with_write(struct rig *r, uint8_t *buf, struct result *res)
{
  pthread_mutex_lock(&r->ini->lock);
  r->ini->last_step_us = rig_clock() - 2000000;
  pthread_mutex_unlock(&r->ini->lock);
  write8(r->t, buf, res);
  cr_assert_null(write_frame(r->t), "a write went out before the reservation was read");
  step(r);
  cr_assert_null(write_frame(r->t), "a write went out before the reservation was read");
}

/* The rig's path as slow as a loaded shelf: its rto 2 s. */
static void slow_path(struct rig *r)
{
  pthread_mutex_lock(&r->ini->lock);
  r->t->paths[0].rtt.srtt_us = 400000;
  r->t->paths[0].rtt.rttvar_us = 400000;
  r->t->paths[0].rtt.rto_us = 2000000;
  pthread_mutex_unlock(&r->ini->lock);
}

/* A head resumed from a stall sends no I/O to a shelf it holds before a reservation read
 * sent since says the shelf is still its own. */
Test(reserve, resumed_head_holds_io_until_its_reservation_is_read)
{
  struct rig r;
  uint8_t buf[8 * AOE_SECTOR] = { 0 };
  struct result res;

  rig_open_held(&r, 23);
  step(&r);
  stall_with_write(&r, buf, &res);
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

  rig_open_held(&r, 27);
  check_due(&r, r.t);
  step(&r);
  uint32_t old = probe(r.t);
  stall_with_write(&r, buf, &res);
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

  struct aoe_target *t2 = rig_open_two_held(&r, 28);
  step(&r);
  restarted(&r, r.t, shelf_mac);
  restarted(&r, t2, shelf2_mac);  
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
    rig_now_us += 1000;
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

  rig_open_held(&r, 29);
  slow_path(&r);                                /* answered 400 ms late, well within */
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

  struct aoe_target *t2 = rig_open_two_held(&r, 30);
  step(&r);
  atomic_store(&r.t->up, 0);                    /* declared down */
  cr_assert_lt(aoe_release(r.t), 0, "a release was sent to a shelf that is down");
  discover(&r, SLOT, shelf_mac);                /* back */
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
  aoe_engine_rx(r->ini, &r->ini->ifaces[1], r->frame, r->len, rig_clock());
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

  iface_add(r, "fuzz1", our_mac2);
  config_reply(r, shelf_mac);
  rx_if1(r);
  cr_assert_eq(r->t->npaths, 2, "no path via the second interface");
  identify_reply(r, shelf_mac);
  rx_if1(r);
  cr_assert(r->t->paths[1].state == PATH_ACTIVE && r->t->paths[1].up, "the path is not up");
}

/* A path found after we reserved the shelf: its interface is added to the reservation
 * at once (re-asserted; I/O waits for it), before any I/O goes that way and is refused. */
Test(reserve, path_found_after_reserving_is_added_to_the_reservation)
{
  struct rig r;

  rig_open_held(&r, 32);
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

  rig_open_held(&r, 31);                       /* reserved with our_mac only */
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

  rig_open_held(&r, 33);
  restarted(&r, r.t, shelf_mac);
  step(&r);
  uint64_t failed_us = rig_clock();
  rr_answer(&r, SLOT, shelf_mac, reassert_frame(r.t), NULL, 0, AOE_ERR_DEVUNAVAIL);
  cr_assert_null(reassert_frame(r.t), "a failed re-assert was sent again at once");
  step(&r);
  cr_assert_null(reassert_frame(r.t), "a failed re-assert was sent again at once");
  rig_now_us = failed_us + 1000ull * AOE_RR_PROBE_TIMEOUT_MS - 1000;
  step(&r);
  cr_assert_null(reassert_frame(r.t), "a failed re-assert was sent again within its pause");
  rig_now_us = failed_us + 1000ull * AOE_RR_PROBE_TIMEOUT_MS + 1000;
  step(&r);
  cr_assert_not_null(reassert_frame(r.t), "a failed re-assert was not tried again after its "
                     "pause");
  cr_assert_neq(r.t->rr_lost_us, 0);
  rig_close(&r);
}

/* A shelf found lost long ago (never re-asserted: it went down first) comes back: its
 * I/O waits for the re-assert again, as that of any shelf back from down does; the hold
 * counts from its return, not from the old loss (over by then). */
Test(reserve, shelf_back_from_down_holds_io_from_its_return)
{
  struct rig r;
  uint8_t buf[8 * AOE_SECTOR] = { 0 };
  struct result res;

  rig_open_held(&r, 34);
  pthread_mutex_lock(&r.ini->lock);
  r.t->rr_lost_us = rig_clock() - 2000ull * r.ini->opt.dead_time_ms;
  pthread_mutex_unlock(&r.ini->lock);
  atomic_store(&r.t->up, 0);                    /* declared down */
  discover(&r, SLOT, shelf_mac);                /* back */
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

  struct aoe_target *t2 = rig_open_two_held(&r, 24);
  step(&r);
  stall_with_write(&r, buf, &res);
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

  rig_open_held(&r, 25);
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
  restarted(&r, r.t, shelf_mac);
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

  rig_open_held(&r, 26);
  step(&r);
  stall_with_write(&r, buf, &res);
  pthread_mutex_lock(&r.ini->lock);
  r.ini->rr_stall_us -= 1000ull * r.ini->opt.dead_time_ms;
  pthread_mutex_unlock(&r.ini->lock);
  step(&r);
  cr_assert_not_null(write_frame(r.t), "held past the dead time");
  rig_close(&r);
}

/* ---- the dead time ------------------------------------------------------------------------ */

/* A shelf we hold that answers every Query Config (discovery, keepalive) and every read of
 * its reservation list, but none of the I/O in flight (its frames lost, or too big for a
 * link on the way): those answers are not answers to the I/O, so it is declared down
 * after the dead time and the read fails with EIO, as for a shelf that answers nothing.
 * They kept it up before, and the read waited for ever. */
Test(dead, small_answers_do_not_keep_unanswered_io_waiting)
{
  struct rig r;
  uint8_t buf[READ_SECTORS * AOE_SECTOR];
  struct result res;
  const uint64_t dead_us = 1000ull * AOE_DEFAULT_DEAD_MS, tick_us = 200000;

  rig_open_held(&r, 31);
  step(&r);
  read_start(&r, 100, buf, &res);
  for (uint64_t t = 0; t < 2 * dead_us && !res.done; t += tick_us) {
    rig_now_us += tick_us;
    config_reply(&r, shelf_mac);
    rx(&r, r.frame, r.len);
    if (r.t->rr_probe_tag)
      probe_answer(&r, r.t, shelf_mac, ours, 1);
    step(&r);
    if (!res.done)
      cr_assert_leq(t, dead_us + tick_us, "the read still waits %llu ms into the dead time",
                    (unsigned long long)(t / 1000));
  }
  cr_assert_eq(res.done, 1, "the read never ended");
  cr_assert_eq(res.err, EIO, "the read ended with %d, not EIO", res.err);
  cr_assert(!aoe_target_up(r.t), "the shelf was not declared down");
  cr_assert(strstr(aoe_target_last_error(r.t), "shelf declared down"),
            "no line says why: '%s'", aoe_target_last_error(r.t));
  rig_close(&r);
}

/* ---- holding a shelf the caller cannot do without (aoe_options.may_down) ------------------ */

static unsigned may_down_calls;
static int may_down_answer;

static int hold_may_down(void *opaque, struct aoe_target *t)
{
  (void)opaque;
  (void)t;
  may_down_calls++;
  return may_down_answer;
}

/* The rig with a caller that answers ANSWER to "may it go down?" and a hold of 60 s. */
static void rig_open_hold(struct rig *r, uint64_t seed, int answer)
{
  rig_open(r, seed);
  may_down_calls = 0;
  may_down_answer = answer;
  r->ini->opt.may_down = hold_may_down;
  r->ini->opt.hold_time_ms = 60000;
}

/* Step the engine every 200 ms for US, the shelf silent. */
static void silent_for(struct rig *r, uint64_t us)
{
  for (uint64_t t = 0; t < us; t += 200000) {
    rig_now_us += 200000;
    step(r);
  }
}

/* A rig whose caller answers ANSWER to may_down, a read of the shelf in flight, and the
 * shelf silent until just past its dead time: held (ANSWER 0) or down. */
static void rig_read_past_dead_time(struct rig *r, uint64_t seed, int answer, uint8_t *buf,
                                    struct result *res)
{
  rig_open_hold(r, seed, answer);
  read_start(r, 100, buf, res);
  silent_for(r, 1000ull * AOE_DEFAULT_DEAD_MS + 400000);
}

/* The IDENTIFY in flight for T, or NULL. */
static struct aoe_frame *identify_frame(struct aoe_target *t)
{
  for (unsigned i = 0; i < t->nframes; i++) {
    struct aoe_frame *f = &t->frames[i];
    if (f->state == FRAME_INFLIGHT && f->req && f->req->kind == REQ_IDENTIFY &&
        !f->req->mtu_probe && !f->req->proof)
      return f;
  }
  return NULL;
}

/* The shelf answers discovery again, then its IDENTIFY with SERIAL ("1 fuzz": its disk). */
static void comes_back(struct rig *r, const char *serial)
{
  uint8_t id[AOE_SECTOR] = { 0 };

  config_reply(r, shelf_mac);
  rx(r, r->frame, r->len);
  struct aoe_frame *f = identify_frame(r->t);
  cr_assert_not_null(f, "the shelf answering again was not identified before its I/O");
  id[2 * 83 + 1] = 0x24;
  for (int i = 0; i < 4; i++)
    id[200 + i] = (uint8_t)(SECTORS >> (8 * i));
  memcpy(id + 20, serial, strlen(serial));
  ata_reply(r, shelf_mac, f->tag, 0, id, 1);
  rx(r, r->frame, r->len);
}

/* Only read frames in flight, none of them sent since SINCE_US: nothing went to the
 * shelf while it was not identified. */
static void nothing_sent_since(struct rig *r, uint64_t since_us, const char *when)
{
  for (unsigned i = 0; i < r->t->nframes; i++) {
    struct aoe_frame *f = &r->t->frames[i];
    if (f->state == FRAME_INFLIGHT && f->req && f->req->kind == REQ_READ)
      cr_assert_lt(f->sent_us, since_us, "%s: a frame was sent to the shelf", when);
  }
}

/* Another disk answering at a held shelf's address: the shelf stays held, nothing is
 * sent to that disk since HELD_AT, and the hold runs out into EIO. */
static void refused_disk_gets_nothing(struct rig *r, const struct result *res,
                                      uint64_t held_at)
{
  cr_assert(!res->done && aoe_target_held(r->t), "the read ended (%d)", res->err);
  nothing_sent_since(r, held_at, "another disk answering");
  silent_for(r, 60000000);
  cr_assert(res->done && res->err == EIO && !aoe_target_up(r->t),
            "the hold did not run out into EIO (done %d, err %d)", res->done, res->err);
}

/* A shelf the caller cannot do without, silent past its dead time, is held: up, its read
 * waiting; when it answers again (identified: the same disk) the read completes with its
 * bytes.  Without the hold it went down at the dead time and the read failed with EIO. */
Test(hold, silent_shelf_needed_is_held_and_its_io_resumes)
{
  struct rig r;
  uint8_t buf[READ_SECTORS * AOE_SECTOR];
  struct result res;

  rig_read_past_dead_time(&r, 41, 0, buf, &res);
  cr_assert_eq(may_down_calls, 1, "the caller was asked %u times", may_down_calls);
  cr_assert(!res.done, "the read ended (%d) at the dead time", res.err);
  cr_assert(aoe_target_up(r.t) && aoe_target_held(r.t), "the shelf is not held");
  cr_assert(strstr(aoe_target_last_error(r.t), "cannot do without it"),
            "no line says why: '%s'", aoe_target_last_error(r.t));
  uint64_t held_at = rig_now_us;
  silent_for(&r, 20000000);
  cr_assert(!res.done && aoe_target_held(r.t), "the hold ended 20 s in (read %d)", res.err);
  nothing_sent_since(&r, held_at, "held");
  comes_back(&r, "1 fuzz");
  cr_assert(!aoe_target_held(r.t), "identified again, the shelf is still held");
  silent_for(&r, 1200000);              /* the frames' timers: they go again */
  read_finish(&r, 100, buf, &res, "after the hold");
  cr_assert(aoe_target_up(r.t));
  rig_close(&r);
}

/* Held, it never answers: down, its read failed with EIO, once the hold time ran out. */
Test(hold, hold_runs_out_and_the_shelf_goes_down)
{
  struct rig r;
  uint8_t buf[READ_SECTORS * AOE_SECTOR];
  struct result res;

  rig_read_past_dead_time(&r, 42, 0, buf, &res);
  cr_assert(aoe_target_held(r.t));
  silent_for(&r, 59000000);
  cr_assert(!res.done, "the read ended (%d) before the hold time", res.err);
  silent_for(&r, 1400000);
  cr_assert_eq(res.done, 1, "the read still waits past the hold time");
  cr_assert_eq(res.err, EIO, "the read ended with %d, not EIO", res.err);
  cr_assert(!aoe_target_up(r.t) && !aoe_target_held(r.t), "not declared down");
  cr_assert(strstr(aoe_target_last_error(r.t), "hold time ran out"),
            "no line says why: '%s'", aoe_target_last_error(r.t));
  rig_close(&r);
}

/* A shelf the caller can do without goes down at its dead time, as without a hold. */
Test(hold, shelf_not_needed_goes_down_at_the_dead_time)
{
  struct rig r;
  uint8_t buf[READ_SECTORS * AOE_SECTOR];
  struct result res;

  rig_read_past_dead_time(&r, 43, 1, buf, &res);
  cr_assert_eq(may_down_calls, 1, "the caller was asked %u times", may_down_calls);
  cr_assert_eq(res.done, 1, "the read still waits");
  cr_assert_eq(res.err, EIO);
  cr_assert(!aoe_target_up(r.t) && !aoe_target_held(r.t));
  rig_close(&r);
}

/* Swapped during the outage: the disk that answers at the address is not the shelf's.
 * Its path is refused, the held read goes nowhere, and the shelf goes down when the
 * hold time runs out. */
Test(hold, another_disk_answering_gets_none_of_the_held_io)
{
  struct rig r;
  uint8_t buf[READ_SECTORS * AOE_SECTOR];
  struct result res;

  rig_read_past_dead_time(&r, 44, 0, buf, &res);
  uint64_t held_at = rig_now_us;
  comes_back(&r, "2 other");
  silent_for(&r, 5000000);
  refused_disk_gets_nothing(&r, &res, held_at);
  rig_close(&r);
}

/* The caller closing ends the holds: the held shelf goes down at the next step. */
Test(hold, ended_holds_take_the_held_shelf_down)
{
  struct rig r;
  uint8_t buf[READ_SECTORS * AOE_SECTOR];
  struct result res;

  rig_read_past_dead_time(&r, 46, 0, buf, &res);
  cr_assert(aoe_target_held(r.t) && !res.done);
  aoe_end_holds(r.ini);
  silent_for(&r, 200000);
  cr_assert(res.done && res.err == EIO, "the held read did not fail (done %d, err %d)",
            res.done, res.err);
  cr_assert(!aoe_target_up(r.t) && !aoe_target_held(r.t), "not declared down");
  cr_assert(strstr(aoe_target_last_error(r.t), "holds ended"),
            "no line says why: '%s'", aoe_target_last_error(r.t));
  rig_close(&r);
}

/* The administrator ends one shelf's hold (aoeraid fail of a held shelf the array can do
 * without now): it goes down at the next step, its held read failing with EIO, its line
 * saying so; another silent shelf is still held, hold-time still in effect.  Not held:
 * nothing happens. */
Test(hold, ended_hold_takes_that_shelf_down)
{
  struct rig r;
  uint8_t buf[READ_SECTORS * AOE_SECTOR];
  struct result res;

  rig_open_hold(&r, 47, 0);
  cr_assert_eq(aoe_end_hold(r.t), 0, "a shelf not held was said held");
  cr_assert(aoe_target_up(r.t), "ending no hold took the shelf down");
  read_start(&r, 100, buf, &res);
  silent_for(&r, 1000ull * AOE_DEFAULT_DEAD_MS + 400000);
  cr_assert(aoe_target_held(r.t) && !res.done);
  cr_assert_eq(aoe_end_hold(r.t), 1, "the held shelf was not said held");
  silent_for(&r, 200000);
  cr_assert(res.done && res.err == EIO, "the held read did not fail (done %d, err %d)",
            res.done, res.err);
  cr_assert(!aoe_target_up(r.t) && !aoe_target_held(r.t), "not declared down");
  cr_assert(strstr(aoe_target_last_error(r.t), "its hold was ended"),
            "no line says why: '%s'", aoe_target_last_error(r.t));
  cr_assert_eq(r.ini->opt.hold_time_ms, 60000, "the other shelves' holds were ended too");
  rig_close(&r);
}

/* An idle shelf silent to its keepalives is held too, and ends its hold when it answers. */
Test(hold, idle_shelf_silent_to_keepalives_is_held)
{
  struct rig r;

  rig_open_hold(&r, 45, 0);
  silent_for(&r, 1000ull * AOE_DEFAULT_DEAD_MS + 2000000);
  cr_assert_eq(may_down_calls, 1, "the caller was asked %u times", may_down_calls);
  cr_assert(aoe_target_up(r.t) && aoe_target_held(r.t), "the idle shelf is not held");
  comes_back(&r, "1 fuzz");
  cr_assert(aoe_target_up(r.t) && !aoe_target_held(r.t), "its hold did not end");
  rig_close(&r);
}

/* ---- a held shelf proves its disk (aoe_options.may_resume) --------------------------------- */

#define PROOF_LBA 8
#define PROOF_SECTORS 8                 /* four frames of two sectors */

static unsigned may_resume_calls;
static int may_resume_answer;
static int may_resume_saw_disk;         /* the block judged was the shelf's proof sectors */
static const uint8_t *proof_disk;

static int hold_may_resume(void *opaque, struct aoe_target *t, const uint8_t *block,
                           size_t len)
{
  (void)opaque;
  (void)t;
  may_resume_calls++;
  may_resume_saw_disk = len == PROOF_SECTORS * AOE_SECTOR &&
                        !memcmp(block, proof_disk + PROOF_LBA * AOE_SECTOR, len);
  return may_resume_answer;
}

/* rig_read_past_dead_time (held, a read waiting) with a caller that proves the disk by
 * PROOF_SECTORS at PROOF_LBA and answers ANSWER. */
static void rig_held_with_proof(struct rig *r, uint64_t seed, int answer, uint8_t *buf,
                                struct result *res)
{
  rig_read_past_dead_time(r, seed, 0, buf, res);
  proof_disk = r->disk;
  may_resume_calls = 0;
  may_resume_answer = answer;
  may_resume_saw_disk = 0;
  r->ini->opt.may_resume = hold_may_resume;
  r->ini->opt.proof_lba = PROOF_LBA;
  r->ini->opt.proof_sectors = PROOF_SECTORS;
  cr_assert(aoe_target_held(r->t));
}

/* The proof read in flight for T, or NULL. */
static struct aoe_frame *proof_frame(struct aoe_target *t)
{
  for (unsigned i = 0; i < t->nframes; i++) {
    struct aoe_frame *f = &t->frames[i];
    if (f->state == FRAME_INFLIGHT && f->req && f->req->proof)
      return f;
  }
  return NULL;
}

/* Identified again ("1 fuzz", the serial it had), the shelf is read for its proof, frame
 * by frame, nothing else sent meanwhile; the shelf answers each with its bytes. */
static void proof_answered(struct rig *r, uint64_t held_at)
{
  struct aoe_frame *f;
  unsigned frames = 0;

  comes_back(r, "1 fuzz");
  cr_assert(aoe_target_held(r->t), "the same serial ended the hold before the proof");
  while ((f = proof_frame(r->t))) {
    cr_assert_eq(may_resume_calls, 0, "judged before the proof was read whole");
    nothing_sent_since(r, held_at, "proving its disk");
    ata_reply(r, shelf_mac, f->tag, f->lba, r->disk + f->lba * AOE_SECTOR, f->nsect);
    rx(r, r->frame, r->len);
    cr_assert_lt(++frames, 10, "the proof is read for ever");
  }
  cr_assert_eq(may_resume_calls, 1, "the caller judged %u proofs", may_resume_calls);
  cr_assert(may_resume_saw_disk, "the caller was not given the shelf's proof sectors");
}

/* Its proof passes: the hold ends and the held read completes with the shelf's bytes. */
Test(hold, proof_passed_resumes_the_held_io)
{
  struct rig r;
  uint8_t buf[READ_SECTORS * AOE_SECTOR];
  struct result res;

  rig_held_with_proof(&r, 48, 1, buf, &res);
  proof_answered(&r, rig_now_us);
  cr_assert(aoe_target_up(r.t) && !aoe_target_held(r.t), "proved, the shelf is still held");
  silent_for(&r, 1200000);              /* the frames' timers: they go again */
  read_finish(&r, 100, buf, &res, "after the proof");
  rig_close(&r);
}

/* Its proof fails (another disk with the serial and size the shelf had, as vblade's
 * serial names the address): none of the held read is sent to it, and the hold runs out
 * into EIO. */
Test(hold, proof_refused_gets_none_of_the_held_io)
{
  struct rig r;
  uint8_t buf[READ_SECTORS * AOE_SECTOR];
  struct result res;

  rig_held_with_proof(&r, 49, 0, buf, &res);
  uint64_t held_at = rig_now_us;
  proof_answered(&r, held_at);
  cr_assert(aoe_target_held(r.t), "refused, the shelf is not held any more");
  silent_for(&r, 5000000);
  config_reply(&r, shelf_mac);          /* it answers discovery: refused, not asked again */
  rx(&r, r.frame, r.len);
  cr_assert_null(identify_frame(r.t), "the refused disk was identified again");
  refused_disk_gets_nothing(&r, &res, held_at);
  cr_assert_eq(may_resume_calls, 1, "judged %u times", may_resume_calls);
  rig_close(&r);
}

/* Its proof is not read (the shelf silent again): still held, read again when it answers
 * again, and then judged.  (may_resume NULL, the same serial ends the hold at once:
 * silent_shelf_needed_is_held_and_its_io_resumes.) */
Test(hold, proof_unread_is_asked_again)
{
  struct rig r;
  uint8_t buf[READ_SECTORS * AOE_SECTOR];
  struct result res;

  rig_held_with_proof(&r, 50, 1, buf, &res);
  uint64_t held_at = rig_now_us;
  comes_back(&r, "1 fuzz");
  cr_assert_not_null(proof_frame(r.t), "no proof read");
  silent_for(&r, 45000000);             /* its tries, backing off as an MTU probe's */
  cr_assert_null(proof_frame(r.t), "the unanswered proof is still in flight");
  cr_assert(aoe_target_held(r.t) && !res.done, "an unread proof ended the hold");
  cr_assert_eq(may_resume_calls, 0, "an unread proof was judged");
  proof_answered(&r, held_at);
  cr_assert(!aoe_target_held(r.t), "proved at last, the shelf is still held");
  silent_for(&r, 1200000);
  read_finish(&r, 100, buf, &res, "after the second proof");
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

/* ---- the target table: a large SAN, and a flood of made-up addresses ----------------------- */

/* Every IDENTIFY in flight past its dead time, timed out now: the next step gives up on it. */
static void identifies_last_try(struct rig *r)
{
  pthread_mutex_lock(&r->ini->lock);
  for (size_t i = 0; i < r->ini->ntargets; i++) {
    struct aoe_target *t = r->ini->targets[i];
    for (unsigned j = 0; j < t->hiwater; j++)
      if (t->frames[j].state == FRAME_INFLIGHT && t->frames[j].ata_cmd == ATA_IDENTIFY) {
        t->frames[j].deadline_us = 0;
        t->frames[j].first_us = 0;      /* its dead time is over */
      }
  }
  pthread_mutex_unlock(&r->ini->lock);
  step(r);
}

/* The log lines a test watches for: those holding MATCH, counted, the last kept with its
 * level.  catch_log points the rig's log at one. */
struct caught {
  const char *match;
  unsigned lines;
  int level;
  char line[512];
};

static void catch_lines(void *opaque, int level, const char *msg)
{
  struct caught *c = opaque;
  if (!strstr(msg, c->match))
    return;
  c->lines++;
  c->level = level;
  snprintf(c->line, sizeof c->line, "%s", msg);
}

static void catch_log(struct rig *r, struct caught *c, const char *match)
{
  *c = (struct caught){ .match = match, .level = -1 };
  r->ini->opt.log = catch_lines;
  r->ini->opt.log_opaque = c;
}

/* The MAC of made-up or extra shelf number N. */
static void mac_of(unsigned n, uint8_t *mac)
{
  const uint8_t m[6] = { 0x02, 0x01, 0, (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
  memcpy(mac, m, 6);
}

/* A Query Config reply of eSHELF.SLOT from SRC received; the target it made or found (NULL:
 * not tracked), its IDENTIFY sent. */
static struct aoe_target *config_from(struct rig *r, unsigned shelf, unsigned slot,
                                      const uint8_t *src)
{
  struct aoe_msg m;
  hdr(&m, src, AOE_CMD_CONFIG, 0x80000000u);
  m.h.shelf = (uint16_t)shelf;
  m.h.slot = (uint8_t)slot;
  m.u.cfg = (struct aoe_cfg){ .bufcnt = 16, .scnt = 2 };
  r->len = aoe_encode(r->frame, sizeof r->frame, &m);
  rx(r, r->frame, r->len);
  pthread_mutex_lock(&r->ini->lock);
  struct aoe_target *t = aoe_target_lookup(r->ini, shelf, slot);
  pthread_mutex_unlock(&r->ini->lock);
  if (t)
    aoe_issue_direct(r->ini, t);
  return t;
}

/* T (found at SRC by config_from) answers its IDENTIFY as a disk: up. */
static void identify_as_disk(struct rig *r, struct aoe_target *t, const uint8_t *src)
{
  uint8_t id[AOE_SECTOR] = { 0 };
  struct aoe_frame *f = NULL;
  struct aoe_msg m;

  for (unsigned i = 0; i < t->nframes && !f; i++)
    if (t->frames[i].state == FRAME_INFLIGHT && t->frames[i].ata_cmd == ATA_IDENTIFY)
      f = &t->frames[i];
  cr_assert_not_null(f, "e%u.%u: no IDENTIFY in flight", t->shelf, t->slot);
  id[2 * 83 + 1] = 0x24;
  for (int i = 0; i < 4; i++)
    id[200 + i] = (uint8_t)(SECTORS >> (8 * i));
  hdr(&m, src, AOE_CMD_ATA, f->tag);
  m.h.shelf = (uint16_t)t->shelf;
  m.h.slot = (uint8_t)t->slot;
  m.u.ata = (struct aoe_ata){ .aflags = AOE_AFLAG_LBA48, .cmdstat = 0x40, .data = id,
                              .datalen = AOE_SECTOR };
  r->len = aoe_encode(r->frame, sizeof r->frame, &m);
  rx(r, r->frame, r->len);
  cr_assert(aoe_target_up(t), "e%u.%u did not come up", t->shelf, t->slot);
}

/* A slow shelf (400 ms round trip: a busy disk, a far link) answers the first try of its
 * IDENTIFY after every try was sent (they go 20-160 ms apart before the path's RTT is
 * known): that answer identifies it.  It was dropped (its tag no longer the frame's), and
 * the IDENTIFY gave up 300 ms after its first try: such a shelf was never found. */
Test(identify, late_answer_to_an_earlier_try_identifies_a_slow_shelf)
{
  struct rig r;

  rig_open(&r, 33);
  struct aoe_target *t = config_from(&r, 8, 2, shelf2_mac);
  cr_assert_not_null(t);
  struct aoe_frame *f = NULL;
  for (unsigned i = 0; i < t->nframes && !f; i++)
    if (t->frames[i].state == FRAME_INFLIGHT && t->frames[i].ata_cmd == ATA_IDENTIFY)
      f = &t->frames[i];
  cr_assert_not_null(f, "no IDENTIFY in flight");
  uint32_t first = f->tag;
  uint64_t start = rig_now_us;
  while (f->state == FRAME_INFLIGHT && rig_now_us - start < 400000) {
    rig_now_us += 10000;
    step(&r);
  }
  cr_assert_geq(f->retries, 4, "its tries were not sent: %u", f->retries);
  cr_assert_neq(f->tag, first);
  uint8_t id[AOE_SECTOR] = { 0 };
  struct aoe_msg m;
  id[2 * 83 + 1] = 0x24;
  for (int i = 0; i < 4; i++)
    id[200 + i] = (uint8_t)(SECTORS >> (8 * i));
  hdr(&m, shelf2_mac, AOE_CMD_ATA, first);      /* to the first try, 400 ms late */
  m.h.shelf = 8;
  m.h.slot = 2;
  m.u.ata = (struct aoe_ata){ .aflags = AOE_AFLAG_LBA48, .cmdstat = 0x40, .data = id,
                              .datalen = AOE_SECTOR };
  r.len = aoe_encode(r.frame, sizeof r.frame, &m);
  rx(&r, r.frame, r.len);
  cr_assert(aoe_target_up(t), "the slow shelf's answer to its first try was not taken");
  /* That answer timed the first try: the path's first data frames wait for its round
   * trip, not the initial RTO (every one of them was sent again 200 ms later). */
  const struct aoe_rtt *rtt = &t->paths[0].rtt;
  cr_assert_geq(rtt->srtt_us, rig_now_us - start - 1000, "srtt %u us: the IDENTIFY's round trip "
                "was not measured", rtt->srtt_us);
  cr_assert_gt(rtt->rto_us, rig_now_us - start, "rto %u us is below the shelf's round trip: the "
               "first data frames go twice", rtt->rto_us);
  rig_close(&r);
}

/* The IDENTIFY in flight for e8.2 (config_from), or NULL. */
static struct aoe_frame *identify_in_flight(struct aoe_target *t)
{
  for (unsigned i = 0; i < t->nframes; i++)
    if (t->frames[i].state == FRAME_INFLIGHT && t->frames[i].ata_cmd == ATA_IDENTIFY)
      return &t->frames[i];
  return NULL;
}

/* Step every 10 ms for US or until e8.2's IDENTIFY F is no longer in flight; the longest
 * gap between two of its tries in *MAX_GAP. */
static void identify_unanswered_for(struct rig *r, struct aoe_frame *f, uint64_t us,
                                    uint64_t *max_gap)
{
  uint64_t start = rig_now_us, sent = f->sent_us;
  *max_gap = 0;
  while (f->state == FRAME_INFLIGHT && rig_now_us - start < us) {
    rig_now_us += 10000;
    step(r);
    if (f->state == FRAME_INFLIGHT && f->sent_us != sent) {
      if (f->sent_us - sent > *max_gap)
        *max_gap = f->sent_us - sent;
      sent = f->sent_us;
    }
  }
}

/* e8.2's disk (a real one spinning up, or busy with another head's I/O) answers IDENTIFY
 * 2.5 s after its controller answered Query Config, to a late try, the earlier ones never:
 * it comes up.  Before, the IDENTIFY was given up 1 s after its first try
 * (AOE_IDENTIFY_WAIT_MS) and such a shelf was never brought up, or only by luck at a later
 * rediscovery. */
Test(identify, disk_answering_identify_after_seconds_comes_up)
{
  struct rig r;
  uint64_t max_gap;

  rig_open(&r, 34);
  struct aoe_target *t = config_from(&r, 8, 2, shelf2_mac);
  cr_assert_not_null(t);
  struct aoe_frame *f = identify_in_flight(t);
  cr_assert_not_null(f, "no IDENTIFY in flight");
  uint32_t first = f->tag;
  identify_unanswered_for(&r, f, 2500000, &max_gap);
  cr_assert_eq(f->state, FRAME_INFLIGHT, "the IDENTIFY was given up after %llu ms, before the "
               "dead time (%u ms)", (unsigned long long)((rig_now_us - f->first_us) / 1000),
               r.ini->opt.dead_time_ms);
  cr_assert_neq(f->tag, first, "it was never asked again");
  /* backing off as data frames do, at most AOE_RTO_MAX_US apart (and a step) */
  cr_assert_leq(max_gap, AOE_RTO_MAX_US + 10000 + 1000, "its tries went %llu us apart",
                (unsigned long long)max_gap);
  cr_assert_eq(r.ini->identifying, 1);
  uint64_t waited_ms = (rig_now_us - f->first_us) / 1000;
  unsigned said_ms = aoe_identify_unanswered_ms(r.ini, 8, 2);
  cr_assert(said_ms >= waited_ms && said_ms <= waited_ms + 1, "waited %llu ms for its "
            "IDENTIFY, said %u", (unsigned long long)waited_ms, said_ms);
  identify_as_disk(&r, t, shelf2_mac);          /* to its current try, 2.5 s on */
  cr_assert(t->identified && aoe_target_up(t));
  cr_assert_eq(r.ini->identifying, 0);
  cr_assert_eq(aoe_identify_unanswered_ms(r.ini, 8, 2), 0, "identified, yet said unanswered");
  rig_close(&r);
}

/* A dead time under a second (dead-time=500ms, for a quick failover) does not shorten an
 * IDENTIFY's wait below the second it had before the dead time counted: e8.2's disk
 * answering after 600 ms still comes up. */
Test(identify, short_dead_time_still_waits_a_second_for_identify)
{
  struct rig r;
  uint64_t max_gap;

  rig_open(&r, 38);
  r.ini->opt.dead_time_ms = 300;
  struct aoe_target *t = config_from(&r, 8, 2, shelf2_mac);
  cr_assert_not_null(t);
  struct aoe_frame *f = identify_in_flight(t);
  cr_assert_not_null(f, "no IDENTIFY in flight");
  identify_unanswered_for(&r, f, 600000, &max_gap);
  cr_assert_eq(f->state, FRAME_INFLIGHT, "the IDENTIFY was given up after %llu ms, before a "
               "second", (unsigned long long)((rig_now_us - f->first_us) / 1000));
  identify_as_disk(&r, t, shelf2_mac);
  cr_assert(t->identified && aoe_target_up(t));
  rig_close(&r);
}


/* e8.2 answers Query Config, never IDENTIFY (a disk that does not spin up): its IDENTIFY
 * is asked again until the dead time after its first try, given up then (with a line for
 * who asked), and the target, never identified, is dropped; the initiator remembers how
 * long it waited, for its caller's error line (the plugin's "answered Query Config but
 * not IDENTIFY within 5.0s"). */
Test(identify, identify_never_answered_is_given_up_at_the_dead_time)
{
  struct rig r;
  uint64_t max_gap;

  rig_open(&r, 35);
  struct caught said;
  catch_log(&r, &said, "IDENTIFY");
    struct aoe_target *t = config_from(&r, 8, 2, shelf2_mac);
  cr_assert_not_null(t);
  struct aoe_frame *f = identify_in_flight(t);
  cr_assert_not_null(f, "no IDENTIFY in flight");
  uint64_t first_us = f->first_us, dead_us = 1000ull * r.ini->opt.dead_time_ms;
  identify_unanswered_for(&r, f, dead_us + 1000000, &max_gap);
  cr_assert_neq(f->state, FRAME_INFLIGHT, "not given up 1 s past the dead time");
  cr_assert_geq(rig_now_us - first_us, dead_us, "given up after %llu ms, before the dead time",
                (unsigned long long)((rig_now_us - first_us) / 1000));
  cr_assert_lt(rig_now_us - first_us, dead_us + 20000, "given up %llu ms after the dead time",
               (unsigned long long)((rig_now_us - first_us - dead_us) / 1000));
  cr_assert_eq(r.ini->identifying, 0);
  step(&r);                                     /* the target, never identified, dropped */
  pthread_mutex_lock(&r.ini->lock);
  cr_assert_null(aoe_target_lookup(r.ini, 8, 2), "the unidentified target stayed");
  pthread_mutex_unlock(&r.ini->lock);
  unsigned waited = aoe_identify_unanswered_ms(r.ini, 8, 2);
  cr_assert(waited >= r.ini->opt.dead_time_ms && waited < r.ini->opt.dead_time_ms + 20,
            "waited %u ms for its IDENTIFY, said", waited);
  cr_assert_eq(aoe_identify_unanswered_ms(r.ini, 8, 3), 0, "another address said unanswered");
  cr_assert_eq(said.lines, 1, "%u lines about its IDENTIFY", said.lines);
  cr_assert(strstr(said.line, "e8.2") && strstr(said.line, "not IDENTIFY within"),
            "the line: %s", said.line);
  /* it answers discovery again: a new IDENTIFY, answered this time */
  t = config_from(&r, 8, 2, shelf2_mac);
  cr_assert_not_null(t);
  identify_as_disk(&r, t, shelf2_mac);
  cr_assert_eq(aoe_identify_unanswered_ms(r.ini, 8, 2), 0, "identified, yet said unanswered");
  rig_close(&r);
}

static struct rig *answering_rig;

/* The log of a discovery: its line that it waits for e8.2's IDENTIFY, caught; then e8.2's
 * disk answers (from the discovery's thread, the lock not held while it logs). */
static void answer_when_waited_for(void *opaque, int level, const char *msg)
{
  struct caught *c = opaque;
  unsigned before = c->lines;
  catch_lines(opaque, level, msg);
  if (c->lines == before)
    return;
  cr_assert_eq(level, AOE_LOG_INFO);
  struct aoe_target *t = aoe_target_lookup(answering_rig->ini, 8, 2);
  cr_assert_not_null(t);
  identify_as_disk(answering_rig, t, shelf2_mac);
}

/* A discovery waiting for an IDENTIFY says, after AOE_IDENTIFY_SLOW_MS, which shelf it
 * waits for and why (a start that waits is understood), then ends as soon as it is
 * answered.  A second of real time: the discovery waits on the system clock, stepping the
 * engine (on the rig's clock, a microsecond a look) meanwhile; a dead time of 10 minutes
 * keeps the IDENTIFY from being given up by however many steps run in that second. */
Test(identify, discovery_says_which_slow_shelf_it_waits_for, .timeout = 30)
{
  struct rig r;

  rig_open(&r, 36);
  answering_rig = &r;
  struct caught said;
  catch_log(&r, &said, "not IDENTIFY yet");
  r.ini->opt.log = answer_when_waited_for;
  r.ini->opt.dead_time_ms = 600000;
  struct aoe_target *t = config_from(&r, 8, 2, shelf2_mac);
  cr_assert_not_null(t);
  aoe_discover(r.ini, 0);
  cr_assert_eq(said.lines, 1, "%u lines that the discovery waits", said.lines);
  cr_assert(strstr(said.line, "e8.2 answered Query Config but not IDENTIFY yet") &&
            strstr(said.line, "dead time (600.0 s)"), "the line: %s", said.line);
  cr_assert(aoe_target_up(t), "e8.2 answered, not up");
  rig_close(&r);
}

static int rig_shelf_found(void *opaque)
{
  struct rig *r = opaque;
  return aoe_target_find(r->ini, SHELF, SLOT) != NULL;
}

/* A caller with the shelves it wants (the plugin's start and add: the rig's e7.3, up)
 * waits for another shelf's slow IDENTIFY (e8.2's, never answered) no longer than
 * AOE_IDENTIFY_SLOW_MS, as before IDENTIFY waited for the dead time: one such shelf on the
 * SAN held every start up to the dead time.  Its IDENTIFY goes on in the engine.  Bounded:
 * a discovery that waited for it would end at the dead time and a second (4 s), having
 * said that it waits (a line naming IDENTIFY). */
Test(identify, discovery_with_its_shelves_does_not_wait_for_another_identify, .timeout = 30)
{
  struct rig r;

  rig_open(&r, 37);
  struct caught said;
  catch_log(&r, &said, "IDENTIFY");
  r.ini->opt.dead_time_ms = 3000;
    struct aoe_target *t = config_from(&r, 8, 2, shelf2_mac);
  cr_assert_not_null(t);
  aoe_discover_until(r.ini, 0, rig_shelf_found, &r);
  cr_assert_eq(said.lines, 0, "the discovery waited for e8.2: %s", said.line);
  cr_assert_eq(r.ini->identifying, 1, "e8.2's IDENTIFY is no longer asked");
  rig_close(&r);
}

/* FOUND of a caller that names e8.2 (the aoeraid command's examine, zero-superblock):
 * once e8.2's IDENTIFY is in flight, its disk answers it, as a shelf does in
 * milliseconds. */
static int e8_2_found_answering(void *opaque)
{
  struct rig *r = opaque;
  if (aoe_target_find(r->ini, 8, 2))
    return 1;
  struct aoe_target *t = aoe_target_lookup(r->ini, 8, 2);
  for (unsigned i = 0; t && i < t->nframes; i++)
    if (t->frames[i].state == FRAME_INFLIGHT && t->frames[i].ata_cmd == ATA_IDENTIFY) {
      identify_as_disk(r, t, shelf2_mac);
      break;
    }
  return 0;
}

/* A discovery for named shelves ends as soon as they are identified: in its Query Config
 * rounds, not waiting out the wait asked for (ten minutes here: the test's timeout of 30 s
 * ends one that waits), as md's --examine of a disk is instant.  Another shelf's IDENTIFY
 * left unanswered (e8.3's) holds it no more. */
Test(identify, discovery_for_named_shelves_ends_once_they_answer, .timeout = 30)
{
  struct rig r;
  uint8_t mac[6];

  rig_open(&r, 39);
  r.ini->opt.dead_time_ms = 600000;
  mac_of(1, mac);
  cr_assert_not_null(config_from(&r, 8, 3, mac));
  cr_assert_not_null(config_from(&r, 8, 2, shelf2_mac));
  int up = aoe_discover_found(r.ini, 600000, e8_2_found_answering, &r);
  cr_assert_not_null(aoe_target_find(r.ini, 8, 2), "e8.2 not identified");
  cr_assert_eq(up, 2, "%d shelves up, not e7.3 and e8.2", up);
  cr_assert_null(aoe_target_find(r.ini, 8, 3), "e8.3 never answered IDENTIFY");
  rig_close(&r);
}

/* Sixty addresses answer Query Config and none IDENTIFY (made-up replies from one host):
 * the discovery's line does not call them disks spinning up alone, names a flood as a
 * cause, and says how to find its sender: a warning, not information. */
Test(identify, many_addresses_silent_to_identify_are_said_as_a_possible_flood, .timeout = 30)
{
  struct rig r;
  uint8_t mac[6];

  rig_open(&r, 38);
  struct caught said;
  catch_log(&r, &said, "not IDENTIFY yet");
  r.ini->opt.dead_time_ms = 1500;
  for (unsigned i = 0; i < 60; i++) {
    mac_of(i, mac);
    cr_assert_not_null(config_from(&r, 200 + i / 24, i % 24, mac));
  }
  aoe_discover(r.ini, 0);
  cr_assert_eq(said.lines, 1, "%u lines that the discovery waits", said.lines);
  cr_assert(strstr(said.line, "60 addresses at once") &&
            strstr(said.line, "flooding the SAN with made-up Query Config replies") &&
            strstr(said.line, "tcpdump -e -i"), "the line: %s", said.line);
  cr_assert_eq(said.level, AOE_LOG_WARN, "said at level %d", said.level);
  rig_close(&r);
}

/* N real shelves beside the rig's, e100.0 on, 24 slots a shelf, discovered and identified. */
static void many_shelves(struct rig *r, unsigned n)
{
  uint8_t mac[6];
  for (unsigned i = 0; i < n; i++) {
    mac_of(i, mac);
    struct aoe_target *t = config_from(r, 100 + i / 24, i % 24, mac);
    cr_assert_not_null(t, "e%u.%u (shelf %u of %u) was not tracked", 100 + i / 24, i % 24,
                       i + 1, n);
    identify_as_disk(r, t, mac);
  }
}

/* A SAN of more than 256 targets (42 shelves of 24 slots): every one is found, in order,
 * each costing its table entry and a few frames, not a full frame table. */
Test(table, more_than_256_targets_are_found, .timeout = 60)
{
  struct rig r;
  static struct aoe_target *all[AOE_MAX_TARGETS];

  rig_open(&r, 21);
  struct caught full;
  catch_log(&r, &full, "target table is full");
  many_shelves(&r, 1000);
  size_t n = aoe_targets(r.ini, all, AOE_MAX_TARGETS);
  cr_assert_eq(n, 1001, "aoe_targets: %zu of 1001 shelves", n);
  for (size_t i = 1; i < n; i++)
    cr_assert(all[i - 1]->shelf < all[i]->shelf ||
              (all[i - 1]->shelf == all[i]->shelf && all[i - 1]->slot < all[i]->slot),
              "not in shelf.slot order at %zu", i);
  for (unsigned i = 0; i < 1000; i += 37) {
    struct aoe_target *t = aoe_target_find(r.ini, 100 + i / 24, i % 24);
    cr_assert_not_null(t, "e%u.%u not found", 100 + i / 24, i % 24);
    cr_assert(aoe_target_up(t));
    cr_assert_leq(t->nframes, AOE_FIRST_FRAMES, "an idle target holds %u frames", t->nframes);
  }
  cr_assert_eq(full.lines, 0, "a table of 1001 said it was full: %s", full.line);
  /* and the rig's shelf, among them, still serves I/O */
  uint8_t buf[READ_SECTORS * AOE_SECTOR];
  struct result res;
  read_start(&r, 40, buf, &res);
  read_finish(&r, 40, buf, &res, "1001 targets");
  rig_close(&r);
}

/* Anyone on the SAN can answer Query Config as any shelf.slot.  A flood of made-up
 * addresses past the cap evicts only targets nobody uses: the shelf handed to a caller with
 * a read in flight, the one we reserved, and a real shelf found but not yet used all stay;
 * a real shelf appearing during the flood is tracked and comes up; one line is logged. */
Test(table, flood_at_the_cap_lets_a_new_shelf_in_and_evicts_none_in_use, .timeout = 60)
{
  struct rig r;
  uint8_t buf[READ_SECTORS * AOE_SECTOR], mac[6];
  struct result res;
  const unsigned flood = AOE_MAX_TARGETS + 3000;

  rig_open(&r, 22);
  struct caught full;
  catch_log(&r, &full, "target table is full");
  cr_assert_eq(aoe_target_find(r.ini, SHELF, SLOT), r.t);       /* handed to a caller */
  struct aoe_target *held = discover(&r, SLOT + 1, shelf2_mac);    /* e7.4, reserved by us */
  claim(&r, held);
  mac_of(0xfffff0, mac);
  struct aoe_target *idle = config_from(&r, 8, 1, mac);         /* found, never looked at */
  identify_as_disk(&r, idle, mac);
  read_start(&r, 100, buf, &res);                               /* in flight during the flood */

  for (unsigned i = 0; i < flood; i++) {
    mac_of(i, mac);
    config_from(&r, 1000 + i / 250, i % 250, mac);
    if (i == flood / 2) {       /* a real shelf appears in the middle of it */
      mac_of(0xfffff1, mac);
      struct aoe_target *late = config_from(&r, 9, 1, mac);
      cr_assert_not_null(late, "a shelf appearing during the flood was not tracked");
      identify_as_disk(&r, late, mac);
    }
  }
  cr_assert_eq(r.ini->ntargets, AOE_MAX_TARGETS, "the table holds %zu targets",
               r.ini->ntargets);
  pthread_mutex_lock(&r.ini->lock);
  cr_assert_eq(aoe_target_lookup(r.ini, SHELF, SLOT), r.t, "the shelf in use was evicted");
  cr_assert_eq(aoe_target_lookup(r.ini, SHELF, SLOT + 1), held, "the reserved shelf was evicted");
  cr_assert_eq(aoe_target_lookup(r.ini, 8, 1), idle, "a real shelf was evicted for made-up ones");
  cr_assert_leq(r.ini->identifying, r.ini->ntargets, "IDENTIFYs of evicted targets still counted");
  pthread_mutex_unlock(&r.ini->lock);
  struct aoe_target *late = aoe_target_find(r.ini, 9, 1);
  cr_assert_not_null(late, "the shelf that appeared during the flood is gone");
  cr_assert(aoe_target_up(late));
  /* the rig's, the reserved, the idle and the late shelves, and the flood: all but a
   * table's worth evicted */
  cr_assert_eq(r.ini->st.targets_evicted, 4 + flood - AOE_MAX_TARGETS,
               "evicted %llu", (unsigned long long)r.ini->st.targets_evicted);
  cr_assert_eq(full.lines, 1, "%u table-full lines, not one", full.lines);
  cr_assert(strstr(full.line, "interface fuzz0") && strstr(full.line, "tcpdump"),
            "the line names neither the interface nor what to do: %s", full.line);
  read_finish(&r, 100, buf, &res, "the flood");

  /* The made-up targets' IDENTIFYs go unanswered to their last try: they are dropped, and
   * the loop walks the real shelves alone again. */
  identifies_last_try(&r);
  step(&r);                     /* the IDENTIFYs queued behind the first ones */
  identifies_last_try(&r);
  cr_assert_eq(r.ini->ntargets, 4, "%zu targets after the made-up ones went unanswered, not "
               "the 4 real ones", r.ini->ntargets);
  cr_assert_eq(r.ini->identifying, 0);
  pthread_mutex_lock(&r.ini->lock);
  cr_assert_eq(aoe_target_lookup(r.ini, SHELF, SLOT), r.t);
  cr_assert_eq(aoe_target_lookup(r.ini, SHELF, SLOT + 1), held);
  cr_assert_eq(aoe_target_lookup(r.ini, 8, 1), idle);
  cr_assert_eq(aoe_target_lookup(r.ini, 9, 1), late);
  for (size_t i = 0; i < AOE_TARGET_BUCKETS; i++)
    for (struct aoe_target *t = r.ini->buckets[i]; t; t = t->hnext)
      cr_assert(t->identified, "e%u.%u dropped but still hashed", t->shelf, t->slot);
  pthread_mutex_unlock(&r.ini->lock);
  read_start(&r, 300, buf, &res);
  read_finish(&r, 300, buf, &res, "the made-up targets dropped");
  rig_close(&r);
}

/* A full table of real shelves: a new address evicts the one heard from longest ago
 * among those nobody uses, never the shelf with a read in flight or the one we reserved
 * (its caller gone); once every target was handed to a caller, a new address is not
 * tracked.  Each said once. */
Test(table, full_table_evicts_only_unused_then_refuses, .timeout = 60)
{
  struct rig r;
  static struct aoe_target *all[AOE_MAX_TARGETS];
  uint8_t buf[READ_SECTORS * AOE_SECTOR], mac[6];
  struct result res;

  rig_open(&r, 23);
  struct caught full;
  catch_log(&r, &full, "target table is full");
  cr_assert_eq(aoe_target_find(r.ini, SHELF, SLOT), r.t);
  read_start(&r, 200, buf, &res);
  struct aoe_target *held = discover(&r, SLOT + 1, shelf2_mac);
  claim(&r, held);
  pthread_mutex_lock(&r.ini->lock);
  held->handed = 0;             /* as if its caller were gone: only the claim keeps it */
  aoe_lru_touch(r.ini, held);
  cr_assert_eq(r.ini->lru[1].head, held, "the reserved shelf is not the oldest unused");
  pthread_mutex_unlock(&r.ini->lock);
  many_shelves(&r, AOE_MAX_TARGETS - 2);
  cr_assert_eq(r.ini->ntargets, AOE_MAX_TARGETS);
  cr_assert_eq(full.lines, 0);

  for (unsigned i = 0; i < 10; i++) {   /* new real shelves: each evicts an old unused one */
    mac_of(0x800000 + i, mac);
    struct aoe_target *t = config_from(&r, 6000, i, mac);
    cr_assert_not_null(t, "e6000.%u not tracked", i);
    identify_as_disk(&r, t, mac);
    pthread_mutex_lock(&r.ini->lock);
    cr_assert_null(aoe_target_lookup(r.ini, 100, i), "e100.%u, the oldest unused, stays", i);
    pthread_mutex_unlock(&r.ini->lock);
  }
  pthread_mutex_lock(&r.ini->lock);
  cr_assert_eq(aoe_target_lookup(r.ini, SHELF, SLOT), r.t, "the shelf in use was evicted");
  cr_assert_eq(aoe_target_lookup(r.ini, SHELF, SLOT + 1), held, "the reserved shelf was evicted");
  pthread_mutex_unlock(&r.ini->lock);
  cr_assert_eq(r.ini->st.targets_evicted, 10);
  cr_assert_eq(full.lines, 1, "%u table-full lines, not one", full.lines);
  cr_assert(strstr(full.line, "took the place of an unused target"), "%s", full.line);

  /* every shelf handed to a caller (aoe_targets: aoeraid discover, a scan) */
  cr_assert_eq(aoe_targets(r.ini, all, AOE_MAX_TARGETS), AOE_MAX_TARGETS);
  for (unsigned i = 0; i < 100; i++) {
    mac_of(0x900000 + i, mac);
    cr_assert_null(config_from(&r, 5000, i, mac), "e5000.%u was tracked in a full table", i);
  }
  cr_assert_eq(r.ini->ntargets, AOE_MAX_TARGETS);
  cr_assert_eq(r.ini->st.targets_refused, 100);
  cr_assert_eq(r.ini->st.targets_evicted, 10);
  cr_assert_eq(full.lines, 2, "%u table-full lines, not two", full.lines);
  cr_assert(strstr(full.line, "is not tracked: every target is in use"), "%s",
            full.line);
  for (size_t i = 0; i < AOE_MAX_TARGETS; i++) {
    pthread_mutex_lock(&r.ini->lock);
    cr_assert_eq(aoe_target_lookup(r.ini, all[i]->shelf, all[i]->slot), all[i]);
    pthread_mutex_unlock(&r.ini->lock);
  }
  read_finish(&r, 200, buf, &res, "a full table");
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

/* ---- claims: several interfaces, forks ------------------------------------------------------------------ */
#include <signal.h>
#include <sys/wait.h>

/* Two interfaces of one initiator sharing a MAC (VLANs on one NIC, a bridge and its
 * port): aoe_req_our_macs dedups them, but the claim binds one name per interface and
 * is refused by itself. */
Test(claim, with_two_interfaces_on_one_mac_is_not_refused_by_itself, .timeout = 30)
{
  static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0xc2, 0x01 };
  struct rig a;
  char err[256] = "";

  rig_open(&a, 51);
  memcpy(a.ini->ifaces[0].mac, mac, 6);
  iface_add(&a, "fuzz0.10", mac);
  int rc = aoe_claim_take(a.t, err, sizeof err);
  cr_assert_eq(rc, 0, "claim refused: rc %d: %s", rc, err);
  rig_close(&a);
}

/* A fork that does not exec keeps a copy of the claim's socket (nbdkit --run: the
 * captive parent runs system(cmd) and lives as long as the command; the server is the
 * child).  The server's own release closes its fd only: the name stays bound, and the
 * same process cannot reserve the shelf again (aoeraid remove, then add). */
Test(claim, dropped_can_be_taken_again_while_a_forked_copy_lives, .timeout = 30)
{
  static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0xc2, 0x02 };
  struct rig a;
  char err[256] = "";
  int p[2];

  rig_open(&a, 52);
  memcpy(a.ini->ifaces[0].mac, mac, 6);
  cr_assert_eq(aoe_claim_take(a.t, err, sizeof err), 0, "%s", err);
  cr_assert_eq(pipe(p), 0);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {               /* like nbdkit's captive parent: no exec, waits */
    char c;
    close(p[1]);
    if (read(p[0], &c, 1) < 0)
      _exit(1);
    _exit(0);
  }
  close(p[0]);
  aoe_claim_drop(a.t);          /* aoe_release's drop */
  int rc = aoe_claim_take(a.t, err, sizeof err);
  close(p[1]);
  waitpid(pid, NULL, 0);
  cr_assert_eq(rc, 0, "claim dropped but not free: rc %d: %s", rc, err);
  rig_close(&a);
}

/* ---- the table under churn ----------------------------------------------------------- */
static void table_check(struct aoe_initiator *ini)
{
  size_t inlru = 0, handed = 0;
  cr_assert(ini->ntargets <= AOE_MAX_TARGETS);
  for (size_t i = 0; i < ini->ntargets; i++) {
    struct aoe_target *t = ini->targets[i];
    if (i)
      cr_assert(((uint32_t)ini->targets[i - 1]->shelf << 8 | ini->targets[i - 1]->slot) <
                ((uint32_t)t->shelf << 8 | t->slot), "table out of order at %zu", i);
    cr_assert_eq(aoe_target_lookup(ini, t->shelf, t->slot), t, "e%u.%u not hashed",
                 t->shelf, t->slot);
    handed += t->handed != 0;
    cr_assert(t->nfree <= t->nframes);
  }
  for (int l = 0; l < 2; l++) {
    struct aoe_target *prev = NULL;
    for (struct aoe_target *t = ini->lru[l].head; t; prev = t, t = t->lru_next) {
      cr_assert_eq(t->lru_prev, prev);
      cr_assert_eq(t->identified != 0, l, "list %d holds e%u.%u identified %d", l, t->shelf,
                   t->slot, t->identified);
      cr_assert(!t->handed);
      cr_assert_eq(aoe_target_lookup(ini, t->shelf, t->slot), t, "LRU holds a freed target");
      inlru++;
    }
    cr_assert_eq(ini->lru[l].tail, prev);
  }
  cr_assert_eq(inlru + handed, ini->ntargets, "lru %zu + handed %zu != %zu", inlru, handed,
               ini->ntargets);
  size_t hashed = 0;
  for (size_t b = 0; b < AOE_TARGET_BUCKETS; b++)
    for (struct aoe_target *t = ini->buckets[b]; t; t = t->hnext)
      hashed++;
  cr_assert_eq(hashed, ini->ntargets);
}

Test(table, churn_keeps_hash_lru_and_order_consistent, .timeout = 240)
{
  struct rig r;
  uint64_t s = 77;
  uint8_t mac[6];

  rig_open(&r, 61);
  aoe_target_hand(r.ini, r.t);
  for (unsigned op = 0; op < 60000; op++) {
    unsigned n = (unsigned)(rnd(&s) % 6000);
    mac_of(n, mac);
    struct aoe_target *t = config_from(&r, 200 + n / 24, n % 24, mac);
    unsigned k = (unsigned)(rnd(&s) % 16);
    if (t && !t->identified && k < 4) {
      int has = 0;
      for (unsigned i = 0; i < t->nframes; i++)
        has |= t->frames[i].state == FRAME_INFLIGHT && t->frames[i].ata_cmd == ATA_IDENTIFY;
      if (has)
        identify_as_disk(&r, t, mac);
    }
    if (t && t->identified && k == 5)
      cr_assert_eq(aoe_target_find(r.ini, t->shelf, t->slot), t);
    if (op % 3000 == 0)
      identifies_last_try(&r);
    if (op % 500 == 0) {
      pthread_mutex_lock(&r.ini->lock);
      table_check(r.ini);
      pthread_mutex_unlock(&r.ini->lock);
    }
  }
  pthread_mutex_lock(&r.ini->lock);
  table_check(r.ini);
  fprintf(stderr, "churn: %zu targets, %llu evicted, %llu refused\n", r.ini->ntargets,
          (unsigned long long)r.ini->st.targets_evicted,
          (unsigned long long)r.ini->st.targets_refused);
  pthread_mutex_unlock(&r.ini->lock);
  rig_close(&r);
}

/* Frames answered in random order while the table grows under them. */
Test(table, frame_table_grows_with_frames_in_flight, .timeout = 60)
{
  struct rig r;
  enum { N = 60 };
  static uint8_t bufs[N][READ_SECTORS * AOE_SECTOR];
  struct result res[N];
  uint64_t s = 5;

  rig_open(&r, 71);
  memset(res, 0, sizeof res);
  for (int i = 0; i < N; i++)
    cr_assert_eq(aoe_submit(r.t, AOE_READ, 6u * i, READ_SECTORS, bufs[i], on_done, &res[i]), 0);
  unsigned maxn = 0;
  for (int guard = 0; guard < 100000; guard++) {
    unsigned k = 0;
    while (inflight(&r, k))
      k++;
    if (r.t->nframes > maxn)
      maxn = r.t->nframes;
    if (!k) {
      pthread_mutex_lock(&r.ini->lock);
      int q = r.t->q_head != NULL;
      pthread_mutex_unlock(&r.ini->lock);
      if (!q)
        break;
      step(&r);
      continue;
    }
    answer(&r, (unsigned)(rnd(&s) % k));
    rx(&r, r.frame, r.len);
  }
  for (int i = 0; i < N; i++) {
    cr_assert_eq(res[i].done, 1, "read %d: done %d", i, res[i].done);
    cr_assert_eq(res[i].err, 0);
    cr_assert(!memcmp(bufs[i], r.disk + 6u * i * AOE_SECTOR, sizeof bufs[i]), "read %d", i);
  }
  fprintf(stderr, "grow: table reached %u frames\n", maxn);
  rig_close(&r);
}

/* nbdkit's background fork: the parent exits, the child (after_fork: aoe_start) holds the
 * claim and is named as its holder. */
Test(claim, kept_and_named_across_the_background_fork, .timeout = 30)
{
  static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0xc2, 0x05 };
  struct rig a, b;
  char err[256] = "", want[96];
  int up[2], down[2];

  rig_open(&a, 57);
  rig_open(&b, 58);
  memcpy(a.ini->ifaces[0].mac, mac, 6);
  memcpy(b.ini->ifaces[0].mac, mac, 6);
  cr_assert_eq(aoe_claim_take(a.t, err, sizeof err), 0, "%s", err);
  cr_assert_eq(pipe(up), 0);
  cr_assert_eq(pipe(down), 0);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    char c = 1;
    close(down[1]);
    close(up[0]);
    aoe_claim_owner(a.ini);
    if (write(up[1], &c, 1) < 0 || read(down[0], &c, 1) < 0)
      _exit(1);
    _exit(0);
  }
  char c;
  close(down[0]);
  close(up[1]);
  cr_assert_eq(read(up[0], &c, 1), 1);
  aoe_claim_drop(a.t);                  /* the parent exits */
  int rc = aoe_claim_free(b.t, err, sizeof err);
  snprintf(want, sizeof want, "claimed by process %d", (int)pid);
  close(down[1]);
  waitpid(pid, NULL, 0);
  cr_assert_eq(rc, -EBUSY, "the child's claim is not seen");
  cr_assert(strstr(err, want), "holder not the child: '%s'", err);
  cr_assert_eq(aoe_claim_free(b.t, err, sizeof err), 0, "not free after the child exits: %s", err);
  rig_close(&a);
  rig_close(&b);
}

/* ---- the path MTU probe -------------------------------------------------------------------- */

static unsigned mtu_lines;
static void count_mtu_lines(void *opaque, int level, const char *msg)
{
  (void)opaque;
  (void)level;
  mtu_lines += strstr(msg, "smaller MTU") != NULL;
}

/* The rig's interface at MTU 9000 and a shelf e7.(SLOT+1) at shelf2_mac offering 17 sectors
 * a frame, identified: its MTU probe, a read of 17 sectors, in flight. */
static struct aoe_frame *probe_start(struct rig *r, struct aoe_target **tp)
{
  struct aoe_msg m;
  r->ini->ifaces[0].mtu = 9000;
  r->ini->opt.log = count_mtu_lines;
  mtu_lines = 0;
  hdr(&m, shelf2_mac, AOE_CMD_CONFIG, 0x80000000u);
  m.h.slot = SLOT + 1;
  m.u.cfg = (struct aoe_cfg){ .bufcnt = 16, .scnt = 17 };
  r->len = aoe_encode(r->frame, sizeof r->frame, &m);
  rx(r, r->frame, r->len);
  pthread_mutex_lock(&r->ini->lock);
  struct aoe_target *t = aoe_target_lookup(r->ini, SHELF, SLOT + 1);
  pthread_mutex_unlock(&r->ini->lock);
  cr_assert_not_null(t);
  aoe_issue_direct(r->ini, t);
  identify_as_disk(r, t, shelf2_mac);
  aoe_issue_direct(r->ini, t);
  cr_assert_eq(t->scnt, AOE_SAFE_SCNT, "17 sectors per frame before the probe went through");
  for (unsigned i = 0; i < t->nframes; i++)
    if (t->frames[i].state == FRAME_INFLIGHT && t->frames[i].req &&
        t->frames[i].req->mtu_probe) {
      cr_assert_eq(t->frames[i].nsect, 17);
      *tp = t;
      return &t->frames[i];
    }
  cr_assert_fail("no MTU probe in flight");
  return NULL;
}

/* The probe's answer: its 17 sectors, or (ERROR) an ATA abort with no data. */
static void probe_reply(struct rig *r, struct aoe_frame *f, int error)
{
  static uint8_t data[17 * AOE_SECTOR], frame[9216];
  struct aoe_msg m;
  hdr(&m, shelf2_mac, AOE_CMD_ATA, f->tag);
  m.h.slot = SLOT + 1;
  m.u.ata = (struct aoe_ata){ .aflags = AOE_AFLAG_LBA48, .cmdstat = error ? 0x41 : 0x40,
                              .feature = error ? ATA_ERR_ABRT : 0, .lba = f->lba,
                              .data = data, .datalen = error ? 0 : sizeof data };
  size_t len = aoe_encode(frame, sizeof frame, &m);
  cr_assert(len > 0);
  rx(r, frame, len);
}

Test(mtu, probe_answered_raises_the_frame_size)
{
  struct rig r;
  struct aoe_target *t;
  rig_open(&r, 35);
  struct aoe_frame *f = probe_start(&r, &t);
  probe_reply(&r, f, 0);
  cr_assert_eq(t->scnt, 17, "the probe went through, yet %u sectors per frame", t->scnt);
  cr_assert_eq(mtu_lines, 0);
  rig_close(&r);
}

Test(mtu, probe_unanswered_keeps_small_frames_and_says_why)
{
  struct rig r;
  struct aoe_target *t;
  rig_open(&r, 36);
  struct aoe_frame *f = probe_start(&r, &t);
  uint32_t rto_before = t->paths[0].rtt.rto_us;
  for (unsigned i = 0; i < 2 * AOE_MTU_PROBE_TRIES && f->state == FRAME_INFLIGHT; i++) {
    rig_now_us = f->deadline_us;
    step(&r);
  }
  cr_assert_eq(f->state, FRAME_FREE, "the probe is still in flight");
  cr_assert_eq(t->scnt, AOE_SAFE_SCNT);
  cr_assert_eq(mtu_lines, 1, "%u lines named the smaller MTU, not one", mtu_lines);
  cr_assert_eq(t->paths[0].rtt.rto_us, rto_before, "the probe backed the path's RTO off");
  rig_close(&r);
}

/* Refused (an ATA abort, another host's reservation): no word of an MTU. */
Test(mtu, probe_refused_says_nothing_of_an_mtu)
{
  struct rig r;
  struct aoe_target *t;
  rig_open(&r, 37);
  struct aoe_frame *f = probe_start(&r, &t);
  probe_reply(&r, f, 1);
  cr_assert_eq(t->scnt, AOE_SAFE_SCNT);
  cr_assert_eq(mtu_lines, 0, "a refused probe was reported as a smaller MTU");
  rig_close(&r);
}

/* ---- paths dropped ------------------------------------------------------------------------ */

static const uint8_t moved_mac[6] = { 0x02, 0, 0, 0, 0, 0x61 };

/* MS pass in steps of 100 ms, the loop turning at each; the shelf answers (a Query Config
 * reply, as to a keepalive) from ANSWERING only. */
static void pass_answering(struct rig *r, const uint8_t *answering, unsigned ms)
{
  for (unsigned t = 0; t < ms; t += 100) {
    rig_now_us += 100000;
    step(r);
    config_reply(r, answering);
    rx(r, r->frame, r->len);
  }
}

/* The right reply from SRC to every frame in flight until RES is done (64 at most: one
 * rejected stays in flight). */
static void read_answer_from(struct rig *r, const uint8_t *src, struct result *res)
{
  struct aoe_frame *f;
  for (unsigned tries = 0; tries < 64 && !res->done && (f = inflight(r, 0)); tries++) {
    ata_reply(r, src, f->tag, f->lba, r->disk + f->lba * AOE_SECTOR, f->nsect);
    rx(r, r->frame, r->len);
  }
}

/* e7.3 moved to another MAC: its first path, silent, goes down, then is dropped after
 * AOE_PATH_DROP_DEAD_TIMES dead times (not before) while the new one answers.  The new
 * path moves up a slot in the table with a read in flight on it: its frames follow, and
 * their answers still match. */
Test(paths, silent_path_is_dropped_and_frames_on_the_other_still_match)
{
  struct rig r;
  uint8_t buf[READ_SECTORS * AOE_SECTOR];
  struct result res;

  rig_open(&r, 40);
  discover(&r, SLOT, moved_mac);
  cr_assert_eq(r.t->npaths, 2);
  unsigned dead_ms = r.ini->opt.dead_time_ms;
  uint64_t drop_ms = AOE_PATH_DROP_DEAD_TIMES * dead_ms;
  pass_answering(&r, moved_mac, 2 * dead_ms);
  cr_assert(r.t->paths[0].state == PATH_ACTIVE && !r.t->paths[0].up,
            "the silent path is not down");
  pass_answering(&r, moved_mac, (unsigned)(drop_ms - 2 * dead_ms - 300));
  cr_assert_eq(r.t->npaths, 2, "dropped before %llu ms of silence",
               (unsigned long long)drop_ms);
  read_start(&r, 100, buf, &res);
  pass_answering(&r, moved_mac, 400);
  cr_assert_eq(r.t->npaths, 1, "the silent path was not dropped");
  cr_assert(!memcmp(r.t->paths[0].mac, moved_mac, 6) && r.t->paths[0].up,
            "the path left is not the answering one");
  read_answer_from(&r, moved_mac, &res);
  cr_assert_eq(res.done, 1, "the read in flight on the moved path did not complete");
  cr_assert_eq(res.err, 0);
  cr_assert(!memcmp(buf, r.disk + 100 * AOE_SECTOR, sizeof buf));
  cr_assert(aoe_target_up(r.t) && r.t->st.down_events == 0, "the shelf went down");
  rig_close(&r);
}

/* A Query Config reply forged for e7.3 from another MAC: a path never identified, dropped
 * after the same silence; the real path is left alone. */
Test(paths, forged_path_is_dropped_and_the_real_one_kept)
{
  struct rig r;

  rig_open(&r, 41);
  config_reply(&r, other_mac);
  rx(&r, r.frame, r.len);
  cr_assert_eq(r.t->npaths, 2);
  cr_assert(r.t->paths[1].state == PATH_CANDIDATE);
  pass_answering(&r, shelf_mac, AOE_PATH_DROP_DEAD_TIMES * r.ini->opt.dead_time_ms + 1500);
  cr_assert_eq(r.t->npaths, 1, "the forged path was not dropped");
  cr_assert(!memcmp(r.t->paths[0].mac, shelf_mac, 6) && r.t->paths[0].up,
            "the real path was not kept up");
  cr_assert(aoe_target_up(r.t));
  rig_close(&r);
}

/* Our re-assert in flight to two paths, one of which goes silent (the address moved): its
 * frame was retransmitted there for ever, I/O in flight, and the shelf declared down every
 * dead time although the other path answered.  The path going down leaves it: the
 * re-assert is done with the other's answer, and the shelf stays up. */
Test(paths, reassert_does_not_wait_on_a_path_gone_down)
{
  struct rig r;

  rig_open(&r, 42);
  discover(&r, SLOT, moved_mac);
  claim(&r, r.t);
  check_due(&r, r.t);
  step(&r);
  probe_answer(&r, r.t, shelf_mac, NULL, 0);
  probe_answer(&r, r.t, moved_mac, NULL, 0);
  step(&r);
  struct aoe_frame *f = NULL;
  for (unsigned i = 0; i < r.t->nframes; i++)
    if (r.t->frames[i].state == FRAME_INFLIGHT && r.t->frames[i].cmd == AOE_CMD_RESERVE &&
        r.t->frames[i].path == &r.t->paths[1])
      f = &r.t->frames[i];
  rr_answer(&r, SLOT, moved_mac, f, ours, 1, 0);
  cr_assert_not_null(reassert_frame(r.t), "no re-assert left on the first path");
  pass_answering(&r, moved_mac, 2 * r.ini->opt.dead_time_ms);
  cr_assert(!r.t->paths[0].up, "the silent path is not down");
  cr_assert_null(reassert_frame(r.t), "the re-assert still waits on the path gone down");
  cr_assert_eq(r.t->rr_lost_us, 0, "the re-assert the other path answered was not taken");
  cr_assert(aoe_target_up(r.t) && r.t->st.down_events == 0, "the shelf went down");
  rig_close(&r);
}

/* A Reserve/Release set of ours queued on T, as aoe_reserve sends it; its end in *RES,
 * the answers in *RR. */
static void reserve_queue(struct rig *r, struct aoe_target *t, struct result *res,
                          struct rr_result *rr)
{
  struct aoe_req *q = aoe_req_new(t, REQ_RESERVE, on_done, res);

  cr_assert_not_null(q);
  memset(res, 0, sizeof *res);
  memset(rr, 0, sizeof *rr);
  q->rcmd = AOE_RCMD_SET;
  q->rr = rr;
  pthread_mutex_lock(&r->ini->lock);
  aoe_req_our_macs(t, q);
  aoe_req_append(&t->q_head, &t->q_tail, q);
  pthread_mutex_unlock(&r->ini->lock);
}

/* Our reservation (aoe_reserve's request) goes to the only usable path; the other, a
 * forged path never identified, takes none.  The shelf stops answering for a while: its
 * path goes down with the frame in flight.  No other path answers, so the frame is not let
 * go (done then, the reserve was a success no responder granted): retransmitted, it is
 * answered when the shelf answers again within the dead time. */
Test(paths, reserve_on_the_only_path_up_waits_for_its_answer)
{
  struct rig r;
  struct rr_result rr;
  struct result res;

  rig_open(&r, 43);
  config_reply(&r, other_mac);
  rx(&r, r.frame, r.len);
  cr_assert_eq(r.t->npaths, 2);
  reserve_queue(&r, r.t, &res, &rr);
  step(&r);
  cr_assert_not_null(reassert_frame(r.t), "the reserve was not sent");
  for (unsigned ms = 0; ms < r.ini->opt.dead_time_ms / 2 && r.t->paths[0].up; ms += 100) {
    rig_now_us += 100000;
    step(&r);
  }
  cr_assert(!r.t->paths[0].up, "the silent path is not down");
  cr_assert_eq(res.done, 0, "the reserve ended with its only path down (error %d, %u "
               "replies)", res.err, rr.replies);
  rr_answer(&r, SLOT, shelf_mac, reassert_frame(r.t), ours, 1, 0);
  cr_assert_eq(res.done, 1, "the reserve answered did not end");
  cr_assert_eq(res.err, 0);
  cr_assert_eq(rr.replies, 1);
  rig_close(&r);
}

/* The IDENTIFY in flight on T's path to SRC answered from SRC: the rig's disk. */
static void identify_path(struct rig *r, const uint8_t *src)
{
  uint8_t id[AOE_SECTOR] = { 0 };
  struct aoe_frame *f = NULL;

  for (unsigned i = 0; i < r->t->nframes && !f; i++)
    if (r->t->frames[i].state == FRAME_INFLIGHT && r->t->frames[i].ata_cmd == ATA_IDENTIFY
        && !memcmp(r->t->frames[i].path->mac, src, 6))
      f = &r->t->frames[i];
  cr_assert_not_null(f, "no IDENTIFY in flight to that path");
  id[2 * 83 + 1] = 0x24;                /* as identify_reply: the same disk */
  for (int i = 0; i < 4; i++)
    id[200 + i] = (uint8_t)(SECTORS >> (8 * i));
  memcpy(id + 20, "1 fuzz", 6);
  ata_reply(r, src, f->tag, 0, id, 1);
  rx(r, r->frame, r->len);
}

/* The reserve goes to the first path only; a second path comes up after it went (its
 * IDENTIFY answered) and answers on, while the first goes silent and down.  The frame is
 * let go (another path answers), but nobody answered the reserve: not a success. */
Test(paths, reserve_let_go_unanswered_is_not_a_success)
{
  struct rig r;
  struct rr_result rr;
  struct result res;

  rig_open(&r, 44);
  config_reply(&r, moved_mac);
  rx(&r, r.frame, r.len);
  reserve_queue(&r, r.t, &res, &rr);
  step(&r);
  for (unsigned i = 0; i < r.t->nframes; i++)
    cr_assert(r.t->frames[i].state != FRAME_INFLIGHT || r.t->frames[i].cmd != AOE_CMD_RESERVE
              || r.t->frames[i].path == &r.t->paths[0], "the reserve went to the path not "
              "yet identified");
  identify_path(&r, moved_mac);
  cr_assert(r.t->paths[1].up, "the second path did not come up");
  pass_answering(&r, moved_mac, 2 * r.ini->opt.dead_time_ms);
  cr_assert(!r.t->paths[0].up, "the silent path is not down");
  cr_assert_null(reassert_frame(r.t), "the reserve still waits on the path gone down");
  cr_assert_eq(res.done, 1, "the reserve never ended");
  cr_assert_neq(res.err, 0, "a reserve no path answered succeeded (%u replies)", rr.replies);
  rig_close(&r);
}

/* T's read frames in flight on path 0 answered from SRC, as RES waits for them. */
static void read_answer_path0(struct rig *r, const uint8_t *src, struct result *res)
{
  for (unsigned i = 0; i < r->t->nframes && !res->done; i++) {
    struct aoe_frame *f = &r->t->frames[i];
    if (f->state != FRAME_INFLIGHT || f->path != &r->t->paths[0] || f->ata_cmd == ATA_IDENTIFY
        || f->cmd != AOE_CMD_ATA)
      continue;
    ata_reply(r, src, f->tag, f->lba, r->disk + f->lba * AOE_SECTOR, f->nsect);
    rx(r, r->frame, r->len);
  }
}

/* The shelf's only path up goes down under a read (a forged path beside it, never
 * identified, keeps the shelf from going down with it), and a reserve is asked meanwhile:
 * with no path up it waits, as I/O does, for one to answer (it went nowhere and ended a
 * success at once, a reservation nobody granted); the shelf answering again, it is sent
 * and answered. */
Test(paths, reserve_with_no_path_up_waits_for_one)
{
  struct rig r;
  struct rr_result rr;
  struct result res, rd;
  uint8_t buf[2 * AOE_SECTOR];

  rig_open(&r, 45);
  config_reply(&r, other_mac);
  rx(&r, r.frame, r.len);
  memset(&rd, 0, sizeof rd);
  cr_assert_eq(aoe_submit(r.t, AOE_READ, 200, 2, buf, on_done, &rd), 0);     /* one frame */
  step(&r);
  cr_assert_null(r.t->q_head, "the read is not all in flight");
  for (unsigned ms = 0; ms < r.ini->opt.dead_time_ms / 2 && r.t->paths[0].up; ms += 100) {
    rig_now_us += 100000;
    step(&r);
  }
  cr_assert(!r.t->paths[0].up && aoe_target_up(r.t), "the path is not down, the shelf up");
  reserve_queue(&r, r.t, &res, &rr);
  step(&r);
  cr_assert_eq(res.done, 0, "a reserve with no path up ended (error %d, %u replies)",
               res.err, rr.replies);
  read_answer_path0(&r, shelf_mac, &rd);
  cr_assert(r.t->paths[0].up, "the path answering is not up again");
  cr_assert_eq(rd.done, 1);
  step(&r);
  rr_answer(&r, SLOT, shelf_mac, reassert_frame(r.t), ours, 1, 0);
  cr_assert_eq(res.done, 1, "the reserve answered did not end");
  cr_assert_eq(res.err, 0);
  cr_assert_eq(rr.replies, 1);
  rig_close(&r);
}

/* The shelf's address moves to another MAC with our reserve in flight to the old one,
 * which goes down before the new path is identified: no other path up then, the frame
 * stays.  The new path up, the frame pinned to the old, silent one is let go (it was
 * retransmitted for ever, I/O in flight: the shelf declared down every dead time). */
Test(paths, reserve_on_a_path_down_is_let_go_when_another_comes_up)
{
  struct rig r;
  struct rr_result rr;
  struct result res;

  rig_open(&r, 46);
  reserve_queue(&r, r.t, &res, &rr);
  step(&r);
  cr_assert_not_null(reassert_frame(r.t), "the reserve was not sent");
  config_reply(&r, moved_mac);
  rx(&r, r.frame, r.len);
  for (unsigned ms = 0; ms < r.ini->opt.dead_time_ms / 2 && r.t->paths[0].up; ms += 100) {
    rig_now_us += 100000;
    step(&r);
  }
  cr_assert(!r.t->paths[0].up && !r.t->paths[1].up, "not the old path down, the new not up");
  cr_assert_eq(res.done, 0, "the reserve ended with no path up");
  config_reply(&r, moved_mac);          /* asked again if its IDENTIFY gave up */
  rx(&r, r.frame, r.len);
  step(&r);
  identify_path(&r, moved_mac);
  cr_assert(r.t->paths[1].up, "the new path did not come up");
  cr_assert_null(reassert_frame(r.t), "the reserve still waits on the path gone down");
  cr_assert_eq(res.done, 1, "the reserve did not end");
  cr_assert_neq(res.err, 0, "a reserve no path answered succeeded");
  pass_answering(&r, moved_mac, 2 * r.ini->opt.dead_time_ms);
  cr_assert(aoe_target_up(r.t) && r.t->st.down_events == 0, "the shelf went down");
  rig_close(&r);
}

/* A path is dropped in the step that retransmits frames of the path after it, which moves
 * up a slot: those frames, queued (their sends fail here), are counted against the path
 * that sent them, not the slot it left (the queue names a path by pointer). */
Test(paths, frames_queued_before_a_drop_count_for_their_path)
{
  struct rig r;
  uint8_t buf[READ_SECTORS * AOE_SECTOR];
  struct result res;

  rig_open(&r, 47);
  discover(&r, SLOT, moved_mac);
  uint64_t due = r.t->paths[0].last_heard_us
    + AOE_PATH_DROP_DEAD_TIMES * 1000ull * r.ini->opt.dead_time_ms;
  while (rig_now_us + 200000 < due)
    pass_answering(&r, moved_mac, 100);
  cr_assert(!r.t->paths[0].up && r.t->npaths == 2, "not the first path down, not dropped");
  read_start(&r, 300, buf, &res);
  unsigned frames = 0;
  for (unsigned i = 0; i < r.t->nframes; i++) {
    struct aoe_frame *f = &r.t->frames[i];
    if (f->state == FRAME_INFLIGHT && f->path == &r.t->paths[1]) {
      f->deadline_us = 0;
      frames++;
    }
  }
  cr_assert_gt(frames, 0);
  uint64_t errors = r.t->paths[1].st.errors;
  rig_now_us = due;
  step(&r);
  cr_assert_eq(r.t->npaths, 1, "the silent path was not dropped");
  cr_assert_geq(r.t->paths[0].st.errors, errors + frames, "%u failed resends of the path "
                "moved up counted %llu", frames,
                (unsigned long long)(r.t->paths[0].st.errors - errors));
  read_answer_from(&r, moved_mac, &res);
  cr_assert_eq(res.done, 1);
  rig_close(&r);
}

/* The shelf at SRC answers our discovery offering SCNT sectors per frame. */
static void config_scnt(struct rig *r, const uint8_t *src, unsigned scnt)
{
  struct aoe_msg m;

  hdr(&m, src, AOE_CMD_CONFIG, 0x80000000u);
  m.u.cfg = (struct aoe_cfg){ .bufcnt = 16, .scnt = (uint8_t)scnt };
  r->len = aoe_encode(r->frame, sizeof r->frame, &m);
  rx(r, r->frame, r->len);
}

/* The old path (2 sectors per frame) holds the shelf's frames small while it is listed;
 * dropped, they are the new path's size (17, its MTU probe passed) at once, not from
 * whenever a Query Config reply next comes (none while I/O flows but discovery's). */
Test(paths, dropped_path_no_longer_sizes_the_frames)
{
  struct rig r;
  static uint8_t data[17 * AOE_SECTOR], frame[9216];
  struct aoe_frame *f = NULL;
  struct aoe_msg m;

  rig_open(&r, 48);
  r.ini->ifaces[0].mtu = 9000;
  config_scnt(&r, moved_mac, 17);
  step(&r);
  identify_path(&r, moved_mac);
  step(&r);
  for (unsigned i = 0; i < r.t->nframes && !f; i++)
    if (r.t->frames[i].state == FRAME_INFLIGHT && r.t->frames[i].req &&
        r.t->frames[i].req->mtu_probe)
      f = &r.t->frames[i];
  cr_assert_not_null(f, "no MTU probe on the new path");
  hdr(&m, moved_mac, AOE_CMD_ATA, f->tag);
  m.u.ata = (struct aoe_ata){ .aflags = AOE_AFLAG_LBA48, .cmdstat = 0x40, .lba = f->lba,
                              .data = data, .datalen = sizeof data };
  size_t len = aoe_encode(frame, sizeof frame, &m);
  rx(&r, frame, len);
  cr_assert_eq(r.t->paths[1].scnt_ok, 17, "the new path's probe did not pass");
  cr_assert_eq(r.t->scnt, AOE_SAFE_SCNT, "the old path does not size the frames");
  uint64_t end = rig_now_us + 2000000ull * AOE_PATH_DROP_DEAD_TIMES * r.ini->opt.dead_time_ms;
  while (r.t->npaths == 2 && rig_now_us < end) {
    rig_now_us += 100000;
    step(&r);
    if (r.t->npaths == 2)
      config_scnt(&r, moved_mac, 17);
  }
  cr_assert_eq(r.t->npaths, 1, "the old path was not dropped");
  cr_assert_eq(r.t->scnt, 17, "dropped, the old path still sizes the frames (%u sectors)",
               r.t->scnt);
  rig_close(&r);
}

/* ---- Pollers: the loop thread leaves the sockets to a waiter that polls ------------- */

/* Whether the initiator's eventfd was written (the loop woken), reading it back. */
static int loop_woken(struct rig *r)
{
  uint64_t v;
  return read(r->ini->evfd, &v, sizeof v) == sizeof v;
}

Test(pollers, the_loop_watches_the_sockets_when_nobody_polls)
{
  struct rig r;
  int timeout_ms = 10;

  rig_open(&r, 60);
  cr_assert_eq(aoe_loop_watches(r.ini, &timeout_ms), 1);
  cr_assert_eq(timeout_ms, 10, "the loop's sleep was shortened for no poller");
  cr_assert_eq(atomic_load(&r.ini->loop_watching), 1);
  rig_close(&r);
}

Test(pollers, a_recent_poll_takes_the_loop_off_the_sockets_until_it_is_stale)
{
  struct rig r;
  int timeout_ms = 10;

  rig_open(&r, 61);
  aoe_poll(r.t);
  cr_assert_eq(aoe_loop_watches(r.ini, &timeout_ms), 0, "the loop wakes for a poller's replies");
  cr_assert_eq(atomic_load(&r.ini->loop_watching), 0);
  cr_assert(timeout_ms >= 1 && timeout_ms <= AOE_POLLER_QUIET_US / 1000,
            "the loop sleeps %d ms off the sockets, past the pollers' hold", timeout_ms);
  timeout_ms = -1;                      /* no timer at all: still back within the hold */
  cr_assert_eq(aoe_loop_watches(r.ini, &timeout_ms), 0);
  cr_assert(timeout_ms >= 1 && timeout_ms <= AOE_POLLER_QUIET_US / 1000);
  atomic_store(&r.ini->last_poll_us, aoe_now_us() - AOE_POLLER_QUIET_US - 1);
  cr_assert_eq(aoe_loop_watches(r.ini, &timeout_ms), 1, "a stale poll keeps the loop off");
  rig_close(&r);
}

/* A rig whose loop has just decided, after a poll (POLLED) or none: off the sockets or
 * on them, as asked, its eventfd read empty. */
static void rig_loop_decided(struct rig *r, uint64_t seed, int polled)
{
  int timeout_ms = 10;

  rig_open(r, seed);
  if (polled)
    aoe_poll(r->t);
  cr_assert_eq(aoe_loop_watches(r->ini, &timeout_ms), !polled);
  while (loop_woken(r))
    ;
}

Test(pollers, a_sleeper_wakes_a_loop_off_the_sockets_and_keeps_it_on_them)
{
  struct rig r;
  int timeout_ms = 10;

  rig_loop_decided(&r, 62, 1);
  aoe_sleep_begin(r.t);                 /* a waiter stops polling: nobody receives for it */
  cr_assert(loop_woken(&r), "a sleeper left the loop asleep off the sockets");
  aoe_poll(r.t);                        /* another thread polls meanwhile */
  timeout_ms = 10;
  cr_assert_eq(aoe_loop_watches(r.ini, &timeout_ms), 1, "the loop left a sleeper's replies");
  aoe_sleep_end(r.t);
  aoe_poll(r.t);
  cr_assert_eq(aoe_loop_watches(r.ini, &timeout_ms), 1, "off the sockets right after a "
               "sleep: a lone poll among sleepers (depth 32) has each next sleeper wake it");
  atomic_store(&r.ini->last_sleep_us, aoe_now_us() - AOE_POLLER_QUIET_US - 1);
  cr_assert_eq(aoe_loop_watches(r.ini, &timeout_ms), 0, "polls alone again: still on them");
  rig_close(&r);
}

Test(pollers, a_sleeper_with_the_loop_on_the_sockets_wakes_nothing)
{
  struct rig r;

  rig_loop_decided(&r, 63, 0);
  aoe_sleep_begin(r.t);
  cr_assert_not(loop_woken(&r), "a sleeper woke a loop that watches: a wake-up per request");
  aoe_sleep_end(r.t);
  rig_close(&r);
}

/* aoe/initiator.c: the public API: lifecycle, discovery, submission, reservations,
 * information and statistics.  The frame engine is in engine.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

void aoe_log(struct aoe_initiator *ini, int level, const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  if (!ini->opt.log)
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ini->opt.log(ini->opt.log_opaque, level, msg);
}

void aoe_set_error(struct aoe_target *t, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->last_error, sizeof t->last_error, fmt, ap);
  va_end(ap);
}

static int open_ifaces(struct aoe_initiator *ini, const struct aoe_options *o, char *err,
                       size_t errlen)
{
  char found[AOE_MAX_IFACES][16];
  const char *names[AOE_MAX_IFACES];
  size_t n = 0;
  if (o && o->n_ifaces) {
    if (o->n_ifaces > AOE_MAX_IFACES) {
      snprintf(err, errlen, "too many interfaces (%zu): at most %d", o->n_ifaces,
               AOE_MAX_IFACES);
      return -1;
    }
    for (n = 0; n < o->n_ifaces; n++)
      names[n] = o->ifaces[n];
  } else {
    n = aoe_net_list(found, AOE_MAX_IFACES);
    for (size_t i = 0; i < n; i++)
      names[i] = found[i];
    if (!n) {
      snprintf(err, errlen, "no up, non-loopback Ethernet interface found: bring one up or "
               "name one with iface=");
      return -1;
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (aoe_net_open(&ini->ifaces[i], names[i], err, errlen) < 0)
      return -1;
    ini->nifaces++;
  }
  return 0;
}

struct aoe_initiator *aoe_open(const struct aoe_options *o, char *err, size_t errlen)
{
  struct aoe_initiator *ini = calloc(1, sizeof *ini);
  if (!ini) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if (o)
    ini->opt = *o;
  ini->opt.ifaces = NULL;
  ini->opt.n_ifaces = 0;
  if (!ini->opt.dead_time_ms)
    ini->opt.dead_time_ms = AOE_DEFAULT_DEAD_MS;
  if (!ini->opt.rediscover_ms)
    ini->opt.rediscover_ms = AOE_DEFAULT_REDISCOVER_MS;
  pthread_mutex_init(&ini->lock, NULL);
  pthread_mutex_init(&ini->qlock, NULL);
  log_burst_init(&ini->query_burst);
  ini->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ini->evfd < 0) {
    snprintf(err, errlen, "eventfd: %s", strerror(errno));
    free(ini);
    return NULL;
  }
  if (open_ifaces(ini, o, err, errlen) < 0) {
    aoe_close(ini);
    return NULL;
  }
  ini->next_discover_us = aoe_clock_us(ini) + 1000ull * ini->opt.rediscover_ms;
  return ini;
}

static void *loop_main(void *arg)
{
  struct aoe_initiator *ini = arg;
  int timeout_ms = 0;
  while (!atomic_load(&ini->stop))
    timeout_ms = aoe_ms_until(aoe_loop_step(ini, timeout_ms), AOE_LOOP_MAX_SLEEP_MS);
  return NULL;
}

int aoe_start(struct aoe_initiator *ini)
{
  if (ini->running)
    return 0;
  atomic_store(&ini->stop, 0);
  aoe_claim_owner(ini);         /* nbdkit's fork: the child serves, the parent is gone */
  ini->last_step_us = 0;        /* stopped on purpose (nbdkit's fork): not a stall */
  int rc = pthread_create(&ini->thread, NULL, loop_main, ini);
  if (rc)
    return -rc;
  ini->running = 1;
  return 0;
}

void aoe_stop(struct aoe_initiator *ini)
{
  if (!ini->running)
    return;
  atomic_store(&ini->stop, 1);
  aoe_wake(ini);
  pthread_join(ini->thread, NULL);
  ini->running = 0;
}

void aoe_close(struct aoe_initiator *ini)
{
  if (!ini)
    return;
  aoe_stop(ini);
  atomic_store(&ini->closing, 1);
  struct aoe_req *r = aoe_req_take(&ini->qlock, &ini->sub_head, &ini->sub_tail);
  pthread_mutex_lock(&ini->lock);
  while (r) {
    struct aoe_req *next = r->next;
    aoe_req_complete(ini, r, ESHUTDOWN);
    r = next;
  }
  for (size_t i = 0; i < ini->ntargets; i++)
    aoe_target_fail_all(ini->targets[i], ESHUTDOWN);
  pthread_mutex_unlock(&ini->lock);
  aoe_deliver(ini);
  for (size_t i = 0; i < ini->ntargets; i++)
    aoe_target_free(ini->targets[i]);
  free(ini->targets);
  for (size_t i = 0; i < ini->nifaces; i++)
    aoe_net_close(&ini->ifaces[i]);
  if (ini->evfd >= 0)
    close(ini->evfd);
  aoe_query_burst_flush(ini, 1);
  log_burst_destroy(&ini->query_burst);
  pthread_mutex_destroy(&ini->lock);
  pthread_mutex_destroy(&ini->qlock);
  free(ini);
}

/* Let time pass for the engine, MS or until FOUND(OPAQUE), when given, is true: sleep while
 * the loop thread works, or be the loop.  FOUND is asked between steps, 10 ms apart at
 * most (without it, a step without the thread waits as long as the engine's next timer, as
 * it always did).  1 when FOUND ended it. */
static int run_until(struct aoe_initiator *ini, unsigned ms, aoe_enough_fn *found,
                     void *opaque)
{
  uint64_t end = aoe_now_us() + 1000ull * ms;
  for (uint64_t now; (now = aoe_now_us()) < end;) {
    if (found && found(opaque))
      return 1;
    unsigned left = (unsigned)((end - now + 999) / 1000);
    if (ini->running)
      usleep((left < 10 ? left : 10) * 1000);
    else
      aoe_engine_step(ini, aoe_engine_timeout(ini, (int)(found && left > 10 ? 10 : left)));
  }
  return found && found(opaque);
}

static void run_for(struct aoe_initiator *ini, unsigned ms)
{
  run_until(ini, ms, NULL, NULL);
}

/* The targets never identified whose IDENTIFY is in flight or queued, named in NAMES ("e1.1,
 * e1.2 and 3 more"); how many.  Caller holds ini->lock. */
static unsigned identify_pending_names(struct aoe_initiator *ini, char *names, size_t len)
{
  unsigned n = 0;
  size_t used = 0;
  names[0] = '\0';
  for (size_t i = 0; i < ini->ntargets; i++) {
    const struct aoe_target *t = ini->targets[i];
    int pending = 0;
    for (size_t j = 0; j < t->npaths; j++)
      pending |= t->paths[j].identifying;
    if (t->identified || !pending)
      continue;
    if (n++ < 4 && used < len)
      used += (size_t)snprintf(names + used, len - used, "%se%u.%u", n > 1 ? ", " : "",
                               t->shelf, t->slot);
  }
  if (n > 4 && used < len)
    snprintf(names + used, len - used, " and %u more", n - 4);
  return n;
}

/* Discovery has waited AOE_IDENTIFY_SLOW_MS for IDENTIFY answers: one line says which
 * shelves it waits for, and why, so that a start that waits is understood. */
static void say_identify_slow(struct aoe_initiator *ini)
{
  char names[128], ifaces[64];
  pthread_mutex_lock(&ini->lock);
  unsigned n = identify_pending_names(ini, names, sizeof names);
  pthread_mutex_unlock(&ini->lock);
  if (!n)
    return;
  /* Many at once: a rack of disks powered on together, or made-up Query Config replies
   * from one host (addresses that no disk stands behind); the line names both, and how to
   * find such a host. */
  if (n > AOE_IDENTIFY_FLOOD) {
    aoe_iface_names(ini, ifaces, sizeof ifaces);
    aoe_log(ini, AOE_LOG_WARN, "%s answered Query Config but not IDENTIFY yet: %u addresses "
            "at once, disks spinning up together or a host flooding the SAN with made-up "
            "Query Config replies (find its MAC with tcpdump -e -i %s ether proto 0x88a2); "
            "discovery waits up to the dead time (%.1f s)", names, n, ifaces,
            ini->opt.dead_time_ms / 1000.0);
    return;
  }
  aoe_log(ini, AOE_LOG_INFO, "%s answered Query Config but not IDENTIFY yet: %s may be "
          "spinning up or busy; discovery waits up to the dead time (%.1f s) for %s",
          names, n > 1 ? "their disks" : "its disk", ini->opt.dead_time_ms / 1000.0,
          n > 1 ? "them" : "it");
}

int aoe_discover(struct aoe_initiator *ini, unsigned wait_ms)
{
  return aoe_discover_until(ini, wait_ms, NULL, NULL);
}

static int count_up(struct aoe_initiator *ini)
{
  int up = 0;
  pthread_mutex_lock(&ini->lock);
  for (size_t i = 0; i < ini->ntargets; i++)
    up += ini->targets[i]->identified && atomic_load(&ini->targets[i]->up);
  pthread_mutex_unlock(&ini->lock);
  return up;
}

/* The Query Config rounds, and the IDENTIFY wait after them (ENOUGH shortens it); FOUND,
 * when given, ends either at once. */
static int discover(struct aoe_initiator *ini, unsigned wait_ms, aoe_enough_fn *enough,
                    aoe_enough_fn *found, void *opaque)
{
  /* Frames are unreliable: ask twice, at the start and halfway. */
  for (int round = 0; round < 2; round++) {
    pthread_mutex_lock(&ini->lock);
    aoe_broadcast_query(ini);
    pthread_mutex_unlock(&ini->lock);
    if (run_until(ini, round ? wait_ms - wait_ms / 2 : wait_ms / 2, found, opaque))
      return count_up(ini);
  }
  /* IDENTIFY of what answered: each is given up at the dead time after its first try (a
   * disk spinning up answers in seconds), so this ends; and at most the dead time and a
   * probe period by the clock (IDENTIFYs sent late in the rounds), not by rounds: a flood
   * of made-up addresses (their IDENTIFYs never answered) keeps some pending, and slows
   * each round.  A caller that has what it came for (ENOUGH) waits for the others no
   * longer than AOE_IDENTIFY_SLOW_MS, as before IDENTIFY waited for the dead time (a
   * second path of its shelves answers in that time): one slow shelf on the SAN, not its
   * own, would hold every start and add up to the dead time. */
  uint64_t start = aoe_now_us();
  uint64_t identify_end = start + 1000ull * (ini->opt.dead_time_ms + AOE_PROBE_MS);
  int said_slow = 0;
  for (uint64_t now; (now = aoe_now_us()) < identify_end;) {
    pthread_mutex_lock(&ini->lock);
    unsigned pending = ini->identifying;
    pthread_mutex_unlock(&ini->lock);
    if (!pending || (found && found(opaque)))
      break;
    int slow = now - start >= AOE_IDENTIFY_SLOW_MS * 1000ull;
    if (slow && enough && enough(opaque))
      break;
    if (slow && !said_slow) {
      say_identify_slow(ini);
      said_slow = 1;
    }
    run_for(ini, 10);
  }
  return count_up(ini);
}

int aoe_discover_until(struct aoe_initiator *ini, unsigned wait_ms, aoe_enough_fn *enough,
                       void *opaque)
{
  return discover(ini, wait_ms, enough, NULL, opaque);
}

int aoe_discover_found(struct aoe_initiator *ini, unsigned wait_ms, aoe_enough_fn *found,
                       void *opaque)
{
  return discover(ini, wait_ms, found, found, opaque);
}

unsigned aoe_identify_unanswered_ms(struct aoe_initiator *ini, unsigned shelf, unsigned slot)
{
  unsigned ms = 0;
  pthread_mutex_lock(&ini->lock);
  struct aoe_target *t = aoe_target_lookup(ini, shelf, slot);
  for (unsigned i = 0; i < AOE_IDENTIFY_NOTES && !(t && t->identified); i++)
    if (ini->identify_notes[i].waited_ms && ini->identify_notes[i].shelf == shelf &&
        ini->identify_notes[i].slot == slot)
      ms = ini->identify_notes[i].waited_ms;
  for (unsigned i = 0; t && !t->identified && i < t->hiwater; i++) {
    const struct aoe_frame *f = &t->frames[i];
    if (f->state == FRAME_INFLIGHT && f->req && f->req->kind == REQ_IDENTIFY) {
      uint64_t waited_ms = (aoe_clock_us(ini) - f->first_us) / 1000;
      if (waited_ms > ms)
        ms = (unsigned)waited_ms;
    }
  }
  pthread_mutex_unlock(&ini->lock);
  return ms;
}

size_t aoe_iface_names(struct aoe_initiator *ini, char *buf, size_t len)
{
  size_t n = 0;
  if (len)
    buf[0] = '\0';
  for (size_t i = 0; i < ini->nifaces && n < len; i++) {
    int w = snprintf(buf + n, len - n, "%s%s", i ? ", " : "", ini->ifaces[i].name);
    if (w < 0)
      break;
    n += (size_t)w;
  }
  return n < len ? n : len ? len - 1 : 0;
}

size_t aoe_targets(struct aoe_initiator *ini, struct aoe_target **out, size_t max)
{
  size_t n = 0;
  pthread_mutex_lock(&ini->lock);
  for (size_t i = 0; i < ini->ntargets; i++)
    if (ini->targets[i]->identified) {
      if (n < max) {
        out[n] = ini->targets[i];
        aoe_target_hand(ini, out[n]);   /* the caller keeps it: never evicted */
      }
      n++;
    }
  pthread_mutex_unlock(&ini->lock);
  return n < max ? n : max;
}

struct aoe_target *aoe_target_find(struct aoe_initiator *ini, unsigned shelf, unsigned slot)
{
  pthread_mutex_lock(&ini->lock);
  struct aoe_target *found = aoe_target_lookup(ini, shelf, slot);
  if (found && !found->identified)
    found = NULL;
  if (found)
    aoe_target_hand(ini, found);        /* the caller keeps it: never evicted */
  pthread_mutex_unlock(&ini->lock);
  return found;
}

int aoe_target_info(struct aoe_target *t, struct aoe_target_info *info)
{
  struct aoe_initiator *ini = t->ini;
  memset(info, 0, sizeof *info);
  pthread_mutex_lock(&ini->lock);
  info->shelf = t->shelf;
  info->slot = t->slot;
  info->sectors = t->ident.sectors;
  snprintf(info->serial, sizeof info->serial, "%s", t->ident.serial);
  snprintf(info->model, sizeof info->model, "%s", t->ident.model);
  snprintf(info->firmware, sizeof info->firmware, "%04x", t->firmware);
  info->bufcnt = t->bufcnt;
  info->scnt = t->scnt;
  info->write_cache = atomic_load(&t->write_cache);
  info->up = atomic_load(&t->up);
  info->held = atomic_load(&t->held);
  if (t->held_us)
    info->held_ms = (unsigned)((aoe_clock_us(ini) - t->held_us) / 1000);
  for (size_t i = 0; i < t->npaths; i++) {
    const struct aoe_path *p = &t->paths[i];
    if (p->state != PATH_ACTIVE)
      continue;
    snprintf(info->paths[info->npaths].iface, sizeof info->paths[0].iface, "%s", p->ifc->name);
    memcpy(info->paths[info->npaths].mac, p->mac, 6);
    info->npaths++;
  }
  snprintf(info->config, sizeof info->config, "%s", t->config ? t->config : "");
  pthread_mutex_unlock(&ini->lock);
  return 0;
}

int aoe_target_up(struct aoe_target *t)
{
  return atomic_load(&t->up);
}

int aoe_target_held(struct aoe_target *t)
{
  return atomic_load(&t->held);
}

void aoe_end_holds(struct aoe_initiator *ini)
{
  pthread_mutex_lock(&ini->lock);
  ini->opt.hold_time_ms = 0;
  for (size_t i = 0; i < ini->ntargets; i++)
    if (ini->targets[i]->held_us)
      ini->targets[i]->hold_until_us = 0;       /* down at the next step */
  pthread_mutex_unlock(&ini->lock);
  aoe_wake(ini);
}

int aoe_end_hold(struct aoe_target *t)
{
  struct aoe_initiator *ini = t->ini;
  int held;

  pthread_mutex_lock(&ini->lock);
  held = t->held_us != 0;
  if (held)
    t->hold_until_us = 0;       /* down at the next step (target_timers) */
  pthread_mutex_unlock(&ini->lock);
  if (held)
    aoe_wake(ini);
  return held;
}

uint64_t aoe_target_up_spells(struct aoe_target *t)
{
  return atomic_load(&t->up_spells);
}

int aoe_target_write_cache(struct aoe_target *t)
{
  return atomic_load(&t->write_cache);
}

void aoe_target_name(struct aoe_target *t, char *buf, size_t len)
{
  snprintf(buf, len, "e%u.%u", t->shelf, t->slot);
}

const char *aoe_target_last_error(struct aoe_target *t)
{
  return t->last_error;
}

/* Fail R in the caller's thread before it was ever queued. */
static int fail_now(struct aoe_req *r, int err, const char *why)
{
  struct aoe_target *t = r->t;
  pthread_mutex_lock(&t->ini->lock);
  aoe_set_error(t, "e%u.%u: %s", t->shelf, t->slot, why);
  t->st.errors++;
  pthread_mutex_unlock(&t->ini->lock);
  r->done(r->opaque, err);
  free(r);
  return -err;
}

static int submit_req(struct aoe_target *t, struct aoe_req *r)
{
  struct aoe_initiator *ini = t->ini;
  if (atomic_load(&ini->closing))
    return fail_now(r, ESHUTDOWN, "the initiator is closing");
  if (!atomic_load(&t->up)) {
    if (t->conflict) {       /* keep the message that says why */
      r->done(r->opaque, EIO);
      free(r);
      return -EIO;
    }
    return fail_now(r, EIO, "shelf is down");
  }
  pthread_mutex_lock(&ini->qlock);
  int was_empty = !ini->sub_head;
  aoe_req_append(&ini->sub_head, &ini->sub_tail, r);
  pthread_mutex_unlock(&ini->qlock);
  /* Whoever appended to an empty queue either takes it under ini->lock (direct issue)
   * or wakes the loop; a later appender finds its request taken by one of the two. */
  if (!aoe_issue_direct(ini, t) && was_empty)
    aoe_wake(ini);
  return 0;
}

int aoe_submit(struct aoe_target *t, enum aoe_op op, uint64_t lba, uint32_t nsect, void *buf,
               aoe_done_fn *done, void *opaque)
{
  struct aoe_req *r = aoe_req_new(t, REQ_READ, done, opaque);
  if (!r) {
    done(opaque, ENOMEM);
    return -ENOMEM;
  }
  r->lba = lba;
  r->nsect = nsect;
  r->buf = buf;
  switch (op) {
  case AOE_READ: r->kind = REQ_READ; break;
  case AOE_WRITE: r->kind = REQ_WRITE; break;
  case AOE_FLUSH: r->kind = REQ_FLUSH; r->lba = 0; r->nsect = 0; r->buf = NULL; break;
  default: return fail_now(r, EINVAL, "unknown operation");
  }
  if (op != AOE_FLUSH) {
    if (!buf && nsect)
      return fail_now(r, EINVAL, "no buffer given for the data");
    if (lba > t->ident.sectors || nsect > t->ident.sectors - lba)
      return fail_now(r, EINVAL, "request reaches past the end of the shelf");
    if (!nsect) {
      done(opaque, 0);
      free(r);
      return 0;
    }
  }
  return submit_req(t, r);
}

struct waiter {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int done, err;
};

static void waiter_done(void *opaque, int err)
{
  struct waiter *w = opaque;
  pthread_mutex_lock(&w->lock);
  w->done = 1;
  w->err = err;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

static int waiter_wait(struct aoe_target *t, struct waiter *w)
{
  struct aoe_initiator *ini = t->ini;
  pthread_mutex_lock(&w->lock);
  while (!w->done) {
    if (ini->running) {
      aoe_sleep_begin(t);
      pthread_cond_wait(&w->cond, &w->lock);
      aoe_sleep_end(t);
    } else {
      pthread_mutex_unlock(&w->lock);
      aoe_engine_step(ini, aoe_engine_timeout(ini, 100));
      pthread_mutex_lock(&w->lock);
    }
  }
  pthread_mutex_unlock(&w->lock);
  pthread_mutex_destroy(&w->lock);
  pthread_cond_destroy(&w->cond);
  return -w->err;
}

#define WAITER_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 }

int aoe_io(struct aoe_target *t, enum aoe_op op, uint64_t lba, uint32_t nsect, void *buf)
{
  struct waiter w = WAITER_INIT;
  aoe_submit(t, op, lba, nsect, buf, waiter_done, &w);
  return waiter_wait(t, &w);
}

/* Send a Reserve/Release command to every path and wait; the reply lists go in RES. */
static int reserve_cmd(struct aoe_target *t, uint8_t rcmd, int with_macs, struct rr_result *res)
{
  struct waiter w = WAITER_INIT;
  struct aoe_req *r = aoe_req_new(t, REQ_RESERVE, waiter_done, &w);
  if (!r)
    return -ENOMEM;
  r->rcmd = rcmd;
  r->rr = res;
  if (with_macs) {
    pthread_mutex_lock(&t->ini->lock);
    aoe_req_our_macs(t, r);
    pthread_mutex_unlock(&t->ini->lock);
  }
  submit_req(t, r);
  return waiter_wait(t, &w);
}

int aoe_reserve(struct aoe_target *t, int force, char *err, size_t errlen)
{
  struct rr_result res = { .nmacs = 0 };
  pthread_mutex_lock(&t->ini->lock);
  int had_claim = t->nclaim_fds > 0;
  int rc = aoe_claim_take(t, err, errlen);
  pthread_mutex_unlock(&t->ini->lock);
  if (rc < 0)                   /* another process of ours: the shelf would take it */
    return rc;
  rc = reserve_cmd(t, force ? AOE_RCMD_FORCE : AOE_RCMD_SET, 1, &res);
  if (rc == 0) {
    uint64_t now = aoe_clock_us(t->ini);
    pthread_mutex_lock(&t->ini->lock);
    t->reserved = 1;
    t->claimed = 1;
    t->rr_lost_us = 0;
    t->rr_read_us = now;
    t->rr_next_us = now + 1000ull * aoe_keepalive_interval_ms(t->ini->opt.dead_time_ms);
    pthread_mutex_unlock(&t->ini->lock);
    return 0;
  }
  pthread_mutex_lock(&t->ini->lock);
  if (!had_claim)
    aoe_claim_drop(t);
  pthread_mutex_unlock(&t->ini->lock);
  if (rc == -EBADE) {
    size_t n = (size_t)snprintf(err, errlen, "e%u.%u is reserved by", t->shelf, t->slot);
    for (unsigned i = 0; i < res.nmacs && n < errlen; i++) {
      const uint8_t *m = res.macs[i];
      n += (size_t)snprintf(err + n, errlen - n, "%s %02x:%02x:%02x:%02x:%02x:%02x",
                            i ? "," : "", m[0], m[1], m[2], m[3], m[4], m[5]);
    }
    if (n < errlen && !res.nmacs)
      snprintf(err + n, errlen - n, " another host");
  } else {
    snprintf(err, errlen, "%s", t->last_error[0] ? t->last_error : strerror(-rc));
  }
  return rc;
}

int aoe_release(struct aoe_target *t)
{
  char err[256];
  /* Out of our claim before the release is sent, whether or not it gets through (the
   * shelf may be down: aoeraid remove): never re-asserted again, and what another host
   * does with it later is not a takeover of the rest.  Another process of this host
   * holding it (one we were refused for): the reservation is its, not ours to drop. */
  pthread_mutex_lock(&t->ini->lock);
  t->reserved = 0;
  t->claimed = 0;
  t->rr_lost_us = 0;
  int rc = aoe_claim_take(t, err, sizeof err);
  pthread_mutex_unlock(&t->ini->lock);
  if (rc == -EBUSY)
    return rc;
  rc = reserve_cmd(t, AOE_RCMD_SET, 0, NULL);   /* also when no claim could be taken */
  pthread_mutex_lock(&t->ini->lock);
  aoe_claim_drop(t);
  pthread_mutex_unlock(&t->ini->lock);
  return rc;
}

int aoe_reserve_read(struct aoe_target *t, uint8_t (*macs)[6], size_t max)
{
  struct rr_result res = { .nmacs = 0 };
  int rc = reserve_cmd(t, AOE_RCMD_READ, 0, &res);
  if (rc < 0)
    return rc;
  for (unsigned i = 0; i < res.nmacs && i < max; i++)
    memcpy(macs[i], res.macs[i], 6);
  return (int)res.nmacs;
}

struct aoe_target *aoe_claim_taken(struct aoe_initiator *ini, char *buf, size_t len)
{
  pthread_mutex_lock(&ini->lock);
  struct aoe_target *t = ini->rr_taken ? ini->rr_taken_t : NULL;
  if (t)
    snprintf(buf, len, "%s", ini->rr_taken_by);
  pthread_mutex_unlock(&ini->lock);
  return t;
}

int aoe_local_mac(struct aoe_initiator *ini, const uint8_t mac[6])
{
  for (size_t i = 0; i < ini->nifaces; i++)
    if (!memcmp(ini->ifaces[i].mac, mac, 6))
      return 1;
  return 0;
}

/* Since when path P has been asked without an answer, or 0 while it answers (see
 * aoe_stats.silent_ms). */
static uint64_t path_unanswered_since(const struct aoe_path *p, uint64_t now)
{
  int ka_unanswered = p->ka.first_us > p->last_heard_us &&
                      now - p->ka.first_us > p->rtt.rto_us;
  return p->timeouts_since_heard > 0 || ka_unanswered ? p->last_heard_us : 0;
}

/* The shelf is silent only when every path that is up is: the least silent one counts. */
static unsigned target_silent_ms(const struct aoe_target *t, uint64_t now)
{
  uint64_t silent_us = UINT64_MAX;
  for (size_t i = 0; i < t->npaths; i++) {
    const struct aoe_path *p = &t->paths[i];
    if (p->state != PATH_ACTIVE || !p->up)
      continue;
    uint64_t since = path_unanswered_since(p, now);
    uint64_t quiet = since && now > since ? now - since : 0;
    if (quiet < silent_us)
      silent_us = quiet;
  }
  return silent_us == UINT64_MAX ? 0 : (unsigned)(silent_us / 1000);
}

int aoe_target_stats(struct aoe_target *t, struct aoe_stats *s)
{
  const struct aoe_target_counts *c = &t->st;
  memset(s, 0, sizeof *s);
  pthread_mutex_lock(&t->ini->lock);
  s->shelf = t->shelf;
  s->slot = t->slot;
  s->held = atomic_load(&t->held);
  if (t->held_us)
    s->held_ms = (unsigned)((aoe_clock_us(t->ini) - t->held_us) / 1000);
  s->reads = c->reads;
  s->writes = c->writes;
  s->flushes = c->flushes;
  s->read_bytes = c->read_bytes;
  s->write_bytes = c->write_bytes;
  s->errors = c->errors;
  s->retransmits = c->retransmits;
  s->dropped = c->dropped;
  s->unexpected = c->unexpected;
  s->down_events = c->down_events;
  s->up_events = c->up_events;
  s->up = atomic_load(&t->up);
  if (s->up && !s->held)
    s->silent_ms = target_silent_ms(t, aoe_clock_us(t->ini));
  for (size_t i = 0; i < t->npaths; i++) {
    const struct aoe_path *p = &t->paths[i];
    if (p->state != PATH_ACTIVE)
      continue;
    struct aoe_path_stats *ps = &s->paths[s->npaths++];
    *ps = p->st;
    ps->up = p->up;
    ps->srtt_us = p->rtt.srtt_us;
    ps->rttvar_us = p->rtt.rttvar_us;
    ps->rto_us = p->rtt.rto_us;
    ps->window = p->win.cwnd;
    ps->ssthresh = p->win.ssthresh;
    ps->inflight = p->inflight;
  }
  pthread_mutex_unlock(&t->ini->lock);
  return 0;
}

int aoe_initiator_stats(struct aoe_initiator *ini, struct aoe_initiator_stats *s)
{
  pthread_mutex_lock(&ini->lock);
  *s = ini->st;
  s->rejected_short = ini->parse_counts[AOE_PARSE_SHORT];
  s->rejected_ethertype = ini->parse_counts[AOE_PARSE_ETHERTYPE];
  s->rejected_version = ini->parse_counts[AOE_PARSE_VERSION];
  s->rejected_flags = ini->parse_counts[AOE_PARSE_FLAGS];
  s->rejected_count += ini->parse_counts[AOE_PARSE_COUNT];
  s->rejected_command = ini->parse_counts[AOE_PARSE_COMMAND];
  pthread_mutex_unlock(&ini->lock);
  return 0;
}

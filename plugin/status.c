/* The array's status: what `aoeraid status` prints, through the control socket. */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "monitor.h"
#include "status.h"

static struct aoe_initiator *status_ini;
static struct raid_array *status_array;
static const struct params *status_params;

/* Which runs began (monitor thread writes, control threads read): before, there is no
 * rate to show.  A resync that stopped short (a member lost, an error) leaves its line,
 * pending: it ends too.  raid/ counts the rates, md's way (raid_status.run_rate). */
static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static bool rec_running, check_running, replace_running, reshape_running, resync_running;

struct progress_view {
  double percent, rate_mbs, eta_s;      /* < 0: not known (eta: nothing moves) */
  uint64_t done, total;
};

static void run_set(bool *running, bool on)
{
  pthread_mutex_lock(&rec_lock);
  *running = on;
  pthread_mutex_unlock(&rec_lock);
}

static bool run_get(const bool *running)
{
  bool on;

  pthread_mutex_lock(&rec_lock);
  on = *running;
  pthread_mutex_unlock(&rec_lock);
  return on;
}

void status_recovery_begin(void)
{
  run_set(&rec_running, true);
}

void status_resync_begin(void)
{
  run_set(&resync_running, true);
}

void status_resync_end(void)
{
  run_set(&resync_running, false);
}

void status_reshape_begin(void)
{
  run_set(&reshape_running, true);
}

void status_check_begin(void)
{
  run_set(&check_running, true);
}

void status_replace_begin(void)
{
  run_set(&replace_running, true);
}

/* Progress, rate and time left of a run of KIND that has done DONE of TOTAL units of
 * UNIT_BYTES: the rate is md's, of the bytes the run moved over the last half minute
 * (regions a bitmap left clean count as done, not as moved); the eta is what is left
 * at that rate, as md's (clean regions still ahead make it long). */
static void run_view(const struct raid_status *st, const bool *running,
                     enum raid_run_kind kind, uint64_t done, uint64_t total,
                     uint64_t unit_bytes, struct progress_view *v)
{
  double rate = st->run_rate[kind];

  v->done = done;
  v->total = total;
  v->percent = v->total ? 100.0 * v->done / v->total : 0;
  v->rate_mbs = v->eta_s = -1;
  /* a failed array runs nothing: no rate decaying since the run stopped, no eta */
  if (!run_get(running) || rate < 0 || st->state == RAID_STATE_FAILED)
    return;
  v->rate_mbs = rate / 1e6;
  if (v->total <= v->done)
    v->eta_s = 0;
  else if (rate > 0)
    v->eta_s = (double)(v->total - v->done) * unit_bytes / rate;
}

/* The same of a run over the array's units (resync_units: chunks, per member). */
static void progress_view(const struct raid_status *st, const bool *running,
                          enum raid_run_kind kind, uint64_t done, struct progress_view *v)
{
  run_view(st, running, kind, done, st->resync_units, st->chunk_bytes, v);
}

/* The same of the resync, which runs only while the array is whole (else it is pending:
 * no rate). */
static void resync_view(const struct raid_status *st, struct progress_view *v)
{
  progress_view(st, &resync_running, RAID_RUN_RESYNC, st->resync_offset, v);
  if (st->state != RAID_STATE_CLEAN)
    v->rate_mbs = v->eta_s = -1;
}

/* The same of the reshape, which counts bytes of the array moved. */
static void reshape_view(const struct raid_status *st, struct progress_view *v)
{
  run_view(st, &reshape_running, RAID_RUN_RESHAPE, st->reshape_position, st->reshape_size,
           1, v);
}

static void check_view(const struct raid_status *st, struct progress_view *v)
{
  progress_view(st, &check_running, st->check_action == RAID_CHECK_REPAIR
                ? RAID_RUN_REPAIR : RAID_RUN_CHECK, st->check_offset, v);
}

/* A replace steps aside while a recovery runs (raid_replace stops at its checkpoint and
 * resumes after), unless the recovery is held off, failing: then it copies on. */
static bool replace_waits(const struct raid_status *st)
{
  return !st->replace_failed && st->recovery_slot >= 0 && !st->recovery_held;
}

/* "  R MB/s  eta Ns" of a rate that is known; while nothing moves, "eta unknown" (the
 * same fields, for scripts that count them). */
static void print_rate(FILE *out, const struct progress_view *v)
{
  if (v->rate_mbs < 0)
    return;
  fprintf(out, "  %.1f MB/s", v->rate_mbs);
  if (v->eta_s >= 0)
    fprintf(out, "  eta %.0fs", v->eta_s);
  else
    fprintf(out, "  eta unknown");
}

void status_set(struct aoe_initiator *ini, struct raid_array *array, const struct params *p)
{
  status_ini = ini;
  status_array = array;
  status_params = p;
}

static const char *state_name(enum raid_array_state s)
{
  return s == RAID_STATE_CLEAN ? "clean" : s == RAID_STATE_DEGRADED ? "degraded" : "failed";
}

/* A member whose shelf stopped answering is not failed until it misses a write (or an
 * admin fails it): "down", as aoe-stat says, not md's "faulty", for it is back in its
 * role with nothing to rebuild when the shelf answers again. */
static const char *role_name(const struct raid_member_status *m)
{
  if (m->role == RAID_ROLE_FAULTY && !m->failed)
    return "down";
  switch (m->role) {
  case RAID_ROLE_ACTIVE: return "active";
  case RAID_ROLE_SPARE: return "spare";
  case RAID_ROLE_FAULTY: return "faulty";
  case RAID_ROLE_MISSING: return "missing";
  case RAID_ROLE_RECOVERING: return "recovering";
  }
  return "?";
}

static void level_text(const struct raid_status *st, char *buf, size_t len)
{
  if (st->level == RAID_LEVEL_EC)
    snprintf(buf, len, "ec %u+%u", st->k, st->m);
  else
    snprintf(buf, len, "%s", raid_level_name(st->level));
}

/* What the initiator knows of a member's shelf: is it answering, over how many paths, how
 * fast, and how lossy the link has been. */
struct link_view {
  int up;
  int held;                     /* silent, but the array needs it: its I/O waits */
  unsigned held_ms;
  unsigned silent_ms;           /* asked, unanswered this long: not yet its dead time */
  size_t paths_up, paths;
  uint32_t srtt_us;             /* of the fastest path that is up */
  unsigned window;              /* summed over the paths */
  uint64_t retransmits, frames;
  uint64_t reads, writes, flushes;   /* requests the shelf completed (aoe_target_stats) */
  int write_cache;              /* aoe_target_write_cache */
};

static int link_view(const char *member, struct link_view *v)
{
  struct shelf_addr addr;
  struct aoe_target *t;
  struct aoe_stats as;

  memset(v, 0, sizeof *v);
  if (!status_ini || !member[0] || parse_shelf_addr(member, &addr) < 0)
    return -1;
  t = aoe_target_find(status_ini, addr.shelf, addr.slot);
  if (!t || aoe_target_stats(t, &as) < 0)
    return -1;
  v->up = as.up;
  v->held = as.held;
  v->held_ms = as.held_ms;
  v->silent_ms = as.silent_ms;
  v->paths = as.npaths;
  v->retransmits = as.retransmits;
  v->reads = as.reads;
  v->writes = as.writes;
  v->flushes = as.flushes;
  v->write_cache = aoe_target_write_cache(t);
  for (size_t i = 0; i < as.npaths; i++) {
    const struct aoe_path_stats *p = &as.paths[i];
    v->frames += p->frames_sent;
    if (!p->up)
      continue;
    v->paths_up++;
    v->window += p->window;
    if (!v->srtt_us || p->srtt_us < v->srtt_us)
      v->srtt_us = p->srtt_us;
  }
  return 0;
}

/* "up", "down", or "held": silent past its dead time, its I/O waiting (hold-time). */
static const char *shelf_state(const struct link_view *v)
{
  return v->held ? "held" : v->up ? "up" : "down";
}

/* A shelf silent this long is told apart from one answering: a healthy one answers a
 * timed-out frame's retransmit or a keepalive within milliseconds. */
#define SILENT_SHOWN_MS 1000

/* The members whose shelf does not answer: silent, counting towards its dead time (the
 * row still says up until then), or held, the array waiting for it up to hold-time. */
static void print_waiting(FILE *out, const struct raid_status *st)
{
  for (unsigned i = 0; i < st->members; i++) {
    struct link_view v;
    if (link_view(st->member[i].name, &v) < 0)
      continue;
    if (v.held)
      fprintf(out, "  waiting for %s: no answer, held %u s of hold-time %u s (the array "
              "cannot do without it)\n", st->member[i].name, v.held_ms / 1000,
              status_params ? status_params->hold_time_ms / 1000 : 0);
    else if (v.silent_ms >= SILENT_SHOWN_MS)
      fprintf(out, "  waiting for %s: no answer for %.1f s (declared down at dead-time "
              "%.1f s)\n", st->member[i].name, v.silent_ms / 1000.0,
              status_params ? status_params->dead_time_ms / 1000.0 : 0.0);
  }
}

/* A reshape runs with the bitmap off (its regions are the old layout's): it comes back
 * after, so the array is no bitmap-less one meanwhile. */
static bool bitmap_after_reshape(const struct raid_status *st)
{
  return !st->bitmap_bits && st->reshape_position != RAID_RESHAPE_NONE
    && st->reshape_bitmap_region;
}

/* md's consistency policy of an array without a partial parity log: "none" for a RAID0,
 * which has nothing to keep consistent (it said "resync", which a RAID0 never runs). */
static const char *policy_name(const struct raid_status *st)
{
  if (st->level == RAID_LEVEL_0)
    return "none";
  return st->bitmap_bits || bitmap_after_reshape(st) ? "bitmap" : "resync";
}

/* Is NAME a spare now (an add took it, its recovery not begun)? */
static bool is_spare(const struct raid_status *st, const char *name)
{
  for (unsigned i = 0; i < st->spares; i++)
    if (!strcmp(st->spare[i], name))
      return true;
  return false;
}

/* The members assembly left out as stale: their slot shows missing (no shelf serves it),
 * yet their shelf answers, held by this server, and an add is all they need. */
static void print_stale(FILE *out, const struct raid_status *st)
{
  for (unsigned i = 0; i < st->members; i++) {
    const char *name = st->member[i].stale_name;
    if (st->member[i].stale && name[0] && !is_spare(st, name))
      fprintf(out, "  left out at the start: %s (slot %u, stale: it missed updates; "
              "aoeraid add %s re-adds it)\n", name, i, name);
  }
}

static void print_text(FILE *out, const struct raid_status *st)
{
  char uuid[37], level[32], min[32], max[32];

  raid_uuid_format(st->uuid, uuid);
  level_text(st, level, sizeof level);
  fprintf(out, "array %s  uuid %s\n", st->name[0] ? st->name : "(unnamed)", uuid);
  fprintf(out, "  level %s  chunk %" PRIu32 "K  members %u  size %" PRIu64 " bytes (%.1f GiB)\n",
          level, st->chunk_bytes / 1024, st->members, st->size, st->size / 1073741824.0);
  fprintf(out, "  state %s%s  events %" PRIu64 "\n", state_name(st->state),
          st->readonly ? ", read-only" : "", st->events);
  if (st->fenced_by[0])
    fprintf(out, "  fenced: %s is reserved by another head, which took the array over; "
            "this server no longer serves it\n", st->fenced_by);
  if (st->resync_offset != UINT64_MAX) {
    struct progress_view v;
    resync_view(st, &v);
    fprintf(out, "  resync%s %.1f%% (%" PRIu64 " of %" PRIu64 " %s)%s",
            st->resync_after_crash ? " after a crash" : "", v.percent, v.done, v.total,
            st->m ? "stripes" : "chunks",
            st->state == RAID_STATE_CLEAN ? "" : ", pending until the array is whole");
    print_rate(out, &v);
    fprintf(out, "\n");
  }
  if (st->reshape_position != RAID_RESHAPE_NONE) {
    struct progress_view v;
    reshape_view(st, &v);
    fprintf(out, "  reshape %s of %u -> %s of %u  %.1f%% (%" PRIu64 " of %" PRIu64
            " bytes)", raid_level_name(st->reshape_from_level), st->reshape_from_members,
            raid_level_name(st->level), st->members, v.percent, v.done, v.total);
    print_rate(out, &v);
    fprintf(out, "\n");
  }
  if (st->recovery_slot >= 0) {
    struct progress_view v;
    progress_view(st, &rec_running, RAID_RUN_RECOVERY, st->recovery_offset, &v);
    fprintf(out, "  recovery slot %d (%s) %.1f%% (%" PRIu64 " of %" PRIu64 " %s)",
            st->recovery_slot, st->member[st->recovery_slot].name, v.percent, v.done, v.total,
            st->m ? "stripes" : "chunks");
    if (st->state == RAID_STATE_FAILED)
      fprintf(out, "  stopped: the array has failed");
    else
      print_rate(out, &v);
    fprintf(out, "\n");
  }
  if (st->replace_slot >= 0) {
    struct progress_view v;
    progress_view(st, &replace_running, RAID_RUN_REPLACE, st->replace_offset, &v);
    fprintf(out, "  replace slot %d (%s -> %s) %.1f%% (%" PRIu64 " of %" PRIu64 " %s)",
            st->replace_slot, st->member[st->replace_slot].name, st->replace_name, v.percent,
            v.done, v.total, st->m ? "stripes" : "chunks");
    if (st->replace_failed)     /* until the replace, running or next, stops on it */
      fprintf(out, "  %s failed: stopping", st->replace_name);
    else if (replace_waits(st))
      fprintf(out, "  waiting: recovery of slot %d runs", st->recovery_slot);
    else
      print_rate(out, &v);
    if (!st->replace_failed && st->recovery_slot >= 0 && st->recovery_held)
      fprintf(out, "  (recovery of slot %d held off: it cannot make progress)",
              st->recovery_slot);
    fprintf(out, "\n");
  }
  if (st->check_running) {
    struct progress_view v;
    check_view(st, &v);
    fprintf(out, "  %s %.1f%% (%" PRIu64 " of %" PRIu64 " %s)",
            raid_check_action_name(st->check_action),
            v.percent, v.done, v.total, st->m ? "stripes" : "chunks");
    print_rate(out, &v);
    fprintf(out, "  mismatches %" PRIu64 "  read errors rewritten %" PRIu64 "\n",
            st->check_mismatches, st->check_read_errors);
  }
  if (monitor_check_waiting() != RAID_CHECK_NONE)
    fprintf(out, "  %s waiting to start\n",
            raid_check_action_name(monitor_check_waiting()));
  if (!st->check_running && st->check_action != RAID_CHECK_NONE)
    fprintf(out, "  last %s %s at %.1f%%: mismatches %" PRIu64 "%s  read errors rewritten %"
            PRIu64 "\n", raid_check_action_name(st->check_action),
            st->check_complete ? "complete" : "stopped",
            st->resync_units ? 100.0 * st->check_offset / st->resync_units : 0.0,
            st->check_mismatches, st->check_action == RAID_CHECK_REPAIR ? " (repaired)" : "",
            st->check_read_errors);
  if (st->bitmap_bits)
    fprintf(out, "  bitmap %" PRIu64 " of %" PRIu64 " regions dirty, %" PRIu64 "K each, "
            "delay %gs\n", st->bitmap_dirty, st->bitmap_bits, st->bitmap_region / 1024,
            st->bitmap_delay_ms / 1000.0);
  else if (bitmap_after_reshape(st))
    fprintf(out, "  bitmap off during the reshape: back after it, %" PRIu64 "K regions, "
            "every one dirty until the resync after the reshape\n",
            st->reshape_bitmap_region / 1024);
  else
    fprintf(out, "  bitmap none\n");
  if (st->ppl)
    fprintf(out, "  consistency policy ppl (a %" PRIu64 "K partial parity log on each "
            "member)\n", st->ppl_log_bytes / 1024);
  else
    fprintf(out, "  consistency policy %s\n", policy_name(st));
  fprintf(out, "  sync speed  min %s  max %s\n",
          rate_text(st->sync_speed_min, min, sizeof min),
          rate_text(st->sync_speed_max, max, sizeof max));
  fprintf(out, "  spares");
  for (unsigned i = 0; i < st->spares; i++) {
    struct link_view v;
    /* A spare's shelf that is down is not rebuilt onto: say so before it is needed. */
    fprintf(out, " %s%s", st->spare[i],
            link_view(st->spare[i], &v) == 0 && !v.up ? " (shelf down)" : "");
  }
  fprintf(out, "%s\n", st->spares ? "" : " none");
  print_waiting(out, st);
  /* out of every slot, so in no line below: said here, with what takes it back */
  for (unsigned i = 0; i < st->admin_failed; i++)
    fprintf(out, "  failed by the administrator: %s (left out; aoeraid add %s takes it "
            "back)\n", st->admin_failed_name[i], st->admin_failed_name[i]);
  print_stale(out, st);
  /* md --detail lists a failed device until --remove: this one's slot is another's */
  for (unsigned i = 0; i < st->let_go; i++)
    fprintf(out, "  former member: %s (its slot is another's since; aoeraid remove %s "
            "releases its shelf, aoeraid add %s makes it a spare)\n", st->let_go_name[i],
            st->let_go_name[i], st->let_go_name[i]);
  fprintf(out, "  %-4s %-8s %-10s %11s %12s  %-5s %5s %7s %6s %11s\n", "slot", "member",
          "role", "read-errors", "write-errors", "shelf", "paths", "rtt-us", "window",
          "retransmits");
  for (unsigned i = 0; i < st->members; i++) {
    const struct raid_member_status *m = &st->member[i];
    struct link_view v;
    fprintf(out, "  %-4u %-8s %-10s %11" PRIu64 " %12" PRIu64, i, m->name[0] ? m->name : "-",
            role_name(m), m->read_errors, m->write_errors);
    if (link_view(m->name, &v) == 0)
      fprintf(out, "  %-5s %2zu/%-2zu %7" PRIu32 " %6u %11" PRIu64, shelf_state(&v),
              v.paths_up, v.paths, v.srtt_us, v.window, v.retransmits);
    /* md: "(W)" in /proc/mdstat, "writemostly" in --detail */
    fprintf(out, "%s\n", m->writemostly ? "  writemostly" : "");
  }
}

static void print_json(FILE *out, const struct raid_status *st)
{
  char uuid[37], level[32];

  raid_uuid_format(st->uuid, uuid);
  level_text(st, level, sizeof level);
  fprintf(out, "{\"name\":");
  json_string(out, st->name);
  fprintf(out, ",\"uuid\":\"%s\",\"level\":\"%s\",\"k\":%u,\"m\":%u,"
          "\"chunk\":%" PRIu32 ",\"size\":%" PRIu64 ",\"state\":\"%s\",\"events\":%" PRIu64
          ",\"readonly\":%s,", uuid, level, st->k, st->m, st->chunk_bytes, st->size,
          state_name(st->state), st->events, st->readonly ? "true" : "false");
  if (st->fenced_by[0])
    fprintf(out, "\"fenced\":\"%s\",", st->fenced_by);
  else
    fprintf(out, "\"fenced\":null,");
  if (st->resync_offset != UINT64_MAX) {
    struct progress_view v;
    resync_view(st, &v);
    fprintf(out, "\"resync\":{\"done\":%" PRIu64 ",\"total\":%" PRIu64
            ",\"after_crash\":%s,\"percent\":%.1f,\"rate_mbs\":%.1f,\"eta_s\":%.0f},",
            v.done, v.total, st->resync_after_crash ? "true" : "false", v.percent,
            v.rate_mbs, v.eta_s);
  }
  else
    fprintf(out, "\"resync\":null,");
  if (st->reshape_position != RAID_RESHAPE_NONE) {
    struct progress_view v;
    reshape_view(st, &v);
    fprintf(out, "\"reshape\":{\"from_level\":\"%s\",\"from_members\":%u,\"done\":%" PRIu64
            ",\"total\":%" PRIu64 ",\"percent\":%.1f,\"rate_mbs\":%.1f,\"eta_s\":%.0f},",
            raid_level_name(st->reshape_from_level), st->reshape_from_members, v.done, v.total,
            v.percent, v.rate_mbs, v.eta_s);
  }
  else
    fprintf(out, "\"reshape\":null,");
  if (st->recovery_slot >= 0) {
    struct progress_view v;
    progress_view(st, &rec_running, RAID_RUN_RECOVERY, st->recovery_offset, &v);
    fprintf(out, "\"recovery\":{\"slot\":%d,\"done\":%" PRIu64 ",\"total\":%" PRIu64
            ",\"percent\":%.1f,\"rate_mbs\":%.1f,\"eta_s\":%.0f},", st->recovery_slot,
            v.done, v.total, v.percent, v.rate_mbs, v.eta_s);
  }
  else
    fprintf(out, "\"recovery\":null,");
  if (st->replace_slot >= 0) {
    struct progress_view v;
    progress_view(st, &replace_running, RAID_RUN_REPLACE, st->replace_offset, &v);
    bool waiting = replace_waits(st);
    if (st->replace_failed || waiting)   /* stopping, or stepped aside: no rate */
      v.rate_mbs = v.eta_s = -1;
    fprintf(out, "\"replace\":{\"slot\":%d,\"from\":\"%s\",\"to\":\"%s\",\"done\":%" PRIu64
            ",\"total\":%" PRIu64 ",\"failed\":%s,\"waiting\":%s,\"percent\":%.1f,"
            "\"rate_mbs\":%.1f,\"eta_s\":%.0f},", st->replace_slot,
            st->member[st->replace_slot].name, st->replace_name, v.done, v.total,
            st->replace_failed ? "true" : "false", waiting ? "true" : "false", v.percent,
            v.rate_mbs, v.eta_s);
  }
  else
    fprintf(out, "\"replace\":null,");
  if (st->check_action != RAID_CHECK_NONE) {
    struct progress_view v;
    check_view(st, &v);
    if (!st->check_running)     /* the last one, ended: nothing runs */
      v.rate_mbs = v.eta_s = -1;
    fprintf(out, "\"check\":{\"action\":\"%s\",\"running\":%s,\"complete\":%s,\"done\":%"
            PRIu64 ",\"total\":%" PRIu64 ",\"mismatches\":%" PRIu64 ",\"read_errors\":%"
            PRIu64 ",\"percent\":%.1f,\"rate_mbs\":%.1f,\"eta_s\":%.0f},",
            raid_check_action_name(st->check_action), st->check_running ? "true" : "false",
            st->check_complete ? "true" : "false", v.done, v.total, st->check_mismatches,
            st->check_read_errors, v.percent, v.rate_mbs, v.eta_s);
  }
  else
    fprintf(out, "\"check\":null,");
  fprintf(out, "\"sync_speed_min\":%" PRIu64 ",\"sync_speed_max\":%" PRIu64 ",",
          st->sync_speed_min, st->sync_speed_max);
  if (st->bitmap_bits)
    fprintf(out, "\"bitmap\":{\"regions\":%" PRIu64 ",\"dirty\":%" PRIu64
            ",\"region_bytes\":%" PRIu64 ",\"delay_ms\":%u},", st->bitmap_bits,
            st->bitmap_dirty, st->bitmap_region, st->bitmap_delay_ms);
  else
    fprintf(out, "\"bitmap\":null,");
  fprintf(out, "\"consistency_policy\":\"%s\",\"ppl_log_bytes\":%" PRIu64 ",",
          st->ppl ? "ppl" : policy_name(st), st->ppl_log_bytes);
  fprintf(out, "\"bitmap_after_reshape\":%" PRIu64 ",",
          bitmap_after_reshape(st) ? st->reshape_bitmap_region : 0);
  fprintf(out, "\"spares\":[");
  for (unsigned i = 0; i < st->spares; i++)
    fprintf(out, "%s\"%s\"", i ? "," : "", st->spare[i]);
  fprintf(out, "],\"admin_failed\":[");
  for (unsigned i = 0; i < st->admin_failed; i++)
    fprintf(out, "%s\"%s\"", i ? "," : "", st->admin_failed_name[i]);
  fprintf(out, "],\"let_go\":[");
  for (unsigned i = 0; i < st->let_go; i++)
    fprintf(out, "%s\"%s\"", i ? "," : "", st->let_go_name[i]);
  fprintf(out, "],\"spare_shelves\":[");
  for (unsigned i = 0; i < st->spares; i++) {
    struct link_view v;
    fprintf(out, "%s{\"name\":\"%s\"", i ? "," : "", st->spare[i]);
    if (link_view(st->spare[i], &v) == 0)
      fprintf(out, ",\"up\":%s,\"paths_up\":%zu,\"paths\":%zu", v.up ? "true" : "false",
              v.paths_up, v.paths);
    fprintf(out, "}");
  }
  fprintf(out, "],");
  fprintf(out, "\"members\":[");
  for (unsigned i = 0; i < st->members; i++) {
    const struct raid_member_status *m = &st->member[i];
    struct link_view v;
    fprintf(out, "%s{\"slot\":%u,\"name\":\"%s\",\"role\":\"%s\",\"writemostly\":%s,"
            "\"read_errors\":%" PRIu64 ",\"write_errors\":%" PRIu64, i ? "," : "", i, m->name,
            role_name(m), m->writemostly ? "true" : "false", m->read_errors,
            m->write_errors);
    if (m->stale && m->stale_name[0] && !is_spare(st, m->stale_name))
      fprintf(out, ",\"stale\":\"%s\"", m->stale_name);   /* left out at the start */
    if (link_view(m->name, &v) == 0)
      fprintf(out, ",\"shelf\":{\"up\":%s,\"held\":%s,\"held_ms\":%u,\"silent_ms\":%u,"
              "\"paths_up\":%zu,"
              "\"paths\":%zu,\"srtt_us\":%" PRIu32 ",\"window\":%u,\"retransmits\":%" PRIu64
              ",\"frames\":%" PRIu64 ",\"reads\":%" PRIu64 ",\"writes\":%" PRIu64
              ",\"flushes\":%" PRIu64 ",\"write_cache\":%s}", v.up ? "true" : "false",
              v.held ? "true" : "false", v.held_ms, v.silent_ms, v.paths_up, v.paths, v.srtt_us,
              v.window, v.retransmits, v.frames, v.reads, v.writes, v.flushes,
              v.write_cache ? "true" : "false");
    fprintf(out, "}");
  }
  fprintf(out, "]}\n");
}

/* "status activity": one line per background run that can make progress (a resync of
 * a whole array, a reshape, a recovery, a replace, a check or repair running or about to
 * start), or "idle": what `aoeraid wait` asks until it is idle (md's --wait, which waits
 * for sync_action to be idle).  A resync pending until the array is whole, and a recovery
 * that cannot move (the array failed, or held off) would never end by waiting: not runs. */
static void print_activity(FILE *out, const struct raid_status *st)
{
  struct progress_view v;
  bool any = false;

  if (st->resync_offset != UINT64_MAX && st->state == RAID_STATE_CLEAN) {
    resync_view(st, &v);
    fprintf(out, "resync %.1f%%\n", v.percent);
    any = true;
  }
  if (st->reshape_position != RAID_RESHAPE_NONE) {
    reshape_view(st, &v);
    fprintf(out, "reshape %.1f%%\n", v.percent);
    any = true;
  }
  if (st->recovery_slot >= 0 && st->state != RAID_STATE_FAILED && !st->recovery_held) {
    progress_view(st, &rec_running, RAID_RUN_RECOVERY, st->recovery_offset, &v);
    fprintf(out, "recovery slot %d (%s) %.1f%%\n", st->recovery_slot,
            st->member[st->recovery_slot].name, v.percent);
    any = true;
  }
  if (st->replace_slot >= 0) {
    progress_view(st, &replace_running, RAID_RUN_REPLACE, st->replace_offset, &v);
    fprintf(out, "replace slot %d (%s -> %s) %.1f%%\n", st->replace_slot,
            st->member[st->replace_slot].name, st->replace_name, v.percent);
    any = true;
  }
  if (st->check_running) {
    check_view(st, &v);
    fprintf(out, "%s %.1f%%\n", raid_check_action_name(st->check_action), v.percent);
    any = true;
  }
  else if (monitor_check_waiting() != RAID_CHECK_NONE) {
    fprintf(out, "%s waiting to start\n", raid_check_action_name(monitor_check_waiting()));
    any = true;
  }
  if (!any && monitor_kick_pending()) {     /* an add, fail or replace just now */
    fprintf(out, "a change to look at (a recovery may start)\n");
    any = true;
  }
  if (!any)
    fprintf(out, "idle\n");
}

int status_request(const char *request, FILE *out)
{
  struct raid_status st;
  int json = !strcmp(request, "status json"), activity = !strcmp(request, "status activity");

  if (strcmp(request, "status") && !json && !activity) {
    fprintf(out, "error: unknown request '%s': this server answers 'status', "
            "'status json', 'status activity', 'add|fail|remove SHELF.SLOT', 'writemostly SHELF.SLOT on|off', 'replace OLD [NEW]', "
            "'speed [min=RATE] [max=RATE]', 'grow [level=LEVEL] SHELF.SLOT...', 'grow size=SIZE|max', "
            "'grow bitmap=SIZE|none', 'grow consistency-policy=ppl|bitmap|resync' and "
            "'check [repair|stop]'\n", request);
    return -1;
  }
  if (!status_array || raid_status(status_array, &st) < 0) {
    fprintf(out, "error: no array is running\n");
    return -1;
  }
  if (json)
    print_json(out, &st);
  else if (activity)
    print_activity(out, &st);
  else
    print_text(out, &st);
  return 0;
}

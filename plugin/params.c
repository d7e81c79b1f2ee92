/* Parameters of nbdkit-aoeraid-plugin. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "log.h"
#include "params.h"
#include "typo.h"

void params_init(struct params *p)
{
  memset(p, 0, sizeof *p);
  p->raid.chunk_bytes = 512 * 1024;     /* md's default */
  p->dead_time_ms = 5000;
  p->hold_time_ms = 180000;     /* the Linux aoe driver's aoe_deadsecs */
  p->discover_ms = 3000;
  p->bitmap_delay_ms = RAID_BITMAP_DELAY_MS;
  p->reserve = true;
  p->poll = true;
  p->auto_readd = true;
  p->readonly_by = "readonly=true";
  p->sync_speed_min = SYNC_SPEED_MIN_DEFAULT;
  p->sync_speed_max = SYNC_SPEED_MAX_DEFAULT;
}

/* shelves= or spares=: a comma-separated list of shelf addresses into list[*n]. */
static int set_shelf_list(const char *key, const char *value, struct shelf_addr *list,
                          size_t *n, size_t max)
{
  char *copy = strdup(value), *save = NULL, *tok;

  if (!copy) {
    nbdkit_error("strdup: %m");
    return -1;
  }
  for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    struct shelf_addr a;
    if (parse_shelf_addr(tok, &a) < 0) {
      /* the ranges too: e65535.1 (AoE's broadcast shelf) looks like an address */
      nbdkit_error("%s: '%s' is not a shelf address: write SHELF.SLOT as in "
                   "%s=e1.1,e2.1 (shelf 0 to 65534, slot 0 to 254)", key, tok, key);
      goto fail;
    }
    for (size_t i = 0; i < *n; i++)
      if (list[i].shelf == a.shelf && list[i].slot == a.slot) {
        nbdkit_error("%s: e%u.%u is listed twice", key, a.shelf, a.slot);
        goto fail;
      }
    if (*n == max) {
      nbdkit_error("%s: at most %zu shelves", key, max);
      goto fail;
    }
    list[(*n)++] = a;
  }
  free(copy);
  return 0;
fail:
  free(copy);
  return -1;
}

/* level=0|1|5|6|10|raid0|raid1|mirror|stripe|raid5|raid6|raid10|K+M (erasure code) into
 * RAID's level, k and m; -1 with what is wrong in ERR. */
int parse_level(const char *value, struct raid_params *raid, char *err, size_t errlen)
{
  static const struct { const char *name; enum raid_level level; } names[] = {
    { "0", RAID_LEVEL_0 }, { "raid0", RAID_LEVEL_0 }, { "stripe", RAID_LEVEL_0 },
    { "1", RAID_LEVEL_1 }, { "raid1", RAID_LEVEL_1 }, { "mirror", RAID_LEVEL_1 },
    { "5", RAID_LEVEL_5 }, { "raid5", RAID_LEVEL_5 },
    { "6", RAID_LEVEL_6 }, { "raid6", RAID_LEVEL_6 },
    { "10", RAID_LEVEL_10 }, { "raid10", RAID_LEVEL_10 },
  };
  unsigned long k, m;
  char *end;

  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcasecmp(value, names[i].name)) {
      raid->level = names[i].level;
      return 0;
    }
  /* K+M: digits only (sscanf's %u would take a sign and wrap: 4294967298+2 is not 2+2) */
  errno = 0;
  if (value[0] >= '0' && value[0] <= '9' && (k = strtoul(value, &end, 10), *end == '+') &&
      end[1] >= '0' && end[1] <= '9' && (m = strtoul(end + 1, &end, 10), *end == '\0')) {
    if (errno || k < 1 || m < 1 || m > 4 || k + m > MAX_SHELVES) {
      snprintf(err, errlen, "erasure code '%s' out of range: K data + M parity with K >= 1 "
               "and M from 1 to 4", value);
      return -1;
    }
    raid->level = RAID_LEVEL_EC;
    raid->k = (unsigned)k;
    raid->m = (unsigned)m;
    return 0;
  }
  snprintf(err, errlen, "unknown level '%s': use 0, 1, 5, 6, 10, or K+M for an erasure "
           "code (for example level=4+2)", value);
  return -1;
}

int set_level(struct params *p, const char *value)
{
  char err[160];

  if (parse_level(value, &p->raid, err, sizeof err) < 0) {
    nbdkit_error("level: %s", err);
    return -1;
  }
  p->level_given = true;
  return 0;
}

/* A time of up to an hour, at least MIN_MS, into *OUT in milliseconds. */
static int set_time_min_ms(const char *key, const char *value, unsigned min_ms, unsigned *out)
{
  char *end;
  double v;

  errno = 0;
  v = strtod(value, &end);
  if (errno || end == value || v < 0)
    goto bad;
  if (!strcmp(end, "ms"))
    ;
  else if (!strcmp(end, "s") || !*end)
    v *= 1000;
  else
    goto bad;
  if (v < min_ms || (v > 0 && v < 1) || v > 3600 * 1000)
    goto bad;
  *out = (unsigned)v;
  return 0;
bad:
  nbdkit_error("%s: '%s' is not a time: write seconds (5, 2.5s) or milliseconds (500ms), "
               "up to an hour", key, value);
  return -1;
}

static int set_time_ms(const char *key, const char *value, unsigned *out)
{
  return set_time_min_ms(key, value, 1, out);
}

/* Digits with an optional K, M, G or T (powers of 1024); *end: what follows. */
static int parse_bytes(const char *s, uint64_t *out, const char **end)
{
  static const char units[] = "KMGT";
  unsigned long long v;
  char *e;

  if (*s < '0' || *s > '9')
    return -1;
  errno = 0;
  v = strtoull(s, &e, 10);
  if (errno)
    return -1;
  if (*e && strchr(units, *e & ~0x20)) {
    int shift = 10 * (int)(strchr(units, *e & ~0x20) - units + 1);
    if (v > UINT64_MAX >> shift)
      return -1;
    v <<= shift;
    e++;
  }
  *out = v;
  *end = e;
  return 0;
}

/* chunk= and bitmap-chunk=: digits with an optional K, M, G or T, nothing after; a value
 * nbdkit_parse_size refused was told in nbdkit's words, naming neither the parameter nor
 * what it takes. */
static int parse_size_param(const char *s, uint64_t *out)
{
  const char *end;

  return parse_bytes(s, out, &end) < 0 || *end ? -1 : 0;
}

int parse_rate(const char *s, uint64_t *out)
{
  const char *end;

  if (!strcasecmp(s, "none")) {
    *out = 0;
    return 0;
  }
  if (parse_bytes(s, out, &end) < 0 || (*end && strcmp(end, "/s")))
    return -1;
  return 0;
}

int parse_member_size(const char *s, uint64_t *out)
{
  const char *end;

  if (!strcmp(s, "max")) {
    *out = 0;
    return 0;
  }
  return parse_bytes(s, out, &end) < 0 || *end || *out == 0 ? -1 : 0;
}

/* 0 (none), or the bytes per bit md's --bitmap-chunk takes. */
static bool bitmap_region_ok(uint64_t c)
{
  return c == 0 || (c >= 64 * 1024 && c <= (uint64_t)1 << 40);
}

int parse_bitmap_region(const char *s, uint64_t *out)
{
  const char *end;

  if (!strcmp(s, "none")) {
    *out = 0;
    return 0;
  }
  return parse_bytes(s, out, &end) < 0 || *end || !bitmap_region_ok(*out) ? -1 : 0;
}

const char *rate_text(uint64_t bps, char *buf, size_t len)
{
  if (!bps)
    snprintf(buf, len, "none");
  else if (bps % (1u << 30) == 0)
    snprintf(buf, len, "%lluG/s", (unsigned long long)(bps >> 30));
  else if (bps % (1u << 20) == 0)
    snprintf(buf, len, "%lluM/s", (unsigned long long)(bps >> 20));
  else if (bps % 1024 == 0)
    snprintf(buf, len, "%lluK/s", (unsigned long long)(bps >> 10));
  else
    snprintf(buf, len, "%llu/s", (unsigned long long)bps);
  return buf;
}

int check_sync_speeds(uint64_t min, bool min_given, uint64_t max, char *err, size_t errlen)
{
  char a[32], b[32];

  /* 0 is no limit; a min left at its default gives way to a lower max (pace_limit) */
  if (!min_given || !min || !max || min <= max)
    return 0;
  snprintf(err, errlen, "sync-speed-min %s is above sync-speed-max %s",
           rate_text(min, a, sizeof a), rate_text(max, b, sizeof b));
  return -1;
}

static int set_rate(const char *key, const char *value, uint64_t *out)
{
  if (parse_rate(value, out) == 0)
    return 0;
  nbdkit_error("%s: '%s' is not a rate: " RATE_HINT, key, value);
  return -1;
}

/* nbdkit_parse_bool's words, with an error that names the parameter. */
/* The program is run after nbdkit went into the background (cwd /), so its path is
 * made absolute now, and checked now rather than at the first failure. */
static int set_alert(struct params *p, const char *value)
{
  struct stat sb;
  char *path = nbdkit_absolute_path(value);

  if (!path)
    return -1;
  if (stat(path, &sb) < 0 || access(path, X_OK) < 0) {
    nbdkit_error("alert=%s: %m: give an executable program (it is run as PROGRAM EVENT "
                 "ARRAY [MEMBER-OR-RUN [EXTRA]])", value);
    free(path);
    return -1;
  }
  if (!S_ISREG(sb.st_mode)) {
    nbdkit_error("alert=%s: not a regular file: give an executable program", value);
    free(path);
    return -1;
  }
  free(p->alert);
  p->alert = path;
  return 0;
}

void params_free(struct params *p)
{
  free(p->alert);
  p->alert = NULL;
}

static int set_bool(const char *key, const char *value, bool *out)
{
  static const char *const yes[] = { "1", "true", "t", "yes", "y", "on" };
  static const char *const no[] = { "0", "false", "f", "no", "n", "off" };
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    if (!strcasecmp(value, yes[i])) {
      *out = true;
      return 0;
    }
    if (!strcasecmp(value, no[i])) {
      *out = false;
      return 0;
    }
  }
  nbdkit_error("%s: '%s' is not true or false (on/off, yes/no and 1/0 work too)", key, value);
  return -1;
}

/* md's --consistency-policy: ppl keeps the partial parity log (raid5); bitmap and resync
 * keep none (the write-intent bitmap is bitmap-chunk='s). */
static int set_policy(struct params *p, const char *key, const char *value)
{
  if (!strcmp(value, "ppl"))
    p->policy = POLICY_PPL;
  else if (!strcmp(value, "bitmap") || !strcmp(value, "resync"))
    p->policy = POLICY_OFF;
  else {
    nbdkit_error("%s: '%s' is no consistency policy: ppl (a partial parity log closes "
                 "raid5's write hole), or bitmap or resync (none)", key, value);
    return -1;
  }
  if (p->policy == POLICY_PPL)
    p->raid.flags |= RAID_CREATE_PPL;
  else
    p->raid.flags &= ~RAID_CREATE_PPL;
  return 0;
}

/* The parameters given once (all but iface=, repeated for several interfaces), each under
 * its first name; the lists among them are comma-separated. */
static const char *const once_keys[] = {
  "shelves", "spares", "writemostly", "level", "chunk", "name", "uuid", "control",
  "dead-time", "hold-time", "discover-time", "force", "takeover", "reserve", "poll", "auto-readd",
  "readonly", "alert", "alert-test", "bitmap-chunk", "bitmap-delay", "consistency-policy",
  "sync-speed-min", "sync-speed-max", "run",
};
#define N_ONCE_KEYS (sizeof once_keys / sizeof once_keys[0])
#define N_LISTS 3               /* shelves, spares, writemostly: first in once_keys */
_Static_assert(N_ONCE_KEYS <= 32, "a bit each in params.given");

/* KEY's index in once_keys (its other spellings too: _ for -, write-mostly, read-only),
 * or -1 (iface=, or no parameter: params_set says which). */
static int once_index(const char *key)
{
  char name[32];
  size_t i;

  for (i = 0; key[i] && i < sizeof name - 1; i++)
    name[i] = key[i] == '_' ? '-' : key[i];
  name[i] = '\0';
  if (!strcmp(name, "write-mostly"))
    strcpy(name, "writemostly");
  if (!strcmp(name, "read-only"))
    strcpy(name, "readonly");
  for (i = 0; i < N_ONCE_KEYS; i++)
    if (!strcmp(name, once_keys[i]))
      return (int)i;
  return -1;
}

/* nbdkit's plugins take a key once: a second shelves= would otherwise add to the first,
 * and a second level= silently win. */
static int check_once(struct params *p, const char *key)
{
  int i = once_index(key);

  if (i < 0)
    return 0;
  if (p->given & (1u << i)) {
    char as[48] = "";
    if (strcmp(key, once_keys[i]))
      snprintf(as, sizeof as, " (%s= is the same)", key);
    if (i < N_LISTS)
      nbdkit_error("%s= given twice%s: give it once, comma-separated (%s=e1.1,e2.1)",
                   once_keys[i], as, once_keys[i]);
    else
      nbdkit_error("%s= given twice%s: give it once", once_keys[i], as);
    return -1;
  }
  p->given |= 1u << i;
  return 0;
}

/* One line for a key params_set does not take: the parameter it is a typo of, when it is
 * one (shelfs=: did you mean 'shelves'?), and all of them. */
static int unknown_parameter(const char *key)
{
  const char *names[N_ONCE_KEYS + 1];
  char list[512];
  size_t len = 0;

  for (size_t i = 0; i < N_ONCE_KEYS; i++)
    names[i] = once_keys[i];
  names[N_ONCE_KEYS] = "iface";
  for (size_t i = 0; i <= N_ONCE_KEYS && len < sizeof list; i++)
    len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", names[i]);
  const char *near = typo_nearest(key, names, N_ONCE_KEYS + 1);
  if (near)
    nbdkit_error("unknown parameter '%s': did you mean '%s'? See nbdkit aoeraid --help for "
                 "the parameters (%s)", key, near, list);
  else
    nbdkit_error("unknown parameter '%s': see nbdkit aoeraid --help for the parameters (%s)",
                 key, list);
  return -1;
}

int params_set(struct params *p, const char *key, const char *value)
{
  if (check_once(p, key) < 0)
    return -1;
  if (!strcmp(key, "shelves"))
    return set_shelf_list(key, value, p->shelves, &p->n_shelves, MAX_SHELVES);
  if (!strcmp(key, "spares"))
    return set_shelf_list(key, value, p->spares, &p->n_spares, RAID_MAX_SPARES);
  if (!strcmp(key, "writemostly") || !strcmp(key, "write-mostly") ||
      !strcmp(key, "write_mostly"))
    return set_shelf_list("writemostly", value, p->writemostly, &p->n_writemostly,
                          MAX_SHELVES);
  if (!strcmp(key, "level"))
    return set_level(p, value);
  if (!strcmp(key, "chunk")) {
    uint64_t c;
    if (parse_size_param(value, &c) < 0 || c < 4096 || c > 64 * 1024 * 1024 || (c & (c - 1))) {
      nbdkit_error("chunk: '%s' must be a power of two from 4K to 64M (md's default is 512K)",
                   value);
      return -1;
    }
    p->raid.chunk_bytes = c;
    return 0;
  }
  if (!strcmp(key, "name")) {
    /* the superblock holds RAID_NAME_MAX bytes: a longer name could never be found */
    if (!*value || strlen(value) > RAID_NAME_MAX || strlen(value) >= sizeof p->name) {
      nbdkit_error("name: must be 1 to %d bytes", RAID_NAME_MAX);
      return -1;
    }
    /* examine prints it bare in an ARRAY line, as mdadm's names go in /dev/md/NAME */
    size_t bad = 0;
    while (value[bad] > ' ' && value[bad] < 0x7f && !strchr("/\\\"'", value[bad]))
      bad++;
    if (value[bad]) {
      nbdkit_error("name: '%s' holds byte 0x%02x at %zu: no spaces, quotes, slashes or "
                   "control bytes", value, (unsigned char)value[bad], bad + 1);
      return -1;
    }
    strcpy(p->name, value);
    p->raid.name = p->name;
    return 0;
  }
  if (!strcmp(key, "uuid")) {
    if (raid_uuid_parse(value, p->uuid) < 0) {
      nbdkit_error("uuid: '%s' is not an array uuid: write it as aoeraid examine prints "
                   "it, 8-4-4-4-12 hex digits (uuid=0123abcd-0123-4567-89ab-0123456789ab)",
                   value);
      return -1;
    }
    p->uuid_given = true;
    return 0;
  }
  if (!strcmp(key, "iface")) {
    if (p->n_ifaces == MAX_IFACES) {
      nbdkit_error("iface: at most %d interfaces", MAX_IFACES);
      return -1;
    }
    /* the same interface twice would open it twice: every shelf then shows two paths
     * through one link, and every reply is received twice */
    for (size_t i = 0; i < p->n_ifaces; i++)
      if (!strcmp(p->ifaces[i], value)) {
        nbdkit_error("iface: %s is given twice: give each interface once (iface= is "
                     "repeated for several interfaces)", value);
        return -1;
      }
    p->ifaces[p->n_ifaces++] = value;
    return 0;
  }
  if (!strcmp(key, "control")) {
    p->control = value;
    return 0;
  }
  if (!strcmp(key, "dead-time") || !strcmp(key, "dead_time"))
    return set_time_ms(key, value, &p->dead_time_ms);
  if (!strcmp(key, "hold-time") || !strcmp(key, "hold_time"))
    return set_time_min_ms(key, value, 0, &p->hold_time_ms);      /* 0: never held */
  if (!strcmp(key, "discover-time") || !strcmp(key, "discover_time"))
    return set_time_ms(key, value, &p->discover_ms);
  if (!strcmp(key, "bitmap-delay") || !strcmp(key, "bitmap_delay"))
    return set_time_ms(key, value, &p->bitmap_delay_ms);
  if (!strcmp(key, "force"))
    return set_bool(key, value, &p->force);
  if (!strcmp(key, "takeover"))
    return set_bool(key, value, &p->takeover);
  if (!strcmp(key, "run"))
    return set_bool(key, value, &p->run);
  if (!strcmp(key, "reserve"))
    return set_bool(key, value, &p->reserve);
  if (!strcmp(key, "poll"))
    return set_bool(key, value, &p->poll);
  if (!strcmp(key, "auto-readd") || !strcmp(key, "auto_readd"))
    return set_bool(key, value, &p->auto_readd);
  if (!strcmp(key, "readonly") || !strcmp(key, "read-only") || !strcmp(key, "read_only"))
    return set_bool(key, value, &p->readonly);
  if (!strcmp(key, "alert"))
    return set_alert(p, value);
  if (!strcmp(key, "alert-test") || !strcmp(key, "alert_test"))
    return set_bool(key, value, &p->alert_test);
  if (!strcmp(key, "bitmap-chunk") || !strcmp(key, "bitmap_chunk")) {
    uint64_t c;
    if (parse_size_param(value, &c) < 0 || !bitmap_region_ok(c)) {
      nbdkit_error("%s: '%s' must be 0 (no write-intent bitmap) or " BITMAP_HINT, key, value);
      return -1;
    }
    p->raid.bitmap_region = c;
    p->raid.flags = c ? p->raid.flags & ~RAID_CREATE_NO_BITMAP
                      : p->raid.flags | RAID_CREATE_NO_BITMAP;
    return 0;
  }
  if (!strcmp(key, "consistency-policy") || !strcmp(key, "consistency_policy"))
    return set_policy(p, key, value);
  if (!strcmp(key, "sync-speed-min") || !strcmp(key, "sync_speed_min"))
    return set_rate(key, value, &p->sync_speed_min);
  if (!strcmp(key, "sync-speed-max") || !strcmp(key, "sync_speed_max"))
    return set_rate(key, value, &p->sync_speed_max);
  return unknown_parameter(key);
}

static unsigned min_members(const struct raid_params *rp)
{
  switch (rp->level) {
  case RAID_LEVEL_0: return 1;
  case RAID_LEVEL_1: return 2;
  case RAID_LEVEL_5: return 3;
  case RAID_LEVEL_6: return 4;
  case RAID_LEVEL_10: return 2;
  case RAID_LEVEL_EC: return rp->k + rp->m;
  }
  return 1;
}

#define GROW_ROOM 8

static bool listed(const struct shelf_addr *list, size_t n, const struct shelf_addr *a)
{
  for (size_t i = 0; i < n; i++)
    if (list[i].shelf == a->shelf && list[i].slot == a->slot)
      return true;
  return false;
}

/* writemostly=: members (of shelves=, when it is given: a spare has no copy to spare
 * reads from until it takes a slot), of a level with mirror copies; the array's own
 * level, and its members in a scan, are checked once it is assembled. */
static int check_writemostly(const struct params *p)
{
  char lname[32];

  for (size_t i = 0; i < p->n_writemostly && p->n_shelves; i++)
    if (!listed(p->shelves, p->n_shelves, &p->writemostly[i])) {
      nbdkit_error("writemostly: e%u.%u is not in shelves=: write-mostly is for members "
                   "of the array (md's --write-mostly)%s", p->writemostly[i].shelf,
                   p->writemostly[i].slot,
                   listed(p->spares, p->n_spares, &p->writemostly[i]) ?
                   "; a spare can be made write-mostly once it takes a slot (aoeraid writemostly)" : "");
      return -1;
    }
  if (p->n_writemostly && p->level_given && p->raid.level != RAID_LEVEL_1 &&
      p->raid.level != RAID_LEVEL_10) {
    nbdkit_error("writemostly: level=%s keeps each chunk on one member: write-mostly needs "
                 "mirror copies to read from (level=1 or level=10)",
                 level_name(&p->raid, lname, sizeof lname));
    return -1;
  }
  return 0;
}

bool params_min_given(const struct params *p)
{
  return p->given & (1u << once_index("sync-speed-min"));
}

bool params_chunk_given(const struct params *p)
{
  return p->given & (1u << once_index("chunk"));
}

const char *params_readonly_undo(const struct params *p)
{
  const char *nbdkit = "nbdkit ";

  if (!strncmp(p->readonly_by, nbdkit, strlen(nbdkit)))
    return p->readonly_by + strlen(nbdkit);
  return "readonly=";
}

int params_complete(struct params *p)
{
  char lname[32], err[128];

  /* md's --assemble --scan: the shelves are found by their superblocks at get_ready */
  p->scan = p->n_shelves == 0 && (p->name[0] || p->uuid_given);
  /* run= lets a start by shelves= leave a live member out; a scan leaves none out */
  if (p->scan && p->run)
    log_warning("run=true: no effect with %s: a start by %s finds every member itself",
                p->name[0] ? "name=" : "uuid=", p->name[0] ? "name=" : "uuid=");
  if (p->takeover && !p->reserve) {
    nbdkit_error("takeover=true takes the shelves' AoE reservations, and reserve=false "
                 "takes none: drop one of them");
    return -1;
  }
  if (p->n_shelves == 0 && !p->scan) {
    nbdkit_error("shelves= is required to create an array: list its AoE shelves "
                 "(shelves=e1.1,e2.1); an existing array is found by its name= or uuid= "
                 "alone");
    return -1;
  }
  for (size_t i = 0; i < p->n_spares; i++)
    for (size_t j = 0; j < p->n_shelves; j++)
      if (p->spares[i].shelf == p->shelves[j].shelf && p->spares[i].slot == p->shelves[j].slot) {
        nbdkit_error("e%u.%u is in both shelves= and spares=: a shelf is a member or a "
                     "spare, list it once", p->spares[i].shelf, p->spares[i].slot);
        return -1;
      }
  if (check_writemostly(p) < 0)
    return -1;
  if (check_sync_speeds(p->sync_speed_min, params_min_given(p), p->sync_speed_max, err,
                        sizeof err) < 0) {
    nbdkit_error("%s: give a min at most the max (the min holds while clients do I/O, the "
                 "max otherwise), or sync-speed-min=0 for the max to hold at all times", err);
    return -1;
  }
  if (p->policy == POLICY_PPL && p->level_given && p->raid.level != RAID_LEVEL_5) {
    nbdkit_error("consistency-policy=ppl: level=%s; the partial parity log is for raid5 "
                 "only (md's too): raid6 and k+m keep the write-intent bitmap and resync",
                 level_name(&p->raid, lname, sizeof lname));
    return -1;
  }
  /* assembling an existing array (also a scan, which never creates): its superblock
   * holds the level, level= is only checked against it */
  if (!p->level_given || p->scan)
    return 0;
  /* Each grow moves the data down one chunk: a new array leaves room for GROW_ROOM. */
  p->raid.data_offset = RAID_DATA_OFFSET + (uint64_t)GROW_ROOM * p->raid.chunk_bytes;
  if (p->raid.level == RAID_LEVEL_EC && p->raid.k + p->raid.m != p->n_shelves) {
    nbdkit_error("level=%u+%u needs exactly %u shelves, shelves= lists %zu",
                 p->raid.k, p->raid.m, p->raid.k + p->raid.m, p->n_shelves);
    return -1;
  }
  if (p->raid.level == RAID_LEVEL_10 && p->n_shelves % 2) {
    nbdkit_error("level=10 (two copies, md's near-2 layout) needs an even number of "
                 "shelves, shelves= lists %zu", p->n_shelves);
    return -1;
  }
  if (p->n_shelves < min_members(&p->raid)) {
    nbdkit_error("level=%s needs at least %u shelves, shelves= lists %zu",
                 level_name(&p->raid, lname, sizeof lname), min_members(&p->raid),
                 p->n_shelves);
    return -1;
  }
  return 0;
}

const char *level_name(const struct raid_params *rp, char *buf, size_t len)
{
  if (rp->level == RAID_LEVEL_EC)
    snprintf(buf, len, "%u+%u", rp->k, rp->m);
  else
    snprintf(buf, len, "%d", (int)rp->level);
  return buf;
}

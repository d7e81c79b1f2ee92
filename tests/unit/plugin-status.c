/* The control socket's status answer (plugin/status.c) on an in-memory array, with the
 * initiator and the monitor stubbed: `aoeraid status --json` must be valid JSON whatever
 * the array's superblock names it (an older aoeraid took any printable name). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "raid-test.h"
#include "../../plugin/status.h"

/* No initiator in this test (status_set gets NULL): link_view looks at no shelf. */
struct aoe_target *aoe_target_find(struct aoe_initiator *ini, unsigned shelf, unsigned slot)
{
  (void)ini; (void)shelf; (void)slot;
  return NULL;
}
int aoe_target_stats(struct aoe_target *t, struct aoe_stats *st)
{
  (void)t; (void)st;
  return -1;
}
int aoe_target_write_cache(struct aoe_target *t)
{
  (void)t;
  return 0;
}
int parse_shelf_addr(const char *s, struct shelf_addr *out)
{
  (void)s; (void)out;
  return -1;
}
const char *rate_text(uint64_t bps, char *buf, size_t len)
{
  snprintf(buf, len, "%llu/s", (unsigned long long)bps);
  return buf;
}
enum raid_check_action monitor_check_waiting(void)
{
  return RAID_CHECK_NONE;
}
static bool kick_pending;               /* what the monitor stub says */
bool monitor_kick_pending(void)
{
  return kick_pending;
}

/* "status json" of a RAID1 created with NAME, into a malloc'd string. */
static char *status_json_named(struct fx *f, const char *name)
{
  struct raid_params p = { .level = RAID_LEVEL_1, .chunk_bytes = 64 * 1024, .name = name };
  char err[256] = "", *answer = NULL;
  size_t len = 0;
  FILE *out;

  fx_members(f, 2, FX_MEMBER_SIZE);
  f->a = raid_create(&p, f->mem, f->n, fx_log, f, err, sizeof err);
  cr_assert_not_null(f->a, "raid_create: %s", err);
  status_set(NULL, f->a, NULL);
  out = open_memstream(&answer, &len);
  cr_assert_not_null(out);
  cr_assert_eq(status_request("status json", out), 0);
  fclose(out);
  status_set(NULL, NULL, NULL);
  return answer;
}

/* A quote or backslash in the name is escaped, not written bare (which ends the string
 * early: the answer is no JSON). */
Test(status, json_escapes_quotes_and_backslashes_in_the_array_name, .timeout = 30)
{
  struct fx f;
  char *json = status_json_named(&f, "a\"b\\c");

  cr_assert_not_null(strstr(json, "{\"name\":\"a\\\"b\\\\c\","), "answer: %s", json);
  free(json);
  fx_free(&f);
}

/* Bytes that are no UTF-8 (a Latin-1 name) read as U+FFFD: JSON is UTF-8 text; UTF-8
 * itself passes as it is. */
Test(status, json_keeps_utf8_and_replaces_bytes_that_are_not, .timeout = 30)
{
  struct fx f;
  char *json = status_json_named(&f, "caf\xc3\xa9-\xe9t\xe9");

  cr_assert_not_null(strstr(json, "{\"name\":\"caf\xc3\xa9-\\ufffdt\\ufffd\","),
                     "answer: %s", json);
  free(json);
  fx_free(&f);
}

/* "status activity" (what `aoeraid wait` asks), into a malloc'd string. */
static char *status_activity(struct raid_array *a)
{
  char *answer = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&answer, &len);

  cr_assert_not_null(out);
  status_set(NULL, a, NULL);
  cr_assert_eq(status_request("status activity", out), 0);
  fclose(out);
  status_set(NULL, NULL, NULL);
  return answer;
}

/* A new RAID5's resync is a run to wait for; once a member fails it is pending until the
 * array is whole, which no wait sees end: idle.  An array created clean is idle. */
Test(status, activity_names_what_runs_and_not_a_pending_resync, .timeout = 30)
{
  char err[256] = "", *answer;
  struct fx f, clean;

  fx_create(&f, RAID_LEVEL_5, 3, 2, 1, 4096, 0);
  answer = status_activity(f.a);
  cr_assert(!strncmp(answer, "resync ", 7) && strstr(answer, "%\n"), "answer: %s", answer);
  free(answer);
  cr_assert_eq(raid_fail_member(f.a, "e2.1", err, sizeof err), 0, "%s", err);
  answer = status_activity(f.a);
  cr_assert_str_eq(answer, "idle\n");
  free(answer);
  fx_free(&f);

  fx_create(&clean, RAID_LEVEL_5, 3, 2, 1, 4096, RAID_CREATE_ASSUME_CLEAN);
  answer = status_activity(clean.a);
  cr_assert_str_eq(answer, "idle\n");
  free(answer);
  /* an add the monitor has not looked at yet: its recovery may be about to start */
  kick_pending = true;
  answer = status_activity(clean.a);
  kick_pending = false;
  cr_assert_str_eq(answer, "a change to look at (a recovery may start)\n");
  free(answer);
  fx_free(&clean);
}

/* REQUEST's answer for array A, into a malloc'd string. */
static char *status_answer(struct raid_array *a, const char *request)
{
  char *answer = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&answer, &len);

  cr_assert_not_null(out);
  status_set(NULL, a, NULL);
  cr_assert_eq(status_request(request, out), 0);
  fclose(out);
  status_set(NULL, NULL, NULL);
  return answer;
}

/* A RAID0 has nothing to keep consistent: its policy is md's "none", not "resync" (which
 * promises a resync after a crash that a RAID0 never runs). */
Test(status, a_raid0s_consistency_policy_is_none, .timeout = 30)
{
  struct fx f;
  char *answer;

  fx_create(&f, RAID_LEVEL_0, 2, 0, 0, 4096, 0);
  answer = status_answer(f.a, "status");
  cr_assert(strstr(answer, "\n  consistency policy none\n"), "answer: %s", answer);
  free(answer);
  answer = status_answer(f.a, "status json");
  cr_assert(strstr(answer, "\"consistency_policy\":\"none\""), "answer: %s", answer);
  free(answer);
  fx_free(&f);
}

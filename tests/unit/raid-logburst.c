/* The limiter of log lines that come once per request, member I/O or frame
 * (include/logburst.h), on a clock the test gives, and one site of it: a RAID5 past its
 * redundancy read by many requests logs the first stripes it cannot reconstruct, then how
 * many more, not one line per request. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "logburst.h"
#include "raid-test.h"

#define SEC 1000000ull
#define CHUNK 4096u

/* Lines said, summaries said, and lines the summaries counted, over a run of takes. */
struct tally { unsigned said, sums; unsigned long long summed; };

static void
take (struct log_burst *b, uint64_t now, struct tally *t)
{
  struct log_burst_sum sum;

  t->said += log_burst_take (b, now, &sum);
  if (sum.left_out) {
    t->sums++;
    t->summed += sum.left_out;
  }
}

Test (logburst, the_first_lines_are_said_the_rest_counted)
{
  struct log_burst b;
  struct log_burst_sum sum;
  struct tally t = { 0 };

  log_burst_init (&b);
  for (unsigned i = 0; i < 100; i++)
    take (&b, 1000 + i, &t);
  cr_expect_eq (t.said, LOG_BURST_LINES, "%u of 100 lines said", t.said);
  cr_expect_eq (t.sums, 0, "a summary before its interval");
  cr_expect_eq (log_burst_flush (&b, 2000, 0, &sum), 0, "a summary due before its interval");
  cr_assert (log_burst_flush (&b, 2000, 1, &sum), "nothing left out to sum up at the end");
  cr_expect_eq (sum.left_out, 100 - LOG_BURST_LINES);
  cr_expect_eq (sum.seconds, 1);
  cr_expect_eq (log_burst_flush (&b, 3000, 1, &sum), 0, "summed up twice");
  log_burst_destroy (&b);
}

/* A flood of 10 lines a second for a minute: a line every interval says how many were
 * left out, and every line is said or counted once. */
Test (logburst, a_flood_says_one_line_an_interval)
{
  struct log_burst b;
  struct log_burst_sum sum;
  struct tally t = { 0 };
  const unsigned takes = 600;
  uint64_t now = 0;

  log_burst_init (&b);
  for (unsigned i = 0; i < takes; i++, now += SEC / 10)
    take (&b, now, &t);
  cr_expect_eq (t.said, LOG_BURST_LINES, "a flood said %u lines in full", t.said);
  cr_expect (t.sums >= 10 && t.sums <= 60 * SEC / LOG_BURST_INTERVAL_US,
             "%u summaries in a minute of flood", t.sums);
  if (log_burst_flush (&b, now, 1, &sum))
    t.summed += sum.left_out;
  cr_expect_eq (t.said + t.summed, takes, "%u said and %llu summed up of %u", t.said,
                t.summed, takes);
  log_burst_destroy (&b);
}

/* A whole interval without a line ends the episode: the next outage is said in full,
 * after the count the last one left. */
Test (logburst, a_quiet_interval_says_the_next_ones_again)
{
  struct log_burst b;
  struct tally t = { 0 };

  log_burst_init (&b);
  for (unsigned i = 0; i < 30; i++)
    take (&b, SEC + i, &t);
  take (&b, SEC + 30 + LOG_BURST_INTERVAL_US, &t);
  cr_expect_eq (t.sums, 1, "the first outage's count was not said");
  cr_expect_eq (t.summed, 30 - LOG_BURST_LINES);
  cr_expect_eq (t.said, LOG_BURST_LINES + 1, "the next outage's first line was left out");
  log_burst_destroy (&b);
}

/* The monitor's tick sums up a flood that stopped once its interval is over. */
Test (logburst, a_tick_sums_up_a_flood_that_stopped)
{
  struct log_burst b;
  struct log_burst_sum sum;
  struct tally t = { 0 };

  log_burst_init (&b);
  for (unsigned i = 0; i < 15; i++)
    take (&b, SEC, &t);
  cr_expect_eq (log_burst_flush (&b, SEC + LOG_BURST_INTERVAL_US / 2, 0, &sum), 0);
  cr_assert (log_burst_flush (&b, SEC + LOG_BURST_INTERVAL_US, 0, &sum));
  cr_expect_eq (sum.left_out, 15 - LOG_BURST_LINES);
  cr_expect_eq (sum.seconds, LOG_BURST_INTERVAL_US / SEC);
  log_burst_destroy (&b);
}

/* Threads read the clock before they take the lock: a line can come with a time a
 * moment before the last one's.  That is the same flood, not a quiet interval. */
Test (logburst, a_line_timed_before_the_last_one_is_of_the_same_flood)
{
  struct log_burst b;
  struct tally t = { 0 };

  log_burst_init (&b);
  for (unsigned i = 0; i < 2 * LOG_BURST_LINES; i++)
    take (&b, SEC + 10 * i + 10, &t);
  take (&b, SEC + 10 * 2 * LOG_BURST_LINES - 5, &t);
  cr_expect_eq (t.said, LOG_BURST_LINES, "a line timed 5 us early started a new episode");
  cr_expect_eq (t.sums, 0, "a summary before its interval");
  log_burst_destroy (&b);
}

/* A line about another key (a second member, interface) is a new fact: its first is said
 * in the middle of the first one's flood, its next ones are not; a quiet interval starts
 * over for every key. */
Test (logburst, the_first_line_about_another_key_is_said)
{
  struct log_burst b;
  struct log_burst_sum sum;
  unsigned said = 0;

  log_burst_init (&b);
  for (unsigned i = 0; i < 100; i++)
    said += log_burst_take_key (&b, SEC + i, 0, &sum);
  cr_expect_eq (said, LOG_BURST_LINES);
  cr_expect (log_burst_take_key (&b, SEC + 100, 1, &sum), "key 1's first line was left out");
  cr_expect_not (log_burst_take_key (&b, SEC + 101, 1, &sum), "key 1's second line was said");
  cr_expect_not (log_burst_take (&b, SEC + 102, &sum), "a line about no key was said");
  cr_expect (log_burst_take_key (&b, SEC + 102 + LOG_BURST_INTERVAL_US, 1, &sum),
             "after a quiet interval, key 1's line was left out");
  log_burst_destroy (&b);
}

struct taker { struct log_burst *b; unsigned said; };

static void *
taker_main (void *arg)
{
  struct taker *tk = arg;
  struct log_burst_sum sum;

  for (unsigned i = 0; i < 20000; i++)
    tk->said += log_burst_take (tk->b, SEC, &sum);
  return NULL;
}

/* Many threads at once (the requests in flight): still the first lines only, each line
 * said or counted once. */
Test (logburst, threads_share_one_burst)
{
  struct log_burst b;
  struct log_burst_sum sum;
  struct taker tk[4];
  pthread_t th[4];
  unsigned said = 0;

  log_burst_init (&b);
  for (unsigned i = 0; i < 4; i++) {
    tk[i] = (struct taker) { .b = &b };
    cr_assert_eq (pthread_create (&th[i], NULL, taker_main, &tk[i]), 0);
  }
  for (unsigned i = 0; i < 4; i++) {
    pthread_join (th[i], NULL);
    said += tk[i].said;
  }
  cr_expect_eq (said, LOG_BURST_LINES);
  cr_assert (log_burst_flush (&b, SEC, 1, &sum));
  cr_expect_eq (sum.left_out, 4 * 20000 - LOG_BURST_LINES);
  log_burst_destroy (&b);
}

/* Every line the array logged, for a test that counts them. */
static char lines[1 << 16];

static void
log_lines (void *opaque, int level, const char *msg)
{
  size_t used = strlen (lines);

  (void) opaque;
  snprintf (lines + used, sizeof lines - used, "%s\n", msg);
  if (getenv ("RAID_TEST_VERBOSE"))
    fprintf (stderr, "raid[%d]: %s\n", level, msg);
}

static unsigned
count_of (const char *needle)
{
  unsigned n = 0;

  for (const char *p = strstr (lines, needle); p; p = strstr (p + 1, needle))
    n++;
  return n;
}

/* RAID5 of 3 whose two members fail every read (disks dead behind shelves that answer):
 * each of 200 reads, a whole stripe each, cannot be reconstructed.  The log names the first
 * stripes and member read errors, then how many more: at close at the latest. */
Test (logburst, a_failed_raid5_read_by_many_requests_logs_a_bounded_number_of_lines)
{
  struct fx f;
  char err[256] = "", want[128];
  uint8_t buf[2 * CHUNK];
  const unsigned reads = 200;
  unsigned said, read_errors;

  fx_members (&f, 3, RAID_DATA_OFFSET + 1024 * 1024);   /* 256 stripes */
  fx_create_on (&f, RAID_LEVEL_5, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  fx_close (&f);
  lines[0] = 0;
  f.a = raid_assemble (f.mem, f.n, 0, log_lines, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  raid_mem_member_fail (f.mm[0], 1, 0);
  raid_mem_member_fail (f.mm[1], 1, 0);
  lines[0] = 0;
  for (unsigned i = 0; i < reads; i++)
    cr_assert_eq (raid_read (f.a, buf, sizeof buf, (uint64_t) i * sizeof buf), -EIO, "read %u:\n%s", i, lines);
  said = count_of ("cannot be reconstructed");
  cr_expect (said >= 1 && said <= LOG_BURST_LINES, "%u lines for %u failed reads:\n%s",
             said, reads, lines);
  read_errors = count_of ("reconstructing");
  /* the first 10, and each failing member's first if it was not among them */
  cr_expect (read_errors >= 1 && read_errors <= LOG_BURST_LINES + 2, "%u lines for the failed "
             "member reads of %u requests", read_errors, reads);
  fx_close (&f);
  snprintf (want, sizeof want, "test: ... and %u more stripes could not be reconstructed in "
            "the last ", reads - said);
  cr_expect (strstr (lines, want), "no '%s' after %u lines:\n%s", want, said, lines);
  cr_expect (strstr (lines, "more member reads failed in the last "), "the member read "
             "errors left out are not counted:\n%s", lines);
  fx_free (&f);
}

/* RAID5 of 3 whose first member fails every read: its read errors are limited; then the
 * second one's fail (the first one's replaced, say): the log names the second member at
 * once, not only in a count of "more member reads failed" behind the first one's flood. */
Test (logburst, a_second_members_read_errors_are_named_in_the_first_ones_flood)
{
  struct fx f;
  char err[256] = "";
  uint8_t buf[2 * CHUNK];

  fx_members (&f, 3, RAID_DATA_OFFSET + 1024 * 1024);
  fx_create_on (&f, RAID_LEVEL_5, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  fx_close (&f);
  f.a = raid_assemble (f.mem, f.n, 0, log_lines, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  lines[0] = 0;
  raid_mem_member_fail (f.mm[0], 1, 0);
  for (unsigned i = 0; i < 60; i++)
    cr_assert_eq (raid_read (f.a, buf, sizeof buf, (uint64_t) i * sizeof buf), 0, "read %u:\n%s",
                  i, lines);
  cr_expect_eq (count_of ("member e1.1: read of"), LOG_BURST_LINES, "e1.1's flood:\n%s", lines);
  raid_mem_member_fail (f.mm[0], 0, 0);
  raid_mem_member_fail (f.mm[1], 1, 0);
  for (unsigned i = 0; i < 10; i++)
    cr_assert_eq (raid_read (f.a, buf, sizeof buf, (uint64_t) i * sizeof buf), 0, "read %u:\n%s",
                  i, lines);
  cr_expect_eq (count_of ("member e2.1: read of"), 1, "e2.1's read errors:\n%s", lines);
  cr_expect_eq (count_of ("member e2.1: rewrote"), 1, "e2.1's rewrites:\n%s", lines);
  fx_free (&f);
}

/* The monitor ticks between its runs, not during one: a flood that stopped while a check
 * (resync, recovery, replace) runs is summed up by the run's own pace, not only when it
 * ends.  The check, held to 100 KB/s over 1 MiB of each member, runs for 10 s or more,
 * past the 5 s after which the count is due. */
Test (logburst, a_flood_that_stopped_during_a_check_is_summed_up_before_it_ends,
      .timeout = 120)
{
  struct fx f;
  char err[256] = "";
  uint8_t buf[CHUNK];

  fx_members (&f, 3, RAID_DATA_OFFSET + 1024 * 1024);
  fx_create_on (&f, RAID_LEVEL_5, 0, 0, CHUNK, RAID_CREATE_ASSUME_CLEAN);
  fx_close (&f);
  f.a = raid_assemble (f.mem, f.n, 0, log_lines, &f, err, sizeof err);
  cr_assert_not_null (f.a, "%s", err);
  lines[0] = 0;
  for (unsigned i = 0; i < 2 * LOG_BURST_LINES; i++)
    cr_assert_eq (raid_read (f.a, buf, 100, 3), -EINVAL);
  raid_set_sync_speed (f.a, 100000, 100000);
  cr_assert_eq (raid_check (f.a, RAID_CHECK), 0, "%s", lines);
  cr_expect (strstr (lines, "... and 10 more requests were outside"), "the count of the "
             "requests left out was not said during the check:\n%s", lines);
  fx_free (&f);
}

/* `aoeraid wait` on a server older than "status activity" (tools/activity.c): the runs
 * its status text shows that can still move, as the newer server's answer says them. */
#include <stdio.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "activity.h"

static char *activity(const char *status)
{
  char *answer = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&answer, &len);

  cr_assert_not_null(out);
  activity_from_status(status, out);
  fclose(out);
  return answer;
}

#define HEAD "array vol  uuid 7afa49db-8260-4ae9-9717-efa91c6fd920\n" \
  "  level raid5  chunk 512K  members 3  size 526385152 bytes (0.5 GiB)\n"
#define ROWS "  slot member   role       read-errors write-errors  shelf paths  rtt-us\n" \
  "  0    e1.1     active               0            0  up     1/1      462\n"

Test(activity, each_run_that_moves_is_a_line)
{
  char *a = activity(HEAD "  state clean  events 13\n"
                     "  resync 45.2% (227 of 502 stripes)  12.0 MB/s  eta 20s\n"
                     "  recovery slot 2 (e4.1) 10.0% (50 of 502 stripes)  8.0 MB/s  eta 56s\n"
                     "  check 41.3% (413 of 1000 stripes)  212.4 MB/s  eta 3s  mismatches 0\n"
                     "  bitmap 1 of 4 regions dirty, 65536K each, delay 5s\n" ROWS);

  cr_assert_str_eq(a, "resync 45.2% (227 of 502 stripes)  12.0 MB/s  eta 20s\n"
                   "recovery slot 2 (e4.1) 10.0% (50 of 502 stripes)  8.0 MB/s  eta 56s\n"
                   "check 41.3% (413 of 1000 stripes)  212.4 MB/s  eta 3s  mismatches 0\n");
  free(a);
  a = activity(HEAD "  state clean  events 13\n  repair waiting to start\n" ROWS);
  cr_assert_str_eq(a, "repair waiting to start\n");
  free(a);
}

/* What no wait sees end is not a run; nor are the last check's line and the rest. */
Test(activity, what_cannot_move_is_idle)
{
  char *a = activity(HEAD "  state degraded  events 9\n"
                     "  resync 0.0% (0 of 502 stripes), pending until the array is whole\n"
                     "  recovery slot 1 (e2.1) 3.0% (15 of 502 stripes)  stopped: the array "
                     "has failed\n"
                     "  last check complete at 100.0%: mismatches 0  read errors rewritten 0\n"
                     "  bitmap none\n" ROWS);

  cr_assert_str_eq(a, "idle\n");
  free(a);
}

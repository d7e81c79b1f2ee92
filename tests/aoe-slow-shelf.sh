#!/usr/bin/env bash
# A slow shelf (400 ms round trip: both directions delayed 200 ms): the initiator times
# its first data frames from the round trip it measured before any I/O (its IDENTIFY),
# not from the 200 ms initial RTO, so they are not sent again while their answers are on
# the way.  Before, every first frame went twice and each loss episode halved the window
# until the RTO caught up.  Only the retransmits after the shelf came up are counted: the
# IDENTIFY's own tries go before any round trip is known.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 150

lab_up -n 1 -s 16M -m 1500
lab_netem delay 200
out=$(lab_exec aoe-client -i h0 -w 3000 -d 10000 1.1 stats write 0 64 7 read 0 64 7 \
        stats 2>&1) || lab_die "I/O failed on a slow shelf: $out"
echo "$out"
# the shelf was slow indeed (the relay's delay in effect): else no retransmit proves nothing
srtt=$(sed -n 's/^stats: .* srtt=\([0-9]*\) .*/\1/p' <<<"$out" | tail -n 1)
[ -n "$srtt" ] && [ "$srtt" -ge 300000 ] ||
  lab_die "the shelf answered in ${srtt:-no} us, not about 400 ms: is lab-netem's delay in effect? $out"
counts=($(sed -n 's/^stats: .* retransmits=\([0-9]*\) .*/\1/p' <<<"$out"))
[ "${#counts[@]}" -eq 2 ] || lab_die "expected two stats lines: $out"
rexmit=$((counts[1] - counts[0]))
# A bound, not zero: a loaded machine may delay one answer past the RTO now and then;
# timed from the initial RTO, both frames of the first window go again (4 seen).
[ "$rexmit" -le 1 ] ||
  lab_die "$rexmit retransmits for 64 sectors on a 400 ms shelf: its first frames were timed from the initial RTO, not its IDENTIFY's round trip"
echo "ok: 64 sectors written and read on a 400 ms shelf (srtt $srtt us) with $rexmit retransmits"
echo "aoe-slow-shelf: passed"

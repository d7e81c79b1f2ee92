#!/usr/bin/env bash
# Sequential read and write MB/s through the initiator library (aoeraid probe, libpcap) on
# one shelf, beside a raw AF_PACKET probe (aoe-rawprobe) on the same shelf in the same run,
# printed as a ratio.  Goal: at least 0.9.  Each side runs ROUNDS times, interleaved, after
# a warm-up write (a sparse file's first write allocates blocks); the best of each counts.
# Not a test: run as root from the build tree:
#   top_srcdir=. bench/aoe-bench.sh [MIB] [MTU] [ROUNDS]
set -euo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export PATH=$top_builddir:$top_builddir/bench:$top_builddir/tests:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
. "$top_srcdir/tests/lab.sh"
lab_init 600
mib=${1:-256} mtu=${2:-9000} rounds=${3:-3}
lab_up -n 1 -s "$((mib + 16))M" -m "$mtu"
number() { sed -n 's/.*MB\/s=\([0-9.]*\).*/\1/p; s/.*: \([0-9.]*\) MB\/s .*/\1/p' | head -n1; }
best() { echo "$1 $2" | awk '{print ($1 > $2) ? $1 : $2}'; }
lab_exec aoe-rawprobe h0 1 1 16 "$mib" write >/dev/null
for op in write read; do
  r=0 l=0
  for _ in $(seq "$rounds"); do
    raw=$(lab_exec aoe-rawprobe h0 1 1 16 "$mib" "$op")
    lib=$(lab_exec aoeraid probe -i h0 1.1 "$op" "${mib}M")
    echo "  $raw"
    echo "  $lib"
    r=$(best "$r" "$(echo "$raw" | number)")
    l=$(best "$l" "$(echo "$lib" | number)")
  done
  echo "$op MTU $mtu: library $l MB/s / raw AF_PACKET $r MB/s = ratio $(echo "scale=2; $l / $r" | bc)"
done

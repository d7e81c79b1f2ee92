#!/usr/bin/env bash
# The GFS2 guest scenarios, one after another in one make job: four guests on two CPUs ran
# out of time, and make's other job runs the rest of the suite meanwhile.  (As four tests
# chained by make dependencies, GNU make started the chain's later links only once every
# other test had started, and they ran last with the other job idle.)  Each scenario stays
# a script of its own, to run alone with make check TESTS=tests/gfs2-cluster-raid1.sh.
set -uo pipefail
failed=() skipped=0 ran=0
for t in ioerror raid1 raid5 grow; do
  echo "==== gfs2-cluster-$t"
  t0=$(date +%s)
  bash "$top_srcdir/tests/gfs2-cluster-$t.sh"
  rc=$?
  case $rc in
    0) ran=$((ran + 1)); echo "PASS: gfs2-cluster-$t ($(($(date +%s) - t0)) s)" ;;
    77) skipped=$((skipped + 1)); echo "SKIP: gfs2-cluster-$t" ;;
    *) failed+=("gfs2-cluster-$t"); echo "FAIL: gfs2-cluster-$t (exit $rc, $(($(date +%s) - t0)) s)" ;;
  esac
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "gfs2-cluster: failed: ${failed[*]}" >&2
  exit 1
fi
[ $ran -gt 0 ] || exit 77    # every scenario skipped: this machine cannot run guests
echo "gfs2-cluster: passed ($ran scenarios, $skipped skipped)"

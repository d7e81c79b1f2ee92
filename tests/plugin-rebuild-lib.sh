# tests/plugin-rebuild-lib.sh: shared by the recovery tests (source after plugin-lib.sh).
#   rebuild_data BASE MORE     random files of BASE and MORE bytes ($LAB_DIR/data, more)
#                              and $want, the md5 of data with more written over its start
#   readback                   md5 of the first BASE bytes the array serves
#   status                     aoeraid status -c $ctl
#   wait_recovered SLOT NAME   poll status (bounded) until NAME is active in SLOT and no
#                              recovery runs; $out holds the last status, $seen_recovery
#                              is 1 if a poll saw the recovery in progress (its last
#                              line is printed: progress, rate, eta)
#   wait_bitmap_clean REGIONS [SECS]  poll status (SECS, default 20) until none of the
#                              bitmap's REGIONS ("": any count) is dirty (two idle passes
#                              5 s apart, once the resync is done)
#   write_away I REGIONS       kill shelf I, then write $LAB_DIR/more (2 MiB) at 8 MiB: two
#                              1 MiB regions, which status must show dirty; $want becomes
#                              the md5 of data with more written there
#   readd_back I REGIONS       start shelf I again and `aoeraid add` it: it must come back to
#                              slot I-1 and be rebuilt over the 2 regions write_away dirtied
#   grow_refused WHAT REGEX ARGS...  `aoeraid grow ARGS` must fail with one line matching REGEX
#   writer ARGS                tests/crash-writer.py (write, or check what was written)
#   writer_start [MIB]         crash-writer writing over the first MIB (96) MiB in the
#                              background, 16 writes in flight, 8 MB/s, until writer_verify;
#                              returns once its first write is acknowledged
#   writer_going PID STATE     poll (bounded) until the writer PID has had its first write
#                              acknowledged (STATE.going); lab_die if it ends or never does
#   crash_under_writes SEED    crash-writer writing over the first 64 MiB (SEED), nbdkit
#                              killed (SIGKILL) under it after 3 s; the writer must end well
#   writer_stop WHAT           stop it (it must still run: WHAT happened under it; no write
#                              may have failed), then every sector must hold what it wrote last
#   writer_verify WHAT         writer_stop WHAT, and a check must find no mismatch
#   verify_blocks WHY          every sector holds what the writer wrote last, or lab_die WHY
#   wait_clean WHAT [SECS]     poll status (SECS, 60 by default) until clean, no resync,
#                              recovery or reshape running; lab_die naming WHAT if not
#   wait_status REGEX          poll status (bounded) until a line matches; $out holds it
#   holders SHELF              the MACs holding SHELF's reservation, as h0 reads them
#   ctl_ok ARGS...             `aoeraid ARGS -c $ctl` must succeed; $out holds its answer
#   examine_to FILE SHELF...   `aoeraid examine SHELF...` into FILE: it must succeed and
#                              show slot 0 (before a grep that must not match its output)
#   ups SHELF, downs SHELF     how often the plugin's log says SHELF came up, was declared
#                              down
#   shelf_down I               kill shelf I; poll (bounded) until the plugin declares it down
#   shelf_up I [SECS]          start shelf I again; poll (bounded) until the plugin saw it
#                              come back, then wait SECS (3) for a few rounds of auto-readd
#   shelf_bounce I [SECS]      shelf_down I, then shelf_up I SECS
sock=$LAB_DIR/nbd.sock ctl=$LAB_DIR/ctl
uri="nbd+unix:///?socket=$sock"
aoeraid=$top_builddir/aoeraid

rebuild_data() {
  REBUILD_BASE=$1
  head -c "$1" /dev/urandom >"$LAB_DIR/data"
  head -c "$2" /dev/urandom >"$LAB_DIR/more"
  cp "$LAB_DIR/data" "$LAB_DIR/want"
  dd if="$LAB_DIR/more" of="$LAB_DIR/want" conv=notrunc status=none
  want=$(md5sum <"$LAB_DIR/want")
}

readback() { (set +o pipefail; nbdcopy "$uri" - 2>/dev/null | head -c "$REBUILD_BASE" | md5sum); }
status() { "$aoeraid" status -c "$ctl"; }
holders() { lab_exec aoe-client -i h0 -w 3000 "$1" holders | sed -n 's/^holders: *//p'; }
# aoeraid examine SHELF... into FILE: it must succeed and show slot 0, for a grep that
# must not match proves nothing on an examine that failed (its error on stderr).
examine_to() {
  local file=$1
  shift
  lab_exec "$aoeraid" examine -i h0 "$@" >"$file" 2>&1 || lab_die "examine $*: $(cat "$file")"
  grep -q "^  slot 0 " "$file" || lab_die "examine $*: no slot 0: $(cat "$file")"
}
ctl_ok() { out=$("$aoeraid" "$@" -c "$ctl" 2>&1) || lab_die "aoeraid $*: $out"; echo "ok: $*: $out"; }
ups() { grep -c "aoe: e$1: up:" "$LAB_DIR/nbdkit.log" || true; }
downs() { grep -c "aoe: e$1: no answer.*shelf declared down" "$LAB_DIR/nbdkit.log" || true; }
shelf_down() {
  local i=$1 gone
  gone=$(downs "$i.1")
  lab_kill "$i"
  for _ in $(seq 300); do [ "$(downs "$i.1")" -gt "$gone" ] && return 0; sleep 0.1; done
  lab_die "e$i.1 not declared down: $(tail -n 5 "$LAB_DIR/nbdkit.log")"
}
shelf_up() {
  local i=$1 before
  before=$(ups "$i.1")
  lab_start "$i"
  for _ in $(seq 300); do [ "$(ups "$i.1")" -gt "$before" ] && break; sleep 0.1; done
  [ "$(ups "$i.1")" -gt "$before" ] || lab_die "e$i.1 not seen back: $(tail -n 5 "$LAB_DIR/nbdkit.log")"
  sleep "${2:-3}"
}
shelf_bounce() { shelf_down "$1"; shelf_up "$@"; }

wait_recovered() {
  local slot=$1 name=$2
  seen_recovery=
  for _ in $(seq 600); do
    out=$(status)
    if grep -q "recovery slot $slot ($name)" <<<"$out"; then
      seen_recovery=1
      echo "$out" | grep "recovery slot" >"$LAB_DIR/recovery-line"
    fi
    if grep -Eq "^ +$slot +$name +active" <<<"$out" && ! grep -q recovery <<<"$out"; then
      break
    fi
    sleep 0.1
  done
  grep -Eq "^ +$slot +$name +active" <<<"$out" || lab_die "$name did not take slot $slot: $out"
  grep -q "state clean" <<<"$out" || lab_die "not clean after recovery: $out"
  [ -z "$seen_recovery" ] || echo "last status seen during recovery:$(cat "$LAB_DIR/recovery-line")"
}

wait_bitmap_clean() {
  for _ in $(seq $((${2:-20} * 10))); do status | grep >/dev/null "bitmap 0 of ${1:-}" && break; sleep 0.1; done
  status | grep >/dev/null "bitmap 0 of ${1:-}" || lab_die "the bits did not clear while idle: $(status)"
}

write_away() {
  lab_kill "$1"
  nbdsh -u "$uri" -c "
data = open('$LAB_DIR/more', 'rb').read()
h.pwrite(data, 8 << 20)
h.flush()
" || lab_die "writing with e$1.1 gone failed"
  cp "$LAB_DIR/data" "$LAB_DIR/want"
  dd if="$LAB_DIR/more" of="$LAB_DIR/want" bs=1M seek=8 conv=notrunc status=none
  want=$(md5sum <"$LAB_DIR/want")
  status | grep >/dev/null "bitmap 2 of $2 regions dirty" || lab_die "expected 2 dirty regions: $(status)"
}

readd_back() {
  local slot=$(($1 - 1))
  lab_start "$1"
  out=$("$aoeraid" add -c "$ctl" "e$1.1") || lab_die "add e$1.1 failed: $out"
  # what happens, said once (it said "added e$1.1 as a spare" first)
  grep -q "^re-adding e$1\.1 to slot $slot from the write-intent bitmap" <<<"$out" ||
    lab_die "add e$1.1 answered: $out"
  wait_recovered "$slot" "e$1.1"
  grep -q "e$1.1 comes back to slot $slot; recovery of the 2 of $2 regions" "$LAB_DIR/nbdkit.log" ||
    lab_die "e$1.1 was not re-added from the bitmap: $(grep -i "slot $slot" "$LAB_DIR/nbdkit.log")"
}

grow_refused() {
  local what=$1 regex=$2 out
  shift 2
  out=$("$aoeraid" grow -c "$ctl" "$@" 2>&1) && lab_die "$what was taken: $out"
  grep -Eq "$regex" <<<"$out" || lab_die "$what: expected '$regex', got: $out"
  [ "$(wc -l <<<"$out")" -eq 1 ] || lab_die "$what: more than one line: $out"
  echo "ok: $what refused: $out"
}

# Until the array is clean (every slot active) and no resync, recovery or reshape runs.
wait_clean() {
  for _ in $(seq $((${2:-60} * 10))); do
    out=$(status)
    grep -q "state clean" <<<"$out" && ! grep -Eq "^ +(resync|recovery|reshape) " <<<"$out" &&
      return 0
    sleep 0.1
  done
  lab_die "$1: the array did not become clean: $out"
}
# Until status matches $1 (an extended regex).
wait_status() {
  for _ in $(seq 300); do out=$(status); grep -Eq "$1" <<<"$out" && return 0; sleep 0.1; done
  lab_die "status never matched '$1': $out"
}

writer() { /usr/bin/python3 "$top_srcdir/tests/crash-writer.py" "$@"; }
crash_under_writes() {
  local wpid
  writer write "$uri" "$LAB_DIR/state" $((64 << 20)) "$1" >"$LAB_DIR/writer.out" 2>&1 &
  wpid=$!
  lab_track "$wpid"
  sleep 3
  kill -KILL "$PLUGIN_PID"
  wait "$PLUGIN_PID" 2>/dev/null || true
  PLUGIN_PID=
  wait "$wpid" || lab_die "the writer failed: $(cat "$LAB_DIR/writer.out")"
}
writer_start() {
  rm -f "$LAB_DIR/writer.state" "$LAB_DIR/writer.state.stop" "$LAB_DIR/writer.state.going"
  writer write "$uri" "$LAB_DIR/writer.state" $((${1:-96} << 20)) 1 8 >"$LAB_DIR/writer.out" 2>&1 &
  writer_pid=$!
  lab_track "$writer_pid"
  writer_going "$writer_pid" "$LAB_DIR/writer.state"
}
# Until the writer PID (its STATE) has had its first write acknowledged: what the caller
# does next is under writes (a fixed sleep let it happen before a writer slow to start on
# a loaded machine wrote anything).
writer_going() {
  for _ in $(seq 300); do
    [ -e "$2.going" ] && return 0
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  lab_die "the writer acknowledged no write within 30 s: $(cat "$LAB_DIR/writer.out")"
}
verify_blocks() {
  writer check "$uri" "$LAB_DIR/writer.state" || lab_die "$1"
}
# writer_stop WHAT: the writer still ran through WHAT; stop it, no write of it failed, and
# every block it wrote reads back.
writer_stop() {
  kill -0 "$writer_pid" 2>/dev/null || lab_die "the writer ended before $1 was over: $(cat "$LAB_DIR/writer.out")"
  touch "$LAB_DIR/writer.state.stop"
  wait "$writer_pid" || lab_die "the writer failed: $(cat "$LAB_DIR/writer.out")"
  grep -q " 0 cut short" "$LAB_DIR/writer.out" ||
    lab_die "writes failed through $1: $(cat "$LAB_DIR/writer.out")"
  echo "ok: through $1: $(tail -n 1 "$LAB_DIR/writer.out")"
  verify_blocks "$1: a written block is lost"
  echo "ok: every block written reads back"
}
# writer_verify WHAT: writer_stop, then a check finds no mismatch.
writer_verify() {
  writer_stop "$1"
  out=$("$aoeraid" check -c "$ctl") || lab_die "aoeraid check: $out"
  wait_status "last check complete at 100.0%: mismatches 0 "
  echo "ok: a check found no mismatch"
}

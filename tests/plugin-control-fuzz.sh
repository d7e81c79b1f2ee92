#!/usr/bin/env bash
# Garbage on the control socket: empty lines, a 1 MiB line, binary and control bytes,
# unknown requests, half a request then close, a client trickling one byte at a time,
# many clients at once, nbdkit out of descriptors, arguments out of range (a shelf past 65535, one that wraps round
# 2^32 to e1.1, negative and huge rates, a level that is no level).  Each is answered with
# one error line (or, for a client gone, nothing), no client holds the server, nothing
# changes in the array, status still answers and the data reads back over NBD.  A status
# beside a slow add answers (tests/plugin-control-concurrent.sh: before the add ends); one
# to a stopped server gives up after -t seconds.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 120
. "$top_srcdir/tests/plugin-lib.sh"
. "$top_srcdir/tests/plugin-rebuild-lib.sh"

lab_up -n 3 -s 32M
rebuild_data 8M 0
plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=5 chunk=64K control="$ctl"
nbdcopy --flush "$LAB_DIR/data" "$uri"
# What must not change: the state, the spares, each slot's member and role.
shape() { status | grep -E '^  (state|spares|[0-9]+ )' | awk '{ print $1, $2, $3 }'; }
before=$(shape)

# ask MODE PAYLOAD: send PAYLOAD (a Python bytes expression) as MODE says, print the answer.
#   line: send it, read the answer   close: send it, close our side, read the answer
#   trickle: one byte every 0.3 s    hold: send it and wait, without a newline
ask() {
  python3 - "$ctl" "$1" "$2" <<'EOF'
import socket, sys, time
path, mode, payload = sys.argv[1], sys.argv[2], eval(sys.argv[3])   # our own literals
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(path)
start = time.monotonic()
try:
    if mode == "trickle":
        for b in payload:
            s.send(bytes([b]))
            time.sleep(0.3)
    else:
        s.sendall(payload)
    if mode == "close":
        s.shutdown(socket.SHUT_WR)
except (BrokenPipeError, ConnectionResetError, OSError):
    pass                                  # the server stopped reading: its answer waits
answer = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        answer += chunk
except (ConnectionResetError, socket.timeout):
    pass
sys.stdout.write(answer.decode("utf-8", "replace"))
sys.stderr.write("%.1f\n" % (time.monotonic() - start))
EOF
}

# The answer to MODE PAYLOAD is one error line matching REGEX.
refused() {
  local mode=$1 payload=$2 regex=$3 out
  out=$(ask "$mode" "$payload" 2>"$LAB_DIR/took") ||
    lab_die "$payload: the client failed: $(cat "$LAB_DIR/took")"
  [ "$(grep -c '' <<<"$out")" = 1 ] || lab_die "$payload: not one line: $out"
  grep -Eq "^error: $regex" <<<"$out" || lab_die "$payload: answered: $out"
  echo "ok: $mode ${payload:0:40}: ${out:0:100}"
}

refused line "b'\\n'" "unknown request ''"
refused line "b'\\r\\n'" "unknown request ''"
refused line "b'x' * (1 << 20) + b'\\n'" "request longer than 255 bytes"
refused line "b'status' + b' ' * 300 + b'\\n'" "request longer than 255 bytes"
refused line "b'\\x00\\xff\\x1b[31mstatus\\n'" "request holds byte 0x00 at 0, not text"
refused line "b'status\\x00json\\n'" "request holds byte 0x00 at 6"
refused line "b'fail e1.1\\x1b\\n'" "request holds byte 0x1b at 9"
refused line "bytes(range(256))" "request holds byte 0x00"
refused line "b'frobnicate --all\\n'" "unknown request 'frobnicate --all'"
# the list of what it answers names every request (the grows of the bitmap and the
# consistency policy were missing)
refused line "b'frob\\n'" "unknown request 'frob': .*'grow bitmap=SIZE\\|none', 'grow consistency-policy=ppl\\|bitmap\\|resync' and 'check"
refused close "b'stat'" "unknown request 'stat'"
refused hold "b'status'" "no whole request line within 1000 ms"
refused trickle "b'status json and more'" "no whole request line within 1000 ms"
# Cut off a second after it connected: well under the 6.3 s its 21 bytes take to trickle
# in (the time a server that waited a second from each byte would give it).  4 s, not
# 2.5: a client or server the loaded machine runs late must not fail a right cut-off.
awk -v t="$(cat "$LAB_DIR/took")" 'BEGIN { exit !(t < 4) }' ||
  lab_die "a trickling client held the server $(cat "$LAB_DIR/took") s"
refused line "b'add 65536.1\\n'" "add: '65536.1' is not a shelf address"
refused line "b'fail 4294967297.1\\n'" "fail: '4294967297.1' is not a shelf address"
refused line "b'remove e1.-1\\n'" "remove: 'e1.-1' is not a shelf address"
refused line "b'fail -4294967295.1\\n'" "fail: '-4294967295.1' is not a shelf address"
refused line "b'speed min=-1\\n'" "speed: '-1' is not a rate"
refused line "b'speed max=99999999999999999999G\\n'" "speed: '99999999999999999999G' is not a rate"
refused line "b'speed min=1Q\\n'" "speed: '1Q' is not a rate"
refused line "b'grow level=banana e3.1\\n'" "grow: 'banana' is not a level"
refused line "b'grow level=4294967298+2 e3.1\\n'" "grow: '4294967298\\+2' is not a level"
# every word grow takes, and how to write it (it said 'write, as in, grow', no resync)
refused line "b'grow e3.x\\n'" "grow: 'e3.x' is not a shelf address \\(SHELF.SLOT\\), level=LEVEL, size=SIZE\\|max, bitmap=SIZE\\|none or consistency-policy=ppl\\|bitmap\\|resync: write, for example, grow level=5 e3.1, or grow size=max$"
refused line "b'check sideways\\n'" "check: 'sideways' is not repair or stop"
refused line "b'replace e9.9\\n'" ".*e9.9"
refused line "b'status json please\\n'" "unknown request 'status json please'"

# Many clients at once, some of them silent: every status answer comes.
python3 - "$ctl" <<'EOF'
import socket, sys, threading
path, answers, silent = sys.argv[1], [], []
def client(i):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)                       # blocking, as aoeraid's: waits for the backlog
    s.settimeout(30)
    if i % 5 == 0:
        silent.append(s)                  # connects and says nothing
        return
    s.sendall(b"status\n")
    out = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        out += c
    answers.append(out)
threads = [threading.Thread(target=client, args=(i,)) for i in range(40)]
for t in threads: t.start()
for t in threads: t.join()
good = [a for a in answers if b"raid5" in a and not a.startswith(b"error")]
if len(good) != 32:
    sys.exit("only %d of 32 status answers came: %r" % (len(good), answers[:2]))
EOF
echo "ok: 40 clients at once, 8 of them silent: all 32 status answers came"

# Out of descriptors: nbdkit's limit lowered to its lowest free descriptor, a client's
# status waits in the backlog.  The accept thread says so once and sleeps between tries
# (before, every poll returned at once and it spun on a CPU); the client is answered once
# the limit is raised.
ctl_tid=$(grep -lx aoeraid-control /proc/"$PLUGIN_PID"/task/*/comm | cut -d/ -f5)
[ -n "$ctl_tid" ] || lab_die "no thread named aoeraid-control in nbdkit"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PLUGIN_PID/task/$ctl_tid/stat"; }
lowest_free=$(ls /proc/"$PLUGIN_PID"/fd | sort -n |
              awk 'BEGIN { n = 0 } $1 == n { n++ } END { print n }')
nofile=$(prlimit --pid "$PLUGIN_PID" --nofile -o SOFT --noheadings)
prlimit --pid "$PLUGIN_PID" --nofile="$lowest_free:" || lab_die "prlimit failed"
"$aoeraid" status -t 20 -c "$ctl" >"$LAB_DIR/late.out" 2>&1 &
late=$!
wait_log "cannot take a client: Too many open files" "out of descriptors"
ticks0=$(cpu_ticks); sleep 2; ticks1=$(cpu_ticks)
lab_alive "$late" || lab_die "the status was answered with no descriptor free: $(cat "$LAB_DIR/late.out")"
prlimit --pid "$PLUGIN_PID" --nofile="$nofile:"
wait "$late" || lab_die "the waiting status failed once the limit was raised: $(cat "$LAB_DIR/late.out")"
grep -q "state clean" "$LAB_DIR/late.out" || lab_die "the waiting status said: $(cat "$LAB_DIR/late.out")"
[ $((ticks1 - ticks0)) -lt 30 ] ||
  lab_die "out of descriptors, the accept thread spun: $((ticks1 - ticks0)) ticks of CPU in 2 s"
[ "$(grep -c "cannot take a client" "$LAB_DIR/nbdkit.log")" = 1 ] ||
  lab_die "the accept failure was not said once: $(grep "cannot take a client" "$LAB_DIR/nbdkit.log")"
grep -q "control socket .* taking clients again" "$LAB_DIR/nbdkit.log" || lab_die "no 'taking clients again'"
echo "ok: out of descriptors, a status waits (accept thread $((ticks1 - ticks0)) ticks in 2 s) and is answered after"

after=$(shape)
[ "$after" = "$before" ] || lab_die "the array changed: before: $before; after: $after"
grep -q "state clean" <<<"$after" || lab_die "status: $after"
[ "$(readback)" = "$(md5sum <"$LAB_DIR/data")" ] || lab_die "the data read back differs"
nbdsh -u "$uri" -c 'assert h.get_size() > 0' || lab_die "nbdsh cannot talk to the server"
lab_alive "$PLUGIN_PID" || lab_die "nbdkit died"

# Two clients at once: a status while an add waits for a shelf that never answers (the
# server's discover-time, 2 s) is answered, whole, before the add ends.  The status goes
# once the add holds the command lock (a speed request, which takes it, goes unanswered:
# tests/plugin-control-concurrent.sh); a loaded machine may leave too little of the 2 s
# for the status to answer in, so that is tried again, three times at most.
add_held() {
  local probe
  for _ in $(seq 60); do
    lab_alive "$adder" || return 1
    if probe=$("$aoeraid" speed -t 1 -c "$ctl" 2>&1); then
      sleep 0.1; continue         # answered: the add is not in the server's hands yet
    fi
    grep -Eq "the server (gave no answer|took no new connection) within 1 s" <<<"$probe" ||
      lab_die "speed beside the add failed otherwise than by waiting: $probe"
    return 0
  done
  return 1
}
beside=
for _ in 1 2 3; do
  "$aoeraid" add -c "$ctl" e9.1 >"$LAB_DIR/add.out" 2>&1 &
  adder=$!
  lab_track "$adder"
  if add_held; then
    out=$(status) || lab_die "a status beside an add failed: $out"
    grep -q "state clean" <<<"$out" || lab_die "a status beside an add: $out"
    lab_alive "$adder" && beside=1
  fi
  wait "$adder" && lab_die "the add of e9.1 succeeded: $(cat "$LAB_DIR/add.out")"
  grep -q "e9.1 did not answer" "$LAB_DIR/add.out" || lab_die "add e9.1: $(cat "$LAB_DIR/add.out")"
  [ -z "$beside" ] || break
done
[ -n "$beside" ] || lab_die "no status answered while an add held the command lock (3 tries)"
echo "ok: a status beside a slow add answers"
# A stopped server (SIGSTOP: it takes the connection, never answers) holds no status loop:
# -t bounds the wait, and says why.
kill -STOP "$PLUGIN_PID"
set +e
err=$(timeout 30 "$aoeraid" status -t 1 -c "$ctl" 2>&1); rc=$?
set -e
kill -CONT "$PLUGIN_PID"
[ $rc -eq 1 ] || lab_die "status of a stopped server: exit $rc (124: it hung): $err"
[ "$err" = "aoeraid: $ctl: the server gave no answer within 1 s: it is stopped, hung or busy with a long request; wait longer with -t SECONDS, and see aoeraid status for whether the request took effect" ] ||
  lab_die "status of a stopped server said: $err"
status | grep -q "state clean" || lab_die "no status once the server runs again"
echo "ok: a stopped server: $err"
# a client's mistake is answered to the client, not logged as the server's error
! grep -q "error: level:" "$LAB_DIR/nbdkit.log" ||
  lab_die "a bad grow level= was logged as a server error: $(grep "error: level:" "$LAB_DIR/nbdkit.log")"
plugin_stop
echo "plugin-control-fuzz: passed"

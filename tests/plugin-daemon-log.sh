#!/usr/bin/env bash
# nbdkit without -f forks into the background, points its stderr at /dev/null and sends
# its errors to syslog: the plugin's warnings and notices (a shelf down, the array
# degraded) must follow them there.  nbdkit runs in a mount namespace of its own whose
# /dev/log is a datagram socket this test reads; nothing of the host's /dev changes.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 120
. "$top_srcdir/tests/plugin-lib.sh"
command -v unshare >/dev/null || lab_die "unshare (util-linux) is missing"

lab_up -n 2 -s 64M
log=$LAB_DIR/syslog.txt sock=$LAB_DIR/nbd.sock
: >"$log"
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", 0) as out:
    while True:
        out.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
' "$LAB_DIR/log.sock" "$log" &
lab_track $!
for _ in $(seq 600); do [ -S "$LAB_DIR/log.sock" ] && break; sleep 0.05; done

# A private /dev: the host's null, zero, urandom and shm, and our socket as /dev/log.
unshare --mount --propagation private bash -c '
  set -e
  mkdir -p "$1/hostdev"
  mount --bind /dev "$1/hostdev"
  mount -t tmpfs devs /dev
  for n in null zero full random urandom; do
    touch "/dev/$n"; mount --bind "$1/hostdev/$n" "/dev/$n"
  done
  mkdir /dev/shm; mount --rbind "$1/hostdev/shm" /dev/shm
  touch /dev/log; mount --bind "$1/log.sock" /dev/log
  exec ip netns exec "$2" nbdkit -U "$3" -P "$1/nbdkit.pid" "$4" iface=h0 discover-time=2 \
    dead-time=1 shelves=e1.1,e2.1 level=1 name=bg 2>>"$1/nbdkit.log"
' _ "$LAB_DIR" "$LAB_NS" "$sock" "$AOERAID_PLUGIN" || lab_die "nbdkit did not start"
for _ in $(seq 600); do [ -s "$LAB_DIR/nbdkit.pid" ] && break; sleep 0.05; done
pid=$(cat "$LAB_DIR/nbdkit.pid")
lab_track "$pid"
[ "$(readlink "/proc/$pid/fd/2")" = /dev/null ] || lab_die "nbdkit in the background kept stderr"
echo "ok: nbdkit in the background (pid $pid), stderr on /dev/null"

lab_kill 2
nbdsh -u "nbd+unix:///?socket=$sock" -c 'h.pwrite(b"x" * 4096, 0); h.flush()' ||
  lab_die "a write to the degraded mirror failed"
warned() { grep -Eq "nbdkit\[$pid\]: aoeraid: warning: .*e2\.1" "$log"; }
for _ in $(seq 300); do warned && break; sleep 0.1; done
cat "$log"
warned ||
  lab_die "no warning about e2.1 reached syslog"
if grep -q "declared down" "$LAB_DIR/nbdkit.log"; then
  lab_die "a warning after the fork went to stderr: $(grep "declared down" "$LAB_DIR/nbdkit.log")"
fi
echo "ok: the warning that e2.1 failed reached syslog, tagged nbdkit[$pid]"
kill -TERM "$pid"
for _ in $(seq 300); do lab_alive "$pid" || break; sleep 0.1; done
echo "plugin-daemon-log: passed"

#!/usr/bin/env bash
# systemd/aoeraid@.service, run as systemd would run it (systemd is not PID 1 here):
# (1) systemd-analyze verify passes on it, instantiated as aoeraid@test.service, without a
# word said; (2) its ExecStart, expanded as systemd expands it (%i, the Environment=
# defaults, then the EnvironmentFile /etc/aoeraid/test.conf; /run and /etc re-rooted in
# the lab's directory, the plugin's name given as the built .so), run in the lab: the
# first start creates the array 'test' from the config's shelves= and returns only once
# it serves (Type=forking: both sockets are there when the start returns, the PID file
# soon after, as systemd waits for it); data written reads back; aoeraid status answers on
# the control socket the unit names; KillSignal to the main PID alone (KillMode=mixed),
# while a client writes, stops it within TimeoutStopSec with every superblock clean, the
# RuntimeDirectory removed as systemd removes it (nbdkit leaves its socket, which would
# refuse the next start: "Address already in use"); a second start by name
# alone (shelves= taken out, as the example config says) assembles it, data intact.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 90
. "$top_srcdir/tests/plugin-lib.sh"

unit=$top_srcdir/systemd/aoeraid@.service
instance=test
aoeraid=$top_builddir/aoeraid

# ---- (1) the unit as systemd reads it
if command -v systemd-analyze >/dev/null; then
  mkdir "$LAB_DIR/units"
  cp "$unit" "$LAB_DIR/units/aoeraid@$instance.service"
  # --man=no: the man pages Documentation= names are not installed from a build tree.
  # A unit systemd warns about (a bad value, ignored) verifies with status 0: any word
  # fails the test.
  out=$(systemd-analyze verify --man=no "$LAB_DIR/units/aoeraid@$instance.service" 2>&1) ||
    lab_die "systemd-analyze verify failed: $out"
  [ -z "$out" ] || lab_die "systemd-analyze verify: $out"
  echo "ok: systemd-analyze verify aoeraid@$instance.service: no word said"
else
  echo "skip: systemd-analyze not found: the unit is not verified (part 1)"
fi

# ---- (2) its ExecStart, expanded, in the lab
root=$LAB_DIR/root
mkdir -p "$root/etc/aoeraid"
conf=$root/etc/aoeraid/$instance.conf

# expand: print the unit's settings and ExecStart's words (NUL-separated) as systemd
# would run them, for the instance $instance, /run and /etc under $root.  Specifiers
# first (%i, %t, %%), then the environment: Environment= in order, then the
# EnvironmentFile (optional with "-"), later settings winning; in ExecStart a word
# "$VAR" alone is split at whitespace, "${VAR}" is put in as it is.
expand() {
  python3 - "$unit" "$instance" "$root" <<'EOF'
import re, shlex, sys
unit, instance, root = sys.argv[1:]

def specifiers(s):
    return re.sub(r'%(.)', lambda m: {'i': instance, 't': '/run', '%': '%'}[m.group(1)], s)

def reroot(s):                   # /run/... and /etc/... as words or after a "key="
    return re.sub(r'(^|[\s=])/(run|etc)/', lambda m: m.group(1) + root + '/' + m.group(2) + '/', s)

service, section = {}, None
for line in open(unit):
    line = line.strip()
    if not line or line[0] in '#;':
        continue
    if line.startswith('['):
        section = line
        continue
    if section == '[Service]':
        key, _, value = line.partition('=')
        service.setdefault(key, []).append(value)

env = {}
for value in service.get('Environment', []):
    for assignment in shlex.split(specifiers(value)):
        k, _, v = assignment.partition('=')
        env[k] = reroot(v)
for value in service.get('EnvironmentFile', []):
    optional = value.startswith('-')
    path = reroot(specifiers(value.lstrip('-')))
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        if optional:
            continue
        raise
    for line in lines:
        line = line.strip()
        if not line or line[0] in '#;':
            continue
        k, _, v = line.partition('=')
        env[k.strip()] = ' '.join(shlex.split(v))   # quotes taken off, as systemd does

(execstart,) = service['ExecStart']
if execstart[:1] in '@-:+!':
    sys.exit('ExecStart with a prefix (%s): the test does not expand it' % execstart[0])
words = []
for word in shlex.split(specifiers(execstart)):
    m = re.fullmatch(r'\$([A-Za-z_][A-Za-z0-9_]*)', word)
    if m:
        words += env.get(m.group(1), '').split()
    else:
        words.append(re.sub(r'\$\{([A-Za-z_][A-Za-z0-9_]*)\}',
                            lambda m: env.get(m.group(1), ''), word))
words = [reroot(w) for w in words]

def one(key, default=''):
    return specifiers(service.get(key, [default])[-1])
settings = [one('Type', 'simple'), reroot(one('PIDFile')),
            root + '/run/' + one('RuntimeDirectory'), one('KillMode', 'control-group'),
            one('KillSignal', 'SIGTERM'), one('TimeoutStopSec', '90'),
            one('RuntimeDirectoryPreserve', 'no')]
sys.stdout.write('\0'.join(settings + words) + '\0')
EOF
}

# start: run the expanded ExecStart in the initiator's namespace as systemd would for
# Type=forking: the RuntimeDirectory made first, the start done when the command returns
# (status 0), the main PID read from the PIDFile.
start() {
  local settings=() words=() i nbdkit_word=-1
  mapfile -d '' settings < <(expand)
  [ "${#settings[@]}" -gt 7 ] || lab_die "expanding aoeraid@$instance.service failed"
  type=${settings[0]} pidfile=${settings[1]} rundir=${settings[2]}
  killmode=${settings[3]} killsignal=${settings[4]} stop_secs=${settings[5]}
  preserve=${settings[6]}
  words=("${settings[@]:7}")
  [ "$type" = forking ] || lab_die "Type=$type: this test runs a Type=forking unit"
  [ "$killmode" = mixed ] || lab_die "KillMode=$killmode: only nbdkit should get $killsignal"
  [[ $stop_secs =~ ^[0-9]+$ ]] || lab_die "TimeoutStopSec=$stop_secs: give seconds"
  [ "${words[0]}" = nbdkit ] || lab_die "ExecStart runs ${words[0]}, not nbdkit"
  # The plugin by name needs it installed; this build's .so is the same plugin.
  for i in "${!words[@]}"; do
    [ "${words[$i]}" = aoeraid ] && { nbdkit_word=$i; break; }
  done
  [ "$nbdkit_word" -ge 0 ] || lab_die "ExecStart names no plugin aoeraid: ${words[*]}"
  words[$nbdkit_word]=$AOERAID_PLUGIN
  sock= ctl=
  for i in "${!words[@]}"; do
    [ "${words[$i]}" = -U ] && sock=${words[$((i + 1))]}
    case ${words[$i]} in control=*) ctl=${words[$i]#control=} ;; esac
  done
  [ -n "$sock" ] && [ -n "$ctl" ] || lab_die "ExecStart has no -U socket or no control=: ${words[*]}"
  echo "start: ${words[*]}" >>"$LAB_DIR/nbdkit.log"
  mkdir -p "$rundir"
  lab_exec "${words[@]}" 2>>"$LAB_DIR/nbdkit.log" ||
    lab_die "the start failed: $(tail -n 3 "$LAB_DIR/nbdkit.log")"
  # ready as the start returns: what Type=forking promises
  [ -S "$sock" ] || lab_die "the start returned, but $sock is not there"
  [ -S "$ctl" ] || lab_die "the start returned, but $ctl is not there"
  # nbdkit's child writes it after the fork; systemd waits for it
  for _ in $(seq 100); do [ -s "$pidfile" ] && break; sleep 0.05; done
  main_pid=$(cat "$pidfile") || lab_die "no PID file $pidfile after the start"
  lab_track "$main_pid"
  lab_alive "$main_pid" || lab_die "nbdkit $main_pid (its PID file) is not running"
  uri="nbd+unix:///?socket=$sock"
}

# stop: KillSignal to the main PID alone (KillMode=mixed), systemd's wait of
# TimeoutStopSec (after which it would SIGKILL: a dirty array), then the RuntimeDirectory
# removed (unless RuntimeDirectoryPreserve= says otherwise).
stop() {
  kill -s "${killsignal#SIG}" "$main_pid"
  for _ in $(seq $((stop_secs * 10))); do lab_alive "$main_pid" || break; sleep 0.1; done
  lab_alive "$main_pid" &&
    lab_die "nbdkit $main_pid still runs ${stop_secs}s (TimeoutStopSec) after $killsignal"
  [ "$preserve" != no ] || rm -rf "$rundir"
}

status() { "$aoeraid" status -c "$ctl"; }

# The example config as systemd reads it: AOERAID_ARGS its one line not commented out,
# NBDKIT_ARGS the unit's default; the command is the one the man page shows.
cp "$top_srcdir/systemd/aoeraid.conf.example" "$conf"
mapfile -d '' settings < <(expand)
run=$root/run/aoeraid/$instance
want="nbdkit -P $run/nbdkit.pid -U $run/nbd.sock aoeraid name=$instance"
want+=" control=$run/control.sock iface=eth1"
[ "${settings[*]:7}" = "$want" ] ||
  lab_die "with aoeraid.conf.example the unit runs: ${settings[*]:7}; expected: $want"
echo "ok: with aoeraid.conf.example: $want"

lab_up -n 2 -s 64M
cat >"$conf" <<'EOF'
# the first start creates it
AOERAID_ARGS="iface=h0 discover-time=2 shelves=e1.1,e2.1 level=1 bitmap-chunk=1M"
EOF
start
status >"$LAB_DIR/status.txt" || lab_die "aoeraid status -c $ctl failed"
grep -q "^array $instance " "$LAB_DIR/status.txt" ||
  lab_die "status on $ctl: not the array $instance: $(cat "$LAB_DIR/status.txt")"
echo "ok: started as the unit starts it: serving on $sock, status on $ctl, main PID $main_pid"

head -c 4M /dev/urandom >"$LAB_DIR/data"
want=$(md5sum <"$LAB_DIR/data")
nbdsh -u "$uri" -c "
h.pwrite(open('$LAB_DIR/data', 'rb').read(), 1 << 20)
h.flush()
" || lab_die "writing 4 MiB through $sock failed"
# the new array's resync done, so that the stop below closes a clean array, not one
# that is still being made consistent
for _ in $(seq 300); do
  out=$(status)
  grep -q "state clean" <<<"$out" && ! grep -Eq "^ +resync " <<<"$out" && break
  sleep 0.1
done
grep -q "state clean" <<<"$out" && ! grep -Eq "^ +resync " <<<"$out" ||
  lab_die "the new array did not become clean: $out"

# A client writing as the stop comes (a kernel NBD client stays connected for ever): the
# stop must not wait for it to go, and still close the array clean.
nbdsh -u "$uri" -c "
import os, random, sys
data = os.urandom(65536)
h.pwrite(data, 16 << 20)
print('writing', flush=True)
try:
    while True:
        h.pwrite(data, (16 << 20) + random.randrange(256) * 65536)
except Exception as e:
    print('ended:', e, flush=True)
" >"$LAB_DIR/writer.out" 2>&1 &
writer=$!
lab_track "$writer"
for _ in $(seq 300); do grep -q writing "$LAB_DIR/writer.out" && break; sleep 0.05; done
grep -q writing "$LAB_DIR/writer.out" || lab_die "the writer did not start: $(cat "$LAB_DIR/writer.out")"

stop
wait "$writer" 2>/dev/null || true
grep -q "ended:" "$LAB_DIR/writer.out" ||
  lab_die "the writer was not ended by the stop: $(cat "$LAB_DIR/writer.out")"
lab_exec "$aoeraid" examine -i h0 e1.1 e2.1 >"$LAB_DIR/ex.txt" ||
  lab_die "examine after the stop failed: $(cat "$LAB_DIR/ex.txt")"
[ "$(grep -c "state : clean" "$LAB_DIR/ex.txt")" = 2 ] ||
  lab_die "after $killsignal the superblocks are not both clean: $(grep "state :" "$LAB_DIR/ex.txt")"
echo "ok: $killsignal to nbdkit $main_pid while a client wrote: stopped, both superblocks clean"

# The second start finds the shelves by name= alone.
echo 'AOERAID_ARGS="iface=h0 discover-time=2"' >"$conf"
start
got=$(nbdsh -u "$uri" -c "
import hashlib, sys
sys.stdout.write(hashlib.md5(h.pread(4 << 20, 1 << 20)).hexdigest() + '  -\n')
") || lab_die "reading through $sock after the restart failed"
[ "$got" = "$want" ] || lab_die "after the restart the 4 MiB read back differ"
out=$(status)
grep -q "state clean" <<<"$out" || lab_die "restarted by name: not clean: $out"
! grep -q "resync after a crash" <<<"$out" || lab_die "restarted after a clean stop, yet: $out"
stop
echo "ok: started again by name= alone: clean, the data intact; stopped"
echo "systemd-unit: passed"

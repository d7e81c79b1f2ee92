#!/usr/bin/env bash
# GFS2 on the export, through nbdfuse: mkfs.gfs2 (lock_dlm, 6 journals) and a clean
# fsck.gfs2 -n, on RAID1 of 2 and RAID5 of 3.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 420
. "$top_srcdir/tests/plugin-lib.sh"
for c in nbdfuse mkfs.gfs2 fsck.gfs2 fusermount3; do
  command -v $c >/dev/null || lab_die "$c not found: run scripts/install-deps"
done
[ -c /dev/fuse ] || lab_skip "no /dev/fuse"

lab_up -n 3 -s 320M -m 9000
sock=$LAB_DIR/nbd.sock
mnt=$LAB_DIR/mnt
mkdir -p "$mnt"
FUSE_PID=
fuse_up() {
  rm -f "$LAB_DIR/fuse.pid"
  nbdfuse -P "$LAB_DIR/fuse.pid" "$mnt/disk" --unix "$sock" &
  lab_track $!
  for _ in $(seq 300); do [ -s "$LAB_DIR/fuse.pid" ] && break; sleep 0.1; done
  FUSE_PID=$(cat "$LAB_DIR/fuse.pid")
  lab_track "$FUSE_PID"
}
fuse_down() {
  fusermount3 -u "$mnt" || lab_die "fusermount3 -u failed"
  while lab_alive "$FUSE_PID"; do sleep 0.1; done
}

gfs2_on() {
  local level=$1 shelves=$2
  plugin_start "$sock" shelves="$shelves" level="$level" name="gfs$level"
  fuse_up
  mkfs.gfs2 -O -q -p lock_dlm -t demo:gfs -j 6 -J 8 "$mnt/disk" ||
    lab_die "mkfs.gfs2 on level $level failed"
  fsck.gfs2 -n "$mnt/disk" >"$LAB_DIR/fsck.log" 2>&1 ||
    { cat "$LAB_DIR/fsck.log"; lab_die "fsck.gfs2 -n on level $level is not clean"; }
  fuse_down
  plugin_stop
  echo "ok: level $level: mkfs.gfs2 -p lock_dlm -j 6, fsck.gfs2 -n clean"
}

gfs2_on 1 e1.1,e2.1
# The next array takes the shelves over: wipe the start of each.
for i in 1 2 3; do dd if=/dev/zero of="${LAB_IMG[$i]}" bs=1M count=2 conv=notrunc status=none; done
gfs2_on 5 e1.1,e2.1,e3.1
echo "plugin-gfs2: passed"

#!/usr/bin/env bash
# A dead array's requests reach the client as EIO (md answers a failed bio so), not as the
# EINVAL nbdkit makes of an errno it does not pass on (a shelf's timeout, a member gone):
# a raid0 of two shelves loses one, and a read, a write and a flush over nbdsh each fail
# with errno EIO (nbd.Error's .errno: the errno's name).  hold-time=0: the shelf the raid0
# cannot do without goes down at its dead time, not after a hold (plugin-switch-outage.sh).
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 120
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 2 -s 32M
sock=$LAB_DIR/nbd.sock
uri="nbd+unix:///?socket=$sock"
plugin_start "$sock" shelves=e1.1,e2.1 level=0 chunk=64K dead-time=1 hold-time=0
nbdsh -u "$uri" -c "h.pwrite(b'x' * (1 << 20), 0); h.flush()" || lab_die "the write before"
lab_kill 2
# Each request on its own: the first may wait out dead-time for e2.1's answer.
nbdsh -u "$uri" -c "
def told(what, request):
    try:
        request()
    except nbd.Error as e:
        assert e.errno == 'EIO', '%s: told %s, not EIO' % (what, e)
        return
    raise AssertionError('%s went through on a dead array' % what)
told('pread', lambda: h.pread(1 << 20, 0))
told('pwrite', lambda: h.pwrite(b'y' * (1 << 20), 0))
told('flush', lambda: h.flush())
" 2>"$LAB_DIR/nbdsh.err" || lab_die "$(tail -n 3 "$LAB_DIR/nbdsh.err")"
grep -q "has lost too many members\|could be read" "$LAB_DIR/nbdkit.log" ||
  lab_die "the log does not say why: $(tail -n 5 "$LAB_DIR/nbdkit.log")"
echo "ok: a dead raid0's read, write and flush are told EIO, the reason in the log"
plugin_stop
echo "plugin-dead-errno: passed"

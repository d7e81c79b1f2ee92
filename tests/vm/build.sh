#!/usr/bin/env bash
# tests/vm/build.sh: the guest kernel and base initramfs for the GFS2 cluster rig.
#
# Prints the image directory on stdout (the only stdout line); it holds
#   vmlinuz        Debian's linux-image-amd64 kernel (the cloud kernel lacks GFS2 and DLM)
#   base.cpio.gz   busybox-static rootfs with the nbd, gfs2 and dlm modules, nbd-client,
#                  corosync, dlm_controld, dlm_tool and util-linux flock; no /init (each run
#                  appends its own /init and cluster configuration, see tests/vm/cluster.sh)
#   kver           the kernel release
# Every part comes from Debian's archive through `apt-get download`. The directory is named
# after a hash of the package versions and of this script, so a rebuild happens only when
# one of them changes; otherwise this returns in about a second.
#   AOERAID_VM_CACHE   cache directory (default /var/cache/aoeraid-vm)
set -euo pipefail

CACHE=${AOERAID_VM_CACHE:-/var/cache/aoeraid-vm}
# Kernel modules the guests load; their dependencies come along.
MODULES="virtio_pci virtio_net crc32c_generic configfs dlm gfs2 nbd"
# Userspace programs copied into the rootfs with the libraries ldd finds for them.
PROGRAMS="usr/sbin/corosync usr/sbin/corosync-cfgtool usr/sbin/corosync-cmapctl
  usr/sbin/corosync-quorumtool usr/sbin/corosync-cpgtool usr/sbin/dlm_controld
  usr/sbin/dlm_tool sbin/nbd-client usr/bin/flock"
TOOL_PACKAGES="corosync dlm-controld nbd-client util-linux"

log() { echo "vm-build: $*" >&2; }
die() { echo "vm-build: error: $*" >&2; exit 1; }

for c in apt-get apt-cache dpkg-deb gzip ldd sha256sum flock; do
  command -v "$c" >/dev/null || die "$c not found: run scripts/install-deps"
done

# The packages to fetch: the kernel image linux-image-amd64 points at, busybox-static, the
# tools, and the libraries they depend on (with libc6, whose loader the rootfs uses).
package_list() {
  local kernel
  kernel=$(apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
  [ -n "$kernel" ] || die "apt-cache knows no linux-image-amd64: run apt-get update"
  echo "$kernel" busybox-static $TOOL_PACKAGES
  # shellcheck disable=SC2086
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances $TOOL_PACKAGES 2>/dev/null |
    grep -E '^lib[a-z0-9.+-]+$' | sort -u
}

# "package=version" for each package, the version apt-get download will fetch.
package_versions() {
  # shellcheck disable=SC2046
  apt-cache show --no-all-versions $(package_list) |
    awk '/^Package:/ {p = $2} /^Version:/ {print p "=" $2}' | sort -u
}

# Fetch every .deb not yet in the cache's debs/ directory.
fetch_debs() {
  local debs=$1 pv missing=()
  mkdir -p "$debs"
  for pv in $VERSIONS; do
    compgen -G "$debs/${pv%%=*}_$(deb_version "${pv#*=}")_*.deb" >/dev/null || missing+=("$pv")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "downloading ${#missing[@]} packages"
  (cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "${missing[@]}" >&2) ||
    die "apt-get download failed (is Debian's archive reachable? try apt-get update)"
}

# apt-get download writes an epoch's colon as %3a in the file name.
deb_version() { echo "${1//:/%3a}"; }

unpack_debs() {
  local debs=$1 stage=$2 pv f
  for pv in $VERSIONS; do
    for f in "$debs/${pv%%=*}_$(deb_version "${pv#*=}")"_*.deb; do dpkg-deb -x "$f" "$stage"; done
  done
}

# Copy module $1 and what it depends on (from modules.dep) into rootfs $2.
declare -A MODULE_SEEN
add_module() {
  local name=$1 root=$2 mdir=$STAGE/lib/modules/$KVER line path dep
  grep -qE "(^|/)$name\.ko(\.[a-z]+)?$" "$mdir/modules.builtin" 2>/dev/null && return 0
  line=$(grep -E "(^|/)$name\.ko(\.[a-z]+)?:" "$mdir/modules.dep") ||
    die "kernel $KVER has no module $name"
  path=${line%%:*}
  [ -n "${MODULE_SEEN[$path]:-}" ] && return 0
  MODULE_SEEN[$path]=1
  mkdir -p "$root/lib/modules/$KVER/$(dirname "$path")"
  cp "$mdir/$path" "$root/lib/modules/$KVER/$path"
  for dep in ${line#*:}; do
    dep=$(basename "$dep"); add_module "${dep%%.ko*}" "$root"
  done
}

# Copy the programs and their shared libraries (resolved inside the stage) into rootfs $1.
add_programs() {
  local root=$1 p lib libs='' out
  local libpath=$STAGE/lib/x86_64-linux-gnu:$STAGE/usr/lib/x86_64-linux-gnu
  for p in $PROGRAMS; do
    [ -x "$STAGE/$p" ] || die "package set lacks /$p"
    mkdir -p "$root/$(dirname "$p")"
    cp "$STAGE/$p" "$root/$p"
    out=$(LD_LIBRARY_PATH=$libpath ldd "$STAGE/$p")
    echo "$out" | grep -q 'not found' &&
      die "/$p needs a library outside the package set: $(echo "$out" | grep 'not found' | head -1)"
    libs+=" $(echo "$out" | awk '$2 == "=>" && $3 ~ /^\// {print $3}')"
  done
  for lib in $(echo "$libs" | tr ' ' '\n' | sort -u); do
    case $lib in "$STAGE"/*) ;; *) die "$lib is not from the package set: add its package" ;; esac
    cp -L "$lib" "$root/lib/x86_64-linux-gnu/"
  done
  cp -L "$STAGE/lib64/ld-linux-x86-64.so.2" "$root/lib64/"
  # Loaded with dlopen, so ldd does not list them: name lookups, and thread cancellation
  # (glibc loads libgcc_s when a thread is cancelled).
  cp -L "$STAGE/lib/x86_64-linux-gnu/libnss_files.so.2" "$STAGE/lib/x86_64-linux-gnu/libgcc_s.so.1" \
    "$root/lib/x86_64-linux-gnu/"
}

make_rootfs() {
  local root=$1 a m
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,mnt,tmp,etc,run,root,lib64} \
    "$root"/lib/x86_64-linux-gnu "$root"/var/{lib/corosync,log/cluster,log/dlm_controld} \
    "$root"/etc/{corosync,dlm}
  ln -s ../run "$root/var/run"
  cp "$STAGE/bin/busybox" "$root/bin/busybox"
  for a in $("$root/bin/busybox" --list); do
    [ "$a" = busybox ] || [ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
  done
  ln -s ../bin/busybox "$root/sbin/modprobe"
  for m in $MODULES; do add_module "$m" "$root"; done
  cp "$STAGE/lib/modules/$KVER"/modules.{dep,alias,symbols,builtin,order} \
    "$root/lib/modules/$KVER/" 2>/dev/null || true
  add_programs "$root"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files\n' >"$root/etc/nsswitch.conf"
  log "rootfs: modules ${!MODULE_SEEN[*]}"
}

build() {
  local out=$1 work
  work=$(mktemp -d "$CACHE/build.XXXXXX")
  STAGE=$work/stage
  mkdir -p "$STAGE"
  fetch_debs "$CACHE/debs"
  log "unpacking"
  unpack_debs "$CACHE/debs" "$STAGE"
  KVER=$(basename "$(ls -d "$STAGE"/lib/modules/*-amd64 | head -1)")
  [ -f "$STAGE/boot/vmlinuz-$KVER" ] || die "no kernel image in the kernel package"
  log "depmod $KVER"
  "$STAGE/bin/busybox" depmod -b "$STAGE" "$KVER"
  make_rootfs "$work/rootfs"
  (cd "$work/rootfs" && find . | "$STAGE/bin/busybox" cpio -o -H newc 2>/dev/null) |
    gzip -6 >"$work/base.cpio.gz"
  mkdir -p "$out.tmp"
  mv "$work/base.cpio.gz" "$out.tmp/"
  cp "$STAGE/boot/vmlinuz-$KVER" "$out.tmp/vmlinuz"
  echo "$KVER" >"$out.tmp/kver"
  echo "$VERSIONS" >"$out.tmp/packages"
  rm -rf "$work" "$out"
  mv "$out.tmp" "$out"
  log "built $out: initramfs $(du -h "$out/base.cpio.gz" | cut -f1), kernel $KVER"
}

mkdir -p "$CACHE" || die "cannot create $CACHE (set AOERAID_VM_CACHE)"
exec 9>"$CACHE/.lock"
flock -w 1200 9 || die "another build holds $CACHE/.lock"
VERSIONS=$(package_versions)
key=$( (echo "$VERSIONS"; sha256sum <"$0") | sha256sum | cut -c1-16)
out=$CACHE/img-$key
if [ ! -f "$out/base.cpio.gz" ]; then
  rm -rf "$CACHE"/build.* "$out.tmp"
  build "$out"
  # Older images belong to package versions apt no longer offers.
  for old in "$CACHE"/img-*; do [ "$old" = "$out" ] || rm -rf "$old"; done
fi
echo "$out"

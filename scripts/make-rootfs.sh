#!/bin/sh
# Build a minimal root filesystem from a static busybox: one binary, a symlink per applet.
set -eu
busybox=$1 dest=$2
file "$busybox" 2>/dev/null | grep -q 'static' || ldd "$busybox" 2>&1 | grep -q 'not a dynamic' || {
  echo "make-rootfs: $busybox is not statically linked (apt-get install busybox-static)" >&2; exit 1; }
rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
cd "$dest.tmp"
mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root var/tmp run home
chmod 1777 tmp var/tmp
cp "$busybox" bin/busybox
for applet in $(./bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > etc/passwd
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' > etc/group
echo toyrun > etc/hostname
cd - >/dev/null
rm -rf "$dest" && mv "$dest.tmp" "$dest"

#!/bin/sh
# What `make test` needs from Debian beyond the build: the reference runtime
# (runc), the real callers (podman, containerd), busybox for the rootfs, and the
# tools tests drive (nsenter/unshare, ip, ps, newuidmap, file, libseccomp, chromium
# for the trace timeline's headless screenshot; apparmor_parser where the kernel has AppArmor).
# Installs only what is missing, as root; `apt-get update` runs once, and only
# when something must be installed. Without root it says what is missing and
# goes on: the tests that need it then fail, each naming the package.
set -u
PKGS="busybox-static runc podman containerd procps util-linux iproute2 file libseccomp2 uidmap chromium"
# the AppArmor tests load a profile of their own: only where the kernel has AppArmor
[ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] && PKGS="$PKGS apparmor"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "test-deps: missing Debian packages:$missing (run make test as root to install them)" >&2
  exit 0
fi
echo "test-deps: installing$missing (apt-get, once)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null \
  || { echo "test-deps: apt-get install of$missing failed" >&2; exit 1; }

#!/usr/bin/env bash
# Build the test-bed host image (Debian bookworm with systemd, sshd, sudo,
# python3) with debootstrap and `docker import`: no registry is reachable.
# The image is tagged by a hash of its inputs, so a second run reuses it.
# Prints the image reference on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repository=automq-testbed-host
suite=bookworm

inputs_hash=$(cat "$0" "$here/image/packages.txt" "$here/image/customize.sh" | sha256sum | cut -c1-12)
image="$repository:$inputs_hash"

if docker image inspect "$image" >/dev/null 2>&1; then
  docker tag "$image" "$repository:current"
  echo "$image"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "build_host_image: installing debootstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

workdir=$(mktemp -d /var/tmp/automq-testbed-rootfs.XXXXXX)
trap 'rm -rf "$workdir"' EXIT
rootfs="$workdir/rootfs"
packages=$(grep -v -e '^#' -e '^$' "$here/image/packages.txt" | paste -sd, -)

echo "build_host_image: debootstrap $suite into $rootfs" >&2
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" >"$workdir/debootstrap.log" 2>&1 || {
  tail -n 30 "$workdir/debootstrap.log" >&2
  exit 1
}
install -m 0755 "$here/image/customize.sh" "$rootfs/tmp/customize.sh"
chroot "$rootfs" /tmp/customize.sh >&2
rm -f "$rootfs/tmp/customize.sh"

tar -C "$rootfs" --numeric-owner -c . | docker import \
  --change 'CMD ["/sbin/init"]' \
  --change "ENV container=docker" \
  - "$image" >/dev/null
docker tag "$image" "$repository:current"
echo "$image"

#!/usr/bin/env bash
# Builds the Debian base image every roadtest Dockerfile starts from.
#
# No registry can be reached from the plant and CI networks, so the base is made
# locally: debootstrap a minimal Debian into a folder and `docker import` it.
# The root filesystem tarball is cached outside the clone, keyed by suite, so a
# second run only imports it (or does nothing when the image already exists).
#
# Environment:
#   DOCKER                 docker client (default /usr/bin/docker)
#   ROADTEST_BASE_IMAGE    image name the Dockerfiles use (default roadtest/debian:bookworm)
#   ROADTEST_DEBIAN_SUITE  Debian suite (default bookworm: its python3 is 3.11)
#   ROADTEST_DEBIAN_MIRROR mirror (default http://deb.debian.org/debian)
#   ROADTEST_CACHE_DIR     where the tarball is kept (default /var/cache/roadtest)
set -euo pipefail

docker_cli=${DOCKER:-/usr/bin/docker}
image=${ROADTEST_BASE_IMAGE:-roadtest/debian:bookworm}
suite=${ROADTEST_DEBIAN_SUITE:-bookworm}
mirror=${ROADTEST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache_dir=${ROADTEST_CACHE_DIR:-/var/cache/roadtest}
tarball="$cache_dir/debian-$suite-minbase.tar"

if "$docker_cli" image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image already present"
  exit 0
fi

if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null 2>&1 || {
    echo "error: debootstrap is missing; install it with: apt-get install -y debootstrap" >&2
    exit 1
  }
  mkdir -p "$cache_dir"
  rootfs=$(mktemp -d "$cache_dir/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs" "$tarball.partial"' EXIT
  echo "debootstrap $suite (minbase) from $mirror"
  debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$cache_dir/debootstrap-$suite.log" 2>&1 || {
    echo "error: debootstrap failed, last lines of $cache_dir/debootstrap-$suite.log:" >&2
    tail -n 20 "$cache_dir/debootstrap-$suite.log" >&2
    exit 1
  }
  # Package lists and caches are stale the moment the image is made; images run apt-get update.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  tar --numeric-owner -C "$rootfs" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
fi

echo "importing $tarball as $image"
"$docker_cli" import --change 'CMD ["/bin/bash"]' "$tarball" "$image" >/dev/null

#!/usr/bin/env bash
# Builds every roadtest image from the locally made Debian base:
#   roadtest/{api,dashboard,worker,postgres,seaweedfs}:$ROADTEST_IMAGE_TAG
#
# Packages come from PyPI through the CA bundle (a BuildKit secret: networks that
# inspect TLS need it), pinned by requirements.lock, except the CPU torch wheel,
# which is copied from the local wheel folders ($PIP_FIND_LINKS) into the
# build/wheelhouse folder of the build context.
# Fully offline instead: fill build/wheelhouse with every wheel
#   (pip download -d build/wheelhouse -r requirements.lock setuptools)
# and run with ROADTEST_PIP_NO_INDEX=1.
#
# Environment: DOCKER (client, default /usr/bin/docker), ROADTEST_IMAGE_TAG (local),
# ROADTEST_BASE_IMAGE (roadtest/debian:bookworm), ROADTEST_CA_BUNDLE
# (default /etc/ssl/certs/ca-certificates.crt), ROADTEST_PIP_NO_INDEX (0),
# ROADTEST_WORKER_EXTRAS (train,orchestration,tracking-server: pyproject extras of the worker),
# ROADTEST_LOCK_FILE (requirements.lock; another pin file inside the build context).
set -euo pipefail
cd "$(dirname "$0")/.."

docker_cli=${DOCKER:-/usr/bin/docker}
tag=${ROADTEST_IMAGE_TAG:-local}
base=${ROADTEST_BASE_IMAGE:-roadtest/debian:bookworm}
ca_bundle=${ROADTEST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
wheelhouse=build/wheelhouse
export DOCKER_BUILDKIT=1

stage_torch_wheel() {
  mkdir -p "$wheelhouse"
  if compgen -G "$wheelhouse/torch-2.13.0+cpu-*.whl" >/dev/null; then
    return
  fi
  local folder
  for folder in ${PIP_FIND_LINKS:-/opt/wheels}; do
    for wheel in "$folder"/torch-2.13.0+cpu-cp311-*.whl; do
      if [ -f "$wheel" ]; then
        cp "$wheel" "$wheelhouse/"
        return
      fi
    done
  done
  echo "error: no CPU torch 2.13.0 wheel (torch-2.13.0+cpu-cp311-*.whl) in ${PIP_FIND_LINKS:-/opt/wheels};" \
    "put one in $wheelhouse (the worker image never installs a CUDA torch)" >&2
  exit 1
}

build() {
  local name=$1 dockerfile=$2 target=$3
  local started=$SECONDS
  local args=(build --network host -f "$dockerfile" --target "$target"
    --build-arg "BASE_IMAGE=$base" --build-arg "PIP_NO_INDEX=${ROADTEST_PIP_NO_INDEX:-0}"
    --build-arg "LOCK_FILE=${ROADTEST_LOCK_FILE:-requirements.lock}"
    -t "roadtest/$name:$tag")
  [ -s "$ca_bundle" ] && args+=(--secret "id=ca,src=$ca_bundle")
  [ "$name" = worker ] && args+=(
    --build-arg "WORKER_EXTRAS=${ROADTEST_WORKER_EXTRAS:-train,orchestration,tracking-server}")
  local log="build/docker-build-$name.log"
  if ! "$docker_cli" "${args[@]}" . >"$log" 2>&1; then
    echo "error: building roadtest/$name failed; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  echo "built roadtest/$name:$tag in $((SECONDS - started)) s"
}

stage_torch_wheel
build postgres docker/postgres.Dockerfile postgres
build seaweedfs docker/seaweedfs.Dockerfile seaweedfs
build worker docker/roadtest.Dockerfile worker
build api docker/roadtest.Dockerfile api
build dashboard docker/roadtest.Dockerfile dashboard

#!/usr/bin/env bash
# The CI container stage: install the Docker engine from Debian packages, start a
# dockerd of our own (no bridge, no iptables), build the base image and every
# image, check what each image carries (and that the API image stays near half the
# worker's size), validate compose.yaml, then run the smoke scenario against the stack.
# Fails loudly, never skips: a machine that cannot run dockerd fails this stage.
#
# The daemon's state (images, build cache) lives in $ROADTEST_DOCKER_ROOT
# (default /var/lib/roadtest-docker) so a second run reuses its caches; a daemon
# already answering on its socket is used as it is and left running.
set -euo pipefail
cd "$(dirname "$0")/.."

stage_started=$SECONDS
docker_root=${ROADTEST_DOCKER_ROOT:-/var/lib/roadtest-docker}
socket="$docker_root/docker.sock"
export DOCKER=/usr/bin/docker
export DOCKER_HOST="unix://$socket"
dockerd_pid=""

stop_dockerd() {
  if [ -n "$dockerd_pid" ]; then
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 60); do
      kill -0 "$dockerd_pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -KILL "$dockerd_pid" 2>/dev/null || true
    # dockerd leaves the host namespace bound here (host-network containers); release it.
    if mountpoint -q "$docker_root/exec/netns/default"; then
      umount "$docker_root/exec/netns/default" || true
    fi
  fi
}

start_dockerd() {
  if "$DOCKER" info >/dev/null 2>&1; then
    echo "using the Docker daemon already running at $socket"
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: the container stage starts its own dockerd and needs root (or a daemon" \
      "already listening at $socket)" >&2
    exit 1
  fi
  mkdir -p "$docker_root"
  rm -f "$socket"
  /usr/sbin/dockerd --host "$DOCKER_HOST" --pidfile "$docker_root/docker.pid" \
    --data-root "$docker_root/data" --exec-root "$docker_root/exec" \
    --bridge=none --iptables=false --ip6tables=false >"$docker_root/dockerd.log" 2>&1 &
  dockerd_pid=$!
  trap stop_dockerd EXIT
  for _ in $(seq 120); do
    "$DOCKER" info >/dev/null 2>&1 && { echo "started dockerd (pid $dockerd_pid)"; return; }
    if ! kill -0 "$dockerd_pid" 2>/dev/null; then
      break
    fi
    sleep 0.5
  done
  echo "error: dockerd could not start here (it needs root privileges, cgroups and overlay" \
    "or vfs storage); last lines of $docker_root/dockerd.log:" >&2
  tail -n 20 "$docker_root/dockerd.log" >&2
  exit 1
}

bash scripts/install_docker.sh
start_dockerd
step=$SECONDS
bash scripts/build_base_image.sh
echo "base image ready in $((SECONDS - step)) s"
step=$SECONDS
bash scripts/build_images.sh
echo "images built in $((SECONDS - step)) s"
"$DOCKER" image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' 'roadtest/*'
.venv/bin/python -m pytest -p no:cacheprovider -q -s -m "" \
  tests/containers/image_contents.py tests/containers/stack_smoke.py
echo "container stage passed in $((SECONDS - stage_started)) s"

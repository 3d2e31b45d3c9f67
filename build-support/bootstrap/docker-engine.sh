#!/usr/bin/env bash
# Makes sure a Docker engine answers. On Debian as root it installs Debian's docker.io and starts
# dockerd (log and pid file in the cache directory); elsewhere it says what to install.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"

engine_answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

engine_answers && exit 0
# One of this step at a time on the machine (a launcher's may run beside .ci/run's): the second
# finds the engine the first started. flock holds the lock, not this script, so that no process
# started here (dockerd, a package's maintainer script) inherits it.
if [ -z "${CM_ENGINE_LOCKED:-}" ]; then
  runtime_dir=$(cm_runtime_dir) || cm_die "$(cm_runtime_dir_fix)"
  CM_ENGINE_LOCKED=1 exec flock -o "$runtime_dir/docker-engine.lock" bash "$0" "$@"
fi
engine_answers && exit 0

# Why the engine did not answer, in one line (e.g. permission denied on the socket).
why=$( { command -v docker >/dev/null 2>&1 || echo "no docker CLI on PATH"; docker version --format '{{.Server.Version}}' 2>&1 >/dev/null; } \
  | grep -v "^$" | head -n 1 | sed "s/: Get \"[^\"]*\"//" | cut -c1-240 || true)

# An engine the user chose is never replaced by a local one: name it.
if [ -n "${DOCKER_HOST:-}" ]; then
  cm_die "DOCKER_HOST=$DOCKER_HOST does not answer (${why:-docker info failed}). Start that engine, fix DOCKER_HOST, or unset it to use a local engine."
fi
if ! command -v docker >/dev/null 2>&1 && ! cm_is_debian; then
  cm_die "no docker CLI on PATH and no Docker engine. Install Docker Engine (https://docs.docker.com/engine/install/) and start it."
fi
if ! cm_is_root || ! cm_is_debian; then
  cm_die "no Docker engine answers (${why:-docker info failed}), and one is installed here only on Debian as root. Install Docker Engine \
(https://docs.docker.com/engine/install/) and start it, or point DOCKER_HOST at a running engine."
fi

mkdir -p "$CM_CACHE_DIR/docker"
install_engine() {
  cm_apt_install docker.io iptables
}
if ! command -v dockerd >/dev/null 2>&1; then
  cm_step "install Debian's docker.io" \
    "could not install docker.io with apt-get. Check that Debian's package registry is reachable (apt-get update), or install Docker Engine yourself." \
    install_engine
fi

start_engine() {
  # setsid: the engine outlives this launcher; its pid file lets us (and only us) stop it later.
  setsid dockerd --pidfile "$CM_CACHE_DIR/docker/dockerd.pid" >>"$CM_CACHE_DIR/docker/dockerd.log" 2>&1 < /dev/null &
  for _ in $(seq 1 120); do
    engine_answers && return 0
    kill -0 $! 2>/dev/null || { tail -n 20 "$CM_CACHE_DIR/docker/dockerd.log"; return 1; }
    sleep 0.5  # polling the engine's readiness, not waiting blindly
  done
  return 1
}
cm_step "start dockerd" \
  "dockerd did not start; see $CM_CACHE_DIR/docker/dockerd.log. Start Docker yourself, or point DOCKER_HOST at a running engine." \
  start_engine

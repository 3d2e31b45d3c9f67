#!/usr/bin/env bash
# Starts (or stops) BuildGrid on 127.0.0.1:50051 as Pants' remote cache.
#   remote-cache.sh start   install BuildGrid (pinned) in the cache directory, start it, wait until it answers
#   remote-cache.sh stop    stop the BuildGrid this script started (by its pid file)
#   remote-cache.sh status  exit 0 when a remote cache answers on 127.0.0.1:50051
# BuildGrid's action cache lives in its memory (its CAS is on disk): the cache lasts as long as the
# server. In a fleet it is a long-lived service that every CI runner shares.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../bootstrap/common.sh
. "$here/../bootstrap/common.sh"

export BUILDGRID_DIR="$CM_CACHE_DIR/buildgrid"
venv="$BUILDGRID_DIR/venv"
pidfile="$BUILDGRID_DIR/bgd.pid"
log="$BUILDGRID_DIR/bgd.log"

answers() { (exec 3<>/dev/tcp/127.0.0.1/50051) 2>/dev/null; }

start() {
  mkdir -p "$BUILDGRID_DIR/cas"
  cm_isolate_pip
  install() {
    python3 -m venv "$venv" && "$venv/bin/pip" install --disable-pip-version-check -q -r "$here/requirements-buildgrid.txt"
  }
  if ! [ -x "$venv/bin/bgd" ]; then
    cm_step "install BuildGrid" "could not install BuildGrid from PyPI. Check that PyPI is reachable." install
  fi
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && answers; then return 0; fi
  answers && cm_die "something else already listens on 127.0.0.1:50051; stop it or free the port for the remote cache."
  run() {
    setsid "$venv/bin/bgd" server start "$here/buildgrid.yml" >>"$log" 2>&1 </dev/null &
    echo $! > "$pidfile"
    for _ in $(seq 1 120); do
      answers && return 0
      kill -0 "$(cat "$pidfile")" 2>/dev/null || { tail -n 20 "$log"; return 1; }
      sleep 0.5  # polling the port until BuildGrid answers
    done
    return 1
  }
  cm_step "start BuildGrid on 127.0.0.1:50051" "BuildGrid did not start; see $log." run
}

stop() {
  [ -f "$pidfile" ] || return 0
  local pid; pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) answers ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

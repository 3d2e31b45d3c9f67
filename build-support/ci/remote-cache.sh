#!/usr/bin/env bash
# Starts (or stops) BuildGrid on 127.0.0.1:$BUILDGRID_PORT (default 29051) as Pants' remote cache.
#   remote-cache.sh start   install BuildGrid (pinned) in the cache directory, make its credentials
#                           (once per storage), start its action-cache store (Redis on
#                           127.0.0.1:$BUILDGRID_REDIS_PORT, default 29052, password required) and
#                           the server, wait until both answer; a Redis without a password or a
#                           server with another configuration (one from before) is restarted
#   remote-cache.sh token   mint a credential for CI's writes (a JWT valid for a day), print the
#                           path of the file that holds it (for PANTS_REMOTE_OAUTH_BEARER_TOKEN_PATH)
#   remote-cache.sh stop    stop what this script started (by its pid files)
#   remote-cache.sh status  exit 0 when a remote cache answers on 127.0.0.1:$BUILDGRID_PORT
# The CAS is on disk and the action cache in Redis with an append-only file, both under
# $BUILDGRID_DIR (default: the cache directory's buildgrid/): the cache outlives a restart of the
# server. In a fleet it is a long-lived service that every CI runner shares.
#
# Only CI writes (buildgrid.yml): a write needs a JWT signed with $BUILDGRID_DIR/private/jwt-secret;
# reads need none. private/ (0700, files 0600) holds that secret, Redis' password and the tokens;
# $BUILDGRID_DIR is 0700 too, so no other user of the machine reaches the storage behind the server.
# BUILDGRID_VENV: a Python environment that has BuildGrid (bin/bgd) to run instead of installing one.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../bootstrap/common.sh
. "$here/../bootstrap/common.sh"

export BUILDGRID_DIR="${BUILDGRID_DIR:-$CM_CACHE_DIR/buildgrid}"
# Both below the kernel's range of ephemeral ports (32768-60999 by default): a port in it can be
# held, as the local end of any connection or by a process that asked for a free port (the process
# backend's roles, Docker's published ports), just when the cache starts, and its start would fail.
export BUILDGRID_PORT="${BUILDGRID_PORT:-29051}"
export BUILDGRID_REDIS_PORT="${BUILDGRID_REDIS_PORT:-29052}"
export BUILDGRID_ACL="$here/buildgrid-acl.yml"
# BuildGrid at the versions its test ran with: the pin, and every distribution at the version the
# `buildgrid` resolve's lockfile has. One venv per pin and lockfile: a change installs anew.
lock="$here/../../3rdparty/python/buildgrid.lock"
venv="${BUILDGRID_VENV:-$CM_CACHE_DIR/buildgrid-venv-$(cat "$here/requirements-buildgrid.txt" "$lock" | sha256sum | cut -c1-12)}"
private="$BUILDGRID_DIR/private"
pidfile="$BUILDGRID_DIR/bgd.pid"
log="$BUILDGRID_DIR/bgd.log"
redis_pidfile="$BUILDGRID_DIR/redis.pid"
redis_port="$BUILDGRID_REDIS_PORT"
# A token outlives no CI run by much: `token` mints a fresh one per run.
token_seconds=86400

answers() { (exec 3<>"/dev/tcp/127.0.0.1/${1:-$BUILDGRID_PORT}") 2>/dev/null; }

# Redis's server binary: Debian ships it in redis-tools as redis-check-rdb (redis picks its role by
# the name it is started as); the redis-server package would also start a system service.
redis_server() {
  if command -v redis-server >/dev/null 2>&1; then command -v redis-server; return; fi
  if ! command -v redis-check-rdb >/dev/null 2>&1; then
    cm_is_root && cm_is_debian \
      || cm_die "the remote cache's action cache needs redis-server on PATH; install Redis (7.x) and rerun."
    install_redis() {
      cm_apt_install redis-tools
    }
    cm_step "install Debian's redis-tools (the action cache's store)" \
      "could not install redis-tools with apt-get. Check that Debian's package registry is reachable, or put redis-server on PATH." \
      install_redis >&2
  fi
  mkdir -p "$CM_CACHE_DIR/bin"
  ln -sf "$(command -v redis-check-rdb)" "$CM_CACHE_DIR/bin/redis-server"
  echo "$CM_CACHE_DIR/bin/redis-server"
}

# credentials: the JWT secret and Redis' password, made once per storage (a restart keeps them, so
# tokens minted before stay valid); readable by this user only.
credentials() {
  (umask 077
   mkdir -p "$private"
   chmod 700 "$BUILDGRID_DIR" "$private"
   for secret in jwt-secret redis-password; do
     [ -s "$private/$secret" ] || od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$private/$secret"
   done)
}

# Whether the Redis on our port refuses a client without the password (one started before it
# needed one does not: it is restarted).
redis_demands_password() {
  local reply=""
  exec 4<>"/dev/tcp/127.0.0.1/$redis_port" || return 1
  printf 'PING\r\n' >&4
  read -r -t 10 reply <&4 || true
  exec 4>&-
  [[ "$reply" == -NOAUTH* ]]
}

start_redis() {
  if [ -f "$redis_pidfile" ] && kill -0 "$(cat "$redis_pidfile")" 2>/dev/null && answers "$redis_port"; then
    redis_demands_password && return 0
    stop_pid "$redis_pidfile"
  fi
  answers "$redis_port" && cm_die "something else already listens on 127.0.0.1:$redis_port; stop it or free the port for the remote cache's action cache (BUILDGRID_REDIS_PORT)."
  local server; server=$(redis_server)
  mkdir -p "$BUILDGRID_DIR/redis"
  # Loopback only, a password on every connection (in a 0600 file, never on a command line, which
  # every user can read); every write appended to disk, so a restart keeps the action cache.
  (umask 077
   printf '%s\n' "bind 127.0.0.1" "port $redis_port" "protected-mode yes" "dir $BUILDGRID_DIR/redis" \
     "appendonly yes" "appendfsync everysec" 'save ""' "requirepass $(cat "$private/redis-password")" \
     > "$private/redis.conf")
  serve "Redis (the action cache)" "$redis_port" "$redis_pidfile" "$BUILDGRID_DIR/redis.log" \
    "$server" "$private/redis.conf"
}

# token: a JWT for CI's writes (HS256, signed with the secret; BuildGrid checks the signature and
# the expiry). Plain python3: a runner mints it without BuildGrid installed.
token() {
  [ -s "$private/jwt-secret" ] \
    || cm_die "no remote cache credentials in $private: start the cache with this script (and the same BUILDGRID_DIR) first, or give CI its token in PANTS_REMOTE_OAUTH_BEARER_TOKEN_PATH."
  (umask 077
   python3 -c 'import base64, hashlib, hmac, json, sys, time
def b64(data): return base64.urlsafe_b64encode(data).rstrip(b"=")
secret = open(sys.argv[1], "rb").read().strip()
header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
claims = b64(json.dumps({"sub": "ci", "exp": int(time.time()) + int(sys.argv[2])}).encode())
signature = b64(hmac.new(secret, header + b"." + claims, hashlib.sha256).digest())
print((header + b"." + claims + b"." + signature).decode())' \
     "$private/jwt-secret" "$token_seconds" > "$private/ci-token.tmp.$$"
   mv "$private/ci-token.tmp.$$" "$private/ci-token")
  echo "$private/ci-token"
}

# serve WHAT PORT PIDFILE LOG command...: starts a daemon, detached (setsid; its pid file lets us,
# and only us, stop it), and waits until its port answers; fails with its log's tail if it exits.
serve() {
  # Names no caller uses: run_daemon runs inside cm_step, whose own locals (log, ...) would shadow these.
  local daemon_what="$1" daemon_port="$2" daemon_pidfile="$3" daemon_log="$4"
  shift 4
  run_daemon() {
    setsid "$@" >>"$daemon_log" 2>&1 </dev/null &
    echo $! > "$daemon_pidfile"
    for _ in $(seq 1 300); do
      answers "$daemon_port" && return 0
      kill -0 "$(cat "$daemon_pidfile")" 2>/dev/null || { tail -n 20 "$daemon_log"; return 1; }
      sleep 0.2  # polling the port until the daemon answers
    done
    return 1
  }
  cm_step "start $daemon_what on 127.0.0.1:$daemon_port" "$daemon_what did not start; see $daemon_log." run_daemon "$@"
}

stop_pid() {
  local file="$1" pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$file"
}

start() {
  mkdir -p "$BUILDGRID_DIR/cas"
  credentials
  install() {
    python3 -m venv "$venv"
    # The lockfile's versions as pip constraints (a Pants lockfile: JSON after `//` comment lines).
    python3 -c 'import json, sys
lock = json.loads("".join(line for line in open(sys.argv[1]) if not line.startswith("//")))
for r in lock["locked_resolves"][0]["locked_requirements"]:
    print(r["project_name"] + "==" + r["version"])' "$lock" > "$venv/constraints.txt"
    "$venv/bin/pip" install --disable-pip-version-check -q -r "$here/requirements-buildgrid.txt" -c "$venv/constraints.txt"
  }
  if [ -z "${BUILDGRID_VENV:-}" ] && ! [ -x "$venv/bin/bgd" ]; then
    cm_isolate_pip
    cm_step "install BuildGrid" "could not install BuildGrid from PyPI. Check that PyPI is reachable." install
  fi
  start_redis
  # The configuration with this run's ports (buildgrid.yml has the defaults). A server running
  # another configuration (e.g. one from before writes needed a credential) is restarted.
  sed -e "s/\"127.0.0.1:29051\"/\"127.0.0.1:$BUILDGRID_PORT\"/" -e "s/^    port: 29052$/    port: $redis_port/" \
    "$here/buildgrid.yml" > "$BUILDGRID_DIR/buildgrid.yml.new"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && answers; then
    cmp -s "$BUILDGRID_DIR/buildgrid.yml.new" "$BUILDGRID_DIR/buildgrid.yml" && { rm -f "$BUILDGRID_DIR/buildgrid.yml.new"; return 0; }
    stop_pid "$pidfile"
  fi
  mv "$BUILDGRID_DIR/buildgrid.yml.new" "$BUILDGRID_DIR/buildgrid.yml"
  answers && cm_die "something else already listens on 127.0.0.1:$BUILDGRID_PORT; stop it or free the port for the remote cache (BUILDGRID_PORT)."
  serve "BuildGrid" "$BUILDGRID_PORT" "$pidfile" "$log" "$venv/bin/bgd" server start "$BUILDGRID_DIR/buildgrid.yml"
}

stop() {
  stop_pid "$pidfile"
  # After the server: Redis flushes its append-only file on SIGTERM.
  stop_pid "$redis_pidfile"
}

case "${1:-}" in
  start) start ;;
  token) token ;;
  stop) stop ;;
  status) answers ;;
  *) echo "usage: $0 start|token|stop|status" >&2; exit 2 ;;
esac

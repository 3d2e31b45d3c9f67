# Shared by the launcher and the bootstrap steps: cache location, step timing, one-line errors.
# Sourced, never executed.

CM_CACHE_DIR="${COMPAT_MATRIX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/compat-matrix}"

cm_die() {
  # One clear message, naming the fix; no traceback.
  printf 'pants bootstrap: error: %s\n' "$*" >&2
  exit 1
}

cm_now() { date +%s%3N; }  # milliseconds; plain shell arithmetic, no bc

# cm_step WHAT FIX command...: runs one bootstrap step, prints one line with its duration, and on
# failure prints the tail of its log and dies with FIX. Call it as a plain statement, never from an
# `if`/`||`/`&&` condition: bash ignores errexit for everything run from a condition, and the
# step's commands rely on errexit to stop at the first failure.
cm_step() {
  local what="$1" fix="$2"; shift 2
  local log start rc=0
  log=$(cm_log_path "$what")
  start=$(cm_now)
  # Launched here, in a plain statement, so the step runs with errexit on.
  "$@" >"$log" 2>&1 &
  wait $! || rc=$?
  _cm_report "$what" "$start" "$rc"
  if [ "$rc" -ne 0 ]; then
    tail -n 15 "$log" >&2
    cm_die "$fix (log: $log)"
  fi
}

# cm_try WHAT command...: like cm_step for ONE command whose failure the caller handles (its exit
# status is returned). Not for functions of several commands: errexit does not apply inside.
cm_try() {
  local what="$1"; shift
  local log start rc=0
  log=$(cm_log_path "$what")
  start=$(cm_now)
  "$@" >"$log" 2>&1 || rc=$?
  _cm_report "$what" "$start" "$rc"
  return "$rc"
}

cm_log_path() {
  mkdir -p "$CM_CACHE_DIR/logs"
  echo "$CM_CACHE_DIR/logs/$(echo "$1" | tr -c 'a-zA-Z0-9.-' '_').log"
}

_cm_report() {
  local ms=$(( $(cm_now) - $2 ))
  printf 'bootstrap: %-52s %4d.%01ds%s\n' "$1" $((ms / 1000)) $(((ms % 1000) / 100)) \
    "$([ "$3" -eq 0 ] || echo "  FAILED")" >&2
}

cm_is_root() { [ "$(id -u)" -eq 0 ]; }
cm_is_debian() { [ -r /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; }

# The Debian mirror this machine's apt already uses (a registry we may reach), e.g. http://deb.debian.org/debian.
cm_debian_mirror() {
  local uri
  uri=$(grep -rhoE '^(URIs:|deb)( \[[^]]*\])? *https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
    | grep -oE 'https?://[^ ]+' | head -n 1)
  echo "${uri:-http://deb.debian.org/debian}"
}

# Shared by the launcher and the bootstrap steps: cache location, step timing, one-line errors.
# Sourced, never executed.

CM_CACHE_DIR="${COMPAT_MATRIX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/compat-matrix}"

cm_die() {
  # One clear message, naming the fix; no traceback.
  printf 'pants bootstrap: error: %s\n' "$*" >&2
  exit 1
}

cm_now() { date +%s%3N; }  # milliseconds; plain shell arithmetic, no bc

# cm_step "what" command...: runs a step, prints one line with its duration, dies with its log on failure.
cm_step() {
  local what="$1"; shift
  local start log rc
  start=$(cm_now)
  log="$CM_CACHE_DIR/logs/$(echo "$what" | tr -c 'a-zA-Z0-9.-' '_').log"
  mkdir -p "$CM_CACHE_DIR/logs"
  # In the background, not as an `if` condition: errexit stays on inside the step.
  "$@" >"$log" 2>&1 &
  if wait $!; then rc=0; else rc=$?; fi
  local ms=$(( $(cm_now) - start ))
  printf 'bootstrap: %-52s %4d.%01ds\n' "$what" $((ms / 1000)) $(((ms % 1000) / 100)) >&2
  if [ "$rc" -ne 0 ]; then
    tail -n 15 "$log" >&2
    return "$rc"
  fi
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

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

# cm_find_cpython X.Y [CHECK]: prints the real path of a CPython X.Y (python3.X on PATH, pyenv's
# versions, /usr/bin, /usr/local/bin, then any more paths given after CHECK) that runs CHECK, a
# Python statement (default: nothing more); returns 1 if there is none. A pyenv shim exists even
# when its version is not selected: each candidate is resolved to the interpreter it runs.
cm_find_cpython() {
  local version="$1" check="${2:-pass}" pyenv_root="${PYENV_ROOT:-}" p real candidates=()
  shift $(($# < 2 ? $# : 2))
  command -v "python$version" >/dev/null 2>&1 && candidates+=("$(command -v "python$version")")
  [ -z "$pyenv_root" ] && command -v pyenv >/dev/null 2>&1 && pyenv_root=$(pyenv root 2>/dev/null || true)
  [ -z "$pyenv_root" ] && [ -d "$HOME/.pyenv" ] && pyenv_root="$HOME/.pyenv"
  if [ -n "$pyenv_root" ]; then
    for p in "$pyenv_root"/versions/"$version"*/bin/python"$version"; do [ -x "$p" ] && candidates+=("$p"); done
  fi
  for p in "/usr/bin/python$version" "/usr/local/bin/python$version" "$@"; do [ -x "$p" ] && candidates+=("$p"); done
  for p in "${candidates[@]+"${candidates[@]}"}"; do
    real=$("$p" -c 'import sys; print(sys.executable)' 2>/dev/null || true)
    if [ -n "$real" ] && "$real" -c "import platform, sys
assert platform.python_implementation() == 'CPython' and '%d.%d' % sys.version_info[:2] == '$version'
$check" >/dev/null 2>&1; then
      echo "$real"
      return 0
    fi
  done
  return 1
}
# cm_apt_install PACKAGE...: installs Debian packages (their index refreshed when one is not
# known). The launcher's steps may run side by side (the engine beside CPython 3.9's patchelf, the
# base image's debootstrap beside Chromium): they take turns on one lock rather than fail on dpkg's.
cm_apt_install() {
  local apt dir
  dir=$(cm_runtime_dir) || cm_die "$(cm_runtime_dir_fix)"
  # flock -o: a service a package's maintainer script starts does not inherit the lock.
  apt=(flock -o "$dir/apt.lock" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)
  "${apt[@]}" install -y --no-install-recommends "$@" \
    || { "${apt[@]}" update && "${apt[@]}" install -y --no-install-recommends "$@"; }
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

# cm_isolate_pip: every pip and pex run of the project loads no pip configuration and gets back
# only what reaches the index (CA bundle, proxy, ...): see pip_isolation.py. The machine's own PIP_*
# variables are dropped. The result is kept per ambient pip setup (PIP_* and related variables,
# pip's config files), and its one-line note is printed when it is first worked out. A child of a
# process that already isolated pip (the launcher) reads the same result again (CM_PIP_ISOLATED
# names its file): a caller in between may have dropped some of it, e.g. the PANTS_* variables.
cm_isolate_pip() {
  if [ -n "${CM_PIP_ISOLATED:-}" ] && [ -f "$CM_PIP_ISOLATED" ]; then
    # shellcheck disable=SC1090
    . "$CM_PIP_ISOLATED"
    return 0
  fi
  local here key file f dirs
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  key=$( {
    env | grep -E '^(PIP_[A-Z_]*|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|https?_proxy|VIRTUAL_ENV)=' | sort
    command -v python3 || true
    local files=() dir
    IFS=: read -ra dirs <<< "${XDG_CONFIG_DIRS:-/etc/xdg}"
    for dir in "${dirs[@]}"; do files+=("$dir/pip/pip.conf"); done
    for f in ${PIP_CONFIG_FILE:-} "${files[@]}" /etc/pip.conf "$HOME/.pip/pip.conf" \
             "${XDG_CONFIG_HOME:-$HOME/.config}/pip/pip.conf" "${VIRTUAL_ENV:-/nonexistent}/pip.conf"; do
      [ -f "$f" ] && [ -r "$f" ] && printf '%s\n' "$f" && cat "$f"
    done
    true
  } | sha256sum | cut -c1-16)
  file="$CM_CACHE_DIR/pip-isolation/$key.env"
  if ! [ -f "$file" ]; then
    mkdir -p "$CM_CACHE_DIR/pip-isolation"
    if command -v python3 >/dev/null 2>&1; then
      python3 "$here/pip_isolation.py" > "$file.tmp.$$"
    else
      printf '%s\n' "export PIP_CONFIG_FILE=/dev/null" \
        "CM_PIP_ISOLATION_NOTE='pip isolation: no python3 to read the machine'\"'\"'s pip settings with; pip and pex load no pip configuration'" \
        > "$file.tmp.$$"
    fi
    mv "$file.tmp.$$" "$file"
    # shellcheck disable=SC1090
    (. "$file"; printf '%s\n' "$CM_PIP_ISOLATION_NOTE" >&2)
  fi
  local name
  for name in $(compgen -e); do
    case "$name" in PIP_*) unset "$name" ;; esac
  done
  # shellcheck disable=SC1090
  . "$file"
  export CM_PIP_ISOLATED="$file"
}

# cm_pex_index_options: sets CM_PEX_INDEX_OPTIONS to the options that give a pex run started here
# what reaches the index (pex runs pip --isolated, so the PIP_* variables above do not reach it).
cm_pex_index_options() {
  CM_PEX_INDEX_OPTIONS=(${PIP_CERT:+--cert "$PIP_CERT"} ${PIP_PROXY:+--proxy "$PIP_PROXY"})
}

# cm_base_image_lock IMAGE: the lock file a build of the base image IMAGE holds while it runs, its
# directory made. The harness computes the same path to wait on it
# (compat_matrix.backends.docker_engine.base_image_lock): one per user, beside the sessions.
cm_base_image_lock() {
  local top
  top=$(cm_runtime_dir) && mkdir -p "$top/base-images" \
    && echo "$top/base-images/$(printf '%s' "$1" | tr -c 'a-zA-Z0-9.-' '_').lock"
}

# cm_runtime_dir: this user's directory of the machine's shared run-time state (the stable Pants
# path, sessions, locks), made private when new; fails when it is not a directory of this user's
# own (another user could have made it first). CM_LOCK_ROOT: another parent than /tmp (the
# launcher's tests).
cm_runtime_dir() {
  local top="${CM_LOCK_ROOT:-/tmp}/compat-matrix-$(id -u)"
  { mkdir -m 700 "$top" 2>/dev/null || [ -d "$top" ]; } && [ -O "$top" ] && [ ! -L "$top" ] || return 1
  echo "$top"
}
# What to do when cm_runtime_dir fails (for cm_die).
cm_runtime_dir_fix() {
  echo "cannot use ${CM_LOCK_ROOT:-/tmp}/compat-matrix-$(id -u), this user's run-time directory: it cannot be made, is a link, or another user owns it. Remove it (it holds only links, locks and session records) and make sure ${CM_LOCK_ROOT:-/tmp} is writable."
}

# cm_sandbox_root NAME: a new directory for a run's Pants sandboxes (PANTS_LOCAL_EXECUTION_ROOT_DIR),
# which the caller removes when the run ends: a Pants run without the daemon leaves an empty scratch
# directory where its sandboxes are, a stopped daemon its sandboxes. Searchable by others, as Pants'
# own in /tmp: the docker backend mounts a branch's sources from a sandbox only when the
# container's user can reach them. Prints its path.
cm_sandbox_root() {
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") && chmod 755 "$dir" && echo "$dir"
}

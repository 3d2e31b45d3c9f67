# Sourced by the launcher. cm_bootstrap_pants: CPython 3.9, a venv with Pants and the pex CLI Pants
# runs, made once under the cache directory and then found through an env file (the fast path).
# Reads root, pants_version and pex_version; sets state_dir, CM_PANTS_BIN and CM_PEX_FILE, and
# exports what points Pants at the pex CLI and at the CPythons (3.9 and the code's). Safe when two
# launches race (a lock).

cm_bootstrap_pants() {
  # The pex CLI is pex plus a small entry point (better download errors); a change to either, or to
  # how it is built, makes a new one, and a new env file.
  pex_entry="$root/build-support/bootstrap/pex_cli/compat_pex.py"
  # --no-strip-pex-env, as pex's own released PEX is built: without it this PEX drops the PEX_ROOT
  # Pants gives it, and every PEX build then installs wheels into ~/.pex. Running PEXes share those
  # wheel directories and write .pyc files into them, and later builds zip those in: PEX bytes (hence
  # every cache key above them, docker cells' included) then depended on what ran on the machine before.
  pex_build_flags=(--no-strip-pex-env -e compat_pex:main)
  # It is built by the same pex version it holds: a PEX's bootstrap is its builder's pex, and two pex
  # versions identifying one interpreter at the same time in one PEX_ROOT write INTERP-INFO files the
  # other cannot read ("Invalid interpreter identity"). And it is built in an empty PEX_ROOT of its
  # own: pex zips the wheel directories it installed there, and in a PEX_ROOT where pex already
  # ran they hold .pyc files. Its bytes, which are in the key of every PEX build, are then the same
  # on every machine, so a runner that builds its own pex CLI still hits main's remote cache entries.
  pex_id="$pex_version-$( (cat "$pex_entry"; echo "${pex_build_flags[*]} built by pex $pex_version in an empty PEX_ROOT") | sha256sum | cut -c1-12)"
  state_dir="$CM_CACHE_DIR/pants-$pants_version"
  env_file="$state_dir/launcher-pex-$pex_id.env"
  if ! _cm_bootstrapped; then
    mkdir -p "$CM_CACHE_DIR"
    exec 9>"$CM_CACHE_DIR/.bootstrap.lock"
    flock 9
    # Another launch may have finished it while we waited. (An `if` body, not a condition: the
    # bootstrap relies on errexit.)
    if ! _cm_bootstrapped; then _cm_bootstrap_venv; fi
    flock -u 9
    _cm_bootstrapped || cm_die "the bootstrap finished but $env_file names a missing Pants or pex CLI; remove $state_dir and rerun."
  fi
}

_cm_bootstrap_venv() {
  local dir="$state_dir" py venv pex_file
  mkdir -p "$dir"
  py=$("$root/build-support/bootstrap/python39.sh")
  # The CPython the repo's code runs on ([python] interpreter_constraints), for Pants' interpreter
  # search: that directory and 3.9's, not every Python on PATH and in pyenv. pex identifies each
  # interpreter it may use on its first run with an empty cache, and a machine may have many.
  local code_version code_py
  code_version=$(sed -n 's/^interpreter_constraints *= *\["CPython==\([0-9]*\.[0-9]*\)\.\*"\].*/\1/p' "$root/pants.toml" | head -n 1)
  [ -n "$code_version" ] || cm_die "pants.toml has no interpreter_constraints = [\"CPython==X.Y.*\"] line under [python]."
  code_py=$(cm_find_cpython "$code_version") \
    || cm_die "no CPython $code_version found (pants.toml's [python] interpreter_constraints). Install one (pyenv install $code_version, or your OS's python$code_version) and rerun."
  venv="$dir/venv"
  cm_pex_index_options
  make_venv() {
    rm -rf "$venv"
    if "$py" -c 'import ensurepip' 2>/dev/null; then
      # ensurepip runs pip from its wheel, whose certifi copies its CA bundle to a temporary file
      # it never removes: that file goes with a temporary directory of the bootstrap's.
      local venv_tmp
      venv_tmp=$(mktemp -d)
      TMPDIR="$venv_tmp" "$py" -m venv "$venv" || { rm -rf "$venv_tmp"; return 1; }
      rm -rf "$venv_tmp"
      "$venv/bin/pip" install --disable-pip-version-check -q "pantsbuild.pants==$pants_version"
    else
      # A relocatable Debian python3.9 has no ensurepip: uv (from PyPI) makes the venv instead.
      python3 -m pip install --disable-pip-version-check -q --target "$CM_CACHE_DIR/uv" uv
      "$CM_CACHE_DIR/uv/bin/uv" venv -p "$py" "$venv"
      SSL_CERT_FILE="${PIP_CERT:-${SSL_CERT_FILE:-}}" \
        "$CM_CACHE_DIR/uv/bin/uv" pip install -p "$venv/bin/python" "pantsbuild.pants==$pants_version" pex=="$pex_version"
    fi
  }
  if ! [ -x "$venv/bin/pants" ]; then
    cm_step "install pantsbuild.pants==$pants_version" \
      "could not install pantsbuild.pants==$pants_version from the package index. Check that PyPI (or PIP_INDEX_URL) is reachable, then rerun ./pants." \
      make_venv
  fi
  pex_file="$dir/pex-$pex_id"
  build_pex() {
    if [ "$("$venv/bin/pex" --version 2>/dev/null)" != "$pex_version" ]; then
      if [ -x "$venv/bin/pip" ]; then
        "$venv/bin/pip" install --disable-pip-version-check -q "pex==$pex_version"
      else  # a venv uv made has no pip
        SSL_CERT_FILE="${PIP_CERT:-${SSL_CERT_FILE:-}}" "$CM_CACHE_DIR/uv/bin/uv" pip install -p "$venv/bin/python" "pex==$pex_version"
      fi
    fi
    local pex_root="$dir/pex-root.$$" rc=0
    rm -rf "$pex_root"
    PEX_ROOT="$pex_root" "$venv/bin/pex" "pex==$pex_version" "${CM_PEX_INDEX_OPTIONS[@]+"${CM_PEX_INDEX_OPTIONS[@]}"}" \
      -D "$(dirname "$pex_entry")" "${pex_build_flags[@]}" -o "$pex_file.tmp" || rc=$?
    rm -rf "$pex_root"
    [ "$rc" -eq 0 ] && mv "$pex_file.tmp" "$pex_file"
  }
  if ! [ -f "$pex_file" ]; then
    cm_step "build the pex CLI $pex_version from PyPI" \
      "could not build the pex CLI from PyPI. Check that PyPI (or PIP_INDEX_URL) is reachable, then rerun ./pants." \
      build_pex
  fi
  local sha size
  sha=$(sha256sum "$pex_file" | cut -d' ' -f1)
  size=$(stat -c %s "$pex_file")
  # Options by env var: pants.toml stays free of machine paths.
  cat > "$env_file.tmp" <<ENV
CM_PANTS_BIN='$venv/bin/pants'
CM_PEX_FILE='$pex_file'
export PANTS_PEX_CLI_VERSION='v$pex_version'
export PANTS_PEX_CLI_KNOWN_VERSIONS="['v$pex_version|linux_x86_64|$sha|$size']"
export PANTS_PEX_CLI_URL_TEMPLATE='file://$pex_file'
export COMPAT_MATRIX_PYTHON39_DIR='$(dirname "$py")'
export COMPAT_MATRIX_PYTHON_DIR='$(dirname "$code_py")'
ENV
  mv "$env_file.tmp" "$env_file"
}

# The fast path: the env file, when what it names is still there.
_cm_bootstrapped() {
  [ -f "$env_file" ] || return 1
  # shellcheck disable=SC1090
  . "$env_file"
  [ -x "${CM_PANTS_BIN:-}" ] && [ -f "${CM_PEX_FILE:-}" ] && [ -d "${COMPAT_MATRIX_PYTHON39_DIR:-}" ] \
    && [ -d "${COMPAT_MATRIX_PYTHON_DIR:-}" ]
}

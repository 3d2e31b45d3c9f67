#!/usr/bin/env bash
# Prints the path of a CPython 3.9 (Pants 2.17.1 is cp39-only), making one if there is none:
# python3.9 on PATH, then pyenv's versions, then a relocatable one from Debian 11 packages.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"

works() { [ -n "$1" ] && "$1" -c 'import sys, ssl, ctypes, venv; assert sys.version_info[:2] == (3, 9)' >/dev/null 2>&1; }

cm_find_cpython 3.9 "import ssl, ctypes, venv" "$CM_CACHE_DIR/python3.9/usr/bin/python3.9" && exit 0

cm_is_root && cm_is_debian \
  || cm_die "no CPython 3.9 found (Pants 2.17.1 needs it). Install one (pyenv install 3.9, brew install python@3.9, or your OS's python3.9) and rerun."

prefix="$CM_CACHE_DIR/python3.9"
make_relocatable() {
  local work="$CM_CACHE_DIR/python3.9.build"
  rm -rf "$work" "$prefix" && mkdir -p "$work/lists/partial" "$work/debs" "$work/sources.d" "$prefix"
  command -v patchelf >/dev/null 2>&1 || cm_apt_install patchelf
  # Debian 11 from the same registry this machine's apt uses, in a private apt state.
  echo "deb [trusted=yes] $(cm_debian_mirror) bullseye main" > "$work/sources.d/bullseye.list"
  local opts=(-o "Dir::Etc::sourcelist=/dev/null" -o "Dir::Etc::sourceparts=$work/sources.d"
              -o "Dir::State::Lists=$work/lists" -o "Dir::State::status=/dev/null" -o "Dir::Cache::archives=$work/debs")
  apt-get "${opts[@]}" update
  (cd "$work/debs" && apt-get "${opts[@]}" download python3.9-minimal libpython3.9-minimal libpython3.9-stdlib \
    python3.9 python3-distutils python3-lib2to3 libssl1.1 libffi7 libmpdec3)
  for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$prefix"; done
  local dyn="$prefix/usr/lib/python3.9/lib-dynload"
  for so in "$dyn"/_ssl.*.so "$dyn"/_hashlib.*.so "$dyn"/_ctypes.*.so "$dyn"/_decimal.*.so; do
    patchelf --set-rpath '$ORIGIN/../../x86_64-linux-gnu' "$so"
  done
  rm -rf "$work"
}
cm_step "make a relocatable CPython 3.9 (Debian 11)" \
  "could not make CPython 3.9 from Debian 11 packages. Check that Debian's package registry is reachable, or install python3.9 yourself." \
  make_relocatable
works "$prefix/usr/bin/python3.9" || cm_die "the CPython 3.9 made in $prefix does not run; remove that directory and rerun, or install python3.9 yourself."
echo "$prefix/usr/bin/python3.9"

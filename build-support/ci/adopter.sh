#!/usr/bin/env bash
# compat-matrix as another repo uses it: builds the three wheels, copies examples/adopter to a
# temporary directory with the wheels beside it, generates its lockfiles there (they hold the
# wheels' hashes, which change with every change of the framework, so none is committed), and runs
# its suite on both backends through its own launcher, from empty Pants caches: its own
# XDG_CACHE_HOME (Pants' store and named caches) and PEX_ROOT, under the temporary directory, which
# goes when this ends. Pants runs without a daemon: nothing is left running. Only the adopter's
# Pants installation (its launcher's venv and pex CLI, which no change here touches) is kept, in
# this repo's launcher cache directory, which a CI system persists (docs/ci.md).
# Docker: the engine and the base image this machine has (.ci/run prepared them); no registry is
# reachable, so the base image is this repo's build.
#
#   adopter.sh [wheels|run]   wheels: only build the wheels (into dist/, with this repo's Pants);
#                             run: only the rest, with the wheels dist/ has; default: both.
#   .ci/run runs both beside its own lint and tests.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
what="${1:-all}"
case "$what" in wheels|run|all) ;; *) echo "adopter.sh: unknown '$what': give wheels, run or nothing" >&2; exit 2 ;; esac

if [ "$what" != run ]; then
  wheels=(src/core/compat_core:dist pants-plugins/compat_plugin:dist src/python:compat-matrix)
  rm -f dist/compat_matrix-*.whl dist/compat_matrix_core-*.whl dist/compat_matrix_pants_plugin-*.whl
  # Wheels need no Docker engine: the launcher does not wait for it (or the base image) first.
  COMPAT_MATRIX_NO_DOCKER=1 ./pants package "${wheels[@]}"
fi
[ "$what" != wheels ] || exit 0
for wheel in compat_matrix compat_matrix_core compat_matrix_pants_plugin; do
  compgen -G "dist/$wheel-*.whl" >/dev/null \
    || { echo "adopter.sh: no dist/$wheel-*.whl: build the wheels first (adopter.sh wheels)" >&2; exit 1; }
done

# shellcheck source=../bootstrap/common.sh
. "$root/build-support/bootstrap/common.sh"
# A passing run is noted under a digest of all it tested that this repo decides: the wheels' bytes
# (a wheel built from unchanged sources is a cache hit, the same file), the fixture, this script and
# the base image's recipe. The same digest again (a change that touches none of them, as a pull
# request's CI after main's, with the launcher cache directory restored) is not run again, as Pants
# reruns no unchanged test. COMPAT_MATRIX_ADOPTER_FORCE=1 runs it anyway.
key=$( { sha256sum dist/compat_matrix-*.whl dist/compat_matrix_core-*.whl dist/compat_matrix_pants_plugin-*.whl | cut -d' ' -f1
         find examples/adopter -type f -print0 | sort -z | xargs -0 sha256sum
         sha256sum build-support/ci/adopter.sh build-support/bootstrap/base-image.sh | cut -d' ' -f1
       } | sha256sum | cut -c1-16)
passed="$CM_CACHE_DIR/adopter-passed/$key"
if [ -f "$passed" ] && [ -z "${COMPAT_MATRIX_ADOPTER_FORCE:-}" ]; then
  echo "adopter: the wheels, the fixture and this script are those of a passing run ($(cat "$passed")): not run again (digest $key; COMPAT_MATRIX_ADOPTER_FORCE=1 runs it)"
  exit 0
fi

tmp="" sandboxes=""
trap 'rm -rf ${tmp:+"$tmp"} ${sandboxes:+"$sandboxes"}' EXIT
tmp=$(mktemp -d "${TMPDIR:-/tmp}/compat-matrix-adopter.XXXXXX")
cp -R examples/adopter "$tmp/repo"
mkdir "$tmp/repo/compat-matrix-wheels"
cp dist/compat_matrix-*.whl dist/compat_matrix_core-*.whl dist/compat_matrix_pants_plugin-*.whl "$tmp/repo/compat-matrix-wheels/"

# Only what the adopter's own configuration says: none of this repo's Pants settings (CI's config
# files, its remote cache credential, its launcher's variables).
export ADOPTER_PANTS_CACHE="$CM_CACHE_DIR/adopter-pants"
while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(PANTS_|COMPAT_MATRIX_|_PANTS_)')
export XDG_CACHE_HOME="$tmp/cache" PEX_ROOT="$tmp/cache/pex-root" PANTS_PANTSD=false
# Its sandboxes in a directory that goes at the end too (cm_sandbox_root).
sandboxes=$(cm_sandbox_root compat-matrix-adopter-sandboxes)
export PANTS_LOCAL_EXECUTION_ROOT_DIR="$sandboxes"
export PANTS_COMPAT_MATRIX_BASE_IMAGE="compat-matrix/base:bookworm"

cd "$tmp/repo"
./pants generate-lockfiles
./pants test tests/counting::
# The plugin's own report and verdict, and its guard, with no compat-matrix launcher around Pants.
./pants compat-report tests/counting::
if ./pants --tag=store-earlist test tests/counting:: > "$tmp/guard.log" 2>&1; then
  echo "adopter: --tag=store-earlist selected no test and still passed" >&2; exit 1
fi
grep -q "Did you mean store-earliest" "$tmp/guard.log" \
  || { cat "$tmp/guard.log" >&2; echo "adopter: the guard did not name store-earliest" >&2; exit 1; }
mkdir -p "${passed%/*}"
echo "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "a checkout") at $(date -u +%FT%TZ)" > "$passed"

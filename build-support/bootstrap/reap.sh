#!/usr/bin/env bash
# Removes what killed test sessions left behind (processes, containers, networks), before a run.
# The harness's own reaper does this at the start of every pytest session, but a run whose cells
# are all cache hits starts none; so the launcher runs it too. It uses the harness source with its
# dependencies from the python-default lockfile (a PEX built once per lockfile version).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=common.sh
. "$here/common.sh"
cm_isolate_pip
cm_pex_index_options

python=""
for candidate in python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
    python=$(command -v "$candidate"); break
  fi
done
[ -n "$python" ] || { echo "reap: skipped (no CPython 3.11 on PATH; run compat-matrix reap yourself)" >&2; exit 0; }

lock="$root/3rdparty/python/python-default.lock"
deps="$CM_CACHE_DIR/harness-deps-$(sha256sum "$lock" | cut -c1-12).pex"
# Chained with &&: it runs as a cm_try step, where errexit does not apply.
build() {
  grep -v '^//' "$lock" > "$deps.lock" `# Pants' lockfile header is comments; pex reads the JSON` \
    && "$python" "${PANTS_PEX_CLI_URL_TEMPLATE#file://}" --lock "$deps.lock" \
      --path-mapping "RELEASE_WHEELS|$root/3rdparty/python/releases/wheels" \
      docker psutil packaging httpx grpcio grpcio-health-checking protobuf \
      "${CM_PEX_INDEX_OPTIONS[@]+"${CM_PEX_INDEX_OPTIONS[@]}"}" \
      --python "$python" --venv -o "$deps.tmp" \
    && mv "$deps.tmp" "$deps" && rm -f "$deps.lock"
}
if ! [ -f "$deps" ] && ! cm_try "build the harness reaper's dependencies" build; then
  echo "reap: skipped (could not build its dependencies; see $CM_CACHE_DIR/logs)" >&2
  exit 0
fi
# Quiet unless something was removed; never blocks the run.
PEX_EXTRA_SYS_PATH="$root/src/python:$root/src/core" "$deps" -m compat_matrix reap 2>&1 \
  | grep -v '^reaped 0 dead session(s), removed 0 resource(s)$' >&2 || true

#!/usr/bin/env bash
# Simulates CI runners that share one remote cache, on this machine, and prints the durations and
# cache hits it sees (all runners test the commit that was HEAD when it started).
#
#   build-support/ci/simulate-runners.sh [WORKDIR]        the matrix scenario:
#   1. one runner, the whole matrix (`.ci/run`), against an empty remote cache: the baseline;
#   2. two runners at once, shards 0/2 and 1/2, against another empty remote cache: wall time,
#      and that together they ran every test target exactly once;
#   3. BuildGrid restarted (same storage), a new runner with empty local caches: remote hits.
#   It runs the matrix several times over: expect it to take a good part of an hour.
#
#   build-support/ci/simulate-runners.sh --pr [WORKDIR]   a pull request's CI:
#   1. main's CI (`.ci/run` on HEAD) fills an empty remote cache;
#   2. a runner with empty Pants caches (XDG_CACHE_HOME, PEX_ROOT, PIP_CACHE_DIR, home of its own),
#      its clone where main's was (as a CI system clones), runs `.ci/run` on a commit that changes
#      one line of conveyor's server. It
#      gets main's launcher cache directory, as a CI system restores it (docs/ci.md), at the same
#      path. Prints its wall time by phase, its remote lookups, hits and misses per Pants run, the
#      test targets that ran and the PEX builds it did itself.
#   build-support/ci/simulate-runners.sh --pr-again WORKDIR   step 2 alone, on another one-line
#      change, against the remote cache an earlier `--pr` run in WORKDIR filled (its storage),
#      for main's commit of that run.
#
# Each runner is its own clone of HEAD with its own local caches (XDG_CACHE_HOME). They share this
# machine's Docker engine (and so its base image and role images): other checkouts run cells on
# it, and a second engine on one host would share its firewall chains. A docker cell's cache key
# is what went into its images, not the engine's state, so a fresh engine changes no hit.
# BUILDGRID_PORT / BUILDGRID_REDIS_PORT choose the cache's ports (default 29051 / 29052).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../bootstrap/common.sh
. "$here/../bootstrap/common.sh"
pr=false again=false
case "${1:-}" in
  --pr) pr=true; shift ;;
  --pr-again) pr=true; again=true; shift
    [ -d "${1:-}/buildgrid-pr" ] && [ -d "$1/main/repo" ] \
      || cm_die "--pr-again needs the WORKDIR of an earlier --pr run (with buildgrid-pr/ and main/repo/); got '${1:-}'." ;;
esac
work="${1:-$(mktemp -d -t compat-matrix-runners.XXXXXX)}"
mkdir -p "$work"
work=$(cd "$work" && pwd)
machine_cache="$CM_CACHE_DIR"  # BuildGrid's venv: the cache is a service, not part of a runner
if $pr; then
  # The launcher's cache directory, as a CI system persists it between runs (one path for all).
  export COMPAT_MATRIX_CACHE_DIR="$work/launcher-cache"
else
  export COMPAT_MATRIX_CACHE_DIR="$CM_CACHE_DIR"  # shared bootstrap; Pants' caches stay per runner
fi
rev=$(git -C "$repo" rev-parse HEAD)  # every runner tests this commit, whatever lands meanwhile
if $again; then rev=$(git -C "$work/main/repo" rev-parse HEAD); fi
export BUILDGRID_PORT="${BUILDGRID_PORT:-29051}"
export PANTS_REMOTE_STORE_ADDRESS="grpc://127.0.0.1:$BUILDGRID_PORT"

(exec 3<>"/dev/tcp/127.0.0.1/$BUILDGRID_PORT") 2>/dev/null \
  && cm_die "a remote cache already answers on 127.0.0.1:$BUILDGRID_PORT; stop it first, or choose another BUILDGRID_PORT (this script needs an empty one of its own)."

cache() { COMPAT_MATRIX_CACHE_DIR="$machine_cache" BUILDGRID_DIR="$work/buildgrid-$1" "$here/remote-cache.sh" "$2" >&2; }
# CI's credential for that cache's writes (the path of a file that holds it).
token() { BUILDGRID_DIR="$work/buildgrid-$1" "$here/remote-cache.sh" token; }
trap 'for d in "$work"/buildgrid-*; do [ -d "$d" ] && BUILDGRID_DIR="$d" "$here/remote-cache.sh" stop; done' EXIT

# runner NAME CACHE [SHARD [COMMIT SOURCE]]: a clone of COMMIT (default: HEAD when this started)
# from the repository SOURCE (default: this one) with empty local caches runs .ci/run against the remote cache CACHE, with CI's credential for it;
# records its wall time.
runner() {
  local name="$1" shard="${3:-}" commit="${4:-$rev}" source="${5:-$repo}" dir="$work/$1" start token_path checkout
  token_path=$(token "$2")
  # The pull request's runners, one after the other, clone where main's did, as a CI system clones
  # a repository at the same path on every run (Pants 2.17's mypy keys on it); the shards, side by
  # side, each where its own directory is. It ends up in $dir/repo either way.
  checkout="$dir/repo"
  if $pr; then checkout="$work/checkout"; fi
  rm -rf "$dir" "$checkout"
  mkdir -p "$dir"
  git clone -q "$source" "$checkout"
  git -C "$checkout" checkout -q "$commit"
  start=$(date +%s)
  local rc=0
  # A home of its own too: pex keeps pip's and its download caches in ~/.pex, even in Pants' sandboxes.
  mkdir -p "$dir/home"
  (cd "$checkout" && HOME="$dir/home" XDG_CACHE_HOME="$dir/cache" PEX_ROOT="$dir/pex_root" PIP_CACHE_DIR="$dir/pip" \
     COMPAT_MATRIX_SHARD="$shard" CI=true PANTS_REMOTE_OAUTH_BEARER_TOKEN_PATH="$token_path" \
     bash .ci/run >"$dir/ci.log" 2>&1) || rc=$?
  echo $(( $(date +%s) - start )) > "$dir/seconds"
  if [ "$checkout" != "$dir/repo" ]; then mv "$checkout" "$dir/repo"; fi
  [ "$rc" -eq 0 ] || { echo "runner $name FAILED; see $dir/ci.log" >&2; tail -n 30 "$dir/ci.log" >&2; return 1; }
}
# The test targets a runner ran: Pants' summary lines of its test phase (an address has `:` or
# `#`; ruff's and mypy's lines have neither).
targets_run() { grep -oE '^(✓|✕) \S+[:#]\S+ (succeeded|failed)' "$work/$1/ci.log" | cut -d' ' -f2 | sort; }

if $pr; then
  # shellcheck source=pr-scenario.sh
  . "$here/pr-scenario.sh"
  exit 0
fi

echo "== 1 runner, whole matrix, empty remote cache"
cache solo start
runner solo solo
cache solo stop
echo "== 2 runners at once (shards 0/2 and 1/2), empty remote cache"
cache shared start
runner shard0 shared 0/2 & p0=$!
runner shard1 shared 1/2 & p1=$!
shards_ok=true
wait "$p0" || shards_ok=false
wait "$p1" || shards_ok=false
$shards_ok || cm_die "a shard runner failed; see $work/shard*/ci.log"
two_wall=$(( $(cat "$work/shard0/seconds") > $(cat "$work/shard1/seconds") ? $(cat "$work/shard0/seconds") : $(cat "$work/shard1/seconds") ))

targets_run solo > "$work/solo.targets"
{ targets_run shard0; targets_run shard1; } | sort > "$work/shards.targets"
duplicates=$(uniq -d "$work/shards.targets" | wc -l)
missing=$(comm -23 "$work/solo.targets" <(sort -u "$work/shards.targets") | wc -l)
extra=$(comm -13 "$work/solo.targets" <(sort -u "$work/shards.targets") | wc -l)

echo "== BuildGrid restarted (same storage), a new runner with empty local caches"
cache shared stop
cache shared start
runner after-restart shared
remote_hits=$(sed -n 's/^ *remote_cache_requests_cached: //p' "$work/after-restart/ci.log" | tail -n 1)
remote_requests=$(sed -n 's/^ *remote_cache_requests: //p' "$work/after-restart/ci.log" | tail -n 1)
cached_tests=$(grep -cE '^(✓|✕) \S+[:#]\S+ (succeeded|failed) .*\(cached remotely\)' "$work/after-restart/ci.log" || true)
all_tests=$(targets_run after-restart | wc -l)

solo_wall=$(cat "$work/solo/seconds")
echo
echo "runners                          wall (s)   ratio to one runner"
printf '1 runner, whole matrix           %8d   1.00\n' "$solo_wall"
printf '2 runners, shards 0/2 + 1/2      %8d   %s   (shard 0: %ss, %s targets; shard 1: %ss, %s targets)\n' "$two_wall" \
  "$(awk -v a="$two_wall" -v b="$solo_wall" 'BEGIN { printf "%.2f", a / b }')" \
  "$(cat "$work/shard0/seconds")" "$(targets_run shard0 | wc -l)" "$(cat "$work/shard1/seconds")" "$(targets_run shard1 | wc -l)"
echo "shards: $(wc -l < "$work/shards.targets") targets run, $duplicates run twice, $missing of the whole matrix's $(wc -l < "$work/solo.targets") missing, $extra extra"
echo "after a BuildGrid restart, empty local caches: $cached_tests of $all_tests test targets from the remote cache; remote cache requests: $remote_hits hits of $remote_requests"
echo "(work directory: $work)"
[ "$duplicates" -eq 0 ] && [ "$missing" -eq 0 ] && [ "$extra" -eq 0 ]

# Sourced by `simulate-runners.sh --pr` (its functions and variables: cache, runner, targets_run,
# repo, rev, work). Main's CI fills an empty remote cache; then a pull request's CI, one line of
# conveyor's server changed, runs on a fresh runner; prints what that runner did.

# A failed main CI still filled the cache with what passed (a failed test is never cached): the
# pull request's runner runs that again, and the scenario goes on.
main_ok=true
if $again; then
  echo "== main's CI ($rev): the remote cache it filled in $work"
  cache pr start
else
  echo "== main's CI ($rev), empty remote cache"
  cache pr start
  runner main pr || main_ok=false
fi

# The pull request: one line of conveyor's server changed, committed in a repository of its own.
source_repo="$work/pr-source"
rm -rf "$source_repo"
git clone -q "$repo" "$source_repo"
git -C "$source_repo" checkout -q -b pull-request "$rev"
# A new line each time: a change that an earlier pull request's runner put in the cache is no change.
echo "# a pull request's one-line change ($(date +%s%N))" >> "$source_repo/src/python/conveyor/server/app.py"
git -C "$source_repo" -c user.name=simulate-runners -c user.email=simulate-runners@localhost \
  commit -qam "One line of conveyor's server changed"
echo "== the pull request's CI ($(git -C "$source_repo" rev-parse --short HEAD)): a fresh runner"
pr_ok=true
runner pr pr "" "$(git -C "$source_repo" rev-parse HEAD)" "$source_repo" || pr_ok=false

# pr_report NAME: wall time by phase, each Pants run's remote lookups, the test targets that ran
# and came from a cache, the PEX builds the runner did itself (a remote hit prints no Completed line).
pr_report() {
  local log="$work/$1/ci.log"
  echo
  echo "runner $1: $(cat "$work/$1/seconds") s wall"
  awk '
    /^=== / && !/: (ok|FAILED|started in the background)/ && !/^=== (total|test: [0-9])/ { phase = substr($0, 5) }
    /^=== .*: (ok in|FAILED)/ {
      took = $0; sub(/.*(ok in|after) /, "", took); sub(/s.*/, "s", took)
      printf "  phase %-52s %s%s\n", phase, took, (/in the background/ ? " (in the background)" : "")
    }
    /^=== total: / { printf "  %-58s %s\n", "total (.ci/run)", $NF }
    /^ *remote_cache_requests: / { lookups[phase] += $2 }
    /^ *remote_cache_requests_cached: / { hits[phase] += $2 }
    /^ *remote_cache_requests_uncached: / { misses[phase] += $2 }
    /Completed: Building / { built[phase]++ }
    END {
      for (p in lookups) printf "  %-58s remote lookups %d, hits %d, misses %d; PEX builds run here %d\n", p, lookups[p], hits[p], misses[p], built[p]
    }' "$log"
  echo "  test targets: $(targets_run "$1" | wc -l) in all; ran: $(grep -cE '^(✓|✕) \S+[:#]\S+ (succeeded|failed) in [0-9.]+s\.$' "$log" || true); cached remotely: $(grep -cE '^(✓|✕) \S+[:#]\S+ .*\(cached remotely\)' "$log" || true); cached locally: $(grep -cE '^(✓|✕) \S+[:#]\S+ .*\(cached locally\)' "$log" || true)"
  echo "  ran:"
  grep -E '^(✓|✕) \S+[:#]\S+ (succeeded|failed) in [0-9.]+s\.$' "$log" | sed 's/^/    /' || true
  echo "  PEX builds run here:"
  grep -oE 'Completed: Building .*' "$log" | cut -c1-150 | sed 's/^/    /' || true
}
$again || pr_report main
pr_report pr
cache pr stop
echo "(work directory: $work)"
$main_ok && $pr_ok

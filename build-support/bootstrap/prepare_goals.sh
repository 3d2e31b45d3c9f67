# Sourced by the launcher. What the goals in `goals` need from the machine, before Pants starts.
# Goals that build or run images need an engine and the base image, and goals that start cells
# first remove what killed sessions left behind; others start instantly. What a slice of the
# tests needs and this machine cannot have (no Docker engine: not root, not Debian, DOCKER_HOST
# unreachable; no Chromium) leaves that slice out, said in one line; in CI it is an error.

# cm_image_goal: the first goal in `goals` that builds or runs images (empty: none).
cm_image_goal() {
  local goal
  for goal in "${goals[@]+"${goals[@]}"}"; do
    case "$goal" in test|package|run|publish) echo "$goal"; return 0 ;; esac
  done
}

# cm_start_engine: when a goal needs the Docker engine, its step starts now, in the background,
# so that installing and starting it overlaps the bootstrap of Pants itself. Sets engine_job
# (its pid, empty when no goal needs it) and engine_log. Reads goals.
cm_start_engine() {
  engine_job=""
  [ -n "$(cm_image_goal)" ] && [ -z "${COMPAT_MATRIX_NO_DOCKER:-}" ] || return 0
  engine_log=$(cm_log_path "Docker engine")
  # A file, not a pipe: a dockerd started by the step would inherit a pipe and keep it open.
  "$root/build-support/bootstrap/docker-engine.sh" </dev/null >"$engine_log" 2>&1 &
  engine_job=$!
}

# cm_leave_out TAG WHAT LOG: preparing WHAT failed (its output: LOG). TAG's targets are left out
# of the run, said in one line; in CI (or for publish) that is an error instead.
cm_leave_out() {
  local tag="$1" what="$2" log="$3" goal="$4" reason
  reason=$(sed -n 's/^pants bootstrap: error: //p' "$log" | tail -n 1)
  if [ "${CI:-}" = "true" ] || [ "$goal" = "publish" ]; then
    cat "$log" >&2
    cm_die "no $what for the $tag targets${CI:+ (CI=$CI: they must run)}: ${reason:-see $log}"
  fi
  echo "compat-matrix: $tag targets left out (--tag=-$tag), the rest runs: ${reason:-see $log}" >&2
  case "$goal" in test|package) front+=("--tag=-$tag") ;; esac
}

# cm_run_steps LOG STEP...: runs the bootstrap steps in order, their step lines shown as they
# happen and all their output kept in LOG; fails at the first that fails.
cm_run_steps() {
  local log="$1" step
  shift
  for step in "$@"; do
    # A pipeline, not a process substitution: its extra descriptor would be inherited by a dockerd
    # started here, and the log would never end.
    "$root/build-support/bootstrap/$step" 2>&1 | tee -a "$log" | { grep --line-buffered '^bootstrap: ' >&2 || true; } \
      || return 1
  done
}

# cm_base_image_in_background: when the base image is missing, builds it in the background while
# Pants starts (its PEXes and the process cells need no image). The build holds the image's lock
# (cm_base_image_lock) from before Pants starts to its end, and a docker cell that finds no base
# image waits on that lock (compat_matrix.backends.docker_engine.present_image); a failed build
# leaves its log's path in the lock file, which the cell's error names.
cm_base_image_in_background() {
  local image="${BASE_IMAGE:-compat-matrix/base:bookworm}" lock log
  docker image inspect "$image" >/dev/null 2>&1 && return 0
  log=$(cm_log_path "base image")
  if ! lock=$(cm_base_image_lock "$image"); then
    : > "$log"
    cm_run_steps "$log" base-image.sh || cm_leave_out docker "base image" "$log" test
    return 0
  fi
  exec 9>>"$lock"
  if flock -n 9; then
    printf '%s\n' "$log" > "$lock"
    echo "bootstrap: base image $image: building in the background; docker cells wait for it (log: $log)" >&2
    { CM_BASE_IMAGE_LOCKED=1 "$root/build-support/bootstrap/base-image.sh" && : > "$lock"; } </dev/null >"$log" 2>&1 &
  fi
  # Only the build keeps the lock: Pants must not inherit it. Another launcher's build holding it
  # (flock failed) is waited for by the cells the same way.
  exec 9>&-
}

cm_prepare_goals() {
  local goal log
  goal=$(cm_image_goal)
  [ -n "$goal" ] || return 0
  if [ -n "$engine_job" ]; then
    local ok=true
    wait "$engine_job" || ok=false
    grep '^bootstrap: ' "$engine_log" >&2 || true
    if ! $ok; then
      cm_leave_out docker "Docker engine" "$engine_log" "$goal"
    else
      if [ "$goal" = test ]; then
        cm_base_image_in_background
      else
        # package, run and publish build images from the start.
        log=$(cm_log_path "base image")
        : > "$log"
        cm_run_steps "$log" base-image.sh || cm_leave_out docker "base image" "$log" "$goal"
      fi
      # In the background: what killed sessions left is removed while Pants starts (every
      # pytest session reaps too, before its first cell); a run waits for none of it.
      case "$goal" in test|run) "$root/build-support/bootstrap/reap.sh" </dev/null >"$(cm_log_path reap)" 2>&1 & ;; esac
    fi
  fi
  # shellcheck source=build-support/bootstrap/selects.sh
  . "$root/build-support/bootstrap/selects.sh"
  # The report's browser test (tests/python/compat_matrix/BUILD gives it the tag) alone needs Chromium.
  if [ "$goal" = test ] && [ -z "${COMPAT_MATRIX_NO_BROWSER:-}" ] \
      && cm_may_select browser tests/python/compat_matrix/test_report_browser.py "${front[@]+"${front[@]}"}" "${rest[@]}"; then
    log=$(cm_log_path "Chromium")
    : > "$log"
    cm_run_steps "$log" chromium.sh || cm_leave_out browser "Chromium" "$log" "$goal"
  fi
  return 0
}

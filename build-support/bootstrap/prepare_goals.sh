# Sourced by the launcher. cm_prepare_goals: what the goals in `goals` need from the machine, before
# Pants starts. Reads root, goals, front and rest; may add `--tag=-TAG` to front.
# Goals that build or run images need an engine and the base image, and goals that start cells
# first remove what killed sessions left behind; others start instantly. What a slice of the
# tests needs and this machine cannot have (no Docker engine: not root, not Debian, DOCKER_HOST
# unreachable; no Chromium) leaves that slice out, said in one line; in CI it is an error.
#   cm_prepare_or_leave_out TAG WHAT STEP...: runs the bootstrap steps, or leaves TAG out.
cm_prepare_or_leave_out() {
  local tag="$1" what="$2" log ok=true reason step
  shift 2
  log=$(cm_log_path "$what")
  : > "$log"
  # Step lines as they happen; the rest (an error, a log tail) is for the decision below. A
  # pipeline, not a process substitution: its extra descriptor would be inherited by a dockerd
  # started here, and the log would never end.
  for step in "$@"; do
    "$root/build-support/bootstrap/$step" 2>&1 | tee -a "$log" | { grep --line-buffered '^bootstrap: ' >&2 || true; } \
      || { ok=false; break; }
  done
  $ok && return 0
  reason=$(sed -n 's/^pants bootstrap: error: //p' "$log" | tail -n 1)
  if [ "${CI:-}" = "true" ] || [ "$goal" = "publish" ]; then
    cat "$log" >&2
    cm_die "no $what for the $tag targets${CI:+ (CI=$CI: they must run)}: ${reason:-see $log}"
  fi
  echo "compat-matrix: $tag targets left out (--tag=-$tag), the rest runs: ${reason:-see $log}" >&2
  case "$goal" in test|package) front+=("--tag=-$tag") ;; esac
}

cm_prepare_goals() {
  local goal
  for goal in "${goals[@]+"${goals[@]}"}"; do
    case "$goal" in
      test|package|run|publish)
        if [ -z "${COMPAT_MATRIX_NO_DOCKER:-}" ]; then
          cm_prepare_or_leave_out docker "Docker engine" docker-engine.sh base-image.sh
          # In the background: what killed sessions left is removed while Pants starts (every
          # pytest session reaps too, before its first cell); a run waits for none of it.
          case "$goal" in test|run) "$root/build-support/bootstrap/reap.sh" </dev/null >"$(cm_log_path reap)" 2>&1 & ;; esac
        fi
        # shellcheck source=build-support/bootstrap/selects.sh
        . "$root/build-support/bootstrap/selects.sh"
        # The report's browser test (tests/python/compat_matrix/BUILD gives it the tag) alone needs Chromium.
        if [ "$goal" = test ] && [ -z "${COMPAT_MATRIX_NO_BROWSER:-}" ] \
            && cm_may_select browser tests/python/compat_matrix/test_report_browser.py "${front[@]+"${front[@]}"}" "${rest[@]}"; then
          cm_prepare_or_leave_out browser "Chromium" chromium.sh
        fi
        break ;;
    esac
  done
  return 0
}

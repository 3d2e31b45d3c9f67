# Sourced by the launcher. cm_move_global_flags ARG...: splits the command line into front (global
# flags, moved in front of the goal), rest (goals, specs, goal flags), goals and passthrough (`--`
# and what follows it).

cm_move_global_flags() {
  # Pants 2.17 rejects a global flag after a goal (`test --tag=x ::`); users type it there. Move
  # global-only flags to the front, where Pants accepts them. Nothing after `--` moves: those are the
  # arguments of what `run` starts.
  local global_flags=(--tag --changed-since --changed-dependents --no-local-cache --local-cache --stats-log
                      --no-pantsd --pantsd --no-dynamic-ui --keep-sandboxes --print-stacktrace --level -l)
  local arg moved flag
  front=() rest=() goals=() passthrough=()
  while [ $# -gt 0 ]; do
    arg="$1"; shift
    if [ "$arg" = "--" ]; then
      passthrough=("$arg" "$@"); break
    fi
    moved=false
    for flag in "${global_flags[@]}"; do
      case "$arg" in
        "$flag"=*|"$flag") moved=true; break ;;
      esac
    done
    if $moved; then
      front+=("$arg")
      # `--tag x` (value as the next word) moves with its value.
      if [[ "$arg" != *=* ]] && [[ "$arg" =~ ^(--tag|--changed-since|--changed-dependents|--level|-l)$ ]] && [ $# -gt 0 ]; then
        front+=("$1"); shift
      fi
    else
      rest+=("$arg")
      [[ "$arg" =~ ^[a-z][a-z-]*$ ]] && goals+=("$arg")
    fi
  done
  return 0
}

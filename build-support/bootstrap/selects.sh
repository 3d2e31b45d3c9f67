# Sourced by the launcher. cm_may_select TAG PATH WORD...: whether a command line (WORD..., the
# launcher's, without what follows `--`) may run the test at PATH, which has the tag TAG and no
# other. The launcher prepares what a slice of the tests needs (Chromium for the report's browser
# test) only for a run that may reach it, so that a run that cannot, the quick start's cell say,
# waits for none of it. In doubt (--changed-since, no spec), yes.
cm_may_select() {
  local tag="$1" path="$2" word expr item hit spec dir specs=() exprs=() value_of=""
  shift 2
  for word; do
    if [ -n "$value_of" ]; then exprs+=("$word"); value_of=""; continue; fi
    case "$word" in
      --tag=*) exprs+=("${word#--tag=}") ;;
      --tag) value_of=tag ;;
      --changed-since*|--changed-dependents*|--spec-files*) return 0 ;;
      -*) ;;
      *) [[ "$word" =~ ^[a-z][a-z-]*$ ]] || specs+=("$word") ;;
    esac
  done
  # Pants' --tag: every expression matches, each by any of its comma-separated items.
  for expr in "${exprs[@]+"${exprs[@]}"}"; do
    hit=false
    IFS=, read -ra items <<< "$expr"
    for item in "${items[@]+"${items[@]}"}"; do
      case "$item" in
        -*) [ "${item#-}" != "$tag" ] && hit=true ;;
        *) [ "${item#+}" = "$tag" ] && hit=true ;;
      esac
    done
    $hit || return 1
  done
  [ ${#specs[@]} -eq 0 ] && return 0
  # Any spec that covers PATH: `::`, `dir::` above it, `dir:`/`dir:name` of its directory, the file.
  for spec in "${specs[@]}"; do
    case "$spec" in
      ::) return 0 ;;
      *::) dir="${spec%::}"; dir="${dir%/}"; [[ "$path" == "$dir"/* ]] && return 0 ;;
      *:*) [ "${spec%%:*}" = "${path%/*}" ] && return 0 ;;
      *) { [ "$spec" = "$path" ] || [ "${spec%/}" = "${path%/*}" ]; } && return 0 ;;
    esac
  done
  return 1
}

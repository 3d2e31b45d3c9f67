# Sourced by the launcher. cm_stable_repos ROOT STABLE_DIR PYTHON: exports the [python-repos]
# options that name the checkout's package directories by a path the same in every checkout
# (stable_repos.py says why). Worked out again only when pants.toml or one of those directories
# changes: a stat of them is much cheaper than the Python that reads them.
cm_stable_repos() {
  local root="$1" stable_dir="$2" python="$3" cache out CM_REPOS_WATCH=() CM_REPOS_STAMP=""
  cache="$CM_CACHE_DIR/stable-repos/checkout${root//\//%}.env"
  # shellcheck disable=SC1090
  [ -f "$cache" ] && . "$cache"
  if [ ${#CM_REPOS_WATCH[@]} -gt 0 ] && [ "$(stat -c '%n %s %.9Y' "${CM_REPOS_WATCH[@]}" 2>&1)" = "$CM_REPOS_STAMP" ]; then
    return 0
  fi
  out=$("$python" -I -S "$root/build-support/bootstrap/stable_repos.py" "$root" "$stable_dir") || return 0
  eval "$out"
  # The answer, and the stamp of what it was read from.
  mkdir -p "${cache%/*}"
  { printf '%s\n' "$out"; printf 'CM_REPOS_STAMP=%q\n' "$(stat -c '%n %s %.9Y' "${CM_REPOS_WATCH[@]}" 2>&1)"; } > "$cache.$$" \
    && mv -f "$cache.$$" "$cache"
}

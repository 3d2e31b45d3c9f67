# Sourced by the launcher. cm_pants_command: sets pants_cmd, the command that runs Pants: through
# one path on every machine (a link to the venv, and copies of the package directories Pants keys
# PEX builds on), and through Pants' native client when it can. Reads root, pants_version,
# state_dir and CM_PANTS_BIN.

cm_pants_command() {
  local stable_dir stable_venv venv_dir stable entry_src entry native script server
  # Pants runs pex, and seeds the venvs of the PEXes it runs, with the Python it runs on, by path
  # (sys.executable): that path is in the cache key of every PEX build and test. Under the cache
  # directory it would differ from one runner's XDG_CACHE_HOME to another's, and no cache entry
  # would be shared. So Pants runs through one path on every machine, a link to this venv.
  pants_cmd=("$CM_PANTS_BIN")
  venv_dir=$(dirname "$(dirname "$CM_PANTS_BIN")")
  # A directory someone else owns is not used (cm_runtime_dir fails).
  stable=false
  stable_dir=$(cm_runtime_dir) && stable=true
  stable_venv="$stable_dir/pants-$pants_version"
  # Only a real venv (the launcher's tests use stand-ins without a python): every venv linked here
  # is the same Pants on the same CPython 3.9, so a run may find the link re-pointed by another
  # checkout's launcher at any time.
  if [ -x "$venv_dir/bin/python" ] && $stable; then
    if [ "$(readlink "$stable_venv" 2>/dev/null)" != "$venv_dir" ]; then
      # Atomic: a run starting meanwhile sees the old link or the new one (both the same Pants).
      ln -sfn "$venv_dir" "$stable_venv.$$" && mv -Tf "$stable_venv.$$" "$stable_venv"
    fi
    if [ -x "$stable_venv/bin/python" ]; then
      pants_cmd=("$stable_venv/bin/python" "$CM_PANTS_BIN")
      # Pants' entry point without its unused bootstrap scheduler, which slows every pantsd start
      # (see the file). A copy named by its content: the server script below, shared by every checkout on the
      # machine, must not run a checkout's file that another version of this repo may change.
      entry_src="$root/build-support/bootstrap/pants_entry.py"
      entry="$state_dir/pants-entry-$(sha256sum "$entry_src" | cut -c1-12).py"
      if [ -f "$entry" ] || { cp "$entry_src" "$entry.$$" && mv -f "$entry.$$" "$entry"; }; then
        pants_cmd=("$stable_venv/bin/python" "$entry")
      fi
    fi
  fi
  # The same for the checkout's package directories in [python-repos], which are in every PEX
  # build's key: copies at a path that is the same in every checkout (stable_repos.py).
  if $stable && command -v python3 >/dev/null 2>&1; then
    # shellcheck source=build-support/bootstrap/stable_repos.sh
    . "$root/build-support/bootstrap/stable_repos.sh"
    cm_stable_repos "$root" "$stable_dir" python3
  fi
  # Pants' native client (a Rust binary in its wheel) talks to a running pantsd directly, without
  # the Python client's start-up, which is most of a warm no-op run.
  # Without a matching pantsd it execs _PANTS_SERVER_EXE, the Python client on the stable path,
  # which starts one. PANTS_NO_NATIVE_CLIENT=1 turns it off.
  native="$venv_dir/lib/python3.9/site-packages/pants/bin/native_client"
  if [ "${pants_cmd[0]}" = "$stable_venv/bin/python" ] && [ -f "$native" ] && [ -z "${PANTS_NO_NATIVE_CLIENT:-}" ]; then
    script="#!/bin/sh
exec \"${pants_cmd[0]}\" \"${pants_cmd[1]}\" \"\$@\""
    # Named by its content, like the entry point: checkouts of other versions keep their own.
    server="$state_dir/pants-server-$(printf '%s' "$script" | sha256sum | cut -c1-12)"
    if [ ! -x "$server" ]; then
      printf '%s\n' "$script" >"$server.$$" && chmod +x "$server.$$" && mv -f "$server.$$" "$server"
    fi
    [ -x "$native" ] || chmod +x "$native" 2>/dev/null || true  # pip installs it without the x bit
    if [ -x "$native" ]; then
      export _PANTS_SERVER_EXE="$server"
      pants_cmd=("$native")
    fi
  fi
  return 0
}

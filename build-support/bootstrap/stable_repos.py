"""The checkout's local package directories, at a path that is the same in every checkout.

Pants puts `[python-repos]` find_links and path_mappings into the command line of every PEX build,
so they are in every PEX build's cache key. Written as `%(buildroot)s/...` in pants.toml, they
name the checkout's own path: a CI runner whose clone is elsewhere (another workspace, another
runner's directory) then finds none of the PEXes main's CI put in the remote cache, and builds
every one again (minutes for Dagster's and LiberTEM's releases).

So the launcher gives Pants the same options with each such directory replaced by a copy of its
distribution files under the launcher's per-user directory, named by a digest of their names and
bytes: the same path wherever the checkout is, and another path as soon as a release is added or
changed (a stale copy is never read). Directories outside the checkout, and URLs, stay as written.

Prints shell lines for the launcher (stable_repos.sh) to source: `export PANTS_PYTHON_REPOS_...=...`
(none when no entry names a directory of the checkout), and CM_REPOS_WATCH, the files and
directories whose change means running this again. On failure, a note on stderr, nothing on stdout.
It runs on every launch whose pants.toml or package directories changed, so it imports little.

Usage: python3 stable_repos.py ROOT STABLE_DIR
"""

from __future__ import annotations

import hashlib
import os
import sys

BUILDROOT = "%(buildroot)s/"
DISTRIBUTIONS = (".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2")


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def distributions(directory: str) -> list[str]:
    """What pip reads in a find-links directory: its distribution files (not its BUILD file)."""
    return sorted(
        e.path for e in os.scandir(directory) if e.is_file() and e.name.endswith(DISTRIBUTIONS)
    )


def stable_copy(directory: str, stable_dir: str) -> str:
    """The copy of `directory`'s distributions under `stable_dir`, made once per content."""
    digest = hashlib.sha256()
    files = distributions(directory)
    for f in files:
        digest.update(os.path.basename(f).encode() + b"\0" + hashlib.sha256(read(f)).digest())
    parent = os.path.join(stable_dir, "repos")
    target = os.path.join(parent, f"{os.path.basename(directory)}-{digest.hexdigest()[:16]}")
    if os.path.isdir(target):
        return target
    staging = f"{target}.tmp.{os.getpid()}"
    os.makedirs(staging)
    for f in files:
        with open(os.path.join(staging, os.path.basename(f)), "wb") as out:
            out.write(read(f))
    try:
        os.rename(staging, target)
    except OSError:  # another launch made it meanwhile: the same bytes
        for f in os.listdir(staging):
            os.unlink(os.path.join(staging, f))
        os.rmdir(staging)
    return target


def relocate(value: str, root: str, stable_dir: str, watch: list[str]) -> str | None:
    """`value` with a `%(buildroot)s/DIR` in it pointed at DIR's stable copy; None if it cannot be."""
    if "%(" not in value:
        return value
    head, sep, relative = value.partition(BUILDROOT)
    if not sep or "%(" in head or "%(" in relative:
        return None
    directory = os.path.join(root, relative.rstrip("/"))
    if not os.path.isdir(directory):
        return None
    watch.extend([directory, *distributions(directory)])
    return head + stable_copy(directory, stable_dir)


def option_values(repos: dict[str, object], name: str) -> list[str] | None:
    values = repos.get(name, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return None  # a `.add`/`.remove` form or the like: left to Pants
    return values


def exports(pants_toml: str, root: str, stable_dir: str, watch: list[str]) -> dict[str, str]:
    """The environment variables that override `[python-repos]` (empty when nothing to relocate);
    the directories read and their distributions go to `watch`."""
    import tomllib

    repos = tomllib.loads(pants_toml).get("python-repos", {})
    out: dict[str, str] = {}
    for option in ("find_links", "path_mappings"):
        values = option_values(repos, option)
        if not values or not any(BUILDROOT in v for v in values):
            continue
        relocated = []
        for value in values:
            if option == "path_mappings":
                name, bar, path = value.partition("|")
                new = relocate(path, root, stable_dir, watch)
                relocated.append(None if new is None or not bar else f"{name}|{new}")
            else:
                relocated.append(relocate(value, root, stable_dir, watch))
        if any(v is None for v in relocated):
            raise ValueError(f"[python-repos].{option} = {values!r}: only %(buildroot)s/<directory> entries can be relocated")
        # A list literal, as Pants reads a list option from the environment.
        out[f"PANTS_PYTHON_REPOS_{option.upper()}"] = repr(relocated)
    return out


def quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def main(argv: list[str]) -> int:
    root, stable_dir = argv[1], argv[2]
    pants_toml = os.path.join(root, "pants.toml")
    watch = [pants_toml]
    try:
        variables = exports(read(pants_toml).decode(), root, stable_dir, watch)
    except (ImportError, OSError, ValueError) as e:
        print(f"compat-matrix: PEX builds name this checkout's path (their cache entries are this checkout's): {e}", file=sys.stderr)
        return 1
    for name, value in variables.items():
        print(f"export {name}={quote(value)}")
    print(f"CM_REPOS_WATCH=({' '.join(quote(p) for p in dict.fromkeys(watch))})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""The launcher gives Pants the checkout's package directories at a path the same in every checkout.

Pants puts `[python-repos]` find_links and path_mappings into every PEX build's command line, so a
path of the checkout there made every PEX build of a runner whose clone is elsewhere a remote cache
miss. Runs the real launcher (stand-ins for what it bootstraps, tests/python/launcher/fakes.py).
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from launcher.test_launcher import LAUNCHER, Launcher

WHEELS = "3rdparty/python/releases/wheels"
# Fixed bytes: every run of this test shares one copy under the launcher's per-user directory.
WHEEL = b"compat-matrix test_stable_repos: not a real wheel\n"


def checkout(tmp_path: Path, name: str) -> tuple[Launcher, Path]:
    root = tmp_path / name / "repo"
    (root / "build-support").mkdir(parents=True)
    shutil.copytree("build-support/bootstrap", root / "build-support/bootstrap")
    shutil.copy("pants.toml", root)
    shutil.copy(LAUNCHER, root / "pants")
    (root / WHEELS).mkdir(parents=True)
    (root / WHEELS / "BUILD").write_text(f"# {name}\n")  # not a distribution: not copied
    (root / WHEELS / "conveyor-0.1.0-py3-none-any.whl").write_bytes(WHEEL)
    launcher = Launcher(tmp_path / name, root / "pants")
    del launcher.env["CM_LOCK_ROOT"]  # the machine's /tmp, one for both checkouts, outside them
    launcher.run("--version")
    (pants_bin,) = launcher.cache.glob("pants-*/venv/bin/pants")
    pants_bin.write_text('#!/bin/sh\necho "$PANTS_PYTHON_REPOS_FIND_LINKS"\necho "$PANTS_PYTHON_REPOS_PATH_MAPPINGS"\n')
    return launcher, root


def repos(launcher: Launcher) -> tuple[list[str], list[str]]:
    find_links, path_mappings = launcher.argv("--version")
    assert find_links and path_mappings, "no [python-repos] options from the launcher: PEX builds name the checkout"
    return ast.literal_eval(find_links), ast.literal_eval(path_mappings)


def test_pex_builds_get_the_same_package_directory_from_every_checkout(tmp_path: Path) -> None:
    # Regression: pants.toml's %(buildroot)s reached every PEX build's key; a runner cloned
    # elsewhere missed every PEX main's CI had put in the remote cache.
    first, first_root = checkout(tmp_path, "a")
    second, second_root = checkout(tmp_path, "b")
    assert repos(first) == repos(second)
    (find_link,), (mapping,) = repos(first)
    assert find_link.startswith("file:///") and mapping.startswith("RELEASE_WHEELS|/")
    copy = Path(mapping.partition("|")[2])
    assert find_link == f"file://{copy}"
    assert not copy.is_relative_to(tmp_path)
    assert sorted(p.name for p in copy.iterdir()) == ["conveyor-0.1.0-py3-none-any.whl"]
    assert (copy / "conveyor-0.1.0-py3-none-any.whl").read_bytes() == WHEEL


def test_a_changed_release_directory_gets_another_copy(tmp_path: Path) -> None:
    launcher, root = checkout(tmp_path, "a")
    before = repos(launcher)
    assert repos(launcher) == before  # unchanged: the saved answer
    (root / WHEELS / "conveyor-0.2.0-py3-none-any.whl").write_bytes(WHEEL)
    (_,), (mapping,) = after = repos(launcher)
    assert after != before
    assert sorted(p.name for p in Path(mapping.partition("|")[2]).iterdir()) == [
        "conveyor-0.1.0-py3-none-any.whl",
        "conveyor-0.2.0-py3-none-any.whl",
    ]

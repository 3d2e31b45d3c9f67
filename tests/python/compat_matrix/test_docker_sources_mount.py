"""When a branch role's sources are mounted into its container rather than built into an image:
only where the container's user, nobody on this machine, can read every file of them."""

from __future__ import annotations

import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from compat_matrix.backends.docker_images import _readable_by_anyone


@pytest.fixture
def root() -> Iterator[Path]:
    """A directory every user can reach (pytest's own temporary directories are private)."""
    top = Path(tempfile.gettempdir()).resolve()
    if not all(p.stat().st_mode & stat.S_IXOTH for p in (top, *top.parents)):
        pytest.skip(f"the temporary directory {top} is private: no directory here is readable by anyone")
    path = Path(tempfile.mkdtemp(prefix="sources-mount-", dir=top))
    try:
        yield path
    finally:
        shutil.rmtree(path)


def _sources(root: Path) -> Path:
    sources = root / "compat" / "src-branch-server"
    (sources / "conveyor" / "server").mkdir(parents=True)
    (sources / "conveyor" / "server" / "app.py").write_text("x = 1\n")
    for path in (root, root / "compat", *sources.rglob("*"), sources):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return sources


def test_sources_anyone_can_read_are_mounted(root: Path) -> None:
    assert _readable_by_anyone(_sources(root))


def test_sources_under_a_private_directory_are_built_into_an_image(root: Path) -> None:
    sources = _sources(root)
    (root / "compat").chmod(0o700)
    assert not _readable_by_anyone(sources)


def test_sources_with_a_private_file_are_built_into_an_image(root: Path) -> None:
    sources = _sources(root)
    (sources / "conveyor" / "server" / "app.py").chmod(0o600)
    assert not _readable_by_anyone(sources)

"""The release version is written twice (version.py and the dist target's BUILD); they must agree."""

from __future__ import annotations

import re
from pathlib import Path

import conveyor
from conveyor.version import PROTOCOL_VERSION, __version__


def _build_file() -> Path:
    for base in (Path.cwd(), *Path(__file__).resolve().parents):
        candidate = base / "src" / "python" / "conveyor" / "BUILD"
        if candidate.is_file():
            return candidate
    raise AssertionError("src/python/conveyor/BUILD not found; run the tests from the repository root")


def test_build_version_matches_version_py() -> None:
    text = _build_file().read_text()
    versions = re.findall(r'python_artifact\([^)]*?\bversion\s*=\s*"([^"]+)"', text, re.S)
    assert versions == [__version__], (
        f"src/python/conveyor/BUILD says version {versions}, conveyor/version.py says {__version__!r};"
        " set both to the same release (docs/releasing.md)"
    )


def test_public_version() -> None:
    assert conveyor.__version__ == __version__
    assert isinstance(PROTOCOL_VERSION, int) and PROTOCOL_VERSION >= 1

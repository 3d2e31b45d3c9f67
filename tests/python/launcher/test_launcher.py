"""The ./pants launcher: argument forms and the bootstrapped fast path.

Runs the real launcher script against a cache directory whose bootstrap is already recorded,
with a stand-in for the Pants binary that prints the argv it was given.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

LAUNCHER = Path("pants").resolve()


@pytest.fixture
def run(tmp_path: Path):
    version = next(
        line.split('"')[1] for line in Path("pants.toml").read_text().splitlines() if line.startswith("pants_version")
    )
    fake_pants = tmp_path / "fake-pants"
    fake_pants.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake_pants.chmod(0o755)
    (tmp_path / f"pants-{version}").mkdir()
    (tmp_path / f"pants-{version}" / "launcher.env").write_text(f"CM_PANTS_BIN='{fake_pants}'\n")

    def _run(*args: str, **env: str) -> list[str]:
        environ = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "COMPAT_MATRIX_CACHE_DIR": str(tmp_path),
            "COMPAT_MATRIX_NO_DOCKER": "1",
            **env,
        }
        out = subprocess.run([str(LAUNCHER), *args], capture_output=True, text=True, env=environ, check=True)
        return out.stdout.splitlines()

    return _run


@pytest.mark.parametrize(
    "argv, expected",
    [
        # The form users type: a global flag after the goal (Pants 2.17 rejects it there).
        (["test", "--tag=user-code-earliest", "::"], ["--tag=user-code-earliest", "test", "::"]),
        # Pants' own form is passed through unchanged.
        (["--tag=user-code-earliest", "test", "::"], ["--tag=user-code-earliest", "test", "::"]),
        (["test", "::", "--tag=smoke"], ["--tag=smoke", "test", "::"]),
        # Flag and value as two words move together; several global flags keep their order.
        (["test", "--tag", "smoke", "--no-local-cache", "::"], ["--tag", "smoke", "--no-local-cache", "test", "::"]),
        # Goal-scoped flags stay where they are.
        (["test", "--force", "--tag=-docker", "::"], ["--tag=-docker", "test", "--force", "::"]),
        (["--version"], ["--version"]),
    ],
)
def test_global_flags_move_in_front_of_the_goal(run, argv: list[str], expected: list[str]) -> None:
    assert run(*argv) == expected


def test_base_image_defaults_for_the_docker_build_arg(run, tmp_path: Path) -> None:
    fake = next(tmp_path.glob("pants-*/launcher.env"))
    probe = tmp_path / "print-base-image"
    probe.write_text('#!/bin/sh\necho "$BASE_IMAGE"\n')
    probe.chmod(0o755)
    fake.write_text(f"CM_PANTS_BIN='{probe}'\n")
    assert run("--version") == ["compat-matrix/base:bookworm"]
    assert run("--version", BASE_IMAGE="python:3.11-slim") == ["python:3.11-slim"]

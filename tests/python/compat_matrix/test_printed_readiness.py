"""Regression (issue 25): a role that prints its readiness line with a plain ``print()`` is ready by
``log_probe`` on the process backend, from a release's PEX and from the branch's, as a module and
as a console script.

pex runs a venv PEX's interpreter with ``-sE``, so ``PYTHONUNBUFFERED`` did not reach the role:
the line sat in its buffer and the probe timed out. The PEXes here are real venv PEXes, built by
the pex CLI Pants runs (``fake_products.printing``). The docker backend's twin is
``test_printed_readiness_docker.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from compat_core.model import BRANCH, System
from compat_matrix.backends.process import ProcessBackend
from compat_matrix.session import Session
from compat_matrix.testing_support import isolated_sessions
from fake_products.printing import RELEASE, build_artifacts, check_printed, printing_cell, printing_system


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> tuple[System, Path]:
    system = printing_system("printing")
    root = tmp_path_factory.mktemp("artifacts")
    build_artifacts(system, root, tmp_path_factory.mktemp("build"))
    return system, root


@pytest.fixture
def session() -> Iterator[Session]:
    with isolated_sessions() as directory:
        session = Session.create("printed readiness test", directory=directory)
        try:
            yield session
        finally:
            session.close()


@pytest.mark.parametrize("version", [BRANCH, RELEASE], ids=["branch", "release"])
def test_a_role_is_ready_by_a_line_it_prints_without_flushing(
    product: tuple[System, Path], session: Session, tmp_path: Path, version: str
) -> None:
    system, artifacts = product
    deployment = ProcessBackend(session=session).start(printing_cell(system, version, "process"), artifacts, tmp_path)
    try:
        check_printed(deployment.logs(), version)
    finally:
        deployment.stop()

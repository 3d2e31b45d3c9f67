"""Puts the cell's data into the test report (JUnit XML) that Pants keeps for every test target.

The matrix report (`compat_core.report_junit`) is built from those files: each matrix target's report
carries the planned cell it ran (`COMPAT_MATRIX_CELL`, as `compat_core.codec` encoded it; the
report reads it with the same codec) and the backend. A cached result keeps them, as it keeps the
rest of the report.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from compat_core.report_junit import BACKEND_PROPERTY, CELL_PROPERTY
from compat_core.settings import Settings


@pytest.fixture(scope="session", autouse=True)
def compat_matrix_junit_properties(record_testsuite_property: Callable[[str, object], None]) -> None:
    """Records the cell and the backend of a matrix target's run (nothing outside the matrix)."""
    settings = Settings.from_env(os.environ)
    if settings.cell:
        record_testsuite_property(CELL_PROPERTY, settings.cell)
        record_testsuite_property(BACKEND_PROPERTY, settings.backend)

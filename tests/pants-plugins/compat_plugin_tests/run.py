"""Entry point of the py39-tests PEX: pytest over the plugin tests and the core tests, on CPython 3.9.

Pants' RuleRunner (pantsbuild.pants.testutil 2.17.1) needs CPython 3.9 and pytest<7.1, not the
repo's pytest, so these tests run as one PEX (see BUILD); extra arguments go to pytest
(``./pants run tests/pants-plugins/compat_plugin_tests:py39-tests -- -k golden``).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import pytest

import compat_core_tests
import compat_plugin_tests


def main() -> None:
    plugin_tests = os.path.dirname(os.path.abspath(compat_plugin_tests.__file__))
    core_tests = os.path.dirname(os.path.abspath(compat_core_tests.__file__))
    # pytest 7.0 keeps every run's base temp (no tmp_path_retention_policy): a base temp of this
    # run's own, removed when the run passes and kept, like the other suites', when it fails.
    base_temp = tempfile.mkdtemp(prefix="compat-plugin-tests-")
    # No cache: the tests live in the PEX's venv, which is not this run's to write.
    code = pytest.main([plugin_tests, core_tests, "-p", "no:cacheprovider", "--basetemp", base_temp, *sys.argv[1:]])
    if code == 0:
        shutil.rmtree(base_temp, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()

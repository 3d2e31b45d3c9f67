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
    # A temporary directory of this run's own, removed when it ends, as the other suites' base
    # temps are (compat_matrix.pytest_state.own_base_temp): pytest 7.0 keeps every run's base temp.
    # RuleRunner's engines make their immutable inputs in the temp directory and never remove them:
    # they go with it too. Set before Pants is imported, which reads the temp directory then.
    # Their local store goes there as well: it defaults to ~/.cache/pants/lmdb_store, and under
    # `pants test` no XDG_CACHE_HOME points it elsewhere, so it outlived the run in the user's home.
    run_temp = tempfile.mkdtemp(prefix="compat-plugin-tests-")
    scratch = os.path.join(run_temp, "tmp")
    os.mkdir(scratch)
    os.environ["TMPDIR"] = tempfile.tempdir = scratch
    os.environ["XDG_CACHE_HOME"] = os.path.join(run_temp, "cache")
    try:
        # No cache: the tests live in the PEX's venv, which is not this run's to write.
        base_temp = os.path.join(run_temp, "pytest")
        code = pytest.main([plugin_tests, core_tests, "-p", "no:cacheprovider", "--basetemp", base_temp, *sys.argv[1:]])
    finally:
        shutil.rmtree(run_temp, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()

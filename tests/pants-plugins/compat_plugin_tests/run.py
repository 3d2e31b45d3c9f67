"""Entry point of the py39-tests PEX: pytest over the plugin tests and the core tests, on CPython 3.9.

Pants' RuleRunner (pantsbuild.pants.testutil 2.17.1) needs CPython 3.9 and pytest<7.1, not the
repo's pytest, so these tests run as one PEX (see BUILD); extra arguments go to pytest
(``./pants run tests/pants-plugins/compat_plugin_tests:py39-tests -- -k golden``).
"""

from __future__ import annotations

import os
import sys

import pytest

import compat_core_tests
import compat_plugin_tests


def main() -> None:
    plugin_tests = os.path.dirname(os.path.abspath(compat_plugin_tests.__file__))
    core_tests = os.path.dirname(os.path.abspath(compat_core_tests.__file__))
    # No cache: the tests live in the PEX's venv, which is not this run's to write.
    sys.exit(pytest.main([plugin_tests, core_tests, "-p", "no:cacheprovider", *sys.argv[1:]]))


if __name__ == "__main__":
    main()

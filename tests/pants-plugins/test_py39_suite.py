"""Runs the plugin tests and the core tests on CPython 3.9: the py39-tests PEX, with its own pytest.

The PEX comes as a file of this test's sandbox (tests/pants-plugins/BUILD says why).

Its output is printed as it comes; the test fails on a non-zero exit and when it collected no
test (a PEX that lost its tests must not pass).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

PEX = Path("compat_plugin_tests/py39-tests.pex")
PYTHON39_DIR_ENV = "COMPAT_MATRIX_PYTHON39_DIR"


def python39() -> Path:
    directory = os.environ.get(PYTHON39_DIR_ENV, "")
    assert directory, f"{PYTHON39_DIR_ENV} is not set; run this test through ./pants, which sets it"
    for name in ("python3.9", "python3", "python"):
        candidate = Path(directory) / name
        if candidate.is_file():
            return candidate
    raise AssertionError(f"{PYTHON39_DIR_ENV}={directory} has no python3.9; rerun ./pants to bootstrap it")


def test_plugin_and_core_tests_pass_on_cpython_39() -> None:
    assert PEX.is_file(), f"{PEX} is missing from the sandbox: check the py39-tests-pex target in tests/pants-plugins/BUILD"
    command = [str(python39()), str(PEX), "-rfE"]
    # The PEX that runs this test sets PEX variables of its own; the inner PEX must not read them.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PEX_", "__PEX_"))}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert process.stdout is not None
    output = []
    for line in process.stdout:
        sys.stdout.write(line)
        output.append(line)
    code = process.wait()
    text = "".join(output)
    collected = re.search(r"^collected (\d+) items?", text, re.MULTILINE)
    assert collected, f"no 'collected N items' line in the output of {' '.join(command)}"
    assert int(collected.group(1)) > 0, "the CPython 3.9 run collected no test"
    assert code == 0, f"{' '.join(command)} exited {code}; its failures are above"

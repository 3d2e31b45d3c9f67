"""What the backends share (``backends.common``): template rendering and how a PEX runs a role."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from compat_core.cell_plan import InstancePlan
from compat_core.declare import log_probe
from compat_core.errors import BackendError
from compat_core.model import Command, RoleSpec
from compat_matrix.backends.common import RUN_SCRIPT, Peer, PexVenv, render_role, role_command

WORKER = InstancePlan(
    role="worker", index=1, name="worker-1", version="branch", pex="", image="", image_info="", ports=("dask",)
)
SCHEDULER = (Peer("scheduler-0", "scheduler-0", {"dask": 8000}),)


def _worker(*args: str) -> RoleSpec:
    return RoleSpec(
        name="worker",
        command=Command("module", "pkg.cli:main"),
        readiness=log_probe("ready"),
        args=args,
        ports=("dask",),
        requires=("scheduler",),
    )


def test_advertised_host_is_what_peers_reach_and_host_what_the_instance_binds() -> None:
    spec = _worker("--listen", "tcp://{host}:{port[dask]}", "--contact", "tcp://{advertised_host}:{port[dask]}",
                   "--scheduler", "tcp://{address[scheduler]}")
    rendered = render_role(
        spec, WORKER, {"dask": 8000}, "/tmp/data", "/tmp/shared", {"scheduler": SCHEDULER}, {"scheduler", "worker"},
        host="0.0.0.0", advertised_host="worker-1",
    )
    assert rendered.args == (
        "--listen", "tcp://0.0.0.0:8000", "--contact", "tcp://worker-1:8000", "--scheduler", "tcp://scheduler-0:8000"
    )
    # Every template of the role expands the same way: env values, files, a probe's args.
    assert rendered.expand("{advertised_host}") == "worker-1"


def test_both_hosts_are_the_loopback_address_by_default() -> None:
    # The process backend's: an instance binds and is reached on 127.0.0.1.
    rendered = render_role(
        _worker("{host}", "{advertised_host}"), WORKER, {"dask": 1234}, "/d", "/s", {"scheduler": SCHEDULER}, {"worker"}
    )
    assert rendered.args == ("127.0.0.1", "127.0.0.1")


def test_an_unknown_field_is_explained() -> None:
    with pytest.raises(BackendError, match=r"worker-1: cannot expand '\{advertised\}' of role 'worker'"):
        render_role(_worker("{advertised}"), WORKER, {"dask": 1}, "/d", "/s", {}, {"worker"})


def test_a_venv_runs_its_pex_entry_point_unbuffered_with_pexs_own_flags() -> None:
    assert PexVenv("/v/bin/python", "/v/pex").argv() == ("/v/bin/python", "-sE", "-u", "/v/pex")
    assert PexVenv("/v/bin/python", "/v/pex", ()).argv() == ("/v/bin/python", "-u", "/v/pex")


def test_role_command_runs_a_console_script_in_the_venvs_interpreter() -> None:
    module = _worker()
    script = RoleSpec(name="web", command=Command("script", "dagster-webserver"), readiness=log_probe("x"))
    assert role_command(module, in_venv=True) == ((), {"PEX_MODULE": "pkg.cli:main"})
    assert role_command(module, in_venv=False) == ((), {"PEX_MODULE": "pkg.cli:main"})
    assert role_command(script, in_venv=True) == (("-c", RUN_SCRIPT, "dagster-webserver"), {"PEX_INTERPRETER": "1"})
    # Not a venv (a zipapp PEX runs a console script in its own interpreter), or a launcher's argv.
    assert role_command(script, in_venv=False) == ((), {"PEX_SCRIPT": "dagster-webserver"})


def _venv_bin(tmp_path: Path) -> Path:
    """A directory laid out like a venv's bin: its python (this one) and two scripts."""
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    # As pip writes a console script: a shebang of the venv's python with pex's flags.
    (bin_dir / "printer").write_text(
        f"#!{bin_dir / 'python'} -sE\n"
        "import sys\n"
        "if __name__ == '__main__':\n"
        "    print('argv', sys.argv[1:], 'path0', sys.path[0], 'unbuffered', sys.stdout.write_through)\n"
        "    sys.exit(7)\n"
    )
    (bin_dir / "shell-tool").write_text("#!/bin/sh\necho shell \"$@\"\n")
    for script in ("printer", "shell-tool"):
        (bin_dir / script).chmod(0o755)
    return bin_dir


def test_run_script_runs_a_python_script_in_this_interpreter(tmp_path: Path) -> None:
    bin_dir = _venv_bin(tmp_path)
    # As the venv's pex entry point runs `-c` code in interpreter mode: the current directory first.
    done = subprocess.run(
        [str(bin_dir / "python"), "-u", "-c", RUN_SCRIPT, "printer", "a", "b"],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""},
    )
    assert done.returncode == 7, done.stderr
    # Its argv and sys.path[0] as if run as a script; this interpreter's -u (a write-through stdout).
    assert done.stdout == f"argv ['a', 'b'] path0 {bin_dir} unbuffered True\n"


def test_run_script_execs_a_script_that_is_not_python(tmp_path: Path) -> None:
    bin_dir = _venv_bin(tmp_path)
    done = subprocess.run([str(bin_dir / "python"), "-c", RUN_SCRIPT, "shell-tool", "x"], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "shell x\n"), done.stderr

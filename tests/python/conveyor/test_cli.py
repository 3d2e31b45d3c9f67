"""The CLI contract: flags, exit code 2 naming the bad flag and value, and lazy role imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import free_port, subprocess_env  # pants: no-infer-dep (conftest.py is every test's dependency)

from conveyor import cli
from conveyor.version import PROTOCOL_VERSION, __version__


def _error_of(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["server", "--port", "99999", "--code-server", "127.0.0.1:1", "--db", "x"],
            "argument --port: invalid port '99999'",
        ),
        (
            ["server", "--port", "80a", "--code-server", "127.0.0.1:1", "--db", "x"],
            "argument --port: invalid port '80a'",
        ),
        (
            ["server", "--port", "8080", "--code-server", "nohostport", "--db", "x"],
            "argument --code-server: invalid address 'nohostport': use HOST:PORT",
        ),
        (
            ["server", "--port", "8080", "--code-server", "h:1", "--db", "x", "--max-body-bytes", "-1"],
            "argument --max-body-bytes: invalid value '-1'",
        ),
        (["server", "--port", "8080", "--code-server", "h:1"], "the following arguments are required: --db"),
        (
            ["server", "--host", "bad host!", "--port", "1", "--code-server", "h:1", "--db", "x"],
            "argument --host: invalid host 'bad host!'",
        ),
        (
            ["code-server", "--port", "1", "--module", "not a module"],
            "argument --module: invalid module name 'not a module'",
        ),
        (
            ["code-server", "--port", "1", "--dask-scheduler", "127.0.0.1:8786"],
            "argument --dask-scheduler: invalid scheduler address '127.0.0.1:8786': use tcp://HOST:PORT",
        ),
        (
            ["code-server", "--port", "1", "--module", "m", "--file", "f.py"],
            "argument --file: not allowed with argument --module",
        ),
        (
            ["worker", "--scheduler", "tcp://h:1", "--port", "2", "--name", "w", "--nthreads", "0"],
            "argument --nthreads: invalid value '0'",
        ),
        (
            ["worker", "--scheduler", "http://h:1", "--port", "2", "--name", "w"],
            "argument --scheduler: invalid scheduler address 'http://h:1'",
        ),
        (["scheduler", "--port", "0"], "argument --port: invalid port '0'"),
        (["submit", "--server", "localhost:8080", "add"], "argument --server: invalid URL 'localhost:8080'"),
        (
            ["submit", "--server", "http://h:1", "add", "--config", "{bad"],
            "argument --config: invalid JSON '{bad'",
        ),
        (
            ["submit", "--server", "http://h:1", "add", "--config", "[1]"],
            "argument --config: invalid config '[1]': use a JSON object",
        ),
        (
            ["submit", "--server", "http://h:1", "add", "--timeout", "-3"],
            "argument --timeout: invalid value '-3'",
        ),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["cancel", "--server", "nourl", "abc"], "argument --server: invalid URL 'nourl'"),
    ],
)
def test_bad_flags_exit_2_naming_flag_and_value(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    assert expected in _error_of(capsys, argv)


@pytest.mark.parametrize(
    "command", ["server", "code-server", "scheduler", "worker", "submit", "cancel", "version"]
)
def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    assert f"usage: conveyor {command}" in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["version"]) == 0
    assert capsys.readouterr().out.strip() == f"conveyor {__version__} (protocol {PROTOCOL_VERSION})"


def test_host_accepts_all_interfaces_and_ipv6() -> None:
    assert cli.host_arg("0.0.0.0") == "0.0.0.0"
    assert cli.host_arg("::") == "::"
    assert cli.host_port_arg("[::1]:4000") == "[::1]:4000"
    assert cli.host_port_arg("code-server:4000") == "code-server:4000"


def test_submit_to_unreachable_server_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["submit", "--server", f"http://127.0.0.1:{free_port()}", "add"]) == 1
    assert "cannot reach the conveyor server at http://127.0.0.1:" in capsys.readouterr().err


HEAVY = (
    "grpc",
    "starlette",
    "uvicorn",
    "dask",
    "distributed",
    "conveyor.server",
    "conveyor.code_server",
    "conveyor.cluster",
)


def _imported_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], env=subprocess_env(), capture_output=True, text=True, check=True
    ).stdout
    modules: list[str] = json.loads(out.splitlines()[-1])
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_user_api_import_is_light() -> None:
    assert _imported_after("import conveyor, conveyor.examples") == []


def test_cli_and_client_import_no_role() -> None:
    assert _imported_after("import conveyor.cli, conveyor.client; conveyor.cli.build_parser()") == []

"""The ``compat-matrix plan`` and ``releases check`` commands, on a throwaway repo in tmp_path."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from compat_matrix.cli import COMMANDS, Command, build_parser, main
from compat_matrix.declaration import FULL_MATRIX_ENV
from compat_matrix.versions import EARLIEST_ENV, RELEASES_FILE

RELEASES_PY = '''def releases():
    return {
        "package": "conveyor",
        "pinned": ["0.1.0", "0.2.0"],
        "earliest": "0.1.0",
        "index": "3rdparty/python/releases/wheels",
    }
'''

SUITE_BUILD = """
compat_suite(
    name="backcompat",
    system="conveyor",
    topology={"server": 1, "user-code": 1},
    cells={
        "server-latest": {"server": "latest"},
        "user-code-earliest": {"user-code": "earliest"},
    },
    full_matrix=True,
)
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pants.toml").write_text("[GLOBAL]\n")
    releases = tmp_path / RELEASES_FILE
    releases.parent.mkdir(parents=True)
    releases.write_text(RELEASES_PY)
    wheels = releases.parent / "wheels"
    wheels.mkdir()
    for name in ("conveyor-0.1.0-py3-none-any.whl", "conveyor-0.2.0-py3-none-any.whl", "conveyor-0.3.0rc1.tar.gz"):
        (wheels / name).write_bytes(b"")
    suite = tmp_path / "tests" / "python" / "integration" / "backcompat"
    suite.mkdir(parents=True)
    (suite / "BUILD").write_text(SUITE_BUILD)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(EARLIEST_ENV, raising=False)
    monkeypatch.delenv(FULL_MATRIX_ENV, raising=False)
    return tmp_path


SUITE = "tests/python/integration/backcompat"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *fragments: str) -> None:
    assert err.startswith("compat-matrix: error: ")
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err


# --- plan ----------------------------------------------------------------------------------------


def test_plan_prints_every_cell(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan", "--suite", SUITE)
    assert (code, err) == (0, "")
    assert out.startswith("suite backcompat (system conveyor): 2 cell(s)")
    assert "cell server-latest  [suite backcompat]" in out
    assert "server-0     server     0.2.0 (latest)" in out
    assert "docker/pex-0.1.0.pex" in out


def test_plan_accepts_the_build_file_and_a_pants_address(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    by_dir = run(capsys, "plan", "--suite", SUITE)[1]
    assert run(capsys, "plan", "--suite", f"{SUITE}/BUILD")[1] == by_dir
    assert run(capsys, "plan", "--suite", f"{SUITE}:backcompat")[1] == by_dir
    assert run(capsys, "plan", "--suite", str(repo / SUITE))[1] == by_dir


def test_plan_one_cell(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "--suite", SUITE, "--cell", "user-code-earliest")
    assert code == 0
    assert out.startswith("cell user-code-earliest  [suite backcompat]")
    assert "server-latest" not in out


def test_plan_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "--suite", SUITE, "--cell", "server-latest", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["cell"] == "server-latest" and data["suite"] == "backcompat"
    assert [(i["name"], i["version"], i["image"]) for i in data["instances"]] == [
        ("user-code-0", "branch", "conveyor/user-code:branch"),
        ("server-0", "0.2.0", "conveyor/server:0.2.0"),
    ]


def test_plan_full_matrix_flag_and_env(repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert "server-0.1.0-user-code-0.2.0" not in run(capsys, "plan", "--suite", SUITE)[1]
    code, out, _ = run(capsys, "plan", "--suite", SUITE, "--full-matrix")
    assert code == 0 and "cell server-0.1.0-user-code-0.2.0 " in out and "cell all-branch " in out
    monkeypatch.setenv(FULL_MATRIX_ENV, "1")
    assert run(capsys, "plan", "--suite", SUITE)[1] == out


def test_plan_follows_earliest_tested_release(repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EARLIEST_ENV, "0.2.0")
    code, out, _ = run(capsys, "plan", "--suite", SUITE, "--cell", "user-code-earliest")
    assert code == 0 and "0.2.0 (earliest)" in out


def test_plan_from_a_subdirectory_finds_the_repo_root(repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo / SUITE)
    assert run(capsys, "plan", "--suite", ".")[0] == 0


def test_plan_with_an_explicit_releases_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # No pants.toml anywhere: --releases is enough.
    (tmp_path / "BUILD").write_text(SUITE_BUILD)
    (tmp_path / "r.py").write_text(RELEASES_PY.replace('"earliest": "0.1.0"', '"earliest": "0.2.0"'))
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "plan", "--suite", ".", "--releases", "r.py", "--cell", "user-code-earliest")
    assert (code, err) == (0, "")
    assert "0.2.0 (earliest)" in out


def test_plan_unknown_cell(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan", "--suite", SUITE, "--cell", "server-newest")
    assert code == 2 and out == ""
    assert_one_line_error(err, "'server-newest'", "server-latest, user-code-earliest")


def test_plan_invalid_suite(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / SUITE / "BUILD").write_text(SUITE_BUILD.replace('"latest"', '"0.9.0"'))
    code, _, err = run(capsys, "plan", "--suite", SUITE)
    assert code == 2
    assert_one_line_error(err, "suite 'backcompat', cell 'server-latest'", "'0.9.0'", "generate-lockfiles")


def test_plan_non_literal_declaration(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / SUITE / "BUILD").write_text(SUITE_BUILD.replace("full_matrix=True", "full_matrix=FULL"))
    code, _, err = run(capsys, "plan", "--suite", SUITE)
    assert code == 2
    assert_one_line_error(err, "BUILD:2", "full_matrix= must be a literal")


def test_plan_unknown_system(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / SUITE / "BUILD").write_text(SUITE_BUILD.replace('system="conveyor"', 'system="os.path"'))
    code, _, err = run(capsys, "plan", "--suite", SUITE)
    assert code == 2
    assert_one_line_error(err, "unknown system 'os.path'", "known systems: conveyor")


def test_plan_bad_earliest_override(repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EARLIEST_ENV, "0.0.1")
    code, _, err = run(capsys, "plan", "--suite", SUITE)
    assert code == 2
    assert_one_line_error(err, "EARLIEST_TESTED_RELEASE='0.0.1'", "--resolve=conveyor-0.0.1")


def test_plan_outside_a_repo(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "BUILD").write_text(SUITE_BUILD)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "plan", "--suite", ".")
    assert code == 2
    assert_one_line_error(err, "no pants.toml found")


def test_plan_missing_suite_argument(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "plan")
    assert code == 2 and "--suite" in err


# --- releases check ------------------------------------------------------------------------------


def test_releases_check_current(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "releases", "check")
    assert (code, err) == (0, "")
    assert "index:    3rdparty/python/releases/wheels" in out
    assert "up to date: 0.2.0 is the newest release" in out
    assert "conveyor-0.3.0rc1.tar.gz (pre-release)" in out


def test_releases_check_newer(repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "3rdparty/python/releases/wheels/conveyor-0.3.0-py3-none-any.whl").write_bytes(b"")
    monkeypatch.chdir(repo / SUITE)  # the index is relative to the repo root, not the cwd
    code, out, _ = run(capsys, "releases", "check")
    assert code == 1
    assert "NEWER releases: 0.3.0" in out


def test_releases_check_explicit_index(repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    page = tmp_path / "conveyor.html"
    page.write_text(
        '<a href="conveyor-0.1.0.tar.gz">x</a><a href="conveyor-0.2.0.tar.gz">x</a>'
        '<a href="conveyor-0.4.0.tar.gz" data-yanked="">x</a><a href="conveyor-0.2.1.tar.gz">x</a>'
    )
    code, out, _ = run(capsys, "releases", "check", "--index", str(page))
    assert code == 1
    assert "NEWER releases: 0.2.1" in out and "conveyor-0.4.0.tar.gz (yanked)" in out


def test_releases_check_missing_pin(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "3rdparty/python/releases/wheels/conveyor-0.1.0-py3-none-any.whl").unlink()
    code, out, _ = run(capsys, "releases", "check")
    assert code == 2
    assert "MISSING from the index: 0.1.0" in out


def test_releases_check_unreadable_index(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "releases", "check", "--index", "no/such/dir")
    assert code == 2 and out == ""
    assert_one_line_error(err, "no/such/dir", "--index PATH_OR_URL")


def test_releases_check_without_an_index(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / RELEASES_FILE).write_text(RELEASES_PY.replace('        "index": "3rdparty/python/releases/wheels",\n', ""))
    code, _, err = run(capsys, "releases", "check")
    assert code == 2
    assert_one_line_error(err, "no index configured")


def test_releases_check_bad_releases_file(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / RELEASES_FILE).write_text("RELEASES = load()\n")
    code, _, err = run(capsys, "releases", "check")
    assert code == 2
    assert_one_line_error(err, RELEASES_FILE, "literal dict")


# --- the command table ---------------------------------------------------------------------------


def test_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == 2 and "compat-matrix: error: name a command" in err
    code, _, err = run(capsys, "releases")
    assert code == 2 and "name a command" in err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "plan" in out and "releases" in out


def test_a_command_is_one_table_entry(capsys: pytest.CaptureFixture[str]) -> None:
    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--who")

    def greet(args: argparse.Namespace) -> int:
        print(f"hello {args.who}")
        return 0

    commands = (*COMMANDS, Command(("example", "greet"), "an example subcommand", configure, greet))
    assert main(["example", "greet", "--who", "s1"], commands) == 0
    assert capsys.readouterr().out == "hello s1\n"
    assert "example" in build_parser(commands).format_help()

"""The ``compat-matrix`` command table and ``releases check --system FILE``, on a throwaway repo."""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from compat_core.codec import to_data
from compat_core.declare import parse_releases
from compat_matrix.cli import COMMANDS, Command, build_parser, main
from compat_matrix.testing import FAKE_SYSTEM

WHEELS = "3rdparty/python/releases/wheels"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *fragments: str) -> None:
    assert err.startswith("compat-matrix: error: "), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout with a release index, and the fake system as `./pants compat-plan --json` prints it."""
    (tmp_path / "pants.toml").write_text("[GLOBAL]\n")
    wheels = tmp_path / WHEELS
    wheels.mkdir(parents=True)
    for name in ("fake-0.1.0-py3-none-any.whl", "fake-0.2.0-py3-none-any.whl", "fake-0.3.0rc1.tar.gz"):
        (wheels / name).write_bytes(b"")
    system = replace(FAKE_SYSTEM, releases=parse_releases("fake", ["0.1.0", "0.2.0"], "0.1.0", index=WHEELS))
    (tmp_path / "system.json").write_text(json.dumps(to_data(system)))
    # From a subdirectory: the system's index is relative to the repo root, not the cwd.
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    return tmp_path


def test_releases_check_current(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "releases", "check", "--system", "../system.json")
    assert (code, err) == (0, "")
    assert f"index:    {WHEELS}" in out
    assert "up to date: 0.2.0 is the newest release" in out
    assert "fake-0.3.0rc1.tar.gz (pre-release)" in out


def test_releases_check_newer(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / WHEELS / "fake-0.3.0-py3-none-any.whl").write_bytes(b"")
    code, out, _ = run(capsys, "releases", "check", "--system", "../system.json")
    assert code == 1
    assert "NEWER releases: 0.3.0" in out


def test_releases_check_explicit_index(repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    page = tmp_path / "fake.html"
    page.write_text(
        '<a href="fake-0.1.0.tar.gz">x</a><a href="fake-0.2.0.tar.gz">x</a>'
        '<a href="fake-0.4.0.tar.gz" data-yanked="">x</a><a href="fake-0.2.1.tar.gz">x</a>'
    )
    code, out, _ = run(capsys, "releases", "check", "--system", "../system.json", "--index", str(page))
    assert code == 1
    assert "NEWER releases: 0.2.1" in out and "fake-0.4.0.tar.gz (yanked)" in out


def test_releases_check_unreadable_index(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "releases", "check", "--system", "../system.json", "--index", "no/such/dir")
    assert code == 2 and out == ""
    assert_one_line_error(err, "no/such/dir", "--index PATH_OR_URL")


def test_releases_check_without_an_index(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads((repo / "system.json").read_text())
    data["releases"]["index"] = ""
    (repo / "system.json").write_text(json.dumps(data))
    code, _, err = run(capsys, "releases", "check", "--system", "../system.json")
    assert code == 2
    assert_one_line_error(err, "system 'fake' has no release_index", "--index PATH_OR_URL")


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, "cannot read the system ../system.json"),
        ("{not json", "cannot read the system ../system.json"),
        ('{"name": "fake"}', "../system.json is not a system (KeyError: 'releases')"),
    ],
    ids=["missing", "not-json", "not-a-system"],
)
def test_releases_check_needs_a_system(
    repo: Path, capsys: pytest.CaptureFixture[str], content: str | None, expected: str
) -> None:
    if content is None:
        (repo / "system.json").unlink()
    else:
        (repo / "system.json").write_text(content)
    code, _, err = run(capsys, "releases", "check", "--system", "../system.json")
    assert code == 2
    assert_one_line_error(err, expected)
    if content != '{"name": "fake"}':
        assert "./pants compat-plan --json <compat_system target>" in err


def test_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == 2 and "compat-matrix: error: name a command" in err
    code, _, err = run(capsys, "releases")
    assert code == 2 and "name a command" in err


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    listed = re.findall(r"^    (\w+) ", out, re.MULTILINE)
    assert listed == ["releases", "up", "down", "reap"]  # `plan` is `./pants compat-plan` now


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

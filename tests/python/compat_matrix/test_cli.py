"""The ``compat-matrix`` command table, and ``releases check`` / ``releases pin`` on a throwaway repo
whose releases are tiny wheels in a local find-links directory (no network) and whose ``./pants``
is a stand-in that writes the lockfiles it is asked for."""

from __future__ import annotations

import argparse
import json
import re
import stat
import zipfile
from pathlib import Path

import pytest

from compat_matrix.cli import COMMANDS, Command, build_parser, main

WHEELS = "3rdparty/python/releases/wheels"
PIN = "./pants run src/python/compat_matrix:cli -- releases pin"

PANTS_TOML = """[GLOBAL]
pants_version = "2.17.1"

[python.resolves]
python-default = "3rdparty/python/python-default.lock"
"fake-0.1.0" = "3rdparty/python/releases/fake-0.1.0.lock"
"fake-0.2.0" = "3rdparty/python/releases/fake-0.2.0.lock"
# The test tools.
mypy = "3rdparty/python/tools/mypy.lock"

[python-repos]
# The local release index.
find_links = ["file://%(buildroot)s/3rdparty/python/releases/wheels"]
"""

BUILD = """# fake: a system under test.
python_sources(name="lib")

compat_system(
    name="fake",
    roles=[
        compat_role("web", module="fake.cli:main", args=["--port", "{port[main]}"], ports=["main"],
                    readiness=http_probe("main", "/health")),
    ],
    # Each release is a wheel in the local index.
    releases=["0.1.0", "0.2.0"],
    release_requirements=["fake=={version}", "six==1.17.0"],
    earliest="0.1.0",  # the oldest kept compatible
    release_index="3rdparty/python/releases/wheels",
)
"""

# Records its arguments and PEX_ROOT (which must not reach Pants), then writes the lockfile of each
# --resolve=NAME, or fails when the file `fail` exists.
FAKE_PANTS = """#!/bin/sh
echo "$* PEX_ROOT=${PEX_ROOT:-unset}" >> pants-calls.txt
[ -e fail ] && { echo "pants: resolve failed" >&2; exit 1; }
for arg in "$@"; do
  case "$arg" in --resolve=*) echo "// lockfile" > "3rdparty/python/releases/${arg#--resolve=}.lock" ;; esac
done
"""


def make_wheel(directory: Path, name: str, version: str) -> None:
    """A tiny, valid wheel of ``name`` ``version``."""
    dist = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(directory / f"{name}-{version}-py3-none-any.whl", "w") as wheel:
        wheel.writestr(f"{name}/__init__.py", f"__version__ = {version!r}\n")
        wheel.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        wheel.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{dist}/RECORD", "")


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
    """A checkout with the fake system pinned at 0.1.0 and 0.2.0, their lockfiles, and a release index."""
    root = tmp_path / "repo"
    wheels = root / WHEELS
    wheels.mkdir(parents=True)
    for version in ("0.1.0", "0.2.0"):
        make_wheel(wheels, "fake", version)
        (root / f"3rdparty/python/releases/fake-{version}.lock").write_text("// lockfile\n")
    (wheels / "fake-0.3.0rc1-py3-none-any.whl").write_bytes(b"")
    (root / "pants.toml").write_text(PANTS_TOML)
    (root / "src" / "fake").mkdir(parents=True)
    (root / "src" / "fake" / "BUILD").write_text(BUILD)
    (root / "pants").write_text(FAKE_PANTS)
    (root / "pants").chmod((root / "pants").stat().st_mode | stat.S_IXUSR)
    # From a subdirectory: paths are relative to the repo root, not the cwd.
    monkeypatch.chdir(root / "src")
    # Set by the CLI's own PEX under `./pants run`; it must not reach the Pants it runs.
    monkeypatch.setenv("PEX_ROOT", "/somewhere")
    return root


def calls(repo: Path) -> list[str]:
    path = repo / "pants-calls.txt"
    return path.read_text().splitlines() if path.exists() else []


def snapshot(repo: Path) -> dict[str, str]:
    return {str(p.relative_to(repo)): p.read_text(errors="replace") for p in sorted(repo.rglob("*")) if p.is_file()}


# --- releases check ------------------------------------------------------------------------------


def test_releases_check_current(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "releases", "check", "src/fake:fake")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"fake (src/fake:fake), fake on {WHEELS}"
    assert "pinned:   0.1.0 (earliest), 0.2.0 (latest)" in out
    assert "1 file ignored as pre-releases or yanked" in out and out.rstrip().endswith("up to date")


def test_releases_check_newer(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_wheel(repo / WHEELS, "fake", "0.3.0")
    make_wheel(repo / WHEELS, "fake", "0.4.0")
    code, out, _ = run(capsys, "releases", "check", "src/fake")
    assert code == 1
    assert "newer:    0.3.0, 0.4.0 (2 releases behind)" in out
    assert f"to pin the newest: {PIN} src/fake:fake 0.4.0" in out
    assert run(capsys, "releases", "check", "src/fake:fake", "--max-behind", "2")[0] == 0
    code, out, _ = run(capsys, "releases", "check", "//src/fake:fake", "--json")
    (data,) = json.loads(out)
    assert code == 1 and data["behind"] == 2 and data["command"] == f"{PIN} src/fake:fake 0.4.0"
    assert "fake-0.3.0rc1-py3-none-any.whl (pre-release)" in run(capsys, "releases", "check", "src/fake:fake", "--all")[1]


def test_releases_check_explicit_index(repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    page = tmp_path / "fake.html"
    page.write_text(
        '<a href="fake-0.1.0.tar.gz">x</a><a href="fake-0.2.0.tar.gz">x</a>'
        '<a href="fake-0.4.0.tar.gz" data-yanked="">x</a><a href="fake-0.2.1.tar.gz">x</a>'
    )
    code, out, _ = run(capsys, "releases", "check", "src/fake:fake", "--index", str(page), "--all")
    assert code == 1
    assert "newer:    0.2.1 (1 release behind)" in out and "fake-0.4.0.tar.gz (yanked)" in out


def test_releases_check_unreadable_index(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "releases", "check", "src/fake:fake", "--index", "no/such/dir")
    assert code == 2 and out == ""
    assert_one_line_error(err, "no/such/dir", "--index PATH_OR_URL")


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("src/fake:other", "src/fake/BUILD declares no compat_system(name='other', ...)"),
        ("src/nothing:fake", "no BUILD file in src/nothing/"),
        ("src/fake:", "'src/fake:' is not a target address"),
        (":fake", "no BUILD file in ./"),
    ],
)
def test_releases_check_needs_a_system(repo: Path, capsys: pytest.CaptureFixture[str], address: str, expected: str) -> None:
    code, _, err = run(capsys, "releases", "check", address)
    assert code == 2
    assert_one_line_error(err, expected)


def test_releases_check_refuses_a_computed_field(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build = repo / "src/fake/BUILD"
    build.write_text(build.read_text().replace('releases=["0.1.0", "0.2.0"]', "releases=RELEASES"))
    code, _, err = run(capsys, "releases", "check", "src/fake:fake")
    assert code == 2
    assert_one_line_error(err, "src/fake/BUILD, compat_system(name='fake'): releases=RELEASES is not a literal")


# --- releases pin --------------------------------------------------------------------------------


def test_pin_a_newer_release_from_the_wheels_directory(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_wheel(repo / WHEELS, "fake", "0.3.0")
    before = snapshot(repo)
    code, out, err = run(capsys, "releases", "pin", "src/fake:fake", "0.3.0")
    assert (code, err) == (0, ""), err
    after = snapshot(repo)
    assert after["src/fake/BUILD"] == BUILD.replace('releases=["0.1.0", "0.2.0"]', 'releases=["0.1.0", "0.2.0", "0.3.0"]')
    assert after["pants.toml"] == PANTS_TOML.replace(
        '"fake-0.2.0" = "3rdparty/python/releases/fake-0.2.0.lock"\n',
        '"fake-0.2.0" = "3rdparty/python/releases/fake-0.2.0.lock"\n'
        '"fake-0.3.0" = "3rdparty/python/releases/fake-0.3.0.lock"\n',
    )
    assert after["3rdparty/python/releases/fake-0.3.0.lock"] == "// lockfile\n"
    assert calls(repo) == ["--concurrent generate-lockfiles --resolve=fake-0.3.0 PEX_ROOT=unset"]
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {"src/fake/BUILD", "pants.toml", "3rdparty/python/releases/fake-0.3.0.lock", "pants-calls.txt"}
    assert "running ./pants --concurrent generate-lockfiles --resolve=fake-0.3.0" in out
    assert "fake: releases 0.1.0, 0.2.0, 0.3.0; earliest 0.1.0" in out and "pinned 0.3.0" in out

    # Idempotent: the same command again changes nothing and runs no Pants.
    code, out, _ = run(capsys, "releases", "pin", "src/fake:fake", "0.3.0")
    assert code == 0 and "nothing to change" in out
    assert snapshot(repo) == after


def test_pin_moves_earliest_and_drops_what_falls_out(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "releases", "pin", "src/fake:fake", "--earliest", "0.2.0")
    assert (code, err) == (0, ""), err
    build = (repo / "src/fake/BUILD").read_text()
    assert 'releases=["0.2.0"],' in build and 'earliest="0.2.0",  # the oldest kept compatible' in build
    assert '"fake-0.1.0"' not in (repo / "pants.toml").read_text()
    assert not (repo / "3rdparty/python/releases/fake-0.1.0.lock").exists()
    assert (repo / WHEELS / "fake-0.1.0-py3-none-any.whl").exists()  # the release itself stays in the index
    assert calls(repo) == []
    assert "dropped 0.1.0, with their resolves and lockfiles" in out and "earliest moves from 0.1.0 to 0.2.0" in out


def test_pin_restores_a_missing_resolve_and_lockfile(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = repo / "pants.toml"
    toml.write_text(toml.read_text().replace('"fake-0.2.0" = "3rdparty/python/releases/fake-0.2.0.lock"\n', ""))
    (repo / "3rdparty/python/releases/fake-0.2.0.lock").unlink()
    code, out, err = run(capsys, "releases", "pin", "src/fake:fake")
    assert (code, err) == (0, ""), err
    assert toml.read_text() == PANTS_TOML
    assert calls(repo) == ["--concurrent generate-lockfiles --resolve=fake-0.2.0 PEX_ROOT=unset"]
    assert "edited pants.toml" in out and "generated 3rdparty/python/releases/fake-0.2.0.lock" in out


def test_pin_dry_run_changes_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_wheel(repo / WHEELS, "fake", "0.3.0")
    before = snapshot(repo)
    code, out, _ = run(capsys, "releases", "pin", "src/fake:fake", "0.3.0", "--earliest", "0.2.0", "--dry-run")
    assert code == 0 and snapshot(repo) == before
    assert '-    releases=["0.1.0", "0.2.0"],\n+    releases=["0.2.0", "0.3.0"],' in out
    assert '+"fake-0.3.0" = "3rdparty/python/releases/fake-0.3.0.lock"' in out
    assert "would delete 3rdparty/python/releases/fake-0.1.0.lock" in out
    assert "would run ./pants --concurrent generate-lockfiles --resolve=fake-0.3.0" in out


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["0.9.0"], [f"{WHEELS} has no release 0.9.0 of fake (its newest: 0.1.0, 0.2.0, 0.3.0)"]),
        (["0.3.0rc1"], ["release '0.3.0rc1' cannot be pinned: it is a pre-release"]),
        (["0.3.0", "--earliest", "0.0.1"], [f"{WHEELS} has no release 0.0.1 of fake"]),
    ],
)
def test_pin_refuses_a_release_the_index_does_not_have(
    repo: Path, capsys: pytest.CaptureFixture[str], argv: list[str], fragments: list[str]
) -> None:
    make_wheel(repo / WHEELS, "fake", "0.3.0")
    before = snapshot(repo)
    code, _, err = run(capsys, "releases", "pin", "src/fake:fake", *argv)
    assert code == 2 and snapshot(repo) == before
    assert_one_line_error(err, *fragments)


def test_pin_with_a_support_policy(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build = repo / "src/fake/BUILD"
    build.write_text(build.read_text().replace('    earliest="0.1.0"', '    support="last 2 minor",\n    earliest="0.1.0"'))
    for version in ("0.2.1", "0.3.0", "0.3.1"):
        make_wheel(repo / WHEELS, "fake", version)
    code, out, _ = run(capsys, "releases", "check", "src/fake:fake")
    assert code == 1 and "support:  last 2 minor now selects earliest 0.2.1 (pinned: 0.1.0)" in out
    code, out, err = run(capsys, "releases", "pin", "src/fake:fake", "0.3.1")
    assert (code, err) == (0, ""), err
    text = build.read_text()
    assert 'releases=["0.2.1", "0.3.1"],' in text and 'earliest="0.2.1",' in text
    assert 'support="last 2 minor",' in text
    assert calls(repo) == ["--concurrent generate-lockfiles --resolve=fake-0.2.1 --resolve=fake-0.3.1 PEX_ROOT=unset"]
    assert "support 'last 2 minor' selects earliest 0.2.1 (the newest release of 0.2)" in out
    assert "dropped 0.1.0, 0.2.0" in out
    # --earliest would contradict the policy.
    code, _, err = run(capsys, "releases", "pin", "src/fake:fake", "--earliest", "0.3.1")
    assert code == 2
    assert_one_line_error(err, "declares support='last 2 minor', which decides earliest")


def test_a_months_policy_needs_an_index_with_dates(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build = repo / "src/fake/BUILD"
    build.write_text(build.read_text().replace('    earliest="0.1.0"', '    support="12 months",\n    earliest="0.1.0"'))
    code, _, err = run(capsys, "releases", "pin", "src/fake:fake")
    assert code == 2
    assert_one_line_error(err, "support '12 months' needs the day each release was published", "find-links directory")


def test_pin_needs_the_index_in_pants_repos(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = repo / "pants.toml"
    toml.write_text(toml.read_text().replace('find_links = ["file://%(buildroot)s/3rdparty/python/releases/wheels"]', "find_links = []"))
    make_wheel(repo / WHEELS, "fake", "0.3.0")
    before = snapshot(repo)
    code, _, err = run(capsys, "releases", "pin", "src/fake:fake", "0.3.0")
    assert code == 2 and snapshot(repo) == before
    assert_one_line_error(err, "not in [python-repos].find_links", '"file://%(buildroot)s/3rdparty/python/releases/wheels"')


def test_a_failed_lockfile_generation_is_finished_by_running_it_again(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_wheel(repo / WHEELS, "fake", "0.3.0")
    (repo / "fail").write_text("")
    code, _, err = run(capsys, "releases", "pin", "src/fake:fake", "0.3.0")
    assert code == 2
    assert_one_line_error(err, "generate-lockfiles --resolve=fake-0.3.0 failed (exit 1", "run the same releases pin again")
    assert '"0.3.0"' in (repo / "src/fake/BUILD").read_text()
    (repo / "fail").unlink()
    code, out, _ = run(capsys, "releases", "pin", "src/fake:fake", "0.3.0")
    assert code == 0 and "generated 3rdparty/python/releases/fake-0.3.0.lock" in out
    assert (repo / "3rdparty/python/releases/fake-0.3.0.lock").exists()
    assert len(calls(repo)) == 2


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

"""The ./pants launcher: argument forms, the bootstrap and its fast path, the Docker fallback.

Runs the real launcher script with stand-ins for what it bootstraps (tests/python/launcher/fakes.py):
its `pants` prints the argv it was given.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import termios
from pathlib import Path

import pytest

from compat_matrix.testing import eventually
from launcher.fakes import fake_python39

LAUNCHER = Path("pants").resolve()


class Launcher:
    def __init__(self, tmp_path: Path, launcher: Path = LAUNCHER) -> None:
        self.launcher = launcher
        self.cache = tmp_path / "cache"
        self.bootstraps = tmp_path / "bootstraps.log"
        fakes = fake_python39(tmp_path / "bin", self.bootstraps)
        self.env = {
            "PATH": f"{fakes.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(tmp_path / "home"),
            "COMPAT_MATRIX_CACHE_DIR": str(self.cache),
            "COMPAT_MATRIX_NO_DOCKER": "1",
            "COMPAT_MATRIX_NO_BROWSER": "1",
            "COMPAT_MATRIX_NO_REPORT": "1",
        }

    def run(self, *args: str, check: bool = True, **env: str | None) -> subprocess.CompletedProcess[str]:
        """Runs the launcher; an env value of None removes that variable."""
        merged: dict[str, str | None] = {**self.env, **env}
        environ = {k: v for k, v in merged.items() if v is not None}
        out = subprocess.run([str(self.launcher), *args], capture_output=True, text=True, env=environ)
        if check and out.returncode != 0:
            raise AssertionError(f"launcher exited {out.returncode}:\n{out.stderr}")
        return out

    def argv(self, *args: str, **env: str | None) -> list[str]:
        return self.run(*args, check=True, **env).stdout.splitlines()

    def bootstrap_count(self) -> int:
        return len(self.bootstraps.read_text().splitlines()) if self.bootstraps.exists() else 0


@pytest.fixture
def launcher(tmp_path: Path) -> Launcher:
    return Launcher(tmp_path)


@pytest.mark.parametrize(
    "argv, expected",
    [
        # The form users type: a global flag after the goal (Pants 2.17 rejects it there).
        (["test", "--tag=user-code-earliest", "::"], ["--tag=user-code-earliest", "test", "::"]),
        # Pants' own form is passed through unchanged.
        (["--tag=user-code-earliest", "test", "::"], ["--tag=user-code-earliest", "test", "::"]),
        (["test", "::", "--tag=smoke"], ["--tag=smoke", "test", "::"]),
        # Flag and value as two words move together; several global flags keep their order.
        (["test", "--tag", "smoke", "--no-local-cache", "::"], ["--tag", "smoke", "--no-local-cache", "test", "::"]),
        # Goal-scoped flags stay where they are.
        (["test", "--force", "--tag=-docker", "::"], ["--tag=-docker", "test", "--force", "::"]),
        (["--version"], ["--version"]),
        # Regression: arguments after `--` belong to what `run` starts; none of them may move.
        (["run", "X", "--", "-l", "5", "--tag", "x"], ["run", "X", "--", "-l", "5", "--tag", "x"]),
        (["--tag=a", "run", "X", "--", "--tag=b"], ["--tag=a", "run", "X", "--", "--tag=b"]),
    ],
)
def test_global_flags_move_in_front_of_the_goal(launcher: Launcher, argv: list[str], expected: list[str]) -> None:
    assert launcher.argv(*argv) == expected


def test_bootstraps_once_then_takes_the_fast_path(launcher: Launcher) -> None:
    launcher.run("--version")
    launcher.run("--version")
    assert launcher.bootstrap_count() == 1


def test_a_deleted_pants_venv_is_bootstrapped_again(launcher: Launcher) -> None:
    # Regression: the fast path trusted its env file although the venv it names was gone.
    launcher.run("--version")
    (venv,) = launcher.cache.glob("pants-*/venv")
    shutil.rmtree(venv)
    assert launcher.argv("--version") == ["--version"]
    assert launcher.bootstrap_count() == 2


def test_a_deleted_pex_cli_is_built_again(launcher: Launcher) -> None:
    launcher.run("--version")
    (pex_cli,) = launcher.cache.glob("pants-*/pex-*")
    pex_cli.unlink()
    assert launcher.argv("--version") == ["--version"]
    assert pex_cli.exists()


def test_the_pex_cli_is_built_by_the_pex_version_it_holds(launcher: Launcher) -> None:
    # Regression: a venv left by an older launcher kept its pex 2.1.137, which built the 2.1.163
    # CLI; the two pex versions then raced on one INTERP-INFO ("Invalid interpreter identity").
    launcher.run("--version")
    (venv,) = launcher.cache.glob("pants-*/venv")
    pinned = (venv / "bin/pex-version").read_text().strip()
    (venv / "bin/pex-version").write_text("2.1.137\n")
    (pex_cli,) = launcher.cache.glob("pants-*/pex-*")
    pex_cli.unlink()
    launcher.run("--version")
    assert (venv / "bin/pex-version").read_text().strip() == pinned


def test_another_pex_version_is_bootstrapped_anew(tmp_path: Path) -> None:
    # Regression: the env file's path did not carry the pex version, so changing it changed nothing.
    checkout = tmp_path / "checkout"
    (checkout / "build-support").mkdir(parents=True)
    shutil.copytree("build-support/bootstrap", checkout / "build-support/bootstrap")
    shutil.copy("pants.toml", checkout)
    text = LAUNCHER.read_text()
    (pinned,) = re.findall(r'^pex_version="([0-9.]+)"', text, re.MULTILINE)
    (checkout / "pants").write_text(text)
    (checkout / "pants").chmod(0o755)
    launcher = Launcher(tmp_path, checkout / "pants")
    launcher.run("--version")
    (checkout / "pants").write_text(text.replace(f'pex_version="{pinned}"', 'pex_version="2.1.999"'))
    launcher.run("--version")
    assert [p.name.split("-")[1] for p in sorted(launcher.cache.glob("pants-*/pex-*"))] == [pinned, "2.1.999"]


def test_unreachable_docker_host_is_named_and_docker_targets_left_out(launcher: Launcher) -> None:
    # Regression: with DOCKER_HOST pointing at a dead engine, the launcher started a second
    # dockerd and printed the local engine's log.
    dead = "unix:///nonexistent/compat-matrix-test.sock"
    out = launcher.run("package", "::", COMPAT_MATRIX_NO_DOCKER=None, DOCKER_HOST=dead)
    assert out.stdout.splitlines() == ["--tag=-docker", "package", "::"]
    (said,) = (line for line in out.stderr.splitlines() if "docker targets left out" in line)
    assert f"DOCKER_HOST={dead} does not answer" in said
    assert not list(launcher.cache.glob("docker/dockerd.*")), "a local dockerd was started"


def test_in_ci_a_missing_engine_is_an_error(launcher: Launcher) -> None:
    dead = "unix:///nonexistent/compat-matrix-test.sock"
    out = launcher.run("test", "::", check=False, COMPAT_MATRIX_NO_DOCKER=None, DOCKER_HOST=dead, CI="true")
    assert out.returncode != 0
    assert out.stdout == "", "Pants ran without the docker cells in CI"
    assert f"DOCKER_HOST={dead} does not answer" in out.stderr
    assert not list(launcher.cache.glob("docker/dockerd.*"))


MATRIX_PEEK = (
    '[{"address": "t/backcompat:user-code-earliest-process", "target_type": "python_tests",'
    ' "tags": ["user-code-earliest", "backcompat", "process", "matrix"]},'
    ' {"address": "t/backcompat:server-latest-docker", "target_type": "python_tests",'
    ' "tags": ["server-latest", "backcompat", "docker", "matrix"]}]'
)


def test_a_tag_that_selects_no_test_fails_with_the_closest_cell(launcher: Launcher) -> None:
    # Regression: `--tag=user-code-earlist test ::` exited 0 having run nothing.
    out = launcher.run(
        "test", "--tag=user-code-earlist", "::", check=False, FAKE_PANTS_SELECTED="", FAKE_PANTS_PEEK=MATRIX_PEEK
    )
    assert out.returncode == 1
    assert "test" not in out.stdout.splitlines(), "Pants ran the empty selection"
    assert "--tag=user-code-earlist selects no test target" in out.stderr
    assert "Did you mean user-code-earliest?" in out.stderr
    assert "Known cells: server-latest, user-code-earliest" in out.stderr


@pytest.mark.parametrize("args", [["--tag="], ["--tag=,"], ["--tag=backcompat,"], ["--tag= "], ["--tag=-"], ["--tag", ""]])
def test_an_empty_or_blank_tag_is_refused(launcher: Launcher, args: list[str]) -> None:
    # Regression: `./pants --tag= test ::` and `--tag=,` ran nothing and exited 0.
    for goal in (["test", "::"], ["--changed-since=HEAD", "test"], ["package", "::"]):
        out = launcher.run(*args, *goal, check=False, FAKE_PANTS_PEEK=MATRIX_PEEK)
        assert out.returncode == 1, (args, goal, out.stderr)
        assert out.stdout == "", f"Pants ran {args + goal}"
        assert "names an empty or blank tag" in out.stderr
        assert "Name a tag in every comma-separated item (e.g. --tag=backcompat" in out.stderr


def test_a_selection_with_tests_runs(launcher: Launcher) -> None:
    assert launcher.argv("test", "--tag=user-code-earliest", "::") == ["--tag=user-code-earliest", "test", "::"]


def test_changed_since_may_select_nothing(launcher: Launcher) -> None:
    argv = launcher.argv("--changed-since=HEAD", "--tag=x", "test", FAKE_PANTS_SELECTED="")
    assert argv == ["--changed-since=HEAD", "--tag=x", "test"]


def report_checkout(tmp_path: Path) -> tuple[Path, Path]:
    """A checkout with the launcher and the report module, and an earlier run's test report in it."""
    checkout = tmp_path / "checkout"
    shutil.copytree("build-support/bootstrap", checkout / "build-support/bootstrap")
    shutil.copytree("src/python/compat_matrix", checkout / "src/python/compat_matrix")
    shutil.copytree("src/core/compat_core", checkout / "src/core/compat_core")
    for name in ("pants", "pants.toml"):
        shutil.copy(name, checkout)
    earlier = checkout / "dist/test/reports/tests.python.old.test_old.py.tests.xml"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("<testsuites/>")
    return checkout, earlier


PASSING_JUNIT = (
    '<testsuites><testsuite name="pytest" tests="1" failures="0" errors="0" skipped="0" time="0.5" '
    'timestamp="2001-01-01T00:00:00+00:00"><testcase classname="x" name="test_a" /></testsuite></testsuites>'
)


def test_the_matrix_report_is_complete_when_the_launcher_returns(tmp_path: Path) -> None:
    # Regression: a background watcher wrote the report after the launcher had returned, so a
    # script reading it right away read the previous run's.
    checkout, _ = report_checkout(tmp_path)
    junit = tmp_path / "tests.python.x.test_x.py.tests.xml"
    junit.write_text(PASSING_JUNIT)
    written = checkout / "dist/compat-matrix/report.json"
    written.parent.mkdir(parents=True)
    written.write_text('{"targets": [], "an": "earlier run"}')
    launcher = Launcher(tmp_path, checkout / "pants")

    out = launcher.run("test", "::", COMPAT_MATRIX_NO_REPORT=None, FAKE_PANTS_JUNIT=str(junit))

    data = json.loads(written.read_text())
    # Earlier runs' reports are cleared; one older than the run means a cached result.
    assert [(t["address"], t["source"]) for t in data["targets"]] == [("tests/python/x/test_x.py:tests", "cache")]
    assert (data["verdict"], data["pants_exit_code"]) == ("passed", 0)
    assert (checkout / "dist/compat-matrix/report.html").exists()
    assert "compat-matrix report: dist/compat-matrix/report.html: PASSED" in out.stderr
    assert out.stdout.splitlines() == ["test", "::"]


def test_pants_exit_code_is_the_launchers_and_the_reports(tmp_path: Path) -> None:
    checkout, _ = report_checkout(tmp_path)
    junit = tmp_path / "tests.python.x.test_x.py.tests.xml"
    junit.write_text(PASSING_JUNIT)
    launcher = Launcher(tmp_path, checkout / "pants")

    out = launcher.run("test", "::", check=False, COMPAT_MATRIX_NO_REPORT=None, FAKE_PANTS_JUNIT=str(junit), FAKE_PANTS_EXIT="3")

    assert out.returncode == 3
    data = json.loads((checkout / "dist/compat-matrix/report.json").read_text())
    # Every report passed, yet Pants failed (a target without a report, say): the verdict is failed.
    assert (data["verdict"], data["pants_exit_code"]) == ("failed", 3)


def held_test_run(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A checkout whose stand-in Pants, run as `test`, writes a passing report, writes its pid to
    the returned file and holds until signalled; and the launcher's environment for it (the
    report on)."""
    checkout, _ = report_checkout(tmp_path)
    junit = tmp_path / "tests.python.x.test_x.py.tests.xml"
    junit.write_text(PASSING_JUNIT)
    launcher = Launcher(tmp_path, checkout / "pants")
    hold = tmp_path / "pants.pid"
    env = {**launcher.env, "FAKE_PANTS_JUNIT": str(junit), "FAKE_PANTS_HOLD": str(hold)}
    env.pop("COMPAT_MATRIX_NO_REPORT")
    return checkout, hold, env


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_to_the_launcher_stops_pants_and_the_run_is_reported(tmp_path: Path, sig: signal.Signals) -> None:
    checkout, hold, env = held_test_run(tmp_path)
    # Its own session: no terminal delivers Ctrl-C to Pants, so the launcher passes SIGINT on.
    proc = subprocess.Popen([str(checkout / "pants"), "test", "::"], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        eventually(lambda: hold.exists() and bool(hold.read_text().strip()), timeout=60, what="Pants started")
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + sig, stderr
    assert (tmp_path / "pants.pid.signals").read_text().split() == [sig.name.removeprefix("SIG")]
    data = json.loads((checkout / "dist/compat-matrix/report.json").read_text())
    assert (data["verdict"], data["pants_exit_code"], len(data["targets"])) == ("failed", 128 + sig, 1)


def test_a_launcher_killed_outright_stops_pants(tmp_path: Path) -> None:
    # Nothing is passed on from a SIGKILL: the kernel's parent-death signal tells Pants instead, so
    # that the run stops (and its cells clean up) rather than going on unseen.
    checkout, hold, env = held_test_run(tmp_path)
    proc = subprocess.Popen([str(checkout / "pants"), "test", "::"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    signals = tmp_path / "pants.pid.signals"
    try:
        eventually(lambda: hold.exists() and bool(hold.read_text().strip()), timeout=60, what="Pants started")
        proc.kill()
        proc.wait(timeout=60)
        eventually(lambda: signals.exists() and signals.read_text().split() == ["TERM"], timeout=60,
                   what="Pants told of the launcher's death")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_ctrl_c_at_a_terminal_stops_pants_and_the_run_is_reported(tmp_path: Path) -> None:
    # The terminal sends SIGINT to its foreground group, which Pants shares with the launcher: Pants
    # gets it from the terminal, and the launcher still writes the report.
    checkout, hold, env = held_test_run(tmp_path)
    controller, terminal = os.openpty()

    def take_the_terminal() -> None:  # the new session's controlling terminal, its group in the foreground
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([str(checkout / "pants"), "test", "::"], env=env, start_new_session=True,
                            preexec_fn=take_the_terminal, stdin=terminal, stdout=terminal, stderr=terminal)
    os.close(terminal)
    try:
        eventually(lambda: hold.exists() and bool(hold.read_text().strip()), timeout=60, what="Pants started")
        os.write(controller, b"\x03")
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        os.close(controller)
    assert proc.returncode == 128 + signal.SIGINT
    assert (tmp_path / "pants.pid.signals").read_text().split() == ["INT"]
    data = json.loads((checkout / "dist/compat-matrix/report.json").read_text())
    assert (data["verdict"], data["pants_exit_code"]) == ("failed", 130)


def test_a_selection_of_nothing_leaves_the_last_report_alone(tmp_path: Path) -> None:
    # Regression: the report watcher started (clearing the reports) before the selection guard.
    checkout, earlier = report_checkout(tmp_path)
    launcher = Launcher(tmp_path, checkout / "pants")
    out = launcher.run("test", "--tag=nope", "::", check=False, COMPAT_MATRIX_NO_REPORT=None, FAKE_PANTS_SELECTED="")
    assert out.returncode == 1
    assert earlier.exists()


@pytest.mark.parametrize(
    "tag_exprs, selects",
    [
        (["user-code-earliest"], True),
        (["user-code-earliest", "docker"], False),  # repeated flags: AND
        (["user-code-earliest,server-latest", "docker"], True),  # a comma list: OR
        (["backcompat", "-process"], True),
        (["-backcompat"], False),
        (["user-code-earlist"], False),
    ],
)
def test_a_saved_matrix_answers_the_selection_as_pants_would(tmp_path: Path, tag_exprs: list[str], selects: bool) -> None:
    saved = tmp_path / "matrix.json"
    saved.write_text(MATRIX_PEEK)
    out = subprocess.run(["python3", "build-support/bootstrap/selection.py", "match", str(saved), *tag_exprs])
    assert out.returncode == (0 if selects else 1)


def test_the_saved_matrix_is_reused_until_what_decides_it_changes(tmp_path: Path) -> None:
    checkout, _ = report_checkout(tmp_path)  # its key needs a git checkout (every file's path)
    subprocess.run(["git", "init", "-q"], cwd=checkout, check=True)
    launcher = Launcher(tmp_path, checkout / "pants")
    peeks = tmp_path / "peeks.log"
    launcher.argv("test", "--tag=backcompat", "::", FAKE_PANTS_PEEK=MATRIX_PEEK, FAKE_PANTS_LOG=str(peeks))
    launcher.argv("test", "--tag=user-code-earliest", "::", FAKE_PANTS_PEEK=MATRIX_PEEK, FAKE_PANTS_LOG=str(peeks))
    assert [line for line in peeks.read_text().splitlines() if " peek " in line] == ["--tag=matrix peek ::"]
    # Another plan (an environment override) is another matrix: asked for again.
    launcher.argv("test", "--tag=backcompat", "::", FAKE_PANTS_PEEK=MATRIX_PEEK, FAKE_PANTS_LOG=str(peeks), COMPAT_MATRIX_FULL="1")
    assert len([line for line in peeks.read_text().splitlines() if " peek " in line]) == 2
    # So is a changed BUILD file.
    (checkout / "BUILD").write_text("# changed\n")
    launcher.argv("test", "--tag=backcompat", "::", FAKE_PANTS_PEEK=MATRIX_PEEK, FAKE_PANTS_LOG=str(peeks))
    assert len([line for line in peeks.read_text().splitlines() if " peek " in line]) == 3

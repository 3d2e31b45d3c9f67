"""The ./pants launcher: argument forms, the bootstrap and its fast path, the Docker fallback.

Runs the real launcher script with stand-ins for what it bootstraps (tests/python/launcher/fakes.py):
its `pants` prints the argv it was given.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
import termios
from pathlib import Path

import pytest

from compat_matrix.testing_support import eventually
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
            "CM_LOCK_ROOT": str(tmp_path),  # the steps' locks, not the machine's
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


def test_pants_exit_code_is_the_launchers(launcher: Launcher) -> None:
    assert launcher.run("test", "::", check=False, FAKE_PANTS_EXIT="3").returncode == 3


def held_test_run(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """The launcher, whose stand-in Pants, run as `test`, writes its pid to the returned file and
    holds until signalled; and the launcher's environment for it."""
    launcher = Launcher(tmp_path)
    hold = tmp_path / "pants.pid"
    return LAUNCHER.parent, hold, {**launcher.env, "FAKE_PANTS_HOLD": str(hold)}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_to_the_launcher_stops_pants(tmp_path: Path, sig: signal.Signals) -> None:
    checkout, hold, env = held_test_run(tmp_path)

    def default_disposition() -> None:
        # A run started under nohup (a CI job, say) passes SIGHUP on ignored, and a shell cannot trap
        # a signal ignored when it started: the launcher as a user starts it.
        signal.signal(sig, signal.SIG_DFL)

    # Its own session: no terminal delivers Ctrl-C to Pants, so the launcher passes SIGINT on.
    proc = subprocess.Popen([str(checkout / "pants"), "test", "::"], env=env, start_new_session=True,
                            preexec_fn=default_disposition, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        eventually(lambda: hold.exists() and bool(hold.read_text().strip()), timeout=60, what="Pants started")
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + sig, stderr
    assert (tmp_path / "pants.pid.signals").read_text().split() == [sig.name.removeprefix("SIG")]


def test_ctrl_c_at_a_terminal_stops_pants(tmp_path: Path) -> None:
    # The terminal sends SIGINT to its foreground group: the launcher has become Pants (exec).
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


def test_a_missing_base_image_is_built_beside_pants(tmp_path: Path) -> None:
    # Pants starts (its PEXes and the process cells need no image) while the base image is built;
    # the build alone holds the lock docker cells wait on, and a build that succeeds empties it.
    checkout = tmp_path / "checkout"
    shutil.copytree("build-support/bootstrap", checkout / "build-support/bootstrap")
    shutil.copy("pants.toml", checkout)
    shutil.copy(LAUNCHER, checkout / "pants")
    (checkout / "3rdparty/python/releases/wheels").mkdir(parents=True)  # pants.toml's find_links
    build = tmp_path / "build"
    steps = {
        "base-image.sh": f'echo started > "{build}.started"; while [ ! -e "{build}.release" ]; do sleep 0.05; done',
        "reap.sh": "exit 0",
    }
    for name, body in steps.items():
        (checkout / "build-support/bootstrap" / name).write_text(f"#!/bin/bash\n{body}\n")
    launcher = Launcher(tmp_path, checkout / "pants")
    docker = tmp_path / "bin/docker"  # an engine that answers and has no image
    docker.write_text('#!/bin/sh\ncase "$1" in info) exit 0 ;; *) exit 1 ;; esac\n')
    docker.chmod(0o755)
    hold = tmp_path / "pants.pid"
    env = {**launcher.env, "FAKE_PANTS_HOLD": str(hold)}
    del env["COMPAT_MATRIX_NO_DOCKER"]
    proc = subprocess.Popen([str(checkout / "pants"), "test", "::"], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        eventually(lambda: hold.exists() and bool(hold.read_text().strip()), timeout=60, what="Pants started")
        (lock,) = tmp_path.glob("compat-matrix-*/base-images/compat-matrix_base_bookworm.lock")
        assert Path(f"{build}.started").exists()
        assert not lock_is_free(lock), "Pants started before the build held the lock"
        Path(f"{build}.release").touch()
        eventually(lambda: lock_is_free(lock), timeout=30, what="the lock free while Pants runs")
        assert lock.read_text() == ""
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert "building in the background; docker cells wait for it" in stderr


def lock_is_free(lock: Path) -> bool:
    with lock.open("rb") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

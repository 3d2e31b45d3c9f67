"""pip and pex runs of the project are isolated from the machine's pip settings.

Regression: on a machine whose system-wide pip configuration sets a constraints file (and the CA
bundle the index needs), every cold build from a lockfile failed with a bare "AssertionError"
(pip's `assert req.link is not None` under a constraint). The lockfile is the only source of truth.
"""

from __future__ import annotations

import importlib.util
import os
import ssl
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

BOOTSTRAP = Path("build-support/bootstrap").resolve()
LOCKFILE = Path("3rdparty/python/python-default.lock").resolve()
# Pants 2.17.1's [python].pip_version: the pip that pex downloads and runs for Pants.
PANTS_PIP_VERSION = "23.1.2"


def load_pip_isolation() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pip_isolation", BOOTSTRAP / "pip_isolation.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pip_isolation = load_pip_isolation()


# The pure part: what is kept, what is ignored, what is said.


def test_settings_that_change_the_resolve_are_ignored_and_the_ca_bundle_kept() -> None:
    env, line = pip_isolation.isolate(
        {
            "global.constraint": "/etc/c.txt",
            "global.extra-index-url": "file:///opt/simple",
            "install.find-links": "/opt/wheels",
            "global.cert": "/etc/ca.pem",
        },
        {},
    )
    assert env == {"PIP_CONFIG_FILE": os.devnull, "PIP_CERT": "/etc/ca.pem", "PANTS_CA_CERTS_PATH": "/etc/ca.pem"}
    assert line.startswith("pip isolation: ignoring the machine's pip settings ")
    for said in ("constraint=/etc/c.txt", "extra-index-url=file:///opt/simple", "find-links=/opt/wheels"):
        assert said in line.split("; keeping")[0]
    assert line.endswith("; keeping cert=/etc/ca.pem")
    assert "\n" not in line


def test_pip_environment_variables_win_over_files() -> None:
    env, _ = pip_isolation.isolate({"global.cert": "/etc/a.pem", ":env:.cert": "/etc/b.pem"}, {})
    assert env["PANTS_CA_CERTS_PATH"] == "/etc/b.pem"


def test_a_command_section_does_not_override_the_global_setting() -> None:
    env, _ = pip_isolation.isolate({"global.cert": "/etc/a.pem", "download.cert": "/etc/b.pem"}, {})
    assert env["PANTS_CA_CERTS_PATH"] == "/etc/a.pem"


def test_requests_ca_bundle_counts_when_pip_sets_no_cert() -> None:
    env, line = pip_isolation.isolate({}, {"REQUESTS_CA_BUNDLE": "/etc/r.pem"})
    assert env["PANTS_CA_CERTS_PATH"] == "/etc/r.pem"
    assert "(none set)" in line


def test_proxy_timeout_and_trusted_hosts_are_kept() -> None:
    env, _ = pip_isolation.isolate(
        {"global.proxy": "http://proxy:3128", "global.default-timeout": "60", "global.trusted-host": "idx"}, {}
    )
    assert env["https_proxy"] == env["http_proxy"] == "http://proxy:3128"
    assert env["PIP_PROXY"] == "http://proxy:3128"
    assert env["PIP_TIMEOUT"] == "60"
    assert env["PIP_TRUSTED_HOST"] == "idx"


def test_without_pip_nothing_is_read_and_nothing_loaded() -> None:
    env, line = pip_isolation.isolate(None, {})
    assert env == {"PIP_CONFIG_FILE": os.devnull}
    assert "no pip to read" in line


# The regression: a cold lockfile build under a system-wide constraints file and CA bundle.


def machine_ca_bundle() -> str:
    """The CA bundle this machine's index needs: pip's own setting, else OpenSSL's default."""
    env, _ = pip_isolation.isolate(pip_isolation.read_pip_settings(), dict(os.environ))
    return env.get("PANTS_CA_CERTS_PATH") or ssl.get_default_verify_paths().openssl_cafile


@pytest.fixture
def pip_config_with_a_constraint(tmp_path: Path) -> dict[str, str]:
    """A machine-wide pip configuration as on the CI machines: a constraints file and a CA bundle."""
    xdg = tmp_path / "xdg"
    (xdg / "pip").mkdir(parents=True)
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("torch<=2.14.1\n")
    (xdg / "pip" / "pip.conf").write_text(f"[global]\nconstraint = {constraints}\ncert = {machine_ca_bundle()}\n")
    (tmp_path / "home").mkdir()
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        # pip reads $XDG_CONFIG_DIRS/pip/pip.conf as system-wide configuration.
        "XDG_CONFIG_DIRS": str(xdg),
        # pex keeps caches under ~/.pex whatever PEX_ROOT says: an empty home keeps the build cold.
        "HOME": str(tmp_path / "home"),
        "COMPAT_MATRIX_CACHE_DIR": str(tmp_path / "cache"),
    }


def launcher_isolation(environ: dict[str, str]) -> tuple[dict[str, str], str]:
    """The environment ./pants gives Pants (and its own pip runs), and what it said."""
    out = subprocess.run(
        ["bash", "-c", f". {BOOTSTRAP}/common.sh && cm_isolate_pip && env -0"],
        capture_output=True,
        text=True,
        env=environ,
        check=True,
    )
    env = dict(entry.split("=", 1) for entry in out.stdout.split("\0") if "=" in entry)
    return env, out.stderr


def pants_subprocess_environment() -> dict[str, str]:
    """The fixed values pants.toml gives every pex run ([subprocess-environment])."""
    config = tomllib.loads(Path("pants.toml").read_text())
    entries = config["subprocess-environment"]["env_vars"]["add"]
    return dict(entry.split("=", 1) for entry in entries if "=" in entry)


def build_from_the_lockfile(
    tmp_path: Path, name: str, env: dict[str, str], *pex_args: str, lock_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """A cold `pex --lock` build as Pants runs it: its pex CLI, its pip, a fresh PEX_ROOT."""
    template = os.environ.get("PANTS_PEX_CLI_URL_TEMPLATE", "")
    assert template.startswith("file://"), "run through ./pants: it names its pex CLI in PANTS_PEX_CLI_URL_TEMPLATE"
    lock = tmp_path / "lock.json"
    text = lock_text if lock_text is not None else LOCKFILE.read_text()
    lock.write_text("".join(line for line in text.splitlines(True) if not line.startswith("//")))
    home = tmp_path / f"home-{name}"
    home.mkdir()
    return subprocess.run(
        [sys.executable, template.removeprefix("file://"), "--lock", str(lock), "--pip-version", PANTS_PIP_VERSION,
         "--path-mapping", f"RELEASE_WHEELS|{tmp_path}", *pex_args, "packaging", "-o", str(tmp_path / f"{name}.pex")],
        capture_output=True,
        text=True,
        env={**env, "HOME": str(home), "PEX_ROOT": str(tmp_path / f"pex-root-{name}")},
        timeout=300,
    )


def test_cold_lockfile_build_passes_under_a_system_wide_constraint(
    tmp_path: Path, pip_config_with_a_constraint: dict[str, str]
) -> None:
    isolated, said = launcher_isolation(pip_config_with_a_constraint)
    assert isolated["PIP_CONFIG_FILE"] == os.devnull
    assert f"constraint={tmp_path / 'constraints.txt'}" in said, said
    cert = isolated["PANTS_CA_CERTS_PATH"]
    env = {**pip_config_with_a_constraint, **pants_subprocess_environment()}

    out = build_from_the_lockfile(tmp_path, "isolated", env, "--cert", cert)

    assert out.returncode == 0, out.stderr
    check = subprocess.run([sys.executable, str(tmp_path / "isolated.pex"), "-c", "import packaging"], capture_output=True)
    assert check.returncode == 0, check.stderr


def test_the_pex_cli_downloads_locked_artifacts_without_pip(
    tmp_path: Path, pip_config_with_a_constraint: dict[str, str]
) -> None:
    # The same build as pex ran it before the isolation: the system-wide configuration (its
    # constraint) reaches pex's pip. pip's locked downloads failed under it
    # (`assert req.link is not None`); the pex CLI fetches them itself now, and the build passes.
    out = build_from_the_lockfile(tmp_path, "ambient", pip_config_with_a_constraint, "--cert", machine_ca_bundle())

    assert out.returncode == 0, out.stderr


def test_a_failed_download_names_the_artifact_and_what_to_check(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **pants_subprocess_environment()}
    missing = LOCKFILE.read_text().replace("files.pythonhosted.org/packages/", "files.pythonhosted.org/packages/missing/")

    out = build_from_the_lockfile(tmp_path, "missing", env, "--cert", machine_ca_bundle(), lock_text=missing)

    assert out.returncode != 0
    assert "https://files.pythonhosted.org/packages/missing/" in out.stderr and "HTTP 404" in out.stderr, out.stderr
    assert "packaging-" in out.stderr, out.stderr
    assert "Check that the package index is reachable" in out.stderr

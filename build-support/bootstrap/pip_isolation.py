"""Isolates the project's pip and pex runs from the machine's pip settings.

A machine (or a user) may configure pip system-wide: a constraints file, extra indexes, local
find-links. Those change what gets resolved, and under a constraint pex's locked downloads fail
outright (pip's `assert req.link is not None`). The lockfiles are the only source of truth, so
every pip and pex run of this project loads no pip configuration at all (PIP_CONFIG_FILE=/dev/null)
and gets back only what it needs to reach the index: the CA bundle, a proxy, trusted hosts, a
client certificate, timeouts.

Run with an interpreter that has pip: the settings are read by pip itself (`pip config list`), so
every file and PIP_* variable pip would read counts. Prints shell assignments for the launcher to
source (stdout) and one line naming what was ignored and what was kept (stderr).

Usage: python3 pip_isolation.py
"""

from __future__ import annotations

import ast
import os
import shlex
import subprocess
import sys

# Settings that say how to reach the index (or where pip keeps its cache), not what to resolve:
# kept. pip names an option by any of its long flags, so both spellings of the timeout count.
KEPT = (
    "cert", "client-cert", "proxy", "trusted-host", "timeout", "default-timeout", "retries",
    "cache-dir", "disable-pip-version-check",
)
# Outside pip's own settings, requests (which pip uses) honours these for the CA bundle.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def read_pip_settings() -> dict[str, str] | None:
    """pip's effective settings, `section.key` -> value; None when this interpreter has no pip."""
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    settings = {}
    for line in out.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            # pip prints values with repr().
            settings[name.strip()] = ast.literal_eval(value.strip())
    return settings


def isolate(settings: dict[str, str] | None, environ: dict[str, str]) -> tuple[dict[str, str], str]:
    """The environment for the project's pip and pex runs, and the one line that explains it.

    Pure: `settings` is pip's view (`section.key` -> value, `:env:.key` for PIP_* variables, the
    later sources winning as pip applies them), `environ` the launcher's environment.
    """
    kept: dict[str, str] = {}
    ignored: dict[str, str] = {}
    for name, value in (settings or {}).items():
        key = name.rpartition(".")[2]
        if key in KEPT:
            # A setting in a command's section applies to that command only; global and env apply
            # to all. Env (PIP_*) wins over files, which `pip config list` prints last.
            if name.startswith(("global.", ":env:.")) or key not in kept:
                kept[key] = value
        else:
            ignored[key] = value
    if "cert" not in kept:
        for variable in CA_BUNDLE_VARIABLES:
            if environ.get(variable):
                kept["cert"] = environ[variable]
                break
    if "default-timeout" in kept:
        kept.setdefault("timeout", kept.pop("default-timeout"))

    env = {"PIP_CONFIG_FILE": os.devnull}
    for key, value in sorted(kept.items()):
        # For the launcher's own pip: PIP_* variables are read even with PIP_CONFIG_FILE=/dev/null.
        env["PIP_" + key.upper().replace("-", "_")] = value
    if "cert" in kept:
        # For pex under Pants: Pants passes it to pex as --cert.
        env["PANTS_CA_CERTS_PATH"] = kept["cert"]
    if "proxy" in kept:
        # For pex under Pants: pex's pip reads the proxy from these (pants.toml passes them on).
        env.setdefault("https_proxy", environ.get("https_proxy") or kept["proxy"])
        env.setdefault("http_proxy", environ.get("http_proxy") or kept["proxy"])

    if settings is None:
        said = "no pip to read the machine's pip settings with; pip and pex load no pip configuration"
    else:
        said = "ignoring the machine's pip settings " + (
            ", ".join(f"{key}={value}" for key, value in sorted(ignored.items())) or "(none set)"
        )
    kept_said = ", ".join(f"{key}={value}" for key, value in sorted(kept.items())) or "nothing"
    line = f"pip isolation: {said} (the lockfiles are the only source of truth); keeping {kept_said}"
    return env, line


def main() -> int:
    env, line = isolate(read_pip_settings(), dict(os.environ))
    for name, value in env.items():
        print(f"export {name}={shlex.quote(value)}")
    print(f"CM_PIP_ISOLATION_NOTE={shlex.quote(line)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

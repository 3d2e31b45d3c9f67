"""A product whose roles print their readiness line with a plain ``print()`` (no flush), packaged
the way the build packages a product: venv PEXes in pex's packed layout, made by the pex CLI
Pants runs.

- release ``1.0.0``: one PEX holding the wheel ``printing-role`` (module ``printing_role``, console
  script ``printing-role``), as a release's PEX holds its own distribution;
- branch: a requirements PEX holding the wheel ``printing-tool`` (a third-party distribution
  that provides the console script ``printing-role`` too, from module ``printing_tool``), and the
  ``printer`` role's sources directory (module ``printing_role``), put on the PEX's ``sys.path``
  at run time, as the branch's sources artifact is.

Role ``printer`` runs the module ``printing_role:main``, role ``script-printer`` the console
script ``printing-role``; each prints ``ready: <what runs> <instance>`` and then idles, so the
line reaches its log only if the role's output is unbuffered. Both are ready by that line
(``log_probe``). The wheels are written here (no build backend); the PEXes are built with the pex
CLI ``./pants`` gives Pants (``PANTS_PEX_CLI_URL_TEMPLATE``, a test target's ``extra_env_vars``),
from those wheels only (``--no-pypi``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path

from compat_core.cell_plan import CellPlan
from compat_core.declare import log_probe
from compat_core.model import BRANCH, CellSpec, Command, RoleSpec, Suite, System, Topology
from compat_core.names import pex_path, sources_path
from compat_core.parse import parse_releases
from compat_core.plan import plan_cell

RELEASE = "1.0.0"
PEX_CLI_VARIABLE = "PANTS_PEX_CLI_URL_TEMPLATE"

_PRINTING_MODULE = '''
import sys, time


def main():
    print("ready: {what}", sys.argv[1])  # no flush: only an unbuffered stdout shows it at once
    while True:
        time.sleep(1)
'''


def printing_system(name: str, timeout: float = 30.0) -> System:
    """The product: roles ``printer`` (a module) and ``script-printer`` (a console script)."""
    probe = log_probe(r"^ready: ", timeout=timeout, interval=0.1)
    return System(
        name=name,
        role_specs=(
            RoleSpec("printer", Command("module", "printing_role:main"), probe, args=("{name}",), branch_sources=("printer",)),
            # Its branch code is a third-party distribution's: its sources artifact is empty.
            RoleSpec(
                "script-printer", Command("script", "printing-role"), probe, args=("{name}",), branch_sources=("script-printer",)
            ),
        ),
        releases=parse_releases(name, [RELEASE], RELEASE),
    )


def printing_cell(system: System, version: str, backend: str) -> CellPlan:
    """The cell that runs both roles at ``version`` (``branch`` or ``RELEASE``)."""
    cell = "all-branch" if version == BRANCH else f"all-{version.replace('.', '-')}"
    suite = Suite(
        name="printing",
        topology=Topology((("printer", 1), ("script-printer", 1))),
        cells=(CellSpec(cell, () if version == BRANCH else (("printer", version), ("script-printer", version))),),
        system=system.name,
        backends=(backend,),
    )
    return plan_cell(suite, cell, system)


def printed_lines(version: str) -> dict[str, str]:
    """The readiness line each instance of ``printing_cell`` at ``version`` prints."""
    if version == BRANCH:
        return {
            "printer-0": "ready: printing_role branch printer-0",
            "script-printer-0": "ready: printing-tool script script-printer-0",
        }
    return {
        "printer-0": f"ready: printing-role {version} printer-0",
        "script-printer-0": f"ready: printing-role {version} script-printer-0",
    }


def check_printed(logs: Mapping[str, str], version: str) -> None:
    """Every instance printed its line, and pex did not re-execute it (which would drop ``-u``)."""
    for instance, line in printed_lines(version).items():
        assert line in logs[instance].splitlines(), logs[instance]
        assert "Re-exec" not in logs[instance], logs[instance]


def build_artifacts(system: System, artifact_root: Path, work: Path) -> None:
    """Write the branch's and the release's artifacts under ``artifact_root`` where a cell of
    ``system`` looks for them (``compat_core.names``)."""
    cli = os.environ.get(PEX_CLI_VARIABLE, "")
    if not cli.startswith("file://"):
        raise AssertionError(f"run through ./pants: it names its pex CLI in {PEX_CLI_VARIABLE} (got {cli!r})")
    wheels = work / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    _write_wheel(
        wheels,
        "printing-role",
        RELEASE,
        {"printing_role": _PRINTING_MODULE.format(what=f"printing-role {RELEASE}")},
        {"printing-role": "printing_role:main"},
    )
    _write_wheel(
        wheels,
        "printing-tool",
        "2.0.0",
        {"printing_tool": _PRINTING_MODULE.format(what="printing-tool script")},
        {"printing-role": "printing_tool:main"},
    )
    for version, requirement in ((RELEASE, f"printing-role=={RELEASE}"), (BRANCH, "printing-tool==2.0.0")):
        output = artifact_root / pex_path(system, version)
        output.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [sys.executable, cli.removeprefix("file://"), "--venv", "--include-tools", "--layout", "packed", "--no-pypi",
             "--find-links", str(wheels), requirement, "-o", str(output)],
            capture_output=True,
            text=True,
            # Nothing comes from an index: the machine's pip configuration has nothing to say.
            env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
            timeout=300,
        )
        assert done.returncode == 0, f"pex could not build {output.name}:\n{done.stdout}\n{done.stderr}"
    for role in system.roles:
        (artifact_root / sources_path(system, role, BRANCH)).mkdir(parents=True, exist_ok=True)
    sources = artifact_root / sources_path(system, "printer", BRANCH)
    (sources / "printing_role.py").write_text(_PRINTING_MODULE.format(what="printing_role branch"))


def _write_wheel(
    directory: Path, project: str, version: str, modules: Mapping[str, str], scripts: Mapping[str, str]
) -> Path:
    """A pure-Python wheel of ``modules`` (name -> source) with console ``scripts`` (name -> entry
    point), byte for byte the same every time."""
    dist = project.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = {f"{module}.py": source for module, source in modules.items()}
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n"
    files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: compat-matrix-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/entry_points.txt"] = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items())
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = directory / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            entry = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16  # installed readable by the container's user too
            archive.writestr(entry, text)
    return wheel


__all__ = ("RELEASE", "build_artifacts", "printing_cell", "printing_system")

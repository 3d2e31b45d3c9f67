"""``releases check`` and ``releases pin``: the thin edges around ``compat_matrix.pins``.

A system is named by its ``compat_system`` target's address (``examples/dagster:dagster``), whose
BUILD file is read as text (``compat_matrix.build_file``). These edges read that file, pants.toml
and the package index, write the edits the pure modules compute, and run Pants to generate
lockfiles.
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import json
import os
import subprocess
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from compat_core.contract import RELEASE_LOCKFILE_DIR
from compat_core.errors import ReleaseError
from compat_core.names import release_resolve
from compat_core.support import SupportPolicy, parse_support
from compat_core.validate import validate_releases
from compat_matrix import build_file, pants_toml
from compat_matrix.index import OfferedReleases, offered_releases, read_index
from compat_matrix.pins import PinPlan, compare_releases, exit_code, plan_pin, render_report, report_data
from compat_matrix.workspace import find_repo_root

_ADDRESS_HELP = "the compat_system target, e.g. examples/dagster:dagster"


@dataclass(frozen=True)
class LoadedSystem:
    """A ``compat_system`` read from its BUILD file."""

    address: str
    build_path: Path
    text: str
    declaration: build_file.SystemDeclaration


def parse_address(spec: str) -> tuple[str, str]:
    """``(directory, name)`` of a target address: ``path/to:name``, or ``path/to`` (name = last part)."""
    spec = spec[2:] if spec.startswith("//") else spec
    directory, colon, name = spec.partition(":")
    directory = directory.strip("/")
    if not colon:
        name = directory.rsplit("/", 1)[-1]
    if not name or "/" in name or (not directory and not colon):
        raise ReleaseError(f"{spec!r} is not a target address; name the compat_system target, e.g. examples/dagster:dagster")
    return directory, name


def load_system(root: Path, spec: str) -> LoadedSystem:
    """The ``compat_system`` at address ``spec`` under ``root``."""
    directory, name = parse_address(spec)
    folder = root / directory
    candidates = sorted(p for p in folder.glob("BUILD*") if p.is_file() and (p.name == "BUILD" or p.name.startswith("BUILD.")))
    if not candidates:
        raise ReleaseError(f"{spec}: no BUILD file in {directory or '.'}/; name the directory of a compat_system")
    for path in candidates:
        text = path.read_text(encoding="utf-8")
        if build_file.has_system(text, name):
            where = str(path.relative_to(root))
            declaration = build_file.read_system(text, name, where)
            address = f"{directory}:{name}"
            return LoadedSystem(address=address, build_path=path, text=text, declaration=declaration)
    listed = ", ".join(str(p.relative_to(root)) for p in candidates)
    raise ReleaseError(f"{spec}: {listed} declares no compat_system(name={name!r}, ...); name a compat_system target")


def _projects(system: LoadedSystem, package: str) -> tuple[str, ...]:
    """The distributions a release installs at its version: the package and the other ``=={version}``
    requirements of ``release_requirements``."""
    names = [package]
    for template in system.declaration.version_templates:
        try:
            requirement = Requirement(template.format(system=system.declaration.name, version="0"))
        except (InvalidRequirement, KeyError, IndexError, ValueError):
            continue
        if requirement.name not in names:
            names.append(requirement.name)
    return tuple(names)


def read_offered(system: LoadedSystem, location: str, root: Path) -> OfferedReleases:
    """What the index at ``location`` offers of ``system``'s releases (one read per distribution)."""
    package = system.declaration.releases.package
    files = {project: read_index(location, project, root) for project in _projects(system, package)}
    return offered_releases(files, package)


def _support(system: LoadedSystem) -> SupportPolicy | None:
    text = system.declaration.support
    return parse_support(text, f"{system.declaration.where}, support") if text else None


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def _repo_root() -> Path:
    return find_repo_root(Path.cwd())


# --- releases check ------------------------------------------------------------------------------


def check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("systems", nargs="+", metavar="SYSTEM", help=_ADDRESS_HELP + " (one or more)")
    parser.add_argument(
        "--index",
        metavar="PATH_OR_URL",
        help="a find-links directory, a PEP 503 project page (file) or a simple index URL "
        "(default: the system's release_index, relative to the repo root)",
    )
    parser.add_argument("--all", action="store_true", help="list every release on the index and every file ignored")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON (a list, one per system)")
    parser.add_argument(
        "--max-behind",
        type=int,
        default=0,
        metavar="N",
        help="exit 1 when a system is more than N releases behind the index (default 0: any newer release)",
    )


def run_check(args: argparse.Namespace) -> int:
    """Compare each system's pins with its index: exit 0 when current, 1 when behind, 2 on an error."""
    if args.max_behind < 0:
        raise ReleaseError(f"--max-behind {args.max_behind} is negative; give 0 or more")
    root = _repo_root()
    reports = []
    for spec in args.systems:
        system = load_system(root, spec)
        releases = system.declaration.releases
        validate_releases(releases, system.declaration.name)
        location = str(args.index or releases.index)
        reports.append(
            compare_releases(
                releases,
                read_offered(system, location, root),
                system=system.declaration.name,
                address=system.address,
                index=location,
                support=_support(system),
                today=_today(),
            )
        )
    if args.json:
        print(json.dumps([report_data(r) for r in reports], indent=2))
    else:
        print("\n\n".join(render_report(r, full=args.all) for r in reports))
    return max(exit_code(r, args.max_behind) for r in reports)


# --- releases pin --------------------------------------------------------------------------------


def pin_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("system", metavar="SYSTEM", help=_ADDRESS_HELP)
    parser.add_argument("versions", nargs="*", metavar="VERSION", help="releases to pin, as the index names them")
    parser.add_argument(
        "--earliest",
        metavar="VERSION",
        default="",
        help="move earliest to this release (pinned if it is not); releases older than it are dropped, with "
        "their resolves and lockfiles. A system with support=... gets earliest from its policy instead",
    )
    parser.add_argument(
        "--index",
        metavar="PATH_OR_URL",
        help="where to look the releases up (default: the system's release_index, relative to the repo root)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the edits and change nothing")


def _local_index(location: str, root: Path) -> Path | None:
    parts = urllib.parse.urlsplit(location)
    if parts.scheme in ("http", "https"):
        return None
    path = Path(urllib.parse.unquote(parts.path)) if parts.scheme == "file" else Path(location)
    return (path if path.is_absolute() else root / path).resolve()


def check_repos(location: str, root: Path, toml_text: str) -> None:
    """Raise unless Pants' lockfile generation looks where ``location`` is ([python-repos])."""
    local = _local_index(location, root)
    if local is not None:
        listed = []
        for entry in pants_toml.find_links(toml_text):
            value = entry.replace("%(buildroot)s", str(root))
            found = _local_index(value, root)
            listed.append(found)
        if local not in listed:
            relative = local.relative_to(root) if local.is_relative_to(root) else local
            raise ReleaseError(
                f"the release index {location} is not in [python-repos].find_links of pants.toml, so "
                f"./pants generate-lockfiles would not find its releases; add \"file://%(buildroot)s/{relative}\" there"
            )
        return
    wanted = location.rstrip("/")
    if wanted not in {i.rstrip("/") for i in pants_toml.indexes(toml_text)}:
        raise ReleaseError(
            f"the release index {location} is not in [python-repos].indexes of pants.toml, so ./pants "
            f"generate-lockfiles would not look there; add it"
        )


def _diff(before: str, after: str, name: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), f"a/{name}", f"b/{name}"))


def _lockfile_dir(known: dict[str, str], resolves: Sequence[str]) -> str:
    """Where the system's lockfiles are (the directory of its first pinned one), else the default."""
    for resolve in resolves:
        if resolve in known:
            return str(Path(known[resolve]).parent)
    return RELEASE_LOCKFILE_DIR


def generate_lockfiles(root: Path, resolves: Sequence[str]) -> None:
    """Run ``./pants generate-lockfiles`` for ``resolves``.

    ``--concurrent``: under ``./pants run`` the daemon is busy running this command, and a second
    run through it would wait for it forever. The PEX's own ``PEX_*`` settings stay out of Pants.
    """
    argv = ["./pants", "--concurrent", "generate-lockfiles", *(f"--resolve={r}" for r in resolves)]
    if not (root / "pants").is_file():
        raise ReleaseError(f"no ./pants launcher in {root}; run {' '.join(argv)} from the repo root")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PEX", "PANTSD_"))}
    print(f"running {' '.join(argv)}", flush=True)
    code = subprocess.run(argv, cwd=root, env=env, check=False).returncode
    if code != 0:
        raise ReleaseError(
            f"{' '.join(argv)} failed (exit {code}; its output is above). The BUILD file and pants.toml are edited; "
            f"fix the cause and run the same releases pin again: it generates the lockfiles still missing"
        )


def _summary(plan: PinPlan, edited: Sequence[str], lockfiles: Sequence[str]) -> str:
    lines = [
        f"{plan.system}: releases {', '.join(plan.releases)}; earliest {plan.earliest}"
        + (f"; branch_release {plan.branch_release}" if plan.branch_release else "")
    ]
    lines += [f"  {note}" for note in plan.notes]
    if plan.added:
        lines.append(f"  pinned {', '.join(plan.added)}")
    if plan.dropped:
        lines.append(f"  dropped {', '.join(plan.dropped)}, with their resolves and lockfiles")
    if edited:
        lines.append(f"  edited {', '.join(edited)}")
    if lockfiles:
        lines.append(f"  generated {', '.join(lockfiles)}")
    if not (edited or lockfiles):
        lines.append("  nothing to change")
    return "\n".join(lines)


def run_pin(args: argparse.Namespace) -> int:
    """Pin releases of a system (and move earliest / apply its support policy), then lock them."""
    root = _repo_root()
    system = load_system(root, args.system)
    declaration = system.declaration
    name = declaration.name
    releases = declaration.releases
    validate_releases(releases, name)
    location = str(args.index or releases.index)
    offered = read_offered(system, location, root)
    plan = plan_pin(
        name,
        releases,
        offered,
        location,
        versions=args.versions,
        earliest=args.earliest,
        support=_support(system),
        today=_today(),
    )
    custom = dict(releases.resolves)
    fixed = dict(declaration.fields.get("release_resolves") or {})
    clash = [v for v in plan.dropped if v in fixed]
    if clash:
        raise ReleaseError(
            f"{declaration.where}: release_resolves names {', '.join(clash)}, which would be dropped; remove them "
            f"from release_resolves and pants.toml by hand"
        )
    toml_path = root / "pants.toml"
    toml_text = toml_path.read_text(encoding="utf-8")
    known = pants_toml.resolves(toml_text)
    directory = _lockfile_dir(known, [custom[v] for v in releases.pinned if v in custom])
    resolves = {v: custom.get(v) or release_resolve(name, v) for v in plan.releases}
    # Every pinned release gets its resolve: the new ones, and any that pants.toml lacks.
    add = {r: f"{directory}/{r}.lock" for r in resolves.values() if r not in known}
    remove = [custom[v] for v in plan.dropped]
    where = str(system.build_path.relative_to(root))
    new_build = build_file.rewrite_system(system.text, name, where, plan.releases, plan.earliest, plan.branch_release)
    new_toml = pants_toml.edit_resolves(toml_text, add, remove)
    after = pants_toml.resolves(new_toml)
    to_lock = [r for v, r in resolves.items() if v in plan.added or not (root / after[r]).is_file()]
    if to_lock:
        check_repos(location, root, new_toml)
    edited = [path for path, changed in ((where, new_build != system.text), ("pants.toml", new_toml != toml_text)) if changed]
    if args.dry_run:
        print(_diff(system.text, new_build, where) + _diff(toml_text, new_toml, "pants.toml"), end="")
        for resolve in remove:
            print(f"would delete {known[resolve]}")
        if to_lock:
            print(f"would run ./pants --concurrent generate-lockfiles {' '.join('--resolve=' + r for r in to_lock)}")
        if not (edited or to_lock):
            print(f"{name}: nothing to change")
        return 0
    if new_build != system.text:
        system.build_path.write_text(new_build, encoding="utf-8")
    if new_toml != toml_text:
        toml_path.write_text(new_toml, encoding="utf-8")
    for resolve in remove:
        (root / known[resolve]).unlink(missing_ok=True)
        edited.append(f"{known[resolve]} (deleted)")
    if to_lock:
        generate_lockfiles(root, to_lock)
    print(_summary(plan, edited, [after[r] for r in to_lock]))
    return 0


__all__ = (
    "LoadedSystem",
    "check_arguments",
    "check_repos",
    "generate_lockfiles",
    "load_system",
    "parse_address",
    "pin_arguments",
    "read_offered",
    "run_check",
    "run_pin",
)


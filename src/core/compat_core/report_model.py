"""The matrix report's model: one result per test target, cells of them, the grid, the verdict.

Pure (no I/O): ``report_junit`` reads the results from Pants' JUnit reports, ``report_render``
draws them, and the ``compat-report`` goal decides which reports belong to the run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from compat_core.versions import version_order

RAN, CACHED, MEMOIZED, LOCAL_CACHE, REMOTE_CACHE, STALE = "ran", "cache", "memoized", "local cache", "remote cache", "stale"
PASSED, FAILED, NO_RESULT, SKIPPED = "passed", "failed", "no result", "skipped"
STATES = (FAILED, NO_RESULT, PASSED, SKIPPED)
"""Worst first: a cell's state is the worst of its targets' states."""
NO_TESTS = "no tests"
"""The verdict of a run with no test target: not a pass."""


@dataclass(frozen=True)
class InstanceVersion:
    """The version one instance of a cell runs (``InstancePlan.version``; ``branch`` included)."""

    name: str
    role: str
    version: str
    declared_version: str = ""  # as the cell declared it (``latest``, ``earliest``), when that differs
    runs: str = ""  # the release a branch instance runs, for systems with a branch release


@dataclass(frozen=True)
class TargetResult:
    """One test target's outcome, from its JUnit report and/or Pants' console line."""

    address: str
    status: str  # passed | failed | skipped | no result
    tests: int
    failures: int
    duration_s: float
    source: str  # ran | cache | memoized | local cache | remote cache | stale
    report: str = ""  # its JUnit report's file name ('' when Pants left none)
    suite: str | None = None  # matrix targets only, from here on
    system: str | None = None
    cell: str | None = None
    backend: str | None = None
    instances: tuple[InstanceVersion, ...] = ()  # topology order
    logs: str = ""  # a failure's output: the instances' logs the harness attached
    note: str = ""  # why the cell's data could not be read, or why there is no result

    @property
    def versions(self) -> tuple[tuple[str, str], ...]:
        """Each role's version(s), in topology order: ``(role, version)`` once per distinct pair."""
        seen: dict[tuple[str, str], None] = {}
        for inst in self.instances:
            seen.setdefault((inst.role, inst.version), None)
        return tuple(seen)

    def to_data(self) -> dict[str, object]:
        return {**asdict(self), "versions": [list(pair) for pair in self.versions]}


@dataclass(frozen=True)
class CellResult:
    """One cell on one backend: every target that ran it (one per test module of the suite)."""

    suite: str
    system: str
    cell: str
    backend: str
    targets: tuple[TargetResult, ...]

    @property
    def status(self) -> str:
        return worst(t.status for t in self.targets)

    @property
    def instances(self) -> tuple[InstanceVersion, ...]:
        return next((t.instances for t in self.targets if t.instances), ())

    @property
    def anchor(self) -> str:
        return f"cell-{self.suite}-{self.cell}-{self.backend}"


def worst(states: Iterable[str]) -> str:
    found = set(states)
    return next((s for s in STATES if s in found), SKIPPED)


def cells_of(results: list[TargetResult]) -> list[CellResult]:
    """The matrix targets grouped by suite, cell and backend (suites, then cells, in name order)."""
    groups: dict[tuple[str, str, str], list[TargetResult]] = {}
    for r in results:
        if r.suite and r.cell:
            groups.setdefault((r.suite, r.cell, r.backend or "?"), []).append(r)
    return [
        CellResult(suite, targets[0].system or "?", cell, backend, tuple(sorted(targets, key=lambda t: t.address)))
        for (suite, cell, backend), targets in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], backend_order(kv[0][2])))
    ]


def backend_order(backend: str) -> tuple[bool, str]:
    return (backend != "process", backend)


# --- the compatibility grid ------------------------------------------------------------------


def role_versions(instances: tuple[InstanceVersion, ...]) -> dict[str, str]:
    """Role -> the version its instances run (``a+b`` when they differ), in topology order."""
    by_role: dict[str, list[str]] = {}
    for inst in instances:
        versions = by_role.setdefault(inst.role, [])
        if inst.version not in versions:
            versions.append(inst.version)
    return {role: "+".join(sorted(versions, key=version_order)) for role, versions in by_role.items()}


@dataclass(frozen=True)
class CompatGrid:
    """A suite whose cells vary exactly two roles: ``down``'s versions by ``across``'s."""

    down: str
    across: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    pairs: dict[tuple[str, str], tuple[CellResult, ...]]


def compat_grid(cells: list[CellResult]) -> CompatGrid | None:
    """The grid of a suite's cells when exactly two roles vary across them (read from the cells'
    instances, topology order: the first varying role goes down), else None."""
    versions = {(c.cell, c.backend): role_versions(c.instances) for c in cells if c.instances}
    if not versions:
        return None
    roles: list[str] = []
    for assigned in versions.values():
        roles += [role for role in assigned if role not in roles]
    varying = [role for role in roles if len({v.get(role, "") for v in versions.values()}) > 1]
    if len(varying) != 2:
        return None
    down, across = varying
    pairs: dict[tuple[str, str], list[CellResult]] = {}
    for c in cells:
        if (c.cell, c.backend) in versions:
            assigned = versions[(c.cell, c.backend)]
            pairs.setdefault((assigned.get(down, ""), assigned.get(across, "")), []).append(c)
    return CompatGrid(
        down=down,
        across=across,
        rows=tuple(sorted({d for d, _ in pairs}, key=version_order)),
        columns=tuple(sorted({a for _, a in pairs}, key=version_order)),
        pairs={pair: tuple(found) for pair, found in pairs.items()},
    )


# --- the verdict -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    state: str  # passed | failed | no tests
    reason: str

    @property
    def ok(self) -> bool:
        return self.state == PASSED


def verdict(results: list[TargetResult], pants_exit_code: int | None = None) -> Verdict:
    """Failed when a target failed or has no result of this run, or Pants did not exit 0; no tests
    when there is no target."""
    failed = [r for r in results if r.status == FAILED]
    missing = [r for r in results if r.status == NO_RESULT]
    exited = f"; Pants exited {pants_exit_code}" if pants_exit_code is not None else ""
    if failed or missing:
        said = [f"{len(failed)} of {len(results)} test targets failed"] if failed else []
        if missing:
            said.append(f"{len(missing)} of {len(results)} have no result of this run")
        return Verdict(FAILED, ", ".join(said) + exited)
    if pants_exit_code and not results:
        return Verdict(FAILED, f"Pants exited {pants_exit_code} before any test reported (interrupted, or the build "
                               f"failed): see Pants' output")
    if pants_exit_code:
        return Verdict(
            FAILED,
            f"Pants exited {pants_exit_code} (interrupted, or a target left no test report, or the build failed); "
            f"none of the {len(results)} test reports shows a failure: see Pants' output",
        )
    if not results:
        return Verdict(NO_TESTS, "no test target reported a result")
    return Verdict(PASSED, f"all {len(results)} test targets passed or were skipped{exited}")


def summary(results: list[TargetResult], cells: list[CellResult]) -> dict[str, int]:
    counts = {status: sum(1 for r in results if r.status == status) for status in (PASSED, FAILED, SKIPPED)}
    return {
        **counts,
        "no_result": sum(1 for r in results if r.status == NO_RESULT),
        "targets": len(results),
        "matrix_targets": sum(len(c.targets) for c in cells),
        "matrix_cells": len(cells),
    }

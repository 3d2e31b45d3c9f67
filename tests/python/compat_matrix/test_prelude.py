"""The Pants prelude (build-support/prelude/compat.py) and the harness agree on the matrix.

The prelude cannot import the harness (BUILD-file preludes cannot import), so the naming, alias
resolution and full-matrix expansion exist on both sides. This test execs the prelude the way
Pants does, with recording stand-ins for the target types, and checks every generated target
against the harness's own plan.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from compat_matrix.declaration import cell_to_json, expand_cells, read_suite
from compat_matrix.plan import cell_artifacts, image_tag, pex_path, pex_target, plan_cell
from compat_matrix.settings import FALSE_VALUES, TRUE_VALUES
from compat_matrix.systems import load_system
from compat_matrix.versions import apply_earliest_override, load_releases

PRELUDE = Path("build-support/prelude/compat.py")
RELEASES_FILE = Path("3rdparty/python/releases/releases.py")
BACKCOMPAT = Path("tests/python/integration/backcompat/BUILD")
TARGET_TYPES = ("python_tests", "pex_binary", "docker_image", "python_requirement")

Targets = Mapping[str, Mapping[str, Mapping[str, Any]]]


def exec_prelude(environ: Mapping[str, str]) -> tuple[dict[str, Any], Targets]:
    """Run both prelude files into one namespace, as Pants does, recording declared targets."""
    namespace: dict[str, Any] = {}
    targets: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)

    def recorder(kind: str) -> Callable[..., None]:
        def declare(**kwargs: Any) -> None:
            assert kwargs["name"] not in targets[kind], f"duplicate {kind} {kwargs['name']}"
            targets[kind][kwargs["name"]] = kwargs

        return declare

    for kind in TARGET_TYPES:
        namespace[kind] = recorder(kind)
    namespace["env"] = lambda name, default=None: environ.get(name, default)
    for path in (RELEASES_FILE, PRELUDE):
        exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace, targets


def declare_backcompat(environ: Mapping[str, str], **overrides: Any) -> Targets:
    namespace, targets = exec_prelude(environ)
    suite = read_suite(BACKCOMPAT)
    kwargs: dict[str, Any] = {
        "name": suite.name,
        "system": suite.system,
        "topology": dict(suite.topology.counts),
        "cells": {cell.name: dict(cell.versions) for cell in suite.cells},
        "full_matrix": suite.full_matrix,
        "backends": list(suite.backends),
    }
    kwargs.update(overrides)
    namespace["compat_suite"](**kwargs)
    return targets


def test_the_prelude_knows_exactly_the_roles_of_the_system() -> None:
    namespace, _ = exec_prelude({})
    prelude_roles = set(namespace["compat_systems"]()["conveyor"]["branch_sources"])
    assert prelude_roles == set(load_system("conveyor").roles)


def test_role_artifacts_are_named_as_the_plan_names_them() -> None:
    namespace, targets = exec_prelude({})
    namespace["role_artifacts"]("conveyor")
    releases = load_releases(RELEASES_FILE)
    roles = load_system("conveyor").roles
    versions = ("branch", *releases.pinned)
    expected_pexes = {pex_target(role, version) for role in roles for version in versions}
    assert set(targets["pex_binary"]) == expected_pexes
    for role in roles:
        for version in versions:
            image = targets["docker_image"][f"{role}-{version}"]
            assert f"{image['repository']}:{image['image_tags'][0]}" == image_tag("conveyor", role, version)
            (dependency,) = image["dependencies"]
            assert f"docker/{dependency.lstrip(':')}.pex" == pex_path(role, version)
            # The image's default command is the role's own, as the harness runs it.
            assert f'CMD ["{roles[role].args[0]}"]' in image["instructions"]
            # The image copies exactly that PEX (Pants puts it at <dir.dotted>/<name>.pex).
            assert f"COPY {pex_path(role, version)} /app/conveyor.pex" in image["instructions"]


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"EARLIEST_TESTED_RELEASE": "0.2.0"},
        {"COMPAT_MATRIX_FULL": "1"},
        # Regression (issue 12): "false" and "no" generated the full matrix.
        {"COMPAT_MATRIX_FULL": "false"},
        {"COMPAT_MATRIX_FULL": "no"},
        {"COMPAT_MATRIX_FULL": "Yes"},
    ],
    ids=["defaults", "earliest-override", "full-matrix", "full-false", "full-no", "full-yes"],
)
def test_suite_targets_match_the_harness_plan(environ: Mapping[str, str]) -> None:
    targets = declare_backcompat(environ)
    releases = apply_earliest_override(load_releases(RELEASES_FILE), environ)
    suite = expand_cells(read_suite(BACKCOMPAT), releases, environ)
    system = load_system(suite.system)
    expected = {f"{cell.name}-{backend}" for cell in suite.cells for backend in suite.backends}
    assert set(targets["python_tests"]) == expected
    for cell in suite.cells:
        plan = plan_cell(suite, cell.name, system, releases)
        for backend in suite.backends:
            target = targets["python_tests"][f"{cell.name}-{backend}"]
            env = dict(var.split("=", 1) for var in target["extra_env_vars"])
            assert json.loads(env["COMPAT_MATRIX_CELL"]) == json.loads(cell_to_json(suite, cell, releases))
            assert env["COMPAT_MATRIX_BACKEND"] == backend
            assert {cell.name, suite.name, backend} <= set(target["tags"])
            # Exactly this cell's artifacts: the targets behind the plan's artifact paths.
            suffix = ".pex" if backend == "process" else ".docker-info.json"
            wanted = {f"//docker:{Path(p).name[: -len(suffix)]}" for p in cell_artifacts(plan, backend)}
            assert set(target["runtime_package_dependencies"]) == wanted


@pytest.mark.parametrize(
    "overrides, needle",
    [
        ({"topology": {"server": 1, "gateway": 1}}, "'gateway'"),
        ({"topology": {"server": 0, "user-code": 1}}, "count 0"),
        ({"cells": {"Bad_Name": {"server": "latest"}}}, "'Bad_Name'"),
        ({"cells": {"x": {"server": "0.0.9"}}}, "'0.0.9'"),
        ({"cells": {"x": {"worker": "latest"}}}, "'worker'"),
        ({"backends": ["k8s"]}, "'k8s'"),
    ],
)
def test_malformed_declarations_fail_naming_the_suite_and_the_value(
    overrides: Mapping[str, Any], needle: str
) -> None:
    with pytest.raises(ValueError) as error:
        declare_backcompat({}, **overrides)
    assert "compat_suite(name='backcompat')" in str(error.value)
    assert needle in str(error.value)


def test_every_env_call_in_the_prelude_names_its_variable_literally() -> None:
    # Pants resolves env() only for a string-literal name (others always get the default), which
    # the exec-based tests here cannot notice: a helper doing env(name, ...) silently read nothing.
    import ast

    calls = [
        node
        for node in ast.walk(ast.parse(PRELUDE.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "env"
    ]
    assert calls
    for call in calls:
        assert call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str), (
            f"{PRELUDE}:{call.lineno}: env() must name its variable with a string literal"
        )


def test_the_prelude_accepts_exactly_the_harness_on_off_values() -> None:
    namespace, _ = exec_prelude({})
    assert namespace["TRUE_VALUES"] == TRUE_VALUES
    assert namespace["FALSE_VALUES"] == FALSE_VALUES


@pytest.mark.parametrize("value", ["false", "no", "0", "OFF", ""])
def test_an_off_full_matrix_value_generates_only_the_declared_cells(value: str) -> None:
    # Regression (issue 12): COMPAT_MATRIX_FULL=false (or no) generated the full matrix.
    declared = declare_backcompat({})
    assert set(declare_backcompat({"COMPAT_MATRIX_FULL": value})["python_tests"]) == set(declared["python_tests"])


@pytest.mark.parametrize("value", ["ture", "2", "enabled"])
def test_a_full_matrix_value_that_is_neither_on_nor_off_fails_the_parse(value: str) -> None:
    # Regression (issue 12): any value but "" / "0" silently meant on.
    with pytest.raises(ValueError) as error:
        declare_backcompat({"COMPAT_MATRIX_FULL": value})
    message = str(error.value)
    assert f"COMPAT_MATRIX_FULL={value!r}" in message
    assert all(accepted in message for accepted in (*TRUE_VALUES, *FALSE_VALUES))


def test_an_unpinned_earliest_override_says_how_to_pin_it() -> None:
    with pytest.raises(ValueError, match=r"EARLIEST_TESTED_RELEASE='0\.0\.1' is not a pinned release.*generate-lockfiles"):
        declare_backcompat({"EARLIEST_TESTED_RELEASE": "0.0.1"})

"""Reading suites from BUILD files and COMPAT_MATRIX_CELL, and generating the full matrix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compat_matrix.declaration import (
    CELL_ENV,
    FULL_MATRIX_ENV,
    cell_from_json,
    cell_to_json,
    check_env_cell,
    expand_cells,
    find_build_files,
    full_matrix_cell_name,
    full_matrix_cells,
    full_matrix_enabled,
    parse_build_text,
    read_suite,
    read_suites,
    split_suite_address,
    suite_from_env,
)
from compat_matrix.errors import ReleaseError, SettingError, SuiteDeclarationError
from compat_matrix.model import CellSpec, Releases, Suite, Topology
from compat_matrix.plan import plan_suite
from compat_matrix.settings import FALSE_VALUES, TRUE_VALUES
from compat_matrix.systems.conveyor import SYSTEM

RELEASES = Releases(package="conveyor", pinned=("0.1.0", "0.2.0"), earliest="0.1.0")

BACKCOMPAT = """
python_tests(name="helpers", sources=["helpers.py"])  # other calls are not suites

compat_suite(
    name="backcompat",
    system="conveyor",
    topology={"server": 1, "user-code": 1},
    cells={
        "server-latest": {"server": "latest"},
        "server-earliest": {"server": "earliest"},
        "user-code-latest": {"user-code": "latest"},
        "user-code-earliest": {"user-code": "earliest"},
    },
    full_matrix=True,        # opt-in extra cells for every version pair
    backends=["process", "docker"],
    sources=["test_*.py"],
)
"""


def parse_one(text: str) -> Suite:
    (suite,) = parse_build_text(text, "suite/BUILD")
    return suite


def decl_error(text: str) -> str:
    with pytest.raises(SuiteDeclarationError) as e:
        parse_build_text(text, "suite/BUILD")
    return str(e.value)


# --- BUILD files ---------------------------------------------------------------------------------


def test_parse_the_contract_example() -> None:
    assert parse_one(BACKCOMPAT) == Suite(
        name="backcompat",
        topology=Topology((("server", 1), ("user-code", 1))),
        cells=(
            CellSpec("server-latest", (("server", "latest"),)),
            CellSpec("server-earliest", (("server", "earliest"),)),
            CellSpec("user-code-latest", (("user-code", "latest"),)),
            CellSpec("user-code-earliest", (("user-code", "earliest"),)),
        ),
        modules=("test_*.py",),
        system="conveyor",
        backends=("process", "docker"),
        full_matrix=True,
    )


def test_defaults_match_the_macro() -> None:
    suite = parse_one('compat_suite(name="s", topology={"user-code": 1}, cells={"all-branch": {}})')
    assert suite.system == "conveyor"
    assert suite.backends == ("process", "docker")
    assert suite.modules == ("test_*.py",)
    assert suite.full_matrix is False
    assert suite.cells == (CellSpec("all-branch", ()),)


def test_keyword_arguments_for_the_macro_only_are_ignored() -> None:
    suite = parse_one(
        'compat_suite(name="s", topology={"user-code": 1}, cells={"c": {}}, '
        "dependencies=[HELPERS], timeout=60 * 10)"
    )
    assert suite.name == "s"


def test_several_suites_in_one_file() -> None:
    text = BACKCOMPAT + 'compat_suite(name="other", topology={"user-code": 1}, cells={"c": {}})\n'
    assert [s.name for s in parse_build_text(text)] == ["backcompat", "other"]


def test_nested_calls_are_not_suites() -> None:
    assert parse_build_text('if True:\n    compat_suite(name="s", topology={}, cells={})\n') == ()


def test_same_suite_name_twice() -> None:
    assert "suite 'backcompat' is declared twice" in decl_error(BACKCOMPAT + BACKCOMPAT)


@pytest.mark.parametrize(
    ("kwarg", "value"),
    [
        ("topology", "TOPOLOGY"),
        ("cells", "dict(a={})"),
        ("topology", '{"server": N}'),
        ("cells", '{"c": {"server": LATEST}}'),
        ("backends", "BACKENDS + ['docker']"),
        ("full_matrix", "env('FULL')"),
        ("system", "SYSTEM"),
        ("sources", "glob('*.py')"),
    ],
)
def test_non_literal_kwarg_names_file_suite_and_kwarg(kwarg: str, value: str) -> None:
    kwargs = {"name": '"s"', "topology": '{"server": 1, "user-code": 1}', "cells": '{"c": {}}', kwarg: value}
    text = "compat_suite(" + ", ".join(f"{k}={v}" for k, v in kwargs.items()) + ")\n"
    message = decl_error(text)
    assert "suite/BUILD:1" in message
    assert "suite 's'" in message
    assert f"{kwarg}= must be a literal" in message
    assert value in message


@pytest.mark.parametrize("missing", ["topology", "cells"])
def test_missing_required_kwarg(missing: str) -> None:
    kwargs = {"name": '"s"', "topology": '{"server": 1}', "cells": '{"c": {}}'}
    del kwargs[missing]
    message = decl_error("compat_suite(" + ", ".join(f"{k}={v}" for k, v in kwargs.items()) + ")")
    assert "suite/BUILD:1" in message and "suite 's'" in message
    assert f"has no {missing}= argument" in message


def test_missing_name() -> None:
    message = decl_error('\n\ncompat_suite(topology={"server": 1}, cells={})')
    assert "suite/BUILD:3" in message and "has no name=" in message


def test_name_must_be_a_literal_string() -> None:
    assert "name= must be a literal" in decl_error('compat_suite(name=NAME, topology={}, cells={})')
    assert "name=3) must be a string" in decl_error('compat_suite(name=3, topology={}, cells={})')


def test_positional_arguments() -> None:
    assert "keyword arguments only" in decl_error('compat_suite("s", topology={}, cells={})')


def test_double_star_kwargs() -> None:
    assert "compat_suite(**...) is not allowed" in decl_error('compat_suite(name="s", **SUITE)')


def test_duplicate_cell_names_in_the_dict() -> None:
    message = decl_error('compat_suite(name="s", topology={"server": 1}, cells={"a": {}, "b": {}, "a": {}})')
    assert "suite 's': cell 'a' is declared twice" in message


def test_duplicate_topology_roles() -> None:
    message = decl_error('compat_suite(name="s", topology={"server": 1, "server": 2}, cells={"a": {}})')
    assert "topology role 'server' is declared twice" in message


def test_duplicate_role_in_a_cell() -> None:
    message = decl_error(
        'compat_suite(name="s", topology={"server": 1}, cells={"a": {"server": "latest", "server": "earliest"}})'
    )
    assert "cell 'a': role 'server' is declared twice" in message


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ('system=1, topology={"server": 1}, cells={}', "system=1 must be a string"),
        ('topology=["server"], cells={}', "topology=['server'] must be a dict of role -> instance count"),
        ("topology={1: 1}, cells={}", "topology={1: 1} must be a dict"),
        ('topology={"server": 1}, cells=["a"]', "cells=['a'] must be a dict of cell name"),
        ('topology={"server": 1}, cells={"a": "latest"}', "cell 'a': 'latest' must be a dict of role -> version"),
        ('topology={"server": 1}, cells={}, full_matrix="yes"', "full_matrix='yes' must be True or False"),
        ('topology={"server": 1}, cells={}, backends="process"', "backends='process' must be a list of strings"),
        ('topology={"server": 1}, cells={}, sources=[1]', "sources=[1] must be a list of strings"),
    ],
)
def test_wrong_types(kwargs: str, expected: str) -> None:
    message = decl_error(f'compat_suite(name="s", {kwargs})')
    assert "suite 's'" in message
    assert expected in message


def test_syntax_error_names_the_file() -> None:
    assert "suite/BUILD:1: not valid BUILD syntax" in decl_error("compat_suite(name=")


def write_build(directory: Path, text: str, name: str = "BUILD") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def test_read_suite_from_a_directory_or_a_file(tmp_path: Path) -> None:
    build = write_build(tmp_path / "backcompat", BACKCOMPAT)
    assert read_suite(tmp_path / "backcompat").name == "backcompat"
    assert read_suite(build).name == "backcompat"
    assert read_suite(str(build)).name == "backcompat"


def test_read_suite_picks_by_name(tmp_path: Path) -> None:
    write_build(tmp_path / "s", BACKCOMPAT + 'compat_suite(name="other", topology={"server": 1}, cells={"c": {}})')
    assert read_suite(f"{tmp_path / 's'}:other").name == "other"
    assert read_suite(tmp_path / "s", name="backcompat").name == "backcompat"
    with pytest.raises(SuiteDeclarationError, match="declares several suites \\(backcompat, other\\)"):
        read_suite(tmp_path / "s")
    with pytest.raises(SuiteDeclarationError, match="declares no suite 'nope'; suites there: backcompat, other"):
        read_suite(f"{tmp_path / 's'}:nope")


def test_split_suite_address() -> None:
    assert split_suite_address("a/b:s") == (Path("a/b"), "s")
    assert split_suite_address(":s") == (Path("."), "s")
    assert split_suite_address("a:b/c") == (Path("a:b/c"), None)
    assert split_suite_address(Path("a/BUILD")) == (Path("a/BUILD"), None)


def test_read_suites_reads_build_star_files(tmp_path: Path) -> None:
    write_build(tmp_path, BACKCOMPAT, "BUILD.pants")
    write_build(tmp_path, "", "BUILD")
    write_build(tmp_path, "compat_suite(", "BUILDING.md")  # not a BUILD file
    assert [p.name for p in find_build_files(tmp_path)] == ["BUILD", "BUILD.pants"]
    assert [s.name for s in read_suites(tmp_path)] == ["backcompat"]


def test_read_suite_errors(tmp_path: Path) -> None:
    with pytest.raises(SuiteDeclarationError, match="no BUILD file here"):
        read_suite(tmp_path)
    write_build(tmp_path, "python_tests()\n")
    with pytest.raises(SuiteDeclarationError, match="no compat_suite"):
        read_suite(tmp_path)
    with pytest.raises(SuiteDeclarationError, match="cannot read"):
        read_suite(tmp_path / "missing" / "BUILD")


def test_errors_from_a_file_name_it(tmp_path: Path) -> None:
    build = write_build(tmp_path, 'compat_suite(name="s", topology=T, cells={})')
    with pytest.raises(SuiteDeclarationError, match=f"{build}:1: suite 's': topology= must be a literal"):
        read_suite(tmp_path)


# --- full matrix ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("versions", "name"),
    [
        ((), "all-branch"),
        ((("server", "branch"), ("user-code", "branch")), "all-branch"),
        ((("server", "0.1.0"),), "server-0.1.0"),
        ((("server", "0.1.0"), ("user-code", "0.2.0")), "server-0.1.0-user-code-0.2.0"),
        ((("server", "branch"), ("user-code", "0.2.0")), "user-code-0.2.0"),
    ],
)
def test_full_matrix_cell_name(versions: tuple[tuple[str, str], ...], name: str) -> None:
    assert full_matrix_cell_name(versions) == name


def test_full_matrix_cells_every_combination_in_order() -> None:
    cells = full_matrix_cells(parse_one(BACKCOMPAT), RELEASES)
    assert [c.name for c in cells] == [
        "all-branch",
        "user-code-0.1.0",
        "user-code-0.2.0",
        "server-0.1.0",
        "server-0.1.0-user-code-0.1.0",
        "server-0.1.0-user-code-0.2.0",
        "server-0.2.0",
        "server-0.2.0-user-code-0.1.0",
        "server-0.2.0-user-code-0.2.0",
    ]
    assert cells[5].versions == (("server", "0.1.0"), ("user-code", "0.2.0"))
    assert cells[0].versions == ()


def test_full_matrix_is_per_role_not_per_instance() -> None:
    suite = Suite("d", Topology.of({"scheduler": 1, "worker": 2}), ())
    assert len(full_matrix_cells(suite, RELEASES)) == 9


def test_full_matrix_uses_every_pinned_release() -> None:
    releases = Releases("conveyor", ("0.1.0", "0.2.0", "0.3.0"), earliest="0.2.0")
    suite = Suite("s", Topology.of({"server": 1}), ())
    assert [c.name for c in full_matrix_cells(suite, releases)] == [
        "all-branch",
        "server-0.1.0",
        "server-0.2.0",
        "server-0.3.0",
    ]


@pytest.mark.parametrize(
    ("full_matrix", "env", "enabled"),
    [
        (True, {FULL_MATRIX_ENV: "1"}, True),
        (True, {FULL_MATRIX_ENV: "yes"}, True),
        (True, {FULL_MATRIX_ENV: "0"}, False),
        (True, {FULL_MATRIX_ENV: ""}, False),
        # Regression (issue 12): "false" and "no" turned the full matrix on.
        (True, {FULL_MATRIX_ENV: "false"}, False),
        (True, {FULL_MATRIX_ENV: "no"}, False),
        (True, {FULL_MATRIX_ENV: " OFF "}, False),
        (True, {FULL_MATRIX_ENV: "True"}, True),
        (True, {}, False),
        (False, {FULL_MATRIX_ENV: "1"}, False),
    ],
)
def test_full_matrix_is_opt_in_twice(full_matrix: bool, env: dict[str, str], enabled: bool) -> None:
    suite = Suite("s", Topology.of({"server": 1, "user-code": 1}), (), full_matrix=full_matrix)
    assert full_matrix_enabled(suite, env) is enabled


@pytest.mark.parametrize("value", ["ture", "2", "enabled", "y"])
def test_a_full_matrix_value_that_is_neither_on_nor_off_is_an_error_naming_it(value: str) -> None:
    # Regression (issue 12): any value but "" / "0" silently meant on.
    suite = Suite("s", Topology.of({"server": 1}), (), full_matrix=True)
    with pytest.raises(SettingError) as error:
        full_matrix_enabled(suite, {FULL_MATRIX_ENV: value})
    message = str(error.value)
    assert f"{FULL_MATRIX_ENV}={value!r}" in message
    assert all(accepted in message for accepted in (*TRUE_VALUES, *FALSE_VALUES))


def test_expand_cells_skips_generated_cells_that_a_declared_cell_already_runs() -> None:
    suite = parse_one(BACKCOMPAT)
    assert expand_cells(suite, RELEASES, {}) == suite
    expanded = expand_cells(suite, RELEASES, {FULL_MATRIX_ENV: "1"})
    # server-0.1.0 == server-earliest, server-0.2.0 == server-latest, and likewise for user-code.
    assert [c.name for c in expanded.cells] == [
        "server-latest",
        "server-earliest",
        "user-code-latest",
        "user-code-earliest",
        "all-branch",
        "server-0.1.0-user-code-0.1.0",
        "server-0.1.0-user-code-0.2.0",
        "server-0.2.0-user-code-0.1.0",
        "server-0.2.0-user-code-0.2.0",
    ]
    assert expanded.topology == suite.topology and expanded.backends == suite.backends
    plan_suite(expanded, SYSTEM, RELEASES)  # every generated cell is a valid cell


def test_expand_cells_keeps_a_declared_cell_of_the_same_name() -> None:
    suite = Suite(
        "s",
        Topology.of({"server": 1}),
        (CellSpec("all-branch", ()), CellSpec("server-0.1.0", (("server", "0.1.0"),))),
        full_matrix=True,
    )
    expanded = expand_cells(suite, RELEASES, {FULL_MATRIX_ENV: "1"})
    assert [c.name for c in expanded.cells] == ["all-branch", "server-0.1.0", "server-0.2.0"]


def test_expand_cells_with_the_earliest_override() -> None:
    # With earliest = latest = 0.2.0, server-earliest and server-latest run the same versions.
    releases = Releases("conveyor", ("0.1.0", "0.2.0"), earliest="0.2.0")
    expanded = expand_cells(parse_one(BACKCOMPAT), releases, {FULL_MATRIX_ENV: "1"})
    names = [c.name for c in expanded.cells]
    assert "server-0.1.0" in names and "server-0.2.0" not in names


# --- COMPAT_MATRIX_CELL --------------------------------------------------------------------------

CONTRACT_JSON = (
    '{"suite": "backcompat", "system": "conveyor", "cell": "user-code-earliest", '
    '"topology": [["server",1],["user-code",1]], "versions": [["user-code","0.1.0"]]}'
)


def test_cell_from_the_contract_json() -> None:
    suite = cell_from_json(CONTRACT_JSON)
    assert suite == Suite(
        name="backcompat",
        topology=Topology((("server", 1), ("user-code", 1))),
        cells=(CellSpec("user-code-earliest", (("user-code", "0.1.0"),)),),
        system="conveyor",
    )


def test_cell_to_json_matches_what_the_macro_sets() -> None:
    suite = parse_one(BACKCOMPAT)
    text = cell_to_json(suite, suite.cells[3], RELEASES)
    assert json.loads(text) == json.loads(CONTRACT_JSON)
    assert cell_from_json(text).cells == (CellSpec("user-code-earliest", (("user-code", "0.1.0"),)),)


def test_cell_to_json_leaves_out_roles_on_the_branch() -> None:
    suite = Suite("s", Topology.of({"server": 1, "user-code": 1}), ())
    cell = CellSpec("c", (("user-code", "branch"), ("server", "0.2.0")))
    assert json.loads(cell_to_json(suite, cell))["versions"] == [["server", "0.2.0"]]


def test_cell_to_json_needs_releases_for_aliases() -> None:
    suite = parse_one(BACKCOMPAT)
    with pytest.raises(ReleaseError, match="alias 'latest'"):
        cell_to_json(suite, suite.cells[0])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "is not JSON"),
        ("[]", "must be a JSON object"),
        ('{"suite": "s"}', "no valid 'system'"),
        (CONTRACT_JSON.replace('"cell": "user-code-earliest"', '"cell": 3'), "no valid 'cell' (got 3)"),
        (CONTRACT_JSON.replace('[["server",1],["user-code",1]]', '{"server": 1}'), "no valid 'topology'"),
        (CONTRACT_JSON.replace('[["user-code","0.1.0"]]', '[["user-code"]]'), "versions entry ['user-code']"),
        (CONTRACT_JSON.replace('[["server",1],', "[[1,1],"), "topology entry [1, 1]"),
        (CONTRACT_JSON.replace("user-code-earliest", "User Code"), "invalid cell name 'User Code'"),
    ],
)
def test_bad_cell_json(text: str, expected: str) -> None:
    with pytest.raises(SuiteDeclarationError) as e:
        cell_from_json(text)
    assert expected in str(e.value)
    if "invalid cell name" not in expected:
        assert CELL_ENV in str(e.value)


def test_suite_from_env() -> None:
    assert suite_from_env({}) is None
    assert suite_from_env({CELL_ENV: "  "}) is None
    suite = suite_from_env({CELL_ENV: CONTRACT_JSON})
    assert suite is not None and suite.cells[0].name == "user-code-earliest"


# --- a hand-set COMPAT_MATRIX_CELL against its declaration (issue 12) ---------------------------


def _env_suite(cell: str, versions: list[list[str]], topology: list[list[object]] | None = None) -> Suite:
    return cell_from_json(
        json.dumps(
            {
                "suite": "backcompat",
                "system": "conveyor",
                "cell": cell,
                "topology": topology or [["server", 1], ["user-code", 1]],
                "versions": versions,
            }
        )
    )


def test_the_macro_written_cell_of_every_declared_and_generated_cell_passes_the_check() -> None:
    suite = parse_one(BACKCOMPAT)
    for cell in expand_cells(suite, RELEASES, {FULL_MATRIX_ENV: "1"}).cells:
        check_env_cell(cell_from_json(cell_to_json(suite, cell, RELEASES)), suite, RELEASES)


@pytest.mark.parametrize(
    ("cell", "versions", "needle"),
    [
        ("server-latest", [], "server: branch (declared latest)"),
        ("server-latest", [["server", "0.1.0"]], "server: 0.1.0 (declared latest)"),
        ("user-code-earliest", [["user-code", "0.1.0"], ["server", "0.1.0"]], "server: 0.1.0 (declared branch)"),
        ("server-latest", [["server", "0.2.0"], ["scheduler", "0.2.0"]], "scheduler: not in the topology"),
    ],
)
def test_a_hand_set_cell_whose_versions_disagree_names_the_cell_and_the_fix(
    cell: str, versions: list[list[str]], needle: str
) -> None:
    # Regression (issue 12): a hand-set cell naming a real cell with no versions passed.
    with pytest.raises(SuiteDeclarationError) as error:
        check_env_cell(_env_suite(cell, versions), parse_one(BACKCOMPAT), RELEASES)
    message = str(error.value)
    assert f"{CELL_ENV} names cell {cell!r}" in message
    assert needle in message
    assert f"unset {CELL_ENV}" in message
    assert f"-m {cell}" in message


def test_a_hand_set_cell_with_another_topology_or_an_unknown_name_fails() -> None:
    suite = parse_one(BACKCOMPAT)
    with pytest.raises(SuiteDeclarationError, match="topology"):
        check_env_cell(_env_suite("server-latest", [["server", "0.2.0"]], [["server", 2]]), suite, RELEASES)
    with pytest.raises(SuiteDeclarationError, match="does not declare"):
        check_env_cell(_env_suite("server-0.9.0", [["server", "0.9.0"]]), suite, RELEASES)


def test_without_releases_an_alias_accepts_any_release_but_not_branch() -> None:
    suite = parse_one(BACKCOMPAT)
    check_env_cell(_env_suite("server-latest", [["server", "0.2.0"]]), suite, None)
    with pytest.raises(SuiteDeclarationError, match="server: branch"):
        check_env_cell(_env_suite("server-latest", []), suite, None)

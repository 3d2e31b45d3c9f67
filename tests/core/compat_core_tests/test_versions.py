"""Version specs: branch, the aliases, releases as PEP 440 names them, and how the environment moves
``earliest`` per system."""

from __future__ import annotations

import dataclasses

import pytest

from compat_core.contract import EARLIEST_ENV
from compat_core.errors import ReleaseError
from compat_core.versions import (
    apply_earliest_override,
    check_earliest_overrides,
    is_release,
    listed,
    pin_instructions,
    release_key,
    release_problem,
    resolve_version,
    sort_releases,
    spelled_as,
    system_earliest_env,
    version_order,
)
from compat_core_tests.examples import releases
from compat_core_tests.expect import expect_error


@pytest.mark.parametrize(
    "version",
    ["0.0.0", "0.1.0", "1.2.3", "10.20.30", "2024.1.0", "5.15", "2.0", "1", "0.1.0.0", "1.13.28", "1.4.post1", "2.0.post0"],
)
def test_releases_are_pep_440_final_releases(version: str) -> None:
    assert is_release(version)
    assert release_problem(version) == ""


@pytest.mark.parametrize(
    "version",
    ["01.2.3", "v0.1.0", "0.1.0rc1", "0.1.0-dev", " 0.1.0", "0.1.0\n", "", "branch", "latest", "١.٢.٣", "1!2.0", "1.0+local", 1, 0.1, None, b"0.1.0"],
)
def test_not_releases(version: object) -> None:
    assert not is_release(version)


@pytest.mark.parametrize(
    "version, fragments",
    [
        ("1.0rc1", ["is a pre-release (PEP 440 rc1)", "only final releases are pinned", "test unreleased code as the branch"]),
        ("1.0a1", ["is a pre-release (PEP 440 a1)"]),
        ("2.0b3", ["is a pre-release (PEP 440 b3)"]),
        ("1.0.dev0", ["is a development release (PEP 440 .dev0)", "pin a final release once it is out"]),
        ("1.0.post1.dev2", ["is a development release (PEP 440 .dev2)"]),
        ("1.0rc1.dev0", ["is a development release"]),
        ("1!2.0", ["has an epoch (1!), which is not supported", "'!' cannot go", "pin a release without one"]),
        ("1.0+ubuntu1", ["has a local version label (+ubuntu1)", "an image tag cannot hold", "pin the public release '1.0'"]),
        ("newest", ["is not a PEP 440 version", "e.g. '5.15', '1.13.28' or '1.4.post1'"]),
        ("", ["is not a PEP 440 version"]),
        (5.15, ["is not a string", '"5.15"']),
    ],
)
def test_why_a_version_is_not_a_release(version: object, fragments: list[str]) -> None:
    problem = release_problem(version)
    assert all(fragment in problem for fragment in fragments), problem


@pytest.mark.parametrize(
    "version, normalized",
    [("01.2", "1.2"), ("v1.0", "1.0"), ("1.0-post1", "1.0.post1"), ("1.0.POST1", "1.0.post1"), ("1.0post", "1.0.post0"), ("1.0-1", "1.0.post1"), (" 1.0", "1.0"), ("1.0\n", "1.0")],
)
def test_a_release_is_written_as_its_index_names_it(version: str, normalized: str) -> None:
    # The string names resolves, images and cells verbatim: one spelling, PEP 440's normalized one.
    problem = release_problem(version)
    assert "is not written as its package index names it" in problem and f"write {normalized!r}" in problem, problem


def test_releases_order_by_pep_440() -> None:
    shuffled = ["5.15.1", "1.4.1", "5.9", "1.4.post1", "5.15", "1.4", "10.0"]
    assert sort_releases(shuffled) == ("1.4", "1.4.post1", "1.4.1", "5.9", "5.15", "5.15.1", "10.0")
    assert release_key("5.15") == release_key("5.15.0")
    assert sorted(["0.2.0", "unknown", "branch", "0.10.0"], key=version_order) == ["branch", "0.2.0", "0.10.0", "unknown"]
    assert listed(["0.10.0", "0.2.0", "0.1.0"]) == "0.1.0, 0.2.0, 0.10.0"


def test_latest_is_the_newest_by_pep_440() -> None:
    assert releases("qt", ["5.15", "5.9", "6.2"], "5.9").latest == "6.2"
    assert releases("qt", ["5.15", "5.9"], "5.9").latest == "5.15"
    assert releases("p", ["1.4.1", "1.4.post1"], "1.4.post1").latest == "1.4.1"
    assert releases("p", ["1.4", "1.4.post1"], "1.4").latest == "1.4.post1"


def test_spelled_as() -> None:
    assert spelled_as("5.15.0", ["5.14", "5.15"]) == "5.15"
    assert spelled_as("5.15", ["5.15.0"]) == "5.15.0"
    assert spelled_as("5.15", ["5.15", "5.16"]) == ""
    assert spelled_as("newest", ["5.15"]) == ""


def test_system_earliest_env() -> None:
    assert system_earliest_env("conveyor") == "EARLIEST_TESTED_RELEASE_CONVEYOR"
    assert system_earliest_env("user-code.v2") == "EARLIEST_TESTED_RELEASE_USER_CODE_V2"
    assert EARLIEST_ENV == "EARLIEST_TESTED_RELEASE"


def test_pin_instructions_name_the_command_and_what_it_does() -> None:
    text = pin_instructions("conveyor", "0.3.0")
    assert "run ./pants run src/python/compat_matrix:cli -- releases pin <address of compat_system(name='conveyor')> 0.3.0" in text
    assert "adds '0.3.0' to the releases of compat_system(name='conveyor')" in text
    assert 'the resolve "conveyor-0.3.0" to [python.resolves] in pants.toml' in text
    assert "./pants generate-lockfiles --resolve=conveyor-0.3.0" in text
    assert "releases pin src/python/conveyor:conveyor 0.3.0 " in pin_instructions("conveyor", "0.3.0", "src/python/conveyor:conveyor")


# --- resolve_version ---------------------------------------------------------------------------

CONVEYOR = releases("conveyor", ["0.1.0", "0.2.0", "0.10.0"], "0.2.0")


@pytest.mark.parametrize(
    "spec, version", [("branch", "branch"), ("earliest", "0.2.0"), ("latest", "0.10.0"), ("0.1.0", "0.1.0"), ("0.10.0", "0.10.0")]
)
def test_resolve_version(spec: str, version: str) -> None:
    assert resolve_version(spec, CONVEYOR, "conveyor") == version


def test_an_unpinned_release() -> None:
    with expect_error(ReleaseError, "version '0.3.0' is not a pinned release of conveyor", "0.1.0, 0.2.0, 0.10.0", pin_instructions("conveyor", "0.3.0")):
        resolve_version("0.3.0", CONVEYOR, "conveyor")


def test_the_package_names_the_system_when_no_system_is_given() -> None:
    with expect_error(ReleaseError, "not a pinned release of conveyor"):
        resolve_version("0.3.0", CONVEYOR)


@pytest.mark.parametrize("spec", ["01.2.3", "v0.1.0", "Latest", "newest", ""])
def test_a_malformed_spec(spec: str) -> None:
    with expect_error(ReleaseError, f"version {spec!r} is not 'branch', 'earliest', 'latest' or a release: it is not"):
        resolve_version(spec, CONVEYOR, "conveyor")


@pytest.mark.parametrize("spec, why", [("0.3.0rc1", "is a pre-release"), ("0.3.0.dev0", "is a development release"), ("1!0.1.0", "has an epoch")])
def test_an_unpinnable_spec_says_why(spec: str, why: str) -> None:
    with expect_error(ReleaseError, f"version {spec!r} is not 'branch', 'earliest', 'latest' or a release: it {why}"):
        resolve_version(spec, CONVEYOR, "conveyor")


def test_a_spec_spelled_unlike_the_pinned_release() -> None:
    qt = releases("qt", ["5.9", "5.15"], "5.9")
    assert resolve_version("5.15", qt, "qt") == "5.15"
    with expect_error(ReleaseError, "version '5.15.0' is not a pinned release of qt (pinned: 5.9, 5.15)", "it is pinned as '5.15'", "write '5.15'"):
        resolve_version("5.15.0", qt, "qt")


@pytest.mark.parametrize("spec", [0.1, 1, None, ["0.1.0"]])
def test_a_non_string_spec(spec: object) -> None:
    with expect_error(ReleaseError, f"version {spec!r} is not a string", '"5.15"'):
        resolve_version(spec, CONVEYOR, "conveyor")


def test_without_releases_only_concrete_versions() -> None:
    assert resolve_version("branch", None) == "branch"
    assert resolve_version("9.9.9", None) == "9.9.9"  # not pin-checked: already resolved
    for alias in ("earliest", "latest"):
        with expect_error(ReleaseError, f"alias {alias!r} needs the system's releases"):
            resolve_version(alias, None)


# --- EARLIEST_TESTED_RELEASE -------------------------------------------------------------------

A = releases("a", ["0.1.0", "0.2.0", "0.3.0"], "0.1.0")
B = releases("b", ["1.0.0", "2.0.0"], "1.0.0")


def earliest(rel, system: str, **env: str) -> str:
    return apply_earliest_override(rel, system, env).earliest


def test_no_override_keeps_the_declared_earliest() -> None:
    assert apply_earliest_override(A, "a", {}) is A
    assert earliest(A, "a", EARLIEST_TESTED_RELEASE="", EARLIEST_TESTED_RELEASE_A="  ") == "0.1.0"


def test_the_shared_variable_moves_every_system_that_pins_the_release() -> None:
    assert earliest(A, "a", EARLIEST_TESTED_RELEASE="0.2.0") == "0.2.0"
    # b does not pin 0.2.0: a repo with several systems runs `pants test ::` with one value.
    assert earliest(B, "b", EARLIEST_TESTED_RELEASE="0.2.0") == "1.0.0"
    assert earliest(B, "b", EARLIEST_TESTED_RELEASE="2.0.0") == "2.0.0"
    assert earliest(A, "a", EARLIEST_TESTED_RELEASE="2.0.0") == "0.1.0"


def test_the_shared_variable_must_still_be_a_release() -> None:
    for value, why in (("latest", "is not a PEP 440 version"), ("v0.2.0", "write '0.2.0'"), ("0.2.0rc1", "is a pre-release")):
        with expect_error(ReleaseError, f"EARLIEST_TESTED_RELEASE={value!r} is not a release: it", why, "'0.1.0' for a", "or unset it"):
            apply_earliest_override(A, "a", {"EARLIEST_TESTED_RELEASE": value})
    # Even when the system's own variable is set: one bad value fails every system alike.
    with expect_error(ReleaseError, "EARLIEST_TESTED_RELEASE='0.2.0rc1'"):
        apply_earliest_override(A, "a", {"EARLIEST_TESTED_RELEASE": "0.2.0rc1", "EARLIEST_TESTED_RELEASE_A": "0.3.0"})


def test_two_part_releases_move_earliest() -> None:
    qt = releases("qt", ["5.9", "5.15", "6.2"], "5.9")
    assert earliest(qt, "qt", EARLIEST_TESTED_RELEASE="5.15") == "5.15"
    assert earliest(qt, "qt", EARLIEST_TESTED_RELEASE_QT="6.2") == "6.2"
    # The same version spelled otherwise is not the pinned string: say which one to write.
    with expect_error(ReleaseError, "EARLIEST_TESTED_RELEASE_QT='5.15.0' is not a pinned release of qt", "it is pinned as '5.15'"):
        apply_earliest_override(qt, "qt", {"EARLIEST_TESTED_RELEASE_QT": "5.15.0"})
    with expect_error(ReleaseError, "EARLIEST_TESTED_RELEASE=5.15.0 is pinned by no system", "it is pinned as '5.15' by qt"):
        check_earliest_overrides([("qt", qt)], {EARLIEST_ENV: "5.15.0"})


def test_the_system_variable_moves_only_its_system() -> None:
    env = {"EARLIEST_TESTED_RELEASE_A": "0.3.0"}
    assert earliest(A, "a", **env) == "0.3.0"
    assert earliest(B, "b", **env) == "1.0.0"


def test_the_system_variable_wins_over_the_shared_one() -> None:
    env = {"EARLIEST_TESTED_RELEASE": "0.2.0", "EARLIEST_TESTED_RELEASE_A": "0.3.0", "EARLIEST_TESTED_RELEASE_B": "2.0.0"}
    assert earliest(A, "a", **env) == "0.3.0"
    assert earliest(B, "b", **env) == "2.0.0"


def test_the_system_variable_must_be_pinned_by_that_system() -> None:
    for value in ("0.4.0", "1.0.0", "latest"):
        with expect_error(ReleaseError, f"EARLIEST_TESTED_RELEASE_A={value!r} is not a pinned release of a", "0.1.0, 0.2.0, 0.3.0", "generate-lockfiles"):
            apply_earliest_override(A, "a", {"EARLIEST_TESTED_RELEASE_A": value})


def test_values_are_stripped() -> None:
    assert earliest(A, "a", EARLIEST_TESTED_RELEASE=" 0.2.0\n") == "0.2.0"
    assert earliest(A, "a", EARLIEST_TESTED_RELEASE_A=" 0.3.0 ") == "0.3.0"


def test_a_system_name_with_dashes_and_dots() -> None:
    rel = releases("user-code.v2", ["0.1.0", "0.2.0"], "0.1.0")
    assert earliest(rel, "user-code.v2", EARLIEST_TESTED_RELEASE_USER_CODE_V2="0.2.0") == "0.2.0"


def test_only_earliest_moves() -> None:
    rel = releases("a", ["0.1.0", "0.2.0"], "0.1.0", index="wheels", resolves={"0.2.0": "a-new"})
    moved = apply_earliest_override(rel, "a", {"EARLIEST_TESTED_RELEASE": "0.2.0"})
    assert moved == dataclasses.replace(rel, earliest="0.2.0")
    assert resolve_version("earliest", moved, "a") == "0.2.0"
    assert resolve_version("latest", moved, "a") == "0.2.0"


# --- overrides across the repo's systems -------------------------------------------------------

REPO = [("conveyor", releases("conveyor", ("0.1.0", "0.2.0"))), ("dagster", releases("dagster", ("1.11.16", "1.13.28"), "1.11.16"))]


@pytest.mark.parametrize(
    "environ",
    [{}, {EARLIEST_ENV: "0.2.0"}, {EARLIEST_ENV: "1.13.28"}, {"EARLIEST_TESTED_RELEASE_DAGSTER": "1.13.28"}, {"EARLIEST_TESTED_RELEASE_NOPE": ""}],
)
def test_overrides_that_move_some_earliest(environ: dict) -> None:
    check_earliest_overrides(REPO, environ)


def test_an_earliest_override_pinned_by_no_system() -> None:
    # Regression: EARLIEST_TESTED_RELEASE=9.9.9 was ignored without a word.
    with expect_error(
        ReleaseError,
        "EARLIEST_TESTED_RELEASE=9.9.9 is pinned by no system",
        "pinned releases: conveyor 0.1.0, 0.2.0; dagster 1.11.16, 1.13.28",
        "set it to one of them or unset it",
    ):
        check_earliest_overrides(REPO, {EARLIEST_ENV: "9.9.9"})


def test_a_system_override_naming_no_system() -> None:
    with expect_error(
        ReleaseError,
        "EARLIEST_TESTED_RELEASE_CONVEYR=0.2.0 names no system",
        "EARLIEST_TESTED_RELEASE_CONVEYOR (conveyor), EARLIEST_TESTED_RELEASE_DAGSTER (dagster)",
        "rename it to one of them or unset it",
    ):
        check_earliest_overrides(REPO, {"EARLIEST_TESTED_RELEASE_CONVEYR": "0.2.0"})


def test_a_system_override_its_system_does_not_pin() -> None:
    with expect_error(ReleaseError, "EARLIEST_TESTED_RELEASE_DAGSTER='0.2.0' is not a pinned release of dagster", "1.11.16, 1.13.28"):
        check_earliest_overrides(REPO, {"EARLIEST_TESTED_RELEASE_DAGSTER": "0.2.0"})

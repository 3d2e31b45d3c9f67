"""Version specs: branch, the aliases, X.Y.Z, and how the environment moves ``earliest`` per system."""

from __future__ import annotations

import dataclasses

import pytest

from compat_core.contract import EARLIEST_ENV
from compat_core.errors import ReleaseError
from compat_core.versions import (
    apply_earliest_override,
    check_earliest_overrides,
    is_release,
    pin_instructions,
    resolve_version,
    system_earliest_env,
)
from compat_core_tests.examples import releases
from compat_core_tests.expect import expect_error


@pytest.mark.parametrize("version", ["0.0.0", "0.1.0", "1.2.3", "10.20.30", "2024.1.0"])
def test_releases_are_x_y_z(version: str) -> None:
    assert is_release(version)


@pytest.mark.parametrize(
    "version", ["01.2.3", "1.02.3", "1.2.03", "0.1", "1", "0.1.0.0", "v0.1.0", "0.1.0rc1", "0.1.0-dev", " 0.1.0", "0.1.0\n", "", "branch", "latest", "١.٢.٣", 1, 0.1, None, b"0.1.0"]
)
def test_not_releases(version: object) -> None:
    assert not is_release(version)


def test_system_earliest_env() -> None:
    assert system_earliest_env("conveyor") == "EARLIEST_TESTED_RELEASE_CONVEYOR"
    assert system_earliest_env("user-code.v2") == "EARLIEST_TESTED_RELEASE_USER_CODE_V2"
    assert EARLIEST_ENV == "EARLIEST_TESTED_RELEASE"


def test_pin_instructions_name_every_step() -> None:
    text = pin_instructions("conveyor", "0.3.0")
    assert "add '0.3.0' to the releases of compat_system(name='conveyor')" in text
    assert 'add a resolve "conveyor-0.3.0" to [python.resolves] in pants.toml' in text
    assert "./pants generate-lockfiles --resolve=conveyor-0.3.0" in text


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


@pytest.mark.parametrize("spec", ["01.2.3", "0.1", "v0.1.0", "Latest", "newest", ""])
def test_a_malformed_spec(spec: str) -> None:
    with expect_error(ReleaseError, f"version {spec!r} is not 'branch', 'earliest', 'latest' or a release X.Y.Z", "e.g. '0.1.0'"):
        resolve_version(spec, CONVEYOR, "conveyor")


@pytest.mark.parametrize("spec", [0.1, 1, None, ["0.1.0"]])
def test_a_non_string_spec(spec: object) -> None:
    with expect_error(ReleaseError, f"version {spec!r} is not a string", '"X.Y.Z"'):
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
    for value in ("0.2", "latest", "v0.2.0"):
        with expect_error(ReleaseError, f"EARLIEST_TESTED_RELEASE={value!r} is not a release X.Y.Z", "'0.1.0' for a", "or unset it"):
            apply_earliest_override(A, "a", {"EARLIEST_TESTED_RELEASE": value})
    # Even when the system's own variable is set: one bad value fails every system alike.
    with expect_error(ReleaseError, "EARLIEST_TESTED_RELEASE='0.2'"):
        apply_earliest_override(A, "a", {"EARLIEST_TESTED_RELEASE": "0.2", "EARLIEST_TESTED_RELEASE_A": "0.3.0"})


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

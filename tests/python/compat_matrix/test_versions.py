"""Releases file parsing, the EARLIEST_TESTED_RELEASE override and version resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from compat_matrix.errors import ReleaseError
from compat_matrix.model import Releases
from compat_matrix.versions import (
    EARLIEST_ENV,
    RELEASES_FILE,
    apply_earliest_override,
    find_repo_root,
    is_release,
    load_releases,
    parse_releases,
    pin_instructions,
    resolve_version,
)

FUNCTION_FORM = '''
# comment
def releases():
    """The pinned releases."""
    return {
        "package": "conveyor",
        "pinned": ["0.2.0", "0.1.0"],
        "earliest": "0.1.0",
        "index": "3rdparty/python/releases/wheels",
    }
'''

ASSIGNMENT_FORM = (
    'RELEASES = {"package": "conveyor", "pinned": ["0.1.0", "0.2.0"], "earliest": "0.1.0", '
    '"index": "3rdparty/python/releases/wheels"}\n'
)

RELEASES = Releases(package="conveyor", pinned=("0.1.0", "0.2.0"), earliest="0.1.0")


def releases_text(pinned: str = '["0.1.0", "0.2.0"]', earliest: str = '"0.1.0"', extra: str = "") -> str:
    return f'def releases():\n    return {{"package": "conveyor", "pinned": {pinned}, "earliest": {earliest}{extra}}}\n'


@pytest.mark.parametrize("text", [FUNCTION_FORM, ASSIGNMENT_FORM])
def test_parse_both_literal_forms(text: str) -> None:
    releases = parse_releases(text)
    assert releases == Releases(
        package="conveyor",
        pinned=("0.1.0", "0.2.0"),
        earliest="0.1.0",
        index="3rdparty/python/releases/wheels",
    )
    assert releases.latest == "0.2.0"


def test_pinned_are_sorted_by_version_not_by_string() -> None:
    releases = parse_releases(releases_text(pinned='["0.10.0", "0.9.0", "0.1.0"]'))
    assert releases.pinned == ("0.1.0", "0.9.0", "0.10.0")
    assert releases.latest == "0.10.0"


def test_index_is_optional() -> None:
    assert parse_releases(releases_text()).index == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("def releases(:\n", "not valid Python"),
        ("X = 1\n", "no releases() function"),
        ("def releases():\n    x = 1\n    return {}\n", "must only return a literal dict"),
        ("def releases():\n    return dict(package='conveyor')\n", "literal dict"),
        ("RELEASES = PINNED\n", "literal dict"),
        ("def releases():\n    return ['0.1.0']\n", "must be a dict, got list"),
        ('def releases():\n    return {"pinned": ["0.1.0"], "earliest": "0.1.0"}\n', "no 'package' key"),
        (releases_text(pinned='"0.1.0"'), "'pinned' has the wrong type: '0.1.0'"),
        (releases_text(pinned="[]", earliest='"0.1.0"'), "'pinned' is empty"),
        (releases_text(pinned='["0.1"]', earliest='"0.1"'), "pinned release '0.1' is not a version string X.Y.Z"),
        (releases_text(pinned='["0.1.0", 2]'), "pinned release 2 is not"),
        (releases_text(pinned='["0.1.0", "0.1.0"]'), "'0.1.0' is listed twice"),
        (releases_text(earliest='"0.0.1"'), "'earliest' is '0.0.1', which is not pinned"),
        (releases_text(extra=', "index": 3'), "'index' must be a string path or URL, got 3"),
    ],
)
def test_parse_errors_name_the_file_and_the_problem(text: str, expected: str) -> None:
    with pytest.raises(ReleaseError) as e:
        parse_releases(text, source="some/releases.py")
    assert "some/releases.py" in str(e.value)
    assert expected in str(e.value)


def test_earliest_not_pinned_says_how_to_pin() -> None:
    with pytest.raises(ReleaseError, match=r"generate-lockfiles --resolve=conveyor-0\.0\.1"):
        parse_releases(releases_text(earliest='"0.0.1"'))


def test_parse_applies_the_override_from_the_given_environment() -> None:
    assert parse_releases(FUNCTION_FORM, environ={EARLIEST_ENV: "0.2.0"}).earliest == "0.2.0"
    assert parse_releases(FUNCTION_FORM, environ={}).earliest == "0.1.0"
    assert parse_releases(FUNCTION_FORM).earliest == "0.1.0"


def test_override_empty_or_blank_is_ignored() -> None:
    assert apply_earliest_override(RELEASES, {EARLIEST_ENV: ""}) == RELEASES
    assert apply_earliest_override(RELEASES, {EARLIEST_ENV: "  "}) == RELEASES


def test_override_keeps_the_other_fields() -> None:
    releases = Releases("conveyor", ("0.1.0", "0.2.0"), "0.1.0", index="idx")
    assert apply_earliest_override(releases, {EARLIEST_ENV: "0.2.0"}) == Releases(
        "conveyor", ("0.1.0", "0.2.0"), "0.2.0", index="idx"
    )


@pytest.mark.parametrize("override", ["0.0.9", "latest", "0.2"])
def test_override_must_be_pinned(override: str) -> None:
    with pytest.raises(ReleaseError) as e:
        apply_earliest_override(RELEASES, {EARLIEST_ENV: override})
    message = str(e.value)
    assert f"{EARLIEST_ENV}={override!r}" in message
    assert "pinned: 0.1.0, 0.2.0" in message
    assert f"./pants generate-lockfiles --resolve=conveyor-{override}" in message
    assert RELEASES_FILE in message


def test_pin_instructions_name_all_three_steps() -> None:
    text = pin_instructions("0.3.0", "conveyor")
    assert "wheel" in text and "3rdparty/python/releases/wheels" in text
    assert "'0.3.0' to 'pinned' in 3rdparty/python/releases/releases.py" in text
    assert "./pants generate-lockfiles --resolve=conveyor-0.3.0" in text


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("branch", "branch"), ("earliest", "0.1.0"), ("latest", "0.2.0"), ("0.1.0", "0.1.0"), ("0.2.0", "0.2.0")],
)
def test_resolve_version(spec: str, expected: str) -> None:
    assert resolve_version(spec, RELEASES) == expected


def test_resolve_earliest_follows_the_override() -> None:
    releases = apply_earliest_override(RELEASES, {EARLIEST_ENV: "0.2.0"})
    assert resolve_version("earliest", releases) == "0.2.0"


def test_resolve_unpinned_release_says_how_to_pin() -> None:
    with pytest.raises(ReleaseError) as e:
        resolve_version("0.3.0", RELEASES)
    message = str(e.value)
    assert "'0.3.0' is not a pinned release of conveyor" in message
    assert "--resolve=conveyor-0.3.0" in message


@pytest.mark.parametrize(
    ("spec", "hint"),
    [
        ("0.1", "e.g. '0.1.0'"),
        ("v0.1.0", "e.g. '0.1.0'"),
        ("0.2.0rc1", "e.g. '0.2.0'"),
        ("1!0.1.0", "e.g. '0.1.0'"),
        ("banana", ""),
        ("", ""),
        ("Branch", ""),
        ("LATEST", ""),
    ],
)
def test_resolve_rejects_anything_else(spec: str, hint: str) -> None:
    with pytest.raises(ReleaseError) as e:
        resolve_version(spec, RELEASES)
    message = str(e.value)
    assert repr(spec) in message
    assert "'branch', 'earliest', 'latest' or a pinned release X.Y.Z" in message
    assert hint in message
    assert "generate-lockfiles" in message


def test_resolve_rejects_non_strings() -> None:
    with pytest.raises(ReleaseError, match="version 1 is not a string"):
        resolve_version(1, RELEASES)  # type: ignore[arg-type]


def test_resolve_without_releases_accepts_concrete_versions_only() -> None:
    assert resolve_version("branch", None) == "branch"
    assert resolve_version("9.9.9", None) == "9.9.9"  # pinning is checked where releases.py is readable
    with pytest.raises(ReleaseError, match="alias 'latest' needs the releases file"):
        resolve_version("latest", None)
    with pytest.raises(ReleaseError, match="'0.1'"):
        resolve_version("0.1", None)


@pytest.mark.parametrize(
    ("version", "ok"),
    [("0.1.0", True), ("10.20.30", True), ("0.1", False), ("01.0.0", False), ("0.1.0rc1", False), ("0.1.0 ", False)],
)
def test_is_release(version: str, ok: bool) -> None:
    assert is_release(version) is ok


def test_load_releases_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "releases.py"
    path.write_text(FUNCTION_FORM)
    assert load_releases(path, {EARLIEST_ENV: "0.2.0"}).earliest == "0.2.0"


def test_load_releases_missing_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.py"
    with pytest.raises(ReleaseError) as e:
        load_releases(path)
    assert str(path) in str(e.value)
    assert RELEASES_FILE in str(e.value)


def test_find_repo_root_walks_up_to_pants_toml(tmp_path: Path) -> None:
    (tmp_path / "pants.toml").write_text("")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_repo_root(deep) == tmp_path.resolve()
    assert find_repo_root(tmp_path / "missing", deep) == tmp_path.resolve()


def test_find_repo_root_without_pants_toml_fails(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="no pants.toml found"):
        find_repo_root(tmp_path)


def test_the_committed_releases_file_parses() -> None:
    # Outside Pants the checkout is above this file; in a Pants sandbox releases.py is not a
    # dependency of these tests, so there is nothing to check.
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / RELEASES_FILE
        if candidate.is_file() and (parent / "pants.toml").is_file():
            releases = load_releases(candidate, {})
            assert releases.package == "conveyor"
            assert releases.earliest in releases.pinned
            return
    pytest.skip("not run from a checkout (no releases.py above this test)")

"""Reading a compat_system's release fields from its BUILD file, and editing them in place."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from compat_core.errors import ReleaseError
from compat_matrix.build_file import has_system, read_system, rewrite_system

ONE_LINE = '''# A system.
compat_system(
    name="shop",
    roles=[compat_role("server", module="shop.cli:main", readiness=tcp_probe("http"), ports=["http"])],
    releases=["0.1.0", "0.2.0"],  # the pins
    release_requirements=["shop=={version}", "shop-ui=={version}", "six==1.17.0"],
    earliest="0.1.0",  # the oldest kept
    package="shop",
)
files(name="build-file", sources=["BUILD"])
'''

PER_LINE = """compat_system(
    name='shop',
    releases=[
        '0.1.0',  # the first protocol
        # 0.1.5 was never published
        '0.2.0',
        '0.10.0'
    ],
    earliest='0.1.0',
    branch_release='0.10.0',
)
"""


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_read_system() -> None:
    declaration = read_system(ONE_LINE, "shop", "src/shop/BUILD")
    assert declaration.fields == {
        "releases": ["0.1.0", "0.2.0"],
        "release_requirements": ["shop=={version}", "shop-ui=={version}", "six==1.17.0"],
        "earliest": "0.1.0",
        "package": "shop",
    }
    assert declaration.version_templates == ("shop=={version}", "shop-ui=={version}")
    releases = declaration.releases
    assert releases.pinned == ("0.1.0", "0.2.0") and releases.index == "https://pypi.org/simple"
    assert releases.requirements_of("0.2.0") == ("shop==0.2.0", "shop-ui==0.2.0", "six==1.17.0")
    assert has_system(ONE_LINE, "shop") and not has_system(ONE_LINE, "other") and not has_system("(", "shop")


def test_read_defaults() -> None:
    declaration = read_system('compat_system(name="shop", releases=["1.0"], earliest="1.0")', "shop", "BUILD")
    assert declaration.version_templates == ("{system}=={version}",)
    assert declaration.support == "" and declaration.releases.package == "shop"


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('compat_system(name="shop", releases=RELEASES, earliest="0.1.0")', ["releases=RELEASES is not a literal", "write the value out"]),
        ('compat_system(name="shop", **FIELDS)', ["**FIELDS hides fields"]),
        ('compat_system(name="other", releases=[], earliest="")', ["has no compat_system(name='shop'"]),
        ("compat_system(name='shop'", ["not valid Python"]),
    ],
)
def test_read_refuses_what_it_cannot_read(text: str, fragments: list[str]) -> None:
    with pytest.raises(ReleaseError) as info:
        read_system(text, "shop", "src/shop/BUILD")
    assert "src/shop/BUILD" in str(info.value)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_add_to_a_one_line_list() -> None:
    after = rewrite_system(ONE_LINE, "shop", "BUILD", ["0.1.0", "0.2.0", "0.3.0"], "0.1.0")
    assert changed_lines(ONE_LINE, after) == [
        '-    releases=["0.1.0", "0.2.0"],  # the pins',
        '+    releases=["0.1.0", "0.2.0", "0.3.0"],  # the pins',
    ]


def test_move_earliest_and_drop_on_one_line() -> None:
    after = rewrite_system(ONE_LINE, "shop", "BUILD", ["0.2.0", "0.3.0"], "0.2.0")
    assert changed_lines(ONE_LINE, after) == [
        '-    releases=["0.1.0", "0.2.0"],  # the pins',
        '+    releases=["0.2.0", "0.3.0"],  # the pins',
        '-    earliest="0.1.0",  # the oldest kept',
        '+    earliest="0.2.0",  # the oldest kept',
    ]


def test_one_release_per_line_keeps_comments_quotes_and_layout() -> None:
    after = rewrite_system(PER_LINE, "shop", "BUILD", ["0.2.0", "0.3.0", "0.10.0", "0.11.0"], "0.2.0", "0.11.0")
    assert after == """compat_system(
    name='shop',
    releases=[
        # 0.1.5 was never published
        '0.2.0',
        '0.3.0',
        '0.10.0',
        '0.11.0',
    ],
    earliest='0.2.0',
    branch_release='0.11.0',
)
"""


def test_add_before_the_first_release_per_line() -> None:
    after = rewrite_system(PER_LINE, "shop", "BUILD", ["0.0.9", "0.1.0", "0.2.0", "0.10.0"], "0.0.9")
    assert changed_lines(PER_LINE, after) == [
        "+        '0.0.9',",
        "-    earliest='0.1.0',",
        "+    earliest='0.0.9',",
    ]


def test_nothing_to_change_is_the_same_text() -> None:
    assert rewrite_system(ONE_LINE, "shop", "BUILD", ["0.1.0", "0.2.0"], "0.1.0") == ONE_LINE
    assert rewrite_system(PER_LINE, "shop", "BUILD", ["0.1.0", "0.2.0", "0.10.0"], "0.1.0", "0.10.0") == PER_LINE


def test_a_wrapped_list_without_comments_is_written_on_one_line() -> None:
    text = 'compat_system(name="shop", releases=["0.1.0",\n    "0.2.0"], earliest="0.1.0")\n'
    after = rewrite_system(text, "shop", "BUILD", ["0.1.0", "0.2.0", "0.3.0"], "0.1.0")
    assert after == 'compat_system(name="shop", releases=["0.1.0", "0.2.0", "0.3.0"], earliest="0.1.0")\n'


def test_a_wrapped_list_with_comments_is_refused() -> None:
    text = 'compat_system(name="shop", releases=["0.1.0",  # first\n    "0.2.0"], earliest="0.1.0")\n'
    with pytest.raises(ReleaseError, match="write one release per line"):
        rewrite_system(text, "shop", "BUILD", ["0.1.0", "0.2.0", "0.3.0"], "0.1.0")


def test_a_dict_of_requirements_is_refused() -> None:
    text = 'compat_system(name="shop", releases={"0.1.0": ["shop==0.1.0"]}, earliest="0.1.0")\n'
    with pytest.raises(ReleaseError, match="releases pin edits a list"):
        rewrite_system(text, "shop", "BUILD", ["0.1.0", "0.2.0"], "0.1.0")


def test_the_other_systems_of_the_file_stay() -> None:
    text = ONE_LINE + ONE_LINE.replace('name="shop"', 'name="other"')
    after = rewrite_system(text, "shop", "BUILD", ["0.1.0", "0.3.0"], "0.1.0")
    assert after.count('releases=["0.1.0", "0.3.0"]') == 1 and after.count('releases=["0.1.0", "0.2.0"]') == 1
    assert after.index('"0.3.0"') < after.index('name="other"')


def test_non_ascii_before_the_list() -> None:
    text = 'compat_system(name="shop", roles=["é"], releases=["0.1.0"], earliest="0.1.0")\n'
    after = rewrite_system(text, "shop", "BUILD", ["0.1.0", "0.2.0"], "0.1.0")
    assert after == 'compat_system(name="shop", roles=["é"], releases=["0.1.0", "0.2.0"], earliest="0.1.0")\n'


@pytest.mark.parametrize("path", ["examples/dagster/BUILD", "examples/libertem/BUILD", "src/python/conveyor/BUILD"])
def test_the_real_declarations_change_only_their_release_lines(path: str) -> None:
    text = Path(path).read_text()
    name = Path(path).parent.name
    releases = read_system(text, name, path).releases
    newer = "99.0"
    after = rewrite_system(text, name, path, [*releases.pinned[1:], newer], releases.pinned[1])
    changed = changed_lines(text, after)
    assert len(changed) == 4, changed
    assert all("releases=[" in line or "earliest=" in line for line in changed), changed
    assert read_system(after, name, path).releases.pinned == (*releases.pinned[1:], newer)

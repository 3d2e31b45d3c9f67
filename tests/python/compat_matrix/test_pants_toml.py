"""pants.toml's resolves and release indexes, and adding or removing resolves as a line edit."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from compat_core.errors import ReleaseError
from compat_core.settings import Settings
from compat_matrix.pants_toml import compat_settings, edit_resolves, find_links, indexes, resolves

TOML = """[GLOBAL]
pants_version = "2.17.1"

[python]
enable_resolves = true

[python.resolves]
python-default = "3rdparty/python/python-default.lock"
"conveyor-0.1.0" = "3rdparty/python/releases/conveyor-0.1.0.lock"
"dagster-1.11.16" = "3rdparty/python/releases/dagster-1.11.16.lock"   # the oldest
"dagster-1.13.27" = "3rdparty/python/releases/dagster-1.13.27.lock"
mypy = "3rdparty/python/tools/mypy.lock"
# BuildGrid, the CI remote cache.
buildgrid = "3rdparty/python/buildgrid.lock"

# Plugins run on 3.9.
[python.resolves_to_interpreter_constraints]
pants-plugins = ["CPython==3.9.*"]

[python-repos]
find_links = ["file://%(buildroot)s/3rdparty/python/releases/wheels"]
"""


def lock(name: str) -> str:
    return f"3rdparty/python/releases/{name}.lock"


def changed(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_read() -> None:
    assert resolves(TOML)["dagster-1.11.16"] == lock("dagster-1.11.16")
    assert find_links(TOML) == ("file://%(buildroot)s/3rdparty/python/releases/wheels",)
    assert indexes(TOML) == ("https://pypi.org/simple/",)
    assert indexes('[python-repos]\nindexes = ["https://mirror/simple"]\n') == ("https://mirror/simple",)
    assert indexes('[python-repos]\nindexes.add = ["https://extra/simple"]\n') == ("https://pypi.org/simple/", "https://extra/simple")
    assert find_links('[python-repos]\nfind_links.add = ["file:///w"]\n') == ("file:///w",)


def test_add_between_the_systems_releases_in_version_order() -> None:
    after = edit_resolves(TOML, {"dagster-1.12.22": lock("dagster-1.12.22"), "dagster-1.13.100": lock("dagster-1.13.100")})
    assert changed(TOML, after) == [
        '+"dagster-1.12.22" = "3rdparty/python/releases/dagster-1.12.22.lock"',
        '+"dagster-1.13.100" = "3rdparty/python/releases/dagster-1.13.100.lock"',
    ]
    lines = after.splitlines()
    assert lines.index('"dagster-1.12.22" = "3rdparty/python/releases/dagster-1.12.22.lock"') == 10
    assert lines.index('"dagster-1.13.100" = "3rdparty/python/releases/dagster-1.13.100.lock"') == 12


def test_remove_and_add() -> None:
    after = edit_resolves(TOML, {"dagster-1.12.22": lock("dagster-1.12.22")}, ["dagster-1.11.16"])
    assert changed(TOML, after) == [
        '-"dagster-1.11.16" = "3rdparty/python/releases/dagster-1.11.16.lock"   # the oldest',
        '+"dagster-1.12.22" = "3rdparty/python/releases/dagster-1.12.22.lock"',
    ]


def test_a_new_system_goes_next_to_the_system_before_it() -> None:
    after = edit_resolves(TOML, {"libertem-0.16.0": lock("libertem-0.16.0"), "alpha-1.0": lock("alpha-1.0")})
    lines = after.splitlines()
    assert lines.index('"libertem-0.16.0" = "3rdparty/python/releases/libertem-0.16.0.lock"') == lines.index('"dagster-1.13.27" = "3rdparty/python/releases/dagster-1.13.27.lock"') + 1
    # No release resolve sorts before "alpha": it goes before the first that sorts after it.
    assert lines.index('"alpha-1.0" = "3rdparty/python/releases/alpha-1.0.lock"') == lines.index('"conveyor-0.1.0" = "3rdparty/python/releases/conveyor-0.1.0.lock"') - 1


def test_the_first_release_resolve_of_a_repo_goes_last_in_the_table() -> None:
    text = '[python.resolves]\npython-default = "a.lock"\n# the comment of what follows\n\n[python-repos]\n'
    after = edit_resolves(text, {"shop-0.1.0": lock("shop-0.1.0")})
    assert after == f'[python.resolves]\npython-default = "a.lock"\n"shop-0.1.0" = "{lock("shop-0.1.0")}"\n# the comment of what follows\n\n[python-repos]\n'


def test_pinning_twice_changes_nothing() -> None:
    assert edit_resolves(TOML, {"dagster-1.13.27": lock("dagster-1.13.27")}) == TOML
    assert edit_resolves(TOML, {}, ["dagster-1.0.0"]) == TOML


def test_a_resolve_with_another_lockfile_is_refused() -> None:
    with pytest.raises(ReleaseError, match="the resolve 'dagster-1.13.27' is there with the lockfile"):
        edit_resolves(TOML, {"dagster-1.13.27": "elsewhere.lock"})


def test_no_resolves_table() -> None:
    with pytest.raises(ReleaseError, match=r"has no \[python.resolves\] table"):
        edit_resolves('[python]\nresolves = {}\n', {"shop-0.1.0": lock("shop-0.1.0")})


def test_invalid_toml() -> None:
    with pytest.raises(ReleaseError, match="is not valid TOML"):
        resolves("[python\n")


def test_a_file_without_a_final_newline() -> None:
    text = '[python.resolves]\n"shop-0.1.0" = "a.lock"'
    assert edit_resolves(text, {"shop-0.2.0": "b.lock"}) == '[python.resolves]\n"shop-0.1.0" = "a.lock"\n"shop-0.2.0" = "b.lock"\n'


def test_the_real_pants_toml() -> None:
    text = Path("pants.toml").read_text()
    known = resolves(text)
    name = next(k for k in known if k.startswith("dagster-"))
    after = edit_resolves(text, {"dagster-99.0": lock("dagster-99.0")}, [name])
    assert len(changed(text, after)) == 2
    assert set(resolves(after)) == (set(known) - {name}) | {"dagster-99.0"}


def test_the_compat_matrix_section_fills_default_variables_as_pants_does() -> None:
    text = (
        '[DEFAULT]\nimage = "local/base:1"\n\n[compat-matrix]\nbase_image = "%(image)s"\n'
        'docker_pids = 64\nearliest_per_system = { dagster = "1.12.22" }\n'
    )
    settings = compat_settings(text)
    assert (settings.base_image, settings.docker_pids) == ("local/base:1", 64)
    assert settings.earliest_env == {"EARLIEST_TESTED_RELEASE_DAGSTER": "1.12.22"}
    assert compat_settings("[GLOBAL]\n") == Settings()


def test_the_real_pants_toml_names_this_repos_base_image() -> None:
    assert compat_settings(Path("pants.toml").read_text()).base_image == "compat-matrix/base:bookworm"

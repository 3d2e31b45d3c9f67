"""``releases check``: reading find-links directories and PEP 503 pages, and comparing with the pins."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.version import Version

from compat_core.errors import ReleaseError
from compat_core.model import Releases
from compat_matrix.index import (
    IndexFile,
    compare_releases,
    exit_code,
    file_version,
    parse_simple_page,
    read_index,
    render_report,
)

RELEASES = Releases(package="conveyor", pinned=("0.1.0", "0.2.0"), earliest="0.1.0")

SIMPLE_PAGE = """<!DOCTYPE html>
<html><body>
<h1>Links for conveyor</h1>
<a href="../../files/conveyor-0.1.0-py3-none-any.whl#sha256=aa">conveyor-0.1.0-py3-none-any.whl</a><br/>
<a href="https://files.example/conveyor-0.2.0.tar.gz">conveyor-0.2.0.tar.gz</a><br/>
<a href="conveyor-0.3.0rc1-py3-none-any.whl">conveyor-0.3.0rc1-py3-none-any.whl</a><br/>
<a href="conveyor-0.4.0-py3-none-any.whl" data-yanked="broken protocol">conveyor-0.4.0-py3-none-any.whl</a><br/>
<a href="conveyor-0.5.0-py3-none-any.whl" data-yanked>conveyor-0.5.0-py3-none-any.whl</a><br/>
<a href="/files/conveyor-0.3.0.zip">conveyor-0.3.0.zip</a><br/>
<a href="other_pkg-9.0.0-py3-none-any.whl">other_pkg-9.0.0-py3-none-any.whl</a><br/>
<a>no href</a>
</body></html>
"""


# --- pure ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "version"),
    [
        ("conveyor-0.1.0-py3-none-any.whl", "0.1.0"),
        ("conveyor-0.2.0.tar.gz", "0.2.0"),
        ("conveyor-0.3.0.zip", "0.3.0"),
        ("Conveyor-0.3.0-py3-none-any.whl", "0.3.0"),
        ("conveyor-0.3.0rc1-py3-none-any.whl", "0.3.0rc1"),
        ("conveyor-1.0.0-1-py3-none-any.whl", "1.0.0"),  # build tag
        ("other-0.9.0-py3-none-any.whl", None),
        ("conveyor_extras-0.9.0.tar.gz", None),
        ("conveyor.whl", None),
        ("conveyor-notaversion.tar.gz", None),
        ("README.md", None),
        ("conveyor-0.1.0.egg", None),
    ],
)
def test_file_version(filename: str, version: str | None) -> None:
    assert file_version(filename, "conveyor") == (Version(version) if version else None)


def test_compare_newer_final_release() -> None:
    files = [IndexFile("conveyor-0.1.0-py3-none-any.whl"), IndexFile("conveyor-0.2.0.tar.gz"), IndexFile("conveyor-0.3.0.tar.gz")]
    report = compare_releases(RELEASES, files, "idx")
    assert report.newer == ("0.3.0",)
    assert report.available == ("0.1.0", "0.2.0", "0.3.0")
    assert report.latest == "0.2.0" and report.index == "idx"
    assert not report.current
    assert exit_code(report) == 1


def test_compare_ignores_pre_releases_and_yanked_files() -> None:
    files = [
        IndexFile("conveyor-0.1.0-py3-none-any.whl"),
        IndexFile("conveyor-0.2.0-py3-none-any.whl"),
        IndexFile("conveyor-0.3.0rc1-py3-none-any.whl"),
        IndexFile("conveyor-0.3.0.dev1.tar.gz"),
        IndexFile("conveyor-0.4.0-py3-none-any.whl", yanked=True),
    ]
    report = compare_releases(RELEASES, files)
    assert report.current and report.newer == ()
    assert report.ignored == (
        "conveyor-0.3.0.dev1.tar.gz (pre-release)",
        "conveyor-0.3.0rc1-py3-none-any.whl (pre-release)",
        "conveyor-0.4.0-py3-none-any.whl (yanked)",
    )
    assert exit_code(report) == 0


def test_compare_compares_versions_not_strings() -> None:
    releases = Releases("conveyor", ("0.9.0", "0.10.0"), "0.9.0")
    report = compare_releases(releases, [IndexFile("conveyor-0.9.0.tar.gz"), IndexFile("conveyor-0.10.0.tar.gz")])
    assert report.current
    report = compare_releases(RELEASES, [IndexFile("conveyor-0.10.0.tar.gz")])
    assert report.newer == ("0.10.0",)


def test_compare_reports_unpinned_older_and_missing_pins() -> None:
    files = [IndexFile("conveyor-0.1.0.tar.gz"), IndexFile("conveyor-0.1.5.tar.gz")]
    report = compare_releases(RELEASES, files)
    assert report.unpinned == ("0.1.5",)
    assert report.missing == ("0.2.0",)
    assert exit_code(report) == 2
    assert "MISSING from the index: 0.2.0" in render_report(report)


def test_a_yanked_pin_is_not_missing() -> None:
    files = [IndexFile("conveyor-0.1.0.tar.gz"), IndexFile("conveyor-0.2.0.tar.gz", yanked=True)]
    report = compare_releases(RELEASES, files)
    assert report.missing == () and report.available == ("0.1.0",)


def test_compare_an_empty_index() -> None:
    report = compare_releases(RELEASES, [])
    assert report.available == () and report.missing == ("0.1.0", "0.2.0")
    assert "no final releases" in render_report(report)


def test_parse_simple_page() -> None:
    files = parse_simple_page(SIMPLE_PAGE)
    assert files == (
        IndexFile("conveyor-0.1.0-py3-none-any.whl"),
        IndexFile("conveyor-0.2.0.tar.gz"),
        IndexFile("conveyor-0.3.0rc1-py3-none-any.whl"),
        IndexFile("conveyor-0.4.0-py3-none-any.whl", yanked=True),
        IndexFile("conveyor-0.5.0-py3-none-any.whl", yanked=True),
        IndexFile("conveyor-0.3.0.zip"),
        IndexFile("other_pkg-9.0.0-py3-none-any.whl"),
    )


def test_parse_simple_page_unquotes_file_names() -> None:
    page = '<a href="conveyor-0.3.0%2Blocal.tar.gz#md5=00">x</a>'
    assert parse_simple_page(page) == (IndexFile("conveyor-0.3.0+local.tar.gz"),)


def test_render_newer_says_how_to_pin() -> None:
    report = compare_releases(RELEASES, parse_simple_page(SIMPLE_PAGE), "page.html")
    text = render_report(report)
    assert "pinned:   0.1.0, 0.2.0 (latest 0.2.0)" in text
    assert "in index: 0.1.0, 0.2.0, 0.3.0" in text
    assert "NEWER releases: 0.3.0" in text
    assert "./pants generate-lockfiles --resolve=conveyor-0.3.0" in text
    assert "conveyor-0.4.0-py3-none-any.whl (yanked)" in text


def test_render_up_to_date() -> None:
    files = [IndexFile("conveyor-0.1.0.tar.gz"), IndexFile("conveyor-0.2.0.tar.gz")]
    assert "up to date: 0.2.0 is the newest release" in render_report(compare_releases(RELEASES, files))


# --- reading (the thin edge) ---------------------------------------------------------------------


def make_find_links(directory: Path, *names: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes(b"")
    return directory


def test_read_find_links_directory(tmp_path: Path) -> None:
    wheels = make_find_links(
        tmp_path / "wheels",
        "conveyor-0.1.0-py3-none-any.whl",
        "conveyor-0.2.0-py3-none-any.whl",
        "conveyor-0.2.0.tar.gz",
        "conveyor-0.3.0rc1-py3-none-any.whl",
        "README",
    )
    (wheels / "subdir").mkdir()
    files = read_index(str(wheels), "conveyor")
    assert IndexFile("README") in files and IndexFile("subdir") not in files
    report = compare_releases(RELEASES, files)
    assert report.current and report.available == ("0.1.0", "0.2.0")
    assert report.ignored == ("conveyor-0.3.0rc1-py3-none-any.whl (pre-release)",)

    make_find_links(wheels, "conveyor-0.2.1-py3-none-any.whl")
    assert compare_releases(RELEASES, read_index(str(wheels), "conveyor")).newer == ("0.2.1",)


def test_read_relative_to_the_base(tmp_path: Path) -> None:
    make_find_links(tmp_path / "3rdparty" / "wheels", "conveyor-0.2.0.tar.gz")
    assert read_index("3rdparty/wheels", "conveyor", base=tmp_path) == (IndexFile("conveyor-0.2.0.tar.gz"),)


def test_read_simple_page_file(tmp_path: Path) -> None:
    page = tmp_path / "conveyor.html"
    page.write_text(SIMPLE_PAGE)
    report = compare_releases(RELEASES, read_index(str(page), "conveyor"))
    assert report.newer == ("0.3.0",)  # 0.3.0rc1 is a pre-release; 0.4.0 and 0.5.0 are yanked


def test_read_local_simple_index_tree(tmp_path: Path) -> None:
    (tmp_path / "simple" / "conveyor").mkdir(parents=True)
    (tmp_path / "simple" / "conveyor" / "index.html").write_text(SIMPLE_PAGE)
    assert read_index(str(tmp_path / "simple"), "Conveyor") == parse_simple_page(SIMPLE_PAGE)
    # The same tree through a file:// URL of the index root: the project's name is appended.
    url = (tmp_path / "simple").as_uri() + "/"
    assert read_index(url, "conveyor") == parse_simple_page(SIMPLE_PAGE)
    # The project page's directory itself.
    assert read_index(str(tmp_path / "simple" / "conveyor"), "conveyor") == parse_simple_page(SIMPLE_PAGE)


@pytest.fixture
def http_index(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "served"
    (root / "simple" / "conveyor").mkdir(parents=True)
    (root / "simple" / "conveyor" / "index.html").write_text(SIMPLE_PAGE)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_read_simple_index_over_http(http_index: str) -> None:
    expected = parse_simple_page(SIMPLE_PAGE)
    assert read_index(f"{http_index}/simple/", "conveyor") == expected
    assert read_index(f"{http_index}/simple", "conveyor") == expected
    assert read_index(f"{http_index}/simple/conveyor/", "conveyor") == expected


def test_read_http_error_names_the_url(http_index: str) -> None:
    with pytest.raises(ReleaseError) as e:
        read_index(f"{http_index}/nothing/", "conveyor")
    assert f"{http_index}/nothing/conveyor/" in str(e.value)
    assert "--index" in str(e.value)


def test_read_missing_path_names_it(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError) as e:
        read_index(str(tmp_path / "nope"), "conveyor")
    assert str(tmp_path / "nope") in str(e.value)
    assert "--index PATH_OR_URL" in str(e.value)

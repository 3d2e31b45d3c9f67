"""Package indexes: reading find-links directories, PEP 503 pages and PEP 691 JSON, and which releases
they offer (final, unyanked, every distribution a release installs)."""

from __future__ import annotations

import datetime
import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.version import Version

from compat_core.errors import ReleaseError
from compat_matrix.index import (
    IndexFile,
    OfferedReleases,
    file_version,
    offered_releases,
    parse_json_page,
    parse_simple_page,
    read_index,
)

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


def offered(*files: IndexFile, **others: list[IndexFile]) -> OfferedReleases:
    return offered_releases({"conveyor": files, **{k.replace("_", "-"): v for k, v in others.items()}}, "conveyor")


def test_offered_final_releases_in_pep_440_order() -> None:
    result = offered(
        IndexFile("conveyor-0.10.0.tar.gz"),
        IndexFile("conveyor-0.9.0-py3-none-any.whl"),
        IndexFile("conveyor-0.9.0.tar.gz"),
        IndexFile("conveyor-0.11.0rc1.tar.gz"),
        IndexFile("conveyor-0.12.0.tar.gz", yanked=True),
        IndexFile("other-9.0.tar.gz"),
    )
    assert result.final == result.pinnable == ("0.9.0", "0.10.0")
    assert result.present == ("0.9.0", "0.10.0", "0.11.0rc1", "0.12.0")
    assert result.yanked == ("0.12.0",)
    assert result.ignored == ("conveyor-0.11.0rc1.tar.gz (pre-release)", "conveyor-0.12.0.tar.gz (yanked)")
    assert result.projects == ("conveyor",) and result.lacking == () and result.published == ()


def test_a_release_every_distribution_has_is_pinnable() -> None:
    result = offered(
        IndexFile("conveyor-1.0.tar.gz"),
        IndexFile("conveyor-1.1.tar.gz"),
        IndexFile("conveyor-1.2.tar.gz"),
        conveyor_ui=[IndexFile("conveyor_ui-1.0-py3-none-any.whl"), IndexFile("conveyor_ui-1.2-py3-none-any.whl", yanked=True)],
        conveyor_cli=[IndexFile("conveyor-cli-1.0.tar.gz"), IndexFile("conveyor-cli-1.1.tar.gz"), IndexFile("conveyor-cli-1.2.tar.gz")],
    )
    assert result.projects == ("conveyor", "conveyor-cli", "conveyor-ui")
    assert result.pinnable == ("1.0",)
    assert result.lacking == (("1.1", ("conveyor-ui",)), ("1.2", ("conveyor-ui",)))
    assert result.lacks("1.2") == ("conveyor-ui",) and result.lacks("1.0") == ()


def test_the_index_spelling_of_a_version() -> None:
    result = offered(IndexFile("conveyor-5.15.tar.gz"), IndexFile("conveyor-5.15.1.tar.gz"))
    assert result.spelled("5.15.0") == "5.15" and result.spelled("5.15") == "5.15" and result.spelled("5.16") == ""
    assert result.has("5.15.0") and not result.has("5.16")


def test_published_is_the_first_upload_of_a_release() -> None:
    result = offered(
        IndexFile("conveyor-1.0.tar.gz", uploaded="2025-03-02T10:00:00.123456Z"),
        IndexFile("conveyor-1.0-py3-none-any.whl", uploaded="2025-03-01T23:59:00Z"),
        IndexFile("conveyor-1.1.tar.gz", uploaded="not a time"),
        IndexFile("conveyor-1.2.tar.gz"),
    )
    assert result.published == (("1.0", datetime.date(2025, 3, 1)),)


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


JSON_PAGE = json.dumps(
    {
        "meta": {"api-version": "1.1"},
        "name": "dated",
        "files": [
            {"filename": "dated-1.0.tar.gz", "url": "x", "hashes": {}, "upload-time": "2025-01-02T03:04:05.123456Z"},
            {"filename": "dated-1.1.tar.gz", "url": "x", "hashes": {}, "yanked": "broken"},
            {"filename": "dated-1.2.tar.gz", "url": "x", "hashes": {}, "yanked": False},
        ],
    }
)


def test_parse_json_page() -> None:
    assert parse_json_page(JSON_PAGE) == (
        IndexFile("dated-1.0.tar.gz", uploaded="2025-01-02T03:04:05.123456Z"),
        IndexFile("dated-1.1.tar.gz", yanked=True),
        IndexFile("dated-1.2.tar.gz"),
    )
    with pytest.raises(ReleaseError, match="not PEP 691 JSON"):
        parse_json_page('{"name": "conveyor"}')


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
    result = offered_releases({"conveyor": files}, "conveyor")
    assert result.pinnable == ("0.1.0", "0.2.0")
    assert result.ignored == ("conveyor-0.3.0rc1-py3-none-any.whl (pre-release)",)

    make_find_links(wheels, "conveyor-0.2.1-py3-none-any.whl")
    assert offered_releases({"conveyor": read_index(str(wheels), "conveyor")}, "conveyor").pinnable[-1] == "0.2.1"


def test_read_relative_to_the_base(tmp_path: Path) -> None:
    make_find_links(tmp_path / "3rdparty" / "wheels", "conveyor-0.2.0.tar.gz")
    assert read_index("3rdparty/wheels", "conveyor", base=tmp_path) == (IndexFile("conveyor-0.2.0.tar.gz"),)


def test_read_simple_page_file(tmp_path: Path) -> None:
    page = tmp_path / "conveyor.html"
    page.write_text(SIMPLE_PAGE)
    result = offered_releases({"conveyor": read_index(str(page), "conveyor")}, "conveyor")
    assert result.pinnable == ("0.1.0", "0.2.0", "0.3.0")  # 0.3.0rc1 is a pre-release; 0.4.0 and 0.5.0 are yanked


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
    (root / "simple" / "dated").mkdir(parents=True)
    (root / "simple" / "dated" / "index.html").write_text('<a href="dated-1.0.tar.gz">x</a>')
    (root / "simple" / "dated" / "index.json").write_text(JSON_PAGE)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        """A static index that answers PEP 691 JSON where a project has it and the client asks for it."""

        def do_GET(self) -> None:
            page = root / self.path.strip("/") / "index.json"
            if "application/vnd.pypi.simple.v1+json" in self.headers.get("Accept", "") and page.is_file():
                body = page.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

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


def test_read_json_over_http(http_index: str) -> None:
    files = read_index(f"{http_index}/simple/", "dated")
    assert files == parse_json_page(JSON_PAGE)
    assert offered_releases({"dated": files}, "dated").published == (("1.0", datetime.date(2025, 1, 2)),)


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

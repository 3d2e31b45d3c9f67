"""Package indexes: what releases of a system's distributions an index offers.

The index is a find-links directory (wheel / sdist files side by side), a PEP 503 "simple"
project page (an HTML file or URL whose anchors name the files; ``data-yanked`` marks yanked
files) or, over HTTP, its PEP 691 JSON form, which also gives each file's upload time (PEP 700).
Reading it is one thin function (``read_index``); parsing pages and filenames and deciding which
releases can be pinned is pure, and uses ``packaging`` so that names and versions are normalized
exactly as pip does.
"""

from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from compat_core.errors import ReleaseError


@dataclass(frozen=True)
class IndexFile:
    """One distribution file the index offers; ``uploaded`` is its ISO 8601 upload time, if known."""

    filename: str
    yanked: bool = False
    uploaded: str = ""


@dataclass(frozen=True)
class OfferedReleases:
    """The releases of a system the index offers.

    ``package`` is the system's distribution and ``projects`` every distribution a release installs
    at its version (``dagster``, ``dagster-webserver``, ``dagster-graphql``). ``final`` are the
    package's final (non-pre-release, non-yanked) versions, ascending, as the index spells them;
    ``pinnable`` those every project offers; ``lacking`` the others, each with the projects
    without it. ``present`` is every version with any file (yanked and pre-releases too: a pinned
    yanked release still installs); ``published`` the day each final release was first uploaded,
    where the index says; ``ignored`` the files skipped, with why.
    """

    package: str
    projects: tuple[str, ...]
    final: tuple[str, ...]
    pinnable: tuple[str, ...]
    lacking: tuple[tuple[str, tuple[str, ...]], ...]
    present: tuple[str, ...]
    yanked: tuple[str, ...]
    published: tuple[tuple[str, datetime.date], ...]
    ignored: tuple[str, ...]

    def spelled(self, version: str) -> str:
        """The index's spelling of ``version`` among its final releases (``5.15`` for ``5.15.0``), or ''."""
        wanted = Version(version)
        return next((v for v in self.final if Version(v) == wanted), "")

    def has(self, version: str) -> bool:
        """Whether the package has any file of ``version``."""
        wanted = Version(version)
        return any(Version(v) == wanted for v in self.present)

    def lacks(self, version: str) -> tuple[str, ...]:
        """The projects without ``version`` (empty when it can be pinned)."""
        wanted = Version(version)
        return next((projects for v, projects in self.lacking if Version(v) == wanted), ())


# --- pure ------------------------------------------------------------------------------------


def file_version(filename: str, package: str) -> Version | None:
    """The version of ``package`` that a wheel or sdist ``filename`` holds; None for other files."""
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        elif filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return version if name == canonicalize_name(package) else None


def _upload_day(value: str) -> datetime.date | None:
    try:
        return datetime.datetime.fromisoformat(value).date() if value else None
    except ValueError:
        return None


def offered_releases(files: Mapping[str, Iterable[IndexFile]], package: str) -> OfferedReleases:
    """What ``files`` (project -> the files the index offers of it; ``package`` among them) offer."""
    final: dict[Version, str] = {}
    present: set[Version] = set()
    yanked: set[Version] = set()
    published: dict[Version, datetime.date] = {}
    ignored: list[str] = []
    others: dict[str, set[Version]] = {}
    for project, project_files in files.items():
        if canonicalize_name(project) != canonicalize_name(package):
            others[project] = {
                v for f in project_files if not f.yanked and (v := file_version(f.filename, project)) is not None
            }
            continue
        for f in project_files:
            version = file_version(f.filename, package)
            if version is None:
                continue
            present.add(version)
            if f.yanked:
                ignored.append(f"{f.filename} (yanked)")
                yanked.add(version)
            elif version.is_prerelease:
                ignored.append(f"{f.filename} (pre-release)")
            else:
                final[version] = str(version)
                day = _upload_day(f.uploaded)
                if day is not None and (version not in published or day < published[version]):
                    published[version] = day
    ordered = sorted(final)
    lacking = tuple(
        (final[v], missing)
        for v in ordered
        if (missing := tuple(p for p, versions in sorted(others.items()) if v not in versions))
    )
    without = {v for v, _ in lacking}
    return OfferedReleases(
        package=package,
        projects=(package, *sorted(others)),
        final=tuple(final[v] for v in ordered),
        pinnable=tuple(final[v] for v in ordered if final[v] not in without),
        lacking=lacking,
        present=tuple(str(v) for v in sorted(present)),
        yanked=tuple(str(v) for v in sorted(yanked - set(final))),
        published=tuple((final[v], published[v]) for v in ordered if v in published),
        ignored=tuple(sorted(ignored)),
    )


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.files: list[IndexFile] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        attributes = dict(attrs)
        href = attributes.get("href")
        if not href:
            return
        # PEP 503: the file name is the last path segment of the URL (the fragment is a hash).
        path = urllib.parse.urlsplit(href).path
        filename = urllib.parse.unquote(path.rstrip("/").rsplit("/", 1)[-1])
        # PEP 592: the attribute's presence marks a yanked file, whatever its value (the reason).
        self.files.append(IndexFile(filename=filename, yanked="data-yanked" in attributes))


def parse_simple_page(html: str) -> tuple[IndexFile, ...]:
    """The files a PEP 503 project page lists (its anchors), with PEP 592 yank marks."""
    parser = _AnchorParser()
    parser.feed(html)
    parser.close()
    return tuple(parser.files)


def parse_json_page(text: str) -> tuple[IndexFile, ...]:
    """The files a PEP 691 JSON project page lists, with yank marks and PEP 700 upload times."""
    try:
        data: Any = json.loads(text)
        return tuple(
            IndexFile(
                filename=str(f["filename"]),
                yanked=bool(f.get("yanked", False)),
                uploaded=str(f.get("upload-time") or ""),
            )
            for f in data["files"]
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ReleaseError(f"the index's JSON project page is not PEP 691 JSON ({exc!r})") from None


# --- I/O (thin) ------------------------------------------------------------------------------


def read_index(location: str, package: str, base: Path | None = None) -> tuple[IndexFile, ...]:
    """Read the files an index offers for ``package``.

    ``location`` is an ``http(s)://`` URL (a PEP 503 index root or project page, asked for its
    PEP 691 JSON form, which has upload times, and read as HTML where it answers that), an HTML file
    (a project page), or a directory: a local simple index when it holds
    ``<package>/index.html`` (or a project page's directory when it holds ``index.html``),
    otherwise a find-links directory. ``file://`` URLs are local
    paths. Relative paths are taken from ``base`` (the repo root).
    """
    parts = urllib.parse.urlsplit(location)
    if parts.scheme in ("http", "https"):
        text, json_page = _fetch(_project_url(location, package))
        return parse_json_page(text) if json_page else parse_simple_page(text)
    # A file:// URL is a local path (pip reads such a directory as find-links, too).
    path = Path(urllib.request.url2pathname(parts.path)) if parts.scheme == "file" else Path(location)
    if not path.is_absolute() and base is not None:
        path = base / path
    try:
        if path.is_dir():
            for page in (path / canonicalize_name(package) / "index.html", path / "index.html"):
                if page.is_file():  # a local simple index root, or a project page's directory
                    return parse_simple_page(page.read_text(encoding="utf-8"))
            return tuple(IndexFile(p.name) for p in sorted(path.iterdir()) if p.is_file())
        return parse_simple_page(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ReleaseError(
            f"cannot read the release index {path}: {e.strerror or e}; set the system's release_index "
            f"or pass --index PATH_OR_URL"
        ) from None


def _project_url(location: str, package: str) -> str:
    # An index root (".../simple/") gets the project's normalized name appended; a URL that already
    # names the project, or an HTML file, is the project page itself.
    name = canonicalize_name(package)
    path = urllib.parse.urlsplit(location).path
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if last == name or last.endswith((".html", ".htm")):
        return location
    return location.rstrip("/") + f"/{name}/"


# PEP 691 content negotiation: JSON (with upload times) where the index has it, else its HTML.
_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"


def _fetch(url: str) -> tuple[str, bool]:
    """The page at ``url``, and whether it is PEP 691 JSON."""
    request = urllib.request.Request(url, headers={"Accept": _ACCEPT})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the configured index
            charset = response.headers.get_content_charset() or "utf-8"
            json_page = response.headers.get_content_type().endswith("json")
            return str(response.read().decode(charset)), json_page
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise ReleaseError(f"cannot read the release index {url}: {e}; check --index / the system's release_index") from None


__all__ = (
    "IndexFile",
    "OfferedReleases",
    "file_version",
    "offered_releases",
    "parse_json_page",
    "parse_simple_page",
    "read_index",
)

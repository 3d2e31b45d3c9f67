"""``releases check``: is the newest release in the package index pinned?

The index is a find-links directory (wheel / sdist files side by side) or a PEP 503 "simple"
project page (an HTML file or URL whose anchors name the files; ``data-yanked`` marks yanked
files). Reading it is one thin function (``read_index``); parsing filenames and comparing with
the pinned releases is pure, and uses ``packaging`` for both so that names and versions are
normalized exactly as pip does.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from compat_core.errors import ReleaseError
from compat_core.model import Releases
from compat_core.versions import pin_instructions


@dataclass(frozen=True)
class IndexFile:
    """One distribution file the index offers."""

    filename: str
    yanked: bool = False


@dataclass(frozen=True)
class ReleaseReport:
    """The pinned releases compared with what the index offers.

    ``available`` are the final (non-pre-release, non-yanked) versions of the package in the
    index, ascending; ``newer`` those above the newest pinned release; ``unpinned`` those below it
    that are not pinned (informational); ``missing`` pinned releases the index does not hold at
    all (the release resolves cannot be built without them); ``ignored`` files skipped, with why.
    """

    package: str
    index: str
    pinned: tuple[str, ...]
    latest: str
    available: tuple[str, ...]
    newer: tuple[str, ...]
    unpinned: tuple[str, ...]
    missing: tuple[str, ...]
    ignored: tuple[str, ...]

    @property
    def current(self) -> bool:
        """True when no release newer than the newest pinned one exists."""
        return not self.newer


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


def compare_releases(releases: Releases, files: Iterable[IndexFile], index: str = "") -> ReleaseReport:
    """Compare the pinned ``releases`` with the ``files`` of an index (named ``index`` in the report)."""
    final: set[Version] = set()
    present: set[Version] = set()  # including yanked: a pinned yanked release still installs
    ignored: list[str] = []
    for f in files:
        version = file_version(f.filename, releases.package)
        if version is None:
            continue
        present.add(version)
        if f.yanked:
            ignored.append(f"{f.filename} (yanked)")
        elif version.is_prerelease:
            ignored.append(f"{f.filename} (pre-release)")
        else:
            final.add(version)
    latest = Version(releases.latest)
    pinned = {Version(v) for v in releases.pinned}
    available = sorted(final)
    return ReleaseReport(
        package=releases.package,
        index=index,
        pinned=releases.pinned,
        latest=releases.latest,
        available=tuple(str(v) for v in available),
        newer=tuple(str(v) for v in available if v > latest),
        unpinned=tuple(str(v) for v in available if v < latest and v not in pinned),
        missing=tuple(v for v in releases.pinned if Version(v) not in present),
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


def render_report(report: ReleaseReport) -> str:
    """The report as the ``releases check`` command prints it."""
    lines = [
        f"package:  {report.package}",
        f"index:    {report.index}",
        f"pinned:   {', '.join(report.pinned)} (latest {report.latest})",
        f"in index: {', '.join(report.available) or 'no final releases'}",
    ]
    if report.ignored:
        lines.append(f"ignored:  {', '.join(report.ignored)}")
    if report.unpinned:
        lines.append(f"not pinned (older than latest): {', '.join(report.unpinned)}")
    if report.missing:
        lines.append(
            f"MISSING from the index: {', '.join(report.missing)}; the release resolves need them: "
            f"add their wheels to the index"
        )
    if report.newer:
        lines.append(f"NEWER releases: {', '.join(report.newer)}")
        for version in report.newer:
            lines.append(f"  {pin_instructions(report.package, version)}")
    else:
        lines.append(f"up to date: {report.latest} is the newest release")
    return "\n".join(lines)


def exit_code(report: ReleaseReport) -> int:
    """0 when current, 1 when newer releases exist, 2 when a pinned release is missing (an error)."""
    if report.missing:
        return 2
    return 1 if report.newer else 0


# --- I/O (thin) ------------------------------------------------------------------------------


def read_index(location: str, package: str, base: Path | None = None) -> tuple[IndexFile, ...]:
    """Read the files an index offers for ``package``.

    ``location`` is an ``http(s)://`` URL (a PEP 503 index root or project page), an HTML file
    (a project page), or a directory: a local simple index when it holds
    ``<package>/index.html`` (or a project page's directory when it holds ``index.html``),
    otherwise a find-links directory. ``file://`` URLs are local
    paths. Relative paths are taken from ``base`` (the repo root).
    """
    parts = urllib.parse.urlsplit(location)
    if parts.scheme in ("http", "https"):
        return parse_simple_page(_fetch(_project_url(location, package)))
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


def _fetch(url: str) -> str:
    request = urllib.request.Request(url, headers={"Accept": "text/html"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the configured index
            charset = response.headers.get_content_charset() or "utf-8"
            return str(response.read().decode(charset))
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise ReleaseError(f"cannot read the release index {url}: {e}; check --index / the system's release_index") from None


__all__ = (
    "IndexFile",
    "ReleaseReport",
    "compare_releases",
    "exit_code",
    "file_version",
    "parse_simple_page",
    "read_index",
    "render_report",
)

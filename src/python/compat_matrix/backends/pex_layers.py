"""A version's PEX as two PEXes, installed one on the other: what versions share, then the rest.

The branch and the releases of a product usually pin the same third-party distributions; a
release adds its own (conveyor's three PEXes share every third-party distribution; a release's
adds ``conveyor==0.1.0``). Installed as one PEX, every version's image would unpack all of them
again. Split:

- ``deps``: the distributions that are not the version's own, and pex's runtime. Its content
  depends only on those distributions (by pex's fingerprints), pex's bootstrap and the PEX's
  settings, so every version with the same third-party pins makes the same one, and the docker
  backend builds one image of it (``pex venv --scope=deps``) for them all.
- ``rest``: the version's own distributions (those its PEX's requirements pin at its version)
  and its sources, with ``ignore_errors`` (what they need is in the venv below). ``pex venv`` of
  it on that partial venv completes it: the same files as the whole PEX's venv, with its settings.

Plain surgery on pex's documented layouts (PEX-INFO, ``.deps/<wheel>``, the runtime, the PEX's
hash in its ``__main__.py``): a zipapp PEX splits into two zip files (in sorted order with a
fixed date), a packed PEX (a directory whose ``.bootstrap`` and each ``.deps/<wheel>`` are zip
files of their own, as the build packages a version) into two such directories, whose unchanged
files are hard links to the version's where the file system allows.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

_DEPS = ".deps/"
_RUNTIME = (".bootstrap", "__pex__/")  # a directory in a zipapp, a zip file in a packed PEX
_HASHED = ("__main__.py", "__pex__/__init__.py")  # pex writes the PEX's hash into these
_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class PexLayers:
    """How one PEX splits: ``own`` and ``shared`` name distributions (PEX-INFO's keys);
    ``own_requirements`` are the PEX's requirements that pin the version's own."""

    pex: Path
    info: dict[str, Any]
    own: frozenset[str]
    shared: frozenset[str]
    own_requirements: tuple[str, ...]

    @property
    def key(self) -> str:
        """What the ``deps`` PEX's bytes depend on, as a digest: equal keys, equal files."""
        return _digest(self._deps_info(""))

    def write_deps(self, path: Path) -> None:
        """Write the deps PEX to ``path``, in the version's PEX's layout: from a zipapp a zip
        file, stored, since ``pex venv`` unpacks a deflated one more slowly and an image of a
        loose PEX directory (thousands of files) builds more slowly still; from a packed PEX a
        packed directory (its wheels are zip files already)."""
        self._write(path, self._deps_info(self.key), lambda dist: dist in self.shared, sources=False, compress=False)

    def write_rest(self, path: Path) -> None:
        """Write the rest PEX to ``path``, in the version's PEX's layout."""
        info = {
            **self.info,
            "distributions": {d: self.info["distributions"][d] for d in sorted(self.own)},
            "requirements": list(self.own_requirements),
            "ignore_errors": True,
        }
        info["pex_hash"] = _digest({"rest-of": self.info.get("pex_hash", ""), **info})
        self._write(path, info, lambda dist: dist in self.own, sources=True, compress=True)

    def _write(
        self, path: Path, info: dict[str, Any], keep_dist: Callable[[str], bool], *, sources: bool, compress: bool
    ) -> None:
        if self.pex.is_dir():
            self._write_packed(path, info, keep_dist, sources=sources)
            return
        with open(self.pex, "rb") as head, open(path, "wb") as out:
            shebang = head.readline()
            out.write(shebang if shebang.startswith(b"#!") else b"")  # pex runs a zip as a PEX only after one
            with zipfile.ZipFile(out, "w") as target:
                for member, mode, data in self._members(info, keep_dist, sources=sources):
                    entry = zipfile.ZipInfo(member, _DATE)
                    entry.external_attr = mode << 16
                    deflate = compress and not member.endswith("/")
                    entry.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
                    target.writestr(entry, data)

    def _write_packed(self, path: Path, info: dict[str, Any], keep_dist: Callable[[str], bool], *, sources: bool) -> None:
        """A packed PEX at ``path`` (a new directory) from this packed one: the files ``_keep``
        keeps, linked (copied across file systems), the hashed ones rewritten, a new PEX-INFO."""
        old_hash = f"'{self.info.get('pex_hash', '')}'".encode()
        path.mkdir()
        for source in sorted(self.pex.rglob("*")):
            name = source.relative_to(self.pex).as_posix()
            if source.is_dir() or name == "PEX-INFO" or not _keep(name, keep_dist, sources):
                continue
            target = path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if name in _HASHED:
                target.write_bytes(source.read_bytes().replace(old_hash, f"'{info['pex_hash']}'".encode()))
                shutil.copymode(source, target)
                continue
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)
        (path / "PEX-INFO").write_text(json.dumps(info, sort_keys=True), encoding="utf-8")

    def _deps_info(self, pex_hash: str) -> dict[str, Any]:
        info = {
            **self.info,
            "distributions": {d: self.info["distributions"][d] for d in sorted(self.shared)},
            "requirements": sorted(f"{name}=={version}" for name, version in map(_name_version, self.shared)),
        }
        info["code_hash"] = info["pex_hash"] = pex_hash
        return info

    def _members(
        self, info: dict[str, Any], keep_dist: Callable[[str], bool], *, sources: bool
    ) -> Iterator[tuple[str, int, bytes]]:
        """(name, unix mode, content) of each entry of a PEX with ``info`` as its PEX-INFO, from
        this one's: pex's runtime, the distributions ``keep_dist`` keeps and, with ``sources``,
        the sources; in name order."""
        old_hash = f"'{self.info.get('pex_hash', '')}'".encode()  # as pex writes it there
        with zipfile.ZipFile(self.pex) as source:
            for entry in sorted(source.infolist(), key=lambda e: e.filename):
                name = entry.filename
                if name == "PEX-INFO" or not _keep(name, keep_dist, sources):
                    continue
                data = b"" if entry.is_dir() else source.read(entry)
                if name in _HASHED:
                    data = data.replace(old_hash, f"'{info['pex_hash']}'".encode())
                yield name, entry.external_attr >> 16, data
        yield "PEX-INFO", 0o644, json.dumps(info, sort_keys=True).encode()


def _keep(name: str, keep_dist: Callable[[str], bool], sources: bool) -> bool:
    """Whether the entry ``name`` of a PEX goes into a part: pex's runtime always, a distribution
    if ``keep_dist`` keeps it, anything else (the sources) with ``sources``."""
    if name.startswith(_DEPS) and name != _DEPS:
        return keep_dist(name[len(_DEPS) :].split("/", 1)[0])
    return name == _DEPS or name.startswith(_RUNTIME) or name == "__main__.py" or sources


def split(pex: Path, version: str) -> PexLayers | None:
    """How ``pex`` (of ``version``) splits, or None: not a zipapp or packed PEX (e.g. a loose
    directory), no distributions to share, or a PEX-INFO this does not understand."""
    try:
        if pex.is_dir():
            if not (pex / ".bootstrap").is_file():
                return None  # a loose PEX: its wheels are directories of thousands of files
            info = json.loads((pex / "PEX-INFO").read_text(encoding="utf-8"))
        else:
            info = json.loads(read_member(pex, "PEX-INFO"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    distributions = info.get("distributions")
    if not isinstance(distributions, dict) or not distributions:
        return None
    pins = {r: name for r in info.get("requirements", []) if (name := _pinned_name(r, version))}
    try:
        own = frozenset(d for d in distributions if _name_version(d)[0] in pins.values())
    except (InvalidWheelFilename, InvalidVersion):
        return None
    shared = frozenset(distributions) - own
    return PexLayers(pex, info, own, shared, tuple(pins)) if shared else None


_EOCD = struct.Struct("<4s4H2LH")  # end of central directory
_CENTRAL = struct.Struct("<4s6H3L5H2L")  # a central directory entry, up to its name
_LOCAL = struct.Struct("<4s5H3L2H")  # a local file header, up to its name


def read_pex_info(pex: Path) -> bytes:
    """The PEX-INFO of a PEX in either of pex's layouts: a zipapp file or a packed directory."""
    return (pex / "PEX-INFO").read_bytes() if pex.is_dir() else read_member(pex, "PEX-INFO")


def read_member(archive: Path, name: str) -> bytes:
    """The content of the member ``name`` of the zip file ``archive`` (a PEX: a zip file after a
    shebang line). Raises KeyError when it has no such member.

    Found through the central directory's bytes, where ``zipfile`` would first make an object of
    every entry (a PEX holds thousands). Falls back to ``zipfile`` for what this does not read:
    ZIP64 archives, archive comments, encrypted or unusually compressed members.
    """
    encoded = name.encode("utf-8")
    with open(archive, "rb") as handle:
        size = handle.seek(0, 2)
        if size >= _EOCD.size:
            handle.seek(size - _EOCD.size)
            signature, _, _, _, count, cd_size, cd_offset, comment = _EOCD.unpack(handle.read(_EOCD.size))
            start = size - _EOCD.size - cd_size  # the archive's offsets count from after the shebang
            plain = signature == b"PK\x05\x06" and not comment and count != 0xFFFF
            if plain and 0xFFFFFFFF not in (cd_size, cd_offset) and start >= cd_offset:
                handle.seek(start)
                central = handle.read(cd_size)
                at = len(central)
                while (at := central.rfind(encoded, 0, at)) >= _CENTRAL.size:
                    entry = _CENTRAL.unpack_from(central, at - _CENTRAL.size)
                    signature, flags, method, length, offset = entry[0], entry[3], entry[4], entry[10], entry[16]
                    if signature != b"PK\x01\x02" or length != len(encoded):
                        continue
                    if flags & 0x1 or method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                        break
                    handle.seek(start - cd_offset + offset)
                    local = _LOCAL.unpack(handle.read(_LOCAL.size))
                    handle.seek(local[9] + local[10], 1)  # its name and extra field
                    data = handle.read(entry[8])
                    if method == zipfile.ZIP_DEFLATED:
                        data = zlib.decompress(data, -zlib.MAX_WBITS)
                    if local[0] != b"PK\x03\x04" or zlib.crc32(data) != entry[7]:
                        break
                    return data
                else:
                    raise KeyError(f"there is no item named {name!r} in the archive {archive}")
    with zipfile.ZipFile(archive) as fallback:
        return fallback.read(name)


def _pinned_name(requirement: str, version: str) -> str:
    """The project name of ``requirement`` if it pins ``version`` exactly, else ''."""
    try:
        parsed = Requirement(requirement)
    except InvalidRequirement:
        return ""
    specs = list(parsed.specifier)
    if len(specs) != 1 or specs[0].operator != "==":
        return ""
    try:
        if Version(specs[0].version) != Version(version):
            return ""
    except InvalidVersion:
        return ""
    return canonicalize_name(parsed.name)


def _name_version(distribution: str) -> tuple[str, str]:
    name, version, _, _ = parse_wheel_filename(distribution)
    return str(name), str(version)


def _digest(value: object) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True).encode()).hexdigest()


__all__ = ("PexLayers", "read_member", "read_pex_info", "split")

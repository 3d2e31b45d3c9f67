"""A version's PEX split into a deps PEX that versions with the same pins share and the rest."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from compat_matrix.backends import pex_layers

SHEBANG = b"#!/usr/bin/env python3.11\n"
SHARED = {
    "grpcio-1.85.3-cp311-cp311-manylinux2014_x86_64.whl": {"grpc/__init__.py": b"grpc"},
    "six-1.17.0-py2.py3-none-any.whl": {"six.py": b"six"},
}


def make_pex(path: Path, version: str = "", *, shared: dict = SHARED, pex_hash: str = "0ed9b028") -> Path:
    """A PEX in pex's layout: runtime, .deps/<wheel>/, sources, PEX-INFO (with ``version``'s
    conveyor wheel and its pin, when given; the branch's ranges otherwise)."""
    dists = dict(shared)
    requirements = ["grpcio>=1.85", "six"]
    if version:
        dists[f"conveyor-{version}-py3-none-any.whl"] = {"conveyor/__init__.py": version.encode()}
        requirements = [f"conveyor=={version}", "six==1.17.0"]
    info = {
        "bootstrap_hash": "b00t",
        "code_hash": f"code-{version}",
        "distributions": {name: f"fp-{name}-{sorted(files.items())}" for name, files in dists.items()},
        "pex_hash": pex_hash,
        "requirements": requirements,
        "venv": True,
    }
    with open(path, "wb") as out:
        out.write(SHEBANG)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(".bootstrap/pex/__init__.py", "")
            z.writestr("__main__.py", f"pex_hash='{pex_hash}'\n")
            z.writestr("__pex__/__init__.py", f"pex_hash='{pex_hash}'\n")
            z.writestr(".deps/", "")
            for name, files in dists.items():
                z.writestr(f".deps/{name}/", "")
                for file, data in files.items():
                    z.writestr(f".deps/{name}/{file}", data)
            z.writestr("compat_probes/__init__.py", "probe")
            z.writestr("PEX-INFO", json.dumps(info))
    return path


def make_packed_pex(path: Path, version: str = "", *, shared: dict = SHARED, pex_hash: str = "0ed9b028") -> Path:
    """The same PEX in pex's packed layout, as the build packages a version: a directory whose
    runtime (``.bootstrap``) and each distribution (``.deps/<wheel>``) are zip files."""
    zipapp = make_pex(path.with_name(path.name + ".zipapp"), version, shared=shared, pex_hash=pex_hash)
    zips: dict[str, dict[str, bytes]] = {}  # a zip file of the packed PEX -> its entries
    with zipfile.ZipFile(zipapp) as z:
        for name in z.namelist():
            if name.endswith("/"):
                continue
            data = z.read(name)
            if name.startswith(".bootstrap/"):
                zips.setdefault(".bootstrap", {})[name.split("/", 1)[1]] = data
            elif name.startswith(".deps/"):
                _, wheel, inner = name.split("/", 2)
                zips.setdefault(f".deps/{wheel}", {})[inner] = data
            else:
                (path / name).parent.mkdir(parents=True, exist_ok=True)
                (path / name).write_bytes(data)
    for owner, files in zips.items():
        (path / owner).parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path / owner, "w") as z:
            for name, data in sorted(files.items()):
                z.writestr(name, data)
    zipapp.unlink()
    return path


def contents(path: Path) -> tuple[dict, dict[str, bytes]]:
    """A PEX's PEX-INFO and its other entries; in a packed PEX, each zip file's entries under its name."""
    if path.is_dir():
        entries: dict[str, bytes] = {}
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            name = file.relative_to(path).as_posix()
            if name.startswith((".bootstrap", ".deps/")):
                with zipfile.ZipFile(io.BytesIO(file.read_bytes())) as z:
                    entries.update({f"{name}/{n}": z.read(n) for n in z.namelist()})
            elif name != "PEX-INFO":
                entries[name] = file.read_bytes()
        return json.loads((path / "PEX-INFO").read_text()), entries
    assert path.read_bytes().startswith(SHEBANG)
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("PEX-INFO")), {n: z.read(n) for n in z.namelist() if n != "PEX-INFO"}


LAYOUTS = {"zipapp": make_pex, "packed": make_packed_pex}


def tree(path: Path) -> dict[str, bytes]:
    """Every file of a directory (or the one file) by relative name, with its content."""
    if not path.is_dir():
        return {"": path.read_bytes()}
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_versions_with_the_same_pins_make_the_same_deps_pex(tmp_path: Path, layout: str) -> None:
    files = {}
    for version in ("0.1.0", "0.2.0", ""):
        layers = pex_layers.split(
            LAYOUTS[layout](tmp_path / f"{version or 'branch'}.pex", version, pex_hash=f"hash-of-{version or 'branch'}"),
            version or "branch",
        )
        assert layers is not None
        assert layers.shared == frozenset(SHARED)
        files[version] = tmp_path / f"deps-{version or 'branch'}.pex"
        layers.write_deps(files[version])
    assert tree(files["0.1.0"]) == tree(files["0.2.0"]) == tree(files[""])
    info, entries = contents(files["0.1.0"])
    assert set(info["distributions"]) == set(SHARED)
    assert info["requirements"] == ["grpcio==1.85.3", "six==1.17.0"]
    # pex's runtime, the shared distributions, no sources and no version's own.
    assert ".deps/six-1.17.0-py2.py3-none-any.whl/six.py" in entries
    assert not any("compat_probes" in n or "conveyor" in n for n in entries)
    assert entries["__main__.py"] == f"pex_hash='{info['pex_hash']}'\n".encode()


def test_the_key_changes_with_a_shared_distribution(tmp_path: Path) -> None:
    one = pex_layers.split(make_pex(tmp_path / "a.pex", "0.1.0"), "0.1.0")
    other = pex_layers.split(make_pex(tmp_path / "b.pex", "0.1.0", shared={**SHARED, "six-1.17.0-py2.py3-none-any.whl": {"six.py": b"7"}}), "0.1.0")
    assert one and other and one.key != other.key


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_rest_is_the_versions_own_distributions_and_the_sources(tmp_path: Path, layout: str) -> None:
    layers = pex_layers.split(LAYOUTS[layout](tmp_path / "r.pex", "0.1.0"), "0.1.0")
    assert layers is not None and layers.own == {"conveyor-0.1.0-py3-none-any.whl"}
    layers.write_rest(tmp_path / "rest.pex")
    info, entries = contents(tmp_path / "rest.pex")
    assert list(info["distributions"]) == ["conveyor-0.1.0-py3-none-any.whl"]
    # What conveyor needs is in the venv below: pex must not fail on it.
    assert info["requirements"] == ["conveyor==0.1.0"] and info["ignore_errors"] is True
    assert entries[".deps/conveyor-0.1.0-py3-none-any.whl/conveyor/__init__.py"] == b"0.1.0"
    assert entries["compat_probes/__init__.py"] == b"probe"
    assert not any("six" in n or "grpcio" in n for n in entries)
    assert entries["__pex__/__init__.py"] == f"pex_hash='{info['pex_hash']}'\n".encode()
    assert info["pex_hash"] != "0ed9b028"


def test_a_release_pinned_at_another_version_is_shared(tmp_path: Path) -> None:
    # six==1.17.0 is pinned, but not at the release's version: a third-party pin, shared.
    layers = pex_layers.split(make_pex(tmp_path / "p.pex", "1.17.0"), "1.17.0")
    assert layers is not None
    assert layers.own == {"conveyor-1.17.0-py3-none-any.whl", "six-1.17.0-py2.py3-none-any.whl"}


def test_a_packed_part_links_the_versions_files_and_rewrites_only_what_pex_hashed(tmp_path: Path) -> None:
    pex = make_packed_pex(tmp_path / "v.pex", "0.1.0")
    layers = pex_layers.split(pex, "0.1.0")
    assert layers is not None
    layers.write_deps(tmp_path / "deps.pex")
    wheel = ".deps/six-1.17.0-py2.py3-none-any.whl"
    assert os.path.samefile(tmp_path / "deps.pex" / wheel, pex / wheel)
    assert not os.path.samefile(tmp_path / "deps.pex" / "__main__.py", pex / "__main__.py")
    assert (pex / "__main__.py").read_text() == "pex_hash='0ed9b028'\n"  # the version's PEX is left as it was


@pytest.mark.parametrize("kind", ["not a zip", "no distributions", "only its own", "a loose directory"])
def test_what_does_not_split_is_built_in_one_step(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "x.pex"
    if kind == "not a zip":
        path.write_text("#!/bin/sh\n")
    elif kind == "no distributions":
        make_pex(path, shared={})
    elif kind == "a loose directory":
        (path / ".bootstrap").mkdir(parents=True)
        (path / "PEX-INFO").write_text(json.dumps({"distributions": {"six-1.17.0-py2.py3-none-any.whl": "fp"}}))
    else:
        make_pex(path, "0.1.0", shared={})
    assert pex_layers.split(path, "0.1.0") is None


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
@pytest.mark.parametrize("comment", [b"", b"an archive comment"])
def test_a_member_is_read_as_zipfile_reads_it(tmp_path: Path, compression: int, comment: bytes) -> None:
    path = tmp_path / "m.pex"
    with open(path, "wb") as out:
        out.write(SHEBANG)
        with zipfile.ZipFile(out, "w", compression) as z:
            z.writestr("a/PEX-INFO", b"not this one")  # a name that ends like the one asked for
            z.writestr("PEX-INFO", json.dumps({"distributions": {}}) * 50)
            z.writestr("PEX-INFO.bak", b"nor this one")
            z.comment = comment
    with zipfile.ZipFile(path) as z:
        for name in ("PEX-INFO", "a/PEX-INFO", "PEX-INFO.bak"):
            assert pex_layers.read_member(path, name) == z.read(name)
    with pytest.raises(KeyError):
        pex_layers.read_member(path, "EX-INFO")

"""Reading the matrix report's input: Pants' JUnit reports and Pants' console lines.

A matrix target's report carries its cell (the planned cell as ``compat_core.codec`` wrote it) and
backend as JUnit properties, its outcome, duration and, for a failure, the instances' logs the
harness attached. Pure but for reading the files it is given; the standard library and
``compat_core`` only, so Pants' CPython 3.9 and the harness's CPython run it.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

from compat_core.codec import cell_from_json
from compat_core.errors import CompatMatrixError
from compat_core.report_model import (
    CACHED,
    FAILED,
    LOCAL_CACHE,
    MEMOIZED,
    NO_RESULT,
    PASSED,
    RAN,
    REMOTE_CACHE,
    SKIPPED,
    InstanceVersion,
    TargetResult,
    verdict,
)

# The JUnit properties the harness's pytest plugin records (compat_matrix.junit_properties).
CELL_PROPERTY = "compat-matrix.cell"
BACKEND_PROPERTY = "compat-matrix.backend"

NO_REPORT_LOGS = (
    "Pants ran this target but it left no test report (it crashed or timed out before pytest wrote "
    "one); its output is in Pants' console output above its result line."
)


# --- addresses -------------------------------------------------------------------------------


def report_key(address: str) -> str:
    """Pants' path-safe form of a target address: the name (without ``.xml``) of its test report.

    ``tests/python/x#cell-process`` -> ``tests.python.x@cell-process``, ``a/b:s#c`` -> ``a.b.s@c``,
    ``a/b/test_x.py:tests`` -> ``a.b.test_x.py.tests``, ``a/b/sub/test_x.py:../tests`` ->
    ``a.b.sub.test_x.py@tests``. The leading ``.`` Pants gives root-level addresses is dropped.
    """
    m = re.fullmatch(r"(?://)?([^:#@]*)(?::([^#@]*))?(?:#([^@]*))?(@.*)?", address)
    if not m:
        return address
    path, target, generated, parameters = m.groups()
    key = path.replace("/", ".")
    if target:
        parents = 0
        while target.startswith("../"):
            parents, target = parents + 1, target[3:]
        key += ("@" * parents or ".") + target
    if generated:
        key += "@" + generated.replace("/", ".")
    if parameters:
        key += "@" + parameters.replace("/", ".")
    return key.lstrip(".")


def address_from_report_name(name: str, root: Path | None = None) -> str:
    """A report file's name back to the target's address, for a report with no console line.

    The path-safe form loses ``/`` vs ``.`` and ``:`` vs ``.``: a generated target's directory is
    the longest prefix that is a directory under ``root``, when given.
    ``tests.python.x.test_a.py.tests.xml`` -> ``tests/python/x/test_a.py:tests``;
    ``tests.python.x@cell-docker.xml`` -> ``tests/python/x#cell-docker``.
    """
    stem = name[: -len(".xml")] if name.endswith(".xml") else name
    file_target = re.fullmatch(r"(.+?\.py)(?:\.([^@]+)|(@+)(.+))?", stem)
    if file_target:
        path, target, parents, parent_target = file_target.groups()
        path = path.replace(".", "/")[: -len("/py")] + ".py"
        if parents:
            return f"{path}:{'../' * len(parents)}{parent_target}"
        return f"{path}:{target}" if target else path
    base, _, generated = stem.partition("@")
    parts = base.split(".")
    split = len(parts)
    if root is not None:
        split = next((n for n in range(len(parts), 0, -1) if (root / "/".join(parts[:n])).is_dir()), len(parts))
    elif not generated and len(parts) > 1:
        split = len(parts) - 1
    path, target = "/".join(parts[:split]), ".".join(parts[split:])
    return path + (f":{target}" if target else "") + (f"#{generated}" if generated else "")


# --- Pants' console --------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def read_console(text: str) -> dict[str, tuple[str, str]]:
    """Pants' test summary lines -> {address: (status, source)}."""
    results = {}
    for line in _ANSI.sub("", text).splitlines():
        m = re.match(r"^([✓✕]) (\S+) (succeeded|failed)\b(.*)$", line.strip())
        if not m:
            continue
        rest = m.group(4)
        source = (
            REMOTE_CACHE if "cached remotely" in rest
            else LOCAL_CACHE if "cached locally" in rest
            else MEMOIZED if "memoized" in rest
            else RAN
        )
        results[m.group(2)] = (PASSED if m.group(3) == "succeeded" else FAILED, source)
    return results


# --- JUnit reports ---------------------------------------------------------------------------


def read_report(
    path: Path,
    since: float | None = None,
    console: tuple[str, str, str] | None = None,
    root: Path | None = None,
    address: str | None = None,
) -> tuple[TargetResult, ET.Element]:
    """One JUnit report file -> the target's result, and its root element (for the merged file).

    ``since``: when the run started (a cached result keeps the time it first ran); ``console``:
    Pants' line for the same target, ``(address, status, source)``; ``address``: the target's,
    when the caller knows it (else read from the file's name).
    """
    root_element = ET.parse(path).getroot()
    suites = [root_element] if root_element.tag == "testsuite" else list(root_element.iter("testsuite"))
    tests = sum(int(s.get("tests", 0)) for s in suites)
    failures = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    duration = sum(float(s.get("time", 0.0)) for s in suites)
    status = FAILED if failures else SKIPPED if tests and skipped == tests else PASSED
    # The report says how the target went and Pants where the result came from; when Pants says it
    # failed (a crash after the tests, a timeout), it failed.
    address, source = address or address_from_report_name(path.name, root), RAN
    if console is not None:
        address, console_status, source = console
        if console_status == FAILED:
            status = FAILED
    elif since is not None:
        started = suite_start(root_element)
        if started is not None and started < since:
            source = CACHED
    properties = {p.get("name", ""): p.get("value", "") for s in suites for p in s.iter("property")}
    logs = "\n".join(
        (case.findtext("system-out") or "") + _failure_text(case)
        for s in suites
        for case in s.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    )
    matrix: dict[str, object] = {}
    if CELL_PROPERTY in properties:
        matrix = _cell_fields(properties[CELL_PROPERTY], properties.get(BACKEND_PROPERTY, ""), path)
    result = TargetResult(
        address=address,
        status=status,
        tests=tests,
        failures=failures,
        duration_s=round(duration, 2),
        source=source,
        report=path.name,
        logs=logs.strip(),
        **matrix,  # type: ignore[arg-type]
    )
    return result, root_element


def suite_start(root_element: ET.Element) -> float | None:
    """When the report's first test suite started (epoch seconds), if it says."""
    suites = [root_element] if root_element.tag == "testsuite" else list(root_element.iter("testsuite"))
    stamps = [t for t in (_timestamp(s) for s in suites) if t is not None]
    return min(stamps) if stamps else None


def _timestamp(suite: ET.Element) -> float | None:
    text = suite.get("timestamp")
    if not text:
        return None
    # pytest writes the local time, with or without its offset: a naive time is the machine's.
    return datetime.fromisoformat(text).timestamp()


def _failure_text(case: ET.Element) -> str:
    node = case.find("failure")
    if node is None:
        node = case.find("error")
    return "" if node is None else "\n" + (node.get("message") or "") + "\n" + (node.text or "")


def _cell_fields(cell_json: str, backend: str, path: Path) -> dict[str, object]:
    """The cell a matrix target ran, read by the codec that wrote it: every instance's version.

    A cell the codec cannot read (a report left by another checkout's format) still counts, by the
    names it carries, with a note saying why its versions are missing.
    """
    try:
        plan = cell_from_json(cell_json, source=f"the {CELL_PROPERTY} property of {path.name}")
    except CompatMatrixError as exc:
        try:
            raw = json.loads(cell_json)
        except ValueError:
            raw = {}
        names = raw if isinstance(raw, dict) else {}
        return {
            "suite": str(names.get("suite", "?")),
            "system": str(names.get("system", "?")),
            "cell": str(names.get("name", names.get("cell", path.name))),
            "backend": backend or None,
            "note": str(exc),
        }
    return {
        "suite": plan.suite,
        "system": plan.system,
        "cell": plan.name,
        "backend": backend or None,
        "instances": tuple(
            InstanceVersion(
                name=inst.name,
                role=inst.role,
                version=inst.version,
                declared_version=inst.declared_version if inst.declared_version not in ("", inst.version) else "",
                runs=inst.runs,
            )
            for inst in plan.instances
        ),
    }


def collect(
    reports_dir: Path, since: float | None = None, pants_log: str | None = None, root: Path | None = None
) -> tuple[list[TargetResult], list[ET.Element]]:
    """Every target once: each report file, with Pants' console line for it when given, then the
    targets Pants printed a result for that left no report."""
    console = {report_key(a): (a, status, source) for a, (status, source) in read_console(pants_log or "").items()}
    results, roots = [], []
    for path in sorted(reports_dir.glob("*.xml")) if reports_dir.is_dir() else []:
        result, element = read_report(path, since, console.pop(path.name[: -len(".xml")].lstrip("."), None), root)
        results.append(result)
        roots.append(element)
    for address, status, source in sorted(console.values()):
        results.append(
            TargetResult(address, status, 0, int(status == FAILED), 0.0, source,
                         logs=NO_REPORT_LOGS if status == FAILED else "")
        )
    return results, roots


def merged_junit(roots: list[ET.Element], results: list[TargetResult], pants_exit_code: int | None = None) -> bytes:
    """Every target's JUnit suites in one file, and a failed suite for each failure no report holds:
    a target that left no report, and a run that failed while no report shows a failure (a CI
    system reading only this file must see red where the report does)."""
    merged = ET.Element("testsuites", name="compat-matrix")
    for root in roots:
        merged.extend([root] if root.tag == "testsuite" else list(root.iter("testsuite")))
    missing = [
        (r.address, r.logs or r.note or NO_REPORT_LOGS) for r in results if r.status in (FAILED, NO_RESULT) and not r.report
    ]
    said = verdict(results, pants_exit_code)
    if said.state == FAILED and not any(r.status in (FAILED, NO_RESULT) for r in results):
        missing.append(("pants", said.reason))
    for name, message in missing:
        suite = ET.SubElement(merged, "testsuite", name=name, tests="1", failures="1", errors="0", skipped="0")
        case = ET.SubElement(suite, "testcase", classname=name, name="compat-matrix verdict")
        ET.SubElement(case, "failure", message=message).text = message
    return ET.tostring(merged, encoding="utf-8", xml_declaration=True)

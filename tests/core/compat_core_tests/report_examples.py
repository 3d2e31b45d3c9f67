"""Report inputs shared by the report tests: conveyor's backcompat and distributed suites, planned
by compat_core and encoded by its codec as the plugin does; JUnit reports as pytest writes them
with the harness's properties, named as Pants names them; console lines from real `./pants test` runs.
"""

from __future__ import annotations

import html

from compat_core.cell_plan import CellPlan
from compat_core.codec import cell_to_json
from compat_core.declare import compat_cell, compat_role, grpc_health_probe, http_probe, tcp_probe
from compat_core.model import Suite, System, Topology
from compat_core.names import cell_target
from compat_core.parse import parse_releases
from compat_core.plan import expand_cells, plan_suite
from compat_core.report_junit import BACKEND_PROPERTY, CELL_PROPERTY

# conveyor's server, user-code and worker roles as src/python/conveyor/BUILD declares them (enough
# to plan its suites), and its backcompat suite as tests/python/integration/backcompat/BUILD does.
CONVEYOR = System(
    name="conveyor",
    role_specs=(
        compat_role("scheduler", module="conveyor.cli:main", ports=["dask"], readiness=tcp_probe("dask"),
                    branch_sources=["src/python/conveyor/cluster"]),
        compat_role("worker", module="conveyor.cli:main", ports=["dask"], readiness=tcp_probe("dask"),
                    depends_on=["scheduler"], requires=["scheduler"], branch_sources=["src/python/conveyor/cluster"]),
        compat_role("user-code", module="conveyor.cli:main", ports=["grpc"], readiness=grpc_health_probe("grpc"),
                    branch_sources=["src/python/conveyor/code_server"]),
        compat_role("server", module="conveyor.cli:main", ports=["http"], readiness=http_probe("http", "/health"),
                    depends_on=["user-code"], requires=["user-code"], branch_sources=["src/python/conveyor/server"]),
    ),
    releases=parse_releases("conveyor", ["0.1.0", "0.2.0"], "0.1.0"),
)
BACKCOMPAT = Suite(
    name="backcompat",
    topology=Topology((("server", 1), ("user-code", 1))),
    cells=(
        compat_cell("server-latest", {"server": "latest"}),
        compat_cell("server-earliest", {"server": "earliest"}),
        compat_cell("user-code-latest", {"user-code": "latest"}),
        compat_cell("user-code-earliest", {"user-code": "earliest"}),
    ),
    system="conveyor",
    backends=("process", "docker"),
    full_matrix=True,
)
DISTRIBUTED = Suite(
    name="distributed",
    topology=Topology((("scheduler", 1), ("worker", 2), ("user-code", 1), ("server", 1))),
    cells=(compat_cell("all-branch"), compat_cell("workers-earliest", {"worker": "earliest"})),
    system="conveyor",
    backends=("process", "docker"),
)


def planned(suite: Suite, full: bool = False) -> dict[str, CellPlan]:
    return {c.name: c for c in plan_suite(expand_cells(suite, CONVEYOR.releases, full), CONVEYOR).cells}


CELLS = planned(BACKCOMPAT)
USER_CODE_EARLIEST = CELLS["user-code-earliest"]

# Pants 2.17's report file name (Address.path_safe_spec) of a generated target, as `./pants
# --tag=backcompat --tag=user-code-earliest --tag=process test ::` wrote it, and the line it printed.
REAL_REPORT = "tests.python.integration.backcompat@user-code-earliest-process.xml"
REAL_ADDRESS = "tests/python/integration/backcompat#user-code-earliest-process"
REAL_LINE = "✓ tests/python/integration/backcompat#user-code-earliest-process succeeded in 36.01s."


def junit(*, failures: int = 0, skipped: int = 0, tests: int = 2, when: str = "2026-11-29T10:00:00+00:00",
          cell: CellPlan | None = USER_CODE_EARLIEST, backend: str = "docker", out: str = "") -> str:
    """A JUnit report as pytest writes it with compat_matrix.junit_properties (the codec's cell JSON)."""
    props = (
        f'<properties><property name="{CELL_PROPERTY}" value="{html.escape(cell_to_json(cell))}" />'
        f'<property name="{BACKEND_PROPERTY}" value="{backend}" /></properties>'
        if cell
        else ""
    )
    failure = (
        f'<testcase classname="t" name="test_b"><failure message="assert 1 == 2">trace</failure>'
        f"<system-out>{out}</system-out></testcase>"
        if failures
        else ""
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" '
        f'errors="0" failures="{failures}" skipped="{skipped}" tests="{tests}" time="3.25" timestamp="{when}">'
        f'{props}<testcase classname="t" name="test_a" time="1.0" />{failure}</testsuite></testsuites>'
    )


def report_name(cell: str, backend: str, module: str = "", directory: str = "tests.python.integration.backcompat") -> str:
    """The report file name Pants gives a generated cell test (the plugin names it with cell_target)."""
    return f"{directory}@{cell_target(cell, backend, module)}.xml"

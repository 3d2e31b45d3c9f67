"""Small systems and suites the core tests build with the BUILD-file vocabulary (``compat_core.declare``).

The cluster system has the shape of conveyor's (a scheduler, workers, a user-code server that is
the cluster's client when a scheduler runs, and an API server), so the tests cover ``depends_on``,
``requires`` and ``args_if_present`` the way a real product uses them, without reading its BUILD.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from compat_core.declare import compat_cell, compat_role, grpc_health_probe, http_probe, tcp_probe
from compat_core.model import Releases, RoleSpec, Suite, System, Topology
from compat_core.parse import parse_releases


def cluster_roles() -> tuple:
    return (
        compat_role(
            "scheduler",
            module="cluster.cli:main",
            args=["scheduler", "--host", "{host}", "--port", "{port[dask]}"],
            ports=["dask"],
            readiness=tcp_probe("dask"),
            branch_sources=["src/cluster"],
        ),
        compat_role(
            "worker",
            module="cluster.cli:main",
            args=["worker", "--scheduler", "tcp://{address[scheduler]}", "--name", "{name}"],
            ports=["dask"],
            readiness=tcp_probe("dask"),
            depends_on=["scheduler"],
            requires=["scheduler"],
            branch_sources=["src/cluster"],
        ),
        compat_role(
            "user-code",
            module="cluster.cli:main",
            args=["code-server", "--port", "{port[grpc]}"],
            ports=["grpc"],
            readiness=grpc_health_probe("grpc"),
            depends_on=["scheduler", "worker"],
            args_if_present={"scheduler": ["--dask-scheduler", "tcp://{address[scheduler]}"]},
            branch_sources=["src/code_server"],
        ),
        compat_role(
            "server",
            module="cluster.cli:main",
            args=["server", "--port", "{port[http]}", "--code-server", "{address[user-code]}", "--db", "{data_dir}/db"],
            ports=["http"],
            readiness=http_probe("http", "/health"),
            depends_on=["user-code"],
            requires=["user-code"],
            branch_sources=["src/server"],
        ),
    )


def releases(system: str = "cluster", pinned: Sequence[str] = ("0.1.0", "0.2.0"), earliest: str = "0.1.0", **kw: Any) -> Releases:
    return parse_releases(system, list(pinned), earliest, **kw)


def cluster(name: str = "cluster", pinned: Sequence[str] = ("0.1.0", "0.2.0"), earliest: str = "0.1.0", **kw: Any) -> System:
    """The four-role cluster system, with ``pinned`` releases."""
    return System(name=name, role_specs=cluster_roles(), releases=releases(name, pinned, earliest), **kw)


def system_with(*roles: RoleSpec, name: str = "sys", pinned: Sequence[str] = ("0.1.0",), **kw: Any) -> System:
    """A system of the given roles (for validation tests of one role)."""
    return System(name=name, role_specs=tuple(roles), releases=releases(name, pinned, pinned[0]), **kw)


def role(name: str = "server", **kw: Any) -> RoleSpec:
    """A minimal valid role (an HTTP server on port ``http``), with ``kw`` overriding its fields."""
    fields: dict = dict(
        module="app.cli:main",
        ports=["http"],
        readiness=http_probe("http", "/health"),
        branch_sources=["src/app"],
    )
    fields.update(kw)
    return compat_role(name, **fields)


def suite(
    name: str = "backcompat",
    topology: Mapping[str, int] | None = None,
    cells: Sequence[Any] = (),
    system: str = "cluster",
    backends: Sequence[str] = ("process", "docker"),
    full_matrix: bool = False,
) -> Suite:
    return Suite(
        name=name,
        topology=Topology.of(topology or {"server": 1, "user-code": 1}),
        cells=tuple(cells) or (compat_cell("server-latest", {"server": "latest"}),),
        modules=("test_suite.py",),
        system=system,
        backends=tuple(backends),
        full_matrix=full_matrix,
    )


BACKCOMPAT_CELLS = (
    compat_cell("server-latest", {"server": "latest"}),
    compat_cell("server-earliest", {"server": "earliest"}),
    compat_cell("user-code-latest", {"user-code": "latest"}),
    compat_cell("user-code-earliest", {"user-code": "earliest"}),
)

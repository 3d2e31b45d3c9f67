"""The role catalog for conveyor: how every backend runs each of its four roles.

The arguments follow conveyor's CLI (``conveyor <command> ...``); the first argument is the
conveyor command that runs the role. Start order follows ``depends_on``: scheduler, workers,
user-code (which joins the scheduler only when the topology has one), server.
"""

from __future__ import annotations

from compat_matrix.model import Probe, RoleSpec, System

SERVER = RoleSpec(
    name="server",
    args=(
        "server",
        "--host", "{host}",
        "--port", "{port[http]}",
        "--code-server", "{address[user-code]}",
        "--db", "{data_dir}/runs.db",
    ),
    ports=("http",),
    readiness=Probe(kind="http", port="http", path="/health"),
    depends_on=("user-code",),
    # The server has nothing to serve without a code server to load jobs from.
    requires=("user-code",),
)

USER_CODE = RoleSpec(
    name="user-code",
    args=("code-server", "--host", "{host}", "--port", "{port[grpc]}"),
    ports=("grpc",),
    readiness=Probe(kind="grpc-health", port="grpc"),
    # Without a scheduler the code server runs jobs in-process; with one, it is the dask client
    # and should find the workers already registered.
    depends_on=("scheduler", "worker"),
    args_if_present={"scheduler": ("--dask-scheduler", "tcp://{address[scheduler]}")},
)

SCHEDULER = RoleSpec(
    name="scheduler",
    args=("scheduler", "--host", "{host}", "--port", "{port[dask]}"),
    ports=("dask",),
    readiness=Probe(kind="tcp", port="dask"),
)

WORKER = RoleSpec(
    name="worker",
    args=(
        "worker",
        "--scheduler", "tcp://{address[scheduler]}",
        "--host", "{host}",
        "--port", "{port[dask]}",
        "--name", "{name}",
    ),
    ports=("dask",),
    readiness=Probe(kind="tcp", port="dask"),
    depends_on=("scheduler",),
    requires=("scheduler",),
)

SYSTEM = System(
    name="conveyor",
    package="conveyor",
    roles={role.name: role for role in (SCHEDULER, WORKER, USER_CODE, SERVER)},
)
"""conveyor's roles: ``scheduler``, ``worker``, ``user-code`` and ``server``."""

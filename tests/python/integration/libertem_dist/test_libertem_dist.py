"""LiberTEM's distributed tests on LiberTEM's real releases, driven as LiberTEM's own tests/dist do.

Every cell runs a dask scheduler with two LiberTEM workers (``libertem-worker``) and an ipyparallel
controller with two engines (examples/libertem). This test process is the client, with LiberTEM
0.16.0 (python-default). It connects as LiberTEM's conftest does: a ``Context`` over
``DaskJobExecutor.connect(<scheduler>)`` (``dist_ctx``), and one over the dask cluster that
``ipyparallel.Client(...).become_dask()`` makes of the engines (``ipy_ctx``). On each it writes a raw
dataset on every worker host (``run_each_host``, as ``raw_on_workers`` does) that the client does not
have, sums it (``create_sum_analysis`` as in ``test_sum_on_dist``, and ``SumUDF``), and checks that
the result equals the same computation run locally (``InlineJobExecutor`` over the same array in
memory) and numpy's sum.

Where the dataset lives: on the docker backend each worker is a host of its own (a container, with
its own filesystem), and the file goes to a new directory under each container's /tmp. On the
process backend every instance runs on this one host, so ``run_each_host`` would write once, where
the client could read it too. There each instance runs in its own working directory (its data
directory), so the dataset is written with ``run_each_worker`` to a relative path: a file of each
worker instance's own, which the client's working directory does not have. Either way the client
never opens the file: LiberTEM reads it on the workers (``ctx.load`` asks a worker for its size).
"""

from __future__ import annotations

import ipaddress
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import ipyparallel
import libertem
import numpy as np
import pytest
from libertem.api import Context
from libertem.executor.dask import DaskJobExecutor
from libertem.executor.inline import InlineJobExecutor
from libertem.udf.sum import SumUDF

from compat_core.cell_plan import CellPlan, InstancePlan
from compat_matrix.backends.base import Deployment
from compat_matrix.ipyparallel_driver import driver_client_file

CLIENT_RELEASE = "0.16.0"  # libertem in python-default (3rdparty/python/requirements.txt)
NAV, SIG, DTYPE = (16, 16), (128, 128), "float32"
CLIENT_FILE = Path("ipyparallel/security/ipcontroller-client.json")  # under {shared_dir}: examples/libertem/BUILD
TIMEOUT = 120

# Functions of this module that run on the workers (the dataset and its writer) travel by value:
# the workers cannot import this module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def make_data() -> np.ndarray:
    """The dataset: small integers as float32, so that every order of summation gives the same sum."""
    return (np.arange(np.prod(NAV + SIG), dtype=np.int64) % 251).astype(DTYPE).reshape(NAV + SIG)


def dataset_writer() -> Callable[[str], str]:
    """What a worker runs to write the dataset to a path; returns the worker's hostname.

    A closure: dask pickles a call with the standard pickle first, which would name a module-level
    function by reference (this module, which workers cannot import); a closure goes by cloudpickle,
    by value.
    """

    def write(path: str) -> str:
        import socket

        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        partial = f"{path}.{os.getpid()}.partial"  # atomically: workers of one host share the path
        make_data().tofile(partial)
        os.replace(partial, path)
        return socket.gethostname()

    return write


def instances(cell: CellPlan, role: str) -> list[InstancePlan]:
    return [inst for inst in cell.instances if inst.role == role]


def release_of(instance: InstancePlan) -> str:
    """The LiberTEM release an instance runs (``branch`` is the system's branch release)."""
    return instance.runs or instance.version


def put_dataset(ctx: Context, backend: str, hosts: int) -> str:
    """Write the dataset on every worker host of ``ctx``'s cluster; return its path as workers see it."""
    executor = ctx.executor
    if backend == "docker":
        path = f"/tmp/libertem-dist-{uuid.uuid4().hex}/raw.bin"
        written = executor.run_each_host(dataset_writer(), path)  # as LiberTEM's raw_on_workers
        assert len(written) == hosts, f"one write per worker host expected, got {written}"
    else:
        path = f"libertem-dist-{uuid.uuid4().hex}/raw.bin"
        executor.run_each_worker(dataset_writer(), path)
    return path


def check_dataset_placement(ctx: Context, path: str) -> None:
    on_workers = ctx.executor.run_each_worker(os.path.exists, path)
    assert on_workers and all(on_workers.values()), on_workers
    assert not os.path.exists(path), f"{path} must not exist on the client"


def check_sums(ctx: Context, path: str) -> None:
    """Sum the dataset on the cluster and compare with the same computation run here."""
    dataset = ctx.load("raw", path=path, nav_shape=NAV, sig_shape=SIG, dtype=DTYPE)
    analysis = ctx.run(ctx.create_sum_analysis(dataset=dataset))
    udf = ctx.run_udf(dataset=dataset, udf=SumUDF())["intensity"].data

    data = make_data()
    local = Context(executor=InlineJobExecutor())
    try:
        in_memory = local.load("memory", data=data, sig_dims=2)
        local_analysis = local.run(local.create_sum_analysis(dataset=in_memory))
        local_udf = local.run_udf(dataset=in_memory, udf=SumUDF())["intensity"].data
    finally:
        local.close()

    np.testing.assert_array_equal(analysis[0].raw_data, local_analysis[0].raw_data)
    np.testing.assert_array_equal(udf, local_udf)
    np.testing.assert_array_equal(udf, data.sum(axis=(0, 1)))


# --- the dask cluster: scheduler + libertem-worker ----------------------------------------------


@pytest.fixture(scope="module")
def dist_ctx(deployment: Deployment) -> Iterator[Context]:
    """As LiberTEM's ``dist_ctx``: a Context over ``DaskJobExecutor.connect(<scheduler>)``."""
    ctx = Context(executor=DaskJobExecutor.connect("tcp://" + deployment.first("scheduler", "dask").address))
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def dist_dataset(dist_ctx: Context, cell: CellPlan, compat_backend_name: str) -> str:
    return put_dataset(dist_ctx, compat_backend_name, hosts=len(instances(cell, "worker")))


def test_the_client_is_the_newer_release() -> None:
    assert libertem.__version__ == CLIENT_RELEASE


def test_each_worker_runs_the_cells_release(dist_ctx: Context, cell: CellPlan) -> None:
    reported = dist_ctx.executor.run_each_worker(lambda: __import__("libertem").__version__)
    # libertem-worker --name N starts the dask workers N-cpu-0 and N-service-0.
    expected = {
        f"{inst.name}-{kind}-0": release_of(inst) for inst in instances(cell, "worker") for kind in ("cpu", "service")
    }
    assert reported == expected


def test_the_dataset_is_on_every_worker_and_not_on_the_client(dist_ctx: Context, dist_dataset: str) -> None:
    check_dataset_placement(dist_ctx, dist_dataset)


def test_sum_on_the_dask_cluster_equals_the_local_sum(dist_ctx: Context, dist_dataset: str) -> None:
    check_sums(dist_ctx, dist_dataset)


# --- ipyparallel: controller + engines, made a dask cluster by Client.become_dask() --------------


@pytest.fixture(scope="module")
def ipy_client(deployment: Deployment, cell: CellPlan, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path = driver_client_file(deployment, deployment.shared_dir / CLIENT_FILE, tmp_path_factory.mktemp("ipyparallel"))
    client = ipyparallel.Client(str(path), timeout=30)  # positionally: url_file= is silently ignored
    try:
        client.wait_for_engines(len(instances(cell, "ipy-engine")), timeout=TIMEOUT)
        yield client
    finally:
        client.close()


def engine_memory(client: Any) -> int:
    """The memory of the smallest engine's host, as dask measures it (cgroup limits included).

    Each engine's dask worker is the only worker of its host (its container on docker). Dask's
    default limit assumes one worker per core and gives a one-thread worker a CPU's share of the
    host; that worker pauses at 80% of it once LiberTEM's imports and a UDF run have filled it,
    and a cluster of paused workers refuses LiberTEM's scatter ("No valid workers found").
    """
    view = client[sorted(client.ids)]
    view.execute("import distributed.system", block=False).get(timeout=TIMEOUT)
    return min(view.pull("distributed.system.MEMORY_LIMIT", block=False).get(timeout=TIMEOUT))


@pytest.fixture(scope="module")
def ipy_ctx(deployment: Deployment, ipy_client: Any, cell: CellPlan) -> Iterator[Context]:
    """As LiberTEM's ``ipy_ctx``: a Context over the dask cluster ``become_dask()`` starts.

    The scheduler runs in the controller (the hub), the workers in the engines. The scheduler
    binds the controller's address (with no arguments it binds every interface and advertises the
    machine's primary address); on one host the engines' workers bind it too. ``become_dask``
    returns before the workers registered: wait for them.
    """
    host = deployment.first("ipy-controller", "registration").host
    workers: dict[str, Any] = {"dashboard_address": "127.0.0.1:0", "memory_limit": engine_memory(ipy_client)}
    if ipaddress.ip_address(host).is_loopback:
        workers["host"] = host
    dask_client = ipy_client.become_dask(scheduler_args={"host": host, "dashboard_address": "127.0.0.1:0"}, **workers)
    try:
        dask_client.wait_for_workers(len(instances(cell, "ipy-engine")), timeout=TIMEOUT)
        ctx = Context(executor=DaskJobExecutor(client=dask_client, is_local=False))
        try:
            yield ctx
        finally:
            ctx.close()
    finally:
        # Each become_dask() adds workers to the engines: stop them with the scheduler.
        ipy_client.stop_dask()


@pytest.fixture(scope="module")
def ipy_dataset(ipy_ctx: Context, cell: CellPlan, compat_backend_name: str) -> str:
    return put_dataset(ipy_ctx, compat_backend_name, hosts=len(instances(cell, "ipy-engine")))


def test_each_engine_runs_the_cells_release(ipy_client: Any, cell: CellPlan) -> None:
    ids = sorted(ipy_client.ids)
    view = ipy_client[ids]
    view.execute("import libertem", block=False).get(timeout=TIMEOUT)
    reported = dict(zip(ids, view.pull("libertem.__version__", block=False).get(timeout=TIMEOUT), strict=True))
    assert reported == {inst.index: release_of(inst) for inst in instances(cell, "ipy-engine")}


def test_the_dataset_is_on_every_engine_and_not_on_the_client(ipy_ctx: Context, ipy_dataset: str) -> None:
    check_dataset_placement(ipy_ctx, ipy_dataset)


def test_sum_on_the_engines_equals_the_local_sum(ipy_ctx: Context, ipy_dataset: str) -> None:
    check_sums(ipy_ctx, ipy_dataset)

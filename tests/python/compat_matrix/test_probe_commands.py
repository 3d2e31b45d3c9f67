"""The readiness commands of compat_probes against a real dask scheduler: one run keeps asking
over its connection (``--wait``) and answers as soon as the workers are there."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dask
import pytest
from distributed import LocalCluster

from compat_probes import dask_ready


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    # dask's servers' scratch space, which is /tmp/dask-scratch-space otherwise and outlives the test.
    with dask.config.set({"temporary-directory": str(tmp_path)}):
        with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as local:
            yield local


def test_one_run_answers_ready_once_a_worker_registers_while_it_waits(cluster: LocalCluster) -> None:
    answers: list[int] = []
    args = ["--scheduler", cluster.scheduler_address, "--prefix", "0", "--count", "1", "--wait", "60"]
    run = threading.Thread(target=lambda: answers.append(dask_ready.main(args)))
    start = time.monotonic()
    run.start()
    time.sleep(1.0)  # the run is waiting on a scheduler with no worker yet
    assert run.is_alive() and not answers
    cluster.scale(1)  # LocalCluster names its workers 0, 1, ...
    run.join(timeout=60)
    assert answers == [0]
    assert time.monotonic() - start < 30  # answered when the worker came, not at the end of --wait


def test_a_run_answers_not_ready_after_its_wait(cluster: LocalCluster, capsys: pytest.CaptureFixture[str]) -> None:
    start = time.monotonic()
    args = ["--scheduler", cluster.scheduler_address, "--prefix", "0", "--count", "1", "--wait", "1"]
    assert dask_ready.main(args) == 1
    assert time.monotonic() - start >= 1.0
    assert "not ready: the scheduler counts 0 of 1 workers named 0*" in capsys.readouterr().out


def test_wait_zero_asks_once(cluster: LocalCluster) -> None:
    start = time.monotonic()
    args = ["--scheduler", cluster.scheduler_address, "--prefix", "0", "--count", "1", "--wait", "0"]
    assert dask_ready.main(args) == 1
    assert time.monotonic() - start < 5

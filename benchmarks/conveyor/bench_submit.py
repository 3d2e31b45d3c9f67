"""Submit-to-result latency and throughput of trivial `add` runs.

Starts a code server (in-process executor) and a server as subprocesses on 127.0.0.1,
submits N runs of `add` (sequentially, then with a few concurrent submitters) and prints
p50/p95 submit-to-result latency and runs per second. Prints figures only.

    python benchmarks/conveyor/bench_submit.py --runs 200 --concurrency 4
    ./pants --no-pantsd run benchmarks/conveyor:bench-submit -- --runs 200
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from conveyor.client import Client, ConveyorError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    proc: subprocess.Popen[bytes], probe: Callable[[], bool], what: str, log: Path, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} before it was ready:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} not ready after {timeout}s:\n{log.read_text()}")
        time.sleep(0.05)


def grpc_serving(address: str) -> Callable[[], bool]:
    def probe() -> bool:
        with grpc.insecure_channel(address) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
            except grpc.RpcError:
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    return probe


def healthy(client: Client) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            client.health()
            return True
        except ConveyorError:
            return False

    return probe


def one_run(client: Client, i: int) -> float:
    start = time.perf_counter()
    run = client.wait(client.submit("add", {"a": i, "b": 1}), timeout=60, poll=0.005, max_poll=0.005)
    elapsed = time.perf_counter() - start
    if run["status"] != "SUCCESS" or run["result"] != i + 1:
        raise SystemExit(f"run {run['run_id']} did not succeed: {run}")
    return elapsed


def report(label: str, latencies: list[float], wall: float) -> None:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    print(
        f"{label:<16} runs={len(ordered):<5} p50={statistics.median(ordered) * 1000:7.1f} ms"
        f"  p95={p95 * 1000:7.1f} ms  throughput={len(ordered) / wall:7.1f} runs/s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100, help="runs per phase (default: 100)")
    parser.add_argument("--concurrency", type=int, default=4, help="submitters in the concurrent phase")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.concurrency < 1:
        parser.error("--runs and --concurrency must be positive")

    # The roles run on this interpreter with this process's sys.path (a venv, or a PEX's
    # unpacked sources and requirements), so the code under test is exactly what is imported here.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    python = [sys.executable, "-m", "conveyor"]
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as tmp:
        try:
            cs_port, srv_port = free_port(), free_port()
            logs = Path(tmp)
            procs.append(
                subprocess.Popen(
                    [*python, "code-server", "--port", str(cs_port)],
                    env=env,
                    stderr=(logs / "code-server.log").open("wb"),
                )
            )
            wait_until(
                procs[0], grpc_serving(f"127.0.0.1:{cs_port}"), "code server", logs / "code-server.log"
            )
            procs.append(
                subprocess.Popen(
                    [
                        *python,
                        "server",
                        "--port",
                        str(srv_port),
                        "--code-server",
                        f"127.0.0.1:{cs_port}",
                        "--db",
                        str(logs / "runs.sqlite"),
                    ],
                    env=env,
                    stderr=(logs / "server.log").open("wb"),
                )
            )
            client = Client(f"http://127.0.0.1:{srv_port}")
            wait_until(procs[1], healthy(client), "server", logs / "server.log")

            for i in range(5):  # warm up connections and code paths
                one_run(client, i)

            start = time.perf_counter()
            sequential = [one_run(client, i) for i in range(args.runs)]
            report("sequential", sequential, time.perf_counter() - start)

            clients = [Client(client.url) for _ in range(args.concurrency)]
            start = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                concurrent = list(pool.map(lambda i: one_run(clients[i % len(clients)], i), range(args.runs)))
            report(f"concurrent x{args.concurrency}", concurrent, time.perf_counter() - start)
        finally:
            for proc in reversed(procs):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

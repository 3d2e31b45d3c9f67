"""Where a run's tasks execute: threads in the code server, a dask cluster, or ipyparallel engines."""

from __future__ import annotations

import functools
import logging
import pickle
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from conveyor.definitions import RunCanceled, TaskHandle

log = logging.getLogger(__name__)


class Executor(Protocol):
    """A TaskRunner with a name (reported in ServerInfo) and a lifecycle."""

    name: str

    def map(self, fn: Callable[..., Any], items: Sequence[Any], cancel: threading.Event) -> list[Any]: ...

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> TaskHandle: ...

    def close(self) -> None: ...


class ExecutorError(Exception):
    """The executor could not be set up (e.g. the dask scheduler is unreachable)."""


class InProcessExecutor:
    """Runs tasks on a thread pool inside the code server."""

    name = "in-process"

    def __init__(self, max_workers: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="conveyor-task")

    def map(self, fn: Callable[..., Any], items: Sequence[Any], cancel: threading.Event) -> list[Any]:
        futures = [self._pool.submit(fn, item) for item in items]
        results = []
        try:
            for future in futures:
                while True:
                    if cancel.is_set():
                        raise RunCanceled("run was canceled")
                    try:
                        results.append(future.result(timeout=0.1))
                        break
                    except TimeoutError:
                        continue
        finally:
            for future in futures:
                future.cancel()
        return results

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> TaskHandle:
        return self._pool.submit(fn, *args, **kwargs)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class DaskExecutor:
    """Runs tasks on a dask.distributed cluster; the code server is the dask client."""

    name = "dask"

    def __init__(self, scheduler_address: str, connect_timeout: float = 15.0) -> None:
        from distributed import Client

        self.scheduler_address = scheduler_address
        try:
            self._client = Client(scheduler_address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(
                f"cannot connect to the dask scheduler at {scheduler_address}: {exc};"
                " start it (conveyor scheduler --host H --port P) or fix --dask-scheduler"
            ) from exc

    def map(self, fn: Callable[..., Any], items: Sequence[Any], cancel: threading.Event) -> list[Any]:
        futures = self._client.map(fn, items, pure=False)
        remaining = len(futures)
        lock = threading.Lock()
        all_done = threading.Event()

        def one_done(_future: Any) -> None:
            nonlocal remaining
            with lock:
                remaining -= 1
                if remaining <= 0:
                    all_done.set()

        if not futures:
            all_done.set()
        for future in futures:
            future.add_done_callback(one_done)
        # Wake up regularly to notice cancellation while the cluster works.
        while not all_done.wait(0.1):
            if cancel.is_set():
                self._client.cancel(futures)
                raise RunCanceled("run was canceled")
        return list(self._client.gather(futures))

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> TaskHandle:
        future: TaskHandle = self._client.submit(fn, *args, pure=False, **kwargs)
        return future

    def close(self) -> None:
        try:
            self._client.close(timeout=5)
        except Exception as exc:  # closing is best effort at shutdown
            log.warning("closing the dask client failed: %s", exc)


class IpyparallelExecutor:
    """Runs tasks on ipyparallel engines (a load-balanced view); the code server is an ipyparallel client.

    ``connection_file`` is the controller's ``ipcontroller-client.json``. Tasks travel as they do
    to dask workers (cloudpickle): by reference where their module is importable, so an engine
    runs the task code of the conveyor installed with it, not the code server's; by value for user
    code loaded with ``--file``. (ipyparallel itself would ship a plain function's code object and
    run it with the engine module's globals: the code server's code on the engine's data.) A task
    whose engine dies is resubmitted to another engine, as dask reschedules a lost worker's tasks.
    """

    name = "ipyparallel"
    retries = 2

    def __init__(self, connection_file: str, connect_timeout: float = 15.0) -> None:
        import ipyparallel

        self.connection_file = connection_file
        try:
            with open(connection_file, encoding="utf-8"):
                pass
            # Positionally: Client(url_file=...) silently ignores the keyword (ipyparallel 8 and 9).
            self._client = ipyparallel.Client(connection_file, timeout=connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(
                f"cannot connect to the ipyparallel controller with {connection_file}: {exc};"
                " start it (ipcontroller --profile-dir DIR writes DIR/security/ipcontroller-client.json)"
                " or fix --ipyparallel"
            ) from exc
        self._view = self._client.load_balanced_view()
        self._view.retries = self.retries

    def map(self, fn: Callable[..., Any], items: Sequence[Any], cancel: threading.Event) -> list[Any]:
        result = self._view.map_async(pickle.loads, [_call(fn, (item,), {}) for item in items])
        # Wake up regularly to notice cancellation while the engines work.
        while not result.wait(0.1):
            if cancel.is_set():
                result.abort()
                raise RunCanceled("run was canceled")
        return list(result.get())

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> TaskHandle:
        handle: TaskHandle = self._view.apply_async(pickle.loads, _call(fn, args, kwargs))
        return handle

    def close(self) -> None:
        try:
            self._client.close()
        except Exception as exc:  # closing is best effort at shutdown
            log.warning("closing the ipyparallel client failed: %s", exc)


class _Call:
    """A task call that pickles as "get the task, call it": unpickling runs the call."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (functools.partial(self.fn, **self.kwargs) if self.kwargs else self.fn), self.args


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """``fn(*args, **kwargs)`` as bytes an engine runs with ``pickle.loads`` (a builtin, which
    ipyparallel sends by reference too)."""
    import cloudpickle  # as dask pickles tasks (see conveyor.code_server.loader)

    return bytes(cloudpickle.dumps(_Call(fn, args, kwargs)))

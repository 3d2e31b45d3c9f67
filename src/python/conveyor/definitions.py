"""The user API: jobs, tasks and the Definitions that a code server loads.

A job is a function ``def myjob(ctx, **config)``; its keyword parameters are its config
keys and its return value (JSON-serializable) is the run's result. A job fans work out to
tasks with ``ctx.map(task_fn, items)`` / ``ctx.submit(task_fn, *args)``; the code server's
executor decides where tasks run (threads in the code server, or dask workers).

This module must stay light (no grpc, starlette or dask imports): it is what user code
and dask workers import.
"""

from __future__ import annotations

import inspect
import threading
import time
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_TASK_MARKER = "__conveyor_task__"

# Annotations that config values are checked against (JSON has nothing richer).
_JSON_TYPES: dict[Any, tuple[type, ...]] = {
    int: (int,),
    float: (int, float),
    str: (str,),
    bool: (bool,),
    list: (list,),
    dict: (dict,),
}


class DefinitionError(Exception):
    """A job or Definitions object is malformed (raised when user code is loaded)."""


class ConfigError(ValueError):
    """A run's config does not fit the job's parameters; the message names the key and the fix."""


class RunCanceled(Exception):
    """Raised inside a job when its run was canceled; the executor reports the run as CANCELED."""


@dataclass(frozen=True)
class Parameter:
    """A config key a job accepts; ``minimum`` / ``maximum`` bound a number (inclusive)."""

    name: str
    required: bool
    annotation: Any = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class JobDefinition:
    """A job: a named function ``fn(ctx, **config)`` and the config keys it accepts."""

    name: str
    fn: Callable[..., Any]
    description: str
    parameters: tuple[Parameter, ...]
    accepts_any_key: bool = False

    def __call__(self, ctx: RunContext, **config: Any) -> Any:
        return self.fn(ctx, **config)

    def validate_config(self, config: object) -> dict[str, Any]:
        """Returns the keyword arguments for the job, or raises ConfigError saying what to fix."""
        if not isinstance(config, Mapping):
            raise ConfigError(
                f"config for job {self.name!r} must be a JSON object, got {type(config).__name__}"
                f" {config!r}; pass e.g. {{{', '.join(repr(p.name) + ': ...' for p in self.parameters)}}}"
            )
        accepted = ", ".join(p.name for p in self.parameters) or "(none)"
        known = {p.name: p for p in self.parameters}
        for key in config:
            if not isinstance(key, str):
                raise ConfigError(f"config keys must be strings, got {key!r}")
            if key not in known and not self.accepts_any_key:
                raise ConfigError(f"unknown config key {key!r} for job {self.name!r}; it accepts: {accepted}")
        missing = [p.name for p in self.parameters if p.required and p.name not in config]
        if missing:
            raise ConfigError(
                f"missing required config key(s) {', '.join(repr(m) for m in missing)} for job"
                f" {self.name!r}; it accepts: {accepted}"
            )
        for key, value in config.items():
            param = known.get(key)
            expected = _JSON_TYPES.get(param.annotation) if param else None
            if expected is None:
                continue
            # bool is an int in Python but not a number in a job's config.
            if isinstance(value, bool) and bool not in expected:
                ok = False
            else:
                ok = isinstance(value, expected)
            if not ok:
                raise ConfigError(
                    f"config key {key!r} of job {self.name!r} must be"
                    f" {param.annotation.__name__}, got {type(value).__name__} {_short(value)}"  # type: ignore[union-attr]
                )
        for param in self.parameters:
            value = config.get(param.name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                low, high = param.minimum, param.maximum
                if (low is not None and not value >= low) or (high is not None and not value <= high):
                    raise ConfigError(
                        f"config key {param.name!r} of job {self.name!r} must be from {_bound(low)} to"
                        f" {_bound(high)}, got {value!r}"
                    )
        return dict(config)


def _short(value: object, limit: int = 80) -> str:
    # Errors travel back as gRPC status details, which have a size limit: never echo a huge value.
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _bound(value: float | None) -> str:
    return "any" if value is None else repr(value)


def _parameters_of(fn: Callable[..., Any]) -> tuple[tuple[Parameter, ...], bool]:
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable annotations only lose type checking, not the job
        hints = {}
    params = list(inspect.signature(fn).parameters.values())
    if not params or params[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        raise DefinitionError(
            f"job {fn.__qualname__!r} must take the run context as its first parameter: def {fn.__name__}(ctx, ...)"
        )
    result = []
    accepts_any = False
    for p in params[1:]:
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            accepts_any = True
            continue
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        result.append(Parameter(p.name, p.default is inspect.Parameter.empty, hints.get(p.name)))
    return tuple(result), accepts_any


def _make_job(
    fn: Callable[..., Any],
    name: str | None,
    description: str | None,
    limits: Mapping[str, tuple[float | None, float | None]] | None = None,
) -> JobDefinition:
    if isinstance(fn, JobDefinition):
        return fn
    if not callable(fn):
        raise DefinitionError(f"@job expects a function, got {fn!r}")
    params, accepts_any = _parameters_of(fn)
    limits = dict(limits or {})
    unknown = sorted(set(limits) - {p.name for p in params})
    if unknown:
        raise DefinitionError(
            f"job {fn.__qualname__!r}: limits name unknown parameter(s) {', '.join(map(repr, unknown))};"
            f" its parameters are: {', '.join(p.name for p in params) or '(none)'}"
        )
    params = tuple(
        replace(p, minimum=limits[p.name][0], maximum=limits[p.name][1]) if p.name in limits else p for p in params
    )
    doc = inspect.getdoc(fn) or ""
    return JobDefinition(
        name=name or fn.__name__,
        fn=fn,
        description=description if description is not None else doc.split("\n\n")[0].strip(),
        parameters=params,
        accepts_any_key=accepts_any,
    )


@typing.overload
def job(fn: Callable[..., Any], /) -> JobDefinition: ...
@typing.overload
def job(
    *,
    name: str | None = None,
    description: str | None = None,
    limits: Mapping[str, tuple[float | None, float | None]] | None = None,
) -> Callable[[Callable[..., Any]], JobDefinition]: ...
def job(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    limits: Mapping[str, tuple[float | None, float | None]] | None = None,
) -> JobDefinition | Callable[[Callable[..., Any]], JobDefinition]:
    """Declares a job. Use as ``@job`` or ``@job(name=..., description=..., limits=...)``.

    The description defaults to the first paragraph of the docstring. ``limits`` bounds numeric
    parameters, inclusive: ``{"seconds": (0, 3600)}`` (None: unbounded on that side); a run
    whose config is out of bounds is refused before it starts.
    """
    if fn is not None:
        return _make_job(fn, name, description, limits)
    return lambda f: _make_job(f, name, description, limits)


def task(fn: F) -> F:
    """Marks a function as a task that jobs may fan out with ``ctx.map``/``ctx.submit``.

    The function itself is returned (only marked), so it pickles by reference and dask
    workers import it from its module: task functions must live at module level.
    """
    if not callable(fn):
        raise DefinitionError(f"@task expects a function, got {fn!r}")
    setattr(fn, _TASK_MARKER, True)
    return fn


def is_task(fn: object) -> bool:
    return bool(getattr(fn, _TASK_MARKER, False))


@dataclass(frozen=True)
class Definitions:
    """The jobs a code location serves: ``defs = Definitions(jobs=[myjob, ...])``."""

    jobs: Sequence[JobDefinition | Callable[..., Any]] = ()
    _by_name: dict[str, JobDefinition] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, JobDefinition] = {}
        for item in self.jobs:
            definition = _make_job(item, None, None)
            if definition.name in by_name:
                raise DefinitionError(
                    f"two jobs are named {definition.name!r}; give one of them another name with @job(name=...)"
                )
            by_name[definition.name] = definition
        object.__setattr__(self, "_by_name", by_name)

    @property
    def job_names(self) -> list[str]:
        return sorted(self._by_name)

    def get_job(self, name: str) -> JobDefinition | None:
        return self._by_name.get(name)

    def all_jobs(self) -> list[JobDefinition]:
        return [self._by_name[n] for n in self.job_names]


class TaskHandle(Protocol):
    def result(self, timeout: float | None = None) -> Any: ...


class TaskRunner(Protocol):
    """Where a job's tasks run (implemented by the code server's executors)."""

    def map(self, fn: Callable[..., Any], items: Sequence[Any], cancel: threading.Event) -> list[Any]: ...

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> TaskHandle: ...


class _Done:
    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self, timeout: float | None = None) -> Any:
        return self._value


class SerialTaskRunner:
    """Runs tasks one after another in the calling thread (unit tests, run_local)."""

    def map(self, fn: Callable[..., Any], items: Sequence[Any], cancel: threading.Event) -> list[Any]:
        results = []
        for item in items:
            if cancel.is_set():
                raise RunCanceled("run was canceled")
            results.append(fn(item))
        return results

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> TaskHandle:
        return _Done(fn(*args, **kwargs))


class RunContext:
    """What a job receives as ``ctx``: logging, task fan-out and cooperative cancellation."""

    def __init__(
        self,
        run_id: str,
        job_name: str,
        runner: TaskRunner,
        emit: Callable[[str], None],
        cancel_event: threading.Event | None = None,
    ) -> None:
        self.run_id = run_id
        self.job_name = job_name
        self._runner = runner
        self._emit = emit
        self._cancel = cancel_event or threading.Event()

    def log(self, message: str) -> None:
        """Records a LOG event on the run."""
        self._emit(str(message))

    def map(self, fn: Callable[..., Any], items: Iterable[Any]) -> list[Any]:
        """Runs ``fn(item)`` for every item on the executor; returns the results in order."""
        self._require_task(fn)
        self.check_canceled()
        results = self._runner.map(fn, list(items), self._cancel)
        self.check_canceled()
        return results

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> TaskHandle:
        """Runs one ``fn(*args, **kwargs)`` on the executor; call ``.result()`` on the handle."""
        self._require_task(fn)
        self.check_canceled()
        return self._runner.submit(fn, *args, **kwargs)

    @property
    def canceled(self) -> bool:
        return self._cancel.is_set()

    def check_canceled(self) -> None:
        """Raises RunCanceled if the run was canceled; long loops in jobs should call it."""
        if self._cancel.is_set():
            raise RunCanceled(f"run {self.run_id} was canceled")

    def sleep(self, seconds: float) -> None:
        """Sleeps, waking early (with RunCanceled) if the run is canceled."""
        deadline = time.monotonic() + max(0.0, seconds)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._cancel.wait(remaining):
                self.check_canceled()

    @staticmethod
    def _require_task(fn: Callable[..., Any]) -> None:
        if not is_task(fn):
            name = getattr(fn, "__qualname__", repr(fn))
            raise DefinitionError(f"{name} is not a task; decorate it with @conveyor.task at module level")


def run_local(definitions: Definitions, job_name: str, config: Mapping[str, Any] | None = None) -> Any:
    """Runs a job in this thread with serial tasks: for unit-testing user code."""
    definition = definitions.get_job(job_name)
    if definition is None:
        raise KeyError(f"no job named {job_name!r}; defined jobs: {', '.join(definitions.job_names)}")
    kwargs = definition.validate_config(dict(config or {}))
    ctx = RunContext("local", job_name, SerialTaskRunner(), emit=lambda _msg: None)
    return definition(ctx, **kwargs)

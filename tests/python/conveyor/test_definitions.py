from __future__ import annotations

import threading

import pytest

from conveyor import Definitions, RunContext, job, task
from conveyor.definitions import (
    ConfigError,
    DefinitionError,
    RunCanceled,
    SerialTaskRunner,
    run_local,
)
from conveyor.examples import defs as example_defs


@task
def double(x: int) -> int:
    return 2 * x


@job
def doubles(ctx: RunContext, n: int, label: str = "x") -> dict[str, object]:
    """Doubles 0..n-1.

    More text that is not part of the description.
    """
    ctx.log(f"{label}: {n}")
    return {"label": label, "values": ctx.map(double, range(n))}


def test_job_description_and_parameters() -> None:
    assert doubles.name == "doubles"
    assert doubles.description == "Doubles 0..n-1."
    assert [(p.name, p.required) for p in doubles.parameters] == [("n", True), ("label", False)]


def test_job_with_options() -> None:
    @job(name="renamed", description="custom")
    def original(ctx: RunContext) -> int:
        return 1

    assert (original.name, original.description) == ("renamed", "custom")


def test_job_needs_a_context_parameter() -> None:
    with pytest.raises(DefinitionError, match="run context as its first parameter"):
        job(lambda **kw: None)


def test_definitions_reject_duplicate_names() -> None:
    with pytest.raises(DefinitionError, match="two jobs are named 'doubles'"):
        Definitions(jobs=[doubles, doubles])


def test_definitions_accept_plain_functions() -> None:
    def plain(ctx: RunContext, a: int) -> int:
        return a

    defs = Definitions(jobs=[plain, doubles])
    assert defs.job_names == ["doubles", "plain"]
    assert run_local(defs, "plain", {"a": 3}) == 3


def test_run_local_fans_out_tasks() -> None:
    defs = Definitions(jobs=[doubles])
    assert run_local(defs, "doubles", {"n": 3}) == {"label": "x", "values": [0, 2, 4]}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([1], "must be a JSON object"),
        ({}, "missing required config key\\(s\\) 'n'"),
        ({"n": 1, "extra": 2}, "unknown config key 'extra' for job 'doubles'; it accepts: n, label"),
        ({"n": "3"}, "config key 'n' of job 'doubles' must be int, got str '3'"),
        ({"n": True}, "must be int, got bool"),
        ({"n": 1, "label": 5}, "config key 'label' .* must be str"),
    ],
)
def test_validate_config_names_the_problem(config: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        doubles.validate_config(config)


def test_float_parameters_accept_ints() -> None:
    add = example_defs.get_job("add")
    assert add is not None
    assert add.validate_config({"a": 1, "b": 2.5}) == {"a": 1, "b": 2.5}


def test_var_keyword_jobs_accept_any_key() -> None:
    @job
    def anything(ctx: RunContext, **config: object) -> int:
        return len(config)

    assert anything.validate_config({"x": 1, "y": 2}) == {"x": 1, "y": 2}


def test_map_requires_tasks() -> None:
    def not_a_task(x: int) -> int:
        return x

    ctx = RunContext("r", "j", SerialTaskRunner(), emit=lambda m: None)
    with pytest.raises(DefinitionError, match="not a task; decorate it with @conveyor.task"):
        ctx.map(not_a_task, [1])


def test_log_emits_and_submit_returns_handle() -> None:
    seen: list[str] = []
    ctx = RunContext("r", "j", SerialTaskRunner(), emit=seen.append)
    ctx.log("hello")
    assert seen == ["hello"]
    assert ctx.submit(double, 21).result() == 42


def test_sleep_wakes_on_cancel() -> None:
    cancel = threading.Event()
    cancel.set()
    ctx = RunContext("r", "j", SerialTaskRunner(), emit=lambda m: None, cancel_event=cancel)
    with pytest.raises(RunCanceled):
        ctx.sleep(30)


def test_examples_keep_their_jobs() -> None:
    assert example_defs.job_names == ["add", "fail", "sleep", "sum_squares", "where"]
    assert run_local(example_defs, "add", {"a": 1, "b": 2}) == 3
    assert run_local(example_defs, "sum_squares", {"n": 4}) == 14
    where = run_local(example_defs, "where", {"n": 2})
    assert where["tasks"] == 2 and where["where"][0].startswith("in-process:")
    with pytest.raises(RuntimeError, match="kaput"):
        run_local(example_defs, "fail", {"message": "kaput"})
    assert run_local(example_defs, "sleep", {"seconds": 0}) == 0


def test_limits_bound_numeric_parameters_inclusively() -> None:
    @job(limits={"n": (0, 10), "x": (None, 1.5)})
    def bounded(ctx: RunContext, n: int, x: float = 0.0) -> None: ...

    assert bounded.validate_config({"n": 0}) == {"n": 0}
    assert bounded.validate_config({"n": 10, "x": -1e9}) == {"n": 10, "x": -1e9}
    for config, needle in (
        ({"n": -1}, "config key 'n' of job 'bounded' must be from 0 to 10, got -1"),
        ({"n": 11}, "got 11"),
        ({"n": 1, "x": 2.0}, "config key 'x' of job 'bounded' must be from any to 1.5, got 2.0"),
        ({"n": 1, "x": float("nan")}, "got nan"),
    ):
        with pytest.raises(ConfigError) as error:
            bounded.validate_config(config)
        assert needle in str(error.value)


def test_limits_must_name_parameters() -> None:
    with pytest.raises(DefinitionError, match="limits name unknown parameter"):

        @job(limits={"m": (0, 1)})
        def typo(ctx: RunContext, n: int) -> None: ...

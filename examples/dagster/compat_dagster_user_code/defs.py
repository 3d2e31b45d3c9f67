"""Tiny Dagster code location used for the dagster-backcompat suite (webserver <-> code server across releases).

Only uses APIs present in dagster 1.11 .. 1.13: Definitions, @op, @job, In/Out-less op wiring.
Jobs:
  ok_job   - two ops (make_number -> double_it), succeeds.
  fail_job - one op that raises RuntimeError with FAIL_MARKER in the message.
"""
from dagster import Definitions, job, op

FAIL_MARKER = "XVERSION_INTENTIONAL_FAILURE_42"


@op
def make_number() -> int:
    return 21


@op
def double_it(n: int) -> int:
    result = n * 2
    assert result == 42
    return result


@job
def ok_job():
    double_it(make_number())


@op
def explode() -> None:
    raise RuntimeError(f"{FAIL_MARKER}: this op always fails")


@job
def fail_job():
    explode()


defs = Definitions(jobs=[ok_job, fail_job])

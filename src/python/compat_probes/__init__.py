"""Readiness checks that run in a role's own environment: ``python -m compat_probes.<module> ...``.

A role declares one with ``command_probe(["compat_probes.dask_ready", ...])``; the harness runs it
with the instance's artifact (its PEX, or ``docker exec`` in its container) until it exits 0. Each
module exits 0 when ready, 1 (with one line saying why) when not yet, 2 on bad arguments.
"""

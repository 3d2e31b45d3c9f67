"""The roles of an ipyparallel cluster (a controller and its engines), declared once for every
system that runs one (``ipyparallel_roles``, callable from BUILD files).

Pure and CPython 3.9-compatible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from compat_core.declare import command_probe, compat_role, reject_unknown
from compat_core.model import RoleSpec

# ipyparallel's controller and engines give up on each other after a few seconds of silence (the
# controller forgets a registration whose first heartbeat is not seen within 30 s, and drops an
# engine after 10 missed beats; an engine waits 5 s for the registration reply). A starved engine
# (a loaded machine) sets up its kernel slowly and starts its heart only then: it completed its
# registration after the controller forgot it, and was never counted.
IPYPARALLEL_SILENCE = 180
"""Seconds a starting engine or the controller may stay silent before the other gives up."""
IPYPARALLEL_DEAD_ENGINE = 15
"""Seconds without a heartbeat before the controller drops a registered engine: a killed engine's
tasks go to the others (and its id is free for its restart) after this long. A registered engine's
heart is a native thread that answers pings without the GIL, so a loaded machine does not silence
it (only a stopped process), and the controller counts a late answer to its previous ping as a
beat; half again as many beats as ipyparallel's own default lets an engine miss. Every test of a
killed engine waits this long."""
# The hub pings every second, so a registration completes within a second of the engine's first
# beat; an engine checks for the hub's pings every period + 0.5 s.
_IPY_PERIOD_MS = 1000
_IPY_ENGINE_CHECK_MS = _IPY_PERIOD_MS + 500
IPYPARALLEL_CONTROLLER_ARGS = (
    f"--HeartMonitor.period={_IPY_PERIOD_MS}",
    f"--HeartMonitor.max_heartmonitor_misses={IPYPARALLEL_DEAD_ENGINE * 1000 // _IPY_PERIOD_MS}",
    f"--IPController.registration_timeout={IPYPARALLEL_SILENCE}",
)
"""``ipcontroller`` settings that tolerate starved engines (ipyparallel 8 and 9)."""
IPYPARALLEL_ENGINE_ARGS = (
    f"--IPEngine.timeout={IPYPARALLEL_SILENCE}",
    f"--IPEngine.max_heartbeat_misses={IPYPARALLEL_SILENCE * 1000 // _IPY_ENGINE_CHECK_MS}",
)
"""``ipengine`` settings that tolerate a starved controller (ipyparallel 8 and 9)."""

IPYPARALLEL_PROFILE = "{shared_dir}/ipyparallel"
"""The controller's default profile directory (a template): in the directory every instance of a
deployment shares, so engines and clients read the connection files the controller writes."""


def ipyparallel_client_file(profile: str = IPYPARALLEL_PROFILE) -> str:
    """The client's connection file under ``profile``, for a role that is the cluster's client
    (e.g. ``args_if_present={"ipy-controller": ["--ipyparallel", ipyparallel_client_file()]}``)."""
    return profile + "/security/ipcontroller-client.json"


RENAMED_ARGUMENTS = {"controller_branch": "controller_branch_sources", "engine_branch": "engine_branch_sources"}
"""Names ``ipyparallel_roles`` does not take -> the name to write instead (their meaning's name)."""


def ipyparallel_roles(
    profile: str = IPYPARALLEL_PROFILE,
    *,
    controller_branch_sources: Sequence[str] = (),
    engine_branch_sources: Sequence[str] = (),
    controller_timeout: float = 120.0,
    engine_timeout: float = IPYPARALLEL_SILENCE,
    env: Mapping[str, str] | None = None,
    **unknown: Any,
) -> tuple[RoleSpec, RoleSpec]:
    """The roles of an ipyparallel cluster: ``ipy-controller`` (the hub and its schedulers) and
    ``ipy-engine``, for a system's ``roles`` (``roles=[..., *ipyparallel_roles(...)]``).

    ``profile`` is the controller's profile directory, shared by every instance of a deployment
    (a template): the controller writes its connection files under ``<profile>/security``,
    engines read ``ipcontroller-engine.json``, clients ``ipcontroller-client.json``. Readiness
    runs ``compat_probes.ipyparallel_ready`` in each role's own environment, so every version of
    the roles needs ``ipyparallel`` and ``compat_probes`` (``*_branch_sources``: the branch's
    dependencies of each role; a release's come from its requirements). ``env`` is added to
    both roles' environment (default: an ``IPYTHONDIR`` in the instance's data directory).
    Registration tolerates ``IPYPARALLEL_SILENCE`` seconds of a starved process; a registered
    engine is dropped after ``IPYPARALLEL_DEAD_ENGINE`` seconds without a heartbeat.
    """
    reject_unknown("ipyparallel_roles(...)", unknown, RENAMED_ARGUMENTS, ipyparallel_roles)
    client_file = ipyparallel_client_file(profile)
    environment = dict(env) if env is not None else {"IPYTHONDIR": "{data_dir}/ipython"}
    controller = compat_role(
        "ipy-controller",
        script="ipcontroller",
        args=[
            "--ip={host}",
            # The registration port is the first of the pool; ipcontroller picks its other ports
            # itself and writes them all into the connection files.
            "--ports={port[registration]}",
            "--profile-dir=" + profile,
            *IPYPARALLEL_CONTROLLER_ARGS,
        ],
        ports=["registration"],
        env=environment,
        readiness=command_probe(["compat_probes.ipyparallel_ready", "controller", client_file], timeout=controller_timeout),
        branch_sources=controller_branch_sources,
    )
    engine = compat_role(
        "ipy-engine",
        script="ipengine",
        args=[
            # The engine's connection file, not the client's (which ipengine ignores when given
            # positionally, as LiberTEM's compose file does).
            "--file=" + profile + "/security/ipcontroller-engine.json",
            # A known id, so readiness can ask the controller for this very engine.
            "--IPEngine.id={index}",
            *IPYPARALLEL_ENGINE_ARGS,
        ],
        env=environment,
        # An engine listens on no port: it is ready when the controller counts it.
        readiness=command_probe(["compat_probes.ipyparallel_ready", "engine", client_file, "{index}"], timeout=engine_timeout),
        # An engine waits only a few seconds for the connection file the controller writes.
        depends_on=["ipy-controller"],
        requires=["ipy-controller"],
        branch_sources=engine_branch_sources,
    )
    return controller, engine


__all__ = (
    "IPYPARALLEL_CONTROLLER_ARGS",
    "IPYPARALLEL_DEAD_ENGINE",
    "IPYPARALLEL_ENGINE_ARGS",
    "IPYPARALLEL_PROFILE",
    "IPYPARALLEL_SILENCE",
    "ipyparallel_client_file",
    "ipyparallel_roles",
)

"""An ipyparallel engine starved while it registers is still counted (its own target: the
starvation takes longer than the rest of the ipyparallel end-to-end tests together)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from conftest import Launcher, ipyparallel_controller, ipyparallel_process  # pants: no-infer-dep

from compat_core.ipyparallel import IPYPARALLEL_ENGINE_ARGS
from compat_probes import ipyparallel_ready

# Longer than the controller's own default allows a registration to wait for the engine's first
# heartbeat (30 s).
STARVED_SECONDS = 35.0
ATTEMPTS = 3


# Regression (issue 24): on a loaded machine an engine logged "Completed registration" and the
# controller never counted it: the controller had forgotten a registration whose first heartbeat
# came late (an engine sets up its nanny and kernel before its heart). A stopped engine is a
# starved one on demand, stopped between the controller's accepting it and its heart's start.
# A registered engine's heart is a native thread that answers without the GIL: load does not stop
# it, so IPYPARALLEL_DEAD_ENGINE (shorter than this starvation) is not what this is about.
def test_a_starved_engine_is_still_counted(launcher: Launcher, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    client_file = str(profile / "security" / "ipcontroller-client.json")
    controller = ipyparallel_controller(launcher, profile)
    controller.wait_until(lambda: ipyparallel_ready.main(["controller", client_file]) == 0, "answering")
    for attempt in range(ATTEMPTS):
        engine = ipyparallel_process(
            launcher, f"engine-{attempt}", "ipyparallel.engine",
            f"--file={profile / 'security' / 'ipcontroller-engine.json'}", f"--IPEngine.id={attempt}",
            *IPYPARALLEL_ENGINE_ARGS,
        )
        controller.wait_until(
            lambda seen=attempt: controller.logs().count("accepting registration") > seen, f"accepting engine {attempt}"
        )
        assert engine.proc is not None
        # The engine (and its nanny) get no CPU from the moment the controller accepted it.
        os.killpg(engine.proc.pid, signal.SIGSTOP)
        if "Completed registration" not in engine.logs():
            break
        # Its heart had started before it stopped: not the starvation this test is about.
        os.killpg(engine.proc.pid, signal.SIGKILL)
        engine.proc.wait(timeout=10)
    else:
        pytest.fail(f"no engine of {ATTEMPTS} was stopped before its heart started")
    try:
        time.sleep(STARVED_SECONDS)  # the starvation itself, not a wait for readiness
    finally:
        os.killpg(engine.proc.pid, signal.SIGCONT)
    engine.wait_until(lambda: ipyparallel_ready.main(["engine", client_file, str(attempt)]) == 0, "counted", timeout=30)

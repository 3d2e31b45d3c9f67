"""Toolchain smoke test: Pants built a PEX and an image FROM the base image with that PEX in it.

Runs the PEX directly and in a container (no network, non-root, read-only root filesystem).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import docker

HERE = "tests.python.smoke"


def _child_env() -> dict[str, str]:
    # The test itself runs inside a PEX: its PEX_* variables must not leak into the child PEX.
    return {k: v for k, v in os.environ.items() if not k.startswith("PEX_") and k != "PYTHONPATH"}


def test_pex_runs_directly() -> None:
    pex = Path(HERE) / "hello.pex"
    out = subprocess.run(
        [sys.executable, str(pex), "direct"], capture_output=True, text=True, check=True, env=_child_env()
    )
    payload = json.loads(out.stdout)
    assert payload == {"greeting": "hello from a PEX", "python": payload["python"], "argv": ["direct"]}
    assert payload["python"].startswith("3.11.")


def test_pex_runs_in_a_container() -> None:
    info = json.loads((Path(HERE) / "smoke-image.docker-info.json").read_text())
    # The legacy builder reports a short id, BuildKit a sha256: one; <unknown> would mean image
    # changes could not invalidate cached tests.
    image_id = info["image_id"]
    assert image_id != "<unknown>", f"Pants could not read the image id: {info}"
    client = docker.from_env()
    assert client.images.get(image_id).attrs["Config"]["Entrypoint"] == ["python3", "/app/hello.pex"]
    name = f"compat-matrix-smoke-{uuid.uuid4().hex[:8]}"
    try:
        logs = client.containers.run(
            image_id,
            ["in-container"],
            name=name,
            network_mode="none",
            user="10001:10001",
            read_only=True,
            tmpfs={"/tmp": "size=64m"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            # Not a harness session label: the reaper would (rightly) treat it as orphaned.
            labels={"compat-matrix.smoke": "1"},
            stdout=True,
            stderr=True,
        )
    finally:
        for leftover in client.containers.list(all=True, filters={"name": name}):
            leftover.remove(force=True)
    payload = json.loads(logs.decode().strip().splitlines()[-1])
    assert payload["greeting"] == "hello from a PEX"
    assert payload["argv"] == ["in-container"]
    assert payload["python"].startswith("3.11.")

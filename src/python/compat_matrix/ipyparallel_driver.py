"""How the driver (the test process) reaches a deployment's ipyparallel controller.

``ipcontroller --ip=0.0.0.0`` (a controller in a container listens on every interface) writes
``"interface": "tcp://0.0.0.0"`` into its connection files, with its hostname as ``"location"``:
ipyparallel connects to the location when the interface is a wildcard. Instances on the
deployment's network resolve that hostname; the driver, on the docker host, does not.
``driver_client_file`` writes a copy of the client connection file whose location is the controller
as the driver reaches it (the endpoint of one of its ports). A controller bound to one address
(``--ip=127.0.0.1`` on the process backend) is reached there, and the location is not used.
"""

from __future__ import annotations

import json
from pathlib import Path

from compat_matrix.backends.base import Deployment


def driver_client_file(
    deployment: Deployment,
    client_file: Path,
    directory: Path,
    *,
    role: str = "ipy-controller",
    port: str = "registration",
) -> Path:
    """A copy of ``client_file`` in ``directory`` that ``ipyparallel.Client(path)`` can use from the driver.

    ``client_file`` is the controller's ``ipcontroller-client.json`` on the driver's side (e.g.
    under ``deployment.shared_dir``); ``role`` and ``port`` name the controller and a port of it.
    """
    info = json.loads(Path(client_file).read_text(encoding="utf-8"))
    info["location"] = deployment.first(role, port).host
    target = Path(directory) / f"driver-{Path(client_file).name}"
    target.write_text(json.dumps(info, indent=1), encoding="utf-8")
    return target


__all__ = ("driver_client_file",)

"""What every Deployment does on top of its backend: ``first`` and ``reach``, on a deployment whose
instances are dictionaries (the backends' own ``advertised`` are tested in their test modules)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from compat_matrix.backends.base import Deployment, Endpoint
from compat_matrix.testing import fake_plan


class _Advertising(Deployment):
    """Instances advertise ``<name>:<port>`` (as on docker) and the driver reaches them elsewhere."""

    def __init__(self, driver: Mapping[str, Mapping[str, Endpoint]]) -> None:
        self.plan = fake_plan("c", [("web", 2)])
        self._driver = driver

    def endpoints(self) -> dict[str, dict[str, Endpoint]]:
        return {name: dict(ports) for name, ports in self._driver.items()}

    def endpoint(self, instance: str, port: str) -> Endpoint:
        return self._driver[instance][port]

    def advertised(self, instance: str, port: str) -> Endpoint:
        return Endpoint(instance, 9000 + sorted(self._driver[instance]).index(port))

    def logs(self) -> Mapping[str, str]:
        return {}

    def kill(self, instance: str) -> None: ...
    def pause(self, instance: str) -> None: ...
    def resume(self, instance: str) -> None: ...
    def restart(self, instance: str) -> None: ...
    def stop(self) -> None: ...


DRIVER = {
    "web-0": {"admin": Endpoint("10.0.0.2", 9000), "main": Endpoint("10.0.0.2", 9001)},
    "web-1": {"admin": Endpoint("10.0.0.3", 9000), "main": Endpoint("10.0.0.3", 9001)},
}


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("web-0:9001", Endpoint("10.0.0.2", 9001)),
        ("web-1:9000", Endpoint("10.0.0.3", 9000)),
        ("[web-1]:9001", Endpoint("10.0.0.3", 9001)),
    ],
)
def test_reach_finds_the_instance_that_advertises_an_address(address: str, expected: Endpoint) -> None:
    assert _Advertising(DRIVER).reach(address) == expected


@pytest.mark.parametrize("address", ["web-2:9001", "web-0:9002", "10.0.0.2:9001", "0.0.0.0:9001", "web-0", "web-0:main"])
def test_reach_refuses_what_no_instance_advertises_naming_what_they_do(address: str) -> None:
    with pytest.raises(KeyError) as error:
        _Advertising(DRIVER).reach(address)
    message = str(error.value)
    assert repr(address) in message and "cell 'c'" in message
    assert "web-0 main: web-0:9001" in message and "web-1 admin: web-1:9000" in message

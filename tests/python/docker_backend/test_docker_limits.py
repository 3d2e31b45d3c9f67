"""Per-instance limits: from the role and the environment, and as the engine applies them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import docker
import docker.errors
import pytest

from compat_core.errors import BackendError, SettingError
from compat_core.limits import CpuLimits
from compat_matrix.backends.docker import DockerBackend
from compat_matrix.backends.docker_container import (
    DockerOptions,
)
from compat_matrix.backends.docker_limits import memory_for_role
from compat_matrix.testing import replace_role
from docker_backend import fakes
from docker_backend.fakes import SYSTEM


def test_limits_come_from_the_environment() -> None:
    assert DockerOptions.from_env({}) == DockerOptions()
    options = DockerOptions.from_env({"COMPAT_MATRIX_DOCKER_MEMORY": "2g", "COMPAT_MATRIX_DOCKER_PIDS": "64"})
    assert (options.mem_limit, options.pids_limit) == ("2g", 64)
    with pytest.raises(SettingError, match="COMPAT_MATRIX_DOCKER_PIDS='many' is not a whole number"):
        DockerOptions.from_env({"COMPAT_MATRIX_DOCKER_PIDS": "many"})

def test_cpu_limits_come_from_the_role_and_the_environment() -> None:
    web, peer = SYSTEM.roles["web"], SYSTEM.roles["peer"]
    declared = replace(web, cpus=0.5)
    assert CpuLimits().for_role(web) == 1.0
    assert CpuLimits().for_role(declared) == 0.5
    assert CpuLimits().for_role(replace(web, cpus=8), host_cpus=2) == 2.0
    options = DockerOptions.from_env({"COMPAT_MATRIX_DOCKER_CPUS": "1.5,web=0.25"})
    assert options.cpu_limits.for_role(declared) == 0.25
    assert options.cpu_limits.for_role(peer) == 1.5
    assert DockerOptions.from_env({"COMPAT_MATRIX_DOCKER_CPUS": "2"}).cpu_limits.for_role(declared) == 2.0
    for bad in ("lots", "0", "-1", "web=", "nan"):
        with pytest.raises(SettingError, match="COMPAT_MATRIX_DOCKER_CPUS="):
            DockerOptions.from_env({"COMPAT_MATRIX_DOCKER_CPUS": bad})


def test_a_role_cpu_limit_reaches_the_container(client: docker.DockerClient, image: str, tmp_path: Path) -> None:
    system = replace_role(SYSTEM, "web", cpus=0.5)
    deployment = DockerBackend(options=DockerOptions()).start(
        fakes.plan({"web": 1}, image, system=system), tmp_path, tmp_path / "w"
    )
    try:
        attrs = client.containers.get(fakes.containers(client, deployment)["web-0"]).attrs
        assert attrs["HostConfig"]["NanoCpus"] == 5 * 10**8
    finally:
        deployment.stop()


def test_a_roles_own_memory_wins_over_the_environments() -> None:
    web = SYSTEM.roles["web"]
    assert memory_for_role(web, DockerOptions().mem_limit)[0] == "1g"
    assert memory_for_role(web, DockerOptions.from_env({"COMPAT_MATRIX_DOCKER_MEMORY": "2g"}).mem_limit)[0] == "2g"
    limit, source = memory_for_role(replace(web, memory="512m"), "2g")
    assert limit == "512m" and "role 'web'" in source
    assert memory_for_role(replace(web, memory="4g"), "2g")[0] == "4g"  # more than the default too


def test_a_roles_memory_limit_reaches_its_container_and_an_instance_over_it_is_reported(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    # Regression (issue 24): compat_role(memory=...) was declared, validated and documented, and
    # every container got the environment's 1g whatever the role said.
    system = replace_role(SYSTEM, "web", memory="256m")
    deployment = DockerBackend(options=DockerOptions()).start(
        fakes.plan({"web": 1}, image, system=system), tmp_path / "a", tmp_path / "w"
    )
    try:
        host = client.containers.get(fakes.containers(client, deployment)["web-0"]).attrs["HostConfig"]
        assert host["Memory"] == host["MemorySwap"] == 256 * 1024**2
    finally:
        deployment.stop()
    # Over its limit, the instance is killed by the kernel, and the failure says so and why.
    web = SYSTEM.roles["web"]
    hungry = replace_role(SYSTEM, "web", memory="48m", args=web.args + ("--hog", "400"))
    with pytest.raises(BackendError) as info:
        DockerBackend(options=DockerOptions()).start(
            fakes.plan({"web": 1}, image, system=hungry), tmp_path / "a", tmp_path / "w2"
        )
    message = str(info.value)
    assert "web-0 was killed by the kernel's OOM killer" in message, message
    assert "memory limit 48m (role 'web''s memory='48m')" in message, message

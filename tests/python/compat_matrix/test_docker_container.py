"""The container spec, pure: how the docker backend confines a role's container, without an engine."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from compat_core.images import CONTAINER_BYTECODE, CONTAINER_SOURCES
from compat_core.limits import CpuLimits
from compat_core.model import Command, Probe
from compat_matrix.backends.common import RUN_SCRIPT
from compat_matrix.backends.docker_container import (
    CONTAINER_DATA_DIR,
    CONTAINER_SHARED_DIR,
    ROLE_VENV,
    DockerOptions,
    container_ports,
    container_spec,
    host_path,
    host_paths,
)
from compat_matrix.testing import fake_plan, fake_role

TCP = Probe("tcp", "main", timeout=5.0, interval=0.1)
WEB = fake_role("web", ("--port", "{port[main]}"), TCP, ports=("main", "admin"))


def _spec(role: Any = WEB, **changes: Any) -> dict[str, Any]:
    instance = fake_plan("all-branch", [("web", 1)]).instances[0]
    arguments: dict[str, Any] = dict(
        image="fake/web:abc",
        name="net-web-0",
        args=("web", "--port", "8000"),
        env={"GREETING": "hi", "HOME": "/elsewhere"},
        labels={"compat-matrix.instance": "web-0"},
        network="net",
        options=DockerOptions(),
        user="10001:10001",
        data_dir=Path("/work/web-0/data"),
        shared_dir=Path("/work/shared"),
    )
    arguments.update(changes)
    return container_spec(instance, role, **arguments)


def test_every_container_is_hardened() -> None:
    spec = _spec()
    assert spec["user"] == "10001:10001"
    assert spec["cap_drop"] == ["ALL"] and spec["security_opt"] == ["no-new-privileges"]
    assert spec["read_only"] is True and spec["init"] is True and spec["auto_remove"] is False
    assert spec["mem_limit"] == spec["memswap_limit"] == "1g"  # no swap beyond the limit
    assert spec["pids_limit"] == 1024 and spec["nano_cpus"] == 10**9
    assert spec["tmpfs"]["/tmp"] == DockerOptions().tmpfs_options
    assert spec["hostname"] == "web-0" and spec["name"] == "net-web-0" and spec["network"] == "net"
    assert spec["labels"] == {"compat-matrix.instance": "web-0"}


def test_the_role_runs_in_the_venvs_interpreter_with_its_rendered_args_and_env() -> None:
    spec = _spec()
    assert spec["entrypoint"] == list(ROLE_VENV.argv()) and "-u" in spec["entrypoint"]
    assert spec["command"] == ["web", "--port", "8000"]
    # The role's environment wins over the defaults; the PEX variable names its command.
    assert spec["environment"] == {"HOME": "/elsewhere", "PYTHONUNBUFFERED": "1", "PEX_MODULE": "fake", "GREETING": "hi"}
    script = dataclasses.replace(WEB, command=Command("script", "fake-role"))
    spec = _spec(script)
    assert spec["command"] == ["-c", RUN_SCRIPT, "fake-role", "web", "--port", "8000"]
    assert spec["environment"]["PEX_INTERPRETER"] == "1" and "PEX_MODULE" not in spec["environment"]


def test_data_and_shared_dirs_are_bind_mounts_or_private_tmpfs() -> None:
    spec = _spec()
    assert spec["volumes"]["/work/web-0/data"] == {"bind": CONTAINER_DATA_DIR, "mode": "rw"}
    assert spec["volumes"]["/work/shared"] == {"bind": CONTAINER_SHARED_DIR, "mode": "rw"}
    assert CONTAINER_DATA_DIR not in spec["tmpfs"]
    private = _spec(data_dir=None)  # persist_data=False: nothing of the host is mounted
    assert {CONTAINER_DATA_DIR, CONTAINER_SHARED_DIR} <= set(private["tmpfs"])
    assert "/work/shared" not in private["volumes"]


def test_bytecode_comes_from_the_images_volume_read_only_once_it_is_filled() -> None:
    filling = _spec()
    assert CONTAINER_BYTECODE in filling["tmpfs"]  # a tmpfs of its own: nothing it writes is shared
    assert not [v for v in filling["volumes"].values() if v["bind"] == CONTAINER_BYTECODE]
    filled = _spec(bytecode_volume="bytecode-abc")
    assert filled["volumes"]["bytecode-abc"] == {"bind": CONTAINER_BYTECODE, "mode": "ro"}
    # The branch's sources are not in the image's volume: their bytecode goes to a tmpfs.
    assert CONTAINER_BYTECODE + CONTAINER_SOURCES in filled["tmpfs"] and CONTAINER_BYTECODE not in filled["tmpfs"]


def test_a_branch_roles_sources_are_mounted_read_only_where_its_image_would_hold_them() -> None:
    assert not [v for v in _spec()["volumes"].values() if v["bind"] == CONTAINER_SOURCES]
    mounted = _spec(sources_dir=Path("/sandbox/compat/src-branch-web"), bytecode_volume="bytecode-abc")
    assert mounted["volumes"]["/sandbox/compat/src-branch-web"] == {"bind": CONTAINER_SOURCES, "mode": "ro"}
    # Their bytecode still goes to a tmpfs of the container's own, never to the shared volume.
    assert CONTAINER_BYTECODE + CONTAINER_SOURCES in mounted["tmpfs"]


def test_the_roles_limits_win_and_cpus_are_capped_by_the_engine() -> None:
    assert _spec(dataclasses.replace(WEB, memory="256m"))["mem_limit"] == "256m"
    assert _spec(options=DockerOptions(mem_limit="2g"))["mem_limit"] == "2g"
    assert _spec(dataclasses.replace(WEB, cpus=0.5))["nano_cpus"] == 5 * 10**8
    assert _spec(dataclasses.replace(WEB, cpus=8), host_cpus=2)["nano_cpus"] == 2 * 10**9
    options = DockerOptions(cpu_limits=CpuLimits.parse("web=0.25"), pids_limit=64)
    assert (_spec(options=options)["nano_cpus"], _spec(options=options)["pids_limit"]) == (25 * 10**7, 64)


def test_ports_are_fixed_from_8000_in_declaration_order() -> None:
    assert container_ports(WEB) == {"main": 8000, "admin": 8001}
    assert container_ports(dataclasses.replace(WEB, ports=())) == {}


def test_paths_inside_the_container_map_to_the_host_side_of_their_mounts() -> None:
    data, shared = Path("/h/data"), Path("/h/shared")
    assert host_path("web.log", data, shared) == data / "web.log"
    assert host_path(f"{CONTAINER_DATA_DIR}/a/b.txt", data, shared) == data / "a/b.txt"
    assert host_path(f"{CONTAINER_SHARED_DIR}/seed.txt", data, shared) == shared / "seed.txt"
    assert host_path("/etc/passwd", data, shared) is None
    assert host_paths({f"{CONTAINER_SHARED_DIR}/x": "1"}, data, shared) == {"/h/shared/x": "1"}


@pytest.mark.parametrize("bad", ["many", "1.5"])
def test_a_pids_limit_that_is_not_a_whole_number_names_the_fix(bad: str) -> None:
    from compat_core.errors import SettingError

    with pytest.raises(SettingError, match=f"COMPAT_MATRIX_DOCKER_PIDS={bad!r} is not a whole number above 0; set it to e.g. 1024"):
        DockerOptions.from_env({"COMPAT_MATRIX_DOCKER_PIDS": bad})

"""Suite validation: every error names the suite, the cell and the bad value, and says the fix."""

from __future__ import annotations

from dataclasses import replace

import pytest

from compat_matrix.errors import SuiteDeclarationError
from compat_matrix.model import CellSpec, Probe, Releases, RoleSpec, Suite, System, Topology
from compat_matrix.systems import known_systems, load_system
from compat_matrix.systems.conveyor import SYSTEM
from compat_matrix.validate import check_cell_name, validate_suite, validate_system

RELEASES = Releases(package="conveyor", pinned=("0.1.0", "0.2.0"), earliest="0.1.0")


def suite(
    topology: dict[str, object] | None = None,
    cells: dict[str, dict[str, object]] | None = None,
    **kwargs: object,
) -> Suite:
    topology = {"server": 1, "user-code": 1} if topology is None else topology
    cells = {"server-latest": {"server": "latest"}} if cells is None else cells
    return Suite(
        name=str(kwargs.pop("name", "backcompat")),
        topology=Topology(tuple(topology.items())),  # type: ignore[arg-type]
        cells=tuple(CellSpec(name, tuple(v.items())) for name, v in cells.items()),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def error(s: Suite, releases: Releases | None = RELEASES) -> str:
    with pytest.raises(SuiteDeclarationError) as e:
        validate_suite(s, SYSTEM, releases)
    return str(e.value)


def test_a_valid_backcompat_suite_passes() -> None:
    validate_suite(
        suite(
            cells={
                "server-latest": {"server": "latest"},
                "server-earliest": {"server": "earliest"},
                "user-code-latest": {"user-code": "latest"},
                "user-code-earliest": {"user-code": "earliest"},
                "pinned": {"server": "0.1.0", "user-code": "0.2.0"},
                "all-branch": {},
                "explicit-branch": {"server": "branch"},
            },
            system="conveyor",
            backends=("process", "docker"),
        ),
        SYSTEM,
        RELEASES,
    )


def test_a_valid_distributed_suite_passes() -> None:
    validate_suite(
        suite(
            topology={"scheduler": 1, "worker": 2, "user-code": 1, "server": 1},
            cells={"workers-earliest": {"worker": "earliest"}},
        ),
        SYSTEM,
        RELEASES,
    )


def test_user_code_without_a_scheduler_is_fine() -> None:
    # user-code depends_on scheduler/worker only for ordering; it runs jobs in-process without them.
    validate_suite(suite(topology={"user-code": 1}, cells={"c": {}}), SYSTEM, RELEASES)


# --- topology ------------------------------------------------------------------------------------


def test_unknown_role_in_topology_lists_the_known_roles() -> None:
    message = error(suite(topology={"server": 1, "usercode": 1}))
    assert "suite 'backcompat'" in message
    assert "unknown role 'usercode'" in message
    assert "scheduler, server, user-code, worker" in message


@pytest.mark.parametrize("count", [0, -1])
def test_count_below_one(count: int) -> None:
    message = error(suite(topology={"server": 1, "user-code": count}))
    assert f"count for role 'user-code' is {count}" in message
    assert ">= 1" in message


@pytest.mark.parametrize("count", ["2", 1.5, True, None])
def test_count_not_an_int(count: object) -> None:
    message = error(suite(topology={"server": 1, "user-code": count}))
    assert f"count for role 'user-code' is {count!r}" in message
    assert "integer" in message


def test_empty_topology() -> None:
    message = error(suite(topology={}, cells={"c": {}}))
    assert "topology is empty" in message
    assert "suite 'backcompat'" in message


def test_role_twice_in_topology() -> None:
    s = Suite("backcompat", Topology((("server", 1), ("user-code", 1), ("server", 2))), (CellSpec("c"),))
    assert "names role 'server' twice" in error(s)


def test_required_role_missing_from_topology() -> None:
    message = error(suite(topology={"worker": 2}, cells={"c": {}}))
    assert "role 'worker', which requires role 'scheduler'" in message
    assert "add 'scheduler' to the topology" in message
    message = error(suite(topology={"server": 1}, cells={"c": {}}))
    assert "requires role 'user-code'" in message


# --- cells ---------------------------------------------------------------------------------------


def test_no_cells() -> None:
    message = error(suite(cells={}))
    assert "suite 'backcompat': has no cells" in message


def test_duplicate_cell_names() -> None:
    s = replace(suite(), cells=(CellSpec("same", (("server", "latest"),)), CellSpec("same")))
    message = error(s)
    assert "cell name 'same' is declared twice" in message


def test_unknown_role_in_a_cell() -> None:
    message = error(suite(cells={"srv-latest": {"srv": "latest"}}))
    assert "suite 'backcompat', cell 'srv-latest'" in message
    assert "unknown role 'srv'" in message
    assert "scheduler, server, user-code, worker" in message


def test_cell_names_a_role_absent_from_the_topology() -> None:
    message = error(suite(cells={"workers-earliest": {"worker": "earliest"}}))
    assert "cell 'workers-earliest'" in message
    assert "role 'worker', which the suite's topology does not run" in message
    assert "add 'worker' to the topology or drop it from the cell" in message


def test_cell_names_a_role_twice() -> None:
    s = replace(suite(), cells=(CellSpec("c", (("server", "latest"), ("server", "earliest"))),))
    assert "names role 'server' twice" in error(s)


@pytest.mark.parametrize("version", ["0.1", "v0.2.0", "newest", "", "0.2.0rc1"])
def test_bad_version_string(version: str) -> None:
    message = error(suite(cells={"c": {"server": version}}))
    assert "suite 'backcompat', cell 'c', role 'server'" in message
    assert repr(version) in message
    assert "'branch', 'earliest', 'latest' or a pinned release X.Y.Z" in message


def test_version_not_a_string() -> None:
    message = error(suite(cells={"c": {"server": 1}}))
    assert "version 1 is not a string" in message


def test_unpinned_version_says_how_to_pin() -> None:
    message = error(suite(cells={"c": {"user-code": "0.3.0"}}))
    assert "cell 'c', role 'user-code'" in message
    assert "'0.3.0' is not a pinned release" in message
    assert "./pants generate-lockfiles --resolve=conveyor-0.3.0" in message


def test_without_releases_only_the_form_is_checked() -> None:
    validate_suite(suite(cells={"a": {"server": "latest"}, "b": {"server": "9.9.9"}}), SYSTEM, None)
    assert "'0.1'" in error(suite(cells={"c": {"server": "0.1"}}), releases=None)


@pytest.mark.parametrize(
    "name", ["Server-latest", "server_latest", "-server", ".x", "", "a b", "not", "and", "or", "cell/x", "é"]
)
def test_invalid_cell_names(name: str) -> None:
    message = error(suite(cells={name: {}}))
    assert f"invalid cell name {name!r}" in message
    assert "suite 'backcompat'" in message
    assert "Pants tags and pytest markers" in message


def test_non_string_cell_name() -> None:
    with pytest.raises(SuiteDeclarationError, match="invalid cell name 3"):
        check_cell_name(3, "s")


@pytest.mark.parametrize("name", ["server-latest", "server-0.1.0-user-code-0.2.0", "all-branch", "0", "notable"])
def test_valid_cell_names(name: str) -> None:
    check_cell_name(name, "s")


# --- suite-level ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Backcompat", "back compat", "", "-x", "back_compat"])
def test_invalid_suite_name(name: str) -> None:
    assert f"invalid suite name {name!r}" in error(suite(name=name))


def test_unknown_backend() -> None:
    message = error(suite(backends=("process", "kubernetes")))
    assert "unknown backend 'kubernetes'" in message
    assert "process, docker" in message


def test_backend_twice() -> None:
    assert "backend 'docker' is listed twice" in error(suite(backends=("docker", "docker")))


def test_suite_for_another_system() -> None:
    assert "declared for system 'ipython'" in error(suite(system="ipython"))


# --- the role catalog ----------------------------------------------------------------------------


def role(name: str, **kwargs: object) -> RoleSpec:
    fields: dict[str, object] = {
        "args": (name, "--port", "{port[p]}"),
        "ports": ("p",),
        "readiness": Probe(kind="tcp", port="p"),
    }
    fields.update(kwargs)
    return RoleSpec(name=name, **fields)  # type: ignore[arg-type]


def system_error(*roles: RoleSpec) -> str:
    with pytest.raises(SuiteDeclarationError) as e:
        validate_system(System(name="toy", package="toy", roles={r.name: r for r in roles}))
    return str(e.value)


def test_the_conveyor_catalog_is_consistent() -> None:
    validate_system(SYSTEM)


def test_catalog_unknown_role_in_depends_on_requires_or_args_if_present() -> None:
    assert "depends_on names unknown role 'b'" in system_error(role("a", depends_on=("b",)))
    assert "requires names unknown role 'b'" in system_error(role("a", requires=("b",)))
    assert "args_if_present names unknown role 'b'" in system_error(role("a", args_if_present={"b": ("x",)}))


def test_catalog_probe_on_an_undeclared_port() -> None:
    message = system_error(role("a", readiness=Probe(kind="http", port="web")))
    assert "port 'web'" in message


def test_catalog_address_of_a_role_that_is_not_required() -> None:
    message = system_error(role("a", args=("a", "{address[b]}")), role("b"))
    assert "{address[b]}" in message and "'requires' does not include 'b'" in message
    validate_system(System("toy", "toy", {"a": role("a", args=("a", "{address[b]}"), requires=("b",)), "b": role("b")}))


@pytest.mark.parametrize("cpus", [0, -1, True, "2", float("nan")])
def test_catalog_cpu_limit_must_be_a_positive_number(cpus: object) -> None:
    assert f"cpus={cpus!r} must be a number of CPUs above 0" in system_error(role("a", cpus=cpus))


def test_catalog_cpu_limit_may_be_declared() -> None:
    validate_system(System("toy", "toy", {"a": role("a", cpus=0.5), "b": role("b", cpus=2)}))


def test_catalog_cycle() -> None:
    message = system_error(role("a", depends_on=("b",)), role("b", depends_on=("c",)), role("c", depends_on=("a",)))
    assert "cycle: a -> b -> c -> a" in message


def test_catalog_key_must_match_the_role_name() -> None:
    with pytest.raises(SuiteDeclarationError, match="RoleSpec.name is 'b'"):
        validate_system(System("toy", "toy", {"a": role("b")}))


# --- systems -------------------------------------------------------------------------------------


def test_load_system() -> None:
    assert load_system("conveyor") is SYSTEM
    assert "conveyor" in known_systems()


@pytest.mark.parametrize("name", ["nope", "os.path", "../conveyor", "", "Conveyor"])
def test_load_unknown_system(name: str) -> None:
    with pytest.raises(SuiteDeclarationError) as e:
        load_system(name)
    assert f"unknown system {name!r}" in str(e.value)
    assert "known systems: conveyor" in str(e.value)


def test_conveyor_roles_render_the_cli_contract() -> None:
    # The args are str.format templates; render them as a backend would, to pin the contract.
    context = {
        "host": "127.0.0.1",
        "port": {"http": 8080, "grpc": 4000, "dask": 8786},
        "address": {"scheduler": "127.0.0.1:8786", "user-code": "127.0.0.1:4000"},
        "name": "worker-1",
        "data_dir": "/tmp/d",
    }

    def render(role: str, *present: str) -> str:
        spec = SYSTEM.roles[role]
        args = list(spec.args)
        for other in present:
            args += spec.args_if_present.get(other, ())
        return " ".join(arg.format(**context) for arg in args)

    assert render("server") == "server --host 127.0.0.1 --port 8080 --code-server 127.0.0.1:4000 --db /tmp/d/runs.db"
    assert render("user-code") == "code-server --host 127.0.0.1 --port 4000"
    assert render("user-code", "scheduler") == (
        "code-server --host 127.0.0.1 --port 4000 --dask-scheduler tcp://127.0.0.1:8786"
    )
    assert render("scheduler") == "scheduler --host 127.0.0.1 --port 8786"
    assert render("worker") == (
        "worker --scheduler tcp://127.0.0.1:8786 --host 127.0.0.1 --port 8786 --name worker-1"
    )
    assert SYSTEM.roles["server"].readiness == Probe(kind="http", port="http", path="/health")
    assert SYSTEM.roles["user-code"].readiness.kind == "grpc-health"
    assert SYSTEM.roles["worker"].readiness.kind == SYSTEM.roles["scheduler"].readiness.kind == "tcp"

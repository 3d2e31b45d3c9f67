"""The BUILD-file vocabulary: values become the model, mistakes become messages naming value and fix."""

from __future__ import annotations

import sys
import types
from typing import Any
from unittest import mock

import pytest

from compat_core import declare, ipyparallel
from compat_core.build_objects import BUILD_FILE_OBJECTS
from compat_core.declare import (
    command_probe,
    compat_cell,
    compat_role,
    grpc_health_probe,
    http_probe,
    log_probe,
    tcp_probe,
)
from compat_core.errors import CompatMatrixError, SuiteDeclarationError
from compat_core.ipyparallel import (
    IPYPARALLEL_DEAD_ENGINE,
    IPYPARALLEL_SILENCE,
    ipyparallel_client_file,
    ipyparallel_roles,
)
from compat_core.model import CellSpec, Command, Probe, RoleSpec, Topology
from compat_core.parse import parse_cells, parse_releases, parse_roles, parse_topology
from compat_core.validate_suite import MAX_INSTANCES_PER_ROLE
from compat_core_tests.expect import expect_error

WHERE = "x/BUILD, target x:y"


# --- probes ------------------------------------------------------------------------------------


def test_probes_build_their_kind_with_defaults() -> None:
    assert http_probe("http") == Probe(kind="http", port="http", path="/")
    assert http_probe("http", "/health", timeout=5, interval=0.5) == Probe(
        kind="http", port="http", path="/health", timeout=5, interval=0.5
    )
    assert grpc_health_probe("grpc") == Probe(kind="grpc-health", port="grpc", service="")
    assert grpc_health_probe("grpc", "conveyor.Jobs").service == "conveyor.Jobs"
    assert tcp_probe("dask") == Probe(kind="tcp", port="dask")
    assert log_probe("ready on .*") == Probe(kind="log", pattern="ready on .*")
    assert command_probe(["pkg.check", "{shared_dir}"]) == Probe(kind="command", args=("pkg.check", "{shared_dir}"))
    probe = tcp_probe("dask")
    assert (probe.timeout, probe.interval) == (60.0, 0.1)


def test_http_probe_path_must_start_with_slash() -> None:
    with expect_error(SuiteDeclarationError, "path='health'", "must start with '/'", '"/health"'):
        http_probe("http", "health")


@pytest.mark.parametrize("port", [8080, None, ["http"]])
def test_probe_port_must_be_a_port_name(port: object) -> None:
    with expect_error(SuiteDeclarationError, f"port={port!r}", "name of one of the role's ports"):
        tcp_probe(port)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -1, True, "5", 0.0])
@pytest.mark.parametrize("key", ["timeout", "interval"])
def test_probe_timeout_and_interval_are_positive_seconds(key: str, bad: Any) -> None:
    with expect_error(SuiteDeclarationError, f"{key}={bad!r}", "number of seconds > 0"):
        http_probe("http", "/", **{key: bad})


def test_grpc_probe_service_is_a_string() -> None:
    with expect_error(SuiteDeclarationError, "service=5", "must be a string"):
        grpc_health_probe("grpc", 5)  # type: ignore[arg-type]


@pytest.mark.parametrize("pattern", ["", None, 5])
def test_log_probe_needs_a_pattern(pattern: object) -> None:
    with expect_error(SuiteDeclarationError, f"pattern={pattern!r}", "non-empty regex"):
        log_probe(pattern)  # type: ignore[arg-type]


@pytest.mark.parametrize("args", ["pkg.check", [1], None])
def test_command_probe_args_are_a_list_of_strings(args: object) -> None:
    with expect_error(SuiteDeclarationError, f"args={args!r}", "list of strings"):
        command_probe(args)  # type: ignore[arg-type]


# --- compat_role -------------------------------------------------------------------------------


def test_compat_role_builds_a_role_spec_of_tuples() -> None:
    spec = compat_role(
        "worker",
        script="dask-worker",
        args=["--name", "{name}"],
        ports=["dask"],
        readiness=tcp_probe("dask"),
        env={"A": "{host}"},
        files={"{data_dir}/cfg": "x"},
        depends_on=["scheduler"],
        requires=["scheduler"],
        args_if_present={"scheduler": ["--scheduler", "{address[scheduler]}"]},
        log_files=["{data_dir}/log"],
        cpus=2,
        memory="512m",
        branch_sources=["src/worker"],
    )
    assert spec == RoleSpec(
        name="worker",
        command=Command("script", "dask-worker"),
        readiness=Probe(kind="tcp", port="dask"),
        args=("--name", "{name}"),
        ports=("dask",),
        env=(("A", "{host}"),),
        files=(("{data_dir}/cfg", "x"),),
        depends_on=("scheduler",),
        requires=("scheduler",),
        args_if_present=(("scheduler", ("--scheduler", "{address[scheduler]}")),),
        log_files=("{data_dir}/log",),
        cpus=2.0,
        memory="512m",
        branch_sources=("src/worker",),
    )
    assert isinstance(spec.cpus, float)
    hash(spec)  # Pants hashes field values


def test_compat_role_commands() -> None:
    module = compat_role("s", module="pkg.cli:main", readiness=log_probe("up"))
    script = compat_role("s", script="dagster-webserver", readiness=log_probe("up"))
    assert module.command == Command("module", "pkg.cli:main")
    assert module.command.describe() == "python -c 'import sys, pkg.cli; sys.exit(pkg.cli.main())'"
    assert module.command.pex_variable == "PEX_MODULE"
    assert script.command.describe() == "dagster-webserver"
    assert script.command.pex_variable == "PEX_SCRIPT"
    assert Command("module", "pkg.cli").describe() == "python -m pkg.cli"


def test_a_module_command_runs_its_entry_point_as_a_pex_does() -> None:
    # Regression: compat-plan printed `python -m pkg.cli:main`, which no Python runs. The -c code it
    # prints now calls the function and exits with its result (PEX_MODULE=pkg.cli:main does the same).
    argv = Command("module", "pkg.cli:app.main").argv()
    assert argv[:2] == ("python", "-c")
    calls: list[str] = []

    def main() -> int:
        calls.append("main")
        return 3

    pkg, cli = types.ModuleType("pkg"), types.ModuleType("pkg.cli")
    cli.app = types.SimpleNamespace(main=main)  # type: ignore[attr-defined]
    pkg.cli = cli  # type: ignore[attr-defined]
    with mock.patch.dict(sys.modules, {"pkg": pkg, "pkg.cli": cli}), pytest.raises(SystemExit) as exited:
        exec(compile(argv[2], "<command>", "exec"), {})
    assert (calls, exited.value.code) == (["main"], 3)


def test_compat_role_name_must_be_a_string() -> None:
    with expect_error(SuiteDeclarationError, "name=5", '"server"'):
        compat_role(5, module="m", readiness=log_probe("x"))  # type: ignore[arg-type]


def test_compat_role_needs_exactly_one_command() -> None:
    with expect_error(SuiteDeclarationError, "compat_role('s')", "exactly one of", "script=None, module=None"):
        compat_role("s", readiness=log_probe("x"))
    with expect_error(SuiteDeclarationError, "exactly one of", "script='a', module='b'"):
        compat_role("s", script="a", module="b", readiness=log_probe("x"))


@pytest.mark.parametrize("command", [{"script": ""}, {"module": "  "}, {"script": 5}, {"module": 5}, {"module": ["m"]}])
def test_compat_role_command_is_a_non_empty_string(command: dict) -> None:
    value = next(iter(command.values()))
    with expect_error(SuiteDeclarationError, "compat_role('s')", repr(value), "non-empty string"):
        compat_role("s", readiness=log_probe("x"), **command)


def test_compat_role_needs_a_readiness_probe() -> None:
    with expect_error(SuiteDeclarationError, "compat_role('s')", "no readiness", "http_probe(", "log_probe("):
        compat_role("s", module="m")
    with expect_error(SuiteDeclarationError, "readiness='/health'", "*_probe(...)"):
        compat_role("s", module="m", readiness="/health")  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["args", "ports", "depends_on", "requires", "log_files", "branch_sources"])
@pytest.mark.parametrize("value", ["a b", ["a", 1], 5])
def test_compat_role_list_fields_are_lists_of_strings(field: str, value: Any) -> None:
    with expect_error(SuiteDeclarationError, "compat_role('s')", f"{field}={value!r}", "list of strings"):
        compat_role("s", module="m", readiness=log_probe("x"), **{field: value})


def test_a_renamed_argument_names_the_one_to_write() -> None:
    with expect_error(SuiteDeclarationError, "compat_role('s')", "no argument branch=", "write branch_sources=[...]"):
        compat_role("s", module="m", readiness=log_probe("x"), branch=["src/s"])
    with expect_error(SuiteDeclarationError, "ipyparallel_roles", "engine_branch=", "write engine_branch_sources=[...]"):
        ipyparallel_roles(engine_branch=["x:engine"])


def test_an_unknown_argument_lists_the_arguments_taken() -> None:
    with expect_error(SuiteDeclarationError, "compat_role('s')", "unknown argument(s) brnch", "branch_sources", "readiness"):
        compat_role("s", module="m", readiness=log_probe("x"), brnch=["src/s"])


@pytest.mark.parametrize("field", ["env", "files"])
@pytest.mark.parametrize("value", [["A=1"], {"A": 1}, {1: "a"}])
def test_compat_role_dict_fields_map_strings_to_strings(field: str, value: Any) -> None:
    with expect_error(SuiteDeclarationError, f"{field}={value!r}", "dict of strings to strings"):
        compat_role("s", module="m", readiness=log_probe("x"), **{field: value})


def test_compat_role_args_if_present_is_a_dict_of_lists() -> None:
    with expect_error(SuiteDeclarationError, "args_if_present must be a dict"):
        compat_role("s", module="m", readiness=log_probe("x"), args_if_present=["scheduler"])  # type: ignore[arg-type]
    with expect_error(SuiteDeclarationError, "args_if_present['scheduler']='--x'", "list of strings"):
        compat_role("s", module="m", readiness=log_probe("x"), args_if_present={"scheduler": "--x"})  # type: ignore[dict-item]


@pytest.mark.parametrize("cpus", ["2", True, [1]])
def test_compat_role_cpus_is_a_number(cpus: object) -> None:
    with expect_error(SuiteDeclarationError, f"cpus={cpus!r}", "e.g. 0.5"):
        compat_role("s", module="m", readiness=log_probe("x"), cpus=cpus)  # type: ignore[arg-type]


# --- compat_cell, parse_cells ------------------------------------------------------------------


def test_compat_cell() -> None:
    assert compat_cell("all-branch") == CellSpec("all-branch", ())
    cell = compat_cell("server-latest", {"server": "latest"})
    assert cell == CellSpec("server-latest", (("server", "latest"),))
    assert cell.version_of("server") == "latest"
    assert cell.version_of("user-code") == "branch"


def test_compat_cell_name_must_be_a_string() -> None:
    with expect_error(SuiteDeclarationError, "name=None", '"server-latest"'):
        compat_cell(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("versions", [["server", "latest"], {1: "latest"}, "latest"])
def test_compat_cell_versions_is_a_dict_of_roles(versions: object) -> None:
    with expect_error(SuiteDeclarationError, "compat_cell('c')", f"versions={versions!r}", '{"server": "latest"}'):
        compat_cell("c", versions)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [0.1, 1, None, ("0.1.0",)])
def test_compat_cell_version_must_be_a_string(version: object) -> None:
    with expect_error(SuiteDeclarationError, "compat_cell('c')", "role 'server'", repr(version), 'in quotes, e.g. "0.1.0"'):
        compat_cell("c", {"server": version})  # type: ignore[dict-item]


def test_parse_cells_keeps_declaration_order() -> None:
    cells = [compat_cell("b"), compat_cell("a", {"server": "latest"})]
    assert parse_cells(cells, WHERE) == tuple(cells)


def test_parse_cells_rejects_a_dict() -> None:
    with expect_error(SuiteDeclarationError, WHERE, "not a dict", "compat_cell(name"):
        parse_cells({"a": {"server": "latest"}}, WHERE)


@pytest.mark.parametrize("value", ["a", ["a"], [compat_cell("a"), "b"], None])
def test_parse_cells_needs_compat_cells(value: object) -> None:
    with expect_error(SuiteDeclarationError, WHERE, f"cells={value!r}", "list of compat_cell(...)"):
        parse_cells(value, WHERE)


def test_parse_cells_rejects_a_repeated_name() -> None:
    with expect_error(SuiteDeclarationError, WHERE, "cell 'a' is declared twice", "unique name"):
        parse_cells([compat_cell("a"), compat_cell("b"), compat_cell("a", {"server": "latest"})], WHERE)


# --- parse_topology, parse_roles ---------------------------------------------------------------


def test_parse_topology_keeps_order() -> None:
    assert parse_topology({"scheduler": 1, "worker": 2}, WHERE) == Topology((("scheduler", 1), ("worker", 2)))
    assert parse_topology({"scheduler": 1, "worker": 2}, WHERE).roles() == ("scheduler", "worker")


@pytest.mark.parametrize("value", [{}, [("server", 1)], None, "server"])
def test_parse_topology_is_a_non_empty_dict(value: object) -> None:
    with expect_error(SuiteDeclarationError, WHERE, f"topology={value!r}", '{"server": 1}'):
        parse_topology(value, WHERE)


def test_parse_topology_caps_the_count() -> None:
    # Regression: {"worker": 10000} was accepted, and its plan listed 10000 instances.
    assert parse_topology({"worker": MAX_INSTANCES_PER_ROLE}, WHERE).counts == (("worker", MAX_INSTANCES_PER_ROLE),)
    with expect_error(SuiteDeclarationError, WHERE, "role 'worker' 10000 instances", f"the cap is {MAX_INSTANCES_PER_ROLE} per role"):
        parse_topology({"worker": 10000}, WHERE)


@pytest.mark.parametrize("count", [0, -1, True, "1", 1.5, None])
def test_parse_topology_counts_are_integers_from_one(count: object) -> None:
    with expect_error(SuiteDeclarationError, WHERE, "role 'worker'", f"count {count!r}", "integer >= 1"):
        parse_topology({"worker": count}, WHERE)


def test_parse_topology_roles_are_strings() -> None:
    with expect_error(SuiteDeclarationError, "topology role 1 must be a string"):
        parse_topology({1: 1}, WHERE)


@pytest.mark.parametrize("value", [[], None, ["server"], (compat_role("s", module="m", readiness=log_probe("x")), "x")])
def test_parse_roles_needs_compat_roles(value: object) -> None:
    with expect_error(SuiteDeclarationError, WHERE, "non-empty list of compat_role(...)", repr(value)):
        parse_roles(value, WHERE)


# --- parse_releases ----------------------------------------------------------------------------


def test_parse_releases_from_a_list() -> None:
    releases = parse_releases("conveyor", ["0.1.0", "0.2.0"], "0.1.0")
    assert releases.package == "conveyor"
    assert releases.pinned == ("0.1.0", "0.2.0")
    assert releases.earliest == "0.1.0"
    assert releases.latest == "0.2.0"
    assert releases.requirements_of("0.2.0") == ("conveyor==0.2.0",)
    assert releases.resolve_of("0.1.0") == "conveyor-0.1.0"
    assert releases.requirements_of("9.9.9") == ()
    assert releases.resolve_of("9.9.9") == ""


def test_parse_releases_latest_is_by_version_not_by_text_or_order() -> None:
    assert parse_releases("s", ["0.10.0", "0.9.0", "0.2.0"], "0.2.0").latest == "0.10.0"


def test_latest_is_never_the_release_that_plays_branch() -> None:
    # Regression: with dagster's branch_release the newest pin, `latest` cells ran the branch's own
    # artifacts on both sides (webserver-latest was 1.13.28 against branch 1.13.28).
    pins = ["1.11.16", "1.13.27", "1.13.28"]
    assert parse_releases("dagster", pins, "1.11.16", branch_release="1.13.28").latest == "1.13.27"
    assert parse_releases("dagster", pins, "1.11.16").latest == "1.13.28"
    assert parse_releases("one", ["1.0.0"], "1.0.0", branch_release="1.0.0").latest == "1.0.0"


def test_parse_releases_requirement_templates_package_and_resolves() -> None:
    releases = parse_releases(
        "dagster",
        ["1.9.0", "1.10.0"],
        "1.9.0",
        requirements=["{system}=={version}", "dagster-webserver=={version}"],
        resolves={"1.10.0": "dagster-new"},
        package="dagster-core",
        index="https://example.invalid/simple",
    )
    assert releases.requirements_of("1.10.0") == ("dagster==1.10.0", "dagster-webserver==1.10.0")
    assert releases.resolves == (("1.9.0", "dagster-1.9.0"), ("1.10.0", "dagster-new"))
    assert releases.package == "dagster-core"
    assert releases.index == "https://example.invalid/simple"


def test_parse_releases_from_a_dict_of_requirements() -> None:
    releases = parse_releases("d", {"1.0.0": ["d==1.0.0", "extra==2"]}, "1.0.0")
    assert releases.requirements == (("1.0.0", ("d==1.0.0", "extra==2")),)


def test_parse_releases_leaves_a_malformed_version_to_validation() -> None:
    # Parsing keeps what was written; validate_releases names it (test_validate).
    releases = parse_releases("s", ["01.2.3"], "01.2.3")
    assert releases.pinned == ("01.2.3",)
    assert releases.resolve_of("01.2.3") == ""


@pytest.mark.parametrize("value", ["0.1.0", 5, None])
def test_parse_releases_is_a_list_or_dict(value: object) -> None:
    with expect_error(SuiteDeclarationError, "compat_system(name='s')", f"releases={value!r}", '["0.1.0", ...]'):
        parse_releases("s", value, "0.1.0")


@pytest.mark.parametrize("version", [0.1, 1, None])
def test_parse_releases_versions_are_strings(version: object) -> None:
    with expect_error(SuiteDeclarationError, f"release {version!r} is not a string", 'e.g. "0.1.0"'):
        parse_releases("s", ["0.1.0", version], "0.1.0")


def test_parse_releases_earliest_is_a_string() -> None:
    with expect_error(SuiteDeclarationError, "earliest=0.1", 'e.g. "0.1.0"'):
        parse_releases("s", ["0.1.0"], 0.1)


def test_parse_releases_checks_requirements_and_resolves() -> None:
    with expect_error(SuiteDeclarationError, "release_requirements='s'", "list of strings"):
        parse_releases("s", ["0.1.0"], "0.1.0", requirements="s")
    with expect_error(SuiteDeclarationError, "releases['0.1.0']='s==0.1.0'", "list of strings"):
        parse_releases("s", {"0.1.0": "s==0.1.0"}, "0.1.0")
    with expect_error(SuiteDeclarationError, "release_resolves names '0.3.0'", "not a release"):
        parse_releases("s", ["0.1.0"], "0.1.0", resolves={"0.3.0": "s-new"})
    with expect_error(SuiteDeclarationError, "release_resolves=", "dict of strings to strings"):
        parse_releases("s", ["0.1.0"], "0.1.0", resolves={"0.1.0": 1})


def test_parse_releases_names_where() -> None:
    with expect_error(SuiteDeclarationError, WHERE):
        parse_releases("s", "0.1.0", "0.1.0", where=WHERE)


# --- what BUILD files see ----------------------------------------------------------------------


def test_build_file_objects_are_every_declaration_by_its_name() -> None:
    # A BUILD file calls each by the name it is defined with, and a new declaration function
    # (compat_* or *_probe) or shared role block (ipyparallel_*) is one BUILD files can call.
    assert all(obj.__name__ == name for name, obj in BUILD_FILE_OBJECTS.items())
    declared = [n for n in declare.__all__ if n.startswith("compat_") or n.endswith("_probe")]
    shared = [n for n in ipyparallel.__all__ if n.startswith("ipyparallel_")]
    assert sorted(BUILD_FILE_OBJECTS) == sorted(declared + shared)


def _flag(args: tuple[str, ...], name: str) -> float:
    [value] = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    return float(value)


# Regression (issue 24): under load, a starved engine registered and was never counted (ipyparallel's
# defaults: a 30 s registration timeout, an engine dropped after 10 missed beats).
def test_ipyparallel_roles_tolerate_a_starved_controller_or_engine() -> None:
    controller, engine = ipyparallel_roles("{shared_dir}/ipy", engine_branch_sources=["x:engine"], engine_timeout=90)
    assert (controller.name, engine.name) == ("ipy-controller", "ipy-engine")
    assert engine.depends_on == engine.requires == ("ipy-controller",)
    assert engine.branch_sources == ("x:engine",) and controller.branch_sources == ()
    assert "--profile-dir={shared_dir}/ipy" in controller.args
    assert "--file={shared_dir}/ipy/security/ipcontroller-engine.json" in engine.args
    assert engine.readiness.args == ("compat_probes.ipyparallel_ready", "engine", ipyparallel_client_file("{shared_dir}/ipy"), "{index}")
    assert ipyparallel_client_file("{shared_dir}/ipy") == "{shared_dir}/ipy/security/ipcontroller-client.json"
    assert engine.readiness.timeout == 90
    period = _flag(controller.args, "HeartMonitor.period") / 1000
    # The controller keeps a registration without a heartbeat that long, and a silent engine for
    # longer than its own default (10 beats) but not so long that a killed engine holds its tasks.
    assert _flag(controller.args, "IPController.registration_timeout") >= IPYPARALLEL_SILENCE
    misses = _flag(controller.args, "HeartMonitor.max_heartmonitor_misses")
    assert 10 * period < period * misses == IPYPARALLEL_DEAD_ENGINE < IPYPARALLEL_SILENCE
    # ... and an engine waits that long for the registration reply and for the controller's pings
    # (it checks every period + 0.5 s).
    assert _flag(engine.args, "IPEngine.timeout") >= IPYPARALLEL_SILENCE
    assert (period + 0.5) * _flag(engine.args, "IPEngine.max_heartbeat_misses") >= IPYPARALLEL_SILENCE
    # The harness waits for an engine no longer than the controller would keep it.
    _, default_engine = ipyparallel_roles()
    assert default_engine.readiness.timeout <= IPYPARALLEL_SILENCE


def test_every_declaration_error_is_a_compat_matrix_error() -> None:
    assert issubclass(SuiteDeclarationError, CompatMatrixError)

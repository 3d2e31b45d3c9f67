"""Validation: every rule the build and the harness share, each error naming the value and the fix."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from compat_core.contract import BACKENDS, RESERVED_TAGS
from compat_core.declare import command_probe, compat_cell, http_probe, log_probe, tcp_probe
from compat_core.errors import ReleaseError, SuiteDeclarationError
from compat_core.model import Command, Probe, Releases, Suite, System, Topology, UpgradeSpec
from compat_core.validate import validate_releases, validate_system
from compat_core.validate_names import check_cell_name, check_name, check_not_reserved, validate_repo_names
from compat_core.validate_suite import (
    MAX_INSTANCES_PER_ROLE,
    validate_backends,
    validate_cell,
    validate_suite,
    validate_topology,
)
from compat_core_tests.examples import BACKCOMPAT_CELLS, cluster, releases, role, suite, system_with
from compat_core_tests.expect import expect_error

# --- names -------------------------------------------------------------------------------------

VALID_NAMES = ["server", "user-code", "server-earliest", "a", "0", "conveyor.v2", "workers-0.1.0", "nota", "android"]
INVALID_NAMES = [
    "",
    "Server",
    "user_code",
    "café",  # non-ASCII: not a Pants tag or pytest marker everyone agrees on
    "-server",
    ".server",
    "server latest",
    "a/b",
    "a:b",
    "server\n",  # `$` alone would match before a final newline
    "not",
    "and",
    "or",
    None,
    5,
    b"server",
]


@pytest.mark.parametrize("name", VALID_NAMES)
@pytest.mark.parametrize("kind", ["cell", "suite", "system", "role"])
def test_valid_names(kind: str, name: str) -> None:
    check_name(kind, name)


@pytest.mark.parametrize("name", INVALID_NAMES)
@pytest.mark.parametrize("kind", ["cell", "suite", "system", "role"])
def test_invalid_names_name_the_value_and_the_rule(kind: str, name: object) -> None:
    with expect_error(SuiteDeclarationError, f"invalid {kind} name {name!r}", "lowercase ASCII", "e.g. 'server-earliest'"):
        check_name(kind, name, "somewhere")


def test_check_name_says_where() -> None:
    with expect_error(SuiteDeclarationError, "suite 'backcompat': invalid cell name 'not'"):
        check_cell_name("not", "backcompat")


@pytest.mark.parametrize("tag", RESERVED_TAGS)
def test_reserved_tags_cannot_be_names(tag: str) -> None:
    with expect_error(SuiteDeclarationError, "here:", f"cell name {tag!r}", f"--tag={tag}", "rename it"):
        check_not_reserved("cell", tag, (), "here")


def test_reserved_tags_include_the_backends_and_the_build_tags() -> None:
    assert {"matrix", "docker", "process", "artifact", "branch", "release"} <= set(RESERVED_TAGS)
    assert set(BACKENDS) <= set(RESERVED_TAGS)


def test_check_not_reserved_takes_more_names() -> None:
    check_not_reserved("cell", "server-latest", ("backcompat",), "here")
    with expect_error(SuiteDeclarationError, "cell name 'backcompat'"):
        check_not_reserved("cell", "backcompat", ("backcompat", "cluster"), "here")


# --- releases ----------------------------------------------------------------------------------


def test_validate_releases_accepts_pinned_releases() -> None:
    validate_releases(releases("s", ["0.1.0", "0.2.0", "10.20.30"], "0.2.0"), "s")
    # As PyPI names them: two-part and post releases, in any order.
    validate_releases(releases("s", ["6.2", "5.15", "1.4.post1", "2024.1"], "5.15"), "s")


@pytest.mark.parametrize(
    "version, why",
    [
        ("01.2.3", "write '1.2.3'"),
        ("v0.1.0", "write '0.1.0'"),
        ("0.1.0-post1", "write '0.1.0.post1'"),
        ("0.1.0 ", "write '0.1.0'"),
        ("0.1.0\n", "write '0.1.0'"),
        ("0.1.0rc1", "is a pre-release"),
        ("0.1.0.dev3", "is a development release"),
        ("1!0.1.0", "has an epoch"),
        ("0.1.0+local", "has a local version label"),
        ("branch", "is not a PEP 440 version"),
        ("latest", "is not a PEP 440 version"),
    ],
)
def test_release_versions_are_pep_440_final_releases(version: str, why: str) -> None:
    with expect_error(ReleaseError, "system 's'", f"release {version!r} ", why):
        validate_releases(releases("s", ["0.1.0", version], "0.1.0"), "s")


@pytest.mark.parametrize("version", [1, 0.1, None])
def test_release_versions_are_strings(version: object) -> None:
    # parse_releases rejects these already; a Releases built by hand is still checked.
    rel = Releases(package="s", pinned=("0.1.0", version), earliest="0.1.0", requirements=(("0.1.0", ("s",)), (version, ("s",))))  # type: ignore[arg-type]
    with expect_error(ReleaseError, f"release {version!r} is not a string"):
        validate_releases(rel, "s")


def test_one_version_in_two_spellings() -> None:
    # Two resolves, PEXes and images of one version: 5.15 and 5.15.0 are the same under PEP 440.
    with expect_error(ReleaseError, "releases '5.15' and '5.15.0' are the same PEP 440 version", "pin it once"):
        validate_releases(releases("qt", ["5.15", "6.2", "5.15.0"], "5.15"), "qt")


def test_earliest_in_another_spelling() -> None:
    with expect_error(ReleaseError, "earliest='5.15.0' is not a pinned release", "(pinned: 5.15, 6.2)", "set earliest to '5.15'"):
        validate_releases(releases("qt", ["6.2", "5.15"], "5.15.0"), "qt")


def test_a_release_listed_twice() -> None:
    with expect_error(ReleaseError, "release '0.1.0' is listed twice", "remove one"):
        validate_releases(releases("s", ["0.1.0", "0.2.0", "0.1.0"], "0.1.0"), "s")


def test_no_pinned_releases() -> None:
    with expect_error(ReleaseError, "no pinned releases", "generate-lockfiles"):
        validate_releases(Releases(package="s", pinned=(), earliest=""), "s")


def test_earliest_must_be_pinned() -> None:
    with expect_error(ReleaseError, "earliest='0.3.0' is not a pinned release", "0.1.0, 0.2.0", "set earliest"):
        validate_releases(releases("s", ["0.1.0", "0.2.0"], "0.3.0"), "s")


def test_a_release_without_requirements() -> None:
    rel = dataclasses.replace(releases("s", ["0.1.0"], "0.1.0"), requirements=())
    with expect_error(ReleaseError, "release '0.1.0' has no requirements", '["s==0.1.0"]'):
        validate_releases(rel, "s")


# --- systems -----------------------------------------------------------------------------------


def test_the_cluster_system_is_valid() -> None:
    validate_system(cluster())


@pytest.mark.parametrize("name", ["Cluster", "not", "café", ""])
def test_system_name(name: str) -> None:
    with expect_error(SuiteDeclarationError, f"invalid system name {name!r}"):
        validate_system(cluster(name=name))


@pytest.mark.parametrize("name", ["docker", "process", "matrix", "release", "branch", "artifact"])
def test_system_named_like_a_reserved_tag(name: str) -> None:
    with expect_error(SuiteDeclarationError, f"system name {name!r} is also a tag", "rename it"):
        validate_system(cluster(name=name))


def test_system_without_roles() -> None:
    with expect_error(SuiteDeclarationError, "system 'sys' declares no roles", "compat_role("):
        validate_system(system_with())


def test_a_role_declared_twice() -> None:
    with expect_error(SuiteDeclarationError, "role 'server'", "declared twice"):
        validate_system(system_with(role("server"), role("server")))


@pytest.mark.parametrize("name", ["Server", "not", "café", "a_b"])
def test_role_names(name: str) -> None:
    with expect_error(SuiteDeclarationError, f"invalid role name {name!r}"):
        validate_system(system_with(role(name)))


def test_the_system_releases_are_checked() -> None:
    with expect_error(ReleaseError, "release '01.2.3'"):
        validate_system(cluster(pinned=("0.1.0", "01.2.3")))


def test_branch_release_must_be_pinned() -> None:
    with expect_error(ReleaseError, "branch_release='0.3.0' is not one of its releases", "0.1.0, 0.2.0"):
        validate_system(cluster(branch_release="0.3.0"))
    with expect_error(ReleaseError, "branch_release='0.2' is not one of its releases", "write '0.2.0', as releases does"):
        validate_system(cluster(branch_release="0.2"))


def test_roles_need_branch_code_unless_a_release_plays_branch() -> None:
    no_branch = role("server", branch_sources=[])
    with expect_error(SuiteDeclarationError, "role 'server'", "no branch code", "branch_sources=[...]", "branch_release"):
        validate_system(system_with(no_branch))
    validate_system(system_with(no_branch, branch_release="0.1.0"))


@pytest.mark.parametrize("field", ["depends_on", "requires"])
def test_roles_named_by_a_role_must_exist(field: str) -> None:
    with expect_error(SuiteDeclarationError, f"{field} names unknown role 'db'", "known roles: server"):
        validate_system(system_with(role("server", **{field: ["db"]})))


def test_args_if_present_names_known_roles() -> None:
    with expect_error(SuiteDeclarationError, "args_if_present names unknown role 'db'"):
        validate_system(system_with(role("server", args_if_present={"db": ["--db"]})))


def test_depends_on_cycles_are_named() -> None:
    a = role("a", ports=["p"], readiness=tcp_probe("p"), depends_on=["c"])
    b = role("b", ports=["p"], readiness=tcp_probe("p"), depends_on=["a"])
    c = role("c", ports=["p"], readiness=tcp_probe("p"), depends_on=["b"])
    with expect_error(SuiteDeclarationError, "depends_on has a cycle: a -> c -> b -> a", "remove one"):
        validate_system(system_with(a, b, c))


def test_a_role_depending_on_itself_is_a_cycle() -> None:
    with expect_error(SuiteDeclarationError, "cycle: server -> server"):
        validate_system(system_with(role("server", depends_on=["server"])))


@pytest.mark.parametrize("port", ["HTTP", "1http", "a b", "", "h.t", "http\n"])
def test_port_names(port: str) -> None:
    with expect_error(SuiteDeclarationError, f"port name {port!r}"):
        validate_system(system_with(role("server", ports=[port], readiness=log_probe("up"))))


def test_a_port_named_twice() -> None:
    with expect_error(SuiteDeclarationError, "name a port twice"):
        validate_system(system_with(role("server", ports=["http", "http"])))


@pytest.mark.parametrize("probe", [http_probe("admin"), tcp_probe("admin")])
def test_a_port_probe_uses_one_of_the_role_ports(probe: Probe) -> None:
    with expect_error(SuiteDeclarationError, f"the {probe.kind} readiness probe uses port 'admin'", "('http',)", "log_probe"):
        validate_system(system_with(role("server", readiness=probe)))


def test_a_role_with_no_port_is_ready_by_log_or_command() -> None:
    validate_system(system_with(role("worker", ports=[], readiness=log_probe("ready"))))
    validate_system(system_with(role("worker", ports=[], readiness=command_probe(["pkg.check"]))))
    with expect_error(SuiteDeclarationError, "uses port 'http'", "()"):
        validate_system(system_with(role("worker", ports=[])))


def test_probes_built_by_hand_are_checked() -> None:
    # The harness and the codec build Probe objects directly; validation does not trust declare.
    for probe, fragment in [
        (Probe(kind="udp", port="http"), "probe kind 'udp'"),
        (Probe(kind="log", pattern="("), "is not a regex"),
        (Probe(kind="log", pattern=""), "log_probe needs a pattern"),
        (Probe(kind="command"), "command_probe needs args"),
        (Probe(kind="http", port="http", timeout=0), "must be > 0 seconds"),
        (Probe(kind="http", port="http", interval=-1), "must be > 0 seconds"),
    ]:
        spec = dataclasses.replace(role("server"), readiness=probe)
        with expect_error(SuiteDeclarationError, fragment):
            validate_system(system_with(spec))
    spec = dataclasses.replace(role("server"), readiness="http")  # type: ignore[arg-type]
    with expect_error(SuiteDeclarationError, "readiness='http' is not a probe"):
        validate_system(system_with(spec))


def test_commands_built_by_hand_are_checked() -> None:
    with expect_error(SuiteDeclarationError, "command kind 'shell'"):
        validate_system(system_with(dataclasses.replace(role("server"), command=Command("shell", "x"))))
    with expect_error(SuiteDeclarationError, "empty command"):
        validate_system(system_with(dataclasses.replace(role("server"), command=Command("module", ""))))


@pytest.mark.parametrize("cpus", [0, -1, 2000])
def test_cpus(cpus: float) -> None:
    with expect_error(SuiteDeclarationError, f"cpus={float(cpus)!r}", "e.g. 0.5 or 2"):
        validate_system(system_with(role("server", cpus=cpus)))


@pytest.mark.parametrize("memory", ["512M", "0m", "1.5g", "lots", "512mb", "512m\n"])
def test_memory(memory: str) -> None:
    with expect_error(SuiteDeclarationError, f"memory={memory!r}", '"512m"'):
        validate_system(system_with(role("server", memory=memory)))


def test_cpus_and_memory_limits() -> None:
    validate_system(system_with(role("server", cpus=0.5, memory="512m")))
    validate_system(system_with(role("server", cpus=2, memory="2g")))


# --- templates ---------------------------------------------------------------------------------

GOOD_TEMPLATES = [
    "{host}",
    "{advertised_host}:{port[http]}",
    "{port[http]}",
    "{name}-{index}",
    "{data_dir}/db",
    "{shared_dir}/x",
    "{peers[server][0].host}:{peers[server][0].port[http]}",
    "{peers[server][1].name}",
    "literal {{braces}}",
    "",
]


@pytest.mark.parametrize("template", GOOD_TEMPLATES)
def test_good_templates(template: str) -> None:
    validate_system(system_with(role("server", args=[template], requires=["server"])))


@pytest.mark.parametrize(
    "template, fragment",
    [
        ("{hostname}", "uses {hostname}; the fields are {host}, {advertised_host}, {port}"),
        ("{0}", "uses {0}"),
        ("{}", "uses {}"),
        ("{port[admin]}", "uses {port[admin]}, but the role's ports are ('http',)"),
        ("{port}", "uses {port}, but the role's ports are"),
        ("{host", "is malformed"),
        ("literal }", "is malformed"),
    ],
)
@pytest.mark.parametrize("field", ["args", "env", "files-path", "files-content", "log_files"])
def test_bad_templates_in_every_templated_field(field: str, template: str, fragment: str) -> None:
    fields: dict[str, dict[str, Any]] = {
        "args": {"args": [template]},
        "env": {"env": {"X": template}},
        "files-path": {"files": {"{data_dir}/" + template: "x"}},
        "files-content": {"files": {"{data_dir}/cfg": template}},
        "log_files": {"log_files": [template]},
    }
    written = "{data_dir}/" + template if field == "files-path" else template
    with expect_error(SuiteDeclarationError, "role 'server'", repr(written), fragment):
        validate_system(system_with(role("server", **fields[field])))


@pytest.mark.parametrize("path", ["cfg.yaml", "/etc/cfg", "{host}/cfg", "{data_dir}cfg", "../{data_dir}/cfg"])
def test_files_are_written_under_data_dir_or_shared_dir(path: str) -> None:
    with expect_error(SuiteDeclarationError, "role 'server'", f"file {path!r} must be under {{data_dir}}/", '"{data_dir}/workspace.yaml"'):
        validate_system(system_with(role("server", files={path: "x"})))
    validate_system(system_with(role("server", files={"{data_dir}/a/cfg": "x", "{shared_dir}/cfg": "{host}"})))


@pytest.mark.parametrize("template", ["{address[db]}", "{peers[db][0].host}"])
def test_a_peer_reference_needs_requires(template: str) -> None:
    db = role("db", ports=["sql"], readiness=tcp_probe("sql"))
    with expect_error(SuiteDeclarationError, "role 'server'", "{address[db]} (or peers[db])", "add it to requires", "args_if_present"):
        validate_system(system_with(db, role("server", args=["--db", template])))
    validate_system(system_with(db, role("server", args=["--db", template], requires=["db"])))
    validate_system(system_with(db, role("server", args_if_present={"db": ["--db", template]})))


# --- suites ------------------------------------------------------------------------------------


def test_the_backcompat_suite_is_valid() -> None:
    validate_suite(suite(cells=BACKCOMPAT_CELLS), cluster())


def test_suite_names() -> None:
    with expect_error(SuiteDeclarationError, "invalid suite name 'Back'"):
        validate_suite(suite(name="Back"), cluster())


@pytest.mark.parametrize("name", ["docker", "process", "matrix", "cluster"])
def test_a_suite_named_like_a_tag_or_its_system(name: str) -> None:
    with expect_error(SuiteDeclarationError, f"suite {name!r}", f"suite name {name!r} is also a tag", "rename it"):
        validate_suite(suite(name=name), cluster())


def test_a_suite_validated_against_another_system() -> None:
    with expect_error(SuiteDeclarationError, "declared for system 'other' but validated against 'cluster'"):
        validate_suite(suite(system="other"), cluster())


def test_a_suite_without_cells() -> None:
    empty = Suite(name="s", topology=Topology.of({"server": 1, "user-code": 1}), cells=(), backends=("process",))
    with expect_error(SuiteDeclarationError, "suite 's': has no cells", 'compat_cell("all-branch")'):
        validate_suite(empty, cluster())


def test_a_cell_declared_twice() -> None:
    twice = suite(cells=[compat_cell("a"), compat_cell("a", {"server": "latest"})])
    with expect_error(SuiteDeclarationError, "cell 'a' is declared twice", "unique name"):
        validate_suite(twice, cluster())


@pytest.mark.parametrize("name", ["backcompat", "cluster", "docker", "process", "matrix", "not", "café"])
def test_a_cell_named_like_its_suite_system_a_tag_or_badly(name: str) -> None:
    with expect_error(SuiteDeclarationError, "suite 'backcompat'", repr(name)):
        validate_suite(suite(cells=[compat_cell(name)]), cluster())


def test_backends() -> None:
    validate_backends(suite(backends=["process"]))
    validate_backends(suite(backends=["docker", "process"]))
    with expect_error(SuiteDeclarationError, "backends is empty", "process, docker"):
        validate_backends(suite(backends=[]))
    with expect_error(SuiteDeclarationError, "unknown backend 'k8s'", "known backends: process, docker"):
        validate_backends(suite(backends=["process", "k8s"]))
    with expect_error(SuiteDeclarationError, "backend 'process' is listed twice"):
        validate_backends(suite(backends=["process", "process"]))
    with expect_error(SuiteDeclarationError, "backends is empty"):
        validate_suite(suite(backends=[]), cluster())


def test_topology() -> None:
    system = cluster()
    validate_topology(suite(topology={"scheduler": 1, "worker": 2}), system)
    with expect_error(SuiteDeclarationError, "topology names unknown role 'db'", "scheduler, server, user-code, worker"):
        validate_topology(suite(topology={"db": 1}), system)
    with expect_error(SuiteDeclarationError, "the topology is empty", "topology={\"server\": 1}"):
        validate_topology(Suite("s", Topology(()), ()), system)
    with expect_error(SuiteDeclarationError, "names role 'worker' twice"):
        validate_topology(Suite("s", Topology((("scheduler", 1), ("worker", 1), ("worker", 2))), ()), system)
    for count in (0, True, "2"):
        with expect_error(SuiteDeclarationError, f"count for role 'worker' is {count!r}", "integer >= 1"):
            validate_topology(Suite("s", Topology((("scheduler", 1), ("worker", count))), ()), system)  # type: ignore[arg-type]


def test_topology_requires() -> None:
    with expect_error(SuiteDeclarationError, "has role 'worker', which requires role 'scheduler'", "add 'scheduler' to the topology"):
        validate_topology(suite(topology={"worker": 2}), cluster())
    with expect_error(SuiteDeclarationError, "requires role 'user-code'"):
        validate_topology(suite(topology={"server": 1}), cluster())


# --- cells -------------------------------------------------------------------------------------


def test_cell_versions() -> None:
    system, s = cluster(), suite()
    for version in ("branch", "earliest", "latest", "0.1.0", "0.2.0"):
        validate_cell(s, compat_cell("c", {"server": version}), system, system.releases)


def test_cell_roles_must_exist_and_run() -> None:
    system, s = cluster(), suite()
    with expect_error(SuiteDeclarationError, "cell 'c'", "unknown role 'db'", "scheduler, server, user-code, worker"):
        validate_cell(s, compat_cell("c", {"db": "latest"}), system)
    with expect_error(SuiteDeclarationError, "names role 'worker', which the suite's topology does not run", "server, user-code"):
        validate_cell(s, compat_cell("c", {"worker": "latest"}), system)
    twice = dataclasses.replace(compat_cell("c"), versions=(("server", "latest"), ("server", "earliest")))
    with expect_error(SuiteDeclarationError, "names role 'server' twice"):
        validate_cell(s, twice, system)


def test_an_unpinned_version_says_how_to_pin_it() -> None:
    system = cluster()
    with expect_error(
        SuiteDeclarationError,
        "cell 'c', role 'server'",
        "'0.3.0' is not a pinned release of cluster (pinned: 0.1.0, 0.2.0)",
        "releases pin <address of compat_system(name='cluster')> 0.3.0",
        "adds '0.3.0' to the releases of compat_system(name='cluster')",
        '"cluster-0.3.0" to [python.resolves]',
        "./pants generate-lockfiles --resolve=cluster-0.3.0",
    ):
        validate_cell(suite(), compat_cell("c", {"server": "0.3.0"}), system, system.releases)


@pytest.mark.parametrize("version", ["01.2.3", "newest", "Latest", "v0.1.0", "0.2.0rc1"])
def test_a_malformed_version(version: str) -> None:
    system = cluster()
    with expect_error(SuiteDeclarationError, repr(version), "'branch', 'earliest', 'latest' or a release: it "):
        validate_cell(suite(), compat_cell("c", {"server": version}), system, system.releases)


@pytest.mark.parametrize("version", [1, 0.1, None])
def test_a_non_string_version_built_by_hand(version: Any) -> None:
    cell = dataclasses.replace(compat_cell("c"), versions=(("server", version),))
    with expect_error(SuiteDeclarationError, f"version {version!r} is not a string", "'branch', 'earliest', 'latest'"):
        validate_cell(suite(), cell, cluster(), cluster().releases)


def test_without_releases_aliases_wait_and_concrete_versions_are_not_pin_checked() -> None:
    # The harness validates a cell whose versions are already concrete (from its JSON).
    for version in ("latest", "earliest", "9.9.9"):
        validate_cell(suite(), compat_cell("c", {"server": version}), cluster(), None)
    with expect_error(SuiteDeclarationError, "'01.2.3'"):
        validate_cell(suite(), compat_cell("c", {"server": "01.2.3"}), cluster(), None)


def test_validate_suite_checks_the_system_first() -> None:
    broken: System = dataclasses.replace(cluster(), name="Cluster")
    with expect_error(SuiteDeclarationError, "invalid system name 'Cluster'"):
        validate_suite(suite(system=""), broken)


# --- regressions -------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["args_if_present", "command_probe"])
@pytest.mark.parametrize("template, fragment", [("{adress[db]}", "uses {adress[db]}"), ("{port[admin]}", "uses {port[admin]}"), ("{host", "malformed")])
def test_args_if_present_and_command_probe_args_are_checked_templates(where: str, template: str, fragment: str) -> None:
    # Both are expanded like args at run time; a typo in them passed validation and failed only in
    # the cells that run the role (args_if_present: only where the named role runs too).
    db = role("db", ports=["sql"], readiness=tcp_probe("sql"))
    fields: dict = (
        {"args_if_present": {"db": ["--db", template]}}
        if where == "args_if_present"
        else {"ports": [], "readiness": command_probe(["pkg.check", template])}
    )
    with expect_error(SuiteDeclarationError, "role 'server'", repr(template), fragment):
        validate_system(system_with(db, role("server", **fields)))


def test_command_probe_args_may_name_peers_like_args() -> None:
    db = role("db", ports=["sql"], readiness=tcp_probe("sql"))
    probe = command_probe(["pkg.check", "{address[db]}", "{shared_dir}"])
    validate_system(system_with(db, role("server", ports=[], readiness=probe, requires=["db"])))
    with expect_error(SuiteDeclarationError, "{address[db]}", "add it to requires"):
        validate_system(system_with(db, role("server", ports=[], readiness=probe)))


@pytest.mark.parametrize(
    "roles, name",
    [
        (("pex",), "pex-branch"),  # its image on the branch and the branch's PEX
        (("release",), "release-0.1.0"),  # its image at 0.1.0 and release 0.1.0's requirements
        (("src-branch-x", "x-branch"), "src-branch-x-branch"),  # an image and another role's branch sources
    ],
)
def test_roles_whose_artifacts_would_share_a_generated_name(roles: tuple, name: str) -> None:
    # The plugin generates targets by these names: one silently replaced the other (a role named
    # "release" left release 0.1.0's PEX without its requirements).
    with expect_error(SuiteDeclarationError, "system 'sys'", f"{name!r}", "rename the role"):
        validate_system(system_with(*(role(r) for r in roles)))


# --- the topology's cap ------------------------------------------------------------------------


def test_a_topology_count_above_the_cap() -> None:
    # Regression: a count of 10000 was accepted, and its plan listed 10000 instances.
    system = cluster()
    validate_topology(suite(topology={"scheduler": 1, "worker": MAX_INSTANCES_PER_ROLE}), system)
    for count in (MAX_INSTANCES_PER_ROLE + 1, 10000):
        with expect_error(SuiteDeclarationError, f"role 'worker' {count} instances", f"the cap is {MAX_INSTANCES_PER_ROLE} per role", f"at most {MAX_INSTANCES_PER_ROLE}"):
            validate_topology(suite(topology={"scheduler": 1, "worker": count}), system)


# --- limits -----------------------------------------------------------------------------------


def test_a_memory_limit_on_the_process_backend_is_an_error() -> None:
    # Regression (issue 24): compat_role(memory=...) was validated and documented, and no backend
    # applied it. The docker backend does; the process backend cannot honestly, so planning a suite
    # that runs the role there is an error naming the role, the limit and the fix.
    system = system_with(role("server", memory="512m"), role("user-code"), name="cluster")
    validate_suite(suite(backends=("docker",)), system)
    for backends in (("process",), ("process", "docker")):
        with expect_error(SuiteDeclarationError, "role 'server' declares memory='512m'", 'backends=["docker"]',
                          "remove memory from the role"):
            validate_suite(suite(backends=backends), system)
    # A role the suite does not run is no reason to refuse it.
    validate_suite(suite(topology={"user-code": 1}, cells=[compat_cell("all-branch")], backends=("process",)), system)


# --- names across the repo ---------------------------------------------------------------------

REPO_SYSTEMS = {"cluster": ("src/cluster:cluster", cluster()), "shop": ("src/shop:shop", cluster("shop", pinned=("1.0.0",), earliest="1.0.0"))}


def repo_suites(*extra: tuple[str, Suite, tuple[str, ...]]) -> list[tuple[str, Suite, tuple[str, ...]]]:
    return [
        ("tests/backcompat:backcompat", suite(cells=BACKCOMPAT_CELLS), ()),
        ("tests/dist:distributed", suite("distributed", cells=[compat_cell("all-branch")]), ()),
        ("tests/dist_ipy:distributed-ipy", suite("distributed-ipy", cells=[compat_cell("all-branch")]), ("distributed",)),
        *extra,
    ]


def test_the_repo_names_are_valid() -> None:
    # A cell's name may repeat across suites: --tag=all-branch selects that cell in each.
    validate_repo_names(REPO_SYSTEMS, repo_suites(), {"browser": "tests/report:tests"})


@pytest.mark.parametrize(
    "cell, what",
    [
        ("backcompat", "the suite tests/backcompat:backcompat"),
        ("distributed", "the suite tests/dist:distributed"),
        ("shop", "the system src/shop:shop"),
        ("worker", "a role of the system src/cluster:cluster"),
        ("1.0.0", "a release of the system src/shop:shop"),
        ("browser", "a tag of tests/report:tests"),
        ("matrix", "the tag 'matrix' the build gives generated targets"),
        ("docker", "the tag 'docker'"),
    ],
)
def test_a_cell_named_like_another_suite_system_role_or_tag(cell: str, what: str) -> None:
    # Regression: a cell `backcompat` in another suite was accepted, and joined --tag=backcompat.
    other = ("tests/other:other", suite("other", cells=[compat_cell(cell)]), ())
    with expect_error(SuiteDeclarationError, "tests/other:other", f"cell {cell!r} is named like {what}", f"--tag={cell} would select both", "rename the cell in tests/other/BUILD"):
        validate_repo_names(REPO_SYSTEMS, repo_suites(other), {"browser": "tests/report:tests"})


def test_an_upgrade_path_named_like_another_suite() -> None:
    upgrade = dataclasses.replace(suite("upgrade", cells=[]), upgrade=UpgradeSpec(name="backcompat", start="earliest", to="branch"))
    with expect_error(SuiteDeclarationError, "tests/upgrade:upgrade", "cell 'backcompat' is named like the suite tests/backcompat:backcompat"):
        validate_repo_names(REPO_SYSTEMS, repo_suites(("tests/upgrade:upgrade", upgrade, ())), {})

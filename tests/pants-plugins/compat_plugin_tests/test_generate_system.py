"""What a compat_system generates: PEXes, images and release requirements named by compat_core.names."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from pants.backend.docker.target_types import DockerImageTarget
from pants.backend.python.target_types import PexBinary, PythonRequirementTarget
from pants.engine.target import Target
from pants.testutil.rule_runner import RuleRunner

from compat_core.declare import DEPENDS_ON_AND_REQUIRES
from compat_core.images import role_instructions
from compat_core.labels import IMAGE_LABEL_ROLE, IMAGE_LABEL_SYSTEM, IMAGE_LABEL_VERSION
from compat_core.names import image_info_path, image_ref, pex_path, sources_path
from compat_plugin.sources import CompatBranchRequirementsTarget, CompatBranchSourcesTarget
from compat_plugin.target_types import CompatRolesField, CompatSystemTarget, system_of
from compat_plugin_tests.declarations import DAGSTER_BUILD, DAGSTER_RESOLVES, SHOP_BUILD, SHOP_RESOLVES
from compat_plugin_tests.plugin_runner import (
    address_of,
    configure,
    fields,
    generated,
    make_rule_runner,
    resolve_options,
)


@pytest.fixture
def rule_runner() -> RuleRunner:
    rule_runner = make_rule_runner()
    rule_runner.write_files({"src/shop/BUILD": SHOP_BUILD, "third_party/dagster/BUILD": DAGSTER_BUILD})
    configure(rule_runner, {**SHOP_RESOLVES, **DAGSTER_RESOLVES})
    return rule_runner


def test_a_system_generates_every_artifact(rule_runner: RuleRunner) -> None:
    targets = generated(rule_runner, "src/shop", "shop")
    assert {name: type(t) for name, t in targets.items()} == {
        "pex-branch": PexBinary,
        "requirements-branch": CompatBranchRequirementsTarget,
        "src-branch-user-code": CompatBranchSourcesTarget,
        "src-branch-server": CompatBranchSourcesTarget,
        "pex-0.1.0": PexBinary,
        "pex-0.2.0": PexBinary,
        "release-0.1.0": PythonRequirementTarget,
        "release-0.2.0": PythonRequirementTarget,
        **{f"{role}-{version}": DockerImageTarget for role in ("user-code", "server") for version in ("branch", "0.1.0", "0.2.0")},
    }
    for target in targets.values():
        assert (target.address.spec_path, target.address.target_name) == ("src/shop", "shop")


def test_one_branch_requirements_pex_for_every_role_and_sources_per_role(rule_runner: RuleRunner) -> None:
    targets = generated(rule_runner, "src/shop", "shop")
    system = system_of(rule_runner.get_target(targets["pex-branch"].address.maybe_convert_to_target_generator()))
    pex = fields(targets["pex-branch"])
    # What every role's sources import, as one PEX: the roles' images share its layer. Through a
    # target whose dependencies are inferred from the sources, not on the sources: an edit of one
    # role's code is then no dependency of the cells that run only other roles on the branch.
    assert pex["dependencies"] == ("//src/shop:shop#requirements-branch",)
    requirements = fields(targets["requirements-branch"])
    assert requirements["requirements_of"] == ("//src/shop:shop#src-branch-user-code", "//src/shop:shop#src-branch-server")
    assert requirements["dependencies"] is None
    assert pex["resolve"] == "python-default"
    assert pex["output_path"] == pex_path(system, "branch") == "compat/shop/pex-branch.pex"
    assert pex["execution_mode"] == "venv"
    assert pex["include_tools"] is True
    # Packed: its wheels are zips pex caches, shared with every other PEX that holds them.
    assert pex["layout"] == "packed"
    # Requirements only: each role's first-party code is its sources artifact.
    assert pex["include_sources"] is False
    # The role's command is chosen at run time, as for a release: no entry point of its own.
    assert pex["entry_point"] is None and pex["script"] is None
    assert pex["tags"] == ("artifact", "branch", "user-code", "server")
    sources = fields(targets["src-branch-server"])
    assert sources["dependencies"] == ("src/shop/server", "src/shop:lib")
    assert sources["resolve"] == "python-default"
    assert sources["output_path"] == sources_path(system, "server", "branch") == "compat/shop/src-branch-server"
    # A console script is in a distribution, which the sources leave out: no module to infer.
    assert sources["module"] is None
    user_code = fields(targets["src-branch-user-code"])
    assert user_code["module"] == "shop.cli:main"
    assert user_code["dependencies"] == ("src/shop/code_server",)


def test_release_pex_and_requirements_per_release(rule_runner: RuleRunner) -> None:
    targets = generated(rule_runner, "src/shop", "shop")
    for version in ("0.1.0", "0.2.0"):
        requirement = fields(targets[f"release-{version}"])
        assert [str(r) for r in requirement["requirements"]] == [f"shop=={version}"]
        assert requirement["resolve"] == f"shop-{version}"
        assert requirement["tags"] == ("release",)
        pex = fields(targets[f"pex-{version}"])
        assert pex["resolve"] == f"shop-{version}"
        assert pex["output_path"] == f"compat/shop/pex-{version}.pex"
        assert pex["tags"] == ("artifact", "release")
        # Its requirements, by an address that resolves to the generated requirement, and the
        # in-repo adapters every release ships with.
        assert pex["dependencies"] == (f"//src/shop:shop#release-{version}", "src/shop:adapters")
        assert address_of(rule_runner, pex["dependencies"][0], "src/shop") == targets[f"release-{version}"].address


@pytest.mark.parametrize("role", ["user-code", "server"])
@pytest.mark.parametrize("version", ["branch", "0.1.0", "0.2.0"])
def test_image_per_role_and_version(rule_runner: RuleRunner, role: str, version: str) -> None:
    targets = generated(rule_runner, "src/shop", "shop")
    generator = rule_runner.get_target(targets[f"{role}-{version}"].address.maybe_convert_to_target_generator())
    system = system_of(generator)
    image = fields(targets[f"{role}-{version}"])
    assert f"{image['repository']}:{image['image_tags'][0]}" == image_ref(system, role, version)
    assert image["repository"] == f"compat-matrix/shop/{role}"
    assert image["image_tags"] == (version,)
    assert dict(image["image_labels"]) == {IMAGE_LABEL_SYSTEM: "shop", IMAGE_LABEL_ROLE: role, IMAGE_LABEL_VERSION: version}
    assert image["output_path"] == image_info_path(system, role, version) == f"compat/shop/{role}-{version}.docker-info.json"
    assert image["tags"] == ("artifact", "docker", role, version)
    pex = "pex-" + version
    sources = [f"//src/shop:shop#src-branch-{role}"] if version == "branch" else []
    assert image["dependencies"] == (f"//src/shop:shop#{pex}", *sources)
    assert address_of(rule_runner, image["dependencies"][0], "src/shop") == targets[pex].address
    # The one recipe the docker backend also builds from, over this role's PEX at this version.
    instructions = image["instructions"]
    assert instructions == tuple(
        role_instructions(pex_path(system, version), system.roles[role], sources_path(system, role, version))
    )
    assert (f"COPY compat/shop/src-branch-{role} /app/src" in instructions) == (version == "branch")
    assert f"COPY {pex_path(system, version)} /app/app.pex" in instructions
    assert ("ENV PEX_SCRIPT=shop-server" if role == "server" else "ENV PEX_MODULE=shop.cli:main") in instructions
    # FROM the base_image setting's default: a repo sets no [docker].build_args for it.
    assert image["extra_build_args"] == ("BASE_IMAGE=python:3.11-slim-bookworm",)


def test_images_start_from_the_base_image_option_unless_the_environment_overrides_it(rule_runner: RuleRunner) -> None:
    def build_args(env: dict[str, str]) -> tuple[str, ...]:
        rule_runner.set_options([*resolve_options({**SHOP_RESOLVES, **DAGSTER_RESOLVES}), "--compat-matrix-base-image=compat-matrix/base:bookworm"], env=env)
        return tuple(fields(generated(rule_runner, "src/shop", "shop")["server-branch"])["extra_build_args"])

    assert build_args({}) == ("BASE_IMAGE=compat-matrix/base:bookworm",)
    assert build_args({"BASE_IMAGE": "python:3.11-slim"}) == ("BASE_IMAGE=python:3.11-slim",)


def test_releases_as_pypi_names_them(rule_runner: RuleRunner) -> None:
    # A two-part release is 5.15 in every name (not 5.15.0), a post release keeps its suffix.
    build = SHOP_BUILD.replace('releases=["0.1.0", "0.2.0"]', 'releases=["5.15", "1.4.post1"]').replace('earliest="0.1.0"', 'earliest="1.4.post1"')
    rule_runner.write_files({"src/shop/BUILD": build})
    configure(rule_runner, {"shop-5.15": "locks/shop-5.15.lock", "shop-1.4.post1": "locks/shop-1.4.post1.lock"})
    targets = generated(rule_runner, "src/shop", "shop")
    assert {"pex-5.15", "release-5.15", "server-5.15", "pex-1.4.post1", "user-code-1.4.post1"} <= set(targets)
    assert [str(r) for r in fields(targets["release-5.15"])["requirements"]] == ["shop==5.15"]
    assert fields(targets["pex-5.15"])["resolve"] == "shop-5.15"
    assert fields(targets["pex-5.15"])["output_path"] == "compat/shop/pex-5.15.pex"
    image = fields(targets["server-1.4.post1"])
    assert (image["repository"], image["image_tags"]) == ("compat-matrix/shop/server", ("1.4.post1",))


def test_the_roles_help_explains_depends_on_and_requires() -> None:
    # `./pants help compat_system` shows it, from its one text in compat_core.
    help_text = CompatRolesField.help
    assert "`depends_on` and `requires` answer two questions" in help_text
    assert "`depends_on=[ROLE, ...]` is start order" in help_text and "`requires=[ROLE, ...]` is the topology" in help_text
    assert 'depends_on=["user-code"], requires=["user-code"]' in help_text
    assert DEPENDS_ON_AND_REQUIRES.splitlines()[-2].strip() in help_text


def test_a_release_playing_branch_has_no_branch_artifacts(rule_runner: RuleRunner) -> None:
    targets = generated(rule_runner, "third_party/dagster", "dagster")
    assert sorted(targets) == sorted(
        ["pex-1.8.0", "pex-1.9.0", "release-1.8.0", "release-1.9.0"]
        + [f"{role}-{version}" for role in ("webserver", "user-code") for version in ("1.8.0", "1.9.0")]
    )
    assert [str(r) for r in fields(targets["release-1.8.0"])["requirements"]] == ["dagster==1.8.0", "dagster-webserver==1.8.0"]
    # A release's own resolve where release_resolves names one, <system>-<version> otherwise.
    assert fields(targets["release-1.9.0"])["resolve"] == "dagster-new"
    assert fields(targets["pex-1.9.0"])["resolve"] == "dagster-new"
    assert fields(targets["pex-1.8.0"])["resolve"] == "dagster-1.8.0"
    assert fields(targets["pex-1.8.0"])["dependencies"] == ("//third_party/dagster:dagster#release-1.8.0",)


def _values(targets: Iterable[Target], alias: str) -> set[str]:
    return {fields(t)[alias] for t in targets if alias in fields(t)}


def test_two_systems_in_one_repo_never_share_a_name(rule_runner: RuleRunner) -> None:
    shop = generated(rule_runner, "src/shop", "shop").values()
    dagster = generated(rule_runner, "third_party/dagster", "dagster").values()
    assert not {t.address for t in shop} & {t.address for t in dagster}
    # Output paths, image repositories and release resolves are global names: none is shared.
    assert not _values(shop, "output_path") & _values(dagster, "output_path")
    assert all(path.startswith("compat/shop/") for path in _values(shop, "output_path"))
    assert all(path.startswith("compat/dagster/") for path in _values(dagster, "output_path"))
    assert _values(shop, "repository") == {"compat-matrix/shop/user-code", "compat-matrix/shop/server"}
    assert _values(dagster, "repository") == {"compat-matrix/dagster/webserver", "compat-matrix/dagster/user-code"}
    assert _values(shop, "resolve") == {"python-default", "shop-0.1.0", "shop-0.2.0"}
    assert _values(dagster, "resolve") == {"dagster-1.8.0", "dagster-new"}


def test_the_generator_is_a_compat_system(rule_runner: RuleRunner) -> None:
    from pants.engine.addresses import Address

    target = rule_runner.get_target(Address("src/shop", target_name="shop"))
    assert isinstance(target, CompatSystemTarget)
    system = system_of(target)
    assert (system.name, [r.name for r in system.role_specs], system.releases.pinned) == ("shop", ["user-code", "server"], ("0.1.0", "0.2.0"))


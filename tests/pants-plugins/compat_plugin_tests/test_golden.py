"""Golden plans of the repo's real suites: ``compat-plan`` over the BUILD files as they are.

The declarations are read from the repo at test time (every BUILD file in ``DECLARATIONS`` that
declares a compat_system or compat_suite, and pants.toml's resolves), never copied, so a golden
shows exactly the cells ``./pants test`` would run. The files are found under the current
directory: the repo root, or the sandbox of tests/pants-plugins:py39, which depends on them. A
declaring BUILD file missing from that sandbox leaves its golden file without a plan: the test
fails, naming it.

After an intended change of a plan, rewrite the golden files and review their diff:

    UPDATE_GOLDEN=1 ./pants run tests/pants-plugins/compat_plugin_tests:py39-tests -- -k golden
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from pants.engine.fs import FileContent
from pants.engine.target import AllUnexpandedTargets
from pants.option.config import Config
from pants.testutil.rule_runner import RuleRunner

from compat_core.contract import FULL_MATRIX_ENV
from compat_plugin.goals import CompatPlan
from compat_plugin.suite_target import CompatFullMatrixField, CompatSuiteTarget
from compat_plugin.target_types import CompatSystemTarget
from compat_plugin_tests.plugin_runner import make_rule_runner

DECLARATIONS = ("src/python/*/BUILD", "examples/*/BUILD", "tests/python/integration/*/BUILD")
DECLARES = ("compat_system(", "compat_suite(")
GOLDEN_DIR = "tests/pants-plugins/compat_plugin_tests/golden"
UPDATE_COMMAND = "UPDATE_GOLDEN=1 ./pants run tests/pants-plugins/compat_plugin_tests:py39-tests -- -k golden"


def repo_root() -> Path:
    root = Path.cwd()
    if not (root / "pants.toml").is_file():
        pytest.fail(
            f"pants.toml is not under {root}: run these tests from the repo root, or through "
            f"./pants test tests/pants-plugins:: (its sandbox holds the declarations)"
        )
    return root


def declarations(root: Path) -> dict[str, str]:
    """Path -> text of every BUILD file under ``root`` that declares a system or a suite."""
    found = {}
    for pattern in DECLARATIONS:
        for build in sorted(root.glob(pattern)):
            text = build.read_text()
            if any(word in text for word in DECLARES):
                found[str(build.relative_to(root))] = text
    return found


def declarations_with_suite_modules(root: Path) -> dict[str, str]:
    """``declarations``, plus an empty test module per suite: a suite's sources must match a file,
    and neither a plan nor a dependency on it depends on the modules' contents."""
    files = declarations(root)
    for path, text in list(files.items()):
        if "compat_suite(" in text:
            directory = Path(path).parent
            files[str(directory / f"test_{directory.name}.py")] = ""
    return files


def resolve_flags(root: Path) -> list[str]:
    """pants.toml's [python] resolves, read by Pants' own config reader, as flags."""
    config = Config.load([FileContent("pants.toml", (root / "pants.toml").read_bytes())], seed_values={"buildroot": str(root)})
    return ["--python-enable-resolves", *(f"--python-resolves={value}" for value in config.get("python", "resolves"))]


@dataclass(frozen=True)
class Plan:
    golden: str  # the golden file's name, without .txt
    address: str
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RealRepo:
    rule_runner: RuleRunner
    flags: tuple[str, ...]
    plans: tuple[Plan, ...]
    golden_dir: Path


@pytest.fixture(scope="module")
def real_repo() -> RealRepo:
    """A RuleRunner whose build root holds the repo's real declarations, and the plans they make."""
    root = repo_root()
    files = declarations_with_suite_modules(root)
    rule_runner = make_rule_runner()
    rule_runner.write_files(files)
    flags = tuple(resolve_flags(root))
    rule_runner.set_options(flags, env={})
    plans: list[Plan] = []
    for target in sorted(rule_runner.request(AllUnexpandedTargets, []), key=lambda t: str(t.address)):
        name = target.address.target_name
        if isinstance(target, CompatSuiteTarget):
            plans.append(Plan(name, str(target.address)))
            if target[CompatFullMatrixField].value:
                plans.append(Plan(f"{name}-full", str(target.address), ((FULL_MATRIX_ENV, "1"),)))
        elif isinstance(target, CompatSystemTarget):
            plans.append(Plan(f"system-{name}", str(target.address)))
    return RealRepo(rule_runner, flags, tuple(plans), root / GOLDEN_DIR)


def compat_plan_output(repo: RealRepo, plan: Plan) -> str:
    result = repo.rule_runner.run_goal_rule(CompatPlan, global_args=repo.flags, args=[plan.address], env=dict(plan.env))
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_the_real_suites_are_found(real_repo: RealRepo) -> None:
    # Fails rather than compares nothing when the sandbox lacks a declaration (see the BUILD file).
    expected = {"backcompat", "backcompat-full", "distributed", "dagster-backcompat", "system-conveyor", "system-dagster", "upgrade"}
    assert expected <= {p.golden for p in real_repo.plans}


def test_golden_plans(real_repo: RealRepo) -> None:
    update = os.environ.get("UPDATE_GOLDEN", "") not in ("", "0")
    stale = sorted({p.stem for p in real_repo.golden_dir.glob("*.txt")} - {p.golden for p in real_repo.plans})
    differ: list[str] = []
    for plan in real_repo.plans:
        output = compat_plan_output(real_repo, plan)
        golden = real_repo.golden_dir / f"{plan.golden}.txt"
        if update:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(output)
        elif not golden.is_file() or golden.read_text() != output:
            differ.append(f"--- {golden.name}: compat-plan {plan.address} {dict(plan.env) or ''}\n{output}")
    if update:
        for name in stale:
            (real_repo.golden_dir / f"{name}.txt").unlink()
        return
    assert not stale, (
        f"golden files of no suite or system here: {stale}. Under ./pants test, a BUILD file declaring one "
        f"is missing from tests/pants-plugins:py39's dependencies (add a files target for it); otherwise "
        f"the suite is gone: run {UPDATE_COMMAND}"
    )
    assert not differ, (
        "the plans of the real declarations differ from their golden files (or have none). If the change is "
        f"intended, run {UPDATE_COMMAND} and review the diff.\n\n" + "\n".join(differ)
    )

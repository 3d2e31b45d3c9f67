"""Selection by change: which cell tests a one-line edit of conveyor's server selects.

``pants --changed-since=REF --changed-dependents=transitive test`` runs the dependents of the
changed files. Over the repo's real declarations (the BUILD files of its systems and suites, as
the golden test reads them) and stand-in modules for the branch code they name, this asks Pants'
engine for every generated cell test's transitive dependencies, `runtime_package_dependencies`
included (as `dependents` follows them), and checks which hold src/python/conveyor/server/app.py:
exactly the cells whose server runs the branch. A RuleRunner, not a nested `./pants dependents`:
the same rules and graph in seconds, with no second Pants daemon and no copy of the repo; what it
leaves out is the real modules' imports (the stand-ins import nothing), which decide whether one
role's code reaches another's; `./pants dependents --transitive src/python/conveyor/server/app.py`
on the repo shows those too.
"""

from __future__ import annotations

import pytest
from pants.backend.python.dependency_inference import rules as dependency_inference_rules
from pants.backend.python.macros import python_requirements
from pants.engine.addresses import Address
from pants.engine.target import (
    AllTargets,
    InferDependenciesRequest,
    TransitiveTargets,
    TransitiveTargetsRequest,
)
from pants.engine.unions import UnionRule
from pants.testutil.rule_runner import QueryRule, RuleRunner

from compat_core.contract import MATRIX_TAG
from compat_plugin import sources
from compat_plugin_tests.plugin_runner import make_rule_runner, tags
from compat_plugin_tests.test_golden import declarations_with_suite_modules, repo_root, resolve_flags

CHANGED = "src/python/conveyor/server/app.py"

# Stand-ins for the code the real declarations name (their BUILD files are not declarations).
STAND_INS = {
    "src/python/conveyor/__init__.py": "",
    "src/python/conveyor/cli.py": "",
    "src/python/conveyor/examples.py": "",
    **{f"src/python/conveyor/{part}/BUILD": "python_sources()\n" for part in ("cluster", "code_server", "server", "protocol")},
    **{f"src/python/conveyor/{part}/__init__.py": "" for part in ("cluster", "code_server", "server", "protocol")},
    CHANGED: "",
    "src/python/compat_probes/BUILD": 'python_sources(name="lib")\nresources(name="ship", sources=["*.py"])\n',
    "src/python/compat_probes/__init__.py": "",
    # Pants synthesizes a resolve's lockfile target, which requirements depend on; here a file.
    "3rdparty/python/BUILD": 'python_requirements(name="reqs")\nfiles(name="_python-default_lockfile", sources=["default.lock"])\n',
    "3rdparty/python/requirements.txt": "ipyparallel\n",
    "3rdparty/python/default.lock": "",
}


@pytest.fixture(scope="module")
def rule_runner() -> RuleRunner:
    root = repo_root()
    files = declarations_with_suite_modules(root)
    rule_runner = make_rule_runner(
        # The plugin's inference (not its packaging, which needs Pants' package rules).
        sources.infer_compat_sources_module,
        sources.infer_compat_branch_requirements,
        UnionRule(InferDependenciesRequest, sources.InferCompatSourcesModule),
        UnionRule(InferDependenciesRequest, sources.InferCompatBranchRequirements),
        *dependency_inference_rules.rules(),
        *python_requirements.rules(),
        QueryRule(AllTargets, []),
        QueryRule(TransitiveTargets, [TransitiveTargetsRequest]),
    )
    rule_runner.write_files({**STAND_INS, **files})
    rule_runner.set_options([*resolve_flags(root), "--python-infer-use-rust-parser"], env={})
    return rule_runner


def selected(rule_runner: RuleRunner) -> set[tuple[str, str]]:
    """(suite, cell) of every cell test whose transitive dependencies hold ``CHANGED``."""
    changed = Address("src/python/conveyor/server", relative_file_path="app.py")
    found = set()
    for target in rule_runner.request(AllTargets, []):
        if MATRIX_TAG not in tags(target):
            continue
        closure = rule_runner.request(
            TransitiveTargets, [TransitiveTargetsRequest([target.address], include_special_cased_deps=True)]
        ).closure
        if any(t.address == changed for t in closure):
            cell, suite = tags(target)[:2]
            found.add((suite, cell))
    return found


def test_a_change_to_conveyors_server_selects_the_cells_that_run_it_on_the_branch(rule_runner: RuleRunner) -> None:
    # Regression: #pex-branch depended on every role's sources, so an edit of the server selected
    # every cell running any role on the branch (server-earliest, server-latest too).
    assert selected(rule_runner) == {
        ("backcompat", "user-code-earliest"),
        ("backcompat", "user-code-latest"),
        ("distributed", "all-branch"),
        ("distributed", "workers-earliest"),
        ("distributed-ipy", "all-branch"),
        ("distributed-ipy", "engines-earliest"),
        ("distributed-ipy", "engines-latest"),
        ("upgrade", "rolling"),
    }

"""Build a cell test's runner PEXes beside its artifacts, not after them.

Pants 2.17's pytest rule builds a test's ``runtime_package_dependencies`` (a cell's PEXes) as a
"plugin setup" first, and asks for the test runner's PEXes (the test's requirements, pytest, the
local distributions, and pytest_runner.pex over them) only once every one of them is built. A
cold cell then waits for both, one after the other. This setup asks for the same PEXes as the pytest
rule will, with the same requests, in the same plugin phase as the artifacts: they build side by
side, and the pytest rule finds them memoized. It adds nothing to the test's sandbox and is
applicable only to the cell tests ``compat_suite`` generates.

It first runs the repo-wide checks (``compat_plugin.repo``): no cell's process starts while a cell
is named like another suite, system or tag, or an ``earliest`` override moves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from pants.backend.python.goals.pytest_runner import PytestPluginSetup, PytestPluginSetupRequest
from pants.backend.python.subsystems.pytest import PyTest, PythonTestFieldSet
from pants.backend.python.subsystems.setup import PythonSetup
from pants.backend.python.util_rules.interpreter_constraints import InterpreterConstraints
from pants.backend.python.util_rules.local_dists import LocalDistsPex, LocalDistsPexRequest
from pants.backend.python.util_rules.pex import Pex, PexRequest, VenvPex
from pants.backend.python.util_rules.pex_from_targets import RequirementsPexRequest
from pants.backend.python.util_rules.python_sources import PythonSourceFiles, PythonSourceFilesRequest
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import Target, TransitiveTargets, TransitiveTargetsRequest
from pants.engine.unions import UnionRule

from compat_plugin.generate import cell_json_of
from compat_plugin.repo import RepoChecked, RepoCheckRequest


@dataclass(frozen=True)
class CellRunnerSetupRequest(PytestPluginSetupRequest):
    @classmethod
    def is_applicable(cls, target: Target) -> bool:
        return cell_json_of(target) is not None


@rule(desc="Build a cell test's runner PEXes beside its artifacts")
async def build_cell_runner_early(request: CellRunnerSetupRequest, pytest: PyTest, python_setup: PythonSetup) -> PytestPluginSetup:
    # The interpreter constraints and requests of pytest_runner.setup_pytest_for_target, for a
    # test that is not batched with others (generated cells are not) and runs with no extra PEX
    # (a debug adapter's).
    await Get(RepoChecked, RepoCheckRequest())
    field_set = PythonTestFieldSet.create(request.target)
    constraints = InterpreterConstraints.create_from_compatibility_fields([field_set.interpreter_constraints], python_setup)
    addresses = (request.target.address,)
    transitive = await Get(TransitiveTargets, TransitiveTargetsRequest(addresses))
    requirements, pytest_pex, sources = await MultiGet(
        Get(Pex, RequirementsPexRequest(addresses)),
        Get(Pex, PexRequest, pytest.to_pex_request(interpreter_constraints=constraints)),
        Get(PythonSourceFiles, PythonSourceFilesRequest(transitive.closure, include_files=True)),
    )
    local_dists = await Get(
        LocalDistsPex,
        LocalDistsPexRequest(addresses, internal_only=True, interpreter_constraints=constraints, sources=sources),
    )
    await Get(
        VenvPex,
        PexRequest(
            output_filename="pytest_runner.pex",
            interpreter_constraints=constraints,
            main=pytest.main,
            internal_only=True,
            pex_path=[pytest_pex, requirements, local_dists.pex],
        ),
    )
    return PytestPluginSetup()


def rules():
    return [*collect_rules(), UnionRule(PytestPluginSetupRequest, CellRunnerSetupRequest)]

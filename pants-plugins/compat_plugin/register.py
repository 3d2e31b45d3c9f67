"""compat-matrix's Pants plugin: the ``compat_system`` and ``compat_suite`` target types.

Load it with ``[GLOBAL].pythonpath = ["%(buildroot)s/pants-plugins", "%(buildroot)s/src/core"]``
and ``backend_packages = [..., "compat_plugin"]``.
"""

from __future__ import annotations

from pants.build_graph.build_file_aliases import BuildFileAliases

from compat_core.build_objects import BUILD_FILE_OBJECTS
from compat_plugin import generate, goals, repo, report_goal, runner, selection_guard, sources, subsystem
from compat_plugin.suite_target import CompatSuiteTarget
from compat_plugin.target_types import CompatSystemTarget


def target_types():
    return [CompatSystemTarget, CompatSuiteTarget, sources.CompatBranchSourcesTarget, sources.CompatBranchRequirementsTarget]


def rules():
    return [
        *generate.rules(),
        *goals.rules(),
        *report_goal.rules(),
        *repo.rules(),
        *runner.rules(),
        *selection_guard.rules(),
        *sources.rules(),
        *subsystem.rules(),
    ]


def build_file_aliases():
    return BuildFileAliases(objects=dict(BUILD_FILE_OBJECTS))

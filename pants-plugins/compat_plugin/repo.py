"""Checks that need every system and suite of the repo at once.

A cell named like another suite, a system, a role or a tagged target would join that slice of
``--tag``; an ``EARLIEST_TESTED_RELEASE`` that no system pins, or an
``EARLIEST_TESTED_RELEASE_<SYSTEM>`` naming no system (``[compat-matrix].earliest`` and
``earliest_per_system`` in pants.toml, or the environment), would move nothing. One BUILD file cannot
show either, and a target generator cannot ask for every target (generating them needs it), so
these run where the whole repo is at hand: before a cell test runs (``compat_plugin.runner``,
which every generated cell test requests before its process starts) and in ``compat-plan``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pants.engine.rules import collect_rules, rule
from pants.engine.target import AllUnexpandedTargets, InvalidTargetException, Tags

from compat_core.errors import CompatMatrixError
from compat_core.settings import Settings
from compat_core.validate_names import validate_repo_names
from compat_core.versions import check_earliest_overrides
from compat_plugin.suite_target import CompatSuiteTarget, suite_of
from compat_plugin.target_types import CompatSystemTarget, system_of


@dataclass(frozen=True)
class RepoCheckRequest:
    """Check the repo's systems and suites against each other and the settings."""


@dataclass(frozen=True)
class RepoChecked:
    """The repo passed ``check_repo``."""


@rule(desc="Check the repo's cells, systems and earliest overrides")
async def check_repo(_: RepoCheckRequest, targets: AllUnexpandedTargets, settings: Settings) -> RepoChecked:
    systems = {t.address.target_name: (str(t.address), system_of(t)) for t in targets if isinstance(t, CompatSystemTarget)}
    suites = [
        (str(t.address), suite_of(t), tuple(t[Tags].value or ())) for t in targets if isinstance(t, CompatSuiteTarget)
    ]
    other_tags: dict[str, str] = {}
    for target in targets:
        # Generated targets carry what the claims above cover (a cell test's tags, an artifact's
        # role and version), and cell names, which may repeat across suites.
        if target.address.is_generated_target:
            continue
        if not isinstance(target, CompatSuiteTarget) and target.has_field(Tags):
            for tag in target[Tags].value or ():
                other_tags.setdefault(tag, str(target.address))
    overrides = settings.earliest_env
    try:
        validate_repo_names(systems, suites, other_tags)
        check_earliest_overrides([(name, system.releases) for name, (_, system) in systems.items()], overrides)
    except CompatMatrixError as exc:
        raise InvalidTargetException(str(exc)) from None
    return RepoChecked()


def rules() -> tuple[Any, ...]:
    return tuple(collect_rules())


__all__ = ("RepoCheckRequest", "RepoChecked", "rules")

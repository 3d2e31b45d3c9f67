"""The ``[compat-matrix]`` subsystem: compat-matrix's settings in pants.toml, shown by
``./pants help compat-matrix``.

Thin: what each setting means, its default, its checks and its environment variable live in
``compat_core.settings``; this module declares them as Pants options and builds the one
``Settings`` the plugin's rules use (``compat_settings``): the options, then every environment
override that is set and not empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pants.engine.env_vars import CompleteEnvironmentVars
from pants.engine.rules import collect_rules, rule
from pants.option.option_types import BoolOption, DictOption, IntOption, StrOption
from pants.option.subsystem import Subsystem

from compat_core.settings import SCOPE, SETTINGS, Settings

_DEFAULTS = Settings()
_BY_NAME = {setting.name: setting for setting in SETTINGS}


def setting_help(name: str) -> str:
    """The help of option ``name``: what it means, its default, and its environment override."""
    setting = _BY_NAME[name]
    default = getattr(_DEFAULTS, name)
    shown = _shown(default)
    if setting.env:
        override = (
            f"Environment override: {setting.env}; when set and not empty it wins over this option, "
            f"however the option is set."
        )
    else:
        override = "Environment override: none (Pants' own variable above sets the option)."
    return f"{setting.help}\n\nDefault: {shown}. {override}"


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    return {"": "empty", (): "{}"}.get(value, str(value)) if isinstance(value, (str, tuple)) else str(value)


class CompatMatrixSubsystem(Subsystem):
    options_scope = SCOPE
    help = (
        "compat-matrix's settings: the docker cells' base image and limits, host isolation, the "
        "upgrade seed, the full matrix, the `earliest` overrides and the report's location. An "
        "environment variable named in an option's help overrides that option when set and not empty."
    )

    base_image = StrOption(default=_DEFAULTS.base_image, help=setting_help("base_image"))
    docker_cpus = StrOption(default=_DEFAULTS.docker_cpus, help=setting_help("docker_cpus"))
    docker_memory = StrOption(default=_DEFAULTS.docker_memory, help=setting_help("docker_memory"))
    docker_pids = IntOption(default=_DEFAULTS.docker_pids, help=setting_help("docker_pids"))
    isolate_host = BoolOption(default=_DEFAULTS.isolate_host, help=setting_help("isolate_host"))
    seed = IntOption(default=None, help=setting_help("seed"))
    full_matrix = BoolOption(default=_DEFAULTS.full_matrix, help=setting_help("full_matrix"))
    earliest = StrOption(default=_DEFAULTS.earliest, help=setting_help("earliest"))
    earliest_per_system = DictOption[str](default={}, help=setting_help("earliest_per_system"))
    report_dir = StrOption(default=_DEFAULTS.report_dir, help=setting_help("report_dir"))
    """Where the matrix report goes (``compat-report``), relative to the build root."""

    def option_values(self) -> dict[str, Any]:
        """Every option's value by setting name."""
        return {setting.name: getattr(self, setting.name) for setting in SETTINGS if setting.option}

    def settings(self, environ: Mapping[str, str]) -> Settings:
        """The options, each overridden by its environment variable in ``environ`` when set."""
        return Settings.from_options(self.option_values()).with_env(environ)


@rule(desc="Read the [compat-matrix] settings")
async def compat_settings(subsystem: CompatMatrixSubsystem, environ: CompleteEnvironmentVars) -> Settings:
    return subsystem.settings(environ)


def rules() -> tuple[Any, ...]:
    return tuple(collect_rules())


__all__ = ("CompatMatrixSubsystem", "compat_settings", "rules", "setting_help")

"""The settings of compat-matrix: one typed object, its defaults, and the one on/off parser.

Pure and CPython 3.9-compatible: the environment is passed in as a mapping. Three readers, one
object:

- the Pants plugin builds ``Settings`` from its ``[compat-matrix]`` options
  (``Settings.from_options``), then lets the environment override them (``with_env``), plans
  with it and gives each cell test what its process needs (``cell_env``);
- the harness, in a cell test's process or outside Pants (``pytest --compat-plan``,
  ``compat-matrix up``), reads ``Settings.from_env(os.environ)``;
- ``SETTINGS`` says what each setting means, its environment variable and whether pants.toml
  sets it: the subsystem's help is made from it.

Precedence: an environment variable that is set and not empty wins over the pants.toml option,
which wins over the default here. A flag is read strictly (``parse_flag``): ``false`` is off and a
typo is an error, never a silent "on".
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from compat_core.contract import (
    BACKEND_ENV,
    BASE_IMAGE_ENV,
    CELL_ENV,
    DOCKER_BACKEND,
    DOCKER_CPUS_ENV,
    DOCKER_HOST_ENV,
    DOCKER_MEMORY_ENV,
    DOCKER_PIDS_ENV,
    EARLIEST_ENV,
    FULL_MATRIX_ENV,
    ISOLATE_HOST_ENV,
    NO_WATCHDOG_ENV,
    SEED_ENV,
    SESSIONS_DIR_ENV,
    WATCHDOG_SOCKET_ENV,
)
from compat_core.errors import SettingError
from compat_core.limits import DEFAULT_MEMORY, DEFAULT_PIDS, CpuLimits, check_memory, check_pids
from compat_core.versions import system_earliest_env

TRUE_VALUES = ("1", "true", "yes", "on")
FALSE_VALUES = ("0", "false", "no", "off")

DEFAULT_BASE_IMAGE = "python:3.11-slim-bookworm"
"""A public image with CPython 3.11 as ``python3``: what a repo gets where a registry is reachable."""

DEFAULT_REPORT_DIR = "dist/compat-matrix"
"""Where the matrix report goes, relative to the build root."""

SCOPE = "compat-matrix"
"""The plugin's options scope: ``[compat-matrix]`` in pants.toml, ``./pants help compat-matrix``."""

_IMAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")


def parse_flag(name: str, value: str, default: bool = False) -> bool:
    """``value`` of the on/off setting ``name`` as a bool; empty means ``default``.

    Raises ``SettingError`` naming the setting, the value and the accepted values.
    """
    text = value.strip().lower()
    if text == "":
        return default
    if text in FALSE_VALUES:
        return False
    if text in TRUE_VALUES:
        return True
    raise SettingError(
        f"{name}={value!r} is not an on/off value; set it to one of {', '.join(TRUE_VALUES)} (on) "
        f"or {', '.join(FALSE_VALUES)} (off), or unset it ({'on' if default else 'off'})"
    )


def flag(environ: Mapping[str, str], name: str, default: bool = False) -> bool:
    """The on/off environment variable ``name`` in ``environ`` (unset or empty: ``default``)."""
    return parse_flag(name, environ.get(name, ""), default)


@dataclass(frozen=True)
class Setting:
    """One setting: its ``Settings`` field (also its ``[compat-matrix]`` option), the environment
    variable that overrides it, and what it means."""

    name: str
    env: str
    help: str
    option: bool = True
    """False: the harness's alone (tests and debugging), no pants.toml option."""


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "base_image",
        BASE_IMAGE_ENV,
        "The image every role image starts FROM, and the docker watchdog runs: any image with CPython "
        "3.11 as `python3` on PATH. The engine pulls it if it does not have it.",
    ),
    Setting(
        "docker_cpus",
        DOCKER_CPUS_ENV,
        "CPU limit of a docker instance, over its role's `cpus`: `1.5` for every role, "
        "`worker=0.5,server=2` per role, or both (`1,worker=0.5`). Empty: the role's, else 1.",
    ),
    Setting(
        "docker_memory",
        DOCKER_MEMORY_ENV,
        "Memory limit (swap included) of a docker instance whose role declares no `memory`, e.g. `2g`.",
    ),
    Setting("docker_pids", DOCKER_PIDS_ENV, "How many processes a docker instance may run."),
    Setting(
        "isolate_host",
        ISOLATE_HOST_ENV,
        "Reject new connections from a docker cell's network to the host (an iptables rule, which "
        "needs root). Off: the network is only internal.",
    ),
    Setting(
        "seed",
        SEED_ENV,
        "Plan every upgrade path with this seed (a whole number) instead of the one its suite declares.",
    ),
    Setting(
        "full_matrix",
        FULL_MATRIX_ENV,
        "Add every version combination to the suites that opt in (`compat_suite(full_matrix=True)`).",
    ),
    Setting(
        "earliest",
        EARLIEST_ENV,
        "Move `earliest` to this release for every system that pins it (it must be pinned by one).",
    ),
    Setting(
        "earliest_per_system",
        EARLIEST_ENV + "_<SYSTEM>",
        "Move `earliest` of one system: {system name: pinned release}. The environment variable's "
        "<SYSTEM> is the name upper-cased, with `-` and `.` as `_` (EARLIEST_TESTED_RELEASE_DAGSTER).",
    ),
    Setting("report_dir", "", "Where the matrix report is written, relative to the build root."),
    Setting("sessions_dir", SESSIONS_DIR_ENV, "Where sessions are recorded (default: a temp dir).", False),
    Setting("no_watchdog", NO_WATCHDOG_ENV, "Start no watchdog with a session.", False),
    Setting("watchdog_socket", WATCHDOG_SOCKET_ENV, "The engine socket on the engine's host.", False),
    Setting("docker_host", DOCKER_HOST_ENV, "Where the Docker engine listens (Docker's own).", False),
    Setting("cell", CELL_ENV, "The cell a cell test runs, as JSON (the plugin sets it).", False),
    Setting("backend", BACKEND_ENV, "The backend a cell test runs on (the plugin sets it).", False),
)
"""Every setting, in the order ``./pants help compat-matrix`` shows them."""

DOCKER_SETTINGS = ("base_image", "docker_cpus", "docker_memory", "docker_pids", "isolate_host")
"""What a docker cell's test process needs (``Settings.cell_env``)."""


@dataclass(frozen=True)
class Settings:
    """Every setting, typed and checked (``SETTINGS`` says what each means). Hashable: the plugin's
    rules pass it around."""

    base_image: str = DEFAULT_BASE_IMAGE
    docker_cpus: str = ""
    docker_memory: str = DEFAULT_MEMORY
    docker_pids: int = DEFAULT_PIDS
    isolate_host: bool = True
    seed: int | None = None
    full_matrix: bool = False
    earliest: str = ""
    earliest_per_system: tuple[tuple[str, str], ...] = ()
    """(environment variable, release) pairs, sorted: ``EARLIEST_TESTED_RELEASE_<SYSTEM>``."""
    report_dir: str = DEFAULT_REPORT_DIR
    sessions_dir: str = ""
    no_watchdog: bool = False
    watchdog_socket: str = ""
    docker_host: str = ""
    cell: str = ""
    backend: str = ""

    @staticmethod
    def from_env(environ: Mapping[str, str], base: Settings | None = None) -> Settings:
        """``base`` (default: the defaults) with every setting whose environment variable is set
        and not empty in ``environ`` replaced by its value."""
        base = base or Settings()
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = environ.get(setting.env, "").strip() if setting.env else ""
            if raw and setting.name != "earliest_per_system":
                values[setting.name] = _parse(setting.name, raw, setting.env)
        prefix = EARLIEST_ENV + "_"
        own = {name: value.strip() for name, value in environ.items() if name.startswith(prefix) and value.strip()}
        if own:
            values["earliest_per_system"] = tuple(sorted({**dict(base.earliest_per_system), **own}.items()))
        return dataclasses.replace(base, **values)

    def with_env(self, environ: Mapping[str, str]) -> Settings:
        """These settings overridden by ``environ`` (``from_env`` with these as the base)."""
        return Settings.from_env(environ, self)

    @staticmethod
    def from_options(options: Mapping[str, object]) -> Settings:
        """The ``[compat-matrix]`` options' values by setting name (missing ones: the default).

        ``earliest_per_system`` is {system name: release}. Raises ``SettingError`` naming the
        option (``[compat-matrix].docker_pids``), its value and the fix.
        """
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            if not setting.option or setting.name not in options or options[setting.name] is None:
                continue
            value = options[setting.name]
            label = f"[{SCOPE}].{setting.name}"
            if setting.name == "earliest_per_system":
                pairs = dict(value) if isinstance(value, Mapping) else {}
                values[setting.name] = tuple(
                    sorted((system_earliest_env(str(k)), str(v).strip()) for k, v in pairs.items() if str(v).strip())
                )
            else:
                values[setting.name] = _parse(setting.name, value, label)
        return Settings(**values)

    @property
    def cpu_limits(self) -> CpuLimits:
        return CpuLimits.parse(self.docker_cpus, DOCKER_CPUS_ENV)

    @property
    def earliest_env(self) -> dict[str, str]:
        """The ``earliest`` overrides as ``compat_core.versions`` reads them: variable -> release."""
        shared = {EARLIEST_ENV: self.earliest} if self.earliest else {}
        return {**shared, **dict(self.earliest_per_system)}

    def to_env(self, names: tuple[str, ...] | None = None) -> dict[str, str]:
        """The settings ``names`` (default: every one that differs from its default) as the
        environment ``from_env`` reads back into the same values."""
        default = Settings()
        out: dict[str, str] = {}
        for setting in SETTINGS:
            value = getattr(self, setting.name)
            wanted = setting.name in names if names is not None else value != getattr(default, setting.name)
            if not wanted or not setting.env:
                continue
            if setting.name == "earliest_per_system":
                out.update(dict(self.earliest_per_system))
            elif isinstance(value, bool):
                out[setting.env] = "true" if value else "false"
            elif value is not None and value != "":
                out[setting.env] = str(value)
        return out

    def cell_env(self, backend: str) -> dict[str, str]:
        """What a cell test's process on ``backend`` needs, as ``NAME=value`` environment: the
        docker settings for a docker cell, nothing for a process cell (the plan is in the cell)."""
        return self.to_env(DOCKER_SETTINGS) if backend == DOCKER_BACKEND else {}


def _parse(name: str, value: object, label: str) -> object:
    """The value of setting ``name`` (a string from the environment, or an option's typed value),
    checked; ``label`` names where it came from in an error."""
    parse = _PARSERS.get(name, _text)
    return parse(value, label)


def _text(value: object, label: str) -> str:
    return str(value).strip()


def _flag(value: object, label: str) -> bool:
    return value if isinstance(value, bool) else parse_flag(label, str(value))


def _seed(value: object, label: str) -> int:
    text = str(value).strip()
    if not text.isdigit():
        raise SettingError(
            f"{label}={text!r} is not a seed; set it to a whole number >= 0 (e.g. {label}=7), or unset it "
            f"to use the seed the suite declares"
        )
    return int(text)


def _image(value: object, label: str) -> str:
    text = str(value).strip()
    if not _IMAGE_RE.match(text):
        raise SettingError(
            f"{label}={text!r} is not an image reference; set it to an image with CPython 3.11 as python3, "
            f"e.g. {DEFAULT_BASE_IMAGE}"
        )
    return text


def _cpus(value: object, label: str) -> str:
    text = str(value).strip()
    CpuLimits.parse(text, label)
    return text


def _report_dir(value: object, label: str) -> str:
    text = str(value).strip()
    if not text:
        raise SettingError(f"{label} is empty; set it to a directory under the build root, e.g. {DEFAULT_REPORT_DIR}")
    return text


_PARSERS: dict[str, Callable[[object, str], object]] = {
    "base_image": _image,
    "docker_cpus": _cpus,
    "docker_memory": lambda value, label: check_memory(str(value), label),
    "docker_pids": lambda value, label: check_pids(value, label),
    "isolate_host": _flag,
    "seed": _seed,
    "full_matrix": _flag,
    "report_dir": _report_dir,
    "no_watchdog": _flag,
}


__all__ = (
    "DEFAULT_BASE_IMAGE",
    "DEFAULT_REPORT_DIR",
    "DOCKER_SETTINGS",
    "FALSE_VALUES",
    "SCOPE",
    "SETTINGS",
    "TRUE_VALUES",
    "Setting",
    "Settings",
    "flag",
    "parse_flag",
)

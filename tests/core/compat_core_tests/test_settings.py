"""The settings: one typed object, from the environment or the options, checked with errors that name
the value and the fix; on/off values are read strictly (a typo is an error, never a silent "on")."""

from __future__ import annotations

import dataclasses

import pytest

from compat_core.errors import SettingError
from compat_core.settings import (
    DEFAULT_BASE_IMAGE,
    DOCKER_SETTINGS,
    FALSE_VALUES,
    SETTINGS,
    TRUE_VALUES,
    Settings,
    flag,
    parse_flag,
)
from compat_core_tests.expect import expect_error


@pytest.mark.parametrize("value", [*TRUE_VALUES, "TRUE", " Yes ", "On"])
def test_on(value: str) -> None:
    assert parse_flag("X", value) is True


@pytest.mark.parametrize("value", [*FALSE_VALUES, "FALSE", " no "])
def test_off(value: str) -> None:
    assert parse_flag("X", value, default=True) is False


def test_unset_or_empty_is_the_default() -> None:
    assert flag({}, "X") is False
    assert flag({}, "X", default=True) is True
    assert flag({"X": "  "}, "X", default=True) is True


@pytest.mark.parametrize("value", ["ture", "2", "y", "enabled"])
def test_anything_else_is_an_error_naming_the_variable_the_value_and_the_choices(value: str) -> None:
    with expect_error(SettingError, f"X={value!r} is not an on/off value", "1, true, yes, on", "0, false, no, off", "or unset it (off)"):
        flag({"X": value}, "X")


# --- the settings object -------------------------------------------------------------------------


def test_the_defaults_need_no_repo_of_ours() -> None:
    settings = Settings()
    assert settings.base_image == DEFAULT_BASE_IMAGE == "python:3.11-slim-bookworm"
    assert (settings.docker_memory, settings.docker_pids, settings.isolate_host) == ("1g", 1024, True)
    assert (settings.seed, settings.full_matrix, settings.earliest_env) == (None, False, {})
    assert settings.report_dir == "dist/compat-matrix"
    assert Settings.from_env({}) == settings


def test_every_setting_has_a_field_and_each_variable_one_setting() -> None:
    assert [s.name for s in SETTINGS] == [f.name for f in dataclasses.fields(Settings)]
    variables = [s.env for s in SETTINGS if s.env]
    assert len(variables) == len(set(variables))
    assert set(DOCKER_SETTINGS) <= {s.name for s in SETTINGS}


def test_the_existing_variables_keep_working() -> None:
    settings = Settings.from_env(
        {
            "BASE_IMAGE": "compat-matrix/base:bookworm",
            "COMPAT_MATRIX_DOCKER_CPUS": "1,web=0.5",
            "COMPAT_MATRIX_DOCKER_MEMORY": "2g",
            "COMPAT_MATRIX_DOCKER_PIDS": "64",
            "COMPAT_MATRIX_DOCKER_ISOLATE_HOST": "0",
            "COMPAT_MATRIX_SEED": "5",
            "COMPAT_MATRIX_FULL": "yes",
            "EARLIEST_TESTED_RELEASE": "0.2.0",
            "EARLIEST_TESTED_RELEASE_DAGSTER": "1.13.27",
            "COMPAT_MATRIX_SESSIONS_DIR": "/s",
            "COMPAT_MATRIX_NO_WATCHDOG": "1",
            "UNRELATED": "x",
        }
    )
    assert settings.base_image == "compat-matrix/base:bookworm"
    assert settings.cpu_limits.every == 1.0 and dict(settings.cpu_limits.roles) == {"web": 0.5}
    assert (settings.docker_memory, settings.docker_pids, settings.isolate_host) == ("2g", 64, False)
    assert (settings.seed, settings.full_matrix, settings.sessions_dir, settings.no_watchdog) == (5, True, "/s", True)
    assert settings.earliest_env == {"EARLIEST_TESTED_RELEASE": "0.2.0", "EARLIEST_TESTED_RELEASE_DAGSTER": "1.13.27"}


def test_the_environment_wins_over_the_options_and_empty_means_unset() -> None:
    options = Settings.from_options(
        {"base_image": "compat-matrix/base:bookworm", "seed": 3, "earliest_per_system": {"dagster": "1.12.22"}}
    )
    assert options.earliest_env == {"EARLIEST_TESTED_RELEASE_DAGSTER": "1.12.22"}
    assert options.with_env({"BASE_IMAGE": " ", "COMPAT_MATRIX_SEED": ""}) == options
    both = options.with_env({"COMPAT_MATRIX_SEED": "5", "EARLIEST_TESTED_RELEASE_DAGSTER": "1.13.27"})
    assert (both.base_image, both.seed) == ("compat-matrix/base:bookworm", 5)
    assert both.earliest_env == {"EARLIEST_TESTED_RELEASE_DAGSTER": "1.13.27"}


def test_the_environment_round_trips_and_a_docker_cell_gets_only_the_docker_settings() -> None:
    settings = Settings.from_options({"base_image": "img:1", "docker_cpus": "2", "isolate_host": False, "seed": 7})
    assert Settings.from_env(settings.to_env()) == settings
    assert settings.cell_env("process") == {}
    assert settings.cell_env("docker") == {
        "BASE_IMAGE": "img:1",
        "COMPAT_MATRIX_DOCKER_CPUS": "2",
        "COMPAT_MATRIX_DOCKER_MEMORY": "1g",
        "COMPAT_MATRIX_DOCKER_PIDS": "1024",
        "COMPAT_MATRIX_DOCKER_ISOLATE_HOST": "false",
    }
    assert Settings.from_env(settings.cell_env("docker")).isolate_host is False
    hash(settings)  # the plugin's rules pass it around


@pytest.mark.parametrize(
    ("variable", "value", "fragments"),
    [
        ("COMPAT_MATRIX_DOCKER_PIDS", "many", ("COMPAT_MATRIX_DOCKER_PIDS='many' is not a whole number", "e.g. 1024")),
        ("COMPAT_MATRIX_DOCKER_PIDS", "0", ("COMPAT_MATRIX_DOCKER_PIDS='0'", "above 0")),
        ("COMPAT_MATRIX_DOCKER_MEMORY", "lots", ("COMPAT_MATRIX_DOCKER_MEMORY='lots' is not an amount", "e.g. 512m or 2g")),
        ("COMPAT_MATRIX_DOCKER_CPUS", "web=", ("COMPAT_MATRIX_DOCKER_CPUS='web='", "worker=0.5,server=2")),
        ("COMPAT_MATRIX_DOCKER_ISOLATE_HOST", "maybe", ("COMPAT_MATRIX_DOCKER_ISOLATE_HOST='maybe'", "0, false")),
        ("COMPAT_MATRIX_FULL", "ture", ("COMPAT_MATRIX_FULL='ture' is not an on/off value", "1, true, yes, on")),
        ("COMPAT_MATRIX_NO_WATCHDOG", "2", ("COMPAT_MATRIX_NO_WATCHDOG='2'",)),
        ("COMPAT_MATRIX_SEED", "-1", ("COMPAT_MATRIX_SEED='-1' is not a seed", "whole number >= 0")),
        ("BASE_IMAGE", "python 3", ("BASE_IMAGE='python 3' is not an image reference", DEFAULT_BASE_IMAGE)),
    ],
)
def test_a_bad_variable_names_itself_its_value_and_the_fix(variable: str, value: str, fragments: tuple[str, ...]) -> None:
    with expect_error(SettingError, *fragments):
        Settings.from_env({variable: value})


def test_a_bad_option_names_the_option() -> None:
    with expect_error(SettingError, "[compat-matrix].docker_pids='-3'", "e.g. 1024"):
        Settings.from_options({"docker_pids": -3})
    with expect_error(SettingError, "[compat-matrix].docker_cpus='x'"):
        Settings.from_options({"docker_cpus": "x"})
    with expect_error(SettingError, "[compat-matrix].report_dir is empty", "dist/compat-matrix"):
        Settings.from_options({"report_dir": " "})


def test_options_the_harness_alone_reads_are_not_taken_from_pants_toml() -> None:
    assert Settings.from_options({"sessions_dir": "/x", "no_watchdog": True}) == Settings()

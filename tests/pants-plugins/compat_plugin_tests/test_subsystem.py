"""The ``[compat-matrix]`` subsystem: every setting an option with its default and override in its
help, and the ``Settings`` the plugin's rules get (options, then the environment)."""

from __future__ import annotations

import pytest
from pants.engine.internals.scheduler import ExecutionError
from pants.option.option_types import collect_options_info
from pants.testutil.rule_runner import QueryRule, RuleRunner

from compat_core.settings import SETTINGS, Settings
from compat_plugin.subsystem import CompatMatrixSubsystem, setting_help
from compat_plugin_tests.plugin_runner import make_rule_runner


@pytest.fixture
def rule_runner() -> RuleRunner:
    return make_rule_runner(QueryRule(Settings, []))


def settings(rule_runner: RuleRunner, *args: str, env: dict[str, str] | None = None) -> Settings:
    rule_runner.set_options(list(args), env=env or {})
    return rule_runner.request(Settings, [])


def test_every_setting_pants_toml_sets_is_an_option_whose_help_says_default_and_override() -> None:
    options = {info.flag_names[0] for info in collect_options_info(CompatMatrixSubsystem)}
    for setting in SETTINGS:
        flag = "--" + setting.name.replace("_", "-")
        assert (flag in options) == setting.option, setting.name
        if setting.option:
            text = setting_help(setting.name)
            assert "Default: " in text and "Environment override: " in text, text
            assert setting.env in text
    assert "Default: python:3.11-slim-bookworm. Environment override: BASE_IMAGE" in setting_help("base_image")


def test_the_options_then_the_environment(rule_runner: RuleRunner) -> None:
    assert settings(rule_runner) == Settings()
    chosen = settings(
        rule_runner,
        "--compat-matrix-base-image=compat-matrix/base:bookworm",
        "--compat-matrix-seed=3",
        "--compat-matrix-full-matrix",
        "--compat-matrix-earliest-per-system={'dagster': '1.12.22'}",
        "--compat-matrix-report-dir=out/matrix",
        env={"COMPAT_MATRIX_SEED": "5", "EARLIEST_TESTED_RELEASE": "0.2.0"},
    )
    assert (chosen.base_image, chosen.seed, chosen.full_matrix, chosen.report_dir) == (
        "compat-matrix/base:bookworm",
        5,
        True,
        "out/matrix",
    )
    assert chosen.earliest_env == {"EARLIEST_TESTED_RELEASE": "0.2.0", "EARLIEST_TESTED_RELEASE_DAGSTER": "1.12.22"}


def test_pants_own_variables_set_the_options(rule_runner: RuleRunner) -> None:
    assert settings(rule_runner, env={"PANTS_COMPAT_MATRIX_DOCKER_PIDS": "64"}).docker_pids == 64


def test_a_bad_option_fails_naming_it(rule_runner: RuleRunner) -> None:
    with pytest.raises(ExecutionError, match=r"\[compat-matrix\]\.docker_memory='lots' is not an amount of memory"):
        settings(rule_runner, "--compat-matrix-docker-memory=lots")

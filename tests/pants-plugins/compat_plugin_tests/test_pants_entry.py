"""The launcher's Pants entry point (build-support/bootstrap/pants_entry.py) on the Pants it runs.

It makes Pants build its plugin-resolving "bootstrap" scheduler only when ``[GLOBAL].plugins``
names a plugin: 5 s of every pantsd start here. If Pants' internals it relies on change, the
patch is not applied (and this test says so), rather than failing at start.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pants.engine.env_vars import CompleteEnvironmentVars
from pants.init import options_initializer
from pants.testutil.option_util import create_options_bootstrapper

ENTRY = Path("build-support/bootstrap/pants_entry.py")


class Built(Exception):
    """Raised by the stand-in for Pants' create_bootstrap_scheduler: a scheduler was built."""


def load_entry() -> ModuleType:
    # The repo root, or the sandbox of tests/pants-plugins:py39 (which depends on //:launcher).
    spec = importlib.util.spec_from_file_location("pants_entry", ENTRY.resolve())
    assert spec and spec.loader, f"{ENTRY} is missing under {Path.cwd()}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def initializer(monkeypatch: pytest.MonkeyPatch) -> Any:
    def create(*args: Any) -> Any:
        raise Built()

    monkeypatch.setattr(options_initializer, "create_bootstrap_scheduler", create)
    assert load_entry().skip_unused_bootstrap_scheduler(monkeypatch.setattr), "the patch no longer applies to this Pants"
    return options_initializer.OptionsInitializer(create_options_bootstrapper([]), executor=None)


def test_without_plugins_no_bootstrap_scheduler_is_built(initializer: Any) -> None:
    resolved = initializer._plugin_resolver.resolve(create_options_bootstrapper([]), CompleteEnvironmentVars({}))
    assert resolved is not None


def test_a_plugin_to_resolve_builds_it(initializer: Any) -> None:
    with pytest.raises(Built):
        initializer._plugin_resolver.resolve(
            create_options_bootstrapper(["--plugins=['some-plugin==1.0']"]), CompleteEnvironmentVars({})
        )

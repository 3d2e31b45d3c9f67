"""Pants 2.17.1's entry point, without the scheduler it builds and, here, never uses.

Every Pants process that sets up an engine (pantsd, and the client under ``--no-pantsd``) first
builds a "bootstrap" scheduler from the Python backend's rules, whose only use is to resolve
``[GLOBAL].plugins`` (plugins from an index). Solving its rule graph costs seconds of CPU on
every start of pantsd. This repo's plugin comes from ``pythonpath``, so
``plugins`` is empty, and Pants' rule then returns no distributions. With this entry point the
bootstrap scheduler is built the first time a plugin is to be resolved, never when there is none.

``./pants`` runs this file with the Pants venv's Python. Pants starts pantsd as
``sys.executable + sys.argv``, so pantsd goes through it too. Any other Pants version, or a 2.17.1
whose internals differ, runs unchanged (``skip_unused_bootstrap_scheduler`` returns False).
"""

from __future__ import annotations

import sys
from typing import Any, Callable

PANTS_VERSION = "2.17.1"


def skip_unused_bootstrap_scheduler(setattr_: Callable[[Any, str, Any], None] = setattr) -> bool:
    """Build Pants' bootstrap scheduler only when a plugin is to be resolved; True if applied."""
    try:
        from pants.init import options_initializer, plugin_resolver
        from pants.version import VERSION
    except ImportError:
        return False
    resolver = plugin_resolver.PluginResolver
    if str(VERSION) != PANTS_VERSION or not all(
        (
            hasattr(options_initializer, "create_bootstrap_scheduler"),
            hasattr(resolver, "_resolve_plugins"),
            hasattr(plugin_resolver, "ResolvedPluginDistributions"),
        )
    ):
        return False
    create = options_initializer.create_bootstrap_scheduler
    resolve = resolver._resolve_plugins

    class LazyBootstrapScheduler:
        """Stands in for the BootstrapScheduler: builds it on first use of ``.scheduler``."""

        def __init__(self, *args: Any) -> None:
            self._args = args
            self._built: Any = None

        @property
        def scheduler(self) -> Any:
            if self._built is None:
                self._built = create(*self._args)
            return self._built.scheduler

    def resolve_plugins(self: Any, options_bootstrapper: Any, env: Any, request: Any) -> Any:
        if not options_bootstrapper.get_bootstrap_options().for_global_scope().plugins:
            return plugin_resolver.ResolvedPluginDistributions()
        return resolve(self, options_bootstrapper, env, request)

    setattr_(options_initializer, "create_bootstrap_scheduler", LazyBootstrapScheduler)
    setattr_(resolver, "_resolve_plugins", resolve_plugins)
    return True


def main() -> None:
    skip_unused_bootstrap_scheduler()
    from pants.bin.pants_loader import main as pants_main

    pants_main()


if __name__ == "__main__":
    sys.exit(main())

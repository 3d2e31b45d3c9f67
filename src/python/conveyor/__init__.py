"""conveyor: a small job service.

Only the user API lives here; the server, code server and cluster roles are imported
lazily by the CLI so that a role's build holds only what that role needs.
"""

from conveyor.definitions import Definitions, RunContext, job, task
from conveyor.version import __version__

__all__ = ["Definitions", "RunContext", "__version__", "job", "task"]

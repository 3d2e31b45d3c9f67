# The harness's fixtures and hooks (cell, deployment, ...): pytest forbids `pytest_plugins` in a
# non-root conftest, so the plugin is imported here.
from compat_matrix.pytest_plugin import *  # noqa: F401,F403

"""The conveyor release version and the code-location protocol version.

PROTOCOL_VERSION is bumped whenever the gRPC protocol gains something (additively);
see docs/compatibility.md. Keep __version__ in agreement with the `dist` target in BUILD
(a unit test checks it).
"""

__version__ = "0.3.0.dev0"
# 1: 0.1.0 (GetServerInfo, ListJobs, ExecuteRun). 2: 0.2.0 adds CancelRun / capability "cancel".
PROTOCOL_VERSION = 2

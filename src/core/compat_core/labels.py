"""Every ``compat-matrix.*`` label: on images, containers, networks and volumes, and in JUnit reports.

One home, so the images the plugin builds, the containers the backends start, the reaper that
removes a dead session's leftovers and the report that reads the results agree on each name.
Pure and CPython 3.9-compatible (the Pants plugin labels the images it generates).
"""

from __future__ import annotations

# On every role image (the plugin's docker_image targets and the harness's own builds).
IMAGE_LABEL_SYSTEM = "compat-matrix.system"
IMAGE_LABEL_ROLE = "compat-matrix.role"
IMAGE_LABEL_VERSION = "compat-matrix.version"

# On every container and network of a session: the contract with the reaper.
LABEL_SESSION = "compat-matrix.session"
LABEL_OWNER_PID = "compat-matrix.owner-pid"
# The owner's create time, so the reaper never mistakes a reused pid for a live owner.
LABEL_OWNER_CREATED = "compat-matrix.owner-create-time"
# The session record file, so a reaper using another sessions directory leaves it alone.
LABEL_SESSION_RECORD = "compat-matrix.session-record"

# On every container of a deployment, besides the image's role and version.
LABEL_CELL = "compat-matrix.cell"
LABEL_INSTANCE = "compat-matrix.instance"

# The bytecode volume of a role image, the image a sources image's bytecode lives in, and the
# container that fills a volume.
BYTECODE_VOLUME_LABEL = "compat-matrix.bytecode"
BYTECODE_OF_LABEL = "compat-matrix.bytecode-of"
BYTECODE_FILLER_LABEL = "compat-matrix.bytecode-filler"

# On every container/network of a watched session: the watchdog whose disconnect removes it.
LABEL_WATCHED_BY = "compat-matrix.watchdog"
# On the watchdog container itself (never LABEL_SESSION: a deployment's own cleanup must not see it).
LABEL_WATCHDOG_ID = "compat-matrix.watchdog-id"
LABEL_WATCHDOG_SESSION = "compat-matrix.watchdog-session"


__all__ = (
    "BYTECODE_FILLER_LABEL",
    "BYTECODE_OF_LABEL",
    "BYTECODE_VOLUME_LABEL",
    "IMAGE_LABEL_ROLE",
    "IMAGE_LABEL_SYSTEM",
    "IMAGE_LABEL_VERSION",
    "LABEL_CELL",
    "LABEL_INSTANCE",
    "LABEL_OWNER_CREATED",
    "LABEL_OWNER_PID",
    "LABEL_SESSION",
    "LABEL_SESSION_RECORD",
    "LABEL_WATCHDOG_ID",
    "LABEL_WATCHDOG_SESSION",
    "LABEL_WATCHED_BY",
)

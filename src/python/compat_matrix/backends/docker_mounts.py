"""The host side of a container's data directory: writable by the container's user, by no one else.

The role's data directory is bind-mounted from the deployment's work directory so it survives a
restart and its logs can be read afterwards. The container runs as an unprivileged user that is
not the driver's, so the directory must be writable by that user; world-writable (``0777``) would
also let any other local user plant or read files there. As root we give the directory to the
container's user with mode ``0700``; otherwise we cannot give it away, so the container runs as
the driver's own uid and gid instead (``0700`` again). The host (root, or the owner) still reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

from compat_core.errors import BackendError

DATA_DIR_MODE = 0o700


def _numeric_user(user: str) -> tuple[int, int]:
    uid, _, gid = user.partition(":")
    try:
        return int(uid), int(gid or uid)
    except ValueError:
        raise BackendError(
            f"container user {user!r} must be numeric UID:GID (e.g. 10001:10001) for a bind-mounted data "
            f"directory; set DockerOptions.user, or persist_data=False"
        ) from None


def share_data_dir(path: Path, user: str) -> str:
    """Create ``path`` for the container user ``user`` (``UID:GID``); return the user to run as."""
    uid, gid = _numeric_user(user)
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, uid, gid)
        path.chmod(DATA_DIR_MODE)
        return f"{uid}:{gid}"
    path.chmod(DATA_DIR_MODE)
    return f"{os.getuid()}:{os.getgid()}"


__all__ = ("DATA_DIR_MODE", "share_data_dir")

"""An instance's process tree on this machine: its ports, its process group's signals, its
descendants, and its log file.

An instance runs in its own process group (``start_new_session``), so a signal reaches every
process it started; descendants that leave the group are remembered (psutil checks a process's
identity by its create time) and killed on stop.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

import psutil

from compat_core.errors import BackendError
from compat_matrix.backends.common import LOCALHOST, LOG_TAIL_LINES, last_lines

_PORT_CLASH_SIGNS = ("address already in use", "eaddrinuse", "failed to bind", "only one usage of each socket")


def free_ports(count: int, host: str = LOCALHOST) -> list[int]:
    """``count`` distinct ports that were free on ``host`` a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file ('' when it does not exist)."""
    return last_lines(read_from(path), lines)


def signal_group(leader: subprocess.Popen[bytes] | None, sig: int) -> None:
    """Signal ``leader``'s process group; only while it is unreaped (so the group id is ours)."""
    if leader is None or leader.returncode is not None:
        return
    try:
        os.killpg(leader.pid, sig)
    except ProcessLookupError:
        pass


class PortTaken(BackendError):
    """An instance's port was taken by another process before the instance could bind it."""


def listening_ports(pid: int, descendants: Sequence[psutil.Process]) -> set[int] | None:
    """TCP ports the process tree listens on; None when that cannot be determined."""
    ports: set[int] = set()
    try:
        procs = [psutil.Process(pid), *descendants]
    except psutil.Error:
        return None
    for proc in procs:
        try:
            connections = proc.net_connections(kind="tcp")
        except psutil.NoSuchProcess:
            continue
        except psutil.Error:
            return None
        ports.update(c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN and c.laddr)
    return ports


def port_clash(log: str) -> bool:
    """Whether an instance's log says it could not bind its port."""
    text = log.lower()
    return any(sign in text for sign in _PORT_CLASH_SIGNS)


def merge_processes(old: Sequence[psutil.Process], new: Sequence[psutil.Process]) -> list[psutil.Process]:
    """``old`` and the processes of ``new`` not in it."""
    seen = {p.pid for p in old}
    return list(old) + [p for p in new if p.pid not in seen]


def read_from(path: Path, offset: int = 0) -> str:
    """The text of ``path`` from byte ``offset`` on ('' when it cannot be read)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


__all__ = ("PortTaken", "free_ports", "listening_ports", "merge_processes", "port_clash", "read_from", "signal_group", "tail")

"""Host isolation for a deployment's network: containers reach their peers, not the host.

An ``internal`` Docker network only drops traffic *forwarded* off its bridge; the host itself
still answers on the bridge's gateway address and, through it, on every address it owns (a
listener on the host's ``0.0.0.0`` accepts connections from the containers). So for each test
network we add one rule to the host's ``INPUT`` chain that rejects *new* connections arriving
from the network's bridge interface (``-i br-<id>``). Connections the driver opens to a
container are unaffected: their replies arrive as ``ESTABLISHED`` traffic.

Rules go into the iptables variant the engine uses (nft or legacy: the one holding Docker's
``DOCKER-USER`` chain), for IPv4 and, when the kernel has IPv6, IPv6. Each rule carries a
comment naming the session (``RULE_COMMENT_PREFIX``), so ``reap_host_rules`` can remove the
rules of dead sessions and of bridges that no longer exist, and nothing else.

The ``isolate_host`` setting (``[compat-matrix].isolate_host = false``, or
``COMPAT_MATRIX_DOCKER_ISOLATE_HOST=0``) turns this off, for a driver that cannot change the host's
firewall (not root); the network is then internal only.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compat_core.contract import ISOLATE_HOST_ENV
from compat_core.errors import BackendError

RULE_COMMENT_PREFIX = "compat-matrix session="
"""How our rules are recognised: the iptables comment is this prefix plus the session id."""

CHAIN = "INPUT"
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
IPTABLES_TIMEOUT = 30.0
_NET_DEVICES = Path("/sys/class/net")


def bridge_interface(network_attrs: Mapping[str, Any]) -> str:
    """The host interface of a bridge network: its configured name, else ``br-<first 12 of id>``."""
    options = network_attrs.get("Options") or {}
    return str(options.get(BRIDGE_NAME_OPTION) or f"br-{str(network_attrs['Id'])[:12]}")


def rule_spec(bridge: str, session_id: str, ipv6: bool = False) -> tuple[str, ...]:
    """The rule (without the chain action) rejecting new connections from ``bridge`` to the host."""
    reject = "icmp6-port-unreachable" if ipv6 else "icmp-port-unreachable"
    return (
        "-i", bridge,
        "-m", "conntrack", "--ctstate", "NEW",
        "-m", "comment", "--comment", f"{RULE_COMMENT_PREFIX}{session_id}",
        # Port-unreachable: a TCP connect fails at once with "connection refused", no timeout.
        "-j", "REJECT", "--reject-with", reject,
    )  # fmt: skip


@dataclass(frozen=True)
class Firewall:
    """The iptables commands (IPv4 and, if the kernel has it, IPv6) of the variant Docker uses."""

    commands: tuple[tuple[str, bool], ...]  # (binary, is_ipv6)

    @staticmethod
    def detect() -> Firewall:
        """The variant holding Docker's ``DOCKER-USER`` chain; plain ``iptables`` when none does.

        Raises ``BackendError`` naming the fix when there is no iptables at all.
        """
        ipv6 = Path("/proc/net/if_inet6").exists()
        for suffix in ("-nft", "-legacy"):
            binary = shutil.which(f"iptables{suffix}")
            if binary and _run([binary, "-w", "-S", "DOCKER-USER"], check=False).returncode == 0:
                return Firewall(_with_v6(binary, shutil.which(f"ip6tables{suffix}"), ipv6))
        binary = shutil.which("iptables")
        if binary is None:
            raise BackendError(
                "no iptables on PATH: the docker backend needs it to keep containers off the host "
                f"(Debian: apt-get install iptables); or set [compat-matrix].isolate_host = false (or {ISOLATE_HOST_ENV}=0) to run without host isolation"
            )
        return Firewall(_with_v6(binary, shutil.which("ip6tables"), ipv6))

    def add(self, bridge: str, session_id: str) -> None:
        """Insert the rejecting rule for ``bridge`` at the top of ``INPUT`` (IPv4 and IPv6)."""
        for binary, ipv6 in self.commands:
            result = _run([binary, "-w", "-I", CHAIN, "1", *rule_spec(bridge, session_id, ipv6)], check=False)
            if result.returncode != 0:
                self.remove(bridge, session_id)  # the family that succeeded, if any
                raise BackendError(
                    f"cannot add the host-isolation rule for bridge {bridge} with {binary}: "
                    f"{result.stderr.strip() or result.returncode}; run the tests as root (the rule keeps "
                    f"containers from reaching the host), or set [compat-matrix].isolate_host = false (or {ISOLATE_HOST_ENV}=0) to run without it"
                )

    def remove(self, bridge: str, session_id: str) -> None:
        """Delete the rule for ``bridge`` (every copy); tolerate it being gone."""
        for binary, ipv6 in self.commands:
            spec = rule_spec(bridge, session_id, ipv6)
            # -D deletes one copy per call; bounded, in case the rule was added more than once.
            for _ in range(8):
                if _run([binary, "-w", "-D", CHAIN, *spec], check=False).returncode != 0:
                    break

    def our_rules(self) -> list[tuple[str, tuple[str, ...]]]:
        """(binary, rule arguments after ``-A INPUT``) of every rule carrying our comment."""
        found: list[tuple[str, tuple[str, ...]]] = []
        for binary, _ in self.commands:
            listing = _run([binary, "-w", "-S", CHAIN], check=False)
            if listing.returncode != 0:
                continue
            for line in listing.stdout.splitlines():
                words = shlex.split(line)
                if words[:2] == ["-A", CHAIN] and any(w.startswith(RULE_COMMENT_PREFIX) for w in words):
                    found.append((binary, tuple(words[2:])))
        return found


def _with_v6(v4: str, v6: str | None, kernel_has_v6: bool) -> tuple[tuple[str, bool], ...]:
    return ((v4, False), (v6, True)) if v6 and kernel_has_v6 else ((v4, False),)


def _run(argv: Sequence[str], check: bool) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            list(argv), capture_output=True, text=True, timeout=IPTABLES_TIMEOUT, check=check
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(list(argv), 1, "", str(exc))


@dataclass(frozen=True)
class HostIsolation:
    """The rule that keeps one network's containers off the host; ``remove`` with the network."""

    firewall: Firewall
    bridge: str
    session_id: str

    @staticmethod
    def install(network_attrs: Mapping[str, Any], session_id: str) -> HostIsolation:
        """Add the rule for the network described by ``network_attrs`` (the engine's inspect data)."""
        isolation = HostIsolation(Firewall.detect(), bridge_interface(network_attrs), session_id)
        isolation.firewall.add(isolation.bridge, session_id)
        return isolation

    def remove(self) -> None:
        self.firewall.remove(self.bridge, self.session_id)


def remove_rules_after_networks(session_id: str, network_ids: Sequence[str], patience: float = 30.0) -> tuple[list[str], bool]:
    """After a session's owner died: wait up to ``patience`` seconds for the bridges of its
    networks (``network_ids``) to go (the docker watchdog removes the networks after their
    containers), then remove the session's rules; one line per rule removed, and whether the
    bridges are gone (the session left nothing on this host, as far as the host can see).

    Run on the host by the session's process watchdog (``process_watchdog``): the docker
    watchdog has no access to the host's firewall, and the reaper runs only at the next run.
    Never touches another session's rule. A bridge still there after ``patience`` keeps its
    rule (its containers may still run); the reaper removes it with the bridge.
    """
    bridges = [f"br-{network_id[:12]}" for network_id in network_ids]  # docker's default naming
    deadline = time.monotonic() + patience
    while any((_NET_DEVICES / b).exists() for b in bridges) and time.monotonic() < deadline:
        time.sleep(0.2)
    gone = not any((_NET_DEVICES / b).exists() for b in bridges)
    try:
        firewall = Firewall.detect()
    except BackendError:
        return [], gone
    lines: list[str] = []
    comment = f"{RULE_COMMENT_PREFIX}{session_id}"
    for binary, words in firewall.our_rules():
        bridge = words[words.index("-i") + 1] if "-i" in words else ""
        if comment not in words or (bridge and (_NET_DEVICES / bridge).exists()):
            continue
        if _run([binary, "-w", "-D", CHAIN, *words], check=False).returncode == 0:
            lines.append(f"host-isolation rule for {bridge or '?'} ({Path(binary).name})")
    return lines, gone


def reap_host_rules(dead_session_ids: frozenset[str], live_session_ids: frozenset[str]) -> list[str]:
    """Remove our rules whose session is dead, or whose bridge is gone; one line per rule.

    A rule of a live session whose bridge still exists is left alone. Never touches a rule
    without our comment. Without iptables (or without the right to list rules) there is
    nothing we could have added, so nothing to do.
    """
    try:
        firewall = Firewall.detect()
    except BackendError:
        return []
    lines: list[str] = []
    for binary, words in firewall.our_rules():
        session = next(w[len(RULE_COMMENT_PREFIX):] for w in words if w.startswith(RULE_COMMENT_PREFIX))
        bridge = words[words.index("-i") + 1] if "-i" in words else ""
        bridge_gone = bool(bridge) and not (_NET_DEVICES / bridge).exists()
        if session in live_session_ids and not bridge_gone:
            continue
        if session not in dead_session_ids and not bridge_gone:
            continue
        result = _run([binary, "-w", "-D", CHAIN, *words], check=False)
        what = f"session {session}: host-isolation rule for {bridge or '?'} ({Path(binary).name})"
        lines.append(f"{what} removed" if result.returncode == 0 else f"{what}: could not remove: {result.stderr.strip()}")
    return lines


__all__ = (
    "RULE_COMMENT_PREFIX",
    "Firewall",
    "HostIsolation",
    "bridge_interface",
    "reap_host_rules",
    "remove_rules_after_networks",
    "rule_spec",
)

"""Entry point of the launcher's pex CLI: pex itself, with locked artifacts downloaded in-process.

pex downloads every locked artifact with a `pip download` process of its own, and on a cold
machine pip's start, once per artifact, costs more than the downloads. Here an https artifact is
fetched in pex's own thread instead (urllib, with the CA bundle, timeout and retries pex was given; the
lock's hash is checked by pex). With a proxy, a client certificate or index passwords, pex's
pip download runs.

Host names are resolved once per process, one at a time: pex downloads with several threads,
and a resolver that drops a query while the same name is being asked (some do) leaves a download
waiting for glibc's retry timeout, once per thread and process.

A failed pip download is reported by pex with the last line of pip's stderr only, often a bare
"AssertionError" (pex's lock resolver keeps `splitlines()[-1]`): here it keeps the end of pip's
error and adds what to check. Everything else is pex's own `main`. Pants runs this PEX as its pex
CLI; lock subcommands (`PEX_SCRIPT=pex3`) do not come through here, and their errors carry pip's
output already.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

from pex import hashing
from pex.bin.pex import main as pex_main
from pex.jobs import Job
from pex.resolve.downloads import ArtifactDownloader
from pex.result import Error

WHAT_TO_CHECK = (
    "Check that the package index is reachable from here (network, proxy), that its CA bundle is "
    "the right one (pip's `cert` setting, which ./pants passes on as PANTS_CA_CERTS_PATH), and that "
    "no pip configuration reaches pex (`pip config list -v` shows the machine's; ./pants sets "
    "PIP_CONFIG_FILE=/dev/null so that only the lockfile decides)."
)


def explain(pip_stderr: str, lines: int = 4) -> str:
    """The end of pip's error output on one line, then what to check."""
    # Python's `^^^^` markers under a traceback line say nothing here.
    tail = [line.strip() for line in pip_stderr.splitlines() if line.strip(" ^~\t")][-lines:]
    return "pip download failed: " + " | ".join(tail or ["(no output)"]) + ". " + WHAT_TO_CHECK


_pex_download = ArtifactDownloader.download


def fetch(url: str, dest: str, cert: str | None, timeout: float, retries: int) -> None:
    """Download ``url`` to ``dest`` (https, with ``cert`` as the CA bundle when given), retrying
    connection errors and 5xx answers ``retries`` times; raises OSError naming the URL."""
    context = ssl.create_default_context(cafile=cert) if cert else ssl.create_default_context()
    for attempt in range(retries + 1):
        try:
            with urllib.request.urlopen(url, timeout=timeout, context=context) as answer, open(dest, "wb") as out:
                shutil.copyfileobj(answer, out, 1 << 20)
            return
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == retries:
                raise OSError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            if attempt == retries:
                raise OSError(f"{url}: {getattr(exc, 'reason', exc)}") from exc
        time.sleep(min(0.5 * 2**attempt, 8))  # backoff between retries of a failed download


_getaddrinfo = socket.getaddrinfo
_resolved: dict[tuple, list] = {}
_resolving = threading.Lock()


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # type: ignore[no-untyped-def]
    """socket.getaddrinfo, once per arguments and process, one query at a time (see above)."""
    key = (host, port, family, type, proto, flags)
    with _resolving:
        if key not in _resolved:
            _resolved[key] = _getaddrinfo(host, port, family, type, proto, flags)
        return list(_resolved[key])


def _download(self, artifact, dest_dir, digest):  # type: ignore[no-untyped-def]
    url = artifact.url.download_url
    scheme = urlparse(url).scheme
    if scheme == "file":
        return _pex_download(self, artifact, dest_dir, digest)
    index = self.package_index_configuration
    network = index.network_configuration
    if scheme == "https" and not (network.proxy or network.client_cert or index.password_entries):
        try:
            fetch(url, os.path.join(dest_dir, artifact.filename), network.cert, network.timeout, network.retries)
        except OSError as e:
            return Error(f"download failed: {e}. {WHAT_TO_CHECK}")
    else:
        # As pex's own download does, but keeping pip's error.
        try:
            self._download(url=artifact.url, download_dir=dest_dir).wait()
        except Job.Error as e:
            return Error(explain(e.stderr or str(e)))
    hashing.file_hash(os.path.join(dest_dir, artifact.filename), digest)
    return artifact.filename


def main() -> None:
    ArtifactDownloader.download = _download  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    pex_main()


if __name__ == "__main__":
    main()

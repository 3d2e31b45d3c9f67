"""Entry point of the launcher's pex CLI: pex itself, with failed downloads that say what failed.

pex 2.1.137 reports a failed download of a locked artifact with the last line of pip's stderr
only, often a bare "AssertionError" (pex's lock resolver keeps `splitlines()[-1]`). Here the
download keeps the end of pip's error and adds what to check. Everything else is pex's own `main`.
Pants runs this PEX as its pex CLI; lock subcommands (`PEX_SCRIPT=pex3`) do not come through here,
and their errors carry pip's output already.
"""

from __future__ import annotations

import os
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


def _download(self, artifact, dest_dir, digest):  # type: ignore[no-untyped-def]
    if urlparse(artifact.url).scheme == "file":
        return _pex_download(self, artifact, dest_dir, digest)
    # As pex's own download does, but keeping pip's error.
    try:
        self._download(url=artifact.url, download_dir=dest_dir).wait()
    except Job.Error as e:
        return Error(explain(e.stderr or str(e)))
    hashing.file_hash(os.path.join(dest_dir, artifact.filename), digest)
    return artifact.filename


def main() -> None:
    ArtifactDownloader.download = _download  # type: ignore[method-assign]
    pex_main()


if __name__ == "__main__":
    main()

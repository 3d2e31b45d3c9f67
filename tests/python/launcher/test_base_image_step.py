"""The base image step (build-support/bootstrap/base-image.sh) saves what it builds in the cache
directory and loads it from there on an engine that lacks it, instead of building it again; its
build's lock is the one docker cells wait on.

Runs the real script with stand-ins for `docker` (an engine in a directory: `import`, `save`,
`load`, `image inspect`) and `debootstrap` (which notes that it ran).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from compat_matrix.backends.docker_engine import base_image_lock

BASE_IMAGE_SH = Path("build-support/bootstrap/base-image.sh").resolve()

DOCKER = r"""#!/bin/bash
# A stand-in engine: an image is a file named by its tag in $FAKE_ENGINE.
name() { echo "$FAKE_ENGINE/$(echo "$1" | tr '/:' '__')"; }
case "$1 $2" in
  "image inspect") [ -f "$(name "$3")" ] ;;
  "import --change") cat > /dev/null; echo built > "$(name "$5")" ;;
  "save -o") cp "$(name "$4")" "$3" ;;
  "load -i") cp "$3" "$(name compat-matrix/base:bookworm)"; echo "Loaded image: compat-matrix/base:bookworm" ;;
  *) echo "fake docker: unexpected: $*" >&2; exit 1 ;;
esac
"""
DEBOOTSTRAP = """#!/bin/bash
echo ran >> "$FAKE_ENGINE.debootstrap"
mkdir -p "$4/var/cache/apt/archives" "$4/var/lib/apt/lists"  # debootstrap OPTION OPTION SUITE DIR MIRROR
"""


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/etc/debian_version").exists(), reason="builds only as root on Debian")
def test_a_built_base_image_is_loaded_from_the_cache_directory_on_a_new_engine(tmp_path: Path) -> None:
    bin_dir, engine = tmp_path / "bin", tmp_path / "engine"
    bin_dir.mkdir()
    engine.mkdir()
    for name, text in (("docker", DOCKER), ("debootstrap", DEBOOTSTRAP)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "COMPAT_MATRIX_CACHE_DIR": str(tmp_path / "cache"),
        "FAKE_ENGINE": str(engine),
        "BASE_IMAGE": "compat-matrix/base:bookworm",
        "CM_LOCK_ROOT": str(tmp_path),  # its build's lock, not the machine's
    }

    def step() -> subprocess.CompletedProcess[str]:
        out = subprocess.run(["bash", str(BASE_IMAGE_SH)], capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
        return out

    built = step()
    assert "build base image" in built.stderr
    assert len(list((tmp_path / "cache/base-images").glob("compat-matrix_base_bookworm-*.tar"))) == 1
    for image in engine.iterdir():
        image.unlink()  # a new engine
    loaded = step()
    assert "load base image compat-matrix/base:bookworm from the cache directory" in loaded.stderr
    assert "build base image" not in loaded.stderr
    assert (engine / "compat-matrix_base_bookworm").exists()
    assert (tmp_path / "engine.debootstrap").read_text() == "ran\n", "debootstrap ran again"


def test_the_launcher_and_the_harness_name_one_base_image_lock() -> None:
    reference = "compat-matrix/base:bookworm"
    out = subprocess.run(
        ["bash", "-c", '. build-support/bootstrap/common.sh && cm_base_image_lock "$1"', "-", reference],
        capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == str(base_image_lock(reference))

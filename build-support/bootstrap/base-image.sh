#!/usr/bin/env bash
# Makes sure the role images' base image exists. BASE_IMAGE names it (default: a local Debian 12
# image with CPython 3.11; a normal user would set BASE_IMAGE=python:3.11-slim). When it is not
# present and cannot be pulled, it is built here once: debootstrap + docker import.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"

image="${BASE_IMAGE:-compat-matrix/base:bookworm}"
docker image inspect "$image" >/dev/null 2>&1 && exit 0

# compat-matrix/base:* is a local name: never pulled. Others may be; a registry may be unreachable.
if [[ "$image" != compat-matrix/base:* ]] && cm_try "pull base image $image" timeout 60 docker pull "$image"; then exit 0; fi

case "$image" in
  compat-matrix/base:*) ;;
  *) cm_die "base image $image is not present and could not be pulled. Pull or build it yourself, or unset BASE_IMAGE to use the locally built compat-matrix/base:bookworm." ;;
esac

cm_is_root && cm_is_debian \
  || cm_die "base image $image is missing and building it needs debootstrap as root on Debian. Set BASE_IMAGE=python:3.11-slim (any image with python3.11 on PATH) and make sure it can be pulled."

build_dir="$CM_CACHE_DIR/base-image"
build() {
  command -v debootstrap >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap \
    || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap; }
  rm -rf "$build_dir" && mkdir -p "$build_dir"
  # The mirror is the one this machine's apt already uses (a package registry we may reach).
  debootstrap --variant=minbase --include=python3,ca-certificates bookworm "$build_dir/root" "$(cm_debian_mirror)"
  rm -rf "$build_dir/root/var/cache/apt/archives/"*.deb "$build_dir/root/var/lib/apt/lists/"*
  tar -C "$build_dir/root" -c . | docker import --change 'CMD ["python3"]' - "$image"
  rm -rf "$build_dir"
}
cm_step "build base image $image (debootstrap, once)" \
  "building the base image $image failed. Check that Debian's package registry is reachable, or set BASE_IMAGE to an image with python3.11 that you can pull." \
  build

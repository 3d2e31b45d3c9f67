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
# One build of an image at a time on the machine, under its lock (cm_base_image_lock), on which
# docker cells wait while it is held. The launcher may have taken it already and handed it over
# (descriptor 9, CM_BASE_IMAGE_LOCKED=1: prepare_goals.sh).
if [ -z "${CM_BASE_IMAGE_LOCKED:-}" ]; then
  lock=$(cm_base_image_lock "$image") || cm_die "$(cm_runtime_dir_fix)"
  CM_BASE_IMAGE_LOCKED=1 exec flock -o "$lock" bash "$0" "$@"
fi
docker image inspect "$image" >/dev/null 2>&1 && exit 0

# The image, saved once built: a runner whose cache directory a CI system persists (or restores)
# loads it in seconds instead of building it again. Named by this script's digest, which holds
# what decides the image (the build below), so a change to it builds and saves anew.
archive="$CM_CACHE_DIR/base-images/$(printf '%s' "$image" | tr -c 'a-zA-Z0-9.-' '_')-$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12).tar"
if [ -f "$archive" ] && cm_try "load base image $image from the cache directory" docker load -i "$archive"; then
  docker image inspect "$image" >/dev/null 2>&1 && exit 0
fi

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
  command -v debootstrap >/dev/null 2>&1 || cm_apt_install debootstrap
  rm -rf "$build_dir" && mkdir -p "$build_dir"
  # The mirror is the one this machine's apt already uses (a package registry we may reach).
  debootstrap --variant=minbase --include=python3,ca-certificates bookworm "$build_dir/root" "$(cm_debian_mirror)"
  rm -rf "$build_dir/root/var/cache/apt/archives/"*.deb "$build_dir/root/var/lib/apt/lists/"*
  tar -C "$build_dir/root" -c . | docker import --change 'CMD ["python3"]' - "$image"
  rm -rf "$build_dir"
  mkdir -p "${archive%/*}"
  rm -f "${archive%-*}"-*.tar  # the image's archives of other recipes
  docker save -o "$archive.tmp.$$" "$image" && mv "$archive.tmp.$$" "$archive" || rm -f "$archive.tmp.$$"
}
cm_step "build base image $image (debootstrap, once)" \
  "building the base image $image failed. Check that Debian's package registry is reachable, or set BASE_IMAGE to an image with python3.11 that you can pull." \
  build

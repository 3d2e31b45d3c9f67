#!/usr/bin/env bash
# Makes sure a headless Chromium is on PATH (the matrix report's browser test renders the report
# in it). On Debian as root it installs Debian's chromium; elsewhere it says what to install.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"

command -v chromium >/dev/null 2>&1 && exit 0
cm_is_root && cm_is_debian \
  || cm_die "no chromium on PATH for the report's browser test, and one is installed here only on Debian as root. Install Chromium (Debian/Ubuntu: apt-get install chromium) and rerun."
install_chromium() {
  cm_apt_install chromium
}
cm_step "install Debian's chromium (the report's browser test)" \
  "could not install chromium with apt-get. Check that Debian's package registry is reachable, or install Chromium yourself." \
  install_chromium

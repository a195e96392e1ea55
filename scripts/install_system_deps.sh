#!/usr/bin/env bash
# Installs the Debian packages synthgen needs: the Docker engine, bubblewrap, debootstrap (offline image build),
# chromium (headless, for the report's browser test).
set -euo pipefail
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v setpriv >/dev/null || need+=(util-linux)
command -v ps >/dev/null || need+=(procps)
# The bubblewrap backend runs its supervisor with the system interpreter under /usr.
[ -x /usr/bin/python3 ] || need+=(python3-minimal)
# The bubblewrap backend's seccomp filter is compiled with libseccomp (pyseccomp loads it).
ldconfig -p 2>/dev/null | grep -q libseccomp.so.2 || need+=(libseccomp2)
# headless Chromium: the browser test opens report.html and checks its charts drew
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "system packages: ok (dockerd, bwrap, debootstrap, setpriv, /usr/bin/python3, chromium)"

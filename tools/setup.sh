#!/usr/bin/env bash
# Installs the Debian packages Snap-C needs to build, test and demo, if any are missing.
# Run as root on a fresh Debian 12 machine; does nothing when everything is present.
set -euo pipefail

PACKAGES=(
  # build
  gcc clang meson ninja-build pkg-config
  libdpdk-dev libnuma-dev libconfig-dev libprotobuf-c-dev protobuf-c-compiler libcap-ng-dev
  libbpf-dev libsystemd-dev libisal-dev libssl-dev libmnl-dev git
  # packages and manual pages (tests/package)
  debhelper dpkg-dev groff-base man-db
  # tests
  libcmocka-dev libclang-rt-14-dev iproute2 iputils-ping arping tshark bpftool
  procps psmisc util-linux python3 python3-cryptography valgrind ethtool
  # benchmarks and plots
  gnuplot-nox
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run this as root (sudo $0) to install them" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; the answer does not matter here.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

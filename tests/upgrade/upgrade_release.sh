#!/usr/bin/env bash
# Upgrade between releases (issue 18): two daemons run the previous release (built from this
# clone's history by prev_release.sh); daemon B is upgraded to this build, rolled back to the
# previous release, and upgraded again, while its apps (this build's libpony) run RPCs and
# one-sided ops through it: every RPC and op checked, none lost or repeated, the apps never
# reattach (upgrade_apps.sh checks all of it). The two sides agree on the older release's
# state formats in each direction: this build reads and writes them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prev=$(bash "$here/prev_release.sh") || exit $?
# Both binaries in one upgrade dir (the daemon's default: its own binary's dir), private.
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
install -m 755 "$prev" "$bin/snapnetd-prev"
install -m 755 "${SNAPNETD:?}" "$bin/snapnetd"
echo "previous release: $("$bin/snapnetd-prev" --version); this build: $("$bin/snapnetd" --version)"
# The blackout bound is this build's: moves to and from the previous release carry its state
# formats (a Pony engine's ~3.9 MB, not sparse: 20-30 ms), so their figures are printed only.
# Nor are the new daemons' CPUs checked: 0.1.0 starts its new binary on its pinned main CPU.
# Nor pre-copies: the protocol 0.1.0 speaks sends every engine in full.
UPGRADE_BLACKOUT_BOUND=no UPGRADE_CPU_CHECK=no UPGRADE_PRECOPY_CHECK=no SNAPNETD=$bin/snapnetd-prev SNAPNETD_NEXT=$bin/snapnetd \
  bash "$here/upgrade_apps.sh" upgrade

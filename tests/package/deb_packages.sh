#!/bin/sh
# The Debian packages: build them with dpkg-buildpackage -b from a copy of the tree (it writes
# debian/ build products and ../*.deb, so never in the source tree), install them into a
# throwaway root with `dpkg --root --unpack`: a real dpkg installation, with its database and
# conffiles, that stops before "configure" (postinst and triggers), which would run chrooted
# into a root that has no shell, or chrootless on this host (creating a user here). Unpacked,
# a conffile is still FILE.dpkg-new (configure renames it). Then run the installed snapctl
# and snapnetd --version, build a program against the installed libpony-dev and render the
# installed manual pages.
# Usage: deb_packages.sh SOURCE_DIR VERSION TEST_PONY_VERSION_C
set -eu
src=$1 ver=$2 prog=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
for t in dpkg-buildpackage dh git man pkg-config cc; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed (tools/setup.sh)"; exit 77; }
done
git -C "$src" rev-parse --git-dir >/dev/null 2>&1 || { echo "SKIP: $src is not a git checkout"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# Tracked files plus new ones not ignored (so uncommitted work is packaged as it is).
mkdir "$tmp/snap-c"
(cd "$src" && git ls-files -z --cached --others --exclude-standard) |
	(cd "$src" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) |
	tar -C "$src" --null -T - -cf - | tar -C "$tmp/snap-c" -xf -

echo "building packages (dpkg-buildpackage -b; the end of its log is shown on failure)"
if ! (cd "$tmp/snap-c" && DEB_BUILD_OPTIONS="parallel=$(nproc) nocheck" \
		dpkg-buildpackage -b -us -uc >"$tmp/build.log" 2>&1); then
	tail -n 60 "$tmp/build.log"
	fail "dpkg-buildpackage -b"
fi
grep -E "^dpkg-deb: building package" "$tmp/build.log" || true
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
multi=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
debs=""
for p in snapnetd libpony0 libpony-dev; do
	d="$tmp/${p}_${ver}-1_$arch.deb"
	[ -f "$d" ] || fail "no $d"
	debs="$debs $d"
done

# What each package must hold.
has() { # PACKAGE.deb PATH...
	deb=$1; shift
	dpkg-deb -c "$deb" | awk '{print $6}' >"$tmp/list"
	for f; do
		grep -qx "\./$f" "$tmp/list" || fail "$(basename "$deb") lacks /$f"
	done
}
has "$tmp/snapnetd_${ver}-1_$arch.deb" usr/sbin/snapnetd usr/bin/snapctl \
	etc/snapnetd/snapnetd.conf usr/share/man/man8/snapnetd.8.gz \
	usr/share/man/man8/snapctl.8.gz usr/share/man/man5/snapnetd.conf.5.gz \
	usr/share/bash-completion/completions/snapctl
if [ -f "$src/tools/systemd/snapnetd.service" ]; then
	has "$tmp/snapnetd_${ver}-1_$arch.deb" lib/systemd/system/snapnetd.service
fi
has "$tmp/libpony0_${ver}-1_$arch.deb" "usr/lib/$multi/libpony.so.0"
has "$tmp/libpony-dev_${ver}-1_$arch.deb" usr/include/pony.h usr/include/pony_kv.h \
	usr/include/pony_version.h usr/include/snap_paths.h "usr/lib/$multi/libpony.so" "usr/lib/$multi/libpony.a" \
	"usr/lib/$multi/pkgconfig/pony.pc" usr/share/man/man3/libpony.3.gz
dpkg-deb -I "$tmp/snapnetd_${ver}-1_$arch.deb" conffiles | grep -qx /etc/snapnetd/snapnetd.conf ||
	fail "/etc/snapnetd/snapnetd.conf is not a conffile"
dpkg-deb -e "$tmp/snapnetd_${ver}-1_$arch.deb" "$tmp/ctl"
sh -n "$tmp/ctl/postinst" || fail "postinst: syntax"
grep -q "adduser --system" "$tmp/ctl/postinst" || fail "postinst creates no system user"

# Install into a throwaway root.
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
# shellcheck disable=SC2086
dpkg --root="$root" --log=/dev/null --force-not-root --force-depends --no-triggers \
	--unpack $debs >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg --unpack"; }
for p in snapnetd libpony0 libpony-dev; do
	dpkg --root="$root" -s $p | grep -q "^Status: install ok unpacked" ||
		fail "$p not installed in the throwaway root"
done

# The installed binaries run (the host has their dependencies: DPDK, protobuf-c, ...).
out=$(LD_LIBRARY_PATH="$root/usr/lib/$multi" "$root/usr/bin/snapctl" --version)
echo "$out"
case $out in "snapctl $ver (build $ver-1)") ;; *) fail "snapctl --version: '$out'" ;; esac
out=$("$root/usr/sbin/snapnetd" --version)
echo "$out"
case $out in "snapnetd $ver (build $ver-1)") ;; *) fail "snapnetd --version: '$out'" ;; esac
dpkg --root="$root" -s snapnetd | grep -q "^ /etc/snapnetd/snapnetd.conf " ||
	fail "dpkg does not know /etc/snapnetd/snapnetd.conf as a conffile of snapnetd"
"$root/usr/sbin/snapnetd" --check -c "$root/etc/snapnetd/snapnetd.conf.dpkg-new" ||
	fail "installed config does not pass --check"

# An outside program built against the installed libpony-dev, run with the installed libpony0.
export PKG_CONFIG_PATH="$root/usr/lib/$multi/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root"
# shellcheck disable=SC2046
cc -std=c99 -Wall -Wextra -Werror -o "$tmp/pony_version" "$prog" $(pkg-config --cflags --libs pony)
LD_LIBRARY_PATH="$root/usr/lib/$multi" "$tmp/pony_version" "$ver" || fail "installed libpony"
if command -v c++ >/dev/null; then
	# shellcheck disable=SC2046
	c++ -Wall -Wextra -Werror -fsyntax-only -x c++ $(pkg-config --cflags pony) "$prog" ||
		fail "installed headers do not compile as C++"
fi

# The installed manual pages render.
for page in man8/snapnetd.8 man8/snapctl.8 man5/snapnetd.conf.5 man3/libpony.3; do
	MANWIDTH=80 man --warnings -P cat -l "$root/usr/share/man/$page.gz" >"$tmp/page" 2>"$tmp/err" ||
		fail "man $page"
	[ -s "$tmp/err" ] && { cat "$tmp/err"; fail "man warns on $page"; }
	grep -q '^NAME' "$tmp/page" || fail "$page: no NAME section"
done
MANWIDTH=80 man -P cat -l "$root/usr/share/man/man8/snapctl.8.gz" | head -n 8
echo "ok: packages built and installed: $(cd "$tmp" && ls ./*.deb | tr '\n' ' ')"

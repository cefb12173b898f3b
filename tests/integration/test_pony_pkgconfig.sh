#!/bin/sh
# Install the build into a scratch destdir and build an outside program against libpony
# with nothing but `pkg-config --cflags --libs pony` (shared and static), as C and C++.
# Usage: test_pony_pkgconfig.sh BUILD_DIR SOURCE_FILE B_SANITIZE
set -eu
build=$1
src=$2
if [ "${3:-none}" != none ]; then
	# A sanitized libpony needs the sanitizer runtime in every program that links it.
	echo "SKIP: build uses -Db_sanitize=$3"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
command -v pkg-config >/dev/null || { echo "SKIP: no pkg-config"; exit 77; }
meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >/dev/null
pc=$(find "$tmp/root" -name pony.pc | head -n1)
[ -n "$pc" ] || { echo "FAIL: pony.pc not installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR="$tmp/root"
# pkg-config prefixes the sysroot to variables too
libdir=$(pkg-config --variable=libdir pony)
cc -std=c99 -Wall -Wextra -Werror -o "$tmp/outside" "$src" $(pkg-config --cflags --libs pony)
LD_LIBRARY_PATH="$libdir" "$tmp/outside"
cc -std=c99 -Wall -Werror -o "$tmp/outside_static" "$src" $(pkg-config --cflags pony) \
	"$libdir/libpony.a"
"$tmp/outside_static"
if command -v c++ >/dev/null; then
	c++ -Wall -Werror -x c++ -fsyntax-only $(pkg-config --cflags pony) "$src"
fi
echo "pkg-config build ok"

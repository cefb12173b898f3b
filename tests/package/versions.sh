#!/bin/sh
# --version of snapnetd, snapnetd-next and snapctl: "NAME VERSION (build ID)" with the project
# version and one build id (git describe), snapnetd-next's being snapnetd's + "-next" (the
# upgrade tests' second release, SNAP_BUILD_ID_OVERRIDE); libpony agrees on the version.
# Usage: versions.sh VERSION SNAPNETD SNAPNETD_NEXT SNAPCTL TEST_PONY_VERSION
set -eu
ver=$1 d=$2 next=$3 ctl=$4 lib=$5
fail() { echo "FAIL: $*" >&2; exit 1; }
build_of() { # NAME OUTPUT
	case $2 in
	"$1 $ver (build "*")") echo "$2" | sed 's/.*(build \(.*\))$/\1/' ;;
	*) fail "$1 --version printed '$2', want '$1 $ver (build ID)'" ;;
	esac
}
id=$(build_of snapnetd "$("$d" --version)")
id_next=$(build_of snapnetd "$("$next" --version)")
id_ctl=$(build_of snapctl "$("$ctl" --version)")
[ -n "$id" ] || fail "empty build id"
[ "$id_next" = "$id-next" ] || fail "snapnetd-next build id '$id_next', want '$id-next'"
[ "$id_ctl" = "$id" ] || fail "snapctl build id '$id_ctl' differs from snapnetd's '$id'"
"$ctl" -V | grep -q "^snapctl $ver " || fail "snapctl -V"
"$lib" "$ver" || fail "libpony version"
echo "ok: version $ver, build $id"

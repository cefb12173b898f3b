#!/usr/bin/env bash
# Build the previous release's snapnetd (named in tests/upgrade/previous_release: its tag and
# commit) from this clone's own history, once per build dir (under PREV_RELEASE_DIR), and
# print the binary's path. The source comes from `git archive` of that commit: the working
# tree and the repository are left as they are. Exit 77 (skip, with the reason) when the
# clone does not hold that commit (a shallow clone), so the two-release test says why it did
# not run; any build failure fails the test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(git -C "$here" rev-parse --show-toplevel)
read -r tag commit <"$here/previous_release"
base=${PREV_RELEASE_DIR:?}
out=$base/$commit
mkdir -p "$base"
exec 9>"$base/.lock"
flock 9
if [ ! -e "$out/done" ]; then
  if ! git -C "$src" cat-file -e "$commit^{commit}" 2>/dev/null; then
    echo "SKIP: release $tag ($commit) is not in this clone's history (shallow clone?)" >&2
    exit 77
  fi
  rm -rf "$out"
  mkdir -p "$out/src"
  git -C "$src" archive "$commit" | tar -x -C "$out/src"
  echo "building release $tag (${commit:0:12}) in $out ..." >&2
  t0=$(date +%s)
  # Outside any git repository as far as the build can tell: its build id is the release's
  # own version, never this checkout's description.
  export GIT_CEILING_DIRECTORIES=$out
  (cd "$out" && CC=${CC:-gcc} meson setup build src -Dtests=false -Doptimization=1 \
     -Ddebug=false >setup.log 2>&1 && ninja -C build snapnetd >build.log 2>&1) ||
    { tail -n 30 "$out"/setup.log "$out"/build.log >&2; echo "building $tag failed" >&2; exit 1; }
  echo "built $tag in $(($(date +%s) - t0)) s" >&2
  touch "$out/done"
fi
echo "$out/build/snapnetd"

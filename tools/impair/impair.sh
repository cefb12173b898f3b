#!/usr/bin/env bash
# Attaches/detaches the tc-bpf link impairment (impair.bpf.c) on a device's ingress and reads
# its counters: loss, duplication and corruption of UDP datagrams to one port, for veth links
# on kernels without netem. Needs root (or CAP_NET_ADMIN + CAP_BPF), tc and bpftool.
#
# Usage:
#   impair.sh [-n NETNS] attach DEV --udp-port N [--loss P] [--dup P] [--corrupt P] [--fix-csum]
#   impair.sh [-n NETNS] stats DEV        # "name value" lines: config, then counters
#   impair.sh [-n NETNS] detach DEV       # idempotent
# P is a probability in [0,1]. Without --fix-csum a corrupted datagram keeps its old UDP
# checksum, so a receiver that verifies checksums drops it; with --fix-csum the checksum is
# repaired and only an end-to-end payload check (e.g. Pony's own) can catch the damage.
# Attaching again replaces the previous configuration and zeroes the counters.
# Where to attach: the hook is tc ingress of DEV, i.e. traffic arriving on DEV. A daemon's own
# af_packet socket (a packet tap) and AF_XDP socket (XDP) take frames before tc ingress runs,
# so to impair daemon traffic put a bridge namespace in the middle (topo_bridge in
# tools/topo/netns.sh) and attach on the bridge ports (see tests/integration/impair_daemon.sh).
# The object is found via $IMPAIR_OBJ, next to this script, or in build/tools/impair/.
set -euo pipefail

PREF=4242     # our filter's priority on the ingress hook; identifies it for detach/stats
STATS=(seen dropped duplicated corrupted dup_failed dup_reentered)  # impair_stat order

die() { echo "impair: $*" >&2; exit 1; }
usage() { sed -n '6,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

if [ "${1:-}" = "-n" ]; then
  [ $# -ge 2 ] || usage
  ns=$2; shift 2
  exec ip netns exec "$ns" bash "$0" "$@"
fi

find_obj() {
  local here; here=$(cd "$(dirname "$0")" && pwd)
  for o in "${IMPAIR_OBJ:-}" "$here/impair.bpf.o" "$here/../../build/tools/impair/impair.bpf.o"; do
    [ -n "$o" ] && [ -f "$o" ] && { echo "$o"; return 0; }
  done
  die "impair.bpf.o not found (build with meson/ninja, or set IMPAIR_OBJ)"
}

# threshold P: probability -> 32-bit threshold (prandom < threshold fires).
threshold() {
  [[ $1 =~ ^(0|1|0?\.[0-9]+|[01]\.[0-9]*)$ ]] || die "bad probability '$1' (want 0..1)"
  awk -v p="$1" 'BEGIN { if (p > 1) exit 1; t = p * 4294967296; if (t > 4294967295) t = 4294967295;
                         printf "%.0f\n", t }' || die "probability '$1' above 1"
}

# le32 N / le16 N: little-endian hex bytes for bpftool.
le32() { printf '%02x %02x %02x %02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
le16() { printf '%02x %02x' $(($1 & 255)) $(($1 >> 8 & 255)); }

prog_id() { # DEV -> id of our program on the ingress hook, or nothing
  tc -j filter show dev "$1" ingress pref $PREF 2>/dev/null |
    grep -o '"prog":{"id":[0-9]*' | grep -o '[0-9]*$' | head -n1 || true
}

map_id() { # PROG_ID MAP_NAME -> map id
  local m
  for m in $(bpftool -j prog show id "$1" | grep -o '"map_ids":\[[0-9,]*\]' | grep -o '[0-9]\+'); do
    if bpftool -j map show id "$m" | grep -q "\"name\":\"$2\""; then echo "$m"; return 0; fi
  done
  die "map $2 not found on program $1"
}

detach() {
  local dev=$1
  tc filter del dev "$dev" ingress pref $PREF 2>/dev/null || true
  # Remove the clsact qdisc only if nobody else has filters on it.
  if tc qdisc show dev "$dev" 2>/dev/null | grep -q clsact &&
     [ -z "$(tc filter show dev "$dev" ingress 2>/dev/null)" ] &&
     [ -z "$(tc filter show dev "$dev" egress 2>/dev/null)" ]; then
    tc qdisc del dev "$dev" clsact 2>/dev/null || true
  fi
}

attach() {
  local dev=$1; shift
  local loss=0 dup=0 corrupt=0 port="" fix=0
  while [ $# -gt 0 ]; do
    case $1 in
      --loss) loss=$(threshold "${2:?}"); shift 2 ;;
      --dup) dup=$(threshold "${2:?}"); shift 2 ;;
      --corrupt) corrupt=$(threshold "${2:?}"); shift 2 ;;
      --udp-port) port=${2:?}; shift 2 ;;
      --fix-csum) fix=1; shift ;;
      *) usage ;;
    esac
  done
  [[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] ||
    die "--udp-port 1..65535 is required"
  local obj; obj=$(find_obj)
  ip link show dev "$dev" >/dev/null 2>&1 || die "no device $dev"
  detach "$dev"
  tc qdisc show dev "$dev" | grep -q clsact || tc qdisc add dev "$dev" clsact
  tc filter add dev "$dev" ingress pref $PREF handle 1 bpf da obj "$obj" sec tc ||
    { detach "$dev"; die "cannot attach $obj to $dev"; }
  # Until the configuration lands the program passes everything (udp_port 0 = disabled).
  local id cfg
  id=$(prog_id "$dev")
  [ -n "$id" ] || { detach "$dev"; die "program not visible on $dev after attach"; }
  cfg=$(map_id "$id" impair_cfg)
  # shellcheck disable=SC2046
  bpftool map update id "$cfg" key 0 0 0 0 value hex \
    $(le32 "$loss") $(le32 "$dup") $(le32 "$corrupt") $(le16 "$port") $(le16 "$fix") ||
    { detach "$dev"; die "cannot write the configuration"; }
}

stats() {
  local dev=$1 id cfg st
  id=$(prog_id "$dev")
  [ -n "$id" ] || die "no impairment attached on $dev"
  cfg=$(map_id "$id" impair_cfg)
  st=$(map_id "$id" impair_stats)
  # Read the raw "0x.." byte lists of bpftool's JSON (key bytes, then value bytes): they are
  # there with and without BTF, unlike the "formatted" view.
  local b
  b=$(bpftool map lookup id "$cfg" key 0 0 0 0 -j | grep -o '"0x[0-9a-f]*"' | tr -d '"' | tr '\n' ' ')
  # shellcheck disable=SC2086
  set -- $b
  [ $# -ge 20 ] || die "cannot read the configuration map"
  local v=("$@")
  le() { local r=0 i; for ((i=$2-1; i>=0; i--)); do r=$((r * 256 + v[$1 + i])); done; echo $r; }
  # Bytes 0-3 are the key; the value (struct impair_cfg) follows.
  echo "loss_threshold $(le 4 4)"
  echo "dup_threshold $(le 8 4)"
  echo "corrupt_threshold $(le 12 4)"
  echo "udp_port $(le 16 2)"
  echo "fix_csum $(le 18 2)"
  local k
  for k in "${!STATS[@]}"; do
    b=$(bpftool map lookup id "$st" key $(le32 "$k") -j | grep -o '"0x[0-9a-f]*"' | tr -d '"' | tr '\n' ' ')
    # shellcheck disable=SC2086
    set -- $b
    v=("$@")
    [ $# -ge 12 ] || die "cannot read counter ${STATS[$k]}"
    echo "${STATS[$k]} $(le 4 8)"   # bytes 0-3 are the key, 4-11 the value
  done
}

[ $# -ge 2 ] || usage
cmd=$1 dev=$2; shift 2
case $cmd in
  attach) attach "$dev" "$@" ;;
  detach) [ $# -eq 0 ] || usage; detach "$dev" ;;
  stats) [ $# -eq 0 ] || usage; stats "$dev" ;;
  *) usage ;;
esac

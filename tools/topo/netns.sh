#!/usr/bin/env bash
# Test topologies: network namespaces joined by veth pairs, with addresses only inside the
# namespaces created here, optional tbf/htb rate limits, link outages, and teardown that is
# idempotent and also runs on error. Sourced by tests/benchmarks (topo_* functions) or used
# as a CLI (state kept in $TOPO_STATE_DIR so a later "down" finds what "up" made).
#
# CLI:
#   netns.sh up TAG [--ns NAME]... [--link NS:IF[:ADDR/LEN]=NS:IF[:ADDR/LEN][@MTU]]...
#                   [--rate NS:IF:RATE[:tbf|htb]]... [--bridge NS:BR:IF[,IF]...]...
#       Creates namespaces TAG-NAME (lo up) and the links between them; prints "ns NAME
#       TAG-NAME" and "mac NS IF MAC" lines. On any error everything made so far is removed.
#   netns.sh down TAG                       remove every namespace of TAG (idempotent)
#   netns.sh link-down|link-up TAG NS IF    outage / recovery of one veth end
#   netns.sh rate TAG NS IF RATE [tbf|htb]  (re)limit egress of NS:IF; RATE "none" clears
#   netns.sh exec TAG NS CMD...             run CMD in namespace TAG-NS
#   netns.sh list                           tags with live state
# Example: netns.sh up t1 --ns a --ns b --link a:ve0:10.9.0.1/24=b:ve0:10.9.0.2/24 \
#              --rate a:ve0:100mbit:htb
#
# Sourced API (NS arguments are the short names given to topo_ns; non-zero return on error):
#   topo_init TAG          start a topology; registers topo_teardown to run at exit (appended
#                          to lib.sh's CLEANUPS if present, else chained onto the EXIT trap)
#   topo_ns NAME           create namespace TAG-NAME; $(topo_nsname NAME) gives the full name
#   topo_link NSA IFA ADDRA NSB IFB ADDRB [MTU]   veth pair; ADDR "" or "-" for none
#   topo_rate NS IF RATE [tbf|htb] [BURST]        egress limit; RATE "none" removes it
#   topo_bridge NS BR IF...  L2 bridge BR in NS over its interfaces IF... (a transparent middle
#                          hop: tc hooks there see frames that a daemon's af_packet/af_xdp
#                          socket at an end would otherwise take before tc ingress runs)
#   topo_link_down NS IF / topo_link_up NS IF
#   topo_mac NS IF         echo the MAC of NS:IF
#   topo_exec NS CMD...    run CMD inside the namespace
#   topo_teardown          delete this topology's namespaces (idempotent)

TOPO_STATE_DIR=${TOPO_STATE_DIR:-/run/snap-topo}
TOPO_TAG=${TOPO_TAG:-}
TOPO_NS=()

_topo_err() { echo "topo: $*" >&2; return 1; }

topo_nsname() { echo "$TOPO_TAG-$1"; }

_topo_record() {
  mkdir -p "$TOPO_STATE_DIR"
  echo "$1" >>"$TOPO_STATE_DIR/$TOPO_TAG"
}

# _topo_own NAME: succeeds only for namespaces this topology created (never touch others).
_topo_own() {
  local n
  for n in "${TOPO_NS[@]}"; do [ "$n" = "$1" ] && return 0; done
  _topo_err "namespace $1 was not created by topology $TOPO_TAG"
}

_topo_load() { # TAG: re-reads a CLI topology's namespaces from its state file
  TOPO_TAG=$1
  TOPO_NS=()
  local f="$TOPO_STATE_DIR/$TOPO_TAG" n
  [ -f "$f" ] || return 0
  while read -r n; do [ -n "$n" ] && TOPO_NS+=("$n"); done <"$f"
}

topo_init() {
  [[ ${1:-} =~ ^[A-Za-z0-9_.]+$ ]] || _topo_err "bad tag '${1:-}'" || return 1
  _topo_load "$1"
  if declare -p CLEANUPS >/dev/null 2>&1; then
    CLEANUPS+=("topo_teardown")
  else
    local prev
    prev=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
    # shellcheck disable=SC2064
    trap "topo_teardown; ${prev:-:}" EXIT
  fi
}

topo_ns() {
  [ -n "$TOPO_TAG" ] || _topo_err "topo_init first" || return 1
  local n; n=$(topo_nsname "$1")
  [[ $1 =~ ^[A-Za-z0-9_]+$ ]] || _topo_err "bad namespace name '$1'" || return 1
  ip netns add "$n" || return 1
  TOPO_NS+=("$n")
  _topo_record "$n"
  ip -n "$n" link set lo up
}

topo_exec() {
  local n; n=$(topo_nsname "$1"); shift
  _topo_own "$n" || return 1
  ip netns exec "$n" "$@"
}

topo_link() {
  local a b; a=$(topo_nsname "$1") b=$(topo_nsname "$4")
  _topo_own "$a" && _topo_own "$b" || return 1
  local ifa=$2 addra=${3:--} ifb=$5 addrb=${6:--} mtu=${7:-}
  # Both ends are created directly inside their namespaces: nothing appears in ours.
  ip link add name "$ifa" netns "$a" type veth peer name "$ifb" netns "$b" || return 1
  local ns ifc addr
  for ns in "$a:$ifa:$addra" "$b:$ifb:$addrb"; do
    IFS=: read -r ns ifc addr <<<"$ns"
    [ -n "$mtu" ] && { ip -n "$ns" link set "$ifc" mtu "$mtu" || return 1; }
    if [ "$addr" != "-" ]; then ip -n "$ns" addr add "$addr" dev "$ifc" || return 1; fi
    ip -n "$ns" link set "$ifc" up || return 1
  done
}

topo_rate() {
  local n; n=$(topo_nsname "$1")
  _topo_own "$n" || return 1
  local ifc=$2 rate=$3 kind=${4:-tbf} burst=${5:-64kb}
  ip netns exec "$n" tc qdisc del dev "$ifc" root 2>/dev/null || true
  [ "$rate" = none ] && return 0
  case $kind in
    tbf) ip netns exec "$n" tc qdisc add dev "$ifc" root tbf rate "$rate" burst "$burst" \
           latency 100ms ;;
    htb) ip netns exec "$n" tc qdisc add dev "$ifc" root handle 1: htb default 10 &&
         ip netns exec "$n" tc class add dev "$ifc" parent 1: classid 1:10 htb rate "$rate" \
           ceil "$rate" burst "$burst" ;;
    *) _topo_err "rate kind must be tbf or htb, not '$kind'" ;;
  esac
}

topo_bridge() {
  local n; n=$(topo_nsname "$1")
  _topo_own "$n" || return 1
  local br=$2 ifc; shift 2
  ip -n "$n" link add name "$br" type bridge || return 1
  for ifc in "$@"; do ip -n "$n" link set "$ifc" master "$br" || return 1; done
  ip -n "$n" link set "$br" up
}

topo_link_down() {
  local n; n=$(topo_nsname "$1")
  _topo_own "$n" && ip -n "$n" link set "$2" down
}

topo_link_up() {
  local n; n=$(topo_nsname "$1")
  _topo_own "$n" && ip -n "$n" link set "$2" up
}

topo_mac() {
  local n; n=$(topo_nsname "$1")
  _topo_own "$n" || return 1
  ip -n "$n" -o link show "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'
}

topo_teardown() {
  [ -n "$TOPO_TAG" ] || return 0
  _topo_load "$TOPO_TAG"
  local i
  # Deleting a namespace destroys its veth ends, and with them the peers and qdiscs.
  for ((i=${#TOPO_NS[@]}-1; i>=0; i--)); do
    ip netns del "${TOPO_NS[$i]}" 2>/dev/null || true
  done
  rm -f "$TOPO_STATE_DIR/$TOPO_TAG"
  TOPO_NS=()
}

_topo_cli() {
  local cmd=${1:-}; shift || true
  case $cmd in
    up)
      local tag=${1:?tag}; shift
      if [ -f "$TOPO_STATE_DIR/$tag" ]; then
        _topo_err "topology $tag exists (netns.sh down $tag)"; exit 1
      fi
      topo_init "$tag" || exit 1
      set -e
      local links=() rates=() bridges=() spec
      while [ $# -gt 0 ]; do
        case $1 in
          --ns) topo_ns "${2:?}"; echo "ns $2 $(topo_nsname "$2")"; shift 2 ;;
          --link) links+=("${2:?}"); shift 2 ;;
          --rate) rates+=("${2:?}"); shift 2 ;;
          --bridge) bridges+=("${2:?}"); shift 2 ;;
          *) _topo_err "unknown argument $1" ;;
        esac
      done
      for spec in "${links[@]}"; do
        local mtu="" l r
        [[ $spec == *@* ]] && { mtu=${spec##*@}; spec=${spec%@*}; }
        l=${spec%%=*} r=${spec#*=}
        local na ia aa nb ib ab
        IFS=: read -r na ia aa <<<"$l"
        IFS=: read -r nb ib ab <<<"$r"
        topo_link "$na" "$ia" "${aa:--}" "$nb" "$ib" "${ab:--}" "$mtu"
        echo "mac $na $ia $(topo_mac "$na" "$ia")"
        echo "mac $nb $ib $(topo_mac "$nb" "$ib")"
      done
      for spec in "${bridges[@]}"; do
        local bn bb bifs
        IFS=: read -r bn bb bifs <<<"$spec"
        # shellcheck disable=SC2086
        topo_bridge "$bn" "$bb" ${bifs//,/ }
      done
      for spec in "${rates[@]}"; do
        local rn ri rr rk
        IFS=: read -r rn ri rr rk <<<"$spec"
        topo_rate "$rn" "$ri" "$rr" "${rk:-tbf}"
      done
      set +e
      trap - EXIT   # success: the topology outlives this command
      ;;
    down) _topo_load "${1:?tag}"; topo_teardown ;;
    link-down) _topo_load "${1:?tag}"; topo_link_down "${2:?ns}" "${3:?if}" ;;
    link-up) _topo_load "${1:?tag}"; topo_link_up "${2:?ns}" "${3:?if}" ;;
    rate) _topo_load "${1:?tag}"; topo_rate "${2:?ns}" "${3:?if}" "${4:?rate}" "${5:-tbf}" ;;
    exec) _topo_load "${1:?tag}"; local ns=${2:?ns}; shift 2; topo_exec "$ns" "$@" ;;
    list) ls "$TOPO_STATE_DIR" 2>/dev/null || true ;;
    *) sed -n '/^# CLI:/,/^# Sourced API/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  _topo_cli "$@"
fi

#!/usr/bin/env bash
# Issue 14 item 8, Pony service squatting: with daemon.service_owners giving services 7-8 to
# root, an app of another user (nobody, admitted by allow_users) may not listen on 7: the
# listen completes with -EACCES and the engine counts apps_listen_not_owner. Root may listen
# on 7; nobody may listen on a service no entry covers (9).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_sec.sh"
SEC_PONY=${SEC_PONY:?}
cat >"$T/a.conf" <<CONF
daemon = { name = "seco$$"; run_dir = "$T/run-a"; memory_mb = 256; socket_mode = "0666";
           allow_users = [ "nobody" ];
           service_owners = ( { services = "7-8"; users = [ "root" ]; } ); };
ports = ( { name = "m0"; type = "memif"; role = "server"; socket = "$T/memif.sock";
            mac = "02:00:00:00:0f:01"; ip = "10.95.0.1/24"; } );
engines = ( {
  name = "pony0";
  elements = (
    { name = "rx"; type = "port_rx"; port = "m0"; },
    { name = "pony"; type = "pony"; port = "m0"; },
    { name = "tx"; type = "port_tx"; port = "m0"; }
  );
  links = ( "rx -> pony", "pony.tx -> tx" );
} );
CONF
start_daemon a "$T/a.conf"
run_rc rc "${AS_NOBODY[@]}" "$SEC_PONY" listen "$T/run-a/app.sock" 7
[ "$rc" -eq 5 ] || fail "nobody's listen on root's service 7: exit $rc, expected 5 (EACCES)"
has "listen 7: "
run_rc rc "$SEC_PONY" listen "$T/run-a/app.sock" 7
[ "$rc" -eq 0 ] || fail "root's listen on its service 7 refused ($rc)"
run_rc rc "${AS_NOBODY[@]}" "$SEC_PONY" listen "$T/run-a/app.sock" 9
[ "$rc" -eq 0 ] || fail "nobody's listen on the free service 9 refused ($rc)"
stop_daemon a
n=$(counter "$T/a.log" pony0 pony apps_listen_not_owner)
[ "$n" -eq 1 ] || { grep apps_ "$T/a.log"; fail "apps_listen_not_owner = $n, expected 1"; }
echo PASS

#!/usr/bin/env bash
# 10-privileges: after start the daemon keeps only the capabilities running needs
# (src/runtime/privileges.hpp: cap_net_bind_service, cap_net_admin, cap_net_raw, cap_sys_admin,
# cap_perfmon, cap_bpf) in its effective, permitted and bounding sets, with no_new_privs set, and
# everything it does at run time still works with them: an API block enforced on real traffic,
# a reload that attaches a new interface, a socket monitor switched on, a profiling window.
# With drop_capabilities = false it keeps what it started with.
# Exit 0 = pass, 77 = skip (reason printed), anything else = fail.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
T_EBPF_EXTRA='  adaptive {
    enabled = false
  }'

t_preflight
t_setup_net
T_FEATURES='ip_blocklist = true
    flow_monitoring = true
    statistics = true
    socket_filters = true
    dns_monitoring = false'
t_write_config
t_start_daemon

# bits: net_bind_service 10, net_admin 12, net_raw 13, sys_admin 21, perfmon 38, bpf 39
want=$(printf '%016x' $(( (1<<10) | (1<<12) | (1<<13) | (1<<21) | (1<<38) | (1<<39) )))
# Every thread: capset() is per thread, so a thread started before the drop would keep it all
# (the API's connection threads are spawned by its acceptor thread).
t_api GET /api/ebpf/health >/dev/null  # a connection thread exists at least once
threads=0
for task in /proc/"$T_DAEMON"/task/*; do
    status=$(cat "$task/status" 2>/dev/null) || continue  # a thread that just ended
    threads=$((threads + 1))
    name=$(echo "$status" | awk '$1 == "Name:" { print $2 }')
    for set in CapEff CapPrm CapBnd; do
        got=$(echo "$status" | awk -v k="$set:" '$1 == k { print $2 }')
        [ "$got" = "$want" ] || t_fail "$set of thread ${task##*/} ($name) is $got, want $want (runtime capabilities only)"
    done
    echo "$status" | grep -q '^CapInh:[[:space:]]*0*$' || t_fail "thread ${task##*/}: inheritable capabilities left"
    echo "$status" | grep -q '^NoNewPrivs:[[:space:]]*1' || t_fail "thread ${task##*/}: no_new_privs is not set"
done
[ "$threads" -ge 4 ] || t_fail "expected the daemon's threads (events, monitors, API), found $threads"
t_say "ok: all $threads threads: CapEff = CapPrm = CapBnd = $want, CapInh 0, NoNewPrivs 1"
grep -q 'capabilities dropped to' "$T_LOG" || t_fail "the daemon should log what it kept"

# Run-time work with those capabilities.
t_start_servers
t_cli block add 198.18.10.20 >/dev/null || t_fail "flywall block add after the drop"
t_expect_blocked t_ping 198.18.10.20 198.18.10.1 "API block after the capability drop"
t_expect_reach t_ping 198.18.10.3 198.18.10.1 "other source after the capability drop"

t_api POST '/api/ebpf/profile?seconds=1' >/dev/null
[ "$(t_status)" = 200 ] || t_fail "profiling window (BPF_ENABLE_STATS) after the drop: $(t_status) $(cat "$T_TMP/body")"
t_say "ok: profiling window opened after the drop"

t_api POST /api/ebpf/features/dns_monitoring/enable >/dev/null
[ "$(t_status)" = 200 ] || t_fail "enabling the DNS monitor (AF_PACKET socket) after the drop: $(t_status) $(cat "$T_TMP/body")"
t_api GET /api/ebpf/hooks | jq -e '.hooks[] | select(.attach_point == "socket")' >/dev/null ||
    t_fail "no socket hook after enabling dns_monitoring: $(t_api GET /api/ebpf/hooks)"
t_say "ok: DNS monitor socket attached after the drop"

# A reload that adds an interface attaches XDP to it (cap_net_admin).
t_fw ip link add "fwd$$" type veth peer name "fwe$$" && t_fw ip link set "fwd$$" up || t_fail "create a second veth"
T_EXTRA="interface \"fwd$$\" {
  xdp_mode = \"generic\"
}"
t_write_config
kill -HUP "$T_DAEMON"
for _ in $(seq 50); do
    t_api GET /api/ebpf/hooks | jq -e --arg i "fwd$$" '.hooks[] | select(.interface == $i and .attach_point == "xdp")' >/dev/null && break
    sleep 0.1
done
t_api GET /api/ebpf/hooks | jq -e --arg i "fwd$$" '.hooks[] | select(.interface == $i and .attach_point == "xdp")' >/dev/null ||
    t_fail "reload after the drop did not attach fwd$$: $(t_api GET /api/ebpf/health)"
t_say "ok: reload attached XDP to a new interface after the drop"

# drop_capabilities = false keeps the start-up set.
t_stop_daemon || t_fail "daemon did not stop cleanly"
T_EXTRA="drop_capabilities = false"
t_write_config
t_start_daemon
got=$(awk '$1 == "CapEff:" { print $2 }' "/proc/$T_DAEMON/status")
[ "$got" != "$want" ] && [ $((16#$got & 16#$want)) = $((16#$want)) ] ||
    t_fail "drop_capabilities = false should keep the start-up set, CapEff is $got"
t_say "ok: drop_capabilities = false keeps CapEff $got"
t_say "PASS"

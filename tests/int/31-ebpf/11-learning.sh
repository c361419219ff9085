#!/usr/bin/env bash
# 11-learning: the learning engine works in the daemon on real traffic. With learning_engine on and
# the events feature off (the engine turns on the event sources it needs), a real port scan from
# the client namespace (TCP connects to 40 ports) is proposed as a block and, with auto_apply, the
# scanner is blocked while another source still reaches the host.
# Before, the new-flow event bit was only ever set by tests: the scan produced no proposal.
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
    events = false
    learning_engine = true'
T_EXTRA='learning {
  auto_apply      = true
  scan_ports      = 20
  scan_window_sec = 60
  rule_ttl_sec    = 600
}'
t_write_config
t_start_daemon
t_expect_reach t_ping 198.18.10.20 198.18.10.1 "the scanner reaches the host before the scan"

# The scan: one TCP connect per port (closed ports answer RST; each SYN is a new flow).
t_cl "$T_PY" - <<'PY'
import socket
for port in range(20000, 20040):
    s = socket.socket()
    s.settimeout(0.3)
    s.bind(("198.18.10.20", 0))
    try:
        s.connect(("198.18.10.1", port))
    except OSError:
        pass
    s.close()
PY

view=""
for _ in $(seq 50); do
    view=$(t_api GET /api/ebpf/learning)
    echo "$view" | jq -e '.rules[] | select(.source == "198.18.10.20" and .pattern == "port_scan" and .state == "applied")' >/dev/null && break
    sleep 0.2
done
echo "$view" | jq -e '.rules[] | select(.source == "198.18.10.20" and .pattern == "port_scan" and .state == "applied")' >/dev/null ||
    t_fail "no applied port_scan rule for 198.18.10.20: $view"
t_say "ok: rule $(echo "$view" | jq -c '.rules[] | select(.source == "198.18.10.20") | {pattern, state, evidence, threshold, reason}')"
t_api GET '/api/ebpf/blocklist/ips?limit=1000' | jq -e '.entries[] | select(.value == "198.18.10.20" and .list == "block")' >/dev/null ||
    t_fail "the applied proposal should be in the blocklist: $(t_api GET '/api/ebpf/blocklist/ips?limit=1000')"
t_expect_blocked t_ping 198.18.10.20 198.18.10.1 "the scanner after auto_apply"
t_expect_reach t_ping 198.18.10.3 198.18.10.1 "another source after the scanner was blocked"
[ "$(t_api GET /api/ebpf/features | jq -r '.features[] | select(.name == "events") | .enabled')" = false ] ||
    t_fail "the events feature should still read off: the engine's event bits are its own"
t_say "PASS"

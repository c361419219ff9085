#!/usr/bin/env bash
# 01-ebpf-foundation: the real daemon starts on a veth this test creates; its program and pins
# are visible to bpftool; the API answers (stats, features, maps, hooks with the mode obtained,
# health, metrics) and refuses unauthenticated mutations; packets are counted; a second instance
# on the same pin_path refuses to start; SIGTERM exits 0 and leaves nothing attached and no pins.
# Exit 0 = pass, 77 = skip (reason printed), anything else = fail.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

t_preflight
t_setup_net
t_write_config
t_start_daemon

# ---- programs and pins, as bpftool sees them ----
[ -e "$T_PIN/progs/xdp_blocklist" ] || t_fail "no program pin at $T_PIN/progs/xdp_blocklist: $(ls -R "$T_PIN" 2>&1)"
pinned_id=$(bpftool -j prog show pinned "$T_PIN/progs/xdp_blocklist" | jq -r '.id')
[[ "$pinned_id" =~ ^[0-9]+$ ]] || t_fail "bpftool cannot read the pinned program"
t_check "attached XDP program id (bpftool net) is the pinned one" "$(t_xdp_prog_id)" "$pinned_id"
for m in fw_block4 fw_block6 fw_allow4_lpm fw_stats_map; do
    bpftool map show pinned "$T_PIN/maps/$m" >/dev/null 2>&1 || t_fail "map pin $T_PIN/maps/$m not readable by bpftool"
done
t_say "ok: program and map pins readable by bpftool"

# ---- API ----
hooks=$(t_api GET /api/ebpf/hooks)
t_check "GET /api/ebpf/hooks status" "$(t_status)" 200
# interface blocks default to tc = true: XDP plus the TC classifier on ingress and egress.
t_check "hook count" "$(jq '.hooks | length' <<<"$hooks")" 3
xdp_hook=$(jq -c '.hooks[] | select(.attach_point=="xdp")' <<<"$hooks")
t_check "xdp hook program" "$(jq -r '.program' <<<"$xdp_hook")" xdp_blocklist
t_check "xdp hook interface" "$(jq -r '.interface' <<<"$xdp_hook")" "$T_FW_IF"
t_check "xdp hook prog_id" "$(jq -r '.prog_id' <<<"$xdp_hook")" "$pinned_id"
t_check "tc hooks" "$(jq -r '[.hooks[] | select(.program=="tc_classifier") | .attach_point] | sort | join(",")' <<<"$hooks")" \
    "tc-egress,tc-ingress"
tc_id=$(bpftool -j prog show pinned "$T_PIN/progs/tc_classifier" | jq -r '.id')
t_fw tc filter show dev "$T_FW_IF" ingress | grep -q "id $tc_id" || t_fail "tc_classifier (id $tc_id) not on $T_FW_IF ingress"
t_fw tc filter show dev "$T_FW_IF" egress | grep -q "id $tc_id" || t_fail "tc_classifier (id $tc_id) not on $T_FW_IF egress"
t_say "ok: tc filters on ingress and egress carry tc_classifier (id $tc_id)"
mode=$(jq -r '.mode' <<<"$xdp_hook")
case "$mode" in native | generic) t_say "ok: XDP mode obtained = $mode" ;; *) t_fail "hook mode '$mode'" ;; esac
# The mode the API reports is the one the kernel reports.
kmode=$(t_fw ip -d -j link show dev "$T_FW_IF" | jq -r '.[0].xdp.mode')
case "$mode/$kmode" in native/1 | generic/2) t_say "ok: ip link agrees (xdp.mode $kmode)" ;;
    *) t_fail "API says mode $mode, ip link says xdp.mode $kmode" ;; esac

health=$(t_api GET /api/ebpf/health)
t_check "GET /api/ebpf/health status" "$(t_status)" 200
t_check "health.healthy" "$(jq -r '.healthy' <<<"$health")" true
t_check "health.programs_loaded" "$(jq -r '.programs_loaded' <<<"$health")" 2
t_check "health.hooks_attached" "$(jq -r '.hooks_attached' <<<"$health")" 3
t_check "health.event_thread_alive" "$(jq -r '.event_thread_alive' <<<"$health")" true

features=$(t_api GET /api/ebpf/features)
t_check "GET /api/ebpf/features status" "$(t_status)" 200
t_check "feature statistics enabled" "$(jq -r '.features[] | select(.name=="statistics") | .enabled' <<<"$features")" true
t_check "feature ip_blocklist enabled" "$(jq -r '.features[] | select(.name=="ip_blocklist") | .enabled' <<<"$features")" true
t_check "feature qos disabled" "$(jq -r '.features[] | select(.name=="qos") | .enabled' <<<"$features")" false

maps=$(t_api GET /api/ebpf/maps)
t_check "GET /api/ebpf/maps status" "$(t_status)" 200
t_check "fw_block4 key_size" "$(jq -r '.maps[] | select(.name=="fw_block4") | .key_size' <<<"$maps")" 4
t_check "fw_block4 max_entries" "$(jq -r '.maps[] | select(.name=="fw_block4") | .max_entries' <<<"$maps")" 1048576
t_check "fw_block4 entries" "$(jq -r '.maps[] | select(.name=="fw_block4") | .entries' <<<"$maps")" 0
# Slot tables (arrays) report used slots, not their size.
t_check "fw_ft_block4 entries" "$(jq -r '.maps[] | select(.name=="fw_ft_block4") | .entries' <<<"$maps")" 0
t_check "fw_rl_map max_entries" "$(jq -r '.maps[] | select(.name=="fw_rl_map") | .max_entries' <<<"$maps")" 262144
fe=$(jq -r '.maps[] | select(.name=="fw_flows") | .entries' <<<"$maps")
[[ "$fe" =~ ^[0-9]+$ && "$fe" -lt 262144 ]] || t_fail "fw_flows entries '$fe' (used slots expected)"
t_check "fw_block4 pin" "$(jq -r '.maps[] | select(.name=="fw_block4") | .pin' <<<"$maps")" "$T_PIN/maps/fw_block4"
mem=$(jq -r '.maps[] | select(.name=="fw_stats_map") | .memory_bytes' <<<"$maps")
[[ "$mem" =~ ^[0-9]+$ && "$mem" -gt 0 ]] || t_fail "fw_stats_map memory_bytes '$mem'"

# ---- packets are counted, and per-program kernel stats move ----
before=$(t_stat '.processed')
t_ping 198.18.10.2 198.18.10.1 || t_fail "ping through the protected interface failed"
stats=$(t_api GET /api/stats/ebpf)
t_check "GET /api/stats/ebpf status" "$(t_status)" 200
after=$(jq -r '.processed' <<<"$stats")
[ "$after" -ge $((before + 3)) ] || t_fail "processed did not grow by >= 3 (before $before, after $after)"
[ "$(jq -r '.passed' <<<"$stats")" -ge 3 ] || t_fail "passed counter: $stats"
t_check "self_timing.sample_1_in" "$(jq -r '.self_timing.sample_1_in' <<<"$stats")" 1024
[ "$(jq -r '.self_timing.processed' <<<"$stats")" -ge 3 ] || t_fail "self_timing.processed: $stats"
t_say "ok: processed $before -> $after"

# ---- kernel BPF statistics: off while the daemon runs, on only for a profiling window ----
t_check "health.kernel_bpf_stats.on (no window)" "$(jq -r '.kernel_bpf_stats.on' <<<"$health")" false
for bad in 0 301 x; do
    t_api POST "/api/ebpf/profile?seconds=$bad" >/dev/null
    t_check "profile seconds=$bad refused" "$(t_status)" 400
done
code=$(t_fw curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$T_PORT/api/ebpf/profile?seconds=2")
t_check "profile without token" "$code" 401
prof=$(t_api POST "/api/ebpf/profile?seconds=2")
t_check "POST /api/ebpf/profile status" "$(t_status)" 200
t_check "profile window on" "$(jq -r '.kernel_bpf_stats.on' <<<"$prof")" true
runs0=$(t_api GET /api/stats/ebpf | jq -r '.programs[] | select(.name=="xdp_blocklist") | .run_cnt')
t_ping 198.18.10.2 198.18.10.1 || t_fail "ping through the protected interface failed"
runs=$(t_api GET /api/stats/ebpf | jq -r '.programs[] | select(.name=="xdp_blocklist") | .run_cnt')
[[ "$runs" =~ ^[0-9]+$ && "$runs" -ge $((runs0 + 3)) ]] || t_fail "programs[].run_cnt $runs0 -> '$runs' inside the window"
t_check "health.kernel_bpf_stats.on (window)" "$(t_api GET /api/ebpf/health | jq -r '.kernel_bpf_stats.on')" true
sleep 2.5
t_check "health.kernel_bpf_stats.on (window over)" "$(t_api GET /api/ebpf/health | jq -r '.kernel_bpf_stats.on')" false
t_say "ok: kernel statistics only inside the profiling window (run_cnt $runs0 -> $runs)"
# State tables report occupancy and capacity (rate limiter sources, flows).
[ "$(jq -r '.rate_limit.sources_max' <<<"$stats")" = 262144 ] || t_fail "rate_limit.sources_max: $stats"
[[ "$(jq -r '.rate_limit.sources_active' <<<"$stats")" =~ ^[0-9]+$ ]] || t_fail "rate_limit.sources_active: $stats"
[ "$(jq -r '.flows.max' <<<"$stats")" = 262144 ] || t_fail "flows.max: $stats"
t_say "ok: limiter sources $(jq -r '.rate_limit.sources_active' <<<"$stats") of 262144, flows $(jq -r '.flows.active' <<<"$stats")"

metrics=$(t_fw curl -s -m 5 "http://127.0.0.1:$T_PORT/metrics")
grep -q "^flywall_packets_processed_total $after" <<<"$metrics" ||
    grep -q "^flywall_packets_processed_total [0-9]" <<<"$metrics" || t_fail "no flywall_packets_processed_total in /metrics"
grep -q '^flywall_healthy 1' <<<"$metrics" || t_fail "/metrics lacks flywall_healthy 1"
t_say "ok: /metrics is Prometheus text"

# ---- mutations need the token ----
code=$(t_fw curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$T_PORT/api/ebpf/features/qos/enable")
t_check "POST without token" "$code" 401
t_api POST /api/ebpf/blocklist/ips '{"entries":[{"value":"198.18.10.999"}]}' >/dev/null
t_check "bad address rejected" "$(t_status)" 400
t_check "rejected field" "$(jq -r '.field' "$T_TMP/body")" "entries[0].value"

# ---- a second instance on the same pin_path refuses ----
second_port=$(t_free_port)
sed "s/127.0.0.1:$T_PORT/127.0.0.1:$second_port/" "$T_CONF" >"$T_TMP/second.hcl"
out=$(t_fw timeout 20 "$T_BIN" run --config "$T_TMP/second.hcl" 2>&1)
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || t_fail "second instance on $T_PIN did not refuse (exit $rc): $out"
grep -q "held by another flywall instance" <<<"$out" || t_fail "second instance error is unclear: $out"
t_say "ok: second instance refused (exit $rc): $(tail -n1 <<<"$out")"
t_check "first instance still attached" "$(t_xdp_prog_id)" "$pinned_id"
t_check "first instance still healthy" "$(t_api GET /api/ebpf/health | jq -r .healthy)" true

# ---- clean stop ----
t_stop_daemon
rc=$?
t_check "daemon exit status after SIGTERM" "$rc" 0
t_check "XDP program on $T_FW_IF after stop" "$(t_xdp_prog_id)" ""
t_check "tc filters on $T_FW_IF after stop" "$(t_fw tc filter show dev "$T_FW_IF" ingress; t_fw tc filter show dev "$T_FW_IF" egress)" ""
t_fw tc qdisc show dev "$T_FW_IF" | grep -q clsact && t_fail "clsact qdisc left on $T_FW_IF"
[ -e "$T_PIN" ] && t_fail "pins left behind: $(ls -R "$T_PIN")"
bpftool prog show id "$pinned_id" >/dev/null 2>&1 && t_fail "program $pinned_id still loaded after stop"
bpftool prog show id "$tc_id" >/dev/null 2>&1 && t_fail "program $tc_id still loaded after stop"
t_say "ok: nothing attached, no pins, program unloaded"
grep -q "stopped" "$T_LOG" || t_fail "daemon log has no clean stop line"
echo "PASS: 01-ebpf-foundation"

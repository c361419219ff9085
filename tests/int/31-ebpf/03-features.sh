#!/usr/bin/env bash
# 03-features: a runtime toggle of ip_blocklist changes what a client sees without reloading the
# XDP program (same program id in bpftool); the feature dependency rules through the API and
# the CLI (enabling a feature whose dependency is off is refused naming it; disabling a feature
# that enabled features need is refused naming them; force takes the dependents along).
# Exit 0 = pass, 77 = skip (reason printed), anything else = fail.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Feature states are asserted exactly: no load-driven shedding by the adaptive governor.
T_EBPF_EXTRA='  adaptive {
    enabled = false
  }'

t_preflight
t_setup_net
t_write_config
t_start_daemon
t_start_servers

enabled() {  # enabled NAME -> "true"/"false" from GET /api/ebpf/features
    t_api GET /api/ebpf/features | jq -r --arg n "$1" '.features[] | select(.name == $n) | .enabled'
}
for f in flow_monitoring ip_blocklist statistics; do
    [ "$(enabled $f)" = true ] || t_fail "$f should start enabled: $(t_api GET /api/ebpf/features)"
done
t_cli features | grep -Eq '^ip_blocklist +yes' || t_fail "human features table lacks 'ip_blocklist yes': $(t_cli features)"

# ---- runtime toggle of ip_blocklist: behaviour changes, the program stays ----
id0=$(t_xdp_prog_id)
[ -n "$id0" ] || t_fail "no XDP program on $T_FW_IF according to bpftool"
out=$(t_cli block add 198.18.10.2 2001:db8:10::2 2>&1) || t_fail "flywall block add: $out"
t_expect_blocked t_ping 198.18.10.2 198.18.10.1 "ip_blocklist on"
t_expect_blocked t_tcp 2001:db8:10::2 2001:db8:10::1 "ip_blocklist on"

out=$(t_cli features disable ip_blocklist 2>&1) || t_fail "flywall features disable ip_blocklist: $out"
t_say "flywall features disable ip_blocklist -> $out"
[ "$(enabled ip_blocklist)" = false ] || t_fail "ip_blocklist should be off"
t_flush_neigh
t_expect_reach t_ping 198.18.10.2 198.18.10.1 "ip_blocklist off: listed host passes"
t_expect_reach t_tcp 2001:db8:10::2 2001:db8:10::1 "ip_blocklist off: listed host passes"
id1=$(t_xdp_prog_id)
[ "$id1" = "$id0" ] || t_fail "disabling a feature replaced the XDP program ($id0 -> $id1)"
t_cli block list --json | jq -e '.entries[] | select(.value == "198.18.10.2")' >/dev/null ||
    t_fail "disabling the feature must keep the list entries"

out=$(t_cli features enable ip_blocklist 2>&1) || t_fail "flywall features enable ip_blocklist: $out"
t_expect_blocked t_ping 198.18.10.2 198.18.10.1 "ip_blocklist on again"
t_expect_blocked t_udp 2001:db8:10::2 2001:db8:10::1 "ip_blocklist on again"
t_expect_reach t_ping 198.18.10.3 198.18.10.1 "unlisted host"
id2=$(t_xdp_prog_id)
[ "$id2" = "$id0" ] || t_fail "enabling a feature replaced the XDP program ($id0 -> $id2)"
t_say "ok: XDP program id $id0 unchanged across both toggles"
reloads=$(t_api GET /api/ebpf/health | jq -r '.reloads')
[ "$reloads" = 0 ] || t_fail "feature toggles must not reload (health.reloads = $reloads)"

# ---- unknown names ----
body=$(t_api POST /api/ebpf/features/no_such_feature/enable)
[[ "$(t_status)" =~ ^4[0-9][0-9]$ ]] && [[ "$body" == *no_such_feature* ]] ||
    t_fail "an unknown feature should be a 4xx naming it: $(t_status) $body"
out=$(t_cli features enable no_such_feature 2>&1); rc=$?
[ $rc = 1 ] || t_fail "flywall features enable no_such_feature should exit 1, got $rc: $out"

# ---- enabling with a missing dependency is refused, naming it ----
out=$(t_cli features disable flow_monitoring 2>&1) || t_fail "flywall features disable flow_monitoring (nothing needs it yet): $out"
body=$(t_api POST /api/ebpf/features/inline_ips/enable)
st=$(t_status)
[[ "$st" =~ ^4[0-9][0-9]$ ]] || t_fail "enable inline_ips without flow_monitoring: want 4xx, got $st $body"
[[ "$(echo "$body" | jq -r .error)" == *flow_monitoring* ]] || t_fail "the refusal should name flow_monitoring: $body"
t_say "ok: enable inline_ips refused ($st): $(echo "$body" | jq -r .error)"
[ "$(enabled inline_ips)" = false ] || t_fail "a refused enable changed inline_ips"
out=$(t_cli features enable qos 2>&1); rc=$?
[ $rc = 1 ] && [[ "$out" == *flow_monitoring* ]] || t_fail "flywall features enable qos without flow_monitoring: want exit 1 naming flow_monitoring, got $rc: $out"

# ---- disabling a feature others need is refused, naming them; force takes them along ----
out=$(t_cli features enable flow_monitoring 2>&1) || t_fail "flywall features enable flow_monitoring: $out"
for f in inline_ips qos; do
    body=$(t_api POST /api/ebpf/features/$f/enable)
    [ "$(t_status)" = 200 ] || t_fail "enable $f with flow_monitoring on: $(t_status) $body"
    [ "$(enabled $f)" = true ] || t_fail "$f should be on"
done
body=$(t_api POST /api/ebpf/features/flow_monitoring/disable)
st=$(t_status)
[[ "$st" =~ ^4[0-9][0-9]$ ]] || t_fail "disable flow_monitoring while inline_ips/qos need it: want 4xx, got $st $body"
err=$(echo "$body" | jq -r '.error')
[[ "$err" == *inline_ips* && "$err" == *qos* ]] || t_fail "the refusal should name inline_ips and qos: $body"
t_say "ok: disable flow_monitoring refused ($st): $err"
[ "$(enabled flow_monitoring)" = true ] || t_fail "a refused disable changed flow_monitoring"
out=$(t_cli features disable flow_monitoring 2>&1); rc=$?
[ $rc = 1 ] && [[ "$out" == *inline_ips* ]] || t_fail "flywall features disable flow_monitoring: want exit 1 naming inline_ips, got $rc: $out"

out=$(t_cli features disable flow_monitoring --force 2>&1) || t_fail "flywall features disable flow_monitoring --force: $out"
t_say "flywall features disable flow_monitoring --force -> $out"
for f in flow_monitoring inline_ips qos; do
    [ "$(enabled $f)" = false ] || t_fail "after the forced disable $f should be off: $(t_api GET /api/ebpf/features)"
done
[ "$(enabled ip_blocklist)" = true ] || t_fail "ip_blocklist must not be touched by the forced disable"
t_expect_blocked t_ping 198.18.10.2 198.18.10.1 "blocklist unaffected by the forced disable"
[ "$(t_xdp_prog_id)" = "$id0" ] || t_fail "the forced disable replaced the XDP program"

# Measured cost: each feature's memory is the sum of its maps as the kernel reports them (not the
# governor's budget constants), and the CPU is the programs' own sampled timing.
feats=$(t_api GET /api/ebpf/features)
maps=$(t_api GET /api/ebpf/maps)
want=$(jq '[.maps[] | select(.name | test("^fw_(ft_|allow|block|lpm_guard)")) | .memory_bytes] | add' <<<"$maps")
got=$(jq '.features[] | select(.name == "ip_blocklist") | .measured.memory_bytes' <<<"$feats")
[ "$got" = "$want" ] && [ "$got" -gt 0 ] || t_fail "ip_blocklist measured.memory_bytes $got, want the sum of its maps $want"
budget=$(jq '.features[] | select(.name == "ip_blocklist") | .budget.memory_bytes' <<<"$feats")
[ "$budget" != "$got" ] || t_fail "measured memory equals the budget constant; is it measured?"
jq -e '.measured_cpu[] | select(.program == "xdp_blocklist" and .packets > 0 and .sample_1_in == 1024)' <<<"$feats" >/dev/null ||
    t_fail "measured_cpu should report xdp_blocklist's self-timing: $(jq -c .measured_cpu <<<"$feats")"
out=$(t_cli features) || t_fail "flywall features"
echo "$out" | grep -qi 'measured.memory_bytes' && echo "$out" | grep -Eq 'xdp_blocklist .*(ns/packet|no packet timed yet)' ||
    t_fail "flywall features should show measured memory and CPU: $out"
t_say "ok: ip_blocklist measured $got bytes (budget constant $budget); $(echo "$out" | grep xdp_blocklist | sed 's/^ *//')"

t_cli status >/dev/null || t_fail "daemon unhealthy at the end: $(t_cli status 2>&1)"
t_say "PASS 03-features"
exit 0

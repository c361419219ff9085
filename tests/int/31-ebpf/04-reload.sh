#!/usr/bin/env bash
# 04-reload: SIGHUP with a bad config is rejected (daemon keeps running, the error is logged and
# reported by /api/ebpf/health, the old rules keep working); a good config is applied (a newly
# configured blocked address takes effect, a removed one stops); entries added through the API
# survive every reload; the XDP program is never replaced (same id in bpftool).
# Exit 0 = pass, 77 = skip (reason printed), anything else = fail.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Feature states are asserted exactly: no load-driven shedding by the adaptive governor.
T_EBPF_EXTRA='  adaptive {
    enabled = false
  }'

t_preflight
t_setup_net
T_BLOCKLIST='ips = ["198.18.10.3"]'
t_write_config
t_start_daemon
t_start_servers

health() { t_api GET /api/ebpf/health; }
# wait_reload FIELD OLD: until health.FIELD differs from OLD (10 s).
wait_reload() {
    local field=$1 old=$2 now
    for _ in $(seq 50); do
        now=$(health | jq -r ".$field")
        [ "$now" != "$old" ] && return 0
        sleep 0.2
    done
    return 1
}

id0=$(t_xdp_prog_id)
[ -n "$id0" ] || t_fail "no XDP program on $T_FW_IF according to bpftool"
t_expect_blocked t_ping 198.18.10.3 198.18.10.1 "configured block"
t_expect_reach t_ping 198.18.10.2 198.18.10.1 "not configured"
t_expect_reach t_ping 198.18.10.20 198.18.10.1 "not configured yet"
out=$(t_cli block add 2001:db8:10::2 198.18.10.2 --ttl 1h 2>&1) || t_fail "flywall block add (API entries): $out"
t_expect_blocked t_ping 2001:db8:10::2 2001:db8:10::1 "API entry"
t_expect_blocked t_tcp 198.18.10.2 198.18.10.1 "API entry with TTL"

# ---- a bad config: rejected, nothing changes ----
cp "$T_CONF" "$T_TMP/good.hcl"
sed -i 's/^  xdp_mode = "auto"$/  xdp_mode = "turbo"/' "$T_CONF"
grep -q turbo "$T_CONF" || t_fail "could not write the bad config"
fails0=$(health | jq -r '.reload_failures')
reloads0=$(health | jq -r '.reloads')
kill -HUP "$T_DAEMON"
wait_reload reload_failures "$fails0" || t_fail "bad config: health.reload_failures stayed $fails0"
sleep 0.5
kill -0 "$T_DAEMON" 2>/dev/null || t_fail "the daemon died on a bad config"
[ "$(health | jq -r '.reloads')" = "$reloads0" ] || t_fail "a bad config must not count as a reload"
errs=$(health | jq -c '.last_errors')
[[ "$errs" == *turbo* || "$errs" == *xdp_mode* ]] || t_fail "health.last_errors should explain the bad config: $errs"
grep -Eq 'xdp_mode|turbo' "$T_LOG" || t_fail "the daemon log should report the bad config"
t_say "ok: bad config rejected: $errs"
t_cli status >/dev/null || t_fail "the daemon should stay healthy on the old config: $(t_cli status 2>&1)"
t_expect_blocked t_ping 198.18.10.3 198.18.10.1 "old config still active"
t_expect_blocked t_ping 2001:db8:10::2 2001:db8:10::1 "API entry after a failed reload"
t_expect_reach t_ping 198.18.10.20 198.18.10.1 "old config still active"
[ "$(t_xdp_prog_id)" = "$id0" ] || t_fail "a failed reload replaced the XDP program"

# ---- a good config: applied ----
T_BLOCKLIST='ips = ["198.18.10.3", "198.18.10.20"]'
t_write_config
kill -HUP "$T_DAEMON"
wait_reload reloads "$reloads0" || t_fail "good config: health.reloads stayed $reloads0: $(health)"
kill -0 "$T_DAEMON" 2>/dev/null || t_fail "the daemon died on a reload"
t_expect_blocked t_ping 198.18.10.20 198.18.10.1 "newly configured block"
t_expect_blocked t_ping 198.18.10.3 198.18.10.1 "still configured"
t_expect_blocked t_ping 2001:db8:10::2 2001:db8:10::1 "API entry kept across reload"
t_expect_blocked t_udp 198.18.10.2 198.18.10.1 "API entry with TTL kept across reload"
ttl=$(t_cli block list --json | jq -r '.entries[] | select(.value == "198.18.10.2") | .ttl_remaining')
[[ "$ttl" =~ ^[0-9]+$ ]] && [ "$ttl" -gt 3000 ] && [ "$ttl" -le 3600 ] ||
    t_fail "the API entry's TTL should survive the reload (ttl_remaining '$ttl')"
[ "$(t_xdp_prog_id)" = "$id0" ] || t_fail "a reload replaced the XDP program ($id0 -> $(t_xdp_prog_id))"
t_say "ok: good config applied; API entries kept; XDP program id $id0 unchanged"

# ---- removing an address from the config unblocks it, API entries stay ----
reloads1=$(health | jq -r '.reloads')
T_BLOCKLIST='ips = ["198.18.10.20"]'
t_write_config
kill -HUP "$T_DAEMON"
wait_reload reloads "$reloads1" || t_fail "third config: health.reloads stayed $reloads1"
t_expect_reach t_ping 198.18.10.3 198.18.10.1 "removed from the config"
t_expect_blocked t_ping 198.18.10.20 198.18.10.1 "still configured"
t_expect_blocked t_ping 2001:db8:10::2 2001:db8:10::1 "API entry kept across the second reload"
[ "$(t_xdp_prog_id)" = "$id0" ] || t_fail "a reload replaced the XDP program"

t_cli status >/dev/null || t_fail "daemon unhealthy at the end: $(t_cli status 2>&1)"
t_say "PASS 04-reload"
exit 0

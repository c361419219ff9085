#!/usr/bin/env bash
# 02-blocklist: the CLI and the API block and unblock an IPv4 host, an IPv6 host and CIDRs (and
# an imported netset file, and an entry with a TTL); real ping / TCP / UDP traffic from a client
# namespace confirms each state, and the API's drop counters rise.
# Exit 0 = pass, 77 = skip (reason printed), anything else = fail.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Feature states are asserted exactly: no load-driven shedding by the adaptive governor.
T_EBPF_EXTRA='  adaptive {
    enabled = false
  }'

t_preflight
t_setup_net
T_FEATURES='ip_blocklist = true
    flow_monitoring = true
    statistics = true
    dns_blocklist = true
    events = true'
t_write_config
t_start_daemon
t_start_servers

# ---- before: everything reaches the protected side ----
for probe in t_ping t_tcp t_udp; do
    t_expect_reach $probe 198.18.10.2 198.18.10.1 "before any block"
    t_expect_reach $probe 2001:db8:10::2 2001:db8:10::1 "before any block"
done
dropped0=$(t_stat '.dropped')
hits0=$(t_stat '.drops_by_reason.ip_blocklist')
[[ "$dropped0" =~ ^[0-9]+$ && "$hits0" =~ ^[0-9]+$ ]] || t_fail "stats lack dropped / drops_by_reason.ip_blocklist: $(t_api GET /api/stats/ebpf)"

# ---- IPv4 host, through the CLI ----
out=$(t_cli block add 198.18.10.2 2>&1); rc=$?
[ $rc = 0 ] || t_fail "flywall block add 198.18.10.2 exited $rc: $out"
t_say "flywall block add 198.18.10.2 -> $out"
# `flywall events` follows the API's event stream while the blocked traffic below is dropped.
nsenter --net="/run/netns/$T_FW" "$T_BIN" events --count 1 --for 15 --json \
    --api "127.0.0.1:$T_PORT" --token-file "$T_TOKEN" >"$T_TMP/events.out" 2>"$T_TMP/events.err" &
events_pid=$!
T_HELPERS+=($events_pid)
sleep 0.5
for probe in t_ping t_tcp t_udp; do
    t_expect_blocked $probe 198.18.10.2 198.18.10.1 "IPv4 host blocked"
    t_expect_reach $probe 2001:db8:10::2 2001:db8:10::1 "IPv6 unaffected by the IPv4 block"
done
t_expect_reach t_ping 198.18.10.3 198.18.10.1 "another IPv4 host is not blocked"
wait $events_pid; rc=$?
[ $rc = 0 ] || t_fail "flywall events --count 1 exited $rc: $(cat "$T_TMP/events.err")"
jq -e 'select(.type == "ip_blocked" and .src == "198.18.10.2")' "$T_TMP/events.out" >/dev/null ||
    t_fail "flywall events should print the ip_blocked event of 198.18.10.2: $(cat "$T_TMP/events.out")"
t_say "ok: flywall events: $(cat "$T_TMP/events.out")"
list=$(t_cli block list --json) || t_fail "flywall block list --json failed"
echo "$list" | jq -e '.entries[] | select(.value == "198.18.10.2" and .list == "block" and .hits > 0)' >/dev/null ||
    t_fail "block list should show 198.18.10.2 with hits > 0: $list"
t_cli block list | grep -q '^198\.18\.10\.2 ' || t_fail "human block list lacks 198.18.10.2: $(t_cli block list)"
dropped1=$(t_stat '.dropped')
hits1=$(t_stat '.drops_by_reason.ip_blocklist')
[ "$dropped1" -gt "$dropped0" ] && [ "$hits1" -gt "$hits0" ] ||
    t_fail "stats did not rise: dropped $dropped0 -> $dropped1, ip_blocklist $hits0 -> $hits1"
t_say "ok: stats rose: dropped $dropped0 -> $dropped1, drops_by_reason.ip_blocklist $hits0 -> $hits1"
t_cli stats | grep -Eq '^dropped +[0-9]+' || t_fail "human stats lack a dropped line"

out=$(t_cli block del 198.18.10.2 2>&1) || t_fail "flywall block del 198.18.10.2: $out"
t_flush_neigh
for probe in t_ping t_tcp t_udp; do t_expect_reach $probe 198.18.10.2 198.18.10.1 "IPv4 host unblocked"; done
t_cli block list --json | jq -e '[.entries[] | select(.value == "198.18.10.2")] | length == 0' >/dev/null ||
    t_fail "198.18.10.2 still listed after del"

# ---- IPv6 host, through the API ----
body=$(t_api POST /api/ebpf/blocklist/ips '{"entries":[{"value":"2001:db8:10::2"}]}')
[ "$(t_status)" = 200 ] || t_fail "POST blocklist/ips 2001:db8:10::2 -> $(t_status) $body"
echo "$body" | jq -e '.added == 1' >/dev/null || t_fail "API add answer: $body"
for probe in t_ping t_tcp t_udp; do
    t_expect_blocked $probe 2001:db8:10::2 2001:db8:10::1 "IPv6 host blocked"
    t_expect_reach $probe 198.18.10.2 198.18.10.1 "IPv4 unaffected by the IPv6 block"
done
body=$(t_api DELETE '/api/ebpf/blocklist/ips?value=2001:db8:10::2')
[ "$(t_status)" = 200 ] || t_fail "DELETE blocklist/ips 2001:db8:10::2 -> $(t_status) $body"
t_flush_neigh
for probe in t_ping t_tcp t_udp; do t_expect_reach $probe 2001:db8:10::2 2001:db8:10::1 "IPv6 host unblocked"; done

# ---- lists are paged: walk the list one entry a page and meet every entry once ----
body=$(t_api POST /api/ebpf/blocklist/ips '{"entries":[{"value":"198.18.77.3"},{"value":"198.18.77.1"},{"value":"2001:db8:77::1"},{"value":"::ffff:198.18.77.2"}]}')
[ "$(t_status)" = 200 ] || t_fail "POST 4 entries -> $(t_status) $body"
total=$(t_api GET '/api/ebpf/blocklist/ips?limit=1' | jq -r .total)
seen=""; after=""; pages=0
while :; do
    q="limit=1"; [ -n "$after" ] && q="$q&after=$(jq -rn --arg a "$after" '$a|@uri')"
    page=$(t_api GET "/api/ebpf/blocklist/ips?$q")
    [ "$(t_status)" = 200 ] || t_fail "GET page $q -> $(t_status) $page"
    seen="$seen $(echo "$page" | jq -r '.entries[].value')"
    after=$(echo "$page" | jq -r '.next // empty'); pages=$((pages + 1))
    [ -z "$after" ] && break
    [ $pages -gt 1000 ] && t_fail "paging does not end"
done
[ "$pages" = "$total" ] || t_fail "walked $pages pages of 1 for $total entries"
[ "$(echo $seen | tr ' ' '\n' | sort | uniq -d)" = "" ] || t_fail "an entry appeared on two pages: $seen"
echo "$seen" | grep -qw 198.18.77.2 || t_fail "::ffff:198.18.77.2 should be listed as IPv4 198.18.77.2: $seen"
t_say "ok: $total entries in $pages pages of one, each once; IPv4-mapped stored as IPv4"
out=$(t_cli block del 198.18.77.3 198.18.77.1 2001:db8:77::1 198.18.77.2 2>&1) || t_fail "del paged entries: $out"
body=$(t_api GET '/api/ebpf/blocklist/ips?limit=0')
[ "$(t_status)" = 400 ] || t_fail "limit=0 should be 400, got $(t_status) $body"

# ---- a bad request changes nothing (all-or-nothing) ----
body=$(t_api POST /api/ebpf/blocklist/ips '{"entries":[{"value":"198.18.10.2"},{"value":"198.18.10.999"}]}')
[ "$(t_status)" = 400 ] || t_fail "bulk add with a bad entry should be 400, got $(t_status) $body"
echo "$body" | jq -e '.field == "entries[1].value"' >/dev/null || t_fail "error should name entries[1].value: $body"
t_expect_reach t_ping 198.18.10.2 198.18.10.1 "rejected bulk request applied nothing"
out=$(t_cli block add 198.18.10.999 2>&1); rc=$?
[ $rc = 2 ] || t_fail "flywall block add with a bad address should exit 2, got $rc: $out"

# ---- CIDR, through the CLI (IPv4 /28 and IPv6 /120) ----
out=$(t_cli block add 198.18.10.0/28 2001:db8:10::/120 2>&1) || t_fail "flywall block add CIDRs: $out"
t_expect_blocked t_ping 198.18.10.2 198.18.10.1 "198.18.10.0/28 blocked"
t_expect_blocked t_tcp 198.18.10.3 198.18.10.1 "198.18.10.0/28 blocked"
t_expect_reach t_ping 198.18.10.20 198.18.10.1 "198.18.10.20 is outside 198.18.10.0/28"
t_expect_blocked t_udp 2001:db8:10::2 2001:db8:10::1 "2001:db8:10::/120 blocked"
out=$(t_cli block del 198.18.10.0/28 2001:db8:10::/120 2>&1) || t_fail "flywall block del CIDRs: $out"
t_flush_neigh
t_expect_reach t_ping 198.18.10.2 198.18.10.1 "CIDR unblocked"
t_expect_reach t_tcp 198.18.10.3 198.18.10.1 "CIDR unblocked"
t_expect_reach t_udp 2001:db8:10::2 2001:db8:10::1 "IPv6 CIDR unblocked"

# ---- import a netset file ----
printf '# test list\n198.18.10.3\n198.18.10.16/28 ; the .20 host\n' >"$T_TMP/list.netset"
out=$(t_cli block import "$T_TMP/list.netset" 2>&1) || t_fail "flywall block import: $out"
t_expect_blocked t_ping 198.18.10.3 198.18.10.1 "imported host"
t_expect_blocked t_ping 198.18.10.20 198.18.10.1 "imported CIDR"
t_expect_reach t_ping 198.18.10.2 198.18.10.1 "not in the imported list"
out=$(t_cli block del 198.18.10.3 198.18.10.16/28 2>&1) || t_fail "flywall block del imported: $out"
t_flush_neigh
t_expect_reach t_ping 198.18.10.20 198.18.10.1 "imported entries removed"

# ---- TTL: the entry expires by itself ----
out=$(t_cli block add 198.18.10.2 --ttl 3s 2>&1) || t_fail "flywall block add --ttl 3s: $out"
t_expect_blocked t_ping 198.18.10.2 198.18.10.1 "TTL entry active"
ttl=$(t_cli block list --json | jq -r '.entries[] | select(.value == "198.18.10.2") | .ttl_remaining')
[[ "$ttl" =~ ^[0-9]+$ ]] && [ "$ttl" -le 3 ] || t_fail "TTL entry should list ttl_remaining <= 3, got '$ttl'"
passed=0
for _ in $(seq 20); do
    sleep 0.5
    if t_ping 198.18.10.2 198.18.10.1; then passed=1; break; fi
done
[ $passed = 1 ] || t_fail "TTL entry 198.18.10.2 did not expire within ~15 s"
t_say "ok: TTL entry expired; traffic passes again"
for probe in t_tcp t_udp; do t_expect_reach $probe 198.18.10.2 198.18.10.1 "after expiry"; done

# ---- domains through the CLI (what DNS clients see is 05-dns-ratelimit's subject) ----
out=$(t_cli domain add ads.example.com '*.tracker.example' --ttl 1h 2>&1) || t_fail "flywall domain add: $out"
printf '# hosts\n0.0.0.0 ads2.example.com ads3.example.com\n127.0.0.1 localhost\n' >"$T_TMP/hosts"
out=$(t_cli domain import "$T_TMP/hosts" 2>&1) || t_fail "flywall domain import (hosts file): $out"
[[ "$out" == "added 2 of 2"* ]] || t_fail "hosts import should add ads2/ads3 and skip localhost: $out"
# Every blocked domain also blocks its subdomains, so the daemon may list "*.x" as "x".
doms=$(t_cli domain list --json | jq -c '[.entries[].value | sub("^\\*\\."; "")] | sort')
[ "$doms" = '["ads.example.com","ads2.example.com","ads3.example.com","tracker.example"]' ] ||
    t_fail "flywall domain list: $doms"
t_cli domain list | grep -Eq '^ads\.example\.com +' || t_fail "human domain list lacks ads.example.com: $(t_cli domain list)"
out=$(t_cli domain add 'bad..name' 2>&1); rc=$?
[ $rc = 2 ] || t_fail "flywall domain add of an invalid name should exit 2, got $rc: $out"
out=$(t_cli domain del ads.example.com '*.tracker.example' ads2.example.com ads3.example.com 2>&1) ||
    t_fail "flywall domain del: $out"
[ "$(t_cli domain list --json | jq '.entries | length')" = 0 ] || t_fail "domains left after del: $(t_cli domain list)"
t_say "ok: flywall domain add / import (hosts file) / list / del"

t_cli status >/dev/null || t_fail "daemon unhealthy at the end: $(t_cli status 2>&1)"
t_say "PASS 02-blocklist"
exit 0

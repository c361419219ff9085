#!/usr/bin/env bash
# 06-tc-socket: the TC classifier's inline IPS and the socket monitors through the daemon.
#  (a) IPS: a drop pattern added through the API drops a UDP payload that carries it while a
#      clean payload is echoed; the drop shows in the pattern stats and as an ips_drop event.
#  (b) TLS: openssl s_client -> s_server on the protected side; /api/ebpf/tls shows the SNI and
#      a 32-hex JA3 hash.
#  (c) DNS: dig -> dnsmasq on the protected side; /api/ebpf/dns shows the query and its qtype.
#  (d) DHCP: a DHCPDISCOVER from the client namespace; /api/ebpf/devices shows its MAC, hostname
#      and option-55 fingerprint.
#  Plus: the socket monitors follow their features at run time (hooks come and go); the QoS rule
#  and IPS pattern routes validate their input (400 + field) and need the token; qos/ips blocks
#  of the configuration are applied by a reload (SIGHUP) as a diff that keeps API entries.
# Exit 0 = pass, 77 = skip (reason printed), anything else = fail.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

t_preflight
for tool in openssl dig dnsmasq; do command -v "$tool" >/dev/null || t_skip "needs $tool"; done

t_setup_net
T_FEATURES='ip_blocklist = true
    flow_monitoring = true
    statistics = true
    events = true
    inline_ips = true
    socket_filters = true
    dns_monitoring = true
    tls_fingerprinting = true
    dhcp_monitoring = true'
t_write_config
t_start_daemon
t_start_servers

# Every socket monitor is on the protected interface.
sock_hooks() { t_api GET /api/ebpf/hooks | jq -r '[.hooks[] | select(.attach_point=="socket") | .program] | sort | join(",")'; }
t_check "socket monitor hooks" "$(sock_hooks)" "socket_dhcp,socket_dns,socket_tls"

# SSE stream in the background: the events the checks below look for.
t_fw curl -sN -m 120 "http://127.0.0.1:$T_PORT/api/ebpf/events" >"$T_TMP/events.sse" 2>/dev/null &
T_HELPERS+=($!)
sleep 0.5

# ---- API validation ----
code=$(t_fw curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data '{"name":"x","bytes":"ab"}' "http://127.0.0.1:$T_PORT/api/ebpf/ips/patterns")
t_check "POST ips pattern without token" "$code" 401
t_api POST /api/ebpf/ips/patterns '{"name":"short","bytes":"a"}' >/dev/null
t_check "1-byte pattern rejected" "$(t_status)" 400
t_check "1-byte pattern field" "$(jq -r .field "$T_TMP/body")" bytes
t_api POST /api/ebpf/ips/patterns '{"name":"badesc","bytes":"ab\\q"}' >/dev/null
t_check "bad escape rejected" "$(t_status)/$(jq -r .field "$T_TMP/body")" 400/bytes
t_api POST /api/ebpf/ips/patterns '{"name":"badaction","bytes":"abcd","action":"reject"}' >/dev/null
t_check "bad action rejected" "$(t_status)/$(jq -r .field "$T_TMP/body")" 400/action
t_api POST /api/ebpf/qos/rules '{"name":"voip","proto":"udp","dport":"5100-5000","class":"1:10"}' >/dev/null
t_check "reversed port range rejected" "$(t_status)/$(jq -r .field "$T_TMP/body")" 400/dport
t_api POST /api/ebpf/qos/rules '{"name":"voip","proto":"udp","dport":"5000-5100","dscp":64,"class":"1:10"}' >/dev/null
t_check "dscp 64 rejected" "$(t_status)/$(jq -r .field "$T_TMP/body")" 400/dscp
t_api POST /api/ebpf/qos/rules '{"name":"voip","proto":"udp","dport":"5000-5100","class":"1:10","set_dscp":46}' >/dev/null
t_check "QoS rule added" "$(t_status)" 200
rules=$(t_api GET /api/ebpf/qos/rules)
t_check "QoS rule listed" "$(jq -r '.rules[] | select(.name=="voip") | "\(.proto) \(.dport) \(.class) \(.set_dscp)"' <<<"$rules")" \
    "17 5000-5100 1:10 46"
t_api DELETE "/api/ebpf/qos/rules?name=voip" >/dev/null
t_check "QoS rule removed" "$(t_status)" 200
t_api DELETE "/api/ebpf/qos/rules?name=voip" >/dev/null
t_check "QoS rule removed twice" "$(t_status)" 404

# ---- (a) inline IPS drops a UDP payload with the pattern ----
udp_payload() {  # udp_payload PAYLOAD -> 0 when echoed back
    t_cl "$T_PY" - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.10.2", 0))
s.settimeout(0.7)
data = sys.argv[1].encode()
for _ in range(3):
    s.sendto(data, ("198.18.10.1", 9000))
    try:
        if s.recvfrom(2048)[0] == data:
            sys.exit(0)
    except socket.timeout:
        pass
sys.exit(1)
EOF
}
evil="hello FLYWALL-EVIL-PAYLOAD-06 there"
udp_payload "$evil" || t_fail "the pattern payload does not pass before the pattern exists"
t_api POST /api/ebpf/ips/patterns '{"name":"evil06","bytes":"FLYWALL-EVIL\\x2dPAYLOAD","action":"drop","proto":"udp"}' >"$T_TMP/pat.json"
t_check "IPS pattern added" "$(t_status)" 200
pid_=$(jq -r .id "$T_TMP/pat.json")
[[ "$pid_" =~ ^[0-9]+$ ]] || t_fail "pattern id '$pid_'"
t_check "pattern bytes (\\x escape decoded)" "$(jq -r .hex "$T_TMP/pat.json")" \
    "$(printf 'FLYWALL-EVIL-PAYLOAD' | od -An -tx1 | tr -d ' \n')"
udp_payload "clean payload 06" || t_fail "a clean payload was not echoed with the pattern in place"
t_say "ok: clean payload passes"
udp_payload "$evil" && t_fail "a payload with the drop pattern was echoed"
t_say "ok: payload with the pattern is dropped"
drops=$(t_api GET /api/ebpf/ips/patterns | jq -r '.stats.drops + .stats.cached_drops')
[ "$drops" -ge 1 ] || t_fail "IPS drop counter $drops"
t_say "ok: IPS drops counted ($drops)"
for _ in $(seq 20); do grep -q '^event: ips_drop' "$T_TMP/events.sse" && break; sleep 0.2; done
grep -A1 '^event: ips_drop' "$T_TMP/events.sse" | grep -q "\"pattern_id\":$pid_" || t_fail "no ips_drop event with pattern_id $pid_"
t_say "ok: ips_drop event with pattern_id $pid_"
t_api DELETE "/api/ebpf/ips/patterns?name=evil06" >/dev/null
t_check "IPS pattern removed" "$(t_status)" 200

# ---- (b) TLS ClientHello -> JA3 and SNI ----
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=test.flywall.example -days 1 \
    -keyout "$T_TMP/key.pem" -out "$T_TMP/cert.pem" >/dev/null 2>&1 || t_fail "openssl req"
nsenter --net="/run/netns/$T_FW" openssl s_server -quiet -accept 198.18.10.1:8443 \
    -cert "$T_TMP/cert.pem" -key "$T_TMP/key.pem" </dev/null >/dev/null 2>&1 &
T_HELPERS+=($!)
for _ in $(seq 50); do t_fw ss -ltn | grep -q ':8443 ' && break; sleep 0.1; done
echo | t_cl timeout 10 openssl s_client -connect 198.18.10.1:8443 -servername test.flywall.example >/dev/null 2>&1
hello=
for _ in $(seq 20); do
    hello=$(t_api GET /api/ebpf/tls | jq -c '[.hellos[] | select(.sni=="test.flywall.example")] | last // empty')
    [ -n "$hello" ] && break
    sleep 0.2
done
[ -n "$hello" ] || t_fail "no ClientHello with SNI test.flywall.example in /api/ebpf/tls: $(t_api GET /api/ebpf/tls)"
[[ "$(jq -r .ja3_hash <<<"$hello")" =~ ^[0-9a-f]{32}$ ]] || t_fail "ja3_hash: $hello"
[[ "$(jq -r .ja3 <<<"$hello")" =~ ^771,[0-9-]+,[0-9-]+,[0-9-]*,[0-9-]*$ ]] || t_fail "ja3 string: $hello"
t_check "hello src/dst" "$(jq -r '"\(.src) \(.dst):\(.dport)"' <<<"$hello")" "198.18.10.2 198.18.10.1:8443"
t_say "ok: TLS hello $(jq -r '.ja3_hash' <<<"$hello")"
grep -A1 '^event: tls_client_hello' "$T_TMP/events.sse" | grep -q '"sni":"test.flywall.example"' ||
    t_fail "no tls_client_hello event with the SNI"
t_say "ok: tls_client_hello event"

# ---- (c) DNS query to dnsmasq ----
nsenter --net="/run/netns/$T_FW" dnsmasq --no-daemon --conf-file=/dev/null --user=root --bind-interfaces \
    --listen-address=198.18.10.1 --port=53 --no-resolv --no-hosts \
    --address=/dns06.flywall.example/198.18.10.77 \
    --dhcp-range=198.18.10.100,198.18.10.150,255.255.255.0,1h --dhcp-leasefile="$T_TMP/leases" \
    --pid-file="$T_TMP/dnsmasq.pid" >"$T_TMP/dnsmasq.log" 2>&1 &
T_HELPERS+=($!)
ans=
for _ in $(seq 20); do
    ans=$(t_cl dig +short +time=1 +tries=1 @198.18.10.1 dns06.flywall.example A 2>/dev/null)
    [ "$ans" = 198.18.10.77 ] && break
    sleep 0.2
done
t_check "dnsmasq answer" "$ans" 198.18.10.77
t_cl dig +short +time=1 +tries=1 @198.18.10.1 dns06.flywall.example AAAA >/dev/null 2>&1
dns=
for _ in $(seq 20); do
    dns=$(t_api GET /api/ebpf/dns)
    [ "$(jq '[.recent[] | select(.name=="dns06.flywall.example" and .qtype==28)] | length' <<<"$dns")" -ge 1 ] && break
    sleep 0.2
done
t_check "DNS A query seen" "$(jq '[.recent[] | select(.name=="dns06.flywall.example" and .qtype==1 and .response==false)] | length > 0' <<<"$dns")" true
t_check "DNS response seen" "$(jq '[.recent[] | select(.name=="dns06.flywall.example" and .response==true and .rcode==0)] | length > 0' <<<"$dns")" true
[ "$(jq -r '.qtypes["1"] // 0' <<<"$dns")" -ge 1 ] && [ "$(jq -r '.qtypes["28"] // 0' <<<"$dns")" -ge 1 ] ||
    t_fail "qtype counters: $(jq -c .qtypes <<<"$dns")"
# dnsmasq has no upstream: it answers the A query (NOERROR) and may refuse the AAAA one.
[ "$(jq -r '.rcodes["0"] // 0' <<<"$dns")" -ge 1 ] && [ "$(jq -r '[.rcodes[]] | add' <<<"$dns")" -ge 2 ] ||
    t_fail "rcode counters: $(jq -c .rcodes <<<"$dns")"
grep -A1 '^event: dns_query' "$T_TMP/events.sse" | grep -q '"name":"dns06.flywall.example"' || t_fail "no dns_query event"
t_say "ok: DNS queries, counters and dns_query event"

# ---- (d) DHCP fingerprint from a DHCPDISCOVER ----
cl_mac=$(t_cl cat "/sys/class/net/$T_CL_IF/address")
t_cl "$T_PY" - "$T_CL_IF" "$cl_mac" <<'EOF' || t_fail "send DHCPDISCOVER"
import os, socket, struct, sys
ifname, mac = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", ""))
pkt = struct.pack("!BBBBIHHIIII", 1, 1, 6, 0, 0x06060606, 0, 0x8000, 0, 0, 0, 0)
pkt += mac + b"\0" * 10 + b"\0" * 192 + b"\x63\x82\x53\x63"
pkt += bytes([53, 1, 1])
pkt += bytes([12, 13]) + b"fwtest-client"
pkt += bytes([60, 12]) + b"flywall-test"
pkt += bytes([55, 6, 1, 3, 6, 15, 119, 252])
pkt += bytes([255])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 68))
for _ in range(2):
    s.sendto(pkt, ("255.255.255.255", 67))
EOF
dev=
for _ in $(seq 20); do
    dev=$(t_api GET /api/ebpf/devices | jq -c --arg m "$cl_mac" '.devices[] | select(.mac==$m)')
    [ -n "$dev" ] && [ "$(jq -r .fingerprint <<<"$dev")" != "" ] && break
    sleep 0.2
done
[ -n "$dev" ] || t_fail "client MAC $cl_mac not in /api/ebpf/devices: $(t_api GET /api/ebpf/devices)"
t_check "device fingerprint" "$(jq -r .fingerprint <<<"$dev")" "1,3,6,15,119,252"
t_check "device hostname" "$(jq -r .hostname <<<"$dev")" fwtest-client
t_check "device vendor_class" "$(jq -r .vendor_class <<<"$dev")" flywall-test
grep -A1 '^event: dhcp_device' "$T_TMP/events.sse" | grep -q "\"mac\":\"$cl_mac\"" || t_fail "no dhcp_device event"
t_say "ok: dhcp_device event"

# ---- configured IPS patterns and QoS rules, applied on reload as a diff ----
t_api POST /api/ebpf/ips/patterns '{"name":"api06","hex":"41 50 49 2d 30 36","action":"alert"}' >/dev/null
t_check "API alert pattern added" "$(t_status)" 200
T_EXTRA='ips {
  pattern "cfg06" {
    bytes  = "CFG-DROP\\x2d06"
    action = "drop"
    proto  = "udp"
  }
}
qos {
  rule "cfgqos" {
    proto = "udp"
    dport = "9000"
    class = "1:20"
  }
}'
t_write_config
kill -HUP "$T_DAEMON"
pats=
for _ in $(seq 25); do
    pats=$(t_api GET /api/ebpf/ips/patterns)
    [ "$(jq -r '.patterns[] | select(.name=="cfg06") | .source' <<<"$pats")" = config ] && break
    sleep 0.2
done
t_check "configured pattern after reload" "$(jq -r '.patterns[] | select(.name=="cfg06") | "\(.source) \(.action) \(.hex)"' <<<"$pats")" \
    "config drop $(printf 'CFG-DROP-06' | od -An -tx1 | tr -d ' \n')"
t_check "API pattern kept by the reload" "$(jq -r '.patterns[] | select(.name=="api06") | .source' <<<"$pats")" api
t_check "configured QoS rule" "$(t_api GET /api/ebpf/qos/rules | jq -r '.rules[] | select(.name=="cfgqos") | "\(.source) \(.class) \(.dport)"')" \
    "config 1:20 9000"
udp_payload "x CFG-DROP-06 y" && t_fail "the configured drop pattern did not drop"
udp_payload "clean after reload" || t_fail "clean payload dropped after the reload"
t_say "ok: configured drop pattern drops"
T_EXTRA=''
t_write_config
kill -HUP "$T_DAEMON"
for _ in $(seq 25); do
    pats=$(t_api GET /api/ebpf/ips/patterns)
    [ -z "$(jq -r '.patterns[] | select(.name=="cfg06") | .name' <<<"$pats")" ] && break
    sleep 0.2
done
t_check "configured pattern removed by the reload" "$(jq -r '[.patterns[].name] | sort | join(",")' <<<"$pats")" api06
t_check "configured QoS rule removed" "$(t_api GET /api/ebpf/qos/rules | jq -r .count)" 0
udp_payload "x CFG-DROP-06 y" || t_fail "payload still dropped after the pattern left the configuration"
t_say "ok: reload removed the configured pattern and rule, kept the API one"

# ---- monitors follow their features at run time ----
t_api POST /api/ebpf/features/tls_fingerprinting/disable >/dev/null
t_check "disable tls_fingerprinting" "$(t_status)" 200
t_check "socket hooks without TLS" "$(sock_hooks)" "socket_dhcp,socket_dns"
t_api POST "/api/ebpf/features/socket_filters/disable?force=true" >/dev/null
t_check "disable socket_filters (force)" "$(t_status)" 200
t_check "socket hooks with socket_filters off" "$(sock_hooks)" ""
t_api POST /api/ebpf/features/socket_filters/enable >/dev/null
t_api POST /api/ebpf/features/tls_fingerprinting/enable >/dev/null
t_check "enable tls_fingerprinting again" "$(t_status)" 200
t_check "socket hooks back" "$(sock_hooks)" "socket_tls"
t_api POST /api/ebpf/features/dns_monitoring/enable >/dev/null
t_api POST /api/ebpf/features/dhcp_monitoring/enable >/dev/null
t_check "socket hooks all back" "$(sock_hooks)" "socket_dhcp,socket_dns,socket_tls"

# Health checks the TC hooks against the kernel too: a classifier removed behind the daemon's back
# (here with tc(8)) makes it unhealthy, naming the hook.
t_fw tc filter del dev "$T_FW_IF" ingress pref 241 handle 0xf1 bpf || t_fail "tc filter del"
t_api GET /api/ebpf/health >/dev/null
[ "$(t_status)" != 200 ] || t_fail "health should not be 200 with the ingress classifier gone: $(cat "$T_TMP/body")"
jq -e '.problems[] | select(test("tc-ingress hook on .* is gone"))' "$T_TMP/body" >/dev/null ||
    t_fail "health should name the missing tc-ingress hook: $(cat "$T_TMP/body")"
t_say "ok: health after removing the ingress classifier: $(jq -c .problems "$T_TMP/body")"

t_stop_daemon
t_check "daemon exit status after SIGTERM" "$?" 0
[ -e "$T_PIN" ] && t_fail "pins left behind"
echo "PASS: 06-tc-socket"

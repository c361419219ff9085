#!/usr/bin/env bash
# 07-hostile-input: the real daemon against the inputs of issue 8, each of which used to crash it
# or let a blocked source through.
#  (a) a blocked IPv6 source with 6 and 10 extension headers (scapy, 100 packets each) is
#      dropped: the lists run as soon as the IP header gave the addresses;
#  (b) a DNS query whose name holds 0xFF, with the DNS monitor on and an SSE subscriber
#      listening: the daemon lives, /api/ebpf/dns answers 200 with the byte written as \xff;
#  (c) GET /%ff: a JSON 404, the daemon lives;
#  (d) SIGHUP with a file nested 12,000 deep: rejected with file:line:col, running config kept;
#  (e) 100 slow clients and 100 open event streams: health and a mutation answer within 1 s,
#      and SIGTERM ends the daemon within 2 s.
# Exit 0 = pass, 77 = skip (reason printed), anything else = fail.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

t_preflight
"$T_PY" -c 'import scapy.all' 2>/dev/null || t_skip "needs scapy for $T_PY (python3-scapy)"

t_setup_net
T_FEATURES='ip_blocklist = true
    flow_monitoring = true
    statistics = true
    events = true
    socket_filters = true
    dns_monitoring = true'
T_BLOCKLIST='ips = ["2001:db8:10::2"]'
t_write_config
t_start_daemon
alive() { kill -0 "$T_DAEMON" 2>/dev/null || t_fail "the daemon died: $1"; }

# An SSE subscriber for the whole test: events are serialised as they happen.
t_fw curl -sN -m 300 "http://127.0.0.1:$T_PORT/api/ebpf/events" >"$T_TMP/events.sse" 2>/dev/null &
T_HELPERS+=($!)
sleep 0.5

# ---- (a) blocked IPv6 source behind a chain of extension headers ----
FW_MAC=$(t_fw ip -j link show dev "$T_FW_IF" | jq -r ".[0].address")
[ -n "$FW_MAC" ] || t_fail "no MAC address for $T_FW_IF"
send_ext() {  # send_ext SRC N_EXT COUNT
    t_cl "$T_PY" - "$1" "$2" "$3" "$FW_MAC" "$T_CL_IF" <<'EOF'
import sys
from scapy.all import Ether, IPv6, IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, IPv6ExtHdrRouting, UDP, Raw, sendp
src, n, count, mac, iface = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
pkt = IPv6(src=src, dst="2001:db8:10::1")
if n > 0:
    pkt = pkt / IPv6ExtHdrHopByHop()
for i in range(1, n):
    pkt = pkt / (IPv6ExtHdrRouting() if i % 3 == 1 else IPv6ExtHdrDestOpt())
pkt = Ether(dst=mac) / pkt / UDP(sport=40000, dport=9000) / Raw(b"flywall-ext")
sendp(pkt, iface=iface, count=count, verbose=False)
EOF
}
for n in 6 10; do
    before=$(t_stat '.drops_by_reason.ip_blocklist')
    send_ext 2001:db8:10::2 "$n" 100 || t_fail "scapy send"
    sleep 0.3
    after=$(t_stat '.drops_by_reason.ip_blocklist')
    [ $((after - before)) -ge 100 ] ||
        t_fail "blocked source with $n extension headers: $((after - before)) of 100 dropped by the blocklist"
    t_say "ok: blocked IPv6 source with $n extension headers: $((after - before))/100 dropped"
done
alive "after extension-header packets"

# ---- (b) a DNS name with 0xFF, monitored and streamed ----
t_cl "$T_PY" - <<'EOF' || t_fail "send DNS query"
import socket, struct
name = b"\x04evil\x03\xff\xfe\x01\x07example\x00"   # labels "evil", 0xff 0xfe 0x01, "example"
q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.10.2", 0))
for _ in range(3):
    s.sendto(q, ("198.18.10.1", 53))
EOF
sleep 1
alive "after a DNS name with 0xFF"
dns=$(t_api GET /api/ebpf/dns)
[ "$(t_status)" = 200 ] || t_fail "GET /api/ebpf/dns -> $(t_status) $dns"
echo "$dns" | jq -e '[.recent[] | select(.name | contains("\\xff\\xfe\\x01"))] | length > 0' >/dev/null ||
    t_fail "the query's name should be listed with \\xff escapes: $(echo "$dns" | jq -c '.recent[-3:]')"
t_say "ok: DNS name with 0xFF listed as $(echo "$dns" | jq -r '[.recent[] | select(.name | contains("evil"))][0].name')"

# ---- (c) invalid UTF-8 in the path ----
body=$(t_fw curl -s -m 5 -w '\n%{http_code}' "http://127.0.0.1:$T_PORT/%ff%fe")
code=$(tail -n1 <<<"$body")
[ "$code" = 404 ] || t_fail "GET /%ff -> $code"
head -n1 <<<"$body" | jq -e '.error == "no route GET /\\xff\\xfe"' >/dev/null || t_fail "GET /%ff body: $body"
alive "after GET /%ff"
t_say "ok: GET /%ff is a JSON 404 and the daemon lives"

# ---- (d) SIGHUP with a file nested 12,000 deep ----
cp "$T_CONF" "$T_TMP/good.hcl"
{ cat "$T_TMP/good.hcl"; printf 'x = '; head -c 12000 /dev/zero | tr '\0' '['; echo; } >"$T_CONF"
kill -HUP "$T_DAEMON"
sleep 1
alive "after SIGHUP with a 12,000-deep file"
grep -q "nested deeper than 64 levels" "$T_LOG" || t_fail "the reload error should name the nesting bound"
before=$(t_stat '.drops_by_reason.ip_blocklist')
send_ext 2001:db8:10::2 0 20
sleep 0.3
[ $(( $(t_stat '.drops_by_reason.ip_blocklist') - before )) -ge 20 ] || t_fail "running config lost after a rejected reload"
cp "$T_TMP/good.hcl" "$T_CONF"
t_say "ok: a 12,000-deep file is rejected on SIGHUP; the running config still blocks"

# ---- (e) slow clients and open streams ----
t_fw "$T_PY" - "$T_PORT" >"$T_TMP/slow.out" 2>&1 <<'EOF' &
import socket, sys, time
port = int(sys.argv[1])
held = []
for i in range(100):
    s = socket.create_connection(("127.0.0.1", port))
    s.send(b"GET /api/ebpf/hea")          # and then one byte a second
    held.append(s)
for i in range(100):
    s = socket.create_connection(("127.0.0.1", port))
    s.send(b"GET /api/ebpf/events HTTP/1.1\r\nHost: t\r\n\r\n")
    held.append(s)
print("connected", flush=True)
for _ in range(60):
    for s in held[:100]:
        try:
            s.send(b"l")
        except OSError:
            pass
    time.sleep(1)
EOF
T_HELPERS+=($!)
for _ in $(seq 100); do grep -q connected "$T_TMP/slow.out" 2>/dev/null && break; sleep 0.1; done
grep -q connected "$T_TMP/slow.out" || t_fail "slow clients did not connect: $(cat "$T_TMP/slow.out")"
sleep 0.5
t=$(t_fw curl -s -o /dev/null -m 5 -w '%{http_code} %{time_total}' "http://127.0.0.1:$T_PORT/api/ebpf/health")
[ "${t% *}" = 200 ] || t_fail "health with 100 slow clients and 100 streams: $t"
awk -v s="${t#* }" 'BEGIN { exit !(s < 1.0) }' || t_fail "health took ${t#* } s"
body=$(t_api POST /api/ebpf/blocklist/ips '{"entries":[{"value":"198.18.10.20"}]}')
[ "$(t_status)" = 200 ] || t_fail "mutation with slow clients: $(t_status) $body"
t_say "ok: health in ${t#* } s and a mutation answered with 100 slow clients and 100 streams open"

start=$(date +%s%N)
kill -TERM "$T_DAEMON"
for _ in $(seq 50); do kill -0 "$T_DAEMON" 2>/dev/null || break; sleep 0.05; done
kill -0 "$T_DAEMON" 2>/dev/null && t_fail "the daemon did not exit within 2.5 s of SIGTERM"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
wait "$T_DAEMON"; rc=$?; T_DAEMON=
[ "$rc" = 0 ] || t_fail "daemon exit status $rc after SIGTERM"
[ "$ms" -lt 2000 ] || t_fail "SIGTERM to exit took $ms ms"
t_say "ok: SIGTERM with every client still connected: exited in $ms ms"
t_say "PASS 07-hostile-input"

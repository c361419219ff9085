#!/usr/bin/env bash
# 05-dns-ratelimit: DNS domain blocking and per-source rate limiting of the XDP fast path with real
# clients. A client namespace and a resolver namespace are joined by a veth pair; dnsmasq answers
# in the resolver namespace; the XDP program sits on the resolver's veth (driven by the xdp_lab
# test tool until the daemon exposes these knobs).
#   phase 1 (nxdomain): allowed names resolve (IPv4 and IPv6 transport); a blocked name and its
#            subdomains get NXDOMAIN at once from XDP (dnsmasq would have answered 198.18.6.6);
#            a name that only shares a label suffix (badads.*) still resolves.
#   phase 2 (drop + UDP rate limit): blocked names time out; a UDP flood from one source is cut
#            to its rate while the second source still resolves.
# Exit 0 = pass, 77 = skip (reason printed), anything else = fail.
set -u
ROOT=${FLYWALL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
LAB=${XDP_LAB:-}
PY=/usr/bin/python3
R=fwt-res-$$
C=fwt-cli-$$
R_IF=fwr$$
C_IF=fwc$$
TMP=$(mktemp -d "/tmp/flywall-05-$$.XXXXXX")
LAB_PID=
DNSMASQ_PID=

say() { echo "[$(date +%H:%M:%S)] $*"; }
skip() { echo "SKIP: $*"; exit 77; }
fail() {
    echo "FAIL: $*"
    for f in "$TMP"/lab*.log "$TMP"/dnsmasq.log; do [ -s "$f" ] && { echo "---- $f"; tail -n 20 "$f"; }; done
    exit 1
}

stop_lab() {
    if [ -n "$LAB_PID" ] && kill -0 "$LAB_PID" 2>/dev/null; then
        kill -TERM "$LAB_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$LAB_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$LAB_PID" 2>/dev/null
    fi
    [ -n "$LAB_PID" ] && wait "$LAB_PID" 2>/dev/null
    LAB_PID=
}

cleanup() {
    local rc=$?
    stop_lab
    if [ -n "$DNSMASQ_PID" ]; then kill "$DNSMASQ_PID" 2>/dev/null; wait "$DNSMASQ_PID" 2>/dev/null; fi
    ip netns del "$C" 2>/dev/null
    ip netns del "$R" 2>/dev/null  # removes the veth pair too
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- preflight ----
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, BPF)"
[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF"
for t in ip dig dnsmasq; do command -v $t >/dev/null || skip "needs $t"; done
[ -x "$PY" ] || skip "needs $PY"
if [ -z "$LAB" ]; then
    for b in "$ROOT"/build/tests/xdp_lab "$ROOT"/build-*/tests/xdp_lab; do [ -x "$b" ] && { LAB=$b; break; }; done
fi
[ -n "$LAB" ] && [ -x "$LAB" ] || skip "xdp_lab not built (cmake --build build --target xdp_lab, or set XDP_LAB)"

# ---- topology ----
ip netns add "$R" && ip netns add "$C" || fail "create namespaces"
ip link add "$R_IF" type veth peer name "$C_IF" || fail "create veth"
ip link set "$R_IF" netns "$R" && ip link set "$C_IF" netns "$C" || fail "move veth"
ip -n "$R" addr add 198.18.20.1/24 dev "$R_IF"
ip -n "$R" addr add 2001:db8:20::1/64 dev "$R_IF" nodad
ip -n "$C" addr add 198.18.20.2/24 dev "$C_IF"
ip -n "$C" addr add 198.18.20.3/24 dev "$C_IF"
ip -n "$C" addr add 2001:db8:20::2/64 dev "$C_IF" nodad
for ns in "$R" "$C"; do ip -n "$ns" link set lo up; done
ip -n "$R" link set "$R_IF" up && ip -n "$C" link set "$C_IF" up || fail "links up"

ip netns exec "$R" dnsmasq -k -u root -C /dev/null --no-resolv --bind-interfaces \
    --listen-address=198.18.20.1 --listen-address=2001:db8:20::1 --except-interface=lo \
    --address=/allowed.test/198.18.5.5 --address=/allowed.test/2001:db8:5::5 \
    --address=/blocked.test/198.18.6.6 --pid-file="$TMP/dnsmasq.pid" \
    --log-facility="$TMP/dnsmasq.log" >"$TMP/dnsmasq.out" 2>&1 &
DNSMASQ_PID=$!

digc() { ip netns exec "$C" dig +tries=1 +time=2 "$@" 2>&1; }

for _ in $(seq 50); do
    digc @198.18.20.1 allowed.test A +short | grep -qx 198.18.5.5 && break
    sleep 0.1
done
digc @198.18.20.1 allowed.test A +short | grep -qx 198.18.5.5 || fail "dnsmasq does not answer before XDP is attached"
digc @198.18.20.1 ads.blocked.test A +short | grep -qx 198.18.6.6 || fail "dnsmasq should answer blocked.test names without XDP"

start_lab() {  # start_lab NAME ARGS...
    local name=$1
    shift
    "$LAB" --netns "$R" --iface "$R_IF" --mode generic --stats-file "$TMP/$name.json" "$@" >"$TMP/$name.log" 2>&1 &
    LAB_PID=$!
    for _ in $(seq 100); do
        grep -q '^READY' "$TMP/$name.log" 2>/dev/null && return 0
        kill -0 "$LAB_PID" 2>/dev/null || fail "xdp_lab exited: $(cat "$TMP/$name.log")"
        sleep 0.1
    done
    fail "xdp_lab not ready"
}
lab_stat() {  # lab_stat NAME KEY: refreshes the stats file via SIGUSR1
    rm -f "$TMP/$1.json"
    kill -USR1 "$LAB_PID"
    for _ in $(seq 50); do [ -s "$TMP/$1.json" ] && break; sleep 0.1; done
    "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$TMP/$1.json" "$2"
}

# ---- phase 1: NXDOMAIN ----
say "phase 1: blocked domain ads.blocked.test answered NXDOMAIN from XDP"
start_lab lab1 --block-domain ads.blocked.test --dns-action nxdomain
out=$(digc @198.18.20.1 allowed.test A)
echo "$out" | grep -q 'status: NOERROR' && echo "$out" | grep -q '198.18.5.5' || fail "allowed.test over IPv4: $out"
out=$(digc @2001:db8:20::1 allowed.test AAAA)
echo "$out" | grep -q 'status: NOERROR' && echo "$out" | grep -q '2001:db8:5::5' || fail "allowed.test over IPv6: $out"
out=$(digc @198.18.20.1 badads.blocked.test A +short)
[ "$out" = 198.18.6.6 ] || fail "badads.blocked.test must not match ads.blocked.test: $out"
for name in ads.blocked.test x.y.ads.blocked.test ADS.Blocked.Test; do
    for server in 198.18.20.1 2001:db8:20::1; do
        out=$(digc @"$server" "$name" A)
        echo "$out" | grep -q 'status: NXDOMAIN' || fail "$name via $server: expected NXDOMAIN: $out"
        ms=$(echo "$out" | sed -n 's/^;; Query time: \([0-9]*\) msec.*/\1/p')
        [ -n "$ms" ] && [ "$ms" -lt 500 ] || fail "$name via $server: answer took ${ms:-?} ms"
        echo "$out" | grep -q '198.18.6.6' && fail "$name via $server: dnsmasq answered"
    done
done
nx=$(lab_stat lab1 dns_blocked_nxdomain)
[ "$nx" -ge 6 ] || fail "dns_blocked_nxdomain = $nx, expected >= 6"
say "phase 1 ok: 6 NXDOMAIN answers from XDP (counter $nx), allowed and sibling names resolve"
stop_lab

# ---- phase 2: drop + rate limit ----
say "phase 2: drop action, UDP limit 100/s burst 100 per source"
start_lab lab2 --block-domain ads.blocked.test --dns-action drop --rl-udp-pps 100 --rl-udp-burst 100
out=$(digc @198.18.20.1 ads.blocked.test A)
echo "$out" | grep -q 'timed out\|no servers could be reached' || fail "drop mode: expected a timeout: $out"
digc @198.18.20.1 allowed.test A +short | grep -qx 198.18.5.5 || fail "allowed.test in drop mode"

# Receiver on the resolver counts what gets through; the flood runs for 2 s from 198.18.20.3.
ip netns exec "$R" "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.20.1", 9999)); s.settimeout(0.5)
n = 0; end = time.time() + 4
while time.time() < end:
    try: s.recv(2048); n += 1
    except socket.timeout: pass
open(sys.argv[1], "w").write(str(n))
' "$TMP/received" &
RECV=$!
sleep 0.3
ip netns exec "$C" "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.20.3", 0))
n = 0; end = time.time() + 2
while time.time() < end:
    for _ in range(100):
        s.sendto(b"x" * 64, ("198.18.20.1", 9999)); n += 1
    time.sleep(0.001)
open(sys.argv[1], "w").write(str(n))
' "$TMP/sent" &
FLOOD=$!
sleep 0.5
# The other source resolves during the flood.
ok=0
for _ in 1 2 3; do
    digc -b 198.18.20.2 @198.18.20.1 allowed.test A +short | grep -qx 198.18.5.5 && ok=$((ok + 1))
done
wait "$FLOOD"
wait "$RECV"
sent=$(cat "$TMP/sent")
received=$(cat "$TMP/received")
limited=$(lab_stat lab2 rl_limited_udp)
say "flood: sent $sent, received $received, rl_limited_udp $limited; second source resolved $ok/3"
[ "$ok" = 3 ] || fail "second source must resolve during the flood ($ok/3)"
[ "$sent" -ge 2000 ] || fail "flood too small to test ($sent packets)"
# 2 s at 100/s plus a burst of 100 = 300; allow scheduling slack.
[ "$received" -ge 150 ] || fail "flood cut too hard: received $received"
[ "$received" -le 400 ] || fail "flood not cut to its rate: received $received of $sent"
[ "$limited" -ge $((sent - 400)) ] || fail "rl_limited_udp $limited, expected >= $((sent - 400))"
say "PASS"

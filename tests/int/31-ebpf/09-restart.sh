#!/usr/bin/env bash
# 09-restart: restarts (SIGTERM + start, SIGKILL + start) under steady traffic, with
# detach_on_exit = false: the programs stay attached on their last state while no daemon runs,
# and the next daemon replaces them in one step (XDP_FLAGS_REPLACE, tc filter replace at the
# same handle/priority), its config lists already in its maps. Then `flywall stop --detach`
# removes what the last daemon left.
#
# Three UDP streams of 2,000 pps each: 198.18.10.2 (blocked by the config file), 198.18.10.20
# (blocked through the API, TTL 600 s) and 198.18.10.3 (allowed), numbered, timestamped on
# arrival. Asserts: 0 packets of either blocked source delivered over the whole run; the allowed
# stream loses at most 10 ms of traffic (20 packets) per restart; each new daemon reports the
# program it took over; one tc classifier per direction, never two; the API entry is back after
# each restart with the TTL it had left (±2 s), also after a "reboot" (datapath and pins removed).
# Exit 0 = pass, 77 = skip (reason printed), anything else = fail.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
T_EBPF_EXTRA='  adaptive {
    enabled = false
  }'

t_preflight
t_setup_net
T_FEATURES='ip_blocklist = true
    flow_monitoring = true
    statistics = true'
T_BLOCKLIST='ips = ["198.18.10.2"]'
T_IFACE_EXTRA='tc = true'
T_DETACH_ON_EXIT=false
t_write_config
t_start_daemon
T_CLEANUP_HOOKS+=("t_fw '$T_BIN' stop --detach --config '$T_CONF' >/dev/null 2>&1")

# An API entry with a TTL: kept in state_dir, it must survive every restart below.
t_api POST /api/ebpf/blocklist/ips '{"entries":[{"value":"198.18.10.20","ttl":600}]}' >/dev/null
[ "$(t_status)" = 200 ] || t_fail "API block of 198.18.10.20 failed: $(t_status)"
api_added=$(date +%s)
ttl_check() {  # ttl_check WHAT: 198.18.10.20 is listed with 600 s minus the time since it was added
    local what=$1 entry ttl want
    entry=$(t_api GET '/api/ebpf/blocklist/ips?limit=1000' | jq -c '.entries[] | select(.value == "198.18.10.20")')
    [ -n "$entry" ] || t_fail "$what: the API entry 198.18.10.20 is gone: $(t_api GET '/api/ebpf/blocklist/ips?limit=1000')"
    ttl=$(echo "$entry" | jq -r .ttl_remaining)
    want=$((600 - ($(date +%s) - api_added)))
    [ "$ttl" != null ] && [ $((ttl - want)) -le 2 ] && [ $((want - ttl)) -le 2 ] ||
        t_fail "$what: 198.18.10.20 has ttl_remaining $ttl, want $want ±2: $entry"
    t_say "ok: $what: API entry 198.18.10.20 back with ttl_remaining $ttl (want $want ±2)"
}

RATE=2000
STOP=$T_TMP/senders.stop
nsenter --net="/run/netns/$T_FW" "$T_PY" - "$T_TMP/arrivals.json" <<'EOF' &
import json, signal, socket, struct, sys, time
out = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("198.18.10.1", 9100))
s.settimeout(0.2)
arr = {}
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
open(out + ".ready", "w").close()
while not stop:
    try:
        data, peer = s.recvfrom(2048)
    except (socket.timeout, InterruptedError):
        continue
    arr.setdefault(peer[0], []).append((time.time(), struct.unpack("!Q", data[:8])[0]))
json.dump(arr, open(out, "w"))
EOF
recv_pid=$!
T_HELPERS+=($recv_pid)
for _ in $(seq 50); do [ -e "$T_TMP/arrivals.json.ready" ] && break; sleep 0.1; done
[ -e "$T_TMP/arrivals.json.ready" ] || t_fail "receiver did not start"

for src in 198.18.10.2 198.18.10.3 198.18.10.20; do
    t_cl "$T_PY" - "$src" "$RATE" "$STOP" "$T_TMP/sent-$src" <<'EOF' &
import os, socket, struct, sys, time
src, rate, stopfile, sentfile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 5000))
start = time.monotonic()
n = 0
while not os.path.exists(stopfile):
    due = int((time.monotonic() - start) * rate)
    while n < due:
        try:
            s.sendto(struct.pack("!Q", n) + b"x" * 56, ("198.18.10.1", 9100))
        except OSError:
            pass
        n += 1
    time.sleep(0.0005)
open(sentfile, "w").write(str(n))
EOF
    T_HELPERS+=($!)
done
sleep 2

hooks_check() {  # hooks_check WHAT OLD_XDP_ID: the new daemon took the old program over
    local what=$1 old=$2 hooks
    hooks=$(t_api GET /api/ebpf/hooks)
    echo "$hooks" | jq -e --argjson old "$old" \
        '.hooks[] | select(.attach_point == "xdp" and .took_over_prog_id == $old)' >/dev/null ||
        t_fail "$what: the new daemon should report took_over_prog_id $old on its xdp hook: $hooks"
    for dir in ingress egress; do
        n=$(t_fw tc filter show dev "$T_FW_IF" "$dir" | grep -c 'tc_classifier.*id [0-9]')
        [ "$n" = 1 ] || t_fail "$what: $n tc classifiers on $dir (want exactly 1): $(t_fw tc filter show dev "$T_FW_IF" "$dir")"
    done
    t_say "ok: $what: xdp program $old taken over by $(t_xdp_prog_id); one tc classifier per direction"
}

flow_packets() {  # packets of the allowed stream's flow in the XDP flow table (0 when absent)
    t_api GET '/api/ebpf/flows?limit=1000' |
        jq '[.flows[] | select(.src == "198.18.10.3" and .dport == 9100) | .packets] | max // 0'
}
flows_check() {  # flows_check WHAT BEFORE: the flow was carried over, its counter continues
    local what=$1 before=$2 now
    now=$(flow_packets)
    [ "$now" -ge "$before" ] && [ "$before" -gt 0 ] ||
        t_fail "$what: the allowed stream's flow should carry over with its counter ($before before, $now now)"
    grep -q 'flows carried over, rate limiter carried over' "$T_LOG" || t_fail "$what: the daemon should log the carry-over"
    t_say "ok: $what: flow carried over, packets $before before the stop, $now now"
}

# ---- 1. SIGTERM + start ----
old=$(t_xdp_prog_id)
fp=$(flow_packets)
[ -n "$old" ] || t_fail "no XDP program attached after start"
t_stop_daemon; rc=$?
[ "$rc" = 0 ] || t_fail "SIGTERM: daemon exited $rc"
[ "$(t_xdp_prog_id)" = "$old" ] || t_fail "detach_on_exit = false: the program should stay attached after SIGTERM"
[ -e "$T_PIN/progs/xdp_blocklist" ] || t_fail "detach_on_exit = false: the pins should stay after SIGTERM"
t_say "ok: SIGTERM left xdp program $old attached and pinned"
sleep 0.5
t_start_daemon
hooks_check "SIGTERM + start" "$old"
ttl_check "SIGTERM + start"
flows_check "SIGTERM + start" "$fp"
sleep 2

# ---- 2. SIGKILL + start ----
old=$(t_xdp_prog_id)
fp=$(flow_packets)
kill -KILL "$T_DAEMON"; wait "$T_DAEMON" 2>/dev/null; T_DAEMON=
[ "$(t_xdp_prog_id)" = "$old" ] || t_fail "SIGKILL: the program should stay attached"
sleep 0.5
t_start_daemon
hooks_check "SIGKILL + start" "$old"
ttl_check "SIGKILL + start"
flows_check "SIGKILL + start" "$fp"

# `flywall stop --detach` refuses while a daemon holds the pins.
out=$(t_fw "$T_BIN" stop --detach --config "$T_CONF" 2>&1); rc=$?
[ "$rc" = 1 ] || t_fail "flywall stop --detach with a running daemon should exit 1, got $rc: $out"
echo "$out" | grep -q 'held by another flywall instance' || t_fail "stop --detach should say why: $out"
[ -n "$(t_xdp_prog_id)" ] || t_fail "a refused stop --detach must leave the datapath"
t_say "ok: stop --detach refused while the daemon runs: $(echo "$out" | head -1)"
sleep 2

touch "$STOP"
sleep 0.5
kill -TERM "$recv_pid"; wait "$recv_pid" 2>/dev/null
report=$("$T_PY" - "$T_TMP/arrivals.json" "$T_TMP/sent-198.18.10.2" "$T_TMP/sent-198.18.10.3" "$T_TMP/sent-198.18.10.20" <<'EOF'
import json, sys
arr = json.load(open(sys.argv[1]))
sent_bad, sent_good, sent_api = (int(open(f).read()) for f in sys.argv[2:5])
good = sorted(arr.get("198.18.10.3", []))
seqs = {q for _, q in good}
gaps = [b[0] - a[0] for a, b in zip(good, good[1:])]
print(json.dumps({
    "blocked_sent": sent_bad, "blocked_delivered": len(arr.get("198.18.10.2", [])),
    "api_blocked_sent": sent_api, "api_blocked_delivered": len(arr.get("198.18.10.20", [])),
    "allowed_sent": sent_good, "allowed_delivered": len(good),
    "allowed_lost": sent_good - len(seqs),
    "allowed_largest_gap_ms": round(max(gaps) * 1000, 3) if gaps else None,
}))
EOF
) || t_fail "could not evaluate arrivals"
t_say "measured over both restarts: $report"
[ "$(echo "$report" | jq -r .blocked_delivered)" = 0 ] || t_fail "packets of the blocked source were delivered: $report"
[ "$(echo "$report" | jq -r .api_blocked_delivered)" = 0 ] || t_fail "packets of the API-blocked source were delivered: $report"
[ "$(echo "$report" | jq -r .blocked_sent)" -ge 10000 ] || t_fail "the blocked stream was too short: $report"
lost=$(echo "$report" | jq -r .allowed_lost)
[ "$lost" -le 40 ] || t_fail "the allowed stream lost $lost packets over two restarts (limit: 10 ms = 20 packets each)"
[ "$(echo "$report" | jq -r .allowed_delivered)" -ge 10000 ] || t_fail "the allowed stream was too short: $report"
t_say "ok: 0 blocked packets delivered, $lost allowed packets lost across SIGTERM+start and SIGKILL+start"

# ---- flywall stop --detach after the last daemon left ----
t_stop_daemon
[ -n "$(t_xdp_prog_id)" ] || t_fail "the last SIGTERM should leave the datapath too"
out=$(t_fw "$T_BIN" stop --detach --config "$T_CONF" 2>&1); rc=$?
[ "$rc" = 0 ] || t_fail "flywall stop --detach exited $rc: $out"
t_say "flywall stop --detach:"; echo "$out" | sed 's/^/    /'
[ -z "$(t_xdp_prog_id)" ] || t_fail "stop --detach left an XDP program attached"
t_fw tc qdisc show dev "$T_FW_IF" | grep -q clsact && t_fail "stop --detach left the clsact qdisc: $(t_fw tc filter show dev "$T_FW_IF" ingress)"
[ -e "$T_PIN" ] && t_fail "stop --detach left $T_PIN: $(ls -R "$T_PIN")"
out=$(t_fw "$T_BIN" stop --detach --config "$T_CONF" 2>&1); rc=$?
[ "$rc" = 0 ] && echo "$out" | grep -q 'nothing to remove' || t_fail "a second stop --detach should find nothing (exit 0): $rc $out"
t_say "ok: stop --detach removed the program, the tc filters, the qdisc and the pins; a second run finds nothing"

# ---- "reboot": nothing attached, no pins; the durable store brings the API entry back ----
t_start_daemon
ttl_check "reboot (no pins) + start"
t_expect_blocked t_ping 198.18.10.20 198.18.10.1 "API entry enforced again after the reboot"
t_expect_reach t_ping 198.18.10.3 198.18.10.1 "allowed source after the reboot"
t_say "PASS"

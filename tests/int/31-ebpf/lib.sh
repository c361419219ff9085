# Shared helpers of the 31-ebpf integration tests. Source it first thing:
#     . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Topology (t_setup_net): netns $T_FW (the protected host: runs `flywall run`, interface $T_FW_IF
# 198.18.10.1/24, 2001:db8:10::1/64) <-veth-> netns $T_CL (client: 198.18.10.2, .3, .20 /24;
# 2001:db8:10::2/64). The daemon and the CLI run in $T_FW through `nsenter --net`, so the bpffs
# pins stay visible (same mount namespace; `ip netns exec` would remount /sys).
# Every name carries this shell's pid; everything is removed on exit, failure included (trap).
# Exit codes: 0 pass, 77 skip (t_skip prints the reason), anything else fail.
set -u
T_ROOT=${FLYWALL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
T_BIN=${FLYWALL_BIN:-$T_ROOT/build/flywall}
T_PY=/usr/bin/python3
T_FW=fwt-fw-$$
T_CL=fwt-cl-$$
T_FW_IF=fwp$$
T_CL_IF=fwc$$
T_PIN=/sys/fs/bpf/flywall-test-$$
T_TMP=$(mktemp -d "/tmp/flywall-t$$.XXXXXX")
T_CONF=$T_TMP/flywall.hcl
T_TOKEN=$T_TMP/api.token
T_LOG=$T_TMP/daemon.log
T_PORT=
T_DAEMON=
T_HELPERS=()
T_CLEANUP_HOOKS=()

t_say() { echo "[$(date +%H:%M:%S)] $*"; }
t_skip() { echo "SKIP: $*"; exit 77; }
t_fail() {
    echo "FAIL: $*"
    if [ -s "$T_LOG" ]; then echo "---- daemon log (last 40 lines)"; tail -n 40 "$T_LOG"; fi
    exit 1
}

# Stop the daemon (SIGTERM, then SIGKILL after 5 s); returns its exit status (or 255).
t_stop_daemon() {
    local pid=${1:-$T_DAEMON} rc=255
    [ -n "$pid" ] || return 255
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    rc=$?
    [ "$pid" = "$T_DAEMON" ] && T_DAEMON=
    return $rc
}

t_cleanup() {
    local rc=$?
    [ -n "$T_DAEMON" ] && t_stop_daemon "$T_DAEMON"
    for h in "${T_CLEANUP_HOOKS[@]}"; do eval "$h" 2>/dev/null; done
    for p in "${T_HELPERS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    ip netns del "$T_CL" 2>/dev/null
    ip netns del "$T_FW" 2>/dev/null  # deleting the namespaces deletes the veth pair
    ip link del "$T_FW_IF" 2>/dev/null
    # Pins are removed by the daemon; a crashed daemon's pins must not survive the test.
    [ -d "$T_PIN" ] && rm -rf "$T_PIN"
    rm -rf "$T_TMP"
    exit "$rc"
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

t_preflight() {
    [ "$(id -u)" = 0 ] || t_skip "needs root (network namespaces, BPF)"
    # The daemon mounts bpffs itself when it is missing (src/runtime/loader.cpp); so do we, for
    # the pins the tests inspect before the daemon starts.
    if ! mountpoint -q /sys/fs/bpf; then
        mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf -o mode=0700 ||
            t_skip "bpffs is not mounted at /sys/fs/bpf and cannot be mounted"
    fi
    [ -r /sys/kernel/btf/vmlinux ] || t_skip "kernel has no BTF (/sys/kernel/btf/vmlinux)"
    for tool in ip nsenter curl jq bpftool; do
        command -v "$tool" >/dev/null || t_skip "needs $tool"
    done
    [ -x "$T_PY" ] || t_skip "needs $T_PY"
    [ -x "$T_BIN" ] || t_fail "flywall binary not found at $T_BIN (build it first: ./flywall.sh build)"
    "$T_BIN" run --help >/dev/null 2>&1 || t_fail "the flywall binary at $T_BIN has no \`run\` subcommand"
}

t_fw() { nsenter --net="/run/netns/$T_FW" "$@"; }
t_cl() { ip netns exec "$T_CL" "$@"; }

# A free TCP port on 127.0.0.1 inside the protected namespace.
t_free_port() {
    t_fw "$T_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

t_setup_net() {
    ip netns add "$T_FW" || t_fail "ip netns add $T_FW"
    ip netns add "$T_CL" || t_fail "ip netns add $T_CL"
    ip link add "$T_FW_IF" type veth peer name "$T_CL_IF" || t_fail "create veth $T_FW_IF/$T_CL_IF"
    ip link set "$T_FW_IF" netns "$T_FW" && ip link set "$T_CL_IF" netns "$T_CL" || t_fail "move veth ends"
    t_fw ip link set lo up
    t_fw ip addr add 198.18.10.1/24 dev "$T_FW_IF"
    t_fw ip addr add 2001:db8:10::1/64 dev "$T_FW_IF" nodad
    t_fw ip link set "$T_FW_IF" up
    t_cl ip link set lo up
    t_cl ip addr add 198.18.10.2/24 dev "$T_CL_IF"
    t_cl ip addr add 198.18.10.3/24 dev "$T_CL_IF"
    t_cl ip addr add 198.18.10.20/24 dev "$T_CL_IF"
    t_cl ip addr add 2001:db8:10::2/64 dev "$T_CL_IF" nodad
    t_cl ip link set "$T_CL_IF" up || t_fail "network setup"
    T_PORT=$(t_free_port)
    [ -n "$T_PORT" ] || t_fail "no free API port"
}

# t_write_config [FILE] — a complete config protecting $T_FW_IF. Override T_FEATURES,
# T_BLOCKLIST, T_EBPF_EXTRA (inside the ebpf block), T_IFACE_EXTRA (inside the interface block),
# T_DETACH_ON_EXIT (default true: SIGTERM leaves nothing attached) or T_EXTRA (appended
# verbatim) before calling.
T_FEATURES='ip_blocklist = true
    flow_monitoring = true
    statistics = true'
T_BLOCKLIST='ips = []'
T_EBPF_EXTRA=''
T_EXTRA=''
t_write_config() {
    local conf=${1:-$T_CONF}
    cat >"$conf" <<EOF
pin_path  = "$T_PIN"
detach_on_exit = ${T_DETACH_ON_EXIT:-true}
state_dir = "$T_TMP/state"
log_level = "info"

ebpf {
  enabled = true
  features {
    $T_FEATURES
  }
$T_EBPF_EXTRA
}

interface "$T_FW_IF" {
  xdp_mode = "auto"
  ${T_IFACE_EXTRA:-}
}

api {
  listen     = "127.0.0.1:$T_PORT"
  token_file = "$T_TOKEN"
}

blocklist {
  $T_BLOCKLIST
}

rate_limit {
  enabled = false
}
$T_EXTRA
EOF
}

# Waits until GET /api/ebpf/health answers 200 (healthy) or the daemon dies; fails after 20 s.
t_wait_api() {
    local pid=${1:-$T_DAEMON} port=${2:-$T_PORT}
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || t_fail "flywall run exited during start-up"
        if [ "$(t_fw curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/ebpf/health")" = 200 ]; then
            return 0
        fi
        sleep 0.2
    done
    t_fail "daemon API did not become healthy within 20 s"
}
wait_for_api() { t_wait_api "$@"; }

t_start_daemon() {
    # nsenter execs flywall, so $! is the daemon itself (signals reach it directly).
    nsenter --net="/run/netns/$T_FW" "$T_BIN" run --config "$T_CONF" >>"$T_LOG" 2>&1 &
    T_DAEMON=$!
    t_wait_api "$T_DAEMON" "$T_PORT"
    [ -s "$T_TOKEN" ] || t_fail "the daemon did not create its token file $T_TOKEN"
    t_say "daemon up (pid $T_DAEMON, API 127.0.0.1:$T_PORT, pins $T_PIN)"
}

# The CLI against this test's daemon.
t_cli() { t_fw "$T_BIN" "$@" --api "127.0.0.1:$T_PORT" --token-file "$T_TOKEN"; }
# Raw API: t_api METHOD PATH [JSON_BODY] -> body on stdout; HTTP status in $T_TMP/status.
# Sends the bearer token (when the token file exists).
t_api() {
    local method=$1 path=$2 body=${3:-}
    local args=(-sS -m 10 -o "$T_TMP/body" -w '%{http_code}' -X "$method")
    [ -s "$T_TOKEN" ] && args+=(-H "Authorization: Bearer $(cat "$T_TOKEN")")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    # A bodyless POST/DELETE still says so; without Content-Length the server waits for a body.
    [ -z "$body" ] && [ "$method" != GET ] && args+=(-H 'Content-Length: 0')
    t_fw curl "${args[@]}" "http://127.0.0.1:$T_PORT$path" >"$T_TMP/status" || echo 000 >"$T_TMP/status"
    cat "$T_TMP/body" 2>/dev/null
}
t_status() { cat "$T_TMP/status"; }
t_stat() { t_api GET /api/stats/ebpf | jq -r "$1"; }

# Reachability from the client namespace; each probe gets a few tries so one lost
# neighbour-discovery round does not count as "blocked".
t_ping() {  # t_ping SRC DST
    t_cl ping -n -q -c 3 -i 0.2 -W 1 -I "$1" "$2" >/dev/null 2>&1
}
t_tcp() {  # t_tcp SRC DST  (HTTP server on port 8000 of the protected side)
    local host=$2
    [[ "$host" == *:* ]] && host="[$host]"
    t_cl curl -s -o /dev/null -m 2 --interface "$1" "http://$host:8000/" 2>/dev/null
}
t_udp() {  # t_udp SRC DST  (UDP echo on port 9000 of the protected side)
    t_cl "$T_PY" - "$1" "$2" <<'EOF'
import socket, sys
src, dst = sys.argv[1], sys.argv[2]
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((src, 0))
s.settimeout(0.7)
for _ in range(3):
    s.sendto(b"flywall-probe", (dst, 9000))
    try:
        if s.recvfrom(100)[0] == b"flywall-probe":
            sys.exit(0)
    except socket.timeout:
        pass
sys.exit(1)
EOF
}
t_start_servers() {  # HTTP :8000 and UDP echo :9000 on the protected side, dual stack
    nsenter --net="/run/netns/$T_FW" "$T_PY" -m http.server --bind :: --directory "$T_TMP" 8000 >/dev/null 2>&1 &
    T_HELPERS+=($!)
    nsenter --net="/run/netns/$T_FW" "$T_PY" - >/dev/null 2>&1 <<'EOF' &
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 9000))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
EOF
    T_HELPERS+=($!)
    for _ in $(seq 50); do t_tcp 198.18.10.2 198.18.10.1 && return 0; sleep 0.1; done
    t_fail "test servers did not start"
}

# Forget neighbour entries on both sides. A block also drops IPv6 neighbour discovery, which
# leaves FAILED entries behind; without this the first probe after an unblock can fail on that
# stale entry (EHOSTUNREACH) rather than on anything the datapath does.
t_flush_neigh() {
    t_cl ip neigh flush dev "$T_CL_IF" 2>/dev/null
    t_fw ip neigh flush dev "$T_FW_IF" 2>/dev/null
    return 0
}

# Expectations: t_expect_reach / t_expect_blocked PROBE SRC DST WHAT
t_expect_reach() {
    "$1" "$2" "$3" || t_fail "$4: $2 -> $3 ($1) should pass but did not"
    t_say "ok: $4: $2 -> $3 passes ($1)"
}
t_expect_blocked() {
    "$1" "$2" "$3" && t_fail "$4: $2 -> $3 ($1) should be dropped but passed"
    t_say "ok: $4: $2 -> $3 dropped ($1)"
}
# The id of the XDP program attached to the protected interface, as bpftool sees it.
t_xdp_prog_id() {
    t_fw bpftool -j net show dev "$T_FW_IF" 2>/dev/null | jq -r '.[0].xdp[0].id // empty'
}
# t_check COND_DESCRIPTION ACTUAL EXPECTED
t_check() {
    [ "$2" = "$3" ] || t_fail "$1: got '$2', expected '$3'"
    t_say "ok: $1 = $3"
}

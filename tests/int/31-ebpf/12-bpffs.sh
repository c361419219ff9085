#!/usr/bin/env bash
# 12-bpffs: on a machine where bpffs is not mounted at /sys/fs/bpf (a fresh Debian 12 install),
# `flywall run` mounts it itself, as bpftool does, and starts. Tested in a private mount namespace
# (unshare -m) whose /sys/fs/bpf is unmounted first, so the host's bpffs is never touched.
# Exit 0 = pass, 77 = skip (reason printed), anything else = fail.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v unshare >/dev/null || t_skip "needs unshare (util-linux)"
t_preflight
t_setup_net
t_write_config

# The daemon in its own mount namespace, with no bpffs at /sys/fs/bpf.
nsenter --net="/run/netns/$T_FW" unshare -m --propagation private sh -c '
    while mountpoint -q /sys/fs/bpf; do umount /sys/fs/bpf || exit 90; done
    mountpoint -q /sys/fs/bpf && exit 91
    exec "$0" run --config "$1"' "$T_BIN" "$T_CONF" >>"$T_LOG" 2>&1 &
T_DAEMON=$!
t_wait_api "$T_DAEMON" "$T_PORT"
# $T_DAEMON is unshare's child chain; find the flywall process itself for its mount namespace.
pid=$(pgrep -f "run --config $T_CONF" | head -1)
[ -n "$pid" ] || t_fail "cannot find the daemon's pid"
mnt=$(nsenter --mount="/proc/$pid/ns/mnt" sh -c 'findmnt -n -o FSTYPE /sys/fs/bpf')
[ "$mnt" = bpf ] || t_fail "the daemon should have mounted bpffs at /sys/fs/bpf in its namespace, found '$mnt'"
nsenter --mount="/proc/$pid/ns/mnt" test -e "$T_PIN/progs/xdp_blocklist" || t_fail "no pins in the bpffs the daemon mounted"
[ "$(nsenter --mount="/proc/$$/ns/mnt" findmnt -n -o FSTYPE /sys/fs/bpf)" = bpf ] || t_fail "the host's bpffs was touched"
grep -q 'mounted bpffs\|mount bpffs\|bpffs' "$T_LOG" && t_say "daemon log: $(grep -m1 bpffs "$T_LOG")"
t_cli block add 198.18.10.20 >/dev/null || t_fail "the daemon on its own bpffs should work"
t_say "ok: bpffs mounted by the daemon in a namespace that had none; pins under $T_PIN there; API works"
t_stop_daemon || true
t_say "PASS"

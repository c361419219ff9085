// Mechanical checks that the C++ compiler lays out the shared ABI exactly as the BPF side does
// (the BPF target is LP64 little-endian like x86_64/arm64, natural alignment). A field moved in
// bpf/include/flywall/abi.h without updating these expectations fails the build.
#include <cstddef>

#include "flywall/abi.h"
#include "flywall/flowtable.h"

#define FW_CHECK_SIZE(T, n) static_assert(sizeof(struct T) == (n), #T " size changed: update ABI users")
#define FW_CHECK_OFF(T, f, n) static_assert(offsetof(struct T, f) == (n), #T "." #f " moved")

FW_CHECK_SIZE(fw_xdp_config, 136);
FW_CHECK_OFF(fw_xdp_config, features, 0);
FW_CHECK_OFF(fw_xdp_config, tables, 4);
FW_CHECK_OFF(fw_xdp_config, rl_pps, 16);
FW_CHECK_OFF(fw_xdp_config, rl_ipv6_prefix_len, 72);
FW_CHECK_OFF(fw_xdp_config, max_events_per_sec, 88);
FW_CHECK_OFF(fw_xdp_config, rl_syn_burst, 104);
FW_CHECK_OFF(fw_xdp_config, rl_udp_burst, 120);
FW_CHECK_OFF(fw_xdp_config, time_sample_shift, 128);

FW_CHECK_SIZE(fw_ip_entry, 24);
FW_CHECK_OFF(fw_ip_entry, hits, 0);
FW_CHECK_OFF(fw_ip_entry, expires_ns, 8);
FW_CHECK_OFF(fw_ip_entry, flags, 16);

FW_CHECK_SIZE(fw_lpm4_key, 8);
FW_CHECK_SIZE(fw_lpm6_key, 20);
FW_CHECK_SIZE(fw_ip6_addr, 16);
FW_CHECK_SIZE(fw_dns_key, 16);
FW_CHECK_SIZE(fw_dns_entry, 24 + FW_DNS_NAME_MAX);
FW_CHECK_SIZE(fw_bucket, 8);
FW_CHECK_SIZE(fw_rl_state, 64);
FW_CHECK_OFF(fw_rl_state, limited, 40);
FW_CHECK_OFF(fw_rl_state, last_seen_ns, 56);
FW_CHECK_SIZE(fw_rl_key, 24);
FW_CHECK_OFF(fw_rl_key, addr, 8);
FW_CHECK_SIZE(fw_flow_key, 48);
FW_CHECK_OFF(fw_flow_key, ifindex, 40);
FW_CHECK_SIZE(fw_flow_value, 48);
FW_CHECK_OFF(fw_flow_value, rl_credit, 40);
FW_CHECK_SIZE(fw_flow_slot, 104);
FW_CHECK_OFF(fw_flow_slot, key, 8);
FW_CHECK_OFF(fw_flow_slot, v, 56);
FW_CHECK_SIZE(fw_rl_slot, 96);
FW_CHECK_OFF(fw_rl_slot, key, 8);
FW_CHECK_OFF(fw_rl_slot, st, 32);
FW_CHECK_OFF(fw_event, saddr, 24);
FW_CHECK_OFF(fw_event, name, 64);
FW_CHECK_SIZE(fw_event, 64 + FW_DNS_NAME_MAX);
static_assert(sizeof(struct fw_stats) % 8 == 0, "fw_stats must be u64 counters only");
FW_CHECK_OFF(fw_stats, processed, 0);
FW_CHECK_OFF(fw_stats, rl_batched, 392);
FW_CHECK_OFF(fw_stats, timed_packets, 400);
FW_CHECK_OFF(fw_stats, timed_ns, 408);
FW_CHECK_SIZE(fw_stats, 416);
static_assert(FW_DROP_REASON_MAX >= FW_DROP_RATE_LIMIT + 1, "drop reasons overflow");

// Layout checks for the TC and socket-monitor ABI (bpf/include/flywall/abi_tc.h, abi_sock.h):
// the BPF target is LP64 little-endian with natural alignment, like x86_64/arm64.
#include <cstddef>

#include "flywall/abi_tc.h"

#define FW_CHECK_SIZE(T, n) static_assert(sizeof(struct T) == (n), #T " size changed: update ABI users")
#define FW_CHECK_OFF(T, f, n) static_assert(offsetof(struct T, f) == (n), #T "." #f " moved")

FW_CHECK_SIZE(fw_tc_config, 32);
FW_CHECK_OFF(fw_tc_config, time_sample_shift, 24);
FW_CHECK_OFF(fw_tc_config, qos_generation, 8);
FW_CHECK_OFF(fw_tc_config, pass_unspec, 20);

FW_CHECK_SIZE(fw_tc_flow_key, 40);
FW_CHECK_OFF(fw_tc_flow_key, addr_hi, 16);
FW_CHECK_OFF(fw_tc_flow_key, port_lo, 32);
FW_CHECK_OFF(fw_tc_flow_key, proto, 36);

FW_CHECK_SIZE(fw_tc_flow, 88);
FW_CHECK_OFF(fw_tc_flow, ips_pattern_slot, 80);
FW_CHECK_OFF(fw_tc_flow, packets, 16);
FW_CHECK_OFF(fw_tc_flow, bytes, 32);
FW_CHECK_OFF(fw_tc_flow, ifindex, 48);
FW_CHECK_OFF(fw_tc_flow, qos_rule, 64);
FW_CHECK_OFF(fw_tc_flow, tcp_state, 67);
FW_CHECK_OFF(fw_tc_flow, verdict, 70);
FW_CHECK_OFF(fw_tc_flow, ips_pattern_id, 72);

FW_CHECK_SIZE(fw_qos_rule, 24);
FW_CHECK_OFF(fw_qos_rule, sport_lo, 12);
FW_CHECK_OFF(fw_qos_rule, proto, 20);
FW_CHECK_SIZE(fw_qos_class_stats, 16);

FW_CHECK_SIZE(fw_ips_pattern, 76);
FW_CHECK_OFF(fw_ips_pattern, mask, 32);
FW_CHECK_OFF(fw_ips_pattern, id, 64);
FW_CHECK_OFF(fw_ips_pattern, port, 72);

static_assert(sizeof(struct fw_tc_stats) % 8 == 0, "fw_tc_stats must be u64 counters only");
FW_CHECK_OFF(fw_tc_stats, events_ring_full, 152);
FW_CHECK_OFF(fw_tc_stats, timed_packets, 160);
FW_CHECK_OFF(fw_tc_stats, timed_ns, 168);
FW_CHECK_SIZE(fw_tc_stats, 176);
FW_CHECK_SIZE(fw_tc_event, 64);
FW_CHECK_OFF(fw_tc_event, payload_offset, 20);
FW_CHECK_OFF(fw_tc_event, saddr, 32);
static_assert(FW_IPS_PATTERNS_MAX <= 64, "the prefix table holds one u64 mask bit per pattern");
static_assert(FW_IPS_PATTERN_LEN % 8 == 0, "patterns are compared as u64 words");
static_assert((FW_IPS_SCAN_MAX & (FW_IPS_SCAN_MAX - 1)) == 0, "scan bound is used as a mask");

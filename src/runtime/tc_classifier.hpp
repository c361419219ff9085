// The TC classifier (bpf/tc_classifier.bpf.c): flow state, QoS classes and inline IPS on
// clsact ingress/egress. Owner of its skeleton, typed access to its maps, rule/pattern tables
// kept consistent with their user-space mirrors, and a reader for its event ring buffer.
//
// Attach with HookManager::attach_tc(prog_fd(), iface, TcDirection::Ingress / Egress).
// Not thread-safe: one owner (the Manager) serialises calls; the kernel side is lock-free.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "flywall/abi_tc.h"
// clang-format off
#include "tc_classifier.skel.h"
// clang-format on

#include "common/result.hpp"
#include "runtime/loader.hpp"
#include "runtime/map.hpp"

namespace flywall {

template <>
struct SkeletonTraits<tc_classifier> {
    static constexpr const char* name = "tc_classifier";
    static tc_classifier* open() { return tc_classifier__open(); }
    static int load(tc_classifier* s) { return tc_classifier__load(s); }
    static void destroy(tc_classifier* s) { tc_classifier__destroy(s); }
};

// TC_H_MAKE(major << 16, minor): the handle "major:minor" of an HTB class.
constexpr uint32_t tc_class_handle(uint16_t major, uint16_t minor) {
    return (static_cast<uint32_t>(major) << 16) | minor;
}

struct PortRange {
    uint16_t lo = 0;
    uint16_t hi = 65535;
};

// One QoS rule; unset optionals match anything. First matching rule (in table order) wins.
struct QosRule {
    std::optional<uint8_t> proto;        // IPPROTO_TCP, IPPROTO_UDP, ...
    std::optional<PortRange> sport;
    std::optional<PortRange> dport;
    bool dport_matches_either = false;   // dport range also matches the source port
    std::optional<uint8_t> dscp;         // 0..63
    uint32_t classid = 0;                // tc_class_handle(major, minor) -> skb->tc_classid
    uint32_t priority = 0;               // skb->priority; 0 = classid (what HTB on egress reads)
    std::optional<uint8_t> set_dscp;     // rewrite DSCP (0..63)
};

enum class IpsAction : uint8_t { Alert = FW_IPS_ALERT, Drop = FW_IPS_DROP };

struct IpsPattern {
    uint32_t id = 0;                     // user-visible, unique; reported in events
    std::vector<uint8_t> bytes;          // 2..FW_IPS_PATTERN_LEN bytes
    IpsAction action = IpsAction::Alert;
    uint8_t proto = 0;                   // 0 = TCP and UDP
    uint16_t port = 0;                   // 0 = any; else source or destination port
    static IpsPattern from_string(uint32_t id, std::string_view text, IpsAction action);
};

struct TcFlow {
    fw_tc_flow_key key;
    fw_tc_flow value;
};

// The canonical flow key the kernel uses for a packet from (saddr, sport) to (daddr, dport):
// either direction of a connection gives the same key. Addresses are 4 or 16 bytes (network
// order), ports in host order.
fw_tc_flow_key tc_flow_key(uint8_t family, const uint8_t* saddr, uint16_t sport, const uint8_t* daddr,
                           uint16_t dport, uint8_t proto);
[[nodiscard]] const char* tcp_state_name(uint8_t state);

// Defaults: flows, QoS, IPS, statistics and events on; 256 payload bytes scanned.
fw_tc_config default_tc_config();

// The tc filter slot (handle, priority) the classifier always takes on clsact ingress and egress:
// fixed, so a new instance finds and replaces what a previous one left there, never adding a
// second classifier beside it.
inline constexpr std::uint32_t kTcClassifierHandle = 0xF1;
inline constexpr std::uint32_t kTcClassifierPriority = 0xF1;

class TcClassifier {
public:
    static Result<TcClassifier> load();
    TcClassifier(TcClassifier&&) noexcept;
    TcClassifier& operator=(TcClassifier&&) noexcept;
    TcClassifier(const TcClassifier&) = delete;
    TcClassifier& operator=(const TcClassifier&) = delete;
    ~TcClassifier();

    int prog_fd() const { return bpf_program__fd(skel_->progs.tc_classifier); }
    bpf_object* object() const { return skel_.object(); }
    const char* program_name() const { return "tc_classifier"; }

    // Live runtime configuration (mmapped .bss): takes effect on the next packet.
    fw_tc_config& config() { return skel_->bss->fw_tc_cfg; }
    const fw_tc_config& config() const { return skel_->bss->fw_tc_cfg; }
    void set_feature(uint32_t fw_tc_feature_bit, bool on);
    Status set_ips_scan_bytes(uint32_t n);

    // ---- QoS rules: the table is rewritten so it stays dense; flows reclassify on change.
    // Returns the rule's index (its slot in class statistics).
    Result<size_t> add_qos_rule(const QosRule& rule);
    Status remove_qos_rule(size_t index);
    Status set_qos_rules(const std::vector<QosRule>& rules);
    const std::vector<QosRule>& qos_rules() const { return qos_rules_; }
    Result<fw_qos_class_stats> qos_class_stats(size_t index) const;

    // ---- IPS patterns (up to FW_IPS_PATTERNS_MAX).
    Status add_ips_pattern(const IpsPattern& pattern);
    Result<bool> remove_ips_pattern(uint32_t id);  // whether it existed
    std::vector<IpsPattern> ips_patterns() const;

    // ---- flows
    Result<std::vector<TcFlow>> flows() const;
    Result<std::optional<fw_tc_flow>> flow(const fw_tc_flow_key& key) const;
    // Forget a flow (and with it a cached drop verdict). Returns whether it existed.
    Result<bool> forget_flow(const fw_tc_flow_key& key);

    // ---- statistics
    Result<fw_tc_stats> stats_total() const { return stats().lookup_sum(0); }
    Status reset_stats() { return stats().reset(0); }

    // ---- events: drains what is queued (waits up to timeout_ms for the first). Returns the
    // number of events handed to `handler`.
    Result<int> poll_events(int timeout_ms, const std::function<void(const fw_tc_event&)>& handler);

    Map<fw_tc_flow_key, fw_tc_flow> flow_map() const { return {map_fd(skel_->maps.tc_flows), "tc_flows"}; }
    Map<__u32, fw_qos_rule> qos_rule_map() const { return {map_fd(skel_->maps.tc_qos_rules), "tc_qos_rules"}; }
    PerCpuMap<__u32, fw_qos_class_stats> qos_stats_map() const { return {map_fd(skel_->maps.tc_qos_stats), "tc_qos_stats"}; }
    Map<__u32, fw_ips_pattern> ips_pattern_map() const { return {map_fd(skel_->maps.tc_ips_patterns), "tc_ips_patterns"}; }
    Map<__u32, __u64> ips_prefix_map() const { return {map_fd(skel_->maps.tc_ips_prefix), "tc_ips_prefix"}; }
    PerCpuMap<__u32, fw_tc_stats> stats() const { return {map_fd(skel_->maps.tc_stats), "tc_stats"}; }
    int events_fd() const { return map_fd(skel_->maps.tc_events); }
    std::vector<MapRef> all_maps() const;

private:
    explicit TcClassifier(Skeleton<tc_classifier> s);
    static int map_fd(const bpf_map* m) { return bpf_map__fd(m); }
    Status write_qos_table(const std::vector<QosRule>& rules, size_t reset_stats_from);
    Status update_prefix(uint32_t slot_key);

    Skeleton<tc_classifier> skel_;
    std::vector<QosRule> qos_rules_;
    std::vector<std::optional<IpsPattern>> ips_slots_;  // FW_IPS_PATTERNS_MAX entries
    struct EventReader;  // libbpf ring_buffer + the handler of the current poll (heap: stable)
    std::unique_ptr<EventReader> events_;
};

}  // namespace flywall

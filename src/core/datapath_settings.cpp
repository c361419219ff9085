#include "core/datapath_settings.hpp"

#include <algorithm>
#include <cmath>

#include "runtime/policy_generation.hpp"
#include "runtime/ratelimit.hpp"

namespace flywall {

FeatureBinding feature_binding(std::string_view f, const config::Config& cfg) {
    constexpr auto u = [](auto v) { return static_cast<std::uint32_t>(v); };
    if (f == "ip_blocklist") return {FW_F_IP_BLOCKLIST | FW_F_IP_ALLOWLIST, 0, true};
    if (f == "dns_blocklist") return {FW_F_DNS_BLOCKLIST, 0, true};
    // rate_limit.enabled = false keeps the feature's switch off: nothing to limit.
    if (f == "rate_limiting") return {cfg.rate_limit.enabled ? u(FW_F_RATE_LIMIT) : 0u, 0, true};
    if (f == "flow_monitoring")
        return {u(FW_F_FLOW_TRACKING) | (cfg.flows.trusted_after_packets > 0 ? u(FW_F_TRUSTED_OFFLOAD) : 0u),
                u(FW_TC_F_FLOWS), true};
    if (f == "statistics") return {FW_F_STATS, FW_TC_F_STATS, true};
    if (f == "events") return {FW_F_EVENTS, FW_TC_F_EVENTS, true};
    if (f == "ddos_protection") return {0, 0, true};
    // The engine learns port scans from new-flow events, limits and IPS from their events: it
    // turns on the event sources it needs, whatever the events feature says.
    if (f == "learning_engine") return {FW_F_EVENTS | FW_F_NEW_FLOW_EVENTS, FW_TC_F_EVENTS, true};
    if (f == "qos") return {0, FW_TC_F_QOS, true, true};
    if (f == "inline_ips") return {0, FW_TC_F_IPS, true, true};
    return {0, 0, false};
}

std::uint32_t sampling_shift(double rate) {
    if (!(rate > 0)) return 31;
    if (rate >= 1) return 0;
    double s = std::round(std::log2(1.0 / rate));
    return static_cast<std::uint32_t>(std::clamp(s, 0.0, 31.0));
}

std::string_view feature_of_map(std::string_view m) {
    const auto starts = [&](std::string_view p) { return m.substr(0, p.size()) == p; };
    if (starts("fw_ft_") || starts("fw_allow") || starts("fw_block") || starts("fw_lpm_guard")) return "ip_blocklist";
    if (starts("fw_rl_")) return "rate_limiting";
    if (starts("fw_dns_")) return "dns_blocklist";
    if (m == "fw_flows" || m == "tc_flows") return "flow_monitoring";
    if (m == "fw_stats_map" || m == "tc_stats") return "statistics";
    if (m == "fw_events" || m == "tc_events") return "events";
    if (starts("tc_qos_")) return "qos";
    if (starts("tc_ips_")) return "inline_ips";
    return "";
}

void apply_tc_settings(const config::Config& cfg, fw_tc_config& out) {
    out.time_sample_shift = static_cast<__u32>(std::min<std::uint64_t>(cfg.ebpf.performance.time_sample_shift, 63));
}

Status apply_settings(const config::Config& cfg, fw_xdp_config& out) {
    // Computed on a copy, then copied field by field: `features` and `tables` of the live
    // config belong to the coordinator and IpLists and are never written here.
    fw_xdp_config next = out;
    const auto& rl = cfg.rate_limit;
    RateLimitSettings s;
    s.pps = rl.pps;
    s.burst_packets = rl.burst_packets;
    s.bps = rl.bps / 8;  // config: bits per second; kernel: bytes per second
    s.burst_bytes = rl.burst_bytes;
    s.syn_pps = rl.syn_pps;
    s.icmp_pps = rl.icmp_pps;
    s.udp_pps = rl.udp_pps;
    s.ipv6_prefix_len = rl.ipv6_prefix_len;
    if (auto st = apply_rate_limits(next, s); !st.ok()) return std::move(st).error().wrap("rate_limit");
    out.rl_pps = next.rl_pps;
    out.rl_burst_packets = next.rl_burst_packets;
    out.rl_bps = next.rl_bps;
    out.rl_burst_bytes = next.rl_burst_bytes;
    out.rl_syn_pps = next.rl_syn_pps;
    out.rl_syn_burst = next.rl_syn_burst;
    out.rl_icmp_pps = next.rl_icmp_pps;
    out.rl_icmp_burst = next.rl_icmp_burst;
    out.rl_udp_pps = next.rl_udp_pps;
    out.rl_udp_burst = next.rl_udp_burst;
    out.rl_ipv6_prefix_len = next.rl_ipv6_prefix_len;
    out.dns_action = cfg.blocklist.dns_action == config::DnsAction::Drop ? FW_DNS_ACTION_DROP : FW_DNS_ACTION_NXDOMAIN;
    out.malformed_verdict =
        cfg.blocklist.malformed_verdict == config::MalformedVerdict::Drop ? FW_VERDICT_DROP : FW_VERDICT_PASS;
    out.flow_sample_shift = sampling_shift(cfg.flows.sample_rate);
    out.trusted_after_packets = static_cast<__u32>(std::min<std::uint64_t>(cfg.flows.trusted_after_packets, UINT32_MAX));
    out.max_events_per_sec = cfg.ebpf.performance.max_events_per_sec;
    out.event_burst = cfg.ebpf.performance.max_events_per_sec;
    out.time_sample_shift = static_cast<__u32>(std::min<std::uint64_t>(cfg.ebpf.performance.time_sample_shift, 63));
    bump_policy_generation(out);
    return {};
}

}  // namespace flywall
